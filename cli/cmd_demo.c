/* lirf demo: the main job (lirf_demo_run, model/experiments/). Train T0 on
 * Fashion-MNIST (or reuse it), deposit classes 0,1,2, withdraw, evaluate,
 * print Table 1, keep every artifact in one folder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] demo [options]\n"
        "\n"
        "The whole LIRF job, with nothing to download: trains T0 (ResNet-18) on Fashion-MNIST\n"
        "from Debian's dataset-fashion-mnist (or reuses OUT/original.safetensors), deposits\n"
        "classes 0,1,2 (30%% of the classes, as in the paper), makes a calibrated module\n"
        "(LIRF-C, lirf deposit --mode calibrated --from-target) for that target, withdraws\n"
        "them again in lirf's delta mode (the default of lirf deposit), lirf's exact mode,\n"
        "the paper's mode and the calibrated mode, evaluates every net on the test split\n"
        "and prints Table 1 (with each net's argmax agreement with T0 and each archive's\n"
        "size). Every artifact stays in OUT: original.safetensors, target.safetensors,\n"
        "deposit.lirf (delta), deposit-exact.lirf, deposit-paper.lirf,\n"
        "deposit-calibrated.lirf, recover.safetensors (delta), recover-exact.safetensors,\n"
        "recover-paper.safetensors, recover-calibrated.safetensors, table1.md, table1.json,\n"
        "summary.json.\n"
        "\n"
        "  --out DIR              output folder (default lirf-demo)\n"
        "  --retrain              train T0 even if OUT/original.safetensors exists\n"
        "  --deposit-classes L    (default 0,1,2)\n"
        "  --width W              ResNet-18 width (default 16)\n"
        "  --epochs N             T0's epochs (default 3)\n"
        "  --deposit-epochs N     deposit epochs (default 5; the paper's 20 with --full)\n"
        "  --batch N              T0's batch (default 128)\n"
        "  --deposit-batch N      the deposit's batch (default: --batch)\n"
        "  --limit N              train T0 on at most N training images (default 20000;\n"
        "                         0: all)\n"
        "  --deposit-tries N      deposits from T0 with the seeds S, S+1, ... (S: --seed),\n"
        "                         all on one held-out set; the one with the lowest held-out\n"
        "                         Dep Acc is kept (default 2; 1 with --full)\n"
        "  --deposit-limit N      deposit with at most N of the deposit classes' images\n"
        "                         (default 0: all of them, 18000 on Fashion-MNIST)\n"
        "  --full                 the paper's setting for a GPU: width 64, CIFAR-10 from\n"
        "                         ../shared/data/cifar10 (or --data), 30 T0 epochs, 20 deposit\n"
        "                         epochs, T = 10\n"
        "  --data PATH, --format F, --image-size N   other data\n"
        "  any lirf deposit method option (--lambda-at, --T, --no-prune, --pt-all, ...,\n"
        "                         --calib-epochs, --calib-lr, ...)\n"
        "  --json                 print summary.json's document (artifacts, Table 1, runs,\n"
        "                         times) on stdout instead of the table (docs/json.md)\n"
        "  The deposit holds out 5%% of the deposit-class images, measures the target's\n"
        "  Dep Acc on them eight times an epoch and keeps the nets with the lowest\n"
        "  (lirf deposit --holdout 0.05 --keep best; --holdout 0 turns it off, and\n"
        "  then only the first of the tries runs).\n"
        "\n"
        "Defaults are sized for 2 CPU cores through PoCL: 52 minutes on an AMD EPYC\n"
        "(docs/results.md).\n");
}

/* The options into j; 0 to go on, -1 after --help, else 2. */
static int parse(int argc, char **argv, lirf_demo_job *j, int *json) {
    const char *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), -1;
        else if (arg_value(argc, argv, &i, "--out", &j->out_dir, &bad)) {}
        else if (arg_flag(argv, i, "--retrain")) j->retrain = 1;
        else if (arg_flag(argv, i, "--full")) j->full = 1;
        else if (arg_flag(argv, i, "--json")) *json = 1;
        else if (arg_value(argc, argv, &i, "--deposit-classes", &j->dep_text, &bad)) {}
        else if (arg_value(argc, argv, &i, "--width", &v, &bad)) bad = bad || !parse_int(v, 1, 1024, "--width", &j->width);
        else if (arg_value(argc, argv, &i, "--epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 100000, "--epochs", &j->epochs);
        else if (arg_value(argc, argv, &i, "--deposit-epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 100000, "--deposit-epochs", &j->dep_epochs);
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--batch", &j->batch);
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--limit", &j->limit);
        else if (arg_value(argc, argv, &i, "--deposit-batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--deposit-batch", &j->dep_batch);
        else if (arg_value(argc, argv, &i, "--deposit-tries", &v, &bad)) bad = bad || !parse_int(v, 1, LIRF_MAX_TRIES, "--deposit-tries", &j->tries);
        else if (arg_value(argc, argv, &i, "--deposit-limit", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--deposit-limit", &j->dep_limit);
        else if (arg_value(argc, argv, &i, "--data", &j->data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--test-data", &j->test_data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &j->kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &j->image_size);
        else if (arg_flag(argv, i, "--mode")) {
            fprintf(stderr, "lirf demo: --mode is lirf deposit's; the demo writes the archives of "
                            "all three modes (deposit.lirf: delta, deposit-exact.lirf, "
                            "deposit-paper.lirf)\n");
            bad = 1;
        }
        else if (parse_deposit_opts(argc, argv, &i, &j->o, &bad)) {}
        else bad = unknown_option("demo", argv[i]);
    }
    return bad ? 2 : 0;
}

static void print(const lirf_demo_job *j, const lirf_demo_report *r, const char *device) {
    printf("\nTable 1 (test split, deposit classes %s; %s):\n\n", j->dep_text, device);
    lirf_table1_write_md(stdout, r->cols, LIRF_DEMO_COLS);
    printf("\nF and H-Mean refer to the target (Deposit column). \"Withdrawal (delta)\" is\n"
           "lirf's default: the archive holds T0's lower part minus the target's (%s conv\n"
           "weights) and T0's BN statistics; \"(exact)\" holds T0's lower part; \"(paper)\" is\n"
           "the paper's pruned module and recover net (column rule, Eq. 8); \"(calibrated)\"\n"
           "is LIRF-C, a pruned module for the same rule trained afterwards against the\n"
           "frozen target (docs/lirf-c.md).\n",
           lirf_delta_codec_name(j->o.codec));
    if (r->ntries > 1) printf("deposit: try %d of %d kept (lowest held-out Dep Acc)\n", r->kept + 1, r->ntries);
    printf("total %.0f s (T0 %.0f s, deposit %.0f s, calibration %.0f s, withdraw %.1f s, "
           "evaluation %.0f s); artifacts in %s/\n", r->total, r->t_train, r->t_deposit,
           r->t_calibrate, r->t_withdraw, r->t_eval, j->out_dir);
}

int cmd_demo(const char *device, int argc, char **argv) {
    lirf_demo_job j;
    lirf_demo_job_default(&j);
    j.log = stderr;
    json_t *summary = NULL;
    int json = 0, rc = parse(argc, argv, &j, &json);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *dep = NULL;
    if (!parse_class_list(j.dep_text, LIRF_MAX_CLASSES, &dep, &j.ndep)) return 2;
    j.dep = dep;
    lirf_ctx *ctx = NULL;
    lirf_demo_report *r = calloc(1, sizeof *r);
    if (!r || cli_open(device, &ctx)) return free(dep), free(r), 2;
    const lirf_device_info *di = lirf_ctx_device(ctx);
    fprintf(stderr, "lirf demo: device %s (%s, driver %s); output in %s/\n", di->name,
            di->platform_name, di->driver, j.out_dir);
    if (json) j.summary = &summary;
    lirf_status st = lirf_demo_run(ctx, &j, r);
    if (st) rc = cli_error(st, "demo");
    else if (json) rc = print_json(summary);
    else print(&j, r, di->name);
    free(r);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
