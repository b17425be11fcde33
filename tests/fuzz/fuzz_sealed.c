/* libFuzzer target: signed and encrypted deposit archives
 * (lirf_archive_read_sealed_mem): format_version 2, manifest.sig (its place,
 * size, JSON, key id and Ed25519 signature), the manifest's "signer" and
 * "encryption", the keys' demands, the SHA-256 of the stored deposit, and
 * its decryption (sealed key, XChaCha20-Poly1305); plain archives too.
 *
 * Each input is read three times: (a) with no keys, (b) with the test
 * identity's public key as the verify key and its secret key as the decrypt
 * key, (c) with the decrypt key only (an encrypted, unsigned archive is read
 * by (c) alone). The keys: the key files of tests/fuzz/corpus/keyfile/,
 * embedded below, parsed once.
 * Oracle, beyond no crash, leak, UB or hang:
 * - a refusal leaves every output empty (and the report all zero);
 * - an accepted archive is consistent with its manifest, checked on the bytes
 *   as stored (a separate libarchive walk of the input): manifest.json is
 *   the manifest returned; "members" has the size and SHA-256 of the stored
 *   deposit; the deposit returned is the stored one or, when encrypted (only
 *   ever to the decrypt key given), its decryption under the manifest's
 *   sealed key and nonce; manifest.sig is there exactly when the report says
 *   signed, names the manifest's signer, and its signature of manifest.json
 *   verifies under the public key it carries;
 * - accepted with the verify key => signed by that key: the report says
 *   verified, the signer is that key's id, and manifest.sig verifies under
 *   that key's own public half;
 * - the three agree: (c) accepts whatever (a) or (b) accepts; (a) accepts
 *   exactly the archives (c) accepts that are not encrypted, (b) exactly
 *   those signed by the test key; where two accept, the same manifest,
 *   deposit and report (but for "verified");
 * - written again signed and encrypted with the test key
 *   (lirf_archive_write_sealed_mem), an accepted archive reads back under (b)
 *   to the same deposit and the same manifest but for the fields the writer
 *   makes (members, format_version, signer, encryption).
 */
#include <archive.h>
#include <archive_entry.h>
#include <sodium.h>
#include <string.h>

#include "fuzz.h"
#include "lirf_archive.h"
#include "seal.h"

int fuzz_accepted;

/* The test identity: tests/fuzz/corpus/keyfile/test-identity.{key,pub}, made
 * by make_seeds from a fixed seed. A published test key: nothing trusts it. */
static const char TEST_KEY[] =
    "# lirf secret key ebd63346989d6bff: keep this file private; share only the .pub "
    "file\n"
    "lirf-key-v1 secret\n"
    "key-id ebd63346989d6bff\n"
    "ed25519-public Ut2UOFaGON3RSyUJ45ZTBh82bFQV1i+vNdmV3qpxKM4=\n"
    "x25519-public A5L1RsIeAgR4xkvva6yILytGGXhJ+4LyZhtPotR16HI=\n"
    "ed25519-seed M+lLRXRmgD/SqVwkfEk3j3Lu2Qca0Cng197XMQPmYXk=\n"
    "x25519-secret rSn7I2hsoUsa2Zy07k238rkQSZax/c1rsyaEee+Q5BY=\n";
static const char TEST_PUB[] =
    "# lirf public key ebd63346989d6bff: for whoever verifies deposits signed by this key or "
    "encrypts deposits to it\n"
    "lirf-key-v1 public\n"
    "key-id ebd63346989d6bff\n"
    "ed25519-public Ut2UOFaGON3RSyUJ45ZTBh82bFQV1i+vNdmV3qpxKM4=\n"
    "x25519-public A5L1RsIeAgR4xkvva6yILytGGXhJ+4LyZhtPotR16HI=\n";

static lirf_key *g_sec, *g_pub;
static lirf_archive_unseal g_keys, g_decrypt_only;

static const char SIGN_CONTEXT[] = "lirf-deposit/2/manifest.json"; /* with its NUL */
static const char AEAD_AD[] = "lirf-deposit/2/deposit.safetensors"; /* without */

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    FUZZ_CHECK(sodium_init() >= 0);
    FUZZ_CHECK(lirf_key_parse(TEST_KEY, sizeof TEST_KEY - 1, "test-identity.key", LIRF_KEY_SECRET,
                              &g_sec) == LIRF_OK);
    FUZZ_CHECK(lirf_key_parse(TEST_PUB, sizeof TEST_PUB - 1, "test-identity.pub", LIRF_KEY_PUBLIC,
                              &g_pub) == LIRF_OK);
    FUZZ_CHECK(strcmp(lirf_key_id(g_sec), lirf_key_id(g_pub)) == 0);
    g_keys.verify = g_pub;
    g_keys.decrypt = g_sec;
    g_decrypt_only.decrypt = g_sec;
    return 0;
}

/* ---- the bytes as stored: a walk of the input with libarchive ---------------- */

typedef struct {
    unsigned char *p;
    size_t n;
    int present;
} blob;

typedef struct {
    blob man, sig, dep;
} stored;

static void stored_free(stored *s) {
    free(s->man.p), free(s->sig.p), free(s->dep.p);
}

/* The members of an archive the reader accepted (so: tar, a built-in filter,
 * three known names at most, each at most once, bounded sizes). */
static void walk(const uint8_t *data, size_t size, stored *s) {
    memset(s, 0, sizeof *s);
    struct archive *a = archive_read_new();
    FUZZ_CHECK(a != NULL);
    archive_read_support_format_tar(a);
    if (archive_zlib_version()) archive_read_support_filter_gzip(a);
    if (archive_libzstd_version()) archive_read_support_filter_zstd(a);
    if (archive_liblzma_version()) archive_read_support_filter_xz(a);
    if (archive_bzlib_version()) archive_read_support_filter_bzip2(a);
    if (archive_liblz4_version()) archive_read_support_filter_lz4(a);
    FUZZ_CHECK(archive_read_open_memory(a, data, size) == ARCHIVE_OK);
    struct archive_entry *e;
    int r;
    while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
        const char *name = archive_entry_pathname(e);
        FUZZ_CHECK(name != NULL);
        blob *b = !strcmp(name, LIRF_ARCHIVE_MANIFEST)    ? &s->man
                  : !strcmp(name, LIRF_ARCHIVE_SIGNATURE) ? &s->sig
                  : !strcmp(name, LIRF_ARCHIVE_DEPOSIT)   ? &s->dep
                                                          : NULL;
        FUZZ_CHECK(b != NULL && !b->present);
        b->present = 1;
        size_t cap = 4096;
        b->p = malloc(cap);
        FUZZ_CHECK(b->p != NULL);
        for (;;) {
            if (b->n == cap) {
                cap *= 2;
                FUZZ_CHECK(cap <= ((size_t)8 << 30)); /* the reader's limits are far below */
                b->p = realloc(b->p, cap);
                FUZZ_CHECK(b->p != NULL);
            }
            la_ssize_t got = archive_read_data(a, b->p + b->n, cap - b->n);
            FUZZ_CHECK(got >= 0);
            if (got == 0) break;
            b->n += (size_t)got;
        }
    }
    FUZZ_CHECK(r == ARCHIVE_EOF);
    archive_read_free(a);
    FUZZ_CHECK(s->man.present && s->dep.present);
}

/* ---- checks --------------------------------------------------------------------- */

typedef struct {
    lirf_status st;
    json_t *man;
    void *dep;
    size_t len;
    lirf_archive_info info;
} result;

static void read_with(const uint8_t *data, size_t size, const lirf_archive_unseal *keys,
                      result *r) {
    r->st = lirf_archive_read_sealed_mem(data, size, "fuzz.tar", keys, &r->man, &r->dep, &r->len,
                                         &r->info);
    if (r->st != LIRF_OK) {
        static const lirf_archive_info zero;
        FUZZ_CHECK(!r->man && !r->dep && r->len == 0);
        FUZZ_CHECK(memcmp(&r->info, &zero, sizeof zero) == 0);
    } else {
        FUZZ_CHECK(json_is_object(r->man) && r->dep != NULL);
    }
}

static void result_free(result *r) {
    json_decref(r->man);
    free(r->dep);
}

static void b64(const char *s, unsigned char *out, size_t n) {
    size_t got = 0;
    const char *end = NULL;
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(sodium_base642bin(out, n, s, strlen(s), NULL, &got, &end,
                                 sodium_base64_VARIANT_ORIGINAL) == 0 &&
               got == n && end == s + strlen(s));
}

static int verifies(const unsigned char *pk, const blob *man, const unsigned char *sig) {
    size_t len = sizeof SIGN_CONTEXT + man->n;
    unsigned char *msg = malloc(len);
    FUZZ_CHECK(msg != NULL);
    memcpy(msg, SIGN_CONTEXT, sizeof SIGN_CONTEXT);
    if (man->n) memcpy(msg + sizeof SIGN_CONTEXT, man->p, man->n);
    int ok = lirf_seal_verify(pk, msg, len, sig);
    free(msg);
    return ok;
}

static const char *get_str(json_t *o, const char *k) {
    return json_string_value(json_object_get(o, k));
}

/* An accepted read r of the archive whose stored members are s, with keys. */
static void check_accepted(const result *r, const stored *s, const lirf_archive_unseal *keys) {
    json_t *m = r->man;
    const lirf_archive_info *info = &r->info;
    /* manifest.json as stored is the manifest returned */
    json_t *again = json_loadb((const char *)s->man.p, s->man.n, JSON_REJECT_DUPLICATES, NULL);
    FUZZ_CHECK(again && json_equal(again, m));
    json_decref(again);
    FUZZ_CHECK(!strcmp(get_str(m, "format") ? get_str(m, "format") : "", LIRF_ARCHIVE_FORMAT));
    json_int_t ver = json_integer_value(json_object_get(m, "format_version"));
    FUZZ_CHECK(ver == LIRF_ARCHIVE_VERSION || ver == LIRF_ARCHIVE_VERSION_SEALED);
    /* "members": the size and SHA-256 of the deposit as stored */
    json_t *members = json_object_get(m, "members");
    FUZZ_CHECK(json_is_array(members) && json_array_size(members) == 1);
    json_t *d = json_array_get(members, 0);
    const char *name = get_str(d, "name"), *sha = get_str(d, "sha256");
    FUZZ_CHECK(name && !strcmp(name, LIRF_ARCHIVE_DEPOSIT));
    FUZZ_CHECK(json_is_integer(json_object_get(d, "size")));
    FUZZ_CHECK((uint64_t)json_integer_value(json_object_get(d, "size")) == (uint64_t)s->dep.n);
    char hex[65];
    lirf_sha256_hex(s->dep.p, s->dep.n, hex);
    FUZZ_CHECK(sha && strlen(sha) == 64);
    for (int i = 0; i < 64; i++)
        FUZZ_CHECK(hex[i] == (sha[i] >= 'A' && sha[i] <= 'F' ? sha[i] - 'A' + 'a' : sha[i]));
    /* the signature */
    FUZZ_CHECK(info->is_signed == s->sig.present);
    if (s->sig.present) {
        FUZZ_CHECK(ver == LIRF_ARCHIVE_VERSION_SEALED);
        json_t *signer = json_object_get(m, "signer");
        FUZZ_CHECK(get_str(signer, "key_id") && !strcmp(get_str(signer, "key_id"), info->signer));
        json_t *sj = json_loadb((const char *)s->sig.p, s->sig.n, JSON_REJECT_DUPLICATES, NULL);
        FUZZ_CHECK(sj != NULL);
        FUZZ_CHECK(get_str(sj, "key_id") && !strcmp(get_str(sj, "key_id"), info->signer));
        unsigned char spk[LIRF_SIGN_PUBLIC_BYTES], bpk[LIRF_BOX_PUBLIC_BYTES], sig[LIRF_SIGN_BYTES];
        b64(get_str(sj, "ed25519_public"), spk, sizeof spk);
        b64(get_str(sj, "x25519_public"), bpk, sizeof bpk);
        b64(get_str(sj, "signature"), sig, sizeof sig);
        json_decref(sj);
        char id[LIRF_KEY_ID_HEX + 1];
        lirf_key_id_of(spk, bpk, id);
        FUZZ_CHECK(!strcmp(id, info->signer));
        FUZZ_CHECK(verifies(spk, &s->man, sig));
        if (keys && keys->verify)
            FUZZ_CHECK(verifies(lirf_key_sign_public(keys->verify), &s->man, sig));
    } else {
        FUZZ_CHECK(info->signer[0] == '\0' && !info->verified);
        FUZZ_CHECK(ver == LIRF_ARCHIVE_VERSION || !json_object_get(m, "signer"));
    }
    /* accepted with a verify key => signed by that key */
    if (keys && keys->verify)
        FUZZ_CHECK(info->verified && info->is_signed &&
                   !strcmp(info->signer, lirf_key_id(keys->verify)));
    else
        FUZZ_CHECK(!info->verified);
    /* the deposit: as stored, or its decryption */
    if (info->encrypted) {
        FUZZ_CHECK(keys && keys->decrypt && ver == LIRF_ARCHIVE_VERSION_SEALED);
        FUZZ_CHECK(!strcmp(info->recipient, lirf_key_id(keys->decrypt)));
        json_t *enc = json_object_get(m, "encryption");
        const char *rcpt = get_str(enc, "recipient");
        FUZZ_CHECK(rcpt && !strcmp(rcpt, info->recipient));
        unsigned char sealed[LIRF_SEALED_KEY_BYTES], nonce[LIRF_NONCE_BYTES];
        b64(get_str(enc, "sealed_key"), sealed, sizeof sealed);
        b64(get_str(enc, "nonce"), nonce, sizeof nonce);
        FUZZ_CHECK(s->dep.n >= LIRF_AEAD_TAG_BYTES && r->len == s->dep.n - LIRF_AEAD_TAG_BYTES);
        unsigned char *copy = malloc(s->dep.n);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, s->dep.p, s->dep.n);
        size_t pl = 0;
        FUZZ_CHECK(lirf_seal_decrypt(keys->decrypt, sealed, nonce, AEAD_AD, strlen(AEAD_AD), copy,
                                     s->dep.n, &pl) == 0);
        FUZZ_CHECK(pl == r->len && (pl == 0 || memcmp(copy, r->dep, pl) == 0));
        free(copy);
    } else {
        FUZZ_CHECK(info->recipient[0] == '\0');
        FUZZ_CHECK(ver == LIRF_ARCHIVE_VERSION || !json_object_get(m, "encryption"));
        FUZZ_CHECK(r->len == s->dep.n && (r->len == 0 || memcmp(r->dep, s->dep.p, r->len) == 0));
    }
}

/* The manifest but for the fields the writer makes. */
static json_t *callers_fields(json_t *m) {
    json_t *c = json_deep_copy(m);
    FUZZ_CHECK(c != NULL);
    json_object_del(c, "members");
    json_object_del(c, "format_version");
    json_object_del(c, "signer");
    json_object_del(c, "encryption");
    json_object_del(c, "manifest_sha256");
    return c;
}

/* Written again signed by and encrypted to the test key, r reads back. */
static void check_rewrite(const result *r) {
    char *text = json_dumps(r->man, JSON_COMPACT);
    FUZZ_CHECK(text != NULL);
    lirf_archive_seal seal = {g_sec, g_pub};
    void *buf;
    size_t blen;
    lirf_status st = lirf_archive_write_sealed_mem(text, r->dep, r->len, LIRF_ARCHIVE_PLAIN,
                                                   &seal, &buf, &blen);
    free(text);
    if (st == LIRF_E_INVALID) {
        /* the one refusal a manifest the reader accepts may meet: written
         * indented, it would pass the 1 MiB limit (deep nesting) */
        char *ind = json_dumps(r->man, JSON_INDENT(2));
        FUZZ_CHECK(ind == NULL || strlen(ind) + 1 > LIRF_ARCHIVE_MAX_MANIFEST / 2);
        free(ind);
        return;
    }
    FUZZ_CHECK(st == LIRF_OK);
    result back;
    read_with(buf, blen, &g_keys, &back);
    FUZZ_CHECK(back.st == LIRF_OK);
    FUZZ_CHECK(back.info.is_signed && back.info.verified && back.info.encrypted);
    FUZZ_CHECK(back.len == r->len && (r->len == 0 || memcmp(back.dep, r->dep, r->len) == 0));
    json_t *a = callers_fields(r->man), *b = callers_fields(back.man);
    FUZZ_CHECK(json_equal(a, b));
    json_decref(a), json_decref(b);
    result_free(&back);
    free(buf);
}

static void same_result(const result *x, const result *y) {
    FUZZ_CHECK(json_equal(x->man, y->man));
    FUZZ_CHECK(x->len == y->len && (x->len == 0 || memcmp(x->dep, y->dep, x->len) == 0));
    FUZZ_CHECK(x->info.is_signed == y->info.is_signed && x->info.encrypted == y->info.encrypted);
    FUZZ_CHECK(!strcmp(x->info.signer, y->info.signer));
    FUZZ_CHECK(!strcmp(x->info.recipient, y->info.recipient));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    result a, c, b;
    read_with(data, size, NULL, &a);
    read_with(data, size, &g_decrypt_only, &c);
    read_with(data, size, &g_keys, &b);
    /* (c) accepts every archive that (a) or (b) accepts */
    fuzz_accepted = c.st == LIRF_OK;
    FUZZ_CHECK(fuzz_accepted || (a.st != LIRF_OK && b.st != LIRF_OK));
    if (!fuzz_accepted) return 0;
    stored s;
    walk(data, size, &s);
    check_accepted(&c, &s, &g_decrypt_only);
    /* (a): exactly the archives (c) accepts that are not encrypted */
    FUZZ_CHECK((a.st == LIRF_OK) == !c.info.encrypted);
    if (a.st == LIRF_OK) {
        check_accepted(&a, &s, NULL);
        same_result(&a, &c);
    }
    /* (b): exactly those signed by the test key */
    int by_test = c.info.is_signed && !strcmp(c.info.signer, lirf_key_id(g_pub));
    FUZZ_CHECK((b.st == LIRF_OK) == by_test);
    if (b.st == LIRF_OK) {
        check_accepted(&b, &s, &g_keys);
        same_result(&b, &c);
    }
    check_rewrite(&c);
    stored_free(&s);
    result_free(&a);
    result_free(&c);
    result_free(&b);
    return 0;
}
