/* Task-incremental learning with selective forgetting (model/baselines/
 * incremental.h), Table 4's setting, on a tiny synthetic set of 6 classes
 * cut into 2 tasks of 3 (the first class of each a deletion class):
 * the tasks' checks and A / F / H worked by hand; the task-aware evaluation
 * against the argmax over each task's columns computed on the host; every
 * method learns the second task; LwF keeps the old head's outputs nearer the
 * old net's than the Baseline, LwF* leaves the deletion column out of that;
 * EWC's penalty holds the net nearer the old one; a sequence closed step by
 * step (a resumed one) trains to the same net as one run straight through;
 * steps out of order are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "incremental.h"
#include "unlearn.h"
#include "util.h"

#define K 6
#define S 12

static lirf_dataset g_data;
static lirf_model_meta g_meta;
static lirf_net *g_first; /* step 0: the first task (classes 0, 1, 2) learnt */
static const lirf_il_tasks TK = {K, 2, 1};

static void opts(lirf_il_opts *o) {
    lirf_il_opts_default(o);
    o->train.epochs = 4, o->train.batch = 16, o->train.lr = 0.05f, o->train.warmup = 0;
    o->train.aug.pad = 0, o->train.aug.flip = 0, o->quiet = 1;
}

static lirf_net *new_net(void) {
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &g_meta.cfg, &n), LIRF_OK);
    return n;
}

static void setup(void) {
    g_data = tstripes(240, K, S);
    g_meta.cfg = (lirf_net_config){.arch = LIRF_ARCH_CNN, .width = 4, .in_c = 1, .in_h = S,
                                   .in_w = S, .classes = K, .first = 0,
                                   .last = lirf_arch_stages(LIRF_ARCH_CNN) - 1};
    g_meta.class_names = g_data.class_names;
    lirf_dataset_stats(&g_data, g_meta.mean, g_meta.std);
    g_first = new_net();
    ck_assert_int_eq(lirf_net_init(g_first, 1), LIRF_OK);
    lirf_il_opts o;
    opts(&o);
    lirf_il *il;
    double images;
    ck_assert_int_eq(lirf_il_create(tctx(), lirf_il_method_find("baseline"), &TK, &o, g_first,
                                    &g_data, &g_meta, &il), LIRF_OK);
    ck_assert_msg(lirf_il_learn(il, 0, &images) == LIRF_OK, "%s", lirf_error_message());
    ck_assert_double_eq(images, 4 * 120); /* 4 epochs of the first task's 120 samples */
    lirf_il_destroy(il);
}

static void teardown(void) {
    lirf_net_destroy(g_first);
    lirf_dataset_free(&g_data);
}

START_TEST(tasks_and_metrics_by_hand) {
    lirf_il_tasks bad[] = {{6, 4, 1}, {6, 2, 3}, {6, 0, 0}, {6, 2, -1}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        ck_assert_int_eq(lirf_il_tasks_check(&bad[i]), LIRF_E_INVALID);
    lirf_il_tasks tk = {12, 3, 2};
    ck_assert_int_eq(lirf_il_tasks_check(&tk), LIRF_OK);
    int32_t cls[4];
    ck_assert_int_eq(lirf_il_deletion_classes(&tk, 1, cls), 2);
    ck_assert_int_eq(cls[0], 4);
    ck_assert_int_eq(cls[1], 5);
    /* after step 2 of 3: A over tasks 0, 1 preservation and all of task 2:
     * (30 + 40 + 50 + 5) / (40 + 50 + 60 + 10) = 125 / 160 = 78.125;
     * F: task 0's deletion 10 of 20 (50%, ref 90: drop 40), task 1's 15 of 60
     * (25%, ref 85: drop 60): (20 * 40 + 60 * 60) / 80 = 55;
     * H = 2 * 78.125 * 55 / 133.125 */
    lirf_il_acc a = {{30, 40, 50}, {40, 50, 60}, {10, 15, 5}, {20, 60, 10}};
    double ref[3] = {90, 85, 0}, A, F, H;
    lirf_il_metrics(&tk, 2, &a, ref, &A, &F, &H);
    ck_assert_double_eq_tol(A, 78.125, 1e-12);
    ck_assert_double_eq_tol(F, 55, 1e-12);
    ck_assert_double_eq_tol(H, 2 * 78.125 * 55 / 133.125, 1e-12);
    lirf_il_metrics(&tk, 0, &a, ref, &A, &F, &H); /* nothing forgotten yet: (30 + 10) / 60 */
    ck_assert_double_eq_tol(A, 100.0 * 40 / 60, 1e-12);
    ck_assert(isnan(F) && isnan(H));
    ck_assert_ptr_null(lirf_il_method_find("lwsf"));
    ck_assert_str_eq(lirf_il_method_find("ewc-sel+lwf-sel")->label, "EWC*+LwF*");
}
END_TEST

/* lirf_il_eval's counts against the argmax over each task's columns of the
 * logits read back (eval mode) */
START_TEST(eval_is_task_aware) {
    lirf_il_acc acc, want;
    memset(&want, 0, sizeof want);
    ck_assert_int_eq(lirf_il_eval(tctx(), g_first, &TK, &g_data, &g_meta, &acc), LIRF_OK);
    lirf_loader *l = tloader(&g_data, &g_meta, 240, 0);
    int n;
    float *z = tfirst_logits(l, lirf_net_logits, g_first, K, &n);
    ck_assert_int_eq(n, 240);
    for (int i = 0; i < n; i++) {
        int y = g_data.labels[i], t = y / 3, best = 3 * t;
        for (int c = 3 * t + 1; c < 3 * t + 3; c++) best = z[i * K + c] > z[i * K + best] ? c : best;
        int del = y % 3 == 0;
        (del ? want.d_correct : want.p_correct)[t] += best == y;
        (del ? want.d_n : want.p_n)[t] += 1;
    }
    ck_assert_mem_eq(&acc, &want, sizeof acc);
    ck_assert_int_eq(acc.p_correct[0], 80); /* the first task is learnt */
    ck_assert_int_eq(acc.d_correct[0], 40);
    free(z);
    lirf_loader_destroy(l);
}
END_TEST

/* mean over task 1's images of the squared distance between the old head's
 * softmax (columns cols) of net and of the old net: what LwF keeps */
static double old_head_drift(lirf_net *net, const int *cols, int nc) {
    lirf_loader *l = tloader(&g_data, &g_meta, 240, 0);
    int n;
    float *z = tfirst_logits(l, lirf_net_logits, net, K, &n);
    float *z0 = tfirst_logits(l, lirf_net_logits, g_first, K, &n);
    double d = 0;
    int cnt = 0;
    for (int i = 0; i < n; i++) {
        if (g_data.labels[i] < 3) continue;
        double s = 0, s0 = 0, p[K], p0[K];
        for (int j = 0; j < nc; j++)
            s += p[j] = exp(z[i * K + cols[j]]), s0 += p0[j] = exp(z0[i * K + cols[j]]);
        for (int j = 0; j < nc; j++) d += pow(p[j] / s - p0[j] / s0, 2);
        cnt++;
    }
    free(z), free(z0);
    lirf_loader_destroy(l);
    return d / cnt;
}

static lirf_net *learn_second(const char *method, lirf_il_acc *acc) {
    lirf_net *net = new_net();
    ck_assert_int_eq(lirf_net_copy(net, g_first, NULL), LIRF_OK);
    lirf_il_opts o;
    opts(&o);
    lirf_il *il;
    double images;
    ck_assert_int_eq(lirf_il_create(tctx(), lirf_il_method_find(method), &TK, &o, net, &g_data,
                                    &g_meta, &il), LIRF_OK);
    ck_assert_msg(lirf_il_learn(il, 1, &images) == LIRF_OK, "%s: %s", method,
                  lirf_error_message());
    ck_assert_int_eq(lirf_il_learn(il, 0, &images), LIRF_E_INVALID); /* closed */
    lirf_il_destroy(il);
    ck_assert_int_eq(lirf_il_eval(tctx(), net, &TK, &g_data, &g_meta, acc), LIRF_OK);
    return net;
}

START_TEST(every_method_learns_the_second_task) {
    for (int i = 0; lirf_il_methods[i]; i++) {
        lirf_il_acc acc;
        lirf_net *net = learn_second(lirf_il_methods[i]->name, &acc);
        ck_assert_msg(acc.p_correct[1] + acc.d_correct[1] >= 0.9 * (acc.p_n[1] + acc.d_n[1]),
                      "%s: task 2 %ld of %ld", lirf_il_methods[i]->name,
                      (long)(acc.p_correct[1] + acc.d_correct[1]), (long)(acc.p_n[1] + acc.d_n[1]));
        lirf_net_destroy(net);
    }
}
END_TEST

START_TEST(lwf_keeps_the_old_head_and_lwf_sel_leaves_the_deletion_column) {
    lirf_il_acc acc;
    lirf_net *base = learn_second("baseline", &acc), *lwf = learn_second("lwf", &acc);
    lirf_net *sel = learn_second("lwf-sel", &acc);
    int all[3] = {0, 1, 2}, pres[2] = {1, 2};
    double b = old_head_drift(base, all, 3), l = old_head_drift(lwf, all, 3);
    double bp = old_head_drift(base, pres, 2), sp = old_head_drift(sel, pres, 2);
    double la = old_head_drift(lwf, all, 3), sa = old_head_drift(sel, all, 3);
    if (getenv("LIRF_TEST_VERBOSE"))
        fprintf(stderr, "old head drift: baseline %.4g, LwF %.4g; preservation columns: "
                "baseline %.4g, LwF* %.4g; all columns: LwF %.4g, LwF* %.4g\n", b, l, bp, sp, la,
                sa);
    ck_assert_msg(l < 0.5 * b, "LwF drift %.4g against the Baseline's %.4g", l, b);
    ck_assert_msg(sp < 0.5 * bp, "LwF* drift on the preservation columns %.4g against %.4g", sp,
                  bp);
    ck_assert_msg(sa > la, "LwF* (deletion column free) drifts %.4g, LwF %.4g", sa, la);
    lirf_net_destroy(base), lirf_net_destroy(lwf), lirf_net_destroy(sel);
}
END_TEST

/* A sequence resumed after step 0 (closed explicitly, as lirf reproduce does
 * with a saved net) trains to the same net as one that closes it itself. */
START_TEST(closed_by_hand_is_the_same_sequence) {
    lirf_net *a = new_net(), *b = new_net();
    ck_assert_int_eq(lirf_net_copy(a, g_first, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_net_copy(b, g_first, NULL), LIRF_OK);
    lirf_il_opts o;
    opts(&o);
    lirf_il *ia, *ib;
    double images;
    const lirf_il_method *m = lirf_il_method_find("ewc-sel+lwf-sel");
    ck_assert_int_eq(lirf_il_create(tctx(), m, &TK, &o, a, &g_data, &g_meta, &ia), LIRF_OK);
    ck_assert_int_eq(lirf_il_create(tctx(), m, &TK, &o, b, &g_data, &g_meta, &ib), LIRF_OK);
    ck_assert_int_eq(lirf_il_close(ib, 1), LIRF_E_INVALID); /* step 0 first */
    ck_assert_int_eq(lirf_il_close(ib, 0), LIRF_OK);
    ck_assert_int_eq(lirf_il_learn(ia, 1, &images), LIRF_OK);
    ck_assert_int_eq(lirf_il_learn(ib, 1, &images), LIRF_OK);
    size_t np = lirf_net_nparams(a);
    float *pa = malloc(np * sizeof *pa), *pb = malloc(np * sizeof *pb);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(a), pa, np), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(b), pb, np), LIRF_OK);
    ck_assert_mem_eq(pa, pb, np * sizeof *pa);
    free(pa), free(pb);
    lirf_il_destroy(ia), lirf_il_destroy(ib);
    lirf_net_destroy(a), lirf_net_destroy(b);
}
END_TEST

/* 0.5 sum Omega (theta - theta_first)^2 of net */
static double weighted(lirf_net *net, lirf_buf imp) {
    lirf_buf loss;
    float d;
    ck_assert_int_eq(lirf_buf_alloc(tctx(), 1, &loss), LIRF_OK);
    ck_assert_int_eq(lirf_quad_penalty_forward(tctx(), loss, lirf_net_params(net),
                                               lirf_net_params(g_first), imp,
                                               lirf_net_nparams(net)), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), loss, &d, 1), LIRF_OK);
    lirf_buf_free(tctx(), &loss);
    return d;
}

/* EWC's penalty holds the parameters nearer the old net's, in the distance
 * weighted by the first task's Fisher, than the Baseline; the weight is
 * set from that Fisher (lr * lambda * max Omega = 0.5): this tiny net is so
 * sure of its first task that its Fisher is tiny. */
START_TEST(ewc_holds_the_net_nearer) {
    lirf_il_opts o;
    opts(&o);
    lirf_net *probe = new_net();
    ck_assert_int_eq(lirf_net_copy(probe, g_first, NULL), LIRF_OK);
    lirf_il *il;
    ck_assert_int_eq(lirf_il_create(tctx(), lirf_il_method_find("ewc"), &TK, &o, probe, &g_data,
                                    &g_meta, &il), LIRF_OK);
    ck_assert_int_eq(lirf_il_close(il, 0), LIRF_OK);
    size_t np = lirf_net_nparams(probe);
    float *om = malloc(np * sizeof *om), mx = 0;
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_il_importance(il), om, np), LIRF_OK);
    for (size_t i = 0; i < np; i++) mx = om[i] > mx ? om[i] : mx;
    ck_assert_float_gt(mx, 0);
    free(om);
    double dist[2];
    o.lambda_ewc = 0.5f / (o.train.lr * mx);
    for (int k = 0; k < 2; k++) {
        lirf_net *net = new_net();
        ck_assert_int_eq(lirf_net_copy(net, g_first, NULL), LIRF_OK);
        lirf_il *run;
        double images;
        ck_assert_int_eq(lirf_il_create(tctx(), lirf_il_method_find(k ? "ewc" : "baseline"), &TK,
                                        &o, net, &g_data, &g_meta, &run), LIRF_OK);
        ck_assert_int_eq(lirf_il_learn(run, 1, &images), LIRF_OK);
        lirf_il_destroy(run);
        dist[k] = weighted(net, lirf_il_importance(il));
        lirf_net_destroy(net);
    }
    if (getenv("LIRF_TEST_VERBOSE"))
        fprintf(stderr, "Fisher-weighted distance from the old net: baseline %.4g, EWC %.4g "
                "(lambda %.4g)\n", dist[0], dist[1], (double)o.lambda_ewc);
    ck_assert_msg(dist[1] < 0.5 * dist[0], "EWC %.4g, Baseline %.4g", dist[1], dist[0]);
    lirf_il_destroy(il);
    lirf_net_destroy(probe);
}
END_TEST

int main(void) {
    Suite *s = suite_create("incremental");
    TCase *tc = tcase_create("incremental");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, tasks_and_metrics_by_hand);
    tcase_add_test(tc, eval_is_task_aware);
    tcase_add_test(tc, every_method_learns_the_second_task);
    tcase_add_test(tc, lwf_keeps_the_old_head_and_lwf_sel_leaves_the_deletion_column);
    tcase_add_test(tc, closed_by_hand_is_the_same_sequence);
    tcase_add_test(tc, ewc_holds_the_net_nearer);
    suite_add_tcase(s, tc);
    return trun(s);
}
