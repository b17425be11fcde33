/* Batch norm (cl_kernels/bn.cl, model/ops/op_bn.c) against its C reference
 * (model/ref/ref_bn.c): training and inference forwards (running statistics
 * updated as the reference), both backwards with accumulated dgamma/dbeta
 * starting non-zero, finite differences of the reference backwards in double,
 * guards, determinism and invalid arguments.
 *
 * Tolerances (float device vs double reference, inputs rounded to float first):
 * y and dx atol 2e-5..5e-5, rtol 1e-4; save_mean/running stats atol 1e-5
 * rtol 1e-5; save_invstd rtol 1e-4; dgamma/dbeta (sums over N*HW terms)
 * atol 1e-6 * N*HW + 1e-5, rtol 1e-4. Finite differences (double): h 1e-5,
 * atol 1e-7 rtol 1e-6. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

typedef struct { int N, C, HW; } shape;
static const shape SHAPES[] = {{1, 3, 7}, {5, 7, 93}, {4, 16, 1024}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

static const double EPS = 1e-5, MOM = 0.1;

/* Uniform in [lo, hi), rounded to float so that reference and device see the
 * same inputs. */
static void frand(trng *r, double *x, size_t n, double lo, double hi) {
    trand_fill(r, x, n, lo, hi);
    tround_f32(x, n); /* out of line: GCC 12.2 -O3 skips the tail of this loop when
                         it is inlined with a constant n (docs/portability.md) */
}

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* x with a per-channel offset and scale, so that the mean is far from 0 and the
 * variance differs across channels (tests the two-pass variance). */
static void bn_input(trng *r, double *x, int N, int C, int HW) {
    for (int c = 0; c < C; c++) {
        double off = trng_uniform(r, -4, 4), sc = trng_uniform(r, 0.2, 3);
        for (int n = 0; n < N; n++)
            for (int p = 0; p < HW; p++)
                x[((size_t)n * C + c) * HW + p] = (float)(off + sc * trng_uniform(r, -1, 1));
    }
}

START_TEST(bn_forward_train_matches_reference) {
    trng r = {101};
    lirf_ctx *ctx = tctx();
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        size_t n = (size_t)N * C * HW;
        double *x = dalloc(n), *y = dalloc(n), *got = dalloc(n);
        double gamma[16], beta[16], rm[16], rv[16], sm[16], si[16], g[16];
        bn_input(&r, x, N, C, HW);
        frand(&r, gamma, C, 0.5, 1.5);
        frand(&r, beta, C, -0.5, 0.5);
        frand(&r, rm, C, -1, 1);
        frand(&r, rv, C, 0.5, 2);
        tbuf bx = tbuf_new(x, n), by = tbuf_zeros(n), bg = tbuf_new(gamma, C),
             bb = tbuf_new(beta, C), brm = tbuf_new(rm, C), brv = tbuf_new(rv, C),
             bsm = tbuf_zeros(C), bsi = tbuf_zeros(C);

        /* two steps: running statistics chain from step to step */
        for (int step = 0; step < 2; step++) {
            if (step == 1) {
                bn_input(&r, x, N, C, HW);
                tbuf_free(&bx);
                bx = tbuf_new(x, n);
            }
            ref_bn_forward_train(y, sm, si, rm, rv, x, gamma, beta, N, C, HW, EPS, MOM);
            ck_assert_int_eq(lirf_bn_forward_train(ctx, by.v, bsm.v, bsi.v, brm.v, brv.v, bx.v,
                                                   bg.v, bb.v, N, C, HW, (float)EPS, (float)MOM),
                             LIRF_OK);
            tbuf_get(&by, got, n);
            ck_assert_close("bn_forward_train y", got, y, n, 2e-5, 1e-4);
            tbuf_get(&bsm, g, C);
            ck_assert_close("save_mean", g, sm, C, 1e-5, 1e-5);
            tbuf_get(&bsi, g, C);
            ck_assert_close("save_invstd", g, si, C, 0, 1e-4);
            tbuf_get(&brm, g, C);
            ck_assert_close("running_mean", g, rm, C, 1e-5, 1e-5);
            tbuf_get(&brv, g, C);
            ck_assert_close("running_var", g, rv, C, 1e-5, 1e-5);
        }
        ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bsm) && tbuf_guards_ok(&bsi) &&
                  tbuf_guards_ok(&brm) && tbuf_guards_ok(&brv));
        tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bg), tbuf_free(&bb);
        tbuf_free(&brm), tbuf_free(&brv), tbuf_free(&bsm), tbuf_free(&bsi);
        free(x), free(y), free(got);
    }
}
END_TEST

/* The same inputs twice give bit-identical outputs (no dependence on
 * scheduling); the running statistics move on, so they are reset in between. */
START_TEST(bn_deterministic) {
    trng r = {102};
    lirf_ctx *ctx = tctx();
    int N = 4, C = 16, HW = 1024;
    size_t n = (size_t)N * C * HW;
    double *x = dalloc(n), *dy = dalloc(n), *a = dalloc(n), *b = dalloc(n);
    double gamma[16], beta[16], rm[16], rv[16], s1[4][16], s2[4][16];
    bn_input(&r, x, N, C, HW);
    frand(&r, dy, n, -1, 1);
    frand(&r, gamma, C, 0.5, 1.5);
    frand(&r, beta, C, -0.5, 0.5);
    frand(&r, rm, C, -1, 1);
    frand(&r, rv, C, 0.5, 2);
    tbuf bx = tbuf_new(x, n), bdy = tbuf_new(dy, n), by = tbuf_zeros(n), bdx = tbuf_zeros(n),
         bg = tbuf_new(gamma, C), bb = tbuf_new(beta, C), bsm = tbuf_zeros(C),
         bsi = tbuf_zeros(C), brm = tbuf_zeros(C), brv = tbuf_zeros(C), bdg = tbuf_zeros(C),
         bdb = tbuf_zeros(C);
    for (int rep = 0; rep < 2; rep++) {
        double (*s)[16] = rep ? s2 : s1;
        double *out = rep ? b : a;
        ck_assert_int_eq(lirf_buf_write(ctx, brm.v, (float[16]){0}, C), LIRF_OK);
        ck_assert_int_eq(lirf_buf_fill(ctx, brv.v, 1.0f), LIRF_OK);
        ck_assert_int_eq(lirf_buf_fill(ctx, bdg.v, 0.0f), LIRF_OK);
        ck_assert_int_eq(lirf_buf_fill(ctx, bdb.v, 0.0f), LIRF_OK);
        ck_assert_int_eq(lirf_bn_forward_train(ctx, by.v, bsm.v, bsi.v, brm.v, brv.v, bx.v, bg.v,
                                               bb.v, N, C, HW, (float)EPS, (float)MOM),
                         LIRF_OK);
        ck_assert_int_eq(lirf_bn_backward(ctx, bdx.v, bdg.v, bdb.v, bdy.v, bx.v, bsm.v, bsi.v,
                                          bg.v, N, C, HW),
                         LIRF_OK);
        tbuf_get(&bsm, s[0], C);
        tbuf_get(&bsi, s[1], C);
        tbuf_get(&bdg, s[2], C);
        tbuf_get(&bdb, s[3], C);
        tbuf_get(&bdx, out, n);
    }
    ck_assert_close("repeat save stats and dgamma/dbeta", &s2[0][0], &s1[0][0], 4 * 16, 0, 0);
    ck_assert_close("repeat dx", b, a, n, 0, 0);
    tbuf_free(&bx), tbuf_free(&bdy), tbuf_free(&by), tbuf_free(&bdx), tbuf_free(&bg);
    tbuf_free(&bb), tbuf_free(&bsm), tbuf_free(&bsi), tbuf_free(&brm), tbuf_free(&brv);
    tbuf_free(&bdg), tbuf_free(&bdb);
    free(x), free(dy), free(a), free(b);
}
END_TEST

START_TEST(bn_forward_infer_matches_reference) {
    trng r = {103};
    lirf_ctx *ctx = tctx();
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        size_t n = (size_t)N * C * HW;
        double *x = dalloc(n), *y = dalloc(n), *got = dalloc(n);
        double gamma[16], beta[16], rm[16], rv[16];
        bn_input(&r, x, N, C, HW);
        frand(&r, gamma, C, 0.5, 1.5);
        frand(&r, beta, C, -0.5, 0.5);
        frand(&r, rm, C, -3, 3);
        frand(&r, rv, C, 0.1, 4);
        rv[0] = 0; /* a dead channel: invstd 1/sqrt(eps) */
        tbuf bx = tbuf_new(x, n), by = tbuf_zeros(n), bg = tbuf_new(gamma, C),
             bb = tbuf_new(beta, C), brm = tbuf_new(rm, C), brv = tbuf_new(rv, C);
        ref_bn_forward_infer(y, x, gamma, beta, rm, rv, N, C, HW, EPS);
        ck_assert_int_eq(lirf_bn_forward_infer(ctx, by.v, bx.v, bg.v, bb.v, brm.v, brv.v, N, C,
                                               HW, (float)EPS),
                         LIRF_OK);
        tbuf_get(&by, got, n);
        ck_assert_close("bn_forward_infer y", got, y, n, 5e-5, 1e-4);
        ck_assert(tbuf_guards_ok(&by));
        tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bg), tbuf_free(&bb), tbuf_free(&brm),
            tbuf_free(&brv);
        free(x), free(y), free(got);
    }
}
END_TEST

START_TEST(bn_backward_matches_reference) {
    trng r = {104};
    lirf_ctx *ctx = tctx();
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        size_t n = (size_t)N * C * HW, cnt = (size_t)N * HW;
        double *x = dalloc(n), *dy = dalloc(n), *dx = dalloc(n), *got = dalloc(n);
        double gamma[16], sm[16], si[16], dg[16], db[16], g[16];
        bn_input(&r, x, N, C, HW);
        frand(&r, dy, n, -1, 1);
        frand(&r, gamma, C, 0.5, 1.5);
        frand(&r, dg, C, -1, 1); /* accumulated: start non-zero */
        frand(&r, db, C, -1, 1);
        /* saved statistics from the reference forward, rounded to float */
        double *ytmp = dalloc(n), rm[16] = {0}, rv[16] = {0}, beta[16] = {0};
        ref_bn_forward_train(ytmp, sm, si, rm, rv, x, gamma, beta, N, C, HW, EPS, MOM);
        for (int c = 0; c < C; c++) sm[c] = (float)sm[c], si[c] = (float)si[c];
        free(ytmp);

        tbuf bx = tbuf_new(x, n), bdy = tbuf_new(dy, n), bdx = tbuf_zeros(n),
             bg = tbuf_new(gamma, C), bsm = tbuf_new(sm, C), bsi = tbuf_new(si, C),
             bdg = tbuf_new(dg, C), bdb = tbuf_new(db, C);
        ref_bn_backward(dx, dg, db, dy, x, sm, si, gamma, N, C, HW);
        ck_assert_int_eq(lirf_bn_backward(ctx, bdx.v, bdg.v, bdb.v, bdy.v, bx.v, bsm.v, bsi.v,
                                          bg.v, N, C, HW),
                         LIRF_OK);
        tbuf_get(&bdx, got, n);
        ck_assert_close("bn_backward dx", got, dx, n, 2e-5, 1e-4);
        double atol = 1e-6 * (double)cnt + 1e-5;
        tbuf_get(&bdg, g, C);
        ck_assert_close("bn_backward dgamma", g, dg, C, atol, 1e-4);
        tbuf_get(&bdb, g, C);
        ck_assert_close("bn_backward dbeta", g, db, C, atol, 1e-4);
        ck_assert(tbuf_guards_ok(&bdx) && tbuf_guards_ok(&bdg) && tbuf_guards_ok(&bdb));
        /* in place (dx = dy, as the network's backward does): the same dx */
        double *got2 = dalloc(n);
        tbuf_get(&bdx, got, n);
        ck_assert_int_eq(lirf_bn_backward(ctx, bdy.v, bdg.v, bdb.v, bdy.v, bx.v, bsm.v, bsi.v,
                                          bg.v, N, C, HW),
                         LIRF_OK);
        tbuf_get(&bdy, got2, n);
        for (size_t i = 0; i < n; i++) ck_assert_msg(got2[i] == got[i], "in place differs at %zu", i);
        free(got2);
        tbuf_free(&bx), tbuf_free(&bdy), tbuf_free(&bdx), tbuf_free(&bg);
        tbuf_free(&bsm), tbuf_free(&bsi), tbuf_free(&bdg), tbuf_free(&bdb);
        free(x), free(dy), free(dx), free(got);
    }
}
END_TEST

START_TEST(bn_backward_infer_matches_reference) {
    trng r = {105};
    lirf_ctx *ctx = tctx();
    for (size_t s = 0; s < NSHAPES; s++) {
        int N = SHAPES[s].N, C = SHAPES[s].C, HW = SHAPES[s].HW;
        size_t n = (size_t)N * C * HW, cnt = (size_t)N * HW;
        double *x = dalloc(n), *dy = dalloc(n), *dx = dalloc(n), *got = dalloc(n);
        double gamma[16], rm[16], rv[16], dg[16], db[16], dg0[16], db0[16], g[16];
        bn_input(&r, x, N, C, HW);
        frand(&r, dy, n, -1, 1);
        frand(&r, gamma, C, 0.5, 1.5);
        frand(&r, rm, C, -3, 3);
        frand(&r, rv, C, 0.1, 4);
        frand(&r, dg0, C, -1, 1);
        frand(&r, db0, C, -1, 1);
        memcpy(dg, dg0, sizeof dg);
        memcpy(db, db0, sizeof db);
        tbuf bx = tbuf_new(x, n), bdy = tbuf_new(dy, n), bdx = tbuf_zeros(n),
             bg = tbuf_new(gamma, C), brm = tbuf_new(rm, C), brv = tbuf_new(rv, C),
             bdg = tbuf_new(dg, C), bdb = tbuf_new(db, C);
        ref_bn_backward_infer(dx, dg, db, dy, x, gamma, rm, rv, N, C, HW, EPS);
        ck_assert_int_eq(lirf_bn_backward_infer(ctx, bdx.v, bdg.v, bdb.v, bdy.v, bx.v, bg.v,
                                                brm.v, brv.v, N, C, HW, (float)EPS),
                         LIRF_OK);
        tbuf_get(&bdx, got, n);
        ck_assert_close("bn_backward_infer dx", got, dx, n, 2e-5, 1e-4);
        double atol = 1e-6 * (double)cnt + 1e-5;
        tbuf_get(&bdg, g, C);
        ck_assert_close("bn_backward_infer dgamma", g, dg, C, atol, 1e-4);
        tbuf_get(&bdb, g, C);
        ck_assert_close("bn_backward_infer dbeta", g, db, C, atol, 1e-4);

        /* optional gradients absent: dx only; then dbeta only (dgamma untouched) */
        ck_assert_int_eq(lirf_buf_fill(ctx, bdx.v, 7.0f), LIRF_OK);
        ck_assert_int_eq(lirf_bn_backward_infer(ctx, bdx.v, LIRF_NOBUF, LIRF_NOBUF, bdy.v, bx.v,
                                                bg.v, brm.v, brv.v, N, C, HW, (float)EPS),
                         LIRF_OK);
        tbuf_get(&bdx, got, n);
        ck_assert_close("bn_backward_infer dx (no dgamma/dbeta)", got, dx, n, 2e-5, 1e-4);
        double dg_dev[16];
        tbuf_get(&bdg, dg_dev, C);
        ck_assert_int_eq(lirf_bn_backward_infer(ctx, bdx.v, LIRF_NOBUF, bdb.v, bdy.v, bx.v, bg.v,
                                                brm.v, brv.v, N, C, HW, (float)EPS),
                         LIRF_OK);
        ref_bn_backward_infer(NULL, NULL, db, dy, x, gamma, rm, rv, N, C, HW, EPS);
        tbuf_get(&bdb, g, C);
        ck_assert_close("bn_backward_infer dbeta (twice)", g, db, C, 2 * atol, 1e-4);
        tbuf_get(&bdg, g, C);
        ck_assert_close("bn_backward_infer dgamma untouched", g, dg_dev, C, 0, 0);
        ck_assert(tbuf_guards_ok(&bdx) && tbuf_guards_ok(&bdg) && tbuf_guards_ok(&bdb));
        tbuf_free(&bx), tbuf_free(&bdy), tbuf_free(&bdx), tbuf_free(&bg);
        tbuf_free(&brm), tbuf_free(&brv), tbuf_free(&bdg), tbuf_free(&bdb);
        free(x), free(dy), free(dx), free(got);
    }
}
END_TEST

/* ---- finite differences of the reference backwards ----------------------
 * L = sum_i w_i y_i; the parameters (x, gamma, beta) live in one vector
 * p = [x (n), gamma (C), beta (C)]. */
typedef struct {
    const double *w, *rm, *rv;
    int N, C, HW, train;
} bn_fd;

static double bn_loss(void *vc, const double *p) {
    bn_fd *c = vc;
    size_t n = (size_t)c->N * c->C * c->HW;
    double *y = dalloc(n), L = 0;
    const double *x = p, *gamma = p + n, *beta = p + n + c->C;
    if (c->train) {
        double sm[8], si[8], rm[8], rv[8];
        memcpy(rm, c->rm, c->C * sizeof *rm);
        memcpy(rv, c->rv, c->C * sizeof *rv);
        ref_bn_forward_train(y, sm, si, rm, rv, x, gamma, beta, c->N, c->C, c->HW, EPS, MOM);
    } else {
        ref_bn_forward_infer(y, x, gamma, beta, c->rm, c->rv, c->N, c->C, c->HW, EPS);
    }
    for (size_t i = 0; i < n; i++) L += c->w[i] * y[i];
    free(y);
    return L;
}

static void bn_fd_check(int train) {
    trng r = {106 + (uint64_t)train};
    /* two shapes: batch statistics over several samples, and a batch of 1 */
    static const shape FS[] = {{3, 4, 5}, {1, 3, 7}};
    for (size_t s = 0; s < 2; s++) {
        int N = FS[s].N, C = FS[s].C, HW = FS[s].HW;
        size_t n = (size_t)N * C * HW, np = n + 2 * (size_t)C;
        double *p = dalloc(np), *w = dalloc(n), *fd = dalloc(np), *an = dalloc(np);
        double rm[8], rv[8], sm[8], si[8];
        bn_input(&r, p, N, C, HW);
        trand_fill(&r, p + n, C, 0.5, 1.5);
        trand_fill(&r, p + n + C, C, -0.5, 0.5);
        trand_fill(&r, w, n, -1, 1);
        trand_fill(&r, rm, C, -1, 1);
        trand_fill(&r, rv, C, 0.5, 2);
        bn_fd c = {w, rm, rv, N, C, HW, train};

        /* analytic: dgamma, dbeta accumulate onto 0.25 to check +=, then
         * subtract it back */
        for (int k = 0; k < 2 * C; k++) an[n + k] = 0.25;
        if (train) {
            double *y = dalloc(n), rm2[8], rv2[8];
            memcpy(rm2, rm, sizeof rm2);
            memcpy(rv2, rv, sizeof rv2);
            ref_bn_forward_train(y, sm, si, rm2, rv2, p, p + n, p + n + C, N, C, HW, EPS, MOM);
            ref_bn_backward(an, an + n, an + n + C, w, p, sm, si, p + n, N, C, HW);
            free(y);
        } else {
            ref_bn_backward_infer(an, an + n, an + n + C, w, p, p + n, rm, rv, N, C, HW, EPS);
        }
        for (int k = 0; k < 2 * C; k++) an[n + k] -= 0.25;
        tfd_grad(bn_loss, &c, p, np, 1e-5, fd);
        ck_assert_close(train ? "bn_backward dx vs fd" : "bn_backward_infer dx vs fd", an, fd, n,
                        1e-7, 1e-6);
        ck_assert_close(train ? "bn_backward dgamma/dbeta vs fd"
                              : "bn_backward_infer dgamma/dbeta vs fd",
                        an + n, fd + n, 2 * (size_t)C, 1e-7, 1e-6);
        /* the training dx is not the inference one: batch statistics matter */
        if (train) {
            double d = 0;
            for (size_t i = 0; i < n; i++) d += fabs(an[i] - w[i] * p[n + (i / HW) % C] *
                                                                  si[(i / HW) % C]);
            ck_assert_msg(d > 1e-3, "training dx ignores the batch statistics");
        }
        free(p), free(w), free(fd), free(an);
    }
}

START_TEST(bn_backward_finite_differences) { bn_fd_check(1); }
END_TEST

START_TEST(bn_backward_infer_finite_differences) { bn_fd_check(0); }
END_TEST

START_TEST(bn_invalid_arguments_rejected) {
    lirf_ctx *ctx = tctx();
    int N = 2, C = 3, HW = 5;
    size_t n = (size_t)N * C * HW;
    double z[64] = {0};
    tbuf big = tbuf_new(z, n), ch = tbuf_new(z, C), small = tbuf_new(z, n - 1),
         chs = tbuf_new(z, C - 1);
    lirf_buf B = big.v, c = ch.v, NB = LIRF_NOBUF;
    float eps = 1e-5f, m = 0.1f;

    /* training forward */
    ck_assert_int_eq(lirf_bn_forward_train(ctx, NB, c, c, c, c, B, c, c, N, C, HW, eps, m),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, NB, c, B, c, c, N, C, HW, eps, m),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, NB, N, C, HW, eps, m),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, 0, C, HW, eps, m),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, N, -1, HW, eps, m),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, 1, C, 1, eps, m),
                     LIRF_E_INVALID); /* one value per channel */
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, N, C, HW, -1.0f, m),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, N, C, HW, eps, 1.5f),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, N, C, HW, eps, NAN),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, small.v, c, c, c, c, B, c, c, N, C, HW, eps, m),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, chs.v, B, c, c, N, C, HW, eps, m),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_bn_forward_train(ctx, B, c, c, c, c, B, c, c, 1 << 16, 1 << 16, 4,
                                           eps, m),
                     LIRF_E_INVALID); /* too large for int indexing */
    ck_assert_str_ne(lirf_error_message(), "");

    /* inference forward */
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, NB, c, c, c, c, N, C, HW, eps), LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, B, c, c, c, NB, N, C, HW, eps), LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, B, c, c, c, c, N, C, 0, eps), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, B, c, c, c, c, N, C, HW, INFINITY),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, small.v, c, c, c, c, N, C, HW, eps),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_bn_forward_infer(ctx, B, B, chs.v, c, c, c, N, C, HW, eps),
                     LIRF_E_SHAPE);

    /* training backward: dgamma and dbeta required */
    ck_assert_int_eq(lirf_bn_backward(ctx, B, NB, c, B, B, c, c, c, N, C, HW), LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_backward(ctx, B, c, c, B, B, c, NB, c, N, C, HW), LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_backward(ctx, B, c, c, B, B, c, c, c, N, 0, HW), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_backward(ctx, B, c, c, small.v, B, c, c, c, N, C, HW),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_bn_backward(ctx, B, c, chs.v, B, B, c, c, c, N, C, HW), LIRF_E_SHAPE);

    /* inference backward: dgamma, dbeta optional, dx required */
    ck_assert_int_eq(lirf_bn_backward_infer(ctx, NB, c, c, B, B, c, c, c, N, C, HW, eps),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_backward_infer(ctx, B, c, c, B, B, c, c, NB, N, C, HW, eps),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_bn_backward_infer(ctx, B, c, c, B, B, c, c, c, -2, C, HW, eps),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_bn_backward_infer(ctx, B, chs.v, NB, B, B, c, c, c, N, C, HW, eps),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_bn_backward_infer(ctx, B, c, c, B, small.v, c, c, c, N, C, HW, eps),
                     LIRF_E_SHAPE);

    /* nothing was written by the rejected calls */
    double got[64];
    tbuf_get(&big, got, n);
    ck_assert_close("untouched", got, z, n, 0, 0);
    tbuf_free(&big), tbuf_free(&ch), tbuf_free(&small), tbuf_free(&chs);
}
END_TEST

int main(void) {
    Suite *s = suite_create("bn");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, bn_forward_train_matches_reference);
    tcase_add_test(tc, bn_deterministic);
    tcase_add_test(tc, bn_forward_infer_matches_reference);
    tcase_add_test(tc, bn_backward_matches_reference);
    tcase_add_test(tc, bn_backward_infer_matches_reference);
    tcase_add_test(tc, bn_backward_finite_differences);
    tcase_add_test(tc, bn_backward_infer_finite_differences);
    tcase_add_test(tc, bn_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
