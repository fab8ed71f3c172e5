/*
 * sweep.h - a sweep of the simulator over Attention counts, and the theory
 * beside it.
 *
 * For every integer x in [lo, hi] (y FFN instances fixed) one simulator run
 * with the same seed (common random numbers: instance j draws the same
 * requests at every x). Every request finishing in a measured step of the
 * run at the largest x of the first pass feeds the theta/sigma estimator
 * (estimator/workload.h, joint renewal-reward sums; the other runs redraw
 * the same requests for their instances, so they add nothing new);
 * the solver (estimator/solver.h) then gives, for the profile, batch, y and
 * that theta/sigma, the mean-field r* with its integer recommendation and
 * the barrier-aware integer optimum. When a recommendation lies outside
 * [lo, hi] it is simulated too (marked `extra`), so both regrets are always
 * measured.
 *
 * Simulation optimum: the x of highest simulated throughput. Tied within
 * noise: every x whose 95% interval overlaps the best one's.
 * Relative errors: (r_theory - r_sim)/r_sim with r_sim = x_best/y, for the
 * continuous mean-field r* and the barrier integer optimum x_b/y.
 * Regret: 1 - f_sim(x_recommended)/f_sim(x_best), measured on the simulated
 * curve: 0 when the recommendation is the optimum, never negative.
 *
 * With refine and stride s > 1 the first pass simulates every s-th x, then
 * repeatedly the x within s of the best so far at stride max(1, s/4), down
 * to stride 1: about 12 + 8 per level points instead of hi - lo + 1.
 *
 * Ownership: afd_sweep_run fills caller storage and allocates its run array;
 * afd_sweep_release frees it (safe on a zeroed struct). With jobs > 1 the
 * runs go to that many threads; output is identical for any jobs value.
 */
#ifndef AFD_SIM_SWEEP_H
#define AFD_SIM_SWEEP_H

#include <stdbool.h>
#include <stddef.h>

#include "estimator/solver.h"
#include "estimator/workload.h"
#include "integration/sim/engine.h"

#define AFD_SWEEP_MAX_POINTS 4096

/* Called after each finished run (from the thread that ran it, serialised). */
typedef void (*afd_sweep_progress_fn)(void *ctx, size_t done, size_t total,
                                      long x);

struct afd_sweep_config {
    struct afd_sim_config sim; /* all but `attention` and `drawn` are used */
    long lo;                   /* first x, >= 1 */
    long hi;                   /* last x, >= lo */
    long stride;               /* x step, >= 1 (1 = every integer) */
    int jobs;                  /* threads, >= 1 */
    bool no_extras;            /* do not simulate out-of-range theory picks */
    bool refine;               /* stride > 1: zoom in around the best */
    afd_sweep_progress_fn progress; /* optional */
    void *progress_ctx;
};

struct afd_sweep_point {
    struct afd_sim_result sim; /* the simulated run */
    bool extra;                /* added because a theory pick was outside */
    bool tied;                 /* 95% CI overlaps the best point's */
    double model_mean_field;   /* f(x/y) of the mean-field model */
    double model_barrier;      /* barrier-model throughput at x, NAN if none */
    enum afd_regime regime;    /* mean-field regime at x/y */
};

struct afd_sweep_result {
    size_t n;                       /* points, sorted by x */
    struct afd_sweep_point *points; /* owned */
    size_t best;                    /* index of the simulation optimum */
    long best_x;
    long tie_lo, tie_hi;             /* smallest and largest tied x */
    struct afd_workload_stats drawn; /* theta/sigma of finished requests */
    struct afd_solve_input input;    /* what the solver was given */
    struct afd_solution solution;    /* the solver's answer */
    double r_sim;                    /* best_x / y */
    double error_mean_field;         /* (r_star - r_sim)/r_sim */
    double error_barrier;            /* (r_star_barrier - r_sim)/r_sim */
    double regret_mean_field;        /* 1 - f(x_mf)/f(x_best) */
    double regret_barrier;           /* 1 - f(x_b)/f(x_best) */
    bool mean_field_tied;            /* x_mf is tied with the best */
    bool barrier_tied;               /* x_b is tied with the best */
};

/* Defaults: lo 1, hi 16, stride 1, jobs 1, no progress; sim from init. */
void afd_sweep_config_init(struct afd_sweep_config *c,
                           const struct afd_profile *profile,
                           const struct afd_gen *gen);

/*
 * Runs the sweep and the solver. Returns AFD_OK; AFD_EINVAL for a bad
 * range or simulator setting (message names it); AFD_ENOMEM; AFD_EEMPTY when
 * no request finished in the measured steps (theta unknown: run longer).
 */
int afd_sweep_run(const struct afd_sweep_config *c,
                  struct afd_sweep_result *out, char *err);
void afd_sweep_release(struct afd_sweep_result *r);

/* Index of the point with attention count x, or -1. */
long afd_sweep_find(const struct afd_sweep_result *r, long x);

#endif
