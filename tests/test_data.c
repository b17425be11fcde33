/* Data readers (model/data*.c): Fashion-MNIST from the Debian package (counts,
 * label histogram, a pixel checksum computed independently with Python's gzip,
 * filters, limits, speed); crafted bad IDX and CIFAR files; CIFAR folders and
 * .tar.gz; image folders of PNG / JPEG files written here with libpng /
 * libjpeg, as a folder and as archives (identical pixels), resizing against a
 * brute-force reference, corrupt images, empty classes, and the class filter
 * never touching other classes' files; the real CIFAR-10 JPEG test split when
 * ../shared/data/cifar10 is there. No OpenCL.
 */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#include "data.h"
#include "util.h"

/* ---- helpers --------------------------------------------------------------- */

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void rm_rf(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) return;
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (d) {
            struct dirent *de;
            while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
                char p[4096];
                snprintf(p, sizeof p, "%s/%s", path, de->d_name);
                rm_rf(p);
            }
            closedir(d);
        }
        rmdir(path);
    } else {
        unlink(path);
    }
}

static char *tmpdir(void) {
    static char buf[8][64];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 64, "/tmp/lirf_test_data_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p));
    return p;
}

static void mkdirs(const char *path) {
    char p[8192]; /* callers pass paths of up to 4200 bytes (gcc 12 -Wformat-truncation) */
    snprintf(p, sizeof p, "%s", path);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            mkdir(p, 0755);
            *s = '/';
        }
    mkdir(p, 0755);
}

static void write_bytes(const char *path, const void *b, size_t n) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0, mkdirs(dir);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* One gzip stream of bytes (libarchive's raw writer). */
static void write_gz(const char *path, const void *b, size_t n) {
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_set_format_raw(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "data");
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_size(e, (la_int64_t)n);
    ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_data(a, b, n), (la_ssize_t)n);
    archive_entry_free(e);
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

/* A set of files in memory, written as a folder or as an archive. */
typedef struct {
    uint8_t *data[64];
    size_t len[64];
    char path[64][256];
    int n;
    int ndirs;
    char dirs[16][256]; /* extra (empty) directories */
} fileset;

static void fs_add(fileset *fs, const char *path, const uint8_t *b, size_t n) {
    ck_assert_int_lt(fs->n, 64);
    ck_assert_int_lt(snprintf(fs->path[fs->n], 256, "%s", path), 256);
    fs->data[fs->n] = malloc(n ? n : 1);
    memcpy(fs->data[fs->n], b, n);
    fs->len[fs->n++] = n;
}

static void fs_free(fileset *fs) {
    for (int i = 0; i < fs->n; i++) free(fs->data[i]);
    fs->n = 0;
}

static void fs_write_folder(const fileset *fs, const char *root) {
    char p[4096];
    for (int i = 0; i < fs->n; i++) {
        snprintf(p, sizeof p, "%s/%s", root, fs->path[i]);
        write_bytes(p, fs->data[i], fs->len[i]);
    }
    for (int i = 0; i < fs->ndirs; i++) {
        snprintf(p, sizeof p, "%s/%s", root, fs->dirs[i]);
        mkdirs(p);
    }
}

/* Entries shuffled (so nothing relies on sorted archives), under prefix. */
static void fs_write_archive(const fileset *fs, const char *path, const char *prefix, int gzip,
                             int zip) {
    struct archive *a = archive_write_new();
    if (zip) {
        ck_assert_int_eq(archive_write_set_format_zip(a), ARCHIVE_OK);
    } else {
        ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
        if (gzip) ck_assert_int_eq(archive_write_add_filter_gzip(a), ARCHIVE_OK);
    }
    ck_assert_int_eq(archive_write_open_filename(a, path), ARCHIVE_OK);
    char p[512];
    for (int i = 0; i < fs->ndirs; i++) {
        struct archive_entry *e = archive_entry_new();
        snprintf(p, sizeof p, "%s%s/", prefix, fs->dirs[i]);
        archive_entry_set_pathname(e, p);
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        archive_entry_free(e);
    }
    for (int k = 0; k < fs->n; k++) {
        int i = k < fs->n / 2 ? 2 * k + 1 : 2 * (k - fs->n / 2); /* odd indices, then even */
        struct archive_entry *e = archive_entry_new();
        snprintf(p, sizeof p, "%s%s", prefix, fs->path[i]);
        archive_entry_set_pathname(e, p);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)fs->len[i]);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        ck_assert_int_eq(archive_write_data(a, fs->data[i], fs->len[i]), (la_ssize_t)fs->len[i]);
        archive_entry_free(e);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
}

static lirf_data_opts opts_of(const char *path, lirf_data_kind kind, int train) {
    lirf_data_opts o;
    memset(&o, 0, sizeof o);
    o.path = path, o.kind = kind, o.train = train;
    return o;
}

static void load_ok(const lirf_data_opts *o, lirf_dataset *d) {
    lirf_status st = lirf_dataset_load(o, d);
    ck_assert_msg(st == LIRF_OK, "load %s: %s: %s", o->path ? o->path : "(default)",
                  lirf_status_name(st), lirf_error_message());
}

/* The load fails with st, and the message names `a` and mentions `b`. */
static void load_fails(const lirf_data_opts *o, lirf_status want, const char *a, const char *b) {
    lirf_dataset d;
    lirf_status st = lirf_dataset_load(o, &d);
    const char *m = lirf_error_message();
    ck_assert_msg(st == want, "load %s: got %s (%s), want %s", o->path, lirf_status_name(st), m,
                  lirf_status_name(want));
    ck_assert_msg(!a || strstr(m, a), "message \"%s\" does not name \"%s\"", m, a);
    ck_assert_msg(!b || strstr(m, b), "message \"%s\" does not mention \"%s\"", m, b);
    ck_assert_ptr_null(d.pixels);
    ck_assert_ptr_null(d.labels);
    ck_assert_int_eq(d.n, 0);
}

static void same_dataset(const lirf_dataset *a, const lirf_dataset *b) {
    ck_assert_int_eq(a->n, b->n);
    ck_assert_int_eq(a->c, b->c);
    ck_assert_int_eq(a->h, b->h);
    ck_assert_int_eq(a->w, b->w);
    ck_assert_int_eq(a->num_classes, b->num_classes);
    for (int i = 0; i < a->num_classes; i++) ck_assert_str_eq(a->class_names[i], b->class_names[i]);
    ck_assert(memcmp(a->labels, b->labels, (size_t)a->n * sizeof *a->labels) == 0);
    ck_assert(memcmp(a->pixels, b->pixels, (size_t)a->n * a->c * a->h * a->w) == 0);
}

/* ---- Fashion-MNIST ------------------------------------------------------------ */

/* Sums of all pixel bytes, computed with Python's gzip module from the Debian
 * files (an independent reader). */
#define FMNIST_TRAIN_SUM 3431114169ull
#define FMNIST_TEST_SUM 573469082ull

static uint64_t pixel_sum(const lirf_dataset *d) {
    uint64_t s = 0;
    size_t n = (size_t)d->n * d->c * d->h * d->w;
    for (size_t i = 0; i < n; i++) s += d->pixels[i];
    return s;
}

static int have_fashion(void) {
    char dir[1024];
    if (lirf_fashion_mnist_dir(dir, sizeof dir) == LIRF_OK) return 1;
    printf("SKIPPED: Fashion-MNIST not installed (%s)\n", lirf_error_message());
    return 0;
}

START_TEST(fashion_mnist_train_and_test) {
    char dir[1024];
    ck_assert_msg(lirf_fashion_mnist_dir(dir, sizeof dir) == LIRF_OK,
                  "dataset-fashion-mnist must be installed (scripts/deps-debian.sh): %s",
                  lirf_error_message());
    char small[4];
    ck_assert_int_eq(lirf_fashion_mnist_dir(small, sizeof small), LIRF_E_INVALID);
    for (int train = 1; train >= 0; train--) {
        lirf_data_opts o = opts_of(NULL, LIRF_DATA_AUTO, train);
        lirf_dataset d;
        double t0 = now_s();
        load_ok(&o, &d);
        double t = now_s() - t0;
        printf("Fashion-MNIST %s: %d images in %.3f s\n", train ? "train" : "test", d.n, t);
        int want = train ? 60000 : 10000;
        ck_assert_int_eq(d.n, want);
        ck_assert_int_eq(d.c, 1);
        ck_assert_int_eq(d.h, 28);
        ck_assert_int_eq(d.w, 28);
        ck_assert_int_eq(d.kind, LIRF_DATA_FASHION_MNIST);
        ck_assert_int_eq(d.num_classes, 10);
        ck_assert_str_eq(d.class_names[0], "T-shirt/top");
        ck_assert_str_eq(d.class_names[6], "Shirt");
        ck_assert_str_eq(d.class_names[9], "Ankle boot");
        ck_assert_str_eq(d.source, dir);
        int hist[10] = {0};
        for (int i = 0; i < d.n; i++) {
            ck_assert(d.labels[i] >= 0 && d.labels[i] < 10);
            hist[d.labels[i]]++;
        }
        for (int c = 0; c < 10; c++) ck_assert_int_eq(hist[c], want / 10);
        ck_assert_int_eq(d.labels[0], 9);
        ck_assert_uint_eq(pixel_sum(&d), train ? FMNIST_TRAIN_SUM : FMNIST_TEST_SUM);
        if (train) {
            /* its time is printed, not checked: a test is no timer (docs/data.md) */
            float mean, std;
            lirf_dataset_stats(&d, &mean, &std);
            ck_assert_msg(fabsf(mean - 0.2860f) < 5e-4f && fabsf(std - 0.3530f) < 5e-4f,
                          "stats %f %f", mean, std);
        }
        lirf_dataset_free(&d);
        ck_assert_ptr_null(d.pixels);
    }
    /* The folder given explicitly, and a path to one of its files. */
    lirf_data_opts o = opts_of(dir, LIRF_DATA_AUTO, 0);
    lirf_dataset a, b;
    load_ok(&o, &a);
    char file[1200];
    snprintf(file, sizeof file, "%s/t10k-images-idx3-ubyte.gz", dir);
    o.path = file;
    load_ok(&o, &b);
    ck_assert_int_eq(a.kind, LIRF_DATA_FASHION_MNIST);
    same_dataset(&a, &b);
    lirf_dataset_free(&a), lirf_dataset_free(&b);
}
END_TEST

START_TEST(fashion_mnist_filter_and_limit) {
    if (!have_fashion()) return;
    lirf_data_opts o = opts_of(NULL, LIRF_DATA_FASHION_MNIST, 1);
    lirf_dataset all, sub;
    load_ok(&o, &all);
    const int32_t cls[] = {2, 0, 1};
    o.classes = cls, o.nclasses = 3;
    load_ok(&o, &sub);
    ck_assert_int_eq(sub.n, 18000);
    ck_assert_int_eq(sub.num_classes, 10);
    /* The same samples, in the same order, with their original labels. */
    int j = 0;
    for (int i = 0; i < all.n; i++) {
        if (all.labels[i] > 2) continue;
        ck_assert_int_lt(j, sub.n);
        ck_assert_int_eq(sub.labels[j], all.labels[i]);
        ck_assert(memcmp(sub.pixels + (size_t)j * 784, all.pixels + (size_t)i * 784, 784) == 0);
        j++;
    }
    ck_assert_int_eq(j, 18000);
    lirf_dataset_free(&sub);

    o.classes = NULL, o.nclasses = 0, o.limit = 777;
    load_ok(&o, &sub);
    ck_assert_int_eq(sub.n, 777);
    ck_assert(memcmp(sub.labels, all.labels, 777 * sizeof(int32_t)) == 0);
    ck_assert(memcmp(sub.pixels, all.pixels, 777 * 784) == 0);
    lirf_dataset_free(&sub);

    const int32_t seven[] = {7};
    o.classes = seven, o.nclasses = 1, o.limit = 10;
    load_ok(&o, &sub);
    ck_assert_int_eq(sub.n, 10);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(sub.labels[i], 7);
    lirf_dataset_free(&sub);
    lirf_dataset_free(&all);
}
END_TEST

START_TEST(invalid_options) {
    lirf_data_opts o = opts_of(NULL, LIRF_DATA_AUTO, 1);
    lirf_dataset d;
    ck_assert_int_eq(lirf_dataset_load(NULL, &d), LIRF_E_NULL);
    ck_assert_int_eq(lirf_dataset_load(&o, NULL), LIRF_E_NULL);
    o.image_size = -1;
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_INVALID);
    o.image_size = 100000;
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_INVALID);
    o.image_size = 0;
    o.nclasses = 2;
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_NULL);
    o.nclasses = -1;
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_INVALID);
    o.nclasses = 0;
    o.kind = LIRF_DATA_CIFAR10; /* needs a path */
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_INVALID);
    o.kind = (lirf_data_kind)42;
    ck_assert_int_eq(lirf_dataset_load(&o, &d), LIRF_E_INVALID);
    o = opts_of("/nonexistent/lirf/data", LIRF_DATA_AUTO, 1);
    load_fails(&o, LIRF_E_NOT_FOUND, "/nonexistent/lirf/data", NULL);
    if (have_fashion()) {
        const int32_t bad[] = {3, 10};
        o = opts_of(NULL, LIRF_DATA_AUTO, 0);
        o.classes = bad, o.nclasses = 2;
        load_fails(&o, LIRF_E_INVALID, "class 10", "out of range");
    }
    lirf_image_decoder *dec;
    ck_assert_int_eq(lirf_image_decoder_new(&dec), LIRF_OK);
    const uint8_t *px;
    int h, w, c;
    const uint8_t junk[16] = "not an image";
    ck_assert_int_eq(lirf_image_decode(dec, junk, sizeof junk, "junk.bin", &px, &h, &w, &c),
                     LIRF_E_FORMAT);
    ck_assert(strstr(lirf_error_message(), "junk.bin"));
    ck_assert_int_eq(lirf_image_decode(dec, NULL, 4, "x", &px, &h, &w, &c), LIRF_E_NULL);
    lirf_image_decoder_free(dec);
    uint8_t one = 0;
    ck_assert_int_eq(lirf_image_resize(&one, 0, 1, &one, 1, 1, 1), LIRF_E_INVALID);
}
END_TEST

/* ---- crafted IDX files --------------------------------------------------- */

static void be32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

/* IDX files of n images (rows x cols) into dir as train-*; gz: gzip them. */
typedef struct {
    uint32_t img_magic, lab_magic, nimg, nlab, rows, cols;
    int bad_label;        /* label of sample 1 set to this when >= 0 */
    long img_cut;         /* bytes dropped from the end of the images file */
    int img_extra;        /* bytes appended */
    int gz;
} idx_spec;

static idx_spec idx_default(void) {
    idx_spec s = {0x803, 0x801, 25, 25, 28, 28, -1, 0, 0, 0};
    return s;
}

static void write_idx(const char *dir, const idx_spec *s, uint8_t **pix_out, uint8_t **lab_out) {
    uint32_t ni = s->nimg < 100 ? s->nimg : 100, nl = s->nlab < 100 ? s->nlab : 100;
    size_t isz = 16 + (size_t)ni * s->rows * s->cols + (size_t)s->img_extra;
    uint8_t *img = calloc(isz, 1), *lab = calloc(8 + nl, 1);
    be32(img, s->img_magic), be32(img + 4, s->nimg), be32(img + 8, s->rows), be32(img + 12, s->cols);
    for (size_t i = 16; i < isz; i++) img[i] = (uint8_t)(i * 7 + 3);
    be32(lab, s->lab_magic), be32(lab + 4, s->nlab);
    for (uint32_t i = 0; i < nl; i++) lab[8 + i] = (uint8_t)(i * 3 % 10);
    if (s->bad_label >= 0) lab[9] = (uint8_t)s->bad_label;
    char p[4096];
    size_t icut = isz - (size_t)s->img_cut;
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte%s", dir, s->gz ? ".gz" : "");
    if (s->gz) write_gz(p, img, icut);
    else write_bytes(p, img, icut);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte%s", dir, s->gz ? ".gz" : "");
    if (s->gz) write_gz(p, lab, 8 + nl);
    else write_bytes(p, lab, 8 + nl);
    if (pix_out) *pix_out = img;
    else free(img);
    if (lab_out) *lab_out = lab;
    else free(lab);
}

START_TEST(idx_crafted_files) {
    char *dir = tmpdir();
    char imgs[256], labs[256];
    snprintf(imgs, sizeof imgs, "%s/train-images-idx3-ubyte", dir);
    snprintf(labs, sizeof labs, "%s/train-labels-idx1-ubyte", dir);
    lirf_data_opts o = opts_of(dir, LIRF_DATA_AUTO, 1);

    /* valid, plain and gzip */
    for (int gz = 0; gz < 2; gz++) {
        idx_spec s = idx_default();
        s.gz = gz;
        uint8_t *img, *lab;
        write_idx(dir, &s, &img, &lab);
        lirf_dataset d;
        load_ok(&o, &d);
        ck_assert_int_eq(d.kind, LIRF_DATA_FASHION_MNIST);
        ck_assert_int_eq(d.n, 25);
        ck_assert(memcmp(d.pixels, img + 16, 25 * 784) == 0);
        for (int i = 0; i < 25; i++) ck_assert_int_eq(d.labels[i], lab[8 + i]);
        lirf_dataset_free(&d);
        free(img), free(lab);
        if (gz) { /* the .gz files win over plain ones: remove them for the next cases */
            char p[4200];
            snprintf(p, sizeof p, "%s.gz", imgs), unlink(p);
            snprintf(p, sizeof p, "%s.gz", labs), unlink(p);
        }
    }
    idx_spec s;
    s = idx_default(), s.img_magic = 0x804;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "magic");
    s = idx_default(), s.lab_magic = 0x803;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, labs, "magic");
    s = idx_default(), s.img_cut = 100;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "truncated");
    s = idx_default(), s.img_cut = (long)(16 + 25 * 784 - 10); /* inside the header */
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "header");
    s = idx_default(), s.img_extra = 5;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "bytes follow");
    s = idx_default(), s.nlab = 24;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "labels");
    s = idx_default(), s.bad_label = 10;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, labs, "out of range");
    s = idx_default(), s.rows = 100000;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "out of range");
    s = idx_default(), s.cols = 0;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, imgs, "out of range");
    /* Absurd counts: the labels run out long before; nothing huge is allocated. */
    s = idx_default(), s.nimg = s.nlab = 0x7fffffff;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, labs, "truncated");
    s = idx_default(), s.nlab = 0x80000000u, s.nimg = 0x80000000u;
    write_idx(dir, &s, NULL, NULL);
    load_fails(&o, LIRF_E_FORMAT, labs, "claims");
    /* Truncated gzip stream */
    s = idx_default(), s.gz = 1;
    write_idx(dir, &s, NULL, NULL);
    char gzp[4200];
    snprintf(gzp, sizeof gzp, "%s.gz", imgs);
    ck_assert_int_eq(truncate(gzp, 200), 0);
    load_fails(&o, LIRF_E_FORMAT, imgs, NULL);
    /* Empty file */
    write_bytes(gzp, "", 0);
    load_fails(&o, LIRF_E_FORMAT, imgs, NULL);
    unlink(gzp);
    /* Missing images file */
    snprintf(gzp, sizeof gzp, "%s.gz", labs), unlink(gzp);
    unlink(imgs);
    write_idx(dir, &s, NULL, NULL);
    snprintf(gzp, sizeof gzp, "%s.gz", imgs), unlink(gzp);
    o.kind = LIRF_DATA_FASHION_MNIST;
    load_fails(&o, LIRF_E_NOT_FOUND, "train-images-idx3-ubyte", NULL);
    rm_rf(dir);
}
END_TEST

/* ---- CIFAR ---------------------------------------------------------------- */

/* records of file f (0..5: data_batch_1..5, test_batch): r records. */
static size_t cifar_file(uint8_t *buf, int f, int r, int c100, int bad_label) {
    size_t off = 0;
    for (int i = 0; i < r; i++) {
        int label = (i * 3 + f) % (c100 ? 100 : 10);
        if (i == r - 1 && bad_label >= 0) label = bad_label;
        if (c100) buf[off++] = (uint8_t)(label / 5);
        buf[off++] = (uint8_t)label;
        for (int j = 0; j < 3072; j++) buf[off++] = (uint8_t)(f * 31 + i * 7 + j * 13);
    }
    return off;
}

static void check_cifar_record(const lirf_dataset *d, int k, int f, int i) {
    ck_assert_int_eq(d->labels[k], (i * 3 + f) % 10);
    const uint8_t *p = d->pixels + (size_t)k * 3072;
    for (int j = 0; j < 3072; j++)
        if (p[j] != (uint8_t)(f * 31 + i * 7 + j * 13))
            ck_abort_msg("sample %d pixel %d: %d, want %d", k, j, p[j], (uint8_t)(f * 31 + i * 7 + j * 13));
}

START_TEST(cifar10_folder_and_archive) {
    static uint8_t buf[8 * 3074];
    char *dir = tmpdir();
    char sub[4200], p[4300], tgz[4200];
    snprintf(sub, sizeof sub, "%s/c10/cifar-10-batches-bin", dir);
    fileset fs = {0};
    for (int f = 0; f < 6; f++) {
        char name[64];
        if (f < 5) snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", f + 1);
        else snprintf(name, sizeof name, "cifar-10-batches-bin/test_batch.bin");
        fs_add(&fs, name, buf, cifar_file(buf, f, 7, 0, -1));
    }
    const char *meta = "zero\none\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\n\n";
    fs_add(&fs, "cifar-10-batches-bin/batches.meta.txt", (const uint8_t *)meta, strlen(meta));
    snprintf(p, sizeof p, "%s/c10", dir);
    fs_write_folder(&fs, p);
    snprintf(tgz, sizeof tgz, "%s/cifar-10-binary.tar.gz", dir);
    fs_write_archive(&fs, tgz, "", 1, 0);

    lirf_dataset a, b, c;
    lirf_data_opts o = opts_of(p, LIRF_DATA_AUTO, 1);
    load_ok(&o, &a); /* folder holding cifar-10-batches-bin/ */
    ck_assert_int_eq(a.kind, LIRF_DATA_CIFAR10);
    ck_assert_int_eq(a.n, 35);
    ck_assert_int_eq(a.c, 3);
    ck_assert_int_eq(a.h, 32);
    ck_assert_int_eq(a.w, 32);
    ck_assert_str_eq(a.class_names[3], "three");
    for (int k = 0; k < 35; k++) check_cifar_record(&a, k, k / 7, k % 7);
    o.path = sub;
    load_ok(&o, &b); /* the batches folder itself */
    same_dataset(&a, &b);
    lirf_dataset_free(&b);
    o.path = tgz;
    load_ok(&o, &b); /* the archive, entries shuffled */
    ck_assert_int_eq(b.kind, LIRF_DATA_CIFAR10);
    same_dataset(&a, &b);
    lirf_dataset_free(&b);
    o.train = 0;
    load_ok(&o, &b);
    ck_assert_int_eq(b.n, 7);
    for (int k = 0; k < 7; k++) check_cifar_record(&b, k, 5, k);
    lirf_dataset_free(&b);

    /* limit and classes: folder and archive agree, batches in order */
    const int32_t cls[] = {1, 4};
    o.train = 1, o.classes = cls, o.nclasses = 2, o.limit = 5;
    for (int arch = 0; arch < 2; arch++) {
        o.path = arch ? tgz : sub;
        load_ok(&o, arch ? &c : &b);
    }
    same_dataset(&b, &c);
    ck_assert_int_eq(b.n, 5);
    int k = 0;
    for (int i = 0; i < 35 && k < 5; i++)
        if (a.labels[i] == 1 || a.labels[i] == 4) {
            ck_assert_int_eq(b.labels[k], a.labels[i]);
            ck_assert(memcmp(b.pixels + (size_t)k * 3072, a.pixels + (size_t)i * 3072, 3072) == 0);
            k++;
        }
    ck_assert_int_eq(k, 5);
    lirf_dataset_free(&b), lirf_dataset_free(&c);
    o.classes = NULL, o.nclasses = 0;
    o.limit = 10;
    o.path = tgz;
    load_ok(&o, &b);
    ck_assert_int_eq(b.n, 10);
    ck_assert(memcmp(b.pixels, a.pixels, 10 * 3072) == 0);
    lirf_dataset_free(&b);
    lirf_dataset_free(&a);
    o.limit = 0;

    /* no meta file: standard names */
    snprintf(p, sizeof p, "%s/batches.meta.txt", sub);
    unlink(p);
    o.path = sub;
    load_ok(&o, &a);
    ck_assert_str_eq(a.class_names[0], "airplane");
    ck_assert_str_eq(a.class_names[9], "truck");
    lirf_dataset_free(&a);
    /* bad meta: 3 names */
    write_bytes(p, "a\nb\nc\n", 6);
    load_fails(&o, LIRF_E_FORMAT, p, "3 class names");
    unlink(p);

    /* length not a multiple of the record */
    snprintf(p, sizeof p, "%s/data_batch_3.bin", sub);
    size_t len = cifar_file(buf, 2, 7, 0, -1);
    write_bytes(p, buf, len - 1);
    load_fails(&o, LIRF_E_FORMAT, p, "multiple");
    /* label out of range */
    write_bytes(p, buf, cifar_file(buf, 2, 7, 0, 10));
    load_fails(&o, LIRF_E_FORMAT, p, "out of range");
    /* empty batch */
    write_bytes(p, buf, 0);
    load_fails(&o, LIRF_E_FORMAT, p, NULL);
    /* missing batch */
    unlink(p);
    load_fails(&o, LIRF_E_NOT_FOUND, "data_batch_3.bin", NULL);
    /* ... in an archive */
    fs_free(&fs);
    fs_add(&fs, "data_batch_1.bin", buf, cifar_file(buf, 0, 3, 0, -1));
    fs_write_archive(&fs, tgz, "x/", 1, 0);
    o.path = tgz, o.kind = LIRF_DATA_CIFAR10;
    load_fails(&o, LIRF_E_NOT_FOUND, "data_batch_2.bin", NULL);
    /* a bad record inside an archive names the entry */
    fs_free(&fs);
    for (int f = 0; f < 5; f++) {
        char name[64];
        snprintf(name, sizeof name, "data_batch_%d.bin", f + 1);
        size_t l = cifar_file(buf, f, 3, 0, f == 4 ? 200 : -1);
        fs_add(&fs, name, buf, l);
    }
    fs_write_archive(&fs, tgz, "", 1, 0);
    load_fails(&o, LIRF_E_FORMAT, "data_batch_5.bin", "out of range");
    /* not an archive at all */
    write_bytes(tgz, "hello, world", 12);
    o.kind = LIRF_DATA_AUTO;
    load_fails(&o, LIRF_E_FORMAT, tgz, NULL);
    fs_free(&fs);
    rm_rf(dir);
}
END_TEST

/* The whole of a file, malloc'ed. */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_ge(len, 0);
    rewind(f);
    uint8_t *b = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)len, f), (size_t)len);
    fclose(f);
    *n = (size_t)len;
    return b;
}

/* lirf_dataset_load_mem / _idx_mem (what the fuzz targets call) give the
 * same data set as the path they stand for. */
START_TEST(load_from_memory) {
    static uint8_t buf[8 * 3074];
    char *dir = tmpdir();
    char tgz[4200];
    fileset fs = {0};
    for (int f = 0; f < 6; f++) {
        char name[64];
        if (f < 5) snprintf(name, sizeof name, "cifar-10-batches-bin/data_batch_%d.bin", f + 1);
        else snprintf(name, sizeof name, "cifar-10-batches-bin/test_batch.bin");
        fs_add(&fs, name, buf, cifar_file(buf, f, 3, 0, -1));
    }
    snprintf(tgz, sizeof tgz, "%s/c10.tar.gz", dir);
    fs_write_archive(&fs, tgz, "", 1, 0);
    fs_free(&fs);
    size_t n;
    uint8_t *bytes = slurp(tgz, &n);
    lirf_dataset a, b;
    const int32_t cls[] = {2, 5};
    lirf_data_opts o = opts_of(tgz, LIRF_DATA_CIFAR10, 1);
    o.classes = cls, o.nclasses = 2;
    load_ok(&o, &a);
    lirf_status st = lirf_dataset_load_mem(&o, bytes, n, &b);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    same_dataset(&a, &b);
    ck_assert_int_eq(b.kind, LIRF_DATA_CIFAR10);
    lirf_dataset_free(&a), lirf_dataset_free(&b);
    /* truncated: refused, with the name given in path */
    st = lirf_dataset_load_mem(&o, bytes, n / 2, &b);
    ck_assert_int_eq(st, LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), tgz));
    ck_assert_ptr_null(b.pixels);
    o.kind = LIRF_DATA_FASHION_MNIST;
    ck_assert_int_eq(lirf_dataset_load_mem(&o, bytes, n, &b), LIRF_E_INVALID);
    free(bytes);
    rm_rf(dir);

    /* Fashion-MNIST's test split from the Debian package, from memory */
    char fm[1024], lp[1200], ip[1200];
    if (lirf_fashion_mnist_dir(fm, sizeof fm) != LIRF_OK) return; /* not installed */
    snprintf(lp, sizeof lp, "%s/t10k-labels-idx1-ubyte.gz", fm);
    snprintf(ip, sizeof ip, "%s/t10k-images-idx3-ubyte.gz", fm);
    size_t ln, in;
    uint8_t *lab = slurp(lp, &ln), *img = slurp(ip, &in);
    lirf_data_opts f = opts_of(fm, LIRF_DATA_FASHION_MNIST, 0);
    f.limit = 500;
    load_ok(&f, &a);
    st = lirf_dataset_load_idx_mem(&f, lab, ln, img, in, &b);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    same_dataset(&a, &b);
    lirf_dataset_free(&a), lirf_dataset_free(&b);
    st = lirf_dataset_load_idx_mem(&f, img, in, lab, ln, &b); /* swapped */
    ck_assert_int_eq(st, LIRF_E_FORMAT);
    free(lab), free(img);
}
END_TEST

/* Bytes that start with the signature of lrzip, grzip or lzop must not make
 * libarchive run that program (archive_read_support_filter_all would: it
 * decodes them through an external `lrzip -d` etc. found on PATH). Fake
 * programs on PATH record any run. */
START_TEST(no_external_programs) {
    char *dir = tmpdir();
    char bin[4200], marker[4200], p[4300], path[8192];
    snprintf(bin, sizeof bin, "%s/bin", dir);
    snprintf(marker, sizeof marker, "%s/ran", dir);
    mkdirs(bin);
    const char *progs[] = {"lrzip", "grzip", "lzop"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", bin, progs[i]);
        FILE *f = fopen(p, "w");
        ck_assert_ptr_nonnull(f);
        fprintf(f, "#!/bin/sh\necho %s >> '%s'\ncat\n", progs[i], marker);
        fclose(f);
        chmod(p, 0755);
    }
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    snprintf(path, sizeof path, "%s:%s", bin, old ? old : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    static const uint8_t sig[3][16] = {
        {'L', 'R', 'Z', 'I', 0, 6},
        {'G', 'R', 'Z', 'i', 'p', 'I', 'I', 0, 2, 4, ':', ')'},
        {0x89, 'L', 'Z', 'O', 0, '\r', '\n', 0x1a, '\n'},
    };
    for (int i = 0; i < 3; i++) {
        uint8_t bytes[64] = {0};
        memcpy(bytes, sig[i], 16);
        /* an IDX file, a CIFAR archive file and the same from memory */
        char fm[4200], lab[4300], img[4300], arc[4300];
        snprintf(fm, sizeof fm, "%s/fm%d", dir, i);
        snprintf(lab, sizeof lab, "%s/t10k-labels-idx1-ubyte", fm);
        snprintf(img, sizeof img, "%s/t10k-images-idx3-ubyte", fm);
        write_bytes(lab, bytes, sizeof bytes);
        write_bytes(img, bytes, sizeof bytes);
        lirf_data_opts o = opts_of(fm, LIRF_DATA_FASHION_MNIST, 0);
        lirf_dataset d;
        ck_assert_int_ne(lirf_dataset_load(&o, &d), LIRF_OK);
        snprintf(arc, sizeof arc, "%s/c10-%d.tar.x", dir, i);
        write_bytes(arc, bytes, sizeof bytes);
        o = opts_of(arc, LIRF_DATA_CIFAR10, 0);
        ck_assert_int_ne(lirf_dataset_load(&o, &d), LIRF_OK);
        o.kind = LIRF_DATA_IMAGEFOLDER;
        ck_assert_int_ne(lirf_dataset_load_mem(&o, bytes, sizeof bytes, &d), LIRF_OK);
    }
    if (saved) setenv("PATH", saved, 1);
    else unsetenv("PATH");
    free(saved);
    struct stat sb;
    int ran = stat(marker, &sb) == 0;
    if (!ran) rm_rf(dir);
    ck_assert_msg(!ran, "a reader ran an external decompressor (see %s)", marker);
}
END_TEST

START_TEST(cifar100_folder) {
    static uint8_t buf[8 * 3074];
    char *dir = tmpdir();
    char p[4200];
    snprintf(p, sizeof p, "%s/train.bin", dir);
    write_bytes(p, buf, cifar_file(buf, 0, 6, 1, -1));
    snprintf(p, sizeof p, "%s/test.bin", dir);
    write_bytes(p, buf, cifar_file(buf, 1, 4, 1, -1));
    lirf_data_opts o = opts_of(dir, LIRF_DATA_AUTO, 1);
    lirf_dataset d;
    load_ok(&o, &d);
    ck_assert_int_eq(d.kind, LIRF_DATA_CIFAR100);
    ck_assert_int_eq(d.num_classes, 100);
    ck_assert_str_eq(d.class_names[42], "class_42");
    ck_assert_int_eq(d.n, 6);
    for (int i = 0; i < 6; i++) {
        ck_assert_int_eq(d.labels[i], (i * 3) % 100);
        ck_assert_int_eq(d.pixels[(size_t)i * 3072 + 5], (uint8_t)(i * 7 + 5 * 13));
    }
    lirf_dataset_free(&d);
    o.train = 0;
    load_ok(&o, &d);
    ck_assert_int_eq(d.n, 4);
    lirf_dataset_free(&d);
    snprintf(p, sizeof p, "%s/test.bin", dir);
    write_bytes(p, buf, cifar_file(buf, 1, 4, 1, 100));
    load_fails(&o, LIRF_E_FORMAT, p, "out of range");
    rm_rf(dir);
}
END_TEST

/* ---- image folders ---------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t n, cap;
} membuf;

static void png_mem_write(png_structp png, png_bytep data, size_t len) {
    membuf *m = png_get_io_ptr(png);
    if (m->n + len > m->cap) {
        m->cap = (m->n + len) * 2;
        m->p = realloc(m->p, m->cap);
    }
    memcpy(m->p + m->n, data, len);
    m->n += len;
}

static void png_mem_flush(png_structp png) {
    (void)png;
}

/* A PNG of (h, w) pixels; kind: 0 gray8, 1 rgb8, 2 rgba8, 3 palette, 4 rgb16,
 * 5 gray+alpha 8. want: the (h, w, 3) RGB pixels a reader must give. */
static void make_png(membuf *m, int kind, int h, int w, int seed, uint8_t *want) {
    memset(m, 0, sizeof *m);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    ck_assert(png && info);
    if (setjmp(png_jmpbuf(png))) ck_abort_msg("libpng write failed");
    png_set_write_fn(png, m, png_mem_write, png_mem_flush);
    static const int ctype[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGBA,
                                PNG_COLOR_TYPE_PALETTE, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_GA};
    static const int chans[] = {1, 3, 4, 1, 3, 2};
    int depth = kind == 4 ? 16 : 8;
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype[kind],
                 kind == 1 ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_color pal[16];
    for (int i = 0; i < 16; i++)
        pal[i].red = (png_byte)(i * 16), pal[i].green = (png_byte)(255 - i * 9),
        pal[i].blue = (png_byte)(i * 5 + seed);
    if (kind == 3) png_set_PLTE(png, info, pal, 16);
    png_write_info(png, info);
    int bpp = chans[kind] * depth / 8;
    uint8_t *row = malloc((size_t)w * bpp);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++) {
            uint8_t v[4];
            for (int c = 0; c < 4; c++) v[c] = (uint8_t)(x * 5 + y * 3 + c * 70 + seed * 11);
            uint8_t *o = want + ((size_t)y * w + x) * 3;
            if (kind == 0 || kind == 5) {
                o[0] = o[1] = o[2] = v[0];
                row[x * chans[kind]] = v[0];
                if (kind == 5) row[x * 2 + 1] = (uint8_t)(x * 17); /* alpha: dropped */
            } else if (kind == 3) {
                int idx = (x + y + seed) % 16;
                row[x] = (uint8_t)idx;
                o[0] = pal[idx].red, o[1] = pal[idx].green, o[2] = pal[idx].blue;
            } else if (kind == 4) {
                for (int c = 0; c < 3; c++) {
                    unsigned v16 = v[c] * 257u; /* scales back exactly */
                    row[x * 6 + c * 2] = (uint8_t)(v16 >> 8), row[x * 6 + c * 2 + 1] = (uint8_t)v16;
                    o[c] = v[c];
                }
            } else {
                for (int c = 0; c < 3; c++) row[x * chans[kind] + c] = v[c], o[c] = v[c];
                if (kind == 2) row[x * 4 + 3] = (uint8_t)(y * 9);
            }
        }
        if (kind == 1) continue;
        png_write_row(png, row);
    }
    if (kind == 1) { /* interlaced: whole image at once */
        uint8_t *img = malloc((size_t)h * w * 3);
        png_bytep *rows = malloc((size_t)h * sizeof *rows);
        for (int y = 0; y < h; y++) {
            rows[y] = img + (size_t)y * w * 3;
            memcpy(rows[y], want + (size_t)y * w * 3, (size_t)w * 3);
        }
        png_write_image(png, rows);
        free(rows), free(img);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
}

/* A JPEG (quality 100, no chroma subsampling) of smooth pixels; gray: 1 channel. */
static void make_jpeg(membuf *m, int gray, int h, int w, int seed, uint8_t *want) {
    struct jpeg_compress_struct ci;
    struct jpeg_error_mgr jerr;
    ci.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&ci);
    unsigned char *out = NULL;
    unsigned long outlen = 0;
    jpeg_mem_dest(&ci, &out, &outlen);
    ci.image_width = (JDIMENSION)w, ci.image_height = (JDIMENSION)h;
    ci.input_components = gray ? 1 : 3;
    ci.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&ci);
    jpeg_set_quality(&ci, 100, TRUE);
    for (int i = 0; i < ci.num_components; i++) ci.comp_info[i].h_samp_factor = ci.comp_info[i].v_samp_factor = 1;
    jpeg_start_compress(&ci, TRUE);
    uint8_t *row = malloc((size_t)w * 3);
    for (int y = 0; y < h; y++) {
        for (int x = 0; x < w; x++)
            for (int c = 0; c < 3; c++) {
                uint8_t v = (uint8_t)(40 + x * 2 + y * 3 + (gray ? 0 : c * 30) + seed);
                want[((size_t)y * w + x) * 3 + c] = v;
                if (!gray || c == 0) row[x * (gray ? 1 : 3) + c] = v;
            }
        JSAMPROW r = row;
        jpeg_write_scanlines(&ci, &r, 1);
    }
    jpeg_finish_compress(&ci);
    jpeg_destroy_compress(&ci);
    free(row);
    m->p = out, m->n = outlen, m->cap = outlen;
}

/* Brute-force 2-D triangle-filter resize in double (the reference of
 * lirf_image_resize): interleaved (h, w, c) -> (H, W, c). */
static void ref_resize(double *dst, int H, int W, const uint8_t *src, int h, int w, int c) {
    double sy = (double)h / H, sx = (double)w / W;
    double fy = sy > 1 ? sy : 1, fx = sx > 1 ? sx : 1;
    for (int Y = 0; Y < H; Y++)
        for (int X = 0; X < W; X++)
            for (int ch = 0; ch < c; ch++) {
                double cy = (Y + 0.5) * sy, cx = (X + 0.5) * sx, acc = 0, wsum = 0;
                for (int y = 0; y < h; y++) {
                    double ay = fabs((y + 0.5 - cy) / fy), wy = ay < 1 ? 1 - ay : 0;
                    if (wy == 0) continue;
                    for (int x = 0; x < w; x++) {
                        double ax = fabs((x + 0.5 - cx) / fx), wx = ax < 1 ? 1 - ax : 0;
                        acc += wy * wx * src[((size_t)y * w + x) * c + ch];
                        wsum += wy * wx;
                    }
                }
                dst[((size_t)Y * W + X) * c + ch] = acc / wsum;
            }
}

START_TEST(resize_matches_reference) {
    static const int sizes[][4] = {{28, 28, 32, 32}, {48, 40, 32, 32}, {100, 7, 32, 32},
                                   {5, 9, 13, 11},   {64, 64, 32, 32}, {1, 1, 3, 2},
                                   {93, 17, 7, 93}};
    trng r = {5};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (int c = 1; c <= 3; c += 2) {
            int h = sizes[s][0], w = sizes[s][1], H = sizes[s][2], W = sizes[s][3];
            uint8_t *src = malloc((size_t)h * w * c), *dst = malloc((size_t)H * W * c);
            double *want = malloc((size_t)H * W * c * sizeof *want);
            for (size_t i = 0; i < (size_t)h * w * c; i++) src[i] = (uint8_t)trng_int(&r, 0, 256);
            ck_assert_int_eq(lirf_image_resize(dst, H, W, src, h, w, c), LIRF_OK);
            ref_resize(want, H, W, src, h, w, c);
            for (size_t i = 0; i < (size_t)H * W * c; i++)
                ck_assert_msg(fabs(dst[i] - want[i]) <= 0.5 + 1e-3,
                              "%dx%d -> %dx%d c%d: [%zu] %d vs %.3f", h, w, H, W, c, i, dst[i],
                              want[i]);
            free(src), free(dst), free(want);
        }
    /* a constant image stays constant; same size is a copy */
    uint8_t k[40 * 48 * 3], o[32 * 32 * 3];
    memset(k, 77, sizeof k);
    ck_assert_int_eq(lirf_image_resize(o, 32, 32, k, 40, 48, 3), LIRF_OK);
    for (size_t i = 0; i < sizeof o; i++) ck_assert_int_eq(o[i], 77);
}
END_TEST

static uint32_t crc32_of(const uint8_t *p, size_t n) {
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
    }
    return ~c;
}

/* Headers claiming huge images are refused before any pixel is allocated. */
START_TEST(huge_headers_refused) {
    lirf_image_decoder *dec;
    ck_assert_int_eq(lirf_image_decoder_new(&dec), LIRF_OK);
    const uint8_t *px;
    int h, w, c;
    membuf m;
    uint8_t want[8 * 8 * 3];
    static const uint32_t sides[][2] = {{20000, 4}, {4, 20000}, {10000, 10000}, {8, 8}};
    for (int k = 0; k < 4; k++) {
        make_png(&m, 1, 8, 8, 0, want);
        /* IHDR: length(4) "IHDR" width height ... crc, right after the signature */
        be32(m.p + 16, sides[k][0]);
        be32(m.p + 20, sides[k][1]);
        be32(m.p + 29, crc32_of(m.p + 12, 17));
        lirf_status st = lirf_image_decode(dec, m.p, m.n, "huge.png", &px, &h, &w, &c);
        if (k < 3) {
            ck_assert_msg(st == LIRF_E_FORMAT && strstr(lirf_error_message(), "huge.png") &&
                              strstr(lirf_error_message(), k < 2 ? "limit" : "too large"),
                          "%ux%u PNG: %s", sides[k][0], sides[k][1], lirf_error_message());
        } else {
            ck_assert_msg(st == LIRF_OK, "unchanged PNG: %s", lirf_error_message());
            ck_assert(h == 8 && w == 8 && c == 3 && memcmp(px, want, sizeof want) == 0);
        }
        free(m.p);
    }
    for (int k = 0; k < 2; k++) {
        make_jpeg(&m, 0, 8, 8, 0, want);
        size_t i = 2;
        while (i + 9 < m.n && !(m.p[i] == 0xff && m.p[i + 1] == 0xc0)) i++;
        ck_assert_uint_lt(i + 9, m.n);
        if (k == 0) {
            m.p[i + 5] = 0x3e, m.p[i + 6] = 0x80; /* height 16000 */
            m.p[i + 7] = 0x3e, m.p[i + 8] = 0x80; /* width 16000 */
        }
        lirf_status st = lirf_image_decode(dec, m.p, m.n, "huge.jpg", &px, &h, &w, &c);
        if (k == 0)
            ck_assert_msg(st == LIRF_E_FORMAT && strstr(lirf_error_message(), "huge.jpg") &&
                              strstr(lirf_error_message(), "16000x16000"),
                          "16000x16000 JPEG: %s", lirf_error_message());
        else
            ck_assert_msg(st == LIRF_OK && h == 8 && w == 8 && c == 3, "JPEG: %s",
                          lirf_error_message());
        free(m.p);
    }
    /* a lowered pixel limit (what the fuzz target sets): 8x8 = 64 pixels */
    for (int jpeg = 0; jpeg < 2; jpeg++) {
        if (jpeg) make_jpeg(&m, 0, 8, 8, 0, want);
        else make_png(&m, 1, 8, 8, 0, want);
        const size_t limits[4] = {63, 64, 0, (size_t)1 << 40};
        for (int k = 0; k < 4; k++) {
            lirf_image_decoder_set_max_pixels(dec, limits[k]);
            lirf_status st = lirf_image_decode(dec, m.p, m.n, "small", &px, &h, &w, &c);
            ck_assert_msg(k == 0 ? st == LIRF_E_FORMAT : st == LIRF_OK,
                          "%s under a limit of %zu pixels: %s", jpeg ? "JPEG" : "PNG",
                          limits[k], lirf_error_message());
        }
        free(m.p);
    }
    lirf_image_decoder_free(dec);
}
END_TEST

/* The test image set: classes "dog" (written first) and "cat", PNGs of every
 * kind at 32x32, a 48x40 PNG and JPEG (resized), a 32x32 JPEG. Fills the
 * expected (32, 32, 3) interleaved pixels by sample, in (class, path) order. */
#define NIMG 9
typedef struct {
    const char *path;
    int kind; /* 0..5: PNG kinds; 10: JPEG rgb; 11: JPEG gray */
    int h, w;
    int cls;
} img_spec;

static const img_spec IMGS[NIMG] = {
    /* sorted by (class, path): cat = 0, dog = 1 */
    {"cat/a_gray.png", 0, 32, 32, 0},    {"cat/b_rgb_interlaced.png", 1, 32, 32, 0},
    {"cat/c_big.jpg", 10, 48, 40, 0},    {"cat/sub/d_palette.png", 3, 32, 32, 0},
    {"dog/a_rgba.png", 2, 32, 32, 1},    {"dog/b_rgb16.png", 4, 32, 32, 1},
    {"dog/c_ga.PNG", 5, 32, 32, 1},      {"dog/d_big.png", 1, 40, 48, 1},
    {"dog/e_gray.jpeg", 11, 32, 32, 1},
};

/* want: NIMG x (32, 32, 3) interleaved; tol[i]: tolerance (JPEG). */
static void make_images(fileset *fs, const char *prefix, uint8_t *want, int *tol, int seed) {
    for (int k = NIMG - 1; k >= 0; k--) { /* dog first: creation order must not matter */
        const img_spec *s = &IMGS[k];
        membuf m;
        uint8_t *full = malloc((size_t)s->h * s->w * 3);
        if (s->kind >= 10) make_jpeg(&m, s->kind == 11, s->h, s->w, seed + k, full);
        else make_png(&m, s->kind, s->h, s->w, seed + k, full);
        uint8_t *dst = want + (size_t)k * 32 * 32 * 3;
        if (s->h == 32 && s->w == 32) memcpy(dst, full, 32 * 32 * 3);
        else ck_assert_int_eq(lirf_image_resize(dst, 32, 32, full, s->h, s->w, 3), LIRF_OK);
        tol[k] = s->kind >= 10 ? 6 : 0;
        char p[512];
        snprintf(p, sizeof p, "%s%s", prefix, s->path);
        fs_add(fs, p, m.p, m.n);
        free(m.p), free(full);
    }
}

static void check_images(const lirf_dataset *d, const uint8_t *want, const int *tol) {
    ck_assert_int_eq(d->n, NIMG);
    ck_assert_int_eq(d->c, 3);
    ck_assert_int_eq(d->h, 32);
    ck_assert_int_eq(d->w, 32);
    ck_assert_int_eq(d->num_classes, 2);
    ck_assert_str_eq(d->class_names[0], "cat");
    ck_assert_str_eq(d->class_names[1], "dog");
    ck_assert_int_eq(d->kind, LIRF_DATA_IMAGEFOLDER);
    for (int k = 0; k < NIMG; k++) {
        ck_assert_int_eq(d->labels[k], IMGS[k].cls);
        int worst = 0;
        for (int c = 0; c < 3; c++)
            for (int i = 0; i < 32 * 32; i++) {
                int got = d->pixels[((size_t)k * 3 + c) * 1024 + i];
                int diff = abs(got - want[((size_t)k * 1024 + i) * 3 + c]);
                if (diff > worst) worst = diff;
            }
        ck_assert_msg(worst <= tol[k], "%s: pixels differ by up to %d (tolerance %d)", IMGS[k].path,
                      worst, tol[k]);
    }
}

START_TEST(image_folder_and_archives) {
    char *dir = tmpdir();
    static uint8_t want[NIMG * 32 * 32 * 3];
    int tol[NIMG];
    fileset fs = {0};
    make_images(&fs, "", want, tol, 0);
    char root[4200], tgz[4200], tar[4200], zip[4200], split[4200];
    snprintf(root, sizeof root, "%s/flowers", dir);
    fs_write_folder(&fs, root);
    lirf_data_opts o = opts_of(root, LIRF_DATA_AUTO, 1);
    lirf_dataset a, b;
    load_ok(&o, &a);
    check_images(&a, want, tol);
    /* as tar.gz (entries shuffled), plain tar inside an enclosing folder, zip */
    snprintf(tgz, sizeof tgz, "%s/flowers.tar.gz", dir);
    snprintf(tar, sizeof tar, "%s/flowers.tar", dir);
    snprintf(zip, sizeof zip, "%s/flowers.zip", dir);
    fs_write_archive(&fs, tgz, "", 1, 0);
    fs_write_archive(&fs, tar, "./mydata/", 0, 0);
    fs_write_archive(&fs, zip, "", 0, 1);
    const char *arcs[] = {tgz, tar, zip};
    for (int i = 0; i < 3; i++) {
        o.path = arcs[i];
        load_ok(&o, &b);
        same_dataset(&a, &b);
        ck_assert_str_eq(b.source, arcs[i]);
        lirf_dataset_free(&b);
    }
    /* limit: balanced over classes, in order */
    o.path = tgz, o.limit = 3;
    load_ok(&o, &b);
    ck_assert_int_eq(b.n, 3);
    ck_assert_int_eq(b.labels[0], 0);
    ck_assert_int_eq(b.labels[1], 0);
    ck_assert_int_eq(b.labels[2], 1);
    ck_assert(memcmp(b.pixels, a.pixels, 2 * 3072) == 0);
    ck_assert(memcmp(b.pixels + 2 * 3072, a.pixels + 4 * 3072, 3072) == 0);
    lirf_dataset_free(&b);
    o.path = root;
    load_ok(&o, &b);
    ck_assert_int_eq(b.n, 3);
    ck_assert(memcmp(b.pixels + 2 * 3072, a.pixels + 4 * 3072, 3072) == 0);
    lirf_dataset_free(&b);
    o.limit = 0;
    /* another size */
    o.image_size = 20;
    load_ok(&o, &b);
    ck_assert_int_eq(b.h, 20);
    ck_assert_int_eq(b.w, 20);
    ck_assert_int_eq(b.c, 3);
    lirf_dataset_free(&b);
    o.image_size = 0;

    /* split layout: train/ and test/ */
    fileset fs2 = {0};
    static uint8_t want2[NIMG * 32 * 32 * 3];
    int tol2[NIMG];
    make_images(&fs2, "train/", want2, tol2, 0);
    fileset fs3 = {0};
    static uint8_t want3[NIMG * 32 * 32 * 3];
    int tol3[NIMG];
    make_images(&fs3, "test/", want3, tol3, 50);
    snprintf(split, sizeof split, "%s/split", dir);
    fs_write_folder(&fs2, split);
    fs_write_folder(&fs3, split);
    for (int i = 0; i < fs3.n; i++) fs_add(&fs2, fs3.path[i], fs3.data[i], fs3.len[i]);
    snprintf(tgz, sizeof tgz, "%s/split.tar.gz", dir);
    fs_write_archive(&fs2, tgz, "", 1, 0);
    for (int arch = 0; arch < 2; arch++)
        for (int train = 0; train < 2; train++) {
            o = opts_of(arch ? tgz : split, LIRF_DATA_AUTO, train);
            load_ok(&o, &b);
            check_images(&b, train ? want2 : want3, tol);
            lirf_dataset_free(&b);
        }
    /* a missing split */
    char t[4300];
    snprintf(t, sizeof t, "%s/test", split);
    rm_rf(t);
    o = opts_of(split, LIRF_DATA_AUTO, 0);
    load_fails(&o, LIRF_E_NOT_FOUND, split, "test/");

    /* all grayscale: one channel */
    fileset g = {0};
    membuf m;
    uint8_t px[40 * 40 * 3];
    make_png(&m, 0, 32, 32, 1, px);
    fs_add(&g, "x/1.png", m.p, m.n);
    free(m.p);
    make_jpeg(&m, 1, 40, 40, 1, px);
    fs_add(&g, "y/1.jpg", m.p, m.n);
    free(m.p);
    snprintf(t, sizeof t, "%s/gray", dir);
    fs_write_folder(&g, t);
    o = opts_of(t, LIRF_DATA_IMAGEFOLDER, 1);
    load_ok(&o, &b);
    ck_assert_int_eq(b.c, 1);
    ck_assert_int_eq(b.n, 2);
    float mean, std;
    lirf_dataset_stats(&b, &mean, &std);
    ck_assert(mean > 0 && std > 0);
    lirf_dataset_free(&b);

    lirf_dataset_free(&a);
    fs_free(&fs), fs_free(&fs2), fs_free(&fs3), fs_free(&g);
    rm_rf(dir);
}
END_TEST

START_TEST(image_folder_errors_and_filter) {
    char *dir = tmpdir();
    static uint8_t want[NIMG * 32 * 32 * 3];
    int tol[NIMG];
    fileset fs = {0};
    make_images(&fs, "", want, tol, 0);
    char root[256], tgz[256], p[1024];
    snprintf(root, sizeof root, "%s/imgs", dir);
    snprintf(tgz, sizeof tgz, "%s/imgs.tar.gz", dir);

    /* Corrupt every dog: with classes = {cat}, they are never decoded (folder:
     * never opened, made unreadable too; archive: skipped). */
    fileset bad = fs;
    for (int i = 0; i < bad.n; i++) {
        bad.data[i] = malloc(bad.len[i]);
        memcpy(bad.data[i], fs.data[i], fs.len[i]);
        if (!strncmp(bad.path[i], "dog/", 4)) memset(bad.data[i] + 8, 0x5a, bad.len[i] - 16);
    }
    fs_write_folder(&bad, root);
    fs_write_archive(&bad, tgz, "", 1, 0);
    for (int i = 0; i < bad.n; i++)
        if (!strncmp(bad.path[i], "dog/", 4)) {
            snprintf(p, sizeof p, "%s/%s", root, bad.path[i]);
            chmod(p, 0);
        }
    const int32_t cat[] = {0}, dog[] = {1};
    for (int arch = 0; arch < 2; arch++) {
        lirf_data_opts o = opts_of(arch ? tgz : root, LIRF_DATA_AUTO, 1);
        o.classes = cat, o.nclasses = 1;
        lirf_dataset d;
        load_ok(&o, &d);
        ck_assert_int_eq(d.n, 4);
        ck_assert_int_eq(d.num_classes, 2);
        for (int k = 0; k < 4; k++) ck_assert_int_eq(d.labels[k], 0);
        lirf_dataset_free(&d);
        /* and the dogs fail, naming the file */
        o.classes = dog;
        load_fails(&o, LIRF_E_FORMAT, "dog/", "corrupt");
        o.classes = NULL, o.nclasses = 0;
        load_fails(&o, LIRF_E_FORMAT, "dog/", NULL);
    }
    rm_rf(root);

    /* A corrupt JPEG (bytes flipped in the scan), a truncated JPEG, a PNG with a
     * bad CRC, a truncated PNG, a file that is not an image. */
    for (int kcase = 0; kcase < 5; kcase++) {
        fileset f2 = fs;
        for (int i = 0; i < f2.n; i++) {
            f2.data[i] = malloc(fs.len[i]);
            memcpy(f2.data[i], fs.data[i], fs.len[i]);
        }
        const char *victim = kcase < 2 ? "cat/c_big.jpg" : "dog/b_rgb16.png";
        const char *what = kcase < 2 ? "corrupt JPEG" : "corrupt PNG";
        for (int i = 0; i < f2.n; i++) {
            if (strcmp(f2.path[i], victim)) continue;
            if (kcase == 0) { /* destroy the markers after the header */
                for (size_t j = f2.len[i] / 3; j < f2.len[i]; j++) f2.data[i][j] = 0xff;
            } else if (kcase == 1 || kcase == 3) {
                f2.len[i] = f2.len[i] / 2;
            } else if (kcase == 2) {
                f2.data[i][f2.len[i] / 2] ^= 0x40;
            } else {
                memcpy(f2.data[i], "GIF89a", 6);
                what = "neither a PNG nor a JPEG";
            }
        }
        snprintf(root, sizeof root, "%s/case%d", dir, kcase);
        fs_write_folder(&f2, root);
        fs_write_archive(&f2, tgz, "", 1, 0);
        for (int arch = 0; arch < 2; arch++) {
            lirf_data_opts o = opts_of(arch ? tgz : root, LIRF_DATA_AUTO, 1);
            load_fails(&o, LIRF_E_FORMAT, victim, what);
        }
        fs_free(&f2);
    }

    /* An empty class folder (folder; and an archive with only the dir entry);
     * a class folder of non-images. */
    snprintf(root, sizeof root, "%s/empty", dir);
    fs_write_folder(&fs, root);
    snprintf(p, sizeof p, "%s/emu", root);
    mkdirs(p);
    fileset f3 = fs;
    for (int i = 0; i < f3.n; i++) {
        f3.data[i] = malloc(fs.len[i]);
        memcpy(f3.data[i], fs.data[i], fs.len[i]);
    }
    f3.ndirs = 1;
    snprintf(f3.dirs[0], sizeof f3.dirs[0], "emu");
    fs_write_archive(&f3, tgz, "", 1, 0);
    for (int arch = 0; arch < 2; arch++) {
        lirf_data_opts o = opts_of(arch ? tgz : root, LIRF_DATA_AUTO, 1);
        load_fails(&o, LIRF_E_FORMAT, "emu", "no PNG/JPEG");
        const int32_t two[] = {2};
        o.classes = two, o.nclasses = 1;
        load_fails(&o, LIRF_E_FORMAT, "emu", "no PNG/JPEG");
        const int32_t three[] = {3};
        o.classes = three;
        load_fails(&o, LIRF_E_INVALID, "class 3", NULL);
        /* the other classes load */
        const int32_t cd[] = {0, 1};
        o.classes = cd, o.nclasses = 2;
        lirf_dataset d;
        load_ok(&o, &d);
        ck_assert_int_eq(d.num_classes, 3);
        ck_assert_int_eq(d.n, NIMG);
        lirf_dataset_free(&d);
    }
    snprintf(p, sizeof p, "%s/emu/readme.txt", root);
    write_bytes(p, "no images", 9);
    lirf_data_opts o = opts_of(root, LIRF_DATA_AUTO, 1);
    load_fails(&o, LIRF_E_FORMAT, "emu", "no PNG/JPEG");
    /* No class folders at all */
    snprintf(p, sizeof p, "%s/none", dir);
    mkdirs(p);
    o = opts_of(p, LIRF_DATA_IMAGEFOLDER, 1);
    load_fails(&o, LIRF_E_NOT_FOUND, p, "no class folders");
    fs_free(&f3), fs_free(&bad), fs_free(&fs);
    rm_rf(dir);
}
END_TEST

/* ---- the real CIFAR-10 JPEG folders (../shared/data/cifar10) --------------- */

START_TEST(cifar10_jpeg_test_split) {
    /* ../shared next to the repository (found from this file's path), or
     * relative to the working directory, or $LIRF_CIFAR10_TEST. */
    char path[4096] = "", root[4096];
    snprintf(root, sizeof root, "%s", __FILE__);
    for (int up = 0; up < 2; up++) {
        char *slash = strrchr(root, '/');
        if (slash) *slash = 0;
        else snprintf(root, sizeof root, ".");
    }
    const char *cands[4] = {getenv("LIRF_CIFAR10_TEST"), NULL, "../shared/data/cifar10/test.tar.gz",
                            "../../shared/data/cifar10/test.tar.gz"};
    char c1[4200];
    snprintf(c1, sizeof c1, "%s/../shared/data/cifar10/test.tar.gz", root);
    cands[1] = c1;
    for (int i = 0; i < 4 && !path[0]; i++)
        if (cands[i] && lirf_data_is_file(cands[i])) snprintf(path, sizeof path, "%s", cands[i]);
    if (!path[0]) {
        printf("SKIPPED: CIFAR-10 JPEG test split not found (%s; optional)\n", c1);
        return;
    }
    lirf_data_opts o = opts_of(path, LIRF_DATA_AUTO, 0);
    o.image_size = 32;
    lirf_dataset d;
    double t0 = now_s();
    load_ok(&o, &d);
    printf("CIFAR-10 JPEG test split: %d images in %.2f s\n", d.n, now_s() - t0);
    ck_assert_int_eq(d.n, 10000);
    ck_assert_int_eq(d.c, 3);
    ck_assert_int_eq(d.h, 32);
    ck_assert_int_eq(d.w, 32);
    ck_assert_int_eq(d.num_classes, 10);
    static const char *names[10] = {"airplane", "automobile", "bird",  "cat",  "deer",
                                    "dog",      "frog",       "horse", "ship", "truck"};
    for (int c = 0; c < 10; c++) ck_assert_str_eq(d.class_names[c], names[c]);
    int hist[10] = {0};
    for (int i = 0; i < d.n; i++) hist[d.labels[i]]++;
    for (int c = 0; c < 10; c++) ck_assert_int_eq(hist[c], 1000);
    float mean[3], std[3];
    lirf_dataset_stats(&d, mean, std);
    /* CIFAR-10's well-known statistics (JPEG shifts them a little) */
    ck_assert_msg(fabsf(mean[0] - 0.494f) < 0.01f && fabsf(mean[1] - 0.485f) < 0.01f &&
                      fabsf(mean[2] - 0.450f) < 0.01f,
                  "means %f %f %f", mean[0], mean[1], mean[2]);
    ck_assert_msg(std[0] > 0.22f && std[0] < 0.27f, "std %f", std[0]);
    lirf_dataset_free(&d);
    /* The training split (50,000 JPEGs) only on request: its load time goes in
     * docs/data.md. */
    if (getenv("LIRF_DATA_BENCH")) {
        char train[4200];
        snprintf(train, sizeof train, "%.*s/train.tar.gz", (int)(strrchr(path, '/') - path), path);
        lirf_data_opts ot = opts_of(train, LIRF_DATA_AUTO, 1);
        t0 = now_s();
        load_ok(&ot, &d);
        printf("CIFAR-10 JPEG train split: %d images in %.2f s\n", d.n, now_s() - t0);
        ck_assert_int_eq(d.n, 50000);
        int h5[10] = {0};
        for (int i = 0; i < d.n; i++) h5[d.labels[i]]++;
        for (int c = 0; c < 10; c++) ck_assert_int_eq(h5[c], 5000);
        lirf_dataset_free(&d);
    }
    /* one class: the others are skipped unread */
    const int32_t ship[] = {8};
    o.classes = ship, o.nclasses = 1, o.limit = 100;
    load_ok(&o, &d);
    ck_assert_int_eq(d.n, 100);
    for (int i = 0; i < d.n; i++) ck_assert_int_eq(d.labels[i], 8);
    lirf_dataset_free(&d);
}
END_TEST

START_TEST(stats_exact) {
    /* n = 2, c = 2, h = 1, w = 3: image 0 c0 {0,255,0} c1 {255,10,10}; image 1 all 0 */
    uint8_t px[2 * 2 * 1 * 3] = {0, 255, 0, 255, 10, 10, 0, 0, 0, 0, 0, 0};
    lirf_dataset d;
    memset(&d, 0, sizeof d);
    d.n = 2, d.c = 2, d.h = 1, d.w = 3, d.pixels = px;
    float mean[2], std[2];
    lirf_dataset_stats(&d, mean, std);
    double m0 = 255.0 / 6 / 255, m1 = 275.0 / 6 / 255;
    double v0 = 0, v1 = 0;
    const double c0[6] = {0, 255, 0, 0, 0, 0}, c1[6] = {255, 10, 10, 0, 0, 0};
    for (int i = 0; i < 6; i++)
        v0 += pow(c0[i] / 255 - m0, 2) / 6, v1 += pow(c1[i] / 255 - m1, 2) / 6;
    ck_assert_double_eq_tol(mean[0], m0, 1e-6);
    ck_assert_double_eq_tol(mean[1], m1, 1e-6);
    ck_assert_double_eq_tol(std[0], sqrt(v0), 1e-6);
    ck_assert_double_eq_tol(std[1], sqrt(v1), 1e-6);
}
END_TEST

/* A model's class names against an image folder's: other names, or the same
 * in another order, refused naming the class; IDX data (no names of its own)
 * and a model without names pass. */
START_TEST(model_names_against_image_folder) {
    char *folder[] = {"bird", "cat", "dog"};
    char *same[] = {"bird", "cat", "dog"}, *order[] = {"cat", "bird", "dog"},
         *other[] = {"bird", "cat", "fox"};
    lirf_dataset d = {.kind = LIRF_DATA_IMAGEFOLDER, .num_classes = 3, .class_names = folder};
    snprintf(d.source, sizeof d.source, "/data/pets");
    ck_assert_int_eq(lirf_data_names_fit(&d, same, 3, "m.safetensors"), LIRF_OK);
    ck_assert_int_eq(lirf_data_names_fit(&d, NULL, 3, "m.safetensors"), LIRF_OK);
    ck_assert_int_eq(lirf_data_names_fit(&d, order, 3, "m.safetensors"), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "m.safetensors: class 0 is \"cat\", but "
                                                       "the image folder /data/pets has \"bird\""));
    ck_assert_int_eq(lirf_data_names_fit(&d, other, 3, "m.safetensors"), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "class 2 is \"fox\""));
    d.kind = LIRF_DATA_FASHION_MNIST; /* IDX: the names are assumed, not read */
    ck_assert_int_eq(lirf_data_names_fit(&d, other, 3, "m.safetensors"), LIRF_OK);
}
END_TEST

int main(void) {
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, invalid_options);
    tcase_add_test(tc, stats_exact);
    tcase_add_test(tc, resize_matches_reference);
    tcase_add_test(tc, fashion_mnist_train_and_test);
    tcase_add_test(tc, fashion_mnist_filter_and_limit);
    tcase_add_test(tc, idx_crafted_files);
    tcase_add_test(tc, cifar10_folder_and_archive);
    tcase_add_test(tc, cifar100_folder);
    tcase_add_test(tc, load_from_memory);
    tcase_add_test(tc, no_external_programs);
    tcase_add_test(tc, huge_headers_refused);
    tcase_add_test(tc, image_folder_and_archives);
    tcase_add_test(tc, image_folder_errors_and_filter);
    tcase_add_test(tc, cifar10_jpeg_test_split);
    tcase_add_test(tc, model_names_against_image_folder);
    suite_add_tcase(s, tc);
    return trun(s);
}
