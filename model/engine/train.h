/* Supervised training (a method run by lirf_fit, fit.h) and evaluation of a
 * whole net by class (lirf train / lirf eval). */
#ifndef LIRF_TRAIN_H
#define LIRF_TRAIN_H

#include <stdio.h>

#include "checkpoint.h"
#include "fit.h"
#include "loader.h"
#include "net.h"

typedef struct {
    int epochs, batch;
    float lr, momentum, wd;
    lirf_sched sched;
    float warmup;         /* epochs of linear warm-up from lr/25 */
    float step_gamma;     /* step schedule: lr *= gamma at 50% and 75% of training */
    uint32_t seed;
    lirf_aug_params aug;
    int save_every;       /* also checkpoint every this many steps (0: per epoch only) */
    long max_steps;       /* stop (state saved) once this many steps of the schedule are done;
                             0: run to the end. A later --resume continues. */
} lirf_train_opts;

void lirf_train_opts_default(lirf_train_opts *o);
/* The options' learning-rate schedule for lirf_fit. */
lirf_schedule lirf_train_schedule(const lirf_train_opts *o);
/* A float as the double it was written as (6 significant digits), for JSON. */
double lirf_tidy(float x);

/* Supervised training as a method: cross-entropy on the labels, the whole
 * net trained (mode LIRF_MODE_TRAIN unless changed after init); with a
 * model_path, the net is written there after every epoch (after the state). */
typedef struct {
    lirf_net *net;
    lirf_tape *tape;
    const char *model_path;
    const lirf_model_meta *meta;
    int K;
    lirf_mode mode;
} lirf_supervised;
void lirf_supervised_init(lirf_supervised *s, lirf_method *m, lirf_net *net, lirf_tape *tape,
                          const char *model_path, const lirf_model_meta *meta);

/* Where a run writes: the model checkpoint and its training-state sidecar
 * (<model>.state.safetensors: momentum, epoch, step, options). */
typedef struct {
    const char *model_path;
    const lirf_model_meta *meta;
    int resume;           /* continue from the state file if it exists */
    int quiet;
} lirf_train_io;

typedef struct {
    double seconds, images_per_s, last_loss;
    size_t steps;
    int resumed_epoch;
    size_t resumed_step;
    int stopped;          /* max_steps reached before the end */
} lirf_train_result;

/* Trains net (the whole network) on `train` with cross-entropy. */
lirf_status lirf_train_run(lirf_ctx *ctx, lirf_net *net, lirf_loader *train,
                           const lirf_train_opts *o, const lirf_train_io *io,
                           lirf_train_result *res);

/* Evaluation: logits of a batch by any means (a net, or a recover net). */
typedef lirf_status (*lirf_logits_fn)(void *user, lirf_arena *ws, lirf_buf x, int n,
                                      lirf_buf *logits);
lirf_status lirf_net_logits(void *net, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits);
/* counts[2k] correct, counts[2k+1] samples of class k (classes entries). */
lirf_status lirf_eval_counts(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fn,
                             void *user, int64_t *counts);

/* How many samples of `data` two logits functions give the same argmax
 * (*agree of *total): a recover net against T0. */
lirf_status lirf_eval_agreement(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fa,
                                void *a, lirf_logits_fn fb, void *b, int64_t *agree,
                                int64_t *total);

/* The one accuracy routine: correct / n in percent, NaN when n is 0. Every
 * accuracy lirf reports (Table 1's Pre / Dep / Avg, held-out checks, the
 * audit) is this of summed per-class counts. */
double lirf_pct(int64_t correct, int64_t n);
/* Accuracy (%) from such counts: over the classes dep (0 when they have no
 * samples), and over all classes (NaN when there are none). */
double lirf_dep_acc(const int64_t *counts, const int32_t *dep, int ndep);
double lirf_acc(const int64_t *counts, int classes);

#endif
