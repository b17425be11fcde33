/* Probes: per-sample losses (membership inference) and the linear probe
 * (see verify.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verify.h"

#define STEP(call)                               \
    do {                                         \
        if ((st = (call)) != LIRF_OK) goto out;  \
    } while (0)

lirf_status lirf_per_sample_loss(lirf_ctx *ctx, lirf_loader *data, int classes, lirf_logits_fn fn,
                                 void *user, float *loss) {
    if (!ctx || !data || !fn || !loss) return LIRF_FAIL(LIRF_E_NULL, "per_sample_loss: NULL argument");
    lirf_arena *ws;
    LIRF_TRY(lirf_arena_create(ctx, 0, &ws));
    lirf_buf mean = LIRF_NOBUF;
    lirf_status st = lirf_buf_alloc(ctx, 1, &mean);
    size_t done = 0;
    if (st == LIRF_OK) st = lirf_loader_start(data, 0, 0);
    while (st == LIRF_OK) {
        lirf_buf x, y, z, per;
        int n;
        if ((st = lirf_loader_next(data, &x, &y, &n)) || n == 0) break;
        STEP(lirf_arena_reset(ws));
        STEP(fn(user, ws, x, n, &z));
        STEP(lirf_arena_get(ws, (size_t)n, &per));
        STEP(lirf_softmax_ce_forward(ctx, mean, per, z, y, n, classes));
        STEP(lirf_buf_read(ctx, per, loss + done, (size_t)n));
        done += (size_t)n;
    }
out:
    lirf_buf_free(ctx, &mean);
    lirf_arena_destroy(ws);
    return st;
}

/* ---- linear probe ---- */
typedef struct {
    lirf_ctx *ctx;
    lirf_net *lower;
    lirf_buf w, b; /* (K, I), (K) */
    int I, K;
} probe_net;

static lirf_status probe_logits(void *user, lirf_arena *ws, lirf_buf x, int n, lirf_buf *logits) {
    probe_net *p = user;
    lirf_buf f;
    LIRF_TRY(lirf_net_forward(p->lower, ws, NULL, LIRF_MODE_EVAL, x, n, &f));
    LIRF_TRY(lirf_arena_get(ws, (size_t)n * p->K, logits));
    return lirf_linear_forward(p->ctx, *logits, f, p->w, p->b, n, p->I, p->K);
}

static uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

lirf_status lirf_linear_probe(lirf_ctx *ctx, lirf_net *lower, lirf_loader *train,
                              lirf_loader *test, int classes, const lirf_probe_opts *o,
                              int64_t *counts) {
    if (!ctx || !lower || !train || !test || !o || !counts)
        return LIRF_FAIL(LIRF_E_NULL, "linear_probe: NULL argument");
    const lirf_net_config *c = lirf_net_cfg(lower);
    int ch, h, w, K = classes, B = o->batch;
    lirf_stage_shape(c, c->last, &ch, &h, &w);
    int I = ch * h * w;
    size_t n = lirf_loader_samples(train);
    if (B < 1 || (size_t)B > n || o->epochs < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "linear_probe: batch %d, epochs %d, %zu samples", B,
                         o->epochs, n);
    lirf_status st = LIRF_OK;
    lirf_arena *ws = NULL;
    lirf_buf P = LIRF_NOBUF, G = LIRF_NOBUF, V = LIRF_NOBUF, xb = LIRF_NOBUF, yb = LIRF_NOBUF,
             loss = LIRF_NOBUF;
    float *feat = malloc(n * (size_t)I * sizeof *feat), *xh = malloc((size_t)B * I * sizeof *xh);
    int32_t *lab = malloc(n * sizeof *lab), *yh = malloc((size_t)B * sizeof *yh);
    size_t *perm = malloc(n * sizeof *perm);
    if (!feat || !xh || !lab || !yh || !perm) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "linear probe: out of host memory (%zu x %d features)", n, I);
        goto out;
    }
    STEP(lirf_arena_create(ctx, 0, &ws));
    /* the features, once */
    size_t done = 0;
    STEP(lirf_loader_start(train, 0, 0));
    for (;;) {
        lirf_buf x, y, f;
        int m;
        STEP(lirf_loader_next(train, &x, &y, &m));
        if (m == 0) break;
        STEP(lirf_arena_reset(ws));
        STEP(lirf_net_forward(lower, ws, NULL, LIRF_MODE_EVAL, x, m, &f));
        STEP(lirf_buf_read(ctx, f, feat + done * (size_t)I, (size_t)m * I));
        STEP(lirf_buf_read(ctx, y, lab + done, (size_t)m));
        done += (size_t)m;
    }
    size_t np = (size_t)K * I + (size_t)K;
    STEP(lirf_buf_alloc(ctx, np, &P));
    STEP(lirf_buf_alloc(ctx, np, &G));
    STEP(lirf_buf_alloc(ctx, np, &V));
    STEP(lirf_buf_fill(ctx, P, 0));
    STEP(lirf_buf_fill(ctx, V, 0));
    STEP(lirf_buf_alloc(ctx, (size_t)B * I, &xb));
    STEP(lirf_buf_alloc(ctx, (size_t)B, &yb));
    STEP(lirf_buf_alloc(ctx, 1, &loss));
    lirf_buf wv = {P.mem, P.off, (size_t)K * I}, bv = {P.mem, P.off + (size_t)K * I, (size_t)K};
    lirf_buf gw = {G.mem, G.off, (size_t)K * I}, gb = {G.mem, G.off + (size_t)K * I, (size_t)K};
    size_t spe = n / (size_t)B, total = spe * (size_t)o->epochs;
    for (int e = 0; e < o->epochs; e++) {
        for (size_t i = 0; i < n; i++) perm[i] = i;
        uint64_t z = ((uint64_t)o->seed << 32) ^ (uint64_t)(unsigned)e ^ 0x9b0bull;
        for (size_t i = n; i > 1; i--) {
            z = mix64(z + 0x9E3779B97F4A7C15ull);
            size_t j = (size_t)(z % i), t = perm[i - 1];
            perm[i - 1] = perm[j], perm[j] = t;
        }
        for (size_t b = 0; b < spe; b++) {
            size_t step = (size_t)e * spe + b;
            float lr = (float)(o->lr * 0.5 * (1 + cos(3.141592653589793 * (double)step / (double)total)));
            for (int i = 0; i < B; i++) {
                size_t r = perm[b * (size_t)B + (size_t)i];
                memcpy(xh + (size_t)i * I, feat + r * (size_t)I, (size_t)I * sizeof *xh);
                yh[i] = lab[r];
            }
            STEP(lirf_buf_write(ctx, xb, xh, (size_t)B * I));
            STEP(lirf_buf_write(ctx, yb, yh, (size_t)B));
            lirf_buf zb, dz;
            STEP(lirf_arena_reset(ws));
            STEP(lirf_arena_get(ws, (size_t)B * K, &zb));
            STEP(lirf_arena_get(ws, (size_t)B * K, &dz));
            STEP(lirf_linear_forward(ctx, zb, xb, wv, bv, B, I, K));
            STEP(lirf_buf_fill(ctx, G, 0));
            STEP(lirf_buf_fill(ctx, dz, 0));
            STEP(lirf_softmax_ce_backward(ctx, dz, zb, yb, B, K, 1.0f));
            STEP(lirf_linear_backward(ctx, LIRF_NOBUF, gw, gb, dz, xb, wv, B, I, K));
            STEP(lirf_sgd_step(ctx, P, V, G, np, lr, o->momentum, o->wd));
        }
        /* a finite check once per epoch */
        lirf_buf zb;
        float l;
        STEP(lirf_arena_reset(ws));
        STEP(lirf_arena_get(ws, (size_t)B * K, &zb));
        STEP(lirf_linear_forward(ctx, zb, xb, wv, bv, B, I, K));
        STEP(lirf_softmax_ce_forward(ctx, loss, LIRF_NOBUF, zb, yb, B, K));
        STEP(lirf_buf_read(ctx, loss, &l, 1));
        if (!isfinite(l)) {
            st = LIRF_FAIL(LIRF_E_NUMERIC, "linear probe: the loss became non-finite (epoch %d)", e + 1);
            goto out;
        }
    }
    probe_net pn = {ctx, lower, wv, bv, I, K};
    STEP(lirf_eval_counts(ctx, test, K, probe_logits, &pn, counts));
out:
    free(feat), free(xh), free(lab), free(yh), free(perm);
    lirf_buf_free(ctx, &P), lirf_buf_free(ctx, &G), lirf_buf_free(ctx, &V);
    lirf_buf_free(ctx, &xb), lirf_buf_free(ctx, &yb), lirf_buf_free(ctx, &loss);
    lirf_arena_destroy(ws);
    return st;
}

/* ---- relearn time ---- */
static lirf_status accuracy(lirf_ctx *ctx, lirf_loader *eval, int K, lirf_net *net, double *acc) {
    int64_t counts[2 * LIRF_MAX_CLASSES], c = 0, n = 0;
    LIRF_TRY(lirf_eval_counts(ctx, eval, K, lirf_net_logits, net, counts));
    for (int k = 0; k < K; k++) c += counts[2 * k], n += counts[2 * k + 1];
    *acc = n ? 100.0 * (double)c / (double)n : NAN;
    return LIRF_OK;
}

lirf_status lirf_relearn(lirf_net *net, const lirf_dataset *d, const int32_t *index, size_t count,
                         const float *mean, const float *std, lirf_loader *eval, double goal,
                         const lirf_relearn_opts *o, int *steps, double *reached) {
    if (!net || !d || !index || !mean || !std || !eval || !o || !steps || !reached)
        return LIRF_FAIL(LIRF_E_NULL, "relearn: NULL argument");
    int B = o->batch < (int)count ? o->batch : (int)count;
    if (B < 2 || o->max_steps < 1 || o->eval_every < 1)
        return LIRF_FAIL(LIRF_E_INVALID, "relearn: batch %d of %zu samples, %d steps, eval every %d",
                         o->batch, count, o->max_steps, o->eval_every);
    lirf_ctx *ctx = lirf_net_ctx(net);
    const lirf_net_config *c = lirf_net_cfg(net);
    int K = c->classes;
    size_t per = (size_t)d->c * d->h * d->w, hw = (size_t)d->h * d->w;
    lirf_status st = LIRF_OK;
    lirf_arena *ws = NULL;
    lirf_tape *tape = NULL;
    lirf_buf xb = LIRF_NOBUF, yb = LIRF_NOBUF;
    float *x = malloc((size_t)B * per * sizeof *x);
    int32_t *y = malloc((size_t)B * sizeof *y);
    size_t *perm = malloc(count * sizeof *perm);
    *steps = -1;
    if (!x || !y || !perm) {
        st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
        goto out;
    }
    STEP(lirf_arena_create(ctx, 0, &ws));
    STEP(lirf_tape_create(&tape));
    STEP(lirf_buf_alloc(ctx, (size_t)B * per, &xb));
    STEP(lirf_buf_alloc(ctx, (size_t)B, &yb));
    STEP(lirf_buf_fill(ctx, lirf_net_momentum(net), 0));
    STEP(accuracy(ctx, eval, K, net, reached));
    if (*reached >= goal) {
        *steps = 0;
        goto out;
    }
    size_t pos = count;
    for (int t = 1; t <= o->max_steps; t++) {
        for (int i = 0; i < B; i++) {
            if (pos >= count) { /* a new shuffled pass over the sample */
                for (size_t k = 0; k < count; k++) perm[k] = k;
                uint64_t z = ((uint64_t)o->seed << 32) ^ (uint64_t)t;
                for (size_t k = count; k > 1; k--) {
                    z = mix64(z + 0x9E3779B97F4A7C15ull);
                    size_t j = (size_t)(z % k), u = perm[k - 1];
                    perm[k - 1] = perm[j], perm[j] = u;
                }
                pos = 0;
            }
            size_t idx = (size_t)index[perm[pos++]];
            const uint8_t *p = d->pixels + idx * per;
            for (int ch = 0; ch < d->c; ch++)
                for (size_t k = 0; k < hw; k++)
                    x[(size_t)i * per + (size_t)ch * hw + k] =
                        ((float)p[(size_t)ch * hw + k] / 255.0f - mean[ch]) / std[ch];
            y[i] = d->labels[idx];
        }
        lirf_buf z, dz;
        STEP(lirf_buf_write(ctx, xb, x, (size_t)B * per));
        STEP(lirf_buf_write(ctx, yb, y, (size_t)B));
        STEP(lirf_arena_reset(ws));
        STEP(lirf_net_zero_grads(net));
        STEP(lirf_net_forward(net, ws, tape, o->mode, xb, B, &z));
        STEP(lirf_arena_get(ws, (size_t)B * K, &dz));
        STEP(lirf_buf_fill(ctx, dz, 0));
        STEP(lirf_softmax_ce_backward(ctx, dz, z, yb, B, K, 1.0f));
        STEP(lirf_net_backward(net, ws, tape, dz, NULL));
        STEP(lirf_sgd_step(ctx, lirf_net_params(net), lirf_net_momentum(net), lirf_net_grads(net),
                           lirf_net_nparams(net), o->lr, o->momentum, o->wd));
        if (t % o->eval_every == 0 || t == o->max_steps) {
            STEP(accuracy(ctx, eval, K, net, reached));
            if (!isfinite(*reached)) {
                st = LIRF_FAIL(LIRF_E_NUMERIC, "relearn: the net diverged at step %d", t);
                goto out;
            }
            if (*reached >= goal) {
                *steps = t;
                break;
            }
        }
    }
out:
    free(x), free(y), free(perm);
    lirf_buf_free(ctx, &xb), lirf_buf_free(ctx, &yb);
    lirf_tape_destroy(tape);
    lirf_arena_destroy(ws);
    return st;
}
