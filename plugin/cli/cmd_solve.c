/*
 * cmd_solve.c - `afd-sizer solve`: the optimal Attention/FFN ratio for a
 * profile and a workload (model.md sections 4-6).
 *
 * The workload comes in one of three forms: --theta X [--sigma S],
 * --trace PATH (theta and sigma by the renewal-reward sums, no forgetting),
 * or --geometric PROMPT,DECODE (fixed prompt, geometric decode; closed form).
 * With no workload and no --batch the paper's case runs (batch 256,
 * --geometric 100,500) and the output says so. Without sigma the barrier
 * result is left out with a note: guessing a geometric sigma for a workload
 * the user described only by its mean would print a confident wrong number.
 *
 * Flags are parsed strictly: an unknown flag, a missing or non-numeric
 * value, an out-of-range number or a contradictory combination is one line
 * on stderr and exit status 2.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "estimator/solver.h"
#include "estimator/workload.h"
#include "plugin/cli/cli.h"
#include "plugin/io/profile_json.h"
#include "plugin/io/solve_json.h"
#include "plugin/io/trace_file.h"
#include "plugin/sys/os.h"

#define CMD "afd-sizer solve"

/* The paper's case (arXiv 2601.21351): B = 256, prompt 100, decode ~Geo
 * with mean 500, i.e. theta = 599 and sigma = sqrt(499*500) = 499.5. */
#define DEFAULT_BATCH  256.0
#define DEFAULT_PROMPT 100.0
#define DEFAULT_DECODE 500.0

/* Bounds that keep x = ratio*y inside an int and the barrier search short. */
#define MAX_FFN_INSTANCES       100000L
#define MAX_RATIO_LIMIT         1e6
#define MAX_ATTENTION_INSTANCES 1e7

enum flag_id {
    F_PROFILE,
    F_PROFILE_FILE,
    F_BATCH,
    F_THETA,
    F_SIGMA,
    F_TRACE,
    F_GEOMETRIC,
    F_FFN,
    F_COMM,
    F_MAX_RATIO,
    F_NOISE,
    F_JSON,
    F_HELP,
    F_COUNT
};

struct flag_def {
    const char *name;
    const char *arg; /* NULL: the flag takes no value */
    const char *help;
};

static const struct flag_def flags[F_COUNT] = {
    [F_PROFILE] = {"--profile", "NAME",
                   "built-in profile (default " AFD_DEFAULT_PROFILE ")"},
    [F_PROFILE_FILE] = {"--profile-file", "PATH",
                        "profile JSON: name, aA..bF, comm_mode"},
    [F_BATCH] = {"--batch", "B", "decode slots per Attention instance, > 0"},
    [F_THETA] = {"--theta", "X", "mean per-slot load, tokens, >= 0"},
    [F_SIGMA] = {"--sigma", "S", "sd of the per-slot load (for the barrier)"},
    [F_TRACE] = {"--trace", "PATH", "theta and sigma from a request trace"},
    [F_GEOMETRIC] = {"--geometric", "PROMPT,DECODE",
                     "fixed prompt, geometric decode of mean DECODE"},
    [F_FFN] = {"--ffn-instances", "Y", "FFN instances y >= 1 (default 1)"},
    [F_COMM] = {"--comm-mode", "MODE",
                "per_instance|aggregate (default: the profile's)"},
    [F_MAX_RATIO] = {"--max-ratio", "N",
                     "upper bound of r = x/y, >= 1 (default 1024)"},
    [F_NOISE] = {"--noise-cv", "A,C,F",
                 "per-step noise of the attention, comm and FFN times\n"
                 "                             (coefficient of variation, "
                 "0..2; default 0,0,0)"},
    [F_JSON] = {"--json", NULL, "print one JSON object instead of a table"},
    [F_HELP] = {"--help", NULL, "this text"},
};

struct solve_opts {
    const char *value[F_COUNT]; /* raw value, or "" for a given bare flag */
    double batch, theta, sigma, prompt, decode, max_ratio;
    double noise_cv[AFD_REGIME_COUNT];
    long ffn;
    enum afd_comm_mode comm;
    bool defaults; /* no workload and no --batch given */
};

/* What the workload flags resolved to. */
struct workload_view {
    double theta, sigma;
    bool has_sigma;
    const char *source;     /* "flag", "trace", "geometric", "default" */
    struct afd_trace trace; /* loaded when source is "trace" */
    struct afd_workload_stats stats;
};

static void usage(FILE *out)
{
    size_t i;
    char head[48];

    fprintf(out,
            "usage: afd-sizer solve [--profile NAME | --profile-file PATH] "
            "--batch B\n"
            "         (--theta X [--sigma S] | --trace PATH | --geometric "
            "PROMPT,DECODE)\n"
            "         [--ffn-instances Y] [--comm-mode "
            "per_instance|aggregate]\n"
            "         [--max-ratio N] [--noise-cv A,C,F] [--json]\n"
            "\n"
            "Optimal Attention/FFN ratio r* (mean-field, continuous), its "
            "bottleneck\nregime, and integer recommendations (mean-field and "
            "barrier-aware).\nWith no --batch and no workload: batch 256 and "
            "--geometric 100,500\n(the paper's case).\n\n");
    for (i = 0; i < F_COUNT; i++) {
        snprintf(head, sizeof(head), "%s%s%s", flags[i].name,
                 flags[i].arg ? " " : "", flags[i].arg ? flags[i].arg : "");
        fprintf(out, "  %-26s %s\n", head, flags[i].help);
    }
}

static int usage_error(const char *msg)
{
    fprintf(stderr, CMD ": %s (see " CMD " --help)\n", msg);
    return AFD_EXIT_USAGE;
}

/* The flag named by a ("--name" or "--name=value"), or F_COUNT. */
static int find_flag(const char *a, size_t len)
{
    int f;

    if (!strcmp(a, "-h"))
        return F_HELP;
    for (f = 0; f < F_COUNT; f++)
        if (strlen(flags[f].name) == len && !strncmp(a, flags[f].name, len))
            return f;
    return F_COUNT;
}

/* Stores one flag's raw value; -1 to go on, else an exit status. */
static int take_flag(int argc, char **argv, int *i, struct solve_opts *o)
{
    const char *a = argv[*i], *eq = strchr(a, '='), *val = NULL;
    char msg[AFD_ERR_LEN];
    int f;

    f = find_flag(a, eq ? (size_t)(eq - a) : strlen(a));
    if (f == F_COUNT) {
        snprintf(msg, sizeof(msg), "%s '%.64s'",
                 a[0] == '-' ? "unknown flag" : "unexpected argument", a);
        return usage_error(msg);
    }
    if (o->value[f]) {
        snprintf(msg, sizeof(msg), "%s given twice", flags[f].name);
        return usage_error(msg);
    }
    if (!flags[f].arg) {
        if (eq) {
            snprintf(msg, sizeof(msg), "%s takes no value", flags[f].name);
            return usage_error(msg);
        }
        o->value[f] = "";
        return -1;
    }
    /* "--batch --json" is a forgotten value, not a batch named --json. */
    if (eq)
        val = eq + 1;
    else if (*i + 1 < argc && strncmp(argv[*i + 1], "--", 2) != 0)
        val = argv[++*i];
    if (!val || !*val) {
        snprintf(msg, sizeof(msg), "%s needs a value %s", flags[f].name,
                 flags[f].arg);
        return usage_error(msg);
    }
    o->value[f] = val;
    return -1;
}

/* Parses flag f as a number in [lo, hi] (lo excluded when open_lo); hi may
 * be INFINITY for no upper bound. */
static int number_flag(const struct solve_opts *o, int f, double lo,
                       bool open_lo, double hi, double *out)
{
    char err[AFD_ERR_LEN], msg[AFD_ERR_LEN];

    if (afd_parse_double(o->value[f], flags[f].name, out, err) < 0)
        return usage_error(err);
    if (*out < lo || (open_lo && *out == lo) || *out > hi) {
        if (isfinite(hi))
            snprintf(msg, sizeof(msg), "%s must be in [%g, %g], got '%.32s'",
                     flags[f].name, lo, hi, o->value[f]);
        else
            snprintf(msg, sizeof(msg), "%s must be %s %g, got '%.32s'",
                     flags[f].name, open_lo ? ">" : ">=", lo, o->value[f]);
        return usage_error(msg);
    }
    return -1;
}

static int parse_geometric(struct solve_opts *o)
{
    const char *s = o->value[F_GEOMETRIC], *comma = strchr(s, ',');
    char part[64], err[AFD_ERR_LEN], msg[AFD_ERR_LEN];
    size_t n;

    if (!comma || strchr(comma + 1, ',')) {
        snprintf(msg, sizeof(msg),
                 "--geometric needs PROMPT,DECODE (two numbers), got '%.64s'",
                 s);
        return usage_error(msg);
    }
    n = (size_t)(comma - s);
    if (n >= sizeof(part))
        return usage_error("--geometric PROMPT is too long to be a number");
    memcpy(part, s, n);
    part[n] = '\0';
    if (afd_parse_double(part, "--geometric PROMPT", &o->prompt, err) < 0 ||
        afd_parse_double(comma + 1, "--geometric DECODE", &o->decode, err) < 0)
        return usage_error(err);
    if (o->prompt < 0 || o->decode < 1) {
        snprintf(msg, sizeof(msg),
                 "--geometric needs PROMPT >= 0 and DECODE >= 1, got '%.64s'",
                 s);
        return usage_error(msg);
    }
    return -1;
}

/* Which combinations make sense; fills the defaults. */
static int check_combination(struct solve_opts *o)
{
    const char **v = o->value;
    int forms = !!v[F_THETA] + !!v[F_TRACE] + !!v[F_GEOMETRIC];

    if (v[F_PROFILE] && v[F_PROFILE_FILE])
        return usage_error("give at most one of --profile and --profile-file");
    if (forms > 1)
        return usage_error("give only one workload: --theta, --trace or "
                           "--geometric");
    if (v[F_SIGMA] && !v[F_THETA])
        return usage_error("--sigma goes with --theta (--trace and "
                           "--geometric give sigma themselves)");
    if (forms == 0 && v[F_BATCH])
        return usage_error("--batch needs a workload: --theta X [--sigma S], "
                           "--trace PATH or --geometric PROMPT,DECODE");
    if (forms == 1 && !v[F_BATCH])
        return usage_error("--batch B is required with a workload");
    if (forms == 0) {
        o->defaults = true;
        o->batch = DEFAULT_BATCH;
        o->prompt = DEFAULT_PROMPT;
        o->decode = DEFAULT_DECODE;
    }
    return -1;
}

/* --noise-cv A,C,F: three coefficients of variation in [0, 2]. */
static int parse_noise(struct solve_opts *o)
{
    const char *s = o->value[F_NOISE];
    char msg[AFD_ERR_LEN], tail;
    int k;

    if (sscanf(s, "%lf,%lf,%lf%c", &o->noise_cv[0], &o->noise_cv[1],
               &o->noise_cv[2], &tail) != 3) {
        snprintf(msg, sizeof(msg),
                 "--noise-cv needs A,C,F (three numbers), got '%.64s'", s);
        return usage_error(msg);
    }
    for (k = 0; k < AFD_REGIME_COUNT; k++) {
        if (!(o->noise_cv[k] >= 0 && o->noise_cv[k] <= AFD_MAX_STAGE_CV)) {
            snprintf(msg, sizeof(msg),
                     "--noise-cv values must be in [0, %g], got '%.64s'",
                     AFD_MAX_STAGE_CV, s);
            return usage_error(msg);
        }
    }
    return -1;
}

static int parse_numbers(struct solve_opts *o)
{
    char err[AFD_ERR_LEN];
    double y;
    int rc;

    if (o->value[F_BATCH] &&
        (rc = number_flag(o, F_BATCH, 0, true, INFINITY, &o->batch)) >= 0)
        return rc;
    if (o->value[F_THETA] &&
        (rc = number_flag(o, F_THETA, 0, false, INFINITY, &o->theta)) >= 0)
        return rc;
    if (o->value[F_SIGMA] &&
        (rc = number_flag(o, F_SIGMA, 0, false, INFINITY, &o->sigma)) >= 0)
        return rc;
    if (o->value[F_GEOMETRIC] && (rc = parse_geometric(o)) >= 0)
        return rc;
    if (o->value[F_NOISE] && (rc = parse_noise(o)) >= 0)
        return rc;
    if (o->value[F_MAX_RATIO] &&
        (rc = number_flag(o, F_MAX_RATIO, 1, false, MAX_RATIO_LIMIT,
                          &o->max_ratio)) >= 0)
        return rc;
    if (o->value[F_FFN]) {
        if (afd_parse_long(o->value[F_FFN], "--ffn-instances", &o->ffn, err) <
            0)
            return usage_error(err);
        y = (double)o->ffn;
        if (o->ffn < 1 || o->ffn > MAX_FFN_INSTANCES)
            return usage_error("--ffn-instances must be in [1, 100000]");
    } else {
        y = 1;
    }
    if (o->max_ratio * y > MAX_ATTENTION_INSTANCES)
        return usage_error("--max-ratio times --ffn-instances must be <= "
                           "1e7 Attention instances");
    if (o->value[F_COMM] &&
        afd_comm_mode_parse(o->value[F_COMM], &o->comm, err) < 0)
        return usage_error(err);
    return -1;
}

/* -1 to go on, else the exit status (help printed or bad usage). */
static int parse_args(int argc, char **argv, struct solve_opts *o)
{
    int i, rc;

    memset(o, 0, sizeof(*o));
    o->ffn = 1;
    o->max_ratio = AFD_DEFAULT_MAX_RATIO;
    for (i = 1; i < argc; i++)
        if ((rc = take_flag(argc, argv, &i, o)) >= 0)
            return rc;
    if (o->value[F_HELP]) {
        usage(stdout);
        return AFD_EXIT_OK;
    }
    if ((rc = check_combination(o)) >= 0)
        return rc;
    return parse_numbers(o);
}

static int exit_for(int rc)
{
    return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
}

/* Resolves the workload flags to theta and sigma. */
static int load_workload(const struct solve_opts *o, struct workload_view *w)
{
    char err[AFD_ERR_LEN];
    int rc;

    memset(w, 0, sizeof(*w));
    if (o->value[F_THETA]) {
        w->source = "flag";
        w->theta = o->theta;
        w->has_sigma = o->value[F_SIGMA] != NULL;
        w->sigma = o->sigma;
        return AFD_EXIT_OK;
    }
    if (o->value[F_TRACE]) {
        w->source = "trace";
        rc = afd_trace_load(o->value[F_TRACE], &w->trace, err);
        if (rc == AFD_OK &&
            (rc = afd_trace_stats(&w->trace, &w->stats, err)) < 0)
            afd_trace_release(&w->trace);
        if (rc < 0) {
            fprintf(stderr, CMD ": %s\n", err);
            return exit_for(rc);
        }
        if (w->trace.malformed)
            fprintf(stderr,
                    CMD ": warning: %s: %zu malformed lines skipped (first: "
                        "line %zu: %s)\n",
                    o->value[F_TRACE], w->trace.malformed,
                    w->trace.first_bad_line, w->trace.first_bad_reason);
        w->theta = w->stats.theta;
        w->sigma = w->stats.sigma;
        w->has_sigma = true;
        return AFD_EXIT_OK;
    }
    w->source = o->defaults ? "default" : "geometric";
    rc = afd_workload_geometric(o->prompt, 0, o->decode, &w->theta, &w->sigma,
                                err);
    if (rc < 0) {
        fprintf(stderr, CMD ": --geometric: %s\n", err);
        return AFD_EXIT_USAGE;
    }
    w->has_sigma = true;
    return AFD_EXIT_OK;
}

static int load_profile(const struct solve_opts *o, struct afd_profile *p)
{
    char err[AFD_ERR_LEN];
    int rc;

    rc = afd_profile_resolve(o->value[F_PROFILE], o->value[F_PROFILE_FILE], p,
                             err);
    if (rc < 0) {
        fprintf(stderr, CMD ": %s\n", err);
        return exit_for(rc);
    }
    if (o->value[F_COMM])
        p->comm_mode = o->comm;
    return AFD_EXIT_OK;
}

static void defaults_text(const struct workload_view *w, char *buf, size_t cap)
{
    snprintf(buf, cap,
             "defaults: no --batch and no workload given, so batch %g and "
             "--geometric %g,%g (prompt %g tokens, geometric decode of mean "
             "%g: theta %.2f, sigma %.2f), the paper's case",
             DEFAULT_BATCH, DEFAULT_PROMPT, DEFAULT_DECODE, DEFAULT_PROMPT,
             DEFAULT_DECODE, w->theta, w->sigma);
}

#define NO_SIGMA_WHY                                                           \
    "sigma unknown; pass --sigma S with --theta, or use --trace PATH or "      \
    "--geometric PROMPT,DECODE"
static const char no_sigma_note[] =
    "barrier-aware result omitted: " NO_SIGMA_WHY;

/* The workload's origin as a JSON object: enough to reproduce the run. */
static json_t *workload_json(const struct solve_opts *o,
                             const struct workload_view *w)
{
    if (o->value[F_TRACE])
        return json_pack(
            "{s:s, s:s, s:I, s:I, s:f, s:f}", "trace", o->value[F_TRACE],
            "format", afd_trace_format_name(w->trace.format), "requests",
            (json_int_t)w->stats.requests, "malformed_lines",
            (json_int_t)w->trace.malformed, "mean_prompt", w->stats.mean_prompt,
            "mean_decode", w->stats.mean_decode);
    if (o->value[F_THETA])
        return json_pack("{s:f, s:o}", "theta", o->theta, "sigma",
                         w->has_sigma ? json_real(o->sigma) : json_null());
    return json_pack("{s:f, s:f}", "prompt", o->prompt, "decode_mean",
                     o->decode);
}

static int print_json(const struct solve_opts *o, const struct workload_view *w,
                      const struct afd_solve_input *in,
                      const struct afd_solution *sol)
{
    char defaults[AFD_ERR_LEN * 2];
    const char *note = NULL;
    json_t *obj;
    char *text = NULL;
    int bad = 0;

    if (o->defaults) {
        defaults_text(w, defaults, sizeof(defaults));
        note = defaults;
    } else if (!sol->has_barrier) {
        note = no_sigma_note;
    }
    obj = afd_solve_to_json(in, sol, w->source, note);
    if (obj) {
        bad |= json_object_set_new(obj, "workload", workload_json(o, w));
        bad |= json_object_set_new(
            obj, "defaults", o->defaults ? json_string(defaults) : json_null());
        bad |= json_object_set_new(
            obj, "comm_mode_source",
            json_string(o->value[F_COMM] ? "flag" : "profile"));
        if (!bad)
            text = json_dumps(obj, JSON_INDENT(2) | JSON_REAL_PRECISION(12));
        json_decref(obj);
    }
    if (!text) {
        fprintf(stderr, CMD ": cannot format the JSON output\n");
        return AFD_EXIT_FAILURE;
    }
    printf("%s\n", text);
    free(text);
    return AFD_EXIT_OK;
}

static void print_workload_line(const struct solve_opts *o,
                                const struct workload_view *w,
                                const struct afd_solve_input *in)
{
    char sigma[48];

    if (w->has_sigma)
        snprintf(sigma, sizeof(sigma), "= %.2f tokens", w->sigma);
    else
        snprintf(sigma, sizeof(sigma), "unknown");
    printf("inputs      B = %g, theta = %.2f tokens, sigma %s, "
           "y = %d FFN, max ratio %g\n",
           in->batch, in->theta, sigma, in->ffn_instances, in->max_ratio);
    if (in->stage_cv[0] > 0 || in->stage_cv[1] > 0 || in->stage_cv[2] > 0)
        printf("noise       per-step cv: attention %g, comm %g, ffn %g "
               "(barrier-aware answer)\n",
               in->stage_cv[0], in->stage_cv[1], in->stage_cv[2]);
    if (o->value[F_TRACE])
        printf("workload    trace %s (%s, %llu requests, %zu malformed lines "
               "skipped)\n",
               o->value[F_TRACE], afd_trace_format_name(w->trace.format),
               (unsigned long long)w->stats.requests, w->trace.malformed);
    else if (o->value[F_THETA])
        printf("workload    --theta %s%s%s\n", o->value[F_THETA],
               w->has_sigma ? " --sigma " : "",
               w->has_sigma ? o->value[F_SIGMA] : "");
    else
        printf("workload    prompt %g tokens, geometric decode of mean %g\n",
               o->prompt, o->decode);
}

static void print_recommendations(const struct afd_solve_input *in,
                                  const struct afd_solution *sol)
{
    printf("recommend   mean-field:    %d Attention per %d FFN (r = %.5g, "
           "%.4g tokens/ms/device)\n",
           sol->attention_instances, in->ffn_instances,
           (double)sol->attention_instances / in->ffn_instances,
           sol->throughput_per_device_int);
    if (sol->has_barrier)
        printf("            barrier-aware: %d Attention per %d FFN (r = %.5g, "
               "E[step] %.3f ms, %.4g tokens/ms/device, load sd %.4g "
               "tokens%s)\n",
               sol->attention_instances_barrier, in->ffn_instances,
               sol->r_star_barrier, sol->step_time_barrier,
               sol->throughput_per_device_barrier, sol->barrier_spread,
               sol->spread_measured ? ", measured" : "");
    else
        printf("            barrier-aware: omitted: %s\n", NO_SIGMA_WHY);
}

static void print_table(const struct solve_opts *o,
                        const struct workload_view *w,
                        const struct afd_solve_input *in,
                        const struct afd_solution *sol)
{
    char defaults[AFD_ERR_LEN * 2];
    double eta[AFD_REGIME_COUNT];
    char span[64];
    size_t i;

    printf("profile     %s (comm %s%s)\n", in->profile->name,
           afd_comm_mode_name(in->profile->comm_mode),
           o->value[F_COMM] ? ", set by --comm-mode" : "");
    printf("provenance  %s\n", in->profile->provenance[0]
                                   ? in->profile->provenance
                                   : "(none given)");
    if (o->defaults) {
        defaults_text(w, defaults, sizeof(defaults));
        printf("%s\n", defaults);
    }
    print_workload_line(o, w, in);
    if (sol->has_closed_form)
        printf("r*          %.5g  mean-field, continuous (r_A %.5g, r_C %.5g, "
               "r_peak %.5g)\n",
               sol->r_star, sol->r_A, sol->r_C, sol->r_peak);
    else
        printf("r*          %.5g  mean-field, continuous (aggregate comm: no "
               "closed form)\n",
               sol->r_star);
    printf("regime      %s at r*\n", afd_regime_name(sol->regime));
    printf("throughput  %.4g tokens/ms/device at r* (step %.3f ms)\n",
           sol->throughput_per_device, sol->step_time);
    afd_idle_ratios_at(in, sol->r_star, eta);
    printf("idle at r*  attention %.3f, communication %.3f, ffn %.3f\n",
           eta[AFD_REGIME_ATTENTION], eta[AFD_REGIME_COMMUNICATION],
           eta[AFD_REGIME_FFN]);
    print_recommendations(in, sol);
    for (i = 0; i < sol->n_regimes && i < AFD_REGIME_COUNT; i++) {
        snprintf(span, sizeof(span), "(%.5g, %.5g]", sol->regimes[i].from,
                 sol->regimes[i].to);
        printf("%-11s %-22s %s\n", i ? "" : "regimes", span,
               afd_regime_name(sol->regimes[i].regime));
    }
}

int afd_cmd_solve(int argc, char **argv)
{
    struct afd_solve_input in;
    struct afd_solution sol;
    struct afd_profile profile;
    struct workload_view w;
    struct solve_opts o;
    char err[AFD_ERR_LEN];
    int rc;

    rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if ((rc = load_profile(&o, &profile)) != AFD_EXIT_OK)
        return rc;
    if ((rc = load_workload(&o, &w)) != AFD_EXIT_OK)
        return rc;
    afd_solve_input_init(&in, &profile, o.batch, w.theta);
    in.has_sigma = w.has_sigma;
    in.sigma = w.sigma;
    in.ffn_instances = (int)o.ffn;
    in.max_ratio = o.max_ratio;
    memcpy(in.stage_cv, o.noise_cv, sizeof(in.stage_cv));
    rc = afd_solve(&in, &sol, err);
    if (rc < 0) {
        fprintf(stderr, CMD ": %s\n", err);
        rc = exit_for(rc);
        goto release;
    }
    if (o.value[F_JSON]) {
        rc = print_json(&o, &w, &in, &sol);
    } else {
        print_table(&o, &w, &in, &sol);
        rc = AFD_EXIT_OK;
    }
release:
    afd_trace_release(&w.trace);
    return rc;
}
