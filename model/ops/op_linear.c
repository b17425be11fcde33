/* Host side of the fully connected layer: lirf_gemm for the products, the bias
 * kernels of cl_kernels/linear.cl. Reference: model/ref/ref_linear.c. */
#include "ops.h"

/* Validates the sizes and the buffers every linear call shares. */
static lirf_status check_linear(const char *op, lirf_buf x, lirf_buf w, lirf_buf b,
                                const char *b_name, int N, int I, int O) {
    LIRF_TRY(lirf_check_dims(op, 3, N, I, O));
    LIRF_TRY(lirf_check_buf(x, (size_t)N * I, op, "x"));
    LIRF_TRY(lirf_check_buf(w, (size_t)O * I, op, "w"));
    return lirf_check_opt_buf(b, (size_t)O, op, b_name);
}

/* y (N,O) = x (N,I) w^T + b; w (O,I), b (O, optional). */
lirf_status lirf_linear_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                int N, int I, int O) {
    static const char *op = "linear_forward";
    LIRF_TRY(check_linear(op, x, w, b, "b", N, I, O));
    LIRF_TRY(lirf_check_buf(y, (size_t)N * O, op, "y"));
    LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_TRANS, (size_t)N, (size_t)O, (size_t)I, 1.0f, x,
                       (size_t)I, w, (size_t)I, 0.0f, y, (size_t)O));
    if (!b.mem) return LIRF_OK;
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "linear", "bias_add_rows", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbii", y, b, N, O));
    return lirf_launch1(ctx, k, "linear_bias", (size_t)N * O);
}

/* dx (N,I) = dy w (optional, written); dw (O,I) += dy^T x; db (O) += column
 * sums of dy (optional). dy (N,O). */
lirf_status lirf_linear_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db, lirf_buf dy,
                                 lirf_buf x, lirf_buf w, int N, int I, int O) {
    static const char *op = "linear_backward";
    LIRF_TRY(check_linear(op, x, w, db, "db", N, I, O));
    LIRF_TRY(lirf_check_opt_buf(dx, (size_t)N * I, op, "dx"));
    LIRF_TRY(lirf_check_opt_buf(dw, (size_t)O * I, op, "dw"));
    LIRF_TRY(lirf_check_buf(dy, (size_t)N * O, op, "dy"));
    if (dx.mem)
        LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_NO_TRANS, (size_t)N, (size_t)I, (size_t)O, 1.0f,
                           dy, (size_t)O, w, (size_t)I, 0.0f, dx, (size_t)I));
    if (dw.mem)
        LIRF_TRY(lirf_gemm(ctx, LIRF_TRANS, LIRF_NO_TRANS, (size_t)O, (size_t)I, (size_t)N, 1.0f,
                           dy, (size_t)O, x, (size_t)I, 1.0f, dw, (size_t)I));
    if (!db.mem) return LIRF_OK;
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "linear", "column_sums_acc", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, 128, &wg));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiL", db, dy, N, O, wg * sizeof(float)));
    size_t gws = (size_t)O * wg;
    return lirf_launch(ctx, k, "linear_db", 1, &gws, &wg);
}
