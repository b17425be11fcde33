/* Batch norm kernels. Reference: model/ref/ref_bn.c.
 * x, y, dx, dy (N, C, HW); per-channel arrays (C). The per-channel reductions
 * run one work-group per channel (global size C * local size); each work item
 * sums a fixed subset of the channel's cnt = N*HW elements (BN_SHARE), then a
 * tree reduction in local memory: the result does not depend on scheduling.
 * The local size is a power of two chosen by the host. The element-wise
 * kernels run on the range (ceil(HW / 16), N*C), 16 pixels of one channel per
 * work-item: no division per element. A group beyond C (none
 * with the host's exact global size) does no work but still reaches every
 * barrier: no early return before a barrier (PoCL hangs on that). */

/* In-place tree reduction of s[0..lsz) (lsz a power of two); result in s[0]. */
static void tree_sum(__local float *s, int lid, int lsz) {
    for (int h = lsz / 2; h > 0; h /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h) s[lid] += s[lid + h];
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* The work-item's share of channel c, as 16-wide vectors (a CPU compiler
 * keeps them in vector registers; the loops inside a work-item are not
 * vectorised across work-items): the local size is lp x ln (lp a power of two
 * from the host, about HW / 16); work-item (pl, nl) takes rows n = nl, nl +
 * ln, ... and in each the 16 pixels from p = 16 pl, 16 (pl + lp), ...
 * (fewer at the row's end). BODY16(off) and BODY1(off) consume the 16 or 1
 * elements at element offset off of (n, c, 0). */
#define BN_SHARE(N, C, HW, c, lid, lsz, lp, BODY16, BODY1)                  \
    {                                                                       \
        int pl_ = (lid) % (lp), nl_ = (lid) / (lp), ln_ = (lsz) / (lp);     \
        for (int n = nl_; n < (N); n += ln_) {                              \
            int row_ = (n * (C) + (c)) * (HW);                              \
            for (int p = 16 * pl_; p < (HW); p += 16 * (lp)) {              \
                if (p + 16 <= (HW)) {                                       \
                    BODY16(row_ + p)                                        \
                } else {                                                    \
                    for (int q = p; q < (HW); q++) BODY1(row_ + q)          \
                }                                                           \
            }                                                               \
        }                                                                   \
    }

static float sum16(float16 v) {
    float8 a = v.lo + v.hi;
    float4 b = a.lo + a.hi;
    float2 d = b.lo + b.hi;
    return d.x + d.y;
}

/* Training statistics, one work-group per channel: two passes (mean, then mean
 * of squared deviations); writes save_mean, save_invstd = 1/sqrt(var + eps) and
 * updates the running statistics with the unbiased variance. */
__kernel void bn_stats(__global float *save_mean, int sm_off, __global float *save_invstd,
                       int si_off, __global float *running_mean, int rm_off,
                       __global float *running_var, int rv_off, __global const float *x,
                       int x_off, float eps, float momentum, int N, int C, int HW, int lp,
                       __local float *s) {
    int c = get_group_id(0);
    int lid = get_local_id(0), lsz = get_local_size(0);
    int valid = c < C;
    int cnt = N * HW, nv = valid ? N : 0;
    __global const float *xc = x + x_off;

    float16 a16 = 0.0f;
    float a1 = 0.0f;
#define S16(o) a16 += vload16(0, xc + (o));
#define S1(o) a1 += xc[o];
    BN_SHARE(nv, C, HW, c, lid, lsz, lp, S16, S1)
    s[lid] = sum16(a16) + a1;
    tree_sum(s, lid, lsz);
    float mean = s[0] / (float)cnt;
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read s[0] */

    a16 = 0.0f;
    a1 = 0.0f;
#define Q16(o) { float16 d_ = vload16(0, xc + (o)) - mean; a16 = fma(d_, d_, a16); }
#define Q1(o) { float d_ = xc[o] - mean; a1 = fma(d_, d_, a1); }
    BN_SHARE(nv, C, HW, c, lid, lsz, lp, Q16, Q1)
    s[lid] = sum16(a16) + a1;
    tree_sum(s, lid, lsz);
    if (valid && lid == 0) {
        float var = s[0] / (float)cnt;
        float var_unbiased = cnt > 1 ? var * ((float)cnt / (float)(cnt - 1)) : var;
        save_mean[sm_off + c] = mean;
        save_invstd[si_off + c] = 1.0f / sqrt(var + eps);
        running_mean[rm_off + c] = (1.0f - momentum) * running_mean[rm_off + c] + momentum * mean;
        running_var[rv_off + c] =
            (1.0f - momentum) * running_var[rv_off + c] + momentum * var_unbiased;
    }
}

/* y = (x - mean) * invstd * gamma + beta, rows = N*C. With
 * from_var != 0, sv holds variances and invstd = 1/sqrt(sv + eps) (inference);
 * otherwise sv holds invstd (training). */
/* The element-wise kernels take 16 pixels of a row (n, c) per work-item, as
 * one 16-wide vector (fewer at the row's end): range (ceil(HW / 16), rows). */
#define ROW16_SETUP(rows)                                                 \
    int p0 = get_global_id(0) * 16, row = get_global_id(1);               \
    if (p0 >= HW || row >= (rows)) return;                                \
    int c = row % C, i0 = row * HW + p0, cnt16 = min(16, HW - p0);

__kernel void bn_normalize(__global float *y, int y_off, __global const float *x, int x_off,
                           __global const float *mean, int m_off, __global const float *sv,
                           int sv_off, __global const float *gamma, int g_off,
                           __global const float *beta, int b_off, float eps, int from_var,
                           int C, int HW, int rows) {
    ROW16_SETUP(rows)
    float v = sv[sv_off + c];
    float invstd = from_var ? 1.0f / sqrt(v + eps) : v;
    float m = mean[m_off + c], g = gamma[g_off + c], bt = beta[b_off + c];
    __global const float *xs = x + x_off + i0;
    __global float *ys = y + y_off + i0;
    if (cnt16 == 16) {
        vstore16((vload16(0, xs) - m) * invstd * g + bt, 0, ys);
    } else {
        for (int j = 0; j < cnt16; j++) ys[j] = (xs[j] - m) * invstd * g + bt;
    }
}

/* Backward reduction, one work-group per channel: sdy = sum(dy),
 * sdyx = sum(dy * xhat), xhat = (x - mean) * invstd (invstd from sv as in
 * bn_normalize). dgamma += sdyx, dbeta += sdy (each when its flag is set);
 * with want_sums, sums[2c] = sdy, sums[2c+1] = sdyx for bn_backward_dx. */
__kernel void bn_backward_reduce(__global float *dgamma, int dg_off, __global float *dbeta,
                                 int db_off, __global float *sums, int s_off,
                                 __global const float *dy, int dy_off, __global const float *x,
                                 int x_off, __global const float *mean, int m_off,
                                 __global const float *sv, int sv_off, float eps, int from_var,
                                 int want_dgamma, int want_dbeta, int want_sums, int N, int C,
                                 int HW, int lp, __local float *s) {
    int c = get_group_id(0);
    int lid = get_local_id(0), lsz = get_local_size(0);
    int valid = c < C;
    int nv = valid ? N : 0;
    float m = valid ? mean[m_off + c] : 0.0f, v = valid ? sv[sv_off + c] : 1.0f;
    float invstd = from_var ? 1.0f / sqrt(v + eps) : v;
    __global const float *dyc = dy + dy_off, *xc = x + x_off;

    float16 a16 = 0.0f, b16 = 0.0f;
    float a1 = 0.0f, b1 = 0.0f;
#define R16(o) { float16 g_ = vload16(0, dyc + (o)); a16 += g_; \
                 b16 = fma(g_, (vload16(0, xc + (o)) - m) * invstd, b16); }
#define R1(o) { float g_ = dyc[o]; a1 += g_; b1 = fma(g_, (xc[o] - m) * invstd, b1); }
    BN_SHARE(nv, C, HW, c, lid, lsz, lp, R16, R1)
    float a = sum16(a16) + a1, b = sum16(b16) + b1;
    __local float *s2 = s + lsz;
    s[lid] = a;
    s2[lid] = b;
    for (int h = lsz / 2; h > 0; h /= 2) {
        barrier(CLK_LOCAL_MEM_FENCE);
        if (lid < h) {
            s[lid] += s[lid + h];
            s2[lid] += s2[lid + h];
        }
    }
    barrier(CLK_LOCAL_MEM_FENCE);
    if (valid && lid == 0) {
        if (want_dgamma) dgamma[dg_off + c] += s2[0];
        if (want_dbeta) dbeta[db_off + c] += s[0];
        if (want_sums) {
            sums[s_off + 2 * c] = s[0];
            sums[s_off + 2 * c + 1] = s2[0];
        }
    }
}

/* Training dx = gamma * invstd / cnt * (cnt * dy - sdy - xhat * sdyx); sums
 * from bn_backward_reduce. */
__kernel void bn_backward_dx(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                             __global const float *x, int x_off, __global const float *sums,
                             int s_off, __global const float *mean, int m_off,
                             __global const float *invstd, int is_off,
                             __global const float *gamma, int g_off, int N, int C, int HW) {
    ROW16_SETUP(N * C)
    float cnt = (float)(N * HW);
    float is = invstd[is_off + c], m = mean[m_off + c];
    float sdy = sums[s_off + 2 * c], sdyx = sums[s_off + 2 * c + 1];
    float k = gamma[g_off + c] * is / cnt;
    __global const float *xs = x + x_off + i0, *dys = dy + dy_off + i0;
    __global float *dxs = dx + dx_off + i0;
    if (cnt16 == 16) {
        float16 xhat = (vload16(0, xs) - m) * is;
        vstore16(k * (cnt * vload16(0, dys) - sdy - xhat * sdyx), 0, dxs);
    } else {
        for (int j = 0; j < cnt16; j++) {
            float xhat = (xs[j] - m) * is;
            dxs[j] = k * (cnt * dys[j] - sdy - xhat * sdyx);
        }
    }
}

/* Inference dx = dy * gamma / sqrt(running_var + eps), rows = N*C. */
__kernel void bn_backward_infer_dx(__global float *dx, int dx_off, __global const float *dy,
                                   int dy_off, __global const float *gamma, int g_off,
                                   __global const float *running_var, int rv_off, float eps, int C,
                                   int HW, int rows) {
    ROW16_SETUP(rows)
    float k = gamma[g_off + c] / sqrt(running_var[rv_off + c] + eps);
    __global const float *dys = dy + dy_off + i0;
    __global float *dxs = dx + dx_off + i0;
    if (cnt16 == 16) {
        vstore16(vload16(0, dys) * k, 0, dxs);
    } else {
        for (int j = 0; j < cnt16; j++) dxs[j] = dys[j] * k;
    }
}
