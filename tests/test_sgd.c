/* The ops of cl_kernels/optim.cl. SGD step (lirf_sgd_step) against
 * ref_sgd_step over several steps, a hand-computed two-step example, momentum
 * 0 not reading v, and invalid arguments. EWC / MAS's quadratic penalty and
 * importance accumulation against their references (guards, offsets, sizes
 * around the work-group), the penalty's gradient against finite differences
 * of its loss, a worked example, and invalid arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- EWC / MAS penalty and importance ---- */
static void penalty_check(size_t n, uint64_t seed) {
    trng r = {seed};
    double *w = malloc(n * sizeof *w), *a = malloc(n * sizeof *a), *imp = malloc(n * sizeof *imp);
    double *g0 = malloc(n * sizeof *g0), *want = malloc(n * sizeof *want);
    double *got = malloc(n * sizeof *got);
    trand_fill(&r, w, n, -1, 1), trand_fill(&r, a, n, -1, 1), trand_fill(&r, imp, n, 0, 2);
    trand_fill(&r, g0, n, -1, 1);
    round_to_float(w, n), round_to_float(a, n), round_to_float(imp, n), round_to_float(g0, n);
    tbuf bw = tbuf_new(w, n), ba = tbuf_new(a, n), bi = tbuf_new(imp, n), bl = tbuf_zeros(1);
    tbuf bg = tbuf_new(g0, n);
    double loss = ref_quad_penalty(w, a, imp, n), got_loss;
    ck_assert_int_eq(lirf_quad_penalty_forward(tctx(), bl.v, bw.v, ba.v, bi.v, n), LIRF_OK);
    tbuf_get(&bl, &got_loss, 1);
    ck_assert_close("quad_penalty_forward", &got_loss, &loss, 1, 1e-9, 1e-5);
    memcpy(want, g0, n * sizeof *want);
    ref_quad_penalty_backward(want, w, a, imp, n, 3.5);
    ck_assert_int_eq(lirf_quad_penalty_backward(tctx(), bg.v, bw.v, ba.v, bi.v, n, 3.5f), LIRF_OK);
    tbuf_get(&bg, got, n);
    ck_assert_close("quad_penalty_backward (accumulated)", got, want, n, 1e-6, 1e-6);
    for (int power = 1; power <= 2; power++) { /* imp += 0.25 * g^p, g: w */
        memcpy(want, imp, n * sizeof *want);
        ref_importance_acc(want, w, n, 0.25, power);
        tbuf acc = tbuf_new(imp, n);
        ck_assert_int_eq(lirf_importance_acc(tctx(), acc.v, bw.v, n, 0.25f, power), LIRF_OK);
        tbuf_get(&acc, got, n);
        ck_assert_close(power == 2 ? "importance_acc (squares)" : "importance_acc (abs)", got,
                        want, n, 1e-7, 1e-6);
        ck_assert(tbuf_guards_ok(&acc));
        tbuf_free(&acc);
    }
    ck_assert(tbuf_guards_ok(&bw) && tbuf_guards_ok(&ba) && tbuf_guards_ok(&bi) &&
              tbuf_guards_ok(&bl) && tbuf_guards_ok(&bg));
    tbuf_free(&bw), tbuf_free(&ba), tbuf_free(&bi), tbuf_free(&bl), tbuf_free(&bg);
    free(w), free(a), free(imp), free(g0), free(want), free(got);
}

START_TEST(penalty_matches_reference) {
    size_t sizes[] = {1, 7, 255, 256, 257, 4099, 701178 /* ResNet-18 at width 16 */};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) penalty_check(sizes[i], 400 + i);
}
END_TEST

typedef struct { const double *a, *imp; size_t n; } penalty_fd;
static double penalty_fd_loss(void *p, const double *w) {
    penalty_fd *c = p;
    return ref_quad_penalty(w, c->a, c->imp, c->n);
}

/* The reference gradient (lambda 1) against finite differences of the
 * reference loss; the device ops match the references above. */
START_TEST(penalty_gradient_finite_differences) {
    for (size_t n = 1; n <= 40; n += 13) {
        trng r = {90 + n};
        double *w = malloc(n * sizeof *w), *a = malloc(n * sizeof *a);
        double *imp = malloc(n * sizeof *imp), *g = calloc(n, sizeof *g);
        double *fd = malloc(n * sizeof *fd);
        trand_fill(&r, w, n, -2, 2), trand_fill(&r, a, n, -2, 2), trand_fill(&r, imp, n, 0, 3);
        penalty_fd c = {a, imp, n};
        ref_quad_penalty_backward(g, w, a, imp, n, 1.0);
        tfd_grad(penalty_fd_loss, &c, w, n, 1e-6, fd);
        for (size_t i = 0; i < n; i++)
            ck_assert_msg(fabs(g[i] - fd[i]) <= 1e-8 + 1e-6 * fabs(fd[i]),
                          "penalty grad [%zu] of %zu: %.9g vs fd %.9g", i, n, g[i], fd[i]);
        free(w), free(a), free(imp), free(g), free(fd);
    }
}
END_TEST

/* By hand: w (1, -1, 2), anchor (0, 1, 2), importance (2, 0.5, 9):
 * loss 0.5 (2*1 + 0.5*4 + 0) = 2; lambda 10 on g 0: (20, -10, 0);
 * importance (0,0,0) + 1 * g^2 of g (3, -4, 0.5): (9, 16, 0.25), |g|: (3, 4, 0.5). */
START_TEST(penalty_by_hand) {
    double w[3] = {1, -1, 2}, a[3] = {0, 1, 2}, imp[3] = {2, 0.5, 9}, g[3] = {3, -4, 0.5};
    double want_g[3] = {20, -10, 0}, want_sq[3] = {9, 16, 0.25}, want_abs[3] = {3, 4, 0.5};
    double got[3], loss, two = 2;
    tbuf bw = tbuf_new(w, 3), ba = tbuf_new(a, 3), bi = tbuf_new(imp, 3), bl = tbuf_zeros(1);
    tbuf bg = tbuf_zeros(3), bs = tbuf_zeros(3), bb = tbuf_zeros(3), bx = tbuf_new(g, 3);
    ck_assert_int_eq(lirf_quad_penalty_forward(tctx(), bl.v, bw.v, ba.v, bi.v, 3), LIRF_OK);
    tbuf_get(&bl, &loss, 1);
    ck_assert_close("penalty by hand", &loss, &two, 1, 0, 0);
    ck_assert_int_eq(lirf_quad_penalty_backward(tctx(), bg.v, bw.v, ba.v, bi.v, 3, 10), LIRF_OK);
    tbuf_get(&bg, got, 3);
    ck_assert_close("penalty gradient by hand", got, want_g, 3, 0, 0);
    ck_assert_int_eq(lirf_importance_acc(tctx(), bs.v, bx.v, 3, 1, 2), LIRF_OK);
    tbuf_get(&bs, got, 3);
    ck_assert_close("Fisher by hand", got, want_sq, 3, 0, 0);
    ck_assert_int_eq(lirf_importance_acc(tctx(), bb.v, bx.v, 3, 1, 1), LIRF_OK);
    tbuf_get(&bb, got, 3);
    ck_assert_close("MAS importance by hand", got, want_abs, 3, 0, 0);
    tbuf_free(&bw), tbuf_free(&ba), tbuf_free(&bi), tbuf_free(&bl);
    tbuf_free(&bg), tbuf_free(&bs), tbuf_free(&bb), tbuf_free(&bx);
}
END_TEST

START_TEST(penalty_invalid_arguments_rejected) {
    double x[8] = {0};
    tbuf a = tbuf_new(x, 8), b = tbuf_new(x, 8), c = tbuf_new(x, 8), l = tbuf_zeros(1);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_quad_penalty_forward(ctx, LIRF_NOBUF, a.v, b.v, c.v, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_quad_penalty_forward(ctx, l.v, a.v, b.v, LIRF_NOBUF, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_quad_penalty_forward(ctx, l.v, a.v, b.v, c.v, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_quad_penalty_forward(ctx, l.v, a.v, b.v, c.v, 9), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_quad_penalty_backward(ctx, l.v, a.v, b.v, c.v, 8, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_quad_penalty_backward(ctx, a.v, a.v, b.v, c.v, 8, NAN), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_importance_acc(ctx, a.v, b.v, 8, 1, 3), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_importance_acc(ctx, a.v, b.v, 8, -1, 2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_importance_acc(ctx, a.v, l.v, 8, 1, 2), LIRF_E_SHAPE);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&a), tbuf_free(&b), tbuf_free(&c), tbuf_free(&l);
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
    tcase_add_test(tc, penalty_matches_reference);
    tcase_add_test(tc, penalty_gradient_finite_differences);
    tcase_add_test(tc, penalty_by_hand);
    tcase_add_test(tc, penalty_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
