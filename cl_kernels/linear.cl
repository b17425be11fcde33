/* Fully connected layer: the bias parts (the products are lirf_gemm's).
 * Reference: model/ref/ref_linear.c.
 * Every buffer arrives as (pointer, element offset); kernels bound-check their
 * ids (the host rounds global sizes up). */

/* y (N,O) += b (O), broadcast over the rows; one work-item per element. */
__kernel void bias_add_rows(__global float *y, int y_off, __global const float *b, int b_off,
                            int N, int O) {
    int i = get_global_id(0);
    if (i >= N * O) return;
    y[y_off + i] += b[b_off + i % O];
}

/* db (O) += column sums of dy (N,O). One work-group per column: each work-item
 * sums a fixed stride of rows, then a tree in local memory (tmp: one float per
 * work-item; the local size is a power of two). The order of the additions
 * depends only on N and the local size: the result is deterministic. */
__kernel void column_sums_acc(__global float *db, int db_off, __global const float *dy,
                              int dy_off, int N, int O, __local float *tmp) {
    int o = get_group_id(0);
    int l = get_local_id(0);
    int wg = get_local_size(0);
    if (o >= O) return; /* the whole group leaves together */
    float acc = 0.0f;
    for (int n = l; n < N; n += wg) acc += dy[dy_off + n * O + o];
    tmp[l] = acc;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {
        if (l < s) tmp[l] += tmp[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (l == 0) db[db_off + o] += tmp[0];
}
