/* Data sets: option checks, the choice of reader, the Debian Fashion-MNIST
 * lookup, statistics, and the helpers the readers share (libarchive access,
 * class filters, class names). The readers: data_idx.c (Fashion-MNIST),
 * data_cifar.c (CIFAR-10/100 binary), data_imagefolder.c (image folders), with
 * data_image.c decoding PNG / JPEG.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data.h"

#define FASHION_DPKG_LIST "/var/lib/dpkg/info/dataset-fashion-mnist.list"
#define FASHION_DEFAULT_DIR "/usr/share/datasets/fashion-mnist"
#define FASHION_TRAIN_IMAGES "train-images-idx3-ubyte.gz"

/* ---- small helpers -------------------------------------------------------- */

int lirf_data_is_dir(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int lirf_data_is_file(const char *path) {
    struct stat st;
    return path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

lirf_status lirf_bytes_reserve(lirf_bytes *b, size_t extra) {
    if (extra > SIZE_MAX - b->n) return LIRF_FAIL(LIRF_E_NOMEM, "data buffer size overflows");
    size_t need = b->n + extra;
    if (need <= b->cap) return LIRF_OK;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < need) cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (%zu bytes)", cap);
    b->p = p;
    b->cap = cap;
    return LIRF_OK;
}

lirf_status lirf_bytes_append(lirf_bytes *b, const void *src, size_t len) {
    LIRF_TRY(lirf_bytes_reserve(b, len));
    if (len) memcpy(b->p + b->n, src, len);
    b->n += len;
    return LIRF_OK;
}

/* The status for a libarchive failure: file-system errors are LIRF_E_IO,
 * everything else (bad gzip, unknown format, truncation) is LIRF_E_FORMAT. */
static lirf_status archive_status(struct archive *a) {
    int e = archive_errno(a);
    if (e == ENOMEM) return LIRF_E_NOMEM;
    if (e == EIO || e == EACCES || e == EPERM || e == EISDIR || e == ENXIO || e == ENOENT)
        return LIRF_E_IO;
    return LIRF_E_FORMAT;
}

static const char *archive_msg(struct archive *a) {
    const char *m = archive_error_string(a);
    return m ? m : "unknown libarchive error";
}

/* Every decompression filter built into this libarchive, and none that runs
 * an external program: archive_read_support_filter_all would also register
 * lrzip, grzip and (without liblzo2) lzop, which libarchive decodes by running
 * `lrzip -d` etc. from PATH whenever the bytes start with their signature. */
static void support_builtin_filters(struct archive *a) {
    if (archive_zlib_version()) archive_read_support_filter_gzip(a);
    if (archive_bzlib_version()) archive_read_support_filter_bzip2(a);
    if (archive_liblzma_version()) {
        archive_read_support_filter_xz(a);
        archive_read_support_filter_lzma(a);
        archive_read_support_filter_lzip(a);
    }
    if (archive_liblz4_version()) archive_read_support_filter_lz4(a);
    if (archive_libzstd_version()) archive_read_support_filter_zstd(a);
    archive_read_support_filter_compress(a); /* .Z: built in */
}

static lirf_status open_src(const lirf_data_src *s, int raw, struct archive **out) {
    *out = NULL;
    const char *path = s->name ? s->name : "(memory)";
    if (!s->buf) {
        struct stat st;
        if (!s->name) return LIRF_FAIL(LIRF_E_NULL, "data source without a path or bytes");
        if (stat(path, &st) != 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no such file", path);
            return LIRF_FAIL(LIRF_E_IO, "%s: %s", path, strerror(errno));
        }
        if (!S_ISREG(st.st_mode)) return LIRF_FAIL(LIRF_E_IO, "%s: not a regular file", path);
    }
    struct archive *a = archive_read_new();
    if (!a) return LIRF_FAIL(LIRF_E_NOMEM, "archive_read_new failed");
    support_builtin_filters(a);
    if (raw)
        archive_read_support_format_raw(a);
    else
        archive_read_support_format_all(a);
    int r = s->buf ? archive_read_open_memory(a, s->buf, s->len)
                   : archive_read_open_filename(a, path, 1 << 16);
    if (r != ARCHIVE_OK) {
        lirf_status st = LIRF_FAIL(archive_status(a), "%s: cannot open: %s", path, archive_msg(a));
        archive_read_free(a);
        return st;
    }
    *out = a;
    return LIRF_OK;
}

lirf_status lirf_data_open_archive_src(const lirf_data_src *s, struct archive **out) {
    return open_src(s, 0, out);
}

lirf_status lirf_data_open_archive(const char *path, struct archive **out) {
    lirf_data_src s = {path, NULL, 0};
    return open_src(&s, 0, out);
}

lirf_status lirf_data_open_raw_src(const lirf_data_src *s, struct archive **out) {
    LIRF_TRY(open_src(s, 1, out));
    const char *path = s->name ? s->name : "(memory)";
    struct archive_entry *e;
    int r = archive_read_next_header(*out, &e);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN) return LIRF_OK;
    lirf_status st = r == ARCHIVE_EOF ? LIRF_FAIL(LIRF_E_FORMAT, "%s: the file is empty", path)
                                      : LIRF_FAIL(archive_status(*out), "%s: %s", path,
                                                  archive_msg(*out));
    archive_read_free(*out);
    *out = NULL;
    return st;
}

lirf_status lirf_data_open_raw(const char *path, struct archive **out) {
    lirf_data_src s = {path, NULL, 0};
    return lirf_data_open_raw_src(&s, out);
}

lirf_status lirf_data_next_header(struct archive *a, struct archive_entry **e, const char *name) {
    int r = archive_read_next_header(a, e);
    if (r == ARCHIVE_OK || r == ARCHIVE_WARN) return LIRF_OK;
    *e = NULL;
    if (r == ARCHIVE_EOF) return LIRF_OK;
    return LIRF_FAIL(archive_status(a), "%s: %s", name, archive_msg(a));
}

lirf_status lirf_data_read(struct archive *a, void *buf, size_t len, size_t *got,
                           const char *name) {
    size_t n = 0;
    while (n < len) {
        la_ssize_t r = archive_read_data(a, (char *)buf + n, len - n);
        if (r == 0) break;
        if (r < 0) {
            if (r == ARCHIVE_RETRY) continue;
            *got = n;
            return LIRF_FAIL(archive_status(a), "%s: read failed: %s", name, archive_msg(a));
        }
        n += (size_t)r;
    }
    *got = n;
    return LIRF_OK;
}

lirf_status lirf_data_keep_table(const lirf_data_opts *o, int num_classes, uint8_t **keep) {
    *keep = NULL;
    if (num_classes <= 0) return LIRF_FAIL(LIRF_E_FORMAT, "the data set has no classes");
    uint8_t *k = calloc((size_t)num_classes, 1);
    if (!k) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (!o->classes || o->nclasses == 0) {
        memset(k, 1, (size_t)num_classes);
    } else {
        for (int i = 0; i < o->nclasses; i++) {
            int32_t c = o->classes[i];
            if (c < 0 || c >= num_classes) {
                free(k);
                return LIRF_FAIL(LIRF_E_INVALID,
                                 "class %d (classes[%d]) is out of range: the data set has %d "
                                 "classes",
                                 (int)c, i, num_classes);
            }
            k[c] = 1;
        }
    }
    *keep = k;
    return LIRF_OK;
}

int lirf_utf8_valid(const char *s) {
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p++;
        int more = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
                 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (more < 0) return 0;
        unsigned cp = more ? c & (0x3Fu >> more) : c;
        for (int i = 0; i < more; i++, p++) {
            if ((*p & 0xC0) != 0x80) return 0;
            cp = cp << 6 | (*p & 0x3Fu);
        }
        static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
        if (cp < min[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    }
    return 1;
}

lirf_status lirf_data_set_names(lirf_dataset *d, int num_classes, const char *const *names) {
    if (num_classes <= 0) return LIRF_FAIL(LIRF_E_FORMAT, "the data set has no classes");
    char **cn = calloc((size_t)num_classes, sizeof *cn);
    if (!cn) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int i = 0; i < num_classes; i++) {
        char tmp[32];
        const char *s = names && names[i] ? names[i] : tmp;
        if (s == tmp) snprintf(tmp, sizeof tmp, "class_%d", i);
        int utf8 = lirf_utf8_valid(s);
        cn[i] = utf8 ? strdup(s) : NULL;
        if (!cn[i]) {
            for (int j = 0; j < i; j++) free(cn[j]);
            free(cn);
            return utf8 ? LIRF_FAIL(LIRF_E_NOMEM, "out of host memory")
                        : LIRF_FAIL(LIRF_E_FORMAT, "class %d: its name is not valid UTF-8 "
                                    "(class names are recorded in checkpoints and reports as "
                                    "JSON): rename the class folder or names-file line", i);
        }
    }
    if (d->class_names)
        for (int i = 0; i < d->num_classes; i++) free(d->class_names[i]);
    free(d->class_names);
    d->class_names = cn;
    d->num_classes = num_classes;
    return LIRF_OK;
}

lirf_status lirf_data_names_fit(const lirf_dataset *d, char *const *names, int classes,
                                const char *what) {
    if (!d || d->kind != LIRF_DATA_IMAGEFOLDER || !names || !d->class_names ||
        classes != d->num_classes)
        return LIRF_OK;
    for (int k = 0; k < classes; k++)
        if (names[k] && strcmp(names[k], d->class_names[k]))
            return LIRF_FAIL(LIRF_E_INVALID,
                             "%s: class %d is \"%.80s\", but the image folder %s has \"%.80s\" "
                             "as class %d (its class folders, sorted): the data and the model "
                             "do not belong together; name the class folders as the model's "
                             "classes", what ? what : "the model", k, names[k], d->source,
                             d->class_names[k], k);
    return LIRF_OK;
}

lirf_status lirf_data_parse_names(lirf_dataset *d, const char *bytes, size_t len, int num_classes,
                                  const char *name) {
    const char **names = calloc((size_t)num_classes, sizeof *names);
    char *copy = malloc(len + 1);
    if (!names || !copy) {
        free(names), free(copy);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    memcpy(copy, bytes, len);
    copy[len] = 0;
    int count = 0;
    char *p = copy;
    while (p < copy + len) {
        char *end = memchr(p, '\n', (size_t)(copy + len - p));
        if (!end) end = copy + len;
        *end = 0;
        char *t = end;
        while (t > p && (t[-1] == '\r' || t[-1] == ' ' || t[-1] == '\t')) *--t = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (*p) {
            if (strlen(p) != (size_t)(t - p)) { /* a NUL inside the line */
                free(names), free(copy);
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: line %d holds a NUL byte", name, count + 1);
            }
            if (count < num_classes) names[count] = p;
            count++;
        }
        p = end + 1;
    }
    lirf_status st = LIRF_OK;
    if (count != num_classes)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s lists %d class names, the data set has %d classes", name,
                       count, num_classes);
    else
        st = lirf_data_set_names(d, num_classes, names);
    free(names), free(copy);
    return st;
}

/* ---- Fashion-MNIST from Debian -------------------------------------------- */

static lirf_status set_out(char *out, size_t outlen, const char *dir) {
    if (strlen(dir) >= outlen)
        return LIRF_FAIL(LIRF_E_INVALID, "path %s does not fit in %zu bytes", dir, outlen);
    memcpy(out, dir, strlen(dir) + 1);
    return LIRF_OK;
}

lirf_status lirf_fashion_mnist_dir(char *out, size_t outlen) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_fashion_mnist_dir: out is NULL");
    if (outlen == 0) return LIRF_FAIL(LIRF_E_INVALID, "lirf_fashion_mnist_dir: outlen is 0");
    out[0] = 0;
    /* What `dpkg -L dataset-fashion-mnist` prints: the package's file list. */
    FILE *f = fopen(FASHION_DPKG_LIST, "r");
    if (f) {
        char line[4096];
        const size_t tl = strlen("/" FASHION_TRAIN_IMAGES);
        while (fgets(line, sizeof line, f)) {
            size_t l = strcspn(line, "\r\n");
            line[l] = 0;
            if (l > tl && strcmp(line + l - tl, "/" FASHION_TRAIN_IMAGES) == 0 &&
                lirf_data_is_file(line)) {
                line[l - tl] = 0;
                fclose(f);
                return set_out(out, outlen, line);
            }
        }
        fclose(f);
    }
    if (lirf_data_is_file(FASHION_DEFAULT_DIR "/" FASHION_TRAIN_IMAGES))
        return set_out(out, outlen, FASHION_DEFAULT_DIR);
    return LIRF_FAIL(LIRF_E_NOT_FOUND,
                     "Fashion-MNIST is not installed: run `apt-get install dataset-fashion-mnist` "
                     "(Debian), or give a data path");
}

/* ---- choosing the reader ---------------------------------------------------- */

static const char *kind_name(lirf_data_kind k) {
    switch (k) {
    case LIRF_DATA_AUTO: return "auto";
    case LIRF_DATA_FASHION_MNIST: return "Fashion-MNIST";
    case LIRF_DATA_CIFAR10: return "CIFAR-10";
    case LIRF_DATA_CIFAR100: return "CIFAR-100";
    case LIRF_DATA_IMAGEFOLDER: return "image folder";
    }
    return "?";
}

static int file_in(const char *dir, const char *name) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return 0;
    return lirf_data_is_file(p);
}

static int dir_in(const char *dir, const char *name) {
    char p[4096];
    if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p) return 0;
    return lirf_data_is_dir(p);
}

static int is_idx_name(const char *base) {
    static const char *const n[] = {"train-images-idx3-ubyte", "t10k-images-idx3-ubyte",
                                    "train-labels-idx1-ubyte", "t10k-labels-idx1-ubyte"};
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++) {
        size_t l = strlen(n[i]);
        if (strncmp(base, n[i], l) == 0 && (base[l] == 0 || strcmp(base + l, ".gz") == 0)) return 1;
    }
    return 0;
}

static lirf_data_kind kind_of_name(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    if (is_idx_name(b)) return LIRF_DATA_FASHION_MNIST;
    if (strcmp(b, "test_batch.bin") == 0 || strcmp(b, "batches.meta.txt") == 0 ||
        (strncmp(b, "data_batch_", 11) == 0 && strstr(b, ".bin")))
        return LIRF_DATA_CIFAR10;
    if (strcmp(b, "train.bin") == 0 || strcmp(b, "test.bin") == 0 ||
        strcmp(b, "fine_label_names.txt") == 0 || strcmp(b, "coarse_label_names.txt") == 0)
        return LIRF_DATA_CIFAR100;
    const char *dot = strrchr(b, '.');
    if (b[0] != '.' && dot &&
        (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
         strcasecmp(dot, ".jpeg") == 0))
        return LIRF_DATA_IMAGEFOLDER;
    return LIRF_DATA_AUTO;
}

static lirf_status detect(const char *path, lirf_data_kind *kind) {
    if (lirf_data_is_dir(path)) {
        if (file_in(path, "train-images-idx3-ubyte.gz") || file_in(path, "t10k-images-idx3-ubyte.gz") ||
            file_in(path, "train-images-idx3-ubyte") || file_in(path, "t10k-images-idx3-ubyte"))
            *kind = LIRF_DATA_FASHION_MNIST;
        else if (file_in(path, "data_batch_1.bin") || file_in(path, "test_batch.bin") ||
                 dir_in(path, "cifar-10-batches-bin"))
            *kind = LIRF_DATA_CIFAR10;
        else if (file_in(path, "train.bin") || file_in(path, "test.bin") ||
                 dir_in(path, "cifar-100-binary"))
            *kind = LIRF_DATA_CIFAR100;
        else
            *kind = LIRF_DATA_IMAGEFOLDER;
        return LIRF_OK;
    }
    if (kind_of_name(path) == LIRF_DATA_FASHION_MNIST) {
        *kind = LIRF_DATA_FASHION_MNIST;
        return LIRF_OK;
    }
    /* An archive: the first entries tell. */
    struct archive *a;
    LIRF_TRY(lirf_data_open_archive(path, &a));
    lirf_status st = LIRF_OK;
    *kind = LIRF_DATA_AUTO;
    for (int i = 0; i < 256 && *kind == LIRF_DATA_AUTO; i++) {
        struct archive_entry *e;
        st = lirf_data_next_header(a, &e, path);
        if (st != LIRF_OK || !e) break;
        const char *name = archive_entry_pathname(e);
        if (name && archive_entry_filetype(e) == AE_IFREG) *kind = kind_of_name(name);
    }
    archive_read_free(a);
    LIRF_TRY(st);
    if (*kind == LIRF_DATA_FASHION_MNIST)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: Fashion-MNIST IDX files are read from a folder (or a path to one "
                         "of them), not from an archive",
                         path);
    if (*kind == LIRF_DATA_AUTO)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: cannot tell the data set kind from the entries of the archive "
                         "(expected CIFAR .bin batches or class folders of PNG/JPEG images)",
                         path);
    return LIRF_OK;
}

/* The checks every entry point makes; out zeroed first. */
static lirf_status check_opts(const lirf_data_opts *o, lirf_dataset *out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_dataset_load: out is NULL");
    memset(out, 0, sizeof *out);
    if (!o) return LIRF_FAIL(LIRF_E_NULL, "lirf_dataset_load: options are NULL");
    if (o->image_size < 0 || o->image_size > 4096)
        return LIRF_FAIL(LIRF_E_INVALID, "image_size %d is out of range [0, 4096]", o->image_size);
    if (o->nclasses < 0) return LIRF_FAIL(LIRF_E_INVALID, "nclasses is %d", o->nclasses);
    if (o->nclasses > 0 && !o->classes)
        return LIRF_FAIL(LIRF_E_NULL, "nclasses is %d but classes is NULL", o->nclasses);
    if ((int)o->kind < LIRF_DATA_AUTO || (int)o->kind > LIRF_DATA_IMAGEFOLDER)
        return LIRF_FAIL(LIRF_E_INVALID, "unknown data set kind %d", (int)o->kind);
    return LIRF_OK;
}

/* A reader's result: no samples is an error; on error out is freed. */
static lirf_status finish(lirf_status st, const lirf_data_opts *o, lirf_data_kind kind,
                          lirf_dataset *out) {
    if (st == LIRF_OK && out->n == 0)
        st = LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no samples%s", out->source[0] ? out->source : "data",
                       o->classes && o->nclasses ? " of the requested classes" : "");
    if (st != LIRF_OK) {
        lirf_dataset_free(out);
        return st;
    }
    out->kind = kind;
    return LIRF_OK;
}

lirf_status lirf_dataset_load(const lirf_data_opts *o, lirf_dataset *out) {
    LIRF_TRY(check_opts(o, out));
    if (lirf_options_get()->no_data)
        return LIRF_FAIL(LIRF_E_NOT_FOUND, "reading data is disabled (LIRF_NO_DATA is set)");

    lirf_status st;
    lirf_data_kind kind = o->kind;
    if (!o->path || !o->path[0]) {
        if (kind != LIRF_DATA_AUTO && kind != LIRF_DATA_FASHION_MNIST)
            return LIRF_FAIL(LIRF_E_INVALID, "a %s data set needs a path", kind_name(kind));
        char dir[1024];
        LIRF_TRY(lirf_fashion_mnist_dir(dir, sizeof dir));
        kind = LIRF_DATA_FASHION_MNIST;
        st = lirf_data_load_idx(o, dir, out);
    } else {
        struct stat sb;
        if (stat(o->path, &sb) != 0)
            return LIRF_FAIL(errno == ENOENT || errno == ENOTDIR ? LIRF_E_NOT_FOUND : LIRF_E_IO,
                             "data path %s: %s", o->path, strerror(errno));
        if (kind == LIRF_DATA_AUTO) LIRF_TRY(detect(o->path, &kind));
        switch (kind) {
        case LIRF_DATA_FASHION_MNIST: {
            char dir[1024];
            if (snprintf(dir, sizeof dir, "%s", o->path) >= (int)sizeof dir)
                return LIRF_FAIL(LIRF_E_INVALID, "data path %s is too long", o->path);
            if (!lirf_data_is_dir(dir)) { /* a path to one of the files: its folder */
                char *slash = strrchr(dir, '/');
                if (slash == dir) slash[1] = 0;
                else if (slash) *slash = 0;
                else snprintf(dir, sizeof dir, ".");
            }
            st = lirf_data_load_idx(o, dir, out);
            break;
        }
        case LIRF_DATA_CIFAR10:
        case LIRF_DATA_CIFAR100: st = lirf_data_load_cifar(o, kind, NULL, out); break;
        case LIRF_DATA_IMAGEFOLDER: st = lirf_data_load_imagefolder(o, NULL, out); break;
        default: st = LIRF_FAIL(LIRF_E_INVALID, "unknown data set kind %d", (int)kind);
        }
    }
    return finish(st, o, kind, out);
}

lirf_status lirf_dataset_load_mem(const lirf_data_opts *o, const void *buf, size_t len,
                                  lirf_dataset *out) {
    LIRF_TRY(check_opts(o, out));
    if (!buf && len) return LIRF_FAIL(LIRF_E_NULL, "lirf_dataset_load_mem: buf is NULL");
    lirf_data_src mem = {o->path && o->path[0] ? o->path : "(memory)", buf ? buf : "", len};
    lirf_data_opts oo = *o;
    oo.path = mem.name;
    lirf_status st;
    switch (o->kind) {
    case LIRF_DATA_CIFAR10:
    case LIRF_DATA_CIFAR100: st = lirf_data_load_cifar(&oo, o->kind, &mem, out); break;
    case LIRF_DATA_IMAGEFOLDER: st = lirf_data_load_imagefolder(&oo, &mem, out); break;
    default:
        return LIRF_FAIL(LIRF_E_INVALID,
                         "lirf_dataset_load_mem reads CIFAR-10/100 or image-folder archives, "
                         "not %s", kind_name(o->kind));
    }
    return finish(st, o, o->kind, out);
}

lirf_status lirf_dataset_load_idx_mem(const lirf_data_opts *o, const void *labels,
                                      size_t labels_len, const void *images, size_t images_len,
                                      lirf_dataset *out) {
    LIRF_TRY(check_opts(o, out));
    if ((!labels && labels_len) || (!images && images_len))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_dataset_load_idx_mem: NULL bytes");
    const char *name = o->path && o->path[0] ? o->path : "(memory)";
    char lname[1100], iname[1100];
    snprintf(lname, sizeof lname, "%s: labels", name);
    snprintf(iname, sizeof iname, "%s: images", name);
    lirf_data_src lab = {lname, labels ? labels : "", labels_len};
    lirf_data_src img = {iname, images ? images : "", images_len};
    snprintf(out->source, sizeof out->source, "%s", name);
    lirf_status st = lirf_data_load_idx_src(o, &lab, &img, out);
    return finish(st, o, LIRF_DATA_FASHION_MNIST, out);
}

void lirf_dataset_free(lirf_dataset *d) {
    if (!d) return;
    free(d->pixels);
    free(d->labels);
    if (d->class_names)
        for (int i = 0; i < d->num_classes; i++) free(d->class_names[i]);
    free(d->class_names);
    memset(d, 0, sizeof *d);
}

void lirf_dataset_stats(const lirf_dataset *d, float *mean, float *std) {
    if (!d || !mean || !std || d->c <= 0) return;
    size_t plane = (size_t)d->h * (size_t)d->w;
    for (int c = 0; c < d->c; c++) {
        uint64_t hist[256] = {0};
        if (d->pixels)
            for (int i = 0; i < d->n; i++) {
                const uint8_t *p = d->pixels + ((size_t)i * (size_t)d->c + (size_t)c) * plane;
                for (size_t k = 0; k < plane; k++) hist[p[k]]++;
            }
        double cnt = 0, s = 0;
        for (int v = 0; v < 256; v++) cnt += (double)hist[v], s += (double)hist[v] * v;
        double m = cnt > 0 ? s / cnt : 0, var = 0;
        for (int v = 0; v < 256; v++) var += (double)hist[v] * (v - m) * (v - m);
        var = cnt > 0 ? var / cnt : 0;
        mean[c] = (float)(m / 255.0);
        std[c] = (float)(sqrt(var) / 255.0);
    }
}
