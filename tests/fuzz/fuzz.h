/* Shared by the libFuzzer targets in tests/fuzz/ (one per reader of outside
 * bytes). Each target defines LLVMFuzzerTestOneInput and calls fuzz_init()
 * from LLVMFuzzerInitialize; replay.c gives the same targets a plain main()
 * that runs files once (the seed corpora and the regression inputs, in every
 * build, sanitized or not). No target needs an OpenCL device.
 *
 * A reader may refuse any input; what it must never do is crash, hang, leak,
 * read or write out of bounds, hit undefined behaviour, allocate without
 * bound, or accept an input and then give back something inconsistent.
 * FUZZ_CHECK turns such an inconsistency into an abort, which libFuzzer (and
 * the replay driver, by its exit status) reports as a crash.
 */
#ifndef LIRF_FUZZ_H
#define LIRF_FUZZ_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "lirf_runtime.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Each target sets this to 1 when the reader accepted the input, 0 when it
 * refused it (the replay driver reports it and checks that seeds pass). */
extern int fuzz_accepted;

#define FUZZ_CHECK(cond)                                                                  \
    do {                                                                                  \
        if (!(cond)) {                                                                    \
            fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed (last lirf error: %s)\n",       \
                    __FILE__, __LINE__, #cond, lirf_error_message());                     \
            abort();                                                                      \
        }                                                                                 \
    } while (0)

/* Quiet logs (a refusal is the common case), fixed JSON hash seed (runs are
 * repeatable). */
static inline void fuzz_init(void) {
    lirf_log_set_level(LIRF_LOG_QUIET);
    json_object_seed(1);
}

#endif
