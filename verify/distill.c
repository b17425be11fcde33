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

/* Stages whose outputs carry attention maps: every stage but the head (and
 * the ResNet stem, whose size layer1 repeats). */
static int map_stage(lirf_arch arch, int s) {
    int last = lirf_arch_stages(arch) - 1;
    if (s >= last) return 0;
    return arch == LIRF_ARCH_RESNET18 ? s >= 1 : 1;
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

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Fisher-Yates with a splitmix64 stream of (seed, epoch). */
static void shuffle(size_t *perm, size_t n, uint32_t seed, int epoch) {
    for (size_t i = 0; i < n; i++) perm[i] = i;
    uint64_t z = ((uint64_t)seed << 32) ^ (uint64_t)(unsigned)epoch ^ 0x5eedull;
    for (size_t i = n; i > 1; i--) {
        z = mix64(z + 0x9E3779B97F4A7C15ull);
        size_t j = (size_t)(z % i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j], perm[j] = t;
    }
}

static float lr_at(const lirf_distill_opts *o, double t) {
    lirf_train_opts to;
    lirf_train_opts_default(&to);
    to.epochs = o->epochs, to.lr = o->lr, to.warmup = o->warmup, to.sched = LIRF_SCHED_COSINE;
    return lirf_lr_at(&to, t);
}

lirf_status lirf_distill_train(lirf_student *s, const lirf_dataset *d, const int32_t *index,
                               size_t count, const float *mean, const float *std,
                               const lirf_teacher_out *t, const lirf_distill_opts *o,
                               const char *label, int quiet, lirf_distill_result *res) {
    if (!s || !d || !index || !mean || !std || !o || !res)
        return LIRF_FAIL(LIRF_E_NULL, "distill: NULL argument");
    memset(res, 0, sizeof *res);
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
    lirf_ctx *ctx = s->ctx;
    const lirf_net_config *c = &s->cfg;
    int K = c->classes, B = o->batch, last = s->nparts - 1;
    if (t && t->K != K)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: teacher has %d classes, student %d", t->K, K);
    if (d->c != c->in_c || d->h != c->in_h || d->w != c->in_w)
        return LIRF_FAIL(LIRF_E_SHAPE, "distill: data %dx%dx%d, student input %dx%dx%d", d->c,
                         d->h, d->w, c->in_c, c->in_h, c->in_w);
    /* AT: each student map stage paired with the deepest teacher map of the same size */
    int tmap[LIRF_MAX_STAGES];
    for (int p = 0; p <= last; p++) tmap[p] = -1;
    if (o->method == LIRF_KD_AT) {
        for (int p = 0; p <= last; p++) {
            if (!map_stage(c->arch, p)) continue;
            int ch, h, w;
            lirf_stage_shape(c, p, &ch, &h, &w);
            for (int m = 0; m < t->nmaps; m++)
                if (t->h[m] == h && t->w[m] == w) tmap[p] = m;
            if (tmap[p] >= 0) {
                res->s_stage[res->nmatched] = p;
                res->t_stage[res->nmatched++] = t->stage[tmap[p]];
            }
        }
        if (!res->nmatched)
            return LIRF_FAIL(LIRF_E_SHAPE, "distill: no student stage has a teacher map of the "
                                           "same spatial size for attention transfer");
    }
    size_t per = (size_t)d->c * d->h * d->w;
    lirf_status st = LIRF_OK;
    lirf_arena *ws = NULL;
    lirf_buf xb = LIRF_NOBUF, yb = LIRF_NOBUF, tb = LIRF_NOBUF, losses = LIRF_NOBUF;
    lirf_buf fb[LIRF_MAX_STAGES];
    float *fh[LIRF_MAX_STAGES];
    for (int p = 0; p < LIRF_MAX_STAGES; p++) fb[p] = LIRF_NOBUF, fh[p] = NULL;
    float *x = malloc((size_t)B * per * sizeof *x), *tl = malloc((size_t)B * K * sizeof *tl);
    int32_t *y = malloc((size_t)B * sizeof *y);
    size_t *perm = malloc(count * sizeof *perm);
    if (!x || !tl || !y || !perm) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        goto out;
    }
    STEP(lirf_arena_create(ctx, 0, &ws));
    STEP(lirf_buf_alloc(ctx, (size_t)B * per, &xb));
    STEP(lirf_buf_alloc(ctx, (size_t)B, &yb));
    STEP(lirf_buf_alloc(ctx, (size_t)B * K, &tb));
    STEP(lirf_buf_alloc(ctx, 2 + LIRF_MAX_STAGES, &losses));
    for (int p = 0; p <= last; p++) {
        if (tmap[p] < 0) continue;
        int ch, h, w;
        lirf_stage_shape(c, p, &ch, &h, &w);
        size_t n = (size_t)B * ch * h * w;
        fh[p] = malloc(n * sizeof(float));
        if (!fh[p]) {
            st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
            goto out;
        }
        STEP(lirf_buf_alloc(ctx, n, &fb[p]));
    }
    /* loss weights */
    float w_ce = 0, w_kd = 0, w_at = 0;
    if (o->method == LIRF_KD_NONE) w_ce = 1;
    else if (o->method == LIRF_KD_LOGIT) w_kd = o->labels ? o->alpha : 1, w_ce = o->labels ? 1 - o->alpha : 0;
    else w_ce = o->labels ? 1 : 0, w_kd = o->labels ? 0 : 1, w_at = o->beta / 2;
    lirf_progress pr;
    lirf_progress_init(&pr, quiet ? NULL : stderr);
    size_t spe = count / (size_t)B, total = spe * (size_t)o->epochs, images = 0;
    double t0 = lirf_now();
    lirf_buf L[2 + LIRF_MAX_STAGES];
    for (int i = 0; i < 2 + LIRF_MAX_STAGES; i++) L[i] = (lirf_buf){losses.mem, losses.off + (size_t)i, 1};
    for (int e = 0; e < o->epochs; e++) {
        shuffle(perm, count, o->seed, e);
        for (size_t b = 0; b < spe; b++) {
            size_t gstep = (size_t)e * spe + b;
            const size_t *rows = perm + b * (size_t)B;
            fill_batch(d, index, rows, B, mean, std, x, y);
            STEP(lirf_buf_write(ctx, xb, x, (size_t)B * per));
            STEP(lirf_buf_write(ctx, yb, y, (size_t)B));
            if (w_kd != 0) {
                for (int i = 0; i < B; i++)
                    memcpy(tl + (size_t)i * K, t->logits + rows[i] * (size_t)K, (size_t)K * sizeof *tl);
                STEP(lirf_buf_write(ctx, tb, tl, (size_t)B * K));
            }
            for (int p = 0; p <= last; p++) {
                if (tmap[p] < 0) continue;
                /* the teacher's map a as a (B, C, HW) tensor whose channels are all
                 * sqrt(a): its attention map is a again (a has unit norm) */
                int ch, h, w;
                lirf_stage_shape(c, p, &ch, &h, &w);
                size_t hw = (size_t)h * w;
                const float *src = t->maps[tmap[p]];
                for (int i = 0; i < B; i++)
                    for (size_t k = 0; k < hw; k++) {
                        float v = sqrtf(src[rows[i] * hw + k]);
                        for (int cc = 0; cc < ch; cc++) fh[p][((size_t)i * ch + cc) * hw + k] = v;
                    }
                STEP(lirf_buf_write(ctx, fb[p], fh[p], (size_t)B * ch * hw));
            }
            float lr = lr_at(o, (double)gstep / (double)spe);
            STEP(lirf_arena_reset(ws));
            lirf_buf act[LIRF_MAX_STAGES], cur = xb, z, dz;
            for (int p = 0; p <= last; p++) {
                STEP(lirf_net_zero_grads(s->part[p]));
                STEP(lirf_net_forward(s->part[p], ws, s->tape[p], LIRF_MODE_TRAIN, cur, B, &cur));
                act[p] = cur;
            }
            z = act[last];
            STEP(lirf_buf_fill(ctx, losses, 0));
            STEP(lirf_arena_get(ws, (size_t)B * K, &dz));
            STEP(lirf_buf_fill(ctx, dz, 0));
            if (w_ce != 0) {
                STEP(lirf_softmax_ce_forward(ctx, L[0], LIRF_NOBUF, z, yb, B, K));
                STEP(lirf_softmax_ce_backward(ctx, dz, z, yb, B, K, w_ce));
            }
            if (w_kd != 0) {
                STEP(lirf_kd_forward(ctx, L[1], z, tb, LIRF_NOBUF, K, B, K, o->T));
                STEP(lirf_kd_backward(ctx, dz, z, tb, LIRF_NOBUF, K, B, K, o->T, w_kd));
            }
            lirf_buf g = dz;
            for (int p = last; p >= 0; p--) {
                if (tmap[p] >= 0) {
                    int ch, h, w;
                    lirf_stage_shape(c, p, &ch, &h, &w);
                    STEP(lirf_at_loss_forward(ctx, L[2 + p], act[p], fb[p], B, ch, h * w, 0.0f));
                    STEP(lirf_at_loss_backward(ctx, g, act[p], fb[p], B, ch, h * w, 0.0f, w_at));
                }
                lirf_buf dx;
                STEP(lirf_net_backward(s->part[p], ws, s->tape[p], g, p > 0 ? &dx : NULL));
                g = dx;
            }
            for (int p = 0; p <= last; p++)
                STEP(lirf_sgd_step(ctx, lirf_net_params(s->part[p]), lirf_net_momentum(s->part[p]),
                                   lirf_net_grads(s->part[p]), lirf_net_nparams(s->part[p]), lr,
                                   o->momentum, o->wd));
            float lv[2 + LIRF_MAX_STAGES];
            STEP(lirf_buf_read(ctx, losses, lv, 2 + LIRF_MAX_STAGES));
            double loss = w_ce * lv[0] + w_kd * lv[1];
            for (int p = 0; p <= last; p++) loss += w_at * lv[2 + p];
            if (!isfinite(loss)) {
                st = LIRF_FAIL(LIRF_E_NUMERIC,
                               "%s: the distillation loss became non-finite at epoch %d, step "
                               "%zu (CE %g, KD %g); try a smaller --student-lr",
                               label ? label : "student", e + 1, b + 1, lv[0], lv[1]);
                goto out;
            }
            res->last_loss = loss;
            res->steps++;
            images += (size_t)B;
            lirf_progress_update(&pr, label ? label : "student", e + 1, o->epochs, b + 1, spe,
                                 gstep + 1, total, loss, images);
        }
    }
    lirf_progress_end(&pr);
    res->seconds = lirf_now() - t0;
    res->images_per_s = res->seconds > 0 ? (double)images / res->seconds : 0;
out:
    free(x), free(tl), free(y), free(perm);
    for (int p = 0; p < LIRF_MAX_STAGES; p++) {
        free(fh[p]);
        lirf_buf_free(ctx, &fb[p]);
    }
    lirf_buf_free(ctx, &xb), lirf_buf_free(ctx, &yb), lirf_buf_free(ctx, &tb);
    lirf_buf_free(ctx, &losses);
    lirf_arena_destroy(ws);
    return st;
}
