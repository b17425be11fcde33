/* libFuzzer target: the PNG (libpng) and JPEG (libjpeg-turbo) decoders
 * (lirf_image_decode) and the resizer behind image folders.
 *
 * Oracle: one decoder decodes the input twice (as image folders reuse a
 * decoder across files, including after a refused one); both must give the
 * same verdict, and, when accepted, the same size and pixels, within the
 * side and pixel limits. An accepted image is then resized to 13x7 and to a
 * size near its own.
 */
#include <string.h>

#include "data.h"
#include "fuzz.h"

#define FUZZ_IMAGE_MAX_PIXELS ((size_t)1 << 20)

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lirf_image_decoder *dec;
    FUZZ_CHECK(lirf_image_decoder_new(&dec) == LIRF_OK);
    /* A few hundred bytes can describe a 64-megapixel image, legal under the
     * library's limit but a second or more to decode: the fuzzer would spend
     * its time there. 1 megapixel keeps every input fast; the limit check
     * itself is the same code. */
    lirf_image_decoder_set_max_pixels(dec, FUZZ_IMAGE_MAX_PIXELS);
    const uint8_t *px;
    int h, w, c;
    lirf_status st = lirf_image_decode(dec, data, size, "fuzz-image", &px, &h, &w, &c);
    fuzz_accepted = st == LIRF_OK;
    uint8_t *copy = NULL;
    if (st == LIRF_OK) {
        FUZZ_CHECK(h >= 1 && w >= 1 && h <= LIRF_IMAGE_MAX_SIDE && w <= LIRF_IMAGE_MAX_SIDE);
        FUZZ_CHECK((size_t)h * (size_t)w <= FUZZ_IMAGE_MAX_PIXELS && (c == 1 || c == 3));
        copy = malloc((size_t)h * w * c);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, px, (size_t)h * w * c);
    }
    const uint8_t *px2;
    int h2, w2, c2;
    lirf_status st2 = lirf_image_decode(dec, data, size, "fuzz-image", &px2, &h2, &w2, &c2);
    FUZZ_CHECK(st == st2);
    if (st == LIRF_OK) {
        FUZZ_CHECK(h == h2 && w == w2 && c == c2);
        FUZZ_CHECK(memcmp(copy, px2, (size_t)h * w * c) == 0);
        uint8_t small[13 * 7 * 3];
        FUZZ_CHECK(lirf_image_resize(small, 13, 7, px2, h, w, c) == LIRF_OK);
        if ((size_t)h * w <= 4096) { /* near its own size: both ways */
            int dh = h + 1 < LIRF_IMAGE_MAX_SIDE ? h + 1 : h, dw = w > 1 ? w - 1 : 1;
            uint8_t *out = malloc((size_t)dh * dw * c);
            FUZZ_CHECK(out != NULL);
            FUZZ_CHECK(lirf_image_resize(out, dh, dw, px2, h, w, c) == LIRF_OK);
            free(out);
        }
    }
    free(copy);
    lirf_image_decoder_free(dec);
    return 0;
}
