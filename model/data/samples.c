/* Sample lists (lirf deposit --deposit-samples): a text file of training
 * sample indices, parsed as untrusted input, and subsets of a data set by
 * index. */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

typedef struct {
    int32_t v;
    int line;
} entry;

static int cmp_entry(const void *a, const void *b) {
    const entry *x = a, *y = b;
    if (x->v != y->v) return x->v < y->v ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

/* s[0..n) with what cannot be printed as '?', at most 40 characters. */
static void printable(char *out, const char *s, size_t n) {
    size_t k = n < 40 ? n : 40;
    for (size_t i = 0; i < k; i++) out[i] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
    snprintf(out + k, 8, "%s", n > k ? "..." : "");
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* One line (comment and spaces removed) into *e; 0 when it holds nothing. */
static lirf_status parse_line(const char *s, size_t n, const char *name, int line, size_t nsamples,
                              entry *e, int *got) {
    const char *hash = memchr(s, '#', n);
    if (hash) n = (size_t)(hash - s);
    while (n && is_space(*s)) s++, n--;
    while (n && is_space(s[n - 1])) n--;
    *got = 0;
    if (!n) return LIRF_OK;
    char shown[48];
    printable(shown, s, n);
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return LIRF_FAIL(LIRF_E_FORMAT, "%s:%d: \"%s\" is not a sample index (one "
                             "non-negative integer a line, '#' comments)", name, line, shown);
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        v = v * 10 + (unsigned long long)(s[i] - '0');
        if (v >= nsamples)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s:%d: sample %s is outside the training split "
                             "(%zu samples: 0..%zu)", name, line, shown, nsamples,
                             nsamples ? nsamples - 1 : 0);
    }
    e->v = (int32_t)v, e->line = line;
    *got = 1;
    return LIRF_OK;
}

/* Every numbered line of bytes into *es (malloc'ed), in file order. */
static lirf_status parse_lines(const char *bytes, size_t len, const char *name, size_t nsamples,
                               entry **es, size_t *n) {
    size_t cap = 0;
    *es = NULL, *n = 0;
    int line = 1;
    for (size_t at = 0; at < len; line++) {
        const char *nl = memchr(bytes + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - bytes) : len;
        entry e;
        int got = 0;
        lirf_status st = parse_line(bytes + at, end - at, name, line, nsamples, &e, &got);
        if (!st && got && *n == cap) {
            cap = cap ? 2 * cap : 256;
            entry *m = realloc(*es, cap * sizeof *m);
            if (m) *es = m;
            else st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        if (st) {
            free(*es);
            *es = NULL, *n = 0;
            return st;
        }
        if (got) (*es)[(*n)++] = e;
        at = end + 1;
    }
    return LIRF_OK;
}

/* es sorted by (value, line): the first line (in the file) that repeats a
 * sample, or LIRF_OK. */
static lirf_status check_twice(const entry *es, size_t n, const char *name) {
    size_t worst = 0;
    for (size_t i = 1; i < n; i++)
        if (es[i].v == es[i - 1].v && (!worst || es[i].line < es[worst].line)) worst = i;
    if (!worst) return LIRF_OK;
    int first = es[worst - 1].line;
    for (size_t i = worst - 1; i > 0 && es[i - 1].v == es[worst].v; i--) first = es[i - 1].line;
    return LIRF_FAIL(LIRF_E_FORMAT, "%s:%d: sample %d is listed twice (first on line %d)", name,
                     es[worst].line, (int)es[worst].v, first);
}

lirf_status lirf_sample_list_parse(const char *bytes, size_t len, const char *name,
                                   size_t nsamples, lirf_sample_list *out) {
    if (!out || (!bytes && len)) return LIRF_FAIL(LIRF_E_NULL, "lirf_sample_list_parse: NULL argument");
    memset(out, 0, sizeof *out);
    if (!name) name = "the sample list";
    if (nsamples > (size_t)INT32_MAX) nsamples = (size_t)INT32_MAX;
    entry *es = NULL;
    size_t n = 0;
    LIRF_TRY(parse_lines(bytes, len, name, nsamples, &es, &n));
    if (!n) return LIRF_FAIL(LIRF_E_FORMAT, "%s: no sample index in it (one a line)", name);
    qsort(es, n, sizeof *es, cmp_entry);
    lirf_status st = check_twice(es, n, name);
    if (!st && !(out->idx = malloc(n * sizeof *out->idx)))
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; !st && i < n; i++) out->idx[i] = es[i].v;
    free(es);
    if (st) return st;
    out->n = n;
    lirf_sample_list_sha256(out->idx, n, out->sha256);
    return LIRF_OK;
}

lirf_status lirf_sample_list_load(const char *path, size_t nsamples, lirf_sample_list *out) {
    if (!path || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_sample_list_load: NULL argument");
    memset(out, 0, sizeof *out);
    if (lirf_data_is_dir(path)) return LIRF_FAIL(LIRF_E_IO, "%s: a folder, not a sample list", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return LIRF_FAIL(errno == ENOENT ? LIRF_E_NOT_FOUND : LIRF_E_IO, "cannot read %s: %s",
                         path, strerror(errno));
    char *buf = malloc(LIRF_SAMPLE_LIST_MAX_BYTES + 1);
    size_t len = buf ? fread(buf, 1, LIRF_SAMPLE_LIST_MAX_BYTES + 1, f) : 0;
    int err = ferror(f);
    fclose(f);
    lirf_status st = LIRF_OK;
    if (!buf) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    else if (err) st = LIRF_FAIL(LIRF_E_IO, "cannot read %s", path);
    else if (len > LIRF_SAMPLE_LIST_MAX_BYTES)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: over %zu MiB, too large for a sample list", path,
                       LIRF_SAMPLE_LIST_MAX_BYTES >> 20);
    if (!st) st = lirf_sample_list_parse(buf, len, path, nsamples, out);
    free(buf);
    return st;
}

void lirf_sample_list_free(lirf_sample_list *l) {
    if (!l) return;
    free(l->idx);
    memset(l, 0, sizeof *l);
}

void lirf_sample_list_sha256(const int32_t *idx, size_t n, char hex[65]) {
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    for (size_t i = 0; i < n; i++) {
        char t[16];
        int k = snprintf(t, sizeof t, "%d\n", (int)idx[i]);
        crypto_hash_sha256_update(&s, (const unsigned char *)t, (unsigned long long)k);
    }
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

lirf_status lirf_dataset_subset(const lirf_dataset *src, const int32_t *idx, size_t n,
                                lirf_dataset *out) {
    if (!src || !out || (!idx && n)) return LIRF_FAIL(LIRF_E_NULL, "lirf_dataset_subset: NULL argument");
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= src->n)
            return LIRF_FAIL(LIRF_E_INVALID, "sample %d is outside %s (%d samples)", (int)idx[i],
                             src->source, src->n);
    size_t px = (size_t)src->c * (size_t)src->h * (size_t)src->w;
    out->pixels = malloc(n * px + 1);
    out->labels = malloc(n * sizeof *out->labels + 1);
    lirf_status st = out->pixels && out->labels ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!st) st = lirf_data_set_names(out, src->num_classes, (const char *const *)src->class_names);
    if (st) {
        lirf_dataset_free(out);
        return st;
    }
    for (size_t i = 0; i < n; i++) {
        memcpy(out->pixels + i * px, src->pixels + (size_t)idx[i] * px, px);
        out->labels[i] = src->labels[idx[i]];
    }
    out->n = (int)n, out->c = src->c, out->h = src->h, out->w = src->w;
    out->kind = src->kind;
    snprintf(out->source, sizeof out->source, "%s", src->source);
    return LIRF_OK;
}

lirf_status lirf_dataset_classes_of(const lirf_dataset *ds, const int32_t *idx, size_t n,
                                    int32_t *classes, int *nclasses) {
    *nclasses = 0;
    uint8_t *seen = calloc((size_t)ds->num_classes + 1, 1);
    if (!seen) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; i < n; i++) {
        int32_t y = ds->labels[idx[i]];
        if (y >= 0 && y < ds->num_classes) seen[y] = 1;
    }
    for (int k = 0; k < ds->num_classes; k++)
        if (seen[k]) classes[(*nclasses)++] = k;
    free(seen);
    return LIRF_OK;
}
