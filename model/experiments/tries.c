/* The deposit tries (lirf demo): several deposits from one T0 with
 * consecutive seeds, judged on one held-out set; the best one's files kept. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "experiments.h"

/* dir/try<k>-base for path dir/base. */
static void try_path(char *out, size_t cap, const char *path, int k) {
    const char *slash = strrchr(path, '/');
    if (slash) snprintf(out, cap, "%.*s/try%d-%s", (int)(slash - path), path, k, slash + 1);
    else snprintf(out, cap, "try%d-%s", k, path);
}

typedef struct {
    char target[1100], archive[1100], also[3][1100];
} try_files;

static void remove_try(const lirf_deposit_job *j, const try_files *f) {
    unlink(f->target), unlink(f->archive);
    for (int m = 0; m < 3; m++)
        if (j->also_out[m]) unlink(f->also[m]);
}

/* Try k's files replace the job's: archives, target. */
static lirf_status keep_try(const lirf_deposit_job *j, const try_files *f, int k) {
    int bad = rename(f->archive, j->archive_out) != 0;
    for (int m = 0; m < 3 && !bad; m++) bad = j->also_out[m] && rename(f->also[m], j->also_out[m]);
    if (bad || rename(f->target, j->target_out))
        return LIRF_FAIL(LIRF_E_IO, "cannot move try %d's files into place: %s", k + 1,
                         strerror(errno));
    return LIRF_OK;
}

lirf_status lirf_deposit_tries(lirf_ctx *ctx, const lirf_deposit_job *j, int tries,
                               lirf_deposit_report *r, int *kept) {
    if (!ctx || !j || !r || !kept) return LIRF_FAIL(LIRF_E_NULL, "lirf_deposit_tries: NULL argument");
    if (tries < 1 || tries > LIRF_MAX_TRIES)
        return LIRF_FAIL(LIRF_E_INVALID, "deposit tries: %d (1 to %d)", tries, LIRF_MAX_TRIES);
    if (tries > 1 && !(j->o.holdout > 0 && j->o.keep_best))
        return LIRF_FAIL(LIRF_E_INVALID, "deposit tries are judged on held-out samples: they need "
                                         "a hold-out (--holdout) and --keep best");
    lirf_deposit_job base = *j;
    base.o.holdout_seed = lirf_deposit_holdout_seed(&j->o); /* one held-out set for all */
    double best = 0;
    *kept = 0;
    for (int k = 0; k < tries; k++) {
        lirf_deposit_job jk = base;
        try_files f;
        jk.o.seed = j->o.seed + (uint32_t)k;
        try_path(f.target, sizeof f.target, j->target_out, k + 1);
        try_path(f.archive, sizeof f.archive, j->archive_out, k + 1);
        for (int m = 0; m < 3; m++)
            if (j->also_out[m]) try_path(f.also[m], sizeof f.also[m], j->also_out[m], k + 1);
        if (k) { /* try 1 writes the final files, a later one files of its own */
            jk.target_out = f.target, jk.archive_out = f.archive;
            for (int m = 0; m < 3; m++) jk.also_out[m] = j->also_out[m] ? f.also[m] : NULL;
        }
        if (tries > 1 && j->log)
            fprintf(j->log, "lirf: deposit try %d of %d (seed %u)\n", k + 1, tries, jk.o.seed);
        lirf_status st = lirf_deposit_job_run(ctx, &jk, &r[k]);
        if (st) {
            if (k) remove_try(j, &f); /* the kept try's files stay */
            return lirf_error_context(st, "deposit try %d", k + 1);
        }
        double h = r[k].kept_holdout;
        if (k == 0 || h < best) {
            if (k) LIRF_TRY(keep_try(j, &f, k));
            best = h, *kept = k;
        } else {
            remove_try(j, &f);
        }
        if (tries > 1 && j->log)
            fprintf(j->log, "lirf: try %d: lowest held-out Dep Acc %.2f%%; keeping try %d\n", k + 1,
                    h, *kept + 1);
    }
    return LIRF_OK;
}
