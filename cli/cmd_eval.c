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

static void summarise(column *c, int K, const int32_t *dep, int ndep) {
    int64_t ca = 0, na = 0, cd = 0, nd = 0;
    for (int k = 0; k < K; k++) {
        ca += c->counts[2 * k], na += c->counts[2 * k + 1];
        for (int j = 0; j < ndep; j++)
            if (dep[j] == k) cd += c->counts[2 * k], nd += c->counts[2 * k + 1];
    }
    c->avg = PCT(ca, na), c->dep = PCT(cd, nd), c->pre = PCT(ca - cd, na - nd);
    c->has = 1;
}

/* Table 1 (Markdown or JSON) — also used by lirf demo. */
void print_table1(FILE *out, column *cols, int ncols, int json) {
    double dep_t0 = NAN;
    for (int i = 0; i < ncols; i++)
        if (!strcmp(cols[i].label, "Original")) dep_t0 = cols[i].dep;
    if (json) {
        fprintf(out, "[");
        for (int i = 0; i < ncols; i++) {
            column *c = &cols[i];
            fprintf(out, "%s{\"column\":\"%s\",\"path\":\"%s\",\"pre_acc\":%.2f,\"dep_acc\":%.2f",
                    i ? "," : "", c->label, c->path ? c->path : "", c->pre, c->dep);
            if (!isnan(c->avg)) fprintf(out, ",\"avg_acc\":%.2f", c->avg);
            if (!strncmp(c->label, "Deposit", 7) && !isnan(dep_t0)) {
                double F = dep_t0 - c->dep, H = 2 * c->pre * F / (c->pre + F);
                fprintf(out, ",\"F\":%.2f,\"H_mean\":%.2f", F, H);
            }
            fprintf(out, "}");
        }
        fprintf(out, "]\n");
        return;
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
            column *c = &cols[i];
            double v = NAN;
            if (r == 0) v = c->pre;
            else if (r == 1) v = c->dep;
            else if (r == 4) v = c->avg;
            else if (!strncmp(c->label, "Deposit", 7) && !isnan(dep_t0)) {
                double F = dep_t0 - c->dep;
                v = r == 2 ? F : 2 * c->pre * F / (c->pre + F);
            }
            if (isnan(v)) fprintf(out, " — |");
            else fprintf(out, " %.2f |", v);
        }
        fprintf(out, "\n");
    }
}

int eval_table(lirf_ctx *ctx, const char *data, lirf_data_kind kind, int train, int batch,
               const int32_t *dep, int ndep, column *cols, int ncols, const char *ipre,
               const char *idep, FILE *out, int json) {
    lirf_dataset ds = {0};
    int have = 0, ok = 1, K = 0;
    column ind = {.label = "Independent"};
    for (int i = 0; i < ncols && ok; i++) {
        lirf_model_meta m;
        ok = eval_one(ctx, cols[i].path, data, kind, train, batch, &ds, &have, &cols[i].counts, &m);
        if (ok) K = m.cfg.classes, summarise(&cols[i], K, dep, ndep);
    }
    if (ok && ipre && idep) {
        column a = {0}, b = {0};
        ok = eval_one(ctx, ipre, data, kind, train, batch, &ds, &have, &a.counts, NULL) &&
             eval_one(ctx, idep, data, kind, train, batch, &ds, &have, &b.counts, NULL);
        if (ok) {
            summarise(&a, K, dep, ndep), summarise(&b, K, dep, ndep);
            ind.pre = a.pre, ind.dep = b.dep, ind.avg = NAN, ind.has = 1;
        }
        free(a.counts), free(b.counts);
    }
    if (ok && out) {
        column all[12];
        int n = 0;
        if (ind.has) all[n++] = ind;
        for (int i = 0; i < ncols && n < 12; i++) all[n++] = cols[i];
        print_table1(out, all, n, json);
    }
    lirf_dataset_free(&ds);
    return ok;
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
        column cols[8];
        int n = 0;
        memset(cols, 0, sizeof cols);
        snprintf(cols[n].label, sizeof cols[n].label, "Original"), cols[n++].path = original;
        if (target) snprintf(cols[n].label, sizeof cols[n].label, "Deposit"), cols[n++].path = target;
        for (int r = 0; r < nrec; r++) {
            const char *eq = strchr(recover[r], '=');
            if (eq) {
                snprintf(cols[n].label, sizeof cols[n].label, "%.*s", (int)(eq - recover[r]), recover[r]);
                cols[n++].path = eq + 1;
            } else {
                snprintf(cols[n].label, sizeof cols[n].label, "Withdrawal");
                cols[n++].path = recover[r];
            }
        }
        rc = eval_table(ctx, data, kind, train, batch, dep, ndep, cols, n, ipre, idep, stdout, json) ? 0 : 2;
        for (int i = 0; i < n; i++) free(cols[i].counts);
    } else {
        lirf_dataset ds = {0};
        int have = 0;
        column c = {.path = model};
        lirf_model_meta m;
        if (eval_one(ctx, model, data, kind, train, batch, &ds, &have, &c.counts, &m)) {
            int K = m.cfg.classes;
            for (int j = 0; j < ndep; j++)
                if (dep[j] >= K) {
                    fprintf(stderr, "lirf: deposit class %d outside the model's %d classes\n", dep[j], K);
                    goto single_done;
                }
            summarise(&c, K, dep, ndep);
            if (json) {
                printf("{\"model\":\"%s\",\"accuracy\":%.2f", model, c.avg);
                if (ndep) printf(",\"pre_acc\":%.2f,\"dep_acc\":%.2f", c.pre, c.dep);
                printf(",\"per_class\":[");
                for (int k = 0; k < K; k++)
                    printf("%s{\"class\":%d,\"name\":\"%s\",\"accuracy\":%.2f,\"samples\":%lld}",
                           k ? "," : "", k, ds.class_names ? ds.class_names[k] : "",
                           PCT(c.counts[2 * k], c.counts[2 * k + 1]), (long long)c.counts[2 * k + 1]);
                printf("]}\n");
            } else {
                printf("%s on %s (%s split)\naccuracy %.2f%%\n", model, ds.source, split, c.avg);
                if (ndep) printf("Pre Acc %.2f%%  Dep Acc %.2f%%\n", c.pre, c.dep);
                printf("| class | name | accuracy | images |\n|---:|---|---:|---:|\n");
                for (int k = 0; k < K; k++)
                    printf("| %d | %s | %.2f | %lld |\n", k, ds.class_names ? ds.class_names[k] : "",
                           PCT(c.counts[2 * k], c.counts[2 * k + 1]), (long long)c.counts[2 * k + 1]);
            }
            rc = 0;
        }
    single_done:
        free(c.counts);
        lirf_dataset_free(&ds);
    }
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
