/* Host side of the losses and metrics (cl_kernels/loss.cl). Reference:
 * model/ref/ref_loss.c.
 *
 * The batch-mean losses are one launch of a single work-group (deterministic
 * tree reduction, no scratch); the backwards and argmax run one work-item per
 * row, class_counts one per sample with integer atomics. */
#include <math.h>

#include "ops.h"

/* Largest local size used by the single-work-group losses. */
#define LOSS_WG_CAP 256

/* Launches k as one work-group of `wg` work-items. */
static lirf_status launch_one_group(lirf_ctx *ctx, cl_kernel k, const char *label, size_t wg) {
    return lirf_launch(ctx, k, label, 1, &wg, &wg);
}

/* Validates logits (N,K) and labels (N). */
static lirf_status check_rows(const char *op, lirf_buf logits, lirf_buf labels, int N, int K) {
    LIRF_TRY(lirf_check_dims(op, 2, N, K));
    LIRF_TRY(lirf_check_buf(logits, (size_t)N * K, op, "logits"));
    return lirf_check_buf(labels, (size_t)N, op, "labels");
}

/* loss (1) = mean CE; per_sample (N, optional); logits (N,K); labels int (N). */
lirf_status lirf_softmax_ce_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf per_sample,
                                    lirf_buf logits, lirf_buf labels, int N, int K) {
    static const char *op = "softmax_ce_forward";
    LIRF_TRY(check_rows(op, logits, labels, N, K));
    LIRF_TRY(lirf_check_buf(loss, 1, op, "loss"));
    LIRF_TRY(lirf_check_opt_buf(per_sample, (size_t)N, op, "per_sample"));
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "softmax_ce_forward", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, LOSS_WG_CAP, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "boibbiiL", loss, per_sample, per_sample.mem != NULL, logits,
                           labels, N, K, wg * sizeof(float)));
    return launch_one_group(ctx, k, op, wg);
}

/* dlogits (N,K) += scale * (softmax(logits) - onehot(labels)) / N */
lirf_status lirf_softmax_ce_backward(lirf_ctx *ctx, lirf_buf dlogits, lirf_buf logits,
                                     lirf_buf labels, int N, int K, float scale) {
    static const char *op = "softmax_ce_backward";
    LIRF_TRY(check_rows(op, logits, labels, N, K));
    LIRF_TRY(lirf_check_buf(dlogits, (size_t)N * K, op, "dlogits"));
    if (!isfinite(scale)) return LIRF_FAIL(LIRF_E_INVALID, "%s: scale is %g", op, (double)scale);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "softmax_ce_backward", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbiif", dlogits, logits, labels, N, K,
                           (double)scale / N));
    return lirf_launch1(ctx, k, op, (size_t)N);
}

/* Validates the arguments the KD forward and backward share: s, t (N,K),
 * cols int (M) or absent with M = K, 0 < M <= K, T > 0 finite. */
static lirf_status check_kd(const char *op, lirf_buf s, lirf_buf t, lirf_buf cols, int M, int N,
                            int K, float T) {
    LIRF_TRY(lirf_check_dims(op, 3, M, N, K));
    if (!(T > 0.0f) || !isfinite(T))
        return LIRF_FAIL(LIRF_E_INVALID, "%s: temperature %g (must be > 0)", op, (double)T);
    if (M > K)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: %d selected columns of %d classes", op, M, K);
    if (!cols.mem && M != K)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: no column list, so M (%d) must equal K (%d)", op, M,
                         K);
    LIRF_TRY(lirf_check_buf(s, (size_t)N * K, op, "s"));
    LIRF_TRY(lirf_check_buf(t, (size_t)N * K, op, "t"));
    return lirf_check_opt_buf(cols, (size_t)M, op, "cols");
}

/* loss (1) = T^2 * mean_n KL(softmax(t[n,cols]/T) || softmax(s[n,cols]/T)). */
lirf_status lirf_kd_forward(lirf_ctx *ctx, lirf_buf loss, lirf_buf s, lirf_buf t, lirf_buf cols,
                            int M, int N, int K, float T) {
    static const char *op = "kd_forward";
    LIRF_TRY(check_kd(op, s, t, cols, M, N, K, T));
    LIRF_TRY(lirf_check_buf(loss, 1, op, "loss"));
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "kd_forward", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, LOSS_WG_CAP, &wg));
    double coef = (double)T * T / N;
    LIRF_TRY(lirf_set_args(ctx, k, "bbboiiiiffL", loss, s, t, cols, cols.mem != NULL, M, N, K,
                           (double)T, coef, wg * sizeof(float)));
    return launch_one_group(ctx, k, op, wg);
}

/* ds[n,cols] += scale * T / N * (softmax(s[n,cols]/T) - softmax(t[n,cols]/T)). */
lirf_status lirf_kd_backward(lirf_ctx *ctx, lirf_buf ds, lirf_buf s, lirf_buf t, lirf_buf cols,
                             int M, int N, int K, float T, float scale) {
    static const char *op = "kd_backward";
    LIRF_TRY(check_kd(op, s, t, cols, M, N, K, T));
    LIRF_TRY(lirf_check_buf(ds, (size_t)N * K, op, "ds"));
    if (!isfinite(scale)) return LIRF_FAIL(LIRF_E_INVALID, "%s: scale is %g", op, (double)scale);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "kd_backward", &k));
    double coef = (double)scale * T / N;
    LIRF_TRY(lirf_set_args(ctx, k, "bbboiiiiff", ds, s, t, cols, cols.mem != NULL, M, N, K,
                           (double)T, coef));
    return lirf_launch1(ctx, k, op, (size_t)N);
}

/* pred int (N) = argmax over K of logits (N,K), first max on ties. */
lirf_status lirf_argmax(lirf_ctx *ctx, lirf_buf pred, lirf_buf logits, int N, int K) {
    static const char *op = "argmax";
    LIRF_TRY(lirf_check_dims(op, 2, N, K));
    LIRF_TRY(lirf_check_buf(pred, (size_t)N, op, "pred"));
    LIRF_TRY(lirf_check_buf(logits, (size_t)N * K, op, "logits"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "argmax_rows", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbii", pred, logits, N, K));
    return lirf_launch1(ctx, k, op, (size_t)N);
}

/* counts int (2K) accumulated from pred, labels int (N). */
lirf_status lirf_class_counts(lirf_ctx *ctx, lirf_buf counts, lirf_buf pred, lirf_buf labels,
                              int N, int K) {
    static const char *op = "class_counts";
    LIRF_TRY(lirf_check_dims(op, 2, N, K));
    LIRF_TRY(lirf_check_buf(counts, 2 * (size_t)K, op, "counts"));
    LIRF_TRY(lirf_check_buf(pred, (size_t)N, op, "pred"));
    LIRF_TRY(lirf_check_buf(labels, (size_t)N, op, "labels"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "loss", "class_counts", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbii", counts, pred, labels, N, K));
    return lirf_launch1(ctx, k, op, (size_t)N);
}
