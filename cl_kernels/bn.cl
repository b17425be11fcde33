/* Batch norm kernels. Reference: model/ref/ref_bn.c.
 * x, y, dx, dy (N, C, HW); per-channel arrays (C). The per-channel reductions
 * run one work-group per channel (global size C * local size); each work item
 * sums a fixed strided subset of the channel's cnt = N*HW elements, then a tree
 * reduction in local memory: the result does not depend on scheduling. The
 * local size is a power of two chosen by the host. A group beyond C (none
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

/* Training statistics, one work-group per channel: two passes (mean, then mean
 * of squared deviations); writes save_mean, save_invstd = 1/sqrt(var + eps) and
 * updates the running statistics with the unbiased variance. */
__kernel void bn_stats(__global float *save_mean, int sm_off, __global float *save_invstd,
                       int si_off, __global float *running_mean, int rm_off,
                       __global float *running_var, int rv_off, __global const float *x,
                       int x_off, float eps, float momentum, int N, int C, int HW,
                       __local float *s) {
    int c = get_group_id(0);
    int lid = get_local_id(0), lsz = get_local_size(0);
    int valid = c < C;
    int cnt = valid ? N * HW : 0;

    float acc = 0.0f;
    for (int j = lid; j < cnt; j += lsz) {
        int n = j / HW, p = j - n * HW;
        acc += x[x_off + (n * C + c) * HW + p];
    }
    s[lid] = acc;
    tree_sum(s, lid, lsz);
    float mean = s[0] / (float)cnt;
    barrier(CLK_LOCAL_MEM_FENCE); /* everyone has read s[0] */

    acc = 0.0f;
    for (int j = lid; j < cnt; j += lsz) {
        int n = j / HW, p = j - n * HW;
        float d = x[x_off + (n * C + c) * HW + p] - mean;
        acc += d * d;
    }
    s[lid] = acc;
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

/* y = (x - mean) * invstd * gamma + beta, one work item per element. With
 * from_var != 0, sv holds variances and invstd = 1/sqrt(sv + eps) (inference);
 * otherwise sv holds invstd (training). */
__kernel void bn_normalize(__global float *y, int y_off, __global const float *x, int x_off,
                           __global const float *mean, int m_off, __global const float *sv,
                           int sv_off, __global const float *gamma, int g_off,
                           __global const float *beta, int b_off, float eps, int from_var,
                           int C, int HW, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    int c = (i / HW) % C;
    float v = sv[sv_off + c];
    float invstd = from_var ? 1.0f / sqrt(v + eps) : v;
    y[y_off + i] = (x[x_off + i] - mean[m_off + c]) * invstd * gamma[g_off + c] + beta[b_off + c];
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
                                 int HW, __local float *s) {
    int c = get_group_id(0);
    int lid = get_local_id(0), lsz = get_local_size(0);
    int valid = c < C;
    int cnt = valid ? N * HW : 0;
    float m = valid ? mean[m_off + c] : 0.0f, v = valid ? sv[sv_off + c] : 1.0f;
    float invstd = from_var ? 1.0f / sqrt(v + eps) : v;

    float a = 0.0f, b = 0.0f;
    for (int j = lid; j < cnt; j += lsz) {
        int n = j / HW, p = j - n * HW;
        int i = (n * C + c) * HW + p;
        float g = dy[dy_off + i];
        a += g;
        b += g * ((x[x_off + i] - m) * invstd);
    }
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

/* Training dx = gamma * invstd / cnt * (cnt * dy - sdy - xhat * sdyx), one work
 * item per element; sums from bn_backward_reduce. */
__kernel void bn_backward_dx(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                             __global const float *x, int x_off, __global const float *sums,
                             int s_off, __global const float *mean, int m_off,
                             __global const float *invstd, int is_off,
                             __global const float *gamma, int g_off, int N, int C, int HW) {
    int i = get_global_id(0);
    int total = N * C * HW;
    if (i >= total) return;
    int c = (i / HW) % C;
    float cnt = (float)(N * HW);
    float is = invstd[is_off + c];
    float xhat = (x[x_off + i] - mean[m_off + c]) * is;
    float sdy = sums[s_off + 2 * c], sdyx = sums[s_off + 2 * c + 1];
    dx[dx_off + i] = gamma[g_off + c] * is / cnt * (cnt * dy[dy_off + i] - sdy - xhat * sdyx);
}

/* Inference dx = dy * gamma / sqrt(running_var + eps), one work item per element. */
__kernel void bn_backward_infer_dx(__global float *dx, int dx_off, __global const float *dy,
                                   int dy_off, __global const float *gamma, int g_off,
                                   __global const float *running_var, int rv_off, float eps, int C,
                                   int HW, int total) {
    int i = get_global_id(0);
    if (i >= total) return;
    int c = (i / HW) % C;
    dx[dx_off + i] = dy[dy_off + i] * gamma[g_off + c] / sqrt(running_var[rv_off + c] + eps);
}
