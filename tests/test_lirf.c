/* LIRF deposit and withdraw: the pruning record, a short deposit training,
 * target / archive / withdraw round trips (recover logits equal the in-memory
 * recover net's exactly; the column rule holds exactly), withdraw with data
 * reading disabled, the exact mode giving back T0, and refusals of a deposit
 * that belongs to another network. */
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lirf.h"
#include "lirf_archive.h"
#include "util.h"

#define K 10
#define S 12 /* image side */

static lirf_dataset synthetic(int n, uint32_t seed, const int32_t *only, int nonly) {
    lirf_dataset d = {0};
    d.n = 0, d.c = 1, d.h = S, d.w = S, d.num_classes = K;
    d.pixels = malloc((size_t)n * S * S);
    d.labels = malloc((size_t)n * sizeof *d.labels);
    d.class_names = calloc(K, sizeof *d.class_names);
    for (int k = 0; k < K; k++) {
        d.class_names[k] = malloc(16);
        snprintf(d.class_names[k], 16, "c%d", k);
    }
    trng r = {seed};
    for (int i = 0; i < n; i++) {
        int lab = only ? only[i % nonly] : i % K;
        for (int p = 0; p < S * S; p++) /* a class-dependent pattern plus noise */
            d.pixels[(size_t)d.n * S * S + p] =
                (uint8_t)((((p * (lab + 3)) % 17) * 12 + trng_int(&r, 0, 40)) & 0xff);
        d.labels[d.n++] = lab;
    }
    return d;
}

static lirf_model_meta meta_for(lirf_dataset *d) {
    lirf_model_meta m = {0};
    m.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                              .in_w = S, .classes = K, .first = 0, .last = 5};
    m.class_names = d->class_names;
    m.mean[0] = 0.4f, m.std[0] = 0.3f;
    return m;
}

static lirf_net *make_t0(uint64_t seed) {
    lirf_net_config c = {.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S, .in_w = S,
                         .classes = K, .first = 0, .last = 5};
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &c, &n), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(n, seed), LIRF_OK);
    return n;
}

static char g_dir[256];
static const char *tmp(const char *name) {
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", g_dir, name);
    return p;
}

START_TEST(pruning_keeps_the_largest_filters) {
    lirf_dataset d = synthetic(20, 1, NULL, 0);
    lirf_model_meta m = meta_for(&d);
    lirf_net *t0 = make_t0(11);
    int32_t dep[3] = {0, 1, 2};
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 3, 0.5f, &l), LIRF_OK);
    size_t off = 0;
    for (int s = 1; s <= 2; s++)
        for (int b = 0; b < 2; b++) {
            int F = 4 << (s - 1), keep = l->mid[2 * (s - 1) + b]; /* flat: 2 blocks a stage */
            ck_assert_int_eq(keep, F / 2);
            char name[64];
            snprintf(name, sizeof name, "layer%d.%d.conv1.weight", s, b);
            int i = lirf_net_find(t0, name);
            const lirf_tensor_desc *d0 = lirf_net_tensor(t0, (size_t)i);
            float *w = malloc(d0->n * sizeof *w);
            ck_assert_int_eq(lirf_net_tensor_get(t0, (size_t)i, w), LIRF_OK);
            size_t per = d0->n / (size_t)F;
            double norm[64];
            for (int f = 0; f < F; f++) {
                norm[f] = 0;
                for (size_t k = 0; k < per; k++) norm[f] += fabs(w[f * per + k]);
            }
            /* every kept filter's norm >= every dropped filter's */
            double min_kept = 1e30, max_dropped = -1;
            int kept_flag[64] = {0};
            for (int k = 0; k < keep; k++) kept_flag[l->kept[off + (size_t)k]] = 1;
            for (int f = 0; f < F; f++) {
                if (kept_flag[f]) min_kept = fmin(min_kept, norm[f]);
                else max_dropped = fmax(max_dropped, norm[f]);
            }
            ck_assert(min_kept >= max_dropped);
            /* the deposit module's conv1 rows are T0's kept rows */
            int j = lirf_net_find(l->deposit, name);
            const lirf_tensor_desc *dd = lirf_net_tensor(l->deposit, (size_t)j);
            ck_assert_int_eq(dd->shape[0], keep);
            float *wd = malloc(dd->n * sizeof *wd);
            ck_assert_int_eq(lirf_net_tensor_get(l->deposit, (size_t)j, wd), LIRF_OK);
            for (int k = 0; k < keep; k++)
                ck_assert(!memcmp(wd + k * per, w + (size_t)l->kept[off + (size_t)k] * per,
                                  per * sizeof *w));
            /* conv2 takes the kept channels */
            snprintf(name, sizeof name, "layer%d.%d.conv2.weight", s, b);
            const lirf_tensor_desc *c2 = lirf_net_tensor(l->deposit, (size_t)lirf_net_find(l->deposit, name));
            ck_assert_int_eq(c2->shape[1], keep);
            off += (size_t)keep;
            free(w), free(wd);
        }
    ck_assert_uint_lt(lirf_net_nparams(l->deposit), lirf_net_nparams(l->t0_lower));
    lirf_lirf_destroy(l);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&d);
}
END_TEST

START_TEST(deposit_lr_schedule) {
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.lr = 0.02f;
    ck_assert_int_eq(o.lr_cosine, 0); /* the paper's constant lr by default */
    for (size_t t = 0; t < 10; t++) ck_assert(lirf_deposit_lr_at(&o, t, 10) == 0.02f);
    json_t *j = lirf_deposit_opts_json(&o);
    ck_assert_str_eq(json_string_value(json_object_get(j, "lr_schedule")), "const");
    json_decref(j);
    o.lr_cosine = 1;
    ck_assert(lirf_deposit_lr_at(&o, 0, 10) == 0.02f);
    ck_assert(fabsf(lirf_deposit_lr_at(&o, 5, 10) - 0.01f) < 1e-7f);
    ck_assert(fabsf(lirf_deposit_lr_at(&o, 9, 10) - 0.02f * 0.5f * (1 + cosf(0.9f * 3.14159265f))) < 1e-7f);
    for (size_t t = 1; t < 10; t++) ck_assert(lirf_deposit_lr_at(&o, t, 10) < lirf_deposit_lr_at(&o, t - 1, 10));
    j = lirf_deposit_opts_json(&o);
    ck_assert_str_eq(json_string_value(json_object_get(j, "lr_schedule")), "cosine");
    json_decref(j);
}
END_TEST

/* The target's Dep Acc (%) on `h`, deposit classes 0..2 */
static double dep_acc(lirf_lirf *l, lirf_loader *h) {
    int64_t c[2 * K];
    ck_assert_int_eq(lirf_eval_counts(tctx(), h, K, lirf_target_logits, l, c), LIRF_OK);
    int64_t ok = c[0] + c[2] + c[4], all = c[1] + c[3] + c[5];
    ck_assert_int_gt(all, 0);
    return 100.0 * (double)ok / (double)all;
}

START_TEST(deposit_holdout_keep_best) {
    int32_t dep[3] = {0, 1, 2};
    lirf_dataset dr = synthetic(48, 2, dep, 3), dh = synthetic(24, 4, dep, 3);
    lirf_model_meta m = meta_for(&dr);
    lirf_net *t0 = make_t0(12);
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.epochs = 3, o.batch = 16, o.aug.pad = 1, o.lr = 0.05f;
    o.holdout = 0.25f; /* recorded; the caller makes the held-out loader */
    lirf_loader *ld = tloader(&dr, &m, 16, 1), *lh = tloader(&dh, &m, 16, 0);
    lirf_deposit_result res;
    lirf_lirf *l;
    /* keep_best without held-out samples is refused */
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 3, 0.5f, &l), LIRF_OK);
    o.keep_best = 1;
    ck_assert_int_eq(lirf_deposit_train(l, ld, &o, 1, &res), LIRF_E_INVALID);
    /* logged: before training and after each epoch; the nets kept are the
     * ones with the lowest of those values */
    lirf_deposit_io io = {.holdout = lh};
    lirf_status st = lirf_deposit_train_io(l, ld, &o, &io, 1, &res);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_int_eq(res.nlogged, 4);
    for (int i = 0; i < 4; i++) ck_assert_uint_eq(res.holdout_step[i], (size_t)i * 3); /* 3 a epoch */
    int kept = -1;
    double lo = res.holdout_dep[0];
    for (int i = 1; i < 4; i++) lo = fmin(lo, res.holdout_dep[i]);
    for (int i = 0; i < 4 && kept < 0; i++)
        if ((long)res.holdout_step[i] == res.kept_step) kept = i;
    ck_assert_int_ge(kept, 0);
    ck_assert(res.holdout_dep[kept] == lo);
    ck_assert(dep_acc(l, lh) == lo);
    /* with these seeds the best is not the last check (0.0, 12.5, 33.3, 33.3:
     * the untrained random T0 knows no deposit class), so the restore is tested */
    ck_assert_int_lt(kept, 3);
    ck_assert(res.holdout_dep[3] > lo);
    lirf_lirf_destroy(l);
    /* keep last, with a check after every step: the same training (checks
     * change nothing), the last step's nets */
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 3, 0.5f, &l), LIRF_OK);
    o.keep_best = 0, o.holdout_every = 1;
    lirf_deposit_result res2;
    ck_assert_int_eq(lirf_deposit_train_io(l, ld, &o, &io, 1, &res2), LIRF_OK);
    ck_assert_int_eq(res2.kept_step, -1);
    ck_assert_int_eq(res2.nlogged, 10);
    for (int i = 0; i < 10; i++) ck_assert_uint_eq(res2.holdout_step[i], (size_t)i);
    for (int i = 0; i < 4; i++) ck_assert(res2.holdout_dep[3 * i] == res.holdout_dep[i]);
    ck_assert(dep_acc(l, lh) == res2.holdout_dep[9]);
    json_t *j = lirf_deposit_opts_json(&o);
    ck_assert_str_eq(json_string_value(json_object_get(j, "keep")), "last");
    ck_assert(json_real_value(json_object_get(j, "holdout")) == 0.25);
    json_decref(j);
    lirf_lirf_destroy(l);
    lirf_loader_destroy(ld), lirf_loader_destroy(lh);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&dr), lirf_dataset_free(&dh);
}
END_TEST

/* --re-deposit-only: L_re's gradient reaches the deposit module only, so the
 * target trained with and without L_re is the same, bit for bit; with
 * docs/method.md's rule (both trained) it is not. */
START_TEST(deposit_re_deposit_only) {
    int32_t dep[3] = {0, 1, 2};
    lirf_dataset dr = synthetic(32, 2, dep, 3), te = synthetic(16, 3, NULL, 0);
    lirf_model_meta m = meta_for(&dr);
    lirf_net *t0 = make_t0(12);
    lirf_loader *ld = tloader(&dr, &m, 16, 1), *lt = tloader(&te, &m, 16, 0);
    float *zt[4], *zd[4];
    int n;
    for (int v = 0; v < 4; v++) { /* (re_deposit_only, lambda_re): (1,10) (1,0) (0,10) (0,0) */
        lirf_deposit_opts o;
        lirf_deposit_opts_default(&o);
        o.epochs = 1, o.batch = 16, o.aug.pad = 1;
        o.re_deposit_only = v < 2;
        o.lambda_re = v % 2 ? 0 : 10;
        lirf_lirf *l;
        ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 3, 0.5f, &l), LIRF_OK);
        lirf_deposit_result res;
        ck_assert_int_eq(lirf_deposit_train(l, ld, &o, 1, &res), LIRF_OK);
        zt[v] = tfirst_logits(lt, lirf_target_logits, l, K, &n);
        zd[v] = tfirst_logits(lt, lirf_deposit_path_logits, l, K, &n);
        lirf_lirf_destroy(l);
    }
    size_t bytes = (size_t)n * K * sizeof(float);
    ck_assert_msg(!memcmp(zt[0], zt[1], bytes), "L_re changed the target with --re-deposit-only");
    ck_assert(memcmp(zd[0], zd[1], bytes) != 0);  /* it still trains the deposit module */
    ck_assert(memcmp(zt[2], zt[3], bytes) != 0);  /* docs/method.md's rule trains the target too */
    for (int v = 0; v < 4; v++) free(zt[v]), free(zd[v]);
    lirf_loader_destroy(ld), lirf_loader_destroy(lt);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&dr), lirf_dataset_free(&te);
}
END_TEST

START_TEST(deposit_archive_withdraw_round_trip) {
    int32_t dep[3] = {0, 1, 2};
    lirf_dataset dr = synthetic(48, 2, dep, 3); /* the deposit set: deposit classes only */
    lirf_dataset te = synthetic(40, 3, NULL, 0);
    lirf_model_meta m = meta_for(&dr);
    lirf_net *t0 = make_t0(12);
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 3, 0.5f, &l), LIRF_OK);
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.epochs = 2, o.batch = 16, o.aug.pad = 1;
    lirf_loader *ld = tloader(&dr, &m, 16, 1);
    lirf_deposit_result res;
    lirf_status st = lirf_deposit_train(l, ld, &o, 1, &res);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_uint_eq(res.steps, 6);
    for (int i = 0; i < 6; i++) ck_assert(isfinite(res.last[i]));
    /* the target changed, T0's copy did not */
    lirf_loader *lt = tloader(&te, &m, 16, 0);
    int n;
    float *z_t0 = tfirst_logits(lt, lirf_net_logits, t0, K, &n);
    float *z_tg = tfirst_logits(lt, lirf_target_logits, l, K, &n);
    float *z_dp = tfirst_logits(lt, lirf_deposit_path_logits, l, K, &n);
    float *z_rc = tfirst_logits(lt, lirf_recover_logits, l, K, &n);
    ck_assert(memcmp(z_t0, z_tg, (size_t)n * K * sizeof *z_t0) != 0);
    for (int i = 0; i < n * K; i++) /* the column rule, exactly */
        ck_assert(z_rc[i] == ((i % K) < 3 ? z_dp[i] : z_tg[i]));

    ck_assert_int_eq(lirf_save_target(l, tmp("target.safetensors"), &o), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(l, tmp("deposit.lirf"), &o, LIRF_ARCHIVE_GZIP, NULL), LIRF_OK);
    lirf_deposit_opts ox = o;
    ox.mode = LIRF_DEPOSIT_EXACT;
    ck_assert_int_eq(lirf_save_deposit(l, tmp("exact.lirf"), &ox, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);

    /* withdraw needs no data: reading any data set is disabled meanwhile */
    tsetenv("LIRF_NO_DATA", "1");
    lirf_data_opts dopt = {.train = 1};
    lirf_dataset none;
    ck_assert_int_ne(lirf_dataset_load(&dopt, &none), LIRF_OK);
    st = lirf_withdraw(tctx(), tmp("target.safetensors"), tmp("deposit.lirf"),
                       tmp("recover.safetensors"), NULL);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    st = lirf_withdraw(tctx(), tmp("target.safetensors"), tmp("exact.lirf"),
                       tmp("recover-exact.safetensors"), NULL);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    tsetenv("LIRF_NO_DATA", NULL);

    lirf_model *rec, *rex, *tg;
    ck_assert_int_eq(lirf_model_open(tctx(), tmp("recover.safetensors"), &rec), LIRF_OK);
    ck_assert_str_eq(lirf_model_kind(rec), "recover");
    float *z_file = tfirst_logits(lt, lirf_model_logits, rec, K, &n);
    ck_assert_msg(!memcmp(z_file, z_rc, (size_t)n * K * sizeof *z_rc),
                  "the withdrawn recover net differs from the in-memory one");
    ck_assert_int_eq(lirf_model_open(tctx(), tmp("recover-exact.safetensors"), &rex), LIRF_OK);
    float *z_ex = tfirst_logits(lt, lirf_model_logits, rex, K, &n);
    ck_assert_msg(!memcmp(z_ex, z_t0, (size_t)n * K * sizeof *z_t0),
                  "the exact mode does not give back T0");
    ck_assert_int_eq(lirf_model_open(tctx(), tmp("target.safetensors"), &tg), LIRF_OK);
    float *z_tf = tfirst_logits(lt, lirf_model_logits, tg, K, &n);
    ck_assert(!memcmp(z_tf, z_tg, (size_t)n * K * sizeof *z_tg));

    /* a deposit from another network is refused: T0 with one changed weight */
    lirf_net *other = make_t0(12);
    int fc = lirf_net_find(other, "fc.bias");
    float b[K];
    ck_assert_int_eq(lirf_net_tensor_get(other, (size_t)fc, b), LIRF_OK);
    b[4] += 0.01f;
    ck_assert_int_eq(lirf_net_tensor_set(other, (size_t)fc, b), LIRF_OK);
    lirf_lirf *l2;
    ck_assert_int_eq(lirf_lirf_create(tctx(), other, &m, 2, dep, 3, 0.5f, &l2), LIRF_OK);
    ck_assert_int_eq(lirf_save_target(l2, tmp("other.safetensors"), &o), LIRF_OK);
    st = lirf_withdraw(tctx(), tmp("other.safetensors"), tmp("deposit.lirf"), tmp("x.safetensors"),
                       NULL);
    ck_assert_int_eq(st, LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "fingerprint"));
    ck_assert_int_ne(access(tmp("x.safetensors"), F_OK), 0);
    /* a plain checkpoint is not a target net */
    lirf_model_meta mm = m;
    lirf_net *nets[1] = {t0};
    const char *pre[1] = {""};
    ck_assert_int_eq(lirf_checkpoint_save(tmp("plain.safetensors"), nets, pre, 1, &mm, NULL, NULL, 0),
                     LIRF_OK);
    ck_assert_int_eq(lirf_withdraw(tctx(), tmp("plain.safetensors"), tmp("deposit.lirf"),
                                   tmp("x.safetensors"), NULL),
                     LIRF_E_FORMAT);
    /* a damaged archive is refused: one byte of the deposit member's data
     * changed, in the plain archive (exact.lirf). A byte near the end of a
     * file, or in a gzip stream, may fall in tar padding, which no reader
     * checks (and libarchive does not check gzip's CRC), so where a blind
     * flip lands decided the outcome from run to run. */
    FILE *f = fopen(tmp("exact.lirf"), "r+b");
    ck_assert_ptr_nonnull(f);
    static char arch[1 << 22];
    size_t an = fread(arch, 1, sizeof arch, f), hdr = an;
    for (size_t o = 0; o + 512 <= an; o += 512)
        if (!strcmp(arch + o, "deposit.safetensors")) hdr = o; /* the member's tar header */
    ck_assert_msg(hdr + 512 + 64 < an, "no deposit.safetensors member found");
    fseek(f, (long)(hdr + 512 + 40), SEEK_SET); /* in the safetensors header */
    fputc(arch[hdr + 512 + 40] ^ 0x42, f);
    fclose(f);
    ck_assert_int_ne(lirf_withdraw(tctx(), tmp("target.safetensors"), tmp("exact.lirf"),
                                   tmp("x.safetensors"), NULL),
                     LIRF_OK);

    free(z_t0), free(z_tg), free(z_dp), free(z_rc), free(z_file), free(z_ex), free(z_tf);
    lirf_model_close(rec), lirf_model_close(rex), lirf_model_close(tg);
    lirf_lirf_destroy(l2), lirf_net_destroy(other);
    lirf_lirf_destroy(l);
    lirf_loader_destroy(ld), lirf_loader_destroy(lt);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&dr), lirf_dataset_free(&te);
}
END_TEST

/* A deposit of dep from t0, trained one epoch with seed; its target net and
 * its archive (plain, or sealed) saved. */
static lirf_lirf *deposit_of(lirf_net *t0, lirf_model_meta *m, const int32_t *dep, int ndep,
                             uint32_t seed, const char *target, const char *archive,
                             const lirf_archive_seal *seal) {
    lirf_dataset dr = synthetic(32, seed, dep, ndep);
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, m, 2, dep, ndep, 0.5f, &l), LIRF_OK);
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.epochs = 1, o.batch = 16, o.aug.pad = 1, o.seed = seed;
    lirf_loader *ld = tloader(&dr, m, 16, 1);
    lirf_deposit_result res;
    lirf_status st = lirf_deposit_train(l, ld, &o, 1, &res);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_int_eq(lirf_save_target(l, target, &o), LIRF_OK);
    st = lirf_save_deposit_sealed(l, archive, &o, LIRF_ARCHIVE_PLAIN, NULL, seal);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    lirf_loader_destroy(ld);
    lirf_dataset_free(&dr);
    return l;
}

/* withdraw(target, archive) is refused with code, its message holding every
 * one of want[] (NULL-terminated), and writes nothing. */
static void refused(const char *target, const char *archive, lirf_status code,
                    const char *const *want) {
    const char *rec = tmp("refused-recover.safetensors");
    lirf_status st = lirf_withdraw(tctx(), target, archive, rec, NULL);
    ck_assert_msg(st == code, "withdraw %s onto %s: status %d, want %d: %s", archive, target,
                  (int)st, (int)code, lirf_error_message());
    for (int k = 0; want[k]; k++)
        ck_assert_msg(strstr(lirf_error_message(), want[k]), "no \"%s\" in: %s", want[k],
                      lirf_error_message());
    ck_assert_msg(access(rec, F_OK) != 0, "a refused withdraw wrote %s", rec);
}

/* The documented hash (docs/archive.md), recomputed from the target file
 * itself: its lower part's tensors (stem, layer1, layer2) by name. */
static void lower_hash_of_file(const char *path, char hex[65], size_t *count) {
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read(path, &st), LIRF_OK);
    const char *pre[] = {"conv1.", "bn1.", "layer1.", "layer2."};
    const char **names = malloc(st.count * sizeof *names);
    size_t n = 0;
    for (size_t i = 0; i < st.count; i++)
        for (int p = 0; p < 4; p++)
            if (!strncmp(st.tensors[i].name, pre[p], strlen(pre[p]))) names[n++] = st.tensors[i].name;
    for (size_t i = 1; i < n; i++) /* insertion sort by strcmp */
        for (size_t k = i; k > 0 && strcmp(names[k - 1], names[k]) > 0; k--) {
            const char *t = names[k];
            names[k] = names[k - 1], names[k - 1] = t;
        }
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init(&h);
    crypto_hash_sha256_update(&h, (const unsigned char *)"lirf-target-lower/1", 20);
    for (size_t i = 0; i < n; i++) {
        const lirf_st_tensor *t = lirf_st_find(&st, names[i]);
        crypto_hash_sha256_update(&h, (const unsigned char *)t->name, strlen(t->name) + 1);
        crypto_hash_sha256_update(&h, (const unsigned char *)lirf_dtype_name(t->dtype), 4);
        unsigned char u[4];
        for (int d = -1; d < t->ndim; d++) {
            uint32_t v = (uint32_t)(d < 0 ? t->ndim : t->shape[d]);
            u[0] = (unsigned char)v, u[1] = (unsigned char)(v >> 8);
            u[2] = (unsigned char)(v >> 16), u[3] = (unsigned char)(v >> 24);
            crypto_hash_sha256_update(&h, u, 4);
        }
        crypto_hash_sha256_update(&h, t->data, t->nbytes);
    }
    unsigned char out[32];
    crypto_hash_sha256_final(&h, out);
    sodium_bin2hex(hex, 65, out, sizeof out);
    *count = n;
    free(names);
    lirf_st_free(&st);
}

/* path's tensor `name` with element 0 changed (a float nudged, a counter
 * incremented), written to out with the same metadata. */
static void alter_one_value(const char *path, const char *name, const char *out) {
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read(path, &st), LIRF_OK);
    const lirf_st_tensor *t = lirf_st_find(&st, name);
    ck_assert_msg(t != NULL, "%s has no %s", path, name);
    if (t->dtype == LIRF_I64) ((int64_t *)t->data)[0] += 1;
    else ((float *)t->data)[0] = nextafterf(((float *)t->data)[0], INFINITY);
    ck_assert_int_eq(lirf_st_write(out, st.tensors, st.count, (const char *const *)st.meta_keys,
                                   (const char *const *)st.meta_vals, st.meta_count),
                     LIRF_OK);
    lirf_st_free(&st);
}

/* path's archive with its manifest edited by edit(manifest), as plain archive out. */
static void edit_manifest(const char *path, void (*edit)(json_t *), const char *out) {
    json_t *man;
    void *dep;
    size_t len;
    ck_assert_int_eq(lirf_archive_read(path, &man, &dep, &len), LIRF_OK);
    edit(man);
    char *mj = json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    ck_assert_int_eq(lirf_archive_write(out, mj, dep, len, LIRF_ARCHIVE_PLAIN), LIRF_OK);
    free(mj), free(dep);
    json_decref(man);
}
static void drop_binding(json_t *m) { json_object_del(m, "target_binding"); }
static void bad_binding(json_t *m) {
    json_object_set_new(json_object_get(m, "target_binding"), "lower_sha256", json_string("00ff"));
}
static void other_bound_classes(json_t *m) {
    json_object_set_new(json_object_get(m, "target_binding"), "deposit_classes",
                        json_pack("[i,i]", 3, 4));
}

/* Each archive is bound to the target net it was made with: two deposits
 * from one T0 (classes 0,1,2 and 3,4; and 0,1,2 again with another seed)
 * share the upper part, yet an archive withdraws only onto its own target;
 * a target changed in one value, a manifest without (or with a broken)
 * binding, a recover net given as the target, are refused; nothing is
 * written then. Signed archives go through the same checks. */
START_TEST(archive_bound_to_its_target) {
    lirf_dataset names = synthetic(1, 5, NULL, 0);
    lirf_model_meta m = meta_for(&names);
    lirf_net *t0 = make_t0(14);
    int32_t a[3] = {0, 1, 2}, b[2] = {3, 4};
    char ta[512], tb[512], tc[512], aa[512], ab[512], ac[512], as[512], rec[512];
    snprintf(ta, sizeof ta, "%s", tmp("a-target.safetensors"));
    snprintf(tb, sizeof tb, "%s", tmp("b-target.safetensors"));
    snprintf(tc, sizeof tc, "%s", tmp("c-target.safetensors"));
    snprintf(aa, sizeof aa, "%s", tmp("a.lirf"));
    snprintf(ab, sizeof ab, "%s", tmp("b.lirf"));
    snprintf(ac, sizeof ac, "%s", tmp("c.lirf"));
    snprintf(as, sizeof as, "%s", tmp("a-signed.lirf"));
    snprintf(rec, sizeof rec, "%s", tmp("bound-recover.safetensors"));
    lirf_key *key;
    ck_assert_int_eq(lirf_key_generate(&key), LIRF_OK);
    lirf_archive_seal seal = {key, NULL};
    lirf_lirf *la = deposit_of(t0, &m, a, 3, 1, ta, aa, NULL);
    lirf_lirf *lb = deposit_of(t0, &m, b, 2, 1, tb, ab, NULL);
    lirf_lirf *lc = deposit_of(t0, &m, a, 3, 2, tc, ac, NULL);
    /* the signed archive of deposit a (the same nets) */
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    ck_assert_int_eq(lirf_save_deposit_sealed(la, as, &o, LIRF_ARCHIVE_GZIP, NULL, &seal), LIRF_OK);

    /* the manifest's binding: the classes, and the hash recomputed from the file */
    json_t *man;
    void *dep;
    size_t len;
    ck_assert_int_eq(lirf_archive_read(aa, &man, &dep, &len), LIRF_OK);
    json_t *bind = json_object_get(man, "target_binding");
    json_t *want = json_pack("[i,i,i]", 0, 1, 2);
    ck_assert(json_equal(json_object_get(bind, "deposit_classes"), want));
    json_decref(want);
    ck_assert_str_eq(json_string_value(json_object_get(bind, "lower_hash")), "lirf-target-lower/1");
    char hex[65], hb[65], hc[65];
    size_t nt = 0, n2 = 0;
    lower_hash_of_file(ta, hex, &nt);
    ck_assert_str_eq(json_string_value(json_object_get(bind, "lower_sha256")), hex);
    ck_assert_int_eq(json_integer_value(json_object_get(bind, "lower_tensors")), (json_int_t)nt);
    ck_assert_uint_eq(nt, lirf_net_ntensors(la->target_lower)); /* the file's stem..layer2 */
    lower_hash_of_file(tb, hb, &n2);
    lower_hash_of_file(tc, hc, &n2);
    ck_assert_str_ne(hex, hb);
    ck_assert_str_ne(hex, hc);
    json_decref(man);
    free(dep);

    /* each onto its own target */
    const char *const archives[] = {aa, ab, ac, as}, *const targets[] = {ta, tb, tc, ta};
    for (int k = 0; k < 4; k++) {
        lirf_archive_unseal keys = {key, NULL};
        lirf_status st = lirf_withdraw_sealed(tctx(), targets[k], archives[k], rec,
                                              k == 3 ? &keys : NULL, NULL);
        ck_assert_msg(st == LIRF_OK, "%s onto %s: %s", archives[k], targets[k], lirf_error_message());
        ck_assert_int_eq(unlink(rec), 0);
    }
    /* onto another deposit's target: the classes differ */
    refused(tb, aa, LIRF_E_INVALID,
            (const char *const[]){aa, tb, "deposits classes 0,1,2", "deposit of classes 3,4", NULL});
    refused(ta, ab, LIRF_E_INVALID,
            (const char *const[]){ab, ta, "deposits classes 3,4", "deposit of classes 0,1,2", NULL});
    /* the same classes, another deposit: the lower part's hash differs */
    refused(tc, aa, LIRF_E_INVALID, (const char *const[]){aa, tc, "lower part", "hashes to", NULL});
    refused(ta, ac, LIRF_E_INVALID, (const char *const[]){ac, ta, "hashes to", NULL});
    /* the signed archive too, through withdraw's sealed path */
    lirf_archive_unseal keys = {key, NULL};
    ck_assert_int_eq(lirf_withdraw_sealed(tctx(), tb, as, rec, &keys, NULL), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "classes 3,4"));
    ck_assert_int_eq(lirf_withdraw_sealed(tctx(), tc, as, rec, &keys, NULL), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "hashes to"));
    ck_assert_int_ne(access(rec, F_OK), 0);

    /* a target changed in one value of its lower part: a weight, a BN
     * statistic, a BN counter */
    const char *tensors[] = {"conv1.weight", "layer2.1.bn2.running_var",
                             "layer1.0.bn1.num_batches_tracked"};
    char altered[512];
    snprintf(altered, sizeof altered, "%s", tmp("altered-target.safetensors"));
    for (int k = 0; k < 3; k++) {
        alter_one_value(ta, tensors[k], altered);
        refused(altered, aa, LIRF_E_INVALID, (const char *const[]){aa, altered, "hashes to", NULL});
        ck_assert_int_eq(lirf_withdraw_sealed(tctx(), altered, as, rec, &keys, NULL), LIRF_E_INVALID);
    }
    /* an upper-part change is the fingerprint's */
    alter_one_value(ta, "fc.bias", altered);
    refused(altered, aa, LIRF_E_FORMAT, (const char *const[]){"fingerprint", NULL});

    /* an archive without the binding (a lirf before it), or with a broken one */
    char edited[512];
    snprintf(edited, sizeof edited, "%s", tmp("edited.lirf"));
    edit_manifest(aa, drop_binding, edited);
    refused(ta, edited, LIRF_E_FORMAT,
            (const char *const[]){edited, "no target_binding", "deposit again", NULL});
    edit_manifest(aa, bad_binding, edited);
    refused(ta, edited, LIRF_E_FORMAT, (const char *const[]){"target_binding is malformed", NULL});
    edit_manifest(aa, other_bound_classes, edited);
    refused(ta, edited, LIRF_E_FORMAT, (const char *const[]){"deposit_classes (0,1,2)", NULL});

    /* a recover net, or T0, is not a target net */
    ck_assert_int_eq(lirf_withdraw(tctx(), ta, aa, rec, NULL), LIRF_OK);
    refused(rec, aa, LIRF_E_FORMAT, (const char *const[]){rec, "not a target net", "\"recover\"", NULL});

    lirf_key_free(key);
    lirf_lirf_destroy(la), lirf_lirf_destroy(lb), lirf_lirf_destroy(lc);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&names);
}
END_TEST

START_TEST(invalid_deposits_rejected) {
    lirf_dataset d = synthetic(10, 4, NULL, 0);
    lirf_model_meta m = meta_for(&d);
    lirf_net *t0 = make_t0(13);
    lirf_lirf *l;
    int32_t all[K] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, bad[2] = {3, 11}, twice[2] = {2, 2};
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, all, K, 0.5f, &l), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, bad, 2, 0.5f, &l), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, twice, 2, 0.5f, &l), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 5, all, 3, 0.5f, &l), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, all, 3, 1.0f, &l), LIRF_E_INVALID);
    lirf_net_destroy(t0);
    m.class_names = NULL;
    lirf_dataset_free(&d);
}
END_TEST

/* --split by name: resolved against T0's architecture, the stage names of
 * that architecture only; a non-residual stage or a CNN is refused. */
START_TEST(split_named_by_the_architecture) {
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    ck_assert_int_eq(lirf_split_resolve(LIRF_ARCH_RESNET18, &o), LIRF_OK);
    ck_assert_int_eq(o.split, 2); /* no name: the index stays */
    const char *names[] = {"layer1", "layer2", "layer3", "layer4"};
    for (int s = 0; s < 4; s++) {
        snprintf(o.split_name, sizeof o.split_name, "%s", names[s]);
        ck_assert_int_eq(lirf_split_resolve(LIRF_ARCH_RESNET18, &o), LIRF_OK);
        ck_assert_int_eq(o.split, s + 1);
        ck_assert_str_eq(lirf_stage_name(LIRF_ARCH_RESNET18, o.split), names[s]);
    }
    const char *refused[] = {"stem", "fc", "layer5", "Layer2"};
    for (int k = 0; k < 4; k++) {
        snprintf(o.split_name, sizeof o.split_name, "%s", refused[k]);
        ck_assert_int_eq(lirf_split_resolve(LIRF_ARCH_RESNET18, &o), LIRF_E_INVALID);
    }
    snprintf(o.split_name, sizeof o.split_name, "layer2");
    ck_assert_int_eq(lirf_split_resolve(LIRF_ARCH_CNN, &o), LIRF_E_INVALID);
}
END_TEST

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-lirf-%ld", (long)getpid());
    char cmd[300];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", g_dir);
    if (system(cmd) != 0) return 1;
    Suite *s = suite_create("lirf");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, pruning_keeps_the_largest_filters);
    tcase_add_test(tc, deposit_lr_schedule);
    tcase_add_test(tc, deposit_holdout_keep_best);
    tcase_add_test(tc, deposit_re_deposit_only);
    tcase_add_test(tc, deposit_archive_withdraw_round_trip);
    tcase_add_test(tc, archive_bound_to_its_target);
    tcase_add_test(tc, invalid_deposits_rejected);
    tcase_add_test(tc, split_named_by_the_architecture);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
