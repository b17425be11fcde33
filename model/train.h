/* Supervised training and evaluation of a whole net (lirf train / lirf eval),
 * and the pieces that LIRF's deposit training reuses: learning-rate schedule,
 * progress reporting, evaluation by class. */
#ifndef LIRF_TRAIN_H
#define LIRF_TRAIN_H

#include <stdio.h>

#include "checkpoint.h"
#include "loader.h"
#include "net.h"

typedef enum { LIRF_SCHED_COSINE = 0, LIRF_SCHED_STEP, LIRF_SCHED_CONST } lirf_sched;

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
const char *lirf_sched_name(lirf_sched s);
lirf_status lirf_sched_parse(const char *s, lirf_sched *out);
/* Learning rate at `t` epochs into training (fractional). */
float lirf_lr_at(const lirf_train_opts *o, double t);

/* Progress: a line rewritten in place on a terminal, plain log lines otherwise. */
typedef struct {
    FILE *out;
    int tty;
    double t0, last_print;
    size_t done_at_start;
} lirf_progress;
void lirf_progress_init(lirf_progress *p, FILE *out);
void lirf_progress_update(lirf_progress *p, const char *what, int epoch, int epochs, size_t step,
                          size_t steps_per_epoch, size_t done, size_t total, double loss,
                          size_t images);
void lirf_progress_end(lirf_progress *p);
double lirf_now(void);
/* A float as the double it was written as (6 significant digits), for JSON. */
double lirf_tidy(float x);

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

#endif
