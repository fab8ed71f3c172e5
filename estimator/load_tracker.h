/*
 * load_tracker.h - theta from the live per-instance token loads.
 *
 * The mean live load per slot, mean(T_j) / B, is the current value of the
 * time-averaged per-slot load theta (model.md section 3): it follows a
 * workload shift as fast as the slots turn over, while finished requests
 * lag by the life of the longest requests (they finish last and weigh
 * most). The tracker smooths the live mean with an exponential filter of
 * time constant tau_ms (the noise of an instantaneous mean). A workload
 * shift shows as the live mean leaving the estimate by more than
 * shift_frac; the filter then restarts from the live value at once (the
 * old phase's history is no help) and `shift_ms` records when.
 *
 * Once the workload holds still, the filter averages longer: the live mean
 * wanders for a request lifetime (each slot's request turns over once; on
 * 10 instances of short chat +-2.5% around its value with a 3 s filter,
 * enough to flip a count at the model's cliff), so the time constant grows
 * with the time since the last restart (half of it) from tau_ms up to the
 * caller's horizon (a few request lifetimes). Right after a restart it is
 * tau_ms again, so a shift is still followed at once. The spread of the
 * instances' loads (the barrier term) is averaged the same way.
 *
 * The caller keeps our own resizes out of the mean: an instance that has
 * just joined starts with fresh, short requests, so for one request
 * lifetime its load says nothing about the workload (the registry leaves
 * such instances out, plugin/daemon/recommend.c).
 *
 * Pure: no I/O, no clock (now_ms is passed in, never decreasing). One
 * tracker per deployment; not thread-safe.
 */
#ifndef AFD_LOAD_TRACKER_H
#define AFD_LOAD_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

struct afd_load_tracker_config {
    double tau_ms;     /* smoothing time constant, > 0 */
    double shift_frac; /* relative jump that counts as a shift, > 0 */
};

/* Defaults: tau 3 s, shift 20% (chosen on the scenario family,
 * `afd-sizer demo --family`). */
void afd_load_tracker_config_default(struct afd_load_tracker_config *c);

struct afd_load_tracker {
    struct afd_load_tracker_config cfg;
    bool valid;        /* theta holds an estimate */
    double theta;      /* tokens per slot, the estimate */
    int64_t last_ms;   /* last update */
    int64_t shift_ms;  /* last detected workload shift, -1 = none */
    int64_t since_ms;  /* last restart (first sample or shift) */
    double tau_now_ms; /* the filter's time constant at the last update */
    bool has_spread;   /* spread_var holds an estimate */
    double spread_var; /* tokens^2, smoothed variance of T_j across
                          instances */
    uint64_t shifts;   /* shifts detected */
};

void afd_load_tracker_init(struct afd_load_tracker *t,
                           const struct afd_load_tracker_config *cfg);

/*
 * One observation at now_ms: the mean load per slot live_theta (tokens) and
 * the spread of the instances' loads live_spread (sd of T_j across them,
 * tokens; < 0 or NaN: not known this time). horizon_ms: the longest time
 * constant the filter may grow to while no shift restarts it (<= tau_ms: a
 * fixed tau_ms). Returns the theta estimate (valid after the first finite
 * live_theta >= 0; a non-finite or negative one changes nothing).
 */
double afd_load_tracker_update(struct afd_load_tracker *t, int64_t now_ms,
                               double live_theta, double live_spread,
                               double horizon_ms);

/*
 * The smoothed spread (sd of T_j, tokens; the root of the filtered
 * variance), or -1 before any. With a few instances one cross-section's sd
 * is a poor estimate (10 instances: +-46% at 95%), and near the model's
 * cliff the barrier term decides the count: averaged over the same window
 * as theta it holds still.
 */
double afd_load_tracker_spread(const struct afd_load_tracker *t);

#endif
