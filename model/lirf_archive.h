/* The LIRF deposit archive: the knowledge removed from a network, as a POSIX
 * tar (pax/ustar, written and read with libarchive, never extracted to disk)
 * holding exactly two regular-file members, in this order:
 *
 *   manifest.json        a JSON object (at most 1 MiB): the caller's fields plus
 *                        "format", "format_version" and "members" (see below)
 *   deposit.safetensors  the deposit (at most 4 GiB)
 *
 * The archive may be plain, gzip- or zstd-compressed. Reading treats the bytes
 * as untrusted: every refusal is LIRF_E_FORMAT with a message naming the
 * archive and the problem (see lirf_archive_read). The format is described in
 * docs/archive.md; the implementation is model/archive.c.
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

typedef enum { LIRF_ARCHIVE_PLAIN = 0, LIRF_ARCHIVE_GZIP, LIRF_ARCHIVE_ZSTD } lirf_archive_compression;

#define LIRF_ARCHIVE_FORMAT "lirf-deposit"
#define LIRF_ARCHIVE_VERSION 1

#define LIRF_ARCHIVE_MANIFEST "manifest.json"
#define LIRF_ARCHIVE_DEPOSIT "deposit.safetensors"
/* Limits: the largest manifest.json member and the largest deposit. */
#define LIRF_ARCHIVE_MAX_MANIFEST ((size_t)1 << 20)
#define LIRF_ARCHIVE_MAX_DEPOSIT ((uint64_t)4 << 30)

/* manifest_json: a JSON object (text) made by the caller with every field it wants
 * (architecture, classes, hyperparameters, fingerprints...). The writer adds
 * "format": LIRF_ARCHIVE_FORMAT, "format_version": LIRF_ARCHIVE_VERSION and
 * "members": [{"name": "deposit.safetensors", "size": N, "sha256": "<hex>"}]
 * (overwriting those keys if present), writes manifest.json then
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
 * On failure *manifest and *deposit are NULL and *deposit_len 0. */
lirf_status lirf_archive_read(const char *path, json_t **manifest,
                              void **deposit, size_t *deposit_len);
/* The same from memory (for tests and fuzzing); `what` names it in errors. */
lirf_status lirf_archive_read_mem(const void *buf, size_t len, const char *what,
                                  json_t **manifest, void **deposit, size_t *deposit_len);

#endif
