/* Attention transfer: the map, the loss and its gradient against the double
 * references on awkward and ResNet-sized shapes, with and without the eps
 * filter; the reference gradient by central finite differences; accumulation;
 * an all-zero sample; determinism; invalid arguments. The feature-matching
 * MSE likewise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

typedef struct { int N, C, HW; } shape;
static const shape SHAPES[] = {{1, 1, 1}, {1, 3, 7}, {2, 5, 93}, {3, 17, 49}, {5, 2, 300},
                               {32, 128, 256} /* layer2 of ResNet-18 on 32x32, batch 32 */};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Features with a per-(sample, position) scale, so that the normalised map
 * spreads from 0 (some positions exactly 0) up, and a filter at eps bites;
 * rounded to float so that host and device see the same numbers. */
static double *make_features(trng *r, int N, int C, int HW) {
    double *F = malloc((size_t)N * C * HW * sizeof *F);
    for (int n = 0; n < N; n++) {
        for (int p = 0; p < HW; p++) {
            double s = trng_uniform(r, 0, 1);
            if (HW > 1 && trng_uniform(r, 0, 1) < 0.1) s = 0;
            s *= s;
            for (int c = 0; c < C; c++)
                F[((size_t)n * C + c) * HW + p] = (float)(s * trng_uniform(r, -2, 2));
        }
    }
    return F;
}

/* Smallest distance from eps to any map entry of F1 or F2. */
static double eps_gap(const double *F1, const double *F2, int N, int C, int HW, double eps) {
    size_t m = (size_t)N * HW;
    double *a = malloc(2 * m * sizeof *a), gap = INFINITY;
    ref_at_map(a, F1, N, C, HW);
    ref_at_map(a + m, F2, N, C, HW);
    for (size_t i = 0; i < 2 * m; i++) gap = fmin(gap, fabs(a[i] - eps));
    free(a);
    return gap;
}

/* An eps near `target` with no map entry within 1e-6 of it (float and double
 * maps must filter the same entries). */
static double clear_eps(const double *F1, const double *F2, int N, int C, int HW, double target) {
    double eps = target;
    while (eps_gap(F1, F2, N, C, HW, eps) < 1e-6) eps += 3e-6;
    return (float)eps;
}

/* Fraction of map entries (of F1) that the filter at eps zeroes. */
static double filtered_fraction(const double *F, int N, int C, int HW, double eps) {
    size_t m = (size_t)N * HW, k = 0;
    double *a = malloc(m * sizeof *a);
    ref_at_map(a, F, N, C, HW);
    for (size_t i = 0; i < m; i++) k += a[i] < eps;
    free(a);
    return (double)k / (double)m;
}

static double max_abs(const double *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

START_TEST(at_map_matches_reference) {
    trng r = {21};
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        size_t m = (size_t)N * HW, t = m * C;
        double *F = make_features(&r, N, C, HW);
        double *want = malloc(m * sizeof *want), *got = malloc(m * sizeof *got);
        ref_at_map(want, F, N, C, HW);
        /* the reference map has unit norm per sample (unless all zero) */
        for (int n = 0; n < N; n++) {
            double ss = 0;
            for (int p = 0; p < HW; p++) ss += want[(size_t)n * HW + p] * want[(size_t)n * HW + p];
            ck_assert_msg(fabs(ss - 1) < 1e-12, "ref map norm^2 %g", ss);
        }
        tbuf bF = tbuf_new(F, t), ba = tbuf_zeros(m);
        ck_assert_int_eq(lirf_at_map(tctx(), ba.v, bF.v, N, C, HW), LIRF_OK);
        tbuf_get(&ba, got, m);
        ck_assert_close("at_map", got, want, m, 1e-7, 1e-5);
        ck_assert(tbuf_guards_ok(&ba) && tbuf_guards_ok(&bF));
        tbuf_free(&bF), tbuf_free(&ba);
        free(F), free(want), free(got);
    }
}
END_TEST

/* loss and backward of the device against the reference, for eps = 0 and an
 * eps that filters a good share of the entries. */
static void check_loss_and_grad(int N, int C, int HW, double eps_target, uint64_t seed) {
    trng r = {seed};
    size_t t = (size_t)N * C * HW;
    double *F1 = make_features(&r, N, C, HW), *F2 = make_features(&r, N, C, HW);
    double eps = eps_target > 0 ? clear_eps(F1, F2, N, C, HW, eps_target) : 0;
    if (eps > 0 && HW > 8) {
        double fr = filtered_fraction(F1, N, C, HW, eps);
        ck_assert_msg(fr > 0.05 && fr < 0.95, "eps %g filters %g of the entries", eps, fr);
    }
    double loss, got_loss;
    ref_at_loss_forward(&loss, F1, F2, N, C, HW, eps);
    ck_assert(loss > 0 || (N == 1 && HW == 1));

    tbuf b1 = tbuf_new(F1, t), b2 = tbuf_new(F2, t), bl = tbuf_zeros(1);
    ck_assert_int_eq(lirf_at_loss_forward(tctx(), bl.v, b1.v, b2.v, N, C, HW, (float)eps),
                     LIRF_OK);
    tbuf_get(&bl, &got_loss, 1);
    ck_assert_close("at_loss_forward", &got_loss, &loss, 1, 1e-9, 1e-4);

    /* accumulate onto a non-zero gradient, with the scale of a maximised term */
    const double scale = -100;
    double *d0 = malloc(t * sizeof *d0), *want = malloc(t * sizeof *want);
    double *got = malloc(t * sizeof *got), *dref = calloc(t, sizeof *dref);
    trand_fill(&r, d0, t, -1e-3, 1e-3);
    for (size_t i = 0; i < t; i++) d0[i] = (float)d0[i];
    ref_at_loss_backward(dref, F1, F2, N, C, HW, eps, scale);
    double gmax = max_abs(dref, t);
    ck_assert(gmax > 0 || (N == 1 && HW == 1));
    for (size_t i = 0; i < t; i++) want[i] = d0[i] + dref[i];
    tbuf bd = tbuf_new(d0, t);
    ck_assert_int_eq(
        lirf_at_loss_backward(tctx(), bd.v, b1.v, b2.v, N, C, HW, (float)eps, (float)scale),
        LIRF_OK);
    tbuf_get(&bd, got, t);
    /* float maps and norms: relative error ~1e-6 of the largest gradient */
    ck_assert_close("at_loss_backward", got, want, t, 1e-9 + 2e-5 * gmax, 1e-4);
    ck_assert(tbuf_guards_ok(&bd) && tbuf_guards_ok(&bl) && tbuf_guards_ok(&b1));
    tbuf_free(&b1), tbuf_free(&b2), tbuf_free(&bl), tbuf_free(&bd);
    free(F1), free(F2), free(d0), free(want), free(got), free(dref);
}

START_TEST(at_loss_matches_reference) {
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        check_loss_and_grad(N, C, HW, 0, 30 + s);
        /* a filter that removes entries below ~0.7 of the uniform map's value */
        check_loss_and_grad(N, C, HW, 0.7 / sqrt((double)HW), 40 + s);
        check_loss_and_grad(N, C, HW, 0.005, 50 + s); /* docs/method.md default */
    }
}
END_TEST

/* Central differences of the reference loss wrt F1 against the reference
 * backward (scale 1, from zero). Entries of a sample whose map has a value
 * within 1e-5 of eps are skipped: the filter jumps there. */
typedef struct { const double *F2; int N, C, HW; double eps; } at_fd;
static double at_fd_loss(void *p, const double *F1) {
    at_fd *c = p;
    double L;
    ref_at_loss_forward(&L, F1, c->F2, c->N, c->C, c->HW, c->eps);
    return L;
}

static void fd_check(int N, int C, int HW, double eps, uint64_t seed) {
    trng r = {seed};
    size_t t = (size_t)N * C * HW, m = (size_t)N * HW;
    double *F1 = make_features(&r, N, C, HW), *F2 = make_features(&r, N, C, HW);
    double *g = calloc(t, sizeof *g), *fd = malloc(t * sizeof *fd), *a = malloc(m * sizeof *a);
    at_fd c = {F2, N, C, HW, eps};
    ref_at_loss_backward(g, F1, F2, N, C, HW, eps, 1.0);
    tfd_grad(at_fd_loss, &c, F1, t, 1e-6, fd);
    ref_at_map(a, F1, N, C, HW);
    double gmax = max_abs(g, t);
    ck_assert(gmax > 0 || HW == 1); /* one position: both maps are 1 */
    size_t checked = 0;
    for (int n = 0; n < N; n++) {
        int near = 0;
        for (int p = 0; p < HW; p++) near |= eps > 0 && fabs(a[(size_t)n * HW + p] - eps) < 1e-5;
        if (near) continue;
        for (size_t i = (size_t)n * C * HW; i < (size_t)(n + 1) * C * HW; i++) {
            ck_assert_msg(fabs(g[i] - fd[i]) <= 1e-12 + 1e-6 * gmax + 1e-4 * fabs(fd[i]),
                          "at grad [%zu] (N %d C %d HW %d eps %g): %.9g vs fd %.9g", i, N, C, HW,
                          eps, g[i], fd[i]);
            checked++;
        }
    }
    ck_assert_msg(checked >= t / 2, "only %zu of %zu entries checked", checked, t);
    free(F1), free(F2), free(g), free(fd), free(a);
}

START_TEST(at_gradient_finite_differences) {
    fd_check(1, 1, 1, 0, 61);
    fd_check(1, 3, 7, 0, 62);
    fd_check(2, 4, 13, 0, 63);
    fd_check(3, 5, 29, 0, 64);
    fd_check(2, 4, 13, 0.2, 65);
    fd_check(3, 5, 29, 0.12, 66);
    /* the filter is active in the last two */
    trng r = {66};
    double *F = make_features(&r, 3, 5, 29);
    double fr = filtered_fraction(F, 3, 5, 29, 0.12);
    ck_assert_msg(fr > 0.1 && fr < 0.9, "filtered fraction %g", fr);
    free(F);
}
END_TEST

/* A sample whose features are all zero: map 0, finite loss, zero gradient
 * for that sample; other samples unaffected. */
START_TEST(at_zero_sample) {
    enum { N = 3, C = 4, HW = 10 };
    size_t t = (size_t)N * C * HW;
    trng r = {70};
    double *F1 = make_features(&r, N, C, HW), *F2 = make_features(&r, N, C, HW);
    for (size_t i = C * HW; i < 2 * C * HW; i++) F1[i] = 0; /* sample 1 */
    double a[N * HW], got[N * HW], loss, got_loss;
    ref_at_map(a, F1, N, C, HW);
    for (int p = 0; p < HW; p++) ck_assert(a[HW + p] == 0);
    tbuf b1 = tbuf_new(F1, t), b2 = tbuf_new(F2, t), ba = tbuf_zeros(N * HW), bl = tbuf_zeros(1);
    ck_assert_int_eq(lirf_at_map(tctx(), ba.v, b1.v, N, C, HW), LIRF_OK);
    tbuf_get(&ba, got, N * HW);
    ck_assert_close("at_map with a zero sample", got, a, N * HW, 1e-7, 1e-5);
    ref_at_loss_forward(&loss, F1, F2, N, C, HW, 0.01);
    ck_assert(isfinite(loss));
    ck_assert_int_eq(lirf_at_loss_forward(tctx(), bl.v, b1.v, b2.v, N, C, HW, 0.01f), LIRF_OK);
    tbuf_get(&bl, &got_loss, 1);
    ck_assert_close("at_loss with a zero sample", &got_loss, &loss, 1, 1e-9, 1e-4);
    double *want = calloc(t, sizeof *want), *gd = malloc(t * sizeof *gd);
    ref_at_loss_backward(want, F1, F2, N, C, HW, 0.01, 2.0);
    tbuf bd = tbuf_zeros(t);
    ck_assert_int_eq(lirf_at_loss_backward(tctx(), bd.v, b1.v, b2.v, N, C, HW, 0.01f, 2.0f),
                     LIRF_OK);
    tbuf_get(&bd, gd, t);
    for (size_t i = C * HW; i < 2 * C * HW; i++) ck_assert(want[i] == 0 && gd[i] == 0);
    ck_assert_close("at backward with a zero sample", gd, want, t, 1e-6 * max_abs(want, t), 1e-4);
    tbuf_free(&b1), tbuf_free(&b2), tbuf_free(&ba), tbuf_free(&bl), tbuf_free(&bd);
    free(F1), free(F2), free(want), free(gd);
}
END_TEST

/* Equal inputs: loss 0 and no gradient; device results bit-identical when run
 * twice (fixed reduction trees). */
START_TEST(at_equal_inputs_and_determinism) {
    enum { N = 4, C = 16, HW = 64 };
    size_t t = (size_t)N * C * HW;
    trng r = {80};
    double *F1 = make_features(&r, N, C, HW), *F2 = make_features(&r, N, C, HW);
    double *g1 = malloc(t * sizeof *g1), *g2 = malloc(t * sizeof *g2), l1, l2;
    tbuf b1 = tbuf_new(F1, t), b2 = tbuf_new(F2, t), bl = tbuf_zeros(1), bd = tbuf_zeros(t);
    ck_assert_int_eq(lirf_at_loss_forward(tctx(), bl.v, b1.v, b1.v, N, C, HW, 0.005f), LIRF_OK);
    tbuf_get(&bl, &l1, 1);
    ck_assert(l1 == 0);
    ck_assert_int_eq(lirf_at_loss_backward(tctx(), bd.v, b1.v, b1.v, N, C, HW, 0.005f, 1.0f),
                     LIRF_OK);
    tbuf_get(&bd, g1, t);
    ck_assert(max_abs(g1, t) == 0);

    ck_assert_int_eq(lirf_at_loss_forward(tctx(), bl.v, b1.v, b2.v, N, C, HW, 0.005f), LIRF_OK);
    tbuf_get(&bl, &l1, 1);
    ck_assert_int_eq(lirf_at_loss_forward(tctx(), bl.v, b1.v, b2.v, N, C, HW, 0.005f), LIRF_OK);
    tbuf_get(&bl, &l2, 1);
    ck_assert(l1 == l2 && l1 > 0);
    for (int k = 0; k < 2; k++) {
        ck_assert_int_eq(lirf_buf_fill(tctx(), bd.v, 0.0f), LIRF_OK);
        ck_assert_int_eq(lirf_at_loss_backward(tctx(), bd.v, b1.v, b2.v, N, C, HW, 0.005f, 1.0f),
                         LIRF_OK);
        tbuf_get(&bd, k ? g2 : g1, t);
    }
    ck_assert(memcmp(g1, g2, t * sizeof *g1) == 0);
    tbuf_free(&b1), tbuf_free(&b2), tbuf_free(&bl), tbuf_free(&bd);
    free(F1), free(F2), free(g1), free(g2);
}
END_TEST

START_TEST(at_invalid_arguments_rejected) {
    double x[24] = {0};
    tbuf F = tbuf_new(x, 24), G = tbuf_new(x, 24), a = tbuf_zeros(8), a7 = tbuf_zeros(7);
    tbuf l = tbuf_zeros(1);
    lirf_ctx *ctx = tctx();
    /* N 2, C 3, HW 4 fits F exactly */
    ck_assert_int_eq(lirf_at_map(ctx, LIRF_NOBUF, F.v, 2, 3, 4), LIRF_E_NULL);
    ck_assert_int_eq(lirf_at_map(ctx, a.v, LIRF_NOBUF, 2, 3, 4), LIRF_E_NULL);
    ck_assert_int_eq(lirf_at_map(ctx, a.v, F.v, 0, 3, 4), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_map(ctx, a.v, F.v, 2, -3, 4), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_map(ctx, a.v, F.v, 2, 3, 5), LIRF_E_SHAPE); /* F too small */
    ck_assert_int_eq(lirf_at_map(ctx, a7.v, F.v, 2, 3, 4), LIRF_E_SHAPE); /* a too small */
    ck_assert_int_eq(lirf_at_loss_forward(ctx, LIRF_NOBUF, F.v, G.v, 2, 3, 4, 0), LIRF_E_NULL);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, LIRF_NOBUF, 2, 3, 4, 0), LIRF_E_NULL);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, G.v, 2, 3, 0, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, G.v, 2, 3, 4, -0.1f), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, G.v, 2, 3, 4, NAN), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, G.v, 3, 3, 4, 0), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_at_loss_backward(ctx, LIRF_NOBUF, F.v, G.v, 2, 3, 4, 0, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_at_loss_backward(ctx, a.v, F.v, G.v, 2, 3, 4, 0, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_at_loss_forward(ctx, l.v, F.v, a.v, 2, 3, 4, 0), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_at_loss_backward(ctx, G.v, F.v, G.v, 2, 3, 4, INFINITY, 1),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_at_loss_backward(ctx, G.v, F.v, G.v, 0, 3, 4, 0, 1), LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&F), tbuf_free(&G), tbuf_free(&a), tbuf_free(&a7), tbuf_free(&l);
}
END_TEST

/* ---- feature matching (MSE) ---- */
static void mse_check(size_t m, uint64_t seed) {
    trng r = {seed};
    double *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b), *d0 = malloc(m * sizeof *d0);
    double *want = malloc(m * sizeof *want), *got = malloc(m * sizeof *got);
    trand_fill(&r, a, m, -3, 3), trand_fill(&r, b, m, -3, 3), trand_fill(&r, d0, m, -1, 1);
    for (size_t i = 0; i < m; i++) a[i] = (float)a[i], b[i] = (float)b[i], d0[i] = (float)d0[i];
    double loss, got_loss;
    ref_mse_forward(&loss, a, b, m);
    tbuf ba = tbuf_new(a, m), bb = tbuf_new(b, m), bl = tbuf_zeros(1), bd = tbuf_new(d0, m);
    ck_assert_int_eq(lirf_mse_forward(tctx(), bl.v, ba.v, bb.v, m), LIRF_OK);
    tbuf_get(&bl, &got_loss, 1);
    ck_assert_close("mse_forward", &got_loss, &loss, 1, 1e-9, 1e-5);
    memcpy(want, d0, m * sizeof *want);
    ref_mse_backward(want, a, b, m, 0.7);
    ck_assert_int_eq(lirf_mse_backward(tctx(), bd.v, ba.v, bb.v, m, 0.7f), LIRF_OK);
    tbuf_get(&bd, got, m);
    ck_assert_close("mse_backward (accumulated)", got, want, m, 1e-7, 1e-5);
    ck_assert(tbuf_guards_ok(&ba) && tbuf_guards_ok(&bb) && tbuf_guards_ok(&bl) &&
              tbuf_guards_ok(&bd));
    tbuf_free(&ba), tbuf_free(&bb), tbuf_free(&bl), tbuf_free(&bd);
    free(a), free(b), free(d0), free(want), free(got);
}

START_TEST(mse_matches_reference) {
    size_t sizes[] = {1, 7, 255, 256, 257, 1000, (size_t)64 * 32 * 256 /* layer2, batch 64 */};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) mse_check(sizes[i], 70 + i);
}
END_TEST

typedef struct { const double *b; size_t m; } mse_fd;
static double mse_fd_loss(void *p, const double *a) {
    mse_fd *c = p;
    double L;
    ref_mse_forward(&L, a, c->b, c->m);
    return L;
}

START_TEST(mse_gradient_finite_differences) {
    for (size_t m = 1; m <= 40; m += 13) {
        trng r = {80 + m};
        double *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b);
        double *g = calloc(m, sizeof *g), *fd = malloc(m * sizeof *fd);
        trand_fill(&r, a, m, -2, 2), trand_fill(&r, b, m, -2, 2);
        mse_fd c = {b, m};
        ref_mse_backward(g, a, b, m, 1.0);
        tfd_grad(mse_fd_loss, &c, a, m, 1e-6, fd);
        for (size_t i = 0; i < m; i++)
            ck_assert_msg(fabs(g[i] - fd[i]) <= 1e-8 + 1e-6 * fabs(fd[i]),
                          "mse grad [%zu] of %zu: %.9g vs fd %.9g", i, m, g[i], fd[i]);
        free(a), free(b), free(g), free(fd);
    }
}
END_TEST

START_TEST(mse_invalid_arguments_rejected) {
    double x[8] = {0};
    tbuf a = tbuf_new(x, 8), b = tbuf_new(x, 8), l = tbuf_zeros(1);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_mse_forward(ctx, LIRF_NOBUF, a.v, b.v, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_mse_forward(ctx, l.v, a.v, LIRF_NOBUF, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_mse_forward(ctx, l.v, a.v, b.v, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_mse_forward(ctx, l.v, a.v, b.v, 9), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_mse_backward(ctx, l.v, a.v, b.v, 8, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_mse_backward(ctx, a.v, a.v, b.v, 8, NAN), LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&a), tbuf_free(&b), tbuf_free(&l);
}
END_TEST

int main(void) {
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, at_map_matches_reference);
    tcase_add_test(tc, at_loss_matches_reference);
    tcase_add_test(tc, at_gradient_finite_differences);
    tcase_add_test(tc, at_zero_sample);
    tcase_add_test(tc, at_equal_inputs_and_determinism);
    tcase_add_test(tc, at_invalid_arguments_rejected);
    tcase_add_test(tc, mse_matches_reference);
    tcase_add_test(tc, mse_gradient_finite_differences);
    tcase_add_test(tc, mse_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
