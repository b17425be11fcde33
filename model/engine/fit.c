/* lirf_fit: the one training loop (see fit.h). */
#include "fit.h"

#include "fileutil.h"
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* ---- schedule ---- */
const char *lirf_sched_name(lirf_sched s) {
    return s == LIRF_SCHED_STEP          ? "step"
           : s == LIRF_SCHED_CONST       ? "const"
           : s == LIRF_SCHED_COSINE_STEPS ? "cosine-steps"
                                          : "cosine";
}

lirf_status lirf_sched_parse(const char *s, lirf_sched *out) {
    if (!strcasecmp(s, "cosine")) return *out = LIRF_SCHED_COSINE, LIRF_OK;
    if (!strcasecmp(s, "step")) return *out = LIRF_SCHED_STEP, LIRF_OK;
    if (!strcasecmp(s, "const")) return *out = LIRF_SCHED_CONST, LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID, "unknown schedule \"%s\" (cosine, step or const)", s);
}

static float cosine_steps(const lirf_schedule *s, size_t step, size_t total) {
    if (total < 2) return s->lr;
    double f = (double)step / (double)total;
    if (f > 1) f = 1;
    return (float)(s->lr * 0.5 * (1 + cos(3.141592653589793 * f)));
}

float lirf_schedule_lr(const lirf_schedule *s, size_t gstep, size_t spe) {
    if (s->kind == LIRF_SCHED_COSINE_STEPS)
        return cosine_steps(s, gstep, (size_t)(s->epochs > 0 ? s->epochs : 1) * spe);
    double t = (double)gstep / (double)(spe ? spe : 1), E = s->epochs > 0 ? s->epochs : 1;
    if (s->warmup > 0 && t < s->warmup) return (float)(s->lr * (0.04 + 0.96 * (t / s->warmup)));
    if (s->kind == LIRF_SCHED_CONST) return s->lr;
    if (s->kind == LIRF_SCHED_STEP) {
        double f = t / E;
        return (float)(s->lr * (f >= 0.75 ? s->step_gamma * s->step_gamma
                                : f >= 0.5 ? s->step_gamma
                                           : 1.0));
    }
    double w = s->warmup > 0 ? s->warmup : 0;
    double f = E > w ? (t - w) / (E - w) : 1;
    if (f > 1) f = 1;
    if (f < 0) f = 0;
    return (float)(s->lr * 0.5 * (1 + cos(3.141592653589793 * f)));
}

/* ---- progress ---- */
double lirf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void lirf_progress_init(lirf_progress *p, FILE *out) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->last_print = -1e9;
}

static void fmt_time(char *b, size_t n, double s) {
    if (s < 0 || !isfinite(s)) snprintf(b, n, "?");
    else if (s < 60) snprintf(b, n, "%.0fs", s);
    else if (s < 3600) snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(b, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

static void print_step(lirf_progress *p, const lirf_fit_event *e) {
    double t = lirf_now(), el = e->elapsed;
    int end_of_epoch = e->step == e->spe;
    if (!end_of_epoch && t - p->last_print < (p->tty ? 0.25 : 30.0)) return;
    p->last_print = t;
    size_t since = e->done > e->done_at_start ? e->done - e->done_at_start : 0;
    double eta = since ? el / (double)since * (double)(e->total - e->done) : -1;
    char a[32], b[32];
    fmt_time(a, sizeof a, el);
    fmt_time(b, sizeof b, eta);
    fprintf(p->out, "%s%s epoch %d/%d step %zu/%zu loss %.4f %.0f img/s elapsed %s ETA %s%s",
            p->tty ? "\r\033[K" : "", e->what, e->epoch, e->epochs, e->step, e->spe, e->loss,
            el > 0 ? (double)e->images / el : 0.0, a, b, p->tty ? "" : "\n");
    if (p->tty && end_of_epoch) fputc('\n', p->out);
    fflush(p->out);
}

void lirf_fit_print(void *user, const lirf_fit_event *e) {
    lirf_progress *p = user;
    if (!p || !p->out) return;
    const char *label = e->check_label ? e->check_label : "held-out score";
    double at = e->spe ? (double)e->done / (double)e->spe : 0.0;
    switch (e->kind) {
    case LIRF_FIT_STEP: print_step(p, e); break;
    case LIRF_FIT_CHECK:
        if (p->tty) fputc('\n', p->out);
        fprintf(p->out, "lirf: %s epoch %.2f (step %zu): %s %.2f%%", e->what, at, e->done,
                label, e->score);
        if (e->check_samples) fprintf(p->out, " (%zu samples)", e->check_samples);
        fputc('\n', p->out);
        break;
    case LIRF_FIT_KEPT:
        fprintf(p->out, "lirf: keeping the nets of step %zu, epoch %.2f (lowest %s, %.2f%%)\n",
                e->done, at, label, e->score);
        break;
    case LIRF_FIT_RESUMED:
        fprintf(p->out, "lirf: resuming %s at epoch %d, step %zu\n", e->what, e->epoch, e->step);
        break;
    }
}

/* ---- sources ---- */
static size_t loader_batches(void *self) { return lirf_loader_batches(self); }
static lirf_status loader_start(void *self, int epoch, size_t skip) {
    return lirf_loader_start(self, epoch, skip);
}
static lirf_status loader_next(void *self, lirf_buf *x, lirf_buf *y, int *n, const size_t **rows) {
    *rows = NULL;
    return lirf_loader_next(self, x, y, n);
}

lirf_fit_source lirf_fit_loader(lirf_loader *l) {
    return (lirf_fit_source){l, loader_batches, loader_start, loader_next};
}

struct lirf_host_batches {
    lirf_host_batches_opts o;
    size_t *perm, *rows, pos, spe, b, t;
    int epoch;
    float *x;
    int32_t *y;
    lirf_buf xb, yb;
};

void lirf_host_batches_destroy(lirf_host_batches *h) {
    if (!h) return;
    free(h->perm), free(h->rows), free(h->x), free(h->y);
    lirf_buf_free(h->o.ctx, &h->xb), lirf_buf_free(h->o.ctx, &h->yb);
    free(h);
}

lirf_status lirf_host_batches_create(const lirf_host_batches_opts *o, lirf_host_batches **out) {
    if (!o || !out || !o->ctx || !o->fill) return LIRF_FAIL(LIRF_E_NULL, "host batches: NULL argument");
    if (o->batch < 1 || (size_t)o->batch > o->count || !o->per)
        return LIRF_FAIL(LIRF_E_INVALID, "host batches: batch %d of %zu samples", o->batch, o->count);
    lirf_host_batches *h = calloc(1, sizeof *h);
    if (!h) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    h->o = *o;
    size_t B = (size_t)o->batch;
    h->spe = o->stream ? o->stream_steps : o->count / B;
    h->perm = malloc(o->count * sizeof *h->perm);
    h->rows = malloc(B * sizeof *h->rows);
    h->x = malloc(B * o->per * sizeof *h->x);
    h->y = malloc(B * sizeof *h->y);
    lirf_status st = h->perm && h->rows && h->x && h->y
                         ? LIRF_OK
                         : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) st = lirf_buf_alloc(o->ctx, B * o->per, &h->xb);
    if (st == LIRF_OK) st = lirf_buf_alloc(o->ctx, B, &h->yb);
    if (st != LIRF_OK) {
        lirf_host_batches_destroy(h);
        return st;
    }
    *out = h;
    return LIRF_OK;
}

static size_t host_batches(void *self) { return ((lirf_host_batches *)self)->spe; }

static lirf_status host_start(void *self, int epoch, size_t skip) {
    lirf_host_batches *h = self;
    h->epoch = epoch, h->b = skip, h->t = 0, h->pos = h->o.count;
    if (!h->o.stream) lirf_shuffle(h->perm, h->o.count, h->o.key ^ (uint64_t)(unsigned)epoch);
    else if (skip || epoch)
        return LIRF_FAIL(LIRF_E_INVALID, "host batches: a stream cannot be resumed");
    return LIRF_OK;
}

static const size_t *host_rows(lirf_host_batches *h) {
    size_t B = (size_t)h->o.batch;
    if (!h->o.stream) return h->perm + h->b * B;
    h->t++;
    for (size_t i = 0; i < B; i++) {
        if (h->pos >= h->o.count) { /* a new shuffled pass */
            lirf_shuffle(h->perm, h->o.count, h->o.key ^ (uint64_t)h->t);
            h->pos = 0;
        }
        h->rows[i] = h->perm[h->pos++];
    }
    return h->rows;
}

static lirf_status host_next(void *self, lirf_buf *x, lirf_buf *y, int *n, const size_t **rows) {
    lirf_host_batches *h = self;
    *n = 0, *rows = NULL;
    if (h->b >= h->spe) return LIRF_OK;
    int B = h->o.batch;
    const size_t *r = host_rows(h);
    h->o.fill(h->o.user, r, B, h->x, h->y);
    LIRF_TRY(lirf_buf_write(h->o.ctx, h->xb, h->x, (size_t)B * h->o.per));
    LIRF_TRY(lirf_buf_write(h->o.ctx, h->yb, h->y, (size_t)B));
    h->b++;
    *x = h->xb, *y = h->yb, *n = B, *rows = r;
    return LIRF_OK;
}

lirf_fit_source lirf_fit_host(lirf_host_batches *h) {
    return (lirf_fit_source){h, host_batches, host_start, host_next};
}

/* ---- parts ---- */
lirf_fit_part lirf_fit_net_part(lirf_net *net, const char *prefix, const char *label) {
    lirf_fit_part p = {0};
    p.net = net, p.prefix = prefix ? prefix : "", p.label = label;
    if (net) {
        p.params = lirf_net_params(net), p.grads = lirf_net_grads(net);
        p.momentum = lirf_net_momentum(net), p.n = lirf_net_nparams(net);
    }
    return p;
}

/* ---- keep-best: host copies of every part (every tensor) ---- */
typedef struct {
    unsigned char *host[LIRF_FIT_MAX_PARTS];
} snapshot;

static size_t tensor_bytes(const lirf_tensor_desc *d) {
    return d->kind == LIRF_T_COUNT ? sizeof(int64_t) : d->n * sizeof(float);
}

/* part k of the snapshot from net n */
static lirf_status snapshot_take_net(snapshot *s, int k, lirf_net *n) {
    if (!s->host[k]) {
        size_t b = 0;
        for (size_t i = 0; i < lirf_net_ntensors(n); i++) b += tensor_bytes(lirf_net_tensor(n, i));
        if (!(s->host[k] = malloc(b ? b : 1))) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    size_t off = 0;
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        LIRF_TRY(lirf_net_tensor_get(n, i, s->host[k] + off));
        off += tensor_bytes(lirf_net_tensor(n, i));
    }
    return LIRF_OK;
}

/* part k of the snapshot into net n */
static lirf_status snapshot_put_net(const snapshot *s, int k, lirf_net *n) {
    size_t off = 0;
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        LIRF_TRY(lirf_net_tensor_set(n, i, s->host[k] + off));
        off += tensor_bytes(lirf_net_tensor(n, i));
    }
    return LIRF_OK;
}

static lirf_status snapshot_take(snapshot *s, const lirf_method *m) {
    for (int k = 0; k < m->nparts; k++) LIRF_TRY(snapshot_take_net(s, k, m->part[k].net));
    return LIRF_OK;
}

static lirf_status snapshot_restore(snapshot *s, const lirf_method *m) {
    for (int k = 0; k < m->nparts; k++) LIRF_TRY(snapshot_put_net(s, k, m->part[k].net));
    return LIRF_OK;
}

/* ---- the training state (--resume) ---- */
static lirf_status momentum_twin(lirf_net *net, lirf_net **out) {
    lirf_net_config c = *lirf_net_cfg(net);
    LIRF_TRY(lirf_net_create(lirf_net_ctx(net), &c, out));
    lirf_status st = lirf_buf_copy(lirf_net_ctx(net), lirf_net_params(*out),
                                   lirf_net_momentum(net), lirf_net_nparams(net));
    if (st != LIRF_OK) lirf_net_destroy(*out), *out = NULL;
    return st;
}

/* A fresh net shaped as `like` holding part k of the snapshot. */
static lirf_status snapshot_twin(const snapshot *s, int k, lirf_net *like, lirf_net **out) {
    lirf_net_config c = *lirf_net_cfg(like);
    LIRF_TRY(lirf_net_create(lirf_net_ctx(like), &c, out));
    lirf_status st = snapshot_put_net(s, k, *out);
    if (st != LIRF_OK) lirf_net_destroy(*out), *out = NULL;
    return st;
}

/* state_format, epoch, step, then the caller's keys; every part's
 * parameters and momentum, part after part. With keep-best and a kept
 * check (best: the snapshot, res its step and score), also the kept nets
 * ("<part>best.") and the keys kept_step and kept_score, so that a resumed
 * run keeps what an uninterrupted one keeps. */
static lirf_status state_save(const lirf_method *m, const lirf_fit_opts *o, int epoch,
                              size_t step, const snapshot *best, const lirf_fit_result *res) {
    char es[32], ss[32], ks[32], kv[40], pre[3 * LIRF_FIT_MAX_PARTS][96];
    snprintf(es, sizeof es, "%d", epoch);
    snprintf(ss, sizeof ss, "%zu", step);
    const char *keys[3 + 4 + 2] = {"state_format", "epoch", "step"}, *vals[3 + 4 + 2] = {o->state_format, es, ss};
    for (int i = 0; i < o->nkeys; i++) keys[3 + i] = o->keys[i].key, vals[3 + i] = o->keys[i].value;
    int nk = 3 + o->nkeys, kept = o->keep_best && best && res && res->kept_step >= 0, per = 2 + kept;
    if (kept) {
        snprintf(ks, sizeof ks, "%ld", res->kept_step);
        snprintf(kv, sizeof kv, "%.17g", res->kept_score);
        keys[nk] = "kept_step", vals[nk++] = ks, keys[nk] = "kept_score", vals[nk++] = kv;
    }
    lirf_net *nets[3 * LIRF_FIT_MAX_PARTS] = {0};
    const char *prep[3 * LIRF_FIT_MAX_PARTS];
    static const char *what[3] = {"param.", "momentum.", "best."};
    lirf_status st = LIRF_OK;
    for (int p = 0; p < m->nparts && st == LIRF_OK; p++) {
        for (int w = 0; w < per; w++) {
            snprintf(pre[per * p + w], sizeof pre[0], "%s%s", m->part[p].prefix, what[w]);
            prep[per * p + w] = pre[per * p + w];
        }
        nets[per * p] = m->part[p].net;
        st = momentum_twin(m->part[p].net, &nets[per * p + 1]);
        if (st == LIRF_OK && kept) st = snapshot_twin(best, p, m->part[p].net, &nets[per * p + 2]);
    }
    if (st == LIRF_OK)
        st = lirf_checkpoint_save(o->state_path, nets, prep, per * m->nparts, o->meta, keys, vals, nk);
    for (int p = 0; p < m->nparts; p++)
        for (int w = 1; w < per; w++) lirf_net_destroy(nets[per * p + w]);
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

/* the recorded keys against the run's, then the epoch and step */
static lirf_status state_check(const lirf_safetensors *st, const lirf_fit_opts *o, int *epoch,
                               size_t *step) {
    const char *path = o->state_path, *fmt = lirf_st_meta(st, "state_format");
    const char *e = lirf_st_meta(st, "epoch"), *sp = lirf_st_meta(st, "step");
    if (!fmt || strcmp(fmt, o->state_format) || !e || !sp)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a %s state file", path, o->state_what);
    for (int i = 0; i < o->nkeys; i++) {
        const lirf_fit_state_key *k = &o->keys[i];
        const char *v = lirf_st_meta(st, k->key);
        if (!v) return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a %s state file", path, o->state_what);
        if (strcmp(v, k->value) && k->show)
            return LIRF_FAIL(LIRF_E_INVALID, "%s %s (%.400s); resume with the same options, or "
                             "start afresh without --resume", path, k->refusal, v);
        if (strcmp(v, k->value))
            return LIRF_FAIL(LIRF_E_INVALID, "%s %s; start afresh without --resume", path,
                             k->refusal);
    }
    char *end1 = NULL, *end2 = NULL;
    long ev = strtol(e, &end1, 10);
    unsigned long long sv = strtoull(sp, &end2, 10);
    if (*end1 || *end2 || ev < 0 || ev > o->epochs || sv > (1ull << 40))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad epoch/step (%.20s, %.20s)", path, e, sp);
    *epoch = (int)ev, *step = (size_t)sv;
    return LIRF_OK;
}

/* The kept nets of a state (keys kept_step, kept_score and "<part>best."
 * tensors) into the snapshot and res; none in the state: nothing kept. */
static lirf_status load_kept(const lirf_safetensors *st, const lirf_method *m,
                             const lirf_fit_opts *o, snapshot *best, lirf_fit_result *res) {
    const char *ks = lirf_st_meta(st, "kept_step"), *kv = lirf_st_meta(st, "kept_score");
    if (!o->keep_best || !ks || !kv) return LIRF_OK;
    char *e1 = NULL, *e2 = NULL;
    long step = strtol(ks, &e1, 10);
    double score = strtod(kv, &e2);
    if (*e1 || *e2 || step < 0)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad kept step/score (%.20s, %.40s)", o->state_path, ks, kv);
    for (int p = 0; p < m->nparts; p++) {
        char pre[96];
        lirf_net *twin;
        snprintf(pre, sizeof pre, "%sbest.", m->part[p].prefix);
        lirf_net_config c = *lirf_net_cfg(m->part[p].net);
        LIRF_TRY(lirf_net_create(lirf_net_ctx(m->part[p].net), &c, &twin));
        lirf_status s = lirf_checkpoint_load_net(st, o->state_path, pre, twin);
        if (s == LIRF_OK) s = snapshot_take_net(best, p, twin);
        lirf_net_destroy(twin);
        LIRF_TRY(s);
    }
    res->kept_step = step, res->kept_score = score;
    return LIRF_OK;
}

static lirf_status state_load(const lirf_method *m, const lirf_fit_opts *o, int *epoch,
                              size_t *step, int *found, snapshot *best, lirf_fit_result *res) {
    *found = 0;
    if (access(o->state_path, F_OK) != 0) return LIRF_OK;
    lirf_safetensors st;
    lirf_model_meta meta;
    LIRF_TRY(lirf_checkpoint_open(o->state_path, &st, &meta));
    lirf_status s = state_check(&st, o, epoch, step);
    for (int p = 0; p < m->nparts && s == LIRF_OK; p++) {
        char pre[96];
        snprintf(pre, sizeof pre, "%sparam.", m->part[p].prefix);
        s = lirf_checkpoint_load_net(&st, o->state_path, pre, m->part[p].net);
        snprintf(pre, sizeof pre, "%smomentum.", m->part[p].prefix);
        if (s == LIRF_OK) s = load_momentum(&st, o->state_path, pre, m->part[p].net);
    }
    if (s == LIRF_OK) s = load_kept(&st, m, o, best, res);
    if (s == LIRF_OK) *found = 1;
    lirf_model_meta_free(&meta);
    lirf_st_free(&st);
    return s;
}

/* ---- the loop ---- */
typedef struct {
    lirf_ctx *ctx;
    lirf_method *m;
    lirf_fit_source *src;
    const lirf_fit_opts *o;
    lirf_fit_result *res;
    lirf_arena *ws;
    lirf_buf terms;          /* LIRF_FIT_MAX_TERMS floats, then an int32 count a part */
    snapshot snap;
    size_t spe, total, images;
    double t0;
    int start_epoch;
    size_t start_step;
} fit_run;

static void emit(fit_run *r, lirf_fit_event *e) {
    if (!r->o->progress) return;
    e->what = r->m->name, e->check_label = r->m->check_label;
    e->check_samples = r->m->check_samples;
    e->epochs = r->o->epochs, e->spe = r->spe, e->total = r->total;
    e->done_at_start = (size_t)r->start_epoch * r->spe + r->start_step;
    e->elapsed = lirf_now() - r->t0;
    r->o->progress(r->o->progress_user, e);
}

static lirf_status check(fit_run *r, size_t gstep, int *stop) {
    double score;
    *stop = 0;
    LIRF_TRY(r->m->check(r->m->self, gstep, &score, stop));
    lirf_fit_result *res = r->res;
    if (res->nchecks < LIRF_FIT_MAX_CHECKS) {
        res->check_step[res->nchecks] = gstep;
        res->check_score[res->nchecks++] = score;
    }
    emit(r, &(lirf_fit_event){.kind = LIRF_FIT_CHECK, .done = gstep, .score = score});
    if (*stop) res->stop_step = (long)gstep;
    if (r->o->keep_best && (res->kept_step < 0 || score < res->kept_score)) {
        LIRF_TRY(snapshot_take(&r->snap, r->m));
        res->kept_score = score, res->kept_step = (long)gstep;
    }
    return LIRF_OK;
}

static lirf_status refuse_step(fit_run *r, const float *lv, double loss, int epoch, size_t step) {
    const lirf_method *m = r->m;
    if (!isfinite(loss)) {
        char terms[512] = "";
        size_t k = 0;
        for (int i = 0; m->nterms > 1 && i < m->nterms && k < sizeof terms; i++)
            k += (size_t)snprintf(terms + k, sizeof terms - k, "%s%s %g", i ? ", " : " (",
                                  m->term_name[i], (double)lv[i]);
        if (m->nterms > 1 && k < sizeof terms) snprintf(terms + k, sizeof terms - k, ")");
        return LIRF_FAIL(LIRF_E_NUMERIC,
                         "%s: the %s became %s at epoch %d, step %zu%s; stopping before the "
                         "update (the last state on disk is kept). Try a smaller learning rate.",
                         m->name, m->loss_label ? m->loss_label : "loss", isnan(loss) ? "NaN" : "infinite",
                         epoch + 1, step, terms);
    }
    for (int p = 0; p < m->nparts; p++) {
        int32_t nbad;
        memcpy(&nbad, &lv[LIRF_FIT_MAX_TERMS + p], sizeof nbad);
        if (!nbad) continue;
        char name[160] = "";
        LIRF_TRY(lirf_net_nonfinite_name(m->part[p].net, name, sizeof name));
        const char *lab = m->part[p].label;
        return LIRF_FAIL(LIRF_E_NUMERIC,
                         "%s: the %s%s%s became non-finite at epoch %d, step %zu (%d values in "
                         "all); stopping before the update (the last state on disk is kept). Try "
                         "a smaller learning rate.",
                         m->name, lab ? lab : "", lab ? "'s " : "", name[0] ? name : "gradients", epoch + 1,
                         step, (int)nbad);
    }
    return LIRF_OK;
}

/* the batch into the arena: augmented, copied or as it is */
static lirf_status stage_input(fit_run *r, lirf_buf x, int n, size_t gstep, lirf_buf *xa) {
    const lirf_fit_opts *o = r->o;
    int aug = o->aug.pad > 0 || o->aug.flip || o->aug.max_rot_deg > 0;
    if (!aug && !o->copy_input) return *xa = x, LIRF_OK;
    LIRF_TRY(lirf_arena_get(r->ws, x.n, xa));
    if (!aug) return lirf_buf_copy(r->ctx, *xa, x, x.n);
    return lirf_augment(r->ctx, *xa, x, n, o->in_c, o->in_h, o->in_w, &o->aug, o->aug_seed,
                        (uint32_t)gstep);
}

/* forward/backward by the method, the check, the update */
static lirf_status one_step(fit_run *r, lirf_buf x, lirf_buf y, int n, const size_t *rows, int e,
                            size_t b) {
    lirf_method *m = r->m;
    size_t gstep = (size_t)e * r->spe + b;
    lirf_fit_step s = {.ctx = r->ctx, .ws = r->ws, .y = y, .n = n, .rows = rows, .epoch = e,
                       .step = b, .gstep = gstep, .spe = r->spe};
    s.lr = lirf_schedule_lr(&r->o->sched, gstep, r->spe);
    for (int i = 0; i < LIRF_FIT_MAX_TERMS; i++)
        s.term[i] = (lirf_buf){r->terms.mem, r->terms.off + (size_t)i, 1};
    LIRF_TRY(lirf_arena_reset(r->ws));
    LIRF_TRY(stage_input(r, x, n, gstep, &s.x));
    for (int p = 0; p < m->nparts; p++)
        if (m->part[p].n) LIRF_TRY(lirf_buf_fill(r->ctx, m->part[p].grads, 0));
    LIRF_TRY(lirf_buf_fill(r->ctx, (lirf_buf){r->terms.mem, r->terms.off, LIRF_FIT_MAX_TERMS}, 0));
    LIRF_TRY(m->step(m->self, &s));
    size_t nread = LIRF_FIT_MAX_TERMS + (size_t)m->nparts;
    for (int p = 0; p < m->nparts; p++)
        if (m->part[p].net)
            LIRF_TRY(lirf_net_count_nonfinite(
                m->part[p].net, (lirf_buf){r->terms.mem, r->terms.off + LIRF_FIT_MAX_TERMS + (size_t)p, 1}));
    float lv[LIRF_FIT_MAX_TERMS + LIRF_FIT_MAX_PARTS] = {0};
    LIRF_TRY(lirf_buf_read(r->ctx, (lirf_buf){r->terms.mem, r->terms.off, nread}, lv, nread));
    for (int p = 0; p < m->nparts; p++)
        if (!m->part[p].net) memset(&lv[LIRF_FIT_MAX_TERMS + p], 0, sizeof(float));
    double loss = m->total ? m->total(m->self, lv) : lv[0];
    memcpy(r->res->terms, lv, sizeof r->res->terms);
    r->res->last_loss = loss;
    LIRF_TRY(refuse_step(r, lv, loss, e, b + 1));
    for (int p = 0; p < m->nparts; p++) {
        const lirf_fit_part *q = &m->part[p];
        if (q->n) LIRF_TRY(lirf_sgd_step(r->ctx, q->params, q->momentum, q->grads, q->n, s.lr,
                               r->o->momentum, r->o->wd));
    }
    r->images += (size_t)n;
    r->res->steps++;
    emit(r, &(lirf_fit_event){.kind = LIRF_FIT_STEP, .epoch = e + 1, .step = b + 1,
                              .done = gstep + 1, .images = r->images, .loss = loss});
    return LIRF_OK;
}

/* after step b (0-based) of epoch e: state, check, crash point, max_steps */
static lirf_status after_step(fit_run *r, int e, size_t b, int *stop) {
    const lirf_fit_opts *o = r->o;
    size_t gstep = (size_t)e * r->spe + b + 1;
    int inside = b + 1 < r->spe;
    /* the check first: a state saved at the same step holds what it kept */
    if (r->m->check && o->check_every > 0 && (b + 1) % (size_t)o->check_every == 0 && inside)
        LIRF_TRY(check(r, gstep, stop));
    if (o->state_path && o->save_every > 0 && (b + 1) % (size_t)o->save_every == 0 && inside)
        LIRF_TRY(state_save(r->m, o, e, b + 1, &r->snap, r->res));
    char site[64];
    snprintf(site, sizeof site, "%s-step", r->m->name);
    lirf_crash_point(site);
    if (*stop || o->max_steps <= 0 || gstep < (size_t)o->max_steps || gstep >= r->total)
        return LIRF_OK;
    r->res->stopped = 1, *stop = 1;
    return !o->state_path ? LIRF_OK
           : inside       ? state_save(r->m, o, e, b + 1, &r->snap, r->res)
                          : state_save(r->m, o, e + 1, 0, &r->snap, r->res);
}

static lirf_status one_epoch(fit_run *r, int e, int *stop) {
    size_t b0 = e == r->start_epoch ? r->start_step : 0;
    LIRF_TRY(r->src->start(r->src->self, e, b0));
    for (size_t b = b0;; b++) {
        lirf_buf x, y;
        const size_t *rows;
        int n;
        LIRF_TRY(r->src->next(r->src->self, &x, &y, &n, &rows));
        if (n == 0) break;
        LIRF_TRY(one_step(r, x, y, n, rows, e, b));
        LIRF_TRY(after_step(r, e, b, stop));
        if (*stop) return LIRF_OK;
    }
    if (r->o->state_path) LIRF_TRY(state_save(r->m, r->o, e + 1, 0, &r->snap, r->res));
    if (r->m->epoch_end) LIRF_TRY(r->m->epoch_end(r->m->self, e));
    if (r->m->check) LIRF_TRY(check(r, (size_t)(e + 1) * r->spe, stop));
    return LIRF_OK;
}

static lirf_status validate(const lirf_method *m, const lirf_fit_source *src, const lirf_fit_opts *o) {
    if (!m->step || m->nparts < 1 || m->nparts > LIRF_FIT_MAX_PARTS || m->nterms > LIRF_FIT_MAX_TERMS)
        return LIRF_FAIL(LIRF_E_INVALID, "fit: method %s: no step, or %d parts", m->name, m->nparts);
    if (!src->batches || !src->start || !src->next)
        return LIRF_FAIL(LIRF_E_NULL, "fit: a source without its functions");
    if (o->keep_best && !m->check)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: keeping the best nets needs held-out checks", m->name);
    for (int p = 0; p < m->nparts; p++) {
        if (!m->part[p].net && (o->state_path || o->keep_best))
            return LIRF_FAIL(LIRF_E_INVALID, "%s: a raw parameter block cannot be saved or kept",
                             m->name);
        for (int k = 0; k < m->nreads; k++)
            if (m->reads[k] == m->part[p].net)
                return LIRF_FAIL(LIRF_E_INVALID, "%s: a net both trained and read", m->name);
    }
    if (o->state_path && (!o->state_format || !o->state_what || !o->meta))
        return LIRF_FAIL(LIRF_E_NULL, "fit: a state path without its format or metadata");
    return LIRF_OK;
}

static lirf_status fit_resume(fit_run *r) {
    const lirf_fit_opts *o = r->o;
    if (!o->state_path || !o->resume) return LIRF_OK;
    int found;
    LIRF_TRY(state_load(r->m, o, &r->start_epoch, &r->start_step, &found, &r->snap, r->res));
    if (!found) return LIRF_OK;
    r->res->resumed_epoch = r->start_epoch, r->res->resumed_step = r->start_step;
    lirf_log(LIRF_LOG_WARN, "resuming %s at epoch %d, step %zu", r->m->name, r->start_epoch + 1,
             r->start_step);
    return LIRF_OK;
}

static lirf_status fit_loop(fit_run *r) {
    int stop = 0;
    /* a run stopped after its last state was written but before epoch_end */
    if (r->start_epoch >= r->o->epochs && r->m->epoch_end)
        LIRF_TRY(r->m->epoch_end(r->m->self, r->o->epochs - 1));
    if (r->m->check && r->start_step == 0)
        LIRF_TRY(check(r, (size_t)r->start_epoch * r->spe, &stop));
    for (int e = r->start_epoch; e < r->o->epochs && !stop; e++) LIRF_TRY(one_epoch(r, e, &stop));
    if (r->o->keep_best && r->res->kept_step >= 0) {
        LIRF_TRY(snapshot_restore(&r->snap, r->m));
        emit(r, &(lirf_fit_event){.kind = LIRF_FIT_KEPT, .done = (size_t)r->res->kept_step,
                                  .score = r->res->kept_score});
    }
    return LIRF_OK;
}

void lirf_fit_opts_default(lirf_fit_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 1;
    o->sched = (lirf_schedule){.kind = LIRF_SCHED_CONST, .lr = 0.01f, .step_gamma = 0.1f, .epochs = 1};
    o->momentum = 0.9f;
}

lirf_status lirf_fit(lirf_ctx *ctx, lirf_method *m, lirf_fit_source *src, const lirf_fit_opts *o,
                     lirf_fit_result *res) {
    if (!ctx || !m || !src || !o || !res) return LIRF_FAIL(LIRF_E_NULL, "fit: NULL argument");
    memset(res, 0, sizeof *res);
    res->kept_step = res->stop_step = -1;
    LIRF_TRY(validate(m, src, o));
    fit_run r = {.ctx = ctx, .m = m, .src = src, .o = o, .res = res, .terms = LIRF_NOBUF};
    r.spe = src->batches(src->self);
    r.total = (size_t)(o->epochs > 0 ? o->epochs : 0) * r.spe;
    lirf_status st = fit_resume(&r);
    if (st == LIRF_OK) st = lirf_arena_create(ctx, 0, &r.ws);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, LIRF_FIT_MAX_TERMS + LIRF_FIT_MAX_PARTS, &r.terms);
    r.t0 = lirf_now();
    if (st == LIRF_OK) st = fit_loop(&r);
    res->seconds = lirf_now() - r.t0;
    res->images_per_s = res->seconds > 0 ? (double)r.images / res->seconds : 0;
    for (int k = 0; k < LIRF_FIT_MAX_PARTS; k++) free(r.snap.host[k]);
    lirf_buf_free(ctx, &r.terms);
    lirf_arena_destroy(r.ws);
    return st;
}
