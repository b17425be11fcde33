/* lirf eval: accuracy of checkpoints (plain or recover nets), overall, per
 * class, Pre / Dep; with --original/--target/--recover, the paper's Table 1
 * (lirf_table1_eval, model/experiments/). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] eval --model PATH [options]\n"
        "       lirf [--device SPEC] eval --deposit-classes LIST --original T0 [--target T]\n"
        "                                 [--recover R] [--independent-pre P --independent-dep D]\n"
        "       lirf [--device SPEC] eval --model PATH --deposit-samples FILE [--json]\n"
        "\n"
        "With --model: accuracy of one checkpoint (a trained net, a target net or a recover\n"
        "net from lirf withdraw) overall and per class, and Pre / Dep Acc when deposit\n"
        "classes are given. With --original (and the others): the paper's Table 1 —\n"
        "Pre Acc, Dep Acc, F = DepAcc(T0) - DepAcc(target), H-Mean = 2 Pre F / (Pre + F),\n"
        "Avg Acc — as a Markdown table (JSON with --json).\n"
        "With --deposit-samples (a sample-level deposit's list, lirf deposit): the model's\n"
        "accuracy and mean cross-entropy on (a) the listed training samples, (b) the other\n"
        "training samples of their classes, (c) the test samples of their classes, (d) the\n"
        "test samples of the other classes, the membership AUC: how well a lower loss\n"
        "tells (a) from (c) (0.5: not at all), and the same of (a) against (b), below 0.5\n"
        "when the listed samples are forgotten more than the rest of their classes\n"
        "(docs/samples.md). A model whose metadata names another sample list is refused.\n"
        "\n"
        "  --model PATH            one checkpoint\n"
        "  --original PATH         T0                --target PATH     the target net\n"
        "  --recover PATH          a recover net; up to 4 (a fifth is an error), each may be\n"
        "                          LABEL=PATH\n"
        "  --agreement             Table 1 also gives each net's argmax agreement with T0\n"
        "                          (the share of the split whose prediction is T0's)\n"
        "  --independent-pre PATH  a net trained only on the preservation classes\n"
        "  --independent-dep PATH  a net trained only on the deposit classes\n"
        "  --deposit-classes LIST  e.g. 0,1,2\n"
        "  --deposit-samples FILE  a sample list (with --model only; reads both splits)\n"
        "  --data PATH, --format F as for lirf train (default Fashion-MNIST)\n"
        "  --split test|train      which split (default test)\n"
        "  --batch N               (default 256)\n"
        "  --json                  JSON on stdout\n");
}


#define MAX_RECOVER 4

typedef struct {
    const char *model, *dep_arg, *split, *original, *target, *recover[MAX_RECOVER];
    int nrec, json;
    const char *samples;          /* --deposit-samples */
    int split_set;
    lirf_table1_opts t;
} eval_cli;

/* The options into c; 0 to go on, -1 after --help, else 2. */
static int parse(int argc, char **argv, eval_cli *c) {
    const char *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), -1;
        else if (arg_value(argc, argv, &i, "--model", &c->model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--original", &c->original, &bad)) {}
        else if (arg_value(argc, argv, &i, "--target", &c->target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--recover", &v, &bad)) {
            if (bad) {
            } else if (c->nrec == MAX_RECOVER) { /* never dropped: an error */
                fprintf(stderr, "lirf eval: at most %d --recover nets (Table 1's Withdrawal "
                                "columns); --recover %s is one too many\n", MAX_RECOVER, v);
                bad = 1;
            } else c->recover[c->nrec++] = v;
        }
        else if (arg_flag(argv, i, "--agreement")) c->t.agreement = 1;
        else if (arg_value(argc, argv, &i, "--independent-pre", &c->t.independent_pre, &bad)) {}
        else if (arg_value(argc, argv, &i, "--independent-dep", &c->t.independent_dep, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &c->t.data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &c->t.kind);
        else if (arg_value(argc, argv, &i, "--split", &c->split, &bad)) {
            bad = bad || !parse_choice(c->split, "--split", "test", "train", &c->t.train);
            c->split_set = 1;
        }
        else if (arg_value(argc, argv, &i, "--deposit-samples", &c->samples, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &c->dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 1, 65536, "--batch", &c->t.batch);
        else if (arg_flag(argv, i, "--json")) c->json = 1;
        else bad = unknown_option("eval", argv[i]);
    }
    return bad ? 2 : 0;
}

static int check(const eval_cli *c) {
    int table = c->original || c->target || c->nrec;
    const char *msg = NULL;
    if (!c->model && !table) msg = "give --model PATH, or --original/--target/--recover";
    else if (table && (!c->dep_arg || !c->original))
        msg = "Table 1 needs --deposit-classes and --original";
    else if ((c->t.independent_pre != NULL) != (c->t.independent_dep != NULL))
        msg = "give both --independent-pre and --independent-dep";
    else if (c->samples && (table || !c->model || c->dep_arg || c->split_set ||
                            c->t.independent_pre))
        msg = "--deposit-samples goes with --model alone (not with Table 1's options, "
              "--deposit-classes or --split: it reads both splits)";
    if (msg) fprintf(stderr, "lirf eval: %s\n", msg);
    return msg ? 2 : 0;
}

static int table1(lirf_ctx *ctx, eval_cli *c) {
    lirf_table1_col cols[2 + MAX_RECOVER], out[3 + MAX_RECOVER];
    int n = 0, nout = 0;
    lirf_table1_col_init(&cols[n++], LIRF_COL_ORIGINAL, "Original", c->original);
    if (c->target) lirf_table1_col_init(&cols[n++], LIRF_COL_TARGET, "Deposit", c->target);
    for (int r = 0; r < c->nrec; r++) {
        const char *eq = strchr(c->recover[r], '=');
        lirf_table1_col_init(&cols[n], LIRF_COL_RECOVER, "Withdrawal", eq ? eq + 1 : c->recover[r]);
        if (eq) snprintf(cols[n].label, sizeof cols[n].label, "%.*s", (int)(eq - c->recover[r]), c->recover[r]);
        n++;
    }
    lirf_status st = lirf_table1_eval(ctx, &c->t, cols, n, out, &nout);
    if (!st) st = c->json ? lirf_table1_write_json(stdout, out, nout) : lirf_table1_write_md(stdout, out, nout);
    return st ? cli_error(st, "Table 1") : 0;
}

/* --model: one checkpoint's accuracy, overall, Pre / Dep, per class. */
static int single(lirf_ctx *ctx, const eval_cli *c) {
    lirf_dataset ds = {0};
    int64_t *counts = NULL;
    int K = 0;
    double pre, dp, avg;
    const lirf_table1_opts *t = &c->t;
    lirf_status st = lirf_eval_checkpoint(ctx, c->model, t, &ds, &counts, &K);
    if (!st) st = lirf_pre_dep_avg(counts, K, t->dep, t->ndep, &pre, &dp, &avg);
    int rc = st ? cli_error(st, "eval") : 0;
    if (!rc && c->json) {
        rc = print_json_line(lirf_eval_report_json(c->model, counts, K, t->dep, t->ndep, ds.class_names));
    } else if (!rc) {
        printf("%s on %s (%s split)\naccuracy %.2f%%\n", c->model, ds.source, c->split, avg);
        if (t->ndep) printf("Pre Acc %.2f%%  Dep Acc %.2f%%\n", pre, dp);
        printf("| class | name | accuracy | images |\n|---:|---|---:|---:|\n");
        for (int k = 0; k < K; k++) {
            int64_t n = counts[2 * k + 1];
            printf("| %d | %s | %.2f | %lld |\n", k, ds.class_names ? ds.class_names[k] : "",
                   lirf_pct(counts[2 * k], n), (long long)n);
        }
    }
    free(counts);
    lirf_dataset_free(&ds);
    return rc;
}

/* --model with --deposit-samples: the four groups of a sample-level deposit. */
static int samples(lirf_ctx *ctx, const eval_cli *c) {
    static const char *const rows[LIRF_SAMPLES_GROUPS] = {
        "deposited (training split)", "other training samples of their classes",
        "test samples of their classes", "test samples of the other classes"};
    lirf_samples_opts o = {.data = c->t.data, .kind = c->t.kind, .batch = c->t.batch,
                           .samples = c->samples};
    lirf_samples_report *r = calloc(1, sizeof *r);
    if (!r) return fprintf(stderr, "lirf eval: out of memory\n"), 2;
    lirf_status st = lirf_samples_eval(ctx, c->model, &o, r);
    int rc = st ? cli_error(st, "eval") : 0;
    if (!rc && c->json) rc = print_json_line(lirf_samples_report_json(c->model, &o, r));
    else if (!rc) {
        printf("%s: %zu deposit samples from %s (SHA-256 %s%s), classes", c->model,
               r->deposit_samples, c->samples, r->sha256,
               r->model_marked ? ", the model's deposit" : "");
        for (int k = 0; k < r->nclasses; k++) printf("%s%d", k ? "," : " ", (int)r->classes[k]);
        printf("\n| samples | accuracy | images | mean loss |\n|---|---:|---:|---:|\n");
        for (int g = 0; g < LIRF_SAMPLES_GROUPS; g++)
            printf("| %s | %.2f | %lld | %.4f |\n", rows[g], r->acc[g], (long long)r->total[g],
                   r->mean_loss[g]);
        printf("membership AUC (lower loss: deposited rather than test of their classes): %.4f\n"
               "rest AUC (lower loss: deposited rather than other training samples of their "
               "classes): %.4f\n", r->mia_auc, r->rest_auc);
    }
    free(r);
    return rc;
}

int cmd_eval(const char *device, int argc, char **argv) {
    eval_cli c = {.split = "test", .t = {.batch = 256}};
    int rc = parse(argc, argv, &c);
    if (!rc) rc = check(&c);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *dep = NULL;
    if (c.dep_arg && !parse_class_list(c.dep_arg, 100000, &dep, &c.t.ndep)) return 2;
    c.t.dep = dep;
    lirf_ctx *ctx;
    if (cli_open(device, &ctx)) return free(dep), 2;
    rc = c.samples ? samples(ctx, &c)
         : c.model && !(c.original || c.target || c.nrec) ? single(ctx, &c) : table1(ctx, &c);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
