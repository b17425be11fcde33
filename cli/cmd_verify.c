/* lirf verify: the auditor's knowledge-leakage audit (docs/verify.md). The
 * command parses its options, runs lirf_verify_run and writes the reports. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "fileutil.h"
#include "verify.h"

static const char USAGE[] = /* a printf format: the defaults come from lirf_verify_opts_default */
    "usage: lirf [--device SPEC] verify --target T --original T0 [--archive A]\n"
    "                                   [--independent I] [--target-no-at T'] [options]\n"
    "\n"
    "Audits whether the deposit classes' knowledge can still be got out of a target net\n"
    "(the paper's Table 3, and more probes) and writes report.json, report.md and\n"
    "report.html to --out. Every check is calibrated: it is run on the target and on\n"
    "two controls, the original T0 (positive: it knows the deposit classes) and a net\n"
    "that never saw them (negative: --independent, else trained by the audit from the\n"
    "preservation classes). A check has power when it flags T0; a check without power\n"
    "says \"inconclusive\", never \"pass\". Exit status: 0 no check with power found\n"
    "leakage; 1 one did (or the withdraw check failed); 3 no check had power, nothing\n"
    "could tell; 2 an error. docs/verify.md explains every number.\n"
    "\n"
    "nets (whole nets: trained with lirf train, or target nets from lirf deposit):\n"
    "  --target T            the net under audit (required)\n"
    "  --original T0         the net before the deposit: the positive control, teacher,\n"
    "                        and the reference of every change (without it every check\n"
    "                        is inconclusive)\n"
    "  --archive A           the deposit archive: withdraw, and check Dep Acc comes back\n"
    "  --independent I       the negative control: a net that never saw the deposit\n"
    "                        classes (the paper's Independent net). Without it the audit\n"
    "                        trains one (below) and keeps it as OUT/control.safetensors\n"
    "  --target-no-at T'     a target made without L_at (an extra teacher, as in Table 3)\n"
    "  --deposit-classes L   default: the target's deposit_classes metadata\n"
    "the negative control, when --independent is not given:\n"
    "  --control-epochs N    train it for N epochs (default %d) on the preservation-class\n"
    "  --control-limit N     images among the first --member-limit training images, at\n"
    "                        most N of them (default %d); the target's architecture, the\n"
    "                        original's preprocessing, lirf train's other defaults\n"
    "  --no-control          no negative control: the checks that need one are\n"
    "                        inconclusive (the linear probes use a fresh net)\n"
    "data (as lirf train; default Fashion-MNIST from Debian's dataset-fashion-mnist):\n"
    "  --data PATH, --format F, --image-size N\n"
    "budgets (measured: docs/verify.md gives the default audit's time on 2 cores):\n"
    "  --seeds K             repeat every student training K times; mean and 95%% interval\n"
    "                        (default %d)\n"
    "  --epochs N            student epochs (default %d)\n"
    "  --train-subset N      training images the students learn from (default %d; a fixed\n"
    "                        random subset, the same for every seed)\n"
    "  --test-subset N       evaluate on N evenly spaced test images (default 0: all)\n"
    "  --batch N             (default %d)\n"
    "students and distillation:\n"
    "  --preset P            lirf (default): true-label and no-label students; paper: the\n"
    "                        paper's Table 3 protocol only (true labels in the loss);\n"
    "                        options after --preset change it further\n"
    "  --students LIST       cnn,resnet18 (default both)\n"
    "  --student-width W     the ResNet-18 student's width (default %d)\n"
    "  --methods LIST        logit,at (default both)\n"
    "  --labels LIST         true,none (default both): with the true labels in the loss (the\n"
    "                        paper's protocol), and without (teacher outputs only)\n"
    "  --alpha X --T X       logit KD: alpha L_kd + (1 - alpha) CE; without labels L_kd\n"
    "                        alone (default %g, %g)\n"
    "  --beta X              AT: CE + beta/2 sum L_at; without labels L_kd + beta/2 sum L_at\n"
    "                        (default %g)\n"
    "  --student-lr X        (default %g; SGD momentum 0.9, cosine, no augmentation)\n"
    "probes:\n"
    "  --no-mia --no-probe --no-withdraw --no-deposit-alone --no-relearn   skip one\n"
    "  --member-limit N      the original's training images: the first N (default 0: all);\n"
    "                        MIA members are the deposit-class images among them\n"
    "  --mia-samples N       at most N members and N non-members (default %d)\n"
    "  --datafree-images N   data-free distillation: CNN students (logit KD, no labels)\n"
    "                        taught on N synthetic noise images (default %d; 0: none)\n"
    "  --probe-train N       linear-probe training images (default %d)\n"
    "  --probe-epochs N      (default %d)\n"
    "  --relearn-samples N   relearn: fine-tune on N labelled deposit-class images and as\n"
    "                        many preservation-class ones (default %d)\n"
    "  --relearn-fraction X  until Dep Acc reaches X times the original's (default %g)\n"
    "  --relearn-max-steps N (default %d; SGD lr %g, batch 32, Dep Acc measured every %d)\n"
    "margins (a check's value is the target's measure against the negative control; it\n"
    "flags leakage beyond its margin, and has power when the original's is beyond it):\n"
    "  --margin-distill P    true-label students: Dep Acc points over the negative\n"
    "                        control's student (default %g)\n"
    "  --margin-none P       no-label students: the same (default %g)\n"
    "  --margin-mia X        calibrated MIA AUC over 0.5 (default %g)\n"
    "  --margin-probe P      linear-probe Dep Acc points over the negative control's\n"
    "                        (default %g)\n"
    "  --margin-withdraw P   the recover net's Dep Acc may fall this far below the\n"
    "                        original's (default %g)\n"
    "  --margin-relearn R    leakage when the target relearns in fewer than R times the\n"
    "                        negative control's steps (default %g)\n"
    "output:\n"
    "  --out DIR             (default lirf-verify)\n"
    "  --from-json FILE      write report.md and report.html again from an earlier\n"
    "                        report.json (no audit is run; exits with its recorded code)\n"
    "  --quiet               no progress output\n"
    "  --json                print the verdict, the checks and the reports' paths as one\n"
    "                        JSON document on stdout (progress stays on stderr;\n"
    "                        docs/json.md); with --from-json too\n";

static void usage(FILE *f) {
    lirf_verify_opts d;
    lirf_verify_opts_default(&d);
    fprintf(f, USAGE, d.control_epochs, d.control_limit, d.seeds, d.epochs, d.train_subset,
            d.batch, d.student_width, (double)d.distill.alpha, (double)d.distill.T,
            (double)d.distill.beta, (double)d.distill.lr, d.mia_samples, d.datafree_images, d.probe_train,
            d.probe_opts.epochs, d.relearn_samples, (double)d.relearn_fraction, d.relearn_max_steps,
            (double)d.relearn_lr, d.relearn_eval_every, (double)d.margin_distill, (double)d.margin_none,
            (double)d.margin_mia, (double)d.margin_probe, (double)d.margin_withdraw,
            (double)d.margin_relearn);
}

/* ---- options: a table over the audit's options and the command's own ---- */
typedef struct { lirf_verify_opts o; const char *out, *dep, *from_json; int json; } args_t;
enum { T_STR, T_INT, T_FLOAT, T_KIND, T_LIST, T_PRESET, T_OFF, T_ON }; /* T_OFF, T_ON: flags */
/* off: of the field in args_t; T_INT, T_FLOAT: the range lo..hi; T_LIST: lo, the lirf_verify_list */
typedef struct { const char *name; int type; size_t off; double lo, hi; } opt_t;

#define F(field) offsetof(args_t, field)
#define STR(name, f) {name, T_STR, F(f), 0, 0}
#define INT(name, f, lo, hi) {name, T_INT, F(f), lo, hi}
#define FLT(name, f, lo, hi) {name, T_FLOAT, F(f), lo, hi}
#define OFF(name, f) {name, T_OFF, F(f), 0, 0}
#define G (1 << 30)
static const opt_t OPTS[] = {
    STR("--target", o.target), STR("--original", o.original), STR("--archive", o.archive),
    STR("--independent", o.independent), STR("--target-no-at", o.target_no_at),
    STR("--deposit-classes", dep), STR("--data", o.data), {"--format", T_KIND, F(o.kind), 0, 0},
    INT("--image-size", o.image_size, 8, 1024), INT("--seeds", o.seeds, 1, 64),
    INT("--epochs", o.epochs, 1, 1000), INT("--train-subset", o.train_subset, 2, G),
    INT("--test-subset", o.test_subset, 0, G), INT("--batch", o.batch, 2, 65536),
    {"--students", T_LIST, F(o.students), LIRF_VERIFY_STUDENTS, 0},
    INT("--student-width", o.student_width, 1, 1024),
    {"--methods", T_LIST, F(o.methods), LIRF_VERIFY_METHODS, 0},
    {"--labels", T_LIST, F(o.labels), LIRF_VERIFY_LABELS, 0},
    FLT("--alpha", o.distill.alpha, 0, 1), FLT("--T", o.distill.T, 0.01, 1000),
    FLT("--beta", o.distill.beta, 0, 1e7), FLT("--student-lr", o.distill.lr, 1e-7, 10),
    OFF("--no-mia", o.mia), OFF("--no-probe", o.probe), OFF("--no-withdraw", o.withdraw_check),
    OFF("--no-deposit-alone", o.deposit_alone), OFF("--no-relearn", o.relearn),
    INT("--relearn-samples", o.relearn_samples, 2, G), INT("--relearn-max-steps", o.relearn_max_steps, 1, G),
    FLT("--relearn-fraction", o.relearn_fraction, 0, 10), FLT("--margin-relearn", o.margin_relearn, 0, 1000),
    INT("--member-limit", o.member_limit, 0, G), INT("--mia-samples", o.mia_samples, 0, G),
    INT("--probe-train", o.probe_train, 1, G), INT("--probe-epochs", o.probe_opts.epochs, 1, 10000),
    FLT("--margin-distill", o.margin_distill, -100, 100),
    INT("--control-epochs", o.control_epochs, 1, 10000), INT("--control-limit", o.control_limit, 0, G),
    OFF("--no-control", o.train_control), INT("--datafree-images", o.datafree_images, 0, G), {"--preset", T_PRESET, F(o), 0, 0},
    FLT("--margin-none", o.margin_none, -100, 100), FLT("--margin-mia", o.margin_mia, -1, 1),
    FLT("--margin-probe", o.margin_probe, -100, 100), FLT("--margin-withdraw", o.margin_withdraw, -100, 100),
    STR("--out", out), {"--quiet", T_ON, F(o.quiet), 0, 0}, STR("--from-json", from_json),
    {"--json", T_ON, F(json), 0, 0}};

/* --preset: lirf's protocol (the defaults) or the paper's Table 3 (true
 * labels only); 0 on an unknown name */
static int apply_preset(const char *v, lirf_verify_opts *o) {
    if (!strcmp(v, "lirf")) o->labels = 3;
    else if (!strcmp(v, "paper")) o->labels = 1;
    else return fprintf(stderr, "lirf verify: --preset: unknown preset \"%s\" (lirf, paper)\n", v), 0;
    o->preset = v;
    return 1;
}

/* argv[*i] against OPTS: 1 when it is one of them (*bad set on a bad value) */
static int parse_option(args_t *a, int argc, char **argv, int *i, int *bad) {
    for (size_t k = 0; k < sizeof OPTS / sizeof *OPTS; k++) {
        const opt_t *p = &OPTS[k];
        void *field = (char *)a + p->off;
        const char *v = NULL;
        if (p->type == T_OFF || p->type == T_ON) {
            if (!arg_flag(argv, *i, p->name)) continue;
            *(int *)field = p->type == T_ON;
            return 1;
        }
        if (!arg_value(argc, argv, i, p->name, &v, bad)) continue;
        if (*bad) return 1;
        lirf_status st;
        switch (p->type) {
        case T_STR: *(const char **)field = v; break;
        case T_INT: *bad = !parse_int(v, (long)p->lo, (long)p->hi, p->name, field); break;
        case T_FLOAT: *bad = !parse_float(v, p->lo, p->hi, p->name, field); break;
        case T_KIND: *bad = !parse_data_kind(v, field); break;
        case T_PRESET: *bad = !apply_preset(v, field); break;
        default:
            if ((st = lirf_verify_parse_list((lirf_verify_list)p->lo, v, field)) != LIRF_OK)
                *bad = 1, cli_error(st, "verify");
        }
        return 1;
    }
    return 0;
}

/* -1: go on; else the exit status (0 after --help, 2 after a bad option) */
static int parse_args(args_t *a, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    lirf_verify_opts_default(&a->o);
    a->out = "lirf-verify";
    int bad = 0;
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), 0;
        if (!parse_option(a, argc, argv, &i, &bad)) {
            fprintf(stderr, "lirf verify: unknown option %s (see lirf verify --help)\n", argv[i]);
            bad = 1;
        }
    }
    return bad ? 2 : -1;
}

/* ---- output ---- */
static int make_out_dir(const char *out) {
    if (mkdir(out, 0777) == 0 || errno == EEXIST) return 1;
    fprintf(stderr, "lirf verify: cannot create %s: %s\n", out, strerror(errno));
    return 0;
}

/* --from-json: report.md and report.html again from an earlier report.json */
static int render_again(const char *from_json, const char *out, int json) {
    json_t *rep = NULL;
    lirf_status st = lirf_report_load(from_json, &rep);
    if (st != LIRF_OK) return cli_error(st, "--from-json");
    int rc = 2;
    if (!make_out_dir(out)) {
    } else if ((st = lirf_report_write_dir(rep, out, 0)) != LIRF_OK) {
        cli_error(st, "writing the reports");
    } else {
        rc = (int)json_integer_value(json_object_get(rep, "exit_code"));
        if (json) {
            json_t *doc = lirf_report_summary_json(rep, out, 0);
            if (doc) json_object_set_new(doc, "from_json", lirf_json_text(from_json));
            if (print_json(doc)) rc = 2;
        } else {
            printf("%s/report.md, %s/report.html rendered from %s (exit %d as recorded)\n", out,
                   out, from_json, rc);
        }
    }
    json_decref(rep);
    return rc;
}

/* The three reports, and the verdict and checks on stdout; the exit status. */
static int write_reports(const json_t *rep, const char *out, const char *target, int json) {
    lirf_status st = lirf_report_write_dir(rep, out, 1);
    if (st != LIRF_OK) return cli_error(st, "writing the reports");
    int rc = (int)json_integer_value(json_object_get(rep, "exit_code"));
    if (json) return print_json(lirf_report_summary_json(rep, out, 1)) ? 2 : rc;
    printf("%s: %s (exit %d)\n%s\nreports: %s/report.json, %s/report.md, %s/report.html\n", target,
           json_string_value(json_object_get(rep, "verdict")), rc,
           json_string_value(json_object_get(json_object_get(rep, "calibration"), "text")), out, out, out);
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(rep, "checks"), i, c) {
        json_t *val = json_object_get(c, "value");
        json_t *pos = json_object_get(c, "positive"), *pw = json_object_get(c, "power");
        char v[32] = "       —", p[32] = "       —";
        if (json_is_number(val)) snprintf(v, sizeof v, "%8.3f", json_number_value(val));
        if (json_is_number(pos)) snprintf(p, sizeof p, "%8.3f", json_number_value(pos));
        printf("  %-34s %-12s value %s  original %s  margin %-5g power %s\n",
               json_string_value(json_object_get(c, "name")),
               json_string_value(json_object_get(c, "verdict")), v, p,
               json_number_value(json_object_get(c, "margin")),
               json_is_true(pw) ? "yes" : json_is_false(pw) ? "no" : "n/a");
    }
    return rc;
}

int cmd_verify(const char *device, int argc, char **argv) {
    args_t a;
    int rc = parse_args(&a, argc, argv);
    if (rc >= 0) return rc;
    if (a.from_json) return render_again(a.from_json, a.out, a.json);
    if (!a.o.target) return fprintf(stderr, "lirf verify: give the net under audit with --target PATH\n"), 2;
    int32_t *dep = NULL;
    if (a.dep && !parse_class_list(a.dep, LIRF_MAX_CLASSES, &dep, &a.o.ndep)) return 2;
    a.o.dep = dep;
    lirf_ctx *ctx = NULL;
    if (!make_out_dir(a.out) || cli_open(device, &ctx)) {
        free(dep);
        return 2;
    }
    a.o.out_dir = a.out;
    char cmd[4096]; /* the command line, for the report */
    size_t k = (size_t)snprintf(cmd, sizeof cmd, "lirf");
    for (int i = 0; i < argc && k < sizeof cmd; i++)
        k += (size_t)snprintf(cmd + k, sizeof cmd - k, " %s", argv[i]);
    a.o.command = cmd;
    json_t *rep = NULL;
    lirf_status st = lirf_verify_run(ctx, &a.o, &rep);
    rc = st != LIRF_OK ? cli_error(st, "verify") : write_reports(rep, a.out, a.o.target, a.json);
    json_decref(rep);
    free(dep);
    lirf_ctx_destroy(ctx);
    return rc;
}
