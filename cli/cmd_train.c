/* lirf train: supervised training of ResNet-18 / ResNet-34 (CIFAR or ImageNet
 * stem) or the CNN student. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "fileutil.h"
#include "experiments.h"

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
        "  --image-size N       image folders: resize to N x N (default 32; e.g. 64 or 224\n"
        "                       with --stem imagenet)\n"
        "  --classes LIST       train only on these classes, e.g. 3,4,5 (the paper's\n"
        "                       Independent baseline); the output layer keeps every class\n"
        "  --limit N            use at most N training samples\n"
        "network:\n"
        "  --arch A             resnet18 | resnet34 | cnn (default resnet18), or a checkpoint's\n"
        "                       arch name: resnet18_cifar, resnet18_imagenet, resnet34_cifar,\n"
        "                       resnet34_imagenet\n"
        "  --stem S             ResNet stem: cifar (3x3 conv, stride 1; default) or imagenet\n"
        "                       (torchvision's: 7x7 conv stride 2, 3x3 max pool stride 2)\n"
        "  --width W            ResNet width: stages W, 2W, 4W, 8W (default 16; the paper's\n"
        "                       network and torchvision's are 64)\n"
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
        "  --json               print the result as one JSON document on stdout (docs/json.md)\n"
        "  --quiet              no progress output\n");
}

/* The options into j; 0 to go on, else the exit status (help: 0). */
static int parse(int argc, char **argv, lirf_train_job *j, const char **classes_arg, int *json,
                 const char **stem) {
    lirf_train_opts *o = &j->o;
    const char *v;
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), -1;
        else if (arg_value(argc, argv, &i, "--data", &j->data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--test-data", &j->test_data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &j->kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &j->image_size);
        else if (arg_value(argc, argv, &i, "--classes", classes_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--limit", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--limit", &j->limit);
        else if (arg_value(argc, argv, &i, "--arch", &v, &bad)) bad = bad || !parse_arch(v, &j->arch);
        else if (arg_value(argc, argv, &i, "--stem", stem, &bad)) {}
        else if (arg_value(argc, argv, &i, "--width", &v, &bad)) bad = bad || !parse_int(v, 1, 1024, "--width", &j->width);
        else if (arg_value(argc, argv, &i, "--epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 100000, "--epochs", &o->epochs);
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--batch", &o->batch);
        else if (arg_value(argc, argv, &i, "--lr", &v, &bad)) bad = bad || !parse_float(v, 0, 100, "--lr", &o->lr);
        else if (arg_value(argc, argv, &i, "--momentum", &v, &bad)) bad = bad || !parse_float(v, 0, 0.999, "--momentum", &o->momentum);
        else if (arg_value(argc, argv, &i, "--wd", &v, &bad)) bad = bad || !parse_float(v, 0, 1, "--wd", &o->wd);
        else if (arg_value(argc, argv, &i, "--warmup", &v, &bad)) bad = bad || !parse_float(v, 0, 1000, "--warmup", &o->warmup);
        else if (arg_value(argc, argv, &i, "--schedule", &v, &bad)) bad = bad || !parse_sched(v, &o->sched);
        else if (arg_value(argc, argv, &i, "--seed", &v, &bad)) bad = bad || !parse_seed(v, "--seed", &o->seed);
        else if (arg_value(argc, argv, &i, "--crop-pad", &v, &bad)) bad = bad || !parse_int(v, 0, 64, "--crop-pad", &o->aug.pad);
        else if (arg_flag(argv, i, "--no-flip")) o->aug.flip = 0;
        else if (arg_value(argc, argv, &i, "--rotate", &v, &bad)) bad = bad || !parse_float(v, 0, 180, "--rotate", &o->aug.max_rot_deg);
        else if (arg_value(argc, argv, &i, "--out", &j->out, &bad)) {}
        else if (arg_flag(argv, i, "--resume")) j->resume = 1;
        else if (arg_value(argc, argv, &i, "--save-every", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--save-every", &o->save_every);
        else if (arg_value(argc, argv, &i, "--max-steps", &v, &bad)) bad = bad || !parse_long(v, 1, 2147483647, "--max-steps", &o->max_steps);
        else if (arg_flag(argv, i, "--json")) *json = 1;
        else if (arg_flag(argv, i, "--quiet")) j->log = NULL;
        else bad = unknown_option("train", argv[i]);
    }
    if (!bad && *stem && lirf_arch_with_stem(j->arch, *stem, &j->arch) != LIRF_OK) {
        fprintf(stderr, "lirf train: --stem %s: %s\n", *stem, lirf_error_message());
        bad = 1;
    }
    return bad ? 2 : 0;
}

/* --json: the job's report, whether --max-steps stopped it (and where its
 * state is), and the class names the checkpoint holds. */
static json_t *train_json(const lirf_train_job *j, const lirf_train_report *r) {
    json_t *doc = lirf_train_report_json(j, r);
    if (!doc) return NULL;
    json_object_set_new(doc, "stopped", json_boolean(r->stopped));
    json_object_set_new(doc, "steps", json_integer((json_int_t)r->steps));
    json_object_set_new(doc, "state", r->stopped ? json_sprintf("%s.state.safetensors", j->out)
                                                 : json_null());
    json_t *names = json_null();
    lirf_safetensors st;
    lirf_model_meta meta;
    if (!r->stopped && lirf_checkpoint_open(j->out, &st, &meta) == LIRF_OK) {
        names = json_array();
        for (int k = 0; meta.class_names && k < meta.cfg.classes; k++)
            json_array_append_new(names, lirf_json_text(meta.class_names[k]));
        lirf_model_meta_free(&meta);
        lirf_st_free(&st);
    }
    json_object_set_new(doc, "class_names", names);
    return doc;
}

int cmd_train(const char *device, int argc, char **argv) {
    lirf_train_job j;
    lirf_train_job_default(&j); /* crop padding -1: chosen from the image size */
    j.log = stderr;
    const char *classes_arg = NULL, *stem = NULL;
    int json = 0, rc = parse(argc, argv, &j, &classes_arg, &json, &stem);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *classes = NULL;
    if (classes_arg && !parse_class_list(classes_arg, LIRF_MAX_CLASSES, &classes, &j.nclasses)) return 2;
    j.classes = classes;
    lirf_ctx *ctx = NULL;
    if (cli_open(device, &ctx)) return free(classes), 2;
    lirf_train_report r;
    lirf_status st = lirf_train_job_run(ctx, &j, &r);
    if (st) rc = cli_error(st, "train");
    else if (json) rc = print_json(train_json(&j, &r));
    else if (r.stopped)
        printf("stopped after %zu steps (--max-steps); the state is in %s.state.safetensors: "
               "continue with --resume\n", r.steps, j.out);
    else
        printf("trained %s in %.1f s (%.0f images/s); test accuracy %.2f%% (%lld/%lld); saved %s\n",
               r.arch, r.seconds, r.images_per_s, r.test_accuracy, (long long)r.correct,
               (long long)r.total, j.out);
    free(classes);
    lirf_ctx_destroy(ctx);
    return rc;
}
