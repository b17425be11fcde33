/* lirf devices: every platform and device, and which one would be chosen. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileutil.h"

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

static void usage(void) {
    printf("usage: lirf [--device SPEC] devices [--json]\n\n"
           "Lists every OpenCL platform and device with the facts that matter to lirf,\n"
           "and marks with '*' the one lirf would use (--device, else $LIRF_DEVICE, else\n"
           "the first GPU, else the first CPU).\n"
           "\n"
           "  --json    print the list and the choice as one JSON document on stdout\n"
           "            (docs/json.md)\n");
}

static json_t *device_json(const lirf_device_info *d, int chosen) {
    json_t *j = json_object();
    json_object_set_new(j, "platform_index", json_integer(d->platform_index));
    json_object_set_new(j, "device_index", json_integer(d->device_index));
    json_object_set_new(j, "platform", lirf_json_text(d->platform_name));
    json_object_set_new(j, "platform_version", lirf_json_text(d->platform_version));
    json_object_set_new(j, "name", lirf_json_text(d->name));
    json_object_set_new(j, "vendor", lirf_json_text(d->vendor));
    json_object_set_new(j, "type", json_string(type_name(d->type)));
    json_object_set_new(j, "version", lirf_json_text(d->version));
    json_object_set_new(j, "driver", lirf_json_text(d->driver));
    json_object_set_new(j, "opencl_c", lirf_json_text(d->c_version));
    json_object_set_new(j, "global_mem_bytes", json_integer((json_int_t)d->global_mem));
    json_object_set_new(j, "max_alloc_bytes", json_integer((json_int_t)d->max_alloc));
    json_object_set_new(j, "local_mem_bytes", json_integer((json_int_t)d->local_mem));
    json_object_set_new(j, "max_work_group", json_integer((json_int_t)d->max_wg));
    json_object_set_new(j, "compute_units", json_integer(d->compute_units));
    json_object_set_new(j, "chosen", json_boolean(chosen));
    return j;
}

/* {"devices": [...], "chosen": {"platform_index", "device_index", "name", "by"} or null} */
static json_t *devices_json(const lirf_device_info *devs, size_t n, size_t chosen, const char *by) {
    json_t *j = json_object(), *list = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(list, device_json(&devs[i], i == chosen));
    json_object_set_new(j, "devices", list);
    json_t *c = json_null();
    if (chosen < n)
        c = json_pack("{s:i,s:i,s:o,s:s}", "platform_index", (int)devs[chosen].platform_index,
                      "device_index", (int)devs[chosen].device_index, "name",
                      lirf_json_text(devs[chosen].name), "by", by);
    json_object_set_new(j, "chosen", c);
    return j;
}

static void print_text(const lirf_device_info *devs, size_t n, size_t chosen) {
    unsigned last_platform = (unsigned)-1;
    for (size_t i = 0; i < n; i++) {
        const lirf_device_info *d = &devs[i];
        if (d->platform_index != last_platform) {
            printf("platform %u: %s (%s)\n", d->platform_index, d->platform_name,
                   d->platform_version);
            last_platform = d->platform_index;
        }
        printf("  %c %u:%u  %s  [%s]\n", i == chosen ? '*' : ' ', d->platform_index,
               d->device_index, d->name, type_name(d->type));
        printf("        driver %s, %s, %s\n", d->driver, d->version, d->c_version);
        printf("        global memory %.1f GiB (largest allocation %.1f GiB), local memory %llu "
               "KiB, max work-group %zu, %u compute units\n",
               d->global_mem / 1073741824.0, d->max_alloc / 1073741824.0,
               (unsigned long long)(d->local_mem / 1024), d->max_wg, d->compute_units);
    }
}

int cmd_devices(const char *device, int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(), 0;
        if (arg_flag(argv, i, "--json")) json = 1;
        else return unknown_option("devices", argv[i]), 2;
    }
    lirf_device_info *devs;
    size_t n, chosen = (size_t)-1;
    lirf_status st = lirf_list_devices(&devs, &n);
    if (st != LIRF_OK) return cli_error(st, "devices");
    const char *env = lirf_options_get()->device;
    const char *spec = device ? device : *env ? env : NULL;
    lirf_status cst = lirf_choose_device(devs, n, spec, &chosen);
    if (cst != LIRF_OK) chosen = (size_t)-1;
    const char *by = spec && *spec ? (device ? "--device" : "LIRF_DEVICE") : "default";
    int rc = 0;
    if (json) rc = print_json(devices_json(devs, n, chosen, by));
    else print_text(devs, n, chosen);
    if (cst != LIRF_OK) rc = cli_error(cst, "choosing a device");
    else if (!json)
        printf("lirf would use %u:%u %s (%s)\n", devs[chosen].platform_index,
               devs[chosen].device_index, devs[chosen].name, by);
    free(devs);
    return rc;
}
