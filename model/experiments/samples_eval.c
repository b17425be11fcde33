/* Sample-level deposits: D_r from a list of training samples, the list's
 * mark in the target's metadata, and lirf eval --deposit-samples (accuracy
 * and loss on the deposited samples, the rest of their classes in both
 * splits, the other classes, and a loss-based membership AUC). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments.h"
#include "fileutil.h"

lirf_status lirf_load_sample_deposit(const char *path, lirf_data_kind kind, int image_size,
                                     const char *list_path, lirf_sample_list *list,
                                     lirf_dataset *ds, int32_t *classes, int *nclasses) {
    if (!list_path || !list || !ds || !classes || !nclasses)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_load_sample_deposit: NULL argument");
    lirf_dataset all = {0};
    LIRF_TRY(lirf_load_split(path, kind, 1, image_size, NULL, 0, 0, &all));
    lirf_status st = LIRF_OK;
    if (all.num_classes > LIRF_MAX_CLASSES)
        st = LIRF_FAIL(LIRF_E_INVALID, "%s: %d classes, more than lirf takes (%d)", all.source,
                       all.num_classes, LIRF_MAX_CLASSES);
    if (!st) st = lirf_sample_list_load(list_path, (size_t)all.n, list);
    if (!st) st = lirf_dataset_classes_of(&all, list->idx, list->n, classes, nclasses);
    if (!st && *nclasses >= all.num_classes)
        st = LIRF_FAIL(LIRF_E_INVALID,
                       "the %zu samples of %s cover every class (%d): a deposit needs at least "
                       "one class outside it (the preservation distillation L_kp learns from "
                       "the other classes' outputs)", list->n, list_path, all.num_classes);
    if (!st) st = lirf_dataset_subset(&all, list->idx, list->n, ds);
    lirf_dataset_free(&all);
    if (st) lirf_sample_list_free(list);
    return lirf_error_context(st, "--deposit-samples");
}

lirf_status lirf_mark_sample_deposit(const char *path, const lirf_sample_list *list) {
    lirf_safetensors st = {0};
    LIRF_TRY(lirf_st_read(path, &st));
    const char **keys = calloc(st.meta_count + 2, sizeof *keys);
    const char **vals = calloc(st.meta_count + 2, sizeof *vals);
    size_t m = 0;
    char count[32];
    snprintf(count, sizeof count, "%zu", list->n);
    lirf_status s = keys && vals ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; !s && i < st.meta_count; i++)
        if (strcmp(st.meta_keys[i], "deposit_samples") &&
            strcmp(st.meta_keys[i], "deposit_samples_sha256"))
            keys[m] = st.meta_keys[i], vals[m++] = st.meta_vals[i];
    if (!s) {
        keys[m] = "deposit_samples", vals[m++] = count;
        keys[m] = "deposit_samples_sha256", vals[m++] = list->sha256;
        s = lirf_st_write(path, st.tensors, st.count, keys, vals, m);
    }
    free(keys), free(vals);
    lirf_st_free(&st);
    return lirf_error_context(s, "recording the sample list in %s", path);
}

/* ---- the arithmetic ------------------------------------------------------ */
typedef struct {
    double v;
    int b; /* 1: from b */
} scored;

static int cmp_scored(const void *x, const void *y) {
    double a = ((const scored *)x)->v, b = ((const scored *)y)->v;
    if (isnan(a) || isnan(b)) return isnan(a) - isnan(b); /* NaN last */
    return (a > b) - (a < b);
}

double lirf_auc_lower(const double *a, size_t na, const double *b, size_t nb) {
    if (!na || !nb || !a || !b) return NAN;
    scored *s = malloc((na + nb) * sizeof *s);
    if (!s) return NAN;
    for (size_t i = 0; i < na; i++) s[i] = (scored){a[i], 0};
    for (size_t i = 0; i < nb; i++) s[na + i] = (scored){b[i], 1};
    size_t n = na + nb;
    qsort(s, n, sizeof *s, cmp_scored);
    /* from the top: each tie group's a's against the b's above it and, half, beside it */
    double pairs = 0, b_above = 0;
    for (size_t hi = n; hi > 0;) {
        size_t lo = hi - 1;
        while (lo > 0 && cmp_scored(&s[lo - 1], &s[hi - 1]) == 0) lo--;
        double ca = 0, cb = 0;
        for (size_t i = lo; i < hi; i++) s[i].b ? cb++ : ca++;
        pairs += ca * (b_above + 0.5 * cb);
        b_above += cb;
        hi = lo;
    }
    free(s);
    return pairs / ((double)na * (double)nb);
}

/* Group g of r from its sums. */
static void close_group(lirf_samples_report *r, int g, double loss_sum) {
    r->acc[g] = lirf_pct(r->correct[g], r->total[g]);
    r->mean_loss[g] = r->total[g] ? loss_sum / (double)r->total[g] : NAN;
}

static void add(lirf_samples_report *r, int g, const lirf_sample_outcome *o, double *sum) {
    r->total[g]++;
    r->correct[g] += o->pred == o->label;
    sum[g] += o->loss;
}

lirf_status lirf_samples_score(const lirf_sample_outcome *train, const uint8_t *listed,
                               size_t ntrain, const lirf_sample_outcome *test, size_t ntest,
                               const int32_t *classes, int nclasses, lirf_samples_report *r) {
    if (!r || (ntrain && (!train || !listed)) || (ntest && !test) || (nclasses && !classes))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_samples_score: NULL argument");
    double sum[LIRF_SAMPLES_GROUPS] = {0};
    double *la = malloc((ntrain + 1) * sizeof *la), *lb = malloc((ntrain + 1) * sizeof *lb);
    double *lc = malloc((ntest + 1) * sizeof *lc);
    if (!la || !lb || !lc) {
        free(la), free(lb), free(lc);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    memset(r->correct, 0, sizeof r->correct);
    memset(r->total, 0, sizeof r->total);
    size_t na = 0, nb = 0, nc = 0;
    for (size_t i = 0; i < ntrain; i++) {
        int same = 0;
        for (int k = 0; k < nclasses && !same; k++) same = train[i].label == classes[k];
        if (listed[i]) add(r, LIRF_SAMPLES_DEPOSITED, &train[i], sum), la[na++] = train[i].loss;
        else if (same) add(r, LIRF_SAMPLES_TRAIN_REST, &train[i], sum), lb[nb++] = train[i].loss;
    }
    for (size_t i = 0; i < ntest; i++) {
        int same = 0;
        for (int k = 0; k < nclasses && !same; k++) same = test[i].label == classes[k];
        add(r, same ? LIRF_SAMPLES_TEST_SAME : LIRF_SAMPLES_TEST_OTHER, &test[i], sum);
        if (same) lc[nc++] = test[i].loss;
    }
    for (int g = 0; g < LIRF_SAMPLES_GROUPS; g++) close_group(r, g, sum[g]);
    r->mia_auc = lirf_auc_lower(la, na, lc, nc);
    r->rest_auc = lirf_auc_lower(la, na, lb, nb);
    free(la), free(lb), free(lc);
    return LIRF_OK;
}

/* ---- evaluation ----------------------------------------------------------- */
/* One batch's logits (n x K on the host) and labels into out. */
static void outcome_of(const float *z, const int32_t *y, int n, int K, lirf_sample_outcome *out) {
    for (int i = 0; i < n; i++) {
        const float *zi = z + (size_t)i * (size_t)K;
        int p = 0;
        for (int k = 1; k < K; k++)
            if (zi[k] > zi[p]) p = k;
        double s = 0;
        for (int k = 0; k < K; k++) s += exp((double)zi[k] - (double)zi[p]);
        int lab = y[i] >= 0 && y[i] < K ? y[i] : 0;
        out[i] = (lirf_sample_outcome){y[i], p, log(s) + (double)zi[p] - (double)zi[lab]};
    }
}

/* The model's outcome on ds's samples idx[0..n) (idx NULL: all, in order). */
static lirf_status outcomes(lirf_ctx *ctx, lirf_model *m, const lirf_dataset *ds,
                            const int32_t *idx, size_t n, int batch, lirf_sample_outcome *out) {
    const lirf_model_meta *meta = lirf_model_meta_of(m);
    int K = meta->cfg.classes;
    lirf_loader_opts lo = {.data = ds, .index = idx, .count = idx ? n : 0, .batch = batch};
    memcpy(lo.mean, meta->mean, sizeof lo.mean);
    memcpy(lo.std, meta->std, sizeof lo.std);
    lirf_loader *ld = NULL;
    lirf_arena *ws = NULL;
    float *z = malloc((size_t)batch * (size_t)K * sizeof *z);
    int32_t *y = malloc((size_t)batch * sizeof *y);
    lirf_status st = z && y ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!st) st = lirf_loader_create(ctx, &lo, &ld);
    if (!st) st = lirf_arena_create(ctx, 0, &ws);
    if (!st) st = lirf_loader_start(ld, 0, 0);
    size_t at = 0;
    while (!st) {
        lirf_buf x, yb, lg;
        int nb = 0;
        if ((st = lirf_loader_next(ld, &x, &yb, &nb)) || !nb) break;
        if (at + (size_t)nb > n) st = LIRF_FAIL(LIRF_E_INVALID, "evaluation: more samples than asked");
        if (!st) st = lirf_arena_reset(ws);
        if (!st) st = lirf_model_logits(m, ws, x, nb, &lg);
        if (!st) st = lirf_buf_read(ctx, lg, z, (size_t)nb * (size_t)K);
        if (!st) st = lirf_buf_read(ctx, yb, y, (size_t)nb);
        if (!st) outcome_of(z, y, nb, K, out + at), at += (size_t)nb;
    }
    if (!st && at != n) st = LIRF_FAIL(LIRF_E_INVALID, "evaluation: %zu samples of %zu", at, n);
    lirf_arena_destroy(ws);
    lirf_loader_destroy(ld);
    free(z), free(y);
    return lirf_error_context(st, "evaluating");
}

/* The training samples of the list's classes (ascending) and which are listed. */
static lirf_status same_class_train(const lirf_dataset *train, const lirf_samples_report *r,
                                    const lirf_sample_list *list, int32_t **idx, uint8_t **listed,
                                    size_t *n) {
    uint8_t *keep = calloc((size_t)train->num_classes + 1, 1);
    *idx = malloc(((size_t)train->n + 1) * sizeof **idx);
    *listed = malloc((size_t)train->n + 1);
    *n = 0;
    if (!keep || !*idx || !*listed) {
        free(keep);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    for (int k = 0; k < r->nclasses; k++) keep[r->classes[k]] = 1;
    size_t j = 0;
    for (int i = 0; i < train->n; i++) {
        int32_t y = train->labels[i];
        if (y < 0 || y >= train->num_classes || !keep[y]) continue;
        while (j < list->n && list->idx[j] < i) j++;
        (*listed)[*n] = j < list->n && list->idx[j] == i;
        (*idx)[(*n)++] = i;
    }
    free(keep);
    return LIRF_OK;
}

static lirf_status score_model(lirf_ctx *ctx, lirf_model *m, const lirf_dataset *train,
                               const lirf_dataset *test, const lirf_sample_list *list, int batch,
                               lirf_samples_report *r) {
    int32_t *idx = NULL;
    uint8_t *listed = NULL;
    size_t ntr = 0;
    lirf_sample_outcome *otr = NULL, *ote = NULL;
    lirf_status st = same_class_train(train, r, list, &idx, &listed, &ntr);
    if (!st && (!(otr = malloc((ntr + 1) * sizeof *otr)) ||
                !(ote = malloc(((size_t)test->n + 1) * sizeof *ote))))
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!st) st = outcomes(ctx, m, train, idx, ntr, batch, otr);
    if (!st) st = outcomes(ctx, m, test, NULL, (size_t)test->n, batch, ote);
    if (!st)
        st = lirf_samples_score(otr, listed, ntr, ote, (size_t)test->n, r->classes, r->nclasses, r);
    free(idx), free(listed), free(otr), free(ote);
    return st;
}

/* A checkpoint whose metadata names another sample list is refused. */
static lirf_status check_mark(const char *path, const char *list_path,
                              const lirf_sample_list *list, int *marked) {
    lirf_safetensors st = {0};
    LIRF_TRY(lirf_st_read(path, &st));
    const char *sha = lirf_st_meta(&st, "deposit_samples_sha256");
    const char *cnt = lirf_st_meta(&st, "deposit_samples");
    lirf_status s = LIRF_OK;
    *marked = sha && !strcmp(sha, list->sha256);
    if (sha && !*marked)
        s = LIRF_FAIL(LIRF_E_INVALID, "%s was deposited from another sample list (%.20s samples, "
                      "SHA-256 %.64s) than %s (%zu samples, SHA-256 %s)", path, cnt ? cnt : "?",
                      sha, list_path, list->n, list->sha256);
    lirf_st_free(&st);
    return s;
}

lirf_status lirf_samples_eval(lirf_ctx *ctx, const char *path, const lirf_samples_opts *o,
                              lirf_samples_report *r) {
    if (!ctx || !path || !o || !o->samples || !r || o->batch < 1)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_samples_eval: NULL argument");
    memset(r, 0, sizeof *r);
    lirf_model *m = NULL;
    LIRF_TRY(lirf_error_context(lirf_model_open(ctx, path, &m), "loading %s", path));
    const lirf_model_meta *meta = lirf_model_meta_of(m);
    lirf_dataset train = {0}, test = {0};
    lirf_sample_list list = {0};
    lirf_status st = lirf_load_split(o->data, o->kind, 1, meta->cfg.in_h, NULL, 0, 0, &train);
    if (!st) st = lirf_data_fits(&train, meta, path);
    if (!st) st = lirf_sample_list_load(o->samples, (size_t)train.n, &list);
    if (!st) st = check_mark(path, o->samples, &list, &r->model_marked);
    if (!st) st = lirf_dataset_classes_of(&train, list.idx, list.n, r->classes, &r->nclasses);
    if (!st) st = lirf_load_split(o->data, o->kind, 0, meta->cfg.in_h, NULL, 0, 0, &test);
    if (!st) st = lirf_data_fits(&test, meta, path);
    if (!st) {
        r->deposit_samples = list.n;
        memcpy(r->sha256, list.sha256, sizeof r->sha256);
        st = score_model(ctx, m, &train, &test, &list, o->batch, r);
    }
    lirf_sample_list_free(&list);
    lirf_dataset_free(&train);
    lirf_dataset_free(&test);
    lirf_model_close(m);
    return st;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

json_t *lirf_samples_report_json(const char *path, const lirf_samples_opts *o,
                                 const lirf_samples_report *r) {
    static const char *const names[LIRF_SAMPLES_GROUPS] = {
        "deposited", "train_same_classes", "test_same_classes", "test_other_classes"};
    json_t *cls = json_array(), *groups = json_object();
    for (int k = 0; cls && k < r->nclasses; k++) json_array_append_new(cls, json_integer(r->classes[k]));
    for (int g = 0; groups && g < LIRF_SAMPLES_GROUPS; g++)
        json_object_set_new(groups, names[g],
                            json_pack("{s:I,s:I,s:o,s:o}", "correct", (json_int_t)r->correct[g],
                                      "total", (json_int_t)r->total[g], "accuracy",
                                      jnum(r->acc[g]), "mean_loss", jnum(r->mean_loss[g])));
    if (!cls || !groups) {
        json_decref(cls), json_decref(groups);
        return NULL;
    }
    return json_pack("{s:o,s:{s:o,s:I,s:s,s:o,s:b},s:o,s:o,s:o}", "model", lirf_json_text(path),
                     "samples", "file", lirf_json_text(o->samples), "count",
                     (json_int_t)r->deposit_samples, "sha256", r->sha256, "classes", cls,
                     "model_marked", r->model_marked, "groups", groups, "mia_auc",
                     jnum(r->mia_auc), "rest_auc", jnum(r->rest_auc));
}
