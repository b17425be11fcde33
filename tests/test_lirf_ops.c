/* LIRF's column rule: merge and gradient split against the references, the
 * gradient by finite differences, invalid arguments. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

START_TEST(merge_and_split_match_reference) {
    static const int shapes[][2] = {{1, 10}, {7, 3}, {93, 10}, {128, 200}};
    trng r = {31};
    for (size_t s = 0; s < 4; s++) {
        int N = shapes[s][0], K = shapes[s][1];
        size_t n = (size_t)N * K;
        double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *g = malloc(n * sizeof *g);
        double *da = malloc(n * sizeof *da), *db = malloc(n * sizeof *db);
        double *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        int32_t *mask = malloc((size_t)K * sizeof *mask);
        trand_fill(&r, a, n, -3, 3), trand_fill(&r, b, n, -3, 3), trand_fill(&r, g, n, -1, 1);
        trand_fill(&r, da, n, -1, 1), trand_fill(&r, db, n, -1, 1);
        tround_f32(a, n), tround_f32(b, n), tround_f32(g, n), tround_f32(da, n), tround_f32(db, n);
        for (int k = 0; k < K; k++) mask[k] = (k % 3 == 0) || k == K - 1;
        tbuf ba = tbuf_new(a, n), bb = tbuf_new(b, n), bg = tbuf_new(g, n), bo = tbuf_zeros(n);
        tbuf bda = tbuf_new(da, n), bdb = tbuf_new(db, n), bm = tbuf_new_int(mask, (size_t)K);
        ref_merge_columns(want, a, b, mask, N, K);
        ck_assert_int_eq(lirf_merge_columns(tctx(), bo.v, ba.v, bb.v, bm.v, N, K), LIRF_OK);
        tbuf_get(&bo, got, n);
        ck_assert_close("merge_columns", got, want, n, 0, 0);
        ref_split_columns_acc(da, db, g, mask, N, K, -2.5);
        ck_assert_int_eq(lirf_split_columns_acc(tctx(), bda.v, bdb.v, bg.v, bm.v, N, K, -2.5f),
                         LIRF_OK);
        tbuf_get(&bda, got, n);
        ck_assert_close("split da", got, da, n, 1e-6, 1e-6);
        tbuf_get(&bdb, got, n);
        ck_assert_close("split db", got, db, n, 1e-6, 1e-6);
        /* db absent: da accumulates again, db untouched */
        ref_split_columns_acc(da, NULL, g, mask, N, K, 1.0);
        ck_assert_int_eq(lirf_split_columns_acc(tctx(), bda.v, LIRF_NOBUF, bg.v, bm.v, N, K, 1.0f),
                         LIRF_OK);
        tbuf_get(&bda, got, n);
        ck_assert_close("split da (no db)", got, da, n, 1e-6, 1e-6);
        tbuf_get(&bdb, got, n);
        ck_assert_close("split db untouched", got, db, n, 1e-6, 1e-6);
        ck_assert(tbuf_guards_ok(&bo) && tbuf_guards_ok(&bda) && tbuf_guards_ok(&bdb));
        tbuf_free(&ba), tbuf_free(&bb), tbuf_free(&bg), tbuf_free(&bo), tbuf_free(&bda);
        tbuf_free(&bdb), tbuf_free(&bm);
        free(a), free(b), free(g), free(da), free(db), free(want), free(got), free(mask);
    }
}
END_TEST

/* L = sum w * merge(a, b): dL/da and dL/db from split_columns_acc(g = w) vs
 * central differences. */
typedef struct { const double *b, *w; const int32_t *mask; int N, K; } fdctx;
static double merged_loss(void *p, const double *a) {
    fdctx *c = p;
    size_t n = (size_t)c->N * c->K;
    double *o = malloc(n * sizeof *o), L = 0;
    ref_merge_columns(o, a, c->b, c->mask, c->N, c->K);
    for (size_t i = 0; i < n; i++) L += c->w[i] * o[i];
    free(o);
    return L;
}

START_TEST(split_is_the_gradient_of_merge) {
    enum { N = 3, K = 5 };
    trng r = {32};
    double a[N * K], b[N * K], w[N * K], da[N * K] = {0}, db[N * K] = {0}, fd[N * K];
    int32_t mask[K] = {1, 0, 0, 1, 0};
    trand_fill(&r, a, N * K, -1, 1), trand_fill(&r, b, N * K, -1, 1), trand_fill(&r, w, N * K, -1, 1);
    ref_split_columns_acc(da, db, w, mask, N, K, 1.0);
    fdctx c = {b, w, mask, N, K};
    tfd_grad(merged_loss, &c, a, N * K, 1e-6, fd);
    ck_assert_close("d merge / d a", fd, da, N * K, 1e-8, 1e-7);
    for (int i = 0; i < N * K; i++) /* the b path gets exactly the deposit columns */
        ck_assert(db[i] == (mask[i % K] ? w[i] : 0));
}
END_TEST

START_TEST(invalid_arguments_rejected) {
    double z[20] = {0};
    int32_t m[10] = {0};
    tbuf b = tbuf_new(z, 20), bm = tbuf_new_int(m, 10);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_merge_columns(ctx, LIRF_NOBUF, b.v, b.v, bm.v, 2, 10), LIRF_E_NULL);
    ck_assert_int_eq(lirf_merge_columns(ctx, b.v, b.v, b.v, LIRF_NOBUF, 2, 10), LIRF_E_NULL);
    ck_assert_int_eq(lirf_merge_columns(ctx, b.v, b.v, b.v, bm.v, 0, 10), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_merge_columns(ctx, b.v, b.v, b.v, bm.v, 3, 10), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_split_columns_acc(ctx, b.v, b.v, b.v, bm.v, 2, 11, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_split_columns_acc(ctx, LIRF_NOBUF, b.v, b.v, bm.v, 2, 10, 1), LIRF_E_NULL);
    tbuf_free(&b), tbuf_free(&bm);
}
END_TEST

int main(void) {
    Suite *s = suite_create("lirf_ops");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, merge_and_split_match_reference);
    tcase_add_test(tc, split_is_the_gradient_of_merge);
    tcase_add_test(tc, invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
