/* bench_gemm: lirf_gemm (on the OpenCL device, with the context's GEMM engine:
 * lirf's packed kernels on PoCL CPUs, CLBlast elsewhere; LIRF_GEMM picks) against OpenBLAS
 * cblas_sgemm (host) on the GEMMs that lirf's convolution (model/ops/op_conv.c)
 * performs for ResNet-18 CIFAR. A benchmark, not a test: it prints a Markdown
 * block (header, table of GFLOP/s and the ratio lirf/OpenBLAS, geometric mean).
 *
 * op_conv.c lowers a convolution with im2col, row-major, L = nb * Ho * Wo:
 *   forward  y_tmp (K, L)  = W (K, CRS) x col (CRS, L)          NN, beta 0
 *   backward dW (K, CRS)  += dyp (K, L) x col^T (L, CRS)        NT, beta 1
 *            dcol (CRS, L) = W^T (CRS, K) x dyp (K, L)          TN, beta 0
 * where nb is the number of images per chunk (the whole batch unless the
 * scratch budget splits it; the same rule as op_conv.c is applied here).
 *
 * Each row: one untimed call per library (it compiles CLBlast's kernels and
 * gives the results that are compared), then `reps` timed calls, wall clock,
 * lirf_finish() before the clock stops. A row whose results disagree is marked
 * WRONG, left out of the mean, and the program exits nonzero.
 */
#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lirf_runtime.h"

#define CONV_CHUNK_DEFAULT ((size_t)2 << 20) /* op_conv.c: floats per scratch slot */
#define MAX_REL_ERR 1e-3                      /* max |lirf - blas| / max |blas| */

/* One convolution of the network: input C x H x H, K filters R x R, stride. */
typedef struct {
    const char *layer;
    int C, K, H, R, stride;
} conv_case;

typedef enum { OP_FWD, OP_DW, OP_DCOL } gemm_op;
static const char *const OP_NAME[] = {"fwd y = W x col (NN)", "bwd dW += dy x col^T (NT)",
                                      "bwd dcol = W^T x dy (TN)"};

typedef struct {
    conv_case c;
    gemm_op op;
} bench_row;

typedef struct {
    int batch, width, reps, threads, quick;
    const char *append;
} options;

/* ---- output: stdout, and a copy of the block for --append ---------------- */
static FILE *g_block; /* memstream holding what was printed */

static void emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void emit(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    if (g_block) {
        va_start(ap, fmt);
        vfprintf(g_block, fmt, ap);
        va_end(ap);
    }
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the shapes ------------------------------------------------------------ */
/* ResNet-18 CIFAR at width w on 32x32 input (docs/method.md): stem, then stages of
 * widths w, 2w, 4w, 8w at 32, 16, 8, 4; the first conv of stages 2-4 has
 * stride 2, as does the 1x1 downsample of the shortcut. */
static size_t build_rows(int w, int quick, bench_row *rows) {
    const conv_case stem = {"stem 3x3", 3, w, 32, 3, 1};
    const conv_case l1 = {"layer1 3x3", w, w, 32, 3, 1};
    const conv_case l2a = {"layer2.0.conv1 3x3 s2", w, 2 * w, 32, 3, 2};
    const conv_case l2 = {"layer2 3x3", 2 * w, 2 * w, 16, 3, 1};
    const conv_case l2d = {"layer2.0.downsample 1x1 s2", w, 2 * w, 32, 1, 2};
    const conv_case l3a = {"layer3.0.conv1 3x3 s2", 2 * w, 4 * w, 16, 3, 2};
    const conv_case l3 = {"layer3 3x3", 4 * w, 4 * w, 8, 3, 1};
    const conv_case l3d = {"layer3.0.downsample 1x1 s2", 2 * w, 4 * w, 16, 1, 2};
    const conv_case l4a = {"layer4.0.conv1 3x3 s2", 4 * w, 8 * w, 8, 3, 2};
    const conv_case l4 = {"layer4 3x3", 8 * w, 8 * w, 4, 3, 1};
    const conv_case l4d = {"layer4.0.downsample 1x1 s2", 4 * w, 8 * w, 8, 1, 2};
    size_t n = 0;
    if (quick) {
        rows[n++] = (bench_row){stem, OP_FWD};
        rows[n++] = (bench_row){l1, OP_FWD};
        rows[n++] = (bench_row){l3, OP_FWD};
        rows[n++] = (bench_row){l3d, OP_FWD};
        rows[n++] = (bench_row){l1, OP_DW};
        rows[n++] = (bench_row){l3, OP_DCOL};
        return n;
    }
    const conv_case fwd[] = {stem, l1, l2a, l2, l2d, l3a, l3, l3d, l4a, l4, l4d};
    for (size_t i = 0; i < sizeof fwd / sizeof fwd[0]; i++) rows[n++] = (bench_row){fwd[i], OP_FWD};
    const conv_case bwd[] = {l1, l2, l3, l4};
    for (size_t i = 0; i < sizeof bwd / sizeof bwd[0]; i++) {
        rows[n++] = (bench_row){bwd[i], OP_DW};
        rows[n++] = (bench_row){bwd[i], OP_DCOL};
    }
    return n;
}
#define MAX_ROWS 32

/* op_conv.c's chunk limit: LIRF_CONV_CHUNK_ELEMS if a positive integer, else
 * 64 Mi floats, capped at INT_MAX. */
static size_t chunk_limit(void) {
    size_t limit = lirf_options_get()->conv_chunk_elems;
    if (!limit) limit = CONV_CHUNK_DEFAULT;
    return limit > (size_t)INT32_MAX ? (size_t)INT32_MAX : limit;
}

/* The GEMM of one row: row-major C(M,N) = op(A) op(B) + beta C. */
typedef struct {
    lirf_trans ta, tb;
    size_t M, N, K, nb;
    float beta;
} gemm_shape;

static gemm_shape shape_of(const bench_row *r, int batch) {
    const conv_case *c = &r->c;
    int pad = c->R / 2;
    size_t Ho = (size_t)((c->H + 2 * pad - c->R) / c->stride + 1);
    size_t HoWo = Ho * Ho, CRS = (size_t)c->C * c->R * c->R, K = (size_t)c->K;
    size_t per_image = (CRS > K ? CRS : K) * HoWo;
    size_t nb = chunk_limit() / per_image;
    if (nb < 1) nb = 1;
    if (nb > (size_t)batch) nb = (size_t)batch;
    size_t L = nb * HoWo;
    switch (r->op) {
    case OP_FWD: return (gemm_shape){LIRF_NO_TRANS, LIRF_NO_TRANS, K, L, CRS, nb, 0.0f};
    case OP_DW: return (gemm_shape){LIRF_NO_TRANS, LIRF_TRANS, K, CRS, L, nb, 1.0f};
    default: return (gemm_shape){LIRF_TRANS, LIRF_NO_TRANS, CRS, L, K, nb, 0.0f};
    }
}

/* ---- one row ------------------------------------------------------------------ */
typedef struct {
    double lirf_gflops, blas_gflops, rel_err;
} row_result;

static void fill_random(float *x, size_t n, uint64_t *s) {
    for (size_t i = 0; i < n; i++) {
        uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        x[i] = (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0); /* [-1, 1) */
    }
}

static lirf_status run_row(lirf_ctx *ctx, const gemm_shape *g, int reps, uint64_t *seed,
                           row_result *res) {
    size_t arows = g->ta ? g->K : g->M, acols = g->ta ? g->M : g->K;
    size_t brows = g->tb ? g->N : g->K, bcols = g->tb ? g->K : g->N;
    size_t na = arows * acols, nb = brows * bcols, nc = g->M * g->N;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C0 = malloc(nc * sizeof *C0), *Cl = malloc(nc * sizeof *Cl);
    float *Cb = malloc(nc * sizeof *Cb);
    lirf_buf dA = LIRF_NOBUF, dB = LIRF_NOBUF, dC = LIRF_NOBUF; /* (arows, acols) ... (M, N) */
    lirf_status st = LIRF_OK;
    if (!A || !B || !C0 || !Cl || !Cb) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "bench_gemm: host matrices for %zux%zux%zu", g->M, g->N,
                       g->K);
        goto done;
    }
    fill_random(A, na, seed), fill_random(B, nb, seed), fill_random(C0, nc, seed);
    memcpy(Cb, C0, nc * sizeof *Cb);
#define TRY_GOTO(expr) \
    if ((st = (expr)) != LIRF_OK) goto done
    TRY_GOTO(lirf_buf_alloc(ctx, na, &dA));
    TRY_GOTO(lirf_buf_alloc(ctx, nb, &dB));
    TRY_GOTO(lirf_buf_alloc(ctx, nc, &dC));
    TRY_GOTO(lirf_buf_write(ctx, dA, A, na));
    TRY_GOTO(lirf_buf_write(ctx, dB, B, nb));
    TRY_GOTO(lirf_buf_write(ctx, dC, C0, nc));

    /* the untimed calls: warm-up (CLBlast compiles here) and the check */
    TRY_GOTO(lirf_gemm(ctx, g->ta, g->tb, g->M, g->N, g->K, 1.0f, dA, acols, dB, bcols, g->beta,
                       dC, g->N));
    TRY_GOTO(lirf_buf_read(ctx, dC, Cl, nc));
    enum CBLAS_TRANSPOSE cta = g->ta ? CblasTrans : CblasNoTrans;
    enum CBLAS_TRANSPOSE ctb = g->tb ? CblasTrans : CblasNoTrans;
    int M = (int)g->M, N = (int)g->N, K = (int)g->K, lda = (int)acols, ldb = (int)bcols;
    cblas_sgemm(CblasRowMajor, cta, ctb, M, N, K, 1.0f, A, lda, B, ldb, g->beta, Cb, N);
    double maxdiff = 0.0, maxref = 0.0;
    for (size_t i = 0; i < nc; i++) {
        double d = fabs((double)Cl[i] - (double)Cb[i]), m = fabs((double)Cb[i]);
        if (!(d <= maxdiff)) maxdiff = d; /* NaN propagates */
        if (m > maxref) maxref = m;
    }
    res->rel_err = maxdiff / (maxref > 0.0 ? maxref : 1.0);

    double flops = 2.0 * (double)g->M * (double)g->N * (double)g->K * reps;
    TRY_GOTO(lirf_finish(ctx));
    double t0 = now_s();
    for (int i = 0; i < reps; i++)
        TRY_GOTO(lirf_gemm(ctx, g->ta, g->tb, g->M, g->N, g->K, 1.0f, dA, acols, dB, bcols,
                           g->beta, dC, g->N));
    TRY_GOTO(lirf_finish(ctx));
    res->lirf_gflops = flops / (now_s() - t0) / 1e9;

    t0 = now_s();
    for (int i = 0; i < reps; i++)
        cblas_sgemm(CblasRowMajor, cta, ctb, M, N, K, 1.0f, A, lda, B, ldb, g->beta, Cb, N);
    res->blas_gflops = flops / (now_s() - t0) / 1e9;
#undef TRY_GOTO
done:
    lirf_buf_free(ctx, &dA), lirf_buf_free(ctx, &dB), lirf_buf_free(ctx, &dC);
    free(A), free(B), free(C0), free(Cl), free(Cb);
    return st;
}

/* ---- options ------------------------------------------------------------------ */
static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_gemm [--batch N] [--width W] [--reps R] [--threads T] [--quick]\n"
            "                  [--append FILE] [--help]\n"
            "GFLOP/s of lirf_gemm (packed engine or CLBlast) beside OpenBLAS cblas_sgemm on the GEMMs of\n"
            "lirf's im2col convolution for ResNet-18 CIFAR (3x32x32 input).\n"
            "  --batch N     images per batch (default 64; 8 with --quick)\n"
            "  --width W     ResNet-18 width, stages W,2W,4W,8W (default 64)\n"
            "  --reps R      timed calls per row after one untimed warm-up (default 3;\n"
            "                1 with --quick)\n"
            "  --threads T   OpenBLAS threads (default: online CPUs); also sets\n"
            "                POCL_MAX_PTHREAD_COUNT for PoCL when it is not set\n"
            "  --quick       6 shapes, small batch: a smoke run\n"
            "  --append FILE append the printed block, with the command line, to FILE\n"
            "Environment: LIRF_DEVICE picks the OpenCL device (see `lirf devices`);\n"
            "LIRF_CONV_CHUNK_ELEMS changes the chunking as it does in op_conv.c;\n"
            "LIRF_GEMM=packed|clblast picks the GEMM engine (default: packed on PoCL CPUs);\n"
            "LIRF_GEMM_TUNING=off uses CLBlast's default parameters instead of lirf's tuned\n"
            "ones (`lirf tune`; the block names the parameters used).\n");
}

static int parse_int(const char *name, const char *v, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || errno || *end || x < lo || x > hi) {
        fprintf(stderr, "bench_gemm: %s needs an integer in [%d, %d]\n", name, lo, hi);
        return 0;
    }
    *out = (int)x;
    return 1;
}

/* 0 on success, 1 on a bad command line, -1 after --help. */
static int parse_args(int argc, char **argv, options *o) {
    int batch = 0, reps = 0;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    *o = (options){0, 64, 0, ncpu > 0 ? (int)ncpu : 1, 0, NULL};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
            continue;
        } else if (!strcmp(a, "--batch")) {
            if (!parse_int(a, v, 1, 1 << 16, &batch)) return 1;
        } else if (!strcmp(a, "--width")) {
            if (!parse_int(a, v, 1, 1 << 12, &o->width)) return 1;
        } else if (!strcmp(a, "--reps")) {
            if (!parse_int(a, v, 1, 1 << 20, &reps)) return 1;
        } else if (!strcmp(a, "--threads")) {
            if (!parse_int(a, v, 1, 1 << 12, &o->threads)) return 1;
        } else if (!strcmp(a, "--append")) {
            if (!v) {
                fprintf(stderr, "bench_gemm: --append needs a file name\n");
                return 1;
            }
            o->append = v;
        } else {
            fprintf(stderr, "bench_gemm: unknown argument '%s'\n", a);
            usage(stderr);
            return 1;
        }
        i++; /* the option's value */
    }
    o->batch = batch ? batch : o->quick ? 8 : 64;
    o->reps = reps ? reps : o->quick ? 1 : 3;
    return 0;
}

/* argv as a shell command line: arguments with special characters quoted. */
static void emit_command(int argc, char **argv) {
    emit("- command: `");
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        int plain = *a != '\0';
        for (const char *p = a; *p; p++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@",
                        *p))
                plain = 0;
        if (plain) {
            emit("%s%s", i ? " " : "", a);
        } else {
            emit("%s'", i ? " " : "");
            for (const char *p = a; *p; p++) {
                if (*p == '\'') emit("'\\''");
                else emit("%c", *p);
            }
            emit("'");
        }
    }
    emit("`\n");
}

/* The run's header: date, command, device, OpenBLAS, engine, parameters. */
static void emit_header(lirf_ctx *ctx, const options *o_, int argc, char **argv) {
    const options o = *o_;
    const lirf_device_info *dev = lirf_ctx_device(ctx);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    emit("#### bench_gemm, %s\n\n", date);
    emit_command(argc, argv);
    emit("- device: %s; platform %s (%s); driver %s; %u compute units\n", dev->name,
         dev->platform_name, dev->platform_version, dev->driver, (unsigned)dev->compute_units);
    emit("- OpenBLAS: %s; %d threads (openblas_get_num_threads)\n", openblas_get_config(),
         openblas_get_num_threads());
    emit("- GEMM engine: %s (LIRF_GEMM %s); lirf_gemm packs both operands on every call here "
         "(in training the convolution's im2col writes the packed B and the weights are packed "
         "once per layer)\n",
         lirf_gemm_engine_name(lirf_gemm_engine_get(ctx)),
         *lirf_options_get()->gemm ? lirf_options_get()->gemm : "unset");
    {
        const char *env = *lirf_options_get()->gemm_tuning ? lirf_options_get()->gemm_tuning : NULL;
        lirf_gemm_tuning tt;
        int tuned = lirf_gemm_tuning_current(ctx, &tt);
        emit("- CLBlast parameters: %s (LIRF_GEMM_TUNING %s)", lirf_gemm_tuning_source(ctx),
             env ? env : "unset");
        if (tuned) {
            emit("; XGEMM_MIN_INDIRECT_SIZE %zu", tt.min_indirect);
            for (int c = 0; c < 3; c++) {
                emit("; %s Xgemm", lirf_gemm_class_names[c]);
                for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++)
                    emit(" %s=%zu", lirf_xgemm_param_names[p], tt.cls[c].xgemm[p]);
            }
        }
        emit("\n");
    }
    const char *pocl = getenv("POCL_MAX_PTHREAD_COUNT");
    emit("- threads: %d for OpenBLAS; the OpenCL driver runs its own pool (PoCL: "
         "POCL_MAX_PTHREAD_COUNT=%s, else all online cores)\n",
         o.threads, pocl ? pocl : "unset");
    emit("- ResNet-18 CIFAR, width %d, batch %d, input 3x32x32; per row: 1 untimed warm-up "
         "call (also the check), then reps %d timed; GFLOP/s = 2MNK/s; same operands in host "
         "memory for OpenBLAS\n",
         o.width, o.batch, o.reps);
    emit("- N = nb*Ho*Wo with nb = images per GEMM call in op_conv.c: \"full\" = the whole batch, "
         "else the chunk size (the conv repeats the GEMM over chunks)\n\n");
    emit("| layer | op | M | N | K | nb | lirf GFLOP/s | OpenBLAS GFLOP/s | ratio | max rel err |\n");
    emit("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");

}

/* Every row of the table; the geometric-mean ratio over the right ones. */
static lirf_status emit_rows(lirf_ctx *ctx, const options *o_, double *log_sum, int *counted,
                             int *wrong) {
    const options o = *o_;
    lirf_status st = LIRF_OK;
    bench_row rows[MAX_ROWS];
    size_t nrows = build_rows(o.width, o.quick, rows);
    uint64_t seed = 12345;
    for (size_t i = 0; i < nrows && st == LIRF_OK; i++) {
        gemm_shape g = shape_of(&rows[i], o.batch);
        fprintf(stderr, "bench_gemm: %s, %s: M %zu N %zu K %zu ...\n", rows[i].c.layer,
                OP_NAME[rows[i].op], g.M, g.N, g.K);
        row_result r = {0, 0, 0};
        st = run_row(ctx, &g, o.reps, &seed, &r);
        if (st != LIRF_OK) break;
        char nbs[32];
        if (g.nb == (size_t)o.batch)
            snprintf(nbs, sizeof nbs, "%zu full", g.nb);
        else
            snprintf(nbs, sizeof nbs, "%zu chunk", g.nb);
        int ok = r.rel_err <= MAX_REL_ERR;
        double ratio = r.lirf_gflops / r.blas_gflops;
        emit("| %s | %s | %zu | %zu | %zu | %s | %.1f | %.1f | ", rows[i].c.layer,
             OP_NAME[rows[i].op], g.M, g.N, g.K, nbs, r.lirf_gflops, r.blas_gflops);
        if (ok)
            emit("%.3f | %.1e |\n", ratio, r.rel_err);
        else
            emit("WRONG | %.1e |\n", r.rel_err);
        if (ok) *log_sum += log(ratio), (*counted)++;
        else (*wrong)++;
    }
    return st;
}

int main(int argc, char **argv) {
    options o;
    int pr = parse_args(argc, argv, &o);
    if (pr) return pr < 0 ? 0 : 2;
    double t_start = now_s();

    FILE *append = NULL;
    if (o.append && !(append = fopen(o.append, "a"))) {
        fprintf(stderr, "bench_gemm: cannot open %s: %s\n", o.append, strerror(errno));
        return 1;
    }
    char *block = NULL;
    size_t block_len = 0;
    if (append && !(g_block = open_memstream(&block, &block_len))) {
        fprintf(stderr, "bench_gemm: open_memstream: %s\n", strerror(errno));
        return 1;
    }

    /* same thread count on both sides: PoCL reads this when its platform starts */
    char tbuf[32];
    snprintf(tbuf, sizeof tbuf, "%d", o.threads);
    setenv("POCL_MAX_PTHREAD_COUNT", tbuf, 0);
    openblas_set_num_threads(o.threads);

    lirf_ctx *ctx = NULL;
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    if (st != LIRF_OK) {
        fprintf(stderr, "bench_gemm: %s: %s\n", lirf_status_name(st), lirf_error_message());
        return 1;
    }

    emit_header(ctx, &o, argc, argv);
    double log_sum = 0.0;
    int counted = 0, wrong = 0;
    st = emit_rows(ctx, &o, &log_sum, &counted, &wrong);
    if (st != LIRF_OK) {
        fprintf(stderr, "bench_gemm: %s: %s\n", lirf_status_name(st), lirf_error_message());
        lirf_ctx_destroy(ctx);
        return 1;
    }
    emit("\nGeometric-mean ratio lirf/OpenBLAS: %.3f over %d rows", counted ? exp(log_sum / counted)
                                                                           : 0.0,
         counted);
    if (wrong) emit("; %d rows WRONG (max rel err > %g), left out", wrong, MAX_REL_ERR);
    emit(". Run time %.0f s (CLBlast kernel compilation included).\n", now_s() - t_start);
    lirf_ctx_destroy(ctx);

    if (append) {
        fclose(g_block);
        g_block = NULL;
        int bad = fprintf(append, "\n%s", block) < 0;
        bad |= fclose(append) != 0;
        free(block);
        if (bad) {
            fprintf(stderr, "bench_gemm: writing %s failed\n", o.append);
            return 1;
        }
    }
    return wrong ? 3 : 0;
}
