/* Distillation with controls (the paper's Table 3): the teachers' outputs,
 * every student, Table 3's rows and the distillation checks (see
 * docs/verify.md, "Distillation"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_priv.h"

static const run_t *find_run(const run_t *r, int n, int student, int method, int labels,
                             int teacher, int seed) {
    for (int i = 0; i < n; i++)
        if (r[i].student == student && r[i].method == method && r[i].labels == labels &&
            r[i].teacher == teacher && r[i].seed == seed)
            return &r[i];
    return NULL;
}


static uint32_t run_seed(const lirf_verify_opts *o, int sd) {
    return (uint32_t)(o->distill.seed + 1000u * (unsigned)sd);
}

/* ---- 7. distillation (Table 3) with controls ---- */
/* Teacher outputs of every net on the training subset, once per file. */
lirf_status va_teacher_stage(audit_t *a) {
    double t0 = lirf_now();
    model_t *M = a->M;
    for (int r = 0; r < R_COUNT; r++) {
        a->same[r] = -1;
        for (int q = 0; q < r && M[r].net; q++)
            if (M[q].net && a->same[q] < 0 && !strcmp(M[q].sha, M[r].sha)) {
                a->same[r] = q;
                break;
            }
    }
    for (int r = 0; r < R_COUNT; r++) {
        if (!M[r].net || a->same[r] >= 0) continue;
        LIRF_TRY(lirf_teacher_run(a->ctx, M[r].net, &a->tr, a->sub, a->nsub, M[r].meta.mean,
                                  M[r].meta.std, &a->T[r]));
        va_note(a->o, "teacher outputs of the %s net computed", ROLE[r], a->t_start);
    }
    json_object_set_new(a->timing, "teacher_outputs", json_real(lirf_now() - t0));
    return LIRF_OK;
}

/* The students, methods and label settings asked for, in their order. */
static void plan_students(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    if (o->students & 1) a->studs[a->nstud++] = 0;
    if (o->students & 2) a->studs[a->nstud++] = 1;
    if (o->methods & 1) a->meths[a->nmeth++] = LIRF_KD_LOGIT;
    if (o->methods & 2) a->meths[a->nmeth++] = LIRF_KD_AT;
    if (o->labels & 1) a->labs[a->nlab++] = 1;
    if (o->labels & 2) a->labs[a->nlab++] = 0;
}

/* Table 3's cells for one student, in order: the no-teacher student (true
 * labels only), then every net as teacher by method and labels. */
static int cells_of(const audit_t *a, cell_t *cell) {
    int n = 0;
    for (int r = -1; r < R_COUNT; r++) {
        if (r >= 0 && !a->M[r].net) continue;
        for (int mi = 0; mi < (r < 0 ? 1 : a->nmeth); mi++)
            for (int li = 0; li < (r < 0 ? 1 : a->nlab); li++) {
                if (r < 0 && !(a->o->labels & 1)) continue;
                cell[n++] = (cell_t){r, r < 0 ? LIRF_KD_NONE : a->meths[mi], r < 0 ? 1 : a->labs[li]};
            }
    }
    return n;
}

static lirf_net_config student_config(const audit_t *a, int stu) {
    const lirf_net_config *tc = a->tc;
    return (lirf_net_config){.arch = stu ? LIRF_ARCH_RESNET18 : LIRF_ARCH_CNN,
                             .width = stu ? a->o->student_width : 0, .in_c = tc->in_c,
                             .in_h = tc->in_h, .in_w = tc->in_w, .classes = a->K};
}

static void add_run_json(audit_t *a, json_t *jruns, const run_t *run, lirf_arch sarch,
                         const lirf_distill_result *res, int twin) {
    int r = run->teacher;
    json_t *mt = json_array();
    for (int k = 0; k < res->nmatched; k++)
        json_array_append_new(mt, json_pack("[s,s]", lirf_stage_name(sarch, res->s_stage[k]),
                                             lirf_stage_name(a->M[r].meta.cfg.arch, res->t_stage[k])));
    json_t *j = json_pack("{s:s,s:s,s:b,s:s,s:i,s:o,s:o,s:o,s:f,s:I,s:f,s:o}", "student",
                          va_student_name(run->student), "method", lirf_kd_method_name(run->method),
                          "labels", run->labels, "teacher", r < 0 ? "none" : ROLE[r], "seed", run->seed,
                          "pre_acc", va_jnum(run->pre), "dep_acc", va_jnum(run->dep), "avg_acc", va_jnum(run->avg),
                          "seconds", res->seconds, "steps", (json_int_t)res->steps, "final_loss",
                          res->last_loss, "at_pairs", mt);
    if (twin) json_object_set_new(j, "same_file_as", json_string(ROLE[a->same[r]]));
    json_array_append_new(jruns, j);
}

/* One student of seed sd taught by c->r (-1: no teacher); run idx of total. */
static lirf_status distill_one(audit_t *a, int sd, int stu, const cell_t *c, int idx, int total,
                               json_t *jruns) {
    const lirf_verify_opts *o = a->o;
    int r = c->r;
    lirf_net_config sc = student_config(a, stu);
    lirf_distill_opts d = o->distill;
    d.method = c->method, d.labels = c->labels;
    d.epochs = o->epochs, d.batch = o->batch;
    d.seed = run_seed(o, sd);
    char label[160];
    snprintf(label, sizeof label, "[%d/%d] %s student, %s, labels %s, teacher %s, seed %u", idx,
             total, va_student_name(stu), lirf_kd_method_name(d.method), d.labels ? "true" : "none",
             r < 0 ? "none" : ROLE[r], d.seed);
    if (!o->quiet) fprintf(stderr, "verify: %s\n", label);
    lirf_distill_result res;
    memset(&res, 0, sizeof res);
    run_t run = {stu, d.method, d.labels, r, (int)d.seed, NAN, NAN, NAN};
    const run_t *twin = r >= 0 && a->same[r] >= 0
                            ? find_run(a->runs, a->nruns, stu, d.method, d.labels, a->same[r], (int)d.seed)
                            : NULL;
    if (twin) { /* the same file as an earlier teacher: the same student (training is deterministic) */
        run.pre = twin->pre, run.dep = twin->dep, run.avg = twin->avg;
        if (!o->quiet) fprintf(stderr, "verify:   the same file as the %s net: its student's numbers\n", ROLE[a->same[r]]);
    } else {
        lirf_student *s = NULL;
        lirf_status st = lirf_student_create(a->ctx, &sc, 7 + 1000u * (unsigned)sd, &s);
        if (st == LIRF_OK)
            st = lirf_distill_train(s, &a->tr, a->sub, a->nsub, a->smean, a->sstd, r < 0 ? NULL : &a->T[r],
                                    &d, va_student_name(stu), o->quiet, &res);
        if (st == LIRF_OK) st = va_eval_fn(a->ctx, a->lte, &a->S, lirf_student_logits, s, &run.pre, &run.dep, &run.avg);
        lirf_student_destroy(s);
        if (st != LIRF_OK) return st;
    }
    a->runs[a->nruns++] = run;
    add_run_json(a, jruns, &run, sc.arch, &res, twin != NULL);
    if (!o->quiet)
        fprintf(stderr, "verify:   Pre %.2f  Dep %.2f  (%.0fs, total %.0fs)\n", run.pre, run.dep,
                res.seconds, lirf_now() - a->t_start);
    return LIRF_OK;
}

/* Every student: seeds, then students, then Table 3's cells. */
lirf_status va_distill_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    double t0 = lirf_now();
    plan_students(a);
    cell_t cell[MAX_CELLS];
    int ncell = cells_of(a, cell);
    int total = o->seeds * a->nstud * ncell, done = 0;
    a->runs = calloc((size_t)total + 1, sizeof *a->runs);
    json_t *jruns = json_array();
    json_object_set_new(a->R, "distillation_runs", jruns);
    if (!a->runs) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int sd = 0; sd < o->seeds; sd++)
        for (int si = 0; si < a->nstud; si++)
            for (int k = 0; k < ncell; k++, done++)
                LIRF_TRY(distill_one(a, sd, a->studs[si], &cell[k], done + 1, total, jruns));
    json_object_set_new(a->timing, "distillation", json_real(lirf_now() - t0));
    return LIRF_OK;
}

/* One row of Table 3: mean and interval over seeds; the change against the
 * original's student of the same seed. */
static json_t *table_row(const audit_t *a, int stu, const cell_t *c) {
    int r = c->r, method = c->method, lab = c->labels;
    double pre[64] = {0}, dp[64] = {0}, dpre[64] = {0}, ddep[64] = {0}; /* zeros: for the compiler */
    int n = 0, nd = 0;
    for (int sd = 0; sd < a->o->seeds && n < 64; sd++) {
        int seed = (int)run_seed(a->o, sd);
        const run_t *x = find_run(a->runs, a->nruns, stu, method, lab, r, seed);
        const run_t *y = find_run(a->runs, a->nruns, stu, method, lab, R_ORIGINAL, seed);
        if (!x) continue;
        pre[n] = x->pre, dp[n++] = x->dep;
        if (y && r >= 0) dpre[nd] = x->pre - y->pre, ddep[nd++] = x->dep - y->dep;
    }
    double mp, hp, md, hd, mdp = NAN, hdp = 0, mdd = NAN, hdd = 0;
    lirf_mean_ci95(pre, (size_t)n, &mp, &hp);
    lirf_mean_ci95(dp, (size_t)n, &md, &hd);
    if (nd) lirf_mean_ci95(dpre, (size_t)nd, &mdp, &hdp), lirf_mean_ci95(ddep, (size_t)nd, &mdd, &hdd);
    return json_pack("{s:s,s:s,s:b,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "student",
                     va_student_name(stu), "method", lirf_kd_method_name((lirf_kd_method)method), "labels", lab,
                     "teacher", r < 0 ? "none" : ROLE[r], "teacher_label",
                     r < 0 ? "No teacher" : ROLE_LABEL[r], "seeds", n, "pre_acc", va_jnum(mp),
                     "pre_ci95", va_jnum(hp), "dep_acc", va_jnum(md), "dep_ci95", va_jnum(hd),
                     "d_pre_vs_original", va_jnum(mdp), "d_pre_ci95", va_jnum(hdp),
                     "d_dep_vs_original", va_jnum(mdd), "d_dep_ci95", va_jnum(hdd));
}

lirf_status va_table3_stage(audit_t *a) {
    cell_t cell[MAX_CELLS];
    int ncell = cells_of(a, cell);
    a->table = json_array();
    for (int si = 0; si < a->nstud; si++)
        for (int k = 0; k < ncell; k++) json_array_append_new(a->table, table_row(a, a->studs[si], &cell[k]));
    json_object_set_new(a->R, "table3", a->table);
    return LIRF_OK;
}

/* The gaps, per seed, of the students of teacher r over those of the
 * negative control (same student, method, labels, seed): mean and half-width
 * in m, h; per-seed gaps appended to ps when given; *cdep: the negative
 * control's mean Dep Acc. Returns the number of seeds found. */
static int student_gaps(const audit_t *a, int stu, int method, int lab, int r, double *m, double *h,
                        json_t *ps, double *cdep) {
    double g[64], csum = 0;
    int n = 0;
    for (int sd = 0; sd < a->o->seeds && n < 64; sd++) {
        int seed = (int)run_seed(a->o, sd);
        const run_t *x = find_run(a->runs, a->nruns, stu, method, lab, r, seed);
        const run_t *c = find_run(a->runs, a->nruns, stu, method, lab, R_INDEPENDENT, seed);
        if (!x || !c) continue;
        g[n] = x->dep - c->dep, csum += c->dep;
        if (ps) json_array_append_new(ps, json_pack("{s:i,s:o}", "seed", seed, "gap", va_jnum(g[n])));
        n++;
    }
    *m = NAN, *h = 0;
    if (n) lirf_mean_ci95(g, (size_t)n, m, h);
    if (cdep) *cdep = n ? csum / n : NAN;
    return n;
}

/* The target's students against the negative control's (the Independent
 * net's, taught the same way), calibrated by the original's students. */
static void distill_check(audit_t *a, int stu, int method, int lab) {
    const lirf_verify_opts *o = a->o;
    json_t *ps = json_array();
    double m, h, pm, ph, cdep;
    int n = student_gaps(a, stu, method, lab, R_TARGET, &m, &h, ps, &cdep);
    int np = a->M[R_ORIGINAL].net ? student_gaps(a, stu, method, lab, R_ORIGINAL, &pm, &ph, NULL, NULL) : 0;
    char name[96];
    snprintf(name, sizeof name, "distill/%s/%s/labels-%s", va_student_name(stu),
             lirf_kd_method_name((lirf_kd_method)method), lab ? "true" : "none");
    va_check c = {.name = name, .what = "Dep Acc of the target's student minus the negative control's (points)",
                  .value = n ? m : NAN, .half = h, .control = cdep,
                  .control_is = lab ? "the negative control's student (true labels)"
                                    : "the negative control's student (no labels)",
                  .positive = np ? pm : NAN, .pos_half = np ? ph : 0,
                  .margin = lab ? o->margin_distill : o->margin_none,
                  .no_power_why = !a->M[R_INDEPENDENT].net ? "no negative control"
                                  : !np ? "needs --original (the positive control)" : NULL,
                  .per_seed = ps};
    va_add_check(a, &c);
}

lirf_status va_distill_checks(audit_t *a) {
    for (int si = 0; si < a->nstud; si++)
        for (int mi = 0; mi < a->nmeth; mi++)
            for (int li = 0; li < a->nlab; li++) distill_check(a, a->studs[si], a->meths[mi], a->labs[li]);
    return LIRF_OK;
}
