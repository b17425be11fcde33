/* Augmentation: the kernel against ref_augment (exact for crop and flip,
 * within 1e-4 with rotation), properties that do not lean on the reference
 * (crops are shifted copies, flips are mirrors, the centre is fixed by
 * rotation, its direction), determinism in (seed, step), coverage of the
 * draws, the hash's mixing, invalid arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "util.h"

/* lirf_aug_hash(0, 0, 0, 0), pinned */
#define AUG_HASH_0000 0xe02924b7U

typedef struct { int N, C, H, W; } shape;

static double *make_images(trng *r, size_t n) {
    double *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)trng_uniform(r, -2, 2);
    return x;
}

/* Runs the kernel and the reference on random images; returns the kernel's
 * output (malloc'ed) and compares within atol (0: exact). */
static double *run_vs_ref(shape s, lirf_aug_params p, uint32_t seed, uint32_t step, double atol,
                          const double *x_in) {
    size_t n = (size_t)s.N * s.C * s.H * s.W;
    trng r = {seed * 977u + step};
    double *x = x_in ? (double *)x_in : make_images(&r, n);
    double *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    ref_augment(want, x, s.N, s.C, s.H, s.W, &p, seed, step);
    tbuf bx = tbuf_new(x, n), by = tbuf_new(x, n); /* y starts non-zero: all of it is written */
    ck_assert_int_eq(lirf_augment(tctx(), by.v, bx.v, s.N, s.C, s.H, s.W, &p, seed, step),
                     LIRF_OK);
    tbuf_get(&by, got, n);
    ck_assert_msg(tclose("augment", got, want, n, atol, 0) == 0,
                  "augment N %d C %d H %d W %d pad %d flip %d rot %g: kernel != reference", s.N,
                  s.C, s.H, s.W, p.pad, p.flip, (double)p.max_rot_deg);
    ck_assert(tbuf_guards_ok(&by) && tbuf_guards_ok(&bx));
    tbuf_free(&bx), tbuf_free(&by);
    if (!x_in) free(x);
    free(want);
    return got;
}

static const shape SHAPES[] = {{1, 1, 28, 28}, {1, 3, 7, 9}, {7, 1, 9, 7}, {13, 3, 28, 28},
                               {4, 3, 32, 32}, {3, 2, 1, 5}};
#define NSHAPES (sizeof SHAPES / sizeof SHAPES[0])

/* Image n of y equals image n of x shifted by (dy, dx) with zero fill. */
static int is_shift(const double *y, const double *x, int C, int H, int W, int dy, int dx) {
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) {
                int yy = i + dy, xx = j + dx;
                double v = (yy >= 0 && yy < H && xx >= 0 && xx < W) ? x[(c * H + yy) * W + xx] : 0;
                if (y[(c * H + i) * W + j] != v) return 0;
            }
    return 1;
}

START_TEST(aug_crop_only) {
    for (size_t k = 0; k < NSHAPES; k++) {
        for (int pad = 1; pad <= 4; pad += 3) {
            shape s = SHAPES[k];
            lirf_aug_params p = {pad, 0, 0.0f};
            double *y = run_vs_ref(s, p, 5, (uint32_t)k, 0, NULL);
            free(y);
        }
    }
    /* independent of the reference: every image is a shift in [-pad, pad]^2,
     * and over 64 images every one of the 9 shifts of pad 1 occurs */
    shape s = {64, 3, 9, 7};
    lirf_aug_params p = {1, 0, 0.0f};
    size_t per = (size_t)s.C * s.H * s.W;
    trng r = {91};
    double *x = make_images(&r, s.N * per);
    double *y = run_vs_ref(s, p, 17, 3, 0, x);
    int seen[3][3] = {{0}};
    for (int n = 0; n < s.N; n++) {
        int found = 0;
        for (int dy = -1; dy <= 1 && !found; dy++)
            for (int dx = -1; dx <= 1 && !found; dx++)
                if (is_shift(y + n * per, x + n * per, s.C, s.H, s.W, dy, dx)) {
                    seen[dy + 1][dx + 1]++;
                    found = 1;
                }
        ck_assert_msg(found, "image %d is not a shifted copy", n);
    }
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            ck_assert_msg(seen[a][b] > 0, "shift (%d, %d) never drawn in 64 images", a - 1, b - 1);
    free(x), free(y);
}
END_TEST

START_TEST(aug_flip_only) {
    for (size_t k = 0; k < NSHAPES; k++) {
        lirf_aug_params p = {0, 1, 0.0f};
        double *y = run_vs_ref(SHAPES[k], p, 6, (uint32_t)k, 0, NULL);
        free(y);
    }
    /* every image is itself or its mirror; both occur */
    shape s = {32, 3, 5, 9};
    lirf_aug_params p = {0, 1, 0.0f};
    size_t per = (size_t)s.C * s.H * s.W;
    trng r = {92};
    double *x = make_images(&r, s.N * per);
    double *y = run_vs_ref(s, p, 18, 0, 0, x);
    int same = 0, mirrored = 0;
    for (int n = 0; n < s.N; n++) {
        int is_same = 1, is_mirror = 1;
        for (int c = 0; c < s.C; c++)
            for (int i = 0; i < s.H; i++)
                for (int j = 0; j < s.W; j++) {
                    double v = y[n * per + (c * s.H + i) * s.W + j];
                    is_same &= v == x[n * per + (c * s.H + i) * s.W + j];
                    is_mirror &= v == x[n * per + (c * s.H + i) * s.W + (s.W - 1 - j)];
                }
        ck_assert_msg(is_same || is_mirror, "image %d neither copied nor mirrored", n);
        same += is_same;
        mirrored += is_mirror;
    }
    ck_assert_msg(same > 4 && mirrored > 4, "%d copies, %d mirrors of 32", same, mirrored);
    /* flip = 0 with the same draws: identity */
    p.flip = 0;
    free(y);
    y = run_vs_ref(s, p, 18, 0, 0, x);
    ck_assert_close("no flip, no crop: identity", y, x, s.N * per, 0, 0);
    free(x), free(y);
}
END_TEST

START_TEST(aug_rotation_only) {
    for (size_t k = 0; k < NSHAPES; k++) {
        lirf_aug_params p = {0, 0, 30.0f};
        double *y = run_vs_ref(SHAPES[k], p, 7, (uint32_t)k, 1e-4, NULL);
        free(y);
    }
    /* odd H and W: the centre pixel is the rotation's fixed point; the rest moves */
    shape s = {16, 2, 9, 7};
    lirf_aug_params p = {0, 0, 45.0f};
    size_t per = (size_t)s.C * s.H * s.W;
    trng r = {93};
    double *x = make_images(&r, s.N * per);
    double *y = run_vs_ref(s, p, 19, 0, 1e-4, x);
    int moved = 0;
    for (int n = 0; n < s.N; n++) {
        for (int c = 0; c < s.C; c++) {
            size_t ctr = n * per + (c * s.H + 4) * s.W + 3;
            ck_assert_msg(y[ctr] == x[ctr], "centre of image %d channel %d moved", n, c);
        }
        moved += fabs(y[n * per] - x[n * per]) > 1e-3;
    }
    ck_assert_msg(moved > s.N / 2, "only %d of %d images changed", moved, s.N);
    free(x), free(y);
}
END_TEST

/* The draw's angle in degrees, as documented in model/ops/op_augment.c. */
static double draw_angle(uint32_t seed, uint32_t step, uint32_t n, double max_deg) {
    uint32_t u = lirf_aug_hash(seed, step, n, 3);
    return ((double)(u >> 8) / 16777216.0 * 2.0 - 1.0) * max_deg;
}

/* Positive angles turn the content counter-clockwise as displayed: a dot two
 * rows above the centre of a 9x9 image ends two columns left of it at +90. */
START_TEST(aug_rotation_direction) {
    uint32_t step = 0;
    while (fabs(draw_angle(4, step, 0, 180) - 90) > 0.25) step++;
    double x[81] = {0};
    x[2 * 9 + 4] = 1;
    shape s = {1, 1, 9, 9};
    lirf_aug_params p = {0, 0, 180.0f};
    double *y = run_vs_ref(s, p, 4, step, 1e-4, x);
    ck_assert_msg(y[4 * 9 + 2] > 0.9, "left of centre %g (angle %g)", y[4 * 9 + 2],
                  draw_angle(4, step, 0, 180));
    ck_assert(y[4 * 9 + 6] < 1e-3 && y[2 * 9 + 4] < 1e-3 && y[6 * 9 + 4] < 1e-3);
    free(y);
    /* and -90 puts it on the right */
    step = 0;
    while (fabs(draw_angle(4, step, 0, 180) + 90) > 0.25) step++;
    y = run_vs_ref(s, p, 4, step, 1e-4, x);
    ck_assert_msg(y[4 * 9 + 6] > 0.9, "right of centre %g", y[4 * 9 + 6]);
    free(y);
}
END_TEST

START_TEST(aug_all_three) {
    for (size_t k = 0; k < NSHAPES; k++) {
        lirf_aug_params p = {2, 1, 15.0f};
        double *y = run_vs_ref(SHAPES[k], p, 8, (uint32_t)k, 1e-4, NULL);
        free(y);
    }
    /* CIFAR-sized batch with the usual settings */
    shape s = {128, 3, 32, 32};
    lirf_aug_params p = {4, 1, 15.0f};
    double *y = run_vs_ref(s, p, 12345, 678, 1e-4, NULL);
    free(y);
}
END_TEST

/* Same (seed, step): bit-identical twice; another step or seed: different. */
START_TEST(aug_determinism) {
    shape s = {8, 3, 28, 28};
    size_t n = (size_t)s.N * s.C * s.H * s.W;
    trng r = {94};
    double *x = make_images(&r, n), *y[4];
    lirf_aug_params p = {3, 1, 10.0f};
    tbuf bx = tbuf_new(x, n), by = tbuf_zeros(n);
    const uint32_t seeds[4] = {1, 1, 1, 2}, steps[4] = {5, 5, 6, 5};
    for (int k = 0; k < 4; k++) {
        y[k] = malloc(n * sizeof *y[k]);
        ck_assert_int_eq(lirf_augment(tctx(), by.v, bx.v, s.N, s.C, s.H, s.W, &p, seeds[k],
                                      steps[k]),
                         LIRF_OK);
        tbuf_get(&by, y[k], n);
    }
    ck_assert(memcmp(y[0], y[1], n * sizeof *y[0]) == 0);
    ck_assert(memcmp(y[0], y[2], n * sizeof *y[0]) != 0);
    ck_assert(memcmp(y[0], y[3], n * sizeof *y[0]) != 0);
    /* per image too: a different step changes (almost) every image */
    size_t per = n / s.N;
    int differ = 0;
    for (int i = 0; i < s.N; i++) differ += memcmp(y[0] + i * per, y[2] + i * per, per * 8) != 0;
    ck_assert_int_ge(differ, s.N - 1);
    tbuf_free(&bx), tbuf_free(&by);
    for (int k = 0; k < 4; k++) free(y[k]);
    free(x);
}
END_TEST

/* Over 8000 images: every crop offset pair of pad 4 drawn, each offset about
 * 1/9 of the time, flips about half, angles spread over the whole range. */
START_TEST(aug_draw_statistics) {
    enum { M = 8000, PAD = 4, SPAN = 2 * PAD + 1 };
    int pair[SPAN][SPAN] = {{0}}, oy_count[SPAN] = {0}, flips = 0;
    double amin = 1e9, amax = -1e9, asum = 0;
    int abin[10] = {0};
    for (uint32_t n = 0; n < M; n++) {
        uint32_t step = n / 128, img = n % 128; /* batches of 128 */
        int oy = lirf_aug_hash(99, step, img, 0) % SPAN, ox = lirf_aug_hash(99, step, img, 1) % SPAN;
        pair[oy][ox]++;
        oy_count[oy]++;
        flips += lirf_aug_hash(99, step, img, 2) & 1;
        double a = draw_angle(99, step, img, 15);
        amin = fmin(amin, a), amax = fmax(amax, a), asum += a;
        abin[(int)((a + 15) / 3)]++;
    }
    for (int a = 0; a < SPAN; a++) {
        for (int b = 0; b < SPAN; b++) ck_assert_msg(pair[a][b] > 0, "offset (%d, %d) never", a, b);
        /* expected 889, sd ~28 */
        ck_assert_msg(abs(oy_count[a] - M / SPAN) < 150, "oy %d drawn %d times", a, oy_count[a]);
    }
    ck_assert_msg(abs(flips - M / 2) < 250, "%d flips of %d", flips, M); /* sd ~45 */
    ck_assert(amin < -14.9 && amax > 14.9 && fabs(asum / M) < 0.5);
    for (int b = 0; b < 10; b++) ck_assert_msg(abs(abin[b] - M / 10) < 150, "angle bin %d: %d", b, abin[b]);
}
END_TEST

/* Mixing: flipping any one input bit flips about half the output bits. The
 * value at (0,0,0,0) is pinned so that a change of the hash (which changes
 * every augmented run) is noticed. */
START_TEST(aug_hash_mixing) {
    trng r = {95};
    for (int word = 0; word < 4; word++) {
        for (int bit = 0; bit < 32; bit++) {
            long flipped = 0;
            const int T = 200;
            for (int t = 0; t < T; t++) {
                uint32_t w[4], v[4];
                for (int i = 0; i < 4; i++) w[i] = v[i] = (uint32_t)trng_u64(&r);
                v[word] ^= 1u << bit;
                uint32_t d = lirf_aug_hash(w[0], w[1], w[2], w[3]) ^
                             lirf_aug_hash(v[0], v[1], v[2], v[3]);
                for (; d; d &= d - 1) flipped++;
            }
            double mean = (double)flipped / T;
            ck_assert_msg(mean > 14.5 && mean < 17.5, "word %d bit %d flips %g bits", word, bit,
                          mean);
        }
    }
    ck_assert_uint_eq(lirf_aug_hash(0, 0, 0, 0), AUG_HASH_0000);
}
END_TEST

START_TEST(aug_invalid_arguments_rejected) {
    double x[2 * 3 * 4 * 5] = {0};
    tbuf a = tbuf_new(x, 120), b = tbuf_new(x, 120);
    lirf_ctx *ctx = tctx();
    lirf_aug_params p = {2, 1, 10.0f};
    ck_assert_int_eq(lirf_augment(ctx, LIRF_NOBUF, b.v, 2, 3, 4, 5, &p, 1, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_augment(ctx, a.v, LIRF_NOBUF, 2, 3, 4, 5, &p, 1, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 5, NULL, 1, 2), LIRF_E_NULL);
    ck_assert_int_eq(lirf_augment(ctx, a.v, a.v, 2, 3, 4, 5, &p, 1, 2), LIRF_E_INVALID);
    lirf_buf lo, hi;
    ck_assert_int_eq(lirf_buf_view(a.v, 0, 60, &lo), LIRF_OK);
    ck_assert_int_eq(lirf_buf_view(a.v, 30, 60, &hi), LIRF_OK);
    ck_assert_int_eq(lirf_augment(ctx, lo, hi, 1, 3, 4, 5, &p, 1, 2), LIRF_E_INVALID); /* overlap */
    ck_assert_int_eq(lirf_buf_view(a.v, 60, 60, &hi), LIRF_OK);
    ck_assert_int_eq(lirf_augment(ctx, lo, hi, 1, 3, 4, 5, &p, 1, 2), LIRF_OK); /* disjoint */
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 0, 3, 4, 5, &p, 1, 2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, -4, 5, &p, 1, 2), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 6, &p, 1, 2), LIRF_E_SHAPE);
    ck_assert_int_eq(lirf_augment(ctx, lo, b.v, 2, 3, 4, 5, &p, 1, 2), LIRF_E_SHAPE);
    lirf_aug_params bad = {-1, 0, 0.0f};
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 5, &bad, 1, 2), LIRF_E_INVALID);
    bad = (lirf_aug_params){6, 0, 0.0f}; /* pad > max(H, W) */
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 5, &bad, 1, 2), LIRF_E_INVALID);
    bad = (lirf_aug_params){1, 0, -5.0f};
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 5, &bad, 1, 2), LIRF_E_INVALID);
    bad = (lirf_aug_params){1, 0, NAN};
    ck_assert_int_eq(lirf_augment(ctx, a.v, b.v, 2, 3, 4, 5, &bad, 1, 2), LIRF_E_INVALID);
    ck_assert_str_ne(lirf_error_message(), "");
    tbuf_free(&a), tbuf_free(&b);
}
END_TEST

int main(void) {
    Suite *s = suite_create("augment");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, aug_crop_only);
    tcase_add_test(tc, aug_flip_only);
    tcase_add_test(tc, aug_rotation_only);
    tcase_add_test(tc, aug_rotation_direction);
    tcase_add_test(tc, aug_all_three);
    tcase_add_test(tc, aug_determinism);
    tcase_add_test(tc, aug_draw_statistics);
    tcase_add_test(tc, aug_hash_mixing);
    tcase_add_test(tc, aug_invalid_arguments_rejected);
    suite_add_tcase(s, tc);
    return trun(s);
}
