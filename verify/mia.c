/* Membership inference on the deposit classes (probe c), calibrated with the
 * negative control as the reference model: a sample's score under net X is
 * loss_N(x) - loss_X(x), how much better X fits it than a net that never saw
 * it (difficulty calibration: Watson et al., ICLR 2022). Members: deposit-class
 * training images among the first member_limit; non-members: deposit-class
 * test images. The plain loss-threshold attack (score -loss_X) is reported
 * beside it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "audit_priv.h"

typedef struct {
    int32_t *mem, *non;         /* members (training images), non-members (test images) */
    size_t nm, nn;
    float *lm[R_COUNT], *ln[R_COUNT]; /* each net's losses */
    double *pm, *pn;            /* scores */
} mia_t;

static void mia_free(mia_t *m) {
    free(m->mem), free(m->non), free(m->pm), free(m->pn);
    for (int r = 0; r < R_COUNT; r++) free(m->lm[r]), free(m->ln[r]);
}

/* at most mia_samples of each, evenly spaced */
static lirf_status mia_samples(audit_t *a, mia_t *m) {
    const lirf_dataset *tr = &a->tr, *te = &a->te;
    size_t lim = a->member_limit;
    m->mem = malloc((lim + 1) * sizeof *m->mem);
    m->non = malloc(((size_t)te->n + 1) * sizeof *m->non);
    if (!m->mem || !m->non) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (size_t i = 0; i < lim; i++)
        if (va_is_dep(&a->S, tr->labels[i])) m->mem[m->nm++] = (int32_t)i;
    for (int i = 0; i < te->n; i++)
        if (va_is_dep(&a->S, te->labels[i])) m->non[m->nn++] = i;
    m->nm = va_thin(m->mem, m->nm, (size_t)a->o->mia_samples);
    m->nn = va_thin(m->non, m->nn, (size_t)a->o->mia_samples);
    m->pm = malloc((m->nm + 1) * sizeof *m->pm), m->pn = malloc((m->nn + 1) * sizeof *m->pn);
    if (!m->pm || !m->pn || !m->nm || !m->nn)
        return m->pm && m->pn ? LIRF_FAIL(LIRF_E_INVALID, "membership inference: %zu members and %zu "
                                          "non-members of the deposit classes", m->nm, m->nn)
                              : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    return LIRF_OK;
}

static lirf_status losses(audit_t *a, int r, mia_t *m) {
    const model_t *M = &a->M[r];
    m->lm[r] = malloc(m->nm * sizeof **m->lm), m->ln[r] = malloc(m->nn * sizeof **m->ln);
    if (!m->lm[r] || !m->ln[r]) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_loader *x = NULL, *y = NULL;
    lirf_status st = va_make_loader(a->ctx, &a->tr, m->mem, m->nm, 256, M->meta.mean, M->meta.std, &x);
    if (st == LIRF_OK) st = va_make_loader(a->ctx, &a->te, m->non, m->nn, 256, M->meta.mean, M->meta.std, &y);
    if (st == LIRF_OK) st = lirf_per_sample_loss(a->ctx, x, a->K, lirf_net_logits, M->net, m->lm[r]);
    if (st == LIRF_OK) st = lirf_per_sample_loss(a->ctx, y, a->K, lirf_net_logits, M->net, m->ln[r]);
    lirf_loader_destroy(x), lirf_loader_destroy(y);
    return st;
}

/* AUC and TPR at 1% and 0.1% FPR of the scores (ref: the reference net's
 * losses, NULL: the plain attack) into o[0..2]; the ROC curve if roc. */
static lirf_status attack(mia_t *m, int r, const float *refm, const float *refn, double *o,
                          json_t **roc) {
    for (size_t i = 0; i < m->nm; i++) m->pm[i] = (refm ? (double)refm[i] : 0.0) - (double)m->lm[r][i];
    for (size_t i = 0; i < m->nn; i++) m->pn[i] = (refn ? (double)refn[i] : 0.0) - (double)m->ln[r][i];
    o[0] = lirf_roc_auc(m->pm, m->nm, m->pn, m->nn);
    o[1] = lirf_tpr_at_fpr(m->pm, m->nm, m->pn, m->nn, 0.01);
    o[2] = lirf_tpr_at_fpr(m->pm, m->nm, m->pn, m->nn, 0.001);
    if (!roc) return LIRF_OK;
    double *c = NULL;
    size_t np = 0;
    LIRF_TRY(lirf_roc_curve(m->pm, m->nm, m->pn, m->nn, 101, &c, &np));
    *roc = json_array();
    for (size_t i = 0; i < np; i++) json_array_append_new(*roc, json_pack("[f,f]", c[2 * i], c[2 * i + 1]));
    free(c);
    return LIRF_OK;
}

static double mean_of(const float *v, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i];
    return n ? s / (double)n : NAN;
}

/* One net's row; auc_cal: its calibrated AUC (NAN without a reference). */
static lirf_status mia_row(audit_t *a, int r, mia_t *m, json_t *rows, double *auc_cal) {
    int ref = a->M[R_INDEPENDENT].net != NULL;
    double pl[3], ca[3] = {NAN, NAN, NAN};
    json_t *roc = NULL;
    LIRF_TRY(attack(m, r, NULL, NULL, pl, ref ? NULL : &roc));
    if (ref) LIRF_TRY(attack(m, r, m->lm[R_INDEPENDENT], m->ln[R_INDEPENDENT], ca, &roc));
    *auc_cal = ca[0];
    json_array_append_new(rows, json_pack("{s:s,s:s,s:o,s:o,s:o,s:f,s:f,s:f,s:I,s:I,s:f,s:f,s:o}",
        "role", ROLE[r], "label", ROLE_LABEL[r], "auc", va_jnum(ca[0]), "tpr_at_1pct_fpr",
        va_jnum(ca[1]), "tpr_at_0_1pct_fpr", va_jnum(ca[2]), "plain_auc", pl[0],
        "plain_tpr_at_1pct_fpr", pl[1], "plain_tpr_at_0_1pct_fpr", pl[2], "members",
        (json_int_t)m->nm, "non_members", (json_int_t)m->nn, "member_mean_loss",
        mean_of(m->lm[r], m->nm), "non_member_mean_loss", mean_of(m->ln[r], m->nn), "roc", roc));
    return LIRF_OK;
}

static void mia_check(audit_t *a, const double *cal) {
    int ref = a->M[R_INDEPENDENT].net != NULL, pos = a->M[R_ORIGINAL].net != NULL;
    va_check c = {.name = "mia", .what = "calibrated membership-inference ROC AUC of the target on the "
                  "deposit classes minus 0.5 (the negative control as the reference model)",
                  .value = cal[R_TARGET] - 0.5, .half = 0, .control = 0.5,
                  .control_is = "the negative control: AUC 0.5 by construction (it is the reference)",
                  .positive = pos ? cal[R_ORIGINAL] - 0.5 : NAN, .pos_half = 0,
                  .margin = a->o->margin_mia,
                  .no_power_why = !ref ? "no negative control (the reference model)"
                                  : !pos ? "needs --original (the positive control)" : NULL};
    va_add_check(a, &c);
}

lirf_status va_mia_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    if (!o->mia) return LIRF_OK;
    double t0 = lirf_now(), cal[R_COUNT];
    mia_t m = {0};
    lirf_status st = mia_samples(a, &m);
    static const int order[R_COUNT] = {R_INDEPENDENT, R_ORIGINAL, R_TARGET, R_TARGET_NO_AT};
    for (int k = 0; k < R_COUNT && st == LIRF_OK; k++)
        if (a->M[order[k]].net) st = losses(a, order[k], &m);
    json_t *rows = json_array();
    for (int r = 0; r < R_COUNT; r++) cal[r] = NAN;
    for (int r = 0; r < R_COUNT && st == LIRF_OK; r++)
        if (a->M[r].net) st = mia_row(a, r, &m, rows, &cal[r]);
    mia_free(&m);
    if (st != LIRF_OK) {
        json_decref(rows);
        return st;
    }
    json_object_set_new(a->R, "mia", json_pack("{s:s,s:s,s:i,s:i,s:o}", "score",
                        "the negative control's cross-entropy of the true label minus the net's",
                        "plain_score", "minus the cross-entropy of the true label", "member_limit",
                        (int)a->member_limit, "max_samples", o->mia_samples, "models", rows));
    mia_check(a, cal);
    json_object_set_new(a->timing, "mia", json_real(lirf_now() - t0));
    va_note(o, "membership inference done%s", "", a->t_start);
    return LIRF_OK;
}
