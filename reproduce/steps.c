/* One step of a reproduction: train T0 or an Independent net, deposit (and
 * withdraw, and evaluate), or Table 3's students; each fills its record. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "lirf_commit.h"
#include "repro_priv.h"
#include "verify.h"

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* The folder of path, into buf (RP_PATH); buf returned. */
static const char *dirname_of(const char *path, char *buf) {
    snprintf(buf, RP_PATH, "%s", path);
    char *e = strrchr(buf, '/');
    if (e) *e = 0;
    else snprintf(buf, RP_PATH, ".");
    return buf;
}

/* Pre / Dep / Avg of a checkpoint on the test split, and how many test
 * images each is over. */
static lirf_status eval_net(rp_t *R, const char *path, json_t **out) {
    lirf_table1_opts o = {.data = R->test_data ? R->test_data : R->data, .kind = R->kind,
                          .batch = 256, .dep = R->dep, .ndep = R->ndep};
    int64_t *counts = NULL;
    int K = 0;
    LIRF_TRY(lirf_eval_checkpoint(R->ctx, path, &o, &R->test, &counts, &K));
    double pre, dep, avg;
    lirf_status st = lirf_pre_dep_avg(counts, K, R->dep, R->ndep, &pre, &dep, &avg);
    int64_t n_dep = 0, n_all = 0;
    for (int k = 0; k < K; k++) {
        n_all += counts[2 * k + 1];
        for (int i = 0; i < R->ndep; i++)
            if (R->dep[i] == k) n_dep += counts[2 * k + 1];
    }
    free(counts);
    if (st != LIRF_OK) return st;
    *out = json_pack("{s:o,s:o,s:o,s:I,s:I}", "pre_acc", jnum(pre), "dep_acc", jnum(dep),
                     "avg_acc", jnum(avg), "pre_images", (json_int_t)(n_all - n_dep),
                     "dep_images", (json_int_t)n_dep);
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

/* R->K from the data (one test image read): the Independent nets' classes
 * are the data's classes in or outside the deposit. */
static lirf_status count_classes(rp_t *R) {
    lirf_dataset ds;
    memset(&ds, 0, sizeof ds);
    LIRF_TRY(lirf_load_split(R->test_data ? R->test_data : R->data, R->kind, 0,
                             R->j->image_size > 0 ? R->j->image_size : 32, NULL, 0, 1,
                             &ds));
    R->K = ds.num_classes;
    lirf_dataset_free(&ds);
    for (int i = 0; i < R->ndep; i++)
        if (R->dep[i] < 0 || R->dep[i] >= R->K)
            return LIRF_FAIL(LIRF_E_INVALID, "deposit class %d is not in the data (%d classes)",
                             R->dep[i], R->K);
    if (R->ndep >= R->K)
        return LIRF_FAIL(LIRF_E_INVALID, "every class is a deposit class: nothing to preserve");
    return LIRF_OK;
}

/* A training state is resumed only when it was made with this step's
 * settings (kept beside it as STATE.settings.json): a state left by a run of
 * other settings (other budgets) is removed, and the step starts afresh.
 * *resumed: a state is there to resume. */
static lirf_status prepare_state(rp_t *R, const lirf_step_def *d, const char *state,
                                 int *resumed) {
    char sp[RP_PATH + 64];
    snprintf(sp, sizeof sp, "%s.settings.json", state);
    json_t *want = rp_settings(R, d), *have = json_load_file(sp, 0, NULL);
    int same = want && have && json_equal(want, have);
    json_decref(have);
    if (!same && access(state, F_OK) == 0) {
        if (R->j->log)
            fprintf(R->j->log, "lirf reproduce: %s: the training state %s was made with other "
                    "settings; starting afresh\n", d->id, state);
        unlink(state);
    }
    lirf_status st = want ? rp_write_json_atomic(want, sp)
                          : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    json_decref(want);
    *resumed = access(state, F_OK) == 0;
    return st;
}

static lirf_status run_train(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    const lirf_repro_profile *p = &R->j->prof;
    char path[RP_PATH];
    rp_net_path(R, d, seed, path);
    lirf_train_job t;
    lirf_train_job_default(&t);
    int32_t cls[LIRF_MAX_CLASSES];
    int nc = 0;
    if (d->kind != LIRF_STEP_T0) LIRF_TRY(count_classes(R));
    for (int k = 0; k < R->K && d->kind != LIRF_STEP_T0; k++) {
        int is_dep = 0;
        for (int i = 0; i < R->ndep; i++) is_dep |= R->dep[i] == k;
        if (is_dep == (d->kind == LIRF_STEP_INDEP_DEP)) cls[nc++] = k;
    }
    t.data = R->data, t.test_data = R->test_data, t.kind = R->kind, t.limit = p->limit;
    if (R->j->image_size > 0) t.image_size = R->j->image_size;
    t.classes = nc ? cls : NULL, t.nclasses = nc;
    t.width = p->width, t.o.epochs = p->epochs, t.o.batch = p->batch, t.o.seed = (uint32_t)seed;
    t.out = path, t.resume = 1, t.log = R->j->log;
    char dir[RP_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    LIRF_TRY(rp_mkdirs(dir));
    lirf_train_report tr;
    char state[RP_PATH + 32];
    snprintf(state, sizeof state, "%s.state.safetensors", path);
    int resumed;
    LIRF_TRY(prepare_state(R, d, state, &resumed));
    if (resumed) json_object_set_new(rec, "resumed", json_true());
    LIRF_TRY(lirf_error_context(lirf_train_job_run(R->ctx, &t, &tr), "%s", d->what));
    json_t *m;
    LIRF_TRY(eval_net(R, path, &m));
    json_object_set_new(m, "test_accuracy", jnum(tr.test_accuracy));
    json_object_set_new(m, "epochs", json_integer(tr.epochs));
    json_object_set_new(rec, "metrics", m);
    json_object_set_new(rec, "images_per_s", jnum(tr.images_per_s));
    json_object_set_new(rec, "final_loss", jnum(tr.final_loss)); /* 0 when resumed at the end */
    unlink(state); /* the net is whole: a later run that lacks it trains it afresh */
    char sp[RP_PATH + 64];
    snprintf(sp, sizeof sp, "%s.settings.json", state);
    unlink(sp);
    json_object_set_new(rec, "images", json_real((double)tr.steps * p->batch));
    return LIRF_OK;
}

/* The deposit's paths: target, archives (paper, delta), recover nets, state. */
typedef struct { char dir[RP_PATH], t0[RP_PATH], target[RP_PATH], ap[RP_PATH + 32],
                 ad[RP_PATH + 32], rp[RP_PATH + 32], rd[RP_PATH + 32], state[RP_PATH + 32]; } dep_paths;

static void dep_paths_make(const rp_t *R, const lirf_step_def *d, int seed, dep_paths *P) {
    rp_step_dir(R, d, seed, P->dir);
    rp_net_path(R, lirf_repro_step_find("t0"), seed, P->t0);
    rp_net_path(R, d, seed, P->target);
    snprintf(P->ap, sizeof P->ap, "%s/deposit-paper.lirf", P->dir);
    snprintf(P->ad, sizeof P->ad, "%s/deposit-delta.lirf", P->dir);
    snprintf(P->rp, sizeof P->rp, "%s/recover-paper.safetensors", P->dir);
    snprintf(P->rd, sizeof P->rd, "%s/recover-delta.safetensors", P->dir);
    snprintf(P->state, sizeof P->state, "%s/state.safetensors", P->dir);
}

static void deposit_job(const rp_t *R, const lirf_step_def *d, int seed, const dep_paths *P,
                        lirf_deposit_job *j) {
    const lirf_repro_profile *p = &R->j->prof;
    lirf_deposit_job_default(j);
    j->model = P->t0, j->data = R->data, j->kind = R->kind, j->limit = (size_t)p->dep_limit;
    j->dep = R->dep, j->ndep = R->ndep;
    lirf_deposit_opts *o = &j->o;
    o->mode = LIRF_DEPOSIT_PAPER, o->epochs = p->dep_epochs, o->batch = p->batch;
    o->seed = (uint32_t)seed, o->holdout = 0.05f, o->holdout_every = -8, o->keep_best = 1;
    o->holdout_seed = seed, o->split = d->split, o->split_name[0] = 0;
    o->prune_rate = d->prune_rate;
    if (!d->at) o->lambda_at = 0;
    if (!d->pt) o->lambda_pt = 0;
    if (!d->re) o->lambda_re = 0;
    j->target_out = P->target, j->archive_out = P->ap, j->also_out[LIRF_DEPOSIT_DELTA] = P->ad;
    j->state_path = P->state, j->resume = 1, j->log = R->j->log;
}

/* F and H-Mean of the target against T0's Dep Acc (T0's record). */
static void score_target(rp_t *R, int seed, json_t *tm) {
    json_t *t0 = NULL;
    double d0 = NAN;
    if (rp_record_load(R, lirf_repro_step_find("t0"), seed, &t0) == LIRF_OK && t0)
        d0 = rp_num(t0, "metrics.dep_acc");
    json_decref(t0);
    double F, H;
    lirf_table1_f_hmean(d0, rp_num(tm, "pre_acc"), rp_num(tm, "dep_acc"), &F, &H);
    json_object_set_new(tm, "F", jnum(F));
    json_object_set_new(tm, "H_mean", jnum(H));
}

static lirf_status run_deposit(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    dep_paths P;
    dep_paths_make(R, d, seed, &P);
    LIRF_TRY(rp_mkdirs(P.dir));
    lirf_deposit_job j;
    deposit_job(R, d, seed, &P, &j);
    lirf_deposit_report dr;
    int resumed;
    LIRF_TRY(prepare_state(R, d, P.state, &resumed));
    if (resumed) json_object_set_new(rec, "resumed", json_true());
    LIRF_TRY(lirf_error_context(lirf_deposit_job_run(R->ctx, &j, &dr), "%s", d->what));
    json_t *m = json_object(), *tm = NULL;
    json_object_set_new(rec, "metrics", m);
    LIRF_TRY(eval_net(R, P.target, &tm));
    score_target(R, seed, tm);
    json_object_set_new(m, "target", tm);
    if (d->pt || d->re) { /* a trained deposit module: withdraw it */
        const char *arch[2] = {P.ap, P.ad}, *out[2] = {P.rp, P.rd}, *key[2] = {"recover_paper",
                                                                                "recover_delta"};
        for (int k = 0; k < 2; k++) {
            json_t *w = NULL, *e = NULL;
            LIRF_TRY(lirf_error_context(lirf_withdraw(R->ctx, P.target, arch[k], out[k], &w),
                                        "withdraw"));
            json_decref(w);
            LIRF_TRY(eval_net(R, out[k], &e));
            json_object_set_new(m, key[k], e);
        }
    }
    json_object_set_new(m, "module_parameters", json_integer((json_int_t)dr.deposit_params));
    json_object_set_new(m, "kept_holdout_dep_acc", jnum(dr.kept_holdout));
    json_object_set_new(m, "deposit_images", json_integer((json_int_t)dr.train_images));
    json_object_set_new(rec, "images",
                        json_real((double)dr.train_images * R->j->prof.dep_epochs));
    unlink(P.state);
    char sp[RP_PATH + 64];
    snprintf(sp, sizeof sp, "%s.settings.json", P.state);
    unlink(sp);
    return LIRF_OK;
}

static lirf_status run_students(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    const lirf_repro_profile *p = &R->j->prof;
    char dir[RP_PATH], t0[RP_PATH], tg[RP_PATH], tn[RP_PATH];
    rp_step_dir(R, d, seed, dir);
    rp_net_path(R, lirf_repro_step_find("t0"), seed, t0);
    rp_net_path(R, lirf_repro_step_find("deposit"), seed, tg);
    rp_net_path(R, lirf_repro_step_find("deposit-no-at"), seed, tn);
    LIRF_TRY(rp_mkdirs(dir));
    lirf_verify_opts o;
    lirf_verify_opts_default(&o);
    o.target = tg, o.original = t0, o.target_no_at = tn;
    o.data = R->data, o.kind = R->kind, o.dep = R->dep, o.ndep = R->ndep, o.out_dir = dir;
    o.seeds = 1, o.epochs = p->student_epochs, o.train_subset = p->student_subset;
    o.batch = p->batch;
    o.student_width = p->student_width, o.labels = 1, o.preset = "paper";
    o.mia = o.probe = o.withdraw_check = o.deposit_alone = o.relearn = 0;
    o.datafree_images = 0, o.train_control = 0;
    o.distill.seed = (uint32_t)seed, o.quiet = !R->j->log, o.command = "lirf reproduce";
    json_t *rep = NULL;
    LIRF_TRY(lirf_error_context(lirf_verify_run(R->ctx, &o, &rep), "%s", d->what));
    json_t *t3 = json_object_get(rep, "table3");
    json_object_set_new(rec, "metrics", json_pack("{s:O}", "table3", t3 ? t3 : json_null()));
    json_object_set_new(rec, "images", json_real((double)p->student_subset * p->student_epochs *
                                                 (double)json_array_size(t3)));
    json_decref(rep);
    return LIRF_OK;
}

/* Table 2's IL Train: the preservation-class net (independent-pre) learns
 * the deposit classes from their training samples by LwF (CE + 1 x KD at
 * T 2 on the preservation columns; SGD lr 0.01), the deposits' epochs. */
static lirf_status run_il(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    const lirf_repro_profile *p = &R->j->prof;
    char old[RP_PATH], out[RP_PATH];
    rp_net_path(R, lirf_repro_step_find("independent-pre"), seed, old);
    rp_net_path(R, d, seed, out);
    lirf_model_meta meta;
    lirf_net *net = NULL;
    LIRF_TRY(lirf_load_t0(R->ctx, old, NULL, R->j->log, &meta, &net));
    lirf_dataset ds;
    memset(&ds, 0, sizeof ds);
    lirf_status st = lirf_load_split(R->data, R->kind, 1, meta.cfg.in_h, NULL, 0,
                                     (size_t)p->limit, &ds);
    lirf_unlearn_opts o;
    lirf_unlearn_opts_default(&o);
    o.method = "lwf", o.epochs = p->dep_epochs, o.batch = p->batch, o.lr = 0.01f;
    o.alpha = 1.0f, o.T = 2.0f, o.seed = (uint32_t)seed, o.quiet = !R->j->log;
    lirf_unlearn_result res;
    if (st == LIRF_OK)
        st = lirf_unlearn_with(R->ctx, &lirf_learn_lwf, net, &meta, &ds, R->dep, R->ndep, &o, out,
                               &res);
    lirf_dataset_free(&ds);
    lirf_net_destroy(net);
    lirf_model_meta_free(&meta);
    LIRF_TRY(lirf_error_context(st, "%s", d->what));
    json_t *m;
    LIRF_TRY(eval_net(R, out, &m));
    json_object_set_new(rec, "metrics", m);
    json_object_set_new(rec, "images", json_real((double)res.forget_images * p->dep_epochs));
    return LIRF_OK;
}

/* ---- Table 4 ---- */
void rp_t4_job(const rp_t *R, const lirf_step_def *d, int seed, lirf_il_job *j, char *first) {
    const lirf_repro_profile *p = &R->j->prof;
    lirf_il_job_default(j);
    if (d->kind == LIRF_STEP_T4_METHOD) { /* the first task's net */
        const lirf_step_def *in[4];
        rp_step_inputs(d, in);
        rp_net_path(R, in[0], seed, first);
        j->first = first;
    }
    j->data = R->data, j->test_data = R->test_data, j->kind = R->kind;
    j->image_size = R->j->image_size, j->limit = (size_t)p->limit;
    j->T = d->tasks, j->ndel = rp_t4_ndel(R, d->tasks), j->method = d->method;
    j->width = p->width;
    j->o.train.epochs = d->kind == LIRF_STEP_T4_FIRST ? p->il_first_epochs : p->il_epochs;
    j->o.train.batch = p->batch, j->o.train.seed = (uint32_t)seed;
    j->o.quiet = !R->j->log, j->log = R->j->log;
}

static lirf_status run_t4(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    char dir[RP_PATH], out[RP_PATH], first[RP_PATH];
    lirf_il_job j;
    rp_t4_job(R, d, seed, &j, first);
    rp_net_path(R, d, seed, out);
    rp_step_dir(R, d, seed, dir);
    char od[RP_PATH];
    LIRF_TRY(rp_mkdirs(d->kind == LIRF_STEP_T4_FIRST ? dirname_of(out, od) : dir));
    j.out = out, j.work_dir = dir;
    lirf_il_report *r = malloc(sizeof *r);
    if (!r) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = lirf_error_context(lirf_il_job_run(R->ctx, &j, r), "%s", d->what);
    const lirf_il_method *m = lirf_il_method_find(j.first ? d->method : "baseline");
    json_t *mj = st == LIRF_OK ? lirf_il_report_json(r, m->name, m->label) : NULL;
    if (mj) json_object_set_new(rec, "metrics", mj);
    if (mj) json_object_set_new(rec, "images", json_real(r->images));
    free(r);
    return st == LIRF_OK && !mj ? LIRF_FAIL(LIRF_E_NOMEM, "out of host memory") : st;
}

/* Task-aware accuracies of the checkpoint at path (the test split read once) */
static lirf_status t4_eval(rp_t *R, const char *path, const lirf_il_tasks *tk, lirf_il_acc *acc) {
    lirf_model_meta meta;
    lirf_net *net = NULL;
    LIRF_TRY(lirf_checkpoint_load(R->ctx, path, &meta, &net));
    lirf_status st = LIRF_OK;
    if (!R->test.n)
        st = lirf_load_split(R->test_data ? R->test_data : R->data, R->kind, 0, meta.cfg.in_h,
                             NULL, 0, 0, &R->test);
    if (st == LIRF_OK) st = lirf_data_fits(&R->test, &meta, path);
    if (st == LIRF_OK) st = lirf_il_eval(R->ctx, net, tk, &R->test, &meta, acc);
    lirf_net_destroy(net);
    lirf_model_meta_free(&meta);
    return st;
}

/* Deposit k (1-based, of T - 1): task k's deletion classes from the target
 * of deposit k - 1 (T0 for the first), as the "deposit" step's protocol. A
 * deposit whose target is there and whose training state is gone is done. */
static lirf_status t4_deposit(rp_t *R, const lirf_step_def *d, int seed, const lirf_il_tasks *tk,
                              int k, const char *from, const char *target) {
    char dir[RP_PATH], arch[RP_PATH + 32], state[RP_PATH + 32];
    rp_step_dir(R, d, seed, dir);
    snprintf(arch, sizeof arch, "%s/deposit%d.lirf", dir, k);
    snprintf(state, sizeof state, "%s/state%d.safetensors", dir, k);
    if (access(target, R_OK) == 0 && access(state, F_OK) != 0 && access(arch, R_OK) == 0)
        return LIRF_OK;
    int32_t dep[LIRF_MAX_CLASSES];
    int ndep = lirf_il_deletion_classes(tk, k - 1, dep);
    lirf_deposit_job j;
    dep_paths P;
    dep_paths_make(R, d, seed, &P);
    deposit_job(R, d, seed, &P, &j);
    j.model = from, j.allow_kind = k > 1 ? "target" : NULL, j.dep = dep, j.ndep = ndep;
    j.target_out = target, j.archive_out = arch, j.also_out[LIRF_DEPOSIT_DELTA] = NULL;
    j.state_path = state;
    if (R->j->log)
        fprintf(R->j->log, "lirf reproduce: %s: deposit %d of %d (task %d's deletion classes)\n",
                d->id, k, tk->T - 1, k);
    lirf_deposit_report dr;
    LIRF_TRY(lirf_error_context(lirf_deposit_job_run(R->ctx, &j, &dr), "deposit %d", k));
    unlink(state);
    return LIRF_OK;
}

/* Table 4's LIRF: T0, then its deposits of each task's deletion classes in
 * turn, each evaluated task-aware (F against T0's deletion accuracy). */
static lirf_status run_t4_lirf(rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    char dir[RP_PATH], from[RP_PATH + 32], target[RP_PATH + 32];
    rp_step_dir(R, d, seed, dir);
    LIRF_TRY(rp_mkdirs(dir));
    rp_net_path(R, lirf_repro_step_find("t0"), seed, from);
    lirf_il_tasks tk = {R->K, d->tasks, rp_t4_ndel(R, d->tasks)};
    LIRF_TRY(lirf_il_tasks_check(&tk));
    lirf_il_report *r = malloc(sizeof *r);
    if (!r) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_il_report_init(r, &tk);
    lirf_il_acc acc;
    lirf_status st = t4_eval(R, from, &tk, &acc);
    for (int k = 0; st == LIRF_OK && k < tk.T; k++) /* every task's reference: T0's */
        r->ref[k] = acc.d_n[k] ? 100.0 * (double)acc.d_correct[k] / (double)acc.d_n[k] : NAN;
    if (st == LIRF_OK) lirf_il_report_step(r, 0, &acc);
    for (int k = 1; st == LIRF_OK && k < tk.T; k++) {
        if (k == tk.T - 1) rp_net_path(R, d, seed, target);
        else snprintf(target, sizeof target, "%s/target%d.safetensors", dir, k);
        st = t4_deposit(R, d, seed, &tk, k, from, target);
        if (st == LIRF_OK) st = t4_eval(R, target, &tk, &acc);
        if (st == LIRF_OK) lirf_il_report_step(r, k, &acc);
        snprintf(from, sizeof from, "%s", target);
    }
    double per = R->n_train * tk.ndel / R->K; /* for the rates: the deposits' images */
    r->images = (tk.T - 1) * per * 0.95 * R->j->prof.dep_epochs;
    json_t *mj = st == LIRF_OK ? lirf_il_report_json(r, "lirf", "LIRF") : NULL;
    if (mj) json_object_set_new(rec, "metrics", mj), json_object_set_new(rec, "images", json_real(r->images));
    free(r);
    return st == LIRF_OK && !mj ? LIRF_FAIL(LIRF_E_NOMEM, "out of host memory") : st;
}

/* {"t0": sha256, ...} of the nets the step reads. */
static lirf_status inputs_json(rp_t *R, const lirf_step_def *d, int seed, json_t **out) {
    const lirf_step_def *in[4];
    rp_step_inputs(d, in);
    *out = json_object();
    for (int k = 0; in[k]; k++) {
        char path[RP_PATH], hex[65];
        rp_net_path(R, in[k], seed, path);
        LIRF_TRY(lirf_file_sha256(path, hex));
        json_object_set_new(*out, in[k]->id, json_string(hex));
    }
    return LIRF_OK;
}

static json_t *device_json(lirf_ctx *ctx) {
    const lirf_device_info *di = lirf_ctx_device(ctx);
    return json_pack("{s:s,s:s}", "name", di->name, "platform", di->platform_name);
}

lirf_status rp_run_step(rp_t *R, const lirf_step_def *d, int seed, json_t **out) {
    json_t *in = NULL;
    LIRF_TRY(inputs_json(R, d, seed, &in));
    json_t *rec = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o}", "format", RP_RECORD_FORMAT, "dataset",
                            R->key, "step", d->id, "seed", seed, "settings", rp_settings(R, d),
                            "inputs", in);
    if (!rec) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    double t = lirf_now();
    lirf_status st = d->kind == LIRF_STEP_DEPOSIT      ? run_deposit(R, d, seed, rec)
                     : d->kind == LIRF_STEP_STUDENTS   ? run_students(R, d, seed, rec)
                     : d->kind == LIRF_STEP_IL         ? run_il(R, d, seed, rec)
                     : d->kind == LIRF_STEP_T4_LIRF    ? run_t4_lirf(R, d, seed, rec)
                     : d->kind == LIRF_STEP_T4_FIRST ||
                       d->kind == LIRF_STEP_T4_METHOD  ? run_t4(R, d, seed, rec)
                                                       : run_train(R, d, seed, rec);
    char net[RP_PATH], hex[65] = "";
    rp_net_path(R, d, seed, net);
    if (st == LIRF_OK && net[0]) st = lirf_file_sha256(net, hex);
    if (st != LIRF_OK) return json_decref(rec), st;
    if (net[0]) json_object_set_new(rec, "net_sha256", json_string(hex));
    json_object_set_new(rec, "seconds", json_real(lirf_now() - t));
    json_object_set_new(rec, "device", device_json(R->ctx));
    json_object_set_new(rec, "lirf_version", json_string(LIRF_VERSION));
    json_object_set_new(rec, "commit", json_string(LIRF_COMMIT));
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_set_new(rec, "finished", json_string(when));
    *out = rec;
    return LIRF_OK;
}
