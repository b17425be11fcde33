/* bench_train: ResNet-18 training throughput (forward + backward + SGD step)
 * on the OpenCL device, with peak device memory and, with --profile, the
 * per-op breakdown of one step from OpenCL event profiling.
 * bench/train.sh runs it beside the PyTorch peer (bench/train_peer.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "net.h"
#include "train.h"

static void usage(void) {
    printf("usage: bench_train [--arch resnet18|cnn] [--width W] [--in C,H,W] [--batch N]\n"
           "                   [--steps N] [--warmup N] [--profile] [--json]\n"
           "Times N training steps (after --warmup untimed ones, default 2) of ResNet-18\n"
           "(default width 64, 3,32,32, batch 64, 10 steps) on random data. --profile needs\n"
           "LIRF_PROFILE=1 and prints the per-op table of the timed steps.\n");
}

typedef struct {
    int W, C, H, Wd, N, steps, warm, prof, json;
    lirf_arch arch;
} bench_opts;

/* 0 to go on, else the exit status (after printing the usage). */
static int parse(int argc, char **argv, bench_opts *o) {
    *o = (bench_opts){.W = 64, .C = 3, .H = 32, .Wd = 32, .N = 64, .steps = 10, .warm = 2,
                      .arch = LIRF_ARCH_RESNET18};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc) o->W = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--in") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d", &o->C, &o->H, &o->Wd) != 3) return usage(), 2;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) o->N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) o->steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) o->warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            if (lirf_arch_parse(argv[++i], &o->arch)) return usage(), 2;
        } else if (!strcmp(argv[i], "--profile")) o->prof = 1;
        else if (!strcmp(argv[i], "--json")) o->json = 1;
        else return usage(), !strcmp(argv[i], "--help") ? 0 : 2;
    }
    if (o->W < 1 || o->N < 1 || o->steps < 1 || o->warm < 0 || o->C < 1 || o->H < 8 || o->Wd < 8)
        return usage(), 2;
    return 0;
}

typedef struct {
    lirf_net *n;
    lirf_arena *ws;
    lirf_tape *t;
    lirf_buf x, y, l;
    size_t saved, arena; /* elements: forward activations; whole step */
} bench_state;

static lirf_status setup(lirf_ctx *ctx, const bench_opts *o, bench_state *b) {
    lirf_net_config c = {.arch = o->arch, .width = o->W, .in_c = o->C, .in_h = o->H,
                         .in_w = o->Wd, .classes = 10, .first = 0,
                         .last = lirf_arch_stages(o->arch) - 1};
    size_t nx = (size_t)o->N * o->C * o->H * o->Wd;
    LIRF_TRY(lirf_net_create(ctx, &c, &b->n));
    LIRF_TRY(lirf_net_init(b->n, 1));
    LIRF_TRY(lirf_arena_create(ctx, 0, &b->ws));
    LIRF_TRY(lirf_tape_create(&b->t));
    LIRF_TRY(lirf_buf_alloc(ctx, nx, &b->x));
    LIRF_TRY(lirf_buf_fill(ctx, b->x, 0.5f));
    LIRF_TRY(lirf_buf_alloc(ctx, (size_t)o->N, &b->y));
    LIRF_TRY(lirf_buf_fill_int(ctx, b->y, 3));
    return lirf_buf_alloc(ctx, 1, &b->l);
}

/* One training step: forward, cross-entropy, backward, SGD. */
static lirf_status step(lirf_ctx *ctx, int N, bench_state *b) {
    lirf_buf z, dz;
    LIRF_TRY(lirf_net_zero_grads(b->n));
    LIRF_TRY(lirf_net_forward(b->n, b->ws, b->t, LIRF_MODE_TRAIN, b->x, N, &z));
    b->saved = lirf_arena_used(b->ws); /* the activations the backward pass needs */
    LIRF_TRY(lirf_softmax_ce_forward(ctx, b->l, LIRF_NOBUF, z, b->y, N, 10));
    LIRF_TRY(lirf_arena_get(b->ws, (size_t)N * 10, &dz));
    LIRF_TRY(lirf_buf_fill(ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_backward(ctx, dz, z, b->y, N, 10, 1.0f));
    LIRF_TRY(lirf_net_backward(b->n, b->ws, b->t, dz, NULL));
    LIRF_TRY(lirf_sgd_step(ctx, lirf_net_params(b->n), lirf_net_momentum(b->n),
                           lirf_net_grads(b->n), lirf_net_nparams(b->n), 0.01f, 0.9f, 5e-4f));
    b->arena = lirf_arena_high(b->ws);
    return LIRF_OK;
}

typedef struct {
    double setup, first_step, dt;
    size_t static_bytes, first_peak;
} bench_times;

/* warm-up steps, then the timed ones */
static lirf_status run(lirf_ctx *ctx, const bench_opts *o, bench_state *b, double t_launch,
                       bench_times *r) {
    double t0 = 0;
    r->static_bytes = lirf_ctx_stats(ctx)->bytes_in_use;
    for (int it = 0; it < o->warm + o->steps; it++) {
        if (it == 0) r->setup = lirf_now() - t_launch;
        /* the arena's reset first: after the first step it merges its chunks */
        LIRF_TRY(lirf_arena_reset(b->ws));
        if (it == o->warm) {
            lirf_finish(ctx);
            lirf_profile_reset(ctx);
            r->first_peak = lirf_ctx_stats(ctx)->bytes_peak; /* the first step grows the arena */
            lirf_ctx_reset_peak(ctx);
            t0 = lirf_now();
        }
        LIRF_TRY(step(ctx, o->N, b));
        if (it == 0) {
            lirf_finish(ctx);
            r->first_step = lirf_now() - t_launch;
        }
    }
    lirf_finish(ctx);
    r->dt = (lirf_now() - t0) / o->steps;
    return LIRF_OK;
}

static void report(lirf_ctx *ctx, const bench_opts *o, const bench_state *b, const bench_times *r) {
    const lirf_stats *s = lirf_ctx_stats(ctx);
    size_t np = lirf_net_nparams(b->n);
    const lirf_device_info *d = lirf_ctx_device(ctx);
    if (o->json) {
        char in[64];
        snprintf(in, sizeof in, "%d,%d,%d", o->C, o->H, o->Wd);
        json_t *j = json_pack(
            "{s:s,s:i,s:s,s:i,s:f,s:f,s:f,s:f,s:I,s:I,s:I,s:I,s:I,s:s}", "arch",
            lirf_arch_name(o->arch), "width", o->W, "input", in, "batch", o->N, "ms_per_step",
            r->dt * 1e3, "images_per_s", o->N / r->dt, "setup_s", r->setup, "first_step_s",
            r->first_step, "peak_device_bytes", (json_int_t)s->bytes_peak,
            "warmup_peak_device_bytes", (json_int_t)r->first_peak, "param_bytes",
            (json_int_t)(np * 4), "saved_activation_bytes", (json_int_t)(b->saved * 4),
            "step_arena_bytes", (json_int_t)(b->arena * 4), "device", d->name);
        char *t = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (t) puts(t);
        free(t);
        json_decref(j);
        return;
    }
    double need = 3.0 * np * 4 + b->saved * 4.0;
    printf("%s width %d, %dx%dx%d, batch %d on %s: %.1f ms/step, %.1f images/s; launch to "
           "first step %.2f s, to its end %.2f s; peak device memory of a timed step %.1f MB = "
           "%.2fx of %.1f MB (parameters, gradients and momentum %.1f MB + activations saved "
           "by the forward pass %.1f MB); step's arena %.1f MB at most; peak over the "
           "warm-up steps %.1f MB; buffers before the first step %.1f MB\n",
           lirf_arch_name(o->arch), o->W, o->C, o->H, o->Wd, o->N, d->name, r->dt * 1e3,
           o->N / r->dt, r->setup, r->first_step, s->bytes_peak / 1e6, s->bytes_peak / need,
           need / 1e6, 3.0 * np * 4 / 1e6, b->saved * 4 / 1e6, b->arena * 4 / 1e6,
           r->first_peak / 1e6, r->static_bytes / 1e6);
}

int main(int argc, char **argv) {
    bench_opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc;
    double t_launch = lirf_now();
    lirf_ctx *ctx;
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    if (st) {
        fprintf(stderr, "bench_train: %s\n", lirf_error_message());
        return 1;
    }
    bench_state b = {0};
    bench_times r = {0};
    st = setup(ctx, &o, &b);
    if (!st) st = run(ctx, &o, &b, t_launch, &r);
    if (st) fprintf(stderr, "bench_train: %s\n", lirf_error_message());
    else report(ctx, &o, &b, &r);
    if (!st && o.prof) lirf_profile_report(ctx, stdout);
    lirf_tape_destroy(b.t);
    lirf_arena_destroy(b.ws);
    lirf_net_destroy(b.n);
    lirf_ctx_destroy(ctx);
    return st ? 1 : 0;
}
