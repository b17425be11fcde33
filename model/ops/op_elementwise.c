/* Host side of the elementwise ops (cl_kernels/elementwise.cl). */
#include <limits.h>

#include "ops.h"

static lirf_status check_n(const char *op, size_t n) {
    if (n == 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: n is 0", op);
    if (n > (size_t)INT_MAX) return LIRF_FAIL(LIRF_E_INVALID, "%s: n %zu too large", op, n);
    return LIRF_OK;
}

lirf_status lirf_relu_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, size_t n) {
    LIRF_TRY(check_n("relu_forward", n));
    LIRF_TRY(lirf_check_buf(y, n, "relu_forward", "y"));
    LIRF_TRY(lirf_check_buf(x, n, "relu_forward", "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", "relu_forward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbi", y, x, (int)n));
    return lirf_launch1(ctx, k, "relu_forward", n);
}

lirf_status lirf_relu_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dy, lirf_buf y, size_t n) {
    LIRF_TRY(check_n("relu_backward", n));
    LIRF_TRY(lirf_check_buf(dx, n, "relu_backward", "dx"));
    LIRF_TRY(lirf_check_buf(dy, n, "relu_backward", "dy"));
    LIRF_TRY(lirf_check_buf(y, n, "relu_backward", "y"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", "relu_backward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbi", dx, dy, y, (int)n));
    return lirf_launch1(ctx, k, "relu_backward", n);
}

static lirf_status binary(lirf_ctx *ctx, const char *name, lirf_buf y, lirf_buf a, lirf_buf b,
                          size_t n) {
    LIRF_TRY(check_n(name, n));
    LIRF_TRY(lirf_check_buf(y, n, name, "y"));
    LIRF_TRY(lirf_check_buf(a, n, name, "a"));
    LIRF_TRY(lirf_check_buf(b, n, name, "b"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", name, &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbi", y, a, b, (int)n));
    return lirf_launch1(ctx, k, name, n);
}

lirf_status lirf_add(lirf_ctx *ctx, lirf_buf y, lirf_buf a, lirf_buf b, size_t n) {
    return binary(ctx, "add", y, a, b, n);
}

lirf_status lirf_add_relu(lirf_ctx *ctx, lirf_buf y, lirf_buf a, lirf_buf b, size_t n) {
    return binary(ctx, "add_relu", y, a, b, n);
}

lirf_status lirf_axpy(lirf_ctx *ctx, lirf_buf y, float alpha, lirf_buf x, size_t n) {
    LIRF_TRY(check_n("axpy", n));
    LIRF_TRY(lirf_check_buf(y, n, "axpy", "y"));
    LIRF_TRY(lirf_check_buf(x, n, "axpy", "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", "axpy", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bfbi", y, (double)alpha, x, (int)n));
    return lirf_launch1(ctx, k, "axpy", n);
}

lirf_status lirf_scale(lirf_ctx *ctx, lirf_buf y, float alpha, size_t n) {
    LIRF_TRY(check_n("scale", n));
    LIRF_TRY(lirf_check_buf(y, n, "scale", "y"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", "scale", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bfi", y, (double)alpha, (int)n));
    return lirf_launch1(ctx, k, "scale", n);
}

lirf_status lirf_count_nonfinite(lirf_ctx *ctx, lirf_buf count, lirf_buf x, size_t n) {
    LIRF_TRY(check_n("count_nonfinite", n));
    LIRF_TRY(lirf_check_buf(count, 1, "count_nonfinite", "count"));
    LIRF_TRY(lirf_check_buf(x, n, "count_nonfinite", "x"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "elementwise", "count_nonfinite", &k));
    size_t wg;
    LIRF_TRY(lirf_kernel_wg(ctx, k, 256, &wg));
    /* a few work-groups per compute unit, each looping over its share */
    size_t groups = (n + wg - 1) / wg;
    if (groups > 64) groups = 64;
    size_t global = groups * wg;
    LIRF_TRY(lirf_set_args(ctx, k, "bbiL", count, x, (int)n, wg * sizeof(cl_int)));
    return lirf_launch(ctx, k, "count_nonfinite", 1, &global, &wg);
}
