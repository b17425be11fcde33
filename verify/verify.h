/* lirf verify: an auditor's knowledge-leakage audit of a target net
 * (docs/verify.md; the paper's Table 3 with controls, and more probes).
 *
 * Pieces, each usable on its own:
 *  - teacher outputs: a frozen net's logits and attention maps (Zagoruyko &
 *    Komodakis: a(F) = vec(mean_c F_c^2) / ||.||_2) at every stage boundary,
 *    computed once on the training subset and reused by every student;
 *  - students (the CNN, ResNet-18 at a small width) as a chain of one-stage
 *    nets, so that attention losses can enter at any stage boundary;
 *  - distillation: no teacher (CE only), logit-based (alpha L_kd + (1 - alpha)
 *    CE, L_kd = T^2 KL), attention-based (CE + beta/2 sum L_at over maps
 *    matched by spatial size, no eps filter), with or without true labels;
 *  - probes: per-sample losses for a loss-threshold membership-inference test,
 *    ROC AUC and TPR at a given FPR, a linear probe on split-point features;
 *  - statistics: mean and a Student-t 95% interval over seeds;
 *  - the audit itself (verify/audit.c) as a JSON report, and its Markdown and
 *    self-contained HTML renderings (verify/report.c).
 *
 * Library code: every call returns an lirf_status and records its message once.
 */
#ifndef LIRF_VERIFY_H
#define LIRF_VERIFY_H

#include <jansson.h>
#include <stdint.h>

#include "fileutil.h"
#include "lirf.h"

/* ---- teacher outputs (verify/distill.c) ---------------------------------- */
typedef struct {
    int n, K;
    float *logits; /* (n, K) */
    int nmaps;
    int stage[LIRF_MAX_STAGES], h[LIRF_MAX_STAGES], w[LIRF_MAX_STAGES];
    float *maps[LIRF_MAX_STAGES]; /* (n, h*w): a(F) of that stage's output, unit L2 norm */
} lirf_teacher_out;

/* Runs `teacher` (a whole net, eval mode) over samples index[0..count) of d,
 * preprocessed with the teacher's mean / std, in that order. Maps are kept for
 * every stage but the head (and, for ResNet-18, the stem). */
lirf_status lirf_teacher_run(lirf_ctx *ctx, lirf_net *teacher, const lirf_dataset *d,
                             const int32_t *index, size_t count, const float *mean,
                             const float *std, lirf_teacher_out *out);
void lirf_teacher_out_free(lirf_teacher_out *t);

/* ---- students ------------------------------------------------------------ */
typedef struct {
    lirf_ctx *ctx;
    lirf_net_config cfg; /* the whole network */
    int nparts;          /* one net per stage */
    lirf_net *part[LIRF_MAX_STAGES];
    lirf_tape *tape[LIRF_MAX_STAGES];
} lirf_student;

/* A freshly initialised (torchvision init, seeded) student for the whole
 * network cfg (cfg->first / last are ignored). */
lirf_status lirf_student_create(lirf_ctx *ctx, const lirf_net_config *cfg, uint64_t seed,
                                lirf_student **out);
void lirf_student_destroy(lirf_student *s);
/* Logits callback (eval mode) for lirf_eval_counts. */
lirf_status lirf_student_logits(void *s, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits);

typedef enum { LIRF_KD_NONE = 0, LIRF_KD_LOGIT, LIRF_KD_AT } lirf_kd_method;
const char *lirf_kd_method_name(lirf_kd_method m); /* "none", "logit", "at" */

typedef struct {
    lirf_kd_method method;
    int labels;        /* 1: CE on the true labels is part of the loss */
    float alpha, T;    /* logit KD: alpha L_kd + (1 - alpha) CE (labels) or L_kd alone */
    float beta;        /* AT: CE + beta/2 sum L_at (labels) or L_kd + beta/2 sum L_at */
    int epochs, batch;
    float lr, momentum, wd, warmup; /* SGD, cosine schedule with linear warm-up (epochs) */
    uint32_t seed;     /* shuffle order (the student's initialisation is its own seed) */
} lirf_distill_opts;
void lirf_distill_opts_default(lirf_distill_opts *o);

typedef struct {
    double seconds, images_per_s;
    double last_loss;
    size_t steps;
    int nmatched;                       /* AT: stage pairs matched */
    int s_stage[LIRF_MAX_STAGES], t_stage[LIRF_MAX_STAGES];
} lirf_distill_result;

/* Trains the student on samples index[0..count) of d (preprocessed with mean /
 * std, no augmentation: teacher outputs belong to the unaugmented images) from
 * teacher outputs t (row i belongs to index[i]; NULL only with LIRF_KD_NONE).
 * AT with no stage of matching spatial size: LIRF_E_SHAPE. */
lirf_status lirf_distill_train(lirf_student *s, const lirf_dataset *d, const int32_t *index,
                               size_t count, const float *mean, const float *std,
                               const lirf_teacher_out *t, const lirf_distill_opts *o,
                               const char *label, int quiet, lirf_distill_result *res);

/* ---- probes (verify/probes.c) -------------------------------------------- */
/* Per-sample cross-entropy of the true label under fn, in loader order
 * (loss must hold lirf_loader_samples(data) floats). */
lirf_status lirf_per_sample_loss(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fn,
                                 void *user, float *loss);

/* Linear probe: a linear layer trained with SGD on the flattened output of
 * `lower` (a net ending at the split point, eval mode), then evaluated on
 * test; counts as lirf_eval_counts. */
typedef struct {
    int epochs, batch;
    float lr, momentum, wd;
    uint32_t seed;
} lirf_probe_opts;
lirf_status lirf_linear_probe(lirf_ctx *ctx, lirf_net *lower, lirf_loader *train,
                              lirf_loader *test, int classes, const lirf_probe_opts *o,
                              int64_t *counts);

/* Relearn time: fine-tunes `net` in place with SGD (CE on the true labels)
 * on samples index[0..count) of d, evaluating every eval_every steps the
 * accuracy over `eval` (deposit-class test images), until it reaches goal
 * (percent) or max_steps pass. *steps: the steps taken when the goal was first
 * met, -1 if never; *reached: the last accuracy measured. Pretrained nets keep
 * their BN running statistics (mode LIRF_MODE_TRAIN_BN_FIXED), a fresh net
 * uses batch statistics (LIRF_MODE_TRAIN). */
typedef struct {
    int batch, max_steps, eval_every;
    float lr, momentum, wd;
    uint32_t seed;
    lirf_mode mode;
} lirf_relearn_opts;
lirf_status lirf_relearn(lirf_net *net, const lirf_dataset *d, const int32_t *index, size_t count,
                         const float *mean, const float *std, lirf_loader *eval, double goal,
                         const lirf_relearn_opts *o, int *steps, double *reached);

/* ---- statistics (verify/stats.c) ----------------------------------------- */
/* ROC AUC of scores (higher: positive), ties counted one half (Mann-Whitney). */
double lirf_roc_auc(const double *pos, size_t npos, const double *neg, size_t nneg);
/* The largest TPR at a threshold whose FPR is at most max_fpr (thresholds:
 * "score >= t", over every observed score). */
double lirf_tpr_at_fpr(const double *pos, size_t npos, const double *neg, size_t nneg,
                       double max_fpr);
/* The ROC curve at up to max_points thresholds (fpr, tpr pairs from (0,0) to
 * (1,1)); malloc'ed array of 2 * *npoints doubles. */
lirf_status lirf_roc_curve(const double *pos, size_t npos, const double *neg, size_t nneg,
                           size_t max_points, double **out, size_t *npoints);
/* Mean and the half-width of its two-sided 95% Student-t interval (0 for n 1). */
void lirf_mean_ci95(const double *v, size_t n, double *mean, double *half);
double lirf_t975(int df); /* Student-t 0.975 quantile */

/* ---- the audit (verify/audit.c) ------------------------------------------ */
typedef struct {
    const char *target, *original, *archive, *independent, *target_no_at;
    const char *data;        /* NULL: Fashion-MNIST */
    lirf_data_kind kind;
    int image_size;
    const int32_t *dep;      /* NULL: the target's deposit_classes metadata */
    int ndep;
    const char *out_dir;     /* work files (recover net of the withdraw check) */
    /* budgets */
    int seeds, epochs, train_subset, test_subset, batch;
    int students;            /* bit 0: CNN, bit 1: ResNet-18 */
    int student_width;
    int methods;             /* bit 0: logit, bit 1: AT */
    int labels;              /* bit 0: true labels, bit 1: none */
    lirf_distill_opts distill;
    /* probes */
    int mia, probe, withdraw_check, deposit_alone, relearn;
    int member_limit;        /* members: the first N training images (0: all) */
    int datafree_images;     /* data-free distillation: synthetic images (0: no such check) */
    int mia_samples;         /* at most this many members and non-members (0: all) */
    lirf_probe_opts probe_opts;
    int probe_train;         /* probe training images */
    /* relearn */
    int relearn_samples, relearn_max_steps, relearn_eval_every;
    float relearn_fraction, relearn_lr;
    /* thresholds (points, or AUC units for mia) */
    float margin_distill, margin_none, margin_mia, margin_probe, margin_withdraw,
        margin_relearn;
    /* the negative control when --independent is not given: a net of the
     * target's architecture trained by the audit on the preservation-class
     * images among the first member_limit training images, at most
     * control_limit of them, control_epochs epochs (train_control 0: none;
     * the checks that need one are inconclusive, the probes use a fresh net) */
    int train_control, control_epochs, control_limit;
    const char *preset;      /* NULL, or the preset's name, for the report */
    int quiet;
    const char *command;     /* the command line, for the report */
} lirf_verify_opts;
void lirf_verify_opts_default(lirf_verify_opts *o);

/* The lists of the students, methods and label settings (--students,
 * --methods, --labels): names separated by commas -> the bit sets of
 * lirf_verify_opts (bit i: the i-th name of "cnn,resnet18", "logit,at",
 * "true,none"). An unknown name or an empty list: LIRF_E_INVALID. */
typedef enum { LIRF_VERIFY_STUDENTS = 0, LIRF_VERIFY_METHODS, LIRF_VERIFY_LABELS } lirf_verify_list;
lirf_status lirf_verify_parse_list(lirf_verify_list which, const char *text, int *bits);

/* A leakage check's verdict from its calibration: the check has power
 * (*power = 1) when the positive control's measure is beyond the margin
 * (above it; below it for a ratio, `below`); without power the verdict is
 * inconclusive, never pass; with it, leak when the target's value is beyond
 * the margin, else pass. A measure that is not finite: no power. */
typedef enum { LIRF_CHECK_PASS = 0, LIRF_CHECK_LEAK, LIRF_CHECK_INCONCLUSIVE } lirf_check_verdict;
lirf_check_verdict lirf_verify_judge(double value, double positive, double margin, int below,
                                     int *power);
const char *lirf_check_verdict_name(lirf_check_verdict v); /* "pass", "leak", "inconclusive" */

/* lirf verify's exit codes (2 is an error, as for every lirf command). */
enum {
    LIRF_VERIFY_EXIT_OK = 0,      /* no leak found, and at least one check had power */
    LIRF_VERIFY_EXIT_LEAK = 1,    /* a check with power found leakage, or withdraw failed */
    LIRF_VERIFY_EXIT_NOTHING = 3  /* no check had power: nothing could tell */
};

/* Runs the audit; *report gets every number, seed, threshold and verdict,
 * "calibration" and "exit_code" (LIRF_VERIFY_EXIT_*). Errors (bad input,
 * wrong checkpoint kind, device failures) return a status. */
lirf_status lirf_verify_run(lirf_ctx *ctx, const lirf_verify_opts *o, json_t **report);

/* ---- reports (verify/report.c) ------------------------------------------- */
lirf_status lirf_report_write_json(const json_t *r, const char *path);
lirf_status lirf_report_write_md(const json_t *r, const char *path);
lirf_status lirf_report_write_html(const json_t *r, const char *path);
/* dir/report.json (when json), dir/report.md and dir/report.html; dir must exist. */
lirf_status lirf_report_write_dir(const json_t *r, const char *dir, int json);
/* An earlier report.json (an object with an array "checks"): *out, a new reference. */
lirf_status lirf_report_load(const char *path, json_t **out);
/* lirf verify --json: {"nets": {role: path}, "deposit_classes", "verdict",
 * "exit_code", "reports": {"json" (null unless json_written), "md", "html"},
 * "checks": report.json's checks, "seconds": the audit's total} (docs/json.md);
 * keys r lacks are left out. NULL when out of memory or a path is not UTF-8. */
json_t *lirf_report_summary_json(const json_t *r, const char *dir, int json_written);

#endif
