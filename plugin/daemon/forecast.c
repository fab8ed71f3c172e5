/*
 * forecast.c - a deployment's workload-shift transient: when a detected
 * shift opens a forecast of the new workload (estimator/transient.h), how
 * long that forecast is the theta recommend.c sizes for, the live
 * estimate's trend it waits on, and whether the requests in flight far
 * outlive the new ones (recommend.c's old_requests). Also the lean move's
 * and our own scale-in's bookkeeping, which follow the count through the
 * same recomputes. Declared in
 * registry_internal.h; called from recommend.c's gather, once per
 * recompute.
 */
#include <math.h>

#include "plugin/daemon/registry_internal.h"

/*
 * The forecast after a workload shift (estimator/transient.h). A shift the
 * detector sees in the settled instances' loads (registry.c feeds it) opens
 * a candidate at the detection time; it counts only once the live estimate
 * and the forecast have both moved by more than AFD_TRANSIENT_CONFIRM from
 * where the live estimate stood then, the same way
 * (the detector also fires on the slow tail of an earlier shift, and the
 * first seconds of a forecast are its least certain), else it lapses after
 * a minute. It counts on the step clock, so a step time that moves does
 * not bias it, and through batch changes and our own scale-outs: the slot
 * ledger (slots.c) tells it which finishes resumed handed-back requests
 * and which slots were added. A scale-in freezes it, ours at its ack, any
 * other when the rows expire (the new phase's handed-back requests wait
 * while it would count them at risk). It ends,
 * once the post-scale-in hold is over, when the live estimate comes within
 * 5% of it (after two new-phase lifetimes) or after three lifetimes of
 * the requests in flight (old or new, the longer, by afd_request_lifetime();
 * 30 s to 300 s), but not while the live estimate still comes toward it
 * (converging(), below; 300 s at most).
 */
#define AFD_TRANSIENT_CONFIRM 0.1

/*
 * A closure that ended (slots.c: the backlog of a batch cut or a scale-in
 * drained) is followed by a burst of admissions: each resumed request's
 * finish admits one, most within a few old lifetimes. Finishes are known
 * only to their report's window, so a forecast that starts next to the
 * burst misfiles part of it: finishes before start taken for new ones
 * with no admission counted (a batch cut to short chat: 500 forecast for
 * 599). The count restarts after it: the closure's end, one report window
 * and three old lifetimes on. Not once our own scale-in has frozen a
 * forecast (its value stands).
 */
static void burst_skip(struct afd_deployment *d, double old_decode)
{
    const struct afd_transient *t = &d->transient;
    double after;

    if (t->n_closed == 0 || d->forecast_frozen ||
        !isfinite(t->closed[t->n_closed - 1].to) ||
        t->closed[t->n_closed - 1].to == d->burst_seen)
        return;
    /* Once per closure: the old lifetime drifts as the new phase's
     * requests finish. */
    d->burst_seen = t->closed[t->n_closed - 1].to;
    after = d->burst_seen + (d->req_step_clock - d->req_from) + 3 * old_decode;
    if (after > t->start) {
        afd_transient_start(&d->transient, after);
        d->has_forecast = false;
    }
}

/*
 * The live estimate's change over the last window of one request lifetime
 * (young_ms, clamped to at least 5 s where it is set), a fraction of where
 * it stood: the raw mean load per slot, not the filtered or held theta, so
 * that it is known the moment a hold lifts.
 */
void afd_deployment_live_trend(struct afd_deployment *d, int64_t now_ms,
                               double live_theta)
{
    if (!(live_theta > 0))
        return;
    if (!(d->live_mark > 0) || now_ms < d->live_mark_ms) {
        d->live_mark = live_theta;
        d->live_mark_ms = now_ms;
        d->live_trend = 0;
        return;
    }
    if (now_ms - d->live_mark_ms < d->young_ms)
        return;
    d->live_trend = (live_theta - d->live_mark) / d->live_mark;
    d->live_mark = live_theta;
    d->live_mark_ms = now_ms;
}

/*
 * True while the live estimate still comes toward the forecast by more
 * than AFD_LIVE_CONVERGING a lifetime: the old phase's longest requests
 * are still leaving the slots, and the live value is no count to size for
 * yet. Three mean lifetimes do not see a long tail out: arXiv
 * summarization's 1.5% of requests above 3,000 decode steps hold 17% of
 * its slots' time, and on the day of public traces they held the live
 * estimate 33% above Azure conversation's for 40 s after the forecast
 * ended; the runs that sized for it moved two or three times more (27 ->
 * 11 -> 9 -> 14 -> 12 -> 10, 10 -> 4 -> 6 -> 5 -> 4). A tail that thins slowly
 * enough to look still (under 1% a lifetime) is not seen this way.
 */
#define AFD_LIVE_CONVERGING  0.01
#define AFD_TRANSIENT_MAX_MS 300000

/*
 * Requests in flight that outlive the new phase's by this factor or more
 * (afd_request_lifetime, in steps), when the new workload is lighter,
 * are left to finish where they are (recommend.c, old_requests). On the
 * short-phases day (integration/scenarios/short-phases.json) lognormal
 * generation, 659 steps in flight, gave way to fixed 60-step requests
 * at batch 512, 73: the scale-in to the new count, 37 -> 4, handed back
 * up to 3,264 old requests to 2,048 slots, and the instances left ran
 * old work at a fraction of the phase's throughput for minutes. On the day of
 * public traces the shift from arXiv summarization is 3.0-3.2 times, and
 * there the forecast's count is the better one (with 3, one run held 26
 * where 20 is best, and eight of 33 lost 0.2-0.75 points). 5 sits
 * between.
 */
#define AFD_OLD_OUTLIVE 5.0

static bool converging(const struct afd_deployment *d)
{
    return fabs(d->live_trend) > AFD_LIVE_CONVERGING &&
           (d->live_mark - d->forecast.theta) * d->live_trend < 0;
}

bool afd_deployment_forecast_update(struct afd_deployment *d, int64_t now_ms,
                                    double live_theta, double old_decode,
                                    double old_life)
{
    struct afd_transient_forecast fc;
    double step = afd_deployment_step_ms(d), end, new_life;
    int x = d->rec.attention_instances;
    bool moved;

    d->old_outlive = false;
    if (x != d->transient_last_x) {
        if (x < d->transient_last_x && d->transient.active)
            d->shift_cut = true;
        d->transient_last_x = x;
        d->x_changed_ms = now_ms;
        /* A lean move's count, once x reaches it (the leaving rows expire
         * over a few recomputes, x passing other counts on the way). */
        d->lean_x = x == d->lean_target ? x : 0;
        d->lean_ms = now_ms;
        if (d->lean_x)
            d->lean_target = 0;
    }
    /* The load channel's own detections: a noisy stage channel may fire
     * in between and be the last one. */
    if (d->shift.fired[AFD_SHIFT_ON_LOAD] != d->transient_shifts) {
        const double fired_t = d->shift.fired_t[AFD_SHIFT_ON_LOAD];

        d->transient_shifts = d->shift.fired[AFD_SHIFT_ON_LOAD];
        /* Our own resize moves the loads too (a leaving instance hands its
         * requests back): no new candidate for a request lifetime after. */
        if (!d->transient.active && now_ms - d->x_changed_ms >= d->young_ms &&
            now_ms >= d->hold_until_ms) {
            /* The detection came at most one evaluation ago: back to it
             * on the step clock at today's step time, but not before the
             * end of the requests already counted (those finished in a
             * window reaching past start would be lost to it: each one's
             * admission missing, the forecast biased short). */
            double back = (double)now_ms - fired_t * 1000;
            double at =
                d->step_clock - (step > 0 && back > 0 ? back / step : 0);

            afd_transient_start(
                &d->transient, at > d->req_step_clock ? at : d->req_step_clock);
            d->transient_start_ms = (int64_t)llround(fired_t * 1000);
            d->shift_seen = true;
            d->lean_target = 0; /* a lean move not made is void now */
            d->has_forecast = false;
            d->forecast_frozen = false;
            d->transient_confirmed = false;
            d->old_seen = false;
            d->shift_cut = false;
            d->transient_ref =
                d->prev_live_theta > 0 ? d->prev_live_theta : live_theta;
        }
    }
    d->prev_live_theta = live_theta;
    if (!d->transient.active)
        return false;
    burst_skip(d, old_decode);
    if (!d->forecast_frozen &&
        afd_transient_forecast(&d->transient, d->req_step_clock, &fc)) {
        d->forecast = fc;
        d->has_forecast = true;
        d->forecast_ms = now_ms;
    }
    /* Confirmed: the live estimate and the forecast both moved, the same
     * way. Not "the forecast further": when the old phase's requests
     * leave fast (short ones, or a batch cut), the slots fill with young
     * requests at once and the live estimate passes the forecast on its
     * way (default p4: 510 live, 600 true). */
    moved = d->has_forecast &&
            fabs(live_theta - d->transient_ref) >
                AFD_TRANSIENT_CONFIRM * d->transient_ref &&
            fabs(d->forecast.theta - d->transient_ref) >
                AFD_TRANSIENT_CONFIRM * d->transient_ref &&
            (live_theta - d->transient_ref) *
                    (d->forecast.theta - d->transient_ref) >
                0;
    if (!d->transient_confirmed && moved)
        d->transient_confirmed = true;
    if (!d->transient_confirmed || !d->has_forecast) {
        if (now_ms - d->transient_start_ms > 60000)
            afd_transient_stop(&d->transient);
        return false;
    }
    new_life = afd_request_lifetime(d->forecast.mean_decode,
                                    d->forecast.mean_residual);
    end = 3 * fmax(new_life, old_life) * step;
    end = end < 30000                  ? 30000
          : end > AFD_TRANSIENT_MAX_MS ? AFD_TRANSIENT_MAX_MS
                                       : end;
    /* The live estimate passes through the forecast on its way (young
     * requests pull it below for a while): agreement counts only after two
     * of the new phase's lifetimes. Nor does the forecast end after three
     * lifetimes while our scale-in waits for old requests that outlive
     * the new ones (recommend.c, old_requests): the live estimate still
     * carries them, and sizing for it would undo the wait. */
    if (now_ms >= afd_deployment_held_until(d) &&
        ((fabs(live_theta - d->forecast.theta) <= 0.05 * d->forecast.theta &&
          (double)(now_ms - d->transient_start_ms) >
              2 * d->forecast.mean_decode * step) ||
         ((double)(now_ms - d->transient_start_ms) > end && !converging(d) &&
          !afd_deployment_old_wait(d, live_theta)) ||
         now_ms - d->transient_start_ms > AFD_TRANSIENT_MAX_MS)) {
        afd_transient_stop(&d->transient);
        d->has_forecast = false;
        return false;
    }
    /* The requests in flight outlive the new phase's many times over and
     * the live estimate still carries them (recommend.c, old_requests). */
    d->old_outlive =
        old_life > AFD_OLD_OUTLIVE * new_life && d->forecast.theta < live_theta;
    d->old_seen = d->old_seen || d->old_outlive;
    return true;
}
