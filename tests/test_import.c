/* lirf import (model/io/import.c, cli/cmd_import.c) against the fixtures of
 * tests/pytorch/gen_import.py (tests/golden/import/README.md):
 *
 * - a CIFAR ResNet-18 (width 4, 1x28x28) trained 300 steps in PyTorch and
 *   written by safetensors.torch.save_file(state_dict): imported, its logits on
 *   256 Fashion-MNIST test images match PyTorch's within 1e-4 of the largest
 *   |logit| (the float32 summation order differs; the fixture's closest
 *   top-2 gap is 6.8e-3, so no prediction can flip within it), and the
 *   library evaluation (lirf_eval_checkpoint, what `lirf eval` runs) counts
 *   the same correct predictions as PyTorch (215 of 256), and `lirf eval
 *   --json` prints that accuracy;
 * - weights: every tensor of the lirf checkpoint has PyTorch's bytes;
 * - round trip lirf -> PyTorch -> lirf: the generator, run with --lirf, checked
 *   with the real torch that safetensors.torch.save_file(load_file(lirf
 *   checkpoint)) gives back the committed PyTorch file byte for byte, so that
 *   file also stands for "a lirf checkpoint as PyTorch writes it". Here the
 *   PyTorch write is simulated (the lirf checkpoint's tensors, no metadata,
 *   in the committed file's order) and imported again: tensor bytes
 *   identical. What CI cannot show without torch is that a future torch still
 *   writes the same bytes;
 * - torchvision's resnet18 / resnet34 layouts (ImageNet stem; ResNet-34 also
 *   with the CIFAR stem; tests/pytorch/gen_import_resnets.py): imported, the
 *   architecture inferred, PyTorch's eval logits;
 * - the other CIFAR naming (shortcut.0/1, linear), the preprocessing at
 *   another scale, every refusal (with the tensor or field named, and nothing
 *   written), the meta JSON reader, and the command line. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "experiments.h"
#include "import.h"
#include "loader.h"
#include "train.h"
#include "util.h"

#define GOLD LIRF_SOURCE_DIR "/tests/golden/import/"
#define PT GOLD "fmnist_resnet18_w4.pt.safetensors"
#define META GOLD "fmnist_resnet18_w4.meta.json"
#define REF GOLD "fmnist_resnet18_w4.logits.safetensors"
#define EVAL_DIR GOLD "fmnist-256"

static char g_dir[256];

static void tpath(char *out, size_t cap, const char *name) {
    if (!g_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/lirf_import_XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static int exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

static lirf_import_meta golden_meta(void) {
    lirf_import_meta m = {0};
    ck_assert_msg(lirf_import_meta_read(META, &m) == LIRF_OK, "%s", lirf_error_message());
    return m;
}

/* Imports `in` with m into `out` (must succeed). */
static lirf_import_report import_ok(const char *in, const char *out, const lirf_import_meta *m) {
    lirf_import_report r;
    lirf_status s = lirf_import_file(tctx(), in, out, m, &r);
    ck_assert_msg(s == LIRF_OK, "import %s: %s", in, lirf_error_message());
    return r;
}

/* The import must fail with status want and a message holding `needle`, and
 * leave no file at out. */
static void import_refused(const char *in, const lirf_import_meta *m, lirf_status want,
                           const char *needle) {
    char out[512];
    tpath(out, sizeof out, "refused.safetensors");
    unlink(out);
    lirf_import_report r;
    lirf_status s = lirf_import_file(tctx(), in, out, m, &r);
    ck_assert_msg(s == want, "%s: status %s, expected %s (%s)", in, lirf_status_name(s),
                  lirf_status_name(want), lirf_error_message());
    ck_assert_msg(strstr(lirf_error_message(), needle), "message \"%s\" lacks \"%s\"",
                  lirf_error_message(), needle);
    ck_assert_msg(!exists(out), "a refused import wrote %s", out);
}

static lirf_safetensors read_st(const char *path) {
    lirf_safetensors st;
    ck_assert_msg(lirf_st_read(path, &st) == LIRF_OK, "%s", lirf_error_message());
    return st;
}

/* Every tensor of a has b's name (or, with `renamed`, its CIFAR alias), dtype,
 * shape and bytes, and both hold as many. */
static void same_tensors(const lirf_safetensors *a, const lirf_safetensors *b) {
    ck_assert_uint_eq(a->count, b->count);
    for (size_t i = 0; i < a->count; i++) {
        const lirf_st_tensor *x = &a->tensors[i];
        const lirf_st_tensor *y = lirf_checkpoint_find(b, "", x->name);
        ck_assert_msg(y != NULL, "tensor %s missing", x->name);
        ck_assert_int_eq(x->dtype, y->dtype);
        ck_assert_int_eq(x->ndim, y->ndim);
        for (int d = 0; d < x->ndim; d++) ck_assert_int_eq(x->shape[d], y->shape[d]);
        ck_assert_uint_eq(x->nbytes, y->nbytes);
        ck_assert_msg(!memcmp(x->data, y->data, x->nbytes), "tensor %s: bytes differ", x->name);
    }
}

/* The imported net's logits on the eval images, (n, classes) on the host. */
static float *lirf_logits(const char *ckpt, int *n, int *classes) {
    lirf_ctx *ctx = tctx();
    lirf_model_meta meta;
    lirf_net *net;
    ck_assert_msg(lirf_checkpoint_load(ctx, ckpt, &meta, &net) == LIRF_OK, "%s",
                  lirf_error_message());
    lirf_dataset ds;
    lirf_data_opts o = {.path = EVAL_DIR, .train = 0};
    ck_assert_msg(lirf_dataset_load(&o, &ds) == LIRF_OK, "%s", lirf_error_message());
    lirf_loader_opts lo = {.data = &ds, .batch = ds.n};
    memcpy(lo.mean, meta.mean, sizeof lo.mean);
    memcpy(lo.std, meta.std, sizeof lo.std);
    lirf_loader *l;
    lirf_arena *ws;
    ck_assert_int_eq(lirf_loader_create(ctx, &lo, &l), LIRF_OK);
    ck_assert_int_eq(lirf_arena_create(ctx, 0, &ws), LIRF_OK);
    lirf_buf x, y, z;
    ck_assert_int_eq(lirf_loader_start(l, 0, 0), LIRF_OK);
    ck_assert_int_eq(lirf_loader_next(l, &x, &y, n), LIRF_OK);
    ck_assert_int_eq(*n, ds.n);
    ck_assert_msg(lirf_net_logits(net, ws, x, *n, &z) == LIRF_OK, "%s", lirf_error_message());
    *classes = meta.cfg.classes;
    float *h = malloc((size_t)*n * (size_t)*classes * sizeof *h);
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(lirf_buf_read(ctx, z, h, (size_t)*n * (size_t)*classes), LIRF_OK);
    lirf_arena_destroy(ws);
    lirf_loader_destroy(l);
    lirf_dataset_free(&ds);
    lirf_net_destroy(net);
    lirf_model_meta_free(&meta);
    return h;
}

/* max |got - want| / max |want| over the fixture's logits; *correct: argmax
 * hits of got against the fixture's labels. */
static double logits_error(const float *got, int n, int k, int *correct) {
    lirf_safetensors ref = read_st(REF);
    const lirf_st_tensor *lt = lirf_st_find(&ref, "logits"), *yt = lirf_st_find(&ref, "labels");
    ck_assert_ptr_nonnull(lt);
    ck_assert_ptr_nonnull(yt);
    ck_assert_int_eq(lt->shape[0], n);
    ck_assert_int_eq(lt->shape[1], k);
    const float *want = lt->data;
    const int64_t *labels = yt->data;
    double err = 0, scale = 0;
    *correct = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int c = 0; c < k; c++) {
            err = fmax(err, fabs((double)got[i * k + c] - want[i * k + c]));
            scale = fmax(scale, fabs(want[i * k + c]));
            if (got[i * k + c] > got[i * k + best]) best = c;
        }
        *correct += best == labels[i];
    }
    lirf_st_free(&ref);
    return err / scale;
}

static int ref_correct(void) {
    lirf_safetensors ref = read_st(REF);
    const char *v = lirf_st_meta(&ref, "correct");
    ck_assert_ptr_nonnull(v);
    int c = atoi(v);
    lirf_st_free(&ref);
    return c;
}

/* ---- the PyTorch net ------------------------------------------------------ */

START_TEST(pytorch_net_same_logits_and_accuracy) {
    char out[512];
    tpath(out, sizeof out, "imported.safetensors");
    lirf_import_meta m = golden_meta();
    lirf_import_report r = import_ok(PT, out, &m);
    ck_assert_int_eq(r.arch.cfg.arch, LIRF_ARCH_RESNET18);
    ck_assert_int_eq(r.meta.cfg.width, 4);
    ck_assert_int_eq(r.meta.cfg.classes, 10);
    ck_assert_uint_eq(r.tensors, 122);
    ck_assert_int_eq(r.renamed, 0);
    int n, k, correct;
    float *got = lirf_logits(out, &n, &k);
    double err = logits_error(got, n, k, &correct);
    printf("imported PyTorch net: logits max rel. error %.2e, %d / %d correct\n", err, correct, n);
    ck_assert_msg(err <= 1e-4, "logits differ from PyTorch's by %.3g of the largest", err);
    ck_assert_int_eq(correct, ref_correct());
    /* what lirf eval computes */
    lirf_table1_opts o = {.data = EVAL_DIR, .train = 0, .batch = 64};
    lirf_dataset ds = {0};
    int64_t *counts = NULL;
    int classes = 0;
    ck_assert_msg(lirf_eval_checkpoint(tctx(), out, &o, &ds, &counts, &classes) == LIRF_OK, "%s",
                  lirf_error_message());
    int64_t hit = 0, total = 0;
    for (int c = 0; c < classes; c++) hit += counts[2 * c], total += counts[2 * c + 1];
    ck_assert_int_eq(total, n);
    ck_assert_int_eq(hit, ref_correct());
    free(counts);
    lirf_dataset_free(&ds);
    free(got);
    lirf_import_meta_free(&m);
}
END_TEST

START_TEST(weights_and_metadata_as_given) {
    char out[512];
    tpath(out, sizeof out, "meta.safetensors");
    lirf_import_meta m = golden_meta();
    lirf_import_report r = import_ok(PT, out, &m);
    lirf_safetensors pt = read_st(PT), l = read_st(out);
    same_tensors(&pt, &l); /* PyTorch -> lirf: every byte of every weight kept */
    lirf_model_meta meta;
    lirf_safetensors st2;
    ck_assert_int_eq(lirf_checkpoint_open(out, &st2, &meta), LIRF_OK);
    ck_assert_int_eq(meta.cfg.in_c, 1);
    ck_assert_int_eq(meta.cfg.in_h, 28);
    ck_assert_int_eq(meta.cfg.in_w, 28);
    ck_assert(meta.mean[0] == (float)0.2860 && meta.std[0] == (float)0.3530);
    ck_assert_ptr_nonnull(meta.class_names);
    ck_assert_str_eq(meta.class_names[0], "T-shirt/top");
    ck_assert_str_eq(meta.class_names[9], "Ankle boot");
    ck_assert_str_eq(lirf_st_meta(&l, "imported_from"), "pytorch-state-dict");
    ck_assert_str_eq(lirf_st_meta(&l, "import_sha256"), r.sha256);
    ck_assert_ptr_null(lirf_st_meta(&l, "lirf_kind")); /* an original net, as lirf train's */
    lirf_model_meta_free(&meta);
    lirf_st_free(&st2);
    lirf_st_free(&pt);
    lirf_st_free(&l);
    lirf_import_meta_free(&m);
}
END_TEST

/* Writes st's tensors with no metadata, in the order of `order` (a file whose
 * tensor names are st's): PyTorch's save_file of st's state dict. */
static void write_like_pytorch(const lirf_safetensors *st, const lirf_safetensors *order,
                               const char *path) {
    lirf_st_tensor *t = calloc(order->count, sizeof *t);
    ck_assert_ptr_nonnull(t);
    size_t n = 0;
    /* safetensors lays the data out in offset order: order's tensors are
     * stored by offset already (the reader keeps file order) */
    for (size_t i = 0; i < order->count; i++) {
        const lirf_st_tensor *x = lirf_st_find(st, order->tensors[i].name);
        ck_assert_msg(x != NULL, "%s missing", order->tensors[i].name);
        t[n++] = *x;
    }
    ck_assert_int_eq(lirf_st_write(path, t, n, NULL, NULL, 0), LIRF_OK);
    free(t);
}

START_TEST(round_trip_lirf_pytorch_lirf) {
    char l1[512], back[512], l2[512];
    tpath(l1, sizeof l1, "l1.safetensors");
    tpath(back, sizeof back, "back.safetensors");
    tpath(l2, sizeof l2, "l2.safetensors");
    lirf_import_meta m = golden_meta();
    import_ok(PT, l1, &m);
    lirf_safetensors a = read_st(l1), pt = read_st(PT);
    write_like_pytorch(&a, &pt, back);
    import_ok(back, l2, &m);
    lirf_safetensors b = read_st(l2), bk = read_st(back);
    same_tensors(&a, &b);  /* lirf -> PyTorch -> lirf */
    same_tensors(&bk, &pt); /* the simulated PyTorch file holds the original's bytes */
    ck_assert_str_eq(lirf_st_meta(&a, "arch"), lirf_st_meta(&b, "arch"));
    ck_assert_str_eq(lirf_st_meta(&a, "preprocess"), lirf_st_meta(&b, "preprocess"));
    ck_assert_str_eq(lirf_st_meta(&a, "class_names"), lirf_st_meta(&b, "class_names"));
    lirf_st_free(&a), lirf_st_free(&b), lirf_st_free(&bk), lirf_st_free(&pt);
    lirf_import_meta_free(&m);
}
END_TEST

/* A copy of the PyTorch file with names changed by f (NULL: dropped). */
static void write_renamed(const char *path, const char *(*f)(const char *name, char *buf)) {
    lirf_safetensors pt = read_st(PT);
    lirf_st_tensor *t = calloc(pt.count, sizeof *t);
    char (*names)[128] = calloc(pt.count, sizeof *names);
    size_t n = 0;
    for (size_t i = 0; i < pt.count; i++) {
        const char *nn = f(pt.tensors[i].name, names[n]);
        if (!nn) continue;
        t[n] = pt.tensors[i];
        t[n++].name = (char *)nn;
    }
    ck_assert_int_eq(lirf_st_write(path, t, n, NULL, NULL, 0), LIRF_OK);
    free(t), free(names);
    lirf_st_free(&pt);
}

static const char *cifar_names(const char *name, char *buf) {
    const char *p = strstr(name, "downsample.");
    if (p) snprintf(buf, 128, "%.*sshortcut.%s", (int)(p - name), name, p + 11);
    else if (!strncmp(name, "fc.", 3)) snprintf(buf, 128, "linear.%s", name + 3);
    else snprintf(buf, 128, "%s", name);
    return buf;
}

START_TEST(cifar_naming_accepted) {
    char in[512], out[512], ref[512];
    tpath(in, sizeof in, "cifar_names.safetensors");
    tpath(out, sizeof out, "cifar_out.safetensors");
    tpath(ref, sizeof ref, "cifar_ref.safetensors");
    write_renamed(in, cifar_names);
    lirf_import_meta m = golden_meta();
    lirf_import_report r = import_ok(in, out, &m);
    ck_assert_int_eq(r.renamed, 3 * 6 + 2); /* 3 shortcuts x (conv + 5 BN tensors), fc */
    import_ok(PT, ref, &m);
    lirf_safetensors a = read_st(out), b = read_st(ref);
    same_tensors(&a, &b); /* written with torchvision's names, the same bytes */
    ck_assert_ptr_null(lirf_st_find(&a, "linear.weight"));
    lirf_st_free(&a), lirf_st_free(&b);
    lirf_import_meta_free(&m);
}
END_TEST

/* The same preprocessing at scale 1 (raw pixels): mean and std 255 times
 * larger; the checkpoint's (on lirf's p/255 scale) within float rounding. */
START_TEST(preprocessing_at_another_scale) {
    char a[512], b[512];
    tpath(a, sizeof a, "scale_a.safetensors");
    tpath(b, sizeof b, "scale_b.safetensors");
    lirf_import_meta m = golden_meta(), raw = {0};
    ck_assert_int_eq(lirf_import_meta_set(&raw, "scale", "1"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&raw, "mean", "72.93"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&raw, "std", "90.015"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&raw, "in_shape", "1,28,28"), LIRF_OK);
    lirf_import_report ra = import_ok(PT, a, &m), rb = import_ok(PT, b, &raw);
    ck_assert_msg(fabs(rb.meta.mean[0] - 72.93 / 255) < 1e-7 &&
                  fabs(rb.meta.std[0] - 90.015 / 255) < 1e-7, "%.9g %.9g", rb.meta.mean[0],
                  rb.meta.std[0]);
    ck_assert(fabs(ra.meta.mean[0] - rb.meta.mean[0]) < 1e-6);
    ck_assert_ptr_null(rb.meta.class_names); /* none given: optional */
    /* "1/255" as a fraction is torchvision's scale exactly */
    ck_assert_int_eq(lirf_import_meta_set(&raw, "scale", "1/255"), LIRF_OK);
    ck_assert(raw.scale == 1.0 / 255.0);
    lirf_import_meta_free(&m);
    lirf_import_meta_free(&raw);
}
END_TEST

/* ---- refusals ------------------------------------------------------------- */

START_TEST(missing_meta_refused) {
    lirf_import_meta m = golden_meta();
    const char *field[] = {"scale", "mean", "std", "input shape"};
    for (int k = 0; k < 4; k++) {
        lirf_import_meta x = golden_meta();
        if (k == 0) x.scale = 0;
        if (k == 1) x.nmean = 0;
        if (k == 2) x.nstd = 0;
        if (k == 3) x.in_c = 0;
        import_refused(PT, &x, LIRF_E_INVALID, field[k]);
        lirf_import_meta_free(&x);
    }
    lirf_import_meta x = golden_meta();
    ck_assert_int_eq(lirf_import_meta_set(&x, "in_shape", "3,28,28"), LIRF_OK);
    import_refused(PT, &x, LIRF_E_INVALID, "conv1.weight takes 1");
    ck_assert_int_eq(lirf_import_meta_set(&x, "in_shape", "1,28,28"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&x, "mean", "0.1,0.2"), LIRF_OK);
    import_refused(PT, &x, LIRF_E_INVALID, "2 mean and 1 std values for 1 input");
    ck_assert_int_eq(lirf_import_meta_set(&x, "mean", "0.1"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&x, "class_names", "a,b,c"), LIRF_OK);
    import_refused(PT, &x, LIRF_E_INVALID, "3 class names, but fc.weight has 10");
    lirf_import_meta_free(&x);
    lirf_import_meta_free(&m);
}
END_TEST

static const char *keep_name(const char *name, char *buf) {
    (void)buf;
    return name;
}
static const char *drop_one(const char *name, char *buf) {
    (void)buf;
    return strcmp(name, "layer2.1.bn2.running_var") ? name : NULL;
}
static const char *add_module(const char *name, char *buf) {
    snprintf(buf, 128, "module.%s", name);
    return buf;
}

/* A copy of the PyTorch file with one extra tensor (name, dtype, shape). */
static void write_plus(const char *path, const char *replace, const lirf_st_tensor *extra) {
    lirf_safetensors pt = read_st(PT);
    lirf_st_tensor *t = calloc(pt.count + 1, sizeof *t);
    size_t n = 0;
    for (size_t i = 0; i < pt.count; i++)
        if (!replace || strcmp(pt.tensors[i].name, replace)) t[n++] = pt.tensors[i];
    t[n++] = *extra;
    ck_assert_int_eq(lirf_st_write(path, t, n, NULL, NULL, 0), LIRF_OK);
    free(t);
    lirf_st_free(&pt);
}

START_TEST(bad_tensors_refused_by_name) {
    lirf_import_meta m = golden_meta();
    char p[512];
    float data[4 * 4 * 3 * 3] = {0};
    int32_t idata[4] = {0};
    tpath(p, sizeof p, "unknown.safetensors");
    lirf_st_tensor extra = {"head.extra.weight", LIRF_F32, 1, {4}, 16, data};
    write_plus(p, NULL, &extra);
    import_refused(p, &m, LIRF_E_FORMAT, "tensor 'head.extra.weight' is not part of a CIFAR");
    tpath(p, sizeof p, "both_names.safetensors");
    lirf_st_tensor alias = {"linear.bias", LIRF_F32, 1, {10}, 40, data};
    write_plus(p, NULL, &alias);
    import_refused(p, &m, LIRF_E_FORMAT, "tensor 'linear.bias' is not part");
    tpath(p, sizeof p, "missing.safetensors");
    write_renamed(p, drop_one);
    import_refused(p, &m, LIRF_E_FORMAT, "tensor 'layer2.1.bn2.running_var' is missing");
    tpath(p, sizeof p, "shape.safetensors");
    lirf_st_tensor shp = {"layer1.0.conv2.weight", LIRF_F32, 4, {4, 4, 1, 9}, sizeof data, data};
    write_plus(p, "layer1.0.conv2.weight", &shp);
    import_refused(p, &m, LIRF_E_FORMAT, "'layer1.0.conv2.weight' has shape [4,4,1,9]");
    tpath(p, sizeof p, "dtype.safetensors");
    lirf_st_tensor i32 = {"bn1.bias", LIRF_I32, 1, {4}, sizeof idata, idata};
    write_plus(p, "bn1.bias", &i32);
    import_refused(p, &m, LIRF_E_FORMAT, "'bn1.bias' has dtype I32, expected F32");
    tpath(p, sizeof p, "nan.safetensors");
    float nan4[4] = {1, 2, NAN, 4};
    lirf_st_tensor nan = {"bn1.weight", LIRF_F32, 1, {4}, sizeof nan4, nan4};
    write_plus(p, "bn1.weight", &nan);
    import_refused(p, &m, LIRF_E_NUMERIC, "tensor 'bn1.weight' holds NaN");
    tpath(p, sizeof p, "module.safetensors");
    write_renamed(p, add_module);
    import_refused(p, &m, LIRF_E_FORMAT, "model.module.state_dict()");
    lirf_import_meta_free(&m);
}
END_TEST

/* A one-tensor file with a dtype lirf's writer does not have. */
static void write_raw_dtype(const char *path, const char *dtype) {
    const char *h = "{\"conv1.weight\":{\"dtype\":\"%s\",\"shape\":[4,1,3,3],"
                    "\"data_offsets\":[0,72]}}";
    char head[256];
    int n = snprintf(head, sizeof head, h, dtype);
    while (n % 8) head[n++] = ' ';
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    uint64_t len = (uint64_t)n;
    unsigned char le[8], zero[72] = {0};
    for (int i = 0; i < 8; i++) le[i] = (unsigned char)(len >> (8 * i));
    ck_assert(fwrite(le, 1, 8, f) == 8 && fwrite(head, 1, (size_t)n, f) == (size_t)n &&
              fwrite(zero, 1, 72, f) == 72);
    fclose(f);
}

START_TEST(half_precision_refused_clearly) {
    lirf_import_meta m = golden_meta();
    char p[512];
    tpath(p, sizeof p, "f16.safetensors");
    write_raw_dtype(p, "F16");
    import_refused(p, &m, LIRF_E_FORMAT, "float32 weights (save model.float()");
    import_refused(p, &m, LIRF_E_FORMAT, "'conv1.weight': dtype 'F16'");
    write_raw_dtype(p, "BF16");
    import_refused(p, &m, LIRF_E_FORMAT, "dtype 'BF16'");
    lirf_import_meta_free(&m);
}
END_TEST

START_TEST(lirf_checkpoint_refused) {
    char out[512];
    tpath(out, sizeof out, "already.safetensors");
    lirf_import_meta m = golden_meta();
    import_ok(PT, out, &m);
    import_refused(out, &m, LIRF_E_INVALID, "is a lirf checkpoint already");
    /* the output may not be the input (a copy: a failure must not touch the fixture) */
    char copy[512];
    tpath(copy, sizeof copy, "same.safetensors");
    write_renamed(copy, keep_name);
    lirf_import_report r;
    ck_assert_int_eq(lirf_import_file(tctx(), copy, copy, &m, &r), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "is the same file"));
    lirf_safetensors pt = read_st(copy);
    ck_assert_ptr_null(lirf_st_meta(&pt, "arch")); /* untouched */
    lirf_st_free(&pt);
    lirf_import_meta_free(&m);
}
END_TEST

/* Architectures by their names and shapes only: f32 zeros of the listed
 * conv1 shape, fc.weight, and conv1 tensors of the blocks. */
static void write_arch(const char *path, int k, const int *blocks, int bottleneck) {
    lirf_st_tensor t[64];
    static float z[8 * 3 * 7 * 7];
    char names[64][64];
    size_t n = 0;
    t[n++] = (lirf_st_tensor){"conv1.weight", LIRF_F32, 4, {8, 3, k, k}, 4u * 8 * 3 * k * k, z};
    t[n++] = (lirf_st_tensor){"fc.weight", LIRF_F32, 2, {10, 8}, 320, z};
    for (int l = 0; l < 4; l++)
        for (int b = 0; b < blocks[l]; b++) {
            snprintf(names[n], 64, "layer%d.%d.conv1.weight", l + 1, b);
            t[n] = (lirf_st_tensor){names[n], LIRF_F32, 1, {1}, 4, z};
            n++;
        }
    if (bottleneck) t[n++] = (lirf_st_tensor){"layer1.0.conv3.weight", LIRF_F32, 1, {1}, 4, z};
    ck_assert_int_eq(lirf_st_write(path, t, n, NULL, NULL, 0), LIRF_OK);
}

START_TEST(architectures_inferred_or_refused) {
    lirf_import_meta m = golden_meta();
    ck_assert_int_eq(lirf_import_meta_set(&m, "in_shape", "3,32,32"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "mean", "0.5,0.5,0.5"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "std", "0.5,0.5,0.5"), LIRF_OK);
    char p[512];
    tpath(p, sizeof p, "arch.safetensors");
    const int r18[4] = {2, 2, 2, 2}, r34[4] = {3, 4, 6, 3}, odd[4] = {1, 1, 1, 1};
    /* the ImageNet stem and ResNet-34 are inferred (torchvision_resnets_imported
     * imports real ones) */
    const struct { int k; const int *blocks; lirf_arch arch; } known[] = {
        {7, r18, LIRF_ARCH_RESNET18_IMAGENET}, {7, r34, LIRF_ARCH_RESNET34_IMAGENET},
        {3, r34, LIRF_ARCH_RESNET34}, {3, r18, LIRF_ARCH_RESNET18}};
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        write_arch(p, known[i].k, known[i].blocks, 0);
        lirf_safetensors st = read_st(p);
        lirf_import_arch a;
        ck_assert_msg(lirf_import_infer(&st, p, &a) == LIRF_OK, "%s", lirf_error_message());
        ck_assert_int_eq(a.cfg.arch, known[i].arch);
        lirf_st_free(&st);
    }
    write_arch(p, 7, r34, 1);
    import_refused(p, &m, LIRF_E_UNSUPPORTED, "bottleneck ResNet-50");
    write_arch(p, 3, odd, 0);
    import_refused(p, &m, LIRF_E_FORMAT, "1,1,1,1 blocks in layer1..layer4 match no ResNet");
    /* the CIFAR ResNet-18 shape is inferred, then its missing tensors named */
    write_arch(p, 3, r18, 0);
    lirf_safetensors st = read_st(p);
    lirf_import_arch a;
    ck_assert_int_eq(lirf_import_infer(&st, p, &a), LIRF_OK);
    ck_assert_int_eq(a.cfg.width, 8);
    ck_assert_int_eq(a.cfg.in_c, 3);
    ck_assert_int_eq(a.cfg.classes, 10);
    lirf_st_free(&st);
    import_refused(p, &m, LIRF_E_FORMAT, "tensor 'bn1.weight' is missing");
    lirf_import_meta_free(&m);
}
END_TEST

/* torchvision's ResNet-18 / ResNet-34 with the ImageNet stem, and ResNet-34
 * with the CIFAR stem, at width 4, as PyTorch writes them
 * (tests/pytorch/gen_import_resnets.py: save_file(state_dict), random BN
 * statistics; the models are gen_golden.py's, checked there against
 * torchvision's own resnet18 / resnet34): imported, and run in eval mode on
 * the fixture's input, PyTorch's eval logits within 1e-4 of the largest
 * |logit|. The generator, run with --lirf, also checked with the real torch
 * that PyTorch's save_file of each imported checkpoint is the committed file
 * byte for byte. */
static void resnet_imported(const char *name, lirf_arch want, const char *shape) {
    char in[512], ref[512], out[512];
    snprintf(in, sizeof in, GOLD "%s.pt.safetensors", name);
    snprintf(ref, sizeof ref, GOLD "%s.logits.safetensors", name);
    tpath(out, sizeof out, "resnet.safetensors");
    lirf_import_meta m = {0};
    ck_assert_int_eq(lirf_import_meta_set(&m, "in_shape", shape), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "scale", "1/255"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "mean", "0.485,0.456,0.406"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "std", "0.229,0.224,0.225"), LIRF_OK);
    lirf_import_report r = import_ok(in, out, &m);
    ck_assert_int_eq(r.arch.cfg.arch, want);
    ck_assert_int_eq(r.meta.cfg.width, 4);
    lirf_safetensors pt = read_st(in), back = read_st(out), g = read_st(ref);
    same_tensors(&pt, &back); /* every tensor with PyTorch's bytes */
    const lirf_st_tensor *x = lirf_st_find(&g, "input"), *z = lirf_st_find(&g, "logits");
    ck_assert_ptr_nonnull(x);
    ck_assert_ptr_nonnull(z);
    lirf_ctx *ctx = tctx();
    lirf_model_meta meta;
    lirf_net *net;
    ck_assert_msg(lirf_checkpoint_load(ctx, out, &meta, &net) == LIRF_OK, "%s", lirf_error_message());
    int N = (int)x->shape[0], K = meta.cfg.classes;
    ck_assert_int_le(N * K, 64);
    lirf_buf bx, y;
    lirf_arena *ws;
    ck_assert_int_eq(lirf_buf_alloc(ctx, x->nbytes / 4, &bx), LIRF_OK);
    ck_assert_int_eq(lirf_buf_write(ctx, bx, x->data, x->nbytes / 4), LIRF_OK);
    ck_assert_int_eq(lirf_arena_create(ctx, 0, &ws), LIRF_OK);
    ck_assert_int_eq(lirf_net_forward(net, ws, NULL, LIRF_MODE_EVAL, bx, N, &y), LIRF_OK);
    float got[64], want_v[64];
    ck_assert_int_eq(lirf_buf_read(ctx, y, got, (size_t)(N * K)), LIRF_OK);
    memcpy(want_v, z->data, (size_t)(N * K) * sizeof *want_v);
    double big = 0, err = 0;
    for (int i = 0; i < N * K; i++) big = fmax(big, fabs(want_v[i]));
    for (int i = 0; i < N * K; i++) err = fmax(err, fabs((double)got[i] - want_v[i]));
    printf("%s imported as %s: eval logits max error %.2e (largest |logit| %.3g)\n", name,
           lirf_arch_name(want), err, big);
    ck_assert_msg(err <= 1e-4 * big, "%s: logits differ from PyTorch's by %g", name, err);
    lirf_arena_destroy(ws);
    lirf_buf_free(ctx, &bx);
    lirf_net_destroy(net);
    lirf_model_meta_free(&meta);
    lirf_st_free(&pt), lirf_st_free(&back), lirf_st_free(&g);
    lirf_import_meta_free(&m);
}

START_TEST(torchvision_resnets_imported) {
    resnet_imported("resnet18_imagenet_w4", LIRF_ARCH_RESNET18_IMAGENET, "3,64,64");
    resnet_imported("resnet34_imagenet_w4", LIRF_ARCH_RESNET34_IMAGENET, "3,64,64");
    resnet_imported("resnet34_cifar_w4", LIRF_ARCH_RESNET34, "3,32,32");
}
END_TEST

/* A checkpoint's class_names must be a JSON array of one string a class, or
 * [] (none): anything else is refused naming the key (it was ignored). */
static lirf_status open_with_names(const char *src, const char *names) {
    char p[512];
    tpath(p, sizeof p, "names.safetensors");
    lirf_safetensors st = read_st(src);
    const char *keys[64], *vals[64];
    size_t n = 0;
    for (size_t i = 0; i < st.meta_count && n < 64; i++, n++) {
        keys[n] = st.meta_keys[i];
        vals[n] = strcmp(st.meta_keys[i], "class_names") ? st.meta_vals[i] : names;
    }
    ck_assert_int_eq(lirf_st_write(p, st.tensors, st.count, keys, vals, n), LIRF_OK);
    lirf_st_free(&st);
    lirf_safetensors st2;
    lirf_model_meta meta;
    lirf_status s = lirf_checkpoint_open(p, &st2, &meta);
    if (s == LIRF_OK) {
        ck_assert_int_eq(!meta.class_names, !strcmp(names, "[]"));
        lirf_model_meta_free(&meta);
        lirf_st_free(&st2);
    }
    return s;
}

START_TEST(class_names_metadata_checked) {
    char out[512];
    tpath(out, sizeof out, "named.safetensors");
    lirf_import_meta m = golden_meta();
    import_ok(PT, out, &m);
    ck_assert_int_eq(open_with_names(out, "[]"), LIRF_OK);
    ck_assert_int_eq(open_with_names(out, "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\"]"),
                     LIRF_OK);
    const char *bad[] = {"[\"a\"]", "{\"a\": 1}", "[1,2,3,4,5,6,7,8,9,10]", "not json",
                         "[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",null]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(open_with_names(out, bad[i]), LIRF_E_FORMAT);
        ck_assert_ptr_nonnull(strstr(lirf_error_message(), "\"class_names\""));
    }
    lirf_import_meta_free(&m);
}
END_TEST

/* ---- the meta: text and JSON ---------------------------------------------- */

static void json_refused(const char *text, const char *needle) {
    lirf_import_meta m = {0};
    lirf_status s = lirf_import_meta_parse(text, strlen(text), "meta.json", &m);
    ck_assert_msg(s == LIRF_E_FORMAT, "%s: accepted (%s)", text, lirf_status_name(s));
    ck_assert_msg(strstr(lirf_error_message(), needle), "%s: message \"%s\" lacks \"%s\"", text,
                  lirf_error_message(), needle);
    lirf_import_meta_free(&m);
}

START_TEST(meta_json_checked) {
    lirf_import_meta m = golden_meta();
    ck_assert(m.scale == 1.0 / 255.0);
    ck_assert_int_eq(m.nmean, 1);
    ck_assert_int_eq(m.nnames, 10);
    ck_assert_int_eq(m.in_h, 28);
    lirf_import_meta_free(&m);
    json_refused("[1]", "not a JSON object");
    json_refused("{\"in_shape\": [1, 28, 28]", "not valid JSON");
    json_refused("{\"mean\": [0.5]}", "unknown key \"mean\"");
    json_refused("{\"preprocess\": {\"scale\": 1, \"scale\": 2}}", "not valid JSON");
    json_refused("{\"preprocess\": {\"offset\": 1}}", "unknown key \"preprocess.offset\"");
    json_refused("{\"preprocess\": {\"scale\": \"1/255\"}}", "scale\" is not a number");
    json_refused("{\"preprocess\": {\"scale\": 2}}", "scale must be in (0, 1]");
    json_refused("{\"preprocess\": {\"std\": [0.5, 0]}}", "std[1] = 0 is not a positive");
    json_refused("{\"preprocess\": {\"mean\": [1, 2, 3, 4, 5]}}", "1 to 4 values");
    json_refused("{\"preprocess\": {\"mean\": [\"a\"]}}", "\"mean\"[0] is not a number");
    json_refused("{\"in_shape\": [1, 28.5, 28]}", "\"in_shape\"[1] is not an integer");
    json_refused("{\"in_shape\": [1, 28]}", "in_shape must be C,H,W");
    json_refused("{\"in_shape\": [5, 28, 28]}", "C in 1..4");
    json_refused("{\"class_names\": [\"a\", \"a\"]}", "class names 0 and 1 are the same");
    json_refused("{\"class_names\": [\"a\", 3]}", "\"class_names\"[1] is not a string");
    json_refused("{\"class_names\": [\"a\", \"\"]}", "class name 1 is empty");
    json_refused("{\"class_names\": [\"a\", \"b\\u0000c\"]}", "NUL");
    json_refused("{\"class_names\": [\"a\", \"b\\nc\"]}", "control character");
    json_refused("{\"class_names\": \"a,b\"}", "not an array");
    /* a file over 1 MiB is refused before parsing */
    size_t big = (1u << 20) + 1;
    char *text = malloc(big);
    memset(text, ' ', big);
    lirf_import_meta x = {0};
    ck_assert_int_eq(lirf_import_meta_parse(text, big, "big.json", &x), LIRF_E_FORMAT);
    free(text);
    /* names with quotes and backslashes go through (jansson writes the JSON) */
    const char *ok = "{\"class_names\": [\"say \\\"hi\\\"\", \"back\\\\slash\"]}";
    ck_assert_int_eq(lirf_import_meta_parse(ok, strlen(ok), "ok.json", &x), LIRF_OK);
    ck_assert_str_eq(x.class_names[0], "say \"hi\"");
    ck_assert_str_eq(x.class_names[1], "back\\slash");
    lirf_import_meta_free(&x);
    char p[512];
    tpath(p, sizeof p, "nope.json");
    ck_assert_int_eq(lirf_import_meta_read(p, &x), LIRF_E_NOT_FOUND);
}
END_TEST

START_TEST(meta_text_checked) {
    lirf_import_meta m = {0};
    const char *bad[][3] = {{"scale", "1/0", "not a number or a fraction"},
                            {"scale", "abc", "not a number"},
                            {"scale", "1/", "not a number"},
                            {"scale", "0", "scale must be in (0, 1]"},
                            {"scale", "255", "scale must be in (0, 1]"},
                            {"mean", "0.5,", "not a comma-separated list"},
                            {"mean", "", "not a comma-separated list"},
                            {"mean", "nan", "is not a finite number"},
                            {"std", "0.5,-1", "std[1] = -1 is not a positive"},
                            {"std", "1,1,1,1,1", "1 to 4 values"},
                            {"in_shape", "3,32", "in_shape must be C,H,W"},
                            {"in_shape", "3,32.5,32", "not three integers"},
                            {"class_names", "a,,b", "class name 1 is empty"},
                            {"class_names", "a", "2 to 1000 names"},
                            {"class_names", "x,y,x", "class names 0 and 2 are the same"},
                            {"class_names", "ok,\xff\xfe", "class name 1 is not valid UTF-8"},
                            {"colour", "red", "unknown field"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lirf_status s = lirf_import_meta_set(&m, bad[i][0], bad[i][1]);
        ck_assert_msg(s == LIRF_E_INVALID, "%s=%s accepted", bad[i][0], bad[i][1]);
        ck_assert_msg(strstr(lirf_error_message(), bad[i][2]), "%s=%s: \"%s\" lacks \"%s\"",
                      bad[i][0], bad[i][1], lirf_error_message(), bad[i][2]);
    }
    ck_assert(m.scale == 0 && m.nmean == 0 && m.nstd == 0 && m.in_c == 0 && m.nnames == 0);
    ck_assert_int_eq(lirf_import_meta_set(&m, "mean", "0.4914,0.4822,0.4465"), LIRF_OK);
    ck_assert_int_eq(m.nmean, 3);
    ck_assert(m.mean[2] == 0.4465);
    ck_assert_int_eq(lirf_import_meta_set(&m, "class_names", "cat,dog"), LIRF_OK);
    ck_assert_int_eq(lirf_import_meta_set(&m, "class_names", "a,b,c"), LIRF_OK); /* replaces */
    ck_assert_int_eq(m.nnames, 3);
    ck_assert_str_eq(m.class_names[2], "c");
    lirf_import_meta_free(&m);
}
END_TEST

/* ---- the command ---------------------------------------------------------- */

/* lirf COMMAND ARGS, stdout and stderr into out_file; the exit status. */
static int run_cmd(const char *command, const char *args, const char *out_file) {
    char cmd[4096];
    int k = snprintf(cmd, sizeof cmd, "'%s' %s %s > '%s' 2>&1", tlirf_bin(), command, args,
                     out_file);
    ck_assert(k > 0 && (size_t)k < sizeof cmd);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int run(const char *args, const char *out_file) { return run_cmd("import", args, out_file); }

START_TEST(command_line) {
    char out[512], log[512], args[1536];
    tpath(out, sizeof out, "cli.safetensors");
    tpath(log, sizeof log, "cli.log");
    ck_assert_int_eq(run("--help", log), 0);
    /* no preprocessing: refused, nothing written */
    snprintf(args, sizeof args, "--state-dict '%s' --in-shape 1,28,28 --out '%s'", PT, out);
    ck_assert_int_eq(run(args, log), 2);
    ck_assert(!exists(out));
    /* options only, and options over the file */
    snprintf(args, sizeof args, "--state-dict '%s' --in-shape 1,28,28 --scale 1/255 --mean 0.286 "
             "--std 0.353 --out '%s'", PT, out);
    ck_assert_int_eq(run(args, log), 0);
    ck_assert(exists(out));
    snprintf(args, sizeof args, "--state-dict '%s' --meta '%s' --class-names a,b --out '%s'", PT,
             META, out);
    ck_assert_int_eq(run(args, log), 2); /* 2 names for 10 classes */
    snprintf(args, sizeof args, "--state-dict '%s' --meta '%s' --class-names "
             "'a,b,c,d,e,f,g,h,i,say \"hi\"' --out '%s' --json", PT, META, out);
    ck_assert_int_eq(run(args, log), 0);
    json_error_t e;
    json_t *j = json_load_file(log, 0, &e);
    ck_assert_msg(j != NULL, "--json output is not JSON: %s", e.text);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "tensors")), 122);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "width")), 4);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "class_names"), 9)),
                     "say \"hi\"");
    json_decref(j);
    /* lirf eval --json of the imported net: PyTorch's accuracy, 215 / 256 (rounded to 0.01) */
    snprintf(args, sizeof args, "--model '%s' --data '%s' --json", out, EVAL_DIR);
    ck_assert_int_eq(run_cmd("eval", args, log), 0);
    j = json_load_file(log, 0, &e);
    ck_assert_msg(j != NULL, "lirf eval --json: %s", e.text);
    double acc = json_number_value(json_object_get(j, "accuracy"));
    ck_assert_msg(fabs(acc - round(100.0 * ref_correct() / 256 * 100) / 100) < 1e-9,
                  "lirf eval: %.4f%%, PyTorch %d / 256", acc, ref_correct());
    json_decref(j);
    ck_assert_int_eq(run("--out x.safetensors", log), 2);
    ck_assert_int_eq(run("--state-dict a --out b --bogus", log), 2);
}
END_TEST

static void rm_tmp(void) {
    if (!g_dir[0]) return;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(void) {
    Suite *s = suite_create("import");
    TCase *tc = tcase_create("import");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, pytorch_net_same_logits_and_accuracy);
    tcase_add_test(tc, weights_and_metadata_as_given);
    tcase_add_test(tc, round_trip_lirf_pytorch_lirf);
    tcase_add_test(tc, cifar_naming_accepted);
    tcase_add_test(tc, preprocessing_at_another_scale);
    tcase_add_test(tc, missing_meta_refused);
    tcase_add_test(tc, bad_tensors_refused_by_name);
    tcase_add_test(tc, half_precision_refused_clearly);
    tcase_add_test(tc, lirf_checkpoint_refused);
    tcase_add_test(tc, architectures_inferred_or_refused);
    tcase_add_test(tc, torchvision_resnets_imported);
    tcase_add_test(tc, class_names_metadata_checked);
    tcase_add_test(tc, meta_json_checked);
    tcase_add_test(tc, meta_text_checked);
    tcase_add_test(tc, command_line);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    rm_tmp();
    return rc;
}
