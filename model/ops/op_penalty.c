/* Host side of the EWC / MAS penalty and importance ops (cl_kernels/optim.cl);
 * reference model/ref/ref_penalty.c; semantics in ops.h, "penalty". */
#include <limits.h>
#include <math.h>

#include "ops.h"

#define PENALTY_WG_CAP 256

static lirf_status penalty_args(const char *op, lirf_buf w, lirf_buf a, lirf_buf imp, size_t n) {
    if (n < 1 || n > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: %zu entries (must be 1 .. INT_MAX)", op, n);
    LIRF_TRY(lirf_check_buf(w, n, op, "w"));
    LIRF_TRY(lirf_check_buf(a, n, op, "anchor"));
    return lirf_check_buf(imp, n, op, "importance");
}

lirf_status lirf_quad_penalty_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf w, lirf_buf a,
                                      lirf_buf imp, size_t n) {
    static const char *op = "quad_penalty_forward";
    LIRF_TRY(lirf_check_buf(loss, 1, op, "loss"));
    LIRF_TRY(penalty_args(op, w, a, imp, n));
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "optim", "quad_penalty_reduce", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, PENALTY_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbiL", loss, w, a, imp, (int)n, wg * sizeof(float)));
    return lirf_launch(ctx, k, op, 1, &wg, &wg);
}

lirf_status lirf_quad_penalty_backward(lirf_ctx *ctx, lirf_buf g, lirf_buf w, lirf_buf a,
                                       lirf_buf imp, size_t n, float lambda) {
    static const char *op = "quad_penalty_backward";
    LIRF_TRY(penalty_args(op, w, a, imp, n));
    LIRF_TRY(lirf_check_buf(g, n, op, "g"));
    if (!isfinite(lambda))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: lambda %g is not finite", op, (double)lambda);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "optim", "quad_penalty_grad", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbif", g, w, a, imp, (int)n, (double)lambda));
    return lirf_launch1(ctx, k, op, n);
}

lirf_status lirf_importance_acc(lirf_ctx *ctx, lirf_buf acc, lirf_buf g, size_t n, float scale,
                                int power) {
    static const char *op = "importance_acc";
    if (n < 1 || n > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: %zu entries (must be 1 .. INT_MAX)", op, n);
    if (power != 1 && power != 2)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: power %d (must be 1 or 2)", op, power);
    if (!(isfinite(scale) && scale >= 0.0f))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: scale %g (must be finite and >= 0)", op,
                         (double)scale);
    LIRF_TRY(lirf_check_buf(acc, n, op, "acc"));
    LIRF_TRY(lirf_check_buf(g, n, op, "g"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "optim", "importance_acc", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbifi", acc, g, (int)n, (double)scale, power));
    return lirf_launch1(ctx, k, op, n);
}
