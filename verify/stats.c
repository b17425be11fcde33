/* ROC statistics and intervals (see verify.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

typedef struct {
    double s;
    int pos;
} scored;

static int by_score_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->s != y->s) return x->s < y->s ? 1 : -1;
    return y->pos - x->pos;
}

static scored *merge(const double *pos, size_t npos, const double *neg, size_t nneg) {
    scored *v = malloc((npos + nneg + 1) * sizeof *v);
    if (!v) return NULL;
    for (size_t i = 0; i < npos; i++) v[i] = (scored){pos[i], 1};
    for (size_t i = 0; i < nneg; i++) v[npos + i] = (scored){neg[i], 0};
    qsort(v, npos + nneg, sizeof *v, by_score_desc);
    return v;
}

double lirf_roc_auc(const double *pos, size_t npos, const double *neg, size_t nneg) {
    if (!pos || !neg || !npos || !nneg) return NAN;
    scored *v = merge(pos, npos, neg, nneg);
    if (!v) return NAN;
    /* sweep groups of equal scores from the top: each positive beats the
     * negatives below its group and ties with those in it */
    double wins = 0;
    size_t neg_above = 0, n = npos + nneg;
    for (size_t i = 0; i < n;) {
        size_t j = i, gp = 0, gn = 0;
        while (j < n && v[j].s == v[i].s) gp += (size_t)v[j].pos, gn += (size_t)!v[j].pos, j++;
        wins += (double)gp * ((double)(nneg - neg_above - gn) + 0.5 * (double)gn);
        neg_above += gn;
        i = j;
    }
    free(v);
    return wins / ((double)npos * (double)nneg);
}

double lirf_tpr_at_fpr(const double *pos, size_t npos, const double *neg, size_t nneg,
                       double max_fpr) {
    if (!pos || !neg || !npos || !nneg) return NAN;
    scored *v = merge(pos, npos, neg, nneg);
    if (!v) return NAN;
    double best = 0;
    size_t tp = 0, fp = 0, n = npos + nneg;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) tp += (size_t)v[j].pos, fp += (size_t)!v[j].pos, j++;
        if ((double)fp / (double)nneg <= max_fpr) best = fmax(best, (double)tp / (double)npos);
        i = j;
    }
    free(v);
    return best;
}

lirf_status lirf_roc_curve(const double *pos, size_t npos, const double *neg, size_t nneg,
                           size_t max_points, double **out, size_t *npoints) {
    if (!pos || !neg || !out || !npoints) return LIRF_FAIL(LIRF_E_NULL, "roc_curve: NULL argument");
    if (!npos || !nneg || max_points < 2)
        return LIRF_FAIL(LIRF_E_INVALID, "roc_curve: %zu positives, %zu negatives, %zu points",
                         npos, nneg, max_points);
    scored *v = merge(pos, npos, neg, nneg);
    size_t n = npos + nneg;
    /* every threshold's point, then thinned to max_points */
    double *all = malloc(2 * (n + 1) * sizeof *all);
    double *res = malloc(2 * max_points * sizeof *res);
    if (!v || !all || !res) {
        free(v), free(all), free(res);
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    size_t k = 0, tp = 0, fp = 0;
    all[k++] = 0, all[k++] = 0;
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j < n && v[j].s == v[i].s) tp += (size_t)v[j].pos, fp += (size_t)!v[j].pos, j++;
        all[k++] = (double)fp / (double)nneg, all[k++] = (double)tp / (double)npos;
        i = j;
    }
    size_t m = k / 2, r = 0;
    if (m <= max_points) {
        memcpy(res, all, k * sizeof *all);
        r = m;
    } else {
        for (size_t i = 0; i < max_points; i++) {
            size_t src = (size_t)llround((double)i * (double)(m - 1) / (double)(max_points - 1));
            res[2 * r] = all[2 * src], res[2 * r + 1] = all[2 * src + 1], r++;
        }
    }
    free(v), free(all);
    *out = res, *npoints = r;
    return LIRF_OK;
}

double lirf_t975(int df) {
    static const double t[] = {0,      12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
                               2.306,  2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                               2.120,  2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
                               2.064,  2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    if (df < 1) return NAN;
    if (df <= 30) return t[df];
    if (df <= 40) return 2.042 + (2.021 - 2.042) * (df - 30) / 10.0;
    if (df <= 60) return 2.021 + (2.000 - 2.021) * (df - 40) / 20.0;
    if (df <= 120) return 2.000 + (1.980 - 2.000) * (df - 60) / 60.0;
    return 1.960;
}

void lirf_mean_ci95(const double *v, size_t n, double *mean, double *half) {
    double m = 0, ss = 0;
    for (size_t i = 0; i < n; i++) m += v[i];
    m = n ? m / (double)n : NAN;
    for (size_t i = 0; i < n; i++) ss += (v[i] - m) * (v[i] - m);
    if (mean) *mean = m;
    if (half) *half = n > 1 ? lirf_t975((int)n - 1) * sqrt(ss / (double)(n - 1)) / sqrt((double)n) : 0;
}
