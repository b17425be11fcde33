/* The LIRF deposit as a method run by lirf_fit (see lirf.h, docs/method.md).
 *
 * One step, on a batch of deposit-class samples x (labels y):
 *   T0:      feat0 = T0_lower(x),      z0 = upper(feat0)           (read only)
 *   target:  featT = target_lower(x),  zT = upper(featT)          (upper frozen)
 *   deposit: featR = deposit(x),       zR = upper(featR)
 *   recover: zm = Eq. 8 (preservation columns of zT, deposit columns of zR)
 *   L_all = CE(zT, y_random) - λ_at L_at(featT, feat0) + λ_kp KD_pre(zT, z0)
 *         + λ_pt KD_dep(zR, z0) + λ_re CE(zm, y)
 * and the gradients of L_all into target_lower and the deposit module. */
#include "lirf.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    lirf_lirf *l;
    const lirf_deposit_opts *o;
    lirf_loader *hold;
    lirf_tape *tl, *tu1, *tu2, *tr;
    lirf_buf yr;
    int32_t *yr_host;
} deposit_method;

enum { T_ALL, T_CE, T_AT, T_KP, T_PT, T_RE };

/* fresh random labels over all classes (L_kr), a function of (seed, step) */
static lirf_status random_labels(deposit_method *d, size_t gstep, int n, lirf_buf *yrv) {
    int K = d->l->K;
    for (int i = 0; i < n; i++)
        d->yr_host[i] = (int32_t)(lirf_mix64(((uint64_t)d->o->seed << 40) ^ ((uint64_t)gstep << 16) ^
                                             (uint64_t)i) % (uint64_t)K);
    *yrv = (lirf_buf){d->yr.mem, d->yr.off, (size_t)n};
    return lirf_buf_write(d->l->ctx, *yrv, d->yr_host, (size_t)n);
}

typedef struct {
    lirf_buf yrv, feat0, z0, featT, zT, featR, zR, zm;
} deposit_fwd;

static lirf_status deposit_forward(deposit_method *d, lirf_fit_step *s, deposit_fwd *f) {
    lirf_lirf *l = d->l;
    lirf_mode lower = d->o->bn_batch_stats ? LIRF_MODE_TRAIN : LIRF_MODE_TRAIN_BN_FIXED;
    int n = s->n;
    LIRF_TRY(random_labels(d, s->gstep, n, &f->yrv));
    LIRF_TRY(lirf_net_forward(l->t0_lower, s->ws, NULL, LIRF_MODE_EVAL, s->x, n, &f->feat0));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, NULL, LIRF_MODE_EVAL, f->feat0, n, &f->z0));
    LIRF_TRY(lirf_net_forward(l->target_lower, s->ws, d->tl, lower, s->x, n, &f->featT));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, d->tu1, LIRF_MODE_FROZEN, f->featT, n, &f->zT));
    LIRF_TRY(lirf_net_forward(l->deposit, s->ws, d->tr, lower, s->x, n, &f->featR));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, d->tu2, LIRF_MODE_FROZEN, f->featR, n, &f->zR));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * l->K, &f->zm));
    return lirf_merge_columns(s->ctx, f->zm, f->zT, f->zR, l->mask, n, l->K);
}

static lirf_status deposit_losses(deposit_method *d, lirf_fit_step *s, const deposit_fwd *f,
                                  int fc, int fhw) {
    lirf_lirf *l = d->l;
    const lirf_deposit_opts *o = d->o;
    int n = s->n, K = l->K;
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[T_CE], LIRF_NOBUF, f->zT, f->yrv, n, K));
    LIRF_TRY(lirf_at_loss_forward(s->ctx, s->term[T_AT], f->featT, f->feat0, n, fc, fhw, o->eps));
    LIRF_TRY(lirf_kd_forward(s->ctx, s->term[T_KP], f->zT, f->z0, l->pre_cols, K - l->ndep, n, K, o->T));
    if (o->pt_all)
        LIRF_TRY(lirf_kd_forward(s->ctx, s->term[T_PT], f->zR, f->z0, LIRF_NOBUF, K, n, K, o->T));
    else
        LIRF_TRY(lirf_kd_forward(s->ctx, s->term[T_PT], f->zR, f->z0, l->dep_cols, l->ndep, n, K, o->T));
    return lirf_softmax_ce_forward(s->ctx, s->term[T_RE], LIRF_NOBUF, f->zm, s->y, n, K);
}

/* the gradients of the logits: dzT (target), dzR (deposit path) */
static lirf_status logit_grads(deposit_method *d, lirf_fit_step *s, const deposit_fwd *f,
                               lirf_buf *dzT, lirf_buf *dzR) {
    lirf_lirf *l = d->l;
    const lirf_deposit_opts *o = d->o;
    int n = s->n, K = l->K;
    size_t nz = (size_t)n * K;
    lirf_buf dzm;
    LIRF_TRY(lirf_arena_get(s->ws, nz, dzT));
    LIRF_TRY(lirf_arena_get(s->ws, nz, dzR));
    LIRF_TRY(lirf_arena_get(s->ws, nz, &dzm));
    LIRF_TRY(lirf_buf_fill(s->ctx, *dzT, 0));
    LIRF_TRY(lirf_buf_fill(s->ctx, *dzR, 0));
    LIRF_TRY(lirf_buf_fill(s->ctx, dzm, 0));
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, *dzT, f->zT, f->yrv, n, K, 1.0f));
    if (o->lambda_kp != 0)
        LIRF_TRY(lirf_kd_backward(s->ctx, *dzT, f->zT, f->z0, l->pre_cols, K - l->ndep, n, K, o->T,
                                  o->lambda_kp));
    if (o->lambda_pt != 0 && o->pt_all)
        LIRF_TRY(lirf_kd_backward(s->ctx, *dzR, f->zR, f->z0, LIRF_NOBUF, K, n, K, o->T, o->lambda_pt));
    else if (o->lambda_pt != 0)
        LIRF_TRY(lirf_kd_backward(s->ctx, *dzR, f->zR, f->z0, l->dep_cols, l->ndep, n, K, o->T,
                                  o->lambda_pt));
    if (o->lambda_re == 0) return LIRF_OK;
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dzm, f->zm, s->y, n, K, o->lambda_re));
    lirf_buf dzTre = *dzT;
    if (o->re_deposit_only) /* the target's share goes to scratch, unused */
        LIRF_TRY(lirf_arena_get(s->ws, nz, &dzTre));
    return lirf_split_columns_acc(s->ctx, dzTre, *dzR, dzm, l->mask, n, K, 1.0f);
}

static lirf_status deposit_step(void *self, lirf_fit_step *s) {
    deposit_method *d = self;
    lirf_lirf *l = d->l;
    int fc, fh, fw;
    lirf_stage_shape(&l->meta.cfg, l->split, &fc, &fh, &fw);
    deposit_fwd f;
    lirf_buf dzT, dzR, dfT, dfR;
    LIRF_TRY(deposit_forward(d, s, &f));
    LIRF_TRY(deposit_losses(d, s, &f, fc, fh * fw));
    LIRF_TRY(logit_grads(d, s, &f, &dzT, &dzR));
    /* through the frozen upper part, into the two lower parts */
    LIRF_TRY(lirf_net_backward(l->upper, s->ws, d->tu1, dzT, &dfT));
    if (d->o->lambda_at != 0)
        LIRF_TRY(lirf_at_loss_backward(s->ctx, dfT, f.featT, f.feat0, s->n, fc, fh * fw, d->o->eps,
                                       -d->o->lambda_at));
    LIRF_TRY(lirf_net_backward(l->target_lower, s->ws, d->tl, dfT, NULL));
    LIRF_TRY(lirf_net_backward(l->upper, s->ws, d->tu2, dzR, &dfR));
    return lirf_net_backward(l->deposit, s->ws, d->tr, dfR, NULL);
}

static double deposit_total(void *self, const float *t) {
    const lirf_deposit_opts *o = ((deposit_method *)self)->o;
    /* in float, as the terms are */
    float all = t[T_CE] - o->lambda_at * t[T_AT] + o->lambda_kp * t[T_KP] + o->lambda_pt * t[T_PT] +
                o->lambda_re * t[T_RE];
    return all;
}

/* The target's Dep Acc (%) on held-out deposit-class samples. */
static lirf_status deposit_check(void *self, size_t gstep, double *score, int *stop) {
    (void)gstep, (void)stop;
    deposit_method *d = self;
    lirf_lirf *l = d->l;
    int64_t counts[2 * LIRF_MAX_CLASSES];
    LIRF_TRY(lirf_eval_counts(l->ctx, d->hold, l->K, lirf_target_logits, l, counts));
    *score = lirf_dep_acc(counts, l->dep, l->ndep);
    return LIRF_OK;
}

static void deposit_method_init(lirf_method *m, deposit_method *d) {
    lirf_lirf *l = d->l;
    memset(m, 0, sizeof *m);
    m->name = "deposit", m->loss_label = "deposit loss (L_all)", m->self = d;
    m->nparts = 2;
    m->part[0] = lirf_fit_net_part(l->target_lower, "target.", "target's lower part");
    m->part[1] = lirf_fit_net_part(l->deposit, "deposit.", "deposit module");
    m->nreads = 2, m->reads[0] = l->t0_lower, m->reads[1] = l->upper;
    static const char *names[] = {"L_all", "CE", "L_at", "L_kp", "L_pt", "L_re"};
    m->nterms = 6;
    for (int i = 0; i < 6; i++) m->term_name[i] = names[i];
    m->step = deposit_step, m->total = deposit_total;
    if (d->hold) {
        m->check = deposit_check, m->check_label = "held-out Dep Acc";
        m->check_samples = lirf_loader_samples(d->hold);
    }
}

static char *dep_state_opts(const lirf_lirf *l, const lirf_deposit_opts *o,
                            const lirf_deposit_io *io) {
    json_t *j = lirf_deposit_opts_json(o);
    json_object_del(j, "delta_codec"); /* how the archive is written, not how it trains */
    json_object_del(j, "calibration"); /* a later phase */
    if (io && io->samples_sha256) /* a sample-level deposit: which samples */
        json_object_set_new(j, "deposit_samples_sha256", json_string(io->samples_sha256));
    json_t *dc = json_array();
    for (int i = 0; i < l->ndep; i++) json_array_append_new(dc, json_integer(l->dep[i]));
    json_object_set_new(j, "deposit_classes", dc);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

static lirf_status deposit_fit_opts(lirf_lirf *l, const lirf_deposit_opts *o,
                                    const lirf_deposit_io *io, char *oj, char *fp,
                                    lirf_fit_opts *fo) {
    lirf_fit_opts_default(fo);
    fo->epochs = o->epochs;
    fo->sched = (lirf_schedule){.kind = o->lr_cosine ? LIRF_SCHED_COSINE_STEPS : LIRF_SCHED_CONST,
                                .lr = o->lr, .epochs = o->epochs};
    fo->momentum = o->momentum, fo->wd = o->wd;
    fo->aug = o->aug, fo->aug_seed = o->seed ^ 0x9e3779b9u, fo->copy_input = 1;
    fo->in_c = l->meta.cfg.in_c, fo->in_h = l->meta.cfg.in_h, fo->in_w = l->meta.cfg.in_w;
    fo->check_every = o->holdout_every, fo->keep_best = o->keep_best;
    if (!io || !io->state_path) return LIRF_OK;
    LIRF_TRY(lirf_upper_fingerprint(l->upper, fp));
    fo->state_path = io->state_path, fo->state_format = "lirf-deposit-state-1";
    fo->state_what = "deposit", fo->meta = &l->meta;
    fo->resume = io->resume, fo->save_every = io->save_every;
    fo->nkeys = 2;
    fo->keys[0] = (lirf_fit_state_key){"deposit_opts", oj, "was written with other deposit options", 1};
    fo->keys[1] = (lirf_fit_state_key){"upper_fingerprint_sha256", fp,
                                       "belongs to a deposit from another T0", 0};
    return LIRF_OK;
}

static void deposit_result(const lirf_fit_result *fr, lirf_deposit_result *res) {
    res->seconds = fr->seconds, res->images_per_s = fr->images_per_s;
    res->last[0] = fr->last_loss;
    for (int i = 1; i < 6; i++) res->last[i] = fr->terms[i];
    res->nlogged = fr->nchecks < LIRF_DEPOSIT_MAX_LOGGED ? fr->nchecks : LIRF_DEPOSIT_MAX_LOGGED;
    for (int i = 0; i < res->nlogged; i++)
        res->holdout_step[i] = fr->check_step[i], res->holdout_dep[i] = fr->check_score[i];
    res->kept_step = fr->kept_step, res->kept_dep = fr->kept_score, res->steps = fr->steps;
    res->resumed_epoch = fr->resumed_epoch, res->resumed_step = fr->resumed_step;
}

static lirf_status deposit_buffers(deposit_method *d, int batch) {
    lirf_ctx *ctx = d->l->ctx;
    if (!(d->yr_host = malloc((size_t)batch * sizeof *d->yr_host)))
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_tape **t[4] = {&d->tl, &d->tu1, &d->tu2, &d->tr};
    for (int i = 0; i < 4; i++) LIRF_TRY(lirf_tape_create(t[i]));
    return lirf_buf_alloc(ctx, (size_t)batch, &d->yr);
}

lirf_status lirf_deposit_train_io(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                                  const lirf_deposit_io *io, int quiet, lirf_deposit_result *res) {
    if (!l || !data || !o || !res) return LIRF_FAIL(LIRF_E_NULL, "deposit: NULL argument");
    memset(res, 0, sizeof *res);
    res->kept_step = -1;
    deposit_method d = {.l = l, .o = o, .hold = io ? io->holdout : NULL, .yr = LIRF_NOBUF};
    if (o->keep_best && !d.hold)
        return LIRF_FAIL(LIRF_E_INVALID, "deposit: keeping the best epoch needs held-out samples "
                                         "(--holdout)");
    if (o->holdout > 0 && !d.hold) /* never a share recorded but not held out */
        return LIRF_FAIL(LIRF_E_INVALID, "deposit: a hold-out share (%g) needs its held-out "
                                         "samples (io->holdout; lirf_deposit_job_run splits and "
                                         "loads them)", (double)o->holdout);
    char fp[65] = "", *oj = dep_state_opts(l, o, io);
    lirf_fit_opts fo;
    lirf_status st = oj ? deposit_fit_opts(l, o, io, oj, fp, &fo)
                        : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) st = deposit_buffers(&d, o->batch);
    lirf_progress pr;
    lirf_progress_init(&pr, quiet ? NULL : stderr);
    fo.progress = lirf_fit_print, fo.progress_user = &pr;
    lirf_method m;
    deposit_method_init(&m, &d);
    lirf_fit_source src = lirf_fit_loader(data);
    lirf_fit_result fr;
    if (st == LIRF_OK) st = lirf_fit(l->ctx, &m, &src, &fo, &fr);
    if (st == LIRF_OK) deposit_result(&fr, res);
    free(oj), free(d.yr_host);
    lirf_buf_free(l->ctx, &d.yr);
    lirf_tape_destroy(d.tl), lirf_tape_destroy(d.tu1), lirf_tape_destroy(d.tu2), lirf_tape_destroy(d.tr);
    return st;
}

lirf_status lirf_deposit_train(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                               int quiet, lirf_deposit_result *res) {
    return lirf_deposit_train_io(l, data, o, NULL, quiet, res);
}
