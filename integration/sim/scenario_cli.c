/*
 * scenario_cli.c - `afd-sim scenario`: a scenario file run under one
 * policy, printed as one JSON object (--json) or a table.
 */
#include "integration/sim/scenario_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/sys/os.h"
#include "plugin/sys/os.h"
#include "integration/sim/live.h"
#include "integration/sim/policy_run.h"
#include "integration/sim/scenario.h"

struct sc_opts {
    const char *scenario, *policy;
    bool has_seed, json;
    unsigned long long seed;
    long jobs;
    struct afd_live_options live;
};

static void sc_usage(FILE *out)
{
    fprintf(
        out,
        "usage: afd-sim scenario --scenario FILE [--seed S] --policy POLICY\n"
        "                        [--plugin HOST:PORT] [--json] [options]\n\n"
        "Runs a scenario (phases of simulated time with their own workload,\n"
        "batch and FFN count; integration/scenarios/*.json) under one\n"
        "sizing policy and reports throughput per device: per phase,\n"
        "decoded tokens / sum over time of (x + y) device-ms; overall, the\n"
        "phases' values weighted by their durations (the pooled ratio of\n"
        "sums, also printed, weighs a phase by its device time and so\n"
        "rewards running few devices where tokens are expensive).\n\n"
        "Policies:\n"
        "  static-first-phase  the solver's barrier-aware x for phase 1's\n"
        "                      workload (theta/sigma of drawn requests),\n"
        "                      batch and FFN count, held throughout\n"
        "  static:X            X Attention instances throughout\n"
        "  best-static         the single x with the best overall\n"
        "                      throughput per device (search over x)\n"
        "  oracle              each phase's best x, transitions free (an\n"
        "                      upper bound)\n"
        "  closed-loop         live against afd-sizer serve (--plugin): the\n"
        "                      daemon's scale commands resize the fleet\n\n"
        "Offline policies simulate each phase as its own segment from a\n"
        "near-stationary start; every policy draws phase i's requests from\n"
        "the same per-phase seed. In closed loop the deployment runs\n"
        "continuously: a joining Attention instance fills its B slots with\n"
        "fresh requests (handed-back ones first); a leaving instance HANDS\n"
        "BACK its in-flight requests to the front of a waiting pool, where\n"
        "the next free slots resume them (prompt + tokens decoded so far,\n"
        "the remaining decode): no work lost, no token counted twice. A\n"
        "smaller batch hands back the cut slots the same way.\n"
        "Settle time: per phase, from its start to the last change of the\n"
        "Attention count in it (null when that falls in its last 10%%).\n\n"
        "  --scenario FILE         scenario JSON (required)\n"
        "  --seed S                overrides the file's seed\n"
        "  --policy POLICY         as above (required)\n"
        "  --jobs N                threads for the x search (default 1)\n"
        "  --json                  one JSON object on stdout\n"
        "closed loop:\n"
        "  --plugin HOST:PORT      the daemon's gRPC address (required);\n"
        "                          HA replicas as A,B,C: the run follows\n"
        "                          the leader across failovers\n"
        "  --deployment NAME       deployment name (default sim)\n"
        "  --actuation-delay-s D   simulated s from command to resize\n"
        "                          (default 5)\n"
        "  --window-s W            simulated s per Report call (default 1)\n"
        "  --timeline-s T          simulated s between timeline points\n"
        "                          (default 1: every window)\n"
        "  --sample-every N        report step samples every N steps\n"
        "                          (default 4)\n"
        "  --max-requests N        finished requests sent per window, at\n"
        "                          most (default 2000; thinned evenly)\n"
        "  --max-attention N       fleet capacity (default: 1024, less when\n"
        "                          the largest batch would pass the slot cap)\n"
        "  --actuator A            commands (default): follow WatchCommands\n"
        "                          and ack; planner: an external planner is\n"
        "                          the actuator: one observation line per\n"
        "                          window on stdout, one decision line back\n"
        "                          on stdin (integration/sim/live_planner.h),\n"
        "                          then the result\n");
}

static int sc_usage_err(const char *msg)
{
    fprintf(stderr, "afd-sim: %s\n", msg);
    fprintf(stderr, "try 'afd-sim scenario --help'\n");
    return AFD_EXIT_USAGE;
}

static int sc_num(const char *flag, const char *v, double lo, double hi,
                  double *out, char *err)
{
    if (afd_parse_double(v, flag, out, err))
        return AFD_EPARSE;
    if (!(*out >= lo && *out <= hi))
        return afd_err(err, AFD_EINVAL, "%s must be in [%g, %g], got '%s'",
                       flag, lo, hi, v);
    return AFD_OK;
}

static int sc_parse(int argc, char **argv, struct sc_opts *o, char *err)
{
    double d;
    int i;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!v)
            return afd_err(err, AFD_EINVAL,
                           "unknown option or missing "
                           "value: '%s'",
                           a);
        i++;
        if (!strcmp(a, "--scenario"))
            o->scenario = v;
        else if (!strcmp(a, "--policy"))
            o->policy = v;
        else if (!strcmp(a, "--plugin"))
            o->live.target = v;
        else if (!strcmp(a, "--deployment"))
            o->live.deployment = v;
        else if (!strcmp(a, "--actuator")) {
            if (strcmp(v, "commands") && strcmp(v, "planner"))
                return afd_err(err, AFD_EINVAL,
                               "--actuator must be commands or planner, got "
                               "'%s'",
                               v);
            o->live.planner_out = strcmp(v, "planner") ? NULL : stdout;
            o->live.planner_in = strcmp(v, "planner") ? NULL : stdin;
        } else if (!strcmp(a, "--seed")) {
            if (sc_num(a, v, 0, 9007199254740992.0, &d, err))
                return AFD_EINVAL;
            o->seed = (unsigned long long)d;
            o->has_seed = true;
        } else if (!strcmp(a, "--jobs")) {
            if (sc_num(a, v, 1, 64, &d, err))
                return AFD_EINVAL;
            o->jobs = (long)d;
        } else if (!strcmp(a, "--actuation-delay-s")) {
            if (sc_num(a, v, 0, 86400, &o->live.actuation_delay_s, err))
                return AFD_EINVAL;
        } else if (!strcmp(a, "--window-s")) {
            if (sc_num(a, v, 0.01, 3600, &o->live.window_s, err))
                return AFD_EINVAL;
        } else if (!strcmp(a, "--timeline-s")) {
            if (sc_num(a, v, 0.01, 86400, &o->live.timeline_s, err))
                return AFD_EINVAL;
        } else if (!strcmp(a, "--sample-every")) {
            if (sc_num(a, v, 1, 1000000, &d, err))
                return AFD_EINVAL;
            o->live.sample_every = (int)d;
        } else if (!strcmp(a, "--max-requests")) {
            if (sc_num(a, v, 1, 1000000, &d, err))
                return AFD_EINVAL;
            o->live.max_requests = (int)d;
        } else if (!strcmp(a, "--max-attention")) {
            if (sc_num(a, v, 1, 65536, &d, err))
                return AFD_EINVAL;
            o->live.max_attention = (long)d;
        } else
            return afd_err(err, AFD_EINVAL, "unknown option '%s'", a);
    }
    if (!o->scenario)
        return afd_err(err, AFD_EINVAL, "--scenario FILE is required");
    if (!o->policy)
        return afd_err(err, AFD_EINVAL, "--policy is required");
    return AFD_OK;
}

static void sc_table(FILE *out, const struct afd_scenario *s,
                     const struct afd_run_result *r)
{
    size_t p;

    fprintf(out, "scenario %s, policy %s, seed %llu\n", s->name,
            afd_run_policy_name(r->policy), (unsigned long long)r->seed);
    fprintf(out, "%-28s %8s %6s %4s %10s %8s %9s\n", "phase", "dur s", "B", "y",
            "tput/dev", "mean x", "settle s");
    for (p = 0; p < r->n_phases; p++) {
        const struct afd_phase_outcome *o = &r->phase[p];
        char settle[32] = "-";
        if (r->policy == AFD_RUN_CLOSED_LOOP)
            snprintf(settle, sizeof(settle), o->has_settle ? "%.0f" : "never",
                     o->settle_s);
        fprintf(out, "%-28.28s %8.0f %6ld %4ld %10.4f %8.2f %9s\n",
                s->phases[p].name, s->phases[p].duration_s, s->phases[p].batch,
                s->phases[p].ffn, o->tokens / o->device_ms,
                o->attention_ms / o->time_ms, settle);
    }
    fprintf(out,
            "overall throughput per device %.4f tokens/ms/device (pooled "
            "%.4f), %zu scale commands\n",
            afd_run_throughput(s, r), afd_run_throughput_pooled(r),
            r->n_commands);
}

int afd_scenario_main(int argc, char **argv)
{
    struct sc_opts o;
    struct afd_scenario s;
    struct afd_run_result r;
    enum afd_run_policy pol;
    char err[AFD_ERR_LEN];
    long sx;
    int i, rc;

    memset(&o, 0, sizeof(o));
    o.jobs = 1;
    afd_live_options_init(&o.live);
    for (i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            sc_usage(stdout);
            return AFD_EXIT_OK;
        }
    if (sc_parse(argc, argv, &o, err))
        return sc_usage_err(err);
    if (afd_run_policy_parse(o.policy, &pol, &sx, err))
        return sc_usage_err(err);
    if (pol == AFD_RUN_CLOSED_LOOP && !o.live.target)
        return sc_usage_err("closed-loop needs --plugin HOST:PORT");
    rc = afd_scenario_load(o.scenario, &s, err);
    if (rc) {
        fprintf(stderr, "afd-sim: %s\n", err);
        return rc == AFD_ENOMEM ? AFD_EXIT_FAILURE : AFD_EXIT_USAGE;
    }
    if (o.has_seed)
        s.seed = o.seed;
    if (pol == AFD_RUN_CLOSED_LOOP) {
        o.live.quiet = !afd_progress_enabled();
        rc = afd_live_run(&s, &o.live, &r, err);
    } else
        rc = afd_run_offline(&s, pol, sx, (int)o.jobs, &r, err);
    if (rc) {
        fprintf(stderr, "afd-sim: %s\n", err);
        afd_run_result_release(&r);
        afd_scenario_release(&s);
        return rc == AFD_EINVAL ? AFD_EXIT_USAGE : AFD_EXIT_FAILURE;
    }
    if (o.json) {
        json_t *j = afd_run_result_json(&s, &r);
        char *text = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(j);
    } else
        sc_table(stdout, &s, &r);
    afd_run_result_release(&r);
    afd_scenario_release(&s);
    return fflush(stdout) ? AFD_EXIT_FAILURE : AFD_EXIT_OK;
}
