/* Losses and metrics. Reference: model/ref/ref_loss.c.
 * Every buffer arrives as (pointer, element offset); kernels bound-check their
 * ids (the host rounds global sizes up).
 *
 * The batch-mean losses run as ONE work-group: work-item l handles rows l,
 * l + wg, ... in order, then a tree in local memory sums the partials, so the
 * result depends only on N and the local size, never on scheduling.
 * Invalid indices: a label outside [0,K) gives NaN for its sample (and NaN
 * gradients in its row); a column outside [0,K) gives NaN for every sample
 * (and NaN gradients in the in-range selected columns). Nothing outside the
 * buffers is read or written. */

/* Sums tmp[0..wg) into tmp[0]; wg a power of two; every work-item calls it
 * after writing its own tmp[l]. */
static void tree_sum(__local float *tmp, int l, int wg) {
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = wg / 2; s > 0; s >>= 1) {
        if (l < s) tmp[l] += tmp[l + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
}

/* log sum_k exp(z[k]) over one row of K, stable. */
static float row_lse(__global const float *z, int K) {
    float m = z[0];
    for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
    float s = 0.0f;
    for (int k = 0; k < K; k++) s += exp(z[k] - m);
    return m + log(s);
}

/* loss[0] = mean over N of the per-sample CE; per (N) written when has_per.
 * logits (N,K), labels int (N). One work-group; tmp: one float per work-item. */
__kernel void softmax_ce_forward(__global float *loss, int loss_off, __global float *per,
                                 int per_off, int has_per, __global const float *logits,
                                 int logits_off, __global const int *labels, int labels_off,
                                 int N, int K, __local float *tmp) {
    int l = get_local_id(0);
    int wg = get_local_size(0);
    float acc = 0.0f;
    for (int n = l; n < N; n += wg) {
        __global const float *z = logits + logits_off + n * K;
        int y = labels[labels_off + n];
        float v = (y >= 0 && y < K) ? row_lse(z, K) - z[y] : NAN;
        if (has_per) per[per_off + n] = v;
        acc += v;
    }
    tmp[l] = acc;
    tree_sum(tmp, l, wg);
    if (l == 0) loss[loss_off] = tmp[0] / (float)N;
}

/* dlogits (N,K) += coef * (softmax(logits) - onehot(labels)), coef = scale / N.
 * One work-item per row. */
__kernel void softmax_ce_backward(__global float *dlogits, int dlogits_off,
                                  __global const float *logits, int logits_off,
                                  __global const int *labels, int labels_off, int N, int K,
                                  float coef) {
    int n = get_global_id(0);
    if (n >= N) return;
    __global const float *z = logits + logits_off + n * K;
    __global float *dz = dlogits + dlogits_off + n * K;
    int y = labels[labels_off + n];
    if (y < 0 || y >= K) {
        for (int k = 0; k < K; k++) dz[k] += NAN;
        return;
    }
    float lse = row_lse(z, K);
    for (int k = 0; k < K; k++) {
        float g = exp(z[k] - lse) - (k == y ? 1.0f : 0.0f);
        dz[k] += coef * g;
    }
}

/* Column j of the selection: cols[j], or j when there is no cols buffer. */
static int kd_col(__global const int *cols, int has_cols, int j) {
    return has_cols ? cols[j] : j;
}

/* 1 if every selected column lies in [0,K). */
static int kd_cols_valid(__global const int *cols, int has_cols, int M, int K) {
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, has_cols, j);
        if (c < 0 || c >= K) return 0;
    }
    return 1;
}

/* Log-normalisers of one row over the selected columns: *za for sr/T, *zb for
 * tr/T. The columns must be valid. */
static void kd_norms(float *za, float *zb, __global const float *sr, __global const float *tr,
                     __global const int *cols, int has_cols, int M, float T) {
    float ma = -INFINITY, mb = -INFINITY;
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, has_cols, j);
        ma = fmax(ma, sr[c] / T);
        mb = fmax(mb, tr[c] / T);
    }
    float sa = 0.0f, sb = 0.0f;
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, has_cols, j);
        sa += exp(sr[c] / T - ma);
        sb += exp(tr[c] / T - mb);
    }
    *za = ma + log(sa);
    *zb = mb + log(sb);
}

/* loss[0] = coef * sum_n KL(pt_n || ps_n), coef = T^2 / N; p = softmax over the
 * selected columns of logits / T. s, t (N,K); cols int (M) when has_cols.
 * One work-group; tmp: one float per work-item. */
__kernel void kd_forward(__global float *loss, int loss_off, __global const float *s, int s_off,
                         __global const float *t, int t_off, __global const int *cols,
                         int cols_off, int has_cols, int M, int N, int K, float T, float coef,
                         __local float *tmp) {
    int l = get_local_id(0);
    int wg = get_local_size(0);
    __global const int *cl = cols + cols_off;
    int valid = kd_cols_valid(cl, has_cols, M, K);
    float acc = 0.0f;
    for (int n = l; n < N; n += wg) {
        __global const float *sr = s + s_off + n * K;
        __global const float *tr = t + t_off + n * K;
        float kl = NAN;
        if (valid) {
            float za, zb;
            kd_norms(&za, &zb, sr, tr, cl, has_cols, M, T);
            kl = 0.0f;
            for (int j = 0; j < M; j++) {
                int c = kd_col(cl, has_cols, j);
                float lps = sr[c] / T - za, lpt = tr[c] / T - zb;
                kl += exp(lpt) * (lpt - lps);
            }
        }
        acc += kl;
    }
    tmp[l] = acc;
    tree_sum(tmp, l, wg);
    if (l == 0) loss[loss_off] = coef * tmp[0];
}

/* ds[n,cols[j]] += coef * (ps_j - pt_j), coef = scale * T / N; other columns
 * untouched. One work-item per row. */
__kernel void kd_backward(__global float *ds, int ds_off, __global const float *s, int s_off,
                          __global const float *t, int t_off, __global const int *cols,
                          int cols_off, int has_cols, int M, int N, int K, float T, float coef) {
    int n = get_global_id(0);
    if (n >= N) return;
    __global const int *cl = cols + cols_off;
    __global const float *sr = s + s_off + n * K;
    __global const float *tr = t + t_off + n * K;
    __global float *dr = ds + ds_off + n * K;
    if (!kd_cols_valid(cl, has_cols, M, K)) {
        for (int j = 0; j < M; j++) {
            int c = kd_col(cl, has_cols, j);
            if (c >= 0 && c < K) dr[c] += NAN;
        }
        return;
    }
    float za, zb;
    kd_norms(&za, &zb, sr, tr, cl, has_cols, M, T);
    for (int j = 0; j < M; j++) {
        int c = kd_col(cl, has_cols, j);
        dr[c] += coef * (exp(sr[c] / T - za) - exp(tr[c] / T - zb));
    }
}

/* pred int (N) = argmax over K of logits (N,K), first max on ties. */
__kernel void argmax_rows(__global int *pred, int pred_off, __global const float *logits,
                          int logits_off, int N, int K) {
    int n = get_global_id(0);
    if (n >= N) return;
    __global const float *z = logits + logits_off + n * K;
    int best = 0;
    float bv = z[0];
    for (int k = 1; k < K; k++) {
        if (z[k] > bv) {
            bv = z[k];
            best = k;
        }
    }
    pred[pred_off + n] = best;
}

/* counts int (2K) += per class y: [2y] correct predictions, [2y+1] samples;
 * labels outside [0,K) skipped. One work-item per sample, integer atomics. */
__kernel void class_counts(__global int *counts, int counts_off, __global const int *pred,
                           int pred_off, __global const int *labels, int labels_off, int N,
                           int K) {
    int n = get_global_id(0);
    if (n >= N) return;
    int y = labels[labels_off + n];
    if (y < 0 || y >= K) return;
    atomic_inc(counts + counts_off + 2 * y + 1);
    if (pred[pred_off + n] == y) atomic_inc(counts + counts_off + 2 * y);
}
