/* File-system helpers (see fileutil.h). */
#include "fileutil.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

lirf_status lirf_fsync_parent(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash)
        dir = strdup(".");
    else if (slash == path)
        dir = strdup("/");
    else
        dir = strndup(path, (size_t)(slash - path));
    if (!dir) return LIRF_FAIL(LIRF_E_NOMEM, "out of memory");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
        lirf_status st = LIRF_FAIL(LIRF_E_IO, "%s: cannot open folder to fsync: %s", dir,
                                   strerror(errno));
        free(dir);
        return st;
    }
    lirf_status st = LIRF_OK;
    /* Some file systems cannot fsync a folder (EINVAL); nothing more to do there. */
    if (fsync(fd) != 0 && errno != EINVAL)
        st = LIRF_FAIL(LIRF_E_IO, "%s: fsync of folder failed: %s", dir, strerror(errno));
    close(fd);
    free(dir);
    return st;
}

void lirf_crash_point(const char *site) {
    static int calls; /* of the configured site */
    const char *v = lirf_options_get()->crash_at;
    if (!*v || !site) return;
    const char *colon = strrchr(v, ':');
    size_t n = strlen(site);
    if (!colon || (size_t)(colon - v) != n || strncmp(v, site, n)) return;
    if (++calls == atoi(colon + 1)) {
        fprintf(stderr, "lirf: LIRF_CRASH_AT=%s: killing the process here\n", v);
        raise(SIGKILL);
    }
}

json_t *lirf_json_text(const char *s) {
    if (!s) return json_null();
    json_t *j = json_string(s);
    if (j) return j;
    char *t = strdup(s);
    if (!t) return NULL;
    for (char *p = t; *p; p++)
        if ((unsigned char)*p >= 0x80) *p = '?';
    j = json_string(t);
    free(t);
    return j;
}

lirf_status lirf_file_sha256(const char *path, char hex[65]) {
    FILE *f = fopen(path, "rb");
    if (!f) return LIRF_FAIL(LIRF_E_IO, "cannot read %s to hash it", path);
    crypto_hash_sha256_state s;
    crypto_hash_sha256_init(&s);
    unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) crypto_hash_sha256_update(&s, buf, n);
    int err = ferror(f);
    fclose(f);
    if (err) return LIRF_FAIL(LIRF_E_IO, "error reading %s", path);
    unsigned char h[32];
    crypto_hash_sha256_final(&s, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
    return LIRF_OK;
}
