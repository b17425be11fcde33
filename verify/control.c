/* The negative control: a net that never saw the deposit classes. Given with
 * --independent, or trained here from the preservation data (the auditor's
 * data access), as the original was trained but without D_r. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit_priv.h"
#include "fileutil.h"

/* The preservation-class images among the first member_limit training
 * images (the ones the original was trained on), in order, at most
 * control_limit of them. */
static lirf_status control_images(const audit_t *a, int32_t **idx, size_t *n) {
    size_t lim = a->member_limit;
    *n = 0;
    *idx = malloc((lim + 1) * sizeof **idx);
    if (!*idx) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    size_t cap = a->o->control_limit > 0 ? (size_t)a->o->control_limit : lim;
    for (size_t i = 0; i < lim && *n < cap; i++)
        if (!va_is_dep(&a->S, a->tr.labels[i])) (*idx)[(*n)++] = (int32_t)i;
    if (*n < 2) return LIRF_FAIL(LIRF_E_INVALID, "no preservation-class images to train the negative control on");
    return LIRF_OK;
}

static lirf_status train_control(audit_t *a, const int32_t *idx, size_t n, lirf_train_result *res) {
    const lirf_verify_opts *o = a->o;
    const model_t *P = a->M[R_ORIGINAL].net ? &a->M[R_ORIGINAL] : &a->M[R_TARGET];
    lirf_model_meta meta = {0};
    meta.cfg = *a->tc;
    meta.cfg.first = 0, meta.cfg.last = lirf_arch_stages(a->tc->arch) - 1;
    memcpy(meta.mean, P->meta.mean, sizeof meta.mean);
    memcpy(meta.std, P->meta.std, sizeof meta.std);
    meta.class_names = a->M[R_TARGET].meta.class_names; /* borrowed */
    lirf_train_opts to;
    lirf_train_opts_default(&to);
    to.epochs = o->control_epochs, to.batch = o->batch, to.seed = 1;
    to.aug.pad = a->tr.h >= 32 ? 4 : 2;
    lirf_loader_opts lo = {.data = &a->tr, .index = idx, .count = n, .batch = to.batch,
                           .shuffle = 1, .drop_last = 1, .seed = 1};
    memcpy(lo.mean, meta.mean, sizeof lo.mean);
    memcpy(lo.std, meta.std, sizeof lo.std);
    lirf_net *net = NULL;
    lirf_loader *ld = NULL;
    lirf_status st = lirf_net_create(a->ctx, &meta.cfg, &net);
    if (st == LIRF_OK) st = lirf_net_init(net, to.seed);
    if (st == LIRF_OK) st = lirf_loader_create(a->ctx, &lo, &ld);
    lirf_train_io io = {.model_path = a->control_path, .meta = &meta, .quiet = o->quiet};
    if (st == LIRF_OK) st = lirf_train_run(a->ctx, net, ld, &to, &io, res);
    lirf_loader_destroy(ld);
    lirf_net_destroy(net);
    return st;
}

lirf_status va_control_stage(audit_t *a) {
    const lirf_verify_opts *o = a->o;
    if (a->M[R_INDEPENDENT].net || !o->train_control) return LIRF_OK;
    double t0 = lirf_now();
    snprintf(a->control_path, sizeof a->control_path, "%s/control.safetensors",
             o->out_dir ? o->out_dir : ".");
    int32_t *idx = NULL;
    size_t n = 0;
    lirf_status st = control_images(a, &idx, &n);
    if (st == LIRF_OK && !o->quiet)
        fprintf(stderr, "verify: training the negative control (%s, never shown the deposit "
                "classes) on %zu preservation-class images, %d epochs, to %s\n",
                lirf_arch_name(a->tc->arch), n, o->control_epochs, a->control_path);
    lirf_train_result res;
    memset(&res, 0, sizeof res);
    if (st == LIRF_OK) st = train_control(a, idx, n, &res);
    free(idx);
    char state[1300];
    snprintf(state, sizeof state, "%s.state.safetensors", a->control_path);
    unlink(state); /* a finished run's resume state: not needed */
    if (st == LIRF_OK) st = va_open_role(a, R_INDEPENDENT, a->control_path, "the negative control");
    if (st != LIRF_OK) return lirf_error_context(st, "training the negative control");
    json_object_set_new(a->R, "control_training",
                        json_pack("{s:o,s:s,s:i,s:I,s:i,s:f,s:I}", "path", lirf_json_text(a->control_path),
                                  "classes", "the preservation classes", "member_limit",
                                  (int)a->member_limit, "images", (json_int_t)n, "epochs",
                                  o->control_epochs, "seconds", lirf_now() - t0, "steps",
                                  (json_int_t)res.steps));
    json_object_set_new(a->timing, "control_training", json_real(lirf_now() - t0));
    va_note(o, "negative control trained: %s", a->control_path, a->t_start);
    return LIRF_OK;
}
