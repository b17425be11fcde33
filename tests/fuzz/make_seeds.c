/* Writes the seed corpora of the fuzz targets: tests/fuzz/corpus/<target>/.
 *
 *   make_seeds OUTDIR     (OUTDIR/<target>/<seed> for every target)
 *
 * Every seed is a small, valid input made with the library's own writers
 * (lirf_st_write_mem, lirf_archive_write_mem, lirf_archive_write_sealed_mem,
 * lirf_key_save) or with libarchive, libpng and libjpeg, so that the fuzzers
 * start from inputs the readers accept and mutate from there. The output is
 * deterministic (fixed times, owners and pixel patterns, and a fixed-seed
 * random generator in place of libsodium's, below) but for the member times
 * of the deposit archives, which the archive writer takes from the clock;
 * the committed corpus is this program's output.
 *
 * The keys (corpus/keyfile/test-identity.key and .pub, also embedded in
 * tests/fuzz/fuzz_sealed.c, and a second identity that signs one sealed seed)
 * come from that fixed seed: published test keys that nothing may trust.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jpeglib.h>
#include <png.h>
#include <sodium.h>

#include "lirf_archive.h"
#include "safetensors.h"
#include "seal.h"

static const char *g_out;

static void die(const char *what) {
    fprintf(stderr, "make_seeds: %s (%s)\n", what, lirf_error_message());
    exit(1);
}

static void put(const char *target, const char *name, const void *a, size_t alen, const void *b,
                size_t blen) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", g_out, target);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p);
    snprintf(p, sizeof p, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(p, "wb");
    if (!f) die(p);
    if ((alen && fwrite(a, 1, alen, f) != alen) || (blen && fwrite(b, 1, blen, f) != blen)) die(p);
    if (fclose(f) != 0) die(p);
}

/* ---- growing buffers -------------------------------------------------------- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} buf;

static void buf_add(buf *b, const void *src, size_t len) {
    if (b->n + len > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->n + len) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) die("out of memory");
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, len);
    b->n += len;
}

/* ---- archives (libarchive) ---------------------------------------------------- */

typedef struct {
    const char *name;
    const void *data;
    size_t len; /* a folder when data is NULL */
} member;

static la_ssize_t arc_write(struct archive *a, void *ud, const void *p, size_t n) {
    (void)a;
    buf_add(ud, p, n);
    return (la_ssize_t)n;
}

/* format: "tar" (pax restricted), "zip" or "raw" (one member, no header);
 * filter: NULL, "gzip", "xz" or "zstd". */
static buf make_archive(const char *format, const char *filter, const member *m, int n) {
    buf out = {0};
    struct archive *a = archive_write_new();
    if (!strcmp(format, "zip")) archive_write_set_format_zip(a);
    else if (!strcmp(format, "raw")) archive_write_set_format_raw(a);
    else archive_write_set_format_pax_restricted(a);
    if (filter && !strcmp(filter, "gzip")) archive_write_add_filter_gzip(a);
    if (filter && !strcmp(filter, "xz")) archive_write_add_filter_xz(a);
    if (filter && !strcmp(filter, "zstd")) archive_write_add_filter_zstd(a);
    if (filter) archive_write_set_filter_option(a, NULL, "timestamp", NULL); /* no gzip mtime */
    archive_write_set_bytes_in_last_block(a, 1);
    if (archive_write_open(a, &out, NULL, arc_write, NULL) != ARCHIVE_OK)
        die(archive_error_string(a));
    for (int i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m[i].name);
        archive_entry_set_mtime(e, 0, 0);
        if (m[i].data) {
            archive_entry_set_filetype(e, AE_IFREG);
            archive_entry_set_perm(e, 0644);
            archive_entry_set_size(e, (la_int64_t)m[i].len);
        } else {
            archive_entry_set_filetype(e, AE_IFDIR);
            archive_entry_set_perm(e, 0755);
        }
        if (archive_write_header(a, e) != ARCHIVE_OK) die(archive_error_string(a));
        if (m[i].data && m[i].len &&
            archive_write_data(a, m[i].data, m[i].len) != (la_ssize_t)m[i].len)
            die(archive_error_string(a));
        archive_entry_free(e);
    }
    if (archive_write_close(a) != ARCHIVE_OK) die(archive_error_string(a));
    archive_write_free(a);
    return out;
}

/* ---- images (libpng, libjpeg) -------------------------------------------------- */

static void png_to_buf(png_structp png, png_bytep p, size_t n) {
    buf_add(png_get_io_ptr(png), p, n);
}
static void png_flush_nop(png_structp png) {
    (void)png;
}

/* color_type: PNG_COLOR_TYPE_*; depth 8 or 16; interlace 0/1. */
static buf make_png(int w, int h, int color_type, int depth, int interlace) {
    buf out = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (!png || !info || setjmp(png_jmpbuf(png))) die("libpng");
    png_set_write_fn(png, &out, png_to_buf, png_flush_nop);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, color_type,
                 interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (color_type == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        png_set_PLTE(png, info, pal, 4);
        png_byte trans[1] = {128};
        png_set_tRNS(png, info, trans, 1, NULL);
    }
    png_write_info(png, info);
    int ch = color_type == PNG_COLOR_TYPE_RGB ? 3 : color_type == PNG_COLOR_TYPE_RGBA ? 4
           : color_type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2 : 1;
    size_t stride = (size_t)w * ch * (depth / 8);
    unsigned char *rows = calloc((size_t)h, stride);
    png_bytep *rp = malloc((size_t)h * sizeof *rp);
    if (!rows || !rp) die("out of memory");
    for (int y = 0; y < h; y++) {
        rp[y] = rows + (size_t)y * stride;
        for (size_t x = 0; x < stride; x++)
            rp[y][x] = color_type == PNG_COLOR_TYPE_PALETTE ? (unsigned char)((x + y) % 4)
                                                            : (unsigned char)(37 * x + 91 * y);
    }
    png_write_image(png, rp);
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(rows), free(rp);
    return out;
}

static buf make_jpeg(int w, int h, int gray, int progressive) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    unsigned char *mem = NULL;
    unsigned long mlen = 0;
    jpeg_mem_dest(&c, &mem, &mlen);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = gray ? 1 : 3;
    c.in_color_space = gray ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 75, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    size_t stride = (size_t)w * c.input_components;
    unsigned char *row = malloc(stride);
    if (!row) die("out of memory");
    while (c.next_scanline < c.image_height) {
        for (size_t x = 0; x < stride; x++) row[x] = (unsigned char)(17 * x + 29 * c.next_scanline);
        JSAMPROW r = row;
        jpeg_write_scanlines(&c, &r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    free(row);
    buf out = {0};
    buf_add(&out, mem, mlen);
    free(mem);
    return out;
}

/* ---- the seeds ------------------------------------------------------------------ */

static buf make_safetensors(int checkpoint) {
    float f[6] = {1, -2, 0.5f, 3.25f, -0.0f, 1e-3f};
    int64_t step = 7;
    uint8_t u[4] = {1, 2, 3, 255};
    int32_t i32[2] = {-1, 65536};
    lirf_st_tensor t[4] = {
        {"conv1.weight", LIRF_F32, 2, {2, 3}, sizeof f, f},
        {"bn1.num_batches_tracked", LIRF_I64, 0, {0}, sizeof step, &step},
        {"mask", LIRF_U8, 1, {4}, sizeof u, u},
        {"idx", LIRF_I32, 2, {1, 2}, sizeof i32, i32},
    };
    const char *ck_keys[] = {"lirf_version", "arch", "width", "in_shape", "classes",
                             "class_names", "split", "preprocess", "mid"};
    const char *ck_vals[] = {"0.1.0", "cnn", "16", "3,32,32", "3", "[\"a\",\"b\",\"c\"]",
                             "block2",
                             "{\"scale\":255,\"mean\":[0.5,0.5,0.5],\"std\":[0.25,0.25,0.25]}",
                             "1,2,3,4,5,6,7,8"};
    const char *keys[] = {"format", "note"};
    const char *vals[] = {"pt", "a seed"};
    void *p;
    size_t n;
    if (checkpoint) {
        if (lirf_st_write_mem(t, 4, ck_keys, ck_vals, 9, &p, &n) != LIRF_OK) die("st_write");
    } else {
        if (lirf_st_write_mem(t, 4, keys, vals, 2, &p, &n) != LIRF_OK) die("st_write");
    }
    buf b = {0};
    buf_add(&b, p, n);
    free(p);
    return b;
}

static void seeds_safetensors(void) {
    buf a = make_safetensors(0), b = make_safetensors(1);
    put("safetensors", "tensors.safetensors", a.p, a.n, NULL, 0);
    put("safetensors", "checkpoint.safetensors", b.p, b.n, NULL, 0);
    void *p;
    size_t n;
    if (lirf_st_write_mem(NULL, 0, NULL, NULL, 0, &p, &n) != LIRF_OK) die("st_write");
    put("safetensors", "empty.safetensors", p, n, NULL, 0);
    free(p), free(a.p), free(b.p);
}

static void seeds_archive(void) {
    buf dep = make_safetensors(1);
    const char *man = "{\"architecture\":\"cnn\",\"split\":\"block2\",\"width\":16,"
                      "\"classes\":3,\"mode\":\"exact\",\"deposit_classes\":[1]}";
    static const struct {
        const char *name;
        lirf_archive_compression c;
    } k[3] = {{"deposit.tar", LIRF_ARCHIVE_PLAIN},
              {"deposit.tar.gz", LIRF_ARCHIVE_GZIP},
              {"deposit.tar.zst", LIRF_ARCHIVE_ZSTD}};
    for (int i = 0; i < 3; i++) {
        void *p;
        size_t n;
        lirf_status st = lirf_archive_write_mem(man, dep.p, dep.n, k[i].c, &p, &n);
        if (st == LIRF_E_UNSUPPORTED) continue;
        if (st != LIRF_OK) die("archive_write_mem");
        put("archive", k[i].name, p, n, NULL, 0);
        free(p);
    }
    void *p;
    size_t n;
    if (lirf_archive_write_mem("{}", "", 0, LIRF_ARCHIVE_PLAIN, &p, &n) != LIRF_OK)
        die("archive_write_mem");
    put("archive", "empty-deposit.tar", p, n, NULL, 0);
    free(p);
    free(dep.p);
}

static void be32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24), p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8), p[3] = (unsigned char)v;
}

/* [opt][labels length, LE16][labels][images] */
static void seed_idx(const char *name, uint8_t opt, int n, int rows, int cols, const char *filter) {
    unsigned char lab[8 + 64], img[16 + 64 * 64];
    be32(lab, 0x801), be32(lab + 4, (uint32_t)n);
    for (int i = 0; i < n; i++) lab[8 + i] = (unsigned char)((3 * i + 1) % 10);
    be32(img, 0x803), be32(img + 4, (uint32_t)n), be32(img + 8, (uint32_t)rows);
    be32(img + 12, (uint32_t)cols);
    size_t ilen = 16 + (size_t)n * rows * cols;
    for (size_t k = 16; k < ilen; k++) img[k] = (unsigned char)(k * 7);
    buf l = {0}, im = {0};
    if (filter) {
        member ml = {"labels", lab, 8 + (size_t)n}, mi = {"images", img, ilen};
        l = make_archive("raw", filter, &ml, 1);
        im = make_archive("raw", filter, &mi, 1);
    } else {
        buf_add(&l, lab, 8 + (size_t)n);
        buf_add(&im, img, ilen);
    }
    unsigned char head[3] = {opt, (unsigned char)(l.n & 255), (unsigned char)(l.n >> 8)};
    buf all = {0};
    buf_add(&all, head, 3);
    buf_add(&all, l.p, l.n);
    put("idx", name, all.p, all.n, im.p, im.n);
    free(l.p), free(im.p), free(all.p);
}

static void seeds_idx(void) {
    seed_idx("plain-3x4x4", 0, 3, 4, 4, NULL);
    seed_idx("gzip-5x3x2-limit", 2 | 1, 5, 3, 2, "gzip");
    seed_idx("xz-6x2x2-classes", 4, 6, 2, 2, "xz");
}

/* records of (label) or (coarse, fine) + 3072 pixels */
static buf cifar_records(int c100, int n, int seed) {
    buf b = {0};
    unsigned char rec[2 + 3072];
    for (int i = 0; i < n; i++) {
        size_t k = 0;
        if (c100) rec[k++] = (unsigned char)((i + seed) % 20);
        rec[k++] = (unsigned char)((3 * i + seed) % (c100 ? 100 : 10));
        for (int j = 0; j < 3072; j++) rec[k + j] = (unsigned char)(j * 13 + i * 7 + seed);
        buf_add(&b, rec, k + 3072);
    }
    return b;
}

static void seeds_cifar(void) {
    static const char c10_names[] = "airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\n"
                                    "ship\ntruck\n\n";
    buf test = cifar_records(0, 3, 0);
    member m1[2] = {{"cifar-10-batches-bin/batches.meta.txt", c10_names, sizeof c10_names - 1},
                    {"cifar-10-batches-bin/test_batch.bin", test.p, test.n}};
    buf a = make_archive("tar", NULL, m1, 2);
    unsigned char opt = 0;
    put("cifar", "c10-test.tar", &opt, 1, a.p, a.n);
    free(a.p);
    a = make_archive("tar", "gzip", m1, 2);
    opt = 4 | 8;
    put("cifar", "c10-test-limit-classes.tar.gz", &opt, 1, a.p, a.n);
    free(a.p);

    buf b[5];
    member m5[5];
    char names[5][32];
    for (int i = 0; i < 5; i++) {
        b[i] = cifar_records(0, 1 + i % 2, i);
        snprintf(names[i], sizeof names[i], "data_batch_%d.bin", i + 1);
        m5[i] = (member){names[i], b[i].p, b[i].n};
    }
    a = make_archive("tar", NULL, m5, 5);
    opt = 2;
    put("cifar", "c10-train.tar", &opt, 1, a.p, a.n);
    free(a.p);
    for (int i = 0; i < 5; i++) free(b[i].p);

    buf fine = {0};
    for (int i = 0; i < 100; i++) {
        char line[32];
        int k = snprintf(line, sizeof line, "class%d\n", i);
        buf_add(&fine, line, (size_t)k);
    }
    buf t100 = cifar_records(1, 2, 5);
    member m2[2] = {{"cifar-100-binary/fine_label_names.txt", fine.p, fine.n},
                    {"cifar-100-binary/test.bin", t100.p, t100.n}};
    a = make_archive("zip", NULL, m2, 2);
    opt = 1;
    put("cifar", "c100-test.zip", &opt, 1, a.p, a.n);
    free(a.p), free(fine.p), free(t100.p), free(test.p);
}

static void seeds_image(void) {
    static const struct {
        const char *name;
        int w, h, type, depth, interlace;
    } p[] = {
        {"rgb-5x4.png", 5, 4, PNG_COLOR_TYPE_RGB, 8, 0},
        {"gray-3x7.png", 3, 7, PNG_COLOR_TYPE_GRAY, 8, 0},
        {"palette-trns-6x2.png", 6, 2, PNG_COLOR_TYPE_PALETTE, 8, 0},
        {"rgba16-4x4.png", 4, 4, PNG_COLOR_TYPE_RGBA, 16, 0},
        {"gray-alpha-interlaced-9x9.png", 9, 9, PNG_COLOR_TYPE_GRAY_ALPHA, 8, 1},
    };
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) {
        buf b = make_png(p[i].w, p[i].h, p[i].type, p[i].depth, p[i].interlace);
        put("image", p[i].name, b.p, b.n, NULL, 0);
        free(b.p);
    }
    static const struct {
        const char *name;
        int w, h, gray, prog;
    } j[] = {
        {"rgb-8x8.jpg", 8, 8, 0, 0},
        {"gray-11x5.jpg", 11, 5, 1, 0},
        {"progressive-17x9.jpg", 17, 9, 0, 1},
    };
    for (size_t i = 0; i < sizeof j / sizeof j[0]; i++) {
        buf b = make_jpeg(j[i].w, j[i].h, j[i].gray, j[i].prog);
        put("image", j[i].name, b.p, b.n, NULL, 0);
        free(b.p);
    }
}

static void seeds_imagefolder(void) {
    buf a = make_png(6, 6, PNG_COLOR_TYPE_RGB, 8, 0), b = make_jpeg(8, 8, 0, 0);
    buf c = make_png(4, 4, PNG_COLOR_TYPE_GRAY, 8, 0), d = make_jpeg(9, 7, 1, 0);
    member split[8] = {
        {"data/", NULL, 0},
        {"data/train/cat/a.png", a.p, a.n},
        {"data/train/dog/b.jpg", b.p, b.n},
        {"data/train/dog/sub/c.png", c.p, c.n},
        {"data/test/cat/d.jpeg", d.p, d.n},
        {"data/test/dog/e.PNG", a.p, a.n},
        {"data/train/.hidden/x.png", a.p, a.n},
        {"data/test/dog/readme.txt", "hi", 2},
    };
    buf t = make_archive("tar", NULL, split, 8);
    unsigned char opt = 1; /* train, size 8 */
    put("imagefolder", "split-train.tar", &opt, 1, t.p, t.n);
    free(t.p);
    t = make_archive("tar", "gzip", split, 8);
    opt = 0 | 2 | (1 << 3); /* test, limit 3, size 5 */
    put("imagefolder", "split-test-limit.tar.gz", &opt, 1, t.p, t.n);
    free(t.p);
    member flat[4] = {
        {"bird/1.png", c.p, c.n},
        {"bird/2.jpg", d.p, d.n},
        {"fish/1.jpg", b.p, b.n},
        {"fish/2.png", a.p, a.n},
    };
    t = make_archive("zip", NULL, flat, 4);
    opt = 4 | (2 << 3); /* class 1 only, size 16 */
    put("imagefolder", "flat-classes.zip", &opt, 1, t.p, t.n);
    free(t.p);
    member gray[2] = {{"g/1.png", c.p, c.n}, {"h/2.jpg", d.p, d.n}};
    t = make_archive("tar", "xz", gray, 2);
    opt = 3 << 3; /* size 32, all gray */
    put("imagefolder", "gray.tar.xz", &opt, 1, t.p, t.n);
    free(t.p);
    free(a.p), free(b.p), free(c.p), free(d.p);
}

/* ---- keys and sealed archives ------------------------------------------------- */

/* libsodium's random bytes from a fixed seed (randombytes_buf_deterministic
 * over a call counter): the same keys, nonces and sealed-box ephemeral keys on
 * every run. Installed before libsodium initialises; make_seeds only. */
static uint64_t g_rng_calls;

static void fixed_buf(void *const p, const size_t n) {
    unsigned char seed[randombytes_SEEDBYTES] = "lirf make_seeds: test"; /* 24 bytes at most */
    for (int i = 0; i < 8; i++) seed[24 + i] = (unsigned char)(g_rng_calls >> (8 * i));
    g_rng_calls++;
    randombytes_buf_deterministic(p, n, seed);
}
static uint32_t fixed_random(void) {
    uint32_t v;
    fixed_buf(&v, sizeof v);
    return v;
}
static const char *fixed_name(void) {
    return "lirf-make-seeds-fixed";
}
static randombytes_implementation fixed_rng = {fixed_name, fixed_random, NULL, NULL, fixed_buf,
                                               NULL};

static void save_key(const lirf_key *k, const char *target, const char *name, lirf_key_kind kind) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", g_out, target);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) die(p);
    snprintf(p, sizeof p, "%s/%s/%s", g_out, target, name);
    if (lirf_key_save(k, p, kind, 1) != LIRF_OK) die(p);
}

/* The text of a key file, read back (for the variant seed below). */
static buf slurp(const char *target, const char *name) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s/%s", g_out, target, name);
    FILE *f = fopen(p, "rb");
    if (!f) die(p);
    buf b = {0};
    char chunk[1024];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_add(&b, chunk, n);
    fclose(f);
    return b;
}

/* The test identity (t) and a second one (o); both from the fixed seed. */
static void seeds_keyfile(lirf_key **t, lirf_key **o) {
    if (lirf_key_generate(t) != LIRF_OK || lirf_key_generate(o) != LIRF_OK) die("key_generate");
    save_key(*t, "keyfile", "test-identity.key", LIRF_KEY_SECRET);
    save_key(*t, "keyfile", "test-identity.pub", LIRF_KEY_PUBLIC);
    /* the same secret key file with CRLF line ends, the fields in another
     * order, and a comment and a blank line among them */
    buf k = slurp("keyfile", "test-identity.key"), v = {0};
    const char *lines[16];
    size_t lens[16], n = 0;
    for (size_t i = 0, start = 0; i < k.n && n < 16; i++)
        if (k.p[i] == '\n') {
            lines[n] = (const char *)k.p + start, lens[n++] = i - start;
            start = i + 1;
        }
    if (n != 7) die("unexpected key file layout");
    static const int order[] = {0, 1, 6, 3, -1, 5, 2, 4}; /* -1: a comment and a blank line */
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
        if (order[i] < 0) buf_add(&v, "# a comment\r\n\r\n", strlen("# a comment\r\n\r\n"));
        else buf_add(&v, lines[order[i]], lens[order[i]]), buf_add(&v, "\r\n", 2);
    }
    put("keyfile", "test-identity-crlf-reordered.key", v.p, v.n, NULL, 0);
    free(k.p), free(v.p);
}

/* The archive writer stamps its members with the time of writing: every
 * header of a plain tar gets mtime 0 (and its checksum again), so that the
 * sealed seeds are the same bytes on every run (the signature covers
 * manifest.json's bytes, not the tar headers). */
static void tar_zero_mtimes(unsigned char *p, size_t n) {
    for (size_t off = 0; off + 512 <= n;) {
        unsigned char *h = p + off;
        if (memcmp(h + 257, "ustar", 5) != 0) break; /* the end-of-archive blocks */
        memcpy(h + 136, "00000000000 ", 12);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int i = 0; i < 512; i++) sum += h[i];
        snprintf((char *)h + 148, 8, "%06o", sum); /* six digits, NUL, then the space */
        char size[13];
        memcpy(size, h + 124, 12);
        size[12] = '\0';
        off += 512 + (strtoull(size, NULL, 8) + 511) / 512 * 512;
    }
}

static void seeds_sealed(const lirf_key *t, const lirf_key *o) {
    buf dep = make_safetensors(0);
    const char *man = "{\"architecture\":\"cnn\",\"split\":\"block2\",\"width\":16,"
                      "\"classes\":3,\"mode\":\"exact\",\"deposit_classes\":[1]}";
    static const struct {
        const char *name;
        int sign, encrypt; /* 1: the test identity, 2: the other one */
    } k[] = {{"plain.tar", 0, 0},
             {"signed.tar", 1, 0},
             {"encrypted.tar", 0, 1},
             {"signed-encrypted.tar", 1, 1},
             {"signed-by-another-key.tar", 2, 0}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        lirf_archive_seal seal = {k[i].sign == 1 ? t : k[i].sign == 2 ? o : NULL,
                                  k[i].encrypt ? t : NULL};
        void *p;
        size_t n;
        if (lirf_archive_write_sealed_mem(man, dep.p, dep.n, LIRF_ARCHIVE_PLAIN, &seal, &p, &n) !=
            LIRF_OK)
            die("archive_write_sealed_mem");
        tar_zero_mtimes(p, n);
        put("sealed", k[i].name, p, n, NULL, 0);
        free(p);
    }
    free(dep.p);
}

/* lirf import's --meta files: the fixture's (tests/golden/import/), an RGB one
 * at scale 1 with names that need escaping, and an empty object. */
static void seeds_import_meta(void) {
    static const char gray[] =
        "{\n  \"in_shape\": [1, 28, 28],\n  \"preprocess\": {\"scale\": 0.00392156862745098, "
        "\"mean\": [0.286], \"std\": [0.353]},\n  \"class_names\": [\"T-shirt/top\", "
        "\"Trouser\", \"Pullover\", \"Dress\", \"Coat\", \"Sandal\", \"Shirt\", \"Sneaker\", "
        "\"Bag\", \"Ankle boot\"]\n}\n";
    static const char rgb[] =
        "{\"preprocess\": {\"scale\": 1, \"mean\": [125.3, 123.0, 113.9], \"std\": [63.0, 62.1, "
        "66.7]}, \"in_shape\": [3, 32, 32], \"class_names\": [\"say \\\"hi\\\"\", "
        "\"back\\\\slash\", \"caf\\u00e9\"]}";
    put("import_meta", "fmnist.json", gray, sizeof gray - 1, NULL, 0);
    put("import_meta", "rgb-scale1.json", rgb, sizeof rgb - 1, NULL, 0);
    put("import_meta", "empty.json", "{}", 2, NULL, 0);
}

/* ---- sample lists: a size byte, then the text -------------------------------- */
static void seed_samplelist(const char *name, uint8_t n, const char *text) {
    put("samplelist", name, &n, 1, text, strlen(text));
}

static void seeds_samplelist(void) {
    seed_samplelist("plain", 10, "0\n3\n9\n");
    seed_samplelist("comments-crlf", 200, "# deposit\r\n  12 # twelve\r\n\r\n007\n199");
    seed_samplelist("one", 1, "0");
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    g_out = argv[1];
    if (mkdir(g_out, 0755) != 0 && errno != EEXIST) die(g_out);
    if (randombytes_set_implementation(&fixed_rng) != 0 || sodium_init() < 0) die("libsodium");
    seeds_safetensors();
    seeds_archive();
    seeds_idx();
    seeds_cifar();
    seeds_image();
    seeds_imagefolder();
    seeds_samplelist();
    lirf_key *t, *o;
    seeds_keyfile(&t, &o);
    seeds_sealed(t, o);
    seeds_import_meta();
    lirf_key_free(t), lirf_key_free(o);
    return 0;
}
