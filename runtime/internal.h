/* Private to runtime/. */
#ifndef LIRF_RUNTIME_INTERNAL_H
#define LIRF_RUNTIME_INTERNAL_H

#include "lirf_runtime.h"

typedef struct {
    char *program; /* program name */
    cl_program prog;
} lirf_prog_entry;

typedef struct {
    char *program, *kernel;
    cl_kernel k;
    int traced; /* written to $LIRF_KERNEL_TRACE already */
} lirf_kernel_entry;

struct lirf_ctx {
    lirf_device_info dev;
    cl_context context;
    cl_command_queue queue;
    lirf_stats stats;
    char cache_dir[1024]; /* "" = no cache */
    lirf_prog_entry *progs;
    size_t nprogs, cap_progs;
    lirf_kernel_entry *kernels;
    size_t nkernels, cap_kernels;
    lirf_buf scratch[LIRF_SCRATCH_SLOTS];
    lirf_gemm_engine gemm_engine;
    cl_mem dummy; /* 1-element buffer for absent optional arguments */
    /* profiling ($LIRF_PROFILE): events not yet read, and totals per label */
    int profiling;
    struct { cl_event ev; const char *label; } *pending;
    size_t npending, cap_pending;
    struct { const char *label; double ms; uint64_t count; } prof[128];
    size_t nprof;
};

/* Takes ownership of ev (profiling on) and charges its time to label. */
void lirf_profile_event(lirf_ctx *ctx, cl_event ev, const char *label);
void lirf_profile_add(lirf_ctx *ctx, const char *label, double ms);

lirf_status lirf_mem_create(lirf_ctx *ctx, size_t bytes, cl_mem *out);
void lirf_mem_release(lirf_ctx *ctx, cl_mem m);
void lirf_programs_release(lirf_ctx *ctx);

/* gemm_packed.c: the engine from $LIRF_GEMM or the device type (never fails;
 * an unknown value is warned about and ignored), and lirf_gemm on it
 * (arguments already checked). */
void lirf_gemm_engine_init(lirf_ctx *ctx);
lirf_status lirf_gemm_packed(lirf_ctx *ctx, lirf_trans ta, lirf_trans tb, size_t M, size_t N,
                             size_t K, float alpha, lirf_buf A, size_t lda, lirf_buf B, size_t ldb,
                             float beta, lirf_buf C, size_t ldc);

/* device.c: 1 once this process has called OpenCL (lirf_list_devices, which
 * every context opens with); the tuner forks and refuses to run after that. */
int lirf_opencl_used(void);

/* tune.c: lirf_gemm_tuning_save with "measured" as a JSON value (NULL: none;
 * the caller keeps its reference). */
struct json_t;
lirf_status lirf_gemm_tuning_save_json(const char *path, const lirf_device_info *dev,
                                       const lirf_gemm_tuning *t, struct json_t *measured);

#endif
