/*
 * solve_json.h - one solve (struct afd_solve_input + struct afd_solution) as
 * a JSON object, the shape shared by `afd-sizer solve --json`, the daemon's
 * Solve RPC and afd-sim.
 *
 * Keys (numbers are JSON reals unless marked int; a value that does not
 * apply, or is not finite, is null, never omitted):
 *   profile, profile_provenance, comm_mode      strings
 *   batch, theta, sigma (null when unknown)     slots, tokens, tokens
 *   load_spread (null unless measured)          tokens, sd of T_j
 *   ffn_instances (int), max_ratio
 *   theta_source                                caller's words, or null
 *   r_star, regime, step_time_ms, throughput_per_device
 *   r_A, r_C, r_peak                            null unless per_instance comm
 *   attention_instances (int), throughput_per_device_int
 *   r_star_barrier, attention_instances_barrier (int),
 *   step_time_barrier_ms, throughput_per_device_barrier, barrier_spread,
 *   spread_measured (bool)                      all null without a barrier
 *   idle_ratios {attention, communication, ffn} at r_star
 *   stage_times_ms {attention, communication, ffn, step} at r_star
 *   regimes [{from, to, regime}]                spans (from, to]
 *   note                                        caller's words, or null
 * Ratios are x/y; throughputs are tokens per ms per device (x + y devices).
 *
 * Ownership: the caller json_decref's the returned object and may add keys
 * to it. Pure apart from allocation; reentrant.
 */
#ifndef AFD_SOLVE_JSON_H
#define AFD_SOLVE_JSON_H

#include <jansson.h>

#include "estimator/solver.h"

/*
 * A new object for in (checked, in->profile set) and sol = afd_solve(in).
 * theta_source and note may be NULL (then JSON null). NULL on allocation
 * failure.
 */
json_t *afd_solve_to_json(const struct afd_solve_input *in,
                          const struct afd_solution *sol,
                          const char *theta_source, const char *note);

#endif
