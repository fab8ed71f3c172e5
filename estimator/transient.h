/*
 * transient.h - the new workload's theta, forecast while a shift is still
 * working its way through the slots.
 *
 * After an abrupt shift neither view of theta is right for a while: the
 * live loads still carry the old phase's requests (after a move to shorter
 * contexts they overrate the new theta for a whole old request lifetime),
 * and the finished requests of the new phase are the short ones (they
 * finish first), so their renewal-reward theta underrates it. Both biases
 * make a sizer walk to the new target in a staircase.
 *
 * This forecast counts time at risk instead. Every slot is refilled the
 * moment its request finishes (model.md section 1), so each finished
 * request, old or new, admits one request of the new phase at its finish
 * time. From `start` on it keeps, for the requests admitted since:
 *     exposure = sum over those still running of (now - admitted)
 *              + sum over those finished of their lifetime
 *     finished = how many of them finished
 * A finished request belongs to the new phase when finish - D * step_ms
 * >= start. The finish rate per unit of exposure estimates the new phase's
 * hazard, so its mean lifetime is exposure / finished (censoring-correct
 * for a constant hazard), its mean decode length that over step_ms, and
 * with a geometric decode length independent of the prompt (workload.h)
 *     theta = E[P] + (E[D] - 1),   sigma^2 = Var(P) + E[D] (E[D] - 1)
 * E[P] and Var(P) from the new phase's finished prompts. A heavier tail
 * than geometric makes this an underestimate, the cheap side for a sizer
 * (fewer Attention instances than optimal cost little; too many, a lot).
 *
 * Pure: times are the caller's ms (one clock, never decreasing), no I/O, no
 * allocation. One owner.
 */
#ifndef AFD_TRANSIENT_H
#define AFD_TRANSIENT_H

#include <stdbool.h>
#include <stdint.h>

/* New-phase requests finished before a forecast is given. */
#define AFD_TRANSIENT_MIN_FINISHED 30

struct afd_transient {
    bool active;
    int64_t start_ms;
    /* Admissions since start, at finish times a_k: count, sum(a_k - start). */
    double admitted, sum_admit_ms;
    /* New-phase requests finished: count, sum(f_j - start), prompt sums. */
    double finished, sum_finish_ms, sum_p, sum_p2;
};

/* Starts (or restarts) a forecast at start_ms, forgetting the last one. */
void afd_transient_start(struct afd_transient *t, int64_t start_ms);

/* Ends the forecast (active false). */
void afd_transient_stop(struct afd_transient *t);

/*
 * One finished request reported at now_ms: prompt P >= 0 and decode D >= 1
 * tokens, step_ms the current step time (> 0). Ignored when not active, for
 * a time before start, or for non-finite input.
 */
void afd_transient_request(struct afd_transient *t, int64_t now_ms,
                           double prompt, double decode, double step_ms);

struct afd_transient_forecast {
    double theta;       /* tokens per slot */
    double sigma;       /* tokens */
    double mean_decode; /* decode steps of the new phase */
    double life_ms;     /* its mean request lifetime */
    double finished;    /* new-phase requests behind it */
};

/*
 * The forecast at now_ms with step time step_ms. Returns false (out
 * untouched) when not active, with fewer than AFD_TRANSIENT_MIN_FINISHED
 * new-phase requests finished, or without a positive exposure.
 */
bool afd_transient_forecast(const struct afd_transient *t, int64_t now_ms,
                            double step_ms, struct afd_transient_forecast *out);

#endif
