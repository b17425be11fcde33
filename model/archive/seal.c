/* Keys, signatures and encryption of deposit archives (model/archive/seal.h,
 * docs/archive.md). libsodium only: Ed25519 (crypto_sign), X25519 sealed
 * boxes (crypto_box_seal), XChaCha20-Poly1305-IETF (crypto_aead_xchacha20-
 * poly1305_ietf), SHA-256 for key ids, base64 for key files.
 *
 * Secret bytes are only ever in sodium_malloc'ed buffers (a key's secret
 * halves, a key file being read or written, an archive's symmetric key); they
 * are read-only while a key is held and zeroed by sodium_free. No message
 * built here quotes a byte of a key file.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "seal.h"

_Static_assert(LIRF_SIGN_PUBLIC_BYTES == crypto_sign_PUBLICKEYBYTES, "ed25519 public key size");
_Static_assert(LIRF_SIGN_BYTES == crypto_sign_BYTES, "ed25519 signature size");
_Static_assert(LIRF_BOX_PUBLIC_BYTES == crypto_box_PUBLICKEYBYTES, "x25519 public key size");
_Static_assert(LIRF_SEALED_KEY_BYTES ==
                   crypto_box_SEALBYTES + crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
               "sealed key size");
_Static_assert(LIRF_NONCE_BYTES == crypto_aead_xchacha20poly1305_ietf_NPUBBYTES, "nonce size");
_Static_assert(LIRF_AEAD_TAG_BYTES == crypto_aead_xchacha20poly1305_ietf_ABYTES, "tag size");
_Static_assert(crypto_sign_SEEDBYTES == 32 && crypto_box_SECRETKEYBYTES == 32, "32-byte secrets");

#define B64 sodium_base64_VARIANT_ORIGINAL
#define SECRET_BYTES (crypto_sign_SECRETKEYBYTES + crypto_box_SECRETKEYBYTES)
#define TEXT_CAP 1024 /* a key file as written is about 400 bytes */

struct lirf_key {
    lirf_key_kind kind;
    char id[LIRF_KEY_ID_HEX + 1];
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES];
    unsigned char box_pk[crypto_box_PUBLICKEYBYTES];
    /* secret keys only (sodium_malloc'ed, read-only once filled): libsodium's
     * Ed25519 secret key (64 bytes: seed, then public key), then the X25519
     * secret key (32 bytes). */
    unsigned char *secret;
};
#define SIGN_SK(k) ((k)->secret)
#define BOX_SK(k) ((k)->secret + crypto_sign_SECRETKEYBYTES)

static lirf_status init(void) {
    if (sodium_init() < 0) return LIRF_FAIL(LIRF_E_UNSUPPORTED, "libsodium failed to initialise");
    return LIRF_OK;
}

static lirf_status key_alloc(lirf_key_kind kind, lirf_key **out) {
    lirf_key *k = calloc(1, sizeof *k);
    if (!k) return LIRF_FAIL(LIRF_E_NOMEM, "out of memory for a key");
    k->kind = kind;
    if (kind == LIRF_KEY_SECRET) {
        k->secret = sodium_malloc(SECRET_BYTES);
        if (!k->secret) {
            free(k);
            return LIRF_FAIL(LIRF_E_NOMEM, "cannot allocate secure memory for a secret key");
        }
    }
    *out = k;
    return LIRF_OK;
}

void lirf_key_free(lirf_key *k) {
    if (!k) return;
    if (k->secret) sodium_free(k->secret); /* zeroes it */
    free(k);
}

lirf_key_kind lirf_key_kind_of(const lirf_key *k) { return k ? k->kind : LIRF_KEY_PUBLIC; }
const char *lirf_key_id(const lirf_key *k) { return k ? k->id : ""; }
const unsigned char *lirf_key_sign_public(const lirf_key *k) { return k->sign_pk; }
const unsigned char *lirf_key_box_public(const lirf_key *k) { return k->box_pk; }

void lirf_key_id_of(const unsigned char *sign_pk, const unsigned char *box_pk, char id[17]) {
    crypto_hash_sha256_state s;
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256_init(&s);
    crypto_hash_sha256_update(&s, sign_pk, crypto_sign_PUBLICKEYBYTES);
    crypto_hash_sha256_update(&s, box_pk, crypto_box_PUBLICKEYBYTES);
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(id, LIRF_KEY_ID_HEX + 1, h, LIRF_KEY_ID_HEX / 2);
}

lirf_status lirf_key_generate(lirf_key **out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_generate: out is NULL");
    *out = NULL;
    LIRF_TRY(init());
    lirf_key *k = NULL; /* gcc 12 -O2 -Wmaybe-uninitialized: key_alloc sets it */
    LIRF_TRY(key_alloc(LIRF_KEY_SECRET, &k));
    crypto_sign_keypair(k->sign_pk, SIGN_SK(k));
    crypto_box_keypair(k->box_pk, BOX_SK(k));
    lirf_key_id_of(k->sign_pk, k->box_pk, k->id);
    sodium_mprotect_readonly(k->secret);
    *out = k;
    return LIRF_OK;
}

/* ---- key files: writing ---------------------------------------------------- */

/* Appends "name <base64 of 32 bytes>\n" to t (cap TEXT_CAP, *n used). The
 * value goes straight from the key to the buffer. */
static void put_b64(char *t, size_t *n, const char *name, const unsigned char *bin) {
    *n += (size_t)snprintf(t + *n, TEXT_CAP - *n, "%s ", name);
    sodium_bin2base64(t + *n, TEXT_CAP - *n, bin, 32, B64);
    *n += strlen(t + *n);
    t[(*n)++] = '\n';
    t[*n] = '\0';
}

/* The text of k's key file of kind `kind`, in a sodium_malloc'ed buffer. */
static lirf_status key_text(const lirf_key *k, lirf_key_kind kind, char **out, size_t *len) {
    char *t = sodium_malloc(TEXT_CAP);
    if (!t) return LIRF_FAIL(LIRF_E_NOMEM, "cannot allocate secure memory for a key file");
    size_t n = 0;
    if (kind == LIRF_KEY_SECRET)
        n += (size_t)snprintf(t, TEXT_CAP,
                              "# lirf secret key %s: keep this file private; share only the "
                              ".pub file\nlirf-key-v1 secret\n", k->id);
    else
        n += (size_t)snprintf(t, TEXT_CAP,
                              "# lirf public key %s: for whoever verifies deposits signed by this "
                              "key or encrypts deposits to it\nlirf-key-v1 public\n", k->id);
    n += (size_t)snprintf(t + n, TEXT_CAP - n, "key-id %s\n", k->id);
    put_b64(t, &n, "ed25519-public", k->sign_pk);
    put_b64(t, &n, "x25519-public", k->box_pk);
    if (kind == LIRF_KEY_SECRET) {
        put_b64(t, &n, "ed25519-seed", SIGN_SK(k)); /* the seed: the first 32 bytes */
        put_b64(t, &n, "x25519-secret", BOX_SK(k));
    }
    *out = t;
    *len = n;
    return LIRF_OK;
}

lirf_status lirf_key_save(const lirf_key *k, const char *path, lirf_key_kind kind, int force) {
    if (!k || !path) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_save: key or path is NULL");
    if (!*path) return LIRF_FAIL(LIRF_E_INVALID, "lirf_key_save: empty path");
    if (kind == LIRF_KEY_SECRET && k->kind != LIRF_KEY_SECRET)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: cannot write a secret key file from public key %s",
                         path, k->id);
    if (force && unlink(path) != 0 && errno != ENOENT)
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot remove the old file: %s", path, strerror(errno));
    mode_t mode = kind == LIRF_KEY_SECRET ? 0600 : 0644;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) {
        if (errno == EEXIST)
            return LIRF_FAIL(LIRF_E_INVALID,
                             "%s already exists: a key file is never overwritten (lirf keygen "
                             "--force replaces it)", path);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot create: %s", path, strerror(errno));
    }
    char *t = NULL;
    size_t n = 0;
    lirf_status st = key_text(k, kind, &t, &n);
    /* exactly 0600 for a secret key, whatever the umask */
    if (st == LIRF_OK && kind == LIRF_KEY_SECRET && fchmod(fd, 0600) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot set mode 0600: %s", path, strerror(errno));
    for (size_t off = 0; st == LIRF_OK && off < n;) {
        ssize_t w = write(fd, t + off, n - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0)
            st = LIRF_FAIL(LIRF_E_IO, "%s: write failed: %s", path,
                           w < 0 ? strerror(errno) : "no progress");
        else
            off += (size_t)w;
    }
    if (t) sodium_free(t); /* zeroes the text */
    if (st == LIRF_OK && fsync(fd) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: fsync failed: %s", path, strerror(errno));
    if (close(fd) != 0 && st == LIRF_OK)
        st = LIRF_FAIL(LIRF_E_IO, "%s: close failed: %s", path, strerror(errno));
    if (st != LIRF_OK) {
        unlink(path);
        return st;
    }
    return lirf_fsync_parent(path);
}

lirf_status lirf_keygen(const char *base, int force, lirf_key **out) {
    if (out) *out = NULL;
    if (!base) return LIRF_FAIL(LIRF_E_NULL, "lirf_keygen: base is NULL");
    if (!*base) return LIRF_FAIL(LIRF_E_INVALID, "lirf_keygen: empty name");
    size_t bl = strlen(base);
    char *sec = malloc(bl + 5), *pub = malloc(bl + 5);
    if (!sec || !pub) {
        free(sec), free(pub);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of memory");
    }
    snprintf(sec, bl + 5, "%s.key", base);
    snprintf(pub, bl + 5, "%s.pub", base);
    lirf_status st = LIRF_OK;
    struct stat sb;
    if (!force && lstat(sec, &sb) == 0)
        st = LIRF_FAIL(LIRF_E_INVALID,
                       "%s already exists: refusing to overwrite a key (lirf keygen --force "
                       "replaces it)", sec);
    else if (!force && lstat(pub, &sb) == 0)
        st = LIRF_FAIL(LIRF_E_INVALID,
                       "%s already exists: refusing to overwrite a key (lirf keygen --force "
                       "replaces it)", pub);
    lirf_key *k = NULL;
    if (st == LIRF_OK) st = lirf_key_generate(&k);
    if (st == LIRF_OK) st = lirf_key_save(k, sec, LIRF_KEY_SECRET, force);
    if (st == LIRF_OK) {
        st = lirf_key_save(k, pub, LIRF_KEY_PUBLIC, force);
        if (st != LIRF_OK) unlink(sec); /* no secret key without its public file */
    }
    free(sec), free(pub);
    if (st != LIRF_OK || !out) lirf_key_free(k);
    else *out = k;
    return st;
}

/* ---- key files: reading ---------------------------------------------------- */

enum { F_ID, F_SIGN_PK, F_BOX_PK, F_SEED, F_BOX_SK, F_COUNT };
static const struct {
    const char *name;
    int secret;
} FIELDS[F_COUNT] = {
    [F_ID] = {"key-id", 0},          [F_SIGN_PK] = {"ed25519-public", 0},
    [F_BOX_PK] = {"x25519-public", 0}, [F_SEED] = {"ed25519-seed", 1},
    [F_BOX_SK] = {"x25519-secret", 1},
};

static int line_is(const char *l, size_t n, const char *s) {
    return n == strlen(s) && memcmp(l, s, n) == 0;
}

static int is_lower_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

/* The first line: the file's kind into *kind, refused when it is not the
 * kind wanted. */
static lirf_status key_header(const char *l, size_t ll, const char *what, int line,
                              lirf_key_kind want, int *kind) {
    if (line_is(l, ll, "lirf-key-v1 secret")) *kind = LIRF_KEY_SECRET;
    else if (line_is(l, ll, "lirf-key-v1 public")) *kind = LIRF_KEY_PUBLIC;
    else if (ll >= 10 && memcmp(l, "lirf-key-v", 10) == 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: line %d: an unsupported key file version (this lirf reads "
                         "lirf-key-v1 secret and public key files)", what, line);
    else
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: not a lirf key file (line %d should be \"lirf-key-v1 "
                         "secret\" or \"lirf-key-v1 public\"; lirf keygen makes keys)",
                         what, line);
    if (want == LIRF_KEY_SECRET && *kind == LIRF_KEY_PUBLIC)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s is a public key file: this needs the secret key file "
                         "(NAME.key from lirf keygen)", what);
    if (want == LIRF_KEY_PUBLIC && *kind == LIRF_KEY_SECRET)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s is a secret key file: give the public key file (NAME.pub) "
                         "instead, and never hand out the secret one", what);
    return LIRF_OK;
}

/* One "NAME VALUE" line: key-id into id, the others' 32 bytes into dst[f]. */
static lirf_status key_field(const char *l, size_t ll, const char *what, int line, int kind,
                             int *seen, unsigned char *const *dst, char *id) {
    const char *sp = memchr(l, ' ', ll);
    int f = -1;
    for (int i = 0; sp && i < F_COUNT; i++)
        if (line_is(l, (size_t)(sp - l), FIELDS[i].name)) f = i;
    if (f < 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: line %d is not one of the fields of a key file (key-id, "
                         "ed25519-public, x25519-public%s), each as \"NAME VALUE\"",
                         what, line, kind == LIRF_KEY_SECRET ? ", ed25519-seed, x25519-secret"
                                                             : "");
    if (seen[f])
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: line %d: field %s given twice", what, line,
                         FIELDS[f].name);
    if (FIELDS[f].secret && kind == LIRF_KEY_PUBLIC)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: line %d: a public key file holding a secret field (%s): "
                         "damaged or hand-made", what, line, FIELDS[f].name);
    seen[f] = 1;
    const char *v = sp + 1;
    size_t vl = ll - (size_t)(v - l);
    if (f == F_ID) {
        if (vl != LIRF_KEY_ID_HEX || !is_lower_hex(v, vl))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: line %d: key-id is not %d lowercase hex digits",
                             what, line, LIRF_KEY_ID_HEX);
        memcpy(id, v, LIRF_KEY_ID_HEX);
        id[LIRF_KEY_ID_HEX] = '\0';
        return LIRF_OK;
    }
    size_t got = 0;
    const char *b64_end = NULL;
    if (sodium_base642bin(dst[f], 32, v, vl, NULL, &got, &b64_end, B64) != 0 || got != 32 ||
        b64_end != v + vl)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: line %d: %s is not the base64 of 32 bytes (a truncated or "
                         "damaged key file?)", what, line, FIELDS[f].name);
    return LIRF_OK;
}

/* The key of the parsed fields; a secret key's halves must give its public
 * keys, and the id must be theirs. */
static lirf_status key_make(int kind, const unsigned char *sign_pk, const unsigned char *box_pk,
                            const char *id, const unsigned char *tmp, const char *what,
                            lirf_key **out) {
    lirf_key *k = NULL; /* gcc 12 -O2 -Wmaybe-uninitialized: key_alloc sets it */
    LIRF_TRY(key_alloc((lirf_key_kind)kind, &k));
    memcpy(k->sign_pk, sign_pk, crypto_sign_PUBLICKEYBYTES);
    memcpy(k->box_pk, box_pk, crypto_box_PUBLICKEYBYTES);
    lirf_key_id_of(k->sign_pk, k->box_pk, k->id);
    lirf_status st = LIRF_OK;
    if (kind == LIRF_KEY_SECRET) {
        unsigned char pk[crypto_sign_PUBLICKEYBYTES];
        crypto_sign_seed_keypair(pk, SIGN_SK(k), tmp);
        if (sodium_memcmp(pk, sign_pk, sizeof pk) != 0)
            st = LIRF_FAIL(LIRF_E_FORMAT,
                           "%s: the ed25519 seed does not give the ed25519 public key beside it: "
                           "a damaged key file", what);
        memcpy(BOX_SK(k), tmp + 32, crypto_box_SECRETKEYBYTES);
        if (st == LIRF_OK && (crypto_scalarmult_base(pk, BOX_SK(k)) != 0 ||
                              sodium_memcmp(pk, box_pk, sizeof pk) != 0))
            st = LIRF_FAIL(LIRF_E_FORMAT,
                           "%s: the x25519 secret does not give the x25519 public key beside it: "
                           "a damaged key file", what);
        sodium_mprotect_readonly(k->secret);
    }
    if (st == LIRF_OK && strcmp(id, k->id) != 0)
        st = LIRF_FAIL(LIRF_E_FORMAT,
                       "%s: key-id %s does not match the keys in the file (their id is %s): a "
                       "damaged or edited key file", what, id, k->id);
    if (st != LIRF_OK) {
        lirf_key_free(k);
        return st;
    }
    *out = k;
    return LIRF_OK;
}

/* The parse proper; tmp (sodium memory, 64 bytes) receives the seed and the
 * X25519 secret. Messages quote nothing from the text: a line number and one
 * of our field names at most. */
static lirf_status parse_key(const char *p, size_t len, const char *what, lirf_key_kind want,
                             unsigned char *tmp, lirf_key **out) {
    const char *end = p + len;
    int kind = -1, line = 0, seen[F_COUNT] = {0};
    unsigned char sign_pk[crypto_sign_PUBLICKEYBYTES], box_pk[crypto_box_PUBLICKEYBYTES];
    char id[LIRF_KEY_ID_HEX + 1] = "";
    unsigned char *dst[F_COUNT] = {NULL, sign_pk, box_pk, tmp, tmp + 32};
    while (p < end) {
        line++;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *l = p;
        size_t ll = (size_t)((nl ? nl : end) - p);
        p = nl ? nl + 1 : end;
        if (ll && l[ll - 1] == '\r') ll--;
        if (ll == 0 || l[0] == '#') continue;
        if (memchr(l, '\0', ll))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: line %d holds a NUL byte: not a lirf key file",
                             what, line);
        if (kind < 0) LIRF_TRY(key_header(l, ll, what, line, want, &kind));
        else LIRF_TRY(key_field(l, ll, what, line, kind, seen, dst, id));
    }
    if (kind < 0)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: empty: not a lirf key file", what);
    for (int i = 0; i < F_COUNT; i++)
        if (!seen[i] && (kind == LIRF_KEY_SECRET || !FIELDS[i].secret))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: field %s is missing (a truncated key file?)",
                             what, FIELDS[i].name);
    return key_make(kind, sign_pk, box_pk, id, tmp, what, out);
}

lirf_status lirf_key_parse(const void *text, size_t len, const char *what, lirf_key_kind want,
                           lirf_key **out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_parse: out is NULL");
    *out = NULL;
    if (!text && len > 0) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_parse: text is NULL");
    if (!what) what = "key (memory)";
    if (len > LIRF_KEY_FILE_MAX)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: %zu bytes, larger than any lirf key file (%d bytes at most)", what,
                         len, LIRF_KEY_FILE_MAX);
    LIRF_TRY(init());
    unsigned char *tmp = sodium_malloc(64);
    if (!tmp) return LIRF_FAIL(LIRF_E_NOMEM, "cannot allocate secure memory for a key");
    lirf_status st = parse_key(text ? text : "", len, what, want, tmp, out);
    sodium_free(tmp);
    return st;
}

lirf_status lirf_key_load(const char *path, lirf_key_kind want, lirf_key **out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_load: out is NULL");
    *out = NULL;
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "lirf_key_load: path is NULL");
    LIRF_TRY(init());
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no such key file", path);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        lirf_status st = LIRF_FAIL(LIRF_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return LIRF_FAIL(LIRF_E_IO, "%s: %s", path,
                         S_ISDIR(sb.st_mode) ? "is a folder, not a key file"
                                             : "not a regular file, not a key file");
    }
    /* Read into secure memory: it may be a secret key file. */
    unsigned char *buf = sodium_malloc(LIRF_KEY_FILE_MAX + 1);
    if (!buf) {
        close(fd);
        return LIRF_FAIL(LIRF_E_NOMEM, "cannot allocate secure memory for a key file");
    }
    size_t n = 0;
    lirf_status st = LIRF_OK;
    while (n < LIRF_KEY_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + n, LIRF_KEY_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = LIRF_FAIL(LIRF_E_IO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    close(fd);
    if (st == LIRF_OK && n > LIRF_KEY_FILE_MAX)
        st = LIRF_FAIL(LIRF_E_FORMAT, "%s: larger than any lirf key file (%d bytes at most)", path,
                       LIRF_KEY_FILE_MAX);
    if (st == LIRF_OK) st = lirf_key_parse(buf, n, path, want, out);
    sodium_free(buf);
    if (st == LIRF_OK && (*out)->kind == LIRF_KEY_SECRET && (sb.st_mode & 077))
        lirf_log(LIRF_LOG_WARN,
                 "warning: secret key file %s can be read by others (mode %03o): chmod 600 %s",
                 path, (unsigned)(sb.st_mode & 0777), path);
    return st;
}

/* ---- signatures and encryption -------------------------------------------- */

lirf_status lirf_seal_sign(const lirf_key *k, const void *msg, size_t len,
                           unsigned char sig[LIRF_SIGN_BYTES]) {
    if (!k || !sig || (!msg && len > 0))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_seal_sign: NULL argument");
    if (k->kind != LIRF_KEY_SECRET)
        return LIRF_FAIL(LIRF_E_INVALID, "signing needs a secret key; key %s is public", k->id);
    LIRF_TRY(init());
    crypto_sign_detached(sig, NULL, msg ? msg : (const void *)"", len, SIGN_SK(k));
    return LIRF_OK;
}

int lirf_seal_verify(const unsigned char *sign_pk, const void *msg, size_t len,
                     const unsigned char *sig) {
    if (!sign_pk || !sig || (!msg && len > 0) || sodium_init() < 0) return 0;
    return crypto_sign_verify_detached(sig, msg ? msg : (const void *)"", len, sign_pk) == 0;
}

lirf_status lirf_seal_encrypt(const lirf_key *to, const void *pt, size_t len, const void *ad,
                              size_t ad_len, unsigned char **ct, size_t *ct_len,
                              unsigned char sealed[LIRF_SEALED_KEY_BYTES],
                              unsigned char nonce[LIRF_NONCE_BYTES]) {
    if (!to || !ct || !ct_len || !sealed || !nonce || (!pt && len > 0) || (!ad && ad_len > 0))
        return LIRF_FAIL(LIRF_E_NULL, "lirf_seal_encrypt: NULL argument");
    *ct = NULL;
    *ct_len = 0;
    LIRF_TRY(init());
    if (len > crypto_aead_xchacha20poly1305_ietf_MESSAGEBYTES_MAX ||
        len > SIZE_MAX - LIRF_AEAD_TAG_BYTES)
        return LIRF_FAIL(LIRF_E_INVALID, "cannot encrypt %zu bytes in one message", len);
    unsigned char *key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    unsigned char *c = malloc(len + LIRF_AEAD_TAG_BYTES);
    if (!key || !c) {
        if (key) sodium_free(key);
        free(c);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of memory encrypting %zu bytes", len);
    }
    crypto_aead_xchacha20poly1305_ietf_keygen(key);
    randombytes_buf(nonce, LIRF_NONCE_BYTES);
    unsigned long long clen = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(c, &clen, pt ? pt : (const void *)"", len, ad,
                                               ad_len, NULL, nonce, key);
    int sealed_ok = crypto_box_seal(sealed, key, crypto_aead_xchacha20poly1305_ietf_KEYBYTES,
                                    to->box_pk) == 0;
    sodium_free(key);
    if (!sealed_ok) {
        free(c);
        return LIRF_FAIL(LIRF_E_INVALID,
                         "cannot encrypt to key %s: its x25519 public key is not usable", to->id);
    }
    *ct = c;
    *ct_len = (size_t)clen;
    return LIRF_OK;
}

int lirf_seal_decrypt(const lirf_key *k, const unsigned char *sealed, const unsigned char *nonce,
                      const void *ad, size_t ad_len, unsigned char *buf, size_t len,
                      size_t *pt_len) {
    if (!k || k->kind != LIRF_KEY_SECRET || !sealed || !nonce || !buf || !pt_len ||
        (!ad && ad_len > 0) || sodium_init() < 0)
        return -1;
    if (len < LIRF_AEAD_TAG_BYTES) return 3;
    unsigned char *key = sodium_malloc(crypto_aead_xchacha20poly1305_ietf_KEYBYTES);
    if (!key) return -1;
    int r = 0;
    if (crypto_box_seal_open(key, sealed, LIRF_SEALED_KEY_BYTES, k->box_pk, BOX_SK(k)) != 0)
        r = 1;
    else if (crypto_aead_xchacha20poly1305_ietf_decrypt_detached(
                 buf, NULL, buf, len - LIRF_AEAD_TAG_BYTES, buf + len - LIRF_AEAD_TAG_BYTES, ad,
                 ad_len, nonce, key) != 0)
        r = 2;
    sodium_free(key);
    if (r == 0) *pt_len = len - LIRF_AEAD_TAG_BYTES;
    return r;
}
