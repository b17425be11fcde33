/* lirf reproduce (reproduce/) on a tiny IDX data set (12x12, 10 classes):
 *  - `lirf reproduce --table 1 --quick` runs, writes a record per step and
 *    seed, results.json and results.md with the plots;
 *  - a reproduction killed in T0's training and again in a deposit, then run
 *    to the end, gives every record (figures and net hashes) of the run that
 *    was never killed; a third run has nothing to do;
 *  - a step that must run again and finds its input net gone makes it again
 *    (the plan lists it, with its estimate), and gets the same figures;
 *  - a record made with other settings is refused, naming it;
 *  - the results' arithmetic (means, 95% intervals, the Independent column's
 *    Avg, F and H-Mean) on records written here;
 *  - `--table 4 --quick`: every record, Table 4's results, Markdown and plots;
 *    a method killed in a later task keeps the task nets it finished and
 *    ends with the same figures;
 *  - --table parsing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "reproduce.h"
#include "util.h"
#include "verify.h"

static char g_dir[256];

static const char *tpath(const char *name) {
    static char b[8][1024];
    static int k;
    char *p = b[k++ % 8];
    snprintf(p, 1024, "%s/%s", g_dir, name);
    return p;
}

/* Runs `[env] lirf reproduce ARGS` (stderr with stdout) into out; its exit
 * status, -1 when killed. */
static int run_repro(const char *env, const char *args, char *out, size_t cap) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s reproduce %s 2>&1", g_dir, env ? env : "",
             tlirf_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, cap - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

#define QUICK "--table 1 --quick --batch 16 --data data --name tiny --seeds 2"
static const char *STEPS1[] = {"t0", "independent-pre", "independent-dep", "deposit"};

static json_t *load(const char *path) {
    json_error_t e;
    json_t *j = json_load_file(path, 0, &e);
    ck_assert_msg(j != NULL, "%s: %s", path, e.text);
    return j;
}

static json_t *record(const char *out, const char *step, int seed) {
    char p[512];
    snprintf(p, sizeof p, "%s/records/tiny-w8-custom/seed%d/%s.json", out, seed, step);
    return load(tpath(p));
}

/* Every record of out2 has out1's figures and net hash. */
static void same_records(const char *out1, const char *out2) {
    for (int seed = 1; seed <= 2; seed++)
        for (int s = 0; s < 4; s++) {
            json_t *a = record(out1, STEPS1[s], seed), *b = record(out2, STEPS1[s], seed);
            ck_assert_msg(json_equal(json_object_get(a, "metrics"), json_object_get(b, "metrics")),
                          "seed %d %s: other figures after the resume", seed, STEPS1[s]);
            json_t *ha = json_object_get(a, "net_sha256"), *hb = json_object_get(b, "net_sha256");
            ck_assert(ha && hb && json_equal(ha, hb));
            json_decref(a), json_decref(b);
        }
}

START_TEST(quick_table1_runs) {
    static char out[1 << 16];
    int rc = run_repro(NULL, QUICK " --out A", out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "8 of 8 steps to run"));
    json_t *res = load(tpath("A/results.json"));
    json_t *ds = json_array_get(json_object_get(res, "datasets"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(ds, "name")), "tiny-w8-custom");
    ck_assert_int_eq(json_integer_value(json_object_get(ds, "seeds")), 2);
    json_t *rows = json_object_get(json_object_get(ds, "table1"), "rows");
    ck_assert_int_eq(json_array_size(rows), 5);
    /* Pre Acc of the Original: both seeds */
    json_t *pre0 = json_array_get(json_object_get(json_array_get(rows, 0), "values"), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(pre0, "n")), 2);
    ck_assert(access(tpath("A/results.md"), R_OK) == 0);
    ck_assert(access(tpath("A/tiny-w8-custom-table1.svg"), R_OK) == 0);
    for (int s = 0; s < 4; s++) json_decref(record("A", STEPS1[s], 2));
    json_decref(res);
}
END_TEST

/* the last 1500 characters of a command's output (Check's messages are short) */
static const char *tail(const char *out) {
    size_t n = strlen(out);
    return out + (n > 1500 ? n - 1500 : 0);
}

#define QUICK4 "--table 4 --quick --batch 16 --data data --name tiny --seeds 1"

/* Table 4 (quick, tiny data): every step's record, results.json's Table 4
 * (2 and 5 tasks: A, F and H of every method and LIRF, LwSF not built), the
 * Markdown and the plots; a method run again without its last task nets,
 * killed in its fourth task, keeps the task nets there are and ends with
 * the same figures and net. */
START_TEST(quick_table4_runs) {
    static char out[1 << 17];
    int rc = run_repro(NULL, QUICK4 " --out D", out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "21 of 21 steps to run"), "%s", tail(out));
    json_t *res = load(tpath("D/results.json"));
    json_t *t4 = json_object_get(json_array_get(json_object_get(res, "datasets"), 0), "table4");
    json_t *sets = json_object_get(t4, "settings");
    ck_assert_int_eq(json_array_size(sets), 2);
    for (size_t k = 0; k < 2; k++) {
        json_t *st = json_array_get(sets, k), *row;
        size_t i;
        ck_assert_int_eq(json_integer_value(json_object_get(st, "tasks")), k ? 5 : 2);
        json_array_foreach(json_object_get(st, "rows"), i, row) {
            const char *m = json_string_value(json_object_get(row, "method"));
            json_t *a = json_object_get(json_object_get(row, "mean"), "A");
            if (!strcmp(m, "lwsf")) ck_assert(json_is_null(json_object_get(row, "mean")));
            else ck_assert_msg(json_integer_value(json_object_get(a, "n")) == 1, "%s: no A", m);
        }
    }
    /* a method's record: A, F, H at each step from the second on */
    json_t *r = record("D", "t4-5-ewc", 1);
    json_t *steps = json_object_get(json_object_get(r, "metrics"), "steps");
    ck_assert_int_eq(json_array_size(steps), 5);
    ck_assert(json_is_null(json_object_get(json_array_get(steps, 0), "F")));
    ck_assert(json_is_number(json_object_get(json_array_get(steps, 4), "F")));
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(steps, 4), "tasks")), 5);
    json_decref(r);
    ck_assert(access(tpath("D/tiny-w8-custom-table4-5.svg"), R_OK) == 0);
    char md[1 << 16];
    FILE *f = fopen(tpath("D/results.md"), "r");
    ck_assert_ptr_nonnull(f);
    md[fread(md, 1, sizeof md - 1, f)] = 0;
    fclose(f);
    ck_assert_ptr_nonnull(strstr(md, "#### Table 4"));
    ck_assert_ptr_nonnull(strstr(md, "| EWC*+LwF* |"));
    /* MAS + LwF* (5 tasks) again, without its record, final net and last two
     * task nets, killed in its fourth task: the task nets of tasks 2 and 3
     * are kept, and the step ends with the same figures and net */
    json_t *a = record("D", "t4-5-mas+lwf-sel", 1);
#define MAS_DIR "D/tiny-w8-custom/seed1/t4-5-mas+lwf-sel/"
    static const char *gone[] = {"D/records/tiny-w8-custom/seed1/t4-5-mas+lwf-sel.json",
                                 MAS_DIR "final.safetensors", MAS_DIR "task4.safetensors",
                                 MAS_DIR "task5.safetensors"};
    for (int k = 0; k < 4; k++) ck_assert_msg(unlink(tpath(gone[k])) == 0, "%s", gone[k]);
    rc = run_repro("LIRF_CRASH_AT=incremental-step:1", QUICK4 " --out D", out, sizeof out);
    ck_assert_msg(rc != 0, "not killed: %s", tail(out));
    ck_assert_msg(strstr(out, "task3.safetensors: finished before; kept"), "%s", tail(out));
    rc = run_repro(NULL, QUICK4 " --out D", out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, tail(out));
    ck_assert_msg(strstr(out, "1 of 21 steps to run"), "%s", tail(out));
    json_t *b = record("D", "t4-5-mas+lwf-sel", 1);
    ck_assert(json_equal(json_object_get(a, "net_sha256"), json_object_get(b, "net_sha256")));
    json_t *ma = json_object_get(a, "metrics"), *mb = json_object_get(b, "metrics");
    ck_assert(json_equal(json_object_get(ma, "steps"), json_object_get(mb, "steps")));
    json_decref(a), json_decref(b), json_decref(res);
}
END_TEST

START_TEST(killed_and_resumed_gives_the_same) {
    static char out[1 << 16];
    int rc = run_repro("LIRF_CRASH_AT=train-step:8", QUICK " --out B", out, sizeof out);
    ck_assert_msg(rc != 0, "not killed: %s", out);
    ck_assert(access(tpath("B/records/tiny-w8-custom/seed1/t0.json"), F_OK) != 0);
    /* T0's state, as if left by a run of other settings: not resumed */
    FILE *f = fopen(tpath("B/tiny-w8-custom/seed1/t0.safetensors.state.safetensors.settings.json"), "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"epochs\": 99}\n", f);
    fclose(f);
    rc = run_repro("LIRF_CRASH_AT=deposit-step:3", QUICK " --out B", out, sizeof out);
    ck_assert_msg(rc != 0, "not killed in the deposit: %s", out);
    ck_assert_msg(strstr(out, "was made with other settings; starting afresh"), "%s", out);
    ck_assert(access(tpath("B/records/tiny-w8-custom/seed1/t0.json"), F_OK) == 0);
    ck_assert(access(tpath("B/records/tiny-w8-custom/seed1/deposit.json"), F_OK) != 0);
    rc = run_repro(NULL, QUICK " --out B", out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    same_records("A", "B");
    json_t *r = record("B", "deposit", 1), *r2 = record("A", "deposit", 1);
    ck_assert(json_is_true(json_object_get(r, "resumed"))); /* its time: since it resumed */
    ck_assert_ptr_null(json_object_get(r2, "resumed"));
    json_decref(r), json_decref(r2);
    json_t *a = load(tpath("A/results.json")), *b = load(tpath("B/results.json"));
    json_t *ta = json_object_get(json_array_get(json_object_get(a, "datasets"), 0), "table1");
    json_t *tb = json_object_get(json_array_get(json_object_get(b, "datasets"), 0), "table1");
    ck_assert(json_equal(ta, tb));
    json_decref(a), json_decref(b);
    rc = run_repro(NULL, QUICK " --out B", out, sizeof out);
    ck_assert_msg(rc == 0 && strstr(out, "0 of 8 steps to run"), "rc %d: %s", rc, out);
}
END_TEST

START_TEST(a_missing_net_is_made_again) {
    static char out[1 << 16];
    ck_assert_int_eq(unlink(tpath("B/tiny-w8-custom/seed1/t0.safetensors")), 0);
    ck_assert_int_eq(unlink(tpath("B/records/tiny-w8-custom/seed1/deposit.json")), 0);
    int rc = run_repro(NULL, QUICK " --out B", out, sizeof out);
    ck_assert_msg(rc == 0, "rc %d: %s", rc, out);
    ck_assert_ptr_nonnull(strstr(out, "its net is not in the output folder"));
    ck_assert_ptr_null(strstr(out, "made another net"));
    /* the plan lists T0's net, to be made again first, with its estimate */
    ck_assert_msg(strstr(out, "2 of 8 steps to run"), "%.1400s", out);
    ck_assert_ptr_nonnull(strstr(out, "(recorded; its net is made again)"));
    same_records("A", "B");
}
END_TEST

START_TEST(other_settings_refused) {
    static char out[1 << 16];
    json_t *r = record("A", "t0", 1);
    json_object_set_new(json_object_get(r, "settings"), "epochs", json_integer(99));
    ck_assert_int_eq(json_dump_file(r, tpath("A/records/tiny-w8-custom/seed1/t0.json"), 0), 0);
    json_decref(r);
    int rc = run_repro(NULL, QUICK " --out A", out, sizeof out);
    ck_assert_int_eq(rc, 2);
    ck_assert_ptr_nonnull(strstr(out, "seed1/t0.json was made with other settings"));
}
END_TEST

/* A record of step id, seed, with metrics m (stolen). */
static void fake(const char *recs, const char *id, int seed, json_t *m) {
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "mkdir -p %s/fake-w16/seed%d", recs, seed);
    ck_assert_int_eq(system(dir), 0);
    snprintf(path, sizeof path, "%s/fake-w16/seed%d/%s.json", recs, seed, id);
    json_t *r = json_pack("{s:s,s:s,s:i,s:o,s:f}", "format", "lirf-reproduce-record-1", "step", id,
                          "seed", seed, "metrics", m, "seconds", 10.0);
    ck_assert_int_eq(json_dump_file(r, path, 0), 0);
    json_decref(r);
}

static double cell(json_t *ds, int row, int col, const char *k) {
    json_t *rows = json_object_get(json_object_get(ds, "table1"), "rows");
    json_t *v = json_array_get(json_object_get(json_array_get(rows, (size_t)row), "values"), (size_t)col);
    return json_number_value(json_object_get(v, k));
}

START_TEST(results_arithmetic) {
    const char *recs = tpath("fake");
    for (int s = 1; s <= 3; s++) {
        fake(recs, "t0", s, json_pack("{s:f,s:f,s:f}", "pre_acc", 89.0 + s, "dep_acc", 80.0,
                                      "avg_acc", 85.0));
        fake(recs, "independent-pre", s, json_pack("{s:f,s:i}", "pre_acc", 90.0, "pre_images", 700));
        fake(recs, "independent-dep", s, json_pack("{s:f,s:i}", "dep_acc", 96.0 + 2 * (s - 2),
                                                  "dep_images", 300));
        fake(recs, "deposit", s, json_pack("{s:{s:f,s:f,s:f,s:f}}", "target", "pre_acc", 88.0,
                                           "dep_acc", 10.0, "F", 70.0, "H_mean", 77.0));
    }
    json_t *res = NULL;
    ck_assert_int_eq(lirf_repro_results(recs, &res), LIRF_OK);
    json_t *ds = json_array_get(json_object_get(res, "datasets"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(ds, "seeds")), 3);
    /* Original Pre: 90, 91, 92 -> 91 +- t(2) * 1 / sqrt(3) */
    ck_assert(fabs(cell(ds, 0, 1, "mean") - 91.0) < 1e-9);
    ck_assert(fabs(cell(ds, 0, 1, "ci95") - lirf_t975(2) / sqrt(3.0)) < 1e-9);
    ck_assert(fabs(lirf_t975(2) - 4.303) < 1e-9); /* 4.3027, to three decimals */
    /* Independent: Pre 90, Dep 94/96/98, Avg (0.7 * 90 + 0.3 * dep) */
    ck_assert(fabs(cell(ds, 1, 0, "mean") - 96.0) < 1e-9);
    ck_assert(fabs(cell(ds, 4, 0, "mean") - (0.7 * 90 + 0.3 * 96)) < 1e-9);
    ck_assert(fabs(cell(ds, 4, 0, "ci95") - 0.3 * 2 * lirf_t975(2) / sqrt(3.0)) < 1e-9);
    /* Deposit: F and H-Mean as recorded, with no interval */
    ck_assert(fabs(cell(ds, 2, 2, "mean") - 70.0) < 1e-9 && cell(ds, 2, 2, "ci95") == 0);
    ck_assert(fabs(cell(ds, 3, 2, "mean") - 77.0) < 1e-9);
    /* a column without records is null */
    json_t *rows = json_object_get(json_object_get(ds, "table1"), "rows");
    ck_assert(json_is_null(json_array_get(json_object_get(json_array_get(rows, 0), "values"), 3)));
    ck_assert_int_eq(lirf_repro_write_md(res, tpath("fake.md"), NULL), LIRF_OK);
    FILE *f = fopen(tpath("fake.md"), "r");
    char buf[1 << 15];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    char want[128];
    snprintf(want, sizeof want, "| Pre Acc | 90.00 ± 0.00 | 91.00 ± %.2f | 88.00 ± 0.00 | — |",
             lirf_t975(2) / sqrt(3.0));
    ck_assert_msg(strstr(buf, want) != NULL, "no \"%s\" in:\n%s", want, buf);
    ck_assert(access(tpath("fake-w16-table1.svg"), R_OK) == 0);
    /* into a file of people's words: between its marks only, the plots in a
     * subfolder; a file without the marks is refused and left as it was */
    FILE *g = fopen(tpath("mixed.md"), "w");
    fprintf(g, "# Mine\n\nbefore\n<!-- lirf reproduce: begin (generated; do not edit) -->\nold\n"
               "<!-- lirf reproduce: end -->\nafter\n");
    fclose(g);
    ck_assert_int_eq(lirf_repro_write_md(res, tpath("mixed.md"), "plots"), LIRF_OK);
    f = fopen(tpath("mixed.md"), "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    const char *head = "# Mine\n\nbefore\n<!-- lirf reproduce: begin";
    ck_assert(!strncmp(buf, head, strlen(head)));
    ck_assert(strstr(buf, want) && !strstr(buf, "\nold\n"));
    ck_assert_ptr_nonnull(strstr(buf, "](plots/fake-w16-table1.svg)"));
    ck_assert(access(tpath("plots/fake-w16-table1.svg"), R_OK) == 0);
    n = strlen(buf);
    ck_assert_str_eq(buf + n - 35, "<!-- lirf reproduce: end -->\nafter\n");
    g = fopen(tpath("plain.md"), "w");
    fprintf(g, "# not generated\n");
    fclose(g);
    ck_assert_int_eq(lirf_repro_write_md(res, tpath("plain.md"), NULL), LIRF_E_INVALID);
    f = fopen(tpath("plain.md"), "r");
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    ck_assert(n == 16 && !strncmp(buf, "# not generated\n", 16));
    json_decref(res);
}
END_TEST

START_TEST(tables_parse) {
    int b = 0;
    ck_assert_int_eq(lirf_repro_parse_tables("1,fig4", &b), LIRF_OK);
    ck_assert_int_eq(b, LIRF_REPRO_TABLE1 | LIRF_REPRO_FIG4);
    ck_assert_int_eq(lirf_repro_parse_tables("all", &b), LIRF_OK);
    ck_assert_int_eq(b, LIRF_REPRO_ALL);
    ck_assert_int_eq(lirf_repro_parse_tables("5", &b), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_repro_parse_tables("1,,", &b), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_repro_parse_tables("4,2", &b), LIRF_OK);
    ck_assert_int_eq(b, LIRF_REPRO_TABLE4 | LIRF_REPRO_TABLE2);
    ck_assert_int_eq(lirf_repro_parse_tables("six", &b), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "\"six\""));
}
END_TEST

static void write_data(void) {
    twrite_idx(tpath("data/train-images-idx3-ubyte"), tpath("data/train-labels-idx1-ubyte"), 96, 7, 1);
    twrite_idx(tpath("data/t10k-images-idx3-ubyte"), tpath("data/t10k-labels-idx1-ubyte"), 40, 9, 1);
}

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-reproduce-%ld", (long)getpid());
    if (mkdir(g_dir, 0755) != 0 || mkdir(tpath("data"), 0755) != 0) return 1;
    Suite *s = suite_create("reproduce");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 900);
    tcase_add_unchecked_fixture(tc, write_data, NULL);
    tcase_add_test(tc, tables_parse);
    tcase_add_test(tc, results_arithmetic);
    /* in order: the later tests read the first ones' files */
    tcase_add_test(tc, quick_table1_runs);
    tcase_add_test(tc, killed_and_resumed_gives_the_same);
    tcase_add_test(tc, a_missing_net_is_made_again);
    tcase_add_test(tc, other_settings_refused);
    tcase_add_test(tc, quick_table4_runs);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
