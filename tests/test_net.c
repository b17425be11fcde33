/* Networks: lower ∘ upper at a split equals the whole net (forward and
 * backward; the CIFAR and ImageNet stems, ResNet-18 and -34), frozen parts
 * give no parameter gradients, torchvision's parameter counts and stage
 * shapes, the arch names, a training step
 * allocates nothing after its first iteration, and SGD steps lower the loss. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"
#include "util.h"

static lirf_net *make(lirf_arch arch, int first, int last, int width, int in_c, int hw) {
    lirf_net_config c = {.arch = arch, .width = width, .in_c = in_c, .in_h = hw, .in_w = hw,
                         .classes = 10, .first = first, .last = last};
    lirf_net *n;
    lirf_status st = lirf_net_create(tctx(), &c, &n);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    return n;
}

static void read_all(lirf_buf b, double *out, size_t n) {
    float *f = malloc(n * sizeof *f);
    ck_assert_int_eq(lirf_buf_read(tctx(), b, f, n), LIRF_OK);
    for (size_t i = 0; i < n; i++) out[i] = f[i];
    free(f);
}

static void split_equals_whole_for(lirf_arch arch, int HW) {
    const int N = 3, W = 4;
    lirf_net *whole = make(arch, 0, 5, W, 3, HW);
    lirf_net *lower = make(arch, 0, 2, W, 3, HW);
    lirf_net *upper = make(arch, 3, 5, W, 3, HW);
    ck_assert_int_eq(lirf_net_init(whole, 7), LIRF_OK);
    size_t c1, c2;
    ck_assert_int_eq(lirf_net_copy(lower, whole, &c1), LIRF_OK);
    ck_assert_int_eq(lirf_net_copy(upper, whole, &c2), LIRF_OK);
    ck_assert_uint_eq(c1 + c2, lirf_net_ntensors(whole));
    ck_assert_uint_eq(lirf_net_nparams(lower) + lirf_net_nparams(upper), lirf_net_nparams(whole));

    trng r = {5};
    size_t nx = (size_t)N * 3 * HW * HW;
    double *x = malloc(nx * sizeof *x);
    trand_fill(&r, x, nx, -1, 1);
    tbuf bx = tbuf_new(x, nx);
    lirf_arena *ws;
    ck_assert_int_eq(lirf_arena_create(tctx(), 0, &ws), LIRF_OK);
    lirf_tape *ta, *tl, *tu;
    lirf_tape_create(&ta), lirf_tape_create(&tl), lirf_tape_create(&tu);

    lirf_buf za, feat, zb;
    ck_assert_int_eq(lirf_net_forward(whole, ws, ta, LIRF_MODE_TRAIN, bx.v, N, &za), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(lower, ws, tl, LIRF_MODE_TRAIN, bx.v, N, &feat), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(upper, ws, tu, LIRF_MODE_TRAIN, feat, N, &zb), LIRF_OK);
    double a[30], b[30];
    read_all(za, a, 30), read_all(zb, b, 30);
    ck_assert_close("split logits", b, a, 30, 0, 0); /* same kernels, same data: identical */
    lirf_buf split_feat;
    ck_assert_int_eq(lirf_tape_output(ta, 2, &split_feat), LIRF_OK);
    int fc, fh, fw;
    lirf_stage_shape(lirf_net_cfg(whole), 2, &fc, &fh, &fw);
    ck_assert_int_eq(fc, 2 * W);
    size_t nf = (size_t)N * fc * fh * fw;
    double *f1 = malloc(nf * sizeof *f1), *f2 = malloc(nf * sizeof *f2);
    read_all(split_feat, f1, nf), read_all(feat, f2, nf);
    ck_assert_close("feature at layer2", f2, f1, nf, 0, 0);

    /* backward with dlogits = 1: gradients of the two halves equal the whole's */
    double ones[30];
    for (int i = 0; i < 30; i++) ones[i] = 0.1 * (i % 7) - 0.3;
    tbuf bd = tbuf_new(ones, 30);
    lirf_buf dfeat;
    ck_assert_int_eq(lirf_net_backward(whole, ws, ta, bd.v, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(upper, ws, tu, bd.v, &dfeat), LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(lower, ws, tl, dfeat, NULL), LIRF_OK);
    for (size_t i = 0; i < lirf_net_ntensors(whole); i++) {
        const lirf_tensor_desc *t = lirf_net_tensor(whole, i);
        if (t->kind != LIRF_T_PARAM) continue;
        lirf_net *part = t->stage <= 2 ? lower : upper;
        int j = lirf_net_find(part, t->name);
        ck_assert_int_ge(j, 0);
        double *g1 = malloc(t->n * sizeof *g1), *g2 = malloc(t->n * sizeof *g2);
        read_all(lirf_net_tensor_grad(whole, i), g1, t->n);
        read_all(lirf_net_tensor_grad(part, (size_t)j), g2, t->n);
        ck_assert_close(t->name, g2, g1, t->n, 1e-6, 1e-5);
        free(g1), free(g2);
    }
    /* the frozen upper part: input gradient as in TRAIN_BN_FIXED, no parameter gradient */
    ck_assert_int_eq(lirf_net_zero_grads(upper), LIRF_OK);
    lirf_buf z1, z2, d1, d2;
    ck_assert_int_eq(lirf_net_forward(upper, ws, tu, LIRF_MODE_FROZEN, feat, N, &z1), LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(upper, ws, tu, bd.v, &d1), LIRF_OK);
    size_t np = lirf_net_nparams(upper);
    double *gp = malloc(np * sizeof *gp);
    read_all(lirf_net_grads(upper), gp, np);
    for (size_t i = 0; i < np; i++) ck_assert_msg(gp[i] == 0, "frozen part got a gradient");
    ck_assert_int_eq(lirf_net_forward(upper, ws, tu, LIRF_MODE_TRAIN_BN_FIXED, feat, N, &z2),
                     LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(upper, ws, tu, bd.v, &d2), LIRF_OK);
    read_all(lirf_net_grads(upper), gp, np);
    double gsum = 0;
    for (size_t i = 0; i < np; i++) gsum += fabs(gp[i]);
    ck_assert(gsum > 0);
    read_all(d1, f1, nf), read_all(d2, f2, nf);
    ck_assert_close("frozen dx", f1, f2, nf, 0, 0);

    free(gp), free(f1), free(f2), free(x);
    tbuf_free(&bx), tbuf_free(&bd);
    lirf_tape_destroy(ta), lirf_tape_destroy(tl), lirf_tape_destroy(tu);
    lirf_arena_destroy(ws);
    lirf_net_destroy(whole), lirf_net_destroy(lower), lirf_net_destroy(upper);
}

START_TEST(split_equals_whole) { split_equals_whole_for(LIRF_ARCH_RESNET18, 12); }
END_TEST
/* the ImageNet stem (max pool in stage 0) and ResNet-34's deeper stages */
START_TEST(split_equals_whole_imagenet_stem) {
    split_equals_whole_for(LIRF_ARCH_RESNET18_IMAGENET, 40);
}
END_TEST
START_TEST(split_equals_whole_resnet34) { split_equals_whole_for(LIRF_ARCH_RESNET34, 12); }
END_TEST

/* A training step: zero grads, forward, CE, backward, SGD. Returns the loss. */
static double step(lirf_net *n, lirf_arena *ws, lirf_tape *t, lirf_buf x, lirf_buf y, lirf_buf loss,
                   int N) {
    lirf_ctx *ctx = tctx();
    lirf_buf z, dz;
    ck_assert_int_eq(lirf_arena_reset(ws), LIRF_OK);
    ck_assert_int_eq(lirf_net_zero_grads(n), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(n, ws, t, LIRF_MODE_TRAIN, x, N, &z), LIRF_OK);
    ck_assert_int_eq(lirf_softmax_ce_forward(ctx, loss, LIRF_NOBUF, z, y, N, 10), LIRF_OK);
    ck_assert_int_eq(lirf_arena_get(ws, (size_t)N * 10, &dz), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(ctx, dz, 0), LIRF_OK);
    ck_assert_int_eq(lirf_softmax_ce_backward(ctx, dz, z, y, N, 10, 1.0f), LIRF_OK);
    ck_assert_int_eq(lirf_net_backward(n, ws, t, dz, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_sgd_step(ctx, lirf_net_params(n), lirf_net_momentum(n),
                                   lirf_net_grads(n), lirf_net_nparams(n), 0.05f, 0.9f, 5e-4f),
                     LIRF_OK);
    float l;
    ck_assert_int_eq(lirf_buf_read(ctx, loss, &l, 1), LIRF_OK);
    return l;
}

static void train_steps(lirf_arch arch, int in_c, int hw) {
    const int N = 8;
    lirf_net *n = make(arch, 0, lirf_arch_stages(arch) - 1, 4, in_c, hw);
    ck_assert_int_eq(lirf_net_init(n, 3), LIRF_OK);
    trng r = {9};
    size_t nx = (size_t)N * in_c * hw * hw;
    double *x = malloc(nx * sizeof *x);
    trand_fill(&r, x, nx, -1, 1);
    int32_t y[8];
    for (int i = 0; i < N; i++) y[i] = i % 10;
    tbuf bx = tbuf_new(x, nx), by = tbuf_new_int(y, N), bl = tbuf_zeros(1);
    lirf_arena *ws;
    lirf_tape *t;
    ck_assert_int_eq(lirf_arena_create(tctx(), 0, &ws), LIRF_OK);
    lirf_tape_create(&t);
    double first = step(n, ws, t, bx.v, by.v, bl.v, N);
    step(n, ws, t, bx.v, by.v, bl.v, N);
    uint64_t allocs = lirf_ctx_stats(tctx())->allocations;
    double last = 0;
    for (int i = 0; i < 20; i++) last = step(n, ws, t, bx.v, by.v, bl.v, N);
    ck_assert_msg(lirf_ctx_stats(tctx())->allocations == allocs,
                  "training steps allocated device memory after the first");
    ck_assert_msg(isfinite(last) && last < 0.5 * first, "loss %g -> %g: not learning", first, last);
    int cnt = lirf_net_find(n, arch == LIRF_ARCH_CNN ? "bn1.num_batches_tracked"
                                                     : "layer1.0.bn1.num_batches_tracked");
    int64_t c;
    ck_assert_int_eq(lirf_net_tensor_get(n, (size_t)cnt, &c), LIRF_OK);
    ck_assert_int_eq(c, 22);
    lirf_tape_destroy(t);
    lirf_arena_destroy(ws);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bl);
    free(x);
    lirf_net_destroy(n);
}

START_TEST(resnet_learns_a_batch) { train_steps(LIRF_ARCH_RESNET18, 1, 12); }
END_TEST
START_TEST(resnet18_imagenet_learns_a_batch) { train_steps(LIRF_ARCH_RESNET18_IMAGENET, 3, 64); }
END_TEST
START_TEST(resnet34_learns_a_batch) { train_steps(LIRF_ARCH_RESNET34_IMAGENET, 3, 32); }
END_TEST

/* torchvision's resnet18 / resnet34 (3x224x224, 1000 classes): the parameter
 * counts torchvision reports, its tensor names, the stage shapes 56/28/14/7;
 * at 64 px 16/16/8/4/2. */
START_TEST(torchvision_counts_names_and_shapes) {
    lirf_net_config c = {.arch = LIRF_ARCH_RESNET18_IMAGENET, .width = 64, .in_c = 3,
                         .in_h = 224, .in_w = 224, .classes = 1000, .first = 0, .last = 5};
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &c, &n), LIRF_OK);
    ck_assert_uint_eq(lirf_net_nparams(n), 11689512);
    ck_assert_uint_eq(lirf_net_ntensors(n), 122);
    ck_assert_int_eq(lirf_net_tensor(n, (size_t)lirf_net_find(n, "conv1.weight"))->shape[3], 7);
    lirf_net_destroy(n);
    static const int want[6][3] = {{64, 56, 56}, {64, 56, 56}, {128, 28, 28},
                                   {256, 14, 14}, {512, 7, 7}, {1000, 1, 1}};
    for (int s = 0; s < 6; s++) {
        int ch, h, w;
        lirf_stage_shape(&c, s, &ch, &h, &w);
        ck_assert_msg(ch == want[s][0] && h == want[s][1] && w == want[s][2],
                      "stage %d: %dx%dx%d", s, ch, h, w);
    }
    c.arch = LIRF_ARCH_RESNET34_IMAGENET;
    ck_assert_int_eq(lirf_net_create(tctx(), &c, &n), LIRF_OK);
    ck_assert_uint_eq(lirf_net_nparams(n), 21797672);
    ck_assert_uint_eq(lirf_net_ntensors(n), 218);
    ck_assert_int_ge(lirf_net_find(n, "layer3.5.bn2.num_batches_tracked"), 0);
    ck_assert_int_ge(lirf_net_find(n, "layer4.2.conv2.weight"), 0);
    ck_assert_int_lt(lirf_net_find(n, "layer4.3.conv1.weight"), 0);
    lirf_net_destroy(n);
    c.in_h = c.in_w = 64;
    static const int want64[5] = {16, 16, 8, 4, 2};
    for (int s = 0; s < 5; s++) {
        int ch, h, w;
        lirf_stage_shape(&c, s, &ch, &h, &w);
        ck_assert_int_eq(h, want64[s]);
        ck_assert_int_eq(w, want64[s]);
    }
    /* ResNet-34 CIFAR: 16 blocks, the inner widths 16 numbers */
    const lirf_arch_desc *d = lirf_arch_describe(LIRF_ARCH_RESNET34);
    ck_assert_int_eq(lirf_arch_blocks(d, 5), 16);
    ck_assert_int_eq(lirf_block_index(d, 3, 5), 12);
    ck_assert_int_eq(lirf_block_index(d, 4, 2), 15);
    c.arch = LIRF_ARCH_RESNET34;
    char mid[256];
    for (int i = 0; i < LIRF_MAX_BLOCKS; i++) c.mid[i] = i + 1;
    lirf_mid_format(&c, mid, sizeof mid);
    ck_assert_str_eq(mid, "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16");
    ck_assert_int_eq(lirf_mid_parse(&c, mid), LIRF_OK);
    ck_assert_int_eq(c.mid[15], 16);
    ck_assert_int_eq(lirf_mid_parse(&c, "1,2,3,4,5,6,7,8"), LIRF_E_FORMAT);
}
END_TEST

/* 224 px through the ImageNet stem (112 -> 56 ... 7): one training step of
 * ResNet-18 width 4, finite logits, every parameter tensor gets a gradient
 * (ResNet-34's deeper stages run at 32 and 64 px above and in test_golden). */
START_TEST(imagenet_stem_at_224_px) {
    const int N = 2, HW = 224;
    lirf_net *n = make(LIRF_ARCH_RESNET18_IMAGENET, 0, 5, 4, 3, HW);
    ck_assert_int_eq(lirf_net_init(n, 4), LIRF_OK);
    trng r = {13};
    size_t nx = (size_t)N * 3 * HW * HW;
    double *x = malloc(nx * sizeof *x);
    trand_fill(&r, x, nx, -1, 1);
    int32_t y[2] = {1, 7};
    tbuf bx = tbuf_new(x, nx), by = tbuf_new_int(y, N), bl = tbuf_zeros(1);
    lirf_arena *ws;
    lirf_tape *t;
    ck_assert_int_eq(lirf_arena_create(tctx(), 0, &ws), LIRF_OK);
    lirf_tape_create(&t);
    double loss = step(n, ws, t, bx.v, by.v, bl.v, N);
    ck_assert(isfinite(loss) && loss > 0);
    lirf_buf f;
    ck_assert_int_eq(lirf_tape_output(t, 4, &f), LIRF_OK);
    ck_assert_uint_eq(f.n, (size_t)N * 32 * 7 * 7);
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(n, i);
        if (d->kind != LIRF_T_PARAM) continue;
        double *g = malloc(d->n * sizeof *g), s = 0;
        read_all(lirf_net_tensor_grad(n, i), g, d->n);
        for (size_t k = 0; k < d->n; k++) s += fabs(g[k]);
        ck_assert_msg(isfinite(s) && s > 0, "%s: gradient %g", d->name, s);
        free(g);
    }
    lirf_tape_destroy(t);
    lirf_arena_destroy(ws);
    tbuf_free(&bx), tbuf_free(&by), tbuf_free(&bl);
    free(x);
    lirf_net_destroy(n);
}
END_TEST

/* Names as checkpoints carry them, the old ones included, and the stem choice. */
START_TEST(arch_names_parse_and_stems) {
    static const char *names[] = {"resnet18_cifar", "cnn", "resnet18_imagenet", "resnet34_cifar",
                                  "resnet34_imagenet"};
    for (int a = 0; a < LIRF_NARCH; a++) {
        lirf_arch got;
        ck_assert_str_eq(lirf_arch_name((lirf_arch)a), names[a]);
        ck_assert_int_eq(lirf_arch_parse(names[a], &got), LIRF_OK);
        ck_assert_int_eq(got, a);
    }
    lirf_arch a;
    ck_assert_int_eq(lirf_arch_parse("resnet18", &a), LIRF_OK);
    ck_assert_int_eq(a, LIRF_ARCH_RESNET18);
    ck_assert_int_eq(lirf_arch_parse("ResNet-34", &a), LIRF_OK);
    ck_assert_int_eq(a, LIRF_ARCH_RESNET34);
    ck_assert_int_eq(lirf_arch_parse("resnet50", &a), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_arch_with_stem(LIRF_ARCH_RESNET18, "imagenet", &a), LIRF_OK);
    ck_assert_int_eq(a, LIRF_ARCH_RESNET18_IMAGENET);
    ck_assert_int_eq(lirf_arch_with_stem(LIRF_ARCH_RESNET34_IMAGENET, "cifar", &a), LIRF_OK);
    ck_assert_int_eq(a, LIRF_ARCH_RESNET34);
    ck_assert_int_eq(lirf_arch_with_stem(LIRF_ARCH_RESNET34, "imagenet", &a), LIRF_OK);
    ck_assert_int_eq(a, LIRF_ARCH_RESNET34_IMAGENET);
    ck_assert_int_eq(lirf_arch_with_stem(LIRF_ARCH_CNN, "cifar", &a), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_arch_with_stem(LIRF_ARCH_RESNET18, "tiny", &a), LIRF_E_INVALID);
    ck_assert_ptr_null(lirf_arch_describe((lirf_arch)LIRF_NARCH));
    ck_assert_ptr_null(lirf_arch_describe((lirf_arch)-1));
}
END_TEST
START_TEST(cnn_learns_a_batch) { train_steps(LIRF_ARCH_CNN, 3, 16); }
END_TEST

START_TEST(parameter_count_and_names) {
    /* the paper's network: 11.17 M parameters on 3x32x32 with 10 classes */
    lirf_net *n = make(LIRF_ARCH_RESNET18, 0, 5, 64, 3, 32);
    ck_assert_uint_eq(lirf_net_nparams(n), 11173962);
    ck_assert_int_ge(lirf_net_find(n, "layer2.0.downsample.1.running_var"), 0);
    ck_assert_int_lt(lirf_net_find(n, "layer1.0.downsample.0.weight"), 0);
    lirf_net_destroy(n);
    lirf_net_config bad = {.arch = LIRF_ARCH_RESNET18, .width = 0, .in_c = 3, .in_h = 32,
                           .in_w = 32, .classes = 10, .first = 0, .last = 5};
    lirf_net *m;
    ck_assert_int_eq(lirf_net_create(tctx(), &bad, &m), LIRF_E_INVALID);
    bad.width = 8, bad.last = 6;
    ck_assert_int_eq(lirf_net_create(tctx(), &bad, &m), LIRF_E_INVALID);
}
END_TEST

/* A non-finite gradient is counted on the device and named on the host. */
START_TEST(nonfinite_gradient_is_named) {
    lirf_net *n = make(LIRF_ARCH_RESNET18, 0, 5, 4, 1, 12);
    ck_assert_int_eq(lirf_net_init(n, 3), LIRF_OK); /* running statistics 0 / 1 */
    ck_assert_int_eq(lirf_net_zero_grads(n), LIRF_OK);
    lirf_buf counter;
    ck_assert_int_eq(lirf_buf_alloc(tctx(), 1, &counter), LIRF_OK);
    int32_t got;
    char name[160];
    ck_assert_int_eq(lirf_net_count_nonfinite(n, counter), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), counter, &got, 1), LIRF_OK);
    ck_assert_int_eq(got, 0);
    ck_assert_int_eq(lirf_net_nonfinite_name(n, name, sizeof name), LIRF_OK);
    ck_assert_str_eq(name, "");
    int i = lirf_net_find(n, "layer3.1.conv2.weight"), j = lirf_net_find(n, "fc.bias");
    ck_assert(i >= 0 && j >= 0);
    float nan = NAN, inf = INFINITY;
    lirf_buf gi = lirf_net_tensor_grad(n, (size_t)i), gj = lirf_net_tensor_grad(n, (size_t)j);
    ck_assert_int_eq(lirf_buf_write(tctx(), (lirf_buf){gi.mem, gi.off + 7, 1}, &nan, 1), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(tctx(), (lirf_buf){gj.mem, gj.off + 3, 1}, &inf, 1), LIRF_OK);
    ck_assert_int_eq(lirf_net_count_nonfinite(n, counter), LIRF_OK);
    ck_assert_int_eq(lirf_buf_read(tctx(), counter, &got, 1), LIRF_OK);
    ck_assert_int_eq(got, 2);
    ck_assert_int_eq(lirf_net_nonfinite_name(n, name, sizeof name), LIRF_OK);
    ck_assert_str_eq(name, "gradient of layer3.1.conv2.weight (NaN)"); /* the first in the net's order */
    lirf_buf_free(tctx(), &counter);
    lirf_net_destroy(n);
}
END_TEST

int main(void) {
    Suite *s = suite_create("net");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, parameter_count_and_names);
    tcase_add_test(tc, nonfinite_gradient_is_named);
    tcase_add_test(tc, split_equals_whole);
    tcase_add_test(tc, resnet_learns_a_batch);
    tcase_add_test(tc, cnn_learns_a_batch);
    tcase_add_test(tc, split_equals_whole_imagenet_stem);
    tcase_add_test(tc, split_equals_whole_resnet34);
    tcase_add_test(tc, resnet18_imagenet_learns_a_batch);
    tcase_add_test(tc, resnet34_learns_a_batch);
    tcase_add_test(tc, torchvision_counts_names_and_shapes);
    tcase_add_test(tc, arch_names_parse_and_stems);
    tcase_add_test(tc, imagenet_stem_at_224_px);
    suite_add_tcase(s, tc);
    return trun(s);
}
