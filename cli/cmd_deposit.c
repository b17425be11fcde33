/* lirf deposit: the LIRF method on a checkpoint: the CLI of
 * lirf_deposit_job_run (model/experiments/). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void deposit_usage_method(FILE *f);

static void deposit_usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] deposit --model T0 --deposit-classes LIST [options]\n"
        "       lirf [--device SPEC] deposit --model T0 --deposit-samples FILE [options]\n"
        "\n"
        "Removes the deposit classes' knowledge from T0: trains, on those classes' training\n"
        "samples only, a target net that no longer recognises them (and the paper's pruned\n"
        "deposit module; docs/method.md). Writes the target net (a checkpoint) and the\n"
        "deposit archive (a tar holding manifest.json and deposit.safetensors) from which\n"
        "lirf withdraw puts the knowledge back: by default (--mode delta) what the target's\n"
        "lower part lost, so that withdraw gives back T0.\n"
        "\n"
        "  --model PATH          the original network T0 (a lirf checkpoint: ResNet-18 or\n"
        "                        ResNet-34, either stem). A target net, a recover net or\n"
        "                        any checkpoint whose lirf_kind is not an original net's\n"
        "                        is refused, naming its kind\n"
        "  --allow-kind KIND     accept a T0 of lirf_kind KIND all the same (target, recover):\n"
        "                        a deliberate second deposit from a target or recover net;\n"
        "                        from a target, the archive records it as its predecessor\n"
        "                        and a delta or exact withdrawal gives that target back\n"
        "  --deposit-classes L   classes to deposit, e.g. 0,1,2\n"
        "  --deposit-samples F   instead of classes, deposit the training samples listed in\n"
        "                        file F: one index into the training split a line ('#'\n"
        "                        comments; the order, docs/samples.md: IDX files' order,\n"
        "                        CIFAR batches 1..5, image folders by class then path).\n"
        "                        The deposit trains on exactly these; the deposit classes\n"
        "                        are their classes (printed; all classes: refused). An index\n"
        "                        out of range, twice, or not a number: refused, naming the\n"
        "                        line. The target and the archive's run record keep the\n"
        "                        list's count and SHA-256 (lirf eval --deposit-samples)\n"
        "  --data PATH, --format F, --image-size N   as for lirf train (default Fashion-MNIST);\n"
        "                        only the deposit classes' training samples are read\n"
        "                        (with --deposit-samples the whole training split)\n"
        "  --limit N             use at most N of them (not with --deposit-samples)\n"
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
        "  --mode M              what the archive holds (the training is the same):\n"
        "                        delta (default): T0's lower part minus the target's, conv\n"
        "                        weights quantised (--delta-codec), and T0's BN statistics;\n"
        "                        withdraw gives back T0 up to that rounding\n"
        "                        exact: T0's lower part; withdraw gives back T0 itself\n"
        "                        paper: the pruned deposit module of the paper (its recover\n"
        "                        net combines two paths by the column rule, Eq. 8)\n"
        "                        calibrated: LIRF-C, a pruned module as in paper mode (the\n"
        "                        same rule), made again after the deposit and trained alone\n"
        "                        against the frozen target so that the recover net follows\n"
        "                        T0 (docs/lirf-c.md); at most half the lower part\n"
        "  --delta-codec C       int8 (default: one scale per output channel), f16 or f32\n"
        "  --from-target PATH    with --mode calibrated: no deposit training; make the\n"
        "                        calibrated module for this existing target of T0 (its\n"
        "                        deposit classes, split and upper part must be this\n"
        "                        deposit's) and bind the archive to it; --target is not\n"
        "                        written\n"
        "  --calib-epochs N (2)  --calib-lr X (0.01)   the calibration's SGD (momentum 0.9,\n"
        "                        cosine to 0); KD at T 4 over all columns, plus\n"
        "  --calib-ce X (0)      CE of the recover logits,  --calib-mse X (1) feature MSE\n"
        "                        at the split,  --calib-mix X (0.5) mixups per D_r image\n"
        "                        in a batch (JSON: options.calibration)\n");
    deposit_usage_method(f);
}

static void deposit_usage_method(FILE *f) {
    fprintf(f,
        "method (paper defaults):\n"
        "  --split S             the residual stage of T0 after which the net is split\n"
        "                        (layer1..layer4; default layer2)\n"
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
        "  --holdout F           keep this share of the deposit-class training samples (of\n"
        "                        the listed ones with --deposit-samples) out of training\n"
        "                        and report the target's Dep Acc on them at the start and\n"
        "                        after every epoch (default 0: none)\n"
        "  --holdout-seed N      which samples are held out (default: --seed), so that\n"
        "                        runs with other seeds can share one held-out set\n"
        "  --holdout-every N     also measure it every N steps within an epoch (default 0:\n"
        "                        epoch ends only)\n"
        "  --keep last|best      the nets of the last step (default) or of the check with the\n"
        "                        lowest held-out Dep Acc (needs --holdout; the training\n"
        "                        state holds the kept nets, so --resume keeps the same)\n"
        "  --seed N (1)  --crop-pad N (4)  --no-flip  --rotate DEG (0)\n"
        "  --json    --quiet\n");
}

int parse_deposit_opts(int argc, char **argv, int *i, lirf_deposit_opts *o, int *bad) {
    const char *v;
    if (arg_value(argc, argv, i, "--split", &v, bad)) {
        /* a stage name of T0's network, checked once T0 is read */
        int n = *bad ? 0 : snprintf(o->split_name, sizeof o->split_name, "%s", v);
        if (n >= (int)sizeof o->split_name) {
            fprintf(stderr, "lirf: --split %s: no network has a stage of that name\n", v);
            *bad = 1;
        }
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
    else if (arg_value(argc, argv, i, "--bn", &v, bad)) *bad = *bad || !parse_choice(v, "--bn", "fixed", "batch", &o->bn_batch_stats);
    else if (arg_value(argc, argv, i, "--mode", &v, bad)) *bad = *bad || !parse_status(lirf_deposit_mode_parse(v, &o->mode));
    else if (arg_value(argc, argv, i, "--calib-epochs", &v, bad)) *bad = *bad || !parse_int(v, 1, 100000, "--calib-epochs", &o->calib.epochs);
    else if (arg_value(argc, argv, i, "--calib-lr", &v, bad)) *bad = *bad || !parse_float(v, 1e-6, 100, "--calib-lr", &o->calib.lr);
    else if (arg_value(argc, argv, i, "--calib-ce", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--calib-ce", &o->calib.lambda_ce);
    else if (arg_value(argc, argv, i, "--calib-mse", &v, bad)) *bad = *bad || !parse_float(v, 0, 1e6, "--calib-mse", &o->calib.lambda_mse);
    else if (arg_value(argc, argv, i, "--calib-mix", &v, bad)) *bad = *bad || !parse_float(v, 0, 1, "--calib-mix", &o->calib.mix);
    else if (arg_value(argc, argv, i, "--delta-codec", &v, bad)) *bad = *bad || !parse_status(lirf_delta_codec_parse(v, &o->codec));
    else if (arg_value(argc, argv, i, "--epochs", &v, bad)) *bad = *bad || !parse_int(v, 1, 100000, "--epochs", &o->epochs);
    else if (arg_value(argc, argv, i, "--batch", &v, bad)) *bad = *bad || !parse_int(v, 2, 65536, "--batch", &o->batch);
    else if (arg_value(argc, argv, i, "--lr", &v, bad)) *bad = *bad || !parse_float(v, 0, 100, "--lr", &o->lr);
    else if (arg_value(argc, argv, i, "--lr-schedule", &v, bad)) *bad = *bad || !parse_choice(v, "--lr-schedule", "const", "cosine", &o->lr_cosine);
    else if (arg_value(argc, argv, i, "--holdout", &v, bad)) *bad = *bad || !parse_float(v, 0, 0.5, "--holdout", &o->holdout);
    else if (arg_value(argc, argv, i, "--holdout-seed", &v, bad)) {
        uint32_t s = 0;
        *bad = *bad || !parse_seed(v, "--holdout-seed", &s);
        o->holdout_seed = s;
    }
    else if (arg_value(argc, argv, i, "--holdout-every", &v, bad)) *bad = *bad || !parse_int(v, 0, 1 << 30, "--holdout-every", &o->holdout_every);
    else if (arg_value(argc, argv, i, "--keep", &v, bad)) *bad = *bad || !parse_choice(v, "--keep", "last", "best", &o->keep_best);
    else if (arg_value(argc, argv, i, "--momentum", &v, bad)) *bad = *bad || !parse_float(v, 0, 0.999, "--momentum", &o->momentum);
    else if (arg_value(argc, argv, i, "--wd", &v, bad)) *bad = *bad || !parse_float(v, 0, 1, "--wd", &o->wd);
    else if (arg_value(argc, argv, i, "--seed", &v, bad)) *bad = *bad || !parse_seed(v, "--seed", &o->seed);
    else if (arg_value(argc, argv, i, "--crop-pad", &v, bad)) *bad = *bad || !parse_int(v, 0, 64, "--crop-pad", &o->aug.pad);
    else if (arg_flag(argv, *i, "--no-flip")) o->aug.flip = 0;
    else if (arg_value(argc, argv, i, "--rotate", &v, bad)) *bad = *bad || !parse_float(v, 0, 180, "--rotate", &o->aug.max_rot_deg);
    else return 0;
    return 1;
}

typedef struct {
    const char *dep_arg, *sign, *encrypt_to;
    int json;
} deposit_cli;

static int parse_compression(const char *v, int *comp) {
    static const char *const names[] = {"none", "gzip", "zstd"};
    static const int kinds[] = {LIRF_ARCHIVE_PLAIN, LIRF_ARCHIVE_GZIP, LIRF_ARCHIVE_ZSTD};
    for (int k = 0; k < 3; k++)
        if (!strcmp(v, names[k])) return *comp = kinds[k], 1;
    fprintf(stderr, "lirf: --compress is none, gzip or zstd\n");
    return 0;
}

/* The options into j and c; 0 to go on, -1 after --help, else 2. */
static int parse(int argc, char **argv, lirf_deposit_job *j, deposit_cli *c) {
    const char *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return deposit_usage(stdout), -1;
        else if (arg_value(argc, argv, &i, "--model", &j->model, &bad)) {}
        else if (arg_value(argc, argv, &i, "--allow-kind", &j->allow_kind, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &c->dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-samples", &j->deposit_samples, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &j->data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &j->kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &j->image_size);
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) {
            int n = 0;
            bad = bad || !parse_int(v, 1, 1 << 30, "--limit", &n);
            j->limit = (size_t)n;
        }
        else if (arg_value(argc, argv, &i, "--target", &j->target_out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--from-target", &j->from_target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--archive", &j->archive_out, &bad)) {}
        else if (arg_value(argc, argv, &i, "--sign", &c->sign, &bad)) {}
        else if (arg_value(argc, argv, &i, "--encrypt-to", &c->encrypt_to, &bad)) {}
        else if (arg_value(argc, argv, &i, "--compress", &v, &bad)) bad = bad || !parse_compression(v, &j->compression);
        else if (arg_flag(argv, i, "--json")) c->json = 1;
        else if (arg_flag(argv, i, "--quiet")) j->log = NULL;
        else if (arg_flag(argv, i, "--resume")) j->resume = 1;
        else if (arg_value(argc, argv, &i, "--save-every", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--save-every", &j->save_every);
        else if (parse_deposit_opts(argc, argv, &i, &j->o, &bad)) {}
        else bad = unknown_option("deposit", argv[i]);
    }
    if (!bad && (!j->model || (!c->dep_arg && !j->deposit_samples))) {
        fprintf(stderr, "lirf deposit: --model and --deposit-classes (or --deposit-samples) "
                        "are required\n");
        bad = 1;
    } else if (!bad && c->dep_arg && j->deposit_samples) {
        fprintf(stderr, "lirf deposit: give --deposit-classes or --deposit-samples, not both "
                        "(a sample-level deposit's classes are its samples')\n");
        bad = 1;
    } else if (!bad && j->deposit_samples && j->limit) {
        fprintf(stderr, "lirf deposit: --limit does not go with --deposit-samples (the list "
                        "says which samples)\n");
        bad = 1;
    }
    return bad ? 2 : 0;
}

static int report(const lirf_deposit_job *j, const lirf_deposit_report *r, const deposit_cli *c,
                  const lirf_key *sk, const lirf_key *pk) {
    if (c->json) {
        json_t *s = lirf_deposit_report_json(j, r);
        if (s) {
            json_object_set_new(s, "signed_by", sk ? json_string(lirf_key_id(sk)) : json_null());
            json_object_set_new(s, "encrypted_to", pk ? json_string(lirf_key_id(pk)) : json_null());
        }
        return print_json(s);
    }
    printf("target net: %s\ndeposit archive: %s\n", j->from_target ? j->from_target : j->target_out,
           j->archive_out);
    if (j->deposit_samples) {
        printf("deposit samples: %zu from %s (SHA-256 %s), classes", r->deposit_samples,
               j->deposit_samples, r->deposit_samples_sha256);
        for (int k = 0; k < r->nsample_classes; k++) printf("%s%d", k ? "," : " ", (int)r->sample_classes[k]);
        printf("\n");
    }
    if (sk) printf("signed by key %s\n", lirf_key_id(sk));
    if (pk) printf("deposit encrypted to key %s\n", lirf_key_id(pk));
    return 0;
}

int cmd_deposit(const char *device, int argc, char **argv) {
    lirf_deposit_job j;
    lirf_deposit_job_default(&j);
    j.log = stderr;
    deposit_cli c = {0};
    int rc = parse(argc, argv, &j, &c);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *dep = NULL;
    if (c.dep_arg && !parse_class_list(c.dep_arg, LIRF_MAX_CLASSES, &dep, &j.ndep)) return 2;
    j.dep = dep;
    /* the keys first: a wrong path fails now, not after the training */
    lirf_key *sk = NULL, *pk = NULL;
    lirf_ctx *ctx = NULL;
    rc = 2;
    if (!load_key_cli(c.sign, LIRF_KEY_SECRET, "--sign", &sk) &&
        !load_key_cli(c.encrypt_to, LIRF_KEY_PUBLIC, "--encrypt-to", &pk) && !cli_open(device, &ctx)) {
        lirf_archive_seal seal = {sk, pk};
        char state[1100];
        snprintf(state, sizeof state, "%s.state.safetensors", j.target_out);
        j.seal = &seal, j.state_path = state;
        lirf_deposit_report r;
        lirf_status st = lirf_deposit_job_run(ctx, &j, &r);
        rc = st ? cli_error(st, "deposit") : report(&j, &r, &c, sk, pk);
    }
    lirf_key_free(sk);
    lirf_key_free(pk);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
