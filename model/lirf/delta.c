/* Delta deposits: encoding and applying what the target's lower part lost
 * (delta.h). */
#include "delta.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const CODEC_NAMES[] = {"int8", "f16", "f32"};

const char *lirf_delta_codec_name(lirf_delta_codec c) {
    return (unsigned)c < 3 ? CODEC_NAMES[c] : "?";
}

lirf_status lirf_delta_codec_parse(const char *text, lirf_delta_codec *c) {
    for (int i = 0; text && i < 3; i++)
        if (!strcmp(text, CODEC_NAMES[i])) {
            *c = (lirf_delta_codec)i;
            return LIRF_OK;
        }
    return LIRF_FAIL(LIRF_E_INVALID, "delta codec \"%.40s\": choose int8, f16 or f32",
                     text ? text : "(none)");
}

/* ---- half precision ---- */
uint16_t lirf_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    uint32_t ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return sign | 0x7e00u;     /* NaN */
    if (ax >= 0x47800000u) return sign | 0x7c00u;    /* >= 2^16 (and inf): infinity */
    if (ax < 0x38800000u) {                          /* below 2^-14: subnormal or zero */
        float a;
        memcpy(&a, &ax, sizeof a);
        /* a * 2^24 is exact; lrintf rounds to nearest even; 1024 is the
         * smallest normal, whose bits are exactly 0x0400 */
        return sign | (uint16_t)lrintf(a * 16777216.0f);
    }
    uint32_t h = ((ax >> 23) - 112u) << 10 | ((ax >> 13) & 0x3ffu); /* exponent 127 -> 15 */
    uint32_t rest = ax & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* may carry into infinity */
    return sign | (uint16_t)h;
}

float lirf_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float v = (float)m / 16777216.0f; /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    if (e == 31) x = sign | 0x7f800000u | (m << 13);
    else x = sign | ((e + 112u) << 23) | (m << 13);
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

/* ---- the member's tensor list ---- */
typedef struct {
    lirf_st_tensor *t;
    size_t n, cap;
} tlist;

static void tlist_free(tlist *L) {
    for (size_t i = 0; i < L->n; i++) free(L->t[i].name), free(L->t[i].data);
    free(L->t);
}

/* Appends NAME SUFFIX (data owned by L from now on, also on failure). */
static lirf_status tlist_add(tlist *L, const char *name, const char *suffix, lirf_dtype dt,
                             int ndim, const int *shape, void *data, size_t nbytes) {
    if (L->n == L->cap) {
        size_t cap = L->cap ? 2 * L->cap : 64;
        lirf_st_tensor *t = realloc(L->t, cap * sizeof *t);
        if (!t) return free(data), LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        L->t = t, L->cap = cap;
    }
    size_t len = strlen(name) + strlen(suffix) + 1;
    char *nm = malloc(len);
    if (!nm) return free(data), LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    snprintf(nm, len, "%s%s", name, suffix);
    lirf_st_tensor *t = &L->t[L->n++];
    memset(t, 0, sizeof *t);
    t->name = nm, t->dtype = dt, t->ndim = ndim, t->data = data, t->nbytes = nbytes;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i];
    return LIRF_OK;
}

/* A tensor's host copy (float32, or int64 for a counter); free() it. */
static lirf_status host_copy(lirf_net *net, size_t i, void **out) {
    const lirf_tensor_desc *d = lirf_net_tensor(net, i);
    size_t bytes = d->kind == LIRF_T_COUNT ? sizeof(int64_t) : d->n * sizeof(float);
    *out = malloc(bytes ? bytes : 1);
    if (!*out) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = lirf_net_tensor_get(net, i, *out);
    if (st != LIRF_OK) free(*out), *out = NULL;
    return st;
}

static int is_conv(const lirf_tensor_desc *d) { return d->kind == LIRF_T_PARAM && d->ndim >= 2; }

/* int8 with one scale per output channel. D = t0 - tg, finite (checked). */
static lirf_status encode_int8(const float *D, const lirf_tensor_desc *d, tlist *L) {
    size_t O = (size_t)d->shape[0], per = d->n / O;
    int8_t *q = malloc(d->n);
    float *sc = malloc(O * sizeof *sc);
    if (!q || !sc) return free(q), free(sc), LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t o = 0; o < O; o++) {
        float m = 0;
        for (size_t k = 0; k < per; k++) m = fmaxf(m, fabsf(D[o * per + k]));
        sc[o] = m / 127.0f;
        for (size_t k = 0; k < per; k++) {
            long v = sc[o] > 0 ? lrintf(D[o * per + k] / sc[o]) : 0;
            q[o * per + k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
        }
    }
    int oshape[1] = {d->shape[0]};
    lirf_status st = tlist_add(L, d->name, ".delta", LIRF_I8, d->ndim, d->shape, q, d->n);
    if (st != LIRF_OK) return free(sc), st;
    return tlist_add(L, d->name, ".delta_scale", LIRF_F32, 1, oshape, sc, O * sizeof *sc);
}

/* One tensor of the lower part into L (t0v, tgv: host copies; taken over). */
static lirf_status encode_tensor(const lirf_tensor_desc *d, float *t0v, float *tgv,
                                 lirf_delta_codec codec, tlist *L, size_t *stored) {
    if (d->kind != LIRF_T_PARAM) { /* T0's statistics and counter themselves */
        *stored += d->kind == LIRF_T_COUNT ? 1 : d->n;
        free(tgv);
        return tlist_add(L, d->name, "", d->kind == LIRF_T_COUNT ? LIRF_I64 : LIRF_F32, d->ndim,
                         d->shape, t0v, d->kind == LIRF_T_COUNT ? 8 : d->n * sizeof(float));
    }
    for (size_t k = 0; k < d->n; k++) {
        t0v[k] -= tgv[k];
        if (!isfinite(t0v[k])) {
            free(t0v), free(tgv);
            return LIRF_FAIL(LIRF_E_NUMERIC, "delta of %s is not finite at element %zu", d->name, k);
        }
    }
    free(tgv);
    *stored += d->n;
    if (!is_conv(d) || codec == LIRF_DELTA_F32)
        return tlist_add(L, d->name, ".delta", LIRF_F32, d->ndim, d->shape, t0v, d->n * 4);
    if (codec == LIRF_DELTA_INT8) {
        lirf_status st = encode_int8(t0v, d, L);
        free(t0v);
        return st;
    }
    uint16_t *h = malloc(d->n * sizeof *h);
    lirf_status st = h ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t k = 0; !st && k < d->n; k++)
        if (((h[k] = lirf_f32_to_f16(t0v[k])) & 0x7c00u) == 0x7c00u)
            st = LIRF_FAIL(LIRF_E_NUMERIC, "delta of %s exceeds half precision at element %zu (%g)"
                           ": use the f32 codec", d->name, k, (double)t0v[k]);
    free(t0v);
    if (st != LIRF_OK) return free(h), st;
    return tlist_add(L, d->name, ".delta", LIRF_F16, d->ndim, d->shape, h, d->n * sizeof *h);
}

lirf_status lirf_delta_encode(lirf_net *t0_lower, lirf_net *target_lower, lirf_delta_codec codec,
                              void **buf, size_t *len, size_t *stored) {
    if (!t0_lower || !target_lower || !buf || !len || !stored || (unsigned)codec > 2)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_delta_encode: bad argument");
    *stored = 0;
    size_t nt = lirf_net_ntensors(target_lower);
    if (lirf_net_ntensors(t0_lower) != nt)
        return LIRF_FAIL(LIRF_E_SHAPE, "delta: T0's lower part and the target's differ");
    tlist L = {0};
    lirf_status st = LIRF_OK;
    for (size_t i = 0; i < nt && !st; i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(target_lower, i), *e = lirf_net_tensor(t0_lower, i);
        if (strcmp(d->name, e->name) || d->n != e->n || d->kind != e->kind)
            st = LIRF_FAIL(LIRF_E_SHAPE, "delta: T0's %s does not match the target's %s", e->name,
                           d->name);
        void *a = NULL, *b = NULL;
        if (!st) st = host_copy(t0_lower, i, &a);
        if (!st) st = host_copy(target_lower, i, &b);
        if (!st) st = encode_tensor(d, a, b, codec, &L, stored);
        else free(a), free(b);
    }
    const char *keys[] = {"format", "lirf_kind", "codec"};
    const char *vals[] = {LIRF_DELTA_FORMAT, "deposit_delta", lirf_delta_codec_name(codec)};
    if (!st) st = lirf_st_write_mem(L.t, L.n, keys, vals, 3, buf, len);
    tlist_free(&L);
    return st;
}

/* ---- applying ---- */
static lirf_status expect(const lirf_safetensors *m, const char *what, const char *name,
                          const char *suffix, lirf_dtype dt, int ndim, const int *shape,
                          const lirf_st_tensor **out) {
    char full[160];
    int64_t s64[4];
    for (int i = 0; i < ndim; i++) s64[i] = shape[i];
    snprintf(full, sizeof full, "%s%s", name, suffix);
    lirf_status st = lirf_st_expect(m, full, dt, ndim, s64, out);
    return st ? lirf_error_context(st, "%s (a delta archive's member)", what) : LIRF_OK;
}

static lirf_status not_finite(const char *what, const char *name, size_t k) {
    return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s holds a value that is not finite (element %zu)", what,
                     name, k);
}

/* The conv weight's decoded delta added to v (the target's values), into v. */
static lirf_status apply_conv(const lirf_safetensors *m, const char *what, const lirf_tensor_desc *d,
                              lirf_delta_codec codec, float *v) {
    const lirf_st_tensor *q, *s;
    if (codec == LIRF_DELTA_INT8) {
        int oshape[1] = {d->shape[0]};
        LIRF_TRY(expect(m, what, d->name, ".delta", LIRF_I8, d->ndim, d->shape, &q));
        LIRF_TRY(expect(m, what, d->name, ".delta_scale", LIRF_F32, 1, oshape, &s));
        const int8_t *qv = q->data;
        size_t O = (size_t)d->shape[0], per = d->n / O;
        for (size_t o = 0; o < O; o++) {
            float sc;
            memcpy(&sc, (const char *)s->data + 4 * o, 4);
            if (!isfinite(sc) || sc < 0) return not_finite(what, s->name, o);
            for (size_t k = o * per; k < (o + 1) * per; k++)
                v[k] = (float)((double)v[k] + (double)qv[k] * (double)sc);
        }
        return LIRF_OK;
    }
    lirf_dtype dt = codec == LIRF_DELTA_F16 ? LIRF_F16 : LIRF_F32;
    LIRF_TRY(expect(m, what, d->name, ".delta", dt, d->ndim, d->shape, &q));
    for (size_t k = 0; k < d->n; k++) {
        float x;
        if (dt == LIRF_F16) {
            uint16_t h;
            memcpy(&h, (const char *)q->data + 2 * k, 2);
            x = lirf_f16_to_f32(h);
        } else {
            memcpy(&x, (const char *)q->data + 4 * k, 4);
        }
        if (!isfinite(x)) return not_finite(what, q->name, k);
        v[k] += x;
    }
    return LIRF_OK;
}

/* v (the target's values of d) becomes the recovered values; *used counts
 * the member tensors read. */
static lirf_status apply_tensor(const lirf_safetensors *m, const char *what,
                                const lirf_tensor_desc *d, lirf_delta_codec codec, void *v,
                                size_t *used) {
    const lirf_st_tensor *t;
    if (d->kind == LIRF_T_COUNT) {
        LIRF_TRY(expect(m, what, d->name, "", LIRF_I64, d->ndim, d->shape, &t));
        memcpy(v, t->data, sizeof(int64_t));
        return (*used)++, LIRF_OK;
    }
    float *f = v;
    if (d->kind == LIRF_T_STAT) {
        LIRF_TRY(expect(m, what, d->name, "", LIRF_F32, d->ndim, d->shape, &t));
        memcpy(f, t->data, d->n * sizeof *f);
        for (size_t k = 0; k < d->n; k++)
            if (!isfinite(f[k]) || (strstr(d->name, "running_var") && f[k] < 0))
                return not_finite(what, t->name, k);
        return (*used)++, LIRF_OK;
    }
    if (is_conv(d)) {
        *used += codec == LIRF_DELTA_INT8 ? 2 : 1;
        return apply_conv(m, what, d, codec, f);
    }
    LIRF_TRY(expect(m, what, d->name, ".delta", LIRF_F32, d->ndim, d->shape, &t));
    for (size_t k = 0; k < d->n; k++) {
        float x;
        memcpy(&x, (const char *)t->data + 4 * k, 4);
        if (!isfinite(x)) return not_finite(what, t->name, k);
        f[k] += x;
    }
    return (*used)++, LIRF_OK;
}

/* Every tensor's recovered values into vals[i] (allocated here). */
static lirf_status decode_all(const lirf_safetensors *m, const char *what, lirf_net *lower,
                              lirf_delta_codec codec, void **vals) {
    size_t used = 0, nt = lirf_net_ntensors(lower);
    for (size_t i = 0; i < nt; i++) {
        LIRF_TRY(host_copy(lower, i, &vals[i]));
        LIRF_TRY(apply_tensor(m, what, lirf_net_tensor(lower, i), codec, vals[i], &used));
    }
    if (used != m->count)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %zu tensors, where a %s delta of this network has "
                         "%zu", what, m->count, lirf_delta_codec_name(codec), used);
    return LIRF_OK;
}

lirf_status lirf_delta_apply(const lirf_safetensors *member, const char *what, lirf_net *lower) {
    if (!member || !what || !lower) return LIRF_FAIL(LIRF_E_NULL, "lirf_delta_apply: NULL argument");
    const char *fmt = lirf_st_meta(member, "format"), *cname = lirf_st_meta(member, "codec");
    if (!fmt || strcmp(fmt, LIRF_DELTA_FORMAT))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a delta (format \"%.40s\", expected \"%s\")", what,
                         fmt ? fmt : "(none)", LIRF_DELTA_FORMAT);
    lirf_delta_codec codec = LIRF_DELTA_INT8; /* set by the parse (GCC -O2 cannot tell) */
    if (lirf_delta_codec_parse(cname, &codec) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown delta codec \"%.40s\"", what,
                         cname ? cname : "(none)");
    size_t nt = lirf_net_ntensors(lower);
    void **vals = calloc(nt ? nt : 1, sizeof *vals);
    if (!vals) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = decode_all(member, what, lower, codec, vals);
    for (size_t i = 0; i < nt && !st; i++) st = lirf_net_tensor_set(lower, i, vals[i]);
    for (size_t i = 0; i < nt; i++) free(vals[i]);
    free(vals);
    return st;
}
