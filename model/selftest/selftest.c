/* The selftest's harness: runs cases (selftest_cases.c) with their host and
 * device memory, measures each one's error and time, and gives the JSON. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileutil.h"
#include "selftest.h"

/* Host memory of one case, in doubles (every built-in case needs far less). */
#define POOL ((size_t)1 << 18)
#define MAXBUF 24

struct lirf_selftest_env {
    lirf_ctx *ctx;
    lirf_status st;
    char msg[256];
    double err;
    double *pool;   /* POOL doubles, carved by the host helpers */
    size_t used;
    float *stage;   /* POOL floats: uploads and read-backs */
    lirf_buf bufs[MAXBUF];
    int nbufs;
    uint64_t rng;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

lirf_ctx *lirf_selftest_ctx(lirf_selftest_env *e) { return e->ctx; }

void lirf_selftest_call(lirf_selftest_env *e, lirf_status st) {
    if (st == LIRF_OK || e->st != LIRF_OK) return;
    e->st = st;
    snprintf(e->msg, sizeof e->msg, "%s", lirf_error_message());
}

/* A failure of the harness itself, as a status with a message. */
static void harness_fail(lirf_selftest_env *e, lirf_status st, const char *what) {
    lirf_selftest_call(e, LIRF_FAIL(st, "selftest: %s", what));
}

double *lirf_selftest_host(lirf_selftest_env *e, size_t n) {
    if (n > POOL - e->used) {
        /* a case larger than the pool: a defect of the case, reported */
        harness_fail(e, LIRF_E_INVALID, "a case needs more host memory than the selftest's pool");
        return n <= POOL ? e->pool : NULL;
    }
    double *p = e->pool + e->used;
    e->used += n;
    memset(p, 0, n * sizeof *p);
    return p;
}

int32_t *lirf_selftest_host_int(lirf_selftest_env *e, size_t n) {
    return (int32_t *)lirf_selftest_host(e, n); /* a double holds an int32 */
}

double *lirf_selftest_rand(lirf_selftest_env *e, size_t n, double lo, double hi) {
    double *x = lirf_selftest_host(e, n);
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)(lo + (hi - lo) * lirf_rng_uniform(&e->rng));
    return x;
}

static lirf_buf upload(lirf_selftest_env *e, const void *src, size_t n) {
    lirf_buf b = LIRF_NOBUF;
    if (e->nbufs == MAXBUF) {
        harness_fail(e, LIRF_E_INVALID, "a case needs more device buffers than the selftest keeps");
        return b;
    }
    lirf_status st = lirf_buf_alloc(e->ctx, n, &b);
    if (!st) e->bufs[e->nbufs++] = b;
    if (!st) st = lirf_buf_write(e->ctx, b, src, n);
    lirf_selftest_call(e, st);
    return b;
}

lirf_buf lirf_selftest_up(lirf_selftest_env *e, const double *x, size_t n) {
    if (!x || n > POOL) return harness_fail(e, LIRF_E_INVALID, "upload too large"), LIRF_NOBUF;
    for (size_t i = 0; i < n; i++) e->stage[i] = (float)x[i];
    return upload(e, e->stage, n);
}

lirf_buf lirf_selftest_up_int(lirf_selftest_env *e, const int32_t *x, size_t n) {
    if (!x) return harness_fail(e, LIRF_E_INVALID, "upload of no data"), LIRF_NOBUF;
    return upload(e, x, n);
}

/* Reads n 4-byte elements of b into the stage; 0 on a failure (recorded). */
static int read_back(lirf_selftest_env *e, lirf_buf b, const void *want, size_t n) {
    if (!want || n > POOL) return harness_fail(e, LIRF_E_INVALID, "check too large"), 0;
    lirf_status st = lirf_buf_read(e->ctx, b, e->stage, n);
    lirf_selftest_call(e, st);
    return st == LIRF_OK;
}

void lirf_selftest_check(lirf_selftest_env *e, lirf_buf b, const double *want, size_t n) {
    if (!read_back(e, b, want, n)) return;
    double scale = 1, worst = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i])) scale = fmax(scale, fabs(want[i]));
    for (size_t i = 0; i < n; i++) {
        double got = e->stage[i], d = fabs(got - want[i]);
        if (isnan(want[i]) && isnan(got)) d = 0;
        else if (isinf(want[i]) && got == want[i]) d = 0;
        else if (!isfinite(d)) d = INFINITY;
        if (d > worst) worst = d;
    }
    if (worst / scale > e->err) e->err = worst / scale;
}

void lirf_selftest_check_int(lirf_selftest_env *e, lirf_buf b, const int32_t *want, size_t n) {
    if (!read_back(e, b, want, n)) return;
    const int32_t *got = (const int32_t *)e->stage;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (d > e->err) e->err = d;
    }
}

static void run_case(lirf_selftest_env *e, const lirf_selftest_case *c, size_t k,
                     lirf_selftest_result *r) {
    e->st = LIRF_OK, e->msg[0] = 0, e->err = 0, e->used = 0, e->nbufs = 0;
    e->rng = 0x5E1F7E57ull + k; /* every case its own fixed inputs */
    double t0 = now();
    c->run(e);
    lirf_selftest_call(e, lirf_finish(e->ctx));
    r->seconds = now() - t0;
    for (int i = 0; i < e->nbufs; i++) lirf_buf_free(e->ctx, &e->bufs[i]);
    r->name = c->name, r->shape = c->shape, r->tol = c->tol, r->max_err = e->err;
    r->status = e->st;
    snprintf(r->message, sizeof r->message, "%s", e->msg);
    r->pass = e->st == LIRF_OK && e->err <= c->tol; /* NaN fails */
}

lirf_status lirf_selftest_run(lirf_ctx *ctx, const lirf_selftest_case *cases, size_t n,
                              lirf_selftest_result *out, int *failed) {
    if (!ctx || (!cases && n) || (!out && n) || !failed)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_selftest_run: NULL argument");
    lirf_selftest_env e = {.ctx = ctx};
    e.pool = malloc(POOL * sizeof *e.pool);
    e.stage = malloc(POOL * sizeof *e.stage);
    if (!e.pool || !e.stage) {
        free(e.pool), free(e.stage);
        return LIRF_FAIL(LIRF_E_NOMEM, "selftest: out of host memory");
    }
    *failed = 0;
    for (size_t k = 0; k < n; k++) {
        run_case(&e, &cases[k], k, &out[k]);
        *failed += !out[k].pass;
    }
    free(e.pool), free(e.stage);
    return LIRF_OK;
}

static json_t *num_or_null(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static json_t *case_json(const lirf_selftest_result *r) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(r->name));
    json_object_set_new(c, "shape", json_string(r->shape));
    json_object_set_new(c, "max_error", num_or_null(r->max_err));
    json_object_set_new(c, "tolerance", json_real(r->tol));
    json_object_set_new(c, "pass", json_boolean(r->pass));
    json_object_set_new(c, "seconds", json_real(r->seconds));
    json_object_set_new(c, "error", r->status ? json_sprintf("%s: %s", lirf_status_name(r->status),
                                                             r->message)
                                              : json_null());
    return c;
}

json_t *lirf_selftest_json(lirf_ctx *ctx, const lirf_selftest_result *r, size_t n) {
    const lirf_device_info *d = lirf_ctx_device(ctx);
    const lirf_stats *s = lirf_ctx_stats(ctx);
    json_t *cases = json_array();
    int failed = 0;
    for (size_t k = 0; k < n; k++) {
        json_array_append_new(cases, case_json(&r[k]));
        failed += !r[k].pass;
    }
    const char *cache = lirf_ctx_cache_dir(ctx);
    return json_pack("{s:{s:o,s:o,s:o,s:o}, s:b, s:i, s:i, s:o, s:{s:I,s:I,s:o}}",
                     "device", "name", lirf_json_text(d->name), "platform",
                     lirf_json_text(d->platform_name), "driver", lirf_json_text(d->driver),
                     "opencl_c", lirf_json_text(d->c_version), "passed", failed == 0, "cases_run", (int)n,
                     "failed", failed, "cases", cases, "programs", "built",
                     (json_int_t)s->programs_built, "cached", (json_int_t)s->programs_cached,
                     "cache_dir", *cache ? lirf_json_text(cache) : json_null());
}
