/* Reference of the fully connected layer (model/ops/op_linear.c): direct loops in
 * double, no GEMM. */
#include "ref.h"

/* y (N,O) = x (N,I) w^T + b; w (O,I), b (O) or NULL. */
void ref_linear_forward(double *y, const double *x, const double *w, const double *b, int N,
                        int I, int O) {
    for (int n = 0; n < N; n++) {
        for (int o = 0; o < O; o++) {
            double acc = b ? b[o] : 0;
            for (int i = 0; i < I; i++) acc += x[(size_t)n * I + i] * w[(size_t)o * I + i];
            y[(size_t)n * O + o] = acc;
        }
    }
}

/* dx (N,I) written (NULL: skipped); dw (O,I) += dy^T x; db (O) += column sums of
 * dy (NULL: skipped). dy (N,O). */
void ref_linear_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, int N, int I, int O) {
    if (dx) {
        for (int n = 0; n < N; n++) {
            for (int i = 0; i < I; i++) {
                double acc = 0;
                for (int o = 0; o < O; o++) acc += dy[(size_t)n * O + o] * w[(size_t)o * I + i];
                dx[(size_t)n * I + i] = acc;
            }
        }
    }
    for (int o = 0; o < O; o++) {
        for (int i = 0; i < I; i++) {
            double acc = 0;
            for (int n = 0; n < N; n++) acc += dy[(size_t)n * O + o] * x[(size_t)n * I + i];
            dw[(size_t)o * I + i] += acc;
        }
    }
    if (db) {
        for (int o = 0; o < O; o++) {
            double acc = 0;
            for (int n = 0; n < N; n++) acc += dy[(size_t)n * O + o];
            db[o] += acc;
        }
    }
}
