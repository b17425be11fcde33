/* lirf unlearn: the unlearning baselines (model/baselines/unlearn.h) on a checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "unlearn.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] unlearn --method M --model T0 --deposit-classes LIST\n"
        "                                    [--target PATH] [options]\n"
        "\n"
        "Forgets the deposit classes with a baseline method — what LIRF (lirf deposit) is\n"
        "measured beside — and writes a target net that lirf eval and lirf verify read like\n"
        "LIRF's (no archive: these methods forget for good). docs/method.md describes each.\n"
        "\n"
        "methods (--method; --list prints them):\n");
    for (int i = 0; lirf_unlearners[i]; i++) {
        const lirf_unlearner *u = lirf_unlearners[i];
        fprintf(f, "  %-13s %s\n  %-13s data: %s; defaults %d epoch%s, lr %g\n", u->name,
                u->summary, "", lirf_unlearner_data(u),
                u->epochs, u->epochs == 1 ? "" : "s", (double)u->lr);
    }
    fprintf(f,
        "\n"
        "  --model PATH            T0 (a net from lirf train)\n"
        "  --deposit-classes LIST  the classes to forget, e.g. 0,1,2\n"
        "  --target PATH           the target net (default unlearn-target.safetensors)\n"
        "  --data PATH, --format F, --image-size N, --limit N   training data, as lirf train\n"
        "                          (default Fashion-MNIST); every class is read\n"
        "  --epochs N --lr X       (default: the method's)\n"
        "  --batch N (128) --momentum X (0.9) --wd X (5e-4) --seed N (1)\n"
        "  --crop-pad N (4; 2 below 32 px) --no-flip   on-device augmentation\n"
        "  --alpha X (0.5) --T X (4)    scrub: alpha KD + (1 - alpha) CE, KD temperature\n"
        "  --json                  the result as JSON on stdout\n"
        "  --quiet                 no progress output\n");
}

static int parse(int argc, char **argv, lirf_unlearn_opts *o, const char **s, lirf_data_kind *kind,
                 int *image_size, int *limit, int *json, int *list) {
    int bad = 0;
    const char *v;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        else if (arg_flag(argv, i, "--list")) *list = 1;
        else if (arg_value(argc, argv, &i, "--method", &o->method, &bad)) {}
        else if (arg_value(argc, argv, &i, "--model", &s[0], &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &s[1], &bad)) {}
        else if (arg_value(argc, argv, &i, "--target", &s[2], &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &s[3], &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", image_size);
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--limit", limit);
        else if (arg_value(argc, argv, &i, "--epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 10000, "--epochs", &o->epochs);
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--batch", &o->batch);
        else if (arg_value(argc, argv, &i, "--lr", &v, &bad)) bad = bad || !parse_float(v, 1e-9, 100, "--lr", &o->lr);
        else if (arg_value(argc, argv, &i, "--momentum", &v, &bad)) bad = bad || !parse_float(v, 0, 0.999999, "--momentum", &o->momentum);
        else if (arg_value(argc, argv, &i, "--wd", &v, &bad)) bad = bad || !parse_float(v, 0, 1, "--wd", &o->wd);
        else if (arg_value(argc, argv, &i, "--alpha", &v, &bad)) bad = bad || !parse_float(v, 0, 1, "--alpha", &o->alpha);
        else if (arg_value(argc, argv, &i, "--T", &v, &bad)) bad = bad || !parse_float(v, 0.01, 1000, "--T", &o->T);
        else if (arg_value(argc, argv, &i, "--crop-pad", &v, &bad)) bad = bad || !parse_int(v, 0, 64, "--crop-pad", &o->aug.pad);
        else if (arg_flag(argv, i, "--no-flip")) o->aug.flip = 0;
        else if (arg_value(argc, argv, &i, "--seed", &v, &bad)) {
            int sd = 0;
            bad = bad || !parse_int(v, 0, 2147483647, "--seed", &sd);
            o->seed = (uint32_t)sd;
        }
        else if (arg_flag(argv, i, "--json")) *json = 1;
        else if (arg_flag(argv, i, "--quiet")) o->quiet = 1;
        else {
            fprintf(stderr, "lirf unlearn: unknown option %s (see lirf unlearn --help)\n", argv[i]);
            bad = 1;
        }
    }
    return bad ? 2 : -1;
}

static int run(lirf_ctx *ctx, const lirf_unlearn_opts *o, const char *const *s, lirf_data_kind kind,
               int image_size, int limit, const int32_t *dep, int ndep, json_t **out) {
    lirf_net *t0 = NULL;
    lirf_model_meta meta = {0};
    lirf_dataset ds = {0};
    lirf_unlearn_result res;
    int rc = 2;
    lirf_status st = lirf_checkpoint_load(ctx, s[0], &meta, &t0);
    if (st != LIRF_OK) {
        cli_error(st, "loading T0");
        goto done;
    }
    if (!load_dataset_cli(s[3], kind, 1, image_size ? image_size : meta.cfg.in_h, NULL, 0,
                          (size_t)limit, &ds))
        goto done;
    if (ds.c != meta.cfg.in_c || ds.h != meta.cfg.in_h || ds.w != meta.cfg.in_w ||
        ds.num_classes != meta.cfg.classes) {
        fprintf(stderr, "lirf: the data (%dx%dx%d, %d classes) does not fit T0 (%dx%dx%d, %d "
                        "classes)\n", ds.c, ds.h, ds.w, ds.num_classes, meta.cfg.in_c,
                meta.cfg.in_h, meta.cfg.in_w, meta.cfg.classes);
        goto done;
    }
    if ((st = lirf_unlearn(ctx, t0, &meta, &ds, dep, ndep, o, s[2], &res))) {
        cli_error(st, "unlearning");
        goto done;
    }
    const lirf_unlearner *u = lirf_unlearner_find(o->method);
    lirf_unlearn_opts oo = *o;
    lirf_unlearn_resolve(&oo, u, meta.cfg.in_h);
    *out = json_pack("{s:s,s:s,s:o,s:f,s:I,s:I,s:I,s:f}", "t0", s[0], "target", s[2], "options",
                     lirf_unlearn_opts_json(&oo, u), "seconds", res.seconds, "steps",
                     (json_int_t)res.steps, "forget_images", (json_int_t)res.forget_images,
                     "retain_images", (json_int_t)res.retain_images, "last_loss", res.last_loss);
    rc = *out ? 0 : 2;
done:
    lirf_dataset_free(&ds);
    lirf_net_destroy(t0);
    lirf_model_meta_free(&meta);
    return rc;
}

int cmd_unlearn(const char *device, int argc, char **argv) {
    lirf_unlearn_opts o;
    lirf_unlearn_opts_default(&o);
    const char *s[4] = {NULL, NULL, "unlearn-target.safetensors", NULL};
    lirf_data_kind kind = LIRF_DATA_AUTO;
    int image_size = 0, limit = 0, json = 0, list = 0;
    int rc = parse(argc, argv, &o, s, &kind, &image_size, &limit, &json, &list);
    if (rc >= 0) return rc;
    if (list) {
        for (int i = 0; lirf_unlearners[i]; i++) printf("%s\n", lirf_unlearners[i]->name);
        return 0;
    }
    if (!lirf_unlearner_find(o.method)) {
        fprintf(stderr, "lirf unlearn: unknown --method %s (lirf unlearn --list)\n", o.method);
        return 2;
    }
    if (!s[0] || !s[1]) {
        fprintf(stderr, "lirf unlearn: --model and --deposit-classes are required\n");
        return 2;
    }
    int32_t *dep = NULL;
    int ndep = 0;
    lirf_ctx *ctx = NULL;
    if (!parse_class_list(s[1], LIRF_MAX_CLASSES, &dep, &ndep)) return 2;
    if (cli_open(device, &ctx)) return free(dep), 2;
    json_t *out = NULL;
    rc = run(ctx, &o, s, kind, image_size, limit, dep, ndep, &out);
    if (rc == 0 && json) {
        char *t = json_dumps(out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (t) puts(t);
        free(t);
    } else if (rc == 0) {
        printf("target net: %s (%s)\n", s[2], o.method);
    }
    json_decref(out);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
