/* Pooling kernels. Reference: model/ref/ref_pool.c.
 * Max pool K x K, stride S, padding P (the ImageNet stem's 3/2/1) below.
 * Max pool 2x2 stride 2 (floor): x, dx (N, C, H, W); y, idx (N, C, H/2, W/2),
 * idx the flat h*W+w index of the first max (scan order (0,0),(0,1),(1,0),
 * (1,1)); a NaN wins so that it propagates. Global average pool: x, dx
 * (N, C, HW); y, dy (N, C). Every kernel bound-checks its global id. */

__kernel void maxpool2_forward(__global float *y, int y_off, __global int *idx, int idx_off,
                               __global const float *x, int x_off, int H, int W, int total) {
    int o = get_global_id(0);
    if (o >= total) return;
    int Ho = H / 2, Wo = W / 2;
    int wo = o % Wo, t = o / Wo;
    int ho = t % Ho, nc = t / Ho;
    __global const float *xp = x + x_off + nc * H * W;
    int best_i = (2 * ho) * W + 2 * wo;
    float best = xp[best_i];
    for (int k = 1; k < 4; k++) {
        int i = (2 * ho + k / 2) * W + 2 * wo + k % 2;
        float v = xp[i];
        if (v > best || (isnan(v) && !isnan(best))) {
            best = v;
            best_i = i;
        }
    }
    y[y_off + o] = best;
    idx[idx_off + o] = best_i;
}

/* Gather: each dx element takes dy of its window when it is the window's
 * recorded argmax, else 0 (also the rows/columns dropped by the floor). */
__kernel void maxpool2_backward(__global float *dx, int dx_off, __global const float *dy,
                                int dy_off, __global const int *idx, int idx_off, int H, int W,
                                int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    int Ho = H / 2, Wo = W / 2;
    int w = i % W, t = i / W;
    int h = t % H, nc = t / H;
    int ho = h / 2, wo = w / 2;
    float g = 0.0f;
    if (ho < Ho && wo < Wo) {
        int o = (nc * Ho + ho) * Wo + wo;
        if (idx[idx_off + o] == h * W + w) g = dy[dy_off + o];
    }
    dx[dx_off + i] = g;
}

/* Max pool K x K, stride S, padding P (implicit -inf; PyTorch's
 * MaxPool2d(K, S, P), floor output size Ho = (H + 2P - K) / S + 1): x, dx
 * (N, C, H, W); y, idx (N, C, Ho, Wo), idx the flat h*W+w index of the first
 * max in scan order (the padding never wins: every window holds an input
 * element since P <= K/2); a NaN wins (the first) so that it propagates. */
__kernel void maxpool_forward(__global float *y, int y_off, __global int *idx, int idx_off,
                              __global const float *x, int x_off, int H, int W, int Ho, int Wo,
                              int K, int S, int P, int total) {
    int o = get_global_id(0);
    if (o >= total) return;
    int wo = o % Wo, t = o / Wo;
    int ho = t % Ho, nc = t / Ho;
    __global const float *xp = x + x_off + nc * H * W;
    int h0 = ho * S - P, w0 = wo * S - P;
    int best_i = -1;
    float best = 0.0f;
    for (int kh = 0; kh < K; kh++) {
        int h = h0 + kh;
        if (h < 0 || h >= H) continue;
        for (int kw = 0; kw < K; kw++) {
            int w = w0 + kw;
            if (w < 0 || w >= W) continue;
            int i = h * W + w;
            float v = xp[i];
            if (best_i < 0 || v > best || (isnan(v) && !isnan(best))) {
                best = v;
                best_i = i;
            }
        }
    }
    y[y_off + o] = best;
    idx[idx_off + o] = best_i;
}

/* Gather: each dx element sums dy over the windows that hold it and recorded
 * it as their argmax, in increasing (ho, wo) order (deterministic). */
__kernel void maxpool_backward(__global float *dx, int dx_off, __global const float *dy,
                               int dy_off, __global const int *idx, int idx_off, int H, int W,
                               int Ho, int Wo, int K, int S, int P, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    int w = i % W, t = i / W;
    int h = t % H, nc = t / H;
    /* windows ho with ho*S - P <= h <= ho*S - P + K - 1 */
    int hlo = max(0, (h + P - K + S) / S), hhi = min(Ho - 1, (h + P) / S);
    int wlo = max(0, (w + P - K + S) / S), whi = min(Wo - 1, (w + P) / S);
    int me = h * W + w;
    float g = 0.0f;
    for (int ho = hlo; ho <= hhi; ho++)
        for (int wo = wlo; wo <= whi; wo++) {
            int o = (nc * Ho + ho) * Wo + wo;
            if (idx[idx_off + o] == me) g += dy[dy_off + o];
        }
    dx[dx_off + i] = g;
}

/* One work-group per (n, c) row: strided partial sums, tree reduction in local
 * memory (deterministic), y = sum / HW. */
__kernel void gap_forward(__global float *y, int y_off, __global const float *x, int x_off,
                          int NC, int HW, __local float *s) {
    int r = get_group_id(0);
    int lid = get_local_id(0), lsz = get_local_size(0);
    int n = r < NC ? HW : 0; /* no early return before a barrier */
    float acc = 0.0f;
    for (int p = lid; p < n; p += lsz) acc += x[x_off + r * HW + p];
    s[lid] = acc;
    for (int h = lsz / 2; h > 0; h /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h) s[lid] += s[lid + h];
    }
    if (n > 0 && lid == 0) y[y_off + r] = s[0] / (float)HW;
}

__kernel void gap_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                           int HW, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    dx[dx_off + i] = dy[dy_off + i / HW] / (float)HW;
}
