/* The results of a reproduction from its records alone: every table as means
 * over seeds with 95% intervals, and the paper's values beside them. */
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "repro_priv.h"
#include "verify.h"

#define MAX_SEEDS 64

/* "a.b.0.c": an array's element by its index */
double rp_num(const json_t *o, const char *path) {
    char b[256];
    snprintf(b, sizeof b, "%s", path);
    const json_t *v = o;
    for (char *s = b, *e; v && s; s = e) {
        e = strchr(s, '.');
        if (e) *e++ = 0;
        v = json_is_array(v) ? json_array_get(v, strtoul(s, NULL, 10)) : json_object_get(v, s);
    }
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One data set's records: rec[step][seed - 1]. */
typedef struct {
    char key[100];
    int nseeds;
    json_t *rec[64][MAX_SEEDS];
} ds_t;

static int step_index(const char *id) {
    int n;
    const lirf_step_def *S = lirf_repro_steps(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(S[i].id, id)) return i;
    return -1;
}

/* Reads every record of key's seed folders; files that are not records of
 * a known step are left out (they are not this version's). */
static void load_seed(ds_t *D, const char *dir, int seed) {
    DIR *dp = opendir(dir);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json")) continue;
        char id[128], path[RP_PATH + 1100];
        snprintf(id, sizeof id, "%.*s", (int)(len - 5), e->d_name);
        int s = step_index(id);
        if (s < 0) continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
        const char *fmt = json_string_value(json_object_get(r, "format"));
        if (!fmt || strcmp(fmt, RP_RECORD_FORMAT) || json_integer_value(json_object_get(r, "seed")) != seed) {
            json_decref(r);
            continue;
        }
        D->rec[s][seed - 1] = r;
        if (seed > D->nseeds) D->nseeds = seed;
    }
    if (dp) closedir(dp);
}

static void load_ds(ds_t *D, const char *records) {
    char dir[RP_PATH + 512];
    snprintf(dir, sizeof dir, "%s/%s", records, D->key);
    DIR *dp = opendir(dir);
    struct dirent *e;
    while (dp && (e = readdir(dp))) {
        int seed;
        char tail;
        if (sscanf(e->d_name, "seed%d%c", &seed, &tail) != 1 || seed < 1 || seed > MAX_SEEDS) continue;
        char sd[RP_PATH + 800];
        snprintf(sd, sizeof sd, "%s/seed%d", dir, seed);
        load_seed(D, sd, seed);
    }
    if (dp) closedir(dp);
}

static void free_ds(ds_t *D) {
    for (int s = 0; s < 64; s++)
        for (int k = 0; k < MAX_SEEDS; k++) json_decref(D->rec[s][k]);
}

/* Per seed: the number at path of step id's record (NAN when absent). */
static void vec(const ds_t *D, const char *id, const char *path, double *v) {
    int s = step_index(id);
    for (int k = 0; k < D->nseeds; k++) v[k] = s >= 0 ? rp_num(D->rec[s][k], path) : NAN;
}

/* {"mean", "ci95", "n"} over the finite values of v; null when none. */
static json_t *stat(const double *v, int n) {
    double x[MAX_SEEDS], m, h;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(v[i])) x[k++] = v[i];
    if (!k) return json_null();
    lirf_mean_ci95(x, (size_t)k, &m, &h);
    return json_pack("{s:f,s:f,s:i}", "mean", m, "ci95", h, "n", k);
}

static json_t *stat_of(const ds_t *D, const char *id, const char *path) {
    double v[MAX_SEEDS];
    vec(D, id, path, v);
    return stat(v, D->nseeds);
}

static json_t *pnum(double v) { return isnan(v) ? json_null() : json_real(v); }

/* ---- Table 1 ---- */
/* The Independent column's Avg: the two nets' accuracies weighted by their
 * test images, as the paper's 94.02 = 0.7 * 92.92 + 0.3 * 96.61. */
static json_t *independent_avg(const ds_t *D) {
    double p[MAX_SEEDS], d[MAX_SEEDS], np[MAX_SEEDS], nd[MAX_SEEDS], a[MAX_SEEDS];
    vec(D, "independent-pre", "metrics.pre_acc", p);
    vec(D, "independent-dep", "metrics.dep_acc", d);
    vec(D, "independent-pre", "metrics.pre_images", np);
    vec(D, "independent-dep", "metrics.dep_images", nd);
    for (int k = 0; k < D->nseeds; k++) a[k] = (p[k] * np[k] + d[k] * nd[k]) / (np[k] + nd[k]);
    return stat(a, D->nseeds);
}

static json_t *table1(const ds_t *D) {
    static const char *cols[] = {"Independent", "Original", "Deposit", "Withdrawal (paper)",
                                 "Withdrawal (delta)"};
    static const char *metric[] = {"Pre Acc", "Dep Acc", "F", "H-Mean", "Avg Acc"};
    static const char *key[] = {"pre_acc", "dep_acc", "F", "H_mean", "avg_acc"};
    static const double paper[5][4] = {{92.92, 93.77, 93.41, 94.56}, {96.61, 94.60, 15.00, 97.92},
                                       {NAN, 0, 79.60, NAN}, {NAN, 0, 85.95, NAN},
                                       {94.02, 94.06, NAN, 95.57}};
    json_t *rows = json_array(), *jc = json_array();
    for (int c = 0; c < 5; c++) json_array_append_new(jc, json_string(cols[c]));
    for (int m = 0; m < 5; m++) {
        char p[64];
        json_t *v = json_array(), *pp = json_array();
        if (m == 0) json_array_append_new(v, stat_of(D, "independent-pre", "metrics.pre_acc"));
        else if (m == 1) json_array_append_new(v, stat_of(D, "independent-dep", "metrics.dep_acc"));
        else if (m == 4) json_array_append_new(v, independent_avg(D));
        else json_array_append_new(v, json_null());
        snprintf(p, sizeof p, "metrics.%s", key[m]);
        json_array_append_new(v, m == 2 || m == 3 ? json_null() : stat_of(D, "t0", p));
        snprintf(p, sizeof p, "metrics.target.%s", key[m]);
        json_array_append_new(v, stat_of(D, "deposit", p));
        snprintf(p, sizeof p, "metrics.recover_paper.%s", key[m]);
        json_array_append_new(v, m == 2 || m == 3 ? json_null() : stat_of(D, "deposit", p));
        snprintf(p, sizeof p, "metrics.recover_delta.%s", key[m]);
        json_array_append_new(v, m == 2 || m == 3 ? json_null() : stat_of(D, "deposit", p));
        for (int c = 0; c < 4; c++) json_array_append_new(pp, pnum(paper[m][c]));
        json_array_append_new(pp, json_null()); /* the delta mode is lirf's own */
        json_array_append_new(rows, json_pack("{s:s,s:o,s:o}", "metric", metric[m], "values", v,
                                              "paper", pp));
    }
    return json_pack("{s:o,s:o}", "columns", jc, "rows", rows);
}

/* ---- Table 2 ---- */
static json_t *table2_row(const ds_t *D, const char *label, const char *id, const double *paper,
                          const char *note) {
    static const char *tk[] = {"metrics.target.pre_acc", "metrics.target.dep_acc",
                               "metrics.recover_paper.pre_acc", "metrics.recover_paper.dep_acc",
                               "metrics.recover_paper.avg_acc"};
    static const char *sk[] = {"metrics.pre_acc", "metrics.dep_acc", "metrics.pre_acc",
                               "metrics.dep_acc", "metrics.avg_acc"};
    json_t *v = json_array(), *pp = json_array();
    for (int k = 0; k < 5; k++) {
        if (!id) json_array_append_new(v, json_null());
        else if (!strcmp(id, "scratch")) /* the Pre-only net as target, T0 as recover */
            json_array_append_new(v, stat_of(D, k < 2 ? "independent-pre" : "t0", sk[k]));
        else if (!strcmp(id, "il")) /* the Pre-only net as target, LwF's net as recover */
            json_array_append_new(v, stat_of(D, k < 2 ? "independent-pre" : "il-train", sk[k]));
        else json_array_append_new(v, stat_of(D, id, tk[k]));
        json_array_append_new(pp, pnum(paper[k]));
    }
    return json_pack("{s:s,s:o,s:o,s:s}", "method", label, "values", v, "paper", pp, "note",
                     note ? note : "");
}

static json_t *table2(const ds_t *D) {
    static const double P[6][5] = {{92.92, 96.61, 93.77, 94.60, 94.06},
                                   {92.92, 96.61, 90.87, 98.37, 93.12},
                                   {93.38, 15.55, NAN, NAN, NAN},
                                   {93.25, 14.81, 94.26, 97.03, 95.09},
                                   {93.25, 15.29, 94.33, 97.07, 95.15},
                                   {93.42, 14.15, 94.55, 97.67, 95.49}};
    json_t *rows = json_array();
    json_array_append_new(rows, table2_row(D, "Scratch Train", "scratch", P[0],
                                           "target: the net trained on the preservation classes "
                                           "only; recover: T0"));
    json_array_append_new(rows, table2_row(D, "IL Train", "il", P[1],
                                           "target: the net trained on the preservation classes "
                                           "only; recover: it, taught the deposit classes by LwF"));
    json_array_append_new(rows, table2_row(D, "L_kr, L_kp w/o L_at", "deposit-kr-kp", P[2],
                                           "no deposit module is trained: no recover net"));
    json_array_append_new(rows, table2_row(D, "L_kr, L_kp w/o L_at, L_pt, L_re", "deposit-no-at",
                                           P[3], NULL));
    json_array_append_new(rows, table2_row(D, "L_kr, L_kp, L_pt, L_re", "deposit-no-prune", P[4],
                                           "the deposit module not pruned"));
    json_array_append_new(rows, table2_row(D, "L_kr, L_kp, L_pt, L_re + Prune", "deposit", P[5],
                                           NULL));
    return json_pack("{s:[s,s,s,s,s],s:o}", "columns", "Target Pre Acc", "Target Dep Acc",
                     "Recover Pre Acc", "Recover Dep Acc", "Recover Avg Acc", "rows", rows);
}

/* ---- Fig. 4 ---- */
static json_t *fig4_point(const ds_t *D, const char *id, const char *xk, double x) {
    return json_pack("{s:f,s:s,s:o,s:o,s:o}", xk, x, "step", id, "target_dep",
                     stat_of(D, id, "metrics.target.dep_acc"), "recover_avg",
                     stat_of(D, id, "metrics.recover_paper.avg_acc"), "recover_delta_avg",
                     stat_of(D, id, "metrics.recover_delta.avg_acc"));
}

static json_t *fig4(const ds_t *D) {
    static const char *split_id[] = {"deposit-split1", "deposit", "deposit-split3", "deposit-split4"};
    static const char *rate_id[] = {"deposit-rate0.1", "deposit-rate0.3", "deposit",
                                    "deposit-rate0.7", "deposit-rate0.9"};
    static const double rate[] = {0.1, 0.3, 0.5, 0.7, 0.9};
    json_t *s = json_array(), *r = json_array();
    for (int k = 0; k < 4; k++) json_array_append_new(s, fig4_point(D, split_id[k], "n", k + 1));
    for (int k = 0; k < 5; k++) json_array_append_new(r, fig4_point(D, rate_id[k], "rate", rate[k]));
    return json_pack("{s:o,s:o,s:s}", "split", s, "rate", r, "paper",
                     "Fig. 4 gives no numbers: target Dep Acc and recover Avg Acc fall as n grows "
                     "(n = 2, 3 chosen); Dep Acc barely moves with the prune rate, and recover Avg "
                     "Acc rises, then falls (about 50% chosen)");
}

/* ---- Table 3 ---- */
/* The paper's Table 3 (CIFAR-10): Pre, Dep of the students of the original,
 * the target without L_at and with it, by student and method. */
static const struct {
    const char *student, *method;
    double v[3][2];
} PAPER3[] = {
    {"cnn", "logit", {{85.38, 86.15}, {85.97, 84.26}, {85.70, 82.75}}},
    {"cnn", "at", {{85.27, 85.94}, {86.01, 85.72}, {85.54, 81.83}}},
    {"resnet18", "logit", {{94.26, 95.73}, {94.55, 92.70}, {94.64, 91.49}}},
    {"resnet18", "at", {{94.09, 95.24}, {94.15, 94.61}, {93.85, 88.76}}},
};

/* Per seed, the value at key of the students record's table3 row for
 * (student, method, teacher). */
static void vec3(const ds_t *D, const char *stu, const char *meth, const char *teacher,
                 const char *key, double *v) {
    int s = step_index("students");
    for (int k = 0; k < D->nseeds; k++) {
        v[k] = NAN;
        json_t *rows = json_object_get(json_object_get(D->rec[s][k], "metrics"), "table3");
        size_t i;
        json_t *row;
        json_array_foreach(rows, i, row) {
            const char *a = json_string_value(json_object_get(row, "student"));
            const char *b = json_string_value(json_object_get(row, "method"));
            const char *c = json_string_value(json_object_get(row, "teacher"));
            if (a && b && c && !strcmp(a, stu) && !strcmp(b, meth) && !strcmp(c, teacher))
                v[k] = rp_num(row, key);
        }
    }
}

static json_t *table3(const ds_t *D) {
    static const char *teachers[] = {"original", "target_no_at", "target"};
    static const char *labels[] = {"Original", "Target (w/o L_at)", "Target (w L_at)"};
    json_t *rows = json_array();
    for (size_t r = 0; r < sizeof PAPER3 / sizeof *PAPER3; r++)
        for (int t = 0; t < 3; t++) {
            double pre[MAX_SEEDS], dep[MAX_SEEDS], dp[MAX_SEEDS], dd[MAX_SEEDS];
            vec3(D, PAPER3[r].student, PAPER3[r].method, teachers[t], "pre_acc", pre);
            vec3(D, PAPER3[r].student, PAPER3[r].method, teachers[t], "dep_acc", dep);
            vec3(D, PAPER3[r].student, PAPER3[r].method, teachers[t], "d_pre_vs_original", dp);
            vec3(D, PAPER3[r].student, PAPER3[r].method, teachers[t], "d_dep_vs_original", dd);
            const double *pv = PAPER3[r].v[t], *p0 = PAPER3[r].v[0];
            json_array_append_new(rows, json_pack(
                "{s:s,s:s,s:s,s:s,s:o,s:o,s:o,s:o,s:[f,f,o,o]}", "student", PAPER3[r].student,
                "method", PAPER3[r].method, "teacher", teachers[t], "teacher_label", labels[t],
                "pre_acc", stat(pre, D->nseeds), "dep_acc", stat(dep, D->nseeds), "d_pre", t ? stat(dp, D->nseeds) : json_null(),
                "d_dep", t ? stat(dd, D->nseeds) : json_null(), "paper", pv[0], pv[1],
                t ? json_real(pv[0] - p0[0]) : json_null(), t ? json_real(pv[1] - p0[1]) : json_null()));
        }
    return rows;
}

/* ---- Table 4 ---- */
/* The paper's Table 4 (CIFAR-100, 2 and 5 tasks): H, A, F by method. */
static const struct {
    const char *method, *label;
    double v[2][3];
} PAPER4[] = {
    {"baseline", "Baseline", {{55.87, 55.21, 56.55}, {51.79, 39.66, 74.62}}},
    {"lwf", "LwF", {{9.02, 74.69, 4.80}, {17.23, 79.05, 9.67}}},
    {"lwf-sel", "LwF*", {{54.64, 76.44, 42.52}, {68.24, 81.32, 58.79}}},
    {"ewc", "EWC", {{58.58, 56.73, 60.55}, {48.57, 36.54, 72.42}}},
    {"ewc-sel", "EWC*", {{57.17, 56.25, 58.13}, {49.61, 36.58, 77.08}}},
    {"ewc-sel+lwf-sel", "EWC*+LwF*", {{53.51, 77.11, 40.98}, {67.64, 81.20, 57.96}}},
    {"mas", "MAS", {{55.44, 54.42, 56.49}, {47.46, 34.89, 74.17}}},
    {"mas+lwf-sel", "MAS+LwF*", {{56.54, 76.85, 44.72}, {66.35, 81.83, 55.79}}},
    {"lwsf", "LwSF", {{70.08, 74.89, 65.84}, {73.21, 72.61, 73.83}}},
    {"lirf", "LIRF", {{77.69, 79.24, 76.19}, {73.08, 78.24, 68.56}}},
};

static json_t *afh_stat(const ds_t *D, const char *id, const char *which) {
    char a[48], f[48], h[48];
    snprintf(a, sizeof a, "metrics.%s.A", which);
    snprintf(f, sizeof f, "metrics.%s.F", which);
    snprintf(h, sizeof h, "metrics.%s.H", which);
    return json_pack("{s:o,s:o,s:o}", "A", stat_of(D, id, a), "F", stat_of(D, id, f), "H",
                     stat_of(D, id, h));
}

static json_t *table4_setting(const ds_t *D, int T, int col) {
    json_t *rows = json_array();
    for (size_t r = 0; r < sizeof PAPER4 / sizeof *PAPER4; r++) {
        char id[48];
        snprintf(id, sizeof id, "t4-%d-%s", T, PAPER4[r].method);
        int known = step_index(id) >= 0;
        const double *pv = PAPER4[r].v[col];
        json_array_append_new(rows, json_pack(
            "{s:s,s:s,s:o,s:o,s:{s:f,s:f,s:f},s:s}", "method", PAPER4[r].method, "label",
            PAPER4[r].label, "mean", known ? afh_stat(D, id, "mean") : json_null(), "final",
            known ? afh_stat(D, id, "final") : json_null(), "paper", "H", pv[0], "A", pv[1], "F",
            pv[2], "note", known ? "" : "not built (mnemonic codes)"));
    }
    char first[32];
    snprintf(first, sizeof first, "t4-%d-first", T);
    return json_pack("{s:i,s:o,s:o}", "tasks", T, "first_task_acc",
                     stat_of(D, first, "metrics.steps.0.A"), "rows", rows);
}

static json_t *table4(const ds_t *D) {
    return json_pack("{s:[o,o],s:s}", "settings", table4_setting(D, 2, 0),
                     table4_setting(D, 5, 1), "paper",
                     "CIFAR-100 (2 tasks of 50 classes, 5 of 20); the paper's A, F, H are "
                     "averaged until the last step");
}

/* The steps' times and where they ran. */
static json_t *steps_json(const ds_t *D) {
    int n;
    const lirf_step_def *S = lirf_repro_steps(&n);
    json_t *a = json_array();
    for (int i = 0; i < n; i++)
        for (int k = 0; k < D->nseeds; k++) {
            const json_t *r = D->rec[i][k];
            if (!r) continue;
            json_array_append_new(a, json_pack("{s:s,s:i,s:o,s:O?,s:O?,s:O?,s:O?}", "step",
                                               S[i].id, "seed", k + 1, "seconds",
                                               pnum(rp_num(r, "seconds")), "finished",
                                               json_object_get(r, "finished"), "device",
                                               json_object_get(json_object_get(r, "device"), "name"),
                                               "lirf_version", json_object_get(r, "lirf_version"),
                                               "commit", json_object_get(r, "commit")));
            if (json_is_true(json_object_get(r, "resumed")))
                json_object_set_new(json_array_get(a, json_array_size(a) - 1), "resumed", json_true());
        }
    return a;
}

static json_t *dataset_json(const ds_t *D) {
    int t0 = step_index("t0");
    json_t *settings = NULL;
    for (int k = 0; k < D->nseeds && !settings; k++)
        settings = json_object_get(D->rec[t0][k], "settings");
    return json_pack("{s:s,s:i,s:O,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "name", D->key, "seeds", D->nseeds,
                     "t0_settings", settings ? settings : json_null(), "t0", json_pack(
                         "{s:o,s:o}", "test_accuracy", stat_of(D, "t0", "metrics.test_accuracy"),
                         "epochs", stat_of(D, "t0", "metrics.epochs")),
                     "table1", table1(D), "table2", table2(D), "table3", table3(D), "fig4", fig4(D),
                     "table4", table4(D), "steps", steps_json(D));
}

/* records/notes.md, the reproduction's words on what reproduces (kept with
 * the records, written by people): its text, or null. */
static json_t *read_notes(const char *records) {
    char path[RP_PATH + 16], buf[16384];
    snprintf(path, sizeof path, "%s/notes.md", records);
    FILE *f = fopen(path, "r");
    if (!f) return json_null();
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    json_t *s = json_stringn(buf, n);
    return s ? s : json_null();
}

static int cmp_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

lirf_status lirf_repro_results(const char *records, json_t **out) {
    if (!records || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_repro_results: NULL argument");
    char *names[64];
    int nn = 0;
    DIR *dp = opendir(records);
    if (!dp) return LIRF_FAIL(LIRF_E_IO, "cannot read the records folder %s", records);
    struct dirent *e;
    while ((e = readdir(dp)) && nn < 64)
        if (e->d_name[0] != '.' && strchr(e->d_name, '-')) names[nn++] = strdup(e->d_name);
    closedir(dp);
    qsort(names, (size_t)nn, sizeof *names, cmp_name);
    json_t *sets = json_array();
    ds_t *D = malloc(sizeof *D);
    for (int i = 0; i < nn && D; i++) {
        memset(D, 0, sizeof *D);
        snprintf(D->key, sizeof D->key, "%s", names[i]);
        load_ds(D, records);
        if (D->nseeds) json_array_append_new(sets, dataset_json(D));
        free_ds(D);
    }
    for (int i = 0; i < nn; i++) free(names[i]);
    if (!D) return json_decref(sets), LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    free(D);
    *out = json_pack("{s:s,s:o,s:s,s:o}", "format", "lirf-reproduce-results-1", "datasets", sets,
                     "paper", "Ye et al., ECCV 2022: Tables 1-3 on CIFAR-10, Table 4 on "
                     "CIFAR-100, ResNet-18 (width 64)",
                     "notes", read_notes(records));
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}
