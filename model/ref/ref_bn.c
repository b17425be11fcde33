/* Batch norm references (PyTorch semantics), double precision.
 * x, y, dx, dy (N, C, HW); every per-channel array (C). Statistics over
 * cnt = N * HW elements per channel; variance two-pass (mean of squared
 * deviations). Parameter gradients accumulate; dx is written. */
#include <math.h>

#include "ref.h"

static size_t at(int n, int c, int p, int C, int HW) {
    return ((size_t)n * C + c) * HW + p;
}

void ref_bn_forward_train(double *y, double *save_mean, double *save_invstd, double *running_mean,
                          double *running_var, const double *x, const double *gamma,
                          const double *beta, int N, int C, int HW, double eps, double momentum) {
    double cnt = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double sum = 0;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) sum += x[at(n, c, p, C, HW)];
        double mean = sum / cnt, sq = 0;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                double d = x[at(n, c, p, C, HW)] - mean;
                sq += d * d;
            }
        double var = sq / cnt;
        double invstd = 1 / sqrt(var + eps);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = at(n, c, p, C, HW);
                y[i] = (x[i] - mean) * invstd * gamma[c] + beta[c];
            }
        save_mean[c] = mean;
        save_invstd[c] = invstd;
        double var_unbiased = cnt > 1 ? var * cnt / (cnt - 1) : var;
        running_mean[c] = (1 - momentum) * running_mean[c] + momentum * mean;
        running_var[c] = (1 - momentum) * running_var[c] + momentum * var_unbiased;
    }
}

void ref_bn_forward_infer(double *y, const double *x, const double *gamma, const double *beta,
                          const double *running_mean, const double *running_var, int N, int C,
                          int HW, double eps) {
    for (int c = 0; c < C; c++) {
        double invstd = 1 / sqrt(running_var[c] + eps);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = at(n, c, p, C, HW);
                y[i] = (x[i] - running_mean[c]) * invstd * gamma[c] + beta[c];
            }
    }
}

/* dx = gamma invstd / cnt (cnt dy - sum(dy) - xhat sum(dy xhat)); dx, dgamma,
 * dbeta may be NULL. */
void ref_bn_backward(double *dx, double *dgamma, double *dbeta, const double *dy, const double *x,
                     const double *save_mean, const double *save_invstd, const double *gamma,
                     int N, int C, int HW) {
    double cnt = (double)N * HW;
    for (int c = 0; c < C; c++) {
        double mean = save_mean[c], invstd = save_invstd[c];
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = at(n, c, p, C, HW);
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - mean) * invstd;
            }
        if (dgamma) dgamma[c] += sdyx;
        if (dbeta) dbeta[c] += sdy;
        if (!dx) continue;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = at(n, c, p, C, HW);
                double xhat = (x[i] - mean) * invstd;
                dx[i] = gamma[c] * invstd / cnt * (cnt * dy[i] - sdy - xhat * sdyx);
            }
    }
}

/* Running statistics are constants: dx = dy gamma / sqrt(running_var + eps);
 * dx, dgamma, dbeta may be NULL. */
void ref_bn_backward_infer(double *dx, double *dgamma, double *dbeta, const double *dy,
                           const double *x, const double *gamma, const double *running_mean,
                           const double *running_var, int N, int C, int HW, double eps) {
    for (int c = 0; c < C; c++) {
        double invstd = 1 / sqrt(running_var[c] + eps);
        double sdy = 0, sdyx = 0;
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++) {
                size_t i = at(n, c, p, C, HW);
                sdy += dy[i];
                sdyx += dy[i] * (x[i] - running_mean[c]) * invstd;
                if (dx) dx[i] = dy[i] * gamma[c] * invstd;
            }
        if (dgamma) dgamma[c] += sdyx;
        if (dbeta) dbeta[c] += sdy;
    }
}
