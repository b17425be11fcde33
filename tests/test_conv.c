/* Convolution: lirf_conv2d_forward / _backward (cl_kernels/conv.cl,
 * model/ops/op_conv.c) against the direct-loop references (model/ref/ref_conv.c);
 * the references' gradients by central finite differences; every specialised
 * kernel (1x1, 3x3 stride 1/2/3, larger filters) on odd sizes; chunking of the
 * batch (LIRF_CONV_CHUNK_ELEMS, and planes large enough to be split); invalid
 * arguments.
 *
 * Tolerances (float device vs double reference, inputs in [-1, 1]):
 * y and dx atol 1e-4 rtol 1e-4 (sums of at most C*R*S*... <= 300 terms of
 * size <= 1); dw and db atol 2e-4 rtol 1e-4 (sums of up to N*Ho*Wo = 400
 * terms); db of large_plane_chunks (4.3 M terms) atol 1e-2 rtol 1e-3.
 * Finite differences: the loss is linear in each input, so central
 * differences are exact up to rounding: atol 1e-8. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

static const double ATOL_Y = 1e-4, RTOL_Y = 1e-4, ATOL_DW = 2e-4, RTOL_DW = 1e-4;

typedef struct {
    size_t x, w, y;
} conv_sizes;

static conv_sizes sizes_of(const lirf_conv_shape *s) {
    conv_sizes z;
    z.x = (size_t)s->N * s->C * s->H * s->W;
    z.w = (size_t)s->K * s->C * s->R * s->S;
    z.y = (size_t)s->N * s->K * lirf_conv_out_h(s) * lirf_conv_out_w(s);
    return z;
}

static double *rnd(trng *r, size_t n, double lo, double hi) {
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    trand_fill(r, p, n, lo, hi);
    return p;
}

/* Rounds to float, so that the reference sees what the device sees. */
static void to_float(double *p, size_t n) {
    for (size_t i = 0; i < n; i++) p[i] = (float)p[i];
}

/* Forward and backward of one shape on the device against the reference.
 * dw and db start from non-zero values (accumulate), dx from garbage (written).
 * Also backward with dx and db absent. */
static void check_case(const lirf_conv_shape *s, int bias, uint64_t seed) {
    lirf_ctx *ctx = tctx();
    trng r = {seed};
    conv_sizes z = sizes_of(s);
    size_t K = (size_t)s->K;
    double *x = rnd(&r, z.x, -1, 1), *w = rnd(&r, z.w, -1, 1), *b = rnd(&r, K, -1, 1);
    double *dy = rnd(&r, z.y, -1, 1), *dw0 = rnd(&r, z.w, -1, 1), *db0 = rnd(&r, K, -1, 1);
    double *dxg = rnd(&r, z.x, -5, 5), *yg = rnd(&r, z.y, -5, 5);
    to_float(x, z.x), to_float(w, z.w), to_float(b, K), to_float(dy, z.y);
    to_float(dw0, z.w), to_float(db0, K);

    double *y = malloc(z.y * sizeof *y), *dx = malloc(z.x * sizeof *dx);
    double *dw = malloc(z.w * sizeof *dw), *db = malloc(K * sizeof *db);
    double *got = malloc((z.x > z.y ? (z.x > z.w ? z.x : z.w) : (z.y > z.w ? z.y : z.w)) *
                         sizeof *got);
    for (size_t i = 0; i < z.w; i++) dw[i] = dw0[i];
    for (size_t i = 0; i < K; i++) db[i] = db0[i];
    ref_conv2d_forward(y, x, w, bias ? b : NULL, s);
    ref_conv2d_backward(dx, dw, bias ? db : NULL, dy, x, w, s);

    tbuf bx = tbuf_new(x, z.x), bw = tbuf_new(w, z.w), bb = tbuf_new(b, K);
    tbuf by = tbuf_new(yg, z.y); /* y and dx start from garbage: they are written */
    tbuf bdy = tbuf_new(dy, z.y), bdx = tbuf_new(dxg, z.x);
    tbuf bdw = tbuf_new(dw0, z.w), bdb = tbuf_new(db0, K);

    lirf_status st = lirf_conv2d_forward(ctx, by.v, bx.v, bw.v, bias ? bb.v : LIRF_NOBUF, s);
    ck_assert_msg(st == LIRF_OK, "forward: %s", lirf_error_message());
    tbuf_get(&by, got, z.y);
    ck_assert_close("conv y", got, y, z.y, ATOL_Y, RTOL_Y);

    st = lirf_conv2d_backward(ctx, bdx.v, bdw.v, bias ? bdb.v : LIRF_NOBUF, bdy.v, bx.v, bw.v, s);
    ck_assert_msg(st == LIRF_OK, "backward: %s", lirf_error_message());
    tbuf_get(&bdx, got, z.x);
    ck_assert_close("conv dx", got, dx, z.x, ATOL_Y, RTOL_Y);
    tbuf_get(&bdw, got, z.w);
    ck_assert_close("conv dw", got, dw, z.w, ATOL_DW, RTOL_DW);
    tbuf_get(&bdb, got, K);
    /* without bias db must be untouched */
    ck_assert_close("conv db", got, bias ? db : db0, K, ATOL_DW, RTOL_DW);
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bdx) && tbuf_guards_ok(&bdw) &&
              tbuf_guards_ok(&bdb));

    /* dx and db absent: dw accumulates a second time, dx keeps its values */
    double *dx_before = malloc(z.x * sizeof *dx_before);
    tbuf_get(&bdx, dx_before, z.x);
    ref_conv2d_backward(NULL, dw, NULL, dy, x, w, s);
    st = lirf_conv2d_backward(ctx, LIRF_NOBUF, bdw.v, LIRF_NOBUF, bdy.v, bx.v, bw.v, s);
    ck_assert_msg(st == LIRF_OK, "backward (dw only): %s", lirf_error_message());
    tbuf_get(&bdw, got, z.w);
    ck_assert_close("conv dw (twice)", got, dw, z.w, 2e-4, 2e-4);
    tbuf_get(&bdx, got, z.x);
    ck_assert_close("conv dx untouched", got, dx_before, z.x, 0, 0);
    ck_assert(tbuf_guards_ok(&bdw));

    /* a frozen layer: dw and db absent, dx written as before, dw untouched */
    double *dw_before = malloc(z.w * sizeof *dw_before);
    tbuf_get(&bdw, dw_before, z.w);
    st = lirf_conv2d_backward(ctx, bdx.v, LIRF_NOBUF, LIRF_NOBUF, bdy.v, bx.v, bw.v, s);
    ck_assert_msg(st == LIRF_OK, "backward (dx only): %s", lirf_error_message());
    tbuf_get(&bdx, got, z.x);
    ck_assert_close("conv dx (frozen layer)", got, dx, z.x, ATOL_Y, RTOL_Y);
    tbuf_get(&bdw, got, z.w);
    ck_assert_close("conv dw untouched", got, dw_before, z.w, 0, 0);
    free(dw_before);

    tbuf_free(&bx), tbuf_free(&bw), tbuf_free(&bb), tbuf_free(&by);
    tbuf_free(&bdy), tbuf_free(&bdx), tbuf_free(&bdw), tbuf_free(&bdb);
    free(x), free(w), free(b), free(dy), free(dw0), free(db0), free(dxg), free(yg);
    free(y), free(dx), free(dw), free(db), free(got), free(dx_before);
}

START_TEST(out_size) {
    lirf_conv_shape a = {2, 3, 7, 9, 5, 3, 3, 1, 1};
    ck_assert_int_eq(lirf_conv_out_h(&a), 7);
    ck_assert_int_eq(lirf_conv_out_w(&a), 9);
    lirf_conv_shape b = {1, 4, 8, 8, 6, 3, 3, 2, 1};
    ck_assert_int_eq(lirf_conv_out_h(&b), 4);
    lirf_conv_shape c = {3, 5, 7, 7, 7, 1, 1, 2, 0};
    ck_assert_int_eq(lirf_conv_out_h(&c), 4);
    lirf_conv_shape d = {2, 2, 5, 6, 3, 3, 3, 1, 0};
    ck_assert_int_eq(lirf_conv_out_h(&d), 3);
    ck_assert_int_eq(lirf_conv_out_w(&d), 4);
    lirf_conv_shape e = {1, 1, 2, 2, 1, 3, 3, 1, 0}; /* kernel larger than the input */
    ck_assert_int_eq(lirf_conv_out_h(&e), 0);
    e.stride = 0;
    e.pad = 1;
    ck_assert_int_eq(lirf_conv_out_w(&e), 0);
    ck_assert_int_eq(lirf_conv_out_h(NULL), 0);
}
END_TEST

START_TEST(s1_p1_bias) {
    lirf_conv_shape s = {2, 3, 7, 9, 5, 3, 3, 1, 1};
    check_case(&s, 1, 101);
}
END_TEST

START_TEST(s2_p1_no_bias_batch1) {
    lirf_conv_shape s = {1, 4, 8, 8, 6, 3, 3, 2, 1};
    check_case(&s, 0, 102);
}
END_TEST

START_TEST(downsample_1x1_s2_p0) {
    lirf_conv_shape s = {3, 5, 7, 7, 7, 1, 1, 2, 0};
    check_case(&s, 1, 103);
    check_case(&s, 0, 104);
}
END_TEST

START_TEST(s1_p0_non_square) {
    lirf_conv_shape s = {2, 2, 5, 6, 3, 3, 3, 1, 0};
    check_case(&s, 1, 105);
    lirf_conv_shape t = {2, 3, 6, 5, 4, 3, 1, 2, 2}; /* 3x1 kernel, pad > kernel/2 */
    check_case(&t, 1, 106);
}
END_TEST

START_TEST(resnet_sized) {
    lirf_conv_shape s = {4, 16, 16, 16, 32, 3, 3, 2, 1};
    check_case(&s, 0, 107);
    lirf_conv_shape t = {2, 16, 16, 16, 16, 3, 3, 1, 1};
    check_case(&t, 1, 108);
}
END_TEST

/* Every specialised kernel of conv.cl (see op_conv.c: im2col, col2im):
 * 1x1 stride 1 unpadded (no im2col: permutes), 1x1 with stride or pad
 * (im2col_k1, col2im_t1), 3x3 stride 1 (im2col_k3, col2im_s1k3), 3x3 stride 2
 * (col2im_t2), 3x3 stride 3 (col2im_t1 with three taps per dimension), and
 * the plain kernels for larger filters (im2col, col2im), all on odd sizes. */
START_TEST(pointwise_1x1_s1) {
    lirf_conv_shape s = {3, 5, 7, 9, 6, 1, 1, 1, 0};
    check_case(&s, 1, 110);
    check_case(&s, 0, 111);
    lirf_conv_shape t = {1, 4, 5, 3, 7, 1, 1, 1, 0}; /* one image: x, y, dx used in place */
    check_case(&t, 0, 112);
    check_case(&t, 1, 113);
}
END_TEST

START_TEST(one_by_one_strided_or_padded) {
    lirf_conv_shape s = {2, 3, 9, 7, 5, 1, 1, 2, 0}; /* odd sizes, stride 2 */
    check_case(&s, 1, 114);
    lirf_conv_shape t = {2, 3, 7, 8, 4, 1, 1, 3, 1}; /* stride 3, pad 1 */
    check_case(&t, 0, 115);
    lirf_conv_shape u = {2, 2, 5, 6, 3, 1, 1, 1, 1}; /* stride 1 but padded: im2col_k1 */
    check_case(&u, 1, 116);
}
END_TEST

START_TEST(strided_3x3_odd) {
    lirf_conv_shape s = {3, 3, 9, 11, 4, 3, 3, 2, 1}; /* col2im_t2 */
    check_case(&s, 1, 117);
    lirf_conv_shape t = {2, 2, 10, 7, 3, 3, 3, 3, 0}; /* col2im_t1, 3 taps apart */
    check_case(&t, 0, 118);
    lirf_conv_shape u = {2, 2, 8, 9, 3, 3, 2, 2, 2}; /* 3x2, pad 2 */
    check_case(&u, 1, 119);
}
END_TEST

START_TEST(large_filters) {
    lirf_conv_shape s = {2, 3, 9, 8, 4, 5, 5, 1, 2}; /* plain im2col, col2im (5 taps) */
    check_case(&s, 1, 120);
    lirf_conv_shape t = {2, 2, 13, 11, 3, 7, 7, 2, 3}; /* ImageNet-style stem: 4 taps */
    check_case(&t, 0, 121);
    lirf_conv_shape u = {2, 2, 7, 9, 3, 1, 4, 1, 1}; /* 1x4: plain im2col, col2im */
    check_case(&u, 1, 122);
}
END_TEST

static uint64_t gemm_calls(void) { return lirf_ctx_stats(tctx())->gemm_calls; }

/* The batch split into chunks: per image max(CRS, K) * HoWo = 27 * 42 = 1134
 * scratch elements, so a limit of 2500 gives chunks of 2, 2 and 1 images and
 * a limit of 1 gives one image per chunk. The GEMM count shows the split. */
START_TEST(chunked_batch) {
    lirf_conv_shape s = {5, 3, 7, 6, 4, 3, 3, 1, 1};
    /* the im2col path's chunks (taps_path covers the taps path's) */
    ck_assert_int_eq(tsetenv("LIRF_CONV_TAPS", "0"), 0);
    static const struct {
        const char *limit;
        uint64_t chunks;
    } cases[] = {{"2500", 3}, {"1", 5}, {"1000000", 1}, {"junk", 1}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ck_assert_int_eq(tsetenv("LIRF_CONV_CHUNK_ELEMS", cases[i].limit), 0);
        uint64_t g0 = gemm_calls();
        check_case(&s, 1, 200 + i);
        /* forward: one GEMM per chunk; backward: two (dw, dx), then one (dw),
         * then one (dx, frozen layer) */
        ck_assert_msg(gemm_calls() - g0 == 5 * cases[i].chunks,
                      "limit %s: %llu GEMMs, want %llu", cases[i].limit,
                      (unsigned long long)(gemm_calls() - g0),
                      (unsigned long long)(5 * cases[i].chunks));
    }
    tsetenv("LIRF_CONV_CHUNK_ELEMS", NULL);
    tsetenv("LIRF_CONV_TAPS", NULL);
}
END_TEST

/* Chunks also keep nb * Ho * Wo below 2^22 (im2col indexes a chunk's
 * columns in float): 3 images of 1200x1200 run as chunks of 2 and 1. y, dx
 * and db (a float sum of 4.3 M terms: atol 1e-2, rtol 1e-3) against the
 * reference; dw is left out here (check_case covers it on chunks), as its
 * GEMM has K = 2.9 M, which CLBlast gets wrong on Mesa rusticl (llvmpipe). */
START_TEST(large_plane_chunks) {
    lirf_ctx *ctx = tctx();
    /* a scratch budget that would take all 3 images (64 Mi floats): the 2^22
     * bound is what splits them */
    tsetenv("LIRF_CONV_CHUNK_ELEMS", "67108864");
    lirf_conv_shape s = {3, 1, 1200, 1200, 1, 3, 3, 1, 1};
    conv_sizes z = sizes_of(&s);
    trng r = {210};
    double *x = rnd(&r, z.x, -1, 1), *w = rnd(&r, z.w, -1, 1), *b = rnd(&r, 1, -1, 1);
    double *dy = rnd(&r, z.y, -1, 1), db0 = 0.25, db = db0;
    to_float(x, z.x), to_float(w, z.w), to_float(b, 1), to_float(dy, z.y);
    double *y = malloc(z.y * sizeof *y), *dx = malloc(z.x * sizeof *dx);
    double *got = malloc(z.x * sizeof *got); /* z.x == z.y */
    ref_conv2d_forward(y, x, w, b, &s);
    double dw_unused[9] = {0}; /* the reference always computes dw */
    ref_conv2d_backward(dx, dw_unused, &db, dy, x, w, &s);
    tbuf bx = tbuf_new(x, z.x), bw = tbuf_new(w, z.w), bb = tbuf_new(b, 1), by = tbuf_new(y, z.y);
    tbuf bdy = tbuf_new(dy, z.y), bdx = tbuf_new(y, z.x), bdb = tbuf_new(&db0, 1);
    uint64_t g0 = gemm_calls();
    ck_assert_int_eq(lirf_conv2d_forward(ctx, by.v, bx.v, bw.v, bb.v, &s), LIRF_OK);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, bdx.v, LIRF_NOBUF, bdb.v, bdy.v, bx.v, bw.v, &s),
                     LIRF_OK);
    ck_assert_msg(gemm_calls() - g0 == 2 * 2, "%llu GEMMs, want 4 (2 chunks)",
                  (unsigned long long)(gemm_calls() - g0));
    tsetenv("LIRF_CONV_CHUNK_ELEMS", NULL);
    tbuf_get(&by, got, z.y);
    ck_assert_close("large y", got, y, z.y, ATOL_Y, RTOL_Y);
    tbuf_get(&bdx, got, z.x);
    ck_assert_close("large dx", got, dx, z.x, ATOL_Y, RTOL_Y);
    tbuf_get(&bdb, got, 1);
    ck_assert_close("large db", got, &db, 1, 1e-2, 1e-3);
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bdx) && tbuf_guards_ok(&bdb));
    tbuf_free(&bx), tbuf_free(&bw), tbuf_free(&bb), tbuf_free(&by);
    tbuf_free(&bdy), tbuf_free(&bdx), tbuf_free(&bdb);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(got);
}
END_TEST

/* ---- finite differences of the reference ---------------------------------- */
typedef struct {
    const lirf_conv_shape *s;
    double *x, *w, *b; /* the point; one of them is perturbed */
    const double *wt;  /* (N,K,Ho,Wo) loss weights */
} conv_fd;

static double conv_loss(void *p, const double *unused) {
    (void)unused; /* tfd_grad perturbs x, w or b in place */
    conv_fd *c = p;
    size_t n = sizes_of(c->s).y;
    double *y = malloc(n * sizeof *y), L = 0;
    ref_conv2d_forward(y, c->x, c->w, c->b, c->s);
    for (size_t i = 0; i < n; i++) L += c->wt[i] * y[i];
    free(y);
    return L;
}

static void fd_case(const lirf_conv_shape *s, uint64_t seed) {
    trng r = {seed};
    conv_sizes z = sizes_of(s);
    size_t K = (size_t)s->K;
    double *x = rnd(&r, z.x, -1, 1), *w = rnd(&r, z.w, -1, 1), *b = rnd(&r, K, -1, 1);
    double *wt = rnd(&r, z.y, -1, 1);
    double *dx = malloc(z.x * sizeof *dx), *dw = calloc(z.w, sizeof *dw);
    double *db = calloc(K, sizeof *db);
    double *fx = malloc(z.x * sizeof *fx), *fw = malloc(z.w * sizeof *fw);
    double *fb = malloc(K * sizeof *fb);
    ref_conv2d_backward(dx, dw, db, wt, x, w, s);
    conv_fd c = {s, x, w, b, wt};
    tfd_grad(conv_loss, &c, x, z.x, 1e-4, fx);
    tfd_grad(conv_loss, &c, w, z.w, 1e-4, fw);
    tfd_grad(conv_loss, &c, b, K, 1e-4, fb);
    ck_assert_close("fd dx", dx, fx, z.x, 1e-8, 0);
    ck_assert_close("fd dw", dw, fw, z.w, 1e-8, 0);
    ck_assert_close("fd db", db, fb, K, 1e-8, 0);
    /* non-vacuous: the gradients are not all zero */
    double sx = 0, sw = 0;
    for (size_t i = 0; i < z.x; i++) sx += fabs(dx[i]);
    for (size_t i = 0; i < z.w; i++) sw += fabs(dw[i]);
    ck_assert(sx > 0.1 && sw > 0.1);
    free(x), free(w), free(b), free(wt), free(dx), free(dw), free(db), free(fx), free(fw),
        free(fb);
}

START_TEST(reference_gradients_finite_differences) {
    lirf_conv_shape a = {2, 2, 5, 4, 3, 3, 2, 2, 1}; /* 3x2 kernel, stride 2 */
    fd_case(&a, 301);
    lirf_conv_shape b = {1, 3, 4, 5, 2, 3, 3, 1, 0};
    fd_case(&b, 302);
    lirf_conv_shape c = {2, 3, 5, 5, 2, 1, 1, 2, 0};
    fd_case(&c, 303);
}
END_TEST

/* ---- invalid arguments ----------------------------------------------------- */
START_TEST(invalid_arguments_rejected) {
    lirf_ctx *ctx = tctx();
    lirf_conv_shape s = {2, 3, 5, 5, 4, 3, 3, 1, 1};
    conv_sizes z = sizes_of(&s);
    trng r = {400};
    double *h = rnd(&r, z.x + z.y + z.w, -1, 1);
    tbuf x = tbuf_new(h, z.x), y = tbuf_new(h, z.y), w = tbuf_new(h, z.w), b = tbuf_new(h, 4);
    tbuf dx = tbuf_new(h, z.x), dw = tbuf_new(h, z.w), db = tbuf_new(h, 4);
    lirf_buf nob = LIRF_NOBUF, small;
    uint64_t launches = lirf_ctx_stats(ctx)->kernel_launches, gemms = gemm_calls();

    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, NULL), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, w.v, NULL), LIRF_E_NULL);
    /* sizes */
    int *fields[] = {&s.N, &s.C, &s.H, &s.W, &s.K, &s.R, &s.S, &s.stride};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        int keep = *fields[i];
        *fields[i] = 0;
        ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &s), LIRF_E_INVALID);
        *fields[i] = -2;
        ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, w.v, &s),
                         LIRF_E_INVALID);
        *fields[i] = keep;
    }
    s.pad = -1;
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &s), LIRF_E_INVALID);
    s.pad = 0;
    s.R = 7; /* larger than the padded input */
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &s), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, w.v, &s), LIRF_E_SHAPE);
    s.R = 3;
    s.pad = 1;
    /* padded plane of 2^22 pixels or more (2046 + 2 = 2048) */
    lirf_conv_shape big = {1, 1, 2046, 2046, 1, 3, 3, 1, 1};
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &big), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, w.v, &big),
                     LIRF_E_INVALID);
    big.H = big.W = 2045; /* 2047 x 2047 is below: only the views are too small */
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &big), LIRF_E_SHAPE);
    /* NULL required buffers */
    ck_assert_int_eq(lirf_conv2d_forward(ctx, nob, x.v, w.v, b.v, &s), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, nob, w.v, b.v, &s), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, nob, b.v, &s), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, nob, x.v, w.v, &s), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, nob, w.v, &s), LIRF_E_NULL);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, nob, &s), LIRF_E_NULL);
    /* views one element too small */
    small = y.v, small.n--;
    ck_assert_int_eq(lirf_conv2d_forward(ctx, small, x.v, w.v, b.v, &s), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, small, x.v, w.v, &s), LIRF_E_SHAPE);
    small = x.v, small.n--;
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, small, w.v, b.v, &s), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, small, dw.v, db.v, y.v, x.v, w.v, &s), LIRF_E_SHAPE);
    small = w.v, small.n--;
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, small, b.v, &s), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, small, db.v, y.v, x.v, w.v, &s), LIRF_E_SHAPE);
    small = b.v, small.n--;
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, small, &s), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, small, y.v, x.v, w.v, &s), LIRF_E_SHAPE);
    ck_assert_str_ne(lirf_error_message(), "");
    /* nothing was launched */
    ck_assert(lirf_ctx_stats(ctx)->kernel_launches == launches);
    ck_assert(gemm_calls() == gemms);
    /* and the same arguments, valid, do run */
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, b.v, &s), LIRF_OK);
    ck_assert_int_eq(lirf_conv2d_forward(ctx, y.v, x.v, w.v, nob, &s), LIRF_OK);
    ck_assert_int_eq(lirf_conv2d_backward(ctx, dx.v, dw.v, db.v, y.v, x.v, w.v, &s), LIRF_OK);
    ck_assert_int_eq(lirf_finish(ctx), LIRF_OK);
    tbuf_free(&x), tbuf_free(&y), tbuf_free(&w), tbuf_free(&b);
    tbuf_free(&dx), tbuf_free(&dw), tbuf_free(&db);
    free(h);
}
END_TEST

/* Both GEMM engines on shapes that reach every part of the packed one's
 * im2col: several K slices in the forward GEMM (C*R*S = 1170 > 1024) and in
 * the weight gradient's (L = 1728 > 1024), padding columns (C*R*S = 45, not a
 * multiple of 32), stride 2, a pointwise conv over several images, and the
 * im2col kernels that only the CLBlast engine uses (1x1 strided, 5x5). */
START_TEST(both_gemm_engines) {
    lirf_ctx *ctx = tctx();
    lirf_gemm_engine was = lirf_gemm_engine_get(ctx);
    lirf_conv_shape a = {2, 130, 6, 6, 5, 3, 3, 1, 1};
    lirf_conv_shape b = {3, 5, 24, 24, 7, 3, 3, 1, 1};
    lirf_conv_shape c = {4, 16, 16, 16, 32, 3, 3, 2, 1};
    lirf_conv_shape d = {3, 5, 7, 9, 6, 1, 1, 1, 0};
    lirf_conv_shape f = {2, 3, 9, 7, 5, 1, 1, 2, 0}; /* 1x1 stride 2: im2col_k1 */
    lirf_conv_shape g = {2, 3, 9, 8, 4, 5, 5, 1, 2}; /* 5x5: the plain im2col */
    for (int e = 0; e < 2; e++) {
        lirf_gemm_engine eng = e ? LIRF_GEMM_PACKED : LIRF_GEMM_CLBLAST;
        ck_assert_int_eq(lirf_gemm_engine_set(ctx, eng), LIRF_OK);
        ck_assert_int_eq(lirf_gemm_engine_get(ctx), eng);
        check_case(&a, 1, 900 + (uint64_t)e);
        check_case(&b, 0, 910 + (uint64_t)e);
        check_case(&c, 1, 920 + (uint64_t)e);
        check_case(&d, 0, 930 + (uint64_t)e);
        check_case(&f, 1, 940 + (uint64_t)e);
        check_case(&g, 0, 950 + (uint64_t)e);
    }
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, was), LIRF_OK);
}
END_TEST

/* The taps path (stride-1 3x3 convolutions with padding 1 on the packed
 * engine, without im2col; model/ops/op_conv.c), taken for every such shape with
 * LIRF_CONV_TAPS=1: tiles of 8 and 12 rows in the forward (K) and in dx (C),
 * one input channel, odd K (the weight gradient's channel pairs), several
 * blocks of output positions in the weight gradient (Q = 4 * 32 * 31 >
 * 2048), non-square planes, batches in several chunks (the taps path's own
 * chunking: 2 images of 4 channels of 9x8 padded per 2400 / 4 floats), and
 * one image. The same shapes with LIRF_CONV_TAPS=0 take the im2col path. */
START_TEST(taps_path) {
    lirf_ctx *ctx = tctx();
    if (!lirf_device_pocl_cpu(lirf_ctx_device(tctx()))) {
        printf("SKIPPED: the taps kernels are built for PoCL CPU devices only\n");
        return;
    }
    lirf_gemm_engine was = lirf_gemm_engine_get(ctx);
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, LIRF_GEMM_PACKED), LIRF_OK);
    const lirf_conv_shape shapes[] = {
        {2, 3, 7, 9, 5, 3, 3, 1, 1},    /* 8-row tiles */
        {2, 24, 5, 6, 24, 3, 3, 1, 1},  /* 12-row tiles */
        {3, 1, 9, 8, 16, 3, 3, 1, 1},   /* one input channel (a stem) */
        {2, 13, 6, 5, 13, 3, 3, 1, 1},  /* odd K */
        {4, 2, 30, 29, 3, 3, 3, 1, 1},  /* two blocks of the weight gradient */
        {1, 4, 4, 4, 6, 3, 3, 1, 1},    /* one image */
    };
    for (int on = 1; on >= 0; on--) {
        ck_assert_int_eq(tsetenv("LIRF_CONV_TAPS", on ? "1" : "0"), 0);
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
            check_case(&shapes[i], (int)(i % 2), 1000 + 10 * (uint64_t)on + i);
        ck_assert_int_eq(tsetenv("LIRF_CONV_CHUNK_ELEMS", "2400"), 0);
        lirf_conv_shape c = {5, 3, 7, 6, 4, 3, 3, 1, 1};
        check_case(&c, 1, 1100 + (uint64_t)on);
        tsetenv("LIRF_CONV_CHUNK_ELEMS", NULL);
    }
    tsetenv("LIRF_CONV_TAPS", NULL);
    ck_assert_int_eq(lirf_gemm_engine_set(ctx, was), LIRF_OK);
}
END_TEST

int main(void) {
    tsetenv("LIRF_CONV_CHUNK_ELEMS", NULL);
    tsetenv("LIRF_CONV_TAPS", NULL);
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, out_size);
    tcase_add_test(tc, reference_gradients_finite_differences);
    tcase_add_test(tc, s1_p1_bias);
    tcase_add_test(tc, s2_p1_no_bias_batch1);
    tcase_add_test(tc, downsample_1x1_s2_p0);
    tcase_add_test(tc, s1_p0_non_square);
    tcase_add_test(tc, resnet_sized);
    tcase_add_test(tc, pointwise_1x1_s1);
    tcase_add_test(tc, one_by_one_strided_or_padded);
    tcase_add_test(tc, strided_3x3_odd);
    tcase_add_test(tc, large_filters);
    tcase_add_test(tc, chunked_batch);
    tcase_add_test(tc, large_plane_chunks);
    tcase_add_test(tc, invalid_arguments_rejected);
    tcase_add_test(tc, both_gemm_engines);
    tcase_add_test(tc, taps_path);
    suite_add_tcase(s, tc);
    return trun(s);
}
