/*
 * slots.c - the shift forecast's bookkeeping (registry_internal.h,
 * estimator/transient.h): the step clock it counts in, and the slot ledger
 * that says which finished requests admitted a new one.
 *
 * The forecast assumes every finish refills its slot with a request of the
 * new phase. Two things break that, both visible here: slots handed back
 * (our own scale-in, a batch cut: the requests of the removed slots wait
 * and are resumed by the next finishes, which then admit nothing) and slots
 * added (a scale-out, a larger batch: new requests, or waiting ones, with
 * no finish). The ledger keeps the backlog of handed-back requests and
 * tells the forecast, per finish, the share that admitted.
 *
 * Units: requests. A sender that samples its finished requests says what
 * each stands for (FinishedRequest.weight).
 */
#include <math.h>

#include "plugin/daemon/registry_internal.h"

/*
 * The backlog drained inside the current report: the closure ends where,
 * by weight, the draining finish stands among the report's (the window's
 * finishes spread uniformly over it, as the forecast takes them). Placing
 * it at the window's end instead misfiled as resumed every request
 * admitted in the rest of the window: after a batch cut, where the old
 * phase's short requests finish fast, thousands of the new phase's, whose
 * finishes the forecast then never counted (the default scenario's batch
 * cut: 860 to 1050 forecast for 600).
 */
static void drain_settle(struct afd_deployment *d)
{
    const struct afd_transient *t = &d->transient;
    double lo;

    if (!d->drain_pending || t->n_closed == 0)
        return;
    d->drain_pending = false;
    /* Only the part of the window after the closure began resumed (one
     * that began within this report ends at its start). The closure is
     * the last one: the backlog opened it. */
    lo = t->closed[t->n_closed - 1].from;
    if (d->req_from > lo)
        lo = d->req_from;
    afd_transient_reopen(
        &d->transient,
        lo + (d->req_step_clock > lo ? d->req_step_clock - lo : 0) *
                 (d->req_weight > 0 ? d->drain_weight / d->req_weight : 1));
}

void afd_slots_report(struct afd_deployment *d)
{
    if (d->clock_ms == d->req_clock_ms)
        return;
    drain_settle(d);
    /* Requests carry no time: those of one report finished somewhere
     * between it and the previous one, on the step clock (a long gap: at
     * the last step). */
    d->req_from = d->req_clock_ms > 0 && d->clock_ms - d->req_clock_ms < 10000
                      ? d->req_step_clock
                      : d->step_clock;
    d->req_clock_ms = d->clock_ms;
    d->req_step_clock = d->step_clock;
    d->req_weight = 0;
}

void afd_slots_changed(struct afd_deployment *d, double delta)
{
    double n;

    if (!isfinite(delta) || delta == 0)
        return;
    drain_settle(d);
    n = fabs(delta);
    if (delta < 0) {
        if (!(d->backlog > 0))
            afd_transient_close(&d->transient, d->step_clock);
        d->backlog += n;
        return;
    }
    /* New slots resume the waiting requests first (they wait in front). */
    if (d->backlog > n) {
        d->backlog -= n;
        return;
    }
    n -= d->backlog;
    if (d->backlog > 0)
        afd_transient_reopen(&d->transient, d->step_clock);
    d->backlog = 0;
    afd_transient_admit(&d->transient, d->step_clock, n);
}

double afd_slots_admits(struct afd_deployment *d, double weight)
{
    double resumed;

    d->req_weight += weight;
    if (!(d->backlog > 0))
        return weight;
    resumed = d->backlog < weight ? d->backlog : weight;
    d->backlog -= resumed;
    if (!(d->backlog > 0)) {
        /* Reopened at the report's end (drain_settle): its size is not
         * known yet. */
        d->backlog = 0;
        d->drain_pending = true;
        d->drain_weight = d->req_weight - weight + resumed;
    }
    return weight - resumed;
}

void afd_deployment_note_release(struct afd_deployment *d, int instances)
{
    d->unmoved = false; /* our own move: no lean move from now on */
    if (instances <= 0 || !(d->rec.batch > 0))
        return;
    d->released += instances;
    d->released_seen = true;
    /* The requests handed back now include the new phase's own, which
     * wait while the forecast counts them at risk: it keeps the value it
     * had (the decision that asked for this was made on it). A forecast
     * with no value yet goes on (few of its requests are handed back). */
    if (d->transient.active && d->has_forecast)
        d->forecast_frozen = true;
    afd_slots_changed(d, -(double)instances * d->rec.batch);
}

void afd_slots_row_gone(struct afd_deployment *d, double batch)
{
    /* An instance we released was counted at its ack. */
    if (d->released > 0) {
        d->released--;
        return;
    }
    /* Whoever removed it (an advisory decision the Dynamo planner applied,
     * an operator, a failure), its requests are handed back as a release's
     * are: the forecast keeps its value for the same reason. */
    if (d->transient.active && d->has_forecast)
        d->forecast_frozen = true;
    if (batch > 0)
        afd_slots_changed(d, -batch);
}

/*
 * The step clock (decode steps so far) the shift forecast counts in. From
 * the instances' own step counters when they send them: each row's counter
 * is aligned to the clock when first seen (or when it restarts), and the
 * clock is the furthest any row has got since. Without counters, telemetry
 * time over the step time; that reads the slowest stage's mean, not the
 * barrier's slowest instance, so it runs a little fast when the load is
 * uneven.
 */
void afd_slots_step_clock(struct afd_deployment *d,
                          const struct afd_step_sample *s,
                          struct afd_instance *row, int64_t now_ms)
{
    if (s->step > 0) {
        double at;

        if (!row->last_step || s->step < row->last_step)
            row->step_base = d->step_clock - (double)s->step;
        row->last_step = s->step;
        at = row->step_base + (double)s->step;
        if (at > d->step_clock)
            d->step_clock = at;
        d->step_counters = true;
    } else if (!d->step_counters && now_ms > d->clock_ms && d->clock_ms > 0) {
        double step = afd_deployment_step_ms(d);

        if (step > 0)
            d->step_clock += (double)(now_ms - d->clock_ms) / step;
    }
}
