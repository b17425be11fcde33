/* Training and evaluation (see train.h). */
#include "train.h"

#include "fileutil.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

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

const char *lirf_sched_name(lirf_sched s) {
    return s == LIRF_SCHED_STEP ? "step" : s == LIRF_SCHED_CONST ? "const" : "cosine";
}

lirf_status lirf_sched_parse(const char *s, lirf_sched *out) {
    if (!strcasecmp(s, "cosine")) return *out = LIRF_SCHED_COSINE, LIRF_OK;
    if (!strcasecmp(s, "step")) return *out = LIRF_SCHED_STEP, LIRF_OK;
    if (!strcasecmp(s, "const")) return *out = LIRF_SCHED_CONST, LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID, "unknown schedule \"%s\" (cosine, step or const)", s);
}

float lirf_lr_at(const lirf_train_opts *o, double t) {
    double E = o->epochs > 0 ? o->epochs : 1;
    if (o->warmup > 0 && t < o->warmup) {
        double f = t / o->warmup;
        return (float)(o->lr * (0.04 + 0.96 * f));
    }
    switch (o->sched) {
    case LIRF_SCHED_CONST: return o->lr;
    case LIRF_SCHED_STEP: {
        double f = t / E;
        return (float)(o->lr * (f >= 0.75 ? o->step_gamma * o->step_gamma
                                          : f >= 0.5 ? o->step_gamma : 1.0));
    }
    default: {
        double w = o->warmup > 0 ? o->warmup : 0;
        double f = E > w ? (t - w) / (E - w) : 1;
        if (f > 1) f = 1;
        if (f < 0) f = 0;
        return (float)(o->lr * 0.5 * (1 + cos(3.141592653589793 * f)));
    }
    }
}

double lirf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

double lirf_tidy(float x) {
    char b[32];
    snprintf(b, sizeof b, "%.6g", (double)x);
    return strtod(b, NULL);
}

void lirf_progress_init(lirf_progress *p, FILE *out) {
    memset(p, 0, sizeof *p);
    p->out = out;
    p->tty = out && isatty(fileno(out));
    p->t0 = lirf_now();
    p->last_print = -1e9;
}

static void fmt_time(char *b, size_t n, double s) {
    if (s < 0 || !isfinite(s)) snprintf(b, n, "?");
    else if (s < 60) snprintf(b, n, "%.0fs", s);
    else if (s < 3600) snprintf(b, n, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(b, n, "%dh%02dm", (int)s / 3600, ((int)s % 3600) / 60);
}

void lirf_progress_update(lirf_progress *p, const char *what, int epoch, int epochs, size_t step,
                          size_t steps_per_epoch, size_t done, size_t total, double loss,
                          size_t images) {
    if (!p->out) return;
    double t = lirf_now(), el = t - p->t0;
    int end_of_epoch = step == steps_per_epoch;
    double interval = p->tty ? 0.25 : 30.0;
    if (!end_of_epoch && t - p->last_print < interval) return;
    p->last_print = t;
    size_t since = done > p->done_at_start ? done - p->done_at_start : 0;
    double eta = since ? el / (double)since * (double)(total - done) : -1;
    char e[32], a[32];
    fmt_time(e, sizeof e, eta);
    fmt_time(a, sizeof a, el);
    fprintf(p->out, "%s%s epoch %d/%d step %zu/%zu loss %.4f %.0f img/s elapsed %s ETA %s%s",
            p->tty ? "\r\033[K" : "", what, epoch, epochs, step, steps_per_epoch, loss,
            el > 0 ? (double)images / el : 0.0, a, e, p->tty ? "" : "\n");
    if (p->tty && end_of_epoch) fputc('\n', p->out);
    fflush(p->out);
}

void lirf_progress_end(lirf_progress *p) {
    if (p->out && p->tty) fflush(p->out);
}

/* ---- training state sidecar ---- */
static void state_path(char *out, size_t n, const char *model) {
    snprintf(out, n, "%s.state.safetensors", model);
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

static lirf_status save_state(lirf_net *net, const char *model_path, const lirf_model_meta *meta,
                              const lirf_train_opts *o, int epoch, size_t step) {
    char path[1100], es[32], ss[32];
    state_path(path, sizeof path, model_path);
    snprintf(es, sizeof es, "%d", epoch);
    snprintf(ss, sizeof ss, "%zu", step);
    char *oj = opts_json(o);
    const char *keys[] = {"state_format", "epoch", "step", "train_opts"};
    const char *vals[] = {"lirf-train-state-1", es, ss, oj ? oj : "{}"};
    /* parameters and momentum of the same net, written as two prefixes: the
     * momentum goes through a temporary copy of the net whose params are the
     * momentum block */
    lirf_net *mom = NULL;
    lirf_net_config c = *lirf_net_cfg(net);
    lirf_status st = lirf_net_create(lirf_net_ctx(net), &c, &mom);
    if (st == LIRF_OK)
        st = lirf_buf_copy(lirf_net_ctx(net), lirf_net_params(mom), lirf_net_momentum(net),
                           lirf_net_nparams(net));
    if (st == LIRF_OK) {
        lirf_net *nets[2] = {net, mom};
        const char *pre[2] = {"param.", "momentum."};
        st = lirf_checkpoint_save(path, nets, pre, 2, meta, keys, vals, 4);
    }
    lirf_net_destroy(mom);
    free(oj);
    return st;
}

static lirf_status load_state(lirf_net *net, const char *model_path, const lirf_train_opts *o,
                              int *epoch, size_t *step, int *found) {
    char path[1100];
    state_path(path, sizeof path, model_path);
    *found = 0;
    if (access(path, F_OK) != 0) return LIRF_OK;
    lirf_safetensors st;
    lirf_model_meta meta;
    LIRF_TRY(lirf_checkpoint_open(path, &st, &meta));
    lirf_status s = LIRF_OK;
    const char *e = lirf_st_meta(&st, "epoch"), *sp = lirf_st_meta(&st, "step");
    const char *oj = lirf_st_meta(&st, "train_opts");
    if (!e || !sp || !oj) s = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a training state file", path);
    if (s == LIRF_OK) {
        char *mine = opts_json(o);
        if (!mine || strcmp(mine, oj))
            s = LIRF_FAIL(LIRF_E_INVALID,
                          "%s was written with other training options (%s); resume with the "
                          "same options, or start afresh without --resume",
                          path, oj);
        free(mine);
    }
    if (s == LIRF_OK) s = lirf_checkpoint_load_net(&st, path, "param.", net);
    if (s == LIRF_OK) {
        lirf_net *mom;
        lirf_net_config c = *lirf_net_cfg(net);
        s = lirf_net_create(lirf_net_ctx(net), &c, &mom);
        if (s == LIRF_OK) {
            s = lirf_checkpoint_load_net(&st, path, "momentum.", mom);
            if (s == LIRF_OK)
                s = lirf_buf_copy(lirf_net_ctx(net), lirf_net_momentum(net), lirf_net_params(mom),
                                  lirf_net_nparams(net));
            lirf_net_destroy(mom);
        }
    }
    if (s == LIRF_OK) {
        *epoch = atoi(e);
        *step = (size_t)strtoull(sp, NULL, 10);
        *found = 1;
    }
    lirf_model_meta_free(&meta);
    lirf_st_free(&st);
    return s;
}

/* ---- the loop ---- */
static lirf_status check_finite(float loss, int epoch, size_t step) {
    if (isfinite(loss)) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_NUMERIC,
                     "the loss (cross-entropy) became %s at epoch %d, step %zu; stopping before "
                     "the update (the last checkpoint on disk is kept). Try a smaller learning "
                     "rate.",
                     isnan(loss) ? "NaN" : "infinite", epoch + 1, step);
}

static lirf_status nonfinite_grad(lirf_net *net, int32_t count, int epoch, size_t step) {
    char name[160];
    LIRF_TRY(lirf_net_nonfinite_name(net, name, sizeof name));
    return LIRF_FAIL(LIRF_E_NUMERIC,
                     "the %s became non-finite at epoch %d, step %zu (%d values in all); "
                     "stopping before the update (the last checkpoint on disk is kept). Try a "
                     "smaller learning rate.",
                     name[0] ? name : "gradients", epoch + 1, step, (int)count);
}

lirf_status lirf_train_run(lirf_ctx *ctx, lirf_net *net, lirf_loader *train,
                           const lirf_train_opts *o, const lirf_train_io *io,
                           lirf_train_result *res) {
    if (!ctx || !net || !train || !o || !io || !res)
        return LIRF_FAIL(LIRF_E_NULL, "train: NULL argument");
    memset(res, 0, sizeof *res);
    const lirf_net_config *c = lirf_net_cfg(net);
    int K = c->classes;
    size_t spe = lirf_loader_batches(train);
    int start_epoch = 0;
    size_t start_step = 0;
    if (io->resume && io->model_path) {
        int found;
        LIRF_TRY(load_state(net, io->model_path, o, &start_epoch, &start_step, &found));
        if (found) {
            lirf_log(LIRF_LOG_WARN, "resuming at epoch %d, step %zu", start_epoch + 1, start_step);
            res->resumed_epoch = start_epoch;
            res->resumed_step = start_step;
        }
    }
    lirf_arena *ws = NULL;
    lirf_tape *tape = NULL;
    lirf_buf loss = LIRF_NOBUF;
    lirf_status st = lirf_arena_create(ctx, 0, &ws);
    if (st == LIRF_OK) st = lirf_tape_create(&tape);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, 2, &loss); /* the loss; an int32 counter */
    lirf_buf bad = {loss.mem, loss.off + 1, 1};
    lirf_progress pr;
    lirf_progress_init(&pr, io->quiet ? NULL : stderr);
    size_t total = (size_t)o->epochs * spe;
    pr.done_at_start = (size_t)start_epoch * spe + start_step;
    double t0 = lirf_now();
    size_t images = 0;
    float l = 0;
    /* a run stopped after its last state was written but before the model was:
     * the state holds the final weights */
    if (st == LIRF_OK && start_epoch >= o->epochs && io->model_path) {
        lirf_net *nets[1] = {net};
        const char *pre[1] = {""};
        st = lirf_checkpoint_save(io->model_path, nets, pre, 1, io->meta, NULL, NULL, 0);
    }
    for (int e = start_epoch; e < o->epochs && st == LIRF_OK; e++) {
        size_t b0 = e == start_epoch ? start_step : 0;
        st = lirf_loader_start(train, e, b0);
        for (size_t b = b0; st == LIRF_OK; b++) {
            lirf_buf x, y, xa, z, dz;
            int n;
            if ((st = lirf_loader_next(train, &x, &y, &n)) || n == 0) break;
            size_t gstep = (size_t)e * spe + b;
            float lr = lirf_lr_at(o, (double)gstep / (double)spe);
            if ((st = lirf_arena_reset(ws))) break;
            if ((st = lirf_arena_get(ws, x.n, &xa))) break;
            if (o->aug.pad > 0 || o->aug.flip || o->aug.max_rot_deg > 0) {
                if ((st = lirf_augment(ctx, xa, x, n, c->in_c, c->in_h, c->in_w, &o->aug, o->seed,
                                       (uint32_t)gstep)))
                    break;
            } else if ((st = lirf_buf_copy(ctx, xa, x, x.n))) break;
            if ((st = lirf_net_zero_grads(net))) break;
            if ((st = lirf_net_forward(net, ws, tape, LIRF_MODE_TRAIN, xa, n, &z))) break;
            if ((st = lirf_softmax_ce_forward(ctx, loss, LIRF_NOBUF, z, y, n, K))) break;
            if ((st = lirf_arena_get(ws, (size_t)n * K, &dz))) break;
            if ((st = lirf_buf_fill(ctx, dz, 0))) break;
            if ((st = lirf_softmax_ce_backward(ctx, dz, z, y, n, K, 1.0f))) break;
            if ((st = lirf_net_backward(net, ws, tape, dz, NULL))) break;
            /* the loss and the count of non-finite gradients and BN statistics, in one read:
             * a bad step stops before its update */
            if ((st = lirf_net_count_nonfinite(net, bad))) break;
            float lb[2];
            if ((st = lirf_buf_read(ctx, (lirf_buf){loss.mem, loss.off, 2}, lb, 2))) break;
            l = lb[0];
            int32_t nbad;
            memcpy(&nbad, &lb[1], sizeof nbad);
            if ((st = check_finite(l, e, b + 1))) break;
            if (nbad && (st = nonfinite_grad(net, nbad, e, b + 1))) break;
            if ((st = lirf_sgd_step(ctx, lirf_net_params(net), lirf_net_momentum(net),
                                    lirf_net_grads(net), lirf_net_nparams(net), lr, o->momentum,
                                    o->wd)))
                break;
            lirf_crash_point("train-step");
            images += (size_t)n;
            res->steps++;
            lirf_progress_update(&pr, "train", e + 1, o->epochs, b + 1, spe, gstep + 1, total, l,
                                 images);
            if (io->model_path && o->save_every > 0 && (b + 1) % (size_t)o->save_every == 0 &&
                b + 1 < spe)
                st = save_state(net, io->model_path, io->meta, o, e, b + 1);
            if (o->max_steps > 0 && gstep + 1 >= (size_t)o->max_steps && gstep + 1 < total) {
                res->stopped = 1;
                if (io->model_path && st == LIRF_OK)
                    st = b + 1 < spe ? save_state(net, io->model_path, io->meta, o, e, b + 1)
                                     : save_state(net, io->model_path, io->meta, o, e + 1, 0);
                break;
            }
        }
        if (res->stopped) break;
        if (st == LIRF_OK && io->model_path) {
            /* the state first, then the model: both are complete files at all times */
            st = save_state(net, io->model_path, io->meta, o, e + 1, 0);
            if (st == LIRF_OK) {
                lirf_net *nets[1] = {net};
                const char *pre[1] = {""};
                st = lirf_checkpoint_save(io->model_path, nets, pre, 1, io->meta, NULL, NULL, 0);
            }
        }
    }
    lirf_progress_end(&pr);
    res->seconds = lirf_now() - t0;
    res->images_per_s = res->seconds > 0 ? (double)images / res->seconds : 0;
    res->last_loss = l;
    lirf_buf_free(ctx, &loss);
    lirf_tape_destroy(tape);
    lirf_arena_destroy(ws);
    return st;
}

lirf_status lirf_net_logits(void *net, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    return lirf_net_forward(net, ws, NULL, LIRF_MODE_EVAL, x, n, logits);
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
