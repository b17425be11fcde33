/* Elementwise kernels against their C references, ReLU's gradient by finite
 * differences, and invalid arguments. */
#include <math.h>
#include <stdlib.h>

#include "ref.h"
#include "util.h"

static const size_t SIZES[] = {1, 7, 93, 1000, 4099};
#define NSIZES (sizeof SIZES / sizeof SIZES[0])

START_TEST(relu_matches_reference) {
    trng r = {11};
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = SIZES[s];
        double *x = malloc(n * sizeof *x), *dy = malloc(n * sizeof *dy);
        double *y = malloc(n * sizeof *y), *dx = malloc(n * sizeof *dx);
        double *got = malloc(n * sizeof *got);
        trand_fill(&r, x, n, -1, 1);
        trand_fill(&r, dy, n, -1, 1);
        tround_f32(x, n);
        tround_f32(dy, n);
        ref_relu_forward(y, x, n);
        ref_relu_backward(dx, dy, y, n);

        tbuf bx = tbuf_new(x, n), by = tbuf_zeros(n), bdy = tbuf_new(dy, n), bdx = tbuf_zeros(n);
        ck_assert_int_eq(lirf_relu_forward(tctx(), by.v, bx.v, n), LIRF_OK);
        ck_assert_int_eq(lirf_relu_backward(tctx(), bdx.v, bdy.v, by.v, n), LIRF_OK);
        tbuf_get(&by, got, n);
        ck_assert_close("relu_forward", got, y, n, 0, 0); /* exact */
        tbuf_get(&bdx, got, n);
        ck_assert_close("relu_backward", got, dx, n, 0, 0);
        ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bdx));

        /* in place */
        ck_assert_int_eq(lirf_relu_forward(tctx(), bx.v, bx.v, n), LIRF_OK);
        tbuf_get(&bx, got, n);
        ck_assert_close("relu_forward in place", got, y, n, 0, 0);
        tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bdy), tbuf_free(&bdx);
        free(x), free(dy), free(y), free(dx), free(got);
    }
}
END_TEST

START_TEST(binary_ops_match_reference) {
    trng r = {12};
    for (size_t s = 0; s < NSIZES; s++) {
        size_t n = SIZES[s];
        double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
        double *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
        trand_fill(&r, a, n, -2, 2);
        trand_fill(&r, b, n, -2, 2);
        tbuf ba = tbuf_new(a, n), bb = tbuf_new(b, n), by = tbuf_zeros(n);

        ref_add(want, a, b, n);
        ck_assert_int_eq(lirf_add(tctx(), by.v, ba.v, bb.v, n), LIRF_OK);
        tbuf_get(&by, got, n);
        ck_assert_close("add", got, want, n, 1e-6, 1e-6);

        ref_add_relu(want, a, b, n);
        ck_assert_int_eq(lirf_add_relu(tctx(), by.v, ba.v, bb.v, n), LIRF_OK);
        tbuf_get(&by, got, n);
        ck_assert_close("add_relu", got, want, n, 1e-6, 1e-6);

        /* axpy: y = a; y += -0.75 b */
        for (size_t i = 0; i < n; i++) want[i] = (float)a[i];
        ref_axpy(want, -0.75, b, n);
        ck_assert_int_eq(lirf_axpy(tctx(), ba.v, -0.75f, bb.v, n), LIRF_OK);
        tbuf_get(&ba, got, n);
        ck_assert_close("axpy", got, want, n, 1e-6, 1e-6);

        for (size_t i = 0; i < n; i++) want[i] = (float)b[i];
        ref_scale(want, 3.5, n);
        ck_assert_int_eq(lirf_scale(tctx(), bb.v, 3.5f, n), LIRF_OK);
        tbuf_get(&bb, got, n);
        ck_assert_close("scale", got, want, n, 1e-6, 1e-6);

        ck_assert(tbuf_guards_ok(&ba) && tbuf_guards_ok(&bb) && tbuf_guards_ok(&by));
        tbuf_free(&ba), tbuf_free(&bb), tbuf_free(&by);
        free(a), free(b), free(want), free(got);
    }
}
END_TEST

/* L = sum_i w_i relu(x_i); dL/dx by the reference backward and by central
 * differences, skipping points within h of the kink. */
typedef struct { const double *w; size_t n; } relu_fd;
static double relu_loss(void *p, const double *x) {
    relu_fd *c = p;
    double *y = malloc(c->n * sizeof *y), L = 0;
    ref_relu_forward(y, x, c->n);
    for (size_t i = 0; i < c->n; i++) L += c->w[i] * y[i];
    free(y);
    return L;
}

START_TEST(relu_gradient_finite_differences) {
    enum { N = 57 };
    trng r = {13};
    double x[N], w[N], y[N], dx[N], fd[N];
    trand_fill(&r, x, N, -1, 1);
    trand_fill(&r, w, N, -1, 1);
    relu_fd c = {w, N};
    ref_relu_forward(y, x, N);
    ref_relu_backward(dx, w, y, N);
    tfd_grad(relu_loss, &c, x, N, 1e-6, fd);
    for (int i = 0; i < N; i++) {
        if (fabs(x[i]) < 1e-5) continue; /* kink */
        ck_assert_msg(fabs(dx[i] - fd[i]) < 1e-7, "relu grad [%d]: %g vs fd %g", i, dx[i], fd[i]);
    }
}
END_TEST

/* NaN and infinities sprinkled at random places (and none), on awkward sizes
 * up to several work-group rounds; the count accumulates. */
START_TEST(count_nonfinite_matches_reference) {
    trng r = {23};
    const size_t sizes[] = {1, 7, 93, 1000, 4099, 300001};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        size_t n = sizes[s];
        double *x = malloc(n * sizeof *x);
        trand_fill(&r, x, n, -1e30, 1e30);
        for (int round = 0; round < 3; round++) {
            size_t bad = round == 0 ? 0 : round == 1 ? 1 : n / 7 + 1;
            for (size_t j = 0; j < bad; j++) {
                double u;
                trand_fill(&r, &u, 1, 0, 1);
                size_t at = (size_t)(u * (double)n) % n;
                x[at] = j % 3 == 0 ? NAN : j % 3 == 1 ? INFINITY : -INFINITY;
            }
            size_t want = ref_count_nonfinite(x, n);
            if (round > 0) ck_assert_uint_gt(want, 0);
            int32_t start = 5;
            tbuf bx = tbuf_new(x, n), bc = tbuf_new_int(&start, 1);
            ck_assert_int_eq(lirf_count_nonfinite(tctx(), bc.v, bx.v, n), LIRF_OK);
            int32_t got;
            tbuf_get_int(&bc, &got, 1);
            ck_assert_int_eq(got, 5 + (int32_t)want);
            ck_assert(tbuf_guards_ok(&bc));
            tbuf_free(&bx), tbuf_free(&bc);
        }
        free(x);
    }
    ck_assert_uint_eq(ref_count_nonfinite((double[]){1, NAN, 2, INFINITY}, 4), 2);
}
END_TEST

START_TEST(invalid_arguments_rejected) {
    double x[8] = {0};
    tbuf b = tbuf_new(x, 8);
    lirf_ctx *ctx = tctx();
    ck_assert_int_eq(lirf_relu_forward(ctx, LIRF_NOBUF, b.v, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_relu_forward(ctx, b.v, b.v, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_relu_forward(ctx, b.v, b.v, 9), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_add(ctx, b.v, b.v, LIRF_NOBUF, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_axpy(ctx, b.v, 1.0f, b.v, 100), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_count_nonfinite(ctx, LIRF_NOBUF, b.v, 8), LIRF_E_NULL);
    ck_assert_int_eq(lirf_count_nonfinite(ctx, b.v, b.v, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_count_nonfinite(ctx, b.v, b.v, 9), LIRF_E_SHAPE);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, relu_matches_reference);
    tcase_add_test(tc, binary_ops_match_reference);
    tcase_add_test(tc, relu_gradient_finite_differences);
    tcase_add_test(tc, count_nonfinite_matches_reference);
    tcase_add_test(tc, invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
