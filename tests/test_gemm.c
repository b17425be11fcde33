/* GEMM through the runtime against ref_gemm, on both engines (CLBlast and
 * lirf's packed kernels): every transpose combination, awkward sizes, sizes
 * that take several K slices and both tile heights of the packed engine,
 * non-zero offsets and padded leading dimensions, alpha/beta, a B packed by
 * the caller (lirf_gemm_prepacked_b), the strided-batched form, and invalid
 * arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

typedef struct { size_t M, N, K; } mnk;
static const mnk SHAPES[] = {{1, 1, 1},      {7, 93, 13},  {64, 33, 129}, {93, 7, 1},
                             {128, 256, 72}, {16, 40, 9},  {40, 65, 2100}};
/* {16, ...}, {40, ...}: the packed engine's 8-row tiles; K 2100: three slices */

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

static void all_transposes(lirf_gemm_engine eng, uint64_t seed) {
    lirf_ctx *ctx = tctx();
    lirf_gemm_engine was = lirf_gemm_engine_get(ctx);
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, eng), LIRF_OK);
    trng r = {seed};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof SHAPES / sizeof SHAPES[0]; i++) {
                one_case(ta, tb, SHAPES[i], 0, 0, 1.0f, 0.0f, &r);
                one_case(ta, tb, SHAPES[i], 3, 5, -0.5f, 0.75f, &r);
            }
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, was), LIRF_OK);
}

START_TEST(gemm_all_transposes_clblast) { all_transposes(LIRF_GEMM_CLBLAST, 21); }
END_TEST

START_TEST(gemm_all_transposes_packed) { all_transposes(LIRF_GEMM_PACKED, 23); }
END_TEST

/* B packed by the caller in the documented layout, with NaN in the padding
 * columns (never read into C), K in several slices, beta 0 and not. */
static void prepacked_case(int ta, mnk s, float alpha, float beta, trng *r) {
    size_t lda = ta ? s.M : s.K, na = s.M * s.K, nc = s.M * s.N;
    size_t slice = lirf_gemm_packed_slice(s.K), np = lirf_gemm_packed_b_elems(s.N, 1);
    size_t npk = lirf_gemm_packed_b_elems(s.N, s.K);
    ck_assert(slice >= 1 && slice <= s.K && np % 32 == 0 && np >= s.N && npk == np * s.K);
    double *A = malloc(na * sizeof *A), *B = malloc(s.K * s.N * sizeof *B);
    double *C = malloc(nc * sizeof *C), *got = malloc(nc * sizeof *got);
    double *P = malloc(npk * sizeof *P);
    trand_fill(r, A, na, -1, 1), trand_fill(r, B, s.K * s.N, -1, 1), trand_fill(r, C, nc, -1, 1);
    tround_f32(A, na), tround_f32(B, s.K * s.N), tround_f32(C, nc);
    for (size_t i = 0; i < npk; i++) P[i] = NAN;
    for (size_t k = 0; k < s.K; k++)
        for (size_t n = 0; n < s.N; n++) {
            size_t k0 = k - k % slice, kc = s.K - k0 < slice ? s.K - k0 : slice;
            P[k0 * np + (n / 32) * kc * 32 + (k - k0) * 32 + n % 32] = B[k * s.N + n];
        }
    tbuf bA = tbuf_new(A, na), bP = tbuf_new(P, npk), bC = tbuf_new(C, nc);
    lirf_status st = lirf_gemm_prepacked_b(tctx(), ta, s.M, s.N, s.K, alpha, bA.v, lda, bP.v,
                                           beta, bC.v, s.N);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ref_gemm(ta, 0, s.M, s.N, s.K, alpha, A, lda, B, s.N, beta, C, s.N);
    tbuf_get(&bC, got, nc);
    char what[96];
    snprintf(what, sizeof what, "prepacked ta%d %zux%zux%zu", ta, s.M, s.N, s.K);
    ck_assert_close(what, got, C, nc, 1e-5 * (double)s.K, 1e-4);
    tbuf_free(&bA), tbuf_free(&bP), tbuf_free(&bC);
    free(A), free(B), free(C), free(got), free(P);
}

/* A packed once by lirf_gemm_pack_a (either transpose), then a product with
 * a plain B (lirf_gemm_prepacked_a, either transpose) and one with B packed
 * in the documented layout (lirf_gemm_prepacked_ab); both against ref_gemm. */
static void prepacked_a_case(int ta, int tb, mnk s, float alpha, float beta, trng *r) {
    size_t lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N, na = s.M * s.K, nb = s.K * s.N;
    size_t nc = s.M * s.N, npa = lirf_gemm_packed_a_elems(s.M, s.K);
    size_t slice = lirf_gemm_packed_slice(s.K), np = lirf_gemm_packed_b_elems(s.N, 1);
    size_t npb = lirf_gemm_packed_b_elems(s.N, s.K);
    ck_assert(npa >= na);
    double *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    double *want = malloc(nc * sizeof *want), *got = malloc(nc * sizeof *got);
    double *P = malloc(npb * sizeof *P);
    trand_fill(r, A, na, -1, 1), trand_fill(r, B, nb, -1, 1), trand_fill(r, C, nc, -1, 1);
    tround_f32(A, na), tround_f32(B, nb), tround_f32(C, nc);
    for (size_t i = 0; i < npb; i++) P[i] = 0;
    for (size_t k = 0; k < s.K; k++)
        for (size_t n = 0; n < s.N; n++) {
            size_t k0 = k - k % slice, kc = s.K - k0 < slice ? s.K - k0 : slice;
            P[k0 * np + (n / 32) * kc * 32 + (k - k0) * 32 + n % 32] =
                tb ? B[n * ldb + k] : B[k * ldb + n];
        }
    tbuf bA = tbuf_new(A, na), bB = tbuf_new(B, nb), bP = tbuf_new(P, npb), bAp = tbuf_zeros(npa);
    ck_assert_int_eq(lirf_gemm_pack_a(tctx(), ta, s.M, s.K, bA.v, lda, bAp.v), LIRF_OK);
    for (int packed_b = 0; packed_b < 2; packed_b++) {
        tbuf bC = tbuf_new(C, nc);
        lirf_status st =
            packed_b ? lirf_gemm_prepacked_ab(tctx(), s.M, s.N, s.K, alpha, bAp.v, bP.v, beta,
                                              bC.v, s.N)
                     : lirf_gemm_prepacked_a(tctx(), tb, s.M, s.N, s.K, alpha, bAp.v, bB.v, ldb,
                                             beta, bC.v, s.N);
        ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
        memcpy(want, C, nc * sizeof *want);
        ref_gemm(ta, tb, s.M, s.N, s.K, alpha, A, lda, B, ldb, beta, want, s.N);
        tbuf_get(&bC, got, nc);
        char what[96];
        snprintf(what, sizeof what, "prepacked A%s ta%d tb%d %zux%zux%zu", packed_b ? "B" : "", ta,
                 tb, s.M, s.N, s.K);
        ck_assert_close(what, got, want, nc, 1e-5 * (double)s.K, 1e-4);
        ck_assert(tbuf_guards_ok(&bC));
        tbuf_free(&bC);
    }
    ck_assert(tbuf_guards_ok(&bAp));
    tbuf_free(&bA), tbuf_free(&bB), tbuf_free(&bP), tbuf_free(&bAp);
    free(A), free(B), free(C), free(want), free(got), free(P);
}

START_TEST(gemm_prepacked_a) {
    trng r = {25};
    const mnk shapes[] = {{5, 7, 3}, {12, 64, 1030}, {16, 45, 2500}, {37, 33, 64}};
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++)
            for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
                prepacked_a_case(ta, tb, shapes[i], i % 2 ? 0.5f : 1.0f, i % 2 ? -1.25f : 0.0f, &r);
    /* refusals: a packed A too small, NULL */
    lirf_ctx *ctx = tctx();
    double z[64] = {0};
    tbuf b = tbuf_new(z, 64);
    ck_assert_int_eq(lirf_gemm_pack_a(ctx, 0, 12, 8, b.v, 8, b.v), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_pack_a(ctx, 0, 2, 2, LIRF_NOBUF, 2, b.v), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm_pack_a(ctx, 0, 0, 2, b.v, 2, b.v), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm_prepacked_a(ctx, 0, 12, 2, 8, 1, b.v, b.v, 2, 0, b.v, 2),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_prepacked_ab(ctx, 2, 2, 2, 1, LIRF_NOBUF, b.v, 0, b.v, 2),
                     LIRF_E_NULL);
    tbuf_free(&b);
}
END_TEST

START_TEST(gemm_prepacked_b) {
    trng r = {24};
    /* whichever engine is set: lirf_gemm_prepacked_b always runs the packed kernels;
     * {130, 40, 2100}: A is packed in two groups of two and one slices */
    const mnk shapes[] = {{5, 7, 3}, {12, 64, 1030}, {16, 45, 2500}, {37, 33, 64}, {130, 40, 2100}};
    for (int ta = 0; ta < 2; ta++)
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            prepacked_case(ta, shapes[i], 1.0f, 0.0f, &r);
            prepacked_case(ta, shapes[i], 0.5f, -1.25f, &r);
        }
    ck_assert_int_eq(lirf_gemm_packed_slice(0), 0);
    ck_assert_int_eq(lirf_gemm_packed_slice(1024), 1024);
    ck_assert_int_eq(lirf_gemm_packed_slice(1025), 520); /* two slices, a multiple of 8 */
}
END_TEST

/* lirf_gemm_packed_taps3 against ref_gemm with B3 written out: A packed on
 * the host in the documented one-slice layout (NaN beyond M: never read into
 * C), X random everywhere (the product does not assume zeros), alpha, beta,
 * a padded ldc, tiles of 8 and 12 rows, a partial last column tile; then
 * the refusals. */
static void taps3_case(size_t M, size_t N, size_t cin, size_t wp, float alpha, float beta,
                       trng *r) {
    int mr = lirf_gemm_packed_rows(M);
    size_t K = 9 * cin, mpad = (M + (size_t)mr - 1) / (size_t)mr * (size_t)mr;
    size_t cs = (N + 31) / 32 * 32 + 2 * wp + 2 + 3, ldc = N + 2, nc = M * ldc;
    double *A = malloc(M * K * sizeof *A), *Ap = malloc(mpad * K * sizeof *Ap);
    double *X = malloc(cin * cs * sizeof *X), *B = malloc(K * N * sizeof *B);
    double *C = malloc(nc * sizeof *C), *got = malloc(nc * sizeof *got);
    trand_fill(r, A, M * K, -1, 1), trand_fill(r, X, cin * cs, -1, 1), trand_fill(r, C, nc, -1, 1);
    tround_f32(A, M * K), tround_f32(X, cin * cs), tround_f32(C, nc);
    for (size_t m = 0; m < mpad; m++)
        for (size_t k = 0; k < K; k++)
            Ap[((m / (size_t)mr) * K + k) * (size_t)mr + m % (size_t)mr] = m < M ? A[m * K + k] : NAN;
    for (size_t c = 0; c < cin; c++)
        for (size_t t = 0; t < 9; t++)
            for (size_t n = 0; n < N; n++) B[(c * 9 + t) * N + n] = X[c * cs + n + t / 3 * wp + t % 3];
    tbuf bAp = tbuf_new(Ap, mpad * K), bX = tbuf_new(X, cin * cs), bC = tbuf_new(C, nc);
    lirf_status st = lirf_gemm_packed_taps3(tctx(), M, N, cin, alpha, bAp.v, bX.v, cs, wp, beta,
                                            bC.v, ldc);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ref_gemm(0, 0, M, N, K, alpha, A, K, B, N, beta, C, ldc);
    tbuf_get(&bC, got, nc);
    char what[96];
    snprintf(what, sizeof what, "taps3 %zux%zu cin %zu wp %zu (mr %d)", M, N, cin, wp, mr);
    ck_assert_close(what, got, C, nc, 1e-5 * (double)K, 1e-4);
    ck_assert(tbuf_guards_ok(&bC));
    /* refusals: a plane stride below what the last tile reads, X too small, zero sizes */
    ck_assert_int_eq(lirf_gemm_packed_taps3(tctx(), M, N, cin, alpha, bAp.v, bX.v,
                                            (N + 31) / 32 * 32 + 2 * wp + 1, wp, beta, bC.v, ldc),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_packed_taps3(tctx(), M, N, cin + 1, alpha, bAp.v, bX.v, cs, wp,
                                            beta, bC.v, ldc),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_packed_taps3(tctx(), M, 0, cin, alpha, bAp.v, bX.v, cs, wp, beta,
                                            bC.v, ldc),
                     LIRF_E_INVALID);
    tbuf_free(&bAp), tbuf_free(&bX), tbuf_free(&bC);
    free(A), free(Ap), free(X), free(B), free(C), free(got);
}

START_TEST(gemm_packed_taps3) {
    if (!lirf_device_pocl_cpu(lirf_ctx_device(tctx()))) {
        printf("SKIPPED: the taps kernels are built for PoCL CPU devices only\n");
        return;
    }
    trng r = {26};
    taps3_case(16, 100, 3, 11, 1.0f, 0.0f, &r);   /* 8-row tiles, a partial tile */
    taps3_case(24, 64, 2, 8, 0.5f, -1.25f, &r);   /* 12-row tiles, whole tiles */
    taps3_case(5, 37, 1, 30, 1.0f, 0.75f, &r);    /* one channel, rows longer than a tile */
    taps3_case(37, 200, 7, 16, -2.0f, 0.0f, &r);  /* 12-row tiles, M not a multiple */
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
    /* a packed B: too small for N rounded up to 32 times K, NULL, zero sizes */
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 0, 2, 3, 3, 1, v, 3, v, 0, v, 3), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 0, 2, 3, 2, 1, v, 2, LIRF_NOBUF, 0, v, 3),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 0, 2, 3, 2, 1, LIRF_NOBUF, 2, v, 0, v, 3),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 0, 0, 3, 2, 1, v, 2, v, 0, v, 3), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 0, 30, 3, 2, 1, v, 2, v, 0, v, 3), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_prepacked_b(ctx, 1, 2, 3, 2, 1, v, 1, v, 0, v, 3), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gemm_prepacked_b(NULL, 0, 2, 3, 2, 1, v, 2, v, 0, v, 3), LIRF_E_NULL);
    /* engines */
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, (lirf_gemm_engine)7), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gemm_engine_set(NULL, LIRF_GEMM_PACKED), LIRF_E_NULL);
    ck_assert_str_eq(lirf_gemm_engine_name(LIRF_GEMM_PACKED), "packed");
    ck_assert_str_eq(lirf_gemm_engine_name(LIRF_GEMM_CLBLAST), "clblast");
    tbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("gemm");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, gemm_all_transposes_clblast);
    tcase_add_test(tc, gemm_all_transposes_packed);
    tcase_add_test(tc, gemm_prepacked_b);
    tcase_add_test(tc, gemm_prepacked_a);
    tcase_add_test(tc, gemm_packed_taps3);
    tcase_add_test(tc, gemm_batched_matches_loop);
    tcase_add_test(tc, gemm_invalid_arguments);
    suite_add_tcase(s, tc);
    return trun(s);
}
