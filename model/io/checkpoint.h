/* Checkpoints: nets as safetensors files that PyTorch reads
 * (safetensors.torch.load_file into a torchvision-named CIFAR ResNet-18), with
 * the model's description in the header's __metadata__:
 *   lirf_version, arch, width, in_shape "C,H,W", classes, class_names (JSON
 *   array), split, preprocess (JSON: scale, mean, std), mid (pruned inner
 *   widths, "a,b,c,d,e,f,g,h"; only when pruned), and any extra pairs.
 * Several nets may share one file, each under a name prefix ("" for the main
 * network, e.g. "deposit." for a deposit module).
 */
#ifndef LIRF_CHECKPOINT_H
#define LIRF_CHECKPOINT_H

#include "net.h"
#include "safetensors.h"

#define LIRF_MAX_CLASSES 1000

typedef struct {
    lirf_net_config cfg;        /* arch, width, input, classes (first/last: whole net) */
    char **class_names;         /* cfg.classes names, or NULL */
    float mean[4], std[4];      /* preprocessing: x = (p/255 - mean[c]) / std[c] */
    char split[16];             /* "" or a stage name */
} lirf_model_meta;

void lirf_model_meta_free(lirf_model_meta *m);

/* Writes nets[i]'s tensors under prefixes[i] (float32; counters int64) and
 * the metadata, atomically (temporary file + rename). */
lirf_status lirf_checkpoint_save(const char *path, lirf_net *const *nets,
                                 const char *const *prefixes, size_t count,
                                 const lirf_model_meta *meta, const char *const *extra_keys,
                                 const char *const *extra_vals, size_t nextra);

/* The same into a malloc'ed buffer (archive members). */
lirf_status lirf_checkpoint_save_mem(void **buf, size_t *len, lirf_net *const *nets,
                                     const char *const *prefixes, size_t count,
                                     const lirf_model_meta *meta, const char *const *extra_keys,
                                     const char *const *extra_vals, size_t nextra);
/* Opens checkpoint bytes already in memory (`what` names them in errors). */
lirf_status lirf_checkpoint_open_mem(const void *buf, size_t len, const char *what,
                                     lirf_safetensors *st, lirf_model_meta *meta);

/* Reads a checkpoint and its metadata (missing or malformed metadata:
 * LIRF_E_FORMAT naming the key). */
lirf_status lirf_checkpoint_open(const char *path, lirf_safetensors *st, lirf_model_meta *meta);
/* Fills every tensor of net from st under prefix, checking dtype and shape;
 * accepts the other CIFAR naming (shortcut.0/1 for downsample.0/1, linear for
 * fc). Missing or mis-shaped tensors: LIRF_E_FORMAT naming the tensor. */
lirf_status lirf_checkpoint_load_net(const lirf_safetensors *st, const char *path,
                                     const char *prefix, lirf_net *net);
/* The tensor lirf_checkpoint_load_net reads for the net tensor `name` under
 * prefix (its own name or the other CIFAR naming), or NULL. */
const lirf_st_tensor *lirf_checkpoint_find(const lirf_safetensors *st, const char *prefix,
                                           const char *name);
/* Creates the net that meta describes for stages first..last (mid widths
 * from meta.cfg) and loads it. */
lirf_status lirf_checkpoint_make_net(lirf_ctx *ctx, const lirf_safetensors *st, const char *path,
                                     const lirf_model_meta *meta, const char *prefix, int first,
                                     int last, lirf_net **out);

/* One-call convenience: open + make the whole net. */
lirf_status lirf_checkpoint_load(lirf_ctx *ctx, const char *path, lirf_model_meta *meta,
                                 lirf_net **out);

#endif
