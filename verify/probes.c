/* Probes: per-sample losses (membership inference) and the linear probe
 * (see verify.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

#define STEP(call)                               \
    do {                                         \
        if ((st = (call)) != LIRF_OK) goto out;  \
    } while (0)

lirf_status lirf_per_sample_loss(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fn,
                                 void *user, float *loss) {
    if (!ctx || !data || !fn || !loss) return LIRF_FAIL(LIRF_E_NULL, "per_sample_loss: NULL argument");
    lirf_arena *ws;
    LIRF_TRY(lirf_arena_create(ctx, 0, &ws));
    lirf_buf mean = LIRF_NOBUF;
    lirf_status st = lirf_buf_alloc(ctx, 1, &mean);
    size_t done = 0;
    if (st == LIRF_OK) st = lirf_loader_start(data, 0, 0);
    while (st == LIRF_OK) {
        lirf_buf x, y, z, per;
        int n;
        if ((st = lirf_loader_next(data, &x, &y, &n)) || n == 0) break;
        STEP(lirf_arena_reset(ws));
        STEP(fn(user, ws, x, n, &z));
        STEP(lirf_arena_get(ws, (size_t)n, &per));
        STEP(lirf_softmax_ce_forward(ctx, mean, per, z, y, n, classes));
        STEP(lirf_buf_read(ctx, per, loss + done, (size_t)n));
        done += (size_t)n;
    }
out:
    lirf_buf_free(ctx, &mean);
    lirf_arena_destroy(ws);
    return st;
}

/* ---- linear probe ---- */
typedef struct {
    lirf_ctx *ctx;
    lirf_net *lower;
    lirf_buf w, b; /* (K, I), (K) */
    int I, K;
} probe_net;

static lirf_status probe_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    probe_net *p = user;
    lirf_buf f;
    LIRF_TRY(lirf_net_forward(p->lower, ws, NULL, LIRF_MODE_EVAL, x, n, &f));
    LIRF_TRY(lirf_arena_get(ws, (size_t)n * p->K, logits));
    return lirf_linear_forward(p->ctx, *logits, f, p->w, p->b, n, p->I, p->K);
}

/* the probe as a method: a raw parameter block [W (K, I) | b (K)] */
typedef struct {
    lirf_ctx *ctx;
    int I, K;
    lirf_buf P, G;
    const float *feat;
    const int32_t *lab;
} probe_method;

static void probe_fill(void *user, const size_t *rows, int n, float *x, int32_t *y) {
    probe_method *m = user;
    for (int i = 0; i < n; i++) {
        memcpy(x + (size_t)i * m->I, m->feat + rows[i] * (size_t)m->I, (size_t)m->I * sizeof *x);
        y[i] = m->lab[rows[i]];
    }
}

static lirf_status probe_step(void *self, lirf_fit_step *s) {
    probe_method *m = self;
    int B = s->n, I = m->I, K = m->K;
    lirf_buf wv = {m->P.mem, m->P.off, (size_t)K * I}, bv = {m->P.mem, m->P.off + (size_t)K * I, (size_t)K};
    lirf_buf gw = {m->G.mem, m->G.off, (size_t)K * I}, gb = {m->G.mem, m->G.off + (size_t)K * I, (size_t)K};
    lirf_buf zb, dz;
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)B * K, &zb));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)B * K, &dz));
    LIRF_TRY(lirf_linear_forward(m->ctx, zb, s->x, wv, bv, B, I, K));
    LIRF_TRY(lirf_buf_fill(m->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_forward(m->ctx, s->term[0], LIRF_NOBUF, zb, s->y, B, K));
    LIRF_TRY(lirf_softmax_ce_backward(m->ctx, dz, zb, s->y, B, K, 1.0f));
    return lirf_linear_backward(m->ctx, LIRF_NOBUF, gw, gb, dz, s->x, wv, B, I, K);
}

/* the features of every training sample, once (eval mode) */
static lirf_status probe_features(lirf_ctx *ctx, lirf_net *lower, lirf_loader *train, int I,
                                  float *feat, int32_t *lab) {
    lirf_arena *ws;
    LIRF_TRY(lirf_arena_create(ctx, 0, &ws));
    size_t done = 0;
    lirf_status st = lirf_loader_start(train, 0, 0);
    while (st == LIRF_OK) {
        lirf_buf x, y, f;
        int m;
        if ((st = lirf_loader_next(train, &x, &y, &m)) || m == 0) break;
        STEP(lirf_arena_reset(ws));
        STEP(lirf_net_forward(lower, ws, NULL, LIRF_MODE_EVAL, x, m, &f));
        STEP(lirf_buf_read(ctx, f, feat + done * (size_t)I, (size_t)m * I));
        STEP(lirf_buf_read(ctx, y, lab + done, (size_t)m));
        done += (size_t)m;
    }
out:
    lirf_arena_destroy(ws);
    return st;
}

static lirf_status probe_train(probe_method *pm, size_t n, const lirf_probe_opts *o) {
    size_t np = (size_t)pm->K * pm->I + (size_t)pm->K;
    lirf_buf V = LIRF_NOBUF;
    lirf_host_batches *hb = NULL;
    lirf_status st;
    STEP(lirf_buf_alloc(pm->ctx, np, &V));
    STEP(lirf_buf_fill(pm->ctx, pm->P, 0));
    STEP(lirf_buf_fill(pm->ctx, V, 0));
    lirf_host_batches_opts ho = {.ctx = pm->ctx, .count = n, .batch = o->batch, .per = (size_t)pm->I,
                                 .key = ((uint64_t)o->seed << 32) ^ 0x9b0bull, .fill = probe_fill,
                                 .user = pm};
    STEP(lirf_host_batches_create(&ho, &hb));
    lirf_method m = {.name = "linear-probe", .loss_label = "linear probe's loss (cross-entropy)",
                     .self = pm, .nparts = 1, .nterms = 1, .term_name = {"CE"}, .step = probe_step};
    m.part[0] = (lirf_fit_part){.params = pm->P, .grads = pm->G, .momentum = V, .n = np};
    lirf_fit_opts fo;
    lirf_fit_opts_default(&fo);
    fo.epochs = o->epochs, fo.momentum = o->momentum, fo.wd = o->wd;
    fo.sched = (lirf_schedule){.kind = LIRF_SCHED_COSINE_STEPS, .lr = o->lr, .epochs = o->epochs};
    lirf_fit_source src = lirf_fit_host(hb);
    lirf_fit_result fr;
    st = lirf_fit(pm->ctx, &m, &src, &fo, &fr);
out:
    lirf_host_batches_destroy(hb);
    lirf_buf_free(pm->ctx, &V);
    return st;
}

lirf_status lirf_linear_probe(lirf_ctx *ctx, lirf_net *lower, lirf_loader *train,
                              lirf_loader *test, int classes, const lirf_probe_opts *o,
                              int64_t *counts) {
    if (!ctx || !lower || !train || !test || !o || !counts)
        return LIRF_FAIL(LIRF_E_NULL, "linear_probe: NULL argument");
    const lirf_net_config *c = lirf_net_cfg(lower);
    int ch, h, w, K = classes, B = o->batch;
    lirf_stage_shape(c, c->last, &ch, &h, &w);
    int I = ch * h * w;
    size_t n = lirf_loader_samples(train);
    if (B < 1 || (size_t)B > n || o->epochs < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "linear_probe: batch %d, epochs %d, %zu samples", B,
                         o->epochs, n);
    lirf_status st = LIRF_OK;
    size_t np = (size_t)K * I + (size_t)K;
    probe_method pm = {.ctx = ctx, .I = I, .K = K, .P = LIRF_NOBUF, .G = LIRF_NOBUF};
    float *feat = malloc(n * (size_t)I * sizeof *feat);
    int32_t *lab = malloc(n * sizeof *lab);
    if (!feat || !lab) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "linear probe: out of host memory (%zu x %d features)", n, I);
        goto out;
    }
    pm.feat = feat, pm.lab = lab;
    STEP(probe_features(ctx, lower, train, I, feat, lab));
    STEP(lirf_buf_alloc(ctx, np, &pm.P));
    STEP(lirf_buf_alloc(ctx, np, &pm.G));
    STEP(probe_train(&pm, n, o));
    probe_net pn = {ctx, lower, {pm.P.mem, pm.P.off, (size_t)K * I},
                    {pm.P.mem, pm.P.off + (size_t)K * I, (size_t)K}, I, K};
    STEP(lirf_eval_counts(ctx, test, K, probe_logits, &pn, counts));
out:
    free(feat), free(lab);
    lirf_buf_free(ctx, &pm.P), lirf_buf_free(ctx, &pm.G);
    return st;
}

/* ---- relearn time: supervised training that stops at the goal ---- */
typedef struct {
    lirf_supervised sup; /* first: the step's self */
    lirf_loader *eval;
    double goal, reached;
    const lirf_dataset *d;
    const int32_t *index;
    const float *mean, *std;
} relearn_method;

static void relearn_fill(void *user, const size_t *rows, int n, float *x, int32_t *y) {
    relearn_method *m = user;
    const lirf_dataset *d = m->d;
    size_t per = (size_t)d->c * d->h * d->w, hw = (size_t)d->h * d->w;
    for (int i = 0; i < n; i++) {
        size_t idx = (size_t)m->index[rows[i]];
        const uint8_t *p = d->pixels + idx * per;
        for (int ch = 0; ch < d->c; ch++)
            for (size_t k = 0; k < hw; k++)
                x[(size_t)i * per + (size_t)ch * hw + k] =
                    ((float)p[(size_t)ch * hw + k] / 255.0f - m->mean[ch]) / m->std[ch];
        y[i] = d->labels[idx];
    }
}

static lirf_status relearn_check(void *self, size_t gstep, double *score, int *stop) {
    (void)gstep;
    relearn_method *m = self;
    int64_t counts[2 * LIRF_MAX_CLASSES];
    LIRF_TRY(lirf_eval_counts(lirf_net_ctx(m->sup.net), m->eval, m->sup.K, lirf_net_logits,
                              m->sup.net, counts));
    m->reached = *score = lirf_acc(counts, m->sup.K);
    *stop = m->reached >= m->goal;
    return LIRF_OK;
}

lirf_status lirf_relearn(lirf_net *net, const lirf_dataset *d, const int32_t *index, size_t count,
                         const float *mean, const float *std, lirf_loader *eval, double goal,
                         const lirf_relearn_opts *o, int *steps, double *reached) {
    if (!net || !d || !index || !mean || !std || !eval || !o || !steps || !reached)
        return LIRF_FAIL(LIRF_E_NULL, "relearn: NULL argument");
    int B = o->batch < (int)count ? o->batch : (int)count;
    if (B < 2 || o->max_steps < 1 || o->eval_every < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "relearn: batch %d of %zu samples, %d steps, eval every %d",
                         o->batch, count, o->max_steps, o->eval_every);
    lirf_ctx *ctx = lirf_net_ctx(net);
    relearn_method rm = {.eval = eval, .goal = goal, .reached = NAN, .d = d, .index = index,
                         .mean = mean, .std = std};
    lirf_method m;
    lirf_tape *tape = NULL;
    lirf_host_batches *hb = NULL;
    lirf_host_batches_opts ho = {.ctx = ctx, .count = count, .batch = B,
                                 .per = (size_t)d->c * d->h * d->w, .key = (uint64_t)o->seed << 32,
                                 .stream = 1, .stream_steps = (size_t)o->max_steps,
                                 .fill = relearn_fill, .user = &rm};
    lirf_status st;
    *steps = -1;
    STEP(lirf_tape_create(&tape));
    STEP(lirf_host_batches_create(&ho, &hb));
    STEP(lirf_buf_fill(ctx, lirf_net_momentum(net), 0));
    lirf_supervised_init(&rm.sup, &m, net, tape, NULL, NULL);
    rm.sup.mode = o->mode;
    m.name = "relearn", m.self = &rm, m.check = relearn_check, m.check_label = "accuracy";
    lirf_fit_opts fo;
    lirf_fit_opts_default(&fo);
    fo.epochs = 1, fo.momentum = o->momentum, fo.wd = o->wd, fo.check_every = o->eval_every;
    fo.sched = (lirf_schedule){.kind = LIRF_SCHED_CONST, .lr = o->lr, .epochs = 1};
    lirf_fit_source src = lirf_fit_host(hb);
    lirf_fit_result fr;
    STEP(lirf_fit(ctx, &m, &src, &fo, &fr));
    *steps = (int)fr.stop_step;
out:
    *reached = rm.reached;
    lirf_host_batches_destroy(hb);
    lirf_tape_destroy(tape);
    return st;
}
