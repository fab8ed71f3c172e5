/*
 * scenario.h - a day of traffic for the simulated deployment: phases of
 * simulated time, each with its own workload, batch and FFN count, loaded
 * from a JSON file (integration/scenarios/NAME.json).
 *
 * File shape (unknown keys are errors; errors name file and field, e.g.
 * "default.json: phases[2].batch: must be an integer in 1..65536, got 0"):
 *   {"name": "default",                 required, non-empty
 *    "description": "...",              optional
 *    "seed": 1,                         optional, integer >= 0 (default 1)
 *    "hardware": {                      optional: the SIMULATED TRUTH
 *      "profile": "paper-v1-fit",       built-in name or a profile object
 *                                       (profile_json.h); default
 *                                       paper-v1-fit
 *      "noise_cv": 0.05,                optional, 0..1: per-step lognormal
 *                                       noise of every stage (fleet.h)
 *      "drift": [{"at_s": 1200, "stage": "attention", "factor": 1.25}]},
 *                                       optional, at most 16: from at_s on
 *                                       that stage is factor x slower
 *    "prior": "paper-v1-fit",           optional: what the DAEMON is told
 *                                       (built-in name or object); absent:
 *                                       the daemon's own default, never a
 *                                       copy of hardware (`afd-sizer demo`
 *                                       reads it; the simulator only checks
 *                                       it)
 *    "actuation": {"scale_out_delay_s": 30,   optional, 0..86400 each:
 *                  "scale_in_delay_s": 5},    simulated s from a command to
 *                                       the resize, by direction (absent:
 *                                       afd-sim's --actuation-delay)
 *    "profile": ...                     deprecated alias of hardware.profile
 *                                       (not both)
 *    "batch": 256,                      optional default of the phases
 *    "ffn_instances": 1,                optional default of the phases
 *    "initial_attention_instances": 10, optional; default: the
 *                                       static-first-phase x
 *    "phases": [{"name": "short chat",  required, non-empty
 *                "duration_s": 300,     required, (0, 1e6] simulated s
 *                "workload": "geometric:prompt=100,decode=500",
 *                                       required, an afd-sim spec (gen.h)
 *                "batch": 256,          1..65536
 *                "ffn_instances": 1}]}  1..1024
 * at most AFD_SCENARIO_MAX_PHASES phases.
 *
 * Trace paths: a relative trace:PATH resolves against the scenario file's
 * directory, then $AFD_TRACES_DIR, then shared/traces under the scenario
 * directory or any directory above it (which finds ../shared/traces next
 * to the repository). The first existing file wins; the error lists where
 * it looked.
 *
 * Seeds: phase i draws its requests from afd_scenario_phase_seed(seed, i),
 * the same for every policy, so policies see the same requests where
 * their instance counts agree.
 *
 * Ownership: afd_scenario_load fills caller storage (phases array and the
 * parsed generators are owned); afd_scenario_release frees them and is
 * safe on a zeroed or failed struct. Read-only afterwards: threads may
 * share a loaded scenario.
 */
#ifndef AFD_SIM_SCENARIO_H
#define AFD_SIM_SCENARIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "estimator/profile.h"
#include "integration/sim/fleet.h"
#include "integration/sim/gen.h"

#define AFD_SCENARIO_MAX_PHASES     64
#define AFD_SCENARIO_NAME_LEN       128
#define AFD_SCENARIO_TEXT_LEN       512
#define AFD_SCENARIO_PATH_LEN       4096
#define AFD_SCENARIO_MAX_BATCH      65536
#define AFD_SCENARIO_MAX_FFN        1024
#define AFD_SCENARIO_MAX_DURATION_S 1e6

struct afd_scenario_phase {
    char name[AFD_SCENARIO_NAME_LEN];
    double duration_s;                    /* simulated seconds, > 0 */
    char workload[AFD_SCENARIO_TEXT_LEN]; /* the spec as written */
    struct afd_gen gen;                   /* parsed, trace path resolved */
    long batch;                           /* B */
    long ffn;                             /* y */
};

struct afd_scenario {
    char name[AFD_SCENARIO_NAME_LEN];
    char description[AFD_SCENARIO_TEXT_LEN];
    char path[AFD_SCENARIO_PATH_LEN]; /* the file, as given */
    uint64_t seed;
    long initial_attention; /* 0 = static-first-phase's x */
    struct afd_profile profile; /* the simulated hardware's profile */
    struct afd_fleet_hw hw;     /* its drift and noise */
    double scale_out_delay_s;   /* < 0: not given (the runner's default) */
    double scale_in_delay_s;
    size_t n_phases;
    struct afd_scenario_phase *phases; /* owned, n_phases */
};

/*
 * Loads and validates a scenario file. AFD_EIO (unreadable), AFD_EPARSE
 * (JSON syntax, with line and column), AFD_EINVAL (a field, named),
 * AFD_ENOTFOUND (unknown profile or trace not found), or the generator's
 * code for a bad workload spec. err starts with the file name.
 */
int afd_scenario_load(const char *path, struct afd_scenario *out, char *err);

/*
 * The same from a parsed object; base_dir anchors relative trace paths and
 * label prefixes messages. For tests and embedded scenarios.
 */
int afd_scenario_from_json(const json_t *root, const char *base_dir,
                           const char *label, struct afd_scenario *out,
                           char *err);

void afd_scenario_release(struct afd_scenario *s);

/*
 * Finds the trace file rel (relative) as described at the top, writing the
 * path into out[n]. AFD_ENOTFOUND with the places tried.
 */
int afd_scenario_find_trace(const char *base_dir, const char *rel, char *out,
                            size_t n, char *err);

/* The seed of phase i's draws. */
uint64_t afd_scenario_phase_seed(uint64_t seed, size_t phase);

/* Scenario time at the start of phase i, s (the durations before it). */
double afd_scenario_phase_start_s(const struct afd_scenario *s, size_t i);

/* Sum of the phases' durations, s. */
double afd_scenario_duration_s(const struct afd_scenario *s);

#endif
