/* lirf train: supervised training of ResNet-18 or the CNN student. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "train.h"

static void usage(FILE *f) {
    fprintf(f,
        "usage: lirf [--device SPEC] train [options]\n"
        "\n"
        "Trains a network with SGD and cross-entropy, checkpoints it after every epoch\n"
        "(safetensors, torchvision tensor names), and evaluates it on the test split.\n"
        "\n"
        "data:\n"
        "  --data PATH          training data: a Fashion-MNIST folder, a CIFAR-10/100 binary\n"
        "                       folder or .tar.gz, or an image folder / tar of class folders\n"
        "                       (default: Fashion-MNIST from Debian's dataset-fashion-mnist)\n"
        "  --test-data PATH     data for the final evaluation (default: the test split of --data)\n"
        "  --format F           auto|fashion-mnist|cifar10|cifar100|imagefolder (default auto)\n"
        "  --image-size N       image folders: resize to N x N (default 32)\n"
        "  --classes LIST       train only on these classes, e.g. 3,4,5 (the paper's\n"
        "                       Independent baseline); the output layer keeps every class\n"
        "  --limit N            use at most N training samples\n"
        "network:\n"
        "  --arch A             resnet18 | cnn (default resnet18)\n"
        "  --width W            ResNet-18 width (default 16; the paper's network is 64)\n"
        "optimisation:\n"
        "  --epochs N           (default 3)      --batch N      (default 128)\n"
        "  --lr X               (default 0.1)    --momentum X   (default 0.9)\n"
        "  --wd X               weight decay (default 5e-4)\n"
        "  --schedule S         cosine | step | const (default cosine)\n"
        "  --warmup E           epochs of linear warm-up (default 0.5)\n"
        "  --seed N             (default 1): the same seed on the same device gives the same run\n"
        "augmentation (on the device):\n"
        "  --crop-pad N         random crop of the zero-padded image (default 4 for images of\n"
        "                       32 pixels and more, 2 below, e.g. Fashion-MNIST; 0: off)\n"
        "  --no-flip            no random horizontal flip\n"
        "  --rotate DEG         random rotation in [-DEG, DEG] (default 0: off)\n"
        "output:\n"
        "  --out PATH           checkpoint (default lirf-model.safetensors); the training state\n"
        "                       goes to PATH.state.safetensors\n"
        "  --resume             continue from PATH.state.safetensors (same options)\n"
        "  --save-every N       also save the training state every N steps\n"
        "  --max-steps N        stop after N steps of the schedule (state saved; --resume goes on)\n"
        "  --json               print the result as JSON on stdout\n"
        "  --quiet              no progress output\n");
}

int load_dataset_cli(const char *path, lirf_data_kind kind, int train, int image_size,
                     const int32_t *classes, int nclasses, size_t limit, lirf_dataset *ds) {
    lirf_data_opts o = {.path = path, .kind = kind, .train = train, .image_size = image_size,
                        .classes = classes, .nclasses = nclasses, .limit = limit};
    lirf_status st = lirf_dataset_load(&o, ds);
    if (st != LIRF_OK) {
        cli_error(st, train ? "loading the training data" : "loading the test data");
        return 0;
    }
    return 1;
}

int train_model(lirf_ctx *ctx, const train_args *a, double *acc_out, json_t **summary) {
    const char *data = a->data, *test_data = a->test_data, *out = a->out;
    lirf_data_kind kind = a->kind;
    lirf_arch arch = a->arch;
    int width = a->width, image_size = a->image_size, quiet = a->quiet, resume = a->resume;
    int limit = a->limit, nclasses = a->nclasses;
    const int32_t *classes = a->classes;
    lirf_train_opts o = a->o;
    int rc = 2;
    lirf_dataset tr = {0}, te = {0};
    lirf_loader *ltr = NULL, *lte = NULL;
    lirf_net *net = NULL;
    lirf_model_meta meta = {0};
    lirf_status st;
    double t_load = lirf_now();
    if (!load_dataset_cli(data, kind, 1, image_size, classes, nclasses, (size_t)limit, &tr)) goto done;
    if (!load_dataset_cli(test_data ? test_data : data, kind, 0, image_size, NULL, 0, 0, &te)) goto done;
    if (te.c != tr.c || te.h != tr.h || te.w != tr.w || te.num_classes != tr.num_classes) {
        fprintf(stderr, "lirf: the test data (%dx%dx%d, %d classes) does not match the training "
                        "data (%dx%dx%d, %d classes)\n", te.c, te.h, te.w, te.num_classes, tr.c,
                tr.h, tr.w, tr.num_classes);
        goto done;
    }
    for (int k = 0; k < nclasses; k++)
        if (classes[k] >= tr.num_classes) {
            fprintf(stderr, "lirf: class %d is not in the data (%d classes)\n", classes[k],
                    tr.num_classes);
            goto done;
        }
    if (!quiet)
        fprintf(stderr, "lirf: data %s: %d training / %d test images %dx%dx%d, %d classes (%.1fs)\n",
                tr.source, tr.n, te.n, tr.c, tr.h, tr.w, tr.num_classes, lirf_now() - t_load);
    if (o.aug.pad < 0) o.aug.pad = tr.h >= 32 ? 4 : 2;
    meta.cfg = (lirf_net_config){.arch = arch, .width = width, .in_c = tr.c, .in_h = tr.h,
                                 .in_w = tr.w, .classes = tr.num_classes, .first = 0,
                                 .last = lirf_arch_stages(arch) - 1};
    meta.class_names = tr.class_names; /* borrowed */
    lirf_dataset_stats(&tr, meta.mean, meta.std);
    if ((st = lirf_net_create(ctx, &meta.cfg, &net)) || (st = lirf_net_init(net, o.seed))) {
        cli_error(st, "creating the network");
        goto done;
    }
    lirf_loader_opts lo = {.data = &tr, .batch = o.batch, .shuffle = 1, .drop_last = 1,
                           .seed = o.seed};
    memcpy(lo.mean, meta.mean, sizeof lo.mean);
    memcpy(lo.std, meta.std, sizeof lo.std);
    if ((st = lirf_loader_create(ctx, &lo, &ltr))) {
        cli_error(st, "preparing batches");
        goto done;
    }
    lo.data = &te, lo.shuffle = 0, lo.drop_last = 0, lo.batch = o.batch > 256 ? o.batch : 256;
    if ((st = lirf_loader_create(ctx, &lo, &lte))) {
        cli_error(st, "preparing batches");
        goto done;
    }
    if (!quiet)
        fprintf(stderr, "lirf: %s width %d, %zu parameters, %d epochs of %zu steps (batch %d)\n",
                lirf_arch_name(arch), width, lirf_net_nparams(net), o.epochs,
                lirf_loader_batches(ltr), o.batch);
    lirf_train_io io = {.model_path = out, .meta = &meta, .resume = resume, .quiet = quiet};
    lirf_train_result res;
    if ((st = lirf_train_run(ctx, net, ltr, &o, &io, &res))) {
        cli_error(st, "training");
        goto done;
    }
    if (res.stopped) {
        printf("stopped after %zu steps (--max-steps); the state is in %s.state.safetensors: "
               "continue with --resume\n", res.steps, out);
        rc = 0;
        goto done;
    }
    int64_t *counts = calloc(2 * (size_t)tr.num_classes, sizeof *counts);
    if (!counts || (st = lirf_eval_counts(ctx, lte, tr.num_classes, lirf_net_logits, net, counts))) {
        free(counts);
        cli_error(st, "evaluating");
        goto done;
    }
    int64_t correct = 0, total = 0;
    for (int k = 0; k < tr.num_classes; k++) correct += counts[2 * k], total += counts[2 * k + 1];
    double acc = total ? 100.0 * (double)correct / (double)total : 0;
    if (acc_out) *acc_out = acc;
    if (summary)
        *summary = json_pack("{s:s,s:s,s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:I}", "model", out, "arch",
                             lirf_arch_name(arch), "width", width, "epochs", o.epochs, "batch",
                             o.batch, "seconds", res.seconds, "images_per_s", res.images_per_s,
                             "final_loss", res.last_loss, "test_accuracy", acc, "parameters",
                             (json_int_t)lirf_net_nparams(net));
    if (a->json) {
        printf("{\"model\":\"%s\",\"arch\":\"%s\",\"width\":%d,\"epochs\":%d,\"batch\":%d,"
               "\"seconds\":%.1f,\"images_per_s\":%.1f,\"final_loss\":%.5f,\"test_accuracy\":%.2f,"
               "\"per_class\":[",
               out, lirf_arch_name(arch), width, o.epochs, o.batch, res.seconds, res.images_per_s,
               res.last_loss, acc);
        for (int k = 0; k < tr.num_classes; k++)
            printf("%s%.2f", k ? "," : "",
                   counts[2 * k + 1] ? 100.0 * (double)counts[2 * k] / (double)counts[2 * k + 1] : 0.0);
        printf("]}\n");
    } else {
        printf("trained %s in %.1f s (%.0f images/s); test accuracy %.2f%% (%lld/%lld); saved %s\n",
               lirf_arch_name(arch), res.seconds, res.images_per_s, acc, (long long)correct,
               (long long)total, out);
    }
    free(counts);
    rc = 0;
done:
    meta.class_names = NULL;
    lirf_loader_destroy(ltr);
    lirf_loader_destroy(lte);
    lirf_net_destroy(net);
    lirf_dataset_free(&tr);
    lirf_dataset_free(&te);
    return rc;
}

int cmd_train(const char *device, int argc, char **argv) {
    const char *data = NULL, *test_data = NULL, *out = "lirf-model.safetensors", *v;
    lirf_data_kind kind = LIRF_DATA_AUTO;
    lirf_arch arch = LIRF_ARCH_RESNET18;
    int width = 16, image_size = 32, json = 0, quiet = 0, resume = 0, limit = 0, bad = 0;
    int pad_set = 0;
    int32_t *classes = NULL;
    int nclasses = 0;
    const char *classes_arg = NULL;
    lirf_train_opts o;
    lirf_train_opts_default(&o);
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--data", &data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--test-data", &test_data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &image_size);
        else if (arg_value(argc, argv, &i, "--classes", &classes_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--limit", &limit);
        else if (arg_value(argc, argv, &i, "--arch", &v, &bad)) {
            if (!bad && lirf_arch_parse(v, &arch) != LIRF_OK) {
                fprintf(stderr, "lirf: %s\n", lirf_error_message());
                bad = 1;
            }
        }
        else if (arg_value(argc, argv, &i, "--width", &v, &bad)) bad = bad || !parse_int(v, 1, 1024, "--width", &width);
        else if (arg_value(argc, argv, &i, "--epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 100000, "--epochs", &o.epochs);
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--batch", &o.batch);
        else if (arg_value(argc, argv, &i, "--lr", &v, &bad)) bad = bad || !parse_float(v, 0, 100, "--lr", &o.lr);
        else if (arg_value(argc, argv, &i, "--momentum", &v, &bad)) bad = bad || !parse_float(v, 0, 0.999, "--momentum", &o.momentum);
        else if (arg_value(argc, argv, &i, "--wd", &v, &bad)) bad = bad || !parse_float(v, 0, 1, "--wd", &o.wd);
        else if (arg_value(argc, argv, &i, "--warmup", &v, &bad)) bad = bad || !parse_float(v, 0, 1000, "--warmup", &o.warmup);
        else if (arg_value(argc, argv, &i, "--schedule", &v, &bad)) {
            if (!bad && lirf_sched_parse(v, &o.sched) != LIRF_OK) {
                fprintf(stderr, "lirf: %s\n", lirf_error_message());
                bad = 1;
            }
        }
        else if (arg_value(argc, argv, &i, "--seed", &v, &bad)) {
            int s = 0;
            bad = bad || !parse_int(v, 0, 2147483647, "--seed", &s);
            o.seed = (uint32_t)s;
        }
        else if (arg_value(argc, argv, &i, "--crop-pad", &v, &bad)) {
            bad = bad || !parse_int(v, 0, 64, "--crop-pad", &o.aug.pad);
            pad_set = 1;
        }
        else if (arg_flag(argv, i, "--no-flip")) o.aug.flip = 0;
        else if (arg_value(argc, argv, &i, "--rotate", &v, &bad)) bad = bad || !parse_float(v, 0, 180, "--rotate", &o.aug.max_rot_deg);
        else if (arg_value(argc, argv, &i, "--out", &out, &bad)) {}
        else if (arg_flag(argv, i, "--resume")) resume = 1;
        else if (arg_value(argc, argv, &i, "--save-every", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--save-every", &o.save_every);
        else if (arg_value(argc, argv, &i, "--max-steps", &v, &bad)) {
            int m = 0;
            bad = bad || !parse_int(v, 1, 2147483647, "--max-steps", &m);
            o.max_steps = m;
        }
        else if (arg_flag(argv, i, "--json")) json = 1;
        else if (arg_flag(argv, i, "--quiet")) quiet = 1;
        else {
            fprintf(stderr, "lirf train: unknown option %s (see lirf train --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (classes_arg && !parse_class_list(classes_arg, LIRF_MAX_CLASSES, &classes, &nclasses)) return 2;

    lirf_ctx *ctx = NULL;
    if (cli_open(device, &ctx)) {
        free(classes);
        return 2;
    }
    o.aug.pad = pad_set ? o.aug.pad : -1; /* -1: chosen from the image size */
    train_args ta = {.data = data, .test_data = test_data, .out = out, .kind = kind, .arch = arch,
                     .width = width, .image_size = image_size, .quiet = quiet, .resume = resume,
                     .limit = limit, .classes = classes, .nclasses = nclasses, .json = json, .o = o};
    int rc = train_model(ctx, &ta, NULL, NULL);
    free(classes);
    lirf_ctx_destroy(ctx);
    return rc;
}
