/* libFuzzer target: key files (lirf_key_parse, which lirf_key_load calls on a
 * file's bytes): the "lirf-key-v1 secret|public" line, comments, blank lines
 * and CRLF, the NAME VALUE fields, key-id's hex, the base64 of each half, the
 * seed -> public key and X25519 secret -> public checks, the key id check.
 *
 * The input is parsed as a secret key file and as a public one. Oracle:
 * - an accepted key is of the kind asked for; no text is both (the kind line
 *   decides);
 * - its id is 16 lowercase hex digits, the key id of its two public halves;
 * - an accepted secret key works: it signs a message that verifies under its
 *   Ed25519 public half, and decrypts what is encrypted to it (its X25519
 *   halves match);
 * - the public view of an accepted secret key file (the same text with the
 *   kind line made "lirf-key-v1 public" and the two secret fields dropped)
 *   parses as a public key with the same public halves and id;
 * - no error message holds the value of a secret field (a run of 20 or more
 *   base64 characters of ed25519-seed or x25519-secret).
 * Every key is freed with lirf_key_free (LeakSanitizer checks).
 */
#include <sodium.h>
#include <string.h>

#include "fuzz.h"
#include "seal.h"

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    FUZZ_CHECK(sodium_init() >= 0);
    return 0;
}

static int line_starts(const uint8_t *l, size_t n, const char *s) {
    size_t k = strlen(s);
    return n >= k && memcmp(l, s, k) == 0;
}

static int is_b64(uint8_t c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '+' || c == '/' || c == '=';
}

static int contains(const char *hay, const uint8_t *needle, size_t n) {
    size_t h = strlen(hay);
    for (size_t i = 0; i + n <= h; i++)
        if (memcmp(hay + i, needle, n) == 0) return 1;
    return 0;
}

/* Calls f(line, length, ctx) for each line as the parser sees it: split at
 * '\n', one trailing '\r' removed. */
typedef void (*line_fn)(const uint8_t *l, size_t n, int last, void *ctx);
static void each_line(const uint8_t *p, size_t size, line_fn f, void *ctx) {
    const uint8_t *end = p + size;
    while (p < end) {
        const uint8_t *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = (size_t)((nl ? nl : end) - p);
        size_t m = n && p[n - 1] == '\r' ? n - 1 : n;
        f(p, m, nl == NULL, ctx);
        p = nl ? nl + 1 : end;
    }
}

static void check_line_secret(const uint8_t *l, size_t n, int last, void *ctx) {
    (void)last;
    const char *msg = ctx;
    size_t skip = line_starts(l, n, "ed25519-seed ")    ? strlen("ed25519-seed ")
                  : line_starts(l, n, "x25519-secret ") ? strlen("x25519-secret ")
                                                         : 0;
    if (!skip) return;
    for (size_t i = skip; i < n;) {
        size_t j = i;
        while (j < n && is_b64(l[j])) j++;
        if (j - i >= 20) FUZZ_CHECK(!contains(msg, l + i, j - i));
        i = j + 1;
    }
}

/* No message may quote a secret field's value. */
static void check_message(const uint8_t *data, size_t size) {
    const char *msg = lirf_error_message();
    if (msg) each_line(data, size, check_line_secret, (void *)msg);
}

typedef struct {
    char *out;
    size_t n;
    int seen_kind;
} view;

/* The public view: the first line that is neither blank nor a comment (the
 * kind line) becomes "lirf-key-v1 public"; ed25519-seed and x25519-secret
 * lines go; the rest is kept as it was (with '\n' line ends). */
static void view_line(const uint8_t *l, size_t n, int last, void *ctx) {
    view *v = ctx;
    (void)last;
    if (n && l[0] != '#' && !v->seen_kind) {
        v->seen_kind = 1;
        static const char pub[] = "lirf-key-v1 public";
        memcpy(v->out + v->n, pub, sizeof pub - 1);
        v->n += sizeof pub - 1;
    } else if (n && l[0] != '#' &&
               (line_starts(l, n, "ed25519-seed ") || line_starts(l, n, "x25519-secret "))) {
        return;
    } else {
        memcpy(v->out + v->n, l, n);
        v->n += n;
    }
    v->out[v->n++] = '\n';
}

static int valid_id(const char *id) {
    for (int i = 0; i < LIRF_KEY_ID_HEX; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return id[LIRF_KEY_ID_HEX] == '\0';
}

static void check_key(const lirf_key *k, lirf_key_kind want) {
    FUZZ_CHECK(k != NULL && lirf_key_kind_of(k) == want);
    const char *id = lirf_key_id(k);
    FUZZ_CHECK(valid_id(id));
    char again[LIRF_KEY_ID_HEX + 1];
    lirf_key_id_of(lirf_key_sign_public(k), lirf_key_box_public(k), again);
    FUZZ_CHECK(strcmp(again, id) == 0);
}

/* An accepted secret key signs and decrypts under its own public halves. */
static void check_secret_works(const lirf_key *k) {
    static const char msg[] = "lirf fuzz: a message to sign";
    unsigned char sig[LIRF_SIGN_BYTES];
    FUZZ_CHECK(lirf_seal_sign(k, msg, sizeof msg, sig) == LIRF_OK);
    FUZZ_CHECK(lirf_seal_verify(lirf_key_sign_public(k), msg, sizeof msg, sig) == 1);
    unsigned char *ct;
    size_t ct_len, pt_len;
    unsigned char sealed[LIRF_SEALED_KEY_BYTES], nonce[LIRF_NONCE_BYTES];
    FUZZ_CHECK(lirf_seal_encrypt(k, msg, sizeof msg, "ad", 2, &ct, &ct_len, sealed, nonce) ==
               LIRF_OK);
    FUZZ_CHECK(lirf_seal_decrypt(k, sealed, nonce, "ad", 2, ct, ct_len, &pt_len) == 0);
    FUZZ_CHECK(pt_len == sizeof msg && memcmp(ct, msg, sizeof msg) == 0);
    free(ct);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lirf_key *sec = NULL, *pub = NULL;
    lirf_status ss = lirf_key_parse(data, size, "keyfile", LIRF_KEY_SECRET, &sec);
    check_message(data, size);
    lirf_status ps = lirf_key_parse(data, size, "keyfile", LIRF_KEY_PUBLIC, &pub);
    check_message(data, size);
    FUZZ_CHECK((ss == LIRF_OK) == (sec != NULL) && (ps == LIRF_OK) == (pub != NULL));
    FUZZ_CHECK(!(sec && pub));
    fuzz_accepted = sec || pub;
    if (pub) check_key(pub, LIRF_KEY_PUBLIC);
    if (sec) {
        check_key(sec, LIRF_KEY_SECRET);
        check_secret_works(sec);
        view v = {malloc(size + 32), 0, 0};
        FUZZ_CHECK(v.out != NULL);
        each_line(data, size, view_line, &v);
        lirf_key *pv = NULL;
        FUZZ_CHECK(lirf_key_parse(v.out, v.n, "public view", LIRF_KEY_PUBLIC, &pv) == LIRF_OK);
        check_key(pv, LIRF_KEY_PUBLIC);
        FUZZ_CHECK(strcmp(lirf_key_id(pv), lirf_key_id(sec)) == 0);
        FUZZ_CHECK(memcmp(lirf_key_sign_public(pv), lirf_key_sign_public(sec),
                          LIRF_SIGN_PUBLIC_BYTES) == 0);
        FUZZ_CHECK(memcmp(lirf_key_box_public(pv), lirf_key_box_public(sec),
                          LIRF_BOX_PUBLIC_BYTES) == 0);
        lirf_key_free(pv);
        free(v.out);
    }
    lirf_key_free(sec);
    lirf_key_free(pub);
    return 0;
}
