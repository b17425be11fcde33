/* lirf import: a PyTorch state dict (safetensors) -> a lirf checkpoint
 * (lirf_import_file, model/io/import.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "import.h"

static void import_usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] import --state-dict PATH --out PATH\n"
        "                                   (--meta FILE.json | --in-shape C,H,W --scale S\n"
        "                                    --mean LIST --std LIST) [--class-names LIST]\n"
        "\n"
        "Turns a checkpoint as PyTorch writes it, safetensors.torch.save_file(\n"
        "model.state_dict(), PATH), into a lirf checkpoint of an original net that lirf\n"
        "eval, deposit and verify take (docs/interop.md). The architecture comes from the\n"
        "tensor names and shapes: torchvision's resnet18 / resnet34 (7x7 conv1 + max-pool)\n"
        "or their CIFAR form (3x3 conv1, no max-pool; torchvision's names, or shortcut.0/1\n"
        "and linear, written back with torchvision's); width = conv1's outputs, classes =\n"
        "fc's. Bottleneck ResNets (50 and up) are recognised and refused. What the\n"
        "weights do not hold you give, as options or in a JSON file; options override the\n"
        "file:\n"
        "\n"
        "  --state-dict PATH    the PyTorch safetensors file (float32 weights, int64\n"
        "                       num_batches_tracked)\n"
        "  --out PATH           the lirf checkpoint to write\n"
        "  --in-shape C,H,W     the input shape, e.g. 3,32,32 (C must be conv1's inputs)\n"
        "  --scale S            the factor on pixels 0..255 before mean and std: 1/255 for\n"
        "                       torchvision's ToTensor(), 1 for raw pixels\n"
        "  --mean LIST          per-channel mean after scaling, e.g. 0.4914,0.4822,0.4465\n"
        "  --std LIST           per-channel std, e.g. 0.2470,0.2435,0.2616\n"
        "  --class-names LIST   as many names as fc's outputs, e.g. cat,dog (optional)\n"
        "  --meta FILE.json     the same as {\"in_shape\": [3, 32, 32], \"preprocess\":\n"
        "                       {\"scale\": 0.00392156862745098, \"mean\": [...],\n"
        "                       \"std\": [...]}, \"class_names\": [...]} (the keys of a lirf\n"
        "                       checkpoint's metadata)\n"
        "  --json               print a JSON report\n"
        "\n"
        "The model sees x = (pixel * S - mean[c]) / std[c]; a missing scale, mean, std or\n"
        "input shape is an error (lirf never assumes mean 0 / std 1). Every tensor is\n"
        "checked: an unknown or missing tensor, another dtype (F16, BF16: call\n"
        "model.float() first), a wrong shape or a NaN is refused naming it, and nothing\n"
        "is written. A file with lirf metadata is refused: it is a lirf checkpoint\n"
        "already.\n");
}

typedef struct {
    const char *in, *out, *meta, *text[5];
    int json;
} import_cli;

static const char *const FIELDS[5] = {"in_shape", "scale", "mean", "std", "class_names"};
static const char *const FLAGS[5] = {"--in-shape", "--scale", "--mean", "--std", "--class-names"};

/* 0 to go on, -1 after --help, else 2. */
static int parse(int argc, char **argv, import_cli *c) {
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        int done = 0;
        for (int k = 0; k < 5 && !done; k++)
            done = arg_value(argc, argv, &i, FLAGS[k], &c->text[k], &bad);
        if (done) continue;
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return import_usage(stdout), -1;
        else if (arg_value(argc, argv, &i, "--state-dict", &c->in, &bad)) {}
        else if (arg_value(argc, argv, &i, "--out", &c->out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--meta", &c->meta, &bad)) {}
        else if (arg_flag(argv, i, "--json")) c->json = 1;
        else bad = unknown_option("import", argv[i]);
    }
    if (bad) return 2;
    if (!c->in || !c->out) {
        fprintf(stderr, "lirf import: --state-dict and --out are required (see lirf import "
                        "--help)\n");
        return 2;
    }
    return 0;
}

/* The meta: the file first, then the options over it. */
static int build_meta(const import_cli *c, lirf_import_meta *m) {
    lirf_status st = c->meta ? lirf_import_meta_read(c->meta, m) : LIRF_OK;
    if (st != LIRF_OK) return cli_error(st, "import: --meta");
    for (int k = 0; k < 5; k++) {
        if (!c->text[k]) continue;
        st = lirf_import_meta_set(m, FIELDS[k], c->text[k]);
        if (st != LIRF_OK) {
            fprintf(stderr, "lirf import: %s: %s\n", FLAGS[k], lirf_error_message());
            return 2;
        }
    }
    return 0;
}

int cmd_import(const char *device, int argc, char **argv) {
    import_cli c = {0};
    int rc = parse(argc, argv, &c);
    if (rc) return rc < 0 ? 0 : rc;
    lirf_import_meta m = {0};
    lirf_ctx *ctx = NULL;
    if (build_meta(&c, &m) || cli_open(device, &ctx)) {
        lirf_import_meta_free(&m);
        return 2;
    }
    lirf_import_report r;
    lirf_status st = lirf_import_file(ctx, c.in, c.out, &m, &r);
    if (st != LIRF_OK) rc = cli_error(st, "import");
    else if (c.json) rc = print_json(lirf_import_report_json(&r, c.in, c.out, &m));
    else {
        const lirf_net_config *g = &r.meta.cfg;
        printf("imported %s (sha256 %.16s...): %s, width %d, %d classes, input %dx%dx%d, "
               "%zu tensors (%zu parameters)%s\n", c.in, r.sha256, r.arch.name, g->width,
               g->classes, g->in_c, g->in_h, g->in_w, r.tensors, r.params,
               r.renamed ? ", CIFAR names written as torchvision's" : "");
        printf("lirf checkpoint: %s\n", c.out);
    }
    lirf_import_meta_free(&m);
    lirf_ctx_destroy(ctx);
    return rc;
}
