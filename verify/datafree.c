/* Data-free distillation (the paper's supplementary check): students learn
 * from a teacher's outputs on synthetic images only, never a real one, and
 * are tested on the real test split. The synthetic images are smooth random
 * noise: per image a random brightness and contrast, Gaussian pixels, and 0
 * to 2 passes of a 3x3 box blur, drawn from a fixed seed. (Not a
 * BN-statistics inversion: docs/verify.md.) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit_priv.h"

static double unif(uint64_t *z) { return (double)(lirf_rng_next(z) >> 11) * 0x1.0p-53; }

static double gauss(uint64_t *z) {
    double u = unif(z), v = unif(z);
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(6.283185307179586 * v);
}

static void blur(float *p, float *tmp, int h, int w) {
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            double s = 0;
            int n = 0;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++)
                    if (y + dy >= 0 && y + dy < h && x + dx >= 0 && x + dx < w)
                        s += p[(y + dy) * w + x + dx], n++;
            tmp[y * w + x] = (float)(s / n);
        }
    memcpy(p, tmp, (size_t)h * w * sizeof *p);
}

/* One noise image of d (every channel drawn on its own). */
static void noise_image(lirf_dataset *d, size_t i, uint64_t *z, float *plane, float *tmp) {
    double bright = 40 + 175 * unif(z), contrast = 20 + 80 * unif(z);
    int passes = (int)(lirf_rng_next(z) % 3);
    size_t hw = (size_t)d->h * d->w;
    for (int c = 0; c < d->c; c++) {
        for (size_t q = 0; q < hw; q++) plane[q] = (float)gauss(z);
        for (int k = 0; k < passes; k++) blur(plane, tmp, d->h, d->w);
        double sd = 0; /* blurring shrinks the spread: back to unit variance */
        for (size_t q = 0; q < hw; q++) sd += (double)plane[q] * plane[q];
        sd = sqrt(sd / (double)hw) + 1e-12;
        uint8_t *out = d->pixels + (i * d->c + c) * hw;
        for (size_t q = 0; q < hw; q++) {
            double v = bright + contrast * plane[q] / sd;
            out[q] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lround(v));
        }
    }
}

static lirf_status noise_set(const audit_t *a, int n, lirf_dataset *d, int32_t **idx) {
    memset(d, 0, sizeof *d);
    d->n = n, d->c = a->tr.c, d->h = a->tr.h, d->w = a->tr.w, d->num_classes = a->K;
    d->kind = a->tr.kind;
    snprintf(d->source, sizeof d->source, "synthetic noise (data-free distillation)");
    size_t hw = (size_t)d->h * d->w;
    d->pixels = malloc((size_t)n * d->c * hw);
    d->labels = calloc((size_t)n, sizeof *d->labels);
    *idx = malloc((size_t)n * sizeof **idx);
    float *plane = malloc(hw * sizeof *plane), *tmp = malloc(hw * sizeof *tmp);
    lirf_status st = d->pixels && d->labels && *idx && plane && tmp
                         ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    uint64_t z = 0xda7af7eeull;
    for (int i = 0; i < n && st == LIRF_OK; i++) noise_image(d, (size_t)i, &z, plane, tmp), (*idx)[i] = i;
    free(plane), free(tmp);
    return st;
}

/* The CNN student (no labels, logit KD) of teacher r on the noise set,
 * tested on the real test subset: its Dep Acc in *dep. */
static lirf_status datafree_one(audit_t *a, int r, const lirf_dataset *d, const int32_t *idx,
                                json_t *rows, double *dep) {
    const lirf_verify_opts *o = a->o;
    lirf_teacher_out t = {0};
    lirf_student *s = NULL;
    lirf_net_config sc = {.arch = LIRF_ARCH_CNN, .in_c = a->tc->in_c, .in_h = a->tc->in_h,
                          .in_w = a->tc->in_w, .classes = a->K};
    lirf_distill_opts dopt = o->distill;
    dopt.method = LIRF_KD_LOGIT, dopt.labels = 0, dopt.epochs = o->epochs, dopt.batch = o->batch;
    lirf_distill_result res;
    memset(&res, 0, sizeof res);
    double pre = NAN, avg = NAN;
    lirf_status st = lirf_teacher_run(a->ctx, a->M[r].net, d, idx, (size_t)d->n, a->M[r].meta.mean,
                                      a->M[r].meta.std, &t);
    if (st == LIRF_OK) st = lirf_student_create(a->ctx, &sc, 7, &s);
    if (st == LIRF_OK)
        st = lirf_distill_train(s, d, idx, (size_t)d->n, a->smean, a->sstd, &t, &dopt, "cnn", o->quiet, &res);
    if (st == LIRF_OK) st = va_eval_fn(a->ctx, a->lte, &a->S, lirf_student_logits, s, &pre, dep, &avg);
    lirf_student_destroy(s);
    lirf_teacher_out_free(&t);
    if (st != LIRF_OK) return st;
    json_array_append_new(rows, json_pack("{s:s,s:s,s:o,s:o,s:o,s:f}", "teacher", ROLE[r], "label",
                                          ROLE_LABEL[r], "pre_acc", va_jnum(pre), "dep_acc",
                                          va_jnum(*dep), "avg_acc", va_jnum(avg), "seconds", res.seconds));
    va_note(o, "data-free student of the %s net done", ROLE[r], a->t_start);
    return LIRF_OK;
}

lirf_status va_datafree_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    if (!o->datafree_images) return LIRF_OK;
    double t0 = lirf_now();
    lirf_dataset d;
    int32_t *idx = NULL;
    lirf_status st = noise_set(a, o->datafree_images, &d, &idx);
    static const int who[3] = {R_TARGET, R_INDEPENDENT, R_ORIGINAL};
    double dep[3] = {NAN, NAN, NAN};
    json_t *rows = json_array();
    for (int k = 0; k < 3 && st == LIRF_OK; k++)
        if (a->M[who[k]].net) st = datafree_one(a, who[k], &d, idx, rows, &dep[k]);
    lirf_dataset_free(&d);
    free(idx);
    if (st != LIRF_OK) {
        json_decref(rows);
        return st;
    }
    json_object_set_new(a->R, "datafree", json_pack("{s:s,s:i,s:i,s:s,s:o}", "inputs",
                        "smooth random noise (random brightness, contrast, 0-2 box blurs), never a real image",
                        "images", o->datafree_images, "epochs", o->epochs, "student",
                        "cnn, logit KD, no labels", "students", rows));
    va_check c = {.name = "datafree/cnn/logit", .what = "Dep Acc of the CNN student taught the "
                  "target's outputs on synthetic noise minus the negative control's (points)",
                  .value = dep[0] - dep[1], .control = dep[1],
                  .control_is = "the negative control's data-free student",
                  .positive = dep[2] - dep[1], .margin = o->margin_none,
                  .no_power_why = !a->M[R_INDEPENDENT].net ? "no negative control"
                                  : !a->M[R_ORIGINAL].net ? "needs --original (the positive control)" : NULL};
    va_add_check(a, &c);
    json_object_set_new(a->timing, "datafree", json_real(lirf_now() - t0));
    return LIRF_OK;
}
