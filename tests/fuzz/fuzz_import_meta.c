/* libFuzzer target: lirf import's meta (model/io/import.h): the --meta JSON
 * file (lirf_import_meta_parse: size limit, JSON, unknown and duplicate keys,
 * in_shape, preprocess scale / mean / std, class_names) and the same fields
 * as command-line text (lirf_import_meta_set on the input as a string, for
 * each of the five fields).
 *
 * Oracle:
 * - whatever is accepted is in range: scale 0 (not given) or in (0, 1];
 *   1..4 finite means, 1..4 positive finite stds; in_shape C in 1..4, H and
 *   W in 1..4096; 0 or 2..1000 class names, each non-empty, at most 255
 *   bytes of valid UTF-8, no control character, no two the same;
 * - an accepted JSON meta, written again as JSON (jansson) from what was
 *   read, parses to the same meta (every number and name exactly);
 * - a refusal leaves the meta as it was (fields are replaced only when valid).
 * Every meta is freed (lirf_import_meta_free; LeakSanitizer checks).
 */
#include <math.h>
#include <string.h>

#include "fuzz.h"
#include "import.h"

int fuzz_accepted;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_init();
    return 0;
}

static void check_meta(const lirf_import_meta *m) {
    FUZZ_CHECK(m->scale == 0 || (m->scale > 0 && m->scale <= 1));
    FUZZ_CHECK(m->nmean >= 0 && m->nmean <= 4 && m->nstd >= 0 && m->nstd <= 4);
    for (int i = 0; i < m->nmean; i++) FUZZ_CHECK(isfinite(m->mean[i]));
    for (int i = 0; i < m->nstd; i++) FUZZ_CHECK(isfinite(m->std[i]) && m->std[i] > 0);
    FUZZ_CHECK(m->in_c == 0 || (m->in_c <= 4 && m->in_h >= 1 && m->in_h <= 4096 &&
                                m->in_w >= 1 && m->in_w <= 4096));
    FUZZ_CHECK(m->nnames == 0 || (m->nnames >= 2 && m->nnames <= LIRF_MAX_CLASSES));
    for (int i = 0; i < m->nnames; i++) {
        size_t n = strlen(m->class_names[i]);
        FUZZ_CHECK(n >= 1 && n <= 255);
        for (size_t k = 0; k < n; k++)
            FUZZ_CHECK((unsigned char)m->class_names[i][k] >= 0x20 &&
                       m->class_names[i][k] != 0x7f);
        for (int j = 0; j < i; j++) FUZZ_CHECK(strcmp(m->class_names[i], m->class_names[j]));
        json_t *v = json_string(m->class_names[i]); /* valid UTF-8: the checkpoint can hold it */
        FUZZ_CHECK(v != NULL);
        json_decref(v);
    }
}

static int same_meta(const lirf_import_meta *a, const lirf_import_meta *b) {
    if (a->scale != b->scale || a->nmean != b->nmean || a->nstd != b->nstd ||
        a->in_c != b->in_c || a->in_h != b->in_h || a->in_w != b->in_w || a->nnames != b->nnames)
        return 0;
    for (int i = 0; i < a->nmean; i++)
        if (a->mean[i] != b->mean[i]) return 0;
    for (int i = 0; i < a->nstd; i++)
        if (a->std[i] != b->std[i]) return 0;
    for (int i = 0; i < a->nnames; i++)
        if (strcmp(a->class_names[i], b->class_names[i])) return 0;
    return 1;
}

static json_t *reals(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

/* m as a meta file (only the fields it has). */
static char *write_meta(const lirf_import_meta *m) {
    json_t *j = json_object(), *pre = json_object();
    if (m->in_c)
        json_object_set_new(j, "in_shape", json_pack("[i,i,i]", m->in_c, m->in_h, m->in_w));
    if (m->scale) json_object_set_new(pre, "scale", json_real(m->scale));
    if (m->nmean) json_object_set_new(pre, "mean", reals(m->mean, m->nmean));
    if (m->nstd) json_object_set_new(pre, "std", reals(m->std, m->nstd));
    if (json_object_size(pre)) json_object_set(j, "preprocess", pre);
    json_decref(pre);
    if (m->nnames) {
        json_t *names = json_array();
        for (int i = 0; i < m->nnames; i++)
            json_array_append_new(names, json_string(m->class_names[i]));
        json_object_set_new(j, "class_names", names);
    }
    char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(j);
    FUZZ_CHECK(s != NULL);
    return s;
}

static void fuzz_json(const uint8_t *data, size_t size) {
    lirf_import_meta m = {0};
    lirf_status s = lirf_import_meta_parse((const char *)data, size, "fuzz.json", &m);
    fuzz_accepted = s == LIRF_OK;
    if (s != LIRF_OK) {
        FUZZ_CHECK(s == LIRF_E_FORMAT);
        lirf_import_meta_free(&m);
        return;
    }
    check_meta(&m);
    char *again = write_meta(&m);
    lirf_import_meta b = {0};
    FUZZ_CHECK(lirf_import_meta_parse(again, strlen(again), "again.json", &b) == LIRF_OK);
    FUZZ_CHECK(same_meta(&m, &b));
    free(again);
    lirf_import_meta_free(&b);
    lirf_import_meta_free(&m);
}

/* The input as command-line text for each field, into one meta: a refused
 * value leaves it unchanged. */
static void fuzz_text(const uint8_t *data, size_t size) {
    if (size > 4096) return;
    char *text = malloc(size + 1);
    FUZZ_CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = 0;
    static const char *const keys[] = {"scale", "mean", "std", "in_shape", "class_names"};
    lirf_import_meta m = {0};
    for (int k = 0; k < 5; k++) {
        lirf_import_meta before = m;
        lirf_status s = lirf_import_meta_set(&m, keys[k], text);
        if (s != LIRF_OK) {
            FUZZ_CHECK(s == LIRF_E_INVALID);
            FUZZ_CHECK(m.class_names == before.class_names && same_meta(&m, &before));
        }
        check_meta(&m);
    }
    lirf_import_meta_free(&m);
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_text(data, size);
    fuzz_json(data, size);
    return 0;
}
