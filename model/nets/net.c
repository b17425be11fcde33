/* ResNet-18 / ResNet-34 (CIFAR or ImageNet stem) and the CNN student:
 * parameters, forward and backward.
 * See net.h for the stage layout and memory model. */
#include "net.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define BN_EPS 1e-5f
#define BN_MOMENTUM 0.1f
#define MAX_TENSORS 256 /* ResNet-34: 218 */

/* ---- layers (indices into the tensor table) ---- */
typedef struct {
    int w, b;          /* tensor indices; b = -1: no bias */
    lirf_conv_shape s; /* N set per pass */
} conv_l;

typedef struct {
    int gamma, beta, rmean, rvar, count;
    int C;
} bn_l;

typedef struct {
    int in_c, mid_c, out_c, stride, in_h, in_w, out_h, out_w;
    int down;
    conv_l c1, c2, cd;
    bn_l b1, b2, bd;
} block_l;

typedef struct {
    lirf_stage_kind kind;
    int in_c, in_h, in_w, out_c, out_h, out_w;
    int nblocks;     /* ResNet layers: the descriptor's; stem / CNN block: 0 (conv + bn) */
    block_l blocks[LIRF_MAX_STAGE_BLOCKS];
    conv_l conv;     /* stem or CNN block */
    bn_l bn;
    int conv_h, conv_w, pool; /* stem: the conv's output; pool: max pool 3/2/1 after the ReLU */
    int fc_w, fc_b;  /* ResNet head / CNN fc2 */
    int fc1_w, fc1_b, fc_in, fc_hidden; /* CNN head */
} stage_l;

struct lirf_net {
    lirf_ctx *ctx;
    lirf_net_config cfg;
    lirf_tensor_desc t[MAX_TENSORS];
    size_t nt;
    int64_t counters[MAX_TENSORS];
    size_t nparams, nstats;
    lirf_buf params, grads, mom, stats;
    stage_l st[LIRF_MAX_STAGES];
};

/* ---- tape ---- */
typedef struct {
    lirf_buf x, t1, a1, t2, td, out;
    lirf_buf m1, s1, m2, s2, md, sd; /* saved mean / invstd */
} block_tape;

typedef struct {
    lirf_buf x, t, u, idx, out, m, s; /* stem / CNN block: conv out t, bn out u (CNN; the
                                         pooled stem's ReLU out), out */
    block_tape b[LIRF_MAX_STAGE_BLOCKS];
    lirf_buf pooled, h;               /* heads */
} stage_tape;

struct lirf_tape {
    lirf_net *net;
    lirf_mode mode;
    int N;
    stage_tape s[LIRF_MAX_STAGES];
};

/* ---- architectures as data ---- */
/* a ResNet: the stem (3x3/1, or torchvision's 7x7/2 + max pool), four RES
 * stages of b1..b4 basic blocks, the head */
#define RESNET_DESC(ARCH, NAME, FAMILY, STEM, K, S, POOL, B1, B2, B3, B4)                  \
    {ARCH, NAME, FAMILY, STEM, 6,                                                      \
     {{LIRF_STAGE_STEM, "stem", 0, 0, S, 0, K, POOL},                                  \
      {LIRF_STAGE_RES, "layer1", B1, 0, 1, 1, 0, 0},                                   \
      {LIRF_STAGE_RES, "layer2", B2, 1, 2, 1, 0, 0},                                   \
      {LIRF_STAGE_RES, "layer3", B3, 2, 2, 1, 0, 0},                                   \
      {LIRF_STAGE_RES, "layer4", B4, 3, 2, 1, 0, 0},                                   \
      {LIRF_STAGE_HEAD, "head", 0, 0, 0, 0, 0, 0}},                                    \
     0, "conv1", "bn1", "conv2"}

/* indexed by lirf_arch */
static const lirf_arch_desc ARCHS[LIRF_NARCH] = {
    RESNET_DESC(LIRF_ARCH_RESNET18, "resnet18_cifar", "resnet18", "cifar", 3, 1, 0, 2, 2, 2, 2),
    {LIRF_ARCH_CNN, "cnn", "cnn", NULL, 4,
     {{LIRF_STAGE_CONV, "block1", 0, 0, 1, 1, 0, 0},
      {LIRF_STAGE_CONV, "block2", 0, 1, 1, 1, 0, 0},
      {LIRF_STAGE_CONV, "block3", 0, 2, 1, 1, 0, 0},
      {LIRF_STAGE_HEAD, "head", 0, 0, 0, 0, 0, 0}},
     32, NULL, NULL, NULL},
    RESNET_DESC(LIRF_ARCH_RESNET18_IMAGENET, "resnet18_imagenet", "resnet18", "imagenet", 7, 2, 1,
                2, 2, 2, 2),
    RESNET_DESC(LIRF_ARCH_RESNET34, "resnet34_cifar", "resnet34", "cifar", 3, 1, 0, 3, 4, 6, 3),
    RESNET_DESC(LIRF_ARCH_RESNET34_IMAGENET, "resnet34_imagenet", "resnet34", "imagenet", 7, 2, 1,
                3, 4, 6, 3),
};

const lirf_arch_desc *lirf_arch_describe(lirf_arch arch) {
    return (int)arch >= 0 && (int)arch < LIRF_NARCH ? &ARCHS[arch] : NULL;
}

int lirf_block_index(const lirf_arch_desc *d, int stage, int block) {
    if (!d || stage < 0 || stage >= d->nstages || block < 0 || block >= d->stage[stage].blocks)
        return -1;
    return lirf_arch_blocks(d, stage - 1) + block;
}

int lirf_arch_blocks(const lirf_arch_desc *d, int last) {
    int n = 0;
    for (int s = 0; d && s <= last && s < d->nstages; s++) n += d->stage[s].blocks;
    return n;
}

void lirf_block_prefix(const lirf_arch_desc *d, int stage, int block, char *out, size_t cap) {
    snprintf(out, cap, "%s.%d", d->stage[stage].name, block);
}

static int base_width(const lirf_net_config *c) {
    const lirf_arch_desc *d = lirf_arch_describe(c->arch);
    return d && d->base_width ? d->base_width : c->width;
}

void lirf_mid_format(const lirf_net_config *c, char *out, size_t cap) {
    int nb = lirf_arch_blocks(lirf_arch_describe(c->arch), LIRF_MAX_STAGES);
    size_t k = 0;
    out[0] = 0;
    for (int i = 0; i < nb && k < cap; i++)
        k += (size_t)snprintf(out + k, cap - k, "%s%d", i ? "," : "", c->mid[i]);
}

lirf_status lirf_mid_parse(lirf_net_config *c, const char *text) {
    int nb = lirf_arch_blocks(lirf_arch_describe(c->arch), LIRF_MAX_STAGES), i = 0;
    const char *p = text;
    memset(c->mid, 0, sizeof c->mid);
    while (p && *p && i < nb) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > 1 << 20) break;
        c->mid[i++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end != ',' && *end) break;
    }
    if (i != nb || (p && *p))
        return LIRF_FAIL(LIRF_E_FORMAT, "inner widths \"%.60s\": not %d integers", text ? text : "",
                         nb);
    return LIRF_OK;
}

int lirf_arch_stages(lirf_arch arch) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    return d ? d->nstages : 0;
}

const char *lirf_arch_name(lirf_arch arch) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    return d ? d->name : "?";
}

lirf_status lirf_arch_parse(const char *name, lirf_arch *out) {
    if (!name || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_arch_parse: NULL argument");
    for (int a = 0; a < LIRF_NARCH; a++)
        if (!strcasecmp(name, ARCHS[a].name)) return *out = (lirf_arch)a, LIRF_OK;
    /* a family alone: the CIFAR stem (lirf's ResNet-18 before the ImageNet stem) */
    if (!strcasecmp(name, "resnet18") || !strcasecmp(name, "resnet-18"))
        return *out = LIRF_ARCH_RESNET18, LIRF_OK;
    if (!strcasecmp(name, "resnet34") || !strcasecmp(name, "resnet-34"))
        return *out = LIRF_ARCH_RESNET34, LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID, "unknown architecture \"%s\" (resnet18, resnet34, cnn, or "
                     "one of resnet18_cifar, resnet18_imagenet, resnet34_cifar, "
                     "resnet34_imagenet)", name);
}

lirf_status lirf_arch_with_stem(lirf_arch arch, const char *stem, lirf_arch *out) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    if (!d || !stem || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_arch_with_stem: NULL argument");
    if (!d->stem)
        return LIRF_FAIL(LIRF_E_INVALID, "the %s has no stem to choose (a ResNet has)", d->name);
    for (int a = 0; a < LIRF_NARCH; a++)
        if (ARCHS[a].stem && !strcmp(ARCHS[a].family, d->family) && !strcasecmp(ARCHS[a].stem, stem))
            return *out = (lirf_arch)a, LIRF_OK;
    return LIRF_FAIL(LIRF_E_INVALID, "unknown stem \"%s\" (cifar or imagenet)", stem);
}

const char *lirf_stage_name(lirf_arch arch, int stage) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    if (!d || stage < 0 || stage >= d->nstages) return "?";
    return d->stage[stage].name;
}

int lirf_stage_parse(lirf_arch arch, const char *name) {
    for (int i = 0; i < lirf_arch_stages(arch); i++)
        if (name && !strcmp(name, lirf_stage_name(arch, i))) return i;
    return -1;
}

void lirf_stage_shape(const lirf_net_config *c, int stage, int *ch, int *h, int *w) {
    const lirf_arch_desc *d = lirf_arch_describe(c->arch);
    int C = c->in_c, H = c->in_h, W = c->in_w, base = base_width(c);
    for (int s = 0; d && s <= stage && s < d->nstages; s++) {
        const lirf_stage_desc *sd = &d->stage[s];
        if (sd->kind == LIRF_STAGE_HEAD) {
            C = c->classes, H = W = 1;
            continue;
        }
        C = base << sd->shift;
        if (sd->kind == LIRF_STAGE_CONV) H /= 2, W /= 2;
        else if (sd->kind == LIRF_STAGE_STEM) {
            int k = sd->kernel, st = sd->stride;
            H = (H + 2 * (k / 2) - k) / st + 1, W = (W + 2 * (k / 2) - k) / st + 1;
            if (sd->pool) H = lirf_maxpool_out(H, 3, 2, 1), W = lirf_maxpool_out(W, 3, 2, 1);
        }
        else if (sd->kind == LIRF_STAGE_RES && sd->stride == 2)
            H = (H + 1) / 2, W = (W + 1) / 2; /* 3x3 s2 p1 */
    }
    *ch = C, *h = H, *w = W;
}

/* ---- construction ---- */
static int add_tensor(lirf_net *n, const char *name, lirf_tensor_kind kind, int stage, int ndim,
                      int d0, int d1, int d2, int d3) {
    if (n->nt == MAX_TENSORS) return -1;
    lirf_tensor_desc *t = &n->t[n->nt];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->kind = kind;
    t->stage = stage;
    t->ndim = ndim;
    int d[4] = {d0, d1, d2, d3};
    size_t cnt = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = d[i], cnt *= (size_t)d[i];
    t->n = kind == LIRF_T_COUNT ? 1 : cnt;
    if (kind == LIRF_T_PARAM) t->off = n->nparams, n->nparams += cnt;
    if (kind == LIRF_T_STAT) t->off = n->nstats, n->nstats += cnt;
    return (int)n->nt++;
}

static void add_conv(lirf_net *n, conv_l *c, const char *prefix, int stage, int cin, int cout,
                     int k, int stride, int pad, int bias, int h, int w) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    c->w = add_tensor(n, name, LIRF_T_PARAM, stage, 4, cout, cin, k, k);
    c->b = -1;
    if (bias) {
        snprintf(name, sizeof name, "%s.bias", prefix);
        c->b = add_tensor(n, name, LIRF_T_PARAM, stage, 1, cout, 0, 0, 0);
    }
    c->s = (lirf_conv_shape){0, cin, h, w, cout, k, k, stride, pad};
}

static void add_bn(lirf_net *n, bn_l *b, const char *prefix, int stage, int C) {
    char name[96];
    snprintf(name, sizeof name, "%s.weight", prefix);
    b->gamma = add_tensor(n, name, LIRF_T_PARAM, stage, 1, C, 0, 0, 0);
    snprintf(name, sizeof name, "%s.bias", prefix);
    b->beta = add_tensor(n, name, LIRF_T_PARAM, stage, 1, C, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_mean", prefix);
    b->rmean = add_tensor(n, name, LIRF_T_STAT, stage, 1, C, 0, 0, 0);
    snprintf(name, sizeof name, "%s.running_var", prefix);
    b->rvar = add_tensor(n, name, LIRF_T_STAT, stage, 1, C, 0, 0, 0);
    snprintf(name, sizeof name, "%s.num_batches_tracked", prefix);
    b->count = add_tensor(n, name, LIRF_T_COUNT, stage, 0, 0, 0, 0, 0);
    b->C = C;
}

/* the basic blocks of a RES stage (see net.h) */
static void build_res_stage(lirf_net *n, const lirf_arch_desc *d, int s, int hold, int *C, int *H,
                            int *W) {
    const lirf_net_config *c = &n->cfg;
    const lirf_stage_desc *sd = &d->stage[s];
    stage_l *st = &n->st[s];
    int out = base_width(c) << sd->shift;
    st->nblocks = sd->blocks;
    for (int b = 0; b < sd->blocks; b++) {
        block_l *bl = &st->blocks[b];
        int stride = b == 0 ? sd->stride : 1, m = c->mid[lirf_block_index(d, s, b)];
        int mid = m > 0 ? m : out;
        int oh = (*H + 2 - 3) / stride + 1, ow = (*W + 2 - 3) / stride + 1;
        *bl = (block_l){.in_c = *C, .mid_c = mid, .out_c = out, .stride = stride,
                        .in_h = *H, .in_w = *W, .out_h = oh, .out_w = ow};
        bl->down = stride != 1 || *C != out;
        if (hold) {
            char pre[48], p[64];
            lirf_block_prefix(d, s, b, pre, sizeof pre);
            snprintf(p, sizeof p, "%s.conv1", pre);
            add_conv(n, &bl->c1, p, s, *C, mid, 3, stride, 1, 0, *H, *W);
            snprintf(p, sizeof p, "%s.bn1", pre);
            add_bn(n, &bl->b1, p, s, mid);
            snprintf(p, sizeof p, "%s.conv2", pre);
            add_conv(n, &bl->c2, p, s, mid, out, 3, 1, 1, 0, oh, ow);
            snprintf(p, sizeof p, "%s.bn2", pre);
            add_bn(n, &bl->b2, p, s, out);
            if (bl->down) {
                snprintf(p, sizeof p, "%s.downsample.0", pre);
                add_conv(n, &bl->cd, p, s, *C, out, 1, stride, 0, 0, *H, *W);
                snprintf(p, sizeof p, "%s.downsample.1", pre);
                add_bn(n, &bl->bd, p, s, out);
            }
        }
        *C = out, *H = oh, *W = ow;
    }
}

static void build_resnet(lirf_net *n) {
    const lirf_net_config *c = &n->cfg;
    const lirf_arch_desc *d = lirf_arch_describe(c->arch);
    int C = c->in_c, H = c->in_h, W = c->in_w;
    for (int s = 0; s <= c->last; s++) {
        stage_l *st = &n->st[s];
        int hold = s >= c->first;
        st->kind = d->stage[s].kind;
        st->in_c = C, st->in_h = H, st->in_w = W;
        if (d->stage[s].kind == LIRF_STAGE_STEM) {
            const lirf_stage_desc *sd = &d->stage[s];
            int out = base_width(c) << sd->shift, k = sd->kernel, pad = k / 2;
            if (hold) {
                add_conv(n, &st->conv, "conv1", s, C, out, k, sd->stride, pad, 0, H, W);
                add_bn(n, &st->bn, "bn1", s, out);
            }
            st->conv_h = (H + 2 * pad - k) / sd->stride + 1;
            st->conv_w = (W + 2 * pad - k) / sd->stride + 1;
            st->pool = sd->pool;
            C = out, H = st->conv_h, W = st->conv_w;
            if (st->pool) H = lirf_maxpool_out(H, 3, 2, 1), W = lirf_maxpool_out(W, 3, 2, 1);
        } else if (d->stage[s].kind == LIRF_STAGE_RES) {
            build_res_stage(n, d, s, hold, &C, &H, &W);
        } else {
            if (hold) {
                st->fc_w = add_tensor(n, "fc.weight", LIRF_T_PARAM, s, 2, c->classes, C, 0, 0);
                st->fc_b = add_tensor(n, "fc.bias", LIRF_T_PARAM, s, 1, c->classes, 0, 0, 0);
            }
            C = c->classes, H = W = 1;
        }
        st->out_c = C, st->out_h = H, st->out_w = W;
    }
}

static void build_cnn(lirf_net *n) {
    const lirf_net_config *c = &n->cfg;
    const lirf_arch_desc *d = lirf_arch_describe(c->arch);
    int C = c->in_c, H = c->in_h, W = c->in_w;
    for (int s = 0; s <= c->last; s++) {
        stage_l *st = &n->st[s];
        int hold = s >= c->first;
        st->kind = d->stage[s].kind;
        st->in_c = C, st->in_h = H, st->in_w = W;
        if (st->kind == LIRF_STAGE_CONV) {
            int out = base_width(c) << d->stage[s].shift;
            if (hold) {
                char p[32];
                snprintf(p, sizeof p, "conv%d", s + 1);
                add_conv(n, &st->conv, p, s, C, out, 3, 1, 1, 1, H, W);
                snprintf(p, sizeof p, "bn%d", s + 1);
                add_bn(n, &st->bn, p, s, out);
            }
            C = out, H /= 2, W /= 2;
        } else {
            st->fc_in = C * H * W;
            st->fc_hidden = 128;
            if (hold) {
                st->fc1_w = add_tensor(n, "fc1.weight", LIRF_T_PARAM, s, 2, 128, st->fc_in, 0, 0);
                st->fc1_b = add_tensor(n, "fc1.bias", LIRF_T_PARAM, s, 1, 128, 0, 0, 0);
                st->fc_w = add_tensor(n, "fc2.weight", LIRF_T_PARAM, s, 2, c->classes, 128, 0, 0);
                st->fc_b = add_tensor(n, "fc2.bias", LIRF_T_PARAM, s, 1, c->classes, 0, 0, 0);
            }
            C = c->classes, H = W = 1;
        }
        st->out_c = C, st->out_h = H, st->out_w = W;
    }
}

lirf_status lirf_net_create(lirf_ctx *ctx, const lirf_net_config *c, lirf_net **out) {
    if (!ctx || !c || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_create: NULL argument");
    *out = NULL;
    int ns = lirf_arch_stages(c->arch);
    if (!lirf_arch_describe(c->arch))
        return LIRF_FAIL(LIRF_E_INVALID, "unknown architecture %d", (int)c->arch);
    if (c->first < 0 || c->last >= ns || c->first > c->last)
        return LIRF_FAIL(LIRF_E_INVALID, "stages %d..%d outside 0..%d", c->first, c->last, ns - 1);
    if (c->in_c <= 0 || c->in_c > 64 || c->in_h <= 0 || c->in_w <= 0 || c->in_h > 4096 ||
        c->in_w > 4096 || c->classes < 2 || c->classes > 100000)
        return LIRF_FAIL(LIRF_E_INVALID, "bad input %dx%dx%d or %d classes", c->in_c, c->in_h,
                         c->in_w, c->classes);
    if (!lirf_arch_describe(c->arch)->base_width && (c->width <= 0 || c->width > 1024))
        return LIRF_FAIL(LIRF_E_INVALID, "bad ResNet width %d", c->width);
    if (lirf_arch_describe(c->arch)->stage[0].kind == LIRF_STAGE_CONV && (c->in_h < 8 || c->in_w < 8))
        return LIRF_FAIL(LIRF_E_INVALID, "the CNN needs inputs of at least 8x8, got %dx%d",
                         c->in_h, c->in_w);
    const lirf_arch_desc *d = lirf_arch_describe(c->arch);
    for (int i = lirf_arch_blocks(d, ns - 1); i < LIRF_MAX_BLOCKS; i++)
        if (c->mid[i]) return LIRF_FAIL(LIRF_E_INVALID, "an inner width for block %d of %d", i,
                                        lirf_arch_blocks(d, ns - 1));
    for (int s = 0; s < ns; s++)
        for (int b = 0; b < d->stage[s].blocks; b++) {
            int m = c->mid[lirf_block_index(d, s, b)];
            char pre[48];
            lirf_block_prefix(d, s, b, pre, sizeof pre);
            if (m < 0 || m > (base_width(c) << d->stage[s].shift))
                return LIRF_FAIL(LIRF_E_INVALID, "bad inner width %d in %s", m, pre);
        }
    lirf_net *n = calloc(1, sizeof *n);
    if (!n) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    n->ctx = ctx;
    n->cfg = *c;
    if (lirf_arch_describe(c->arch)->stage[0].kind == LIRF_STAGE_CONV) build_cnn(n);
    else build_resnet(n);
    lirf_status st = LIRF_OK;
    if (n->nparams) {
        if ((st = lirf_buf_alloc(ctx, n->nparams, &n->params)) ||
            (st = lirf_buf_alloc(ctx, n->nparams, &n->grads)) ||
            (st = lirf_buf_alloc(ctx, n->nparams, &n->mom)) ||
            (st = lirf_buf_fill(ctx, n->params, 0)) || (st = lirf_buf_fill(ctx, n->grads, 0)) ||
            (st = lirf_buf_fill(ctx, n->mom, 0))) {
            lirf_net_destroy(n);
            return st;
        }
    }
    /* everything starts defined (zeros; lirf_net_init gives the real start):
     * a net's bytes never depend on what the device memory held before */
    if (n->nstats && ((st = lirf_buf_alloc(ctx, n->nstats, &n->stats)) ||
                      (st = lirf_buf_fill(ctx, n->stats, 0)))) {
        lirf_net_destroy(n);
        return st;
    }
    *out = n;
    return LIRF_OK;
}

void lirf_net_destroy(lirf_net *n) {
    if (!n) return;
    lirf_buf_free(n->ctx, &n->params);
    lirf_buf_free(n->ctx, &n->grads);
    lirf_buf_free(n->ctx, &n->mom);
    lirf_buf_free(n->ctx, &n->stats);
    free(n);
}

const lirf_net_config *lirf_net_cfg(const lirf_net *n) { return &n->cfg; }
lirf_ctx *lirf_net_ctx(const lirf_net *n) { return n->ctx; }
size_t lirf_net_ntensors(const lirf_net *n) { return n->nt; }
const lirf_tensor_desc *lirf_net_tensor(const lirf_net *n, size_t i) {
    return i < n->nt ? &n->t[i] : NULL;
}
int lirf_net_find(const lirf_net *n, const char *name) {
    for (size_t i = 0; i < n->nt; i++)
        if (!strcmp(n->t[i].name, name)) return (int)i;
    return -1;
}
size_t lirf_net_nparams(const lirf_net *n) { return n->nparams; }
lirf_buf lirf_net_params(const lirf_net *n) { return n->params; }
lirf_buf lirf_net_grads(const lirf_net *n) { return n->grads; }
lirf_buf lirf_net_momentum(const lirf_net *n) { return n->mom; }
lirf_buf lirf_net_stats(const lirf_net *n) { return n->stats; }

static lirf_buf view_of(lirf_buf block, size_t off, size_t cnt) {
    return (lirf_buf){block.mem, block.off + off, cnt};
}

lirf_buf lirf_net_tensor_buf(const lirf_net *n, size_t i) {
    if (i >= n->nt) return LIRF_NOBUF;
    const lirf_tensor_desc *t = &n->t[i];
    if (t->kind == LIRF_T_PARAM) return view_of(n->params, t->off, t->n);
    if (t->kind == LIRF_T_STAT) return view_of(n->stats, t->off, t->n);
    return LIRF_NOBUF;
}

lirf_buf lirf_net_tensor_grad(const lirf_net *n, size_t i) {
    if (i >= n->nt || n->t[i].kind != LIRF_T_PARAM) return LIRF_NOBUF;
    return view_of(n->grads, n->t[i].off, n->t[i].n);
}

lirf_status lirf_net_tensor_get(lirf_net *n, size_t i, void *host) {
    if (!n || !host) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_tensor_get: NULL argument");
    if (i >= n->nt) return LIRF_FAIL(LIRF_E_INVALID, "tensor index %zu", i);
    if (n->t[i].kind == LIRF_T_COUNT) {
        memcpy(host, &n->counters[i], sizeof(int64_t));
        return LIRF_OK;
    }
    return lirf_buf_read(n->ctx, lirf_net_tensor_buf(n, i), host, n->t[i].n);
}

lirf_status lirf_net_tensor_set(lirf_net *n, size_t i, const void *host) {
    if (!n || !host) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_tensor_set: NULL argument");
    if (i >= n->nt) return LIRF_FAIL(LIRF_E_INVALID, "tensor index %zu", i);
    if (n->t[i].kind == LIRF_T_COUNT) {
        memcpy(&n->counters[i], host, sizeof(int64_t));
        return LIRF_OK;
    }
    return lirf_buf_write(n->ctx, lirf_net_tensor_buf(n, i), host, n->t[i].n);
}

/* ---- initialisation ---- */
lirf_status lirf_net_init(lirf_net *n, uint64_t seed) {
    if (!n) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_init: NULL net");
    uint64_t s = seed * 0x2545F4914F6CDD1Dull + 1;
    size_t maxn = 1;
    for (size_t i = 0; i < n->nt; i++)
        if (n->t[i].n > maxn) maxn = n->t[i].n;
    float *h = malloc(maxn * sizeof *h);
    if (!h) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = LIRF_OK;
    for (size_t i = 0; i < n->nt && st == LIRF_OK; i++) {
        lirf_tensor_desc *t = &n->t[i];
        const char *suffix = strrchr(t->name, '.');
        suffix = suffix ? suffix + 1 : t->name;
        if (t->kind == LIRF_T_COUNT) {
            n->counters[i] = 0;
            continue;
        }
        int is_bn = strstr(t->name, "bn") != NULL || strstr(t->name, "downsample.1") != NULL;
        if (t->kind == LIRF_T_STAT) {
            float v = !strcmp(suffix, "running_var") ? 1.0f : 0.0f;
            for (size_t k = 0; k < t->n; k++) h[k] = v;
        } else if (is_bn) {
            float v = !strcmp(suffix, "weight") ? 1.0f : 0.0f;
            for (size_t k = 0; k < t->n; k++) h[k] = v;
        } else if (t->ndim == 4) {
            /* kaiming normal, mode fan_out, gain sqrt(2) */
            double fan_out = (double)t->shape[0] * t->shape[2] * t->shape[3];
            double sd = sqrt(2.0 / fan_out);
            for (size_t k = 0; k < t->n; k++) h[k] = (float)(sd * lirf_rng_normal(&s));
        } else {
            /* linear weight / bias and conv bias: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
            double fan_in = 1;
            if (t->ndim == 2) fan_in = t->shape[1];
            else {
                /* bias: fan_in of its weight, the tensor before it */
                const lirf_tensor_desc *w = &n->t[i - 1];
                fan_in = w->ndim == 4 ? (double)w->shape[1] * w->shape[2] * w->shape[3]
                                      : (double)w->shape[1];
            }
            double b = 1.0 / sqrt(fan_in);
            for (size_t k = 0; k < t->n; k++) h[k] = (float)((2 * lirf_rng_uniform(&s) - 1) * b);
        }
        st = lirf_net_tensor_set(n, i, h);
    }
    free(h);
    if (st == LIRF_OK && n->nparams) st = lirf_buf_fill(n->ctx, n->mom, 0);
    if (st == LIRF_OK && n->nparams) st = lirf_buf_fill(n->ctx, n->grads, 0);
    return st;
}

lirf_status lirf_net_copy(lirf_net *dst, const lirf_net *src, size_t *copied) {
    if (!dst || !src) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_copy: NULL net");
    size_t cnt = 0;
    for (size_t i = 0; i < dst->nt; i++) {
        int j = lirf_net_find(src, dst->t[i].name);
        if (j < 0) continue;
        const lirf_tensor_desc *a = &dst->t[i], *b = &src->t[j];
        if (a->ndim != b->ndim || a->n != b->n || memcmp(a->shape, b->shape, sizeof a->shape))
            return LIRF_FAIL(LIRF_E_SHAPE, "tensor %s: shapes differ between the two nets",
                             a->name);
        if (a->kind == LIRF_T_COUNT) dst->counters[i] = src->counters[j];
        else
            LIRF_TRY(lirf_buf_copy(dst->ctx, lirf_net_tensor_buf(dst, i),
                                   lirf_net_tensor_buf(src, (size_t)j), a->n));
        cnt++;
    }
    if (copied) *copied = cnt;
    return LIRF_OK;
}

lirf_status lirf_net_zero_grads(lirf_net *n) {
    if (!n) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_zero_grads: NULL net");
    return n->nparams ? lirf_buf_fill(n->ctx, n->grads, 0) : LIRF_OK;
}

lirf_status lirf_net_count_nonfinite(lirf_net *n, lirf_buf counter) {
    if (!n) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_count_nonfinite: NULL net");
    LIRF_TRY(lirf_buf_fill_int(n->ctx, counter, 0));
    lirf_buf stats = lirf_net_stats(n);
    if (n->nparams) LIRF_TRY(lirf_count_nonfinite(n->ctx, counter, n->grads, n->nparams));
    if (stats.mem && stats.n) LIRF_TRY(lirf_count_nonfinite(n->ctx, counter, stats, stats.n));
    return LIRF_OK;
}

/* the first non-finite element of a tensor, read from the device */
static lirf_status first_nonfinite(lirf_net *n, lirf_buf b, float *tmp, int *found, int *is_nan) {
    *found = 0;
    LIRF_TRY(lirf_buf_read(n->ctx, b, tmp, b.n));
    for (size_t j = 0; j < b.n; j++)
        if (!isfinite(tmp[j])) {
            *found = 1, *is_nan = isnan(tmp[j]);
            break;
        }
    return LIRF_OK;
}

lirf_status lirf_net_nonfinite_name(lirf_net *n, char *name, size_t cap) {
    if (!n || !name || cap == 0) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_nonfinite_name: NULL");
    name[0] = 0;
    size_t most = 1;
    for (size_t i = 0; i < lirf_net_ntensors(n); i++)
        if (lirf_net_tensor(n, i)->n > most) most = lirf_net_tensor(n, i)->n;
    float *tmp = malloc(most * sizeof *tmp);
    if (!tmp) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = LIRF_OK;
    for (int pass = 0; pass < 2 && st == LIRF_OK && !name[0]; pass++) /* gradients, then stats */
        for (size_t i = 0; i < lirf_net_ntensors(n) && st == LIRF_OK && !name[0]; i++) {
            const lirf_tensor_desc *t = lirf_net_tensor(n, i);
            if (t->kind != (pass ? LIRF_T_STAT : LIRF_T_PARAM) || !t->n) continue;
            int found, is_nan;
            st = first_nonfinite(n, pass ? lirf_net_tensor_buf(n, i) : lirf_net_tensor_grad(n, i),
                                 tmp, &found, &is_nan);
            if (st == LIRF_OK && found)
                snprintf(name, cap, "%s %s (%s)", pass ? "running statistic" : "gradient of",
                         t->name, is_nan ? "NaN" : "infinite");
        }
    free(tmp);
    return st;
}

/* ---- tape ---- */
lirf_status lirf_tape_create(lirf_tape **out) {
    if (!out) return LIRF_FAIL(LIRF_E_NULL, "lirf_tape_create: NULL output");
    *out = calloc(1, sizeof **out);
    return *out ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}
void lirf_tape_destroy(lirf_tape *t) { free(t); }

lirf_status lirf_tape_output(const lirf_tape *t, int stage, lirf_buf *out) {
    if (!t || !out || !t->net) return LIRF_FAIL(LIRF_E_NULL, "lirf_tape_output: empty tape");
    const lirf_net_config *c = &t->net->cfg;
    if (stage < c->first || stage > c->last)
        return LIRF_FAIL(LIRF_E_INVALID, "stage %d is not in this net (%d..%d)", stage, c->first,
                         c->last);
    const stage_tape *s = &t->s[stage];
    int nb = t->net->st[stage].nblocks;
    *out = nb ? s->b[nb - 1].out : s->out;
    return LIRF_OK;
}

/* ---- forward ---- */
typedef struct {
    lirf_net *n;
    lirf_arena *ws;
    lirf_mode mode;
    int N;
} pass;

static lirf_status get(pass *p, size_t cnt, lirf_buf *b) { return lirf_arena_get(p->ws, cnt, b); }
static lirf_buf T(lirf_net *n, int i) { return lirf_net_tensor_buf(n, (size_t)i); }
static lirf_buf G(lirf_net *n, int i) { return lirf_net_tensor_grad(n, (size_t)i); }

static lirf_status conv_fwd(pass *p, conv_l *c, lirf_buf x, lirf_buf *y) {
    c->s.N = p->N;
    size_t cnt = (size_t)p->N * c->s.K * lirf_conv_out_h(&c->s) * lirf_conv_out_w(&c->s);
    LIRF_TRY(get(p, cnt, y));
    return lirf_conv2d_forward(p->n->ctx, *y, x, T(p->n, c->w), c->b >= 0 ? T(p->n, c->b) : LIRF_NOBUF,
                               &c->s);
}

static lirf_status bn_fwd(pass *p, bn_l *b, lirf_buf x, int HW, lirf_buf *y, lirf_buf *m,
                          lirf_buf *s) {
    lirf_net *n = p->n;
    LIRF_TRY(get(p, (size_t)p->N * b->C * HW, y));
    if (p->mode == LIRF_MODE_TRAIN) {
        LIRF_TRY(get(p, (size_t)b->C, m));
        LIRF_TRY(get(p, (size_t)b->C, s));
        n->counters[b->count]++;
        return lirf_bn_forward_train(n->ctx, *y, *m, *s, T(n, b->rmean), T(n, b->rvar), x,
                                     T(n, b->gamma), T(n, b->beta), p->N, b->C, HW, BN_EPS,
                                     BN_MOMENTUM);
    }
    return lirf_bn_forward_infer(n->ctx, *y, x, T(n, b->gamma), T(n, b->beta), T(n, b->rmean),
                                 T(n, b->rvar), p->N, b->C, HW, BN_EPS);
}

static lirf_status block_fwd(pass *p, block_l *b, block_tape *t, lirf_buf x) {
    lirf_ctx *ctx = p->n->ctx;
    int ohw = b->out_h * b->out_w;
    size_t nout = (size_t)p->N * b->out_c * ohw;
    lirf_buf u1, u2, ud;
    t->x = x;
    LIRF_TRY(conv_fwd(p, &b->c1, x, &t->t1));
    LIRF_TRY(bn_fwd(p, &b->b1, t->t1, ohw, &u1, &t->m1, &t->s1));
    LIRF_TRY(lirf_relu_forward(ctx, u1, u1, (size_t)p->N * b->mid_c * ohw));
    t->a1 = u1;
    LIRF_TRY(conv_fwd(p, &b->c2, t->a1, &t->t2));
    LIRF_TRY(bn_fwd(p, &b->b2, t->t2, ohw, &u2, &t->m2, &t->s2));
    lirf_buf sc = x;
    if (b->down) {
        LIRF_TRY(conv_fwd(p, &b->cd, x, &t->td));
        LIRF_TRY(bn_fwd(p, &b->bd, t->td, ohw, &ud, &t->md, &t->sd));
        sc = ud;
    }
    /* out = relu(bn2 + shortcut), written over u2 */
    LIRF_TRY(lirf_add_relu(ctx, u2, u2, sc, nout));
    t->out = u2;
    return LIRF_OK;
}

/* conv1 - bn1 - relu [- max pool 3/2/1]: t conv out, u relu out, out */
static lirf_status stem_fwd(pass *p, stage_l *st, stage_tape *t, lirf_buf x) {
    lirf_ctx *ctx = p->n->ctx;
    int chw = st->conv_h * st->conv_w;
    LIRF_TRY(conv_fwd(p, &st->conv, x, &t->t));
    LIRF_TRY(bn_fwd(p, &st->bn, t->t, chw, &t->u, &t->m, &t->s));
    LIRF_TRY(lirf_relu_forward(ctx, t->u, t->u, (size_t)p->N * st->out_c * chw));
    if (!st->pool) {
        t->out = t->u;
        return LIRF_OK;
    }
    size_t nout = (size_t)p->N * st->out_c * st->out_h * st->out_w;
    LIRF_TRY(get(p, nout, &t->out));
    LIRF_TRY(get(p, nout, &t->idx));
    return lirf_maxpool_forward(ctx, t->out, t->idx, t->u, p->N, st->out_c, st->conv_h,
                                st->conv_w, 3, 2, 1);
}

static lirf_status stage_fwd(pass *p, int s, stage_tape *t, lirf_buf x, lirf_buf *out) {
    lirf_net *n = p->n;
    stage_l *st = &n->st[s];
    lirf_ctx *ctx = n->ctx;
    t->x = x;
    int hw = st->in_h * st->in_w;
    if (st->kind != LIRF_STAGE_CONV && !st->fc_hidden) { /* ResNet stages */
        if (st->kind == LIRF_STAGE_STEM) {
            LIRF_TRY(stem_fwd(p, st, t, x));
            *out = t->out;
        } else if (st->nblocks) {
            lirf_buf cur = x;
            for (int b = 0; b < st->nblocks; b++) {
                LIRF_TRY(block_fwd(p, &st->blocks[b], &t->b[b], cur));
                cur = t->b[b].out;
            }
            *out = cur;
        } else {
            LIRF_TRY(get(p, (size_t)p->N * st->in_c, &t->pooled));
            LIRF_TRY(lirf_gap_forward(ctx, t->pooled, x, p->N, st->in_c, hw));
            LIRF_TRY(get(p, (size_t)p->N * n->cfg.classes, &t->out));
            LIRF_TRY(lirf_linear_forward(ctx, t->out, t->pooled, T(n, st->fc_w), T(n, st->fc_b),
                                         p->N, st->in_c, n->cfg.classes));
            *out = t->out;
        }
        return LIRF_OK;
    }
    /* CNN stages */
    if (st->kind == LIRF_STAGE_CONV) {
        LIRF_TRY(conv_fwd(p, &st->conv, x, &t->t));
        LIRF_TRY(bn_fwd(p, &st->bn, t->t, hw, &t->u, &t->m, &t->s));
        size_t nout = (size_t)p->N * st->out_c * st->out_h * st->out_w;
        LIRF_TRY(get(p, nout, &t->out));
        LIRF_TRY(get(p, nout, &t->idx));
        LIRF_TRY(lirf_maxpool2_forward(ctx, t->out, t->idx, t->u, p->N, st->out_c, st->in_h,
                                       st->in_w));
        LIRF_TRY(lirf_relu_forward(ctx, t->out, t->out, nout));
        *out = t->out;
        return LIRF_OK;
    }
    LIRF_TRY(get(p, (size_t)p->N * st->fc_hidden, &t->h));
    LIRF_TRY(lirf_linear_forward(ctx, t->h, x, T(n, st->fc1_w), T(n, st->fc1_b), p->N, st->fc_in,
                                 st->fc_hidden));
    LIRF_TRY(lirf_relu_forward(ctx, t->h, t->h, (size_t)p->N * st->fc_hidden));
    LIRF_TRY(get(p, (size_t)p->N * n->cfg.classes, &t->out));
    LIRF_TRY(lirf_linear_forward(ctx, t->out, t->h, T(n, st->fc_w), T(n, st->fc_b), p->N,
                                 st->fc_hidden, n->cfg.classes));
    *out = t->out;
    return LIRF_OK;
}

lirf_status lirf_net_forward(lirf_net *n, lirf_arena *ws, lirf_tape *tape, lirf_mode mode,
                             lirf_buf x, int N, lirf_buf *out) {
    if (!n || !ws || !out) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_forward: NULL argument");
    if (mode != LIRF_MODE_EVAL && !tape)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_net_forward: training needs a tape");
    if (N <= 0) return LIRF_FAIL(LIRF_E_INVALID, "lirf_net_forward: batch %d", N);
    stage_l *first = &n->st[n->cfg.first];
    LIRF_TRY(lirf_check_buf(x, (size_t)N * first->in_c * first->in_h * first->in_w, "net_forward",
                            "x"));
    lirf_tape scratch; /* an eval pass without a tape: nothing outlives the call */
    lirf_tape *t = tape ? tape : &scratch;
    memset(t, 0, sizeof *t);
    t->net = n, t->mode = mode, t->N = N;
    pass p = {n, ws, mode, N};
    lirf_buf cur = x;
    for (int s = n->cfg.first; s <= n->cfg.last; s++) LIRF_TRY(stage_fwd(&p, s, &t->s[s], cur, &cur));
    *out = cur;
    return LIRF_OK;
}

/* ---- backward ---- */
static int want_params(const pass *p) { return p->mode != LIRF_MODE_FROZEN; }

/* dy -> dx through conv c (input x) into dxb (NOBUF: parameters only) */
static lirf_status conv_bwd_into(pass *p, conv_l *c, lirf_buf dy, lirf_buf x, lirf_buf dxb) {
    lirf_net *n = p->n;
    c->s.N = p->N;
    int wp = want_params(p);
    return lirf_conv2d_backward(n->ctx, dxb, wp ? G(n, c->w) : LIRF_NOBUF,
                                (wp && c->b >= 0) ? G(n, c->b) : LIRF_NOBUF, dy, x, T(n, c->w),
                                &c->s);
}

/* the same into a new view *dx of the arena; dx optional */
static lirf_status conv_bwd(pass *p, conv_l *c, lirf_buf dy, lirf_buf x, lirf_buf *dx) {
    lirf_buf dxb = LIRF_NOBUF;
    if (dx) {
        LIRF_TRY(get(p, (size_t)p->N * c->s.C * c->s.H * c->s.W, &dxb));
        *dx = dxb;
    }
    return conv_bwd_into(p, c, dy, x, dxb);
}

/* dy -> dx through batch norm b; *dx is a new view, or dy itself (in place)
 * when it arrives as dy (every BN backward allows dx = dy) */
static lirf_status bn_bwd(pass *p, bn_l *b, lirf_buf dy, lirf_buf x, lirf_buf m, lirf_buf s,
                          int HW, lirf_buf *dx) {
    lirf_net *n = p->n;
    if (dx->mem != dy.mem || dx->off != dy.off) LIRF_TRY(get(p, (size_t)p->N * b->C * HW, dx));
    if (p->mode == LIRF_MODE_TRAIN)
        return lirf_bn_backward(n->ctx, *dx, G(n, b->gamma), G(n, b->beta), dy, x, m, s,
                                T(n, b->gamma), p->N, b->C, HW);
    int wp = want_params(p);
    return lirf_bn_backward_infer(n->ctx, *dx, wp ? G(n, b->gamma) : LIRF_NOBUF,
                                  wp ? G(n, b->beta) : LIRF_NOBUF, dy, x, T(n, b->gamma),
                                  T(n, b->rmean), T(n, b->rvar), p->N, b->C, HW, BN_EPS);
}

/* dout -> the block's input gradient into dx (NOBUF: parameters only). The
 * block's temporaries are released at the end (the caller took dx before).
 * dout_owned: dout is this pass's own buffer, free to overwrite. */
static lirf_status block_bwd_body(pass *p, block_l *b, block_tape *t, lirf_buf dout,
                                  int dout_owned, lirf_buf dx) {
    lirf_ctx *ctx = p->n->ctx;
    int ohw = b->out_h * b->out_w;
    size_t nout = (size_t)p->N * b->out_c * ohw;
    size_t nin = (size_t)p->N * b->in_c * b->in_h * b->in_w;
    lirf_buf g, dt2 = LIRF_NOBUF, da1, dt1;
    /* dout is dead after this: when it is the pass's own, g takes its place */
    if (dout_owned) g = dout;
    else LIRF_TRY(get(p, nout, &g));
    LIRF_TRY(lirf_relu_backward(ctx, g, dout, t->out, nout));
    LIRF_TRY(bn_bwd(p, &b->b2, g, t->t2, t->m2, t->s2, ohw, &dt2));
    LIRF_TRY(conv_bwd(p, &b->c2, dt2, t->a1, &da1));
    LIRF_TRY(lirf_relu_backward(ctx, da1, da1, t->a1, (size_t)p->N * b->mid_c * ohw));
    dt1 = da1; /* in place: da1 is not needed after */
    LIRF_TRY(bn_bwd(p, &b->b1, da1, t->t1, t->m1, t->s1, ohw, &dt1));
    /* without dx nothing below needs the input gradient: parameters only */
    LIRF_TRY(conv_bwd_into(p, &b->c1, dt1, t->x, dx));
    if (b->down) {
        lirf_buf dtd = LIRF_NOBUF, dxs;
        LIRF_TRY(bn_bwd(p, &b->bd, g, t->td, t->md, t->sd, ohw, &dtd));
        LIRF_TRY(conv_bwd(p, &b->cd, dtd, t->x, dx.mem ? &dxs : NULL));
        if (dx.mem) LIRF_TRY(lirf_add(ctx, dx, dx, dxs, nin));
    } else if (dx.mem) {
        LIRF_TRY(lirf_add(ctx, dx, dx, g, nin));
    }
    return LIRF_OK;
}

static lirf_status block_bwd(pass *p, block_l *b, block_tape *t, lirf_buf dout, int dout_owned,
                             lirf_buf dx) {
    lirf_arena_pos mark = lirf_arena_mark(p->ws);
    LIRF_TRY(block_bwd_body(p, b, t, dout, dout_owned, dx));
    return lirf_arena_release(p->ws, mark);
}

/* the stem backwards: [max pool,] relu, bn1, conv1 into dxb (NOBUF: parameters only) */
static lirf_status stem_bwd(pass *p, stage_l *st, stage_tape *t, lirf_buf dout, int dout_owned,
                            lirf_buf dxb) {
    lirf_ctx *ctx = p->n->ctx;
    int chw = st->conv_h * st->conv_w;
    size_t nconv = (size_t)p->N * st->out_c * chw;
    lirf_buf g, dt;
    if (st->pool) {
        LIRF_TRY(get(p, nconv, &g));
        LIRF_TRY(lirf_maxpool_backward(ctx, g, dout, t->idx, p->N, st->out_c, st->conv_h,
                                       st->conv_w, 3, 2, 1));
        LIRF_TRY(lirf_relu_backward(ctx, g, g, t->u, nconv));
    } else {
        if (dout_owned) g = dout;
        else LIRF_TRY(get(p, nconv, &g));
        LIRF_TRY(lirf_relu_backward(ctx, g, dout, t->u, nconv));
    }
    dt = g; /* in place */
    LIRF_TRY(bn_bwd(p, &st->bn, g, t->t, t->m, t->s, chw, &dt));
    return conv_bwd_into(p, &st->conv, dt, t->x, dxb);
}

/* dout -> the stage's input gradient: none when dx is NULL, else into *dx
 * when dx->mem is set (ResNet-18, lirf_net_backward's ping-pong buffers),
 * else into a new view. dout_owned: dout is this pass's own, free to
 * overwrite (not the caller's). */
static lirf_status stage_bwd(pass *p, int s, stage_tape *t, lirf_buf dout, int dout_owned,
                             lirf_buf *dx) {
    lirf_net *n = p->n;
    stage_l *st = &n->st[s];
    lirf_ctx *ctx = n->ctx;
    int hw = st->in_h * st->in_w;
    int wp = want_params(p);
    if (st->kind != LIRF_STAGE_CONV && !st->fc_hidden) { /* ResNet stages */
        /* the stage's input gradient first, then its temporaries, released
         * at the end (the arena is a stack) */
        if (st->kind == LIRF_STAGE_STEM || st->kind == LIRF_STAGE_RES) {
            lirf_buf dxb = LIRF_NOBUF;
            if (dx) {
                if (!dx->mem) LIRF_TRY(get(p, (size_t)p->N * st->in_c * hw, dx));
                dxb = *dx;
            }
            lirf_arena_pos mark = lirf_arena_mark(p->ws);
            if (st->kind == LIRF_STAGE_STEM) {
                LIRF_TRY(stem_bwd(p, st, t, dout, dout_owned, dxb));
            } else { /* the blocks backwards, each into its input's gradient */
                lirf_buf g = dout;
                int owned = dout_owned;
                for (int b = st->nblocks - 1; b >= 0; b--) {
                    block_l *bl = &st->blocks[b];
                    lirf_buf into = dxb;
                    if (b > 0) LIRF_TRY(get(p, (size_t)p->N * bl->in_c * bl->in_h * bl->in_w, &into));
                    LIRF_TRY(block_bwd(p, bl, &t->b[b], g, owned, into));
                    g = into, owned = 1;
                }
            }
            return lirf_arena_release(p->ws, mark);
        }
        lirf_buf dpool;
        LIRF_TRY(get(p, (size_t)p->N * st->in_c, &dpool));
        LIRF_TRY(lirf_linear_backward(ctx, dpool, wp ? G(n, st->fc_w) : LIRF_NOBUF,
                                      wp ? G(n, st->fc_b) : LIRF_NOBUF, dout, t->pooled,
                                      T(n, st->fc_w), p->N, st->in_c, n->cfg.classes));
        if (!dx) return LIRF_OK;
        if (!dx->mem) LIRF_TRY(get(p, (size_t)p->N * st->in_c * hw, dx));
        return lirf_gap_backward(ctx, *dx, dpool, p->N, st->in_c, hw);
    }
    if (st->kind == LIRF_STAGE_CONV) {
        size_t nout = (size_t)p->N * st->out_c * st->out_h * st->out_w;
        size_t nmid = (size_t)p->N * st->out_c * hw;
        lirf_buf g, du, dt = LIRF_NOBUF;
        LIRF_TRY(get(p, nout, &g));
        LIRF_TRY(lirf_relu_backward(ctx, g, dout, t->out, nout));
        LIRF_TRY(get(p, nmid, &du));
        LIRF_TRY(lirf_maxpool2_backward(ctx, du, g, t->idx, p->N, st->out_c, st->in_h, st->in_w));
        LIRF_TRY(bn_bwd(p, &st->bn, du, t->t, t->m, t->s, hw, &dt));
        return conv_bwd(p, &st->conv, dt, t->x, dx);
    }
    lirf_buf dh;
    LIRF_TRY(get(p, (size_t)p->N * st->fc_hidden, &dh));
    LIRF_TRY(lirf_linear_backward(ctx, dh, wp ? G(n, st->fc_w) : LIRF_NOBUF,
                                  wp ? G(n, st->fc_b) : LIRF_NOBUF, dout, t->h, T(n, st->fc_w),
                                  p->N, st->fc_hidden, n->cfg.classes));
    LIRF_TRY(lirf_relu_backward(ctx, dh, dh, t->h, (size_t)p->N * st->fc_hidden));
    lirf_buf dxb = LIRF_NOBUF;
    if (dx) {
        LIRF_TRY(get(p, (size_t)p->N * st->fc_in, &dxb));
        *dx = dxb;
    }
    return lirf_linear_backward(ctx, dxb, wp ? G(n, st->fc1_w) : LIRF_NOBUF,
                                wp ? G(n, st->fc1_b) : LIRF_NOBUF, dh, t->x, T(n, st->fc1_w),
                                p->N, st->fc_in, st->fc_hidden);
}

lirf_status lirf_net_backward(lirf_net *n, lirf_arena *ws, lirf_tape *tape, lirf_buf dout,
                              lirf_buf *dx) {
    if (!n || !ws || !tape) return LIRF_FAIL(LIRF_E_NULL, "lirf_net_backward: NULL argument");
    if (tape->net != n || tape->mode == LIRF_MODE_EVAL)
        return LIRF_FAIL(LIRF_E_INVALID, "lirf_net_backward: the tape is not a training pass of "
                                         "this net");
    stage_l *last = &n->st[n->cfg.last];
    LIRF_TRY(lirf_check_buf(dout, (size_t)tape->N * last->out_c * last->out_h * last->out_w,
                            "net_backward", "dout"));
    pass p = {n, ws, tape->mode, tape->N};
    /* ResNet-18: the gradients between stages alternate between two buffers
     * of the largest size, taken before any stage's temporaries, so each
     * stage's output gradient reuses the memory of the one before last */
    lirf_buf pp[2] = {LIRF_NOBUF, LIRF_NOBUF};
    int resnet = n->st[n->cfg.last].kind != LIRF_STAGE_CONV && !n->st[n->cfg.last].fc_hidden;
    if (resnet) {
        size_t gmax = 0;
        for (int s = n->cfg.first; s <= n->cfg.last; s++) {
            size_t e = (size_t)tape->N * n->st[s].in_c * n->st[s].in_h * n->st[s].in_w;
            if ((s > n->cfg.first || dx) && e > gmax) gmax = e;
        }
        int need = n->cfg.last - n->cfg.first + (dx != NULL); /* stages that pass one on */
        for (int i = 0; i < 2 && i < need; i++) LIRF_TRY(get(&p, gmax, &pp[i]));
    }
    lirf_buf g = dout;
    for (int s = n->cfg.last, k = 0; s >= n->cfg.first; s--, k ^= 1) {
        int need_dx = s > n->cfg.first || dx != NULL;
        lirf_buf next = LIRF_NOBUF;
        if (need_dx && resnet)
            next = (lirf_buf){pp[k].mem, pp[k].off,
                              (size_t)tape->N * n->st[s].in_c * n->st[s].in_h * n->st[s].in_w};
        LIRF_TRY(stage_bwd(&p, s, &tape->s[s], g, s < n->cfg.last, need_dx ? &next : NULL));
        g = next;
    }
    if (dx) *dx = g;
    return LIRF_OK;
}
