/* Test helpers shared by every Check test of lirf.
 *
 * - one OpenCL context per test process (tctx()), on $LIRF_DEVICE or the default;
 * - device buffers with guard regions (tbuf_*): each buffer is allocated with
 *   TGUARD extra elements on both sides filled with a sentinel, and
 *   tbuf_guards_ok() checks that no op wrote outside its view;
 * - random data, comparisons with stated tolerances that print the worst
 *   element, and central finite differences in double.
 *
 * Tests run with CK_NOFORK (an OpenCL context must not cross fork()).
 */
#ifndef LIRF_TEST_UTIL_H
#define LIRF_TEST_UTIL_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "data.h"
#include "checkpoint.h"
#include "lirf_runtime.h"
#include "loader.h"
#include "train.h"

#define TGUARD 64

/* The shared context; fails the current test if none can be made. */
lirf_ctx *tctx(void);

/* Deterministic RNG (splitmix64). */
typedef struct { uint64_t s; } trng;
uint64_t trng_u64(trng *r);
double trng_uniform(trng *r, double lo, double hi);
int trng_int(trng *r, int lo, int hi_exclusive);
void trand_fill(trng *r, double *x, size_t n, double lo, double hi);
/* Rounds x to float precision in place (what the device will see), so that
 * references computed from x compare with the device without input rounding. */
void tround_f32(double *x, size_t n);

/* Guarded device buffers. tbuf_new uploads n doubles as floats; tbuf_new_int
 * uploads int32s; tbuf_zeros makes a zero-filled one. */
typedef struct {
    lirf_buf whole; /* the allocation, with guards */
    lirf_buf v;     /* the view handed to ops */
} tbuf;
tbuf tbuf_new(const double *x, size_t n);
tbuf tbuf_new_int(const int32_t *x, size_t n);
tbuf tbuf_zeros(size_t n);
void tbuf_get(tbuf *b, double *out, size_t n);       /* read floats as doubles */
void tbuf_get_int(tbuf *b, int32_t *out, size_t n);
int tbuf_guards_ok(tbuf *b);                         /* 1 if guards untouched */
void tbuf_free(tbuf *b);

/* Element-wise |got - want| <= atol + rtol * |want|. Returns the number of
 * violations; prints the worst one (with `what`) when there is any. NaN in
 * either counts as a violation unless both are NaN. */
size_t tclose(const char *what, const double *got, const double *want, size_t n, double atol,
              double rtol);
#define ck_assert_close(what, got, want, n, atol, rtol) \
    ck_assert_msg(tclose((what), (got), (want), (n), (atol), (rtol)) == 0, \
                  "%s: values differ beyond atol %g rtol %g", (what), (double)(atol), (double)(rtol))
size_t tsame_int(const char *what, const int32_t *got, const int32_t *want, size_t n);

/* Central finite differences: grad[i] = (f(x + h e_i) - f(x - h e_i)) / 2h for
 * i in [0, n); x is restored. f gets the caller's context. */
typedef double (*tfd_fn)(void *ctx, const double *x);
void tfd_grad(tfd_fn f, void *ctx, double *x, size_t n, double h, double *grad);

/* Runs the suite with CK_NOFORK; returns the process exit status. */
int trun(Suite *s);

/* The lirf command to test: $LIRF_BIN (ctest sets it), else `lirf` beside
 * the test executable. */
const char *tlirf_bin(void);

/* setenv (value NULL: unsetenv) and lirf_options_reload(), so that lirf sees
 * the change (it reads its environment once); returns setenv's status. */
int tsetenv(const char *name, const char *value);

/* Writes n 12x12 images (IDX, as Fashion-MNIST) to `images` and their labels
 * (0..9 in turn) to `labels`: pixels from a fixed pseudo-random sequence with
 * a class-dependent bias (learnable); levels 0: every tenth pixel brighter,
 * levels 1: the whole image 24 levels brighter a class. */
void twrite_idx(const char *images, const char *labels, int n, uint32_t seed, int levels);

/* n size x size one-channel images of k classes (label i % k, class names
 * "even"/"odd"): class c is a bright row and column 2c on noise (a fixed
 * sequence), learnable in a few steps. Free with lirf_dataset_free. */
lirf_dataset tstripes(int n, int k, int size);

/* A loader over d with m's preprocessing (channel 0's mean and std), seed 3. */
lirf_loader *tloader(lirf_dataset *d, const lirf_model_meta *m, int batch, int shuffle);
/* fn's logits (n x K, on the host; free() them) of the first batch of l. */
float *tfirst_logits(lirf_loader *l, lirf_logits_fn fn, void *user, int K, int *n);

#endif
