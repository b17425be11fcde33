/* The experiments behind lirf's commands, as library calls.
 *
 * Each job takes its options (paths, data, method options), does the whole
 * run — reads the data, builds or loads the nets, trains through lirf_fit,
 * writes its files — and fills a typed report. The commands (cli/) only parse
 * arguments, call one of these and print the report; a C program gets the
 * same experiment, protocol included (the deposit's hold-out split and
 * keep-best, the demo's deposit tries, Table 1's arithmetic), without them.
 *
 * Nothing here prints on its own: progress and notes go to the job's `log`
 * stream (NULL: quiet). Failures return an lirf_status with the message
 * recorded (lirf_error_message()), prefixed with what the job was doing.
 * The *_json functions give the documents lirf writes and prints (jansson;
 * NULL when out of memory). */
#ifndef LIRF_EXPERIMENTS_H
#define LIRF_EXPERIMENTS_H

#include <jansson.h>
#include <stdio.h>

#include "incremental.h"
#include "lirf.h"
#include "protocol.h"
#include "unlearn.h"

/* ---- data -------------------------------------------------------------- */

/* Reads a split of a data set (path NULL: Fashion-MNIST), failing with the
 * context "loading the training data" / "loading the test data". */
lirf_status lirf_load_split(const char *path, lirf_data_kind kind, int train, int image_size,
                            const int32_t *classes, int nclasses, size_t limit, lirf_dataset *ds);
/* LIRF_E_SHAPE, naming both, unless ds's images and classes are the model's;
 * LIRF_E_INVALID if ds is an image folder whose class names are not the
 * model's (lirf_data_names_fit). `what` names the net in the message ("T0",
 * a path). */
lirf_status lirf_data_fits(const lirf_dataset *ds, const lirf_model_meta *m, const char *what);
/* T0 for a deposit or an unlearning baseline: the checkpoint at path, refused
 * unless an original net or of the kind allow_kind names (lirf_check_t0_kind);
 * a note on log (may be NULL) when allow_kind let it through. */
lirf_status lirf_load_t0(lirf_ctx *ctx, const char *path, const char *allow_kind, FILE *log,
                         lirf_model_meta *meta, lirf_net **t0);
/* LIRF_E_IO unless the folder that would hold path exists and is writable;
 * `what` names the file ("the target net"). */
lirf_status lirf_out_dir_ok(const char *path, const char *what);

/* ---- lirf train: a network trained from scratch and evaluated ------------ */
typedef struct {
    const char *data, *test_data; /* NULL: Fashion-MNIST; test_data NULL: data's test split */
    lirf_data_kind kind;
    int image_size;               /* image folders */
    int limit;                    /* at most this many training samples (0: all) */
    const int32_t *classes;       /* train on these classes only (NULL: all) */
    int nclasses;
    lirf_arch arch;
    int width;
    lirf_train_opts o;            /* o.aug.pad < 0: 4 for images of 32 px and more, else 2 */
    const char *out;              /* the checkpoint; its state beside it */
    int resume;
    FILE *log;
} lirf_train_job;
void lirf_train_job_default(lirf_train_job *j);

typedef struct {
    const char *arch;             /* static name */
    int width, epochs, batch, classes;
    size_t params, steps;
    double seconds, images_per_s, final_loss;
    int stopped;                  /* --max-steps reached: no evaluation */
    int64_t correct, total;       /* on the test split */
    double test_accuracy;         /* percent */
    int64_t counts[2 * LIRF_MAX_CLASSES]; /* per class: correct, samples */
} lirf_train_report;

lirf_status lirf_train_job_run(lirf_ctx *ctx, const lirf_train_job *j, lirf_train_report *r);
/* {"model", "arch", "width", "epochs", "batch", "seconds", "images_per_s",
 *  "final_loss", "test_accuracy", "parameters", "per_class": [..]} */
json_t *lirf_train_report_json(const lirf_train_job *j, const lirf_train_report *r);

/* ---- lirf deposit: T0 -> target net + deposit archive ------------------- */
typedef struct {
    const char *model;            /* T0: an original net (no lirf_kind, or "model") */
    const char *allow_kind;       /* NULL, or the one other lirf_kind T0 may have ("target"
                                     for a deliberate second deposit; lirf_check_t0_kind) */
    const char *data;             /* NULL: Fashion-MNIST; only D_r is read */
    lirf_data_kind kind;
    int image_size;               /* 0: T0's */
    size_t limit;                 /* at most this many deposit-class samples (0: all) */
    const int32_t *dep;
    int ndep;
    lirf_deposit_opts o;          /* holdout_every < 0: -k checks an epoch */
    const char *target_out, *archive_out;
    const char *also_out[3];      /* also_out[m]: also an archive of mode m there (NULL: no;
                                     the job's own mode o.mode goes to archive_out) */
    int compression;              /* LIRF_ARCHIVE_* */
    const lirf_archive_seal *seal; /* NULL: plain */
    const char *state_path;       /* training state (NULL: none) */
    int resume, save_every;
    FILE *log;
    /* a sample-level deposit: D_r is the training samples listed in this
     * file (lirf_sample_list_load; dep must then be NULL and limit 0), the
     * deposit classes the classes of those samples (all classes: refused) */
    const char *deposit_samples;
    /* calibrated mode only: no deposit training; the target net is this
     * file (a target of T0: same upper part, the same deposit classes and
     * split), the calibrated module is made for it and the archive bound to
     * it; target_out is not written */
    const char *from_target;
} lirf_deposit_job;
void lirf_deposit_job_default(lirf_deposit_job *j);

typedef struct {
    lirf_deposit_opts o;          /* as run (holdout_every in steps) */
    lirf_deposit_result res;
    size_t train_images, holdout_images, steps_per_epoch;
    size_t deposit_params, whole_params, lower_params;
    double kept_holdout;          /* held-out Dep Acc of the kept check; +inf: none */
    /* a sample-level deposit (j->deposit_samples): the listed samples, the
     * SHA-256 of their list (lirf_sample_list_sha256) and their classes */
    size_t deposit_samples;
    char deposit_samples_sha256[65];
    int32_t sample_classes[LIRF_MAX_CLASSES];
    int nsample_classes;
    /* calibrated mode: the second phase (last: L, KD, CE, MSE) and the rate
     * its module was pruned at */
    lirf_deposit_result calib;
    float calib_rate;
} lirf_deposit_report;

lirf_status lirf_deposit_job_run(lirf_ctx *ctx, const lirf_deposit_job *j, lirf_deposit_report *r);
/* The "run" record the archive's manifest keeps: t0, seconds, images_per_s,
 * deposit_images, and with a hold-out holdout_images, steps_per_epoch,
 * holdout_dep_acc [{step, dep_acc}], kept_step; calibrated mode adds
 * "calibration" {prune_rate, module_parameters, lower_parameters, seconds,
 * images_per_s, steps, last_losses {L, KD, CE, MSE}} and, with from_target,
 * "from_target". */
json_t *lirf_deposit_run_json(const lirf_deposit_job *j, const lirf_deposit_report *r);
/* lirf deposit --json: target, archive, run, seconds, images_per_s,
 * deposit_parameters, deposit_bytes, whole_parameters, last_losses, options.
 * A sample-level deposit adds to the run record "deposit_samples": {file,
 * count, sha256, classes}. */
json_t *lirf_deposit_report_json(const lirf_deposit_job *j, const lirf_deposit_report *r);

/* The deposit tries of lirf demo: j run `tries` times with the seeds
 * j->o.seed, j->o.seed + 1, ..., every try on the held-out set of
 * lirf_deposit_holdout_seed(&j->o) (so they are judged on the same samples);
 * the try whose kept check has the lowest held-out Dep Acc wins (the first on
 * a tie). Try 1 writes j's paths; a later try writes "try<k>-" files beside
 * them, which replace j's when it wins and are removed otherwise. tries > 1
 * needs a hold-out with keep-best (LIRF_E_INVALID). r[0..tries) get every
 * try's report, *kept the winner (0-based). */
#define LIRF_MAX_TRIES 16
lirf_status lirf_deposit_tries(lirf_ctx *ctx, const lirf_deposit_job *j, int tries,
                               lirf_deposit_report *r, int *kept);

/* ---- Table 1 of checkpoints ----------------------------------------------- */
typedef struct {
    const char *data;             /* NULL: Fashion-MNIST */
    lirf_data_kind kind;
    int train;                    /* 1: the training split */
    int batch;
    const int32_t *dep;
    int ndep;
    const char *independent_pre, *independent_dep; /* both or neither */
    int agreement;                /* 1: also each column's argmax agreement with the
                                     Original column's net (lirf_table1_col.agree) */
} lirf_table1_opts;

/* Evaluates every column's checkpoint (cols[i].path) on the split, fills Pre /
 * Dep / Avg and the target columns' F and H-Mean (against the
 * LIRF_COL_ORIGINAL column). out[0..*nout) is the table as printed: an
 * Independent column first when both independent nets are given, then cols
 * (out holds ncols + 1). */
lirf_status lirf_table1_eval(lirf_ctx *ctx, const lirf_table1_opts *o, lirf_table1_col *cols,
                             int ncols, lirf_table1_col *out, int *nout);
/* Table 1 as a Markdown table (rows Pre Acc, Dep Acc, F, H-Mean, Avg Acc). */
lirf_status lirf_table1_write_md(FILE *f, const lirf_table1_col *cols, int n);
/* lirf_table1_json, dumped on one line (LIRF_JSON_DUMP_FLAGS) and a newline. */
lirf_status lirf_table1_write_json(FILE *f, const lirf_table1_col *cols, int n);

/* One checkpoint (a plain net, a target or a recover net) evaluated on a
 * split: counts as lirf_eval_counts (2 * classes, the caller frees them). The
 * data set is read on the first call (ds zeroed; its image size is the
 * model's) and reused by later ones; a model it does not fit is refused. */
lirf_status lirf_eval_checkpoint(lirf_ctx *ctx, const char *path, const lirf_table1_opts *o,
                                 lirf_dataset *ds, int64_t **counts, int *classes);

/* ---- sample-level deposits (samples_eval.c) ----------------------------- */
/* D_r of a sample-level deposit: the training split (path NULL:
 * Fashion-MNIST) read whole at image_size, the list at list_path checked
 * against it (lirf_sample_list_load), *ds its listed samples only (ascending
 * index) and classes[0..*nclasses) their classes (ascending; room for
 * LIRF_MAX_CLASSES). LIRF_E_INVALID when they cover every class: the
 * preservation distillation L_kp needs one class outside the deposit. */
lirf_status lirf_load_sample_deposit(const char *path, lirf_data_kind kind, int image_size,
                                     const char *list_path, lirf_sample_list *list,
                                     lirf_dataset *ds, int32_t *classes, int *nclasses);
/* Adds "deposit_samples" (the count) and "deposit_samples_sha256" to the
 * metadata of the checkpoint at path (rewritten atomically, tensors as they
 * are). */
lirf_status lirf_mark_sample_deposit(const char *path, const lirf_sample_list *list);

/* The four groups of lirf eval --deposit-samples. */
enum {
    LIRF_SAMPLES_DEPOSITED = 0, /* (a) the listed training samples */
    LIRF_SAMPLES_TRAIN_REST,    /* (b) other training samples of their classes */
    LIRF_SAMPLES_TEST_SAME,     /* (c) test samples of their classes */
    LIRF_SAMPLES_TEST_OTHER,    /* (d) test samples of the other classes */
    LIRF_SAMPLES_GROUPS
};
typedef struct {
    const char *data;             /* NULL: Fashion-MNIST */
    lirf_data_kind kind;
    int batch;
    const char *samples;          /* the sample list file */
} lirf_samples_opts;
typedef struct {
    int32_t label, pred;          /* pred: the first largest logit */
    double loss;                  /* cross-entropy of the label, natural log */
} lirf_sample_outcome;
typedef struct {
    int64_t correct[LIRF_SAMPLES_GROUPS], total[LIRF_SAMPLES_GROUPS];
    double acc[LIRF_SAMPLES_GROUPS];       /* percent (lirf_pct; NaN: empty group) */
    double mean_loss[LIRF_SAMPLES_GROUPS]; /* NaN: empty group */
    double mia_auc;               /* lirf_auc_lower of (a)'s losses against (c)'s */
    double rest_auc;              /* ... of (a)'s against (b)'s: below 0.5 when the
                                     listed samples are forgotten more than the rest of
                                     their classes' training samples */
    size_t deposit_samples;
    char sha256[65];
    int32_t classes[LIRF_MAX_CLASSES];
    int nclasses;
    int model_marked;             /* the model's metadata names this list */
} lirf_samples_report;

/* P(a < b) + P(a == b) / 2 for a drawn from a[0..na) and b from b[0..nb)
 * (the Mann-Whitney AUC of "a lower than b"); NaN when either is empty or
 * out of memory. */
double lirf_auc_lower(const double *a, size_t na, const double *b, size_t nb);
/* The groups' counts, accuracies, mean losses and the AUCs from per-sample
 * outcomes: train[i] is a training sample, listed[i] 1 when it is deposited;
 * training samples neither listed nor of `classes` count nowhere. Fills the
 * counts, acc, mean_loss, mia_auc and rest_auc of r, nothing else. */
lirf_status lirf_samples_score(const lirf_sample_outcome *train, const uint8_t *listed,
                               size_t ntrain, const lirf_sample_outcome *test, size_t ntest,
                               const int32_t *classes, int nclasses, lirf_samples_report *r);
/* lirf eval --model PATH --deposit-samples FILE: the checkpoint at path on
 * the four groups. A checkpoint whose metadata names another sample list
 * (deposit_samples_sha256) is refused, naming both hashes. */
lirf_status lirf_samples_eval(lirf_ctx *ctx, const char *path, const lirf_samples_opts *o,
                              lirf_samples_report *r);
/* {"model", "samples": {file, count, sha256, classes, model_marked},
 *  "groups": {"deposited", "train_same_classes", "test_same_classes",
 *  "test_other_classes": {correct, total, accuracy, mean_loss}}, "mia_auc",
 *  "rest_auc"} */
json_t *lirf_samples_report_json(const char *path, const lirf_samples_opts *o,
                                 const lirf_samples_report *r);

/* ---- lirf unlearn: a baseline on checkpoint files ------------------------ */
typedef struct {
    const char *model, *target_out;
    const char *data;
    lirf_data_kind kind;
    int image_size, limit;
    const int32_t *dep;
    int ndep;
    const char *allow_kind;       /* as lirf_deposit_job's: T0 must be an original net */
    lirf_unlearn_opts o;
} lirf_unlearn_file_job;
typedef struct {
    lirf_unlearn_result res;
    lirf_unlearn_opts o;          /* as run: the method's defaults filled in */
} lirf_unlearn_file_report;
lirf_status lirf_unlearn_file_run(lirf_ctx *ctx, const lirf_unlearn_file_job *j,
                                  lirf_unlearn_file_report *r);
/* {"t0", "target", "options", "seconds", "steps", "forget_images",
 *  "retain_images", "last_loss"} */
json_t *lirf_unlearn_report_json(const lirf_unlearn_file_job *j, const lirf_unlearn_file_report *r);

/* ---- Table 4: task-incremental learning with selective forgetting ---------
 * (incremental.h) One method's sequence over every task, or its first step.
 * With first NULL, step 0: a fresh net (arch, width; initialised with the
 * seed) learns task 1 by cross-entropy, and is written to out. Else the net
 * in first (a step-0 net) learns tasks 2..T by the method, each task's net
 * kept in work_dir as task<k>.safetensors (with its options: a killed
 * sequence continues after the last task it finished; a task net of other
 * options is trained again), the last one written to out. Every step is
 * evaluated, task-aware, on the test split. */
typedef struct {
    const char *data, *test_data; /* NULL: Fashion-MNIST */
    lirf_data_kind kind;
    int image_size;               /* 0: 32 (image folders); first's when it is given */
    size_t limit;                 /* training images (0: all) */
    int T, ndel;                  /* tasks, deletion classes of each */
    const char *method;           /* a name of lirf_il_methods (first NULL: "baseline") */
    const char *first;            /* the step-0 net, or NULL */
    lirf_arch arch;
    int width;
    lirf_il_opts o;               /* each task's training (o.train.epochs) */
    float later_lr;               /* the later tasks' learning rate in place of o.train.lr
                                     (0.01: at 0.1, EWC's lambda 100 diverged on a net of a
                                     short first task) */
    const char *out, *work_dir;
    FILE *log;
} lirf_il_job;
void lirf_il_job_default(lirf_il_job *j);
lirf_status lirf_il_job_run(lirf_ctx *ctx, const lirf_il_job *j, lirf_il_report *r);
/* The job's options, as kept in every task net ("learn_options"). */
json_t *lirf_il_job_options(const lirf_il_job *j);

/* ---- lirf demo: the whole job in one folder ------------------------------ */
typedef struct {
    const char *out_dir;
    int retrain;                  /* train T0 even if out_dir/original.safetensors exists */
    int full;                     /* the paper's setting for a GPU: width 64, CIFAR-10 from
                                     ../shared/data/cifar10 (unless data), 30 T0 epochs, 20
                                     deposit epochs, crop padding 4, one try */
    const char *data, *test_data; /* NULL: Fashion-MNIST */
    lirf_data_kind kind;
    int image_size;               /* 0: 32 for T0, T0's for the deposit */
    const int32_t *dep;
    int ndep;
    const char *dep_text;         /* the deposit classes as given ("0,1,2"), for messages */
    /* -1: the demo's default (in brackets; full: in braces) */
    int width;                    /* [16] {64} */
    int epochs, batch, limit;     /* T0: [3] {30}, 128, [20000] {0: all} */
    int dep_epochs, dep_batch;    /* [5] {20}, the T0 batch */
    int dep_limit;                /* 0: all deposit-class images */
    int tries;                    /* [2] {1}; 1 without a hold-out and keep-best */
    lirf_deposit_opts o;          /* method options; holdout [0.05], holdout_every [-8: eight
                                     checks an epoch], keep_best [1 with a hold-out] -1: unset */
    FILE *log;
    json_t **summary;             /* not NULL: *summary gets summary.json's document (lirf
                                     demo --json; the caller releases it) */
} lirf_demo_job;
void lirf_demo_job_default(lirf_demo_job *j);

#define LIRF_DEMO_COLS 6
typedef struct {
    int reused_t0;
    lirf_train_report t0;
    int ntries, kept;
    lirf_deposit_report tries[LIRF_MAX_TRIES];
    lirf_deposit_report calib;            /* the calibrated module for the kept target */
    lirf_table1_col cols[LIRF_DEMO_COLS]; /* Original, Deposit, Withdrawal (delta), (exact),
                                             (paper), (calibrated) */
    double t_train, t_deposit, t_calibrate, t_withdraw, t_eval, total;
} lirf_demo_report;

/* Trains T0 (or reuses out_dir/original.safetensors), deposits (with tries;
 * one training, an archive of the delta, exact and paper modes), makes a
 * calibrated module for the kept target (lirf deposit --mode calibrated
 * --from-target), withdraws all four with no data, evaluates Table 1 on the
 * test split (with each net's argmax agreement with T0 and each archive's
 * bytes) and writes every artifact in out_dir: original.safetensors,
 * target.safetensors, deposit.lirf (delta mode, j->o.codec),
 * deposit-exact.lirf, deposit-paper.lirf, deposit-calibrated.lirf,
 * recover.safetensors (delta), recover-exact.safetensors,
 * recover-paper.safetensors, recover-calibrated.safetensors, table1.md,
 * table1.json, summary.json. r is large: allocate it. summary.json:
 * {"out_dir", "deposit_classes", "artifacts": {role: path}, "table1"
 * (lirf_table1_json of the six nets), "t0", "deposit", "deposit_tries",
 * "calibration", "withdraw", "device", "seconds", "lirf_version"}
 * (docs/json.md). */
lirf_status lirf_demo_run(lirf_ctx *ctx, const lirf_demo_job *j, lirf_demo_report *r);

#endif
