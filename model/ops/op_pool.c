/* Host side of pooling (cl_kernels/pool.cl; reference model/ref/ref_pool.c).
 * Max pool 2x2 stride 2 (floor): x, dx (N, C, H, W); y, idx (N, C, H/2, W/2).
 * Max pool K x K stride S padding P (the ImageNet stem's 3/2/1): y, idx
 * (N, C, Ho, Wo), Ho = lirf_maxpool_out(H, K, S, P).
 * Global average pool: x, dx (N, C, HW); y, dy (N, C). */
#include <limits.h>

#include "ops.h"

#define GAP_WG_CAP 256

/* Dims > 0 and the product of the three within int; *total = a*b*c. */
static lirf_status dims3(const char *op, int a, int b, int c, size_t *total) {
    LIRF_TRY(lirf_check_dims(op, 3, a, b, c));
    if ((size_t)a * (size_t)b > (size_t)INT_MAX ||
        (size_t)a * (size_t)b * (size_t)c > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: sizes %d*%d*%d too large for int indexing", op, a,
                         b, c);
    *total = (size_t)a * b * c;
    return LIRF_OK;
}

/* N, C, H, W > 0, H, W >= 2 (a non-empty output), sizes within int. */
static lirf_status pool_dims(const char *op, int N, int C, int H, int W, size_t *in_total,
                             size_t *out_total) {
    LIRF_TRY(lirf_check_dims(op, 4, N, C, H, W));
    if (H < 2 || W < 2)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: H %d and W %d must be >= 2 for a 2x2 pool", op, H,
                         W);
    if ((size_t)H * (size_t)W > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: H*W too large for int indexing", op);
    LIRF_TRY(dims3(op, N, C, H * W, in_total));
    *out_total = (size_t)N * C * (H / 2) * (W / 2);
    return LIRF_OK;
}

lirf_status lirf_maxpool2_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf idx, lirf_buf x, int N,
                                  int C, int H, int W) {
    const char *op = "maxpool2_forward";
    size_t in_total = 0, out_total = 0;
    LIRF_TRY(pool_dims(op, N, C, H, W, &in_total, &out_total));
    LIRF_TRY(lirf_check_buf(y, out_total, op, "y"));
    LIRF_TRY(lirf_check_buf(idx, out_total, op, "idx"));
    LIRF_TRY(lirf_check_buf(x, in_total, op, "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "maxpool2_forward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiii", y, idx, x, H, W, (int)out_total));
    return lirf_launch1(ctx, k, op, out_total);
}

lirf_status lirf_maxpool2_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf idx, int N,
                                   int C, int H, int W) {
    const char *op = "maxpool2_backward";
    size_t in_total = 0, out_total = 0;
    LIRF_TRY(pool_dims(op, N, C, H, W, &in_total, &out_total));
    LIRF_TRY(lirf_check_buf(dx, in_total, op, "dx"));
    LIRF_TRY(lirf_check_buf(dy, out_total, op, "dy"));
    LIRF_TRY(lirf_check_buf(idx, out_total, op, "idx"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "maxpool2_backward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiii", dx, dy, idx, H, W, (int)in_total));
    return lirf_launch1(ctx, k, op, in_total);
}

int lirf_maxpool_out(int H, int K, int S, int P) {
    return K >= 1 && S >= 1 && P >= 0 && H + 2 * P >= K ? (H + 2 * P - K) / S + 1 : 0;
}

/* N, C, H, W > 0; K >= 1, S >= 1, 0 <= P <= K/2 (PyTorch's bound: every
 * window then holds an input element); a non-empty output; sizes within int. */
static lirf_status maxpool_dims(const char *op, int N, int C, int H, int W, int K, int S, int P,
                                size_t *in_total, size_t *out_total) {
    LIRF_TRY(lirf_check_dims(op, 4, N, C, H, W));
    if (K < 1 || K > 64 || S < 1 || S > 64 || P < 0 || P > K / 2)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: kernel %d, stride %d, padding %d (need K in "
                         "[1, 64], S in [1, 64], 0 <= P <= K/2)", op, K, S, P);
    if (lirf_maxpool_out(H, K, S, P) < 1 || lirf_maxpool_out(W, K, S, P) < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: input %dx%d is smaller than the %dx%d window "
                         "(padding %d)", op, H, W, K, K, P);
    if ((size_t)H * (size_t)W > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: H*W too large for int indexing", op);
    LIRF_TRY(dims3(op, N, C, H * W, in_total));
    *out_total = (size_t)N * C * lirf_maxpool_out(H, K, S, P) * lirf_maxpool_out(W, K, S, P);
    return LIRF_OK;
}

lirf_status lirf_maxpool_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf idx, lirf_buf x, int N,
                                 int C, int H, int W, int K, int S, int P) {
    const char *op = "maxpool_forward";
    size_t in_total = 0, out_total = 0;
    LIRF_TRY(maxpool_dims(op, N, C, H, W, K, S, P, &in_total, &out_total));
    LIRF_TRY(lirf_check_buf(y, out_total, op, "y"));
    LIRF_TRY(lirf_check_buf(idx, out_total, op, "idx"));
    LIRF_TRY(lirf_check_buf(x, in_total, op, "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "maxpool_forward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiiiiiiii", y, idx, x, H, W, lirf_maxpool_out(H, K, S, P),
                           lirf_maxpool_out(W, K, S, P), K, S, P, (int)out_total));
    return lirf_launch1(ctx, k, op, out_total);
}

lirf_status lirf_maxpool_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf idx, int N,
                                  int C, int H, int W, int K, int S, int P) {
    const char *op = "maxpool_backward";
    size_t in_total = 0, out_total = 0;
    LIRF_TRY(maxpool_dims(op, N, C, H, W, K, S, P, &in_total, &out_total));
    LIRF_TRY(lirf_check_buf(dx, in_total, op, "dx"));
    LIRF_TRY(lirf_check_buf(dy, out_total, op, "dy"));
    LIRF_TRY(lirf_check_buf(idx, out_total, op, "idx"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "maxpool_backward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiiiiiiii", dx, dy, idx, H, W, lirf_maxpool_out(H, K, S, P),
                           lirf_maxpool_out(W, K, S, P), K, S, P, (int)in_total));
    return lirf_launch1(ctx, k, op, in_total);
}

lirf_status lirf_gap_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, int N, int C, int HW) {
    const char *op = "gap_forward";
    size_t total = 0;
    LIRF_TRY(dims3(op, N, C, HW, &total));
    size_t NC = (size_t)N * C;
    LIRF_TRY(lirf_check_buf(y, NC, op, "y"));
    LIRF_TRY(lirf_check_buf(x, total, op, "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "gap_forward", &k));
    size_t cap = 1, wg;
    while (cap < (size_t)HW && cap < GAP_WG_CAP) cap *= 2;
    LIRF_TRY(lirf_kernel_wg(ctx, k, cap, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiL", y, x, (int)NC, HW, wg * sizeof(float)));
    size_t gws = NC * wg;
    return lirf_launch(ctx, k, op, 1, &gws, &wg);
}

lirf_status lirf_gap_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, int N, int C, int HW) {
    const char *op = "gap_backward";
    size_t total = 0;
    LIRF_TRY(dims3(op, N, C, HW, &total));
    LIRF_TRY(lirf_check_buf(dx, total, op, "dx"));
    LIRF_TRY(lirf_check_buf(dy, (size_t)N * C, op, "dy"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "pool", "gap_backward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbii", dx, dy, HW, (int)total));
    return lirf_launch1(ctx, k, op, total);
}
