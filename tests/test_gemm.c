/* CLBlast GEMM through the runtime against ref_gemm: every transpose
 * combination, awkward sizes, non-zero offsets and padded leading dimensions,
 * alpha/beta, the strided-batched form, and invalid arguments. */
#include <stdio.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

typedef struct { size_t M, N, K; } mnk;
static const mnk SHAPES[] = {{1, 1, 1}, {7, 93, 13}, {64, 33, 129}, {93, 7, 1}, {128, 256, 72}};

static void one_case(int ta, int tb, mnk s, size_t pad, size_t off, float alpha, float beta,
                     trng *r) {
    size_t arows = ta ? s.K : s.M, acols = ta ? s.M : s.K;
    size_t brows = tb ? s.N : s.K, bcols = tb ? s.K : s.N;
    size_t lda = acols + pad, ldb = bcols + pad, ldc = s.N + pad;
    size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + s.M * ldc;
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    double *C = malloc(nc * sizeof *C), *got = malloc(nc * sizeof *got);
    trand_fill(r, A, na, -1, 1), trand_fill(r, B, nb, -1, 1), trand_fill(r, C, nc, -1, 1);
    tround_f32(A, na), tround_f32(B, nb), tround_f32(C, nc);
    tbuf bA = tbuf_new(A, na), bB = tbuf_new(B, nb), bC = tbuf_new(C, nc);
    lirf_buf vA, vB, vC;
    ck_assert_int_eq(lirf_buf_view(bA.v, off, na - off, &vA), LIRF_OK);
    ck_assert_int_eq(lirf_buf_view(bB.v, off, nb - off, &vB), LIRF_OK);
    ck_assert_int_eq(lirf_buf_view(bC.v, off, nc - off, &vC), LIRF_OK);
    lirf_status st = lirf_gemm(tctx(), ta, tb, s.M, s.N, s.K, alpha, vA, lda, vB, ldb, beta, vC, ldc);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ref_gemm(ta, tb, s.M, s.N, s.K, alpha, A + off, lda, B + off, ldb, beta, C + off, ldc);
    tbuf_get(&bC, got, nc);
    char what[96];
    snprintf(what, sizeof what, "gemm ta%d tb%d %zux%zux%zu pad %zu off %zu", ta, tb, s.M, s.N,
             s.K, pad, off);
    /* padding columns of C and the leading offset must be untouched: compare all */
    ck_assert_close(what, got, C, nc, 1e-5 * (double)s.K, 1e-4);
    ck_assert(tbuf_guards_ok(&bC));
    tbuf_free(&bA), tbuf_free(&bB), tbuf_free(&bC);
    free(A), free(B), free(C), free(got);
}

START_TEST(gemm_all_transposes) {
    trng r = {21};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
                one_case(ta, tb, SHAPES[i], 0, 0, 1.0f, 0.0f, &r);
                one_case(ta, tb, SHAPES[i], 3, 5, -0.5f, 0.75f, &r);
            }
}
END_TEST

START_TEST(gemm_batched_matches_loop) {
    trng r = {22};
    const size_t M = 9, N = 17, K = 5, batch = 3;
    /* A shared by every batch (stride 0), B and C strided with a gap */
    size_t sa = 0, sb = K * N + 4, sc = M * N + 2;
    size_t na = M * K, nb = batch * sb, nc = batch * sc;
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    double *C = malloc(nc * sizeof *C), *got = malloc(nc * sizeof *got);
    trand_fill(&r, A, na, -1, 1), trand_fill(&r, B, nb, -1, 1), trand_fill(&r, C, nc, -1, 1);
    tround_f32(A, na), tround_f32(B, nb), tround_f32(C, nc);
    tbuf bA = tbuf_new(A, na), bB = tbuf_new(B, nb), bC = tbuf_new(C, nc);
    lirf_status st = lirf_gemm_batched(tctx(), LIRF_NO_TRANS, LIRF_NO_TRANS, M, N, K, 2.0f, bA.v, K,
                                       sa, bB.v, N, sb, 1.0f, bC.v, N, sc, batch);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    for (size_t i = 0; i < batch; i++)
        ref_gemm(0, 0, M, N, K, 2.0, A + i * sa, K, B + i * sb, N, 1.0, C + i * sc, N);
    tbuf_get(&bC, got, nc);
    ck_assert_close("gemm_batched", got, C, nc, 1e-5, 1e-5);
    ck_assert(tbuf_guards_ok(&bC));
    tbuf_free(&bA), tbuf_free(&bB), tbuf_free(&bC);
    free(A), free(B), free(C), free(got);
}
END_TEST

START_TEST(gemm_invalid_arguments) {
    lirf_ctx *ctx = tctx();
    double z[64] = {0};
    tbuf b = tbuf_new(z, 64);
    lirf_buf v = b.v;
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 4, 4, 4, 1, LIRF_NOBUF, 4, v, 4, 0, v, 4), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 4, 4, 4, 1, v, 4, LIRF_NOBUF, 4, 0, v, 4), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 4, 4, 4, 1, v, 4, v, 4, 0, LIRF_NOBUF, 4), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 0, 4, 4, 1, v, 4, v, 4, 0, v, 4), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 4, 4, 0, 1, v, 4, v, 4, 0, v, 4), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 4, 4, 4, 1, v, 3, v, 4, 0, v, 4), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm(ctx, 0, 0, 8, 9, 8, 1, v, 8, v, 9, 0, v, 9), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm(ctx, 1, 0, 4, 4, 17, 1, v, 4, v, 4, 0, v, 4), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_batched(ctx, 0, 0, 4, 4, 4, 1, v, 4, 16, v, 4, 16, 0, v, 4, 16, 0),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm_batched(ctx, 0, 0, 4, 4, 4, 1, v, 4, 16, v, 4, 16, 0, v, 4, 16, 5),
                     LIRF_E_SHAPE);
    tbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gemm_all_transposes);
    tcase_add_test(tc, gemm_batched_matches_loop);
    tcase_add_test(tc, gemm_invalid_arguments);
    suite_add_tcase(s, tc);
    return trun(s);
}
