/* The LIRF deposit archive (model/archive/archive.c, model/archive/lirf_archive.h): round trips
 * (plain, gzip, zstd; file and memory), the written file is a real tar (GNU
 * tar lists it; archives made by GNU tar are read), atomic writes, writer
 * argument checks, and one crafted archive (built here with libarchive's
 * write API) per refusal of the reader, each with its status and a telling
 * word in the message; truncation, byte-flip and garbage sweeps. No OpenCL. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lirf_archive.h"
#include "util.h"

/* ---- helpers ------------------------------------------------------------ */

static char g_dir[256];

static const char *tmpdir(void) {
    if (!g_dir[0]) {
        const char *base = getenv("TMPDIR");
        snprintf(g_dir, sizeof g_dir, "%s/lirf_ar_XXXXXX", base && *base ? base : "/tmp");
        ck_assert_ptr_nonnull(mkdtemp(g_dir));
    }
    return g_dir;
}

/* Removes the files of a folder (one level of subfolders too) and the folder. */
static void rm_dir(const char *dir, int depth) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[768];
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
                if (unlink(p) != 0 && depth > 0) rm_dir(p, depth - 1);
            }
        closedir(d);
    }
    rmdir(dir);
}

static void tpath(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir(), name);
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

/* Entries of folder dir whose name contains `part`. */
static int count_files(const char *dir, const char *part) {
    DIR *d = opendir(dir);
    ck_assert_ptr_nonnull(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strstr(e->d_name, part)) n++;
    closedir(d);
    return n;
}

static unsigned char *rand_bytes(size_t n, uint64_t seed) {
    unsigned char *b = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(b);
    trng r = {seed};
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)trng_u64(&r);
    return b;
}

static void sha_hex(const void *p, size_t n, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, p, n);
    sodium_bin2hex(out, 65, h, sizeof h);
}

/* ---- crafting archives with libarchive ------------------------------------ */

typedef struct {
    const char *name;
    unsigned type;        /* AE_IFREG (0 means that too), AE_IFLNK, AE_IFDIR, AE_IFCHR */
    const char *link;     /* symlink target, or hardlink target when hard */
    int hard;
    const void *data;
    size_t len;
} tmember;

typedef struct {
    unsigned char *p;
    size_t len, cap;
} tbuffer;

static la_ssize_t tbuf_write(struct archive *a, void *client, const void *buf, size_t n) {
    (void)a;
    tbuffer *b = client;
    if (b->len + n > b->cap) {
        while (b->len + n > b->cap) b->cap = b->cap ? 2 * b->cap : 65536;
        b->p = realloc(b->p, b->cap);
        ck_assert_ptr_nonnull(b->p);
    }
    memcpy(b->p + b->len, buf, n);
    b->len += n;
    return (la_ssize_t)n;
}

/* A pax/ustar tar of the members; gzip'ed when gz. */
static unsigned char *craft(const tmember *ms, size_t n, int gz, size_t *len) {
    struct archive *a = archive_write_new();
    ck_assert_ptr_nonnull(a);
    ck_assert_int_eq(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
    ck_assert_int_eq(gz ? archive_write_add_filter_gzip(a) : archive_write_add_filter_none(a),
                     ARCHIVE_OK);
    tbuffer b = {NULL, 0, 0};
    ck_assert_int_eq(archive_write_open2(a, &b, NULL, tbuf_write, NULL, NULL), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ms[i].name);
        unsigned t = ms[i].type ? ms[i].type : AE_IFREG;
        archive_entry_set_filetype(e, t);
        archive_entry_set_perm(e, 0644);
        if (t == AE_IFLNK) archive_entry_set_symlink(e, ms[i].link);
        if (ms[i].hard) archive_entry_set_hardlink(e, ms[i].link);
        if (t == AE_IFCHR) archive_entry_set_rdev(e, 0x0103);
        archive_entry_set_size(e, t == AE_IFREG && !ms[i].hard ? (la_int64_t)ms[i].len : 0);
        int r = archive_write_header(a, e);
        ck_assert_msg(r == ARCHIVE_OK, "crafting '%s': %s", ms[i].name, archive_error_string(a));
        archive_entry_free(e);
        if (t == AE_IFREG && !ms[i].hard && ms[i].len)
            ck_assert_int_eq(archive_write_data(a, ms[i].data, ms[i].len), (la_ssize_t)ms[i].len);
    }
    ck_assert_int_eq(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    *len = b.len;
    return b.p;
}

/* The manifest the writer would make for deposit d (a json object to edit). */
static json_t *good_manifest(const void *d, size_t n) {
    char hex[65];
    sha_hex(d, n, hex);
    json_t *m = json_pack("{s:s, s:s, s:i, s:[{s:s, s:I, s:s}]}", "architecture", "resnet18",
                          "format", LIRF_ARCHIVE_FORMAT, "format_version", LIRF_ARCHIVE_VERSION,
                          "members", "name", LIRF_ARCHIVE_DEPOSIT, "size", (json_int_t)n, "sha256",
                          hex);
    ck_assert_ptr_nonnull(m);
    return m;
}

/* Manifest text for m with its "manifest_sha256" computed here, as
 * docs/archive.md says (SHA-256 of the text with the value as 64 '0's),
 * dumped with jansson's flags, the key first or last (malloc'ed). */
static char *with_man_sum(json_t *m, size_t flags, int first) {
    json_t *o = json_object();
    const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000";
    if (first) json_object_set_new(o, "manifest_sha256", json_string(zeros));
    json_object_update(o, m);
    if (!first) json_object_set_new(o, "manifest_sha256", json_string(zeros));
    char *t = json_dumps(o, flags);
    json_decref(o);
    ck_assert_ptr_nonnull(t);
    char *at = strstr(t, "00000000000000000000000000000000000000000000000000000000000000");
    ck_assert_ptr_nonnull(at);
    char hex[65];
    sha_hex(t, strlen(t), hex);
    memcpy(at, hex, 64);
    return t;
}

/* Reading must fail with `want`, a message naming `what` and containing
 * each word, and zeroed outputs. */
static void expect_refusal(lirf_status s, json_t *m, void *d, size_t dl, lirf_status want,
                           const char *what, const char *w1, const char *w2) {
    const char *msg = lirf_error_message();
    ck_assert_msg(s == want, "%s: expected %s, got %s (%s)", what, lirf_status_name(want),
                  lirf_status_name(s), msg);
    ck_assert_msg(strstr(msg, what) != NULL, "message does not name '%s': %s", what, msg);
    ck_assert_msg(!w1 || strstr(msg, w1), "%s: message lacks '%s': %s", what, w1, msg);
    ck_assert_msg(!w2 || strstr(msg, w2), "%s: message lacks '%s': %s", what, w2, msg);
    ck_assert_ptr_null(m);
    ck_assert_ptr_null(d);
    ck_assert_uint_eq(dl, 0);
}

static void refuse_mem(const void *buf, size_t len, const char *what, lirf_status want,
                       const char *w1, const char *w2) {
    json_t *m = (json_t *)(uintptr_t)1;
    void *d = (void *)(uintptr_t)1;
    size_t dl = 77;
    lirf_clear_error();
    lirf_status s = lirf_archive_read_mem(buf, len, what, &m, &d, &dl);
    if (s == LIRF_OK) {
        json_decref(m);
        free(d);
        m = NULL;
        d = NULL;
    }
    expect_refusal(s, m, d, dl, want, what, w1, w2);
}

/* ---- round trips ---------------------------------------------------------- */

static const char *CALLER_MANIFEST =
    "{\"architecture\": \"resnet18\", \"classes\": [\"cat\", \"dog\", \"ship\"],"
    " \"hyperparameters\": {\"lr\": 0.1, \"epochs\": 3, \"nested\": {\"a\": [1, 2.5, null]}},"
    " \"fingerprint\": \"abc\", \"format\": \"old\", \"format_version\": 99, \"members\": 42}";

static void check_manifest(json_t *m, const void *dep, size_t n) {
    json_error_t err;
    json_t *orig = json_loads(CALLER_MANIFEST, 0, &err);
    ck_assert_ptr_nonnull(orig);
    const char *keys[] = {"architecture", "classes", "hyperparameters", "fingerprint"};
    for (size_t i = 0; i < 4; i++)
        ck_assert_msg(json_equal(json_object_get(m, keys[i]), json_object_get(orig, keys[i])),
                      "manifest field %s not kept", keys[i]);
    json_decref(orig);
    ck_assert_str_eq(json_string_value(json_object_get(m, "format")), "lirf-deposit");
    ck_assert(json_is_integer(json_object_get(m, "format_version")));
    ck_assert_int_eq(json_integer_value(json_object_get(m, "format_version")), 1);
    json_t *sum = json_object_get(m, "manifest_sha256");
    ck_assert(json_is_string(sum) && strlen(json_string_value(sum)) == 64);
    json_t *mem = json_object_get(m, "members");
    ck_assert(json_is_array(mem));
    ck_assert_uint_eq(json_array_size(mem), 1);
    json_t *e = json_array_get(mem, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "name")), "deposit.safetensors");
    ck_assert_int_eq(json_integer_value(json_object_get(e, "size")), (json_int_t)n);
    char hex[65];
    sha_hex(dep, n, hex);
    ck_assert_str_eq(json_string_value(json_object_get(e, "sha256")), hex);
}

static const lirf_archive_compression COMPS[3] = {LIRF_ARCHIVE_PLAIN, LIRF_ARCHIVE_GZIP,
                                                  LIRF_ARCHIVE_ZSTD};
static const char *COMP_NAMES[3] = {"plain", "gzip", "zstd"};

START_TEST(round_trip) {
    lirf_archive_compression comp = COMPS[_i];
    const size_t sizes[3] = {70001, 0, 1};
    for (int k = 0; k < 3; k++) {
        size_t n = sizes[k];
        unsigned char *dep = rand_bytes(n, 11 + (uint64_t)k);
        char path[512], name[64];
        snprintf(name, sizeof name, "rt_%s_%zu.lirf", COMP_NAMES[_i], n);
        tpath(path, sizeof path, name);
        lirf_status s = lirf_archive_write(path, CALLER_MANIFEST, dep, n, comp);
        ck_assert_msg(s == LIRF_OK, "%s write: %s", COMP_NAMES[_i], lirf_error_message());

        /* The container is what was asked for. */
        size_t flen;
        unsigned char *file = slurp(path, &flen);
        if (comp == LIRF_ARCHIVE_PLAIN)
            ck_assert(flen > 262 && memcmp(file + 257, "ustar", 5) == 0);
        else if (comp == LIRF_ARCHIVE_GZIP)
            ck_assert(flen > 2 && file[0] == 0x1f && file[1] == 0x8b);
        else
            ck_assert(flen > 4 && file[0] == 0x28 && file[1] == 0xb5 && file[2] == 0x2f &&
                      file[3] == 0xfd);

        json_t *m;
        void *d;
        size_t dl;
        s = lirf_archive_read(path, &m, &d, &dl);
        ck_assert_msg(s == LIRF_OK, "%s read: %s", COMP_NAMES[_i], lirf_error_message());
        ck_assert_uint_eq(dl, n);
        ck_assert_ptr_nonnull(d);
        ck_assert(n == 0 || memcmp(d, dep, n) == 0);
        check_manifest(m, dep, n);
        json_decref(m);
        free(d);

        /* The same bytes through the memory reader, and the memory writer. */
        s = lirf_archive_read_mem(file, flen, "mem", &m, &d, &dl);
        ck_assert_msg(s == LIRF_OK, "%s", lirf_error_message());
        ck_assert(dl == n && (n == 0 || memcmp(d, dep, n) == 0));
        json_decref(m);
        free(d);
        void *mb;
        size_t ml;
        ck_assert_int_eq(lirf_archive_write_mem(CALLER_MANIFEST, dep, n, comp, &mb, &ml), LIRF_OK);
        s = lirf_archive_read_mem(mb, ml, "mem2", &m, &d, &dl);
        ck_assert_msg(s == LIRF_OK, "%s", lirf_error_message());
        ck_assert(dl == n && (n == 0 || memcmp(d, dep, n) == 0));
        check_manifest(m, dep, n);
        json_decref(m);
        free(d);
        free(mb);
        free(file);
        free(dep);
    }
}
END_TEST

/* ---- the file is a real tar ----------------------------------------------- */

static int have_cmd(const char *cmd) {
    char c[256];
    snprintf(c, sizeof c, "command -v %s >/dev/null 2>&1", cmd);
    return system(c) == 0;
}

START_TEST(gnu_tar_lists_it) {
    if (!have_cmd("tar")) return; /* skipped: no tar */
    lirf_archive_compression comp = COMPS[_i];
    if (comp == LIRF_ARCHIVE_ZSTD && !have_cmd("zstd")) return; /* GNU tar runs zstd */
    size_t n = 4321;
    unsigned char *dep = rand_bytes(n, 5);
    char path[512], name[64];
    snprintf(name, sizeof name, "tar_%s.lirf", COMP_NAMES[_i]);
    tpath(path, sizeof path, name);
    ck_assert_int_eq(lirf_archive_write(path, "{\"a\": 1}", dep, n, comp), LIRF_OK);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "tar -tvf '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    char line[512];
    int lines = 0, man = 0, depo = 0;
    while (fgets(line, sizeof line, p)) {
        lines++;
        if (strstr(line, " manifest.json\n")) man++;
        if (strstr(line, " deposit.safetensors\n") && strstr(line, " 4321 ")) depo++;
        ck_assert_msg(line[0] == '-', "not a regular file in tar -tv: %s", line);
    }
    int rc = pclose(p);
    ck_assert_msg(rc == 0 && lines == 2 && man == 1 && depo == 1,
                  "tar -tvf %s: rc %d, %d lines, manifest %d, deposit %d", path, rc, lines, man,
                  depo);
    /* tar extracts the manifest and it is the JSON we read. */
    snprintf(cmd, sizeof cmd, "tar -xOf '%s' manifest.json 2>/dev/null", path);
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    json_error_t err;
    json_t *m = json_loadf(p, 0, &err);
    ck_assert_int_eq(pclose(p), 0);
    ck_assert_msg(m != NULL, "tar -xO manifest.json: %s", err.text);
    ck_assert_str_eq(json_string_value(json_object_get(m, "format")), "lirf-deposit");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "a")), 1);
    json_decref(m);
    free(dep);
}
END_TEST

/* Archives made by GNU tar itself (gnu, pax and ustar formats; gzip, xz) read. */
START_TEST(reads_gnu_tar_archives) {
    if (!have_cmd("tar")) return;
    char dir[512];
    tpath(dir, sizeof dir, "gnutar");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    size_t n = 3000;
    unsigned char *dep = rand_bytes(n, 9);
    json_t *jm = good_manifest(dep, n);
    char *text = json_dumps(jm, 0);
    json_decref(jm);
    char p1[600], p2[600];
    snprintf(p1, sizeof p1, "%s/manifest.json", dir);
    snprintf(p2, sizeof p2, "%s/deposit.safetensors", dir);
    spit(p1, text, strlen(text));
    spit(p2, dep, n);
    free(text);
    const char *opts[] = {"--format=gnu -cf", "--format=pax -czf", "--format=ustar -cJf"};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && !have_cmd("xz")) continue;
        char out[600], cmd[1600];
        snprintf(out, sizeof out, "%s.%d.tar", dir, i);
        snprintf(cmd, sizeof cmd, "tar %s '%s' -C '%s' manifest.json deposit.safetensors", opts[i],
                 out, dir);
        ck_assert_int_eq(system(cmd), 0);
        json_t *m;
        void *d;
        size_t dl;
        lirf_status s = lirf_archive_read(out, &m, &d, &dl);
        ck_assert_msg(s == LIRF_OK, "tar %s: %s", opts[i], lirf_error_message());
        ck_assert(dl == n && memcmp(d, dep, n) == 0);
        json_decref(m);
        free(d);
    }
    unlink(p1);
    unlink(p2);
    free(dep);
}
END_TEST

/* ---- writer: atomicity and arguments ---------------------------------------- */

START_TEST(atomic_write) {
    unsigned char dep[100] = {1, 2, 3};
    char path[700];
    tpath(path, sizeof path, "nofolder/x.lirf");
    lirf_clear_error();
    ck_assert_int_eq(lirf_archive_write(path, "{}", dep, sizeof dep, LIRF_ARCHIVE_GZIP), LIRF_E_IO);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "nofolder"));
    ck_assert_int_ne(access(path, F_OK), 0);
    char sub[512];
    tpath(sub, sizeof sub, "nofolder");
    ck_assert_int_ne(access(sub, F_OK), 0);

    /* Writing in a folder of its own leaves exactly the archive there, and
     * rewriting replaces it whole. */
    char dir[512];
    tpath(dir, sizeof dir, "atomic");
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/a.lirf", dir);
    ck_assert_int_eq(lirf_archive_write(path, "{\"v\": 1}", dep, sizeof dep, LIRF_ARCHIVE_PLAIN),
                     LIRF_OK);
    unsigned char dep2[7] = {9, 9, 9, 9, 9, 9, 9};
    ck_assert_int_eq(lirf_archive_write(path, "{\"v\": 2}", dep2, sizeof dep2, LIRF_ARCHIVE_ZSTD),
                     LIRF_OK);
    ck_assert_int_eq(count_files(dir, ""), 1);
    ck_assert_int_eq(count_files(dir, "tmp"), 0);
    json_t *m;
    void *d;
    size_t dl;
    ck_assert_int_eq(lirf_archive_read(path, &m, &d, &dl), LIRF_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "v")), 2);
    ck_assert(dl == 7 && memcmp(d, dep2, 7) == 0);
    json_decref(m);
    free(d);

    /* A failing write (bad manifest) leaves the old archive untouched. */
    ck_assert_int_eq(lirf_archive_write(path, "[1]", dep, sizeof dep, LIRF_ARCHIVE_PLAIN),
                     LIRF_E_INVALID);
    ck_assert_int_eq(count_files(dir, ""), 1);
    ck_assert_int_eq(lirf_archive_read(path, &m, &d, &dl), LIRF_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "v")), 2);
    json_decref(m);
    free(d);
    unlink(path);
    rmdir(dir);
}
END_TEST

START_TEST(writer_arguments) {
    unsigned char dep[4] = {0};
    char path[512];
    tpath(path, sizeof path, "args.lirf");
    ck_assert_int_eq(lirf_archive_write(NULL, "{}", dep, 4, LIRF_ARCHIVE_PLAIN), LIRF_E_NULL);
    ck_assert_int_eq(lirf_archive_write(path, NULL, dep, 4, LIRF_ARCHIVE_PLAIN), LIRF_E_NULL);
    ck_assert_int_eq(lirf_archive_write(path, "{}", NULL, 4, LIRF_ARCHIVE_PLAIN), LIRF_E_NULL);
    ck_assert_int_eq(lirf_archive_write(path, "{\"a\": ", dep, 4, LIRF_ARCHIVE_PLAIN),
                     LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "JSON"));
    ck_assert_int_eq(lirf_archive_write(path, "[1, 2]", dep, 4, LIRF_ARCHIVE_PLAIN),
                     LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "object"));
    ck_assert_int_eq(lirf_archive_write(path, "{}", dep, 4, (lirf_archive_compression)7),
                     LIRF_E_INVALID);
    ck_assert_int_eq(lirf_archive_write(path, "{}", dep, ((size_t)4 << 30) + 1, LIRF_ARCHIVE_PLAIN),
                     LIRF_E_INVALID);
    /* A manifest the reader would refuse is not written. */
    size_t big = (size_t)1 << 20;
    char *text = malloc(big + 32);
    ck_assert_ptr_nonnull(text);
    strcpy(text, "{\"pad\": \"");
    memset(text + 9, 'x', big);
    strcpy(text + 9 + big, "\"}");
    ck_assert_int_eq(lirf_archive_write(path, text, dep, 4, LIRF_ARCHIVE_PLAIN), LIRF_E_INVALID);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "1 MiB"));
    free(text);
    ck_assert_int_ne(access(path, F_OK), 0);
    void *b;
    size_t bl;
    ck_assert_int_eq(lirf_archive_write_mem("{}", dep, 4, LIRF_ARCHIVE_GZIP, NULL, &bl),
                     LIRF_E_NULL);
    ck_assert_int_eq(lirf_archive_write_mem("{}", dep, 4, LIRF_ARCHIVE_GZIP, &b, &bl), LIRF_OK);
    free(b);
    /* Reader arguments and files. */
    json_t *m;
    void *d;
    size_t dl;
    ck_assert_int_eq(lirf_archive_read(path, NULL, &d, &dl), LIRF_E_NULL);
    ck_assert_int_eq(lirf_archive_read(NULL, &m, &d, &dl), LIRF_E_NULL);
    lirf_clear_error();
    ck_assert_int_eq(lirf_archive_read(path, &m, &d, &dl), LIRF_E_NOT_FOUND);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "args.lirf"));
    ck_assert_int_eq(lirf_archive_read(tmpdir(), &m, &d, &dl), LIRF_E_IO);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "folder"));
}
END_TEST

/* ---- refusals ---------------------------------------------------------------- */

enum {
    R_DOTDOT, R_NESTED, R_ABSOLUTE, R_DOT_SLASH, R_SYMLINK, R_HARDLINK, R_DIR, R_CHARDEV,
    R_EXTRA_AFTER, R_EXTRA_FIRST, R_DUP_MANIFEST, R_DUP_DEPOSIT, R_NO_DEPOSIT, R_NO_MANIFEST,
    R_EMPTY, R_DEPOSIT_FIRST, R_LARGER, R_SMALLER, R_SMALLER_ZERO, R_CHECKSUM, R_FORMAT, R_NO_FORMAT,
    R_FORMAT_NUM, R_VERSION3, R_VERSION_STR, R_NO_VERSION, R_MEMBERS_OBJ, R_NO_MEMBERS,
    R_MEMBERS_EMPTY, R_MEMBERS_NAME, R_MEMBERS_TWICE, R_MEMBERS_SHA, R_MEMBERS_SIZE, R_HUGE,
    R_MANIFEST_2MIB, R_BAD_JSON, R_NOT_OBJECT, R_DUP_KEYS, R_MANSUM_EDITED, R_MANSUM_NOT_HEX,
    R_MANSUM_COMPACT, R_MANSUM_LAST, R_COUNT
};

/* What each refusal must say: two words, the second may be NULL. */
static const char *const R_WORDS[R_COUNT][2] = {
    [R_DOTDOT] = {"unsafe", "../manifest.json"},
    [R_NESTED] = {"unsafe", "a/deposit.safetensors"},
    [R_ABSOLUTE] = {"unsafe", "/etc/x"},
    [R_DOT_SLASH] = {"unsafe", "./manifest.json"},
    [R_SYMLINK] = {"symlink", "not a regular file"},
    [R_HARDLINK] = {"hardlink", "not a regular file"},
    [R_DIR] = {"directory", "not a regular file"},
    [R_CHARDEV] = {"device", "not a regular file"},
    [R_EXTRA_AFTER] = {"unknown member", "evil.bin"},
    [R_EXTRA_FIRST] = {"unknown member", "evil.bin"},
    [R_DUP_MANIFEST] = {"duplicate", "manifest.json"},
    [R_DUP_DEPOSIT] = {"duplicate", "deposit.safetensors"},
    [R_NO_DEPOSIT] = {"missing", "deposit.safetensors"},
    [R_NO_MANIFEST] = {"manifest.json", "first"},
    [R_EMPTY] = {"missing", "manifest.json"},
    [R_DEPOSIT_FIRST] = {"before manifest.json", "first"},
    [R_LARGER] = {"larger", "manifest"},
    [R_SMALLER] = {"smaller", "manifest"},
    [R_SMALLER_ZERO] = {"smaller", "0 bytes in the archive"},
    [R_CHECKSUM] = {"SHA-256", NULL},
    [R_FORMAT] = {"something-else", "not a lirf deposit"},
    [R_NO_FORMAT] = {"format", "not a lirf deposit"},
    [R_FORMAT_NUM] = {"not a string", "not a lirf deposit"},
    [R_VERSION3] = {"format_version 3", "reads format_version 1 and 2"},
    [R_VERSION_STR] = {"format_version", "integer"},
    [R_NO_VERSION] = {"format_version", NULL},
    [R_MEMBERS_OBJ] = {"members", "not an array"},
    [R_NO_MEMBERS] = {"members", NULL},
    [R_MEMBERS_EMPTY] = {"members", "does not list"},
    [R_MEMBERS_NAME] = {"members", "unknown member"},
    [R_MEMBERS_TWICE] = {"members", "twice"},
    [R_MEMBERS_SHA] = {"sha256", NULL},
    [R_MEMBERS_SIZE] = {"size", NULL},
    [R_HUGE] = {"4 GiB", "5000000000"},
    [R_MANIFEST_2MIB] = {"manifest.json", "1 MiB"},
    [R_BAD_JSON] = {"not valid JSON", NULL},
    [R_NOT_OBJECT] = {"not a JSON object", NULL},
    [R_DUP_KEYS] = {"duplicate", "JSON"},
    [R_MANSUM_EDITED] = {"manifest.json fails its checksum", "manifest_sha256"},
    [R_MANSUM_NOT_HEX] = {"manifest_sha256", "64 hex digits"},
    [R_MANSUM_COMPACT] = {"manifest_sha256", "not written as lirf writes it"},
    [R_MANSUM_LAST] = {"manifest_sha256", "the first key"},
};

static void set_member(json_t *m, const char *key, json_t *v) {
    json_object_set_new(json_array_get(json_object_get(m, "members"), 0), key, v);
}

/* The crafted archive of refusal r (malloc'ed). */
static unsigned char *refusal_archive(int r, size_t *len) {
    enum { N = 1000 };
    unsigned char *dep = rand_bytes(N, 77);
    json_t *jm = good_manifest(dep, N);
    tmember man = {LIRF_ARCHIVE_MANIFEST, 0, NULL, 0, NULL, 0};
    tmember dm = {LIRF_ARCHIVE_DEPOSIT, 0, NULL, 0, dep, N};
    tmember evil = {"evil.bin", 0, NULL, 0, dep, 10};
    tmember ms[4];
    size_t n = 2;
    char *raw = NULL; /* a manifest text used as is */
    ms[0] = man;
    ms[1] = dm;
    switch (r) {
    case R_DOTDOT: ms[0].name = "../manifest.json"; break;
    case R_NESTED: ms[1].name = "a/deposit.safetensors"; break;
    case R_ABSOLUTE: ms[2] = evil; ms[2].name = "/etc/x"; n = 3; break;
    case R_DOT_SLASH: ms[0].name = "./manifest.json"; break;
    case R_SYMLINK: ms[0].type = AE_IFLNK; ms[0].link = "/etc/passwd"; break;
    case R_HARDLINK: ms[2] = ms[1]; ms[1].hard = 1; ms[1].link = "manifest.json"; n = 3; break;
    case R_DIR: ms[0].type = AE_IFDIR; break;
    case R_CHARDEV: ms[1].type = AE_IFCHR; break;
    case R_EXTRA_AFTER: ms[2] = evil; n = 3; break;
    case R_EXTRA_FIRST: ms[2] = ms[1]; ms[1] = ms[0]; ms[0] = evil; n = 3; break;
    case R_DUP_MANIFEST: ms[2] = ms[1]; ms[1] = ms[0]; n = 3; break;
    case R_DUP_DEPOSIT: ms[2] = ms[1]; n = 3; break;
    case R_NO_DEPOSIT: n = 1; break;
    case R_NO_MANIFEST: ms[0] = ms[1]; n = 1; break;
    case R_EMPTY: n = 0; break;
    case R_DEPOSIT_FIRST: ms[0] = dm; ms[1] = man; break;
    case R_LARGER: set_member(jm, "size", json_integer(N - 1)); break;
    case R_SMALLER: set_member(jm, "size", json_integer(N + 1)); break;
    case R_SMALLER_ZERO: ms[1].len = 0; break;
    case R_CHECKSUM: ms[1].data = rand_bytes(N, 77); ((unsigned char *)ms[1].data)[N / 2] ^= 4; break;
    case R_FORMAT: json_object_set_new(jm, "format", json_string("something-else")); break;
    case R_NO_FORMAT: json_object_del(jm, "format"); break;
    case R_FORMAT_NUM: json_object_set_new(jm, "format", json_integer(1)); break;
    case R_VERSION3: json_object_set_new(jm, "format_version", json_integer(3)); break;
    case R_VERSION_STR: json_object_set_new(jm, "format_version", json_string("1")); break;
    case R_NO_VERSION: json_object_del(jm, "format_version"); break;
    case R_MEMBERS_OBJ: json_object_set_new(jm, "members", json_object()); break;
    case R_NO_MEMBERS: json_object_del(jm, "members"); break;
    case R_MEMBERS_EMPTY: json_object_set_new(jm, "members", json_array()); break;
    case R_MEMBERS_NAME: set_member(jm, "name", json_string("other.bin")); break;
    case R_MEMBERS_TWICE: {
        json_t *a = json_object_get(jm, "members");
        json_array_append_new(a, json_deep_copy(json_array_get(a, 0)));
        break;
    }
    case R_MEMBERS_SHA: set_member(jm, "sha256", json_string("not-hex")); break;
    case R_MEMBERS_SIZE: set_member(jm, "size", json_integer(-5)); break;
    case R_HUGE: set_member(jm, "size", json_integer(5000000000LL)); break;
    case R_MANIFEST_2MIB: {
        size_t big = (size_t)2 << 20;
        char *pad = malloc(big + 1);
        memset(pad, 'x', big);
        pad[big] = '\0';
        json_object_set_new(jm, "pad", json_string(pad));
        free(pad);
        break;
    }
    case R_BAD_JSON: raw = strdup("{\"format\": \"lirf-deposit\", "); break;
    case R_NOT_OBJECT: raw = strdup("[\"lirf-deposit\", 1]"); break;
    case R_DUP_KEYS: raw = strdup("{\"format\": \"lirf-deposit\", \"format\": \"x\"}"); break;
    case R_MANSUM_EDITED: /* a field changed after the checksum was made */
        raw = with_man_sum(jm, JSON_INDENT(2), 1);
        ck_assert_ptr_nonnull(strstr(raw, "resnet18"));
        strstr(raw, "resnet18")[7] = '9';
        break;
    case R_MANSUM_NOT_HEX: json_object_set_new(jm, "manifest_sha256", json_string("abc")); break;
    case R_MANSUM_COMPACT: raw = with_man_sum(jm, JSON_COMPACT, 1); break;
    case R_MANSUM_LAST: raw = with_man_sum(jm, JSON_INDENT(2), 0); break;
    }
    char *text = raw ? raw : json_dumps(jm, 0);
    json_decref(jm);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(ms[i].name, LIRF_ARCHIVE_MANIFEST) && !ms[i].type && !ms[i].hard) {
            ms[i].data = text;
            ms[i].len = strlen(text);
        }
    unsigned char *b = craft(ms, n, r % 3 == 0, len); /* a third of them gzip'ed */
    if (r == R_CHECKSUM) free((void *)ms[1].data);
    free(text);
    free(dep);
    return b;
}

START_TEST(refusals) {
    size_t len;
    unsigned char *b = refusal_archive(_i, &len);
    char what[64];
    snprintf(what, sizeof what, "crafted-%d.tar", _i);
    refuse_mem(b, len, what, LIRF_E_FORMAT, R_WORDS[_i][0], R_WORDS[_i][1]);
    free(b);
}
END_TEST

/* The crafted archives are refused the same way from a file, and the
 * untouched crafted archive is accepted (so the refusals are not vacuous). */
START_TEST(refusals_from_file_and_control) {
    for (int r = 0; r < R_COUNT; r += 5) {
        size_t len;
        unsigned char *b = refusal_archive(r, &len);
        char path[512], name[64];
        snprintf(name, sizeof name, "refuse_%d.lirf", r);
        tpath(path, sizeof path, name);
        spit(path, b, len);
        free(b);
        json_t *m = NULL;
        void *d = NULL;
        size_t dl = 0;
        lirf_clear_error();
        lirf_status s = lirf_archive_read(path, &m, &d, &dl);
        expect_refusal(s, m, d, dl, LIRF_E_FORMAT, name, R_WORDS[r][0], R_WORDS[r][1]);
    }
    /* Control: the same construction without a fault reads. */
    enum { N = 1000 };
    unsigned char *dep = rand_bytes(N, 77);
    json_t *jm = good_manifest(dep, N);
    char *text = json_dumps(jm, 0);
    json_decref(jm);
    tmember ms[2] = {{LIRF_ARCHIVE_MANIFEST, 0, NULL, 0, text, strlen(text)},
                     {LIRF_ARCHIVE_DEPOSIT, 0, NULL, 0, dep, N}};
    for (int gz = 0; gz < 2; gz++) {
        size_t len;
        unsigned char *b = craft(ms, 2, gz, &len);
        json_t *m;
        void *d;
        size_t dl;
        ck_assert_msg(lirf_archive_read_mem(b, len, "control", &m, &d, &dl) == LIRF_OK, "%s",
                      lirf_error_message());
        ck_assert(dl == N && memcmp(d, dep, N) == 0);
        ck_assert_str_eq(json_string_value(json_object_get(m, "architecture")), "resnet18");
        json_decref(m);
        free(d);
        free(b);
    }
    free(text);
    free(dep);
}
END_TEST

/* ---- manifest.json's checksum --------------------------------------------- */

/* The written manifest's "manifest_sha256" is what docs/archive.md says,
 * computed here from the member's bytes; a caller's own is replaced, a nested
 * one kept; a manifest without one (hand-made, or older) is read. */
START_TEST(manifest_checksum) {
    unsigned char dep[5] = {1, 2, 3, 4, 5};
    void *b;
    size_t len;
    ck_assert_int_eq(lirf_archive_write_mem("{\"a\": \"x\", \"manifest_sha256\": \"mine\"}", dep, 5,
                                            LIRF_ARCHIVE_PLAIN, &b, &len),
                     LIRF_OK);
    struct archive *a = archive_read_new();
    ck_assert_ptr_nonnull(a);
    archive_read_support_format_tar(a);
    ck_assert_int_eq(archive_read_open_memory(a, b, len), ARCHIVE_OK);
    struct archive_entry *e;
    ck_assert_int_eq(archive_read_next_header(a, &e), ARCHIVE_OK);
    ck_assert_str_eq(archive_entry_pathname(e), "manifest.json");
    size_t mn = (size_t)archive_entry_size(e);
    char *text = calloc(mn + 1, 1);
    ck_assert_int_eq(archive_read_data(a, text, mn), (la_ssize_t)mn);
    archive_read_free(a);
    const char *start = "{\n  \"manifest_sha256\": \"";
    ck_assert_msg(!strncmp(text, start, strlen(start)), "manifest starts: %.40s", text);
    char *at = text + strlen(start);
    char stored[65], hex[65];
    memcpy(stored, at, 64);
    stored[64] = '\0';
    memset(at, '0', 64);
    sha_hex(text, mn, hex);
    ck_assert_str_eq(stored, hex);
    free(text);
    json_t *m;
    void *d;
    size_t dl;
    ck_assert_int_eq(lirf_archive_read_mem(b, len, "sum", &m, &d, &dl), LIRF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(m, "manifest_sha256")), hex);
    json_decref(m);
    free(d);
    free(b);
    /* The key is reserved at the top level only. */
    ck_assert_int_eq(lirf_archive_write_mem("{\"a\": {\"manifest_sha256\": \"x\"}}", dep, 5,
                                            LIRF_ARCHIVE_PLAIN, &b, &len),
                     LIRF_OK);
    ck_assert_int_eq(lirf_archive_read_mem(b, len, "nested", &m, &d, &dl), LIRF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(m, "a"), "manifest_sha256")),
                     "x");
    json_decref(m);
    free(d);
    free(b);
    /* Without the key (crafted as by hand): read. */
    json_t *jm = good_manifest(dep, 5);
    char *t = json_dumps(jm, JSON_INDENT(2));
    json_decref(jm);
    tmember ms[2] = {{LIRF_ARCHIVE_MANIFEST, 0, NULL, 0, t, strlen(t)},
                     {LIRF_ARCHIVE_DEPOSIT, 0, NULL, 0, dep, 5}};
    unsigned char *c = craft(ms, 2, 0, &len);
    ck_assert_int_eq(lirf_archive_read_mem(c, len, "nosum", &m, &d, &dl), LIRF_OK);
    ck_assert_ptr_null(json_object_get(m, "manifest_sha256"));
    json_decref(m);
    free(d);
    free(c);
    free(t);
    /* With one made as the docs say (here, not by lirf): read. */
    jm = good_manifest(dep, 5);
    t = with_man_sum(jm, JSON_INDENT(2), 1);
    json_decref(jm);
    ms[0].data = t;
    ms[0].len = strlen(t);
    c = craft(ms, 2, 1, &len);
    ck_assert_msg(lirf_archive_read_mem(c, len, "docsum", &m, &d, &dl) == LIRF_OK, "%s",
                  lirf_error_message());
    json_decref(m);
    free(d);
    free(c);
    free(t);
}
END_TEST

/* ---- truncation, flips, garbage ------------------------------------------- */

START_TEST(truncation_sweep) {
    lirf_archive_compression comp = COMPS[_i];
    size_t n = 20000;
    unsigned char *dep = rand_bytes(n, 3);
    void *b;
    size_t len;
    ck_assert_int_eq(lirf_archive_write_mem("{\"x\": 1}", dep, n, comp, &b, &len), LIRF_OK);
    /* Plain: headers and data end 1024 bytes (the end-of-archive blocks) and
     * the deposit's padding before the end; compressed: stop at 90 %. Past
     * that, a cut can leave every member whole, which is fine to accept. */
    size_t stop = comp == LIRF_ARCHIVE_PLAIN ? 3 * 512 + n : len * 9 / 10;
    int tried = 0;
    for (size_t l = 0; l < stop; l += (l < 1100 ? 61 : 997)) {
        char what[64];
        snprintf(what, sizeof what, "cut-%s-%zu", COMP_NAMES[_i], l);
        refuse_mem(b, l, what, LIRF_E_FORMAT, NULL, NULL);
        tried++;
    }
    ck_assert_int_gt(tried, 15);
    free(b);
    free(dep);
}
END_TEST

/* Flipping a bit anywhere gives LIRF_E_FORMAT or, where the byte does not
 * matter (padding, mtime), the intact contents: never a wrong deposit or a
 * changed manifest. Every byte, two bits each: the compressed archives differ
 * from run to run (the members' mtime), so a sampled sweep would test
 * different bytes in different runs. */
START_TEST(flip_sweep) {
    lirf_archive_compression comp = COMPS[_i];
    size_t n = 3000;
    unsigned char *dep = rand_bytes(n, 4);
    void *b;
    size_t len;
    ck_assert_int_eq(
        lirf_archive_write_mem("{\"x\": 1, \"name\": \"Trouser\"}", dep, n, comp, &b, &len),
        LIRF_OK);
    unsigned char *c = malloc(len);
    int refused = 0, total = 0;
    for (size_t k = 0; k < 2 * len; k++) {
        size_t at = k / 2;
        memcpy(c, b, len);
        c[at] ^= k % 2 ? 0x01 : 0x40;
        json_t *m;
        void *d;
        size_t dl;
        lirf_status s = lirf_archive_read_mem(c, len, "flipped", &m, &d, &dl);
        total++;
        if (s == LIRF_OK) {
            ck_assert_msg(dl == n && memcmp(d, dep, n) == 0, "flip at %zu: wrong deposit", at);
            ck_assert_msg(json_integer_value(json_object_get(m, "x")) == 1 &&
                              json_is_string(json_object_get(m, "name")) &&
                              !strcmp(json_string_value(json_object_get(m, "name")), "Trouser"),
                          "flip at %zu (%s): manifest changed but accepted", at,
                          COMP_NAMES[_i]);
            json_decref(m);
            free(d);
        } else {
            ck_assert_msg(s == LIRF_E_FORMAT, "flip at %zu: %s (%s)", at, lirf_status_name(s),
                          lirf_error_message());
            refused++;
        }
    }
    /* Most flips land in the header, manifest or deposit: most are refused. */
    ck_assert_msg(refused > total / 2, "only %d of %d flips refused", refused, total);
    free(c);
    free(b);
    free(dep);
}
END_TEST

START_TEST(garbage) {
    for (int k = 0; k < 20; k++) {
        size_t n = (size_t)(1 + 613 * k);
        unsigned char *g = rand_bytes(n, 100 + (uint64_t)k);
        if (k % 4 == 1) g[0] = 0x1f, g[1 % n] = 0x8b;                     /* looks gzip */
        if (k % 4 == 2 && n > 4) memcpy(g, "\x28\xb5\x2f\xfd", 4);        /* looks zstd */
        if (k % 4 == 3 && n > 262) memcpy(g + 257, "ustar", 5);           /* looks tar */
        refuse_mem(g, n, "garbage", LIRF_E_FORMAT, NULL, NULL);
        free(g);
    }
    /* All zeros: an empty tar. */
    unsigned char z[10240] = {0};
    refuse_mem(z, sizeof z, "zeros", LIRF_E_FORMAT, "missing", NULL);
    refuse_mem(NULL, 0, "nothing", LIRF_E_FORMAT, NULL, NULL);
    /* A garbage file on disk. */
    char path[512];
    tpath(path, sizeof path, "garbage.lirf");
    unsigned char *g = rand_bytes(5000, 1);
    spit(path, g, 5000);
    free(g);
    json_t *m = NULL;
    void *d = NULL;
    size_t dl = 0;
    lirf_clear_error();
    lirf_status s = lirf_archive_read(path, &m, &d, &dl);
    expect_refusal(s, m, d, dl, LIRF_E_FORMAT, "garbage.lirf", NULL, NULL);
}
END_TEST

/* Found by fuzz_archive: a format_version 2 archive that is neither signed
 * nor encrypted (lirf never writes one) was accepted, and a plain rewrite of
 * it came back as version 1. It is refused. */
START_TEST(version_2_needs_a_signer_or_an_encryption) {
    json_t *m;
    void *d;
    size_t n;
    const char *path =
        LIRF_SOURCE_DIR "/tests/fuzz/regressions/archive/v2-neither-signed-nor-encrypted.tar";
    ck_assert_int_eq(lirf_archive_read(path, &m, &d, &n), LIRF_E_FORMAT);
    ck_assert_ptr_nonnull(strstr(lirf_error_message(), "names neither a signer nor an encryption"));
}
END_TEST

int main(void) {
    Suite *s = suite_create("archive");
    TCase *tc = tcase_create("archive");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, round_trip, 0, 3);
    tcase_add_loop_test(tc, gnu_tar_lists_it, 0, 3);
    tcase_add_test(tc, reads_gnu_tar_archives);
    tcase_add_test(tc, version_2_needs_a_signer_or_an_encryption);
    tcase_add_test(tc, atomic_write);
    tcase_add_test(tc, writer_arguments);
    tcase_add_loop_test(tc, refusals, 0, R_COUNT);
    tcase_add_test(tc, refusals_from_file_and_control);
    tcase_add_loop_test(tc, truncation_sweep, 0, 3);
    tcase_add_test(tc, manifest_checksum);
    tcase_add_loop_test(tc, flip_sweep, 0, 3);
    tcase_add_test(tc, garbage);
    suite_add_tcase(s, tc);
    int rc = trun(s);
    if (g_dir[0]) rm_dir(g_dir, 1);
    return rc;
}
