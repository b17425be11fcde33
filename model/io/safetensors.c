/* safetensors read / write (see safetensors.h and
 * https://huggingface.co/docs/safetensors).
 *
 * Layout: u64 LE header length N | N bytes of JSON (padded with spaces to a
 * multiple of 8 when we write) | data section. Every tensor's data_offsets are
 * relative to the start of the data section; sorted by offset, the byte ranges
 * must tile the data section exactly (no gap, no overlap, no trailing bytes).
 *
 * The data bytes are little-endian; this file assumes a little-endian host and
 * refuses to run on another (LIRF_E_UNSUPPORTED).
 */
#include "fileutil.h"
#include "safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#define ST_MAX_HEADER 100000000ull /* the limit of the reference implementation */
#define ST_META_KEY "__metadata__"
#define ST_NDTYPES 6

static const char *const DTYPE_NAMES[ST_NDTYPES] = {"F32", "I64", "I32", "U8", "I8", "F16"};
static const size_t DTYPE_SIZES[ST_NDTYPES] = {4, 8, 4, 1, 1, 2};

size_t lirf_dtype_size(lirf_dtype t) {
    return (unsigned)t < ST_NDTYPES ? DTYPE_SIZES[t] : 0;
}

const char *lirf_dtype_name(lirf_dtype t) {
    return (unsigned)t < ST_NDTYPES ? DTYPE_NAMES[t] : "?";
}

/* Element count of a shape; 0 (and *n untouched) on a negative entry or a
 * product that overflows size_t. A 0-dim shape has one element. */
static int shape_numel(int ndim, const int64_t *shape, size_t *n) {
    size_t p = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || (uint64_t)shape[i] > SIZE_MAX) return 0;
        size_t d = (size_t)shape[i];
        if (d && p > SIZE_MAX / d) return 0;
        p *= d;
    }
    *n = p;
    return 1;
}

/* SIZE_MAX for an invalid tensor (bad ndim, negative or overflowing shape). */
size_t lirf_st_numel(const lirf_st_tensor *t) {
    size_t n;
    if (!t || t->ndim < 0 || t->ndim > LIRF_ST_MAX_DIMS || !shape_numel(t->ndim, t->shape, &n))
        return SIZE_MAX;
    return n;
}

static int host_is_le(void) {
    const uint16_t one = 1;
    return *(const uint8_t *)&one == 1;
}

static uint64_t get_le64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void put_le64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A printable, bounded rendering of an untrusted name for messages. */
typedef struct { char s[200]; } qbuf;
static const char *qname(const char *name, qbuf *q) {
    size_t k = 0, cap = sizeof q->s;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (k + 8 >= cap) {
            memcpy(q->s + k, "...", 4);
            return q->s;
        }
        if (*p < 0x20 || *p == 0x7f || *p == '\\' || *p == '\'')
            k += (size_t)snprintf(q->s + k, cap - k, "\\x%02x", *p);
        else
            q->s[k++] = (char)*p;
    }
    q->s[k] = 0;
    return q->s;
}

/* "[16,16,3,3]", "[]" for a scalar. */
typedef struct { char s[8 + LIRF_ST_MAX_DIMS * 21]; } shapebuf;
static const char *fmt_shape(int ndim, const int64_t *shape, shapebuf *b) {
    size_t k = 0;
    b->s[k++] = '[';
    for (int i = 0; i < ndim && i < LIRF_ST_MAX_DIMS; i++)
        k += (size_t)snprintf(b->s + k, sizeof b->s - k, "%s%" PRId64, i ? "," : "", shape[i]);
    b->s[k++] = ']';
    b->s[k] = 0;
    return b->s;
}

/* ---- reading ------------------------------------------------------------ */

void lirf_st_free(lirf_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->count; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    for (size_t i = 0; i < st->meta_count; i++) {
        free(st->meta_keys[i]);
        free(st->meta_vals[i]);
    }
    free(st->meta_keys);
    free(st->meta_vals);
    memset(st, 0, sizeof *st);
}

/* A JSON integer in [0, INT64_MAX] (jansson integers are long long). */
static int json_nonneg_int(const json_t *v, int64_t *out) {
    if (!json_is_integer(v)) return 0;
    json_int_t x = json_integer_value(v);
    if (x < 0) return 0;
    *out = (int64_t)x;
    return 1;
}

static lirf_status parse_metadata(const char *what, json_t *meta, lirf_safetensors *out) {
    if (!json_is_object(meta))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: '" ST_META_KEY "' is not a JSON object", what);
    size_t n = json_object_size(meta);
    out->meta_keys = calloc(n ? n : 1, sizeof *out->meta_keys);
    out->meta_vals = calloc(n ? n : 1, sizeof *out->meta_vals);
    if (!out->meta_keys || !out->meta_vals)
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory for %zu metadata entries", what, n);
    const char *key;
    json_t *val;
    json_object_foreach(meta, key, val) {
        qbuf q;
        if (!json_is_string(val))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: metadata '%s': value is not a string", what,
                             qname(key, &q));
        size_t i = out->meta_count;
        out->meta_keys[i] = strdup(key);
        out->meta_vals[i] = strdup(json_string_value(val));
        out->meta_count++; /* counted now so that lirf_st_free frees both */
        if (!out->meta_keys[i] || !out->meta_vals[i])
            return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory for metadata", what);
    }
    return LIRF_OK;
}

/* Checks one header entry and fills t (name, dtype, shape, nbytes) and its
 * byte range [*begin, *end) inside a data section of dlen bytes. */
static lirf_status parse_entry(const char *what, const char *name, json_t *e, size_t dlen,
                               lirf_st_tensor *t, size_t *begin, size_t *end) {
    qbuf q;
    const char *qn = qname(name, &q);
    if (!json_is_object(e))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': entry is not a JSON object", what, qn);
    const char *key;
    json_t *v;
    json_object_foreach(e, key, v) {
        if (strcmp(key, "dtype") && strcmp(key, "shape") && strcmp(key, "data_offsets")) {
            qbuf qk;
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': unexpected field '%s'", what, qn,
                             qname(key, &qk));
        }
    }
    json_t *jd = json_object_get(e, "dtype"), *js = json_object_get(e, "shape");
    json_t *jo = json_object_get(e, "data_offsets");
    if (!jd || !js || !jo)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': missing field '%s'", what, qn,
                         !jd ? "dtype" : !js ? "shape" : "data_offsets");

    if (!json_is_string(jd))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': dtype is not a string", what, qn);
    const char *dname = json_string_value(jd);
    int dt = -1;
    for (int i = 0; i < ST_NDTYPES; i++)
        if (!strcmp(dname, DTYPE_NAMES[i])) dt = i;
    if (dt < 0) {
        qbuf qd;
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: tensor '%s': dtype '%s' is not supported (F32, I64, I32, U8, I8 or F16)",
                         what, qn, qname(dname, &qd));
    }
    t->dtype = (lirf_dtype)dt;

    if (!json_is_array(js))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': shape is not a JSON array", what, qn);
    size_t nd = json_array_size(js);
    if (nd > LIRF_ST_MAX_DIMS)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': shape has %zu dimensions, at most %d",
                         what, qn, nd, LIRF_ST_MAX_DIMS);
    t->ndim = (int)nd;
    for (size_t i = 0; i < nd; i++)
        if (!json_nonneg_int(json_array_get(js, i), &t->shape[i]))
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: tensor '%s': shape entry %zu is not a non-negative integer",
                             what, qn, i);
    size_t numel;
    shapebuf sb;
    if (!shape_numel(t->ndim, t->shape, &numel) || numel > SIZE_MAX / DTYPE_SIZES[dt])
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': shape %s has too many elements", what,
                         qn, fmt_shape(t->ndim, t->shape, &sb));
    t->nbytes = numel * DTYPE_SIZES[dt];

    int64_t b, en;
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        !json_nonneg_int(json_array_get(jo, 0), &b) || !json_nonneg_int(json_array_get(jo, 1), &en))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: tensor '%s': data_offsets is not [begin, end] of non-negative "
                         "integers", what, qn);
    if (b > en || (uint64_t)en > dlen)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64
                         "] outside the data section of %zu bytes", what, qn, b, en, dlen);
    *begin = (size_t)b;
    *end = (size_t)en;
    if (*end - *begin != t->nbytes)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: tensor '%s': data_offsets [%" PRId64 ", %" PRId64 "] hold %zu bytes "
                         "but %s %s needs %zu", what, qn, b, en, *end - *begin, DTYPE_NAMES[dt],
                         fmt_shape(t->ndim, t->shape, &sb), t->nbytes);
    return LIRF_OK;
}

typedef struct { size_t begin, end, idx; } st_span;

static int span_cmp(const void *a, const void *b) {
    const st_span *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* The byte ranges must tile [0, dlen) exactly. */
static lirf_status check_tiling(const char *what, const lirf_safetensors *st, st_span *sp,
                                size_t dlen) {
    qsort(sp, st->count, sizeof *sp, span_cmp);
    size_t pos = 0;
    for (size_t i = 0; i < st->count; i++) {
        qbuf q, q2;
        const char *qn = qname(st->tensors[sp[i].idx].name, &q);
        if (sp[i].begin < pos)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: tensor '%s': bytes [%zu, %zu) overlap tensor '%s' (ends at %zu)",
                             what, qn, sp[i].begin, sp[i].end,
                             qname(st->tensors[sp[i - 1].idx].name, &q2), pos);
        if (sp[i].begin > pos)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: tensor '%s': gap of %zu bytes before it (begins at %zu, "
                             "previous data ends at %zu)", what, qn, sp[i].begin - pos,
                             sp[i].begin, pos);
        pos = sp[i].end;
    }
    if (pos != dlen)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: %zu trailing bytes after the last tensor (data section %zu bytes, "
                         "tensors cover %zu)", what, dlen - pos, dlen, pos);
    return LIRF_OK;
}

lirf_status lirf_st_read_mem(const void *buf, size_t len, const char *what,
                             lirf_safetensors *out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_read_mem: out is NULL");
    memset(out, 0, sizeof *out);
    if (!what) what = "<memory>";
    if (!buf && len) return LIRF_FAIL(LIRF_E_NULL, "%s: buffer is NULL", what);
    if (!host_is_le())
        return LIRF_FAIL(LIRF_E_UNSUPPORTED, "%s: safetensors needs a little-endian host", what);
    const unsigned char *p = buf;
    if (len < 8)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: %zu bytes is too short for a safetensors file (at least 8)", what,
                         len);
    uint64_t n = get_le64(p);
    if (n > ST_MAX_HEADER)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: header length %" PRIu64 " exceeds the limit of %llu",
                         what, n, ST_MAX_HEADER);
    if (n > len - 8)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: header length %" PRIu64 " runs past the end of the file (%zu bytes)",
                         what, n, len);
    const unsigned char *data = p + 8 + n;
    size_t dlen = len - 8 - (size_t)n;

    json_error_t jerr;
    json_t *root = json_loadb((const char *)p + 8, (size_t)n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: invalid JSON header at line %d, column %d: %s", what,
                         jerr.line, jerr.column, jerr.text);
    lirf_status st = LIRF_OK;
    st_span *spans = NULL;
    if (!json_is_object(root)) {
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: the JSON header is not an object", what);
        goto done;
    }
    size_t cap = json_object_size(root);
    out->tensors = calloc(cap ? cap : 1, sizeof *out->tensors);
    spans = calloc(cap ? cap : 1, sizeof *spans);
    if (!out->tensors || !spans) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory for %zu tensors", what, cap);
        goto done;
    }
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, ST_META_KEY)) {
            st = parse_metadata(what, val, out);
            if (st != LIRF_OK) goto done;
            continue;
        }
        size_t i = out->count;
        lirf_st_tensor *t = &out->tensors[i];
        st = parse_entry(what, key, val, dlen, t, &spans[i].begin, &spans[i].end);
        if (st != LIRF_OK) goto done;
        spans[i].idx = i;
        t->name = strdup(key);
        out->count++;
        if (!t->name) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", what);
            goto done;
        }
    }
    st = check_tiling(what, out, spans, dlen);
    if (st != LIRF_OK) goto done;
    /* Own, malloc-aligned copies: offsets in an outside file need not be aligned. */
    for (size_t i = 0; i < out->count; i++) {
        size_t b = spans[i].begin;
        lirf_st_tensor *t = &out->tensors[spans[i].idx];
        t->data = malloc(t->nbytes ? t->nbytes : 1);
        if (!t->data) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory for %zu bytes", what, t->nbytes);
            goto done;
        }
        if (t->nbytes) memcpy(t->data, data + b, t->nbytes);
    }
done:
    free(spans);
    json_decref(root);
    if (st != LIRF_OK) lirf_st_free(out);
    return st;
}

lirf_status lirf_st_read(const char *path, lirf_safetensors *out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_read: out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_read: path is NULL");
    FILE *f = fopen(path, "rb");
    if (!f) return LIRF_FAIL(LIRF_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0) {
        int e = errno;
        fclose(f);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        fclose(f);
        return LIRF_FAIL(LIRF_E_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < 0 || (uintmax_t)sb.st_size > SIZE_MAX) {
        fclose(f);
        return LIRF_FAIL(LIRF_E_IO, "%s: file too large", path);
    }
    size_t len = (size_t)sb.st_size;
    unsigned char *buf = malloc(len ? len : 1);
    if (!buf) {
        fclose(f);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory for %zu bytes", path, len);
    }
    size_t got = fread(buf, 1, len, f);
    int e = errno, err = ferror(f);
    fclose(f);
    if (got != len) {
        free(buf);
        if (err) return LIRF_FAIL(LIRF_E_IO, "%s: read failed: %s", path, strerror(e));
        return LIRF_FAIL(LIRF_E_IO, "%s: file shrank while reading (%zu of %zu bytes)", path,
                         got, len);
    }
    lirf_status st = lirf_st_read_mem(buf, len, path, out);
    free(buf);
    return st;
}

const lirf_st_tensor *lirf_st_find(const lirf_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (size_t i = 0; i < st->count; i++)
        if (st->tensors[i].name && !strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *lirf_st_meta(const lirf_safetensors *st, const char *key) {
    if (!st || !key) return NULL;
    for (size_t i = 0; i < st->meta_count; i++)
        if (st->meta_keys[i] && !strcmp(st->meta_keys[i], key)) return st->meta_vals[i];
    return NULL;
}

lirf_status lirf_st_expect(const lirf_safetensors *st, const char *name, lirf_dtype dtype,
                           int ndim, const int64_t *shape, const lirf_st_tensor **out) {
    if (out) *out = NULL;
    if (!st || !name) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_expect: st or name is NULL");
    if (ndim < 0 || ndim > LIRF_ST_MAX_DIMS || (ndim > 0 && !shape) ||
        (unsigned)dtype >= ST_NDTYPES)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_st_expect: bad dtype %d or ndim %d for '%s'",
                         (int)dtype, ndim, name);
    qbuf q;
    const lirf_st_tensor *t = lirf_st_find(st, name);
    if (!t)
        return LIRF_FAIL(LIRF_E_NOT_FOUND, "tensor '%s' not found (%zu tensors in the file)",
                         qname(name, &q), st->count);
    if (t->dtype != dtype)
        return LIRF_FAIL(LIRF_E_FORMAT, "tensor '%s' has dtype %s, expected %s", qname(name, &q),
                         lirf_dtype_name(t->dtype), lirf_dtype_name(dtype));
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        shapebuf a, b;
        return LIRF_FAIL(LIRF_E_FORMAT, "tensor '%s' has shape %s, expected %s", qname(name, &q),
                         fmt_shape(t->ndim, t->shape, &a), fmt_shape(ndim, shape, &b));
    }
    if (out) *out = t;
    return LIRF_OK;
}

/* ---- writing ------------------------------------------------------------ */

/* The metadata as root's ST_META_KEY object (meta_count > 0). */
static lirf_status header_meta(json_t *root, const char *const *meta_keys,
                               const char *const *meta_vals, size_t meta_count) {
    json_t *meta = json_object();
    if (!meta || json_object_set_new(root, ST_META_KEY, meta))
        return LIRF_FAIL(LIRF_E_NOMEM, "safetensors write: out of memory");
    for (size_t i = 0; i < meta_count; i++) {
        if (!meta_keys[i] || !meta_vals[i])
            return LIRF_FAIL(LIRF_E_NULL, "safetensors write: metadata entry %zu is NULL", i);
        if (json_object_get(meta, meta_keys[i]))
            return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: duplicate metadata key '%s'",
                             meta_keys[i]);
        json_t *v = json_string(meta_vals[i]);
        if (!v || json_object_set_new(meta, meta_keys[i], v))
            return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: metadata '%s' is not valid UTF-8",
                             meta_keys[i]);
    }
    return LIRF_OK;
}

/* Tensor i is well formed and fits after off bytes of data. */
static lirf_status tensor_ok(const json_t *root, const lirf_st_tensor *t, size_t i, size_t off) {
    if (!t->name) return LIRF_FAIL(LIRF_E_NULL, "safetensors write: tensor %zu has no name", i);
    if (!strcmp(t->name, ST_META_KEY) || json_object_get(root, t->name))
        return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: tensor '%s': duplicate or "
                         "reserved name", t->name);
    if ((unsigned)t->dtype >= ST_NDTYPES || t->ndim < 0 || t->ndim > LIRF_ST_MAX_DIMS)
        return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: tensor '%s': bad dtype %d or "
                         "ndim %d", t->name, (int)t->dtype, t->ndim);
    size_t numel = lirf_st_numel(t);
    if (numel == SIZE_MAX || numel > SIZE_MAX / DTYPE_SIZES[t->dtype])
        return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: tensor '%s': bad shape", t->name);
    if (t->nbytes != numel * DTYPE_SIZES[t->dtype]) {
        shapebuf sb;
        return LIRF_FAIL(LIRF_E_SHAPE, "safetensors write: tensor '%s': %zu bytes but %s %s "
                         "needs %zu", t->name, t->nbytes, DTYPE_NAMES[t->dtype],
                         fmt_shape(t->ndim, t->shape, &sb), numel * DTYPE_SIZES[t->dtype]);
    }
    if (t->nbytes && !t->data)
        return LIRF_FAIL(LIRF_E_NULL, "safetensors write: tensor '%s': data is NULL", t->name);
    if (t->nbytes > (size_t)INT64_MAX - off)
        return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: data section too large");
    return LIRF_OK;
}

/* root[t->name] = {dtype, shape, data_offsets [off, off + nbytes]}. */
static lirf_status tensor_entry(json_t *root, const lirf_st_tensor *t, size_t off) {
    json_t *e = json_object(), *shape = json_array(), *offs = json_array();
    int bad = !e || !shape || !offs;
    for (int d = 0; !bad && d < t->ndim; d++)
        bad = json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) != 0;
    bad = bad || json_array_append_new(offs, json_integer((json_int_t)off)) ||
          json_array_append_new(offs, json_integer((json_int_t)(off + t->nbytes)));
    /* set_new steals the reference even on failure */
    bad = bad || json_object_set_new(e, "dtype", json_string(DTYPE_NAMES[t->dtype]));
    if (!bad) {
        bad = json_object_set_new(e, "shape", shape) != 0;
        bad = json_object_set_new(e, "data_offsets", offs) != 0 || bad;
        shape = offs = NULL;
    }
    if (bad) {
        json_decref(e);
        json_decref(shape);
        json_decref(offs);
        return LIRF_FAIL(LIRF_E_NOMEM, "safetensors write: out of memory");
    }
    if (json_object_set_new(root, t->name, e))
        return LIRF_FAIL(LIRF_E_INVALID, "safetensors write: tensor name '%s' is not valid "
                         "UTF-8", t->name);
    return LIRF_OK;
}

/* Validates the arguments and builds the padded header (malloc'ed, *hlen a
 * multiple of 8) and the data section size. */
static lirf_status build_header(const lirf_st_tensor *ts, size_t count,
                                const char *const *meta_keys, const char *const *meta_vals,
                                size_t meta_count, char **hdr, size_t *hlen, size_t *dlen) {
    *hdr = NULL;
    if (!host_is_le())
        return LIRF_FAIL(LIRF_E_UNSUPPORTED, "safetensors needs a little-endian host");
    if (count && !ts) return LIRF_FAIL(LIRF_E_NULL, "safetensors write: tensors is NULL");
    if (meta_count && (!meta_keys || !meta_vals))
        return LIRF_FAIL(LIRF_E_NULL, "safetensors write: metadata arrays are NULL");
    json_t *root = json_object();
    char *js = NULL;
    if (!root) return LIRF_FAIL(LIRF_E_NOMEM, "safetensors write: out of memory");
    lirf_status st = meta_count ? header_meta(root, meta_keys, meta_vals, meta_count) : LIRF_OK;
    size_t off = 0;
    for (size_t i = 0; st == LIRF_OK && i < count; i++) {
        st = tensor_ok(root, &ts[i], i, off);
        if (st == LIRF_OK) st = tensor_entry(root, &ts[i], off);
        if (st == LIRF_OK) off += ts[i].nbytes;
    }
    if (st == LIRF_OK) {
        js = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!js) st = LIRF_FAIL(LIRF_E_NOMEM, "safetensors write: cannot serialise the header");
    }
    if (st == LIRF_OK) {
        size_t n = strlen(js), padded = (n + 7) & ~(size_t)7;
        *hdr = malloc(padded);
        if (!*hdr) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "safetensors write: out of memory");
        } else {
            memcpy(*hdr, js, n);
            memset(*hdr + n, ' ', padded - n);
            *hlen = padded;
            *dlen = off;
        }
    }
    free(js);
    json_decref(root);
    return st;
}

lirf_status lirf_st_write_mem(const lirf_st_tensor *tensors, size_t count,
                              const char *const *meta_keys, const char *const *meta_vals,
                              size_t meta_count, void **buf, size_t *len) {
    if (!buf || !len) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_write_mem: buf or len is NULL");
    *buf = NULL;
    *len = 0;
    char *hdr;
    size_t hlen, dlen;
    LIRF_TRY(build_header(tensors, count, meta_keys, meta_vals, meta_count, &hdr, &hlen, &dlen));
    if (dlen > SIZE_MAX - 8 - hlen) {
        free(hdr);
        return LIRF_FAIL(LIRF_E_NOMEM, "lirf_st_write_mem: too large");
    }
    unsigned char *p = malloc(8 + hlen + dlen);
    if (!p) {
        free(hdr);
        return LIRF_FAIL(LIRF_E_NOMEM, "lirf_st_write_mem: out of memory for %zu bytes",
                         8 + hlen + dlen);
    }
    put_le64(p, hlen);
    memcpy(p + 8, hdr, hlen);
    free(hdr);
    size_t off = 8 + hlen;
    for (size_t i = 0; i < count; i++) {
        if (tensors[i].nbytes) memcpy(p + off, tensors[i].data, tensors[i].nbytes);
        off += tensors[i].nbytes;
    }
    *buf = p;
    *len = off;
    return LIRF_OK;
}

lirf_status lirf_st_write(const char *path, const lirf_st_tensor *tensors, size_t count,
                          const char *const *meta_keys, const char *const *meta_vals,
                          size_t meta_count) {
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "lirf_st_write: path is NULL");
    char *hdr;
    size_t hlen, dlen;
    LIRF_TRY(build_header(tensors, count, meta_keys, meta_vals, meta_count, &hdr, &hlen, &dlen));

    size_t plen = strlen(path) + 32;
    char *tmp = malloc(plen);
    if (!tmp) {
        free(hdr);
        return LIRF_FAIL(LIRF_E_NOMEM, "lirf_st_write: out of memory");
    }
    snprintf(tmp, plen, "%s.tmp.%ld", path, (long)getpid());
    lirf_status st = LIRF_OK;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
        free(hdr);
        free(tmp);
        return st;
    }
    unsigned char len8[8];
    put_le64(len8, hlen);
    int ok = fwrite(len8, 1, 8, f) == 8 && fwrite(hdr, 1, hlen, f) == hlen;
    for (size_t i = 0; ok && i < count; i++) {
        if (i == count / 2 && fflush(f) == 0) lirf_crash_point("st-write-mid");
        if (tensors[i].nbytes)
            ok = fwrite(tensors[i].data, 1, tensors[i].nbytes, f) == tensors[i].nbytes;
    }
    free(hdr);
    if (!ok || fflush(f) != 0) {
        st = LIRF_FAIL(LIRF_E_IO, "%s: write failed: %s", tmp, strerror(errno));
    } else if (fsync(fileno(f)) != 0) {
        st = LIRF_FAIL(LIRF_E_IO, "%s: fsync failed: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 && st == LIRF_OK)
        st = LIRF_FAIL(LIRF_E_IO, "%s: close failed: %s", tmp, strerror(errno));
    if (st == LIRF_OK) lirf_crash_point("st-write-rename");
    if (st == LIRF_OK && rename(tmp, path) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot rename to %s: %s", tmp, path, strerror(errno));
    if (st != LIRF_OK) {
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return lirf_fsync_parent(path);
}
