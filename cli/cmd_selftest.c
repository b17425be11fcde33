/* lirf selftest: every op's kernel on the device against its plain C
 * reference on a small shape (lirf_selftest_run, model/selftest/). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "selftest.h"

static void usage(void) {
    size_t n = lirf_selftest_cases(NULL);
    printf("usage: lirf [--device SPEC] selftest [--json]\n\n"
           "Runs every layer op's kernel on the chosen device (%zu cases: forward and\n"
           "backward of the convolution, batch norm, pooling, linear, elementwise ops,\n"
           "losses, attention transfer, augmentation, the LIRF column ops, SGD and the\n"
           "GEMM) against its plain C reference on a small shape, and prints each case's\n"
           "largest error (relative to the largest reference value, at least 1), its\n"
           "tolerance and its time. Exit 0 when every case passes, 1 otherwise, 2 on an\n"
           "error. The first run on a device also builds the OpenCL programs.\n"
           "\n"
           "  --json    print the result as one JSON document on stdout (docs/json.md)\n", n);
}

static void print_text(lirf_ctx *ctx, const lirf_selftest_result *r, size_t n, int failed) {
    const lirf_device_info *d = lirf_ctx_device(ctx);
    printf("device: %s (%s), driver %s, %s\n", d->name, d->platform_name, d->driver, d->c_version);
    for (size_t k = 0; k < n; k++) {
        printf("  %-20s %-5s error %9.2e (tolerance %.0e) %7.3f s  %s\n", r[k].name,
               r[k].pass ? "ok" : "FAIL", r[k].max_err, r[k].tol, r[k].seconds, r[k].shape);
        if (r[k].status) printf("      %s: %s\n", lirf_status_name(r[k].status), r[k].message);
    }
    const lirf_stats *s = lirf_ctx_stats(ctx);
    printf("programs built %llu, loaded from cache %llu; cache %s\n",
           (unsigned long long)s->programs_built, (unsigned long long)s->programs_cached,
           lirf_ctx_cache_dir(ctx)[0] ? lirf_ctx_cache_dir(ctx) : "off");
    if (failed) printf("selftest FAILED: %d of %zu cases\n", failed, n);
    else printf("selftest passed: %zu cases\n", n);
}

int cmd_selftest(const char *device, int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(), 0;
        if (arg_flag(argv, i, "--json")) json = 1;
        else return unknown_option("selftest", argv[i]), 2;
    }
    const lirf_selftest_case *cases;
    size_t n = lirf_selftest_cases(&cases);
    lirf_selftest_result *r = calloc(n, sizeof *r);
    lirf_ctx *ctx = NULL;
    if (!r) return free(r), cli_error(LIRF_FAIL(LIRF_E_NOMEM, "out of host memory"), "selftest");
    if (cli_open(device, &ctx)) return free(r), 2;
    int failed = 0, rc;
    lirf_status st = lirf_selftest_run(ctx, cases, n, r, &failed);
    if (st) rc = cli_error(st, "selftest");
    else if (json) rc = print_json(lirf_selftest_json(ctx, r, n));
    else print_text(ctx, r, n, failed), rc = 0;
    if (!rc && failed) rc = 1;
    free(r);
    lirf_ctx_destroy(ctx);
    return rc;
}
