/*
 * load_tracker.h - theta from the live per-instance token loads, made safe
 * to act on.
 *
 * The mean live load per slot, mean(T_j) / B, is the current value of the
 * time-averaged per-slot load theta (model.md section 3): it follows a
 * workload shift as fast as the slots turn over, while finished requests
 * lag by the life of the longest requests (they finish last and weigh
 * most). But the controller's own resizes perturb it: instances that join
 * start with fresh, short requests, and instances that leave hand theirs
 * back, so right after a resize the live mean says nothing about the
 * workload. The tracker therefore
 *   - smooths the live mean with an exponential filter of time constant
 *     tau_ms (noise of the instantaneous mean), and
 *   - holds its estimate still for hold_ms after the Attention count
 *     changed, hold_ms = hold_lifetimes x (mean decode steps x step time),
 *     clamped to [min_hold_ms, max_hold_ms]: the time the slots need to
 *     turn over after the resize.
 * A workload shift shows as the live mean leaving the estimate by more
 * than shift_frac; the filter then restarts from the live value at once
 * (the old phase's history is no help) and `shift_ms` records when.
 *
 * Pure: no I/O, no clock (now_ms is passed in, never decreasing). One
 * tracker per deployment; not thread-safe.
 */
#ifndef AFD_LOAD_TRACKER_H
#define AFD_LOAD_TRACKER_H

#include <stdbool.h>
#include <stdint.h>

struct afd_load_tracker_config {
    double tau_ms;         /* smoothing time constant, > 0 */
    double hold_lifetimes; /* request lifetimes held after a resize, >= 0 */
    double min_hold_ms;    /* >= 0 */
    double max_hold_ms;    /* >= min_hold_ms */
    double shift_frac;     /* relative jump that counts as a shift, > 0 */
};

/* Defaults: tau 3 s, 1 lifetime clamped to [5 s, 120 s], shift 20%
 * (chosen on the scenario family, integration/scenarios/README.md). */
void afd_load_tracker_config_default(struct afd_load_tracker_config *c);

struct afd_load_tracker {
    struct afd_load_tracker_config cfg;
    bool valid;         /* theta holds an estimate */
    double theta;       /* tokens per slot, the estimate */
    int64_t last_ms;    /* last update */
    int x;              /* Attention count at the last update */
    int64_t hold_until; /* no update before this (after a resize) */
    int64_t shift_ms;   /* last detected workload shift, -1 = none */
    uint64_t shifts;    /* shifts detected */
    bool holding;       /* the last update was held */
};

void afd_load_tracker_init(struct afd_load_tracker *t,
                           const struct afd_load_tracker_config *cfg);

/*
 * One observation at now_ms: x live Attention instances whose mean load per
 * slot is live_theta (tokens), the current step time step_ms (> 0, else a
 * 10 ms guess) and the workload's mean decode length in steps (<= 0:
 * unknown, then the minimum hold). Returns the estimate (valid after the
 * first call with x > 0 and a finite live_theta >= 0).
 */
double afd_load_tracker_update(struct afd_load_tracker *t, int64_t now_ms,
                               int x, double live_theta, double step_ms,
                               double mean_decode);

#endif
