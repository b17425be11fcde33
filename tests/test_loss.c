/* Losses and metrics (softmax CE, KD over a column subset, argmax, class
 * counts) against their C references; the reference backwards against central
 * finite differences; large logits, invalid labels and columns, accumulate
 * semantics, guards and invalid arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

/* Random values rounded to float, so that the reference sees the device's
 * inputs exactly. */
static void ffill(trng *r, double *x, size_t n, double lo, double hi) {
    trand_fill(r, x, n, lo, hi);
    tround_f32(x, n); /* out of line: GCC 12.2 -O3 skips the tail of this loop when
                         it is inlined with a constant n (docs/portability.md) */
}

static void *xalloc(size_t bytes) {
    void *p = malloc(bytes ? bytes : 1);
    ck_assert_ptr_nonnull(p);
    return p;
}

static const int NS[] = {1, 7, 93, 128};
static const int KS[] = {3, 10, 200};
#define LEN(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- softmax cross-entropy -------------------------------------------- */

/* Forward (with and without per_sample) and backward (accumulated into a
 * non-zero dlogits) against the reference. lo..hi: the logits' range; labels
 * at bad_at (if >= 0) is set out of range. */
static void check_ce(int N, int K, double lo, double hi, int bad_at, uint64_t seed) {
    size_t nk = (size_t)N * K;
    trng r = {seed};
    double *z = xalloc(nk * sizeof *z), *dz = xalloc(nk * sizeof *dz);
    double *got = xalloc(nk * sizeof *got), *per = xalloc(N * sizeof *per);
    int32_t *lab = xalloc(N * sizeof *lab);
    ffill(&r, z, nk, lo, hi);
    ffill(&r, dz, nk, -1, 1);
    for (int n = 0; n < N; n++) lab[n] = trng_int(&r, 0, K);
    if (bad_at >= 0) lab[bad_at] = (bad_at & 1) ? K : -1;

    tbuf bz = tbuf_new(z, nk), bdz = tbuf_new(dz, nk), blab = tbuf_new_int(lab, N);
    tbuf bloss = tbuf_zeros(1), bloss2 = tbuf_zeros(1), bper = tbuf_zeros(N);
    lirf_ctx *ctx = tctx();
    double loss, gl, gl2;
    ref_softmax_ce_forward(&loss, per, z, lab, N, K);
    lirf_status st = lirf_softmax_ce_forward(ctx, bloss.v, bper.v, bz.v, blab.v, N, K);
    ck_assert_msg(st == LIRF_OK, "ce forward: %s", lirf_error_message());
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, bloss2.v, LIRF_NOBUF, bz.v, blab.v, N, K),
                     LIRF_OK);
    tbuf_get(&bloss, &gl, 1);
    tbuf_get(&bloss2, &gl2, 1);
    tbuf_get(&bper, got, N);
    /* float rounds logits of magnitude |z| to ~6e-8 |z|: lse - z[y] carries that */
    double mag = fmax(1, fmax(fabs(lo), fabs(hi)) / 10);
    ck_assert_close("ce per_sample", got, per, N, 2e-5 * mag, 2e-5);
    ck_assert_close("ce loss", &gl, &loss, 1, 2e-5 * mag, 2e-5);
    ck_assert_close("ce loss without per_sample", &gl2, &gl, 1, 0, 0); /* same bits */
    if (bad_at < 0) ck_assert_msg(isfinite(gl), "ce loss not finite: %g", gl);
    else ck_assert_msg(isnan(gl) && isnan(got[bad_at]), "bad label did not give NaN");

    ref_softmax_ce_backward(dz, z, lab, N, K, 0.7);
    st = lirf_softmax_ce_backward(ctx, bdz.v, bz.v, blab.v, N, K, 0.7f);
    ck_assert_msg(st == LIRF_OK, "ce backward: %s", lirf_error_message());
    tbuf_get(&bdz, got, nk);
    ck_assert_close("ce dlogits", got, dz, nk, 1e-6 * mag, 1e-5);
    for (size_t i = 0; i < nk; i++)
        if (bad_at < 0 || (int)(i / K) != bad_at) ck_assert(isfinite(got[i]));
    ck_assert(tbuf_guards_ok(&bdz) && tbuf_guards_ok(&bloss) && tbuf_guards_ok(&bloss2) &&
              tbuf_guards_ok(&bper));
    tbuf_free(&bz), tbuf_free(&bdz), tbuf_free(&blab), tbuf_free(&bloss), tbuf_free(&bloss2),
        tbuf_free(&bper);
    free(z), free(dz), free(got), free(per), free(lab);
}

START_TEST(ce_matches_reference) {
    for (int a = 0; a < LEN(NS); a++)
        for (int b = 0; b < LEN(KS); b++) check_ce(NS[a], KS[b], -5, 5, -1, 1000 + 10 * a + b);
    /* more rows than any work-group: every partial of the reduction counts */
    check_ce(1000, 10, -5, 5, -1, 1100);
    check_ce(517, 3, -5, 5, -1, 1101);
}
END_TEST

START_TEST(ce_large_logits_stay_finite) {
    for (int b = 0; b < LEN(KS); b++) {
        check_ce(7, KS[b], -80, 80, -1, 2000 + b);
        check_ce(93, KS[b], 79, 80, -1, 2100 + b);
        check_ce(93, KS[b], -80, -79, -1, 2200 + b);
        check_ce(93, KS[b], -300, 300, -1, 2300 + b); /* exp overflows without the max */
    }
}
END_TEST

START_TEST(ce_bad_label_gives_nan) {
    check_ce(7, 10, -3, 3, 3, 2300);  /* label K */
    check_ce(7, 10, -3, 3, 4, 2301);  /* label -1 */
    check_ce(1, 3, -3, 3, 0, 2302);
}
END_TEST

/* ---- knowledge distillation -------------------------------------------- */

/* A column selection of M distinct columns of K in scrambled order. */
static int random_cols(trng *r, int K, int32_t *cols) {
    int M = K / 3 + 1;
    int32_t *perm = xalloc(K * sizeof *perm);
    for (int k = 0; k < K; k++) perm[k] = k;
    for (int k = K - 1; k > 0; k--) {
        int j = trng_int(r, 0, k + 1);
        int32_t t = perm[k];
        perm[k] = perm[j], perm[j] = t;
    }
    memcpy(cols, perm, M * sizeof *cols);
    free(perm);
    return M;
}

/* KD forward and backward (ds starts non-zero) against the reference; cols
 * NULL: all columns. The loss is compared with atol scaled by T^2 (the float
 * KL is a sum of terms that cancel) and by the magnitude of logits / T (float
 * rounds them to ~6e-8 of it); the gradient by T and that magnitude. Columns
 * outside the selection must keep their exact starting values. */
static void check_kd(int N, int K, double T, const int32_t *cols, int M, double lo, double hi,
                     uint64_t seed) {
    size_t nk = (size_t)N * K;
    trng r = {seed};
    double *s = xalloc(nk * sizeof *s), *t = xalloc(nk * sizeof *t);
    double *ds = xalloc(nk * sizeof *ds), *ds0 = xalloc(nk * sizeof *ds0);
    double *got = xalloc(nk * sizeof *got);
    ffill(&r, s, nk, lo, hi);
    ffill(&r, t, nk, lo, hi);
    if (seed & 1) /* a teacher close to the student: small KL */
        for (size_t i = 0; i < nk; i++) t[i] = (float)(s[i] + trng_uniform(&r, -0.5, 0.5));
    ffill(&r, ds0, nk, -1, 1);
    memcpy(ds, ds0, nk * sizeof *ds);

    tbuf bs = tbuf_new(s, nk), bt = tbuf_new(t, nk), bds = tbuf_new(ds, nk), bloss = tbuf_zeros(1);
    tbuf bcols = cols ? tbuf_new_int(cols, M) : tbuf_zeros(1);
    lirf_buf vcols = cols ? bcols.v : LIRF_NOBUF;
    lirf_ctx *ctx = tctx();

    double loss, gl;
    ref_kd_forward(&loss, s, t, cols, M, N, K, T);
    lirf_status st = lirf_kd_forward(ctx, bloss.v, bs.v, bt.v, vcols, M, N, K, (float)T);
    ck_assert_msg(st == LIRF_OK, "kd forward: %s", lirf_error_message());
    tbuf_get(&bloss, &gl, 1);
    double mag = fmax(1, fmax(fabs(lo), fabs(hi)) / T / 5);
    ck_assert_msg(tclose("kd loss", &gl, &loss, 1, 2e-6 * T * T * mag, 1e-4) == 0,
                  "kd loss N=%d K=%d M=%d T=%g: %.9g vs %.9g", N, K, M, T, gl, loss);
    ck_assert(isfinite(gl) && gl >= -1e-5 * T * T);

    double scale = 1.5;
    ref_kd_backward(ds, s, t, cols, M, N, K, T, scale);
    st = lirf_kd_backward(ctx, bds.v, bs.v, bt.v, vcols, M, N, K, (float)T, (float)scale);
    ck_assert_msg(st == LIRF_OK, "kd backward: %s", lirf_error_message());
    tbuf_get(&bds, got, nk);
    ck_assert_msg(tclose("kd ds", got, ds, nk, 1e-6 * T * mag, 1e-5) == 0,
                  "kd ds N=%d K=%d M=%d T=%g", N, K, M, T);
    char *sel = xalloc(K);
    memset(sel, 0, K);
    for (int j = 0; j < M; j++) sel[cols ? cols[j] : j] = 1;
    for (size_t i = 0; i < nk; i++) {
        if (!sel[i % K]) ck_assert_msg(got[i] == ds0[i], "unselected column %zu changed", i % K);
        ck_assert(isfinite(got[i]));
    }
    ck_assert(tbuf_guards_ok(&bds) && tbuf_guards_ok(&bloss));
    tbuf_free(&bs), tbuf_free(&bt), tbuf_free(&bds), tbuf_free(&bloss), tbuf_free(&bcols);
    free(s), free(t), free(ds), free(ds0), free(got), free(sel);
}

static const double TS[] = {1, 4, 10, 20};

START_TEST(kd_matches_reference) {
    static const int KDN[] = {1, 7, 93};
    trng r = {3000};
    int32_t cols[200];
    for (int a = 0; a < LEN(KDN); a++) {
        for (int b = 0; b < LEN(KS); b++) {
            int K = KS[b];
            for (int c = 0; c < LEN(TS); c++) {
                uint64_t seed = 3001 + 100 * a + 10 * b + c;
                check_kd(KDN[a], K, TS[c], NULL, K, -5, 5, seed);
                int M = random_cols(&r, K, cols);
                check_kd(KDN[a], K, TS[c], cols, M, -5, 5, seed + 7);
                static const int32_t fixed[] = {0, 2, 5}, fixed3[] = {2, 0};
                if (K > 5) check_kd(KDN[a], K, TS[c], fixed, 3, -5, 5, seed + 13);
                else check_kd(KDN[a], K, TS[c], fixed3, 2, -5, 5, seed + 13);
            }
        }
    }
    /* one column: the softmax is 1, the loss and the gradient 0 */
    static const int32_t one[] = {4};
    check_kd(7, 10, 4, one, 1, -5, 5, 3999);
    /* a realistic batch: 128 samples, 10 classes, 7 retained columns */
    static const int32_t keep[] = {0, 1, 3, 4, 6, 8, 9};
    check_kd(128, 10, 10, keep, 7, -8, 8, 3998);
    /* more rows than any work-group: every partial of the reduction counts */
    check_kd(1000, 10, 4, keep, 7, -8, 8, 3997);
}
END_TEST

START_TEST(kd_large_logits_stay_finite) {
    static const int32_t cols[] = {9, 0, 2, 5};
    for (int c = 0; c < LEN(TS); c++) {
        check_kd(7, 10, TS[c], NULL, 10, -80, 80, 4000 + 2 * c);
        check_kd(93, 10, TS[c], cols, 4, -80, 80, 4001 + 2 * c);
        check_kd(7, 10, TS[c], cols, 4, -3000, 3000, 4010 + 2 * c);
    }
}
END_TEST

/* A column outside [0,K): NaN loss, NaN added to the in-range selected columns,
 * other columns and everything outside the buffers untouched. */
START_TEST(kd_bad_column_gives_nan) {
    enum { N = 5, K = 6 };
    static const int32_t cols[] = {1, 6, 3};
    trng r = {4100};
    double s[N * K], t[N * K], ds[N * K], got[N * K], loss;
    ffill(&r, s, N * K, -2, 2);
    ffill(&r, t, N * K, -2, 2);
    ffill(&r, ds, N * K, -1, 1);
    tbuf bs = tbuf_new(s, N * K), bt = tbuf_new(t, N * K), bds = tbuf_new(ds, N * K);
    tbuf bc = tbuf_new_int(cols, 3), bl = tbuf_zeros(1);
    ck_assert_int_eq(lirf_kd_forward(tctx(), bl.v, bs.v, bt.v, bc.v, 3, N, K, 2.0f), LIRF_OK);
    tbuf_get(&bl, &loss, 1);
    ck_assert(isnan(loss));
    ref_kd_forward(&loss, s, t, cols, 3, N, K, 2.0);
    ck_assert(isnan(loss));
    ck_assert_int_eq(lirf_kd_backward(tctx(), bds.v, bs.v, bt.v, bc.v, 3, N, K, 2.0f, 1.0f),
                     LIRF_OK);
    tbuf_get(&bds, got, N * K);
    ref_kd_backward(ds, s, t, cols, 3, N, K, 2.0, 1.0);
    ck_assert_close("kd ds with a bad column", got, ds, N * K, 0, 0);
    for (int i = 0; i < N * K; i++) ck_assert(isnan(got[i]) == (i % K == 1 || i % K == 3));
    ck_assert(tbuf_guards_ok(&bds) && tbuf_guards_ok(&bl));
    tbuf_free(&bs), tbuf_free(&bt), tbuf_free(&bds), tbuf_free(&bc), tbuf_free(&bl);
}
END_TEST

/* ---- finite differences of the references ------------------------------ */

typedef struct {
    const int32_t *labels, *cols;
    const double *t;
    int M, N, K;
    double T;
} loss_fd;

static double ce_loss(void *p, const double *z) {
    loss_fd *c = p;
    double L;
    ref_softmax_ce_forward(&L, NULL, z, c->labels, c->N, c->K);
    return L;
}

static double kd_loss(void *p, const double *s) {
    loss_fd *c = p;
    double L;
    ref_kd_forward(&L, s, c->t, c->cols, c->M, c->N, c->K, c->T);
    return L;
}

START_TEST(ce_gradient_finite_differences) {
    enum { N = 4, K = 7 };
    trng r = {5000};
    double z[N * K], g[N * K], g0[N * K], fd[N * K];
    int32_t lab[N] = {0, 6, 3, 3};
    trand_fill(&r, z, N * K, -3, 3);
    trand_fill(&r, g0, N * K, -1, 1);
    memcpy(g, g0, sizeof g);
    ref_softmax_ce_backward(g, z, lab, N, K, 1.3);
    for (int i = 0; i < N * K; i++) g[i] = (g[i] - g0[i]) / 1.3;
    loss_fd c = {lab, NULL, NULL, 0, N, K, 0};
    tfd_grad(ce_loss, &c, z, N * K, 1e-5, fd);
    ck_assert_close("ce grad vs fd", g, fd, N * K, 1e-9, 1e-6);
}
END_TEST

START_TEST(kd_gradient_finite_differences) {
    enum { N = 3, K = 8 };
    static const int32_t cols[] = {6, 0, 2, 5};
    trng r = {5100};
    double s[N * K], t[N * K], g[N * K], g0[N * K], fd[N * K];
    trand_fill(&r, s, N * K, -3, 3);
    trand_fill(&r, t, N * K, -3, 3);
    for (int pass = 0; pass < 4; pass++) {
        double T = TS[pass];
        const int32_t *cl = pass & 1 ? cols : NULL;
        int M = cl ? 4 : K;
        trand_fill(&r, g0, N * K, -1, 1);
        memcpy(g, g0, sizeof g);
        ref_kd_backward(g, s, t, cl, M, N, K, T, 0.6);
        for (int i = 0; i < N * K; i++) g[i] = (g[i] - g0[i]) / 0.6;
        loss_fd c = {NULL, cl, t, M, N, K, T};
        tfd_grad(kd_loss, &c, s, N * K, 1e-5 * T, fd);
        ck_assert_msg(tclose("kd grad vs fd", g, fd, N * K, 1e-8 * T, 1e-6) == 0,
                      "kd fd pass %d (T %g)", pass, T);
        if (cl) /* unselected columns: neither gradient nor dependence */
            for (int i = 0; i < N * K; i++)
                if (i % K == 1 || i % K == 3 || i % K == 4 || i % K == 7)
                    ck_assert(g[i] == 0 && fabs(fd[i]) < 1e-12);
    }
}
END_TEST

/* ---- metrics ------------------------------------------------------------ */

START_TEST(argmax_matches_reference_first_on_ties) {
    static const int AN[] = {1, 7, 93};
    trng r = {6000};
    for (int a = 0; a < LEN(AN); a++) {
        for (int b = 0; b < LEN(KS); b++) {
            int N = AN[a], K = KS[b];
            double *z = xalloc((size_t)N * K * sizeof *z);
            int32_t *want = xalloc(N * sizeof *want), *got = xalloc(N * sizeof *got);
            /* small integers: many ties, some rows with every entry equal */
            for (int i = 0; i < N * K; i++) z[i] = trng_int(&r, -2, 3);
            if (N > 3) {
                for (int k = 0; k < K; k++) z[2 * K + k] = 1.5;
                z[3 * K + K - 1] = 9, z[3 * K + K / 2] = 9, z[3 * K + 0] = -9;
            }
            ref_argmax(want, z, N, K);
            tbuf bz = tbuf_new(z, (size_t)N * K), bp = tbuf_zeros(N);
            ck_assert_int_eq(lirf_argmax(tctx(), bp.v, bz.v, N, K), LIRF_OK);
            tbuf_get_int(&bp, got, N);
            ck_assert_int_eq(tsame_int("argmax", got, want, N), 0);
            if (N > 3) ck_assert(got[2] == 0 && got[3] == K / 2);
            ck_assert(tbuf_guards_ok(&bp));
            tbuf_free(&bz), tbuf_free(&bp);
            free(z), free(want), free(got);
        }
    }
}
END_TEST

START_TEST(class_counts_match_reference) {
    static const int CN[] = {1, 93, 5000};
    trng r = {7000};
    for (int a = 0; a < LEN(CN); a++) {
        for (int b = 0; b < LEN(KS); b++) {
            int N = CN[a], K = KS[b];
            int32_t *pred = xalloc(N * sizeof *pred), *lab = xalloc(N * sizeof *lab);
            int32_t *want = xalloc(2 * K * sizeof *want), *got = xalloc(2 * K * sizeof *got);
            for (int n = 0; n < N; n++) {
                lab[n] = trng_int(&r, 0, K);
                pred[n] = trng_int(&r, 0, 2) ? lab[n] : trng_int(&r, 0, K);
                if (n % 11 == 5) lab[n] = (n & 2) ? -1 - n : K + n % 3; /* skipped */
            }
            for (int k = 0; k < 2 * K; k++) want[k] = trng_int(&r, 0, 100); /* accumulated */
            tbuf bc = tbuf_new_int(want, 2 * K), bp = tbuf_new_int(pred, N),
                 bl = tbuf_new_int(lab, N);
            ref_class_counts(want, pred, lab, N, K);
            ck_assert_int_eq(lirf_class_counts(tctx(), bc.v, bp.v, bl.v, N, K), LIRF_OK);
            tbuf_get_int(&bc, got, 2 * K);
            ck_assert_int_eq(tsame_int("class_counts", got, want, 2 * K), 0);
            ck_assert(tbuf_guards_ok(&bc));
            tbuf_free(&bc), tbuf_free(&bp), tbuf_free(&bl);
            free(pred), free(lab), free(want), free(got);
        }
    }
}
END_TEST

/* ---- invalid arguments --------------------------------------------------- */

START_TEST(loss_invalid_arguments_rejected) {
    enum { N = 4, K = 5 };
    double z[N * K] = {0};
    int32_t lab[N] = {0}, cols[3] = {0, 1, 2};
    tbuf bz = tbuf_new(z, N * K), bl = tbuf_new_int(lab, N), bc = tbuf_new_int(cols, 3);
    tbuf one = tbuf_zeros(1), cnt = tbuf_zeros(2 * K);
    lirf_ctx *ctx = tctx();
    lirf_buf no = LIRF_NOBUF;

    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, no, no, bz.v, bl.v, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, no, bl.v, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, bz.v, no, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, bz.v, bl.v, 0, K), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, bz.v, bl.v, N, -2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, one.v, bz.v, bl.v, N, K), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, bz.v, bl.v, N, K + 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, one.v, no, bz.v, bl.v, N + 1, K - 1),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, no, bz.v, bl.v, N, K, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, one.v, bz.v, bl.v, N, K, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, bz.v, bz.v, bl.v, N, 0, 1), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, bz.v, bz.v, bl.v, N, K, NAN), LIRF_E_INVALID);

    ck_assert_int_eq(lirf_kd_forward(ctx, no, bz.v, bz.v, bc.v, 3, N, K, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, no, bz.v, bc.v, 3, N, K, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, no, bc.v, 3, N, K, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, 0, N, K, 2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, 3, N, K, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, 3, N, K, -1), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, 3, N, K, INFINITY),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, 4, N, K, 2), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, bc.v, K + 1, N, K, 2),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, no, 3, N, K, 2), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, bz.v, bz.v, no, K, N, K, 2), LIRF_OK);
    ck_assert_int_eq(lirf_kd_forward(ctx, one.v, one.v, bz.v, bc.v, 3, N, K, 2), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_kd_backward(ctx, no, bz.v, bz.v, bc.v, 3, N, K, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_kd_backward(ctx, one.v, bz.v, bz.v, bc.v, 3, N, K, 2, 1),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_kd_backward(ctx, bz.v, bz.v, bz.v, bc.v, 3, 0, K, 2, 1),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_backward(ctx, bz.v, bz.v, bz.v, bc.v, 3, N, K, NAN, 1),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_kd_backward(ctx, bz.v, bz.v, bz.v, bc.v, 3, N, K, 2, INFINITY),
                     LIRF_E_INVALID);

    ck_assert_int_eq(lirf_argmax(ctx, no, bz.v, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_argmax(ctx, bl.v, no, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_argmax(ctx, bl.v, bz.v, N, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_argmax(ctx, one.v, bz.v, N, K), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_argmax(ctx, bl.v, bz.v, N, K + 1), LIRF_E_SHAPE);

    ck_assert_int_eq(lirf_class_counts(ctx, no, bl.v, bl.v, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_class_counts(ctx, cnt.v, no, bl.v, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_class_counts(ctx, cnt.v, bl.v, no, N, K), LIRF_E_NULL);
    ck_assert_int_eq(lirf_class_counts(ctx, cnt.v, bl.v, bl.v, -1, K), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_class_counts(ctx, cnt.v, bl.v, bl.v, N, K + 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_class_counts(ctx, cnt.v, bl.v, one.v, N, K), LIRF_E_SHAPE);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&bz), tbuf_free(&bl), tbuf_free(&bc), tbuf_free(&one), tbuf_free(&cnt);
}
END_TEST

int main(void) {
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, ce_matches_reference);
    tcase_add_test(tc, ce_large_logits_stay_finite);
    tcase_add_test(tc, ce_bad_label_gives_nan);
    tcase_add_test(tc, kd_matches_reference);
    tcase_add_test(tc, kd_large_logits_stay_finite);
    tcase_add_test(tc, kd_bad_column_gives_nan);
    tcase_add_test(tc, ce_gradient_finite_differences);
    tcase_add_test(tc, kd_gradient_finite_differences);
    tcase_add_test(tc, argmax_matches_reference_first_on_ties);
    tcase_add_test(tc, class_counts_match_reference);
    tcase_add_test(tc, loss_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
