/* Host side of attention transfer (cl_kernels/attention.cl); reference
 * model/ref/ref_attention.c. F, F1, F2 (N,C,HW); a (N,HW); loss (1).
 *
 * Temporaries: scratch slot 0 = a1 (N*HW), slot 1 = a2 (N*HW), later dL/dq1
 * (written over a2), slot 2 = the floored norms of q1 (N). */
#include <limits.h>
#include <math.h>

#include "ops.h"

#define AT_WG_CAP 256

static lirf_status check_args(const char *op, int N, int C, int HW, float eps) {
    LIRF_TRY(lirf_check_dims(op, 3, N, C, HW));
    if ((size_t)N * C * HW > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: N*C*HW = %zu too large", op, (size_t)N * C * HW);
    if (!(isfinite(eps) && eps >= 0.0f))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: eps %g (must be finite and >= 0)", op, (double)eps);
    return LIRF_OK;
}

/* One work-group per sample: a = normalised map of F; nrm (N) optional. */
static lirf_status launch_map(lirf_ctx *ctx, lirf_buf a, lirf_buf nrm, lirf_buf F, int N, int C,
                              int HW) {
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "attention", "at_map", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, AT_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "boibiiiL", a, nrm, nrm.mem != NULL, F, N, C, HW,
                           wg * sizeof(float)));
    size_t gws = (size_t)N * wg;
    return lirf_launch(ctx, k, "at_map", 1, &gws, &wg);
}

lirf_status lirf_at_map(lirf_ctx *ctx, lirf_buf a, lirf_buf F, int N, int C, int HW) {
    static const char *op = "at_map";
    LIRF_TRY(check_args(op, N, C, HW, 0.0f));
    LIRF_TRY(lirf_check_buf(a, (size_t)N * HW, op, "a"));
    LIRF_TRY(lirf_check_buf(F, (size_t)N * C * HW, op, "F"));
    return launch_map(ctx, a, LIRF_NOBUF, F, N, C, HW);
}

lirf_status lirf_at_loss_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf F1, lirf_buf F2, int N,
                                 int C, int HW, float eps) {
    static const char *op = "at_loss_forward";
    LIRF_TRY(check_args(op, N, C, HW, eps));
    size_t m = (size_t)N * HW;
    LIRF_TRY(lirf_check_buf(loss, 1, op, "loss"));
    LIRF_TRY(lirf_check_buf(F1, m * C, op, "F1"));
    LIRF_TRY(lirf_check_buf(F2, m * C, op, "F2"));
    lirf_buf a1, a2;
    LIRF_TRY(lirf_scratch(ctx, 0, m, &a1));
    LIRF_TRY(lirf_scratch(ctx, 1, m, &a2));
    LIRF_TRY(launch_map(ctx, a1, LIRF_NOBUF, F1, N, C, HW));
    LIRF_TRY(launch_map(ctx, a2, LIRF_NOBUF, F2, N, C, HW));
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "attention", "at_loss_reduce", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, AT_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbifL", loss, a1, a2, (int)m, (double)eps,
                           wg * sizeof(float)));
    return lirf_launch(ctx, k, op, 1, &wg, &wg);
}

lirf_status lirf_at_loss_backward(lirf_ctx *ctx, lirf_buf dF1, lirf_buf F1, lirf_buf F2, int N,
                                  int C, int HW, float eps, float scale) {
    static const char *op = "at_loss_backward";
    LIRF_TRY(check_args(op, N, C, HW, eps));
    size_t m = (size_t)N * HW, total = m * C;
    LIRF_TRY(lirf_check_buf(dF1, total, op, "dF1"));
    LIRF_TRY(lirf_check_buf(F1, total, op, "F1"));
    LIRF_TRY(lirf_check_buf(F2, total, op, "F2"));
    lirf_buf a1, a2, nrm;
    LIRF_TRY(lirf_scratch(ctx, 0, m, &a1));
    LIRF_TRY(lirf_scratch(ctx, 1, m, &a2));
    LIRF_TRY(lirf_scratch(ctx, 2, (size_t)N, &nrm));
    LIRF_TRY(launch_map(ctx, a1, nrm, F1, N, C, HW));
    LIRF_TRY(launch_map(ctx, a2, LIRF_NOBUF, F2, N, C, HW));

    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "attention", "at_grad_q", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, AT_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiiffL", a2, a1, nrm, N, HW, (double)eps, (double)scale,
                           wg * sizeof(float)));
    size_t gws = (size_t)N * wg;
    LIRF_TRY(lirf_launch(ctx, k, "at_grad_q", 1, &gws, &wg));

    LIRF_TRY(lirf_kernel_get(ctx, "attention", "at_grad_f", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiii", dF1, F1, a2, N, C, HW));
    return lirf_launch1(ctx, k, "at_grad_f", total);
}

/* ---- feature matching: mean squared error ---- */
static lirf_status mse_args(const char *op, lirf_buf a, lirf_buf b, size_t m) {
    if (m < 1 || m > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: %zu entries (must be 1 .. INT_MAX)", op, m);
    LIRF_TRY(lirf_check_buf(a, m, op, "a"));
    return lirf_check_buf(b, m, op, "b");
}

lirf_status lirf_mse_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf a, lirf_buf b, size_t m) {
    static const char *op = "mse_forward";
    LIRF_TRY(lirf_check_buf(loss, 1, op, "loss"));
    LIRF_TRY(mse_args(op, a, b, m));
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "attention", "mse_reduce", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, AT_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiL", loss, a, b, (int)m, wg * sizeof(float)));
    return lirf_launch(ctx, k, op, 1, &wg, &wg);
}

lirf_status lirf_mse_backward(lirf_ctx *ctx, lirf_buf da, lirf_buf a, lirf_buf b, size_t m,
                              float scale) {
    static const char *op = "mse_backward";
    LIRF_TRY(lirf_check_buf(da, m, op, "da"));
    LIRF_TRY(mse_args(op, a, b, m));
    if (!isfinite(scale))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: scale %g is not finite", op, (double)scale);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "attention", "mse_grad", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbif", da, a, b, (int)m, (double)scale));
    return lirf_launch1(ctx, k, op, m);
}
