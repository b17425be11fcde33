/* Pooling references, double precision.
 * 2x2 max pool stride 2, floor output size: y, idx (N, C, H/2, W/2), x, dx
 * (N, C, H, W); idx is the flat h*W+w index in the (n,c) plane of the first
 * maximum in scan order (0,0),(0,1),(1,0),(1,1); a NaN wins (the first NaN),
 * as in PyTorch, so NaN propagates.
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
