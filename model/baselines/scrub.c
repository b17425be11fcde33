/* SCRUB, simplified (Kurmanji et al. 2023; uses D̄_r): a student that starts
 * as T0 moves away from T0 (the teacher) on D_r and stays close to it on
 * D̄_r. Each epoch is a max pass over D_r (the first ceil(epochs / 2)
 * epochs only): SGD on -KD(student, teacher); then a min pass over D̄_r:
 * alpha KD(student, teacher) + (1 - alpha) CE(student, y). KD is the
 * temperature-T Kullback-Leibler term of lirf_kd_forward over all classes.
 * Simpler than the paper's: one pass of each kind per epoch, no separate
 * max/min step counts or learning rates. */
#include "unlearn.h"

typedef struct {
    lirf_unlearn_job *j;
    lirf_tape *tape;
    int max_pass;
} scrub;

static lirf_status step(void *self, lirf_fit_step *s) {
    scrub *c = self;
    lirf_unlearn_job *j = c->j;
    int n = s->n, K = j->K;
    float a = c->max_pass ? -1.0f : j->o->alpha, T = j->o->T;
    lirf_buf z0, z, dz;
    LIRF_TRY(lirf_net_forward(j->teacher, s->ws, NULL, LIRF_MODE_EVAL, s->x, n, &z0));
    LIRF_TRY(lirf_net_forward(j->net, s->ws, c->tape, LIRF_MODE_TRAIN, s->x, n, &z));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * K, &dz));
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_kd_forward(s->ctx, s->term[1], z, z0, LIRF_NOBUF, K, n, K, T));
    LIRF_TRY(lirf_kd_backward(s->ctx, dz, z, z0, LIRF_NOBUF, K, n, K, T, a));
    if (!c->max_pass) {
        LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, z, s->y, n, K));
        LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, z, s->y, n, K, 1 - j->o->alpha));
    }
    return lirf_net_backward(j->net, s->ws, c->tape, dz, NULL);
}

static double total(void *self, const float *t) {
    scrub *c = self;
    float a = c->j->o->alpha;
    return c->max_pass ? -t[1] : a * t[1] + (1 - a) * t[0];
}

static lirf_status run(lirf_unlearn_job *j) {
    scrub c = {.j = j};
    LIRF_TRY(lirf_tape_create(&c.tape));
    lirf_method m = {.loss_label = "SCRUB loss", .self = &c, .nparts = 1, .nreads = 1,
                     .nterms = 2, .term_name = {"CE", "KD"}, .step = step, .total = total};
    m.part[0] = lirf_fit_net_part(j->net, "", NULL);
    m.reads[0] = j->teacher;
    int epochs = j->fit.epochs;
    lirf_fit_opts fo = j->fit;
    fo.epochs = 1, fo.sched.epochs = 1;
    lirf_status st = LIRF_OK;
    for (int e = 0; e < epochs && st == LIRF_OK; e++) {
        for (c.max_pass = 2 * e < epochs; c.max_pass >= 0 && st == LIRF_OK; c.max_pass--) {
            m.name = c.max_pass ? "scrub-max" : "scrub-min";
            lirf_fit_source src = lirf_fit_loader(c.max_pass ? j->forget : j->retain);
            st = lirf_fit(j->ctx, &m, &src, &fo, &j->res);
            j->steps += j->res.steps;
        }
    }
    lirf_tape_destroy(c.tape);
    return st;
}

const lirf_unlearner lirf_unlearn_scrub = {
    "scrub", "SCRUB, simplified: away from T0 on D_r, close to it on D̄_r", 1, 1, 2, 0.0005f,
    run, NULL, 0};
