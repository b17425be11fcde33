/* Retraining from scratch on the preservation data (uses D̄_r): the paper's
 * Independent net — T0's architecture, freshly initialised (seed), trained
 * as lirf train trains (cosine schedule with half an epoch of warm-up) on
 * the preservation classes only. The gold standard of forgetting, at the
 * cost of a whole training run and all the remaining data. */
#include "unlearn.h"

static lirf_status run(lirf_unlearn_job *j) {
    LIRF_TRY(lirf_net_init(j->net, j->o->seed));
    lirf_tape *tape;
    LIRF_TRY(lirf_tape_create(&tape));
    lirf_supervised s;
    lirf_method m;
    lirf_supervised_init(&s, &m, j->net, tape, NULL, NULL);
    m.name = "retrain";
    j->fit.sched.kind = LIRF_SCHED_COSINE, j->fit.sched.warmup = 0.5f;
    lirf_fit_source src = lirf_fit_loader(j->retain);
    lirf_status st = lirf_fit(j->ctx, &m, &src, &j->fit, &j->res);
    j->steps += j->res.steps;
    lirf_tape_destroy(tape);
    return st;
}

const lirf_unlearner lirf_unlearn_retrain = {
    "retrain", "train T0's architecture from scratch on the preservation classes", 0, 1, 3,
    0.1f, run, NULL, 0};
