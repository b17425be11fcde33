/* Table 1 of checkpoint files: each evaluated on one split, the columns
 * filled and scored by the protocol (protocol.h), and written out. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"

static lirf_status count(lirf_ctx *ctx, lirf_model *m, const lirf_table1_opts *o,
                         const lirf_dataset *ds, int64_t *counts) {
    const lirf_model_meta *meta = lirf_model_meta_of(m);
    lirf_loader_opts lo = {.data = ds, .batch = o->batch};
    memcpy(lo.mean, meta->mean, sizeof lo.mean);
    memcpy(lo.std, meta->std, sizeof lo.std);
    lirf_loader *ld = NULL;
    lirf_status st = lirf_loader_create(ctx, &lo, &ld);
    if (!st) st = lirf_eval_counts(ctx, ld, meta->cfg.classes, lirf_model_logits, m, counts);
    lirf_loader_destroy(ld);
    return lirf_error_context(st, "evaluating");
}

lirf_status lirf_eval_checkpoint(lirf_ctx *ctx, const char *path, const lirf_table1_opts *o,
                                 lirf_dataset *ds, int64_t **counts, int *classes) {
    if (!ctx || !path || !o || !ds || !counts || !classes)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_eval_checkpoint: NULL argument");
    *counts = NULL;
    lirf_model *m = NULL;
    LIRF_TRY(lirf_error_context(lirf_model_open(ctx, path, &m), "loading %s", path));
    const lirf_model_meta *meta = lirf_model_meta_of(m);
    lirf_status st = LIRF_OK;
    if (!ds->n) st = lirf_load_split(o->data, o->kind, o->train, meta->cfg.in_h, NULL, 0, 0, ds);
    if (!st) st = lirf_data_fits(ds, meta, path);
    if (!st && !(*counts = calloc(2 * (size_t)meta->cfg.classes, sizeof **counts)))
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!st) st = count(ctx, m, o, ds, *counts);
    if (!st) *classes = meta->cfg.classes;
    lirf_model_close(m);
    return st;
}

/* The column from the counts of its checkpoint. */
static lirf_status fill(lirf_ctx *ctx, const lirf_table1_opts *o, lirf_dataset *ds,
                        lirf_table1_col *c) {
    int64_t *counts = NULL;
    int K = 0;
    lirf_status st = lirf_eval_checkpoint(ctx, c->path, o, ds, &counts, &K);
    if (!st) st = lirf_error_context(lirf_table1_fill(c, counts, K, o->dep, o->ndep), "Table 1");
    free(counts);
    return st;
}

/* c's argmax agreement with the checkpoint ref (T0) on ds: both must read
 * their input the same way. */
static lirf_status agreement(lirf_ctx *ctx, const lirf_table1_opts *o, const lirf_dataset *ds,
                             const char *ref, lirf_table1_col *c) {
    lirf_model *a = NULL, *b = NULL;
    lirf_loader *ld = NULL;
    int64_t agree = 0, total = 0;
    lirf_status st = lirf_model_open(ctx, ref, &a);
    if (!st) st = lirf_model_open(ctx, c->path, &b);
    const lirf_model_meta *ma = st ? NULL : lirf_model_meta_of(a), *mb = st ? NULL : lirf_model_meta_of(b);
    if (!st && (memcmp(ma->mean, mb->mean, sizeof ma->mean) || memcmp(ma->std, mb->std, sizeof ma->std) ||
                ma->cfg.classes != mb->cfg.classes))
        st = LIRF_FAIL(LIRF_E_INVALID, "%s and %s read their input differently (preprocessing or "
                       "classes): no argmax agreement", ref, c->path);
    lirf_loader_opts lo = {.data = ds, .batch = o->batch};
    if (!st) {
        memcpy(lo.mean, ma->mean, sizeof lo.mean);
        memcpy(lo.std, ma->std, sizeof lo.std);
        st = lirf_loader_create(ctx, &lo, &ld);
    }
    if (!st)
        st = lirf_eval_agreement(ctx, ld, ma->cfg.classes, lirf_model_logits, a, lirf_model_logits,
                                 b, &agree, &total);
    if (!st) c->agree = lirf_pct(agree, total);
    lirf_loader_destroy(ld);
    lirf_model_close(a), lirf_model_close(b);
    return lirf_error_context(st, "argmax agreement with T0");
}

static lirf_status independent(lirf_ctx *ctx, const lirf_table1_opts *o, lirf_dataset *ds,
                               lirf_table1_col *c) {
    int64_t *a = NULL, *b = NULL;
    int K = 0;
    lirf_table1_col_init(c, LIRF_COL_INDEPENDENT, "Independent", NULL);
    lirf_status st = lirf_eval_checkpoint(ctx, o->independent_pre, o, ds, &a, &K);
    if (!st) st = lirf_eval_checkpoint(ctx, o->independent_dep, o, ds, &b, &K);
    if (!st)
        st = lirf_error_context(lirf_table1_independent(c, a, b, K, o->dep, o->ndep), "Table 1");
    free(a), free(b);
    return st;
}

lirf_status lirf_table1_eval(lirf_ctx *ctx, const lirf_table1_opts *o, lirf_table1_col *cols,
                             int ncols, lirf_table1_col *out, int *nout) {
    if (!ctx || !o || !cols || !out || !nout || ncols < 1)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_table1_eval: NULL argument");
    if ((o->independent_pre != NULL) != (o->independent_dep != NULL))
        return LIRF_FAIL(LIRF_E_INVALID, "the Independent column needs both independent nets");
    lirf_dataset ds = {0};
    lirf_status st = LIRF_OK;
    *nout = 0;
    for (int i = 0; i < ncols && !st; i++) st = fill(ctx, o, &ds, &cols[i]);
    lirf_table1_col *orig = lirf_table1_find(cols, ncols, LIRF_COL_ORIGINAL);
    lirf_table1_score(orig, cols, ncols);
    for (int i = 0; i < ncols && !st && o->agreement && orig; i++)
        if (cols[i].role != LIRF_COL_ORIGINAL && cols[i].path)
            st = agreement(ctx, o, &ds, orig->path, &cols[i]);
    int n = 0;
    if (!st && o->independent_pre) st = independent(ctx, o, &ds, &out[n++]);
    for (int i = 0; i < ncols && !st; i++) out[n++] = cols[i];
    if (!st) *nout = n;
    lirf_dataset_free(&ds);
    return st;
}

lirf_status lirf_table1_write_md(FILE *f, const lirf_table1_col *cols, int n) {
    fprintf(f, "| metric |");
    for (int i = 0; i < n; i++) fprintf(f, " %s |", cols[i].label);
    fprintf(f, "\n|---|");
    for (int i = 0; i < n; i++) fprintf(f, "---:|");
    fprintf(f, "\n");
    static const char *const rows[] = {"Pre Acc", "Dep Acc", "F", "H-Mean", "Avg Acc",
                                       "argmax = T0's (%)", "archive bytes"};
    int agree = 0, bytes = 0;
    for (int i = 0; i < n; i++) agree |= !isnan(cols[i].agree), bytes |= cols[i].bytes > 0;
    for (int r = 0; r < 7; r++) {
        if ((r == 5 && !agree) || (r == 6 && !bytes)) continue;
        fprintf(f, "| %s |", rows[r]);
        for (int i = 0; i < n; i++) {
            const lirf_table1_col *c = &cols[i];
            double v = r == 0 ? c->pre : r == 1 ? c->dep : r == 2 ? c->F : r == 3 ? c->H
                     : r == 4 ? c->avg : r == 5 ? c->agree : c->bytes > 0 ? (double)c->bytes : NAN;
            if (isnan(v)) fprintf(f, " — |");
            else if (r == 6) fprintf(f, " %.0f |", v);
            else fprintf(f, " %.2f |", v);
        }
        fprintf(f, "\n");
    }
    return ferror(f) ? LIRF_FAIL(LIRF_E_IO, "cannot write Table 1") : LIRF_OK;
}

lirf_status lirf_table1_write_json(FILE *f, const lirf_table1_col *cols, int n) {
    json_t *j = lirf_table1_json(cols, n);
    int ok = j && json_dumpf(j, f, LIRF_JSON_DUMP_FLAGS) == 0 && fputc('\n', f) != EOF;
    json_decref(j);
    return ok ? LIRF_OK : LIRF_FAIL(LIRF_E_IO, "cannot write Table 1 as JSON (out of memory or I/O)");
}
