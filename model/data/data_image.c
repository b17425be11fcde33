/* PNG (libpng) and JPEG (libjpeg-turbo) decoding from memory, and resizing.
 *
 * Both libraries report errors by longjmp from their error callbacks; every
 * piece of state touched after setjmp lives in the decoder (reached through an
 * unchanging pointer), so nothing is clobbered. A corrupt or truncated image
 * gives LIRF_E_FORMAT naming it; the process never exits.
 */
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <jerror.h>
#include <png.h>

#include "data.h"

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_mgr;

struct lirf_image_decoder {
    uint8_t *buf; /* decoded pixels (h, w, c) */
    size_t cap;
    png_bytep *rows;
    size_t rows_cap;
    /* JPEG: one decompressor, reused */
    struct jpeg_decompress_struct jpg;
    jerr_mgr jerr;
    int jpg_ready;
    /* PNG: per image */
    png_structp png;
    png_infop pinfo;
    const uint8_t *src;
    size_t src_len, src_off;
    char pmsg[256];
    char pwarn[256]; /* libpng's first warning: often the cause of the error */
    int nomem;
    size_t max_pixels; /* LIRF_IMAGE_MAX_PIXELS unless lowered */
};

/* ---- buffers ------------------------------------------------------------- */

static int grow(lirf_image_decoder *d, size_t need) {
    if (need <= d->cap) return 1;
    uint8_t *p = realloc(d->buf, need);
    if (!p) return 0;
    d->buf = p;
    d->cap = need;
    return 1;
}

static int grow_rows(lirf_image_decoder *d, size_t h) {
    if (h <= d->rows_cap) return 1;
    png_bytep *p = realloc(d->rows, h * sizeof *p);
    if (!p) return 0;
    d->rows = p;
    d->rows_cap = h;
    return 1;
}

/* ---- JPEG ------------------------------------------------------------------ */

static void jerr_longjmp(j_common_ptr ci) {
    jerr_mgr *m = (jerr_mgr *)(void *)ci->err;
    ci->err->format_message(ci, m->msg);
    longjmp(m->jb, 1);
}

/* Warnings are ignored (harmless ones are common in real data sets), except a
 * premature end of the file: libjpeg would fill the rest with gray. */
static void jerr_emit(j_common_ptr ci, int level) {
    if (level < 0 && ci->err->msg_code == JWRN_JPEG_EOF) jerr_longjmp(ci);
}

static lirf_status decode_jpeg(lirf_image_decoder *d, const uint8_t *bytes, size_t len,
                               const char *name, int *h, int *w, int *c) {
    if (len > ULONG_MAX) return LIRF_FAIL(LIRF_E_FORMAT, "%s: JPEG too large", name);
    d->nomem = 0;
    /* A fresh decompressor for every image: libjpeg keeps Huffman and
     * quantisation tables from one image to the next, so a file whose scan
     * comes before its tables (libjpeg then uses the standard ones) decoded
     * differently after another file had defined them (found by fuzz_image). */
    if (d->jpg_ready) {
        jpeg_destroy_decompress(&d->jpg);
        d->jpg_ready = 0;
    }
    if (setjmp(d->jerr.jb)) return LIRF_FAIL(LIRF_E_NOMEM, "%s: jpeg_create_decompress failed", name);
    jpeg_create_decompress(&d->jpg);
    d->jpg_ready = 1;
    if (setjmp(d->jerr.jb)) {
        jpeg_abort_decompress(&d->jpg);
        if (d->nomem) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of host memory", name);
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: corrupt JPEG: %s", name, d->jerr.msg);
    }
    jpeg_mem_src(&d->jpg, bytes, (unsigned long)len);
    jpeg_read_header(&d->jpg, TRUE);
    if (d->jpg.image_width > LIRF_IMAGE_MAX_SIDE || d->jpg.image_height > LIRF_IMAGE_MAX_SIDE ||
        (size_t)d->jpg.image_width * d->jpg.image_height > d->max_pixels) {
        jpeg_abort_decompress(&d->jpg);
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: JPEG of %ux%u pixels (more than %d on a side or %zu in all)", name,
                         (unsigned)d->jpg.image_width, (unsigned)d->jpg.image_height,
                         LIRF_IMAGE_MAX_SIDE, d->max_pixels);
    }
    switch (d->jpg.jpeg_color_space) {
    case JCS_GRAYSCALE: d->jpg.out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: d->jpg.out_color_space = JCS_RGB; break;
    default:
        jpeg_abort_decompress(&d->jpg);
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: JPEG colour space %d (CMYK/YCCK) is not supported",
                         name, (int)d->jpg.jpeg_color_space);
    }
    jpeg_start_decompress(&d->jpg);
    size_t stride = (size_t)d->jpg.output_width * (size_t)d->jpg.output_components;
    if (!grow(d, stride * d->jpg.output_height)) {
        d->nomem = 1;
        jpeg_abort_decompress(&d->jpg);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of host memory", name);
    }
    while (d->jpg.output_scanline < d->jpg.output_height) {
        JSAMPROW row = d->buf + (size_t)d->jpg.output_scanline * stride;
        jpeg_read_scanlines(&d->jpg, &row, 1);
    }
    *h = (int)d->jpg.output_height;
    *w = (int)d->jpg.output_width;
    *c = d->jpg.output_components;
    jpeg_finish_decompress(&d->jpg);
    return LIRF_OK;
}

/* ---- PNG ------------------------------------------------------------------- */

static void png_read_mem(png_structp png, png_bytep out, size_t len) {
    lirf_image_decoder *d = png_get_io_ptr(png);
    if (len > d->src_len - d->src_off) png_error(png, "the data ends early (truncated file)");
    memcpy(out, d->src + d->src_off, len);
    d->src_off += len;
}

static void png_err(png_structp png, png_const_charp msg) {
    lirf_image_decoder *d = png_get_error_ptr(png);
    snprintf(d->pmsg, sizeof d->pmsg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg) {
    lirf_image_decoder *d = png_get_error_ptr(png);
    if (!d->pwarn[0]) snprintf(d->pwarn, sizeof d->pwarn, "%s", msg);
}

static lirf_status decode_png(lirf_image_decoder *d, const uint8_t *bytes, size_t len,
                              const char *name, int *h, int *w, int *c) {
    d->nomem = 0;
    d->pmsg[0] = 0;
    d->pwarn[0] = 0;
    d->src = bytes, d->src_len = len, d->src_off = 0;
    d->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, d, png_err, png_warn);
    if (!d->png) return LIRF_FAIL(LIRF_E_NOMEM, "%s: png_create_read_struct failed", name);
    d->pinfo = png_create_info_struct(d->png);
    if (!d->pinfo) {
        png_destroy_read_struct(&d->png, NULL, NULL);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: png_create_info_struct failed", name);
    }
    if (setjmp(png_jmpbuf(d->png))) {
        png_destroy_read_struct(&d->png, &d->pinfo, NULL);
        if (d->nomem) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of host memory", name);
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: corrupt PNG: %s%s%s%s", name, d->pmsg,
                         d->pwarn[0] ? " (" : "", d->pwarn, d->pwarn[0] ? ")" : "");
    }
    png_set_read_fn(d->png, d, png_read_mem);
    png_set_user_limits(d->png, LIRF_IMAGE_MAX_SIDE, LIRF_IMAGE_MAX_SIDE);
    png_read_info(d->png, d->pinfo);
    if ((size_t)png_get_image_width(d->png, d->pinfo) * png_get_image_height(d->png, d->pinfo) >
        d->max_pixels)
        png_error(d->png, "image too large (more pixels than the decoder's limit)");
    png_set_expand(d->png);     /* palette -> RGB, gray < 8 bits -> 8, tRNS -> alpha */
    png_set_scale_16(d->png);   /* 16 -> 8 bits, rounded */
    png_set_strip_alpha(d->png);
    png_set_interlace_handling(d->png);
    png_read_update_info(d->png, d->pinfo);
    size_t pw = png_get_image_width(d->png, d->pinfo), ph = png_get_image_height(d->png, d->pinfo);
    size_t pc = png_get_channels(d->png, d->pinfo);
    size_t stride = png_get_rowbytes(d->png, d->pinfo);
    if ((pc != 1 && pc != 3) || stride != pw * pc)
        png_error(d->png, "unexpected pixel layout after conversion");
    if (!grow(d, stride * ph) || !grow_rows(d, ph)) {
        d->nomem = 1;
        png_error(d->png, "out of memory");
    }
    for (size_t y = 0; y < ph; y++) d->rows[y] = d->buf + y * stride;
    png_read_image(d->png, d->rows);
    png_read_end(d->png, NULL);
    png_destroy_read_struct(&d->png, &d->pinfo, NULL);
    *h = (int)ph, *w = (int)pw, *c = (int)pc;
    return LIRF_OK;
}

/* ---- API ------------------------------------------------------------------- */

lirf_status lirf_image_decoder_new(lirf_image_decoder **out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_image_decoder_new: out is NULL");
    lirf_image_decoder *d = calloc(1, sizeof *d);
    if (!d) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    d->jpg.err = jpeg_std_error(&d->jerr.pub);
    d->jerr.pub.error_exit = jerr_longjmp;
    d->jerr.pub.emit_message = jerr_emit;
    d->max_pixels = LIRF_IMAGE_MAX_PIXELS;
    if (setjmp(d->jerr.jb)) { /* jpeg_create_decompress can fail on memory */
        free(d);
        return LIRF_FAIL(LIRF_E_NOMEM, "jpeg_create_decompress failed");
    }
    jpeg_create_decompress(&d->jpg);
    d->jpg_ready = 1;
    *out = d;
    return LIRF_OK;
}

void lirf_image_decoder_set_max_pixels(lirf_image_decoder *d, size_t max_pixels) {
    if (d)
        d->max_pixels = max_pixels && max_pixels < LIRF_IMAGE_MAX_PIXELS ? max_pixels
                                                                         : LIRF_IMAGE_MAX_PIXELS;
}

void lirf_image_decoder_free(lirf_image_decoder *d) {
    if (!d) return;
    if (d->jpg_ready) jpeg_destroy_decompress(&d->jpg);
    free(d->buf);
    free(d->rows);
    free(d);
}

lirf_status lirf_image_decode(lirf_image_decoder *d, const uint8_t *bytes, size_t len,
                              const char *name, const uint8_t **pixels, int *h, int *w, int *c) {
    if (!d || !bytes || !pixels || !h || !w || !c)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_image_decode: NULL argument");
    if (!name) name = "image";
    static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    lirf_status st;
    if (len >= 8 && memcmp(bytes, png_sig, 8) == 0)
        st = decode_png(d, bytes, len, name, h, w, c);
    else if (len >= 3 && bytes[0] == 0xff && bytes[1] == 0xd8 && bytes[2] == 0xff)
        st = decode_jpeg(d, bytes, len, name, h, w, c);
    else
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: neither a PNG nor a JPEG (%zu bytes, no signature)",
                         name, len);
    if (st == LIRF_OK) *pixels = d->buf;
    return st;
}

/* Taps of a separable triangle filter mapping `in` samples to `out`:
 * output o reads inputs lo[o] .. lo[o] + cnt[o] - 1 with weights w[o * maxn + k]. */
typedef struct {
    int *lo, *cnt, maxn;
    float *w;
} taps;

static void taps_free(taps *t) {
    free(t->lo), free(t->cnt), free(t->w);
}

static lirf_status taps_make(int in, int out, taps *t) {
    double scale = (double)in / out, fs = scale > 1 ? scale : 1, support = fs;
    t->maxn = (int)ceil(support) * 2 + 1;
    t->lo = malloc((size_t)out * sizeof *t->lo);
    t->cnt = malloc((size_t)out * sizeof *t->cnt);
    t->w = malloc((size_t)out * (size_t)t->maxn * sizeof *t->w);
    if (!t->lo || !t->cnt || !t->w) {
        taps_free(t);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale;
        int lo = (int)floor(center - support + 0.5), hi = (int)floor(center + support + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        if (hi - lo > t->maxn) hi = lo + t->maxn;
        float *dst = t->w + (size_t)o * t->maxn;
        double sum = 0;
        for (int x = lo; x < hi; x++) {
            double a = fabs((x - center + 0.5) / fs);
            dst[x - lo] = (float)(a < 1 ? 1 - a : 0);
            sum += dst[x - lo];
        }
        if (sum <= 0) { /* cannot happen with support >= 1; keep the nearest pixel */
            lo = (int)center < in ? (int)center : in - 1;
            hi = lo + 1;
            dst[0] = 1;
            sum = 1;
        }
        for (int x = lo; x < hi; x++) dst[x - lo] = (float)(dst[x - lo] / sum);
        t->lo[o] = lo;
        t->cnt[o] = hi - lo;
    }
    return LIRF_OK;
}

lirf_status lirf_image_resize(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw,
                              int c) {
    if (!dst || !src) return LIRF_FAIL(LIRF_E_NULL, "lirf_image_resize: NULL buffer");
    if (dh <= 0 || dw <= 0 || sh <= 0 || sw <= 0 || c <= 0 || dh > LIRF_IMAGE_MAX_SIDE ||
        dw > LIRF_IMAGE_MAX_SIDE || sh > LIRF_IMAGE_MAX_SIDE || sw > LIRF_IMAGE_MAX_SIDE || c > 4)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_image_resize: sizes %dx%d -> %dx%d (c %d)", sh, sw,
                         dh, dw, c);
    if (dh == sh && dw == sw) {
        memcpy(dst, src, (size_t)sh * sw * c);
        return LIRF_OK;
    }
    taps th = {0}, tv = {0};
    LIRF_TRY(taps_make(sw, dw, &th));
    lirf_status st = taps_make(sh, dh, &tv);
    float *tmp = st == LIRF_OK ? malloc((size_t)sh * dw * c * sizeof *tmp) : NULL; /* (sh, dw, c) */
    if (st == LIRF_OK && !tmp) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) {
        for (int y = 0; y < sh; y++) {
            const uint8_t *row = src + (size_t)y * sw * c;
            float *trow = tmp + (size_t)y * dw * c;
            for (int x = 0; x < dw; x++) {
                const float *wt = th.w + (size_t)x * th.maxn;
                for (int ch = 0; ch < c; ch++) {
                    float acc = 0;
                    for (int k = 0; k < th.cnt[x]; k++) acc += wt[k] * row[(size_t)(th.lo[x] + k) * c + ch];
                    trow[(size_t)x * c + ch] = acc;
                }
            }
        }
        for (int y = 0; y < dh; y++) {
            const float *wt = tv.w + (size_t)y * tv.maxn;
            uint8_t *drow = dst + (size_t)y * dw * c;
            for (int i = 0; i < dw * c; i++) {
                float acc = 0;
                for (int k = 0; k < tv.cnt[y]; k++) acc += wt[k] * tmp[(size_t)(tv.lo[y] + k) * dw * c + i];
                int v = (int)floorf(acc + 0.5f);
                drow[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
            }
        }
    }
    free(tmp);
    taps_free(&th), taps_free(&tv);
    return st;
}
