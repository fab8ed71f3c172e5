/*
 * main.c - afd-sim: the AFD step simulator's command line.
 *
 *   afd-sim [options] --sweep LO:HI[:STEP] | --ratio R | --attention X
 *   afd-sim validate [options]        the theory-vs-simulation grid
 *
 * Exit status as afd-sizer (plugin/cli/cli.h): 0 success, 1 runtime failure,
 * 2 bad usage or input, with one line "afd-sim: <what failed>" on stderr.
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/sys/os.h"
#include "plugin/io/profile_json.h"
#include "plugin/sys/os.h"
#include "integration/sim/report.h"
#include "integration/sim/scenario_cli.h"
#include "integration/sim/svg.h"
#include "integration/sim/sweep.h"
#include "integration/sim/validate.h"

#define DEFAULT_WORKLOAD "geometric:prompt=100,decode=500"
#define MAX_STEPS        10000000000ULL

struct opts {
    const char *profile, *profile_file, *comm, *workload, *csv, *svg;
    long batch, ffn, lo, hi, stride;
    double ratio;
    long attention;
    int mode; /* 0 none, 1 sweep, 2 ratio, 3 attention */
    unsigned long long steps, warmup, seed;
    double noise;
    long batches, jobs;
    bool json;
    bool refine;
};

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: afd-sim [options] (--sweep LO:HI[:STEP] | --ratio R | "
        "--attention X)\n"
        "       afd-sim validate --help\n"
        "       afd-sim scenario --help   scenarios under sizing policies\n\n"
        "Step simulator of an xA-yF bundle (model.md section 8): B slots per\n"
        "Attention instance always refilled, step time = max(slowest\n"
        "Attention, communication, FFN). Reports throughput per device with a\n"
        "95%% CI (batch means), idle ratios and bound shares per x, and for a\n"
        "sweep the simulation optimum beside the solver's mean-field and\n"
        "barrier-aware picks for the theta/sigma of the requests drawn.\n\n"
        "  --sweep LO:HI[:STEP]  every x = LO, LO+STEP, .., HI Attention\n"
        "                        instances for the given FFN count; theory\n"
        "                        picks outside the range are simulated too\n"
        "  --refine              with STEP > 1: then zoom in around the best\n"
        "                        x down to stride 1 (about 30 runs in all)\n"
        "  --ratio R             one run at r = R, i.e. x = R*y (an integer)\n"
        "  --attention X         one run with X Attention instances\n"
        "  --profile NAME        built-in profile (default %s)\n"
        "  --profile-file PATH   profile JSON (same loader as afd-sizer)\n"
        "  --comm-mode MODE      override: per_instance or aggregate\n"
        "  --batch B             slots per Attention instance (default 256)\n"
        "  --ffn-instances Y     FFN instances (default 1)\n"
        "  --workload SPEC       default %s\n"
        "  --steps N             measured steps per x (default 1000000: the\n"
        "                        geometric paper case resolves its optimum:\n"
        "                        --sweep 4:16 at B = 256 separates x = 10\n"
        "                        from 9 and 11 in ~3 s with --jobs 2;\n"
        "                        heavy tails need more: see the ties line)\n"
        "  --warmup N            uncounted steps first (default 20000)\n"
        "  --seed S              seed (default 1); same seed, same output\n"
        "  --noise CV            lognormal noise per stage time, mean 1\n"
        "  --batches N           batch means for the CI (default 32)\n"
        "  --jobs N              threads over x (default 1; output identical)\n"
        "  --json                one JSON object on stdout\n"
        "  --csv PATH            per-x rows as CSV\n"
        "  --svg PATH            throughput-vs-x plot with CI bars, theory\n"
        "                        picks marked and regimes shaded\n\n%s",
        AFD_DEFAULT_PROFILE, DEFAULT_WORKLOAD, afd_gen_help());
}

static int usage_err(const char *msg)
{
    fprintf(stderr, "afd-sim: %s\n", msg);
    return AFD_EXIT_USAGE;
}

static int parse_ull(const char *s, const char *what, unsigned long long max,
                     unsigned long long *out, char *err)
{
    double v;

    if (afd_parse_double(s, what, &v, err))
        return AFD_EPARSE;
    if (v < 0 || v != (double)(unsigned long long)v || v > (double)max)
        return afd_err(err, AFD_EINVAL,
                       "%s must be an integer in 0..%llu, got '%s'", what, max,
                       s);
    *out = (unsigned long long)v;
    return AFD_OK;
}

static int parse_sweep(const char *s, struct opts *o, char *err)
{
    char *end;
    long v[3] = {0, 0, 1};
    const char *p = s;
    int i;

    for (i = 0; i < 3; i++) {
        v[i] = strtol(p, &end, 10);
        if (end == p || (*end && *end != ':') || (i < 1 && *end != ':'))
            return afd_err(err, AFD_EPARSE,
                           "--sweep must be LO:HI or LO:HI:STEP, got '%s'", s);
        if (!*end)
            break;
        p = end + 1;
        if (i == 2)
            return afd_err(err, AFD_EPARSE,
                           "--sweep must be LO:HI or LO:HI:STEP, got '%s'", s);
    }
    if (v[0] < 1 || v[1] < v[0] || v[2] < 1)
        return afd_err(err, AFD_EINVAL,
                       "--sweep needs 1 <= LO <= HI and STEP >= 1, got '%s'",
                       s);
    o->lo = v[0];
    o->hi = v[1];
    o->stride = v[2];
    return AFD_OK;
}

/* One flag with its value; AFD_EPARSE/EINVAL with the message in err. */
static int parse_flag(struct opts *o, const char *f, const char *v, char *err)
{
    long l;

    if (!strcmp(f, "--profile"))
        o->profile = v;
    else if (!strcmp(f, "--profile-file"))
        o->profile_file = v;
    else if (!strcmp(f, "--comm-mode"))
        o->comm = v;
    else if (!strcmp(f, "--workload"))
        o->workload = v;
    else if (!strcmp(f, "--csv"))
        o->csv = v;
    else if (!strcmp(f, "--svg"))
        o->svg = v;
    else if (!strcmp(f, "--sweep")) {
        o->mode = o->mode ? -1 : 1;
        return parse_sweep(v, o, err);
    } else if (!strcmp(f, "--ratio")) {
        o->mode = o->mode ? -1 : 2;
        if (afd_parse_double(v, "--ratio", &o->ratio, err))
            return AFD_EPARSE;
        if (!(o->ratio > 0))
            return afd_err(err, AFD_EINVAL, "--ratio must be > 0, got '%s'", v);
    } else if (!strcmp(f, "--steps"))
        return parse_ull(v, "--steps", MAX_STEPS, &o->steps, err);
    else if (!strcmp(f, "--warmup"))
        return parse_ull(v, "--warmup", MAX_STEPS, &o->warmup, err);
    else if (!strcmp(f, "--seed"))
        return parse_ull(v, "--seed", ~0ULL >> 11, &o->seed, err);
    else if (!strcmp(f, "--noise")) {
        if (afd_parse_double(v, "--noise", &o->noise, err))
            return AFD_EPARSE;
    } else {
        long *dst = !strcmp(f, "--batch")           ? &o->batch
                    : !strcmp(f, "--ffn-instances") ? &o->ffn
                    : !strcmp(f, "--attention")     ? &o->attention
                    : !strcmp(f, "--batches")       ? &o->batches
                    : !strcmp(f, "--jobs")          ? &o->jobs
                                                    : NULL;
        if (!dst)
            return afd_err(err, AFD_EPARSE, "unknown option '%s' (see --help)",
                           f);
        if (afd_parse_long(v, f, &l, err))
            return AFD_EPARSE;
        if (l < 1)
            return afd_err(err, AFD_EINVAL, "%s must be >= 1, got '%s'", f, v);
        if (dst == &o->attention)
            o->mode = o->mode ? -1 : 3;
        *dst = l;
    }
    return AFD_OK;
}

static int parse_args(int argc, char **argv, struct opts *o, char *err)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *f = argv[i];
        if (!strcmp(f, "--json") || !strcmp(f, "--refine")) {
            *(f[2] == 'j' ? &o->json : &o->refine) = true;
            continue;
        }
        if (strncmp(f, "--", 2))
            return afd_err(err, AFD_EPARSE, "unexpected argument '%s'", f);
        if (i + 1 >= argc)
            return afd_err(err, AFD_EPARSE, "option '%s' needs a value", f);
        if (parse_flag(o, f, argv[++i], err))
            return AFD_EPARSE;
        if (o->mode < 0)
            return afd_err(err, AFD_EPARSE,
                           "give only one of --sweep, --ratio, --attention");
    }
    if (!o->mode)
        return afd_err(err, AFD_EPARSE,
                       "give one of --sweep LO:HI, --ratio R, --attention X");
    if (o->mode == 2) {
        double x = o->ratio * (double)o->ffn;
        if (x != (double)(long)x || x < 1)
            return afd_err(err, AFD_EINVAL,
                           "--ratio %g times --ffn-instances %ld must be a "
                           "whole Attention count",
                           o->ratio, o->ffn);
        o->attention = (long)x;
    }
    if (o->mode >= 2) {
        o->lo = o->hi = o->attention;
        o->stride = 1;
    }
    return AFD_OK;
}

static void progress(void *ctx, size_t done, size_t total, long x)
{
    (void)ctx;
    fprintf(stderr, "\rafd-sim: %zu/%zu ratios simulated (x = %ld)%s", done,
            total, x, done == total ? "\n" : "");
}

static int output(const struct afd_sweep_config *c,
                  const struct afd_sweep_result *r, const struct opts *o)
{
    struct afd_report_meta m = {o->workload, o->seed,  o->steps,
                                o->warmup,   o->noise, (int)o->batches};
    char err[AFD_ERR_LEN];

    if (o->csv && afd_report_csv(o->csv, r, err))
        return fprintf(stderr, "afd-sim: %s\n", err), AFD_EXIT_FAILURE;
    if (o->svg && afd_svg_sweep(o->svg, c, r, o->workload, err))
        return fprintf(stderr, "afd-sim: %s\n", err), AFD_EXIT_FAILURE;
    if (o->json) {
        json_t *j = afd_report_json(c, r, &m);
        if (!j ||
            json_dumpf(j, stdout, JSON_INDENT(2) | JSON_REAL_PRECISION(10)))
            return fprintf(stderr, "afd-sim: json output failed\n"),
                   json_decref(j), AFD_EXIT_FAILURE;
        printf("\n");
        json_decref(j);
    } else {
        afd_report_table(stdout, c, r, &m);
    }
    return AFD_EXIT_OK;
}

static int run(struct opts *o)
{
    struct afd_profile prof;
    struct afd_gen gen;
    struct afd_sweep_config c;
    struct afd_sweep_result r;
    char err[AFD_ERR_LEN];
    int rc;

    if (afd_profile_resolve(o->profile, o->profile_file, &prof, err))
        return usage_err(err);
    if (o->comm && afd_comm_mode_parse(o->comm, &prof.comm_mode, err))
        return usage_err(err);
    if (afd_gen_parse(o->workload, &gen, err))
        return usage_err(err);
    afd_sweep_config_init(&c, &prof, &gen);
    c.sim.batch = o->batch;
    c.sim.ffn = o->ffn;
    c.sim.steps = o->steps;
    c.sim.warmup = o->warmup;
    c.sim.seed = o->seed;
    c.sim.noise_cv = o->noise;
    c.sim.batches = (int)(o->batches > 1024 ? 1025 : o->batches);
    c.lo = o->lo;
    c.hi = o->hi;
    c.stride = o->stride;
    c.jobs = (int)(o->jobs > 64 ? 65 : o->jobs);
    c.no_extras = o->mode != 1;
    c.refine = o->refine;
    if (afd_progress_enabled())
        c.progress = progress;
    rc = afd_sweep_run(&c, &r, err);
    if (rc) {
        afd_gen_release(&gen);
        fprintf(stderr, "afd-sim: %s\n", err);
        return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
    }
    if (o->mode != 1) /* one run: no optimum to compare the theory with */
        r.error_mean_field = r.error_barrier = NAN;
    rc = output(&c, &r, o);
    afd_sweep_release(&r);
    afd_gen_release(&gen);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o = {.workload = DEFAULT_WORKLOAD,
                     .batch = 256,
                     .ffn = 1,
                     .steps = 1000000,
                     .warmup = 20000,
                     .seed = 1,
                     .batches = 32,
                     .jobs = 1};
    char err[AFD_ERR_LEN];
    int i;

    if (argc > 1 && !strcmp(argv[1], "validate"))
        return afd_validate_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "scenario"))
        return afd_scenario_main(argc - 1, argv + 1);
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AFD_EXIT_OK;
        }
    if (parse_args(argc, argv, &o, err))
        return usage_err(err);
    return run(&o);
}
