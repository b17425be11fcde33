#include "ref.h"

void ref_merge_columns(double *out, const double *a, const double *b, const int32_t *mask, int N,
                       int K) {
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            int i = n * K + k;
            out[i] = mask[k] ? b[i] : a[i];
        }
}

void ref_split_columns_acc(double *da, double *db, const double *g, const int32_t *mask, int N,
                           int K, double scale) {
    for (int n = 0; n < N; n++)
        for (int k = 0; k < K; k++) {
            int i = n * K + k;
            if (mask[k]) {
                if (db) db[i] += scale * g[i];
            } else {
                da[i] += scale * g[i];
            }
        }
}
