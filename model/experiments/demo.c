/* lirf demo as a library call: T0, the deposit (with tries), a calibrated
 * module, the four withdrawals, Table 1 and summary.json, all in one folder. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "experiments.h"

void lirf_demo_job_default(lirf_demo_job *j) {
    memset(j, 0, sizeof *j);
    j->out_dir = "lirf-demo";
    j->dep_text = "0,1,2";
    j->width = j->epochs = j->limit = j->dep_epochs = j->dep_batch = j->dep_limit = j->tries = -1;
    j->batch = 128;
    lirf_deposit_opts_default(&j->o);
    j->o.holdout = -1, j->o.keep_best = -1, j->o.holdout_every = -1;
}

typedef struct {
    char orig[1100], target[1100], arch[1100], arch_x[1100], arch_p[1100], arch_c[1100];
    char rec[1100], rec_x[1100], rec_p[1100], rec_c[1100];
    char md[1100], json[1100], sum[1100];
} demo_paths;

static void demo_paths_make(const char *out, demo_paths *p) {
    snprintf(p->orig, sizeof p->orig, "%s/original.safetensors", out);
    snprintf(p->target, sizeof p->target, "%s/target.safetensors", out);
    snprintf(p->arch, sizeof p->arch, "%s/deposit.lirf", out);
    snprintf(p->arch_x, sizeof p->arch_x, "%s/deposit-exact.lirf", out);
    snprintf(p->arch_p, sizeof p->arch_p, "%s/deposit-paper.lirf", out);
    snprintf(p->arch_c, sizeof p->arch_c, "%s/deposit-calibrated.lirf", out);
    snprintf(p->rec, sizeof p->rec, "%s/recover.safetensors", out);
    snprintf(p->rec_x, sizeof p->rec_x, "%s/recover-exact.safetensors", out);
    snprintf(p->rec_p, sizeof p->rec_p, "%s/recover-paper.safetensors", out);
    snprintf(p->rec_c, sizeof p->rec_c, "%s/recover-calibrated.safetensors", out);
    snprintf(p->md, sizeof p->md, "%s/table1.md", out);
    snprintf(p->json, sizeof p->json, "%s/table1.json", out);
    snprintf(p->sum, sizeof p->sum, "%s/summary.json", out);
}

/* The demo's defaults on the job's unset (-1) values. Forgetting is measured
 * on 5% of the deposit-class images held out, eight times an epoch, and the
 * nets of the lowest check kept (docs/results.md: the target's Dep Acc falls,
 * then rises again, and swings between checks); two tries on a CPU
 * (docs/results.md: one try ranged 10.4-18.6 over five runs), every try on
 * the held-out set of the first seed; without a held-out set there is nothing
 * to choose by. T0 on 20000 of the 60000 training images, the deposit on all
 * 18000 deposit-class images. */
static void resolve(const lirf_demo_job *j, const demo_paths *p, lirf_train_job *t,
                    lirf_deposit_job *d, int *tries) {
    int full = j->full;
    lirf_train_job_default(t);
    t->data = j->data, t->test_data = j->test_data, t->kind = j->kind;
    if (full && !j->data) {
        t->data = "../shared/data/cifar10/train.tar.gz";
        t->test_data = j->test_data ? j->test_data : "../shared/data/cifar10/test.tar.gz";
        t->kind = LIRF_DATA_IMAGEFOLDER;
    }
    t->out = p->orig, t->log = j->log;
    t->width = j->width > 0 ? j->width : full ? 64 : 16;
    t->image_size = j->image_size ? j->image_size : 32;
    t->limit = j->limit >= 0 ? j->limit : full ? 0 : 20000;
    t->o.epochs = j->epochs > 0 ? j->epochs : full ? 30 : 3;
    t->o.batch = j->batch, t->o.seed = j->o.seed, t->o.aug.pad = full ? 4 : 2;
    lirf_deposit_job_default(d);
    lirf_deposit_opts *o = &d->o;
    *o = j->o;
    o->mode = LIRF_DEPOSIT_DELTA; /* deposit.lirf; the other modes beside it */
    o->epochs = j->dep_epochs > 0 ? j->dep_epochs : full ? 20 : 5;
    if (o->holdout < 0) o->holdout = 0.05f;
    if (o->holdout_every < 0) o->holdout_every = o->holdout > 0 ? -8 : 0;
    if (o->keep_best < 0) o->keep_best = o->holdout > 0;
    if (o->holdout_seed < 0) o->holdout_seed = o->seed;
    o->batch = j->dep_batch > 0 ? j->dep_batch : j->batch;
    *tries = j->tries > 0 ? j->tries : full ? 1 : 2;
    if (o->holdout <= 0 || !o->keep_best) *tries = 1;
    d->model = p->orig, d->data = t->data, d->kind = t->kind, d->image_size = j->image_size;
    d->limit = j->dep_limit > 0 ? (size_t)j->dep_limit : 0;
    d->dep = j->dep, d->ndep = j->ndep, d->log = j->log;
    d->target_out = p->target, d->archive_out = p->arch;
    d->also_out[LIRF_DEPOSIT_EXACT] = p->arch_x, d->also_out[LIRF_DEPOSIT_PAPER] = p->arch_p;
}

static lirf_status demo_t0(lirf_ctx *ctx, const lirf_demo_job *j, const lirf_train_job *t,
                           lirf_demo_report *r) {
    if (!j->retrain && access(t->out, R_OK) == 0) {
        if (j->log)
            fprintf(j->log, "lirf demo: [1/5] reusing T0 %s (--retrain to train it again)\n", t->out);
        r->reused_t0 = 1;
        return LIRF_OK;
    }
    if (j->log)
        fprintf(j->log, "lirf demo: [1/5] training T0: ResNet-18 width %d, %d epochs\n", t->width,
                t->o.epochs);
    double t0 = lirf_now();
    LIRF_TRY(lirf_error_context(lirf_train_job_run(ctx, t, &r->t0), "training T0"));
    r->t_train = lirf_now() - t0;
    if (j->log)
        fprintf(j->log, "lirf demo: T0 trained in %.1f s; test accuracy %.2f%%; saved %s\n",
                r->t0.seconds, r->t0.test_accuracy, t->out);
    return LIRF_OK;
}

static lirf_status demo_withdraw(lirf_ctx *ctx, const demo_paths *p, json_t **wd) {
    LIRF_TRY(lirf_error_context(lirf_withdraw(ctx, p->target, p->arch, p->rec, &wd[0]),
                                "withdraw (delta)"));
    LIRF_TRY(lirf_error_context(lirf_withdraw(ctx, p->target, p->arch_x, p->rec_x, &wd[1]),
                                "withdraw (exact)"));
    LIRF_TRY(lirf_error_context(lirf_withdraw(ctx, p->target, p->arch_p, p->rec_p, &wd[2]),
                                "withdraw (paper)"));
    return lirf_error_context(lirf_withdraw(ctx, p->target, p->arch_c, p->rec_c, &wd[3]),
                              "withdraw (calibrated)");
}

/* LIRF-C for the kept target: the deposit job again, in calibrated mode,
 * from that target (no deposit training; the same D_r batches) */
static lirf_status demo_calibrate(lirf_ctx *ctx, const lirf_deposit_job *d, const demo_paths *p,
                                  lirf_demo_report *r) {
    lirf_deposit_job c = *d;
    c.o.mode = LIRF_DEPOSIT_CALIBRATED, c.from_target = p->target, c.archive_out = p->arch_c;
    memset(c.also_out, 0, sizeof c.also_out);
    c.state_path = NULL, c.resume = 0;
    c.o.seed = r->tries[r->kept].o.seed;
    return lirf_error_context(lirf_deposit_job_run(ctx, &c, &r->calib), "calibrating a module");
}

static int64_t file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

/* Table 1 of the six nets, into table1.md and table1.json. */
static lirf_status demo_table(lirf_ctx *ctx, const lirf_train_job *t, const lirf_deposit_job *d,
                              const demo_paths *p, lirf_demo_report *r) {
    lirf_table1_col_init(&r->cols[0], LIRF_COL_ORIGINAL, "Original", p->orig);
    lirf_table1_col_init(&r->cols[1], LIRF_COL_TARGET, "Deposit", p->target);
    lirf_table1_col_init(&r->cols[2], LIRF_COL_RECOVER, "Withdrawal (delta)", p->rec);
    lirf_table1_col_init(&r->cols[3], LIRF_COL_RECOVER, "Withdrawal (exact)", p->rec_x);
    lirf_table1_col_init(&r->cols[4], LIRF_COL_RECOVER, "Withdrawal (paper)", p->rec_p);
    lirf_table1_col_init(&r->cols[5], LIRF_COL_RECOVER, "Withdrawal (calibrated)", p->rec_c);
    r->cols[2].bytes = file_bytes(p->arch), r->cols[3].bytes = file_bytes(p->arch_x);
    r->cols[4].bytes = file_bytes(p->arch_p), r->cols[5].bytes = file_bytes(p->arch_c);
    lirf_table1_opts o = {.data = t->test_data ? t->test_data : t->data, .kind = t->kind,
                          .batch = 256, .dep = d->dep, .ndep = d->ndep, .agreement = 1};
    lirf_table1_col all[LIRF_DEMO_COLS + 1];
    int n = 0;
    LIRF_TRY(lirf_table1_eval(ctx, &o, r->cols, LIRF_DEMO_COLS, all, &n));
    FILE *md = fopen(p->md, "w"), *js = fopen(p->json, "w");
    lirf_status st = md && js ? LIRF_OK
                              : LIRF_FAIL(LIRF_E_IO, "cannot write %s: %s", md ? p->json : p->md,
                                          strerror(errno));
    if (!st) st = lirf_table1_write_md(md, all, n);
    if (!st) st = lirf_table1_write_json(js, r->cols, LIRF_DEMO_COLS);
    if (md && fclose(md) && !st) st = LIRF_FAIL(LIRF_E_IO, "cannot write %s", p->md);
    if (js && fclose(js) && !st) st = LIRF_FAIL(LIRF_E_IO, "cannot write %s", p->json);
    return st;
}

/* Where the demo left what: {"original": path, ...} */
static json_t *demo_artifacts(const demo_paths *p) {
    const char *k[] = {"original", "target", "deposit_archive", "exact_archive", "paper_archive",
                       "calibrated_archive", "recover", "recover_exact", "recover_paper",
                       "recover_calibrated", "table1_md", "table1_json", "summary"};
    const char *v[] = {p->orig, p->target, p->arch, p->arch_x, p->arch_p, p->arch_c, p->rec,
                       p->rec_x, p->rec_p, p->rec_c, p->md, p->json, p->sum};
    json_t *o = json_object();
    for (size_t i = 0; o && i < sizeof k / sizeof *k; i++)
        if (json_object_set_new(o, k[i], lirf_json_text(v[i]))) return json_decref(o), NULL;
    return o;
}

static json_t *demo_summary(lirf_ctx *ctx, const lirf_demo_job *j, const lirf_train_job *t,
                            const lirf_deposit_job *d, const demo_paths *p,
                            const lirf_demo_report *r, json_t **wd) {
    json_t *sum = json_object(), *runs = json_array(), *dep = json_array();
    if (!sum || !runs || !dep) return json_decref(sum), json_decref(runs), json_decref(dep), NULL;
    for (int k = 0; k < j->ndep; k++) json_array_append_new(dep, json_integer(j->dep[k]));
    json_object_set_new(sum, "out_dir", lirf_json_text(j->out_dir));
    json_object_set_new(sum, "deposit_classes", dep);
    json_object_set_new(sum, "artifacts", demo_artifacts(p));
    json_object_set_new(sum, "table1", lirf_table1_json(r->cols, LIRF_DEMO_COLS));
    json_object_set_new(sum, "t0", r->reused_t0 ? json_pack("{s:o,s:b}", "model", lirf_json_text(t->out), "reused", 1)
                                                : lirf_train_report_json(t, &r->t0));
    for (int k = 0; k < r->ntries; k++) {
        lirf_deposit_job dk = *d;
        if (k) dk.o.seed = d->o.seed + (uint32_t)k; /* the paths are the kept files' */
        json_array_append_new(runs, lirf_deposit_report_json(&dk, &r->tries[k]));
    }
    json_object_set(sum, "deposit", json_array_get(runs, (size_t)r->kept));
    json_object_set_new(sum, "deposit_tries", json_pack("{s:o,s:i}", "runs", runs, "kept", r->kept + 1));
    lirf_deposit_job dc = *d;
    dc.from_target = p->target, dc.archive_out = p->arch_c;
    json_object_set_new(sum, "calibration", lirf_deposit_report_json(&dc, &r->calib));
    json_object_set_new(sum, "withdraw", json_pack("[O,O,O,O]", wd[0], wd[1], wd[2], wd[3]));
    const lirf_device_info *di = lirf_ctx_device(ctx);
    json_object_set_new(sum, "device", json_pack("{s:s,s:s,s:s,s:s}", "name", di->name, "platform",
                                                 di->platform_name, "driver", di->driver,
                                                 "opencl_c", di->c_version));
    json_object_set_new(sum, "seconds", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "train_t0",
                                                  r->t_train, "deposit", r->t_deposit,
                                                  "calibrate", r->t_calibrate, "withdraw",
                                                  r->t_withdraw, "evaluate", r->t_eval, "total",
                                                  r->total));
    json_object_set_new(sum, "lirf_version", json_string(LIRF_VERSION));
    /* a key whose value could not be made (a path that is not UTF-8) is
     * missing: refuse the document rather than write a partial one */
    if (json_object_size(sum) != 12) return json_decref(sum), NULL; /* 12 keys above */
    return sum;
}

static lirf_status demo_steps(lirf_ctx *ctx, const lirf_demo_job *j, const demo_paths *p,
                              lirf_demo_report *r, json_t **wd) {
    double t_start = lirf_now();
    lirf_train_job t;
    lirf_deposit_job d;
    resolve(j, p, &t, &d, &r->ntries);
    LIRF_TRY(demo_t0(ctx, j, &t, r));
    if (j->log)
        fprintf(j->log, "lirf demo: [2/5] deposit of classes %s (%d epochs)%s\n", j->dep_text,
                d.o.epochs, r->ntries > 1 ? ", the best of several tries" : "");
    double t0 = lirf_now();
    LIRF_TRY(lirf_deposit_tries(ctx, &d, r->ntries, r->tries, &r->kept));
    r->t_deposit = lirf_now() - t0;
    if (j->log)
        fprintf(j->log, "lirf demo: [3/5] a calibrated module (LIRF-C) for that target\n");
    t0 = lirf_now();
    LIRF_TRY(demo_calibrate(ctx, &d, p, r));
    r->t_calibrate = lirf_now() - t0;
    if (j->log) fprintf(j->log, "lirf demo: [4/5] withdraw (no data, no training)\n");
    t0 = lirf_now();
    LIRF_TRY(demo_withdraw(ctx, p, wd));
    r->t_withdraw = lirf_now() - t0;
    if (j->log) fprintf(j->log, "lirf demo: [5/5] evaluating on the test split\n");
    t0 = lirf_now();
    LIRF_TRY(demo_table(ctx, &t, &d, p, r));
    r->t_eval = lirf_now() - t0;
    r->total = lirf_now() - t_start;
    json_t *sum = demo_summary(ctx, j, &t, &d, p, r, wd);
    if (!sum)
        return LIRF_FAIL(LIRF_E_NOMEM, "cannot make %s (out of memory, or a path that is not "
                                       "UTF-8)", p->sum);
    lirf_status st = json_dump_file(sum, p->sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0
                         ? LIRF_OK
                         : LIRF_FAIL(LIRF_E_IO, "cannot write %s", p->sum);
    if (!st && j->summary) *j->summary = sum;
    else json_decref(sum);
    return st;
}

lirf_status lirf_demo_run(lirf_ctx *ctx, const lirf_demo_job *j, lirf_demo_report *r) {
    if (!ctx || !j || !r || !j->out_dir || !j->dep)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_demo_run: NULL argument");
    memset(r, 0, sizeof *r);
    if (j->summary) *j->summary = NULL;
    if (mkdir(j->out_dir, 0755) != 0 && errno != EEXIST)
        return LIRF_FAIL(LIRF_E_IO, "cannot create %s: %s", j->out_dir, strerror(errno));
    demo_paths p;
    demo_paths_make(j->out_dir, &p);
    json_t *wd[4] = {NULL, NULL, NULL, NULL};
    lirf_status st = demo_steps(ctx, j, &p, r, wd);
    for (int k = 0; k < 4; k++) json_decref(wd[k]);
    return st;
}
