/* The LIRF deposit archive (model/archive/lirf_archive.h, docs/archive.md): a POSIX tar
 * holding manifest.json, manifest.sig (signed archives only) and
 * deposit.safetensors, written and read with libarchive entirely in memory
 * (nothing is ever extracted to disk).
 *
 * Writer: the caller's manifest completed with format, format_version,
 * members (size and SHA-256 of the deposit as stored) and its own checksum
 * (manifest_sha256, first), and for a sealed
 * archive the signer and the encryption fields; the deposit encrypted first
 * when asked, the manifest signed last; streamed as pax/ustar through the
 * chosen filter into a temporary file of the same folder, fsync'ed and
 * renamed. Reader: every header is checked before a member's bytes are read,
 * manifest.json must come first, its signature and then its own checksum
 * are checked before the deposit is read, and the deposit is read only up to
 * the size the manifest declares (+ 1 byte to detect a larger member),
 * hashed, then decrypted.
 * The keys and the cryptography: model/archive/seal.c.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "lirf_archive.h"

#define READ_BLOCK ((size_t)64 << 10) /* libarchive's read block from a file */

/* The signed message: this text and its NUL, then manifest.json's bytes. */
static const char SIGN_CONTEXT[] = "lirf-deposit/2/manifest.json";
/* The additional data of the deposit's encryption (without a NUL). */
static const char AEAD_AD[] = "lirf-deposit/2/deposit.safetensors";
#define SIG_FORMAT "lirf-deposit-signature"
#define SIG_ALGORITHM "ed25519"
#define KEY_SEALING "x25519-sealed-box"

/* ---- helpers --------------------------------------------------------------- */

/* A member name as it may appear in a message: non-printable bytes as \xNN,
 * long names cut. */
typedef struct {
    char s[160];
} qbuf;

static const char *qname(const char *name, qbuf *q) {
    size_t o = 0;
    if (!name) return "(no name)";
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (o + 8 >= sizeof q->s) {
            memcpy(q->s + o, "...", 4);
            return q->s;
        }
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            q->s[o++] = (char)*p;
        else
            o += (size_t)snprintf(q->s + o, sizeof q->s - o, "\\x%02x", *p);
    }
    q->s[o] = '\0';
    return q->s;
}

static const char *filetype_name(mode_t t) {
    switch (t) {
    case AE_IFDIR: return "directory";
    case AE_IFLNK: return "symlink";
    case AE_IFCHR: return "character device";
    case AE_IFBLK: return "block device";
    case AE_IFIFO: return "fifo";
    case AE_IFSOCK: return "socket";
    default: return "special entry";
    }
}

static int is_io_errno(int e) {
    return e == EIO || e == EACCES || e == EPERM || e == EISDIR || e == EBADF || e == ENXIO ||
           e == ENODEV || e == ENOSPC || e == EDQUOT || e == EFBIG || e == EROFS;
}

/* The failure of a libarchive call: LIRF_E_IO for a system I/O error,
 * LIRF_E_NOMEM, else LIRF_E_FORMAT, with libarchive's message. */
static lirf_status ar_fail(struct archive *a, const char *what, const char *doing) {
    int e = archive_errno(a);
    const char *msg = archive_error_string(a);
    if (!msg) msg = "unknown libarchive error";
    if (e == ENOMEM) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory %s: %s", what, doing, msg);
    if (is_io_errno(e))
        return LIRF_FAIL(LIRF_E_IO, "%s: I/O error %s: %s", what, doing, msg);
    return LIRF_FAIL(LIRF_E_FORMAT, "%s: corrupt, truncated or not a tar archive (%s): %s", what,
                     doing, msg);
}

/* ---- writer ---------------------------------------------------------------- */

static const char *comp_name(lirf_archive_compression comp) {
    switch (comp) {
    case LIRF_ARCHIVE_PLAIN: return "plain";
    case LIRF_ARCHIVE_GZIP: return "gzip";
    case LIRF_ARCHIVE_ZSTD: return "zstd";
    }
    return "unknown";
}

static lirf_status check_write_args(const char *fn, const char *manifest_json, const void *deposit,
                                    size_t deposit_len, lirf_archive_compression comp) {
    if (!manifest_json) return LIRF_FAIL(LIRF_E_NULL, "%s: manifest_json is NULL", fn);
    if (!deposit && deposit_len > 0) return LIRF_FAIL(LIRF_E_NULL, "%s: deposit is NULL", fn);
    if ((uint64_t)deposit_len > LIRF_ARCHIVE_MAX_DEPOSIT)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: deposit of %zu bytes is larger than the 4 GiB limit",
                         fn, deposit_len);
    switch (comp) {
    case LIRF_ARCHIVE_PLAIN: return LIRF_OK;
    case LIRF_ARCHIVE_GZIP:
        if (!archive_zlib_version())
            return LIRF_FAIL(LIRF_E_UNSUPPORTED,
                             "%s: gzip compression is not available: libarchive %s was built "
                             "without zlib", fn, archive_version_string());
        return LIRF_OK;
    case LIRF_ARCHIVE_ZSTD:
        if (!archive_libzstd_version())
            return LIRF_FAIL(LIRF_E_UNSUPPORTED,
                             "%s: zstd compression is not available: libarchive %s was built "
                             "without libzstd", fn, archive_version_string());
        return LIRF_OK;
    }
    return LIRF_FAIL(LIRF_E_INVALID, "%s: unknown compression %d", fn, (int)comp);
}

/* manifest.json's own checksum: the top-level key "manifest_sha256", whose
 * value is the SHA-256 of the manifest's bytes as stored with that value
 * replaced by 64 '0's. It is the first key, and the text starts exactly with
 * MAN_SUM_START (jansson's indented output), so the reader finds it in the
 * bytes without parsing. */
#define MAN_SUM_KEY "manifest_sha256"
static const char MAN_SUM_START[] = "{\n  \"" MAN_SUM_KEY "\": \"";

/* Where the 64 digits after MAN_SUM_START start in text[0, n), or -1 when
 * text does not start with it or it is not followed by 64 characters and '"'. */
static long man_sum_at(const char *text, size_t n) {
    const size_t pl = sizeof MAN_SUM_START - 1;
    if (n < pl + 65 || memcmp(text, MAN_SUM_START, pl) != 0 || text[pl + 64] != '"') return -1;
    return (long)pl;
}

/* The checksum of manifest text[0, n) whose digits start at `at`. */
static lirf_status man_sum(const char *text, size_t n, long at, char hex[65]) {
    char *c = malloc(n ? n : 1);
    if (!c) return LIRF_FAIL(LIRF_E_NOMEM, "out of memory checking manifest.json");
    memcpy(c, text, n);
    memset(c + at, '0', 64);
    lirf_sha256_hex(c, n, hex);
    free(c);
    return LIRF_OK;
}

/* The caller's manifest with format, format_version and members set (and,
 * when given, signer and encryption; those two keys are reserved: a caller's
 * own are dropped), as indented JSON text ending in a newline (malloc'ed).
 * stored: the deposit as stored in the archive. */
static lirf_status build_manifest(const char *fn, const char *manifest_json, const void *stored,
                                  size_t stored_len, int version, json_t *signer,
                                  json_t *encryption, char **text, size_t *text_len) {
    json_error_t jerr;
    json_t *m = json_loads(manifest_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!m)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: manifest is not valid JSON: %s (line %d, column %d)",
                         fn, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(m)) {
        json_decref(m);
        return LIRF_FAIL(LIRF_E_INVALID, "%s: manifest must be a JSON object", fn);
    }
    json_object_del(m, "signer");
    json_object_del(m, "encryption");
    json_object_del(m, MAN_SUM_KEY);
    char hex[65];
    lirf_sha256_hex(stored ? stored : "", stored_len, hex);
    json_t *members = json_pack("[{s:s, s:I, s:s}]", "name", LIRF_ARCHIVE_DEPOSIT, "size",
                                (json_int_t)stored_len, "sha256", hex);
    if (!members || json_object_set_new(m, "format", json_string(LIRF_ARCHIVE_FORMAT)) != 0 ||
        json_object_set_new(m, "format_version", json_integer(version)) != 0 ||
        json_object_set_new(m, "members", members) != 0 ||
        (signer && json_object_set(m, "signer", signer) != 0) ||
        (encryption && json_object_set(m, "encryption", encryption) != 0)) {
        json_decref(m);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory building the manifest", fn);
    }
    /* the checksum's placeholder first, then the rest in order */
    json_t *o = json_pack("{s:s}", MAN_SUM_KEY,
                          "0000000000000000000000000000000000000000000000000000000000000000");
    if (!o || json_object_update(o, m) != 0) {
        json_decref(o);
        json_decref(m);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory building the manifest", fn);
    }
    json_decref(m);
    char *s = json_dumps(o, JSON_INDENT(2));
    json_decref(o);
    if (!s) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory writing the manifest", fn);
    size_t n = strlen(s);
    long at = man_sum_at(s, n);
    if (at < 0) {
        free(s);
        return LIRF_FAIL(LIRF_E_UNSUPPORTED,
                         "%s: this jansson indents JSON otherwise than lirf expects: "
                         "manifest.json's checksum cannot be placed", fn);
    }
    if (n + 1 > LIRF_ARCHIVE_MAX_MANIFEST) {
        free(s);
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s: manifest.json would be %zu bytes, larger than the 1 MiB limit", fn,
                         n + 1);
    }
    char *t = realloc(s, n + 2);
    if (!t) {
        free(s);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", fn);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    lirf_status st = man_sum(t, n + 1, at, hex); /* over the bytes as stored */
    if (st != LIRF_OK) {
        free(t);
        return st;
    }
    memcpy(t + at, hex, 64);
    *text = t;
    *text_len = n + 1;
    return LIRF_OK;
}

static void to_b64(char *out, size_t cap, const unsigned char *bin, size_t n) {
    sodium_bin2base64(out, cap, bin, n, sodium_base64_VARIANT_ORIGINAL);
}

/* The signed message: SIGN_CONTEXT with its NUL, then the manifest's bytes. */
static unsigned char *signed_message(const void *man, size_t man_len, size_t *len) {
    unsigned char *msg = malloc(sizeof SIGN_CONTEXT + man_len);
    if (!msg) return NULL;
    memcpy(msg, SIGN_CONTEXT, sizeof SIGN_CONTEXT);
    memcpy(msg + sizeof SIGN_CONTEXT, man, man_len);
    *len = sizeof SIGN_CONTEXT + man_len;
    return msg;
}

/* manifest.sig for manifest text man signed by sk: compact JSON + newline. */
static lirf_status make_signature(const char *fn, const lirf_key *sk, const char *man,
                                  size_t man_len, char **out, size_t *out_len) {
    size_t mlen;
    unsigned char *msg = signed_message(man, man_len, &mlen);
    if (!msg) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory signing the manifest", fn);
    unsigned char sig[LIRF_SIGN_BYTES];
    lirf_status st = lirf_seal_sign(sk, msg, mlen, sig);
    free(msg);
    LIRF_TRY(st);
    char spk[64], bpk[64], s64[128];
    to_b64(spk, sizeof spk, lirf_key_sign_public(sk), LIRF_SIGN_PUBLIC_BYTES);
    to_b64(bpk, sizeof bpk, lirf_key_box_public(sk), LIRF_BOX_PUBLIC_BYTES);
    to_b64(s64, sizeof s64, sig, sizeof sig);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "format", SIG_FORMAT, "algorithm",
                          SIG_ALGORITHM, "key_id", lirf_key_id(sk), "ed25519_public", spk,
                          "x25519_public", bpk, "signature", s64);
    char *s = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    size_t n = s ? strlen(s) : 0;
    char *t = s ? realloc(s, n + 2) : NULL;
    if (!t) {
        free(s);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory writing manifest.sig", fn);
    }
    t[n] = '\n';
    t[n + 1] = '\0';
    *out = t;
    *out_len = n + 1;
    return LIRF_OK;
}

/* What a writer stores: manifest.json, manifest.sig (signed archives only)
 * and the deposit as stored (the caller's bytes or their ciphertext). */
typedef struct {
    char *man, *sig;
    size_t man_len, sig_len;
    const void *dep;
    size_t dep_len;
    unsigned char *ct; /* the ciphertext, when encrypted (owned) */
} prepared;

static void prepared_free(prepared *p) {
    free(p->man);
    free(p->sig);
    free(p->ct);
    memset(p, 0, sizeof *p);
}

/* Encrypts (seal->encrypt_to) first, so that the manifest describes the stored
 * bytes, then builds the manifest, then signs it (seal->sign). */
static lirf_status prepare(const char *fn, const char *manifest_json, const void *deposit,
                           size_t deposit_len, const lirf_archive_seal *seal, prepared *p) {
    memset(p, 0, sizeof *p);
    p->dep = deposit ? deposit : "";
    p->dep_len = deposit_len;
    const lirf_key *sk = seal ? seal->sign : NULL, *to = seal ? seal->encrypt_to : NULL;
    if (!sk && !to)
        return build_manifest(fn, manifest_json, p->dep, p->dep_len, LIRF_ARCHIVE_VERSION, NULL,
                              NULL, &p->man, &p->man_len);
    if (sk && lirf_key_kind_of(sk) != LIRF_KEY_SECRET)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: signing needs a secret key; key %s is public", fn,
                         lirf_key_id(sk));
    if (to && (uint64_t)deposit_len + LIRF_AEAD_TAG_BYTES > LIRF_ARCHIVE_MAX_DEPOSIT)
        return LIRF_FAIL(LIRF_E_INVALID,
                         "%s: deposit of %zu bytes is too large to encrypt (with its %u-byte tag) "
                         "within the 4 GiB limit", fn, deposit_len, LIRF_AEAD_TAG_BYTES);
    json_t *signer = NULL, *enc = NULL;
    lirf_status st = LIRF_OK;
    if (to) {
        unsigned char sealed[LIRF_SEALED_KEY_BYTES], nonce[LIRF_NONCE_BYTES];
        st = lirf_seal_encrypt(to, p->dep, p->dep_len, AEAD_AD, strlen(AEAD_AD), &p->ct,
                               &p->dep_len, sealed, nonce);
        if (st == LIRF_OK) {
            char s64[128], n64[64];
            to_b64(s64, sizeof s64, sealed, sizeof sealed);
            to_b64(n64, sizeof n64, nonce, sizeof nonce);
            p->dep = p->ct;
            enc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "cipher", LIRF_ARCHIVE_CIPHER,
                            "member", LIRF_ARCHIVE_DEPOSIT, "recipient", lirf_key_id(to),
                            "key_sealing", KEY_SEALING, "sealed_key", s64, "nonce", n64);
            if (!enc) st = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", fn);
        }
    }
    if (st == LIRF_OK && sk) {
        signer = json_pack("{s:s, s:s}", "key_id", lirf_key_id(sk), "algorithm", SIG_ALGORITHM);
        if (!signer) st = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", fn);
    }
    if (st == LIRF_OK)
        st = build_manifest(fn, manifest_json, p->dep, p->dep_len, LIRF_ARCHIVE_VERSION_SEALED,
                            signer, enc, &p->man, &p->man_len);
    json_decref(signer);
    json_decref(enc);
    if (st == LIRF_OK && sk) st = make_signature(fn, sk, p->man, p->man_len, &p->sig, &p->sig_len);
    if (st != LIRF_OK) prepared_free(p);
    return st;
}

static int write_member(struct archive *a, const char *name, const void *data, size_t len,
                        time_t mtime) {
    struct archive_entry *e = archive_entry_new();
    if (!e) return ARCHIVE_FATAL;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, (la_int64_t)len);
    archive_entry_set_mtime(e, mtime, 0);
    int r = archive_write_header(a, e);
    archive_entry_free(e);
    if (r != ARCHIVE_OK) return r;
    const char *p = data;
    while (len > 0) {
        size_t chunk = len < ((size_t)1 << 20) ? len : ((size_t)1 << 20);
        la_ssize_t w = archive_write_data(a, p, chunk);
        if (w <= 0) return ARCHIVE_FATAL;
        p += w;
        len -= (size_t)w;
    }
    return ARCHIVE_OK;
}

/* Opens a writer: pax/ustar, the filter, no padding of the last block. */
static lirf_status writer_new(const char *what, lirf_archive_compression comp,
                              struct archive **out) {
    struct archive *a = archive_write_new();
    if (!a) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", what);
    int r = archive_write_set_format_pax_restricted(a);
    if (r == ARCHIVE_OK) r = archive_write_set_bytes_in_last_block(a, 1);
    if (r != ARCHIVE_OK) {
        lirf_status st = ar_fail(a, what, "setting up the tar writer");
        archive_write_free(a);
        return st;
    }
    switch (comp) {
    case LIRF_ARCHIVE_PLAIN: r = archive_write_add_filter_none(a); break;
    case LIRF_ARCHIVE_GZIP: r = archive_write_add_filter_gzip(a); break;
    case LIRF_ARCHIVE_ZSTD: r = archive_write_add_filter_zstd(a); break;
    }
    /* ARCHIVE_WARN means "will run an external program": not for us. */
    if (r != ARCHIVE_OK) {
        const char *msg = archive_error_string(a);
        lirf_status st = LIRF_FAIL(LIRF_E_UNSUPPORTED,
                                   "%s: %s compression is not available in libarchive %s: %s",
                                   what, comp_name(comp), archive_version_string(),
                                   msg ? msg : "no built-in filter");
        archive_write_free(a);
        return st;
    }
    *out = a;
    return LIRF_OK;
}

/* Writes the members and closes the archive (a is freed). */
static lirf_status writer_fill(struct archive *a, const char *what, const prepared *p) {
    time_t now = time(NULL);
    lirf_status st = LIRF_OK;
    if (write_member(a, LIRF_ARCHIVE_MANIFEST, p->man, p->man_len, now) != ARCHIVE_OK)
        st = ar_fail(a, what, "writing manifest.json");
    else if (p->sig && write_member(a, LIRF_ARCHIVE_SIGNATURE, p->sig, p->sig_len, now) !=
                           ARCHIVE_OK)
        st = ar_fail(a, what, "writing manifest.sig");
    else if (write_member(a, LIRF_ARCHIVE_DEPOSIT, p->dep, p->dep_len, now) != ARCHIVE_OK)
        st = ar_fail(a, what, "writing deposit.safetensors");
    else if (archive_write_close(a) != ARCHIVE_OK)
        st = ar_fail(a, what, "finishing the archive");
    if (st == LIRF_E_FORMAT) st = LIRF_E_IO; /* a writer reads no outside bytes */
    archive_write_free(a);
    return st;
}

typedef struct {
    unsigned char *p;
    size_t len, cap;
} membuf;

static la_ssize_t mem_write_cb(struct archive *a, void *client, const void *buf, size_t n) {
    membuf *m = client;
    if (m->len + n > m->cap) {
        size_t cap = m->cap ? m->cap : 65536;
        while (cap < m->len + n) cap *= 2;
        unsigned char *p = realloc(m->p, cap);
        if (!p) {
            archive_set_error(a, ENOMEM, "out of memory");
            return -1;
        }
        m->p = p;
        m->cap = cap;
    }
    memcpy(m->p + m->len, buf, n);
    m->len += n;
    return (la_ssize_t)n;
}

lirf_status lirf_archive_write_sealed_mem(const char *manifest_json, const void *deposit,
                                          size_t deposit_len, lirf_archive_compression comp,
                                          const lirf_archive_seal *seal, void **buf, size_t *len) {
    const char *fn = "lirf_archive_write_mem";
    if (!buf || !len) return LIRF_FAIL(LIRF_E_NULL, "%s: buf or len is NULL", fn);
    *buf = NULL;
    *len = 0;
    LIRF_TRY(check_write_args(fn, manifest_json, deposit, deposit_len, comp));
    prepared p;
    LIRF_TRY(prepare(fn, manifest_json, deposit, deposit_len, seal, &p));
    struct archive *a;
    lirf_status st = writer_new(fn, comp, &a);
    if (st != LIRF_OK) {
        prepared_free(&p);
        return st;
    }
    membuf m = {NULL, 0, 0};
    if (archive_write_open2(a, &m, NULL, mem_write_cb, NULL, NULL) != ARCHIVE_OK) {
        st = ar_fail(a, fn, "opening the archive");
        archive_write_free(a);
    } else {
        st = writer_fill(a, fn, &p);
    }
    prepared_free(&p);
    if (st != LIRF_OK) {
        free(m.p);
        return st;
    }
    *buf = m.p;
    *len = m.len;
    return LIRF_OK;
}

lirf_status lirf_archive_write_sealed(const char *path, const char *manifest_json,
                                      const void *deposit, size_t deposit_len,
                                      lirf_archive_compression comp,
                                      const lirf_archive_seal *seal) {
    const char *fn = "lirf_archive_write";
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "%s: path is NULL", fn);
    LIRF_TRY(check_write_args(fn, manifest_json, deposit, deposit_len, comp));
    prepared p;
    LIRF_TRY(prepare(fn, manifest_json, deposit, deposit_len, seal, &p));

    /* A temporary name of our own in the target folder: pid + a counter, so
     * that threads and processes writing the same path do not collide. */
    static atomic_uint counter;
    size_t tlen = strlen(path) + 48;
    char *tmp = malloc(tlen);
    if (!tmp) {
        prepared_free(&p);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", fn);
    }
    int fd = -1;
    for (int tries = 0; fd < 0 && tries < 100; tries++) {
        snprintf(tmp, tlen, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) {
        lirf_status st = LIRF_FAIL(LIRF_E_IO, "%s: cannot create %s: %s", path, tmp,
                                   strerror(errno));
        free(tmp);
        prepared_free(&p);
        return st;
    }

    struct archive *a;
    lirf_status st = writer_new(path, comp, &a);
    if (st == LIRF_OK) {
        if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
            st = ar_fail(a, path, "opening the temporary file");
            if (st == LIRF_E_FORMAT) st = LIRF_E_IO;
            archive_write_free(a);
        } else {
            st = writer_fill(a, path, &p);
        }
    }
    prepared_free(&p);
    if (st == LIRF_OK) lirf_crash_point("archive-write-mid");
    if (st == LIRF_OK && fsync(fd) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
    if (close(fd) != 0 && st == LIRF_OK)
        st = LIRF_FAIL(LIRF_E_IO, "%s: close of %s failed: %s", path, tmp, strerror(errno));
    if (st == LIRF_OK) lirf_crash_point("archive-write-rename");
    if (st == LIRF_OK && rename(tmp, path) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != LIRF_OK) unlink(tmp);
    free(tmp);
    LIRF_TRY(st);
    return lirf_fsync_parent(path);
}


lirf_status lirf_archive_write_mem(const char *manifest_json, const void *deposit,
                                   size_t deposit_len, lirf_archive_compression comp,
                                   void **buf, size_t *len) {
    return lirf_archive_write_sealed_mem(manifest_json, deposit, deposit_len, comp, NULL, buf, len);
}

lirf_status lirf_archive_write(const char *path, const char *manifest_json, const void *deposit,
                               size_t deposit_len, lirf_archive_compression comp) {
    return lirf_archive_write_sealed(path, manifest_json, deposit, deposit_len, comp, NULL);
}

/* ---- reader ---------------------------------------------------------------- */

/* What the manifest says: the deposit's size and hash as stored and, in
 * format_version 2, who signed it and how the deposit is encrypted. */
typedef struct {
    uint64_t size;
    char sha256[65]; /* lowercase hex */
    int version;
    char signer[LIRF_KEY_ID_HEX + 1];    /* "" when the manifest names none */
    char recipient[LIRF_KEY_ID_HEX + 1]; /* "" when the deposit is not encrypted */
    unsigned char sealed[LIRF_SEALED_KEY_BYTES], nonce[LIRF_NONCE_BYTES];
} declared;

static int is_hex64(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f') ||
              (s[n] >= 'A' && s[n] <= 'F')))
            return 0;
    return n == 64;
}

static lirf_status check_members(const char *what, json_t *members, declared *d) {
    if (!members)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json has no \"members\" list", what);
    if (!json_is_array(members))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json: \"members\" is not an array", what);
    int found = 0;
    size_t i;
    json_t *m;
    json_array_foreach(members, i, m) {
        if (!json_is_object(m))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json: \"members\"[%zu] is not an object",
                             what, i);
        json_t *name = json_object_get(m, "name"), *size = json_object_get(m, "size"),
               *sha = json_object_get(m, "sha256");
        if (!json_is_string(name))
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json: \"members\"[%zu] has no string \"name\"", what, i);
        qbuf q;
        if (strcmp(json_string_value(name), LIRF_ARCHIVE_DEPOSIT) != 0)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json: \"members\"[%zu] names unknown member '%s' "
                             "(only deposit.safetensors is listed)",
                             what, i, qname(json_string_value(name), &q));
        if (found)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json: \"members\" lists deposit.safetensors twice",
                             what);
        found = 1;
        if (!json_is_integer(size) || json_integer_value(size) < 0)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json: \"members\"[%zu] (deposit.safetensors) has no "
                             "non-negative integer \"size\"", what, i);
        d->size = (uint64_t)json_integer_value(size);
        if (d->size > LIRF_ARCHIVE_MAX_DEPOSIT)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json declares a deposit.safetensors of %" PRIu64
                             " bytes, larger than the 4 GiB limit", what, d->size);
        if (d->size >= (uint64_t)SIZE_MAX)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors of %" PRIu64 " bytes does not fit in memory",
                             what, d->size);
        if (!json_is_string(sha) || !is_hex64(json_string_value(sha)))
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json: \"members\"[%zu] (deposit.safetensors) has no "
                             "\"sha256\" of 64 hex digits", what, i);
        const char *h = json_string_value(sha);
        for (int k = 0; k < 64; k++)
            d->sha256[k] = (char)(h[k] >= 'A' && h[k] <= 'F' ? h[k] - 'A' + 'a' : h[k]);
        d->sha256[64] = '\0';
    }
    if (!found)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json: \"members\" does not list deposit.safetensors", what);
    return LIRF_OK;
}

static int is_key_id(const char *s) {
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f'))) return 0;
    return n == LIRF_KEY_ID_HEX;
}

/* Object o (called `obj` in messages, found in `member`) must hold exactly
 * the n keys given, each a string. */
static lirf_status exact_string_keys(const char *what, const char *member, const char *obj,
                                     json_t *o, const char *const *keys, size_t n) {
    if (!json_is_object(o))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s: %s is not a JSON object", what, member, obj);
    const char *k;
    json_t *v;
    qbuf q;
    json_object_foreach(o, k, v) {
        size_t i = 0;
        while (i < n && strcmp(k, keys[i]) != 0) i++;
        if (i == n)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s: %s has an unknown field '%s'", what, member,
                             obj, qname(k, &q));
    }
    for (size_t i = 0; i < n; i++)
        if (!json_is_string(json_object_get(o, keys[i])))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s: %s has no string \"%s\"", what, member, obj,
                             keys[i]);
    return LIRF_OK;
}

static const char *str_of(json_t *o, const char *key) {
    return json_string_value(json_object_get(o, key));
}

/* o[key] must be the base64 of exactly n bytes, decoded into out. */
static lirf_status b64_field(const char *what, const char *member, json_t *o, const char *key,
                             unsigned char *out, size_t n) {
    const char *s = str_of(o, key);
    size_t got = 0, len = s ? strlen(s) : 0;
    const char *end = NULL;
    if (!s || sodium_base642bin(out, n, s, len, NULL, &got, &end,
                                sodium_base64_VARIANT_ORIGINAL) != 0 ||
        got != n || end != s + len)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s: \"%s\" is not the base64 of %zu bytes", what,
                         member, key, n);
    return LIRF_OK;
}

/* A string field that must have one value. */
static lirf_status want_value(const char *what, const char *member, json_t *o, const char *key,
                              const char *want) {
    const char *s = str_of(o, key);
    qbuf q;
    if (!s || strcmp(s, want) != 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: %s: %s \"%s\" is not supported (this lirf knows \"%s\")", what,
                         member, key, s ? qname(s, &q) : "", want);
    return LIRF_OK;
}

static lirf_status key_id_field(const char *what, const char *member, json_t *o, const char *key,
                                char out[LIRF_KEY_ID_HEX + 1]) {
    const char *s = str_of(o, key);
    if (!s || !is_key_id(s))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %s: \"%s\" is not a key id (%d lowercase hex digits)",
                         what, member, key, LIRF_KEY_ID_HEX);
    memcpy(out, s, LIRF_KEY_ID_HEX + 1);
    return LIRF_OK;
}

/* "signer": {"key_id": ID, "algorithm": "ed25519"} (format_version 2). */
static lirf_status check_signer(const char *what, json_t *s, declared *d) {
    static const char *const keys[] = {"key_id", "algorithm"};
    if (!s) return LIRF_OK;
    const char *mj = LIRF_ARCHIVE_MANIFEST;
    LIRF_TRY(exact_string_keys(what, mj, "\"signer\"", s, keys, 2));
    LIRF_TRY(want_value(what, mj, s, "algorithm", SIG_ALGORITHM));
    return key_id_field(what, mj, s, "key_id", d->signer);
}

/* "encryption": {cipher, member, recipient, key_sealing, sealed_key, nonce}
 * (format_version 2). */
static lirf_status check_encryption(const char *what, json_t *e, declared *d) {
    static const char *const keys[] = {"cipher", "member", "recipient",
                                       "key_sealing", "sealed_key", "nonce"};
    if (!e) return LIRF_OK;
    const char *mj = LIRF_ARCHIVE_MANIFEST;
    LIRF_TRY(exact_string_keys(what, mj, "\"encryption\"", e, keys, 6));
    LIRF_TRY(want_value(what, mj, e, "cipher", LIRF_ARCHIVE_CIPHER));
    LIRF_TRY(want_value(what, mj, e, "member", LIRF_ARCHIVE_DEPOSIT));
    LIRF_TRY(want_value(what, mj, e, "key_sealing", KEY_SEALING));
    LIRF_TRY(key_id_field(what, mj, e, "recipient", d->recipient));
    LIRF_TRY(b64_field(what, mj, e, "sealed_key", d->sealed, sizeof d->sealed));
    LIRF_TRY(b64_field(what, mj, e, "nonce", d->nonce, sizeof d->nonce));
    if (d->size < LIRF_AEAD_TAG_BYTES)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the encrypted deposit.safetensors is declared as %" PRIu64
                         " bytes, shorter than its %u-byte authentication tag", what, d->size,
                         LIRF_AEAD_TAG_BYTES);
    return LIRF_OK;
}

static lirf_status check_manifest(const char *what, json_t *m, declared *d) {
    if (!json_is_object(m))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json is not a JSON object", what);
    json_t *fmt = json_object_get(m, "format");
    if (!fmt)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json has no \"format\" (expected \"%s\"): not a lirf "
                         "deposit archive", what, LIRF_ARCHIVE_FORMAT);
    qbuf q;
    if (!json_is_string(fmt) || strcmp(json_string_value(fmt), LIRF_ARCHIVE_FORMAT) != 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json format is %s%s%s, not \"%s\": not a lirf deposit "
                         "archive", what, json_is_string(fmt) ? "\"" : "",
                         json_is_string(fmt) ? qname(json_string_value(fmt), &q) : "not a string",
                         json_is_string(fmt) ? "\"" : "", LIRF_ARCHIVE_FORMAT);
    json_t *ver = json_object_get(m, "format_version");
    if (!ver)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json has no \"format_version\"", what);
    if (!json_is_integer(ver))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json format_version is not an integer (this lirf reads "
                         "format_version %d and %d)", what, LIRF_ARCHIVE_VERSION,
                         LIRF_ARCHIVE_VERSION_SEALED);
    json_int_t v = json_integer_value(ver);
    if (v != LIRF_ARCHIVE_VERSION && v != LIRF_ARCHIVE_VERSION_SEALED)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: format_version %" JSON_INTEGER_FORMAT
                         " is not supported: this lirf reads format_version %d and %d",
                         what, v, LIRF_ARCHIVE_VERSION, LIRF_ARCHIVE_VERSION_SEALED);
    d->version = (int)v;
    LIRF_TRY(check_members(what, json_object_get(m, "members"), d));
    /* In format_version 1 "signer" and "encryption" are ordinary caller fields. */
    if (v == LIRF_ARCHIVE_VERSION_SEALED) {
        LIRF_TRY(check_signer(what, json_object_get(m, "signer"), d));
        LIRF_TRY(check_encryption(what, json_object_get(m, "encryption"), d));
        /* lirf writes format_version 2 only for a signed or encrypted archive */
        if (!d->signer[0] && !d->recipient[0])
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.json says format_version %d but names neither a "
                             "signer nor an encryption", what, LIRF_ARCHIVE_VERSION_SEALED);
    }
    return LIRF_OK;
}

/* Reads the current member's data into a malloc'ed buffer (never NULL),
 * reading at most limit + 1 bytes; *over is set when the member holds more
 * than limit bytes. Memory grows with the bytes actually read, so a large
 * declared limit costs nothing until the data is there. */
static lirf_status read_bounded(struct archive *a, const char *what, const char *member,
                                size_t limit, unsigned char **out, size_t *got, int *over) {
    size_t cap = limit + 1 < READ_BLOCK ? limit + 1 : READ_BLOCK;
    unsigned char *buf = malloc(cap);
    if (!buf) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory reading %s", what, member);
    size_t n = 0;
    *over = 0;
    for (;;) {
        if (n == cap) {
            if (cap == limit + 1) {
                *over = 1;
                break;
            }
            size_t nc = cap * 2 > limit + 1 ? limit + 1 : cap * 2;
            unsigned char *p = realloc(buf, nc);
            if (!p) {
                free(buf);
                return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory reading %s", what, member);
            }
            buf = p;
            cap = nc;
        }
        la_ssize_t r = archive_read_data(a, buf + n, cap - n);
        if (r < 0) {
            free(buf);
            char doing[64];
            snprintf(doing, sizeof doing, "reading %s", member);
            return ar_fail(a, what, doing);
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    *out = buf;
    *got = n;
    return LIRF_OK;
}

/* The state of one read. */
typedef struct {
    const char *what;
    const lirf_archive_unseal *keys; /* may be NULL */
    declared d;
    json_t *manifest;
    unsigned char *man_raw; /* manifest.json's bytes as stored: what the signature covers */
    size_t man_len;
    int got_sig;
    unsigned char *deposit;
    size_t deposit_len;
    lirf_archive_info info;
} reader;

/* manifest.json's checksum, when it has one (archives written before it
 * existed, and hand-made ones, have none). */
static lirf_status check_man_sum(const char *what, json_t *m, const unsigned char *raw,
                                 size_t n) {
    json_t *v = json_object_get(m, MAN_SUM_KEY);
    if (!v) return LIRF_OK;
    if (!json_is_string(v) || !is_hex64(json_string_value(v)))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json: \"" MAN_SUM_KEY "\" is not 64 hex digits", what);
    long at = man_sum_at((const char *)raw, n);
    if (at < 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json: \"" MAN_SUM_KEY "\" is not written as lirf "
                         "writes it (the first key: the text starts with '{', a newline, two "
                         "spaces and \"" MAN_SUM_KEY "\": \"<64 hex digits>\")",
                         what);
    char hex[65];
    LIRF_TRY(man_sum((const char *)raw, n, at, hex));
    if (strncasecmp(hex, (const char *)raw + at, 64) != 0 ||
        strcasecmp(hex, json_string_value(v)) != 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json fails its checksum (\"" MAN_SUM_KEY "\"): the "
                         "manifest was damaged or edited after writing", what);
    return LIRF_OK;
}

static lirf_status read_manifest(struct archive *a, struct archive_entry *e, reader *r) {
    const char *what = r->what;
    if (archive_entry_size_is_set(e) &&
        (uint64_t)archive_entry_size(e) > (uint64_t)LIRF_ARCHIVE_MAX_MANIFEST)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json is %" PRId64 " bytes, larger than the 1 MiB limit",
                         what, (int64_t)archive_entry_size(e));
    unsigned char *buf;
    size_t n;
    int over;
    LIRF_TRY(read_bounded(a, what, LIRF_ARCHIVE_MANIFEST, LIRF_ARCHIVE_MAX_MANIFEST, &buf, &n,
                          &over));
    if (over) {
        free(buf);
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: manifest.json is larger than the 1 MiB limit", what);
    }
    json_error_t jerr;
    json_t *m = json_loadb((const char *)buf, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!m) {
        free(buf);
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json is not valid JSON: %s (line %d, column %d)", what,
                         jerr.text, jerr.line, jerr.column);
    }
    lirf_status st = check_manifest(what, m, &r->d);
    if (st != LIRF_OK) {
        free(buf);
        json_decref(m);
        return st;
    }
    r->manifest = m;
    r->man_raw = buf;
    r->man_len = n;
    return LIRF_OK;
}

/* manifest.sig's fields. */
static lirf_status parse_signature(const char *what, const unsigned char *text, size_t n,
                                   char key_id[LIRF_KEY_ID_HEX + 1], unsigned char *spk,
                                   unsigned char *bpk, unsigned char *sig) {
    static const char *const keys[] = {"format",         "algorithm",     "key_id",
                                       "ed25519_public", "x25519_public", "signature"};
    const char *ms = LIRF_ARCHIVE_SIGNATURE;
    json_error_t jerr;
    json_t *j = json_loadb((const char *)text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!j)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.sig is not valid JSON: %s (line %d, column %d)", what,
                         jerr.text, jerr.line, jerr.column);
    lirf_status st = exact_string_keys(what, ms, "the signature", j, keys, 6);
    if (st == LIRF_OK) st = want_value(what, ms, j, "format", SIG_FORMAT);
    if (st == LIRF_OK) st = want_value(what, ms, j, "algorithm", SIG_ALGORITHM);
    if (st == LIRF_OK) st = key_id_field(what, ms, j, "key_id", key_id);
    if (st == LIRF_OK)
        st = b64_field(what, ms, j, "ed25519_public", spk, LIRF_SIGN_PUBLIC_BYTES);
    if (st == LIRF_OK) st = b64_field(what, ms, j, "x25519_public", bpk, LIRF_BOX_PUBLIC_BYTES);
    if (st == LIRF_OK) st = b64_field(what, ms, j, "signature", sig, LIRF_SIGN_BYTES);
    json_decref(j);
    return st;
}

/* Checks manifest.sig against manifest.json's bytes: under the trusted key
 * when one is given (keys->verify), else under the public key it carries
 * (intact, origin unknown). */
static lirf_status check_signature(reader *r, const unsigned char *text, size_t n) {
    const char *what = r->what;
    char key_id[LIRF_KEY_ID_HEX + 1], id[LIRF_KEY_ID_HEX + 1];
    unsigned char spk[LIRF_SIGN_PUBLIC_BYTES], bpk[LIRF_BOX_PUBLIC_BYTES], sig[LIRF_SIGN_BYTES];
    LIRF_TRY(parse_signature(what, text, n, key_id, spk, bpk, sig));
    lirf_key_id_of(spk, bpk, id);
    if (strcmp(id, key_id) != 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.sig: key_id %s does not match the public keys it carries "
                         "(their id is %s)", what, key_id, id);
    if (!r->d.signer[0])
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.sig is present but manifest.json names no signer (a "
                         "signature from elsewhere, or a replaced manifest)", what);
    if (strcmp(key_id, r->d.signer) != 0)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.sig is by key %s, but manifest.json names signer %s",
                         what, key_id, r->d.signer);
    const lirf_key *vk = r->keys ? r->keys->verify : NULL;
    const unsigned char *pk = spk;
    if (vk) {
        if (strcmp(lirf_key_id(vk), key_id) != 0)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: signed by key %s, expected key %s (--verify-key)",
                             what, key_id, lirf_key_id(vk));
        pk = lirf_key_sign_public(vk);
    }
    size_t mlen;
    unsigned char *msg = signed_message(r->man_raw, r->man_len, &mlen);
    if (!msg) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory checking the signature", what);
    int ok = lirf_seal_verify(pk, msg, mlen, sig);
    free(msg);
    if (!ok)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the signature in manifest.sig (key %s) does not verify: "
                         "manifest.json or manifest.sig was altered after signing", what, key_id);
    r->info.is_signed = 1;
    r->info.verified = vk != NULL;
    memcpy(r->info.signer, key_id, sizeof key_id);
    return LIRF_OK;
}

static lirf_status read_signature(struct archive *a, struct archive_entry *e, reader *r) {
    const char *what = r->what;
    if (archive_entry_size_is_set(e) &&
        (uint64_t)archive_entry_size(e) > (uint64_t)LIRF_ARCHIVE_MAX_SIGNATURE)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.sig is %" PRId64 " bytes, larger than the %zu-byte limit",
                         what, (int64_t)archive_entry_size(e), LIRF_ARCHIVE_MAX_SIGNATURE);
    unsigned char *buf;
    size_t n;
    int over;
    LIRF_TRY(read_bounded(a, what, LIRF_ARCHIVE_SIGNATURE, LIRF_ARCHIVE_MAX_SIGNATURE, &buf, &n,
                          &over));
    lirf_status st = over ? LIRF_FAIL(LIRF_E_FORMAT,
                                      "%s: manifest.sig is larger than the %zu-byte limit", what,
                                      LIRF_ARCHIVE_MAX_SIGNATURE)
                          : check_signature(r, buf, n);
    free(buf);
    return st;
}

/* The keys' demands, settled before the deposit's bytes are read. */
static lirf_status before_deposit(reader *r) {
    const char *what = r->what;
    const lirf_key *vk = r->keys ? r->keys->verify : NULL;
    const lirf_key *dk = r->keys ? r->keys->decrypt : NULL;
    if (r->d.signer[0] && !r->got_sig)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json names signer %s, but the archive has no manifest.sig "
                         "before deposit.safetensors: the signature was removed or misplaced",
                         what, r->d.signer);
    if (vk && !r->got_sig)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: the archive is not signed, but a signature by key %s is required "
                         "(--verify-key)", what, lirf_key_id(vk));
    /* After the signature, whose refusal says more when a signed manifest
     * was changed. */
    LIRF_TRY(check_man_sum(what, r->manifest, r->man_raw, r->man_len));
    if (r->d.recipient[0]) {
        if (!dk)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors is encrypted to key %s: reading it needs "
                             "that secret key (--decrypt-key)", what, r->d.recipient);
        if (strcmp(lirf_key_id(dk), r->d.recipient) != 0)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors is encrypted to key %s, not to the given "
                             "key %s (--decrypt-key)", what, r->d.recipient, lirf_key_id(dk));
        if (lirf_key_kind_of(dk) != LIRF_KEY_SECRET)
            return LIRF_FAIL(LIRF_E_INVALID, "%s: decrypting needs a secret key; key %s is public",
                             what, lirf_key_id(dk));
    }
    return LIRF_OK;
}

static lirf_status read_deposit(struct archive *a, struct archive_entry *e, reader *r) {
    const char *what = r->what;
    const declared *d = &r->d;
    /* The tar header already says how large the member is: refuse before reading. */
    if (archive_entry_size_is_set(e) && (uint64_t)archive_entry_size(e) != d->size) {
        uint64_t hs = (uint64_t)archive_entry_size(e);
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: deposit.safetensors is %s than the manifest says (%" PRIu64
                         " bytes in the archive, %" PRIu64 " declared)",
                         what, hs > d->size ? "larger" : "smaller", hs, d->size);
    }
    unsigned char *buf;
    size_t n;
    int over;
    LIRF_TRY(read_bounded(a, what, LIRF_ARCHIVE_DEPOSIT, (size_t)d->size, &buf, &n, &over));
    if (over || n != d->size) {
        free(buf);
        if (over)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors is larger than the manifest says (more "
                             "than %" PRIu64 " bytes)", what, d->size);
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: deposit.safetensors is smaller than the manifest says (%zu bytes, "
                         "%" PRIu64 " declared)", what, n, d->size);
    }
    char hex[65];
    lirf_sha256_hex(buf, n, hex);
    if (strcmp(hex, d->sha256) != 0) {
        free(buf);
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: deposit.safetensors fails its SHA-256 check (manifest says %s, "
                         "content is %s)", what, d->sha256, hex);
    }
    if (d->recipient[0]) { /* decrypted in place */
        size_t pl = 0;
        int dr = lirf_seal_decrypt(r->keys->decrypt, d->sealed, d->nonce, AEAD_AD,
                                   strlen(AEAD_AD), buf, n, &pl);
        if (dr != 0) {
            free(buf);
            if (dr < 0)
                return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of secure memory decrypting the deposit",
                                 what);
            if (dr == 1)
                return LIRF_FAIL(LIRF_E_FORMAT,
                                 "%s: the deposit's sealed key does not open with key %s: the "
                                 "manifest's encryption fields were altered", what, d->recipient);
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors does not decrypt: XChaCha20-Poly1305 "
                             "authentication failed (the deposit, its nonce or its sealed key "
                             "were altered)", what);
        }
        n = pl;
        r->info.encrypted = 1;
        memcpy(r->info.recipient, d->recipient, sizeof d->recipient);
    }
    r->deposit = buf;
    r->deposit_len = n;
    return LIRF_OK;
}

/* Checks one member header: a regular file with a plain name. */
static lirf_status check_entry(const char *what, struct archive_entry *e) {
    const char *name = archive_entry_pathname(e);
    qbuf q;
    if (archive_entry_hardlink(e))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: member '%s' is a hardlink, not a regular file", what,
                         qname(name, &q));
    mode_t t = archive_entry_filetype(e);
    if (t != AE_IFREG)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: member '%s' is a %s, not a regular file", what,
                         qname(name, &q), filetype_name(t));
    if (!name || !*name)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a member has an empty name", what);
    if (strchr(name, '/') || strchr(name, '\\') || strstr(name, ".."))
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: member '%s' has an unsafe path (a folder, an absolute path or "
                         "\"..\"): members are plain names", what, qname(name, &q));
    return LIRF_OK;
}

static lirf_status read_members(struct archive *a, reader *r) {
    const char *what = r->what;
    for (;;) {
        struct archive_entry *e;
        int rc = archive_read_next_header(a, &e);
        if (rc == ARCHIVE_EOF) break;
        if (rc != ARCHIVE_OK) return ar_fail(a, what, "reading a member header");
        LIRF_TRY(check_entry(what, e));
        const char *name = archive_entry_pathname(e);
        int is_man = strcmp(name, LIRF_ARCHIVE_MANIFEST) == 0;
        int is_sig = strcmp(name, LIRF_ARCHIVE_SIGNATURE) == 0;
        int is_dep = strcmp(name, LIRF_ARCHIVE_DEPOSIT) == 0;
        qbuf q;
        if (!is_man && !is_sig && !is_dep)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: unknown member '%s' (a deposit archive holds only manifest.json, "
                             "manifest.sig and deposit.safetensors)", what, qname(name, &q));
        if ((is_man && r->manifest) || (is_sig && r->got_sig) || (is_dep && r->deposit))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: duplicate member '%s'", what, name);
        if (is_dep && !r->manifest)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors comes before manifest.json (manifest.json "
                             "must be the first member)", what);
        if (is_sig && !r->manifest)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.sig comes before manifest.json (manifest.json must be "
                             "the first member)", what);
        if (is_sig && r->deposit)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.sig comes after deposit.safetensors (it must follow "
                             "manifest.json)", what);
        if (is_sig && r->d.version != LIRF_ARCHIVE_VERSION_SEALED)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: manifest.sig in a format_version %d archive (signed archives are "
                             "format_version %d)", what, r->d.version, LIRF_ARCHIVE_VERSION_SEALED);
        if (is_man) {
            LIRF_TRY(read_manifest(a, e, r));
        } else if (is_sig) {
            LIRF_TRY(read_signature(a, e, r));
            r->got_sig = 1;
        } else {
            LIRF_TRY(before_deposit(r));
            LIRF_TRY(read_deposit(a, e, r));
        }
    }
    if (!r->manifest)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: missing member manifest.json (empty archive?)", what);
    if (!r->deposit)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: missing member deposit.safetensors", what);
    return LIRF_OK;
}

/* A reader for tar with every filter libarchive has built in (never one that
 * runs an external program). */
static lirf_status reader_new(const char *what, struct archive **out) {
    struct archive *a = archive_read_new();
    if (!a) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", what);
    int r = archive_read_support_format_tar(a);
    if (r == ARCHIVE_OK && archive_zlib_version()) r = archive_read_support_filter_gzip(a);
    if (r == ARCHIVE_OK && archive_libzstd_version()) r = archive_read_support_filter_zstd(a);
    if (r == ARCHIVE_OK && archive_liblzma_version()) r = archive_read_support_filter_xz(a);
    if (r == ARCHIVE_OK && archive_bzlib_version()) r = archive_read_support_filter_bzip2(a);
    if (r == ARCHIVE_OK && archive_liblz4_version()) r = archive_read_support_filter_lz4(a);
    if (r != ARCHIVE_OK) {
        lirf_status st = ar_fail(a, what, "setting up the reader");
        archive_read_free(a);
        return st;
    }
    *out = a;
    return LIRF_OK;
}

static lirf_status read_all(struct archive *a, const char *what, const lirf_archive_unseal *keys,
                            json_t **manifest, void **deposit, size_t *deposit_len,
                            lirf_archive_info *info) {
    reader r;
    memset(&r, 0, sizeof r);
    r.what = what;
    r.keys = keys;
    lirf_status st = read_members(a, &r);
    archive_read_free(a);
    free(r.man_raw);
    if (st != LIRF_OK) {
        json_decref(r.manifest);
        if (r.deposit && r.info.encrypted) sodium_memzero(r.deposit, r.deposit_len);
        free(r.deposit);
        return st;
    }
    *manifest = r.manifest;
    *deposit = r.deposit;
    *deposit_len = r.deposit_len;
    if (info) *info = r.info;
    return LIRF_OK;
}

static lirf_status check_read_args(const char *fn, json_t **manifest, void **deposit,
                                   size_t *deposit_len, lirf_archive_info *info) {
    if (info) memset(info, 0, sizeof *info);
    if (!manifest || !deposit || !deposit_len)
        return LIRF_FAIL(LIRF_E_NULL, "%s: manifest, deposit or deposit_len is NULL", fn);
    *manifest = NULL;
    *deposit = NULL;
    *deposit_len = 0;
    return LIRF_OK;
}

lirf_status lirf_archive_read_sealed_mem(const void *buf, size_t len, const char *what,
                                         const lirf_archive_unseal *keys, json_t **manifest,
                                         void **deposit, size_t *deposit_len,
                                         lirf_archive_info *info) {
    LIRF_TRY(check_read_args("lirf_archive_read_mem", manifest, deposit, deposit_len, info));
    if (!what) what = "deposit archive (memory)";
    if (!buf && len > 0) return LIRF_FAIL(LIRF_E_NULL, "%s: buffer is NULL", what);
    if (sodium_init() < 0) return LIRF_FAIL(LIRF_E_UNSUPPORTED, "libsodium failed to initialise");
    struct archive *a;
    LIRF_TRY(reader_new(what, &a));
    if (archive_read_open_memory(a, buf ? buf : "", len) != ARCHIVE_OK) {
        lirf_status st = ar_fail(a, what, "opening the archive");
        archive_read_free(a);
        return st;
    }
    return read_all(a, what, keys, manifest, deposit, deposit_len, info);
}

lirf_status lirf_archive_read_sealed(const char *path, const lirf_archive_unseal *keys,
                                     json_t **manifest, void **deposit, size_t *deposit_len,
                                     lirf_archive_info *info) {
    LIRF_TRY(check_read_args("lirf_archive_read", manifest, deposit, deposit_len, info));
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "lirf_archive_read: path is NULL");
    if (sodium_init() < 0) return LIRF_FAIL(LIRF_E_UNSUPPORTED, "libsodium failed to initialise");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no such deposit archive", path);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        lirf_status st = LIRF_FAIL(LIRF_E_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return st;
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        return LIRF_FAIL(LIRF_E_IO, "%s: is a folder, not a deposit archive", path);
    }
    struct archive *a;
    lirf_status st = reader_new(path, &a);
    if (st == LIRF_OK) {
        if (archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK) {
            st = ar_fail(a, path, "opening the archive");
            archive_read_free(a);
        } else {
            st = read_all(a, path, keys, manifest, deposit, deposit_len, info);
        }
    }
    close(fd);
    return st;
}

lirf_status lirf_archive_read_mem(const void *buf, size_t len, const char *what,
                                  json_t **manifest, void **deposit, size_t *deposit_len) {
    return lirf_archive_read_sealed_mem(buf, len, what, NULL, manifest, deposit, deposit_len,
                                        NULL);
}

lirf_status lirf_archive_read(const char *path, json_t **manifest, void **deposit,
                              size_t *deposit_len) {
    return lirf_archive_read_sealed(path, NULL, manifest, deposit, deposit_len, NULL);
}
