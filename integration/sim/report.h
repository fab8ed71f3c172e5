/*
 * report.h - afd-sim's outputs of a sweep: the readable table, the JSON
 * object (shape below) and the CSV rows.
 *
 * JSON (numbers that do not apply or are not finite are null):
 *   profile, comm_mode, batch, ffn_instances, workload, theta, sigma,
 *   requests_drawn, mean_prompt, mean_decode, steps, warmup, seed, noise_cv,
 *   batches,
 *   ratios: [{attention_instances, r, throughput_per_device, ci95, eta_A,
 *             eta_C, eta_F, mean_step_ms, bound_share {attention,
 *             communication, ffn}, mean_load, load_spread, tied, extra,
 *             model_mean_field, model_barrier, regime}]
 *   best_attention_instances, best_r, tie_range [lo, hi], ties_note,
 *   r_star, attention_instances_mean_field, r_star_barrier,
 *   attention_instances_barrier, error_mean_field, error_barrier,
 *   regret_mean_field, regret_barrier, solve (plugin/io/solve_json.h shape)
 *
 * Ownership: afd_report_json returns a new object the caller decrefs.
 */
#ifndef AFD_SIM_REPORT_H
#define AFD_SIM_REPORT_H

#include <stdio.h>

#include <jansson.h>

#include "integration/sim/sweep.h"

/* What was run, for the report headers. */
struct afd_report_meta {
    const char *workload; /* the spec as given */
    unsigned long long seed;
    unsigned long long steps;
    unsigned long long warmup;
    double noise_cv;
    int batches;
};

json_t *afd_report_json(const struct afd_sweep_config *c,
                        const struct afd_sweep_result *r,
                        const struct afd_report_meta *m);

/* Human-readable table and summary. */
void afd_report_table(FILE *out, const struct afd_sweep_config *c,
                      const struct afd_sweep_result *r,
                      const struct afd_report_meta *m);

/* CSV with a header row, one row per simulated x. AFD_EIO on failure. */
int afd_report_csv(const char *path, const struct afd_sweep_result *r,
                   char *err);

#endif
