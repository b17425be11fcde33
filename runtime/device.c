/* Device discovery and choice. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lirf_runtime.h"

#define NO_PLATFORM_HINT                                                                    \
    "no OpenCL platform found. Install an OpenCL driver: on Debian/Ubuntu "                 \
    "`apt-get install ocl-icd-libopencl1 pocl-opencl-icd` for the CPU (PoCL), or your GPU " \
    "vendor's OpenCL ICD (e.g. nvidia-opencl-icd, mesa-opencl-icd, intel-opencl-icd); "      \
    "check with `clinfo -l`"

static void get_str(cl_device_id d, cl_device_info what, char *buf, size_t n) {
    buf[0] = 0;
    if (clGetDeviceInfo(d, what, n, buf, NULL) != CL_SUCCESS) snprintf(buf, n, "?");
    buf[n - 1] = 0;
}

static int g_opencl_used;
int lirf_opencl_used(void) { return g_opencl_used; }

lirf_status lirf_list_devices(lirf_device_info **out, size_t *count) {
    if (!out || !count) return LIRF_FAIL(LIRF_E_NULL, "lirf_list_devices: NULL output");
    g_opencl_used = 1;
    *out = NULL;
    *count = 0;
    cl_uint np = 0;
    cl_int err = clGetPlatformIDs(0, NULL, &np);
    if (err == -1001 /* CL_PLATFORM_NOT_FOUND_KHR */ || (err == CL_SUCCESS && np == 0))
        return LIRF_FAIL(LIRF_E_NO_PLATFORM, NO_PLATFORM_HINT);
    LIRF_CHECK_CL(err, "clGetPlatformIDs");
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    err = clGetPlatformIDs(np, plats, NULL);
    if (err != CL_SUCCESS) {
        free(plats);
        return lirf_cl_fail(err, "clGetPlatformIDs", __FILE__, __LINE__);
    }
    size_t cap = 8, n = 0;
    lirf_device_info *devs = calloc(cap, sizeof *devs);
    if (!devs) {
        free(plats);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        err = clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd);
        if (err == CL_DEVICE_NOT_FOUND || nd == 0) continue; /* e.g. rusticl with nothing enabled */
        if (err != CL_SUCCESS) continue;
        cl_device_id *ids = calloc(nd, sizeof *ids);
        if (!ids) break;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, ids, NULL) != CL_SUCCESS) {
            free(ids);
            continue;
        }
        char pname[128] = "?", pver[128] = "?";
        clGetPlatformInfo(plats[p], CL_PLATFORM_NAME, sizeof pname, pname, NULL);
        clGetPlatformInfo(plats[p], CL_PLATFORM_VERSION, sizeof pver, pver, NULL);
        pname[sizeof pname - 1] = pver[sizeof pver - 1] = 0;
        for (cl_uint d = 0; d < nd; d++) {
            if (n == cap) {
                lirf_device_info *nn = realloc(devs, 2 * cap * sizeof *devs);
                if (!nn) break;
                devs = nn;
                cap *= 2;
            }
            lirf_device_info *di = &devs[n++];
            memset(di, 0, sizeof *di);
            di->platform_index = p;
            di->device_index = d;
            di->platform = plats[p];
            di->device = ids[d];
            memcpy(di->platform_name, pname, sizeof pname);
            memcpy(di->platform_version, pver, sizeof pver);
            get_str(ids[d], CL_DEVICE_NAME, di->name, sizeof di->name);
            get_str(ids[d], CL_DEVICE_VENDOR, di->vendor, sizeof di->vendor);
            get_str(ids[d], CL_DEVICE_VERSION, di->version, sizeof di->version);
            get_str(ids[d], CL_DRIVER_VERSION, di->driver, sizeof di->driver);
            get_str(ids[d], CL_DEVICE_OPENCL_C_VERSION, di->c_version, sizeof di->c_version);
            clGetDeviceInfo(ids[d], CL_DEVICE_TYPE, sizeof di->type, &di->type, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_GLOBAL_MEM_SIZE, sizeof di->global_mem,
                            &di->global_mem, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_LOCAL_MEM_SIZE, sizeof di->local_mem,
                            &di->local_mem, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof di->max_alloc,
                            &di->max_alloc, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof di->max_wg,
                            &di->max_wg, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_MAX_COMPUTE_UNITS, sizeof di->compute_units,
                            &di->compute_units, NULL);
            clGetDeviceInfo(ids[d], CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                            sizeof di->mem_base_align_bits, &di->mem_base_align_bits, NULL);
        }
        free(ids);
    }
    free(plats);
    if (n == 0) {
        free(devs);
        return LIRF_FAIL(LIRF_E_NO_DEVICE,
                         "OpenCL platforms are installed but none has a device. For Mesa's "
                         "rusticl set RUSTICL_ENABLE=llvmpipe; for the CPU install "
                         "pocl-opencl-icd");
    }
    *out = devs;
    *count = n;
    return LIRF_OK;
}

static int contains_ci(const char *hay, const char *needle) {
    size_t nl = strlen(needle);
    for (const char *h = hay; *h; h++) {
        size_t i = 0;
        while (i < nl && h[i] && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
            i++;
        if (i == nl) return 1;
    }
    return nl == 0;
}

lirf_status lirf_choose_device(const lirf_device_info *devs, size_t count, const char *spec,
                               size_t *index) {
    if (!devs || !index) return LIRF_FAIL(LIRF_E_NULL, "lirf_choose_device: NULL argument");
    if (count == 0) return LIRF_FAIL(LIRF_E_NO_DEVICE, "no OpenCL device");
    if (!spec || !*spec) {
        for (size_t i = 0; i < count; i++)
            if (devs[i].type & CL_DEVICE_TYPE_GPU) return *index = i, LIRF_OK;
        for (size_t i = 0; i < count; i++)
            if (devs[i].type & CL_DEVICE_TYPE_CPU) return *index = i, LIRF_OK;
        *index = 0;
        return LIRF_OK;
    }
    unsigned p, d;
    char tail;
    if (sscanf(spec, "%u:%u%c", &p, &d, &tail) == 2) {
        for (size_t i = 0; i < count; i++)
            if (devs[i].platform_index == p && devs[i].device_index == d)
                return *index = i, LIRF_OK;
        return LIRF_FAIL(LIRF_E_NO_DEVICE,
                         "no OpenCL device %u:%u (platform:device); `lirf devices` lists them",
                         p, d);
    }
    for (size_t i = 0; i < count; i++)
        if (contains_ci(devs[i].name, spec)) return *index = i, LIRF_OK;
    for (size_t i = 0; i < count; i++)
        if (contains_ci(devs[i].platform_name, spec)) return *index = i, LIRF_OK;
    return LIRF_FAIL(LIRF_E_NO_DEVICE,
                     "no OpenCL device matches \"%s\" (give P:D or part of a device or platform "
                     "name; `lirf devices` lists them)",
                     spec);
}
