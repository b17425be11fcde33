/* lirf deposit, lirf withdraw: the LIRF method on checkpoints and archives. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "lirf.h"
#include "lirf_archive.h"

static void deposit_usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] deposit --model T0 --deposit-classes LIST [options]\n"
        "\n"
        "Removes the deposit classes' knowledge from T0: trains, on those classes' training\n"
        "samples only, a target net that no longer recognises them and a pruned deposit\n"
        "module that keeps it (docs/method.md). Writes the target net (a checkpoint) and the\n"
        "deposit archive (a tar holding manifest.json and deposit.safetensors).\n"
        "\n"
        "  --model PATH          the original network T0 (a lirf checkpoint, ResNet-18)\n"
        "  --deposit-classes L   classes to deposit, e.g. 0,1,2\n"
        "  --data PATH, --format F, --image-size N   as for lirf train (default Fashion-MNIST);\n"
        "                        only the deposit classes' training samples are read\n"
        "  --limit N             use at most N of them\n"
        "  --target PATH         output target net (default target.safetensors)\n"
        "  --archive PATH        output deposit archive (default deposit.lirf)\n"
        "  --compress C          none | gzip | zstd (default none)\n"
        "  --sign KEY            sign the archive with secret key KEY (NAME.key from lirf\n"
        "                        keygen): Ed25519 over manifest.json, which holds the\n"
        "                        deposit's size and SHA-256; lirf withdraw --verify-key\n"
        "                        checks it\n"
        "  --encrypt-to PUB      encrypt the deposit to public key PUB (NAME.pub):\n"
        "                        XChaCha20-Poly1305 with a fresh key sealed to PUB;\n"
        "                        only PUB's secret key (withdraw --decrypt-key) opens it.\n"
        "                        The manifest stays readable; the target net is neither\n"
        "                        signed nor encrypted (docs/archive.md)\n"
        "  --resume              continue from TARGET.state.safetensors (written at every\n"
        "                        epoch end; same options and T0 required)\n"
        "  --save-every N        also write that state every N steps (default 0: epoch ends)\n"
        "  --mode M              paper: the archive holds the pruned deposit module (default);\n"
        "                        exact: it holds T0's lower part, so withdraw restores T0\n"
        "method (paper defaults):\n"
        "  --split S             layer1..layer4 (default layer2)\n"
        "  --prune-rate R        share of inner filters pruned (default 0.5)\n"
        "  --lambda-at X (100)   --lambda-kp X (10)   --lambda-pt X (10)   --lambda-re X (10)\n"
        "  --T X                 distillation temperature (default 10)\n"
        "  --eps X               attention filter (default 0.005)\n"
        "  --no-at --no-kp --no-pt --no-re --no-prune   ablations (the paper's Table 2)\n"
        "  --pt-all              L_pt over all classes (docs/method.md's measured variant)\n"
        "  --re-deposit-only     L_re trains the deposit module only, not the target's lower\n"
        "                        part (a variant; docs/method.md trains both)\n"
        "  --bn batch|fixed      BN of the trained lower parts: batch statistics (default) or\n"
        "                        T0's running statistics kept\n"
        "optimisation:\n"
        "  --epochs N (20)  --batch N (128)  --lr X (0.01)  --momentum X (0.9)  --wd X (5e-4)\n"
        "  --lr-schedule const|cosine   constant lr (default, the paper's) or a half-cosine\n"
        "                        decay to 0 over the whole deposit\n"
        "  --holdout F           keep this share of the deposit-class training samples out\n"
        "                        of training and report the target's Dep Acc on them at\n"
        "                        the start and after every epoch (default 0: none)\n"
        "  --holdout-seed N      which samples are held out (default: --seed), so that\n"
        "                        runs with other seeds can share one held-out set\n"
        "  --holdout-every N     also measure it every N steps within an epoch (default 0:\n"
        "                        epoch ends only)\n"
        "  --keep last|best      the nets of the last step (default) or of the check with the\n"
        "                        lowest held-out Dep Acc (needs --holdout; after --resume,\n"
        "                        only checks made since resuming count)\n"
        "  --seed N (1)  --crop-pad N (4)  --no-flip  --rotate DEG (0)\n"
        "  --json    --quiet\n");
}

int parse_deposit_opts(int argc, char **argv, int *i, lirf_deposit_opts *o, int *bad) {
    const char *v;
    if (arg_value(argc, argv, i, "--split", &v, bad)) {
        int s = *bad ? -1 : lirf_stage_parse(LIRF_ARCH_RESNET18, v);
        if (!*bad && (s < 1 || s > 4)) {
            fprintf(stderr, "lirf: --split is layer1, layer2, layer3 or layer4\n");
            *bad = 1;
        }
        o->split = s;
    }
    else if (arg_value(argc, argv, i, "--prune-rate", &v, bad)) *bad = *bad || !parse_float(v, 0, 0.99, "--prune-rate", &o->prune_rate);
    else if (arg_value(argc, argv, i, "--lambda-at", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--lambda-at", &o->lambda_at);
    else if (arg_value(argc, argv, i, "--lambda-kp", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--lambda-kp", &o->lambda_kp);
    else if (arg_value(argc, argv, i, "--lambda-pt", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--lambda-pt", &o->lambda_pt);
    else if (arg_value(argc, argv, i, "--lambda-re", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--lambda-re", &o->lambda_re);
    else if (arg_value(argc, argv, i, "--T", &v, bad)) *bad = *bad || !parse_float(v, 0.01, 1000, "--T", &o->T);
    else if (arg_value(argc, argv, i, "--eps", &v, bad)) *bad = *bad || !parse_float(v, 0, 1, "--eps", &o->eps);
    else if (arg_flag(argv, *i, "--no-at")) o->lambda_at = 0;
    else if (arg_flag(argv, *i, "--no-kp")) o->lambda_kp = 0;
    else if (arg_flag(argv, *i, "--no-pt")) o->lambda_pt = 0;
    else if (arg_flag(argv, *i, "--no-re")) o->lambda_re = 0;
    else if (arg_flag(argv, *i, "--no-prune")) o->prune_rate = 0;
    else if (arg_flag(argv, *i, "--pt-all")) o->pt_all = 1;
    else if (arg_flag(argv, *i, "--re-deposit-only")) o->re_deposit_only = 1;
    else if (arg_value(argc, argv, i, "--bn", &v, bad)) {
        if (!*bad && strcmp(v, "batch") && strcmp(v, "fixed")) {
            fprintf(stderr, "lirf: --bn is batch or fixed\n");
            *bad = 1;
        }
        o->bn_batch_stats = !*bad && !strcmp(v, "batch");
    }
    else if (arg_value(argc, argv, i, "--mode", &v, bad)) {
        if (!*bad && strcmp(v, "paper") && strcmp(v, "exact")) {
            fprintf(stderr, "lirf: --mode is paper or exact\n");
            *bad = 1;
        }
        o->mode = !*bad && !strcmp(v, "exact") ? LIRF_DEPOSIT_EXACT : LIRF_DEPOSIT_PAPER;
    }
    else if (arg_value(argc, argv, i, "--epochs", &v, bad)) *bad = *bad || !parse_int(v, 1, 100000, "--epochs", &o->epochs);
    else if (arg_value(argc, argv, i, "--batch", &v, bad)) *bad = *bad || !parse_int(v, 2, 65536, "--batch", &o->batch);
    else if (arg_value(argc, argv, i, "--lr", &v, bad)) *bad = *bad || !parse_float(v, 0, 100, "--lr", &o->lr);
    else if (arg_value(argc, argv, i, "--lr-schedule", &v, bad)) {
        if (!*bad && strcmp(v, "const") && strcmp(v, "cosine")) {
            fprintf(stderr, "lirf: --lr-schedule is const or cosine\n");
            *bad = 1;
        }
        o->lr_cosine = !*bad && !strcmp(v, "cosine");
    }
    else if (arg_value(argc, argv, i, "--holdout", &v, bad)) *bad = *bad || !parse_float(v, 0, 0.5, "--holdout", &o->holdout);
    else if (arg_value(argc, argv, i, "--holdout-seed", &v, bad)) {
        int s = 0;
        *bad = *bad || !parse_int(v, 0, 2147483647, "--holdout-seed", &s);
        o->holdout_seed = s;
    }
    else if (arg_value(argc, argv, i, "--holdout-every", &v, bad)) *bad = *bad || !parse_int(v, 0, 1 << 30, "--holdout-every", &o->holdout_every);
    else if (arg_value(argc, argv, i, "--keep", &v, bad)) {
        if (!*bad && strcmp(v, "last") && strcmp(v, "best")) {
            fprintf(stderr, "lirf: --keep is last or best\n");
            *bad = 1;
        }
        o->keep_best = !*bad && !strcmp(v, "best");
    }
    else if (arg_value(argc, argv, i, "--momentum", &v, bad)) *bad = *bad || !parse_float(v, 0, 0.999, "--momentum", &o->momentum);
    else if (arg_value(argc, argv, i, "--wd", &v, bad)) *bad = *bad || !parse_float(v, 0, 1, "--wd", &o->wd);
    else if (arg_value(argc, argv, i, "--seed", &v, bad)) {
        int s = 0;
        *bad = *bad || !parse_int(v, 0, 2147483647, "--seed", &s);
        o->seed = (uint32_t)s;
    }
    else if (arg_value(argc, argv, i, "--crop-pad", &v, bad)) *bad = *bad || !parse_int(v, 0, 64, "--crop-pad", &o->aug.pad);
    else if (arg_flag(argv, *i, "--no-flip")) o->aug.flip = 0;
    else if (arg_value(argc, argv, i, "--rotate", &v, bad)) *bad = *bad || !parse_float(v, 0, 180, "--rotate", &o->aug.max_rot_deg);
    else return 0;
    return 1;
}

/* 1 if the folder that would hold `path` exists and is writable; else a message. */
static int out_dir_ok(const char *path, const char *what) {
    char dir[1100];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = 0;
    else *slash = 0;
    if (access(dir, W_OK) == 0) return 1;
    fprintf(stderr, "lirf: cannot write the %s %s: folder %s: %s\n", what, path, dir,
            strerror(errno));
    return 0;
}

/* The "run" record of a deposit (the archive's manifest keeps it). */
static json_t *run_record(const char *model, const lirf_deposit_result *res, size_t ntrain,
                          size_t nhold, size_t steps_per_epoch) {
    json_t *run = json_pack("{s:s,s:f,s:f,s:I}", "t0", model, "seconds", res->seconds,
                            "images_per_s", res->images_per_s, "deposit_images", (json_int_t)ntrain);
    if (nhold) {
        json_t *h = json_array();
        for (int i = 0; i < res->nlogged; i++)
            json_array_append_new(h, json_pack("{s:I,s:f}", "step", (json_int_t)res->holdout_step[i],
                                               "dep_acc", res->holdout_dep[i]));
        json_object_set_new(run, "holdout_images", json_integer((json_int_t)nhold));
        json_object_set_new(run, "steps_per_epoch", json_integer((json_int_t)steps_per_epoch));
        json_object_set_new(run, "holdout_dep_acc", h);
        json_object_set_new(run, "kept_step",
                            res->kept_step >= 0 ? json_integer(res->kept_step) : json_null());
    }
    return run;
}

/* lirf deposit --json's report. */
static json_t *deposit_summary(const char *target_out, const char *archive_out, json_t *run,
                               const lirf_deposit_result *res, size_t p_dep, size_t p_whole,
                               const lirf_deposit_opts *o) {
    json_t *s = json_pack("{s:s,s:s,s:O,s:f,s:f,s:I,s:I,s:I,s:{s:f,s:f,s:f,s:f,s:f,s:f}}",
                          "target", target_out, "archive", archive_out, "run", run, "seconds",
                          res->seconds, "images_per_s", res->images_per_s, "deposit_parameters",
                          (json_int_t)p_dep, "deposit_bytes", (json_int_t)(p_dep * 4),
                          "whole_parameters", (json_int_t)p_whole, "last_losses", "L_all",
                          res->last[0], "CE_random", res->last[1], "L_at", res->last[2], "L_kp",
                          res->last[3], "L_pt", res->last[4], "L_re", res->last[5]);
    json_object_set_new(s, "options", lirf_deposit_opts_json(o));
    return s;
}

/* The training batches (perm[nhold..n) when there is a hold-out, else all
 * samples) and the held-out ones (perm[0..nhold), in order; NULL without). */
static int deposit_loaders(lirf_ctx *ctx, const lirf_dataset *ds, const lirf_model_meta *meta,
                           const lirf_deposit_opts *o, const int32_t *perm, size_t nhold,
                           lirf_loader **ld, lirf_loader **hold) {
    lirf_loader_opts lo = {.data = ds, .batch = o->batch, .shuffle = 1, .drop_last = 0,
                           .seed = o->seed};
    if (nhold) lo.index = perm + nhold, lo.count = (size_t)ds->n - nhold;
    memcpy(lo.mean, meta->mean, sizeof lo.mean);
    memcpy(lo.std, meta->std, sizeof lo.std);
    lirf_status st;
    if ((st = lirf_loader_create(ctx, &lo, ld))) return cli_error(st, "preparing batches"), 0;
    if (!nhold) return 1;
    lirf_loader_opts ho = lo;
    ho.index = perm, ho.count = nhold, ho.shuffle = 0;
    if ((st = lirf_loader_create(ctx, &ho, hold)))
        return cli_error(st, "preparing the held-out batches"), 0;
    return 1;
}

/* The deposit archive, and the exact-mode one beside it when asked. */
static int save_archives(lirf_lirf *l, const char *archive_out, const char *exact_archive_out,
                         const lirf_deposit_opts *o, int compression, json_t *run,
                         const lirf_archive_seal *seal) {
    lirf_status st;
    if ((st = lirf_save_deposit_sealed(l, archive_out, o, compression, run, seal)))
        return cli_error(st, "writing the deposit archive"), 0;
    if (!exact_archive_out) return 1;
    lirf_deposit_opts eo = *o;
    eo.mode = LIRF_DEPOSIT_EXACT;
    if ((st = lirf_save_deposit_sealed(l, exact_archive_out, &eo, compression, run, seal)))
        return cli_error(st, "writing the exact deposit archive"), 0;
    return 1;
}

int run_deposit(lirf_ctx *ctx, const char *model, const char *data, lirf_data_kind kind,
                int image_size, size_t limit, const int32_t *dep, int ndep,
                const lirf_deposit_opts *o,
                const char *target_out, const char *archive_out, const char *exact_archive_out,
                int compression, const lirf_archive_seal *seal, const lirf_deposit_io *io,
                int quiet, json_t **summary) {
    int rc = 2;
    lirf_net *t0 = NULL;
    lirf_model_meta meta = {0};
    lirf_dataset ds = {0};
    lirf_loader *ld = NULL, *hold = NULL;
    int32_t *perm = NULL;
    lirf_deposit_opts ocopy = *o; /* what is recorded, with holdout_every resolved */
    o = &ocopy;
    lirf_lirf *l = NULL;
    lirf_status st;
    if (o->keep_best && o->holdout <= 0) {
        fprintf(stderr, "lirf: --keep best needs held-out samples (--holdout F)\n");
        return 2;
    }
    /* before any training: where the results go */
    if (!out_dir_ok(target_out, "target net") || !out_dir_ok(archive_out, "deposit archive") ||
        (exact_archive_out && !out_dir_ok(exact_archive_out, "exact deposit archive")))
        return 2;
    if ((st = lirf_checkpoint_load(ctx, model, &meta, &t0))) {
        cli_error(st, "loading T0");
        goto done;
    }
    /* only the deposit classes' training samples are read */
    if (!load_dataset_cli(data, kind, 1, image_size ? image_size : meta.cfg.in_h, dep, ndep, limit, &ds))
        goto done;
    if (ds.c != meta.cfg.in_c || ds.h != meta.cfg.in_h || ds.w != meta.cfg.in_w ||
        ds.num_classes != meta.cfg.classes) {
        fprintf(stderr, "lirf: the data (%dx%dx%d, %d classes) does not fit T0 (%dx%dx%d, %d "
                        "classes)\n", ds.c, ds.h, ds.w, ds.num_classes, meta.cfg.in_c,
                meta.cfg.in_h, meta.cfg.in_w, meta.cfg.classes);
        goto done;
    }
    if ((st = lirf_lirf_create(ctx, t0, &meta, o->split, dep, ndep, o->prune_rate, &l))) {
        cli_error(st, "preparing the deposit");
        goto done;
    }
    /* --holdout: a seeded share of the samples, never trained on */
    size_t nhold = 0;
    if ((st = lirf_holdout_split(ds.n, o, &perm, &nhold))) {
        cli_error(st, "--holdout");
        goto done;
    }
    if (!deposit_loaders(ctx, &ds, &meta, o, perm, nhold, &ld, &hold)) goto done;
    /* -k from the demo: k checks an epoch */
    ocopy.holdout_every = lirf_holdout_every_steps(o->holdout_every, lirf_loader_batches(ld));
    lirf_deposit_io dio = {0};
    if (io) dio = *io;
    dio.holdout = hold;
    size_t p_whole = lirf_net_nparams(l->t0_lower) + lirf_net_nparams(l->upper);
    size_t p_dep = lirf_net_nparams(o->mode == LIRF_DEPOSIT_EXACT ? l->t0_lower : l->deposit);
    if (!quiet)
        fprintf(stderr, "lirf: deposit of classes %d%s from %s: %d training images, %d epochs; "
                        "deposit module %zu parameters (%.1f KiB) beside %zu in the whole network\n",
                dep[0], ndep > 1 ? ",..." : "", model, ds.n - (int)nhold, o->epochs, p_dep,
                (double)p_dep * 4 / 1024, p_whole);
    lirf_deposit_result res;
    if ((st = lirf_deposit_train_io(l, ld, o, &dio, quiet, &res))) {
        cli_error(st, "deposit training");
        goto done;
    }
    if ((st = lirf_save_target(l, target_out, o))) {
        cli_error(st, "saving the target net");
        goto done;
    }
    json_t *run = run_record(model, &res, (size_t)ds.n - nhold, nhold, lirf_loader_batches(ld));
    if (!save_archives(l, archive_out, exact_archive_out, o, compression, run, seal)) {
        json_decref(run);
        goto done;
    }
    if (summary) *summary = deposit_summary(target_out, archive_out, run, &res, p_dep, p_whole, o);
    json_decref(run);
    if (!quiet)
        fprintf(stderr, "lirf: deposit done in %.1f s; target %s, archive %s\n", res.seconds,
                target_out, archive_out);
    rc = 0;
done:
    lirf_lirf_destroy(l);
    lirf_loader_destroy(ld);
    lirf_loader_destroy(hold);
    free(perm);
    lirf_dataset_free(&ds);
    lirf_net_destroy(t0);
    lirf_model_meta_free(&meta);
    return rc;
}

int cmd_deposit(const char *device, int argc, char **argv) {
    const char *model = NULL, *dep_arg = NULL, *data = NULL, *target = "target.safetensors";
    const char *archive = "deposit.lirf", *v, *sign = NULL, *encrypt_to = NULL;
    lirf_data_kind kind = LIRF_DATA_AUTO;
    int image_size = 0, json = 0, quiet = 0, bad = 0, comp = LIRF_ARCHIVE_PLAIN, limit = 0;
    int resume = 0, save_every = 0;
    lirf_deposit_opts o;
    lirf_deposit_opts_default(&o);
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return deposit_usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--model", &model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &image_size);
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--limit", &limit);
        else if (arg_value(argc, argv, &i, "--target", &target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--archive", &archive, &bad)) {}
        else if (arg_value(argc, argv, &i, "--sign", &sign, &bad)) {}
        else if (arg_value(argc, argv, &i, "--encrypt-to", &encrypt_to, &bad)) {}
        else if (arg_value(argc, argv, &i, "--compress", &v, &bad)) {
            if (bad) break;
            if (!strcmp(v, "none")) comp = LIRF_ARCHIVE_PLAIN;
            else if (!strcmp(v, "gzip")) comp = LIRF_ARCHIVE_GZIP;
            else if (!strcmp(v, "zstd")) comp = LIRF_ARCHIVE_ZSTD;
            else {
                fprintf(stderr, "lirf: --compress is none, gzip or zstd\n");
                bad = 1;
            }
        }
        else if (arg_flag(argv, i, "--json")) json = 1;
        else if (arg_flag(argv, i, "--quiet")) quiet = 1;
        else if (arg_flag(argv, i, "--resume")) resume = 1;
        else if (arg_value(argc, argv, &i, "--save-every", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--save-every", &save_every);
        else if (parse_deposit_opts(argc, argv, &i, &o, &bad)) {}
        else {
            fprintf(stderr, "lirf deposit: unknown option %s (see lirf deposit --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (!model || !dep_arg) {
        fprintf(stderr, "lirf deposit: --model and --deposit-classes are required\n");
        return 2;
    }
    int32_t *dep = NULL;
    int ndep = 0;
    if (!parse_class_list(dep_arg, LIRF_MAX_CLASSES, &dep, &ndep)) return 2;
    /* the keys first: a wrong path fails now, not after the training */
    lirf_archive_seal seal = {NULL, NULL};
    lirf_key *sk = NULL, *pk = NULL;
    lirf_ctx *ctx = NULL;
    if (load_key_cli(sign, LIRF_KEY_SECRET, "--sign", &sk) ||
        load_key_cli(encrypt_to, LIRF_KEY_PUBLIC, "--encrypt-to", &pk) || cli_open(device, &ctx)) {
        lirf_key_free(sk);
        lirf_key_free(pk);
        free(dep);
        return 2;
    }
    seal.sign = sk;
    seal.encrypt_to = pk;
    json_t *summary = NULL;
    char state[1100];
    snprintf(state, sizeof state, "%s.state.safetensors", target);
    lirf_deposit_io io = {.state_path = state, .resume = resume, .save_every = save_every};
    int rc = run_deposit(ctx, model, data, kind, image_size, (size_t)limit, dep, ndep, &o, target, archive, NULL,
                         comp, &seal, &io, quiet, json ? &summary : NULL);
    if (rc == 0 && summary) {
        json_object_set_new(summary, "signed_by", sk ? json_string(lirf_key_id(sk)) : json_null());
        json_object_set_new(summary, "encrypted_to",
                            pk ? json_string(lirf_key_id(pk)) : json_null());
        char *s = json_dumps(summary, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    } else if (rc == 0) {
        printf("target net: %s\ndeposit archive: %s\n", target, archive);
        if (sk) printf("signed by key %s\n", lirf_key_id(sk));
        if (pk) printf("deposit encrypted to key %s\n", lirf_key_id(pk));
    }
    json_decref(summary);
    lirf_key_free(sk);
    lirf_key_free(pk);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}

static void withdraw_usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] withdraw --target PATH --archive PATH [--out PATH]\n"
        "                                     [--verify-key PUB] [--decrypt-key KEY]\n"
        "\n"
        "Puts the deposited knowledge back: target net + deposit archive -> recover net,\n"
        "with no data and no training. Refuses an archive whose manifest or checksums are\n"
        "wrong, or that was deposited from another network (upper-part fingerprint).\n"
        "\n"
        "  --target PATH      the target net written by lirf deposit\n"
        "  --archive PATH     the deposit archive\n"
        "  --out PATH         the recover net (default recover.safetensors); lirf eval reads it\n"
        "  --verify-key PUB   require a valid signature by public key PUB (NAME.pub from\n"
        "                     lirf keygen): an unsigned archive, one signed by another key,\n"
        "                     or one with any byte of its members changed or a member\n"
        "                     swapped is refused\n"
        "  --decrypt-key KEY  the secret key (NAME.key) an encrypted deposit was encrypted\n"
        "                     to; without it an encrypted archive is refused\n"
        "  --json             print a JSON report\n"
        "\n"
        "Without --verify-key a signed archive is still checked against the key it names,\n"
        "which shows it intact but not who made it; an encrypted archive that decrypts\n"
        "was made for your key, by anyone holding your public key. Only --verify-key\n"
        "proves the origin (docs/archive.md).\n");
}

int cmd_withdraw(const char *device, int argc, char **argv) {
    const char *target = NULL, *archive = NULL, *out = "recover.safetensors";
    const char *verify = NULL, *decrypt = NULL;
    int json = 0, bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return withdraw_usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--target", &target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--archive", &archive, &bad)) {}
        else if (arg_value(argc, argv, &i, "--out", &out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--verify-key", &verify, &bad)) {}
        else if (arg_value(argc, argv, &i, "--decrypt-key", &decrypt, &bad)) {}
        else if (arg_flag(argv, i, "--json")) json = 1;
        else {
            fprintf(stderr, "lirf withdraw: unknown option %s (see lirf withdraw --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (!target || !archive) {
        fprintf(stderr, "lirf withdraw: --target and --archive are required\n");
        return 2;
    }
    lirf_key *vk = NULL, *dk = NULL;
    lirf_ctx *ctx = NULL;
    if (load_key_cli(verify, LIRF_KEY_PUBLIC, "--verify-key", &vk) ||
        load_key_cli(decrypt, LIRF_KEY_SECRET, "--decrypt-key", &dk) || cli_open(device, &ctx)) {
        lirf_key_free(vk);
        lirf_key_free(dk);
        return 2;
    }
    lirf_archive_unseal keys = {vk, dk};
    json_t *rep = NULL;
    lirf_status st = lirf_withdraw_sealed(ctx, target, archive, out, &keys, &rep);
    int rc = 0;
    if (st != LIRF_OK) rc = cli_error(st, "withdraw");
    else if (json) {
        char *s = json_dumps(rep, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (s) puts(s);
        free(s);
    } else {
        printf("recover net: %s\n", out);
        const char *by = json_string_value(json_object_get(rep, "signed_by"));
        const char *to = json_string_value(json_object_get(rep, "encrypted_to"));
        if (by && vk) printf("signature: verified, by key %s\n", by);
        else if (by) printf("signature: intact, by key %s, but not verified (no --verify-key)\n", by);
        if (to) printf("deposit: decrypted (it was encrypted to key %s)\n", to);
    }
    if (st == LIRF_OK && dk && !json_is_string(json_object_get(rep, "encrypted_to")))
        fprintf(stderr, "lirf withdraw: note: the archive is not encrypted; --decrypt-key was "
                        "not needed\n");
    json_decref(rep);
    lirf_key_free(vk);
    lirf_key_free(dk);
    lirf_ctx_destroy(ctx);
    return rc;
}
