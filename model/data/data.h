/* Data sets, read with libarchive (never extracted to disk), as uint8 images.
 *
 * Readers: Fashion-MNIST (gzip IDX, Debian's dataset-fashion-mnist: the default
 * when no path is given), CIFAR-10 / CIFAR-100 binary versions (folder or
 * .tar.gz), and image folders (one sub-folder per class of PNG / JPEG files,
 * torchvision's ImageFolder convention; a folder or a tar archive, optionally
 * compressed), decoded with libpng / libjpeg-turbo and resized.
 * All outside bytes are untrusted: any malformed input gives LIRF_E_FORMAT (or
 * LIRF_E_IO) with a message naming the file and what is wrong.
 */
#ifndef LIRF_DATA_H
#define LIRF_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "lirf_runtime.h"

typedef enum {
    LIRF_DATA_AUTO = 0,      /* guess from the path (file names inside) */
    LIRF_DATA_FASHION_MNIST, /* train-images-idx3-ubyte.gz etc. */
    LIRF_DATA_CIFAR10,       /* data_batch_{1..5}.bin, test_batch.bin */
    LIRF_DATA_CIFAR100,      /* train.bin, test.bin (fine labels) */
    LIRF_DATA_IMAGEFOLDER,
} lirf_data_kind;

typedef struct {
    const char *path;      /* NULL or "": Fashion-MNIST from the Debian package */
    lirf_data_kind kind;
    int train;             /* 1: training split, 0: test split */
    int image_size;        /* image folders: resize to image_size^2 (0: 32) */
    const int32_t *classes; /* keep only samples of these classes (NULL: all); samples of
                              other classes are skipped unread where the format allows
                              (image folders: their files are never opened) */
    int nclasses;
    size_t limit;          /* at most this many samples (0: all) */
} lirf_data_opts;

typedef struct {
    int n, c, h, w;          /* pixels (n, c, h, w), uint8 */
    uint8_t *pixels;
    int32_t *labels;         /* (n), in [0, num_classes) — original class indices */
    int num_classes;         /* classes of the whole data set, not only those kept */
    char **class_names;      /* num_classes names */
    lirf_data_kind kind;
    char source[1024];       /* the path read */
} lirf_dataset;

/* Where Debian's dataset-fashion-mnist installs its files (found the way
 * `dpkg -L dataset-fashion-mnist` shows); LIRF_E_NOT_FOUND with an
 * apt-get hint when absent. */
lirf_status lirf_fashion_mnist_dir(char *out, size_t outlen);

lirf_status lirf_dataset_load(const lirf_data_opts *o, lirf_dataset *out);
/* The same from bytes already in memory (tests, fuzzing): o->path only names
 * them in messages, and o->kind must be LIRF_DATA_CIFAR10, LIRF_DATA_CIFAR100
 * or LIRF_DATA_IMAGEFOLDER; buf holds what such a path names when it is an
 * archive file (any format / compression libarchive reads without running a
 * program). */
lirf_status lirf_dataset_load_mem(const lirf_data_opts *o, const void *buf, size_t len,
                                  lirf_dataset *out);
/* Fashion-MNIST from the bytes of its labels and images IDX files (gzip or
 * plain); o->path only names them in messages. */
lirf_status lirf_dataset_load_idx_mem(const lirf_data_opts *o, const void *labels,
                                      size_t labels_len, const void *images, size_t images_len,
                                      lirf_dataset *out);
void lirf_dataset_free(lirf_dataset *d);

/* Per-channel mean and std of pixels/255 over the whole set (for preprocessing:
 * x = (p/255 - mean[c]) / std[c]). mean, std: c floats each. */
void lirf_dataset_stats(const lirf_dataset *d, float *mean, float *std);

/* ---- images (model/data/data_image.c) -----------------------------------------
 * PNG and JPEG decoding and resizing, usable on their own. */
typedef struct lirf_image_decoder lirf_image_decoder;
lirf_status lirf_image_decoder_new(lirf_image_decoder **out);
void lirf_image_decoder_free(lirf_image_decoder *d);
/* Decodes a PNG or JPEG held in memory (told apart by signature) into
 * interleaved 8-bit pixels (h, w, c): c = 1 for grayscale, 3 for colour
 * (palette and 16-bit expanded/scaled to 8-bit RGB/gray; alpha dropped).
 * *pixels points into the decoder and stays valid until its next call.
 * name only labels error messages (LIRF_E_FORMAT naming it). Images over
 * LIRF_IMAGE_MAX_SIDE pixels on a side or LIRF_IMAGE_MAX_PIXELS in all are
 * refused before their pixels are allocated. */
#define LIRF_IMAGE_MAX_SIDE 16384
#define LIRF_IMAGE_MAX_PIXELS ((size_t)1 << 26)
lirf_status lirf_image_decode(lirf_image_decoder *d, const uint8_t *bytes, size_t len,
                              const char *name, const uint8_t **pixels, int *h, int *w, int *c);
/* Lowers this decoder's limit on pixels in all (0 or more than
 * LIRF_IMAGE_MAX_PIXELS: back to LIRF_IMAGE_MAX_PIXELS). A few hundred bytes of
 * progressive JPEG or PNG can describe a 64-megapixel image that takes a
 * second to decode; a caller that knows its images are small (the fuzz
 * target) refuses larger ones before decoding. */
void lirf_image_decoder_set_max_pixels(lirf_image_decoder *d, size_t max_pixels);
/* Resizes interleaved src (sh, sw, c) to dst (dh, dw, c): separable triangle
 * filter widened by the scale when shrinking (PIL's antialiased bilinear,
 * torchvision's Resize), plain bilinear with half-pixel centres when growing. */
lirf_status lirf_image_resize(uint8_t *dst, int dh, int dw, const uint8_t *src, int sh, int sw,
                              int c);

/* ---- shared by the readers in model/data*.c (not for callers) ------------- */
struct archive;
struct archive_entry;
typedef struct {
    uint8_t *p;
    size_t n, cap;
} lirf_bytes; /* a growing byte buffer */
lirf_status lirf_bytes_reserve(lirf_bytes *b, size_t extra);
lirf_status lirf_bytes_append(lirf_bytes *b, const void *src, size_t len);

/* Where a reader's bytes come from: the file `name`, or, when buf is not
 * NULL, the len bytes at buf (then `name` only labels messages). */
typedef struct {
    const char *name;
    const void *buf;
    size_t len;
} lirf_data_src;
/* Opens one file through libarchive's raw format with every filter built into
 * libarchive (never one that runs a program): a .gz (or .xz, ...) reads as its
 * decompressed bytes, a plain file as itself. Missing file: LIRF_E_NOT_FOUND. */
lirf_status lirf_data_open_raw(const char *path, struct archive **out);
lirf_status lirf_data_open_raw_src(const lirf_data_src *s, struct archive **out);
/* Opens an archive file of any format / compression libarchive knows. */
lirf_status lirf_data_open_archive(const char *path, struct archive **out);
lirf_status lirf_data_open_archive_src(const lirf_data_src *s, struct archive **out);
/* The next entry's header; *e NULL at the end of the archive. */
lirf_status lirf_data_next_header(struct archive *a, struct archive_entry **e, const char *name);
/* Reads up to len bytes of the current entry; *got < len only at its end.
 * name labels errors. */
lirf_status lirf_data_read(struct archive *a, void *buf, size_t len, size_t *got,
                           const char *name);
/* 1 if path is a directory / a regular file. */
int lirf_data_is_dir(const char *path);
int lirf_data_is_file(const char *path);
/* Checks o->classes against num_classes and returns a num_classes table of
 * 0/1 (1: keep); malloc'ed. */
lirf_status lirf_data_keep_table(const lirf_data_opts *o, int num_classes, uint8_t **keep);
/* 1 if s is valid UTF-8 (no overlong forms, surrogates or code points over
 * U+10FFFF). */
int lirf_utf8_valid(const char *s);
/* Sets d->num_classes and copies the names (names[i] NULL: "class_i");
 * LIRF_E_FORMAT for a name that is not valid UTF-8. */
lirf_status lirf_data_set_names(lirf_dataset *d, int num_classes, const char *const *names);
/* A model's class names against an image folder's (its class folders, sorted):
 * an image folder's labels are the places of its folder names, so a model
 * whose names differ (other classes, or the same in another order) would be
 * scored against the wrong labels. LIRF_E_INVALID naming the first class
 * that differs, `what` (the model) and the data. Other formats carry no names
 * of their own (IDX) or fixed ones, and a model without names says nothing:
 * LIRF_OK. The counts are lirf_data_fits's to check. */
lirf_status lirf_data_names_fit(const lirf_dataset *d, char *const *names, int classes,
                                const char *what);
/* Reads a text file of class names (one a line, empty lines skipped) held in
 * bytes; LIRF_E_FORMAT unless there are exactly num_classes. */
lirf_status lirf_data_parse_names(lirf_dataset *d, const char *bytes, size_t len, int num_classes,
                                  const char *name);

/* The readers behind lirf_dataset_load (options already checked; out zeroed).
 * mem: the archive's bytes in memory instead of the file o->path (NULL: the
 * path, a folder or an archive file). */
lirf_status lirf_data_load_idx(const lirf_data_opts *o, const char *dir, lirf_dataset *out);
lirf_status lirf_data_load_idx_src(const lirf_data_opts *o, const lirf_data_src *labels,
                                   const lirf_data_src *images, lirf_dataset *out);
lirf_status lirf_data_load_cifar(const lirf_data_opts *o, lirf_data_kind kind,
                                 const lirf_data_src *mem, lirf_dataset *out);
lirf_status lirf_data_load_imagefolder(const lirf_data_opts *o, const lirf_data_src *mem,
                                       lirf_dataset *out);

/* ---- sample lists (model/data/samples.c) ------------------------------------
 * A list of training samples by index into the training split as lirf reads
 * it: IDX (Fashion-MNIST) in the files' order; CIFAR in the order of
 * data_batch_1..5.bin (CIFAR-100: train.bin); image folders sorted by (class,
 * path) byte-wise (data_imagefolder.c), the order of `lirf eval --split train`.
 * The text: one non-negative decimal integer a line; '#' starts a comment to
 * the end of its line; blank lines and spaces around a number are ignored. */
typedef struct {
    int32_t *idx;          /* ascending, each once */
    size_t n;
    char sha256[65];       /* lirf_sample_list_sha256 of idx */
} lirf_sample_list;

/* Parses the list text in bytes against a split of nsamples samples. name
 * labels errors; LIRF_E_FORMAT naming name and the line for a line that is
 * not one number, a number outside [0, nsamples), a sample listed twice
 * (naming the first line too), and for a list with no number at all. *out is
 * left zeroed on error. */
lirf_status lirf_sample_list_parse(const char *bytes, size_t len, const char *name,
                                   size_t nsamples, lirf_sample_list *out);
/* The same from the file at path (LIRF_E_NOT_FOUND / LIRF_E_IO naming it;
 * files over LIRF_SAMPLE_LIST_MAX_BYTES refused). */
#define LIRF_SAMPLE_LIST_MAX_BYTES ((size_t)64 << 20)
lirf_status lirf_sample_list_load(const char *path, size_t nsamples, lirf_sample_list *out);
void lirf_sample_list_free(lirf_sample_list *l);
/* SHA-256 (lower-case hex) of the indices ascending, each written in decimal
 * and followed by '\n': what `sort -n -u` of the numbers piped to sha256sum
 * gives. idx must be ascending. */
void lirf_sample_list_sha256(const int32_t *idx, size_t n, char hex[65]);
/* *out: the samples idx[0..n) of src (in that order), with src's class names,
 * kind and source. LIRF_E_INVALID for an index outside src. */
lirf_status lirf_dataset_subset(const lirf_dataset *src, const int32_t *idx, size_t n,
                                lirf_dataset *out);
/* The classes of ds's samples idx[0..n), ascending, into classes (room for
 * ds->num_classes); *nclasses of them. */
lirf_status lirf_dataset_classes_of(const lirf_dataset *ds, const int32_t *idx, size_t n,
                                    int32_t *classes, int *nclasses);

#endif
