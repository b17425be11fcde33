/* libFuzzer target: CIFAR-10 / CIFAR-100 binary versions from an archive
 * (lirf_dataset_load_mem): any archive format and built-in filter libarchive
 * reads, entries matched by base name, the record reader, the class-names
 * files (batches.meta.txt, fine_label_names.txt).
 *
 * Input: one options byte (bit 0: CIFAR-100, bit 1: training split, bit 2:
 * limit 5, bit 3: keep only classes 0 and 3), then the archive's bytes.
 *
 * Oracle: an accepted set has n in [1, limit] samples of 3x32x32 pixels,
 * labels in [0, num_classes) of the kept classes, and num_classes names.
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
    if (size < 1) return 0;
    uint8_t opt = data[0];
    static const int32_t classes[2] = {0, 3};
    lirf_data_opts o = {.path = "fuzz-cifar.tar",
                        .kind = opt & 1 ? LIRF_DATA_CIFAR100 : LIRF_DATA_CIFAR10,
                        .train = (opt >> 1) & 1, .limit = opt & 4 ? 5 : 0,
                        .classes = opt & 8 ? classes : NULL, .nclasses = opt & 8 ? 2 : 0};
    lirf_dataset d;
    if (lirf_dataset_load_mem(&o, data + 1, size - 1, &d) != LIRF_OK) return 0;
    fuzz_accepted = 1;
    int ncls = opt & 1 ? 100 : 10;
    FUZZ_CHECK(d.n >= 1 && (!o.limit || (size_t)d.n <= o.limit));
    FUZZ_CHECK(d.c == 3 && d.h == 32 && d.w == 32 && d.num_classes == ncls);
    for (int i = 0; i < ncls; i++) FUZZ_CHECK(d.class_names[i] && d.class_names[i][0]);
    for (int i = 0; i < d.n; i++) {
        FUZZ_CHECK(d.labels[i] >= 0 && d.labels[i] < ncls);
        if (o.classes) FUZZ_CHECK(d.labels[i] == 0 || d.labels[i] == 3);
    }
    unsigned sum = 0;
    for (size_t k = 0; k < (size_t)d.n * 3 * 32 * 32; k++) sum += d.pixels[k];
    (void)sum;
    lirf_dataset_free(&d);
    return 0;
}
