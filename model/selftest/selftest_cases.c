/* The selftest's cases: every op of model/ops/ops.h (forward and backward)
 * and the GEMM against model/ref/, each on a small shape. A new op: one
 * function below and one line of CASES. Inputs are random and fixed (the
 * harness seeds each case); accumulated outputs start from random values so
 * that the accumulation is checked too. */
#include <math.h>

#include "ref.h"
#include "selftest.h"

#define CTX lirf_selftest_ctx(e)
#define H(n) lirf_selftest_host(e, (n))
#define HI(n) lirf_selftest_host_int(e, (n))
#define RND(n, lo, hi) lirf_selftest_rand(e, (n), (lo), (hi))
#define UP(x, n) lirf_selftest_up(e, (x), (n))
#define UPI(x, n) lirf_selftest_up_int(e, (x), (n))
#define CALL(x) lirf_selftest_call(e, (x))
#define CHECK(b, want, n) lirf_selftest_check(e, (b), (want), (n))
#define CHECKI(b, want, n) lirf_selftest_check_int(e, (b), (want), (n))
/* Every case returns early when a host array could not be had (reported). */
#define NEED(...) do { const void *need_[] = {__VA_ARGS__}; \
    for (size_t i_ = 0; i_ < sizeof need_ / sizeof *need_; i_++) if (!need_[i_]) return; } while (0)

/* Rounds to float in place. The volatile keeps GCC 12.2 -O3 from
 * vectorising the loop: inlined with some constant counts (6, 7, 10, 14, ...)
 * it leaves the last elements unrounded (docs/portability.md). */
static void to_f32(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) {
        volatile float f = (float)x[i];
        x[i] = f;
    }
}

/* ---- elementwise ---- */
enum { NE = 1000 };

static void relu_fwd(lirf_selftest_env *e) {
    double *x = RND(NE, -1, 1), *y = H(NE);
    NEED(x, y);
    lirf_buf bx = UP(x, NE), by = UP(y, NE);
    CALL(lirf_relu_forward(CTX, by, bx, NE));
    ref_relu_forward(y, x, NE);
    CHECK(by, y, NE);
}

static void relu_bwd(lirf_selftest_env *e) {
    double *dy = RND(NE, -1, 1), *y = RND(NE, -1, 1), *dx = H(NE);
    NEED(dy, y, dx);
    ref_relu_forward(y, y, NE);
    lirf_buf bdy = UP(dy, NE), by = UP(y, NE), bdx = UP(dx, NE);
    CALL(lirf_relu_backward(CTX, bdx, bdy, by, NE));
    ref_relu_backward(dx, dy, y, NE);
    CHECK(bdx, dx, NE);
}

static void add_case(lirf_selftest_env *e, int relu) {
    double *a = RND(NE, -1, 1), *b = RND(NE, -1, 1), *y = H(NE);
    NEED(a, b, y);
    lirf_buf ba = UP(a, NE), bb = UP(b, NE), by = UP(y, NE);
    CALL(relu ? lirf_add_relu(CTX, by, ba, bb, NE) : lirf_add(CTX, by, ba, bb, NE));
    if (relu) ref_add_relu(y, a, b, NE);
    else ref_add(y, a, b, NE);
    CHECK(by, y, NE);
}
static void add(lirf_selftest_env *e) { add_case(e, 0); }
static void add_relu(lirf_selftest_env *e) { add_case(e, 1); }

static void axpy_scale(lirf_selftest_env *e, int scale) {
    double *y = RND(NE, -1, 1), *x = RND(NE, -1, 1);
    NEED(y, x);
    lirf_buf by = UP(y, NE), bx = UP(x, NE);
    CALL(scale ? lirf_scale(CTX, by, 1.5f, NE) : lirf_axpy(CTX, by, 0.75f, bx, NE));
    if (scale) ref_scale(y, 1.5, NE);
    else ref_axpy(y, 0.75, x, NE);
    CHECK(by, y, NE);
}
static void axpy(lirf_selftest_env *e) { axpy_scale(e, 0); }
static void scale(lirf_selftest_env *e) { axpy_scale(e, 1); }

static void count_nonfinite(lirf_selftest_env *e) {
    double *x = RND(NE, -1, 1);
    int32_t *count = HI(1);
    NEED(x, count);
    x[3] = NAN, x[100] = INFINITY, x[777] = -INFINITY;
    lirf_buf bx = UP(x, NE), bc = UPI(count, 1);
    CALL(lirf_count_nonfinite(CTX, bc, bx, NE));
    count[0] = (int32_t)ref_count_nonfinite(x, NE);
    CHECKI(bc, count, 1);
}

/* ---- convolution ---- */
static const lirf_conv_shape CONV1 = {2, 3, 7, 7, 4, 3, 3, 1, 1};
static const lirf_conv_shape CONV2 = {2, 3, 7, 7, 5, 3, 3, 2, 1};

static void conv_fwd(lirf_selftest_env *e, const lirf_conv_shape *s) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->S;
    size_t ny = (size_t)s->N * s->K * lirf_conv_out_h(s) * lirf_conv_out_w(s);
    double *x = RND(nx, -1, 1), *w = RND(nw, -1, 1), *b = RND(s->K, -1, 1), *y = H(ny);
    NEED(x, w, b, y);
    lirf_buf bx = UP(x, nx), bw = UP(w, nw), bb = UP(b, s->K), by = UP(y, ny);
    CALL(lirf_conv2d_forward(CTX, by, bx, bw, bb, s));
    ref_conv2d_forward(y, x, w, b, s);
    CHECK(by, y, ny);
}

static void conv_bwd(lirf_selftest_env *e, const lirf_conv_shape *s) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->S;
    size_t ny = (size_t)s->N * s->K * lirf_conv_out_h(s) * lirf_conv_out_w(s);
    double *x = RND(nx, -1, 1), *w = RND(nw, -1, 1), *dy = RND(ny, -1, 1), *dx = H(nx);
    double *dw = RND(nw, -1, 1), *db = RND(s->K, -1, 1);
    NEED(x, w, dy, dx, dw, db);
    lirf_buf bx = UP(x, nx), bw = UP(w, nw), bdy = UP(dy, ny), bdx = UP(dx, nx);
    lirf_buf bdw = UP(dw, nw), bdb = UP(db, s->K);
    CALL(lirf_conv2d_backward(CTX, bdx, bdw, bdb, bdy, bx, bw, s));
    ref_conv2d_backward(dx, dw, db, dy, x, w, s);
    CHECK(bdx, dx, nx), CHECK(bdw, dw, nw), CHECK(bdb, db, s->K);
}
static void conv_fwd1(lirf_selftest_env *e) { conv_fwd(e, &CONV1); }
static void conv_fwd2(lirf_selftest_env *e) { conv_fwd(e, &CONV2); }
static void conv_bwd1(lirf_selftest_env *e) { conv_bwd(e, &CONV1); }
static void conv_bwd2(lirf_selftest_env *e) { conv_bwd(e, &CONV2); }

/* ---- batch norm ---- */
enum { BN_N = 4, BN_C = 3, BN_HW = 25, BN_X = BN_N * BN_C * BN_HW };
#define BN_EPS ((double)1e-5f)
#define BN_MOM ((double)0.1f)

typedef struct { double *x, *g, *b, *rm, *rv; lirf_buf bx, bg, bb, brm, brv; } bn_in;

static int bn_inputs(lirf_selftest_env *e, bn_in *in) {
    in->x = RND(BN_X, -2, 2), in->g = RND(BN_C, 0.5, 1.5), in->b = RND(BN_C, -0.5, 0.5);
    in->rm = RND(BN_C, -0.1, 0.1), in->rv = RND(BN_C, 0.5, 1.5);
    if (!in->x || !in->g || !in->b || !in->rm || !in->rv) return 0;
    in->bx = UP(in->x, BN_X), in->bg = UP(in->g, BN_C), in->bb = UP(in->b, BN_C);
    in->brm = UP(in->rm, BN_C), in->brv = UP(in->rv, BN_C);
    return 1;
}

static void bn_fwd_train(lirf_selftest_env *e) {
    bn_in in;
    double *y = H(BN_X), *sm = H(BN_C), *si = H(BN_C);
    NEED(y, sm, si);
    if (!bn_inputs(e, &in)) return;
    lirf_buf by = UP(y, BN_X), bsm = UP(sm, BN_C), bsi = UP(si, BN_C);
    CALL(lirf_bn_forward_train(CTX, by, bsm, bsi, in.brm, in.brv, in.bx, in.bg, in.bb, BN_N, BN_C,
                               BN_HW, 1e-5f, 0.1f));
    ref_bn_forward_train(y, sm, si, in.rm, in.rv, in.x, in.g, in.b, BN_N, BN_C, BN_HW, BN_EPS,
                         BN_MOM);
    CHECK(by, y, BN_X), CHECK(bsm, sm, BN_C), CHECK(bsi, si, BN_C);
    CHECK(in.brm, in.rm, BN_C), CHECK(in.brv, in.rv, BN_C);
}

static void bn_fwd_infer(lirf_selftest_env *e) {
    bn_in in;
    double *y = H(BN_X);
    NEED(y);
    if (!bn_inputs(e, &in)) return;
    lirf_buf by = UP(y, BN_X);
    CALL(lirf_bn_forward_infer(CTX, by, in.bx, in.bg, in.bb, in.brm, in.brv, BN_N, BN_C, BN_HW,
                               1e-5f));
    ref_bn_forward_infer(y, in.x, in.g, in.b, in.rm, in.rv, BN_N, BN_C, BN_HW, BN_EPS);
    CHECK(by, y, BN_X);
}

static void bn_bwd(lirf_selftest_env *e, int train) {
    bn_in in;
    double *dy = RND(BN_X, -1, 1), *dx = H(BN_X), *dg = RND(BN_C, -1, 1), *db = RND(BN_C, -1, 1);
    double *y = H(BN_X), *sm = H(BN_C), *si = H(BN_C);
    NEED(dy, dx, dg, db, y, sm, si);
    if (!bn_inputs(e, &in)) return;
    /* the saved statistics of a forward pass, as the device would hold them */
    ref_bn_forward_train(y, sm, si, in.rm, in.rv, in.x, in.g, in.b, BN_N, BN_C, BN_HW, BN_EPS,
                         BN_MOM);
    to_f32(sm, BN_C), to_f32(si, BN_C), to_f32(in.rm, BN_C), to_f32(in.rv, BN_C);
    lirf_buf bdy = UP(dy, BN_X), bdx = UP(dx, BN_X), bdg = UP(dg, BN_C), bdb = UP(db, BN_C);
    lirf_buf bsm = UP(sm, BN_C), bsi = UP(si, BN_C), brm = UP(in.rm, BN_C), brv = UP(in.rv, BN_C);
    if (train) {
        CALL(lirf_bn_backward(CTX, bdx, bdg, bdb, bdy, in.bx, bsm, bsi, in.bg, BN_N, BN_C, BN_HW));
        ref_bn_backward(dx, dg, db, dy, in.x, sm, si, in.g, BN_N, BN_C, BN_HW);
    } else {
        CALL(lirf_bn_backward_infer(CTX, bdx, bdg, bdb, bdy, in.bx, in.bg, brm, brv, BN_N, BN_C,
                                    BN_HW, 1e-5f));
        ref_bn_backward_infer(dx, dg, db, dy, in.x, in.g, in.rm, in.rv, BN_N, BN_C, BN_HW, BN_EPS);
    }
    CHECK(bdx, dx, BN_X), CHECK(bdg, dg, BN_C), CHECK(bdb, db, BN_C);
}
static void bn_bwd_train(lirf_selftest_env *e) { bn_bwd(e, 1); }
static void bn_bwd_infer(lirf_selftest_env *e) { bn_bwd(e, 0); }

/* ---- pooling ---- */
enum { P_N = 2, P_C = 3, P_H = 7, P_W = 7, P_X = P_N * P_C * P_H * P_W,
       P_Y = P_N * P_C * (P_H / 2) * (P_W / 2), G_C = 5, G_HW = 49 };

static void maxpool2_fwd(lirf_selftest_env *e) {
    double *x = RND(P_X, -1, 1), *y = H(P_Y);
    int32_t *idx = HI(P_Y);
    NEED(x, y, idx);
    lirf_buf bx = UP(x, P_X), by = UP(y, P_Y), bi = UPI(idx, P_Y);
    CALL(lirf_maxpool2_forward(CTX, by, bi, bx, P_N, P_C, P_H, P_W));
    ref_maxpool2_forward(y, idx, x, P_N, P_C, P_H, P_W);
    CHECK(by, y, P_Y), CHECKI(bi, idx, P_Y);
}

static void maxpool2_bwd(lirf_selftest_env *e) {
    double *x = RND(P_X, -1, 1), *y = H(P_Y), *dy = RND(P_Y, -1, 1), *dx = RND(P_X, -1, 1);
    int32_t *idx = HI(P_Y);
    NEED(x, y, dy, dx, idx);
    ref_maxpool2_forward(y, idx, x, P_N, P_C, P_H, P_W);
    lirf_buf bdy = UP(dy, P_Y), bi = UPI(idx, P_Y), bdx = UP(dx, P_X);
    CALL(lirf_maxpool2_backward(CTX, bdx, bdy, bi, P_N, P_C, P_H, P_W));
    ref_maxpool2_backward(dx, dy, idx, P_N, P_C, P_H, P_W);
    CHECK(bdx, dx, P_X);
}

/* The general max-pool at the ImageNet stem's window: 3x3, stride 2, padding 1. */
enum { M_H = 9, M_K = 3, M_S = 2, M_P = 1, M_X = P_N * P_C * M_H * M_H };

static void maxpool_fwd(lirf_selftest_env *e) {
    int ho = lirf_maxpool_out(M_H, M_K, M_S, M_P), ny = P_N * P_C * ho * ho;
    double *x = RND(M_X, -1, 1), *y = H(ny);
    int32_t *idx = HI(ny);
    NEED(x, y, idx);
    lirf_buf bx = UP(x, M_X), by = UP(y, ny), bi = UPI(idx, ny);
    CALL(lirf_maxpool_forward(CTX, by, bi, bx, P_N, P_C, M_H, M_H, M_K, M_S, M_P));
    ref_maxpool_forward(y, idx, x, P_N, P_C, M_H, M_H, M_K, M_S, M_P);
    CHECK(by, y, ny), CHECKI(bi, idx, ny);
}

static void maxpool_bwd(lirf_selftest_env *e) {
    int ho = lirf_maxpool_out(M_H, M_K, M_S, M_P), ny = P_N * P_C * ho * ho;
    double *x = RND(M_X, -1, 1), *y = H(ny), *dy = RND(ny, -1, 1), *dx = RND(M_X, -1, 1);
    int32_t *idx = HI(ny);
    NEED(x, y, dy, dx, idx);
    ref_maxpool_forward(y, idx, x, P_N, P_C, M_H, M_H, M_K, M_S, M_P);
    lirf_buf bdy = UP(dy, ny), bi = UPI(idx, ny), bdx = UP(dx, M_X);
    CALL(lirf_maxpool_backward(CTX, bdx, bdy, bi, P_N, P_C, M_H, M_H, M_K, M_S, M_P));
    ref_maxpool_backward(dx, dy, idx, P_N, P_C, M_H, M_H, M_K, M_S, M_P);
    CHECK(bdx, dx, M_X);
}

static void gap_fwd(lirf_selftest_env *e) {
    double *x = RND(P_N * G_C * G_HW, -1, 1), *y = H(P_N * G_C);
    NEED(x, y);
    lirf_buf bx = UP(x, P_N * G_C * G_HW), by = UP(y, P_N * G_C);
    CALL(lirf_gap_forward(CTX, by, bx, P_N, G_C, G_HW));
    ref_gap_forward(y, x, P_N, G_C, G_HW);
    CHECK(by, y, P_N * G_C);
}

static void gap_bwd(lirf_selftest_env *e) {
    double *dy = RND(P_N * G_C, -1, 1), *dx = RND(P_N * G_C * G_HW, -1, 1);
    NEED(dy, dx);
    lirf_buf bdy = UP(dy, P_N * G_C), bdx = UP(dx, P_N * G_C * G_HW);
    CALL(lirf_gap_backward(CTX, bdx, bdy, P_N, G_C, G_HW));
    ref_gap_backward(dx, dy, P_N, G_C, G_HW);
    CHECK(bdx, dx, P_N * G_C * G_HW);
}

/* ---- linear ---- */
enum { L_N = 5, L_I = 33, L_O = 10 };

static void linear_fwd(lirf_selftest_env *e) {
    double *x = RND(L_N * L_I, -1, 1), *w = RND(L_O * L_I, -1, 1), *b = RND(L_O, -1, 1);
    double *y = H(L_N * L_O);
    NEED(x, w, b, y);
    lirf_buf bx = UP(x, L_N * L_I), bw = UP(w, L_O * L_I), bb = UP(b, L_O), by = UP(y, L_N * L_O);
    CALL(lirf_linear_forward(CTX, by, bx, bw, bb, L_N, L_I, L_O));
    ref_linear_forward(y, x, w, b, L_N, L_I, L_O);
    CHECK(by, y, L_N * L_O);
}

static void linear_bwd(lirf_selftest_env *e) {
    double *x = RND(L_N * L_I, -1, 1), *w = RND(L_O * L_I, -1, 1), *dy = RND(L_N * L_O, -1, 1);
    double *dx = H(L_N * L_I), *dw = RND(L_O * L_I, -1, 1), *db = RND(L_O, -1, 1);
    NEED(x, w, dy, dx, dw, db);
    lirf_buf bx = UP(x, L_N * L_I), bw = UP(w, L_O * L_I), bdy = UP(dy, L_N * L_O);
    lirf_buf bdx = UP(dx, L_N * L_I), bdw = UP(dw, L_O * L_I), bdb = UP(db, L_O);
    CALL(lirf_linear_backward(CTX, bdx, bdw, bdb, bdy, bx, bw, L_N, L_I, L_O));
    ref_linear_backward(dx, dw, db, dy, x, w, L_N, L_I, L_O);
    CHECK(bdx, dx, L_N * L_I), CHECK(bdw, dw, L_O * L_I), CHECK(bdb, db, L_O);
}

/* ---- losses and metrics ---- */
enum { C_N = 8, C_K = 10, C_NK = C_N * C_K, KD_M = 6 };
static const int32_t KD_COLS[KD_M] = {0, 2, 3, 5, 7, 9};
#define KD_T 4.0f

static int32_t *labels(lirf_selftest_env *e) {
    int32_t *l = HI(C_N);
    for (int i = 0; l && i < C_N; i++) l[i] = (i * 7 + 3) % C_K;
    return l;
}

static void ce_fwd(lirf_selftest_env *e) {
    double *z = RND(C_NK, -3, 3), *loss = H(1), *per = H(C_N);
    int32_t *lab = labels(e);
    NEED(z, loss, per, lab);
    lirf_buf bz = UP(z, C_NK), bl = UP(loss, 1), bp = UP(per, C_N), blab = UPI(lab, C_N);
    CALL(lirf_softmax_ce_forward(CTX, bl, bp, bz, blab, C_N, C_K));
    ref_softmax_ce_forward(loss, per, z, lab, C_N, C_K);
    CHECK(bl, loss, 1), CHECK(bp, per, C_N);
}

static void ce_bwd(lirf_selftest_env *e) {
    double *z = RND(C_NK, -3, 3), *dz = RND(C_NK, -1, 1);
    int32_t *lab = labels(e);
    NEED(z, dz, lab);
    lirf_buf bz = UP(z, C_NK), bdz = UP(dz, C_NK), blab = UPI(lab, C_N);
    CALL(lirf_softmax_ce_backward(CTX, bdz, bz, blab, C_N, C_K, 0.5f));
    ref_softmax_ce_backward(dz, z, lab, C_N, C_K, 0.5);
    CHECK(bdz, dz, C_NK);
}

static void kd_fwd(lirf_selftest_env *e) {
    double *s = RND(C_NK, -3, 3), *t = RND(C_NK, -3, 3), *loss = H(1);
    NEED(s, t, loss);
    lirf_buf bs = UP(s, C_NK), bt = UP(t, C_NK), bl = UP(loss, 1), bc = UPI(KD_COLS, KD_M);
    CALL(lirf_kd_forward(CTX, bl, bs, bt, bc, KD_M, C_N, C_K, KD_T));
    ref_kd_forward(loss, s, t, KD_COLS, KD_M, C_N, C_K, KD_T);
    CHECK(bl, loss, 1);
}

static void kd_bwd(lirf_selftest_env *e) {
    double *s = RND(C_NK, -3, 3), *t = RND(C_NK, -3, 3), *ds = RND(C_NK, -1, 1);
    NEED(s, t, ds);
    lirf_buf bs = UP(s, C_NK), bt = UP(t, C_NK), bds = UP(ds, C_NK), bc = UPI(KD_COLS, KD_M);
    CALL(lirf_kd_backward(CTX, bds, bs, bt, bc, KD_M, C_N, C_K, KD_T, 0.7f));
    ref_kd_backward(ds, s, t, KD_COLS, KD_M, C_N, C_K, KD_T, (double)0.7f);
    CHECK(bds, ds, C_NK);
}

static void argmax(lirf_selftest_env *e) {
    double *z = RND(C_NK, -3, 3);
    int32_t *pred = HI(C_N);
    NEED(z, pred);
    lirf_buf bz = UP(z, C_NK), bp = UPI(pred, C_N);
    CALL(lirf_argmax(CTX, bp, bz, C_N, C_K));
    ref_argmax(pred, z, C_N, C_K);
    CHECKI(bp, pred, C_N);
}

static void class_counts(lirf_selftest_env *e) {
    int32_t *pred = HI(C_N), *lab = labels(e), *counts = HI(2 * C_K);
    NEED(pred, lab, counts);
    for (int i = 0; i < C_N; i++) pred[i] = (i * 3) % C_K;
    lab[C_N - 1] = -1; /* skipped */
    lirf_buf bp = UPI(pred, C_N), bl = UPI(lab, C_N), bc = UPI(counts, 2 * C_K);
    CALL(lirf_class_counts(CTX, bc, bp, bl, C_N, C_K));
    ref_class_counts(counts, pred, lab, C_N, C_K);
    CHECKI(bc, counts, 2 * C_K);
}

/* ---- attention transfer ---- */
enum { A_N = 3, A_C = 4, A_HW = 36, A_F = A_N * A_C * A_HW };
#define AT_EPS 0.05f

static void at_map(lirf_selftest_env *e) {
    double *F = RND(A_F, -1, 1), *a = H(A_N * A_HW);
    NEED(F, a);
    lirf_buf bF = UP(F, A_F), ba = UP(a, A_N * A_HW);
    CALL(lirf_at_map(CTX, ba, bF, A_N, A_C, A_HW));
    ref_at_map(a, F, A_N, A_C, A_HW);
    CHECK(ba, a, A_N * A_HW);
}

static void at_loss_fwd(lirf_selftest_env *e) {
    double *F1 = RND(A_F, -1, 1), *F2 = RND(A_F, -1, 1), *loss = H(1);
    NEED(F1, F2, loss);
    lirf_buf b1 = UP(F1, A_F), b2 = UP(F2, A_F), bl = UP(loss, 1);
    CALL(lirf_at_loss_forward(CTX, bl, b1, b2, A_N, A_C, A_HW, AT_EPS));
    ref_at_loss_forward(loss, F1, F2, A_N, A_C, A_HW, AT_EPS);
    CHECK(bl, loss, 1);
}

static void at_loss_bwd(lirf_selftest_env *e) {
    double *F1 = RND(A_F, -1, 1), *F2 = RND(A_F, -1, 1), *d = RND(A_F, -1e-3, 1e-3);
    NEED(F1, F2, d);
    lirf_buf b1 = UP(F1, A_F), b2 = UP(F2, A_F), bd = UP(d, A_F);
    CALL(lirf_at_loss_backward(CTX, bd, b1, b2, A_N, A_C, A_HW, AT_EPS, 100.0f));
    ref_at_loss_backward(d, F1, F2, A_N, A_C, A_HW, AT_EPS, 100.0);
    CHECK(bd, d, A_F);
}

static void mse_fwd(lirf_selftest_env *e) {
    double *a = RND(A_F, -1, 1), *b = RND(A_F, -1, 1), *loss = H(1);
    NEED(a, b, loss);
    lirf_buf ba = UP(a, A_F), bb = UP(b, A_F), bl = UP(loss, 1);
    CALL(lirf_mse_forward(CTX, bl, ba, bb, A_F));
    ref_mse_forward(loss, a, b, A_F);
    CHECK(bl, loss, 1);
}

static void mse_bwd(lirf_selftest_env *e) {
    double *a = RND(A_F, -1, 1), *b = RND(A_F, -1, 1), *d = RND(A_F, -1e-3, 1e-3);
    NEED(a, b, d);
    lirf_buf ba = UP(a, A_F), bb = UP(b, A_F), bd = UP(d, A_F);
    CALL(lirf_mse_backward(CTX, bd, ba, bb, A_F, 0.5f));
    ref_mse_backward(d, a, b, A_F, 0.5);
    CHECK(bd, d, A_F);
}

/* ---- optimiser, augmentation, LIRF columns, GEMM ---- */
static void sgd(lirf_selftest_env *e) {
    double *w = RND(NE, -1, 1), *v = RND(NE, -1, 1), *g = RND(NE, -1, 1);
    NEED(w, v, g);
    lirf_buf bw = UP(w, NE), bv = UP(v, NE), bg = UP(g, NE);
    CALL(lirf_sgd_step(CTX, bw, bv, bg, NE, 0.1f, 0.9f, 5e-4f));
    ref_sgd_step(w, v, g, NE, (double)0.1f, (double)0.9f, (double)5e-4f);
    CHECK(bw, w, NE), CHECK(bv, v, NE);
}

static void augment(lirf_selftest_env *e) {
    enum { N = 3, C = 2, S = 12, X = N * C * S * S };
    const lirf_aug_params p = {2, 1, 10.0f};
    double *x = RND(X, -2, 2), *y = H(X);
    NEED(x, y);
    lirf_buf bx = UP(x, X), by = UP(y, X);
    CALL(lirf_augment(CTX, by, bx, N, C, S, S, &p, 7, 3));
    ref_augment(y, x, N, C, S, S, &p, 7, 3);
    CHECK(by, y, X);
}

static int32_t *dep_mask(lirf_selftest_env *e) {
    int32_t *m = HI(C_K);
    for (int k = 0; m && k < C_K; k++) m[k] = k < 3 || k == 7;
    return m;
}

static void merge_columns(lirf_selftest_env *e) {
    double *a = RND(C_NK, -1, 1), *b = RND(C_NK, -1, 1), *out = H(C_NK);
    int32_t *m = dep_mask(e);
    NEED(a, b, out, m);
    lirf_buf ba = UP(a, C_NK), bb = UP(b, C_NK), bo = UP(out, C_NK), bm = UPI(m, C_K);
    CALL(lirf_merge_columns(CTX, bo, ba, bb, bm, C_N, C_K));
    ref_merge_columns(out, a, b, m, C_N, C_K);
    CHECK(bo, out, C_NK);
}

static void split_columns(lirf_selftest_env *e) {
    double *da = RND(C_NK, -1, 1), *db = RND(C_NK, -1, 1), *g = RND(C_NK, -1, 1);
    int32_t *m = dep_mask(e);
    NEED(da, db, g, m);
    lirf_buf bda = UP(da, C_NK), bdb = UP(db, C_NK), bg = UP(g, C_NK), bm = UPI(m, C_K);
    CALL(lirf_split_columns_acc(CTX, bda, bdb, bg, bm, C_N, C_K, 0.5f));
    ref_split_columns_acc(da, db, g, m, C_N, C_K, 0.5);
    CHECK(bda, da, C_NK), CHECK(bdb, db, C_NK);
}

static void gemm(lirf_selftest_env *e, int ta, int tb, float alpha, float beta) {
    enum { M = 37, N = 29, K = 53 };
    double *A = RND(M * K, -1, 1), *B = RND(K * N, -1, 1), *C = RND(M * N, -1, 1);
    NEED(A, B, C);
    size_t lda = ta ? M : K, ldb = tb ? K : N;
    lirf_buf bA = UP(A, M * K), bB = UP(B, K * N), bC = UP(C, M * N);
    CALL(lirf_gemm(CTX, ta ? LIRF_TRANS : LIRF_NO_TRANS, tb ? LIRF_TRANS : LIRF_NO_TRANS, M, N, K,
                   alpha, bA, lda, bB, ldb, beta, bC, N));
    ref_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, N);
    CHECK(bC, C, M * N);
}
static void gemm_nn(lirf_selftest_env *e) { gemm(e, 0, 0, 1.0f, 0.0f); }
static void gemm_tt(lirf_selftest_env *e) { gemm(e, 1, 1, 0.5f, 0.25f); }

/* The table: name, shape, tolerance, case. Tolerances: 0 where the op is
 * exact (selection, counting), 1e-6 for one rounding per element, 1e-4 for
 * sums and reductions in float. */
static const lirf_selftest_case CASES[] = {
    {"relu_forward", "1000", 0, relu_fwd},
    {"relu_backward", "1000", 0, relu_bwd},
    {"add", "1000", 1e-6, add},
    {"add_relu", "1000", 1e-6, add_relu},
    {"axpy", "1000, alpha 0.75", 1e-6, axpy},
    {"scale", "1000, alpha 1.5", 1e-6, scale},
    {"count_nonfinite", "1000 with NaN, +inf, -inf", 0, count_nonfinite},
    {"conv2d_forward", "x 2x3x7x7, w 4x3x3x3 + bias, stride 1, pad 1", 1e-4, conv_fwd1},
    {"conv2d_forward_s2", "x 2x3x7x7, w 5x3x3x3 + bias, stride 2, pad 1", 1e-4, conv_fwd2},
    {"conv2d_backward", "x 2x3x7x7, w 4x3x3x3 + bias, stride 1, pad 1: dx, dw, db", 1e-4, conv_bwd1},
    {"conv2d_backward_s2", "x 2x3x7x7, w 5x3x3x3 + bias, stride 2, pad 1: dx, dw, db", 1e-4,
     conv_bwd2},
    {"bn_forward_train", "4x3x25: y, saved and running statistics", 1e-4, bn_fwd_train},
    {"bn_forward_infer", "4x3x25", 1e-4, bn_fwd_infer},
    {"bn_backward", "4x3x25: dx, dgamma, dbeta", 1e-4, bn_bwd_train},
    {"bn_backward_infer", "4x3x25: dx, dgamma, dbeta", 1e-4, bn_bwd_infer},
    {"maxpool2_forward", "2x3x7x7: y, argmax indices", 0, maxpool2_fwd},
    {"maxpool2_backward", "2x3x7x7", 1e-6, maxpool2_bwd},
    {"maxpool_forward", "2x3x9x9, 3x3 stride 2 pad 1: y, argmax indices", 0, maxpool_fwd},
    {"maxpool_backward", "2x3x9x9, 3x3 stride 2 pad 1", 1e-6, maxpool_bwd},
    {"gap_forward", "2x5x49", 1e-6, gap_fwd},
    {"gap_backward", "2x5x49", 1e-6, gap_bwd},
    {"linear_forward", "x 5x33, w 10x33 + bias", 1e-4, linear_fwd},
    {"linear_backward", "x 5x33, w 10x33 + bias: dx, dw, db", 1e-4, linear_bwd},
    {"softmax_ce_forward", "8x10: loss, per-sample", 1e-5, ce_fwd},
    {"softmax_ce_backward", "8x10, scale 0.5", 1e-5, ce_bwd},
    {"kd_forward", "8x10, 6 columns, T 4", 1e-5, kd_fwd},
    {"kd_backward", "8x10, 6 columns, T 4, scale 0.7", 1e-5, kd_bwd},
    {"argmax", "8x10", 0, argmax},
    {"class_counts", "8 samples, 10 classes, one label out of range", 0, class_counts},
    {"at_map", "3x4x36", 1e-5, at_map},
    {"at_loss_forward", "3x4x36, eps 0.05", 1e-5, at_loss_fwd},
    {"at_loss_backward", "3x4x36, eps 0.05, scale 100", 1e-4, at_loss_bwd},
    {"mse_forward", "432", 1e-5, mse_fwd},
    {"mse_backward", "432, scale 0.5", 1e-5, mse_bwd},
    {"sgd_step", "1000, lr 0.1, momentum 0.9, wd 5e-4: w, v", 1e-6, sgd},
    {"augment", "3x2x12x12, pad 2, flip, rotation 10 degrees", 1e-4, augment},
    {"merge_columns", "8x10, 4 deposit columns", 0, merge_columns},
    {"split_columns_acc", "8x10, 4 deposit columns, scale 0.5", 1e-6, split_columns},
    {"gemm", "37x29x53, A B, alpha 1, beta 0", 1e-4, gemm_nn},
    {"gemm_tt", "37x29x53, A^T B^T, alpha 0.5, beta 0.25", 1e-4, gemm_tt},
};

size_t lirf_selftest_cases(const lirf_selftest_case **cases) {
    if (cases) *cases = CASES;
    return sizeof CASES / sizeof *CASES;
}
