/* Gradient ascent (D_r only): the whole of T0 trained to increase the
 * cross-entropy of the deposit classes' samples under their true labels
 * (SGD on -CE). Nothing bounds it: a long run or a large lr destroys the
 * preservation classes too, and a loss that overflows stops the run (the
 * non-finite check of lirf_fit). */
#include "unlearn.h"

typedef struct {
    lirf_unlearn_job *j;
    lirf_tape *tape;
} grad_ascent;

static lirf_status step(void *self, lirf_fit_step *s) {
    grad_ascent *g = self;
    return lirf_unlearn_ce_step(g->j->net, g->tape, s, s->y, -1.0f);
}

static lirf_status run(lirf_unlearn_job *j) {
    grad_ascent g = {.j = j};
    LIRF_TRY(lirf_tape_create(&g.tape));
    lirf_method m = {.name = "grad-ascent", .loss_label = "loss (cross-entropy, ascended)",
                     .self = &g, .nparts = 1, .nterms = 1, .term_name = {"CE"}, .step = step};
    m.part[0] = lirf_fit_net_part(j->net, "", NULL);
    lirf_fit_source src = lirf_fit_loader(j->forget);
    lirf_status st = lirf_fit(j->ctx, &m, &src, &j->fit, &j->res);
    j->steps += j->res.steps;
    lirf_tape_destroy(g.tape);
    return st;
}

const lirf_unlearner lirf_unlearn_grad_ascent = {
    "grad-ascent", "gradient ascent on the cross-entropy of D_r", 1, 0, 1, 0.001f, run, NULL, 0};
