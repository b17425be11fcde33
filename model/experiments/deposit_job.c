/* lirf deposit as a library call: T0 and the deposit classes' samples in, the
 * target net and the deposit archive(s) out, with the hold-out split and
 * keep-best of the protocol (protocol.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fileutil.h"
#include "experiments.h"

void lirf_deposit_job_default(lirf_deposit_job *j) {
    memset(j, 0, sizeof *j);
    lirf_deposit_opts_default(&j->o);
    j->o.mode = LIRF_DEPOSIT_DELTA; /* lirf deposit's default: a withdrawal that gives T0 back */
    j->target_out = "target.safetensors";
    j->archive_out = "deposit.lirf";
    j->compression = LIRF_ARCHIVE_PLAIN;
}

typedef struct {
    lirf_net *t0;
    lirf_model_meta meta;
    lirf_dataset ds;
    lirf_loader *ld, *hold;
    int32_t *perm;
    lirf_lirf *l;
    const int32_t *dep;           /* the deposit classes: j's, or the listed samples' */
    int ndep;
    lirf_sample_list list;        /* a sample-level deposit's list */
} deposit_run;

static void deposit_run_free(deposit_run *d) {
    lirf_lirf_destroy(d->l);
    lirf_loader_destroy(d->ld);
    lirf_loader_destroy(d->hold);
    free(d->perm);
    lirf_dataset_free(&d->ds);
    lirf_sample_list_free(&d->list);
    lirf_net_destroy(d->t0);
    lirf_model_meta_free(&d->meta);
}

/* The training batches (perm[nhold..n) when there is a hold-out, else all
 * samples) and the held-out ones (perm[0..nhold), in order; none without). */
static lirf_status make_loaders(lirf_ctx *ctx, deposit_run *d, const lirf_deposit_opts *o,
                                size_t nhold) {
    lirf_loader_opts lo = {.data = &d->ds, .batch = o->batch, .shuffle = 1, .drop_last = 0,
                           .seed = o->seed};
    if (nhold) lo.index = d->perm + nhold, lo.count = (size_t)d->ds.n - nhold;
    memcpy(lo.mean, d->meta.mean, sizeof lo.mean);
    memcpy(lo.std, d->meta.std, sizeof lo.std);
    LIRF_TRY(lirf_error_context(lirf_loader_create(ctx, &lo, &d->ld), "preparing batches"));
    if (!nhold) return LIRF_OK;
    lirf_loader_opts ho = lo;
    ho.index = d->perm, ho.count = nhold, ho.shuffle = 0;
    return lirf_error_context(lirf_loader_create(ctx, &ho, &d->hold),
                              "preparing the held-out batches");
}

/* D_r: the deposit classes' training samples (only those are read), or the
 * listed ones of a sample-level deposit, whose classes are printed. */
static lirf_status load_d_r(const lirf_deposit_job *j, deposit_run *d, lirf_deposit_report *r) {
    int size = j->image_size ? j->image_size : d->meta.cfg.in_h;
    d->dep = j->dep, d->ndep = j->ndep;
    if (!j->deposit_samples)
        return lirf_load_split(j->data, j->kind, 1, size, j->dep, j->ndep, j->limit, &d->ds);
    LIRF_TRY(lirf_load_sample_deposit(j->data, j->kind, size, j->deposit_samples, &d->list, &d->ds,
                                      r->sample_classes, &r->nsample_classes));
    d->dep = r->sample_classes, d->ndep = r->nsample_classes;
    r->deposit_samples = d->list.n;
    memcpy(r->deposit_samples_sha256, d->list.sha256, sizeof r->deposit_samples_sha256);
    if (j->log) {
        fprintf(j->log, "lirf: %zu deposit samples from %s (SHA-256 %s), of classes", d->list.n,
                j->deposit_samples, d->list.sha256);
        for (int k = 0; k < d->ndep; k++) fprintf(j->log, "%s%d", k ? "," : " ", (int)d->dep[k]);
        fprintf(j->log, ": the deposit classes\n");
    }
    return LIRF_OK;
}

/* T0, D_r, the deposit's nets and its loaders. */
static lirf_status prepare(lirf_ctx *ctx, const lirf_deposit_job *j, deposit_run *d,
                           lirf_deposit_report *r) {
    const lirf_deposit_opts *o = &r->o;
    LIRF_TRY(lirf_error_context(lirf_load_t0(ctx, j->model, j->allow_kind, j->log, &d->meta, &d->t0),
                                "loading T0"));
    LIRF_TRY(lirf_split_resolve(d->meta.cfg.arch, &r->o));
    LIRF_TRY(load_d_r(j, d, r));
    LIRF_TRY(lirf_data_fits(&d->ds, &d->meta, "T0"));
    LIRF_TRY(lirf_error_context(lirf_lirf_create(ctx, d->t0, &d->meta, o->split, d->dep, d->ndep,
                                                 o->prune_rate, &d->l),
                                "preparing the deposit"));
    LIRF_TRY(lirf_lirf_chain(d->l, j->model)); /* a second deposit: its predecessor */
    /* the hold-out: a seeded share of the samples, never trained on */
    size_t nhold = 0;
    LIRF_TRY(lirf_error_context(lirf_holdout_split(d->ds.n, o, &d->perm, &nhold), "--holdout"));
    LIRF_TRY(make_loaders(ctx, d, o, nhold));
    r->holdout_images = nhold;
    r->train_images = (size_t)d->ds.n - nhold;
    r->steps_per_epoch = lirf_loader_batches(d->ld);
    r->o.holdout_every = lirf_holdout_every_steps(o->holdout_every, r->steps_per_epoch);
    r->whole_params = lirf_net_nparams(d->l->t0_lower) + lirf_net_nparams(d->l->upper);
    r->lower_params = lirf_net_nparams(d->l->t0_lower);
    r->deposit_params =
        lirf_net_nparams(o->mode == LIRF_DEPOSIT_PAPER ? d->l->deposit : d->l->t0_lower);
    return LIRF_OK;
}

/* --from-target: the target's kind, deposit classes, split and upper part
 * must be those of this deposit from T0 */
static lirf_status target_fits(const lirf_deposit_job *j, deposit_run *d, const lirf_safetensors *st,
                               const lirf_model_meta *tm) {
    const char *kind = lirf_st_meta(st, "lirf_kind"), *dc = lirf_st_meta(st, "deposit_classes");
    lirf_lirf *l = d->l;
    int want[LIRF_MAX_CLASSES] = {0}, got[LIRF_MAX_CLASSES] = {0}, n = 0;
    int32_t cls[LIRF_MAX_CLASSES];
    for (int k = 0; k < d->ndep; k++) want[d->dep[k]] = 1;
    int ok = dc && lirf_deposit_classes_parse(dc, cls, &n, l->K, j->from_target) == LIRF_OK;
    for (int k = 0; ok && k < n; k++) got[cls[k]] = 1;
    if (!kind || strcmp(kind, "target"))
        return LIRF_FAIL(LIRF_E_INVALID, "%s is not a target net (lirf_kind %s)", j->from_target,
                         kind ? kind : "absent");
    if (tm->cfg.arch != l->meta.cfg.arch || tm->cfg.width != l->meta.cfg.width ||
        tm->cfg.classes != l->K || lirf_stage_parse(tm->cfg.arch, tm->split) != l->split)
        return LIRF_FAIL(LIRF_E_INVALID, "%s is not a target of %s at this split (%s)",
                         j->from_target, j->model, tm->split);
    if (!ok || memcmp(want, got, (size_t)l->K * sizeof *got))
        return LIRF_FAIL(LIRF_E_INVALID, "%s deposited classes %s, not the ones given",
                         j->from_target, dc ? dc : "(none)");
    return LIRF_OK;
}

/* --from-target: its lower part into l->target_lower, once its upper part
 * is shown to be T0's */
static lirf_status load_from_target(lirf_ctx *ctx, const lirf_deposit_job *j, deposit_run *d) {
    lirf_safetensors st = {0};
    lirf_model_meta tm = {0};
    lirf_net *lower = NULL, *upper = NULL;
    int last = lirf_arch_stages(d->meta.cfg.arch) - 1;
    char f0[65], f1[65];
    lirf_status s = lirf_checkpoint_open(j->from_target, &st, &tm);
    if (!s) s = target_fits(j, d, &st, &tm);
    if (!s) s = lirf_checkpoint_make_net(ctx, &st, j->from_target, &tm, "", 0, d->l->split, &lower);
    if (!s) s = lirf_checkpoint_make_net(ctx, &st, j->from_target, &tm, "", d->l->split + 1, last,
                                         &upper);
    if (!s) s = lirf_upper_fingerprint(upper, f1);
    if (!s) s = lirf_upper_fingerprint(d->l->upper, f0);
    if (!s && strcmp(f0, f1))
        s = LIRF_FAIL(LIRF_E_INVALID, "%s was not made from %s: its upper part differs (%.16s... "
                                      "against %.16s...)", j->from_target, j->model, f1, f0);
    if (!s) s = lirf_net_copy(d->l->target_lower, lower, NULL);
    lirf_net_destroy(lower), lirf_net_destroy(upper);
    lirf_model_meta_free(&tm);
    lirf_st_free(&st);
    return lirf_error_context(s, "--from-target");
}

/* The archives of the other modes beside the deposit's own, when asked
 * (before a calibration remakes the module). */
static lirf_status save_other_archives(const lirf_deposit_job *j, lirf_lirf *l,
                                       const lirf_deposit_opts *o, const json_t *run) {
    for (int m = 0; m < 3; m++) {
        if (!j->also_out[m] || m == (int)o->mode) continue;
        lirf_deposit_opts eo = *o;
        eo.mode = (lirf_deposit_mode)m;
        LIRF_TRY(lirf_error_context(lirf_save_deposit_sealed(l, j->also_out[m], &eo,
                                                             j->compression, run, j->seal),
                                    "writing the %s-mode deposit archive",
                                    lirf_deposit_mode_name(eo.mode)));
    }
    return LIRF_OK;
}

/* calibrated mode: the second phase, on the same D_r batches */
static lirf_status calibrate(const lirf_deposit_job *j, deposit_run *d, lirf_deposit_report *r) {
    if (j->log)
        fprintf(j->log, "lirf: calibrating a module (LIRF-C) against the target: %d epochs, "
                        "KD at T %g over all columns, CE %g, feature MSE %g, %g mixups a sample\n",
                r->o.calib.epochs, (double)r->o.calib.T, (double)r->o.calib.lambda_ce,
                (double)r->o.calib.lambda_mse, (double)r->o.calib.mix);
    LIRF_TRY(lirf_error_context(lirf_calibrate_train(d->l, d->ld, &r->o, !j->log, &r->calib_rate,
                                                     &r->calib),
                                "calibrating the module"));
    r->deposit_params = lirf_net_nparams(d->l->deposit);
    if (j->log)
        fprintf(j->log, "lirf: calibrated module: prune rate %.2f, %zu of the lower part's %zu "
                        "parameters, in %.1f s\n",
                (double)r->calib_rate, r->deposit_params, lirf_net_nparams(d->l->t0_lower),
                r->calib.seconds);
    return LIRF_OK;
}

static double kept_holdout(const lirf_deposit_result *res) {
    return res->kept_step < 0 ? HUGE_VAL : res->kept_dep;
}

static lirf_status train_and_save(lirf_ctx *ctx, const lirf_deposit_job *j, deposit_run *d,
                                  lirf_deposit_report *r) {
    const lirf_deposit_opts *o = &r->o;
    lirf_deposit_io io = {.state_path = j->state_path, .resume = j->resume,
                          .save_every = j->save_every, .holdout = d->hold,
                          .samples_sha256 = j->deposit_samples ? d->list.sha256 : NULL};
    if (j->log && j->from_target)
        fprintf(j->log, "lirf: no deposit training: the target is %s; a calibrated module for it "
                        "from %s, on %zu deposit-class images\n",
                j->from_target, j->model, r->train_images);
    else if (j->log)
        fprintf(j->log, "lirf: deposit of classes %d%s from %s: %zu training images, %d epochs; "
                        "a %s-mode archive of %zu values (%s) beside %zu parameters in the "
                        "whole network\n",
                d->dep[0], d->ndep > 1 ? ",..." : "", j->model, r->train_images, o->epochs,
                lirf_deposit_mode_name(o->mode), r->deposit_params,
                o->mode == LIRF_DEPOSIT_PAPER        ? "the pruned module"
                : o->mode == LIRF_DEPOSIT_CALIBRATED ? "the pruned module, calibrated after"
                : o->mode == LIRF_DEPOSIT_EXACT ? "T0's lower part"
                                                : "the lower part's delta",
                r->whole_params);
    if (j->from_target) {
        LIRF_TRY(load_from_target(ctx, j, d));
    } else {
        LIRF_TRY(lirf_error_context(lirf_deposit_train_io(d->l, d->ld, o, &io, !j->log, &r->res),
                                    "deposit training"));
        r->kept_holdout = kept_holdout(&r->res);
        LIRF_TRY(lirf_error_context(lirf_save_target(d->l, j->target_out, o),
                                    "saving the target net"));
        if (j->deposit_samples) LIRF_TRY(lirf_mark_sample_deposit(j->target_out, &d->list));
    }
    json_t *run = lirf_deposit_run_json(j, r);
    if (!run) return LIRF_FAIL(LIRF_E_NOMEM, "out of memory (the deposit's run record)");
    lirf_status st = save_other_archives(j, d->l, o, run);
    if (!st && o->mode == LIRF_DEPOSIT_CALIBRATED) {
        json_decref(run);
        st = calibrate(j, d, r);
        run = st ? NULL : lirf_deposit_run_json(j, r);
        if (!st && !run) st = LIRF_FAIL(LIRF_E_NOMEM, "out of memory (the deposit's run record)");
    }
    if (!st)
        st = lirf_error_context(lirf_save_deposit_sealed(d->l, j->archive_out, o, j->compression,
                                                         run, j->seal),
                                "writing the deposit archive");
    json_decref(run);
    if (!st && j->log)
        fprintf(j->log, "lirf: deposit done in %.1f s; target %s, archive %s\n",
                r->res.seconds + r->calib.seconds, j->from_target ? j->from_target : j->target_out,
                j->archive_out);
    return st;
}

lirf_status lirf_deposit_job_run(lirf_ctx *ctx, const lirf_deposit_job *j, lirf_deposit_report *r) {
    if (!ctx || !j || !r || !j->model || (!j->dep && !j->deposit_samples))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_deposit_job_run: NULL argument");
    if (j->deposit_samples && (j->dep || j->limit))
        return LIRF_FAIL(LIRF_E_INVALID, "--deposit-samples takes neither --deposit-classes (the "
                                         "classes are the listed samples') nor --limit");
    memset(r, 0, sizeof *r);
    r->o = j->o;
    r->kept_holdout = HUGE_VAL;
    if (j->o.keep_best && j->o.holdout <= 0)
        return LIRF_FAIL(LIRF_E_INVALID, "--keep best needs held-out samples (--holdout F)");
    if (j->from_target && j->o.mode != LIRF_DEPOSIT_CALIBRATED)
        return LIRF_FAIL(LIRF_E_INVALID, "--from-target needs --mode calibrated (only a calibrated "
                                         "module is made for a target that exists)");
    if (j->from_target && j->resume)
        return LIRF_FAIL(LIRF_E_INVALID, "--from-target does no deposit training: nothing to "
                                         "resume or save a state of");
    if (j->o.mode == LIRF_DEPOSIT_CALIBRATED && j->also_out[LIRF_DEPOSIT_PAPER] && j->from_target)
        return LIRF_FAIL(LIRF_E_INVALID, "--from-target has no paper-mode module to write");
    /* before any training: where the results go */
    LIRF_TRY(lirf_out_dir_ok(j->target_out, "the target net"));
    LIRF_TRY(lirf_out_dir_ok(j->archive_out, "the deposit archive"));
    for (int m = 0; m < 3; m++)
        if (j->also_out[m]) LIRF_TRY(lirf_out_dir_ok(j->also_out[m], "a deposit archive"));
    deposit_run d = {0};
    lirf_status st = prepare(ctx, j, &d, r);
    if (!st) st = train_and_save(ctx, j, &d, r);
    deposit_run_free(&d);
    return st;
}

/* A sample-level deposit's list: file, count, sha256, classes. */
static json_t *samples_json(const lirf_deposit_job *j, const lirf_deposit_report *r) {
    json_t *cls = json_array();
    for (int k = 0; cls && k < r->nsample_classes; k++)
        json_array_append_new(cls, json_integer(r->sample_classes[k]));
    return json_pack("{s:o,s:I,s:s,s:o}", "file", lirf_json_text(j->deposit_samples), "count",
                     (json_int_t)r->deposit_samples, "sha256", r->deposit_samples_sha256,
                     "classes", cls);
}

/* calibrated mode's second phase */
static json_t *calib_json(const lirf_deposit_report *r) {
    const lirf_deposit_result *c = &r->calib;
    return json_pack("{s:f,s:I,s:I,s:f,s:f,s:I,s:{s:f,s:f,s:f,s:f}}", "prune_rate",
                     lirf_tidy(r->calib_rate), "module_parameters", (json_int_t)r->deposit_params,
                     "lower_parameters", (json_int_t)r->lower_params,
                     "seconds", c->seconds, "images_per_s", c->images_per_s, "steps",
                     (json_int_t)c->steps, "last_losses", "L", c->last[0], "KD", c->last[1], "CE",
                     c->last[2], "MSE", c->last[3]);
}

json_t *lirf_deposit_run_json(const lirf_deposit_job *j, const lirf_deposit_report *r) {
    const lirf_deposit_result *res = &r->res;
    json_t *run = json_pack("{s:o,s:f,s:f,s:I}", "t0", lirf_json_text(j->model), "seconds", res->seconds,
                            "images_per_s", res->images_per_s, "deposit_images",
                            (json_int_t)r->train_images);
    if (run && j->deposit_samples) json_object_set_new(run, "deposit_samples", samples_json(j, r));
    if (run && j->from_target) json_object_set_new(run, "from_target", lirf_json_text(j->from_target));
    if (run && r->calib.steps)
        json_object_set_new(run, "calibration", calib_json(r));
    if (!run || !r->holdout_images) return run;
    json_t *h = json_array();
    for (int i = 0; h && i < res->nlogged; i++)
        json_array_append_new(h, json_pack("{s:I,s:f}", "step", (json_int_t)res->holdout_step[i],
                                           "dep_acc", res->holdout_dep[i]));
    json_object_set_new(run, "holdout_images", json_integer((json_int_t)r->holdout_images));
    json_object_set_new(run, "steps_per_epoch", json_integer((json_int_t)r->steps_per_epoch));
    json_object_set_new(run, "holdout_dep_acc", h ? h : json_null());
    json_object_set_new(run, "kept_step",
                        res->kept_step >= 0 ? json_integer(res->kept_step) : json_null());
    return run;
}

/* The archive's size as written (0 when it is not there). */
static int64_t file_bytes(const char *path) {
    struct stat sb;
    return path && stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

json_t *lirf_deposit_report_json(const lirf_deposit_job *j, const lirf_deposit_report *r) {
    const lirf_deposit_result *res = &r->res;
    json_t *run = lirf_deposit_run_json(j, r);
    if (!run) return NULL;
    json_t *s = json_pack("{s:o,s:o,s:o,s:f,s:f,s:I,s:I,s:I,s:{s:f,s:f,s:f,s:f,s:f,s:f}}",
                          "target", lirf_json_text(j->from_target ? j->from_target : j->target_out), "archive", lirf_json_text(j->archive_out), "run", run,
                          "seconds", res->seconds, "images_per_s", res->images_per_s,
                          "deposit_parameters", (json_int_t)r->deposit_params, "deposit_bytes",
                          (json_int_t)file_bytes(j->archive_out), "whole_parameters",
                          (json_int_t)r->whole_params, "last_losses", "L_all", res->last[0],
                          "CE_random", res->last[1], "L_at", res->last[2], "L_kp", res->last[3],
                          "L_pt", res->last[4], "L_re", res->last[5]);
    if (s) json_object_set_new(s, "options", lirf_deposit_opts_json(&r->o));
    return s;
}
