/* Attention transfer: maps, loss and gradient wrt F1. Reference:
 * model/ref/ref_attention.c; host side model/op_attention.c.
 * F (N,C,HW); maps a (N,HW). Per-sample reductions run in one work-group per
 * sample (group id = sample), as a fixed tree in local memory, so results do not
 * depend on scheduling. The local size must be a power of two. */

#define AT_NORM_FLOOR 1e-12f

/* Sums red[0..wg) into red[0]; every item of the group must call it. */
void at_tree_sum(__local float *red, int lid, int wg) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {
        if (lid < s) red[lid] += red[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* a[n,:] = q / max(||q||, 1e-12), q[p] = mean_c F[n,c,p]^2; with write_nrm,
 * nrm[n] = max(||q||, 1e-12). One work-group per sample; each item reads back
 * only the entries of a it wrote itself. */
__kernel void at_map(__global float *a, int a_off, __global float *nrm, int nrm_off,
                     int write_nrm, __global const float *F, int F_off, int N, int C, int HW,
                     __local float *red) {
    int n = get_group_id(0);
    if (n >= N) return; /* uniform over the group */
    int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *Fn = F + F_off + (size_t)n * C * HW;
    __global float *an = a + a_off + (size_t)n * HW;
    float ss = 0.0f;
    for (int p = lid; p < HW; p += wg) {
        float s = 0.0f;
        for (int c = 0; c < C; c++) {
            float v = Fn[(size_t)c * HW + p];
            s += v * v;
        }
        float q = s / (float)C;
        an[p] = q;
        ss += q * q;
    }
    red[lid] = ss;
    at_tree_sum(red, lid, wg);
    float d = fmax(sqrt(red[0]), AT_NORM_FLOOR);
    for (int p = lid; p < HW; p += wg) an[p] = an[p] / d;
    if (write_nrm && lid == 0) nrm[nrm_off + n] = d;
}

float at_filter(float v, float eps) { return v >= eps ? v : 0.0f; }

/* loss[0] = mean over m entries of (f(a1) - f(a2))^2. One work-group. */
__kernel void at_loss_reduce(__global float *loss, int loss_off, __global const float *a1,
                             int a1_off, __global const float *a2, int a2_off, int m, float eps,
                             __local float *red) {
    if (get_group_id(0) != 0) return;
    int lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f;
    for (int i = lid; i < m; i += wg) {
        float d = at_filter(a1[a1_off + i], eps) - at_filter(a2[a2_off + i], eps);
        s += d * d;
    }
    red[lid] = s;
    at_tree_sum(red, lid, wg);
    if (lid == 0) loss[loss_off] = red[0] / (float)m;
}

/* Gradient of scale * L_at wrt q1, per sample, written over a2 (each item
 * overwrites only the entries it read):
 *   g_p  = 2 (f(a1_p) - f(a2_p)) / (N HW) * [a1_p >= eps]
 *   dq_p = scale * (g_p - a1_p (a1 . g)) / nrm   (nrm > 1e-12), else scale * g_p / nrm */
__kernel void at_grad_q(__global float *a2, int a2_off, __global const float *a1, int a1_off,
                        __global const float *nrm, int nrm_off, int N, int HW, float eps,
                        float scale, __local float *red) {
    int n = get_group_id(0);
    if (n >= N) return;
    int lid = get_local_id(0), wg = get_local_size(0);
    __global const float *a1n = a1 + a1_off + (size_t)n * HW;
    __global float *a2n = a2 + a2_off + (size_t)n * HW;
    float two_over_m = 2.0f / ((float)N * (float)HW);
    float dot = 0.0f;
    for (int p = lid; p < HW; p += wg) {
        float v = a1n[p];
        float g = v >= eps ? (v - at_filter(a2n[p], eps)) * two_over_m : 0.0f;
        dot += v * g;
    }
    red[lid] = dot;
    at_tree_sum(red, lid, wg);
    dot = red[0];
    float d = nrm[nrm_off + n];
    int proj = d > AT_NORM_FLOOR;
    for (int p = lid; p < HW; p += wg) {
        float v = a1n[p];
        float g = v >= eps ? (v - at_filter(a2n[p], eps)) * two_over_m : 0.0f;
        a2n[p] = scale * ((proj ? g - v * dot : g) / d);
    }
}

/* dF[n,c,p] += dq[n,p] * 2 F[n,c,p] / C; one item per element of F. */
__kernel void at_grad_f(__global float *dF, int dF_off, __global const float *F, int F_off,
                        __global const float *dq, int dq_off, int N, int C, int HW) {
    int i = get_global_id(0);
    if (i >= N * C * HW) return;
    int p = i % HW, n = i / (C * HW);
    dF[dF_off + i] += dq[dq_off + n * HW + p] * (2.0f * F[F_off + i] / (float)C);
}

/* Feature matching (LIRF-C's MSE at the split): loss[0] = mean over m entries
 * of (a - b)^2. One work-group, a fixed tree: the result does not depend on
 * scheduling. */
__kernel void mse_reduce(__global float *loss, int loss_off, __global const float *a, int a_off,
                         __global const float *b, int b_off, int m, __local float *red) {
    if (get_group_id(0) != 0) return;
    int lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f;
    for (int i = lid; i < m; i += wg) {
        float d = a[a_off + i] - b[b_off + i];
        s += d * d;
    }
    red[lid] = s;
    at_tree_sum(red, lid, wg);
    if (lid == 0) loss[loss_off] = red[0] / (float)m;
}

/* da[i] += scale * 2 (a[i] - b[i]) / m; one item per entry. */
__kernel void mse_grad(__global float *da, int da_off, __global const float *a, int a_off,
                       __global const float *b, int b_off, int m, float scale) {
    int i = get_global_id(0);
    if (i >= m) return;
    da[da_off + i] += scale * (2.0f * (a[a_off + i] - b[b_off + i]) / (float)m);
}
