/*
 * solver_internal.h - private glue between solver.c and barrier.c.
 *
 * Not API: only the two files of the solver include it. Every function here
 * takes an input that afd_solve_check() has already accepted. Pure and
 * reentrant like solver.h.
 */
#ifndef AFD_SOLVER_INTERNAL_H
#define AFD_SOLVER_INTERNAL_H

#include <stdbool.h>

#include "estimator/solver.h"

/*
 * The sd of per-instance loads the barrier term uses: load_spread when
 * measured, else sqrt(B)*sigma. Returns false when neither is known.
 */
bool afd_solver_spread(const struct afd_solve_input *in, double *spread,
                       bool *measured);

/*
 * sup over r in [r0, r1] of r*B / ((r+1) * max(tau(r), floor_ms)): the
 * mean-field throughput with the attention time raised to floor_ms. It is
 * unimodal like f, so the sup is at its own maximiser clamped to [r0, r1].
 * 0 < r0 <= r1 <= max_ratio.
 */
double afd_solver_bound_between(const struct afd_solve_input *in,
                                double floor_ms, double r0, double r1);

/*
 * Fills the barrier fields of out (has_barrier, spread_measured,
 * barrier_spread, attention_instances_barrier, r_star_barrier,
 * step_time_barrier, throughput_per_device_barrier) for a checked input;
 * out must be zeroed first. Sets has_barrier = false and leaves the rest
 * zero when no spread is known.
 */
void afd_solver_barrier_optimum(const struct afd_solve_input *in,
                                struct afd_solution *out);

#endif
