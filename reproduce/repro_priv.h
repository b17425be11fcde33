/* What the reproduction's files share (not installed). */
#ifndef LIRF_REPRO_PRIV_H
#define LIRF_REPRO_PRIV_H

#include "reproduce.h"

#define RP_PATH 1200
#define RP_RECORD_FORMAT "lirf-reproduce-record-1"

typedef struct {
    lirf_ctx *ctx;
    const lirf_repro_job *j;
    const char *data, *test_data; /* resolved paths (NULL: Fashion-MNIST) */
    lirf_data_kind kind;
    char key[96];                 /* "<data set>-w<width>[-quick]" */
    char records[1000];           /* the records folder */
    int32_t dep[LIRF_MAX_CLASSES];
    int ndep, K;                  /* K: classes (10: Fashion-MNIST and CIFAR-10 are planned
                                     with it; the data's own count is checked when read) */
    double n_train;               /* training images, for estimates */
    double rate_n[LIRF_STEP_KINDS], rate_s[LIRF_STEP_KINDS];  /* images and seconds of recorded steps, by kind */
    int have_rates;
    lirf_dataset test;            /* the test split, read once for every evaluation */
    int test_loaded;
} rp_t;

/* plan.c */
void rp_step_inputs(const lirf_step_def *d, const lirf_step_def **in);
double rp_estimate(const rp_t *R, const lirf_step_def *d);
/* Table 4: the deletion classes of each of T tasks (30% of a task's
 * classes, rounded, at least 1 and not all). */
int rp_t4_ndel(const rp_t *R, int T);
void rp_print_plan(const rp_t *R, const lirf_repro_plan *pl);

/* records.c: paths, the records and their checks */
void rp_net_path(const rp_t *R, const lirf_step_def *d, int seed, char *out);
void rp_step_dir(const rp_t *R, const lirf_step_def *d, int seed, char *out);
void rp_record_path(const rp_t *R, const char *id, int seed, char *out);
lirf_status rp_mkdirs(const char *path); /* every folder of path, like mkdir -p */
/* The settings a step's record must carry to be reused (a new reference). */
json_t *rp_settings(const rp_t *R, const lirf_step_def *d);
/* The record of (id, seed), or NULL when there is none (*out); a record that
 * is not a record of this step, or was made with other settings: an error
 * naming the file. */
lirf_status rp_record_load(const rp_t *R, const lirf_step_def *d, int seed, json_t **out);
/* Writes it atomically (temporary file, fsync, rename). */
lirf_status rp_record_save(const rp_t *R, const lirf_step_def *d, int seed, json_t *rec);
/* 1 when rec's inputs are the nets that the records of its input steps name
 * now (inputs absent from the records: 0). */
int rp_inputs_fit(const rp_t *R, const lirf_step_def *d, int seed, const json_t *rec);
/* The SHA-256 a record names for the net of its step ("" when none). */
const char *rp_record_net(const json_t *rec);
lirf_status rp_write_json_atomic(const json_t *j, const char *path);

/* steps.c */
lirf_status rp_run_step(rp_t *R, const lirf_step_def *d, int seed, json_t **rec);
/* Table 4: a method's (or the first task's) job, as the step runs it, but
 * for its output paths; first (RP_PATH) holds a method's first-task net path. */
void rp_t4_job(const rp_t *R, const lirf_step_def *d, int seed, lirf_il_job *j, char *first);

/* results.c */
double rp_num(const json_t *o, const char *path); /* "a.b.0.c" -> number, NAN when absent */

#endif
