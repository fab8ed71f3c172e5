/*
 * policy_run.h - a scenario run under one sizing policy, and its report.
 *
 * Policies (afd-sim scenario --policy):
 *   static-first-phase  x = the solver's barrier-aware integer pick for
 *                       phase 1 (theta/sigma of 200000 requests drawn from
 *                       phase 1's workload with the phase seed, phase 1's
 *                       batch and FFN count), held for the whole scenario
 *   static:X            x = X throughout
 *   best-static         the single x with the best overall throughput per
 *                       device, from a search over x (below)
 *   oracle              one x per phase, transitions free: each phase's
 *                       best x (an upper bound: >= best-static, whose
 *                       points it also simulates)
 *   closed-loop         live.h: x changes when the daemon says so
 * Offline policies run every phase as an independent segment: a fleet
 * (fleet.h) at x started in the PREVIOUS phase's stationary state (its
 * in-flight requests carry over and finish first, as they do for the
 * closed loop, which runs the day in one piece), then switched to the
 * phase's draws (afd_scenario_phase_seed: the same for every policy and
 * every x) for the phase's simulated duration; the first phase starts in
 * its own stationary state. So every policy pays the same workload
 * transient after a shift; the oracle's changes of x stay free. Tokens and device-ms of
 * the segments add up; throughput per device = tokens / device-ms, per
 * phase; overall = the duration-weighted mean of the phases' values (see
 * afd_run_throughput for why).
 *
 * Search: x in [max(1, 0.6 * smallest per-phase pick), 1.3 * largest
 * pick + 2] (picks: the solver's barrier-aware x per phase). best-static
 * evaluates the picks, then an integer golden-section search on the
 * overall value, then a hill climb to a local maximum; oracle does the
 * same and then, per phase, a golden-section search and climb on that
 * phase's value, and takes per phase the best x simulated. Each
 * (phase, x) segment is simulated once; jobs threads run phases in
 * parallel; results are identical for any jobs. The overall value is
 * unimodal in x in practice; the search is exact then.
 *
 * Settle time (closed loop): per phase, the time from the phase start to
 * the last change of the Attention count within the phase; 0 when it never
 * changed; unknown (null) when that change falls in the last 10% of the
 * phase (not settled). A hardware drift inside the phase is an event of
 * its own: a change after it counts from the drift, and the settle time
 * is the longest over the phase start and its drifts (from each to the
 * last change it answers).
 *
 * Ownership: a struct afd_run_result owns its event arrays (bounded by
 * AFD_RUN_MAX_EVENTS each); afd_run_result_release frees them (safe on a
 * zeroed struct). Not thread-safe; one owner.
 */
#ifndef AFD_SIM_POLICY_RUN_H
#define AFD_SIM_POLICY_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "estimator/solver.h"
#include "integration/sim/scenario.h"

#define AFD_RUN_MAX_EVENTS   1000000
#define AFD_RUN_THEORY_DRAWS 200000
#define AFD_RUN_LABEL_LEN    32
#define AFD_RUN_TEXT_LEN     256

enum afd_run_policy {
    AFD_RUN_STATIC_FIRST_PHASE = 0,
    AFD_RUN_BEST_STATIC,
    AFD_RUN_ORACLE,
    AFD_RUN_STATIC,
    AFD_RUN_CLOSED_LOOP,
};

/* "static-first-phase", "best-static", "oracle", "static:X",
 * "closed-loop" (underscores accepted too). AFD_EINVAL otherwise. */
int afd_run_policy_parse(const char *s, enum afd_run_policy *out,
                         long *static_x, char *err);
/* JSON names: "static_first_phase", "best_static", "oracle", "static",
 * "closed_loop". */
const char *afd_run_policy_name(enum afd_run_policy p);

/* The solver's view of one phase, from drawn requests. */
struct afd_phase_theory {
    double theta;           /* tokens */
    double sigma;           /* tokens */
    double r_star;          /* mean-field, continuous */
    double r_star_barrier;  /* barrier-aware x / y */
    long x_mean_field;      /* mean-field integer x */
    long x_barrier;         /* barrier-aware integer x (mean-field if none) */
    enum afd_regime regime; /* at r_star */
};

int afd_phase_theory(const struct afd_scenario *s, size_t phase,
                     struct afd_phase_theory *out, char *err);

struct afd_phase_outcome {
    double tokens;       /* decoded in the phase */
    double device_ms;    /* sum of step * (x + y) */
    double time_ms;      /* simulated time of the phase's steps */
    double attention_ms; /* sum of step * x, for the time-mean x */
    long static_x;       /* static/oracle: the phase's x; 0 otherwise */
    bool has_settle;     /* closed loop: settle_s is known */
    double settle_s;     /* closed loop: see the top */
};

struct afd_timeline_point {
    double t_s; /* simulated s since the scenario start */
    int phase;  /* index */
    long attention, ffn;
    double throughput_per_device;  /* over the preceding window */
    double r_star, r_star_barrier; /* NAN when unknown */
    /* regime at the current x/y (closed loop: the daemon's
       Recommendation.current_regime; offline: the phase's theory at x/y,
       mean-field); "" when unknown */
    char regime[AFD_RUN_LABEL_LEN];
};

struct afd_command_event {
    double t_s; /* when received (issued_ms in scenario time) */
    uint64_t id;
    long from, to;
    double applied_t_s; /* when the fleet was resized; NAN if never */
    char regime[AFD_RUN_LABEL_LEN];
    char reason[AFD_RUN_TEXT_LEN];
};

struct afd_alert_event {
    double t_s;
    char alertname[AFD_RUN_LABEL_LEN];
    char action[AFD_RUN_LABEL_LEN];
    char regime[AFD_RUN_LABEL_LEN];
    char explanation[AFD_RUN_TEXT_LEN];
};

struct afd_run_result {
    enum afd_run_policy policy;
    long static_x; /* static:X, static-first-phase, best-static */
    uint64_t seed;
    size_t n_phases;
    struct afd_phase_outcome phase[AFD_SCENARIO_MAX_PHASES];
    size_t n_timeline, cap_timeline;
    struct afd_timeline_point *timeline;
    size_t n_commands, cap_commands;
    struct afd_command_event *commands;
    size_t n_alerts, cap_alerts;
    struct afd_alert_event *alerts;
};

void afd_run_result_release(struct afd_run_result *r);
/* Appends a copy; AFD_ENOMEM past AFD_RUN_MAX_EVENTS or out of memory. */
int afd_run_add_timeline(struct afd_run_result *r,
                         const struct afd_timeline_point *p, char *err);
int afd_run_add_command(struct afd_run_result *r,
                        const struct afd_command_event *c, char *err);
int afd_run_add_alert(struct afd_run_result *r, const struct afd_alert_event *a,
                      char *err);

/*
 * Overall throughput per device: the phases' throughputs per device
 * (tokens / device-ms of the phase) averaged with the phases' durations
 * as weights. Why not tokens / device-ms over the whole run: that pooled
 * ratio weighs a phase by its device time, so a policy gains by running
 * few devices in the phases where tokens are expensive (long contexts)
 * and a fixed small x "beats" the per-phase optimum; time weights ask how
 * well each phase's devices were used. The pooled ratio is reported too.
 */
double afd_run_throughput(const struct afd_scenario *s,
                          const struct afd_run_result *r);
/* Sum of tokens / sum of device-ms over the run. */
double afd_run_throughput_pooled(const struct afd_run_result *r);

/*
 * One phase as an independent segment at x: fills out (static_x = x).
 * AFD_EINVAL for a bad x, AFD_ENOMEM.
 */
int afd_run_segment(const struct afd_scenario *s, size_t phase, long x,
                    struct afd_phase_outcome *out, char *err);

/*
 * Runs an offline policy (all but closed-loop) with jobs threads (>= 1).
 * out is initialised here; release it with afd_run_result_release.
 */
int afd_run_offline(const struct afd_scenario *s, enum afd_run_policy policy,
                    long static_x, int jobs, struct afd_run_result *out,
                    char *err);

/* Fills every phase's settle time from the timeline (closed loop). */
void afd_run_settle(const struct afd_scenario *s, struct afd_run_result *r);

/* The run as JSON, in the schema of plugin/io/run_schema.h (caller
 * decrefs). */
json_t *afd_run_result_json(const struct afd_scenario *s,
                            const struct afd_run_result *r);

#endif
