/* Convolution by im2col + GEMM (host side: model/op_conv.c; reference:
 * model/ref/ref_conv.c).
 *
 * The batch is processed in chunks of nb images. For a chunk, L = nb * HoWo and
 *   col  (CRS, L): col[((c*R + r)*S + s) * L + img*HoWo + p] = x[img, c, h, w]
 *                  at h = ho*stride - pad + r, w = wo*stride - pad + s (p = ho*Wo + wo),
 *                  0 where (h, w) is padding;
 *   tmp  (K, L)  : the GEMM output W (K,CRS) x col, permuted into y (nb,K,Ho,Wo);
 *   dyp  (K, L)  : dy of the chunk permuted into GEMM layout;
 *   dcol (CRS, L): W^T x dyp, gathered back into dx by col2im.
 * x, y, dy and dx arrive already offset to the chunk's first image.
 * Every buffer is a (pointer, element offset) pair; every kernel bound-checks
 * its global ids (the host rounds global sizes up).
 *
 * Speed (PoCL and other CPU drivers compile a work-group into loops over the
 * work-items and vectorise the innermost one, dimension 0; GPUs coalesce
 * along dimension 0): every kernel runs on a multi-dimensional range whose
 * dimension 0 walks consecutive addresses of its output (a row of col, a
 * plane of NCHW) and whose channel and image parts are uniform along it. The
 * divisions of a flat index into (image,) row and column are done in float
 * (conv_div), which vectorises where integer division does not. The loops over
 * the filter taps have constant trip counts, unrolled, in the kernels for the
 * common sizes (1x1, up to 3x3): a loop left inside the work-item loop stops
 * the vectorisation. The plain kernels (im2col, col2im) take any size. */

/* a / b for 0 <= a < 2^22 and b >= 1, given inv_b = 1.0f / b. The float
 * estimate a * inv_b has a relative error below 2^-23, i.e. an absolute error
 * below 1/2 for quotients below 2^22, so it is off by at most one after
 * truncation; one step on the remainder corrects it. The host guarantees the
 * bound (padded planes below 2^22 pixels). */
int conv_div(int a, int b, float inv_b) {
    int q = (int)((float)a * inv_b);
    int r = a - q * b;
    return q + (r >= b) - (r < 0);
}

/* im2col over the range (L, C), L = nb*HoWo < 2^22 (the host's chunks keep
 * it so): the work-item of column j = img*HoWo + p of col and channel c writes
 * the R*S taps of output pixel p of image img, one per row of col, so that
 * dimension 0 runs along the rows of col whatever the plane size. inv_howo =
 * 1.0f / HoWo, inv_wo = 1.0f / Wo. Loops run to RMAX, SMAX: constants in
 * im2col_k1 (R = S = 1) and im2col_k3 (R, S <= 3), where UNROLL
 * (_Pragma("unroll")) unrolls them; R and S in im2col (any size; UNROLL
 * empty). The body is a macro, not a function, so that it is inlined whatever
 * the compiler's heuristics (a call or a loop left in the work-item loop stops
 * PoCL vectorising it). */
#define IM2COL_ARGS                                                                               \
    __global float *col, int col_off, __global const float *x, int x_off, int nb, int C,          \
        int H, int W, int R, int S, int stride, int pad, int Ho, int Wo, float inv_howo,          \
        float inv_wo
/* The taps of output column j (image img, pixel p) and channel c: AT(t) is the
 * element that tap t = r*S + s goes to. j, c, HoWo are set by the caller. */
#define IM2COL_TAPS(RMAX, SMAX, UNROLL, AT)                                                       \
    int img = conv_div(j, HoWo, inv_howo), p = j - img * HoWo;                                    \
    int ho = conv_div(p, Wo, inv_wo), wo = p - ho * Wo;                                           \
    int h0 = ho * stride - pad, w0 = wo * stride - pad;                                           \
    __global const float *xp = x + x_off + (img * C + c) * H * W;                                 \
    UNROLL for (int r = 0; r < (RMAX); r++) {                                                     \
        int h = h0 + r;                                                                           \
        int hv = r < R && h >= 0 && h < H;                                                        \
        UNROLL for (int s = 0; s < (SMAX); s++) {                                                 \
            int w = w0 + s;                                                                       \
            float v = 0.0f;                                                                       \
            if (hv && s < S && w >= 0 && w < W) v = xp[h * W + w];                                \
            if (r < R && s < S) AT(r * S + s) = v;                                                \
        }                                                                                         \
    }
#define IM2COL_BODY(RMAX, SMAX, UNROLL, AT)                                                       \
    int j = get_global_id(0), c = get_global_id(1);                                               \
    int HoWo = Ho * Wo, L = nb * HoWo;                                                            \
    if (j >= L || c >= C) return;                                                                 \
    __global float *cp = col + col_off + c * R * S * L + j;                                       \
    IM2COL_TAPS(RMAX, SMAX, UNROLL, AT)
#define AT_COL(t) cp[(t) * L]

__kernel void im2col_k1(IM2COL_ARGS) { IM2COL_BODY(1, 1, _Pragma("unroll"), AT_COL) }
__kernel void im2col_k3(IM2COL_ARGS) { IM2COL_BODY(3, 3, _Pragma("unroll"), AT_COL) }
__kernel void im2col(IM2COL_ARGS) { IM2COL_BODY(R, S, , AT_COL) }

/* im2col written straight into the packed operand of lirf's GEMM
 * (runtime/gemm_packed.c, lirf_gemm_prepacked_b): the element (k, n) of a
 * (Kt, N) matrix cut into slices of `slice` rows of k goes to
 *   k0 * Np + (n / 32) * kc * 32 + (k - k0) * 32 + n % 32,
 * k0 = k - k % slice, kc = min(slice, Kt - k0), Np = N rounded up to 32.
 * Dimension 0 of both ranges is n % 32, so that consecutive work-items write
 * consecutive addresses (a CPU compiler vectorises the stores). */
#define PACKED_ARGS                                                                               \
    __global float *pk, int pk_off, __global const float *x, int x_off, int nb, int C, int H,     \
        int W, int R, int S, int stride, int pad, int Ho, int Wo, float inv_howo, float inv_wo,   \
        int slice, float inv_slice, int Kt, int Np

/* The forward GEMM's B = col (k = row c*R*S + tap of col, n = column j; Kt =
 * C*R*S, N = L): range (32, ceil(L / 32), C); the work-item of column j =
 * jb * 32 + jj and channel c writes its R*S taps. */
#define AT_FWD(t) pk[pk_off + packed_fwd_at(c * R * S + (t), jb, jj, slice, inv_slice, Kt, Np)]
#define IM2COL_FWD_BODY(RMAX, SMAX, UNROLL)                                                       \
    int jj = get_global_id(0), jb = get_global_id(1), c = get_global_id(2);                       \
    int HoWo = Ho * Wo, L = nb * HoWo, j = jb * 32 + jj;                                          \
    if (j >= L || c >= C) return;                                                                 \
    IM2COL_TAPS(RMAX, SMAX, UNROLL, AT_FWD)
/* where row k of col, column jb * 32 + jj, goes in the packed B */
int packed_fwd_at(int k, int jb, int jj, int slice, float inv_slice, int Kt, int Np) {
    int k0 = conv_div(k, slice, inv_slice) * slice, kc = min(slice, Kt - k0);
    return k0 * Np + jb * kc * 32 + (k - k0) * 32 + jj;
}
__kernel void im2col_k1_fwd(PACKED_ARGS) { IM2COL_FWD_BODY(1, 1, _Pragma("unroll")) }
__kernel void im2col_k3_fwd(PACKED_ARGS) { IM2COL_FWD_BODY(3, 3, _Pragma("unroll")) }
__kernel void im2col_fwd(PACKED_ARGS) { IM2COL_FWD_BODY(R, S, ) }

/* The weight gradient's B = col^T (k = column j of col, n = row c*R*S + tap;
 * Kt = L, N = C*R*S): range (32, L, Np / 32); the work-item (nn, j, np)
 * writes element (j, np * 32 + nn), 0 in the padding rows n >= N. The tap of
 * row n: c = n / RS, r = t / S, s = t % S for t = n % RS (inv_rs = 1.0f / RS,
 * inv_s = 1.0f / S). */
__kernel void im2col_dw(PACKED_ARGS, float inv_rs, float inv_s) {
    int nn = get_global_id(0), j = get_global_id(1), np = get_global_id(2);
    int HoWo = Ho * Wo, L = nb * HoWo, RS = R * S, n = np * 32 + nn;
    if (nn >= 32 || j >= L || n >= Np) return;
    int img = conv_div(j, HoWo, inv_howo), p = j - img * HoWo;
    int ho = conv_div(p, Wo, inv_wo), wo = p - ho * Wo;
    int c = conv_div(n, RS, inv_rs), t = n - c * RS;
    int r = conv_div(t, S, inv_s), s = t - r * S;
    int h = ho * stride - pad + r, w = wo * stride - pad + s;
    float v = 0.0f;
    if (c < C && h >= 0 && h < H && w >= 0 && w < W) v = x[x_off + ((img * C + c) * H + h) * W + w];
    int k0 = conv_div(j, slice, inv_slice) * slice, kc = min(slice, Kt - k0);
    pk[pk_off + k0 * Np + np * kc * 32 + (j - k0) * 32 + nn] = v;
}

/* The permutes between NCHW (nb,K,HoWo) and GEMM layout (K, nb*HoWo) move 16
 * pixels per work-item, as one 16-wide vector (fewer at the plane's end):
 * range (ceil(HoWo / 16), K, nb). */

/* y = tmp permuted, + b[k] when has_bias. */
__kernel void gemm_to_nchw(__global float *y, int y_off, __global const float *tmp, int tmp_off,
                           __global const float *b, int b_off, int has_bias, int nb, int K,
                           int HoWo) {
    int p0 = get_global_id(0) * 16, k = get_global_id(1), img = get_global_id(2);
    if (p0 >= HoWo || k >= K || img >= nb) return;
    __global const float *src = tmp + tmp_off + (k * nb + img) * HoWo + p0;
    __global float *dst = y + y_off + (img * K + k) * HoWo + p0;
    float bias = has_bias ? b[b_off + k] : 0.0f;
    if (p0 + 16 <= HoWo) {
        float16 v = vload16(0, src);
        if (has_bias) v += bias;
        vstore16(v, 0, dst);
    } else {
        for (int j = 0; p0 + j < HoWo; j++) dst[j] = has_bias ? src[j] + bias : src[j];
    }
}

/* dyp = dy permuted. Also the im2col of a 1x1, stride 1, unpadded
 * convolution (K = C). */
__kernel void nchw_to_gemm(__global float *dyp, int dyp_off, __global const float *dy, int dy_off,
                           int nb, int K, int HoWo) {
    int p0 = get_global_id(0) * 16, k = get_global_id(1), img = get_global_id(2);
    if (p0 >= HoWo || k >= K || img >= nb) return;
    __global const float *src = dy + dy_off + (img * K + k) * HoWo + p0;
    __global float *dst = dyp + dyp_off + (k * nb + img) * HoWo + p0;
    if (p0 + 16 <= HoWo) {
        vstore16(vload16(0, src), 0, dst);
    } else {
        for (int j = 0; p0 + j < HoWo; j++) dst[j] = src[j];
    }
}

/* db[k] += sum_j dyp[k, j0 + j], j < n, for the rows k of dyp (K, ld). One
 * work-group per k; a fixed-shape tree reduction in local memory, so the
 * result does not depend on scheduling. The local size must be a power of two
 * (lirf_kernel_wg gives one). The host launches it on slices of the columns
 * (j0, n), so that no work-item loops more than a few thousand times (Mesa's
 * llvmpipe cuts loops at 65535 iterations). */
__kernel void row_sum_acc(__global float *db, int db_off, __global const float *dyp, int dyp_off,
                          int K, int j0, int n, int ld, __local float *part) {
    int k = get_group_id(0);
    int t = get_local_id(0), nt = get_local_size(0);
    if (k >= K) return; /* uniform across the work-group */
    float acc = 0.0f;
    for (int j = t; j < n; j += nt) acc += dyp[dyp_off + k * ld + j0 + j];
    part[t] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int m = nt / 2; m > 0; m /= 2) {
        if (t < m) part[t] += part[t + m];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) db[db_off + k] += part[0];
}

/* dx (nb,C,H,W) = col2im(dcol (CRS, nb*HoWo)) as a gather over the range
 * (H*W, C, nb), inv_w = 1.0f / W: the work-item of input pixel q = h*W + w of
 * channel c of image img sums, in increasing r then s, the taps (r, s) whose
 * output position (ho, wo) reads it (h = ho*stride - pad + r). Written, not
 * accumulated; no atomics. Bodies are macros, as for im2col.
 *
 * Stride 1 (col2im_s1k3: R, S <= 3, unrolled): every tap, ho = h + pad - r. */
#define COL2IM_ARGS                                                                               \
    __global float *dx, int dx_off, __global const float *dcol, int dcol_off, int nb, int C,      \
        int H, int W, int R, int S, int stride, int pad, int Ho, int Wo, float inv_w,             \
        float inv_stride, int tmax
#define COL2IM_HEAD                                                                               \
    int q = get_global_id(0), c = get_global_id(1), img = get_global_id(2);                       \
    int HoWo = Ho * Wo, L = nb * HoWo;                                                            \
    if (q >= H * W || c >= C || img >= nb) return;                                                \
    int h = conv_div(q, W, inv_w), w = q - h * W;                                                 \
    __global const float *dp = dcol + dcol_off + c * R * S * L + img * HoWo;                      \
    float acc = 0.0f;
#define COL2IM_TAIL dx[dx_off + (img * C + c) * H * W + q] = acc;

__kernel void col2im_s1k3(COL2IM_ARGS) {
    (void)stride, (void)inv_stride, (void)tmax; /* stride 1: not needed */
    COL2IM_HEAD
#pragma unroll
    for (int r = 0; r < 3; r++) {
        int ho = h + pad - r;
        int hv = r < R && ho >= 0 && ho < Ho;
#pragma unroll
        for (int s = 0; s < 3; s++) {
            int wo = w + pad - s;
            if (hv && s < S && wo >= 0 && wo < Wo) acc += dp[(r * S + s) * L + ho * Wo + wo];
        }
    }
    COL2IM_TAIL
}

/* Any stride: the taps reaching pixel h are r = r0 + i*stride with r0 = (h +
 * pad) mod stride, ho = (h + pad) / stride - i, i < TMAX = ceil(max(R, S) /
 * stride) (likewise s). TMAX is a constant in col2im_t1 (1x1, or 3x3 with
 * stride 3) and col2im_t2 (3x3 stride 2), unrolled; tmax in col2im (any
 * size; UNROLL empty). */
#define COL2IM_STRIDED(TMAX, UNROLL)                                                              \
    COL2IM_HEAD                                                                                   \
    int hq = conv_div(h + pad, stride, inv_stride), r0 = h + pad - hq * stride;                   \
    int wq = conv_div(w + pad, stride, inv_stride), s0 = w + pad - wq * stride;                   \
    UNROLL for (int i = 0; i < (TMAX); i++) {                                                     \
        int r = r0 + i * stride, ho = hq - i;                                                     \
        int hv = r < R && ho >= 0 && ho < Ho;                                                     \
        UNROLL for (int j = 0; j < (TMAX); j++) {                                                 \
            int s = s0 + j * stride, wo = wq - j;                                                 \
            if (hv && s < S && wo >= 0 && wo < Wo) acc += dp[(r * S + s) * L + ho * Wo + wo];     \
        }                                                                                         \
    }                                                                                             \
    COL2IM_TAIL

__kernel void col2im_t1(COL2IM_ARGS) { COL2IM_STRIDED(1, _Pragma("unroll")) }
__kernel void col2im_t2(COL2IM_ARGS) { COL2IM_STRIDED(2, _Pragma("unroll")) }
__kernel void col2im(COL2IM_ARGS) { COL2IM_STRIDED(tmax, ) }

#ifdef LIRF_POCL_CPU /* PoCL CPU devices only (runtime/program.c) */

/* ---- stride-1 3x3 convolutions with padding 1, without im2col ------------
 * (model/op_conv.c: the "taps" path; the product is lirf_gemm_packed_taps3.)
 * A chunk of nb images is padded by one zero pixel on every side and laid
 * out channel by channel, the images of a channel one after the other:
 * plane c of xp holds nb * P floats (P = Hp * Wp, Hp = H + 2, Wp = W + 2),
 * then zeros up to cs. Output position n = img * P + h * Wp + w (h < H, w <
 * W) of the product reads tap (r, s) at n + r * Wp + s. */

/* xp (C planes of cs) = x (nb, C, H, W) padded as above; range (Wp, rows,
 * C), rows = ceil(cs / Wp): the work-item (w, row, c) writes element row *
 * Wp + w of plane c (img = row / Hp), so that dimension 0 runs along a
 * padded row and the division is uniform across it. Every element of xp is
 * written. */
__kernel void conv_pad1(__global float *xp, int xp_off, __global const float *x, int x_off,
                        int nb, int C, int H, int W, int cs) {
    int wq = get_global_id(0), row = get_global_id(1), c = get_global_id(2);
    int Wp = W + 2, Hp = H + 2, q = row * Wp + wq;
    if (wq >= Wp || q >= cs || c >= C) return;
    int img = row / Hp, hp = row - img * Hp;
    float v = 0.0f;
    if (img < nb && hp >= 1 && hp <= H && wq >= 1 && wq <= W)
        v = x[x_off + ((img * C + c) * H + hp - 1) * W + wq - 1];
    xp[xp_off + c * cs + q] = v;
}

/* y (nb, K, H, W) = the output positions of t (K rows of ldt: column img * P
 * + h * Wp + w), + b[k] when has_bias; range (H * W, K, nb), inv_w = 1.0f /
 * W. */
__kernel void conv_unpad1(__global float *y, int y_off, __global const float *t, int t_off,
                          int ldt, __global const float *b, int b_off, int has_bias, int nb,
                          int K, int H, int W, float inv_w) {
    int p = get_global_id(0), k = get_global_id(1), img = get_global_id(2);
    if (p >= H * W || k >= K || img >= nb) return;
    int h = conv_div(p, W, inv_w), w = p - h * W;
    float v = t[t_off + k * ldt + img * (H + 2) * (W + 2) + h * (W + 2) + w];
    if (has_bias) v += b[b_off + k];
    y[y_off + (img * K + k) * H * W + p] = v;
}

/* The packed A of lirf_gemm_packed_taps3 (one slice, mr rows a panel, 0
 * beyond M) from the weights w (K, C, 3, 3): flip 0, A = w as (K, C * 9),
 * the forward's; flip 1, A (C, K * 9) with A(c, k * 9 + t) = w[k, c, 8 - t],
 * the weights of the convolution of dy that gives dx (every tap turned
 * round, input and output channels swapped). Range (Kt, panels), Kt = 9 C or
 * 9 K. */
__kernel void conv_pack_w3(__global float *ap, int ap_off, __global const float *w, int w_off,
                           int K, int C, int mr, int flip) {
    int kk = get_global_id(0), mp = get_global_id(1);
    int M = flip ? C : K, Kt = flip ? 9 * K : 9 * C;
    if (kk >= Kt) return;
    int kq = kk / 9, t = kk - kq * 9;
    __global float *d = ap + ap_off + ((size_t)mp * Kt + kk) * mr;
    for (int i = 0; i < mr; i++) {
        int m = mp * mr + i;
        float v = 0.0f;
        if (m < M) v = flip ? w[w_off + (kq * C + m) * 9 + 8 - t] : w[w_off + m * Kt + kk];
        d[i] = v;
    }
}

/* The weight gradient of the taps path, in blocks of the output positions:
 *   part[j][k][c * 9 + r * 3 + s] = sum over n in block j of
 *       dq[k * cs + n + Wp + 1] * xp[c * cs + n + r * Wp + s],
 * with xp = x padded and dq = dy padded (conv_pad1 of the chunk's x and dy):
 * dq at n + Wp + 1 is dy at output position n, and 0 at the positions of
 * the padded grid that are no output (borders, the tail), so every n of the
 * block can be summed. Blocks of nblk positions (a multiple of 16), the
 * last one ending at Q rounded up to 16 (what lies beyond Q is 0 in dq). One
 * work-item per group computes two output channels k0, k0 + 1 and the nine
 * taps of one input channel: 18 accumulators of 16 positions, fed by two
 * 16-wide loads of dy and nine of x (the windows of the taps) per 16
 * positions, summed across their lanes at the end. Range (ceil(K / 2), C,
 * blocks): consecutive groups share the window of x. */
#define DWT_ACC(t) float16 u##t = 0.0f, v##t = 0.0f;
#define DWT_TAP(t, off)                                                                           \
    {                                                                                             \
        float16 xv = vload16(0, xn + (off));                                                      \
        u##t = fma(d0, xv, u##t);                                                                 \
        v##t = fma(d1, xv, v##t);                                                                 \
    }
float dwt_sum(float16 a) {
    float8 b = a.lo + a.hi;
    float4 c = b.lo + b.hi;
    float2 d = c.lo + c.hi;
    return d.x + d.y;
}
#define DWT_OUT(t)                                                                                \
    o[t] = dwt_sum(u##t);                                                                         \
    if (two) o[9 * C + t] = dwt_sum(v##t);

__attribute__((reqd_work_group_size(1, 1, 1))) __kernel void conv_dw_taps(
    __global float *part, int part_off, __global const float *xp, int xp_off,
    __global const float *dq, int dq_off, int cs, int Wp, int K, int C, int Q, int nblk) {
    int kp = get_global_id(0), c = get_global_id(1), j = get_global_id(2);
    int k0 = 2 * kp, two = k0 + 1 < K;
    int n0 = j * nblk, n1 = min(n0 + nblk, (Q + 15) / 16 * 16);
    __global const float *x = xp + xp_off + c * cs;
    __global const float *y0 = dq + dq_off + k0 * cs + Wp + 1;
    __global const float *y1 = two ? y0 + cs : y0; /* K odd: the last pair computes k0 twice */
    DWT_ACC(0) DWT_ACC(1) DWT_ACC(2) DWT_ACC(3) DWT_ACC(4) DWT_ACC(5) DWT_ACC(6) DWT_ACC(7)
    DWT_ACC(8)
    for (int n = n0; n < n1; n += 16) {
        float16 d0 = vload16(0, y0 + n), d1 = vload16(0, y1 + n);
        __global const float *xn = x + n;
        DWT_TAP(0, 0) DWT_TAP(1, 1) DWT_TAP(2, 2)
        DWT_TAP(3, Wp) DWT_TAP(4, Wp + 1) DWT_TAP(5, Wp + 2)
        DWT_TAP(6, 2 * Wp) DWT_TAP(7, 2 * Wp + 1) DWT_TAP(8, 2 * Wp + 2)
    }
    __global float *o = part + part_off + ((size_t)j * K + k0) * 9 * C + 9 * c;
    DWT_OUT(0) DWT_OUT(1) DWT_OUT(2) DWT_OUT(3) DWT_OUT(4) DWT_OUT(5) DWT_OUT(6) DWT_OUT(7)
    DWT_OUT(8)
}

/* dw[i] += the sum over the blocks j < nbl of part[j * n + i], in order of
 * j (the result does not depend on scheduling); range (n). */
__kernel void conv_dw_taps_sum(__global float *dw, int dw_off, __global const float *part,
                               int part_off, int n, int nbl) {
    int i = get_global_id(0);
    if (i >= n) return;
    float acc = 0.0f;
    for (int j = 0; j < nbl; j++) acc += part[part_off + j * n + i];
    dw[dw_off + i] += acc;
}

#endif /* LIRF_POCL_CPU */
