/* libFuzzer target: image folders in an archive (lirf_dataset_load_mem with
 * LIRF_DATA_IMAGEFOLDER): entry listing and name normalisation, the split
 * (train/test/val) and enclosing-folder logic, class folders, the balanced
 * limit, two passes over the archive, and PNG / JPEG decoding and resizing.
 *
 * Input: one options byte (bit 0: training split, bit 1: limit 3, bit 2: keep
 * only class 1, bits 3-4: image size 8, 5, 16 or 32), then the archive.
 *
 * Oracle: an accepted set has n in [1, limit] samples of c in {1, 3}
 * channels at the requested size, labels in [0, num_classes) of the kept
 * classes, and num_classes names.
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
    static const int32_t classes[1] = {1};
    static const int sizes[4] = {8, 5, 16, 32};
    lirf_data_opts o = {.path = "fuzz-images.tar", .kind = LIRF_DATA_IMAGEFOLDER,
                        .train = opt & 1, .image_size = sizes[(opt >> 3) & 3],
                        .limit = opt & 2 ? 3 : 0, .classes = opt & 4 ? classes : NULL,
                        .nclasses = opt & 4 ? 1 : 0};
    lirf_dataset d;
    if (lirf_dataset_load_mem(&o, data + 1, size - 1, &d) != LIRF_OK) return 0;
    fuzz_accepted = 1;
    FUZZ_CHECK(d.n >= 1 && (!o.limit || (size_t)d.n <= o.limit));
    FUZZ_CHECK((d.c == 1 || d.c == 3) && d.h == o.image_size && d.w == o.image_size);
    FUZZ_CHECK(d.num_classes >= 1 && d.class_names);
    for (int i = 0; i < d.num_classes; i++) FUZZ_CHECK(d.class_names[i] != NULL);
    for (int i = 0; i < d.n; i++) {
        FUZZ_CHECK(d.labels[i] >= 0 && d.labels[i] < d.num_classes);
        if (o.classes) FUZZ_CHECK(d.labels[i] == 1);
    }
    unsigned sum = 0;
    for (size_t k = 0; k < (size_t)d.n * d.c * d.h * d.w; k++) sum += d.pixels[k];
    (void)sum;
    lirf_dataset_free(&d);
    return 0;
}
