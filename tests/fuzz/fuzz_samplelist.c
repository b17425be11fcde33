/* libFuzzer target: sample lists (lirf_sample_list_parse, lirf deposit and
 * lirf eval --deposit-samples).
 *
 * Input: one byte giving the size of the training split (0..255), then the
 * list's text. The seeds (make_seeds.c) follow this layout.
 *
 * Oracle: an accepted list has at least one index, strictly ascending, each in
 * [0, size), and its sha256 is lirf_sample_list_sha256 of them; a refused one
 * leaves the list empty.
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
    size_t nsamples = data[0];
    lirf_sample_list l;
    if (lirf_sample_list_parse((const char *)data + 1, size - 1, "fuzz-list", nsamples, &l) !=
        LIRF_OK) {
        FUZZ_CHECK(l.idx == NULL && l.n == 0);
        return 0;
    }
    fuzz_accepted = 1;
    FUZZ_CHECK(l.n >= 1 && l.n <= nsamples && l.idx);
    for (size_t i = 0; i < l.n; i++) {
        FUZZ_CHECK(l.idx[i] >= 0 && (size_t)l.idx[i] < nsamples);
        if (i) FUZZ_CHECK(l.idx[i] > l.idx[i - 1]);
    }
    char hex[65];
    lirf_sample_list_sha256(l.idx, l.n, hex);
    FUZZ_CHECK(strcmp(hex, l.sha256) == 0);
    lirf_sample_list_free(&l);
    return 0;
}
