/* lirf reproduce: the paper's tables as resumable steps (lirf_repro_run,
 * reproduce/). The command parses, calls and prints. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "fileutil.h"
#include "reproduce.h"

static void usage(FILE *f) {
    lirf_repro_profile s, q;
    lirf_repro_profile_default(&s, 0);
    lirf_repro_profile_default(&q, 1);
    fprintf(f,
        "usage: lirf [--device SPEC] reproduce [--table LIST] [--data D] [--seeds K] [options]\n"
        "\n"
        "Runs the paper's experiments (Ye et al., ECCV 2022) as resumable steps and writes\n"
        "OUT/results.json and results.md (tables, SVG plots, the paper's values beside\n"
        "each row; mean and 95%% interval over seeds). It prints the plan first, with the\n"
        "estimated time of each step. A finished step leaves a small record (its settings,\n"
        "figures, time and the hashes of the nets it read and made) in the records folder;\n"
        "a step whose record is there and fits is not run again, and a killed step\n"
        "continues from its training state: run the same command again to go on. The\n"
        "networks stay in OUT; a step that needs a net OUT lacks makes it again.\n"
        "docs/reproduce.md says what each table runs.\n"
        "\n"
        "  --table LIST         1, 2, 3, 4, fig4 or all, or a list (default 1); Table 4:\n"
        "                       2 and 5 tasks, its baselines and T0's sequential deposits\n"
        "  --data D             fmnist (default: Debian's dataset-fashion-mnist), cifar10\n"
        "                       (../shared/data/cifar10/{train,test}.tar.gz), or a path as\n"
        "                       lirf train takes (with --test-data, --format, --image-size)\n"
        "  --name N             the data set's name in records and tables (default: from\n"
        "                       --data)\n"
        "  --deposit-classes L  (default 0,1,2: 30%% of the classes, as in the paper)\n"
        "  --seeds K            seeds 1..K (default 3)\n"
        "  --out DIR            networks, states and results (default lirf-reproduce)\n"
        "  --records DIR        the kept records (default OUT/records; the repository keeps\n"
        "                       its own in docs/results)\n"
        "  --md PATH            write the results there (default OUT/results.md): a new\n"
        "                       file whole, an existing one between its lines\n"
        "                       \"<!-- lirf reproduce: begin (generated; do not edit) -->\"\n"
        "                       and \"<!-- lirf reproduce: end -->\" (refused without them)\n"
        "  --plots SUB          the SVG plots in that subfolder of --md's folder (default:\n"
        "                       beside it)\n"
        "  --plan               print the plan and stop\n"
        "  --report-only        make the results from the records; run nothing\n"
        "  --max-steps N        stop after N steps have run (run again to go on)\n"
        "  --quick              small budgets that run in minutes (width %d, T0 %d epochs on\n"
        "                       %d images, deposits %d epochs): a check, not a reproduction\n"
        "budgets (the standard ones: width %d, T0 and Independent nets %d epochs on every\n"
        "training image, deposits %d epochs, students %d epochs on %d images, Table 4's\n"
        "first task %d epochs and each later task %d; a record names the budgets it was\n"
        "made with, and another budget keeps its own records):\n"
        "  --width W, --epochs N, --deposit-epochs N, --limit N, --batch N,\n"
        "  --task-epochs N (Table 4's later tasks), --first-task-epochs N\n"
        "  --json               print results.json's document on stdout (with --plan: the\n"
        "                       plan's)\n",
        q.width, q.epochs, q.limit, q.dep_epochs, s.width, s.epochs, s.dep_epochs,
        s.student_epochs, s.student_subset, s.il_first_epochs, s.il_epochs);
}

typedef struct {
    lirf_repro_job j;
    const char *tables, *dep_text;
    int json, custom;
} opts;

static int parse_budget(int argc, char **argv, int *i, opts *o, int *bad) {
    const char *v;
    lirf_repro_profile *p = &o->j.prof;
    struct { const char *name; int *field, lo; } B[] = {
        {"--width", &p->width, 1}, {"--epochs", &p->epochs, 1},
        {"--deposit-epochs", &p->dep_epochs, 1}, {"--limit", &p->limit, 0},
        {"--batch", &p->batch, 2},
        {"--task-epochs", &p->il_epochs, 1}, {"--first-task-epochs", &p->il_first_epochs, 1}};
    for (size_t k = 0; k < sizeof B / sizeof *B; k++)
        if (arg_value(argc, argv, i, B[k].name, &v, bad)) {
            *bad = *bad || !parse_int(v, B[k].lo, 1 << 30, B[k].name, B[k].field);
            o->custom = 1;
            return 1;
        }
    return 0;
}

/* 0 to go on, -1 after --help, else 2 */
static int parse(int argc, char **argv, opts *o) {
    const char *v;
    int bad = 0, quick = 0;
    for (int i = 1; i < argc && !bad; i++)
        if (arg_flag(argv, i, "--quick")) quick = 1;
    lirf_repro_profile_default(&o->j.prof, quick);
    for (int i = 1; i < argc && !bad; i++) {
        if (arg_flag(argv, i, "-h") || arg_flag(argv, i, "--help")) return usage(stdout), -1;
        else if (arg_flag(argv, i, "--quick")) {}
        else if (arg_value(argc, argv, &i, "--table", &o->tables, &bad)) {}
        else if (arg_value(argc, argv, &i, "--data", &o->j.data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--test-data", &o->j.test_data, &bad)) {}
        else if (arg_value(argc, argv, &i, "--format", &v, &bad)) bad = bad || !parse_data_kind(v, &o->j.kind);
        else if (arg_value(argc, argv, &i, "--name", &o->j.name, &bad)) {}
        else if (arg_value(argc, argv, &i, "--image-size", &v, &bad)) bad = bad || !parse_int(v, 8, 1024, "--image-size", &o->j.image_size);
        else if (arg_value(argc, argv, &i, "--deposit-classes", &o->dep_text, &bad)) {}
        else if (arg_value(argc, argv, &i, "--seeds", &v, &bad)) bad = bad || !parse_int(v, 1, 64, "--seeds", &o->j.seeds);
        else if (arg_value(argc, argv, &i, "--out", &o->j.out_dir, &bad)) {}
        else if (arg_value(argc, argv, &i, "--records", &o->j.records, &bad)) {}
        else if (arg_value(argc, argv, &i, "--md", &o->j.md_path, &bad)) {}
        else if (arg_value(argc, argv, &i, "--plots", &o->j.plots, &bad)) {}
        else if (arg_flag(argv, i, "--plan")) o->j.plan_only = 1;
        else if (arg_flag(argv, i, "--report-only")) o->j.report_only = 1;
        else if (arg_value(argc, argv, &i, "--max-steps", &v, &bad)) bad = bad || !parse_int(v, 1, 1 << 20, "--max-steps", &o->j.max_steps);
        else if (arg_flag(argv, i, "--json")) o->json = 1;
        else if (parse_budget(argc, argv, &i, o, &bad)) {}
        else bad = unknown_option("reproduce", argv[i]);
    }
    if (!bad && o->custom) snprintf(o->j.prof.name, sizeof o->j.prof.name, "custom");
    if (!bad && o->tables) bad = !parse_status(lirf_repro_parse_tables(o->tables, &o->j.tables));
    return bad ? 2 : 0;
}

/* results.json's document with where the files are, and the steps run */
static json_t *with_files(const lirf_repro_job *j, const lirf_repro_report *r) {
    json_t *doc = json_load_file(r->results_json, 0, NULL);
    if (!doc) return NULL;
    json_t *files = json_pack("{s:o,s:o,s:o}", "results_json", lirf_json_text(r->results_json),
                              "results_md", lirf_json_text(r->results_md), "out_dir",
                              lirf_json_text(j->out_dir));
    if (!files || json_object_set_new(doc, "files", files) ||
        json_object_set_new(doc, "steps_run", json_integer(r->ran)))
        return json_decref(doc), NULL;
    return doc;
}

/* --plan --json: the plan as a document */
static json_t *plan_json(const lirf_repro_plan *pl) {
    json_t *steps = json_array();
    for (int i = 0; steps && i < pl->n; i++) {
        const lirf_plan_item *it = &pl->item[i];
        json_array_append_new(steps, json_pack("{s:i,s:s,s:s,s:b,s:b,s:f}", "seed", it->seed,
                                               "step", it->def->id, "what", it->def->what, "done",
                                               it->done, "remake", it->remake, "estimate_s",
                                               it->est_seconds));
    }
    return json_pack("{s:o,s:o,s:i,s:f}", "dataset", lirf_json_text(pl->dataset), "steps", steps,
                     "to_run", pl->to_run, "estimate_s", pl->est_total);
}

int cmd_reproduce(const char *device, int argc, char **argv) {
    opts o;
    memset(&o, 0, sizeof o);
    lirf_repro_job_default(&o.j);
    o.j.log = stderr;
    int rc = parse(argc, argv, &o);
    if (rc) return rc < 0 ? 0 : rc;
    int32_t *dep = NULL;
    if (o.dep_text) {
        if (!parse_class_list(o.dep_text, LIRF_MAX_CLASSES, &dep, &o.j.ndep)) return 2;
        o.j.dep = dep;
    }
    lirf_ctx *ctx = NULL;
    int need_device = !o.j.plan_only && !o.j.report_only;
    lirf_repro_report *r = calloc(1, sizeof *r);
    if (!r || (need_device && cli_open(device, &ctx))) return free(dep), free(r), 2;
    lirf_status st = lirf_repro_run(ctx, &o.j, r);
    if (st) rc = cli_error(st, "reproduce");
    else if (o.json) rc = print_json(o.j.plan_only ? plan_json(&r->plan) : with_files(&o.j, r));
    else if (!o.j.plan_only)
        printf("lirf reproduce: %d steps run in %.0f s; %s, %s\n", r->ran, r->seconds,
               r->results_json, r->results_md);
    free(r);
    free(dep);
    if (ctx) lirf_ctx_destroy(ctx);
    return rc;
}
