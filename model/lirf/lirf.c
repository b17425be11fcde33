/* LIRF deposit (lirf.h): options, construction and pruning, logits,
 * fingerprints and the binding hash, saving the target and the archive.
 * Withdrawal and several deposits: withdraw.c; the training steps:
 * deposit.c and calibrate.c. */
#include "lirf.h"
#include "lirf_priv.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "lirf_archive.h"

void lirf_deposit_opts_default(lirf_deposit_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = LIRF_DEPOSIT_PAPER;
    o->split = 2;
    o->prune_rate = 0.5f;
    o->lambda_at = 100, o->lambda_kp = 10, o->lambda_pt = 10, o->lambda_re = 10;
    o->T = 10, o->eps = 0.005f;
    o->epochs = 20, o->batch = 128;
    o->lr = 0.01f, o->momentum = 0.9f, o->wd = 5e-4f;
    o->seed = 1;
    o->aug = (lirf_aug_params){.pad = 4, .flip = 1, .max_rot_deg = 0};
    o->bn_batch_stats = 1;
    o->holdout_seed = -1;
    lirf_calib_opts_default(&o->calib);
}

void lirf_calib_opts_default(lirf_calib_opts *c) {
    *c = (lirf_calib_opts){.epochs = 2, .lr = 0.01f, .momentum = 0.9f, .T = 4, .lambda_ce = 0,
                           .lambda_mse = 1, .mix = 0.5f, .max_share = 0.5f};
}

int64_t lirf_deposit_holdout_seed(const lirf_deposit_opts *o) {
    return o->holdout_seed >= 0 ? o->holdout_seed : (int64_t)o->seed;
}

const char *lirf_deposit_mode_name(lirf_deposit_mode m) {
    return m == LIRF_DEPOSIT_EXACT        ? "exact"
           : m == LIRF_DEPOSIT_DELTA      ? "delta"
           : m == LIRF_DEPOSIT_CALIBRATED ? "calibrated"
                                          : "paper";
}

lirf_status lirf_deposit_mode_parse(const char *text, lirf_deposit_mode *m) {
    for (int i = 0; text && i < LIRF_DEPOSIT_MODES; i++)
        if (!strcmp(text, lirf_deposit_mode_name((lirf_deposit_mode)i)))
            return *m = (lirf_deposit_mode)i, LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID,
                     "deposit mode \"%.40s\": choose delta, exact, paper or calibrated",
                     text ? text : "(none)");
}

int lirf_deposit_mode_has_module(lirf_deposit_mode m) {
    return m == LIRF_DEPOSIT_PAPER || m == LIRF_DEPOSIT_CALIBRATED;
}

static json_t *calib_opts_json(const lirf_calib_opts *c) {
    return json_pack("{s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:s}", "epochs", c->epochs, "lr",
                     lirf_tidy(c->lr), "momentum", lirf_tidy(c->momentum), "T", lirf_tidy(c->T),
                     "lambda_ce", lirf_tidy(c->lambda_ce), "lambda_mse", lirf_tidy(c->lambda_mse),
                     "mix", lirf_tidy(c->mix), "max_share", lirf_tidy(c->max_share),
                     "lr_schedule", "cosine", "bn", "fixed (T0's running statistics)");
}

static json_t *deposit_opts_core_json(const lirf_deposit_opts *o);

json_t *lirf_deposit_opts_json(const lirf_deposit_opts *o) {
    json_t *j = deposit_opts_core_json(o);
    if (j && o->mode == LIRF_DEPOSIT_CALIBRATED)
        json_object_set_new(j, "calibration", calib_opts_json(&o->calib));
    return j;
}

static json_t *deposit_opts_core_json(const lirf_deposit_opts *o) {
    return json_pack("{s:s,s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:i,s:f,s:f,s:f,s:i,s:i,s:i,s:f,"
                     "s:s,s:b,s:b,s:s,s:f,s:I,s:i,s:s}",
                     "mode", lirf_deposit_mode_name(o->mode), "delta_codec",
                     lirf_delta_codec_name(o->codec), "split", o->split,
                     "prune_rate", lirf_tidy(o->prune_rate), "lambda_at", lirf_tidy(o->lambda_at),
                     "lambda_kp", lirf_tidy(o->lambda_kp), "lambda_pt", lirf_tidy(o->lambda_pt),
                     "lambda_re", lirf_tidy(o->lambda_re), "T", lirf_tidy(o->T), "eps", lirf_tidy(o->eps),
                     "epochs", o->epochs, "batch", o->batch, "lr", lirf_tidy(o->lr), "momentum",
                     lirf_tidy(o->momentum), "weight_decay", lirf_tidy(o->wd), "seed", (int)o->seed,
                     "crop_pad", o->aug.pad, "flip", o->aug.flip, "rotate",
                     lirf_tidy(o->aug.max_rot_deg), "bn", o->bn_batch_stats ? "batch" : "fixed",
                     "pt_all_classes", o->pt_all, "re_deposit_only", o->re_deposit_only,
                     "lr_schedule", o->lr_cosine ? "cosine" : "const", "holdout",
                     lirf_tidy(o->holdout), "holdout_seed",
                     (json_int_t)lirf_deposit_holdout_seed(o), "holdout_every", o->holdout_every, "keep",
                     o->keep_best ? "best" : "last");
}

float lirf_deposit_lr_at(const lirf_deposit_opts *o, size_t step, size_t total) {
    lirf_schedule s = {.kind = o->lr_cosine ? LIRF_SCHED_COSINE_STEPS : LIRF_SCHED_CONST,
                       .lr = o->lr, .epochs = 1};
    return lirf_schedule_lr(&s, step, total);
}

/* ---- construction and pruning ---- */
static lirf_status make_part(lirf_ctx *ctx, const lirf_net_config *whole, int first, int last,
                             const int *mid, lirf_net **out) {
    lirf_net_config c = *whole;
    c.first = first, c.last = last;
    memset(c.mid, 0, sizeof c.mid);
    if (mid) memcpy(c.mid, mid, sizeof c.mid);
    LIRF_TRY(lirf_net_create(ctx, &c, out));
    return lirf_net_init(*out, 0);
}

static lirf_status get_host(lirf_net *n, const char *name, float **out, const lirf_tensor_desc **d) {
    int i = lirf_net_find(n, name);
    if (i < 0) return LIRF_FAIL(LIRF_E_NOT_FOUND, "no tensor %s", name);
    *d = lirf_net_tensor(n, (size_t)i);
    *out = malloc(((*d)->n ? (*d)->n : 1) * sizeof(float));
    if (!*out) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = lirf_net_tensor_get(n, (size_t)i, *out);
    if (st != LIRF_OK) free(*out);
    return st;
}

typedef struct { double norm; int idx; } ranked;
static int by_norm_desc(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->norm != y->norm) return x->norm < y->norm ? 1 : -1;
    return x->idx - y->idx;
}
int lirf_cmp_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

/* The kept filters of one prunable conv (F filters of `per` weights each):
 * the top (1 - rate) by L1 norm, at least one, in their original order. */
static lirf_status rank_filters(const float *w, int F, size_t per, float rate, int32_t *kept,
                                int *keep_out) {
    ranked *r = malloc((size_t)F * sizeof *r);
    if (!r) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int f = 0; f < F; f++) {
        double s1 = 0;
        for (size_t k = 0; k < per; k++) s1 += fabs(w[(size_t)f * per + k]);
        r[f] = (ranked){s1, f};
    }
    qsort(r, (size_t)F, sizeof *r, by_norm_desc);
    int keep = (int)lround((1.0 - rate) * F);
    if (keep < 1) keep = 1;
    if (keep > F) keep = F;
    int *idx = malloc((size_t)keep * sizeof *idx);
    if (!idx) return free(r), LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int k = 0; k < keep; k++) idx[k] = r[k].idx;
    qsort(idx, (size_t)keep, sizeof *idx, lirf_cmp_int);
    for (int k = 0; k < keep; k++) kept[k] = idx[k];
    free(idx), free(r);
    *keep_out = keep;
    return LIRF_OK;
}

/* L1-norm filter ranking (Li et al. 2016) of each residual block's prunable
 * conv (the descriptor's prune_out) in the lower part. */
static lirf_status plan_pruning(lirf_lirf *l, float rate) {
    const lirf_arch_desc *d = lirf_arch_describe(l->meta.cfg.arch);
    memset(l->mid, 0, sizeof l->mid);
    size_t cap = 0;
    for (int s = 0; s <= l->split; s++) {
        int ch, h, w;
        lirf_stage_shape(&l->meta.cfg, s, &ch, &h, &w);
        cap += (size_t)d->stage[s].blocks * (size_t)ch;
    }
    l->kept = malloc((cap ? cap : 1) * sizeof *l->kept);
    if (!l->kept) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    l->nkept = 0;
    if (rate <= 0) return LIRF_OK;
    for (int s = 0; s <= l->split; s++)
        for (int b = 0; b < d->stage[s].blocks; b++) {
            char pre[48], name[96];
            lirf_block_prefix(d, s, b, pre, sizeof pre);
            snprintf(name, sizeof name, "%s.%s.weight", pre, d->prune_out);
            float *w;
            const lirf_tensor_desc *td;
            LIRF_TRY(get_host(l->t0_lower, name, &w, &td));
            int keep = 0, F = td->shape[0];
            lirf_status st = rank_filters(w, F, td->n / (size_t)F, rate, l->kept + l->nkept, &keep);
            free(w);
            LIRF_TRY(st);
            l->nkept += (size_t)keep;
            l->mid[lirf_block_index(d, s, b)] = keep;
        }
    return LIRF_OK;
}

/* Which block a pruned tensor of the deposit module belongs to, and whether
 * it is the conv that reads the pruned channels (prune_in) */
static lirf_status pruned_block(const lirf_lirf *l, const char *name, int *block, int *reads) {
    const lirf_arch_desc *d = lirf_arch_describe(l->meta.cfg.arch);
    for (int s = 0; s <= l->split; s++)
        for (int b = 0; b < d->stage[s].blocks; b++) {
            char pre[48];
            lirf_block_prefix(d, s, b, pre, sizeof pre);
            size_t n = strlen(pre);
            if (strncmp(name, pre, n) || name[n] != '.') continue;
            *block = lirf_block_index(d, s, b);
            const char *rest = name + n + 1;
            *reads = !strncmp(rest, d->prune_in, strlen(d->prune_in)) &&
                     rest[strlen(d->prune_in)] == '.';
            return LIRF_OK;
        }
    return LIRF_FAIL(LIRF_E_SHAPE, "unexpected pruned tensor %s", name);
}

/* Fills the deposit module from T0's lower part: equal shapes copied,
 * pruned blocks gathered along the kept filters. */
static lirf_status fill_deposit(lirf_lirf *l) {
    for (size_t i = 0; i < lirf_net_ntensors(l->deposit); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(l->deposit, i);
        int j = lirf_net_find(l->t0_lower, d->name);
        if (j < 0) return LIRF_FAIL(LIRF_E_NOT_FOUND, "T0 has no %s", d->name);
        const lirf_tensor_desc *e = lirf_net_tensor(l->t0_lower, (size_t)j);
        if (e->n == d->n || d->kind == LIRF_T_COUNT) continue; /* copied below */
        /* a pruned tensor: find its block's kept list */
        int blk = 0, reads = 0;
        LIRF_TRY(pruned_block(l, d->name, &blk, &reads));
        size_t off = 0;
        for (int k = 0; k < blk; k++) off += (size_t)l->mid[k];
        const int32_t *kept = l->kept + off;
        int keep = l->mid[blk];
        float *src;
        const lirf_tensor_desc *sd;
        LIRF_TRY(get_host(l->t0_lower, d->name, &src, &sd));
        float *dst = malloc(d->n * sizeof *dst);
        if (!dst) {
            free(src);
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        if (reads) { /* (out, mid, 3, 3): gather input channels */
            int O = sd->shape[0], I = sd->shape[1];
            size_t kk = (size_t)sd->shape[2] * sd->shape[3];
            for (int o = 0; o < O; o++)
                for (int k = 0; k < keep; k++)
                    memcpy(dst + ((size_t)o * keep + k) * kk, src + ((size_t)o * I + kept[k]) * kk,
                           kk * sizeof *dst);
        } else { /* prune_out (mid, in, 3, 3) rows, or prune_bn vectors (mid) */
            size_t per = sd->n / (size_t)sd->shape[0];
            for (int k = 0; k < keep; k++)
                memcpy(dst + (size_t)k * per, src + (size_t)kept[k] * per, per * sizeof *dst);
        }
        lirf_status st = lirf_net_tensor_set(l->deposit, i, dst);
        free(dst), free(src);
        LIRF_TRY(st);
    }
    /* everything else (stem, conv2/bn2/downsample of pruned blocks, counters) */
    for (size_t i = 0; i < lirf_net_ntensors(l->deposit); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(l->deposit, i);
        int j = lirf_net_find(l->t0_lower, d->name);
        const lirf_tensor_desc *e = lirf_net_tensor(l->t0_lower, (size_t)j);
        if (e->n != d->n) continue;
        if (d->kind == LIRF_T_COUNT) {
            int64_t v;
            LIRF_TRY(lirf_net_tensor_get(l->t0_lower, (size_t)j, &v));
            LIRF_TRY(lirf_net_tensor_set(l->deposit, i, &v));
        } else {
            LIRF_TRY(lirf_buf_copy(l->ctx, lirf_net_tensor_buf(l->deposit, i),
                                   lirf_net_tensor_buf(l->t0_lower, (size_t)j), d->n));
        }
    }
    return LIRF_OK;
}

lirf_status lirf_lirf_masks(lirf_lirf *l) {
    int K = l->K;
    int32_t mask[LIRF_MAX_CLASSES], pre[LIRF_MAX_CLASSES], dep[LIRF_MAX_CLASSES];
    int np = 0, nd = 0;
    memset(mask, 0, sizeof mask);
    for (int j = 0; j < l->ndep; j++) mask[l->dep[j]] = 1;
    for (int k = 0; k < K; k++) {
        if (mask[k]) dep[nd++] = k;
        else pre[np++] = k;
    }
    LIRF_TRY(lirf_buf_alloc(l->ctx, (size_t)K, &l->mask));
    LIRF_TRY(lirf_buf_write(l->ctx, l->mask, mask, (size_t)K));
    LIRF_TRY(lirf_buf_alloc(l->ctx, (size_t)(np ? np : 1), &l->pre_cols));
    if (np) LIRF_TRY(lirf_buf_write(l->ctx, l->pre_cols, pre, (size_t)np));
    LIRF_TRY(lirf_buf_alloc(l->ctx, (size_t)nd, &l->dep_cols));
    LIRF_TRY(lirf_buf_write(l->ctx, l->dep_cols, dep, (size_t)nd));
    return LIRF_OK;
}

lirf_status lirf_check_deposit_classes(const int32_t *dep, int ndep, int K) {
    if (ndep < 1 || ndep >= K)
        return LIRF_FAIL(LIRF_E_INVALID, "%d deposit classes: give between 1 and %d of the %d",
                         ndep, K - 1, K);
    for (int j = 0; j < ndep; j++) {
        if (dep[j] < 0 || dep[j] >= K)
            return LIRF_FAIL(LIRF_E_INVALID, "deposit class %d outside [0, %d)", dep[j], K);
        for (int i = 0; i < j; i++)
            if (dep[i] == dep[j]) return LIRF_FAIL(LIRF_E_INVALID, "deposit class %d twice", dep[j]);
    }
    return LIRF_OK;
}

/* The names of arch's residual stages, comma separated, into buf. */
static void split_names(const lirf_arch_desc *d, char *buf, size_t cap) {
    size_t k = 0;
    buf[0] = 0;
    for (int s = 0; s < d->nstages && k < cap; s++)
        if (d->stage[s].kind == LIRF_STAGE_RES)
            k += (size_t)snprintf(buf + k, cap - k, "%s%s", k ? ", " : "", d->stage[s].name);
}

lirf_status lirf_check_split(lirf_arch arch, int split) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    if (!d || !d->prune_out)
        return LIRF_FAIL(LIRF_E_INVALID, "LIRF needs a network of residual stages (got %s)",
                         lirf_arch_name(arch));
    if (split < 0 || split >= d->nstages || d->stage[split].kind != LIRF_STAGE_RES) {
        char names[128];
        split_names(d, names, sizeof names);
        return LIRF_FAIL(LIRF_E_INVALID, "split %d: choose one of %s", split, names);
    }
    return LIRF_OK;
}

lirf_status lirf_split_resolve(lirf_arch arch, lirf_deposit_opts *o) {
    if (!o) return LIRF_FAIL(LIRF_E_NULL, "lirf_split_resolve: NULL argument");
    if (!o->split_name[0]) return LIRF_OK;
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    int s = lirf_stage_parse(arch, o->split_name);
    if (d && d->prune_out && (s < 0 || d->stage[s].kind != LIRF_STAGE_RES)) {
        char names[128];
        split_names(d, names, sizeof names);
        return LIRF_FAIL(LIRF_E_INVALID, "--split %s: T0 is a %s; choose one of %s",
                         o->split_name, lirf_arch_name(arch), names);
    }
    o->split = s;
    return lirf_check_split(arch, s);
}

/* What a checkpoint of lirf_kind `kind` is, for messages. */
static const char *kind_description(const char *kind) {
    if (!strcmp(kind, "target")) return "a target net of lirf deposit or lirf unlearn";
    if (!strcmp(kind, "recover")) return "a recover net of lirf withdraw";
    if (!strcmp(kind, "deposit_module")) return "a deposit module of a deposit archive";
    return "a checkpoint of another kind";
}

lirf_status lirf_check_t0_kind(const char *path, const char *kind, const char *allow) {
    if (!kind || !strcmp(kind, "model")) return LIRF_OK;
    if (allow && !strcmp(allow, kind)) return LIRF_OK;
    if (allow)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s is %s (lirf_kind \"%.40s\"), and --allow-kind names \"%.40s\": give "
                         "--allow-kind %.40s to deposit from it", path ? path : "T0",
                         kind_description(kind), kind, allow, kind);
    return LIRF_FAIL(LIRF_E_INVALID,
                     "%s is %s (lirf_kind \"%.40s\"), not an original network: lirf deposit "
                     "starts from a net that lirf train wrote; to deposit from this one on "
                     "purpose (a second deposit), give --allow-kind %.40s",
                     path ? path : "T0", kind_description(kind), kind, kind);
}

lirf_status lirf_lirf_alloc(lirf_ctx *ctx, const lirf_model_meta *meta, int split,
                            const int32_t *dep, int ndep, lirf_lirf **out) {
    LIRF_TRY(lirf_check_split(meta->cfg.arch, split));
    LIRF_TRY(lirf_check_deposit_classes(dep, ndep, meta->cfg.classes));
    lirf_lirf *l = calloc(1, sizeof *l);
    if (!l) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    l->ctx = ctx;
    l->meta = *meta;
    l->meta.class_names = meta->class_names; /* borrowed */
    l->split = split;
    l->K = meta->cfg.classes;
    l->ndep = ndep;
    memcpy(l->dep, dep, (size_t)ndep * sizeof *dep);
    *out = l;
    return LIRF_OK;
}

lirf_status lirf_lirf_create(lirf_ctx *ctx, lirf_net *t0, const lirf_model_meta *meta, int split,
                             const int32_t *dep, int ndep, float prune_rate, lirf_lirf **out) {
    if (!ctx || !t0 || !meta || !dep || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf: NULL argument");
    if (!(prune_rate >= 0 && prune_rate < 1))
        return LIRF_FAIL(LIRF_E_INVALID, "prune rate %g outside [0, 1)", (double)prune_rate);
    lirf_lirf *l = NULL;
    LIRF_TRY(lirf_lirf_alloc(ctx, meta, split, dep, ndep, &l));
    const lirf_net_config *c = &meta->cfg;
    int last = lirf_arch_stages(c->arch) - 1;
    lirf_status st;
    if ((st = make_part(ctx, c, 0, split, NULL, &l->t0_lower)) ||
        (st = lirf_net_copy(l->t0_lower, t0, NULL)) ||
        (st = make_part(ctx, c, split + 1, last, NULL, &l->upper)) ||
        (st = lirf_net_copy(l->upper, t0, NULL)) ||
        (st = make_part(ctx, c, 0, split, NULL, &l->target_lower)) ||
        (st = lirf_net_copy(l->target_lower, t0, NULL)) || (st = plan_pruning(l, prune_rate)) ||
        (st = make_part(ctx, c, 0, split, l->mid, &l->deposit)) ||
        (st = fill_deposit(l)) || (st = lirf_lirf_masks(l))) {
        lirf_lirf_destroy(l);
        return st;
    }
    l->prune_rate = prune_rate;
    *out = l;
    return LIRF_OK;
}

lirf_status lirf_lirf_reprune(lirf_lirf *l, float rate) {
    if (!l) return LIRF_FAIL(LIRF_E_NULL, "lirf_lirf_reprune: NULL argument");
    if (!(rate >= 0 && rate < 1))
        return LIRF_FAIL(LIRF_E_INVALID, "prune rate %g outside [0, 1)", (double)rate);
    lirf_net_destroy(l->deposit), l->deposit = NULL;
    free(l->kept), l->kept = NULL, l->nkept = 0;
    LIRF_TRY(plan_pruning(l, rate));
    LIRF_TRY(make_part(l->ctx, &l->meta.cfg, 0, l->split, l->mid, &l->deposit));
    LIRF_TRY(fill_deposit(l));
    l->prune_rate = rate;
    return LIRF_OK;
}

void lirf_lirf_destroy(lirf_lirf *l) {
    if (!l) return;
    lirf_net_destroy(l->t0_lower);
    lirf_net_destroy(l->upper);
    lirf_net_destroy(l->target_lower);
    lirf_net_destroy(l->deposit);
    lirf_buf_free(l->ctx, &l->mask);
    lirf_buf_free(l->ctx, &l->pre_cols);
    lirf_buf_free(l->ctx, &l->dep_cols);
    free(l->kept);
    json_decref(l->predecessor);
    free(l);
}


/* ---- logits ---- */
lirf_status lirf_target_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_lirf *l = user;
    lirf_buf f;
    LIRF_TRY(lirf_net_forward(l->target_lower, ws, NULL, LIRF_MODE_EVAL, x, n, &f));
    return lirf_net_forward(l->upper, ws, NULL, LIRF_MODE_EVAL, f, n, logits);
}

lirf_status lirf_deposit_path_logits(void *user, lirf_arena *ws, lirf_buf x, int n,
                                     lirf_buf *logits) {
    lirf_lirf *l = user;
    lirf_buf f;
    LIRF_TRY(lirf_net_forward(l->deposit, ws, NULL, LIRF_MODE_EVAL, x, n, &f));
    return lirf_net_forward(l->upper, ws, NULL, LIRF_MODE_EVAL, f, n, logits);
}

lirf_status lirf_recover_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_lirf *l = user;
    lirf_buf zt, zr;
    LIRF_TRY(lirf_target_logits(l, ws, x, n, &zt));
    LIRF_TRY(lirf_deposit_path_logits(l, ws, x, n, &zr));
    LIRF_TRY(lirf_arena_get(ws, (size_t)n * l->K, logits));
    return lirf_merge_columns(l->ctx, *logits, zt, zr, l->mask, n, l->K);
}

/* ---- fingerprint ---- */
lirf_status lirf_upper_fingerprint(lirf_net *upper, char hex[65]) {
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    for (size_t i = 0; i < lirf_net_ntensors(upper); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(upper, i);
        if (d->kind == LIRF_T_COUNT) continue;
        float *v = malloc(d->n * sizeof *v);
        if (!v) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        lirf_status st = lirf_net_tensor_get(upper, i, v);
        if (st != LIRF_OK) {
            free(v);
            return st;
        }
        crypto_hash_sha256_update(&s, (const unsigned char *)d->name, strlen(d->name) + 1);
        int32_t shape[5] = {d->ndim, d->shape[0], d->shape[1], d->shape[2], d->shape[3]};
        crypto_hash_sha256_update(&s, (const unsigned char *)shape, sizeof shape);
        crypto_hash_sha256_update(&s, (const unsigned char *)v, d->n * sizeof *v);
        free(v);
    }
    unsigned char h[32];
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return LIRF_OK;
}

/* ---- the target binding (docs/archive.md, "What binds an archive to its target") ---- */
typedef struct {
    const char *name;
    size_t i;
} named_tensor;

static int by_tensor_name(const void *a, const void *b) {
    return strcmp(((const named_tensor *)a)->name, ((const named_tensor *)b)->name);
}

static void hash_u32(crypto_hash_sha256_state *s, uint32_t v) {
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    crypto_hash_sha256_update(s, b, sizeof b);
}

/* One tensor into s: name NUL dtype NUL ndim dims (uint32 LE) bytes. */
static lirf_status hash_tensor(crypto_hash_sha256_state *s, lirf_net *net, size_t i) {
    const lirf_tensor_desc *d = lirf_net_tensor(net, i);
    int count = d->kind == LIRF_T_COUNT;
    size_t bytes = count ? sizeof(int64_t) : d->n * sizeof(float);
    void *v = malloc(bytes ? bytes : 1);
    if (!v) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = lirf_net_tensor_get(net, i, v);
    if (st == LIRF_OK) {
        crypto_hash_sha256_update(s, (const unsigned char *)d->name, strlen(d->name) + 1);
        crypto_hash_sha256_update(s, (const unsigned char *)(count ? "I64" : "F32"), 4);
        hash_u32(s, (uint32_t)d->ndim);
        for (int j = 0; j < d->ndim; j++) hash_u32(s, (uint32_t)d->shape[j]);
        crypto_hash_sha256_update(s, v, bytes);
    }
    free(v);
    return st;
}

lirf_status lirf_lower_sha256(lirf_net *lower, char hex[65], size_t *ntensors) {
    if (!lower || !hex) return LIRF_FAIL(LIRF_E_NULL, "lirf_lower_sha256: NULL argument");
    size_t nt = lirf_net_ntensors(lower);
    named_tensor *ord = malloc((nt ? nt : 1) * sizeof *ord);
    if (!ord) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; i < nt; i++) ord[i] = (named_tensor){lirf_net_tensor(lower, i)->name, i};
    qsort(ord, nt, sizeof *ord, by_tensor_name);
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, (const unsigned char *)LIRF_LOWER_HASH_CONTEXT,
                              sizeof LIRF_LOWER_HASH_CONTEXT); /* with its NUL */
    lirf_status st = LIRF_OK;
    for (size_t k = 0; k < nt && st == LIRF_OK; k++) st = hash_tensor(&s, lower, ord[k].i);
    free(ord);
    if (st != LIRF_OK) return st;
    unsigned char h[32];
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    if (ntensors) *ntensors = nt;
    return LIRF_OK;
}

/* ---- saving ---- */
void lirf_class_list_text(char *out, size_t n, const int32_t *v, int count) {
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < count && k + 12 < n; i++)
        k += (size_t)snprintf(out + k, n - k, "%s%d", i ? "," : "", v[i]);
}

lirf_status lirf_save_target(lirf_lirf *l, const char *path, const lirf_deposit_opts *o) {
    lirf_model_meta m = l->meta;
    snprintf(m.split, sizeof m.split, "%s", lirf_stage_name(m.cfg.arch, l->split));
    memset(m.cfg.mid, 0, sizeof m.cfg.mid);
    char dep[4096];
    lirf_class_list_text(dep, sizeof dep, l->dep, l->ndep);
    json_t *oj = lirf_deposit_opts_json(o);
    char *ojs = json_dumps(oj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(oj);
    char pdep[4096] = "";
    json_t *pc = json_object_get(l->predecessor, "deposit_classes");
    for (size_t i = 0, k = 0; i < json_array_size(pc) && k + 12 < sizeof pdep; i++)
        k += (size_t)snprintf(pdep + k, sizeof pdep - k, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_array_get(pc, i)));
    const char *plower = json_string_value(json_object_get(l->predecessor, "lower_sha256"));
    const char *keys[] = {"lirf_kind", "deposit_classes", "deposit_options",
                          "predecessor_deposit_classes", "predecessor_lower_sha256"};
    const char *vals[] = {"target", dep, ojs ? ojs : "{}", pdep, plower ? plower : ""};
    lirf_net *nets[2] = {l->target_lower, l->upper};
    const char *pre[2] = {"", ""};
    lirf_status st = lirf_checkpoint_save(path, nets, pre, 2, &m, keys, vals, pdep[0] ? 5 : 3);
    free(ojs);
    return st;
}

static size_t count_params(lirf_net *n) { return lirf_net_nparams(n); }

lirf_status lirf_save_deposit(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                              int compression, const json_t *extra) {
    return lirf_save_deposit_sealed(l, path, o, compression, extra, NULL);
}

/* The manifest's "pruning": the method, the rate and every block's kept filters. */
static json_t *pruning_json(const lirf_lirf *l, const lirf_model_meta *m, lirf_deposit_mode mode,
                            float rate) {
    int exact = !lirf_deposit_mode_has_module(mode);
    json_t *pr = json_object();
    json_object_set_new(pr, "method",
                        json_string(mode == LIRF_DEPOSIT_EXACT ? "none (exact mode: T0's lower part)"
                                    : mode == LIRF_DEPOSIT_DELTA
                                        ? "none (delta mode: T0's lower part minus the target's)"
                                        : "L1-norm filter ranking of each block's conv1"));
    json_object_set_new(pr, "rate", json_real(exact ? 0.0 : rate));
    json_t *blocks = json_array();
    size_t off = 0;
    const lirf_arch_desc *ad = lirf_arch_describe(m->cfg.arch);
    for (int s = 0; !exact && s <= l->split; s++)
        for (int b = 0; b < ad->stage[s].blocks; b++) {
            int keep = l->mid[lirf_block_index(ad, s, b)], ch, h, w;
            if (!keep) continue;
            json_t *kept = json_array();
            for (int k = 0; k < keep; k++) json_array_append_new(kept, json_integer(l->kept[off + (size_t)k]));
            off += (size_t)keep;
            char bn[48];
            lirf_block_prefix(ad, s, b, bn, sizeof bn);
            lirf_stage_shape(&m->cfg, s, &ch, &h, &w);
            json_array_append_new(blocks, json_pack("{s:s,s:i,s:i,s:o}", "block", bn, "filters",
                                                    ch, "kept_count", keep, "kept", kept));
        }
    json_object_set_new(pr, "blocks", blocks);
    return pr;
}

/* The deposit classes, ascending, as a JSON array. */
static json_t *sorted_classes_json(const lirf_lirf *l) {
    int32_t mask[LIRF_MAX_CLASSES] = {0};
    for (int j = 0; j < l->ndep; j++) mask[l->dep[j]] = 1;
    json_t *dep = json_array();
    for (int k = 0; k < l->K; k++)
        if (mask[k]) json_array_append_new(dep, json_integer(k));
    return dep;
}

/* The manifest's "target_binding": what ties the archive to the target net
 * lirf_save_target writes from the same l (its deposit classes, the hash of
 * its lower part); withdraw checks both. */
static lirf_status binding_json(lirf_lirf *l, json_t **out) {
    char hex[65];
    size_t nt = 0;
    LIRF_TRY(lirf_lower_sha256(l->target_lower, hex, &nt));
    *out = json_pack("{s:o,s:s,s:s,s:I}", "deposit_classes", sorted_classes_json(l),
                     "lower_sha256", hex, "lower_hash", LIRF_LOWER_HASH_CONTEXT, "lower_tensors",
                     (json_int_t)nt);
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

/* What an archive's member holds: its bytes, how many values, and for delta
 * mode the manifest's "delta" record. */
typedef struct {
    void *bytes;
    size_t len, values;
    json_t *delta;
} deposit_member;

/* The manifest of a deposit archive (docs/archive.md, docs/method.md). */
static lirf_status deposit_manifest(lirf_lirf *l, const lirf_deposit_opts *o,
                                    const lirf_model_meta *m, const deposit_member *dm,
                                    const json_t *extra, json_t **out) {
    char fp[65];
    LIRF_TRY(lirf_upper_fingerprint(l->upper, fp));
    json_t *binding = NULL;
    LIRF_TRY(binding_json(l, &binding));
    json_t *man = json_object();
    json_object_set_new(man, "lirf_version", json_string(LIRF_VERSION));
    json_object_set_new(man, "mode", json_string(lirf_deposit_mode_name(o->mode)));
    json_object_set_new(man, "architecture", json_string(lirf_arch_name(m->cfg.arch)));
    json_object_set_new(man, "width", json_integer(m->cfg.width));
    json_object_set_new(man, "in_shape", json_pack("[i,i,i]", m->cfg.in_c, m->cfg.in_h, m->cfg.in_w));
    json_object_set_new(man, "classes", json_integer(l->K));
    json_object_set_new(man, "split", json_string(m->split));
    json_t *pres = json_array(), *names = json_array();
    int32_t mask[LIRF_MAX_CLASSES] = {0};
    for (int j = 0; j < l->ndep; j++) mask[l->dep[j]] = 1;
    for (int k = 0; k < l->K; k++) {
        if (!mask[k]) json_array_append_new(pres, json_integer(k));
        if (l->meta.class_names) json_array_append_new(names, json_string(l->meta.class_names[k]));
    }
    json_object_set_new(man, "deposit_classes", sorted_classes_json(l));
    json_object_set_new(man, "preservation_classes", pres);
    json_object_set_new(man, "class_names", names);
    json_object_set_new(man, "pruning", pruning_json(l, m, o->mode, l->prune_rate));
    json_object_set_new(man, "hyperparameters", lirf_deposit_opts_json(o));
    json_object_set_new(man, "upper_fingerprint_sha256", json_string(fp));
    json_object_set_new(man, "target_binding", binding);
    if (dm->delta) json_object_set(man, "delta", dm->delta);
    if (l->predecessor) json_object_set(man, "predecessor", l->predecessor);
    size_t whole = count_params(l->t0_lower) + count_params(l->upper);
    json_object_set_new(man, "parameters", json_pack("{s:I,s:I,s:I}", "deposit_module",
                                                    (json_int_t)dm->values, "whole_network",
                                                    (json_int_t)whole, "lower_part",
                                                    (json_int_t)count_params(l->t0_lower)));
    if (extra) json_object_set(man, "run", (json_t *)extra);
    *out = man;
    return LIRF_OK;
}

/* The lower part a delta member gives back from l's target: its hash (what
 * withdraw must reach; the binding of the recover net's lower part). */
static lirf_status delta_result_sha256(lirf_lirf *l, const void *bytes, size_t len, char hex[65]) {
    lirf_net *tmp = NULL;
    lirf_safetensors m = {0};
    lirf_status st = make_part(l->ctx, &l->meta.cfg, 0, l->split, NULL, &tmp);
    if (!st) st = lirf_net_copy(tmp, l->target_lower, NULL);
    if (!st) st = lirf_st_read_mem(bytes, len, "the delta just made", &m);
    if (!st) st = lirf_delta_apply(&m, "the delta just made", tmp);
    if (!st) st = lirf_lower_sha256(tmp, hex, NULL);
    lirf_st_free(&m);
    lirf_net_destroy(tmp);
    return st;
}

static lirf_status delta_member(lirf_lirf *l, const lirf_deposit_opts *o, deposit_member *dm) {
    LIRF_TRY(lirf_delta_encode(l->t0_lower, l->target_lower, o->codec, &dm->bytes, &dm->len,
                               &dm->values));
    char hex[65];
    LIRF_TRY(delta_result_sha256(l, dm->bytes, dm->len, hex));
    dm->delta = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I}", "format", LIRF_DELTA_FORMAT, "codec",
                          lirf_delta_codec_name(o->codec), "recover_lower_sha256", hex,
                          "recover_lower_hash", LIRF_LOWER_HASH_CONTEXT, "stored_values",
                          (json_int_t)dm->values, "member_bytes", (json_int_t)dm->len);
    return dm->delta ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

/* The member: the pruned module (paper), T0's lower part (exact) or the delta. */
static lirf_status make_member(lirf_lirf *l, const lirf_deposit_opts *o, lirf_model_meta *m,
                               deposit_member *dm) {
    snprintf(m->split, sizeof m->split, "%s", lirf_stage_name(m->cfg.arch, l->split));
    memset(m->cfg.mid, 0, sizeof m->cfg.mid);
    if (o->mode == LIRF_DEPOSIT_DELTA) return delta_member(l, o, dm);
    lirf_net *module = o->mode == LIRF_DEPOSIT_EXACT ? l->t0_lower : l->deposit;
    if (lirf_deposit_mode_has_module(o->mode)) memcpy(m->cfg.mid, l->mid, sizeof m->cfg.mid);
    dm->values = count_params(module);
    const char *keys[] = {"lirf_kind"};
    const char *vals[] = {"deposit_module"};
    lirf_net *nets[1] = {module};
    const char *pre[1] = {""};
    return lirf_checkpoint_save_mem(&dm->bytes, &dm->len, nets, pre, 1, m, keys, vals, 1);
}

lirf_status lirf_save_deposit_sealed(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                                     int compression, const json_t *extra,
                                     const lirf_archive_seal *seal) {
    lirf_model_meta m = l->meta;
    deposit_member dm = {0};
    json_t *man = NULL;
    lirf_status st = make_member(l, o, &m, &dm);
    if (!st) st = deposit_manifest(l, o, &m, &dm, extra, &man);
    char *mj = st ? NULL : json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (!st && !mj) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!st) st = lirf_archive_write_sealed(path, mj, dm.bytes, dm.len, compression, seal);
    json_decref(man), json_decref(dm.delta);
    free(mj);
    free(dm.bytes);
    return st;
}
