/*
 * metrics.h - the registry rendered in the Prometheus text exposition
 * format 0.0.4 (served by plugin/daemon/http.c on GET /metrics).
 *
 * Every family has one # HELP and one # TYPE line followed by all its
 * samples (one per deployment, or per deployment and label value); label
 * values are escaped (\\, \", \n); the output ends with a newline. Values
 * that do not exist yet (r* of an invalid recommendation, sigma before
 * enough requests) are left out rather than sent as NaN; the gauge
 * afd_recommendation_valid says whether a recommendation exists.
 *
 * Families (label deployment on all but afd_build_info/afd_deployments):
 *   afd_build_info{version}                gauge, always 1
 *   afd_deployments                        gauge
 *   afd_recommendation_valid               gauge 0/1
 *   afd_r_star, afd_r_star_barrier         gauge, ratio x/y
 *   afd_attention_instances, afd_ffn_instances   gauge, current x and y
 *   afd_target_attention_instances         gauge
 *   afd_live_instances{role}               gauge, rows in the liveness window
 *   afd_regime{regime}                     gauge, one-hot over the 3 regimes
 *                                          at r*
 *   afd_current_regime{regime}             gauge, one-hot, at the current x/y
 *   afd_theta_tokens, afd_sigma_tokens, afd_batch_slots,
 *   afd_load_spread_tokens                 gauge
 *   afd_expected_gain                      gauge, target/current - 1
 *   afd_model_throughput_tokens_per_second{at="current|target"} gauge,
 *                                          per device
 *   afd_coefficient{coef}, afd_coefficient_calibrated{coef}  gauge
 *   afd_observed_stage_seconds{stage}      gauge, EWMA of measured stage time
 *   afd_calibration_samples_total{stage}   counter
 *   afd_telemetry_steps_accepted_total     counter
 *   afd_telemetry_requests_accepted_total  counter
 *   afd_telemetry_rejected_total{reason}   counter; deployment="" for
 *                                          rejections of no known deployment
 *   afd_recomputes_total                   counter
 * Controller (plugin/daemon/control.h), rows once a deployment was evaluated:
 *   afd_commands_{issued,acked,failed,timed_out}_total  counter
 *   afd_command_advisories_total, afd_command_stale_acks_total,
 *   afd_controller_invalid_inputs_total    counter
 *   afd_last_command_id                    gauge
 *   afd_controller_state{state}            gauge, one-hot: idle, dwelling,
 *                                          in_flight, cooldown, backoff
 *   afd_controller_clock_seconds           gauge, wall or telemetry clock
 *   afd_controller_evaluations_total       counter
 *   afd_regime_transitions_total{alertname,kind}  counter, kind: pending,
 *                                          flap, raised, resolved, superseded
 *   afd_alerts_firing{alertname}           gauge 0/1
 * Alertmanager delivery (no deployment label; only with a url configured):
 *   afd_alertmanager_{posted,sent,delivered,batches,failures,dropped,
 *   resends}_total counter; afd_alertmanager_active_alerts,
 *   afd_alertmanager_pending gauge
 * gRPC server streams (when the server runs): afd_grpc_streams_open gauge,
 *   afd_grpc_streams_refused_total counter (limits.max_streams reached)
 * Dynamo planner registration (only with dynamo.planner set; dynamo.h):
 *   afd_dynamo_registration_state{state} gauge, one-hot;
 *   afd_dynamo_{registrations,rejections,heartbeats,evictions,
 *   call_failures}_total counter
 *
 * HA (replication.h): afd_leader gauge 0/1 (1 on a single node); only with
 *   ha.etcd_endpoints: afd_leader_changes_total counter, afd_ha_epoch, afd_ha_etcd_up,
 *   afd_ha_state_age_seconds gauge, afd_ha_state_{writes,write_failures,
 *   reads,restore_failures}_total, afd_ha_commands_dropped_total counter
 *
 * Runs on the loop thread (reads the registry). No allocation per line:
 * lines are built in a stack buffer and appended to the evbuffer.
 */
#ifndef AFD_METRICS_H
#define AFD_METRICS_H

#include <event2/buffer.h>

#include "plugin/daemon/registry.h"

/* Content-Type of the rendered text. */
#define AFD_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct afd_control;
struct afd_alertmanager;
struct afd_snapshot_writer;
struct afd_dynamo;

/* What is rendered: the registry, and the controller's and Alertmanager
 * delivery's rows when they run (either may be NULL). */
struct afd_metrics_src {
    struct afd_registry *reg;
    struct afd_control *ctl;
    struct afd_alertmanager *am;
    struct afd_snapshot_writer *writer;
    struct afd_dynamo *dynamo; /* plugin/daemon/dynamo.h; may be NULL */
    struct afd_grpc_server *grpc; /* stream counts; may be NULL */
    struct afd_replication *repl; /* HA (replication.h); may be NULL */
};

/* Appends the exposition to out. AFD_ENOMEM when the buffer cannot grow. */
int afd_metrics_render(const struct afd_metrics_src *src,
                       struct evbuffer *out);

#endif
