/* Data augmentation: random crop of the zero-padded image, horizontal flip,
 * rotation with bilinear sampling. The exact semantics are documented at the
 * top of model/op_augment.c; reference model/ref/ref_augment.c. */

/* Same arithmetic as lirf_aug_hash in model/op_augment.c (keep identical). */
uint aug_mix32(uint h) {
    h ^= h >> 16;
    h *= 0x7feb352dU;
    h ^= h >> 15;
    h *= 0x846ca68bU;
    h ^= h >> 16;
    return h;
}

uint aug_hash(uint seed, uint step, uint image, uint k) {
    uint h = aug_mix32(seed * 0x9e3779b1U + 0x6a09e667U);
    h = aug_mix32(h ^ (step * 0x85ebca77U));
    h = aug_mix32(h ^ (image * 0xc2b2ae3dU));
    h = aug_mix32(h ^ (k * 0x27d4eb2fU));
    return h;
}

float aug_tap(__global const float *xc, int H, int W, int yy, int xx) {
    return (yy >= 0 && yy < H && xx >= 0 && xx < W) ? xc[yy * W + xx] : 0.0f;
}

/* One work item per output pixel (n, i, j), all channels. y, x (N,C,H,W). */
__kernel void augment(__global float *y, int y_off, __global const float *x, int x_off, int N,
                      int C, int H, int W, int pad, int flip, float max_rot_deg, uint seed,
                      uint step) {
    int gid = get_global_id(0);
    if (gid >= N * H * W) return;
    int j = gid % W, i = (gid / W) % H, n = gid / (W * H);
    uint span = 2u * (uint)pad + 1u;
    int oy = (int)(aug_hash(seed, step, (uint)n, 0u) % span);
    int ox = (int)(aug_hash(seed, step, (uint)n, 1u) % span);
    int fl = flip && (aug_hash(seed, step, (uint)n, 2u) & 1u);
    int jj = fl ? W - 1 - j : j;
    int yy = i + oy - pad, xx = jj + ox - pad;
    size_t plane = (size_t)H * W;
    __global const float *xn = x + x_off + (size_t)n * C * plane;
    __global float *yn = y + y_off + (size_t)n * C * plane + (size_t)i * W + j;
    if (max_rot_deg == 0.0f) {
        int inside = yy >= 0 && yy < H && xx >= 0 && xx < W;
        for (int c = 0; c < C; c++)
            yn[c * plane] = inside ? xn[c * plane + (size_t)yy * W + xx] : 0.0f;
        return;
    }
    uint u3 = aug_hash(seed, step, (uint)n, 3u);
    float deg = ((float)(u3 >> 8) * (1.0f / 16777216.0f) * 2.0f - 1.0f) * max_rot_deg;
    float t = deg * (M_PI_F / 180.0f);
    float ct = cos(t), st = sin(t);
    float cy = (float)(H - 1) * 0.5f, cx = (float)(W - 1) * 0.5f;
    float dx = (float)xx - cx, dy = (float)yy - cy;
    float sx = cx + ct * dx - st * dy;
    float sy = cy + st * dx + ct * dy;
    float fy = floor(sy), fx = floor(sx);
    float wy = sy - fy, wx = sx - fx;
    int y0 = (int)fy, x0 = (int)fx;
    for (int c = 0; c < C; c++) {
        __global const float *xc = xn + c * plane;
        float top = (1.0f - wx) * aug_tap(xc, H, W, y0, x0) + wx * aug_tap(xc, H, W, y0, x0 + 1);
        float bot = (1.0f - wx) * aug_tap(xc, H, W, y0 + 1, x0) +
                    wx * aug_tap(xc, H, W, y0 + 1, x0 + 1);
        yn[c * plane] = (1.0f - wy) * top + wy * bot;
    }
}
