/* Host side of 2-D convolution (cl_kernels/conv.cl): im2col + CLBlast GEMM,
 * row-major. Reference: model/ref/ref_conv.c.
 *
 * The batch runs in chunks of nb images so that the scratch stays bounded:
 * nb = max(1, min(N, limit / (max(CRS, K) * HoWo))) with CRS = C*R*S, where
 * limit is the element budget of one scratch slot, 64 Mi floats by default.
 * The environment variable LIRF_CONV_CHUNK_ELEMS (a positive integer) sets
 * another limit; the tests use it to force several chunks.
 *
 * Scratch slots (L = nb * HoWo):
 *   0: col  (CRS, L)  im2col of the chunk's input
 *   1: tmp  (K, L)    forward GEMM output; in backward dyp, dy in GEMM layout
 *   2: dcol (CRS, L)  W^T x dyp, gathered into dx by col2im (backward with dx)
 */
#include <limits.h>
#include <stdlib.h>

#include "ops.h"

#define CONV_CHUNK_DEFAULT ((size_t)64 << 20)

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
    const char *env = getenv("LIRF_CONV_CHUNK_ELEMS");
    if (env && *env) {
        char *end;
        long long v = strtoll(env, &end, 10);
        if (*end == '\0' && v > 0) return (size_t)v;
        static int warned; /* once per process */
        if (!warned)
            lirf_log(LIRF_LOG_WARN, "LIRF_CONV_CHUNK_ELEMS=%s ignored (not a positive integer)",
                     env);
        warned = 1;
    }
    return CONV_CHUNK_DEFAULT;
}

static lirf_status check_shape(const char *op, const lirf_conv_shape *s, conv_dims *d) {
    if (!s) return LIRF_FAIL(LIRF_E_NULL, "%s: shape is NULL", op);
    LIRF_TRY(lirf_check_dims(op, 8, s->N, s->C, s->H, s->W, s->K, s->R, s->S, s->stride));
    if (s->pad < 0) return LIRF_FAIL(LIRF_E_INVALID, "%s: pad is %d (must be >= 0)", op, s->pad);
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    if (Ho <= 0 || Wo <= 0)
        return LIRF_FAIL(LIRF_E_SHAPE, "%s: kernel %dx%d does not fit input %dx%d with pad %d", op,
                         s->R, s->S, s->H, s->W, s->pad);
    d->N = (size_t)s->N;
    d->CHW = (size_t)s->C * s->H * s->W;
    d->HoWo = (size_t)Ho * Wo;
    d->K = (size_t)s->K;
    d->KHoWo = d->K * d->HoWo;
    d->CRS = (size_t)s->C * s->R * s->S;
    size_t rows = d->CRS > d->K ? d->CRS : d->K;
    size_t per_image = rows * d->HoWo;
    if (per_image > (size_t)INT_MAX)
        return LIRF_FAIL(LIRF_E_INVALID, "%s: one image needs %zu scratch elements (> INT_MAX)",
                         op, per_image);
    size_t limit = chunk_limit();
    if (limit > (size_t)INT_MAX) limit = (size_t)INT_MAX;
    size_t nb = limit / per_image;
    if (nb < 1) nb = 1;
    if (nb > d->N) nb = d->N;
    d->nb = nb;
    return LIRF_OK;
}

/* A view of n elements at element offset off inside b (b already checked). */
static lirf_buf sub(lirf_buf b, size_t off, size_t n) {
    return (lirf_buf){b.mem, b.off + off, n};
}

static lirf_status im2col(lirf_ctx *ctx, lirf_buf col, lirf_buf x, int nb,
                          const lirf_conv_shape *s) {
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);
    cl_kernel k;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "im2col", &k));
    LIRF_TRY(lirf_set_args(ctx, k, "bbiiiiiiiiii", col, x, nb, s->C, s->H, s->W, s->R, s->S,
                           s->stride, s->pad, Ho, Wo));
    return lirf_launch1(ctx, k, "conv2d/im2col", (size_t)s->C * s->R * s->S * nb * Ho * Wo);
}

lirf_status lirf_conv2d_forward(lirf_ctx *ctx, lirf_buf y, lirf_buf x, lirf_buf w, lirf_buf b,
                                const lirf_conv_shape *s) {
    const char *op = "conv2d_forward";
    conv_dims d;
    LIRF_TRY(check_shape(op, s, &d));
    LIRF_TRY(lirf_check_buf(y, d.N * d.KHoWo, op, "y"));
    LIRF_TRY(lirf_check_buf(x, d.N * d.CHW, op, "x"));
    LIRF_TRY(lirf_check_buf(w, d.K * d.CRS, op, "w"));
    LIRF_TRY(lirf_check_opt_buf(b, d.K, op, "b"));

    lirf_buf col, tmp; /* (CRS, L), (K, L) */
    LIRF_TRY(lirf_scratch(ctx, 0, d.CRS * d.nb * d.HoWo, &col));
    LIRF_TRY(lirf_scratch(ctx, 1, d.K * d.nb * d.HoWo, &tmp));
    cl_kernel kp;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "gemm_to_nchw", &kp));

    for (size_t n0 = 0; n0 < d.N; n0 += d.nb) {
        size_t nb = d.N - n0 < d.nb ? d.N - n0 : d.nb, L = nb * d.HoWo;
        LIRF_TRY(im2col(ctx, col, sub(x, n0 * d.CHW, nb * d.CHW), (int)nb, s));
        LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_NO_TRANS, d.K, L, d.CRS, 1.0f, w, d.CRS, col,
                           L, 0.0f, tmp, L));
        LIRF_TRY(lirf_set_args(ctx, kp, "bboiiii", sub(y, n0 * d.KHoWo, nb * d.KHoWo), tmp, b,
                               b.mem != NULL, (int)nb, s->K, (int)d.HoWo));
        LIRF_TRY(lirf_launch1(ctx, kp, "conv2d_forward/gemm_to_nchw", nb * d.KHoWo));
    }
    return LIRF_OK;
}

lirf_status lirf_conv2d_backward(lirf_ctx *ctx, lirf_buf dx, lirf_buf dw, lirf_buf db, lirf_buf dy,
                                 lirf_buf x, lirf_buf w, const lirf_conv_shape *s) {
    const char *op = "conv2d_backward";
    conv_dims d;
    LIRF_TRY(check_shape(op, s, &d));
    LIRF_TRY(lirf_check_opt_buf(dx, d.N * d.CHW, op, "dx"));
    LIRF_TRY(lirf_check_opt_buf(dw, d.K * d.CRS, op, "dw"));
    LIRF_TRY(lirf_check_opt_buf(db, d.K, op, "db"));
    LIRF_TRY(lirf_check_buf(dy, d.N * d.KHoWo, op, "dy"));
    LIRF_TRY(lirf_check_buf(x, d.N * d.CHW, op, "x"));
    LIRF_TRY(lirf_check_buf(w, d.K * d.CRS, op, "w"));

    if (!dx.mem && !dw.mem && !db.mem) return LIRF_OK; /* nothing asked for */
    lirf_buf col = LIRF_NOBUF, dyp, dcol = LIRF_NOBUF; /* (CRS, L), (K, L), (CRS, L) */
    if (dw.mem) LIRF_TRY(lirf_scratch(ctx, 0, d.CRS * d.nb * d.HoWo, &col));
    LIRF_TRY(lirf_scratch(ctx, 1, d.K * d.nb * d.HoWo, &dyp));
    if (dx.mem) LIRF_TRY(lirf_scratch(ctx, 2, d.CRS * d.nb * d.HoWo, &dcol));
    cl_kernel kp, kdb = NULL, kc = NULL;
    size_t wg = 1;
    LIRF_TRY(lirf_kernel_get(ctx, "conv", "nchw_to_gemm", &kp));
    if (db.mem) {
        LIRF_TRY(lirf_kernel_get(ctx, "conv", "row_sum_acc", &kdb));
        LIRF_TRY(lirf_kernel_wg(ctx, kdb, 256, &wg));
    }
    if (dx.mem) LIRF_TRY(lirf_kernel_get(ctx, "conv", "col2im", &kc));
    int Ho = lirf_conv_out_h(s), Wo = lirf_conv_out_w(s);

    for (size_t n0 = 0; n0 < d.N; n0 += d.nb) {
        size_t nb = d.N - n0 < d.nb ? d.N - n0 : d.nb, L = nb * d.HoWo;
        if (dw.mem) LIRF_TRY(im2col(ctx, col, sub(x, n0 * d.CHW, nb * d.CHW), (int)nb, s));
        LIRF_TRY(lirf_set_args(ctx, kp, "bbiii", dyp, sub(dy, n0 * d.KHoWo, nb * d.KHoWo),
                               (int)nb, s->K, (int)d.HoWo));
        LIRF_TRY(lirf_launch1(ctx, kp, "conv2d_backward/nchw_to_gemm", d.K * L));
        /* dw (K, CRS) += dyp (K, L) x col^T (L, CRS) */
        if (dw.mem)
            LIRF_TRY(lirf_gemm(ctx, LIRF_NO_TRANS, LIRF_TRANS, d.K, d.CRS, L, 1.0f, dyp, L, col, L,
                           1.0f, dw, d.CRS));
        if (db.mem) {
            size_t gws = d.K * wg, lws = wg;
            LIRF_TRY(lirf_set_args(ctx, kdb, "bbiiL", db, dyp, s->K, (int)L, wg * sizeof(float)));
            LIRF_TRY(lirf_launch(ctx, kdb, "conv2d_backward/db", 1, &gws, &lws));
        }
        if (dx.mem) {
            /* dcol (CRS, L) = w^T (CRS, K) x dyp (K, L) */
            LIRF_TRY(lirf_gemm(ctx, LIRF_TRANS, LIRF_NO_TRANS, d.CRS, L, d.K, 1.0f, w, d.CRS, dyp,
                               L, 0.0f, dcol, L));
            LIRF_TRY(lirf_set_args(ctx, kc, "bbiiiiiiiiii", sub(dx, n0 * d.CHW, nb * d.CHW), dcol,
                                   (int)nb, s->C, s->H, s->W, s->R, s->S, s->stride, s->pad, Ho,
                                   Wo));
            LIRF_TRY(lirf_launch1(ctx, kc, "conv2d_backward/col2im", nb * d.CHW));
        }
    }
    return LIRF_OK;
}
