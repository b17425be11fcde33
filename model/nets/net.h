/* Networks: ResNet-18 and ResNet-34, each with the CIFAR stem or torchvision's
 * ImageNet stem, and the CNN student (docs/method.md), built from
 * architecture descriptors (lirf_arch_desc below).
 *
 * A net holds the parameters of a range of stages, so that a network can run
 * as lower ∘ upper at a named split (LIRF splits a ResNet after layer2):
 *   ResNet:    0 stem (conv1, bn1, relu[, maxpool]), 1..4 layer1..layer4, 5 head (pool, fc)
 *   CNN:       0..2 conv blocks (conv, bn, 2x2 max-pool, relu), 3 head (fc1, relu, fc2)
 * Tensor names follow torchvision (conv1.weight, layer1.0.bn1.running_mean, fc.bias ...).
 *
 * Memory: all trainable parameters of a net live in one device block (params),
 * with gradients and momentum in blocks of the same layout, so that zeroing the
 * gradients and the SGD update are one launch each; BN running statistics in a
 * fourth block; num_batches_tracked counters on the host. Activations of a
 * forward pass are views in a caller's arena, recorded on a tape that the
 * backward pass reads; a net can run several passes (several tapes) per step.
 */
#ifndef LIRF_NET_H
#define LIRF_NET_H

#include <stdint.h>

#include "ops.h"

/* The values are the checkpoints' "arch" metadata (lirf_arch_name):
 *   LIRF_ARCH_RESNET18           "resnet18_cifar"    3x3 stem, blocks 2,2,2,2
 *   LIRF_ARCH_CNN                "cnn"               the CNN student
 *   LIRF_ARCH_RESNET18_IMAGENET  "resnet18_imagenet" torchvision's resnet18 (7x7/2 + max pool)
 *   LIRF_ARCH_RESNET34           "resnet34_cifar"    3x3 stem, blocks 3,4,6,3
 *   LIRF_ARCH_RESNET34_IMAGENET  "resnet34_imagenet" torchvision's resnet34 */
typedef enum {
    LIRF_ARCH_RESNET18 = 0,
    LIRF_ARCH_CNN = 1,
    LIRF_ARCH_RESNET18_IMAGENET = 2,
    LIRF_ARCH_RESNET34 = 3,
    LIRF_ARCH_RESNET34_IMAGENET = 4,
} lirf_arch;
#define LIRF_NARCH 5

#define LIRF_MAX_STAGES 6
#define LIRF_MAX_STAGE_BLOCKS 6 /* residual blocks in one stage (ResNet-34's layer3) */
#define LIRF_MAX_BLOCKS 16      /* residual blocks in a network (ResNet-34: 3+4+6+3) */

/* ---- architectures as data ----
 * A network is a list of stages, each of one kind; net building, tensor
 * names, stage shapes, the split points and the prunable convolutions all
 * follow from the descriptor, so that no method spells a layer name.
 *   STEM  conv (kernel x kernel, stride, padding kernel/2, no bias) + BN + ReLU
 *         [+ 3x3 stride 2 padding 1 max pool when pool], names conv1 / bn1:
 *         CIFAR 3x3 stride 1; ImageNet (torchvision) 7x7 stride 2 + max pool
 *   RES   `blocks` basic residual blocks (conv1 3x3 - bn1 - relu - conv2 3x3 -
 *         bn2, + shortcut; downsample.0/.1 where the shape changes), the first
 *         with `stride`; names <stage>.<block>.<layer>
 *   CONV  conv (3x3, bias) + BN + 2x2 max-pool + ReLU, names conv<k> / bn<k>
 *   HEAD  ResNet: global average pool + fc; CNN: fc1 (128) + ReLU + fc2
 * A stage's channels are base << shift, base being the config's width
 * (base_width 0) or base_width. */
typedef enum { LIRF_STAGE_STEM, LIRF_STAGE_RES, LIRF_STAGE_CONV, LIRF_STAGE_HEAD } lirf_stage_kind;

typedef struct {
    lirf_stage_kind kind;
    const char *name;  /* "stem", "layer1", ... "head" */
    int blocks;        /* RES */
    int shift;         /* channels = base << shift (STEM, RES, CONV) */
    int stride;        /* RES: the first block's; STEM: the conv's */
    int maps;          /* the output carries an attention map for distillation (AT) */
    int kernel;        /* STEM: the conv's kernel (3 or 7) */
    int pool;          /* STEM: a 3x3 stride 2 padding 1 max pool after the ReLU */
} lirf_stage_desc;

typedef struct {
    lirf_arch arch;
    const char *name;  /* "resnet18_cifar", "resnet34_imagenet", "cnn" ... */
    const char *family; /* "resnet18", "resnet34", "cnn" */
    const char *stem;   /* "cifar", "imagenet"; NULL for the CNN */
    int nstages;
    lirf_stage_desc stage[LIRF_MAX_STAGES];
    int base_width;    /* 0: the config's width */
    /* the inner convolution of a residual block that pruning narrows: its
     * output conv, that conv's BN, and the conv that reads it (NULL: none) */
    const char *prune_out, *prune_bn, *prune_in;
} lirf_arch_desc;

/* NULL for an unknown arch. */
const lirf_arch_desc *lirf_arch_describe(lirf_arch arch);
/* The flat index of block b of stage s among the network's residual blocks
 * (the index of lirf_net_config.mid), or -1. */
int lirf_block_index(const lirf_arch_desc *d, int stage, int block);
/* Residual blocks in stages 0..last. */
int lirf_arch_blocks(const lirf_arch_desc *d, int last);
/* "<stage>.<block>" (e.g. "layer2.1"), the prefix of a block's tensors. */
void lirf_block_prefix(const lirf_arch_desc *d, int stage, int block, char *out, size_t cap);

typedef struct {
    lirf_arch arch;
    int width;            /* ResNet: stage widths w, 2w, 4w, 8w (64 in the paper); CNN: unused */
    int in_c, in_h, in_w; /* the whole network's input */
    int classes;
    int first, last;      /* stages held (inclusive); the whole net: 0 .. lirf_arch_stages()-1 */
    int mid[LIRF_MAX_BLOCKS]; /* channels inside each residual block (the descriptor's
                             prune_out / prune_bn / prune_in), by lirf_block_index;
                             0 = the stage width. Pruned deposit modules. */
} lirf_net_config;

/* The inner widths as text ("8,8,16,16,..." one per residual block, as the
 * "mid" and "deposit_mid" metadata hold them) and back; the count must match
 * the arch's blocks (LIRF_E_FORMAT otherwise). */
void lirf_mid_format(const lirf_net_config *c, char *out, size_t cap);
lirf_status lirf_mid_parse(lirf_net_config *c, const char *text);

int lirf_arch_stages(lirf_arch arch);
const char *lirf_arch_name(lirf_arch arch);                 /* "resnet18_cifar", "cnn" ... */
/* Any lirf_arch_name, or a family name alone ("resnet18", "resnet34": the
 * CIFAR stem, as checkpoints before the ImageNet stem called ResNet-18). */
lirf_status lirf_arch_parse(const char *name, lirf_arch *out);
/* arch's family with the stem "cifar" or "imagenet" (e.g. resnet18_cifar +
 * "imagenet" -> resnet18_imagenet); LIRF_E_INVALID for the CNN or another stem. */
lirf_status lirf_arch_with_stem(lirf_arch arch, const char *stem, lirf_arch *out);
const char *lirf_stage_name(lirf_arch arch, int stage);       /* "stem", "layer1", ... */
int lirf_stage_parse(lirf_arch arch, const char *name);       /* -1 if unknown */
/* Output shape (per sample) of `stage` for the whole-network config c; stage -1
 * is the input. The head's output is (classes, 1, 1). */
void lirf_stage_shape(const lirf_net_config *c, int stage, int *ch, int *h, int *w);

typedef enum { LIRF_T_PARAM = 0, LIRF_T_STAT, LIRF_T_COUNT } lirf_tensor_kind;

typedef struct {
    char name[96];
    lirf_tensor_kind kind; /* PARAM: trainable (params block); STAT: BN running stats;
                              COUNT: num_batches_tracked, int64 on the host */
    int stage;
    int ndim;
    int shape[4];
    size_t off, n; /* in its block (elements) */
} lirf_tensor_desc;

typedef struct lirf_net lirf_net;

/* A net with every buffer zeroed (lirf_net_init gives the real start). */
lirf_status lirf_net_create(lirf_ctx *ctx, const lirf_net_config *c, lirf_net **out);
void lirf_net_destroy(lirf_net *net);
const lirf_net_config *lirf_net_cfg(const lirf_net *net);
lirf_ctx *lirf_net_ctx(const lirf_net *net);

size_t lirf_net_ntensors(const lirf_net *net);
const lirf_tensor_desc *lirf_net_tensor(const lirf_net *net, size_t i);
int lirf_net_find(const lirf_net *net, const char *name); /* index, or -1 */
size_t lirf_net_nparams(const lirf_net *net);             /* trainable elements */
lirf_buf lirf_net_params(const lirf_net *net);             /* (nparams) */
lirf_buf lirf_net_grads(const lirf_net *net);              /* (nparams) */
lirf_buf lirf_net_momentum(const lirf_net *net);           /* (nparams) */
lirf_buf lirf_net_stats(const lirf_net *net);              /* BN running stats */
/* A tensor's device view (PARAM or STAT), or its gradient (PARAM). */
lirf_buf lirf_net_tensor_buf(const lirf_net *net, size_t i);
lirf_buf lirf_net_tensor_grad(const lirf_net *net, size_t i);
/* Host copies: float for PARAM / STAT, int64_t for COUNT. */
lirf_status lirf_net_tensor_get(lirf_net *net, size_t i, void *host);
lirf_status lirf_net_tensor_set(lirf_net *net, size_t i, const void *host);

/* torchvision's initialisation (conv: kaiming normal, fan_out; BN 1 / 0;
 * linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))), from a seeded host RNG.
 * Momentum zeroed, running stats 0 / 1, counters 0. */
lirf_status lirf_net_init(lirf_net *net, uint64_t seed);
/* Copies every tensor of src whose name and shape dst has (stats, counters
 * included); LIRF_E_SHAPE if a shared name differs in shape. *copied counts. */
lirf_status lirf_net_copy(lirf_net *dst, const lirf_net *src, size_t *copied);
lirf_status lirf_net_zero_grads(lirf_net *net);
/* Non-finite numbers after a training step's forward and backward: counter
 * (one int32 on the device, zeroed here) gets how many gradient elements and
 * BN running statistics are NaN or infinite (enqueued, not waited for).
 * lirf_net_nonfinite_name then names the first tensor with one, e.g.
 * "gradient of layer1.0.conv1.weight (NaN)" (reads them to the host: for the
 * error path only); "" if none. */
lirf_status lirf_net_count_nonfinite(lirf_net *net, lirf_buf counter);
lirf_status lirf_net_nonfinite_name(lirf_net *net, char *name, size_t cap);

typedef enum {
    LIRF_MODE_EVAL = 0,  /* BN running stats; no tape needed */
    LIRF_MODE_TRAIN,     /* BN batch stats (running stats updated); backward gives param grads */
    LIRF_MODE_TRAIN_BN_FIXED, /* BN running stats, affine params and all others trained */
    LIRF_MODE_FROZEN,    /* BN running stats; backward gives only the input gradient */
} lirf_mode;

typedef struct lirf_tape lirf_tape;
lirf_status lirf_tape_create(lirf_tape **out);
void lirf_tape_destroy(lirf_tape *t);

/* x (N, c, h, w): the input of stage cfg.first. *out: a view in ws holding the
 * output of stage cfg.last. With a tape (required unless EVAL) the pass can be
 * differentiated. */
lirf_status lirf_net_forward(lirf_net *net, lirf_arena *ws, lirf_tape *tape, lirf_mode mode,
                             lirf_buf x, int N, lirf_buf *out);
/* dout: gradient of the output. Parameter gradients accumulate into the net's
 * gradient block (not in FROZEN mode). dx: the input gradient is written to a
 * new view in ws when dx != NULL. */
lirf_status lirf_net_backward(lirf_net *net, lirf_arena *ws, lirf_tape *tape, lirf_buf dout,
                              lirf_buf *dx);
/* The output of `stage` recorded on a tape (for attention losses and probes). */
lirf_status lirf_tape_output(const lirf_tape *t, int stage, lirf_buf *out);

#endif
