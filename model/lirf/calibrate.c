/* LIRF-C, the calibrated deposit module, as a method run by lirf_fit (lirf.h,
 * docs/lirf-c.md, docs/method.md section 2).
 *
 * One step, on a batch x of n deposit-class samples (labels y):
 *   xa = [x ; m mixups]       m = round(mix n), mixup i = l x_i + (1 - l) x_j,
 *                             j = (i + n/2) mod n, l ~ U(0.2, 0.8) from (seed, step, i)
 *   T0:      feat0 = T0_lower(xa), z0 = upper(feat0)                  (read only)
 *   target:  zT = upper(target_lower(xa))                             (read only)
 *   module:  featR = module(xa) (BN: T0's running statistics), zR = upper(featR)
 *   z~ = Eq. 8 (preservation columns of zT, deposit columns of zR)
 *   L = KD_T(z~, z0; all columns; xa) + l_ce CE(z~[0..n), y) + l_mse MSE(featR, feat0)
 * and its gradient into the module only. */
#include "lirf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    lirf_lirf *l;
    const lirf_deposit_opts *o;
    lirf_tape *tr, *tu;
} calib_method;

enum { C_ALL, C_KD, C_CE, C_MSE };

static int mix_count(const lirf_calib_opts *c, int n) {
    long m = lroundf(c->mix * (float)n);
    return m < 0 ? 0 : m > n ? n : (int)m;
}

/* xa = [x ; mixups], in the arena */
static lirf_status make_inputs(calib_method *d, lirf_fit_step *s, int m, lirf_buf *xa) {
    const lirf_net_config *cfg = &d->l->meta.cfg;
    size_t per = (size_t)cfg->in_c * cfg->in_h * cfg->in_w;
    int n = s->n;
    LIRF_TRY(lirf_arena_get(s->ws, per * (size_t)(n + m), xa));
    LIRF_TRY(lirf_buf_copy(s->ctx, *xa, s->x, per * (size_t)n));
    for (int i = 0; i < m; i++) {
        uint64_t h = lirf_mix64(((uint64_t)d->o->seed << 40) ^ ((uint64_t)s->gstep << 16) ^
                                (uint64_t)i ^ 0x6d69787570ull /* "mixup" */);
        float lam = 0.2f + 0.6f * (float)((double)(h >> 11) / 9007199254740992.0);
        int j = (i + n / 2) % n;
        lirf_buf row = {xa->mem, xa->off + per * (size_t)(n + i), per};
        lirf_buf xi = {s->x.mem, s->x.off + per * (size_t)i, per};
        lirf_buf xj = {s->x.mem, s->x.off + per * (size_t)j, per};
        LIRF_TRY(lirf_buf_copy(s->ctx, row, xi, per));
        LIRF_TRY(lirf_scale(s->ctx, row, lam, per));
        LIRF_TRY(lirf_axpy(s->ctx, row, 1.0f - lam, xj, per));
    }
    return LIRF_OK;
}

typedef struct {
    lirf_buf feat0, z0, zT, featR, zR, zm;
} calib_fwd;

static lirf_status calib_forward(calib_method *d, lirf_fit_step *s, lirf_buf xa, int na,
                                 calib_fwd *f) {
    lirf_lirf *l = d->l;
    lirf_buf featT;
    LIRF_TRY(lirf_net_forward(l->t0_lower, s->ws, NULL, LIRF_MODE_EVAL, xa, na, &f->feat0));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, NULL, LIRF_MODE_EVAL, f->feat0, na, &f->z0));
    LIRF_TRY(lirf_net_forward(l->target_lower, s->ws, NULL, LIRF_MODE_EVAL, xa, na, &featT));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, NULL, LIRF_MODE_EVAL, featT, na, &f->zT));
    LIRF_TRY(lirf_net_forward(l->deposit, s->ws, d->tr, LIRF_MODE_TRAIN_BN_FIXED, xa, na, &f->featR));
    LIRF_TRY(lirf_net_forward(l->upper, s->ws, d->tu, LIRF_MODE_FROZEN, f->featR, na, &f->zR));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)na * l->K, &f->zm));
    return lirf_merge_columns(s->ctx, f->zm, f->zT, f->zR, l->mask, na, l->K);
}

static lirf_status calib_step(void *self, lirf_fit_step *s) {
    calib_method *d = self;
    lirf_lirf *l = d->l;
    const lirf_calib_opts *c = &d->o->calib;
    int n = s->n, m = mix_count(c, n), na = n + m, K = l->K;
    int fc, fh, fw;
    lirf_stage_shape(&l->meta.cfg, l->split, &fc, &fh, &fw);
    size_t nz = (size_t)na * K, nf = (size_t)na * fc * fh * fw;
    lirf_buf xa, dzm, dzT, dzR, dfR;
    calib_fwd f;
    LIRF_TRY(make_inputs(d, s, m, &xa));
    LIRF_TRY(calib_forward(d, s, xa, na, &f));
    lirf_buf zm_x = {f.zm.mem, f.zm.off, (size_t)n * K};
    LIRF_TRY(lirf_kd_forward(s->ctx, s->term[C_KD], f.zm, f.z0, LIRF_NOBUF, K, na, K, c->T));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[C_CE], LIRF_NOBUF, zm_x, s->y, n, K));
    LIRF_TRY(lirf_mse_forward(s->ctx, s->term[C_MSE], f.featR, f.feat0, nf));
    /* the gradient of the recover logits, then its deposit columns */
    LIRF_TRY(lirf_arena_get(s->ws, nz, &dzm));
    LIRF_TRY(lirf_arena_get(s->ws, nz, &dzT));
    LIRF_TRY(lirf_arena_get(s->ws, nz, &dzR));
    LIRF_TRY(lirf_buf_fill(s->ctx, dzm, 0));
    LIRF_TRY(lirf_buf_fill(s->ctx, dzR, 0));
    LIRF_TRY(lirf_kd_backward(s->ctx, dzm, f.zm, f.z0, LIRF_NOBUF, K, na, K, c->T, 1.0f));
    lirf_buf dzm_x = {dzm.mem, dzm.off, (size_t)n * K};
    if (c->lambda_ce != 0)
        LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dzm_x, zm_x, s->y, n, K, c->lambda_ce));
    /* the target is frozen: its share goes to scratch */
    LIRF_TRY(lirf_split_columns_acc(s->ctx, dzT, dzR, dzm, l->mask, na, K, 1.0f));
    LIRF_TRY(lirf_net_backward(l->upper, s->ws, d->tu, dzR, &dfR));
    if (c->lambda_mse != 0)
        LIRF_TRY(lirf_mse_backward(s->ctx, dfR, f.featR, f.feat0, nf, c->lambda_mse));
    return lirf_net_backward(l->deposit, s->ws, d->tr, dfR, NULL);
}

static double calib_total(void *self, const float *t) {
    const lirf_calib_opts *c = &((calib_method *)self)->o->calib;
    float all = t[C_KD] + c->lambda_ce * t[C_CE] + c->lambda_mse * t[C_MSE];
    return all;
}

static void calib_method_init(lirf_method *m, calib_method *d) {
    lirf_lirf *l = d->l;
    memset(m, 0, sizeof *m);
    m->name = "calibrate", m->loss_label = "calibration loss", m->self = d;
    m->nparts = 1;
    m->part[0] = lirf_fit_net_part(l->deposit, "deposit.", "deposit module");
    m->nreads = 3, m->reads[0] = l->t0_lower, m->reads[1] = l->upper;
    m->reads[2] = l->target_lower;
    static const char *names[] = {"L", "KD", "CE", "MSE"};
    m->nterms = 4;
    for (int i = 0; i < 4; i++) m->term_name[i] = names[i];
    m->step = calib_step, m->total = calib_total;
}

/* The smallest rate >= o->prune_rate (steps of 0.01) within max_share. */
static lirf_status calib_prune(lirf_lirf *l, const lirf_deposit_opts *o, float *rate) {
    size_t lower = lirf_net_nparams(l->t0_lower);
    for (int k = 0;; k++) {
        float r = o->prune_rate + 0.01f * (float)k;
        if (r >= 0.995f)
            return LIRF_FAIL(LIRF_E_INVALID, "calibrated mode: no prune rate keeps the module "
                                             "within %g of the lower part",
                             (double)o->calib.max_share);
        LIRF_TRY(lirf_lirf_reprune(l, r));
        if ((double)lirf_net_nparams(l->deposit) <= (double)o->calib.max_share * (double)lower)
            return *rate = r, LIRF_OK;
    }
}

static lirf_status calib_check(const lirf_calib_opts *c) {
    if (c->epochs < 1 || !(c->lr > 0) || !(c->momentum >= 0 && c->momentum < 1) || !(c->T > 0) ||
        !(c->lambda_ce >= 0) || !(c->lambda_mse >= 0) || !(c->mix >= 0 && c->mix <= 1) ||
        !(c->max_share > 0 && c->max_share <= 1))
        return LIRF_FAIL(LIRF_E_INVALID, "calibrated mode: an option is out of range (epochs >= 1, "
                                         "lr > 0, momentum in [0, 1), T > 0, weights >= 0, mix "
                                         "in [0, 1], max share in (0, 1])");
    return LIRF_OK;
}

lirf_status lirf_calibrate_train(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                                 int quiet, float *rate, lirf_deposit_result *res) {
    if (!l || !data || !o || !rate || !res)
        return LIRF_FAIL(LIRF_E_NULL, "calibrate: NULL argument");
    LIRF_TRY(calib_check(&o->calib));
    memset(res, 0, sizeof *res);
    res->kept_step = -1;
    LIRF_TRY(calib_prune(l, o, rate));
    calib_method d = {.l = l, .o = o};
    lirf_fit_opts fo;
    lirf_fit_opts_default(&fo);
    fo.epochs = o->calib.epochs;
    fo.sched = (lirf_schedule){.kind = LIRF_SCHED_COSINE_STEPS, .lr = o->calib.lr,
                               .epochs = o->calib.epochs};
    fo.momentum = o->calib.momentum, fo.wd = 0, fo.copy_input = 1;
    fo.in_c = l->meta.cfg.in_c, fo.in_h = l->meta.cfg.in_h, fo.in_w = l->meta.cfg.in_w;
    lirf_progress pr;
    lirf_progress_init(&pr, quiet ? NULL : stderr);
    fo.progress = lirf_fit_print, fo.progress_user = &pr;
    lirf_status st = lirf_tape_create(&d.tr);
    if (st == LIRF_OK) st = lirf_tape_create(&d.tu);
    lirf_method m;
    calib_method_init(&m, &d);
    lirf_fit_source src = lirf_fit_loader(data);
    lirf_fit_result fr;
    if (st == LIRF_OK) st = lirf_fit(l->ctx, &m, &src, &fo, &fr);
    if (st == LIRF_OK) {
        res->seconds = fr.seconds, res->images_per_s = fr.images_per_s, res->steps = fr.steps;
        res->last[0] = fr.last_loss;
        for (int i = 1; i < 4; i++) res->last[i] = fr.terms[i];
    }
    lirf_tape_destroy(d.tr), lirf_tape_destroy(d.tu);
    return st;
}
