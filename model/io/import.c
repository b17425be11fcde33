/* lirf import (see import.h). */
#include "fileutil.h"
#include "import.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define META_MAX_BYTES (1 << 20)
#define NAME_MAX_BYTES 255

void lirf_import_meta_free(lirf_import_meta *m) {
    if (!m) return;
    for (int i = 0; i < m->nnames; i++) free(m->class_names[i]);
    free(m->class_names);
    m->class_names = NULL;
    m->nnames = 0;
}

/* ---- the meta, field by field (shared by the text and the JSON readers) ---- */

static lirf_status set_scale(lirf_import_meta *m, double v, const char *what) {
    if (!isfinite(v) || !(v > 0) || v > 1)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: scale must be in (0, 1] (1/255 for torchvision's "
                                         "ToTensor, 1 for raw 0..255 pixels), got %g", what, v);
    m->scale = v;
    return LIRF_OK;
}

static lirf_status set_vec(lirf_import_meta *m, int is_std, const double *v, int n,
                           const char *what) {
    const char *key = is_std ? "std" : "mean";
    if (n < 1 || n > 4)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: %s needs 1 to 4 values (one per input channel), "
                                         "got %d", what, key, n);
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i]) || fabs(v[i]) > 1e6 || (is_std && !(v[i] > 0)))
            return LIRF_FAIL(LIRF_E_INVALID, "%s: %s[%d] = %g is not %s", what, key, i, v[i],
                             is_std ? "a positive number" : "a finite number");
    }
    memcpy(is_std ? m->std : m->mean, v, (size_t)n * sizeof *v);
    *(is_std ? &m->nstd : &m->nmean) = n;
    return LIRF_OK;
}

static lirf_status set_shape(lirf_import_meta *m, const long *v, int n, const char *what) {
    if (n != 3 || v[0] < 1 || v[0] > 4 || v[1] < 1 || v[1] > 4096 || v[2] < 1 || v[2] > 4096)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: in_shape must be C,H,W with C in 1..4 and H, W in "
                                         "1..4096", what);
    m->in_c = (int)v[0], m->in_h = (int)v[1], m->in_w = (int)v[2];
    return LIRF_OK;
}

static lirf_status check_name(const char *s, size_t len, int i, const char *what) {
    if (len == 0 || len > NAME_MAX_BYTES)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: class name %d is empty or longer than %d bytes",
                         what, i, NAME_MAX_BYTES);
    for (size_t k = 0; k < len; k++)
        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
            return LIRF_FAIL(LIRF_E_INVALID, "%s: class name %d holds a control character",
                             what, i);
    json_t *v = json_stringn(s, len); /* NULL unless valid UTF-8 */
    if (!v) return LIRF_FAIL(LIRF_E_INVALID, "%s: class name %d is not valid UTF-8", what, i);
    json_decref(v);
    return LIRF_OK;
}

/* names[i] (len[i] bytes each, not NUL-terminated) replace m's. */
static lirf_status set_names(lirf_import_meta *m, const char *const *names, const size_t *len,
                             int n, const char *what) {
    if (n < 2 || n > LIRF_MAX_CLASSES)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: class_names needs 2 to %d names, got %d", what,
                         LIRF_MAX_CLASSES, n);
    for (int i = 0; i < n; i++) {
        LIRF_TRY(check_name(names[i], len[i], i, what));
        for (int j = 0; j < i; j++)
            if (len[j] == len[i] && !memcmp(names[j], names[i], len[i]))
                return LIRF_FAIL(LIRF_E_INVALID, "%s: class names %d and %d are the same "
                                 "(\"%.*s\")", what, j, i, (int)len[i], names[i]);
    }
    char **copy = calloc((size_t)n, sizeof *copy);
    for (int i = 0; copy && i < n; i++) {
        copy[i] = malloc(len[i] + 1);
        if (!copy[i]) {
            for (int j = 0; j < i; j++) free(copy[j]);
            free(copy);
            copy = NULL;
            break;
        }
        memcpy(copy[i], names[i], len[i]);
        copy[i][len[i]] = 0;
    }
    if (!copy) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_import_meta_free(m);
    m->class_names = copy;
    m->nnames = n;
    return LIRF_OK;
}

/* ---- command-line text ---- */

/* "a,b,c" -> up to cap numbers; *n their count (cap + 1 when there are more). */
static lirf_status parse_numbers(const char *text, double *v, int cap, int *n, const char *what) {
    *n = 0;
    const char *p = text;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || (*end && *end != ','))
            return LIRF_FAIL(LIRF_E_INVALID, "%s: \"%.80s\" is not a comma-separated list of "
                                             "numbers", what, text);
        if (*n < cap) v[*n] = x;
        ++*n;
        if (!*end) return LIRF_OK;
        p = end + 1;
    }
}

static lirf_status parse_scale_text(lirf_import_meta *m, const char *text) {
    double a, b = 1;
    char *end;
    errno = 0;
    a = strtod(text, &end);
    if (end != text && *end == '/') {
        const char *q = end + 1;
        b = strtod(q, &end);
        if (end == q) end = (char *)q - 1; /* "1/": reported below */
    }
    if (end == text || *end || errno || !isfinite(a) || !isfinite(b) || !(b > 0))
        return LIRF_FAIL(LIRF_E_INVALID, "scale: \"%.80s\" is not a number or a fraction such "
                                         "as 1/255", text);
    return set_scale(m, a / b, "scale");
}

static lirf_status parse_names_text(lirf_import_meta *m, const char *text) {
    const char *names[LIRF_MAX_CLASSES + 1];
    size_t len[LIRF_MAX_CLASSES + 1];
    int n = 0;
    for (const char *p = text;; n++) {
        const char *c = strchr(p, ',');
        if (n <= LIRF_MAX_CLASSES) names[n] = p, len[n] = c ? (size_t)(c - p) : strlen(p);
        if (!c) break;
        p = c + 1;
    }
    n++;
    return set_names(m, names, len, n > LIRF_MAX_CLASSES ? LIRF_MAX_CLASSES + 1 : n,
                     "class_names");
}

lirf_status lirf_import_meta_set(lirf_import_meta *m, const char *key, const char *text) {
    if (!m || !key || !text) return LIRF_FAIL(LIRF_E_NULL, "import_meta_set: NULL argument");
    double v[5];
    int n;
    if (!strcmp(key, "scale")) return parse_scale_text(m, text);
    if (!strcmp(key, "class_names")) return parse_names_text(m, text);
    if (!strcmp(key, "mean") || !strcmp(key, "std")) {
        LIRF_TRY(parse_numbers(text, v, 5, &n, key));
        return set_vec(m, !strcmp(key, "std"), v, n, key);
    }
    if (!strcmp(key, "in_shape")) {
        LIRF_TRY(parse_numbers(text, v, 5, &n, key));
        long s[3];
        for (int i = 0; i < 3 && i < n; i++) {
            if (v[i] != floor(v[i]) || fabs(v[i]) > 1e9)
                return LIRF_FAIL(LIRF_E_INVALID, "in_shape: \"%.80s\" is not three integers",
                                 text);
            s[i] = (long)v[i];
        }
        return set_shape(m, s, n, "in_shape");
    }
    return LIRF_FAIL(LIRF_E_INVALID, "import meta: unknown field \"%.40s\"", key);
}

/* ---- the JSON file ---- */

static lirf_status json_numbers(json_t *a, double *v, int cap, int *n, const char *what,
                                const char *key) {
    if (!json_is_array(a))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"%s\" is not an array of numbers", what, key);
    *n = (int)(json_array_size(a) > (size_t)cap ? (size_t)cap + 1 : json_array_size(a));
    for (int i = 0; i < *n && i < cap; i++) {
        json_t *x = json_array_get(a, (size_t)i);
        if (!json_is_number(x))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"%s\"[%d] is not a number", what, key, i);
        v[i] = json_number_value(x);
    }
    return LIRF_OK;
}

static lirf_status json_preprocess(lirf_import_meta *m, json_t *pre, const char *what) {
    if (!json_is_object(pre))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"preprocess\" is not an object", what);
    const char *key;
    json_t *v;
    json_object_foreach(pre, key, v) {
        double x[5];
        int n = 0;
        lirf_status s;
        if (!strcmp(key, "scale")) {
            if (!json_is_number(v))
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"preprocess.scale\" is not a number", what);
            s = set_scale(m, json_number_value(v), what);
        } else if (!strcmp(key, "mean") || !strcmp(key, "std")) {
            LIRF_TRY(json_numbers(v, x, 4, &n, what, key));
            s = set_vec(m, !strcmp(key, "std"), x, n, what);
        } else {
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown key \"preprocess.%.40s\" (scale, mean, "
                                            "std)", what, key);
        }
        if (s != LIRF_OK) return LIRF_E_FORMAT; /* the message as recorded */
    }
    return LIRF_OK;
}

static lirf_status json_names(lirf_import_meta *m, json_t *a, const char *what) {
    if (!json_is_array(a) || json_array_size(a) > LIRF_MAX_CLASSES)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"class_names\" is not an array of at most %d "
                                        "strings", what, LIRF_MAX_CLASSES);
    int n = (int)json_array_size(a);
    const char *names[LIRF_MAX_CLASSES];
    size_t len[LIRF_MAX_CLASSES];
    for (int i = 0; i < n; i++) {
        json_t *s = json_array_get(a, (size_t)i);
        if (!json_is_string(s))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"class_names\"[%d] is not a string", what, i);
        names[i] = json_string_value(s), len[i] = json_string_length(s);
        if (memchr(names[i], 0, len[i]))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: class name %d holds a NUL", what, i);
    }
    lirf_status s = set_names(m, names, len, n, what);
    return s == LIRF_OK ? s : LIRF_E_FORMAT;
}

static lirf_status json_field(lirf_import_meta *m, const char *key, json_t *v, const char *what) {
    if (!strcmp(key, "preprocess")) return json_preprocess(m, v, what);
    if (!strcmp(key, "class_names")) return json_names(m, v, what);
    if (strcmp(key, "in_shape"))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown key \"%.40s\" (in_shape, preprocess, "
                                        "class_names)", what, key);
    double x[4];
    long s[3];
    int n = 0;
    LIRF_TRY(json_numbers(v, x, 3, &n, what, key));
    for (int i = 0; i < n && i < 3; i++) {
        if (!json_is_integer(json_array_get(v, (size_t)i)))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"in_shape\"[%d] is not an integer", what, i);
        s[i] = (long)json_integer_value(json_array_get(v, (size_t)i));
    }
    lirf_status st = set_shape(m, s, n, what);
    return st == LIRF_OK ? st : LIRF_E_FORMAT;
}

lirf_status lirf_import_meta_parse(const char *text, size_t len, const char *what,
                                   lirf_import_meta *m) {
    if (!text || !what || !m) return LIRF_FAIL(LIRF_E_NULL, "import_meta_parse: NULL argument");
    if (len > META_MAX_BYTES)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: %zu bytes, more than a meta file may hold (%d)",
                         what, len, META_MAX_BYTES);
    json_error_t err;
    json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &err);
    if (!j) return LIRF_FAIL(LIRF_E_FORMAT, "%s: not valid JSON (line %d: %.120s)", what,
                             err.line, err.text);
    lirf_status s = json_is_object(j) ? LIRF_OK
                                      : LIRF_FAIL(LIRF_E_FORMAT, "%s: not a JSON object", what);
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v) {
        if (s == LIRF_OK) s = json_field(m, key, v, what);
    }
    json_decref(j);
    return s;
}

/* The whole file, at most cap bytes, into *buf (free() it). */
static lirf_status read_file(const char *path, size_t cap, unsigned char **buf, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return LIRF_FAIL(errno == ENOENT ? LIRF_E_NOT_FOUND : LIRF_E_IO,
                             "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    lirf_status s = LIRF_OK;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        s = LIRF_FAIL(LIRF_E_IO, "%s: not a regular file", path);
    else if ((uintmax_t)sb.st_size > cap)
        s = LIRF_FAIL(LIRF_E_FORMAT, "%s: %jd bytes, more than %zu", path, (intmax_t)sb.st_size,
                      cap);
    *len = s == LIRF_OK ? (size_t)sb.st_size : 0;
    *buf = s == LIRF_OK ? malloc(*len ? *len : 1) : NULL;
    if (s == LIRF_OK && !*buf) s = LIRF_FAIL(LIRF_E_NOMEM, "%s: out of memory", path);
    if (s == LIRF_OK && fread(*buf, 1, *len, f) != *len)
        s = LIRF_FAIL(LIRF_E_IO, "%s: read failed or the file changed while read", path);
    fclose(f);
    if (s != LIRF_OK) free(*buf), *buf = NULL;
    return s;
}

lirf_status lirf_import_meta_read(const char *path, lirf_import_meta *m) {
    if (!path || !m) return LIRF_FAIL(LIRF_E_NULL, "import_meta_read: NULL argument");
    unsigned char *buf;
    size_t len;
    LIRF_TRY(read_file(path, META_MAX_BYTES, &buf, &len));
    lirf_status s = lirf_import_meta_parse((const char *)buf, len, path, m);
    free(buf);
    return s;
}

/* ---- the architecture, from the tensor names and shapes ---- */

/* One architecture a state dict may hold. config fills the net config of the
 * ones this build runs; NULL: known, but not supported by this build. To
 * support one, write its config function (the arch, or the stem, that
 * lirf_net_config uses for it) and put it in the rule; width, in_c and classes
 * are filled from the tensors, and lirf_checkpoint_load_net then checks every
 * tensor against the net that config describes. */
typedef struct {
    const char *name;
    int stem_kernel;         /* conv1's kernel: 3 (CIFAR stem) or 7 (ImageNet stem + max-pool) */
    int blocks[4];           /* layer1..layer4 */
    int bottleneck;          /* blocks with conv3 (ResNet-50 and up) */
    void (*config)(lirf_net_config *c);
} import_rule;

static void cifar_resnet18(lirf_net_config *c) { c->arch = LIRF_ARCH_RESNET18; }
static void imagenet_resnet18(lirf_net_config *c) { c->arch = LIRF_ARCH_RESNET18_IMAGENET; }
static void imagenet_resnet34(lirf_net_config *c) { c->arch = LIRF_ARCH_RESNET34_IMAGENET; }
static void cifar_resnet34(lirf_net_config *c) { c->arch = LIRF_ARCH_RESNET34; }

static const import_rule RULES[] = {
    {"CIFAR ResNet-18 (3x3 conv1, no max-pool)", 3, {2, 2, 2, 2}, 0, cifar_resnet18},
    {"ResNet-18 with the ImageNet stem (torchvision resnet18)", 7, {2, 2, 2, 2}, 0, imagenet_resnet18},
    {"ResNet-34 with the ImageNet stem (torchvision resnet34)", 7, {3, 4, 6, 3}, 0, imagenet_resnet34},
    {"CIFAR ResNet-34 (3x3 conv1, no max-pool)", 3, {3, 4, 6, 3}, 0, cifar_resnet34},
    {"bottleneck ResNet-50", 7, {3, 4, 6, 3}, 1, NULL},
    {"bottleneck ResNet-101", 7, {3, 4, 23, 3}, 1, NULL},
    {"bottleneck ResNet-152", 7, {3, 8, 36, 3}, 1, NULL},
};
#define NRULES (sizeof RULES / sizeof RULES[0])

static int count_blocks(const lirf_safetensors *st, int layer) {
    char name[64];
    int n = 0;
    for (; n < 64; n++) {
        snprintf(name, sizeof name, "layer%d.%d.conv1.weight", layer, n);
        if (!lirf_st_find(st, name)) break;
    }
    return n;
}

/* conv1.weight (4-d, square kernel) and fc.weight / linear.weight (2-d). */
static lirf_status stem_and_head(const lirf_safetensors *st, const char *path,
                                 const lirf_st_tensor **conv1, const lirf_st_tensor **fc) {
    *conv1 = lirf_st_find(st, "conv1.weight");
    *fc = lirf_st_find(st, "fc.weight");
    if (!*fc) *fc = lirf_st_find(st, "linear.weight");
    if (!*conv1 && lirf_st_find(st, "module.conv1.weight"))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: the tensor names start with 'module.' (a "
                         "DataParallel model's state dict): save model.module.state_dict()", path);
    if (!*conv1)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: no tensor 'conv1.weight': not a ResNet state dict "
                         "with torchvision's names", path);
    if (!*fc)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: no tensor 'fc.weight' (or 'linear.weight'): not a "
                         "ResNet state dict with torchvision's names", path);
    const lirf_st_tensor *c = *conv1, *f = *fc;
    if (c->ndim != 4 || c->shape[2] != c->shape[3] || c->shape[0] < 1 || c->shape[0] > 1024 ||
        c->shape[1] < 1)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor 'conv1.weight' is not a convolution weight "
                         "(out, in, k, k) with 1..1024 outputs", path);
    if (f->ndim != 2 || f->shape[0] < 2 || f->shape[0] > LIRF_MAX_CLASSES)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s' is not a linear weight (classes, "
                         "features) with 2..%d classes", path, f->name, LIRF_MAX_CLASSES);
    return LIRF_OK;
}

lirf_status lirf_import_infer(const lirf_safetensors *st, const char *path,
                              lirf_import_arch *out) {
    if (!st || !path || !out) return LIRF_FAIL(LIRF_E_NULL, "import_infer: NULL argument");
    memset(out, 0, sizeof *out);
    const lirf_st_tensor *conv1, *fc;
    LIRF_TRY(stem_and_head(st, path, &conv1, &fc));
    out->stem_kernel = (int)conv1->shape[2];
    for (int l = 0; l < 4; l++) out->blocks[l] = count_blocks(st, l + 1);
    int bottleneck = lirf_st_find(st, "layer1.0.conv3.weight") != NULL;
    const import_rule *r = NULL;
    for (size_t i = 0; i < NRULES && !r; i++)
        if (RULES[i].stem_kernel == out->stem_kernel && RULES[i].bottleneck == bottleneck &&
            !memcmp(RULES[i].blocks, out->blocks, sizeof out->blocks))
            r = &RULES[i];
    const int *b = out->blocks;
    if (!r)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: a %dx%d conv1 and %d,%d,%d,%d blocks in "
                         "layer1..layer4 match no ResNet lirf import knows (ResNet-18: 2,2,2,2 "
                         "blocks, ResNet-34: 3,4,6,3; a 3x3 or 7x7 conv1)", path, out->stem_kernel,
                         out->stem_kernel, b[0], b[1], b[2], b[3]);
    out->name = r->name;
    if (!r->config) {
        char ok[512] = "";
        for (size_t i = 0, k = 0; i < NRULES; i++)
            if (RULES[i].config && k < sizeof ok)
                k += (size_t)snprintf(ok + k, sizeof ok - k, "%s%s", k ? "; " : "", RULES[i].name);
        return LIRF_FAIL(LIRF_E_UNSUPPORTED, "%s: a %s (%dx%d conv1, %d,%d,%d,%d blocks) is not "
                         "supported by this build of lirf import (supported: %s)", path, r->name,
                         out->stem_kernel, out->stem_kernel, b[0], b[1], b[2], b[3], ok);
    }
    r->config(&out->cfg);
    out->cfg.width = (int)conv1->shape[0];
    out->cfg.in_c = (int)conv1->shape[1];
    out->cfg.classes = (int)fc->shape[0];
    out->cfg.first = 0;
    out->cfg.last = lirf_arch_stages(out->cfg.arch) - 1;
    return LIRF_OK;
}

/* ---- the import ---- */

/* A file with lirf's metadata is a lirf checkpoint already. */
static lirf_status not_lirf(const lirf_safetensors *st, const char *path) {
    const char *kind = lirf_st_meta(st, "lirf_kind"), *fmt = lirf_st_meta(st, "format");
    if (kind || lirf_st_meta(st, "lirf_version") || (fmt && !strncmp(fmt, "lirf-", 5)))
        return LIRF_FAIL(LIRF_E_INVALID, "%s is a lirf checkpoint already (%s%.40s): lirf import "
                         "takes a PyTorch state dict; use the file as it is", path,
                         kind ? "lirf_kind " : "an original net", kind ? kind : "");
    return LIRF_OK;
}

/* The model's metadata from the import meta: complete, consistent with the
 * weights, and the preprocessing moved to lirf's scale (p / 255). */
static lirf_status make_meta(const lirf_import_meta *m, const lirf_import_arch *a,
                             const char *path, lirf_model_meta *out) {
    const char *miss = !m->scale ? "scale (1/255 for torchvision's ToTensor)"
                       : !m->nmean ? "mean" : !m->nstd ? "std" : NULL;
    if (miss)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: the preprocessing's %s is not given "
                         "(--scale, --mean, --std or \"preprocess\" in the --meta file; lirf "
                         "never assumes one)", path, miss);
    if (!m->in_c)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: the input shape is not given (--in-shape "
                         "C,H,W or \"in_shape\" in the --meta file)", path);
    if (m->in_c != a->cfg.in_c)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: in_shape has %d channels, but "
                         "conv1.weight takes %d", path, m->in_c, a->cfg.in_c);
    if (m->nmean != m->in_c || m->nstd != m->in_c)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: %d mean and %d std values for %d input "
                         "channels (one each per channel)", path, m->nmean, m->nstd, m->in_c);
    if (m->nnames && m->nnames != a->cfg.classes)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: %d class names, but fc.weight has %d "
                         "outputs", path, m->nnames, a->cfg.classes);
    memset(out, 0, sizeof *out);
    out->cfg = a->cfg;
    out->cfg.in_h = m->in_h, out->cfg.in_w = m->in_w;
    out->class_names = m->nnames ? m->class_names : NULL;
    /* (p * scale - mean) / std = (p / 255 - mean / f) / (std / f), f = 255 scale */
    double f = fabs(m->scale * 255.0 - 1.0) < 1e-12 ? 1.0 : m->scale * 255.0;
    for (int c = 0; c < m->in_c; c++) {
        out->mean[c] = (float)(m->mean[c] / f), out->std[c] = (float)(m->std[c] / f);
        if (!isfinite(out->mean[c]) || !isfinite(out->std[c]) || !(out->std[c] > 0))
            return LIRF_FAIL(LIRF_E_INVALID, "importing %s: mean %g / std %g at scale %g do not "
                             "give a float32 preprocessing", path, m->mean[c], m->std[c],
                             m->scale);
    }
    return LIRF_OK;
}

static lirf_status finite_values(const lirf_st_tensor *t, const char *path) {
    if (t->dtype != LIRF_F32) return LIRF_OK; /* the dtype check names it */
    for (size_t i = 0; i < lirf_st_numel(t); i++) {
        float v;
        memcpy(&v, (const char *)t->data + 4 * i, 4);
        if (!isfinite(v))
            return LIRF_FAIL(LIRF_E_NUMERIC, "%s: tensor '%s' holds %s at element %zu", path,
                             t->name, isnan(v) ? "NaN" : "an infinity", i);
    }
    return LIRF_OK;
}

/* Every tensor of the file is one of the net's (by its name or its CIFAR
 * alias), and holds finite numbers. */
static lirf_status claim_tensors(const lirf_safetensors *st, const char *path, const lirf_net *net,
                                 const char *arch, lirf_import_report *r) {
    unsigned char *used = calloc(st->count ? st->count : 1, 1);
    if (!used) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status s = LIRF_OK;
    for (size_t i = 0; i < lirf_net_ntensors(net) && s == LIRF_OK; i++) {
        const lirf_tensor_desc *d = lirf_net_tensor(net, i);
        const lirf_st_tensor *t = lirf_checkpoint_find(st, "", d->name);
        if (!t) continue; /* lirf_checkpoint_load_net names the missing ones */
        used[t - st->tensors] = 1;
        r->renamed += strcmp(t->name, d->name) != 0;
        s = finite_values(t, path);
    }
    for (size_t i = 0; i < st->count && s == LIRF_OK; i++)
        if (!used[i])
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s' is not part of a %s (width %d, %d "
                          "classes)", path, st->tensors[i].name, arch, r->meta.cfg.width,
                          r->meta.cfg.classes);
    free(used);
    r->tensors = st->count;
    return s;
}

/* The file, read once: its hash and its tensors. */
static lirf_status read_state_dict(const char *path, lirf_safetensors *st, char sha256[65]) {
    unsigned char *buf;
    size_t len;
    memset(st, 0, sizeof *st);
    LIRF_TRY(read_file(path, SIZE_MAX, &buf, &len));
    lirf_sha256_hex(buf, len, sha256);
    lirf_status s = lirf_st_read_mem(buf, len, path, st);
    free(buf);
    if (s == LIRF_E_FORMAT && strstr(lirf_error_message(), "dtype '"))
        s = lirf_error_context(s, "lirf import takes float32 weights (save "
                                  "model.float().state_dict())");
    for (size_t i = 0; s == LIRF_OK && i < st->count; i++) {
        const lirf_st_tensor *t = &st->tensors[i];
        if (t->dtype == LIRF_F16) { /* half weights: the same advice as for BF16 */
            s = LIRF_FAIL(LIRF_E_FORMAT, "%s: tensor '%s': dtype '%s': lirf import takes float32 "
                          "weights (save model.float().state_dict())", path, t->name,
                          lirf_dtype_name(t->dtype));
            lirf_st_free(st);
        }
    }
    return s;
}

lirf_status lirf_import_file(lirf_ctx *ctx, const char *in, const char *out,
                             const lirf_import_meta *m, lirf_import_report *r) {
    if (!ctx || !in || !out || !m || !r)
        return LIRF_FAIL(LIRF_E_NULL, "import_file: NULL argument");
    memset(r, 0, sizeof *r);
    struct stat a, b;
    if (stat(in, &a) == 0 && stat(out, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino)
        return LIRF_FAIL(LIRF_E_INVALID, "importing %s: the output %s is the same file (it would "
                         "replace the PyTorch checkpoint)", in, out);
    lirf_safetensors st;
    LIRF_TRY(read_state_dict(in, &st, r->sha256));
    lirf_net *net = NULL;
    lirf_status s = not_lirf(&st, in);
    if (s == LIRF_OK) s = lirf_import_infer(&st, in, &r->arch);
    if (s == LIRF_OK) s = make_meta(m, &r->arch, in, &r->meta);
    if (s == LIRF_OK) s = lirf_net_create(ctx, &r->meta.cfg, &net);
    if (s == LIRF_OK) s = claim_tensors(&st, in, net, r->arch.name, r);
    if (s == LIRF_OK) s = lirf_checkpoint_load_net(&st, in, "", net);
    if (s == LIRF_OK) {
        r->params = lirf_net_nparams(net);
        const char *keys[] = {"imported_from", "import_sha256"};
        const char *vals[] = {"pytorch-state-dict", r->sha256};
        const char *pre[] = {""};
        s = lirf_error_context(lirf_checkpoint_save(out, &net, pre, 1, &r->meta, keys, vals, 2),
                               "writing %s", out);
    }
    lirf_net_destroy(net);
    lirf_st_free(&st);
    return s;
}

static json_t *reals(const double *v, int n) {
    json_t *a = json_array();
    for (int i = 0; i < n; i++) json_array_append_new(a, json_real(v[i]));
    return a;
}

json_t *lirf_import_report_json(const lirf_import_report *r, const char *in, const char *out,
                                const lirf_import_meta *m) {
    if (!r || !m) return NULL;
    const lirf_net_config *c = &r->meta.cfg;
    double mean[4], sd[4];
    for (int i = 0; i < c->in_c && i < 4; i++) mean[i] = r->meta.mean[i], sd[i] = r->meta.std[i];
    json_t *j = json_object(), *names = json_array();
    for (int i = 0; i < m->nnames; i++)
        json_array_append_new(names, json_string(m->class_names[i]));
    json_object_set_new(j, "input", lirf_json_text(in));
    json_object_set_new(j, "output", lirf_json_text(out));
    json_object_set_new(j, "input_sha256", json_string(r->sha256));
    json_object_set_new(j, "architecture", json_string(r->arch.name ? r->arch.name : ""));
    json_object_set_new(j, "arch", json_string(lirf_arch_name(c->arch)));
    json_object_set_new(j, "width", json_integer(c->width));
    json_object_set_new(j, "classes", json_integer(c->classes));
    json_object_set_new(j, "in_shape", json_pack("[i,i,i]", c->in_c, c->in_h, c->in_w));
    json_object_set_new(j, "preprocess_given", json_pack("{s:f,s:o,s:o}", "scale", m->scale,
                        "mean", reals(m->mean, m->nmean), "std", reals(m->std, m->nstd)));
    json_object_set_new(j, "preprocess", json_pack("{s:f,s:o,s:o}", "scale", 1.0 / 255.0, "mean",
                        reals(mean, c->in_c), "std", reals(sd, c->in_c)));
    json_object_set_new(j, "class_names", m->nnames ? names : (json_decref(names), json_null()));
    json_object_set_new(j, "tensors", json_integer((json_int_t)r->tensors));
    json_object_set_new(j, "params", json_integer((json_int_t)r->params));
    json_object_set_new(j, "renamed_from_cifar_names", json_integer(r->renamed));
    return j;
}
