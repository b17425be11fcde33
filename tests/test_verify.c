/* lirf verify: ROC AUC / TPR / intervals against plain C computations; a
 * distillation student learning a teacher's knowledge without labels; the
 * command end to end on a tiny synthetic data set (the original given as the
 * target must be reported as leaking, exit 1, with reports that parse); bad
 * inputs exit 2 with a message that names the problem. */
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

/* Trains a small ResNet-18 on the synthetic training split, saves it. */
static void make_original(const char *data_dir, const char *path) {
    lirf_data_opts dopt = {.path = data_dir, .train = 1};
    lirf_dataset d;
    ck_assert_msg(lirf_dataset_load(&dopt, &d) == LIRF_OK, "%s", lirf_error_message());
    lirf_model_meta m = {0};
    m.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                              .in_w = S, .classes = K, .first = 0, .last = 5};
    m.class_names = d.class_names;
    lirf_dataset_stats(&d, m.mean, m.std);
    lirf_net *net;
    ck_assert_int_eq(lirf_net_create(tctx(), &m.cfg, &net), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(net, 3), LIRF_OK);
    lirf_loader_opts lo = {.data = &d, .batch = 32, .shuffle = 1, .drop_last = 1, .seed = 1};
    lo.mean[0] = m.mean[0], lo.std[0] = m.std[0];
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = 4, o.batch = 32, o.lr = 0.05f, o.aug = (lirf_aug_params){0};
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

static char g_data[512], g_orig[512];

static void setup_data(void) {
    if (g_data[0]) return;
    snprintf(g_data, sizeof g_data, "%s/data", g_dir);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_data);
    ck_assert_int_eq(system(cmd), 0);
    write_idx(g_data, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", 800, 1);
    write_idx(g_data, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", 300, 2);
    snprintf(g_orig, sizeof g_orig, "%s/original.safetensors", g_dir);
    make_original(g_data, g_orig);
}

START_TEST(original_as_target_reports_leakage) {
    setup_data();
    char args[2500], out[1 << 16];
    const char *rdir = tmp("rep1");
    snprintf(args, sizeof args,
             "--target %s --original %s --deposit-classes 0,1,2 --data %s --students cnn "
             "--methods logit --labels none --train-subset 640 --epochs 4 --batch 32 "
             "--student-lr 0.05 --mia-samples 200 --probe-train 320 --probe-epochs 3 --out %s",
             g_orig, g_orig, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d, want 1 (leakage); output:\n%s", rc, out);
    /* the three reports exist; the JSON parses and says the same */
    char p[600];
    snprintf(p, sizeof p, "%s/report.json", rdir);
    json_error_t err;
    json_t *r = json_load_file(p, 0, &err);
    ck_assert_msg(r != NULL, "report.json: %s", err.text);
    ck_assert_int_eq(json_integer_value(json_object_get(r, "exit_code")), 1);
    json_t *checks = json_object_get(r, "checks"), *c;
    size_t i;
    int found = 0;
    json_array_foreach(checks, i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        if (strcmp(name, "distill/cnn/logit/labels-none")) continue;
        found = 1;
        double gap = json_number_value(json_object_get(c, "value"));
        ck_assert_msg(gap > 30, "the original's own knowledge: Dep Acc gap %.2f (want > 30)", gap);
        ck_assert_str_eq(json_string_value(json_object_get(c, "verdict")), "leak");
    }
    ck_assert_msg(found, "no distill/cnn/logit/labels-none check in the report");
    /* hashes of the inputs: the model and the four data files */
    const char *sha = json_string_value(json_object_get(json_object_get(json_object_get(r, "inputs"), "target"), "sha256"));
    ck_assert(sha && strlen(sha) == 64);
    char hex[65];
    ck_assert_int_eq(lirf_file_sha256(g_orig, hex), LIRF_OK);
    ck_assert_str_eq(sha, hex);
    ck_assert_int_eq(json_object_size(json_object_get(json_object_get(json_object_get(r, "inputs"), "data"), "files_sha256")), 4);
    /* MIA numbers present for both nets, AUC within [0, 1] */
    json_t *mm = json_object_get(json_object_get(r, "mia"), "models");
    ck_assert_int_eq(json_array_size(mm), 2);
    double auc = json_number_value(json_object_get(json_array_get(mm, 0), "auc"));
    ck_assert(auc >= 0 && auc <= 1);
    /* the power of the no-label checks: the original's no-label student,
     * the same number as its Table 3 row, judged against --power-min */
    json_t *pw = json_object_get(r, "power");
    ck_assert_msg(pw != NULL, "no \"power\" in report.json");
    ck_assert_int_eq(json_array_size(json_object_get(pw, "students")), 1);
    json_t *ps = json_array_get(json_object_get(pw, "students"), 0);
    double pdep = json_number_value(json_object_get(ps, "dep_acc"));
    ck_assert_double_eq(json_number_value(json_object_get(pw, "wanted_dep_acc")), 80);
    int pweak = pdep < 80;
    ck_assert_str_eq(json_string_value(json_object_get(pw, "verdict")), pweak ? "weak" : "ok");
    ck_assert_str_eq(json_string_value(json_object_get(ps, "verdict")), pweak ? "weak" : "ok");
    ck_assert_double_eq_tol(json_number_value(json_object_get(ps, "short_by")),
                            pweak ? 80 - pdep : 0, 1e-9);
    int t3found = 0;
    json_array_foreach(json_object_get(r, "table3"), i, c) {
        if (strcmp(json_string_value(json_object_get(c, "teacher")), "original") ||
            json_is_true(json_object_get(c, "labels")))
            continue;
        t3found = 1;
        ck_assert_double_eq(json_number_value(json_object_get(c, "dep_acc")), pdep);
    }
    ck_assert(t3found);
    char ptext[1024], pnum[32];
    snprintf(ptext, sizeof ptext, "%s", json_string_value(json_object_get(pw, "text")));
    snprintf(pnum, sizeof pnum, "%.2f", pdep);
    ck_assert_msg(strstr(ptext, pnum), "power text lacks %s: %s", pnum, ptext);
    json_decref(r);
    /* Markdown and HTML: their head, and the power section with the same
     * text and number as the JSON */
    const char *names[2] = {"report.md", "report.html"};
    for (int k = 0; k < 2; k++) {
        snprintf(p, sizeof p, "%s/%s", rdir, names[k]);
        FILE *f = fopen(p, "r");
        ck_assert_msg(f != NULL, "%s missing", p);
        static char body[1 << 18];
        size_t got = fread(body, 1, sizeof body - 1, f);
        body[got] = 0;
        fclose(f);
        ck_assert(strstr(body, k ? "<!DOCTYPE html>" : "# lirf verify") == body);
        ck_assert_msg(strstr(body, "Power of the no-label checks"), "%s: no power section", names[k]);
        ck_assert_msg(strstr(body, ptext), "%s lacks the power text", names[k]);
        char cell[64];
        snprintf(cell, sizeof cell, k ? "<td>%s</td><td>80</td>" : "| %s | 80 |", pnum);
        ck_assert_msg(strstr(body, cell), "%s lacks '%s'", names[k], cell);
    }
    /* the reports rendered again from report.json; the recorded exit code */
    snprintf(args, sizeof args, "--from-json %s/report.json --out %s", rdir, tmp("rep1b"));
    rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 1, "exit %d: %s", rc, out);
    snprintf(p, sizeof p, "%s/report.html", tmp("rep1b"));
    ck_assert_msg(access(p, R_OK) == 0, "%s missing", p);
}
END_TEST

/* Every teacher role and control at once (the same net in each role: a
 * stand-in that exercises the paths): the no-label controls become the
 * Independent net's students, relearn gets a verdict, AT runs. */
START_TEST(every_role_and_control) {
    setup_data();
    char args[4000], out[1 << 16];
    const char *rdir = tmp("rep6");
    snprintf(args, sizeof args,
             "--target %s --original %s --independent %s --target-no-at %s --deposit-classes 0,1,2 "
             "--data %s --students cnn,resnet18 --student-width 2 --train-subset 256 --epochs 1 "
             "--batch 32 --mia-samples 100 --probe-train 128 --probe-epochs 1 "
             "--relearn-samples 32 --relearn-max-steps 10 --quiet --out %s",
             g_orig, g_orig, g_orig, g_orig, g_data, rdir);
    int rc = run_cli(args, out, sizeof out);
    ck_assert_msg(rc == 0 || rc == 1, "exit %d; output:\n%s", rc, out);
    char p[600];
    snprintf(p, sizeof p, "%s/report.json", rdir);
    json_error_t err;
    json_t *r = json_load_file(p, 0, &err);
    ck_assert_msg(r != NULL, "report.json: %s", err.text);
    /* 2 students x (no teacher + 4 teachers x 2 methods x 2 label modes) */
    ck_assert_int_eq(json_array_size(json_object_get(r, "distillation_runs")), 2 * (1 + 16));
    json_t *c;
    size_t i;
    int none = 0, relearn = 0;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        const char *name = json_string_value(json_object_get(c, "name"));
        const char *ctl = json_string_value(json_object_get(c, "control_is"));
        if (strstr(name, "labels-none")) {
            none++;
            ck_assert_msg(strstr(ctl, "Independent"), "%s: control %s", name, ctl);
            /* the same net as target and control: no gap */
            ck_assert_double_eq_tol(json_number_value(json_object_get(c, "value")), 0, 1e-9);
        }
        if (!strcmp(name, "relearn")) {
            relearn = 1;
            ck_assert_str_ne(json_string_value(json_object_get(c, "verdict")), "info");
        }
    }
    ck_assert_int_eq(none, 4);
    ck_assert(relearn);
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
    tcase_add_test(tc, bad_inputs_exit_2);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
