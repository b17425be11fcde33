/* lirf unlearn as a library call: a baseline (model/baselines/) from T0's
 * checkpoint and the training split to a target checkpoint. */
#include "fileutil.h"
#include "experiments.h"

lirf_status lirf_unlearn_file_run(lirf_ctx *ctx, const lirf_unlearn_file_job *j,
                                  lirf_unlearn_file_report *r) {
    if (!ctx || !j || !r || !j->model || !j->target_out || !j->dep)
        return LIRF_FAIL(LIRF_E_NULL, "lirf_unlearn_file_run: NULL argument");
    if (!lirf_unlearner_find(j->o.method))
        return LIRF_FAIL(LIRF_E_INVALID, "unknown unlearning method %s", j->o.method);
    r->o = j->o;
    lirf_net *t0 = NULL;
    lirf_model_meta meta = {0};
    lirf_dataset ds = {0};
    lirf_status st = lirf_error_context(
        lirf_load_t0(ctx, j->model, j->allow_kind, j->o.quiet ? NULL : stderr, &meta, &t0),
        "loading T0");
    if (!st)
        st = lirf_load_split(j->data, j->kind, 1, j->image_size ? j->image_size : meta.cfg.in_h, NULL,
                             0, (size_t)j->limit, &ds);
    if (!st) st = lirf_data_fits(&ds, &meta, "T0");
    if (!st)
        st = lirf_error_context(
            lirf_unlearn(ctx, t0, &meta, &ds, j->dep, j->ndep, &j->o, j->target_out, &r->res),
            "unlearning");
    if (!st) lirf_unlearn_resolve(&r->o, lirf_unlearner_find(j->o.method), meta.cfg.in_h);
    lirf_dataset_free(&ds);
    lirf_net_destroy(t0);
    lirf_model_meta_free(&meta);
    return st;
}

json_t *lirf_unlearn_report_json(const lirf_unlearn_file_job *j, const lirf_unlearn_file_report *r) {
    const lirf_unlearner *u = lirf_unlearner_find(r->o.method);
    if (!u) return NULL;
    const lirf_unlearn_result *res = &r->res;
    return json_pack("{s:o,s:o,s:o,s:f,s:I,s:I,s:I,s:f}", "t0", lirf_json_text(j->model), "target",
                     lirf_json_text(j->target_out),
                     "options", lirf_unlearn_opts_json(&r->o, u), "seconds", res->seconds, "steps",
                     (json_int_t)res->steps, "forget_images", (json_int_t)res->forget_images,
                     "retain_images", (json_int_t)res->retain_images, "last_loss", res->last_loss);
}
