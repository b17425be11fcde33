/* lirf eval: accuracy of a checkpoint, overall, per class, and Pre / Dep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "train.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] eval --model PATH [options]\n"
        "\n"
        "Evaluates a checkpoint on the test split: accuracy overall and per class, and,\n"
        "with --deposit-classes, Pre Acc (preservation classes) and Dep Acc (deposit classes).\n"
        "\n"
        "  --model PATH            checkpoint written by lirf train\n"
        "  --data PATH             data (default: Fashion-MNIST from dataset-fashion-mnist)\n"
        "  --format F              auto|fashion-mnist|cifar10|cifar100|imagefolder\n"
        "  --split test|train      which split (default test)\n"
        "  --deposit-classes LIST  e.g. 0,1,2: also report Pre Acc and Dep Acc\n"
        "  --batch N               (default 256)\n"
        "  --json                  print the result as JSON on stdout\n");
}

int cmd_eval(const char *device, int argc, char **argv) {
    const char *model = NULL, *data = NULL, *dep_arg = NULL, *v, *split = "test";
    lirf_data_kind kind = LIRF_DATA_AUTO;
    int batch = 256, json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--model", &model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &kind);
        else if (arg_value(argc, argv, &i, "--split", &split, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 1, 65536, "--batch", &batch);
        else if (arg_flag(argv, i, "--json")) json = 1;
        else {
            fprintf(stderr, "lirf eval: unknown option %s (see lirf eval --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (!model) {
        fprintf(stderr, "lirf eval: --model PATH is required\n");
        return 2;
    }
    if (strcmp(split, "test") && strcmp(split, "train")) {
        fprintf(stderr, "lirf eval: --split is test or train\n");
        return 2;
    }
    int rc = 2;
    lirf_ctx *ctx = NULL;
    lirf_net *net = NULL;
    lirf_model_meta meta = {0};
    lirf_dataset ds = {0};
    lirf_loader *ld = NULL;
    int32_t *dep = NULL;
    int ndep = 0;
    int64_t *counts = NULL;
    lirf_status st;
    if (cli_open(device, &ctx)) goto done;
    if ((st = lirf_checkpoint_load(ctx, model, &meta, &net))) {
        cli_error(st, "loading the model");
        goto done;
    }
    if (dep_arg && !parse_class_list(dep_arg, meta.cfg.classes, &dep, &ndep)) goto done;
    if (!load_dataset_cli(data, kind, !strcmp(split, "train"), meta.cfg.in_h, NULL, 0, 0, &ds)) goto done;
    if (ds.c != meta.cfg.in_c || ds.h != meta.cfg.in_h || ds.w != meta.cfg.in_w ||
        ds.num_classes != meta.cfg.classes) {
        fprintf(stderr, "lirf: the data (%dx%dx%d, %d classes) does not fit the model (%dx%dx%d, "
                        "%d classes)\n", ds.c, ds.h, ds.w, ds.num_classes, meta.cfg.in_c,
                meta.cfg.in_h, meta.cfg.in_w, meta.cfg.classes);
        goto done;
    }
    lirf_loader_opts lo = {.data = &ds, .batch = batch};
    memcpy(lo.mean, meta.mean, sizeof lo.mean);
    memcpy(lo.std, meta.std, sizeof lo.std);
    int K = meta.cfg.classes;
    counts = calloc(2 * (size_t)K, sizeof *counts);
    if (!counts) goto done;
    if ((st = lirf_loader_create(ctx, &lo, &ld)) ||
        (st = lirf_eval_counts(ctx, ld, K, lirf_net_logits, net, counts))) {
        cli_error(st, "evaluating");
        goto done;
    }
    int64_t c_all = 0, n_all = 0, c_dep = 0, n_dep = 0;
    for (int k = 0; k < K; k++) {
        c_all += counts[2 * k], n_all += counts[2 * k + 1];
        for (int j = 0; j < ndep; j++)
            if (dep[j] == k) c_dep += counts[2 * k], n_dep += counts[2 * k + 1];
    }
    int64_t c_pre = c_all - c_dep, n_pre = n_all - n_dep;
#define PCT(c, n) ((n) ? 100.0 * (double)(c) / (double)(n) : 0.0)
    if (json) {
        printf("{\"model\":\"%s\",\"samples\":%lld,\"accuracy\":%.2f", model, (long long)n_all,
               PCT(c_all, n_all));
        if (ndep) printf(",\"pre_acc\":%.2f,\"dep_acc\":%.2f", PCT(c_pre, n_pre), PCT(c_dep, n_dep));
        printf(",\"per_class\":[");
        for (int k = 0; k < K; k++)
            printf("%s{\"class\":%d,\"name\":\"%s\",\"accuracy\":%.2f,\"samples\":%lld}", k ? "," : "",
                   k, meta.class_names ? meta.class_names[k] : "",
                   PCT(counts[2 * k], counts[2 * k + 1]), (long long)counts[2 * k + 1]);
        printf("]}\n");
    } else {
        printf("%s on %s (%s split, %lld images)\n", model, ds.source, split, (long long)n_all);
        printf("accuracy %.2f%%\n", PCT(c_all, n_all));
        if (ndep) printf("Pre Acc %.2f%%  Dep Acc %.2f%%\n", PCT(c_pre, n_pre), PCT(c_dep, n_dep));
        printf("| class | name | accuracy | images |\n|---:|---|---:|---:|\n");
        for (int k = 0; k < K; k++)
            printf("| %d | %s | %.2f | %lld |\n", k, meta.class_names ? meta.class_names[k] : "",
                   PCT(counts[2 * k], counts[2 * k + 1]), (long long)counts[2 * k + 1]);
    }
    rc = 0;
done:
    free(counts);
    free(dep);
    lirf_loader_destroy(ld);
    lirf_dataset_free(&ds);
    lirf_net_destroy(net);
    lirf_model_meta_free(&meta);
    lirf_ctx_destroy(ctx);
    return rc;
}
