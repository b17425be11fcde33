/* lirf_fit, the one training loop, from C without the CLI: the schedule, the
 * shuffle and the host batches; a toy method (a linear classifier as a raw
 * parameter block) learns; a non-finite loss stops the step before its
 * update; held-out checks run where documented, can end the training, and
 * keep-best gives back the nets of the lowest check; bad methods are refused. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fit.h"
#include "lirf.h"
#include "ops.h"
#include "util.h"

/* ---- the schedule ---- */
START_TEST(schedule_values) {
    lirf_schedule c = {.kind = LIRF_SCHED_CONST, .lr = 0.1f, .epochs = 4};
    for (size_t t = 0; t < 40; t++) ck_assert(lirf_schedule_lr(&c, t, 10) == 0.1f);
    lirf_schedule w = {.kind = LIRF_SCHED_COSINE, .lr = 0.1f, .warmup = 1, .epochs = 4};
    ck_assert(fabsf(lirf_schedule_lr(&w, 0, 10) - 0.004f) < 1e-7f);
    ck_assert(fabsf(lirf_schedule_lr(&w, 5, 10) - 0.1f * (0.04f + 0.96f * 0.5f)) < 1e-7f);
    ck_assert(fabsf(lirf_schedule_lr(&w, 10, 10) - 0.1f) < 1e-7f);
    ck_assert(fabsf(lirf_schedule_lr(&w, 25, 10) - 0.05f) < 1e-6f); /* half-way after warm-up */
    ck_assert(lirf_schedule_lr(&w, 40, 10) < 1e-7f);
    lirf_schedule s = {.kind = LIRF_SCHED_STEP, .lr = 1, .step_gamma = 0.1f, .epochs = 4};
    ck_assert(lirf_schedule_lr(&s, 19, 10) == 1.0f);
    ck_assert(fabsf(lirf_schedule_lr(&s, 20, 10) - 0.1f) < 1e-7f);
    ck_assert(fabsf(lirf_schedule_lr(&s, 30, 10) - 0.01f) < 1e-8f);
    /* by step: the deposit's cosine (lirf_deposit_lr_at), the same numbers */
    lirf_schedule cs = {.kind = LIRF_SCHED_COSINE_STEPS, .lr = 0.02f, .epochs = 2};
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    o.lr = 0.02f, o.lr_cosine = 1;
    for (size_t t = 0; t < 20; t++) ck_assert(lirf_schedule_lr(&cs, t, 10) == lirf_deposit_lr_at(&o, t, 20));
    ck_assert(lirf_schedule_lr(&cs, 0, 10) == 0.02f);
}
END_TEST

/* ---- the RNG and the batches ---- */
START_TEST(shuffle_is_a_pinned_permutation) {
    size_t p[50], seen[50] = {0};
    lirf_shuffle(p, 50, 12345);
    for (int i = 0; i < 50; i++) ck_assert(p[i] < 50 && !seen[p[i]]++);
    /* the stream the audit's students and probes shuffle with: pinned, so
     * that a change of it is seen (it changes every student's result) */
    size_t q[8];
    lirf_shuffle(q, 8, ((uint64_t)1 << 32) ^ 0x5eedull);
    size_t r[8];
    lirf_shuffle(r, 8, ((uint64_t)1 << 32) ^ 0x5eedull);
    ck_assert_mem_eq(q, r, sizeof q);
    lirf_shuffle(r, 8, ((uint64_t)2 << 32) ^ 0x5eedull);
    ck_assert(memcmp(q, r, sizeof q) != 0);
    ck_assert_uint_eq(lirf_mix64(0), 0);
    ck_assert(lirf_mix64(1) == 0x5692161d100b05e5ull);
}
END_TEST

typedef struct {
    int I;
    const float *x;
    const int32_t *y;
    int calls;
} rows_src;

static void fill_rows(void *user, const size_t *rows, int n, float *x, int32_t *y) {
    rows_src *s = user;
    s->calls++;
    for (int i = 0; i < n; i++) {
        memcpy(x + (size_t)i * s->I, s->x + rows[i] * (size_t)s->I, (size_t)s->I * sizeof *x);
        y[i] = s->y[rows[i]];
    }
}

START_TEST(host_batches_epochs_and_streams) {
    enum { N = 22, B = 5 };
    float x[N];
    int32_t y[N];
    for (int i = 0; i < N; i++) x[i] = (float)i, y[i] = i % 3;
    rows_src rs = {1, x, y, 0};
    lirf_host_batches_opts ho = {.ctx = tctx(), .count = N, .per = 1, .batch = B, .key = 7,
                                 .fill = fill_rows, .user = &rs};
    lirf_host_batches *h;
    ck_assert_int_eq(lirf_host_batches_create(&ho, &h), LIRF_OK);
    lirf_fit_source src = lirf_fit_host(h);
    ck_assert_uint_eq(src.batches(src.self), N / B);
    for (int e = 0; e < 2; e++) {
        int seen[N] = {0}, batches = 0;
        ck_assert_int_eq(src.start(src.self, e, 0), LIRF_OK);
        for (;;) {
            lirf_buf xb, yb;
            const size_t *rows;
            int n;
            ck_assert_int_eq(src.next(src.self, &xb, &yb, &n, &rows), LIRF_OK);
            if (!n) break;
            float got[B];
            ck_assert_int_eq(lirf_buf_read(tctx(), xb, got, B), LIRF_OK);
            for (int i = 0; i < B; i++) ck_assert(got[i] == (float)rows[i] && !seen[rows[i]]++);
            batches++;
        }
        ck_assert_int_eq(batches, N / B); /* the last partial batch is dropped */
    }
    lirf_host_batches_destroy(h);
    /* a stream: passes one after another, every pass a permutation */
    ho.stream = 1, ho.stream_steps = 9; /* 45 samples: two passes and a bit */
    ck_assert_int_eq(lirf_host_batches_create(&ho, &h), LIRF_OK);
    src = lirf_fit_host(h);
    ck_assert_int_eq(src.start(src.self, 0, 0), LIRF_OK);
    size_t all[45];
    for (int b = 0; b < 9; b++) {
        lirf_buf xb, yb;
        const size_t *rows;
        int n;
        ck_assert_int_eq(src.next(src.self, &xb, &yb, &n, &rows), LIRF_OK);
        ck_assert_int_eq(n, B);
        memcpy(all + b * B, rows, B * sizeof *rows);
    }
    for (int pass = 0; pass < 2; pass++) {
        int seen[N] = {0};
        for (int i = 0; i < N; i++) ck_assert(!seen[all[pass * N + i]]++);
    }
    ck_assert(memcmp(all, all + N, 5 * sizeof *all) != 0); /* the passes differ */
    ck_assert_int_eq(src.start(src.self, 0, 3), LIRF_E_INVALID); /* not resumable */
    lirf_host_batches_destroy(h);
}
END_TEST

/* ---- a toy method: a linear classifier [W | b] of I features, K classes ---- */
enum { I = 3, KC = 2, NS = 64, BS = 8 };

typedef struct {
    lirf_buf P, G, V;
    int nan_at;        /* a loss of NaN at this global step (-1: never) */
    int stop_at;       /* the check asks to stop at this step (-1: never) */
    int nchecks;
    size_t checked[64];
    lirf_net *net;     /* keep-best: a net part whose params the check records */
    float *at_best;
    size_t best_step;
} toy;

static lirf_status toy_step(void *self, lirf_fit_step *s) {
    toy *t = self;
    lirf_buf w = {t->P.mem, t->P.off, KC * I}, b = {t->P.mem, t->P.off + KC * I, KC};
    lirf_buf gw = {t->G.mem, t->G.off, KC * I}, gb = {t->G.mem, t->G.off + KC * I, KC}, z, dz;
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)s->n * KC, &z));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)s->n * KC, &dz));
    LIRF_TRY(lirf_linear_forward(s->ctx, z, s->x, w, b, s->n, I, KC));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, z, s->y, s->n, KC));
    if ((int)s->gstep == t->nan_at) {
        float nan = NAN;
        LIRF_TRY(lirf_buf_write(s->ctx, s->term[0], &nan, 1));
    }
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, z, s->y, s->n, KC, 1.0f));
    return lirf_linear_backward(s->ctx, LIRF_NOBUF, gw, gb, dz, s->x, w, s->n, I, KC);
}

static lirf_status toy_check(void *self, size_t gstep, double *score, int *stop) {
    toy *t = self;
    if (t->nchecks < 64) t->checked[t->nchecks] = gstep;
    t->nchecks++;
    *score = 50.0 + (double)((gstep * 7) % 11); /* lowest at gstep 8 of 0..15: 7*8 % 11 = 1 */
    *stop = (int)gstep == t->stop_at;
    if (t->net && gstep == t->best_step)
        LIRF_TRY(lirf_buf_read(lirf_net_ctx(t->net), lirf_net_params(t->net), t->at_best,
                               lirf_net_nparams(t->net)));
    return LIRF_OK;
}

typedef struct {
    float x[NS * I];
    int32_t y[NS];
    rows_src rs;
    lirf_host_batches *h;
    lirf_fit_source src;
    toy t;
    lirf_method m;
    lirf_fit_opts o;
} toy_run;

static void toy_setup(toy_run *r) {
    memset(r, 0, sizeof *r);
    trng g = {5};
    for (int i = 0; i < NS; i++) {
        for (int k = 0; k < I; k++) r->x[i * I + k] = (float)trng_uniform(&g, -1, 1);
        r->y[i] = r->x[i * I] + 0.5f * r->x[i * I + 1] > 0;
    }
    r->rs = (rows_src){I, r->x, r->y, 0};
    lirf_host_batches_opts ho = {.ctx = tctx(), .count = NS, .per = I, .batch = BS, .key = 3,
                                 .fill = fill_rows, .user = &r->rs};
    ck_assert_int_eq(lirf_host_batches_create(&ho, &r->h), LIRF_OK);
    r->src = lirf_fit_host(r->h);
    size_t np = KC * I + KC;
    ck_assert_int_eq(lirf_buf_alloc(tctx(), np, &r->t.P), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(tctx(), np, &r->t.G), LIRF_OK);
    ck_assert_int_eq(lirf_buf_alloc(tctx(), np, &r->t.V), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(tctx(), r->t.P, 0), LIRF_OK);
    ck_assert_int_eq(lirf_buf_fill(tctx(), r->t.V, 0), LIRF_OK);
    r->t.nan_at = r->t.stop_at = -1;
    r->m = (lirf_method){.name = "toy", .loss_label = "toy loss", .self = &r->t, .nparts = 1,
                         .nterms = 1, .term_name = {"CE"}, .step = toy_step};
    r->m.part[0] = (lirf_fit_part){.params = r->t.P, .grads = r->t.G, .momentum = r->t.V, .n = np};
    lirf_fit_opts_default(&r->o);
    r->o.epochs = 2, r->o.sched.lr = 0.5f, r->o.sched.epochs = 2, r->o.momentum = 0.5f;
}

static void toy_teardown(toy_run *r) {
    lirf_host_batches_destroy(r->h);
    lirf_buf_free(tctx(), &r->t.P), lirf_buf_free(tctx(), &r->t.G), lirf_buf_free(tctx(), &r->t.V);
}

START_TEST(toy_method_learns) {
    toy_run r;
    toy_setup(&r);
    lirf_fit_result res;
    r.o.epochs = r.o.sched.epochs = 10;
    ck_assert_int_eq(lirf_fit(tctx(), &r.m, &r.src, &r.o, &res), LIRF_OK);
    ck_assert_uint_eq(res.steps, 10 * (NS / BS));
    ck_assert_int_eq(r.rs.calls, 10 * (NS / BS));
    ck_assert_msg(res.last_loss < 0.35 && res.terms[0] == (float)res.last_loss, "loss %g",
                  res.last_loss);
    ck_assert_int_eq(res.nchecks, 0);
    ck_assert_int_eq(res.kept_step, -1);
    toy_teardown(&r);
}
END_TEST

START_TEST(nonfinite_loss_stops_before_the_update) {
    toy_run r;
    toy_setup(&r);
    r.t.nan_at = 3;
    lirf_fit_result res;
    float before[KC * I + KC], after[KC * I + KC];
    r.o.epochs = 1;
    /* the parameters after 3 steps, then the same run hitting NaN at step 4 */
    r.o.max_steps = 3;
    ck_assert_int_eq(lirf_fit(tctx(), &r.m, &r.src, &r.o, &res), LIRF_OK);
    ck_assert_int_eq(res.stopped, 1);
    ck_assert_int_eq(lirf_buf_read(tctx(), r.t.P, before, KC * I + KC), LIRF_OK);
    toy_teardown(&r);
    toy_setup(&r);
    r.t.nan_at = 3, r.o.epochs = 1;
    lirf_status st = lirf_fit(tctx(), &r.m, &r.src, &r.o, &res);
    ck_assert_int_eq(st, LIRF_E_NUMERIC);
    ck_assert_msg(strstr(lirf_error_message(), "toy: the toy loss became NaN at epoch 1, step 4") &&
                      strstr(lirf_error_message(), "stopping before the update"),
                  "%s", lirf_error_message());
    ck_assert_int_eq(lirf_buf_read(tctx(), r.t.P, after, KC * I + KC), LIRF_OK);
    ck_assert_mem_eq(before, after, sizeof before);
    ck_assert_uint_eq(res.steps, 3);
    toy_teardown(&r);
}
END_TEST

START_TEST(checks_where_documented_and_a_stop) {
    toy_run r;
    toy_setup(&r);
    r.m.check = toy_check, r.m.check_label = "toy score";
    r.o.check_every = 3; /* 8 steps an epoch: after 3 and 6, and at the end */
    lirf_fit_result res;
    ck_assert_int_eq(lirf_fit(tctx(), &r.m, &r.src, &r.o, &res), LIRF_OK);
    size_t want[] = {0, 3, 6, 8, 11, 14, 16};
    ck_assert_int_eq(res.nchecks, 7);
    for (int i = 0; i < 7; i++) {
        ck_assert_uint_eq(res.check_step[i], want[i]);
        ck_assert_uint_eq(r.t.checked[i], want[i]);
        ck_assert(res.check_score[i] == 50.0 + (double)((want[i] * 7) % 11));
    }
    ck_assert_int_eq(res.stop_step, -1);
    toy_teardown(&r);
    /* a check that says stop ends the training there */
    toy_setup(&r);
    r.m.check = toy_check, r.o.check_every = 3, r.t.stop_at = 11;
    ck_assert_int_eq(lirf_fit(tctx(), &r.m, &r.src, &r.o, &res), LIRF_OK);
    ck_assert_int_eq(res.stop_step, 11);
    ck_assert_uint_eq(res.steps, 11);
    ck_assert_int_eq(res.nchecks, 5);
    toy_teardown(&r);
    /* ... and one at the start skips the training */
    toy_setup(&r);
    r.m.check = toy_check, r.t.stop_at = 0;
    ck_assert_int_eq(lirf_fit(tctx(), &r.m, &r.src, &r.o, &res), LIRF_OK);
    ck_assert_int_eq(res.stop_step, 0);
    ck_assert_uint_eq(res.steps, 0);
    toy_teardown(&r);
}
END_TEST

/* keep-best with a net part: the CNN student trained by the supervised
 * method on host batches; the nets of the lowest check come back */
typedef struct {
    lirf_supervised sup; /* first: the supervised step's self */
    float *at_best, *at_end;
    size_t best_step, end_step;
} kb;

static lirf_status kb_check(void *self, size_t gstep, double *score, int *stop) {
    kb *k = self;
    *stop = 0;
    *score = 50.0 + (double)((gstep * 7 + 5) % 11); /* steps 0, 2, ..., 16: lowest at 4 */
    lirf_net *n = k->sup.net;
    if (gstep == k->best_step || gstep == k->end_step)
        LIRF_TRY(lirf_buf_read(lirf_net_ctx(n), lirf_net_params(n),
                               gstep == k->best_step ? k->at_best : k->at_end, lirf_net_nparams(n)));
    return LIRF_OK;
}

static void fill_cnn(void *user, const size_t *rows, int n, float *x, int32_t *y) {
    (void)user;
    for (int i = 0; i < n; i++) {
        y[i] = (int)(rows[i] % KC);
        for (int k = 0; k < 64; k++) x[i * 64 + k] = (float)((rows[i] * 31 + (size_t)k * 17) % 13) / 13.0f + (float)y[i];
    }
}

START_TEST(keep_best_restores_the_lowest_check) {
    lirf_net_config cfg = {.arch = LIRF_ARCH_CNN, .width = 4, .in_c = 1, .in_h = 8, .in_w = 8,
                           .classes = KC, .first = 0, .last = lirf_arch_stages(LIRF_ARCH_CNN) - 1};
    lirf_net *net;
    ck_assert_int_eq(lirf_net_create(tctx(), &cfg, &net), LIRF_OK);
    ck_assert_int_eq(lirf_net_init(net, 3), LIRF_OK);
    lirf_host_batches_opts ho = {.ctx = tctx(), .count = 32, .per = 64, .batch = 4, .key = 1,
                                 .fill = fill_cnn};
    lirf_host_batches *h;
    ck_assert_int_eq(lirf_host_batches_create(&ho, &h), LIRF_OK);
    lirf_fit_source src = lirf_fit_host(h);
    lirf_tape *tape;
    ck_assert_int_eq(lirf_tape_create(&tape), LIRF_OK);
    size_t np = lirf_net_nparams(net);
    kb k = {.best_step = 4, .end_step = 16};
    k.at_best = malloc(np * sizeof(float)), k.at_end = malloc(np * sizeof(float));
    float *now = malloc(np * sizeof(float));
    lirf_method m;
    lirf_supervised_init(&k.sup, &m, net, tape, NULL, NULL);
    m.self = &k, m.check = kb_check, m.check_label = "toy score";
    lirf_fit_opts o;
    lirf_fit_opts_default(&o);
    o.epochs = 2, o.sched.lr = 0.05f, o.check_every = 2, o.keep_best = 1;
    lirf_fit_result res;
    ck_assert_int_eq(lirf_fit(tctx(), &m, &src, &o, &res), LIRF_OK);
    ck_assert_int_eq(res.nchecks, 9);
    ck_assert_int_eq(res.kept_step, 4);
    ck_assert(res.kept_score == 50.0);
    ck_assert_int_eq(lirf_buf_read(tctx(), lirf_net_params(net), now, np), LIRF_OK);
    ck_assert_mem_eq(now, k.at_best, np * sizeof(float));
    ck_assert(memcmp(k.at_best, k.at_end, np * sizeof(float)) != 0); /* it did change */
    /* refusals: a net both trained and read; keep-best without checks; a raw
     * block with a state file */
    m.nreads = 1, m.reads[0] = net;
    ck_assert_int_eq(lirf_fit(tctx(), &m, &src, &o, &res), LIRF_E_INVALID);
    m.nreads = 0, m.check = NULL;
    ck_assert_int_eq(lirf_fit(tctx(), &m, &src, &o, &res), LIRF_E_INVALID);
    lirf_fit_opts o2;
    lirf_fit_opts_default(&o2);
    o2.state_path = "/nonexistent/x", o2.state_format = "f", o2.state_what = "w";
    lirf_model_meta meta = {0};
    o2.meta = &meta;
    m.part[0].net = NULL;
    ck_assert_int_eq(lirf_fit(tctx(), &m, &src, &o2, &res), LIRF_E_INVALID);
    free(k.at_best), free(k.at_end), free(now);
    lirf_tape_destroy(tape);
    lirf_host_batches_destroy(h);
    lirf_net_destroy(net);
}
END_TEST

int main(void) {
    Suite *s = suite_create("fit");
    TCase *tc = tcase_create("fit");
    tcase_set_timeout(tc, 300);
    tcase_add_test(tc, schedule_values);
    tcase_add_test(tc, shuffle_is_a_pinned_permutation);
    tcase_add_test(tc, host_batches_epochs_and_streams);
    tcase_add_test(tc, toy_method_learns);
    tcase_add_test(tc, nonfinite_loss_stops_before_the_update);
    tcase_add_test(tc, checks_where_documented_and_a_stop);
    tcase_add_test(tc, keep_best_restores_the_lowest_check);
    suite_add_tcase(s, tc);
    return trun(s);
}
