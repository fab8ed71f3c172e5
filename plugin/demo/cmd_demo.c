/*
 * cmd_demo.c - `afd-sizer demo`: the main job. Runs a scenario through the
 * real daemon and a simulated deployment, as separate processes talking
 * gRPC on free loopback ports, beside three offline policies, and prints the
 * comparison (plugin/demo/demo_report.h).
 *
 *   afd-sizer demo [--scenario FILE] [--seed S] [--json] [--svg PATH]
 *                  [--no-svg] [--keep-logs DIR] [--jobs N] [--timeout S]
 *
 * Processes: `afd-sizer serve --config <work>/daemon.json` (telemetry
 * clock, ports 127.0.0.1:0 read back from its stdout), then `afd-sim
 * scenario --policy closed-loop --plugin ADDR` and the offline policies
 * (static-first-phase, best-static, oracle), at most --jobs afd-sim runs at
 * once. Each child's stderr goes to a log in the work dir (a temporary
 * directory, removed at the end unless --keep-logs names one to keep).
 *
 * stderr: one line "afd-sizer demo: daemon grpc HOST:PORT http HOST:PORT
 * (pid N)" once the daemon is ready (tests use it to check the ports are
 * closed afterwards), a progress line on a terminal, errors. stdout: the
 * report (text or --json) only.
 *
 * Every wait is bounded. On any failure, and on SIGINT/SIGTERM to the demo,
 * every child gets SIGTERM (SIGKILL after a grace time), the work dir is
 * removed, and the exit status says what happened (1 failure, 2 usage,
 * 128 + signal when interrupted). The daemon must exit 0.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "estimator/profile.h"
#include "plugin/demo/demo.h"
#include "plugin/demo/demo_proc.h"
#include "plugin/demo/demo_report.h"
#include "plugin/demo/family.h"
#include "plugin/sys/os.h"

#ifndef AFD_DEMO_SOURCE_ROOT
#define AFD_DEMO_SOURCE_ROOT "."
#endif

#define DEFAULT_SVG      "demo-timeline.svg"
#define SCENARIO_REL     "integration/scenarios/default.json"
#define READY_TIMEOUT_MS 20000 /* daemon start-up */
#define STOP_GRACE_MS    10000 /* SIGTERM to SIGKILL */
#define N_SIMS           AFD_DEMO_N_POLICIES

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

struct demo_flags {
    const char *scenario, *svg, *keep_logs, *csv;
    long seed; /* -1: the scenario's */
    long jobs;
    double timeout_s;
    bool json, no_svg, family, quick;
};

struct demo {
    struct demo_flags f;
    char self[PATH_MAX], sim[PATH_MAX], scenario[PATH_MAX];
    char work[PATH_MAX];
    json_t *prior; /* the scenario's "prior" (owned), NULL: daemon default */
    bool work_made;
    char grpc_addr[256], http_addr[256];
    struct afd_demo_child daemon;
    struct afd_demo_child sims[N_SIMS];
    bool collected[N_SIMS];
    bool usage_error; /* bad scenario or missing file: exit 2 */
    struct afd_demo_report report;
    double t0; /* monotonic s at start */
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Controller values for the demo, as the closed-loop e2e test
 * (integration/e2e/test_closed_loop.py) runs them. A scenario moves the
 * best ratio every few hundred simulated seconds, so the loop must act
 * within seconds of a settled estimate: short dwell and cooldown on the
 * telemetry clock, no practical step limit, a workload half-life short
 * enough for theta to follow a phase change, and a liveness window short
 * enough that a removed instance leaves the count within two windows.
 * Measured on the default scenario (seed 1): 96.9% of the oracle; dwell
 * 5-10 s, cooldown 10-20 s or a step limit of 8-32 gave 94-96%.
 */
static void demo_settings(struct afd_demo_settings *s)
{
    s->gain_threshold = 0.02;
    s->dwell_ms = 3000;
    s->cooldown_ms = 5000;
    s->max_step = 1024;
    s->ack_timeout_ms = 60000;
    s->backoff_ms = 30000;
    s->settle_ms = 45000; /* the daemon's defaults (controller/policy.h) */
    s->settled_gain = 0.04;
    s->eval_interval_ms = 1000;
    s->alert_debounce_ms = 10000;
    s->alert_resolve_ms = 30000;
    s->workload_half_life = 2000;
    s->actuation_delay_s = 5;
    s->liveness_window_s = 2;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: afd-sizer demo [--scenario FILE] [--seed S] [--json] "
            "[--svg PATH | --no-svg]\n"
            "                      [--keep-logs DIR] [--jobs N] "
            "[--timeout S]\n\n"
            "Runs a scenario (default: %s) through the daemon and a\n"
            "simulated deployment (afd-sim) talking gRPC on free loopback\n"
            "ports, beside three offline policies, and compares them:\n"
            "throughput per device per phase, efficiency against the\n"
            "per-phase oracle, scale commands, settle times, the timeline of\n"
            "decisions and regime alerts, and an SVG timeline.\n\n"
            "  --scenario FILE  scenario JSON (integration/scenarios/)\n"
            "  --seed S         seed (default: the scenario's); same seed,\n"
            "                   same table\n"
            "  --json           one JSON object on stdout instead of text\n"
            "  --svg PATH       SVG timeline (default %s)\n"
            "  --no-svg         write no SVG\n"
            "  --keep-logs DIR  work in DIR (config, logs, raw results) and\n"
            "                   keep it\n"
            "  --jobs N         afd-sim runs at once (default 2)\n"
            "  --timeout S      give up after S wall seconds (default 600)\n"
            "  --family         instead: the scenario's day in 11 runs on\n"
            "                   8 generated hardware profiles the daemon\n"
            "                   is not told about (with a 60 s scale-out,\n"
            "                   drift, 3x the FFN instances:\n"
            "                   plugin/demo/family.h); a table of\n"
            "                   efficiency against the oracle and the best\n"
            "                   static ratio, commands and settle time per\n"
            "                   shift (--json: JSON)\n"
            "  --quick          with --family: 3 runs (CI)\n"
            "  --csv PATH       with --family: also write the table as CSV\n"
            "                   (--seed S: another family, hardware and\n"
            "                   workload drawn from S; --keep-logs DIR: each\n"
            "                   run's scenario and JSON kept in DIR)\n",
            SCENARIO_REL, DEFAULT_SVG);
}

/* Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, struct demo_flags *f)
{
    char err[AFD_ERR_LEN];
    int i;

    memset(f, 0, sizeof(*f));
    f->seed = -1;
    f->jobs = 2;
    f->timeout_s = 600;
    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        int rc = AFD_OK;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return AFD_EXIT_OK;
        } else if (!strcmp(a, "--json")) {
            f->json = true;
            takes = false;
        } else if (!strcmp(a, "--no-svg")) {
            f->no_svg = true;
            takes = false;
        } else if (!strcmp(a, "--family")) {
            f->family = true;
            takes = false;
        } else if (!strcmp(a, "--quick")) {
            f->quick = true;
            takes = false;
        } else if (!v && (!strcmp(a, "--scenario") || !strcmp(a, "--seed") ||
                          !strcmp(a, "--svg") || !strcmp(a, "--keep-logs") ||
                          !strcmp(a, "--jobs") || !strcmp(a, "--timeout") ||
                          !strcmp(a, "--csv"))) {
            fprintf(stderr, "afd-sizer demo: %s needs a value\n", a);
            return AFD_EXIT_USAGE;
        } else if (!strcmp(a, "--scenario")) {
            f->scenario = v;
        } else if (!strcmp(a, "--svg")) {
            f->svg = v;
        } else if (!strcmp(a, "--csv")) {
            f->csv = v;
        } else if (!strcmp(a, "--keep-logs")) {
            f->keep_logs = v;
        } else if (!strcmp(a, "--seed")) {
            rc = afd_parse_long(v, "--seed", &f->seed, err);
            if (!rc && f->seed < 0)
                rc = afd_err(err, AFD_EINVAL, "--seed must be >= 0, got %s", v);
        } else if (!strcmp(a, "--jobs")) {
            rc = afd_parse_long(v, "--jobs", &f->jobs, err);
            if (!rc && (f->jobs < 1 || f->jobs > N_SIMS))
                rc = afd_err(err, AFD_EINVAL, "--jobs must be 1..%d, got %s",
                             N_SIMS, v);
        } else if (!strcmp(a, "--timeout")) {
            rc = afd_parse_double(v, "--timeout", &f->timeout_s, err);
            if (!rc && !(f->timeout_s > 0))
                rc = afd_err(err, AFD_EINVAL, "--timeout must be > 0, got %s",
                             v);
        } else {
            fprintf(stderr, "afd-sizer demo: unknown option '%s'\n", a);
            usage(stderr);
            return AFD_EXIT_USAGE;
        }
        if (rc) {
            fprintf(stderr, "afd-sizer demo: %s\n", err);
            return AFD_EXIT_USAGE;
        }
        i += takes;
    }
    if ((f->quick || f->csv) && !f->family) {
        fprintf(stderr, "afd-sizer demo: --quick and --csv go with --family\n");
        return AFD_EXIT_USAGE;
    }
    return -1;
}

/* "<dir of exe>/<name>"; dir keeps the trailing slash off. */
static void exe_dir(const char *exe, char *dir, size_t len)
{
    const char *slash = strrchr(exe, '/');
    size_t n = slash ? (size_t)(slash - exe) : 0;

    snprintf(dir, len, "%.*s", (int)n, slash ? exe : ".");
}

/*
 * Finds afd-sim beside this binary and the scenario: the flag, else
 * <bin>/../../integration/scenarios/default.json (a build tree's bin/),
 * else the source root compiled in.
 */
static int locate(struct demo *d, char *err)
{
    char dir[PATH_MAX], cand[PATH_MAX + 64];
    ssize_t n = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);

    if (n <= 0)
        return afd_err(err, AFD_EIO, "cannot read /proc/self/exe: %s",
                       strerror(errno));
    d->self[n] = '\0';
    exe_dir(d->self, dir, sizeof(dir));
    snprintf(d->sim, sizeof(d->sim), "%.*s/afd-sim", PATH_MAX - 10, dir);
    if (access(d->sim, X_OK))
        return afd_err(err, AFD_ENOTFOUND,
                       "afd-sim not found beside afd-sizer: '%s' (build "
                       "the afd-sim target)",
                       d->sim);
    if (d->f.scenario) {
        snprintf(d->scenario, sizeof(d->scenario), "%s", d->f.scenario);
        return AFD_OK;
    }
    snprintf(cand, sizeof(cand), "%s/../../%s", dir, SCENARIO_REL);
    if (access(cand, R_OK))
        snprintf(cand, sizeof(cand), "%s/%s", AFD_DEMO_SOURCE_ROOT,
                 SCENARIO_REL);
    if (access(cand, R_OK))
        return afd_err(err, AFD_ENOTFOUND,
                       "default scenario not found ('%s'): pass --scenario",
                       cand);
    if (!realpath(cand, d->scenario))
        snprintf(d->scenario, sizeof(d->scenario), "%.*s", PATH_MAX - 1, cand);
    return AFD_OK;
}

/* A profile's name: a built-in name, or an object's "name". */
static const char *profile_name(const json_t *v)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_object(v) && json_is_string(json_object_get(v, "name")))
        return json_string_value(json_object_get(v, "name"));
    return NULL;
}

/* The header's hardware, prior and scale delays (demo_report.h). */
static void describe_scenario(const json_t *root, struct afd_demo_report *r)
{
    const json_t *hw = json_object_get(root, "hardware");
    const json_t *act = json_object_get(root, "actuation");
    const char *h = profile_name(json_object_get(hw, "profile"));
    const char *p = profile_name(json_object_get(root, "prior"));
    const json_t *v;

    if (!h)
        h = profile_name(json_object_get(root, "profile"));
    snprintf(r->hardware, sizeof(r->hardware), "%s",
             h ? h : AFD_DEFAULT_PROFILE);
    if (p)
        snprintf(r->prior, sizeof(r->prior), "%s", p);
    else
        snprintf(r->prior, sizeof(r->prior), "%s (the daemon's default)",
                 AFD_DEFAULT_PROFILE);
    r->scale_out_s = r->scale_in_s = r->settings.actuation_delay_s;
    v = json_object_get(act, "scale_out_delay_s");
    if (json_is_number(v))
        r->scale_out_s = json_number_value(v);
    v = json_object_get(act, "scale_in_delay_s");
    if (json_is_number(v))
        r->scale_in_s = json_number_value(v);
}

/*
 * Reads the scenario's seed (unless --seed) and what the daemon is told
 * about the hardware: the scenario's "prior" (a built-in name or a profile
 * object), else nothing (the daemon's own default profile). Never the
 * simulated "hardware": adaptation, not prior knowledge, must carry the
 * closed loop (integration/sim/scenario.h).
 */
static int read_scenario(struct demo *d, char *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(d->scenario, 0, &jerr), *v;

    if (!root)
        return afd_err(err, AFD_EPARSE, "%s:%d: %s", d->scenario, jerr.line,
                       jerr.text);
    if (!json_is_object(root) ||
        !json_is_array(json_object_get(root, "phases"))) {
        json_decref(root);
        return afd_err(err, AFD_EPARSE,
                       "%s: a scenario is an object with a \"phases\" array",
                       d->scenario);
    }
    v = json_object_get(root, "seed");
    if (d->f.seed < 0)
        d->f.seed = json_is_integer(v) && json_integer_value(v) >= 0
                        ? (long)json_integer_value(v)
                        : 1;
    v = json_object_get(root, "prior");
    d->prior = v && (json_is_string(v) || json_is_object(v)) ? json_deep_copy(v)
                                                             : NULL;
    describe_scenario(root, &d->report);
    json_decref(root);
    return AFD_OK;
}

static int make_work_dir(struct demo *d, char *err)
{
    const char *tmp = getenv("TMPDIR");

    if (d->f.keep_logs) {
        if (mkdir(d->f.keep_logs, 0700) < 0 && errno != EEXIST)
            return afd_err(err, AFD_EIO, "cannot create '%s': %s",
                           d->f.keep_logs, strerror(errno));
        snprintf(d->work, sizeof(d->work), "%s", d->f.keep_logs);
        return AFD_OK;
    }
    snprintf(d->work, sizeof(d->work), "%s/afd-demo-XXXXXX",
             tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->work))
        return afd_err(err, AFD_EIO, "cannot create a temporary dir '%s': %s",
                       d->work, strerror(errno));
    d->work_made = true;
    return AFD_OK;
}

/* The daemon config: loopback port 0, telemetry clock, no snapshot. */
static int write_config(struct demo *d, const char *path, char *err)
{
    const struct afd_demo_settings *s = &d->report.settings;
    json_t *dep, *cfg;
    int rc;

    dep = json_pack("{s:f}", "workload_half_life", s->workload_half_life);
    if (dep && d->prior)
        json_object_set(dep, "profile", d->prior);
    /* Durations in the file are seconds (plugin/daemon/config.h). */
    cfg = json_pack(
        "{s:s, s:s, s:f, s:o, s:{s:s, s:I, s:f, s:f, s:f, s:I, s:f, s:f, "
        "s:f, s:f, s:{s:f, s:f}}}",
        "grpc_listen", "127.0.0.1:0", "http_listen", "127.0.0.1:0",
        "liveness_window_s", s->liveness_window_s, "default_deployment", dep,
        "controller", "clock", "telemetry", "eval_interval_ms",
        (json_int_t)s->eval_interval_ms, "gain_threshold", s->gain_threshold,
        "dwell_s", s->dwell_ms / 1e3, "cooldown_s", s->cooldown_ms / 1e3,
        "max_step", (json_int_t)s->max_step, "ack_timeout_s",
        s->ack_timeout_ms / 1e3, "backoff_s", s->backoff_ms / 1e3, "settle_s",
        s->settle_ms / 1e3, "settled_gain_threshold", s->settled_gain, "alerts",
        "debounce_s", s->alert_debounce_ms / 1e3, "resolve_s",
        s->alert_resolve_ms / 1e3);
    if (!cfg)
        return afd_err(err, AFD_ENOMEM, "out of memory building the config");
    rc = json_dump_file(cfg, path, JSON_INDENT(2));
    json_decref(cfg);
    if (rc)
        return afd_err(err, AFD_EIO, "cannot write '%s'", path);
    return AFD_OK;
}

/* Prints "<label> <what>" and its stderr tail; returns AFD_EIO. */
static int child_failed(struct afd_demo_child *c, const char *what, char *err)
{
    char tail[1536];

    afd_demo_file_tail(c->log_path, tail, sizeof(tail));
    if (*tail)
        fprintf(stderr, "afd-sizer demo: %s stderr (last lines):\n%s%s",
                c->label, tail, tail[strlen(tail) - 1] == '\n' ? "" : "\n");
    return afd_err(err, AFD_EIO, "%s %s (log: %s)", c->label, what,
                   c->log_path);
}

/*
 * One round of the event pump: waits up to ms for output from any child,
 * reads it, reaps exits. Fails when a signal asked the demo to stop, the
 * wall time is up, or the daemon is gone (it must outlive the sims).
 */
static int pump(struct demo *d, int ms, char *err)
{
    struct pollfd pfd[N_SIMS + 1];
    struct afd_demo_child *who[N_SIMS + 1];
    nfds_t n = 0, i;
    int rc, k;

    if (d->daemon.out_fd >= 0) {
        who[n] = &d->daemon;
        pfd[n++] = (struct pollfd){d->daemon.out_fd, POLLIN, 0};
    }
    for (k = 0; k < N_SIMS; k++)
        if (d->sims[k].out_fd >= 0) {
            who[n] = &d->sims[k];
            pfd[n++] = (struct pollfd){d->sims[k].out_fd, POLLIN, 0};
        }
    if (!stop_signal)
        poll(pfd, n, ms); /* EINTR: the signal is seen below */
    for (i = 0; i < n; i++)
        if (pfd[i].revents && (rc = afd_demo_child_read(who[i], err)))
            return rc;
    for (k = 0; k < N_SIMS; k++)
        afd_demo_child_reap(&d->sims[k]);
    if (stop_signal)
        return afd_err(err, AFD_ESTATE, "interrupted by signal %d",
                       (int)stop_signal);
    if (now_s() - d->t0 > d->f.timeout_s)
        return afd_err(err, AFD_ESTATE, "gave up after %.0f s (--timeout)",
                       d->f.timeout_s);
    if (afd_demo_child_reap(&d->daemon)) {
        char what[64];
        snprintf(what, sizeof(what), "exited unexpectedly (status %d)",
                 afd_demo_child_exit_code(&d->daemon));
        return child_failed(&d->daemon, what, err);
    }
    return AFD_OK;
}

/* "afd-sizer: <kind> listening on HOST:PORT" -> dst. */
static void parse_listen(const char *out, const char *kind, char *dst,
                         size_t len)
{
    char prefix[64];
    const char *p;
    size_t n;

    snprintf(prefix, sizeof(prefix), "afd-sizer: %s listening on ", kind);
    p = strstr(out, prefix);
    if (!p)
        return;
    p += strlen(prefix);
    n = strcspn(p, " \r\n");
    if (n < len)
        snprintf(dst, len, "%.*s", (int)n, p);
}

static int start_daemon(struct demo *d, char *err)
{
    char cfg[PATH_MAX + 32], log[PATH_MAX + 32];
    char *argv[] = {d->self, "serve", "--config", cfg, NULL};
    double deadline;
    int rc;

    snprintf(cfg, sizeof(cfg), "%s/daemon.json", d->work);
    snprintf(log, sizeof(log), "%s/daemon.stderr", d->work);
    if ((rc = write_config(d, cfg, err)) ||
        (rc = afd_demo_child_spawn(&d->daemon, argv, log, err)))
        return rc;
    deadline = now_s() + READY_TIMEOUT_MS / 1e3;
    while (!d->daemon.out || !strstr(d->daemon.out, "afd-sizer: ready\n")) {
        if (d->daemon.out_fd < 0 && !afd_demo_child_reap(&d->daemon))
            afd_demo_child_stop(&d->daemon, 1000);
        if ((rc = pump(d, 100, err)))
            return rc;
        if (now_s() > deadline)
            return child_failed(&d->daemon,
                                "did not print 'ready' within "
                                "20 s",
                                err);
    }
    parse_listen(d->daemon.out, "grpc", d->grpc_addr, sizeof(d->grpc_addr));
    parse_listen(d->daemon.out, "http", d->http_addr, sizeof(d->http_addr));
    if (!*d->grpc_addr)
        return afd_err(err, AFD_EIO, "daemon printed no grpc address: '%s'",
                       d->daemon.out);
    fprintf(stderr, "afd-sizer demo: daemon grpc %s http %s (pid %ld)\n",
            d->grpc_addr, *d->http_addr ? d->http_addr : "-",
            (long)d->daemon.pid);
    /* From now on its stdout is drained and dropped. */
    d->daemon.keep_output = false;
    return AFD_OK;
}

static int start_sim(struct demo *d, int k, char *err)
{
    char seed[32], delay[32], log[PATH_MAX + 32];
    char *argv[16];
    int n = 0;

    snprintf(seed, sizeof(seed), "%ld", d->f.seed);
    snprintf(delay, sizeof(delay), "%g", d->report.settings.actuation_delay_s);
    snprintf(log, sizeof(log), "%s/sim-%s.stderr", d->work,
             afd_demo_policy_name((enum afd_demo_policy_kind)k));
    argv[n++] = d->sim;
    argv[n++] = "scenario";
    argv[n++] = "--scenario";
    argv[n++] = d->scenario;
    argv[n++] = "--seed";
    argv[n++] = seed;
    argv[n++] = "--policy";
    argv[n++] = (char *)afd_demo_policy_flag((enum afd_demo_policy_kind)k);
    if (k == AFD_DEMO_CLOSED_LOOP) {
        argv[n++] = "--plugin";
        argv[n++] = d->grpc_addr;
        argv[n++] = "--actuation-delay-s";
        argv[n++] = delay;
    }
    argv[n++] = "--json";
    argv[n] = NULL;
    return afd_demo_child_spawn(&d->sims[k], argv, log, err);
}

/* Keeps the raw result beside the logs when they are kept. */
static void save_raw(const struct demo *d, const struct afd_demo_child *c)
{
    char path[PATH_MAX + 64];
    FILE *f;

    if (!d->f.keep_logs)
        return;
    snprintf(path, sizeof(path), "%s/sim-%s.json", d->work, c->label);
    if ((f = fopen(path, "w"))) {
        fwrite(c->out ? c->out : "", 1, c->out_len, f);
        fclose(f);
    }
}

/* A finished sim: exit 0 and a result the report accepts. */
static int collect(struct demo *d, struct afd_demo_child *c, char *err)
{
    char what[64];
    int code = afd_demo_child_exit_code(c), rc;

    save_raw(d, c);
    if (code != 0) {
        snprintf(what, sizeof(what), "exited with status %d", code);
        return child_failed(c, what, err);
    }
    rc = afd_demo_report_add(&d->report, c->out ? c->out : "", c->out_len, err);
    if (rc)
        fprintf(stderr, "afd-sizer demo: %s output not usable\n", c->label);
    return rc;
}

static void progress(const struct demo *d, int done, bool final)
{
    static double last;
    double t = now_s();

    if (!afd_progress_enabled() || (!final && t - last < 1))
        return;
    last = t;
    fprintf(stderr, "\rafd-sizer demo: %d/%d runs done, %.0f s%s", done, N_SIMS,
            t - d->t0, final ? "\n" : "");
}

static int run_sims(struct demo *d, char *err)
{
    int started = 0, done = 0, k, rc;

    while (done < N_SIMS) {
        while (started < N_SIMS && started - done < d->f.jobs) {
            if ((rc = start_sim(d, started, err)))
                return rc;
            started++;
        }
        if ((rc = pump(d, 200, err)))
            return rc;
        for (k = 0; k < started; k++) {
            struct afd_demo_child *c = &d->sims[k];
            if (d->collected[k] || !c->exited || c->out_fd >= 0)
                continue;
            if ((rc = collect(d, c, err)))
                return rc;
            d->collected[k] = true;
            done++;
        }
        progress(d, done, false);
    }
    progress(d, done, true);
    return AFD_OK;
}

/* Stops every live child; the daemon must exit 0 on SIGTERM. */
static int stop_all(struct demo *d, bool check_daemon, char *err)
{
    bool was_running = d->daemon.pid > 0 && !d->daemon.exited;
    int k, code, rc = AFD_OK;
    char what[64];

    for (k = 0; k < N_SIMS; k++)
        afd_demo_child_stop(&d->sims[k], STOP_GRACE_MS);
    if (!afd_demo_child_stop(&d->daemon, STOP_GRACE_MS) && check_daemon)
        return afd_err(err, AFD_EIO,
                       "daemon did not stop within %d ms of SIGTERM (killed)",
                       STOP_GRACE_MS);
    if (check_daemon && was_running) {
        code = afd_demo_child_exit_code(&d->daemon);
        if (code != 0) {
            snprintf(what, sizeof(what), "exited with status %d on SIGTERM",
                     code);
            rc = child_failed(&d->daemon, what, err);
        }
    }
    return rc;
}

static int write_svg(struct demo *d, char *err)
{
    const char *path = d->f.svg ? d->f.svg : DEFAULT_SVG;
    FILE *f;
    int rc;

    if (d->f.no_svg)
        return AFD_OK;
    f = fopen(path, "w");
    if (!f)
        return afd_err(err, AFD_EIO, "cannot write svg '%s': %s", path,
                       strerror(errno));
    rc = afd_demo_report_svg(&d->report, f, err);
    if (fclose(f) && !rc)
        rc = afd_err(err, AFD_EIO, "cannot write svg '%s': %s", path,
                     strerror(errno));
    if (!rc)
        snprintf(d->report.svg_path, sizeof(d->report.svg_path), "%s", path);
    return rc;
}

static int print_result(struct demo *d, char *err)
{
    json_t *o;
    int rc;

    if (!d->f.json) {
        afd_demo_report_print(&d->report, stdout);
        if (fflush(stdout) || ferror(stdout))
            return afd_err(err, AFD_EIO, "writing the report failed");
        return AFD_OK;
    }
    o = afd_demo_report_json(&d->report);
    if (!o)
        return afd_err(err, AFD_ENOMEM, "out of memory building the json");
    /* compact: the timeline has thousands of points */
    rc = json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    fputc('\n', stdout);
    fflush(stdout);
    return rc ? afd_err(err, AFD_EIO, "writing the json failed") : AFD_OK;
}

/* Start-up to results; every failure returns here and is cleaned up. */
static int run(struct demo *d, char *err)
{
    int rc;

    if ((rc = locate(d, err)) || (rc = read_scenario(d, err))) {
        d->usage_error = true;
        return rc;
    }
    if ((rc = make_work_dir(d, err)) || (rc = start_daemon(d, err)) ||
        (rc = run_sims(d, err)))
        return rc;
    if ((rc = stop_all(d, true, err)) ||
        (rc = afd_demo_report_check(&d->report, err)) ||
        (rc = write_svg(d, err)))
        return rc;
    fprintf(stderr, "afd-sizer demo: done in %.1f s (wall)\n", now_s() - d->t0);
    return print_result(d, err);
}

int afd_cmd_demo(int argc, char **argv)
{
    struct sigaction sa, old_int, old_term, old_pipe;
    char err[AFD_ERR_LEN], err2[AFD_ERR_LEN];
    struct demo *d;
    int rc, k, status;

    d = calloc(1, sizeof(*d));
    if (!d) {
        fprintf(stderr, "afd-sizer demo: out of memory\n");
        return AFD_EXIT_FAILURE;
    }
    rc = parse_flags(argc, argv, &d->f);
    if (rc >= 0) {
        free(d);
        return rc;
    }
    if (d->f.family) {
        struct afd_family_options fo = {
            d->self,  NULL,           d->f.quick, d->f.json,
            d->f.csv, d->f.timeout_s, d->f.seed,  d->f.keep_logs};

        rc = locate(d, err);
        if (rc) {
            fprintf(stderr, "afd-sizer demo: %s\n", err);
            free(d);
            return AFD_EXIT_USAGE;
        }
        fo.scenario = d->scenario;
        rc = afd_demo_family(&fo);
        free(d);
        return rc;
    }
    d->t0 = now_s();
    afd_demo_report_init(&d->report);
    demo_settings(&d->report.settings);
    afd_demo_child_init(&d->daemon, "daemon", true);
    for (k = 0; k < N_SIMS; k++)
        afd_demo_child_init(&d->sims[k],
                            afd_demo_policy_name((enum afd_demo_policy_kind)k),
                            true);
    /* No SA_RESTART: a signal wakes poll() at once. */
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    stop_signal = 0;
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, &old_pipe);

    rc = run(d, err);
    if (rc)
        fprintf(stderr, "afd-sizer demo: %s\n", err);
    if (stop_all(d, false, err2))
        fprintf(stderr, "afd-sizer demo: %s\n", err2);
    if (d->work_made && afd_demo_remove_dir(d->work, err2))
        fprintf(stderr, "afd-sizer demo: %s\n", err2);
    else if (!d->work_made && d->f.keep_logs && *d->work)
        fprintf(stderr, "afd-sizer demo: logs kept in %s\n", d->work);

    status = !rc              ? AFD_EXIT_OK
             : stop_signal    ? 128 + (int)stop_signal
             : d->usage_error ? AFD_EXIT_USAGE
                              : AFD_EXIT_FAILURE;
    afd_demo_child_release(&d->daemon);
    for (k = 0; k < N_SIMS; k++)
        afd_demo_child_release(&d->sims[k]);
    afd_demo_report_release(&d->report);
    json_decref(d->prior);
    free(d);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    return status;
}
