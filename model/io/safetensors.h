/* safetensors files (https://huggingface.co/docs/safetensors): an 8-byte
 * little-endian header length, a JSON header (jansson) mapping tensor names to
 * {dtype, shape, data_offsets} plus an optional "__metadata__" string map,
 * then the raw little-endian data.
 *
 * Reading treats the bytes as untrusted: header size limits, valid JSON,
 * known dtypes, shapes whose element count times dtype size equals the byte
 * range, offsets inside the data section, contiguous and non-overlapping,
 * unique names, metadata values that are strings. Any violation gives
 * LIRF_E_FORMAT naming the file and the tensor.
 * Writing goes to a temporary file in the same folder, fsync'ed and renamed, so
 * a crash never leaves a half-written file under the final name.
 */
#ifndef LIRF_SAFETENSORS_H
#define LIRF_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "lirf_runtime.h"

/* I8 and F16 hold the quantised conv deltas of delta-mode deposit archives
 * (model/lirf/delta.h); checkpoints themselves are F32 (counters I64). */
typedef enum { LIRF_F32 = 0, LIRF_I64, LIRF_I32, LIRF_U8, LIRF_I8, LIRF_F16 } lirf_dtype;

#define LIRF_ST_MAX_DIMS 8

typedef struct {
    char *name;
    lirf_dtype dtype;
    int ndim;                        /* 0 for a scalar */
    int64_t shape[LIRF_ST_MAX_DIMS];
    size_t nbytes;
    void *data;                      /* reader: owned by the lirf_safetensors; writer: caller's */
} lirf_st_tensor;

typedef struct {
    lirf_st_tensor *tensors;
    size_t count;
    char **meta_keys, **meta_vals;   /* __metadata__ */
    size_t meta_count;
} lirf_safetensors;

size_t lirf_dtype_size(lirf_dtype t);
const char *lirf_dtype_name(lirf_dtype t); /* "F32", "I64", ... */
size_t lirf_st_numel(const lirf_st_tensor *t);

lirf_status lirf_st_read(const char *path, lirf_safetensors *out);
/* The same from memory (e.g. an archive member); `what` names it in errors. */
lirf_status lirf_st_read_mem(const void *buf, size_t len, const char *what, lirf_safetensors *out);
void lirf_st_free(lirf_safetensors *st);

const lirf_st_tensor *lirf_st_find(const lirf_safetensors *st, const char *name);
const char *lirf_st_meta(const lirf_safetensors *st, const char *key); /* NULL if absent */

/* Finds `name` and checks dtype and shape; LIRF_E_NOT_FOUND / LIRF_E_FORMAT
 * with a message naming the tensor, what was expected and what was found. */
lirf_status lirf_st_expect(const lirf_safetensors *st, const char *name, lirf_dtype dtype,
                           int ndim, const int64_t *shape, const lirf_st_tensor **out);

/* Writes tensors (data from the caller) and metadata (meta_count key/value
 * pairs, may be 0) atomically to path. Tensors are written in the given order. */
lirf_status lirf_st_write(const char *path, const lirf_st_tensor *tensors, size_t count,
                          const char *const *meta_keys, const char *const *meta_vals,
                          size_t meta_count);
/* The same into a malloc'ed buffer (free() it). */
lirf_status lirf_st_write_mem(const lirf_st_tensor *tensors, size_t count,
                              const char *const *meta_keys, const char *const *meta_vals,
                              size_t meta_count, void **buf, size_t *len);

#endif
