/* Unlearning baselines: the registry and the common job (see unlearn.h). */
#include "unlearn.h"

#include <stdlib.h>
#include <string.h>

const lirf_unlearner *const lirf_unlearners[] = {
    &lirf_unlearn_random_label, &lirf_unlearn_grad_ascent, &lirf_unlearn_finetune,
    &lirf_unlearn_retrain,      &lirf_unlearn_scrub,       NULL,
};

const lirf_unlearner *lirf_unlearner_find(const char *name) {
    for (int i = 0; name && lirf_unlearners[i]; i++)
        if (!strcmp(lirf_unlearners[i]->name, name)) return lirf_unlearners[i];
    return NULL;
}

void lirf_unlearn_opts_default(lirf_unlearn_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = "random-label";
    o->batch = 128, o->momentum = 0.9f, o->wd = 5e-4f, o->seed = 1;
    o->aug = (lirf_aug_params){.pad = -1, .flip = 1, .max_rot_deg = 0}; /* -1: by image size */
    o->alpha = 0.5f, o->T = 4.0f;
}

void lirf_unlearn_resolve(lirf_unlearn_opts *o, const lirf_unlearner *u, int in_h) {
    if (o->epochs <= 0) o->epochs = u->epochs;
    if (o->lr <= 0) o->lr = u->lr;
    o->lambda = !u->lambda ? 0 : o->lambda > 0 ? o->lambda : u->lambda;
    if (o->aug.pad < 0) o->aug.pad = in_h >= 32 ? 4 : 2;
}

const char *lirf_unlearner_data(const lirf_unlearner *u) {
    return !u->uses_retain ? "D_r" : u->uses_forget ? "D_r+preservation" : "preservation";
}

json_t *lirf_unlearn_opts_json(const lirf_unlearn_opts *o, const lirf_unlearner *u) {
    json_t *j = json_pack("{s:s,s:s,s:i,s:i,s:f,s:f,s:f,s:i,s:i,s:i,s:f,s:f}", "method", u->name,
                     "data", lirf_unlearner_data(u), "epochs",
                     o->epochs, "batch", o->batch, "lr", lirf_tidy(o->lr), "momentum", lirf_tidy(o->momentum),
                     "weight_decay", lirf_tidy(o->wd), "seed", (int)o->seed, "crop_pad", o->aug.pad,
                     "flip", o->aug.flip, "alpha", lirf_tidy(o->alpha), "T", lirf_tidy(o->T));
    if (j && u->lambda > 0) json_object_set_new(j, "lambda", json_real(lirf_tidy(o->lambda)));
    return j;
}

lirf_status lirf_unlearn_random_labels(lirf_ctx *ctx, uint32_t seed, size_t gstep, int n, int K,
                                       int32_t *host, lirf_buf dev) {
    for (int i = 0; i < n; i++)
        host[i] = (int32_t)(lirf_mix64(((uint64_t)seed << 40) ^ ((uint64_t)gstep << 16) ^
                                       (uint64_t)i) % (uint64_t)K);
    return lirf_buf_write(ctx, (lirf_buf){dev.mem, dev.off, (size_t)n}, host, (size_t)n);
}

lirf_status lirf_unlearn_ce_step(lirf_net *net, lirf_tape *tape, lirf_fit_step *s, lirf_buf y,
                                 float scale) {
    int n = s->n, K = lirf_net_cfg(net)->classes;
    lirf_buf z, dz;
    LIRF_TRY(lirf_net_forward(net, s->ws, tape, LIRF_MODE_TRAIN, s->x, n, &z));
    LIRF_TRY(lirf_softmax_ce_forward(s->ctx, s->term[0], LIRF_NOBUF, z, y, n, K));
    LIRF_TRY(lirf_arena_get(s->ws, (size_t)n * K, &dz));
    LIRF_TRY(lirf_buf_fill(s->ctx, dz, 0));
    LIRF_TRY(lirf_softmax_ce_backward(s->ctx, dz, z, y, n, K, scale));
    return lirf_net_backward(net, s->ws, tape, dz, NULL);
}

/* ---- the job ---- */
static int is_dep(const int32_t *dep, int ndep, int k) {
    for (int i = 0; i < ndep; i++)
        if (dep[i] == k) return 1;
    return 0;
}

static lirf_status make_loaders(lirf_unlearn_job *j, const lirf_dataset *d, int retain,
                                int32_t *idx, lirf_unlearn_result *res) {
    size_t nf = 0, nr = 0;
    for (int i = 0; i < d->n; i++)
        if (is_dep(j->dep, j->ndep, d->labels[i])) idx[nf++] = i;
    for (int i = 0; i < d->n; i++)
        if (!is_dep(j->dep, j->ndep, d->labels[i])) idx[nf + nr++] = i;
    if (!nf || (retain && !nr))
        return LIRF_FAIL(LIRF_E_INVALID, "unlearn: the data has no %s samples",
                         nf ? "preservation-class" : "deposit-class");
    lirf_loader_opts lo = {.data = d, .index = idx, .count = nf, .batch = j->o->batch,
                           .shuffle = 1, .seed = j->o->seed};
    memcpy(lo.mean, j->meta->mean, sizeof lo.mean);
    memcpy(lo.std, j->meta->std, sizeof lo.std);
    LIRF_TRY(lirf_loader_create(j->ctx, &lo, &j->forget));
    res->forget_images = j->forget_used ? nf : 0;
    if (!retain) return LIRF_OK;
    lo.index = idx + nf, lo.count = nr;
    res->retain_images = nr;
    return lirf_loader_create(j->ctx, &lo, &j->retain);
}

static void fit_defaults(lirf_unlearn_job *j, const lirf_unlearner *u, lirf_progress *pr) {
    const lirf_unlearn_opts *o = j->o;
    const lirf_net_config *c = lirf_net_cfg(j->net);
    lirf_fit_opts_default(&j->fit);
    (void)u;
    j->fit.epochs = o->epochs;
    j->fit.sched = (lirf_schedule){.kind = LIRF_SCHED_CONST, .lr = o->lr, .epochs = o->epochs};
    j->fit.momentum = o->momentum, j->fit.wd = o->wd;
    j->fit.aug = o->aug, j->fit.aug_seed = o->seed ^ 0x85ebca6bu, j->fit.copy_input = 1;
    j->fit.in_c = c->in_c, j->fit.in_h = c->in_h, j->fit.in_w = c->in_w;
    lirf_progress_init(pr, o->quiet ? NULL : stderr);
    j->fit.progress = lirf_fit_print, j->fit.progress_user = pr;
}

static lirf_status save_target(lirf_unlearn_job *j, const lirf_unlearner *u, const char *path) {
    char dep[4096] = "";
    size_t k = 0;
    for (int i = 0; i < j->ndep && k + 12 < sizeof dep; i++)
        k += (size_t)snprintf(dep + k, sizeof dep - k, "%s%d", i ? "," : "", j->dep[i]);
    json_t *oj = lirf_unlearn_opts_json(j->o, u);
    char *ojs = json_dumps(oj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(oj);
    if (!ojs) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_model_meta m = *j->meta;
    m.split[0] = 0;
    int plain = u->kind && !strcmp(u->kind, "model"); /* a learner's net: no deposit */
    const char *keys[] = {"lirf_kind", "deposit_classes", "deposit_options"};
    const char *vals[] = {"target", dep, ojs};
    const char *pkeys[] = {"learn_options"}, *pvals[] = {ojs};
    lirf_net *nets[1] = {j->net};
    const char *pre[1] = {""};
    lirf_status st = plain ? lirf_checkpoint_save(path, nets, pre, 1, &m, pkeys, pvals, 1)
                           : lirf_checkpoint_save(path, nets, pre, 1, &m, keys, vals, 3);
    free(ojs);
    return st;
}

lirf_status lirf_unlearn(lirf_ctx *ctx, lirf_net *t0, const lirf_model_meta *meta,
                         const lirf_dataset *data, const int32_t *dep, int ndep,
                         const lirf_unlearn_opts *o, const char *target_path,
                         lirf_unlearn_result *res) {
    if (!ctx || !t0 || !meta || !data || !dep || !o || !target_path || !res)
        return LIRF_FAIL(LIRF_E_NULL, "unlearn: NULL argument");
    const lirf_unlearner *u = lirf_unlearner_find(o->method);
    if (!u) return LIRF_FAIL(LIRF_E_INVALID, "unknown unlearning method \"%s\"", o->method);
    return lirf_unlearn_with(ctx, u, t0, meta, data, dep, ndep, o, target_path, res);
}

lirf_status lirf_unlearn_with(lirf_ctx *ctx, const lirf_unlearner *u, lirf_net *t0,
                              const lirf_model_meta *meta, const lirf_dataset *data,
                              const int32_t *dep, int ndep, const lirf_unlearn_opts *o,
                              const char *target_path, lirf_unlearn_result *res) {
    if (!ctx || !u || !t0 || !meta || !data || !dep || !o || !target_path || !res)
        return LIRF_FAIL(LIRF_E_NULL, "unlearn: NULL argument");
    memset(res, 0, sizeof *res);
    lirf_net_config c = *lirf_net_cfg(t0);
    lirf_unlearn_opts oo = *o; /* the defaults resolved: what runs and is recorded */
    lirf_unlearn_resolve(&oo, u, c.in_h);
    lirf_unlearn_job j = {.ctx = ctx, .teacher = t0, .meta = meta, .dep = dep, .ndep = ndep,
                          .K = c.classes, .o = &oo, .forget_used = u->uses_forget};
    int32_t *idx = malloc((size_t)data->n * sizeof *idx);
    lirf_status st = idx ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    if (st == LIRF_OK) st = lirf_net_create(ctx, &c, &j.net);
    if (st == LIRF_OK) st = lirf_net_copy(j.net, t0, NULL);
    if (st == LIRF_OK) st = make_loaders(&j, data, u->uses_retain, idx, res);
    lirf_progress pr;
    double t0s = lirf_now();
    if (st == LIRF_OK) {
        fit_defaults(&j, u, &pr);
        st = u->run(&j);
    }
    if (st == LIRF_OK) st = save_target(&j, u, target_path);
    res->seconds = lirf_now() - t0s;
    res->steps = j.steps, res->last_loss = j.res.last_loss, res->uses_retain = u->uses_retain;
    lirf_loader_destroy(j.forget), lirf_loader_destroy(j.retain);
    lirf_net_destroy(j.net);
    free(idx);
    return st;
}

lirf_status lirf_unlearn_fit_learner(lirf_unlearn_job *j, lirf_method *m) {
    m->nparts = 1, m->part[0] = lirf_fit_net_part(j->net, "", NULL);
    m->nreads = 1, m->reads[0] = j->teacher;
    lirf_fit_source src = lirf_fit_loader(j->forget);
    lirf_status st = lirf_fit(j->ctx, m, &src, &j->fit, &j->res);
    j->steps += j->res.steps;
    return st;
}
