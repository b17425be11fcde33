/* Table 4's sequences as a library call (experiments.h, "Table 4"): the data,
 * the step-0 net or the method's run over the later tasks with a net kept
 * per task, and every step evaluated task-aware. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiments.h"
#include "fileutil.h"

void lirf_il_job_default(lirf_il_job *j) {
    memset(j, 0, sizeof *j);
    j->T = 2, j->ndel = 1;
    j->method = "baseline";
    j->arch = LIRF_ARCH_RESNET18, j->width = 16;
    lirf_il_opts_default(&j->o);
    j->later_lr = 0.01f;
    j->out = "lirf-il.safetensors";
}

json_t *lirf_il_job_options(const lirf_il_job *j) {
    const lirf_train_opts *t = &j->o.train;
    return json_pack("{s:s,s:i,s:i,s:i,s:i,s:f,s:s,s:f,s:f,s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:I}",
                     "method", j->first ? j->method : "baseline", "tasks", j->T, "deletion_per_task",
                     j->ndel, "epochs", t->epochs, "batch", t->batch, "lr",
                     lirf_tidy(j->first && j->later_lr > 0 ? j->later_lr : t->lr),
                     "schedule", lirf_sched_name(t->sched), "momentum", lirf_tidy(t->momentum),
                     "weight_decay", lirf_tidy(t->wd), "seed", (int)t->seed, "crop_pad",
                     t->aug.pad, "flip", t->aug.flip, "alpha", lirf_tidy(j->o.alpha), "T",
                     lirf_tidy(j->o.T_kd), "lambda_ewc", lirf_tidy(j->o.lambda_ewc), "lambda_mas",
                     lirf_tidy(j->o.lambda_mas), "limit", (json_int_t)j->limit);
}

typedef struct {
    lirf_dataset tr, te;
    lirf_model_meta meta;
    lirf_net *net;
    lirf_il *il;
    char *opts;  /* lirf_il_job_options, compact */
    int own_meta;
} il_run;

static void il_run_free(il_run *r) {
    lirf_il_destroy(r->il);
    lirf_net_destroy(r->net);
    if (r->own_meta) lirf_model_meta_free(&r->meta);
    lirf_dataset_free(&r->tr);
    lirf_dataset_free(&r->te);
    free(r->opts);
}

static lirf_status load_data(const lirf_il_job *j, int image_size, il_run *r) {
    LIRF_TRY(lirf_load_split(j->data, j->kind, 1, image_size, NULL, 0, j->limit, &r->tr));
    LIRF_TRY(lirf_load_split(j->test_data ? j->test_data : j->data, j->kind, 0, image_size, NULL,
                             0, 0, &r->te));
    if (r->te.num_classes != r->tr.num_classes || r->te.c != r->tr.c || r->te.h != r->tr.h)
        return LIRF_FAIL(LIRF_E_SHAPE, "the test data (%d classes) does not match the training "
                         "data (%d classes)", r->te.num_classes, r->tr.num_classes);
    return LIRF_OK;
}

/* The net: step 0's fresh one, or the step-0 net in j->first. */
static lirf_status make_net(lirf_ctx *ctx, const lirf_il_job *j, il_run *r) {
    if (j->first) {
        LIRF_TRY(lirf_checkpoint_load(ctx, j->first, &r->meta, &r->net));
        r->own_meta = 1;
        LIRF_TRY(load_data(j, r->meta.cfg.in_h, r));
        LIRF_TRY(lirf_data_fits(&r->tr, &r->meta, j->first));
        return lirf_data_fits(&r->te, &r->meta, j->first);
    }
    LIRF_TRY(load_data(j, j->image_size > 0 ? j->image_size : 32, r));
    lirf_model_meta *m = &r->meta;
    m->cfg = (lirf_net_config){.arch = j->arch, .width = j->width, .in_c = r->tr.c,
                               .in_h = r->tr.h, .in_w = r->tr.w, .classes = r->tr.num_classes,
                               .first = 0, .last = lirf_arch_stages(j->arch) - 1};
    m->class_names = r->tr.class_names; /* borrowed */
    lirf_dataset_stats(&r->tr, m->mean, m->std);
    LIRF_TRY(lirf_net_create(ctx, &m->cfg, &r->net));
    return lirf_net_init(r->net, j->o.train.seed);
}

static lirf_status save_net(const il_run *r, const char *path) {
    const char *pre[1] = {""}, *keys[1] = {"learn_options"}, *vals[1] = {r->opts};
    lirf_net *nets[1] = {r->net};
    return lirf_checkpoint_save(path, nets, pre, 1, &r->meta, keys, vals, 1);
}

/* 1 when path holds a task net made with these options */
static int task_fits(const il_run *r, const char *path, FILE *log) {
    if (access(path, R_OK) != 0) return 0;
    lirf_safetensors st = {0};
    lirf_model_meta mm;
    if (lirf_checkpoint_open(path, &st, &mm) != LIRF_OK) return 0;
    const char *o = lirf_st_meta(&st, "learn_options");
    int same = o && !strcmp(o, r->opts);
    lirf_st_free(&st);
    lirf_model_meta_free(&mm);
    if (log) fprintf(log, "lirf: %s: %s\n", path, same ? "finished before; kept" :
                                                        "made with other options; training again");
    return same;
}

static lirf_status load_into(lirf_ctx *ctx, lirf_net *net, const char *path) {
    lirf_net *n = NULL;
    lirf_model_meta mm;
    LIRF_TRY(lirf_checkpoint_load(ctx, path, &mm, &n));
    lirf_status st = lirf_net_copy(net, n, NULL);
    lirf_net_destroy(n);
    lirf_model_meta_free(&mm);
    return st;
}

static void task_path(const lirf_il_job *j, int t, char *path, size_t cap) {
    snprintf(path, cap, "%s/task%d.safetensors", j->work_dir ? j->work_dir : ".", t + 1);
}

static lirf_status eval_step(lirf_ctx *ctx, const il_run *r, int t, lirf_il_report *rep) {
    lirf_il_acc acc;
    LIRF_TRY(lirf_error_context(lirf_il_eval(ctx, r->net, &rep->tk, &r->te, &r->meta, &acc),
                                "evaluating step %d", t + 1));
    lirf_il_report_step(rep, t, &acc);
    return LIRF_OK;
}

/* tasks 2..T: each reused from work_dir, or learnt and kept there */
static lirf_status later_tasks(lirf_ctx *ctx, const lirf_il_job *j, il_run *r,
                               lirf_il_report *rep) {
    for (int t = 1; t < j->T; t++) {
        char path[1200];
        task_path(j, t, path, sizeof path);
        if (task_fits(r, path, j->log)) { /* close step t - 1 with its net, then take t's */
            LIRF_TRY(lirf_il_close(r->il, t - 1));
            LIRF_TRY(load_into(ctx, r->net, path));
            continue;
        }
        double images = 0;
        if (j->log) fprintf(j->log, "lirf: %s, task %d of %d\n", j->method, t + 1, j->T);
        LIRF_TRY(lirf_error_context(lirf_il_learn(r->il, t, &images), "task %d", t + 1));
        rep->images += images;
        LIRF_TRY(save_net(r, path));
    }
    return LIRF_OK;
}

static lirf_status run(lirf_ctx *ctx, const lirf_il_job *j, il_run *r, lirf_il_report *rep) {
    const lirf_il_method *m = lirf_il_method_find(j->first ? j->method : "baseline");
    if (!m) return LIRF_FAIL(LIRF_E_INVALID, "unknown incremental method \"%s\"", j->method);
    LIRF_TRY(make_net(ctx, j, r));
    lirf_il_tasks tk = {r->tr.num_classes, j->T, j->ndel};
    LIRF_TRY(lirf_il_tasks_check(&tk));
    lirf_il_report_init(rep, &tk);
    json_t *oj = lirf_il_job_options(j);
    char hex[65];
    if (oj && j->first) { /* task nets of another step-0 net are not this sequence's */
        lirf_status st = lirf_file_sha256(j->first, hex);
        if (st != LIRF_OK) return json_decref(oj), st;
        json_object_set_new(oj, "first_sha256", json_string(hex));
    }
    r->opts = oj ? json_dumps(oj, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(oj);
    if (!r->opts) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    lirf_il_opts o = j->o;
    if (j->first && j->later_lr > 0) o.train.lr = j->later_lr;
    LIRF_TRY(lirf_il_create(ctx, m, &tk, &o, r->net, &r->tr, &r->meta, &r->il));
    if (!j->first) {
        double images = 0;
        LIRF_TRY(lirf_error_context(lirf_il_learn(r->il, 0, &images), "task 1"));
        rep->images = images;
        LIRF_TRY(save_net(r, j->out));
        return eval_step(ctx, r, 0, rep);
    }
    LIRF_TRY(eval_step(ctx, r, 0, rep));
    /* the step nets are evaluated as they come: keep them all, then evaluate */
    LIRF_TRY(later_tasks(ctx, j, r, rep));
    for (int t = 1; t < j->T; t++) {
        char path[1200];
        task_path(j, t, path, sizeof path);
        LIRF_TRY(load_into(ctx, r->net, path));
        LIRF_TRY(eval_step(ctx, r, t, rep));
    }
    return save_net(r, j->out);
}

lirf_status lirf_il_job_run(lirf_ctx *ctx, const lirf_il_job *j, lirf_il_report *r) {
    if (!ctx || !j || !r || !j->out) return LIRF_FAIL(LIRF_E_NULL, "lirf_il_job_run: NULL argument");
    il_run R;
    memset(&R, 0, sizeof R);
    double t0 = lirf_now();
    lirf_status st = run(ctx, j, &R, r);
    r->seconds = lirf_now() - t0;
    il_run_free(&R);
    return st;
}
