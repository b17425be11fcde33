/* Pooling references, double precision.
 * 2x2 max pool stride 2, floor output size: y, idx (N, C, H/2, W/2), x, dx
 * (N, C, H, W); idx is the flat h*W+w index in the (n,c) plane of the first
 * maximum in scan order (0,0),(0,1),(1,0),(1,1); a NaN wins (the first NaN),
 * as in PyTorch, so NaN propagates.
 * K x K max pool, stride S, padding P (PyTorch's MaxPool2d(K, S, P); the
 * ImageNet stem's 3, 2, 1): padding never wins, the same tie and NaN rules;
 * the backward adds dy of every window (they overlap when S < K).
 * Global average pool: y (N, C) = mean over HW of x (N, C, HW). */
#include <math.h>

#include "ref.h"

void ref_maxpool2_forward(double *y, int32_t *idx, const double *x, int N, int C, int H, int W) {
    int Ho = H / 2, Wo = W / 2;
    for (int nc = 0; nc < N * C; nc++) {
        const double *xp = x + (size_t)nc * H * W;
        for (int ho = 0; ho < Ho; ho++)
            for (int wo = 0; wo < Wo; wo++) {
                int best_i = (2 * ho) * W + 2 * wo;
                double best = xp[best_i];
                for (int k = 1; k < 4; k++) {
                    int i = (2 * ho + k / 2) * W + 2 * wo + k % 2;
                    if (xp[i] > best || (isnan(xp[i]) && !isnan(best))) {
                        best = xp[i];
                        best_i = i;
                    }
                }
                size_t o = ((size_t)nc * Ho + ho) * Wo + wo;
                y[o] = best;
                idx[o] = best_i;
            }
    }
}

void ref_maxpool2_backward(double *dx, const double *dy, const int32_t *idx, int N, int C, int H,
                           int W) {
    int Ho = H / 2, Wo = W / 2;
    for (size_t i = 0; i < (size_t)N * C * H * W; i++) dx[i] = 0;
    for (int nc = 0; nc < N * C; nc++)
        for (int o = 0; o < Ho * Wo; o++) {
            size_t oi = (size_t)nc * Ho * Wo + o;
            dx[(size_t)nc * H * W + idx[oi]] += dy[oi];
        }
}

/* K x K max pool, stride S, padding P (implicit -inf): y, idx (N, C, Ho, Wo) */
void ref_maxpool_forward(double *y, int32_t *idx, const double *x, int N, int C, int H, int W,
                         int K, int S, int P) {
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    for (int nc = 0; nc < N * C; nc++) {
        const double *xp = x + (size_t)nc * H * W;
        for (int ho = 0; ho < Ho; ho++)
            for (int wo = 0; wo < Wo; wo++) {
                int best_i = -1;
                double best = 0;
                for (int h = ho * S - P; h < ho * S - P + K; h++)
                    for (int w = wo * S - P; w < wo * S - P + K; w++) {
                        if (h < 0 || h >= H || w < 0 || w >= W) continue;
                        double v = xp[h * W + w];
                        if (best_i < 0 || v > best || (isnan(v) && !isnan(best)))
                            best = v, best_i = h * W + w;
                    }
                size_t o = ((size_t)nc * Ho + ho) * Wo + wo;
                y[o] = best;
                idx[o] = best_i;
            }
    }
}

/* scatter-add of dy onto the recorded maxima, in output order */
void ref_maxpool_backward(double *dx, const double *dy, const int32_t *idx, int N, int C, int H,
                          int W, int K, int S, int P) {
    int Ho = (H + 2 * P - K) / S + 1, Wo = (W + 2 * P - K) / S + 1;
    for (size_t i = 0; i < (size_t)N * C * H * W; i++) dx[i] = 0;
    for (int nc = 0; nc < N * C; nc++)
        for (int o = 0; o < Ho * Wo; o++) {
            size_t oi = (size_t)nc * Ho * Wo + o;
            dx[(size_t)nc * H * W + idx[oi]] += dy[oi];
        }
}

void ref_gap_forward(double *y, const double *x, int N, int C, int HW) {
    for (int nc = 0; nc < N * C; nc++) {
        double s = 0;
        for (int p = 0; p < HW; p++) s += x[(size_t)nc * HW + p];
        y[nc] = s / HW;
    }
}

void ref_gap_backward(double *dx, const double *dy, int N, int C, int HW) {
    for (int nc = 0; nc < N * C; nc++)
        for (int p = 0; p < HW; p++) dx[(size_t)nc * HW + p] = dy[nc] / HW;
}
