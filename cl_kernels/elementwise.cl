/* Elementwise ops. Reference: model/ref/ref_elementwise.c.
 * Every buffer arrives as (pointer, element offset); every kernel bound-checks
 * its global id against n (the host rounds the global size up). */

__kernel void relu_forward(__global float *y, int y_off, __global const float *x, int x_off,
                           int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = x[x_off + i];
    y[y_off + i] = v > 0.0f ? v : 0.0f;
}

__kernel void relu_backward(__global float *dx, int dx_off, __global const float *dy, int dy_off,
                            __global const float *y, int y_off, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    dx[dx_off + i] = y[y_off + i] > 0.0f ? dy[dy_off + i] : 0.0f;
}

__kernel void add(__global float *y, int y_off, __global const float *a, int a_off,
                  __global const float *b, int b_off, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] = a[a_off + i] + b[b_off + i];
}

__kernel void add_relu(__global float *y, int y_off, __global const float *a, int a_off,
                       __global const float *b, int b_off, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    float v = a[a_off + i] + b[b_off + i];
    y[y_off + i] = v > 0.0f ? v : 0.0f;
}

__kernel void axpy(__global float *y, int y_off, float alpha, __global const float *x, int x_off,
                   int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] += alpha * x[x_off + i];
}

__kernel void scale(__global float *y, int y_off, float alpha, int n) {
    int i = get_global_id(0);
    if (i >= n) return;
    y[y_off + i] *= alpha;
}

/* count[c_off] += the number of x[0..n) that are NaN or infinite. Each work-group
 * adds its partial count with one integer atomic (exact whatever the order). */
__kernel void count_nonfinite(__global int *count, int c_off, __global const float *x, int x_off,
                              int n, __local int *part) {
    int lid = get_local_id(0), wg = get_local_size(0);
    int c = 0;
    for (int i = get_global_id(0); i < n; i += get_global_size(0)) c += isfinite(x[x_off + i]) ? 0 : 1;
    part[lid] = c;
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid == 0) {
        int s = 0;
        for (int j = 0; j < wg; j++) s += part[j];
        if (s) atomic_add(count + c_off, s);
    }
}
