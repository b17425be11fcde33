/* lirf runtime: the GEMM tuner (runtime/tuner.c), what `lirf tune` runs.
 *
 * Measures CLBlast Xgemm parameter sets on the GEMMs of lirf's im2col
 * convolutions (ResNet-18: NN forward, NT weight gradient, TN input gradient;
 * 5 shapes per class, 2 with quick) and writes the fastest set per class, and
 * CLBlast's switch to its direct kernel measured on 12 small GEMMs (6 with
 * quick), to the tuning file that lirf_ctx_create reads (runtime/tune.c).
 *
 * Every measurement runs in a child process of its own (fork): a parameter
 * set can make a kernel fault or hang on some drivers, and a fresh process
 * gives each set a clean CLBlast state. A child times each shape (one untimed
 * call, which compiles, then the fastest of the timed calls) and checks a grid
 * of entries against double-precision dot products; a set with a wrong entry,
 * an error, a crash or a timeout is dropped. Because of the fork, call
 * lirf_tune_run before any OpenCL use in the process (a context, a device
 * list): afterwards it refuses (LIRF_E_INVALID).
 *
 * Search: a fixed list of candidates per class, ordered by how well they did
 * on the CPUs they were measured on, tried round-robin over the classes until
 * 60% of the budget is spent; the best 3 per class measured again until 80%
 * (the fastest of both passes counts); CLBlast's direct/indirect switch with
 * the winners while the budget lasts; the winners verified together on
 * awkward shapes with offsets; the file written.
 */
#ifndef LIRF_TUNE_H
#define LIRF_TUNE_H

#include "lirf_runtime.h"

/* What the tuner reports as it goes, in the words of `lirf tune`: pieces of
 * text for stdout (LIRF_TUNE_OUT) or stderr (LIRF_TUNE_ERR). A measurement's
 * label comes as one piece without a newline, its result as the next. */
typedef enum { LIRF_TUNE_OUT = 0, LIRF_TUNE_ERR = 1 } lirf_tune_stream;
typedef void (*lirf_tune_progress_fn)(void *user, lirf_tune_stream stream, const char *text);

typedef struct {
    const char *device;      /* device spec (lirf_ctx_create); NULL: $LIRF_DEVICE, else default */
    double budget_s;         /* [1, 86400]: no new measurement starts after about this long */
    int quick;               /* 2 shapes per class (6 small GEMMs) and 2 timed calls, not 5 and 3 */
    int dry_run;             /* measure and verify, write nothing */
    const char *output;      /* the file to write; NULL: the cache file lirf_ctx_create reads */
    int max_candidates;      /* 0: every candidate; N: the first N valid of each class's list */
    lirf_tune_progress_fn progress; /* NULL: silent */
    void *user;              /* passed to progress */
} lirf_tune_opts;

/* budget_s 300, everything else 0 / NULL. */
void lirf_tune_opts_default(lirf_tune_opts *o);

typedef enum {
    LIRF_TUNE_WRITTEN = 0, /* verified and written to path */
    LIRF_TUNE_DRY_RUN,     /* verified; nothing written (dry_run) */
    LIRF_TUNE_INCOMPLETE,  /* a class has no working candidate in the budget: nothing written */
    LIRF_TUNE_UNVERIFIED,  /* the winners failed on the awkward shapes: nothing written */
} lirf_tune_outcome;

const char *lirf_tune_outcome_name(lirf_tune_outcome outcome); /* "written", "dry-run", ... */

#define LIRF_TUNE_CLASSES 3 /* the classes measured: NN, NT, TN (TT takes NN's) */

typedef struct {
    lirf_tune_outcome outcome;
    /* the device as the children saw it: name, platform_name, driver, version,
     * c_version, local_mem, max_wg (no OpenCL handles) */
    lirf_device_info device;
    char path[1200];        /* the file (written or not); "" for a dry run without one */
    double budget_s, elapsed_s;
    int shapes_per_class, timed_calls;
    int candidates;         /* valid on this device, over the classes */
    int measured, dropped;  /* parameter sets measured in children, of them dropped */
    /* the winners: cls[c].set where found (TT = NN), min_indirect from stage 2 */
    lirf_gemm_tuning best;
    /* geometric-mean GFLOP/s over the shapes of class NN, NT, TN: the winner
     * and CLBlast's defaults; 0 when not measured */
    double gflops[LIRF_TUNE_CLASSES], default_gflops[LIRF_TUNE_CLASSES];
    int small_measured;     /* stage 2 ran: best.min_indirect chosen */
    double small_gflops, small_default_gflops;
} lirf_tune_result;

/* Runs the tuner (minutes: see budget_s) and fills *r. LIRF_OK when the search
 * ran to its end: r->outcome says whether the file was written. Errors:
 * LIRF_E_NULL, LIRF_E_INVALID (an option out of range; OpenCL already used in
 * this process), LIRF_E_NO_DEVICE (the device could not be opened in a child),
 * LIRF_E_NOT_FOUND (no cache directory and no output, not a dry run),
 * LIRF_E_NOMEM, and what lirf_gemm_tuning_save returns. Every error but
 * LIRF_E_NULL is also reported through progress (stream LIRF_TUNE_ERR), as
 * `lirf tune` shows it. */
lirf_status lirf_tune_run(const lirf_tune_opts *o, lirf_tune_result *r);

#endif
