/* The new networks end to end, each on tiny striped data (tstripes, 4
 * classes), width 4: ResNet-18 with the ImageNet stem and ResNet-34 with the
 * ImageNet stem at 64x64, ResNet-34 with the CIFAR stem at 32x32 (its stem
 * does not downsample: 64 px cost it four times the time for nothing more
 * tested; test_net runs the ImageNet stem at 224 px).
 *  - trains a few steps (lirf_train_run), the checkpoint records the arch
 *    name and opens again as the same network (same logits, exactly);
 *  - deposits classes 0, 1 at layer2 with pruning (ResNet-34: 7 residual
 *    blocks below the split, each pruned to half), saves the target, a paper
 *    archive and an exact one;
 *  - withdraws both with no data: the paper recover net gives the in-memory
 *    recover logits exactly, the exact one gives T0's logits exactly. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lirf.h"
#include "util.h"

#define K 4
static int S = 64; /* the images' side, set by each test */

static char g_dir[256];
static const char *tpath(const char *tag, const char *name) {
    static char b[8][512];
    static int k;
    char *p = b[k++ % 8];
    snprintf(p, 512, "%s/%s-%s", g_dir, tag, name);
    return p;
}

static void same_logits(lirf_loader *l, lirf_logits_fn fn, void *user, const float *want,
                        const char *what) {
    int n;
    float *z = tfirst_logits(l, fn, user, K, &n);
    ck_assert_msg(!memcmp(z, want, (size_t)n * K * sizeof *z), "%s: logits differ", what);
    free(z);
}

/* tstripes(n, K, S) cut to the deposit classes 0 and 1 */
static lirf_dataset deposit_set(int n) {
    lirf_dataset d = tstripes(n, K, S);
    int k = 0;
    for (int i = 0; i < d.n; i++)
        if (d.labels[i] < 2) {
            memmove(d.pixels + (size_t)k * S * S, d.pixels + (size_t)i * S * S, (size_t)S * S);
            d.labels[k++] = d.labels[i];
        }
    d.n = k;
    return d;
}

/* T0: a few SGD steps from the seeded start, saved as a checkpoint. */
static lirf_net *train_t0(lirf_arch arch, lirf_dataset *tr, lirf_model_meta *m, const char *path) {
    lirf_net *t0;
    ck_assert_int_eq(lirf_net_create(tctx(), &m->cfg, &t0), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(t0, 5), LIRF_OK);
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    o.epochs = 1, o.batch = 8, o.lr = 0.05f, o.warmup = 0, o.aug.pad = 4;
    lirf_loader *l = tloader(tr, m, o.batch, 1);
    lirf_train_io io = {.model_path = path, .meta = m, .quiet = 1};
    lirf_train_result res;
    lirf_status st = lirf_train_run(tctx(), t0, l, &o, &io, &res);
    ck_assert_msg(st == LIRF_OK, "%s: %s", lirf_arch_name(arch), lirf_error_message());
    ck_assert_uint_eq(res.steps, 3);
    ck_assert(isfinite(res.last_loss));
    lirf_loader_destroy(l);
    return t0;
}

static void end_to_end(lirf_arch arch, int pruned_blocks) {
    const char *tag = lirf_arch_name(arch);
    lirf_dataset tr = tstripes(24, K, S), te = tstripes(8, K, S);
    lirf_model_meta m = {0};
    m.cfg = (lirf_net_config){.arch = arch, .width = 4, .in_c = 1, .in_h = S, .in_w = S,
                              .classes = K, .first = 0, .last = lirf_arch_stages(arch) - 1};
    m.class_names = tr.class_names;
    m.mean[0] = 0.3f, m.std[0] = 0.25f;
    lirf_net *t0 = train_t0(arch, &tr, &m, tpath(tag, "t0.safetensors"));
    lirf_loader *lt = tloader(&te, &m, 8, 0);
    int n;
    float *z_t0 = tfirst_logits(lt, lirf_net_logits, t0, K, &n);

    /* the checkpoint names the arch and opens as the same net */
    lirf_model *mo;
    ck_assert_int_eq(lirf_model_open(tctx(), tpath(tag, "t0.safetensors"), &mo), LIRF_OK);
    ck_assert_int_eq(lirf_model_meta_of(mo)->cfg.arch, arch);
    same_logits(lt, lirf_model_logits, mo, z_t0, "T0 reopened");
    lirf_model_close(mo);

    /* deposit classes 0, 1 at layer2, half the inner filters pruned */
    int32_t dep[2] = {0, 1};
    lirf_dataset dr = deposit_set(32);
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 2, 0.5f, &l), LIRF_OK);
    int npruned = 0;
    for (int i = 0; i < LIRF_MAX_BLOCKS; i++) npruned += l->mid[i] != 0;
    ck_assert_int_eq(npruned, pruned_blocks);
    ck_assert_int_eq(l->mid[pruned_blocks - 1], 4); /* layer2's last block: 8 -> 4 */
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.epochs = 1, o.batch = 8, o.aug.pad = 4;
    lirf_loader *ld = tloader(&dr, &m, o.batch, 1);
    lirf_deposit_result res;
    lirf_status st = lirf_deposit_train(l, ld, &o, 1, &res);
    ck_assert_msg(st == LIRF_OK, "%s: %s", tag, lirf_error_message());
    ck_assert_uint_eq(res.steps, 2);
    for (int i = 0; i < 6; i++) ck_assert(isfinite(res.last[i]));
    float *z_tg = tfirst_logits(lt, lirf_target_logits, l, K, &n);
    float *z_rc = tfirst_logits(lt, lirf_recover_logits, l, K, &n);
    ck_assert(memcmp(z_t0, z_tg, (size_t)n * K * sizeof *z_t0) != 0); /* the target moved */

    ck_assert_int_eq(lirf_save_target(l, tpath(tag, "target.safetensors"), &o), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(l, tpath(tag, "paper.lirf"), &o, LIRF_ARCHIVE_GZIP, NULL),
                     LIRF_OK);
    lirf_deposit_opts ox = o;
    ox.mode = LIRF_DEPOSIT_EXACT;
    ck_assert_int_eq(lirf_save_deposit(l, tpath(tag, "exact.lirf"), &ox, LIRF_ARCHIVE_PLAIN, NULL),
                     LIRF_OK);

    /* withdraw with no data */
    tsetenv("LIRF_NO_DATA", "1");
    st = lirf_withdraw(tctx(), tpath(tag, "target.safetensors"), tpath(tag, "paper.lirf"),
                       tpath(tag, "recover.safetensors"), NULL);
    ck_assert_msg(st == LIRF_OK, "%s: %s", tag, lirf_error_message());
    st = lirf_withdraw(tctx(), tpath(tag, "target.safetensors"), tpath(tag, "exact.lirf"),
                       tpath(tag, "recover-exact.safetensors"), NULL);
    ck_assert_msg(st == LIRF_OK, "%s: %s", tag, lirf_error_message());
    tsetenv("LIRF_NO_DATA", NULL);
    lirf_model *rec, *rex, *tg;
    ck_assert_int_eq(lirf_model_open(tctx(), tpath(tag, "recover.safetensors"), &rec), LIRF_OK);
    ck_assert_str_eq(lirf_model_kind(rec), "recover");
    same_logits(lt, lirf_model_logits, rec, z_rc, "paper recover net");
    ck_assert_int_eq(lirf_model_open(tctx(), tpath(tag, "recover-exact.safetensors"), &rex),
                     LIRF_OK);
    same_logits(lt, lirf_model_logits, rex, z_t0, "exact recover net vs T0");
    ck_assert_int_eq(lirf_model_open(tctx(), tpath(tag, "target.safetensors"), &tg), LIRF_OK);
    same_logits(lt, lirf_model_logits, tg, z_tg, "target reopened");

    lirf_model_close(rec), lirf_model_close(rex), lirf_model_close(tg);
    free(z_t0), free(z_tg), free(z_rc);
    lirf_loader_destroy(ld), lirf_loader_destroy(lt);
    lirf_lirf_destroy(l);
    lirf_net_destroy(t0);
    lirf_dataset_free(&tr), lirf_dataset_free(&te), lirf_dataset_free(&dr);
}

START_TEST(resnet18_imagenet_end_to_end) { S = 64, end_to_end(LIRF_ARCH_RESNET18_IMAGENET, 4); }
END_TEST
START_TEST(resnet34_cifar_end_to_end) { S = 32, end_to_end(LIRF_ARCH_RESNET34, 7); }
END_TEST
START_TEST(resnet34_imagenet_end_to_end) { S = 64, end_to_end(LIRF_ARCH_RESNET34_IMAGENET, 7); }
END_TEST

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-nets-e2e-%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 1;
    Suite *s = suite_create("nets_e2e");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, resnet18_imagenet_end_to_end);
    tcase_add_test(tc, resnet34_cifar_end_to_end);
    tcase_add_test(tc, resnet34_imagenet_end_to_end);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
