/* Programs (embedded sources, on-disk binary cache), kernels, arguments, launches.
 *
 * Cache entry: <cache_dir>/<sha256 key>.bin, key over platform name and version,
 * device name and version, driver version, program name, source and build
 * options. File layout: "LIRFPRG1" | u64 payload bytes (LE) | 32-byte SHA-256 of
 * the payload | payload (the device binary). An entry whose size, hash or
 * build fails is removed and the program rebuilt from source; entries are
 * written to a temporary file and renamed, so a crash never leaves half a file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "internal.h"

/* No fast-math option, ever: training and verification must see NaN and Inf.
 * PoCL CPU devices also get -DLIRF_POCL_CPU (the kernels made for them only). */
static const char *build_options(const lirf_ctx *ctx) {
    return lirf_device_pocl_cpu(&ctx->dev) ? "-cl-std=CL1.2 -DLIRF_POCL_CPU" : "-cl-std=CL1.2";
}
static const char CACHE_MAGIC[8] = {'L', 'I', 'R', 'F', 'P', 'R', 'G', '1'};

static lirf_status load_source(const char *name, char **src, size_t *len) {
    const char *dir = lirf_options_get()->kernel_dir;
    if (*dir) {
        char path[1300];
        snprintf(path, sizeof path, "%s/%s.cl", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f)
            return LIRF_FAIL(LIRF_E_IO, "LIRF_KERNEL_DIR: cannot open %s: %s", path,
                             strerror(errno));
        fseek(f, 0, SEEK_END);
        long n = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = n >= 0 ? malloc((size_t)n + 1) : NULL;
        if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            fclose(f);
            return LIRF_FAIL(LIRF_E_IO, "cannot read %s", path);
        }
        fclose(f);
        buf[n] = 0;
        *src = buf;
        *len = (size_t)n;
        lirf_log(LIRF_LOG_DEBUG, "program %s: source from %s", name, path);
        return LIRF_OK;
    }
    for (size_t i = 0; i < lirf_cl_sources_count; i++) {
        if (lirf_cl_sources[i].name && !strcmp(lirf_cl_sources[i].name, name)) {
            char *buf = malloc(lirf_cl_sources[i].len + 1);
            if (!buf) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            memcpy(buf, lirf_cl_sources[i].src, lirf_cl_sources[i].len);
            buf[lirf_cl_sources[i].len] = 0;
            *src = buf;
            *len = lirf_cl_sources[i].len;
            return LIRF_OK;
        }
    }
    return LIRF_FAIL(LIRF_E_NOT_FOUND, "no OpenCL program named \"%s\" in cl_kernels/", name);
}

static void cache_key(const lirf_ctx *ctx, const char *name, const char *src, size_t len,
                      char hex[65]) {
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init(&st);
    const char *parts[] = {ctx->dev.platform_name, ctx->dev.platform_version, ctx->dev.name,
                           ctx->dev.version,       ctx->dev.driver,           name,
                           build_options(ctx)};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
        crypto_hash_sha256_update(&st, (const unsigned char *)parts[i], strlen(parts[i]) + 1);
    crypto_hash_sha256_update(&st, (const unsigned char *)src, len);
    unsigned char h[32];
    crypto_hash_sha256_final(&st, h);
    sodium_bin2hex(hex, 65, h, sizeof h);
}

static lirf_status build_log_fail(lirf_ctx *ctx, cl_program prog, const char *name, cl_int err) {
    size_t n = 0;
    clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, 0, NULL, &n);
    char *log = malloc(n + 1);
    if (log) {
        log[0] = 0;
        clGetProgramBuildInfo(prog, ctx->dev.device, CL_PROGRAM_BUILD_LOG, n, log, NULL);
        log[n] = 0;
        fprintf(stderr, "lirf: build log of OpenCL program \"%s\":\n%s\n", name, log);
    }
    lirf_status st = LIRF_FAIL(LIRF_E_BUILD, "OpenCL program \"%s\" failed to build: %s (%d)%s%.600s",
                               name, lirf_cl_error_name(err), err, log ? "; log: " : "",
                               log ? log : "");
    free(log);
    return st;
}

/* Try the cache; *prog stays NULL when there is no usable entry. */
static void cache_load(lirf_ctx *ctx, const char *path, const char *name, cl_program *prog) {
    *prog = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return;
    unsigned char head[8 + 8 + 32];
    unsigned char *payload = NULL;
    const char *why = NULL;
    uint64_t n = 0;
    if (fread(head, 1, sizeof head, f) != sizeof head) {
        why = "truncated header";
    } else if (memcmp(head, CACHE_MAGIC, 8)) {
        why = "bad magic";
    } else {
        for (int i = 0; i < 8; i++) n |= (uint64_t)head[8 + i] << (8 * i);
        if (n == 0 || n > ((uint64_t)1 << 31)) why = "bad size";
    }
    if (!why) {
        payload = malloc((size_t)n);
        if (!payload) why = "out of memory";
        else if (fread(payload, 1, (size_t)n, f) != (size_t)n) why = "truncated payload";
        else if (fgetc(f) != EOF) why = "trailing bytes";
    }
    if (!why) {
        unsigned char h[32];
        crypto_hash_sha256(h, payload, (unsigned long long)n);
        if (memcmp(h, head + 16, 32)) why = "checksum mismatch";
    }
    fclose(f);
    if (!why) {
        cl_int err, bin_status;
        size_t len = (size_t)n;
        const unsigned char *bins[1] = {payload};
        cl_program p = clCreateProgramWithBinary(ctx->context, 1, &ctx->dev.device, &len, bins,
                                                 &bin_status, &err);
        if (err != CL_SUCCESS || bin_status != CL_SUCCESS) {
            why = "binary rejected by the driver";
            if (err == CL_SUCCESS) clReleaseProgram(p);
        } else if (clBuildProgram(p, 1, &ctx->dev.device, build_options(ctx), NULL, NULL) !=
                   CL_SUCCESS) {
            why = "binary failed to build";
            clReleaseProgram(p);
        } else {
            *prog = p;
        }
    }
    free(payload);
    if (why) {
        ctx->stats.cache_rejected++;
        lirf_log(LIRF_LOG_WARN, "program cache entry for \"%s\" (%s) rejected: %s; rebuilding",
                 name, path, why);
        unlink(path);
    }
}

static void cache_store(const char *path, const char *name, cl_program prog) {
    size_t size = 0;
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof size, &size, NULL) != CL_SUCCESS ||
        size == 0)
        return;
    unsigned char *bin = malloc(size);
    if (!bin) return;
    unsigned char *bins[1] = {bin};
    if (clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) != CL_SUCCESS) {
        free(bin);
        return;
    }
    unsigned char head[8 + 8 + 32];
    memcpy(head, CACHE_MAGIC, 8);
    for (int i = 0; i < 8; i++) head[8 + i] = (unsigned char)((uint64_t)size >> (8 * i));
    crypto_hash_sha256(head + 16, bin, size);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(head, 1, sizeof head, f) == sizeof head &&
             fwrite(bin, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    if (ok && rename(tmp, path) == 0) {
        lirf_log(LIRF_LOG_DEBUG, "program \"%s\" cached in %s", name, path);
    } else {
        unlink(tmp);
        lirf_log(LIRF_LOG_WARN, "could not write the program cache entry %s", path);
    }
    free(bin);
}

static lirf_status program_get(lirf_ctx *ctx, const char *name, cl_program *out) {
    for (size_t i = 0; i < ctx->nprogs; i++)
        if (!strcmp(ctx->progs[i].program, name)) return *out = ctx->progs[i].prog, LIRF_OK;
    char *src = NULL;
    size_t len = 0;
    LIRF_TRY(load_source(name, &src, &len));
    char key[65], path[1100] = "";
    cache_key(ctx, name, src, len, key);
    cl_program prog = NULL;
    if (ctx->cache_dir[0]) {
        snprintf(path, sizeof path, "%s/%s.bin", ctx->cache_dir, key);
        cache_load(ctx, path, name, &prog);
        if (prog) {
            ctx->stats.programs_cached++;
            lirf_log(LIRF_LOG_INFO, "program \"%s\": loaded from cache", name);
        }
    }
    if (!prog) {
        cl_int err;
        const char *srcs[1] = {src};
        prog = clCreateProgramWithSource(ctx->context, 1, srcs, &len, &err);
        if (err != CL_SUCCESS) {
            free(src);
            return lirf_cl_fail(err, "clCreateProgramWithSource", __FILE__, __LINE__);
        }
        err = clBuildProgram(prog, 1, &ctx->dev.device, build_options(ctx), NULL, NULL);
        if (err != CL_SUCCESS) {
            lirf_status st = build_log_fail(ctx, prog, name, err);
            clReleaseProgram(prog);
            free(src);
            return st;
        }
        ctx->stats.programs_built++;
        lirf_log(LIRF_LOG_INFO, "program \"%s\": built from source", name);
        if (path[0]) cache_store(path, name, prog);
    }
    free(src);
    if (ctx->nprogs == ctx->cap_progs) {
        size_t cap = ctx->cap_progs ? 2 * ctx->cap_progs : 16;
        lirf_prog_entry *p = realloc(ctx->progs, cap * sizeof *p);
        if (!p) {
            clReleaseProgram(prog);
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        ctx->progs = p;
        ctx->cap_progs = cap;
    }
    char *pname = strdup(name);
    if (!pname) {
        clReleaseProgram(prog);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    ctx->progs[ctx->nprogs++] = (lirf_prog_entry){pname, prog};
    *out = prog;
    return LIRF_OK;
}

lirf_status lirf_kernel_get(lirf_ctx *ctx, const char *program, const char *kernel,
                            cl_kernel *out) {
    if (!ctx || !program || !kernel || !out)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_kernel_get: NULL argument");
    for (size_t i = 0; i < ctx->nkernels; i++) {
        lirf_kernel_entry *e = &ctx->kernels[i];
        if (!strcmp(e->kernel, kernel) && !strcmp(e->program, program)) return *out = e->k, LIRF_OK;
    }
    cl_program prog;
    LIRF_TRY(program_get(ctx, program, &prog));
    cl_int err;
    cl_kernel k = clCreateKernel(prog, kernel, &err);
    if (err != CL_SUCCESS)
        return LIRF_FAIL(err == CL_INVALID_KERNEL_NAME ? LIRF_E_NOT_FOUND : LIRF_E_OPENCL,
                         "clCreateKernel(\"%s\" in program \"%s\") failed: %s (%d)", kernel,
                         program, lirf_cl_error_name(err), err);
    if (ctx->nkernels == ctx->cap_kernels) {
        size_t cap = ctx->cap_kernels ? 2 * ctx->cap_kernels : 64;
        lirf_kernel_entry *p = realloc(ctx->kernels, cap * sizeof *p);
        if (!p) {
            clReleaseKernel(k);
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        }
        ctx->kernels = p;
        ctx->cap_kernels = cap;
    }
    char *pn = strdup(program), *kn = strdup(kernel);
    if (!pn || !kn) {
        free(pn), free(kn);
        clReleaseKernel(k);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    ctx->kernels[ctx->nkernels++] = (lirf_kernel_entry){pn, kn, k, 0};
    *out = k;
    return LIRF_OK;
}

void lirf_programs_release(lirf_ctx *ctx) {
    for (size_t i = 0; i < ctx->nkernels; i++) {
        clReleaseKernel(ctx->kernels[i].k);
        free(ctx->kernels[i].program);
        free(ctx->kernels[i].kernel);
    }
    free(ctx->kernels);
    ctx->kernels = NULL;
    ctx->nkernels = ctx->cap_kernels = 0;
    for (size_t i = 0; i < ctx->nprogs; i++) {
        clReleaseProgram(ctx->progs[i].prog);
        free(ctx->progs[i].program);
    }
    free(ctx->progs);
    ctx->progs = NULL;
    ctx->nprogs = ctx->cap_progs = 0;
}

static const char *kernel_name(cl_kernel k, char *buf, size_t n) {
    buf[0] = 0;
    if (clGetKernelInfo(k, CL_KERNEL_FUNCTION_NAME, n, buf, NULL) != CL_SUCCESS)
        snprintf(buf, n, "?");
    buf[n - 1] = 0;
    return buf;
}

/* The arguments a format sets ('b', 'o': two; 'i', 'u', 'f', 'L': one); -1
 * for an unknown letter (lirf_set_args names it). */
static long format_args(const char *fmt) {
    long n = 0;
    for (const char *c = fmt; *c; c++) {
        if (*c == 'b' || *c == 'o') n += 2;
        else if (strchr("iufL", *c)) n += 1;
        else return -1;
    }
    return n;
}

/* The format must set every argument of the kernel: a missing or extra one
 * would otherwise surface as a launch error or a wrong result. */
static lirf_status check_arg_count(cl_kernel k, const char *fmt) {
    long want = format_args(fmt);
    if (want < 0) return LIRF_OK;
    cl_uint nargs = 0;
    char kn[128];
    cl_int err = clGetKernelInfo(k, CL_KERNEL_NUM_ARGS, sizeof nargs, &nargs, NULL);
    if (err != CL_SUCCESS)
        return lirf_cl_fail(err, "clGetKernelInfo(CL_KERNEL_NUM_ARGS)", __FILE__, __LINE__);
    if ((long)nargs == want) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID, "kernel %s takes %u arguments, the format \"%s\" sets %ld",
                     kernel_name(k, kn, sizeof kn), nargs, fmt, want);
}

lirf_status lirf_set_args(lirf_ctx *ctx, cl_kernel k, const char *fmt, ...) {
    if (!ctx || !k || !fmt) return LIRF_FAIL(LIRF_E_NULL, "lirf_set_args: NULL argument");
    LIRF_TRY(check_arg_count(k, fmt));
    va_list ap;
    va_start(ap, fmt);
    cl_uint idx = 0;
    lirf_status st = LIRF_OK;
    char kn[128];
    for (const char *c = fmt; *c && st == LIRF_OK; c++) {
        cl_int err = CL_SUCCESS;
        switch (*c) {
        case 'b':
        case 'o': {
            lirf_buf b = va_arg(ap, lirf_buf);
            if (!b.mem && *c == 'b') {
                st = LIRF_FAIL(LIRF_E_NULL, "kernel %s: buffer argument %u is NULL",
                               kernel_name(k, kn, sizeof kn), idx);
                break;
            }
            cl_mem m = b.mem ? b.mem : ctx->dummy;
            cl_int off = (cl_int)b.off;
            err = clSetKernelArg(k, idx++, sizeof m, &m);
            if (err == CL_SUCCESS) err = clSetKernelArg(k, idx++, sizeof off, &off);
            break;
        }
        case 'i': {
            cl_int v = va_arg(ap, int);
            err = clSetKernelArg(k, idx++, sizeof v, &v);
            break;
        }
        case 'u': {
            cl_uint v = va_arg(ap, unsigned);
            err = clSetKernelArg(k, idx++, sizeof v, &v);
            break;
        }
        case 'f': {
            cl_float v = (cl_float)va_arg(ap, double);
            err = clSetKernelArg(k, idx++, sizeof v, &v);
            break;
        }
        case 'L': {
            size_t bytes = va_arg(ap, size_t);
            if (bytes > ctx->dev.local_mem) {
                st = LIRF_FAIL(LIRF_E_UNSUPPORTED,
                               "kernel %s: %zu bytes of local memory, the device has %llu",
                               kernel_name(k, kn, sizeof kn), bytes,
                               (unsigned long long)ctx->dev.local_mem);
                break;
            }
            err = clSetKernelArg(k, idx++, bytes, NULL);
            break;
        }
        default:
            st = LIRF_FAIL(LIRF_E_INVALID, "lirf_set_args: unknown format letter '%c'", *c);
        }
        if (st == LIRF_OK && err != CL_SUCCESS)
            st = LIRF_FAIL(LIRF_E_OPENCL, "clSetKernelArg(%s, %u) failed: %s (%d)",
                           kernel_name(k, kn, sizeof kn), idx - 1, lirf_cl_error_name(err), err);
    }
    va_end(ap);
    return st;
}

/* With $LIRF_KERNEL_TRACE=FILE, the name of every kernel launched is appended
 * to FILE once per context (the test suite uses it to prove that every
 * __kernel in cl_kernels/ is exercised by a test). */
static void trace_kernel(lirf_ctx *ctx, cl_kernel k) {
    const char *path = lirf_options_get()->kernel_trace;
    if (!*path) return;
    for (size_t i = 0; i < ctx->nkernels; i++) {
        lirf_kernel_entry *e = &ctx->kernels[i];
        if (e->k != k) continue;
        if (e->traced) return;
        e->traced = 1;
        FILE *f = fopen(path, "a");
        if (f) {
            fprintf(f, "%s %s\n", e->program, e->kernel);
            fclose(f);
        }
        return;
    }
}

lirf_status lirf_launch(lirf_ctx *ctx, cl_kernel k, const char *label, cl_uint dim,
                        const size_t *gws, const size_t *lws) {
    if (!ctx || !k || !gws) return LIRF_FAIL(LIRF_E_NULL, "lirf_launch: NULL argument");
    if (dim < 1 || dim > 3) return LIRF_FAIL(LIRF_E_INVALID, "lirf_launch: %u dimensions", dim);
    size_t g[3];
    for (cl_uint i = 0; i < dim; i++) {
        if (gws[i] == 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: empty launch", label);
        g[i] = gws[i];
        if (lws) {
            if (lws[i] == 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: local size 0", label);
            g[i] = (g[i] + lws[i] - 1) / lws[i] * lws[i];
        }
    }
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(ctx->queue, k, dim, NULL, g, lws, 0, NULL,
                                        ctx->profiling ? &ev : NULL);
    if (err != CL_SUCCESS) {
        lirf_status st = lirf_cl_fail(err, "clEnqueueNDRangeKernel", __FILE__, __LINE__);
        return LIRF_FAIL(st, "clEnqueueNDRangeKernel(%s) failed: %s (%d)", label,
                         lirf_cl_error_name(err), err);
    }
    ctx->stats.kernel_launches++;
    if (ev) lirf_profile_event(ctx, ev, label);
    trace_kernel(ctx, k);
    return LIRF_OK;
}

lirf_status lirf_launch1(lirf_ctx *ctx, cl_kernel k, const char *label, size_t n) {
    /* A fixed local size (queried against the kernel's limit), so that odd n do
     * not make the implementation fall back to tiny work-groups. */
    size_t wg;
    LIRF_TRY(lirf_kernel_wg(ctx, k, 64, &wg));
    return lirf_launch(ctx, k, label, 1, &n, &wg);
}

lirf_status lirf_kernel_wg(lirf_ctx *ctx, cl_kernel k, size_t cap, size_t *wg) {
    if (!ctx || !k || !wg) return LIRF_FAIL(LIRF_E_NULL, "lirf_kernel_wg: NULL argument");
    size_t kmax = 0;
    LIRF_CHECK_CL(clGetKernelWorkGroupInfo(k, ctx->dev.device, CL_KERNEL_WORK_GROUP_SIZE,
                                           sizeof kmax, &kmax, NULL),
                  "clGetKernelWorkGroupInfo");
    size_t lim = kmax;
    if (ctx->dev.max_wg && ctx->dev.max_wg < lim) lim = ctx->dev.max_wg;
    if (cap && cap < lim) lim = cap;
    size_t w = 1;
    while (w * 2 <= lim) w *= 2;
    *wg = w;
    return LIRF_OK;
}
