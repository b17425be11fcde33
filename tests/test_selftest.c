/* lirf_selftest (model/selftest/): every built-in case passes on the test
 * device; a case with a wrong tolerance, a wrong reference or a failing call
 * fails, so that the selftest cannot pass silently; the JSON says so. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ref.h"
#include "selftest.h"
#include "util.h"

START_TEST(every_case_passes) {
    const lirf_selftest_case *cases;
    size_t n = lirf_selftest_cases(&cases);
    ck_assert_uint_ge(n, 30);
    lirf_selftest_result *r = calloc(n, sizeof *r);
    int failed = -1;
    ck_assert_int_eq(lirf_selftest_run(tctx(), cases, n, r, &failed), LIRF_OK);
    for (size_t k = 0; k < n; k++) {
        ck_assert_msg(r[k].pass, "%s: error %g (tolerance %g), %s %s", r[k].name, r[k].max_err,
                      r[k].tol, lirf_status_name(r[k].status), r[k].message);
        ck_assert_msg(r[k].max_err >= 0 && r[k].seconds >= 0, "%s", r[k].name);
    }
    ck_assert_int_eq(failed, 0);
    /* the names are unique: one line per op */
    for (size_t a = 0; a < n; a++)
        for (size_t b = a + 1; b < n; b++) ck_assert_str_ne(cases[a].name, cases[b].name);
    free(r);
}
END_TEST

/* The ops every network uses must be in the table (forward and backward). */
START_TEST(cases_cover_the_ops) {
    static const char *const ops[] = {
        "relu_forward", "relu_backward", "add", "add_relu", "axpy", "scale", "count_nonfinite",
        "conv2d_forward", "conv2d_backward", "bn_forward_train", "bn_forward_infer",
        "bn_backward", "bn_backward_infer", "maxpool2_forward", "maxpool2_backward",
        "maxpool_forward", "maxpool_backward",
        "gap_forward", "gap_backward", "linear_forward", "linear_backward",
        "softmax_ce_forward", "softmax_ce_backward", "kd_forward", "kd_backward", "argmax",
        "class_counts", "at_map", "at_loss_forward", "at_loss_backward", "mse_forward",
        "mse_backward", "sgd_step", "augment",
        "merge_columns", "split_columns_acc", "gemm"};
    const lirf_selftest_case *cases;
    size_t n = lirf_selftest_cases(&cases);
    for (size_t i = 0; i < sizeof ops / sizeof *ops; i++) {
        int found = 0;
        for (size_t k = 0; k < n; k++) found |= !strcmp(cases[k].name, ops[i]);
        ck_assert_msg(found, "no selftest case for %s", ops[i]);
    }
}
END_TEST

/* relu on the device against a wrong reference (the identity) */
static void wrong_reference(lirf_selftest_env *e) {
    enum { N = 64 };
    double *x = lirf_selftest_rand(e, N, -1, 1);
    lirf_buf bx = lirf_selftest_up(e, x, N);
    lirf_selftest_call(e, lirf_relu_forward(lirf_selftest_ctx(e), bx, bx, N));
    lirf_selftest_check(e, bx, x, N); /* should be ref_relu_forward's */
}

/* an op refusing its arguments: the case fails with the op's error */
static void failing_call(lirf_selftest_env *e) {
    double *x = lirf_selftest_rand(e, 8, -1, 1);
    lirf_buf bx = lirf_selftest_up(e, x, 8);
    lirf_selftest_call(e, lirf_relu_forward(lirf_selftest_ctx(e), LIRF_NOBUF, bx, 8));
    lirf_selftest_check(e, bx, x, 8);
}

/* a wrong integer reference */
static void wrong_int(lirf_selftest_env *e) {
    int32_t *c = lirf_selftest_host_int(e, 1);
    double *x = lirf_selftest_rand(e, 16, -1, 1);
    x[5] = NAN;
    lirf_buf bc = lirf_selftest_up_int(e, c, 1), bx = lirf_selftest_up(e, x, 16);
    lirf_selftest_call(e, lirf_count_nonfinite(lirf_selftest_ctx(e), bc, bx, 16));
    c[0] = 2; /* the truth is 1 */
    lirf_selftest_check_int(e, bc, c, 1);
}

START_TEST(injected_faults_fail) {
    const lirf_selftest_case *builtin;
    size_t nb = lirf_selftest_cases(&builtin);
    lirf_selftest_case cases[5];
    size_t gemm = nb;
    for (size_t k = 0; k < nb; k++)
        if (!strcmp(builtin[k].name, "gemm")) gemm = k;
    ck_assert_uint_lt(gemm, nb);
    cases[0] = builtin[gemm];
    cases[1] = builtin[gemm];
    cases[1].tol = 0; /* a float GEMM is never exact against double */
    cases[2] = (lirf_selftest_case){"wrong_reference", "64", 1e-4, wrong_reference};
    cases[3] = (lirf_selftest_case){"failing_call", "8", 1e-4, failing_call};
    cases[4] = (lirf_selftest_case){"wrong_int", "16", 0, wrong_int};
    lirf_selftest_result r[5];
    int failed = 0;
    ck_assert_int_eq(lirf_selftest_run(tctx(), cases, 5, r, &failed), LIRF_OK);
    ck_assert_int_eq(failed, 4);
    ck_assert(r[0].pass);
    ck_assert(!r[1].pass && r[1].max_err > 0 && r[1].status == LIRF_OK);
    ck_assert(!r[2].pass && r[2].max_err > 0.1);
    ck_assert(!r[3].pass && r[3].status != LIRF_OK && r[3].message[0]);
    ck_assert(!r[4].pass && r[4].max_err == 1);

    json_t *j = lirf_selftest_json(tctx(), r, 5);
    ck_assert_ptr_nonnull(j);
    ck_assert(json_is_false(json_object_get(j, "passed")));
    ck_assert_int_eq(json_integer_value(json_object_get(j, "failed")), 4);
    json_t *c = json_object_get(j, "cases");
    ck_assert_uint_eq(json_array_size(c), 5);
    ck_assert(json_is_true(json_object_get(json_array_get(c, 0), "pass")));
    ck_assert(json_is_null(json_object_get(json_array_get(c, 0), "error")));
    ck_assert(json_is_string(json_object_get(json_array_get(c, 3), "error")));
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(c, 2), "name")),
                     "wrong_reference");
    char *s = json_dumps(j, 0);
    json_error_t err;
    json_t *back = json_loads(s, 0, &err);
    ck_assert_msg(back != NULL, "selftest JSON does not parse: %s", err.text);
    json_decref(back), free(s), json_decref(j);
}
END_TEST

/* the command: --json gives one document on stdout, and it says passed */
START_TEST(command_json) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' selftest --json", tlirf_bin());
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    json_error_t err;
    json_t *j = json_loadf(p, 0, &err); /* the whole stdout: one document, nothing after */
    int rc = pclose(p);
    ck_assert_msg(j != NULL, "lirf selftest --json: %s (line %d)", err.text, err.line);
    ck_assert_int_eq(rc, 0);
    ck_assert(json_is_true(json_object_get(j, "passed")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "cases")), lirf_selftest_cases(NULL));
    ck_assert(json_is_string(json_object_get(json_object_get(j, "device"), "name")));
    json_decref(j);
}
END_TEST

int main(void) {
    Suite *s = suite_create("selftest");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, every_case_passes);
    tcase_add_test(tc, cases_cover_the_ops);
    tcase_add_test(tc, injected_faults_fail);
    tcase_add_test(tc, command_json);
    suite_add_tcase(s, tc);
    return trun(s);
}
