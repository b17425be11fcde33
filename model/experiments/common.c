/* What every experiment needs: a data split read for a model, and a check
 * that the output folders exist before any training. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "experiments.h"

lirf_status lirf_load_split(const char *path, lirf_data_kind kind, int train, int image_size,
                            const int32_t *classes, int nclasses, size_t limit, lirf_dataset *ds) {
    lirf_data_opts o = {.path = path, .kind = kind, .train = train, .image_size = image_size,
                        .classes = classes, .nclasses = nclasses, .limit = limit};
    return lirf_error_context(lirf_dataset_load(&o, ds), "%s",
                              train ? "loading the training data" : "loading the test data");
}

lirf_status lirf_data_fits(const lirf_dataset *ds, const lirf_model_meta *m, const char *what) {
    const lirf_net_config *cfg = &m->cfg;
    if (ds->c == cfg->in_c && ds->h == cfg->in_h && ds->w == cfg->in_w &&
        ds->num_classes == cfg->classes)
        return lirf_data_names_fit(ds, m->class_names, cfg->classes, what);
    return LIRF_FAIL(LIRF_E_SHAPE,
                     "the data (%dx%dx%d, %d classes) does not fit %s (%dx%dx%d, %d classes)",
                     ds->c, ds->h, ds->w, ds->num_classes, what, cfg->in_c, cfg->in_h, cfg->in_w,
                     cfg->classes);
}

lirf_status lirf_load_t0(lirf_ctx *ctx, const char *path, const char *allow_kind, FILE *log,
                         lirf_model_meta *meta, lirf_net **t0) {
    lirf_safetensors st = {0};
    LIRF_TRY(lirf_checkpoint_open(path, &st, meta));
    const char *kind = lirf_st_meta(&st, "lirf_kind");
    lirf_status s = lirf_check_t0_kind(path, kind, allow_kind);
    if (s == LIRF_OK && kind && log && strcmp(kind, "model"))
        fprintf(log, "lirf: note: T0 %s has lirf_kind \"%s\", accepted by --allow-kind\n", path,
                kind);
    if (s == LIRF_OK)
        s = lirf_checkpoint_make_net(ctx, &st, path, meta, "", 0,
                                     lirf_arch_stages(meta->cfg.arch) - 1, t0);
    lirf_st_free(&st);
    return s;
}

lirf_status lirf_out_dir_ok(const char *path, const char *what) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK) == 0) return LIRF_OK;
    return LIRF_FAIL(LIRF_E_IO, "cannot write %s %s: folder %s: %s", what, path, dir,
                     strerror(errno));
}
