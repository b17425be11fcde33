/* Batches for the device: shuffling, preprocessing ((p/255 - mean) / std) and
 * upload. A background thread prepares the next batch on the host while the
 * device works on the current one, so decoding and batching do not stall the
 * step. The shuffle of epoch e is a function of (seed, e) only, so a run
 * resumed at any batch sees the same batches as an uninterrupted one. */
#ifndef LIRF_LOADER_H
#define LIRF_LOADER_H

#include "data.h"

typedef struct {
    const lirf_dataset *data;
    const int32_t *index;   /* optional subset of sample indices */
    size_t count;           /* its length (index NULL: the whole set) */
    int batch;
    int shuffle;
    int drop_last;          /* drop a final partial batch */
    uint32_t seed;
    float mean[4], std[4];
} lirf_loader_opts;

typedef struct lirf_loader lirf_loader;

lirf_status lirf_loader_create(lirf_ctx *ctx, const lirf_loader_opts *o, lirf_loader **out);
void lirf_loader_destroy(lirf_loader *l);
size_t lirf_loader_batches(const lirf_loader *l);
size_t lirf_loader_samples(const lirf_loader *l);
/* Starts epoch `epoch` at batch `skip` (for resuming). */
lirf_status lirf_loader_start(lirf_loader *l, int epoch, size_t skip);
/* The next batch as device views x (n, C, H, W) and y (n) int32, valid until
 * the next call; *n = 0 at the end of the epoch. */
lirf_status lirf_loader_next(lirf_loader *l, lirf_buf *x, lirf_buf *y, int *n);

#endif
