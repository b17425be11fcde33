/* libFuzzer target: safetensors files (lirf_st_read_mem) and the lirf
 * checkpoint metadata read from them (lirf_checkpoint_open_mem: arch, width,
 * classes, in_shape, mid, preprocess and class_names JSON).
 *
 * Oracle: a file the reader accepts is written back (lirf_st_write_mem) and
 * read again; the second reading must give the same tensors (names, dtypes,
 * shapes, bytes) and metadata, in the same order.
 */
#include <string.h>

#include "checkpoint.h"
#include "fuzz.h"
#include "safetensors.h"

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

static void same(const lirf_safetensors *a, const lirf_safetensors *b) {
    FUZZ_CHECK(a->count == b->count && a->meta_count == b->meta_count);
    for (size_t i = 0; i < a->count; i++) {
        const lirf_st_tensor *x = &a->tensors[i], *y = &b->tensors[i];
        FUZZ_CHECK(strcmp(x->name, y->name) == 0);
        FUZZ_CHECK(x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes);
        FUZZ_CHECK(memcmp(x->shape, y->shape, (size_t)x->ndim * sizeof x->shape[0]) == 0);
        FUZZ_CHECK(x->nbytes == lirf_st_numel(x) * lirf_dtype_size(x->dtype));
        FUZZ_CHECK(x->nbytes == 0 || memcmp(x->data, y->data, x->nbytes) == 0);
        FUZZ_CHECK(lirf_st_find(a, x->name) != NULL);
    }
    for (size_t i = 0; i < a->meta_count; i++) {
        FUZZ_CHECK(strcmp(a->meta_keys[i], b->meta_keys[i]) == 0);
        FUZZ_CHECK(strcmp(a->meta_vals[i], b->meta_vals[i]) == 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lirf_safetensors st;
    fuzz_accepted = 0;
    if (lirf_st_read_mem(data, size, "fuzz.safetensors", &st) == LIRF_OK) {
        fuzz_accepted = 1;
        void *buf;
        size_t len;
        FUZZ_CHECK(lirf_st_write_mem(st.tensors, st.count, (const char *const *)st.meta_keys,
                                     (const char *const *)st.meta_vals, st.meta_count, &buf,
                                     &len) == LIRF_OK);
        lirf_safetensors again;
        FUZZ_CHECK(lirf_st_read_mem(buf, len, "rewritten", &again) == LIRF_OK);
        same(&st, &again);
        lirf_st_free(&again);
        free(buf);
        lirf_st_free(&st);
    }
    lirf_model_meta meta;
    if (lirf_checkpoint_open_mem(data, size, "fuzz.safetensors", &st, &meta) == LIRF_OK) {
        FUZZ_CHECK(meta.cfg.classes >= 2 && meta.cfg.classes <= LIRF_MAX_CLASSES);
        FUZZ_CHECK(meta.cfg.in_c >= 1 && meta.cfg.in_c <= 4);
        lirf_model_meta_free(&meta);
        lirf_st_free(&st);
    }
    return 0;
}
