/*
 * cmd_profile.c - `afd-sizer profile`: list and show the built-in hardware
 * profiles, and fit a profile from measured stage times.
 *
 * `fit` reads the CSV of plugin/io/measure_csv.h, fits each stage with
 * estimator/fit.h and prints the profile with 95% intervals, R^2, the
 * residual spread and identifiability warnings. With --json it prints one
 * object whose "profile" member is a valid --profile-file.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/fit.h"
#include "plugin/cli/cli.h"
#include "plugin/io/measure_csv.h"
#include "plugin/io/profile_json.h"

#define CMD "afd-sizer profile"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: afd-sizer profile list\n"
        "       afd-sizer profile show NAME [--json]\n"
        "       afd-sizer profile fit --csv FILE [--name N]\n"
        "                 [--comm-mode per_instance|aggregate] [--json]\n"
        "\n"
        "Hardware profiles: t = a*x + b per stage (model.md section 2).\n"
        "\n"
        "  list         the built-in profiles\n"
        "  show NAME    one built-in's coefficients (--json: a valid\n"
        "               --profile-file)\n"
        "  fit          fit a profile to measured stage times. FILE is CSV\n"
        "               with the header stage,tokens,ms; stage is\n"
        "               attention, communication or ffn; tokens is that\n"
        "               stage's x (attention: load of one instance,\n"
        "               communication: B or r*B per --comm-mode, ffn:\n"
        "               r*B). Robust to a few outliers; prints 95%%\n"
        "               intervals, R^2, residual sd and warnings where\n"
        "               the measured range cannot identify a coefficient.\n"
        "               --json: an object whose \"profile\" member is a\n"
        "               valid --profile-file. Default --name: fitted,\n"
        "               default --comm-mode: per_instance.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, CMD ": ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, " (see " CMD " --help)\n");
    return AFD_EXIT_USAGE;
}

static int print_json(json_t *j)
{
    char *s =
        j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) : NULL;

    json_decref(j);
    if (!s) {
        fprintf(stderr, CMD ": out of memory\n");
        return AFD_EXIT_FAILURE;
    }
    puts(s);
    free(s);
    return AFD_EXIT_OK;
}

static int cmd_list(int argc)
{
    size_t i;

    if (argc > 1)
        return usage_error("list takes no arguments%s", "");
    printf("%-20s %-13s %s\n", "name", "comm_mode", "provenance");
    for (i = 0; i < afd_profile_builtin_count(); i++) {
        const struct afd_profile *p = afd_profile_builtin_at(i);

        printf("%-20s %-13s %s\n", p->name, afd_comm_mode_name(p->comm_mode),
               p->provenance);
    }
    return AFD_EXIT_OK;
}

static void print_profile(const struct afd_profile *p)
{
    printf("profile     %s\n", p->name);
    printf("provenance  %s\n", p->provenance);
    printf("comm_mode   %s\n", afd_comm_mode_name(p->comm_mode));
    printf("attention   t_A(T) = %.6g * T + %.6g ms\n", p->aA, p->bA);
    printf("comm        t_C(x) = %.6g * x + %.6g ms  (x = %s)\n", p->aC, p->bC,
           p->comm_mode == AFD_COMM_AGGREGATE ? "r*B" : "B");
    printf("ffn         t_F(n) = %.6g * n + %.6g ms\n", p->aF, p->bF);
}

static int cmd_show(int argc, char **argv)
{
    const char *name = NULL;
    bool json = false;
    const struct afd_profile *p;
    size_t i;
    int k;

    for (k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--json"))
            json = true;
        else if (argv[k][0] == '-')
            return usage_error("unknown option '%s'", argv[k]);
        else if (name)
            return usage_error("show takes one NAME, got also '%s'", argv[k]);
        else
            name = argv[k];
    }
    if (!name)
        return usage_error("show needs a profile NAME%s", "");
    p = afd_profile_builtin(name);
    if (!p) {
        fprintf(stderr, CMD ": no built-in profile '%s'; built-ins:", name);
        for (i = 0; i < afd_profile_builtin_count(); i++)
            fprintf(stderr, " %s", afd_profile_builtin_at(i)->name);
        fprintf(stderr, "\n");
        return AFD_EXIT_USAGE;
    }
    if (json)
        return print_json(afd_profile_to_json(p));
    print_profile(p);
    return AFD_EXIT_OK;
}

/* Warning sentences for one stage; calls emit(text, ctx) for each. */
static void stage_warnings(enum afd_stage s, const struct afd_stage_fit *f,
                           void (*emit)(const char *, void *), void *ctx)
{
    char b[AFD_ERR_LEN];
    const char *n = afd_stage_name(s);

    if (f->warnings & AFD_FIT_WARN_NARROW_RANGE) {
        snprintf(b, sizeof(b),
                 "%s: tokens span only %g..%g (< 20%% of the largest); slope "
                 "and intercept cannot be told apart - measure over a wider "
                 "token range",
                 n, f->x_min, f->x_max);
        emit(b, ctx);
    }
    if (f->warnings & AFD_FIT_WARN_SLOPE) {
        snprintf(b, sizeof(b),
                 "%s: the slope is not identified (95%% interval wider than "
                 "+-50%% of it)",
                 n);
        emit(b, ctx);
    }
    if (f->warnings & AFD_FIT_WARN_INTERCEPT) {
        snprintf(b, sizeof(b),
                 "%s: the intercept is not identified (95%% interval wider "
                 "than +-50%% of it)",
                 n);
        emit(b, ctx);
    }
    if (f->warnings & AFD_FIT_WARN_FEW_POINTS) {
        snprintf(b, sizeof(b),
                 "%s: only %zu measurements kept; intervals are rough", n,
                 f->n - f->n_outliers);
        emit(b, ctx);
    }
    if (f->warnings & AFD_FIT_WARN_CLAMPED) {
        snprintf(b, sizeof(b),
                 "%s: a fitted coefficient was negative and is set to 0", n);
        emit(b, ctx);
    }
}

static void emit_stderr(const char *text, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "warning: %s\n", text);
}

static void emit_json(const char *text, void *ctx)
{
    json_array_append_new((json_t *)ctx, json_string(text));
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *fit_json(enum afd_stage s, const struct afd_stage_fit *f)
{
    json_t *w = json_array();

    stage_warnings(s, f, emit_json, w);
    return json_pack("{s:o, s:[o,o], s:o, s:[o,o], s:o, s:o, s:I, s:I, "
                     "s:[f,f], s:o}",
                     "slope", json_real(f->slope), "slope_ci95",
                     num_or_null(f->slope_lo), num_or_null(f->slope_hi),
                     "intercept", json_real(f->intercept), "intercept_ci95",
                     num_or_null(f->intercept_lo), num_or_null(f->intercept_hi),
                     "r2", json_real(f->r2), "resid_sd_ms",
                     num_or_null(f->resid_sd), "n", (json_int_t)f->n,
                     "outliers", (json_int_t)f->n_outliers, "tokens_range",
                     f->x_min, f->x_max, "warnings", w);
}

static int cmd_fit(int argc, char **argv)
{
    const char *csv = NULL, *name = "fitted";
    enum afd_comm_mode mode = AFD_COMM_PER_INSTANCE;
    struct afd_measure_set m;
    struct afd_stage_fit fits[AFD_STAGE_COUNT];
    struct afd_profile prof;
    const struct afd_fit_point *pts[AFD_STAGE_COUNT];
    char err[AFD_ERR_LEN], prov[AFD_PROFILE_PROVENANCE_LEN];
    size_t maxn = 0, total = 0;
    double *work;
    bool json = false;
    int k, rc;

    for (k = 1; k < argc; k++) {
        const char *a = argv[k];

        if (!strcmp(a, "--json")) {
            json = true;
        } else if (!strcmp(a, "--csv") || !strcmp(a, "--name") ||
                   !strcmp(a, "--comm-mode")) {
            if (k + 1 >= argc || !strncmp(argv[k + 1], "--", 2))
                return usage_error("%s needs a value", a);
            if (!strcmp(a, "--csv"))
                csv = argv[++k];
            else if (!strcmp(a, "--name"))
                name = argv[++k];
            else if (afd_comm_mode_parse(argv[++k], &mode, err) != AFD_OK)
                return usage_error("%s", err);
        } else {
            return usage_error("unknown option '%s'", a);
        }
    }
    if (!csv)
        return usage_error("fit needs --csv FILE%s", "");
    if (!name[0] || strlen(name) >= AFD_PROFILE_NAME_LEN)
        return usage_error("--name must be 1 to 63 characters, got '%s'", name);
    rc = afd_measure_load(csv, &m, err);
    if (rc != AFD_OK) {
        fprintf(stderr, CMD " fit: %s\n", err);
        return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
    }
    for (k = 0; k < AFD_STAGE_COUNT; k++) {
        pts[k] = m.pts[k];
        maxn = m.n[k] > maxn ? m.n[k] : maxn;
        total += m.n[k];
    }
    work = malloc(2 * (maxn ? maxn : 1) * sizeof(*work));
    if (!work) {
        afd_measure_set_free(&m);
        fprintf(stderr, CMD " fit: out of memory\n");
        return AFD_EXIT_FAILURE;
    }
    snprintf(prov, sizeof(prov),
             "afd-sizer profile fit of %zu measurements "
             "in %s",
             total, csv);
    rc = afd_fit_profile(pts, m.n, work, name, prov, mode, &prof, fits, err);
    free(work);
    afd_measure_set_free(&m);
    if (rc != AFD_OK) {
        fprintf(stderr, CMD " fit: %s: %s\n", csv, err);
        return AFD_EXIT_USAGE;
    }
    if (json) {
        json_t *o = json_object(), *fo = json_object(), *all = json_array();

        for (k = 0; k < AFD_STAGE_COUNT; k++) {
            json_object_set_new(fo, afd_stage_name((enum afd_stage)k),
                                fit_json((enum afd_stage)k, &fits[k]));
            stage_warnings((enum afd_stage)k, &fits[k], emit_json, all);
        }
        json_object_set_new(o, "profile", afd_profile_to_json(&prof));
        json_object_set_new(o, "fits", fo);
        json_object_set_new(o, "warnings", all);
        return print_json(o);
    }
    print_profile(&prof);
    printf("\n%-14s %5s %4s %12s %26s %10s %22s %9s %8s\n", "stage", "n", "out",
           "slope ms/tok", "95% interval", "icpt ms", "95% interval", "R^2",
           "sd ms");
    for (k = 0; k < AFD_STAGE_COUNT; k++) {
        const struct afd_stage_fit *f = &fits[k];

        printf("%-14s %5zu %4zu %12.5g [%11.5g, %11.5g] %10.5g "
               "[%9.4g, %9.4g] %9.6f %8.4g\n",
               afd_stage_name((enum afd_stage)k), f->n, f->n_outliers, f->slope,
               f->slope_lo, f->slope_hi, f->intercept, f->intercept_lo,
               f->intercept_hi, f->r2, f->resid_sd);
    }
    for (k = 0; k < AFD_STAGE_COUNT; k++)
        stage_warnings((enum afd_stage)k, &fits[k], emit_stderr, NULL);
    return AFD_EXIT_OK;
}

int afd_cmd_profile(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return AFD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return AFD_EXIT_OK;
    }
    if (!strcmp(argv[1], "list"))
        return cmd_list(argc - 1);
    if (!strcmp(argv[1], "show"))
        return cmd_show(argc - 1, argv + 1);
    if (!strcmp(argv[1], "fit"))
        return cmd_fit(argc - 1, argv + 1);
    return usage_error("unknown profile command '%s'", argv[1]);
}
