/* What the audit's files share (verify/audit.c, checks.c, control.c, mia.c):
 * the nets by role, the audit's state and the helpers they all use. Not part
 * of the library's interface (verify.h is). */
#ifndef LIRF_AUDIT_PRIV_H
#define LIRF_AUDIT_PRIV_H

#include "verify.h"

/* The roles. The positive control is the original (it knows the deposit
 * classes); the negative control is the independent net (it never saw them:
 * given with --independent, or trained by the audit, verify/control.c). */
enum { R_ORIGINAL = 0, R_TARGET, R_TARGET_NO_AT, R_INDEPENDENT, R_COUNT };
extern const char *const ROLE[R_COUNT];
extern const char *const ROLE_LABEL[R_COUNT];

typedef struct {
    const char *path;
    lirf_model_meta meta;
    lirf_net *net;
    char kind[32], sha[65], dep[512];
    double pre, dep_acc, avg;
} model_t;

typedef struct {
    const int32_t *dep;
    int ndep, K;
} split_t;

typedef struct {
    int student, method, labels, teacher, seed;
    double pre, dep, avg;
} run_t;

typedef struct {
    int r, method, labels; /* teacher role (-1: none), lirf_kd_method, true labels */
} cell_t;
#define MAX_CELLS (1 + R_COUNT * 2 * 2)

typedef struct {
    lirf_ctx *ctx;
    const lirf_verify_opts *o;
    double t_start, t_data;
    model_t M[R_COUNT];
    const lirf_net_config *tc; /* the target's */
    int K;
    int32_t dep[LIRF_MAX_CLASSES];
    int ndep;
    split_t S;
    const float *smean, *sstd; /* the students' preprocessing: the original's, else the target's */
    lirf_dataset tr, te;
    int32_t *sub, *tidx; /* the training subset (fixed: the same for every seed), the test subset */
    size_t nsub, nte;
    size_t member_limit; /* the training images the original was trained on: the first N */
    lirf_loader *lte;    /* the test subset, the students' preprocessing */
    lirf_teacher_out T[R_COUNT];
    int same[R_COUNT];   /* an earlier role given the very same file (equal SHA-256), or -1 */
    int nstud, studs[2], nmeth, meths[2], nlab, labs[2];
    run_t *runs;
    int nruns;
    json_t *R, *inputs, *checks, *timing;
    json_t *table; /* "table3" of R (borrowed) */
    char recover_path[1200];
    char control_path[1200]; /* the negative control trained by the audit ("" if none) */
} audit_t;

/* ---- helpers (verify/audit.c) ---- */
int va_is_dep(const split_t *s, int k);
void va_summarise(const split_t *s, const int64_t *counts, double *pre, double *dep, double *avg);
lirf_status va_make_loader(lirf_ctx *ctx, const lirf_dataset *d, const int32_t *index,
                           size_t count, int batch, const float *mean, const float *std,
                           lirf_loader **out);
lirf_status va_eval_fn(lirf_ctx *ctx, lirf_loader *ld, const split_t *s, lirf_logits_fn fn,
                       void *user, double *pre, double *dep, double *avg);
json_t *va_jnum(double v); /* a JSON real, or null when not finite */
void va_note(const lirf_verify_opts *o, const char *fmt, const char *a, double t0);
size_t va_thin(int32_t *v, size_t n, size_t cap); /* evenly spaced pick of at most cap, in place */
const char *va_role_name(int r);  /* r == R_COUNT: "fresh" */
const char *va_role_label(int r);
const lirf_model_meta *va_meta_of(const audit_t *a, int r); /* R_COUNT: the target's */
/* Opens the checkpoint at path as role r's net (flag names it in messages). */
lirf_status va_open_role(audit_t *a, int r, const char *path, const char *flag);

/* ---- calibrated checks (verify/checks.c) ---- */
typedef struct {
    const char *name, *what;
    double value, half;       /* the target's measure against the negative control; 95% half-width */
    double control;           /* the negative control's own measure (informative) */
    const char *control_is;
    double positive, pos_half; /* the same measure of the positive control (NAN: none) */
    double margin;
    int below;                /* 1: leakage when value < margin (a ratio); 0: when value > margin */
    const char *no_power_why; /* why the power cannot be measured, or NULL */
    json_t *per_seed;         /* stolen; may be NULL */
} va_check;
/* Judges c by its calibration (lirf_verify_judge) and appends it to a->checks. */
void va_add_check(audit_t *a, const va_check *c);
/* A check that is not about leakage (withdraw): pass / fail / skipped, power n/a. */
void va_add_plain_check(audit_t *a, const char *name, const char *what, double value,
                        double control, const char *control_is, double margin,
                        const char *verdict);
/* The overall verdict, exit code and the calibration summary into a->R. */
lirf_status va_verdict(audit_t *a);

/* ---- the negative control (verify/control.c) ---- */
lirf_status va_control_stage(audit_t *a);

/* ---- membership inference (verify/mia.c) ---- */
lirf_status va_mia_stage(audit_t *a);

/* ---- data-free distillation (verify/datafree.c) ---- */
lirf_status va_datafree_stage(audit_t *a);

/* ---- relearn time (verify/relearn.c) ---- */
lirf_status va_relearn_stage(audit_t *a);

/* ---- distillation with controls, Table 3 (verify/students.c) ---- */
const char *va_student_name(int s); /* 0: the CNN, else ResNet-18 (audit.c) */
lirf_status va_teacher_stage(audit_t *a);  /* every net's outputs, once per file */
lirf_status va_distill_stage(audit_t *a);  /* every student */
lirf_status va_table3_stage(audit_t *a);   /* Table 3's rows */
lirf_status va_distill_checks(audit_t *a); /* the students' checks */

#endif
