/* Optimiser steps. Reference: model/ref/ref_sgd.c; semantics in
 * model/op_sgd.c. */

/* w, v, g (n). PyTorch SGD, dampening 0, no Nesterov; momentum 0: v = g'. */
__kernel void sgd_step(__global float *w, int w_off, __global float *v, int v_off,
                       __global const float *g, int g_off, float lr, float momentum, float wd,
                       int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float wi = w[w_off + i];
    float gi = g[g_off + i] + wd * wi;
    float vi = momentum != 0.0f ? momentum * v[v_off + i] + gi : gi;
    v[v_off + i] = vi;
    w[w_off + i] = wi - lr * vi;
}

/* Quadratic penalty of EWC and MAS (Kirkpatrick et al. 2017; Aljundi et al.
 * 2018): loss[0] = 0.5 * sum_i imp[i] (w[i] - a[i])^2 over n entries, w the
 * weights, a their anchor (the old net's), imp the importance. One
 * work-group, a fixed tree in local memory (the local size a power of two):
 * the result does not depend on scheduling. */
__kernel void quad_penalty_reduce(__global float *loss, int loss_off, __global const float *w,
                                  int w_off, __global const float *a, int a_off,
                                  __global const float *imp, int imp_off, int n,
                                  __local float *red) {
    if (get_group_id(0) != 0) return;
    int lid = get_local_id(0), wg = get_local_size(0);
    float s = 0.0f;
    for (int i = lid; i < n; i += wg) {
        float d = w[w_off + i] - a[a_off + i];
        s += imp[imp_off + i] * d * d;
    }
    red[lid] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h >>= 1) {
        if (lid < h) red[lid] += red[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) loss[loss_off] = 0.5f * red[0];
}

/* g[i] += lambda * imp[i] (w[i] - a[i]): the penalty's gradient, times lambda. */
__kernel void quad_penalty_grad(__global float *g, int g_off, __global const float *w, int w_off,
                                __global const float *a, int a_off, __global const float *imp,
                                int imp_off, int n, float lambda) {
    int i = get_global_id(0);
    if (i >= n) return;
    g[g_off + i] += lambda * imp[imp_off + i] * (w[w_off + i] - a[a_off + i]);
}

/* Importance accumulation: acc[i] += scale * g[i]^2 (power 2: EWC's Fisher
 * diagonal) or scale * |g[i]| (power 1: MAS's). */
__kernel void importance_acc(__global float *acc, int acc_off, __global const float *g, int g_off,
                             int n, float scale, int power) {
    int i = get_global_id(0);
    if (i >= n) return;
    float gi = g[g_off + i];
    acc[acc_off + i] += scale * (power == 2 ? gi * gi : fabs(gi));
}
