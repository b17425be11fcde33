/* Keys, signatures and encryption of deposit archives (libsodium).
 *
 * A lirf identity is two key pairs made together: an Ed25519 pair that signs
 * deposit manifests and an X25519 pair that deposits are encrypted to. Its
 * key id is the first 8 bytes of SHA-256(ed25519 public || x25519 public), as
 * 16 lowercase hex digits; messages name keys by it ("signed by key X,
 * expected Y").
 *
 * `lirf keygen --out NAME` writes NAME.key (the secret key file, mode 0600,
 * never overwritten without --force) and NAME.pub (the public halves only).
 * Both are small text files; docs/archive.md gives their format.
 *
 * Secret bytes live in sodium_malloc'ed memory (guarded, locked where the
 * system allows, zeroed when freed) and never appear in a message or a log:
 * errors about a key file name the file, the line and the field, never its
 * contents. Key files are outside bytes: every length is checked, and a
 * secret key file must hold halves that match (seed -> public key) and the
 * key id they give.
 *
 * How archives use these keys: model/archive/lirf_archive.h (lirf_archive_write_sealed,
 * lirf_archive_read_sealed). Every call returns a status; none calls exit().
 */
#ifndef LIRF_SEAL_H
#define LIRF_SEAL_H

#include <stddef.h>

#include "lirf_runtime.h"

#define LIRF_KEY_ID_HEX 16 /* hex digits of a key id */
#define LIRF_KEY_FILE_MAX 4096 /* the largest key file read */

typedef struct lirf_key lirf_key;
typedef enum { LIRF_KEY_PUBLIC = 0, LIRF_KEY_SECRET = 1 } lirf_key_kind;

/* A new identity (secret key: both pairs) from libsodium's CSPRNG. */
lirf_status lirf_key_generate(lirf_key **out);

/* Writes k as a key file: LIRF_KEY_SECRET (k must be secret) with mode 0600,
 * LIRF_KEY_PUBLIC with mode 0644 (both less the umask). The file is created
 * with O_CREAT|O_EXCL|O_NOFOLLOW: an existing file (or symlink) is refused
 * with LIRF_E_INVALID unless force, which removes it first. A failed write
 * removes what it wrote. Errors: LIRF_E_NULL, LIRF_E_INVALID, LIRF_E_IO. */
lirf_status lirf_key_save(const lirf_key *k, const char *path, lirf_key_kind kind, int force);

/* lirf keygen: a new identity written to base.key and base.pub; refuses
 * (LIRF_E_INVALID, nothing written) when either exists, unless force. On
 * success *out (if not NULL) is the new secret key (lirf_key_free it). */
lirf_status lirf_keygen(const char *base, int force, lirf_key **out);

/* Reads a key file. want: LIRF_KEY_SECRET accepts only a secret key file
 * (.key), LIRF_KEY_PUBLIC only a public one (.pub); the other kind is
 * LIRF_E_INVALID with a message saying which file to give. A malformed,
 * truncated or inconsistent file is LIRF_E_FORMAT; missing: LIRF_E_NOT_FOUND;
 * unreadable: LIRF_E_IO. A secret key file that others may read is accepted
 * with a warning on the log. */
lirf_status lirf_key_load(const char *path, lirf_key_kind want, lirf_key **out);
/* The same from memory (for tests and fuzzing); `what` names it in errors. */
lirf_status lirf_key_parse(const void *text, size_t len, const char *what, lirf_key_kind want,
                           lirf_key **out);

void lirf_key_free(lirf_key *k); /* zeroes and frees the secret; NULL is fine */
lirf_key_kind lirf_key_kind_of(const lirf_key *k);
const char *lirf_key_id(const lirf_key *k); /* 16 hex digits */

/* ---- for model/archive/archive.c ------------------------------------------------ */
#define LIRF_SIGN_PUBLIC_BYTES 32u  /* crypto_sign_PUBLICKEYBYTES */
#define LIRF_SIGN_BYTES 64u         /* crypto_sign_BYTES */
#define LIRF_BOX_PUBLIC_BYTES 32u   /* crypto_box_PUBLICKEYBYTES */
#define LIRF_SEALED_KEY_BYTES 80u   /* crypto_box_SEALBYTES + the 32-byte AEAD key */
#define LIRF_NONCE_BYTES 24u        /* crypto_aead_xchacha20poly1305_ietf_NPUBBYTES */
#define LIRF_AEAD_TAG_BYTES 16u     /* crypto_aead_xchacha20poly1305_ietf_ABYTES */

const unsigned char *lirf_key_sign_public(const lirf_key *k);
const unsigned char *lirf_key_box_public(const lirf_key *k);
/* The key id of a pair of public keys (id: 16 hex digits + NUL). */
void lirf_key_id_of(const unsigned char *sign_pk, const unsigned char *box_pk, char id[17]);

/* Ed25519 detached signature of msg by secret key k. */
lirf_status lirf_seal_sign(const lirf_key *k, const void *msg, size_t len,
                           unsigned char sig[LIRF_SIGN_BYTES]);
/* 1 if sig is a valid signature of msg under sign_pk, else 0. */
int lirf_seal_verify(const unsigned char *sign_pk, const void *msg, size_t len,
                     const unsigned char *sig);

/* Encrypts pt (len bytes) to public key `to` with a fresh random key and nonce:
 * *ct (malloc'ed, len + LIRF_AEAD_TAG_BYTES bytes) is XChaCha20-Poly1305-IETF
 * with additional data ad; the key is sealed to `to`'s X25519 key
 * (crypto_box_seal) into sealed; the nonce is written to nonce. */
lirf_status lirf_seal_encrypt(const lirf_key *to, const void *pt, size_t len, const void *ad,
                              size_t ad_len, unsigned char **ct, size_t *ct_len,
                              unsigned char sealed[LIRF_SEALED_KEY_BYTES],
                              unsigned char nonce[LIRF_NONCE_BYTES]);
/* Opens sealed with secret key k and decrypts buf (len bytes: ciphertext then
 * tag) in place; *pt_len = len - LIRF_AEAD_TAG_BYTES. Returns 0 on success,
 * 1 when the sealed key does not open with k, 2 when the ciphertext, tag,
 * nonce or ad do not authenticate, 3 when len is shorter than a tag, -1 when
 * secure memory cannot be had. Sets no error message: the caller knows the
 * archive and says what failed. On failure buf's contents are undefined
 * (libsodium zeroes them when the tag does not verify). */
int lirf_seal_decrypt(const lirf_key *k, const unsigned char *sealed, const unsigned char *nonce,
                      const void *ad, size_t ad_len, unsigned char *buf, size_t len,
                      size_t *pt_len);

#endif
