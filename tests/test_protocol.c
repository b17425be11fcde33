/* The experiment protocol of model/lirf/protocol.h, without OpenCL and without the
 * CLI: the deposit's hold-out split (pinned, so that a change of which samples
 * a seed holds out is caught; a partition of the samples; the refusals), the
 * -k check interval, Table 1's Pre / Dep / Avg from counts, F and H-Mean by
 * column role, and the JSON builders (any label or class name gives valid JSON). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "util.h"

/* ---- the hold-out split ---- */

START_TEST(holdout_permutation_pinned) {
    /* the first 8 entries, from the permutation as lirf deposit had it in
     * the CLI before it moved here: these samples are held out */
    static const struct { int n; int64_t seed; int32_t first[8]; } pin[] = {
        {10, 1, {9, 3, 5, 8, 4, 0, 2, 6}},
        {20, 1, {10, 16, 3, 0, 19, 1, 7, 15}},
        {6000, 1, {419, 835, 3977, 3490, 2632, 1112, 4531, 690}},
        {10, 5, {2, 4, 5, 9, 1, 8, 0, 7}},
        {20, 5, {15, 4, 13, 2, 11, 14, 8, 3}},
        {6000, 5, {4321, 145, 4576, 1530, 4699, 1960, 3799, 5864}},
        {20, 2147483647, {5, 16, 15, 9, 10, 7, 3, 14}},
        {6000, 2147483647, {99, 4903, 1384, 2693, 5784, 436, 81, 2494}},
    };
    int32_t *p = malloc(6000 * sizeof *p);
    for (size_t t = 0; t < sizeof pin / sizeof pin[0]; t++) {
        lirf_holdout_permutation(pin[t].n, pin[t].seed, p);
        ck_assert_msg(tsame_int("permutation", p, pin[t].first, 8) == 0,
                      "n %d seed %lld: the held-out samples changed", pin[t].n,
                      (long long)pin[t].seed);
    }
    /* the split draws it from lirf_deposit_holdout_seed: --seed unless
     * --holdout-seed is given */
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.holdout = 0.25f, o.seed = 5; /* holdout_seed -1: the seed */
    int32_t *perm;
    size_t nhold;
    ck_assert_int_eq(lirf_holdout_split(20, &o, &perm, &nhold), LIRF_OK);
    ck_assert_uint_eq(nhold, 5);
    ck_assert_int_eq(tsame_int("seed 5", perm, pin[4].first, 8), 0);
    free(perm);
    o.seed = 9, o.holdout_seed = 1;
    ck_assert_int_eq(lirf_holdout_split(20, &o, &perm, &nhold), LIRF_OK);
    ck_assert_int_eq(tsame_int("holdout seed 1", perm, pin[1].first, 8), 0);
    free(perm);
    free(p);
}
END_TEST

START_TEST(holdout_split_partitions) {
    static const struct { int n; float share; size_t nhold; } cases[] = {
        {6000, 0.1f, 600}, {20, 0.25f, 5}, {10, 0.01f, 1 /* llround 0.1 = 0: at least 1 */},
        {2, 0.5f, 1}, {7, 0.5f, 4 /* llround 3.5 */}, {1001, 0.3f, 300},
        /* the product is in float, as it always was: 0.35f * 10 is 3.5 in float
         * but 3.49999994 in double */
        {10, 0.35f, 4}, {10, 0.45f, 5}, {50, 0.13f, 7},
    };
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        int n = cases[t].n;
        o.holdout = cases[t].share, o.holdout_seed = (int64_t)t;
        int32_t *perm = NULL;
        size_t nhold = 0;
        ck_assert_msg(lirf_holdout_split(n, &o, &perm, &nhold) == LIRF_OK, "%s",
                      lirf_error_message());
        ck_assert_uint_eq(nhold, cases[t].nhold);
        /* held out perm[0..nhold), trained perm[nhold..n): each index once */
        char *seen = calloc((size_t)n, 1);
        for (int i = 0; i < n; i++) {
            ck_assert(perm[i] >= 0 && perm[i] < n);
            ck_assert_msg(!seen[perm[i]], "index %d twice", perm[i]);
            seen[perm[i]] = 1;
        }
        free(seen);
        free(perm);
    }
    /* no hold-out: nothing allocated, all samples train */
    o.holdout = 0;
    int32_t *perm = (int32_t *)&o;
    size_t nhold = 7;
    ck_assert_int_eq(lirf_holdout_split(100, &o, &perm, &nhold), LIRF_OK);
    ck_assert_ptr_null(perm);
    ck_assert_uint_eq(nhold, 0);
}
END_TEST

START_TEST(holdout_split_refusals) {
    static const struct { int n; float share; } bad[] = {
        {1, 0.1f},  /* at least 1 held out: none left */
        {1, 0.5f}, {2, 0.75f /* llround 1.5 = 2 */}, {3, 0.9f}, {10, 1.0f}, {10, 3.0f},
        {0, 0.2f},  /* no samples */
        {-4, 0.2f},
    };
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    for (size_t t = 0; t < sizeof bad / sizeof bad[0]; t++) {
        o.holdout = bad[t].share;
        int32_t *perm = (int32_t *)&o;
        size_t nhold = 7;
        lirf_clear_error();
        ck_assert_int_eq(lirf_holdout_split(bad[t].n, &o, &perm, &nhold), LIRF_E_INVALID);
        ck_assert_ptr_null(perm);
        ck_assert_uint_eq(nhold, 0);
        ck_assert(strlen(lirf_error_message()) > 0);
    }
    o.holdout = 0.5f;
    ck_assert_int_eq(lirf_holdout_split(1, &o, &(int32_t *){NULL}, &(size_t){0}), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "leaves no training samples of 1"));
    ck_assert_int_eq(lirf_holdout_split(10, NULL, &(int32_t *){NULL}, &(size_t){0}), LIRF_E_NULL);
}
END_TEST

START_TEST(holdout_every_resolved) {
    ck_assert_int_eq(lirf_holdout_every_steps(0, 47), 0);
    ck_assert_int_eq(lirf_holdout_every_steps(5, 47), 5);
    ck_assert_int_eq(lirf_holdout_every_steps(-8, 47), 6);  /* ceil(47 / 8) */
    ck_assert_int_eq(lirf_holdout_every_steps(-8, 48), 6);
    ck_assert_int_eq(lirf_holdout_every_steps(-8, 49), 7);
    ck_assert_int_eq(lirf_holdout_every_steps(-1, 12), 12); /* once an epoch */
    ck_assert_int_eq(lirf_holdout_every_steps(-8, 3), 1);   /* more checks than steps */
    ck_assert_int_eq(lirf_holdout_every_steps(-4, 0), 0);
    ck_assert_int_eq(lirf_holdout_every_steps(INT_MIN, 10), 1);
}
END_TEST

/* ---- Table 1 ---- */

/* 4 classes: correct, samples */
static const int64_t COUNTS[8] = {8, 10, 5, 10, 3, 4, 0, 6};

START_TEST(pre_dep_avg_from_counts) {
    double pre, dep, avg;
    const int32_t d13[] = {1, 3};
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, d13, 2, &pre, &dep, &avg), LIRF_OK);
    ck_assert(dep == 100.0 * 5 / 16);
    ck_assert(pre == 100.0 * 11 / 14);
    ck_assert(avg == 100.0 * 16 / 30);
    /* the order and repeats of the deposit classes do not matter */
    const int32_t d313[] = {3, 1, 3};
    double p2, d2, a2;
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, d313, 3, &p2, &d2, &a2), LIRF_OK);
    ck_assert(p2 == pre && d2 == dep && a2 == avg);
    /* no deposit classes: Pre is Avg, Dep has no samples */
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, NULL, 0, &pre, &dep, &avg), LIRF_OK);
    ck_assert(pre == avg && isnan(dep));
    /* every class deposited: no Pre */
    const int32_t all[] = {0, 1, 2, 3};
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, all, 4, &pre, &dep, &avg), LIRF_OK);
    ck_assert(isnan(pre) && dep == avg);
    /* a deposit class with no samples at all */
    const int64_t empty[8] = {8, 10, 0, 0, 3, 4, 0, 0};
    const int32_t d1[] = {1};
    ck_assert_int_eq(lirf_pre_dep_avg(empty, 4, d1, 1, &pre, &dep, &avg), LIRF_OK);
    ck_assert(isnan(dep) && pre == 100.0 * 11 / 14 && avg == pre);
    /* deposit classes outside the model */
    const int32_t d4[] = {1, 4}, dm[] = {-1};
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, d4, 2, &pre, &dep, &avg), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 4, dm, 1, &pre, &dep, &avg), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_pre_dep_avg(COUNTS, 0, NULL, 0, &pre, &dep, &avg), LIRF_E_INVALID);
    /* the Independent column: Pre of one net, Dep of the other */
    lirf_table1_col c;
    lirf_table1_col_init(&c, LIRF_COL_INDEPENDENT, "Independent", NULL);
    const int64_t other[8] = {1, 10, 9, 10, 1, 4, 6, 6};
    ck_assert_int_eq(lirf_table1_independent(&c, COUNTS, other, 4, d13, 2), LIRF_OK);
    ck_assert(c.pre == 100.0 * 11 / 14 && c.dep == 100.0 * 15 / 16 && isnan(c.avg));
    ck_assert_str_eq(c.label, "Independent");
}
END_TEST

START_TEST(f_and_hmean_by_role) {
    double F, H;
    lirf_table1_f_hmean(96, 90, 30, &F, &H);
    ck_assert(F == 66 && fabs(H - 2.0 * 90 * 66 / 156) < 1e-12);
    lirf_table1_col cols[5];
    lirf_table1_col_init(&cols[0], LIRF_COL_INDEPENDENT, "Independent", NULL);
    lirf_table1_col_init(&cols[1], LIRF_COL_ORIGINAL, "Original", "t0");
    lirf_table1_col_init(&cols[2], LIRF_COL_TARGET, "Withdrawal", "t");   /* the label is no role */
    lirf_table1_col_init(&cols[3], LIRF_COL_RECOVER, "Deposit (r)", "r"); /* nor here */
    lirf_table1_col_init(&cols[4], LIRF_COL_TARGET, "Second target", "t2");
    double v[5][3] = {{91, 97, NAN}, {92, 96, 94}, {90, 30, 60}, {92, 95, 93}, {80, 0, 40}};
    for (int i = 0; i < 5; i++) cols[i].pre = v[i][0], cols[i].dep = v[i][1], cols[i].avg = v[i][2];
    lirf_table1_score(lirf_table1_find(cols, 5, LIRF_COL_ORIGINAL), cols, 5);
    ck_assert(cols[2].scored && cols[4].scored && !cols[1].scored && !cols[3].scored);
    ck_assert(cols[2].F == 66 && cols[2].H == H);
    ck_assert(cols[4].F == 96 && cols[4].H == 2.0 * 80 * 96 / 176);
    const int none[] = {0, 1, 3}; /* independent, original, recover: no F */
    for (int i = 0; i < 3; i++) ck_assert(isnan(cols[none[i]].F) && isnan(cols[none[i]].H));
    /* no original: no F anywhere */
    lirf_table1_score(NULL, cols, 5);
    for (int i = 0; i < 5; i++) ck_assert(isnan(cols[i].F) && isnan(cols[i].H) && !cols[i].scored);
    /* nor when T0's Dep Acc is unknown (no deposit-class samples) */
    cols[1].dep = NAN;
    lirf_table1_score(&cols[1], cols, 5);
    ck_assert(!cols[2].scored && isnan(cols[2].F));
    /* a target scored but with no Dep Acc of its own: F and H are NAN */
    cols[1].dep = 96, cols[2].dep = NAN;
    lirf_table1_score(&cols[1], cols, 5);
    ck_assert(cols[2].scored && isnan(cols[2].F) && isnan(cols[2].H));
    ck_assert_ptr_null(lirf_table1_find(cols, 5, LIRF_COL_OTHER));
    ck_assert_ptr_eq(lirf_table1_find(cols, 5, LIRF_COL_TARGET), &cols[2]);
}
END_TEST

START_TEST(round2_as_printf) {
    ck_assert(lirf_round2(0.125) == 0.12); /* exactly half: printf rounds to even */
    ck_assert(lirf_round2(0.375) == 0.38);
    ck_assert(lirf_round2(100.0 * 2 / 3) == 66.67);
    ck_assert(lirf_round2(93.4) == 93.4);
    ck_assert(lirf_round2(-0.004) == 0 && signbit(lirf_round2(-0.004)));
    ck_assert(isnan(lirf_round2(NAN)) && isinf(lirf_round2(INFINITY)));
    ck_assert(lirf_round2(1e300) == 1e300);
}
END_TEST

START_TEST(table1_json_text_and_quoting) {
    lirf_table1_col cols[3];
    lirf_table1_col_init(&cols[0], LIRF_COL_ORIGINAL, "Original", "t0.safetensors");
    lirf_table1_col_init(&cols[1], LIRF_COL_TARGET, "Deposit", NULL);
    lirf_table1_col_init(&cols[2], LIRF_COL_RECOVER, "say \"hi\" \\ back\tslash", "C:\\r \"x\".st");
    cols[0].pre = 93.4, cols[0].dep = 100, cols[0].avg = 100.0 * 2 / 3;
    cols[1].pre = 92.123, cols[1].dep = 0.125, cols[1].avg = 50;
    cols[2].pre = NAN, cols[2].dep = 95, cols[2].avg = NAN;
    lirf_table1_score(&cols[0], cols, 3);
    json_t *j = lirf_table1_json(cols, 3);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, LIRF_JSON_DUMP_FLAGS);
    json_decref(j);
    const char *want =
        "[{\"column\":\"Original\",\"path\":\"t0.safetensors\",\"pre_acc\":93.4,\"dep_acc\":100.0,"
        "\"avg_acc\":66.67},"
        "{\"column\":\"Deposit\",\"path\":\"\",\"pre_acc\":92.12,\"dep_acc\":0.12,\"avg_acc\":50.0,"
        "\"F\":99.88,\"H_mean\":95.84},"
        "{\"column\":\"say \\\"hi\\\" \\\\ back\\tslash\",\"path\":\"C:\\\\r \\\"x\\\".st\","
        "\"pre_acc\":null,\"dep_acc\":95.0}]";
    ck_assert_str_eq(s, want);
    /* and it parses back to the same strings */
    json_error_t err;
    json_t *back = json_loads(s, 0, &err);
    ck_assert_msg(back != NULL, "invalid JSON: %s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(back, 2), "column")),
                     cols[2].label);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(back, 2), "path")),
                     cols[2].path);
    ck_assert(json_real_value(json_object_get(json_array_get(back, 1), "F")) == 99.88);
    json_decref(back);
    free(s);
    /* unscored (no original): no F keys; scored with no Dep Acc: null */
    lirf_table1_score(NULL, cols, 3);
    j = lirf_table1_json(cols, 3);
    ck_assert_ptr_null(json_object_get(json_array_get(j, 1), "F"));
    json_decref(j);
    cols[1].dep = NAN;
    lirf_table1_score(&cols[0], cols, 3);
    j = lirf_table1_json(cols, 3);
    ck_assert(json_is_null(json_object_get(json_array_get(j, 1), "F")));
    ck_assert(json_is_null(json_object_get(json_array_get(j, 1), "H_mean")));
    json_decref(j);
}
END_TEST

START_TEST(eval_report_json_class_names) {
    char n0[] = "T-shirt/top", n1[] = "a \"quoted\" name", n2[] = "back\\slash", n3[] = "bad \xff byte";
    char *names[] = {n0, n1, n2, n3};
    const int64_t counts[8] = {8, 10, 5, 10, 3, 4, 0, 0};
    const int32_t dep[] = {1};
    json_t *j = lirf_eval_report_json("m \"1\".safetensors", counts, 4, dep, 1, names);
    ck_assert_ptr_nonnull(j);
    char *s = json_dumps(j, LIRF_JSON_DUMP_FLAGS);
    json_decref(j);
    json_error_t err;
    json_t *back = json_loads(s, 0, &err);
    ck_assert_msg(back != NULL, "invalid JSON: %s in %s", err.text, s);
    ck_assert_str_eq(json_string_value(json_object_get(back, "model")), "m \"1\".safetensors");
    ck_assert(json_real_value(json_object_get(back, "accuracy")) == 66.67); /* 16 / 24 */
    ck_assert(json_real_value(json_object_get(back, "pre_acc")) == 78.57);  /* 11 / 14 */
    ck_assert(json_real_value(json_object_get(back, "dep_acc")) == 50.0);
    json_t *per = json_object_get(back, "per_class");
    ck_assert_uint_eq(json_array_size(per), 4);
    for (int k = 0; k < 3; k++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(per, k), "name")),
                         names[k]);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(per, 3), "name")), "bad ? byte");
    ck_assert(json_is_null(json_object_get(json_array_get(per, 3), "accuracy"))); /* no samples */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(per, 1), "samples")), 10);
    ck_assert_ptr_nonnull(strstr(s, "\"per_class\":[{\"class\":0,\"name\":\"T-shirt/top\","
                                    "\"accuracy\":80.0,\"samples\":10},"));
    json_decref(back);
    free(s);
    /* without deposit classes no pre/dep keys; a bad class is refused */
    j = lirf_eval_report_json("m", counts, 4, NULL, 0, NULL);
    ck_assert_ptr_null(json_object_get(j, "pre_acc"));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(j, "per_class"), 0), "name")), "");
    json_decref(j);
    const int32_t bad[] = {7};
    ck_assert_ptr_null(lirf_eval_report_json("m", counts, 4, bad, 1, NULL));
}
END_TEST

int main(void) {
    Suite *s = suite_create("protocol");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, holdout_permutation_pinned);
    tcase_add_test(tc, holdout_split_partitions);
    tcase_add_test(tc, holdout_split_refusals);
    tcase_add_test(tc, holdout_every_resolved);
    tcase_add_test(tc, pre_dep_avg_from_counts);
    tcase_add_test(tc, f_and_hmean_by_role);
    tcase_add_test(tc, round2_as_printf);
    tcase_add_test(tc, table1_json_text_and_quoting);
    tcase_add_test(tc, eval_report_json_class_names);
    suite_add_tcase(s, tc);
    return trun(s);
}
