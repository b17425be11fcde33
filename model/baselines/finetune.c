/* Fine-tuning on the preservation data (uses D̄_r): T0 trained further with
 * cross-entropy on the preservation classes' samples only, so that the
 * deposit classes fade by catastrophic forgetting. */
#include "unlearn.h"

static lirf_status run(lirf_unlearn_job *j) {
    lirf_tape *tape;
    LIRF_TRY(lirf_tape_create(&tape));
    lirf_supervised s;
    lirf_method m;
    lirf_supervised_init(&s, &m, j->net, tape, NULL, NULL);
    m.name = "finetune";
    lirf_fit_source src = lirf_fit_loader(j->retain);
    lirf_status st = lirf_fit(j->ctx, &m, &src, &j->fit, &j->res);
    j->steps += j->res.steps;
    lirf_tape_destroy(tape);
    return st;
}

const lirf_unlearner lirf_unlearn_finetune = {
    "finetune", "fine-tune T0 on the preservation classes only", 0, 1, 2, 0.01f, run, NULL, 0};
