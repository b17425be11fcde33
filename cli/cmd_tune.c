/* lirf tune: measures CLBlast Xgemm parameter sets on the GEMMs of lirf's
 * im2col convolutions and writes the fastest set per transpose class to the
 * tuning file that lirf_ctx_create reads (runtime/tune.c).
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
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

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

/* ---- options ------------------------------------------------------------------------ */
typedef struct {
    double budget;
    int quick, dry_run, reps;
    const char *output;
    const char *device;
} options;

static void usage(FILE *f) {
    fprintf(f,
            "usage: lirf [--device SPEC] tune [--budget SECONDS] [--quick] [--output FILE]\n"
            "                                 [--dry-run] [--help]\n"
            "\n"
            "Measures CLBlast GEMM parameter sets on this OpenCL device with the GEMM shapes\n"
            "of lirf's convolutions (ResNet-18 im2col: NN forward, NT weight gradient, TN\n"
            "input gradient; 5 shapes per class) and writes the fastest set per class to\n"
            "the tuning file that every later lirf run on this device and driver reads\n"
            "(<cache dir>/gemm-tuning-<key>.json; the cache dir is $LIRF_CACHE_DIR, else\n"
            "$XDG_CACHE_HOME/lirf, else ~/.cache/lirf). Each parameter set runs in a child\n"
            "process; results are checked against double-precision dot products and a\n"
            "set that computes wrongly, fails, crashes or hangs is dropped. The first use\n"
            "of a parameter set compiles CLBlast's kernels (seconds to a minute on a CPU\n"
            "device), which dominates the time.\n"
            "\n"
            "  --budget S    stop starting new measurements after about S seconds\n"
            "                (default 300); one already started finishes (seconds, up to\n"
            "                a minute when it compiles). With PoCL's kernel cache warm\n"
            "                the whole list takes about 3 minutes on 2 CPU cores\n"
            "  --quick       2 shapes per class and 2 timed calls per shape\n"
            "  --output FILE write FILE instead of the cache file\n"
            "  --dry-run     measure and print; write nothing\n"
            "\n"
            "LIRF_GEMM_TUNING=off makes lirf ignore the file (CLBlast's defaults), for\n"
            "comparisons. Without a file lirf uses parameters shipped for the devices they\n"
            "were measured on, else CLBlast's defaults.\n");
}

static int parse(int argc, char **argv, options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--dry-run")) {
            o->dry_run = 1;
        } else if (!strcmp(a, "--budget")) {
            char *end;
            double b = v ? strtod(v, &end) : 0;
            if (!v || *end || !(b >= 1 && b <= 86400)) {
                fprintf(stderr, "lirf tune: --budget needs a number of seconds in [1, 86400]\n");
                return 2;
            }
            o->budget = b, i++;
        } else if (!strcmp(a, "--output")) {
            if (!v) {
                fprintf(stderr, "lirf tune: --output needs a file name\n");
                return 2;
            }
            o->output = v, i++;
        } else {
            fprintf(stderr, "lirf tune: unknown option %s (see lirf tune --help)\n", a);
            return 2;
        }
    }
    o->reps = o->quick ? 2 : 3;
    return 0;
}

/* ---- time --------------------------------------------------------------------------------- */
static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- child processes ----------------------------------------------------------------------- */
/* Runs fn(arg, fd) in a child that writes its report to fd; returns the report
 * (malloc'ed, NUL-terminated) or NULL with *why set (crash, timeout, exit
 * status). The child never returns into the caller. */
typedef int (*child_fn)(const void *arg, FILE *out);

static char *run_child(child_fn fn, const void *arg, double timeout, char *why, size_t cap) {
    int fds[2];
    if (pipe(fds) != 0) {
        snprintf(why, cap, "pipe: %s", strerror(errno));
        return NULL;
    }
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
        _exit(rc);
    }
    close(fds[1]);
    size_t len = 0, capb = 4096;
    char *buf = malloc(capb);
    if (!buf) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        close(fds[0]);
        snprintf(why, cap, "out of memory");
        return NULL;
    }
    double deadline = now_s() + timeout;
    int status = 0, timed_out = 0;
    /* read the report until EOF (the child exited) or the deadline */
    for (;;) {
        double left = deadline - now_s();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pf = {fds[0], POLLIN, 0};
        int pr = poll(&pf, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        if (pr < 0 && errno != EINTR) break;
        if (pr <= 0) continue;
        if (len + 1024 > capb) {
            char *nb = realloc(buf, capb * 2);
            if (!nb) break;
            buf = nb, capb *= 2;
        }
        ssize_t r = read(fds[0], buf + len, capb - len - 1);
        if (r > 0) len += (size_t)r;
        else if (r == 0 || errno != EINTR) break;
    }
    if (timed_out) kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    close(fds[0]);
    buf[len] = 0;
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

/* ---- the children's work -------------------------------------------------------------------- */
typedef struct {
    const options *o;
    int set;      /* index into SETS */
    int nshapes;
    int tuned;    /* 0: CLBlast's defaults (the plain call) */
    lirf_gemm_tuning t;
} job;

static void clean(char *s) {
    for (; *s; s++)
        if (*s == '\n' || *s == '\t') *s = ' ';
}

static lirf_ctx *child_ctx(const options *o, FILE *out) {
    setenv("LIRF_GEMM_TUNING", "off", 1); /* no file, no shipped table: only what we set */
    lirf_ctx *ctx = NULL;
    if (lirf_ctx_create(&ctx, o->device) != LIRF_OK) {
        char m[512];
        snprintf(m, sizeof m, "%s", lirf_error_message());
        clean(m);
        fprintf(out, "fail\tcannot open the device: %s\n", m);
        return NULL;
    }
    return ctx;
}

static int child_probe(const void *arg, FILE *out) {
    const options *o = arg;
    lirf_ctx *ctx = child_ctx(o, out);
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
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
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
    lirf_ctx *ctx = child_ctx(j->o, out);
    if (!ctx) return 1;
    int rc = 0;
    if (j->tuned && lirf_gemm_tuning_use(ctx, &j->t, "set") != LIRF_OK) {
        fprintf(out, "fail\t%s\n", lirf_error_message());
        rc = 1;
    }
    for (int i = 0; i < j->nshapes && !rc; i++) {
        double best = 0, err = 0, first = 0;
        lirf_status st = time_shape(ctx, SETS[j->set][i], j->o->reps, &best, &err, &first);
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

/* The chosen parameters together on awkward shapes, every transpose, with
 * offsets, padded leading dimensions, alpha and beta, every entry compared. */
static int child_verify(const void *arg, FILE *out) {
    const job *j = arg;
    lirf_ctx *ctx = child_ctx(j->o, out);
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
        for (size_t si = 0; si < sizeof odd / sizeof odd[0] && !rc; si++) {
            int ta = cls / 2, tb = cls % 2;
            tshape s = odd[si];
            size_t arows = ta ? s.K : s.M, acols = ta ? s.M : s.K;
            size_t brows = tb ? s.N : s.K, bcols = tb ? s.K : s.N;
            size_t lda = acols + 3, ldb = bcols + 1, ldc = s.N + 2, off = 5;
            size_t na = off + arows * lda, nb = off + brows * ldb, nc = off + s.M * ldc;
            float *A = malloc(na * 4), *B = malloc(nb * 4), *C = malloc(nc * 4), *G = malloc(nc * 4);
            lirf_buf dA = LIRF_NOBUF, dB = LIRF_NOBUF, dC = LIRF_NOBUF, vA, vB, vC;
            lirf_status st = A && B && C && G ? LIRF_OK : LIRF_E_NOMEM;
            if (st == LIRF_OK) {
                for (size_t i = 0; i < na; i++) A[i] = rnd(&seed);
                for (size_t i = 0; i < nb; i++) B[i] = rnd(&seed);
                for (size_t i = 0; i < nc; i++) C[i] = rnd(&seed);
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
                fprintf(out, "fail\t%s %zux%zux%zu: %s\n", lirf_gemm_class_names[cls], s.M, s.N,
                        s.K, m);
                rc = 1;
            } else if (!(worst <= 1e-5)) {
                fprintf(out, "fail\t%s %zux%zux%zu: wrong results (relative error %.2g)\n",
                        lirf_gemm_class_names[cls], s.M, s.N, s.K, worst);
                rc = 1;
            }
            lirf_buf_free(ctx, &dA), lirf_buf_free(ctx, &dB), lirf_buf_free(ctx, &dC);
            free(A), free(B), free(C), free(G);
        }
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

static void print_params(FILE *f, const size_t *x) {
    for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++)
        fprintf(f, "%s%s=%zu", p ? " " : "", lirf_xgemm_param_names[p], x[p]);
}

static double child_timeout(const options *o, double t_start) {
    double left = o->budget - (now_s() - t_start);
    double t = left + 120;
    return t < 120 ? 120 : t > 600 ? 600 : t;
}

/* Measures k on shape set `set` in a child; updates its times and score.
 * label is printed before the result. */
static void measure(const options *o, int set, cand *k, int nshapes, double t_start,
                    const char *label) {
    job j = {o, set, nshapes, 1, k->t};
    printf("lirf tune: %s ...", label);
    fflush(stdout);
    double t0 = now_s();
    char why[600];
    char *rep = run_child(child_measure, &j, child_timeout(o, t_start), why, sizeof why);
    if (!k->tried)
        for (int i = 0; i < MAXSHAPES; i++) k->t_s[i] = INFINITY;
    k->tried = 1;
    if (!rep) {
        printf(" dropped: %s\n", why);
        k->ok = 0;
        return;
    }
    k->ok = take_times(rep, k->t_s, nshapes);
    free(rep);
    if (!k->ok) {
        printf(" dropped: incomplete report\n");
        return;
    }
    k->score = score_of(set, k->t_s, nshapes);
    printf(" %.1f GFLOP/s (%.0f s)\n", k->score, now_s() - t0);
}

static int by_score(const void *a, const void *b) {
    const cand *x = a, *y = b;
    double sx = x->ok ? x->score : -1, sy = y->ok ? y->score : -1;
    return sx < sy ? 1 : sx > sy ? -1 : 0;
}

/* The baseline of a set: CLBlast's defaults, the plain call. */
static double baseline(const options *o, int set, int n, double *t, const char *what) {
    job j = {o, set, n, 0, {{{0}}, 0}};
    for (int i = 0; i < MAXSHAPES; i++) t[i] = INFINITY;
    printf("lirf tune: baseline %s, CLBlast's defaults ...", what);
    fflush(stdout);
    double t0 = now_s();
    char why[600];
    char *rep = run_child(child_measure, &j, 600, why, sizeof why);
    double sc = 0;
    if (rep && take_times(rep, t, n)) {
        sc = score_of(set, t, n);
        printf(" %.1f GFLOP/s (%.0f s)\n", sc, now_s() - t0);
    } else {
        printf(" failed: %s\n", rep ? "incomplete report" : why);
    }
    free(rep);
    return sc;
}

static void json_set(FILE *mf, const char *name, int set, int n, const double *base,
                     const double *tuned) {
    fprintf(mf, ", \"%s\": {\"shapes_ta_tb_M_N_K\": [", name);
    for (int i = 0; i < n; i++) {
        tshape s = SETS[set][i];
        fprintf(mf, "%s[%d, %d, %zu, %zu, %zu]", i ? ", " : "", s.ta, s.tb, s.M, s.N, s.K);
    }
    fprintf(mf, "], \"default_gflops\": [");
    for (int i = 0; i < n; i++)
        fprintf(mf, "%s%.1f", i ? ", " : "",
                isfinite(base[i]) ? flops(SETS[set][i]) / base[i] / 1e9 : 0);
    fprintf(mf, "], \"tuned_gflops\": [");
    for (int i = 0; i < n; i++)
        fprintf(mf, "%s%.1f", i ? ", " : "",
                isfinite(tuned[i]) ? flops(SETS[set][i]) / tuned[i] / 1e9 : 0);
    fprintf(mf, "]}");
}

int cmd_tune(const char *device, int argc, char **argv) {
    options o = {300, 0, 0, 3, NULL, device};
    int pr = parse(argc, argv, &o);
    if (pr) return pr < 0 ? 0 : 2;
    double t_start = now_s();
    int nsh[NSETS];
    for (int i = 0; i < NSETS; i++) nsh[i] = o.quick ? SET_QUICK_N[i] : SET_N[i];
    char why[600], v[1200];

    /* the device, as the children see it */
    char *probe = run_child(child_probe, &o, 120, why, sizeof why);
    if (!probe) {
        fprintf(stderr, "lirf tune: cannot probe the device: %s\n", why);
        return 2;
    }
    lirf_device_info dev;
    memset(&dev, 0, sizeof dev);
    field(probe, "name", dev.name, sizeof dev.name);
    field(probe, "driver", dev.driver, sizeof dev.driver);
    field(probe, "version", dev.version, sizeof dev.version);
    field(probe, "platform", dev.platform_name, sizeof dev.platform_name);
    field(probe, "c_version", dev.c_version, sizeof dev.c_version);
    dev.local_mem = field(probe, "local_mem", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
    dev.max_wg = field(probe, "max_wg", v, sizeof v) ? strtoull(v, NULL, 10) : 0;
    char path[1200] = "";
    if (o.output)
        snprintf(path, sizeof path, "%s", o.output);
    else if (field(probe, "file", v, sizeof v))
        snprintf(path, sizeof path, "%s", v);
    free(probe);
    printf("lirf tune: device %s (%s), driver %s\n", dev.name, dev.platform_name, dev.driver);
    if (!*path && !o.dry_run) {
        fprintf(stderr, "lirf tune: no cache directory to write to (LIRF_CACHE_DIR=off?); use "
                        "--output FILE or --dry-run\n");
        return 2;
    }
    printf("lirf tune: budget %.0f s; shapes per class %d, %d timed calls each%s\n", o.budget,
           nsh[0], o.reps, o.dry_run ? "; dry run" : "");

    double base[NSETS][MAXSHAPES], base_score[NSETS];
    for (int set = 0; set < 3; set++)
        base_score[set] = baseline(&o, set, nsh[set], base[set],
                                   lirf_gemm_class_names[CLASS_OF[set]]);

    /* stage 1: the classes. GEMMK 0 for NN and TN, GEMMK 1 for NT (see gemm.c);
     * each candidate is set for every class, only its own class is timed. */
    cand *cands[3];
    size_t ncand[3] = {0, 0, 0};
    for (int set = 0; set < 3; set++) {
        const size_t(*list)[LIRF_XGEMM_NPARAMS] = set == 1 ? CAND_K1 : CAND_K0;
        size_t n = set == 1 ? N_K1 : N_K0;
        cands[set] = calloc(n, sizeof(cand));
        if (!cands[set]) {
            fprintf(stderr, "lirf tune: out of memory\n");
            return 2;
        }
        for (size_t i = 0; i < n; i++) {
            char w[200];
            if (lirf_gemm_params_check(list[i], &dev, w, sizeof w) != LIRF_OK) continue;
            cand *k = &cands[set][ncand[set]++];
            k->x = list[i];
            for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
                k->t.cls[c].set = 1;
                memcpy(k->t.cls[c].xgemm, list[i], sizeof k->t.cls[c].xgemm);
            }
        }
    }
    size_t total = ncand[0] + ncand[1] + ncand[2];
    char label[512];
    int num = 0;
    /* pass 1, round-robin over the classes, until 60% of the budget */
    for (size_t r = 0;; r++) {
        int any = 0;
        for (int set = 0; set < 3; set++) {
            if (r >= ncand[set] || now_s() - t_start > 0.6 * o.budget) continue;
            any = 1;
            cand *k = &cands[set][r];
            int l = snprintf(label, sizeof label, "[%d/%zu] %s ", ++num, total,
                             lirf_gemm_class_names[CLASS_OF[set]]);
            for (int p = 0; p < LIRF_XGEMM_NPARAMS && l < (int)sizeof label - 24; p++)
                l += snprintf(label + l, sizeof label - l, "%s%s=%zu", p ? " " : "",
                              lirf_xgemm_param_names[p], k->x[p]);
            measure(&o, set, k, nsh[set], t_start, label);
        }
        if (!any) break;
    }
    /* pass 2: the best 3 of each class again (the fastest of both counts),
     * until 80% of the budget */
    for (int set = 0; set < 3; set++) qsort(cands[set], ncand[set], sizeof(cand), by_score);
    num = 0;
    for (size_t r = 0; r < 3; r++)
        for (int set = 0; set < 3; set++) {
            if (r >= ncand[set] || !cands[set][r].ok || now_s() - t_start > 0.8 * o.budget)
                continue;
            snprintf(label, sizeof label, "[again %d] %s, candidate %zu of pass 1", ++num,
                     lirf_gemm_class_names[CLASS_OF[set]], r + 1);
            measure(&o, set, &cands[set][r], nsh[set], t_start, label);
        }
    for (int set = 0; set < 3; set++) qsort(cands[set], ncand[set], sizeof(cand), by_score);

    lirf_gemm_tuning best;
    memset(&best, 0, sizeof best);
    int complete = 1;
    for (int set = 0; set < 3; set++) {
        const char *cn = lirf_gemm_class_names[CLASS_OF[set]];
        cand *w = ncand[set] ? &cands[set][0] : NULL;
        if (!w || !w->ok) {
            printf("lirf tune: no working parameters measured for %s\n", cn);
            complete = 0;
            continue;
        }
        best.cls[CLASS_OF[set]].set = 1;
        memcpy(best.cls[CLASS_OF[set]].xgemm, w->x, sizeof best.cls[0].xgemm);
        printf("lirf tune: best %s: ", cn);
        print_params(stdout, w->x);
        if (base_score[set] > 0)
            printf("\n           %.1f GFLOP/s; CLBlast's defaults %.1f (%.2fx)\n", w->score,
                   base_score[set], w->score / base_score[set]);
        else
            printf("\n           %.1f GFLOP/s\n", w->score);
    }
    best.cls[3] = best.cls[0]; /* TT: lirf's ops never call it; NN's parameters */

    /* stage 2: where the direct kernel takes over, with the winners, on the
     * small GEMMs, while the budget lasts */
    double small_base[MAXSHAPES], small_best[MAXSHAPES];
    double small_base_score = 0;
    for (int i = 0; i < MAXSHAPES; i++) small_best[i] = INFINITY;
    if (complete && now_s() - t_start < o.budget) {
        small_base_score = baseline(&o, 3, nsh[3], small_base, "small GEMMs");
        cand mi[sizeof MIN_INDIRECT / sizeof MIN_INDIRECT[0]];
        memset(mi, 0, sizeof mi);
        size_t nmi = 0, besti = 0;
        for (size_t i = 0; i < sizeof MIN_INDIRECT / sizeof MIN_INDIRECT[0]; i++) {
            if (now_s() - t_start > o.budget) break;
            mi[i].t = best;
            mi[i].t.min_indirect = MIN_INDIRECT[i];
            snprintf(label, sizeof label, "small GEMMs, XGEMM_MIN_INDIRECT_SIZE %zu%s",
                     MIN_INDIRECT[i], MIN_INDIRECT[i] ? "" : " (CLBlast's)");
            measure(&o, 3, &mi[i], nsh[3], t_start, label);
            nmi = i + 1;
            if (mi[i].ok && (!mi[besti].ok || mi[i].score > mi[besti].score)) besti = i;
        }
        if (nmi && mi[besti].ok) {
            best.min_indirect = MIN_INDIRECT[besti];
            memcpy(small_best, mi[besti].t_s, sizeof small_best);
            printf("lirf tune: best XGEMM_MIN_INDIRECT_SIZE %zu%s: %.1f GFLOP/s on the small "
                   "GEMMs; CLBlast's defaults %.1f\n",
                   best.min_indirect, best.min_indirect ? "" : " (CLBlast's)", mi[besti].score,
                   small_base_score);
        }
    }

    int rc = 0;
    if (!complete) {
        fprintf(stderr, "lirf tune: incomplete (raise --budget?); nothing written\n");
        rc = 1;
    } else {
        printf("lirf tune: verifying the chosen parameters on awkward shapes ...");
        fflush(stdout);
        job j = {&o, 0, 0, 1, best};
        char *rep = run_child(child_verify, &j, 600, why, sizeof why);
        if (!rep) {
            printf(" failed: %s\n", why);
            fprintf(stderr, "lirf tune: verification failed; nothing written\n");
            rc = 1;
        } else {
            printf(" ok\n");
            free(rep);
        }
    }
    if (!rc && !o.dry_run) {
        /* what was measured, for the reader of the file */
        char *m = NULL;
        size_t ml = 0;
        FILE *mf = open_memstream(&m, &ml);
        if (mf) {
            fprintf(mf, "{\"budget_s\": %.0f, \"elapsed_s\": %.0f, \"timed_calls\": %d", o.budget,
                    now_s() - t_start, o.reps);
            for (int set = 0; set < 3; set++)
                json_set(mf, lirf_gemm_class_names[CLASS_OF[set]], set, nsh[set], base[set],
                         cands[set][0].t_s);
            if (small_base_score > 0) json_set(mf, "small", 3, nsh[3], small_base, small_best);
            fprintf(mf, "}");
            fclose(mf);
        }
        lirf_status st = lirf_gemm_tuning_save(path, &dev, &best, m);
        free(m);
        if (st != LIRF_OK) {
            rc = cli_error(st, "writing the tuning file");
        } else {
            printf("lirf tune: wrote %s\n", path);
        }
    }
    printf("lirf tune: %.0f s in all\n", now_s() - t_start);
    for (int set = 0; set < 3; set++) free(cands[set]);
    return rc;
}
