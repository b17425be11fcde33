/* A plain main() for the fuzz targets: runs LLVMFuzzerTestOneInput once on
 * each file named (a folder: each file in it, in name order). Built in every
 * configuration, so the seed corpora and every regression input in
 * tests/fuzz/regressions/ run in the ordinary test suite (and under ASan /
 * UBSan in the sanitizer build) without libFuzzer or clang. A crash or a
 * failed FUZZ_CHECK aborts: the exit status is the verdict.
 *
 *   fuzz_<t>_replay [-v] [-accept] PATH... [-any] PATH...
 *
 * -accept: the reader must accept the files that follow (the seeds stay
 * valid inputs as the readers change); -any: it may refuse them (regression
 * inputs); -v: one line per file, with the reader's verdict.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int g_verbose, g_accept;

static int run_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: cannot open %s\n", path);
        return 1;
    }
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fprintf(stderr, "replay: out of memory\n");
            fclose(f);
            return 1;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        uint8_t *p = realloc(buf, cap * 2);
        if (!p) free(buf);
        buf = p;
        cap *= 2;
    }
    fclose(f);
    /* an exactly sized copy, so that ASan sees a read one past the end */
    uint8_t *exact = malloc(n ? n : 1);
    if (!exact) {
        free(buf);
        return 1;
    }
    memcpy(exact, buf, n);
    free(buf);
    fuzz_accepted = -1;
    LLVMFuzzerTestOneInput(exact, n);
    free(exact);
    if (g_verbose)
        printf("%s: %s%s\n", path, fuzz_accepted == 1 ? "accepted" : "refused: ",
               fuzz_accepted == 1 ? "" : lirf_error_message());
    if (g_accept && fuzz_accepted != 1) {
        fprintf(stderr, "replay: %s is a seed but the reader refuses it: %s\n", path,
                lirf_error_message());
        return 1;
    }
    return 0;
}

static int run_path(const char *path, size_t *count) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        fprintf(stderr, "replay: no such file or folder: %s\n", path);
        return 1;
    }
    if (!S_ISDIR(sb.st_mode)) {
        ++*count;
        return run_file(path);
    }
    DIR *d = opendir(path);
    if (!d) return 1;
    char **names = NULL;
    size_t n = 0;
    struct dirent *de;
    int bad = 0;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char **p = realloc(names, (n + 1) * sizeof *names);
        size_t len = strlen(path) + strlen(de->d_name) + 2;
        char *s = malloc(len);
        if (p) names = p;
        if (!p || !s) {
            free(s);
            bad = 1;
            break;
        }
        snprintf(s, len, "%s/%s", path, de->d_name);
        names[n++] = s;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp);
    for (size_t i = 0; i < n; i++) {
        if (!bad) bad = run_path(names[i], count);
        free(names[i]);
    }
    free(names);
    return bad;
}

int main(int argc, char **argv) {
    LLVMFuzzerInitialize(&argc, &argv);
    size_t count = 0;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (!strcmp(argv[i], "-v")) g_verbose = 1;
        else if (!strcmp(argv[i], "-accept")) g_accept = 1;
        else if (!strcmp(argv[i], "-any")) g_accept = 0;
        else if (argv[i][0] == '-') continue; /* libFuzzer-style flags: ignored */
        else bad = run_path(argv[i], &count);
    }
    printf("replay: %zu inputs run%s\n", count, bad ? ", with errors" : "");
    return bad;
}
