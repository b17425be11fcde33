/* GEMM through CLBlast, with the runtime's scratch as CLBlast's temp buffer
 * (or, with the packed engine, through gemm_packed.c).
 *
 * With tuned parameters in use (tune.c) each call first makes CLBlast hold the
 * Xgemm parameters of its transpose class, then asks for the column-major
 * product C^T (N,M) = op(B)^T op(A)^T, which is the row-major C (M,N) in the
 * same memory. CLBlast's indirect kernels want column-major operands; given
 * row-major ones it transposes C in and out (and, for NT, both operands) into
 * temporaries. Swapped, the forward (NN) copies only the small weight matrix,
 * dcol (TN) copies nothing, and dW (NT, with the GEMMK 1 kernel) copies only
 * the small dW. Without tuning (LIRF_GEMM_TUNING=off, unknown device) the call
 * is the plain row-major one.
 */
#include <time.h>

#include <clblast_c.h>

#include "internal.h"

/* tune.c: 1 if ctx's device has tuned parameters in use, after making CLBlast
 * hold those of class cls (ta * 2 + tb); *st reports a failed override. */
int lirf_gemm_tuning_prepare(lirf_ctx *ctx, int cls, lirf_status *st);

/* One CLBlast call's layout and operand order. */
typedef struct {
    CLBlastLayout layout;
    CLBlastTranspose ta, tb;
    size_t m, n;
    lirf_buf a, b;
    size_t lda, ldb, sa, sb;
} blast_call;

/* Row-major as given, or (tuned) column-major with A and B swapped. */
static lirf_status blast_args(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                              lirf_buf A, size_t lda, size_t sa, lirf_buf B, size_t ldb, size_t sb,
                              blast_call *c) {
    lirf_status st;
    int tuned = lirf_gemm_tuning_prepare(ctx, (int)ta * 2 + (int)tb, &st);
    if (st != LIRF_OK) return st;
    CLBlastTranspose cta = ta ? CLBlastTransposeYes : CLBlastTransposeNo;
    CLBlastTranspose ctb = tb ? CLBlastTransposeYes : CLBlastTransposeNo;
    if (tuned)
        *c = (blast_call){CLBlastLayoutColMajor, ctb, cta, N, M, B, A, ldb, lda, sb, sa};
    else
        *c = (blast_call){CLBlastLayoutRowMajor, cta, ctb, M, N, A, B, lda, ldb, sa, sb};
    return LIRF_OK;
}

static lirf_status check_matrix(const char *what, lirf_buf m, size_t rows, size_t cols, size_t ld,
                                size_t stride, size_t batch) {
    if (!m.mem) return LIRF_FAIL(LIRF_E_NULL, "gemm: matrix %s is NULL", what);
    if (ld < cols)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm: leading dimension of %s is %zu < %zu columns", what,
                         ld, cols);
    /* elements touched: last matrix's last row start + cols */
    size_t need = (batch - 1) * stride + (rows - 1) * ld + cols;
    if (m.n < need)
        return LIRF_FAIL(LIRF_E_SHAPE, "gemm: view of %s holds %zu elements, needs %zu", what, m.n,
                         need);
    return LIRF_OK;
}

static lirf_status check_all(lirf_trans ta, lirf_trans tb, size_t M, size_t N, size_t K,
                             lirf_buf A, size_t lda, size_t sa, lirf_buf B, size_t ldb, size_t sb,
                             lirf_buf C, size_t ldc, size_t sc, size_t batch) {
    if (M == 0 || N == 0 || K == 0 || batch == 0)
        return LIRF_FAIL(LIRF_E_INVALID, "gemm: zero size (M %zu, N %zu, K %zu, batch %zu)", M, N,
                         K, batch);
    /* Row-major storage: A is (M,K) or, transposed, stored (K,M). */
    LIRF_TRY(check_matrix("A", A, ta ? K : M, ta ? M : K, lda, sa, batch));
    LIRF_TRY(check_matrix("B", B, tb ? N : K, tb ? K : N, ldb, sb, batch));
    LIRF_TRY(check_matrix("C", C, M, N, ldc, sc, batch));
    return LIRF_OK;
}

static lirf_status blast_fail(CLBlastStatusCode s, const char *call, size_t M, size_t N, size_t K) {
    lirf_status st = LIRF_E_BLAS;
    if (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfResources) st = LIRF_E_DEVICE_MEM;
    return LIRF_FAIL(st, "%s(M %zu, N %zu, K %zu) failed: %s (%d)", call, M, N, K,
                     lirf_clblast_status_name((int)s), (int)s);
}

lirf_status lirf_gemm(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N, size_t K,
                      float alpha, lirf_buf A, size_t lda, lirf_buf B, size_t ldb, float beta,
                      lirf_buf C, size_t ldc) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm: NULL context");
    LIRF_TRY(check_all(ta, tb, M, N, K, A, lda, 0, B, ldb, 0, C, ldc, 0, 1));
    if (ctx->gemm_engine == LIRF_GEMM_PACKED)
        return lirf_gemm_packed(ctx, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    blast_call c;
    LIRF_TRY(blast_args(ctx, ta, tb, M, N, A, lda, 0, B, ldb, 0, &c));
    size_t temp_bytes = 0;
    CLBlastStatusCode s = CLBlastSGemmTempBufferSize(c.layout, c.ta, c.tb, c.m, c.n, K, c.a.off,
                                                     c.lda, c.b.off, c.ldb, C.off, ldc,
                                                     &ctx->queue, &temp_bytes);
    if (s != CLBlastSuccess) return blast_fail(s, "CLBlastSGemmTempBufferSize", M, N, K);
    lirf_buf temp;
    LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_GEMM, (temp_bytes + 3) / 4, &temp));
    /* CLBlast may run several kernels per call and gives the event of the last
     * only: when profiling, time the whole call on the host between two
     * clFinish. */
    struct timespec t0, t1;
    if (ctx->profiling) {
        clFinish(ctx->queue);
        clock_gettime(CLOCK_MONOTONIC, &t0);
    }
    s = CLBlastSgemmWithTempBuffer(c.layout, c.ta, c.tb, c.m, c.n, K, alpha, c.a.mem, c.a.off,
                                   c.lda, c.b.mem, c.b.off, c.ldb, beta, C.mem, C.off, ldc,
                                   &ctx->queue, NULL, temp.mem);
    if (s != CLBlastSuccess) return blast_fail(s, "CLBlastSgemm", M, N, K);
    if (ctx->profiling) {
        clFinish(ctx->queue);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        lirf_profile_add(ctx, ta ? (tb ? "gemm_tt" : "gemm_tn") : (tb ? "gemm_nt" : "gemm_nn"),
                         (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6);
    }
    ctx->stats.gemm_calls++;
    return LIRF_OK;
}

lirf_status lirf_gemm_batched(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                              size_t K, float alpha, lirf_buf A, size_t lda, size_t stride_a,
                              lirf_buf B, size_t ldb, size_t stride_b, float beta, lirf_buf C,
                              size_t ldc, size_t stride_c, size_t batch) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm: NULL context");
    LIRF_TRY(check_all(ta, tb, M, N, K, A, lda, stride_a, B, ldb, stride_b, C, ldc, stride_c,
                       batch));
    blast_call c;
    LIRF_TRY(blast_args(ctx, ta, tb, M, N, A, lda, stride_a, B, ldb, stride_b, &c));
    CLBlastStatusCode s = CLBlastSgemmStridedBatched(
        c.layout, c.ta, c.tb, c.m, c.n, K, alpha, c.a.mem, c.a.off, c.lda, c.sa, c.b.mem, c.b.off,
        c.ldb, c.sb, beta, C.mem, C.off, ldc, stride_c, batch, &ctx->queue, NULL);
    if (s != CLBlastSuccess) return blast_fail(s, "CLBlastSgemmStridedBatched", M, N, K);
    ctx->stats.gemm_calls++;
    return LIRF_OK;
}
