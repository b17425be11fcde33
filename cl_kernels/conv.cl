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
 * its global id (the host rounds global sizes up). */

__kernel void im2col(__global float *col, int col_off, __global const float *x, int x_off,
                     int nb, int C, int H, int W, int R, int S, int stride, int pad, int Ho,
                     int Wo) {
    int i = get_global_id(0);
    int HoWo = Ho * Wo, L = nb * HoWo;
    if (i >= C * R * S * L) return;
    int row = i / L, cidx = i - row * L;
    int img = cidx / HoWo, p = cidx - img * HoWo;
    int ho = p / Wo, wo = p - ho * Wo;
    int s = row % S, rc = row / S;
    int r = rc % R, c = rc / R;
    int h = ho * stride - pad + r, w = wo * stride - pad + s;
    float v = 0.0f;
    if (h >= 0 && h < H && w >= 0 && w < W) v = x[x_off + ((img * C + c) * H + h) * W + w];
    col[col_off + i] = v;
}

/* y (nb,K,HoWo) = tmp (K, nb*HoWo) permuted, + b[k] when has_bias. */
__kernel void gemm_to_nchw(__global float *y, int y_off, __global const float *tmp, int tmp_off,
                           __global const float *b, int b_off, int has_bias, int nb, int K,
                           int HoWo) {
    int i = get_global_id(0);
    if (i >= nb * K * HoWo) return;
    int img = i / (K * HoWo), rem = i - img * K * HoWo;
    int k = rem / HoWo, p = rem - k * HoWo;
    float v = tmp[tmp_off + k * nb * HoWo + img * HoWo + p];
    if (has_bias) v += b[b_off + k];
    y[y_off + i] = v;
}

/* dyp (K, nb*HoWo) = dy (nb,K,HoWo) permuted. */
__kernel void nchw_to_gemm(__global float *dyp, int dyp_off, __global const float *dy, int dy_off,
                           int nb, int K, int HoWo) {
    int i = get_global_id(0);
    int L = nb * HoWo;
    if (i >= K * L) return;
    int k = i / L, cidx = i - k * L;
    int img = cidx / HoWo, p = cidx - img * HoWo;
    dy_off += (img * K + k) * HoWo + p;
    dyp[dyp_off + i] = dy[dy_off];
}

/* db[k] += sum_j dyp[k, j], j < L. One work-group per k; a fixed-shape tree
 * reduction in local memory, so the result does not depend on scheduling.
 * The local size must be a power of two (lirf_kernel_wg gives one). */
__kernel void row_sum_acc(__global float *db, int db_off, __global const float *dyp, int dyp_off,
                          int K, int L, __local float *part) {
    int k = get_group_id(0);
    int t = get_local_id(0), nt = get_local_size(0);
    if (k >= K) return; /* uniform across the work-group */
    float acc = 0.0f;
    for (int j = t; j < L; j += nt) acc += dyp[dyp_off + k * L + j];
    part[t] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int m = nt / 2; m > 0; m /= 2) {
        if (t < m) part[t] += part[t + m];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (t == 0) db[db_off + k] += part[0];
}

/* dx (nb,C,H,W) = col2im(dcol (CRS, nb*HoWo)) as a gather: each input element
 * sums, over the taps (r, s), the output positions (ho, wo) that read it
 * (h = ho*stride - pad + r). Written, not accumulated; no atomics. */
__kernel void col2im(__global float *dx, int dx_off, __global const float *dcol, int dcol_off,
                     int nb, int C, int H, int W, int R, int S, int stride, int pad, int Ho,
                     int Wo) {
    int i = get_global_id(0);
    if (i >= nb * C * H * W) return;
    int w = i % W, t = i / W;
    int h = t % H;
    t /= H;
    int c = t % C, img = t / C;
    int HoWo = Ho * Wo, L = nb * HoWo;
    int base = dcol_off + img * HoWo;
    float acc = 0.0f;
    for (int r = 0; r < R; r++) {
        int hh = h + pad - r; /* = ho * stride */
        if (hh < 0 || hh % stride != 0) continue;
        int ho = hh / stride;
        if (ho >= Ho) continue;
        for (int s = 0; s < S; s++) {
            int ww = w + pad - s;
            if (ww < 0 || ww % stride != 0) continue;
            int wo = ww / stride;
            if (wo >= Wo) continue;
            acc += dcol[base + ((c * R + r) * S + s) * L + ho * Wo + wo];
        }
    }
    dx[dx_off + i] = acc;
}
