/* Host side of batch norm (cl_kernels/bn.cl; reference model/ref/ref_bn.c).
 * x, y, dx, dy (N, C, HW); gamma, beta, running and saved statistics (C).
 * Forward train: bn_stats (a work-group per channel) + bn_normalize.
 * Backward: bn_backward_reduce (a work-group per channel) + a dx kernel. */
#include <limits.h>
#include <math.h>

#include "ops.h"

#define BN_WG_CAP 256

/* Dims > 0 and N*C*HW within int; *total = N*C*HW. */
static lirf_status bn_dims(const char *op, int N, int C, int HW, size_t *total) {
    LIRF_TRY(lirf_check_dims(op, 3, N, C, HW));
    if ((size_t)N * (size_t)C > (size_t)INT_MAX ||
        (size_t)N * (size_t)C * (size_t)HW > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: N*C*HW = %d*%d*%d too large for int indexing", op,
                         N, C, HW);
    *total = (size_t)N * C * HW;
    return LIRF_OK;
}

static lirf_status bn_eps(const char *op, float eps) {
    if (!(eps >= 0.0f) || !isfinite(eps))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: eps %g must be finite and >= 0", op, (double)eps);
    return LIRF_OK;
}

/* Work-group size for a per-channel reduction over cnt elements: a power of
 * two, at most BN_WG_CAP and no more than needed to cover cnt. */
static lirf_status reduce_wg(lirf_ctx *ctx, cl_kernel k, size_t cnt, size_t *wg) {
    size_t cap = 1;
    while (cap < cnt && cap < BN_WG_CAP) cap *= 2;
    return lirf_kernel_wg(ctx, k, cap, wg);
}

/* lp for BN_SHARE (bn.cl): the largest power of two <= HW / 16 (at least 1)
 * and <= wg. */
static int share_lp(int HW, size_t wg) {
    int lp = 1;
    while ((size_t)lp * 2 <= wg && lp * 2 * 16 <= HW) lp *= 2;
    return lp;
}

/* An element-wise kernel over the range (ceil(HW / 16), rows): the local size
 * is (l0, l1) with l0 the largest power of two (within the kernel's limit)
 * that rounds the first up by at most 1/8, else 1, and l1 the largest power of two that divides
 * rows and keeps l0 * l1 within the limit (a CPU driver pays per group: 64
 * items a group made these kernels 2-3x slower than the reductions). */
static lirf_status launch_rows(lirf_ctx *ctx, cl_kernel k, const char *label, int HW,
                               size_t rows) {
    HW = (HW + 15) / 16; /* work-items along a row: 16 pixels each (bn.cl) */
    size_t wg, l0 = 1;
    LIRF_TRY(lirf_kernel_wg(ctx, k, 256, &wg));
    for (size_t l = 2; l <= wg; l *= 2) {
        size_t padded = ((size_t)HW + l - 1) / l * l;
        if (padded * 8 <= (size_t)HW * 9) l0 = l;
        if (l >= (size_t)HW) break;
    }
    size_t l1 = 1;
    while (l0 * l1 * 2 <= wg && rows % (l1 * 2) == 0) l1 *= 2;
    size_t gws[2] = {(size_t)HW, rows}, lws[2] = {l0, l1};
    return lirf_launch(ctx, k, label, 2, gws, lws);
}

/* bn_normalize over all elements; sv holds invstd (from_var 0) or variances. */
static lirf_status normalize(lirf_ctx *ctx, const char *label, lirf_buf y, lirf_buf x,
                             lirf_buf mean, lirf_buf sv, lirf_buf gamma, lirf_buf beta, float eps,
                             int from_var, int C, int HW, size_t total) {
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "bn", "bn_normalize", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbbbfiiii", y, x, mean, sv, gamma, beta, (double)eps,
                           from_var, C, HW, (int)(total / (size_t)HW)));
    return launch_rows(ctx, k, label, HW, total / (size_t)HW);
}

lirf_status lirf_bn_forward_train(lirf_ctx *ctx, lirf_buf y, lirf_buf save_mean,
                                  lirf_buf save_invstd, lirf_buf running_mean,
                                  lirf_buf running_var, lirf_buf x, lirf_buf gamma,
                                  lirf_buf beta, int N, int C, int HW, float eps, float momentum) {
    const char *op = "bn_forward_train";
    size_t total = 0;
    LIRF_TRY(bn_dims(op, N, C, HW, &total));
    if ((size_t)N * HW < 2)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: one value per channel (N*HW = 1) has no variance",
                         op);
    LIRF_TRY(bn_eps(op, eps));
    if (!(momentum >= 0.0f && momentum <= 1.0f))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: momentum %g outside [0, 1]", op, (double)momentum);
    LIRF_TRY(lirf_check_buf(y, total, op, "y"));
    LIRF_TRY(lirf_check_buf(save_mean, C, op, "save_mean"));
    LIRF_TRY(lirf_check_buf(save_invstd, C, op, "save_invstd"));
    LIRF_TRY(lirf_check_buf(running_mean, C, op, "running_mean"));
    LIRF_TRY(lirf_check_buf(running_var, C, op, "running_var"));
    LIRF_TRY(lirf_check_buf(x, total, op, "x"));
    LIRF_TRY(lirf_check_buf(gamma, C, op, "gamma"));
    LIRF_TRY(lirf_check_buf(beta, C, op, "beta"));

    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "bn", "bn_stats", &k));
    LIRF_TRY(reduce_wg(ctx, k, (size_t)N * HW, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbbffiiiiL", save_mean, save_invstd, running_mean,
                           running_var, x, (double)eps, (double)momentum, N, C, HW,
                           share_lp(HW, wg), wg * sizeof(float)));
    size_t gws = (size_t)C * wg;
    LIRF_TRY(lirf_launch(ctx, k, "bn_stats", 1, &gws, &wg));
    return normalize(ctx, op, y, x, save_mean, save_invstd, gamma, beta, 0.0f, 0, C, HW, total);
}

lirf_status lirf_bn_forward_infer(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf gamma,
                                  lirf_buf beta, lirf_buf running_mean, lirf_buf running_var,
                                  int N, int C, int HW, float eps) {
    const char *op = "bn_forward_infer";
    size_t total = 0;
    LIRF_TRY(bn_dims(op, N, C, HW, &total));
    LIRF_TRY(bn_eps(op, eps));
    LIRF_TRY(lirf_check_buf(y, total, op, "y"));
    LIRF_TRY(lirf_check_buf(x, total, op, "x"));
    LIRF_TRY(lirf_check_buf(gamma, C, op, "gamma"));
    LIRF_TRY(lirf_check_buf(beta, C, op, "beta"));
    LIRF_TRY(lirf_check_buf(running_mean, C, op, "running_mean"));
    LIRF_TRY(lirf_check_buf(running_var, C, op, "running_var"));
    return normalize(ctx, op, y, x, running_mean, running_var, gamma, beta, eps, 1, C, HW, total);
}

/* bn_backward_reduce: dgamma/dbeta accumulated when present, per-channel sums
 * (2C: sdy, sdyx) written when present. */
static lirf_status backward_reduce(lirf_ctx *ctx, lirf_buf dgamma, lirf_buf dbeta, lirf_buf sums,
                                   lirf_buf dy, lirf_buf x, lirf_buf mean, lirf_buf sv, float eps,
                                   int from_var, int N, int C, int HW) {
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "bn", "bn_backward_reduce", &k));
    LIRF_TRY(reduce_wg(ctx, k, (size_t)N * HW, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "ooobbbbfiiiiiiiiL", dgamma, dbeta, sums, dy, x, mean, sv,
                           (double)eps, from_var, dgamma.mem != NULL, dbeta.mem != NULL,
                           sums.mem != NULL, N, C, HW, share_lp(HW, wg),
                           2 * wg * sizeof(float)));
    size_t gws = (size_t)C * wg;
    return lirf_launch(ctx, k, "bn_backward_reduce", 1, &gws, &wg);
}

lirf_status lirf_bn_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dgamma, lirf_buf dbeta,
                             lirf_buf dy, lirf_buf x, lirf_buf save_mean, lirf_buf save_invstd,
                             lirf_buf gamma, int N, int C, int HW) {
    const char *op = "bn_backward";
    size_t total = 0;
    LIRF_TRY(bn_dims(op, N, C, HW, &total));
    LIRF_TRY(lirf_check_buf(dx, total, op, "dx"));
    LIRF_TRY(lirf_check_buf(dgamma, C, op, "dgamma"));
    LIRF_TRY(lirf_check_buf(dbeta, C, op, "dbeta"));
    LIRF_TRY(lirf_check_buf(dy, total, op, "dy"));
    LIRF_TRY(lirf_check_buf(x, total, op, "x"));
    LIRF_TRY(lirf_check_buf(save_mean, C, op, "save_mean"));
    LIRF_TRY(lirf_check_buf(save_invstd, C, op, "save_invstd"));
    LIRF_TRY(lirf_check_buf(gamma, C, op, "gamma"));

    lirf_buf sums; /* (C, 2): sum(dy), sum(dy * xhat) */
    LIRF_TRY(lirf_scratch(ctx, 0, 2 * (size_t)C, &sums));
    LIRF_TRY(backward_reduce(ctx, dgamma, dbeta, sums, dy, x, save_mean, save_invstd, 0.0f, 0, N,
                             C, HW));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "bn", "bn_backward_dx", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbbbbiii", dx, dy, x, sums, save_mean, save_invstd, gamma,
                           N, C, HW));
    return launch_rows(ctx, k, "bn_backward_dx", HW, total / (size_t)HW);
}

lirf_status lirf_bn_backward_infer(lirf_ctx *ctx, lirf_buf dx, lirf_buf dgamma, lirf_buf dbeta,
                                   lirf_buf dy, lirf_buf x, lirf_buf gamma,
                                   lirf_buf running_mean, lirf_buf running_var, int N, int C,
                                   int HW, float eps) {
    const char *op = "bn_backward_infer";
    size_t total = 0;
    LIRF_TRY(bn_dims(op, N, C, HW, &total));
    LIRF_TRY(bn_eps(op, eps));
    LIRF_TRY(lirf_check_buf(dx, total, op, "dx"));
    LIRF_TRY(lirf_check_opt_buf(dgamma, C, op, "dgamma"));
    LIRF_TRY(lirf_check_opt_buf(dbeta, C, op, "dbeta"));
    LIRF_TRY(lirf_check_buf(dy, total, op, "dy"));
    LIRF_TRY(lirf_check_buf(x, total, op, "x"));
    LIRF_TRY(lirf_check_buf(gamma, C, op, "gamma"));
    LIRF_TRY(lirf_check_buf(running_mean, C, op, "running_mean"));
    LIRF_TRY(lirf_check_buf(running_var, C, op, "running_var"));

    /* the reduction reads dy before dx is written (dx may alias dy) */
    if (dgamma.mem || dbeta.mem)
        LIRF_TRY(backward_reduce(ctx, dgamma, dbeta, LIRF_NOBUF, dy, x, running_mean, running_var,
                                 eps, 1, N, C, HW));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "bn", "bn_backward_infer_dx", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbfiii", dx, dy, gamma, running_var, (double)eps, C, HW,
                           (int)(total / (size_t)HW)));
    return launch_rows(ctx, k, "bn_backward_infer_dx", HW, total / (size_t)HW);
}
