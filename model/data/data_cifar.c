/* CIFAR-10 / CIFAR-100 binary versions, from a folder or from the .tar.gz.
 *
 * CIFAR-10: data_batch_{1..5}.bin (train), test_batch.bin (test); records of
 * 1 label byte + 3072 pixel bytes (1024 R, 1024 G, 1024 B, rows of 32: already
 * (c, h, w)). Class names from batches.meta.txt when present.
 * CIFAR-100: train.bin, test.bin; records of coarse byte, fine byte, 3072
 * pixels; the fine label is kept. Names from fine_label_names.txt.
 * A folder may hold the files directly or in cifar-10-batches-bin/ (or
 * cifar-100-binary/); in an archive, entries are matched by base name.
 */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define CIFAR_PIXELS 3072
#define META_MAX (1u << 20)

static const char *const CIFAR10_NAMES[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

typedef struct {
    int c100;
    size_t rec;      /* bytes per record */
    int ncls;
    const uint8_t *keep;
} cifar_fmt;

/* Reads records of the current entry until its end or until *taken reaches
 * maxkeep; appends kept pixels (3072 bytes each) and labels (int32). */
static lirf_status read_records(struct archive *a, const char *name, const cifar_fmt *f,
                                size_t maxkeep, lirf_bytes *px, lirf_bytes *lab, size_t *taken) {
    uint8_t buf[CIFAR_PIXELS + 2];
    size_t r = 0;
    while (*taken < maxkeep) {
        size_t got;
        LIRF_TRY(lirf_data_read(a, buf, f->rec, &got, name));
        if (got == 0) break;
        if (got < f->rec)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: the length is not a multiple of the %zu-byte record (record %zu "
                             "has %zu bytes)",
                             name, f->rec, r, got);
        if (f->c100 && buf[0] >= 20)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: coarse label %u of record %zu is out of range [0, 20)", name,
                             buf[0], r);
        int32_t label = f->c100 ? buf[1] : buf[0];
        if (label >= f->ncls)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: label %d of record %zu is out of range [0, %d)",
                             name, (int)label, r, f->ncls);
        if (f->keep[label]) {
            LIRF_TRY(lirf_bytes_append(px, buf + f->rec - CIFAR_PIXELS, CIFAR_PIXELS));
            LIRF_TRY(lirf_bytes_append(lab, &label, sizeof label));
            ++*taken;
        }
        r++;
    }
    if (r == 0 && *taken < maxkeep)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s holds no records", name);
    return LIRF_OK;
}

/* The whole current entry (a names file), at most META_MAX bytes. */
static lirf_status read_small(struct archive *a, const char *name, lirf_bytes *b) {
    LIRF_TRY(lirf_bytes_reserve(b, META_MAX + 1));
    size_t got;
    LIRF_TRY(lirf_data_read(a, b->p, META_MAX + 1, &got, name));
    if (got > META_MAX)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s is larger than %u bytes", name, META_MAX);
    b->n = got;
    return LIRF_OK;
}

static lirf_status read_names_file(const char *path, lirf_dataset *out, int ncls) {
    struct archive *a;
    LIRF_TRY(lirf_data_open_raw(path, &a));
    lirf_bytes b = {0};
    lirf_status st = read_small(a, path, &b);
    if (st == LIRF_OK) st = lirf_data_parse_names(out, (const char *)b.p, b.n, ncls, path);
    free(b.p);
    archive_read_free(a);
    return st;
}

static lirf_status from_folder(const lirf_data_opts *o, const cifar_fmt *f, const char *const *files,
                               int nfiles, const char *meta, const char *subdir, lirf_bytes *px,
                               lirf_bytes *lab, size_t maxkeep, lirf_dataset *out) {
    char base[4096], p[4200];
    if (strlen(o->path) + 64 > sizeof base)
        return LIRF_FAIL(LIRF_E_INVALID, "data path %s is too long", o->path);
    snprintf(base, sizeof base, "%s", o->path);
    snprintf(p, sizeof p, "%s/%s", base, files[0]);
    if (!lirf_data_is_file(p)) {
        snprintf(p, sizeof p, "%s/%s", o->path, subdir);
        if (lirf_data_is_dir(p)) snprintf(base, sizeof base, "%.4000s", p);
    }
    snprintf(p, sizeof p, "%s/%s", base, meta);
    if (lirf_data_is_file(p)) LIRF_TRY(read_names_file(p, out, f->ncls));
    size_t taken = 0;
    for (int j = 0; j < nfiles && taken < maxkeep; j++) {
        snprintf(p, sizeof p, "%s/%s", base, files[j]);
        if (!lirf_data_is_file(p))
            return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no such file (a CIFAR-%d binary batch)", p,
                             f->c100 ? 100 : 10);
        struct archive *a;
        LIRF_TRY(lirf_data_open_raw(p, &a));
        lirf_status st = read_records(a, p, f, maxkeep, px, lab, &taken);
        archive_read_free(a);
        LIRF_TRY(st);
    }
    return LIRF_OK;
}

static const char *basename_of(const char *s) {
    const char *b = strrchr(s, '/');
    return b ? b + 1 : s;
}

static lirf_status from_archive(const lirf_data_opts *o, const lirf_data_src *src,
                                const cifar_fmt *f, const char *const *files, int nfiles,
                                const char *meta, lirf_bytes *px, lirf_bytes *lab, size_t maxkeep,
                                lirf_dataset *out) {
    lirf_bytes fpx[5] = {{0}}, flab[5] = {{0}};
    size_t ftaken[5] = {0};
    int seen[5] = {0}, seen_meta = 0;
    struct archive *a;
    LIRF_TRY(lirf_data_open_archive_src(src, &a));
    lirf_status st = LIRF_OK;
    char name[2048];
    for (;;) {
        struct archive_entry *e;
        st = lirf_data_next_header(a, &e, o->path);
        if (st != LIRF_OK || !e) break;
        if (archive_entry_filetype(e) != AE_IFREG || !archive_entry_pathname(e)) continue;
        const char *base = basename_of(archive_entry_pathname(e));
        snprintf(name, sizeof name, "%s: %s", o->path, archive_entry_pathname(e));
        if (strcmp(base, meta) == 0) {
            if (seen_meta++)
                st = LIRF_FAIL(LIRF_E_FORMAT, "%s: a second %s", o->path, meta);
            lirf_bytes b = {0};
            if (st == LIRF_OK) st = read_small(a, name, &b);
            if (st == LIRF_OK)
                st = lirf_data_parse_names(out, (const char *)b.p, b.n, f->ncls, name);
            free(b.p);
        } else {
            for (int j = 0; j < nfiles; j++) {
                if (strcmp(base, files[j]) != 0) continue;
                if (seen[j]++)
                    st = LIRF_FAIL(LIRF_E_FORMAT, "%s: a second %s", o->path, files[j]);
                else
                    st = read_records(a, name, f, maxkeep, &fpx[j], &flab[j], &ftaken[j]);
            }
        }
        if (st != LIRF_OK) break;
    }
    archive_read_free(a);
    for (int j = 0; st == LIRF_OK && j < nfiles; j++)
        if (!seen[j])
            st = LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: the archive has no %s", o->path, files[j]);
    /* In the batches' order, whatever the order of the entries. */
    size_t taken = 0;
    for (int j = 0; j < nfiles; j++) {
        size_t k = ftaken[j] < maxkeep - taken ? ftaken[j] : maxkeep - taken;
        if (st == LIRF_OK) st = lirf_bytes_append(px, fpx[j].p, k * CIFAR_PIXELS);
        if (st == LIRF_OK) st = lirf_bytes_append(lab, flab[j].p, k * sizeof(int32_t));
        if (st == LIRF_OK) taken += k;
        free(fpx[j].p), free(flab[j].p);
    }
    return st;
}

lirf_status lirf_data_load_cifar(const lirf_data_opts *o, lirf_data_kind kind,
                                 const lirf_data_src *mem, lirf_dataset *out) {
    static const char *const c10_train[] = {"data_batch_1.bin", "data_batch_2.bin",
                                            "data_batch_3.bin", "data_batch_4.bin",
                                            "data_batch_5.bin"};
    static const char *const c10_test[] = {"test_batch.bin"};
    static const char *const c100_train[] = {"train.bin"};
    static const char *const c100_test[] = {"test.bin"};
    int c100 = kind == LIRF_DATA_CIFAR100;
    const char *const *files = c100 ? (o->train ? c100_train : c100_test)
                                    : (o->train ? c10_train : c10_test);
    int nfiles = !c100 && o->train ? 5 : 1;
    const char *meta = c100 ? "fine_label_names.txt" : "batches.meta.txt";
    cifar_fmt f = {c100, c100 ? 2 + CIFAR_PIXELS : 1 + CIFAR_PIXELS, c100 ? 100 : 10, NULL};

    snprintf(out->source, sizeof out->source, "%s", o->path);
    LIRF_TRY(lirf_data_set_names(out, f.ncls, c100 ? NULL : CIFAR10_NAMES));
    uint8_t *keep;
    LIRF_TRY(lirf_data_keep_table(o, f.ncls, &keep));
    f.keep = keep;
    size_t maxkeep = o->limit ? o->limit : SIZE_MAX;
    lirf_bytes px = {0}, lab = {0};
    lirf_data_src file = {o->path, NULL, 0};
    lirf_status st =
        !mem && lirf_data_is_dir(o->path)
            ? from_folder(o, &f, files, nfiles, meta, c100 ? "cifar-100-binary" : "cifar-10-batches-bin",
                          &px, &lab, maxkeep, out)
            : from_archive(o, mem ? mem : &file, &f, files, nfiles, meta, &px, &lab, maxkeep, out);
    free(keep);
    size_t n = lab.n / sizeof(int32_t);
    if (st == LIRF_OK && n > INT32_MAX)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: more than %d samples", o->path, (int)INT32_MAX);
    if (st != LIRF_OK) {
        free(px.p), free(lab.p);
        return st;
    }
    out->pixels = px.p;
    out->labels = (int32_t *)(void *)lab.p;
    out->n = (int)n;
    out->c = 3, out->h = 32, out->w = 32;
    return LIRF_OK;
}
