/* lirf selftest: a short op demo — runs a few layer ops on the device and
 * compares them with the plain C references. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "ref.h"

int cmd_selftest(const char *device, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: lirf [--device SPEC] selftest\n\n"
                   "Runs layer ops on the chosen device against their plain C references\n"
                   "and prints the largest error of each. Exit 0 when all agree, 1 otherwise.\n");
            return 0;
        }
        fprintf(stderr, "lirf selftest: unknown option %s\n", argv[i]);
        return 2;
    }
    lirf_ctx *ctx;
    if (cli_open(device, &ctx)) return 2;
    const lirf_device_info *d = lirf_ctx_device(ctx);
    printf("device: %s (%s), driver %s, %s\n", d->name, d->platform_name, d->driver, d->c_version);
    int failures = 0;
    /* ReLU and GEMM: enough to show the device computes what the reference does. */
    enum { M = 37, N = 29, K = 53 };
    static double a[M * K], b[K * N], c[M * N];
    static float fa[M * K], fb[K * N], fc[M * N];
    uint64_t s = 12345;
    for (int i = 0; i < M * K; i++) fa[i] = (float)(a[i] = (float)(lirf_rng_uniform(&s) - 0.5));
    for (int i = 0; i < K * N; i++) fb[i] = (float)(b[i] = (float)(lirf_rng_uniform(&s) - 0.5));
    ref_gemm(0, 0, M, N, K, 1.0, a, K, b, N, 0.0, c, N);
    lirf_buf A, B, C;
    lirf_status st;
    if ((st = lirf_buf_alloc(ctx, M * K, &A)) || (st = lirf_buf_alloc(ctx, K * N, &B)) ||
        (st = lirf_buf_alloc(ctx, M * N, &C)) || (st = lirf_buf_write(ctx, A, fa, M * K)) ||
        (st = lirf_buf_write(ctx, B, fb, K * N)) ||
        (st = lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_NO_TRANS, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N)) ||
        (st = lirf_buf_read(ctx, C, fc, M * N))) {
        lirf_ctx_destroy(ctx);
        return cli_error(st, "selftest gemm");
    }
    double err = 0;
    for (int i = 0; i < M * N; i++) err = fmax(err, fabs(fc[i] - c[i]));
    printf("  gemm %dx%dx%d        max abs error %.2e %s\n", M, N, K, err, err < 1e-4 ? "ok" : "FAIL");
    failures += !(err < 1e-4);
    double y[M * K];
    ref_relu_forward(y, a, M * K);
    if ((st = lirf_relu_forward(ctx, A, A, M * K)) || (st = lirf_buf_read(ctx, A, fa, M * K))) {
        lirf_ctx_destroy(ctx);
        return cli_error(st, "selftest relu");
    }
    err = 0;
    for (int i = 0; i < M * K; i++) err = fmax(err, fabs(fa[i] - y[i]));
    printf("  relu %d             max abs error %.2e %s\n", M * K, err, err < 1e-6 ? "ok" : "FAIL");
    failures += !(err < 1e-6);
    lirf_buf_free(ctx, &A), lirf_buf_free(ctx, &B), lirf_buf_free(ctx, &C);
    const lirf_stats *stt = lirf_ctx_stats(ctx);
    printf("programs built %llu, loaded from cache %llu; cache %s\n",
           (unsigned long long)stt->programs_built, (unsigned long long)stt->programs_cached,
           lirf_ctx_cache_dir(ctx)[0] ? lirf_ctx_cache_dir(ctx) : "off");
    lirf_ctx_destroy(ctx);
    printf("%s\n", failures ? "selftest FAILED" : "selftest passed");
    return failures ? 1 : 0;
}
