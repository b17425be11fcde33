/* The experiment protocol of lirf: which deposit-class samples a deposit holds
 * out, and the arithmetic of the paper's Table 1 (Pre / Dep / Avg Acc, F and
 * H-Mean). The CLI (lirf deposit, lirf eval, lirf demo) only reads options and
 * formats what these compute, so a C caller gets the same protocol without it.
 *
 * Nothing here prints; failures return an lirf_status with the message recorded
 * (lirf_error_message()). Accuracies are percentages (0..100); NAN means "none"
 * (no samples of that kind, or no such value for the column).
 */
#ifndef LIRF_PROTOCOL_H
#define LIRF_PROTOCOL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lirf.h"

/* ---- the deposit's hold-out split --------------------------------------- */

/* The seeded permutation of 0..n-1 behind the hold-out split: Fisher-Yates
 * driven by splitmix64 from 0x9e3779b97f4a7c15 ^ (seed << 17). It is part of
 * the protocol: a seed holds out the same samples in every version of lirf
 * (tests/test_protocol.c pins values of it). */
void lirf_holdout_permutation(int n, int64_t seed, int32_t *perm);

/* The hold-out split of the n deposit-class training samples of a deposit
 * with options o: with o->holdout <= 0, *perm = NULL and *nhold = 0 (train on
 * all). Else *perm (malloc'ed, n entries, the caller frees it) is
 * lirf_holdout_permutation(n, lirf_deposit_holdout_seed(o)) and *nhold is
 * llround(o->holdout * n) (the product in float), at least 1: the held-out
 * samples are perm[0 .. nhold), the training ones perm[nhold .. n) (n - nhold
 * of them), as lirf_loader_opts index/count. LIRF_E_INVALID (nothing
 * allocated) when the share leaves no training sample (nhold >= n) or n < 1;
 * LIRF_E_NOMEM. */
lirf_status lirf_holdout_split(int n, const lirf_deposit_opts *o, int32_t **perm, size_t *nhold);

/* The held-out check interval in steps for holdout_every (lirf_deposit_opts):
 * a value >= 0 is returned as it is (0: epoch ends only); -k asks for k checks
 * an epoch and gives ceil(steps_per_epoch / k) (at most INT_MAX). */
int lirf_holdout_every_steps(int holdout_every, size_t steps_per_epoch);

/* ---- Table 1 ------------------------------------------------------------ */

/* What a column of Table 1 is; F and H-Mean belong to target columns only. */
typedef enum {
    LIRF_COL_ORIGINAL = 0, /* T0: its Dep Acc is the reference of F */
    LIRF_COL_TARGET,       /* a target net (knowledge deposited): F, H-Mean */
    LIRF_COL_RECOVER,      /* a recover net (after withdrawal) */
    LIRF_COL_INDEPENDENT,  /* Pre of a net trained on the preservation classes only,
                              Dep of one trained on the deposit classes only; no Avg */
    LIRF_COL_OTHER         /* any other net, reported without F */
} lirf_col_role;

typedef struct {
    lirf_col_role role;
    char label[64];         /* the column's heading */
    const char *path;       /* the checkpoint evaluated (may be NULL; not owned) */
    double pre, dep, avg;   /* Pre Acc, Dep Acc, Avg Acc */
    double F, H;            /* F = DepAcc(T0) - DepAcc(this), H-Mean = 2 Pre F / (Pre + F):
                               target columns scored by lirf_table1_score, else NAN */
    int scored;             /* 1: F and H were computed (a target column, T0's Dep Acc
                               known), even if they came out NAN */
    double agree;           /* % of the samples whose argmax is T0's (NAN: not measured) */
    int64_t bytes;          /* the deposit archive behind a recover column (0: none given) */
} lirf_table1_col;

/* A column of that role, label (cut to 63 bytes) and path, every value NAN. */
void lirf_table1_col_init(lirf_table1_col *c, lirf_col_role role, const char *label,
                          const char *path);

/* Pre / Dep / Avg Acc from per-class counts (counts[2k] correct, counts[2k+1]
 * samples of class k, K classes: lirf_eval_counts) and the deposit classes
 * dep[0..ndep): Dep over the deposit classes' samples, Pre over the others',
 * Avg over all; NAN where there are no samples. A class listed twice counts
 * once. LIRF_E_INVALID for a deposit class outside [0, K) or K < 1. */
lirf_status lirf_pre_dep_avg(const int64_t *counts, int K, const int32_t *dep, int ndep,
                             double *pre, double *dep_acc, double *avg);

/* c's pre, dep and avg from counts (lirf_pre_dep_avg). */
lirf_status lirf_table1_fill(lirf_table1_col *c, const int64_t *counts, int K,
                             const int32_t *dep, int ndep);

/* The Independent column: Pre from pre_counts (the net trained on the
 * preservation classes), Dep from dep_counts (the one trained on the deposit
 * classes), Avg NAN. c's role, label and path are kept. */
lirf_status lirf_table1_independent(lirf_table1_col *c, const int64_t *pre_counts,
                                    const int64_t *dep_counts, int K, const int32_t *dep,
                                    int ndep);

/* F and H-Mean of a net with Pre Acc pre and Dep Acc dep against T0's Dep Acc:
 * F = dep_original - dep, H = 2 pre F / (pre + F) (NAN propagates). */
void lirf_table1_f_hmean(double dep_original, double pre, double dep, double *F, double *H);

/* Sets F and H (and scored) of every LIRF_COL_TARGET column of cols[0..n)
 * against original's Dep Acc (original may be one of cols); every other
 * column, and all of them when original is NULL or its Dep Acc is NAN, get
 * F = H = NAN, scored 0. */
void lirf_table1_score(const lirf_table1_col *original, lirf_table1_col *cols, int n);

/* The first column of cols[0..n) with that role, or NULL. */
lirf_table1_col *lirf_table1_find(lirf_table1_col *cols, int n, lirf_col_role role);

/* A value as Table 1 prints it: v rounded to 2 decimals exactly as printf's
 * "%.2f" does (so the JSON and the Markdown agree); non-finite v unchanged. */
double lirf_round2(double v);

/* Table 1 as JSON: an array with an object per column, in order:
 *   {"column": label, "path": path or "", "pre_acc": x, "dep_acc": x,
 *    "avg_acc": x (when not NAN), "F": x, "H_mean": x (when scored)}
 * values lirf_round2'ed, non-finite ones null. NULL when out of memory.
 * Dump it with LIRF_JSON_DUMP_FLAGS (below) for the one-line text lirf prints. */
json_t *lirf_table1_json(const lirf_table1_col *cols, int n);

/* The accuracy report of one checkpoint (lirf eval --model --json):
 *   {"model": model, "accuracy": x, "pre_acc": x, "dep_acc": x (when ndep > 0),
 *    "per_class": [{"class": k, "name": class_names[k] or "", "accuracy": x,
 *                   "samples": n}, ...]}
 * from counts as for lirf_pre_dep_avg (class_names may be NULL). Values are
 * lirf_round2'ed, non-finite ones null. NULL with the error recorded for bad
 * deposit classes or out of memory. */
json_t *lirf_eval_report_json(const char *model, const int64_t *counts, int K,
                              const int32_t *dep, int ndep, char *const *class_names);

/* One line, keys in order, and 15 significant digits, so that a value rounded
 * to 2 decimals prints as such (93.4, not 93.400000000000006). */
#define LIRF_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))

#endif
