/* Training and evaluation (see train.h). */
#include "train.h"

#include "fileutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void lirf_train_opts_default(lirf_train_opts *o) {
    memset(o, 0, sizeof *o);
    o->epochs = 3;
    o->batch = 128;
    o->lr = 0.1f;
    o->momentum = 0.9f;
    o->wd = 5e-4f;
    o->sched = LIRF_SCHED_COSINE;
    o->warmup = 0.5f;
    o->step_gamma = 0.1f;
    o->seed = 1;
    o->aug = (lirf_aug_params){.pad = 4, .flip = 1, .max_rot_deg = 0};
}

lirf_schedule lirf_train_schedule(const lirf_train_opts *o) {
    return (lirf_schedule){.kind = o->sched, .lr = o->lr, .warmup = o->warmup,
                           .step_gamma = o->step_gamma, .epochs = o->epochs};
}

double lirf_tidy(float x) {
    char b[32];
    snprintf(b, sizeof b, "%.6g", (double)x);
    return strtod(b, NULL);
}

static char *opts_json(const lirf_train_opts *o) {
    json_t *j = json_pack("{s:i,s:i,s:f,s:f,s:f,s:s,s:f,s:f,s:i,s:i,s:i,s:f}", "epochs", o->epochs,
                          "batch", o->batch, "lr", lirf_tidy(o->lr), "momentum", lirf_tidy(o->momentum),
                          "weight_decay", lirf_tidy(o->wd), "schedule", lirf_sched_name(o->sched),
                          "warmup", lirf_tidy(o->warmup), "step_gamma", lirf_tidy(o->step_gamma),
                          "seed", (int)o->seed, "crop_pad", o->aug.pad, "flip", o->aug.flip,
                          "rotate", lirf_tidy(o->aug.max_rot_deg));
    char *s = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(j);
    return s;
}

/* ---- the method: cross-entropy on the whole net ---- */
static lirf_status supervised_step(void *self, lirf_fit_step *s) {
    lirf_supervised *m = self;
    int n = s->n, K = m->K;
    lirf_buf z, dz;
    LIRF_TRY(lirf_net_forward(m->net, s->ws, m->tape, m->mode, s->x, n, &z));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, z, s->y, n, K));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * K, &dz));
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, z, s->y, n, K, 1.0f));
    return lirf_net_backward(m->net, s->ws, m->tape, dz, NULL);
}

/* the model file after each epoch's state: both are complete files at all times */
static lirf_status supervised_epoch_end(void *self, int epoch) {
    (void)epoch;
    lirf_supervised *m = self;
    if (!m->model_path) return LIRF_OK;
    lirf_net *nets[1] = {m->net};
    const char *pre[1] = {""};
    return lirf_checkpoint_save(m->model_path, nets, pre, 1, m->meta, NULL, NULL, 0);
}

void lirf_supervised_init(lirf_supervised *s, lirf_method *m, lirf_net *net, lirf_tape *tape,
                          const char *model_path, const lirf_model_meta *meta) {
    *s = (lirf_supervised){net, tape, model_path, meta, lirf_net_cfg(net)->classes, LIRF_MODE_TRAIN};
    memset(m, 0, sizeof *m);
    m->name = "train", m->loss_label = "loss (cross-entropy)", m->self = s;
    m->nparts = 1, m->part[0] = lirf_fit_net_part(net, "", NULL);
    m->nterms = 1, m->term_name[0] = "CE";
    m->step = supervised_step, m->epoch_end = supervised_epoch_end;
}

lirf_status lirf_train_run(lirf_ctx *ctx, lirf_net *net, lirf_loader *train,
                           const lirf_train_opts *o, const lirf_train_io *io,
                           lirf_train_result *res) {
    if (!ctx || !net || !train || !o || !io || !res)
        return LIRF_FAIL(LIRF_E_NULL, "train: NULL argument");
    memset(res, 0, sizeof *res);
    const lirf_net_config *c = lirf_net_cfg(net);
    char state[1100], *oj = opts_json(o);
    if (!oj) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    snprintf(state, sizeof state, "%s.state.safetensors", io->model_path ? io->model_path : "");
    lirf_fit_opts fo;
    lirf_fit_opts_default(&fo);
    fo.epochs = o->epochs, fo.sched = lirf_train_schedule(o);
    fo.momentum = o->momentum, fo.wd = o->wd;
    fo.aug = o->aug, fo.aug_seed = o->seed, fo.copy_input = 1;
    fo.in_c = c->in_c, fo.in_h = c->in_h, fo.in_w = c->in_w;
    if (io->model_path) {
        fo.state_path = state, fo.state_format = "lirf-train-state-1", fo.state_what = "training";
        fo.meta = io->meta, fo.resume = io->resume, fo.save_every = o->save_every;
        fo.nkeys = 1;
        fo.keys[0] = (lirf_fit_state_key){"train_opts", oj, "was written with other training options", 1};
    }
    fo.max_steps = o->max_steps;
    lirf_progress pr;
    lirf_progress_init(&pr, io->quiet ? NULL : stderr);
    fo.progress = lirf_fit_print, fo.progress_user = &pr;
    lirf_tape *tape = NULL;
    lirf_supervised self;
    lirf_method m;
    lirf_fit_source src = lirf_fit_loader(train);
    lirf_fit_result fr;
    lirf_status st = lirf_tape_create(&tape);
    if (st == LIRF_OK) {
        lirf_supervised_init(&self, &m, net, tape, io->model_path, io->meta);
        st = lirf_fit(ctx, &m, &src, &fo, &fr);
        res->seconds = fr.seconds, res->images_per_s = fr.images_per_s;
        res->last_loss = fr.last_loss, res->steps = fr.steps;
        res->resumed_epoch = fr.resumed_epoch, res->resumed_step = fr.resumed_step;
        res->stopped = fr.stopped;
    }
    lirf_tape_destroy(tape);
    free(oj);
    return st;
}

double lirf_pct(int64_t correct, int64_t n) {
    return n ? 100.0 * (double)correct / (double)n : NAN;
}

double lirf_dep_acc(const int64_t *counts, const int32_t *dep, int ndep) {
    int64_t ok = 0, all = 0;
    for (int i = 0; i < ndep; i++) ok += counts[2 * dep[i]], all += counts[2 * dep[i] + 1];
    return all ? lirf_pct(ok, all) : 0;
}

double lirf_acc(const int64_t *counts, int classes) {
    int64_t ok = 0, all = 0;
    for (int k = 0; k < classes; k++) ok += counts[2 * k], all += counts[2 * k + 1];
    return lirf_pct(ok, all);
}

lirf_status lirf_net_logits(void *net, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    return lirf_net_forward(net, ws, NULL, LIRF_MODE_EVAL, x, n, logits);
}

/* One batch's argmax under fn, into host[0..n). */
static lirf_status batch_argmax(lirf_ctx *ctx, lirf_arena *ws, lirf_logits_fn fn, void *user,
                                lirf_buf x, int n, int classes, int32_t *host) {
    lirf_buf z, pred;
    LIRF_TRY(fn(user, ws, x, n, &z));
    LIRF_TRY(lirf_arena_get(ws, (size_t)n, &pred));
    LIRF_TRY(lirf_argmax(ctx, pred, z, n, classes));
    return lirf_buf_read(ctx, pred, host, (size_t)n);
}

lirf_status lirf_eval_agreement(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fa,
                                void *a, lirf_logits_fn fb, void *b, int64_t *agree,
                                int64_t *total) {
    if (!ctx || !data || !fa || !fb || !agree || !total)
        return LIRF_FAIL(LIRF_E_NULL, "eval_agreement: NULL argument");
    *agree = *total = 0;
    int32_t *pa = NULL;
    size_t cap = 0;
    lirf_arena *ws = NULL;
    lirf_status st = lirf_arena_create(ctx, 0, &ws);
    if (st == LIRF_OK) st = lirf_loader_start(data, 0, 0);
    while (st == LIRF_OK) {
        lirf_buf x, y;
        int n;
        if ((st = lirf_loader_next(data, &x, &y, &n)) || n == 0) break;
        if ((size_t)n > cap) {
            int32_t *p = realloc(pa, 2 * (size_t)n * sizeof *pa);
            if (!p) {
                st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
                break;
            }
            pa = p, cap = (size_t)n;
        }
        if ((st = lirf_arena_reset(ws)) || (st = batch_argmax(ctx, ws, fa, a, x, n, classes, pa)) ||
            (st = batch_argmax(ctx, ws, fb, b, x, n, classes, pa + cap)))
            break;
        for (int i = 0; i < n; i++) *agree += pa[i] == pa[cap + (size_t)i];
        *total += n;
    }
    lirf_arena_destroy(ws);
    free(pa);
    return st;
}

lirf_status lirf_eval_counts(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fn,
                             void *user, int64_t *counts) {
    if (!ctx || !data || !fn || !counts) return LIRF_FAIL(LIRF_E_NULL, "eval: NULL argument");
    lirf_arena *ws;
    LIRF_TRY(lirf_arena_create(ctx, 0, &ws));
    lirf_buf dcounts = LIRF_NOBUF, pred = LIRF_NOBUF;
    lirf_status st = lirf_buf_alloc(ctx, 2 * (size_t)classes, &dcounts);
    if (st == LIRF_OK) st = lirf_buf_fill_int(ctx, dcounts, 0);
    if (st == LIRF_OK) st = lirf_loader_start(data, 0, 0);
    while (st == LIRF_OK) {
        lirf_buf x, y, z;
        int n;
        if ((st = lirf_loader_next(data, &x, &y, &n)) || n == 0) break;
        if ((st = lirf_arena_reset(ws))) break;
        if ((st = fn(user, ws, x, n, &z))) break;
        if ((st = lirf_arena_get(ws, (size_t)n, &pred))) break;
        if ((st = lirf_argmax(ctx, pred, z, n, classes))) break;
        st = lirf_class_counts(ctx, dcounts, pred, y, n, classes);
    }
    if (st == LIRF_OK) {
        int32_t *h = malloc(2 * (size_t)classes * sizeof *h);
        if (!h) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        else {
            st = lirf_buf_read(ctx, dcounts, h, 2 * (size_t)classes);
            for (int k = 0; st == LIRF_OK && k < 2 * classes; k++) counts[k] = h[k];
            free(h);
        }
    }
    lirf_buf_free(ctx, &dcounts);
    lirf_arena_destroy(ws);
    return st;
}
