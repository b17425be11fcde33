/* SGD step (lirf_sgd_step) against ref_sgd_step over several steps, a
 * hand-computed two-step example, momentum 0 not reading v, and invalid
 * arguments. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

static const size_t SIZES[] = {1, 7, 93, 4099, 1 << 20};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

static void round_to_float(double *x, size_t n) {
    tround_f32(x, n); /* out of line: GCC 12.2 -O3 skips the tail of this loop when
                         it is inlined with a constant n (docs/portability.md) */
}

/* Several steps with fresh gradients each step, v starting non-zero, on a
 * view at a non-zero offset (tbuf guards), against the double reference. */
static void run_steps(size_t n, float lr, float momentum, float wd, int steps, uint64_t seed) {
    trng r = {seed};
    double *w = malloc(n * sizeof *w), *v = malloc(n * sizeof *v), *g = malloc(n * sizeof *g);
    double *got = malloc(n * sizeof *got);
    trand_fill(&r, w, n, -1, 1);
    trand_fill(&r, v, n, -0.1, 0.1);
    round_to_float(w, n);
    round_to_float(v, n);
    tbuf bw = tbuf_new(w, n), bv = tbuf_new(v, n), bg = tbuf_zeros(n);
    for (int s = 0; s < steps; s++) {
        trand_fill(&r, g, n, -1, 1);
        round_to_float(g, n);
        float *gf = malloc(n * sizeof *gf);
        for (size_t i = 0; i < n; i++) gf[i] = (float)g[i];
        ck_assert_int_eq(lirf_buf_write(tctx(), bg.v, gf, n), LIRF_OK);
        free(gf);
        ck_assert_int_eq(lirf_sgd_step(tctx(), bw.v, bv.v, bg.v, n, lr, momentum, wd), LIRF_OK);
        ref_sgd_step(w, v, g, n, lr, momentum, wd);
    }
    /* each step adds ~1 float rounding of magnitude |w| ~ 1 */
    double tol = 4e-7 * steps;
    tbuf_get(&bw, got, n);
    ck_assert_close("sgd w", got, w, n, tol, 1e-6);
    tbuf_get(&bv, got, n);
    ck_assert_close("sgd v", got, v, n, tol, 1e-6);
    ck_assert(tbuf_guards_ok(&bw) && tbuf_guards_ok(&bv) && tbuf_guards_ok(&bg));
    tbuf_free(&bw), tbuf_free(&bv), tbuf_free(&bg);
    free(w), free(v), free(g), free(got);
}

START_TEST(sgd_matches_reference) {
    for (size_t s = 0; s < NSIZES; s++) {
        run_steps(SIZES[s], 0.01f, 0.9f, 5e-4f, 5, 100 + s);
        run_steps(SIZES[s], 0.1f, 0.0f, 0.0f, 3, 200 + s);  /* plain SGD */
        run_steps(SIZES[s], 0.05f, 0.5f, 0.1f, 4, 300 + s); /* strong decay */
    }
}
END_TEST

/* Worked by hand: lr 0.1, momentum 0.9, wd 0.01, v starting at 0, the same
 * gradient twice.
 *   w = 1,  g = 0.5: g' = 0.51, v = 0.51, w = 0.949;
 *                    g' = 0.50949, v = 0.9*0.51 + 0.50949 = 0.96849, w = 0.852151.
 *   w = -2, g = 1:   g' = 0.98, v = 0.98, w = -2.098;
 *                    g' = 0.97902, v = 1.86102, w = -2.284102.
 *   w = 0,  g = 0:   stays 0. */
START_TEST(sgd_two_steps_by_hand) {
    double w0[3] = {1, -2, 0}, v0[3] = {0, 0, 0}, g[3] = {0.5, 1, 0};
    double w1[3] = {0.949, -2.098, 0}, v1[3] = {0.51, 0.98, 0};
    double w2[3] = {0.852151, -2.284102, 0}, v2[3] = {0.96849, 1.86102, 0};
    double got[3];
    tbuf bw = tbuf_new(w0, 3), bv = tbuf_new(v0, 3), bg = tbuf_new(g, 3);
    ck_assert_int_eq(lirf_sgd_step(tctx(), bw.v, bv.v, bg.v, 3, 0.1f, 0.9f, 0.01f), LIRF_OK);
    tbuf_get(&bw, got, 3);
    ck_assert_close("w after 1 step", got, w1, 3, 1e-6, 1e-6);
    tbuf_get(&bv, got, 3);
    ck_assert_close("v after 1 step", got, v1, 3, 1e-6, 1e-6);
    ck_assert_int_eq(lirf_sgd_step(tctx(), bw.v, bv.v, bg.v, 3, 0.1f, 0.9f, 0.01f), LIRF_OK);
    tbuf_get(&bw, got, 3);
    ck_assert_close("w after 2 steps", got, w2, 3, 1e-6, 1e-6);
    tbuf_get(&bv, got, 3);
    ck_assert_close("v after 2 steps", got, v2, 3, 1e-6, 1e-6);

    /* the reference agrees with the hand computation too */
    double rw[3] = {1, -2, 0}, rv[3] = {0, 0, 0};
    ref_sgd_step(rw, rv, g, 3, 0.1, 0.9, 0.01);
    ref_sgd_step(rw, rv, g, 3, 0.1, 0.9, 0.01);
    ck_assert_close("ref w after 2 steps", rw, w2, 3, 1e-12, 1e-12);
    ck_assert_close("ref v after 2 steps", rv, v2, 3, 1e-12, 1e-12);
    tbuf_free(&bw), tbuf_free(&bv), tbuf_free(&bg);
}
END_TEST

/* With momentum 0 the old v is not read: NaN in v must not reach w. */
START_TEST(sgd_momentum_zero_ignores_v) {
    enum { N = 5 };
    double w[N] = {1, 2, 3, 4, 5}, v[N], g[N] = {1, 1, 1, 1, 1}, got[N], want[N];
    for (int i = 0; i < N; i++) v[i] = NAN;
    tbuf bw = tbuf_new(w, N), bv = tbuf_new(v, N), bg = tbuf_new(g, N);
    ck_assert_int_eq(lirf_sgd_step(tctx(), bw.v, bv.v, bg.v, N, 0.5f, 0.0f, 0.0f), LIRF_OK);
    for (int i = 0; i < N; i++) want[i] = w[i] - 0.5;
    tbuf_get(&bw, got, N);
    ck_assert_close("w, momentum 0", got, want, N, 0, 0);
    tbuf_get(&bv, got, N);
    ck_assert_close("v, momentum 0", got, g, N, 0, 0);
    tbuf_free(&bw), tbuf_free(&bv), tbuf_free(&bg);
}
END_TEST

START_TEST(sgd_invalid_arguments_rejected) {
    double x[8] = {0};
    tbuf b = tbuf_new(x, 8), c = tbuf_new(x, 8), d = tbuf_new(x, 8);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_sgd_step(ctx, LIRF_NOBUF, c.v, d.v, 8, 0.1f, 0.9f, 0), LIRF_E_NULL);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, LIRF_NOBUF, d.v, 8, 0.1f, 0.9f, 0), LIRF_E_NULL);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, LIRF_NOBUF, 8, 0.1f, 0.9f, 0), LIRF_E_NULL);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 0, 0.1f, 0.9f, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 9, 0.1f, 0.9f, 0), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 8, -0.1f, 0.9f, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 8, NAN, 0.9f, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 8, 0.1f, -0.5f, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_sgd_step(ctx, b.v, c.v, d.v, 8, 0.1f, 0.9f, INFINITY), LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    /* nothing was written by the rejected calls */
    double got[8];
    tbuf_get(&b, got, 8);
    ck_assert_close("w untouched", got, x, 8, 0, 0);
    tbuf_free(&b), tbuf_free(&c), tbuf_free(&d);
}
END_TEST

int main(void) {
    Suite *s = suite_create("sgd");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, sgd_matches_reference);
    tcase_add_test(tc, sgd_two_steps_by_hand);
    tcase_add_test(tc, sgd_momentum_zero_ignores_v);
    tcase_add_test(tc, sgd_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
