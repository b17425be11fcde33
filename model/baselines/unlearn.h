/* Unlearning baselines: what LIRF is measured beside (docs/method.md,
 * "Baselines"). Each baseline is a method run by lirf_fit (fit.h), in a file
 * of its own under model/baselines/, registered in lirf_unlearners (unlearn.c).
 * It turns T0 into a target net that no longer recognises the deposit
 * classes, written as an ordinary target checkpoint (lirf_kind "target",
 * deposit_classes, deposit_options naming the baseline and the data it used),
 * which lirf eval and lirf verify read like LIRF's. There is no deposit
 * archive: these methods forget for good.
 *
 * Data: D_r is the deposit classes' training samples (LIRF's constraint: it
 * sees nothing else); D̄_r the preservation classes'. A baseline with
 * uses_retain reads D̄_r, and every output says which data it used ("data":
 * "D_r", "preservation" or "D_r+preservation"). */
#ifndef LIRF_UNLEARN_H
#define LIRF_UNLEARN_H

#include <jansson.h>

#include "train.h"

typedef struct {
    const char *method;     /* a name of lirf_unlearners */
    int epochs, batch;      /* epochs <= 0 / lr <= 0: the baseline's defaults */
    float lr, momentum, wd;
    uint32_t seed;
    lirf_aug_params aug;
    float alpha, T;         /* teacher-student baselines: alpha KD + (1 - alpha) CE, temperature */
    float lambda;           /* EWC / MAS: the penalty's weight (<= 0: the method's default) */
    int quiet;
} lirf_unlearn_opts;
void lirf_unlearn_opts_default(lirf_unlearn_opts *o);

/* What a baseline's run gets: the net to change (T0's weights at the start),
 * a frozen copy of T0, the data and lirf_fit options filled from the
 * options (epochs, a constant lr, momentum, weight decay, augmentation,
 * progress). It calls lirf_fit once or more and leaves the target in net. */
typedef struct {
    lirf_ctx *ctx;
    lirf_net *net, *teacher;
    const lirf_model_meta *meta;
    const int32_t *dep;
    int ndep, K, forget_used;
    lirf_loader *forget, *retain; /* D_r; D̄_r (NULL unless uses_retain) */
    const lirf_unlearn_opts *o;
    lirf_fit_opts fit;
    lirf_fit_result res;          /* of the last lirf_fit call */
    size_t steps;                 /* over every call */
} lirf_unlearn_job;

typedef struct {
    const char *name, *summary;
    int uses_forget, uses_retain; /* reads D_r; reads D̄_r */
    int epochs;                   /* defaults */
    float lr;
    lirf_status (*run)(lirf_unlearn_job *job);
    const char *kind;             /* NULL: its net is a target ("target", deposit_classes,
                                     deposit_options); "model": a plain net (a learner, as
                                     LwF: "learn_options" only) */
    float lambda;                 /* the default penalty weight (EWC, MAS); 0: none */
} lirf_unlearner;

/* The registry, NULL-terminated, and a lookup by name (NULL: unknown). */
extern const lirf_unlearner *const lirf_unlearners[];
const lirf_unlearner *lirf_unlearner_find(const char *name);

typedef struct {
    double seconds;
    size_t steps, forget_images, retain_images;
    double last_loss;
    int uses_retain;
} lirf_unlearn_result;

/* T0 (net, meta) and the training split `data` (every class) -> the target
 * net written to target_path. */
lirf_status lirf_unlearn(lirf_ctx *ctx, lirf_net *t0, const lirf_model_meta *meta,
                         const lirf_dataset *data, const int32_t *dep, int ndep,
                         const lirf_unlearn_opts *o, const char *target_path,
                         lirf_unlearn_result *res);
/* The same for a method given by its struct (a learner such as
 * lirf_learn_lwf, which the registry does not list; o->method is ignored). */
lirf_status lirf_unlearn_with(lirf_ctx *ctx, const lirf_unlearner *u, lirf_net *t0,
                              const lirf_model_meta *meta, const lirf_dataset *data,
                              const int32_t *dep, int ndep, const lirf_unlearn_opts *o,
                              const char *target_path, lirf_unlearn_result *res);
/* o with the method's defaults filled in (epochs, lr, crop pad for in_h). */
void lirf_unlearn_resolve(lirf_unlearn_opts *o, const lirf_unlearner *u, int in_h);

/* "D_r", "preservation" or "D_r+preservation". */
const char *lirf_unlearner_data(const lirf_unlearner *u);
/* The options as JSON (recorded in the target and printed), with o's
 * defaults resolved as lirf_unlearn resolves them. */
json_t *lirf_unlearn_opts_json(const lirf_unlearn_opts *o, const lirf_unlearner *u);

/* Helpers for baselines: host random labels of step gstep into a device
 * buffer (the deposit's L_kr stream with seed), and a step of CE on labels y
 * scaled by `scale` (-1: gradient ascent) through the whole net. */
lirf_status lirf_unlearn_random_labels(lirf_ctx *ctx, uint32_t seed, size_t gstep, int n, int K,
                                       int32_t *host, lirf_buf dev);
lirf_status lirf_unlearn_ce_step(lirf_net *net, lirf_tape *tape, lirf_fit_step *s, lirf_buf y,
                                 float scale);

/* A learner's training: m (its step, terms) run by lirf_fit on D_r, the
 * job's net its one part and T0 (the old net) the net it reads. */
lirf_status lirf_unlearn_fit_learner(lirf_unlearn_job *j, lirf_method *m);

extern const lirf_unlearner lirf_unlearn_random_label, lirf_unlearn_grad_ascent,
    lirf_unlearn_finetune, lirf_unlearn_retrain, lirf_unlearn_scrub;
/* Learners (incremental learning; lwf.c, ewc_mas.c): T0 is the old net, the
 * deposit classes the new ones; EWC and MAS estimate their importance on the
 * preservation classes' samples (uses_retain). */
extern const lirf_unlearner lirf_learn_lwf, lirf_learn_ewc, lirf_learn_mas;

/* The importance of every parameter of net (nparams floats into imp):
 * sum over the loader's batches b of (n_b / N) g_b^2, g_b the gradient of
 * the batch's mean CE on its labels (FISHER: EWC's empirical Fisher
 * diagonal) or of its mean L2 norm of the logits (MAS); the net in eval
 * mode, its gradients zeroed after. mask (int, K; LIRF_NOBUF: none): only
 * the logits of its 1-columns count (a task's head: the CE's softmax over
 * them, the norm of them). ewc_mas.c. */
typedef enum { LIRF_IMPORTANCE_MAS = 1, LIRF_IMPORTANCE_FISHER = 2 } lirf_importance_kind;
lirf_status lirf_importance(lirf_ctx *ctx, lirf_net *net, lirf_loader *l, int kind,
                            lirf_buf mask, lirf_buf imp);
/* out (n, K, in ws) = z on mask's 1-columns, fill elsewhere: a task's head
 * of one K-way head (fill -1e4 leaves the other columns out of a softmax
 * and an argmax). */
lirf_status lirf_task_logits(lirf_ctx *ctx, lirf_arena *ws, lirf_buf mask, lirf_buf z, int n,
                             int K, float fill, lirf_buf *out);

#endif
