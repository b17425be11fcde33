/* EWC (Kirkpatrick et al., 2017) and MAS (Aljundi et al., 2018): the
 * regularisation baselines of the paper's Table 4, as learners beside LwF
 * (lwf.c). The old net learns the new classes (the job's deposit classes)
 * from their samples with
 *   L = CE(z, y) + lambda * 0.5 * sum_i Omega_i (theta_i - theta*_i)^2,
 * theta* the old net's parameters (job.teacher) and Omega their importance,
 * estimated once, before training, on the old classes' training samples
 * (the job's preservation classes, D̄_r): what the old task would have
 * stored at its end. EWC's Omega is the empirical Fisher diagonal: over the
 * batches b of D̄_r, sum (n_b / N) g_b^2, g_b the gradient of the batch's
 * mean CE on its true labels. MAS's Omega needs no labels: sum (n_b / N)
 * g_b^2, g_b the gradient of the batch's mean L2 norm of the logits. Both as
 * the selective-forgetting code that Table 4 follows computes them (batch
 * gradients, squared; MAS as published averages per-sample |g| of the
 * squared norm, which on unbounded linear logits gives importances in the
 * hundreds and a penalty that diverges at the published lambda), with the
 * net in eval mode (BN running statistics). Every parameter block is
 * penalised; BN running statistics are not parameters. */
#include <math.h>
#include <stdlib.h>

#include "unlearn.h"

lirf_status lirf_task_logits(lirf_ctx *ctx, lirf_arena *ws, lirf_buf mask, lirf_buf z, int n,
                             int K, float fill, lirf_buf *out) {
    LIRF_TRY(lirf_arena_get(ws, (size_t)n * K, out));
    LIRF_TRY(lirf_buf_fill(ctx, *out, fill));
    return lirf_merge_columns(ctx, *out, *out, z, mask, n, K);
}

/* dz = d(mean_n ||z_n||)/dz = z_n / (n ||z_n||) (0 for a zero row), on the
 * host: a one-off pass per task, of a batch's few logits */
static lirf_status norm_grad(lirf_ctx *ctx, lirf_buf z, int n, int K, lirf_buf dz) {
    size_t m = (size_t)n * K;
    float *h = malloc(m * sizeof *h);
    if (!h) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_status st = lirf_buf_read(ctx, z, h, m);
    for (int i = 0; st == LIRF_OK && i < n; i++) {
        double s = 0;
        for (int k = 0; k < K; k++) s += (double)h[i * K + k] * h[i * K + k];
        double c = s > 0 ? 1.0 / ((double)n * sqrt(s)) : 0;
        for (int k = 0; k < K; k++) h[i * K + k] = (float)(c * h[i * K + k]);
    }
    if (st == LIRF_OK) st = lirf_buf_write(ctx, dz, h, m);
    free(h);
    return st;
}

/* dz of a batch's loss (EWC: mean CE on y; MAS: mean L2 norm); with a mask,
 * of the logits of the mask's columns (EWC: the others at -1e4, out of the
 * softmax; MAS: the others 0) */
static lirf_status importance_dz(lirf_ctx *ctx, lirf_arena *ws, lirf_buf z, lirf_buf y,
                                 lirf_buf mask, int n, int K, int kind, lirf_buf *dz) {
    int fisher = kind == LIRF_IMPORTANCE_FISHER;
    if (mask.mem) LIRF_TRY(lirf_task_logits(ctx, ws, mask, z, n, K, fisher ? -1e4f : 0, &z));
    LIRF_TRY(lirf_arena_get(ws, (size_t)n * K, dz));
    if (!fisher) return norm_grad(ctx, z, n, K, *dz);
    LIRF_TRY(lirf_buf_fill(ctx, *dz, 0));
    return lirf_softmax_ce_backward(ctx, *dz, z, y, n, K, 1.0f);
}

static lirf_status importance_pass(lirf_ctx *ctx, lirf_net *net, lirf_loader *l, int kind,
                                   lirf_buf mask, lirf_buf imp, lirf_arena *ws,
                                   lirf_tape *tape) {
    size_t N = lirf_loader_samples(l), np = lirf_net_nparams(net);
    int K = lirf_net_cfg(net)->classes;
    LIRF_TRY(lirf_loader_start(l, 0, 0));
    for (;;) {
        lirf_buf x, y, z, dz;
        int n;
        LIRF_TRY(lirf_loader_next(l, &x, &y, &n));
        if (n == 0) return LIRF_OK;
        LIRF_TRY(lirf_arena_reset(ws));
        LIRF_TRY(lirf_net_zero_grads(net));
        LIRF_TRY(lirf_net_forward(net, ws, tape, LIRF_MODE_TRAIN_BN_FIXED, x, n, &z));
        LIRF_TRY(importance_dz(ctx, ws, z, y, mask, n, K, kind, &dz));
        LIRF_TRY(lirf_net_backward(net, ws, tape, dz, NULL));
        LIRF_TRY(lirf_importance_acc(ctx, imp, lirf_net_grads(net), np, (float)n / (float)N, 2));
    }
}

lirf_status lirf_importance(lirf_ctx *ctx, lirf_net *net, lirf_loader *l, int kind,
                            lirf_buf mask, lirf_buf imp) {
    if (!ctx || !net || !l) return LIRF_FAIL(LIRF_E_NULL, "importance: NULL argument");
    if (kind != LIRF_IMPORTANCE_MAS && kind != LIRF_IMPORTANCE_FISHER)
        return LIRF_FAIL(LIRF_E_INVALID, "importance: kind %d (1: MAS, 2: Fisher)", kind);
    if (!lirf_loader_samples(l)) return LIRF_FAIL(LIRF_E_INVALID, "importance: no samples");
    LIRF_TRY(lirf_check_buf(imp, lirf_net_nparams(net), "importance", "imp"));
    LIRF_TRY(lirf_buf_fill(ctx, imp, 0));
    lirf_arena *ws = NULL;
    lirf_tape *tape = NULL;
    lirf_status st = lirf_arena_create(ctx, 0, &ws);
    if (st == LIRF_OK) st = lirf_tape_create(&tape);
    if (st == LIRF_OK) st = importance_pass(ctx, net, l, kind, mask, imp, ws, tape);
    if (st == LIRF_OK) st = lirf_net_zero_grads(net);
    lirf_tape_destroy(tape);
    lirf_arena_destroy(ws);
    return st;
}

typedef struct {
    lirf_unlearn_job *j;
    lirf_tape *tape;
    lirf_buf imp;
    float lambda;
} penalised;

static lirf_status step(void *self, lirf_fit_step *s) {
    penalised *c = self;
    lirf_net *net = c->j->net;
    size_t np = lirf_net_nparams(net);
    lirf_buf w = lirf_net_params(net), a = lirf_net_params(c->j->teacher);
    LIRF_TRY(lirf_unlearn_ce_step(net, c->tape, s, s->y, 1.0f));
    LIRF_TRY(lirf_quad_penalty_forward(s->ctx, s->term[1], w, a, c->imp, np));
    return lirf_quad_penalty_backward(s->ctx, lirf_net_grads(net), w, a, c->imp, np, c->lambda);
}

static double total(void *self, const float *t) {
    penalised *c = self;
    return t[0] + c->lambda * t[1];
}

static lirf_status run_penalised(lirf_unlearn_job *j, int kind, const char *name) {
    penalised c = {.j = j, .lambda = j->o->lambda};
    size_t np = lirf_net_nparams(j->net);
    lirf_status st = lirf_buf_alloc(j->ctx, np, &c.imp);
    if (st == LIRF_OK)
        st = lirf_importance(j->ctx, j->teacher, j->retain, kind, LIRF_NOBUF, c.imp);
    if (st == LIRF_OK) st = lirf_tape_create(&c.tape);
    lirf_method m = {.name = name, .self = &c, .nterms = 2, .term_name = {"CE", "penalty"},
                     .step = step, .total = total};
    m.loss_label = kind == LIRF_IMPORTANCE_FISHER ? "EWC loss" : "MAS loss";
    if (st == LIRF_OK) st = lirf_unlearn_fit_learner(j, &m);
    lirf_tape_destroy(c.tape);
    lirf_buf_free(j->ctx, &c.imp);
    return st;
}

static lirf_status run_ewc(lirf_unlearn_job *j) {
    return run_penalised(j, LIRF_IMPORTANCE_FISHER, "ewc");
}
static lirf_status run_mas(lirf_unlearn_job *j) {
    return run_penalised(j, LIRF_IMPORTANCE_MAS, "mas");
}

/* lambda: 100 for EWC and 5 for MAS, the values of the selective-forgetting
 * code that Table 4 follows (docs/reproduce-table4.md) */
const lirf_unlearner lirf_learn_ewc = {
    "ewc", "Elastic Weight Consolidation: the old net learns the new (deposit) classes, each "
    "parameter held to the old net's by its Fisher importance on the old classes",
    1, 1, 5, 0.01f, run_ewc, "model", 100.0f};
const lirf_unlearner lirf_learn_mas = {
    "mas", "Memory Aware Synapses: the old net learns the new (deposit) classes, each parameter "
    "held to the old net's by the sensitivity of its output norm on the old classes' images",
    1, 1, 5, 0.01f, run_mas, "model", 5.0f};
