/* results.md and its SVG plots, from the results document (results.json):
 * Tables 1-4 as tables and bars, Fig. 4 as curves, the paper's values beside. */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "repro_priv.h"

static double jmean(const json_t *s) { return rp_num(s, "mean"); }
static double jci(const json_t *s) { return rp_num(s, "ci95"); }

/* "93.41 ± 0.20" (and "(2 seeds)" when fewer than the data set's), "—" */
static void cell(char *b, size_t n, const json_t *s, int seeds) {
    if (!json_is_object(s)) { snprintf(b, n, "—"); return; }
    int k = (int)json_integer_value(json_object_get(s, "n"));
    int w = k > 1 ? snprintf(b, n, "%.2f ± %.2f", jmean(s), jci(s)) : snprintf(b, n, "%.2f", jmean(s));
    if (k < seeds && w > 0 && (size_t)w < n) snprintf(b + w, n - (size_t)w, " (%d of %d)", k, seeds);
}

static void pcell(char *b, size_t n, const json_t *v) {
    if (json_is_number(v)) snprintf(b, n, "%.2f", json_number_value(v));
    else snprintf(b, n, "—");
}

/* ---- SVG ---- */
typedef struct { const char *name; double mean[16], ci[16], paper[16]; } series;
static const char *COLOR[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"};

static void svg_axes(FILE *f, const char *title, int W, int H, int L, int B) {
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
            "font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%%\" height=\"100%%\" "
            "fill=\"white\"/>\n<text x=\"%d\" y=\"16\" font-size=\"13\">%s</text>\n", W, H, L, title);
    for (int y = 0; y <= 100; y += 20) {
        double py = H - B - (H - B - 30) * y / 100.0;
        fprintf(f, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", L, py, W - 10, py,
                L - 4, py + 4, y);
    }
}

/* a percentage's y (clipped to the axis: intervals of few seeds run past it) */
static double ypix(double v, int H, int B) {
    v = v < 0 ? 0 : v > 100 ? 100 : v;
    return H - B - (H - B - 30) * v / 100.0;
}

static void svg_legend(FILE *f, const series *s, int ns, int x, int y, int paper) {
    for (int k = 0; k < ns; k++)
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/><text x=\"%d\" "
                "y=\"%d\">%s</text>\n", x, y + 14 * k, COLOR[k % 6], x + 14, y + 14 * k + 9, s[k].name);
    if (paper)
        fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\" stroke-width=\"2\" "
                "stroke-dasharray=\"3,2\"/><text x=\"%d\" y=\"%d\">the paper (CIFAR-10)</text>\n",
                x, y + 14 * ns + 5, x + 10, y + 14 * ns + 5, x + 14, y + 14 * ns + 9);
}

/* Grouped bars with 95% intervals; the paper's value as a dashed tick. */
static void svg_bars(FILE *f, const char *title, const char **groups, int ng, const series *s,
                     int ns) {
    int W = 860, H = 330, L = 40, B = 60, plotw = W - L - 220;
    svg_axes(f, title, W, H, L, B);
    double gw = (double)plotw / ng, bw = gw * 0.8 / ns;
    int any_paper = 0;
    for (int g = 0; g < ng; g++) {
        for (int k = 0; k < ns; k++) {
            double x = L + g * gw + gw * 0.1 + k * bw, m = s[k].mean[g], c = s[k].ci[g];
            if (isfinite(m))
                fprintf(f, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\"/>\n",
                        x, ypix(m, H, B), bw - 1, ypix(0, H, B) - ypix(m, H, B), COLOR[k % 6]);
            if (isfinite(m) && isfinite(c) && c > 0)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\"/>\n",
                        x + bw / 2, ypix(m - c, H, B), x + bw / 2, ypix(m + c, H, B));
            any_paper |= isfinite(s[k].paper[g]);
            if (isfinite(s[k].paper[g]))
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"black\" "
                        "stroke-width=\"2\" stroke-dasharray=\"3,2\"/>\n", x, ypix(s[k].paper[g], H, B),
                        x + bw - 1, ypix(s[k].paper[g], H, B));
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n",
                L + g * gw + gw / 2, H - B + 16, groups[g]);
    }
    svg_legend(f, s, ns, L + plotw + 10, 40, any_paper);
    fprintf(f, "</svg>\n");
}

/* Curves over x[0..nx) with 95% intervals. */
static void svg_lines(FILE *f, const char *title, const char *xlabel, const double *x, int nx,
                      const series *s, int ns) {
    int W = 760, H = 330, L = 40, B = 60, plotw = W - L - 230;
    svg_axes(f, title, W, H, L, B);
    double x0 = x[0], x1 = x[nx - 1];
    for (int i = 0; i < nx; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%g</text>\n",
                L + 20 + (plotw - 40) * (x[i] - x0) / (x1 - x0), H - B + 16, x[i]);
    fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", L + plotw / 2,
            H - B + 34, xlabel);
    for (int k = 0; k < ns; k++) {
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", COLOR[k % 6]);
        for (int i = 0; i < nx; i++)
            if (isfinite(s[k].mean[i]))
                fprintf(f, "%.1f,%.1f ", L + 20 + (plotw - 40) * (x[i] - x0) / (x1 - x0),
                        ypix(s[k].mean[i], H, B));
        fprintf(f, "\"/>\n");
        for (int i = 0; i < nx; i++) {
            double px = L + 20 + (plotw - 40) * (x[i] - x0) / (x1 - x0), m = s[k].mean[i], c = s[k].ci[i];
            if (!isfinite(m)) continue;
            fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px, ypix(m, H, B),
                    COLOR[k % 6]);
            if (isfinite(c) && c > 0)
                fprintf(f, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                        px, ypix(m - c, H, B), px, ypix(m + c, H, B), COLOR[k % 6]);
        }
    }
    svg_legend(f, s, ns, L + plotw + 10, 40, 0);
    fprintf(f, "</svg>\n");
}

/* Where the plots go: dir (a folder) and their links from the Markdown file
 * (rel: "" or "sub/"). */
typedef struct { char dir[RP_PATH], rel[256], failed[RP_PATH + 200]; } plots_t;

/* Opens P->dir/key-what.svg; its link from the Markdown file into link. */
static FILE *svg_open(const plots_t *P, const char *key, const char *what, char *link, size_t n) {
    char path[RP_PATH + 200];
    snprintf(path, sizeof path, "%s/%s-%s.svg", P->dir, key, what);
    snprintf(link, n, "%s%s-%s.svg", P->rel, key, what);
    return fopen(path, "w");
}

/* The bar chart what (Table 1-3) into its SVG file and its image line into
 * f; a file that cannot be written is remembered in P (the call fails). */
static void plot_bars(FILE *f, plots_t *P, const char *key, const char *what, const char *title,
                      const char **groups, int ng, const series *s, int ns) {
    char link[RP_PATH + 200];
    FILE *g = svg_open(P, key, what, link, sizeof link);
    if (g) svg_bars(g, title, groups, ng, s, ns);
    if (!g || fclose(g) != 0) {
        if (!P->failed[0]) snprintf(P->failed, sizeof P->failed, "%s", link);
        return;
    }
    fprintf(f, "\n![%s of %s](%s)\n", title, key, link);
}

static void md_table1(FILE *f, const json_t *t, int seeds, plots_t *P, const char *key) {
    json_t *cols = json_object_get(t, "columns"), *rows = json_object_get(t, "rows"), *row;
    size_t i, c;
    fprintf(f, "| metric |");
    for (c = 0; c < json_array_size(cols); c++)
        fprintf(f, " %s |", json_string_value(json_array_get(cols, c)));
    fprintf(f, " paper: Independent | Original | Deposit | Withdrawal |\n|---|");
    for (c = 0; c < json_array_size(cols) + 4; c++) fprintf(f, "---:|");
    fprintf(f, "\n");
    series s[3] = {{.name = "Pre Acc"}, {.name = "Dep Acc"}, {.name = "Avg Acc"}};
    json_array_foreach(rows, i, row) {
        json_t *v = json_object_get(row, "values"), *p = json_object_get(row, "paper");
        fprintf(f, "| %s |", json_string_value(json_object_get(row, "metric")));
        for (c = 0; c < json_array_size(v); c++) {
            char b[64];
            cell(b, sizeof b, json_array_get(v, c), seeds);
            fprintf(f, " %s |", b);
            int k = i == 0 ? 0 : i == 1 ? 1 : i == 4 ? 2 : -1;
            if (k >= 0 && c < 16) {
                s[k].mean[c] = jmean(json_array_get(v, c)), s[k].ci[c] = jci(json_array_get(v, c));
                s[k].paper[c] = json_is_number(json_array_get(p, c)) ? json_number_value(json_array_get(p, c)) : NAN;
            }
        }
        for (c = 0; c < 4; c++) {
            char b[32];
            pcell(b, sizeof b, json_array_get(p, c));
            fprintf(f, " %s |", b);
        }
        fprintf(f, "\n");
    }
    const char *groups[] = {"Independent", "Original", "Deposit", "Withdrawal (paper)",
                            "Withdrawal (delta)"};
    plot_bars(f, P, key, "table1", "Table 1: Pre, Dep and Avg Acc (%), mean and 95% interval",
              groups, 5, s, 3);
}

static void md_table2(FILE *f, const json_t *t, int seeds, plots_t *P, const char *key) {
    json_t *rows = json_object_get(t, "rows"), *row;
    size_t i, c;
    fprintf(f, "| method | Target Pre | Target Dep | Recover Pre | Recover Dep | Recover Avg | "
            "paper: T. Pre | T. Dep | R. Pre | R. Dep | R. Avg | note |\n|---|");
    for (c = 0; c < 10; c++) fprintf(f, "---:|");
    fprintf(f, "---|\n");
    series s[3] = {{.name = "Target Pre Acc"}, {.name = "Target Dep Acc"}, {.name = "Recover Avg Acc (paper mode)"}};
    const char *groups[8];
    json_array_foreach(rows, i, row) {
        json_t *v = json_object_get(row, "values"), *p = json_object_get(row, "paper");
        fprintf(f, "| %s |", json_string_value(json_object_get(row, "method")));
        for (c = 0; c < 5; c++) {
            char b[64];
            cell(b, sizeof b, json_array_get(v, c), seeds);
            fprintf(f, " %s |", b);
        }
        for (c = 0; c < 5; c++) {
            char b[32];
            pcell(b, sizeof b, json_array_get(p, c));
            fprintf(f, " %s |", b);
        }
        fprintf(f, " %s |\n", json_string_value(json_object_get(row, "note")));
        static const int pick[3] = {0, 1, 4};
        for (int k = 0; k < 3 && i < 8; k++) {
            json_t *x = json_array_get(v, (size_t)pick[k]), *y = json_array_get(p, (size_t)pick[k]);
            s[k].mean[i] = jmean(x), s[k].ci[i] = jci(x);
            s[k].paper[i] = json_is_number(y) ? json_number_value(y) : NAN;
        }
        if (i < 8) groups[i] = i == 0 ? "Scratch" : i == 1 ? "IL" : i == 2 ? "kr,kp" : i == 3 ? "+pt,re"
                                : i == 4 ? "+at" : "+prune";
    }
    plot_bars(f, P, key, "table2", "Table 2: the losses and pruning (%), mean and 95% interval",
              groups, (int)json_array_size(rows), s, 3);
}

static void md_table3(FILE *f, const json_t *rows, int seeds, plots_t *P, const char *key) {
    json_t *row;
    size_t i;
    fprintf(f, "| student | distillation | teacher | Pre Acc | Dep Acc | ΔPre | ΔDep | paper: Pre "
            "| Dep | ΔPre | ΔDep |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    series s[3] = {{.name = "students of the Original"}, {.name = "of the Target w/o L_at"}, {.name = "of the Target w L_at"}};
    json_array_foreach(rows, i, row) {
        const char *stu = json_string_value(json_object_get(row, "student"));
        const char *meth = json_string_value(json_object_get(row, "method"));
        char b[4][64], p[4][32];
        cell(b[0], sizeof b[0], json_object_get(row, "pre_acc"), seeds);
        cell(b[1], sizeof b[1], json_object_get(row, "dep_acc"), seeds);
        cell(b[2], sizeof b[2], json_object_get(row, "d_pre"), seeds);
        cell(b[3], sizeof b[3], json_object_get(row, "d_dep"), seeds);
        for (int k = 0; k < 4; k++) pcell(p[k], sizeof p[k], json_array_get(json_object_get(row, "paper"), (size_t)k));
        fprintf(f, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                stu && !strcmp(stu, "cnn") ? "CNN" : "ResNet-18",
                meth && !strcmp(meth, "at") ? "AT-based" : "Logit-based",
                json_string_value(json_object_get(row, "teacher_label")), b[0], b[1], b[2], b[3],
                p[0], p[1], p[2], p[3]);
        size_t g = i / 3, t = i % 3;
        if (g < 16) {
            json_t *d = json_object_get(row, "dep_acc");
            s[t].mean[g] = jmean(d), s[t].ci[g] = jci(d);
            json_t *pv = json_array_get(json_object_get(row, "paper"), 1);
            s[t].paper[g] = json_is_number(pv) ? json_number_value(pv) : NAN;
        }
    }
    const char *groups[] = {"CNN, logit", "CNN, AT", "ResNet-18, logit", "ResNet-18, AT"};
    plot_bars(f, P, key, "table3", "Table 3: the students' Dep Acc (%), mean and 95% interval",
              groups, 4, s, 3);
}

static void fig4_series(const json_t *pts, const char *xk, double *x, series *s, int *nx) {
    static const char *k3[] = {"target_dep", "recover_avg", "recover_delta_avg"};
    json_t *pt;
    size_t i;
    json_array_foreach(pts, i, pt) {
        if (i >= 16) break;
        x[i] = rp_num(pt, xk);
        for (int k = 0; k < 3; k++) {
            json_t *v = json_object_get(pt, k3[k]);
            s[k].mean[i] = jmean(v), s[k].ci[i] = jci(v), s[k].paper[i] = NAN;
        }
        *nx = (int)i + 1;
    }
}

static void md_fig4(FILE *f, const json_t *t, int seeds, plots_t *P, const char *key) {
    static const char *what[2] = {"split", "rate"}, *xl[2] = {"n (the split block)", "prune rate"};
    fprintf(f, "The paper: %s.\n\n", json_string_value(json_object_get(t, "paper")));
    for (int w = 0; w < 2; w++) {
        json_t *pts = json_object_get(t, what[w]), *pt;
        size_t i;
        fprintf(f, "| %s | Target Dep Acc | Recover Avg Acc (paper mode) | Recover Avg Acc (delta) |\n"
                "|---:|---:|---:|---:|\n", w ? "prune rate" : "n");
        json_array_foreach(pts, i, pt) {
            char b[3][64];
            cell(b[0], sizeof b[0], json_object_get(pt, "target_dep"), seeds);
            cell(b[1], sizeof b[1], json_object_get(pt, "recover_avg"), seeds);
            cell(b[2], sizeof b[2], json_object_get(pt, "recover_delta_avg"), seeds);
            fprintf(f, "| %g | %s | %s | %s |\n", rp_num(pt, w ? "rate" : "n"), b[0], b[1], b[2]);
        }
        series s[3] = {{.name = "Target Dep Acc"}, {.name = "Recover Avg Acc (paper mode)"}, {.name = "Recover Avg Acc (delta)"}};
        double x[16];
        int nx = 0;
        fig4_series(pts, w ? "rate" : "n", x, s, &nx);
        char link[RP_PATH + 200], title[96], name[16];
        snprintf(name, sizeof name, "fig4-%s", what[w]);
        snprintf(title, sizeof title, "Fig. 4: accuracy (%%) against %s, mean and 95%% interval", xl[w]);
        if (nx < 2) continue;
        FILE *g = svg_open(P, key, name, link, sizeof link);
        if (g) svg_lines(g, title, xl[w], x, nx, s, 3);
        if (!g || fclose(g) != 0) {
            if (!P->failed[0]) snprintf(P->failed, sizeof P->failed, "%s", link);
            continue;
        }
        fprintf(f, "\n![Fig. 4 of %s, %s](%s)\n\n", key, xl[w], link);
    }
}

static void afh_cells(char b[3][64], const json_t *o, int seeds) {
    static const char *k[3] = {"A", "F", "H"};
    for (int i = 0; i < 3; i++) cell(b[i], sizeof b[i], json_object_get(o, k[i]), seeds);
}

static void md_table4_setting(FILE *f, const json_t *t, int seeds, plots_t *P, const char *key) {
    int T = (int)json_integer_value(json_object_get(t, "tasks"));
    char first[64];
    cell(first, sizeof first, json_object_get(t, "first_task_acc"), seeds);
    fprintf(f, "%d tasks (the first task's net: %s on its own test images). A, F, H averaged "
            "over steps 2..%d, then at the last step:\n\n| method | A | F | H | last: A | F | H "
            "| paper (CIFAR-100): A | F | H |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
            T, first, T);
    series s[3] = {{.name = "A (Pre Acc)"}, {.name = "F (forgetting)"}, {.name = "H"}};
    const char *groups[16];
    json_t *row;
    size_t i;
    int any = 0;
    json_array_foreach(json_object_get(t, "rows"), i, row) {
        char m[3][64], l[3][64], pp[3][32];
        static const char *k[3] = {"A", "F", "H"};
        json_t *mean = json_object_get(row, "mean"), *paper = json_object_get(row, "paper");
        afh_cells(m, mean, seeds);
        afh_cells(l, json_object_get(row, "final"), seeds);
        for (int c = 0; c < 3; c++) pcell(pp[c], sizeof pp[c], json_object_get(paper, k[c]));
        const char *note = json_string_value(json_object_get(row, "note"));
        fprintf(f, "| %s%s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                json_string_value(json_object_get(row, "label")), note && *note ? ": " : "",
                note ? note : "", m[0], m[1], m[2], l[0], l[1], l[2], pp[0], pp[1], pp[2]);
        if (i >= 16) continue;
        groups[i] = json_string_value(json_object_get(row, "label"));
        for (int c = 0; c < 3; c++) {
            json_t *v = json_object_get(mean, k[c]);
            s[c].mean[i] = jmean(v), s[c].ci[i] = jci(v), s[c].paper[i] = NAN;
            any |= isfinite(s[c].mean[i]);
        }
    }
    if (!any) return; /* no record yet: no plot */
    char what[32], title[120];
    snprintf(what, sizeof what, "table4-%d", T);
    snprintf(title, sizeof title, "Table 4, %d tasks: A, F and H averaged over steps (%%), mean "
             "and 95%% interval", T);
    size_t n = json_array_size(json_object_get(t, "rows"));
    plot_bars(f, P, key, what, title, groups, n < 16 ? (int)n : 16, s, 3);
}

static void md_table4(FILE *f, const json_t *t, int seeds, plots_t *P, const char *key) {
    json_t *st;
    size_t i;
    fprintf(f, "Task-incremental, one head per task (task-aware), the first 30%% of each task's "
            "classes (rounded, at least one) deleted from the next step on. The paper's "
            "values: %s.\n\n", json_string_value(json_object_get(t, "paper")));
    json_array_foreach(json_object_get(t, "settings"), i, st) {
        md_table4_setting(f, st, seeds, P, key);
        fprintf(f, "\n");
    }
}

static void md_steps(FILE *f, const json_t *steps) {
    json_t *s;
    size_t i;
    double total = 0;
    fprintf(f, "| step | seed | time | finished | device | commit |\n|---|---:|---:|---|---|---|\n");
    json_array_foreach(steps, i, s) {
        double sec = rp_num(s, "seconds");
        total += isfinite(sec) ? sec : 0;
        fprintf(f, "| %s | %d | %.0f s%s | %s | %s | %s |\n",
                json_string_value(json_object_get(s, "step")),
                (int)json_integer_value(json_object_get(s, "seed")), sec,
                json_is_true(json_object_get(s, "resumed")) ? " (since resumed)" : "",
                json_string_value(json_object_get(s, "finished")) ?: "",
                json_string_value(json_object_get(s, "device")) ?: "",
                json_string_value(json_object_get(s, "commit")) ?: "(not recorded)");
    }
    fprintf(f, "\nAll the steps above: %.1f hours. A step resumed from its training state "
            "counts only the time since it resumed.\n", total / 3600);
}

static void md_dataset(FILE *f, const json_t *d, plots_t *P) {
    const char *key = json_string_value(json_object_get(d, "name"));
    int seeds = (int)json_integer_value(json_object_get(d, "seeds"));
    char t0[64];
    cell(t0, sizeof t0, json_object_get(json_object_get(d, "t0"), "test_accuracy"), seeds);
    fprintf(f, "### %s\n\nSeeds 1 to %d (a cell made from fewer seeds says how many). T0's test "
            "accuracy: %s after %g epochs.\n\n#### Table 1: deposit and withdraw\n\n", key, seeds, t0,
            rp_num(json_object_get(d, "t0"), "epochs.mean"));
    md_table1(f, json_object_get(d, "table1"), seeds, P, key);
    fprintf(f, "\n#### Table 2: the losses and the pruning\n\n");
    md_table2(f, json_object_get(d, "table2"), seeds, P, key);
    fprintf(f, "\n#### Table 3: what students learn from the teachers (ΔPre, ΔDep: against the "
            "Original's student of the same seed)\n\n");
    md_table3(f, json_object_get(d, "table3"), seeds, P, key);
    fprintf(f, "\n#### Fig. 4: the split block and the prune rate\n\n");
    md_fig4(f, json_object_get(d, "fig4"), seeds, P, key);
    fprintf(f, "\n#### Table 4: incremental learning with selective forgetting\n\n");
    md_table4(f, json_object_get(d, "table4"), seeds, P, key);
    fprintf(f, "\n#### The steps\n\n");
    md_steps(f, json_object_get(d, "steps"));
    fprintf(f, "\n");
}

#define MARK_BEGIN "<!-- lirf reproduce: begin (generated; do not edit) -->"
#define MARK_END "<!-- lirf reproduce: end -->"

/* The generated section, from "## The paper reproduced" on, into a string. */
static lirf_status section(const json_t *results, plots_t *P, char **out) {
    size_t len;
    FILE *f = open_memstream(out, &len);
    if (!f) return LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    fprintf(f, "## The paper reproduced (`lirf reproduce`)\n\nGenerated by `lirf reproduce` "
            "from its records (docs/reproduce.md). Every value is the mean over seeds with the "
            "half-width of its 95%% Student-t interval; the paper's values (Ye et al., ECCV 2022: "
            "CIFAR-10, Table 4 CIFAR-100, ResNet-18 of width 64) stand beside them. Recover nets: \"paper\" is the "
            "paper's pruned module by Eq. 8's column rule, \"delta\" lirf's delta mode.\n\n");
    const char *notes = json_string_value(json_object_get(results, "notes"));
    if (notes) fprintf(f, "%s\n", notes);
    json_t *d;
    size_t i;
    json_array_foreach(json_object_get(results, "datasets"), i, d) md_dataset(f, d, P);
    if (!json_array_size(json_object_get(results, "datasets")))
        fprintf(f, "No step has been recorded yet.\n\n");
    if (fclose(f) != 0) return free(*out), *out = NULL, LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    return LIRF_OK;
}

/* What goes around the section: the file's text before its begin mark and
 * after its end mark; a new file gets a title. A file without both marks is
 * not overwritten. */
static lirf_status frame(const char *md_path, char **head, char **tail) {
    FILE *f = fopen(md_path, "r");
    *head = *tail = NULL;
    if (!f) {
        *head = strdup("# Results of `lirf reproduce`\n\n");
        *tail = strdup("");
        return *head && *tail ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
    }
    char *text = NULL;
    size_t cap = 0;
    ssize_t n = getdelim(&text, &cap, 0, f);
    fclose(f);
    char *b = n > 0 ? strstr(text, MARK_BEGIN) : NULL, *e = b ? strstr(b, MARK_END) : NULL;
    if (!b || !e) {
        free(text);
        return LIRF_FAIL(LIRF_E_INVALID, "%s exists and has no \"%s\" ... \"%s\" section: not "
                         "overwritten (add the two lines where the results go, or give another "
                         "--md)", md_path, MARK_BEGIN, MARK_END);
    }
    *head = strndup(text, (size_t)(b - text));
    *tail = strdup(e + strlen(MARK_END));
    free(text);
    return *head && *tail ? LIRF_OK : LIRF_FAIL(LIRF_E_NOMEM, "out of host memory");
}

lirf_status lirf_repro_write_md(const json_t *results, const char *md_path, const char *plots) {
    if (!results || !md_path) return LIRF_FAIL(LIRF_E_NULL, "lirf_repro_write_md: NULL argument");
    plots_t P;
    P.failed[0] = 0;
    const char *slash = strrchr(md_path, '/');
    snprintf(P.dir, sizeof P.dir, "%.*s%s%s", slash ? (int)(slash - md_path) : 1,
             slash ? md_path : ".", plots && *plots ? "/" : "", plots ? plots : "");
    snprintf(P.rel, sizeof P.rel, "%s%s", plots ? plots : "", plots && *plots ? "/" : "");
    if (plots && *plots) LIRF_TRY(rp_mkdirs(P.dir));
    char *head = NULL, *tail = NULL, *body = NULL;
    lirf_status st = frame(md_path, &head, &tail);
    if (st == LIRF_OK) st = section(results, &P, &body);
    if (st == LIRF_OK && P.failed[0])
        st = LIRF_FAIL(LIRF_E_IO, "cannot write the plot %s/%s", P.dir, P.failed + strlen(P.rel));
    char tmp[RP_PATH + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", md_path);
    FILE *f = st == LIRF_OK ? fopen(tmp, "w") : NULL;
    if (st == LIRF_OK && !f) st = LIRF_FAIL(LIRF_E_IO, "cannot write %s: %s", tmp, strerror(errno));
    if (f) {
        fprintf(f, "%s%s\n\n%s%s%s", head, MARK_BEGIN, body, MARK_END, tail);
        int bad = ferror(f);
        bad |= fclose(f) != 0;
        if (bad || rename(tmp, md_path) != 0)
            remove(tmp), st = LIRF_FAIL(LIRF_E_IO, "cannot write %s", md_path);
    }
    free(head), free(tail), free(body);
    return st;
}
