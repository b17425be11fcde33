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

#include "verify.h"

#define STEP(call)                               \
    do {                                         \
        if ((st = (call)) != LIRF_OK) goto out;  \
    } while (0)

void lirf_verify_opts_default(lirf_verify_opts *o) {
    memset(o, 0, sizeof *o);
    o->kind = LIRF_DATA_AUTO;
    o->seeds = 1, o->epochs = 2, o->train_subset = 20000, o->test_subset = 0, o->batch = 128;
    o->students = 3, o->student_width = 8, o->methods = 3, o->labels = 3;
    lirf_distill_opts_default(&o->distill);
    o->mia = o->probe = o->withdraw_check = o->deposit_alone = 1;
    o->relearn = 1;
    o->member_limit = 0, o->mia_samples = 3000;
    o->probe_opts = (lirf_probe_opts){.epochs = 10, .batch = 128, .lr = 0.05f, .momentum = 0.9f,
                                      .wd = 0, .seed = 1};
    o->probe_train = 5000;
    o->relearn_samples = 300, o->relearn_max_steps = 300, o->relearn_eval_every = 5;
    o->relearn_fraction = 0.9f, o->relearn_lr = 0.01f;
    o->margin_distill = 5, o->margin_none = 15, o->margin_mia = 0.05f, o->margin_probe = 10;
    o->margin_withdraw = 5, o->margin_relearn = 0.5f;
    o->power_min = 80;
}

/* ---- hashing ---- */
lirf_status lirf_file_sha256(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return LIRF_FAIL(LIRF_E_IO, "cannot read %s to hash it", path);
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&s, buf, n);
    int err = ferror(f);
    fclose(f);
    if (err) return LIRF_FAIL(LIRF_E_IO, "error reading %s", path);
    unsigned char h[32];
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return LIRF_OK;
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
    if (!S_ISDIR(sb.st_mode)) {
        LIRF_TRY(lirf_file_sha256(src, hex));
        json_object_set_new(files, src, json_string(hex));
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
            if (st == LIRF_OK) json_object_set_new(files, names[i], json_string(hex));
        }
        free(names[i]);
    }
    return st;
}

/* ---- models ---- */
enum { R_ORIGINAL = 0, R_TARGET, R_TARGET_NO_AT, R_INDEPENDENT, R_COUNT };
static const char *const ROLE[R_COUNT] = {"original", "target", "target_no_at", "independent"};
static const char *const ROLE_LABEL[R_COUNT] = {"Original", "Target", "Target w/o L_at",
                                                "Independent"};

typedef struct {
    const char *path;
    lirf_model_meta meta;
    lirf_net *net;
    char kind[32], sha[65], dep[512];
    double pre, dep_acc, avg;
} model_t;

static lirf_status open_model(lirf_ctx *ctx, const char *path, const char *flag, model_t *m) {
    lirf_safetensors st = {0};
    m->path = path;
    lirf_status s = lirf_checkpoint_open(path, &st, &m->meta);
    if (s != LIRF_OK)
        return LIRF_FAIL(s, "%s %s: not a readable lirf checkpoint: %s", flag, path,
                         lirf_error_message());
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
typedef struct {
    const int32_t *dep;
    int ndep, K;
} split_t;

static int is_dep(const split_t *s, int k) {
    for (int j = 0; j < s->ndep; j++)
        if (s->dep[j] == k) return 1;
    return 0;
}

static void summarise(const split_t *s, const int64_t *counts, double *pre, double *dep,
                      double *avg) {
    int64_t ca = 0, na = 0, cd = 0, nd = 0;
    for (int k = 0; k < s->K; k++) {
        ca += counts[2 * k], na += counts[2 * k + 1];
        if (is_dep(s, k)) cd += counts[2 * k], nd += counts[2 * k + 1];
    }
    *avg = na ? 100.0 * (double)ca / (double)na : NAN;
    *dep = nd ? 100.0 * (double)cd / (double)nd : NAN;
    *pre = na - nd ? 100.0 * (double)(ca - cd) / (double)(na - nd) : NAN;
}

static lirf_status make_loader(lirf_ctx *ctx, const lirf_dataset *d, const int32_t *index,
                               size_t count, int batch, const float *mean, const float *std,
                               lirf_loader **out) {
    lirf_loader_opts lo = {.data = d, .index = index, .count = count, .batch = batch};
    memcpy(lo.mean, mean, sizeof lo.mean);
    memcpy(lo.std, std, sizeof lo.std);
    return lirf_loader_create(ctx, &lo, out);
}

static lirf_status eval_fn(lirf_ctx *ctx, lirf_loader *ld, const split_t *s, lirf_logits_fn fn,
                           void *user, double *pre, double *dep, double *avg) {
    int64_t counts[2 * LIRF_MAX_CLASSES];
    LIRF_TRY(lirf_eval_counts(ctx, ld, s->K, fn, user, counts));
    summarise(s, counts, pre, dep, avg);
    return LIRF_OK;
}

static json_t *jnum(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void note(const lirf_verify_opts *o, const char *fmt, const char *a, double t0) {
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

static lirf_status open_deposit_path(lirf_ctx *ctx, const char *recover, path_t *p) {
    lirf_safetensors st = {0};
    lirf_model_meta m = {0};
    LIRF_TRY(lirf_checkpoint_open(recover, &st, &m));
    lirf_model_meta dm = m;
    const char *mid = lirf_st_meta(&st, "deposit_mid");
    int split = lirf_stage_parse(m.cfg.arch, m.split), last = lirf_arch_stages(m.cfg.arch) - 1;
    lirf_status s = LIRF_OK;
    if (!mid || lirf_mid_parse(&dm.cfg, mid) != LIRF_OK || split < 0)
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a recover net", recover);
    if (s == LIRF_OK) s = lirf_checkpoint_make_net(ctx, &st, recover, &dm, "deposit.", 0, split, &p->lower);
    if (s == LIRF_OK) s = lirf_checkpoint_make_net(ctx, &st, recover, &m, "", split + 1, last, &p->upper);
    lirf_st_free(&st);
    lirf_model_meta_free(&m);
    return s;
}

/* ---- runs and checks ---- */
typedef struct {
    int student, method, labels, teacher, seed;
    double pre, dep, avg;
} run_t;

static const run_t *find_run(const run_t *r, int n, int student, int method, int labels,
                             int teacher, int seed) {
    for (int i = 0; i < n; i++)
        if (r[i].student == student && r[i].method == method && r[i].labels == labels &&
            r[i].teacher == teacher && r[i].seed == seed)
            return &r[i];
    return NULL;
}

static const char *student_name(int s) { return s == 0 ? "cnn" : "resnet18"; }

static void add_check(json_t *checks, const char *name, const char *what, double value,
                      double half, double control, const char *control_what, double margin,
                      const char *verdict, json_t *per_seed) {
    json_t *c = json_object();
    json_object_set_new(c, "name", json_string(name));
    json_object_set_new(c, "what", json_string(what));
    json_object_set_new(c, "value", jnum(value));
    json_object_set_new(c, "ci95", jnum(half));
    json_object_set_new(c, "control", jnum(control));
    json_object_set_new(c, "control_is", json_string(control_what));
    json_object_set_new(c, "margin", jnum(margin));
    json_object_set_new(c, "verdict", json_string(verdict));
    if (per_seed) json_object_set_new(c, "per_seed", per_seed);
    json_array_append_new(checks, c);
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
                        lirf_tidy(o->margin_distill), "none", lirf_tidy(o->margin_none), "power_min", lirf_tidy(o->power_min), "mia",
                        lirf_tidy(o->margin_mia), "probe", lirf_tidy(o->margin_probe), "withdraw",
                        lirf_tidy(o->margin_withdraw)));
    return j;
}

/* evenly spaced pick of at most cap of v (in place) */
static size_t thin(int32_t *v, size_t n, size_t cap) {
    if (!cap || n <= cap) return n;
    for (size_t i = 0; i < cap; i++) v[i] = v[(size_t)((double)i * (double)n / (double)cap)];
    return cap;
}

lirf_status lirf_verify_run(lirf_ctx *ctx, const lirf_verify_opts *o, json_t **report) {
    if (!ctx || !o || !report) return LIRF_FAIL(LIRF_E_NULL, "verify: NULL argument");
    if (!o->target) return LIRF_FAIL(LIRF_E_INVALID, "verify: no target net given (--target)");
    if (o->seeds < 1 || o->epochs < 1 || o->train_subset < 2 || o->batch < 2)
        return LIRF_FAIL(LIRF_E_INVALID, "verify: seeds %d, epochs %d, train subset %d, batch %d",
                         o->seeds, o->epochs, o->train_subset, o->batch);
    *report = NULL;
    double t_start = lirf_now();
    lirf_status st = LIRF_OK;
    model_t M[R_COUNT];
    memset(M, 0, sizeof M);
    lirf_dataset tr = {0}, te = {0};
    int32_t *sub = NULL, *tidx = NULL, *mem = NULL, *non = NULL;
    lirf_loader *lte = NULL;
    lirf_teacher_out T[R_COUNT];
    memset(T, 0, sizeof T);
    run_t *runs = NULL;
    int nruns = 0;
    json_t *R = json_object();
    json_t *inputs = json_object(), *checks = json_array(), *timing = json_object();
    char recover_path[1200] = "";
    int32_t dep[LIRF_MAX_CLASSES];
    int ndep = 0;

    {
        const lirf_device_info *di = lirf_ctx_device(ctx);
        char when[64];
        time_t now = time(NULL);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
        json_object_set_new(R, "lirf_version", json_string(LIRF_VERSION));
        json_object_set_new(R, "started_utc", json_string(when));
        if (o->command) json_object_set_new(R, "command", json_string(o->command));
        json_object_set_new(R, "device", json_pack("{s:s,s:s,s:s,s:s,s:s,s:i}", "name", di->name,
                                                  "platform", di->platform_name, "driver", di->driver,
                                                  "version", di->version, "opencl_c", di->c_version,
                                                  "compute_units", (int)di->compute_units));
    }
    /* 1. models */
    const char *paths[R_COUNT] = {o->original, o->target, o->target_no_at, o->independent};
    const char *flags[R_COUNT] = {"--original", "--target", "--target-no-at", "--independent"};
    static const int order[R_COUNT] = {R_TARGET, R_ORIGINAL, R_TARGET_NO_AT, R_INDEPENDENT};
    for (int oi = 0; oi < R_COUNT; oi++) {
        int r = order[oi];
        if (!paths[r]) continue;
        STEP(open_model(ctx, paths[r], flags[r], &M[r]));
        const lirf_net_config *a = &M[R_TARGET].meta.cfg, *b = &M[r].meta.cfg;
        if (r != R_TARGET && M[R_TARGET].net &&
            (a->classes != b->classes || a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w)) {
            st = LIRF_FAIL(LIRF_E_SHAPE, "%s %s (%d classes, input %dx%dx%d) does not match the "
                           "target (%d classes, input %dx%dx%d)", flags[r], paths[r], b->classes,
                           b->in_c, b->in_h, b->in_w, a->classes, a->in_c, a->in_h, a->in_w);
            goto out;
        }
        json_object_set_new(inputs, ROLE[r],
                            json_pack("{s:s,s:s,s:s,s:s,s:i,s:s}", "path", paths[r], "sha256",
                                      M[r].sha, "kind", M[r].kind, "arch",
                                      lirf_arch_name(M[r].meta.cfg.arch), "width",
                                      M[r].meta.cfg.width, "split", M[r].meta.split));
    }
    const lirf_net_config *tc = &M[R_TARGET].meta.cfg;
    int K = tc->classes;
    if (o->archive) {
        char hex[65];
        STEP(lirf_file_sha256(o->archive, hex));
        json_object_set_new(inputs, "archive", json_pack("{s:s,s:s}", "path", o->archive, "sha256", hex));
    }
    /* deposit classes */
    if (o->dep) {
        ndep = o->ndep;
        memcpy(dep, o->dep, (size_t)ndep * sizeof *dep);
    } else if (M[R_TARGET].dep[0]) {
        const char *p = M[R_TARGET].dep;
        while (*p && ndep < LIRF_MAX_CLASSES) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p) break;
            dep[ndep++] = (int32_t)v;
            p = *end == ',' ? end + 1 : end;
        }
    } else {
        st = LIRF_FAIL(LIRF_E_INVALID, "%s has no deposit_classes in its metadata (not a target net "
                       "from lirf deposit?): give --deposit-classes", o->target);
        goto out;
    }
    for (int j = 0; j < ndep; j++)
        if (dep[j] < 0 || dep[j] >= K) {
            st = LIRF_FAIL(LIRF_E_INVALID, "deposit class %d outside the target's %d classes", dep[j], K);
            goto out;
        }
    if (ndep < 1 || ndep >= K) {
        st = LIRF_FAIL(LIRF_E_INVALID, "%d deposit classes of %d: need 1 .. %d", ndep, K, K - 1);
        goto out;
    }
    split_t S = {dep, ndep, K};
    json_t *dj = json_array();
    for (int j = 0; j < ndep; j++) json_array_append_new(dj, json_integer(dep[j]));
    json_object_set_new(R, "deposit_classes", dj);
    const float *smean = M[R_ORIGINAL].net ? M[R_ORIGINAL].meta.mean : M[R_TARGET].meta.mean;
    const float *sstd = M[R_ORIGINAL].net ? M[R_ORIGINAL].meta.std : M[R_TARGET].meta.std;

    /* 2. data */
    double t0 = lirf_now();
    lirf_data_opts dopt = {.path = o->data, .kind = o->kind, .train = 1,
                           .image_size = o->image_size ? o->image_size : tc->in_h};
    STEP(lirf_dataset_load(&dopt, &tr));
    dopt.train = 0;
    STEP(lirf_dataset_load(&dopt, &te));
    if (tr.c != tc->in_c || tr.h != tc->in_h || tr.w != tc->in_w || tr.num_classes != K ||
        te.c != tr.c || te.h != tr.h || te.w != tr.w) {
        st = LIRF_FAIL(LIRF_E_SHAPE, "the data (%dx%dx%d, %d classes) does not fit the target "
                       "(%dx%dx%d, %d classes)", tr.c, tr.h, tr.w, tr.num_classes, tc->in_c,
                       tc->in_h, tc->in_w, K);
        goto out;
    }
    json_t *files = json_object();
    STEP(hash_source(tr.source, files));
    if (strcmp(te.source, tr.source)) STEP(hash_source(te.source, files));
    json_object_set_new(inputs, "data", json_pack("{s:s,s:i,s:i,s:o}", "source", tr.source,
                                                  "train_images", tr.n, "test_images", te.n,
                                                  "files_sha256", files));
    json_object_set_new(R, "inputs", inputs);
    inputs = NULL;
    json_object_set_new(R, "options", options_json(o));
    /* the training subset (fixed: the same for every seed) and the test subset */
    size_t nsub = (size_t)o->train_subset < (size_t)tr.n ? (size_t)o->train_subset : (size_t)tr.n;
    sub = malloc((size_t)tr.n * sizeof *sub);
    size_t nte = o->test_subset > 0 && o->test_subset < te.n ? (size_t)o->test_subset : (size_t)te.n;
    tidx = malloc((size_t)te.n * sizeof *tidx);
    if (!sub || !tidx) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        goto out;
    }
    for (int i = 0; i < tr.n; i++) sub[i] = i;
    {
        uint64_t z = 0x5eedf00dull;
        for (size_t i = (size_t)tr.n; i > 1; i--) {
            z += 0x9E3779B97F4A7C15ull;
            uint64_t q = z;
            q = (q ^ (q >> 30)) * 0xBF58476D1CE4E5B9ull;
            q = (q ^ (q >> 27)) * 0x94D049BB133111EBull;
            q ^= q >> 31;
            size_t j = (size_t)(q % i);
            int32_t t = sub[i - 1];
            sub[i - 1] = sub[j], sub[j] = t;
        }
    }
    for (int i = 0; i < te.n; i++) tidx[i] = i;
    nte = thin(tidx, (size_t)te.n, nte);
    STEP(make_loader(ctx, &te, tidx, nte, 256, smean, sstd, &lte));
    json_object_set_new(timing, "load_data", json_real(lirf_now() - t0));
    note(o, "data %s loaded", tr.source, t_start);

    /* 3. the nets themselves */
    t0 = lirf_now();
    json_t *nets = json_array();
    for (int r = 0; r < R_COUNT; r++) {
        if (!M[r].net) continue;
        lirf_loader *ld = NULL;
        STEP(make_loader(ctx, &te, tidx, nte, 256, M[r].meta.mean, M[r].meta.std, &ld));
        st = eval_fn(ctx, ld, &S, lirf_net_logits, M[r].net, &M[r].pre, &M[r].dep_acc, &M[r].avg);
        lirf_loader_destroy(ld);
        if (st != LIRF_OK) goto out;
        json_array_append_new(nets, json_pack("{s:s,s:s,s:o,s:o,s:o}", "role", ROLE[r], "label",
                                              ROLE_LABEL[r], "pre_acc", jnum(M[r].pre), "dep_acc",
                                              jnum(M[r].dep_acc), "avg_acc", jnum(M[r].avg)));
        note(o, "evaluated the %s net", ROLE[r], t_start);
    }
    json_object_set_new(R, "nets", nets);
    json_object_set_new(timing, "evaluate_nets", json_real(lirf_now() - t0));

    /* 4. probe (e): withdraw, and (d): the deposit path alone */
    if (o->archive && (o->withdraw_check || o->deposit_alone)) {
        t0 = lirf_now();
        snprintf(recover_path, sizeof recover_path, "%s/recover.safetensors", o->out_dir ? o->out_dir : ".");
        json_t *wr = NULL;
        STEP(lirf_withdraw(ctx, o->target, o->archive, recover_path, &wr));
        json_decref(wr);
        lirf_model *rm = NULL;
        STEP(lirf_model_open(ctx, recover_path, &rm));
        double pre = NAN, dp = NAN, avg = NAN;
        lirf_loader *ld = NULL;
        st = make_loader(ctx, &te, tidx, nte, 256, lirf_model_meta_of(rm)->mean,
                         lirf_model_meta_of(rm)->std, &ld);
        if (st == LIRF_OK) st = eval_fn(ctx, ld, &S, lirf_model_logits, rm, &pre, &dp, &avg);
        lirf_model_close(rm);
        json_t *w = json_pack("{s:s,s:o,s:o,s:o}", "recover", recover_path, "pre_acc", jnum(pre),
                              "dep_acc", jnum(dp), "avg_acc", jnum(avg));
        if (st == LIRF_OK && o->deposit_alone) {
            path_t p = {0};
            st = open_deposit_path(ctx, recover_path, &p);
            double a, b, c;
            if (st == LIRF_OK) st = eval_fn(ctx, ld, &S, path_logits, &p, &a, &b, &c);
            lirf_net_destroy(p.lower), lirf_net_destroy(p.upper);
            if (st == LIRF_OK)
                json_object_set_new(R, "deposit_module_alone",
                                    json_pack("{s:o,s:o,s:o}", "pre_acc", jnum(a), "dep_acc",
                                              jnum(b), "avg_acc", jnum(c)));
        }
        lirf_loader_destroy(ld);
        if (st != LIRF_OK) {
            json_decref(w);
            goto out;
        }
        json_object_set_new(R, "withdraw", w);
        if (o->withdraw_check) {
            if (M[R_ORIGINAL].net) {
                double gap = M[R_ORIGINAL].dep_acc - dp;
                add_check(checks, "withdraw", "Dep Acc of the original minus that of the recover "
                          "net from --archive (points)", gap, 0, M[R_ORIGINAL].dep_acc,
                          "the original's Dep Acc", o->margin_withdraw,
                          gap > o->margin_withdraw ? "fail" : "pass", NULL);
            } else {
                add_check(checks, "withdraw", "needs --original", NAN, 0, NAN, "", o->margin_withdraw,
                          "skipped", NULL);
            }
        }
        json_object_set_new(timing, "withdraw", json_real(lirf_now() - t0));
        note(o, "withdraw check done: recover net %s", recover_path, t_start);
    }

    /* 5. probe (c): loss-threshold membership inference on the deposit classes */
    if (o->mia) {
        t0 = lirf_now();
        size_t lim = o->member_limit > 0 && o->member_limit < tr.n ? (size_t)o->member_limit : (size_t)tr.n;
        size_t nm = 0, nn = 0;
        mem = malloc(lim * sizeof *mem);
        non = malloc((size_t)te.n * sizeof *non);
        if (!mem || !non) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            goto out;
        }
        for (size_t i = 0; i < lim; i++)
            if (is_dep(&S, tr.labels[i])) mem[nm++] = (int32_t)i;
        for (int i = 0; i < te.n; i++)
            if (is_dep(&S, te.labels[i])) non[nn++] = i;
        nm = thin(mem, nm, (size_t)o->mia_samples);
        nn = thin(non, nn, (size_t)o->mia_samples);
        json_t *mia = json_array();
        double auc_of[R_COUNT];
        for (int r = 0; r < R_COUNT; r++) auc_of[r] = NAN;
        float *lm = malloc((nm + 1) * sizeof *lm), *ln = malloc((nn + 1) * sizeof *ln);
        double *pm = malloc((nm + 1) * sizeof *pm), *pn = malloc((nn + 1) * sizeof *pn);
        for (int r = 0; r < R_COUNT && lm && ln && pm && pn && nm && nn; r++) {
            if (!M[r].net) continue;
            lirf_loader *a = NULL, *b = NULL;
            st = make_loader(ctx, &tr, mem, nm, 256, M[r].meta.mean, M[r].meta.std, &a);
            if (st == LIRF_OK) st = make_loader(ctx, &te, non, nn, 256, M[r].meta.mean, M[r].meta.std, &b);
            if (st == LIRF_OK) st = lirf_per_sample_loss(ctx, a, K, lirf_net_logits, M[r].net, lm);
            if (st == LIRF_OK) st = lirf_per_sample_loss(ctx, b, K, lirf_net_logits, M[r].net, ln);
            lirf_loader_destroy(a), lirf_loader_destroy(b);
            if (st != LIRF_OK) break;
            for (size_t i = 0; i < nm; i++) pm[i] = -(double)lm[i];
            for (size_t i = 0; i < nn; i++) pn[i] = -(double)ln[i];
            double auc = lirf_roc_auc(pm, nm, pn, nn), tpr = lirf_tpr_at_fpr(pm, nm, pn, nn, 0.01);
            double ml = 0, nl = 0;
            for (size_t i = 0; i < nm; i++) ml += lm[i];
            for (size_t i = 0; i < nn; i++) nl += ln[i];
            double *roc = NULL;
            size_t np = 0;
            st = lirf_roc_curve(pm, nm, pn, nn, 101, &roc, &np);
            if (st != LIRF_OK) break;
            json_t *curve = json_array();
            for (size_t i = 0; i < np; i++)
                json_array_append_new(curve, json_pack("[f,f]", roc[2 * i], roc[2 * i + 1]));
            free(roc);
            auc_of[r] = auc;
            json_array_append_new(mia, json_pack("{s:s,s:s,s:f,s:f,s:I,s:I,s:f,s:f,s:o}", "role",
                                                 ROLE[r], "label", ROLE_LABEL[r], "auc", auc,
                                                 "tpr_at_1pct_fpr", tpr, "members", (json_int_t)nm,
                                                 "non_members", (json_int_t)nn,
                                                 "member_mean_loss", ml / (double)nm,
                                                 "non_member_mean_loss", nl / (double)nn, "roc", curve));
        }
        free(lm), free(ln), free(pm), free(pn);
        if (st != LIRF_OK) {
            json_decref(mia);
            goto out;
        }
        json_object_set_new(R, "mia", json_pack("{s:s,s:i,s:i,s:o}", "score",
                                                "minus the cross-entropy of the true label",
                                                "member_limit", (int)lim, "max_samples",
                                                o->mia_samples, "models", mia));
        int ind = M[R_INDEPENDENT].net != NULL;
        double ctrl = ind ? auc_of[R_INDEPENDENT] : 0.5;
        double gap = auc_of[R_TARGET] - ctrl;
        add_check(checks, "mia", "membership-inference ROC AUC of the target on the deposit "
                  "classes minus the control's", gap, 0, ctrl,
                  ind ? "the Independent net's AUC" : "0.5 (chance)", o->margin_mia,
                  !isfinite(gap) ? "skipped" : gap > o->margin_mia ? "leak" : "pass", NULL);
        json_object_set_new(timing, "mia", json_real(lirf_now() - t0));
        note(o, "membership inference done%s", "", t_start);
    }

    /* 6. probe (a): a linear probe at the split point */
    if (o->probe && tc->arch == LIRF_ARCH_RESNET18) {
        t0 = lirf_now();
        int split = lirf_stage_parse(tc->arch, M[R_TARGET].meta.split);
        if (split < 0) split = 2; /* LIRF's default split, layer2 */
        size_t npt = (size_t)o->probe_train < nsub ? (size_t)o->probe_train : nsub;
        json_t *pj = json_array();
        double pdep[R_COUNT + 1];
        int roles[R_COUNT + 1], nr = 0;
        for (int r = 0; r < R_COUNT; r++)
            if (M[r].net && M[r].meta.cfg.arch == LIRF_ARCH_RESNET18 && r != R_TARGET_NO_AT) roles[nr++] = r;
        if (!M[R_INDEPENDENT].net) roles[nr++] = R_COUNT; /* a fresh, untrained net */
        for (int i = 0; i < nr; i++) {
            int r = roles[i];
            const lirf_model_meta *mm = r < R_COUNT ? &M[r].meta : &M[R_TARGET].meta;
            lirf_net_config c = mm->cfg;
            c.first = 0, c.last = split;
            lirf_net *lower = NULL;
            lirf_loader *a = NULL, *b = NULL;
            int64_t counts[2 * LIRF_MAX_CLASSES];
            st = lirf_net_create(ctx, &c, &lower);
            if (st == LIRF_OK) st = lirf_net_init(lower, 1);
            if (st == LIRF_OK && r < R_COUNT) st = lirf_net_copy(lower, M[r].net, NULL);
            if (st == LIRF_OK) st = make_loader(ctx, &tr, sub, npt, 256, mm->mean, mm->std, &a);
            if (st == LIRF_OK) st = make_loader(ctx, &te, tidx, nte, 256, mm->mean, mm->std, &b);
            if (st == LIRF_OK) st = lirf_linear_probe(ctx, lower, a, b, K, &o->probe_opts, counts);
            lirf_loader_destroy(a), lirf_loader_destroy(b);
            lirf_net_destroy(lower);
            if (st != LIRF_OK) break;
            double pre, dp, avg;
            summarise(&S, counts, &pre, &dp, &avg);
            pdep[i] = dp;
            json_array_append_new(pj, json_pack("{s:s,s:s,s:o,s:o,s:o}", "role",
                                                r < R_COUNT ? ROLE[r] : "fresh", "label",
                                                r < R_COUNT ? ROLE_LABEL[r] : "Fresh (untrained)",
                                                "pre_acc", jnum(pre), "dep_acc", jnum(dp),
                                                "avg_acc", jnum(avg)));
            note(o, "linear probe on the %s net done", r < R_COUNT ? ROLE[r] : "fresh", t_start);
        }
        if (st != LIRF_OK) {
            json_decref(pj);
            goto out;
        }
        json_object_set_new(R, "linear_probe",
                            json_pack("{s:s,s:i,s:i,s:f,s:o}", "split",
                                      lirf_stage_name(tc->arch, split), "train_images", (int)npt,
                                      "epochs", o->probe_opts.epochs, "lr",
                                      lirf_tidy(o->probe_opts.lr), "nets", pj));
        double tgt = NAN, ctrl = NAN;
        for (int i = 0; i < nr; i++) {
            if (roles[i] == R_TARGET) tgt = pdep[i];
            if (roles[i] == R_INDEPENDENT || roles[i] == R_COUNT) ctrl = pdep[i];
        }
        add_check(checks, "linear_probe", "Dep Acc of a linear probe on the target's split-point "
                  "features minus the control's (points)", tgt - ctrl, 0, ctrl,
                  M[R_INDEPENDENT].net ? "probe on the Independent net" : "probe on a fresh, untrained net",
                  o->margin_probe, tgt - ctrl > o->margin_probe ? "leak" : "pass", NULL);
        json_object_set_new(timing, "linear_probe", json_real(lirf_now() - t0));
    }

    /* 6b. probe (b): relearn time on a small labelled sample of the deposit classes */
    if (o->relearn && M[R_ORIGINAL].net) {
        t0 = lirf_now();
        /* the sample: deposit-class training images outside the member range
         * when there is one, else any; the goal set: deposit-class test images */
        size_t cap = (size_t)o->relearn_samples, ns = 0, ne = 0;
        int32_t *smp = malloc((size_t)tr.n * sizeof *smp), *ev = malloc((size_t)te.n * sizeof *ev);
        if (!smp || !ev) {
            free(smp), free(ev);
            st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            goto out;
        }
        for (int i = tr.n - 1; i >= 0 && ns < cap; i--)
            if (is_dep(&S, tr.labels[i])) smp[ns++] = i;
        /* as many preservation-class images beside them, so that predicting
         * only deposit classes is no shortcut to a high Dep Acc */
        size_t nd = ns;
        for (int i = tr.n - 1; i >= 0 && ns < 2 * nd; i--)
            if (!is_dep(&S, tr.labels[i])) smp[ns++] = i;
        for (int i = 0; i < te.n; i++)
            if (is_dep(&S, te.labels[i])) ev[ne++] = i;
        ne = thin(ev, ne, 600);
        double goal = o->relearn_fraction * M[R_ORIGINAL].dep_acc;
        json_t *rl = json_array();
        int steps_of[2] = {-1, -1};
        int ctl_role = M[R_INDEPENDENT].net ? R_INDEPENDENT : R_COUNT;
        int who[2] = {R_TARGET, ctl_role};
        for (int k = 0; k < 2 && st == LIRF_OK; k++) {
            int r = who[k];
            const lirf_model_meta *mm = r < R_COUNT ? &M[r].meta : &M[R_TARGET].meta;
            lirf_net_config c = mm->cfg;
            lirf_net *net = NULL;
            lirf_loader *ld = NULL;
            double reached = NAN;
            lirf_relearn_opts ro = {.batch = 32, .max_steps = o->relearn_max_steps,
                                    .eval_every = o->relearn_eval_every, .lr = o->relearn_lr,
                                    .momentum = 0.9f, .wd = 5e-4f, .seed = 1,
                                    .mode = r < R_COUNT ? LIRF_MODE_TRAIN_BN_FIXED : LIRF_MODE_TRAIN};
            st = lirf_net_create(ctx, &c, &net);
            if (st == LIRF_OK) st = lirf_net_init(net, 1);
            if (st == LIRF_OK && r < R_COUNT) st = lirf_net_copy(net, M[r].net, NULL);
            if (st == LIRF_OK) st = make_loader(ctx, &te, ev, ne, 256, mm->mean, mm->std, &ld);
            if (st == LIRF_OK)
                st = lirf_relearn(net, &tr, smp, ns, mm->mean, mm->std, ld, goal, &ro, &steps_of[k], &reached);
            lirf_loader_destroy(ld);
            lirf_net_destroy(net);
            if (st == LIRF_OK)
                json_array_append_new(rl, json_pack("{s:s,s:s,s:i,s:o}", "role",
                                                    r < R_COUNT ? ROLE[r] : "fresh", "label",
                                                    r < R_COUNT ? ROLE_LABEL[r] : "Fresh (untrained)",
                                                    "steps", steps_of[k], "last_dep_acc", jnum(reached)));
            note(o, "relearn of the %s net done", r < R_COUNT ? ROLE[r] : "fresh", t_start);
        }
        free(smp), free(ev);
        if (st != LIRF_OK) {
            json_decref(rl);
            goto out;
        }
        char a[64], b[64];
        snprintf(a, sizeof a, steps_of[0] < 0 ? "not within %d steps" : "%d steps", steps_of[0] < 0 ? o->relearn_max_steps : steps_of[0]);
        snprintf(b, sizeof b, steps_of[1] < 0 ? "not within %d steps" : "%d steps", steps_of[1] < 0 ? o->relearn_max_steps : steps_of[1]);
        json_object_set_new(R, "relearn", json_pack("{s:i,s:i,s:f,s:f,s:i,s:i,s:f,s:s,s:s,s:o}", "samples", (int)nd, "preservation_samples", (int)(ns - nd),
                                                    "fraction", lirf_tidy(o->relearn_fraction), "goal_dep_acc", goal,
                                                    "max_steps", o->relearn_max_steps, "eval_every", o->relearn_eval_every,
                                                    "lr", lirf_tidy(o->relearn_lr), "target_steps_text", a,
                                                    "control_steps_text", b, "nets", rl));
        /* steps as a ratio target / control (a never-reached goal counts as max_steps) */
        double ts = steps_of[0] < 0 ? o->relearn_max_steps : steps_of[0];
        double cs = steps_of[1] < 0 ? o->relearn_max_steps : steps_of[1];
        double ratio = cs > 0 ? ts / cs : (ts > 0 ? INFINITY : 1.0);
        if (ctl_role == R_INDEPENDENT)
            add_check(checks, "relearn", "relearn steps of the target divided by the Independent net's",
                      ratio, 0, cs, "the Independent net's steps", o->margin_relearn,
                      ratio < o->margin_relearn ? "leak" : "pass", NULL);
        else
            add_check(checks, "relearn", "relearn steps of the target divided by a fresh net's "
                      "(informational: a fresh net has no features at all; give --independent for a verdict)",
                      ratio, 0, cs, "a fresh net's steps", o->margin_relearn, "info", NULL);
        json_object_set_new(timing, "relearn", json_real(lirf_now() - t0));
    }

    /* 7. distillation (Table 3) with controls */
    t0 = lirf_now();
    int same[R_COUNT]; /* an earlier role given the very same file (equal SHA-256), or -1 */
    for (int r = 0; r < R_COUNT; r++) {
        same[r] = -1;
        for (int q = 0; q < r && M[r].net; q++)
            if (M[q].net && same[q] < 0 && !strcmp(M[q].sha, M[r].sha)) {
                same[r] = q;
                break;
            }
    }
    for (int r = 0; r < R_COUNT; r++) {
        if (!M[r].net || same[r] >= 0) continue;
        STEP(lirf_teacher_run(ctx, M[r].net, &tr, sub, nsub, M[r].meta.mean, M[r].meta.std, &T[r]));
        note(o, "teacher outputs of the %s net computed", ROLE[r], t_start);
    }
    json_object_set_new(timing, "teacher_outputs", json_real(lirf_now() - t0));
    t0 = lirf_now();
    int nstud = 0, studs[2], nmeth = 0, meths[2], nlab = 0, labs[2];
    if (o->students & 1) studs[nstud++] = 0;
    if (o->students & 2) studs[nstud++] = 1;
    if (o->methods & 1) meths[nmeth++] = LIRF_KD_LOGIT;
    if (o->methods & 2) meths[nmeth++] = LIRF_KD_AT;
    if (o->labels & 1) labs[nlab++] = 1;
    if (o->labels & 2) labs[nlab++] = 0;
    int nteach = 0;
    for (int r = 0; r < R_COUNT; r++) nteach += M[r].net != NULL;
    int total_runs = o->seeds * nstud * ((o->labels & 1) + nteach * nmeth * nlab), done = 0;
    runs = calloc((size_t)total_runs + 1, sizeof *runs);
    json_t *jruns = json_array();
    json_object_set_new(R, "distillation_runs", jruns);
    if (!runs) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        goto out;
    }
    for (int sd = 0; sd < o->seeds; sd++)
        for (int si = 0; si < nstud; si++) {
            int stu = studs[si];
            lirf_net_config sc = {.arch = stu ? LIRF_ARCH_RESNET18 : LIRF_ARCH_CNN,
                                  .width = stu ? o->student_width : 0, .in_c = tc->in_c,
                                  .in_h = tc->in_h, .in_w = tc->in_w, .classes = K};
            for (int r = -1; r < R_COUNT; r++) {
                if (r >= 0 && !M[r].net) continue;
                for (int mi = 0; mi < (r < 0 ? 1 : nmeth); mi++)
                    for (int li = 0; li < (r < 0 ? 1 : nlab); li++) {
                        if (r < 0 && !(o->labels & 1)) continue;
                        lirf_distill_opts d = o->distill;
                        d.method = r < 0 ? LIRF_KD_NONE : meths[mi];
                        d.labels = r < 0 ? 1 : labs[li];
                        d.epochs = o->epochs, d.batch = o->batch;
                        d.seed = (uint32_t)(o->distill.seed + 1000u * (unsigned)sd);
                        char label[160];
                        snprintf(label, sizeof label, "[%d/%d] %s student, %s, labels %s, teacher %s, seed %u",
                                 done + 1, total_runs, student_name(stu), lirf_kd_method_name(d.method),
                                 d.labels ? "true" : "none", r < 0 ? "none" : ROLE[r], d.seed);
                        if (!o->quiet) fprintf(stderr, "verify: %s\n", label);
                        lirf_student *s = NULL;
                        lirf_distill_result res;
                        memset(&res, 0, sizeof res);
                        double pre = NAN, dp = NAN, avg = NAN;
                        const run_t *twin = r >= 0 && same[r] >= 0
                                                ? find_run(runs, nruns, stu, d.method, d.labels, same[r], (int)d.seed)
                                                : NULL;
                        if (twin) { /* the same file as an earlier teacher: the same student (training is deterministic) */
                            pre = twin->pre, dp = twin->dep, avg = twin->avg;
                            if (!o->quiet) fprintf(stderr, "verify:   the same file as the %s net: its student's numbers\n", ROLE[same[r]]);
                        } else {
                            st = lirf_student_create(ctx, &sc, 7 + 1000u * (unsigned)sd, &s);
                            if (st == LIRF_OK)
                                st = lirf_distill_train(s, &tr, sub, nsub, smean, sstd, r < 0 ? NULL : &T[r],
                                                        &d, student_name(stu), o->quiet, &res);
                            if (st == LIRF_OK) st = eval_fn(ctx, lte, &S, lirf_student_logits, s, &pre, &dp, &avg);
                            lirf_student_destroy(s);
                            if (st != LIRF_OK) goto out;
                        }
                        runs[nruns++] = (run_t){stu, d.method, d.labels, r, (int)d.seed, pre, dp, avg};
                        json_t *mt = json_array();
                        for (int k = 0; k < res.nmatched; k++)
                            json_array_append_new(mt, json_pack("[s,s]",
                                lirf_stage_name(sc.arch, res.s_stage[k]),
                                lirf_stage_name(M[r].meta.cfg.arch, res.t_stage[k])));
                        json_array_append_new(jruns, json_pack(
                            "{s:s,s:s,s:b,s:s,s:i,s:o,s:o,s:o,s:f,s:I,s:f,s:o}", "student",
                            student_name(stu), "method", lirf_kd_method_name(d.method), "labels",
                            d.labels, "teacher", r < 0 ? "none" : ROLE[r], "seed", (int)d.seed,
                            "pre_acc", jnum(pre), "dep_acc", jnum(dp), "avg_acc", jnum(avg),
                            "seconds", res.seconds, "steps", (json_int_t)res.steps, "final_loss",
                            res.last_loss, "at_pairs", mt));
                        if (twin)
                            json_object_set_new(json_array_get(jruns, json_array_size(jruns) - 1),
                                                "same_file_as", json_string(ROLE[same[r]]));
                        done++;
                        if (!o->quiet)
                            fprintf(stderr, "verify:   Pre %.2f  Dep %.2f  (%.0fs, total %.0fs)\n", pre, dp,
                                    res.seconds, lirf_now() - t_start);
                    }
            }
        }
    json_object_set_new(timing, "distillation", json_real(lirf_now() - t0));
    /* summary: mean and interval over seeds; change against the original's student */
    json_t *table = json_array();
    for (int si = 0; si < nstud; si++)
        for (int r = -1; r < R_COUNT; r++) {
            if (r >= 0 && !M[r].net) continue;
            for (int mi = 0; mi < (r < 0 ? 1 : nmeth); mi++)
                for (int li = 0; li < (r < 0 ? 1 : nlab); li++) {
                    if (r < 0 && !(o->labels & 1)) continue;
                    int method = r < 0 ? LIRF_KD_NONE : meths[mi], lab = r < 0 ? 1 : labs[li];
                    double pre[64], dp[64], dpre[64], ddep[64];
                    int n = 0, nd = 0;
                    for (int sd = 0; sd < o->seeds && n < 64; sd++) {
                        int seed = (int)(o->distill.seed + 1000u * (unsigned)sd);
                        const run_t *a = find_run(runs, nruns, studs[si], method, lab, r, seed);
                        const run_t *b = find_run(runs, nruns, studs[si], method, lab, R_ORIGINAL, seed);
                        if (!a) continue;
                        pre[n] = a->pre, dp[n++] = a->dep;
                        if (b && r >= 0) dpre[nd] = a->pre - b->pre, ddep[nd++] = a->dep - b->dep;
                    }
                    double mp, hp, md, hd, mdp = NAN, hdp = 0, mdd = NAN, hdd = 0;
                    lirf_mean_ci95(pre, (size_t)n, &mp, &hp);
                    lirf_mean_ci95(dp, (size_t)n, &md, &hd);
                    if (nd) lirf_mean_ci95(dpre, (size_t)nd, &mdp, &hdp), lirf_mean_ci95(ddep, (size_t)nd, &mdd, &hdd);
                    json_array_append_new(table, json_pack(
                        "{s:s,s:s,s:b,s:s,s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:o}", "student",
                        student_name(studs[si]), "method", lirf_kd_method_name(method), "labels", lab,
                        "teacher", r < 0 ? "none" : ROLE[r], "teacher_label",
                        r < 0 ? "No teacher" : ROLE_LABEL[r], "seeds", n, "pre_acc", jnum(mp),
                        "pre_ci95", jnum(hp), "dep_acc", jnum(md), "dep_ci95", jnum(hd),
                        "d_pre_vs_original", jnum(mdp), "d_pre_ci95", jnum(hdp),
                        "d_dep_vs_original", jnum(mdd), "d_dep_ci95", jnum(hdd)));
                }
        }
    json_object_set_new(R, "table3", table);
    /* checks: the target's students against their controls */
    for (int si = 0; si < nstud; si++)
        for (int mi = 0; mi < nmeth; mi++)
            for (int li = 0; li < nlab; li++) {
                int lab = labs[li], method = meths[mi];
                double g[64], csum = 0;
                int n = 0;
                json_t *ps = json_array();
                for (int sd = 0; sd < o->seeds && n < 64; sd++) {
                    int seed = (int)(o->distill.seed + 1000u * (unsigned)sd);
                    const run_t *a = find_run(runs, nruns, studs[si], method, lab, R_TARGET, seed);
                    const run_t *c = lab ? find_run(runs, nruns, studs[si], LIRF_KD_NONE, 1, -1, seed)
                                         : find_run(runs, nruns, studs[si], method, 0, R_INDEPENDENT, seed);
                    if (!a || (lab && !c)) continue;
                    g[n] = a->dep - (c ? c->dep : 0.0);
                    csum += c ? c->dep : 0.0;
                    json_array_append_new(ps, json_pack("{s:i,s:o}", "seed", seed, "gap", jnum(g[n])));
                    n++;
                }
                double m, h;
                lirf_mean_ci95(g, (size_t)n, &m, &h);
                char name[96];
                snprintf(name, sizeof name, "distill/%s/%s/labels-%s", student_name(studs[si]),
                         lirf_kd_method_name(method), lab ? "true" : "none");
                double margin = lab ? o->margin_distill : o->margin_none;
                const char *ctl = lab ? "the no-teacher student (true labels only)"
                                      : M[R_INDEPENDENT].net ? "the Independent net's student (no labels)"
                                                             : "0 (assumed: a teacher that never saw the deposit classes; give --independent to measure it)";
                double cval = n ? csum / n : NAN; /* the control's mean Dep Acc over seeds */
                add_check(checks, name, "Dep Acc of the target's student minus the control's (points)",
                          n ? m : NAN, h, cval, ctl, margin,
                          !n ? "skipped" : m > margin ? "leak" : "pass", ps);
            }

    /* power: can the no-label students find knowledge where it is? The
     * original's no-label students, taught exactly as the target's, against
     * --power-min; a weak result says a leaky target could pass those checks */
    if (M[R_ORIGINAL].net) {
        /* the original's no-label rows of Table 3 (mean and interval over seeds) */
        json_t *ps = json_array(), *row;
        double lo = INFINITY, hi = -INFINITY;
        int weak = 0, nps = 0;
        size_t ri;
        json_array_foreach(table, ri, row) {
            if (json_is_true(json_object_get(row, "labels")) ||
                strcmp(json_string_value(json_object_get(row, "teacher")), ROLE[R_ORIGINAL]) != 0 ||
                !json_integer_value(json_object_get(row, "seeds")))
                continue;
            double m = json_number_value(json_object_get(row, "dep_acc"));
            int ok = m >= o->power_min;
            weak |= !ok;
            lo = m < lo ? m : lo, hi = m > hi ? m : hi;
            nps++;
            json_array_append_new(ps, json_pack("{s:O,s:O,s:o,s:O,s:o,s:s}", "student",
                json_object_get(row, "student"), "method", json_object_get(row, "method"),
                "dep_acc", jnum(m), "ci95", json_object_get(row, "dep_ci95"), "short_by",
                jnum(ok ? 0.0 : o->power_min - m), "verdict", ok ? "ok" : "weak"));
        }
        if (nps) {
            char text[640], range[64];
            if (nps == 1 || hi - lo < 0.005)
                snprintf(range, sizeof range, "%.2f%%", lo);
            else
                snprintf(range, sizeof range, "%.2f to %.2f%%", lo, hi);
            if (weak)
                snprintf(text, sizeof text,
                         "Weak: the original's students taught with no labels, exactly as the "
                         "target's, reached %s Dep Acc (the original itself: %.2f%%), "
                         "below the %.0f%% wanted (--power-min) by up to %.2f points. The no-label "
                         "checks see only what such students can pick up, so a target that still "
                         "knows the deposit classes could pass them; larger budgets (--epochs, "
                         "--train-subset) make them stronger.",
                         range, M[R_ORIGINAL].dep_acc, (double)o->power_min, o->power_min - lo);
            else
                snprintf(text, sizeof text,
                         "Ok: the original's students taught with no labels, exactly as the "
                         "target's, reached %s Dep Acc (the original itself: %.2f%%), "
                         "at least the %.0f%% wanted (--power-min): the no-label checks can find "
                         "the deposit classes' knowledge where it is.",
                         range, M[R_ORIGINAL].dep_acc, (double)o->power_min);
            json_object_set_new(R, "power", json_pack("{s:s,s:o,s:o,s:o,s:s}", "verdict",
                weak ? "weak" : "ok", "wanted_dep_acc", jnum(o->power_min), "original_dep_acc",
                jnum(M[R_ORIGINAL].dep_acc), "students", ps, "text", text));
        } else {
            json_decref(ps);
        }
    }

    /* verdict */
    int leak = 0;
    size_t i;
    json_t *c;
    json_array_foreach(checks, i, c) {
        const char *v = json_string_value(json_object_get(c, "verdict"));
        if (v && (!strcmp(v, "leak") || !strcmp(v, "fail"))) leak = 1;
    }
    json_object_set_new(R, "checks", checks);
    checks = NULL;
    json_object_set_new(R, "verdict", json_string(leak ? "leakage" : "no leakage beyond the margins"));
    json_object_set_new(R, "exit_code", json_integer(leak ? 1 : 0));
    json_object_set_new(timing, "total", json_real(lirf_now() - t_start));
    json_object_set_new(R, "seconds", timing);
    timing = NULL;
out:
    for (int r = 0; r < R_COUNT; r++) close_model(&M[r]), lirf_teacher_out_free(&T[r]);
    lirf_loader_destroy(lte);
    lirf_dataset_free(&tr), lirf_dataset_free(&te);
    free(sub), free(tidx), free(mem), free(non), free(runs);
    json_decref(inputs), json_decref(checks), json_decref(timing);
    if (st != LIRF_OK) {
        json_decref(R);
        return st;
    }
    *report = R;
    return LIRF_OK;
}
