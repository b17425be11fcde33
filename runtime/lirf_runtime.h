/* lirf runtime: the vendor-portable OpenCL backend. No ML in here.
 *
 * Devices, programs (embedded .cl sources, on-disk binary cache), buffers with
 * accounting, scratch space, kernel launches and CLBlast GEMM.
 *
 * Errors: every call returns an lirf_status. The message (with the OpenCL error
 * name, the call and file:line) is recorded once, where the error is detected,
 * and read with lirf_error_message(); callers above only propagate the status.
 * Library code never calls exit().
 *
 * Buffers: an lirf_buf is a view (cl_mem, element offset, element count) of
 * 4-byte elements (float or int32). Kernels take each buffer as a pair
 * (__global T *p, int p_off).
 */
#ifndef LIRF_RUNTIME_H
#define LIRF_RUNTIME_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lirf_rng.h"

#define LIRF_VERSION "0.1.0"

/* ---- status ------------------------------------------------------------ */
typedef enum {
    LIRF_OK = 0,
    LIRF_E_INVALID,     /* an argument has a bad value (zero size, bad option) */
    LIRF_E_NULL,        /* a required pointer or buffer is NULL */
    LIRF_E_SHAPE,       /* shapes or buffer sizes do not agree */
    LIRF_E_NO_PLATFORM, /* no OpenCL platform installed */
    LIRF_E_NO_DEVICE,   /* no device matches */
    LIRF_E_OPENCL,      /* an OpenCL call failed */
    LIRF_E_BUILD,       /* an OpenCL program failed to build */
    LIRF_E_BLAS,        /* a CLBlast call failed */
    LIRF_E_NOMEM,       /* host memory */
    LIRF_E_DEVICE_MEM,  /* device memory */
    LIRF_E_IO,          /* file system */
    LIRF_E_FORMAT,      /* malformed outside bytes */
    LIRF_E_NOT_FOUND,   /* a named thing does not exist */
    LIRF_E_NUMERIC,     /* non-finite value */
    LIRF_E_UNSUPPORTED, /* the device or build lacks a feature */
    LIRF_STATUS_COUNT
} lirf_status;

const char *lirf_status_name(lirf_status st);
const char *lirf_cl_error_name(cl_int err);
const char *lirf_clblast_status_name(int status);

/* Records an error message ("file:line: message") and returns st. */
lirf_status lirf_fail(lirf_status st, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* For a failing st, puts "<context>: " before the recorded message (what the
 * caller was doing: "loading the training data"); returns st unchanged. */
lirf_status lirf_error_context(lirf_status st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The last recorded message of this thread ("" if none). */
const char *lirf_error_message(void);
void lirf_clear_error(void);

#define LIRF_FAIL(st, ...) lirf_fail((st), __FILE__, __LINE__, __VA_ARGS__)
/* Propagate a failing status. */
#define LIRF_TRY(expr)                     \
    do {                                   \
        lirf_status lirf_st_ = (expr);     \
        if (lirf_st_ != LIRF_OK) return lirf_st_; \
    } while (0)
/* Check an OpenCL error code; `what` names the call, e.g. "clEnqueueReadBuffer". */
lirf_status lirf_cl_fail(cl_int err, const char *what, const char *file, int line);
#define LIRF_CHECK_CL(err, what)                                          \
    do {                                                                  \
        cl_int lirf_e_ = (err);                                           \
        if (lirf_e_ != CL_SUCCESS) return lirf_cl_fail(lirf_e_, (what), __FILE__, __LINE__); \
    } while (0)

/* ---- options from the environment ---------------------------------------
 * Every environment variable lirf reads, read once (on the first call) into
 * one struct: nothing in lirf calls getenv() per operation. A program may
 * change fields before it makes a context; tests that change the environment
 * call lirf_options_reload(). Strings are "" when unset. */
typedef struct {
    char device[256];          /* LIRF_DEVICE: device choice, as --device */
    char cache_dir[1024];      /* LIRF_CACHE_DIR: program cache ("off": none) */
    char xdg_cache_home[1000]; /* XDG_CACHE_HOME, HOME: the default cache folder */
    char home[1000];
    char kernel_dir[1024];     /* LIRF_KERNEL_DIR: read cl_kernels/<name>.cl from here */
    char kernel_trace[1024];   /* LIRF_KERNEL_TRACE (tests): append launched kernels here */
    char gemm[32];             /* LIRF_GEMM: packed | clblast */
    char gemm_tuning[32];      /* LIRF_GEMM_TUNING: off | on | auto */
    char crash_at[256];        /* LIRF_CRASH_AT (tests): SITE:N */
    int log_level;             /* LIRF_LOG, parsed (lirf_log_level) */
    int profile;               /* LIRF_PROFILE set (not "0") */
    int no_data;               /* LIRF_NO_DATA set (not "0"): refuse to read data */
    int conv_taps;             /* LIRF_CONV_TAPS: 0, 1, -1 (unset: where it pays) */
    size_t conv_chunk_elems;   /* LIRF_CONV_CHUNK_ELEMS: 0 (unset: the default) */
} lirf_options;
lirf_options *lirf_options_get(void);
/* Reads the environment again (not thread-safe: tests, and before any thread). */
void lirf_options_reload(void);

/* ---- logging (stderr) -------------------------------------------------- */
typedef enum { LIRF_LOG_QUIET = 0, LIRF_LOG_WARN = 1, LIRF_LOG_INFO = 2, LIRF_LOG_DEBUG = 3 } lirf_log_level;
/* Default from LIRF_LOG (quiet|warn|info|debug), else warn. */
void lirf_log_set_level(lirf_log_level level);
lirf_log_level lirf_log_get_level(void);
void lirf_log(lirf_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- devices ----------------------------------------------------------- */
typedef struct {
    unsigned platform_index, device_index;
    cl_platform_id platform;
    cl_device_id device;
    cl_device_type type;
    char platform_name[128];
    char platform_version[128];
    char name[128];
    char vendor[128];
    char version[128];   /* CL_DEVICE_VERSION */
    char driver[128];    /* CL_DRIVER_VERSION */
    char c_version[128]; /* CL_DEVICE_OPENCL_C_VERSION */
    cl_ulong global_mem, local_mem, max_alloc;
    size_t max_wg;
    cl_uint compute_units;
    cl_uint mem_base_align_bits;
} lirf_device_info;

/* Every device of every platform. *out is malloc'ed (free() it). A machine with
 * no platform gives LIRF_E_NO_PLATFORM with a message that says what to install. */
lirf_status lirf_list_devices(lirf_device_info **out, size_t *count);
/* spec: NULL or "" -> default (first GPU, else first CPU, else first device);
 * "P:D" -> platform P, device D; otherwise a case-insensitive substring of the
 * device name (then of the platform name). */
lirf_status lirf_choose_device(const lirf_device_info *devs, size_t count, const char *spec,
                               size_t *index);

/* ---- context ------------------------------------------------------------ */
typedef struct lirf_ctx lirf_ctx;

typedef struct {
    uint64_t programs_built;    /* built from source in this context */
    uint64_t programs_cached;   /* loaded from the on-disk binary cache */
    uint64_t cache_rejected;    /* cache entries found corrupt and rebuilt */
    uint64_t kernel_launches;
    uint64_t gemm_calls;
    uint64_t allocations;       /* device buffers created (all, incl. scratch) */
    size_t bytes_in_use;        /* device bytes currently allocated */
    size_t bytes_peak;
} lirf_stats;

/* spec NULL -> $LIRF_DEVICE -> default. Logs (info) the device, driver and
 * OpenCL C version chosen. */
lirf_status lirf_ctx_create(lirf_ctx **out, const char *spec);
void lirf_ctx_destroy(lirf_ctx *ctx);
const lirf_device_info *lirf_ctx_device(const lirf_ctx *ctx);
cl_context lirf_ctx_context(const lirf_ctx *ctx);
cl_command_queue lirf_ctx_queue(const lirf_ctx *ctx);
const lirf_stats *lirf_ctx_stats(const lirf_ctx *ctx);
/* bytes_peak = bytes_in_use: the peak from here on (e.g. of steady steps). */
void lirf_ctx_reset_peak(lirf_ctx *ctx);
const char *lirf_ctx_cache_dir(const lirf_ctx *ctx); /* "" when caching is off */
lirf_status lirf_finish(lirf_ctx *ctx);

/* ---- buffers ------------------------------------------------------------ */
typedef struct {
    cl_mem mem;  /* NULL: no buffer ("absent" optional argument) */
    size_t off;  /* in 4-byte elements */
    size_t n;    /* in 4-byte elements */
} lirf_buf;

#define LIRF_NOBUF ((lirf_buf){NULL, 0, 0})

/* A new device buffer of n 4-byte elements (contents undefined). */
lirf_status lirf_buf_alloc(lirf_ctx *ctx, size_t n, lirf_buf *out);
/* Frees a buffer made by lirf_buf_alloc (whole, off 0); sets *b to LIRF_NOBUF. */
void lirf_buf_free(lirf_ctx *ctx, lirf_buf *b);
/* A view of n elements at element offset off inside b; LIRF_E_SHAPE if out of range. */
lirf_status lirf_buf_view(lirf_buf b, size_t off, size_t n, lirf_buf *out);
/* Blocking copies between host and device: n elements (4 bytes each). */
lirf_status lirf_buf_write(lirf_ctx *ctx, lirf_buf dst, const void *src, size_t n);
lirf_status lirf_buf_read(lirf_ctx *ctx, lirf_buf src, void *dst, size_t n);
/* Fill n = dst.n elements with a 4-byte pattern (float value). */
lirf_status lirf_buf_fill(lirf_ctx *ctx, lirf_buf dst, float value);
lirf_status lirf_buf_fill_int(lirf_ctx *ctx, lirf_buf dst, int32_t value);
lirf_status lirf_buf_copy(lirf_ctx *ctx, lirf_buf dst, lirf_buf src, size_t n);

/* Scratch: LIRF_SCRATCH_SLOTS reusable device buffers owned by the context.
 * lirf_scratch(ctx, slot, n, &b) returns a buffer of at least n elements; it
 * allocates only when the slot is smaller than n, so a repeated step allocates
 * nothing after its first iteration. Valid until the next call for the same
 * slot. Slot use: 0,1,2 for ops' temporaries (an op may use any of them while it
 * runs, never across calls); LIRF_SCRATCH_GEMM for CLBlast's temporary buffer,
 * LIRF_SCRATCH_PACK_A/B for the packed operands of lirf's own GEMM. */
#define LIRF_SCRATCH_SLOTS 7
#define LIRF_SCRATCH_GEMM 3
#define LIRF_SCRATCH_PACK_A 4 /* lirf's packed GEMM: op(A) in panels */
#define LIRF_SCRATCH_PACK_B 5 /* and op(B) */
#define LIRF_SCRATCH_CONV_W 6 /* a convolution's weights, packed once for its chunks */
lirf_status lirf_scratch(lirf_ctx *ctx, int slot, size_t n, lirf_buf *out);

/* Arena: bump allocation of views for the activations of a step. After
 * lirf_arena_reset the same sequence of requests (and releases) returns the
 * same views. A request that does not fit what the arena holds gets a buffer
 * of its own size, so a first pass holds no more device memory than it uses;
 * reset then lays the pass out again in one chunk of its high-water mark (in
 * chunks of the device's largest allocation when it is above that), so from
 * the second pass on nothing is allocated. lirf_arena_release(a, m) gives
 * back every view handed out since lirf_arena_mark(a) returned m, and frees
 * the buffers the pass made after m (a stack discipline: the backward pass
 * frees a block's temporaries); the queue is in order, so work already
 * enqueued on the released views runs before anything enqueued on their
 * reuse. */
typedef struct lirf_arena lirf_arena;
typedef struct { size_t cur, used, lin; } lirf_arena_pos;
lirf_status lirf_arena_create(lirf_ctx *ctx, size_t initial_elems, lirf_arena **out);
lirf_status lirf_arena_get(lirf_arena *a, size_t n, lirf_buf *out);
lirf_status lirf_arena_reset(lirf_arena *a);
lirf_arena_pos lirf_arena_mark(const lirf_arena *a);
lirf_status lirf_arena_release(lirf_arena *a, lirf_arena_pos m);
size_t lirf_arena_chunks(const lirf_arena *a);
/* Elements in use now, and at most since the last reset (each request rounded
 * up to 64). */
size_t lirf_arena_used(const lirf_arena *a);
size_t lirf_arena_high(const lirf_arena *a);
void lirf_arena_destroy(lirf_arena *a);

/* ---- programs and kernels ----------------------------------------------- */
/* Embedded sources (generated at build time from cl_kernels/<name>.cl). With
 * $LIRF_KERNEL_DIR set, <dir>/<name>.cl is read from disk instead. */
typedef struct { const char *name; const unsigned char *src; size_t len; } lirf_cl_source;
extern const lirf_cl_source lirf_cl_sources[];
extern const size_t lirf_cl_sources_count;

/* The kernel `kernel` of program `program` (file name without .cl). The program
 * is built once per context (or loaded from the binary cache); kernels are
 * cached. The returned kernel is owned by the context. */
lirf_status lirf_kernel_get(lirf_ctx *ctx, const char *program, const char *kernel, cl_kernel *out);

/* Set kernel arguments from a format string, one letter per item:
 *   'b' lirf_buf    -> two arguments (cl_mem, int element offset); a NULL mem
 *                      is rejected with LIRF_E_NULL
 *   'o' lirf_buf    -> like 'b' but a NULL mem is allowed (passed as a 1-element
 *                      dummy buffer; the kernel must not touch it)
 *   'i' int, 'u' unsigned, 'f' float (passed as double), 'L' size_t bytes of
 *   local memory.
 * The items must set every argument of the kernel, no more and no fewer
 * (checked against CL_KERNEL_NUM_ARGS: LIRF_E_INVALID naming the kernel). */
lirf_status lirf_set_args(lirf_ctx *ctx, cl_kernel k, const char *fmt, ...);

/* Enqueue `k` over `dim` dimensions. gws is rounded up to a multiple of lws
 * when lws is given (kernels bound-check). `label` names the op in errors and
 * profiles. */
lirf_status lirf_launch(lirf_ctx *ctx, cl_kernel k, const char *label, cl_uint dim,
                        const size_t *gws, const size_t *lws);
/* 1-D convenience: n work items, local size chosen by the implementation. */
lirf_status lirf_launch1(lirf_ctx *ctx, cl_kernel k, const char *label, size_t n);
/* Largest power-of-two work-group size <= cap that this kernel and device
 * allow (queried, never assumed). */
lirf_status lirf_kernel_wg(lirf_ctx *ctx, cl_kernel k, size_t cap, size_t *wg);

/* ---- GEMM (CLBlast) ------------------------------------------------------ */
/* Row-major C(M,N) = alpha * op(A) op(B) + beta * C, op(A) is (M,K).
 * Validates NULL buffers, zero sizes, leading dimensions and that each view is
 * large enough. Uses CLBlast with the runtime's scratch as its temp buffer. */
typedef enum { LIRF_NO_TRANS = 0, LIRF_TRANS = 1 } lirf_trans;
lirf_status lirf_gemm(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N, size_t K,
                      float alpha, lirf_buf A, size_t lda, lirf_buf B, size_t ldb, float beta,
                      lirf_buf C, size_t ldc);
/* batch GEMMs, matrix i at A.off + i*stride_a etc. (stride_a may be 0). */
lirf_status lirf_gemm_batched(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                              size_t K, float alpha, lirf_buf A, size_t lda, size_t stride_a,
                              lirf_buf B, size_t ldb, size_t stride_b, float beta, lirf_buf C,
                              size_t ldc, size_t stride_c, size_t batch);

/* Which code runs lirf_gemm (lirf_gemm_batched is always CLBlast):
 * LIRF_GEMM_PACKED, lirf's own kernels (cl_kernels/gemm.cl: both operands
 * packed into panels, a register-tiled kernel with one work-item per group;
 * made for PoCL's CPU devices), or LIRF_GEMM_CLBLAST. Chosen in lirf_ctx_create:
 * $LIRF_GEMM ("packed" or "clblast") if set, else packed on a PoCL CPU
 * device and CLBlast on any other (rusticl's llvmpipe runs the packed kernels
 * 20x slower than CLBlast); logged at info. */
typedef enum { LIRF_GEMM_CLBLAST = 0, LIRF_GEMM_PACKED = 1 } lirf_gemm_engine;
lirf_gemm_engine lirf_gemm_engine_get(const lirf_ctx *ctx);
/* 1 for a PoCL CPU device: the packed engine's default, and the only devices
 * whose programs are built with -DLIRF_POCL_CPU, which adds the taps kernels
 * (lirf_gemm_packed_taps3 and the convolution's taps path; Mesa's llvmpipe
 * took over 10 minutes and 6 GB compiling them). */
int lirf_device_pocl_cpu(const lirf_device_info *d);
lirf_status lirf_gemm_engine_set(lirf_ctx *ctx, lirf_gemm_engine engine);
const char *lirf_gemm_engine_name(lirf_gemm_engine engine); /* "clblast", "packed" */

/* The packed engine with op(B) (K,N) already in its packed form Bp, written
 * by a producer that knows the layout (the convolution's im2col writes it
 * directly): K is cut into slices of lirf_gemm_packed_slice(K) (the last one
 * shorter, kc long); with Np = lirf_gemm_packed_b_elems(N, 1) (N rounded up to
 * 32), element (k, n) of slice k0 = k - k % slice sits at
 *   k0 * Np + (n / 32) * kc * 32 + (k - k0) * 32 + n % 32.
 * Columns n >= N are never read into C (they may hold anything). Works on any
 * engine setting (it is the packed engine's kernel). */
size_t lirf_gemm_packed_slice(size_t K);
size_t lirf_gemm_packed_b_elems(size_t N, size_t K);
lirf_status lirf_gemm_prepacked_b(lirf_ctx *ctx, lirf_trans ta, size_t M, size_t N, size_t K,
                                  float alpha, lirf_buf A, size_t lda, lirf_buf Bp, float beta,
                                  lirf_buf C, size_t ldc);
/* op(A) (M,K) packed once by lirf_gemm_pack_a into Ap (lirf_gemm_packed_a_elems
 * elements; the layout is the engine's own), for several products that share
 * it (the weights of a convolution, chunk after chunk): with op(B) plain or
 * packed as above. */
size_t lirf_gemm_packed_a_elems(size_t M, size_t K);
lirf_status lirf_gemm_pack_a(lirf_ctx *ctx, lirf_trans ta, size_t M, size_t K, lirf_buf A,
                             size_t lda, lirf_buf Ap);
lirf_status lirf_gemm_prepacked_a(lirf_ctx *ctx, lirf_trans tb, size_t M, size_t N, size_t K,
                                  float alpha, lirf_buf Ap, lirf_buf B, size_t ldb, float beta,
                                  lirf_buf C, size_t ldc);
lirf_status lirf_gemm_prepacked_ab(lirf_ctx *ctx, size_t M, size_t N, size_t K, float alpha,
                                   lirf_buf Ap, lirf_buf Bp, float beta, lirf_buf C, size_t ldc);
/* The rows of a panel of packed A for M rows (12 or 8): Ap[mp][k][mr], row
 * mp * mr + i of op(A) at ((mp * K + k) * mr + i) for a K packed in one
 * slice (as lirf_gemm_packed_taps3 reads it). */
int lirf_gemm_packed_rows(size_t M);
/* C (M, N) = alpha * A B3 + beta * C for a stride-1 3x3 convolution without
 * its im2col. A (M, 9 * cin) is packed in one slice as above (k = c * 9 + r *
 * 3 + s; the caller packs it); B3 (9 * cin, N) is never written: its element
 * (c * 9 + r * 3 + s, n) is X[c * cs + n + r * wp + s], the taps of output
 * position n of zero-padded planes laid out flat with rows of wp floats.
 * Needs cs >= N rounded up to 32, + 2 * wp + 2 (what the last tile reads);
 * columns n whose window leaves a plane's valid part are computed all the
 * same (the caller drops them). PoCL CPU devices only (LIRF_E_INVALID elsewhere). */
lirf_status lirf_gemm_packed_taps3(lirf_ctx *ctx, size_t M, size_t N, size_t cin, float alpha,
                                   lirf_buf Ap, lirf_buf X, size_t cs, size_t wp, float beta,
                                   lirf_buf C, size_t ldc);

/* ---- profiling ----------------------------------------------------------
 * With LIRF_PROFILE=1 every launch and GEMM is timed with OpenCL events and
 * charged to its label (labels must be string literals). */
int lirf_profiling(const lirf_ctx *ctx);
/* Prints a table (label, calls, total ms, share) of everything since the
 * last reset, sorted by time; waits for the queue first. */
lirf_status lirf_profile_report(lirf_ctx *ctx, FILE *out);
void lirf_profile_reset(lirf_ctx *ctx);

/* ---- small helpers ------------------------------------------------------- */
/* SHA-256 (libsodium) as 64 lowercase hex chars + NUL. */
void lirf_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- GEMM tuning (CLBlast parameters; runtime/tune.c) ----------------------
 * lirf keeps one CLBlast Xgemm parameter set per transpose class of lirf_gemm
 * and applies it before each call of that class. With parameters in use,
 * lirf_gemm asks CLBlast for the column-major product C^T = op(B)^T op(A)^T
 * (the same numbers, fewer internal copies). Sources, first found: the file
 * lirf_gemm_tuning_file() written by `lirf tune` ("file"), a table shipped for
 * the devices it was measured on ("shipped"), else CLBlast's defaults
 * ("default"); LIRF_GEMM_TUNING=off gives "off" (CLBlast's defaults, the call
 * lirf made before tuning). Chosen in lirf_ctx_create and logged at info. */
#define LIRF_GEMM_CLASSES 4     /* index ta * 2 + tb: NN, NT, TN, TT */
#define LIRF_XGEMM_NPARAMS 16
extern const char *const lirf_xgemm_param_names[LIRF_XGEMM_NPARAMS]; /* GEMMK ... VWN */
extern const char *const lirf_gemm_class_names[LIRF_GEMM_CLASSES];   /* "NN" ... "TT" */
typedef struct {
    int set;                          /* 1 when xgemm holds parameters */
    size_t xgemm[LIRF_XGEMM_NPARAMS]; /* in lirf_xgemm_param_names order */
} lirf_gemm_class_params;
typedef struct {
    lirf_gemm_class_params cls[LIRF_GEMM_CLASSES];
    size_t min_indirect; /* CLBlast XGEMM_MIN_INDIRECT_SIZE; 0 = CLBlast's own */
} lirf_gemm_tuning;

/* Picks and applies the parameters as above; lirf_ctx_create calls it. */
lirf_status lirf_gemm_tuning_init(lirf_ctx *ctx);
/* "file", "shipped", "default", "off", or "set" (lirf_gemm_tuning_use). */
const char *lirf_gemm_tuning_source(const lirf_ctx *ctx);
/* 1 and *out (may be NULL) when parameters are in use for ctx's device. */
int lirf_gemm_tuning_current(const lirf_ctx *ctx, lirf_gemm_tuning *out);
/* Use t (every class set and valid, else LIRF_E_INVALID) from now on for
 * ctx's device (CLBlast is told at the next lirf_gemm); t NULL goes back to the
 * plain call ("off" if source is "off", else "default"). Once a GEMM has run
 * with lirf's parameters, CLBlast's own cannot be restored in that process
 * (its C API cannot read them): the plain call then stays correct, with the
 * parameters applied last. State is per device: every context on the device
 * sees the last lirf_gemm_tuning_init / lirf_gemm_tuning_use. */
lirf_status lirf_gemm_tuning_use(lirf_ctx *ctx, const lirf_gemm_tuning *t, const char *source);
/* LIRF_OK if the 16 Xgemm values are in range and meet the kernel's
 * constraints (dev may be NULL: no device limits); else LIRF_E_INVALID with
 * the reason in why (no error recorded). */
lirf_status lirf_gemm_params_check(const size_t *xgemm, const lirf_device_info *dev, char *why,
                                   size_t cap);
/* The shipped parameters for dev: 1 and *out (may be NULL) if there are any. */
int lirf_gemm_tuning_shipped(const lirf_device_info *dev, lirf_gemm_tuning *out);
/* <cache_dir>/gemm-tuning-<hash of platform, device, version, driver>.json */
lirf_status lirf_gemm_tuning_file(const char *cache_dir, const lirf_device_info *dev, char *path,
                                  size_t cap);
/* Reads and validates a tuning file for dev: LIRF_E_NOT_FOUND if absent,
 * LIRF_E_FORMAT for bad JSON, another device, unknown keys, classes, kernels
 * or parameters, missing or invalid values. TT defaults to NN. */
lirf_status lirf_gemm_tuning_load(const char *path, const lirf_device_info *dev,
                                  lirf_gemm_tuning *out);
/* Writes t (validated) atomically; measured_json, if not NULL, is stored under
 * "measured" (informational, ignored when read). */
lirf_status lirf_gemm_tuning_save(const char *path, const lirf_device_info *dev,
                                  const lirf_gemm_tuning *t, const char *measured_json);

#endif
