/* lirf reproduce as a library call: the plan, the steps that are missing (and
 * the nets they read), then the results from the records. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "repro_priv.h"
#include "verify.h"

#define CIFAR10_DIR "../shared/data/cifar10"

/* The data set: a name, the paths the readers take, and (for estimates) its
 * training images. */
static lirf_status resolve_data(const lirf_repro_job *j, rp_t *R, const char **name) {
    R->kind = j->kind, R->test_data = j->test_data, R->K = 10, R->n_train = 60000;
    const char *d = j->data;
    if (!d || !strcmp(d, "fmnist") || !strcmp(d, "fashion-mnist")) {
        R->data = NULL, *name = "fmnist";
    } else if (!strcmp(d, "cifar10")) {
        R->data = CIFAR10_DIR "/train.tar.gz";
        if (!R->test_data) R->test_data = CIFAR10_DIR "/test.tar.gz";
        R->kind = LIRF_DATA_IMAGEFOLDER, R->n_train = 50000, *name = "cifar10";
        if (access(R->data, R_OK) != 0)
            return LIRF_FAIL(LIRF_E_NOT_FOUND, "--data cifar10 reads %s (relative to the "
                             "current folder): not found; give a CIFAR-10 copy's path "
                             "(binary or image folders) with --data PATH --name cifar10",
                             R->data);
    } else {
        R->data = d, R->n_train = 50000;
        const char *b = strrchr(d, '/');
        *name = b && b[1] ? b + 1 : d;
    }
    if (j->name) *name = j->name;
    for (const char *p = *name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return LIRF_FAIL(LIRF_E_INVALID, "the data set's name \"%s\" names folders: use "
                             "letters, digits, '-', '_' and '.' only (--name)", *name);
    return LIRF_OK;
}

static lirf_status rp_init(lirf_ctx *ctx, const lirf_repro_job *j, rp_t *R) {
    memset(R, 0, sizeof *R);
    R->ctx = ctx, R->j = j;
    const char *name;
    LIRF_TRY(resolve_data(j, R, &name));
    const char *pn = j->prof.name[0] ? j->prof.name : "custom";
    snprintf(R->key, sizeof R->key, "%s-w%d%s%s", name, j->prof.width,
             strcmp(pn, "standard") ? "-" : "", strcmp(pn, "standard") ? pn : "");
    if (j->records) snprintf(R->records, sizeof R->records, "%s", j->records);
    else snprintf(R->records, sizeof R->records, "%s/records", j->out_dir);
    static const int32_t def[3] = {0, 1, 2};
    const int32_t *dep = j->dep ? j->dep : def;
    R->ndep = j->dep ? j->ndep : 3;
    if (R->ndep < 1 || R->ndep > LIRF_MAX_CLASSES)
        return LIRF_FAIL(LIRF_E_INVALID, "deposit classes: %d given", R->ndep);
    memcpy(R->dep, dep, sizeof *dep * (size_t)R->ndep);
    return LIRF_OK;
}

/* Adds a record's images and seconds to the rates of its kind. */
static void add_rate(rp_t *R, const lirf_step_def *d, const json_t *rec) {
    double n = rp_num(rec, "images"), s = rp_num(rec, "seconds");
    if (n > 0 && s > 0) R->rate_n[d->kind] += n, R->rate_s[d->kind] += s, R->have_rates = 1;
}

/* Is the step's record there, fitting, with its inputs' nets unchanged?
 * (rate: count its images and seconds in the estimates' rates) */
static lirf_status record_fits(rp_t *R, const lirf_step_def *d, int seed, int rate, int *done) {
    json_t *rec = NULL;
    LIRF_TRY(rp_record_load(R, d, seed, &rec));
    *done = rec && rp_inputs_fit(R, d, seed, rec);
    if (rec && rate) add_rate(R, d, rec);
    json_decref(rec);
    return LIRF_OK;
}

static lirf_status is_done(rp_t *R, const lirf_step_def *d, int seed, int *done) {
    return record_fits(R, d, seed, 1, done);
}

static lirf_status plan_add(lirf_repro_plan *pl, const lirf_step_def *d, int seed, int needed,
                            lirf_plan_item **out) {
    if (pl->n >= LIRF_REPRO_MAX_ITEMS) return LIRF_FAIL(LIRF_E_INVALID, "too many steps (--seeds)");
    lirf_plan_item *it = &pl->item[pl->n++];
    *it = (lirf_plan_item){.def = d, .seed = seed, .needed = needed};
    *out = it;
    return LIRF_OK;
}

/* Before a step to run: the recorded steps whose nets it reads and the
 * output folder lacks (made again first; not yet listed) */
static lirf_status plan_remakes(rp_t *R, lirf_repro_plan *pl, const lirf_step_def *d, int seed) {
    const lirf_step_def *in[4];
    rp_step_inputs(d, in);
    for (int k = 0; in[k]; k++) {
        char path[RP_PATH];
        int done;
        lirf_plan_item *it = NULL;
        rp_net_path(R, in[k], seed, path);
        for (int i = 0; i < pl->n; i++)
            if (pl->item[i].def == in[k] && pl->item[i].seed == seed) it = &pl->item[i];
        LIRF_TRY(record_fits(R, in[k], seed, 0, &done));
        if (!done || access(path, R_OK) == 0) continue;
        if (it) { /* listed as done: to be made again */
            it->done = 0, it->remake = 1;
            continue;
        }
        LIRF_TRY(plan_remakes(R, pl, in[k], seed));
        LIRF_TRY(plan_add(pl, in[k], seed, 0, &it));
        it->remake = 1;
    }
    return LIRF_OK;
}

static lirf_status make_plan(rp_t *R, lirf_repro_plan *pl) {
    int ns;
    const lirf_step_def *S = lirf_repro_steps(&ns);
    memset(pl, 0, sizeof *pl);
    snprintf(pl->dataset, sizeof pl->dataset, "%s", R->key);
    for (int seed = 1; seed <= R->j->seeds; seed++)
        for (int i = 0; i < ns; i++) {
            if (!(S[i].tables & R->j->tables)) continue;
            int done;
            LIRF_TRY(is_done(R, &S[i], seed, &done));
            if (!done) LIRF_TRY(plan_remakes(R, pl, &S[i], seed));
            lirf_plan_item *it = NULL;
            LIRF_TRY(plan_add(pl, &S[i], seed, 1, &it));
            it->done = done;
        }
    for (int i = 0; i < pl->n; i++) {
        pl->item[i].est_seconds = rp_estimate(R, pl->item[i].def);
        if (!pl->item[i].done) pl->est_total += pl->item[i].est_seconds, pl->to_run++;
    }
    return LIRF_OK;
}

static lirf_status run_and_keep(rp_t *R, const lirf_step_def *d, int seed, int *ran);

/* The net of step d (seed) is in the output folder and is the one its record
 * names; otherwise the step runs again (a note when the net it makes is not
 * the recorded one: the steps that read the old one then run again too). */
static lirf_status ensure_net(rp_t *R, const lirf_step_def *d, int seed, int *ran) {
    char path[RP_PATH], hex[65];
    rp_net_path(R, d, seed, path);
    json_t *rec = NULL;
    LIRF_TRY(rp_record_load(R, d, seed, &rec));
    int ok = rec && access(path, R_OK) == 0 && lirf_file_sha256(path, hex) == LIRF_OK &&
             !strcmp(hex, rp_record_net(rec));
    char old[65];
    snprintf(old, sizeof old, "%s", rec ? rp_record_net(rec) : "");
    json_decref(rec);
    if (ok) return LIRF_OK;
    if (R->j->log)
        fprintf(R->j->log, "lirf reproduce: seed %d %s: %s; making it%s\n", seed, d->id,
                old[0] ? "its net is not in the output folder" : "not run yet",
                old[0] ? " again" : "");
    LIRF_TRY(run_and_keep(R, d, seed, ran));
    rec = NULL;
    LIRF_TRY(rp_record_load(R, d, seed, &rec));
    if (old[0] && rec && strcmp(old, rp_record_net(rec)) && R->j->log)
        fprintf(R->j->log, "lirf reproduce: note: seed %d %s made another net than its record's "
                "(another device or lirf); the steps that read it run again\n", seed, d->id);
    json_decref(rec);
    return LIRF_OK;
}

static lirf_status run_and_keep(rp_t *R, const lirf_step_def *d, int seed, int *ran) {
    const lirf_step_def *in[4];
    rp_step_inputs(d, in);
    for (int k = 0; in[k]; k++) LIRF_TRY(ensure_net(R, in[k], seed, ran));
    if (R->j->log) fprintf(R->j->log, "lirf reproduce: seed %d %s: %s\n", seed, d->id, d->what);
    json_t *rec = NULL;
    LIRF_TRY(rp_run_step(R, d, seed, &rec));
    lirf_status st = rp_record_save(R, d, seed, rec);
    if (st == LIRF_OK && R->j->log)
        fprintf(R->j->log, "lirf reproduce: seed %d %s done in %.0f s\n", seed, d->id,
                rp_num(rec, "seconds"));
    json_decref(rec);
    if (st == LIRF_OK) (*ran)++;
    return st;
}

/* The plan's steps still to run after item i, and their estimated seconds. */
static double left_after(const lirf_repro_plan *pl, int i, int *n) {
    double s = 0;
    *n = 0;
    for (int k = i + 1; k < pl->n; k++)
        if (!pl->item[k].done) s += pl->item[k].est_seconds, (*n)++;
    return s;
}

static lirf_status run_plan(rp_t *R, lirf_repro_plan *pl, int *ran) {
    double t_start = lirf_now();
    for (int i = 0; i < pl->n; i++) {
        lirf_plan_item *it = &pl->item[i];
        int done, nleft;
        LIRF_TRY(is_done(R, it->def, it->seed, &done)); /* an earlier step may have changed it */
        if (done && !it->remake) continue;
        double left = left_after(pl, i, &nleft);
        if (R->j->log)
            fprintf(R->j->log, "lirf reproduce: [%.0f min so far] next: seed %d %s (about %.0f "
                    "min); then %d more steps, about %.1f h\n", (lirf_now() - t_start) / 60,
                    it->seed, it->def->id, it->est_seconds / 60, nleft, left / 3600);
        if (R->j->max_steps > 0 && *ran >= R->j->max_steps) {
            if (R->j->log)
                fprintf(R->j->log, "lirf reproduce: stopping after %d steps (--max-steps); run "
                        "the same command again to go on\n", *ran);
            return LIRF_OK;
        }
        /* a net to make again (listed before the step that reads it) */
        if (it->remake) LIRF_TRY(ensure_net(R, it->def, it->seed, ran));
        else LIRF_TRY(run_and_keep(R, it->def, it->seed, ran));
    }
    return LIRF_OK;
}

static lirf_status write_results(const rp_t *R, lirf_repro_report *r) {
    snprintf(r->results_json, sizeof r->results_json, "%s/results.json", R->j->out_dir);
    snprintf(r->results_md, sizeof r->results_md, "%s",
             R->j->md_path ? R->j->md_path : "");
    if (!R->j->md_path) snprintf(r->results_md, sizeof r->results_md, "%s/results.md", R->j->out_dir);
    json_t *res = NULL;
    LIRF_TRY(lirf_repro_results(R->records, &res));
    lirf_status st = rp_write_json_atomic(res, r->results_json);
    if (st == LIRF_OK) st = lirf_repro_write_md(res, r->results_md, R->j->plots);
    json_decref(res);
    if (st == LIRF_OK && R->j->log)
        fprintf(R->j->log, "lirf reproduce: results in %s and %s\n", r->results_json,
                r->results_md);
    return st;
}

lirf_status lirf_repro_run(lirf_ctx *ctx, const lirf_repro_job *j, lirf_repro_report *r) {
    if (!j || !r || !j->out_dir || (!ctx && !j->report_only && !j->plan_only))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_repro_run: NULL argument");
    if (j->seeds < 1 || j->seeds > 64) return LIRF_FAIL(LIRF_E_INVALID, "--seeds: 1 to 64");
    memset(r, 0, sizeof *r);
    rp_t *R = calloc(1, sizeof *R);
    if (!R) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    double t = lirf_now();
    lirf_status st = rp_init(ctx, j, R);
    if (st == LIRF_OK) st = rp_mkdirs(j->out_dir);
    if (st == LIRF_OK) st = rp_mkdirs(R->records);
    if (st == LIRF_OK) st = make_plan(R, &r->plan);
    if (st == LIRF_OK && !j->report_only) rp_print_plan(R, &r->plan);
    if (st == LIRF_OK && !j->report_only && !j->plan_only) st = run_plan(R, &r->plan, &r->ran);
    if (st == LIRF_OK && !j->plan_only) st = write_results(R, r);
    r->seconds = lirf_now() - t;
    if (R->test_loaded || R->test.pixels) lirf_dataset_free(&R->test);
    free(R);
    return st;
}
