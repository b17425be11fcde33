/* Signed and encrypted deposit archives (model/archive/seal.c, model/archive/archive.c,
 * docs/archive.md): key files (lirf keygen: modes, no overwrite, round trip,
 * every truncation and byte flip of a key file refused), sign + verify,
 * encrypt + decrypt, both, in every compression; refusals: a flipped byte at
 * every position of manifest.json, manifest.sig and the deposit, a member
 * swapped in from another signed archive, a stripped or misplaced signature,
 * a signature by another key (also one claiming the right key id), the wrong
 * verify or decrypt key, a missing signature where one is required, an
 * encrypted archive read without its key; no secret in any error message;
 * and lirf keygen / lirf withdraw end to end through the lirf binary. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lirf.h"
#include "lirf_archive.h"
#include "seal.h"
#include "util.h"

/* ---- files ------------------------------------------------------------------ */

static char g_dir[256];

static const char *tmpdir(void) {
    if (!g_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/lirf_seal_XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    return g_dir;
}

static const char *tpath(const char *name) {
    static char paths[8][512];
    static int k;
    char *p = paths[k++ % 8];
    snprintf(p, 512, "%s/%s", tmpdir(), name);
    return p;
}

static void rm_dir(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[768];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                unlink(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: %s", path, strerror(errno));
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)n + 1);
    ck_assert_ptr_nonnull(b);
    ck_assert_uint_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return b;
}

static void spit(const char *path, const void *b, size_t len) {
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(b, 1, len, f), len);
    fclose(f);
}

static unsigned char *rand_bytes(size_t n, uint64_t seed) {
    unsigned char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    trng r = {seed};
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)trng_u64(&r);
    return b;
}

/* ---- keys ------------------------------------------------------------------- */

enum { ALICE, BOB, EVE, NKEYS };
static const char *KEY_NAMES[NKEYS] = {"alice", "bob", "eve"};
static lirf_key *g_sec[NKEYS], *g_pub[NKEYS];
/* Every secret value written to a key file by this test, as base64 and as
 * hex: no message may contain any of them. */
static char g_secrets[64][80];
static int g_nsecrets;

static void remember_secrets(const char *key_path) {
    size_t len;
    char *t = (char *)slurp(key_path, &len);
    const char *names[2] = {"ed25519-seed ", "x25519-secret "};
    for (int i = 0; i < 2; i++) {
        char *p = strstr(t, names[i]);
        ck_assert_ptr_nonnull(p);
        p += strlen(names[i]);
        char *nl = strchr(p, '\n');
        ck_assert_ptr_nonnull(nl);
        ck_assert_int_lt(g_nsecrets + 2, 64);
        snprintf(g_secrets[g_nsecrets++], 80, "%.*s", (int)(nl - p), p);
        unsigned char bin[32];
        size_t got;
        ck_assert_int_eq(sodium_base642bin(bin, 32, p, (size_t)(nl - p), NULL, &got, NULL,
                                           sodium_base64_VARIANT_ORIGINAL), 0);
        ck_assert_uint_eq(got, 32);
        sodium_bin2hex(g_secrets[g_nsecrets++], 80, bin, 32);
    }
    free(t);
}

/* No secret (nor its first 12 characters) appears in s. */
static void no_secret(const char *s, const char *where) {
    for (int i = 0; i < g_nsecrets; i++) {
        char head[13]; /* every secret is 44 (base64) or 64 (hex) characters */
        memcpy(head, g_secrets[i], 12);
        head[12] = 0;
        ck_assert_msg(strstr(s, head) == NULL, "%s: a secret key appears in: %s", where, s);
    }
}

static void keys(void) {
    if (g_sec[0]) return;
    for (int i = 0; i < NKEYS; i++) {
        char base[512];
        snprintf(base, sizeof base, "%s", tpath(KEY_NAMES[i]));
        lirf_key *k;
        ck_assert_msg(lirf_keygen(base, 0, &k) == LIRF_OK, "%s", lirf_error_message());
        char p[520];
        snprintf(p, sizeof p, "%s.key", base);
        remember_secrets(p);
        ck_assert_msg(lirf_key_load(p, LIRF_KEY_SECRET, &g_sec[i]) == LIRF_OK, "%s",
                      lirf_error_message());
        snprintf(p, sizeof p, "%s.pub", base);
        ck_assert_msg(lirf_key_load(p, LIRF_KEY_PUBLIC, &g_pub[i]) == LIRF_OK, "%s",
                      lirf_error_message());
        ck_assert_str_eq(lirf_key_id(g_sec[i]), lirf_key_id(k));
        ck_assert_str_eq(lirf_key_id(g_pub[i]), lirf_key_id(k));
        lirf_key_free(k);
    }
}

/* ---- archives --------------------------------------------------------------- */

static const char *MANIFEST = "{\"architecture\": \"resnet18\", \"note\": \"seal test\"}";

static unsigned char *make(const lirf_key *sign, const lirf_key *to, const void *dep, size_t n,
                           lirf_archive_compression comp, size_t *len) {
    lirf_archive_seal seal = {sign, to};
    void *b;
    lirf_status st = lirf_archive_write_sealed_mem(MANIFEST, dep, n, comp, &seal, &b, len);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    return b;
}

/* Reads b with the keys; on success checks the deposit is dep. */
static lirf_status rd(const void *b, size_t len, const lirf_key *verify, const lirf_key *decrypt,
                      const void *dep, size_t n, lirf_archive_info *info) {
    lirf_archive_unseal k = {verify, decrypt};
    json_t *m = (json_t *)(uintptr_t)1;
    void *d = (void *)(uintptr_t)1;
    size_t dl = 77;
    lirf_clear_error();
    lirf_status st = lirf_archive_read_sealed_mem(b, len, "sealed.lirf", &k, &m, &d, &dl, info);
    if (st == LIRF_OK) {
        ck_assert_msg(dl == n && (n == 0 || memcmp(d, dep, n) == 0), "wrong deposit read back");
        ck_assert_str_eq(json_string_value(json_object_get(m, "note")), "seal test");
        json_decref(m);
        free(d);
    } else {
        ck_assert_ptr_null(m);
        ck_assert_ptr_null(d);
        ck_assert_uint_eq(dl, 0);
    }
    return st;
}

/* Reading must be refused with LIRF_E_FORMAT, a message holding each word,
 * and no secret. */
static void refused(const void *b, size_t len, const lirf_key *verify, const lirf_key *decrypt,
                    const char *w1, const char *w2, const char *where) {
    lirf_status st = rd(b, len, verify, decrypt, NULL, 0, NULL);
    const char *msg = lirf_error_message();
    ck_assert_msg(st == LIRF_E_FORMAT, "%s: expected LIRF_E_FORMAT, got %s (%s)", where,
                  lirf_status_name(st), msg);
    ck_assert_msg(strstr(msg, "sealed.lirf"), "%s: message does not name the archive: %s", where,
                  msg);
    ck_assert_msg(!w1 || strstr(msg, w1), "%s: message lacks '%s': %s", where, w1, msg);
    ck_assert_msg(!w2 || strstr(msg, w2), "%s: message lacks '%s': %s", where, w2, msg);
    no_secret(msg, where);
}

/* Tar members, to take archives apart and put them together again. */
typedef struct {
    char name[64];
    unsigned char *data;
    size_t len;
} tmem;

static int untar(const void *buf, size_t len, tmem *ms, int max) {
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    archive_read_support_filter_all(a);
    ck_assert_int_eq(archive_read_open_memory(a, buf, len), ARCHIVE_OK);
    int n = 0;
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        ck_assert_int_lt(n, max);
        snprintf(ms[n].name, sizeof ms[n].name, "%s", archive_entry_pathname(e));
        ms[n].len = (size_t)archive_entry_size(e);
        ms[n].data = malloc(ms[n].len + 1);
        ck_assert_int_eq(archive_read_data(a, ms[n].data, ms[n].len), (la_ssize_t)ms[n].len);
        ms[n].data[ms[n].len] = 0; /* a string, for the text members */
        n++;
    }
    archive_read_free(a);
    return n;
}

static void free_members(tmem *ms, int n) {
    for (int i = 0; i < n; i++) free(ms[i].data);
}

typedef struct {
    unsigned char *p;
    size_t len, cap;
} tbuffer;

static la_ssize_t tbuf_write(struct archive *a, void *client, const void *buf, size_t n) {
    (void)a;
    tbuffer *b = client;
    while (b->len + n > b->cap) {
        b->cap = b->cap ? 2 * b->cap : 65536;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, buf, n);
    b->len += n;
    return (la_ssize_t)n;
}

/* A plain pax tar of members ms[order[0]], ms[order[1]], ... (order NULL:
 * all n in order). */
static unsigned char *retar(const tmem *ms, int n, const int *order, size_t *len) {
    struct archive *a = archive_write_new();
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(archive_write_add_filter_none(a), ARCHIVE_OK);
    tbuffer b = {NULL, 0, 0};
    ck_assert_int_eq(archive_write_open2(a, &b, NULL, tbuf_write, NULL, NULL), ARCHIVE_OK);
    for (int i = 0; i < n; i++) {
        const tmem *m = &ms[order ? order[i] : i];
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, m->name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)m->len);
        ck_assert_int_eq(archive_write_header(a, e), ARCHIVE_OK);
        archive_entry_free(e);
        if (m->len) ck_assert_int_eq(archive_write_data(a, m->data, m->len), (la_ssize_t)m->len);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *len = b.len;
    return b.p;
}

static json_t *manifest_of(const tmem *m) {
    json_error_t err;
    json_t *j = json_loadb((const char *)m->data, m->len, 0, &err);
    ck_assert_msg(j != NULL, "manifest: %s", err.text);
    return j;
}

/* ---- key files -------------------------------------------------------------- */

START_TEST(keygen_round_trip) {
    keys();
    const char *base = tpath("carol");
    lirf_key *k;
    ck_assert_int_eq(lirf_keygen(base, 0, &k), LIRF_OK);
    char sec[600], pub[600];
    snprintf(sec, sizeof sec, "%s.key", base);
    snprintf(pub, sizeof pub, "%s.pub", base);
    remember_secrets(sec);
    struct stat sb;
    ck_assert_int_eq(stat(sec, &sb), 0);
    ck_assert_msg((sb.st_mode & 0777) == 0600, "secret key mode %03o", sb.st_mode & 0777);
    ck_assert_int_eq(stat(pub, &sb), 0);
    ck_assert((sb.st_mode & 0400) && !(sb.st_mode & 0022));
    /* the public file holds no secret, the secret file names its kind */
    size_t pl, sl;
    char *pt = (char *)slurp(pub, &pl), *stx = (char *)slurp(sec, &sl);
    ck_assert_ptr_nonnull(strstr(pt, "lirf-key-v1 public\n"));
    ck_assert_ptr_nonnull(strstr(stx, "lirf-key-v1 secret\n"));
    ck_assert_ptr_null(strstr(pt, "seed"));
    ck_assert_ptr_null(strstr(pt, "secret "));
    no_secret(pt, "the public key file");
    ck_assert_ptr_nonnull(strstr(pt, lirf_key_id(k)));
    /* both load back, each only as its kind */
    lirf_key *s2, *p2;
    ck_assert_int_eq(lirf_key_load(sec, LIRF_KEY_SECRET, &s2), LIRF_OK);
    ck_assert_int_eq(lirf_key_load(pub, LIRF_KEY_PUBLIC, &p2), LIRF_OK);
    ck_assert_str_eq(lirf_key_id(s2), lirf_key_id(k));
    ck_assert_str_eq(lirf_key_id(p2), lirf_key_id(k));
    ck_assert_int_eq(lirf_key_kind_of(s2), LIRF_KEY_SECRET);
    ck_assert_int_eq(lirf_key_kind_of(p2), LIRF_KEY_PUBLIC);
    ck_assert(!memcmp(lirf_key_sign_public(s2), lirf_key_sign_public(k), 32));
    ck_assert(!memcmp(lirf_key_box_public(p2), lirf_key_box_public(k), 32));
    lirf_key *x;
    ck_assert_int_eq(lirf_key_load(sec, LIRF_KEY_PUBLIC, &x), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "is a secret key file"));
    ck_assert_ptr_null(x);
    ck_assert_int_eq(lirf_key_load(pub, LIRF_KEY_SECRET, &x), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "is a public key file"));
    /* what the reloaded secret key signs, the original public key verifies */
    unsigned char sig[LIRF_SIGN_BYTES];
    ck_assert_int_eq(lirf_seal_sign(s2, "abc", 3, sig), LIRF_OK);
    ck_assert(lirf_seal_verify(lirf_key_sign_public(p2), "abc", 3, sig));
    ck_assert(!lirf_seal_verify(lirf_key_sign_public(p2), "abd", 3, sig));
    ck_assert_int_eq(lirf_seal_sign(p2, "abc", 3, sig), LIRF_E_INVALID);
    /* never overwritten without force; with force a new key */
    ck_assert_int_eq(lirf_keygen(base, 0, NULL), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "already exists"));
    size_t sl2;
    char *again = (char *)slurp(sec, &sl2);
    ck_assert(sl2 == sl && !memcmp(again, stx, sl));
    free(again);
    ck_assert_int_eq(lirf_key_save(k, sec, LIRF_KEY_SECRET, 0), LIRF_E_INVALID);
    ck_assert_int_eq(lirf_key_save(p2, tpath("x.key"), LIRF_KEY_SECRET, 0), LIRF_E_INVALID);
    lirf_key *k2;
    ck_assert_int_eq(lirf_keygen(base, 1, &k2), LIRF_OK);
    remember_secrets(sec);
    ck_assert_str_ne(lirf_key_id(k2), lirf_key_id(k));
    ck_assert_int_eq(stat(sec, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    /* a .pub in the way: nothing written */
    const char *base2 = tpath("dave");
    char pub2[600], sec2[600];
    snprintf(pub2, sizeof pub2, "%s.pub", base2);
    snprintf(sec2, sizeof sec2, "%s.key", base2);
    spit(pub2, "x", 1);
    ck_assert_int_eq(lirf_keygen(base2, 0, NULL), LIRF_E_INVALID);
    ck_assert_int_ne(access(sec2, F_OK), 0);
    /* files that are not key files */
    ck_assert_int_eq(lirf_key_load(tpath("nothing.pub"), LIRF_KEY_PUBLIC, &x), LIRF_E_NOT_FOUND);
    ck_assert_int_eq(lirf_key_load(tmpdir(), LIRF_KEY_PUBLIC, &x), LIRF_E_IO);
    ck_assert_int_eq(lirf_key_load(pub2, LIRF_KEY_PUBLIC, &x), LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "not a lirf key file"));
    char *big = malloc(LIRF_KEY_FILE_MAX + 10);
    memcpy(big, pt, pl);
    memset(big + pl, '#', LIRF_KEY_FILE_MAX + 10 - pl);
    spit(tpath("big.pub"), big, LIRF_KEY_FILE_MAX + 10);
    ck_assert_int_eq(lirf_key_load(tpath("big.pub"), LIRF_KEY_PUBLIC, &x), LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "larger"));
    free(big);
    free(pt), free(stx);
    lirf_key_free(k), lirf_key_free(k2), lirf_key_free(s2), lirf_key_free(p2);
}
END_TEST

/* Every truncation of a key file short of its last newline is refused, with
 * LIRF_E_FORMAT and no secret in the message; the whole file and the file
 * without its final newline read. */
START_TEST(key_file_truncations) {
    keys();
    for (int kind = 0; kind < 2; kind++) {
        char p[600];
        snprintf(p, sizeof p, "%s.%s", tpath("alice"), kind ? "key" : "pub");
        size_t len;
        unsigned char *t = slurp(p, &len);
        lirf_key_kind want = kind ? LIRF_KEY_SECRET : LIRF_KEY_PUBLIC;
        for (size_t l = 0; l + 1 < len; l++) {
            lirf_key *k = (lirf_key *)(uintptr_t)1;
            lirf_clear_error();
            lirf_status st = lirf_key_parse(t, l, "cut.key", want, &k);
            ck_assert_msg(st == LIRF_E_FORMAT, "cut at %zu of %zu: %s (%s)", l, len,
                          lirf_status_name(st), lirf_error_message());
            ck_assert_ptr_null(k);
            ck_assert_ptr_nonnull(strstr(lirf_error_message(), "cut.key"));
            no_secret(lirf_error_message(), "truncated key file");
        }
        for (size_t l = len - 1; l <= len; l++) {
            lirf_key *k;
            ck_assert_msg(lirf_key_parse(t, l, "whole", want, &k) == LIRF_OK, "%s",
                          lirf_error_message());
            ck_assert_str_eq(lirf_key_id(k), lirf_key_id(g_pub[ALICE]));
            lirf_key_free(k);
        }
        free(t);
    }
}
END_TEST

/* A flipped bit anywhere in a key file outside its comment line is refused
 * or gives the same key: X25519 ignores 5 bits of its secret (clamping), so a
 * flip there is the same key, which must still decrypt. Two halves that do
 * not belong together are refused; no message shows a secret. */
START_TEST(key_file_damage) {
    keys();
    char p[600];
    snprintf(p, sizeof p, "%s.key", tpath("alice"));
    size_t len;
    unsigned char *t = slurp(p, &len);
    const unsigned char *body = (unsigned char *)strchr((char *)t, '\n') + 1;
    size_t start = (size_t)(body - t);
    unsigned char *c = malloc(len);
    size_t alen;
    unsigned char *enc = make(NULL, g_pub[ALICE], "x", 1, LIRF_ARCHIVE_PLAIN, &alen);
    int same = 0;
    for (size_t at = 0; at < len; at++)
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(c, t, len);
            c[at] ^= (unsigned char)(1 << bit);
            lirf_key *k = NULL;
            lirf_clear_error();
            lirf_status st = lirf_key_parse(c, len, "flipped.key", LIRF_KEY_SECRET, &k);
            no_secret(lirf_error_message(), "flipped key file");
            if (st == LIRF_OK) { /* the comment line, or an ignored bit of the X25519 secret */
                ck_assert_str_eq(lirf_key_id(k), lirf_key_id(g_sec[ALICE]));
                ck_assert_int_eq(rd(enc, alen, NULL, k, "x", 1, NULL), LIRF_OK);
                lirf_key_free(k);
                same += at >= start;
                continue;
            }
            ck_assert_msg(st == LIRF_E_FORMAT, "flip at %zu bit %d: %s (%s)", at, bit,
                          lirf_status_name(st), lirf_error_message());
        }
    /* alice's file with bob's x25519 secret */
    char q[600];
    snprintf(q, sizeof q, "%s.key", tpath("bob"));
    size_t blen;
    char *b = (char *)slurp(q, &blen);
    char *mix = malloc(len + blen);
    char *cut = strstr((char *)t, "x25519-secret ");
    size_t head = (size_t)(cut - (char *)t);
    memcpy(mix, t, head);
    char *bs = strstr(b, "x25519-secret ");
    strcpy(mix + head, bs);
    lirf_key *k;
    ck_assert_int_eq(lirf_key_parse(mix, strlen(mix), "mixed.key", LIRF_KEY_SECRET, &k),
                     LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "does not give the x25519 public key"));
    no_secret(lirf_error_message(), "mixed key file");
    /* a field twice, an unknown field, a secret field in a public file */
    const char *bad[] = {
        "lirf-key-v1 public\nkey-id 0011223344556677\nkey-id 0011223344556677\n",
        "lirf-key-v1 public\npassword hunter2\n",
        "lirf-key-v1 public\nx25519-secret AAAA\n",
        "lirf-key-v2 public\n",
        "",
        "\n\n# only comments\n",
    };
    const char *words[] = {"twice", "not one of the fields", "secret field", "unsupported",
                           "not a lirf key file", "not a lirf key file"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ck_assert_int_eq(lirf_key_parse(bad[i], strlen(bad[i]), "hand.pub", LIRF_KEY_PUBLIC, &k),
                         LIRF_E_FORMAT);
        ck_assert_msg(strstr(lirf_error_message(), words[i]), "%zu: %s", i, lirf_error_message());
        ck_assert_ptr_null(strstr(lirf_error_message(), "hunter2"));
    }
    ck_assert_int_le(same, 6);
    free(mix), free(b), free(c), free(t), free(enc);
}
END_TEST

/* ---- round trips ------------------------------------------------------------ */

static const lirf_archive_compression COMPS[3] = {LIRF_ARCHIVE_PLAIN, LIRF_ARCHIVE_GZIP,
                                                  LIRF_ARCHIVE_ZSTD};

START_TEST(sign_verify) {
    keys();
    size_t n = 5000, len;
    unsigned char *dep = rand_bytes(n, 1);
    unsigned char *b = make(g_sec[ALICE], NULL, dep, n, COMPS[_i], &len);
    lirf_archive_info info;
    ck_assert_msg(rd(b, len, g_pub[ALICE], NULL, dep, n, &info) == LIRF_OK, "%s",
                  lirf_error_message());
    ck_assert(info.is_signed && info.verified && !info.encrypted);
    ck_assert_str_eq(info.signer, lirf_key_id(g_pub[ALICE]));
    ck_assert_str_eq(info.recipient, "");
    /* without a verify key: read, the signature checked under its own key */
    ck_assert_int_eq(rd(b, len, NULL, NULL, dep, n, &info), LIRF_OK);
    ck_assert(info.is_signed && !info.verified);
    /* a signing key also serves as the verify key */
    ck_assert_int_eq(rd(b, len, g_sec[ALICE], NULL, dep, n, NULL), LIRF_OK);
    /* the members: manifest.json, manifest.sig, deposit.safetensors (plain) */
    tmem ms[4];
    ck_assert_int_eq(untar(b, len, ms, 4), 3);
    ck_assert_str_eq(ms[0].name, "manifest.json");
    ck_assert_str_eq(ms[1].name, "manifest.sig");
    ck_assert_str_eq(ms[2].name, "deposit.safetensors");
    ck_assert(ms[2].len == n && !memcmp(ms[2].data, dep, n));
    json_t *m = manifest_of(&ms[0]);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "format_version")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "signer"), "key_id")),
                     lirf_key_id(g_pub[ALICE]));
    ck_assert_ptr_null(json_object_get(m, "encryption"));
    json_decref(m);
    json_t *s = json_loadb((const char *)ms[1].data, ms[1].len, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(s, "algorithm")), "ed25519");
    ck_assert_str_eq(json_string_value(json_object_get(s, "key_id")), lirf_key_id(g_pub[ALICE]));
    json_decref(s);
    no_secret((const char *)ms[0].data, "manifest");
    no_secret((const char *)ms[1].data, "manifest.sig");
    free_members(ms, 3);
    /* the same through a file */
    lirf_archive_seal seal = {g_sec[ALICE], NULL};
    const char *path = tpath("signed.lirf");
    ck_assert_int_eq(lirf_archive_write_sealed(path, MANIFEST, dep, n, COMPS[_i], &seal), LIRF_OK);
    lirf_archive_unseal un = {g_pub[ALICE], NULL};
    json_t *mj;
    void *d;
    size_t dl;
    ck_assert_int_eq(lirf_archive_read_sealed(path, &un, &mj, &d, &dl, &info), LIRF_OK);
    ck_assert(dl == n && !memcmp(d, dep, n) && info.verified);
    json_decref(mj);
    free(d);
    free(b);
    free(dep);
}
END_TEST

START_TEST(encrypt_decrypt) {
    keys();
    size_t n = 5000, len;
    unsigned char *dep = rand_bytes(n, 2);
    unsigned char *b = make(NULL, g_pub[BOB], dep, n, COMPS[_i], &len);
    lirf_archive_info info;
    ck_assert_msg(rd(b, len, NULL, g_sec[BOB], dep, n, &info) == LIRF_OK, "%s",
                  lirf_error_message());
    ck_assert(info.encrypted && !info.is_signed && !info.verified);
    ck_assert_str_eq(info.recipient, lirf_key_id(g_pub[BOB]));
    tmem ms[4];
    ck_assert_int_eq(untar(b, len, ms, 4), 2);
    ck_assert_str_eq(ms[1].name, "deposit.safetensors");
    ck_assert_uint_eq(ms[1].len, n + LIRF_AEAD_TAG_BYTES);
    for (size_t at = 0; at + 32 <= ms[1].len; at++) /* not the plaintext */
        ck_assert(memcmp(ms[1].data + at, dep + 100, 32) != 0);
    json_t *m = manifest_of(&ms[0]);
    json_t *e = json_object_get(m, "encryption");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "format_version")), 2);
    ck_assert_str_eq(json_string_value(json_object_get(e, "cipher")), "xchacha20poly1305-ietf");
    ck_assert_str_eq(json_string_value(json_object_get(e, "recipient")), lirf_key_id(g_pub[BOB]));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "nonce")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(e, "sealed_key")));
    json_t *mem = json_array_get(json_object_get(m, "members"), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(mem, "size")), (json_int_t)(n + 16));
    json_decref(m);
    free_members(ms, 2);
    /* two encryptions of the same deposit differ (fresh key and nonce) */
    size_t len2;
    unsigned char *b2 = make(NULL, g_pub[BOB], dep, n, LIRF_ARCHIVE_PLAIN, &len2);
    tmem m2[2];
    ck_assert_int_eq(untar(b2, len2, m2, 2), 2);
    ck_assert(memcmp(m2[1].data, dep, 64) != 0);
    free_members(m2, 2);
    free(b2);
    /* a secret key also serves to encrypt to */
    b2 = make(NULL, g_sec[BOB], dep, n, LIRF_ARCHIVE_PLAIN, &len2);
    ck_assert_int_eq(rd(b2, len2, NULL, g_sec[BOB], dep, n, NULL), LIRF_OK);
    free(b2);
    /* refusals: no key, another key, a signature required */
    char word[64];
    snprintf(word, sizeof word, "encrypted to key %s", lirf_key_id(g_pub[BOB]));
    refused(b, len, NULL, NULL, word, "--decrypt-key", "no decrypt key");
    ck_assert_int_eq(lirf_archive_read_mem(b, len, "sealed.lirf", &m, (void **)&b2, &len2),
                     LIRF_E_FORMAT);
    refused(b, len, NULL, g_sec[EVE], word, lirf_key_id(g_pub[EVE]), "wrong decrypt key");
    refused(b, len, g_pub[BOB], g_sec[BOB], "not signed", "--verify-key", "verify, unsigned");
    free(b);
    free(dep);
}
END_TEST

START_TEST(sign_and_encrypt) {
    keys();
    const size_t sizes[3] = {0, 1, 70001};
    for (int s = 0; s < 3; s++) {
        size_t n = sizes[s], len;
        unsigned char *dep = rand_bytes(n, 3 + (uint64_t)s);
        unsigned char *b = make(g_sec[ALICE], g_pub[BOB], dep, n, COMPS[_i], &len);
        lirf_archive_info info;
        ck_assert_msg(rd(b, len, g_pub[ALICE], g_sec[BOB], dep, n, &info) == LIRF_OK, "%s",
                      lirf_error_message());
        ck_assert(info.is_signed && info.verified && info.encrypted);
        ck_assert_str_eq(info.signer, lirf_key_id(g_pub[ALICE]));
        ck_assert_str_eq(info.recipient, lirf_key_id(g_pub[BOB]));
        ck_assert_int_eq(rd(b, len, NULL, g_sec[BOB], dep, n, &info), LIRF_OK);
        ck_assert(info.is_signed && !info.verified);
        /* the signature is checked before decryption is even considered */
        refused(b, len, g_pub[EVE], g_sec[BOB], "expected key", NULL, "signed+encrypted, eve");
        refused(b, len, g_pub[ALICE], NULL, "encrypted to key", NULL, "signed+encrypted, no key");
        refused(b, len, g_pub[ALICE], g_sec[ALICE], "not to the given key", NULL,
                "signed+encrypted, alice decrypts");
        free(b);
        free(dep);
    }
    /* a public key cannot sign */
    lirf_archive_seal seal = {g_pub[ALICE], NULL};
    void *b;
    size_t len;
    ck_assert_int_eq(lirf_archive_write_sealed_mem(MANIFEST, "x", 1, LIRF_ARCHIVE_PLAIN, &seal,
                                                   &b, &len),
                     LIRF_E_INVALID);
    /* a plain archive stays format_version 1, two members, and reads with no keys */
    b = make(NULL, NULL, "abc", 3, LIRF_ARCHIVE_PLAIN, &len);
    tmem ms[3];
    ck_assert_int_eq(untar(b, len, ms, 3), 2);
    json_t *m = manifest_of(&ms[0]);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "format_version")), 1);
    json_decref(m);
    free_members(ms, 2);
    lirf_archive_info info;
    ck_assert_int_eq(rd(b, len, NULL, g_sec[BOB], "abc", 3, &info), LIRF_OK);
    ck_assert(!info.is_signed && !info.encrypted);
    free(b);
}
END_TEST

/* ---- refusals ---------------------------------------------------------------- */

/* A flipped bit at every byte of every member of a signed (and encrypted)
 * archive is refused, with and without the verify key. */
START_TEST(flipped_bytes) {
    keys();
    int encrypt = _i;
    size_t n = 300, len;
    unsigned char *dep = rand_bytes(n, 5);
    unsigned char *b = make(g_sec[ALICE], encrypt ? g_pub[BOB] : NULL, dep, n,
                            LIRF_ARCHIVE_PLAIN, &len);
    const lirf_key *dk = encrypt ? g_sec[BOB] : NULL;
    tmem ms[3];
    ck_assert_int_eq(untar(b, len, ms, 3), 3);
    /* control: taken apart and put together, it reads */
    size_t cl;
    unsigned char *c = retar(ms, 3, NULL, &cl);
    ck_assert_msg(rd(c, cl, g_pub[ALICE], dk, dep, n, NULL) == LIRF_OK, "%s",
                  lirf_error_message());
    free(c);
    int tried = 0;
    for (int k = 0; k < 3; k++)
        for (size_t at = 0; at < ms[k].len; at++) {
            int bit = (int)(at % 8);
            ms[k].data[at] ^= (unsigned char)(1 << bit);
            c = retar(ms, 3, NULL, &cl);
            char where[160];
            snprintf(where, sizeof where, "%.40s byte %zu bit %d", ms[k].name, at, bit);
            refused(c, cl, g_pub[ALICE], dk, NULL, NULL, where);
            refused(c, cl, NULL, dk, NULL, NULL, where);
            free(c);
            ms[k].data[at] ^= (unsigned char)(1 << bit);
            tried++;
        }
    ck_assert_int_gt(tried, 600);
    /* the messages say what failed */
    ms[2].data[7] ^= 1;
    c = retar(ms, 3, NULL, &cl);
    refused(c, cl, g_pub[ALICE], dk, "SHA-256", NULL, "deposit flip");
    free(c);
    ms[2].data[7] ^= 1;
    char *sp = strstr((char *)ms[0].data, "seal test");
    ck_assert_ptr_nonnull(sp);
    sp[0] = 'S';
    c = retar(ms, 3, NULL, &cl);
    refused(c, cl, g_pub[ALICE], dk, "does not verify", "altered", "manifest edit");
    free(c);
    sp[0] = 's';
    free_members(ms, 3);
    free(b);
    free(dep);
}
END_TEST

/* Members swapped between two archives signed by the same key, stripped,
 * duplicated or out of order: refused. */
START_TEST(swapped_members) {
    keys();
    int encrypt = _i;
    const lirf_key *to = encrypt ? g_pub[BOB] : NULL, *dk = encrypt ? g_sec[BOB] : NULL;
    size_t n = 2000, la, lb;
    unsigned char *da = rand_bytes(n, 6), *db = rand_bytes(n, 7);
    unsigned char *a = make(g_sec[ALICE], to, da, n, LIRF_ARCHIVE_GZIP, &la);
    unsigned char *b = make(g_sec[ALICE], to, db, n, LIRF_ARCHIVE_PLAIN, &lb);
    tmem ms[6];
    ck_assert_int_eq(untar(a, la, ms, 3), 3);
    ck_assert_int_eq(untar(b, lb, ms + 3, 3), 3);
    /* ms: 0 A manifest, 1 A sig, 2 A deposit, 3 B manifest, 4 B sig, 5 B deposit */
    static const struct {
        int order[4], n;
        const char *w1, *w2;
    } cases[] = {
        {{0, 1, 5}, 3, "SHA-256", NULL},                 /* B's deposit in A */
        {{0, 4, 2}, 3, "does not verify", NULL},         /* B's signature on A's manifest */
        {{3, 1, 5}, 3, "does not verify", NULL},         /* A's signature on B's manifest */
        {{3, 4, 2}, 3, "SHA-256", NULL},                 /* A's deposit in B */
        {{0, 2}, 2, "no manifest.sig", "removed"},     /* signature stripped */
        {{1, 0, 2}, 3, "manifest.sig comes before", NULL},
        {{0, 2, 1}, 3, "no manifest.sig before deposit.safetensors", NULL},
        {{0, 1, 1, 2}, 4, "duplicate", "manifest.sig"},
        {{0, 1, 4, 2}, 4, "duplicate", "manifest.sig"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t cl;
        unsigned char *c = retar(ms, cases[i].n, cases[i].order, &cl);
        char where[32];
        snprintf(where, sizeof where, "swap case %zu", i);
        refused(c, cl, g_pub[ALICE], dk, cases[i].w1, cases[i].w2, where);
        refused(c, cl, NULL, dk, cases[i].w1, cases[i].w2, where);
        free(c);
    }
    /* the unswapped ones read */
    size_t cl;
    int ob[3] = {3, 4, 5};
    unsigned char *c = retar(ms, 3, ob, &cl);
    ck_assert_int_eq(rd(c, cl, g_pub[ALICE], dk, db, n, NULL), LIRF_OK);
    free(c);
    /* a signature in a format_version 1 archive */
    size_t lp;
    unsigned char *p = make(NULL, NULL, da, n, LIRF_ARCHIVE_PLAIN, &lp);
    tmem pm[4];
    ck_assert_int_eq(untar(p, lp, pm, 2), 2);
    pm[2] = pm[1];
    pm[1] = ms[1];
    c = retar(pm, 3, NULL, &cl);
    refused(c, cl, NULL, NULL, "format_version 1", NULL, "signature in v1");
    free(c);
    free(pm[0].data), free(pm[2].data);
    free(p);
    free_members(ms, 6);
    free(a), free(b), free(da), free(db);
}
END_TEST

START_TEST(wrong_verify_key) {
    keys();
    size_t n = 1000, len;
    unsigned char *dep = rand_bytes(n, 8);
    unsigned char *b = make(g_sec[ALICE], NULL, dep, n, LIRF_ARCHIVE_PLAIN, &len);
    char w[96];
    snprintf(w, sizeof w, "signed by key %s, expected key %s", lirf_key_id(g_pub[ALICE]),
             lirf_key_id(g_pub[EVE]));
    refused(b, len, g_pub[EVE], NULL, w, NULL, "eve verifies alice's archive");
    free(b);
    /* eve's forgery: a manifest naming alice, signed with eve's key, with
     * alice's key id and public keys in manifest.sig */
    b = make(g_sec[EVE], NULL, dep, n, LIRF_ARCHIVE_PLAIN, &len);
    tmem ms[3];
    ck_assert_int_eq(untar(b, len, ms, 3), 3);
    json_t *m = manifest_of(&ms[0]);
    json_object_set_new(json_object_get(m, "signer"), "key_id",
                        json_string(lirf_key_id(g_pub[ALICE])));
    free(ms[0].data);
    ms[0].data = (unsigned char *)json_dumps(m, JSON_INDENT(2));
    ms[0].len = strlen((char *)ms[0].data);
    json_decref(m);
    size_t ml = sizeof "lirf-deposit/2/manifest.json" + ms[0].len;
    unsigned char *msg = malloc(ml);
    memcpy(msg, "lirf-deposit/2/manifest.json", sizeof "lirf-deposit/2/manifest.json");
    memcpy(msg + sizeof "lirf-deposit/2/manifest.json", ms[0].data, ms[0].len);
    unsigned char sig[LIRF_SIGN_BYTES];
    ck_assert_int_eq(lirf_seal_sign(g_sec[EVE], msg, ml, sig), LIRF_OK);
    ck_assert(lirf_seal_verify(lirf_key_sign_public(g_pub[EVE]), msg, ml, sig));
    free(msg);
    char spk[64], bpk[64], s64[128];
    sodium_bin2base64(spk, sizeof spk, lirf_key_sign_public(g_pub[ALICE]), 32,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(bpk, sizeof bpk, lirf_key_box_public(g_pub[ALICE]), 32,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(s64, sizeof s64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
    json_t *s = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "format", "lirf-deposit-signature",
                          "algorithm", "ed25519", "key_id", lirf_key_id(g_pub[ALICE]),
                          "ed25519_public", spk, "x25519_public", bpk, "signature", s64);
    free(ms[1].data);
    ms[1].data = (unsigned char *)json_dumps(s, JSON_COMPACT);
    ms[1].len = strlen((char *)ms[1].data);
    json_decref(s);
    size_t cl;
    unsigned char *c = retar(ms, 3, NULL, &cl);
    refused(c, cl, g_pub[ALICE], NULL, "does not verify", NULL, "forgery, verified");
    refused(c, cl, NULL, NULL, "does not verify", NULL, "forgery, unverified");
    free(c);
    /* the same forgery carrying eve's public keys: their id is not alice's */
    sodium_bin2base64(spk, sizeof spk, lirf_key_sign_public(g_pub[EVE]), 32,
                      sodium_base64_VARIANT_ORIGINAL);
    sodium_bin2base64(bpk, sizeof bpk, lirf_key_box_public(g_pub[EVE]), 32,
                      sodium_base64_VARIANT_ORIGINAL);
    s = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "format", "lirf-deposit-signature", "algorithm",
                  "ed25519", "key_id", lirf_key_id(g_pub[ALICE]), "ed25519_public", spk,
                  "x25519_public", bpk, "signature", s64);
    free(ms[1].data);
    ms[1].data = (unsigned char *)json_dumps(s, JSON_COMPACT);
    ms[1].len = strlen((char *)ms[1].data);
    json_decref(s);
    c = retar(ms, 3, NULL, &cl);
    refused(c, cl, NULL, NULL, "does not match the public keys", NULL, "forgery, eve's keys");
    free(c);
    free_members(ms, 3);
    free(b);
    free(dep);
}
END_TEST

START_TEST(missing_signature) {
    keys();
    size_t len;
    unsigned char *b = make(NULL, NULL, "deposit", 7, COMPS[_i], &len);
    char w[96];
    snprintf(w, sizeof w, "signature by key %s is required", lirf_key_id(g_pub[ALICE]));
    refused(b, len, g_pub[ALICE], NULL, "the archive is not signed", w, "plain + verify");
    ck_assert_int_eq(rd(b, len, NULL, NULL, "deposit", 7, NULL), LIRF_OK);
    free(b);
    b = make(NULL, g_pub[BOB], "deposit", 7, COMPS[_i], &len);
    refused(b, len, g_pub[ALICE], g_sec[BOB], "the archive is not signed", "--verify-key",
            "encrypted + verify");
    free(b);
}
END_TEST

/* The encryption fields, in an unsigned encrypted archive (where nothing else
 * protects them): a sealed key for another recipient, a changed nonce or
 * cipher, a sealed key that does not open. */
START_TEST(wrong_decrypt_key) {
    keys();
    size_t n = 500, len;
    unsigned char *dep = rand_bytes(n, 9);
    unsigned char *b = make(NULL, g_pub[BOB], dep, n, LIRF_ARCHIVE_PLAIN, &len);
    tmem ms[2];
    ck_assert_int_eq(untar(b, len, ms, 2), 2);
    json_t *orig = manifest_of(&ms[0]);
    unsigned char *orig_text = ms[0].data;
    size_t orig_len = ms[0].len;
    for (int k = 0; k < 5; k++) {
        json_t *m = json_deep_copy(orig);
        json_t *e = json_object_get(m, "encryption");
        const char *w1 = NULL;
        const lirf_key *dk = g_sec[BOB];
        unsigned char raw[80];
        char b64[128];
        switch (k) {
        case 0: /* relabelled for eve: the sealed key opens only for bob */
            json_object_set_new(e, "recipient", json_string(lirf_key_id(g_pub[EVE])));
            dk = g_sec[EVE];
            w1 = "sealed key does not open";
            break;
        case 1: /* another nonce */
            randombytes_buf(raw, 24);
            sodium_bin2base64(b64, sizeof b64, raw, 24, sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(e, "nonce", json_string(b64));
            w1 = "does not decrypt";
            break;
        case 2: /* a sealed key of random bytes */
            randombytes_buf(raw, 80);
            sodium_bin2base64(b64, sizeof b64, raw, 80, sodium_base64_VARIANT_ORIGINAL);
            json_object_set_new(e, "sealed_key", json_string(b64));
            w1 = "sealed key does not open";
            break;
        case 3:
            json_object_set_new(e, "cipher", json_string("aes256gcm"));
            w1 = "not supported";
            break;
        case 4:
            json_object_set_new(e, "nonce", json_string("c2hvcnQ="));
            w1 = "base64";
            break;
        }
        /* edited as by hand: the manifest's own checksum dropped (kept, it
         * would refuse the edit before the encryption is looked at) */
        json_object_del(m, "manifest_sha256");
        ms[0].data = (unsigned char *)json_dumps(m, JSON_INDENT(2));
        ms[0].len = strlen((char *)ms[0].data);
        json_decref(m);
        size_t cl;
        unsigned char *c = retar(ms, 2, NULL, &cl);
        char where[32];
        snprintf(where, sizeof where, "encryption case %d", k);
        refused(c, cl, NULL, dk, w1, NULL, where);
        free(c);
        free(ms[0].data);
    }
    ms[0].data = orig_text;
    ms[0].len = orig_len;
    json_decref(orig);
    /* control */
    size_t cl;
    unsigned char *c = retar(ms, 2, NULL, &cl);
    ck_assert_int_eq(rd(c, cl, NULL, g_sec[BOB], dep, n, NULL), LIRF_OK);
    free(c);
    free_members(ms, 2);
    free(b);
    free(dep);
}
END_TEST

/* ---- end to end: lirf keygen, lirf withdraw --------------------------------- */

/* Runs `lirf ARGS` (stderr with stdout); returns its exit status. */
static int run_lirf(const char *args, char *out, size_t cap) {
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tlirf_bin(), args);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t got = fread(out, 1, cap - 1, p);
    out[got] = 0;
    int rc = pclose(p);
    no_secret(out, args);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

/* A tiny target net and its deposit archive, sealed as asked (no training:
 * withdraw does not care how good the nets are); t0_path: T0 saved there too. */
static void tiny_deposit(const char *target, const char *archive, const lirf_archive_seal *seal,
                         const char *t0_path) {
    lirf_net_config c = {.arch = LIRF_ARCH_RESNET18, .width = 4, .in_c = 1, .in_h = 12,
                         .in_w = 12, .classes = 10, .first = 0, .last = 5};
    lirf_net *t0;
    ck_assert_int_eq(lirf_net_create(tctx(), &c, &t0), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(t0, 21), LIRF_OK);
    lirf_model_meta m = {0};
    m.cfg = c;
    m.mean[0] = 0.4f, m.std[0] = 0.3f;
    if (t0_path) {
        lirf_net *nets[1] = {t0};
        const char *pre[1] = {""};
        ck_assert_msg(lirf_checkpoint_save(t0_path, nets, pre, 1, &m, NULL, NULL, 0) == LIRF_OK,
                      "%s", lirf_error_message());
    }
    int32_t dep[2] = {0, 1};
    lirf_lirf *l;
    ck_assert_int_eq(lirf_lirf_create(tctx(), t0, &m, 2, dep, 2, 0.5f, &l), LIRF_OK);
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    if (target) ck_assert_int_eq(lirf_save_target(l, target, &o), LIRF_OK);
    lirf_status st = lirf_save_deposit_sealed(l, archive, &o, LIRF_ARCHIVE_PLAIN, NULL, seal);
    ck_assert_msg(st == LIRF_OK, "%s", lirf_error_message());
    lirf_lirf_destroy(l);
    lirf_net_destroy(t0);
}

/* n 12x12 images (IDX, as Fashion-MNIST), labels 0..9 in turn. */
static void write_idx(const char *images, const char *labels, int n) {
    unsigned char h[16] = {0, 0, 8, 3, (unsigned char)(n >> 24), (unsigned char)(n >> 16),
                           (unsigned char)(n >> 8), (unsigned char)n, 0, 0, 0, 12, 0, 0, 0, 12};
    unsigned char *px = rand_bytes((size_t)n * 144, 11);
    FILE *f = fopen(images, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(h, 1, 16, f), 16);
    ck_assert_uint_eq(fwrite(px, 1, (size_t)n * 144, f), (size_t)n * 144);
    fclose(f);
    free(px);
    h[3] = 1;
    f = fopen(labels, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(h, 1, 8, f), 8);
    for (int i = 0; i < n; i++) fputc(i % 10, f);
    fclose(f);
}

START_TEST(cli_end_to_end) {
    keys();
    static char out[16384];
    char args[8192];
    /* keygen through the command */
    snprintf(args, sizeof args, "keygen --out %s", tpath("cli"));
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "key id: ") && strstr(out, "cli.key") && strstr(out, "cli.pub"),
                  "%s", out);
    char sec[600], pub[600];
    snprintf(sec, sizeof sec, "%s.key", tpath("cli"));
    snprintf(pub, sizeof pub, "%s.pub", tpath("cli"));
    remember_secrets(sec);
    no_secret(out, "keygen output"); /* now that its secret is known */
    struct stat sb;
    ck_assert_int_eq(stat(sec, &sb), 0);
    ck_assert_int_eq(sb.st_mode & 0777, 0600);
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2); /* no overwrite */
    ck_assert_msg(strstr(out, "already exists"), "%s", out);
    lirf_key *cli_sec;
    ck_assert_int_eq(lirf_key_load(sec, LIRF_KEY_SECRET, &cli_sec), LIRF_OK);

    /* signed by the CLI's key, encrypted to bob */
    lirf_archive_seal seal = {cli_sec, g_pub[BOB]};
    char target[600], sealed[600], plain[600], rec[600]; /* tpath's buffers rotate */
    snprintf(target, sizeof target, "%s", tpath("target.safetensors"));
    snprintf(sealed, sizeof sealed, "%s", tpath("sealed.lirf"));
    snprintf(plain, sizeof plain, "%s", tpath("plain.lirf"));
    snprintf(rec, sizeof rec, "%s", tpath("recover.safetensors"));
    char bobk[600], bobp[600], evep[600];
    snprintf(bobk, sizeof bobk, "%s.key", tpath("bob"));
    snprintf(bobp, sizeof bobp, "%s.pub", tpath("bob"));
    snprintf(evep, sizeof evep, "%s.pub", tpath("eve"));
    tiny_deposit(target, sealed, &seal, tpath("t0.safetensors"));
    tiny_deposit(NULL, plain, NULL, NULL);
    lirf_key_free(cli_sec);

    snprintf(args, sizeof args,
             "withdraw --target %s --archive %s --out %s --verify-key %s --decrypt-key %s", target,
             sealed, rec, pub, bobk);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "recover net:") && strstr(out, "signature: verified") &&
                  strstr(out, "decrypted"), "%s", out);
    ck_assert_int_eq(access(rec, F_OK), 0);
    unlink(rec);
    snprintf(args, sizeof args,
             "withdraw --target %s --archive %s --out %s --decrypt-key %s --json", target, sealed,
             rec, bobk);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "\"signature_verified\": false") && strstr(out, "\"signed_by\""),
                  "%s", out);
    unlink(rec);
    const struct {
        const char *extra, *archive, *w1, *w2;
    } bad[] = {
        {"", "sealed", "encrypted to key", "--decrypt-key"},
        {"--verify-key EVE --decrypt-key BOBK", "sealed", "expected key", NULL},
        {"--verify-key BOBK", "sealed", "--verify-key", "is a secret key file"},
        {"--decrypt-key BOBP", "sealed", "--decrypt-key", "is a public key file"},
        {"--verify-key PUB", "plain", "not signed", "--verify-key"},
        {"--verify-key PUB --decrypt-key NOSUCH", "sealed", "no such key file", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char extra[2000] = "";
        const char *p = bad[i].extra;
        while (*p) { /* expand the key names */
            const char *name = NULL;
            size_t skip = 0;
            if (!strncmp(p, "EVE", 3)) name = evep, skip = 3;
            else if (!strncmp(p, "BOBK", 4)) name = bobk, skip = 4;
            else if (!strncmp(p, "BOBP", 4)) name = bobp, skip = 4;
            else if (!strncmp(p, "PUB", 3)) name = pub, skip = 3;
            else if (!strncmp(p, "NOSUCH", 6)) name = tpath("nosuch.key"), skip = 6;
            size_t l = strlen(extra);
            if (name) {
                snprintf(extra + l, sizeof extra - l, "%s", name);
                p += skip;
            } else {
                extra[l] = *p++;
                extra[l + 1] = 0;
            }
        }
        snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s %s", target,
                 strcmp(bad[i].archive, "plain") ? sealed : plain, rec, extra);
        ck_assert_msg(run_lirf(args, out, sizeof out) == 2, "case %zu: %s", i, out);
        ck_assert_msg(strstr(out, bad[i].w1) && (!bad[i].w2 || strstr(out, bad[i].w2)),
                      "case %zu: %s", i, out);
        ck_assert_msg(access(rec, F_OK) != 0, "case %zu wrote a recover net", i);
    }
    /* the plain archive still withdraws with no keys */
    snprintf(args, sizeof args, "withdraw --target %s --archive %s --out %s", target, plain, rec);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_ptr_null(strstr(out, "signature"));
    /* lirf deposit --sign --encrypt-to on a tiny IDX data set (one epoch),
     * then lirf withdraw with the keys */
    write_idx(tpath("train-images-idx3-ubyte"), tpath("train-labels-idx1-ubyte"), 32);
    snprintf(args, sizeof args,
             "deposit --model %s --deposit-classes 0,1 --data %s --format fashion-mnist "
             "--epochs 1 --batch 8 --sign %s --encrypt-to %s --archive %s --target %s --quiet",
             tpath("t0.safetensors"), tmpdir(), sec, bobp, tpath("cli.lirf"),
             tpath("cli-target.safetensors"));
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    char want[128];
    snprintf(want, sizeof want, "encrypted to key %s", lirf_key_id(g_pub[BOB]));
    ck_assert_msg(strstr(out, "signed by key") && strstr(out, want), "%s", out);
    snprintf(args, sizeof args,
             "withdraw --target %s --archive %s --out %s --verify-key %s --decrypt-key %s",
             tpath("cli-target.safetensors"), tpath("cli.lirf"), rec, pub, bobk);
    ck_assert_msg(run_lirf(args, out, sizeof out) == 0, "%s", out);
    ck_assert_msg(strstr(out, "signature: verified") && strstr(out, "decrypted"), "%s", out);
    snprintf(args, sizeof args,
             "withdraw --target %s --archive %s --out %s --verify-key %s --decrypt-key %s",
             tpath("cli-target.safetensors"), tpath("cli.lirf"), tpath("x.safetensors"), evep,
             bobk);
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "expected key"), "%s", out);
    /* deposit refuses a bad key before any work */
    snprintf(args, sizeof args,
             "deposit --model %s --deposit-classes 0,1 --sign %s --archive %s", target, pub,
             tpath("never.lirf"));
    ck_assert_int_eq(run_lirf(args, out, sizeof out), 2);
    ck_assert_msg(strstr(out, "--sign") && strstr(out, "is a public key file"), "%s", out);
    /* the help tells of the options */
    ck_assert_int_eq(run_lirf("--help", out, sizeof out), 0);
    ck_assert_ptr_nonnull(strstr(out, "keygen"));
    ck_assert_int_eq(run_lirf("deposit --help", out, sizeof out), 0);
    ck_assert(strstr(out, "--sign KEY") && strstr(out, "--encrypt-to PUB"));
    ck_assert_int_eq(run_lirf("withdraw --help", out, sizeof out), 0);
    ck_assert(strstr(out, "--verify-key PUB") && strstr(out, "--decrypt-key KEY"));
    ck_assert_int_eq(run_lirf("keygen --help", out, sizeof out), 0);
    ck_assert(strstr(out, "NAME.key") && strstr(out, "0600"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("seal");
    TCase *tc = tcase_create("seal");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keygen_round_trip);
    tcase_add_test(tc, key_file_truncations);
    tcase_add_test(tc, key_file_damage);
    tcase_add_loop_test(tc, sign_verify, 0, 3);
    tcase_add_loop_test(tc, encrypt_decrypt, 0, 3);
    tcase_add_loop_test(tc, sign_and_encrypt, 0, 3);
    tcase_add_loop_test(tc, flipped_bytes, 0, 2);
    tcase_add_loop_test(tc, swapped_members, 0, 2);
    tcase_add_test(tc, wrong_verify_key);
    tcase_add_loop_test(tc, missing_signature, 0, 3);
    tcase_add_test(tc, wrong_decrypt_key);
    tcase_add_test(tc, cli_end_to_end);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    for (int i = 0; i < NKEYS; i++) lirf_key_free(g_sec[i]), lirf_key_free(g_pub[i]);
    if (g_dir[0]) rm_dir(g_dir);
    return rc;
}
