/* Task-incremental learning with selective forgetting (incremental.h): the
 * tasks, the methods of the paper's Table 4 as one lirf_fit method, the
 * task-aware evaluation and A / F / H. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "incremental.h"
#include "unlearn.h"

#define MASKED (-1e4f) /* a logit out of every softmax and argmax */

lirf_status lirf_il_tasks_check(const lirf_il_tasks *tk) {
    if (!tk) return LIRF_FAIL(LIRF_E_NULL, "incremental: NULL tasks");
    if (tk->T < 1 || tk->T > LIRF_IL_MAX_TASKS || tk->K < tk->T || tk->K % tk->T)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: %d tasks of %d classes (1 .. %d tasks, "
                         "an equal number of classes each)", tk->T, tk->K, LIRF_IL_MAX_TASKS);
    if (tk->ndel < 0 || tk->ndel >= tk->K / tk->T)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: %d deletion classes of a task of %d "
                         "(0 .. %d)", tk->ndel, tk->K / tk->T, tk->K / tk->T - 1);
    return LIRF_OK;
}

int lirf_il_deletion_classes(const lirf_il_tasks *tk, int t, int32_t *cls) {
    for (int i = 0; i < tk->ndel; i++) cls[i] = t * (tk->K / tk->T) + i;
    return tk->ndel;
}

static int task_of(const lirf_il_tasks *tk, int c) { return c / (tk->K / tk->T); }
static int is_deletion(const lirf_il_tasks *tk, int c) { return c % (tk->K / tk->T) < tk->ndel; }

static const lirf_il_method BASELINE = {"baseline", "Baseline", 0, 0, 0},
                            LWF = {"lwf", "LwF", 1, 0, 0}, LWF_SEL = {"lwf-sel", "LwF*", 2, 0, 0},
                            EWC = {"ewc", "EWC", 0, 2, 0}, EWC_SEL = {"ewc-sel", "EWC*", 0, 2, 1},
                            EWC_LWF = {"ewc-sel+lwf-sel", "EWC*+LwF*", 2, 2, 1},
                            MAS = {"mas", "MAS", 0, 1, 0},
                            MAS_LWF = {"mas+lwf-sel", "MAS+LwF*", 2, 1, 0};
const lirf_il_method *const lirf_il_methods[] = {&BASELINE, &LWF,     &LWF_SEL, &EWC, &EWC_SEL,
                                                 &EWC_LWF,  &MAS,     &MAS_LWF, NULL};

const lirf_il_method *lirf_il_method_find(const char *name) {
    for (int i = 0; name && lirf_il_methods[i]; i++)
        if (!strcmp(lirf_il_methods[i]->name, name)) return lirf_il_methods[i];
    return NULL;
}

void lirf_il_opts_default(lirf_il_opts *o) {
    memset(o, 0, sizeof *o);
    lirf_train_opts_default(&o->train);
    o->train.aug.pad = -1;
    o->alpha = 1.0f, o->T_kd = 2.0f;
    o->lambda_ewc = 100.0f, o->lambda_mas = 5.0f;
}

struct lirf_il {
    lirf_ctx *ctx;
    const lirf_il_method *m;
    lirf_il_tasks tk;
    lirf_il_opts o;
    lirf_net *net, *old;
    const lirf_dataset *train;
    const lirf_model_meta *meta;
    lirf_buf masks;  /* T x K int: 1 on task t's columns */
    lirf_buf kdcols; /* T x nkd int: task t's distilled columns */
    int nkd;
    lirf_buf imp;    /* the merged importance (EWC, MAS) */
    lirf_tape *tape;
    int closed;      /* steps 0 .. closed - 1 are closed */
    int cur;         /* the task being learnt */
};

static lirf_status make_tables(lirf_il *il) {
    int K = il->tk.K, T = il->tk.T, C = K / T;
    int32_t mask[LIRF_IL_MAX_TASKS * LIRF_MAX_CLASSES], cols[LIRF_MAX_CLASSES];
    il->nkd = il->m->lwf == 2 ? C - il->tk.ndel : C;
    for (int t = 0; t < T; t++)
        for (int c = 0; c < K; c++) mask[t * K + c] = task_of(&il->tk, c) == t;
    int n = 0;
    for (int c = 0; c < K; c++)
        if (il->m->lwf != 2 || !is_deletion(&il->tk, c)) cols[n++] = c;
    LIRF_TRY(lirf_buf_alloc(il->ctx, (size_t)T * K, &il->masks));
    LIRF_TRY(lirf_buf_write(il->ctx, il->masks, mask, (size_t)T * K));
    LIRF_TRY(lirf_buf_alloc(il->ctx, (size_t)n, &il->kdcols));
    return lirf_buf_write(il->ctx, il->kdcols, cols, (size_t)n);
}

static lirf_buf row(lirf_buf b, int i, int len) {
    return (lirf_buf){b.mem, b.off + (size_t)i * len, (size_t)len};
}

lirf_status lirf_il_create(lirf_ctx *ctx, const lirf_il_method *m, const lirf_il_tasks *tk,
                           const lirf_il_opts *o, lirf_net *net, const lirf_dataset *train,
                           const lirf_model_meta *meta, lirf_il **out) {
    if (!ctx || !m || !o || !net || !train || !meta || !out)
        return LIRF_FAIL(LIRF_E_NULL, "incremental: NULL argument");
    LIRF_TRY(lirf_il_tasks_check(tk));
    if (tk->K != lirf_net_cfg(net)->classes || tk->K != train->num_classes)
        return LIRF_FAIL(LIRF_E_SHAPE, "incremental: %d classes in the tasks, %d in the net, %d "
                         "in the data", tk->K, lirf_net_cfg(net)->classes, train->num_classes);
    if (m->lwf && tk->T > LIRF_FIT_MAX_TERMS - 1)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: %s over %d tasks (at most %d)", m->label,
                         tk->T, LIRF_FIT_MAX_TERMS - 1);
    lirf_il *il = calloc(1, sizeof *il);
    if (!il) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    *il = (lirf_il){.ctx = ctx, .m = m, .tk = *tk, .o = *o, .net = net, .train = train,
                    .meta = meta};
    if (il->o.train.aug.pad < 0) il->o.train.aug.pad = lirf_net_cfg(net)->in_h >= 32 ? 4 : 2;
    lirf_status st = make_tables(il);
    if (st == LIRF_OK) st = lirf_tape_create(&il->tape);
    if (st == LIRF_OK && m->reg) st = lirf_buf_alloc(ctx, lirf_net_nparams(net), &il->imp);
    if (st != LIRF_OK) return lirf_il_destroy(il), st;
    *out = il;
    return LIRF_OK;
}

void lirf_il_destroy(lirf_il *il) {
    if (!il) return;
    lirf_buf_free(il->ctx, &il->masks);
    lirf_buf_free(il->ctx, &il->kdcols);
    lirf_buf_free(il->ctx, &il->imp);
    lirf_tape_destroy(il->tape);
    lirf_net_destroy(il->old);
    free(il);
}

/* A loader over the samples of task t (preservation classes only: pres_only). */
static lirf_status task_loader(const lirf_il *il, const lirf_dataset *d, int t, int pres_only,
                               int batch, int shuffle, lirf_loader **out, int32_t **idx) {
    size_t n = 0;
    *idx = malloc((d->n ? (size_t)d->n : 1) * sizeof **idx);
    if (!*idx) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int i = 0; i < d->n; i++) {
        int c = d->labels[i];
        if (task_of(&il->tk, c) == t && !(pres_only && is_deletion(&il->tk, c))) (*idx)[n++] = i;
    }
    if (!n) return LIRF_FAIL(LIRF_E_INVALID, "incremental: task %d has no samples", t + 1);
    lirf_loader_opts lo = {.data = d, .index = *idx, .count = n, .batch = batch,
                           .shuffle = shuffle, .seed = il->o.train.seed ^ (uint32_t)(t * 7919)};
    memcpy(lo.mean, il->meta->mean, sizeof lo.mean);
    memcpy(lo.std, il->meta->std, sizeof lo.std);
    return lirf_loader_create(il->ctx, &lo, out);
}

/* The importance of task t's samples (EWC*: its preservation classes), of
 * its own head, merged: Omega = t ? (Omega + Omega_t) / 2 : Omega_t. */
static lirf_status merge_importance(lirf_il *il, int t) {
    lirf_loader *l = NULL;
    int32_t *idx = NULL;
    lirf_buf cur = LIRF_NOBUF;
    size_t np = lirf_net_nparams(il->net);
    lirf_status st = task_loader(il, il->train, t, il->m->reg_sel, il->o.train.batch, 0, &l, &idx);
    if (st == LIRF_OK) st = lirf_buf_alloc(il->ctx, np, &cur);
    if (st == LIRF_OK)
        st = lirf_importance(il->ctx, il->net, l, il->m->reg, row(il->masks, t, il->tk.K), cur);
    if (st == LIRF_OK && t == 0) st = lirf_buf_copy(il->ctx, il->imp, cur, np);
    if (st == LIRF_OK && t > 0) st = lirf_scale(il->ctx, il->imp, 0.5f, np);
    if (st == LIRF_OK && t > 0) st = lirf_axpy(il->ctx, il->imp, 0.5f, cur, np);
    lirf_buf_free(il->ctx, &cur);
    lirf_loader_destroy(l);
    free(idx);
    return st;
}

lirf_status lirf_il_close(lirf_il *il, int t) {
    if (!il) return LIRF_FAIL(LIRF_E_NULL, "incremental: NULL argument");
    if (t != il->closed)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: step %d closed after %d steps", t + 1,
                         il->closed);
    if (!il->old) LIRF_TRY(lirf_net_create(il->ctx, lirf_net_cfg(il->net), &il->old));
    LIRF_TRY(lirf_net_copy(il->old, il->net, NULL));
    if (il->m->reg) LIRF_TRY(merge_importance(il, t));
    il->closed = t + 1;
    return LIRF_OK;
}

lirf_buf lirf_il_importance(const lirf_il *il) { return il ? il->imp : LIRF_NOBUF; }

/* CE on task t's head; LwF on each old head (against the old net); the
 * penalty against the old net's parameters. Terms: CE, penalty, KD 1.. */
static lirf_status step(void *self, lirf_fit_step *s) {
    lirf_il *il = self;
    int n = s->n, K = il->tk.K, t = il->cur, lwf = il->m->lwf && t > 0;
    lirf_buf z, zt, dz, z0;
    if (lwf) LIRF_TRY(lirf_net_forward(il->old, s->ws, NULL, LIRF_MODE_EVAL, s->x, n, &z0));
    LIRF_TRY(lirf_net_forward(il->net, s->ws, il->tape, LIRF_MODE_TRAIN, s->x, n, &z));
    LIRF_TRY(lirf_task_logits(s->ctx, s->ws, row(il->masks, t, K), z, n, K, MASKED, &zt));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * K, &dz));
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, zt, s->y, n, K));
    /* the masked columns' gradient is exactly 0 (their softmax underflows) */
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, zt, s->y, n, K, 1.0f));
    for (int k = 0; lwf && k < t; k++) {
        lirf_buf cols = row(il->kdcols, k, il->nkd);
        LIRF_TRY(lirf_kd_forward(s->ctx, s->term[2 + k], z, z0, cols, il->nkd, n, K, il->o.T_kd));
        LIRF_TRY(lirf_kd_backward(s->ctx, dz, z, z0, cols, il->nkd, n, K, il->o.T_kd,
                                  il->o.alpha));
    }
    LIRF_TRY(lirf_net_backward(il->net, s->ws, il->tape, dz, NULL));
    if (!il->m->reg || t == 0) return LIRF_OK;
    size_t np = lirf_net_nparams(il->net);
    lirf_buf w = lirf_net_params(il->net), a = lirf_net_params(il->old);
    float lam = il->m->reg == 2 ? il->o.lambda_ewc : il->o.lambda_mas;
    LIRF_TRY(lirf_quad_penalty_forward(s->ctx, s->term[1], w, a, il->imp, np));
    return lirf_quad_penalty_backward(s->ctx, lirf_net_grads(il->net), w, a, il->imp, np, lam);
}

static double total(void *self, const float *term) {
    lirf_il *il = self;
    double L = term[0];
    if (il->m->reg) L += (il->m->reg == 2 ? il->o.lambda_ewc : il->o.lambda_mas) * term[1];
    for (int k = 0; il->m->lwf && k < il->cur; k++) L += il->o.alpha * term[2 + k];
    return L;
}

static void fit_options(const lirf_il *il, lirf_progress *pr, lirf_fit_opts *f) {
    const lirf_train_opts *o = &il->o.train;
    const lirf_net_config *c = lirf_net_cfg(il->net);
    lirf_fit_opts_default(f);
    f->epochs = o->epochs;
    f->sched = lirf_train_schedule(o);
    f->momentum = o->momentum, f->wd = o->wd;
    f->aug = o->aug, f->aug_seed = o->seed ^ 0x9e3779b9u ^ (uint32_t)il->cur, f->copy_input = 1;
    f->in_c = c->in_c, f->in_h = c->in_h, f->in_w = c->in_w;
    lirf_progress_init(pr, il->o.quiet ? NULL : stderr);
    f->progress = lirf_fit_print, f->progress_user = pr;
}

static const char *TERM_NAMES[LIRF_FIT_MAX_TERMS] = {"CE", "penalty", "KD 1", "KD 2", "KD 3",
                                                     "KD 4", "KD 5", "KD 6", "KD 7", "KD 8",
                                                     "KD 9", "KD 10"};

lirf_status lirf_il_learn(lirf_il *il, int t, double *images) {
    if (!il || !images) return LIRF_FAIL(LIRF_E_NULL, "incremental: NULL argument");
    if (t < 0 || t >= il->tk.T || t < il->closed)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: step %d of %d (%d closed)", t + 1,
                         il->tk.T, il->closed);
    if (t > 0 && il->closed < t) LIRF_TRY(lirf_il_close(il, t - 1));
    if (il->closed != t)
        return LIRF_FAIL(LIRF_E_INVALID, "incremental: step %d before step %d", t + 1, il->closed);
    il->cur = t;
    /* a fresh optimiser for every task: a sequence resumed from task nets
     * (which keep no momentum) trains as one run straight through */
    if (lirf_net_nparams(il->net)) LIRF_TRY(lirf_buf_fill(il->ctx, lirf_net_momentum(il->net), 0));
    lirf_method m = {.name = "incremental", .loss_label = "incremental loss", .self = il,
                     .nparts = 1, .nterms = 2 + (il->m->lwf ? t : 0), .step = step,
                     .total = total};
    memcpy(m.term_name, TERM_NAMES, sizeof m.term_name);
    m.part[0] = lirf_fit_net_part(il->net, "", NULL);
    if (t > 0) m.nreads = 1, m.reads[0] = il->old;
    lirf_loader *l = NULL;
    int32_t *idx = NULL;
    lirf_status st = task_loader(il, il->train, t, 0, il->o.train.batch, 1, &l, &idx);
    lirf_progress pr;
    lirf_fit_opts f;
    lirf_fit_result res;
    fit_options(il, &pr, &f);
    lirf_fit_source src = lirf_fit_loader(l);
    if (st == LIRF_OK) st = lirf_fit(il->ctx, &m, &src, &f, &res);
    if (st == LIRF_OK) *images = (double)lirf_loader_samples(l) * f.epochs;
    lirf_loader_destroy(l);
    free(idx);
    return st;
}

typedef struct {
    lirf_net *net;
    lirf_buf mask;
    int K;
} masked_net;

static lirf_status masked_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *out) {
    masked_net *m = user;
    lirf_buf z;
    LIRF_TRY(lirf_net_forward(m->net, ws, NULL, LIRF_MODE_EVAL, x, n, &z));
    return lirf_task_logits(lirf_net_ctx(m->net), ws, m->mask, z, n, m->K, MASKED, out);
}

/* task k's test images scored on task k's head, into acc's groups */
static lirf_status eval_task(lirf_il *il, const lirf_dataset *test, int k, lirf_il_acc *acc) {
    lirf_loader *l = NULL;
    int32_t *idx = NULL;
    int64_t counts[2 * LIRF_MAX_CLASSES];
    int K = il->tk.K;
    masked_net mn = {il->net, row(il->masks, k, K), K};
    lirf_status st = task_loader(il, test, k, 0, 256, 0, &l, &idx);
    if (st == LIRF_OK) st = lirf_eval_counts(il->ctx, l, K, masked_logits, &mn, counts);
    for (int c = 0; st == LIRF_OK && c < K; c++) {
        if (task_of(&il->tk, c) != k) continue;
        int64_t *cor = is_deletion(&il->tk, c) ? acc->d_correct : acc->p_correct;
        int64_t *num = is_deletion(&il->tk, c) ? acc->d_n : acc->p_n;
        cor[k] += counts[2 * c], num[k] += counts[2 * c + 1];
    }
    lirf_loader_destroy(l);
    free(idx);
    return st;
}

lirf_status lirf_il_eval(lirf_ctx *ctx, lirf_net *net, const lirf_il_tasks *tk,
                         const lirf_dataset *test, const lirf_model_meta *meta, lirf_il_acc *acc) {
    if (!ctx || !net || !test || !meta || !acc)
        return LIRF_FAIL(LIRF_E_NULL, "incremental: NULL argument");
    memset(acc, 0, sizeof *acc);
    lirf_il_opts o;
    lirf_il_opts_default(&o);
    lirf_il *il = NULL;
    LIRF_TRY(lirf_il_create(ctx, &BASELINE, tk, &o, net, test, meta, &il));
    lirf_status st = LIRF_OK;
    for (int k = 0; st == LIRF_OK && k < tk->T; k++) st = eval_task(il, test, k, acc);
    lirf_il_destroy(il);
    return st;
}

static double pct(int64_t c, int64_t n) { return n ? 100.0 * (double)c / (double)n : NAN; }

void lirf_il_metrics(const lirf_il_tasks *tk, int t, const lirf_il_acc *acc, const double *ref,
                     double *A, double *F, double *H) {
    int64_t ac = acc->p_correct[t] + acc->d_correct[t], an = acc->p_n[t] + acc->d_n[t], fn = 0;
    double fs = 0;
    for (int k = 0; k < t && k < tk->T; k++) {
        ac += acc->p_correct[k], an += acc->p_n[k];
        if (!acc->d_n[k]) continue;
        fs += (double)acc->d_n[k] * (ref[k] - pct(acc->d_correct[k], acc->d_n[k]));
        fn += acc->d_n[k];
    }
    *A = pct(ac, an);
    *F = fn ? fs / (double)fn : NAN;
    *H = isfinite(*A) && isfinite(*F) && *A + *F != 0 ? 2 * *A * *F / (*A + *F) : NAN;
}

void lirf_il_report_init(lirf_il_report *r, const lirf_il_tasks *tk) {
    memset(r, 0, sizeof *r);
    r->tk = *tk;
    for (int t = 0; t < LIRF_IL_MAX_TASKS; t++) r->ref[t] = r->A[t] = r->F[t] = r->H[t] = NAN;
}

void lirf_il_report_step(lirf_il_report *r, int t, const lirf_il_acc *acc) {
    if (t < 0 || t >= r->tk.T || t != r->steps) return;
    r->acc[t] = *acc;
    if (isnan(r->ref[t])) r->ref[t] = pct(acc->d_correct[t], acc->d_n[t]);
    lirf_il_metrics(&r->tk, t, acc, r->ref, &r->A[t], &r->F[t], &r->H[t]);
    r->steps = t + 1;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *afh(double A, double F, double H) {
    return json_pack("{s:o,s:o,s:o}", "A", jnum(A), "F", jnum(F), "H", jnum(H));
}

static json_t *step_json(const lirf_il_report *r, int t) {
    json_t *tasks = json_array();
    const lirf_il_acc *a = &r->acc[t];
    for (int k = 0; k <= t; k++)
        json_array_append_new(tasks, json_pack("{s:i,s:o,s:o,s:I,s:I}", "task", k + 1, "pre_acc",
                                               jnum(pct(a->p_correct[k], a->p_n[k])), "del_acc",
                                               jnum(pct(a->d_correct[k], a->d_n[k])),
                                               "pre_images", (json_int_t)a->p_n[k],
                                               "del_images", (json_int_t)a->d_n[k]));
    json_t *o = afh(r->A[t], r->F[t], r->H[t]);
    json_object_set_new(o, "step", json_integer(t + 1));
    json_object_set_new(o, "tasks", tasks);
    return o;
}

json_t *lirf_il_report_json(const lirf_il_report *r, const char *method, const char *label) {
    json_t *steps = json_array(), *ref = json_array();
    double sa = 0, sf = 0;
    int n = 0;
    for (int t = 0; t < r->steps; t++) {
        json_array_append_new(steps, step_json(r, t));
        json_array_append_new(ref, jnum(r->ref[t]));
        if (t >= 1) sa += r->A[t], sf += r->F[t], n++;
    }
    int last = r->steps - 1;
    double ma = n ? sa / n : NAN, mf = n ? sf / n : NAN;
    double mh = isfinite(ma) && isfinite(mf) && ma + mf != 0 ? 2 * ma * mf / (ma + mf) : NAN;
    return json_pack("{s:s,s:s,s:i,s:i,s:i,s:o,s:o,s:o,s:o,s:f,s:f}", "method", method, "label",
                     label, "tasks", r->tk.T, "classes_per_task", r->tk.K / r->tk.T,
                     "deletion_per_task", r->tk.ndel, "steps", steps, "ref_del", ref, "final",
                     last >= 0 ? afh(r->A[last], r->F[last], r->H[last]) : afh(NAN, NAN, NAN),
                     "mean", afh(ma, mf, mh), "images", r->images, "seconds", r->seconds);
}
