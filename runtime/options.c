/* lirf's environment variables, read once into one struct (lirf_options). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lirf_runtime.h"

static lirf_options g_opt;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void copy_env(char *dst, size_t cap, const char *name) {
    const char *v = getenv(name);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* A warning about a value that is ignored; lirf_log would read the options. */
static void warn(const lirf_options *o, const char *name, const char *value, const char *why) {
    if (o->log_level >= LIRF_LOG_WARN) fprintf(stderr, "lirf: %s=%s ignored (%s)\n", name, value, why);
}

static int parse_log(const char *e) {
    if (!strcasecmp(e, "quiet") || !strcmp(e, "0")) return LIRF_LOG_QUIET;
    if (!strcasecmp(e, "info") || !strcmp(e, "2")) return LIRF_LOG_INFO;
    if (!strcasecmp(e, "debug") || !strcmp(e, "3")) return LIRF_LOG_DEBUG;
    return LIRF_LOG_WARN;
}

static void parse_conv(lirf_options *o) {
    const char *e = getenv("LIRF_CONV_CHUNK_ELEMS");
    o->conv_chunk_elems = 0;
    if (e && *e) {
        char *end;
        long long v = strtoll(e, &end, 10);
        if (*end == '\0' && v > 0) o->conv_chunk_elems = (size_t)v;
        else warn(o, "LIRF_CONV_CHUNK_ELEMS", e, "not a positive integer");
    }
    e = getenv("LIRF_CONV_TAPS");
    o->conv_taps = -1;
    if (e && *e) {
        if (!strcmp(e, "0") || !strcmp(e, "1")) o->conv_taps = e[0] == '1';
        else warn(o, "LIRF_CONV_TAPS", e, "use 0 or 1");
    }
}

static void read_env(void) {
    lirf_options *o = &g_opt;
    const char *e = getenv("LIRF_LOG");
    o->log_level = e ? parse_log(e) : LIRF_LOG_WARN;
    copy_env(o->device, sizeof o->device, "LIRF_DEVICE");
    copy_env(o->cache_dir, sizeof o->cache_dir, "LIRF_CACHE_DIR");
    copy_env(o->xdg_cache_home, sizeof o->xdg_cache_home, "XDG_CACHE_HOME");
    copy_env(o->home, sizeof o->home, "HOME");
    copy_env(o->kernel_dir, sizeof o->kernel_dir, "LIRF_KERNEL_DIR");
    copy_env(o->kernel_trace, sizeof o->kernel_trace, "LIRF_KERNEL_TRACE");
    copy_env(o->gemm, sizeof o->gemm, "LIRF_GEMM");
    copy_env(o->gemm_tuning, sizeof o->gemm_tuning, "LIRF_GEMM_TUNING");
    copy_env(o->crash_at, sizeof o->crash_at, "LIRF_CRASH_AT");
    e = getenv("LIRF_PROFILE");
    o->profile = e && *e && strcmp(e, "0");
    e = getenv("LIRF_NO_DATA");
    o->no_data = e && *e && strcmp(e, "0");
    parse_conv(o);
}

lirf_options *lirf_options_get(void) {
    pthread_once(&g_once, read_env);
    return &g_opt;
}

void lirf_options_reload(void) {
    pthread_once(&g_once, read_env);
    read_env();
}
