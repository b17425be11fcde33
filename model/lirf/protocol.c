/* The experiment protocol: the deposit's hold-out split and Table 1's
 * arithmetic (protocol.h). */
#include "fileutil.h"
#include "protocol.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hold-out split ------------------------------------------------- */

void lirf_holdout_permutation(int n, int64_t seed, int32_t *perm) {
    uint64_t r = 0x9e3779b97f4a7c15ull ^ ((uint64_t)seed << 17);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) { /* Fisher-Yates, splitmix64 */
        uint64_t z = lirf_rng_next(&r);
        int j = (int)(z % (uint64_t)(i + 1)), t = perm[i];
        perm[i] = perm[j], perm[j] = t;
    }
}

lirf_status lirf_holdout_split(int n, const lirf_deposit_opts *o, int32_t **perm, size_t *nhold) {
    if (!o || !perm || !nhold) return LIRF_FAIL(LIRF_E_NULL, "lirf_holdout_split: NULL argument");
    *perm = NULL, *nhold = 0;
    if (!(o->holdout > 0)) return LIRF_OK; /* 0 (or NaN): no hold-out */
    if (n < 1) return LIRF_FAIL(LIRF_E_INVALID, "a hold-out needs deposit-class samples (%d)", n);
    /* a share >= 1 leaves nothing to train on: refused before llround sees it.
     * The product is in float, as lirf deposit always computed it, so that
     * the size (and so the held-out samples) stays the same. */
    size_t h = o->holdout >= 1 ? (size_t)n : (size_t)llround(o->holdout * (float)n);
    if (h < 1) h = 1;
    if (h >= (size_t)n)
        return LIRF_FAIL(LIRF_E_INVALID, "a hold-out share of %.3g leaves no training samples of %d",
                         (double)o->holdout, n);
    if (!(*perm = malloc((size_t)n * sizeof **perm)))
        return LIRF_FAIL(LIRF_E_NOMEM, "hold-out split of %d samples", n);
    lirf_holdout_permutation(n, lirf_deposit_holdout_seed(o), *perm);
    *nhold = h;
    return LIRF_OK;
}

int lirf_holdout_every_steps(int holdout_every, size_t steps_per_epoch) {
    if (holdout_every >= 0) return holdout_every;
    size_t k = (size_t)(-(int64_t)holdout_every); /* -k: k checks an epoch */
    size_t every = steps_per_epoch / k + (steps_per_epoch % k != 0);
    return every > (size_t)INT_MAX ? INT_MAX : (int)every;
}

/* ---- Table 1 ------------------------------------------------------------ */


void lirf_table1_col_init(lirf_table1_col *c, lirf_col_role role, const char *label,
                          const char *path) {
    memset(c, 0, sizeof *c);
    c->role = role;
    snprintf(c->label, sizeof c->label, "%s", label ? label : "");
    c->path = path;
    c->pre = c->dep = c->avg = c->F = c->H = c->agree = NAN;
}

lirf_status lirf_pre_dep_avg(const int64_t *counts, int K, const int32_t *dep, int ndep,
                             double *pre, double *dep_acc, double *avg) {
    if (!counts || (ndep > 0 && !dep))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_pre_dep_avg: NULL counts or deposit classes");
    if (K < 1) return LIRF_FAIL(LIRF_E_INVALID, "lirf_pre_dep_avg: %d classes", K);
    for (int j = 0; j < ndep; j++)
        if (dep[j] < 0 || dep[j] >= K)
            return LIRF_FAIL(LIRF_E_INVALID, "deposit class %d outside the model's %d classes",
                             (int)dep[j], K);
    int64_t ca = 0, na = 0, cd = 0, nd = 0;
    for (int k = 0; k < K; k++) {
        ca += counts[2 * k], na += counts[2 * k + 1];
        int is_dep = 0;
        for (int j = 0; j < ndep && !is_dep; j++) is_dep = dep[j] == k;
        if (is_dep) cd += counts[2 * k], nd += counts[2 * k + 1];
    }
    if (avg) *avg = lirf_pct(ca, na);
    if (dep_acc) *dep_acc = lirf_pct(cd, nd);
    if (pre) *pre = lirf_pct(ca - cd, na - nd);
    return LIRF_OK;
}

lirf_status lirf_table1_fill(lirf_table1_col *c, const int64_t *counts, int K,
                             const int32_t *dep, int ndep) {
    return lirf_pre_dep_avg(counts, K, dep, ndep, &c->pre, &c->dep, &c->avg);
}

lirf_status lirf_table1_independent(lirf_table1_col *c, const int64_t *pre_counts,
                                    const int64_t *dep_counts, int K, const int32_t *dep,
                                    int ndep) {
    double pre, dp;
    LIRF_TRY(lirf_pre_dep_avg(pre_counts, K, dep, ndep, &pre, NULL, NULL));
    LIRF_TRY(lirf_pre_dep_avg(dep_counts, K, dep, ndep, NULL, &dp, NULL));
    c->pre = pre, c->dep = dp, c->avg = NAN;
    return LIRF_OK;
}

void lirf_table1_f_hmean(double dep_original, double pre, double dep, double *F, double *H) {
    double f = dep_original - dep;
    if (F) *F = f;
    if (H) *H = 2 * pre * f / (pre + f);
}

void lirf_table1_score(const lirf_table1_col *original, lirf_table1_col *cols, int n) {
    double dep_t0 = original ? original->dep : NAN; /* read first: original may be in cols */
    for (int i = 0; i < n; i++) {
        lirf_table1_col *c = &cols[i];
        c->scored = c->role == LIRF_COL_TARGET && !isnan(dep_t0);
        if (c->scored) lirf_table1_f_hmean(dep_t0, c->pre, c->dep, &c->F, &c->H);
        else c->F = c->H = NAN;
    }
}

lirf_table1_col *lirf_table1_find(lirf_table1_col *cols, int n, lirf_col_role role) {
    for (int i = 0; i < n; i++)
        if (cols[i].role == role) return &cols[i];
    return NULL;
}

double lirf_round2(double v) {
    if (!isfinite(v) || fabs(v) >= 1e15) return v; /* no decimals left to round */
    char b[40];
    snprintf(b, sizeof b, "%.2f", v);
    return strtod(b, NULL);
}

/* ---- JSON --------------------------------------------------------------- */

static json_t *jnum(double v) { return isfinite(v) ? json_real(lirf_round2(v)) : json_null(); }

/* s as a JSON string; bytes that are not UTF-8 text become '?', so that a
 * label or file name of any bytes still gives valid JSON. */
static json_t *jstr(const char *s) { return lirf_json_text(s ? s : ""); }

/* Sets o[k] = v (taking v); 0 when v is NULL or out of memory. */
static int put(json_t *o, const char *k, json_t *v) { return v && json_object_set_new(o, k, v) == 0; }

static json_t *table1_col_json(const lirf_table1_col *c) {
    json_t *o = json_object();
    if (!o) return NULL;
    int ok = put(o, "column", jstr(c->label)) && put(o, "path", jstr(c->path)) &&
             put(o, "pre_acc", jnum(c->pre)) && put(o, "dep_acc", jnum(c->dep));
    if (ok && !isnan(c->avg)) ok = put(o, "avg_acc", jnum(c->avg));
    if (ok && c->scored)
        ok = put(o, "F", jnum(c->F)) && put(o, "H_mean", jnum(c->H));
    if (ok && !isnan(c->agree)) ok = put(o, "t0_argmax_agreement", jnum(c->agree));
    if (ok && c->bytes > 0) ok = put(o, "archive_bytes", json_integer((json_int_t)c->bytes));
    if (!ok) json_decref(o);
    return ok ? o : NULL;
}

json_t *lirf_table1_json(const lirf_table1_col *cols, int n) {
    json_t *a = json_array();
    for (int i = 0; a && i < n; i++)
        if (json_array_append_new(a, table1_col_json(&cols[i]))) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

json_t *lirf_eval_report_json(const char *model, const int64_t *counts, int K,
                              const int32_t *dep, int ndep, char *const *class_names) {
    double pre, dp, avg;
    if (lirf_pre_dep_avg(counts, K, dep, ndep, &pre, &dp, &avg)) return NULL;
    json_t *o = json_object(), *per = json_array();
    int ok = o && per && put(o, "model", jstr(model)) && put(o, "accuracy", jnum(avg));
    if (ok && ndep > 0) ok = put(o, "pre_acc", jnum(pre)) && put(o, "dep_acc", jnum(dp));
    for (int k = 0; ok && k < K; k++) {
        json_t *e = json_object();
        ok = e && put(e, "class", json_integer(k)) &&
             put(e, "name", jstr(class_names ? class_names[k] : "")) &&
             put(e, "accuracy", jnum(lirf_pct(counts[2 * k], counts[2 * k + 1]))) &&
             put(e, "samples", json_integer((json_int_t)counts[2 * k + 1]));
        if (!ok) json_decref(e); /* append_new takes e even when it fails */
        else if (json_array_append_new(per, e)) ok = 0;
    }
    if (ok) {
        ok = put(o, "per_class", per); /* takes per either way */
        per = NULL;
    }
    json_decref(per);
    if (!ok) {
        json_decref(o);
        LIRF_FAIL(LIRF_E_NOMEM, "building the accuracy report");
        return NULL;
    }
    return o;
}
