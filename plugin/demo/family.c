/*
 * family.c - the closed loop over generated hardware (family.h).
 */
#include "plugin/demo/family.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "plugin/demo/demo_proc.h"
#include "plugin/io/run_schema.h"
#include "plugin/sys/os.h"

#define FAMILY_SEED 0xafd5eedULL

struct run_spec {
    int hw;             /* hardware index */
    double scale_out_s; /* < 0: the demo's default delay */
    bool drift;         /* attention 1.25x from 1200 s, 5% noise */
    int ffn_mult;       /* every phase's FFN count times this (0: as is) */
};

struct run_result {
    struct run_spec spec;
    struct afd_profile hw;
    double closed, oracle, best_static; /* tokens/ms/device */
    double cmds_per_shift, settle_mean_s, settle_max_s;
    int never_settled; /* shifts the closed loop did not settle */
};

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The family's draws: the fixed one unless --seed (family.h). */
static uint64_t family_seed = FAMILY_SEED;

/* Uniform in [0, 1) from draw d of hardware k. */
static double u01(int k, int d)
{
    return (double)(mix(family_seed ^ mix((uint64_t)k * 64 + (uint64_t)d)) >>
                    11) *
           0x1.0p-53;
}

static double log_uniform(int k, int d, double lo, double hi)
{
    return lo * pow(hi / lo, u01(k, d));
}

/* Hardware k of the family (family.h). */
static void hardware(int k, struct afd_profile *p)
{
    *p = *afd_profile_builtin("paper-v1-fit");
    snprintf(p->name, sizeof(p->name), "family-%d", k);
    snprintf(p->provenance, sizeof(p->provenance),
             "generated: afd-sizer demo --family, hardware %d", k);
    p->aA *= log_uniform(k, 0, 0.4, 2.5);
    p->aF *= log_uniform(k, 1, 0.4, 2.5);
    p->bA *= 0.6 + u01(k, 2);
    p->bF *= 0.6 + u01(k, 3);
    p->aC *= log_uniform(k, 4, 0.5, 2.0);
    p->bC *= log_uniform(k, 5, 0.5, 2.0);
    p->comm_mode = k % 2 ? AFD_COMM_AGGREGATE : AFD_COMM_PER_INSTANCE;
}

static json_t *profile_json(const struct afd_profile *p)
{
    return json_pack("{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:f, s:s}", "name",
                     p->name, "provenance", p->provenance, "aA", p->aA, "bA",
                     p->bA, "aC", p->aC, "bC", p->bC, "aF", p->aF, "bF", p->bF,
                     "comm_mode", afd_comm_mode_name(p->comm_mode));
}

/* Every FFN count in scenario s (the default and each phase's) times m. */
static void scale_ffn(json_t *s, int m)
{
    json_t *phases = json_object_get(s, "phases"), *ph, *y;
    size_t i;

    y = json_object_get(s, "ffn_instances");
    json_object_set_new(
        s, "ffn_instances",
        json_integer(m * (json_is_integer(y) ? json_integer_value(y) : 1)));
    json_array_foreach(phases, i, ph)
    {
        y = json_object_get(ph, "ffn_instances");
        if (json_is_integer(y))
            json_object_set_new(ph, "ffn_instances",
                                json_integer(m * json_integer_value(y)));
    }
}

/* The base day with run r's hardware, no prior; written to path. */
static int write_scenario(const json_t *base, const struct run_result *r,
                          const char *path, char *err)
{
    json_t *s = json_deep_copy(base), *hw;
    /* the day's own per-step noise, if any, is kept on every run */
    double noise = json_number_value(
        json_object_get(json_object_get(base, "hardware"), "noise_cv"));
    int rc;

    if (!s)
        return afd_err(err, AFD_ENOMEM, "out of memory");
    json_object_del(s, "profile");
    json_object_del(s, "prior");
    json_object_del(s, "actuation");
    hw = json_pack("{s:o}", "profile", profile_json(&r->hw));
    if (noise > 0 && !r->spec.drift)
        json_object_set_new(hw, "noise_cv", json_real(noise));
    if (r->spec.drift) {
        json_object_set_new(hw, "noise_cv", json_real(fmax(noise, 0.05)));
        json_object_set_new(hw, "drift",
                            json_pack("[{s:f, s:s, s:f}]", "at_s", 1200.0,
                                      "stage", "attention", "factor", 1.25));
    }
    json_object_set_new(s, "hardware", hw);
    if (r->spec.ffn_mult > 1)
        scale_ffn(s, r->spec.ffn_mult);
    if (r->spec.scale_out_s >= 0)
        json_object_set_new(
            s, "actuation",
            json_pack("{s:f}", "scale_out_delay_s", r->spec.scale_out_s));
    json_object_set_new(s, "name", json_string(r->hw.name));
    rc = json_dump_file(s, path, JSON_INDENT(1));
    json_decref(s);
    return rc ? afd_err(err, AFD_EIO, "cannot write '%s'", path) : AFD_OK;
}

/*
 * The generated scenarios live in a temporary directory, so the base's
 * relative trace paths must be found another way: $AFD_TRACES_DIR (the
 * simulator's second place to look) is set, when unset, to the base
 * scenario's directory if it has the file, else to the nearest
 * shared/traces above it (the simulator's third place).
 */
static void trace_dir_for(const char *scenario)
{
    char dir[4096], cand[4200], *slash;
    struct stat st;

    if (getenv("AFD_TRACES_DIR"))
        return;
    if (!realpath(scenario, dir))
        return;
    slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    for (;;) {
        snprintf(cand, sizeof(cand), "%s/shared/traces", dir);
        if (!stat(cand, &st) && S_ISDIR(st.st_mode)) {
            setenv("AFD_TRACES_DIR", cand, 0);
            return;
        }
        slash = strrchr(dir, '/');
        if (!slash || slash == dir)
            break;
        *slash = '\0';
    }
    if (realpath(scenario, dir) && (slash = strrchr(dir, '/'))) {
        *slash = '\0';
        setenv("AFD_TRACES_DIR", dir, 0);
    }
}

/* Runs the child to completion within timeout_s, its stdout captured. */
static int run_child(struct afd_demo_child *c, char *const argv[],
                     const char *log, double timeout_s, char *err)
{
    double end = afd_clock_mono_s() + timeout_s;
    struct pollfd pfd;
    int rc;

    if ((rc = afd_demo_child_spawn(c, argv, log, err)))
        return rc;
    while (c->out_fd >= 0 || !afd_demo_child_reap(c)) {
        if (afd_clock_mono_s() > end) {
            afd_demo_child_stop(c, 2000);
            return afd_err(err, AFD_EIO, "a run took longer than %g s",
                           timeout_s);
        }
        if (c->out_fd >= 0) {
            pfd.fd = c->out_fd;
            pfd.events = POLLIN;
            poll(&pfd, 1, 200);
            if ((rc = afd_demo_child_read(c, err)))
                return rc;
        } else {
            usleep(20000);
        }
    }
    if (afd_demo_child_exit_code(c) != 0) {
        char tail[512];

        afd_demo_file_tail(log, tail, sizeof(tail));
        return afd_err(err, AFD_EIO, "a run failed (exit %d): %s",
                       afd_demo_child_exit_code(c), tail);
    }
    return AFD_OK;
}

static const json_t *policy(const json_t *root, const char *name)
{
    const json_t *ps = json_object_get(root, "policies"), *p;
    size_t i;

    json_array_foreach(ps, i, p)
    {
        const json_t *n = json_object_get(p, "name");
        if (json_is_string(n) && !strcmp(json_string_value(n), name))
            return p;
    }
    return NULL;
}

/* The figures of one run from the demo's --json. */
static int summarise(const char *text, struct run_result *r, char *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    const json_t *c, *o, *b, *ph, *cmds, *cmd;
    double t0 = 0, end = 0, settle_sum = 0;
    size_t i, n, shifts = 0, moved = 0;

    if (!root)
        return afd_err(err, AFD_EPARSE, "demo output is not JSON: %s",
                       jerr.text);
    c = policy(root, "closed_loop");
    o = policy(root, "oracle");
    b = policy(root, "best_static");
    ph = c ? json_object_get(c, AFD_RUN_PER_PHASE) : NULL;
    cmds = json_object_get(root, "commands");
    if (!c || !o || !b || !json_is_array(ph) || !json_is_array(cmds)) {
        json_decref(root);
        return afd_err(err, AFD_EPARSE, "demo output lacks the policies");
    }
    r->closed = json_number_value(json_object_get(c, AFD_RUN_TPUT));
    r->oracle = json_number_value(json_object_get(o, AFD_RUN_TPUT));
    r->best_static = json_number_value(json_object_get(b, AFD_RUN_TPUT));
    n = json_array_size(ph);
    r->settle_max_s = 0;
    r->never_settled = 0;
    for (i = 0; i < n; i++) {
        const json_t *p = json_array_get(ph, i);
        const json_t *st = json_object_get(p, AFD_RUN_SETTLE_S);
        double dur = json_number_value(json_object_get(p, AFD_RUN_DURATION_S));

        if (i == 0) {
            t0 = dur;
            end = dur;
            continue;
        }
        end += dur;
        shifts++;
        if (json_is_number(st)) {
            settle_sum += json_number_value(st);
            if (json_number_value(st) > r->settle_max_s)
                r->settle_max_s = json_number_value(st);
        } else {
            r->never_settled++;
        }
    }
    json_array_foreach(cmds, i, cmd)
    {
        double t = json_number_value(json_object_get(cmd, AFD_RUN_T_S));
        if (t >= t0 && t < end)
            moved++;
    }
    r->cmds_per_shift = shifts ? (double)moved / (double)shifts : 0;
    r->settle_mean_s = shifts > (size_t)r->never_settled
                           ? settle_sum / (double)(shifts - r->never_settled)
                           : NAN;
    json_decref(root);
    return AFD_OK;
}

static void describe(const struct run_result *r, char *buf, size_t n)
{
    const struct afd_profile *p0 = afd_profile_builtin("paper-v1-fit");

    char ffn[32] = "";

    if (r->spec.ffn_mult > 1)
        snprintf(ffn, sizeof(ffn), ", %dx FFN", r->spec.ffn_mult);
    snprintf(buf, n, "hw %d aA x%.2f aF x%.2f %s%s%s%s", r->spec.hw,
             r->hw.aA / p0->aA, r->hw.aF / p0->aF,
             r->hw.comm_mode == AFD_COMM_AGGREGATE ? "agg" : "per-inst",
             r->spec.scale_out_s >= 0 ? ", 60 s scale-out" : "",
             r->spec.drift ? ", drift" : "", ffn);
}

static void print_table(FILE *out, const struct run_result *r, size_t n,
                        bool csv)
{
    double worst_o = INFINITY, worst_s = INFINITY, sum_o = 0, sum_s = 0;
    char d[96];
    size_t i;

    if (csv)
        fprintf(out, "run,hardware,vs_oracle,vs_best_static,commands_per_"
                     "shift,settle_mean_s,settle_max_s,shifts_not_settled\n");
    else
        fprintf(out, "%-3s %-48s %9s %10s %10s %13s\n", "run", "hardware",
                "vs oracle", "vs static", "cmds/shift", "settle s/shift");
    for (i = 0; i < n; i++) {
        double vo = r[i].closed / r[i].oracle,
               vs = r[i].closed / r[i].best_static - 1;

        describe(&r[i], d, sizeof(d));
        worst_o = fmin(worst_o, vo);
        worst_s = fmin(worst_s, vs);
        sum_o += vo;
        sum_s += vs;
        if (csv)
            fprintf(out, "%zu,%s,%.4f,%.4f,%.2f,%.1f,%.1f,%d\n", i, d, vo, vs,
                    r[i].cmds_per_shift, r[i].settle_mean_s, r[i].settle_max_s,
                    r[i].never_settled);
        else
            fprintf(out, "%-3zu %-48s %8.1f%% %+9.1f%% %10.2f %8.0f%s\n", i, d,
                    100 * vo, 100 * vs, r[i].cmds_per_shift, r[i].settle_mean_s,
                    r[i].never_settled ? " (+never)" : "");
    }
    if (!csv && n)
        fprintf(out,
                "family: %zu runs; vs oracle worst %.1f%% mean %.1f%%; vs best "
                "static worst %+.1f%% mean %+.1f%%\n",
                n, 100 * worst_o, 100 * sum_o / (double)n, 100 * worst_s,
                100 * sum_s / (double)n);
}

/* --keep-logs: the run's scenario and its demo JSON, for the timeline. */
static int keep_run(const char *keep, size_t i, const char *scenario,
                    const char *out, char *err)
{
    char p[4200];
    json_t *s = json_load_file(scenario, 0, NULL);
    FILE *f;

    snprintf(p, sizeof(p), "%s/run-%zu.scenario.json", keep, i);
    if (!s || json_dump_file(s, p, JSON_INDENT(1))) {
        json_decref(s);
        return afd_err(err, AFD_EIO, "cannot write '%s'", p);
    }
    json_decref(s);
    snprintf(p, sizeof(p), "%s/run-%zu.json", keep, i);
    f = fopen(p, "w");
    if (!f || fputs(out, f) < 0) {
        if (f)
            fclose(f);
        return afd_err(err, AFD_EIO, "cannot write '%s': %s", p,
                       strerror(errno));
    }
    return fclose(f) ? afd_err(err, AFD_EIO, "cannot write '%s'", p) : AFD_OK;
}

static int run_all(const struct afd_family_options *o, struct run_result *res,
                   size_t *n_out, char *err)
{
    static const struct run_spec all[AFD_FAMILY_RUNS] = {
        {0, -1, false, 0}, {1, -1, false, 0}, {2, -1, false, 0},
        {3, -1, false, 0}, {4, -1, false, 0}, {5, -1, false, 0},
        {6, -1, false, 0}, {7, -1, false, 0}, {0, 60, false, 0},
        {2, -1, true, 0},  {1, -1, false, 3}};
    static const int quick[] = {0, 8, 9};
    char dir[] = "/tmp/afd-family-XXXXXX", path[64], log[64], tmo[32], seed[32];
    size_t i, n = o->quick ? 3 : AFD_FAMILY_RUNS;
    json_error_t jerr;
    json_t *base;
    int rc = AFD_OK;

    base = json_load_file(o->scenario, 0, &jerr);
    if (!base)
        return afd_err(err, AFD_EPARSE, "%s:%d: %s", o->scenario, jerr.line,
                       jerr.text);
    if (!mkdtemp(dir)) {
        json_decref(base);
        return afd_err(err, AFD_EIO, "cannot create a temporary dir: %s",
                       strerror(errno));
    }
    if (o->keep && mkdir(o->keep, 0755) && errno != EEXIST) {
        json_decref(base);
        rmdir(dir);
        return afd_err(err, AFD_EIO, "cannot create '%s': %s", o->keep,
                       strerror(errno));
    }
    snprintf(tmo, sizeof(tmo), "%g", o->timeout_s);
    snprintf(seed, sizeof(seed), "%ld", o->seed);
    if (o->seed >= 0)
        family_seed = mix(FAMILY_SEED ^ (uint64_t)o->seed);
    trace_dir_for(o->scenario);
    for (i = 0; i < n && !rc; i++) {
        struct afd_demo_child c;
        char *argv[] = {(char *)o->self, "demo",     "--scenario", path,
                        "--json",        "--no-svg", "--timeout",  tmo,
                        "--seed",        seed,       NULL};

        if (o->seed < 0)
            argv[8] = NULL; /* the base scenario's seed */
        res[i].spec = all[o->quick ? quick[i] : (int)i];
        hardware(res[i].spec.hw, &res[i].hw);
        snprintf(path, sizeof(path), "%s/run-%zu.json", dir, i);
        snprintf(log, sizeof(log), "%s/run-%zu.log", dir, i);
        if (afd_progress_enabled())
            fprintf(stderr, "\rafd-sizer demo --family: run %zu of %zu ...",
                    i + 1, n);
        rc = write_scenario(base, &res[i], path, err);
        afd_demo_child_init(&c, "run", true);
        if (!rc)
            rc = run_child(&c, argv, log, o->timeout_s + 30, err);
        if (!rc)
            rc = summarise(c.out ? c.out : "", &res[i], err);
        if (!rc && o->keep)
            rc = keep_run(o->keep, i, path, c.out ? c.out : "", err);
        afd_demo_child_release(&c);
        unlink(path);
        unlink(log);
    }
    if (afd_progress_enabled())
        fprintf(stderr, "\n");
    rmdir(dir);
    json_decref(base);
    *n_out = i;
    return rc;
}

int afd_demo_family(const struct afd_family_options *o)
{
    struct run_result res[AFD_FAMILY_RUNS];
    char err[AFD_ERR_LEN];
    size_t n = 0;
    FILE *f;

    memset(res, 0, sizeof(res));
    if (run_all(o, res, &n, err)) {
        fprintf(stderr, "afd-sizer demo --family: %s\n", err);
        return AFD_EXIT_FAILURE;
    }
    if (o->json) {
        json_t *a = json_array();
        size_t i;

        for (i = 0; i < n; i++) {
            char d[96];

            describe(&res[i], d, sizeof(d));
            json_array_append_new(
                a,
                json_pack(
                    "{s:i, s:s, s:o, s:f, s:f, s:f, s:f, s:f, s:i}", "run",
                    (int)i, "hardware", d, "profile", profile_json(&res[i].hw),
                    "vs_oracle", res[i].closed / res[i].oracle,
                    "vs_best_static", res[i].closed / res[i].best_static - 1,
                    "commands_per_shift", res[i].cmds_per_shift,
                    "settle_mean_s",
                    isfinite(res[i].settle_mean_s) ? res[i].settle_mean_s : -1,
                    "settle_max_s", res[i].settle_max_s, "shifts_not_settled",
                    res[i].never_settled));
        }
        json_dumpf(a, stdout, JSON_INDENT(2));
        fputc('\n', stdout);
        json_decref(a);
    } else {
        print_table(stdout, res, n, false);
    }
    if (o->csv) {
        f = fopen(o->csv, "w");
        if (!f) {
            fprintf(stderr, "afd-sizer demo --family: cannot write '%s': %s\n",
                    o->csv, strerror(errno));
            return AFD_EXIT_FAILURE;
        }
        print_table(f, res, n, true);
        fclose(f);
    }
    return AFD_EXIT_OK;
}
