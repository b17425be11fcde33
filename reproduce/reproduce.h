/* lirf reproduce: the paper's tables, run as resumable steps (docs/reproduce.md).
 *
 * A reproduction is a list of steps for one data set and width, repeated for
 * every seed: T0 trained to convergence, the two Independent nets, deposits
 * of T0 in several settings (Table 1, Table 2's loss and pruning rows, Fig.
 * 4's split blocks and prune rates) and the distillation students of Table 3
 * (lirf_verify_run with the paper's protocol). Each finished step leaves a
 * small JSON record (its settings, the hashes of the nets it read and wrote,
 * its figures, its time) in a records folder, meant to be kept (the
 * repository keeps its own in docs/results/); its networks stay in the
 * output folder. A step whose record is there and fits is not run again; a
 * step needs the networks of the steps it reads, which are made again (and
 * their records checked) when the output folder lacks them. A killed step
 * continues from its training state.
 *
 * The results (results.json, results.md and SVG plots: mean and 95% interval
 * over seeds, the paper's values beside) are made from the records alone, so
 * that a later sitting, or a fresh checkout, regenerates them.
 *
 * Library code: returns an lirf_status with the message recorded; progress
 * goes to the job's log stream. */
#ifndef LIRF_REPRODUCE_H
#define LIRF_REPRODUCE_H

#include <jansson.h>
#include <stdio.h>

#include "experiments.h"

/* The tables (bits of lirf_repro_job.tables). */
enum {
    LIRF_REPRO_TABLE1 = 1,
    LIRF_REPRO_TABLE2 = 2,
    LIRF_REPRO_TABLE3 = 4,
    LIRF_REPRO_FIG4 = 8,
    LIRF_REPRO_TABLE4 = 16,
    LIRF_REPRO_ALL = 1 | 2 | 4 | 8 | 16
};
/* "1", "2", "3", "4", "fig4", "all", or a comma list of them -> bits;
 * LIRF_E_INVALID naming the unknown word. */
lirf_status lirf_repro_parse_tables(const char *text, int *bits);

/* The budgets of a reproduction: what each step trains for. */
typedef struct {
    char name[16];         /* "standard", "quick" */
    int width;             /* ResNet-18 width */
    int epochs;            /* T0 and the Independent nets (cosine, lirf train's defaults) */
    int batch;
    int limit;             /* training images for T0 (0: all) */
    int dep_epochs;        /* every deposit (lirf demo's protocol: 5% held out, eight
                              checks an epoch, the nets of the lowest kept) */
    int dep_limit;         /* deposit-class images (0: all) */
    int student_epochs, student_subset, student_width; /* Table 3 (lirf verify) */
    int il_first_epochs;   /* Table 4: the first task, from scratch */
    int il_epochs;         /* Table 4: each later task (every method) */
} lirf_repro_profile;
/* quick: minutes on 2 cores (a check of the machinery: width 8, 3 epochs on
 * 2000 images); else
 * the standard budgets for a CPU (docs/reproduce.md says why). */
void lirf_repro_profile_default(lirf_repro_profile *p, int quick);

typedef struct {
    const char *data;      /* "fmnist" (NULL), "cifar10" (../shared/data/cifar10), or a path */
    const char *test_data; /* NULL: data's test split */
    lirf_data_kind kind;
    int image_size;        /* image folders: the size they are read at (0: 32) */
    const char *name;      /* the data set's name in records and tables (NULL: from data) */
    const int32_t *dep;    /* deposit classes (NULL: 0,1,2) */
    int ndep;
    int tables;            /* LIRF_REPRO_* bits */
    int seeds;             /* seeds 1..seeds (3) */
    lirf_repro_profile prof;
    const char *out_dir;   /* networks, training states, results (lirf-reproduce) */
    const char *records;   /* kept records (NULL: out_dir/records) */
    const char *md_path;   /* results.md (NULL: out_dir/results.md); see lirf_repro_write_md */
    const char *plots;     /* the plots' subfolder of md_path's folder (NULL: beside it) */
    int plan_only;         /* print the plan, run nothing */
    int report_only;       /* results from the records, run nothing */
    int max_steps;         /* stop after this many steps have run (0: no limit) */
    FILE *log;             /* the plan, progress and notes (NULL: quiet) */
} lirf_repro_job;
void lirf_repro_job_default(lirf_repro_job *j);

/* A step of the plan. */
typedef enum { LIRF_STEP_T0 = 0, LIRF_STEP_INDEP_PRE, LIRF_STEP_INDEP_DEP, LIRF_STEP_DEPOSIT,
               LIRF_STEP_STUDENTS, LIRF_STEP_IL,
               LIRF_STEP_T4_FIRST,  /* Table 4: the first task's net, shared by the methods */
               LIRF_STEP_T4_METHOD, /* Table 4: a method over the later tasks */
               LIRF_STEP_T4_LIRF,   /* Table 4: T0's sequential deposits */
               LIRF_STEP_KINDS } lirf_step_kind;

typedef struct {
    const char *id;        /* "t0", "independent-pre", "deposit", "deposit-split3", ... */
    const char *what;      /* for people */
    lirf_step_kind kind;
    int split;             /* deposits: the split block n */
    float prune_rate;
    int at, pt, re;        /* deposits: L_at, L_pt, L_re on (1) or off (0) */
    int tables;            /* the tables that read it */
    int tasks;             /* Table 4: the tasks T */
    const char *method;    /* Table 4: the method (lirf_il_methods) */
} lirf_step_def;

/* Every step a reproduction knows, in run order; *n their count. */
const lirf_step_def *lirf_repro_steps(int *n);
/* The step called id, or NULL. */
const lirf_step_def *lirf_repro_step_find(const char *id);

typedef struct {
    const lirf_step_def *def;
    int seed;
    int needed;            /* a table asks for it (else only its networks are read) */
    int done;              /* its record is there and fits */
    int remake;            /* recorded, but its net is not in the output folder: made again
                              before the step that reads it */
    double est_seconds;    /* estimated time */
} lirf_plan_item;

#define LIRF_REPRO_MAX_ITEMS 256
typedef struct {
    char dataset[96];      /* e.g. "fmnist-w16" */
    int n;
    lirf_plan_item item[LIRF_REPRO_MAX_ITEMS];
    double est_total;      /* of the steps to run */
    int to_run;
} lirf_repro_plan;

typedef struct {
    lirf_repro_plan plan;
    int ran;               /* steps run */
    double seconds;
    char results_json[1100], results_md[1100];
} lirf_repro_report;

/* Makes the plan, prints it on the log, runs what is missing (unless
 * plan_only / report_only), then writes results.json and results.md (with
 * the plots) from every record in the records folder. r is large: allocate
 * it. */
lirf_status lirf_repro_run(lirf_ctx *ctx, const lirf_repro_job *j, lirf_repro_report *r);

/* The results document from the records folder (every data set found):
 * {"format": "lirf-reproduce-results-1", "datasets": [{"name", "seeds",
 *  "profile", "table1": [...], "table2": [...], "table3": [...], "fig4":
 *  {...}, "steps": [{"id", "seed", "seconds"}...]}], "paper": {...}}.
 * Values are means over seeds with the half-width of their 95% Student-t
 * interval ("ci95"). */
lirf_status lirf_repro_results(const char *records, json_t **out);
/* The results as Markdown (tables, the notes, the steps' times) with SVG
 * plots, written into md_path between the lines "<!-- lirf reproduce: begin
 * (generated; do not edit) -->" and "<!-- lirf reproduce: end -->" (a new
 * file: the whole file; an existing file without them is refused, not
 * overwritten). The plots go to the md file's folder, or its subfolder
 * `plots` (NULL or "": the folder itself), named <data set>-<what>.svg. */
lirf_status lirf_repro_write_md(const json_t *results, const char *md_path, const char *plots);

#endif
