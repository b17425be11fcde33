/* Probe (b) of lirf verify: relearn time of the target, the negative control
 * and the original on a small labelled sample of the deposit classes (see
 * docs/verify.md, "Relearn time"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_priv.h"

/* ---- 6b. probe (b): relearn time on a small labelled sample of the deposit classes ---- */
typedef struct {
    int32_t *smp, *ev; /* the sample (training images), the goal set (test images) */
    size_t ns, nd, ne; /* sample size, of which deposit-class images, goal-set size */
    double goal;       /* Dep Acc on the goal set */
    int steps[3];      /* the target's, the negative control's, the original's (-1: goal not reached) */
} relearn_t;

/* The sample: deposit-class training images outside the member range when
 * there is one, else any (from the end), and as many preservation-class
 * images beside them, so that predicting only deposit classes is no shortcut
 * to a high Dep Acc; the goal set: deposit-class test images. */
static lirf_status relearn_sample(audit_t *a, relearn_t *rl) {
    const lirf_dataset *tr = &a->tr, *te = &a->te;
    size_t cap = (size_t)a->o->relearn_samples;
    rl->smp = malloc((size_t)tr->n * sizeof *rl->smp), rl->ev = malloc((size_t)te->n * sizeof *rl->ev);
    if (!rl->smp || !rl->ev) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int i = tr->n - 1; i >= 0 && rl->ns < cap; i--)
        if (va_is_dep(&a->S, tr->labels[i])) rl->smp[rl->ns++] = i;
    rl->nd = rl->ns;
    for (int i = tr->n - 1; i >= 0 && rl->ns < 2 * rl->nd; i--)
        if (!va_is_dep(&a->S, tr->labels[i])) rl->smp[rl->ns++] = i;
    for (int i = 0; i < te->n; i++)
        if (va_is_dep(&a->S, te->labels[i])) rl->ev[rl->ne++] = i;
    rl->ne = va_thin(rl->ev, rl->ne, 600);
    rl->goal = a->o->relearn_fraction * a->M[R_ORIGINAL].dep_acc;
    return LIRF_OK;
}

/* Relearn of one net (r == R_COUNT: a fresh one) into rl->steps[k]. */
static lirf_status relearn_one(audit_t *a, int r, int k, relearn_t *rl, json_t *rows) {
    const lirf_verify_opts *o = a->o;
    const lirf_model_meta *mm = va_meta_of(a, r);
    lirf_net_config c = mm->cfg;
    lirf_net *net = NULL;
    lirf_loader *ld = NULL;
    double reached = NAN;
    lirf_relearn_opts ro = {.batch = 32, .max_steps = o->relearn_max_steps,
                            .eval_every = o->relearn_eval_every, .lr = o->relearn_lr,
                            .momentum = 0.9f, .wd = 5e-4f, .seed = 1,
                            .mode = r < R_COUNT ? LIRF_MODE_TRAIN_BN_FIXED : LIRF_MODE_TRAIN};
    lirf_status st = lirf_net_create(a->ctx, &c, &net);
    if (st == LIRF_OK) st = lirf_net_init(net, 1);
    if (st == LIRF_OK && r < R_COUNT) st = lirf_net_copy(net, a->M[r].net, NULL);
    if (st == LIRF_OK) st = va_make_loader(a->ctx, &a->te, rl->ev, rl->ne, 256, mm->mean, mm->std, &ld);
    if (st == LIRF_OK)
        st = lirf_relearn(net, &a->tr, rl->smp, rl->ns, mm->mean, mm->std, ld, rl->goal, &ro,
                          &rl->steps[k], &reached);
    lirf_loader_destroy(ld);
    lirf_net_destroy(net);
    if (st == LIRF_OK)
        json_array_append_new(rows, json_pack("{s:s,s:s,s:i,s:o}", "role", va_role_name(r), "label",
                                              va_role_label(r), "steps", rl->steps[k], "last_dep_acc",
                                              va_jnum(reached)));
    va_note(o, "relearn of the %s net done", va_role_name(r), a->t_start);
    return st;
}

static void steps_text(int steps, int max, char *t, size_t n) {
    if (steps < 0) snprintf(t, n, "not within %d steps", max);
    else snprintf(t, n, "%d steps", steps);
}

/* The relearn report, and the check: steps as a ratio to the negative
 * control's (a never-reached goal counts as max_steps); leakage below the
 * margin. The negative control is the Independent net; a fresh net (no
 * features at all) gives no calibrated check. */
static void relearn_report(audit_t *a, const relearn_t *rl, int ctl_role, json_t *rows) {
    const lirf_verify_opts *o = a->o;
    int max = o->relearn_max_steps;
    char x[64], y[64], z[64];
    steps_text(rl->steps[0], max, x, sizeof x), steps_text(rl->steps[1], max, y, sizeof y);
    steps_text(rl->steps[2], max, z, sizeof z);
    json_object_set_new(a->R, "relearn", json_pack("{s:i,s:i,s:f,s:f,s:i,s:i,s:f,s:s,s:s,s:s,s:o}", "samples", (int)rl->nd,
                                                   "preservation_samples", (int)(rl->ns - rl->nd),
                                                   "fraction", lirf_tidy(o->relearn_fraction), "goal_dep_acc", rl->goal,
                                                   "max_steps", max, "eval_every", o->relearn_eval_every,
                                                   "lr", lirf_tidy(o->relearn_lr), "target_steps_text", x,
                                                   "control_steps_text", y, "original_steps_text", z, "nets", rows));
    double s[3];
    for (int k = 0; k < 3; k++) s[k] = rl->steps[k] < 0 ? max : rl->steps[k];
    double ratio = s[1] > 0 ? s[0] / s[1] : (s[0] > 0 ? INFINITY : 1.0);
    double pos = s[1] > 0 ? s[2] / s[1] : (s[2] > 0 ? INFINITY : 1.0);
    int ind = ctl_role == R_INDEPENDENT;
    va_check c = {.name = "relearn", .what = "relearn steps of the target divided by the negative control's",
                  .value = ratio, .control = s[1],
                  .control_is = ind ? "the negative control's steps" : "a fresh net's steps",
                  .positive = pos, .margin = o->margin_relearn, .below = 1,
                  .no_power_why = ind ? NULL : "no negative control: a fresh net has no features at all, "
                                               "so any trained net relearns faster, forgotten or not"};
    va_add_check(a, &c);
}

/* Needs --original (the goal is a fraction of its Dep Acc); the nets: the
 * target, the negative control (the Independent net, else a fresh one) and
 * the original. */
lirf_status va_relearn_stage(audit_t *a) {
    if (!a->o->relearn || !a->M[R_ORIGINAL].net) return LIRF_OK;
    double t0 = lirf_now();
    relearn_t rl = {.steps = {-1, -1, -1}};
    lirf_status st = relearn_sample(a, &rl);
    json_t *rows = json_array();
    int ctl_role = a->M[R_INDEPENDENT].net ? R_INDEPENDENT : R_COUNT;
    int who[3] = {R_TARGET, ctl_role, R_ORIGINAL};
    for (int k = 0; k < 3 && st == LIRF_OK; k++) st = relearn_one(a, who[k], k, &rl, rows);
    free(rl.smp), free(rl.ev);
    if (st != LIRF_OK) {
        json_decref(rows);
        return st;
    }
    relearn_report(a, &rl, ctl_role, rows);
    json_object_set_new(a->timing, "relearn", json_real(lirf_now() - t0));
    return LIRF_OK;
}
