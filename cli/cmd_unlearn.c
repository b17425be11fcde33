/* lirf unlearn: the unlearning baselines (model/baselines/unlearn.h) on a checkpoint. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

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
        "  --model PATH            T0 (a net from lirf train or lirf import); a target or\n"
        "                          recover net is refused, naming its lirf_kind\n"
        "  --allow-kind KIND       accept a T0 of lirf_kind KIND all the same (target, recover)\n"
        "  --deposit-classes LIST  the classes to forget, e.g. 0,1,2\n"
        "  --target PATH           the target net (default unlearn-target.safetensors)\n"
        "  --data PATH, --format F, --image-size N, --limit N   training data, as lirf train\n"
        "                          (default Fashion-MNIST); every class is read\n"
        "  --epochs N --lr X       (default: the method's)\n"
        "  --batch N (128) --momentum X (0.9) --wd X (5e-4) --seed N (1)\n"
        "  --crop-pad N (4; 2 below 32 px) --no-flip   on-device augmentation\n"
        "  --alpha X (0.5) --T X (4)    scrub: alpha KD + (1 - alpha) CE, KD temperature\n"
        "  --json                  the result (with --list: the methods) as one JSON document on\n"
        "                          stdout (docs/json.md)\n"
        "  --quiet                 no progress output\n");
}

typedef struct {
    const char *dep_arg;
    int json, list;
} unlearn_cli;

/* The options into j and c; 0 to go on, -1 after --help, else 2. */
static int parse(int argc, char **argv, lirf_unlearn_file_job *j, unlearn_cli *c) {
    lirf_unlearn_opts *o = &j->o;
    int bad = 0;
    const char *v;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), -1;
        else if (arg_flag(argv, i, "--list")) c->list = 1;
        else if (arg_value(argc, argv, &i, "--method", &o->method, &bad)) {}
        else if (arg_value(argc, argv, &i, "--model", &j->model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--allow-kind", &j->allow_kind, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &c->dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--target", &j->target_out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &j->data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &j->kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &j->image_size);
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--limit", &j->limit);
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
        else if (arg_flag(argv, i, "--json")) c->json = 1;
        else if (arg_flag(argv, i, "--quiet")) o->quiet = 1;
        else bad = unknown_option("unlearn", argv[i]);
    }
    return bad ? 2 : 0;
}

int cmd_unlearn(const char *device, int argc, char **argv) {
    lirf_unlearn_file_job j = {.target_out = "unlearn-target.safetensors"};
    lirf_unlearn_opts_default(&j.o);
    unlearn_cli c = {0};
    int rc = parse(argc, argv, &j, &c);
    if (rc) return rc < 0 ? 0 : rc;
    if (c.list && c.json) {
        json_t *names = json_array();
        for (int i = 0; lirf_unlearners[i]; i++)
            json_array_append_new(names, json_string(lirf_unlearners[i]->name));
        return print_json(json_pack("{s:o}", "methods", names));
    }
    if (c.list) {
        for (int i = 0; lirf_unlearners[i]; i++) printf("%s\n", lirf_unlearners[i]->name);
        return 0;
    }
    if (!lirf_unlearner_find(j.o.method)) {
        fprintf(stderr, "lirf unlearn: unknown --method %s (lirf unlearn --list)\n", j.o.method);
        return 2;
    }
    if (!j.model || !c.dep_arg) {
        fprintf(stderr, "lirf unlearn: --model and --deposit-classes are required\n");
        return 2;
    }
    int32_t *dep = NULL;
    lirf_ctx *ctx = NULL;
    if (!parse_class_list(c.dep_arg, LIRF_MAX_CLASSES, &dep, &j.ndep)) return 2;
    j.dep = dep;
    if (cli_open(device, &ctx)) return free(dep), 2;
    lirf_unlearn_file_report r;
    lirf_status st = lirf_unlearn_file_run(ctx, &j, &r);
    if (st) rc = cli_error(st, "unlearn");
    else if (c.json) rc = print_json(lirf_unlearn_report_json(&j, &r));
    else printf("target net: %s (%s)\n", j.target_out, j.o.method);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
