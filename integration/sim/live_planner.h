/*
 * live_planner.h - the closed loop with an external planner as the one
 * actuator (afd-sim scenario --actuator planner): the line protocol between
 * afd-sim and the process that runs it (a planner such as NVIDIA Dynamo's,
 * or the stand-in integration/e2e/dynamo_planner.py).
 *
 * Lock-step, one exchange per telemetry window (live.h): after the
 * window's Report call has been answered, afd-sim writes ONE line on its
 * output
 *   {"observe":{"t_s":T,"window_s":W,"deployment":"NAME",
 *               "workers":{"ready_decode":X,"expected_decode":E,"ffn":Y},
 *               "traffic":{"duration_s":W,"num_req":N,"isl":P,"osl":D}}}
 * (the planner's OBSERVE: X the Attention instances running, E the count
 * they are heading to (X unless a resize is pending), Y the FFN instances;
 * N requests finished in the window with mean prompt P and mean decode D
 * tokens, 0 when none) and reads ONE line back:
 *   {"replicas":R,"reason":"TEXT"}   the planner's decision for the
 *                                     Attention pool (EXECUTE), or
 *   {}                               no change.
 * A decision R different from E is applied like a scale command: at the
 * first step at or after now + the scenario's actuation delay for its
 * direction (else --actuation-delay-s), recorded in the run's commands
 * with ids 1, 2, .. in decision order. The result JSON follows the last
 * exchange on the same output. Same seed, same daemon config and the same
 * planner give the same lines and the same result.
 *
 * Numbers are printed with %.17g (exact round trip). Errors: AFD_EIO when
 * the planner closes the pipe or a write fails, AFD_EPARSE for a line that
 * is not one of the forms above (message quotes it), AFD_EINVAL for a
 * replicas value outside 1..max. One owner, not thread-safe.
 */
#ifndef AFD_SIM_LIVE_PLANNER_H
#define AFD_SIM_LIVE_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "integration/sim/policy_run.h"

struct afd_live_obs {
    double t_s;      /* simulated s since the scenario start */
    double window_s; /* simulated s the traffic covers */
    const char *deployment;
    long ready;      /* Attention instances running */
    long expected;   /* where they are heading (ready if none pending) */
    long ffn;        /* FFN instances */
    double num_req;  /* requests finished in the window */
    double isl, osl; /* their mean prompt / decode tokens; 0 if none */
};

struct afd_live_decision {
    bool set;      /* false: no change */
    long replicas; /* Attention instances, when set */
    char reason[AFD_RUN_TEXT_LEN];
};

/* Writes the observation line and flushes. AFD_EIO on a failed write. */
int afd_live_planner_observe(FILE *out, const struct afd_live_obs *o,
                             char *err);

/* Reads and parses one answer line; replicas must be in 1..max. */
int afd_live_planner_decision(FILE *in, long max, struct afd_live_decision *out,
                              char *err);

/* One exchange: afd_live_planner_observe then afd_live_planner_decision. */
int afd_live_planner_exchange(FILE *out, FILE *in, long max,
                              const struct afd_live_obs *o,
                              struct afd_live_decision *dec, char *err);

/* Sets o's num_req, isl and osl from n finished requests given as
 * (prompt, decode) pairs in req (0 when n is 0). */
void afd_live_planner_traffic(struct afd_live_obs *o, const double *req,
                              size_t n);

#endif
