/* Status codes, error messages, OpenCL / CLBlast error names, logging. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "lirf_runtime.h"

static _Thread_local char g_msg[2048];

const char *lirf_status_name(lirf_status st) {
    static const char *names[LIRF_STATUS_COUNT] = {
        "LIRF_OK",           "LIRF_E_INVALID", "LIRF_E_NULL",       "LIRF_E_SHAPE",
        "LIRF_E_NO_PLATFORM", "LIRF_E_NO_DEVICE", "LIRF_E_OPENCL",   "LIRF_E_BUILD",
        "LIRF_E_BLAS",       "LIRF_E_NOMEM",   "LIRF_E_DEVICE_MEM", "LIRF_E_IO",
        "LIRF_E_FORMAT",     "LIRF_E_NOT_FOUND", "LIRF_E_NUMERIC",  "LIRF_E_UNSUPPORTED",
    };
    if ((int)st < 0 || st >= LIRF_STATUS_COUNT) return "LIRF_E_UNKNOWN";
    return names[st];
}

lirf_status lirf_fail(lirf_status st, const char *file, int line, const char *fmt, ...) {
    const char *base = strrchr(file, '/');
    base = base ? base + 1 : file;
    int k = snprintf(g_msg, sizeof g_msg, "%s:%d: ", base, line);
    if (k < 0 || (size_t)k >= sizeof g_msg) k = 0;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg + k, sizeof g_msg - (size_t)k, fmt, ap);
    va_end(ap);
    lirf_log(LIRF_LOG_DEBUG, "error %s: %s", lirf_status_name(st), g_msg);
    return st;
}

lirf_status lirf_error_context(lirf_status st, const char *fmt, ...) {
    if (st == LIRF_OK) return st;
    char pre[512], old[sizeof g_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, g_msg, sizeof old);
    size_t k = strlen(pre);
    if (k > sizeof g_msg - 3) k = sizeof g_msg - 3;
    memcpy(g_msg, pre, k);
    memcpy(g_msg + k, ": ", 2);
    size_t room = sizeof g_msg - k - 3, n = strnlen(old, sizeof old);
    if (n > room) n = room;
    memcpy(g_msg + k + 2, old, n);
    g_msg[k + 2 + n] = 0;
    return st;
}

const char *lirf_error_message(void) { return g_msg; }
void lirf_clear_error(void) { g_msg[0] = 0; }

#define CASE(x) \
    case x:     \
        return #x
const char *lirf_cl_error_name(cl_int err) {
    switch (err) {
        CASE(CL_SUCCESS);
        CASE(CL_DEVICE_NOT_FOUND);
        CASE(CL_DEVICE_NOT_AVAILABLE);
        CASE(CL_COMPILER_NOT_AVAILABLE);
        CASE(CL_MEM_OBJECT_ALLOCATION_FAILURE);
        CASE(CL_OUT_OF_RESOURCES);
        CASE(CL_OUT_OF_HOST_MEMORY);
        CASE(CL_PROFILING_INFO_NOT_AVAILABLE);
        CASE(CL_MEM_COPY_OVERLAP);
        CASE(CL_IMAGE_FORMAT_MISMATCH);
        CASE(CL_IMAGE_FORMAT_NOT_SUPPORTED);
        CASE(CL_BUILD_PROGRAM_FAILURE);
        CASE(CL_MAP_FAILURE);
        CASE(CL_MISALIGNED_SUB_BUFFER_OFFSET);
        CASE(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST);
        CASE(CL_COMPILE_PROGRAM_FAILURE);
        CASE(CL_LINKER_NOT_AVAILABLE);
        CASE(CL_LINK_PROGRAM_FAILURE);
        CASE(CL_DEVICE_PARTITION_FAILED);
        CASE(CL_KERNEL_ARG_INFO_NOT_AVAILABLE);
        CASE(CL_INVALID_VALUE);
        CASE(CL_INVALID_DEVICE_TYPE);
        CASE(CL_INVALID_PLATFORM);
        CASE(CL_INVALID_DEVICE);
        CASE(CL_INVALID_CONTEXT);
        CASE(CL_INVALID_QUEUE_PROPERTIES);
        CASE(CL_INVALID_COMMAND_QUEUE);
        CASE(CL_INVALID_HOST_PTR);
        CASE(CL_INVALID_MEM_OBJECT);
        CASE(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR);
        CASE(CL_INVALID_IMAGE_SIZE);
        CASE(CL_INVALID_SAMPLER);
        CASE(CL_INVALID_BINARY);
        CASE(CL_INVALID_BUILD_OPTIONS);
        CASE(CL_INVALID_PROGRAM);
        CASE(CL_INVALID_PROGRAM_EXECUTABLE);
        CASE(CL_INVALID_KERNEL_NAME);
        CASE(CL_INVALID_KERNEL_DEFINITION);
        CASE(CL_INVALID_KERNEL);
        CASE(CL_INVALID_ARG_INDEX);
        CASE(CL_INVALID_ARG_VALUE);
        CASE(CL_INVALID_ARG_SIZE);
        CASE(CL_INVALID_KERNEL_ARGS);
        CASE(CL_INVALID_WORK_DIMENSION);
        CASE(CL_INVALID_WORK_GROUP_SIZE);
        CASE(CL_INVALID_WORK_ITEM_SIZE);
        CASE(CL_INVALID_GLOBAL_OFFSET);
        CASE(CL_INVALID_EVENT_WAIT_LIST);
        CASE(CL_INVALID_EVENT);
        CASE(CL_INVALID_OPERATION);
        CASE(CL_INVALID_GL_OBJECT);
        CASE(CL_INVALID_BUFFER_SIZE);
        CASE(CL_INVALID_MIP_LEVEL);
        CASE(CL_INVALID_GLOBAL_WORK_SIZE);
        CASE(CL_INVALID_PROPERTY);
        CASE(CL_INVALID_IMAGE_DESCRIPTOR);
        CASE(CL_INVALID_COMPILER_OPTIONS);
        CASE(CL_INVALID_LINKER_OPTIONS);
        CASE(CL_INVALID_DEVICE_PARTITION_COUNT);
    case -1001:
        return "CL_PLATFORM_NOT_FOUND_KHR";
    default:
        return "CL_UNKNOWN_ERROR";
    }
}

const char *lirf_clblast_status_name(int status) {
    switch (status) {
    case 0: return "CLBlastSuccess";
    case -3: return "CLBlastOpenCLCompilerNotAvailable";
    case -4: return "CLBlastTempBufferAllocFailure";
    case -5: return "CLBlastOpenCLOutOfResources";
    case -6: return "CLBlastOpenCLOutOfHostMemory";
    case -11: return "CLBlastOpenCLBuildProgramFailure";
    case -30: return "CLBlastInvalidValue";
    case -36: return "CLBlastInvalidCommandQueue";
    case -38: return "CLBlastInvalidMemObject";
    case -42: return "CLBlastInvalidBinary";
    case -43: return "CLBlastInvalidBuildOptions";
    case -44: return "CLBlastInvalidProgram";
    case -45: return "CLBlastInvalidProgramExecutable";
    case -46: return "CLBlastInvalidKernelName";
    case -47: return "CLBlastInvalidKernelDefinition";
    case -48: return "CLBlastInvalidKernel";
    case -49: return "CLBlastInvalidArgIndex";
    case -50: return "CLBlastInvalidArgValue";
    case -51: return "CLBlastInvalidArgSize";
    case -52: return "CLBlastInvalidKernelArgs";
    case -53: return "CLBlastInvalidLocalNumDimensions";
    case -54: return "CLBlastInvalidLocalThreadsTotal";
    case -55: return "CLBlastInvalidLocalThreadsDim";
    case -56: return "CLBlastInvalidGlobalOffset";
    case -57: return "CLBlastInvalidEventWaitList";
    case -58: return "CLBlastInvalidEvent";
    case -59: return "CLBlastInvalidOperation";
    case -61: return "CLBlastInvalidBufferSize";
    case -63: return "CLBlastInvalidGlobalWorkSize";
    case -1024: return "CLBlastNotImplemented";
    case -1022: return "CLBlastInvalidMatrixA";
    case -1021: return "CLBlastInvalidMatrixB";
    case -1020: return "CLBlastInvalidMatrixC";
    case -1019: return "CLBlastInvalidVectorX";
    case -1018: return "CLBlastInvalidVectorY";
    case -1017: return "CLBlastInvalidDimension";
    case -1016: return "CLBlastInvalidLeadDimA";
    case -1015: return "CLBlastInvalidLeadDimB";
    case -1014: return "CLBlastInvalidLeadDimC";
    case -1013: return "CLBlastInvalidIncrementX";
    case -1012: return "CLBlastInvalidIncrementY";
    case -1011: return "CLBlastInsufficientMemoryA";
    case -1010: return "CLBlastInsufficientMemoryB";
    case -1009: return "CLBlastInsufficientMemoryC";
    case -1008: return "CLBlastInsufficientMemoryX";
    case -1007: return "CLBlastInsufficientMemoryY";
    case -2050: return "CLBlastInsufficientMemoryTemp";
    case -2049: return "CLBlastInvalidBatchCount";
    case -2048: return "CLBlastInvalidOverrideKernel";
    case -2047: return "CLBlastMissingOverrideParameter";
    case -2046: return "CLBlastInvalidLocalMemUsage";
    case -2045: return "CLBlastNoHalfPrecision";
    case -2044: return "CLBlastNoDoublePrecision";
    case -2043: return "CLBlastInvalidVectorScalar";
    case -2042: return "CLBlastInsufficientMemoryScalar";
    case -2041: return "CLBlastDatabaseError";
    case -2040: return "CLBlastUnknownError";
    case -2039: return "CLBlastUnexpectedError";
    default: return "CLBlastUnknownStatus";
    }
}

lirf_status lirf_cl_fail(cl_int err, const char *what, const char *file, int line) {
    lirf_status st = LIRF_E_OPENCL;
    if (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
        err == CL_INVALID_BUFFER_SIZE)
        st = LIRF_E_DEVICE_MEM;
    else if (err == CL_OUT_OF_HOST_MEMORY)
        st = LIRF_E_NOMEM;
    return lirf_fail(st, file, line, "%s failed: %s (%d)", what, lirf_cl_error_name(err), err);
}

/* ---- logging ---- */
static int g_level = -1;

lirf_log_level lirf_log_get_level(void) {
    if (g_level < 0) g_level = lirf_options_get()->log_level;
    return (lirf_log_level)g_level;
}

void lirf_log_set_level(lirf_log_level level) { g_level = (int)level; }

void lirf_log(lirf_log_level level, const char *fmt, ...) {
    if (level == LIRF_LOG_QUIET || level > lirf_log_get_level()) return;
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "lirf: %s\n", line);
}

void lirf_sha256_hex(const void *data, size_t len, char out[65]) {
    unsigned char h[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(h, data, len);
    sodium_bin2hex(out, 65, h, sizeof h);
}
