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
}

int64_t lirf_deposit_holdout_seed(const lirf_deposit_opts *o) {
    return o->holdout_seed >= 0 ? o->holdout_seed : (int64_t)o->seed;
}

json_t *lirf_deposit_opts_json(const lirf_deposit_opts *o) {
    return json_pack("{s:s,s:i,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:i,s:f,s:f,s:f,s:i,s:i,s:i,s:f,"
                     "s:s,s:b,s:b,s:s,s:f,s:I,s:i,s:s}",
                     "mode", o->mode == LIRF_DEPOSIT_EXACT ? "exact" : "paper", "split", o->split,
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
    if (!o->lr_cosine || total < 2) return o->lr;
    double f = (double)step / (double)total;
    if (f > 1) f = 1;
    return (float)(o->lr * 0.5 * (1 + cos(3.141592653589793 * f)));
}

/* ---- construction and pruning ---- */
static lirf_status make_part(lirf_ctx *ctx, const lirf_net_config *whole, int first, int last,
                             const int mid[4][2], lirf_net **out) {
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

/* L1-norm filter ranking (Li et al. 2016) of each block's conv1 in the lower
 * part; keeps the top (1 - rate), at least one, in their original order. */
static lirf_status plan_pruning(lirf_lirf *l, float rate) {
    memset(l->mid, 0, sizeof l->mid);
    size_t cap = 0;
    for (int s = 1; s <= l->split; s++) cap += 2 * ((size_t)l->meta.cfg.width << (s - 1));
    l->kept = malloc((cap ? cap : 1) * sizeof *l->kept);
    if (!l->kept) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    l->nkept = 0;
    if (rate <= 0) return LIRF_OK;
    for (int s = 1; s <= l->split; s++)
        for (int b = 0; b < 2; b++) {
            char name[64];
            snprintf(name, sizeof name, "layer%d.%d.conv1.weight", s, b);
            float *w;
            const lirf_tensor_desc *d;
            LIRF_TRY(get_host(l->t0_lower, name, &w, &d));
            int F = d->shape[0];
            size_t per = d->n / (size_t)F;
            ranked *r = malloc((size_t)F * sizeof *r);
            if (!r) {
                free(w);
                return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            }
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
            for (int k = 0; idx && k < keep; k++) idx[k] = r[k].idx;
            if (idx) qsort(idx, (size_t)keep, sizeof *idx, by_int);
            for (int k = 0; idx && k < keep; k++) l->kept[l->nkept++] = idx[k];
            free(idx), free(r), free(w);
            l->mid[s - 1][b] = keep;
        }
    return LIRF_OK;
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
        int s, b;
        char part[32];
        if (sscanf(d->name, "layer%d.%d.%31s", &s, &b, part) != 3)
            return LIRF_FAIL(LIRF_E_SHAPE, "unexpected pruned tensor %s", d->name);
        size_t off = 0;
        for (int ss = 1; ss <= l->split; ss++)
            for (int bb = 0; bb < 2; bb++) {
                if (ss == s && bb == b) goto found;
                off += (size_t)l->mid[ss - 1][bb];
            }
        return LIRF_FAIL(LIRF_E_SHAPE, "no pruning record for %s", d->name);
    found:;
        const int32_t *kept = l->kept + off;
        int keep = l->mid[s - 1][b];
        float *src;
        const lirf_tensor_desc *sd;
        LIRF_TRY(get_host(l->t0_lower, d->name, &src, &sd));
        float *dst = malloc(d->n * sizeof *dst);
        if (!dst) {
            free(src);
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        if (!strncmp(part, "conv2", 5)) { /* (out, mid, 3, 3): gather input channels */
            int O = sd->shape[0], I = sd->shape[1];
            size_t kk = (size_t)sd->shape[2] * sd->shape[3];
            for (int o = 0; o < O; o++)
                for (int k = 0; k < keep; k++)
                    memcpy(dst + ((size_t)o * keep + k) * kk, src + ((size_t)o * I + kept[k]) * kk,
                           kk * sizeof *dst);
        } else { /* conv1 (mid, in, 3, 3) rows, or bn1 vectors (mid) */
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

static lirf_status lirf_alloc(lirf_ctx *ctx, const lirf_model_meta *meta, int split,
                              const int32_t *dep, int ndep, lirf_lirf **out) {
    if (meta->cfg.arch != LIRF_ARCH_RESNET18)
        return LIRF_FAIL(LIRF_E_INVALID, "LIRF needs a ResNet-18 (got %s)",
                         lirf_arch_name(meta->cfg.arch));
    if (split < 1 || split > 4)
        return LIRF_FAIL(LIRF_E_INVALID, "split %d: choose layer1 .. layer4", split);
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
        (st = make_part(ctx, c, 0, split, (const int(*)[2])l->mid, &l->deposit)) ||
        (st = fill_deposit(l)) || (st = make_masks(l))) {
        lirf_lirf_destroy(l);
        return st;
    }
    *out = l;
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
    free(l);
}

/* ---- training ---- */
static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define STEP(call)                      \
    do {                                \
        if ((st = (call)) != LIRF_OK) goto out; \
    } while (0)

/* ---- the deposit's training state (for --resume) ---- */
static char *dep_state_opts(const lirf_lirf *l, const lirf_deposit_opts *o) {
    json_t *j = lirf_deposit_opts_json(o);
    json_t *dc = json_array();
    for (int i = 0; i < l->ndep; i++) json_array_append_new(dc, json_integer(l->dep[i]));
    json_object_set_new(j, "deposit_classes", dc);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(j);
    return s;
}

/* the momentum of `net` as the parameters of a temporary twin, for saving */
static lirf_status momentum_twin(lirf_net *net, lirf_net **out) {
    lirf_net_config c = *lirf_net_cfg(net);
    LIRF_TRY(lirf_net_create(lirf_net_ctx(net), &c, out));
    lirf_status st = lirf_buf_copy(lirf_net_ctx(net), lirf_net_params(*out),
                                   lirf_net_momentum(net), lirf_net_nparams(net));
    if (st != LIRF_OK) lirf_net_destroy(*out), *out = NULL;
    return st;
}

static lirf_status dep_state_save(lirf_lirf *l, const lirf_deposit_opts *o, const char *path,
                                  int epoch, size_t step) {
    char es[32], ss[32], fp[65];
    LIRF_TRY(lirf_upper_fingerprint(l->upper, fp));
    snprintf(es, sizeof es, "%d", epoch);
    snprintf(ss, sizeof ss, "%zu", step);
    char *oj = dep_state_opts(l, o);
    if (!oj) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    const char *keys[] = {"state_format", "epoch", "step", "deposit_opts", "upper_fingerprint_sha256"};
    const char *vals[] = {"lirf-deposit-state-1", es, ss, oj, fp};
    lirf_net *mt = NULL, *md = NULL;
    lirf_status st = momentum_twin(l->target_lower, &mt);
    if (st == LIRF_OK) st = momentum_twin(l->deposit, &md);
    if (st == LIRF_OK) {
        lirf_net *nets[4] = {l->target_lower, mt, l->deposit, md};
        const char *pre[4] = {"target.param.", "target.momentum.", "deposit.param.",
                              "deposit.momentum."};
        st = lirf_checkpoint_save(path, nets, pre, 4, &l->meta, keys, vals, 5);
    }
    lirf_net_destroy(mt), lirf_net_destroy(md);
    free(oj);
    return st;
}

static lirf_status load_momentum(const lirf_safetensors *st, const char *path, const char *pre,
                                 lirf_net *net) {
    lirf_net *twin;
    lirf_net_config c = *lirf_net_cfg(net);
    LIRF_TRY(lirf_net_create(lirf_net_ctx(net), &c, &twin));
    lirf_status s = lirf_checkpoint_load_net(st, path, pre, twin);
    if (s == LIRF_OK)
        s = lirf_buf_copy(lirf_net_ctx(net), lirf_net_momentum(net), lirf_net_params(twin),
                          lirf_net_nparams(net));
    lirf_net_destroy(twin);
    return s;
}

static lirf_status dep_state_load(lirf_lirf *l, const lirf_deposit_opts *o, const char *path,
                                  int *epoch, size_t *step, int *found) {
    *found = 0;
    if (access(path, F_OK) != 0) return LIRF_OK;
    lirf_safetensors st;
    lirf_model_meta meta;
    LIRF_TRY(lirf_checkpoint_open(path, &st, &meta));
    lirf_status s = LIRF_OK;
    const char *fmt = lirf_st_meta(&st, "state_format"), *e = lirf_st_meta(&st, "epoch");
    const char *sp = lirf_st_meta(&st, "step"), *oj = lirf_st_meta(&st, "deposit_opts");
    const char *fp = lirf_st_meta(&st, "upper_fingerprint_sha256");
    char mine_fp[65];
    char *mine = NULL;
    if (!fmt || strcmp(fmt, "lirf-deposit-state-1") || !e || !sp || !oj || !fp)
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a deposit state file", path);
    if (s == LIRF_OK) s = lirf_upper_fingerprint(l->upper, mine_fp);
    if (s == LIRF_OK && strcmp(fp, mine_fp))
        s = LIRF_FAIL(LIRF_E_INVALID, "%s belongs to a deposit from another T0; start afresh "
                      "without --resume", path);
    if (s == LIRF_OK && (!(mine = dep_state_opts(l, o)) || strcmp(mine, oj)))
        s = LIRF_FAIL(LIRF_E_INVALID,
                      "%s was written with other deposit options (%.400s); resume with the same "
                      "options, or start afresh without --resume", path, oj);
    free(mine);
    char *end1 = NULL, *end2 = NULL;
    long ev = 0;
    unsigned long long sv = 0;
    if (s == LIRF_OK) {
        ev = strtol(e, &end1, 10);
        sv = strtoull(sp, &end2, 10);
        if (*end1 || *end2 || ev < 0 || ev > o->epochs || sv > (1ull << 40))
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: bad epoch/step (%.20s, %.20s)", path, e, sp);
    }
    if (s == LIRF_OK) s = lirf_checkpoint_load_net(&st, path, "target.param.", l->target_lower);
    if (s == LIRF_OK) s = load_momentum(&st, path, "target.momentum.", l->target_lower);
    if (s == LIRF_OK) s = lirf_checkpoint_load_net(&st, path, "deposit.param.", l->deposit);
    if (s == LIRF_OK) s = load_momentum(&st, path, "deposit.momentum.", l->deposit);
    if (s == LIRF_OK) {
        *epoch = (int)ev;
        *step = (size_t)sv;
        *found = 1;
    }
    lirf_model_meta_free(&meta);
    lirf_st_free(&st);
    return s;
}

/* The target's Dep Acc (%) on held-out deposit-class samples. */
static lirf_status holdout_dep_acc(lirf_lirf *l, lirf_loader *h, double *acc) {
    int64_t counts[2 * LIRF_MAX_CLASSES];
    LIRF_TRY(lirf_eval_counts(l->ctx, h, l->K, lirf_target_logits, l, counts));
    int64_t ok = 0, all = 0;
    for (int i = 0; i < l->ndep; i++) ok += counts[2 * l->dep[i]], all += counts[2 * l->dep[i] + 1];
    *acc = all ? 100.0 * (double)ok / (double)all : 0;
    return LIRF_OK;
}

/* Host copies of both trained lower parts (every tensor), for keep_best. */
typedef struct { lirf_net *net[2]; unsigned char *host[2]; size_t bytes[2]; } nets_snapshot;

static size_t tensor_bytes(const lirf_tensor_desc *d) {
    return d->kind == LIRF_T_COUNT ? sizeof(int64_t) : d->n * sizeof(float);
}

static lirf_status snapshot_take(nets_snapshot *s) {
    for (int k = 0; k < 2; k++) {
        lirf_net *n = s->net[k];
        if (!s->host[k]) {
            size_t b = 0;
            for (size_t i = 0; i < lirf_net_ntensors(n); i++) b += tensor_bytes(lirf_net_tensor(n, i));
            if (!(s->host[k] = malloc(b ? b : 1))) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            s->bytes[k] = b;
        }
        size_t off = 0;
        for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
            LIRF_TRY(lirf_net_tensor_get(n, i, s->host[k] + off));
            off += tensor_bytes(lirf_net_tensor(n, i));
        }
    }
    return LIRF_OK;
}

static lirf_status snapshot_restore(nets_snapshot *s) {
    for (int k = 0; k < 2; k++) {
        size_t off = 0;
        for (size_t i = 0; i < lirf_net_ntensors(s->net[k]); i++) {
            LIRF_TRY(lirf_net_tensor_set(s->net[k], i, s->host[k] + off));
            off += tensor_bytes(lirf_net_tensor(s->net[k], i));
        }
    }
    return LIRF_OK;
}

/* One check of forgetting on the held-out samples after `step` steps (spe a
 * epoch): recorded, printed, and with keep_best the nets kept if the lowest. */
static lirf_status holdout_check(lirf_lirf *l, lirf_loader *hold, const lirf_deposit_opts *o,
                                 lirf_deposit_result *res, nets_snapshot *snap, double *best,
                                 size_t step, size_t spe, int quiet, int tty) {
    double acc;
    LIRF_TRY(holdout_dep_acc(l, hold, &acc));
    if (res->nlogged < LIRF_DEPOSIT_MAX_LOGGED) {
        res->holdout_step[res->nlogged] = step;
        res->holdout_dep[res->nlogged++] = acc;
    }
    if (!quiet) {
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "lirf: deposit epoch %.2f (step %zu): held-out Dep Acc %.2f%% (%zu samples)\n",
                spe ? (double)step / (double)spe : 0.0, step, acc, lirf_loader_samples(hold));
    }
    if (o->keep_best && (res->kept_step < 0 || acc < *best)) {
        LIRF_TRY(snapshot_take(snap));
        *best = acc, res->kept_step = (long)step;
    }
    return LIRF_OK;
}

lirf_status lirf_deposit_train(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                               int quiet, lirf_deposit_result *res) {
    return lirf_deposit_train_io(l, data, o, NULL, quiet, res);
}

lirf_status lirf_deposit_train_io(lirf_lirf *l, lirf_loader *data, const lirf_deposit_opts *o,
                                  const lirf_deposit_io *io, int quiet, lirf_deposit_result *res) {
    if (!l || !data || !o || !res) return LIRF_FAIL(LIRF_E_NULL, "deposit: NULL argument");
    memset(res, 0, sizeof *res);
    res->kept_step = -1;
    lirf_loader *hold = io ? io->holdout : NULL;
    if (o->keep_best && !hold)
        return LIRF_FAIL(LIRF_E_INVALID, "deposit: keeping the best epoch needs held-out samples "
                                         "(--holdout)");
    const char *state = io && io->state_path ? io->state_path : NULL;
    int start_epoch = 0;
    size_t start_step = 0;
    if (state && io->resume) {
        int found;
        LIRF_TRY(dep_state_load(l, o, state, &start_epoch, &start_step, &found));
        if (found) {
            lirf_log(LIRF_LOG_WARN, "resuming the deposit at epoch %d, step %zu",
                     start_epoch + 1, start_step);
            res->resumed_epoch = start_epoch;
            res->resumed_step = start_step;
        }
    }
    lirf_ctx *ctx = l->ctx;
    const lirf_net_config *c = &l->meta.cfg;
    int K = l->K, npre = K - l->ndep;
    int fc, fh, fw;
    lirf_stage_shape(c, l->split, &fc, &fh, &fw);
    lirf_mode lower_mode = o->bn_batch_stats ? LIRF_MODE_TRAIN : LIRF_MODE_TRAIN_BN_FIXED;
    nets_snapshot snap = {{l->target_lower, l->deposit}, {NULL, NULL}, {0, 0}};
    lirf_arena *ws = NULL;
    lirf_tape *tl = NULL, *tu1 = NULL, *tu2 = NULL, *tr = NULL;
    lirf_buf losses = LIRF_NOBUF, yr = LIRF_NOBUF;
    int32_t *yr_host = malloc((size_t)o->batch * sizeof *yr_host);
    lirf_status st = yr_host ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) st = lirf_arena_create(ctx, 0, &ws);
    if (st == LIRF_OK) st = lirf_tape_create(&tl);
    if (st == LIRF_OK) st = lirf_tape_create(&tu1);
    if (st == LIRF_OK) st = lirf_tape_create(&tu2);
    if (st == LIRF_OK) st = lirf_tape_create(&tr);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, 8, &losses);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, (size_t)o->batch, &yr);
    if (st != LIRF_OK) goto out;
    lirf_progress pr;
    lirf_progress_init(&pr, quiet ? NULL : stderr);
    size_t spe = lirf_loader_batches(data), total = (size_t)o->epochs * spe, images = 0;
    double t0 = lirf_now();
    lirf_buf L[6];
    for (int i = 0; i < 6; i++) L[i] = (lirf_buf){losses.mem, losses.off + (size_t)i, 1};
    pr.done_at_start = (size_t)start_epoch * spe + start_step;
    /* forgetting on held-out deposit-class samples: at the start (or the
     * resumed state, if it is an epoch end) and after every epoch */
    double best = 0;
    if (hold && start_step == 0)
        STEP(holdout_check(l, hold, o, res, &snap, &best, (size_t)start_epoch * spe, spe, quiet,
                           pr.tty));
    for (int e = start_epoch; e < o->epochs; e++) {
        size_t b0 = e == start_epoch ? start_step : 0;
        STEP(lirf_loader_start(data, e, b0));
        for (size_t b = b0;; b++) {
            lirf_buf x, y, xa, feat0, z0, featT, zT, featR, zR, zm, dzT, dzR, dzm, dfT, dfR;
            int n;
            STEP(lirf_loader_next(data, &x, &y, &n));
            if (n == 0) break;
            size_t gstep = (size_t)e * spe + b;
            STEP(lirf_arena_reset(ws));
            STEP(lirf_arena_get(ws, x.n, &xa));
            if (o->aug.pad > 0 || o->aug.flip || o->aug.max_rot_deg > 0)
                STEP(lirf_augment(ctx, xa, x, n, c->in_c, c->in_h, c->in_w, &o->aug,
                                  o->seed ^ 0x9e3779b9u, (uint32_t)gstep));
            else
                STEP(lirf_buf_copy(ctx, xa, x, x.n));
            /* fresh random labels over all classes (L_kr) */
            for (int i = 0; i < n; i++)
                yr_host[i] = (int32_t)(mix64(((uint64_t)o->seed << 40) ^ ((uint64_t)gstep << 16) ^
                                             (uint64_t)i) % (uint64_t)K);
            lirf_buf yrv = {yr.mem, yr.off, (size_t)n};
            STEP(lirf_buf_write(ctx, yrv, yr_host, (size_t)n));
            /* forward: T0 (reference), target, deposit path */
            STEP(lirf_net_forward(l->t0_lower, ws, NULL, LIRF_MODE_EVAL, xa, n, &feat0));
            STEP(lirf_net_forward(l->upper, ws, NULL, LIRF_MODE_EVAL, feat0, n, &z0));
            STEP(lirf_net_forward(l->target_lower, ws, tl, lower_mode, xa, n, &featT));
            STEP(lirf_net_forward(l->upper, ws, tu1, LIRF_MODE_FROZEN, featT, n, &zT));
            STEP(lirf_net_forward(l->deposit, ws, tr, lower_mode, xa, n, &featR));
            STEP(lirf_net_forward(l->upper, ws, tu2, LIRF_MODE_FROZEN, featR, n, &zR));
            size_t nz = (size_t)n * K;
            STEP(lirf_arena_get(ws, nz, &zm));
            STEP(lirf_merge_columns(ctx, zm, zT, zR, l->mask, n, K));
            /* losses */
            STEP(lirf_softmax_ce_forward(ctx, L[1], LIRF_NOBUF, zT, yrv, n, K));
            STEP(lirf_at_loss_forward(ctx, L[2], featT, feat0, n, fc, fh * fw, o->eps));
            STEP(lirf_kd_forward(ctx, L[3], zT, z0, l->pre_cols, npre, n, K, o->T));
            if (o->pt_all)
                STEP(lirf_kd_forward(ctx, L[4], zR, z0, LIRF_NOBUF, K, n, K, o->T));
            else
                STEP(lirf_kd_forward(ctx, L[4], zR, z0, l->dep_cols, l->ndep, n, K, o->T));
            STEP(lirf_softmax_ce_forward(ctx, L[5], LIRF_NOBUF, zm, y, n, K));
            /* gradients of the logits */
            STEP(lirf_arena_get(ws, nz, &dzT));
            STEP(lirf_arena_get(ws, nz, &dzR));
            STEP(lirf_arena_get(ws, nz, &dzm));
            STEP(lirf_buf_fill(ctx, dzT, 0));
            STEP(lirf_buf_fill(ctx, dzR, 0));
            STEP(lirf_buf_fill(ctx, dzm, 0));
            STEP(lirf_softmax_ce_backward(ctx, dzT, zT, yrv, n, K, 1.0f));
            if (o->lambda_kp != 0)
                STEP(lirf_kd_backward(ctx, dzT, zT, z0, l->pre_cols, npre, n, K, o->T,
                                      o->lambda_kp));
            if (o->lambda_pt != 0) {
                if (o->pt_all)
                    STEP(lirf_kd_backward(ctx, dzR, zR, z0, LIRF_NOBUF, K, n, K, o->T,
                                          o->lambda_pt));
                else
                    STEP(lirf_kd_backward(ctx, dzR, zR, z0, l->dep_cols, l->ndep, n, K, o->T,
                                          o->lambda_pt));
            }
            if (o->lambda_re != 0) {
                STEP(lirf_softmax_ce_backward(ctx, dzm, zm, y, n, K, o->lambda_re));
                lirf_buf dzTre = dzT;
                if (o->re_deposit_only) /* the target's share goes to scratch, unused */
                    STEP(lirf_arena_get(ws, nz, &dzTre));
                STEP(lirf_split_columns_acc(ctx, dzTre, dzR, dzm, l->mask, n, K, 1.0f));
            }
            /* through the frozen upper part, into the two lower parts */
            STEP(lirf_net_zero_grads(l->target_lower));
            STEP(lirf_net_zero_grads(l->deposit));
            STEP(lirf_net_backward(l->upper, ws, tu1, dzT, &dfT));
            if (o->lambda_at != 0)
                STEP(lirf_at_loss_backward(ctx, dfT, featT, feat0, n, fc, fh * fw, o->eps,
                                           -o->lambda_at));
            STEP(lirf_net_backward(l->target_lower, ws, tl, dfT, NULL));
            STEP(lirf_net_backward(l->upper, ws, tu2, dzR, &dfR));
            STEP(lirf_net_backward(l->deposit, ws, tr, dfR, NULL));
            /* the losses and the counts of non-finite gradients, in one read: a bad
             * step stops before its update */
            lirf_buf badT = {losses.mem, losses.off + 6, 1}, badR = {losses.mem, losses.off + 7, 1};
            STEP(lirf_net_count_nonfinite(l->target_lower, badT));
            STEP(lirf_net_count_nonfinite(l->deposit, badR));
            float lv[8];
            STEP(lirf_buf_read(ctx, losses, lv, 8));
            int32_t nbad[2];
            memcpy(nbad, &lv[6], sizeof nbad);
            lv[0] = lv[1] - o->lambda_at * lv[2] + o->lambda_kp * lv[3] + o->lambda_pt * lv[4] +
                    o->lambda_re * lv[5];
            for (int i = 0; i < 6; i++) res->last[i] = lv[i];
            if (!isfinite(lv[0])) {
                st = LIRF_FAIL(LIRF_E_NUMERIC,
                               "a deposit loss became non-finite at epoch %d, step %zu "
                               "(CE %g, L_at %g, L_kp %g, L_pt %g, L_re %g); stopping before the "
                               "update (the last state on disk is kept); try a smaller --lr",
                               e + 1, b + 1, lv[1], lv[2], lv[3], lv[4], lv[5]);
                goto out;
            }
            for (int part = 0; part < 2; part++) {
                if (!nbad[part]) continue;
                char name[160];
                STEP(lirf_net_nonfinite_name(part ? l->deposit : l->target_lower, name,
                                                  sizeof name));
                st = LIRF_FAIL(LIRF_E_NUMERIC,
                               "the %s's %s became non-finite at epoch %d, step "
                               "%zu (%d values); stopping before the update (the last state on "
                               "disk is kept); try a smaller --lr",
                               part ? "deposit module" : "target's lower part",
                               name[0] ? name : "tensors", e + 1, b + 1, (int)nbad[part]);
                goto out;
            }
            float lr = lirf_deposit_lr_at(o, gstep, total);
            STEP(lirf_sgd_step(ctx, lirf_net_params(l->target_lower),
                               lirf_net_momentum(l->target_lower), lirf_net_grads(l->target_lower),
                               lirf_net_nparams(l->target_lower), lr, o->momentum, o->wd));
            STEP(lirf_sgd_step(ctx, lirf_net_params(l->deposit), lirf_net_momentum(l->deposit),
                               lirf_net_grads(l->deposit), lirf_net_nparams(l->deposit), lr,
                               o->momentum, o->wd));
            images += (size_t)n;
            res->steps++;
            lirf_progress_update(&pr, "deposit", e + 1, o->epochs, b + 1, spe, gstep + 1, total,
                                 lv[0], images);
            if (state && io->save_every > 0 && (b + 1) % (size_t)io->save_every == 0 &&
                b + 1 < spe)
                STEP(dep_state_save(l, o, state, e, b + 1));
            if (hold && o->holdout_every > 0 && (b + 1) % (size_t)o->holdout_every == 0 &&
                b + 1 < spe)
                STEP(holdout_check(l, hold, o, res, &snap, &best, gstep + 1, spe, quiet, pr.tty));
            lirf_crash_point("deposit-step");
        }
        if (state) STEP(dep_state_save(l, o, state, e + 1, 0));
        if (hold) STEP(holdout_check(l, hold, o, res, &snap, &best, (size_t)(e + 1) * spe, spe, quiet,
                                     pr.tty));
    }
    if (o->keep_best && res->kept_step >= 0) {
        STEP(snapshot_restore(&snap));
        if (!quiet)
            fprintf(stderr, "lirf: keeping the nets of step %ld, epoch %.2f (lowest held-out Dep "
                            "Acc, %.2f%%)\n", res->kept_step, (double)res->kept_step / (double)spe, best);
    }
    lirf_progress_end(&pr);
    res->seconds = lirf_now() - t0;
    res->images_per_s = res->seconds > 0 ? (double)images / res->seconds : 0;
out:
    free(snap.host[0]), free(snap.host[1]);
    free(yr_host);
    lirf_buf_free(ctx, &losses);
    lirf_buf_free(ctx, &yr);
    lirf_tape_destroy(tl), lirf_tape_destroy(tu1), lirf_tape_destroy(tu2), lirf_tape_destroy(tr);
    lirf_arena_destroy(ws);
    return st;
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
    const char *keys[] = {"lirf_kind", "deposit_classes", "deposit_options"};
    const char *vals[] = {"target", dep, ojs ? ojs : "{}"};
    lirf_net *nets[2] = {l->target_lower, l->upper};
    const char *pre[2] = {"", ""};
    lirf_status st = lirf_checkpoint_save(path, nets, pre, 2, &m, keys, vals, 3);
    free(ojs);
    return st;
}

static size_t count_params(lirf_net *n) { return lirf_net_nparams(n); }

lirf_status lirf_save_deposit(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                              int compression, const json_t *extra) {
    return lirf_save_deposit_sealed(l, path, o, compression, extra, NULL);
}

lirf_status lirf_save_deposit_sealed(lirf_lirf *l, const char *path, const lirf_deposit_opts *o,
                                     int compression, const json_t *extra,
                                     const lirf_archive_seal *seal) {
    char fp[65];
    LIRF_TRY(lirf_upper_fingerprint(l->upper, fp));
    int exact = o->mode == LIRF_DEPOSIT_EXACT;
    lirf_net *module = exact ? l->t0_lower : l->deposit;
    lirf_model_meta m = l->meta;
    snprintf(m.split, sizeof m.split, "%s", lirf_stage_name(m.cfg.arch, l->split));
    memcpy(m.cfg.mid, exact ? (int[4][2]){{0}} : l->mid, sizeof m.cfg.mid);
    const char *keys[] = {"lirf_kind"};
    const char *vals[] = {"deposit_module"};
    void *bytes = NULL;
    size_t len = 0;
    lirf_net *nets[1] = {module};
    const char *pre[1] = {""};
    LIRF_TRY(lirf_checkpoint_save_mem(&bytes, &len, nets, pre, 1, &m, keys, vals, 1));

    json_t *man = json_object();
    json_object_set_new(man, "lirf_version", json_string(LIRF_VERSION));
    json_object_set_new(man, "mode", json_string(exact ? "exact" : "paper"));
    json_object_set_new(man, "architecture", json_string(lirf_arch_name(m.cfg.arch)));
    json_object_set_new(man, "width", json_integer(m.cfg.width));
    json_object_set_new(man, "in_shape", json_pack("[i,i,i]", m.cfg.in_c, m.cfg.in_h, m.cfg.in_w));
    json_object_set_new(man, "classes", json_integer(l->K));
    json_object_set_new(man, "split", json_string(m.split));
    json_t *dep = json_array(), *pres = json_array(), *names = json_array();
    int32_t mask[LIRF_MAX_CLASSES] = {0};
    for (int j = 0; j < l->ndep; j++) mask[l->dep[j]] = 1;
    for (int k = 0; k < l->K; k++) {
        json_array_append_new(mask[k] ? dep : pres, json_integer(k));
        if (l->meta.class_names) json_array_append_new(names, json_string(l->meta.class_names[k]));
    }
    json_object_set_new(man, "deposit_classes", dep);
    json_object_set_new(man, "preservation_classes", pres);
    json_object_set_new(man, "class_names", names);
    json_t *pr = json_object();
    json_object_set_new(pr, "method", json_string(exact ? "none (exact mode: T0's lower part)"
                                                        : "L1-norm filter ranking of each block's conv1"));
    json_object_set_new(pr, "rate", json_real(exact ? 0.0 : o->prune_rate));
    json_t *blocks = json_array();
    size_t off = 0;
    for (int s = 1; !exact && s <= l->split; s++)
        for (int b = 0; b < 2; b++) {
            int keep = l->mid[s - 1][b];
            if (!keep) continue;
            json_t *kept = json_array();
            for (int k = 0; k < keep; k++) json_array_append_new(kept, json_integer(l->kept[off + (size_t)k]));
            off += (size_t)keep;
            char bn[32];
            snprintf(bn, sizeof bn, "layer%d.%d", s, b);
            json_array_append_new(blocks, json_pack("{s:s,s:i,s:i,s:o}", "block", bn, "filters",
                                                    m.cfg.width << (s - 1), "kept_count", keep,
                                                    "kept", kept));
        }
    json_object_set_new(pr, "blocks", blocks);
    json_object_set_new(man, "pruning", pr);
    json_object_set_new(man, "hyperparameters", lirf_deposit_opts_json(o));
    json_object_set_new(man, "upper_fingerprint_sha256", json_string(fp));
    size_t whole = count_params(l->t0_lower) + count_params(l->upper);
    json_object_set_new(man, "parameters", json_pack("{s:I,s:I,s:I}", "deposit_module",
                                                    (json_int_t)count_params(module), "whole_network",
                                                    (json_int_t)whole, "lower_part",
                                                    (json_int_t)count_params(l->t0_lower)));
    if (extra) json_object_set(man, "run", (json_t *)extra);
    char *mj = json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(man);
    lirf_status st = mj ? lirf_archive_write_sealed(path, mj, bytes, len, compression, seal)
                        : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    free(mj);
    free(bytes);
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

lirf_status lirf_withdraw(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                          const char *recover_path, json_t **report) {
    return lirf_withdraw_sealed(ctx, target_path, archive_path, recover_path, NULL, report);
}

lirf_status lirf_withdraw_sealed(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                                 const char *recover_path, const lirf_archive_unseal *unseal,
                                 json_t **report) {
    if (!ctx || !target_path || !archive_path || !recover_path)
        return LIRF_FAIL(LIRF_E_NULL, "withdraw: NULL argument");
    lirf_safetensors tst = {0}, dst = {0};
    lirf_model_meta tm = {0}, dm = {0};
    json_t *man = NULL;
    void *bytes = NULL;
    size_t len = 0;
    lirf_net *tl = NULL, *up = NULL, *dp = NULL;
    lirf_status st;
    STEP(lirf_checkpoint_open(target_path, &tst, &tm));
    int split = lirf_stage_parse(tm.cfg.arch, tm.split);
    if (split < 1 || split > 4) {
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a target net (no split point in its metadata)",
                       target_path);
        goto out;
    }
    int last = lirf_arch_stages(tm.cfg.arch) - 1;
    STEP(lirf_checkpoint_make_net(ctx, &tst, target_path, &tm, "", 0, split, &tl));
    STEP(lirf_checkpoint_make_net(ctx, &tst, target_path, &tm, "", split + 1, last, &up));
    lirf_archive_info info;
    STEP(lirf_archive_read_sealed(archive_path, unseal, &man, &bytes, &len, &info));
    /* the archive must describe this network */
    const char *arch = json_string_value(json_object_get(man, "architecture"));
    const char *msplit = json_string_value(json_object_get(man, "split"));
    json_int_t width = json_integer_value(json_object_get(man, "width"));
    json_int_t classes = json_integer_value(json_object_get(man, "classes"));
    const char *mode = json_string_value(json_object_get(man, "mode"));
    if (!arch || strcmp(arch, lirf_arch_name(tm.cfg.arch)) || !msplit || strcmp(msplit, tm.split) ||
        width != tm.cfg.width || classes != tm.cfg.classes || !mode ||
        (strcmp(mode, "paper") && strcmp(mode, "exact"))) {
        st = LIRF_FAIL(LIRF_E_FORMAT,
                       "%s does not belong to %s: the manifest describes %s width %lld, %lld "
                       "classes, split %s, mode %s; the target is %s width %d, %d classes, split %s",
                       archive_path, target_path, arch ? arch : "?", (long long)width,
                       (long long)classes, msplit ? msplit : "?", mode ? mode : "?",
                       lirf_arch_name(tm.cfg.arch), tm.cfg.width, tm.cfg.classes, tm.split);
        goto out;
    }
    char fp[65];
    STEP(lirf_upper_fingerprint(up, fp));
    const char *want = json_string_value(json_object_get(man, "upper_fingerprint_sha256"));
    if (!want || strcmp(want, fp)) {
        st = LIRF_FAIL(LIRF_E_FORMAT,
                       "%s was deposited from another network: its upper-part fingerprint %.16s... "
                       "does not match %s's %.16s...",
                       archive_path, want ? want : "(none)", target_path, fp);
        goto out;
    }
    char what[1200];
    snprintf(what, sizeof what, "%s:deposit.safetensors", archive_path);
    STEP(lirf_checkpoint_open_mem(bytes, len, what, &dst, &dm));
    if (dm.cfg.arch != tm.cfg.arch || dm.cfg.width != tm.cfg.width ||
        dm.cfg.classes != tm.cfg.classes || dm.cfg.in_c != tm.cfg.in_c ||
        dm.cfg.in_h != tm.cfg.in_h || dm.cfg.in_w != tm.cfg.in_w) {
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: the deposit module does not fit the target net", what);
        goto out;
    }
    STEP(lirf_checkpoint_make_net(ctx, &dst, what, &dm, "", 0, split, &dp));
    /* the recover checkpoint: target (torchvision names) + deposit.* */
    json_t *dc = json_object_get(man, "deposit_classes");
    char dep[4096] = "";
    size_t k = 0;
    for (size_t i = 0; i < json_array_size(dc) && k + 12 < sizeof dep; i++)
        k += (size_t)snprintf(dep + k, sizeof dep - k, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_array_get(dc, i)));
    int32_t dv[LIRF_MAX_CLASSES];
    int nd;
    STEP(parse_classes(dep, dv, &nd, tm.cfg.classes, archive_path));
    STEP(check_classes(dv, nd, tm.cfg.classes));
    char mid[128] = "";
    k = 0;
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            k += (size_t)snprintf(mid + k, sizeof mid - k, "%s%d", k ? "," : "", dm.cfg.mid[a][b]);
    int exact = !strcmp(mode, "exact");
    const char *keys[] = {"lirf_kind", "deposit_classes", "deposit_mid", "recover_rule",
                          "deposit_mode"};
    const char *vals[] = {"recover", dep, mid, exact ? "deposit_path" : "columns", mode};
    lirf_net *nets[3] = {tl, up, dp};
    const char *pre[3] = {"", "", "deposit."};
    memset(tm.cfg.mid, 0, sizeof tm.cfg.mid);
    STEP(lirf_checkpoint_save(recover_path, nets, pre, 3, &tm, keys, vals, 5));
    if (report)
        *report = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:I}", "target", target_path, "archive",
                            archive_path, "recover", recover_path, "mode", mode,
                            "deposit_classes", dep, "upper_fingerprint_sha256", fp,
                            "deposit_parameters", (json_int_t)lirf_net_nparams(dp));
    if (report && *report) {
        json_object_set_new(*report, "signed_by",
                            info.is_signed ? json_string(info.signer) : json_null());
        json_object_set_new(*report, "signature_verified", json_boolean(info.verified));
        json_object_set_new(*report, "encrypted_to",
                            info.encrypted ? json_string(info.recipient) : json_null());
    }
out:
    lirf_net_destroy(tl), lirf_net_destroy(up), lirf_net_destroy(dp);
    json_decref(man);
    free(bytes);
    lirf_st_free(&tst), lirf_st_free(&dst);
    lirf_model_meta_free(&tm), lirf_model_meta_free(&dm);
    return st;
}

/* ---- any checkpoint as logits ---- */
struct lirf_model {
    lirf_model_meta meta;
    lirf_net *whole;
    lirf_lirf *rec; /* recover nets */
    int deposit_path_only;
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
    const char *kind = lirf_st_meta(&st, "lirf_kind");
    if (kind && !strcmp(kind, "recover")) {
        int split = lirf_stage_parse(m->meta.cfg.arch, m->meta.split);
        int32_t dep[LIRF_MAX_CLASSES];
        int nd = 0;
        lirf_model_meta dm = m->meta;
        const char *mid = lirf_st_meta(&st, "deposit_mid");
        int *v = &dm.cfg.mid[0][0];
        if (split < 1 || split > 4)
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: recover net without a split point", path);
        if (s == LIRF_OK && (!mid || sscanf(mid, "%d,%d,%d,%d,%d,%d,%d,%d", v, v + 1, v + 2, v + 3,
                                            v + 4, v + 5, v + 6, v + 7) != 8))
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
const char *lirf_model_kind(const lirf_model *m) { return m->rec ? "recover" : "model"; }

lirf_status lirf_model_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_model *m = user;
    if (m->whole) return lirf_net_forward(m->whole, ws, NULL, LIRF_MODE_EVAL, x, n, logits);
    if (m->deposit_path_only) return lirf_deposit_path_logits(m->rec, ws, x, n, logits);
    return lirf_recover_logits(m->rec, ws, x, n, logits);
}
