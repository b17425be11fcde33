/* lirf train as a library call: data, a fresh net, lirf_fit (supervised), the
 * checkpoint, and the test accuracy by class. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fileutil.h"
#include "experiments.h"

void lirf_train_job_default(lirf_train_job *j) {
    memset(j, 0, sizeof *j);
    j->arch = LIRF_ARCH_RESNET18;
    j->width = 16;
    j->image_size = 32;
    j->out = "lirf-model.safetensors";
    lirf_train_opts_default(&j->o);
    j->o.aug.pad = -1;
}

/* Both splits, checked against each other and the class list. */
static lirf_status load_splits(const lirf_train_job *j, lirf_dataset *tr, lirf_dataset *te) {
    double t = lirf_now();
    LIRF_TRY(lirf_load_split(j->data, j->kind, 1, j->image_size, j->classes, j->nclasses,
                             (size_t)j->limit, tr));
    LIRF_TRY(lirf_load_split(j->test_data ? j->test_data : j->data, j->kind, 0, j->image_size,
                             NULL, 0, 0, te));
    if (te->c != tr->c || te->h != tr->h || te->w != tr->w || te->num_classes != tr->num_classes)
        return LIRF_FAIL(LIRF_E_SHAPE,
                         "the test data (%dx%dx%d, %d classes) does not match the training data "
                         "(%dx%dx%d, %d classes)", te->c, te->h, te->w, te->num_classes, tr->c,
                         tr->h, tr->w, tr->num_classes);
    for (int k = 0; k < j->nclasses; k++)
        if (j->classes[k] >= tr->num_classes)
            return LIRF_FAIL(LIRF_E_INVALID, "class %d is not in the data (%d classes)",
                             j->classes[k], tr->num_classes);
    if (j->log)
        fprintf(j->log, "lirf: data %s: %d training / %d test images %dx%dx%d, %d classes (%.1fs)\n",
                tr->source, tr->n, te->n, tr->c, tr->h, tr->w, tr->num_classes, lirf_now() - t);
    return LIRF_OK;
}

static lirf_status make_loaders(lirf_ctx *ctx, const lirf_train_opts *o, const lirf_model_meta *meta,
                                const lirf_dataset *tr, const lirf_dataset *te, lirf_loader **ltr,
                                lirf_loader **lte) {
    lirf_loader_opts lo = {.data = tr, .batch = o->batch, .shuffle = 1, .drop_last = 1,
                           .seed = o->seed};
    memcpy(lo.mean, meta->mean, sizeof lo.mean);
    memcpy(lo.std, meta->std, sizeof lo.std);
    LIRF_TRY(lirf_error_context(lirf_loader_create(ctx, &lo, ltr), "preparing batches"));
    lo.data = te, lo.shuffle = 0, lo.drop_last = 0, lo.batch = o->batch > 256 ? o->batch : 256;
    return lirf_error_context(lirf_loader_create(ctx, &lo, lte), "preparing batches");
}

static lirf_status evaluate(lirf_ctx *ctx, lirf_loader *lte, lirf_net *net, int K,
                            lirf_train_report *r) {
    LIRF_TRY(lirf_error_context(lirf_eval_counts(ctx, lte, K, lirf_net_logits, net, r->counts),
                                "evaluating"));
    r->correct = r->total = 0;
    for (int k = 0; k < K; k++) r->correct += r->counts[2 * k], r->total += r->counts[2 * k + 1];
    r->test_accuracy = lirf_pct(r->correct, r->total);
    return LIRF_OK;
}

static lirf_status run(lirf_ctx *ctx, const lirf_train_job *j, lirf_dataset *tr, lirf_dataset *te,
                       lirf_loader **ltr, lirf_loader **lte, lirf_net **net, lirf_train_report *r) {
    LIRF_TRY(load_splits(j, tr, te));
    lirf_train_opts o = j->o;
    if (o.aug.pad < 0) o.aug.pad = tr->h >= 32 ? 4 : 2;
    lirf_model_meta meta = {0};
    meta.cfg = (lirf_net_config){.arch = j->arch, .width = j->width, .in_c = tr->c, .in_h = tr->h,
                                 .in_w = tr->w, .classes = tr->num_classes, .first = 0,
                                 .last = lirf_arch_stages(j->arch) - 1};
    meta.class_names = tr->class_names; /* borrowed */
    lirf_dataset_stats(tr, meta.mean, meta.std);
    lirf_status st = lirf_net_create(ctx, &meta.cfg, net);
    if (!st) st = lirf_net_init(*net, o.seed);
    LIRF_TRY(lirf_error_context(st, "creating the network"));
    LIRF_TRY(make_loaders(ctx, &o, &meta, tr, te, ltr, lte));
    r->params = lirf_net_nparams(*net);
    r->classes = tr->num_classes;
    if (j->log)
        fprintf(j->log, "lirf: %s width %d, %zu parameters, %d epochs of %zu steps (batch %d)\n",
                lirf_arch_name(j->arch), j->width, r->params, o.epochs,
                lirf_loader_batches(*ltr), o.batch);
    lirf_train_io io = {.model_path = j->out, .meta = &meta, .resume = j->resume,
                        .quiet = !j->log};
    lirf_train_result res;
    LIRF_TRY(lirf_error_context(lirf_train_run(ctx, *net, *ltr, &o, &io, &res), "training"));
    r->seconds = res.seconds, r->images_per_s = res.images_per_s, r->final_loss = res.last_loss;
    r->steps = res.steps, r->stopped = res.stopped;
    if (res.stopped) return LIRF_OK;
    return evaluate(ctx, *lte, *net, tr->num_classes, r);
}

lirf_status lirf_train_job_run(lirf_ctx *ctx, const lirf_train_job *j, lirf_train_report *r) {
    if (!ctx || !j || !r) return LIRF_FAIL(LIRF_E_NULL, "lirf_train_job_run: NULL argument");
    memset(r, 0, sizeof *r);
    r->arch = lirf_arch_name(j->arch);
    r->width = j->width, r->epochs = j->o.epochs, r->batch = j->o.batch;
    lirf_dataset tr = {0}, te = {0};
    lirf_loader *ltr = NULL, *lte = NULL;
    lirf_net *net = NULL;
    lirf_status st = run(ctx, j, &tr, &te, &ltr, &lte, &net, r);
    lirf_loader_destroy(ltr);
    lirf_loader_destroy(lte);
    lirf_net_destroy(net);
    lirf_dataset_free(&tr);
    lirf_dataset_free(&te);
    return st;
}

json_t *lirf_train_report_json(const lirf_train_job *j, const lirf_train_report *r) {
    json_t *pc = json_array();
    for (int k = 0; pc && k < r->classes; k++) {
        double a = lirf_pct(r->counts[2 * k], r->counts[2 * k + 1]);
        json_array_append_new(pc, isnan(a) ? json_null() : json_real(lirf_round2(a)));
    }
    json_t *acc = isnan(r->test_accuracy) ? json_null() : json_real(r->test_accuracy);
    return json_pack("{s:o,s:s,s:i,s:i,s:i,s:f,s:f,s:f,s:o*,s:I,s:o*}", "model", lirf_json_text(j->out), "arch",
                     r->arch, "width", r->width, "epochs", r->epochs, "batch", r->batch, "seconds",
                     r->seconds, "images_per_s", r->images_per_s, "final_loss", r->final_loss,
                     "test_accuracy", acc, "parameters", (json_int_t)r->params, "per_class", pc);
}
