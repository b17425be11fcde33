/* libFuzzer target: the LIRF deposit archive (lirf_archive_read_mem): tar
 * (pax/ustar) under any built-in compression filter, member checks,
 * manifest.json (JSON, "format", "format_version", "members"), the bounded
 * read of deposit.safetensors and its SHA-256 check.
 *
 * Oracle: an archive the reader accepts holds a JSON object manifest and a
 * deposit of the declared size; written again (lirf_archive_write_mem, its
 * manifest as the caller's fields) it must read back to the same deposit
 * bytes and the same manifest (but for "members", which the writer makes).
 */
#include <string.h>

#include "fuzz.h"
#include "lirf_archive.h"

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    json_t *man;
    void *dep;
    size_t len;
    lirf_status st = lirf_archive_read_mem(data, size, "fuzz.tar", &man, &dep, &len);
    fuzz_accepted = st == LIRF_OK;
    if (st != LIRF_OK) {
        FUZZ_CHECK(!man && !dep && len == 0);
        return 0;
    }
    FUZZ_CHECK(json_is_object(man) && dep != NULL);
    json_t *members = json_object_get(man, "members");
    FUZZ_CHECK(json_is_array(members));
    char *text = json_dumps(man, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    void *buf;
    size_t blen;
    FUZZ_CHECK(lirf_archive_write_mem(text, dep, len, LIRF_ARCHIVE_PLAIN, &buf, &blen) == LIRF_OK);
    json_t *man2;
    void *dep2;
    size_t len2;
    FUZZ_CHECK(lirf_archive_read_mem(buf, blen, "rewritten", &man2, &dep2, &len2) == LIRF_OK);
    FUZZ_CHECK(len2 == len && (len == 0 || memcmp(dep, dep2, len) == 0));
    /* the writer makes "members" and "manifest_sha256" anew (lower-case
     * SHA-256, its own keys); the rest of the manifest is the caller's and
     * comes back as it was */
    json_t *m1 = json_deep_copy(man), *m2 = json_deep_copy(man2);
    FUZZ_CHECK(m1 && m2);
    json_object_del(m1, "members"), json_object_del(m2, "members");
    json_object_del(m1, "manifest_sha256"), json_object_del(m2, "manifest_sha256");
    FUZZ_CHECK(json_equal(m1, m2));
    json_decref(m1), json_decref(m2);
    json_decref(man2);
    free(dep2);
    free(buf);
    free(text);
    json_decref(man);
    free(dep);
    return 0;
}
