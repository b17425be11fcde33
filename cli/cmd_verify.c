/* lirf verify: the auditor's knowledge-leakage audit (docs/verify.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "verify.h"

static void usage(FILE *f) {
    lirf_verify_opts d;
    lirf_verify_opts_default(&d);
    fprintf(f,
        "usage: lirf [--device SPEC] verify --target T [--original T0] [--archive A]\n"
        "                                   [--independent I] [--target-no-at T'] [options]\n"
        "\n"
        "Audits whether the deposit classes' knowledge can still be got out of a target net\n"
        "(the paper's Table 3, with controls, and more probes), writes report.json, report.md\n"
        "and report.html to --out, and exits 0 when no check finds leakage beyond its margin,\n"
        "1 when one does (or the withdraw check fails), 2 on an error. docs/verify.md explains\n"
        "every number.\n"
        "\n"
        "nets (whole nets: trained with lirf train, or target nets from lirf deposit):\n"
        "  --target T            the net under audit (required)\n"
        "  --original T0         the net before the deposit (teacher, and the reference of\n"
        "                        every change; recommended)\n"
        "  --archive A           the deposit archive: withdraw, and check Dep Acc comes back\n"
        "  --independent I       a net that never saw the deposit classes: the control of the\n"
        "                        no-label distillations, the probe and the MIA\n"
        "  --target-no-at T'     a target made without L_at (an extra teacher, as in Table 3)\n"
        "  --deposit-classes L   default: the target's deposit_classes metadata\n"
        "data (as lirf train; default Fashion-MNIST from Debian's dataset-fashion-mnist):\n"
        "  --data PATH, --format F, --image-size N\n"
        "budgets (measured: the defaults audit the demo's Fashion-MNIST artifacts, 18\n"
        "student trainings, in 11 min 24 s on 2 idle cores through PoCL; docs/verify.md):\n"
        "  --seeds K             repeat every student training K times; mean and 95%% interval\n"
        "                        (default %d)\n"
        "  --epochs N            student epochs (default %d)\n"
        "  --train-subset N      training images the students learn from (default %d; a fixed\n"
        "                        random subset, the same for every seed)\n"
        "  --test-subset N       evaluate on N evenly spaced test images (default 0: all)\n"
        "  --batch N             (default %d)\n"
        "students and distillation:\n"
        "  --students LIST       cnn,resnet18 (default both)\n"
        "  --student-width W     the ResNet-18 student's width (default %d)\n"
        "  --methods LIST        logit,at (default both)\n"
        "  --labels LIST         true,none (default both): with the true labels in the loss (the\n"
        "                        paper's protocol), and without (teacher outputs only)\n"
        "  --alpha X --T X       logit KD: alpha L_kd + (1 - alpha) CE (default %g, %g)\n"
        "  --beta X              AT: CE + beta/2 sum L_at (default %g)\n"
        "  --student-lr X        (default %g; SGD momentum 0.9, cosine, no augmentation)\n"
        "probes:\n"
        "  --no-mia --no-probe --no-withdraw --no-deposit-alone --no-relearn   skip one\n"
        "  --member-limit N      MIA members: deposit-class images among the first N training\n"
        "                        images (the ones T0 was trained on; default 0: all)\n"
        "  --mia-samples N       at most N members and N non-members (default %d)\n"
        "  --probe-train N       linear-probe training images (default %d)\n"
        "  --probe-epochs N      (default %d)\n"
        "  --relearn-samples N   relearn: fine-tune on N labelled deposit-class images and as\n"
        "                        many preservation-class ones (default %d)\n"
        "  --relearn-fraction X  until Dep Acc reaches X times the original's (default %g)\n"
        "  --relearn-max-steps N (default %d; SGD lr %g, batch 32, Dep Acc measured every %d)\n"
        "thresholds (leakage when a check's gap to its control exceeds them):\n"
        "  --margin-distill P    true-label students: Dep Acc points over the no-teacher\n"
        "                        student (default %g)\n"
        "  --margin-none P       no-label students: Dep Acc points over the control (default %g)\n"
        "  --margin-mia X        MIA AUC over the control (default %g)\n"
        "  --margin-probe P      linear-probe Dep Acc points over the control (default %g)\n"
        "  --margin-withdraw P   the recover net's Dep Acc may fall this far below the\n"
        "                        original's (default %g)\n"
        "  --margin-relearn R    leakage when the target relearns in fewer than R times the\n"
        "                        Independent net's steps (default %g; no verdict without\n"
        "                        --independent)\n"
        "  --power-min P         the power of the no-label checks: the original's no-label\n"
        "                        students should reach P%% Dep Acc; the report says \"weak\"\n"
        "                        when they do not (default %g; no effect on the exit status)\n"
        "output:\n"
        "  --out DIR             (default lirf-verify)\n"
        "  --from-json FILE      write report.md and report.html again from an earlier\n"
        "                        report.json (no audit is run; exits with its recorded code)\n"
        "  --quiet               no progress output\n",
        d.seeds, d.epochs, d.train_subset, d.batch, d.student_width, (double)d.distill.alpha,
        (double)d.distill.T, (double)d.distill.beta, (double)d.distill.lr, d.mia_samples,
        d.probe_train, d.probe_opts.epochs, d.relearn_samples, (double)d.relearn_fraction,
        d.relearn_max_steps, (double)d.relearn_lr, d.relearn_eval_every, (double)d.margin_distill, (double)d.margin_none,
        (double)d.margin_mia, (double)d.margin_probe, (double)d.margin_withdraw, (double)d.margin_relearn,
        (double)d.power_min);
}

/* "a,b" against names -> bit set; 0 on error */
static int parse_set(const char *s, const char *const *names, int n, const char *what, int *out) {
    *out = 0;
    const char *p = s;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && !strncmp(p, names[i], len)) *out |= 1 << i, found = 1;
        if (!found) {
            fprintf(stderr, "lirf verify: %s: unknown item in \"%s\"\n", what, s);
            return 0;
        }
        p += len;
        if (*p == ',') p++;
    }
    if (!*out) fprintf(stderr, "lirf verify: %s: empty list\n", what);
    return *out != 0;
}

int cmd_verify(const char *device, int argc, char **argv) {
    lirf_verify_opts o;
    lirf_verify_opts_default(&o);
    const char *out = "lirf-verify", *dep_arg = NULL, *v, *from_json = NULL;
    int bad = 0;
    static const char *const studs[] = {"cnn", "resnet18"}, *const meths[] = {"logit", "at"},
                             *const labs[] = {"true", "none"};
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        else if (arg_value(argc, argv, &i, "--target", &o.target, &bad)) {}
        else if (arg_value(argc, argv, &i, "--original", &o.original, &bad)) {}
        else if (arg_value(argc, argv, &i, "--archive", &o.archive, &bad)) {}
        else if (arg_value(argc, argv, &i, "--independent", &o.independent, &bad)) {}
        else if (arg_value(argc, argv, &i, "--target-no-at", &o.target_no_at, &bad)) {}
        else if (arg_value(argc, argv, &i, "--deposit-classes", &dep_arg, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &o.data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &o.kind);
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &o.image_size);
        else if (arg_value(argc, argv, &i, "--seeds", &v, &bad)) bad = bad || !parse_int(v, 1, 64, "--seeds", &o.seeds);
        else if (arg_value(argc, argv, &i, "--epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 1000, "--epochs", &o.epochs);
        else if (arg_value(argc, argv, &i, "--train-subset", &v, &bad)) bad = bad || !parse_int(v, 2, 1 << 30, "--train-subset", &o.train_subset);
        else if (arg_value(argc, argv, &i, "--test-subset", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--test-subset", &o.test_subset);
        else if (arg_value(argc, argv, &i, "--batch", &v, &bad)) bad = bad || !parse_int(v, 2, 65536, "--batch", &o.batch);
        else if (arg_value(argc, argv, &i, "--students", &v, &bad)) bad = bad || !parse_set(v, studs, 2, "--students", &o.students);
        else if (arg_value(argc, argv, &i, "--student-width", &v, &bad)) bad = bad || !parse_int(v, 1, 1024, "--student-width", &o.student_width);
        else if (arg_value(argc, argv, &i, "--methods", &v, &bad)) bad = bad || !parse_set(v, meths, 2, "--methods", &o.methods);
        else if (arg_value(argc, argv, &i, "--labels", &v, &bad)) bad = bad || !parse_set(v, labs, 2, "--labels", &o.labels);
        else if (arg_value(argc, argv, &i, "--alpha", &v, &bad)) bad = bad || !parse_float(v, 0, 1, "--alpha", &o.distill.alpha);
        else if (arg_value(argc, argv, &i, "--T", &v, &bad)) bad = bad || !parse_float(v, 0.01, 1000, "--T", &o.distill.T);
        else if (arg_value(argc, argv, &i, "--beta", &v, &bad)) bad = bad || !parse_float(v, 0, 1e7, "--beta", &o.distill.beta);
        else if (arg_value(argc, argv, &i, "--student-lr", &v, &bad)) bad = bad || !parse_float(v, 1e-7, 10, "--student-lr", &o.distill.lr);
        else if (arg_flag(argv, i, "--no-mia")) o.mia = 0;
        else if (arg_flag(argv, i, "--no-probe")) o.probe = 0;
        else if (arg_flag(argv, i, "--no-withdraw")) o.withdraw_check = 0;
        else if (arg_flag(argv, i, "--no-deposit-alone")) o.deposit_alone = 0;
        else if (arg_flag(argv, i, "--no-relearn")) o.relearn = 0;
        else if (arg_value(argc, argv, &i, "--relearn-samples", &v, &bad)) bad = bad || !parse_int(v, 2, 1 << 30, "--relearn-samples", &o.relearn_samples);
        else if (arg_value(argc, argv, &i, "--relearn-max-steps", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--relearn-max-steps", &o.relearn_max_steps);
        else if (arg_value(argc, argv, &i, "--relearn-fraction", &v, &bad)) bad = bad || !parse_float(v, 0, 10, "--relearn-fraction", &o.relearn_fraction);
        else if (arg_value(argc, argv, &i, "--margin-relearn", &v, &bad)) bad = bad || !parse_float(v, 0, 1000, "--margin-relearn", &o.margin_relearn);
        else if (arg_value(argc, argv, &i, "--member-limit", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--member-limit", &o.member_limit);
        else if (arg_value(argc, argv, &i, "--mia-samples", &v, &bad)) bad = bad || !parse_int(v, 0, 1 << 30, "--mia-samples", &o.mia_samples);
        else if (arg_value(argc, argv, &i, "--probe-train", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 30, "--probe-train", &o.probe_train);
        else if (arg_value(argc, argv, &i, "--probe-epochs", &v, &bad)) bad = bad || !parse_int(v, 1, 10000, "--probe-epochs", &o.probe_opts.epochs);
        else if (arg_value(argc, argv, &i, "--margin-distill", &v, &bad)) bad = bad || !parse_float(v, -100, 100, "--margin-distill", &o.margin_distill);
        else if (arg_value(argc, argv, &i, "--power-min", &v, &bad)) bad = bad || !parse_float(v, 0, 100, "--power-min", &o.power_min);
        else if (arg_value(argc, argv, &i, "--margin-none", &v, &bad)) bad = bad || !parse_float(v, -100, 100, "--margin-none", &o.margin_none);
        else if (arg_value(argc, argv, &i, "--margin-mia", &v, &bad)) bad = bad || !parse_float(v, -1, 1, "--margin-mia", &o.margin_mia);
        else if (arg_value(argc, argv, &i, "--margin-probe", &v, &bad)) bad = bad || !parse_float(v, -100, 100, "--margin-probe", &o.margin_probe);
        else if (arg_value(argc, argv, &i, "--margin-withdraw", &v, &bad)) bad = bad || !parse_float(v, -100, 100, "--margin-withdraw", &o.margin_withdraw);
        else if (arg_value(argc, argv, &i, "--out", &out, &bad)) {}
        else if (arg_flag(argv, i, "--quiet")) o.quiet = 1;
        else if (arg_value(argc, argv, &i, "--from-json", &from_json, &bad)) {}
        else {
            fprintf(stderr, "lirf verify: unknown option %s (see lirf verify --help)\n", argv[i]);
            bad = 1;
        }
    }
    if (bad) return 2;
    if (from_json) { /* render the reports of an earlier run again */
        json_error_t err;
        json_t *rep = json_load_file(from_json, 0, &err);
        if (!rep || !json_is_array(json_object_get(rep, "checks"))) {
            fprintf(stderr, "lirf verify: %s is not a report.json: %s\n", from_json,
                    rep ? "no checks in it" : err.text);
            json_decref(rep);
            return 2;
        }
        char p[2][1200];
        snprintf(p[0], sizeof p[0], "%s/report.md", out);
        snprintf(p[1], sizeof p[1], "%s/report.html", out);
        lirf_status st;
        if (mkdir(out, 0777) != 0 && errno != EEXIST) {
            fprintf(stderr, "lirf verify: cannot create %s: %s\n", out, strerror(errno));
            json_decref(rep);
            return 2;
        }
        if ((st = lirf_report_write_md(rep, p[0])) || (st = lirf_report_write_html(rep, p[1]))) {
            json_decref(rep);
            return cli_error(st, "writing the reports");
        }
        int rc = (int)json_integer_value(json_object_get(rep, "exit_code"));
        printf("%s, %s rendered from %s (exit %d as recorded)\n", p[0], p[1], from_json, rc);
        json_decref(rep);
        return rc;
    }
    if (!o.target) {
        fprintf(stderr, "lirf verify: give the net under audit with --target PATH\n");
        return 2;
    }
    int32_t *dep = NULL;
    if (dep_arg && !parse_class_list(dep_arg, LIRF_MAX_CLASSES, &dep, &o.ndep)) return 2;
    o.dep = dep;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "lirf verify: cannot create %s: %s\n", out, strerror(errno));
        free(dep);
        return 2;
    }
    o.out_dir = out;
    char cmd[4096];
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "lirf");
    for (int i = 0; i < argc && k < sizeof cmd; i++)
        k += (size_t)snprintf(cmd + k, sizeof cmd - k, " %s", argv[i]);
    o.command = cmd;
    lirf_ctx *ctx;
    if (cli_open(device, &ctx)) {
        free(dep);
        return 2;
    }
    json_t *rep = NULL;
    lirf_status st = lirf_verify_run(ctx, &o, &rep);
    int rc = 2;
    if (st != LIRF_OK) {
        cli_error(st, "verify");
    } else {
        char p[3][1200];
        snprintf(p[0], sizeof p[0], "%s/report.json", out);
        snprintf(p[1], sizeof p[1], "%s/report.md", out);
        snprintf(p[2], sizeof p[2], "%s/report.html", out);
        if ((st = lirf_report_write_json(rep, p[0])) || (st = lirf_report_write_md(rep, p[1])) ||
            (st = lirf_report_write_html(rep, p[2]))) {
            cli_error(st, "writing the reports");
        } else {
            rc = (int)json_integer_value(json_object_get(rep, "exit_code"));
            printf("%s: %s (exit %d)\nreports: %s, %s, %s\n", o.target,
                   json_string_value(json_object_get(rep, "verdict")), rc, p[0], p[1], p[2]);
            size_t i;
            json_t *c;
            json_array_foreach(json_object_get(rep, "checks"), i, c) {
                json_t *val = json_object_get(c, "value");
                printf("  %-32s %-8s value %8.3f  margin %g\n",
                       json_string_value(json_object_get(c, "name")),
                       json_string_value(json_object_get(c, "verdict")),
                       json_is_number(val) ? json_number_value(val) : 0.0 / 0.0,
                       json_number_value(json_object_get(c, "margin")));
            }
        }
    }
    json_decref(rep);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
