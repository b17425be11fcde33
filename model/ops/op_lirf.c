/* Host side of cl_kernels/lirf.cl: LIRF's column rule for the recover logits. */
#include "ops.h"

lirf_status lirf_merge_columns(lirf_ctx *ctx, lirf_buf out, lirf_buf a, lirf_buf b, lirf_buf mask,
                               int N, int K) {
    static const char *op = "merge_columns";
    LIRF_TRY(lirf_check_dims(op, 2, N, K));
    size_t n = (size_t)N * K;
    LIRF_TRY(lirf_check_buf(out, n, op, "out"));
    LIRF_TRY(lirf_check_buf(a, n, op, "a"));
    LIRF_TRY(lirf_check_buf(b, n, op, "b"));
    LIRF_TRY(lirf_check_buf(mask, (size_t)K, op, "mask"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "lirf", "merge_columns", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbbbii", out, a, b, mask, N, K));
    return lirf_launch1(ctx, k, op, n);
}

lirf_status lirf_split_columns_acc(lirf_ctx *ctx, lirf_buf da, lirf_buf db, lirf_buf g,
                                   lirf_buf mask, int N, int K, float scale) {
    static const char *op = "split_columns_acc";
    LIRF_TRY(lirf_check_dims(op, 2, N, K));
    size_t n = (size_t)N * K;
    LIRF_TRY(lirf_check_buf(da, n, op, "da"));
    LIRF_TRY(lirf_check_opt_buf(db, n, op, "db"));
    LIRF_TRY(lirf_check_buf(g, n, op, "g"));
    LIRF_TRY(lirf_check_buf(mask, (size_t)K, op, "mask"));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "lirf", "split_columns_acc", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "boibbiif", da, db, db.mem != NULL, g, mask, N, K,
                           (double)scale));
    return lirf_launch1(ctx, k, op, n);
}
