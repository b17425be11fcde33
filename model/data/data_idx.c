/* Fashion-MNIST: IDX files (gzip or plain), read with libarchive's raw format.
 *
 * Labels file: magic 0x00000801, count n (big-endian uint32), then n bytes.
 * Images file: magic 0x00000803, n, rows, cols, then n*rows*cols bytes.
 * Both are read as streams into buffers that grow with the bytes actually
 * present, so a header claiming absurd counts cannot make us allocate them.
 */
#include <archive.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data.h"

#define IDX_MAX_SIDE 1024
#define CHUNK (1u << 16)

static const char *const FASHION_NAMES[10] = {"T-shirt/top", "Trouser", "Pullover", "Dress",
                                              "Coat",        "Sandal",  "Shirt",    "Sneaker",
                                              "Bag",         "Ankle boot"};

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* dir/stem.gz, else dir/stem. */
static lirf_status find_file(const char *dir, const char *stem, char *out, size_t outlen) {
    if (snprintf(out, outlen, "%s/%s.gz", dir, stem) >= (int)outlen)
        return LIRF_FAIL(LIRF_E_INVALID, "path %s is too long", dir);
    if (lirf_data_is_file(out)) return LIRF_OK;
    snprintf(out, outlen, "%s/%s", dir, stem);
    if (lirf_data_is_file(out)) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_NOT_FOUND, "Fashion-MNIST: neither %s/%s.gz nor %s/%s exists", dir,
                     stem, dir, stem);
}

/* Reads the header (hlen bytes) and checks the magic. */
static lirf_status read_header(struct archive *a, const char *path, uint8_t *hdr, size_t hlen,
                               uint32_t magic, const char *what) {
    size_t got;
    LIRF_TRY(lirf_data_read(a, hdr, hlen, &got, path));
    if (got < hlen)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: truncated IDX header (%zu of %zu bytes)", path, got,
                         hlen);
    if (be32(hdr) != magic)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: IDX magic 0x%08x, want 0x%08x (%s)", path,
                         (unsigned)be32(hdr), (unsigned)magic, what);
    if (be32(hdr + 4) > INT_MAX)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the header claims %u samples (more than %d)", path,
                         (unsigned)be32(hdr + 4), INT_MAX);
    return LIRF_OK;
}

/* After the declared data: the file must end. */
static lirf_status expect_end(struct archive *a, const char *path, const char *what) {
    uint8_t extra;
    size_t got;
    LIRF_TRY(lirf_data_read(a, &extra, 1, &got, path));
    if (got)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: bytes follow the %s the header declares", path, what);
    return LIRF_OK;
}

static lirf_status read_labels(const lirf_data_src *src, lirf_bytes *lab) {
    const char *path = src->name;
    struct archive *a;
    LIRF_TRY(lirf_data_open_raw_src(src, &a));
    uint8_t hdr[8];
    lirf_status st = read_header(a, path, hdr, 8, 0x00000801u, "labels: unsigned bytes, 1 dim");
    size_t n = st == LIRF_OK ? be32(hdr + 4) : 0;
    while (st == LIRF_OK && lab->n < n) {
        size_t want = n - lab->n < CHUNK ? n - lab->n : CHUNK, got;
        st = lirf_bytes_reserve(lab, want);
        if (st == LIRF_OK) st = lirf_data_read(a, lab->p + lab->n, want, &got, path);
        if (st != LIRF_OK) break;
        lab->n += got;
        if (got < want)
            st = LIRF_FAIL(LIRF_E_FORMAT, "%s: truncated: %zu of the %zu labels are present", path,
                           lab->n, n);
    }
    if (st == LIRF_OK) st = expect_end(a, path, "labels");
    for (size_t i = 0; st == LIRF_OK && i < lab->n; i++)
        if (lab->p[i] >= 10)
            st = LIRF_FAIL(LIRF_E_FORMAT, "%s: label %u of sample %zu is out of range [0, 10)", path,
                           lab->p[i], i);
    archive_read_free(a);
    return st;
}

lirf_status lirf_data_load_idx(const lirf_data_opts *o, const char *dir, lirf_dataset *out) {
    const char *split = o->train ? "train" : "t10k";
    char lab_path[1100], img_path[1100], stem[64];
    snprintf(stem, sizeof stem, "%s-labels-idx1-ubyte", split);
    LIRF_TRY(find_file(dir, stem, lab_path, sizeof lab_path));
    snprintf(stem, sizeof stem, "%s-images-idx3-ubyte", split);
    LIRF_TRY(find_file(dir, stem, img_path, sizeof img_path));
    snprintf(out->source, sizeof out->source, "%s", dir);
    lirf_data_src lab = {lab_path, NULL, 0}, img = {img_path, NULL, 0};
    return lirf_data_load_idx_src(o, &lab, &img, out);
}

lirf_status lirf_data_load_idx_src(const lirf_data_opts *o, const lirf_data_src *labels,
                                   const lirf_data_src *images, lirf_dataset *out) {
    const char *lab_path = labels->name, *img_path = images->name;
    LIRF_TRY(lirf_data_set_names(out, 10, FASHION_NAMES));

    uint8_t *keep;
    LIRF_TRY(lirf_data_keep_table(o, 10, &keep));
    lirf_bytes lab = {0}, px = {0};
    uint8_t *skipbuf = NULL;
    struct archive *a = NULL;
    lirf_status st = read_labels(labels, &lab);
    size_t ntake = 0;
    for (size_t i = 0; st == LIRF_OK && i < lab.n; i++) ntake += keep[lab.p[i]];
    if (o->limit && ntake > o->limit) ntake = o->limit;

    uint8_t hdr[16];
    if (st == LIRF_OK) st = lirf_data_open_raw_src(images, &a);
    if (st == LIRF_OK)
        st = read_header(a, img_path, hdr, 16, 0x00000803u, "images: unsigned bytes, 3 dims");
    uint32_t nimg = 0, rows = 0, cols = 0;
    if (st == LIRF_OK) {
        nimg = be32(hdr + 4), rows = be32(hdr + 8), cols = be32(hdr + 12);
        if (nimg != lab.n)
            st = LIRF_FAIL(LIRF_E_FORMAT, "%s holds %u images but %s holds %zu labels", img_path,
                           (unsigned)nimg, lab_path, lab.n);
        else if (rows < 1 || cols < 1 || rows > IDX_MAX_SIDE || cols > IDX_MAX_SIDE)
            st = LIRF_FAIL(LIRF_E_FORMAT, "%s: image size %ux%u is out of range [1, %d]", img_path,
                           (unsigned)rows, (unsigned)cols, IDX_MAX_SIDE);
    }
    size_t rec = (size_t)rows * cols, taken = 0, i = 0;
    if (st == LIRF_OK) {
        out->labels = malloc((ntake ? ntake : 1) * sizeof *out->labels);
        skipbuf = malloc(rec);
        if (!out->labels || !skipbuf) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    for (; st == LIRF_OK && i < nimg && taken < ntake; i++) {
        int k = keep[lab.p[i]];
        uint8_t *dst = skipbuf;
        if (k) {
            st = lirf_bytes_reserve(&px, rec);
            if (st != LIRF_OK) break;
            dst = px.p + px.n;
        }
        size_t got;
        st = lirf_data_read(a, dst, rec, &got, img_path);
        if (st == LIRF_OK && got < rec)
            st = LIRF_FAIL(LIRF_E_FORMAT,
                           "%s: truncated: image %zu of %u is incomplete (%zu of %zu bytes)",
                           img_path, i, (unsigned)nimg, got, rec);
        if (st == LIRF_OK && k) {
            px.n += rec;
            out->labels[taken++] = lab.p[i];
        }
    }
    if (st == LIRF_OK && i == nimg) st = expect_end(a, img_path, "images");
    if (a) archive_read_free(a);
    free(skipbuf), free(lab.p), free(keep);
    if (st != LIRF_OK) {
        free(px.p);
        return st;
    }
    out->pixels = px.p;
    out->n = (int)taken;
    out->c = 1, out->h = (int)rows, out->w = (int)cols;
    return LIRF_OK;
}
