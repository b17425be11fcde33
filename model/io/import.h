/* lirf import: a checkpoint as PyTorch writes it
 * (safetensors.torch.save_file(model.state_dict(), path): tensors only, no
 * lirf metadata) becomes a lirf checkpoint of an original net, which lirf
 * eval, deposit and verify read (docs/interop.md).
 *
 * The architecture is inferred from the tensor names and shapes (a table of
 * known ResNets, lirf_import_infer); what a state dict does not hold — the
 * input shape, the preprocessing and the class names — comes from the caller
 * (command-line text, lirf_import_meta_set, or a JSON file,
 * lirf_import_meta_read). A missing preprocessing is an error, never a silent
 * mean 0 / std 1.
 *
 * Everything read is untrusted: every tensor of the file must be one of the
 * network's (unknown, missing, duplicate-by-alias, non-float32 or mis-shaped
 * tensors are refused naming the tensor), and nothing is written on any error
 * (the checkpoint is written atomically, after every check).
 */
#ifndef LIRF_IMPORT_H
#define LIRF_IMPORT_H

#include <jansson.h>

#include "checkpoint.h"

/* What the state dict does not say. Zero-initialise; 0 / NULL: not given. */
typedef struct {
    double scale;          /* the model sees (pixel * scale - mean[c]) / std[c], pixels
                              0..255: 1/255 for torchvision's ToTensor, 1 for raw pixels */
    int nmean, nstd;       /* entries given */
    double mean[4], std[4];
    int in_c, in_h, in_w;  /* the input shape */
    int nnames;            /* class names given (0: none; they are optional) */
    char **class_names;
} lirf_import_meta;

void lirf_import_meta_free(lirf_import_meta *m);

/* One field from command-line text, replacing any earlier value: "scale"
 * ("1/255", "0.00392156862745098" or "1"), "mean" / "std" ("0.49,0.48,0.45",
 * one per input channel), "in_shape" ("3,32,32"), "class_names" ("cat,dog";
 * names cannot hold a comma here, use the JSON file). Bad text:
 * LIRF_E_INVALID naming the field. */
lirf_status lirf_import_meta_set(lirf_import_meta *m, const char *key, const char *text);

/* A JSON file (at most 1 MiB) of the keys a lirf checkpoint's metadata holds:
 *   {"in_shape": [1, 28, 28],
 *    "preprocess": {"scale": 0.00392156862745098, "mean": [0.286], "std": [0.353]},
 *    "class_names": ["T-shirt/top", ...]}
 * Every key optional here (lirf_import_file checks that the result is
 * complete); unknown keys, duplicate keys, wrong types and values out of range
 * are LIRF_E_FORMAT naming the file and the key. Fields in the file replace
 * those in m. */
lirf_status lirf_import_meta_read(const char *path, lirf_import_meta *m);
/* The same from text in memory (`what` names it in errors). */
lirf_status lirf_import_meta_parse(const char *text, size_t len, const char *what,
                                   lirf_import_meta *m);

/* The architecture a state dict holds. */
typedef struct {
    const char *name;      /* "CIFAR ResNet-18 (3x3 conv1, no max-pool)" */
    lirf_net_config cfg;   /* arch, width (conv1's outputs), classes (fc's outputs); in_c =
                              conv1's input channels; in_h / in_w 0 (not in the weights) */
    int stem_kernel;       /* conv1's kernel size */
    int blocks[4];         /* residual blocks in layer1..layer4 */
} lirf_import_arch;

/* Infers the architecture from the tensor names and shapes (torchvision names,
 * or the CIFAR naming shortcut.0/1 and linear): ResNet-18 and ResNet-34 with
 * the CIFAR or the ImageNet stem. One that lirf knows but cannot run
 * (bottleneck ResNets) is LIRF_E_UNSUPPORTED naming it; no match at all is
 * LIRF_E_FORMAT. */
lirf_status lirf_import_infer(const lirf_safetensors *st, const char *path,
                              lirf_import_arch *out);

typedef struct {
    lirf_import_arch arch;
    size_t tensors;        /* tensors read = written */
    size_t params;         /* trainable elements */
    int renamed;           /* tensors that had the CIFAR names (written with torchvision's) */
    char sha256[65];       /* of the PyTorch file, recorded in the checkpoint */
    lirf_model_meta meta;  /* as written (preprocessing on lirf's p/255 scale); class_names
                              borrowed from the import meta */
} lirf_import_report;

/* Reads the PyTorch file `in`, checks it and the meta (complete, consistent
 * with the weights: in_shape's C = conv1's input channels, one mean / std per
 * channel, as many class names as fc's outputs), and writes the lirf
 * checkpoint `out` (metadata as lirf train writes, plus "imported_from" and
 * "import_sha256"). A file that already carries lirf metadata is refused: it
 * is a lirf checkpoint, and importing a target or recover net would relabel it
 * as an original. */
lirf_status lirf_import_file(lirf_ctx *ctx, const char *in, const char *out,
                             const lirf_import_meta *m, lirf_import_report *r);

/* The report as JSON (for --json): input, output, architecture, width,
 * classes, in_shape, preprocess (as given and as written), class_names,
 * tensors, params, renamed, sha256. */
json_t *lirf_import_report_json(const lirf_import_report *r, const char *in, const char *out,
                                const lirf_import_meta *m);

#endif
