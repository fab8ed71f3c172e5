/*
 * run_schema.h - the JSON of one afd-sim scenario run, declared once: the
 * simulator writes it (integration/sim/policy_run.c, afd_run_result_json)
 * and `afd-sizer demo` reads it (plugin/demo/demo_report.c) with these
 * names, so the two sides cannot drift apart. Numbers are JSON reals unless
 * marked int; "or null" where the run has no value.
 *
 * Top level (one object per policy):
 *   policy                        string: closed_loop, static_first_phase,
 *                                 best_static, oracle, static
 *   scenario, seed (int)
 *   throughput_per_device         tokens/ms/device over the day, or null
 *   throughput_per_device_pooled  total tokens / total device-ms, or null
 *   static_attention_instances    int or null (static policies)
 *   scale_commands                int
 *   per_phase                     array of phase objects:
 *     name, duration_s, workload, throughput_per_device,
 *     attention_instances_mean, ffn_instances (int), batch (int),
 *     settle_time_s (or null), static_attention_instances (or null),
 *     tokens, device_ms
 *   timeline                      array of points (closed loop):
 *     t_s, phase (int), attention_instances (int), ffn_instances (int),
 *     throughput_per_device, r_star (or null), r_star_barrier (or null),
 *     regime
 *   commands                      array: t_s, id (int), from (int),
 *                                 to (int), applied_t_s (or null), regime,
 *                                 reason
 *   alerts                        array: t_s, alertname, action, regime,
 *                                 explanation
 */
#ifndef AFD_RUN_SCHEMA_H
#define AFD_RUN_SCHEMA_H

#define AFD_RUN_POLICY          "policy"
#define AFD_RUN_SCENARIO        "scenario"
#define AFD_RUN_SEED            "seed"
#define AFD_RUN_TPUT            "throughput_per_device"
#define AFD_RUN_TPUT_POOLED     "throughput_per_device_pooled"
#define AFD_RUN_STATIC_X        "static_attention_instances"
#define AFD_RUN_SCALE_COMMANDS  "scale_commands"
#define AFD_RUN_PER_PHASE       "per_phase"
#define AFD_RUN_TIMELINE        "timeline"
#define AFD_RUN_COMMANDS        "commands"
#define AFD_RUN_ALERTS          "alerts"

/* per_phase[] */
#define AFD_RUN_NAME            "name"
#define AFD_RUN_DURATION_S      "duration_s"
#define AFD_RUN_WORKLOAD        "workload"
#define AFD_RUN_X_MEAN          "attention_instances_mean"
#define AFD_RUN_FFN             "ffn_instances"
#define AFD_RUN_BATCH           "batch"
#define AFD_RUN_SETTLE_S        "settle_time_s"
#define AFD_RUN_TOKENS          "tokens"
#define AFD_RUN_DEVICE_MS       "device_ms"

/* timeline[], commands[], alerts[] */
#define AFD_RUN_T_S             "t_s"
#define AFD_RUN_PHASE           "phase"
#define AFD_RUN_X               "attention_instances"
#define AFD_RUN_R_STAR          "r_star"
#define AFD_RUN_R_STAR_BARRIER  "r_star_barrier"
#define AFD_RUN_REGIME          "regime"
#define AFD_RUN_ID              "id"
#define AFD_RUN_FROM            "from"
#define AFD_RUN_TO              "to"
#define AFD_RUN_APPLIED_T_S     "applied_t_s"
#define AFD_RUN_REASON          "reason"
#define AFD_RUN_ALERTNAME       "alertname"
#define AFD_RUN_ACTION          "action"
#define AFD_RUN_EXPLANATION     "explanation"

#endif
