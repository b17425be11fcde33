/* lirf selftest as a library call: every device op's kernel against its
 * plain C reference (model/ref/ref.h) on a small shape, in seconds. It is what
 * the user of a new device runs first (lirf selftest).
 *
 * The cases are a table (model/selftest/selftest.c): a name, the shape in
 * words, a tolerance and a function that runs the op on the device and its
 * reference on the same inputs and compares them with the helpers below. A
 * new op is one function and one line of the table. The error of a float
 * output is max |device - reference| / max(1, max |reference|) (NaN or an
 * infinity where the reference has none: infinite); of an integer output the
 * largest absolute difference. A case passes when every call succeeded and
 * its largest error is at most its tolerance.
 */
#ifndef LIRF_SELFTEST_H
#define LIRF_SELFTEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lirf_runtime.h"

typedef struct lirf_selftest_env lirf_selftest_env;
typedef void (*lirf_selftest_fn)(lirf_selftest_env *e);
typedef struct {
    const char *name;   /* the op (and direction): "conv2d_backward" */
    const char *shape;  /* the shape it runs on, in words */
    double tol;         /* the largest error that passes */
    lirf_selftest_fn run;
} lirf_selftest_case;

typedef struct {
    const char *name, *shape;
    double max_err, tol, seconds;
    int pass;
    lirf_status status;  /* LIRF_OK, or the first error a call of the case gave */
    char message[256];   /* that error's message ("" when none) */
} lirf_selftest_result;

/* The built-in cases: *cases, and their count. */
size_t lirf_selftest_cases(const lirf_selftest_case **cases);
/* Runs n cases on ctx into out[0..n); *failed = how many did not pass. A
 * failing case is a result, not an error: LIRF_OK unless the run itself could
 * not start (host memory). */
lirf_status lirf_selftest_run(lirf_ctx *ctx, const lirf_selftest_case *cases, size_t n,
                              lirf_selftest_result *out, int *failed);
/* lirf selftest --json: {"device", "passed", "failed", "cases": [{"name",
 * "shape", "max_error", "tolerance", "pass", "seconds", "error"}], "programs"}
 * (docs/json.md); NULL when out of memory. */
json_t *lirf_selftest_json(lirf_ctx *ctx, const lirf_selftest_result *r, size_t n);

/* ---- helpers for a case's function -------------------------------------- */
lirf_ctx *lirf_selftest_ctx(lirf_selftest_env *e);
/* Host arrays of the case (zeroed; released after it): n doubles, n int32s;
 * n doubles uniform in [lo, hi) rounded to float (what the device sees). */
double *lirf_selftest_host(lirf_selftest_env *e, size_t n);
int32_t *lirf_selftest_host_int(lirf_selftest_env *e, size_t n);
double *lirf_selftest_rand(lirf_selftest_env *e, size_t n, double lo, double hi);
/* A device buffer of the case holding x (as float / int32); released after it. */
lirf_buf lirf_selftest_up(lirf_selftest_env *e, const double *x, size_t n);
lirf_buf lirf_selftest_up_int(lirf_selftest_env *e, const int32_t *x, size_t n);
/* Records the status of an op's call (the first error fails the case). */
void lirf_selftest_call(lirf_selftest_env *e, lirf_status st);
/* Reads b (n floats / int32s) back and folds its error against want in. */
void lirf_selftest_check(lirf_selftest_env *e, lirf_buf b, const double *want, size_t n);
void lirf_selftest_check_int(lirf_selftest_env *e, lirf_buf b, const int32_t *want, size_t n);

#endif
