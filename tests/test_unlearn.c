/* The unlearning baselines (model/baselines/unlearn.h, model/baselines/) on a tiny
 * synthetic set, from C: every registered method writes a target checkpoint
 * that names it and the data it used; the D_r-only methods read no
 * preservation sample; fine-tuning and retraining on the preservation
 * classes forget the deposit classes; gradient ascent lowers their accuracy;
 * the same seed gives the same file; an unknown method is refused; LwF (a
 * learner, not in the registry) teaches a net that never saw classes 0, 1
 * those classes, saved as a plain model, and its distillation term keeps the
 * old net's ranking of the old classes on the images it trains on; EWC's and
 * MAS's importance is the squared (absolute) gradient of their loss, checked
 * against finite differences, and their penalty keeps more of the old net
 * than the same training without it. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "lirf.h"
#include "unlearn.h"
#include "util.h"

#define K 4
#define S 10

static lirf_dataset synthetic(int n) { return tstripes(n, K, S); }

static char g_dir[256];
static lirf_dataset g_data;
static lirf_model_meta g_meta;
static lirf_net *g_t0;
static const int32_t g_dep[2] = {0, 1};

static const char *path(const char *name) {
    static char b[4][400];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, 400, "%s/%s", g_dir, name);
    return p;
}

/* T0: the CNN trained for a few epochs (supervised, lirf_train_run) */
static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-unlearn-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_dir));
    g_data = synthetic(160);
    g_meta.cfg = (lirf_net_config){.arch = LIRF_ARCH_CNN, .width = 4, .in_c = 1, .in_h = S,
                                   .in_w = S, .classes = K, .first = 0,
                                   .last = lirf_arch_stages(LIRF_ARCH_CNN) - 1};
    g_meta.class_names = g_data.class_names;
    lirf_dataset_stats(&g_data, g_meta.mean, g_meta.std);
    ck_assert_int_eq(lirf_net_create(tctx(), &g_meta.cfg, &g_t0), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(g_t0, 1), LIRF_OK);
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = 6, o.batch = 16, o.lr = 0.05f, o.aug.pad = 0, o.aug.flip = 0;
    lirf_loader_opts lo = {.data = &g_data, .batch = 16, .shuffle = 1, .seed = 1};
    memcpy(lo.mean, g_meta.mean, sizeof lo.mean), memcpy(lo.std, g_meta.std, sizeof lo.std);
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    lirf_train_io io = {.quiet = 1};
    lirf_train_result res;
    ck_assert_msg(lirf_train_run(tctx(), g_t0, l, &o, &io, &res) == LIRF_OK, "%s", lirf_error_message());
    lirf_loader_destroy(l);
}

static void teardown(void) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
    lirf_net_destroy(g_t0);
    lirf_dataset_free(&g_data);
}

/* Dep Acc (%) and Pre Acc of a checkpoint on the synthetic set */
static void accuracy(const char *file, double *dep, double *pre) {
    lirf_model_meta m;
    lirf_net *n;
    ck_assert_msg(lirf_checkpoint_load(tctx(), file, &m, &n) == LIRF_OK, "%s", lirf_error_message());
    lirf_loader_opts lo = {.data = &g_data, .batch = 32};
    memcpy(lo.mean, m.mean, sizeof lo.mean), memcpy(lo.std, m.std, sizeof lo.std);
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    int64_t counts[2 * K];
    ck_assert_int_eq(lirf_eval_counts(tctx(), l, K, lirf_net_logits, n, counts), LIRF_OK);
    *dep = lirf_dep_acc(counts, g_dep, 2);
    const int32_t pres[2] = {2, 3};
    *pre = lirf_dep_acc(counts, pres, 2);
    lirf_loader_destroy(l);
    lirf_net_destroy(n);
    lirf_model_meta_free(&m);
}

static void t0_accuracy(double *dep, double *pre) {
    const char *p = path("t0.safetensors");
    lirf_net *nets[1] = {g_t0};
    const char *pre_[1] = {""};
    ck_assert_int_eq(lirf_checkpoint_save(p, nets, pre_, 1, &g_meta, NULL, NULL, 0), LIRF_OK);
    accuracy(p, dep, pre);
}

static void unlearn(const char *method, int epochs, float lr, const char *out,
                    lirf_unlearn_result *res) {
    lirf_unlearn_opts o;
    lirf_unlearn_opts_default(&o);
    o.method = method, o.epochs = epochs, o.lr = lr, o.batch = 16, o.quiet = 1;
    lirf_status st = lirf_unlearn(tctx(), g_t0, &g_meta, &g_data, g_dep, 2, &o, out, res);
    ck_assert_msg(st == LIRF_OK, "%s: %s", method, lirf_error_message());
}

START_TEST(every_method_writes_a_target_that_names_it) {
    for (int i = 0; lirf_unlearners[i]; i++) {
        const lirf_unlearner *u = lirf_unlearners[i];
        char name[64];
        snprintf(name, sizeof name, "%s.safetensors", u->name);
        lirf_unlearn_result res;
        unlearn(u->name, 1, 0, path(name), &res);
        ck_assert_uint_gt(res.steps, 0);
        /* the data it read: D_r is 80 of the 160 samples */
        ck_assert_uint_eq(res.forget_images, u->uses_forget ? 80 : 0);
        ck_assert_uint_eq(res.retain_images, u->uses_retain ? 80 : 0);
        lirf_safetensors st;
        lirf_model_meta m;
        ck_assert_int_eq(lirf_checkpoint_open(path(name), &st, &m), LIRF_OK);
        ck_assert_str_eq(lirf_st_meta(&st, "lirf_kind"), "target");
        ck_assert_str_eq(lirf_st_meta(&st, "deposit_classes"), "0,1");
        json_t *j = json_loads(lirf_st_meta(&st, "deposit_options"), 0, NULL);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(json_string_value(json_object_get(j, "method")), u->name);
        ck_assert_str_eq(json_string_value(json_object_get(j, "data")), lirf_unlearner_data(u));
        ck_assert_int_eq(json_integer_value(json_object_get(j, "epochs")), 1);
        json_decref(j);
        lirf_model_meta_free(&m);
        lirf_st_free(&st);
    }
    ck_assert_str_eq(lirf_unlearner_data(&lirf_unlearn_random_label), "D_r");
    ck_assert_str_eq(lirf_unlearner_data(&lirf_unlearn_finetune), "preservation");
    ck_assert_str_eq(lirf_unlearner_data(&lirf_unlearn_scrub), "D_r+preservation");
}
END_TEST

START_TEST(the_baselines_forget) {
    double dep0, pre0, dep, pre;
    t0_accuracy(&dep0, &pre0);
    ck_assert_msg(dep0 > 60 && pre0 > 60, "T0 learnt too little: Dep %.1f Pre %.1f", dep0, pre0);
    lirf_unlearn_result res;
    const char *methods[] = {"finetune", "retrain", "scrub"};
    for (int i = 0; i < 3; i++) {
        unlearn(methods[i], 4, 0, path("f.safetensors"), &res);
        accuracy(path("f.safetensors"), &dep, &pre);
        ck_assert_msg(dep < 20, "%s: Dep Acc %.1f (T0 %.1f)", methods[i], dep, dep0);
    }
    unlearn("grad-ascent", 2, 0.01f, path("g.safetensors"), &res);
    accuracy(path("g.safetensors"), &dep, &pre);
    ck_assert_msg(dep < dep0, "grad-ascent: Dep Acc %.1f, T0 %.1f", dep, dep0);
    unlearn("random-label", 4, 0, path("r.safetensors"), &res);
    accuracy(path("r.safetensors"), &dep, &pre);
    ck_assert_msg(dep < dep0, "random-label: Dep Acc %.1f, T0 %.1f", dep, dep0);
}
END_TEST

static long file_bytes(const char *p, unsigned char **out) {
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    *out = malloc((size_t)n);
    ck_assert_uint_eq(fread(*out, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    return n;
}

START_TEST(same_seed_same_target_and_refusals) {
    lirf_unlearn_result res;
    unlearn("random-label", 1, 0, path("a.safetensors"), &res);
    unlearn("random-label", 1, 0, path("b.safetensors"), &res);
    unsigned char *a, *b;
    long na = file_bytes(path("a.safetensors"), &a), nb = file_bytes(path("b.safetensors"), &b);
    ck_assert(na == nb && !memcmp(a, b, (size_t)na));
    free(a), free(b);
    lirf_unlearn_opts o;
    lirf_unlearn_opts_default(&o);
    o.method = "no-such-method", o.quiet = 1;
    ck_assert_int_eq(lirf_unlearn(tctx(), g_t0, &g_meta, &g_data, g_dep, 2, &o, path("x"), &res),
                     LIRF_E_INVALID);
    ck_assert_ptr_null(lirf_unlearner_find("no-such-method"));
    ck_assert_ptr_eq(lirf_unlearner_find("scrub"), &lirf_unlearn_scrub);
}
END_TEST

/* Of the new classes' samples (0, 1: those LwF trains on), the share whose
 * argmax over the old columns (2, 3) only is the old net's: what the
 * distillation term keeps. */
static double old_ranking_kept(const char *file, lirf_net *old) {
    lirf_model_meta m;
    lirf_net *n;
    ck_assert(lirf_checkpoint_load(tctx(), file, &m, &n) == LIRF_OK);
    lirf_loader *l = tloader(&g_data, &m, 160, 0);
    int cnt, cnt0;
    float *z = tfirst_logits(l, lirf_net_logits, n, K, &cnt);
    float *z0 = tfirst_logits(l, lirf_net_logits, old, K, &cnt0);
    ck_assert_int_eq(cnt, cnt0);
    int same = 0, total = 0;
    for (int i = 0; i < cnt; i++) {
        if (g_data.labels[i] >= 2) continue;
        total++;
        same += (z[i * K + 2] > z[i * K + 3]) == (z0[i * K + 2] > z0[i * K + 3]);
    }
    free(z), free(z0);
    lirf_loader_destroy(l);
    lirf_net_destroy(n);
    lirf_model_meta_free(&m);
    return 100.0 * same / total;
}

/* The old net: the CNN trained on classes 2 and 3 only, saved at path. */
static void train_old(const char *p) {
    lirf_net *net;
    ck_assert_int_eq(lirf_net_create(tctx(), &g_meta.cfg, &net), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(net, 2), LIRF_OK);
    int32_t idx[160];
    size_t n = 0;
    for (int i = 0; i < g_data.n; i++)
        if (g_data.labels[i] >= 2) idx[n++] = i;
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = 6, o.batch = 16, o.lr = 0.05f, o.aug.pad = 0, o.aug.flip = 0;
    lirf_loader_opts lo = {.data = &g_data, .index = idx, .count = n, .batch = 16, .shuffle = 1,
                           .seed = 1};
    memcpy(lo.mean, g_meta.mean, sizeof lo.mean), memcpy(lo.std, g_meta.std, sizeof lo.std);
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    lirf_train_io io = {.quiet = 1};
    lirf_train_result res;
    ck_assert(lirf_train_run(tctx(), net, l, &o, &io, &res) == LIRF_OK);
    lirf_loader_destroy(l);
    lirf_net *nets[1] = {net};
    const char *pre[1] = {""};
    ck_assert_int_eq(lirf_checkpoint_save(p, nets, pre, 1, &g_meta, NULL, NULL, 0), LIRF_OK);
    lirf_net_destroy(net);
}

START_TEST(lwf_learns_the_new_classes) {
    lirf_unlearn_result res;
    train_old(path("old.safetensors")); /* never saw classes 0, 1 */
    double dep_old, pre_old, dep, pre;
    accuracy(path("old.safetensors"), &dep_old, &pre_old);
    if (getenv("LIRF_TEST_VERBOSE")) fprintf(stderr, "old: Dep %.1f Pre %.1f\n", dep_old, pre_old);
    lirf_model_meta m;
    lirf_net *old;
    ck_assert(lirf_checkpoint_load(tctx(), path("old.safetensors"), &m, &old) == LIRF_OK);
    double kept[2];
    for (int a = 0; a < 2; a++) {
        lirf_unlearn_opts o;
        lirf_unlearn_opts_default(&o);
        o.epochs = 4, o.batch = 16, o.lr = 0.02f, o.alpha = a ? 1.0f : 0.0f, o.T = 2, o.quiet = 1;
        o.aug.pad = 0, o.aug.flip = 0;
        const char *out = path(a ? "lwf1.safetensors" : "lwf0.safetensors");
        ck_assert_msg(lirf_unlearn_with(tctx(), &lirf_learn_lwf, old, &m, &g_data, g_dep, 2, &o,
                                        out, &res) == LIRF_OK, "%s", lirf_error_message());
        ck_assert_int_eq(res.retain_images, 0); /* the new classes' samples only */
        ck_assert_uint_gt(res.steps, 0);
        accuracy(out, &dep, &pre);
        ck_assert_msg(dep > dep_old + 40, "LwF: new classes %.1f, before %.1f", dep, dep_old);
        kept[a] = old_ranking_kept(out, old);
    }
    ck_assert_msg(kept[1] > kept[0], "the KD term kept no more: %.1f%% against %.1f%% without it",
                  kept[1], kept[0]);
    if (getenv("LIRF_TEST_VERBOSE"))
        fprintf(stderr, "lwf: the old net's ranking kept on %.1f%% (alpha 0: %.1f%%)\n",
                kept[1], kept[0]);
    ck_assert_msg(kept[1] >= 90, "LwF kept the old net's ranking on %.1f%%", kept[1]);
    lirf_safetensors st = {0};
    lirf_model_meta mm;
    ck_assert_int_eq(lirf_checkpoint_open(path("lwf1.safetensors"), &st, &mm), LIRF_OK);
    ck_assert_ptr_null(lirf_st_meta(&st, "lirf_kind"));
    ck_assert_ptr_nonnull(strstr(lirf_st_meta(&st, "learn_options"), "\"method\":\"lwf\""));
    lirf_st_free(&st);
    lirf_model_meta_free(&mm);
    ck_assert_ptr_null(lirf_unlearner_find("lwf")); /* not an unlearning baseline */
    lirf_net_destroy(old);
    lirf_model_meta_free(&m);
}
END_TEST

/* mean CE on the labels (power 2: Fisher) or mean L2 norm of the logits
 * (power 1: MAS) of the whole synthetic set in one batch, in double on the
 * host */
static double importance_loss(lirf_net *net, lirf_loader *l, int power) {
    int n;
    float *z = tfirst_logits(l, lirf_net_logits, net, K, &n);
    double L = 0;
    for (int i = 0; i < n; i++) {
        const float *r = z + (size_t)i * K;
        double mx = r[0], se = 0, sq = 0;
        for (int k = 1; k < K; k++) mx = fmax(mx, r[k]);
        for (int k = 0; k < K; k++) se += exp(r[k] - mx), sq += (double)r[k] * r[k];
        L += power == 2 ? log(se) + mx - r[g_data.labels[i]] : sqrt(sq);
    }
    free(z);
    return L / n;
}

/* One batch: EWC's and MAS's importance is g^2, g the gradient of their
 * loss; checked on the 6 parameters of largest importance against central
 * differences of the loss computed on the host. */
static void importance_check(int power) {
    lirf_net *net;
    ck_assert_int_eq(lirf_net_create(tctx(), &g_meta.cfg, &net), LIRF_OK);
    ck_assert_int_eq(lirf_net_copy(net, g_t0, NULL), LIRF_OK);
    size_t np = lirf_net_nparams(net);
    lirf_loader *l = tloader(&g_data, &g_meta, 160, 0);
    lirf_buf imp;
    ck_assert_int_eq(lirf_buf_alloc(tctx(), np, &imp), LIRF_OK);
    ck_assert_msg(lirf_importance(tctx(), net, l, power, LIRF_NOBUF, imp) == LIRF_OK, "%s",
                  lirf_error_message());
    float *om = malloc(np * sizeof *om), *w = malloc(np * sizeof *w);
    ck_assert_int_eq(lirf_buf_read(tctx(), imp, om, np), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(net), w, np), LIRF_OK);
    for (int t = 0; t < 6; t++) {
        size_t best = 0;
        for (size_t i = 1; i < np; i++) best = om[i] > om[best] ? i : best;
        float keep = w[best], h = 1e-3f;
        double Lp, Lm;
        w[best] = keep + h;
        ck_assert_int_eq(lirf_buf_write(tctx(), lirf_net_params(net), w, np), LIRF_OK);
        Lp = importance_loss(net, l, power);
        w[best] = keep - h;
        ck_assert_int_eq(lirf_buf_write(tctx(), lirf_net_params(net), w, np), LIRF_OK);
        Lm = importance_loss(net, l, power);
        w[best] = keep;
        ck_assert_int_eq(lirf_buf_write(tctx(), lirf_net_params(net), w, np), LIRF_OK);
        double fd = fabs((Lp - Lm) / (2.0 * h)), got = sqrt(om[best]);
        ck_assert_msg(fabs(got - fd) <= 0.03 * fd + 1e-4, "%s importance of parameter %zu: "
                      "|g| %.6g, finite differences %.6g", power == 2 ? "EWC" : "MAS", best,
                      got, fd);
        om[best] = -1;
    }
    free(om), free(w);
    lirf_buf_free(tctx(), &imp);
    lirf_loader_destroy(l);
    lirf_net_destroy(net);
}

START_TEST(importance_is_the_gradient_of_the_loss) {
    importance_check(2);
    importance_check(1);
}
END_TEST

/* 0.5 sum Omega (theta - theta_old)^2 of the net in file, Omega the old net's
 * importance (power 2: EWC, 1: MAS) on the old classes' (2, 3) samples;
 * *maxw: the largest Omega */
static double weighted_distance(const char *file, lirf_net *old, int power, double *maxw) {
    lirf_model_meta m;
    lirf_net *n;
    ck_assert(lirf_checkpoint_load(tctx(), file, &m, &n) == LIRF_OK);
    int32_t idx[160];
    size_t cnt = 0;
    for (int i = 0; i < g_data.n; i++)
        if (g_data.labels[i] >= 2) idx[cnt++] = i;
    lirf_loader_opts lo = {.data = &g_data, .index = idx, .count = cnt, .batch = 16};
    memcpy(lo.mean, m.mean, sizeof lo.mean), memcpy(lo.std, m.std, sizeof lo.std);
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    size_t np = lirf_net_nparams(old);
    lirf_buf imp, loss;
    ck_assert_int_eq(lirf_buf_alloc(tctx(), np, &imp), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(tctx(), 1, &loss), LIRF_OK);
    ck_assert_int_eq(lirf_importance(tctx(), old, l, power, LIRF_NOBUF, imp), LIRF_OK);
    ck_assert_int_eq(lirf_quad_penalty_forward(tctx(), loss, lirf_net_params(n),
                                               lirf_net_params(old), imp, np), LIRF_OK);
    float d, *om = malloc(np * sizeof *om);
    ck_assert_int_eq(lirf_buf_read(tctx(), loss, &d, 1), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), imp, om, np), LIRF_OK);
    *maxw = 0;
    for (size_t i = 0; i < np; i++) *maxw = fmax(*maxw, om[i]);
    free(om);
    lirf_buf_free(tctx(), &imp), lirf_buf_free(tctx(), &loss);
    lirf_loader_destroy(l);
    lirf_net_destroy(n);
    lirf_model_meta_free(&m);
    return d;
}

/* EWC and MAS from the old net (classes 2, 3): the new classes are learnt,
 * the importance reads the old classes' samples, the penalty's weight is
 * recorded, and a strong penalty (lr * lambda * max Omega = 0.5) holds the
 * parameters nearer the old net's, in the importance-weighted distance, than
 * the same training with a 1e-9 times weaker one. (With one head trained on
 * the new classes only, both lose the old classes, as in class-incremental
 * learning; the default weights, 100 and 5, barely move this tiny net: its
 * old net is so sure of the old classes that its Fisher is ~1e-9.) */
START_TEST(ewc_and_mas_learn_the_new_classes) {
    const lirf_unlearner *u[2] = {&lirf_learn_ewc, &lirf_learn_mas};
    train_old(path("old2.safetensors"));
    lirf_model_meta m;
    lirf_net *old;
    ck_assert(lirf_checkpoint_load(tctx(), path("old2.safetensors"), &m, &old) == LIRF_OK);
    double dep_old, pre_old, dep, pre;
    accuracy(path("old2.safetensors"), &dep_old, &pre_old);
    for (int i = 0; i < 2; i++) {
        double dist[2], maxw;
        int power = u[i] == &lirf_learn_ewc ? LIRF_IMPORTANCE_FISHER : LIRF_IMPORTANCE_MAS;
        weighted_distance(path("old2.safetensors"), old, power, &maxw);
        float strong = (float)(0.5 / (0.02 * maxw)); /* lr * lambda * max Omega = 0.5 */
        for (int a = 0; a < 2; a++) {
            lirf_unlearn_opts o;
            lirf_unlearn_result res;
            lirf_unlearn_opts_default(&o);
            o.epochs = 4, o.batch = 16, o.lr = 0.02f, o.quiet = 1;
            o.lambda = a ? strong : strong * 1e-9f;
            o.aug.pad = 0, o.aug.flip = 0;
            const char *out = path(a ? "pen1.safetensors" : "pen0.safetensors");
            ck_assert_msg(lirf_unlearn_with(tctx(), u[i], old, &m, &g_data, g_dep, 2, &o, out,
                                            &res) == LIRF_OK, "%s", lirf_error_message());
            ck_assert_int_eq(res.retain_images, 80); /* the old classes' samples */
            accuracy(out, &dep, &pre);
            ck_assert_msg(dep > dep_old + 40, "%s: new classes %.1f, before %.1f", u[i]->name,
                          dep, dep_old);
            dist[a] = weighted_distance(out, old, power, &maxw);
            if (getenv("LIRF_TEST_VERBOSE"))
                fprintf(stderr, "%s lambda %g: Dep %.1f Pre %.1f, weighted distance %.4g, "
                        "largest importance %.4g\n", u[i]->name, (double)o.lambda, dep, pre,
                        dist[a], maxw);
        }
        ck_assert_msg(dist[1] < 0.8 * dist[0], "%s: the penalty held the net no nearer: "
                      "%.4g against %.4g", u[i]->name, dist[1], dist[0]);
        lirf_safetensors st = {0};
        lirf_model_meta mm;
        ck_assert_int_eq(lirf_checkpoint_open(path("pen1.safetensors"), &st, &mm), LIRF_OK);
        json_t *lo = json_loads(lirf_st_meta(&st, "learn_options"), 0, NULL);
        ck_assert_ptr_nonnull(lo);
        ck_assert_str_eq(json_string_value(json_object_get(lo, "method")), u[i]->name);
        double rec = json_number_value(json_object_get(lo, "lambda"));
        ck_assert_msg(fabs(rec - strong) <= 1e-5 * strong, "lambda recorded %g, ran %g", rec,
                      (double)strong);
        json_decref(lo);
        lirf_st_free(&st);
        lirf_model_meta_free(&mm);
    }
    lirf_net_destroy(old);
    lirf_model_meta_free(&m);
}
END_TEST

int main(void) {
    Suite *s = suite_create("unlearn");
    TCase *tc = tcase_create("unlearn");
    tcase_set_timeout(tc, 600);
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, every_method_writes_a_target_that_names_it);
    tcase_add_test(tc, the_baselines_forget);
    tcase_add_test(tc, same_seed_same_target_and_refusals);
    tcase_add_test(tc, lwf_learns_the_new_classes);
    tcase_add_test(tc, importance_is_the_gradient_of_the_loss);
    tcase_add_test(tc, ewc_and_mas_learn_the_new_classes);
    suite_add_tcase(s, tc);
    return trun(s);
}
