#include "ref.h"

#include <math.h>

void ref_relu_forward(double *y, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0;
}

void ref_relu_backward(double *dx, const double *dy, const double *y, size_t n) {
    for (size_t i = 0; i < n; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
}

void ref_add(double *y, const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void ref_add_relu(double *y, const double *a, const double *b, size_t n) {
    for (size_t i = 0; i < n; i++) {
        double v = a[i] + b[i];
        y[i] = v > 0 ? v : 0;
    }
}

void ref_axpy(double *y, double alpha, const double *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

void ref_scale(double *y, double alpha, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] *= alpha;
}

size_t ref_count_nonfinite(const double *x, size_t n) {
    size_t c = 0;
    for (size_t i = 0; i < n; i++) c += !isfinite(x[i]);
    return c;
}
