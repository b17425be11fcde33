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
