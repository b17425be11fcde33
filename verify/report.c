/* Reports of an audit: JSON, Markdown and a self-contained HTML page with
 * inline SVG charts (no scripts, no network). All three render the one JSON
 * object that lirf_verify_run builds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fileutil.h"
#include "verify.h"

static const char *S(const json_t *o, const char *k) {
    const char *v = json_string_value(json_object_get(o, k));
    return v ? v : "";
}
static double D(const json_t *o, const char *k) {
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

static FILE *open_out(const char *path) {
    FILE *f = fopen(path, "w");
    if (!f) lirf_fail(LIRF_E_IO, __FILE__, __LINE__, "cannot write %s", path);
    return f;
}
static lirf_status close_out(FILE *f, const char *path) {
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) return LIRF_FAIL(LIRF_E_IO, "error writing %s", path);
    return LIRF_OK;
}

lirf_status lirf_report_write_json(const json_t *r, const char *path) {
    if (json_dump_file(r, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
        return LIRF_FAIL(LIRF_E_IO, "cannot write %s", path);
    return LIRF_OK;
}

lirf_status lirf_report_load(const char *path, json_t **out) {
    json_error_t err;
    *out = json_load_file(path, 0, &err);
    if (*out && json_is_array(json_object_get(*out, "checks"))) return LIRF_OK;
    lirf_status st = LIRF_FAIL(LIRF_E_FORMAT, "%s is not a report.json: %s", path,
                               *out ? "no checks in it" : err.text);
    json_decref(*out);
    *out = NULL;
    return st;
}

/* "12.34" or "12.34 ± 0.56"; "—" when absent */
static void fmt(char *b, size_t n, double v, double ci, int signed_) {
    if (!isfinite(v)) {
        snprintf(b, n, "—");
        return;
    }
    if (isfinite(ci) && ci > 0)
        snprintf(b, n, signed_ ? "%+.2f ± %.2f" : "%.2f ± %.2f", v, ci);
    else snprintf(b, n, signed_ ? "%+.2f" : "%.2f", v);
}

static int seeds_of(const json_t *r) {
    return (int)json_integer_value(json_object_get(json_object_get(r, "options"), "seeds"));
}

static const char *method_label(const char *m) {
    return !strcmp(m, "logit") ? "logit KD" : !strcmp(m, "at") ? "attention (AT)" : "CE only";
}

/* ---- Markdown ---- */
static void md_table3(FILE *f, const json_t *r) {
    const json_t *t = json_object_get(r, "table3");
    size_t i;
    json_t *row;
    fprintf(f, "| student | method | labels | teacher | Pre Acc | Dep Acc | ΔPre vs Original's student | ΔDep vs Original's student |\n");
    fprintf(f, "|---|---|---|---|---:|---:|---:|---:|\n");
    json_array_foreach(t, i, row) {
        char a[64], b[64], c[64], d[64];
        fmt(a, sizeof a, D(row, "pre_acc"), D(row, "pre_ci95"), 0);
        fmt(b, sizeof b, D(row, "dep_acc"), D(row, "dep_ci95"), 0);
        fmt(c, sizeof c, D(row, "d_pre_vs_original"), D(row, "d_pre_ci95"), 1);
        fmt(d, sizeof d, D(row, "d_dep_vs_original"), D(row, "d_dep_ci95"), 1);
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", S(row, "student"),
                method_label(S(row, "method")),
                json_is_true(json_object_get(row, "labels")) ? "true" : "none",
                S(row, "teacher_label"), a, b, c, d);
    }
}

/* The paper's layout: a row per student and method, a column per teacher,
 * "Pre / Dep" in each cell (and Dep's change against the original's student). */
static void md_table3_paper(FILE *f, const json_t *r, int labels) {
    const json_t *t = json_object_get(r, "table3");
    static const char *teach[] = {"none", "original", "target_no_at", "target", "independent"};
    static const char *tl[] = {"No teacher", "Original", "Target w/o L_at", "Target", "Independent"};
    int have[5] = {0};
    size_t i;
    json_t *row;
    json_array_foreach(t, i, row) {
        if (json_is_true(json_object_get(row, "labels")) != (labels != 0)) continue;
        for (int k = 0; k < 5; k++)
            if (!strcmp(S(row, "teacher"), teach[k])) have[k] = 1;
    }
    fprintf(f, "\n**%s** — each cell: Pre Acc / Dep Acc (Dep's change against the original's student)\n\n",
            labels ? "With true labels (the paper's protocol)" : "No true labels (teacher outputs only)");
    fprintf(f, "| student | method |");
    for (int k = 0; k < 5; k++)
        if (have[k] && (labels || k)) fprintf(f, " %s |", tl[k]);
    fprintf(f, "\n|---|---|");
    for (int k = 0; k < 5; k++)
        if (have[k] && (labels || k)) fprintf(f, "---:|");
    fprintf(f, "\n");
    static const char *studs[] = {"cnn", "resnet18"}, *meths[] = {"logit", "at"};
    for (int s = 0; s < 2; s++)
        for (int m = 0; m < 2; m++) {
            int any = 0;
            json_array_foreach(t, i, row) if (!strcmp(S(row, "student"), studs[s]) &&
                                              !strcmp(S(row, "method"), meths[m])) any = 1;
            if (!any) continue;
            fprintf(f, "| %s | %s |", studs[s], method_label(meths[m]));
            for (int k = 0; k < 5; k++) {
                if (!have[k] || (!labels && !k)) continue;
                const json_t *hit = NULL;
                json_array_foreach(t, i, row) {
                    if (strcmp(S(row, "student"), studs[s]) || strcmp(S(row, "teacher"), teach[k]))
                        continue;
                    if (k && strcmp(S(row, "method"), meths[m])) continue;
                    if (json_is_true(json_object_get(row, "labels")) != (labels != 0)) continue;
                    hit = row;
                }
                if (!hit) {
                    fprintf(f, " — |");
                    continue;
                }
                char a[64], b[64], c[64];
                fmt(a, sizeof a, D(hit, "pre_acc"), D(hit, "pre_ci95"), 0);
                fmt(b, sizeof b, D(hit, "dep_acc"), D(hit, "dep_ci95"), 0);
                fmt(c, sizeof c, D(hit, "d_dep_vs_original"), D(hit, "d_dep_ci95"), 1);
                if (k >= 2) fprintf(f, " %s / %s (%s) |", a, b, c);
                else fprintf(f, " %s / %s |", a, b);
            }
            fprintf(f, "\n");
        }
}

/* "yes", "no" or "n/a" (not a leakage check, or unknown) */
static const char *power_word(const json_t *c) {
    const json_t *p = json_object_get(c, "power");
    return json_is_true(p) ? "yes" : json_is_false(p) ? "no" : "n/a";
}

static void md_header(FILE *f, const json_t *r) {
    fprintf(f, "# lirf verify: knowledge-leakage audit\n\n");
    fprintf(f, "**Verdict: %s** (exit %d).", S(r, "verdict"),
            (int)json_integer_value(json_object_get(r, "exit_code")));
    if (json_object_get(r, "calibration")) fprintf(f, " %s", S(json_object_get(r, "calibration"), "text"));
    fprintf(f, "\n\n");
    fprintf(f, "lirf %s, %s, on %s (%s, driver %s). Total time %.0f s.\n\n", S(r, "lirf_version"),
            S(r, "started_utc"), S(json_object_get(r, "device"), "name"),
            S(json_object_get(r, "device"), "platform"), S(json_object_get(r, "device"), "driver"),
            D(json_object_get(r, "seconds"), "total"));
    if (json_object_get(r, "command")) fprintf(f, "Command: `%s`\n\n", S(r, "command"));
}

static void md_inputs(FILE *f, const json_t *r) {
    const json_t *in = json_object_get(r, "inputs");
    fprintf(f, "## Inputs\n\n| role | path | SHA-256 |\n|---|---|---|\n");
    const char *roles[] = {"target", "original", "target_no_at", "independent", "archive"};
    for (int k = 0; k < 5; k++) {
        const json_t *m = json_object_get(in, roles[k]);
        if (m) fprintf(f, "| %s | `%s` | `%s` |\n", roles[k], S(m, "path"), S(m, "sha256"));
    }
    const json_t *data = json_object_get(in, "data");
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(data, "files_sha256"), key, v)
        fprintf(f, "| data | `%s` | `%s` |\n", key, json_string_value(v));
    fprintf(f, "\nDeposit classes:");
    size_t i;
    json_array_foreach(json_object_get(r, "deposit_classes"), i, v)
        fprintf(f, "%s %lld", i ? "," : "", (long long)json_integer_value(v));
    fprintf(f, ". Seeds: %d.\n\n", seeds_of(r));
}

static void md_checks(FILE *f, const json_t *r) {
    fprintf(f, "## Checks\n\nEach check is run on the target and on two controls: the original "
               "(positive: it knows the deposit classes) and the negative control (it never saw "
               "them). A value is the target's measure against the negative control; the "
               "original's is the same measure of the original. A check has **power** when the "
               "original's is beyond the margin; without power its verdict is **inconclusive**. "
               "± is the half-width of a 95%% Student-t interval over seeds.\n\n");
    fprintf(f, "| check | value (target) | negative control | control value | original | margin | power | verdict |\n"
               "|---|---:|---|---:|---:|---:|---|---|\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        char a[64], b[64], p[64];
        fmt(a, sizeof a, D(c, "value"), D(c, "ci95"), 1);
        fmt(b, sizeof b, D(c, "control"), 0, 0);
        fmt(p, sizeof p, D(c, "positive"), D(c, "positive_ci95"), 1);
        fprintf(f, "| %s | %s | %s | %s | %s | %s%g | %s | **%s** |\n", S(c, "name"), a,
                S(c, "control_is"), b, p, !strcmp(S(c, "leak_when"), "below") ? "< " : "",
                D(c, "margin"), power_word(c), S(c, "verdict"));
    }
    fprintf(f, "\nPower, check by check:\n\n");
    json_array_foreach(json_object_get(r, "checks"), i, c)
        fprintf(f, "- `%s`: %s\n", S(c, "name"), S(c, "power_text"));
}

static void md_nets(FILE *f, const json_t *r) {
    fprintf(f, "\n## The nets on the test split\n\n| net | Pre Acc | Dep Acc | Avg Acc |\n|---|---:|---:|---:|\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "nets"), i, c)
        fprintf(f, "| %s | %.2f | %.2f | %.2f |\n", S(c, "label"), D(c, "pre_acc"), D(c, "dep_acc"),
                D(c, "avg_acc"));
    const json_t *w = json_object_get(r, "withdraw");
    if (w) fprintf(f, "| Recover (withdraw of --archive) | %.2f | %.2f | %.2f |\n", D(w, "pre_acc"), D(w, "dep_acc"), D(w, "avg_acc"));
    const json_t *da = json_object_get(r, "deposit_module_alone");
    if (da && !json_object_get(da, "skipped")) fprintf(f, "| Deposit module + upper part alone | %.2f | %.2f | %.2f |\n", D(da, "pre_acc"), D(da, "dep_acc"), D(da, "avg_acc"));
}

static void md_distillation(FILE *f, const json_t *r) {
    if (!json_array_size(json_object_get(r, "table3"))) return;
    fprintf(f, "\n## Table 3: distillation (students' test accuracy)\n");
    int lt = 0, ln = 0;
    size_t q;
    json_t *row;
    json_array_foreach(json_object_get(r, "table3"), q, row) {
        if (json_is_true(json_object_get(row, "labels"))) lt = 1;
        else ln = 1;
    }
    if (lt) md_table3_paper(f, r, 1);
    if (ln) md_table3_paper(f, r, 0);
    fprintf(f, "\nEvery row:\n\n");
    md_table3(f, r);
}

static void md_probes(FILE *f, const json_t *r) {
    size_t i;
    json_t *c;
    const json_t *mia = json_object_get(r, "mia");
    if (mia) {
        fprintf(f, "\n## Membership inference (deposit classes)\n\n"
                   "Members: training images of the deposit classes among the original's; "
                   "non-members: their test images. Calibrated score: %s; plain: %s.\n\n"
                   "| net | AUC | TPR at 1%% FPR | TPR at 0.1%% FPR | plain AUC | plain TPR at 1%% FPR | members | non-members | mean loss, members | mean loss, non-members |\n"
                   "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n", S(mia, "score"), S(mia, "plain_score"));
        json_array_foreach(json_object_get(mia, "models"), i, c)
            fprintf(f, "| %s | %.4f | %.4f | %.4f | %.4f | %.4f | %lld | %lld | %.4f | %.4f |\n", S(c, "label"),
                    D(c, "auc"), D(c, "tpr_at_1pct_fpr"), D(c, "tpr_at_0_1pct_fpr"), D(c, "plain_auc"),
                    D(c, "plain_tpr_at_1pct_fpr"),
                    (long long)json_integer_value(json_object_get(c, "members")),
                    (long long)json_integer_value(json_object_get(c, "non_members")),
                    D(c, "member_mean_loss"), D(c, "non_member_mean_loss"));
    }
    const json_t *lp = json_object_get(r, "linear_probe"), *pt;
    json_array_foreach(json_object_get(lp, "points"), i, pt) {
        fprintf(f, "\n## Linear probe at %s (%s)\n\n| features of | Pre Acc | Dep Acc | Avg Acc |\n|---|---:|---:|---:|\n",
                !strcmp(S(pt, "point"), "split") ? "the split point" : "the last feature stage", S(pt, "stage"));
        size_t k;
        json_array_foreach(json_object_get(pt, "nets"), k, c)
            fprintf(f, "| %s | %.2f | %.2f | %.2f |\n", S(c, "label"), D(c, "pre_acc"),
                    D(c, "dep_acc"), D(c, "avg_acc"));
    }
    const json_t *df = json_object_get(r, "datafree");
    if (df) {
        fprintf(f, "\n## Data-free distillation\n\nCNN students, logit KD without labels, taught on %lld images of %s; tested on the real test split.\n\n"
                   "| teacher | Pre Acc | Dep Acc | Avg Acc |\n|---|---:|---:|---:|\n",
                (long long)json_integer_value(json_object_get(df, "images")), S(df, "inputs"));
        json_array_foreach(json_object_get(df, "students"), i, c)
            fprintf(f, "| %s | %.2f | %.2f | %.2f |\n", S(c, "label"), D(c, "pre_acc"), D(c, "dep_acc"), D(c, "avg_acc"));
    }
    const json_t *rl = json_object_get(r, "relearn");
    if (rl) {
        fprintf(f, "\n## Relearn time\n\nSteps of fine-tuning on %lld labelled deposit-class images (and as many preservation-class ones) until Dep Acc reaches %.0f%% of the original's (%.2f): target %s, negative control %s, original %s.\n",
                (long long)json_integer_value(json_object_get(rl, "samples")),
                100 * D(rl, "fraction"), D(rl, "goal_dep_acc"), S(rl, "target_steps_text"),
                S(rl, "control_steps_text"), S(rl, "original_steps_text"));
    }
}

static void md_times(FILE *f, const json_t *r) {
    const char *key;
    json_t *v;
    fprintf(f, "\n## Time (seconds)\n\n| phase | s |\n|---|---:|\n");
    json_object_foreach((json_t *)json_object_get(r, "seconds"), key, v)
        fprintf(f, "| %s | %.1f |\n", key, json_number_value(v));
}

lirf_status lirf_report_write_md(const json_t *r, const char *path) {
    FILE *f = open_out(path);
    if (!f) return LIRF_E_IO;
    md_header(f, r);
    md_inputs(f, r);
    md_checks(f, r);
    md_nets(f, r);
    md_distillation(f, r);
    md_probes(f, r);
    md_times(f, r);
    return close_out(f, path);
}

/* ---- HTML ---- */
static void esc(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '<') fputs("&lt;", f);
        else if (*s == '>') fputs("&gt;", f);
        else if (*s == '&') fputs("&amp;", f);
        else if (*s == '"') fputs("&quot;", f);
        else fputc(*s, f);
    }
}

static const char *COLORS[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

/* Grouped bars: Pre and Dep Acc of each row of table3 for one student and
 * one labels mode. */
static void svg_bars(FILE *f, const json_t *r, const char *student, int labels) {
    const json_t *t = json_object_get(r, "table3");
    const json_t *rows[64];
    int n = 0;
    size_t i;
    json_t *row;
    json_array_foreach(t, i, row) {
        if (strcmp(S(row, "student"), student)) continue;
        if (json_is_true(json_object_get(row, "labels")) != (labels != 0)) continue;
        if (n < 64) rows[n++] = row;
    }
    if (!n) return;
    int gw = 70, W = 60 + n * gw + 20, H = 260, top = 20, bottom = 200;
    fprintf(f, "<figure><figcaption>%s student, %s</figcaption>\n", student,
            labels ? "with true labels" : "no true labels (teacher outputs only)");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H);
    for (int g = 0; g <= 100; g += 20) {
        double y = bottom - (bottom - top) * g / 100.0;
        fprintf(f, "<line x1=\"50\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                   "<text x=\"45\" y=\"%.1f\" text-anchor=\"end\" font-size=\"10\">%d</text>\n",
                W - 10, y, y, y + 3, g);
    }
    for (int k = 0; k < n; k++) {
        double x = 60 + k * gw;
        const char *key[2] = {"pre_acc", "dep_acc"};
        for (int b = 0; b < 2; b++) {
            double v = D(rows[k], key[b]);
            if (!isfinite(v)) continue;
            double h = (bottom - top) * v / 100.0;
            fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"%.1f\" fill=\"%s\"><title>%s %.2f</title></rect>\n",
                    x + b * 26, bottom - h, h, COLORS[b], b ? "Dep Acc" : "Pre Acc", v);
            fprintf(f, "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" text-anchor=\"middle\">%.1f</text>\n",
                    x + b * 26 + 12, bottom - h - 2, v);
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">", x + 25, bottom + 14);
        esc(f, S(rows[k], "teacher_label"));
        fprintf(f, "</text><text x=\"%.1f\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%s</text>\n",
                x + 25, bottom + 27, S(rows[k], "method"));
    }
    fprintf(f, "<rect x=\"60\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"74\" y=\"%d\" font-size=\"11\">Pre Acc</text>"
               "<rect x=\"140\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"154\" y=\"%d\" font-size=\"11\">Dep Acc</text>\n",
            H - 22, COLORS[0], H - 13, H - 22, COLORS[1], H - 13);
    fprintf(f, "</svg></figure>\n");
}

static void svg_roc(FILE *f, const json_t *mia) {
    int W = 340, H = 340, L = 50, T = 15, P = 260;
    fprintf(f, "<figure><figcaption>Membership-inference ROC (deposit classes)</figcaption>\n");
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" role=\"img\">\n", W, H);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#999\"/>\n", L, T, P, P);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#bbb\" stroke-dasharray=\"4 3\"/>\n", L, T + P, L + P, T);
    for (int g = 0; g <= 4; g++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">%.2f</text>", L + P * g / 4, T + P + 13, g / 4.0);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%.2f</text>\n", L - 4, T + P - P * g / 4 + 3, g / 4.0);
    }
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\">false-positive rate</text>", L + P / 2, T + P + 28);
    fprintf(f, "<text x=\"12\" y=\"%d\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 12 %d)\">true-positive rate</text>\n", T + P / 2, T + P / 2);
    size_t i, j;
    json_t *m, *pt;
    json_array_foreach(json_object_get(mia, "models"), i, m) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\" points=\"", COLORS[i % 6]);
        json_array_foreach(json_object_get(m, "roc"), j, pt) {
            double x = json_number_value(json_array_get(pt, 0)), y = json_number_value(json_array_get(pt, 1));
            fprintf(f, "%.1f,%.1f ", L + P * x, T + P - P * y);
        }
        fprintf(f, "\"/>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"%s\">", L + P * 45 / 100,
                T + P - 12 - 14 * (int)i, COLORS[i % 6]);
        esc(f, S(m, "label"));
        fprintf(f, " AUC %.3f</text>\n", D(m, "auc"));
    }
    fprintf(f, "</svg></figure>\n");
}

static void html_table_nets(FILE *f, const json_t *r) {
    fprintf(f, "<table><tr><th>net</th><th>Pre Acc</th><th>Dep Acc</th><th>Avg Acc</th></tr>\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "nets"), i, c) {
        fprintf(f, "<tr><td>");
        esc(f, S(c, "label"));
        fprintf(f, "</td><td>%.2f</td><td>%.2f</td><td>%.2f</td></tr>\n", D(c, "pre_acc"), D(c, "dep_acc"), D(c, "avg_acc"));
    }
    const json_t *w = json_object_get(r, "withdraw");
    if (w) fprintf(f, "<tr><td>Recover (withdraw of the archive)</td><td>%.2f</td><td>%.2f</td><td>%.2f</td></tr>\n", D(w, "pre_acc"), D(w, "dep_acc"), D(w, "avg_acc"));
    const json_t *da = json_object_get(r, "deposit_module_alone");
    if (da && !json_object_get(da, "skipped")) fprintf(f, "<tr><td>Deposit module + upper part alone</td><td>%.2f</td><td>%.2f</td><td>%.2f</td></tr>\n", D(da, "pre_acc"), D(da, "dep_acc"), D(da, "avg_acc"));
    fprintf(f, "</table>\n");
}

static void html_header(FILE *f, const json_t *r) {
    int code = (int)json_integer_value(json_object_get(r, "exit_code"));
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
               "<title>lirf verify report</title>\n<style>\n"
               "body{font-family:sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}\n"
               "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
               "td:first-child,th:first-child,td.t{text-align:left}code{font-size:90%%}\n"
               ".leak,.fail{background:#fdd;font-weight:bold}.inconclusive{background:#ffe8b0;font-weight:bold}.pass{background:#dfd}.skipped,.info{background:#eee}\n"
               ".verdict{font-size:130%%;padding:.4em .8em;display:inline-block}\n"
               "figure{display:inline-block;margin:.5em}figcaption{font-size:90%%;font-weight:bold}\n"
               "</style></head><body>\n<h1>lirf verify: knowledge-leakage audit</h1>\n");
    fprintf(f, "<p class=\"verdict %s\">Verdict: ", code == 0 ? "pass" : code == 1 ? "leak" : "inconclusive");
    esc(f, S(r, "verdict"));
    fprintf(f, " (exit %d)</p>\n<p>", code);
    esc(f, S(json_object_get(r, "calibration"), "text"));
    fprintf(f, "</p>\n<p>lirf ");
    esc(f, S(r, "lirf_version"));
    fprintf(f, ", ");
    esc(f, S(r, "started_utc"));
    fprintf(f, ", device ");
    esc(f, S(json_object_get(r, "device"), "name"));
    fprintf(f, " (");
    esc(f, S(json_object_get(r, "device"), "platform"));
    fprintf(f, ", driver ");
    esc(f, S(json_object_get(r, "device"), "driver"));
    fprintf(f, "); %d seed(s); total %.0f s.</p>\n", seeds_of(r), D(json_object_get(r, "seconds"), "total"));
    if (json_object_get(r, "command")) {
        fprintf(f, "<p>Command: <code>");
        esc(f, S(r, "command"));
        fprintf(f, "</code></p>\n");
    }
}

static void html_checks(FILE *f, const json_t *r) {
    fprintf(f, "<h2>Checks</h2>\n<p>Each check is run on the target and on two controls: the original "
               "(positive: it knows the deposit classes) and the negative control (it never saw them). "
               "A value is the target's measure against the negative control; the original's is the same "
               "measure of the original. A check has <b>power</b> when the original's is beyond the margin; "
               "without power its verdict is <b>inconclusive</b>. ± : 95%% Student-t interval over seeds.</p>\n");
    fprintf(f, "<table><tr><th>check</th><th>value (target)</th><th>negative control</th><th>control value</th>"
               "<th>original</th><th>margin</th><th>power</th><th>verdict</th></tr>\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        char a[64], b[64], p[64];
        fmt(a, sizeof a, D(c, "value"), D(c, "ci95"), 1);
        fmt(b, sizeof b, D(c, "control"), 0, 0);
        fmt(p, sizeof p, D(c, "positive"), D(c, "positive_ci95"), 1);
        fprintf(f, "<tr><td>");
        esc(f, S(c, "name"));
        fprintf(f, "</td><td>%s</td><td class=\"t\">", a);
        esc(f, S(c, "control_is"));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s%g</td><td class=\"t\" title=\"", b, p,
                !strcmp(S(c, "leak_when"), "below") ? "&lt; " : "", D(c, "margin"));
        esc(f, S(c, "power_text"));
        fprintf(f, "\">%s</td><td class=\"%s\">%s</td></tr>\n", power_word(c), S(c, "verdict"),
                S(c, "verdict"));
    }
    fprintf(f, "</table>\n<ul>\n");
    json_array_foreach(json_object_get(r, "checks"), i, c) {
        fprintf(f, "<li><code>");
        esc(f, S(c, "name"));
        fprintf(f, "</code>: ");
        esc(f, S(c, "power_text"));
        fprintf(f, "</li>\n");
    }
    fprintf(f, "</ul>\n");
}
static void html_table3(FILE *f, const json_t *r) {
    const json_t *t3 = json_object_get(r, "table3");
    if (!json_array_size(t3)) return;
    fprintf(f, "<h2>Table 3: distillation</h2>\n");
    const char *studs[2] = {"cnn", "resnet18"};
    for (int s = 0; s < 2; s++)
        for (int l = 1; l >= 0; l--) svg_bars(f, r, studs[s], l);
    fprintf(f, "<table><tr><th>student</th><th>method</th><th>labels</th><th>teacher</th><th>Pre Acc</th><th>Dep Acc</th><th>&Delta;Pre vs Original's</th><th>&Delta;Dep vs Original's</th></tr>\n");
    size_t i;
    json_t *c;
    json_array_foreach(t3, i, c) {
        char a[64], b[64], d1[64], d2[64];
        fmt(a, sizeof a, D(c, "pre_acc"), D(c, "pre_ci95"), 0);
        fmt(b, sizeof b, D(c, "dep_acc"), D(c, "dep_ci95"), 0);
        fmt(d1, sizeof d1, D(c, "d_pre_vs_original"), D(c, "d_pre_ci95"), 1);
        fmt(d2, sizeof d2, D(c, "d_dep_vs_original"), D(c, "d_dep_ci95"), 1);
        fprintf(f, "<tr><td>%s</td><td class=\"t\">%s</td><td class=\"t\">%s</td><td class=\"t\">", S(c, "student"),
                method_label(S(c, "method")), json_is_true(json_object_get(c, "labels")) ? "true" : "none");
        esc(f, S(c, "teacher_label"));
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", a, b, d1, d2);
    }
    fprintf(f, "</table>\n");
}

static void html_mia(FILE *f, const json_t *r) {
    const json_t *mia = json_object_get(r, "mia");
    if (!mia) return;
    fprintf(f, "<h2>Membership inference</h2>\n");
    svg_roc(f, mia);
    fprintf(f, "<p>Calibrated score: ");
    esc(f, S(mia, "score"));
    fprintf(f, "; plain: ");
    esc(f, S(mia, "plain_score"));
    fprintf(f, ".</p>\n<table><tr><th>net</th><th>AUC</th><th>TPR at 1%% FPR</th><th>TPR at 0.1%% FPR</th>"
               "<th>plain AUC</th><th>plain TPR at 1%% FPR</th><th>members</th><th>non-members</th></tr>\n");
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(mia, "models"), i, c) {
        fprintf(f, "<tr><td>");
        esc(f, S(c, "label"));
        fprintf(f, "</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%.4f</td><td>%lld</td><td>%lld</td></tr>\n",
                D(c, "auc"), D(c, "tpr_at_1pct_fpr"), D(c, "tpr_at_0_1pct_fpr"), D(c, "plain_auc"),
                D(c, "plain_tpr_at_1pct_fpr"), (long long)json_integer_value(json_object_get(c, "members")),
                (long long)json_integer_value(json_object_get(c, "non_members")));
    }
    fprintf(f, "</table>\n");
}

/* Rows of label / Pre / Dep / Avg Acc, and the table's end. */
static void html_acc_rows(FILE *f, const json_t *rows) {
    size_t i;
    json_t *c;
    json_array_foreach(rows, i, c) {
        fprintf(f, "<tr><td>");
        esc(f, S(c, "label"));
        fprintf(f, "</td><td>%.2f</td><td>%.2f</td><td>%.2f</td></tr>\n", D(c, "pre_acc"), D(c, "dep_acc"), D(c, "avg_acc"));
    }
    fprintf(f, "</table>\n");
}

static void html_probe_relearn(FILE *f, const json_t *r) {
    size_t i;
    json_t *c;
    const json_t *lp = json_object_get(r, "linear_probe"), *pt;
    size_t q;
    json_array_foreach(json_object_get(lp, "points"), q, pt) {
        fprintf(f, "<h2>Linear probe at %s (", !strcmp(S(pt, "point"), "split") ? "the split point" : "the last feature stage");
        esc(f, S(pt, "stage"));
        fprintf(f, ")</h2>\n<table><tr><th>features of</th><th>Pre Acc</th><th>Dep Acc</th><th>Avg Acc</th></tr>\n");
        html_acc_rows(f, json_object_get(pt, "nets"));
    }
    const json_t *df = json_object_get(r, "datafree");
    if (df) {
        fprintf(f, "<h2>Data-free distillation</h2>\n<p>CNN students, logit KD without labels, taught on %lld images of ",
                (long long)json_integer_value(json_object_get(df, "images")));
        esc(f, S(df, "inputs"));
        fprintf(f, "; tested on the real test split.</p>\n<table><tr><th>teacher</th><th>Pre Acc</th><th>Dep Acc</th><th>Avg Acc</th></tr>\n");
        html_acc_rows(f, json_object_get(df, "students"));
    }
    const json_t *rl = json_object_get(r, "relearn");
    if (rl) {
        fprintf(f, "<h2>Relearn time</h2>\n<p>Fine-tuning on %lld labelled deposit-class images (and as many preservation-class ones) until Dep Acc reaches %.0f%% of the original's (%.2f).</p>\n<table><tr><th>net</th><th>steps</th><th>last Dep Acc</th></tr>\n",
                (long long)json_integer_value(json_object_get(rl, "samples")), 100 * D(rl, "fraction"), D(rl, "goal_dep_acc"));
        json_array_foreach(json_object_get(rl, "nets"), i, c) {
            fprintf(f, "<tr><td>");
            esc(f, S(c, "label"));
            fprintf(f, "</td><td>%lld</td><td>%.2f</td></tr>\n", (long long)json_integer_value(json_object_get(c, "steps")), D(c, "last_dep_acc"));
        }
        fprintf(f, "</table>\n<p>(-1: the goal was not reached within the step budget.)</p>\n");
    }
}

static void html_inputs(FILE *f, const json_t *r) {
    fprintf(f, "<h2>Inputs</h2>\n<table><tr><th>role</th><th>path</th><th>SHA-256</th></tr>\n");
    const json_t *in = json_object_get(r, "inputs");
    const char *roles[] = {"target", "original", "target_no_at", "independent", "archive"};
    for (int k = 0; k < 5; k++) {
        const json_t *m = json_object_get(in, roles[k]);
        if (!m) continue;
        fprintf(f, "<tr><td>%s</td><td class=\"t\"><code>", roles[k]);
        esc(f, S(m, "path"));
        fprintf(f, "</code></td><td><code>%s</code></td></tr>\n", S(m, "sha256"));
    }
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)json_object_get(json_object_get(in, "data"), "files_sha256"), key, v) {
        fprintf(f, "<tr><td>data</td><td class=\"t\"><code>");
        esc(f, key);
        fprintf(f, "</code></td><td><code>%s</code></td></tr>\n", json_string_value(v));
    }
    fprintf(f, "</table>\n");
}

lirf_status lirf_report_write_html(const json_t *r, const char *path) {
    FILE *f = open_out(path);
    if (!f) return LIRF_E_IO;
    html_header(f, r);
    html_checks(f, r);
    fprintf(f, "<h2>The nets on the test split</h2>\n");
    html_table_nets(f, r);
    html_table3(f, r);
    html_mia(f, r);
    html_probe_relearn(f, r);
    html_inputs(f, r);
    fprintf(f, "<p>Every number, seed and threshold is in report.json beside this page.</p>\n</body></html>\n");
    return close_out(f, path);
}

lirf_status lirf_report_write_dir(const json_t *r, const char *dir, int json) {
    char p[1200];
    if (json) {
        snprintf(p, sizeof p, "%s/report.json", dir);
        LIRF_TRY(lirf_report_write_json(r, p));
    }
    snprintf(p, sizeof p, "%s/report.md", dir);
    LIRF_TRY(lirf_report_write_md(r, p));
    snprintf(p, sizeof p, "%s/report.html", dir);
    return lirf_report_write_html(r, p);
}

/* report.json's keys that say what was audited and what came out; the
 * report's own paths in dir (report.json only when written). */
json_t *lirf_report_summary_json(const json_t *r, const char *dir, int json_written) {
    if (!r || !dir) return NULL;
    const json_t *in = json_object_get(r, "inputs");
    json_t *nets = json_object(), *reports = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)in, k, v)
        if (json_is_object(v) && json_object_get(v, "path"))
            json_object_set(nets, k, json_object_get(v, "path"));
    const char *name[] = {"json", "md", "html"};
    for (int i = 0; i < 3; i++) {
        char p[4200];
        snprintf(p, sizeof p, "%s/report.%s", dir, name[i]);
        json_object_set_new(reports, name[i], i || json_written ? lirf_json_text(p) : json_null());
    }
    if (json_object_size(reports) != 3) /* out of memory */
        return json_decref(nets), json_decref(reports), NULL;
    json_t *dep = json_object_get(r, "deposit_classes"), *checks = json_object_get(r, "checks");
    json_t *exit_code = json_object_get(r, "exit_code"), *verdict = json_object_get(r, "verdict");
    json_t *secs = json_object_get(json_object_get(r, "seconds"), "total");
    json_t *cal = json_object_get(r, "calibration");
    return json_pack("{s:o,s:O*,s:O*,s:O*,s:o,s:O*,s:O*,s:O*}", "nets", nets, "deposit_classes", dep,
                     "verdict", verdict, "exit_code", exit_code, "reports", reports, "checks",
                     checks, "calibration", cal, "seconds", secs);
}
