/* Calibrated checks: every leakage check is measured on the target and on
 * both controls, and its verdict follows from that calibration
 * (docs/verify.md, "Calibration"). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "audit_priv.h"

static int beyond(double v, double margin, int below) {
    return below ? v < margin : v > margin;
}

lirf_check_verdict lirf_verify_judge(double value, double positive, double margin, int below,
                                     int *power) {
    int p = isfinite(positive) && isfinite(margin) && beyond(positive, margin, below);
    if (power) *power = p;
    if (!p || !isfinite(value)) return LIRF_CHECK_INCONCLUSIVE;
    return beyond(value, margin, below) ? LIRF_CHECK_LEAK : LIRF_CHECK_PASS;
}

const char *lirf_check_verdict_name(lirf_check_verdict v) {
    switch (v) {
    case LIRF_CHECK_PASS: return "pass";
    case LIRF_CHECK_LEAK: return "leak";
    default: return "inconclusive";
    }
}

/* Where the target sits between the negative control (0) and the positive
 * one (1): its gap over the positive control's; for a ratio (below), the
 * same on 1 - ratio. */
static double position(const va_check *c) {
    double v = c->below ? 1 - c->value : c->value, p = c->below ? 1 - c->positive : c->positive;
    return isfinite(v) && isfinite(p) && fabs(p) > 1e-12 ? v / p : NAN;
}

static void power_text(const va_check *c, int power, char *t, size_t n) {
    const char *cmp = c->below ? "under" : "over";
    if (c->no_power_why)
        snprintf(t, n, "unknown: %s", c->no_power_why);
    else if (!isfinite(c->positive))
        snprintf(t, n, "unknown: the positive control's measure is missing");
    else
        snprintf(t, n, "%s: the positive control (the original) measures %.4g, %s the margin %g%s",
                 power ? "yes" : "no", c->positive, power ? cmp : c->below ? "not under" : "not over",
                 c->margin, power ? "" : ", so this check cannot tell a net that knows the deposit "
                                         "classes from one that never saw them");
}

void va_add_check(audit_t *a, const va_check *c) {
    int power = 0;
    lirf_check_verdict v = lirf_verify_judge(c->value, c->no_power_why ? NAN : c->positive,
                                             c->margin, c->below, &power);
    char ptext[400];
    power_text(c, power, ptext, sizeof ptext);
    json_t *j = json_object();
    json_object_set_new(j, "name", json_string(c->name));
    json_object_set_new(j, "what", json_string(c->what));
    json_object_set_new(j, "value", va_jnum(c->value));
    json_object_set_new(j, "ci95", va_jnum(c->half));
    json_object_set_new(j, "control", va_jnum(c->control));
    json_object_set_new(j, "control_is", json_string(c->control_is));
    json_object_set_new(j, "positive", va_jnum(c->positive));
    json_object_set_new(j, "positive_ci95", va_jnum(c->pos_half));
    json_object_set_new(j, "margin", va_jnum(c->margin));
    json_object_set_new(j, "leak_when", json_string(c->below ? "below" : "above"));
    json_object_set_new(j, "power", c->no_power_why || !isfinite(c->positive) ? json_null()
                                                                              : json_boolean(power));
    json_object_set_new(j, "power_text", json_string(ptext));
    json_object_set_new(j, "position", va_jnum(position(c)));
    json_object_set_new(j, "verdict", json_string(lirf_check_verdict_name(v)));
    if (c->per_seed) json_object_set_new(j, "per_seed", c->per_seed);
    json_array_append_new(a->checks, j);
}

void va_add_plain_check(audit_t *a, const char *name, const char *what, double value,
                        double control, const char *control_is, double margin,
                        const char *verdict) {
    json_array_append_new(
        a->checks,
        json_pack("{s:s,s:s,s:o,s:i,s:o,s:s,s:n,s:n,s:o,s:s,s:n,s:s,s:n,s:s}", "name", name, "what",
                  what, "value", va_jnum(value), "ci95", 0, "control", va_jnum(control),
                  "control_is", control_is, "positive", "positive_ci95", "margin", va_jnum(margin),
                  "leak_when", "above", "power", "power_text",
                  "not a leakage check: the recover net against the original", "position",
                  "verdict", verdict));
}

/* The names of the checks of one verdict (power: those with power) as an array. */
static json_t *names_of(const json_t *checks, const char *verdict, int with_power) {
    json_t *out = json_array(), *c;
    size_t i;
    json_array_foreach(checks, i, c) {
        const char *v = json_string_value(json_object_get(c, "verdict"));
        int p = json_is_true(json_object_get(c, "power"));
        if ((verdict && v && !strcmp(v, verdict)) || (!verdict && with_power && p))
            json_array_append_new(out, json_string(json_string_value(json_object_get(c, "name"))));
    }
    return out;
}

static void summary_text(size_t n, size_t npow, size_t nleak, size_t nfail, char *t, size_t len) {
    if (nleak || nfail)
        snprintf(t, len, "Leakage: %zu of the %zu checks with power found it%s (%zu checks in all).",
                 nleak, npow, nfail ? ", and the withdraw check failed" : "", n);
    else if (npow)
        snprintf(t, len, "No leakage found by the %zu checks with power (of %zu); the others could "
                 "not tell the original from the negative control and say inconclusive.", npow, n);
    else
        snprintf(t, len, "Inconclusive: none of the %zu checks could tell the original (positive "
                 "control) from the negative control, so none can say whether the target leaks.",
                 n);
}

lirf_status va_verdict(audit_t *a) {
    json_t *leak = names_of(a->checks, "leak", 0), *fail = names_of(a->checks, "fail", 0);
    json_t *inc = names_of(a->checks, "inconclusive", 0), *pow = names_of(a->checks, NULL, 1);
    size_t n = json_array_size(a->checks), nl = json_array_size(leak), nf = json_array_size(fail);
    size_t np = json_array_size(pow);
    int code = nl || nf ? LIRF_VERIFY_EXIT_LEAK : np ? LIRF_VERIFY_EXIT_OK : LIRF_VERIFY_EXIT_NOTHING;
    char text[400];
    summary_text(n, np, nl, nf, text, sizeof text);
    json_object_set_new(a->R, "calibration",
                        json_pack("{s:I,s:I,s:o,s:o,s:o,s:o,s:s}", "checks", (json_int_t)n,
                                  "with_power", (json_int_t)np, "power", pow, "leak", leak, "fail",
                                  fail, "inconclusive", inc, "text", text));
    json_object_set_new(a->R, "checks", a->checks);
    a->checks = NULL;
    json_object_set_new(a->R, "verdict",
                        json_string(code == LIRF_VERIFY_EXIT_LEAK ? "leakage"
                                    : code == LIRF_VERIFY_EXIT_OK ? "no leakage found by the checks with power"
                                                                  : "inconclusive: no check had power"));
    json_object_set_new(a->R, "exit_code", json_integer(code));
    json_object_set_new(a->timing, "total", json_real(lirf_now() - a->t_start));
    json_object_set_new(a->R, "seconds", a->timing);
    a->timing = NULL;
    return LIRF_OK;
}
