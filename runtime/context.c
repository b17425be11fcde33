/* Context, buffers with accounting, scratch slots and the activation arena. */
/* MAP_ANONYMOUS (not in POSIX 2008) */
#define _DEFAULT_SOURCE
#include <limits.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <sys/stat.h>

#include <sodium.h>

#include "internal.h"

static void cache_dir_init(lirf_ctx *ctx) {
    const lirf_options *o = lirf_options_get();
    const char *dir = o->cache_dir;
    ctx->cache_dir[0] = 0;
    if (!strcmp(dir, "off")) return;
    if (*dir) {
        snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s", dir);
    } else {
        const char *xdg = o->xdg_cache_home, *home = o->home;
        if (xdg && *xdg)
            snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/lirf", xdg);
        else if (home && *home)
            snprintf(ctx->cache_dir, sizeof ctx->cache_dir, "%s/.cache/lirf", home);
        else
            return;
    }
    /* mkdir -p */
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", ctx->cache_dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = 0;
            mkdir(tmp, 0755);
            *p = '/';
        }
    }
    mkdir(tmp, 0755);
    struct stat st;
    if (stat(tmp, &st) != 0 || !S_ISDIR(st.st_mode)) {
        lirf_log(LIRF_LOG_WARN, "program cache directory %s is not usable; caching is off",
                 ctx->cache_dir);
        ctx->cache_dir[0] = 0;
    }
}

lirf_status lirf_ctx_create(lirf_ctx **out, const char *spec) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_ctx_create: NULL output");
    *out = NULL;
    if (sodium_init() < 0) return LIRF_FAIL(LIRF_E_UNSUPPORTED, "libsodium failed to initialise");
    if (!spec && lirf_options_get()->device[0]) spec = lirf_options_get()->device;
    lirf_device_info *devs;
    size_t n, idx;
    LIRF_TRY(lirf_list_devices(&devs, &n));
    lirf_status st = lirf_choose_device(devs, n, spec, &idx);
    if (st != LIRF_OK) {
        free(devs);
        return st;
    }
    lirf_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) {
        free(devs);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    ctx->dev = devs[idx];
    free(devs);

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)ctx->dev.platform,
                                     0};
    ctx->context = clCreateContext(props, 1, &ctx->dev.device, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        free(ctx);
        return lirf_cl_fail(err, "clCreateContext", __FILE__, __LINE__);
    }
    cl_command_queue_properties qp = lirf_options_get()->profile ? CL_QUEUE_PROFILING_ENABLE : 0;
    ctx->profiling = qp != 0;
    ctx->queue = clCreateCommandQueue(ctx->context, ctx->dev.device, qp, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(ctx->context);
        free(ctx);
        return lirf_cl_fail(err, "clCreateCommandQueue", __FILE__, __LINE__);
    }
    st = lirf_mem_create(ctx, 16, &ctx->dummy);
    if (st != LIRF_OK) {
        lirf_ctx_destroy(ctx);
        return st;
    }
    cache_dir_init(ctx);
    lirf_log(LIRF_LOG_INFO, "device %u:%u %s (%s), driver %s, %s", ctx->dev.platform_index,
             ctx->dev.device_index, ctx->dev.name, ctx->dev.platform_name, ctx->dev.driver,
             ctx->dev.c_version);
    lirf_gemm_engine_init(ctx);  /* gemm_packed.c: never fails */
    lirf_gemm_tuning_init(ctx); /* tune.c: never fails; falls back to CLBlast's defaults */
    *out = ctx;
    return LIRF_OK;
}

void lirf_ctx_destroy(lirf_ctx *ctx) {
    if (!ctx) return;
    if (ctx->queue) clFinish(ctx->queue);
    lirf_profile_reset(ctx);
    free(ctx->pending);
    for (int i = 0; i < LIRF_SCRATCH_SLOTS; i++)
        if (ctx->scratch[i].mem) lirf_mem_release(ctx, ctx->scratch[i].mem);
    if (ctx->dummy) lirf_mem_release(ctx, ctx->dummy);
    lirf_programs_release(ctx);
    if (ctx->queue) clReleaseCommandQueue(ctx->queue);
    if (ctx->context) clReleaseContext(ctx->context);
    free(ctx);
}

const lirf_device_info *lirf_ctx_device(const lirf_ctx *ctx) { return &ctx->dev; }
cl_context lirf_ctx_context(const lirf_ctx *ctx) { return ctx->context; }
cl_command_queue lirf_ctx_queue(const lirf_ctx *ctx) { return ctx->queue; }
const lirf_stats *lirf_ctx_stats(const lirf_ctx *ctx) { return &ctx->stats; }

void lirf_ctx_reset_peak(lirf_ctx *ctx) {
    if (ctx) ctx->stats.bytes_peak = ctx->stats.bytes_in_use;
}
const char *lirf_ctx_cache_dir(const lirf_ctx *ctx) { return ctx->cache_dir; }

lirf_status lirf_finish(lirf_ctx *ctx) {
    if (!ctx) return LIRF_FAIL(LIRF_E_NULL, "lirf_finish: NULL context");
    LIRF_CHECK_CL(clFinish(ctx->queue), "clFinish");
    return LIRF_OK;
}

/* ---- raw allocations with accounting ---- */
/* On a CPU device through PoCL a buffer is host memory, from PoCL's malloc
 * unless the buffer brings its own. Freeing buffers of a few MB raises
 * glibc's mmap threshold, and from then on such buffers come from the heap
 * and stay resident after they are freed: the activation arena, which frees
 * the buffers of its first pass as it goes, held a training step at width 64
 * at 919 MB resident (`/usr/bin/time -v bench_train`). So there every buffer
 * is pages of its own (CL_MEM_USE_HOST_PTR: PoCL uses them in place), given
 * back to the system by a destructor callback when OpenCL destroys the
 * buffer, once no enqueued command uses it: 678 MB. A destructor that never
 * ran leaves its malloc'ed record behind for the sanitizer run's leak check. */
typedef struct {
    void *p;
    size_t bytes;
} mapped_block;

static void CL_CALLBACK unmap_block(cl_mem m, void *user) {
    (void)m;
    mapped_block *b = user;
    munmap(b->p, b->bytes);
    free(b);
}

lirf_status lirf_mem_create(lirf_ctx *ctx, size_t bytes, cl_mem *out) {
    if (bytes == 0) return LIRF_FAIL(LIRF_E_INVALID, "device allocation of 0 bytes");
    if (ctx->dev.max_alloc && bytes > ctx->dev.max_alloc)
        return LIRF_FAIL(LIRF_E_DEVICE_MEM,
                         "device allocation of %zu bytes exceeds the device's largest "
                         "allocation (%llu bytes); try a smaller batch",
                         bytes, (unsigned long long)ctx->dev.max_alloc);
    mapped_block *b = NULL;
    if (lirf_device_pocl_cpu(&ctx->dev)) {
        if (!(b = malloc(sizeof *b))) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        b->bytes = bytes;
        b->p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (b->p == MAP_FAILED) {
            free(b);
            return LIRF_FAIL(LIRF_E_DEVICE_MEM, "mmap of %zu bytes failed; %zu bytes in use; "
                                                "try a smaller batch",
                             bytes, ctx->stats.bytes_in_use);
        }
    }
    cl_int err;
    cl_mem_flags flags = CL_MEM_READ_WRITE | (b ? CL_MEM_USE_HOST_PTR : 0);
    cl_mem m = clCreateBuffer(ctx->context, flags, bytes, b ? b->p : NULL, &err);
    const char *call = "clCreateBuffer";
    if (err == CL_SUCCESS && b) {
        call = "clSetMemObjectDestructorCallback";
        if ((err = clSetMemObjectDestructorCallback(m, unmap_block, b)) != CL_SUCCESS)
            clReleaseMemObject(m); /* no command uses it: destroyed now */
    }
    if (err != CL_SUCCESS) {
        if (b) munmap(b->p, bytes), free(b);
        lirf_status st = lirf_cl_fail(err, call, __FILE__, __LINE__);
        return LIRF_FAIL(st, "%s of %zu bytes failed: %s (%d); %zu bytes in use; "
                             "try a smaller batch",
                         call, bytes, lirf_cl_error_name(err), err, ctx->stats.bytes_in_use);
    }
    ctx->stats.allocations++;
    ctx->stats.bytes_in_use += bytes;
    if (ctx->stats.bytes_in_use > ctx->stats.bytes_peak)
        ctx->stats.bytes_peak = ctx->stats.bytes_in_use;
    *out = m;
    return LIRF_OK;
}

void lirf_mem_release(lirf_ctx *ctx, cl_mem m) {
    size_t bytes = 0;
    if (clGetMemObjectInfo(m, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) == CL_SUCCESS &&
        bytes <= ctx->stats.bytes_in_use)
        ctx->stats.bytes_in_use -= bytes;
    clReleaseMemObject(m);
}

lirf_status lirf_buf_alloc(lirf_ctx *ctx, size_t n, lirf_buf *out) {
    if (!ctx || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_buf_alloc: NULL argument");
    if (n == 0) return LIRF_FAIL(LIRF_E_INVALID, "lirf_buf_alloc: 0 elements");
    if (n > SIZE_MAX / 4) return LIRF_FAIL(LIRF_E_INVALID, "lirf_buf_alloc: %zu elements", n);
    cl_mem m = NULL;
    LIRF_TRY(lirf_mem_create(ctx, n * 4, &m));
    *out = (lirf_buf){m, 0, n};
    return LIRF_OK;
}

void lirf_buf_free(lirf_ctx *ctx, lirf_buf *b) {
    if (!ctx || !b || !b->mem) return;
    lirf_mem_release(ctx, b->mem);
    *b = LIRF_NOBUF;
}

lirf_status lirf_buf_view(lirf_buf b, size_t off, size_t n, lirf_buf *out) {
    if (!b.mem || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_buf_view: NULL buffer");
    if (off > b.n || n > b.n - off)
        return LIRF_FAIL(LIRF_E_SHAPE, "view [%zu, %zu) outside a buffer of %zu elements", off,
                         off + n, b.n);
    *out = (lirf_buf){b.mem, b.off + off, n};
    return LIRF_OK;
}

static lirf_status check_xfer(lirf_buf b, const void *host, size_t n, const char *what) {
    if (!b.mem || !host) return LIRF_FAIL(LIRF_E_NULL, "%s: NULL buffer or host pointer", what);
    if (n > b.n)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: %zu elements into a view of %zu", what, n, b.n);
    return LIRF_OK;
}

lirf_status lirf_buf_write(lirf_ctx *ctx, lirf_buf dst, const void *src, size_t n) {
    LIRF_TRY(check_xfer(dst, src, n, "lirf_buf_write"));
    if (n == 0) return LIRF_OK;
    LIRF_CHECK_CL(clEnqueueWriteBuffer(ctx->queue, dst.mem, CL_TRUE, dst.off * 4, n * 4, src, 0,
                                       NULL, NULL),
                  "clEnqueueWriteBuffer");
    return LIRF_OK;
}

lirf_status lirf_buf_read(lirf_ctx *ctx, lirf_buf src, void *dst, size_t n) {
    LIRF_TRY(check_xfer(src, dst, n, "lirf_buf_read"));
    if (n == 0) return LIRF_OK;
    LIRF_CHECK_CL(clEnqueueReadBuffer(ctx->queue, src.mem, CL_TRUE, src.off * 4, n * 4, dst, 0,
                                      NULL, NULL),
                  "clEnqueueReadBuffer");
    return LIRF_OK;
}

static lirf_status fill4(lirf_ctx *ctx, lirf_buf dst, const void *pattern) {
    if (!ctx || !dst.mem) return LIRF_FAIL(LIRF_E_NULL, "lirf_buf_fill: NULL buffer");
    if (dst.n == 0) return LIRF_OK;
    LIRF_CHECK_CL(clEnqueueFillBuffer(ctx->queue, dst.mem, pattern, 4, dst.off * 4, dst.n * 4, 0,
                                      NULL, NULL),
                  "clEnqueueFillBuffer");
    return LIRF_OK;
}

lirf_status lirf_buf_fill(lirf_ctx *ctx, lirf_buf dst, float value) {
    return fill4(ctx, dst, &value);
}

lirf_status lirf_buf_fill_int(lirf_ctx *ctx, lirf_buf dst, int32_t value) {
    return fill4(ctx, dst, &value);
}

lirf_status lirf_buf_copy(lirf_ctx *ctx, lirf_buf dst, lirf_buf src, size_t n) {
    if (!ctx || !dst.mem || !src.mem) return LIRF_FAIL(LIRF_E_NULL, "lirf_buf_copy: NULL buffer");
    if (n > dst.n || n > src.n)
        return LIRF_FAIL(LIRF_E_SHAPE, "lirf_buf_copy: %zu elements, views of %zu and %zu", n,
                         dst.n, src.n);
    if (n == 0) return LIRF_OK;
    LIRF_CHECK_CL(clEnqueueCopyBuffer(ctx->queue, src.mem, dst.mem, src.off * 4, dst.off * 4,
                                      n * 4, 0, NULL, NULL),
                  "clEnqueueCopyBuffer");
    return LIRF_OK;
}

/* ---- scratch ---- */
lirf_status lirf_scratch(lirf_ctx *ctx, int slot, size_t n, lirf_buf *out) {
    if (!ctx || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_scratch: NULL argument");
    if (slot < 0 || slot >= LIRF_SCRATCH_SLOTS)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_scratch: slot %d", slot);
    if (n == 0) n = 1;
    lirf_buf *s = &ctx->scratch[slot];
    if (s->n < n) {
        /* Grow geometrically; the old buffer is released once queued work using it ends
         * (OpenCL keeps a memory object alive while commands reference it). */
        size_t want = n + n / 4;
        if (s->mem) {
            lirf_mem_release(ctx, s->mem);
            *s = LIRF_NOBUF;
        }
        LIRF_TRY(lirf_buf_alloc(ctx, want, s));
        lirf_log(LIRF_LOG_DEBUG, "scratch slot %d grown to %zu elements", slot, want);
    }
    *out = *s;
    return LIRF_OK;
}

/* ---- arena ---- */
/* The first pass (and any pass that needs more than the arena holds) gets one
 * buffer of exactly its size per request that does not fit, and
 * lirf_arena_release frees the buffers made after the mark, so device memory
 * in that pass never exceeds what is in use (rounded to 64 elements). The
 * pass's requests and releases are logged; lirf_arena_reset replays the log
 * to lay the same sequence out in as few chunks as the device's largest
 * allocation allows (one chunk of the high-water mark when it fits), so from
 * the next pass on nothing is allocated. Growing by chunks larger than the
 * request instead (an eighth of what the arena held) left the unused tails of
 * chunks behind: a first training step at width 16 peaked at 1.71x of its
 * parameters, gradients, momentum and saved activations, 38 MB above every
 * later step. */
#define ARENA_ALIGN 64 /* elements (256 bytes) */

typedef struct {
    size_t v;    /* a request's rounded elements, or a release's mark (lin) */
    int release; /* 0: lirf_arena_get, 1: lirf_arena_release */
} arena_event;

struct lirf_arena {
    lirf_ctx *ctx;
    lirf_buf *chunks;
    size_t nchunks, cap_chunks;
    size_t kept;       /* chunks [0, kept) are the last reset's layout: release keeps them */
    size_t cur, used;  /* current chunk, elements used in it */
    size_t pass_total; /* elements in use this pass (handed out less released) */
    size_t high;       /* the most pass_total has been since the reset */
    int grew;          /* this pass allocated a chunk */
    arena_event *log;  /* this pass's requests and releases, for the reset's layout */
    size_t nlog, cap_log;
};

static lirf_status arena_log(lirf_arena *a, size_t v, int release) {
    if (a->nlog == a->cap_log) {
        size_t cap = a->cap_log ? 2 * a->cap_log : 256;
        arena_event *p = realloc(a->log, cap * sizeof *p);
        if (!p) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (arena log)");
        a->log = p, a->cap_log = cap;
    }
    a->log[a->nlog++] = (arena_event){v, release};
    return LIRF_OK;
}

static lirf_status arena_push_chunk(lirf_arena *a, size_t n) {
    if (a->nchunks == a->cap_chunks) {
        size_t cap = a->cap_chunks ? 2 * a->cap_chunks : 16;
        lirf_buf *p = realloc(a->chunks, cap * sizeof *p);
        if (!p) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (arena chunks)");
        a->chunks = p, a->cap_chunks = cap;
    }
    LIRF_TRY(lirf_buf_alloc(a->ctx, n, &a->chunks[a->nchunks]));
    a->nchunks++;
    return LIRF_OK;
}

lirf_status lirf_arena_create(lirf_ctx *ctx, size_t initial_elems, lirf_arena **out) {
    if (!ctx || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_arena_create: NULL argument");
    lirf_arena *a = calloc(1, sizeof *a);
    if (!a) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    a->ctx = ctx;
    if (initial_elems) {
        lirf_status st = arena_push_chunk(a, initial_elems);
        if (st != LIRF_OK) {
            lirf_arena_destroy(a);
            return st;
        }
        a->kept = 1;
    }
    *out = a;
    return LIRF_OK;
}

lirf_status lirf_arena_get(lirf_arena *a, size_t n, lirf_buf *out) {
    if (!a || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_arena_get: NULL argument");
    if (n == 0) return LIRF_FAIL(LIRF_E_INVALID, "lirf_arena_get: 0 elements");
    if (n > SIZE_MAX / 4 - ARENA_ALIGN)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_arena_get: %zu elements", n);
    size_t rounded = (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    LIRF_TRY(arena_log(a, rounded, 0));
    size_t cur = a->cur, used = a->used;
    while (cur < a->nchunks && a->chunks[cur].n - used < rounded) cur++, used = 0;
    if (cur == a->nchunks) {
        lirf_status st = arena_push_chunk(a, rounded); /* says so when above max_alloc */
        if (st != LIRF_OK) {
            a->nlog--; /* not handed out */
            return st;
        }
        a->grew = 1;
    }
    a->cur = cur, a->used = used;
    *out = (lirf_buf){a->chunks[a->cur].mem, a->used, n};
    a->used += rounded;
    a->pass_total += rounded;
    if (a->pass_total > a->high) a->high = a->pass_total;
    return LIRF_OK;
}

lirf_arena_pos lirf_arena_mark(const lirf_arena *a) {
    return a ? (lirf_arena_pos){a->cur, a->used, a->pass_total} : (lirf_arena_pos){0, 0, 0};
}

lirf_status lirf_arena_release(lirf_arena *a, lirf_arena_pos m) {
    if (!a) return LIRF_FAIL(LIRF_E_NULL, "lirf_arena_release: NULL arena");
    if (m.lin > a->pass_total || m.cur > a->cur || (m.cur == a->cur && m.used > a->used))
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_arena_release: the mark is not below the current "
                                         "position (released twice, or from another pass)");
    LIRF_TRY(arena_log(a, m.lin, 1));
    a->cur = m.cur, a->used = m.used, a->pass_total = m.lin;
    /* The chunks this pass made after the mark's hold nothing now. (OpenCL
     * keeps a released buffer alive while enqueued commands use it.) */
    size_t keep = a->cur + 1 > a->kept ? a->cur + 1 : a->kept;
    while (a->nchunks > keep) lirf_buf_free(a->ctx, &a->chunks[--a->nchunks]);
    return LIRF_OK;
}

/* Replays the pass's log with chunks of `size` elements, making the choices
 * lirf_arena_get makes: the number of chunks it needs into *nch, and how much
 * of each it uses at most into most[] (room for one per request). */
static lirf_status arena_layout(const lirf_arena *a, size_t size, size_t *most, size_t *nch) {
    typedef struct { size_t lin, cur, used; } frame;
    frame *stack = malloc((a->nlog ? a->nlog : 1) * sizeof *stack);
    if (!stack) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (arena layout)");
    size_t sp = 0, cur = 0, used = 0, lin = 0, n = 0;
    lirf_status st = LIRF_OK;
    for (size_t i = 0; i < a->nlog && st == LIRF_OK; i++) {
        size_t v = a->log[i].v;
        if (!a->log[i].release) {
            if (v > size) {
                st = LIRF_FAIL(LIRF_E_INVALID, "arena layout: a request above the chunk size");
                break;
            }
            stack[sp++] = (frame){lin, cur, used};
            while (cur < n && size - used < v) cur++, used = 0;
            if (cur == n) most[n++] = 0, used = 0;
            used += v, lin += v;
            if (used > most[cur]) most[cur] = used;
        } else if (v != lin) { /* back to the request that started at v */
            while (sp > 0 && stack[sp - 1].lin > v) sp--;
            if (sp == 0 || stack[sp - 1].lin != v) {
                st = LIRF_FAIL(LIRF_E_INVALID, "arena layout: a release to no request's start");
                break;
            }
            sp--;
            cur = stack[sp].cur, used = stack[sp].used, lin = v;
        }
    }
    free(stack);
    *nch = n;
    return st;
}

lirf_status lirf_arena_reset(lirf_arena *a) {
    if (!a) return LIRF_FAIL(LIRF_E_NULL, "lirf_arena_reset: NULL arena");
    lirf_status st = LIRF_OK;
    if (a->grew && a->high > 0) {
        /* One chunk of the high-water mark, or chunks of the largest allocation
         * the device allows when it is above that: the same sequence of
         * requests and releases fits them with nothing allocated. */
        size_t size = a->high;
        size_t cap = a->ctx->dev.max_alloc ? (size_t)(a->ctx->dev.max_alloc / sizeof(float)) : 0;
        if (cap && size > cap) size = cap / ARENA_ALIGN * ARENA_ALIGN;
        size_t *most = malloc(a->nlog * sizeof *most), nch = 0;
        st = most ? arena_layout(a, size, most, &nch)
                  : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory (arena layout)");
        if (st == LIRF_OK) {
            while (a->nchunks > 0) lirf_buf_free(a->ctx, &a->chunks[--a->nchunks]);
            for (size_t i = 0; i < nch && st == LIRF_OK; i++) st = arena_push_chunk(a, most[i]);
        }
        free(most);
    }
    a->kept = a->nchunks;
    a->cur = a->used = a->pass_total = a->high = 0;
    a->grew = 0;
    a->nlog = 0;
    return st;
}

size_t lirf_arena_chunks(const lirf_arena *a) { return a ? a->nchunks : 0; }

size_t lirf_arena_used(const lirf_arena *a) { return a ? a->pass_total : 0; }

size_t lirf_arena_high(const lirf_arena *a) { return a ? a->high : 0; }

void lirf_arena_destroy(lirf_arena *a) {
    if (!a) return;
    for (size_t i = 0; i < a->nchunks; i++) lirf_buf_free(a->ctx, &a->chunks[i]);
    free(a->chunks);
    free(a->log);
    free(a);
}

/* ---- profiling ---- */
int lirf_profiling(const lirf_ctx *ctx) { return ctx && ctx->profiling; }

void lirf_profile_add(lirf_ctx *ctx, const char *label, double ms) {
    size_t j = 0;
    while (j < ctx->nprof && strcmp(ctx->prof[j].label, label)) j++;
    if (j == ctx->nprof) {
        if (ctx->nprof == sizeof ctx->prof / sizeof ctx->prof[0]) return;
        ctx->prof[j].label = label;
        ctx->prof[j].ms = 0;
        ctx->prof[j].count = 0;
        ctx->nprof++;
    }
    ctx->prof[j].ms += ms;
    ctx->prof[j].count++;
}

static void profile_drain(lirf_ctx *ctx) {
    for (size_t i = 0; i < ctx->npending; i++) {
        cl_ulong t0 = 0, t1 = 0;
        clWaitForEvents(1, &ctx->pending[i].ev);
        clGetEventProfilingInfo(ctx->pending[i].ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL);
        clGetEventProfilingInfo(ctx->pending[i].ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL);
        clReleaseEvent(ctx->pending[i].ev);
        lirf_profile_add(ctx, ctx->pending[i].label, t1 > t0 ? (double)(t1 - t0) * 1e-6 : 0);
    }
    ctx->npending = 0;
}

void lirf_profile_event(lirf_ctx *ctx, cl_event ev, const char *label) {
    if (!ctx->profiling) {
        clReleaseEvent(ev);
        return;
    }
    if (ctx->npending == ctx->cap_pending) {
        if (ctx->npending >= 4096) {
            clFinish(ctx->queue);
            profile_drain(ctx);
        } else {
            size_t cap = ctx->cap_pending ? 2 * ctx->cap_pending : 256;
            void *p = realloc(ctx->pending, cap * sizeof *ctx->pending);
            if (!p) {
                clReleaseEvent(ev);
                return;
            }
            ctx->pending = p;
            ctx->cap_pending = cap;
        }
    }
    ctx->pending[ctx->npending].ev = ev;
    ctx->pending[ctx->npending].label = label;
    ctx->npending++;
}

static int by_time(const void *a, const void *b) {
    const double x = *(const double *)a, y = *(const double *)b;
    return (x < y) - (x > y);
}

lirf_status lirf_profile_report(lirf_ctx *ctx, FILE *out) {
    if (!ctx || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_profile_report: NULL argument");
    if (!ctx->profiling) {
        fprintf(out, "(profiling is off: set LIRF_PROFILE=1)\n");
        return LIRF_OK;
    }
    LIRF_CHECK_CL(clFinish(ctx->queue), "clFinish");
    profile_drain(ctx);
    struct { double ms; size_t i; } rows[128];
    double total = 0;
    for (size_t i = 0; i < ctx->nprof; i++) rows[i].ms = ctx->prof[i].ms, rows[i].i = i, total += ctx->prof[i].ms;
    qsort(rows, ctx->nprof, sizeof rows[0], by_time);
    fprintf(out, "| op | calls | total ms | ms/call | share |\n|---|---:|---:|---:|---:|\n");
    for (size_t k = 0; k < ctx->nprof; k++) {
        size_t i = rows[k].i;
        fprintf(out, "| %s | %llu | %.1f | %.3f | %.1f%% |\n", ctx->prof[i].label,
                (unsigned long long)ctx->prof[i].count, ctx->prof[i].ms,
                ctx->prof[i].ms / (double)(ctx->prof[i].count ? ctx->prof[i].count : 1),
                total > 0 ? 100.0 * ctx->prof[i].ms / total : 0.0);
    }
    fprintf(out, "| total | | %.1f | | |\n", total);
    return LIRF_OK;
}

void lirf_profile_reset(lirf_ctx *ctx) {
    if (!ctx) return;
    for (size_t i = 0; i < ctx->npending; i++) clReleaseEvent(ctx->pending[i].ev);
    ctx->npending = 0;
    ctx->nprof = 0;
}
