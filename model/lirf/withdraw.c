/* LIRF withdrawal (lirf.h): a target net and a deposit archive in, a recover
 * net out, with no data; the checks that bind an archive to its target; the
 * chain of several deposits; any checkpoint as a logits callback. */
#include "lirf.h"
#include "lirf_priv.h"

#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileutil.h"
#include "lirf_archive.h"

/* ---- withdraw ---- */
/* An archive's or recover net's mode name: one with a module (column rule)? */
static int mode_text_has_module(const char *mode) {
    lirf_deposit_mode m;
    return mode && lirf_deposit_mode_parse(mode, &m) == LIRF_OK && lirf_deposit_mode_has_module(m);
}

lirf_status lirf_deposit_classes_parse(const char *s, int32_t *out, int *n, int K,
                                       const char *what) {
    *n = 0;
    if (!s) return LIRF_FAIL(LIRF_E_FORMAT, "%s: no deposit classes", what);
    const char *p = s;
    while (*p) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v >= K || *n >= LIRF_MAX_CLASSES)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\"", what, s);
        out[(*n)++] = (int32_t)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\"", what, s);
    }
    return LIRF_OK;
}

/* The archive's manifest describes the target's network (architecture,
 * width, classes, split) and a known mode. */
static lirf_status manifest_fits(const json_t *man, const lirf_model_meta *tm,
                                 const char *archive_path, const char *target_path) {
    const char *arch = json_string_value(json_object_get(man, "architecture"));
    const char *msplit = json_string_value(json_object_get(man, "split"));
    json_int_t width = json_integer_value(json_object_get(man, "width"));
    json_int_t classes = json_integer_value(json_object_get(man, "classes"));
    const char *mode = json_string_value(json_object_get(man, "mode"));
    if (!arch || strcmp(arch, lirf_arch_name(tm->cfg.arch)) || !msplit ||
        strcmp(msplit, tm->split) || width != tm->cfg.width || classes != tm->cfg.classes ||
        !mode || (strcmp(mode, "paper") && strcmp(mode, "exact") && strcmp(mode, "delta") &&
                  strcmp(mode, "calibrated")))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s does not belong to %s: the manifest describes %s width %lld, %lld "
                         "classes, split %s, mode %s; the target is %s width %d, %d classes, split %s",
                         archive_path, target_path, arch ? arch : "?", (long long)width,
                         (long long)classes, msplit ? msplit : "?", mode ? mode : "?",
                         lirf_arch_name(tm->cfg.arch), tm->cfg.width, tm->cfg.classes, tm->split);
    return LIRF_OK;
}

/* The manifest's deposit classes as "0,1,2" into dep, checked against the
 * target's classes. */
static lirf_status manifest_classes(const json_t *man, const lirf_model_meta *tm,
                                    const char *archive_path, char *dep, size_t cap) {
    json_t *dc = json_object_get(man, "deposit_classes");
    size_t k = 0;
    dep[0] = 0;
    for (size_t i = 0; i < json_array_size(dc) && k + 12 < cap; i++)
        k += (size_t)snprintf(dep + k, cap - k, "%s%lld", i ? "," : "",
                              (long long)json_integer_value(json_array_get(dc, i)));
    int32_t dv[LIRF_MAX_CLASSES];
    int nd;
    LIRF_TRY(lirf_deposit_classes_parse(dep, dv, &nd, tm->cfg.classes, archive_path));
    return lirf_check_deposit_classes(dv, nd, tm->cfg.classes);
}

/* A list of classes ("2,0,1") checked (in [0, K), once each, 1 to K - 1 of
 * them) and written ascending into out ("0,1,2"); `what` names its source. */
static lirf_status canon_classes(const char *text, int K, const char *what, char *out, size_t cap) {
    int32_t v[LIRF_MAX_CLASSES];
    int n = 0;
    LIRF_TRY(lirf_deposit_classes_parse(text, v, &n, K, what));
    if (lirf_check_deposit_classes(v, n, K) != LIRF_OK) {
        char why[160];
        snprintf(why, sizeof why, "%s", lirf_error_message());
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: bad deposit class list \"%.60s\" (%s)", what, text,
                         why);
    }
    qsort(v, (size_t)n, sizeof *v, lirf_cmp_int);
    lirf_class_list_text(out, cap, v, n);
    return LIRF_OK;
}

/* A JSON array of integers as "a,b,c" (anything else gives a list that
 * parse_classes refuses). */
static void json_class_text(const json_t *arr, char *out, size_t cap) {
    size_t k = 0;
    out[0] = 0;
    if (!json_is_array(arr)) return;
    for (size_t i = 0; i < json_array_size(arr) && k + 24 < cap; i++) {
        const json_t *e = json_array_get(arr, i);
        k += json_is_integer(e) ? (size_t)snprintf(out + k, cap - k, "%s%lld", i ? "," : "",
                                                   (long long)json_integer_value(e))
                                : (size_t)snprintf(out + k, cap - k, "%sx", i ? "," : "");
    }
}

/* The target net is what withdraw takes: lirf_kind "target", written by lirf
 * deposit (an unlearning baseline's target has no split point: refused after). */
static lirf_status target_kind_ok(const lirf_safetensors *tst, const char *target_path) {
    const char *kind = lirf_st_meta(tst, "lirf_kind");
    if (kind && !strcmp(kind, "target")) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_FORMAT,
                     "%s is not a target net (its lirf_kind is %s%.40s%s): lirf withdraw takes the "
                     "target net that lirf deposit wrote together with the archive",
                     target_path, kind ? "\"" : "", kind ? kind : "absent: an original net",
                     kind ? "\"" : "");
}

/* The archive was made with this very target (docs/archive.md, "What binds
 * an archive to its target"): target_binding's deposit classes are the
 * target's "deposit_classes" and the manifest's, and its lower_sha256 is
 * lirf_lower_sha256 of the target's lower part tl. */
/* The target's classes tdep are not the archive's (bound): the message says
 * what to do when the target is a later deposit's, made on top of the
 * archive's own target. */
static lirf_status classes_differ(const lirf_safetensors *tst, const lirf_model_meta *tm,
                                  const char *bound, const char *tdep, const char *archive_path,
                                  const char *target_path) {
    char pdep[4096];
    const char *p = lirf_st_meta(tst, "predecessor_deposit_classes");
    if (p && canon_classes(p, tm->cfg.classes, target_path, pdep, sizeof pdep) == LIRF_OK &&
        !strcmp(pdep, bound))
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s belongs to an earlier deposit (classes %s) than %s, the target of a "
                         "later deposit (classes %s) made from that deposit's target: a delta or "
                         "exact archive comes out last first, so withdraw the later deposit "
                         "first (it gives back the earlier target), then this archive onto what "
                         "it gives back", archive_path, bound, target_path, tdep);
    return LIRF_FAIL(LIRF_E_INVALID,
                     "%s was not made with %s: the archive deposits classes %s, the target net "
                     "is the target of a deposit of classes %s (give each archive the target "
                     "net its own lirf deposit wrote)", archive_path, target_path, bound, tdep);
}

/* A target given back by a withdrawal stands for the target the archive was
 * made with: its metadata says which (stands_for_lower_sha256 = want) and
 * its lower part is still what the withdrawal wrote (recovered_lower_sha256). */
static int stands_in(const lirf_safetensors *tst, const char *want, const char *got) {
    const char *sf = lirf_st_meta(tst, "stands_for_lower_sha256");
    const char *rv = lirf_st_meta(tst, "recovered_lower_sha256");
    return sf && rv && !strcmp(sf, want) && !strcmp(rv, got);
}

/* A paper-mode module owns its columns: it withdraws onto the target of a
 * later deposit made from its own target (the target's metadata names that
 * predecessor's classes and lower-part hash), giving back its classes only. */
static int successor_of(const json_t *man, const lirf_safetensors *tst, const lirf_model_meta *tm,
                        const char *bound, const char *want) {
    const char *mode = json_string_value(json_object_get(man, "mode"));
    const char *p = lirf_st_meta(tst, "predecessor_deposit_classes");
    const char *ph = lirf_st_meta(tst, "predecessor_lower_sha256");
    char pdep[4096];
    return mode_text_has_module(mode) && p && ph && !strcmp(ph, want) &&
           canon_classes(p, tm->cfg.classes, "target", pdep, sizeof pdep) == LIRF_OK &&
           !strcmp(pdep, bound);
}

static lirf_status check_binding(const json_t *man, const lirf_safetensors *tst,
                                 const lirf_model_meta *tm, lirf_net *tl, const char *archive_path,
                                 const char *target_path, int *stand_in) {
    const json_t *b = json_object_get(man, "target_binding");
    if (!b)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s has no target_binding: it was written by a lirf that did not bind a "
                         "deposit archive to its target net, so nothing shows that %s is the "
                         "target it was made with; deposit again from T0 for an archive that "
                         "withdraw can check (docs/archive.md)", archive_path, target_path);
    const char *want = json_string_value(json_object_get(b, "lower_sha256"));
    const char *scheme = json_string_value(json_object_get(b, "lower_hash"));
    if (!json_is_object(b) || !want || strlen(want) != 64 || strspn(want, "0123456789abcdef") != 64 ||
        !scheme || strcmp(scheme, LIRF_LOWER_HASH_CONTEXT))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: target_binding is malformed (it needs lower_hash \"%s\", lower_sha256 "
                         "of 64 lowercase hex digits and deposit_classes)",
                         archive_path, LIRF_LOWER_HASH_CONTEXT);
    char text[4096], bound[4096], listed[4096], tdep[4096];
    json_class_text(json_object_get(b, "deposit_classes"), text, sizeof text);
    LIRF_TRY(canon_classes(text, tm->cfg.classes, archive_path, bound, sizeof bound));
    json_class_text(json_object_get(man, "deposit_classes"), text, sizeof text);
    LIRF_TRY(canon_classes(text, tm->cfg.classes, archive_path, listed, sizeof listed));
    if (strcmp(bound, listed))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the manifest's deposit_classes (%s) are not its target_binding's (%s)",
                         archive_path, listed, bound);
    LIRF_TRY(canon_classes(lirf_st_meta(tst, "deposit_classes"), tm->cfg.classes, target_path,
                           tdep, sizeof tdep));
    if (strcmp(bound, tdep) && successor_of(man, tst, tm, bound, want)) return LIRF_OK;
    if (strcmp(bound, tdep))
        return classes_differ(tst, tm, bound, tdep, archive_path, target_path);
    char got[65];
    size_t nt = 0;
    LIRF_TRY(lirf_lower_sha256(tl, got, &nt));
    json_int_t bt = json_integer_value(json_object_get(b, "lower_tensors"));
    *stand_in = strcmp(want, got) && stands_in(tst, want, got);
    if (strcmp(want, got) && !*stand_in)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s was not made with %s: the target's lower part (%zu tensors up to %s) "
                         "hashes to %.16s..., the archive was made with one (%lld tensors) that "
                         "hashes to %.16s... (another deposit's target from the same T0, or a "
                         "target changed since the deposit)", archive_path, target_path, nt,
                         tm->split, got, (long long)bt, want);
    return LIRF_OK;
}

/* ---- several deposits ---- */
/* The lower part (stages 0..split of the checkpoint's network) hashed as
 * lirf_lower_sha256 does. */
static lirf_status file_lower_sha256(lirf_ctx *ctx, const lirf_safetensors *st, const char *path,
                                     const lirf_model_meta *m, int split, char hex[65]) {
    lirf_net *lower = NULL;
    lirf_status s = lirf_checkpoint_make_net(ctx, st, path, m, "", 0, split, &lower);
    if (!s) s = lirf_lower_sha256(lower, hex, NULL);
    lirf_net_destroy(lower);
    return s;
}

/* The predecessor record of a target checkpoint (st, m at path). */
static lirf_status predecessor_of(lirf_ctx *ctx, const lirf_safetensors *st,
                                  const lirf_model_meta *m, const char *path, json_t **out) {
    int split = lirf_stage_parse(m->cfg.arch, m->split);
    if (lirf_check_split(m->cfg.arch, split) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a target net without a split point", path);
    char classes[4096];
    LIRF_TRY(canon_classes(lirf_st_meta(st, "deposit_classes"), m->cfg.classes, path, classes,
                           sizeof classes));
    char hex[65];
    const char *stands = lirf_st_meta(st, "stands_for_lower_sha256");
    if (stands && strlen(stands) == 64) snprintf(hex, sizeof hex, "%s", stands);
    else LIRF_TRY(file_lower_sha256(ctx, st, path, m, split, hex));
    int32_t v[LIRF_MAX_CLASSES];
    int n = 0;
    LIRF_TRY(lirf_deposit_classes_parse(classes, v, &n, m->cfg.classes, path));
    json_t *arr = json_array();
    for (int i = 0; arr && i < n; i++) json_array_append_new(arr, json_integer(v[i]));
    *out = json_pack("{s:s,s:o,s:s,s:s,s:s}", "lirf_kind", "target", "deposit_classes", arr,
                     "split", m->split, "lower_sha256", hex, "lower_hash", LIRF_LOWER_HASH_CONTEXT);
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

lirf_status lirf_lirf_chain(lirf_lirf *l, const char *t0_path) {
    if (!l || !t0_path) return LIRF_FAIL(LIRF_E_NULL, "lirf_lirf_chain: NULL argument");
    lirf_safetensors st = {0};
    lirf_model_meta m = {0};
    LIRF_TRY(lirf_checkpoint_open(t0_path, &st, &m));
    const char *kind = lirf_st_meta(&st, "lirf_kind");
    lirf_status s = LIRF_OK;
    json_decref(l->predecessor);
    l->predecessor = NULL;
    if (kind && !strcmp(kind, "target")) s = predecessor_of(l->ctx, &st, &m, t0_path, &l->predecessor);
    lirf_st_free(&st);
    lirf_model_meta_free(&m);
    return s;
}

/* What a withdrawal reads and makes. */
typedef struct {
    lirf_safetensors tst, dst;
    lirf_model_meta tm, dm;
    json_t *man;
    void *bytes;
    size_t len;
    lirf_net *tl, *up, *dp;
    lirf_archive_info info;
    int split, stand_in; /* stand_in: the target was given back by a delta withdrawal */
    char fp[65], dep[4096];
    const char *mode;
    json_int_t stored; /* the member's values */
} withdrawal;

static void withdrawal_free(withdrawal *w) {
    lirf_net_destroy(w->tl), lirf_net_destroy(w->up), lirf_net_destroy(w->dp);
    json_decref(w->man);
    free(w->bytes);
    lirf_st_free(&w->tst), lirf_st_free(&w->dst);
    lirf_model_meta_free(&w->tm), lirf_model_meta_free(&w->dm);
}

/* lirf withdraw --json's record. */
static json_t *withdraw_report(const char *target_path, const char *archive_path,
                               const char *recover_path, const withdrawal *w) {
    const json_t *delta = json_object_get(w->man, "delta");
    json_t *r = json_pack("{s:o,s:o,s:o,s:s,s:s,s:s,s:I,s:s}", "target", lirf_json_text(target_path),
                          "archive", lirf_json_text(archive_path), "recover",
                          lirf_json_text(recover_path), "mode", w->mode, "deposit_classes",
                          w->dep, "upper_fingerprint_sha256", w->fp, "deposit_parameters",
                          w->stored, "recover_rule",
                          mode_text_has_module(w->mode) ? "columns" : "whole_net");
    if (!r) return NULL;
    if (delta)
        json_object_set_new(r, "delta", json_pack("{s:O,s:O,s:b}", "codec",
                                                  json_object_get(delta, "codec"),
                                                  "recover_lower_sha256",
                                                  json_object_get(delta, "recover_lower_sha256"),
                                                  "recover_lower_verified", !w->stand_in));
    json_object_set_new(r, "target_stands_in", json_boolean(w->stand_in));
    json_t *pred = json_object_get(w->man, "predecessor");
    if (pred && !mode_text_has_module(w->mode))
        json_object_set(r, "gives_back_target_of", pred);
    json_object_set_new(r, "signed_by", w->info.is_signed ? json_string(w->info.signer) : json_null());
    json_object_set_new(r, "signature_verified", json_boolean(w->info.verified));
    json_object_set_new(r, "encrypted_to",
                        w->info.encrypted ? json_string(w->info.recipient) : json_null());
    return r;
}

lirf_status lirf_withdraw(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                          const char *recover_path, json_t **report) {
    return lirf_withdraw_sealed(ctx, target_path, archive_path, recover_path, NULL, report);
}

/* The target net: its kind, split point, lower and upper parts. */
static lirf_status open_target(lirf_ctx *ctx, const char *target_path, withdrawal *w) {
    LIRF_TRY(lirf_checkpoint_open(target_path, &w->tst, &w->tm));
    LIRF_TRY(target_kind_ok(&w->tst, target_path));
    w->split = lirf_stage_parse(w->tm.cfg.arch, w->tm.split);
    if (lirf_check_split(w->tm.cfg.arch, w->split) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a target net (no split point in its metadata)",
                         target_path);
    int last = lirf_arch_stages(w->tm.cfg.arch) - 1;
    LIRF_TRY(lirf_checkpoint_make_net(ctx, &w->tst, target_path, &w->tm, "", 0, w->split, &w->tl));
    return lirf_checkpoint_make_net(ctx, &w->tst, target_path, &w->tm, "", w->split + 1, last,
                                    &w->up);
}

/* The archive: read (and opened with keys), made for this network and this
 * very target. */
static lirf_status open_archive(const char *target_path, const char *archive_path,
                                const lirf_archive_unseal *unseal, withdrawal *w) {
    LIRF_TRY(lirf_archive_read_sealed(archive_path, unseal, &w->man, &w->bytes, &w->len, &w->info));
    LIRF_TRY(manifest_fits(w->man, &w->tm, archive_path, target_path));
    w->mode = json_string_value(json_object_get(w->man, "mode"));
    LIRF_TRY(lirf_upper_fingerprint(w->up, w->fp));
    const char *want = json_string_value(json_object_get(w->man, "upper_fingerprint_sha256"));
    if (!want || strcmp(want, w->fp))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s was deposited from another network: its upper-part fingerprint "
                         "%.16s... does not match %s's %.16s...",
                         archive_path, want ? want : "(none)", target_path, w->fp);
    LIRF_TRY(check_binding(w->man, &w->tst, &w->tm, w->tl, archive_path, target_path,
                           &w->stand_in));
    return manifest_classes(w->man, &w->tm, archive_path, w->dep, sizeof w->dep);
}

/* A module member (paper: the pruned module; exact: T0's lower part) as w->dp. */
static lirf_status open_module(lirf_ctx *ctx, const char *archive_path, withdrawal *w) {
    char what[1200];
    snprintf(what, sizeof what, "%s:deposit.safetensors", archive_path);
    LIRF_TRY(lirf_checkpoint_open_mem(w->bytes, w->len, what, &w->dst, &w->dm));
    const lirf_net_config *a = &w->dm.cfg, *b = &w->tm.cfg;
    if (a->arch != b->arch || a->width != b->width || a->classes != b->classes ||
        a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the deposit module does not fit the target net", what);
    LIRF_TRY(lirf_checkpoint_make_net(ctx, &w->dst, what, &w->dm, "", 0, w->split, &w->dp));
    w->stored = (json_int_t)lirf_net_nparams(w->dp);
    return LIRF_OK;
}

/* Delta mode: the target's lower part plus the delta, checked against the
 * hash of what the deposit gave back when it made the delta. */
static lirf_status apply_delta_member(const char *archive_path, withdrawal *w) {
    char what[1200];
    snprintf(what, sizeof what, "%s:deposit.safetensors", archive_path);
    const json_t *d = json_object_get(w->man, "delta");
    const char *codec = json_string_value(json_object_get(d, "codec"));
    const char *want = json_string_value(json_object_get(d, "recover_lower_sha256"));
    if (!codec || !want || strlen(want) != 64)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a delta archive whose manifest has no delta record "
                         "(codec, recover_lower_sha256)", archive_path);
    LIRF_TRY(lirf_st_read_mem(w->bytes, w->len, what, &w->dst));
    const char *mc = lirf_st_meta(&w->dst, "codec");
    if (!mc || strcmp(mc, codec))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the member's codec %.20s is not the manifest's %.20s",
                         what, mc ? mc : "(none)", codec);
    LIRF_TRY(lirf_delta_apply(&w->dst, what, w->tl));
    char got[65];
    LIRF_TRY(lirf_lower_sha256(w->tl, got, NULL));
    /* a stand-in target is not bit for bit the one the delta was made for:
     * what it gives back cannot match (the archive's own SHA-256 still
     * covers the member) */
    if (strcmp(got, want) && !w->stand_in)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the delta does not give back the lower part it was made to give "
                         "(hash %.16s..., expected %.16s...): its values were changed or "
                         "re-quantised since the deposit", archive_path, got, want);
    w->stored = json_integer_value(json_object_get(json_object_get(w->man, "parameters"),
                                                   "deposit_module"));
    return LIRF_OK;
}

/* A delta or exact withdrawal of a second deposit gives back the first
 * deposit's target: written as that target (its classes and split), standing
 * for the one the first archive is bound to, so that it withdraws in turn. */
static lirf_status write_stand_in(lirf_ctx *ctx, const char *path, withdrawal *w,
                                  const json_t *pred, lirf_net *const *nets) {
    const char *psplit = json_string_value(json_object_get(pred, "split"));
    const char *plower = json_string_value(json_object_get(pred, "lower_sha256"));
    int split = psplit ? lirf_stage_parse(w->tm.cfg.arch, psplit) : -1;
    char pdep[4096];
    json_class_text(json_object_get(pred, "deposit_classes"), pdep, sizeof pdep);
    if (lirf_check_split(w->tm.cfg.arch, split) != LIRF_OK || !plower || strlen(plower) != 64 ||
        canon_classes(pdep, w->tm.cfg.classes, path, pdep, sizeof pdep) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "the archive's predecessor record is malformed (it needs "
                         "deposit_classes, split and lower_sha256)");
    lirf_net *lower = NULL;
    char got[65];
    lirf_model_meta m = w->tm;
    memset(m.cfg.mid, 0, sizeof m.cfg.mid);
    m.cfg.first = 0, m.cfg.last = split;
    lirf_status st = lirf_net_create(ctx, &m.cfg, &lower);
    if (!st) st = lirf_net_copy(lower, nets[0], NULL);
    if (!st) st = lirf_net_copy(lower, nets[1], NULL);
    if (!st) st = lirf_lower_sha256(lower, got, NULL);
    lirf_net_destroy(lower);
    LIRF_TRY(st);
    snprintf(m.split, sizeof m.split, "%s", psplit);
    const char *keys[] = {"lirf_kind", "deposit_classes", "stands_for_lower_sha256",
                          "recovered_lower_sha256", "deposit_mode", "withdrawn_classes"};
    const char *vals[] = {"target", pdep, plower, got, w->mode, w->dep};
    const char *pre[2] = {"", ""};
    return lirf_checkpoint_save(path, nets, pre, 2, &m, keys, vals, 6);
}

/* The recover checkpoint. paper: target (torchvision names) + deposit.*,
 * column rule; exact and delta: the whole recovered net, a plain checkpoint. */
static lirf_status write_recover(lirf_ctx *ctx, const char *archive_path, const char *recover_path,
                                 withdrawal *w) {
    int paper = mode_text_has_module(w->mode); /* paper or calibrated: the column rule */
    if (!strcmp(w->mode, "delta")) LIRF_TRY(apply_delta_member(archive_path, w));
    else LIRF_TRY(open_module(ctx, archive_path, w));
    char mid[256] = "";
    lirf_mid_format(&w->dm.cfg, mid, sizeof mid);
    const char *keys[7] = {"lirf_kind", "deposit_classes", "deposit_mode", "recover_rule"};
    const char *vals[7] = {"recover", w->dep, w->mode, paper ? "columns" : "whole_net"};
    int nk = 4;
    if (paper) keys[nk] = "deposit_mid", vals[nk++] = mid;
    /* a sample-level deposit's list, as the target names it */
    const char *sn = lirf_st_meta(&w->tst, "deposit_samples");
    const char *sh = lirf_st_meta(&w->tst, "deposit_samples_sha256");
    if (sn && sh) {
        keys[nk] = "deposit_samples", vals[nk++] = sn;
        keys[nk] = "deposit_samples_sha256", vals[nk++] = sh;
    }
    lirf_model_meta m = w->tm;
    memset(m.cfg.mid, 0, sizeof m.cfg.mid);
    if (paper) {
        lirf_net *nets[3] = {w->tl, w->up, w->dp};
        const char *pre[3] = {"", "", "deposit."};
        return lirf_checkpoint_save(recover_path, nets, pre, 3, &m, keys, vals, nk);
    }
    lirf_net *nets[2] = {!strcmp(w->mode, "exact") ? w->dp : w->tl, w->up};
    const char *pre[2] = {"", ""};
    const json_t *pred = json_object_get(w->man, "predecessor");
    if (pred) return write_stand_in(ctx, recover_path, w, pred, nets);
    m.split[0] = 0; /* a whole network */
    return lirf_checkpoint_save(recover_path, nets, pre, 2, &m, keys, vals, nk);
}

lirf_status lirf_withdraw_sealed(lirf_ctx *ctx, const char *target_path, const char *archive_path,
                                 const char *recover_path, const lirf_archive_unseal *unseal,
                                 json_t **report) {
    if (!ctx || !target_path || !archive_path || !recover_path)
        return LIRF_FAIL(LIRF_E_NULL, "withdraw: NULL argument");
    withdrawal w;
    memset(&w, 0, sizeof w);
    lirf_status st = open_target(ctx, target_path, &w);
    if (!st) st = open_archive(target_path, archive_path, unseal, &w);
    if (!st) st = write_recover(ctx, archive_path, recover_path, &w);
    if (!st && report) *report = withdraw_report(target_path, archive_path, recover_path, &w);
    withdrawal_free(&w);
    return st;
}

/* ---- any checkpoint as logits ---- */
struct lirf_model {
    lirf_model_meta meta;
    lirf_net *whole;
    lirf_lirf *rec; /* recover nets of the column rule (paper mode) */
    int deposit_path_only; /* an exact recover net of an older lirf: T0's lower part as deposit.* */
    int whole_recover;     /* a recover net that is a whole network (exact and delta modes) */
};

lirf_status lirf_model_open(lirf_ctx *ctx, const char *path, lirf_model **out) {
    if (!ctx || !path || !out) return LIRF_FAIL(LIRF_E_NULL, "model_open: NULL argument");
    lirf_model *m = calloc(1, sizeof *m);
    if (!m) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_safetensors st = {0};
    lirf_status s = lirf_checkpoint_open(path, &st, &m->meta);
    if (s != LIRF_OK) {
        free(m);
        return s;
    }
    const char *kind = lirf_st_meta(&st, "lirf_kind"), *rule = lirf_st_meta(&st, "recover_rule");
    m->whole_recover = kind && !strcmp(kind, "recover") && rule && !strcmp(rule, "whole_net");
    if (kind && !strcmp(kind, "recover") && !m->whole_recover) {
        int split = lirf_stage_parse(m->meta.cfg.arch, m->meta.split);
        int32_t dep[LIRF_MAX_CLASSES];
        int nd = 0;
        lirf_model_meta dm = m->meta;
        const char *mid = lirf_st_meta(&st, "deposit_mid");
        if (lirf_check_split(m->meta.cfg.arch, split) != LIRF_OK)
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: recover net without a split point", path);
        if (s == LIRF_OK && (!mid || lirf_mid_parse(&dm.cfg, mid) != LIRF_OK))
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: recover net without deposit_mid", path);
        if (s == LIRF_OK)
            s = lirf_deposit_classes_parse(lirf_st_meta(&st, "deposit_classes"), dep, &nd,
                                           m->meta.cfg.classes, path);
        if (s == LIRF_OK) s = lirf_lirf_alloc(ctx, &m->meta, split, dep, nd, &m->rec);
        int last = lirf_arch_stages(m->meta.cfg.arch) - 1;
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", 0, split,
                                         &m->rec->target_lower);
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", split + 1, last,
                                         &m->rec->upper);
        if (s == LIRF_OK)
            s = lirf_checkpoint_make_net(ctx, &st, path, &dm, "deposit.", 0, split,
                                         &m->rec->deposit);
        if (s == LIRF_OK) s = lirf_lirf_masks(m->rec);
        const char *rule = lirf_st_meta(&st, "recover_rule");
        m->deposit_path_only = rule && !strcmp(rule, "deposit_path");
    } else {
        s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", 0,
                                     lirf_arch_stages(m->meta.cfg.arch) - 1, &m->whole);
    }
    lirf_st_free(&st);
    if (s != LIRF_OK) {
        lirf_model_close(m);
        return s;
    }
    *out = m;
    return LIRF_OK;
}

void lirf_model_close(lirf_model *m) {
    if (!m) return;
    lirf_net_destroy(m->whole);
    lirf_lirf_destroy(m->rec);
    lirf_model_meta_free(&m->meta);
    free(m);
}

const lirf_model_meta *lirf_model_meta_of(const lirf_model *m) { return &m->meta; }
const char *lirf_model_kind(const lirf_model *m) {
    return m->rec || m->whole_recover ? "recover" : "model";
}

lirf_status lirf_model_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_model *m = user;
    if (m->whole) return lirf_net_forward(m->whole, ws, NULL, LIRF_MODE_EVAL, x, n, logits);
    if (m->deposit_path_only) return lirf_deposit_path_logits(m->rec, ws, x, n, logits);
    return lirf_recover_logits(m->rec, ws, x, n, logits);
}
