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
 * This forecast counts time at risk instead, on a step clock (decode
 * steps since some origin, as the caller counts them: every running request
 * gains one token per step, whatever the step time). Every slot is refilled
 * the moment its request finishes (model.md section 1), so each finished
 * request, old or new, admits one request of the new phase at its finish,
 * unless the slot resumes a request handed back earlier (a removed
 * instance's, or a batch cut's): the caller says which share of each
 * finish admitted, and adds the admissions of slots it knows were added.
 * From `start` on it keeps, for the requests admitted since:
 *     exposure = sum over those still running of (now - admitted)
 *              + sum over those finished of their decode length
 *     finished = how many of them finished
 * A finished request belongs to the new phase when finish - D >= start;
 * a request known to have finished within a window of steps counts with
 * the share of the window for which that holds.
 * Why steps and not milliseconds: the step time moves during a shift (the
 * old phase's requests leave), and a request's admission time recovered as
 * finish - D * (today's step time) would misfile old requests as new, each
 * one a finish without exposure (a forecast biased short for seconds).
 * The finish rate per step of exposure estimates the new phase's hazard,
 * so its mean decode length is exposure / finished (censoring-correct for
 * a constant hazard), reported as mean_decode.
 *
 * theta and sigma do not assume a geometric decode length independent of
 * the prompt: on the public traces that assumption is off by -3% to +36%
 * (BWB's decode lengths are far less spread than geometric; arXiv's long
 * outputs come with short prompts). They are the renewal-reward sums of
 * workload.h over the new phase's population, estimated from its finished
 * requests with their (P, D) joint: a request of length D is seen finished
 * only if it was admitted by now - D, so each counts 1 / A(now - D), A the
 * admissions so far (inverse-probability weights; the finishes come first
 * from the short ones). That holds for the lengths that A(now - D) still
 * covers (half the admissions or more); the longer ones, the unseen
 * tail, continue geometrically past the last length covered, at the
 * hazard measured over the upper half of the covered lengths, shrunk
 * toward the constant-hazard one while it has few finishes there, their
 * prompts those of the upper half. So a geometric decode length gives the
 * geometric theta E[P] + E[D] - 1 in expectation, and a forecast converges
 * on the trace's own theta as the covered lengths grow. Admissions and
 * finished lengths are kept in AFD_TRANSIENT_BINS bins whose width
 * doubles as the window grows (sums inside a bin are exact).
 *
 * rel_ci is theta's 95% half-width over the part of it the decode length
 * makes (mean_residual + 1): the larger of 1.96 / sqrt(finished) (the
 * exponential lifetime's interval, all a geometric forecast has) and
 * theta's own sampling interval by the delta method (the weighted sums,
 * the tail's mass and its hazard). So theta is within
 * rel_ci * (mean_residual + 1) tokens at 95%, sampling only: the tail's
 * shape past the covered lengths is a model, not a measurement.
 *
 * Pure: times are the caller's step clock (never decreasing), no I/O, no
 * allocation. One owner.
 */
#ifndef AFD_TRANSIENT_H
#define AFD_TRANSIENT_H

#include <stdbool.h>
#include <stdint.h>

/* New-phase requests finished before a forecast is given. */
#define AFD_TRANSIENT_MIN_FINISHED 30

/* Closures remembered (the latest ones). */
#define AFD_TRANSIENT_CLOSED 4

/* Bins of the admission and finished-length histograms (transient.c). */
#define AFD_TRANSIENT_BINS 64

/* Steps [from, to) in which no slot took a new request (to = +inf: open). */
struct afd_transient_closed {
    double from, to;
};

struct afd_transient {
    bool active;
    double start; /* steps */
    /* Admissions since start, at finish steps a_k: count, sum(a_k - start). */
    double admitted, sum_admit;
    /* New-phase requests finished: count, sum(f_j - start), prompt sums. */
    double finished, sum_finish, sum_p, sum_p2;
    /* Steps per bin; admissions by a - start; finished new-phase requests
     * by D, with their sums (count, D, D(D-1)/2, P, P^2, P*D, P^2*D,
     * P*D(D-1), D(D-1)(2D-1)/6) for the renewal-reward moments and, with
     * X = P*D + D(D-1)/2, X^2 for theta's interval (X*D and D^2 follow
     * from the others). */
    double bin_w;
    double adm[AFD_TRANSIENT_BINS];
    double fin[10][AFD_TRANSIENT_BINS];
    struct afd_transient_closed closed[AFD_TRANSIENT_CLOSED];
    int n_closed;
};

/* An inactive forecast with no closures (a zeroed struct is the same). */
void afd_transient_init(struct afd_transient *t);

/* Starts (or restarts) a forecast at step `start`, forgetting the last
 * (but not the closures: they are the fleet's). */
void afd_transient_start(struct afd_transient *t, double start);

/* Ends the forecast (active false). */
void afd_transient_stop(struct afd_transient *t);

/*
 * `weight` > 0 finished requests (a sampled report's one stands for
 * several) of prompt P >= 0 and decode D >= 1 tokens, finished somewhere
 * in the steps [from, to] (a report's window; from == to for an exact
 * step), uniformly as far as the caller knows; `admits` in [0, weight] of
 * them then took a new request into their slot (all but resumed
 * hand-backs). The parts of the window before start are ignored; so are
 * non-finite input, from > to and admits outside [0, weight].
 */
void afd_transient_request(struct afd_transient *t, double from, double to,
                           double prompt, double decode, double weight,
                           double admits);

/*
 * Closures: from step `at` on, no slot takes a new request (handed-back
 * requests wait, and every finish resumes one) until afd_transient_reopen.
 * A resumed request has paused, so finish - D overstates when it was
 * admitted: one whose finish - D falls in a closure is not new, whatever
 * start says. Kept while inactive too; the oldest dropped beyond
 * AFD_TRANSIENT_CLOSED. Close while closed and reopen while open, or
 * non-finite steps, are ignored.
 */
void afd_transient_close(struct afd_transient *t, double at);
void afd_transient_reopen(struct afd_transient *t, double at);

/*
 * n >= 0 new-phase requests admitted at step `at` into slots that were
 * added (a scale-out, a larger batch), not refilled by a finish. Ignored
 * when not active, before start, or for non-finite or negative input.
 */
void afd_transient_admit(struct afd_transient *t, double at, double n);

struct afd_transient_forecast {
    double theta;         /* tokens per slot */
    double sigma;         /* tokens */
    double mean_decode;   /* decode steps of the new phase */
    double mean_residual; /* E[D(D-1)/2] / E[D], steps: the mean decode
                             still to come of a request in flight
                             (workload.h), mean_decode - 1 if geometric */
    double rel_ci;        /* 95% half-width of theta over mean_residual + 1
                             (above) */
    double finished;      /* new-phase requests behind it */
};

/*
 * The forecast at step `now`, no earlier than the end of the last window
 * passed to afd_transient_request. Returns false (out untouched) when not
 * active, with fewer than AFD_TRANSIENT_MIN_FINISHED new-phase requests
 * finished, or without a positive exposure.
 */
bool afd_transient_forecast(const struct afd_transient *t, double now,
                            struct afd_transient_forecast *out);

#endif
