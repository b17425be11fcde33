/* Task-incremental learning with selective forgetting: the setting of the
 * paper's Table 4 (after LwSF, Shibata et al. 2021; docs/reproduce-table4.md).
 *
 * The K classes are cut, in their natural order, into T tasks of C = K / T
 * classes; the first ndel classes of each task are its deletion classes, the
 * rest its preservation classes. Step t (0-based) learns task t from its
 * training samples alone, starting from the net of step t-1, and must forget
 * the deletion classes of every earlier task while keeping their
 * preservation classes. The net has one K-way linear head used task-aware:
 * task t trains on the softmax over its own columns (the others masked out
 * of the logits), and task k's test images are scored by the argmax over
 * task k's columns: a head per task, as LwSF's multi-head evaluation.
 *
 * A method is what step t >= 1 adds to that cross-entropy, against the net
 * of step t-1 (the old net): LwF's distillation on each old task's columns
 * (LwF*: its preservation columns only), and EWC's or MAS's quadratic
 * penalty (ewc_mas.c) with an importance merged online over the tasks,
 * Omega <- (Omega + Omega_t) / 2, anchored at the old net (EWC*: the Fisher
 * of the preservation classes' samples only). Step 0 is the same for every
 * method: the first task by cross-entropy. */
#ifndef LIRF_INCREMENTAL_H
#define LIRF_INCREMENTAL_H

#include <jansson.h>

#include "train.h"

#define LIRF_IL_MAX_TASKS 20

typedef struct {
    int K, T, ndel; /* classes, tasks (K % T == 0), deletion classes of each task */
} lirf_il_tasks;
/* LIRF_E_INVALID unless 1 <= T <= LIRF_IL_MAX_TASKS, T divides K and
 * 0 <= ndel < K / T. */
lirf_status lirf_il_tasks_check(const lirf_il_tasks *tk);
/* The deletion classes of task t (ndel of them, written to cls). */
int lirf_il_deletion_classes(const lirf_il_tasks *tk, int t, int32_t *cls);

typedef struct {
    const char *name;  /* "baseline", "lwf", "lwf-sel", "ewc", "ewc-sel", "ewc-sel+lwf-sel",
                          "mas", "mas+lwf-sel" */
    const char *label; /* as the paper prints it: "Baseline", "LwF", "LwF*", ... */
    int lwf;           /* 0: none; 1: every old column; 2: old preservation columns only */
    int reg;           /* 0: none; 2: EWC (Fisher); 1: MAS (the power of lirf_importance) */
    int reg_sel;       /* the importance of the old preservation classes' samples only */
} lirf_il_method;
/* The methods, NULL-terminated, and a lookup by name (NULL: unknown). */
extern const lirf_il_method *const lirf_il_methods[];
const lirf_il_method *lirf_il_method_find(const char *name);

typedef struct {
    lirf_train_opts train;  /* every task: epochs, batch, lr, schedule, seed, augmentation
                               (crop pad < 0: 4 from 32 px, else 2) */
    float alpha, T_kd;      /* LwF: alpha * T^2 KL per old task, temperature */
    float lambda_ewc, lambda_mas;
    int quiet;
} lirf_il_opts;
/* alpha 1, T 2, lambda 100 (EWC) and 5 (MAS); lirf train's options, crop pad
 * by image size. */
void lirf_il_opts_default(lirf_il_opts *o);

/* A sequence of steps on one net (the caller's; changed in place). */
typedef struct lirf_il lirf_il;
lirf_status lirf_il_create(lirf_ctx *ctx, const lirf_il_method *m, const lirf_il_tasks *tk,
                           const lirf_il_opts *o, lirf_net *net, const lirf_dataset *train,
                           const lirf_model_meta *meta, lirf_il **out);
void lirf_il_destroy(lirf_il *il);
/* Ends step t with the net as it is now (the old net of step t + 1: its
 * copy, and for EWC / MAS the importance of task t's samples merged in).
 * lirf_il_learn calls it; a resumed sequence calls it for each step it
 * skips, with that step's net loaded. */
lirf_status lirf_il_close(lirf_il *il, int t);
/* The merged importance (nparams floats; LIRF_NOBUF: a method without a
 * penalty), as of the last step closed. */
lirf_buf lirf_il_importance(const lirf_il *il);
/* Step t: closes step t - 1 unless it is closed, then trains task t.
 * *images: the images trained on. */
lirf_status lirf_il_learn(lirf_il *il, int t, double *images);

/* Task-aware accuracy of every task after a step, by group. */
typedef struct {
    int64_t p_correct[LIRF_IL_MAX_TASKS], p_n[LIRF_IL_MAX_TASKS];
    int64_t d_correct[LIRF_IL_MAX_TASKS], d_n[LIRF_IL_MAX_TASKS];
} lirf_il_acc;
lirf_status lirf_il_eval(lirf_ctx *ctx, lirf_net *net, const lirf_il_tasks *tk,
                         const lirf_dataset *test, const lirf_model_meta *meta, lirf_il_acc *acc);
/* After step t >= 1: A, the pooled accuracy over the earlier tasks'
 * preservation test samples and every test sample of task t; F, the pooled
 * drop of the earlier tasks' deletion-class accuracy from ref[k] (task k's
 * deletion accuracy, percent, at the end of its own step, or before
 * forgetting began); H = 2AF / (A + F). Percent; NaN where undefined. */
void lirf_il_metrics(const lirf_il_tasks *tk, int t, const lirf_il_acc *acc, const double *ref,
                     double *A, double *F, double *H);

/* A sequence's figures, step by step. */
typedef struct {
    lirf_il_tasks tk;
    int steps;                              /* steps evaluated so far */
    lirf_il_acc acc[LIRF_IL_MAX_TASKS];     /* after each step */
    double ref[LIRF_IL_MAX_TASKS];          /* each task's deletion accuracy before forgetting
                                               (NaN: taken at the end of its own step) */
    double A[LIRF_IL_MAX_TASKS], F[LIRF_IL_MAX_TASKS], H[LIRF_IL_MAX_TASKS];
    double images, seconds;
} lirf_il_report;
void lirf_il_report_init(lirf_il_report *r, const lirf_il_tasks *tk);
/* Records step t's accuracies (t == r->steps), the references it sets and
 * its A / F / H. */
void lirf_il_report_step(lirf_il_report *r, int t, const lirf_il_acc *acc);
/* {"method", "label", "tasks", "classes_per_task", "deletion_per_task",
 *  "steps": [{"step", "A", "F", "H", "tasks": [{"task", "pre_acc",
 *  "del_acc", "pre_images", "del_images"}]}], "ref_del": [..],
 *  "final": {"A", "F", "H"} (the last step's), "mean": {"A", "F", "H"}
 *  (A and F averaged over steps 2..T, H of those), "images", "seconds"}. */
json_t *lirf_il_report_json(const lirf_il_report *r, const char *method, const char *label);

#endif
