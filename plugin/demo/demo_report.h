/*
 * demo_report.h - the results of `afd-sizer demo`: the afd-sim scenario
 * runs it collects (one JSON object per policy, integration/sim scenario
 * mode) and their renderings: the comparison table and decision timeline
 * (text), one JSON object (--json) and an SVG timeline.
 *
 * Owns: struct afd_demo_report and its per-policy results. A policy result
 * keeps the parsed JSON object it came from (a jansson reference) so that
 * the --json output passes the simulator's per_phase, timeline, commands and
 * alerts arrays through unchanged; the typed arrays beside it are what the
 * table and the SVG read.
 *
 * Invariants after afd_demo_policy_parse() succeeds: name is one of the four
 * AFD_DEMO_POLICY_* names, throughput_per_device and every phase's
 * throughput_per_device and duration_s are finite and >= 0, the timeline is
 * in non-decreasing t_s order. Missing or null optional numbers (settle time,
 * r*, static x) are NAN; missing counts are -1.
 *
 * Efficiency: efficiency_vs_oracle = throughput_per_device / the oracle's
 * throughput_per_device (a fraction; NAN when the oracle is missing or 0).
 *
 * Ownership: afd_demo_report_init() zeroes, afd_demo_report_release() frees
 * every policy (NULL-safe, idempotent). Not thread-safe: one owner.
 */
#ifndef AFD_DEMO_REPORT_H
#define AFD_DEMO_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#define AFD_DEMO_NAME_LEN   96
#define AFD_DEMO_TEXT_LEN   256
#define AFD_DEMO_MAX_PHASES 64
#define AFD_DEMO_MAX_POINTS 1000000 /* timeline/commands/alerts entries */

/* The four policies, in table order. */
enum afd_demo_policy_kind {
    AFD_DEMO_CLOSED_LOOP = 0,
    AFD_DEMO_STATIC_FIRST_PHASE = 1,
    AFD_DEMO_BEST_STATIC = 2,
    AFD_DEMO_ORACLE = 3,
    AFD_DEMO_N_POLICIES = 4,
};

/* "closed_loop", "static_first_phase", "best_static", "oracle". */
const char *afd_demo_policy_name(enum afd_demo_policy_kind k);
/* The afd-sim --policy value: "closed-loop", "static-first-phase", ... */
const char *afd_demo_policy_flag(enum afd_demo_policy_kind k);

struct afd_demo_phase {
    char name[AFD_DEMO_NAME_LEN];
    double duration_s;               /* simulated seconds */
    double throughput_per_device;    /* tokens/ms/device in this phase */
    double attention_instances_mean; /* time-weighted mean x; NAN if absent */
    int ffn_instances;               /* y; -1 if absent */
    double batch;                    /* slots per Attention instance; NAN */
    double settle_time_s; /* closed loop: phase start to settled; NAN never */
    double static_attention; /* static/oracle x; NAN if absent */
};

struct afd_demo_point {
    double t_s;                   /* simulated seconds */
    int attention;                /* x, -1 if absent */
    int ffn;                      /* y, -1 if absent */
    double throughput_per_device; /* NAN if absent */
    double r_star;                /* NAN if absent or null */
    double r_star_barrier;        /* NAN if absent, null or 0 (unknown) */
    char regime[16]; /* at the current x/y (the SVG's shading); "" if absent */
};

struct afd_demo_command {
    double t_s;
    uint64_t id;
    int from, to; /* Attention instances */
    char regime[16];
    char reason[AFD_DEMO_TEXT_LEN];
};

struct afd_demo_alert {
    double t_s;
    char alertname[32];
    char action[16]; /* "raised" | "resolved" */
    char regime[16];
    char explanation[AFD_DEMO_TEXT_LEN];
};

struct afd_demo_policy {
    bool present;
    enum afd_demo_policy_kind kind;
    char scenario[AFD_DEMO_NAME_LEN];
    uint64_t seed;
    double throughput_per_device; /* tokens/ms/device, whole scenario */
    long scale_commands;          /* -1 if absent */
    struct afd_demo_phase phases[AFD_DEMO_MAX_PHASES];
    size_t n_phases;
    struct afd_demo_point *timeline; /* owned */
    size_t n_timeline;
    struct afd_demo_command *commands; /* owned */
    size_t n_commands;
    struct afd_demo_alert *alerts; /* owned */
    size_t n_alerts;
    json_t *root; /* owned reference to the parsed object */
};

/* What the demo configured; printed in the header and the JSON output. */
struct afd_demo_settings {
    double gain_threshold;     /* fraction */
    long dwell_ms;             /* controller dwell, telemetry ms */
    long cooldown_ms;          /* after an ack, telemetry ms */
    long max_step;             /* instances per command */
    long ack_timeout_ms;       /* unacked command fails after this */
    long backoff_ms;           /* pause after a failed command */
    long eval_interval_ms;     /* telemetry-clock evaluation period */
    long alert_debounce_ms;    /* regime alert debounce */
    long alert_resolve_ms;     /* regime alert resolve hold */
    double workload_half_life; /* finished requests */
    double actuation_delay_s;  /* simulated seconds before a command applies */
    double liveness_window_s; /* telemetry s before a silent instance is gone */
    /* A count still for settle_ms past the cooldown is settled: a move
     * then needs settled_gain (controller/policy.h). */
    long settle_ms;
    double settled_gain;
};

struct afd_demo_report {
    char scenario[AFD_DEMO_NAME_LEN];
    uint64_t seed;
    /* The simulated hardware's profile name and what the daemon was told
     * (the scenario's "prior", else the daemon's default); scale delays by
     * direction, simulated s (the scenario's "actuation", else the demo's
     * actuation delay). */
    char hardware[AFD_DEMO_NAME_LEN];
    char prior[AFD_DEMO_NAME_LEN];
    double scale_out_s, scale_in_s;
    struct afd_demo_settings settings;
    struct afd_demo_policy policies[AFD_DEMO_N_POLICIES];
    char svg_path[4096]; /* "" = no SVG written */
};

void afd_demo_report_init(struct afd_demo_report *r);
void afd_demo_report_release(struct afd_demo_report *r);

/*
 * Parses one afd-sim scenario JSON object (text, len bytes) into the slot
 * of r its "policy" names. AFD_EPARSE (not JSON, a missing or mistyped
 * field: the message names policy and field path), AFD_EINVAL (unknown
 * policy, a value out of range, the slot already filled). r is unchanged
 * on failure.
 */
int afd_demo_report_add(struct afd_demo_report *r, const char *text, size_t len,
                        char *err);

/*
 * Cross-checks the collected runs: all four present, same scenario, seed
 * and phase count and names. AFD_EINVAL naming the first mismatch. Copies
 * scenario and seed into r on success.
 */
int afd_demo_report_check(struct afd_demo_report *r, char *err);

/* policy throughput / oracle throughput; NAN when not defined. */
double afd_demo_efficiency(const struct afd_demo_report *r,
                           enum afd_demo_policy_kind k);

/* The comparison table, phases, settle times and the decision timeline. */
void afd_demo_report_print(const struct afd_demo_report *r, FILE *out);

/*
 * The --json object: scenario, seed, settings, policies (name,
 * throughput_per_device, per_phase, scale_commands, efficiency_vs_oracle),
 * the closed loop's timeline, commands and alerts, and svg (the path or
 * null). New reference (caller json_decref()s) or NULL on allocation
 * failure.
 */
json_t *afd_demo_report_json(const struct afd_demo_report *r);

/*
 * Writes the SVG timeline (plugin/demo/demo_svg.c). AFD_EINVAL when the closed
 * loop has no timeline, AFD_EIO when writing fails.
 */
int afd_demo_report_svg(const struct afd_demo_report *r, FILE *out, char *err);

#endif
