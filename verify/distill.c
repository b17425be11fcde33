/* Teacher outputs, students and distillation (see verify.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

#define STEP(call)                               \
    do {                                         \
        if ((st = (call)) != LIRF_OK) goto out;  \
    } while (0)

/* ---- preprocessing on the host ---- */
static void fill_batch(const lirf_dataset *d, const int32_t *index, const size_t *rows, int n,
                       const float *mean, const float *std, float *x, int32_t *y) {
    size_t hw = (size_t)d->h * d->w, per = hw * (size_t)d->c;
    for (int i = 0; i < n; i++) {
        size_t idx = (size_t)index[rows[i]];
        const uint8_t *p = d->pixels + idx * per;
        for (int c = 0; c < d->c; c++) {
            float m = mean[c], s = std[c];
            for (size_t k = 0; k < hw; k++)
                x[(size_t)i * per + (size_t)c * hw + k] =
                    ((float)p[(size_t)c * hw + k] / 255.0f - m) / s;
        }
        if (y) y[i] = d->labels[idx];
    }
}

/* Stages whose outputs carry attention maps (the descriptor's maps: every
 * stage but the head, and the ResNet stem, whose size layer1 repeats). */
static int map_stage(lirf_arch arch, int s) {
    const lirf_arch_desc *d = lirf_arch_describe(arch);
    return d && s >= 0 && s < d->nstages && d->stage[s].maps;
}

/* ---- teacher outputs ---- */
void lirf_teacher_out_free(lirf_teacher_out *t) {
    if (!t) return;
    free(t->logits);
    for (int i = 0; i < t->nmaps; i++) free(t->maps[i]);
    memset(t, 0, sizeof *t);
}

lirf_status lirf_teacher_run(lirf_ctx *ctx, lirf_net *teacher, const lirf_dataset *d,
                             const int32_t *index, size_t count, const float *mean,
                             const float *std, lirf_teacher_out *out) {
    if (!ctx || !teacher || !d || !index || !mean || !std || !out)
        return LIRF_FAIL(LIRF_E_NULL, "teacher_run: NULL argument");
    memset(out, 0, sizeof *out);
    const lirf_net_config *c = lirf_net_cfg(teacher);
    if (c->first != 0 || c->last != lirf_arch_stages(c->arch) - 1)
        return LIRF_FAIL(LIRF_E_INVALID, "teacher_run: the teacher must be a whole net");
    if (d->c != c->in_c || d->h != c->in_h || d->w != c->in_w)
        return LIRF_FAIL(LIRF_E_SHAPE, "teacher_run: data %dx%dx%d, net input %dx%dx%d", d->c,
                         d->h, d->w, c->in_c, c->in_h, c->in_w);
    int K = c->classes, B = 256;
    out->n = (int)count, out->K = K;
    lirf_status st = LIRF_OK;
    lirf_arena *ws = NULL;
    lirf_tape *tape = NULL;
    lirf_buf xb = LIRF_NOBUF;
    size_t per = (size_t)d->c * d->h * d->w;
    float *x = malloc((size_t)B * per * sizeof *x);
    size_t *rows = malloc((size_t)B * sizeof *rows);
    out->logits = malloc(count * (size_t)K * sizeof *out->logits);
    if (!x || !rows || !out->logits) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        goto out;
    }
    for (int s = 0; s < lirf_arch_stages(c->arch); s++) {
        if (!map_stage(c->arch, s)) continue;
        int ch, h, w;
        lirf_stage_shape(c, s, &ch, &h, &w);
        int m = out->nmaps++;
        out->stage[m] = s, out->h[m] = h, out->w[m] = w;
        out->maps[m] = malloc(count * (size_t)h * w * sizeof(float));
        if (!out->maps[m]) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            goto out;
        }
    }
    STEP(lirf_arena_create(ctx, 0, &ws));
    STEP(lirf_tape_create(&tape));
    STEP(lirf_buf_alloc(ctx, (size_t)B * per, &xb));
    for (size_t b0 = 0; b0 < count; b0 += (size_t)B) {
        int n = (int)(count - b0 < (size_t)B ? count - b0 : (size_t)B);
        for (int i = 0; i < n; i++) rows[i] = b0 + (size_t)i;
        fill_batch(d, index, rows, n, mean, std, x, NULL);
        lirf_buf xv = {xb.mem, xb.off, (size_t)n * per}, z;
        STEP(lirf_arena_reset(ws));
        STEP(lirf_buf_write(ctx, xv, x, xv.n));
        STEP(lirf_net_forward(teacher, ws, tape, LIRF_MODE_EVAL, xv, n, &z));
        STEP(lirf_buf_read(ctx, z, out->logits + b0 * (size_t)K, (size_t)n * K));
        for (int m = 0; m < out->nmaps; m++) {
            int ch, h, w;
            lirf_stage_shape(c, out->stage[m], &ch, &h, &w);
            lirf_buf F, a;
            size_t hw = (size_t)h * w;
            STEP(lirf_tape_output(tape, out->stage[m], &F));
            STEP(lirf_arena_get(ws, (size_t)n * hw, &a));
            STEP(lirf_at_map(ctx, a, F, n, ch, (int)hw));
            STEP(lirf_buf_read(ctx, a, out->maps[m] + b0 * hw, (size_t)n * hw));
        }
    }
    for (size_t i = 0; i < count * (size_t)K; i++)
        if (!isfinite(out->logits[i])) {
            st = LIRF_FAIL(LIRF_E_NUMERIC, "the teacher gives non-finite logits (sample %zu)",
                           i / (size_t)K);
            goto out;
        }
out:
    free(x), free(rows);
    lirf_buf_free(ctx, &xb);
    lirf_tape_destroy(tape);
    lirf_arena_destroy(ws);
    if (st != LIRF_OK) lirf_teacher_out_free(out);
    return st;
}

/* ---- students ---- */
void lirf_student_destroy(lirf_student *s) {
    if (!s) return;
    for (int i = 0; i < s->nparts; i++) {
        lirf_net_destroy(s->part[i]);
        lirf_tape_destroy(s->tape[i]);
    }
    free(s);
}

lirf_status lirf_student_create(lirf_ctx *ctx, const lirf_net_config *cfg, uint64_t seed,
                                lirf_student **out) {
    if (!ctx || !cfg || !out) return LIRF_FAIL(LIRF_E_NULL, "student_create: NULL argument");
    lirf_student *s = calloc(1, sizeof *s);
    if (!s) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    s->ctx = ctx;
    s->cfg = *cfg;
    s->cfg.first = 0, s->cfg.last = lirf_arch_stages(cfg->arch) - 1;
    memset(s->cfg.mid, 0, sizeof s->cfg.mid);
    lirf_net *whole = NULL;
    lirf_status st;
    STEP(lirf_net_create(ctx, &s->cfg, &whole));
    STEP(lirf_net_init(whole, seed));
    for (int p = 0; p <= s->cfg.last; p++) {
        lirf_net_config c = s->cfg;
        c.first = c.last = p;
        STEP(lirf_net_create(ctx, &c, &s->part[p]));
        s->nparts = p + 1;
        STEP(lirf_tape_create(&s->tape[p]));
        STEP(lirf_net_init(s->part[p], seed));
        STEP(lirf_net_copy(s->part[p], whole, NULL));
    }
out:
    lirf_net_destroy(whole);
    if (st != LIRF_OK) {
        lirf_student_destroy(s);
        return st;
    }
    *out = s;
    return LIRF_OK;
}

lirf_status lirf_student_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    lirf_student *s = user;
    lirf_buf cur = x;
    for (int p = 0; p < s->nparts; p++)
        LIRF_TRY(lirf_net_forward(s->part[p], ws, NULL, LIRF_MODE_EVAL, cur, n, &cur));
    *logits = cur;
    return LIRF_OK;
}

/* ---- distillation ---- */
const char *lirf_kd_method_name(lirf_kd_method m) {
    return m == LIRF_KD_LOGIT ? "logit" : m == LIRF_KD_AT ? "at" : "none";
}

void lirf_distill_opts_default(lirf_distill_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = LIRF_KD_LOGIT;
    o->labels = 1;
    o->alpha = 0.9f, o->T = 4.0f, o->beta = 1000.0f;
    o->epochs = 2, o->batch = 128;
    o->lr = 0.05f, o->momentum = 0.9f, o->wd = 5e-4f, o->warmup = 0.2f;
    o->seed = 1;
}

/* ---- distillation as a method ---- */
typedef struct {
    lirf_student *s;
    const lirf_teacher_out *t;
    float w_ce, w_kd, w_at, T;
    int tmap[LIRF_MAX_STAGES];
    lirf_buf tb, fb[LIRF_MAX_STAGES];
    float *tl, *fh[LIRF_MAX_STAGES];
    /* the samples, for the batches */
    const lirf_dataset *d;
    const int32_t *index;
    const float *mean, *std;
} distill_method;

static void distill_fill(void *user, const size_t *rows, int n, float *x, int32_t *y) {
    distill_method *m = user;
    fill_batch(m->d, m->index, rows, n, m->mean, m->std, x, y);
}

/* the teacher's logits and maps of the batch's rows, to the device; a map a
 * as a (B, C, HW) tensor whose channels are all sqrt(a): its attention map is
 * a again (a has unit norm) */
static lirf_status teacher_batch(distill_method *m, const size_t *rows, int B) {
    lirf_ctx *ctx = m->s->ctx;
    const lirf_net_config *c = &m->s->cfg;
    int K = c->classes;
    if (m->w_kd != 0) {
        for (int i = 0; i < B; i++)
            memcpy(m->tl + (size_t)i * K, m->t->logits + rows[i] * (size_t)K, (size_t)K * sizeof *m->tl);
        LIRF_TRY(lirf_buf_write(ctx, m->tb, m->tl, (size_t)B * K));
    }
    for (int p = 0; p < m->s->nparts; p++) {
        if (m->tmap[p] < 0) continue;
        int ch, h, w;
        lirf_stage_shape(c, p, &ch, &h, &w);
        size_t hw = (size_t)h * w;
        const float *src = m->t->maps[m->tmap[p]];
        for (int i = 0; i < B; i++)
            for (size_t k = 0; k < hw; k++) {
                float v = sqrtf(src[rows[i] * hw + k]);
                for (int cc = 0; cc < ch; cc++) m->fh[p][((size_t)i * ch + cc) * hw + k] = v;
            }
        LIRF_TRY(lirf_buf_write(ctx, m->fb[p], m->fh[p], (size_t)B * ch * hw));
    }
    return LIRF_OK;
}

static lirf_status distill_step(void *self, lirf_fit_step *st) {
    distill_method *m = self;
    lirf_student *s = m->s;
    lirf_ctx *ctx = s->ctx;
    int K = s->cfg.classes, B = st->n, last = s->nparts - 1;
    LIRF_TRY(teacher_batch(m, st->rows, B));
    lirf_buf act[LIRF_MAX_STAGES], cur = st->x, dz;
    for (int p = 0; p <= last; p++) {
        LIRF_TRY(lirf_net_forward(s->part[p], st->ws, s->tape[p], LIRF_MODE_TRAIN, cur, B, &cur));
        act[p] = cur;
    }
    LIRF_TRY(lirf_arena_get(st->ws, (size_t)B * K, &dz));
    LIRF_TRY(lirf_buf_fill(ctx, dz, 0));
    if (m->w_ce != 0) {
        LIRF_TRY(lirf_softmax_ce_forward(ctx, st->term[0], LIRF_NOBUF, act[last], st->y, B, K));
        LIRF_TRY(lirf_softmax_ce_backward(ctx, dz, act[last], st->y, B, K, m->w_ce));
    }
    if (m->w_kd != 0) {
        LIRF_TRY(lirf_kd_forward(ctx, st->term[1], act[last], m->tb, LIRF_NOBUF, K, B, K, m->T));
        LIRF_TRY(lirf_kd_backward(ctx, dz, act[last], m->tb, LIRF_NOBUF, K, B, K, m->T, m->w_kd));
    }
    lirf_buf g = dz;
    for (int p = last; p >= 0; p--) {
        if (m->tmap[p] >= 0) {
            int ch, h, w;
            lirf_stage_shape(&s->cfg, p, &ch, &h, &w);
            LIRF_TRY(lirf_at_loss_forward(ctx, st->term[2 + p], act[p], m->fb[p], B, ch, h * w, 0.0f));
            LIRF_TRY(lirf_at_loss_backward(ctx, g, act[p], m->fb[p], B, ch, h * w, 0.0f, m->w_at));
        }
        lirf_buf dx;
        LIRF_TRY(lirf_net_backward(s->part[p], st->ws, s->tape[p], g, p > 0 ? &dx : NULL));
        g = dx;
    }
    return LIRF_OK;
}

static double distill_total(void *self, const float *lv) {
    distill_method *m = self;
    double loss = m->w_ce * lv[0] + m->w_kd * lv[1];
    for (int p = 0; p < m->s->nparts; p++) loss += m->w_at * lv[2 + p];
    return loss;
}

static lirf_status distill_check_args(const lirf_student *s, const lirf_dataset *d,
                                      const int32_t *index, size_t count, const float *mean,
                                      const float *std, const lirf_teacher_out *t,
                                      const lirf_distill_opts *o, lirf_distill_result *res) {
    if (!s || !d || !index || !mean || !std || !o || !res)
        return LIRF_FAIL(LIRF_E_NULL, "distill: NULL argument");
    if (o->method != LIRF_KD_NONE && !t)
        return LIRF_FAIL(LIRF_E_NULL, "distill: %s distillation needs teacher outputs",
                         lirf_kd_method_name(o->method));
    if (o->method == LIRF_KD_NONE && !o->labels)
        return LIRF_FAIL(LIRF_E_INVALID, "distill: no teacher and no labels leaves nothing to learn");
    if (t && (size_t)t->n != count)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: teacher outputs for %d samples, %zu given", t->n,
                         count);
    if (o->batch < 2 || (size_t)o->batch > count || o->epochs < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "distill: batch %d, epochs %d, %zu samples", o->batch,
                         o->epochs, count);
    const lirf_net_config *c = &s->cfg;
    if (t && t->K != c->classes)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: teacher has %d classes, student %d", t->K,
                         c->classes);
    if (d->c != c->in_c || d->h != c->in_h || d->w != c->in_w)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: data %dx%dx%d, student input %dx%dx%d", d->c,
                         d->h, d->w, c->in_c, c->in_h, c->in_w);
    return LIRF_OK;
}

/* AT: each student map stage paired with the deepest teacher map of the same size */
static lirf_status match_maps(distill_method *m, const lirf_distill_opts *o,
                              lirf_distill_result *res) {
    const lirf_net_config *c = &m->s->cfg;
    for (int p = 0; p < LIRF_MAX_STAGES; p++) m->tmap[p] = -1;
    if (o->method != LIRF_KD_AT) return LIRF_OK;
    for (int p = 0; p < m->s->nparts; p++) {
        if (!map_stage(c->arch, p)) continue;
        int ch, h, w;
        lirf_stage_shape(c, p, &ch, &h, &w);
        for (int k = 0; k < m->t->nmaps; k++)
            if (m->t->h[k] == h && m->t->w[k] == w) m->tmap[p] = k;
        if (m->tmap[p] >= 0) {
            res->s_stage[res->nmatched] = p;
            res->t_stage[res->nmatched++] = m->t->stage[m->tmap[p]];
        }
    }
    if (!res->nmatched)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: no student stage has a teacher map of the "
                                       "same spatial size for attention transfer");
    return LIRF_OK;
}

static lirf_status distill_buffers(distill_method *m, int B) {
    lirf_ctx *ctx = m->s->ctx;
    const lirf_net_config *c = &m->s->cfg;
    if (!(m->tl = malloc((size_t)B * c->classes * sizeof *m->tl)))
        return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    LIRF_TRY(lirf_buf_alloc(ctx, (size_t)B * c->classes, &m->tb));
    for (int p = 0; p < m->s->nparts; p++) {
        if (m->tmap[p] < 0) continue;
        int ch, h, w;
        lirf_stage_shape(c, p, &ch, &h, &w);
        size_t n = (size_t)B * ch * h * w;
        if (!(m->fh[p] = malloc(n * sizeof(float))))
            return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        LIRF_TRY(lirf_buf_alloc(ctx, n, &m->fb[p]));
    }
    return LIRF_OK;
}

static void distill_weights(distill_method *m, const lirf_distill_opts *o) {
    m->T = o->T;
    if (o->method == LIRF_KD_NONE) m->w_ce = 1;
    else if (o->method == LIRF_KD_LOGIT)
        m->w_kd = o->labels ? o->alpha : 1, m->w_ce = o->labels ? 1 - o->alpha : 0;
    else m->w_ce = o->labels ? 1 : 0, m->w_kd = o->labels ? 0 : 1, m->w_at = o->beta / 2;
}

static void distill_method_init(lirf_method *mm, distill_method *m, const char *label) {
    static const char *names[2 + LIRF_MAX_STAGES] = {"CE", "KD", "AT0", "AT1", "AT2", "AT3", "AT4", "AT5"};
    static const char *parts[LIRF_MAX_STAGES] = {"student part 0", "student part 1", "student part 2",
                                                 "student part 3", "student part 4", "student part 5"};
    memset(mm, 0, sizeof *mm);
    mm->name = label ? label : "student", mm->loss_label = "distillation loss", mm->self = m;
    mm->nparts = m->s->nparts;
    for (int p = 0; p < m->s->nparts; p++) mm->part[p] = lirf_fit_net_part(m->s->part[p], "", parts[p]);
    mm->nterms = 2 + m->s->nparts;
    for (int i = 0; i < mm->nterms; i++) mm->term_name[i] = names[i];
    mm->step = distill_step, mm->total = distill_total;
}

lirf_status lirf_distill_train(lirf_student *s, const lirf_dataset *d, const int32_t *index,
                               size_t count, const float *mean, const float *std,
                               const lirf_teacher_out *t, const lirf_distill_opts *o,
                               const char *label, int quiet, lirf_distill_result *res) {
    if (res) memset(res, 0, sizeof *res);
    LIRF_TRY(distill_check_args(s, d, index, count, mean, std, t, o, res));
    distill_method m = {.s = s, .t = t, .tb = LIRF_NOBUF, .d = d, .index = index, .mean = mean,
                        .std = std};
    for (int p = 0; p < LIRF_MAX_STAGES; p++) m.fb[p] = LIRF_NOBUF;
    distill_weights(&m, o);
    lirf_status st = match_maps(&m, o, res);
    if (st == LIRF_OK) st = distill_buffers(&m, o->batch);
    lirf_host_batches *hb = NULL;
    lirf_host_batches_opts ho = {.ctx = s->ctx, .count = count, .batch = o->batch,
                                 .per = (size_t)d->c * d->h * d->w,
                                 .key = ((uint64_t)o->seed << 32) ^ 0x5eedull, .fill = distill_fill,
                                 .user = &m};
    if (st == LIRF_OK) st = lirf_host_batches_create(&ho, &hb);
    lirf_fit_opts fo;
    lirf_fit_opts_default(&fo);
    fo.epochs = o->epochs, fo.momentum = o->momentum, fo.wd = o->wd;
    fo.sched = (lirf_schedule){.kind = LIRF_SCHED_COSINE, .lr = o->lr, .warmup = o->warmup,
                               .step_gamma = 0.1f, .epochs = o->epochs};
    lirf_progress pr;
    lirf_progress_init(&pr, quiet ? NULL : stderr);
    fo.progress = lirf_fit_print, fo.progress_user = &pr;
    lirf_method mm;
    distill_method_init(&mm, &m, label);
    lirf_fit_source src = lirf_fit_host(hb);
    lirf_fit_result fr;
    if (st == LIRF_OK) st = lirf_fit(s->ctx, &mm, &src, &fo, &fr);
    if (st == LIRF_OK) {
        res->seconds = fr.seconds, res->images_per_s = fr.images_per_s;
        res->last_loss = fr.last_loss, res->steps = fr.steps;
    }
    lirf_host_batches_destroy(hb);
    free(m.tl);
    lirf_buf_free(s->ctx, &m.tb);
    for (int p = 0; p < LIRF_MAX_STAGES; p++) free(m.fh[p]), lirf_buf_free(s->ctx, &m.fb[p]);
    return st;
}
