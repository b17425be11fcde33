/* References of the losses and metrics (model/ops/op_loss.c): direct loops in
 * double.
 *
 * Invalid indices: a label outside [0,K) gives a NaN loss for its sample and a
 * NaN added to every logit gradient of its row; a column of cols outside [0,K)
 * gives a NaN KD loss for every sample and a NaN added to the gradient of every
 * in-range selected column. Nothing outside the arrays is ever touched. */
#include <math.h>

#include "ref.h"

/* log sum_j exp(v[j]), stable. */
static double log_sum_exp(const double *v, int n) {
    double m = v[0];
    for (int j = 1; j < n; j++) m = v[j] > m ? v[j] : m;
    double s = 0;
    for (int j = 0; j < n; j++) s += exp(v[j] - m);
    return m + log(s);
}

/* loss (1) = mean over N of per-sample CE; per_sample (N) or NULL.
 * logits (N,K), labels (N). */
void ref_softmax_ce_forward(double *loss, double *per_sample, const double *logits,
                            const int32_t *labels, int N, int K) {
    double sum = 0;
    for (int n = 0; n < N; n++) {
        const double *z = logits + (size_t)n * K;
        int y = labels[n];
        double l = (y >= 0 && y < K) ? log_sum_exp(z, K) - z[y] : NAN;
        if (per_sample) per_sample[n] = l;
        sum += l;
    }
    loss[0] = sum / N;
}

/* dlogits (N,K) += scale * (softmax(logits) - onehot(labels)) / N */
void ref_softmax_ce_backward(double *dlogits, const double *logits, const int32_t *labels, int N,
                             int K, double scale) {
    for (int n = 0; n < N; n++) {
        const double *z = logits + (size_t)n * K;
        double *dz = dlogits + (size_t)n * K;
        int y = labels[n];
        int valid = y >= 0 && y < K;
        double lse = log_sum_exp(z, K);
        for (int k = 0; k < K; k++) {
            double g = valid ? exp(z[k] - lse) - (k == y ? 1.0 : 0.0) : NAN;
            dz[k] += scale * g / N;
        }
    }
}

/* Column j of the selection: cols[j], or j when cols is NULL. */
static int kd_col(const int32_t *cols, int j) { return cols ? cols[j] : j; }

static int kd_cols_valid(const int32_t *cols, int M, int K) {
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, j);
        if (c < 0 || c >= K) return 0;
    }
    return 1;
}

/* Log-normalisers of row n: *za = log sum_j exp(s[n,c_j]/T), *zb likewise for t. */
static void kd_norms(double *za, double *zb, const double *s, const double *t,
                     const int32_t *cols, int M, int K, double T, int n) {
    const double *sr = s + (size_t)n * K, *tr = t + (size_t)n * K;
    double ma = -INFINITY, mb = -INFINITY;
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, j);
        ma = fmax(ma, sr[c] / T);
        mb = fmax(mb, tr[c] / T);
    }
    double sa = 0, sb = 0;
    for (int j = 0; j < M; j++) {
        int c = kd_col(cols, j);
        sa += exp(sr[c] / T - ma);
        sb += exp(tr[c] / T - mb);
    }
    *za = ma + log(sa);
    *zb = mb + log(sb);
}

/* loss (1) = T^2 * mean_n sum_j pt_j (log pt_j - log ps_j); s, t (N,K);
 * cols (M) or NULL (M = K). */
void ref_kd_forward(double *loss, const double *s, const double *t, const int32_t *cols, int M,
                    int N, int K, double T) {
    if (!kd_cols_valid(cols, M, K)) {
        loss[0] = NAN;
        return;
    }
    double sum = 0;
    for (int n = 0; n < N; n++) {
        double za, zb;
        kd_norms(&za, &zb, s, t, cols, M, K, T, n);
        double kl = 0;
        for (int j = 0; j < M; j++) {
            int c = kd_col(cols, j);
            double lps = s[(size_t)n * K + c] / T - za, lpt = t[(size_t)n * K + c] / T - zb;
            kl += exp(lpt) * (lpt - lps);
        }
        sum += kl;
    }
    loss[0] = T * T * sum / N;
}

/* ds[n,cols[j]] += scale * T / N * (ps_j - pt_j); other columns untouched. */
void ref_kd_backward(double *ds, const double *s, const double *t, const int32_t *cols, int M,
                     int N, int K, double T, double scale) {
    int valid = kd_cols_valid(cols, M, K);
    for (int n = 0; n < N; n++) {
        double za = 0, zb = 0;
        if (valid) kd_norms(&za, &zb, s, t, cols, M, K, T, n);
        const double *sr = s + (size_t)n * K, *tr = t + (size_t)n * K;
        for (int j = 0; j < M; j++) {
            int c = kd_col(cols, j);
            if (c < 0 || c >= K) continue;
            double g = valid ? exp(sr[c] / T - za) - exp(tr[c] / T - zb) : NAN;
            ds[(size_t)n * K + c] += scale * T / N * g;
        }
    }
}

/* pred (N) = argmax over K of logits (N,K), first max on ties. */
void ref_argmax(int32_t *pred, const double *logits, int N, int K) {
    for (int n = 0; n < N; n++) {
        const double *z = logits + (size_t)n * K;
        int best = 0;
        for (int k = 1; k < K; k++)
            if (z[k] > z[best]) best = k;
        pred[n] = best;
    }
}

/* counts (2K) += per class k: [2k] correct predictions, [2k+1] samples. */
void ref_class_counts(int32_t *counts, const int32_t *pred, const int32_t *labels, int N, int K) {
    for (int n = 0; n < N; n++) {
        int y = labels[n];
        if (y < 0 || y >= K) continue;
        counts[2 * y + 1]++;
        if (pred[n] == y) counts[2 * y]++;
    }
}
