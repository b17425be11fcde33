/* lirf eval: accuracy of checkpoints (plain or recover nets), overall, per
 * class, Pre / Dep; with --original/--target/--recover, the paper's Table 1. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "lirf.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] eval --model PATH [options]\n"
        "       lirf [--device SPEC] eval --deposit-classes LIST --original T0 [--target T]\n"
        "                                 [--recover R] [--independent-pre P --independent-dep D]\n"
        "\n"
        "With --model: accuracy of one checkpoint (a trained net, a target net or a recover\n"
        "net from lirf withdraw) overall and per class, and Pre / Dep Acc when deposit\n"
        "classes are given. With --original (and the others): the paper's Table 1 —\n"
        "Pre Acc, Dep Acc, F = DepAcc(T0) - DepAcc(target), H-Mean = 2 Pre F / (Pre + F),\n"
        "Avg Acc — as a Markdown table (JSON with --json).\n"
        "\n"
        "  --model PATH            one checkpoint\n"
        "  --original PATH         T0                --target PATH     the target net\n"
        "  --recover PATH          a recover net (may be given twice: --recover LABEL=PATH)\n"
        "  --independent-pre PATH  a net trained only on the preservation classes\n"
        "  --independent-dep PATH  a net trained only on the deposit classes\n"
        "  --deposit-classes LIST  e.g. 0,1,2\n"
        "  --data PATH, --format F as for lirf train (default Fashion-MNIST)\n"
        "  --split test|train      which split (default test)\n"
        "  --batch N               (default 256)\n"
        "  --json                  JSON on stdout\n");
}


#define PCT(c, n) ((n) ? 100.0 * (double)(c) / (double)(n) : NAN)

static int eval_one(lirf_ctx *ctx, const char *path, const char *data, lirf_data_kind kind,
                    int train, int batch, lirf_dataset *ds, int *have_ds, int64_t **counts,
                    lirf_model_meta *meta_copy) {
    lirf_model *m = NULL;
    lirf_loader *ld = NULL;
    lirf_status st = lirf_model_open(ctx, path, &m);
    if (st != LIRF_OK) {
        char what[1200];
        snprintf(what, sizeof what, "loading %s", path);
        return cli_error(st, what), 0;
    }
    const lirf_model_meta *meta = lirf_model_meta_of(m);
    if (!*have_ds) {
        if (!load_dataset_cli(data, kind, train, meta->cfg.in_h, NULL, 0, 0, ds)) goto fail;
        *have_ds = 1;
    }
    if (ds->c != meta->cfg.in_c || ds->h != meta->cfg.in_h || ds->w != meta->cfg.in_w ||
        ds->num_classes != meta->cfg.classes) {
        fprintf(stderr, "lirf: the data (%dx%dx%d, %d classes) does not fit %s (%dx%dx%d, %d "
                        "classes)\n", ds->c, ds->h, ds->w, ds->num_classes, path, meta->cfg.in_c,
                meta->cfg.in_h, meta->cfg.in_w, meta->cfg.classes);
        goto fail;
    }
    if (meta_copy) {
        *meta_copy = *meta;
        meta_copy->class_names = NULL;
    }
    lirf_loader_opts lo = {.data = ds, .batch = batch};
    memcpy(lo.mean, meta->mean, sizeof lo.mean);
    memcpy(lo.std, meta->std, sizeof lo.std);
    *counts = calloc(2 * (size_t)meta->cfg.classes, sizeof **counts);
    if (!*counts) goto fail;
    if ((st = lirf_loader_create(ctx, &lo, &ld)) ||
        (st = lirf_eval_counts(ctx, ld, meta->cfg.classes, lirf_model_logits, m, *counts))) {
        cli_error(st, "evaluating");
        goto fail;
    }
    lirf_loader_destroy(ld);
    lirf_model_close(m);
    return 1;
fail:
    lirf_loader_destroy(ld);
    lirf_model_close(m);
    return 0;
}

/* Table 1 (Markdown or JSON) of scored columns — also used by lirf demo. */
int print_table1(FILE *out, const lirf_table1_col *cols, int ncols, int json) {
    if (json) {
        json_t *j = lirf_table1_json(cols, ncols);
        int ok = j && json_dumpf(j, out, LIRF_JSON_DUMP_FLAGS) == 0 && fputc('\n', out) != EOF;
        json_decref(j);
        if (!ok) fprintf(stderr, "lirf: cannot write Table 1 as JSON (out of memory or I/O)\n");
        return ok;
    }
    fprintf(out, "| metric |");
    for (int i = 0; i < ncols; i++) fprintf(out, " %s |", cols[i].label);
    fprintf(out, "\n|---|");
    for (int i = 0; i < ncols; i++) fprintf(out, "---:|");
    fprintf(out, "\n");
    const char *rows[] = {"Pre Acc", "Dep Acc", "F", "H-Mean", "Avg Acc"};
    for (int r = 0; r < 5; r++) {
        fprintf(out, "| %s |", rows[r]);
        for (int i = 0; i < ncols; i++) {
            const lirf_table1_col *c = &cols[i];
            double v = r == 0 ? c->pre : r == 1 ? c->dep : r == 2 ? c->F : r == 3 ? c->H : c->avg;
            if (isnan(v)) fprintf(out, " — |");
            else fprintf(out, " %.2f |", v);
        }
        fprintf(out, "\n");
    }
    return 1;
}

/* The counts (malloc'ed, freed by the caller even on failure) of the
 * checkpoint at path; *K gets its classes. */
static int eval_counts(lirf_ctx *ctx, const char *path, const char *data, lirf_data_kind kind,
                       int train, int batch, lirf_dataset *ds, int *have_ds, int64_t **counts,
                       int *K) {
    lirf_model_meta m;
    *counts = NULL;
    if (!eval_one(ctx, path, data, kind, train, batch, ds, have_ds, counts, &m)) return 0;
    *K = m.cfg.classes;
    return 1;
}

int eval_table(lirf_ctx *ctx, const char *data, lirf_data_kind kind, int train, int batch,
               const int32_t *dep, int ndep, lirf_table1_col *cols, int ncols, const char *ipre,
               const char *idep, FILE *out, int json) {
    lirf_dataset ds = {0};
    int have = 0, ok = 1, K = 0;
    lirf_status st;
    for (int i = 0; i < ncols && ok; i++) {
        int64_t *counts;
        ok = eval_counts(ctx, cols[i].path, data, kind, train, batch, &ds, &have, &counts, &K);
        if (ok && (st = lirf_table1_fill(&cols[i], counts, K, dep, ndep))) ok = 0, cli_error(st, "Table 1");
        free(counts);
    }
    lirf_table1_score(lirf_table1_find(cols, ncols, LIRF_COL_ORIGINAL), cols, ncols);
    lirf_table1_col all[12];
    int n = 0;
    if (ok && ipre && idep) {
        int64_t *a, *b = NULL;
        lirf_table1_col_init(&all[n], LIRF_COL_INDEPENDENT, "Independent", NULL);
        ok = eval_counts(ctx, ipre, data, kind, train, batch, &ds, &have, &a, &K) &&
             eval_counts(ctx, idep, data, kind, train, batch, &ds, &have, &b, &K);
        if (ok && (st = lirf_table1_independent(&all[n++], a, b, K, dep, ndep)))
            ok = 0, cli_error(st, "Table 1");
        free(a), free(b);
    }
    if (ok && out) {
        for (int i = 0; i < ncols && n < 12; i++) all[n++] = cols[i];
        ok = print_table1(out, all, n, json);
    }
    lirf_dataset_free(&ds);
    return ok;
}

/* lirf eval --model: one checkpoint's accuracy, overall, Pre / Dep, per class. */
static int eval_single(lirf_ctx *ctx, const char *model, const char *data, lirf_data_kind kind,
                       const char *split, int batch, const int32_t *dep, int ndep, int json) {
    lirf_dataset ds = {0};
    int have = 0, rc = 2;
    int64_t *counts = NULL;
    lirf_model_meta m;
    double pre, dp, avg;
    lirf_status st;
    if (!eval_one(ctx, model, data, kind, !strcmp(split, "train"), batch, &ds, &have, &counts, &m))
        goto done;
    int K = m.cfg.classes;
    if ((st = lirf_pre_dep_avg(counts, K, dep, ndep, &pre, &dp, &avg))) {
        cli_error(st, "evaluating");
        goto done;
    }
    if (json) {
        json_t *j = lirf_eval_report_json(model, counts, K, dep, ndep, ds.class_names);
        if (!j) {
            cli_error(LIRF_E_NOMEM, "the JSON report");
            goto done;
        }
        json_dumpf(j, stdout, LIRF_JSON_DUMP_FLAGS);
        putchar('\n');
        json_decref(j);
    } else {
        printf("%s on %s (%s split)\naccuracy %.2f%%\n", model, ds.source, split, avg);
        if (ndep) printf("Pre Acc %.2f%%  Dep Acc %.2f%%\n", pre, dp);
        printf("| class | name | accuracy | images |\n|---:|---|---:|---:|\n");
        for (int k = 0; k < K; k++)
            printf("| %d | %s | %.2f | %lld |\n", k, ds.class_names ? ds.class_names[k] : "",
                   PCT(counts[2 * k], counts[2 * k + 1]), (long long)counts[2 * k + 1]);
    }
    rc = 0;
done:
    free(counts);
    lirf_dataset_free(&ds);
    return rc;
}

int cmd_eval(const char *device, int argc, char **argv) {
    const char *model = NULL, *data = NULL, *dep_arg = NULL, *v, *split = "test";
    const char *original = NULL, *target = NULL, *ipre = NULL, *idep = NULL, *recover[4];
    int nrec = 0;
    lirf_data_kind kind = LIRF_DATA_AUTO;
    int batch = 256, json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--model", &model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--original", &original, &bad)) {}
        else if (arg_value(argc, argv, &i, "--target", &target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--recover", &v, &bad)) {
            if (nrec < 4) recover[nrec++] = v;
        }
        else if (arg_value(argc, argv, &i, "--independent-pre", &ipre, &bad)) {}
        else if (arg_value(argc, argv, &i, "--independent-dep", &idep, &bad)) {}
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
    if (strcmp(split, "test") && strcmp(split, "train")) {
        fprintf(stderr, "lirf eval: --split is test or train\n");
        return 2;
    }
    int table = original || target || nrec;
    if (!model && !table) {
        fprintf(stderr, "lirf eval: give --model PATH, or --original/--target/--recover\n");
        return 2;
    }
    if (table && (!dep_arg || !original)) {
        fprintf(stderr, "lirf eval: Table 1 needs --deposit-classes and --original\n");
        return 2;
    }
    if ((ipre != NULL) != (idep != NULL)) {
        fprintf(stderr, "lirf eval: give both --independent-pre and --independent-dep\n");
        return 2;
    }
    int32_t *dep = NULL;
    int ndep = 0;
    if (dep_arg && !parse_class_list(dep_arg, 100000, &dep, &ndep)) return 2;
    lirf_ctx *ctx;
    if (cli_open(device, &ctx)) {
        free(dep);
        return 2;
    }
    int rc = 2, train = !strcmp(split, "train");
    if (table) {
        lirf_table1_col cols[8];
        int n = 0;
        lirf_table1_col_init(&cols[n++], LIRF_COL_ORIGINAL, "Original", original);
        if (target) lirf_table1_col_init(&cols[n++], LIRF_COL_TARGET, "Deposit", target);
        for (int r = 0; r < nrec; r++) {
            const char *eq = strchr(recover[r], '=');
            lirf_table1_col_init(&cols[n], LIRF_COL_RECOVER, "Withdrawal", eq ? eq + 1 : recover[r]);
            if (eq) snprintf(cols[n].label, sizeof cols[n].label, "%.*s", (int)(eq - recover[r]), recover[r]);
            n++;
        }
        rc = eval_table(ctx, data, kind, train, batch, dep, ndep, cols, n, ipre, idep, stdout, json) ? 0 : 2;
    } else {
        rc = eval_single(ctx, model, data, kind, split, batch, dep, ndep, json);
    }
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
