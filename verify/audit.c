/* The audit: every check of lirf verify, as one JSON report (see verify.h and
 * docs/verify.md). */
#include <dirent.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "fileutil.h"
#include "audit_priv.h"

void lirf_verify_opts_default(lirf_verify_opts *o) {
    memset(o, 0, sizeof *o);
    o->kind = LIRF_DATA_AUTO;
    o->seeds = 1, o->epochs = 2, o->train_subset = 20000, o->test_subset = 0, o->batch = 128;
    o->students = 3, o->student_width = 8, o->methods = 3, o->labels = 3;
    lirf_distill_opts_default(&o->distill);
    o->mia = o->probe = o->withdraw_check = o->deposit_alone = 1;
    o->relearn = 1;
    o->member_limit = 0, o->mia_samples = 3000, o->datafree_images = 10000;
    o->probe_opts = (lirf_probe_opts){.epochs = 10, .batch = 128, .lr = 0.05f, .momentum = 0.9f,
                                      .wd = 0, .seed = 1};
    o->probe_train = 5000;
    o->relearn_samples = 300, o->relearn_max_steps = 300, o->relearn_eval_every = 5;
    o->relearn_fraction = 0.9f, o->relearn_lr = 0.01f;
    o->margin_distill = 5, o->margin_none = 15, o->margin_mia = 0.05f, o->margin_probe = 10;
    o->margin_withdraw = 5, o->margin_relearn = 0.5f;
    o->train_control = 1, o->control_epochs = 3, o->control_limit = 20000;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* {path: sha256} of a data source: the file, or every regular file at the top
 * of a folder (the files the readers open: Fashion-MNIST, CIFAR binaries). */
static lirf_status hash_source(const char *src, json_t *files) {
    struct stat sb;
    if (stat(src, &sb) != 0) return LIRF_FAIL(LIRF_E_IO, "cannot stat %s", src);
    char hex[65];
    json_t *key;
    if (!S_ISDIR(sb.st_mode)) {
        LIRF_TRY(lirf_file_sha256(src, hex));
        json_object_set_new(files, json_string_value(key = lirf_json_text(src)), json_string(hex));
        json_decref(key);
        return LIRF_OK;
    }
    DIR *d = opendir(src);
    if (!d) return LIRF_FAIL(LIRF_E_IO, "cannot list %s", src);
    char *names[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 256) {
        if (e->d_name[0] == '.') continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", src, e->d_name);
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode)) names[n++] = strdup(p);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    lirf_status st = LIRF_OK;
    for (int i = 0; i < n; i++) {
        if (names[i] && st == LIRF_OK) {
            st = lirf_file_sha256(names[i], hex);
            json_t *key = lirf_json_text(names[i]); /* a key must be UTF-8 */
            if (st == LIRF_OK && key)
                json_object_set_new(files, json_string_value(key), json_string(hex));
            json_decref(key);
        }
        free(names[i]);
    }
    return st;
}

/* ---- models ---- */
const char *const ROLE[R_COUNT] = {"original", "target", "target_no_at", "independent"};
const char *const ROLE_LABEL[R_COUNT] = {"Original", "Target", "Target w/o L_at",
                                         "Independent"};

static lirf_status open_model(lirf_ctx *ctx, const char *path, const char *flag, model_t *m) {
    lirf_safetensors st = {0};
    m->path = path;
    lirf_status s = lirf_checkpoint_open(path, &st, &m->meta);
    if (s != LIRF_OK) { /* a copy: LIRF_FAIL writes the very buffer lirf_error_message reads */
        char why[2048];
        snprintf(why, sizeof why, "%s", lirf_error_message());
        return LIRF_FAIL(s, "%s %s: not a readable lirf checkpoint: %s", flag, path, why);
    }
    const char *kind = lirf_st_meta(&st, "lirf_kind");
    snprintf(m->kind, sizeof m->kind, "%s", kind ? kind : "model");
    const char *dep = lirf_st_meta(&st, "deposit_classes");
    snprintf(m->dep, sizeof m->dep, "%s", dep ? dep : "");
    if (kind && strcmp(kind, "target")) {
        lirf_st_free(&st);
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s %s is a checkpoint of kind \"%s\"; the audit needs a whole net (a "
                         "trained net or a target net from lirf deposit)",
                         flag, path, m->kind);
    }
    s = lirf_checkpoint_make_net(ctx, &st, path, &m->meta, "", 0,
                                 lirf_arch_stages(m->meta.cfg.arch) - 1, &m->net);
    lirf_st_free(&st);
    if (s != LIRF_OK) return s;
    return lirf_file_sha256(path, m->sha);
}

static void close_model(model_t *m) {
    lirf_net_destroy(m->net);
    lirf_model_meta_free(&m->meta);
    memset(m, 0, sizeof *m);
}

/* ---- evaluation helpers ---- */
int va_is_dep(const split_t *s, int k) {
    for (int j = 0; j < s->ndep; j++)
        if (s->dep[j] == k) return 1;
    return 0;
}

void va_summarise(const split_t *s, const int64_t *counts, double *pre, double *dep,
                      double *avg) {
    int64_t ca = 0, na = 0, cd = 0, nd = 0;
    for (int k = 0; k < s->K; k++) {
        ca += counts[2 * k], na += counts[2 * k + 1];
        if (va_is_dep(s, k)) cd += counts[2 * k], nd += counts[2 * k + 1];
    }
    *avg = lirf_pct(ca, na);
    *dep = lirf_pct(cd, nd);
    *pre = lirf_pct(ca - cd, na - nd);
}

lirf_status va_make_loader(lirf_ctx *ctx, const lirf_dataset *d, const int32_t *index,
                               size_t count, int batch, const float *mean, const float *std,
                               lirf_loader **out) {
    lirf_loader_opts lo = {.data = d, .index = index, .count = count, .batch = batch};
    memcpy(lo.mean, mean, sizeof lo.mean);
    memcpy(lo.std, std, sizeof lo.std);
    return lirf_loader_create(ctx, &lo, out);
}

lirf_status va_eval_fn(lirf_ctx *ctx, lirf_loader *ld, const split_t *s, lirf_logits_fn fn,
                           void *user, double *pre, double *dep, double *avg) {
    int64_t counts[2 * LIRF_MAX_CLASSES];
    LIRF_TRY(lirf_eval_counts(ctx, ld, s->K, fn, user, counts));
    va_summarise(s, counts, pre, dep, avg);
    return LIRF_OK;
}

json_t *va_jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

void va_note(const lirf_verify_opts *o, const char *fmt, const char *a, double t0) {
    if (o->quiet) return;
    fprintf(stderr, "verify: ");
    fprintf(stderr, fmt, a);
    fprintf(stderr, " (%.0fs)\n", lirf_now() - t0);
}

/* ---- the deposit path alone (probe d) ---- */
typedef struct {
    lirf_net *lower, *upper;
} path_t;

static lirf_status path_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    path_t *p = user;
    lirf_buf f;
    LIRF_TRY(lirf_net_forward(p->lower, ws, NULL, LIRF_MODE_EVAL, x, n, &f));
    return lirf_net_forward(p->upper, ws, NULL, LIRF_MODE_EVAL, f, n, logits);
}

/* The deposit path of a paper-mode recover net; *whole = 1 (and nothing
 * opened) for a delta or exact recover net, a whole network with no module. */
static lirf_status open_deposit_path(lirf_ctx *ctx, const char *recover, path_t *p, int *whole) {
    lirf_safetensors st = {0};
    lirf_model_meta m = {0};
    LIRF_TRY(lirf_checkpoint_open(recover, &st, &m));
    lirf_model_meta dm = m;
    const char *mid = lirf_st_meta(&st, "deposit_mid"), *rule = lirf_st_meta(&st, "recover_rule");
    int split = lirf_stage_parse(m.cfg.arch, m.split), last = lirf_arch_stages(m.cfg.arch) - 1;
    lirf_status s = LIRF_OK;
    *whole = rule && !strcmp(rule, "whole_net");
    if (*whole) {
        lirf_st_free(&st);
        lirf_model_meta_free(&m);
        return LIRF_OK;
    }
    if (!mid || lirf_mid_parse(&dm.cfg, mid) != LIRF_OK || split < 0)
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a recover net", recover);
    if (s == LIRF_OK) s = lirf_checkpoint_make_net(ctx, &st, recover, &dm, "deposit.", 0, split, &p->lower);
    if (s == LIRF_OK) s = lirf_checkpoint_make_net(ctx, &st, recover, &m, "", split + 1, last, &p->upper);
    lirf_st_free(&st);
    lirf_model_meta_free(&m);
    return s;
}

/* the names of lirf_verify_opts' bit sets, by lirf_verify_list: bit i, name i */
static const char *const LIST_NAME[3][2] = {{"cnn", "resnet18"}, {"logit", "at"}, {"true", "none"}};
static const char *const LIST_FLAG[3] = {"--students", "--methods", "--labels"};

const char *va_student_name(int s) { return LIST_NAME[LIRF_VERIFY_STUDENTS][s != 0]; }

lirf_status lirf_verify_parse_list(lirf_verify_list which, const char *text, int *bits) {
    if (!text || !bits || (unsigned)which > LIRF_VERIFY_LABELS)
        return LIRF_FAIL(LIRF_E_NULL, "verify: NULL or unknown list");
    const char *const *names = LIST_NAME[which];
    *bits = 0;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < 2; i++)
            if (strlen(names[i]) == len && !strncmp(p, names[i], len)) *bits |= 1 << i, found = 1;
        if (!found)
            return LIRF_FAIL(LIRF_E_INVALID, "%s: unknown item in \"%s\" (the items: %s,%s)",
                             LIST_FLAG[which], text, names[0], names[1]);
        p += len;
        if (*p == ',') p++;
    }
    if (!*bits) return LIRF_FAIL(LIRF_E_INVALID, "%s: empty list", LIST_FLAG[which]);
    return LIRF_OK;
}

static json_t *options_json(const lirf_verify_opts *o) {
    const lirf_distill_opts *d = &o->distill;
    json_t *j = json_object();
    json_object_set_new(j, "seeds", json_integer(o->seeds));
    json_object_set_new(j, "epochs", json_integer(o->epochs));
    json_object_set_new(j, "train_subset", json_integer(o->train_subset));
    json_object_set_new(j, "test_subset", json_integer(o->test_subset));
    json_object_set_new(j, "batch", json_integer(o->batch));
    json_object_set_new(j, "students", json_pack("{s:b,s:b}", "cnn", o->students & 1, "resnet18", (o->students & 2) != 0));
    json_object_set_new(j, "student_width", json_integer(o->student_width));
    json_object_set_new(j, "methods", json_pack("{s:b,s:b}", "logit", o->methods & 1, "at", (o->methods & 2) != 0));
    json_object_set_new(j, "labels", json_pack("{s:b,s:b}", "true", o->labels & 1, "none", (o->labels & 2) != 0));
    json_object_set_new(j, "distill", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:b}", "alpha",
                        lirf_tidy(d->alpha), "T", lirf_tidy(d->T), "beta", lirf_tidy(d->beta), "lr",
                        lirf_tidy(d->lr), "momentum", lirf_tidy(d->momentum), "weight_decay",
                        lirf_tidy(d->wd), "warmup_epochs", lirf_tidy(d->warmup), "first_seed",
                        (int)d->seed, "augmentation", 0));
    json_object_set_new(j, "probes", json_pack("{s:b,s:b,s:b,s:b,s:b}", "mia", o->mia, "linear_probe",
                        o->probe, "withdraw", o->withdraw_check, "deposit_module_alone",
                        o->deposit_alone, "relearn", o->relearn));
    json_object_set_new(j, "mia", json_pack("{s:i,s:i}", "member_limit", o->member_limit,
                        "max_samples", o->mia_samples));
    json_object_set_new(j, "linear_probe", json_pack("{s:i,s:i,s:i,s:f,s:f}", "train_images",
                        o->probe_train, "epochs", o->probe_opts.epochs, "batch", o->probe_opts.batch,
                        "lr", lirf_tidy(o->probe_opts.lr), "momentum", lirf_tidy(o->probe_opts.momentum)));
    json_object_set_new(j, "relearn", json_pack("{s:i,s:i,s:i,s:f,s:f}", "samples", o->relearn_samples,
                        "max_steps", o->relearn_max_steps, "eval_every", o->relearn_eval_every,
                        "fraction", lirf_tidy(o->relearn_fraction), "lr", lirf_tidy(o->relearn_lr)));
    json_object_set_new(j, "margins", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "relearn_ratio",
                        lirf_tidy(o->margin_relearn), "distill",
                        lirf_tidy(o->margin_distill), "none", lirf_tidy(o->margin_none), "mia",
                        lirf_tidy(o->margin_mia), "probe", lirf_tidy(o->margin_probe), "withdraw",
                        lirf_tidy(o->margin_withdraw)));
    json_object_set_new(j, "datafree_images", json_integer(o->datafree_images));
    json_object_set_new(j, "preset", json_string(o->preset ? o->preset : "lirf"));
    json_object_set_new(j, "negative_control", json_pack("{s:s,s:i,s:i}", "source", o->independent ? "given (--independent)"
                        : o->train_control ? "trained by the audit" : "none (--no-control)",
                        "epochs", o->control_epochs, "limit", o->control_limit));
    return j;
}

/* evenly spaced pick of at most cap of v (in place) */
size_t va_thin(int32_t *v, size_t n, size_t cap) {
    if (!cap || n <= cap) return n;
    for (size_t i = 0; i < cap; i++) v[i] = v[(size_t)((double)i * (double)n / (double)cap)];
    return cap;
}

const char *va_role_name(int r) { return r < R_COUNT ? ROLE[r] : "fresh"; }
const char *va_role_label(int r) { return r < R_COUNT ? ROLE_LABEL[r] : "Fresh (untrained)"; }
/* r < R_COUNT: that role's net; R_COUNT: a fresh net shaped as the target */
const lirf_model_meta *va_meta_of(const audit_t *a, int r) {
    return r < R_COUNT ? &a->M[r].meta : &a->M[R_TARGET].meta;
}
/* ---- 1. inputs ---- */
static lirf_status begin_report(audit_t *a) {
    const lirf_device_info *di = lirf_ctx_device(a->ctx);
    char when[64];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    json_object_set_new(a->R, "lirf_version", json_string(LIRF_VERSION));
    json_object_set_new(a->R, "started_utc", json_string(when));
    if (a->o->command) json_object_set_new(a->R, "command", lirf_json_text(a->o->command));
    json_object_set_new(a->R, "device", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "name", di->name,
                                                  "platform", di->platform_name, "driver", di->driver,
                                                  "version", di->version, "opencl_c", di->c_version,
                                                  "compute_units", (int)di->compute_units));
    return LIRF_OK;
}

/* Role r's net from path; every net but the target must match the target's
 * classes and input. */
lirf_status va_open_role(audit_t *a, int r, const char *path, const char *flag) {
    model_t *M = a->M;
    LIRF_TRY(open_model(a->ctx, path, flag, &M[r]));
    const lirf_net_config *x = &M[R_TARGET].meta.cfg, *y = &M[r].meta.cfg;
    if (r != R_TARGET && M[R_TARGET].net &&
        (x->classes != y->classes || x->in_c != y->in_c || x->in_h != y->in_h || x->in_w != y->in_w))
        return LIRF_FAIL(LIRF_E_SHAPE, "%s %s (%d classes, input %dx%dx%d) does not match the "
                         "target (%d classes, input %dx%dx%d)", flag, path, y->classes,
                         y->in_c, y->in_h, y->in_w, x->classes, x->in_c, x->in_h, x->in_w);
    json_t *in = a->inputs ? a->inputs : json_object_get(a->R, "inputs");
    json_object_set_new(in, ROLE[r],
                        json_pack("{s:o,s:s,s:s,s:s,s:i,s:s}", "path", lirf_json_text(path), "sha256",
                                  M[r].sha, "kind", M[r].kind, "arch",
                                  lirf_arch_name(M[r].meta.cfg.arch), "width",
                                  M[r].meta.cfg.width, "split", M[r].meta.split));
    return LIRF_OK;
}

/* The nets (the target first) and the archive's hash. */
static lirf_status open_models(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    const char *paths[R_COUNT] = {o->original, o->target, o->target_no_at, o->independent};
    const char *flags[R_COUNT] = {"--original", "--target", "--target-no-at", "--independent"};
    static const int order[R_COUNT] = {R_TARGET, R_ORIGINAL, R_TARGET_NO_AT, R_INDEPENDENT};
    for (int oi = 0; oi < R_COUNT; oi++)
        if (paths[order[oi]]) LIRF_TRY(va_open_role(a, order[oi], paths[order[oi]], flags[order[oi]]));
    a->tc = &a->M[R_TARGET].meta.cfg;
    a->K = a->tc->classes;
    if (o->archive) {
        char hex[65];
        LIRF_TRY(lirf_file_sha256(o->archive, hex));
        json_object_set_new(a->inputs, "archive", json_pack("{s:o,s:s}", "path", lirf_json_text(o->archive), "sha256", hex));
    }
    return LIRF_OK;
}

/* The deposit classes: given, else the target's deposit_classes metadata. */
static lirf_status choose_deposit_classes(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    int K = a->K;
    if (o->dep) {
        a->ndep = o->ndep;
        memcpy(a->dep, o->dep, (size_t)a->ndep * sizeof *a->dep);
    } else if (a->M[R_TARGET].dep[0]) {
        const char *p = a->M[R_TARGET].dep;
        while (*p && a->ndep < LIRF_MAX_CLASSES) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            a->dep[a->ndep++] = (int32_t)v;
            p = *end == ',' ? end + 1 : end;
        }
    } else {
        return LIRF_FAIL(LIRF_E_INVALID, "%s has no deposit_classes in its metadata (not a target net "
                         "from lirf deposit?): give --deposit-classes", o->target);
    }
    for (int j = 0; j < a->ndep; j++)
        if (a->dep[j] < 0 || a->dep[j] >= K)
            return LIRF_FAIL(LIRF_E_INVALID, "deposit class %d outside the target's %d classes", a->dep[j], K);
    if (a->ndep < 1 || a->ndep >= K)
        return LIRF_FAIL(LIRF_E_INVALID, "%d deposit classes of %d: need 1 .. %d", a->ndep, K, K - 1);
    a->S = (split_t){a->dep, a->ndep, K};
    json_t *dj = json_array();
    for (int j = 0; j < a->ndep; j++) json_array_append_new(dj, json_integer(a->dep[j]));
    json_object_set_new(a->R, "deposit_classes", dj);
    const model_t *M = a->M;
    a->smean = M[R_ORIGINAL].net ? M[R_ORIGINAL].meta.mean : M[R_TARGET].meta.mean;
    a->sstd = M[R_ORIGINAL].net ? M[R_ORIGINAL].meta.std : M[R_TARGET].meta.std;
    return LIRF_OK;
}

/* ---- 2. data ---- */
static lirf_status load_data(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    const lirf_net_config *tc = a->tc;
    lirf_dataset *tr = &a->tr, *te = &a->te;
    a->t_data = lirf_now();
    lirf_data_opts dopt = {.path = o->data, .kind = o->kind, .train = 1,
                           .image_size = o->image_size ? o->image_size : tc->in_h};
    LIRF_TRY(lirf_dataset_load(&dopt, tr));
    dopt.train = 0;
    LIRF_TRY(lirf_dataset_load(&dopt, te));
    if (tr->c != tc->in_c || tr->h != tc->in_h || tr->w != tc->in_w || tr->num_classes != a->K ||
        te->c != tr->c || te->h != tr->h || te->w != tr->w)
        return LIRF_FAIL(LIRF_E_SHAPE, "the data (%dx%dx%d, %d classes) does not fit the target "
                         "(%dx%dx%d, %d classes)", tr->c, tr->h, tr->w, tr->num_classes, tc->in_c,
                         tc->in_h, tc->in_w, a->K);
    LIRF_TRY(lirf_data_names_fit(tr, a->M[R_TARGET].meta.class_names, a->K, "the target"));
    json_t *files = json_object();
    lirf_status st = hash_source(tr->source, files);
    if (st == LIRF_OK && strcmp(te->source, tr->source)) st = hash_source(te->source, files);
    if (st != LIRF_OK) {
        json_decref(files);
        return st;
    }
    json_object_set_new(a->inputs, "data", json_pack("{s:o,s:i,s:i,s:o}", "source", lirf_json_text(tr->source),
                                                     "train_images", tr->n, "test_images", te->n,
                                                     "files_sha256", files));
    json_object_set_new(a->R, "inputs", a->inputs);
    a->inputs = NULL;
    json_object_set_new(a->R, "options", options_json(o));
    return LIRF_OK;
}

/* A fixed shuffle (splitmix64 from 0x5eedf00d, Fisher-Yates): the training
 * subset is the same for every seed and every run. */
static void fixed_shuffle(int32_t *v, size_t n) {
    uint64_t z = 0x5eedf00dull;
    for (size_t i = n; i > 1; i--) {
        uint64_t q = lirf_rng_next(&z);
        size_t j = (size_t)(q % i);
        int32_t t = v[i - 1];
        v[i - 1] = v[j], v[j] = t;
    }
}

/* The training subset (the first nsub of a fixed shuffle) and the test subset
 * (evenly spaced), and the students' test loader. */
static lirf_status choose_subsets(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    const lirf_dataset *tr = &a->tr, *te = &a->te;
    a->nsub = (size_t)o->train_subset < (size_t)tr->n ? (size_t)o->train_subset : (size_t)tr->n;
    a->member_limit = o->member_limit > 0 && o->member_limit < tr->n ? (size_t)o->member_limit : (size_t)tr->n;
    a->sub = malloc((size_t)tr->n * sizeof *a->sub);
    size_t nte = o->test_subset > 0 && o->test_subset < te->n ? (size_t)o->test_subset : (size_t)te->n;
    a->tidx = malloc((size_t)te->n * sizeof *a->tidx);
    if (!a->sub || !a->tidx) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int i = 0; i < tr->n; i++) a->sub[i] = i;
    fixed_shuffle(a->sub, (size_t)tr->n);
    for (int i = 0; i < te->n; i++) a->tidx[i] = i;
    a->nte = va_thin(a->tidx, (size_t)te->n, nte);
    LIRF_TRY(va_make_loader(a->ctx, te, a->tidx, a->nte, 256, a->smean, a->sstd, &a->lte));
    json_object_set_new(a->timing, "load_data", json_real(lirf_now() - a->t_data));
    va_note(o, "data %s loaded", tr->source, a->t_start);
    return LIRF_OK;
}

/* ---- 3. the nets themselves ---- */
static lirf_status evaluate_nets(audit_t *a) {
    double t0 = lirf_now();
    model_t *M = a->M;
    json_t *nets = json_array();
    json_object_set_new(a->R, "nets", nets);
    for (int r = 0; r < R_COUNT; r++) {
        if (!M[r].net) continue;
        lirf_loader *ld = NULL;
        LIRF_TRY(va_make_loader(a->ctx, &a->te, a->tidx, a->nte, 256, M[r].meta.mean, M[r].meta.std, &ld));
        lirf_status st = va_eval_fn(a->ctx, ld, &a->S, lirf_net_logits, M[r].net, &M[r].pre,
                                 &M[r].dep_acc, &M[r].avg);
        lirf_loader_destroy(ld);
        if (st != LIRF_OK) return st;
        json_array_append_new(nets, json_pack("{s:s,s:s,s:o,s:o,s:o}", "role", ROLE[r], "label",
                                              ROLE_LABEL[r], "pre_acc", va_jnum(M[r].pre), "dep_acc",
                                              va_jnum(M[r].dep_acc), "avg_acc", va_jnum(M[r].avg)));
        va_note(a->o, "evaluated the %s net", ROLE[r], a->t_start);
    }
    json_object_set_new(a->timing, "evaluate_nets", json_real(lirf_now() - t0));
    return LIRF_OK;
}

/* ---- 4. probe (e): withdraw, and (d): the deposit path alone ---- */
static lirf_status deposit_alone(audit_t *a, lirf_loader *ld) {
    path_t p = {0};
    int whole = 0;
    lirf_status st = open_deposit_path(a->ctx, a->recover_path, &p, &whole);
    if (st == LIRF_OK && whole) {
        json_object_set_new(a->R, "deposit_module_alone",
                            json_pack("{s:s}", "skipped", "the archive (delta or exact mode) holds "
                                      "no deposit module: its recover net is a whole network"));
        return LIRF_OK;
    }
    double x, y, z;
    if (st == LIRF_OK) st = va_eval_fn(a->ctx, ld, &a->S, path_logits, &p, &x, &y, &z);
    lirf_net_destroy(p.lower), lirf_net_destroy(p.upper);
    if (st == LIRF_OK)
        json_object_set_new(a->R, "deposit_module_alone",
                            json_pack("{s:o,s:o,s:o}", "pre_acc", va_jnum(x), "dep_acc", va_jnum(y),
                                      "avg_acc", va_jnum(z)));
    return st;
}

/* The recover net of --archive on the test subset (*w: its report), and its
 * deposit path alone. */
static lirf_status eval_recover(audit_t *a, double *dp, json_t **w) {
    lirf_model *rm = NULL;
    LIRF_TRY(lirf_model_open(a->ctx, a->recover_path, &rm));
    double pre = NAN, avg = NAN;
    lirf_loader *ld = NULL;
    const lirf_model_meta *mm = lirf_model_meta_of(rm);
    lirf_status st = va_make_loader(a->ctx, &a->te, a->tidx, a->nte, 256, mm->mean, mm->std, &ld);
    if (st == LIRF_OK) st = va_eval_fn(a->ctx, ld, &a->S, lirf_model_logits, rm, &pre, dp, &avg);
    lirf_model_close(rm);
    *w = json_pack("{s:o,s:o,s:o,s:o}", "recover", lirf_json_text(a->recover_path), "pre_acc", va_jnum(pre),
                   "dep_acc", va_jnum(*dp), "avg_acc", va_jnum(avg));
    if (st == LIRF_OK && a->o->deposit_alone) st = deposit_alone(a, ld);
    lirf_loader_destroy(ld);
    return st;
}

static lirf_status withdraw_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    if (!o->archive || !(o->withdraw_check || o->deposit_alone)) return LIRF_OK;
    double t0 = lirf_now();
    snprintf(a->recover_path, sizeof a->recover_path, "%s/recover.safetensors", o->out_dir ? o->out_dir : ".");
    json_t *wr = NULL;
    LIRF_TRY(lirf_withdraw(a->ctx, o->target, o->archive, a->recover_path, &wr));
    json_decref(wr);
    double dp = NAN;
    json_t *w = NULL;
    lirf_status st = eval_recover(a, &dp, &w);
    if (st != LIRF_OK) {
        json_decref(w);
        return st;
    }
    json_object_set_new(a->R, "withdraw", w);
    const model_t *orig = &a->M[R_ORIGINAL];
    if (o->withdraw_check) {
        double gap = orig->net ? orig->dep_acc - dp : NAN;
        va_add_plain_check(a, "withdraw", orig->net ? "Dep Acc of the original minus that of the "
                           "recover net from --archive (points)" : "needs --original", gap,
                           orig->net ? orig->dep_acc : NAN, orig->net ? "the original's Dep Acc" : "",
                           o->margin_withdraw, !orig->net ? "skipped" : gap > o->margin_withdraw ? "fail" : "pass");
    }
    json_object_set_new(a->timing, "withdraw", json_real(lirf_now() - t0));
    va_note(o, "withdraw check done: recover net %s", a->recover_path, a->t_start);
    return LIRF_OK;
}

/* ---- 6. probe (a): a linear probe at the split point ---- */
/* One net's probe (r == R_COUNT: a fresh, untrained net): its Dep Acc in *dep. */
static lirf_status probe_one(audit_t *a, int r, int split, size_t npt, json_t *rows, double *dep) {
    const lirf_model_meta *mm = va_meta_of(a, r);
    lirf_net_config c = mm->cfg;
    c.first = 0, c.last = split;
    lirf_net *lower = NULL;
    lirf_loader *x = NULL, *y = NULL;
    int64_t counts[2 * LIRF_MAX_CLASSES];
    lirf_status st = lirf_net_create(a->ctx, &c, &lower);
    if (st == LIRF_OK) st = lirf_net_init(lower, 1);
    if (st == LIRF_OK && r < R_COUNT) st = lirf_net_copy(lower, a->M[r].net, NULL);
    if (st == LIRF_OK) st = va_make_loader(a->ctx, &a->tr, a->sub, npt, 256, mm->mean, mm->std, &x);
    if (st == LIRF_OK) st = va_make_loader(a->ctx, &a->te, a->tidx, a->nte, 256, mm->mean, mm->std, &y);
    lirf_probe_opts po = a->o->probe_opts; /* a small set: one batch of all of it */
    if ((size_t)po.batch > npt) po.batch = (int)npt;
    if (st == LIRF_OK) st = lirf_linear_probe(a->ctx, lower, x, y, a->K, &po, counts);
    lirf_loader_destroy(x), lirf_loader_destroy(y);
    lirf_net_destroy(lower);
    if (st != LIRF_OK) return st;
    double pre, dp, avg;
    va_summarise(&a->S, counts, &pre, &dp, &avg);
    *dep = dp;
    json_array_append_new(rows, json_pack("{s:s,s:s,s:o,s:o,s:o}", "role", va_role_name(r), "label",
                                          va_role_label(r), "pre_acc", va_jnum(pre), "dep_acc", va_jnum(dp),
                                          "avg_acc", va_jnum(avg)));
    va_note(a->o, "linear probe on the %s net done", va_role_name(r), a->t_start);
    return LIRF_OK;
}

/* One probe point: the target, the original (positive control) and the
 * negative control (the Independent net where it shares the target's
 * architecture, else a fresh, untrained net of the target's) -> a check. */
static lirf_status probe_point(audit_t *a, int stage, const char *kind, size_t npt, json_t *points) {
    const model_t *M = a->M;
    const lirf_net_config *tc = a->tc;
    int ind = M[R_INDEPENDENT].net && M[R_INDEPENDENT].meta.cfg.arch == tc->arch;
    int roles[3] = {R_TARGET, R_ORIGINAL, ind ? R_INDEPENDENT : R_COUNT};
    double dep[3] = {NAN, NAN, NAN};
    json_t *rows = json_array();
    json_array_append_new(points, json_pack("{s:s,s:s,s:o}", "point", kind, "stage",
                                            lirf_stage_name(tc->arch, stage), "nets", rows));
    for (int i = 0; i < 3; i++)
        if (roles[i] == R_COUNT || (M[roles[i]].net && M[roles[i]].meta.cfg.arch == tc->arch))
            LIRF_TRY(probe_one(a, roles[i], stage, npt, rows, &dep[i]));
    char name[64], what[200];
    snprintf(name, sizeof name, "linear_probe/%s", kind);
    snprintf(what, sizeof what, "Dep Acc of a linear probe on the target's %s features minus the "
             "negative control's (points)", lirf_stage_name(tc->arch, stage));
    va_check c = {.name = name, .what = what, .value = dep[0] - dep[2], .control = dep[2],
                  .control_is = ind ? "probe on the negative control" : "probe on a fresh, untrained net",
                  .positive = dep[1] - dep[2], .margin = a->o->margin_probe,
                  .no_power_why = !isfinite(dep[1]) ? "needs --original of the target's architecture" : NULL};
    va_add_check(a, &c);
    return LIRF_OK;
}

/* Residual-network targets only (every ResNet descriptor; not the CNN): a
 * probe at the split point and one at the last feature stage (the
 * penultimate layer's input). */
static lirf_status probe_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    const lirf_net_config *tc = a->tc;
    if (!o->probe || tc->arch == LIRF_ARCH_CNN) return LIRF_OK;
    double t0 = lirf_now();
    int split = lirf_stage_parse(tc->arch, a->M[R_TARGET].meta.split);
    if (split < 0) split = 2; /* LIRF's default split, layer2 */
    int last = lirf_arch_stages(tc->arch) - 2; /* the stage before the head */
    size_t npt = (size_t)o->probe_train < a->nsub ? (size_t)o->probe_train : a->nsub;
    json_t *points = json_array();
    json_object_set_new(a->R, "linear_probe",
                        json_pack("{s:i,s:i,s:f,s:o}", "train_images", (int)npt, "epochs",
                                  o->probe_opts.epochs, "lr", lirf_tidy(o->probe_opts.lr), "points", points));
    LIRF_TRY(probe_point(a, split, "split", npt, points));
    if (last != split) LIRF_TRY(probe_point(a, last, "penultimate", npt, points));
    json_object_set_new(a->timing, "linear_probe", json_real(lirf_now() - t0));
    return LIRF_OK;
}

static void audit_free(audit_t *a) {
    for (int r = 0; r < R_COUNT; r++) close_model(&a->M[r]), lirf_teacher_out_free(&a->T[r]);
    lirf_loader_destroy(a->lte);
    lirf_dataset_free(&a->tr), lirf_dataset_free(&a->te);
    free(a->sub), free(a->tidx), free(a->runs);
    json_decref(a->inputs), json_decref(a->checks), json_decref(a->timing);
}

lirf_status lirf_verify_run(lirf_ctx *ctx, const lirf_verify_opts *o, json_t **report) {
    if (!ctx || !o || !report) return LIRF_FAIL(LIRF_E_NULL, "verify: NULL argument");
    if (!o->target) return LIRF_FAIL(LIRF_E_INVALID, "verify: no target net given (--target)");
    if (o->seeds < 1 || o->epochs < 1 || o->train_subset < 2 || o->batch < 2)
        return LIRF_FAIL(LIRF_E_INVALID, "verify: seeds %d, epochs %d, train subset %d, batch %d",
                         o->seeds, o->epochs, o->train_subset, o->batch);
    *report = NULL;
    /* the stages, in this order: the report's keys and the random streams follow it */
    static lirf_status (*const stage[])(audit_t *) = {
        begin_report, open_models, choose_deposit_classes, load_data, choose_subsets,
        va_control_stage, evaluate_nets, withdraw_stage, va_mia_stage, probe_stage, va_relearn_stage, va_teacher_stage,
        va_distill_stage, va_table3_stage, va_distill_checks, va_datafree_stage, va_verdict};
    audit_t a;
    memset(&a, 0, sizeof a);
    a.ctx = ctx, a.o = o, a.t_start = lirf_now();
    a.R = json_object();
    a.inputs = json_object(), a.checks = json_array(), a.timing = json_object();
    lirf_status st = LIRF_OK;
    for (size_t i = 0; i < sizeof stage / sizeof *stage && st == LIRF_OK; i++) st = stage[i](&a);
    audit_free(&a);
    if (st != LIRF_OK) {
        json_decref(a.R);
        return st;
    }
    *report = a.R;
    return LIRF_OK;
}
