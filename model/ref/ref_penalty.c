/* Reference EWC / MAS penalty and importance ops (model/ops/ops.h, "penalty"). */
#include <math.h>

#include "ref.h"

double ref_quad_penalty(const double *w, const double *a, const double *imp, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += imp[i] * (w[i] - a[i]) * (w[i] - a[i]);
    return 0.5 * s;
}

void ref_quad_penalty_backward(double *g, const double *w, const double *a, const double *imp,
                               size_t n, double lambda) {
    for (size_t i = 0; i < n; i++) g[i] += lambda * imp[i] * (w[i] - a[i]);
}

void ref_importance_acc(double *acc, const double *g, size_t n, double scale, int power) {
    for (size_t i = 0; i < n; i++) acc[i] += scale * (power == 2 ? g[i] * g[i] : fabs(g[i]));
}
