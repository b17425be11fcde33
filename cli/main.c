/* The lirf command. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f) {
    fprintf(f,
            "lirf %s - Learning with Recoverable Forgetting on any OpenCL device\n"
            "\n"
            "usage: lirf [--device SPEC] COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  devices     list OpenCL platforms and devices, and which one lirf would use\n"
            "  selftest    run every layer op's kernel on the device against its C reference\n"
            "  train       train ResNet-18/34 or the CNN student (default data: Fashion-MNIST)\n"
            "  eval        accuracy of checkpoints; with several, the paper's Table 1\n"
            "  deposit     remove classes' knowledge into a deposit archive (LIRF)\n"
            "  withdraw    put it back: target net + deposit archive -> recover net\n"
            "  import      a PyTorch state dict (safetensors) -> a lirf checkpoint\n"
            "  unlearn     forget classes with a baseline method (random labels, gradient\n"
            "              ascent, fine-tuning, retraining, SCRUB), to compare with LIRF\n"
            "  verify      audit a target net for leftover knowledge of the deposit classes\n"
            "              (distillation, membership inference, probes); reports and a verdict\n"
            "  keygen      make a key pair to sign deposit archives and to have them\n"
            "              encrypted to you\n"
            "  demo        the whole job on Fashion-MNIST: train, deposit, withdraw, Table 1\n"
            "  reproduce   the paper's Tables 1-3 and Fig. 4 as resumable steps, with\n"
            "              results.md beside the paper's numbers\n"
            "  tune        find and store GEMM parameters for this device (CLBlast)\n"
            "\n"
            "global options:\n"
            "  --device SPEC   device to use: P:D (platform:device index) or part of the\n"
            "                  device name; default $LIRF_DEVICE, else the first GPU, else\n"
            "                  the first CPU\n"
            "  --version       print the version\n"
            "  -h, --help      this help; `lirf COMMAND --help` for a command's options\n"
            "\n"
            "Every command takes --json: its result as one JSON document on stdout, progress\n"
            "on stderr (docs/json.md).\n"
            "\n"
            "environment: LIRF_DEVICE, LIRF_LOG (quiet|warn|info|debug), LIRF_CACHE_DIR\n"
            "(program binary cache; default $XDG_CACHE_HOME/lirf or ~/.cache/lirf; 'off'\n"
            "disables it), LIRF_KERNEL_DIR (developers: read cl_kernels/*.cl from disk).\n",
            LIRF_VERSION);
}

int main(int argc, char **argv) {
    const char *device = NULL;
    int i = 1;
    for (; i < argc; i++) {
        if (!strcmp(argv[i], "--device")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "lirf: --device needs a value\n");
                return 2;
            }
            device = argv[++i];
        } else if (!strncmp(argv[i], "--device=", 9)) {
            device = argv[i] + 9;
        } else if (!strcmp(argv[i], "--version")) {
            printf("lirf %s\n", LIRF_VERSION);
            return 0;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            break;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[i];
    int sub_argc = argc - i;
    char **sub_argv = argv + i;
    if (!strcmp(cmd, "devices")) return cmd_devices(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "selftest")) return cmd_selftest(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "train")) return cmd_train(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "eval")) return cmd_eval(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "deposit")) return cmd_deposit(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "withdraw")) return cmd_withdraw(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "import")) return cmd_import(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "unlearn")) return cmd_unlearn(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "keygen")) return cmd_keygen(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "verify")) return cmd_verify(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "reproduce")) return cmd_reproduce(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "demo")) return cmd_demo(device, sub_argc, sub_argv);
    if (!strcmp(cmd, "tune")) return cmd_tune(device, sub_argc, sub_argv);
    fprintf(stderr, "lirf: unknown command \"%s\" (see lirf --help)\n", cmd);
    return 2;
}
