/* LIRF's recover logits (Eq. 8): deposit-class columns from the deposit path,
 * the other columns from the target. Reference: model/ref/ref_lirf.c.
 * mask (K) int: 1 for a deposit class column. */

__kernel void merge_columns(__global float *out, int out_off, __global const float *a, int a_off,
                            __global const float *b, int b_off, __global const int *mask,
                            int mask_off, int N, int K) {
    int i = get_global_id(0);
    if (i >= N * K) return;
    int k = i % K;
    out[out_off + i] = mask[mask_off + k] ? b[b_off + i] : a[a_off + i];
}

/* da[n,k] += scale * g[n,k] where mask[k] == 0; db[n,k] += scale * g[n,k] where
 * mask[k] != 0 (db optional: want_b). */
__kernel void split_columns_acc(__global float *da, int da_off, __global float *db, int db_off,
                                int want_b, __global const float *g, int g_off,
                                __global const int *mask, int mask_off, int N, int K,
                                float scale) {
    int i = get_global_id(0);
    if (i >= N * K) return;
    int k = i % K;
    float v = scale * g[g_off + i];
    if (mask[mask_off + k]) {
        if (want_b) db[db_off + i] += v;
    } else {
        da[da_off + i] += v;
    }
}
