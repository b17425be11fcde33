/* Command-line helpers shared by the commands. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

int arg_value(int argc, char **argv, int *i, const char *name, const char **out, int *bad) {
    size_t n = strlen(name);
    const char *a = argv[*i];
    if (!strcmp(a, name)) {
        if (*i + 1 >= argc) {
            fprintf(stderr, "lirf: %s needs a value\n", name);
            *bad = 1;
            return 1;
        }
        *out = argv[++*i];
        return 1;
    }
    if (!strncmp(a, name, n) && a[n] == '=') {
        *out = a + n + 1;
        return 1;
    }
    return 0;
}

int arg_flag(char **argv, int i, const char *name) { return !strcmp(argv[i], name); }

int parse_int(const char *s, long lo, long hi, const char *what, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "lirf: %s must be an integer in [%ld, %ld], got \"%s\"\n", what, lo, hi, s);
        return 0;
    }
    *out = (int)v;
    return 1;
}

int parse_float(const char *s, double lo, double hi, const char *what, float *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "lirf: %s must be a number in [%g, %g], got \"%s\"\n", what, lo, hi, s);
        return 0;
    }
    *out = (float)v;
    return 1;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int parse_class_list(const char *s, int max, int32_t **out, int *n) {
    int cap = 16, k = 0;
    int32_t *v = malloc((size_t)cap * sizeof *v);
    if (!v) return 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (errno || end == p || x < 0 || x >= max || (*end && *end != ',')) {
            fprintf(stderr, "lirf: bad class list \"%s\": classes are integers in [0, %d) "
                            "separated by commas\n", s, max);
            free(v);
            return 0;
        }
        if (k == cap) {
            cap *= 2;
            int32_t *nv = realloc(v, (size_t)cap * sizeof *v);
            if (!nv) {
                free(v);
                return 0;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = *end ? end + 1 : end;
    }
    if (k == 0) {
        fprintf(stderr, "lirf: empty class list\n");
        free(v);
        return 0;
    }
    qsort(v, (size_t)k, sizeof *v, cmp_i32);
    int u = 0;
    for (int i = 0; i < k; i++)
        if (!u || v[u - 1] != v[i]) v[u++] = v[i];
    *out = v;
    *n = u;
    return 1;
}

int parse_data_kind(const char *s, lirf_data_kind *out) {
    static const struct { const char *name; lirf_data_kind k; } kinds[] = {
        {"auto", LIRF_DATA_AUTO},       {"fashion-mnist", LIRF_DATA_FASHION_MNIST},
        {"cifar10", LIRF_DATA_CIFAR10}, {"cifar100", LIRF_DATA_CIFAR100},
        {"imagefolder", LIRF_DATA_IMAGEFOLDER}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (!strcasecmp(s, kinds[i].name)) return *out = kinds[i].k, 1;
    fprintf(stderr, "lirf: unknown data format \"%s\" (auto, fashion-mnist, cifar10, cifar100, "
                    "imagefolder)\n", s);
    return 0;
}

int parse_long(const char *s, long lo, long hi, const char *what, long *out) {
    int v = 0;
    if (!parse_int(s, lo, hi, what, &v)) return 0;
    *out = v;
    return 1;
}

int parse_seed(const char *s, const char *what, uint32_t *out) {
    int v = 0;
    if (!parse_int(s, 0, 2147483647, what, &v)) return 0;
    *out = (uint32_t)v;
    return 1;
}

int parse_arch(const char *s, lirf_arch *out) {
    if (lirf_arch_parse(s, out) == LIRF_OK) return 1;
    fprintf(stderr, "lirf: %s\n", lirf_error_message());
    return 0;
}

int parse_sched(const char *s, lirf_sched *out) {
    if (lirf_sched_parse(s, out) == LIRF_OK) return 1;
    fprintf(stderr, "lirf: %s\n", lirf_error_message());
    return 0;
}

int parse_choice(const char *s, const char *what, const char *a, const char *b, int *is_b) {
    if (!strcmp(s, a) || !strcmp(s, b)) return *is_b = !strcmp(s, b), 1;
    fprintf(stderr, "lirf: %s is %s or %s\n", what, a, b);
    return 0;
}

int parse_status(lirf_status st) {
    if (st == LIRF_OK) return 1;
    fprintf(stderr, "lirf: %s\n", lirf_error_message());
    return 0;
}

int unknown_option(const char *cmd, const char *arg) {
    fprintf(stderr, "lirf %s: unknown option %s (see lirf %s --help)\n", cmd, arg, cmd);
    return 1;
}

/* A document that could not be built: jansson refuses text that is not UTF-8
 * (a path's bytes) as it refuses to run out of memory. */
static int json_failed(void) {
    fprintf(stderr, "lirf: cannot build the JSON document (out of memory, or a path or name "
                    "that is not UTF-8)\n");
    return 2;
}

int print_json(json_t *j) {
    char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    if (!s) return json_failed();
    puts(s);
    free(s);
    return 0;
}

int print_json_line(json_t *j) {
    int ok = j && json_dumpf(j, stdout, LIRF_JSON_DUMP_FLAGS) == 0 && putchar('\n') != EOF;
    json_decref(j);
    return ok ? 0 : json_failed();
}
