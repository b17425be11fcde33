/* lirf verify: ROC AUC / TPR / intervals against plain C computations; the
 * verdict rule on constructed values; the command end to end on a tiny
 * synthetic data set: the original given as the target is reported as
 * leaking (exit 1) and passed by no check, a never-saw net as the target
 * passes (exit 0), controls that agree give inconclusive checks (exit 3), the
 * JSON, Markdown and HTML reports agree; bad inputs exit 2 with a message that
 * names the problem. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lirf.h"
#include "util.h"
#include "verify.h"

#define K 10
#define S 12 /* image side */

static char g_dir[256];
static const char *tmp(const char *name) {
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

/* ---- statistics against plain C ---- */
static double auc_pairs(const double *p, int np, const double *n, int nn) {
    double w = 0;
    for (int i = 0; i < np; i++)
        for (int j = 0; j < nn; j++) w += p[i] > n[j] ? 1 : p[i] == n[j] ? 0.5 : 0;
    return w / ((double)np * nn);
}

START_TEST(auc_matches_pairwise_count) {
    trng r = {5};
    for (int trial = 0; trial < 20; trial++) {
        int np = trng_int(&r, 1, 60), nn = trng_int(&r, 1, 70);
        double p[60], n[70];
        for (int i = 0; i < np; i++) p[i] = trng_int(&r, 0, 12) + (trial % 2 ? 2 : 0); /* ties */
        for (int i = 0; i < nn; i++) n[i] = trng_int(&r, 0, 12);
        double want = auc_pairs(p, np, n, nn), got = lirf_roc_auc(p, (size_t)np, n, (size_t)nn);
        ck_assert_msg(fabs(got - want) < 1e-12, "trial %d: AUC %.15f, pairwise %.15f", trial, got, want);
        /* the curve ends at (1,1) and its trapezoid area is the AUC */
        double *c;
        size_t m;
        ck_assert_int_eq(lirf_roc_curve(p, (size_t)np, n, (size_t)nn, 100000, &c, &m), LIRF_OK);
        ck_assert(c[0] == 0 && c[1] == 0 && c[2 * m - 2] == 1 && c[2 * m - 1] == 1);
        double area = 0;
        for (size_t i = 1; i < m; i++) area += (c[2 * i] - c[2 * i - 2]) * (c[2 * i + 1] + c[2 * i - 1]) / 2;
        ck_assert_msg(fabs(area - want) < 1e-12, "trapezoid %.15f, AUC %.15f", area, want);
        free(c);
    }
    /* separable: AUC 1, inverted: 0, all equal: 0.5 */
    double a[3] = {5, 6, 7}, b[2] = {1, 2}, e[2] = {3, 3};
    ck_assert(lirf_roc_auc(a, 3, b, 2) == 1.0);
    ck_assert(lirf_roc_auc(b, 2, a, 3) == 0.0);
    ck_assert(lirf_roc_auc(e, 2, e, 2) == 0.5);
}
END_TEST

START_TEST(tpr_at_fpr_and_intervals) {
    /* 100 negatives 0..99, positives 50..149: at FPR <= 1% the threshold is
     * 99 (one negative above or at it): positives >= 99 are 51 of 100 */
    double pos[100], neg[100];
    for (int i = 0; i < 100; i++) neg[i] = i, pos[i] = 50 + i;
    ck_assert_double_eq_tol(lirf_tpr_at_fpr(pos, 100, neg, 100, 0.01), 0.51, 1e-12);
    ck_assert_double_eq_tol(lirf_tpr_at_fpr(pos, 100, neg, 100, 0.0), 0.50, 1e-12);
    /* mean and t interval: {1,2,3,4}: mean 2.5, s = 1.29099, t(3) = 3.182 */
    double v[4] = {1, 2, 3, 4}, m, h;
    lirf_mean_ci95(v, 4, &m, &h);
    ck_assert_double_eq_tol(m, 2.5, 1e-12);
    ck_assert_double_eq_tol(h, 3.182 * sqrt(5.0 / 3.0) / 2.0, 1e-9);
    lirf_mean_ci95(v, 1, &m, &h);
    ck_assert(m == 1 && h == 0);
}
END_TEST

/* ---- a synthetic data set as Fashion-MNIST IDX files ---- */
static void put32(FILE *f, uint32_t v) {
    unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
                          (unsigned char)v};
    fwrite(b, 1, 4, f);
}

static void write_idx(const char *dir, const char *img, const char *lab, int n, uint32_t seed) {
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, img);
    FILE *fi = fopen(p, "wb");
    snprintf(p, sizeof p, "%s/%s", dir, lab);
    FILE *fl = fopen(p, "wb");
    ck_assert(fi && fl);
    put32(fi, 0x803), put32(fi, (uint32_t)n), put32(fi, S), put32(fi, S);
    put32(fl, 0x801), put32(fl, (uint32_t)n);
    trng r = {seed};
    for (int i = 0; i < n; i++) {
        int c = i % K;
        unsigned char px[S * S];
        for (int q = 0; q < S * S; q++) /* a class-dependent pattern plus noise */
            px[q] = (unsigned char)((((q * (c + 3)) % 17) * 12 + trng_int(&r, 0, 40)) & 0xff);
        fwrite(px, 1, sizeof px, fi);
        unsigned char l = (unsigned char)c;
        fwrite(&l, 1, 1, fl);
    }
    fclose(fi), fclose(fl);
}

/* Trains a small ResNet-18 on the synthetic training split (only classes
 * from..K-1 of it, init seed `seed`) for `epochs`, saves it. */
static void make_net(const char *data_dir, const char *path, int from, uint64_t seed, int epochs) {
    int32_t cls[K];
    for (int k = from; k < K; k++) cls[k - from] = k;
    lirf_data_opts dopt = {.path = data_dir, .train = 1, .classes = from ? cls : NULL,
                           .nclasses = from ? K - from : 0};
    lirf_dataset d;
    ck_assert_msg(lirf_dataset_load(&dopt, &d) == LIRF_OK, "%s", lirf_error_message());
    lirf_model_meta m = {0};
    m.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                              .in_w = S, .classes = K, .first = 0, .last = 5};
    m.class_names = d.class_names;
    lirf_dataset_stats(&d, m.mean, m.std);
    lirf_net *net;
    ck_assert_int_eq(lirf_net_create(tctx(), &m.cfg, &net), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(net, seed), LIRF_OK);
    lirf_loader_opts lo = {.data = &d, .batch = 32, .shuffle = 1, .drop_last = 1, .seed = 1};
    lo.mean[0] = m.mean[0], lo.std[0] = m.std[0];
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = epochs, o.batch = 32, o.lr = 0.05f, o.aug = (lirf_aug_params){0};
    lirf_train_io io = {.model_path = path, .meta = &m, .quiet = 1};
    lirf_train_result res;
    lirf_status st = lirf_train_run(tctx(), net, l, &o, &io, &res);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    lirf_loader_destroy(l);
    lirf_net_destroy(net);
    m.class_names = NULL;
    lirf_dataset_free(&d);
}

static int run_cli(const char *args, char *out, size_t outlen) {
    char cmd[5000];
    snprintf(cmd, sizeof cmd, "%s verify %s 2>&1", tlirf_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, outlen - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* the original (all classes), two nets that never saw classes 0, 1, 2
 * (seeds 3 and 5), and a second net of all classes (seed 7) */
static char g_data[512], g_orig[512], g_ind[512], g_ind2[512], g_other[512];

static void setup_data(void) {
    if (g_data[0]) return;
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_data);
    ck_assert_int_eq(system(cmd), 0);
    write_idx(g_data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 800, 1);
    write_idx(g_data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 300, 2);
    snprintf(g_orig, sizeof g_orig, "%s/original.safetensors", g_dir);
    make_net(g_data, g_orig, 0, 3, 4);
    snprintf(g_ind, sizeof g_ind, "%s/independent.safetensors", g_dir);
    make_net(g_data, g_ind, 3, 3, 2);
    snprintf(g_ind2, sizeof g_ind2, "%s/independent2.safetensors", g_dir);
    make_net(g_data, g_ind2, 3, 5, 2);
    snprintf(g_other, sizeof g_other, "%s/other.safetensors", g_dir);
    make_net(g_data, g_other, 0, 7, 1);
}

static json_t *load_report(const char *rdir) {
    char p[600];
    snprintf(p, sizeof p, "%s/report.json", rdir);
    json_error_t err;
    json_t *r = json_load_file(p, 0, &err);
    ck_assert_msg(r != NULL, "%s: %s", p, err.text);
    return r;
}

static json_t *find_check(json_t *r, const char *name) {
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(r, "checks"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "name")), name)) return c;
    ck_abort_msg("no check %s in the report", name);
    return NULL;
}

static char *slurp(const char *path) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "%s missing", path);
    static char body[2][1 << 19];
    static int k;
    char *b = body[k++ % 2];
    size_t got = fread(b, 1, sizeof body[0] - 1, f);
    b[got] = 0;
    fclose(f);
    return b;
}

/* The line of text that starts with head (NULL if none), copied to line. */
static const char *line_of(const char *text, const char *head, char *line, size_t n) {
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (!strncmp(p, head, strlen(head))) {
            size_t len = strcspn(p, "\n");
            snprintf(line, n, "%.*s", (int)(len < n ? len : n - 1), p);
            return line;
        }
    return NULL;
}

/* report.md and report.html give every check of report.json the same
 * verdict and power, and the same overall verdict and calibration text. */
static void reports_agree(const char *rdir, json_t *r) {
    char p[600], head[200], want[200], line[4096];
    snprintf(p, sizeof p, "%s/report.md", rdir);
    const char *md = slurp(p);
    snprintf(p, sizeof p, "%s/report.html", rdir);
    const char *html = slurp(p);
    ck_assert(strstr(md, "# lirf verify") == md && strstr(html, "<!DOCTYPE html>") == html);
    const char *ctext = json_string_value(json_object_get(json_object_get(r, "calibration"), "text"));
    ck_assert_msg(ctext && strstr(md, ctext) && strstr(html, ctext), "calibration text: %s", ctext);
    json_t *c;
    size_t i;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *v = json_string_value(json_object_get(c, "verdict"));
        json_t *pw = json_object_get(c, "power");
        const char *pword = json_is_true(pw) ? "yes" : json_is_false(pw) ? "no" : "n/a";
        snprintf(head, sizeof head, "| %s |", name);
        ck_assert_msg(line_of(md, head, line, sizeof line), "report.md: no row %s", name);
        snprintf(want, sizeof want, "| %s | **%s** |", pword, v);
        ck_assert_msg(strstr(line, want), "report.md %s: want '%s' in '%s'", name, want, line);
        snprintf(head, sizeof head, "<tr><td>%s</td>", name);
        ck_assert_msg(line_of(html, head, line, sizeof line), "report.html: no row %s", name);
        snprintf(want, sizeof want, "\">%s</td><td class=\"%s\">%s</td></tr>", pword, v, v);
        ck_assert_msg(strstr(line, want), "report.html %s: want '%s' in '%s'", name, want, line);
    }
}

/* T0 itself as the target, the negative control trained by the audit: the
 * no-label students flag it, and no check passes it. */
START_TEST(original_as_target_reports_leakage) {
    setup_data();
    char args[2500], out[1 << 16];
    const char *rdir = tmp("rep1");
    snprintf(args, sizeof args,
             "--target %s --original %s --deposit-classes 0,1,2 --data %s --students cnn "
             "--methods logit --labels none --train-subset 640 --epochs 4 --batch 32 "
             "--student-lr 0.05 --mia-samples 200 --probe-train 320 --probe-epochs 3 "
             "--relearn-samples 32 --relearn-max-steps 20 --control-epochs 2 --datafree-images 128 --out %s",
             g_orig, g_orig, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d, want 1 (leakage); output:\n%s", rc, out);
    json_t *r = load_report(rdir);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "exit_code")), 1);
    json_t *c = find_check(r, "distill/cnn/logit/labels-none");
    double gap = json_number_value(json_object_get(c, "value"));
    ck_assert_msg(gap > 30, "the original's own knowledge: Dep Acc gap %.2f (want > 30)", gap);
    ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "leak");
    ck_assert(json_is_true(json_object_get(c, "power")));
    /* the target is the positive control: its value is the original's */
    ck_assert_double_eq(gap, json_number_value(json_object_get(c, "positive")));
    /* no check passes T0: each flags it or has no power */
    size_t i;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        const char *v = json_string_value(json_object_get(c, "verdict"));
        int power = json_is_true(json_object_get(c, "power"));
        ck_assert_msg(strcmp(v, "pass") != 0, "%s passes T0", json_string_value(json_object_get(c, "name")));
        ck_assert_str_eq(v, power ? "leak" : "inconclusive");
    }
    /* the negative control: trained by the audit on the preservation classes */
    json_t *ct = json_object_get(r, "control_training");
    ck_assert_msg(ct != NULL, "no control_training in the report");
    ck_assert_int_eq(json_integer_value(json_object_get(ct, "epochs")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(ct, "images")), 800 * 7 / 10);
    char p[600];
    snprintf(p, sizeof p, "%s/control.safetensors", rdir);
    ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
    const char *ipath = json_string_value(json_object_get(json_object_get(json_object_get(r, "inputs"), "independent"), "path"));
    ck_assert_str_eq(ipath, p);
    /* its Dep Acc: it never saw the deposit classes */
    json_array_foreach(json_object_get(r, "nets"), i, c)
        if (!strcmp(json_string_value(json_object_get(c, "role")), "independent"))
            ck_assert_double_le(json_number_value(json_object_get(c, "dep_acc")), 1.0);
    /* hashes of the inputs: the model and the four data files */
    const char *sha = json_string_value(json_object_get(json_object_get(json_object_get(r, "inputs"), "target"), "sha256"));
    char hex[65];
    ck_assert_int_eq(lirf_file_sha256(g_orig, hex), LIRF_OK);
    ck_assert_str_eq(sha, hex);
    ck_assert_int_eq(json_object_size(json_object_get(json_object_get(json_object_get(r, "inputs"), "data"), "files_sha256")), 4);
    /* MIA: three nets; the reference model's calibrated AUC is 0.5 exactly */
    json_t *mm = json_object_get(json_object_get(r, "mia"), "models");
    ck_assert_int_eq(json_array_size(mm), 3);
    json_array_foreach(mm, i, c) {
        double auc = json_number_value(json_object_get(c, "auc"));
        ck_assert(auc >= 0 && auc <= 1);
        if (!strcmp(json_string_value(json_object_get(c, "role")), "independent")) ck_assert(auc == 0.5);
    }
    reports_agree(rdir, r);
    json_decref(r);
    /* the reports rendered again from report.json; the recorded exit code */
    snprintf(args, sizeof args, "--from-json %s/report.json --out %s", rdir, tmp("rep1b"));
    rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/report.html", tmp("rep1b"));
    ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
}
END_TEST

/* The pass path: a net that never saw the deposit classes as the target,
 * another one (other seed) as the negative control: the checks with power
 * pass it, exit 0. */
START_TEST(negative_control_as_target_passes) {
    setup_data();
    char args[2500], out[1 << 16];
    const char *rdir = tmp("rep7");
    snprintf(args, sizeof args,
             "--target %s --original %s --independent %s --deposit-classes 0,1,2 --data %s "
             "--students cnn --methods logit --labels none --train-subset 320 --epochs 3 "
             "--batch 32 --student-lr 0.05 --mia-samples 200 --no-probe "
             "--relearn-samples 32 --relearn-max-steps 20 --datafree-images 128 --out %s",
             g_ind, g_orig, g_ind2, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 0, "exit %d, want 0; output:\n%s", rc, out);
    json_t *r = load_report(rdir);
    ck_assert(json_object_get(r, "control_training") == NULL); /* given, not trained */
    json_t *c = find_check(r, "distill/cnn/logit/labels-none");
    ck_assert(json_is_true(json_object_get(c, "power")));
    ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "pass");
    ck_assert_int_ge(json_integer_value(json_object_get(json_object_get(r, "calibration"), "with_power")), 1);
    size_t i;
    json_array_foreach(json_object_get(r, "checks"), i, c)
        ck_assert_str_ne(json_string_value(json_object_get(c, "verdict")), "leak");
    reports_agree(rdir, r);
    json_decref(r);
}
END_TEST

/* A constructed case: the positive and the negative control are the same
 * net, so no check can separate them: every check is inconclusive, never
 * pass, and the audit exits 3 (nothing could tell). */
START_TEST(controls_that_agree_give_inconclusive) {
    setup_data();
    char args[2500], out[1 << 16];
    const char *rdir = tmp("rep8");
    snprintf(args, sizeof args,
             "--target %s --original %s --independent %s --deposit-classes 0,1,2 --data %s "
             "--students cnn --methods logit --labels true,none --train-subset 128 --epochs 1 "
             "--batch 32 --test-subset 90 --mia-samples 60 --probe-train 64 --probe-epochs 1 "
             "--relearn-samples 16 --relearn-max-steps 5 --datafree-images 32 --quiet --out %s",
             g_orig, g_ind, g_ind, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 3, "exit %d, want 3 (inconclusive); output:\n%s", rc, out);
    json_t *r = load_report(rdir);
    json_t *c;
    size_t i, n = 0;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "inconclusive");
        ck_assert(json_is_false(json_object_get(c, "power")));
        n++;
    }
    ck_assert_int_eq(n, 7); /* mia, two probes, relearn, two distillations, data-free */
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(r, "calibration"), "with_power")), 0);
    reports_agree(rdir, r);
    json_decref(r);
}
END_TEST

/* The verdict rule itself, on constructed values. */
START_TEST(judge_follows_calibration) {
    int power;
    /* above the margin: power; the target beyond it leaks, else passes */
    ck_assert_int_eq(lirf_verify_judge(20, 40, 15, 0, &power), LIRF_CHECK_LEAK);
    ck_assert_int_eq(power, 1);
    ck_assert_int_eq(lirf_verify_judge(3, 40, 15, 0, &power), LIRF_CHECK_PASS);
    /* the positive control not beyond the margin: inconclusive, whatever the target */
    ck_assert_int_eq(lirf_verify_judge(3, 14.9, 15, 0, &power), LIRF_CHECK_INCONCLUSIVE);
    ck_assert_int_eq(power, 0);
    ck_assert_int_eq(lirf_verify_judge(30, 15, 15, 0, &power), LIRF_CHECK_INCONCLUSIVE);
    ck_assert_int_eq(lirf_verify_judge(3, NAN, 15, 0, &power), LIRF_CHECK_INCONCLUSIVE);
    ck_assert_int_eq(lirf_verify_judge(NAN, 40, 15, 0, &power), LIRF_CHECK_INCONCLUSIVE);
    ck_assert_int_eq(power, 1);
    /* a ratio (relearn): leakage below the margin */
    ck_assert_int_eq(lirf_verify_judge(0.2, 0.0, 0.5, 1, &power), LIRF_CHECK_LEAK);
    ck_assert_int_eq(lirf_verify_judge(0.9, 0.0, 0.5, 1, &power), LIRF_CHECK_PASS);
    ck_assert_int_eq(lirf_verify_judge(0.2, 0.6, 0.5, 1, &power), LIRF_CHECK_INCONCLUSIVE);
    ck_assert_str_eq(lirf_check_verdict_name(LIRF_CHECK_INCONCLUSIVE), "inconclusive");
}
END_TEST

/* Every teacher role and control at once, each role a different net: the
 * checks' values are the target's students' Dep Acc minus the negative
 * control's, recomputed here from the runs; AT runs; the original's
 * students give each check's power. */
START_TEST(every_role_and_control) {
    setup_data();
    char args[4000], out[1 << 16];
    const char *rdir = tmp("rep6");
    snprintf(args, sizeof args,
             "--target %s --original %s --independent %s --target-no-at %s --deposit-classes 0,1,2 "
             "--data %s --students cnn,resnet18 --student-width 2 --train-subset 96 --epochs 1 "
             "--batch 32 --test-subset 90 --mia-samples 60 --probe-train 64 --probe-epochs 1 "
             "--relearn-samples 16 --relearn-max-steps 5 --datafree-images 32 --quiet --out %s",
             g_ind2, g_orig, g_ind, g_other, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 0 || rc == 1 || rc == 3, "exit %d; output:\n%s", rc, out);
    json_t *r = load_report(rdir);
    /* 2 students x (no teacher + 4 teachers x 2 methods x 2 label modes) */
    json_t *runs = json_object_get(r, "distillation_runs");
    ck_assert_int_eq(json_array_size(runs), 2 * (1 + 16));
    json_t *c, *x;
    size_t i, k;
    int nd = 0, relearn = 0;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (!strncmp(name, "distill/", 8)) {
            char stu[16], meth[16], lab[16];
            ck_assert_int_eq(sscanf(name, "distill/%15[^/]/%15[^/]/labels-%15s", stu, meth, lab), 3);
            double dep[3] = {NAN, NAN, NAN}; /* target, independent, original */
            static const char *const who[3] = {"target", "independent", "original"};
            json_array_foreach(runs, k, x)
                for (int w = 0; w < 3; w++)
                    if (!strcmp(json_string_value(json_object_get(x, "student")), stu) &&
                        !strcmp(json_string_value(json_object_get(x, "method")), meth) &&
                        json_is_true(json_object_get(x, "labels")) == !strcmp(lab, "true") &&
                        !strcmp(json_string_value(json_object_get(x, "teacher")), who[w]))
                        dep[w] = json_number_value(json_object_get(x, "dep_acc"));
            ck_assert_double_eq_tol(json_number_value(json_object_get(c, "value")), dep[0] - dep[1], 1e-9);
            ck_assert_double_eq_tol(json_number_value(json_object_get(c, "positive")), dep[2] - dep[1], 1e-9);
            ck_assert_double_eq_tol(json_number_value(json_object_get(c, "control")), dep[1], 1e-9);
            nd++;
        }
        if (!strcmp(name, "relearn")) relearn = 1;
        ck_assert_msg(json_is_boolean(json_object_get(c, "power")), "%s: power unknown", name);
    }
    ck_assert_int_eq(nd, 8);
    ck_assert(relearn);
    reports_agree(rdir, r);
    json_decref(r);
}
END_TEST

START_TEST(bad_inputs_exit_2) {
    setup_data();
    char args[2500], out[1 << 14];
    /* a missing file */
    snprintf(args, sizeof args, "--target %s/nope.safetensors --data %s --out %s", g_dir, g_data, tmp("r2"));
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "nope.safetensors"), "exit %d: %s", rc, out);
    /* not a checkpoint */
    const char *junk = tmp("junk.safetensors");
    FILE *f = fopen(junk, "w");
    fputs("not a checkpoint", f);
    fclose(f);
    snprintf(args, sizeof args, "--target %s --data %s --out %s", junk, g_data, tmp("r3"));
    rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "junk.safetensors"), "exit %d: %s", rc, out);
    /* a checkpoint of the wrong kind (a recover net is not a whole net) */
    lirf_model_meta m = {0};
    m.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                              .in_w = S, .classes = K, .first = 0, .last = 5};
    m.mean[0] = 0.5f, m.std[0] = 0.25f;
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &m.cfg, &n), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(n, 1), LIRF_OK);
    const char *wrong = tmp("recover.safetensors");
    const char *keys[] = {"lirf_kind"}, *vals[] = {"recover"}, *pre[] = {""};
    ck_assert_int_eq(lirf_checkpoint_save(wrong, &n, pre, 1, &m, keys, vals, 1), LIRF_OK);
    lirf_net_destroy(n);
    snprintf(args, sizeof args, "--target %s --data %s --deposit-classes 0 --out %s", wrong, g_data, tmp("r4"));
    rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "kind \"recover\""), "exit %d: %s", rc, out);
    /* a plain net without deposit classes, none given */
    snprintf(args, sizeof args, "--target %s --data %s --out %s", g_orig, g_data, tmp("r5"));
    rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "--deposit-classes"), "exit %d: %s", rc, out);
    /* usage errors */
    rc = run_cli("--out x", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "--target"), "exit %d: %s", rc, out);
    rc = run_cli("--target x --methods logit,bogus", out, sizeof out);
    ck_assert_msg(rc == 2 && strstr(out, "bogus"), "exit %d: %s", rc, out);
}
END_TEST

/* The HTML report of the run above loads in headless Chromium with no console
 * message (the page has no script: any message is an error), renders its
 * charts, and asks for nothing from the network. */
START_TEST(html_report_loads_in_chromium) {
    char html[600], cmd[2000];
    snprintf(html, sizeof html, "%s/report.html", tmp("rep1"));
    ck_assert_msg(access(html, R_OK) == 0, "%s missing (the leakage test makes it)", html);
    const char *chromium = NULL;
    if (system("command -v chromium >/dev/null 2>&1") == 0) chromium = "chromium";
    else if (system("command -v chromium-browser >/dev/null 2>&1") == 0) chromium = "chromium-browser";
    ck_assert_msg(chromium != NULL, "chromium is not installed: the HTML report cannot be checked "
                                    "(scripts/deps-debian.sh installs Debian's chromium)");
    const char *dom = tmp("dom.html"), *log = tmp("chromium.log");
    snprintf(cmd, sizeof cmd,
             "HOME=%s %s --headless --no-sandbox --disable-gpu --user-data-dir=%s/chromium-profile "
             "--enable-logging=stderr --v=0 --virtual-time-budget=3000 --dump-dom file://%s "
             ">%s 2>%s",
             g_dir, chromium, g_dir, html, dom, log);
    ck_assert_msg(system(cmd) == 0, "chromium failed on %s (see %s)", html, log);
    FILE *f = fopen(dom, "r");
    ck_assert_ptr_nonnull(f);
    static char d[1 << 20];
    size_t n = fread(d, 1, sizeof d - 1, f);
    d[n] = 0;
    fclose(f);
    ck_assert_msg(strstr(d, "Verdict: leakage") && strstr(d, "</html>"), "the page did not render");
    int svgs = 0;
    for (const char *p = d; (p = strstr(p, "<svg")); p++) svgs++;
    ck_assert_msg(svgs >= 2, "%d inline SVG charts, want the bars and the ROC curve", svgs);
    ck_assert_msg(!strstr(d, "src=") && !strstr(d, "href=") && !strstr(d, "<script"),
                  "the page loads or runs something");
    f = fopen(log, "r");
    ck_assert_ptr_nonnull(f);
    char line[4096];
    while (fgets(line, sizeof line, f))
        ck_assert_msg(!strstr(line, ":CONSOLE"), "console message: %s", line);
    fclose(f);
}
END_TEST

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-verify-%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 1;
    Suite *s = suite_create("verify");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, auc_matches_pairwise_count);
    tcase_add_test(tc, tpr_at_fpr_and_intervals);
    tcase_add_test(tc, original_as_target_reports_leakage);
    tcase_add_test(tc, html_report_loads_in_chromium);
    tcase_add_test(tc, every_role_and_control);
    tcase_add_test(tc, negative_control_as_target_passes);
    tcase_add_test(tc, controls_that_agree_give_inconclusive);
    tcase_add_test(tc, judge_follows_calibration);
    tcase_add_test(tc, bad_inputs_exit_2);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
