/* lirf devices: every platform and device, and which one would be chosen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_error(lirf_status st, const char *what) {
    fprintf(stderr, "lirf: %s: %s: %s\n", what, lirf_status_name(st), lirf_error_message());
    return 2;
}

int cli_open(const char *device, lirf_ctx **ctx) {
    lirf_status st = lirf_ctx_create(ctx, device);
    if (st != LIRF_OK) return cli_error(st, "cannot open an OpenCL device");
    return 0;
}

static const char *type_name(cl_device_type t) {
    if (t & CL_DEVICE_TYPE_GPU) return "GPU";
    if (t & CL_DEVICE_TYPE_CPU) return "CPU";
    if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
    return "other";
}

int cmd_devices(const char *device, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: lirf [--device SPEC] devices\n\n"
                   "Lists every OpenCL platform and device with the facts that matter to lirf,\n"
                   "and marks with '*' the one lirf would use (--device, else $LIRF_DEVICE, else\n"
                   "the first GPU, else the first CPU).\n");
            return 0;
        }
        fprintf(stderr, "lirf devices: unknown option %s\n", argv[i]);
        return 2;
    }
    lirf_device_info *devs;
    size_t n, chosen = (size_t)-1;
    lirf_status st = lirf_list_devices(&devs, &n);
    if (st != LIRF_OK) return cli_error(st, "devices");
    const char *env = lirf_options_get()->device;
    const char *spec = device ? device : *env ? env : NULL;
    lirf_status cst = lirf_choose_device(devs, n, spec, &chosen);
    unsigned last_platform = (unsigned)-1;
    for (size_t i = 0; i < n; i++) {
        const lirf_device_info *d = &devs[i];
        if (d->platform_index != last_platform) {
            printf("platform %u: %s (%s)\n", d->platform_index, d->platform_name,
                   d->platform_version);
            last_platform = d->platform_index;
        }
        printf("  %c %u:%u  %s  [%s]\n", i == chosen && cst == LIRF_OK ? '*' : ' ',
               d->platform_index, d->device_index, d->name, type_name(d->type));
        printf("        driver %s, %s, %s\n", d->driver, d->version, d->c_version);
        printf("        global memory %.1f GiB (largest allocation %.1f GiB), local memory %llu "
               "KiB, max work-group %zu, %u compute units\n",
               d->global_mem / 1073741824.0, d->max_alloc / 1073741824.0,
               (unsigned long long)(d->local_mem / 1024), d->max_wg, d->compute_units);
    }
    if (cst != LIRF_OK) {
        free(devs);
        return cli_error(cst, "choosing a device");
    }
    printf("lirf would use %u:%u %s%s\n", devs[chosen].platform_index, devs[chosen].device_index,
           devs[chosen].name,
           spec && *spec ? (device ? " (--device)" : " (LIRF_DEVICE)") : " (default)");
    free(devs);
    return 0;
}
