/* Image folders (torchvision's ImageFolder layout), from a folder or from an
 * archive of any format / compression libarchive reads.
 *
 * Layout: ROOT/<class>/.../<image>.{png,jpg,jpeg}; class indices follow the
 * sorted (byte-wise) folder names. If ROOT holds train/ or test/ (or val/),
 * opts.train picks that split and the classes are inside it. In an archive,
 * a single enclosing folder (e.g. cifar10/train/...) is looked through.
 * Names starting with '.' (and __MACOSX) are ignored.
 *
 * Samples are ordered by (class, path), so a folder and an archive of it give
 * the same data set. Only the selected samples are decoded: files of classes
 * not kept are never opened (folders) or skipped unread (archives: a first
 * pass lists the entries, a second decodes the selected ones).
 * Output: 3 channels unless every image is grayscale (then 1), resized to
 * image_size^2 (lirf_image_resize) when the size differs.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data.h"

#define MAX_IMAGE_BYTES ((size_t)256 << 20)
#define READ_FIRST ((size_t)1 << 20) /* first buffer for an archive entry */
#define MAX_DEPTH 16

typedef struct {
    char *name; /* folders: full path; archives: normalised entry name */
    int cls;
} sample;

typedef struct {
    sample *s;
    size_t n, cap;
} samples;

typedef struct {
    char **v;
    size_t n, cap;
} strvec;

static lirf_status strvec_push(strvec *sv, const char *s, size_t len) {
    if (sv->n == sv->cap) {
        size_t cap = sv->cap ? sv->cap * 2 : 64;
        char **v = realloc(sv->v, cap * sizeof *v);
        if (!v) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        sv->v = v, sv->cap = cap;
    }
    char *c = malloc(len + 1);
    if (!c) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    memcpy(c, s, len);
    c[len] = 0;
    sv->v[sv->n++] = c;
    return LIRF_OK;
}

static void strvec_free(strvec *sv) {
    for (size_t i = 0; i < sv->n; i++) free(sv->v[i]);
    free(sv->v);
    memset(sv, 0, sizeof *sv);
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static lirf_status samples_push(samples *ss, char *name, int cls) {
    if (ss->n == ss->cap) {
        size_t cap = ss->cap ? ss->cap * 2 : 256;
        sample *s = realloc(ss->s, cap * sizeof *s);
        if (!s) {
            free(name);
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        ss->s = s, ss->cap = cap;
    }
    ss->s[ss->n].name = name;
    ss->s[ss->n].cls = cls;
    ss->n++;
    return LIRF_OK;
}

static void samples_free(samples *ss) {
    for (size_t i = 0; i < ss->n; i++) free(ss->s[i].name);
    free(ss->s);
    memset(ss, 0, sizeof *ss);
}

static int cmp_sample(const void *a, const void *b) {
    const sample *x = a, *y = b;
    if (x->cls != y->cls) return x->cls < y->cls ? -1 : 1;
    return strcmp(x->name, y->name);
}

static int is_image_name(const char *name) {
    const char *b = strrchr(name, '/');
    b = b ? b + 1 : name;
    const char *dot = strrchr(b, '.');
    return dot && (strcasecmp(dot, ".png") == 0 || strcasecmp(dot, ".jpg") == 0 ||
                   strcasecmp(dot, ".jpeg") == 0);
}

static int ignored_component(const char *c) {
    return c[0] == '.' || strncmp(c, "__MACOSX", 8) == 0;
}

/* ---- selection: class filter, then a balanced `limit` ---------------------- */

/* ss sorted by (cls, name). Keeps at most limit samples, taken round-robin over
 * the classes (the first of each class, then the second, ...), in order. */
static lirf_status apply_limit(samples *ss, size_t limit, int ncls) {
    if (!limit || ss->n <= limit) return LIRF_OK;
    size_t *start = calloc((size_t)ncls + 1, sizeof *start);
    uint8_t *sel = calloc(ss->n, 1);
    if (!start || !sel) {
        free(start), free(sel);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    for (size_t i = 0; i < ss->n; i++) start[ss->s[i].cls + 1]++;
    for (int c = 0; c < ncls; c++) start[c + 1] += start[c];
    size_t chosen = 0;
    for (size_t k = 0; chosen < limit; k++)
        for (int c = 0; c < ncls && chosen < limit; c++)
            if (start[c] + k < start[c + 1]) sel[start[c] + k] = 1, chosen++;
    size_t j = 0;
    for (size_t i = 0; i < ss->n; i++) {
        if (sel[i]) ss->s[j++] = ss->s[i];
        else free(ss->s[i].name);
    }
    ss->n = j;
    free(start), free(sel);
    return LIRF_OK;
}

/* ---- output ---------------------------------------------------------------- */

typedef struct {
    lirf_dataset *out;
    int size;               /* image_size */
    lirf_image_decoder *dec;
    uint8_t *rs;            /* (size, size, 3) resize target */
    int any_color;
} writer;

static lirf_status writer_init(writer *wr, lirf_dataset *out, const samples *ss, int size) {
    memset(wr, 0, sizeof *wr);
    wr->out = out, wr->size = size;
    size_t per = (size_t)3 * size * size, total;
    if (ss->n > INT32_MAX || __builtin_mul_overflow(per, ss->n, &total))
        return LIRF_FAIL(LIRF_E_NOMEM, "%zu images of %dx%d do not fit in memory", ss->n, size,
                         size);
    out->pixels = malloc(total ? total : 1);
    out->labels = malloc((ss->n ? ss->n : 1) * sizeof *out->labels);
    wr->rs = malloc(per);
    if (!out->pixels || !out->labels || !wr->rs)
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (%zu bytes of images)", total);
    for (size_t i = 0; i < ss->n; i++) out->labels[i] = ss->s[i].cls;
    out->n = (int)ss->n;
    out->c = 3, out->h = size, out->w = size;
    return lirf_image_decoder_new(&wr->dec);
}

static void writer_free(writer *wr) {
    lirf_image_decoder_free(wr->dec);
    free(wr->rs);
}

/* Decodes bytes into sample i (planar, 3 channels; gray replicated). */
static lirf_status writer_put(writer *wr, size_t i, const uint8_t *bytes, size_t len,
                              const char *name) {
    const uint8_t *px;
    int h, w, c, s = wr->size;
    LIRF_TRY(lirf_image_decode(wr->dec, bytes, len, name, &px, &h, &w, &c));
    if (h != s || w != s) {
        LIRF_TRY(lirf_image_resize(wr->rs, s, s, px, h, w, c));
        px = wr->rs;
    }
    if (c == 3) wr->any_color = 1;
    size_t plane = (size_t)s * s;
    uint8_t *dst = wr->out->pixels + i * 3 * plane;
    for (int ch = 0; ch < 3; ch++) {
        int sc = c == 1 ? 0 : ch;
        uint8_t *d = dst + (size_t)ch * plane;
        for (size_t k = 0; k < plane; k++) d[k] = px[k * (size_t)c + (size_t)sc];
    }
    return LIRF_OK;
}

/* All gray: keep one channel. */
static void writer_finish(writer *wr) {
    lirf_dataset *d = wr->out;
    if (wr->any_color || d->n == 0) return;
    size_t plane = (size_t)d->h * d->w;
    for (int i = 0; i < d->n; i++)
        memmove(d->pixels + (size_t)i * plane, d->pixels + (size_t)i * 3 * plane, plane);
    d->c = 1;
    uint8_t *p = realloc(d->pixels, (size_t)d->n * plane);
    if (p) d->pixels = p;
}

/* ---- folders ---------------------------------------------------------------- */

static lirf_status join(char *out, size_t cap, const char *a, const char *b) {
    if (snprintf(out, cap, "%s/%s", a, b) >= (int)cap)
        return LIRF_FAIL(LIRF_E_INVALID, "path %s/%s is too long", a, b);
    return LIRF_OK;
}

/* Sorted names of the entries of dir: sub-folders (dirs = 1) or image files. */
static lirf_status list_dir(const char *dir, int dirs, strvec *out) {
    DIR *dp = opendir(dir);
    if (!dp)
        return LIRF_FAIL(errno == ENOENT ? LIRF_E_NOT_FOUND : LIRF_E_IO, "%s: cannot list: %s",
                         dir, strerror(errno));
    lirf_status st = LIRF_OK;
    struct dirent *de;
    char p[4096];
    while (st == LIRF_OK && (de = readdir(dp))) {
        if (ignored_component(de->d_name)) continue;
        st = join(p, sizeof p, dir, de->d_name);
        struct stat sb;
        if (st != LIRF_OK || stat(p, &sb) != 0) continue; /* dangling link: not an image */
        if (dirs ? S_ISDIR(sb.st_mode) : (S_ISDIR(sb.st_mode) || is_image_name(de->d_name)))
            st = strvec_push(out, de->d_name, strlen(de->d_name));
    }
    closedir(dp);
    if (st == LIRF_OK && out->n) qsort(out->v, out->n, sizeof *out->v, cmp_str);
    return st;
}

/* Image files under dir (recursively) as samples of class cls. */
static lirf_status walk_class(const char *dir, int cls, int depth, samples *ss) {
    if (depth > MAX_DEPTH)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: folders nested more than %d deep", dir, MAX_DEPTH);
    strvec names = {0};
    lirf_status st = list_dir(dir, 0, &names);
    char p[4096];
    for (size_t i = 0; st == LIRF_OK && i < names.n; i++) {
        st = join(p, sizeof p, dir, names.v[i]);
        if (st != LIRF_OK) break;
        if (lirf_data_is_dir(p)) {
            st = walk_class(p, cls, depth + 1, ss);
        } else {
            char *c = strdup(p);
            st = c ? samples_push(ss, c, cls) : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
    }
    strvec_free(&names);
    return st;
}

static lirf_status read_file(const char *path, lirf_bytes *b) {
    FILE *f = fopen(path, "rb");
    if (!f) return LIRF_FAIL(LIRF_E_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    lirf_status st = LIRF_OK;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot stat: %s", path, strerror(errno));
    else if ((size_t)sb.st_size > MAX_IMAGE_BYTES)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: %lld bytes, more than an image may have", path,
                       (long long)sb.st_size);
    b->n = 0;
    if (st == LIRF_OK) st = lirf_bytes_reserve(b, (size_t)sb.st_size + 1);
    if (st == LIRF_OK) {
        b->n = fread(b->p, 1, (size_t)sb.st_size + 1, f);
        if (ferror(f)) st = LIRF_FAIL(LIRF_E_IO, "%s: read error", path);
    }
    fclose(f);
    return st;
}

static lirf_status from_folder(const lirf_data_opts *o, lirf_dataset *out) {
    char root[4096];
    if (snprintf(root, sizeof root, "%s", o->path) >= (int)sizeof root)
        return LIRF_FAIL(LIRF_E_INVALID, "data path %s is too long", o->path);
    char p[4096];
    LIRF_TRY(join(p, sizeof p, root, "train"));
    int has_train = lirf_data_is_dir(p);
    LIRF_TRY(join(p, sizeof p, root, "test"));
    int has_test = lirf_data_is_dir(p);
    if (has_train || has_test) {
        const char *split = o->train ? "train" : "test";
        if (!o->train && !has_test) {
            LIRF_TRY(join(p, sizeof p, root, "val"));
            if (lirf_data_is_dir(p)) split = "val";
        }
        LIRF_TRY(join(p, sizeof p, root, split));
        if (!lirf_data_is_dir(p))
            return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no %s/ split folder (it has %s/)", root,
                             o->train ? "train" : "test", has_train ? "train" : "test");
        memcpy(root, p, strlen(p) + 1);
    }
    strvec classes = {0};
    samples ss = {0};
    uint8_t *keep = NULL;
    writer wr = {0};
    lirf_bytes file = {0};
    lirf_status st = list_dir(root, 1, &classes);
    if (st == LIRF_OK && classes.n == 0)
        st = LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no class folders (want ROOT/<class>/<image>)", root);
    if (st == LIRF_OK && classes.n > INT32_MAX)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: too many class folders", root);
    if (st == LIRF_OK)
        st = lirf_error_context(
            lirf_data_set_names(out, (int)classes.n, (const char *const *)classes.v), "%s",
            o->path);
    if (st == LIRF_OK) st = lirf_data_keep_table(o, (int)classes.n, &keep);
    for (size_t c = 0; st == LIRF_OK && c < classes.n; c++) {
        if (!keep[c]) continue; /* never opened */
        size_t before = ss.n;
        st = join(p, sizeof p, root, classes.v[c]);
        if (st == LIRF_OK) st = walk_class(p, (int)c, 0, &ss);
        if (st == LIRF_OK && ss.n == before)
            st = LIRF_FAIL(LIRF_E_FORMAT, "class folder %s holds no PNG/JPEG images", p);
    }
    if (st == LIRF_OK) {
        if (ss.n) qsort(ss.s, ss.n, sizeof *ss.s, cmp_sample);
        st = apply_limit(&ss, o->limit, (int)classes.n);
    }
    if (st == LIRF_OK) st = writer_init(&wr, out, &ss, o->image_size ? o->image_size : 32);
    for (size_t i = 0; st == LIRF_OK && i < ss.n; i++) {
        st = read_file(ss.s[i].name, &file);
        if (st == LIRF_OK) st = writer_put(&wr, i, file.p, file.n, ss.s[i].name);
    }
    if (st == LIRF_OK) writer_finish(&wr);
    writer_free(&wr);
    free(file.p), free(keep);
    samples_free(&ss);
    strvec_free(&classes);
    return st;
}

/* ---- archives ------------------------------------------------------------- */

/* Entry name without leading "./" or "/" and trailing "/"; NULL if empty. */
static lirf_status norm_name(const char *raw, char **out) {
    *out = NULL;
    if (!raw) return LIRF_OK;
    for (;;) {
        if (raw[0] == '/') raw++;
        else if (raw[0] == '.' && raw[1] == '/') raw += 2;
        else break;
    }
    size_t n = strlen(raw);
    while (n && raw[n - 1] == '/') n--;
    if (!n) return LIRF_OK;
    *out = malloc(n + 1);
    if (!*out) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    memcpy(*out, raw, n);
    (*out)[n] = 0;
    return LIRF_OK;
}

typedef struct {
    strvec files;  /* regular files (all) */
    strvec dirs;   /* directory entries */
} entries;

static int has_ignored_component(const char *rel) {
    for (const char *p = rel; p && *p;) {
        if (ignored_component(p)) return 1;
        p = strchr(p, '/');
        if (p) p++;
    }
    return 0;
}

/* Is there a folder R + d (a dir entry or a prefix of some entry)? */
static int arc_has_dir(const entries *e, const char *R, const char *d) {
    size_t rl = strlen(R), dl = strlen(d);
    const strvec *vs[2] = {&e->files, &e->dirs};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < vs[k]->n; i++) {
            const char *s = vs[k]->v[i];
            if (strncmp(s, R, rl) || strncmp(s + rl, d, dl)) continue;
            if (s[rl + dl] == '/' || (k == 1 && s[rl + dl] == 0)) return 1;
        }
    return 0;
}

/* The first path component below R of every entry under R that is a folder
 * (sorted, unique, ignored names dropped) -> classes. */
static lirf_status arc_subdirs(const entries *e, const char *R, strvec *out) {
    size_t rl = strlen(R);
    const strvec *vs[2] = {&e->files, &e->dirs};
    strvec all = {0};
    lirf_status st = LIRF_OK;
    for (int k = 0; k < 2 && st == LIRF_OK; k++)
        for (size_t i = 0; i < vs[k]->n && st == LIRF_OK; i++) {
            const char *s = vs[k]->v[i];
            if (strncmp(s, R, rl) || !s[rl]) continue;
            const char *rest = s + rl, *slash = strchr(rest, '/');
            if (!slash && k == 0) continue; /* a file directly in R */
            size_t len = slash ? (size_t)(slash - rest) : strlen(rest);
            if (rest[0] == '.' || strncmp(rest, "__MACOSX", 8) == 0) continue;
            if (all.n && strlen(all.v[all.n - 1]) == len && !strncmp(all.v[all.n - 1], rest, len))
                continue; /* the common case: same folder as the previous entry */
            st = strvec_push(&all, rest, len);
        }
    if (st == LIRF_OK && all.n) {
        qsort(all.v, all.n, sizeof *all.v, cmp_str);
        for (size_t i = 0; i < all.n; i++) {
            if (out->n && !strcmp(out->v[out->n - 1], all.v[i])) continue;
            st = strvec_push(out, all.v[i], strlen(all.v[i]));
            if (st != LIRF_OK) break;
        }
    }
    strvec_free(&all);
    return st;
}

/* Does any image sit directly in R/d/ ? */
static int arc_images_in(const entries *e, const char *R, const char *d) {
    size_t rl = strlen(R), dl = strlen(d);
    for (size_t i = 0; i < e->files.n; i++) {
        const char *s = e->files.v[i];
        if (strncmp(s, R, rl) || strncmp(s + rl, d, dl) || s[rl + dl] != '/') continue;
        if (!strchr(s + rl + dl + 1, '/') && is_image_name(s)) return 1;
    }
    return 0;
}

static lirf_status arc_list(const lirf_data_src *src, entries *e) {
    const char *path = src->name;
    struct archive *a;
    LIRF_TRY(lirf_data_open_archive_src(src, &a));
    lirf_status st = LIRF_OK;
    for (;;) {
        struct archive_entry *en;
        st = lirf_data_next_header(a, &en, path);
        if (st != LIRF_OK || !en) break;
        int ft = archive_entry_filetype(en);
        if (ft != AE_IFREG && ft != AE_IFDIR) continue;
        char *name;
        st = norm_name(archive_entry_pathname(en), &name);
        if (st != LIRF_OK) break;
        if (!name) continue;
        strvec *v = ft == AE_IFREG ? &e->files : &e->dirs;
        st = strvec_push(v, name, strlen(name));
        free(name);
        if (st != LIRF_OK) break;
    }
    archive_read_free(a);
    return st;
}

static int cmp_sample_name(const void *a, const void *b) {
    return strcmp((*(const sample *const *)a)->name, (*(const sample *const *)b)->name);
}

/* The archive's root folder into R ("" or "a/b/"): single enclosing folders
 * looked through, then the split folder (train, test, or val for test). */
static lirf_status arc_find_root(const lirf_data_opts *o, const entries *e, char *R, size_t cap) {
    lirf_status st = LIRF_OK;
    for (int depth = 0; st == LIRF_OK && depth < MAX_DEPTH; depth++) {
        int has_train = arc_has_dir(e, R, "train"), has_test = arc_has_dir(e, R, "test");
        if (has_train || has_test) {
            const char *split = o->train ? "train" : "test";
            if (!o->train && !has_test && arc_has_dir(e, R, "val")) split = "val";
            if (!arc_has_dir(e, R, split))
                return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no %s%s/ split folder in the archive",
                                 o->path, R, split);
            size_t rl = strlen(R);
            if (rl + strlen(split) + 2 > cap)
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: entry names too long", o->path);
            snprintf(R + rl, cap - rl, "%s/", split);
            return LIRF_OK;
        }
        strvec sub = {0};
        st = arc_subdirs(e, R, &sub);
        int descend = st == LIRF_OK && sub.n == 1 && !arc_images_in(e, R, sub.v[0]) &&
                      strlen(R) + strlen(sub.v[0]) + 2 <= cap;
        if (descend) snprintf(R + strlen(R), cap - strlen(R), "%s/", sub.v[0]);
        strvec_free(&sub);
        if (!descend) break;
    }
    return st;
}

/* Samples: image files under R/<class>/ of kept classes (their names moved
 * out of e->files), sorted, none twice, no kept class empty. */
static lirf_status arc_collect_samples(const lirf_data_opts *o, entries *e, const char *R,
                                       const strvec *classes, const uint8_t *keep, samples *ss) {
    lirf_status st = LIRF_OK;
    size_t rl = strlen(R);
    for (size_t i = 0; st == LIRF_OK && i < e->files.n; i++) {
        const char *s = e->files.v[i];
        if (strncmp(s, R, rl) || !is_image_name(s) || has_ignored_component(s + rl)) continue;
        const char *slash = strchr(s + rl, '/');
        if (!slash) continue;
        char cname[1024];
        size_t len = (size_t)(slash - (s + rl));
        if (len >= sizeof cname) continue;
        memcpy(cname, s + rl, len);
        cname[len] = 0;
        char *key = cname;
        char **hit = bsearch(&key, classes->v, classes->n, sizeof *classes->v, cmp_str);
        if (!hit || !keep[hit - classes->v]) continue;
        e->files.v[i] = NULL; /* moved into the sample */
        st = samples_push(ss, (char *)s, (int)(hit - classes->v));
    }
    if (st == LIRF_OK && ss->n) qsort(ss->s, ss->n, sizeof *ss->s, cmp_sample);
    for (size_t i = 0; st == LIRF_OK && i < ss->n; i++)
        if (i && !strcmp(ss->s[i].name, ss->s[i - 1].name))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s appears twice in the archive", o->path,
                             ss->s[i].name);
    if (st != LIRF_OK) return st;
    /* Empty classes (only those kept: the others are not looked at). */
    size_t *count = calloc(classes->n ? classes->n : 1, sizeof *count);
    if (!count) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; i < ss->n; i++) count[ss->s[i].cls]++;
    for (size_t c = 0; st == LIRF_OK && c < classes->n; c++)
        if (keep[c] && !count[c])
            st = LIRF_FAIL(LIRF_E_FORMAT, "%s: class folder %s%s holds no PNG/JPEG images",
                           o->path, R, classes->v[c]);
    free(count);
    return st;
}

/* The current entry's bytes into data (at most MAX_IMAGE_BYTES). The size in
 * the entry's header is only a claim (a few hundred bytes of tar can declare
 * 256 MiB): memory grows with the bytes actually read, from at most
 * READ_FIRST. */
static lirf_status arc_read_entry(struct archive *a, struct archive_entry *en, lirf_bytes *data,
                                  const char *name) {
    la_int64_t esize = archive_entry_size_is_set(en) ? archive_entry_size(en) : -1;
    if (esize > (la_int64_t)MAX_IMAGE_BYTES)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %lld bytes, more than an image may have", name,
                         (long long)esize);
    size_t want = esize >= 0 ? (size_t)esize + 1 : MAX_IMAGE_BYTES + 1, got;
    data->n = 0;
    lirf_status st = lirf_bytes_reserve(data, want < READ_FIRST ? want : READ_FIRST);
    while (st == LIRF_OK) {
        size_t room = data->cap - data->n;
        st = lirf_data_read(a, data->p + data->n, room, &got, name);
        if (st != LIRF_OK) break;
        data->n += got;
        if (got < room || data->n >= want) break;
        st = lirf_bytes_reserve(data, data->cap);
    }
    if (st == LIRF_OK && data->n > MAX_IMAGE_BYTES)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: more bytes than an image may have", name);
    return st;
}

/* The second pass: decode the selected entries into wr, skip the rest unread. */
static lirf_status arc_decode_samples(const lirf_data_opts *o, const lirf_data_src *src,
                                      const samples *ss, writer *wr) {
    const sample **byname = malloc((ss->n ? ss->n : 1) * sizeof *byname);
    uint8_t *filled = calloc(ss->n ? ss->n : 1, 1);
    lirf_bytes data = {0};
    struct archive *a = NULL;
    char name[4096];
    lirf_status st = byname && filled ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) {
        for (size_t i = 0; i < ss->n; i++) byname[i] = &ss->s[i];
        qsort(byname, ss->n, sizeof *byname, cmp_sample_name);
        st = lirf_data_open_archive_src(src, &a);
    }
    size_t done = 0;
    while (st == LIRF_OK && done < ss->n) {
        struct archive_entry *en;
        st = lirf_data_next_header(a, &en, o->path);
        if (st != LIRF_OK || !en) break;
        if (archive_entry_filetype(en) != AE_IFREG) continue;
        char *nm;
        st = norm_name(archive_entry_pathname(en), &nm);
        if (st != LIRF_OK || !nm) continue;
        sample key = {nm, 0};
        const sample *kp = &key;
        const sample **hit = bsearch(&kp, byname, ss->n, sizeof *byname, cmp_sample_name);
        free(nm);
        if (!hit) {
            archive_read_data_skip(a);
            continue;
        }
        size_t idx = (size_t)(*hit - ss->s);
        snprintf(name, sizeof name, "%s: %s", o->path, ss->s[idx].name);
        st = arc_read_entry(a, en, &data, name);
        if (st == LIRF_OK && !filled[idx]) {
            st = writer_put(wr, idx, data.p, data.n, name);
            filled[idx] = 1;
            done++;
        }
    }
    if (st == LIRF_OK && done < ss->n) {
        size_t i = 0;
        while (filled[i]) i++;
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: %s vanished between two reads of the archive", o->path,
                       ss->s[i].name);
    }
    if (a) archive_read_free(a);
    free(data.p), free(filled), free(byname);
    return st;
}

static lirf_status from_archive(const lirf_data_opts *o, const lirf_data_src *src,
                                lirf_dataset *out) {
    entries e = {{0}, {0}};
    strvec classes = {0};
    samples ss = {0};
    uint8_t *keep = NULL;
    writer wr = {0};
    char R[2048] = "";

    lirf_status st = arc_list(src, &e);
    if (st == LIRF_OK) st = arc_find_root(o, &e, R, sizeof R);
    if (st == LIRF_OK) st = arc_subdirs(&e, R, &classes);
    if (st == LIRF_OK && classes.n == 0)
        st = LIRF_FAIL(LIRF_E_NOT_FOUND,
                       "%s: no class folders in the archive (want [split/]<class>/<image>)",
                       o->path);
    if (st == LIRF_OK && classes.n > INT32_MAX)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: too many class folders", o->path);
    if (st == LIRF_OK)
        st = lirf_error_context(
            lirf_data_set_names(out, (int)classes.n, (const char *const *)classes.v), "%s",
            o->path);
    if (st == LIRF_OK) st = lirf_data_keep_table(o, (int)classes.n, &keep);
    if (st == LIRF_OK) st = arc_collect_samples(o, &e, R, &classes, keep, &ss);
    if (st == LIRF_OK) st = apply_limit(&ss, o->limit, (int)classes.n);
    if (st == LIRF_OK) st = writer_init(&wr, out, &ss, o->image_size ? o->image_size : 32);
    if (st == LIRF_OK) st = arc_decode_samples(o, src, &ss, &wr);
    if (st == LIRF_OK) writer_finish(&wr);
    writer_free(&wr);
    free(keep);
    samples_free(&ss);
    strvec_free(&classes);
    strvec_free(&e.files), strvec_free(&e.dirs);
    return st;
}

lirf_status lirf_data_load_imagefolder(const lirf_data_opts *o, const lirf_data_src *mem,
                                       lirf_dataset *out) {
    snprintf(out->source, sizeof out->source, "%s", o->path);
    if (mem) return from_archive(o, mem, out);
    if (lirf_data_is_dir(o->path)) return from_folder(o, out);
    lirf_data_src file = {o->path, NULL, 0};
    return from_archive(o, &file, out);
}
