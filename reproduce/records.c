/* Where a reproduction keeps what, and the records of finished steps: the
 * settings a record must match to be reused, and the hashes that tie it to
 * the nets it read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fileutil.h"
#include "repro_priv.h"

void rp_step_dir(const rp_t *R, const lirf_step_def *d, int seed, char *out) {
    snprintf(out, RP_PATH, "%s/%s/seed%d/%s", R->j->out_dir, R->key, seed, d->id);
}

void rp_net_path(const rp_t *R, const lirf_step_def *d, int seed, char *out) {
    if (d->kind == LIRF_STEP_DEPOSIT)
        snprintf(out, RP_PATH, "%s/%s/seed%d/%s/target.safetensors", R->j->out_dir, R->key, seed,
                 d->id);
    else if (d->kind == LIRF_STEP_STUDENTS) out[0] = 0;
    else if (d->kind == LIRF_STEP_T4_METHOD || d->kind == LIRF_STEP_T4_LIRF)
        snprintf(out, RP_PATH, "%s/%s/seed%d/%s/final.safetensors", R->j->out_dir, R->key, seed,
                 d->id);
    else if (d->kind == LIRF_STEP_IL)
        snprintf(out, RP_PATH, "%s/%s/seed%d/il-train.safetensors", R->j->out_dir, R->key, seed);
    else snprintf(out, RP_PATH, "%s/%s/seed%d/%s.safetensors", R->j->out_dir, R->key, seed, d->id);
}

void rp_record_path(const rp_t *R, const char *id, int seed, char *out) {
    snprintf(out, RP_PATH, "%s/%s/seed%d/%s.json", R->records, R->key, seed, id);
}

lirf_status rp_mkdirs(const char *path) {
    char b[RP_PATH];
    snprintf(b, sizeof b, "%s", path);
    for (char *p = b + 1;; p++) {
        char c = *p;
        if (c != '/' && c) continue;
        *p = 0;
        if (mkdir(b, 0755) != 0 && errno != EEXIST)
            return LIRF_FAIL(LIRF_E_IO, "cannot create %s: %s", b, strerror(errno));
        if (!c) return LIRF_OK;
        *p = c;
    }
}

/* lirf's deposit defaults, so that a record made before they change is not
 * taken for one of today's */
static json_t *deposit_defaults(void) {
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    /* lirf_tidy: the float's shortest decimal, so that the value read back
     * from the record is the one made here */
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f}", "lambda_at", lirf_tidy(o.lambda_at),
                     "lambda_kp", lirf_tidy(o.lambda_kp), "lambda_pt", lirf_tidy(o.lambda_pt),
                     "lambda_re", lirf_tidy(o.lambda_re), "T", lirf_tidy(o.T), "eps",
                     lirf_tidy(o.eps), "lr", lirf_tidy(o.lr), "momentum", lirf_tidy(o.momentum),
                     "wd", lirf_tidy(o.wd));
}

/* lirf train's defaults (T0 and the Independent nets are trained with them) */
static json_t *train_defaults(void) {
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    return json_pack("{s:f,s:f,s:f,s:i,s:f,s:s}", "lr", lirf_tidy(o.lr), "momentum",
                     lirf_tidy(o.momentum), "wd", lirf_tidy(o.wd), "schedule", (int)o.sched,
                     "warmup", lirf_tidy(o.warmup), "augmentation",
                     "crop padding 2 below 32 px, else 4; flips");
}

/* Table 4's steps: the tasks, and the training (a method's options) or the
 * deposits (LIRF) */
static void t4_settings(const rp_t *R, const lirf_step_def *d, json_t *s) {
    const lirf_repro_profile *p = &R->j->prof;
    json_object_set_new(s, "tasks", json_integer(d->tasks));
    json_object_set_new(s, "deletion_per_task", json_integer(rp_t4_ndel(R, d->tasks)));
    if (d->kind == LIRF_STEP_T4_LIRF) {
        json_object_set_new(s, "deposit_epochs", json_integer(p->dep_epochs));
        json_object_set_new(s, "deposit_limit", json_integer(p->dep_limit));
        json_object_set_new(s, "protocol", json_string("T0's deposits of each task's deletion "
                                                       "classes in turn, stacked; paper mode; 5% "
                                                       "held out, 8 checks an epoch, keep best"));
        json_object_set_new(s, "defaults", deposit_defaults());
        return;
    }
    lirf_il_job j;
    char first[RP_PATH];
    rp_t4_job(R, d, 1, &j, first);
    json_t *o = lirf_il_job_options(&j);
    json_object_del(o, "seed");
    json_object_set_new(s, "protocol", json_string("task-incremental, one head per task "
                                                   "(task-aware); first task shared"));
    json_object_set_new(s, "options", o);
}

json_t *rp_settings(const rp_t *R, const lirf_step_def *d) {
    const lirf_repro_profile *p = &R->j->prof;
    json_t *dep = json_array();
    for (int k = 0; k < R->ndep; k++) json_array_append_new(dep, json_integer(R->dep[k]));
    json_t *s = json_pack("{s:s,s:o,s:i,s:i}", "dataset", R->key, "deposit_classes", dep,
                          "width", p->width, "batch", p->batch);
    if (!s) return NULL;
    if (R->j->image_size > 0) /* image folders read at another size than 32 */
        json_object_set_new(s, "image_size", json_integer(R->j->image_size));
    switch (d->kind) {
    case LIRF_STEP_T0: case LIRF_STEP_INDEP_PRE: case LIRF_STEP_INDEP_DEP:
        json_object_set_new(s, "epochs", json_integer(p->epochs));
        json_object_set_new(s, "limit", json_integer(p->limit));
        json_object_set_new(s, "defaults", train_defaults());
        break;
    case LIRF_STEP_KINDS: break;
    case LIRF_STEP_DEPOSIT:
        json_object_set_new(s, "deposit_epochs", json_integer(p->dep_epochs));
        json_object_set_new(s, "deposit_limit", json_integer(p->dep_limit));
        json_object_set_new(s, "protocol", json_string("paper mode; 5% held out, 8 checks an "
                                                       "epoch, keep best; one try"));
        json_object_set_new(s, "split", json_integer(d->split));
        json_object_set_new(s, "prune_rate", json_real(lirf_tidy(d->prune_rate)));
        json_object_set_new(s, "losses", json_pack("{s:b,s:b,s:b}", "L_at", d->at, "L_pt", d->pt,
                                                    "L_re", d->re));
        json_object_set_new(s, "defaults", deposit_defaults());
        break;
    case LIRF_STEP_IL:
        json_object_set_new(s, "epochs", json_integer(p->dep_epochs));
        json_object_set_new(s, "limit", json_integer(p->limit));
        json_object_set_new(s, "method", json_string("lwf: CE + 1 x KD (T 2) on the preservation "
                                                     "columns; SGD lr 0.01, momentum 0.9, wd 5e-4"));
        break;
    case LIRF_STEP_T4_FIRST: case LIRF_STEP_T4_METHOD: case LIRF_STEP_T4_LIRF:
        t4_settings(R, d, s);
        break;
    case LIRF_STEP_STUDENTS:
        json_object_set_new(s, "student_epochs", json_integer(p->student_epochs));
        json_object_set_new(s, "student_subset", json_integer(p->student_subset));
        json_object_set_new(s, "student_width", json_integer(p->student_width));
        json_object_set_new(s, "protocol", json_string("lirf verify --preset paper: CNN and "
                                                       "ResNet-18 students, logit and AT, true labels"));
        break;
    }
    return s;
}

lirf_status rp_record_load(const rp_t *R, const lirf_step_def *d, int seed, json_t **out) {
    char path[RP_PATH];
    rp_record_path(R, d->id, seed, path);
    *out = NULL;
    if (access(path, F_OK) != 0) return LIRF_OK;
    json_error_t e;
    json_t *r = json_load_file(path, JSON_REJECT_DUPLICATES, &e);
    if (!r) return LIRF_FAIL(LIRF_E_FORMAT, "%s: not a record (%s, line %d)", path, e.text, e.line);
    const char *fmt = json_string_value(json_object_get(r, "format"));
    const char *step = json_string_value(json_object_get(r, "step"));
    json_int_t sd = json_integer_value(json_object_get(r, "seed"));
    if (!json_is_object(r) || !fmt || strcmp(fmt, RP_RECORD_FORMAT) || !step ||
        strcmp(step, d->id) || sd != seed || !json_is_object(json_object_get(r, "metrics"))) {
        json_decref(r);
        return LIRF_FAIL(LIRF_E_FORMAT, "%s is not the record of step %s, seed %d", path, d->id,
                         seed);
    }
    json_t *want = rp_settings(R, d);
    int same = want && json_equal(want, json_object_get(r, "settings"));
    json_decref(want);
    if (!same) {
        json_decref(r);
        return LIRF_FAIL(LIRF_E_INVALID, "%s was made with other settings than this "
                         "reproduction's; keep it apart (--records DIR) or remove it", path);
    }
    *out = r;
    return LIRF_OK;
}

lirf_status rp_write_json_atomic(const json_t *j, const char *path) {
    char tmp[RP_PATH + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return LIRF_FAIL(LIRF_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    int bad = json_dumpf(j, f, JSON_INDENT(1) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    bad |= fputc('\n', f) == EOF;
    bad |= fflush(f) != 0 || fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        unlink(tmp);
        return LIRF_FAIL(LIRF_E_IO, "cannot write %s", path);
    }
    return lirf_fsync_parent(path);
}

lirf_status rp_record_save(const rp_t *R, const lirf_step_def *d, int seed, json_t *rec) {
    char path[RP_PATH];
    rp_record_path(R, d->id, seed, path);
    char dir[RP_PATH];
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    LIRF_TRY(rp_mkdirs(dir));
    return rp_write_json_atomic(rec, path);
}

const char *rp_record_net(const json_t *rec) {
    const char *s = json_string_value(json_object_get(rec, "net_sha256"));
    return s ? s : "";
}

int rp_inputs_fit(const rp_t *R, const lirf_step_def *d, int seed, const json_t *rec) {
    const lirf_step_def *in[4];
    rp_step_inputs(d, in);
    json_t *have = json_object_get(rec, "inputs");
    for (int k = 0; in[k]; k++) {
        json_t *r = NULL;
        if (rp_record_load(R, in[k], seed, &r) != LIRF_OK || !r) return json_decref(r), 0;
        const char *h = json_string_value(json_object_get(have, in[k]->id));
        int ok = h && !strcmp(h, rp_record_net(r));
        json_decref(r);
        if (!ok) return 0;
    }
    return 1;
}
