/* Sample-level deposits (lirf deposit --deposit-samples, lirf eval
 * --deposit-samples):
 *  - the sample list parser: comments, blanks, spaces, CRLF, the ascending
 *    list and its SHA-256 (as `sort -n -u | sha256sum` gives it); a
 *    non-number, a negative, an index out of range, a duplicate (both lines
 *    named), an empty list, a NUL byte: refused naming the file and line;
 *  - lirf_dataset_subset and lirf_dataset_classes_of on a small set;
 *  - the arithmetic by hand: lirf_auc_lower with ties, lirf_samples_score's
 *    four groups, accuracies, mean losses and both AUCs;
 *  - a sample-level deposit end to end on a tiny IDX set (12x12, 10 classes):
 *    D_r is exactly the listed samples, their classes are the deposit's, the
 *    target's accuracy on them falls below T0's and its loss on them rises;
 *    the target's metadata and the archive's run record hold the count and
 *    the SHA-256; a hold-out is taken from the listed samples; lirf eval
 *    --deposit-samples on T0, the target and the recover net agrees with
 *    the per-class counts of lirf_eval_checkpoint on both splits, refuses
 *    another list for the target, and its --json parses;
 *  - refusals with nothing written: bad lists, a list covering every class,
 *    --deposit-samples with --deposit-classes (job and command). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments.h"
#include "lirf_archive.h"
#include "util.h"

static char g_dir[256];

static const char *tpath(const char *name) {
    static char b[8][400];
    static int k;
    char *p = b[k++ % 8];
    snprintf(p, 400, "%s/%s", g_dir, name);
    return p;
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
}

/* A parse that must fail with LIRF_E_FORMAT and a message holding `want`
 * (len SIZE_MAX: strlen(text)). */
static void refused(const char *text, size_t len, size_t n, const char *want) {
    lirf_sample_list l;
    if (len == SIZE_MAX) len = strlen(text);
    ck_assert_int_eq(lirf_sample_list_parse(text, len, "L.txt", n, &l), LIRF_E_FORMAT);
    ck_assert_msg(strstr(lirf_error_message(), want), "want \"%s\" in: %s", want,
                  lirf_error_message());
    ck_assert_ptr_null(l.idx);
    ck_assert_uint_eq(l.n, 0);
}

START_TEST(sample_list_parse) {
    const char *text = "# deposit\n9\r\n  1 # one\n\n5\t\n0005 \n";
    lirf_sample_list l;
    /* 5 and 0005 are the same sample */
    refused(text, strlen(text), 10, "L.txt:6: sample 5 is listed twice (first on line 5)");
    text = "# deposit\n9\r\n  1 # one\n\n5\t\n3";
    ck_assert_int_eq(lirf_sample_list_parse(text, strlen(text), "L.txt", 10, &l), LIRF_OK);
    ck_assert_uint_eq(l.n, 4);
    const int32_t want[4] = {1, 3, 5, 9};
    ck_assert_int_eq(memcmp(l.idx, want, sizeof want), 0);
    /* printf '1\n3\n5\n9\n' | sha256sum */
    ck_assert_str_eq(l.sha256, "1191f845753187bd8904f385e79b9556e2dc313a9d3926c7b79105bcba4cf6e5");
    char hex[65];
    lirf_sample_list_sha256(want, 4, hex);
    ck_assert_str_eq(hex, l.sha256);
    lirf_sample_list_free(&l);
    ck_assert_ptr_null(l.idx);
    refused("1\n2\n12a\n", SIZE_MAX, 10, "L.txt:3: \"12a\" is not a sample index");
    refused("-1\n", SIZE_MAX, 10, "L.txt:1: \"-1\" is not a sample index");
    refused("1\n+2\n", SIZE_MAX, 10, "L.txt:2:");
    refused("1 2\n", SIZE_MAX, 10, "L.txt:1: \"1 2\"");
    refused("0\n10\n", SIZE_MAX, 10, "L.txt:2: sample 10 is outside the training split (10 samples: 0..9)");
    refused("99999999999999999999999\n", SIZE_MAX, 10, "L.txt:1: sample 99999999999999999999999 is outside");
    refused("3\n1\n3\n1\n", SIZE_MAX, 10, "L.txt:3: sample 3 is listed twice (first on line 1)");
    refused("# nothing\n\n   \n", SIZE_MAX, 10, "L.txt: no sample index in it");
    refused("", 0, 10, "no sample index");
    refused("1\n\0002\n", 5, 10, "L.txt:2: \"?2\" is not a sample index");
    /* from a file: the path named; a missing file */
    write_text(tpath("bad.txt"), "0\n1\nx\n");
    ck_assert_int_eq(lirf_sample_list_load(tpath("bad.txt"), 96, &l), LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "bad.txt:3:"));
    ck_assert_int_eq(lirf_sample_list_load(tpath("missing.txt"), 96, &l), LIRF_E_NOT_FOUND);
}
END_TEST

START_TEST(dataset_subset_and_classes) {
    lirf_dataset d = tstripes(12, 4, 8); /* labels i % 4 */
    const int32_t idx[3] = {6, 0, 9};
    lirf_dataset s;
    ck_assert_int_eq(lirf_dataset_subset(&d, idx, 3, &s), LIRF_OK);
    ck_assert_int_eq(s.n, 3);
    ck_assert(s.c == d.c && s.h == d.h && s.w == d.w && s.num_classes == 4);
    size_t px = (size_t)d.c * 8 * 8;
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(s.labels[i], d.labels[idx[i]]);
        ck_assert_int_eq(memcmp(s.pixels + i * px, d.pixels + (size_t)idx[i] * px, px), 0);
    }
    ck_assert_str_eq(s.class_names[1], d.class_names[1]);
    int32_t cls[4];
    int nc = 0;
    ck_assert_int_eq(lirf_dataset_classes_of(&d, idx, 3, cls, &nc), LIRF_OK);
    ck_assert_int_eq(nc, 3); /* 6 % 4 = 2, 0, 9 % 4 = 1: ascending */
    ck_assert(cls[0] == 0 && cls[1] == 1 && cls[2] == 2);
    const int32_t same[2] = {4, 8}; /* both class 0 */
    ck_assert_int_eq(lirf_dataset_classes_of(&d, same, 2, cls, &nc), LIRF_OK);
    ck_assert(nc == 1 && cls[0] == 0);
    lirf_dataset_free(&s);
    const int32_t out[2] = {0, 12};
    ck_assert_int_eq(lirf_dataset_subset(&d, out, 2, &s), LIRF_E_INVALID);
    lirf_dataset_free(&d);
}
END_TEST

START_TEST(metric_arithmetic_by_hand) {
    /* a = {1, 2, 3}, b = {2, 4}: a < b in 1<2, 1<4, 2<4, 3<4 and 2 = 2 half: 4.5 of 6 */
    const double a[3] = {1, 2, 3}, b[2] = {2, 4};
    ck_assert(fabs(lirf_auc_lower(a, 3, b, 2) - 0.75) < 1e-12);
    ck_assert(fabs(lirf_auc_lower(b, 2, a, 3) - 0.25) < 1e-12);
    ck_assert(fabs(lirf_auc_lower(a, 1, a, 1) - 0.5) < 1e-12);
    ck_assert(isnan(lirf_auc_lower(a, 0, b, 2)));
    /* deposit classes {1, 3}. training: two listed (class 1 right, class 3
     * wrong), three others of those classes (2 right), one of class 0 (no group) */
    const lirf_sample_outcome tr[6] = {{1, 1, 0.5}, {3, 0, 2.5}, {1, 1, 0.25}, {3, 3, 0.75},
                                       {1, 2, 2.0}, {0, 0, 9.0}};
    const uint8_t listed[6] = {1, 1, 0, 0, 0, 0};
    /* test: class 1 right (loss 1), class 3 wrong (loss 3); others 3 of 4 right */
    const lirf_sample_outcome te[6] = {{1, 1, 1.0}, {3, 1, 3.0}, {0, 0, 0.1},
                                       {2, 2, 0.2}, {2, 0, 0.3}, {4, 4, 0.4}};
    const int32_t cls[2] = {1, 3};
    lirf_samples_report r;
    memset(&r, 0, sizeof r);
    ck_assert_int_eq(lirf_samples_score(tr, listed, 6, te, 6, cls, 2, &r), LIRF_OK);
    const int64_t want_c[4] = {1, 2, 1, 3}, want_n[4] = {2, 3, 2, 4};
    const double want_loss[4] = {1.5, 1.0, 2.0, 0.25};
    for (int g = 0; g < LIRF_SAMPLES_GROUPS; g++) {
        ck_assert_int_eq(r.correct[g], want_c[g]);
        ck_assert_int_eq(r.total[g], want_n[g]);
        ck_assert(fabs(r.acc[g] - 100.0 * (double)want_c[g] / (double)want_n[g]) < 1e-12);
        ck_assert_msg(fabs(r.mean_loss[g] - want_loss[g]) < 1e-12, "group %d", g);
    }
    /* (a) {0.5, 2.5} against (c) {1, 3}: 0.5<1, 0.5<3, 2.5<3: 3 of 4 */
    ck_assert(fabs(r.mia_auc - 0.75) < 1e-12);
    /* (a) {0.5, 2.5} against (b) {0.25, 0.75, 2.0}: 0.5<0.75, 0.5<2: 2 of 6 */
    ck_assert(fabs(r.rest_auc - 2.0 / 6) < 1e-12);
    /* no test sample of the classes: (c) empty, NaN accuracy, loss and AUC */
    ck_assert_int_eq(lirf_samples_score(tr, listed, 6, te + 2, 4, cls, 2, &r), LIRF_OK);
    ck_assert(r.total[2] == 0 && isnan(r.acc[2]) && isnan(r.mean_loss[2]) && isnan(r.mia_auc));
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

static void train_t0(void) {
    if (exists(tpath("t0.safetensors"))) return;
    lirf_train_job j;
    lirf_train_job_default(&j);
    /* 12 epochs (seconds): T0 right on 6 of the 8 listed samples, so that a fall shows */
    j.data = g_dir, j.out = tpath("t0.safetensors"), j.width = 4, j.o.epochs = 12, j.o.batch = 16;
    lirf_train_report r;
    lirf_status st = lirf_train_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
}

static void sample_job(lirf_deposit_job *j, const char *list, const char *tag) {
    static char t[400], a[400];
    lirf_deposit_job_default(j);
    snprintf(t, sizeof t, "%s/%s-target.safetensors", g_dir, tag);
    snprintf(a, sizeof a, "%s/%s-deposit.lirf", g_dir, tag);
    j->model = tpath("t0.safetensors"), j->data = g_dir, j->deposit_samples = list;
    j->target_out = t, j->archive_out = a;
    j->o.epochs = 3, j->o.batch = 4;
}

/* Per-class counts of path on a split (lirf_eval_checkpoint). */
static int64_t *class_counts(const char *path, int train) {
    lirf_table1_opts o = {.data = g_dir, .batch = 16, .train = train};
    lirf_dataset ds = {0};
    int64_t *counts = NULL;
    int K = 0;
    ck_assert_int_eq(lirf_eval_checkpoint(tctx(), path, &o, &ds, &counts, &K), LIRF_OK);
    ck_assert_int_eq(K, 10);
    lirf_dataset_free(&ds);
    return counts;
}

/* lirf_samples_eval of path against the per-class counts: (a) + (b) are the
 * training samples of classes 0 and 1, (c) + (d) the whole test split. */
static void eval_agrees(const char *path, const char *list, lirf_samples_report *r) {
    lirf_samples_opts o = {.data = g_dir, .batch = 5, .samples = list};
    lirf_status st = lirf_samples_eval(tctx(), path, &o, r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_int_eq(r->nclasses, 2);
    ck_assert_int_eq(r->total[0], 8);
    ck_assert_int_eq(r->total[1], 20 - 8); /* 96 samples: classes 0, 1 have 10 each */
    ck_assert_int_eq(r->total[2], 8);      /* 40 test samples: 4 each */
    ck_assert_int_eq(r->total[3], 32);
    int64_t *tr = class_counts(path, 1), *te = class_counts(path, 0);
    ck_assert_int_eq(r->correct[0] + r->correct[1], tr[0] + tr[2]);
    ck_assert_int_eq(r->correct[2], te[0] + te[2]);
    int64_t all = 0;
    for (int k = 0; k < 10; k++) all += te[2 * k];
    ck_assert_int_eq(r->correct[2] + r->correct[3], all);
    for (int g = 0; g < 4; g++) ck_assert(isfinite(r->mean_loss[g]) && r->mean_loss[g] >= 0);
    ck_assert(r->mia_auc >= 0 && r->mia_auc <= 1 && r->rest_auc >= 0 && r->rest_auc <= 1);
    free(tr), free(te);
}

START_TEST(sample_deposit_end_to_end) {
    train_t0();
    /* classes 0 and 1: labels are i % 10 */
    write_text(tpath("list.txt"), "# eight samples of classes 0 and 1\n0\n1\n10\n11\n30\n31\n50\n91\n");
    lirf_deposit_job j;
    lirf_deposit_report r;
    sample_job(&j, tpath("list.txt"), "s");
    lirf_status st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_uint_eq(r.train_images, 8);
    ck_assert_uint_eq(r.deposit_samples, 8);
    ck_assert_uint_eq(r.steps_per_epoch, 2);
    ck_assert_int_eq(r.nsample_classes, 2);
    ck_assert(r.sample_classes[0] == 0 && r.sample_classes[1] == 1);
    lirf_sample_list l;
    ck_assert_int_eq(lirf_sample_list_load(tpath("list.txt"), 96, &l), LIRF_OK);
    ck_assert_str_eq(r.deposit_samples_sha256, l.sha256);
    /* the target's metadata: the list and the deposit classes */
    lirf_safetensors sf = {0};
    ck_assert_int_eq(lirf_st_read(j.target_out, &sf), LIRF_OK);
    ck_assert_str_eq(lirf_st_meta(&sf, "deposit_samples"), "8");
    ck_assert_str_eq(lirf_st_meta(&sf, "deposit_samples_sha256"), l.sha256);
    ck_assert_str_eq(lirf_st_meta(&sf, "lirf_kind"), "target");
    ck_assert_str_eq(lirf_st_meta(&sf, "deposit_classes"), "0,1");
    lirf_st_free(&sf);
    /* the archive's run record */
    json_t *m = NULL;
    void *dep = NULL;
    size_t len = 0;
    ck_assert_int_eq(lirf_archive_read(j.archive_out, &m, &dep, &len), LIRF_OK);
    json_t *ds = json_object_get(json_object_get(m, "run"), "deposit_samples");
    ck_assert_int_eq(json_integer_value(json_object_get(ds, "count")), 8);
    ck_assert_str_eq(json_string_value(json_object_get(ds, "sha256")), l.sha256);
    ck_assert_int_eq(json_array_size(json_object_get(ds, "classes")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(m, "deposit_classes")), 2);
    json_decref(m);
    free(dep);
    /* the target withdraws like any other (the rewritten metadata binds) */
    static char out[16384];
    char args[3000];
    snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s", j.target_out,
             j.archive_out, tpath("s-recover.safetensors"));
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    /* the metrics of T0, the target and the recover net */
    lirf_samples_report e0, et, er;
    eval_agrees(tpath("t0.safetensors"), tpath("list.txt"), &e0);
    ck_assert_int_eq(e0.model_marked, 0);
    eval_agrees(j.target_out, tpath("list.txt"), &et);
    ck_assert_int_eq(et.model_marked, 1);
    eval_agrees(tpath("s-recover.safetensors"), tpath("list.txt"), &er);
    ck_assert_int_eq(er.model_marked, 1); /* the recover net names the list too */
    fprintf(stderr, "test_samples: accuracy on (a) (b) (c) (d): T0 %.1f %.1f %.1f %.1f, target "
            "%.1f %.1f %.1f %.1f, recover %.1f %.1f %.1f %.1f; AUC T0 %.3f target %.3f\n",
            e0.acc[0], e0.acc[1], e0.acc[2], e0.acc[3], et.acc[0], et.acc[1], et.acc[2],
            et.acc[3], er.acc[0], er.acc[1], er.acc[2], er.acc[3], e0.mia_auc, et.mia_auc);
    /* the deposit takes the listed samples away from the target (on PoCL:
     * accuracy 75 -> 0 %, mean loss 0.40 -> 6.5) */
    ck_assert_msg(et.acc[0] < e0.acc[0] && et.mean_loss[0] > e0.mean_loss[0],
                  "target %.1f %% (loss %.3f), T0 %.1f %% (loss %.3f)", et.acc[0],
                  et.mean_loss[0], e0.acc[0], e0.mean_loss[0]);
    /* another list is not the target's deposit */
    write_text(tpath("other.txt"), "0\n1\n");
    lirf_samples_opts o = {.data = g_dir, .batch = 5, .samples = tpath("other.txt")};
    ck_assert_int_eq(lirf_samples_eval(tctx(), j.target_out, &o, &et), LIRF_E_INVALID);
    ck_assert_msg(strstr(lirf_error_message(), "another sample list") &&
                  strstr(lirf_error_message(), l.sha256), "%s", lirf_error_message());
    /* the command: text and JSON */
    snprintf(args, sizeof args, "eval --model %s --deposit-samples %s --data %s --json",
             j.target_out, tpath("list.txt"), g_dir);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    json_t *js = json_loads(out, 0, NULL);
    ck_assert_msg(js != NULL, "%s", out);
    json_t *g = json_object_get(json_object_get(js, "groups"), "test_other_classes");
    ck_assert_int_eq(json_integer_value(json_object_get(g, "total")), 32);
    ck_assert(json_is_true(json_object_get(json_object_get(js, "samples"), "model_marked")));
    ck_assert(json_is_real(json_object_get(js, "rest_auc")));
    json_decref(js);
    snprintf(args, sizeof args, "eval --model %s --deposit-samples %s --data %s --split train",
             j.target_out, tpath("list.txt"), g_dir);
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_ptr_nonnull(strstr(out, "--deposit-samples goes with --model alone"));
    lirf_sample_list_free(&l);
    /* the hold-out and keep-best choose among the listed samples */
    sample_job(&j, tpath("list.txt"), "h");
    j.o.holdout = 0.25f, j.o.keep_best = 1, j.o.epochs = 1;
    st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_uint_eq(r.holdout_images, 2);
    ck_assert_uint_eq(r.train_images, 6);
    ck_assert_uint_eq(r.deposit_samples, 8);
    /* a training state belongs to its list: resumed with another list of
     * the same classes, refused; with its own, accepted */
    sample_job(&j, tpath("list.txt"), "st");
    j.o.epochs = 1, j.state_path = tpath("st.state");
    st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(exists(tpath("st.state")));
    write_text(tpath("same-classes.txt"), "0\n1\n10\n11\n");
    sample_job(&j, tpath("same-classes.txt"), "st");
    j.o.epochs = 1, j.state_path = tpath("st.state"), j.resume = 1;
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_INVALID);
    ck_assert_msg(strstr(lirf_error_message(), "other deposit options"), "%s",
                  lirf_error_message());
    sample_job(&j, tpath("list.txt"), "st");
    j.o.epochs = 1, j.state_path = tpath("st.state"), j.resume = 1;
    st = lirf_deposit_job_run(tctx(), &j, &r);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
}
END_TEST

/* A job refused with code and a message holding want; nothing written. */
static void job_refused(const char *list, lirf_status code, const char *want) {
    lirf_deposit_job j;
    lirf_deposit_report r;
    sample_job(&j, list, "refused");
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), code);
    ck_assert_msg(strstr(lirf_error_message(), want), "want \"%s\" in: %s", want,
                  lirf_error_message());
    ck_assert(!exists(j.target_out) && !exists(j.archive_out));
}

START_TEST(sample_deposit_refusals_write_nothing) {
    train_t0();
    write_text(tpath("range.txt"), "0\n96\n");
    job_refused(tpath("range.txt"), LIRF_E_FORMAT, "range.txt:2: sample 96 is outside");
    write_text(tpath("dup.txt"), "0\n1\n0\n");
    job_refused(tpath("dup.txt"), LIRF_E_FORMAT, "dup.txt:3: sample 0 is listed twice");
    write_text(tpath("empty.txt"), "# none\n");
    job_refused(tpath("empty.txt"), LIRF_E_FORMAT, "empty.txt: no sample index");
    write_text(tpath("word.txt"), "0\nten\n");
    job_refused(tpath("word.txt"), LIRF_E_FORMAT, "word.txt:2: \"ten\" is not a sample index");
    /* samples 0..9: one of each class */
    write_text(tpath("all.txt"), "0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n");
    job_refused(tpath("all.txt"), LIRF_E_INVALID, "cover every class (10)");
    /* with deposit classes or --limit too */
    lirf_deposit_job j;
    lirf_deposit_report r;
    const int32_t dep[1] = {0};
    sample_job(&j, tpath("dup.txt"), "refused");
    j.dep = dep, j.ndep = 1;
    ck_assert_int_eq(lirf_deposit_job_run(tctx(), &j, &r), LIRF_E_INVALID);
    static char out[8192];
    char args[3000];
    snprintf(args, sizeof args, "deposit --model %s --deposit-samples %s --deposit-classes 0 "
             "--data %s --target %s --archive %s", tpath("t0.safetensors"), tpath("dup.txt"), g_dir,
             tpath("refused-target.safetensors"), tpath("refused-deposit.lirf"));
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "not both"), "%s", out);
    snprintf(args, sizeof args, "deposit --model %s --deposit-samples %s --data %s --target %s "
             "--archive %s --epochs 1", tpath("t0.safetensors"), tpath("all.txt"), g_dir,
             tpath("refused-target.safetensors"), tpath("refused-deposit.lirf"));
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "all.txt") && strstr(out, "L_kp"), "%s", out);
    ck_assert(!exists(tpath("refused-target.safetensors")) && !exists(tpath("refused-deposit.lirf")));
    ck_assert_int_eq(run_lirf("deposit --help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "--deposit-samples F"));
}
END_TEST

static void write_data(void) {
    twrite_idx(tpath("train-images-idx3-ubyte"), tpath("train-labels-idx1-ubyte"), 96, 7, 1);
    twrite_idx(tpath("t10k-images-idx3-ubyte"), tpath("t10k-labels-idx1-ubyte"), 40, 9, 1);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-samples-%ld", (long)getpid());
    if (mkdir(g_dir, 0755) != 0) return 1;
    Suite *s = suite_create("samples");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, write_data, NULL);
    tcase_add_test(tc, sample_list_parse);
    tcase_add_test(tc, dataset_subset_and_classes);
    tcase_add_test(tc, metric_arithmetic_by_hand);
    tcase_add_test(tc, sample_deposit_end_to_end);
    tcase_add_test(tc, sample_deposit_refusals_write_nothing);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
