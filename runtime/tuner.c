/* The GEMM tuner (lirf_tune.h): measures CLBlast Xgemm parameter sets on the
 * GEMMs of lirf's im2col convolutions, each set in a child process, and writes
 * the fastest set per transpose class to the tuning file that lirf_ctx_create
 * reads (tune.c). What it reports goes through the caller's progress function
 * only. `lirf tune` (cli/cmd_tune.c) is its command.
 *
 * Every measurement runs in a child process of its own (fork before any
 * OpenCL call in this process): a parameter set can make a kernel fault or
 * hang on some drivers, and a fresh process also gives each set a clean
 * CLBlast state. A child times each shape (one untimed call, which compiles,
 * then the minimum of `reps` calls) and checks a grid of result entries
 * against double-precision dot products; a set with a wrong entry, an error,
 * a crash or a timeout is dropped.
 *
 * Search: a fixed list of candidates per class, ordered by how well they did
 * on the CPUs they were measured on, tried round-robin over the classes until
 * the budget is spent; then the best few per class are measured again (the
 * minimum of both passes counts: shared machines are noisy); the winners are
 * verified together on awkward shapes with offsets; the file is written.
 */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "internal.h"
#include "lirf_tune.h"

/* ---- shapes ------------------------------------------------------------------ */
typedef struct { int ta, tb; size_t M, N, K; } tshape;

/* Sets 0..2, one per class (NN forward y = W col, NT dW = dy col^T, TN dcol =
 * W^T dy), from ResNet-18: width 16 on 28x28 (layer2, layer4, layer1; batch
 * 128) and width 64 on 32x32 (layer2, layer4; batch 64); the first two are the
 * --quick set. Set 3: the small GEMMs (stem, 1x1 downsamples, the linear layer
 * and such) that decide where CLBlast's direct kernel should take over. */
#define NSETS 4
#define MAXSHAPES 12
static const tshape SETS[NSETS][MAXSHAPES] = {
    {{0, 0, 32, 25088, 288}, {0, 0, 128, 2048, 1152}, {0, 0, 16, 100352, 144},
     {0, 0, 128, 16384, 1152}, {0, 0, 512, 1024, 4608}},
    {{0, 1, 32, 288, 25088}, {0, 1, 128, 1152, 2048}, {0, 1, 16, 144, 100352},
     {0, 1, 128, 1152, 16384}, {0, 1, 512, 4608, 1024}},
    {{1, 0, 288, 25088, 32}, {1, 0, 1152, 2048, 128}, {1, 0, 144, 100352, 16},
     {1, 0, 1152, 16384, 128}, {1, 0, 4608, 1024, 512}},
    {{0, 0, 64, 65536, 27}, {0, 0, 32, 25088, 16}, {0, 0, 128, 2048, 64}, {0, 0, 512, 1024, 256},
     {0, 1, 32, 16, 25088}, {0, 1, 128, 64, 2048}, {1, 0, 16, 25088, 32}, {1, 0, 64, 2048, 128},
     {0, 0, 128, 100, 512}, {0, 0, 64, 1000, 64}, {0, 1, 16, 144, 784}, {1, 0, 144, 784, 16}},
};
static const int SET_N[NSETS] = {5, 5, 5, 12};
static const int SET_QUICK_N[NSETS] = {2, 2, 2, 6};
static const int CLASS_OF[3] = {0, 1, 2}; /* set -> class index ta * 2 + tb: NN, NT, TN */
/* XGEMM_MIN_INDIRECT_SIZE tried on set 3, in this order; 0 = CLBlast's own */
static const size_t MIN_INDIRECT[] = {64, 128, 0, 32, 256};

/* ---- candidates ----------------------------------------------------------------- */
/* GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN */
static const size_t CAND_K0[][LIRF_XGEMM_NPARAMS] = {
    /* 16-wide vectors along M, scalar loads along N, no unrolling: on PoCL
     * (AVX-512) these compile to 512-bit FMAs with the accumulators in registers */
    {0, 1, 16, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 32, 1, 1, 8, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 64, 1, 1, 8, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 2},
    {0, 1, 32, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 16, 1, 1, 32, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 64, 1, 1, 4, 0, 0, 0, 0, 16, 1},
    {0, 1, 8, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {0, 1, 16, 1, 1, 1, 64, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    /* 8-wide */
    {0, 1, 16, 2, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 8, 8},
    {0, 1, 16, 2, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 8, 2},
    {0, 1, 16, 2, 1, 1, 64, 1, 1, 16, 0, 0, 0, 0, 8, 8},
    {0, 1, 16, 1, 1, 1, 32, 1, 1, 8, 0, 0, 0, 0, 8, 1},
    {0, 1, 16, 2, 2, 2, 64, 2, 2, 32, 0, 0, 0, 0, 8, 8},
    /* several work-items and local memory, as on GPUs */
    {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 1, 1, 0, 0, 4, 4},
};
static const size_t CAND_K1[][LIRF_XGEMM_NPARAMS] = {
    /* the 2-D register-tiled kernel: both operands read along K */
    {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {1, 16, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {1, 16, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 8},
    {1, 4, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 1},
    {1, 8, 1, 1, 2, 2, 32, 2, 2, 32, 0, 0, 0, 0, 16, 1},
    {1, 16, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 16},
    {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 8, 8},
    {1, 16, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 4},
    {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 8, 1},
    {1, 16, 1, 1, 2, 2, 32, 2, 2, 32, 0, 0, 0, 0, 16, 16},
    {1, 16, 1, 1, 1, 1, 8, 1, 1, 8, 0, 0, 0, 0, 8, 8},
    {1, 8, 1, 1, 4, 4, 64, 4, 4, 64, 0, 0, 0, 0, 16, 1},
};
#define N_K0 (sizeof CAND_K0 / sizeof CAND_K0[0])
#define N_K1 (sizeof CAND_K1 / sizeof CAND_K1[0])

/* ---- time --------------------------------------------------------------------------------- */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- child processes ----------------------------------------------------------------------- */
/* run_child runs fn(arg, out) in a child that writes its report to out; it
 * returns the report (malloc'ed, NUL-terminated) or NULL with why set (crash,
 * timeout, exit status). The child never returns into the caller. */
typedef int (*child_fn)(const void *arg, FILE *out);

/* Reads fd until EOF (the child exited) or the deadline; NULL when out of
 * memory. *timed_out: the deadline passed. */
static char *read_report(int fd, double deadline, int *timed_out) {
    size_t len = 0, capb = 4096;
    char *buf = malloc(capb);
    *timed_out = 0;
    if (!buf) return NULL;
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            *timed_out = 1;
            break;
        }
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (len + 1024 > capb) {
            char *nb = realloc(buf, capb * 2);
            if (!nb) break;
            buf = nb, capb *= 2;
        }
        ssize_t r = read(fd, buf + len, capb - len - 1);
        if (r > 0) len += (size_t)r;
        else if (r == 0 || errno != EINTR) break;
    }
    buf[len] = 0;
    return buf;
}

/* The report of a child that ended with status, or NULL with why. */
static char *child_verdict(char *buf, int status, int timed_out, double timeout, char *why,
                           size_t cap) {
    if (timed_out) {
        snprintf(why, cap, "timed out after %.0f s", timeout);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, cap, "crashed (signal %d)", WTERMSIG(status));
    } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        snprintf(why, cap, "failed (exit %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    } else {
        return buf;
    }
    /* keep the child's reason line, if it wrote one */
    char *f = strstr(buf, "fail\t");
    if (f) {
        char *nl = strchr(f, '\n');
        if (nl) *nl = 0;
        size_t l = strlen(why);
        snprintf(why + l, cap - l, ": %s", f + 5);
    }
    free(buf);
    return NULL;
}

static char *run_child(child_fn fn, const void *arg, double timeout, char *why, size_t cap) {
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        return NULL;
    }
    /* nothing buffered in this process may be written twice */
    fflush(stdout), fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(why, cap, "fork: %s", strerror(errno));
        close(fds[0]), close(fds[1]);
        return NULL;
    }
    if (pid == 0) {
        close(fds[0]);
        FILE *out = fdopen(fds[1], "w");
        int rc = out ? fn(arg, out) : 3;
        if (out) fclose(out);
        _exit(rc); /* the forked child only: the caller's process never exits here */
    }
    close(fds[1]);
    int status = 0, timed_out = 0;
    char *buf = read_report(fds[0], now_s() + timeout, &timed_out);
    if (!buf || timed_out) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fds[0]);
    if (!buf) {
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    return child_verdict(buf, status, timed_out, timeout, why, cap);
}

/* ---- the children's work -------------------------------------------------------------------- */
typedef struct {
    const char *device; /* lirf_ctx_create's spec */
    int reps;           /* timed calls per shape */
    int set;            /* index into SETS */
    int nshapes;
    int tuned;          /* 0: CLBlast's defaults (the plain call) */
    lirf_gemm_tuning t;
} job;

static void clean(char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\t') *s = ' ';
}

static lirf_ctx *child_ctx(const job *j, FILE *out) {
    setenv("LIRF_GEMM_TUNING", "off", 1); /* no file, no shipped table: only what we set */
    lirf_ctx *ctx = NULL;
    if (lirf_ctx_create(&ctx, j->device) != LIRF_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", lirf_error_message());
        clean(m);
        fprintf(out, "fail\tcannot open the device: %s\n", m);
        return NULL;
    }
    return ctx;
}

static int child_probe(const void *arg, FILE *out) {
    lirf_ctx *ctx = child_ctx(arg, out);
    if (!ctx) return 1;
    lirf_device_info d = *lirf_ctx_device(ctx);
    clean(d.name), clean(d.driver), clean(d.version), clean(d.platform_name), clean(d.c_version);
    fprintf(out, "name\t%s\ndriver\t%s\nversion\t%s\nplatform\t%s\nc_version\t%s\n", d.name,
            d.driver, d.version, d.platform_name, d.c_version);
    fprintf(out, "local_mem\t%llu\nmax_wg\t%zu\n", (unsigned long long)d.local_mem, d.max_wg);
    char path[1200];
    if (lirf_gemm_tuning_file(lirf_ctx_cache_dir(ctx), &d, path, sizeof path) == LIRF_OK) {
        clean(path);
        fprintf(out, "file\t%s\n", path);
    }
    lirf_ctx_destroy(ctx);
    return 0;
}

static float rnd(uint64_t *s) {
    uint64_t z = lirf_rng_next(s);
    return (float)((double)(z >> 11) * (2.0 / 9007199254740992.0) - 1.0);
}

/* Row-major C(M,N) = op(A) op(B) of one shape: the untimed first call (it
 * compiles) and its check on a 16 x 16 grid of entries (first, last and random
 * rows and columns) against double dot products, then the fastest of reps. */
static lirf_status time_shape(lirf_ctx *ctx, tshape s, int reps, double *best,
                              double *worst_err, double *first) {
    int ta = s.ta, tb = s.tb;
    size_t arows = ta ? s.K : s.M, acols = ta ? s.M : s.K;
    size_t brows = tb ? s.N : s.K, bcols = tb ? s.K : s.N;
    size_t na = arows * acols, nb = brows * bcols, nc = s.M * s.N;
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    lirf_buf dA = LIRF_NOBUF, dB = LIRF_NOBUF, dC = LIRF_NOBUF; /* (arows, acols) (brows, bcols) (M, N) */
    lirf_status st = LIRF_OK;
    uint64_t seed = 1234567 + s.M * 31 + s.N * 17 + s.K;
#define TRY(e) if ((st = (e)) != LIRF_OK) goto done
    if (!A || !B || !C) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "host matrices of %zux%zux%zu", s.M, s.N, s.K);
        goto done;
    }
    for (size_t i = 0; i < na; i++) A[i] = rnd(&seed);
    for (size_t i = 0; i < nb; i++) B[i] = rnd(&seed);
    TRY(lirf_buf_alloc(ctx, na, &dA));
    TRY(lirf_buf_alloc(ctx, nb, &dB));
    TRY(lirf_buf_alloc(ctx, nc, &dC));
    TRY(lirf_buf_write(ctx, dA, A, na));
    TRY(lirf_buf_write(ctx, dB, B, nb));
    TRY(lirf_buf_fill(ctx, dC, 0.0f));
    float beta = ta == 0 && tb == 1 ? 1.0f : 0.0f; /* as op_conv.c: dW accumulates */
    double t0 = now_s();
    TRY(lirf_gemm(ctx, ta, tb, s.M, s.N, s.K, 1.0f, dA, acols, dB, bcols, beta, dC, s.N));
    TRY(lirf_finish(ctx));
    *first = now_s() - t0;
    TRY(lirf_buf_read(ctx, dC, C, nc));
    *worst_err = 0;
    for (int gi = 0; gi < 16; gi++)
        for (int gj = 0; gj < 16; gj++) {
            size_t i = gi == 0 ? 0 : gi == 1 ? s.M - 1 : (size_t)((rnd(&seed) + 1) * 0.5 * s.M) % s.M;
            size_t j = gj == 0 ? 0 : gj == 1 ? s.N - 1 : (size_t)((rnd(&seed) + 1) * 0.5 * s.N) % s.N;
            double ref = 0, mag = 0;
            for (size_t k = 0; k < s.K; k++) {
                double a = ta ? A[k * acols + i] : A[i * acols + k];
                double b = tb ? B[j * bcols + k] : B[k * bcols + j];
                ref += a * b, mag += fabs(a * b);
            }
            /* error relative to sum |a b|: float rounding stays far below 1e-4 */
            double e = fabs((double)C[i * s.N + j] - ref) / (mag > 0 ? mag : 1);
            if (!(e <= *worst_err)) *worst_err = e; /* NaN propagates */
        }
    *best = INFINITY;
    if (!(*worst_err <= 1e-4)) goto done;
    for (int r = 0; r < reps; r++) {
        t0 = now_s();
        TRY(lirf_gemm(ctx, ta, tb, s.M, s.N, s.K, 1.0f, dA, acols, dB, bcols, beta, dC, s.N));
        TRY(lirf_finish(ctx));
        double t = now_s() - t0;
        if (t < *best) *best = t;
    }
#undef TRY
done:
    lirf_buf_free(ctx, &dA), lirf_buf_free(ctx, &dB), lirf_buf_free(ctx, &dC);
    free(A), free(B), free(C);
    return st;
}


/* Reports "shape\t<i>\t<best s>\t<err>\t<first s>" per shape, or "fail\t<why>". */
static int child_measure(const void *arg, FILE *out) {
    const job *j = arg;
    lirf_ctx *ctx = child_ctx(j, out);
    if (!ctx) return 1;
    int rc = 0;
    if (j->tuned && lirf_gemm_tuning_use(ctx, &j->t, "set") != LIRF_OK) {
        fprintf(out, "fail\t%s\n", lirf_error_message());
        rc = 1;
    }
    for (int i = 0; i < j->nshapes && !rc; i++) {
        double best = 0, err = 0, first = 0;
        lirf_status st = time_shape(ctx, SETS[j->set][i], j->reps, &best, &err, &first);
        if (st != LIRF_OK) {
            char m[512];
            snprintf(m, sizeof m, "%s", lirf_error_message());
            clean(m);
            fprintf(out, "fail\t%s\n", m);
            rc = 1;
        } else if (!(err <= 1e-4)) {
            fprintf(out, "fail\twrong results (relative error %.2g)\n", err);
            rc = 1;
        } else {
            fprintf(out, "shape\t%d\t%.9f\t%.3g\t%.3f\n", i, best, err, first);
            fflush(out);
        }
    }
    lirf_ctx_destroy(ctx);
    return rc;
}

/* C = 0.5 op(A) op(B) - 0.75 C of class cls on shape s, with offsets and
 * padded leading dimensions, every entry compared and the entries outside C
 * left alone; 0, or 1 with the reason reported. */
static int verify_shape(lirf_ctx *ctx, int cls, tshape s, uint64_t *seed, FILE *out) {
    int ta = cls / 2, tb = cls % 2, rc = 0;
    size_t arows = ta ? s.K : s.M, acols = ta ? s.M : s.K;
    size_t brows = tb ? s.N : s.K, bcols = tb ? s.K : s.N;
    size_t lda = acols + 3, ldb = bcols + 1, ldc = s.N + 2, off = 5;
    size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + s.M * ldc;
    float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *G = malloc(nc * 4);
    lirf_buf dA = LIRF_NOBUF, dB = LIRF_NOBUF, dC = LIRF_NOBUF, vA, vB, vC;
    lirf_status st = A && B && C && G ? LIRF_OK : LIRF_E_NOMEM;
    if (st == LIRF_OK) {
        for (size_t i = 0; i < na; i++) A[i] = rnd(seed);
        for (size_t i = 0; i < nb; i++) B[i] = rnd(seed);
        for (size_t i = 0; i < nc; i++) C[i] = rnd(seed);
    }
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, na, &dA);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, nb, &dB);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, nc, &dC);
    if (st == LIRF_OK) st = lirf_buf_write(ctx, dA, A, na);
    if (st == LIRF_OK) st = lirf_buf_write(ctx, dB, B, nb);
    if (st == LIRF_OK) st = lirf_buf_write(ctx, dC, C, nc);
    if (st == LIRF_OK) st = lirf_buf_view(dA, off, na - off, &vA);
    if (st == LIRF_OK) st = lirf_buf_view(dB, off, nb - off, &vB);
    if (st == LIRF_OK) st = lirf_buf_view(dC, off, nc - off, &vC);
    if (st == LIRF_OK)
        st = lirf_gemm(ctx, ta, tb, s.M, s.N, s.K, 0.5f, vA, lda, vB, ldb, -0.75f, vC, ldc);
    if (st == LIRF_OK) st = lirf_buf_read(ctx, dC, G, nc);
    double worst = 0;
    for (size_t i = 0; st == LIRF_OK && i < s.M; i++)
        for (size_t jj = 0; jj < s.N; jj++) {
            double ref = 0, mag = 0;
            for (size_t k = 0; k < s.K; k++) {
                double a = ta ? A[off + k * lda + i] : A[off + i * lda + k];
                double b = tb ? B[off + jj * ldb + k] : B[off + k * ldb + jj];
                ref += a * b, mag += fabs(a * b);
            }
            size_t ci = off + i * ldc + jj;
            ref = 0.5 * ref - 0.75 * (double)C[ci];
            mag = 0.5 * mag + 0.75 * fabs((double)C[ci]);
            double e = fabs((double)G[ci] - ref) / (mag > 0 ? mag : 1);
            if (!(e <= worst)) worst = e;
        }
    /* untouched: the offset and the padding columns of C */
    for (size_t i = 0; st == LIRF_OK && i < nc; i++) {
        int inside = i >= off && (i - off) % ldc < s.N && (i - off) / ldc < s.M;
        if (!inside && G[i] != C[i]) worst = INFINITY;
    }
    if (st != LIRF_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", lirf_error_message());
        clean(m);
        fprintf(out, "fail\t%s %zux%zux%zu: %s\n", lirf_gemm_class_names[cls], s.M, s.N, s.K, m);
        rc = 1;
    } else if (!(worst <= 1e-5)) {
        fprintf(out, "fail\t%s %zux%zux%zu: wrong results (relative error %.2g)\n",
                lirf_gemm_class_names[cls], s.M, s.N, s.K, worst);
        rc = 1;
    }
    lirf_buf_free(ctx, &dA), lirf_buf_free(ctx, &dB), lirf_buf_free(ctx, &dC);
    free(A), free(B), free(C), free(G);
    return rc;
}

/* The chosen parameters together on awkward shapes, every transpose, with
 * offsets, padded leading dimensions, alpha and beta, every entry compared. */
static int child_verify(const void *arg, FILE *out) {
    const job *j = arg;
    lirf_ctx *ctx = child_ctx(j, out);
    if (!ctx) return 1;
    if (lirf_gemm_tuning_use(ctx, &j->t, "set") != LIRF_OK) {
        fprintf(out, "fail\t%s\n", lirf_error_message());
        lirf_ctx_destroy(ctx);
        return 1;
    }
    static const tshape odd[] = {{0, 0, 1, 1, 1},      {0, 0, 7, 93, 13},   {0, 0, 64, 33, 129},
                                 {0, 0, 93, 7, 1},     {0, 0, 130, 70, 300}, {0, 0, 16, 1000, 9},
                                 {0, 0, 200, 48, 1000}};
    uint64_t seed = 99;
    int rc = 0;
    for (int cls = 0; cls < 4 && !rc; cls++)
        for (size_t si = 0; si < sizeof odd / sizeof odd[0] && !rc; si++)
            rc = verify_shape(ctx, cls, odd[si], &seed, out);
    lirf_ctx_destroy(ctx);
    return rc;
}

/* ---- the parent ------------------------------------------------------------------------------ */
typedef struct {
    lirf_gemm_tuning t; /* every class: the candidate (class stage) or the winners */
    const size_t *x;    /* the candidate's Xgemm values (class stage) */
    int tried, ok;
    double t_s[MAXSHAPES]; /* fastest seen per shape, seconds */
    double score;          /* geometric mean GFLOP/s over the shapes */
} cand;

typedef struct {
    const lirf_tune_opts *o;
    lirf_tune_result *r;
    double t_start;
    int reps, nsh[NSETS];
    cand *cands[3];
    size_t ncand[3];
    double base[NSETS][MAXSHAPES];  /* CLBlast's defaults per shape, seconds */
    double small_best[MAXSHAPES];   /* the chosen XGEMM_MIN_INDIRECT_SIZE per shape */
} tuner;

static void say(const tuner *tn, lirf_tune_stream stream, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(const tuner *tn, lirf_tune_stream stream, const char *fmt, ...) {
    if (!tn->o->progress) return;
    char text[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    tn->o->progress(tn->o->user, stream, text);
}

static double elapsed(const tuner *tn) { return now_s() - tn->t_start; }

static job job_of(const tuner *tn, int set, int nshapes, int tuned, const lirf_gemm_tuning *t) {
    job j;
    memset(&j, 0, sizeof j);
    j.device = tn->o->device, j.reps = tn->reps;
    j.set = set, j.nshapes = nshapes, j.tuned = tuned;
    if (t) j.t = *t;
    return j;
}

static double flops(tshape s) { return 2.0 * (double)s.M * (double)s.N * (double)s.K; }

static double score_of(int set, const double *t, int n) {
    double ls = 0;
    for (int i = 0; i < n; i++) ls += log(flops(SETS[set][i]) / t[i] / 1e9);
    return exp(ls / n);
}

static const char *field(const char *report, const char *key, char *out, size_t cap) {
    size_t kl = strlen(key);
    for (const char *p = report; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (!strncmp(p, key, kl) && p[kl] == '\t') {
            const char *v = p + kl + 1, *e = strchr(v, '\n');
            size_t l = e ? (size_t)(e - v) : strlen(v);
            if (l >= cap) l = cap - 1;
            memcpy(out, v, l);
            out[l] = 0;
            return out;
        }
    }
    return NULL;
}

/* Parses the "shape" lines of a report into t (fastest so far); 1 if all n came. */
static int take_times(const char *report, double *t, int n) {
    int got = 0;
    for (const char *p = report; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        int i;
        double best;
        if (sscanf(p, "shape\t%d\t%lf", &i, &best) == 2 && i >= 0 && i < n) {
            if (best < t[i]) t[i] = best;
            got++;
        }
    }
    return got == n;
}

/* "GEMMK=0 KREG=1 ..." into s (at most cap bytes, cut before a parameter that
 * would not fit in full with room to spare) */
static void params_text(const size_t *x, char *s, size_t cap) {
    int l = 0;
    s[0] = 0;
    for (int p = 0; p < LIRF_XGEMM_NPARAMS && l < (int)cap - 24; p++)
        l += snprintf(s + l, cap - (size_t)l, "%s%s=%zu", p ? " " : "", lirf_xgemm_param_names[p],
                      x[p]);
}

static double child_timeout(const tuner *tn) {
    double left = tn->o->budget_s - elapsed(tn);
    double t = left + 120;
    return t < 120 ? 120 : t > 600 ? 600 : t;
}

/* Measures k on shape set `set` in a child; updates its times and score.
 * label is reported before the result. */
static void measure(tuner *tn, int set, cand *k, int nshapes, const char *label) {
    job j = job_of(tn, set, nshapes, 1, &k->t);
    say(tn, LIRF_TUNE_OUT, "lirf tune: %s ...", label);
    double t0 = now_s();
    char why[600];
    char *rep = run_child(child_measure, &j, child_timeout(tn), why, sizeof why);
    if (!k->tried)
        for (int i = 0; i < MAXSHAPES; i++) k->t_s[i] = INFINITY;
    k->tried = 1;
    tn->r->measured++;
    if (!rep) {
        say(tn, LIRF_TUNE_OUT, " dropped: %s\n", why);
        k->ok = 0;
        tn->r->dropped++;
        return;
    }
    k->ok = take_times(rep, k->t_s, nshapes);
    free(rep);
    if (!k->ok) {
        say(tn, LIRF_TUNE_OUT, " dropped: incomplete report\n");
        tn->r->dropped++;
        return;
    }
    k->score = score_of(set, k->t_s, nshapes);
    say(tn, LIRF_TUNE_OUT, " %.1f GFLOP/s (%.0f s)\n", k->score, now_s() - t0);
}

static int by_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    double sx = x->ok ? x->score : -1, sy = y->ok ? y->score : -1;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* The baseline of a set: CLBlast's defaults, the plain call; its score, 0 if
 * it failed. */
static double baseline(tuner *tn, int set, double *t, const char *what) {
    int n = tn->nsh[set];
    job j = job_of(tn, set, n, 0, NULL);
    for (int i = 0; i < MAXSHAPES; i++) t[i] = INFINITY;
    say(tn, LIRF_TUNE_OUT, "lirf tune: baseline %s, CLBlast's defaults ...", what);
    double t0 = now_s();
    char why[600];
    char *rep = run_child(child_measure, &j, 600, why, sizeof why);
    double sc = 0;
    if (rep && take_times(rep, t, n)) {
        sc = score_of(set, t, n);
        say(tn, LIRF_TUNE_OUT, " %.1f GFLOP/s (%.0f s)\n", sc, now_s() - t0);
    } else {
        say(tn, LIRF_TUNE_OUT, " failed: %s\n", rep ? "incomplete report" : why);
    }
    free(rep);
    return sc;
}

/* ---- the steps ------------------------------------------------------------------------------- */
/* The device, as the children see it, and the file to write. */
static lirf_status probe(tuner *tn) {
    char why[600], v[1200];
    job j = job_of(tn, 0, 0, 0, NULL);
    char *rep = run_child(child_probe, &j, 120, why, sizeof why);
    if (!rep) {
        say(tn, LIRF_TUNE_ERR, "lirf tune: cannot probe the device: %s\n", why);
        return LIRF_FAIL(LIRF_E_NO_DEVICE, "gemm tuner: cannot probe the device: %s", why);
    }
    lirf_device_info *dev = &tn->r->device;
    field(rep, "name", dev->name, sizeof dev->name);
    field(rep, "driver", dev->driver, sizeof dev->driver);
    field(rep, "version", dev->version, sizeof dev->version);
    field(rep, "platform", dev->platform_name, sizeof dev->platform_name);
    field(rep, "c_version", dev->c_version, sizeof dev->c_version);
    dev->local_mem = field(rep, "local_mem", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
    dev->max_wg = field(rep, "max_wg", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
    char *path = tn->r->path;
    if (tn->o->output)
        snprintf(path, sizeof tn->r->path, "%s", tn->o->output);
    else if (field(rep, "file", v, sizeof v))
        snprintf(path, sizeof tn->r->path, "%s", v);
    free(rep);
    say(tn, LIRF_TUNE_OUT, "lirf tune: device %s (%s), driver %s\n", dev->name,
        dev->platform_name, dev->driver);
    if (!*path && !tn->o->dry_run) {
        say(tn, LIRF_TUNE_ERR, "lirf tune: no cache directory to write to (LIRF_CACHE_DIR=off?); "
                               "use --output FILE or --dry-run\n");
        return LIRF_FAIL(LIRF_E_NOT_FOUND, "gemm tuner: no cache directory to write to "
                                           "(LIRF_CACHE_DIR=off?) and no output file");
    }
    return LIRF_OK;
}

/* The candidates valid on the device. GEMMK 0 for NN and TN, GEMMK 1 for NT
 * (see gemm.c); each candidate is set for every class, only its own class is
 * timed. */
static lirf_status make_candidates(tuner *tn) {
    for (int set = 0; set < 3; set++) {
        const size_t(*list)[LIRF_XGEMM_NPARAMS] = set == 1 ? CAND_K1 : CAND_K0;
        size_t n = set == 1 ? N_K1 : N_K0, max = (size_t)tn->o->max_candidates;
        tn->cands[set] = calloc(n, sizeof(cand));
        if (!tn->cands[set]) {
            say(tn, LIRF_TUNE_ERR, "lirf tune: out of memory\n");
            return LIRF_FAIL(LIRF_E_NOMEM, "gemm tuner: out of memory");
        }
        for (size_t i = 0; i < n && (!max || tn->ncand[set] < max); i++) {
            char w[200];
            if (lirf_gemm_params_check(list[i], &tn->r->device, w, sizeof w) != LIRF_OK) continue;
            cand *k = &tn->cands[set][tn->ncand[set]++];
            k->x = list[i];
            for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
                k->t.cls[c].set = 1;
                memcpy(k->t.cls[c].xgemm, list[i], sizeof k->t.cls[c].xgemm);
            }
        }
        tn->r->candidates += (int)tn->ncand[set];
    }
    return LIRF_OK;
}

/* Pass 1, round-robin over the classes, until 60% of the budget; pass 2: the
 * best 3 of each class again (the fastest of both counts), until 80%. Each
 * class's list ends sorted best first. */
static void search(tuner *tn) {
    char label[512];
    int num = 0, total = tn->r->candidates;
    for (size_t r = 0;; r++) {
        int any = 0;
        for (int set = 0; set < 3; set++) {
            if (r >= tn->ncand[set] || elapsed(tn) > 0.6 * tn->o->budget_s) continue;
            any = 1;
            cand *k = &tn->cands[set][r];
            int l = snprintf(label, sizeof label, "[%d/%d] %s ", ++num, total,
                             lirf_gemm_class_names[CLASS_OF[set]]);
            params_text(k->x, label + l, sizeof label - (size_t)l);
            measure(tn, set, k, tn->nsh[set], label);
        }
        if (!any) break;
    }
    for (int set = 0; set < 3; set++) qsort(tn->cands[set], tn->ncand[set], sizeof(cand), by_score);
    num = 0;
    for (size_t r = 0; r < 3; r++)
        for (int set = 0; set < 3; set++) {
            if (r >= tn->ncand[set] || !tn->cands[set][r].ok || elapsed(tn) > 0.8 * tn->o->budget_s)
                continue;
            snprintf(label, sizeof label, "[again %d] %s, candidate %zu of pass 1", ++num,
                     lirf_gemm_class_names[CLASS_OF[set]], r + 1);
            measure(tn, set, &tn->cands[set][r], tn->nsh[set], label);
        }
    for (int set = 0; set < 3; set++) qsort(tn->cands[set], tn->ncand[set], sizeof(cand), by_score);
}

/* The best of each class into r->best; 1 if every class has one. */
static int pick_winners(tuner *tn) {
    lirf_tune_result *r = tn->r;
    int complete = 1;
    for (int set = 0; set < 3; set++) {
        const char *cn = lirf_gemm_class_names[CLASS_OF[set]];
        cand *w = tn->ncand[set] ? &tn->cands[set][0] : NULL;
        if (!w || !w->ok) {
            say(tn, LIRF_TUNE_OUT, "lirf tune: no working parameters measured for %s\n", cn);
            complete = 0;
            continue;
        }
        r->best.cls[CLASS_OF[set]].set = 1;
        memcpy(r->best.cls[CLASS_OF[set]].xgemm, w->x, sizeof r->best.cls[0].xgemm);
        r->gflops[set] = w->score;
        char p[400];
        params_text(w->x, p, sizeof p);
        double base = r->default_gflops[set];
        if (base > 0)
            say(tn, LIRF_TUNE_OUT, "lirf tune: best %s: %s\n           %.1f GFLOP/s; CLBlast's "
                "defaults %.1f (%.2fx)\n", cn, p, w->score, base, w->score / base);
        else
            say(tn, LIRF_TUNE_OUT, "lirf tune: best %s: %s\n           %.1f GFLOP/s\n", cn, p,
                w->score);
    }
    r->best.cls[3] = r->best.cls[0]; /* TT: lirf's ops never call it; NN's parameters */
    return complete;
}

/* Where the direct kernel takes over, with the winners, on the small GEMMs,
 * while the budget lasts. */
static void small_gemms(tuner *tn) {
    lirf_tune_result *r = tn->r;
    enum { NMI = sizeof MIN_INDIRECT / sizeof MIN_INDIRECT[0] };
    r->small_default_gflops = baseline(tn, 3, tn->base[3], "small GEMMs");
    cand mi[NMI];
    memset(mi, 0, sizeof mi);
    size_t nmi = 0, besti = 0;
    char label[512];
    for (size_t i = 0; i < NMI; i++) {
        if (elapsed(tn) > tn->o->budget_s) break;
        mi[i].t = r->best;
        mi[i].t.min_indirect = MIN_INDIRECT[i];
        snprintf(label, sizeof label, "small GEMMs, XGEMM_MIN_INDIRECT_SIZE %zu%s",
                 MIN_INDIRECT[i], MIN_INDIRECT[i] ? "" : " (CLBlast's)");
        measure(tn, 3, &mi[i], tn->nsh[3], label);
        nmi = i + 1;
        if (mi[i].ok && (!mi[besti].ok || mi[i].score > mi[besti].score)) besti = i;
    }
    if (nmi && mi[besti].ok) {
        r->best.min_indirect = MIN_INDIRECT[besti];
        r->small_measured = 1;
        r->small_gflops = mi[besti].score;
        memcpy(tn->small_best, mi[besti].t_s, sizeof tn->small_best);
        say(tn, LIRF_TUNE_OUT, "lirf tune: best XGEMM_MIN_INDIRECT_SIZE %zu%s: %.1f GFLOP/s on "
            "the small GEMMs; CLBlast's defaults %.1f\n", r->best.min_indirect,
            r->best.min_indirect ? "" : " (CLBlast's)", mi[besti].score, r->small_default_gflops);
    }
}

/* The winners on awkward shapes; 1 if they pass. */
static int verify(tuner *tn) {
    say(tn, LIRF_TUNE_OUT, "lirf tune: verifying the chosen parameters on awkward shapes ...");
    job j = job_of(tn, 0, 0, 1, &tn->r->best);
    char why[600];
    char *rep = run_child(child_verify, &j, 600, why, sizeof why);
    if (!rep) {
        say(tn, LIRF_TUNE_OUT, " failed: %s\n", why);
        say(tn, LIRF_TUNE_ERR, "lirf tune: verification failed; nothing written\n");
        return 0;
    }
    say(tn, LIRF_TUNE_OUT, " ok\n");
    free(rep);
    return 1;
}

/* x as "%.1f" prints it, read back (the file's precision) */
static double one_decimal(double x) {
    char s[64];
    snprintf(s, sizeof s, "%.1f", isfinite(x) ? x : 0);
    return strtod(s, NULL);
}

static json_t *gflops_json(int set, int n, const double *t) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(a, json_real(one_decimal(isfinite(t[i]) ? flops(SETS[set][i]) /
                                                                            t[i] / 1e9 : 0)));
    return a;
}

static json_t *set_json(int set, int n, const double *base, const double *tuned) {
    json_t *shapes = json_array();
    for (int i = 0; i < n; i++) {
        tshape s = SETS[set][i];
        json_array_append_new(shapes, json_pack("[i,i,I,I,I]", s.ta, s.tb, (json_int_t)s.M,
                                                (json_int_t)s.N, (json_int_t)s.K));
    }
    return json_pack("{s:o,s:o,s:o}", "shapes_ta_tb_M_N_K", shapes, "default_gflops",
                     gflops_json(set, n, base), "tuned_gflops", gflops_json(set, n, tuned));
}

/* What was measured, for the reader of the file ("measured"). */
static json_t *measured_json(const tuner *tn) {
    json_t *m = json_pack("{s:I,s:I,s:i}", "budget_s", (json_int_t)nearbyint(tn->o->budget_s),
                          "elapsed_s", (json_int_t)nearbyint(elapsed(tn)), "timed_calls", tn->reps);
    if (!m) return NULL;
    for (int set = 0; set < 3; set++)
        json_object_set_new(m, lirf_gemm_class_names[CLASS_OF[set]],
                            set_json(set, tn->nsh[set], tn->base[set], tn->cands[set][0].t_s));
    if (tn->r->small_default_gflops > 0)
        json_object_set_new(m, "small", set_json(3, tn->nsh[3], tn->base[3], tn->small_best));
    return m;
}

static lirf_status write_file(tuner *tn) {
    json_t *m = measured_json(tn);
    lirf_status st = lirf_gemm_tuning_save_json(tn->r->path, &tn->r->device, &tn->r->best, m);
    json_decref(m);
    if (st != LIRF_OK) {
        say(tn, LIRF_TUNE_ERR, "lirf: writing the tuning file: %s: %s\n", lirf_status_name(st),
            lirf_error_message());
        return st;
    }
    say(tn, LIRF_TUNE_OUT, "lirf tune: wrote %s\n", tn->r->path);
    return LIRF_OK;
}

/* Everything after the probe. */
static lirf_status tune(tuner *tn) {
    lirf_tune_result *r = tn->r;
    say(tn, LIRF_TUNE_OUT, "lirf tune: budget %.0f s; shapes per class %d, %d timed calls each%s\n",
        tn->o->budget_s, tn->nsh[0], tn->reps, tn->o->dry_run ? "; dry run" : "");
    for (int set = 0; set < 3; set++)
        r->default_gflops[set] = baseline(tn, set, tn->base[set],
                                          lirf_gemm_class_names[CLASS_OF[set]]);
    LIRF_TRY(make_candidates(tn));
    search(tn);
    int complete = pick_winners(tn);
    for (int i = 0; i < MAXSHAPES; i++) tn->small_best[i] = INFINITY;
    if (complete && elapsed(tn) < tn->o->budget_s) small_gemms(tn);
    lirf_status st = LIRF_OK;
    if (!complete) {
        say(tn, LIRF_TUNE_ERR, "lirf tune: incomplete (raise --budget?); nothing written\n");
        r->outcome = LIRF_TUNE_INCOMPLETE;
    } else if (!verify(tn)) {
        r->outcome = LIRF_TUNE_UNVERIFIED;
    } else if (tn->o->dry_run) {
        r->outcome = LIRF_TUNE_DRY_RUN;
    } else if ((st = write_file(tn)) == LIRF_OK) {
        r->outcome = LIRF_TUNE_WRITTEN;
    }
    r->elapsed_s = elapsed(tn);
    say(tn, LIRF_TUNE_OUT, "lirf tune: %.0f s in all\n", r->elapsed_s);
    return st;
}

/* ---- the entry ------------------------------------------------------------------------------ */
void lirf_tune_opts_default(lirf_tune_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->budget_s = 300;
}

const char *lirf_tune_outcome_name(lirf_tune_outcome outcome) {
    switch (outcome) {
    case LIRF_TUNE_WRITTEN: return "written";
    case LIRF_TUNE_DRY_RUN: return "dry-run";
    case LIRF_TUNE_INCOMPLETE: return "incomplete";
    case LIRF_TUNE_UNVERIFIED: return "unverified";
    }
    return "?";
}

/* An option the tuner cannot run with: recorded and reported. */
static lirf_status refuse(const lirf_tune_opts *o, const char *file, int line, const char *fmt,
                          ...) __attribute__((format(printf, 4, 5)));
static lirf_status refuse(const lirf_tune_opts *o, const char *file, int line, const char *fmt,
                          ...) {
    char m[512], text[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (o->progress) {
        snprintf(text, sizeof text, "lirf tune: %s\n", m);
        o->progress(o->user, LIRF_TUNE_ERR, text);
    }
    return lirf_fail(LIRF_E_INVALID, file, line, "lirf_tune_run: %s", m);
}

lirf_status lirf_tune_run(const lirf_tune_opts *o, lirf_tune_result *r) {
    if (!o || !r) return LIRF_FAIL(LIRF_E_NULL, "lirf_tune_run: NULL argument");
    if (!(o->budget_s >= 1 && o->budget_s <= 86400))
        return refuse(o, __FILE__, __LINE__, "budget %g s is outside [1, 86400]", o->budget_s);
    if (o->max_candidates < 0)
        return refuse(o, __FILE__, __LINE__, "max_candidates %d < 0", o->max_candidates);
    if (lirf_opencl_used())
        return refuse(o, __FILE__, __LINE__, "OpenCL is in use in this process already; the "
                                             "tuner forks, so it must come first");
    memset(r, 0, sizeof *r);
    r->outcome = LIRF_TUNE_INCOMPLETE; /* until something is written */
    tuner tn;
    memset(&tn, 0, sizeof tn);
    tn.o = o, tn.r = r, tn.t_start = now_s();
    tn.reps = o->quick ? 2 : 3;
    for (int i = 0; i < NSETS; i++) tn.nsh[i] = o->quick ? SET_QUICK_N[i] : SET_N[i];
    r->budget_s = o->budget_s;
    r->shapes_per_class = tn.nsh[0];
    r->timed_calls = tn.reps;
    lirf_status st = probe(&tn);
    if (st == LIRF_OK) st = tune(&tn);
    for (int set = 0; set < 3; set++) free(tn.cands[set]);
    return st;
}
