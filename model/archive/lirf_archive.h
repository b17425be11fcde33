/* The LIRF deposit archive: the knowledge removed from a network, as a POSIX
 * tar (pax/ustar, written and read with libarchive, never extracted to disk)
 * holding these regular-file members, in this order:
 *
 *   manifest.json        a JSON object (at most 1 MiB): the caller's fields plus
 *                        "format", "format_version" and "members" (see below)
 *   manifest.sig         signed archives only: an Ed25519 signature of
 *                        manifest.json (at most 4 KiB)
 *   deposit.safetensors  the deposit (at most 4 GiB), encrypted in an
 *                        encrypted archive
 *
 * Plain archives are format_version 1 (two members); signed and/or encrypted
 * ones ("sealed", lirf_archive_write_sealed) are format_version 2, whose
 * manifest adds "signer" and/or "encryption". Keys: model/archive/seal.h.
 *
 * The archive may be plain, gzip- or zstd-compressed. Reading treats the bytes
 * as untrusted: every refusal is LIRF_E_FORMAT with a message naming the
 * archive and the problem (see lirf_archive_read). The format is described in
 * docs/archive.md; the implementation is model/archive/archive.c.
 *
 * (This header is not called archive.h: model/ is on every target's include
 * path ahead of /usr/include, so a model/archive.h would shadow libarchive's
 * <archive.h>.)
 */
#ifndef LIRF_DEPOSIT_ARCHIVE_H
#define LIRF_DEPOSIT_ARCHIVE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "lirf_runtime.h"
#include "seal.h"

typedef enum { LIRF_ARCHIVE_PLAIN = 0, LIRF_ARCHIVE_GZIP, LIRF_ARCHIVE_ZSTD } lirf_archive_compression;

#define LIRF_ARCHIVE_FORMAT "lirf-deposit"
#define LIRF_ARCHIVE_VERSION 1        /* plain archives */
#define LIRF_ARCHIVE_VERSION_SEALED 2 /* signed and/or encrypted archives */

#define LIRF_ARCHIVE_MANIFEST "manifest.json"
#define LIRF_ARCHIVE_DEPOSIT "deposit.safetensors"
#define LIRF_ARCHIVE_SIGNATURE "manifest.sig"
#define LIRF_ARCHIVE_CIPHER "xchacha20poly1305-ietf"
/* Limits: the largest manifest.json member, the largest deposit as stored
 * (an encrypted one holds a 16-byte tag more), the largest manifest.sig. */
#define LIRF_ARCHIVE_MAX_MANIFEST ((size_t)1 << 20)
#define LIRF_ARCHIVE_MAX_DEPOSIT ((uint64_t)4 << 30)
#define LIRF_ARCHIVE_MAX_SIGNATURE ((size_t)4096)

/* manifest_json: a JSON object (text) made by the caller with every field it wants
 * (architecture, classes, hyperparameters, fingerprints...). The writer adds
 * "format": LIRF_ARCHIVE_FORMAT, "format_version": LIRF_ARCHIVE_VERSION and
 * "members": [{"name": "deposit.safetensors", "size": N, "sha256": "<hex>"}]
 * (overwriting those keys if present, and dropping "signer" and "encryption",
 * which only sealed archives use), and as the first key "manifest_sha256",
 * the manifest's own checksum (docs/archive.md: the reader refuses a manifest
 * that fails it, and reads one without it), writes manifest.json then
 * deposit.safetensors as a POSIX (pax/ustar) tar with the chosen compression
 * filter, to a temporary file in the same folder, fsync, rename: a crash never
 * leaves a half-written archive under the final name.
 * Errors: LIRF_E_NULL (path, manifest_json, or deposit with deposit_len > 0),
 * LIRF_E_INVALID (manifest not a JSON object, manifest over 1 MiB once
 * written, deposit over 4 GiB, unknown compression), LIRF_E_UNSUPPORTED (the
 * libarchive in use has no built-in gzip / zstd), LIRF_E_IO. */
lirf_status lirf_archive_write(const char *path, const char *manifest_json,
                               const void *deposit, size_t deposit_len,
                               lirf_archive_compression comp);
/* The same into a malloc'ed buffer (*buf, *len; free() it). */
lirf_status lirf_archive_write_mem(const char *manifest_json, const void *deposit,
                                   size_t deposit_len, lirf_archive_compression comp,
                                   void **buf, size_t *len);

/* Signing and encryption when writing (either may be NULL). */
typedef struct {
    const lirf_key *sign;       /* a secret key: manifest.sig signs manifest.json */
    const lirf_key *encrypt_to; /* a public (or secret) key: the deposit is encrypted to it */
} lirf_archive_seal;

/* lirf_archive_write with signing and/or encryption; seal NULL or both keys
 * NULL: exactly lirf_archive_write (format_version 1). Otherwise
 * format_version 2:
 * - encrypt_to: the deposit is encrypted with a fresh random 32-byte key and
 *   24-byte nonce (XChaCha20-Poly1305-IETF, additional data
 *   "lirf-deposit/2/deposit.safetensors"); the key is sealed to encrypt_to's
 *   X25519 key (crypto_box_seal). The manifest's "encryption" holds cipher,
 *   member, recipient (key id), key_sealing, sealed_key and nonce (base64),
 *   and its "members" entry gives the size and SHA-256 of the stored
 *   (encrypted) bytes, so that a signature can be checked before decryption.
 * - sign: the manifest gets "signer": {"key_id", "algorithm": "ed25519"};
 *   then manifest.sig, between manifest.json and deposit.safetensors, holds
 *   the Ed25519 signature of "lirf-deposit/2/manifest.json", a NUL byte and
 *   manifest.json's exact bytes, with the signer's key id and public keys.
 * The caller's "signer" and "encryption" keys are dropped in either version.
 * Errors as lirf_archive_write, and LIRF_E_INVALID for a public key given to
 * sign, or a deposit over 4 GiB - 16 bytes to encrypt. */
lirf_status lirf_archive_write_sealed(const char *path, const char *manifest_json,
                                      const void *deposit, size_t deposit_len,
                                      lirf_archive_compression comp,
                                      const lirf_archive_seal *seal);
lirf_status lirf_archive_write_sealed_mem(const char *manifest_json, const void *deposit,
                                          size_t deposit_len, lirf_archive_compression comp,
                                          const lirf_archive_seal *seal, void **buf,
                                          size_t *len);

/* Reads straight from the archive (any compression libarchive has built in:
 * gzip, zstd, xz, bzip2, lz4; never an external program), all in memory.
 * Returns the manifest (parsed, caller json_decref's) and the
 * deposit.safetensors bytes (malloc'ed, never NULL, caller frees).
 * manifest.json must be the first member (so that the deposit is read only
 * up to the size the manifest declares). Refuses, with LIRF_E_FORMAT and a
 * message naming the archive and the problem: a member path with ".." or "/"
 * or empty; a member that is not a regular file (dir, symlink, hardlink,
 * device); an unknown member; a duplicate member; a missing member; a deposit
 * before the manifest; manifest.json larger than 1 MiB; invalid JSON or
 * duplicate keys; "format" other than LIRF_ARCHIVE_FORMAT; an unknown
 * "format_version"; "members" missing or malformed; a deposit larger or
 * smaller than the manifest says (never more than the declared size + 1 bytes
 * are read into memory); a SHA-256 mismatch; a deposit of more than 4 GiB
 * declared. Tar or compression corruption: LIRF_E_FORMAT with libarchive's
 * message. I/O errors: LIRF_E_IO (missing file: LIRF_E_NOT_FOUND).
 * On failure *manifest and *deposit are NULL and *deposit_len 0.
 * This is lirf_archive_read_sealed with no keys: a signed archive is read
 * with its signature checked under the key it carries; an encrypted one is
 * refused (its secret key is needed). */
lirf_status lirf_archive_read(const char *path, json_t **manifest,
                              void **deposit, size_t *deposit_len);
/* The same from memory (for tests and fuzzing); `what` names it in errors. */
lirf_status lirf_archive_read_mem(const void *buf, size_t len, const char *what,
                                  json_t **manifest, void **deposit, size_t *deposit_len);

/* What a reader asks of an archive (either key may be NULL). */
typedef struct {
    const lirf_key *verify;  /* a valid signature by this key is required */
    const lirf_key *decrypt; /* a secret key: decrypts a deposit encrypted to it */
} lirf_archive_unseal;

/* What a read found (all zero / "" for a plain archive). */
typedef struct {
    int is_signed; /* manifest.sig is there and verifies (under its own key at least) */
    int verified;  /* ... under unseal->verify: the archive comes from that key */
    int encrypted; /* the deposit was encrypted (and is returned decrypted) */
    char signer[LIRF_KEY_ID_HEX + 1];    /* key ids, "" when none */
    char recipient[LIRF_KEY_ID_HEX + 1];
} lirf_archive_info;

/* lirf_archive_read with keys (NULL: none) and an optional report (info).
 * Reads format_version 1 and 2. Beyond the refusals of lirf_archive_read,
 * each with LIRF_E_FORMAT and a message naming the archive and the keys:
 * manifest.sig anywhere but right after manifest.json, twice, over 4 KiB, in
 * a format_version 1 archive, malformed, or whose key id does not match its
 * public keys or the manifest's "signer"; a signature that does not verify
 * (any changed byte of manifest.json or manifest.sig); a manifest naming a
 * signer with no manifest.sig (a stripped signature); keys->verify given and
 * no signature ("not signed"), or one by another key ("signed by key X,
 * expected key Y"); a malformed "signer" or "encryption"; an encrypted
 * deposit without keys->decrypt, or encrypted to another key; a sealed key
 * that does not open, or a deposit that fails authentication. A deposit
 * swapped in from another archive fails the SHA-256 check of the (signed)
 * manifest. Without keys->verify a signature is still checked under the
 * public key it carries, which shows the archive intact but not who made it;
 * only keys->verify proves the origin. The order of checks: the signature
 * before the deposit is read, the deposit's size and SHA-256 before it is
 * decrypted (in place). */
lirf_status lirf_archive_read_sealed(const char *path, const lirf_archive_unseal *keys,
                                     json_t **manifest, void **deposit, size_t *deposit_len,
                                     lirf_archive_info *info);
lirf_status lirf_archive_read_sealed_mem(const void *buf, size_t len, const char *what,
                                         const lirf_archive_unseal *keys, json_t **manifest,
                                         void **deposit, size_t *deposit_len,
                                         lirf_archive_info *info);

#endif
