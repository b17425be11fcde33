/* Training end to end on a small synthetic set: the same seed gives the same
 * weights; a run stopped part-way (state saved) and resumed ends with exactly
 * the weights of an uninterrupted one; checkpoints round-trip with their
 * metadata; resuming with other options is refused; the loss falls. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"
#include "util.h"

#define K 4
#define S 10

static lirf_dataset synthetic(int n) { return tstripes(n, K, S); }

static char g_dir[256];

/* Trains a fresh net (3 epochs of 6 steps), stopping after max_steps when > 0,
 * resuming from path's state when resume. Returns the parameters. */
static float *run(lirf_dataset *d, long max_steps, int resume, float lr, const char *path,
                  size_t *np, lirf_train_result *res, lirf_status *status) {
    lirf_model_meta meta = {0};
    meta.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                                 .in_w = S, .classes = K, .first = 0, .last = 5};
    meta.class_names = d->class_names;
    lirf_dataset_stats(d, meta.mean, meta.std);
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = 3, o.batch = 16, o.lr = lr, o.aug.pad = 1, o.warmup = 0.5f;
    o.max_steps = max_steps;
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &meta.cfg, &n), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(n, o.seed), LIRF_OK);
    lirf_loader_opts lo = {.data = d, .batch = o.batch, .shuffle = 1, .drop_last = 1, .seed = o.seed};
    memcpy(lo.mean, meta.mean, sizeof lo.mean), memcpy(lo.std, meta.std, sizeof lo.std);
    lirf_loader *l;
    ck_assert_int_eq(lirf_loader_create(tctx(), &lo, &l), LIRF_OK);
    lirf_train_io io = {.model_path = path, .meta = &meta, .resume = resume, .quiet = 1};
    lirf_status st = lirf_train_run(tctx(), n, l, &o, &io, res);
    if (status) *status = st;
    else ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    *np = lirf_net_nparams(n);
    float *p = malloc(*np * sizeof *p);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(n), p, *np), LIRF_OK);
    lirf_loader_destroy(l);
    lirf_net_destroy(n);
    return p;
}

static const char *path(const char *name) {
    static char b[4][300];
    static int k;
    char *p = b[k++ % 4];
    snprintf(p, 300, "%s/%s", g_dir, name);
    return p;
}

START_TEST(same_seed_same_weights_and_learning) {
    lirf_dataset d = synthetic(96);
    size_t n1, n2;
    lirf_train_result r1, r2;
    float *p1 = run(&d, 0, 0, 0.05f, path("a.safetensors"), &n1, &r1, NULL);
    float *p2 = run(&d, 0, 0, 0.05f, path("b.safetensors"), &n2, &r2, NULL);
    ck_assert_uint_eq(r1.steps, 18);
    ck_assert_uint_eq(n1, n2);
    ck_assert_msg(!memcmp(p1, p2, n1 * sizeof *p1), "same seed, same device: different weights");
    ck_assert_msg(isfinite(r1.last_loss) && r1.last_loss < 0.7, "final loss %g: not learning",
                  r1.last_loss);
    /* the checkpoint holds those weights and the metadata */
    lirf_model_meta m;
    lirf_net *net;
    ck_assert_int_eq(lirf_checkpoint_load(tctx(), path("a.safetensors"), &m, &net), LIRF_OK);
    ck_assert_int_eq(m.cfg.classes, K);
    ck_assert_int_eq(m.cfg.in_h, S);
    ck_assert_ptr_nonnull(m.class_names);
    ck_assert_str_eq(m.class_names[1], "odd");
    float *p3 = malloc(n1 * sizeof *p3);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(net), p3, n1), LIRF_OK);
    ck_assert(!memcmp(p1, p3, n1 * sizeof *p1));
    lirf_net_destroy(net);
    lirf_model_meta_free(&m);
    free(p1), free(p2), free(p3);
    lirf_dataset_free(&d);
}
END_TEST

START_TEST(resume_continues_where_it_stopped) {
    lirf_dataset d = synthetic(96);
    size_t n;
    lirf_train_result r;
    float *full = run(&d, 0, 0, 0.05f, path("full.safetensors"), &n, &r, NULL);
    /* stopped mid-epoch (step 8 of 18), then resumed; and stopped at an epoch end */
    const long stops[] = {8, 12};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "part%d.safetensors", k);
        float *part = run(&d, stops[k], 0, 0.05f, path(name), &n, &r, NULL);
        ck_assert(r.stopped);
        ck_assert_uint_eq(r.steps, (size_t)stops[k]);
        ck_assert(memcmp(part, full, n * sizeof *full) != 0);
        float *res = run(&d, 0, 1, 0.05f, path(name), &n, &r, NULL);
        ck_assert_int_eq(r.resumed_epoch, (int)(stops[k] / 6));
        ck_assert_uint_eq(r.resumed_step, (size_t)(stops[k] % 6));
        ck_assert_uint_eq(r.steps, 18 - (size_t)stops[k]);
        ck_assert_msg(!memcmp(res, full, n * sizeof *full),
                      "resumed after %ld steps: weights differ from an uninterrupted run", stops[k]);
        free(part), free(res);
    }
    /* resuming with other options is refused, naming the state file */
    lirf_status st;
    float *x = run(&d, 0, 1, 0.07f, path("part0.safetensors"), &n, &r, &st);
    ck_assert_int_eq(st, LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "state.safetensors"));
    free(x), free(full);
    lirf_dataset_free(&d);
}
END_TEST

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-train-%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 1;
    Suite *s = suite_create("train");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, same_seed_same_weights_and_learning);
    tcase_add_test(tc, resume_continues_where_it_stopped);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
