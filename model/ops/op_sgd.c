/* Host side of the SGD step (cl_kernels/optim.cl); reference
 * model/ref/ref_sgd.c. w, v, g (n): weights, momentum buffer, gradients.
 *
 * PyTorch's torch.optim.SGD with dampening 0 and no Nesterov:
 *   g' = g + wd * w;  v = momentum * v + g';  w -= lr * v.
 * Start v at 0: PyTorch's first step sets v = g', the same thing. With
 * momentum 0, v = g' and the old v is not read (it may be uninitialised). */
#include <limits.h>
#include <math.h>

#include "ops.h"

lirf_status lirf_sgd_step(lirf_ctx *ctx, lirf_buf w, lirf_buf v, lirf_buf g, size_t n, float lr,
                          float momentum, float wd) {
    static const char *op = "sgd_step";
    if (n == 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: n is 0", op);
    if (n > (size_t)INT_MAX) return LIRF_FAIL(LIRF_E_INVALID, "%s: n %zu too large", op, n);
    if (!(isfinite(lr) && lr >= 0.0f) || !(isfinite(momentum) && momentum >= 0.0f) ||
        !(isfinite(wd) && wd >= 0.0f))
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s: lr %g, momentum %g, weight decay %g (each must be finite and >= 0)",
                         op, (double)lr, (double)momentum, (double)wd);
    LIRF_TRY(lirf_check_buf(w, n, op, "w"));
    LIRF_TRY(lirf_check_buf(v, n, op, "v"));
    LIRF_TRY(lirf_check_buf(g, n, op, "g"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "optim", "sgd_step", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbfffi", w, v, g, (double)lr, (double)momentum, (double)wd,
                           (int)n));
    return lirf_launch1(ctx, k, op, n);
}
