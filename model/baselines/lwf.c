/* Learning without Forgetting (Li & Hoiem, 2016): the incremental-learning
 * method behind the paper's Table 2 "IL Train" row (and its Table 4's LwF).
 * The old net, trained on the old classes, learns new classes from their
 * samples alone (the job's D_r: the deposit classes are the new ones):
 *   L = CE(z, y) + alpha * L_kd(g(z), g(z_old)),
 * CE over every class on the true labels, L_kd the temperature-T
 * distillation (lirf_kd_forward, T^2 KL) over the old classes' columns g
 * against the frozen old net (job.teacher) on the same images. Not an
 * unlearning baseline: it is not in lirf_unlearners, and its net is saved as
 * a plain model (lirf_unlearn_with). */
#include <stdlib.h>

#include "unlearn.h"

typedef struct {
    lirf_unlearn_job *j;
    lirf_tape *tape;
    lirf_buf old_cols;
    int nold;
} lwf;

static lirf_status step(void *self, lirf_fit_step *s) {
    lwf *c = self;
    lirf_unlearn_job *j = c->j;
    int n = s->n, K = j->K;
    lirf_buf z0, z, dz;
    LIRF_TRY(lirf_net_forward(j->teacher, s->ws, NULL, LIRF_MODE_EVAL, s->x, n, &z0));
    LIRF_TRY(lirf_net_forward(j->net, s->ws, c->tape, LIRF_MODE_TRAIN, s->x, n, &z));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * K, &dz));
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, z, s->y, n, K));
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, z, s->y, n, K, 1.0f));
    LIRF_TRY(lirf_kd_forward(s->ctx, s->term[1], z, z0, c->old_cols, c->nold, n, K, j->o->T));
    LIRF_TRY(lirf_kd_backward(s->ctx, dz, z, z0, c->old_cols, c->nold, n, K, j->o->T,
                              j->o->alpha));
    return lirf_net_backward(j->net, s->ws, c->tape, dz, NULL);
}

static double total(void *self, const float *t) {
    lwf *c = self;
    return t[0] + c->j->o->alpha * t[1];
}

/* the old classes: those not among the job's (new) deposit classes */
static lirf_status old_columns(lwf *c) {
    lirf_unlearn_job *j = c->j;
    int32_t cols[LIRF_MAX_CLASSES];
    c->nold = 0;
    for (int k = 0; k < j->K; k++) {
        int is_new = 0;
        for (int i = 0; i < j->ndep; i++) is_new |= j->dep[i] == k;
        if (!is_new) cols[c->nold++] = k;
    }
    if (!c->nold) return LIRF_FAIL(LIRF_E_INVALID, "lwf: no old class (every class is new)");
    LIRF_TRY(lirf_buf_alloc(j->ctx, (size_t)c->nold, &c->old_cols));
    return lirf_buf_write(j->ctx, c->old_cols, cols, (size_t)c->nold);
}

static lirf_status run(lirf_unlearn_job *j) {
    lwf c = {.j = j};
    LIRF_TRY(old_columns(&c));
    lirf_status st = lirf_tape_create(&c.tape);
    lirf_method m = {.name = "lwf", .loss_label = "LwF loss", .self = &c, .nterms = 2,
                     .term_name = {"CE", "KD old"}, .step = step, .total = total};
    if (st == LIRF_OK) st = lirf_unlearn_fit_learner(j, &m);
    lirf_tape_destroy(c.tape);
    lirf_buf_free(j->ctx, &c.old_cols);
    return st;
}

const lirf_unlearner lirf_learn_lwf = {
    "lwf", "Learning without Forgetting: the old net learns the new (deposit) classes from "
    "their samples, distilled to itself on the old classes' columns", 1, 0, 5, 0.01f, run,
    "model", 0};
