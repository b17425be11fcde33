/* The steps of a reproduction, the budgets, and the plan with its estimates. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "repro_priv.h"

/* Every step, in run order. Table 2's rows are the paper's: L_kr + L_kp
 * without L_at (no deposit module trained), + L_pt + L_re, + L_at (the
 * module not pruned), + pruning (LIRF as published: "deposit"). Fig. 4 moves
 * the split block n and the prune rate around LIRF's n = 2, rate 0.5.
 * Table 4 (2 and 5 tasks): the first task's net, each method from it over
 * the later tasks, and LIRF's deposits of each task's deletion classes from
 * T0 in turn. */
/* Table 4's steps for T tasks: the first task, a method, LIRF */
#define T4_FIRST(T)                                                                            \
    {"t4-" #T "-first", "Table 4, " #T " tasks: the first task learnt (shared by the methods)",   \
     LIRF_STEP_T4_FIRST, 0, 0, 0, 0, 0, LIRF_REPRO_TABLE4, T, "baseline"}
#define T4_METHOD(T, m, what)                                                                  \
    {"t4-" #T "-" m, "Table 4, " #T " tasks: " what, LIRF_STEP_T4_METHOD, 0, 0, 0, 0, 0,        \
     LIRF_REPRO_TABLE4, T, m}
#define T4_LIRF(T)                                                                             \
    {"t4-" #T "-lirf", "Table 4, " #T " tasks: T0's sequential deposits (LIRF)",                \
     LIRF_STEP_T4_LIRF, 2, 0.5f, 1, 1, 1, LIRF_REPRO_TABLE4, T, "lirf"}
#define T4_SETTING(T)                                                                          \
    T4_FIRST(T), T4_METHOD(T, "baseline", "Baseline"), T4_METHOD(T, "lwf", "LwF"),             \
        T4_METHOD(T, "lwf-sel", "LwF*: distilled on the old preservation columns only"),       \
        T4_METHOD(T, "ewc", "EWC"),                                                            \
        T4_METHOD(T, "ewc-sel", "EWC*: the Fisher of the old preservation classes"),           \
        T4_METHOD(T, "ewc-sel+lwf-sel", "EWC* + LwF*"), T4_METHOD(T, "mas", "MAS"),            \
        T4_METHOD(T, "mas+lwf-sel", "MAS + LwF*"), T4_LIRF(T)

static const lirf_step_def STEPS[] = {
    {"t0", "T0 on every class", LIRF_STEP_T0, 0, 0, 0, 0, 0, LIRF_REPRO_ALL, 0, NULL},
    {"independent-pre", "Independent net on the preservation classes", LIRF_STEP_INDEP_PRE, 0, 0,
     0, 0, 0, LIRF_REPRO_TABLE1 | LIRF_REPRO_TABLE2, 0, NULL},
    {"independent-dep", "Independent net on the deposit classes", LIRF_STEP_INDEP_DEP, 0, 0, 0, 0,
     0, LIRF_REPRO_TABLE1 | LIRF_REPRO_TABLE2, 0, NULL},
    {"il-train", "IL Train: the preservation-class net learns the deposit classes (LwF)",
     LIRF_STEP_IL, 0, 0, 0, 0, 0, LIRF_REPRO_TABLE2, 0, NULL},
    {"deposit", "LIRF deposit: every loss, module pruned (n 2, rate 0.5)", LIRF_STEP_DEPOSIT, 2,
     0.5f, 1, 1, 1, LIRF_REPRO_TABLE1 | LIRF_REPRO_TABLE2 | LIRF_REPRO_TABLE3 | LIRF_REPRO_FIG4, 0,
     NULL},
    {"deposit-no-at", "deposit without L_at", LIRF_STEP_DEPOSIT, 2, 0.5f, 0, 1, 1,
     LIRF_REPRO_TABLE2 | LIRF_REPRO_TABLE3, 0, NULL},
    {"deposit-kr-kp", "deposit with L_kr and L_kp only (no L_at, L_pt, L_re)", LIRF_STEP_DEPOSIT, 2,
     0.5f, 0, 0, 0, LIRF_REPRO_TABLE2, 0, NULL},
    {"deposit-no-prune", "deposit with every loss, module not pruned", LIRF_STEP_DEPOSIT, 2, 0.0f,
     1, 1, 1, LIRF_REPRO_TABLE2, 0, NULL},
    {"deposit-split1", "deposit split after block 1", LIRF_STEP_DEPOSIT, 1, 0.5f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-split3", "deposit split after block 3", LIRF_STEP_DEPOSIT, 3, 0.5f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-split4", "deposit split after block 4", LIRF_STEP_DEPOSIT, 4, 0.5f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-rate0.1", "deposit, prune rate 0.1", LIRF_STEP_DEPOSIT, 2, 0.1f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-rate0.3", "deposit, prune rate 0.3", LIRF_STEP_DEPOSIT, 2, 0.3f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-rate0.7", "deposit, prune rate 0.7", LIRF_STEP_DEPOSIT, 2, 0.7f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"deposit-rate0.9", "deposit, prune rate 0.9", LIRF_STEP_DEPOSIT, 2, 0.9f, 1, 1, 1,
     LIRF_REPRO_FIG4, 0, NULL},
    {"students", "Table 3's students of T0 and the two targets (lirf verify --preset paper)",
     LIRF_STEP_STUDENTS, 0, 0, 0, 0, 0, LIRF_REPRO_TABLE3, 0, NULL},
    T4_SETTING(2),
    T4_SETTING(5),
};
#define NSTEPS ((int)(sizeof STEPS / sizeof *STEPS))

const lirf_step_def *lirf_repro_steps(int *n) {
    if (n) *n = NSTEPS;
    return STEPS;
}

const lirf_step_def *lirf_repro_step_find(const char *id) {
    for (int i = 0; id && i < NSTEPS; i++)
        if (!strcmp(STEPS[i].id, id)) return &STEPS[i];
    return NULL;
}

/* The steps a step reads the networks of (NULL-terminated). */
void rp_step_inputs(const lirf_step_def *d, const lirf_step_def **in) {
    int n = 0;
    if (d->kind == LIRF_STEP_DEPOSIT || d->kind == LIRF_STEP_STUDENTS ||
        d->kind == LIRF_STEP_T4_LIRF)
        in[n++] = lirf_repro_step_find("t0");
    if (d->kind == LIRF_STEP_T4_METHOD) {
        char id[32];
        snprintf(id, sizeof id, "t4-%d-first", d->tasks);
        in[n++] = lirf_repro_step_find(id);
    }
    if (d->kind == LIRF_STEP_IL) in[n++] = lirf_repro_step_find("independent-pre");
    if (d->kind == LIRF_STEP_STUDENTS) {
        in[n++] = lirf_repro_step_find("deposit");
        in[n++] = lirf_repro_step_find("deposit-no-at");
    }
    in[n] = NULL;
}

lirf_status lirf_repro_parse_tables(const char *text, int *bits) {
    if (!text || !bits) return LIRF_FAIL(LIRF_E_NULL, "lirf_repro_parse_tables: NULL argument");
    static const struct { const char *name; int bit; } W[] = {
        {"1", LIRF_REPRO_TABLE1}, {"2", LIRF_REPRO_TABLE2}, {"3", LIRF_REPRO_TABLE3},
        {"4", LIRF_REPRO_TABLE4}, {"fig4", LIRF_REPRO_FIG4}, {"all", LIRF_REPRO_ALL}};
    *bits = 0;
    const char *p = text;
    while (*p) {
        size_t len = strcspn(p, ",");
        int found = 0;
        for (size_t k = 0; k < sizeof W / sizeof *W && !found; k++)
            if (strlen(W[k].name) == len && !strncmp(p, W[k].name, len)) *bits |= W[k].bit, found = 1;
        if (!found)
            return LIRF_FAIL(LIRF_E_INVALID, "--table: unknown table \"%.*s\" (1, 2, 3, 4, fig4, "
                             "all, or a list of them)", (int)len, p);
        p += len + (p[len] == ',');
    }
    if (!*bits) return LIRF_FAIL(LIRF_E_INVALID, "--table: no table named");
    return LIRF_OK;
}

void lirf_repro_profile_default(lirf_repro_profile *p, int quick) {
    if (quick) {
        *p = (lirf_repro_profile){.width = 8, .epochs = 3, .batch = 64, .limit = 2000,
                                  .dep_epochs = 2, .dep_limit = 600, .student_epochs = 1,
                                  .student_subset = 1000, .student_width = 4,
                                  .il_first_epochs = 1, .il_epochs = 1};
        snprintf(p->name, sizeof p->name, "quick");
        return;
    }
    *p = (lirf_repro_profile){.width = 16, .epochs = 15, .batch = 128, .limit = 0,
                              .dep_epochs = 5, .dep_limit = 0, .student_epochs = 2,
                              .student_subset = 20000, .student_width = 8,
                              .il_first_epochs = 8, .il_epochs = 3};
    snprintf(p->name, sizeof p->name, "standard");
}

void lirf_repro_job_default(lirf_repro_job *j) {
    memset(j, 0, sizeof *j);
    j->kind = LIRF_DATA_AUTO;
    j->tables = LIRF_REPRO_TABLE1;
    j->seeds = 3;
    lirf_repro_profile_default(&j->prof, 0);
    j->out_dir = "lirf-reproduce";
}

int rp_t4_ndel(const rp_t *R, int T) {
    int C = R->K / T, d = (int)lround(0.3 * C);
    return d < 1 ? 1 : d > C - 1 ? C - 1 : d;
}

/* A Table 4 method's images: the later tasks' epochs (LwF: one more forward
 * of the old net, counted as a third of a step) and, for EWC and MAS, one
 * importance pass over each task but the last (as a training epoch). */
static double t4_method_images(const rp_t *R, const lirf_step_def *d, double n) {
    const lirf_il_method *m = lirf_il_method_find(d->method);
    double later = n * (d->tasks - 1) / d->tasks;
    double img = later * R->j->prof.il_epochs * (m && m->lwf ? 4.0 / 3 : 1);
    return img + (m && m->reg ? later : 0);
}

/* Images a step goes through, from the budgets alone (the data are not read
 * to plan): n_train the training images, share the deposit classes' share. */
static double step_images(const rp_t *R, const lirf_step_def *d) {
    const lirf_repro_profile *p = &R->j->prof;
    double n = p->limit > 0 && p->limit < R->n_train ? p->limit : R->n_train;
    double share = (double)R->ndep / R->K, dep_n = R->n_train * share;
    if (p->dep_limit > 0 && p->dep_limit < dep_n) dep_n = p->dep_limit;
    switch (d->kind) {
    case LIRF_STEP_T0: return n * p->epochs;
    case LIRF_STEP_INDEP_PRE: return n * (1 - share) * p->epochs;
    case LIRF_STEP_INDEP_DEP: return n * share * p->epochs;
    case LIRF_STEP_DEPOSIT: return dep_n * 0.95 * p->dep_epochs;
    case LIRF_STEP_IL: return dep_n * p->dep_epochs;
    case LIRF_STEP_STUDENTS: return (double)p->student_subset * p->student_epochs * 14;
    case LIRF_STEP_T4_FIRST: return n / d->tasks * p->il_first_epochs;
    case LIRF_STEP_T4_METHOD: return t4_method_images(R, d, n);
    case LIRF_STEP_T4_LIRF: {
        double per = R->n_train * rp_t4_ndel(R, d->tasks) / R->K;
        if (p->dep_limit > 0 && p->dep_limit < per) per = p->dep_limit;
        return (d->tasks - 1) * per * 0.95 * p->dep_epochs;
    }
    case LIRF_STEP_KINDS: break;
    }
    return 0;
}

/* Images a second for a kind of step: measured in the records when there
 * are, else the rates of 2 Xeon cores at width 16 (docs/reproduce.md), for
 * another width scaled by the square of its ratio to 16 (not below 16). */
static double step_rate(const rp_t *R, lirf_step_kind k) {
    if (R->rate_n[k] > 0 && R->rate_s[k] > 0) return R->rate_n[k] / R->rate_s[k];
    static const double base[LIRF_STEP_KINDS] = {460, 460, 460, 240, 700, 300, 460, 460, 240};
    double w = R->j->prof.width > 16 ? R->j->prof.width / 16.0 : 1.0;
    return base[k] / (w * w);
}

double rp_estimate(const rp_t *R, const lirf_step_def *d) {
    return step_images(R, d) / step_rate(R, d->kind) + (d->kind == LIRF_STEP_T0 ? 10 : 5);
}

static void fmt_time(double s, char *b, size_t n) {
    if (s < 90) snprintf(b, n, "%.0f s", s);
    else if (s < 5400) snprintf(b, n, "%.0f min", s / 60);
    else snprintf(b, n, "%.1f h", s / 3600);
}

void rp_print_plan(const rp_t *R, const lirf_repro_plan *pl) {
    FILE *f = R->j->log;
    if (!f) return;
    fprintf(f, "lirf reproduce: %s, seeds 1..%d, the %s budgets: T0 %d epochs, deposits %d "
            "epochs; records in %s\n", pl->dataset, R->j->seeds, R->j->prof.name,
            R->j->prof.epochs, R->j->prof.dep_epochs, R->records);
    for (int i = 0; i < pl->n; i++) {
        const lirf_plan_item *it = &pl->item[i];
        char t[32];
        fmt_time(it->est_seconds, t, sizeof t);
        fprintf(f, "  seed %d  %-20s %-8s %s%s\n", it->seed, it->def->id,
                it->done ? "done" : t, it->def->what,
                it->remake ? " (recorded; its net is made again)" : it->needed ? "" : " (its nets only)");
    }
    char t[32];
    fmt_time(pl->est_total, t, sizeof t);
    fprintf(f, "lirf reproduce: %d of %d steps to run, about %s (estimates: %s)\n", pl->to_run,
            pl->n, t, R->have_rates ? "the rates of this records folder's steps"
                                    : "rates measured on 2 Xeon cores");
}
