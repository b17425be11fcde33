/* libFuzzer target: Fashion-MNIST IDX files (lirf_dataset_load_idx_mem), read
 * through libarchive's raw format with its built-in filters (gzip, xz, ...).
 *
 * Input: one options byte (bit 0: training split name, bit 1: limit 3,
 * bit 2: keep only classes 1 and 7), two bytes (little-endian) giving the
 * length of the labels file (cut to what is there), the labels file, then
 * the images file. The seeds (make_seeds.c) follow this layout.
 *
 * Oracle: an accepted set has n in [1, limit], labels in [0, 10) and of the
 * kept classes, and n * rows * cols pixels (rows, cols in [1, 1024]).
 */
#include <string.h>

#include "data.h"
#include "fuzz.h"

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_accepted = 0;
    if (size < 3) return 0;
    uint8_t opt = data[0];
    size_t llen = (size_t)data[1] | (size_t)data[2] << 8;
    data += 3, size -= 3;
    if (llen > size) llen = size;
    static const int32_t classes[2] = {1, 7};
    lirf_data_opts o = {.path = "fuzz-idx", .kind = LIRF_DATA_FASHION_MNIST,
                        .train = opt & 1, .limit = opt & 2 ? 3 : 0,
                        .classes = opt & 4 ? classes : NULL, .nclasses = opt & 4 ? 2 : 0};
    lirf_dataset d;
    if (lirf_dataset_load_idx_mem(&o, data, llen, data + llen, size - llen, &d) != LIRF_OK)
        return 0;
    fuzz_accepted = 1;
    FUZZ_CHECK(d.n >= 1 && (!o.limit || (size_t)d.n <= o.limit));
    FUZZ_CHECK(d.c == 1 && d.h >= 1 && d.h <= 1024 && d.w >= 1 && d.w <= 1024);
    FUZZ_CHECK(d.num_classes == 10 && d.class_names && d.pixels && d.labels);
    for (int i = 0; i < d.n; i++) {
        FUZZ_CHECK(d.labels[i] >= 0 && d.labels[i] < 10);
        if (o.classes) FUZZ_CHECK(d.labels[i] == 1 || d.labels[i] == 7);
    }
    /* every pixel is there (ASan / MSan see an out-of-bounds or wild read) */
    unsigned sum = 0;
    for (size_t k = 0; k < (size_t)d.n * d.h * d.w; k++) sum += d.pixels[k];
    (void)sum;
    lirf_dataset_free(&d);
    return 0;
}
