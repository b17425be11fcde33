/* Batches with a prefetching thread (see loader.h). */
#include "loader.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 2

typedef struct {
    float *x;
    int32_t *y;
    int n;
    int ready;
} slot_t;

struct lirf_loader {
    lirf_ctx *ctx;
    lirf_loader_opts o;
    size_t count, nbatches, per;      /* samples, batches, floats per sample */
    int32_t *perm;
    lirf_buf dx, dy;                  /* device batch */
    slot_t slot[SLOTS];
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int running, stop;
    size_t produce_next, consume_next; /* batch numbers */
    float lut[4][256];                 /* pixel -> preprocessed value, per channel */
};


static void fill(struct lirf_loader *l, size_t b, slot_t *s) {
    const lirf_dataset *d = l->o.data;
    size_t start = b * (size_t)l->o.batch, end = start + (size_t)l->o.batch;
    if (end > l->count) end = l->count;
    int C = d->c;
    size_t hw = (size_t)d->h * d->w;
    for (size_t i = start; i < end; i++) {
        size_t idx = (size_t)l->perm[i];
        const uint8_t *p = d->pixels + idx * l->per;
        float *x = s->x + (i - start) * l->per;
        for (int c = 0; c < C; c++)
            for (size_t k = 0; k < hw; k++) x[c * hw + k] = l->lut[c][p[c * hw + k]];
        s->y[i - start] = d->labels[idx];
    }
    s->n = (int)(end - start);
}

static void *worker(void *arg) {
    struct lirf_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    while (!l->stop) {
        size_t b = l->produce_next;
        slot_t *s = &l->slot[b % SLOTS];
        if (b >= l->nbatches || s->ready || b >= l->consume_next + SLOTS) {
            pthread_cond_wait(&l->cv, &l->mu);
            continue;
        }
        pthread_mutex_unlock(&l->mu);
        fill(l, b, s);
        pthread_mutex_lock(&l->mu);
        s->ready = 1;
        l->produce_next = b + 1;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

lirf_status lirf_loader_create(lirf_ctx *ctx, const lirf_loader_opts *o, lirf_loader **out) {
    if (!ctx || !o || !o->data || !out) return LIRF_FAIL(LIRF_E_NULL, "loader: NULL argument");
    if (o->batch <= 0) return LIRF_FAIL(LIRF_E_INVALID, "loader: batch %d", o->batch);
    const lirf_dataset *d = o->data;
    size_t count = o->index ? o->count : (size_t)d->n;
    if (count == 0) return LIRF_FAIL(LIRF_E_INVALID, "loader: no samples");
    if (d->c > 4) return LIRF_FAIL(LIRF_E_INVALID, "loader: %d channels", d->c);
    for (size_t i = 0; o->index && i < count; i++)
        if (o->index[i] < 0 || o->index[i] >= d->n)
            return LIRF_FAIL(LIRF_E_INVALID, "loader: sample index %d outside the set", o->index[i]);
    struct lirf_loader *l = calloc(1, sizeof *l);
    if (!l) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    l->ctx = ctx;
    l->o = *o;
    l->count = count;
    l->per = (size_t)d->c * d->h * d->w;
    l->nbatches = o->drop_last ? count / (size_t)o->batch
                               : (count + (size_t)o->batch - 1) / (size_t)o->batch;
    if (l->nbatches == 0) l->nbatches = 1, l->o.drop_last = 0;
    for (int c = 0; c < d->c; c++)
        for (int v = 0; v < 256; v++)
            l->lut[c][v] = (float)(((double)v / 255.0 - o->mean[c]) / o->std[c]);
    lirf_status st = LIRF_OK;
    l->perm = malloc(count * sizeof *l->perm);
    if (!l->perm) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    for (int s = 0; s < SLOTS && st == LIRF_OK; s++) {
        l->slot[s].x = malloc((size_t)o->batch * l->per * sizeof(float));
        l->slot[s].y = malloc((size_t)o->batch * sizeof(int32_t));
        if (!l->slot[s].x || !l->slot[s].y) st = LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, (size_t)o->batch * l->per, &l->dx);
    if (st == LIRF_OK) st = lirf_buf_alloc(ctx, (size_t)o->batch, &l->dy);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    if (st != LIRF_OK) {
        lirf_loader_destroy(l);
        return st;
    }
    *out = l;
    return LIRF_OK;
}

static void stop_thread(struct lirf_loader *l) {
    if (!l->running) return;
    pthread_mutex_lock(&l->mu);
    l->stop = 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    pthread_join(l->thread, NULL);
    l->running = 0;
    l->stop = 0;
}

void lirf_loader_destroy(lirf_loader *l) {
    if (!l) return;
    stop_thread(l);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int s = 0; s < SLOTS; s++) free(l->slot[s].x), free(l->slot[s].y);
    free(l->perm);
    lirf_buf_free(l->ctx, &l->dx);
    lirf_buf_free(l->ctx, &l->dy);
    free(l);
}

size_t lirf_loader_batches(const lirf_loader *l) { return l->nbatches; }
size_t lirf_loader_samples(const lirf_loader *l) {
    return l->o.drop_last ? l->nbatches * (size_t)l->o.batch : l->count;
}

lirf_status lirf_loader_start(lirf_loader *l, int epoch, size_t skip) {
    if (!l) return LIRF_FAIL(LIRF_E_NULL, "loader: NULL");
    stop_thread(l);
    for (size_t i = 0; i < l->count; i++)
        l->perm[i] = l->o.index ? l->o.index[i] : (int32_t)i;
    if (l->o.shuffle) {
        /* Fisher-Yates driven by a hash of (seed, epoch, i): reproducible */
        uint64_t base = lirf_mix64(((uint64_t)l->o.seed << 32) ^ (uint64_t)(uint32_t)epoch ^ 0x5eedull);
        for (size_t i = l->count - 1; i > 0; i--) {
            size_t j = (size_t)(lirf_mix64(base + i) % (i + 1));
            int32_t t = l->perm[i];
            l->perm[i] = l->perm[j];
            l->perm[j] = t;
        }
    }
    if (skip > l->nbatches) skip = l->nbatches;
    for (int s = 0; s < SLOTS; s++) l->slot[s].ready = 0;
    l->produce_next = l->consume_next = skip;
    if (pthread_create(&l->thread, NULL, worker, l) != 0)
        return LIRF_FAIL(LIRF_E_NOMEM, "loader: cannot start its thread");
    l->running = 1;
    return LIRF_OK;
}

lirf_status lirf_loader_next(lirf_loader *l, lirf_buf *x, lirf_buf *y, int *n) {
    if (!l || !x || !y || !n) return LIRF_FAIL(LIRF_E_NULL, "loader: NULL argument");
    if (!l->running) return LIRF_FAIL(LIRF_E_INVALID, "loader: no epoch started");
    *n = 0;
    if (l->consume_next >= l->nbatches) return LIRF_OK;
    size_t b = l->consume_next;
    slot_t *s = &l->slot[b % SLOTS];
    pthread_mutex_lock(&l->mu);
    while (!s->ready) pthread_cond_wait(&l->cv, &l->mu);
    pthread_mutex_unlock(&l->mu);
    lirf_buf vx = {l->dx.mem, l->dx.off, (size_t)s->n * l->per};
    lirf_buf vy = {l->dy.mem, l->dy.off, (size_t)s->n};
    lirf_status st = lirf_buf_write(l->ctx, vx, s->x, vx.n);
    if (st == LIRF_OK) st = lirf_buf_write(l->ctx, vy, s->y, vy.n);
    int got = s->n;
    pthread_mutex_lock(&l->mu);
    s->ready = 0;
    l->consume_next = b + 1;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
    LIRF_TRY(st);
    *x = vx, *y = vy, *n = got;
    return LIRF_OK;
}
