/* The LIRF deposit archive (model/lirf_archive.h, docs/archive.md): a POSIX tar
 * holding manifest.json then deposit.safetensors, written and read with
 * libarchive entirely in memory (nothing is ever extracted to disk).
 *
 * Writer: the caller's manifest completed with format, format_version and
 * members (size and SHA-256 of the deposit), streamed as pax/ustar through
 * the chosen filter into a temporary file of the same folder, fsync'ed and
 * renamed. Reader: every header is checked before a member's bytes are read,
 * manifest.json must come first, and the deposit is read only up to the size
 * the manifest declares (+ 1 byte to detect a larger member).
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fileutil.h"
#include "lirf_archive.h"

#define READ_BLOCK ((size_t)64 << 10) /* libarchive's read block from a file */

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

/* The caller's manifest with format, format_version and members set, as
 * indented JSON text ending in a newline (malloc'ed). */
static lirf_status build_manifest(const char *fn, const char *manifest_json, const void *deposit,
                                  size_t deposit_len, char **text, size_t *text_len) {
    json_error_t jerr;
    json_t *m = json_loads(manifest_json, JSON_REJECT_DUPLICATES, &jerr);
    if (!m)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: manifest is not valid JSON: %s (line %d, column %d)",
                         fn, jerr.text, jerr.line, jerr.column);
    if (!json_is_object(m)) {
        json_decref(m);
        return LIRF_FAIL(LIRF_E_INVALID, "%s: manifest must be a JSON object", fn);
    }
    char hex[65];
    lirf_sha256_hex(deposit ? deposit : "", deposit_len, hex);
    json_t *members = json_pack("[{s:s, s:I, s:s}]", "name", LIRF_ARCHIVE_DEPOSIT, "size",
                                (json_int_t)deposit_len, "sha256", hex);
    if (!members || json_object_set_new(m, "format", json_string(LIRF_ARCHIVE_FORMAT)) != 0 ||
        json_object_set_new(m, "format_version", json_integer(LIRF_ARCHIVE_VERSION)) != 0 ||
        json_object_set_new(m, "members", members) != 0) {
        json_decref(m);
        return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory building the manifest", fn);
    }
    char *s = json_dumps(m, JSON_INDENT(2));
    json_decref(m);
    if (!s) return LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory writing the manifest", fn);
    size_t n = strlen(s);
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
    *text = t;
    *text_len = n + 1;
    return LIRF_OK;
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

/* Writes both members and closes the archive (a is freed). */
static lirf_status writer_fill(struct archive *a, const char *what, const char *man,
                               size_t man_len, const void *deposit, size_t deposit_len) {
    time_t now = time(NULL);
    lirf_status st = LIRF_OK;
    if (write_member(a, LIRF_ARCHIVE_MANIFEST, man, man_len, now) != ARCHIVE_OK)
        st = ar_fail(a, what, "writing manifest.json");
    else if (write_member(a, LIRF_ARCHIVE_DEPOSIT, deposit ? deposit : "", deposit_len, now) !=
             ARCHIVE_OK)
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

lirf_status lirf_archive_write_mem(const char *manifest_json, const void *deposit,
                                   size_t deposit_len, lirf_archive_compression comp,
                                   void **buf, size_t *len) {
    const char *fn = "lirf_archive_write_mem";
    if (!buf || !len) return LIRF_FAIL(LIRF_E_NULL, "%s: buf or len is NULL", fn);
    *buf = NULL;
    *len = 0;
    LIRF_TRY(check_write_args(fn, manifest_json, deposit, deposit_len, comp));
    char *man;
    size_t man_len;
    LIRF_TRY(build_manifest(fn, manifest_json, deposit, deposit_len, &man, &man_len));
    struct archive *a;
    lirf_status st = writer_new(fn, comp, &a);
    if (st != LIRF_OK) {
        free(man);
        return st;
    }
    membuf m = {NULL, 0, 0};
    if (archive_write_open2(a, &m, NULL, mem_write_cb, NULL, NULL) != ARCHIVE_OK) {
        st = ar_fail(a, fn, "opening the archive");
        archive_write_free(a);
    } else {
        st = writer_fill(a, fn, man, man_len, deposit, deposit_len);
    }
    free(man);
    if (st != LIRF_OK) {
        free(m.p);
        return st;
    }
    *buf = m.p;
    *len = m.len;
    return LIRF_OK;
}

lirf_status lirf_archive_write(const char *path, const char *manifest_json, const void *deposit,
                               size_t deposit_len, lirf_archive_compression comp) {
    const char *fn = "lirf_archive_write";
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "%s: path is NULL", fn);
    LIRF_TRY(check_write_args(fn, manifest_json, deposit, deposit_len, comp));
    char *man;
    size_t man_len;
    LIRF_TRY(build_manifest(fn, manifest_json, deposit, deposit_len, &man, &man_len));

    /* A temporary name of our own in the target folder: pid + a counter, so
     * that threads and processes writing the same path do not collide. */
    static atomic_uint counter;
    size_t tlen = strlen(path) + 48;
    char *tmp = malloc(tlen);
    if (!tmp) {
        free(man);
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
        free(man);
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
            st = writer_fill(a, path, man, man_len, deposit, deposit_len);
        }
    }
    free(man);
    if (st == LIRF_OK && fsync(fd) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: fsync of %s failed: %s", path, tmp, strerror(errno));
    if (close(fd) != 0 && st == LIRF_OK)
        st = LIRF_FAIL(LIRF_E_IO, "%s: close of %s failed: %s", path, tmp, strerror(errno));
    if (st == LIRF_OK && rename(tmp, path) != 0)
        st = LIRF_FAIL(LIRF_E_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(errno));
    if (st != LIRF_OK) unlink(tmp);
    free(tmp);
    LIRF_TRY(st);
    return lirf_fsync_parent(path);
}

/* ---- reader ---------------------------------------------------------------- */

/* What the manifest says about the deposit. */
typedef struct {
    uint64_t size;
    char sha256[65]; /* lowercase hex */
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
                         "format_version %d)", what, LIRF_ARCHIVE_VERSION);
    if (json_integer_value(ver) != LIRF_ARCHIVE_VERSION)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: format_version %" JSON_INTEGER_FORMAT
                         " is not supported: this lirf reads format_version %d",
                         what, json_integer_value(ver), LIRF_ARCHIVE_VERSION);
    return check_members(what, json_object_get(m, "members"), d);
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

static lirf_status read_manifest(struct archive *a, struct archive_entry *e, const char *what,
                                 json_t **manifest, declared *d) {
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
    free(buf);
    if (!m)
        return LIRF_FAIL(LIRF_E_FORMAT,
                         "%s: manifest.json is not valid JSON: %s (line %d, column %d)", what,
                         jerr.text, jerr.line, jerr.column);
    lirf_status st = check_manifest(what, m, d);
    if (st != LIRF_OK) {
        json_decref(m);
        return st;
    }
    *manifest = m;
    return LIRF_OK;
}

static lirf_status read_deposit(struct archive *a, struct archive_entry *e, const char *what,
                                const declared *d, unsigned char **deposit) {
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
    *deposit = buf;
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

static lirf_status read_members(struct archive *a, const char *what, json_t **manifest,
                                unsigned char **deposit, size_t *deposit_len) {
    declared d = {0, {0}};
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK) return ar_fail(a, what, "reading a member header");
        LIRF_TRY(check_entry(what, e));
        const char *name = archive_entry_pathname(e);
        int is_man = strcmp(name, LIRF_ARCHIVE_MANIFEST) == 0;
        int is_dep = strcmp(name, LIRF_ARCHIVE_DEPOSIT) == 0;
        qbuf q;
        if (!is_man && !is_dep)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: unknown member '%s' (a deposit archive holds only manifest.json "
                             "and deposit.safetensors)", what, qname(name, &q));
        if ((is_man && *manifest) || (is_dep && *deposit))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: duplicate member '%s'", what, name);
        if (is_dep && !*manifest)
            return LIRF_FAIL(LIRF_E_FORMAT,
                             "%s: deposit.safetensors comes before manifest.json (manifest.json "
                             "must be the first member)", what);
        if (is_man)
            LIRF_TRY(read_manifest(a, e, what, manifest, &d));
        else {
            LIRF_TRY(read_deposit(a, e, what, &d, deposit));
            *deposit_len = (size_t)d.size;
        }
    }
    if (!*manifest)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: missing member manifest.json (empty archive?)", what);
    if (!*deposit)
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

static lirf_status read_all(struct archive *a, const char *what, json_t **manifest, void **deposit,
                            size_t *deposit_len) {
    json_t *m = NULL;
    unsigned char *dep = NULL;
    size_t n = 0;
    lirf_status st = read_members(a, what, &m, &dep, &n);
    archive_read_free(a);
    if (st != LIRF_OK) {
        json_decref(m);
        free(dep);
        return st;
    }
    *manifest = m;
    *deposit = dep;
    *deposit_len = n;
    return LIRF_OK;
}

static lirf_status check_read_args(const char *fn, json_t **manifest, void **deposit,
                                   size_t *deposit_len) {
    if (!manifest || !deposit || !deposit_len)
        return LIRF_FAIL(LIRF_E_NULL, "%s: manifest, deposit or deposit_len is NULL", fn);
    *manifest = NULL;
    *deposit = NULL;
    *deposit_len = 0;
    return LIRF_OK;
}

lirf_status lirf_archive_read_mem(const void *buf, size_t len, const char *what,
                                  json_t **manifest, void **deposit, size_t *deposit_len) {
    LIRF_TRY(check_read_args("lirf_archive_read_mem", manifest, deposit, deposit_len));
    if (!what) what = "deposit archive (memory)";
    if (!buf && len > 0) return LIRF_FAIL(LIRF_E_NULL, "%s: buffer is NULL", what);
    struct archive *a;
    LIRF_TRY(reader_new(what, &a));
    if (archive_read_open_memory(a, buf ? buf : "", len) != ARCHIVE_OK) {
        lirf_status st = ar_fail(a, what, "opening the archive");
        archive_read_free(a);
        return st;
    }
    return read_all(a, what, manifest, deposit, deposit_len);
}

lirf_status lirf_archive_read(const char *path, json_t **manifest, void **deposit,
                              size_t *deposit_len) {
    LIRF_TRY(check_read_args("lirf_archive_read", manifest, deposit, deposit_len));
    if (!path) return LIRF_FAIL(LIRF_E_NULL, "lirf_archive_read: path is NULL");
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
            st = read_all(a, path, manifest, deposit, deposit_len);
        }
    }
    close(fd);
    return st;
}
