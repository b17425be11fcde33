/* Reference 2-D convolution (cross-correlation, as PyTorch): direct nested
 * loops in double, independent of any GEMM or im2col.
 *
 * y[n,k,i,j] = b[k] + sum_{c,r,s} w[k,c,r,s] * x[n,c, i*stride - pad + r, j*stride - pad + s]
 * with x = 0 outside the image. */
#include "ref.h"

void ref_conv2d_forward(double *y, const double *x, const double *w, const double *b,
                        const lirf_conv_shape *s) {
    const int N = s->N, C = s->C, H = s->H, W = s->W, K = s->K, R = s->R, S = s->S;
    const int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double acc = b ? b[k] : 0;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++) {
                            int h = i * s->stride - s->pad + r;
                            if (h < 0 || h >= H) continue;
                            for (int q = 0; q < S; q++) {
                                int v = j * s->stride - s->pad + q;
                                if (v < 0 || v >= W) continue;
                                acc += w[((size_t)(k * C + c) * R + r) * S + q] *
                                       x[((size_t)(n * C + c) * H + h) * W + v];
                            }
                        }
                    y[((size_t)(n * K + k) * Ho + i) * Wo + j] = acc;
                }
}

/* dx (N,C,H,W) written (if not NULL); dw (K,C,R,S) and db (K, if not NULL)
 * accumulated. */
void ref_conv2d_backward(double *dx, double *dw, double *db, const double *dy, const double *x,
                         const double *w, const lirf_conv_shape *s) {
    const int N = s->N, C = s->C, H = s->H, W = s->W, K = s->K, R = s->R, S = s->S;
    const int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    if (dx)
        for (size_t i = 0; i < (size_t)N * C * H * W; i++) dx[i] = 0;
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++)
            for (int i = 0; i < Ho; i++)
                for (int j = 0; j < Wo; j++) {
                    double g = dy[((size_t)(n * K + k) * Ho + i) * Wo + j];
                    if (db) db[k] += g;
                    for (int c = 0; c < C; c++)
                        for (int r = 0; r < R; r++) {
                            int h = i * s->stride - s->pad + r;
                            if (h < 0 || h >= H) continue;
                            for (int q = 0; q < S; q++) {
                                int v = j * s->stride - s->pad + q;
                                if (v < 0 || v >= W) continue;
                                size_t wi = ((size_t)(k * C + c) * R + r) * S + q;
                                size_t xi = ((size_t)(n * C + c) * H + h) * W + v;
                                dw[wi] += g * x[xi];
                                if (dx) dx[xi] += g * w[wi];
                            }
                        }
                }
}
