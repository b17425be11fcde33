/* bench_train: ResNet-18 training throughput (forward + backward + SGD step)
 * on the OpenCL device, with peak device memory and, with --profile, the
 * per-op breakdown of one step from OpenCL event profiling.
 * bench/train.sh runs it beside the PyTorch peer (bench/train_peer.py). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net.h"
#include "train.h"

static void usage(void) {
    printf("usage: bench_train [--arch resnet18|cnn] [--width W] [--in C,H,W] [--batch N]\n"
           "                   [--steps N] [--warmup N] [--profile] [--json]\n"
           "Times N training steps (after --warmup untimed ones, default 2) of ResNet-18\n"
           "(default width 64, 3,32,32, batch 64, 10 steps) on random data. --profile needs\n"
           "LIRF_PROFILE=1 and prints the per-op table of the timed steps.\n");
}

int main(int argc, char **argv) {
    int W = 64, C = 3, H = 32, Wd = 32, N = 64, steps = 10, warm = 2, prof = 0, json = 0;
    lirf_arch arch = LIRF_ARCH_RESNET18;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--width") && i + 1 < argc) W = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--in") && i + 1 < argc) {
            if (sscanf(argv[++i], "%d,%d,%d", &C, &H, &Wd) != 3) return usage(), 2;
        } else if (!strcmp(argv[i], "--batch") && i + 1 < argc) N = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc) steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--warmup") && i + 1 < argc) warm = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            if (lirf_arch_parse(argv[++i], &arch)) return usage(), 2;
        } else if (!strcmp(argv[i], "--profile")) prof = 1;
        else if (!strcmp(argv[i], "--json")) json = 1;
        else return usage(), !strcmp(argv[i], "--help") ? 0 : 2;
    }
    if (W < 1 || N < 1 || steps < 1 || warm < 0 || C < 1 || H < 8 || Wd < 8) return usage(), 2;
    double t_launch = lirf_now();
    lirf_ctx *ctx;
    lirf_status st = lirf_ctx_create(&ctx, NULL);
    if (st) {
        fprintf(stderr, "bench_train: %s\n", lirf_error_message());
        return 1;
    }
    lirf_net_config c = {.arch = arch, .width = W, .in_c = C, .in_h = H, .in_w = Wd, .classes = 10,
                         .first = 0, .last = lirf_arch_stages(arch) - 1};
    lirf_net *n = NULL;
    lirf_arena *ws = NULL;
    lirf_tape *t = NULL;
    lirf_buf x, y, l;
    if ((st = lirf_net_create(ctx, &c, &n)) || (st = lirf_net_init(n, 1)) ||
        (st = lirf_arena_create(ctx, 0, &ws)) || (st = lirf_tape_create(&t)) ||
        (st = lirf_buf_alloc(ctx, (size_t)N * C * H * Wd, &x)) || (st = lirf_buf_fill(ctx, x, 0.5f)) ||
        (st = lirf_buf_alloc(ctx, (size_t)N, &y)) || (st = lirf_buf_fill_int(ctx, y, 3)) ||
        (st = lirf_buf_alloc(ctx, 1, &l))) {
        fprintf(stderr, "bench_train: %s\n", lirf_error_message());
        return 1;
    }
    size_t static_bytes = lirf_ctx_stats(ctx)->bytes_in_use;
    double t0 = 0, first_step = 0, setup = 0;
    size_t first_peak = 0; /* over the warm-up steps (the first one grows the arena) */
    size_t saved = 0, arena = 0; /* elements: forward activations; whole step */
    for (int it = 0; it < warm + steps; it++) {
        if (it == 0) setup = lirf_now() - t_launch;
        /* the arena's reset first: after the first step it merges its chunks */
        if ((st = lirf_arena_reset(ws))) {
            fprintf(stderr, "bench_train: %s\n", lirf_error_message());
            return 1;
        }
        if (it == warm) {
            lirf_finish(ctx);
            lirf_profile_reset(ctx);
            first_peak = lirf_ctx_stats(ctx)->bytes_peak;
            lirf_ctx_reset_peak(ctx);
            t0 = lirf_now();
        }
        lirf_buf z, dz;
        st = lirf_net_zero_grads(n);
        if (!st) st = lirf_net_forward(n, ws, t, LIRF_MODE_TRAIN, x, N, &z);
        if (!st) saved = lirf_arena_used(ws); /* the activations the backward pass needs */
        if (st || (st = lirf_softmax_ce_forward(ctx, l, LIRF_NOBUF, z, y, N, 10)) ||
            (st = lirf_arena_get(ws, (size_t)N * 10, &dz)) || (st = lirf_buf_fill(ctx, dz, 0)) ||
            (st = lirf_softmax_ce_backward(ctx, dz, z, y, N, 10, 1.0f)) ||
            (st = lirf_net_backward(n, ws, t, dz, NULL)) ||
            (st = lirf_sgd_step(ctx, lirf_net_params(n), lirf_net_momentum(n), lirf_net_grads(n),
                                lirf_net_nparams(n), 0.01f, 0.9f, 5e-4f))) {
            fprintf(stderr, "bench_train: %s\n", lirf_error_message());
            return 1;
        }
        arena = lirf_arena_high(ws);
        if (it == 0) {
            lirf_finish(ctx);
            first_step = lirf_now() - t_launch;
        }
    }
    lirf_finish(ctx);
    double dt = (lirf_now() - t0) / steps;
    const lirf_stats *s = lirf_ctx_stats(ctx);
    size_t np = lirf_net_nparams(n);
    const lirf_device_info *d = lirf_ctx_device(ctx);
    if (json) {
        printf("{\"arch\":\"%s\",\"width\":%d,\"input\":\"%d,%d,%d\",\"batch\":%d,\"ms_per_step\":%.2f,"
               "\"images_per_s\":%.1f,\"setup_s\":%.3f,\"first_step_s\":%.3f,\"peak_device_bytes\":%zu,"
               "\"warmup_peak_device_bytes\":%zu,"
               "\"param_bytes\":%zu,\"saved_activation_bytes\":%zu,\"step_arena_bytes\":%zu,"
               "\"device\":\"%s\"}\n",
               lirf_arch_name(arch), W, C, H, Wd, N, dt * 1e3, N / dt, setup, first_step,
               s->bytes_peak, first_peak, np * 4, saved * 4, arena * 4, d->name);
    } else {
        double need = 3.0 * np * 4 + saved * 4.0;
        printf("%s width %d, %dx%dx%d, batch %d on %s: %.1f ms/step, %.1f images/s; launch to "
               "first step %.2f s, to its end %.2f s; peak device memory of a timed step %.1f MB = "
               "%.2fx of %.1f MB (parameters, gradients and momentum %.1f MB + activations saved "
               "by the forward pass %.1f MB); step's arena %.1f MB at most; peak over the "
               "warm-up steps %.1f MB; buffers before the first step %.1f MB\n",
               lirf_arch_name(arch), W, C, H, Wd, N, d->name, dt * 1e3, N / dt, setup,
               first_step, s->bytes_peak / 1e6, s->bytes_peak / need, need / 1e6, 3.0 * np * 4 / 1e6,
               saved * 4 / 1e6, arena * 4 / 1e6, first_peak / 1e6, static_bytes / 1e6);
    }
    if (prof) lirf_profile_report(ctx, stdout);
    lirf_tape_destroy(t);
    lirf_arena_destroy(ws);
    lirf_net_destroy(n);
    lirf_ctx_destroy(ctx);
    return 0;
}
