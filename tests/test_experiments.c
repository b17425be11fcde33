/* The experiments behind the commands (model/experiments/), called from C
 * with no CLI, on a tiny IDX data set (12x12, 10 classes) written here:
 * (levels 1: classes told apart by brightness, which survives augmentation)
 *  - lirf train's job: the checkpoint, the report's counts and accuracy,
 *    --max-steps stopping before the evaluation, its JSON;
 *  - lirf deposit's job: the hold-out split (sizes, the kept check is the
 *    lowest held-out score), keep-best without a hold-out refused and an
 *    unwritable folder refused before any training, nothing written then;
 *    a T0 that is not an original net refused unless --allow-kind names its
 *    kind; withdraw refusing an archive on another deposit's target; lirf
 *    eval's fifth --recover refused (through the lirf command);
 *  - the demo's deposit tries: the kept try has the lowest held-out Dep Acc,
 *    its seed is in the archive, no try file is left, refusals;
 *  - Table 1 of files: every column's arithmetic against the protocol, the
 *    Independent column, a lone independent net refused;
 *  - the demo itself: every artifact and summary.json. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments.h"
#include "util.h"

static char g_dir[256];
static const int32_t g_dep[2] = {0, 1};

static const char *tpath(const char *name) {
    static char b[8][400];
    static int k;
    char *p = b[k++ % 8];
    snprintf(p, 400, "%s/%s", g_dir, name);
    return p;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

/* T0: ResNet-18 width 4 on the tiny set, once for the whole suite. */
static void train_t0(const char *out, long max_steps, lirf_train_report *r) {
    lirf_train_job j;
    lirf_train_job_default(&j);
    j.data = g_dir, j.out = out, j.width = 4, j.o.epochs = 4, j.o.batch = 16;
    j.o.max_steps = max_steps;
    lirf_status st = lirf_train_job_run(tctx(), &j, r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
}

START_TEST(train_job_writes_and_evaluates) {
    lirf_train_report r;
    train_t0(tpath("t0.safetensors"), 0, &r);
    ck_assert(exists(tpath("t0.safetensors")));
    ck_assert_int_eq(r.stopped, 0);
    ck_assert_int_eq(r.classes, 10);
    ck_assert_uint_eq(r.steps, 4 * (96 / 16));
    int64_t c = 0, n = 0;
    for (int k = 0; k < 10; k++) c += r.counts[2 * k], n += r.counts[2 * k + 1];
    ck_assert_int_eq(n, 40);
    ck_assert_int_eq(n, r.total);
    ck_assert_int_eq(c, r.correct);
    ck_assert(fabs(r.test_accuracy - 100.0 * (double)c / 40) < 1e-9);
    lirf_train_job j;
    lirf_train_job_default(&j);
    j.out = "x.safetensors";
    json_t *js = lirf_train_report_json(&j, &r);
    ck_assert_ptr_nonnull(js);
    ck_assert_int_eq(json_array_size(json_object_get(js, "per_class")), 10);
    ck_assert_int_eq(json_integer_value(json_object_get(js, "parameters")), (json_int_t)r.params);
    json_decref(js);
    /* --max-steps: the state is saved, nothing is evaluated */
    train_t0(tpath("t0-stopped.safetensors"), 3, &r);
    ck_assert_int_eq(r.stopped, 1);
    ck_assert_uint_eq(r.steps, 3);
    ck_assert_int_eq(r.total, 0);
    ck_assert(exists(tpath("t0-stopped.safetensors.state.safetensors")));
}
END_TEST

static void deposit_job(lirf_deposit_job *j, const char *tag) {
    static char t[400], a[400];
    lirf_deposit_job_default(j);
    snprintf(t, sizeof t, "%s/%s-target.safetensors", g_dir, tag);
    snprintf(a, sizeof a, "%s/%s-deposit.lirf", g_dir, tag);
    j->model = tpath("t0.safetensors"), j->data = g_dir, j->dep = g_dep, j->ndep = 2;
    j->target_out = t, j->archive_out = a;
    j->o.epochs = 2, j->o.batch = 4, j->o.holdout = 0.25f, j->o.keep_best = 1;
    j->o.holdout_every = -2;
}

START_TEST(deposit_job_holds_out_and_keeps_the_best) {
    lirf_deposit_job j;
    lirf_deposit_report r;
    deposit_job(&j, "d");
    lirf_status st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    /* classes 0 and 1 of 96 images: 20 samples, a quarter held out */
    ck_assert_uint_eq(r.holdout_images, 5);
    ck_assert_uint_eq(r.train_images, 15);
    ck_assert_uint_eq(r.steps_per_epoch, 4);
    ck_assert_int_eq(r.o.holdout_every, 2); /* two checks an epoch: every 2 steps */
    ck_assert_int_ge(r.res.nlogged, 3);
    double lo = HUGE_VAL;
    for (int i = 0; i < r.res.nlogged; i++) lo = fmin(lo, r.res.holdout_dep[i]);
    ck_assert(r.res.kept_step >= 0);
    ck_assert_msg(r.kept_holdout == lo, "kept %g, lowest %g", r.kept_holdout, lo);
    ck_assert(exists(j.target_out) && exists(j.archive_out));
    json_t *js = lirf_deposit_report_json(&j, &r);
    ck_assert_ptr_nonnull(js);
    json_t *run = json_object_get(js, "run");
    ck_assert_int_eq(json_integer_value(json_object_get(run, "holdout_images")), 5);
    ck_assert_int_eq(json_integer_value(json_object_get(run, "kept_step")), r.res.kept_step);
    json_decref(js);
}
END_TEST

START_TEST(deposit_job_refusals_write_nothing) {
    lirf_deposit_job j;
    lirf_deposit_report r;
    deposit_job(&j, "refused");
    j.o.holdout = 0; /* keep-best with nothing held out */
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "--holdout"));
    deposit_job(&j, "refused");
    j.archive_out = "/nonexistent-folder-xyz/deposit.lirf";
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_IO);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "nonexistent-folder-xyz"));
    ck_assert(!exists(tpath("refused-target.safetensors")));
}
END_TEST

/* Runs `lirf ARGS` (stderr with stdout) into out; its exit status. */
static int run_lirf(const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tlirf_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, cap - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* lirf deposit takes an original net as T0: a target net (d's) is refused,
 * naming its kind and --allow-kind, with nothing written; --allow-kind of
 * another kind does not let it through; --allow-kind target does (a second
 * deposit). That second deposit shares T0's upper part with d's, yet
 * lirf withdraw refuses d's archive on its target, naming both files; a
 * recover net from lirf withdraw is refused as T0 by the command too. */
START_TEST(deposit_takes_an_original_t0) {
    lirf_deposit_job j;
    lirf_deposit_report r;
    deposit_job(&j, "second");
    j.model = tpath("d-target.safetensors");
    j.o.holdout = 0, j.o.keep_best = 0, j.o.epochs = 1;
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_INVALID);
    const char *msg = lirf_error_message();
    ck_assert_msg(strstr(msg, "d-target.safetensors") && strstr(msg, "lirf_kind \"target\"") &&
                  strstr(msg, "--allow-kind target"), "%s", msg);
    ck_assert(!exists(j.target_out) && !exists(j.archive_out));
    j.allow_kind = "recover";
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_INVALID);
    ck_assert(!exists(j.target_out) && !exists(j.archive_out));
    j.allow_kind = "target";
    lirf_status st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(exists(j.target_out) && exists(j.archive_out));

    static char out[8192];
    char args[3000], rec[400];
    snprintf(rec, sizeof rec, "%s", tpath("d-recover.safetensors"));
    snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s", j.target_out,
             tpath("d-deposit.lirf"), rec);
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "second-target.safetensors") && strstr(out, "d-deposit.lirf") &&
                  strstr(out, "hashes to"), "%s", out);
    ck_assert(!exists(rec));
    snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s",
             tpath("d-target.safetensors"), tpath("d-deposit.lirf"), rec);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert(exists(rec));
    snprintf(args, sizeof args,
             "deposit --model %s --deposit-classes 0,1 --data %s --epochs 1 --batch 4 "
             "--target %s --archive %s --quiet", rec, g_dir, tpath("third-target.safetensors"),
             tpath("third.lirf"));
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "d-recover.safetensors") && strstr(out, "lirf_kind \"recover\"") &&
                  strstr(out, "--allow-kind recover"), "%s", out);
    ck_assert(!exists(tpath("third-target.safetensors")) && !exists(tpath("third.lirf")));
    ck_assert_int_eq(run_lirf("deposit --help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--allow-kind KIND"));
    /* the unlearning baselines take T0 the same way */
    snprintf(args, sizeof args,
             "unlearn --method finetune --model %s --deposit-classes 0,1 --data %s --epochs 1 "
             "--batch 4 --target %s --quiet", j.target_out, g_dir, tpath("u-target.safetensors"));
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "lirf_kind \"target\"") && strstr(out, "--allow-kind target"), "%s",
                  out);
    ck_assert(!exists(tpath("u-target.safetensors")));
    snprintf(args + strlen(args), sizeof args - strlen(args), " --allow-kind target");
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert(exists(tpath("u-target.safetensors")));
}
END_TEST

/* lirf eval takes up to four --recover nets (Table 1 with four Withdrawal
 * columns), and refuses a fifth with a message, never dropping it. */
START_TEST(eval_refuses_a_fifth_recover) {
    static char out[16384];
    char args[3000], rec[400];
    snprintf(rec, sizeof rec, "%s", tpath("d-recover.safetensors"));
    ck_assert(exists(rec));
    int k = snprintf(args, sizeof args, "eval --deposit-classes 0,1 --data %s --original %s",
                     g_dir, tpath("t0.safetensors"));
    for (int r = 0; r < 4; r++)
        k += snprintf(args + k, sizeof args - (size_t)k, " --recover R%d=%s", r + 1, rec);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "R1") && strstr(out, "R4"), "%s", out);
    snprintf(args + k, sizeof args - (size_t)k, " --recover R5=%s", rec);
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "at most 4 --recover") && strstr(out, "R5=") &&
                  !strstr(out, "R1"), "%s", out);
}
END_TEST

START_TEST(tries_keep_the_lowest_held_out_dep_acc) {
    lirf_deposit_job j;
    deposit_job(&j, "tries");
    j.o.seed = 5;
    /* ten held-out samples, a check every step: on PoCL the tries' lowest
     * scores differ (50, 40, 50: the second try is kept) */
    j.o.holdout = 0.5f, j.o.epochs = 4, j.o.batch = 5, j.o.holdout_every = 1, j.o.lr = 0.1f;
    lirf_deposit_report r[3];
    int kept = -1;
    lirf_status st = lirf_deposit_tries(tctx(), &j, 3, r, &kept);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    int want = 0;
    for (int k = 1; k < 3; k++)
        if (r[k].kept_holdout < r[want].kept_holdout) want = k;
    ck_assert_int_eq(kept, want);
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(r[k].o.seed, 5 + k);
        ck_assert_int_eq(r[k].o.holdout_seed, 5); /* one held-out set for every try */
    }
    /* the winner's files at j's paths, no try file left */
    json_t *m = NULL;
    void *dep = NULL;
    size_t len = 0;
    ck_assert_msg(lirf_archive_read(j.archive_out, &m, &dep, &len) == LIRF_OK, "%s",
                  lirf_error_message());
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(m, "hyperparameters"), "seed")),
                     5 + kept);
    json_decref(m);
    free(dep);
    for (int k = 2; k <= 3; k++) {
        char p[64];
        snprintf(p, sizeof p, "try%d-tries-target.safetensors", k);
        ck_assert_msg(!exists(tpath(p)), "%s left behind", p);
        snprintf(p, sizeof p, "try%d-tries-deposit.lirf", k);
        ck_assert_msg(!exists(tpath(p)), "%s left behind", p);
    }
    /* several tries need something to judge them by */
    j.o.keep_best = 0;
    ck_assert_int_eq(lirf_deposit_tries(tctx(), &j, 2, r, &kept), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_deposit_tries(tctx(), &j, 0, r, &kept), LIRF_E_INVALID);
}
END_TEST

START_TEST(table1_of_files) {
    lirf_table1_opts o = {.data = g_dir, .batch = 16, .dep = g_dep, .ndep = 2};
    lirf_table1_col cols[2], out[3];
    int n = 0;
    lirf_table1_col_init(&cols[0], LIRF_COL_ORIGINAL, "Original", tpath("t0.safetensors"));
    lirf_table1_col_init(&cols[1], LIRF_COL_TARGET, "Deposit", tpath("d-target.safetensors"));
    lirf_status st = lirf_table1_eval(tctx(), &o, cols, 2, out, &n);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_int_eq(n, 2);
    /* each column as the protocol computes it from the checkpoint's counts */
    for (int c = 0; c < 2; c++) {
        lirf_dataset ds = {0};
        int64_t *counts = NULL;
        int K = 0;
        ck_assert_int_eq(lirf_eval_checkpoint(tctx(), cols[c].path, &o, &ds, &counts, &K), LIRF_OK);
        double pre, dep, avg;
        ck_assert_int_eq(lirf_pre_dep_avg(counts, K, g_dep, 2, &pre, &dep, &avg), LIRF_OK);
        ck_assert(out[c].pre == pre && out[c].dep == dep && out[c].avg == avg);
        free(counts);
        lirf_dataset_free(&ds);
    }
    ck_assert(isnan(out[0].F) && !out[0].scored);
    double F, H;
    lirf_table1_f_hmean(out[0].dep, out[1].pre, out[1].dep, &F, &H);
    ck_assert(out[1].scored && out[1].F == F && (out[1].H == H || (isnan(H) && isnan(out[1].H))));
    /* the Independent column first */
    o.independent_pre = tpath("t0.safetensors"), o.independent_dep = tpath("d-target.safetensors");
    ck_assert_int_eq(lirf_table1_eval(tctx(), &o, cols, 2, out, &n), LIRF_OK);
    ck_assert_int_eq(n, 3);
    ck_assert_int_eq(out[0].role, LIRF_COL_INDEPENDENT);
    ck_assert(out[0].pre == out[1].pre && out[0].dep == out[2].dep && isnan(out[0].avg));
    o.independent_dep = NULL;
    ck_assert_int_eq(lirf_table1_eval(tctx(), &o, cols, 2, out, &n), LIRF_E_INVALID);
}
END_TEST

/* r's argmax agreement with T0 (t0.safetensors) on the test split, and its
 * Pre / Dep over classes 0,1. */
static lirf_table1_col against_t0(const char *r) {
    lirf_table1_col cols[2], out[3];
    lirf_table1_col_init(&cols[0], LIRF_COL_ORIGINAL, "Original", tpath("t0.safetensors"));
    lirf_table1_col_init(&cols[1], LIRF_COL_RECOVER, "R", r);
    lirf_table1_opts o = {.data = g_dir, .kind = LIRF_DATA_FASHION_MNIST, .batch = 16,
                          .dep = g_dep, .ndep = 2, .agreement = 1};
    int n = 0;
    lirf_status st = lirf_table1_eval(tctx(), &o, cols, 2, out, &n);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(isnan(cols[0].agree));
    return cols[1];
}

/* Two deposits through the command: classes 0,1 from T0 (d-, delta), then
 * 2,3 from that target, in delta and in exact mode; withdrawn last first
 * they give back T0, the first archive first is refused. */
START_TEST(two_deposits_last_first) {
    static char out[8192];
    char args[3000];
    const char *modes[2] = {"delta", "exact"};
    lirf_table1_col t0 = against_t0(tpath("t0.safetensors"));
    ck_assert(t0.agree == 100); /* the agreement itself: T0 with T0 */
    for (int m = 0; m < 2; m++) {
        snprintf(args, sizeof args,
                 "deposit --model %s --allow-kind target --deposit-classes 2,3 --data %s "
                 "--epochs 1 --batch 4 --mode %s --target %s --archive %s --quiet",
                 tpath("d-target.safetensors"), g_dir, modes[m], tpath("2nd-target.safetensors"),
                 tpath("2nd.lirf"));
        ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
        snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s",
                 tpath("2nd-target.safetensors"), tpath("d-deposit.lirf"), tpath("r-bad.st"));
        ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
        ck_assert_msg(strstr(out, "withdraw the later deposit first"), "%s", out);
        ck_assert(!exists(tpath("r-bad.st")));
        snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s",
                 tpath("2nd-target.safetensors"), tpath("2nd.lirf"), tpath("r1.st"));
        ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
        snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s --json",
                 tpath("r1.st"), tpath("d-deposit.lirf"), tpath("r0.st"));
        ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
        /* an exact second deposit gives the first target back bit for bit; a
         * delta one gives a net that stands in for it */
        ck_assert_msg(strstr(out, m ? "\"target_stands_in\": false" : "\"target_stands_in\": true"),
                      "%s", out);
        lirf_table1_col r = against_t0(tpath("r0.st"));
        ck_assert_msg(r.agree >= 97.5, "%s: argmax agreement with T0 %.2f%%", modes[m], r.agree);
        /* the first archive is a delta: T0 up to int8, so argmaxes, not bits */
    }
}
END_TEST

/* calibrated mode from an existing target (d-, made by the hold-out test):
 * the module within half the lower part, the archive bound to that target
 * and withdrawn by the column rule; training lowers the last batch's loss
 * against an untrained run of the same batches; bad combinations refused,
 * nothing written. */
static void calib_job(lirf_deposit_job *j, const char *tag, float lr) {
    deposit_job(j, tag);
    j->o.mode = LIRF_DEPOSIT_CALIBRATED, j->from_target = tpath("d-target.safetensors");
    j->o.holdout = 0, j->o.keep_best = 0, j->o.holdout_every = 0;
    j->o.calib.epochs = 12, j->o.calib.lr = lr;
}

static void calib_refused(lirf_deposit_job *j, const char *what) {
    lirf_deposit_report r;
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), j, &r), LIRF_E_INVALID);
    ck_assert_msg(strstr(lirf_error_message(), what), "%s", lirf_error_message());
    ck_assert(!exists(j->archive_out) && !exists(j->target_out));
}

START_TEST(calibrated_module_for_a_target) {
    lirf_deposit_job j;
    lirf_deposit_report r, r0;
    calib_job(&j, "cal0", 1e-6f); /* (almost) untrained: the reference loss */
    lirf_status st = lirf_deposit_job_run(tctx(), &j, &r0);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    calib_job(&j, "cal", 0.01f);
    st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(!exists(j.target_out) && exists(j.archive_out));
    ck_assert_uint_eq(r.calib.steps, 12 * 5); /* 20 deposit-class images, batch 4 */
    ck_assert(r.calib_rate >= 0.5f && r.calib_rate < 0.6f);
    ck_assert_msg(2 * r.deposit_params <= r.lower_params, "module %zu, lower part %zu",
                  r.deposit_params, r.lower_params);
    ck_assert_msg(r.calib.last[0] < 0.9 * r0.calib.last[0], "loss %g trained, %g untrained",
                  r.calib.last[0], r0.calib.last[0]);
    json_t *js = lirf_deposit_report_json(&j, &r);
    json_t *cal = json_object_get(json_object_get(js, "run"), "calibration");
    ck_assert_int_eq(json_integer_value(json_object_get(cal, "steps")), 60);
    ck_assert_str_eq(json_string_value(json_object_get(js, "target")), j.from_target);
    json_decref(js);
    /* withdrawn onto that target: a column-rule recover net of this mode */
    json_t *rep = NULL;
    st = lirf_withdraw(tctx(), j.from_target, j.archive_out, tpath("cal-r.st"), &rep);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_str_eq(json_string_value(json_object_get(rep, "recover_rule")), "columns");
    ck_assert_str_eq(json_string_value(json_object_get(rep, "mode")), "calibrated");
    json_decref(rep);
    lirf_table1_col c = against_t0(tpath("cal-r.st"));
    ck_assert(c.agree >= 0 && c.agree <= 100);
    /* refusals */
    calib_job(&j, "calx", 0.05f);
    j.o.mode = LIRF_DEPOSIT_DELTA;
    calib_refused(&j, "--mode calibrated");
    calib_job(&j, "calx", 0.05f);
    j.from_target = tpath("t0.safetensors");
    calib_refused(&j, "not a target net");
    calib_job(&j, "calx", 0.05f);
    static const int32_t other[2] = {2, 3};
    j.dep = other;
    calib_refused(&j, "deposited classes");
    calib_job(&j, "calx", 0.05f);
    j.model = tpath("t0-other.safetensors"); /* T0 with another fc: not this target's */
    lirf_safetensors t;
    ck_assert_int_eq(lirf_st_read(tpath("t0.safetensors"), &t), LIRF_OK);
    lirf_st_tensor *fc = (lirf_st_tensor *)lirf_st_find(&t, "fc.weight");
    ck_assert_ptr_nonnull(fc);
    ((float *)fc->data)[0] += 0.5f;
    ck_assert_int_eq(lirf_st_write(j.model, t.tensors, t.count, (const char *const *)t.meta_keys,
                                   (const char *const *)t.meta_vals, t.meta_count), LIRF_OK);
    lirf_st_free(&t);
    calib_refused(&j, "upper part differs");
}
END_TEST

/* The whole calibrated deposit (no --from-target): the target written, a
 * paper-mode archive beside it holds the deposit's own module (rate 0.5),
 * the calibrated one a module made again within half the lower part. */
static json_t *manifest_of(const char *path) {
    json_t *m = NULL;
    void *dep = NULL;
    size_t len = 0;
    ck_assert_msg(lirf_archive_read(path, &m, &dep, &len) == LIRF_OK, "%s", lirf_error_message());
    free(dep);
    return m;
}

START_TEST(calibrated_deposit_beside_paper) {
    lirf_deposit_job j;
    lirf_deposit_report r;
    deposit_job(&j, "calfull");
    j.o.mode = LIRF_DEPOSIT_CALIBRATED, j.o.epochs = 1, j.o.calib.epochs = 1;
    j.also_out[LIRF_DEPOSIT_PAPER] = tpath("calfull-paper.lirf");
    lirf_status st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(exists(j.target_out) && exists(j.archive_out));
    json_t *mc = manifest_of(j.archive_out), *mp = manifest_of(tpath("calfull-paper.lirf"));
    ck_assert_str_eq(json_string_value(json_object_get(mc, "mode")), "calibrated");
    ck_assert_str_eq(json_string_value(json_object_get(mp, "mode")), "paper");
    double rc = json_real_value(json_object_get(json_object_get(mc, "pruning"), "rate"));
    double rp = json_real_value(json_object_get(json_object_get(mp, "pruning"), "rate"));
    ck_assert_msg(rp == 0.5 && rc > 0.5 && fabs(rc - r.calib_rate) < 1e-6, "rates %g, %g", rp, rc);
    json_t *par = json_object_get(mc, "parameters");
    ck_assert(2 * json_integer_value(json_object_get(par, "deposit_module")) <=
              json_integer_value(json_object_get(par, "lower_part")));
    ck_assert_ptr_nonnull(json_object_get(json_object_get(mc, "hyperparameters"), "calibration"));
    ck_assert_ptr_null(json_object_get(json_object_get(mp, "run"), "calibration"));
    json_decref(mc), json_decref(mp);
    /* both withdraw onto the target */
    ck_assert_int_eq(lirf_withdraw(tctx(), j.target_out, j.archive_out, tpath("cf-r.st"), NULL),
                     LIRF_OK);
    ck_assert_int_eq(lirf_withdraw(tctx(), j.target_out, tpath("calfull-paper.lirf"),
                                   tpath("cf-rp.st"), NULL), LIRF_OK);
}
END_TEST

START_TEST(demo_from_c) {
    lirf_demo_job j;
    lirf_demo_job_default(&j);
    j.out_dir = tpath("demo"), j.data = g_dir, j.dep = g_dep, j.ndep = 2, j.dep_text = "0,1";
    j.width = 4, j.epochs = 1, j.batch = 16, j.limit = 0, j.dep_epochs = 1, j.dep_batch = 4;
    j.tries = 2;
    lirf_demo_report *r = calloc(1, sizeof *r);
    ck_assert_ptr_nonnull(r);
    lirf_status st = lirf_demo_run(tctx(), &j, r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_int_eq(r->ntries, 2);
    ck_assert(r->kept == 0 || r->tries[1].kept_holdout < r->tries[0].kept_holdout);
    const char *files[] = {"original.safetensors", "target.safetensors", "deposit.lirf",
                           "deposit-exact.lirf", "deposit-paper.lirf", "deposit-calibrated.lirf",
                           "recover.safetensors", "recover-exact.safetensors",
                           "recover-paper.safetensors", "recover-calibrated.safetensors",
                           "table1.md", "table1.json", "summary.json"};
    for (int i = 0; i < 13; i++) {
        char p[400];
        snprintf(p, sizeof p, "%s/%s", j.out_dir, files[i]);
        ck_assert_msg(exists(p), "%s missing", files[i]);
    }
    /* exact mode gives T0 back */
    ck_assert(r->cols[3].pre == r->cols[0].pre && r->cols[3].dep == r->cols[0].dep);
    char p[400];
    snprintf(p, sizeof p, "%s/summary.json", j.out_dir);
    json_t *sum = json_load_file(p, 0, NULL);
    ck_assert_ptr_nonnull(sum);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(sum, "deposit_tries"), "kept")),
                     r->kept + 1);
    /* the calibrated column: a module within half the lower part, its own bytes */
    ck_assert_int_eq(json_array_size(json_object_get(sum, "withdraw")), 4);
    ck_assert_int_eq(json_array_size(json_object_get(sum, "table1")), 6);
    ck_assert(r->calib.calib.steps > 0 && 2 * r->calib.deposit_params <= r->calib.lower_params);
    ck_assert(r->cols[5].bytes > 0 && r->cols[5].agree >= 0);
    json_decref(sum);
    free(r);
}
END_TEST

/* the same files before every test (a checked fixture may assert) */
static void write_data(void) {
    twrite_idx(tpath("train-images-idx3-ubyte"), tpath("train-labels-idx1-ubyte"), 96, 7, 1);
    twrite_idx(tpath("t10k-images-idx3-ubyte"), tpath("t10k-labels-idx1-ubyte"), 40, 9, 1);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-experiments-%ld", (long)getpid());
    if (mkdir(g_dir, 0755) != 0) return 1;
    Suite *s = suite_create("experiments");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 500);
    tcase_add_checked_fixture(tc, write_data, NULL);
    /* in order: the later tests read the first ones' files */
    tcase_add_test(tc, train_job_writes_and_evaluates);
    tcase_add_test(tc, deposit_job_holds_out_and_keeps_the_best);
    tcase_add_test(tc, deposit_job_refusals_write_nothing);
    tcase_add_test(tc, deposit_takes_an_original_t0);
    tcase_add_test(tc, eval_refuses_a_fifth_recover);
    tcase_add_test(tc, two_deposits_last_first);
    tcase_add_test(tc, tries_keep_the_lowest_held_out_dep_acc);
    tcase_add_test(tc, table1_of_files);
    tcase_add_test(tc, calibrated_module_for_a_target);
    tcase_add_test(tc, calibrated_deposit_beside_paper);
    tcase_add_test(tc, demo_from_c);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
