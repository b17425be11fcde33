/* The fully connected layer (lirf_linear_forward / _backward) against its C
 * reference, the reference backward against central finite differences, and
 * invalid arguments. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

/* Random values rounded to float, so that the reference sees the device's
 * inputs exactly. */
static void ffill(trng *r, double *x, size_t n, double lo, double hi) {
    trand_fill(r, x, n, lo, hi);
    tround_f32(x, n); /* out of line: GCC 12.2 -O3 skips the tail of this loop when
                         it is inlined with a constant n (docs/portability.md) */
}

static double *dalloc(size_t n) {
    double *p = malloc((n ? n : 1) * sizeof *p);
    ck_assert_ptr_nonnull(p);
    return p;
}

typedef struct { int N, I, O; } lshape;
static const lshape SHAPES[] = {{1, 7, 3}, {93, 64, 10}, {128, 512, 10}, {5, 1, 1}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Forward and backward of one shape with (use_b) or without bias; the backward
 * with (full) or without dx and db. Gradients start from non-zero values. */
static void check_linear(lshape sh, int use_b, int full, uint64_t seed) {
    int N = sh.N, I = sh.I, O = sh.O;
    size_t nx = (size_t)N * I, nw = (size_t)O * I, ny = (size_t)N * O;
    trng r = {seed};
    double *x = dalloc(nx), *w = dalloc(nw), *b = dalloc(O), *dy = dalloc(ny);
    double *y = dalloc(ny), *dx = dalloc(nx), *dw = dalloc(nw), *db = dalloc(O);
    double *got = dalloc(nx > nw ? (nx > ny ? nx : ny) : (nw > ny ? nw : ny));
    ffill(&r, x, nx, -1, 1);
    ffill(&r, w, nw, -1 / sqrt(I), 1 / sqrt(I));
    ffill(&r, b, O, -1, 1);
    ffill(&r, dy, ny, -1, 1);
    ffill(&r, dw, nw, -2, 2); /* accumulated into */
    ffill(&r, db, O, -2, 2);
    for (size_t i = 0; i < ny; i++) y[i] = NAN; /* written: garbage before */
    for (size_t i = 0; i < nx; i++) dx[i] = NAN;

    tbuf bx = tbuf_new(x, nx), bw = tbuf_new(w, nw), bb = tbuf_new(b, O), bdy = tbuf_new(dy, ny);
    tbuf by = tbuf_new(y, ny), bdx = tbuf_new(dx, nx), bdw = tbuf_new(dw, nw),
         bdb = tbuf_new(db, O);
    lirf_ctx *ctx = tctx();

    ref_linear_forward(y, x, w, use_b ? b : NULL, N, I, O);
    lirf_status st = lirf_linear_forward(ctx, by.v, bx.v, bw.v, use_b ? bb.v : LIRF_NOBUF, N, I, O);
    ck_assert_msg(st == LIRF_OK, "linear_forward: %s", lirf_error_message());
    tbuf_get(&by, got, ny);
    ck_assert_close("linear_forward y", got, y, ny, 1e-5, 1e-4);

    ref_linear_backward(full ? dx : NULL, dw, full ? db : NULL, dy, x, w, N, I, O);
    st = lirf_linear_backward(ctx, full ? bdx.v : LIRF_NOBUF, bdw.v, full ? bdb.v : LIRF_NOBUF,
                              bdy.v, bx.v, bw.v, N, I, O);
    ck_assert_msg(st == LIRF_OK, "linear_backward: %s", lirf_error_message());
    tbuf_get(&bdw, got, nw);
    ck_assert_close("linear_backward dw", got, dw, nw, 1e-4, 1e-4);
    tbuf_get(&bdb, got, O);
    ck_assert_close("linear_backward db", got, db, O, 1e-4, 1e-4); /* untouched when !full */
    tbuf_get(&bdx, got, nx);
    if (full) {
        ck_assert_close("linear_backward dx", got, dx, nx, 1e-5, 1e-4);
    } else {
        for (size_t i = 0; i < nx; i++) ck_assert_msg(isnan(got[i]), "dx written while absent");
    }
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bdx) && tbuf_guards_ok(&bdw) &&
              tbuf_guards_ok(&bdb));

    tbuf_free(&bx), tbuf_free(&bw), tbuf_free(&bb), tbuf_free(&bdy);
    tbuf_free(&by), tbuf_free(&bdx), tbuf_free(&bdw), tbuf_free(&bdb);
    free(x), free(w), free(b), free(dy), free(y), free(dx), free(dw), free(db), free(got);
}

START_TEST(linear_matches_reference) {
    for (size_t s = 0; s < NSHAPES; s++) {
        check_linear(SHAPES[s], 1, 1, 100 + s);
        check_linear(SHAPES[s], 0, 1, 200 + s);
        check_linear(SHAPES[s], 1, 0, 300 + s);
    }
}
END_TEST

/* db is a deterministic reduction: the same inputs give the same bits. */
START_TEST(linear_bias_grad_deterministic) {
    enum { N = 300, I = 3, O = 7 };
    trng r = {21};
    double x[N * I], w[O * I], dy[N * O], got1[O], got2[O];
    ffill(&r, x, N * I, -1, 1);
    ffill(&r, w, O * I, -1, 1);
    ffill(&r, dy, N * O, -1, 1);
    tbuf bx = tbuf_new(x, N * I), bw = tbuf_new(w, O * I), bdy = tbuf_new(dy, N * O);
    tbuf bdw = tbuf_zeros(O * I), bdb1 = tbuf_zeros(O), bdb2 = tbuf_zeros(O);
    ck_assert_int_eq(lirf_linear_backward(tctx(), LIRF_NOBUF, bdw.v, bdb1.v, bdy.v, bx.v, bw.v,
                                          N, I, O), LIRF_OK);
    ck_assert_int_eq(lirf_linear_backward(tctx(), LIRF_NOBUF, bdw.v, bdb2.v, bdy.v, bx.v, bw.v,
                                          N, I, O), LIRF_OK);
    tbuf_get(&bdb1, got1, O);
    tbuf_get(&bdb2, got2, O);
    ck_assert_close("db repeat", got1, got2, O, 0, 0);
    tbuf_free(&bx), tbuf_free(&bw), tbuf_free(&bdy), tbuf_free(&bdw), tbuf_free(&bdb1),
        tbuf_free(&bdb2);
}
END_TEST

/* L = sum_k r_k y_k with y = linear(x, w, b): dL/dx, dL/dw, dL/db by the
 * reference backward (dy = r) and by central differences. */
enum { FN = 3, FI = 5, FO = 4 };
typedef struct {
    double x[FN * FI], w[FO * FI], b[FO], r[FN * FO];
    int which; /* 0: vary x, 1: w, 2: b */
} lin_fd;

static double lin_loss(void *p, const double *v) {
    lin_fd *c = p;
    double y[FN * FO], L = 0;
    ref_linear_forward(y, c->which == 0 ? v : c->x, c->which == 1 ? v : c->w,
                       c->which == 2 ? v : c->b, FN, FI, FO);
    for (int k = 0; k < FN * FO; k++) L += c->r[k] * y[k];
    return L;
}

START_TEST(linear_gradient_finite_differences) {
    trng rr = {31};
    lin_fd c;
    trand_fill(&rr, c.x, FN * FI, -1, 1);
    trand_fill(&rr, c.w, FO * FI, -1, 1);
    trand_fill(&rr, c.b, FO, -1, 1);
    trand_fill(&rr, c.r, FN * FO, -1, 1);
    double dx[FN * FI], dw[FO * FI], db[FO], fd[FN * FI + FO * FI];
    double dw0[FO * FI], db0[FO];
    trand_fill(&rr, dw0, FO * FI, -1, 1); /* accumulation starts here */
    trand_fill(&rr, db0, FO, -1, 1);
    for (int i = 0; i < FO * FI; i++) dw[i] = dw0[i];
    for (int i = 0; i < FO; i++) db[i] = db0[i];
    ref_linear_backward(dx, dw, db, c.r, c.x, c.w, FN, FI, FO);
    for (int i = 0; i < FO * FI; i++) dw[i] -= dw0[i];
    for (int i = 0; i < FO; i++) db[i] -= db0[i];

    c.which = 0;
    tfd_grad(lin_loss, &c, c.x, FN * FI, 1e-5, fd);
    ck_assert_close("linear dx vs fd", dx, fd, FN * FI, 1e-8, 1e-7);
    c.which = 1;
    tfd_grad(lin_loss, &c, c.w, FO * FI, 1e-5, fd);
    ck_assert_close("linear dw vs fd", dw, fd, FO * FI, 1e-8, 1e-7);
    c.which = 2;
    tfd_grad(lin_loss, &c, c.b, FO, 1e-5, fd);
    ck_assert_close("linear db vs fd", db, fd, FO, 1e-8, 1e-7);
}
END_TEST

START_TEST(linear_invalid_arguments_rejected) {
    enum { N = 4, I = 3, O = 2 };
    double z[64] = {0};
    tbuf x = tbuf_new(z, N * I), w = tbuf_new(z, O * I), b = tbuf_new(z, O), y = tbuf_new(z, N * O);
    tbuf small = tbuf_new(z, 1);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_linear_forward(ctx, LIRF_NOBUF, x.v, w.v, b.v, N, I, O), LIRF_E_NULL);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, LIRF_NOBUF, w.v, b.v, N, I, O), LIRF_E_NULL);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, LIRF_NOBUF, b.v, N, I, O), LIRF_E_NULL);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, b.v, 0, I, O), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, b.v, N, -1, O), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, b.v, N, I, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_linear_forward(ctx, small.v, x.v, w.v, b.v, N, I, O), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, small.v, N, I, O), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, b.v, N + 1, I, O), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_forward(ctx, y.v, x.v, w.v, b.v, N, I, O + 1), LIRF_E_SHAPE);
    /* dw is optional (a frozen layer) */
    ck_assert_int_eq(lirf_linear_backward(ctx, x.v, LIRF_NOBUF, LIRF_NOBUF, y.v, x.v, w.v, N, I, O),
                     LIRF_OK);
    ck_assert_int_eq(lirf_linear_backward(ctx, x.v, w.v, b.v, LIRF_NOBUF, x.v, w.v, N, I, O),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_linear_backward(ctx, small.v, w.v, b.v, y.v, x.v, w.v, N, I, O),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_backward(ctx, x.v, w.v, small.v, y.v, x.v, w.v, N, I, O),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_backward(ctx, x.v, w.v, b.v, small.v, x.v, w.v, N, I, O),
                     LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_linear_backward(ctx, x.v, w.v, b.v, y.v, x.v, w.v, N, 0, O),
                     LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&x), tbuf_free(&w), tbuf_free(&b), tbuf_free(&y), tbuf_free(&small);
}
END_TEST

int main(void) {
    Suite *s = suite_create("linear");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, linear_matches_reference);
    tcase_add_test(tc, linear_bias_grad_deterministic);
    tcase_add_test(tc, linear_gradient_finite_differences);
    tcase_add_test(tc, linear_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
