/* Host side of 2-D convolution (cl_kernels/conv.cl): im2col + CLBlast GEMM,
 * row-major. Reference: model/ref/ref_conv.c.
 *
 * The batch runs in chunks of nb images so that the scratch stays bounded:
 * nb = max(1, min(N, limit / (max(CRS, K) * HoWo))) with CRS = C*R*S, where
 * limit is the element budget of one scratch slot, 2 Mi floats (8 MiB) by default
 * and at most 2/5 of the device's largest allocation (CLBlast's temporary
 * buffer for the GEMM holds about two slots' worth; a slot grows to 1.25x);
 * also nb * HoWo < 2^22 (im2col indexes a chunk's columns in float) and
 * nb * C*H*W <= INT_MAX (int indices into x).
 * The environment variable LIRF_CONV_CHUNK_ELEMS (a positive integer) sets
 * another limit; the tests use it to force several chunks.
 *
 * Scratch slots (L = nb * HoWo):
 *   0: col  (CRS, L)  im2col of the chunk's input
 *   1: tmp  (K, L)    forward GEMM output; in backward dyp, dy in GEMM layout
 *   0: dcol (CRS, L)  W^T x dyp, gathered into dx by col2im (backward with dx;
 *                     slot 0 again: the weight gradient's GEMM has read col
 *                     by then, and the queue is in order)
 * Shortcuts: a 1x1, stride-1, unpadded ("pointwise") conv needs no im2col: col
 * is x permuted to GEMM layout and dx is dcol permuted back. With one image
 * per chunk (nb = 1) the GEMM layout (rows, HoWo) of an image is its NCHW
 * layout, so the GEMMs read and write x, y (no bias), dy and (pointwise) dx in
 * place and the matching scratch is not used.
 *
 * Kernels run on 2-D or 3-D ranges whose dimension 0 walks consecutive
 * addresses (a row of col, a plane of NCHW), see launch3 and conv.cl; the
 * kernel for a shape is picked by filter size and stride (im2col, col2im).
 * Limit: the padded input plane (H + 2 pad) * (W + 2 pad) is below 2^22
 * pixels (the kernels divide pixel indices in float).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* 2 Mi floats: small enough that the scratch stays a small part of a training
 * step's memory (bench_train: peak 1.41x of parameters, gradients, momentum
 * and saved activations at width 64, batch 64, was 2.46x with 64 Mi), large
 * enough that the GEMMs keep their speed (measured the same within noise). */
#define CONV_CHUNK_DEFAULT ((size_t)2 << 20)
#define CONV_MAX_PLANE (1LL << 22) /* (H + 2 pad) * (W + 2 pad) must stay below */

static int out_size(long long in, long long pad, long long k, long long stride) {
    if (stride <= 0 || in <= 0 || k <= 0 || pad < 0) return 0;
    long long span = in + 2 * pad - k;
    if (span < 0) return 0;
    long long o = span / stride + 1;
    return o > INT_MAX ? 0 : (int)o;
}

/* 0 when the shape is invalid or the kernel is larger than the padded input. */
int lirf_conv_out_h(const lirf_conv_shape *s) {
    return s ? out_size(s->H, s->pad, s->R, s->stride) : 0;
}

int lirf_conv_out_w(const lirf_conv_shape *s) {
    return s ? out_size(s->W, s->pad, s->S, s->stride) : 0;
}

/* The sizes of one convolution, all validated. */
typedef struct {
    size_t N, CHW, KHoWo, CRS, K, HoWo;
    size_t nb; /* images per chunk */
} conv_dims;

static size_t chunk_limit(void) {
    size_t v = lirf_options_get()->conv_chunk_elems;
    return v ? v : CONV_CHUNK_DEFAULT;
}

static lirf_status check_shape(lirf_ctx *ctx, const char *op, const lirf_conv_shape *s,
                               conv_dims *d) {
    if (!s) return LIRF_FAIL(LIRF_E_NULL, "%s: shape is NULL", op);
    LIRF_TRY(lirf_check_dims(op, 8, s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride));
    if (s->pad < 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: pad is %d (must be >= 0)", op, s->pad);
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    if (Ho <= 0 || Wo <= 0)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: kernel %dx%d does not fit input %dx%d with pad %d", op,
                         s->R, s->S, s->H, s->W, s->pad);
    /* the kernels divide pixel indices in float (conv.cl: conv_div) */
    if ((long long)(s->H + 2LL * s->pad) * (s->W + 2LL * s->pad) >= CONV_MAX_PLANE)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: padded input plane %lldx%lld has 2^22 pixels or more",
                         op, s->H + 2LL * s->pad, s->W + 2LL * s->pad);
    d->N = (size_t)s->N;
    d->CHW = (size_t)s->C * s->H * s->W;
    d->HoWo = (size_t)Ho * Wo;
    d->K = (size_t)s->K;
    d->KHoWo = d->K * d->HoWo;
    d->CRS = (size_t)s->C * s->R * s->S;
    size_t rows = d->CRS > d->K ? d->CRS : d->K;
    size_t per_image = rows * d->HoWo;
    if (per_image > (size_t)INT_MAX || d->CHW > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: one image needs %zu scratch elements or has %zu "
                         "input elements (> INT_MAX)", op, per_image, d->CHW);
    size_t limit = chunk_limit();
    /* keep every buffer within the device's largest allocation: CLBlast's
     * temporary for a chunk's GEMM holds about (CRS + K) * L <= 2 * limit
     * elements, and a scratch slot grows to 1.25x what is asked */
    cl_ulong max_alloc = lirf_ctx_device(ctx)->max_alloc;
    if (max_alloc && limit > max_alloc / sizeof(float) / 5 * 2) limit = max_alloc / sizeof(float) / 5 * 2;
    if (limit > (size_t)INT_MAX) limit = (size_t)INT_MAX;
    size_t nb = limit / per_image;
    if (nb < 1) nb = 1;
    if (nb > d->N) nb = d->N;
    if (nb > (size_t)(CONV_MAX_PLANE - 1) / d->HoWo) /* im2col: nb * HoWo < 2^22 */
        nb = (size_t)(CONV_MAX_PLANE - 1) / d->HoWo;
    if (nb > (size_t)INT_MAX / d->CHW) nb = (size_t)INT_MAX / d->CHW; /* int x indices */
    d->nb = nb;
    return LIRF_OK;
}

/* A view of n elements at element offset off inside b (b already checked). */
static lirf_buf sub(lirf_buf b, size_t off, size_t n) {
    return (lirf_buf){b.mem, b.off + off, n};
}

/* A 1x1, stride-1, unpadded convolution: col is x in GEMM layout (a permute;
 * for one image, x itself) and dx is dcol in NCHW layout. */
static int is_pointwise(const lirf_conv_shape *s) {
    return s->R == 1 && s->S == 1 && s->stride == 1 && s->pad == 0;
}

/* Launch k over the range (n0, n1, n2): dimension 0 is the pixel in a plane
 * (consecutive addresses), 1 the channel, 2 the image. The local size is
 * (l0, l1, 1), at most 256 and within the kernel's limit (lirf_kernel_wg):
 * l0 is the kernel's preferred work-group multiple m (the SIMD width; queried)
 * times a power of two: the largest one that rounds n0 up by at most 1/8,
 * else the one that rounds it up least. `narrow` caps l0 at max(m, 32): for
 * kernels with little work per item (a few taps) a group then spans several
 * channels, and PoCL hoists the per-pixel index arithmetic out of the loop over
 * them. l1 is the largest power of two that divides n1 and fills the group. */
static lirf_status launch3(lirf_ctx *ctx, cl_kernel k, const char *label, size_t n0, size_t n1,
                           size_t n2, int narrow) {
    size_t wg, m = 1;
    LIRF_TRY(lirf_kernel_wg(ctx, k, 256, &wg));
    LIRF_CHECK_CL(clGetKernelWorkGroupInfo(k, lirf_ctx_device(ctx)->device,
                                           CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE,
                                           sizeof m, &m, NULL),
                  "clGetKernelWorkGroupInfo");
    if (m < 1 || m > wg) m = 1;
    size_t cap = narrow ? (m > 32 ? m : 32) : wg;
    size_t l0 = 0, best = 0;
    for (size_t l = m; l <= wg && l <= cap; l *= 2) {
        size_t padded = (n0 + l - 1) / l * l;
        if (padded * 8 <= n0 * 9) l0 = l;                 /* the largest with little waste */
        if (!best || padded < (n0 + best - 1) / best * best) best = l; /* least waste */
        if (l >= n0) break;                              /* one group covers the plane */
    }
    if (!l0) l0 = best ? best : 1;
    size_t l1 = 1;
    while (l0 * l1 * 2 <= wg && n1 % (l1 * 2) == 0) l1 *= 2;
    size_t gws[3] = {n0, n1, n2}, lws[3] = {l0, l1, 1};
    return lirf_launch(ctx, k, label, 3, gws, lws);
}

/* col (CRS, nb*HoWo) = im2col of x (nb, C, H, W). */
static lirf_status im2col(lirf_ctx *ctx, lirf_buf col, lirf_buf x, int nb,
                          const lirf_conv_shape *s) {
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    cl_kernel k;
    if (is_pointwise(s)) {
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "nchw_to_gemm", &k));
        LIRF_TRY(lirf_set_args(ctx, k, "bbiii", col, x, nb, s->C, Ho * Wo));
        return launch3(ctx, k, "conv2d/im2col", ((size_t)Ho * Wo + 15) / 16, (size_t)s->C,
                       (size_t)nb, 0);
    }
    int taps = s->R > s->S ? s->R : s->S;
    const char *name = taps == 1 ? "im2col_k1" : taps <= 3 ? "im2col_k3" : "im2col";
    LIRF_TRY(lirf_kernel_get(ctx, "conv", name, &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiiiiiiff", col, x, nb, s->C, s->H, s->W, s->R, s->S,
                           s->stride, s->pad, Ho, Wo, 1.0 / ((double)Ho * Wo), 1.0 / Wo));
    return launch3(ctx, k, "conv2d/im2col", (size_t)nb * Ho * Wo, (size_t)s->C, 1, taps == 1);
}

/* The im2col of x (nb, C, H, W) written as the packed B operand of the
 * packed GEMM engine (lirf_gemm_prepacked_b): of the forward GEMM (dw 0: B =
 * col, K = CRS, N = L) or of the weight gradient's (dw 1: B = col^T, K = L,
 * N = CRS). pk holds lirf_gemm_packed_b_elems(N, K). */
static lirf_status im2col_packed(lirf_ctx *ctx, lirf_buf pk, lirf_buf x, int nb,
                                 const lirf_conv_shape *s, int dw) {
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    size_t L = (size_t)nb * Ho * Wo, CRS = (size_t)s->C * s->R * s->S;
    size_t Kt = dw ? L : CRS, N = dw ? CRS : L;
    size_t slice = lirf_gemm_packed_slice(Kt), np = lirf_gemm_packed_b_elems(N, 1);
    cl_kernel k;
    if (dw) {
        /* writes the padding rows too */
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "im2col_dw", &k));
        LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiiiiiiffifiiff", pk, x, nb, s->C, s->H, s->W, s->R,
                               s->S, s->stride, s->pad, Ho, Wo, 1.0 / ((double)Ho * Wo), 1.0 / Wo,
                               (int)slice, 1.0 / (double)slice, (int)Kt, (int)np,
                               1.0 / ((double)s->R * s->S), 1.0 / s->S));
        return launch3(ctx, k, "conv2d/im2col_packed_dw", 32, L, np / 32, 0);
    }
    /* padding columns are never read into C, but zeros keep subnormals and
     * NaNs (slow on some CPUs) out of the arithmetic */
    if (N % 32) LIRF_TRY(lirf_buf_fill(ctx, pk, 0.0f));
    int taps = s->R > s->S ? s->R : s->S;
    const char *name = taps == 1 ? "im2col_k1_fwd" : taps <= 3 ? "im2col_k3_fwd" : "im2col_fwd";
    LIRF_TRY(lirf_kernel_get(ctx, "conv", name, &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiiiiiiffifii", pk, x, nb, s->C, s->H, s->W, s->R, s->S,
                           s->stride, s->pad, Ho, Wo, 1.0 / ((double)Ho * Wo), 1.0 / Wo,
                           (int)slice, 1.0 / (double)slice, (int)Kt, (int)np));
    return launch3(ctx, k, "conv2d/im2col_packed", 32, (L + 31) / 32, (size_t)s->C, 0);
}

/* dx (nb, C, H, W) = col2im of dcol (CRS, nb*HoWo), written. */
static lirf_status col2im(lirf_ctx *ctx, lirf_buf dx, lirf_buf dcol, int nb,
                          const lirf_conv_shape *s) {
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    cl_kernel k;
    if (is_pointwise(s)) {
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "gemm_to_nchw", &k));
        LIRF_TRY(lirf_set_args(ctx, k, "bboiiii", dx, dcol, LIRF_NOBUF, 0, nb, s->C, Ho * Wo));
        return launch3(ctx, k, "conv2d_backward/col2im", ((size_t)Ho * Wo + 15) / 16,
                       (size_t)s->C, (size_t)nb, 0);
    }
    /* stride 1 up to 3x3: every tap, unrolled; else the taps reaching a pixel,
     * at most tmax per dimension */
    int taps = s->R > s->S ? s->R : s->S;
    int tmax = (taps + s->stride - 1) / s->stride;
    const char *name = s->stride == 1 && taps <= 3 ? "col2im_s1k3"
                       : tmax == 1                ? "col2im_t1"
                       : tmax == 2                ? "col2im_t2"
                                                  : "col2im";
    LIRF_TRY(lirf_kernel_get(ctx, "conv", name, &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiiiiiiffi", dx, dcol, nb, s->C, s->H, s->W, s->R, s->S,
                           s->stride, s->pad, Ho, Wo, 1.0 / s->W, 1.0 / s->stride, tmax));
    return launch3(ctx, k, "conv2d_backward/col2im", (size_t)s->H * s->W, (size_t)s->C,
                   (size_t)nb, s->stride > 1);
}

/* db (K) += the row sums of the first L columns of src (K rows of ld), on
 * column slices of 4096 per work-item (conv.cl: row_sum_acc). */
static lirf_status row_sums(lirf_ctx *ctx, lirf_buf db, lirf_buf src, size_t K, size_t L,
                            size_t ld) {
    cl_kernel k;
    size_t wg;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "row_sum_acc", &k));
    LIRF_TRY(lirf_kernel_wg(ctx, k, 256, &wg));
    for (size_t j0 = 0; j0 < L; j0 += 4096 * wg) {
        size_t gws = K * wg, lws = wg, n = L - j0 < 4096 * wg ? L - j0 : 4096 * wg;
        LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiL", db, src, (int)K, (int)j0, (int)n, (int)ld,
                               wg * sizeof(float)));
        LIRF_TRY(lirf_launch(ctx, k, "conv2d_backward/db", 1, &gws, &lws));
    }
    return LIRF_OK;
}

/* ---- the taps path ---------------------------------------------------------
 * A stride-1 3x3 convolution with padding 1 on the packed GEMM engine skips
 * im2col: the chunk is padded and laid out flat (conv.cl: conv_pad1, a copy
 * about the size of x instead of 9 times it), lirf_gemm_packed_taps3 reads
 * the taps straight from it, and conv_unpad1 keeps the output positions of
 * the padded grid. dx is the same product on dy padded, with the weights
 * turned round (conv_pack_w3, flip 1). The padded grid also computes the
 * positions of its borders, (H + 2)(W + 2) / (H W) as many as needed, so
 * the path is taken where that is at most 1.35 (28x28: 1.15, 14x14: 1.31;
 * not 7x7: 1.65), and only for at most 32 channels in and out: there the
 * im2col copies cost more than the products (ResNet-18 width 16 on 28x28:
 * 336 -> 249 ms a training step), while with more channels the step is
 * bound by the products and the taps path gained nothing (width 64 on
 * 32x32: 1153 ms with im2col, 1175 with taps; docs/benchmarks.md).
 * LIRF_CONV_TAPS=0 never takes it, =1 takes it for every stride-1 3x3
 * convolution with padding 1 (the tests use both). PoCL CPU devices only:
 * the kernels are built there only (runtime/program.c). */
#define TAPS_MAX_CHANNELS 32
typedef struct {
    size_t nb;    /* images per chunk */
    size_t Wp, P; /* padded row, padded plane */
    size_t cs;    /* a channel's plane stride in the padded chunk */
    size_t Q;     /* output positions of a whole chunk (nb * P) */
} taps_dims;

static int taps_setting(void) { return lirf_options_get()->conv_taps; }

static int use_taps(lirf_ctx *ctx, const lirf_conv_shape *s, const conv_dims *d, taps_dims *t) {
    if (s->R != 3 || s->S != 3 || s->stride != 1 || s->pad != 1) return 0;
    if (lirf_gemm_engine_get(ctx) != LIRF_GEMM_PACKED || !lirf_device_pocl_cpu(lirf_ctx_device(ctx)))
        return 0;
    int setting = taps_setting();
    if (setting == 0) return 0;
    size_t Wp = (size_t)s->W + 2, P = ((size_t)s->H + 2) * Wp;
    size_t ch = s->C > s->K ? (size_t)s->C : (size_t)s->K;
    if (setting < 0 && (P * 100 > d->HoWo * 135 || ch > TAPS_MAX_CHANNELS)) return 0;
    /* chunks: those of im2col (d->nb), and at most a quarter of the scratch
     * budget per padded copy (the stem, 16 channels of one, would otherwise
     * pad the whole batch at once: 7 MB for each of dy padded and the
     * product's output) */
    size_t nb = chunk_limit() / 4 / (ch * P);
    if (nb < 1) nb = 1;
    if (nb > d->nb) nb = d->nb;
    size_t Q = nb * P, cs = ((Q + 31) / 32 * 32 + 2 * Wp + 2 + 15) / 16 * 16;
    /* conv_pad1 divides plane indices in float; int indices everywhere */
    if (cs >= (size_t)CONV_MAX_PLANE || ch > (size_t)INT_MAX / cs) return 0;
    *t = (taps_dims){nb, Wp, P, cs, Q};
    return 1;
}

/* The packed weights of the taps product (conv_pack_w3): of the forward
 * (flip 0: K rows, 9 C columns) or of dx (flip 1: C rows, 9 K columns). */
static lirf_status taps_pack_w(lirf_ctx *ctx, lirf_buf w, const lirf_conv_shape *s, int flip,
                               lirf_buf *ap) {
    size_t M = flip ? (size_t)s->C : (size_t)s->K, Kt = 9 * (flip ? (size_t)s->K : (size_t)s->C);
    int mr = lirf_gemm_packed_rows(M);
    size_t mp = (M + (size_t)mr - 1) / (size_t)mr;
    LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_CONV_W, mp * (size_t)mr * Kt, ap));
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "conv_pack_w3", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiii", *ap, w, s->K, s->C, mr, flip));
    size_t wg, gws[2] = {Kt, mp}, lws[2] = {1, 1};
    LIRF_TRY(lirf_kernel_wg(ctx, k, 64, &wg));
    lws[0] = wg;
    return lirf_launch(ctx, k, "conv2d/pack_w3", 2, gws, lws);
}

/* xp = the nb images of x (ch channels, H x W) padded (conv_pad1). */
static lirf_status taps_pad(lirf_ctx *ctx, lirf_buf xp, lirf_buf x, int nb, int ch,
                            const lirf_conv_shape *s, const taps_dims *t) {
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "conv_pad1", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiii", xp, x, nb, ch, s->H, s->W, (int)t->cs));
    /* rows rounded up to 8, so that a work-group spans 8 of them (launch3) */
    size_t rows = ((t->cs + t->Wp - 1) / t->Wp + 7) / 8 * 8;
    return launch3(ctx, k, "conv2d/pad", t->Wp, rows, (size_t)ch, 0);
}

/* y (nb, ch, H, W) = the output positions of tp (ch rows of ldt), + b. */
static lirf_status taps_unpad(lirf_ctx *ctx, lirf_buf y, lirf_buf tp, size_t ldt, lirf_buf b,
                              int nb, int ch, const lirf_conv_shape *s, const char *label) {
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "conv_unpad1", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbioiiiiif", y, tp, (int)ldt, b, b.mem != NULL, nb, ch, s->H,
                           s->W, 1.0 / s->W));
    return launch3(ctx, k, label, (size_t)s->H * s->W, (size_t)ch, (size_t)nb, 0);
}

static lirf_status taps_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                const lirf_conv_shape *s, const conv_dims *d,
                                const taps_dims *t) {
    lirf_buf wp, xp, tp;
    LIRF_TRY(taps_pack_w(ctx, w, s, 0, &wp));
    LIRF_TRY(lirf_scratch(ctx, 0, (size_t)s->C * t->cs, &xp));
    LIRF_TRY(lirf_scratch(ctx, 1, d->K * t->Q, &tp));
    for (size_t n0 = 0; n0 < d->N; n0 += t->nb) {
        size_t nb = d->N - n0 < t->nb ? d->N - n0 : t->nb, Q = nb * t->P;
        lirf_buf xc = sub(x, n0 * d->CHW, nb * d->CHW), yc = sub(y, n0 * d->KHoWo, nb * d->KHoWo);
        LIRF_TRY(taps_pad(ctx, xp, xc, (int)nb, s->C, s, t));
        LIRF_TRY(lirf_gemm_packed_taps3(ctx, d->K, Q, (size_t)s->C, 1.0f, wp, xp, t->cs, t->Wp,
                                        0.0f, tp, Q));
        LIRF_TRY(taps_unpad(ctx, yc, tp, Q, b, (int)nb, s->K, s, "conv2d_forward/unpad"));
    }
    return LIRF_OK;
}

/* Output positions per block of the taps path's weight gradient (conv.cl:
 * conv_dw_taps; a multiple of 16). */
#define TAPS_DW_BLOCK 2048

/* The backward of the taps path, per chunk: dy padded (slot 2); dw from x
 * padded (slot 0) and dy padded, in blocks (partial sums in slot 1, then
 * added in order); db from the rows of dy padded (0 where no output); dx =
 * the taps product of dy padded and the weights turned round, into slot 0
 * (x padded is no longer needed), then its output positions. */
static lirf_status taps_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db,
                                 lirf_buf dy, lirf_buf x, lirf_buf w, const lirf_conv_shape *s,
                                 const conv_dims *d, const taps_dims *t) {
    size_t C = (size_t)s->C, K = d->K;
    size_t nbl = ((t->Q + 15) / 16 * 16 + TAPS_DW_BLOCK - 1) / TAPS_DW_BLOCK;
    lirf_buf wtp = LIRF_NOBUF, slot0 = LIRF_NOBUF, part = LIRF_NOBUF, dq;
    if (dx.mem) LIRF_TRY(taps_pack_w(ctx, w, s, 1, &wtp));
    if (dx.mem || dw.mem) LIRF_TRY(lirf_scratch(ctx, 0, C * t->cs, &slot0));
    if (dw.mem) LIRF_TRY(lirf_scratch(ctx, 1, nbl * K * 9 * C, &part));
    LIRF_TRY(lirf_scratch(ctx, 2, K * t->cs, &dq));
    cl_kernel kdw = NULL, ksum = NULL;
    if (dw.mem) {
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "conv_dw_taps", &kdw));
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "conv_dw_taps_sum", &ksum));
    }
    for (size_t n0 = 0; n0 < d->N; n0 += t->nb) {
        size_t nb = d->N - n0 < t->nb ? d->N - n0 : t->nb, Q = nb * t->P;
        lirf_buf xc = sub(x, n0 * d->CHW, nb * d->CHW), dyc = sub(dy, n0 * d->KHoWo, nb * d->KHoWo);
        LIRF_TRY(taps_pad(ctx, dq, dyc, (int)nb, s->K, s, t));
        if (dw.mem) {
            size_t blocks = ((Q + 15) / 16 * 16 + TAPS_DW_BLOCK - 1) / TAPS_DW_BLOCK;
            size_t n = K * 9 * C, gws[3] = {(K + 1) / 2, C, blocks}, lws[3] = {1, 1, 1};
            LIRF_TRY(taps_pad(ctx, slot0, xc, (int)nb, s->C, s, t));
            LIRF_TRY(lirf_set_args(ctx, kdw, "bbbiiiiii", part, slot0, dq, (int)t->cs,
                                   (int)t->Wp, s->K, s->C, (int)Q, TAPS_DW_BLOCK));
            LIRF_TRY(lirf_launch(ctx, kdw, "conv2d_backward/dw_taps", 3, gws, lws));
            LIRF_TRY(lirf_set_args(ctx, ksum, "bbii", dw, part, (int)n, (int)blocks));
            LIRF_TRY(lirf_launch1(ctx, ksum, "conv2d_backward/dw_taps_sum", n));
        }
        if (db.mem) LIRF_TRY(row_sums(ctx, db, dq, K, t->cs, t->cs));
        if (dx.mem) {
            lirf_buf dxc = sub(dx, n0 * d->CHW, nb * d->CHW);
            LIRF_TRY(lirf_gemm_packed_taps3(ctx, C, Q, K, 1.0f, wtp, dq, t->cs, t->Wp, 0.0f,
                                            slot0, Q));
            LIRF_TRY(taps_unpad(ctx, dxc, slot0, Q, LIRF_NOBUF, (int)nb, s->C, s,
                                "conv2d_backward/unpad"));
        }
    }
    return LIRF_OK;
}

lirf_status lirf_conv2d_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                const lirf_conv_shape *s) {
    const char *op = "conv2d_forward";
    conv_dims d = {0};
    LIRF_TRY(check_shape(ctx, op, s, &d));
    LIRF_TRY(lirf_check_buf(y, d.N * d.KHoWo, op, "y"));
    LIRF_TRY(lirf_check_buf(x, d.N * d.CHW, op, "x"));
    LIRF_TRY(lirf_check_buf(w, d.K * d.CRS, op, "w"));
    LIRF_TRY(lirf_check_opt_buf(b, d.K, op, "b"));
    taps_dims t;
    if (use_taps(ctx, s, &d, &t)) return taps_forward(ctx, y, x, w, b, s, &d, &t);

    /* With one image per chunk, GEMM layout (K, HoWo) is NCHW: the GEMM writes y
     * directly (without bias); a pointwise conv reads x directly. */
    int one = d.nb == 1, direct_x = one && is_pointwise(s), direct_y = one && !b.mem;
    /* the packed GEMM engine reads col packed: im2col writes it so */
    int packed = !direct_x && lirf_gemm_engine_get(ctx) == LIRF_GEMM_PACKED;
    lirf_buf col = LIRF_NOBUF, tmp = LIRF_NOBUF; /* (CRS, L), (K, L) */
    if (!direct_x)
        LIRF_TRY(lirf_scratch(ctx, 0,
                              packed ? lirf_gemm_packed_b_elems(d.nb * d.HoWo, d.CRS)
                                     : d.CRS * d.nb * d.HoWo,
                              &col));
    if (!direct_y) LIRF_TRY(lirf_scratch(ctx, 1, d.K * d.nb * d.HoWo, &tmp));
    cl_kernel kp;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "gemm_to_nchw", &kp));
    lirf_buf wp = LIRF_NOBUF; /* w packed once for every chunk */
    if (packed) {
        LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_CONV_W, lirf_gemm_packed_a_elems(d.K, d.CRS), &wp));
        LIRF_TRY(lirf_gemm_pack_a(ctx, LIRF_NO_TRANS, d.K, d.CRS, w, d.CRS, wp));
    }

    for (size_t n0 = 0; n0 < d.N; n0 += d.nb) {
        size_t nb = d.N - n0 < d.nb ? d.N - n0 : d.nb, L = nb * d.HoWo;
        lirf_buf xc = sub(x, n0 * d.CHW, nb * d.CHW), yc = sub(y, n0 * d.KHoWo, nb * d.KHoWo);
        if (direct_y) tmp = yc;
        if (packed) {
            LIRF_TRY(im2col_packed(ctx, col, xc, (int)nb, s, 0));
            LIRF_TRY(lirf_gemm_prepacked_ab(ctx, d.K, L, d.CRS, 1.0f, wp, col, 0.0f, tmp, L));
        } else {
            if (direct_x) col = xc;
            else LIRF_TRY(im2col(ctx, col, xc, (int)nb, s));
            LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_NO_TRANS, d.K, L, d.CRS, 1.0f, w, d.CRS,
                               col, L, 0.0f, tmp, L));
        }
        if (direct_y) continue;
        LIRF_TRY(lirf_set_args(ctx, kp, "bboiiii", yc, tmp, b, b.mem != NULL, (int)nb, s->K,
                               (int)d.HoWo));
        LIRF_TRY(launch3(ctx, kp, "conv2d_forward/gemm_to_nchw", (d.HoWo + 15) / 16, d.K, nb, 0));
    }
    return LIRF_OK;
}

lirf_status lirf_conv2d_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db, lirf_buf dy,
                                 lirf_buf x, lirf_buf w, const lirf_conv_shape *s) {
    const char *op = "conv2d_backward";
    conv_dims d = {0};
    LIRF_TRY(check_shape(ctx, op, s, &d));
    LIRF_TRY(lirf_check_opt_buf(dx, d.N * d.CHW, op, "dx"));
    LIRF_TRY(lirf_check_opt_buf(dw, d.K * d.CRS, op, "dw"));
    LIRF_TRY(lirf_check_opt_buf(db, d.K, op, "db"));
    LIRF_TRY(lirf_check_buf(dy, d.N * d.KHoWo, op, "dy"));
    LIRF_TRY(lirf_check_buf(x, d.N * d.CHW, op, "x"));
    LIRF_TRY(lirf_check_buf(w, d.K * d.CRS, op, "w"));

    if (!dx.mem && !dw.mem && !db.mem) return LIRF_OK; /* nothing asked for */
    taps_dims t;
    if (use_taps(ctx, s, &d, &t)) return taps_backward(ctx, dx, dw, db, dy, x, w, s, &d, &t);
    /* With one image per chunk, dy is already in GEMM layout; a pointwise conv
     * reads x directly and its dcol GEMM writes dx directly. */
    int one = d.nb == 1, pw = one && is_pointwise(s);
    /* the packed GEMM engine reads col^T packed: im2col writes it so */
    int packed = dw.mem && !pw && lirf_gemm_engine_get(ctx) == LIRF_GEMM_PACKED;
    lirf_buf col = LIRF_NOBUF, dyp = LIRF_NOBUF, dcol = LIRF_NOBUF; /* (CRS, L), (K, L), (CRS, L) */
    /* col and dcol share slot 0 (asked for once, at the larger size) */
    size_t ncol = dw.mem && !pw ? (packed ? lirf_gemm_packed_b_elems(d.CRS, d.nb * d.HoWo)
                                          : d.CRS * d.nb * d.HoWo)
                                : 0;
    size_t ndcol = dx.mem && !pw ? d.CRS * d.nb * d.HoWo : 0;
    if (ncol || ndcol) {
        lirf_buf slot;
        LIRF_TRY(lirf_scratch(ctx, 0, ncol > ndcol ? ncol : ndcol, &slot));
        if (ncol) col = slot;
        if (ndcol) dcol = slot;
    }
    if (!one) LIRF_TRY(lirf_scratch(ctx, 1, d.K * d.nb * d.HoWo, &dyp));
    cl_kernel kp;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "nchw_to_gemm", &kp));
    /* w^T packed once for every chunk's dcol */
    lirf_buf wtp = LIRF_NOBUF;
    if (dx.mem && lirf_gemm_engine_get(ctx) == LIRF_GEMM_PACKED) {
        LIRF_TRY(lirf_scratch(ctx, LIRF_SCRATCH_CONV_W, lirf_gemm_packed_a_elems(d.CRS, d.K), &wtp));
        LIRF_TRY(lirf_gemm_pack_a(ctx, LIRF_TRANS, d.CRS, d.K, w, d.CRS, wtp));
    }

    for (size_t n0 = 0; n0 < d.N; n0 += d.nb) {
        size_t nb = d.N - n0 < d.nb ? d.N - n0 : d.nb, L = nb * d.HoWo;
        lirf_buf xc = sub(x, n0 * d.CHW, nb * d.CHW), dyc = sub(dy, n0 * d.KHoWo, nb * d.KHoWo);
        lirf_buf dxc = dx.mem ? sub(dx, n0 * d.CHW, nb * d.CHW) : LIRF_NOBUF;
        if (packed) LIRF_TRY(im2col_packed(ctx, col, xc, (int)nb, s, 1));
        else if (dw.mem && pw) col = xc;
        else if (dw.mem) LIRF_TRY(im2col(ctx, col, xc, (int)nb, s));
        if (one) {
            dyp = dyc;
        } else {
            LIRF_TRY(lirf_set_args(ctx, kp, "bbiii", dyp, dyc, (int)nb, s->K, (int)d.HoWo));
            LIRF_TRY(launch3(ctx, kp, "conv2d_backward/nchw_to_gemm", (d.HoWo + 15) / 16, d.K, nb,
                             0));
        }
        /* dw (K, CRS) += dyp (K, L) x col^T (L, CRS) */
        if (packed)
            LIRF_TRY(lirf_gemm_prepacked_b(ctx, LIRF_NO_TRANS, d.K, d.CRS, L, 1.0f, dyp, L, col,
                                           1.0f, dw, d.CRS));
        else if (dw.mem)
            LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_TRANS, d.K, d.CRS, L, 1.0f, dyp, L, col, L,
                               1.0f, dw, d.CRS));
        /* db (K) += row sums of dyp (K, L) */
        if (db.mem) LIRF_TRY(row_sums(ctx, db, dyp, d.K, L, L));
        if (dx.mem) {
            /* dcol (CRS, L) = w^T (CRS, K) x dyp (K, L) */
            if (pw) dcol = dxc;
            if (wtp.mem)
                LIRF_TRY(lirf_gemm_prepacked_a(ctx, LIRF_NO_TRANS, d.CRS, L, d.K, 1.0f, wtp, dyp, L,
                                               0.0f, dcol, L));
            else
                LIRF_TRY(lirf_gemm(ctx, LIRF_TRANS, LIRF_NO_TRANS, d.CRS, L, d.K, 1.0f, w, d.CRS,
                                   dyp, L, 0.0f, dcol, L));
            if (!pw) LIRF_TRY(col2im(ctx, dxc, dcol, (int)nb, s));
        }
    }
    return LIRF_OK;
}
