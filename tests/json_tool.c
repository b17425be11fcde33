/* The helper of tests/json_hostile.sh (no Python or jq needed):
 *   json_tool pngs DIR K N           N 8x8 gray PNGs "img I.png" of class K in
 *                                    DIR (a bright row 2K+1 on fixed noise)
 *   json_tool check LABEL FILE S...  FILE is exactly one JSON document (nothing
 *                                    after it) in which every S is a string
 *                                    value or key, or part of one
 *   json_tool same A B               A and B hold equal JSON documents
 * Exit 0 when so, 1 (with a message) otherwise. */
#include <jansson.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One 8x8 gray PNG of rows; 0 on success. Nothing changes after setjmp. */
static int write_png(const char *path, png_byte rows[8][8]) {
    FILE *f = fopen(path, "wb");
    if (!f) return 1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!info || setjmp(png_jmpbuf(p))) {
        png_destroy_write_struct(&p, info ? &info : NULL);
        fclose(f);
        return 1;
    }
    png_init_io(p, f);
    png_set_IHDR(p, info, 8, 8, 8, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (int y = 0; y < 8; y++) png_write_row(p, rows[y]);
    png_write_end(p, info);
    png_destroy_write_struct(&p, &info);
    return fclose(f) != 0;
}

static int pngs(const char *dir, int k, int n) {
    unsigned s = 7u + 131u * (unsigned)k;
    for (int i = 0; i < n; i++) {
        char path[4096];
        png_byte rows[8][8];
        for (int y = 0; y < 8; y++)
            for (int x = 0; x < 8; x++) {
                s = s * 1103515245u + 12345u;
                rows[y][x] = y == 2 * k + 1 ? 250 : (png_byte)((s >> 16) % 60);
            }
        snprintf(path, sizeof path, "%s/img %d.png", dir, i);
        if (write_png(path, rows)) {
            fprintf(stderr, "json_tool: cannot write %s\n", path);
            return 1;
        }
    }
    return 0;
}

static int found(const json_t *v, const char *want) {
    const char *key;
    json_t *x;
    size_t i;
    if (json_is_string(v)) return strstr(json_string_value(v), want) != NULL;
    if (json_is_object(v))
        json_object_foreach((json_t *)v, key, x) if (strstr(key, want) || found(x, want)) return 1;
    if (json_is_array(v))
        json_array_foreach(v, i, x) if (found(x, want)) return 1;
    return 0;
}

static json_t *load(const char *label, const char *path) {
    json_error_t err;
    json_t *j = json_load_file(path, 0, &err); /* one document, nothing after it */
    if (!j) fprintf(stderr, "%s: not one JSON document: %s (line %d, column %d)\n", label, err.text,
                    err.line, err.column);
    return j;
}

static int check(const char *label, const char *path, int n, char **want) {
    json_t *j = load(label, path);
    if (!j) return 1;
    int rc = 0;
    for (int i = 0; i < n; i++)
        if (!found(j, want[i])) {
            fprintf(stderr, "%s: \"%s\" does not come back\n", label, want[i]);
            rc = 1;
        }
    if (!rc) printf("ok  %s\n", label);
    json_decref(j);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "pngs")) return pngs(argv[2], atoi(argv[3]), atoi(argv[4]));
    if (argc >= 4 && !strcmp(argv[1], "check")) return check(argv[2], argv[3], argc - 4, argv + 4);
    if (argc == 4 && !strcmp(argv[1], "same")) {
        json_t *a = load(argv[2], argv[2]), *b = load(argv[3], argv[3]);
        int same = a && b && json_equal(a, b);
        if (a && b && !same) fprintf(stderr, "%s and %s differ\n", argv[2], argv[3]);
        json_decref(a), json_decref(b);
        return !same;
    }
    fprintf(stderr, "usage: json_tool pngs DIR K N | check LABEL FILE STRING... | same A B\n");
    return 2;
}
