/* The whole network against PyTorch (tests/golden/, made by gen_golden.py):
 * ResNet-18 (width 8, RGB 16x16 and gray 28x28; ImageNet stem at 64x64),
 * ResNet-34 (width 4, CIFAR stem 16x16, ImageNet stem 64x64) and the CNN student — logits,
 * loss, the layer2 feature, every parameter gradient (full or sampled), the
 * eval-mode logits, and the state after 3 SGD steps with momentum and weight
 * decay; plus the KD and attention-transfer losses and their gradients.
 *
 * Tolerance: per tensor, max|got - want| <= tol * max|want| (tol 1e-4 for
 * forward values, 2e-3 for gradients and step-3 state). The float32 PyTorch
 * values differ from a float64 rerun by at most 5e-6 on that scale. Tensors
 * that are float noise in the reference (the CNN conv-bias gradients, zero in
 * exact arithmetic) are compared absolutely against 1e-5 of the largest
 * gradient. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "safetensors.h"
#include "util.h"

#ifndef LIRF_SOURCE_DIR
#define LIRF_SOURCE_DIR "."
#endif

static void load(const char *file, lirf_safetensors *st) {
    char path[1024];
    const char *src = getenv("LIRF_SOURCE_DIR"); /* a copied tree (bench/gpu/run.sh) */
    snprintf(path, sizeof path, "%s/tests/golden/%s", src && *src ? src : LIRF_SOURCE_DIR, file);
    lirf_status s = lirf_st_read(path, st);
    ck_assert_msg(s == LIRF_OK, "%s", lirf_error_message());
}

static const lirf_st_tensor *need(const lirf_safetensors *a, const lirf_safetensors *b,
                                  const char *name) {
    const lirf_st_tensor *t = lirf_st_find(a, name);
    if (!t && b) t = lirf_st_find(b, name);
    ck_assert_msg(t != NULL, "fixture has no tensor %s", name);
    return t;
}

/* max |got - want| / max |want| over n floats; `floor` > 0 switches to an
 * absolute comparison when the reference is that small. */
static void cmp(const char *what, const float *got, const float *want, size_t n, double tol,
                double floor) {
    double md = 0, mw = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]);
        if (!(d <= md)) md = d; /* NaN propagates */
        if (fabs(want[i]) > mw) mw = fabs(want[i]);
    }
    if (floor > 0 && mw < floor) {
        ck_assert_msg(md <= floor, "%s: |diff| %.3g above %.3g (reference is float noise)", what,
                      md, floor);
        return;
    }
    ck_assert_msg(md <= tol * mw, "%s: max diff %.3g vs max value %.3g (tol %.1g)", what, md, mw,
                  tol);
}

static void set_params(lirf_net *n, const lirf_safetensors *st, const lirf_safetensors *fb,
                       const char *prefix) {
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(n, i);
        char name[160];
        snprintf(name, sizeof name, "%s%s", prefix, d->name);
        const lirf_st_tensor *t = need(st, fb, name);
        ck_assert_msg(lirf_st_numel(t) == d->n, "%s: %zu elements, net has %zu", name,
                      lirf_st_numel(t), d->n);
        ck_assert_int_eq(lirf_net_tensor_set(n, i, t->data), LIRF_OK);
    }
}

static void read_floats(lirf_buf b, float *out, size_t n) {
    ck_assert_int_eq(lirf_buf_read(tctx(), b, out, n), LIRF_OK);
}

/* compare the net's tensor (value or gradient) with full or sampled reference */
static void cmp_tensor(lirf_net *n, size_t i, const lirf_safetensors *st, const char *full,
                       const char *sample, int grad, double floor) {
    const lirf_tensor_desc *d = lirf_net_tensor(n, i);
    char name[200];
    float *got = malloc(d->n * sizeof *got);
    if (grad) read_floats(lirf_net_tensor_grad(n, i), got, d->n);
    else ck_assert_int_eq(lirf_net_tensor_get(n, i, got), LIRF_OK);
    snprintf(name, sizeof name, "%s%s", full, d->name);
    const lirf_st_tensor *t = lirf_st_find(st, name);
    if (t) {
        ck_assert_uint_eq(lirf_st_numel(t), d->n);
        cmp(name, got, t->data, d->n, 2e-3, floor);
    } else {
        char iname[200];
        snprintf(iname, sizeof iname, "sample_idx.%s", d->name);
        snprintf(name, sizeof name, "%s%s", sample, d->name);
        const lirf_st_tensor *idx = need(st, NULL, iname), *val = need(st, NULL, name);
        size_t m = lirf_st_numel(idx);
        float *g = malloc(m * sizeof *g);
        for (size_t k = 0; k < m; k++) {
            int64_t j = ((const int64_t *)idx->data)[k];
            ck_assert(j >= 0 && (size_t)j < d->n);
            g[k] = got[j];
        }
        cmp(name, g, val->data, m, 2e-3, floor);
        free(g);
    }
    free(got);
}

static void golden_net_w(const char *file, lirf_arch arch, int width, int in_c, int hw,
                         const char *fallback_file, int check_feat) {
    lirf_safetensors st, fb = {0};
    load(file, &st);
    if (fallback_file) load(fallback_file, &fb);
    lirf_ctx *ctx = tctx();
    const int K = 10;
    const int N = (int)lirf_st_numel(need(&st, NULL, "labels")); /* 4, or 2 (the 64 px ones) */
    ck_assert(N >= 1 && N <= 4);
    lirf_net_config c = {.arch = arch, .width = width, .in_c = in_c, .in_h = hw, .in_w = hw,
                         .classes = K, .first = 0, .last = lirf_arch_stages(arch) - 1};
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(ctx, &c, &n), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(n, 1), LIRF_OK);
    set_params(n, &st, fallback_file ? &fb : NULL, "param.");
    /* and the other way: every state_dict entry PyTorch wrote is a tensor of the net */
    for (size_t i = 0; i < st.count; i++)
        if (!strncmp(st.tensors[i].name, "param.", 6))
            ck_assert_msg(lirf_net_find(n, st.tensors[i].name + 6) >= 0, "the net has no %s",
                          st.tensors[i].name + 6);

    const lirf_st_tensor *in = need(&st, NULL, "input"), *lab = need(&st, NULL, "labels");
    ck_assert_uint_eq(lirf_st_numel(in), (size_t)N * in_c * hw * hw);
    int32_t labels[4];
    for (int i = 0; i < N; i++) labels[i] = (int32_t)((const int64_t *)lab->data)[i];
    lirf_buf x, y, loss, dz, z;
    ck_assert_int_eq(lirf_buf_alloc(ctx, lirf_st_numel(in), &x), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, x, in->data, lirf_st_numel(in)), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, N, &y), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, y, labels, N), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 1, &loss), LIRF_OK);
    lirf_arena *ws;
    lirf_tape *tape;
    ck_assert_int_eq(lirf_arena_create(ctx, 0, &ws), LIRF_OK);
    ck_assert_int_eq(lirf_tape_create(&tape), LIRF_OK);
    float got[64], l;

    /* eval mode with the initial running statistics */
    ck_assert_int_eq(lirf_net_forward(n, ws, NULL, LIRF_MODE_EVAL, x, N, &z), LIRF_OK);
    read_floats(z, got, N * K);
    cmp("eval.logits", got, need(&st, NULL, "eval.logits")->data, N * K, 1e-4, 0);

    /* train-mode forward, loss, backward */
    ck_assert_int_eq(lirf_arena_reset(ws), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(n, ws, tape, LIRF_MODE_TRAIN, x, N, &z), LIRF_OK);
    read_floats(z, got, N * K);
    cmp("train.logits", got, need(&st, NULL, "train.logits")->data, N * K, 1e-4, 0);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, loss, LIRF_NOBUF, z, y, N, K), LIRF_OK);
    read_floats(loss, &l, 1);
    cmp("train.loss", &l, need(&st, NULL, "train.loss")->data, 1, 1e-4, 0);
    if (check_feat) {
        lirf_buf f;
        ck_assert_int_eq(lirf_tape_output(tape, 2, &f), LIRF_OK);
        const lirf_st_tensor *ft = need(&st, NULL, "train.feat.layer2");
        size_t nf = lirf_st_numel(ft);
        float *fg = malloc(nf * sizeof *fg);
        read_floats(f, fg, nf);
        cmp("train.feat.layer2", fg, ft->data, nf, 1e-4, 0);
        free(fg);
    }
    ck_assert_int_eq(lirf_arena_get(ws, N * K, &dz), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(ctx, dz, 0), LIRF_OK);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, dz, z, y, N, K, 1.0f), LIRF_OK);
    ck_assert_int_eq(lirf_net_zero_grads(n), LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(n, ws, tape, dz, NULL), LIRF_OK);
    /* the largest reference gradient, for the float-noise floor */
    double gmax = 0;
    for (size_t i = 0; i < st.count; i++)
        if (!strncmp(st.tensors[i].name, "grad", 4))
            for (size_t k = 0; k < lirf_st_numel(&st.tensors[i]); k++)
                gmax = fmax(gmax, fabs(((const float *)st.tensors[i].data)[k]));
    size_t checked = 0;
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        if (lirf_net_tensor(n, i)->kind != LIRF_T_PARAM) continue;
        cmp_tensor(n, i, &st, "grad.", "grad_sample.", 1, 1e-5 * gmax);
        checked++;
    }
    ck_assert_uint_gt(checked, 10);

    /* three SGD steps from the initial state */
    set_params(n, &st, fallback_file ? &fb : NULL, "param.");
    ck_assert_int_eq(lirf_buf_fill(ctx, lirf_net_momentum(n), 0), LIRF_OK);
    for (int s = 1; s <= 3; s++) {
        ck_assert_int_eq(lirf_arena_reset(ws), LIRF_OK);
        ck_assert_int_eq(lirf_net_zero_grads(n), LIRF_OK);
        ck_assert_int_eq(lirf_net_forward(n, ws, tape, LIRF_MODE_TRAIN, x, N, &z), LIRF_OK);
        ck_assert_int_eq(lirf_softmax_ce_forward(ctx, loss, LIRF_NOBUF, z, y, N, K), LIRF_OK);
        char lname[32];
        snprintf(lname, sizeof lname, "step3.loss%d", s);
        read_floats(loss, &l, 1);
        cmp(lname, &l, need(&st, NULL, lname)->data, 1, 1e-3, 0);
        ck_assert_int_eq(lirf_arena_get(ws, N * K, &dz), LIRF_OK);
        ck_assert_int_eq(lirf_buf_fill(ctx, dz, 0), LIRF_OK);
        ck_assert_int_eq(lirf_softmax_ce_backward(ctx, dz, z, y, N, K, 1.0f), LIRF_OK);
        ck_assert_int_eq(lirf_net_backward(n, ws, tape, dz, NULL), LIRF_OK);
        ck_assert_int_eq(lirf_sgd_step(ctx, lirf_net_params(n), lirf_net_momentum(n),
                                       lirf_net_grads(n), lirf_net_nparams(n), 0.1f, 0.9f, 5e-4f),
                         LIRF_OK);
    }
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(n, i);
        if (d->kind == LIRF_T_COUNT) {
            int64_t cnt;
            ck_assert_int_eq(lirf_net_tensor_get(n, i, &cnt), LIRF_OK);
            char name[160];
            snprintf(name, sizeof name, "step3.%s", d->name);
            ck_assert_int_eq(cnt, *(const int64_t *)need(&st, NULL, name)->data);
            continue;
        }
        cmp_tensor(n, i, &st, "step3.", "step3_sample.", 0, 0);
    }
    ck_assert_int_eq(lirf_arena_reset(ws), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(n, ws, NULL, LIRF_MODE_EVAL, x, N, &z), LIRF_OK);
    read_floats(z, got, N * K);
    cmp("step3.eval.logits", got, need(&st, NULL, "step3.eval.logits")->data, N * K, 2e-3, 0);

    lirf_tape_destroy(tape);
    lirf_arena_destroy(ws);
    lirf_buf_free(ctx, &x), lirf_buf_free(ctx, &y), lirf_buf_free(ctx, &loss);
    lirf_net_destroy(n);
    lirf_st_free(&st);
    if (fallback_file) lirf_st_free(&fb);
}

static void golden_net(const char *file, lirf_arch arch, int in_c, int hw,
                       const char *fallback_file, int check_feat) {
    golden_net_w(file, arch, 8, in_c, hw, fallback_file, check_feat);
}

START_TEST(resnet18_rgb_matches_pytorch) {
    golden_net("resnet18_w8.safetensors", LIRF_ARCH_RESNET18, 3, 16, NULL, 1);
}
END_TEST
START_TEST(resnet18_gray_matches_pytorch) {
    golden_net("resnet18_w8_gray.safetensors", LIRF_ARCH_RESNET18, 1, 28,
               "resnet18_w8.safetensors", 0);
}
END_TEST
START_TEST(cnn_matches_pytorch) { golden_net("cnn.safetensors", LIRF_ARCH_CNN, 3, 32, NULL, 0); }
END_TEST

/* torchvision's ImageNet stem (7x7/2, max pool 3/2/1) at 64 px: 64 -> 32 ->
 * 16 -> layer4 2x2 */
START_TEST(resnet18_imagenet_matches_pytorch) {
    golden_net_w("resnet18_imagenet_w8.safetensors", LIRF_ARCH_RESNET18_IMAGENET, 8, 3, 64,
                 "resnet18_w8.safetensors", 1);
}
END_TEST
START_TEST(resnet34_cifar_matches_pytorch) {
    golden_net_w("resnet34_w4.safetensors", LIRF_ARCH_RESNET34, 4, 3, 16, NULL, 1);
}
END_TEST
START_TEST(resnet34_imagenet_matches_pytorch) {
    golden_net_w("resnet34_imagenet_w4.safetensors", LIRF_ARCH_RESNET34_IMAGENET, 4, 3, 64,
                 "resnet34_w4.safetensors", 1);
}
END_TEST

START_TEST(kd_and_attention_match_pytorch) {
    lirf_safetensors st;
    load("kd.safetensors", &st);
    lirf_ctx *ctx = tctx();
    const lirf_st_tensor *s = need(&st, NULL, "s"), *t = need(&st, NULL, "t");
    const lirf_st_tensor *cols64 = need(&st, NULL, "cols");
    float T = *(const float *)need(&st, NULL, "T")->data;
    int32_t cols[3];
    for (int i = 0; i < 3; i++) cols[i] = (int32_t)((const int64_t *)cols64->data)[i];
    lirf_buf bs, bt, bc, bl, bg;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 50, &bs), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 50, &bt), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 3, &bc), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 1, &bl), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 300, &bg), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, bs, s->data, 50), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, bt, t->data, 50), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, bc, cols, 3), LIRF_OK);
    float l, g[300];
    for (int all = 0; all < 2; all++) {
        lirf_buf cb = all ? LIRF_NOBUF : bc;
        int M = all ? 10 : 3;
        ck_assert_int_eq(lirf_kd_forward(ctx, bl, bs, bt, cb, M, 5, 10, T), LIRF_OK);
        read_floats(bl, &l, 1);
        cmp("kd.loss", &l, need(&st, NULL, all ? "kd_all.loss" : "kd.loss")->data, 1, 1e-4, 0);
        lirf_buf gv = {bg.mem, 0, 50};
        ck_assert_int_eq(lirf_buf_fill(ctx, gv, 0), LIRF_OK);
        ck_assert_int_eq(lirf_kd_backward(ctx, gv, bs, bt, cb, M, 5, 10, T, 1.0f), LIRF_OK);
        read_floats(gv, g, 50);
        cmp("kd.grad_s", g, need(&st, NULL, all ? "kd_all.grad_s" : "kd.grad_s")->data, 50, 1e-4,
            0);
    }
    const lirf_st_tensor *F1 = need(&st, NULL, "F1"), *F2 = need(&st, NULL, "F2");
    lirf_buf b1, b2;
    ck_assert_int_eq(lirf_buf_alloc(ctx, 300, &b1), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(ctx, 300, &b2), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, b1, F1->data, 300), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, b2, F2->data, 300), LIRF_OK);
    for (int filt = 0; filt < 2; filt++) {
        float eps = filt ? *(const float *)need(&st, NULL, "at.eps")->data : 0.0f;
        ck_assert_int_eq(lirf_at_loss_forward(ctx, bl, b1, b2, 3, 4, 25, eps), LIRF_OK);
        read_floats(bl, &l, 1);
        cmp("at.loss", &l, need(&st, NULL, filt ? "at.loss" : "at_nofilter.loss")->data, 1, 1e-4,
            0);
        ck_assert_int_eq(lirf_buf_fill(ctx, bg, 0), LIRF_OK);
        ck_assert_int_eq(lirf_at_loss_backward(ctx, bg, b1, b2, 3, 4, 25, eps, 1.0f), LIRF_OK);
        read_floats(bg, g, 300);
        cmp("at.grad_F1", g, need(&st, NULL, filt ? "at.grad_F1" : "at_nofilter.grad_F1")->data,
            300, 1e-4, 0);
    }
    lirf_buf_free(ctx, &bs), lirf_buf_free(ctx, &bt), lirf_buf_free(ctx, &bc);
    lirf_buf_free(ctx, &bl), lirf_buf_free(ctx, &bg), lirf_buf_free(ctx, &b1);
    lirf_buf_free(ctx, &b2);
    lirf_st_free(&st);
}
END_TEST

int main(void) {
    Suite *s = suite_create("golden");
    TCase *tc = tcase_create("pytorch");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, resnet18_rgb_matches_pytorch);
    tcase_add_test(tc, resnet18_gray_matches_pytorch);
    tcase_add_test(tc, cnn_matches_pytorch);
    tcase_add_test(tc, resnet18_imagenet_matches_pytorch);
    tcase_add_test(tc, resnet34_cifar_matches_pytorch);
    tcase_add_test(tc, resnet34_imagenet_matches_pytorch);
    tcase_add_test(tc, kd_and_attention_match_pytorch);
    suite_add_tcase(s, tc);
    return trun(s);
}
