/* Pooling (cl_kernels/pool.cl, model/ops/op_pool.c) against its C reference
 * (model/ref/ref_pool.c): 2x2 max pool on odd sizes (dropped last row/column),
 * batch 1 and a ResNet-sized case; ties pick the first max in scan order; NaN
 * propagates; the backward gather; finite differences of the reference
 * backwards away from ties; global average pool forward/backward; guards and
 * invalid arguments. The K x K / stride / padding max pool (the ImageNet
 * stem's 3/2/1, overlapping windows) likewise, and equal to the 2x2 one at
 * 2/2/0.
 *
 * Tolerances: max pool y, idx and dx are exact (no arithmetic); GAP y atol 1e-6
 * rtol 1e-5 (float sum of HW values), GAP dx rtol 1e-6; finite differences in
 * double with h 1e-6, atol 1e-8. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

typedef struct { int N, C, H, W; } pshape;
static const pshape PSHAPES[] = {{1, 1, 2, 2}, {1, 3, 7, 9}, {2, 5, 8, 8},
                                 {3, 4, 13, 6}, {4, 32, 32, 32}};
#define NPSHAPES (sizeof PSHAPES / sizeof PSHAPES[0])

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

static int32_t *ialloc(size_t n) {
    int32_t *p = calloc(n ? n : 1, sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

/* Runs forward and backward on the device and compares with the reference;
 * dx is pre-filled with 7 so that unwritten elements show. */
static void maxpool_check(const double *x, const double *dy, int N, int C, int H, int W,
                          const char *what) {
    lirf_ctx *ctx = tctx();
    size_t n = (size_t)N * C * H * W, m = (size_t)N * C * (H / 2) * (W / 2);
    double *y = dalloc(m), *dx = dalloc(n), *got = dalloc(n);
    int32_t *idx = ialloc(m), *gidx = ialloc(m);
    ref_maxpool2_forward(y, idx, x, N, C, H, W);
    ref_maxpool2_backward(dx, dy, idx, N, C, H, W);

    tbuf bx = tbuf_new(x, n), by = tbuf_zeros(m), bi = tbuf_new_int(idx, m), bdy = tbuf_new(dy, m),
         bdx = tbuf_zeros(n);
    ck_assert_int_eq(lirf_buf_fill_int(ctx, bi.v, -1), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(ctx, bdx.v, 7.0f), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, N, C, H, W), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bdx.v, bdy.v, bi.v, N, C, H, W), LIRF_OK);
    tbuf_get(&by, got, m);
    ck_assert_msg(tclose(what, got, y, m, 0, 0) == 0, "%s: maxpool y differs", what);
    tbuf_get_int(&bi, gidx, m);
    ck_assert_msg(tsame_int(what, gidx, idx, m) == 0, "%s: maxpool idx differs", what);
    tbuf_get(&bdx, got, n);
    ck_assert_msg(tclose(what, got, dx, n, 0, 0) == 0, "%s: maxpool dx differs", what);
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bi) && tbuf_guards_ok(&bdx));
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi), tbuf_free(&bdy), tbuf_free(&bdx);
    free(y), free(dx), free(got), free(idx), free(gidx);
}

START_TEST(maxpool_matches_reference) {
    trng r = {201};
    for (size_t s = 0; s < NPSHAPES; s++) {
        int N = PSHAPES[s].N, C = PSHAPES[s].C, H = PSHAPES[s].H, W = PSHAPES[s].W;
        size_t n = (size_t)N * C * H * W, m = (size_t)N * C * (H / 2) * (W / 2);
        double *x = dalloc(n), *dy = dalloc(m);
        frand(&r, x, n, -2, 2);
        frand(&r, dy, m, -1, 1);
        maxpool_check(x, dy, N, C, H, W, "maxpool random");
        /* values on a coarse grid: many ties, in every position of the window */
        for (size_t i = 0; i < n; i++) x[i] = trng_int(&r, 0, 3);
        maxpool_check(x, dy, N, C, H, W, "maxpool coarse grid (ties)");
        free(x), free(dy);
    }
}
END_TEST

/* Hand-made windows: the first max in scan order (0,0),(0,1),(1,0),(1,1) wins;
 * its gradient goes to that element only. */
START_TEST(maxpool_ties_pick_first) {
    lirf_ctx *ctx = tctx();
    enum { H = 5, W = 7 }; /* odd: row 4 and column 6 are dropped */
    double x[H * W];
    for (int i = 0; i < H * W; i++) x[i] = 100; /* dropped row/col hold the largest values */
    const double win[6][4] = {
        {1, 1, 1, 1},        /* all equal -> (0,0) */
        {0, 2, 1, 2},        /* (0,1) == (1,1) -> (0,1) */
        {0, 0, 3, 3},        /* (1,0) == (1,1) -> (1,0) */
        {-1, -2, -1, -1},    /* (0,0) == (1,0) == (1,1) -> (0,0) */
        {-5, -5, -5, -4},    /* (1,1) alone */
        {-0.0, 0.0, 0.0, 0}, /* -0 == +0 -> (0,0) */
    };
    const int pick[6] = {0, 1, 2, 0, 3, 0};
    int32_t want_idx[6];
    double want_y[6];
    for (int k = 0; k < 6; k++) {
        int ho = k / 3, wo = k % 3;
        for (int j = 0; j < 4; j++) x[(2 * ho + j / 2) * W + 2 * wo + j % 2] = win[k][j];
        want_idx[k] = (2 * ho + pick[k] / 2) * W + 2 * wo + pick[k] % 2;
        want_y[k] = win[k][pick[k]];
    }
    double y[6], dy[6] = {1, 2, 3, 4, 5, 6}, dx[H * W], want_dx[H * W] = {0};
    int32_t idx[6];
    ref_maxpool2_forward(y, idx, x, 1, 1, H, W);
    ck_assert_int_eq(tsame_int("ref ties idx", idx, want_idx, 6), 0);
    for (int k = 0; k < 6; k++) want_dx[want_idx[k]] = dy[k];
    ref_maxpool2_backward(dx, dy, idx, 1, 1, H, W);
    ck_assert_close("ref ties dx", dx, want_dx, H * W, 0, 0);

    tbuf bx = tbuf_new(x, H * W), by = tbuf_zeros(6), bi = tbuf_new_int(idx, 6),
         bdy = tbuf_new(dy, 6), bdx = tbuf_zeros(H * W);
    ck_assert_int_eq(lirf_buf_fill_int(ctx, bi.v, -1), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 1, 1, H, W), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bdx.v, bdy.v, bi.v, 1, 1, H, W), LIRF_OK);
    int32_t gidx[6];
    double got[H * W];
    tbuf_get_int(&bi, gidx, 6);
    ck_assert_int_eq(tsame_int("device ties idx", gidx, want_idx, 6), 0);
    tbuf_get(&by, got, 6);
    ck_assert_close("device ties y", got, want_y, 6, 0, 0);
    ck_assert(signbit(got[5])); /* the -0 at (0,0) was kept */
    tbuf_get(&bdx, got, H * W);
    ck_assert_close("device ties dx", got, want_dx, H * W, 0, 0);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi), tbuf_free(&bdy), tbuf_free(&bdx);
}
END_TEST

/* A NaN anywhere in a window makes the output NaN (it is not silently dropped). */
START_TEST(maxpool_nan_propagates) {
    lirf_ctx *ctx = tctx();
    double x[16] = {1, 2, 5, 6, 3, NAN, 7, 8, NAN, 0, 9, 9, 0, 0, 9, NAN};
    double y[4], got[4];
    int32_t idx[4], gidx[4];
    ref_maxpool2_forward(y, idx, x, 1, 1, 4, 4);
    ck_assert(isnan(y[0]) && idx[0] == 5);
    ck_assert(!isnan(y[1]) && y[1] == 8 && idx[1] == 7);
    ck_assert(isnan(y[2]) && idx[2] == 8);
    ck_assert(isnan(y[3]) && idx[3] == 15);
    tbuf bx = tbuf_new(x, 16), by = tbuf_zeros(4), bi = tbuf_new_int(idx, 4);
    ck_assert_int_eq(lirf_buf_fill_int(ctx, bi.v, -1), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 1, 1, 4, 4), LIRF_OK);
    tbuf_get(&by, got, 4);
    tbuf_get_int(&bi, gidx, 4);
    ck_assert_close("maxpool NaN y", got, y, 4, 0, 0); /* NaN matches NaN only */
    ck_assert_int_eq(tsame_int("maxpool NaN idx", gidx, idx, 4), 0);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi);
}
END_TEST

/* ---- finite differences of the reference backwards ---------------------- */
typedef struct { const double *w; int N, C, H, W, gap; } pool_fd;

static double pool_loss(void *vc, const double *x) {
    pool_fd *c = vc;
    size_t m = c->gap ? (size_t)c->N * c->C : (size_t)c->N * c->C * (c->H / 2) * (c->W / 2);
    double *y = dalloc(m), L = 0;
    int32_t *idx = ialloc(m);
    if (c->gap)
        ref_gap_forward(y, x, c->N, c->C, c->H * c->W);
    else
        ref_maxpool2_forward(y, idx, x, c->N, c->C, c->H, c->W);
    for (size_t i = 0; i < m; i++) L += c->w[i] * y[i];
    free(y), free(idx);
    return L;
}

START_TEST(maxpool_gradient_finite_differences) {
    trng r = {202};
    enum { N = 2, C = 2, H = 7, W = 9 };
    size_t n = (size_t)N * C * H * W, m = (size_t)N * C * (H / 2) * (W / 2);
    double x[N * C * H * W], w[N * C * (H / 2) * (W / 2)], y[N * C * (H / 2) * (W / 2)];
    double dx[N * C * H * W], fd[N * C * H * W];
    int32_t idx[N * C * (H / 2) * (W / 2)];
    /* distinct values 0.01 apart (a shuffled ramp): no ties within 2h */
    for (size_t i = 0; i < n; i++) x[i] = 0.01 * (double)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)trng_int(&r, 0, (int)i + 1);
        double t = x[i];
        x[i] = x[j], x[j] = t;
    }
    trand_fill(&r, w, m, -1, 1);
    ref_maxpool2_forward(y, idx, x, N, C, H, W);
    ref_maxpool2_backward(dx, w, idx, N, C, H, W);
    pool_fd c = {w, N, C, H, W, 0};
    tfd_grad(pool_loss, &c, x, n, 1e-6, fd);
    ck_assert_close("maxpool dx vs fd", dx, fd, n, 1e-8, 1e-6);
    size_t nonzero = 0;
    for (size_t i = 0; i < n; i++) nonzero += dx[i] != 0;
    ck_assert_uint_eq(nonzero, m); /* one argmax per window, none in dropped rows/cols */
}
END_TEST

typedef struct { int N, C, HW; } gshape;
static const gshape GSHAPES[] = {{1, 1, 1}, {1, 3, 7}, {5, 7, 93}, {8, 512, 16}, {2, 3, 1024}};
#define NGSHAPES (sizeof GSHAPES / sizeof GSHAPES[0])

START_TEST(gap_matches_reference) {
    trng r = {203};
    lirf_ctx *ctx = tctx();
    for (size_t s = 0; s < NGSHAPES; s++) {
        int N = GSHAPES[s].N, C = GSHAPES[s].C, HW = GSHAPES[s].HW;
        size_t n = (size_t)N * C * HW, m = (size_t)N * C;
        double *x = dalloc(n), *dy = dalloc(m), *y = dalloc(m), *dx = dalloc(n),
               *got = dalloc(n);
        frand(&r, x, n, -1, 3);
        frand(&r, dy, m, -1, 1);
        ref_gap_forward(y, x, N, C, HW);
        ref_gap_backward(dx, dy, N, C, HW);
        tbuf bx = tbuf_new(x, n), by = tbuf_zeros(m), bdy = tbuf_new(dy, m), bdx = tbuf_zeros(n);
        ck_assert_int_eq(lirf_gap_forward(ctx, by.v, bx.v, N, C, HW), LIRF_OK);
        ck_assert_int_eq(lirf_gap_backward(ctx, bdx.v, bdy.v, N, C, HW), LIRF_OK);
        tbuf_get(&by, got, m);
        ck_assert_close("gap_forward", got, y, m, 1e-6, 1e-5);
        tbuf_get(&bdx, got, n);
        ck_assert_close("gap_backward", got, dx, n, 0, 1e-6);
        ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bdx));
        tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bdy), tbuf_free(&bdx);
        free(x), free(dy), free(y), free(dx), free(got);
    }
}
END_TEST

START_TEST(gap_gradient_finite_differences) {
    trng r = {204};
    enum { N = 3, C = 4, HW = 7 };
    double x[N * C * HW], w[N * C], dx[N * C * HW], fd[N * C * HW];
    trand_fill(&r, x, N * C * HW, -1, 1);
    trand_fill(&r, w, N * C, -1, 1);
    ref_gap_backward(dx, w, N, C, HW);
    pool_fd c = {w, N, C, 1, HW, 1};
    tfd_grad(pool_loss, &c, x, N * C * HW, 1e-6, fd);
    ck_assert_close("gap dx vs fd", dx, fd, N * C * HW, 1e-8, 1e-6);
}
END_TEST

START_TEST(pool_invalid_arguments_rejected) {
    lirf_ctx *ctx = tctx();
    double z[64] = {0};
    int32_t zi[16] = {0};
    /* x (1,2,5,5) -> y (1,2,2,2); by also serves as GAP's (2,5) */
    tbuf bx = tbuf_new(z, 50), by = tbuf_new(z, 10), bi = tbuf_new_int(zi, 8),
         bys = tbuf_new(z, 7), bxs = tbuf_new(z, 49);
    lirf_buf NB = LIRF_NOBUF;
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, NB, bi.v, bx.v, 1, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, NB, bx.v, 1, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, NB, 1, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 0, 2, 5, 5), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 1, 2, 1, 5), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 1, 2, 5, -3), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, bys.v, bi.v, bx.v, 1, 2, 5, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bxs.v, 1, 2, 5, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool2_forward(ctx, by.v, bi.v, bx.v, 1 << 16, 1 << 16, 2, 2),
                     LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, NB, by.v, bi.v, 1, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bx.v, by.v, NB, 1, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bx.v, by.v, bi.v, 1, 0, 5, 5), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bxs.v, by.v, bi.v, 1, 2, 5, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool2_backward(ctx, bx.v, bys.v, bi.v, 1, 2, 5, 5), LIRF_E_SHAPE);
    /* GAP: x (2,5,5) -> y (2,5) */
    ck_assert_int_eq(lirf_gap_forward(ctx, NB, bx.v, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gap_forward(ctx, by.v, bx.v, 2, 5, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gap_forward(ctx, bys.v, bx.v, 1, 8, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gap_forward(ctx, by.v, bxs.v, 2, 5, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gap_backward(ctx, bx.v, NB, 2, 5, 5), LIRF_E_NULL);
    ck_assert_int_eq(lirf_gap_backward(ctx, bx.v, by.v, -1, 5, 5), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_gap_backward(ctx, bxs.v, by.v, 2, 5, 5), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_gap_backward(ctx, bx.v, bys.v, 1, 8, 5), LIRF_E_SHAPE);
    /* nothing was written by the rejected calls */
    double got[50];
    tbuf_get(&bx, got, 50);
    ck_assert_close("x untouched", got, z, 50, 0, 0);
    tbuf_get(&by, got, 10);
    ck_assert_close("y untouched", got, z, 10, 0, 0);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi), tbuf_free(&bys), tbuf_free(&bxs);
}
END_TEST

/* ---- K x K max pool, stride S, padding P (the ImageNet stem's 3/2/1) ---- */
typedef struct { int N, C, H, W, K, S, P; } kshape;
static const kshape KSHAPES[] = {
    {1, 1, 1, 1, 3, 2, 1},   {1, 1, 2, 2, 3, 2, 1},  {1, 3, 7, 9, 3, 2, 1},
    {2, 4, 16, 16, 3, 2, 1}, {2, 8, 32, 32, 3, 2, 1}, {3, 2, 13, 6, 3, 2, 1},
    {2, 3, 7, 9, 2, 2, 0},   {2, 3, 8, 5, 3, 1, 1},   {1, 2, 11, 10, 5, 3, 2},
    {2, 2, 9, 9, 3, 3, 0}};
#define NKSHAPES (sizeof KSHAPES / sizeof KSHAPES[0])

static int kout(int H, const kshape *k) { return (H + 2 * k->P - k->K) / k->S + 1; }

/* Device against reference; idx and dx pre-filled (-1, 7) so that unwritten
 * elements show; y and idx exact; dx sums up to ceil(K/S)^2 floats: atol and
 * rtol 1e-6 (the reference adds in double). */
static void kpool_check(const double *x, const double *dy, const kshape *k, const char *what) {
    lirf_ctx *ctx = tctx();
    int N = k->N, C = k->C, H = k->H, W = k->W;
    size_t n = (size_t)N * C * H * W, m = (size_t)N * C * kout(H, k) * kout(W, k);
    ck_assert_int_eq(lirf_maxpool_out(H, k->K, k->S, k->P), kout(H, k));
    double *y = dalloc(m), *dx = dalloc(n), *got = dalloc(n);
    int32_t *idx = ialloc(m), *gidx = ialloc(m);
    ref_maxpool_forward(y, idx, x, N, C, H, W, k->K, k->S, k->P);
    ref_maxpool_backward(dx, dy, idx, N, C, H, W, k->K, k->S, k->P);
    tbuf bx = tbuf_new(x, n), by = tbuf_zeros(m), bi = tbuf_new_int(idx, m), bdy = tbuf_new(dy, m),
         bdx = tbuf_zeros(n);
    ck_assert_int_eq(lirf_buf_fill_int(ctx, bi.v, -1), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(ctx, bdx.v, 7.0f), LIRF_OK);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi.v, bx.v, N, C, H, W, k->K, k->S, k->P),
                     LIRF_OK);
    ck_assert_int_eq(lirf_maxpool_backward(ctx, bdx.v, bdy.v, bi.v, N, C, H, W, k->K, k->S, k->P),
                     LIRF_OK);
    tbuf_get(&by, got, m);
    ck_assert_msg(tclose(what, got, y, m, 0, 0) == 0, "%s: maxpool y differs", what);
    tbuf_get_int(&bi, gidx, m);
    ck_assert_msg(tsame_int(what, gidx, idx, m) == 0, "%s: maxpool idx differs", what);
    tbuf_get(&bdx, got, n);
    ck_assert_msg(tclose(what, got, dx, n, 1e-6, 1e-6) == 0, "%s: maxpool dx differs", what);
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bi) && tbuf_guards_ok(&bdx));
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi), tbuf_free(&bdy), tbuf_free(&bdx);
    free(y), free(dx), free(got), free(idx), free(gidx);
}

START_TEST(maxpool_kxk_matches_reference) {
    trng r = {205};
    for (size_t s = 0; s < NKSHAPES; s++) {
        const kshape *k = &KSHAPES[s];
        size_t n = (size_t)k->N * k->C * k->H * k->W;
        size_t m = (size_t)k->N * k->C * kout(k->H, k) * kout(k->W, k);
        double *x = dalloc(n), *dy = dalloc(m);
        frand(&r, x, n, -2, 2);
        frand(&r, dy, m, -1, 1);
        kpool_check(x, dy, k, "maxpool KxK random");
        for (size_t i = 0; i < n; i++) x[i] = trng_int(&r, 0, 3);
        kpool_check(x, dy, k, "maxpool KxK coarse grid (ties)");
        for (size_t i = 0; i < n; i++) x[i] = -1024; /* all equal and negative (padding never wins) */
        kpool_check(x, dy, k, "maxpool KxK all equal");
        free(x), free(dy);
    }
}
END_TEST

/* 2x2 stride 2 without padding is the CNN's maxpool2: the same outputs. */
START_TEST(maxpool_kxk_is_maxpool2_at_2_2_0) {
    trng r = {206};
    enum { N = 2, C = 3, H = 7, W = 9 };
    double x[N * C * H * W], y2[N * C * 3 * 4], yk[N * C * 3 * 4];
    int32_t i2[N * C * 3 * 4], ik[N * C * 3 * 4];
    for (size_t i = 0; i < N * C * H * W; i++) x[i] = trng_int(&r, 0, 4);
    ref_maxpool2_forward(y2, i2, x, N, C, H, W);
    ref_maxpool_forward(yk, ik, x, N, C, H, W, 2, 2, 0);
    ck_assert_close("maxpool 2/2/0 y", yk, y2, N * C * 12, 0, 0);
    ck_assert_int_eq(tsame_int("maxpool 2/2/0 idx", ik, i2, N * C * 12), 0);
}
END_TEST

/* PyTorch's choice on ties: the first max in scan order, the padding never
 * wins; on an all-equal input window (ho, wo) of 3/2/1 picks its first input
 * element, (max(0, 2ho-1), max(0, 2wo-1)); a NaN propagates. */
START_TEST(maxpool_kxk_ties_and_nan) {
    lirf_ctx *ctx = tctx();
    enum { H = 6, W = 5, Ho = 3, Wo = 3 };
    double x[H * W], y[Ho * Wo], got[Ho * Wo];
    int32_t idx[Ho * Wo], gidx[Ho * Wo], want[Ho * Wo];
    for (int i = 0; i < H * W; i++) x[i] = -3;
    for (int ho = 0; ho < Ho; ho++)
        for (int wo = 0; wo < Wo; wo++)
            want[ho * Wo + wo] = (ho ? 2 * ho - 1 : 0) * W + (wo ? 2 * wo - 1 : 0);
    ref_maxpool_forward(y, idx, x, 1, 1, H, W, 3, 2, 1);
    ck_assert_int_eq(tsame_int("ref 3/2/1 ties", idx, want, Ho * Wo), 0);
    x[1 * W + 1] = NAN; /* in windows (0,0), (0,1), (1,0), (1,1) */
    x[5 * W + 4] = 2;   /* window (2,2) only */
    ref_maxpool_forward(y, idx, x, 1, 1, H, W, 3, 2, 1);
    ck_assert(isnan(y[0]) && isnan(y[1]) && isnan(y[3]) && isnan(y[4]) && !isnan(y[2]));
    ck_assert(idx[4] == 1 * W + 1 && y[8] == 2 && idx[8] == 5 * W + 4);
    tbuf bx = tbuf_new(x, H * W), by = tbuf_zeros(Ho * Wo), bi = tbuf_zeros(Ho * Wo);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi.v, bx.v, 1, 1, H, W, 3, 2, 1), LIRF_OK);
    tbuf_get(&by, got, Ho * Wo);
    tbuf_get_int(&bi, gidx, Ho * Wo);
    ck_assert_close("device 3/2/1 NaN y", got, y, Ho * Wo, 0, 0);
    ck_assert_int_eq(tsame_int("device 3/2/1 idx", gidx, idx, Ho * Wo), 0);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi);
}
END_TEST

typedef struct { const double *w; int N, C, H, W, K, S, P; } kpool_fd;

static double kpool_loss(void *vc, const double *x) {
    kpool_fd *c = vc;
    int Ho = (c->H + 2 * c->P - c->K) / c->S + 1, Wo = (c->W + 2 * c->P - c->K) / c->S + 1;
    size_t m = (size_t)c->N * c->C * Ho * Wo;
    double *y = dalloc(m), L = 0;
    int32_t *idx = ialloc(m);
    ref_maxpool_forward(y, idx, x, c->N, c->C, c->H, c->W, c->K, c->S, c->P);
    for (size_t i = 0; i < m; i++) L += c->w[i] * y[i];
    free(y), free(idx);
    return L;
}

/* The 3/2/1 backward (overlapping windows: an element can be the max of up
 * to four) against finite differences of the forward, away from ties. */
START_TEST(maxpool_kxk_gradient_finite_differences) {
    trng r = {207};
    enum { N = 2, C = 2, H = 7, W = 8, Ho = 4, Wo = 4 };
    size_t n = (size_t)N * C * H * W, m = (size_t)N * C * Ho * Wo;
    double x[N * C * H * W], w[N * C * Ho * Wo], y[N * C * Ho * Wo], dx[N * C * H * W],
        fd[N * C * H * W];
    int32_t idx[N * C * Ho * Wo];
    for (size_t i = 0; i < n; i++) x[i] = 0.01 * (double)i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)trng_int(&r, 0, (int)i + 1);
        double t = x[i];
        x[i] = x[j], x[j] = t;
    }
    trand_fill(&r, w, m, -1, 1);
    ref_maxpool_forward(y, idx, x, N, C, H, W, 3, 2, 1);
    ref_maxpool_backward(dx, w, idx, N, C, H, W, 3, 2, 1);
    kpool_fd c = {w, N, C, H, W, 3, 2, 1};
    tfd_grad(kpool_loss, &c, x, n, 1e-6, fd);
    ck_assert_close("maxpool 3/2/1 dx vs fd", dx, fd, n, 1e-8, 1e-6);
    size_t shared = 0; /* some element is the max of several windows */
    for (size_t i = 0; i < m; i++)
        for (size_t j = i + 1; j < m && j / (Ho * Wo) == i / (Ho * Wo); j++) shared += idx[i] == idx[j];
    ck_assert_uint_gt(shared, 0);
    /* and the device's backward on the same */
    kshape k = {N, C, H, W, 3, 2, 1};
    tround_f32(x, n), tround_f32(w, m); /* distinct still: 0.01 apart */
    kpool_check(x, w, &k, "maxpool 3/2/1 fd input");
}
END_TEST

START_TEST(maxpool_kxk_invalid_arguments_rejected) {
    lirf_ctx *ctx = tctx();
    double z[64] = {0};
    int32_t zi[16] = {0};
    /* x (1,2,5,5) -> 3/2/1 y (1,2,3,3) */
    tbuf bx = tbuf_new(z, 50), by = tbuf_new(z, 18), bi = tbuf_new_int(zi, 16),
         bys = tbuf_new(z, 17), bxs = tbuf_new(z, 49), bi18 = tbuf_zeros(18);
    lirf_buf NB = LIRF_NOBUF;
    ck_assert_int_eq(lirf_maxpool_forward(ctx, NB, bi18.v, bx.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, NB, bx.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, NB, 1, 2, 5, 5, 3, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 0, 2, 5, 5, 3, 2, 1), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1, 2, 5, 5, 3, 0, 1), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1, 2, 5, 5, 3, 2, 2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1, 2, 5, 5, 0, 2, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1, 2, 5, 5, 3, 2, -1), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1, 2, 2, 2, 7, 2, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, bys.v, bi18.v, bx.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi.v, bx.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bxs.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool_forward(ctx, by.v, bi18.v, bx.v, 1 << 16, 1 << 16, 2, 2, 3, 2, 1),
                     LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    ck_assert_int_eq(lirf_maxpool_backward(ctx, NB, by.v, bi18.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool_backward(ctx, bx.v, by.v, NB, 1, 2, 5, 5, 3, 2, 1), LIRF_E_NULL);
    ck_assert_int_eq(lirf_maxpool_backward(ctx, bx.v, by.v, bi18.v, 1, 2, 5, 5, 4, 2, 3), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_maxpool_backward(ctx, bxs.v, by.v, bi18.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool_backward(ctx, bx.v, bys.v, bi18.v, 1, 2, 5, 5, 3, 2, 1), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_maxpool_out(5, 3, 2, 1), 3);
    ck_assert_int_eq(lirf_maxpool_out(112, 3, 2, 1), 56);
    ck_assert_int_eq(lirf_maxpool_out(2, 5, 1, 1), 0);
    double got[50];
    tbuf_get(&bx, got, 50);
    ck_assert_close("x untouched", got, z, 50, 0, 0);
    tbuf_get(&by, got, 18);
    ck_assert_close("y untouched", got, z, 18, 0, 0);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bi), tbuf_free(&bys), tbuf_free(&bxs);
    tbuf_free(&bi18);
}
END_TEST

int main(void) {
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, maxpool_matches_reference);
    tcase_add_test(tc, maxpool_ties_pick_first);
    tcase_add_test(tc, maxpool_nan_propagates);
    tcase_add_test(tc, maxpool_gradient_finite_differences);
    tcase_add_test(tc, gap_matches_reference);
    tcase_add_test(tc, gap_gradient_finite_differences);
    tcase_add_test(tc, pool_invalid_arguments_rejected);
    tcase_add_test(tc, maxpool_kxk_matches_reference);
    tcase_add_test(tc, maxpool_kxk_is_maxpool2_at_2_2_0);
    tcase_add_test(tc, maxpool_kxk_ties_and_nan);
    tcase_add_test(tc, maxpool_kxk_gradient_finite_differences);
    tcase_add_test(tc, maxpool_kxk_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
