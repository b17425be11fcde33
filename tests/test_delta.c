/* Delta deposits (model/lirf/delta.h): half precision against its definition,
 * each codec's archive withdrawn into a plain checkpoint whose lower part is
 * T0's within the codec's bound (BN statistics exactly), and refusals of a
 * delta that was altered, re-quantised, truncated, relabelled or applied to
 * another target, with nothing written. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lirf.h"
#include "lirf_archive.h"
#include "util.h"

#define K 10
#define S 12

static char g_dir[256];
static const char *tmp(const char *name) {
    static char buf[8][512];
    static int k;
    k = (k + 1) % 8;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* ---- half precision ---- */
static double h2d(uint16_t h) { return (double)lirf_f16_to_f32(h); }

START_TEST(half_round_trip_every_value) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = lirf_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            ck_assert(((h >> 10) & 0x1f) == 0x1f && (h & 0x3ff));
            ck_assert(isnan(lirf_f16_to_f32(lirf_f32_to_f16(f))));
            continue;
        }
        ck_assert_msg(lirf_f32_to_f16(f) == h, "half %#x -> %g -> %#x", h, (double)f,
                      lirf_f32_to_f16(f));
    }
    /* the definition's landmarks */
    ck_assert_uint_eq(lirf_f32_to_f16(65504.0f), 0x7bff);
    ck_assert_uint_eq(lirf_f32_to_f16(65519.99f), 0x7bff);
    ck_assert_uint_eq(lirf_f32_to_f16(65520.0f), 0x7c00); /* rounds to infinity */
    ck_assert_uint_eq(lirf_f32_to_f16(-1e9f), 0xfc00);
    ck_assert_uint_eq(lirf_f32_to_f16(ldexpf(1, -24)), 0x0001);
    ck_assert_uint_eq(lirf_f32_to_f16(ldexpf(1, -25)), 0x0000);     /* a tie: to even (0) */
    ck_assert_uint_eq(lirf_f32_to_f16(ldexpf(3, -25)), 0x0002);     /* a tie: to even (2) */
    ck_assert_uint_eq(lirf_f32_to_f16(1.0f + ldexpf(1, -11)), 0x3c00); /* a tie: to even */
    ck_assert_uint_eq(lirf_f32_to_f16(1.0f + ldexpf(3, -11)), 0x3c02);
    ck_assert_uint_eq(lirf_f32_to_f16(-0.0f), 0x8000);
}
END_TEST

START_TEST(half_rounds_to_nearest) {
    trng r = {7};
    for (int i = 0; i < 200000; i++) {
        float f = (float)(trng_uniform(&r, -1, 1) * ldexp(1, trng_int(&r, -28, 16)));
        uint16_t h = lirf_f32_to_f16(f);
        double e = fabs(h2d(h) - (double)f);
        /* no other half is nearer: check the neighbours in magnitude */
        uint16_t mag = h & 0x7fff;
        for (int d = -1; d <= 1; d += 2) {
            int nb = (int)mag + d;
            if (nb < 0 || nb >= 0x7c00) continue;
            uint16_t o = (uint16_t)((h & 0x8000) | nb);
            double eo = fabs(h2d(o) - (double)f);
            ck_assert_msg(e < eo || (e == eo && !(h & 1)), "%.9g -> %#x (err %g), %#x err %g",
                          (double)f, h, e, o, eo);
        }
    }
}
END_TEST

START_TEST(codec_and_mode_names) {
    lirf_delta_codec c;
    ck_assert_int_eq(lirf_delta_codec_parse("f16", &c), LIRF_OK);
    ck_assert_int_eq(c, LIRF_DELTA_F16);
    ck_assert_str_eq(lirf_delta_codec_name(LIRF_DELTA_INT8), "int8");
    ck_assert_int_eq(lirf_delta_codec_parse("int4", &c), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "int8, f16 or f32"));
    lirf_deposit_mode m;
    ck_assert_int_eq(lirf_deposit_mode_parse("delta", &m), LIRF_OK);
    ck_assert_int_eq(m, LIRF_DEPOSIT_DELTA);
    ck_assert_int_eq(lirf_deposit_mode_parse("Delta", &m), LIRF_E_INVALID);
}
END_TEST

/* ---- a deposit without training: the target's lower part moved by hand ---- */
static lirf_model_meta g_meta;
static char *g_names[K];

static lirf_net *make_t0(uint64_t seed) {
    lirf_net *n;
    ck_assert_int_eq(lirf_net_create(tctx(), &g_meta.cfg, &n), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(n, seed), LIRF_OK);
    /* BN statistics that are not the initial ones, so that keeping T0's shows */
    trng r = {seed + 1};
    for (size_t i = 0; i < lirf_net_ntensors(n); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(n, i);
        if (d->kind != LIRF_T_STAT) continue;
        float *v = malloc(d->n * sizeof *v);
        for (size_t k = 0; k < d->n; k++) v[k] = (float)trng_uniform(&r, 0.5, 1.5);
        ck_assert_int_eq(lirf_net_tensor_set(n, i, v), LIRF_OK);
        free(v);
    }
    return n;
}

/* Every float of the target's lower part moved (parameters by up to amp,
 * statistics by a factor), as a deposit's training would. */
static void move_target(lirf_lirf *l, uint64_t seed, double amp) {
    trng r = {seed};
    for (size_t i = 0; i < lirf_net_ntensors(l->target_lower); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(l->target_lower, i);
        if (d->kind == LIRF_T_COUNT) continue;
        float *v = malloc(d->n * sizeof *v);
        ck_assert_int_eq(lirf_net_tensor_get(l->target_lower, i, v), LIRF_OK);
        for (size_t k = 0; k < d->n; k++)
            v[k] = d->kind == LIRF_T_STAT ? v[k] * (float)trng_uniform(&r, 0.7, 1.3)
                                          : v[k] + (float)trng_uniform(&r, -amp, amp);
        ck_assert_int_eq(lirf_net_tensor_set(l->target_lower, i, v), LIRF_OK);
        free(v);
    }
}

static lirf_lirf *deposit_by_hand(lirf_net *t0, uint64_t seed) {
    int32_t dep[3] = {0, 1, 2};
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &g_meta, 2, dep, 3, 0.5f, &l), LIRF_OK);
    move_target(l, seed, 0.05);
    return l;
}

static lirf_deposit_opts delta_opts(lirf_delta_codec c) {
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.mode = LIRF_DEPOSIT_DELTA, o.codec = c;
    return o;
}

static long file_size(const char *p) {
    FILE *f = fopen(p, "rb");
    ck_assert_ptr_nonnull(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* The recover file's tensors against T0's (same names, nothing else): the
 * largest |difference| of conv weights relative to bound(delta), statistics
 * and counters exactly T0's, the upper part exactly T0's. */
static void check_recover_k(const char *rec, const char *t0p, lirf_delta_codec c, double times);
static void check_recover(const char *rec, const char *t0p, lirf_delta_codec c) {
    check_recover_k(rec, t0p, c, 1);
}
static void check_recover_k(const char *rec, const char *t0p, lirf_delta_codec c, double times) {
    lirf_safetensors a, b;
    ck_assert_int_eq(lirf_st_read(rec, &a), LIRF_OK);
    ck_assert_int_eq(lirf_st_read(t0p, &b), LIRF_OK);
    ck_assert_str_eq(lirf_st_meta(&a, "lirf_kind"), "recover");
    ck_assert_str_eq(lirf_st_meta(&a, "recover_rule"), "whole_net");
    ck_assert_uint_eq(a.count, b.count); /* no deposit.* tensors: a plain net */
    for (size_t i = 0; i < b.count; i++) {
        const lirf_st_tensor *x = lirf_st_find(&a, b.tensors[i].name), *y = &b.tensors[i];
        ck_assert_msg(x && x->dtype == y->dtype && x->nbytes == y->nbytes, "%s", y->name);
        int lower = !strncmp(y->name, "conv1.", 6) || !strncmp(y->name, "bn1.", 4) ||
                    !strncmp(y->name, "layer1.", 7) || !strncmp(y->name, "layer2.", 7);
        if (y->dtype != LIRF_F32 || strstr(y->name, "running_") || !lower) {
            ck_assert_msg(!memcmp(x->data, y->data, y->nbytes), "%s is not T0's", y->name);
            continue;
        }
        const float *xv = x->data, *yv = y->data;
        size_t n = y->nbytes / 4;
        for (size_t k = 0; k < n; k++) {
            /* f32 (and every BN affine delta): one rounding of target + delta,
             * at most an ulp of the larger of T0's value and the target's */
            double ulp = 1.2e-7 * (fabs(yv[k]) + 0.05);
            double tol = c == LIRF_DELTA_F32 || y->ndim == 1
                             ? ulp
                       : c == LIRF_DELTA_F16 ? 0.05 * 0.0005 + ulp /* |delta| <= 0.05: 2^-11 */
                                             : 0.05 / 127 / 2 + ulp;     /* half a step */
            ck_assert_msg(fabs((double)xv[k] - yv[k]) <= tol * times, "%s[%zu]: %g vs T0's %g (codec %s)",
                          y->name, k, (double)xv[k], (double)yv[k], lirf_delta_codec_name(c));
        }
    }
    lirf_st_free(&a), lirf_st_free(&b);
}

/* make_t0(seed), also written to path as a plain checkpoint. */
static lirf_net *saved_t0(uint64_t seed, const char *path) {
    lirf_net *t0 = make_t0(seed);
    lirf_net *nets[1] = {t0};
    const char *pre[1] = {""};
    ck_assert_int_eq(lirf_checkpoint_save(path, nets, pre, 1, &g_meta, NULL, NULL, 0), LIRF_OK);
    return t0;
}

START_TEST(every_codec_gives_t0_back) {
    lirf_net *t0 = saved_t0(3, tmp("t0.st"));
    lirf_lirf *l = deposit_by_hand(t0, 5);
    lirf_deposit_opts o = delta_opts(LIRF_DELTA_INT8);
    ck_assert_int_eq(lirf_save_target(l, tmp("target.st"), &o), LIRF_OK);
    const char *arch[3] = {"int8.lirf", "f16.lirf", "f32.lirf"};
    long size[3];
    for (int c = 0; c < 3; c++) {
        o.codec = (lirf_delta_codec)c;
        lirf_status st = lirf_save_deposit(l, tmp(arch[c]), &o, LIRF_ARCHIVE_PLAIN, NULL);
        ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
        json_t *rep = NULL;
        st = lirf_withdraw(tctx(), tmp("target.st"), tmp(arch[c]), tmp("rec.st"), &rep);
        ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
        ck_assert_str_eq(json_string_value(json_object_get(rep, "mode")), "delta");
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(rep, "delta"), "codec")),
                         lirf_delta_codec_name(o.codec));
        json_decref(rep);
        check_recover(tmp("rec.st"), tmp("t0.st"), o.codec);
        size[c] = file_size(tmp(arch[c]));
        /* the recover net opens as a whole network */
        lirf_model *m;
        ck_assert_int_eq(lirf_model_open(tctx(), tmp("rec.st"), &m), LIRF_OK);
        ck_assert_str_eq(lirf_model_kind(m), "recover");
        lirf_model_close(m);
    }
    ck_assert_msg(size[0] < size[1] && size[1] < size[2], "archive bytes %ld %ld %ld", size[0],
                  size[1], size[2]);
    lirf_lirf_destroy(l);
    lirf_net_destroy(t0);
}
END_TEST

/* The archive rewritten (a valid archive) around a changed member. */
static void repack(const char *from, const char *to, void (*change)(void **, size_t *),
                   void (*change_manifest)(json_t *)) {
    json_t *man;
    void *bytes;
    size_t len;
    ck_assert_int_eq(lirf_archive_read(from, &man, &bytes, &len), LIRF_OK);
    if (change) change(&bytes, &len);
    if (change_manifest) change_manifest(man);
    char *mj = json_dumps(man, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    ck_assert_int_eq(lirf_archive_write(to, mj, bytes, len, LIRF_ARCHIVE_PLAIN), LIRF_OK);
    free(mj), free(bytes);
    json_decref(man);
}

/* The member's tensor `name` (I8) with its first value changed by one step. */
static void member_edit(void **bytes, size_t *len, const char *drop, const char *bump) {
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read_mem(*bytes, *len, "member", &st), LIRF_OK);
    lirf_st_tensor *keep = calloc(st.count, sizeof *keep);
    size_t n = 0;
    for (size_t i = 0; i < st.count; i++) {
        if (drop && !strcmp(st.tensors[i].name, drop)) continue;
        keep[n] = st.tensors[i];
        if (bump && !strcmp(keep[n].name, bump)) {
            int8_t *q = keep[n].data;
            q[0] = (int8_t)(q[0] == 127 ? 126 : q[0] + 1);
        }
        n++;
    }
    const char *keys[3], *vals[3];
    size_t nm = 0;
    for (size_t i = 0; i < st.meta_count && nm < 3; i++) keys[nm] = st.meta_keys[i], vals[nm++] = st.meta_vals[i];
    free(*bytes);
    ck_assert_int_eq(lirf_st_write_mem(keep, n, keys, vals, nm, bytes, len), LIRF_OK);
    free(keep);
    lirf_st_free(&st);
}
static void requantise(void **b, size_t *n) { member_edit(b, n, NULL, "layer1.0.conv1.weight.delta"); }
static void drop_scale(void **b, size_t *n) { member_edit(b, n, "layer2.0.conv2.weight.delta_scale", NULL); }
static void truncate_member(void **b, size_t *n) { *n -= 7; (void)b; }
static void say_f16(json_t *man) {
    json_object_set_new(json_object_get(man, "delta"), "codec", json_string("f16"));
}
static void say_exact(json_t *man) { json_object_set_new(man, "mode", json_string("exact")); }

static void refused(const char *target, const char *archive, const char *want) {
    const char *rec = tmp("refused.st");
    lirf_status st = lirf_withdraw(tctx(), target, archive, rec, NULL);
    ck_assert_msg(st != LIRF_OK, "withdraw of %s was not refused", archive);
    ck_assert_msg(strstr(lirf_error_message(), want), "no \"%s\" in: %s", want,
                  lirf_error_message());
    ck_assert_msg(access(rec, F_OK) != 0, "a refused withdraw wrote %s", rec);
}

START_TEST(altered_deltas_refused) {
    lirf_net *t0 = make_t0(9);
    lirf_lirf *l = deposit_by_hand(t0, 11);
    lirf_deposit_opts o = delta_opts(LIRF_DELTA_INT8);
    ck_assert_int_eq(lirf_save_target(l, tmp("a-target.st"), &o), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(l, tmp("a.lirf"), &o, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_withdraw(tctx(), tmp("a-target.st"), tmp("a.lirf"), tmp("ok.st"), NULL),
                     LIRF_OK);
    repack(tmp("a.lirf"), tmp("requant.lirf"), requantise, NULL);
    refused(tmp("a-target.st"), tmp("requant.lirf"), "re-quantised");
    repack(tmp("a.lirf"), tmp("noscale.lirf"), drop_scale, NULL);
    refused(tmp("a-target.st"), tmp("noscale.lirf"), "layer2.0.conv2.weight.delta_scale");
    repack(tmp("a.lirf"), tmp("trunc.lirf"), truncate_member, NULL);
    refused(tmp("a-target.st"), tmp("trunc.lirf"), "trunc.lirf:deposit.safetensors");
    repack(tmp("a.lirf"), tmp("relabel.lirf"), NULL, say_f16);
    refused(tmp("a-target.st"), tmp("relabel.lirf"), "codec");
    repack(tmp("a.lirf"), tmp("asexact.lirf"), NULL, say_exact);
    refused(tmp("a-target.st"), tmp("asexact.lirf"), "");
    /* another deposit's target from the same T0: the binding refuses */
    lirf_lirf *l2 = deposit_by_hand(t0, 12);
    ck_assert_int_eq(lirf_save_target(l2, tmp("b-target.st"), &o), LIRF_OK);
    refused(tmp("b-target.st"), tmp("a.lirf"), "was not made with");
    lirf_lirf_destroy(l2);
    lirf_lirf_destroy(l);
    lirf_net_destroy(t0);
}
END_TEST

/* A deposit of classes 5,6 from the target of a deposit of 0,1,2 (file tA). */
static lirf_lirf *second_deposit(const char *tA) {
    lirf_model_meta m;
    lirf_net *t0b;
    ck_assert_int_eq(lirf_checkpoint_load(tctx(), tA, &m, &t0b), LIRF_OK);
    int32_t dep[2] = {5, 6};
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0b, &g_meta, 2, dep, 2, 0.5f, &l), LIRF_OK);
    ck_assert_int_eq(lirf_lirf_chain(l, tA), LIRF_OK);
    ck_assert_ptr_nonnull(l->predecessor);
    move_target(l, 77, 0.05);
    lirf_net_destroy(t0b);
    lirf_model_meta_free(&m);
    return l;
}

/* One value of a lower-part tensor of a checkpoint changed, metadata kept. */
static void nudge_file(const char *path) {
    lirf_safetensors st;
    ck_assert_int_eq(lirf_st_read(path, &st), LIRF_OK);
    lirf_st_tensor *t = (lirf_st_tensor *)lirf_st_find(&st, "layer1.0.conv2.weight");
    ck_assert_ptr_nonnull(t);
    ((float *)t->data)[3] += 0.25f;
    ck_assert_int_eq(lirf_st_write(path, st.tensors, st.count, (const char *const *)st.meta_keys,
                                   (const char *const *)st.meta_vals, st.meta_count), LIRF_OK);
    lirf_st_free(&st);
}

START_TEST(two_deposits_withdrawn_last_first) {
    lirf_net *t0 = saved_t0(21, tmp("s-t0.st"));
    lirf_lirf *a = deposit_by_hand(t0, 22);
    lirf_deposit_opts o = delta_opts(LIRF_DELTA_INT8), ox = o;
    ox.mode = LIRF_DEPOSIT_EXACT;
    ck_assert_int_eq(lirf_save_target(a, tmp("s-tA.st"), &o), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(a, tmp("s-A.lirf"), &o, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(a, tmp("s-Ax.lirf"), &ox, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    lirf_lirf *b = second_deposit(tmp("s-tA.st"));
    ck_assert_int_eq(lirf_save_target(b, tmp("s-tB.st"), &o), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(b, tmp("s-B.lirf"), &o, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(b, tmp("s-Bx.lirf"), &ox, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    /* the first deposit cannot come out before the second */
    refused(tmp("s-tB.st"), tmp("s-A.lirf"), "withdraw the later deposit first");
    /* delta: B gives back (nearly) A's target, which then gives back T0 */
    json_t *rep = NULL;
    lirf_status st = lirf_withdraw(tctx(), tmp("s-tB.st"), tmp("s-B.lirf"), tmp("s-r1.st"), &rep);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert_ptr_nonnull(json_object_get(rep, "gives_back_target_of"));
    json_decref(rep);
    lirf_safetensors r1;
    ck_assert_int_eq(lirf_st_read(tmp("s-r1.st"), &r1), LIRF_OK);
    ck_assert_str_eq(lirf_st_meta(&r1, "lirf_kind"), "target");
    ck_assert_str_eq(lirf_st_meta(&r1, "deposit_classes"), "0,1,2");
    lirf_st_free(&r1);
    st = lirf_withdraw(tctx(), tmp("s-r1.st"), tmp("s-A.lirf"), tmp("s-r0.st"), &rep);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(json_is_true(json_object_get(rep, "target_stands_in")));
    json_decref(rep);
    check_recover_k(tmp("s-r0.st"), tmp("s-t0.st"), LIRF_DELTA_INT8, 2); /* two roundings */
    /* exact: bit for bit, and the stand-in is the very target */
    ck_assert_int_eq(lirf_withdraw(tctx(), tmp("s-tB.st"), tmp("s-Bx.lirf"), tmp("s-x1.st"), NULL),
                     LIRF_OK);
    st = lirf_withdraw(tctx(), tmp("s-x1.st"), tmp("s-Ax.lirf"), tmp("s-x0.st"), &rep);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    ck_assert(json_is_false(json_object_get(rep, "target_stands_in")));
    json_decref(rep);
    check_recover_k(tmp("s-x0.st"), tmp("s-t0.st"), LIRF_DELTA_F32, 0); /* exactly T0 */
    /* paper mode: each module owns its columns and withdraws onto the later
     * target too, giving back its own classes */
    lirf_deposit_opts op = o;
    op.mode = LIRF_DEPOSIT_PAPER;
    ck_assert_int_eq(lirf_save_deposit(a, tmp("s-Ap.lirf"), &op, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    ck_assert_int_eq(lirf_save_deposit(b, tmp("s-Bp.lirf"), &op, LIRF_ARCHIVE_PLAIN, NULL), LIRF_OK);
    const char *paper[2][2] = {{"s-Ap.lirf", "0,1,2"}, {"s-Bp.lirf", "5,6"}};
    for (int k = 0; k < 2; k++) {
        st = lirf_withdraw(tctx(), tmp("s-tB.st"), tmp(paper[k][0]), tmp("s-rp.st"), NULL);
        ck_assert_msg(st == LIRF_OK, "%s: %s", paper[k][0], lirf_error_message());
        lirf_safetensors rp;
        ck_assert_int_eq(lirf_st_read(tmp("s-rp.st"), &rp), LIRF_OK);
        ck_assert_str_eq(lirf_st_meta(&rp, "deposit_classes"), paper[k][1]);
        ck_assert_str_eq(lirf_st_meta(&rp, "recover_rule"), "columns");
        lirf_st_free(&rp);
        unlink(tmp("s-rp.st"));
    }
    /* but not onto another target of the same T0 */
    refused(tmp("a-target.st"), tmp("s-Ap.lirf"), "fingerprint");
    /* a given-back target changed afterwards no longer stands in */
    nudge_file(tmp("s-r1.st"));
    refused(tmp("s-r1.st"), tmp("s-A.lirf"), "was not made with");
    lirf_lirf_destroy(b);
    lirf_lirf_destroy(a);
    lirf_net_destroy(t0);
}
END_TEST

int main(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/lirf-test-delta-%ld", (long)getpid());
    if (mkdir(g_dir, 0755) != 0) return 1;
    g_meta.cfg = (lirf_net_config){.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = S,
                                   .in_w = S, .classes = K, .first = 0, .last = 5};
    for (int k = 0; k < K; k++) {
        g_names[k] = malloc(8);
        snprintf(g_names[k], 8, "c%d", k);
    }
    g_meta.class_names = g_names;
    g_meta.mean[0] = 0.4f, g_meta.std[0] = 0.3f;
    Suite *s = suite_create("delta");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, half_round_trip_every_value);
    tcase_add_test(tc, half_rounds_to_nearest);
    tcase_add_test(tc, codec_and_mode_names);
    tcase_add_test(tc, every_codec_gives_t0_back);
    tcase_add_test(tc, altered_deltas_refused);
    tcase_add_test(tc, two_deposits_withdrawn_last_first);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    for (int k = 0; k < K; k++) free(g_names[k]);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    if (system(cmd) != 0) rc = 1;
    return rc;
}
