/*
 * family.h - `afd-sizer demo --family`: the closed loop on hardware the
 * daemon was never told about, over a family of generated hardware.
 *
 * Each run takes the base scenario's day (phases, seed, FFN count), gives
 * it a generated "hardware" and no "prior" (the daemon starts from its own
 * default profile), and runs it as `afd-sizer demo --scenario F --json`,
 * one child process after another. Hardware k (k = 0..7) multiplies
 * paper-v1-fit's coefficients by factors drawn from a fixed seed:
 *     aA, aF  log-uniform in [0.4, 2.5]   (per-token attention and FFN
 *                                          cost: H100 vs H200 vs an NPU,
 *                                          dense vs MoE layers)
 *     bA, bF  uniform in [0.6, 1.6]       (fixed kernel and launch cost)
 *     aC, bC  log-uniform in [0.5, 2.0]   (interconnect)
 * with comm_mode per_instance for even k and aggregate for odd k. A 2.5x
 * per-token ratio moves r* by more than 2x against the prior (r_A is
 * proportional to aA / aF). Three more runs: hardware 0 with a 60 s
 * scale-out delay, hardware 2 drifting (attention 25% slower from
 * t = 1200 s, 5% per-step noise, or the day's own if more); and hardware 1
 * with three times the
 * FFN instances in every phase (the several-FFN case: r* is per FFN, the
 * Attention count three times as large). A day with per-step noise
 * (hardware.noise_cv) keeps it on every run. --quick runs hardware 0, the
 * delay run and the drift run only (CI). --seed S draws another family
 * (hardware from S, and S as every run's workload seed): the check that a
 * change is not fitted to the one family.
 *
 * Printed per run: closed-loop throughput per device against the
 * per-phase oracle and against the best static ratio chosen with
 * hindsight, scale commands per workload shift and the mean settle time
 * per shift; then the worst and mean of each. Progress goes to stderr on
 * a terminal only. Exit status as the demo's (plugin/sys/os.h).
 */
#ifndef AFD_FAMILY_H
#define AFD_FAMILY_H

#include <stdbool.h>

struct afd_family_options {
    const char *self;     /* the afd-sizer executable */
    const char *scenario; /* the base scenario file */
    bool quick;           /* 3 runs instead of 11 */
    bool json;            /* one JSON object on stdout instead of a table */
    const char *csv;      /* also write the table here (NULL: no) */
    double timeout_s;     /* per run */
    long seed;            /* -1: the fixed family and the base's seed; else
                             new hardware draws and this workload seed */
    const char *keep;     /* keep each run's scenario and JSON here (NULL) */
};

#define AFD_FAMILY_HARDWARE 8
#define AFD_FAMILY_RUNS     (AFD_FAMILY_HARDWARE + 3)

int afd_demo_family(const struct afd_family_options *o);

#endif
