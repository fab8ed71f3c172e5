/*
 * live.h - the closed loop: the scenario's deployment (fleet.h) driven by
 * a running afd-sizer daemon over gRPC (plugin/rpc/grpc_client.h).
 *
 * Lock-step protocol (the daemon's controller clock set to
 * "telemetry"): for each window of simulated time the run
 *   1. simulates the window's steps, applying every due command at the
 *      first step at or after issued_ms + actuation delay (simulated);
 *   2. opens ONE Telemetry/Report call with the window's batches: step
 *      samples of every instance on every sample_every-th step (Attention:
 *      batch_size, token_load, attention_ms, comm_ms; FFN: ffn_ms,
 *      ffn_tokens, comm_ms) and finished requests (at most max_requests per
 *      window: every k-th when more finished, an unbiased thinning), all
 *      stamped timestamp_ms = epoch + simulated ms; half-closes and waits
 *      for the ReportSummary;
 *   3. when summary.last_command_id is above the last id seen, waits (at
 *      most 5 s wall) until WatchCommands has delivered it; advisory
 *      commands are recorded, never applied;
 *   4. acks (AckCommand, success) every command applied in this window,
 *      waiting for each answer, then starts the next window.
 * With o->planner_in/out (live_planner.h) an external planner is the one
 * actuator instead: steps 3 and 4 become one exchange on the planner's
 * pipe (observations out, the Attention count it decides back), applied
 * with the same delays; WatchCommands is drained without waiting and
 * nothing is acked (the daemon drives such a deployment through the
 * planner: its commands are advisory, plugin/daemon/config_dynamo.h).
 * Regime alerts come from WatchAlerts on their own reader and are recorded
 * with their own start/end times; at the end the run drains them for up
 * to 300 ms. Same seed and the same daemon config give the same commands,
 * the same timeline and the same JSON (the alerts too, given the drain).
 *
 * HA (o->target "A,B,C", the replicas of an afd-sizer HA group): a call
 * refused by a follower (FAILED_PRECONDITION naming "leader=HOST:PORT")
 * or failing because the peer is gone (UNAVAILABLE, ...) reconnects - to
 * the named leader, else the next address - and is retried with the same
 * window's telemetry, for up to 20 s. A command whose leader_epoch is
 * below the highest seen is ignored (fencing); one offered again by a new
 * leader after we acked it to its predecessor is acked again.
 *
 * Instance ids are "<deployment>-attn-NNN" / "<deployment>-ffn-NNN"; a
 * removed instance stops reporting and the daemon forgets it after its
 * liveness window (keep that window short in the demo config).
 *
 * Ownership: afd_live_run fills a caller's struct afd_run_result (release
 * it with afd_run_result_release). It owns its channel and readers and
 * tears them down before returning. Call from one thread.
 */
#ifndef AFD_SIM_LIVE_H
#define AFD_SIM_LIVE_H

#include <stdint.h>
#include <stdio.h>

#include "integration/sim/policy_run.h"
#include "integration/sim/scenario.h"

#define AFD_LIVE_EPOCH_MS 1700000000000LL /* 2023-11-14T22:13:20Z */

struct afd_live_options {
    const char *target;       /* daemon gRPC HOST:PORT, or A,B,C (HA) */
    const char *deployment;   /* default "sim" */
    double actuation_delay_s; /* simulated s from issue to resize, >= 0 */
    double window_s;          /* simulated s per Report call, > 0 */
    double timeline_s;        /* simulated s between timeline points */
    int sample_every;         /* steps between reported step samples, >= 1 */
    int max_requests;         /* finished requests per window, >= 1 */
    int rpc_timeout_ms;       /* per call, wall ms */
    long max_attention;       /* fleet capacity, instances; 0 (default):
                                 the daemon's default bound (policy.h's
                                 max_attention), less if the largest
                                 batch needs it (slot cap) */
    bool quiet;               /* no progress lines */
    /* planner actuation (live_planner.h): observations to planner_out,
     * decisions from planner_in; NULL = WatchCommands actuation */
    FILE *planner_out, *planner_in;
};

/* Defaults: deployment "sim", delay 5 s, window 1 s, timeline 1 s, sample
 * every 4th step, 2000 requests per window, 10 s per call, automatic
 * capacity. */
void afd_live_options_init(struct afd_live_options *o);

/*
 * Runs the scenario in closed loop. x starts at s->initial_attention or
 * the static-first-phase pick. Returns AFD_OK, AFD_EIO for a failed call
 * or a daemon that does not answer (message says which call), AFD_EINVAL
 * for bad options, AFD_ENOMEM. On failure out holds what ran so far.
 */
int afd_live_run(const struct afd_scenario *s, const struct afd_live_options *o,
                 struct afd_run_result *out, char *err);

#endif
