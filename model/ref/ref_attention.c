/* Reference attention transfer (model/ops/ops.h, "attention transfer"): the
 * attention map of each sample, the filtered-map loss and its gradient with
 * respect to F1, in double. F1, F2 (N,C,HW); a (N,HW). */
#include <math.h>
#include <stdlib.h>

#include "ref.h"

#define AT_NORM_FLOOR 1e-12

/* q = mean_c F^2 into a (HW) for one sample; returns max(||q||_2, floor). */
static double at_q(double *q, const double *F, int C, int HW) {
    double ss = 0;
    for (int p = 0; p < HW; p++) {
        double s = 0;
        for (int c = 0; c < C; c++) s += F[(size_t)c * HW + p] * F[(size_t)c * HW + p];
        q[p] = s / C;
        ss += q[p] * q[p];
    }
    double nrm = sqrt(ss);
    return nrm > AT_NORM_FLOOR ? nrm : AT_NORM_FLOOR;
}

void ref_at_map(double *a, const double *F, int N, int C, int HW) {
    for (int n = 0; n < N; n++) {
        double *an = a + (size_t)n * HW;
        double d = at_q(an, F + (size_t)n * C * HW, C, HW);
        for (int p = 0; p < HW; p++) an[p] /= d;
    }
}

static double filt(double a, double eps) { return a >= eps ? a : 0; }

void ref_at_loss_forward(double *loss, const double *F1, const double *F2, int N, int C, int HW,
                         double eps) {
    size_t m = (size_t)N * HW;
    double *a1 = malloc(m * sizeof *a1), *a2 = malloc(m * sizeof *a2);
    ref_at_map(a1, F1, N, C, HW);
    ref_at_map(a2, F2, N, C, HW);
    double s = 0;
    for (size_t i = 0; i < m; i++) {
        double d = filt(a1[i], eps) - filt(a2[i], eps);
        s += d * d;
    }
    *loss = s / (double)m;
    free(a1), free(a2);
}

/* dF1 += scale * dL/dF1:
 *   g_p   = 2 (f(a1_p) - f(a2_p)) / (N HW) * [a1_p >= eps]     (dL/da1)
 *   dq_p  = (g_p - a1_p (a1 . g)) / ||q||  when ||q|| > floor, else g_p / floor
 *   dF_cp = dq_p * 2 F_cp / C */
void ref_at_loss_backward(double *dF1, const double *F1, const double *F2, int N, int C, int HW,
                          double eps, double scale) {
    double *q = malloc((size_t)HW * sizeof *q), *a2 = malloc((size_t)HW * sizeof *a2);
    double *g = malloc((size_t)HW * sizeof *g);
    double m = (double)N * HW;
    for (int n = 0; n < N; n++) {
        const double *f1 = F1 + (size_t)n * C * HW;
        double nrm = at_q(q, f1, C, HW);
        double nrm2 = at_q(a2, F2 + (size_t)n * C * HW, C, HW);
        double dot = 0;
        for (int p = 0; p < HW; p++) {
            double a1 = q[p] / nrm, b = a2[p] / nrm2;
            g[p] = a1 >= eps ? 2 * (filt(a1, eps) - filt(b, eps)) / m : 0;
            dot += a1 * g[p];
        }
        int proj = nrm > AT_NORM_FLOOR; /* the projection only where the norm is not floored */
        for (int p = 0; p < HW; p++) {
            double dq = (proj ? g[p] - (q[p] / nrm) * dot : g[p]) / nrm;
            for (int c = 0; c < C; c++) {
                size_t i = (size_t)n * C * HW + (size_t)c * HW + p;
                dF1[i] += scale * dq * 2 * F1[i] / C;
            }
        }
    }
    free(q), free(a2), free(g);
}

void ref_mse_forward(double *loss, const double *a, const double *b, size_t m) {
    double s = 0;
    for (size_t i = 0; i < m; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
    *loss = s / (double)m;
}

void ref_mse_backward(double *da, const double *a, const double *b, size_t m, double scale) {
    for (size_t i = 0; i < m; i++) da[i] += scale * 2.0 * (a[i] - b[i]) / (double)m;
}
