/* LIRF deposit and withdrawal (see lirf.h). */
#include "lirf.h"

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
    *c = (lirf_calib_opts){.epochs = 2, .lr = 0.01f, .momentum = 0.9f, .T = 4, .lambda_ce = 0.1f,
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

/* An archive's or recover net's mode name: one with a module (column rule)? */
static int mode_text_has_module(const char *mode) {
    lirf_deposit_mode m;
    return mode && lirf_deposit_mode_parse(mode, &m) == LIRF_OK && lirf_deposit_mode_has_module(m);
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
static int by_int(const void *a, const void *b) { return *(const int *)a - *(const int *)b; }

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
    qsort(idx, (size_t)keep, sizeof *idx, by_int);
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

static lirf_status make_masks(lirf_lirf *l) {
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

static lirf_status check_classes(const int32_t *dep, int ndep, int K) {
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

static lirf_status lirf_alloc(lirf_ctx *ctx, const lirf_model_meta *meta, int split,
                              const int32_t *dep, int ndep, lirf_lirf **out) {
    LIRF_TRY(lirf_check_split(meta->cfg.arch, split));
    LIRF_TRY(check_classes(dep, ndep, meta->cfg.classes));
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
    lirf_lirf *l;
    LIRF_TRY(lirf_alloc(ctx, meta, split, dep, ndep, &l));
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
        (st = fill_deposit(l)) || (st = make_masks(l))) {
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
static void class_list(char *out, size_t n, const int32_t *v, int count) {
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
    class_list(dep, sizeof dep, l->dep, l->ndep);
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

/* ---- withdraw ---- */
static lirf_status parse_classes(const char *s, int32_t *out, int *n, int K, const char *what) {
    *n = 0;
    if (!s) return LIRF_FAIL(LIRF_E_FORMAT, "%s: no deposit classes", what);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= K || *n >= LIRF_MAX_CLASSES)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\"", what, s);
        out[(*n)++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\"", what, s);
    }
    return LIRF_OK;
}

/* The archive's manifest describes the target's network (architecture,
 * width, classes, split) and a known mode. */
static lirf_status manifest_fits(const json_t *man, const lirf_model_meta *tm,
                                 const char *archive_path, const char *target_path) {
    const char *arch = json_string_value(json_object_get(man, "architecture"));
    const char *msplit = json_string_value(json_object_get(man, "split"));
    json_int_t width = json_integer_value(json_object_get(man, "width"));
    json_int_t classes = json_integer_value(json_object_get(man, "classes"));
    const char *mode = json_string_value(json_object_get(man, "mode"));
    if (!arch || strcmp(arch, lirf_arch_name(tm->cfg.arch)) || !msplit ||
        strcmp(msplit, tm->split) || width != tm->cfg.width || classes != tm->cfg.classes ||
        !mode || (strcmp(mode, "paper") && strcmp(mode, "exact") && strcmp(mode, "delta") &&
                  strcmp(mode, "calibrated")))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s does not belong to %s: the manifest describes %s width %lld, %lld "
                         "classes, split %s, mode %s; the target is %s width %d, %d classes, split %s",
                         archive_path, target_path, arch ? arch : "?", (long long)width,
                         (long long)classes, msplit ? msplit : "?", mode ? mode : "?",
                         lirf_arch_name(tm->cfg.arch), tm->cfg.width, tm->cfg.classes, tm->split);
    return LIRF_OK;
}

/* The manifest's deposit classes as "0,1,2" into dep, checked against the
 * target's classes. */
static lirf_status manifest_classes(const json_t *man, const lirf_model_meta *tm,
                                    const char *archive_path, char *dep, size_t cap) {
    json_t *dc = json_object_get(man, "deposit_classes");
    size_t k = 0;
    dep[0] = 0;
    for (size_t i = 0; i < json_array_size(dc) && k + 12 < cap; i++)
        k += (size_t)snprintf(dep + k, cap - k, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_array_get(dc, i)));
    int32_t dv[LIRF_MAX_CLASSES];
    int nd;
    LIRF_TRY(parse_classes(dep, dv, &nd, tm->cfg.classes, archive_path));
    return check_classes(dv, nd, tm->cfg.classes);
}

/* A list of classes ("2,0,1") checked (in [0, K), once each, 1 to K - 1 of
 * them) and written ascending into out ("0,1,2"); `what` names its source. */
static lirf_status canon_classes(const char *text, int K, const char *what, char *out, size_t cap) {
    int32_t v[LIRF_MAX_CLASSES];
    int n = 0;
    LIRF_TRY(parse_classes(text, v, &n, K, what));
    if (check_classes(v, n, K) != LIRF_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s", lirf_error_message());
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\" (%s)", what, text,
                         why);
    }
    qsort(v, (size_t)n, sizeof *v, by_int);
    class_list(out, cap, v, n);
    return LIRF_OK;
}

/* A JSON array of integers as "a,b,c" (anything else gives a list that
 * parse_classes refuses). */
static void json_class_text(const json_t *arr, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    if (!json_is_array(arr)) return;
    for (size_t i = 0; i < json_array_size(arr) && k + 24 < cap; i++) {
        const json_t *e = json_array_get(arr, i);
        k += json_is_integer(e) ? (size_t)snprintf(out + k, cap - k, "%s%lld", i ? "," : "",
                                                   (long long)json_integer_value(e))
                                : (size_t)snprintf(out + k, cap - k, "%sx", i ? "," : "");
    }
}

/* The target net is what withdraw takes: lirf_kind "target", written by lirf
 * deposit (an unlearning baseline's target has no split point: refused after). */
static lirf_status target_kind_ok(const lirf_safetensors *tst, const char *target_path) {
    const char *kind = lirf_st_meta(tst, "lirf_kind");
    if (kind && !strcmp(kind, "target")) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_FORMAT,
                     "%s is not a target net (its lirf_kind is %s%.40s%s): lirf withdraw takes the "
                     "target net that lirf deposit wrote together with the archive",
                     target_path, kind ? "\"" : "", kind ? kind : "absent: an original net",
                     kind ? "\"" : "");
}

/* The archive was made with this very target (docs/archive.md, "What binds
 * an archive to its target"): target_binding's deposit classes are the
 * target's "deposit_classes" and the manifest's, and its lower_sha256 is
 * lirf_lower_sha256 of the target's lower part tl. */
/* The target's classes tdep are not the archive's (bound): the message says
 * what to do when the target is a later deposit's, made on top of the
 * archive's own target. */
static lirf_status classes_differ(const lirf_safetensors *tst, const lirf_model_meta *tm,
                                  const char *bound, const char *tdep, const char *archive_path,
                                  const char *target_path) {
    char pdep[4096];
    const char *p = lirf_st_meta(tst, "predecessor_deposit_classes");
    if (p && canon_classes(p, tm->cfg.classes, target_path, pdep, sizeof pdep) == LIRF_OK &&
        !strcmp(pdep, bound))
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s belongs to an earlier deposit (classes %s) than %s, the target of a "
                         "later deposit (classes %s) made from that deposit's target: a delta or "
                         "exact archive comes out last first, so withdraw the later deposit "
                         "first (it gives back the earlier target), then this archive onto what "
                         "it gives back", archive_path, bound, target_path, tdep);
    return LIRF_FAIL(LIRF_E_INVALID,
                     "%s was not made with %s: the archive deposits classes %s, the target net "
                     "is the target of a deposit of classes %s (give each archive the target "
                     "net its own lirf deposit wrote)", archive_path, target_path, bound, tdep);
}

/* A target given back by a withdrawal stands for the target the archive was
 * made with: its metadata says which (stands_for_lower_sha256 = want) and
 * its lower part is still what the withdrawal wrote (recovered_lower_sha256). */
static int stands_in(const lirf_safetensors *tst, const char *want, const char *got) {
    const char *sf = lirf_st_meta(tst, "stands_for_lower_sha256");
    const char *rv = lirf_st_meta(tst, "recovered_lower_sha256");
    return sf && rv && !strcmp(sf, want) && !strcmp(rv, got);
}

/* A paper-mode module owns its columns: it withdraws onto the target of a
 * later deposit made from its own target (the target's metadata names that
 * predecessor's classes and lower-part hash), giving back its classes only. */
static int successor_of(const json_t *man, const lirf_safetensors *tst, const lirf_model_meta *tm,
                        const char *bound, const char *want) {
    const char *mode = json_string_value(json_object_get(man, "mode"));
    const char *p = lirf_st_meta(tst, "predecessor_deposit_classes");
    const char *ph = lirf_st_meta(tst, "predecessor_lower_sha256");
    char pdep[4096];
    return mode_text_has_module(mode) && p && ph && !strcmp(ph, want) &&
           canon_classes(p, tm->cfg.classes, "target", pdep, sizeof pdep) == LIRF_OK &&
           !strcmp(pdep, bound);
}

static lirf_status check_binding(const json_t *man, const lirf_safetensors *tst,
                                 const lirf_model_meta *tm, lirf_net *tl, const char *archive_path,
                                 const char *target_path, int *stand_in) {
    const json_t *b = json_object_get(man, "target_binding");
    if (!b)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s has no target_binding: it was written by a lirf that did not bind a "
                         "deposit archive to its target net, so nothing shows that %s is the "
                         "target it was made with; deposit again from T0 for an archive that "
                         "withdraw can check (docs/archive.md)", archive_path, target_path);
    const char *want = json_string_value(json_object_get(b, "lower_sha256"));
    const char *scheme = json_string_value(json_object_get(b, "lower_hash"));
    if (!json_is_object(b) || !want || strlen(want) != 64 || strspn(want, "0123456789abcdef") != 64 ||
        !scheme || strcmp(scheme, LIRF_LOWER_HASH_CONTEXT))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: target_binding is malformed (it needs lower_hash \"%s\", lower_sha256 "
                         "of 64 lowercase hex digits and deposit_classes)",
                         archive_path, LIRF_LOWER_HASH_CONTEXT);
    char text[4096], bound[4096], listed[4096], tdep[4096];
    json_class_text(json_object_get(b, "deposit_classes"), text, sizeof text);
    LIRF_TRY(canon_classes(text, tm->cfg.classes, archive_path, bound, sizeof bound));
    json_class_text(json_object_get(man, "deposit_classes"), text, sizeof text);
    LIRF_TRY(canon_classes(text, tm->cfg.classes, archive_path, listed, sizeof listed));
    if (strcmp(bound, listed))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the manifest's deposit_classes (%s) are not its target_binding's (%s)",
                         archive_path, listed, bound);
    LIRF_TRY(canon_classes(lirf_st_meta(tst, "deposit_classes"), tm->cfg.classes, target_path,
                           tdep, sizeof tdep));
    if (strcmp(bound, tdep) && successor_of(man, tst, tm, bound, want)) return LIRF_OK;
    if (strcmp(bound, tdep))
        return classes_differ(tst, tm, bound, tdep, archive_path, target_path);
    char got[65];
    size_t nt = 0;
    LIRF_TRY(lirf_lower_sha256(tl, got, &nt));
    json_int_t bt = json_integer_value(json_object_get(b, "lower_tensors"));
    *stand_in = strcmp(want, got) && stands_in(tst, want, got);
    if (strcmp(want, got) && !*stand_in)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s was not made with %s: the target's lower part (%zu tensors up to %s) "
                         "hashes to %.16s..., the archive was made with one (%lld tensors) that "
                         "hashes to %.16s... (another deposit's target from the same T0, or a "
                         "target changed since the deposit)", archive_path, target_path, nt,
                         tm->split, got, (long long)bt, want);
    return LIRF_OK;
}

/* ---- several deposits ---- */
/* The lower part (stages 0..split of the checkpoint's network) hashed as
 * lirf_lower_sha256 does. */
static lirf_status file_lower_sha256(lirf_ctx *ctx, const lirf_safetensors *st, const char *path,
                                     const lirf_model_meta *m, int split, char hex[65]) {
    lirf_net *lower = NULL;
    lirf_status s = lirf_checkpoint_make_net(ctx, st, path, m, "", 0, split, &lower);
    if (!s) s = lirf_lower_sha256(lower, hex, NULL);
    lirf_net_destroy(lower);
    return s;
}

/* The predecessor record of a target checkpoint (st, m at path). */
static lirf_status predecessor_of(lirf_ctx *ctx, const lirf_safetensors *st,
                                  const lirf_model_meta *m, const char *path, json_t **out) {
    int split = lirf_stage_parse(m->cfg.arch, m->split);
    if (lirf_check_split(m->cfg.arch, split) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a target net without a split point", path);
    char classes[4096];
    LIRF_TRY(canon_classes(lirf_st_meta(st, "deposit_classes"), m->cfg.classes, path, classes,
                           sizeof classes));
    char hex[65];
    const char *stands = lirf_st_meta(st, "stands_for_lower_sha256");
    if (stands && strlen(stands) == 64) snprintf(hex, sizeof hex, "%s", stands);
    else LIRF_TRY(file_lower_sha256(ctx, st, path, m, split, hex));
    int32_t v[LIRF_MAX_CLASSES];
    int n = 0;
    LIRF_TRY(parse_classes(classes, v, &n, m->cfg.classes, path));
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) json_array_append_new(arr, json_integer(v[i]));
    *out = json_pack("{s:s,s:o,s:s,s:s,s:s}", "lirf_kind", "target", "deposit_classes", arr,
                     "split", m->split, "lower_sha256", hex, "lower_hash", LIRF_LOWER_HASH_CONTEXT);
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

lirf_status lirf_lirf_chain(lirf_lirf *l, const char *t0_path) {
    if (!l || !t0_path) return LIRF_FAIL(LIRF_E_NULL, "lirf_lirf_chain: NULL argument");
    lirf_safetensors st = {0};
    lirf_model_meta m = {0};
    LIRF_TRY(lirf_checkpoint_open(t0_path, &st, &m));
    const char *kind = lirf_st_meta(&st, "lirf_kind");
    lirf_status s = LIRF_OK;
    json_decref(l->predecessor);
    l->predecessor = NULL;
    if (kind && !strcmp(kind, "target")) s = predecessor_of(l->ctx, &st, &m, t0_path, &l->predecessor);
    lirf_st_free(&st);
    lirf_model_meta_free(&m);
    return s;
}

/* What a withdrawal reads and makes. */
typedef struct {
    lirf_safetensors tst, dst;
    lirf_model_meta tm, dm;
    json_t *man;
    void *bytes;
    size_t len;
    lirf_net *tl, *up, *dp;
    lirf_archive_info info;
    int split, stand_in; /* stand_in: the target was given back by a delta withdrawal */
    char fp[65], dep[4096];
    const char *mode;
    json_int_t stored; /* the member's values */
} withdrawal;

static void withdrawal_free(withdrawal *w) {
    lirf_net_destroy(w->tl), lirf_net_destroy(w->up), lirf_net_destroy(w->dp);
    json_decref(w->man);
    free(w->bytes);
    lirf_st_free(&w->tst), lirf_st_free(&w->dst);
    lirf_model_meta_free(&w->tm), lirf_model_meta_free(&w->dm);
}

/* lirf withdraw --json's record. */
static json_t *withdraw_report(const char *target_path, const char *archive_path,
                               const char *recover_path, const withdrawal *w) {
    const json_t *delta = json_object_get(w->man, "delta");
    json_t *r = json_pack("{s:o,s:o,s:o,s:s,s:s,s:s,s:I,s:s}", "target", lirf_json_text(target_path),
                          "archive", lirf_json_text(archive_path), "recover",
                          lirf_json_text(recover_path), "mode", w->mode, "deposit_classes",
                          w->dep, "upper_fingerprint_sha256", w->fp, "deposit_parameters",
                          w->stored, "recover_rule",
                          mode_text_has_module(w->mode) ? "columns" : "whole_net");
    if (!r) return NULL;
    if (delta)
        json_object_set_new(r, "delta", json_pack("{s:O,s:O,s:b}", "codec",
                                                  json_object_get(delta, "codec"),
                                                  "recover_lower_sha256",
                                                  json_object_get(delta, "recover_lower_sha256"),
                                                  "recover_lower_verified", !w->stand_in));
    json_object_set_new(r, "target_stands_in", json_boolean(w->stand_in));
    json_t *pred = json_object_get(w->man, "predecessor");
    if (pred && !mode_text_has_module(w->mode))
        json_object_set(r, "gives_back_target_of", pred);
    json_object_set_new(r, "signed_by", w->info.is_signed ? json_string(w->info.signer) : json_null());
    json_object_set_new(r, "signature_verified", json_boolean(w->info.verified));
    json_object_set_new(r, "encrypted_to",
                        w->info.encrypted ? json_string(w->info.recipient) : json_null());
    return r;
}

lirf_status lirf_withdraw(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                          const char *recover_path, json_t **report) {
    return lirf_withdraw_sealed(ctx, target_path, archive_path, recover_path, NULL, report);
}

/* The target net: its kind, split point, lower and upper parts. */
static lirf_status open_target(lirf_ctx *ctx, const char *target_path, withdrawal *w) {
    LIRF_TRY(lirf_checkpoint_open(target_path, &w->tst, &w->tm));
    LIRF_TRY(target_kind_ok(&w->tst, target_path));
    w->split = lirf_stage_parse(w->tm.cfg.arch, w->tm.split);
    if (lirf_check_split(w->tm.cfg.arch, w->split) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a target net (no split point in its metadata)",
                         target_path);
    int last = lirf_arch_stages(w->tm.cfg.arch) - 1;
    LIRF_TRY(lirf_checkpoint_make_net(ctx, &w->tst, target_path, &w->tm, "", 0, w->split, &w->tl));
    return lirf_checkpoint_make_net(ctx, &w->tst, target_path, &w->tm, "", w->split + 1, last,
                                    &w->up);
}

/* The archive: read (and opened with keys), made for this network and this
 * very target. */
static lirf_status open_archive(const char *target_path, const char *archive_path,
                                const lirf_archive_unseal *unseal, withdrawal *w) {
    LIRF_TRY(lirf_archive_read_sealed(archive_path, unseal, &w->man, &w->bytes, &w->len, &w->info));
    LIRF_TRY(manifest_fits(w->man, &w->tm, archive_path, target_path));
    w->mode = json_string_value(json_object_get(w->man, "mode"));
    LIRF_TRY(lirf_upper_fingerprint(w->up, w->fp));
    const char *want = json_string_value(json_object_get(w->man, "upper_fingerprint_sha256"));
    if (!want || strcmp(want, w->fp))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s was deposited from another network: its upper-part fingerprint "
                         "%.16s... does not match %s's %.16s...",
                         archive_path, want ? want : "(none)", target_path, w->fp);
    LIRF_TRY(check_binding(w->man, &w->tst, &w->tm, w->tl, archive_path, target_path,
                           &w->stand_in));
    return manifest_classes(w->man, &w->tm, archive_path, w->dep, sizeof w->dep);
}

/* A module member (paper: the pruned module; exact: T0's lower part) as w->dp. */
static lirf_status open_module(lirf_ctx *ctx, const char *archive_path, withdrawal *w) {
    char what[1200];
    snprintf(what, sizeof what, "%s:deposit.safetensors", archive_path);
    LIRF_TRY(lirf_checkpoint_open_mem(w->bytes, w->len, what, &w->dst, &w->dm));
    const lirf_net_config *a = &w->dm.cfg, *b = &w->tm.cfg;
    if (a->arch != b->arch || a->width != b->width || a->classes != b->classes ||
        a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the deposit module does not fit the target net", what);
    LIRF_TRY(lirf_checkpoint_make_net(ctx, &w->dst, what, &w->dm, "", 0, w->split, &w->dp));
    w->stored = (json_int_t)lirf_net_nparams(w->dp);
    return LIRF_OK;
}

/* Delta mode: the target's lower part plus the delta, checked against the
 * hash of what the deposit gave back when it made the delta. */
static lirf_status apply_delta_member(const char *archive_path, withdrawal *w) {
    char what[1200];
    snprintf(what, sizeof what, "%s:deposit.safetensors", archive_path);
    const json_t *d = json_object_get(w->man, "delta");
    const char *codec = json_string_value(json_object_get(d, "codec"));
    const char *want = json_string_value(json_object_get(d, "recover_lower_sha256"));
    if (!codec || !want || strlen(want) != 64)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a delta archive whose manifest has no delta record "
                         "(codec, recover_lower_sha256)", archive_path);
    LIRF_TRY(lirf_st_read_mem(w->bytes, w->len, what, &w->dst));
    const char *mc = lirf_st_meta(&w->dst, "codec");
    if (!mc || strcmp(mc, codec))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the member's codec %.20s is not the manifest's %.20s",
                         what, mc ? mc : "(none)", codec);
    LIRF_TRY(lirf_delta_apply(&w->dst, what, w->tl));
    char got[65];
    LIRF_TRY(lirf_lower_sha256(w->tl, got, NULL));
    /* a stand-in target is not bit for bit the one the delta was made for:
     * what it gives back cannot match (the archive's own SHA-256 still
     * covers the member) */
    if (strcmp(got, want) && !w->stand_in)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the delta does not give back the lower part it was made to give "
                         "(hash %.16s..., expected %.16s...): its values were changed or "
                         "re-quantised since the deposit", archive_path, got, want);
    w->stored = json_integer_value(json_object_get(json_object_get(w->man, "parameters"),
                                                   "deposit_module"));
    return LIRF_OK;
}

/* A delta or exact withdrawal of a second deposit gives back the first
 * deposit's target: written as that target (its classes and split), standing
 * for the one the first archive is bound to, so that it withdraws in turn. */
static lirf_status write_stand_in(lirf_ctx *ctx, const char *path, withdrawal *w,
                                  const json_t *pred, lirf_net *const *nets) {
    const char *psplit = json_string_value(json_object_get(pred, "split"));
    const char *plower = json_string_value(json_object_get(pred, "lower_sha256"));
    int split = psplit ? lirf_stage_parse(w->tm.cfg.arch, psplit) : -1;
    char pdep[4096];
    json_class_text(json_object_get(pred, "deposit_classes"), pdep, sizeof pdep);
    if (lirf_check_split(w->tm.cfg.arch, split) != LIRF_OK || !plower || strlen(plower) != 64 ||
        canon_classes(pdep, w->tm.cfg.classes, path, pdep, sizeof pdep) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "the archive's predecessor record is malformed (it needs "
                         "deposit_classes, split and lower_sha256)");
    lirf_net *lower = NULL;
    char got[65];
    lirf_model_meta m = w->tm;
    memset(m.cfg.mid, 0, sizeof m.cfg.mid);
    m.cfg.first = 0, m.cfg.last = split;
    lirf_status st = lirf_net_create(ctx, &m.cfg, &lower);
    if (!st) st = lirf_net_copy(lower, nets[0], NULL);
    if (!st) st = lirf_net_copy(lower, nets[1], NULL);
    if (!st) st = lirf_lower_sha256(lower, got, NULL);
    lirf_net_destroy(lower);
    LIRF_TRY(st);
    snprintf(m.split, sizeof m.split, "%s", psplit);
    const char *keys[] = {"lirf_kind", "deposit_classes", "stands_for_lower_sha256",
                          "recovered_lower_sha256", "deposit_mode", "withdrawn_classes"};
    const char *vals[] = {"target", pdep, plower, got, w->mode, w->dep};
    const char *pre[2] = {"", ""};
    return lirf_checkpoint_save(path, nets, pre, 2, &m, keys, vals, 6);
}

/* The recover checkpoint. paper: target (torchvision names) + deposit.*,
 * column rule; exact and delta: the whole recovered net, a plain checkpoint. */
static lirf_status write_recover(lirf_ctx *ctx, const char *archive_path, const char *recover_path,
                                 withdrawal *w) {
    int paper = mode_text_has_module(w->mode); /* paper or calibrated: the column rule */
    if (!strcmp(w->mode, "delta")) LIRF_TRY(apply_delta_member(archive_path, w));
    else LIRF_TRY(open_module(ctx, archive_path, w));
    char mid[256] = "";
    lirf_mid_format(&w->dm.cfg, mid, sizeof mid);
    const char *keys[] = {"lirf_kind", "deposit_classes", "deposit_mode", "recover_rule",
                          "deposit_mid"};
    const char *vals[] = {"recover", w->dep, w->mode, paper ? "columns" : "whole_net", mid};
    lirf_model_meta m = w->tm;
    memset(m.cfg.mid, 0, sizeof m.cfg.mid);
    if (paper) {
        lirf_net *nets[3] = {w->tl, w->up, w->dp};
        const char *pre[3] = {"", "", "deposit."};
        return lirf_checkpoint_save(recover_path, nets, pre, 3, &m, keys, vals, 5);
    }
    lirf_net *nets[2] = {!strcmp(w->mode, "exact") ? w->dp : w->tl, w->up};
    const char *pre[2] = {"", ""};
    const json_t *pred = json_object_get(w->man, "predecessor");
    if (pred) return write_stand_in(ctx, recover_path, w, pred, nets);
    m.split[0] = 0; /* a whole network */
    return lirf_checkpoint_save(recover_path, nets, pre, 2, &m, keys, vals, 4);
}

lirf_status lirf_withdraw_sealed(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                                 const char *recover_path, const lirf_archive_unseal *unseal,
                                 json_t **report) {
    if (!ctx || !target_path || !archive_path || !recover_path)
        return LIRF_FAIL(LIRF_E_NULL, "withdraw: NULL argument");
    withdrawal w;
    memset(&w, 0, sizeof w);
    lirf_status st = open_target(ctx, target_path, &w);
    if (!st) st = open_archive(target_path, archive_path, unseal, &w);
    if (!st) st = write_recover(ctx, archive_path, recover_path, &w);
    if (!st && report) *report = withdraw_report(target_path, archive_path, recover_path, &w);
    withdrawal_free(&w);
    return st;
}

/* ---- any checkpoint as logits ---- */
struct lirf_model {
    lirf_model_meta meta;
    lirf_net *whole;
    lirf_lirf *rec; /* recover nets of the column rule (paper mode) */
    int deposit_path_only; /* an exact recover net of an older lirf: T0's lower part as deposit.* */
    int whole_recover;     /* a recover net that is a whole network (exact and delta modes) */
};

lirf_status lirf_model_open(lirf_ctx *ctx, const char *path, lirf_model **out) {
    if (!ctx || !path || !out) return LIRF_FAIL(LIRF_E_NULL, "model_open: NULL argument");
    lirf_model *m = calloc(1, sizeof *m);
    if (!m) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_safetensors st = {0};
    lirf_status s = lirf_checkpoint_open(path, &st, &m->meta);
    if (s != LIRF_OK) {
        free(m);
        return s;
    }
    const char *kind = lirf_st_meta(&st, "lirf_kind"), *rule = lirf_st_meta(&st, "recover_rule");
    m->whole_recover = kind && !strcmp(kind, "recover") && rule && !strcmp(rule, "whole_net");
    if (kind && !strcmp(kind, "recover") && !m->whole_recover) {
        int split = lirf_stage_parse(m->meta.cfg.arch, m->meta.split);
        int32_t dep[LIRF_MAX_CLASSES];
        int nd = 0;
        lirf_model_meta dm = m->meta;
        const char *mid = lirf_st_meta(&st, "deposit_mid");
        if (lirf_check_split(m->meta.cfg.arch, split) != LIRF_OK)
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: recover net without a split point", path);
        if (s == LIRF_OK && (!mid || lirf_mid_parse(&dm.cfg, mid) != LIRF_OK))
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: recover net without deposit_mid", path);
        if (s == LIRF_OK)
            s = parse_classes(lirf_st_meta(&st, "deposit_classes"), dep, &nd, m->meta.cfg.classes,
                              path);
        if (s == LIRF_OK) s = lirf_alloc(ctx, &m->meta, split, dep, nd, &m->rec);
        int last = lirf_arch_stages(m->meta.cfg.arch) - 1;
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", 0, split,
                                         &m->rec->target_lower);
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", split + 1, last,
                                         &m->rec->upper);
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &dm, "deposit.", 0, split,
                                         &m->rec->deposit);
        if (s == LIRF_OK) s = make_masks(m->rec);
        const char *rule = lirf_st_meta(&st, "recover_rule");
        m->deposit_path_only = rule && !strcmp(rule, "deposit_path");
    } else {
        s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", 0,
                                     lirf_arch_stages(m->meta.cfg.arch) - 1, &m->whole);
    }
    lirf_st_free(&st);
    if (s != LIRF_OK) {
        lirf_model_close(m);
        return s;
    }
    *out = m;
    return LIRF_OK;
}

void lirf_model_close(lirf_model *m) {
    if (!m) return;
    lirf_net_destroy(m->whole);
    lirf_lirf_destroy(m->rec);
    lirf_model_meta_free(&m->meta);
    free(m);
}

const lirf_model_meta *lirf_model_meta_of(const lirf_model *m) { return &m->meta; }
const char *lirf_model_kind(const lirf_model *m) {
    return m->rec || m->whole_recover ? "recover" : "model";
}

lirf_status lirf_model_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_model *m = user;
    if (m->whole) return lirf_net_forward(m->whole, ws, NULL, LIRF_MODE_EVAL, x, n, logits);
    if (m->deposit_path_only) return lirf_deposit_path_logits(m->rec, ws, x, n, logits);
    return lirf_recover_logits(m->rec, ws, x, n, logits);
}
