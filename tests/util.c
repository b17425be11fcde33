#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static lirf_ctx *g_ctx;

static void tctx_release(void) {
    /* The suite's second run must build no OpenCL program: everything comes
     * from the on-disk binary cache filled by the first run. */
    const char *expect = getenv("LIRF_EXPECT_CACHED");
    if (g_ctx && expect && *expect && strcmp(expect, "0")) {
        uint64_t built = lirf_ctx_stats(g_ctx)->programs_built;
        fprintf(stderr, "programs built %llu, loaded from cache %llu\n",
                (unsigned long long)built,
                (unsigned long long)lirf_ctx_stats(g_ctx)->programs_cached);
        if (built) {
            fprintf(stderr, "FAIL: LIRF_EXPECT_CACHED is set but %llu program(s) were built\n",
                    (unsigned long long)built);
            lirf_ctx_destroy(g_ctx);
            _exit(1);
        }
    }
    lirf_ctx_destroy(g_ctx);
    g_ctx = NULL;
}

lirf_ctx *tctx(void) {
    if (!g_ctx) {
        lirf_status st = lirf_ctx_create(&g_ctx, NULL);
        ck_assert_msg(st == LIRF_OK, "no OpenCL context: %s: %s", lirf_status_name(st),
                      lirf_error_message());
        atexit(tctx_release);
    }
    return g_ctx;
}

uint64_t trng_u64(trng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double trng_uniform(trng *r, double lo, double hi) {
    return lo + (hi - lo) * ((double)(trng_u64(r) >> 11) / 9007199254740992.0);
}

int trng_int(trng *r, int lo, int hi_exclusive) {
    return lo + (int)(trng_u64(r) % (uint64_t)(hi_exclusive - lo));
}

void trand_fill(trng *r, double *x, size_t n, double lo, double hi) {
    for (size_t i = 0; i < n; i++) x[i] = trng_uniform(r, lo, hi);
}

void tround_f32(double *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = (float)x[i];
}

static const uint32_t GUARD_BITS = 0x7fc0dead; /* a NaN with a payload */

static tbuf tbuf_alloc(size_t n) {
    tbuf b;
    lirf_ctx *ctx = tctx();
    size_t total = n + 2 * TGUARD;
    lirf_status st = lirf_buf_alloc(ctx, total, &b.whole);
    ck_assert_msg(st == LIRF_OK, "alloc %zu: %s", total, lirf_error_message());
    uint32_t *host = malloc(total * 4);
    ck_assert_ptr_nonnull(host);
    for (size_t i = 0; i < total; i++) host[i] = GUARD_BITS;
    st = lirf_buf_write(ctx, b.whole, host, total);
    ck_assert_msg(st == LIRF_OK, "write: %s", lirf_error_message());
    free(host);
    st = lirf_buf_view(b.whole, TGUARD, n, &b.v);
    ck_assert_int_eq(st, LIRF_OK);
    return b;
}

tbuf tbuf_new(const double *x, size_t n) {
    tbuf b = tbuf_alloc(n);
    float *f = malloc((n ? n : 1) * sizeof *f);
    ck_assert_ptr_nonnull(f);
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
    if (n) ck_assert_int_eq(lirf_buf_write(tctx(), b.v, f, n), LIRF_OK);
    free(f);
    return b;
}

tbuf tbuf_new_int(const int32_t *x, size_t n) {
    tbuf b = tbuf_alloc(n);
    if (n) ck_assert_int_eq(lirf_buf_write(tctx(), b.v, x, n), LIRF_OK);
    return b;
}

tbuf tbuf_zeros(size_t n) {
    tbuf b = tbuf_alloc(n);
    if (n) ck_assert_int_eq(lirf_buf_fill(tctx(), b.v, 0.0f), LIRF_OK);
    return b;
}

void tbuf_get(tbuf *b, double *out, size_t n) {
    float *f = malloc((n ? n : 1) * sizeof *f);
    ck_assert_ptr_nonnull(f);
    lirf_status st = lirf_buf_read(tctx(), b->v, f, n);
    ck_assert_msg(st == LIRF_OK, "read: %s", lirf_error_message());
    for (size_t i = 0; i < n; i++) out[i] = f[i];
    free(f);
}

void tbuf_get_int(tbuf *b, int32_t *out, size_t n) {
    lirf_status st = lirf_buf_read(tctx(), b->v, out, n);
    ck_assert_msg(st == LIRF_OK, "read: %s", lirf_error_message());
}

int tbuf_guards_ok(tbuf *b) {
    size_t total = b->whole.n;
    uint32_t *host = malloc(total * 4);
    ck_assert_ptr_nonnull(host);
    ck_assert_int_eq(lirf_buf_read(tctx(), b->whole, host, total), LIRF_OK);
    int ok = 1;
    for (size_t i = 0; i < TGUARD; i++) {
        if (host[i] != GUARD_BITS || host[total - 1 - i] != GUARD_BITS) ok = 0;
    }
    free(host);
    return ok;
}

void tbuf_free(tbuf *b) {
    lirf_buf_free(tctx(), &b->whole);
    b->v = LIRF_NOBUF;
}

size_t tclose(const char *what, const double *got, const double *want, size_t n, double atol,
              double rtol) {
    size_t bad = 0, worst = 0;
    double worst_excess = -1;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i];
        if (isnan(g) && isnan(w)) continue;
        double err = fabs(g - w), lim = atol + rtol * fabs(w);
        int viol = !(err <= lim); /* NaN counts */
        if (viol) {
            bad++;
            double ex = isnan(err) ? INFINITY : err - lim;
            if (ex > worst_excess) {
                worst_excess = ex;
                worst = i;
            }
        }
    }
    if (bad)
        fprintf(stderr, "%s: %zu of %zu elements differ; worst [%zu]: got %.9g want %.9g\n", what,
                bad, n, worst, got[worst], want[worst]);
    return bad;
}

size_t tsame_int(const char *what, const int32_t *got, const int32_t *want, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            if (!bad)
                fprintf(stderr, "%s: first difference at [%zu]: got %d want %d\n", what, i,
                        (int)got[i], (int)want[i]);
            bad++;
        }
    }
    return bad;
}

void tfd_grad(tfd_fn f, void *ctx, double *x, size_t n, double h, double *grad) {
    for (size_t i = 0; i < n; i++) {
        double keep = x[i];
        x[i] = keep + h;
        double fp = f(ctx, x);
        x[i] = keep - h;
        double fm = f(ctx, x);
        x[i] = keep;
        grad[i] = (fp - fm) / (2 * h);
    }
}

int trun(Suite *s) {
    SRunner *sr = srunner_create(s);
    srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    /* Release the context here, before exit() runs its handlers: work still
     * queued (a launch whose result no test read) must finish while the
     * driver's libraries are intact. On Mesa's rusticl, the JIT compiling it
     * from the queue's thread crashed or stalled once exit() had destroyed
     * LLVM's static objects (docs/portability.md). The atexit() handler stays
     * for a test that ends the process some other way. */
    tctx_release();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

const char *tlirf_bin(void) {
    static char self[1024];
    const char *bin = getenv("LIRF_BIN");
    if (bin) return bin;
    ssize_t k = readlink("/proc/self/exe", self, sizeof self - 8);
    ck_assert(k > 0);
    self[k] = 0;
    char *slash = strrchr(self, '/');
    strcpy(slash ? slash + 1 : self, "lirf");
    return self;
}

/* n 12x12 images (IDX, as Fashion-MNIST), labels 0..9 in turn, pixels from a
 * fixed pseudo-random sequence with a class-dependent bias (learnable): every
 * tenth pixel brighter (levels 0), or the whole image 24 levels brighter a
 * class (levels 1: what a net still tells apart after crops and flips). */
void twrite_idx(const char *images, const char *labels, int n, uint32_t seed, int levels) {
    unsigned char h[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, 12, 0, 0, 0, 12};
    FILE *f = fopen(images, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(h, 1, 16, f), 16);
    for (int i = 0; i < n; i++)
        for (int p = 0; p < 144; p++) {
            seed = seed * 1664525u + 1013904223u;
            int v = levels ? (int)(seed >> 28) + 24 * (i % 10)
                           : (int)(seed >> 25) + ((p % 10 == i % 10) ? 128 : 0);
            fputc(v > 255 ? 255 : v, f);
        }
    fclose(f);
    h[3] = 1;
    f = fopen(labels, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(h, 1, 8, f), 8);
    for (int i = 0; i < n; i++) fputc(i % 10, f);
    fclose(f);
}


int tsetenv(const char *name, const char *value) {
    int rc = value ? setenv(name, value, 1) : unsetenv(name);
    lirf_options_reload();
    return rc;
}

lirf_dataset tstripes(int n, int k, int size) {
    lirf_dataset d = {0};
    size_t px = (size_t)size * size;
    d.c = 1, d.h = size, d.w = size, d.num_classes = k, d.n = n;
    d.pixels = malloc((size_t)n * px);
    d.labels = malloc((size_t)n * sizeof *d.labels);
    d.class_names = calloc((size_t)k, sizeof *d.class_names);
    ck_assert(d.pixels && d.labels && d.class_names);
    for (int c = 0; c < k; c++) d.class_names[c] = strdup(c % 2 ? "odd" : "even");
    trng r = {77};
    for (int i = 0; i < n; i++) {
        int lab = i % k;
        for (size_t p = 0; p < px; p++) {
            int on = (int)(p / (size_t)size) == 2 * lab || (int)(p % (size_t)size) == 2 * lab;
            d.pixels[(size_t)i * px + p] = (uint8_t)((on ? 200 : 30) + trng_int(&r, 0, 40));
        }
        d.labels[i] = lab;
    }
    return d;
}

lirf_loader *tloader(lirf_dataset *d, const lirf_model_meta *m, int batch, int shuffle) {
    lirf_loader_opts lo = {.data = d, .batch = batch, .shuffle = shuffle, .seed = 3};
    lo.mean[0] = m->mean[0], lo.std[0] = m->std[0];
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    return l;
}

float *tfirst_logits(lirf_loader *l, lirf_logits_fn fn, void *user, int K, int *n) {
    lirf_arena *ws;
    ck_assert_int_eq(lirf_arena_create(tctx(), 0, &ws), LIRF_OK);
    lirf_buf x, y, z;
    ck_assert_int_eq(lirf_loader_start(l, 0, 0), LIRF_OK);
    ck_assert_int_eq(lirf_loader_next(l, &x, &y, n), LIRF_OK);
    lirf_status st = fn(user, ws, x, *n, &z);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    float *out = malloc((size_t)*n * (size_t)K * sizeof *out);
    ck_assert_ptr_nonnull(out);
    ck_assert_int_eq(lirf_buf_read(tctx(), z, out, (size_t)*n * (size_t)K), LIRF_OK);
    lirf_arena_destroy(ws);
    return out;
}
