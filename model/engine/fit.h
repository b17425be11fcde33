/* lirf_fit: the one training loop of lirf, and lirf_method, what it runs.
 *
 * Every trained thing in lirf (T0 by supervised training, the LIRF deposit,
 * the audit's distillation students, the linear probe, relearning, the
 * unlearning baselines) is a method: it names the nets it trains (its parts)
 * and the nets it only reads, and supplies one step (forward, losses,
 * backward, written out in full). lirf_fit owns what is common: epochs and
 * steps, the learning-rate schedule, on-device augmentation, zeroing the
 * gradients, the non-finite check (losses, gradients and BN statistics, read
 * back with the losses in one read, before the update), the SGD update, the
 * training state for --resume, held-out checks with keep-best, the crash
 * points of LIRF_CRASH_AT, and progress through a callback. It returns a
 * typed result; callers turn it into JSON.
 *
 * One step of lirf_fit, in order:
 *   next batch -> arena reset -> augment (or copy) into the arena ->
 *   zero the parts' gradients -> method->step -> count non-finite values of
 *   every part -> read the loss terms and the counts -> refuse a bad step ->
 *   SGD on every part (in order) -> progress -> state every save_every steps ->
 *   held-out check every check_every steps -> crash point "<name>-step" ->
 *   stop at max_steps.
 * At an epoch's end: the state, then method->epoch_end, then a check. */
#ifndef LIRF_FIT_H
#define LIRF_FIT_H

#include <stdio.h>

#include "checkpoint.h"
#include "loader.h"
#include "net.h"

/* ---- the learning-rate schedule: one routine for every loop ---- */
typedef enum {
    LIRF_SCHED_COSINE = 0, /* linear warm-up, then a half cosine to 0 over the epochs */
    LIRF_SCHED_STEP,       /* warm-up, then lr * gamma at 50% and gamma^2 at 75% */
    LIRF_SCHED_CONST,      /* warm-up, then lr */
    LIRF_SCHED_COSINE_STEPS /* no warm-up: lr (1 + cos(pi step / total)) / 2, by step */
} lirf_sched;

typedef struct {
    lirf_sched kind;
    float lr;
    float warmup;     /* epochs of linear warm-up from lr/25 (not COSINE_STEPS) */
    float step_gamma; /* STEP */
    int epochs;
} lirf_schedule;

const char *lirf_sched_name(lirf_sched s);
lirf_status lirf_sched_parse(const char *s, lirf_sched *out);
/* The learning rate of global step `gstep` (0-based) with `spe` steps an epoch. */
float lirf_schedule_lr(const lirf_schedule *s, size_t gstep, size_t spe);

/* ---- where batches come from ---- */
typedef struct {
    void *self;
    size_t (*batches)(void *self); /* steps an epoch */
    lirf_status (*start)(void *self, int epoch, size_t skip);
    /* the next batch as device views (valid until the next call); *n = 0 at the
     * epoch's end; *rows: the batch's positions in the source's sample list,
     * or NULL when the source does not tell */
    lirf_status (*next)(void *self, lirf_buf *x, lirf_buf *y, int *n, const size_t **rows);
} lirf_fit_source;

/* A loader (device-side preprocessing, its own seeded shuffle). */
lirf_fit_source lirf_fit_loader(lirf_loader *l);

/* Host-made batches: positions 0..count-1, shuffled (Fisher-Yates on a chained
 * splitmix64 stream, lirf_shuffle in lirf_rng.h) and cut into full batches of `batch`; fill
 * writes each batch's samples (per floats each) and labels on the host, and
 * the source uploads them. Epoch e's shuffle has the key key ^ e. With stream,
 * batches run through one shuffled pass after another, a new pass starting
 * whenever the last is used up, with the key key ^ t (t: the 1-based step
 * that starts it); an epoch is then stream_steps steps. */
typedef struct {
    lirf_ctx *ctx;
    size_t count, per;
    int batch;
    uint64_t key;
    int stream;
    size_t stream_steps;
    void (*fill)(void *user, const size_t *rows, int n, float *x, int32_t *y);
    void *user;
} lirf_host_batches_opts;
typedef struct lirf_host_batches lirf_host_batches;
lirf_status lirf_host_batches_create(const lirf_host_batches_opts *o, lirf_host_batches **out);
void lirf_host_batches_destroy(lirf_host_batches *h);
lirf_fit_source lirf_fit_host(lirf_host_batches *h);

/* ---- methods ---- */
#define LIRF_FIT_MAX_PARTS 8
#define LIRF_FIT_MAX_READS 8
#define LIRF_FIT_MAX_TERMS 12

/* A trained part: a net (its parameter, gradient and momentum blocks), or a
 * raw parameter block (net NULL; no state file or keep-best then). */
typedef struct {
    lirf_net *net;
    lirf_buf params, grads, momentum;
    size_t n;
    const char *prefix; /* in the state file: <prefix>param., <prefix>momentum. */
    const char *label;  /* in messages ("the deposit module's ..."); NULL: none */
} lirf_fit_part;

/* What a step gets. */
typedef struct {
    lirf_ctx *ctx;
    lirf_arena *ws;          /* reset before the step; x lives in it */
    lirf_buf x, y;           /* the (augmented) batch and its labels */
    int n;
    const size_t *rows;      /* see lirf_fit_source.next */
    int epoch;               /* 0-based */
    size_t step, gstep, spe; /* step in the epoch (0-based), global step, steps an epoch */
    float lr;
    lirf_buf term[LIRF_FIT_MAX_TERMS]; /* one float each, zeroed: the step's loss terms */
} lirf_fit_step;

typedef struct {
    const char *name;       /* progress label; crash site "<name>-step" */
    const char *loss_label; /* "loss (cross-entropy)": the non-finite message */
    void *self;
    int nparts;
    lirf_fit_part part[LIRF_FIT_MAX_PARTS];
    int nreads;             /* the nets the method reads and never changes */
    lirf_net *reads[LIRF_FIT_MAX_READS];
    int nterms;
    const char *term_name[LIRF_FIT_MAX_TERMS];
    /* forward, losses (into s->term), backward into the parts' gradients */
    lirf_status (*step)(void *self, lirf_fit_step *s);
    /* the step's loss from its terms read back (NULL: term 0) */
    double (*total)(void *self, const float *terms);
    /* optional: a held-out score (lower is better; keep_best keeps the lowest)
     * after gstep steps; *stop ends the training there */
    lirf_status (*check)(void *self, size_t gstep, double *score, int *stop);
    const char *check_label; /* "held-out Dep Acc": scores are percentages */
    size_t check_samples;    /* how many samples a check scores (0: not said) */
    /* optional: after each epoch's state (train: writes the model) */
    lirf_status (*epoch_end)(void *self, int epoch);
} lirf_method;

/* A net as a trained part (blocks filled in from the net). */
lirf_fit_part lirf_fit_net_part(lirf_net *net, const char *prefix, const char *label);

/* ---- progress ---- */
typedef enum { LIRF_FIT_STEP, LIRF_FIT_CHECK, LIRF_FIT_KEPT, LIRF_FIT_RESUMED } lirf_fit_event_kind;
typedef struct {
    lirf_fit_event_kind kind;
    const char *what, *check_label;
    size_t check_samples;     /* 0: not said */
    int epoch, epochs;        /* 1-based epoch */
    size_t step, spe;         /* step in the epoch (1-based) */
    size_t done, total, images, done_at_start;
    double loss, score, elapsed;
} lirf_fit_event;
typedef void (*lirf_fit_progress_fn)(void *user, const lirf_fit_event *e);

/* Progress on a FILE (a line rewritten in place on a terminal, log lines
 * otherwise): pass lirf_fit_print with a lirf_progress as user. */
typedef struct {
    FILE *out;
    int tty;
    double last_print;
} lirf_progress;
void lirf_progress_init(lirf_progress *p, FILE *out);
void lirf_fit_print(void *progress, const lirf_fit_event *e);
double lirf_now(void);

/* ---- the loop ---- */
#define LIRF_FIT_MAX_CHECKS 256
typedef struct {
    const char *key, *value; /* must match on resume */
    const char *refusal;     /* "was written with other training options" */
    int show;                /* name the recorded value in the refusal */
} lirf_fit_state_key;

typedef struct {
    int epochs;
    lirf_schedule sched;
    float momentum, wd;
    lirf_aug_params aug;     /* on-device augmentation (none: all zero) */
    uint32_t aug_seed;
    int in_c, in_h, in_w;    /* the batches' image shape (for augmentation) */
    int copy_input;          /* without augmentation, copy the batch into the arena */
    /* the training state (NULL state_path: none) */
    const char *state_path, *state_format, *state_what;
    const lirf_model_meta *meta;
    int nkeys;
    lirf_fit_state_key keys[4];
    int resume, save_every;
    long max_steps;          /* stop (state saved) after this many steps; 0: no limit */
    /* held-out checks (method->check): at the start, every check_every steps
     * within an epoch (0: none) and at every epoch's end */
    int check_every, keep_best;
    lirf_fit_progress_fn progress;
    void *progress_user;
} lirf_fit_opts;

void lirf_fit_opts_default(lirf_fit_opts *o);

typedef struct {
    double seconds, images_per_s, last_loss;
    float terms[LIRF_FIT_MAX_TERMS]; /* the last step's */
    size_t steps;
    int resumed_epoch;       /* where a resumed run started (0, 0 otherwise) */
    size_t resumed_step;
    int stopped;             /* max_steps reached before the end */
    long stop_step;          /* the check that ended training: its step; -1: none */
    int nchecks;             /* held-out scores, score[i] after check_step[i] steps */
    size_t check_step[LIRF_FIT_MAX_CHECKS];
    double check_score[LIRF_FIT_MAX_CHECKS];
    long kept_step;          /* keep_best: the step whose nets were kept; -1: none */
    double kept_score;
} lirf_fit_result;

lirf_status lirf_fit(lirf_ctx *ctx, lirf_method *m, lirf_fit_source *src, const lirf_fit_opts *o,
                     lirf_fit_result *res);

#endif
