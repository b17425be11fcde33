/* lirf tune: the GEMM tuner (runtime/tuner.c, lirf_tune.h) from the command
 * line: options, the call, its report and an optional JSON summary. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "fileutil.h"
#include "lirf_tune.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: lirf [--device SPEC] tune [--budget SECONDS] [--quick] [--output FILE]\n"
            "                                 [--dry-run] [--json] [--help]\n"
            "\n"
            "Measures CLBlast GEMM parameter sets on this OpenCL device with the GEMM shapes\n"
            "of lirf's convolutions (ResNet-18 im2col: NN forward, NT weight gradient, TN\n"
            "input gradient; 5 shapes per class) and writes the fastest set per class to\n"
            "the tuning file that every later lirf run on this device and driver reads\n"
            "(<cache dir>/gemm-tuning-<key>.json; the cache dir is $LIRF_CACHE_DIR, else\n"
            "$XDG_CACHE_HOME/lirf, else ~/.cache/lirf). Each parameter set runs in a child\n"
            "process; results are checked against double-precision dot products and a\n"
            "set that computes wrongly, fails, crashes or hangs is dropped. The first use\n"
            "of a parameter set compiles CLBlast's kernels (seconds to a minute on a CPU\n"
            "device), which dominates the time.\n"
            "\n"
            "  --budget S    stop starting new measurements after about S seconds\n"
            "                (default 300); one already started finishes (seconds, up to\n"
            "                a minute when it compiles). With PoCL's kernel cache warm\n"
            "                the whole list takes about 3 minutes on 2 CPU cores\n"
            "  --quick       2 shapes per class and 2 timed calls per shape\n"
            "  --output FILE write FILE instead of the cache file\n"
            "  --dry-run     measure and print; write nothing\n"
            "  --json        print a JSON summary of the result on stdout (the progress\n"
            "                goes to stderr)\n"
            "\n"
            "Exit status: 0 written (or measured, with --dry-run), 1 nothing written (no\n"
            "working parameters for a class within the budget, or the winners failed the\n"
            "final check), 2 error.\n"
            "\n"
            "LIRF_GEMM_TUNING=off makes lirf ignore the file (CLBlast's defaults), for\n"
            "comparisons. Without a file lirf uses parameters shipped for the devices they\n"
            "were measured on, else CLBlast's defaults.\n");
}

/* 0: run; -1: done (help); 2: usage error. */
static int parse(int argc, char **argv, lirf_tune_opts *o, int *json) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return -1;
        } else if (!strcmp(a, "--quick")) {
            o->quick = 1;
        } else if (!strcmp(a, "--dry-run")) {
            o->dry_run = 1;
        } else if (!strcmp(a, "--json")) {
            *json = 1;
        } else if (!strcmp(a, "--budget")) {
            char *end;
            double b = v ? strtod(v, &end) : 0;
            if (!v || *end || !(b >= 1 && b <= 86400)) {
                fprintf(stderr, "lirf tune: --budget needs a number of seconds in [1, 86400]\n");
                return 2;
            }
            o->budget_s = b, i++;
        } else if (!strcmp(a, "--output")) {
            if (!v) {
                fprintf(stderr, "lirf tune: --output needs a file name\n");
                return 2;
            }
            o->output = v, i++;
        } else {
            fprintf(stderr, "lirf tune: unknown option %s (see lirf tune --help)\n", a);
            return 2;
        }
    }
    return 0;
}

/* The tuner's report as it comes; with --json all of it on stderr. */
static void show(void *user, lirf_tune_stream stream, const char *text) {
    int json = *(const int *)user;
    FILE *f = json || stream == LIRF_TUNE_ERR ? stderr : stdout;
    fputs(text, f);
    fflush(f);
}

/* a speed, or null when it was not measured */
static json_t *gflops(double x) { return x > 0 ? json_real(x) : json_null(); }

static json_t *params_json(const size_t *x) {
    json_t *o = json_object();
    for (int p = 0; p < LIRF_XGEMM_NPARAMS; p++)
        json_object_set_new(o, lirf_xgemm_param_names[p], json_integer((json_int_t)x[p]));
    return o;
}

/* The winner of each class measured, with its speed and CLBlast's defaults'. */
static json_t *classes_json(const lirf_tune_result *r) {
    json_t *c = json_object();
    for (int k = 0; k < LIRF_TUNE_CLASSES; k++) {
        json_t *o = json_object();
        if (r->best.cls[k].set) json_object_set_new(o, "Xgemm", params_json(r->best.cls[k].xgemm));
        else json_object_set_new(o, "Xgemm", json_null());
        json_object_set_new(o, "gflops", gflops(r->gflops[k]));
        json_object_set_new(o, "default_gflops", gflops(r->default_gflops[k]));
        json_object_set_new(c, lirf_gemm_class_names[k], o);
    }
    return c;
}

static json_t *result_json(const lirf_tune_result *r) {
    json_t *j = json_object();
    json_object_set_new(j, "outcome", json_string(lirf_tune_outcome_name(r->outcome)));
    json_object_set_new(j, "file", r->outcome == LIRF_TUNE_WRITTEN ? lirf_json_text(r->path)
                                                                    : json_null());
    json_object_set_new(j, "device", lirf_json_text(r->device.name));
    json_object_set_new(j, "platform", lirf_json_text(r->device.platform_name));
    json_object_set_new(j, "driver", lirf_json_text(r->device.driver));
    json_object_set_new(j, "budget_s", json_real(r->budget_s));
    json_object_set_new(j, "elapsed_s", json_real(r->elapsed_s));
    json_object_set_new(j, "shapes_per_class", json_integer(r->shapes_per_class));
    json_object_set_new(j, "timed_calls", json_integer(r->timed_calls));
    json_object_set_new(j, "candidates", json_integer(r->candidates));
    json_object_set_new(j, "measured", json_integer(r->measured));
    json_object_set_new(j, "dropped", json_integer(r->dropped));
    json_object_set_new(j, "classes", classes_json(r));
    json_t *small = json_null();
    if (r->small_measured)
        small = json_pack("{s:I,s:o,s:o}", "min_indirect_size", (json_int_t)r->best.min_indirect,
                          "gflops", gflops(r->small_gflops), "default_gflops",
                          gflops(r->small_default_gflops));
    json_object_set_new(j, "small", small);
    return j;
}

int cmd_tune(const char *device, int argc, char **argv) {
    lirf_tune_opts o;
    lirf_tune_opts_default(&o);
    int json = 0;
    int pr = parse(argc, argv, &o, &json);
    if (pr) return pr < 0 ? 0 : 2;
    o.device = device;
    o.progress = show;
    o.user = &json;
    lirf_tune_result r;
    lirf_status st = lirf_tune_run(&o, &r);
    if (st != LIRF_OK) return 2; /* the tuner has reported it */
    if (json && print_json(result_json(&r))) return 2;
    return r.outcome == LIRF_TUNE_WRITTEN || r.outcome == LIRF_TUNE_DRY_RUN ? 0 : 1;
}
