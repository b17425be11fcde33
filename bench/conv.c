/* bench_conv: lirf_conv2d_forward / lirf_conv2d_backward (model/ops/op_conv.c,
 * cl_kernels/conv.cl) on the convolutions of ResNet-18 CIFAR, with the time of
 * every OpenCL kernel and GEMM from the runtime's profiler (LIRF_PROFILE=1;
 * the program sets it when unset). A benchmark, not a test: it prints a
 * Markdown block and, with --append FILE, appends the same block to FILE.
 *
 * Configurations (docs/method.md, as the training runs them; convs have no bias):
 *   w16: width 16 on 1x28x28, batch 128;   w64: width 64 on 3x32x32, batch 64.
 * Per distinct layer: one untimed forward + backward (kernel builds, scratch
 * growth), then --reps timed forwards, then --reps timed backwards (dx and dW;
 * the stem gets no dx, as in training). Per column, ms per call averaged over
 * the reps, from the kernels' OpenCL events:
 *   im2col  the im2col kernel(s) (forward column: in the forward; backward: for dW)
 *   permute the layout changes between GEMM and NCHW (gemm_to_nchw, nchw_to_gemm)
 *   col2im  the gather of dcol into dx
 *   GEMM    CLBlast
 *   other   any other kernel (e.g. db)
 * and the wall time of the call (lirf_finish included). "step" rows weight each
 * layer by how often it occurs in the network (e.g. layer1's 3x3 conv: 4x).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops.h"

typedef struct {
    const char *layer;
    int count; /* occurrences in the network */
    int C, K, H, R, stride;
    int dx; /* backward computes dx (not for the stem) */
} layer_case;

typedef struct {
    const char *name;
    int width, in_c, in_hw, batch;
} config;

static const config CONFIGS[] = {{"w16", 16, 1, 28, 128}, {"w64", 64, 3, 32, 64}};

/* The columns; a profile label goes to the first column whose test matches. */
enum { COL_IM2COL, COL_PERMUTE, COL_COL2IM, COL_GEMM, COL_OTHER, NCOL };
static const char *const COL_NAME[NCOL] = {"im2col", "permute", "col2im", "GEMM", "other"};

static int column_of(const char *label) {
    if (strstr(label, "im2col") && !strstr(label, "col2im")) return COL_IM2COL;
    if (strstr(label, "nchw") || strstr(label, "permute")) return COL_PERMUTE;
    if (strstr(label, "col2im")) return COL_COL2IM;
    if (!strncmp(label, "gemm", 4)) return COL_GEMM;
    return COL_OTHER;
}

/* ---- output: stdout, and a copy of the block for --append ---------------- */
static FILE *g_block;

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

/* ResNet-18 CIFAR (model/nets/net.c): stem 3x3, stages of widths w..8w, the first
 * conv of stages 2-4 and the 1x1 shortcut have stride 2. */
static size_t build_layers(const config *c, layer_case *L) {
    int w = c->width, h1 = c->in_hw;
    int h2 = (h1 - 1) / 2 + 1, h3 = (h2 - 1) / 2 + 1, h4 = (h3 - 1) / 2 + 1;
    size_t n = 0;
    L[n++] = (layer_case){"stem 3x3", 1, c->in_c, w, h1, 3, 1, 0};
    L[n++] = (layer_case){"layer1 3x3", 4, w, w, h1, 3, 1, 1};
    L[n++] = (layer_case){"layer2.0.conv1 3x3 s2", 1, w, 2 * w, h1, 3, 2, 1};
    L[n++] = (layer_case){"layer2 3x3", 3, 2 * w, 2 * w, h2, 3, 1, 1};
    L[n++] = (layer_case){"layer2.0.downsample 1x1 s2", 1, w, 2 * w, h1, 1, 2, 1};
    L[n++] = (layer_case){"layer3.0.conv1 3x3 s2", 1, 2 * w, 4 * w, h2, 3, 2, 1};
    L[n++] = (layer_case){"layer3 3x3", 3, 4 * w, 4 * w, h3, 3, 1, 1};
    L[n++] = (layer_case){"layer3.0.downsample 1x1 s2", 1, 2 * w, 4 * w, h2, 1, 2, 1};
    L[n++] = (layer_case){"layer4.0.conv1 3x3 s2", 1, 4 * w, 8 * w, h3, 3, 2, 1};
    L[n++] = (layer_case){"layer4 3x3", 3, 8 * w, 8 * w, h4, 3, 1, 1};
    L[n++] = (layer_case){"layer4.0.downsample 1x1 s2", 1, 4 * w, 8 * w, h3, 1, 2, 1};
    return n;
}
#define MAX_LAYERS 16

/* ms per column from the profiler since the last reset, divided by reps. The
 * report is a Markdown table "| label | calls | total ms | ms/call | share |";
 * calls * ms/call keeps microseconds (a GPU's kernels take a few). */
static lirf_status profile_columns(lirf_ctx *ctx, int reps, double col[NCOL]) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) return LIRF_FAIL(LIRF_E_NOMEM, "open_memstream: %s", strerror(errno));
    lirf_status st = lirf_profile_report(ctx, f);
    fclose(f);
    for (int j = 0; j < NCOL; j++) col[j] = 0;
    for (char *line = strtok(text, "\n"); st == LIRF_OK && line; line = strtok(NULL, "\n")) {
        char label[128];
        unsigned long long calls;
        double total, per_call; /* total has 0.1 ms steps, per_call 0.001 */
        if (sscanf(line, "| %127s | %llu | %lf | %lf |", label, &calls, &total, &per_call) != 4)
            continue;
        col[column_of(label)] += (double)calls * per_call / reps;
    }
    free(text);
    lirf_profile_reset(ctx);
    return st;
}

typedef struct {
    double fwd[NCOL], bwd[NCOL];
    double fwd_wall, bwd_wall; /* ms per call */
} layer_result;

static void fill_random(float *p, size_t n, uint64_t *seed) {
    for (size_t i = 0; i < n; i++) p[i] = (float)(lirf_rng_uniform(seed) * 2.0 - 1.0);
}

static lirf_status run_layer(lirf_ctx *ctx, const lirf_conv_shape *s, int want_dx, int reps,
                             layer_result *r) {
    size_t nx = (size_t)s->N * s->C * s->H * s->W, nw = (size_t)s->K * s->C * s->R * s->S;
    size_t ny = (size_t)s->N * s->K * lirf_conv_out_h(s) * lirf_conv_out_w(s);
    lirf_buf x = LIRF_NOBUF, w = LIRF_NOBUF, y = LIRF_NOBUF, dy = LIRF_NOBUF, dx = LIRF_NOBUF,
             dw = LIRF_NOBUF; /* (N,C,H,W), (K,C,R,S), (N,K,Ho,Wo) x2, (N,C,H,W), (K,C,R,S) */
    size_t nmax = nx > ny ? nx : ny;
    if (nw > nmax) nmax = nw;
    float *h = malloc(nmax * sizeof *h);
    lirf_status st = h ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "bench_conv: host buffer");
    uint64_t seed = 42;
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, nx, &x);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, nw, &w);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, ny, &y);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, ny, &dy);
    if (st == LIRF_OK && want_dx) st = lirf_buf_alloc(ctx, nx, &dx);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, nw, &dw);
    if (st == LIRF_OK) fill_random(h, nx, &seed), st = lirf_buf_write(ctx, x, h, nx);
    if (st == LIRF_OK) fill_random(h, nw, &seed), st = lirf_buf_write(ctx, w, h, nw);
    if (st == LIRF_OK) fill_random(h, ny, &seed), st = lirf_buf_write(ctx, dy, h, ny);
    if (st == LIRF_OK) st = lirf_buf_fill(ctx, dw, 0.0f);
    /* warm-up */
    if (st == LIRF_OK) st = lirf_conv2d_forward(ctx, y, x, w, LIRF_NOBUF, s);
    if (st == LIRF_OK) st = lirf_conv2d_backward(ctx, dx, dw, LIRF_NOBUF, dy, x, w, s);
    if (st == LIRF_OK) st = lirf_finish(ctx);
    lirf_profile_reset(ctx);
    double t0 = now_s();
    for (int i = 0; i < reps && st == LIRF_OK; i++)
        st = lirf_conv2d_forward(ctx, y, x, w, LIRF_NOBUF, s);
    if (st == LIRF_OK) st = lirf_finish(ctx);
    r->fwd_wall = (now_s() - t0) * 1e3 / reps;
    if (st == LIRF_OK) st = profile_columns(ctx, reps, r->fwd);
    t0 = now_s();
    for (int i = 0; i < reps && st == LIRF_OK; i++)
        st = lirf_conv2d_backward(ctx, dx, dw, LIRF_NOBUF, dy, x, w, s);
    if (st == LIRF_OK) st = lirf_finish(ctx);
    r->bwd_wall = (now_s() - t0) * 1e3 / reps;
    if (st == LIRF_OK) st = profile_columns(ctx, reps, r->bwd);
    lirf_buf_free(ctx, &x), lirf_buf_free(ctx, &w), lirf_buf_free(ctx, &y);
    lirf_buf_free(ctx, &dy), lirf_buf_free(ctx, &dx), lirf_buf_free(ctx, &dw);
    free(h);
    return st;
}

static void emit_row(const char *layer, const char *phase, const double col[NCOL], double wall) {
    emit("| %s | %s |", layer, phase);
    for (int j = 0; j < NCOL; j++) emit(col[j] < 1 ? " %.3f |" : " %.2f |", col[j]);
    emit(" %.2f |\n", wall);
}

static lirf_status run_config(lirf_ctx *ctx, const config *c, int reps) {
    layer_case L[MAX_LAYERS];
    size_t n = build_layers(c, L);
    emit("\n**%s**: ResNet-18 width %d on %dx%dx%d, batch %d; ms per call (reps %d)\n\n", c->name,
         c->width, c->in_c, c->in_hw, c->in_hw, c->batch, reps);
    emit("| layer | pass |");
    for (int j = 0; j < NCOL; j++) emit(" %s |", COL_NAME[j]);
    emit(" wall |\n|---|---|");
    for (int j = 0; j <= NCOL; j++) emit("--:|");
    emit("\n");
    double step_f[NCOL] = {0}, step_b[NCOL] = {0}, wall_f = 0, wall_b = 0;
    for (size_t i = 0; i < n; i++) {
        const layer_case *l = &L[i];
        lirf_conv_shape s = {c->batch, l->C, l->H, l->H, l->K, l->R, l->R, l->stride,
                             l->R / 2};
        fprintf(stderr, "bench_conv: %s %s ...\n", c->name, l->layer);
        layer_result r;
        LIRF_TRY(run_layer(ctx, &s, l->dx, reps, &r));
        char name[160];
        snprintf(name, sizeof name, "%s (%dx%d, %d->%d, x%d)", l->layer, l->H, l->H, l->C, l->K,
                 l->count);
        emit_row(name, "fwd", r.fwd, r.fwd_wall);
        emit_row(name, l->dx ? "bwd" : "bwd (no dx)", r.bwd, r.bwd_wall);
        for (int j = 0; j < NCOL; j++) {
            step_f[j] += l->count * r.fwd[j];
            step_b[j] += l->count * r.bwd[j];
        }
        wall_f += l->count * r.fwd_wall, wall_b += l->count * r.bwd_wall;
    }
    emit_row("**step** (all convs, weighted)", "fwd", step_f, wall_f);
    emit_row("**step** (all convs, weighted)", "bwd", step_b, wall_b);
    return LIRF_OK;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: bench_conv [--config w16|w64|all] [--reps N] [--append FILE]\n"
            "  Times lirf_conv2d_forward/backward on ResNet-18 CIFAR layers with a per-kernel\n"
            "  breakdown (LIRF_PROFILE=1 is set when unset). w16: width 16, 1x28x28, batch 128;\n"
            "  w64: width 64, 3x32x32, batch 64. Default: all, reps 3.\n");
}

int main(int argc, char **argv) {
    const char *which = "all", *append = NULL;
    int reps = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--config") && v) {
            which = v;
        } else if (!strcmp(a, "--reps") && v) {
            char *end;
            long x = strtol(v, &end, 10);
            if (*end || x < 1 || x > 1000) {
                fprintf(stderr, "bench_conv: --reps needs an integer in [1, 1000]\n");
                return 2;
            }
            reps = (int)x;
        } else if (!strcmp(a, "--append") && v) {
            append = v;
        } else {
            usage(stderr);
            return 2;
        }
        i++;
    }
    if (strcmp(which, "all") && strcmp(which, "w16") && strcmp(which, "w64")) {
        usage(stderr);
        return 2;
    }
    setenv("LIRF_PROFILE", "1", 0);

    FILE *app = NULL;
    char *block = NULL;
    size_t block_len = 0;
    if (append && !(app = fopen(append, "a"))) {
        fprintf(stderr, "bench_conv: cannot open %s: %s\n", append, strerror(errno));
        return 1;
    }
    if (app && !(g_block = open_memstream(&block, &block_len))) {
        fprintf(stderr, "bench_conv: open_memstream: %s\n", strerror(errno));
        return 1;
    }
    lirf_ctx *ctx = NULL;
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    if (st == LIRF_OK && !lirf_profiling(ctx))
        st = LIRF_FAIL(LIRF_E_INVALID, "profiling is off (set LIRF_PROFILE=1)");
    if (st != LIRF_OK) {
        fprintf(stderr, "bench_conv: %s: %s\n", lirf_status_name(st), lirf_error_message());
        lirf_ctx_destroy(ctx);
        return 1;
    }
    const lirf_device_info *dev = lirf_ctx_device(ctx);
    char date[64];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S UTC", &tm);
    emit("#### bench_conv, %s\n\n- command: `", date);
    for (int i = 0; i < argc; i++) emit("%s%s", i ? " " : "", argv[i]);
    emit("`\n- device: %s; platform %s; driver %s; %u compute units\n", dev->name,
         dev->platform_name, dev->driver, (unsigned)dev->compute_units);
    emit("- columns: ms per call from OpenCL events (im2col, permute = gemm_to_nchw / "
         "nchw_to_gemm, col2im, GEMM = CLBlast, other = e.g. db); wall = the call, "
         "lirf_finish included\n");
    double t_start = now_s();
    for (size_t i = 0; i < sizeof CONFIGS / sizeof CONFIGS[0] && st == LIRF_OK; i++)
        if (!strcmp(which, "all") || !strcmp(which, CONFIGS[i].name))
            st = run_config(ctx, &CONFIGS[i], reps);
    if (st == LIRF_OK) emit("\nRun time %.0f s.\n", now_s() - t_start);
    lirf_ctx_destroy(ctx);
    if (st != LIRF_OK) {
        fprintf(stderr, "bench_conv: %s: %s\n", lirf_status_name(st), lirf_error_message());
        return 1;
    }
    if (app) {
        fclose(g_block);
        g_block = NULL;
        int bad = fprintf(app, "\n%s", block) < 0;
        bad |= fclose(app) != 0;
        free(block);
        if (bad) {
            fprintf(stderr, "bench_conv: writing %s failed\n", append);
            return 1;
        }
    }
    return 0;
}
