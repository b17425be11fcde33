/* GEMM tuning: CLBlast kernel parameters per transpose class.
 *
 * CLBlast picks its Xgemm parameters from a built-in database; for a device it
 * does not know (PoCL on a CPU) the defaults leave most of the machine idle.
 * lirf keeps one Xgemm parameter set per transpose class of lirf_gemm (NN, NT,
 * TN, TT) and applies it with CLBlastOverrideParameters just before a call of
 * that class (gemm.c), and optionally CLBlast's switch point between its
 * direct and indirect GEMM (GemmRoutine XGEMM_MIN_INDIRECT_SIZE: the direct
 * kernel runs when m*n*k < size^3). CLBlast caches one compiled program per
 * parameter set, so switching between classes costs a database lookup, not a
 * compilation (the first use of a set compiles: 10-20 s for PoCL on a CPU,
 * then PoCL's own disk cache makes later processes fast).
 *
 * Where the parameters come from, first found (logged at info):
 *   "file"    <cache dir>/gemm-tuning-<key>.json, written by `lirf tune` for
 *             this device and driver (validated; a bad file is rejected with a
 *             warning and ignored);
 *   "shipped" the table below, for the exact devices it was measured on;
 *   "default" CLBlast's own parameters, called as lirf did before tuning.
 * LIRF_GEMM_TUNING=off gives "off": CLBlast's defaults, as "default".
 *
 * CLBlast's parameter overrides are process-wide per device, so the state here
 * is kept per cl_device_id. Once a process has applied lirf's parameters to a
 * device, a later context on that device with tuning off cannot restore
 * CLBlast's built-in values (CLBlast's C API cannot read them back); it still
 * computes correctly, with the last parameters applied.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <clblast_c.h>
#include <jansson.h>

#include "internal.h"

#define TUNING_FORMAT "lirf-gemm-tuning"
#define TUNING_VERSION 1

const char *const lirf_xgemm_param_names[LIRF_XGEMM_NPARAMS] = {
    "GEMMK", "KREG", "KWG", "KWI", "MDIMA", "MDIMC", "MWG", "NDIMB",
    "NDIMC", "NWG", "SA", "SB", "STRM", "STRN", "VWM", "VWN"};
const char *const lirf_gemm_class_names[LIRF_GEMM_CLASSES] = {"NN", "NT", "TN", "TT"};

enum { P_GEMMK, P_KREG, P_KWG, P_KWI, P_MDIMA, P_MDIMC, P_MWG, P_NDIMB,
       P_NDIMC, P_NWG, P_SA, P_SB, P_STRM, P_STRN, P_VWM, P_VWN };

/* ---- validation -------------------------------------------------------------- */
static int pow2_in(size_t v, size_t lo, size_t hi) {
    return v >= lo && v <= hi && (v & (v - 1)) == 0;
}

/* Values a parameter may take (the union of CLBlast's tuner ranges, plus 1 for
 * the thread dimensions: one work-item per work-group suits PoCL). */
static int value_ok(int p, size_t v) {
    switch (p) {
    case P_GEMMK: case P_SA: case P_SB: case P_STRM: case P_STRN: return v <= 1;
    case P_MWG: case P_NWG: return pow2_in(v, 8, 256);
    case P_KWG: return pow2_in(v, 1, 64);
    case P_KWI: return pow2_in(v, 1, 16);
    case P_MDIMA: case P_MDIMC: case P_NDIMB: case P_NDIMC: return pow2_in(v, 1, 64);
    case P_VWM: case P_VWN: case P_KREG: return pow2_in(v, 1, 16);
    default: return 0;
    }
}

lirf_status lirf_gemm_params_check(const size_t *x, const lirf_device_info *dev, char *why,
                                   size_t cap) {
#define BAD(...) do { snprintf(why, cap, __VA_ARGS__); return LIRF_E_INVALID; } while (0)
    for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++)
        if (!value_ok(p, x[p])) BAD("%s = %zu is out of range", lirf_xgemm_param_names[p], x[p]);
    size_t mdimc = x[P_MDIMC], ndimc = x[P_NDIMC], mdima = x[P_MDIMA], ndimb = x[P_NDIMB];
    size_t mwg = x[P_MWG], nwg = x[P_NWG], kwg = x[P_KWG], kwi = x[P_KWI];
    size_t vwm = x[P_VWM], vwn = x[P_VWN];
    /* integer work per work-item and per loading thread (CLBlast's tuner constraints) */
    if (kwg % kwi) BAD("KWG %zu is not a multiple of KWI %zu", kwg, kwi);
    if (mwg % (mdimc * vwm)) BAD("MWG is not a multiple of MDIMC*VWM");
    if (nwg % (ndimc * vwn)) BAD("NWG is not a multiple of NDIMC*VWN");
    if (mwg % (mdima * vwm)) BAD("MWG is not a multiple of MDIMA*VWM");
    if (nwg % (ndimb * vwn)) BAD("NWG is not a multiple of NDIMB*VWN");
    if (x[P_GEMMK] == 0) {
        if ((mdimc * ndimc) % mdima || (mdimc * ndimc) % ndimb)
            BAD("MDIMC*NDIMC is not a multiple of MDIMA and NDIMB");
        if (kwg % ((mdimc * ndimc) / mdima) || kwg % ((mdimc * ndimc) / ndimb))
            BAD("KWG is not a multiple of MDIMC*NDIMC/MDIMA and MDIMC*NDIMC/NDIMB");
        if (x[P_KREG] != 1) BAD("KREG must be 1 with GEMMK 0");
    } else {
        /* The 2-D register-tiled kernel. Measured with CLBlast 1.5.3 on PoCL:
         * MWG != NWG gives wrong results or crashes, so the square tile that
         * CLBlast's own tuner explores is required. */
        if (kwg != 1 || kwi != 1) BAD("GEMMK 1 needs KWG 1 and KWI 1");
        if (x[P_SA] || x[P_SB]) BAD("GEMMK 1 needs SA 0 and SB 0");
        if (x[P_STRM] || x[P_STRN]) BAD("GEMMK 1 needs STRM 0 and STRN 0");
        if (mdima != mdimc || ndimb != ndimc || mdimc != ndimc)
            BAD("GEMMK 1 needs MDIMA = MDIMC = NDIMC = NDIMB");
        if (mwg != nwg) BAD("GEMMK 1 needs MWG = NWG");
        if (x[P_KREG] % vwn) BAD("KREG is not a multiple of VWN");
    }
    if (dev) {
        size_t wg = mdimc * ndimc;
        if (dev->max_wg && wg > dev->max_wg)
            BAD("work-group of %zu exceeds the device's %zu", wg, dev->max_wg);
        size_t local = 4 * (x[P_SA] * kwg * mwg + x[P_SB] * kwg * nwg);
        if (local > dev->local_mem)
            BAD("needs %zu bytes of local memory, the device has %llu", local,
                (unsigned long long)dev->local_mem);
    }
    return LIRF_OK;
#undef BAD
}

static int min_indirect_ok(size_t v) { return v == 0 || (v >= 16 && v <= 8192); }

/* Every class set and valid; why gets the first problem. */
static lirf_status tuning_check(const lirf_gemm_tuning *t, const lirf_device_info *dev, char *why,
                                size_t cap) {
    if (!min_indirect_ok(t->min_indirect)) {
        snprintf(why, cap, "XGEMM_MIN_INDIRECT_SIZE = %zu is out of range", t->min_indirect);
        return LIRF_E_INVALID;
    }
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
        if (!t->cls[c].set) {
            snprintf(why, cap, "class %s has no parameters", lirf_gemm_class_names[c]);
            return LIRF_E_INVALID;
        }
        char w[160];
        if (lirf_gemm_params_check(t->cls[c].xgemm, dev, w, sizeof w) != LIRF_OK) {
            snprintf(why, cap, "class %s: %s", lirf_gemm_class_names[c], w);
            return LIRF_E_INVALID;
        }
    }
    return LIRF_OK;
}

/* ---- the shipped table ----------------------------------------------------------
 * Measured with `lirf tune` (see docs/benchmarks.md). An entry applies only to
 * a device whose CL_DEVICE_VERSION (for PoCL it names the LLVM target, the
 * code the kernels compile to), OpenCL C version and driver version all equal
 * the measured ones. Values in lirf_xgemm_param_names order:
 * GEMMK KREG KWG KWI MDIMA MDIMC MWG NDIMB NDIMC NWG SA SB STRM STRN VWM VWN. */
typedef struct {
    const char *device_version, *c_version, *driver;
    size_t min_indirect;
    size_t xgemm[LIRF_GEMM_CLASSES][LIRF_XGEMM_NPARAMS];
} shipped_entry;

static const shipped_entry SHIPPED[] = {
    /* PoCL 3.1 (Debian 12), 2 cores of a Xeon with AVX-512, 2026-11-27, from
     * `lirf tune --budget 600` (137 s). One work-item per work-group, 16-wide
     * vectors along M (512-bit FMAs), scalar loads along N, no K unrolling.
     * NN and TN share one set (the tuner's TN pick, NWG 8, was within 6% of
     * NWG 16, and one set is one CLBlast compilation fewer); NT uses the 2-D
     * register-tiled kernel (GEMMK 1), which reads both operands along K. The
     * direct kernel only below 64^3 multiply-adds (CLBlast's: 576^3). */
    {"OpenCL 3.0 PoCL HSTR: pthread-x86_64-pc-linux-gnu-skylake-avx512",
     "OpenCL C 1.2 PoCL",
     "3.1+debian",
     64,
     {/* NN */ {0, 1, 16, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1},
      /* NT */ {1, 8, 1, 1, 1, 1, 16, 1, 1, 16, 0, 0, 0, 0, 16, 1},
      /* TN */ {0, 1, 16, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1},
      /* TT */ {0, 1, 16, 1, 1, 1, 32, 1, 1, 16, 0, 0, 0, 0, 16, 1}}},
};

int lirf_gemm_tuning_shipped(const lirf_device_info *dev, lirf_gemm_tuning *out) {
    for (size_t i = 0; i < sizeof SHIPPED / sizeof SHIPPED[0]; i++) {
        const shipped_entry *e = &SHIPPED[i];
        if (strcmp(dev->version, e->device_version) || strcmp(dev->c_version, e->c_version) ||
            strcmp(dev->driver, e->driver))
            continue;
        if (out) {
            memset(out, 0, sizeof *out);
            out->min_indirect = e->min_indirect;
            for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
                out->cls[c].set = 1;
                memcpy(out->cls[c].xgemm, e->xgemm[c], sizeof out->cls[c].xgemm);
            }
        }
        return 1;
    }
    return 0;
}

/* ---- the tuning file --------------------------------------------------------------- */
lirf_status lirf_gemm_tuning_file(const char *cache_dir, const lirf_device_info *dev, char *path,
                                  size_t cap) {
    if (!cache_dir || !dev || !path) return LIRF_FAIL(LIRF_E_NULL, "gemm tuning file: NULL argument");
    if (!*cache_dir)
        return LIRF_FAIL(LIRF_E_NOT_FOUND, "gemm tuning file: no cache directory (LIRF_CACHE_DIR=off?)");
    char key[512], hex[65];
    snprintf(key, sizeof key, "%s\n%s\n%s\n%s", dev->platform_name, dev->name, dev->version,
             dev->driver);
    lirf_sha256_hex(key, strlen(key), hex);
    hex[16] = 0;
    if ((size_t)snprintf(path, cap, "%s/gemm-tuning-%s.json", cache_dir, hex) >= cap)
        return LIRF_FAIL(LIRF_E_INVALID, "gemm tuning file: path too long");
    return LIRF_OK;
}

static lirf_status parse_class(json_t *obj, const char *cname, const lirf_device_info *dev,
                               lirf_gemm_class_params *out, const char *path) {
    if (!json_is_object(obj))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s is not an object", path, cname);
    const char *kname;
    json_t *kv;
    int have_xgemm = 0;
    json_object_foreach(obj, kname, kv) {
        if (strcmp(kname, "Xgemm"))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: unknown kernel \"%s\" (only Xgemm is tuned)",
                             path, cname, kname);
        if (!json_is_object(kv))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: Xgemm is not an object", path, cname);
        int seen[LIRF_XGEMM_NPARAMS] = {0};
        const char *pname;
        json_t *pv;
        json_object_foreach(kv, pname, pv) {
            int p = -1;
            for (int i = 0; i < LIRF_XGEMM_NPARAMS; i++)
                if (!strcmp(pname, lirf_xgemm_param_names[i])) p = i;
            if (p < 0)
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: unknown Xgemm parameter \"%s\"", path,
                                 cname, pname);
            if (!json_is_integer(pv) || json_integer_value(pv) < 0)
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: %s is not a non-negative integer",
                                 path, cname, pname);
            out->xgemm[p] = (size_t)json_integer_value(pv);
            seen[p] = 1;
        }
        for (int i = 0; i < LIRF_XGEMM_NPARAMS; i++)
            if (!seen[i])
                return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: Xgemm parameter %s is missing", path,
                                 cname, lirf_xgemm_param_names[i]);
        char why[160];
        if (lirf_gemm_params_check(out->xgemm, dev, why, sizeof why) != LIRF_OK)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s: %s", path, cname, why);
        have_xgemm = 1;
    }
    if (!have_xgemm) return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s has no Xgemm", path, cname);
    out->set = 1;
    return LIRF_OK;
}

static lirf_status parse_tuning(json_t *root, const lirf_device_info *dev, lirf_gemm_tuning *t,
                                const char *path) {
    if (!json_is_object(root)) return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a JSON object", path);
    static const char *const known[] = {"format", "version", "device", "driver", "device_version",
                                        "platform", "created", "lirf_version",
                                        "min_indirect_size", "classes", "measured"};
    const char *key;
    json_t *v;
    json_object_foreach(root, key, v) {
        size_t i = 0;
        while (i < sizeof known / sizeof known[0] && strcmp(key, known[i])) i++;
        if (i == sizeof known / sizeof known[0])
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown key \"%s\"", path, key);
    }
    const char *fmt = json_string_value(json_object_get(root, "format"));
    if (!fmt || strcmp(fmt, TUNING_FORMAT))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"format\" is not \"%s\"", path, TUNING_FORMAT);
    json_t *ver = json_object_get(root, "version");
    if (!json_is_integer(ver) || json_integer_value(ver) != TUNING_VERSION)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"version\" is not %d", path, TUNING_VERSION);
    const char *dname = json_string_value(json_object_get(root, "device"));
    const char *drv = json_string_value(json_object_get(root, "driver"));
    if (!dname || !drv) return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"device\" or \"driver\" missing", path);
    if (strcmp(dname, dev->name) || strcmp(drv, dev->driver))
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: measured on \"%s\" driver %s, not on this device (\"%s\" "
                                        "driver %s)", path, dname, drv, dev->name, dev->driver);
    memset(t, 0, sizeof *t);
    json_t *mi = json_object_get(root, "min_indirect_size");
    if (mi) {
        if (!json_is_integer(mi) || json_integer_value(mi) < 0 ||
            !min_indirect_ok((size_t)json_integer_value(mi)))
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"min_indirect_size\" is out of range", path);
        t->min_indirect = (size_t)json_integer_value(mi);
    }
    json_t *classes = json_object_get(root, "classes");
    if (!json_is_object(classes)) return LIRF_FAIL(LIRF_E_FORMAT, "%s: \"classes\" missing", path);
    const char *cname;
    json_t *cv;
    json_object_foreach(classes, cname, cv) {
        int c = -1;
        for (int i = 0; i < LIRF_GEMM_CLASSES; i++)
            if (!strcmp(cname, lirf_gemm_class_names[i])) c = i;
        if (c < 0) return LIRF_FAIL(LIRF_E_FORMAT, "%s: unknown class \"%s\"", path, cname);
        LIRF_TRY(parse_class(cv, cname, dev, &t->cls[c], path));
    }
    for (int c = 0; c < 3; c++)
        if (!t->cls[c].set)
            return LIRF_FAIL(LIRF_E_FORMAT, "%s: class %s missing", path, lirf_gemm_class_names[c]);
    if (!t->cls[3].set) t->cls[3] = t->cls[0]; /* TT: lirf never calls it; NN's parameters */
    return LIRF_OK;
}

lirf_status lirf_gemm_tuning_load(const char *path, const lirf_device_info *dev,
                                  lirf_gemm_tuning *out) {
    if (!path || !dev || !out) return LIRF_FAIL(LIRF_E_NULL, "gemm tuning load: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return LIRF_FAIL(LIRF_E_NOT_FOUND, "%s: no such file", path);
        return LIRF_FAIL(LIRF_E_IO, "%s: %s", path, strerror(errno));
    }
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (!root)
        return LIRF_FAIL(LIRF_E_FORMAT, "%s: not valid JSON (line %d: %s)", path, jerr.line,
                         jerr.text);
    lirf_gemm_tuning t;
    lirf_status st = parse_tuning(root, dev, &t, path);
    json_decref(root);
    if (st == LIRF_OK) *out = t;
    return st;
}

lirf_status lirf_gemm_tuning_save_json(const char *path, const lirf_device_info *dev,
                                       const lirf_gemm_tuning *t, json_t *measured) {
    if (!path || !dev || !t) return LIRF_FAIL(LIRF_E_NULL, "gemm tuning save: NULL argument");
    char why[200];
    if (tuning_check(t, dev, why, sizeof why) != LIRF_OK)
        return LIRF_FAIL(LIRF_E_INVALID, "gemm tuning save: %s", why);
    char date[64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_t *root = json_object();
    json_object_set_new(root, "format", json_string(TUNING_FORMAT));
    json_object_set_new(root, "version", json_integer(TUNING_VERSION));
    json_object_set_new(root, "device", json_string(dev->name));
    json_object_set_new(root, "driver", json_string(dev->driver));
    json_object_set_new(root, "device_version", json_string(dev->version));
    json_object_set_new(root, "platform", json_string(dev->platform_name));
    json_object_set_new(root, "created", json_string(date));
    json_object_set_new(root, "lirf_version", json_string(LIRF_VERSION));
    if (t->min_indirect)
        json_object_set_new(root, "min_indirect_size", json_integer((json_int_t)t->min_indirect));
    json_t *classes = json_object();
    for (int c = 0; c < LIRF_GEMM_CLASSES; c++) {
        json_t *x = json_object();
        for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++)
            json_object_set_new(x, lirf_xgemm_param_names[p],
                                json_integer((json_int_t)t->cls[c].xgemm[p]));
        json_t *cobj = json_object();
        json_object_set_new(cobj, "Xgemm", x);
        json_object_set_new(classes, lirf_gemm_class_names[c], cobj);
    }
    json_object_set_new(root, "classes", classes);
    if (measured) json_object_set(root, "measured", measured);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    int rc = json_dump_file(root, tmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (rc != 0) {
        unlink(tmp);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot write", tmp);
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return LIRF_FAIL(LIRF_E_IO, "%s: cannot rename %s to it: %s", path, tmp, strerror(e));
    }
    return LIRF_OK;
}

lirf_status lirf_gemm_tuning_save(const char *path, const lirf_device_info *dev,
                                  const lirf_gemm_tuning *t, const char *measured_json) {
    json_t *m = NULL;
    if (measured_json && *measured_json) {
        json_error_t jerr;
        m = json_loads(measured_json, 0, &jerr); /* not JSON: left out */
    }
    lirf_status st = lirf_gemm_tuning_save_json(path, dev, t, m);
    json_decref(m);
    return st;
}

/* ---- per-device state ------------------------------------------------------------- */
typedef struct {
    cl_device_id device;
    int active;                /* parameters in use (source file or shipped) */
    const char *source;        /* "file", "shipped", "default", "off" */
    lirf_gemm_tuning t;
    int applied;               /* class whose Xgemm parameters CLBlast holds, -1 none */
    int routine_applied;       /* t.min_indirect given to CLBlast */
} device_state;

#define MAX_DEVICES 16
static device_state g_dev[MAX_DEVICES];
static size_t g_ndev;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

/* The entry of a device, made on first use (NULL when the table is full). */
static device_state *state_of(cl_device_id d) {
    for (size_t i = 0; i < g_ndev; i++)
        if (g_dev[i].device == d) return &g_dev[i];
    if (g_ndev == MAX_DEVICES) return NULL;
    device_state *s = &g_dev[g_ndev++];
    memset(s, 0, sizeof *s);
    s->device = d;
    s->source = "default";
    s->applied = -1;
    return s;
}

static lirf_status override_xgemm(cl_device_id d, const size_t *x) {
    const char *names[LIRF_XGEMM_NPARAMS];
    size_t vals[LIRF_XGEMM_NPARAMS];
    for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++) names[p] = lirf_xgemm_param_names[p], vals[p] = x[p];
    CLBlastStatusCode s = CLBlastOverrideParameters(d, "Xgemm", CLBlastPrecisionSingle,
                                                    LIRF_XGEMM_NPARAMS, names, vals);
    if (s != CLBlastSuccess)
        return LIRF_FAIL(LIRF_E_BLAS, "CLBlastOverrideParameters(Xgemm) failed: %s (%d)",
                         lirf_clblast_status_name((int)s), (int)s);
    return LIRF_OK;
}

static lirf_status override_min_indirect(cl_device_id d, size_t v) {
    const char *name = "XGEMM_MIN_INDIRECT_SIZE";
    CLBlastStatusCode s = CLBlastOverrideParameters(d, "GemmRoutine", CLBlastPrecisionSingle, 1,
                                                    &name, &v);
    if (s != CLBlastSuccess)
        return LIRF_FAIL(LIRF_E_BLAS, "CLBlastOverrideParameters(GemmRoutine) failed: %s (%d)",
                         lirf_clblast_status_name((int)s), (int)s);
    return LIRF_OK;
}

lirf_status lirf_gemm_tuning_use(lirf_ctx *ctx, const lirf_gemm_tuning *t, const char *source) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm tuning: NULL context");
    if (t) {
        char why[200];
        if (tuning_check(t, &ctx->dev, why, sizeof why) != LIRF_OK)
            return LIRF_FAIL(LIRF_E_INVALID, "gemm tuning: %s", why);
    }
    pthread_mutex_lock(&g_lock);
    device_state *s = state_of(ctx->dev.device);
    lirf_status st = LIRF_OK;
    if (!s) {
        st = LIRF_FAIL(LIRF_E_UNSUPPORTED, "gemm tuning: more than %d devices", MAX_DEVICES);
    } else if (t) {
        s->t = *t;
        s->active = 1;
        s->applied = -1;
        s->routine_applied = 0;
        s->source = source && !strcmp(source, "file") ? "file"
                    : source && !strcmp(source, "shipped") ? "shipped" : "set";
    } else {
        s->active = 0;
        s->source = source && !strcmp(source, "off") ? "off" : "default";
    }
    pthread_mutex_unlock(&g_lock);
    return st;
}

static lirf_status tuning_init(lirf_ctx *ctx) {
    const lirf_device_info *dev = &ctx->dev;
    const char *env = lirf_options_get()->gemm_tuning;
    if (!strcmp(env, "off")) {
        lirf_log(LIRF_LOG_INFO, "gemm tuning: off (LIRF_GEMM_TUNING=off): CLBlast's defaults");
        return lirf_gemm_tuning_use(ctx, NULL, "off");
    }
    if (*env && strcmp(env, "on") && strcmp(env, "auto"))
        lirf_log(LIRF_LOG_WARN, "LIRF_GEMM_TUNING=%s ignored (expected off, on or auto)", env);
    lirf_gemm_tuning t;
    char path[1200];
    if (ctx->cache_dir[0] &&
        lirf_gemm_tuning_file(ctx->cache_dir, dev, path, sizeof path) == LIRF_OK) {
        lirf_status st = lirf_gemm_tuning_load(path, dev, &t);
        if (st == LIRF_OK) {
            st = lirf_gemm_tuning_use(ctx, &t, "file");
            if (st == LIRF_OK) {
                lirf_log(LIRF_LOG_INFO, "gemm tuning: parameters from file %s", path);
                return LIRF_OK;
            }
        }
        if (st != LIRF_E_NOT_FOUND)
            lirf_log(LIRF_LOG_WARN, "gemm tuning file rejected, not used: %s",
                     lirf_error_message());
        lirf_clear_error();
    }
    if (lirf_gemm_tuning_shipped(dev, &t)) {
        LIRF_TRY(lirf_gemm_tuning_use(ctx, &t, "shipped"));
        lirf_log(LIRF_LOG_INFO, "gemm tuning: shipped parameters for %s (%s, driver %s)",
                 dev->name, dev->version, dev->driver);
        return LIRF_OK;
    }
    lirf_log(LIRF_LOG_INFO, "gemm tuning: none known for this device; CLBlast's defaults "
                            "(`lirf tune` measures some)");
    return lirf_gemm_tuning_use(ctx, NULL, "default");
}

lirf_status lirf_gemm_tuning_init(lirf_ctx *ctx) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "gemm tuning: NULL context");
    if (tuning_init(ctx) != LIRF_OK) {
        lirf_log(LIRF_LOG_WARN, "gemm tuning failed, CLBlast's defaults used: %s",
                 lirf_error_message());
        lirf_clear_error();
        lirf_gemm_tuning_use(ctx, NULL, "default");
    }
    return LIRF_OK;
}

const char *lirf_gemm_tuning_source(const lirf_ctx *ctx) {
    if (!ctx) return "default";
    pthread_mutex_lock(&g_lock);
    const char *src = "default";
    for (size_t i = 0; i < g_ndev; i++)
        if (g_dev[i].device == ctx->dev.device) src = g_dev[i].source;
    pthread_mutex_unlock(&g_lock);
    return src;
}

int lirf_gemm_tuning_current(const lirf_ctx *ctx, lirf_gemm_tuning *out) {
    if (!ctx) return 0;
    int active = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_ndev; i++)
        if (g_dev[i].device == ctx->dev.device && g_dev[i].active) {
            active = 1;
            if (out) *out = g_dev[i].t;
        }
    pthread_mutex_unlock(&g_lock);
    return active;
}

int lirf_gemm_tuning_prepare(lirf_ctx *ctx, int cls, lirf_status *st) {
    *st = LIRF_OK;
    int active = 0;
    pthread_mutex_lock(&g_lock);
    for (size_t i = 0; i < g_ndev; i++) {
        device_state *s = &g_dev[i];
        if (s->device != ctx->dev.device || !s->active) continue;
        active = 1;
        /* CLBlast is touched only here, at the first GEMM: a context that turns
         * tuning off before any GEMM still gets CLBlast's own parameters */
        if (!s->routine_applied && s->t.min_indirect) {
            *st = override_min_indirect(s->device, s->t.min_indirect);
            if (*st != LIRF_OK) break;
            s->routine_applied = 1;
        }
        if (s->applied != cls) {
            *st = override_xgemm(s->device, s->t.cls[cls].xgemm);
            s->applied = *st == LIRF_OK ? cls : -1;
        }
    }
    pthread_mutex_unlock(&g_lock);
    return active;
}
