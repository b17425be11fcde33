/* Reference augmentation (semantics at the top of model/ops/op_augment.c): the
 * same integer draws from lirf_aug_hash, the geometry in double.
 * y, x (N,C,H,W). */
#include <math.h>

#include "ref.h"

static const double PI = 3.14159265358979323846;

static double tap(const double *xc, int H, int W, int yy, int xx) {
    return (yy >= 0 && yy < H && xx >= 0 && xx < W) ? xc[(size_t)yy * W + xx] : 0.0;
}

void ref_augment(double *y, const double *x, int N, int C, int H, int W,
                 const lirf_aug_params *p, uint32_t seed, uint32_t step) {
    uint32_t span = 2u * (uint32_t)p->pad + 1u;
    for (int n = 0; n < N; n++) {
        int oy = (int)(lirf_aug_hash(seed, step, (uint32_t)n, 0) % span);
        int ox = (int)(lirf_aug_hash(seed, step, (uint32_t)n, 1) % span);
        int flip = p->flip && (lirf_aug_hash(seed, step, (uint32_t)n, 2) & 1u);
        uint32_t u3 = lirf_aug_hash(seed, step, (uint32_t)n, 3);
        double deg = ((double)(u3 >> 8) / 16777216.0 * 2.0 - 1.0) * (double)p->max_rot_deg;
        double t = deg * (PI / 180.0), ct = cos(t), st = sin(t);
        double cy = (H - 1) / 2.0, cx = (W - 1) / 2.0;
        for (int c = 0; c < C; c++) {
            const double *xc = x + ((size_t)n * C + c) * H * W;
            double *yc = y + ((size_t)n * C + c) * H * W;
            for (int i = 0; i < H; i++) {
                for (int j = 0; j < W; j++) {
                    int jj = flip ? W - 1 - j : j;
                    int yy = i + oy - p->pad, xx = jj + ox - p->pad;
                    if (p->max_rot_deg == 0.0f) {
                        yc[i * W + j] = tap(xc, H, W, yy, xx);
                        continue;
                    }
                    double sx = cx + ct * (xx - cx) - st * (yy - cy);
                    double sy = cy + st * (xx - cx) + ct * (yy - cy);
                    double fy = floor(sy), fx = floor(sx), wy = sy - fy, wx = sx - fx;
                    int y0 = (int)fy, x0 = (int)fx;
                    yc[i * W + j] = (1 - wy) * ((1 - wx) * tap(xc, H, W, y0, x0) +
                                                wx * tap(xc, H, W, y0, x0 + 1)) +
                                    wy * ((1 - wx) * tap(xc, H, W, y0 + 1, x0) +
                                          wx * tap(xc, H, W, y0 + 1, x0 + 1));
                }
            }
        }
    }
}
