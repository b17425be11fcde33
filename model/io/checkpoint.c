/* Checkpoints (see checkpoint.h). */
#include "checkpoint.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lirf_model_meta_free(lirf_model_meta *m) {
    if (!m) return;
    if (m->class_names) {
        for (int i = 0; i < m->cfg.classes; i++) free(m->class_names[i]);
        free(m->class_names);
    }
    m->class_names = NULL;
}

static lirf_status meta_strings(const lirf_model_meta *m, char **names_json, char **pre_json,
                                char *shape, size_t shape_len, char *mid, size_t mid_len) {
    json_t *arr = json_array();
    for (int i = 0; m->class_names && i < m->cfg.classes; i++)
        if (json_array_append_new(arr, json_string(m->class_names[i] ? m->class_names[i] : ""))) {
            json_decref(arr);
            return LIRF_FAIL(LIRF_E_INVALID, "class name %d is not valid UTF-8", i);
        }
    *names_json = json_dumps(arr, JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(arr);
    json_t *pre = json_object(), *mean = json_array(), *std = json_array();
    for (int c = 0; c < m->cfg.in_c && c < 4; c++) {
        json_array_append_new(mean, json_real(m->mean[c]));
        json_array_append_new(std, json_real(m->std[c]));
    }
    json_object_set_new(pre, "scale", json_real(1.0 / 255.0));
    json_object_set_new(pre, "mean", mean);
    json_object_set_new(pre, "std", std);
    *pre_json = json_dumps(pre, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(9));
    json_decref(pre);
    if (!*names_json || !*pre_json) {
        free(*names_json), free(*pre_json);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    snprintf(shape, shape_len, "%d,%d,%d", m->cfg.in_c, m->cfg.in_h, m->cfg.in_w);
    mid[0] = 0;
    int pruned = 0;
    for (int i = 0; i < LIRF_MAX_BLOCKS; i++) pruned |= m->cfg.mid[i] != 0;
    if (pruned) lirf_mid_format(&m->cfg, mid, mid_len);
    return LIRF_OK;
}

static lirf_status save_any(const char *path, void **mem, size_t *mem_len, lirf_net *const *nets,
                            const char *const *prefixes, size_t count,
                            const lirf_model_meta *meta, const char *const *extra_keys,
                            const char *const *extra_vals, size_t nextra) {
    if ((!path && !mem) || !nets || !meta)
        return LIRF_FAIL(LIRF_E_NULL, "checkpoint_save: NULL argument");
    size_t total = 0;
    for (size_t k = 0; k < count; k++) total += lirf_net_ntensors(nets[k]);
    lirf_st_tensor *ts = calloc(total ? total : 1, sizeof *ts);
    void **bufs = calloc(total ? total : 1, sizeof *bufs);
    char **names = calloc(total ? total : 1, sizeof *names);
    lirf_status st = (ts && bufs && names) ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    size_t nt = 0;
    for (size_t k = 0; k < count && st == LIRF_OK; k++) {
        lirf_net *n = nets[k];
        for (size_t i = 0; i < lirf_net_ntensors(n) && st == LIRF_OK; i++) {
            const lirf_tensor_desc *d = lirf_net_tensor(n, i);
            size_t len = strlen(prefixes && prefixes[k] ? prefixes[k] : "") + strlen(d->name) + 1;
            names[nt] = malloc(len);
            size_t bytes = d->kind == LIRF_T_COUNT ? 8 : d->n * 4;
            bufs[nt] = malloc(bytes ? bytes : 1);
            if (!names[nt] || !bufs[nt]) {
                st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
                break;
            }
            snprintf(names[nt], len, "%s%s", prefixes && prefixes[k] ? prefixes[k] : "", d->name);
            st = lirf_net_tensor_get(n, i, bufs[nt]);
            lirf_st_tensor *t = &ts[nt];
            t->name = names[nt];
            t->dtype = d->kind == LIRF_T_COUNT ? LIRF_I64 : LIRF_F32;
            t->ndim = d->ndim;
            for (int j = 0; j < d->ndim; j++) t->shape[j] = d->shape[j];
            t->nbytes = bytes;
            t->data = bufs[nt];
            nt++;
        }
    }
    char *names_json = NULL, *pre_json = NULL, shape[64], mid[128];
    if (st == LIRF_OK) st = meta_strings(meta, &names_json, &pre_json, shape, sizeof shape, mid,
                                         sizeof mid);
    if (st == LIRF_OK) {
        char width[16], classes[16];
        snprintf(width, sizeof width, "%d", meta->cfg.width);
        snprintf(classes, sizeof classes, "%d", meta->cfg.classes);
        const char *keys[32] = {"lirf_version", "format", "arch", "width", "in_shape", "classes",
                                "class_names", "preprocess", "split"};
        const char *vals[32] = {LIRF_VERSION, "lirf-checkpoint-1", lirf_arch_name(meta->cfg.arch),
                                width, shape, classes, names_json, pre_json, meta->split};
        size_t nk = 9;
        if (mid[0]) keys[nk] = "mid", vals[nk++] = mid;
        for (size_t i = 0; i < nextra && nk < 32; i++) keys[nk] = extra_keys[i], vals[nk++] = extra_vals[i];
        st = path ? lirf_st_write(path, ts, nt, keys, vals, nk)
                  : lirf_st_write_mem(ts, nt, keys, vals, nk, mem, mem_len);
    }
    free(names_json), free(pre_json);
    for (size_t i = 0; i < nt; i++) free(names[i]), free(bufs[i]);
    if (st != LIRF_OK && nt < total && names && bufs) free(names[nt]), free(bufs[nt]);
    free(ts), free(bufs), free(names);
    return st;
}

lirf_status lirf_checkpoint_save(const char *path, lirf_net *const *nets,
                                 const char *const *prefixes, size_t count,
                                 const lirf_model_meta *meta, const char *const *extra_keys,
                                 const char *const *extra_vals, size_t nextra) {
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "checkpoint_save: NULL path");
    return save_any(path, NULL, NULL, nets, prefixes, count, meta, extra_keys, extra_vals, nextra);
}

lirf_status lirf_checkpoint_save_mem(void **buf, size_t *len, lirf_net *const *nets,
                                     const char *const *prefixes, size_t count,
                                     const lirf_model_meta *meta, const char *const *extra_keys,
                                     const char *const *extra_vals, size_t nextra) {
    if (!buf || !len) return LIRF_FAIL(LIRF_E_NULL, "checkpoint_save_mem: NULL output");
    return save_any(NULL, buf, len, nets, prefixes, count, meta, extra_keys, extra_vals, nextra);
}

static lirf_status meta_int(const lirf_safetensors *st, const char *path, const char *key, int lo,
                            int hi, int *out) {
    const char *v = lirf_st_meta(st, key);
    if (!v) return LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata has no \"%s\"", path, key);
    char *end;
    long x = strtol(v, &end, 10);
    if (end == v || *end || x < lo || x > hi)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata \"%s\" = \"%.40s\" is not an integer in "
                                        "[%d, %d]", path, key, v, lo, hi);
    *out = (int)x;
    return LIRF_OK;
}

static lirf_status parse_meta(const char *path, lirf_safetensors *st, lirf_model_meta *m);

lirf_status lirf_checkpoint_open(const char *path, lirf_safetensors *st, lirf_model_meta *m) {
    if (!path || !st || !m) return LIRF_FAIL(LIRF_E_NULL, "checkpoint_open: NULL argument");
    memset(m, 0, sizeof *m);
    LIRF_TRY(lirf_st_read(path, st));
    return parse_meta(path, st, m);
}

lirf_status lirf_checkpoint_open_mem(const void *buf, size_t len, const char *what,
                                     lirf_safetensors *st, lirf_model_meta *m) {
    if (!buf || !st || !m) return LIRF_FAIL(LIRF_E_NULL, "checkpoint_open_mem: NULL argument");
    memset(m, 0, sizeof *m);
    LIRF_TRY(lirf_st_read_mem(buf, len, what, st));
    return parse_meta(what, st, m);
}

static lirf_status parse_meta(const char *path, lirf_safetensors *st, lirf_model_meta *m) {
    lirf_status s = LIRF_OK;
    const char *arch = lirf_st_meta(st, "arch");
    if (!arch) s = LIRF_FAIL(LIRF_E_FORMAT, "%s: not a lirf checkpoint (no \"arch\" in the metadata)", path);
    if (s == LIRF_OK) {
        s = lirf_arch_parse(arch, &m->cfg.arch);
        if (s != LIRF_OK) s = LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown arch \"%.40s\"", path, arch);
    }
    if (s == LIRF_OK) s = meta_int(st, path, "width", 0, 1024, &m->cfg.width);
    if (s == LIRF_OK) s = meta_int(st, path, "classes", 2, LIRF_MAX_CLASSES, &m->cfg.classes);
    const char *shape = lirf_st_meta(st, "in_shape");
    if (s == LIRF_OK && (!shape || sscanf(shape, "%d,%d,%d", &m->cfg.in_c, &m->cfg.in_h,
                                          &m->cfg.in_w) != 3 ||
                         m->cfg.in_c < 1 || m->cfg.in_c > 4 || m->cfg.in_h < 1 ||
                         m->cfg.in_h > 4096 || m->cfg.in_w < 1 || m->cfg.in_w > 4096))
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata \"in_shape\" missing or not \"C,H,W\"", path);
    const char *mid = lirf_st_meta(st, "mid");
    if (s == LIRF_OK && mid && lirf_mid_parse(&m->cfg, mid) != LIRF_OK)
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata \"mid\" is not %d integers", path,
                      lirf_arch_blocks(lirf_arch_describe(m->cfg.arch), LIRF_MAX_STAGES));
    for (int c = 0; c < 4; c++) m->mean[c] = 0, m->std[c] = 1;
    const char *pre = lirf_st_meta(st, "preprocess");
    if (s == LIRF_OK && pre) {
        json_error_t err;
        json_t *j = json_loads(pre, 0, &err);
        json_t *mean = j ? json_object_get(j, "mean") : NULL, *sd = j ? json_object_get(j, "std") : NULL;
        if (!json_is_array(mean) || !json_is_array(sd) ||
            json_array_size(mean) != (size_t)m->cfg.in_c || json_array_size(sd) != (size_t)m->cfg.in_c)
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata \"preprocess\" lacks per-channel mean/std",
                          path);
        for (int c = 0; s == LIRF_OK && c < m->cfg.in_c; c++) {
            json_t *a = json_array_get(mean, (size_t)c), *b = json_array_get(sd, (size_t)c);
            if (!json_is_number(a) || !json_is_number(b) || !(json_number_value(b) > 0))
                s = LIRF_FAIL(LIRF_E_FORMAT, "%s: bad preprocess mean/std", path);
            else
                m->mean[c] = (float)json_number_value(a), m->std[c] = (float)json_number_value(b);
        }
        json_decref(j);
    }
    const char *names = lirf_st_meta(st, "class_names");
    if (s == LIRF_OK && names) {
        json_t *j = json_loads(names, 0, NULL);
        size_t n = json_is_array(j) ? json_array_size(j) : 1; /* [] : no names */
        int ok = json_is_array(j) && (n == 0 || n == (size_t)m->cfg.classes);
        for (size_t i = 0; ok && i < json_array_size(j); i++) ok = json_is_string(json_array_get(j, i));
        if (!ok)
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata \"class_names\" is not a JSON array of %d "
                          "strings (one a class) or []", path, m->cfg.classes);
        else if (n && !(m->class_names = calloc((size_t)m->cfg.classes, sizeof *m->class_names)))
            s = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        for (int i = 0; s == LIRF_OK && n && i < m->cfg.classes; i++)
            if (!(m->class_names[i] = strdup(json_string_value(json_array_get(j, (size_t)i)))))
                s = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        json_decref(j);
    }
    const char *split = lirf_st_meta(st, "split");
    if (split) snprintf(m->split, sizeof m->split, "%s", split);
    m->cfg.first = 0;
    m->cfg.last = lirf_arch_stages(m->cfg.arch) - 1;
    if (s != LIRF_OK) {
        lirf_model_meta_free(m);
        lirf_st_free(st);
    }
    return s;
}

static const lirf_st_tensor *find_alias(const lirf_safetensors *st, const char *prefix,
                                        const char *name) {
    char full[256];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    const lirf_st_tensor *t = lirf_st_find(st, full);
    if (t) return t;
    /* the other common CIFAR naming: shortcut.0/1, linear */
    char alt[256];
    const char *p = strstr(name, "downsample.");
    if (p) {
        snprintf(alt, sizeof alt, "%s%.*sshortcut.%s", prefix, (int)(p - name), name,
                 p + strlen("downsample."));
        return lirf_st_find(st, alt);
    }
    if (!strncmp(name, "fc.", 3)) {
        snprintf(alt, sizeof alt, "%slinear.%s", prefix, name + 3);
        return lirf_st_find(st, alt);
    }
    return NULL;
}

lirf_status lirf_checkpoint_load_net(const lirf_safetensors *st, const char *path,
                                     const char *prefix, lirf_net *net) {
    if (!st || !net) return LIRF_FAIL(LIRF_E_NULL, "checkpoint_load_net: NULL argument");
    if (!prefix) prefix = "";
    for (size_t i = 0; i < lirf_net_ntensors(net); i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(net, i);
        const lirf_st_tensor *t = find_alias(st, prefix, d->name);
        if (!t) {
            if (d->kind == LIRF_T_COUNT) continue; /* optional: older exports omit it */
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s%s' is missing", path, prefix, d->name);
        }
        if (d->kind == LIRF_T_COUNT) {
            if (t->dtype != LIRF_I64 || lirf_st_numel(t) != 1)
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s%s' must be one int64", path,
                                 prefix, d->name);
        } else {
            if (t->dtype != LIRF_F32)
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s%s' has dtype %s, expected F32",
                                 path, prefix, d->name, lirf_dtype_name(t->dtype));
            int same = t->ndim == d->ndim;
            for (int j = 0; same && j < d->ndim; j++) same = t->shape[j] == d->shape[j];
            if (!same) {
                char a[96] = "", b[96] = "";
                size_t ka = 0, kb = 0;
                for (int j = 0; j < t->ndim && ka < 80; j++)
                    ka += (size_t)snprintf(a + ka, sizeof a - ka, "%s%lld", j ? "," : "",
                                           (long long)t->shape[j]);
                for (int j = 0; j < d->ndim && kb < 80; j++)
                    kb += (size_t)snprintf(b + kb, sizeof b - kb, "%s%d", j ? "," : "", d->shape[j]);
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s%s' has shape [%s], expected [%s]",
                                 path, prefix, d->name, a, b);
            }
        }
        LIRF_TRY(lirf_net_tensor_set(net, i, t->data));
    }
    return LIRF_OK;
}

lirf_status lirf_checkpoint_make_net(lirf_ctx *ctx, const lirf_safetensors *st, const char *path,
                                     const lirf_model_meta *meta, const char *prefix, int first,
                                     int last, lirf_net **out) {
    lirf_net_config c = meta->cfg;
    c.first = first, c.last = last;
    lirf_net *n;
    LIRF_TRY(lirf_net_create(ctx, &c, &n));
    lirf_status s = lirf_net_init(n, 0);
    if (s == LIRF_OK) s = lirf_checkpoint_load_net(st, path, prefix, n);
    if (s != LIRF_OK) {
        lirf_net_destroy(n);
        return s;
    }
    *out = n;
    return LIRF_OK;
}

lirf_status lirf_checkpoint_load(lirf_ctx *ctx, const char *path, lirf_model_meta *meta,
                                 lirf_net **out) {
    lirf_safetensors st;
    LIRF_TRY(lirf_checkpoint_open(path, &st, meta));
    lirf_status s = lirf_checkpoint_make_net(ctx, &st, path, meta, "", 0,
                                             lirf_arch_stages(meta->cfg.arch) - 1, out);
    lirf_st_free(&st);
    if (s != LIRF_OK) lirf_model_meta_free(meta);
    return s;
}

const lirf_st_tensor *lirf_checkpoint_find(const lirf_safetensors *st, const char *prefix,
                                           const char *name) {
    if (!st || !name) return NULL;
    return find_alias(st, prefix ? prefix : "", name);
}
