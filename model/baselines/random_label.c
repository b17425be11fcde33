/* Random-label fine-tuning (D_r only): the whole of T0 trained with
 * cross-entropy towards fresh random labels over all classes on the deposit
 * classes' samples — LIRF's L_kr alone, on every layer, with no term that
 * keeps the preservation classes. */
#include "unlearn.h"

#include <stdlib.h>

typedef struct {
    lirf_unlearn_job *j;
    lirf_tape *tape;
    lirf_buf yr;
    int32_t *host;
} random_label;

static lirf_status step(void *self, lirf_fit_step *s) {
    random_label *r = self;
    LIRF_TRY(lirf_unlearn_random_labels(s->ctx, r->j->o->seed, s->gstep, s->n, r->j->K, r->host,
                                        r->yr));
    return lirf_unlearn_ce_step(r->j->net, r->tape, s, (lirf_buf){r->yr.mem, r->yr.off, (size_t)s->n},
                                1.0f);
}

static lirf_status run(lirf_unlearn_job *j) {
    random_label r = {.j = j, .yr = LIRF_NOBUF};
    lirf_status st = lirf_tape_create(&r.tape);
    if (st == LIRF_OK) st = lirf_buf_alloc(j->ctx, (size_t)j->o->batch, &r.yr);
    if (st == LIRF_OK && !(r.host = malloc((size_t)j->o->batch * sizeof *r.host)))
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_method m = {.name = "random-label", .loss_label = "loss (cross-entropy to random labels)",
                     .self = &r, .nparts = 1, .nterms = 1, .term_name = {"CE"}, .step = step};
    m.part[0] = lirf_fit_net_part(j->net, "", NULL);
    m.nreads = 0;
    lirf_fit_source src = lirf_fit_loader(j->forget);
    if (st == LIRF_OK) st = lirf_fit(j->ctx, &m, &src, &j->fit, &j->res);
    j->steps += j->res.steps;
    free(r.host);
    lirf_buf_free(j->ctx, &r.yr);
    lirf_tape_destroy(r.tape);
    return st;
}

const lirf_unlearner lirf_unlearn_random_label = {
    "random-label", "fine-tune every layer on D_r towards random labels", 1, 0, 2, 0.01f, run,
    NULL, 0};
