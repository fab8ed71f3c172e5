/*
 * transient.c - the new workload's theta from time at risk (transient.h).
 */
#include "estimator/transient.h"

#include <math.h>
#include <string.h>

void afd_transient_init(struct afd_transient *t)
{
    memset(t, 0, sizeof(*t));
}

void afd_transient_start(struct afd_transient *t, double start)
{
    struct afd_transient_closed closed[AFD_TRANSIENT_CLOSED];
    int n = t->n_closed;

    /* The closures are the fleet's history, not this forecast's. */
    memcpy(closed, t->closed, sizeof(closed));
    memset(t, 0, sizeof(*t));
    memcpy(t->closed, closed, sizeof(closed));
    t->n_closed = n;
    t->active = true;
    t->start = start;
}

void afd_transient_stop(struct afd_transient *t)
{
    t->active = false;
}

void afd_transient_close(struct afd_transient *t, double at)
{
    if (!isfinite(at) ||
        (t->n_closed > 0 && isinf(t->closed[t->n_closed - 1].to)))
        return;
    if (t->n_closed == AFD_TRANSIENT_CLOSED) {
        memmove(t->closed, t->closed + 1,
                (AFD_TRANSIENT_CLOSED - 1) * sizeof(t->closed[0]));
        t->n_closed--;
    }
    t->closed[t->n_closed].from = at;
    t->closed[t->n_closed].to = INFINITY;
    t->n_closed++;
}

void afd_transient_reopen(struct afd_transient *t, double at)
{
    struct afd_transient_closed *c;

    if (t->n_closed == 0 || !isfinite(at))
        return;
    c = &t->closed[t->n_closed - 1];
    if (isinf(c->to))
        c->to = at > c->from ? at : c->from;
}

void afd_transient_admit(struct afd_transient *t, double at, double n)
{
    if (!t->active || !isfinite(at) || !isfinite(n) || at < t->start ||
        !(n >= 0))
        return;
    t->admitted += n;
    t->sum_admit += n * (at - t->start);
}

/* One piece [a, b] of a finish window of length w that is a new-phase
 * finish: its share and its mean finish step. */
static void finish_piece(struct afd_transient *t, double a, double b, double w,
                         double weight, double prompt)
{
    double share = weight * (b - a) / w;

    t->finished += share;
    t->sum_finish += share * ((a + b) / 2 - t->start);
    t->sum_p += share * prompt;
    t->sum_p2 += share * prompt * prompt;
}

void afd_transient_request(struct afd_transient *t, double from, double to,
                           double prompt, double decode, double weight,
                           double admits)
{
    double w, lo, cur, share;
    int i;

    if (!t->active || !isfinite(from) || !isfinite(to) || from > to ||
        !isfinite(prompt) || !isfinite(decode) || prompt < 0 || decode < 1 ||
        !(weight > 0) || !isfinite(weight) ||
        !(admits >= 0 && admits <= weight))
        return;
    w = to - from;
    if (!(w > 0)) { /* an exact finish step: a window of one point */
        double a = to - decode;

        if (to < t->start)
            return;
        t->admitted += admits;
        t->sum_admit += admits * (to - t->start);
        if (a < t->start)
            return; /* admitted before start: the old phase */
        for (i = 0; i < t->n_closed; i++)
            if (a >= t->closed[i].from && a < t->closed[i].to)
                return; /* a resumed one, paused while waiting */
        t->finished += weight;
        t->sum_finish += weight * (to - t->start);
        t->sum_p += weight * prompt;
        t->sum_p2 += weight * prompt * prompt;
        return;
    }
    /* Finished somewhere in [from, to], uniformly: the share of the window
     * after start admits a new-phase request (its slot was refilled at
     * once), and the share whose admission f - D lies at or after start,
     * outside every closure, is itself a new-phase finish. Rounding to one
     * stamp would misfile every request admitted within a window of start,
     * which early on are most of those seen. */
    lo = from > t->start ? from : t->start;
    if (lo >= to)
        return;
    share = (to - lo) / w;
    t->admitted += admits * share;
    t->sum_admit += admits * share * ((lo + to) / 2 - t->start);
    cur = t->start + decode > lo ? t->start + decode : lo;
    for (i = 0; i < t->n_closed && cur < to; i++) {
        double c0 = t->closed[i].from + decode, c1 = t->closed[i].to + decode;

        if (c1 <= cur)
            continue;
        if (c0 >= to)
            break;
        if (c0 > cur)
            finish_piece(t, cur, c0, w, weight, prompt);
        cur = c1;
    }
    if (cur < to)
        finish_piece(t, cur, to, w, weight, prompt);
}

bool afd_transient_forecast(const struct afd_transient *t, double now,
                            struct afd_transient_forecast *out)
{
    double since, exposure, d, mp, vp;

    if (!t->active || t->finished < AFD_TRANSIENT_MIN_FINISHED ||
        !isfinite(now) || now < t->start)
        return false;
    since = now - t->start;
    /* Running: now - a_k; finished: f_j - a_j (= D_j). */
    exposure = t->admitted * since - t->sum_admit -
               (t->finished * since - t->sum_finish);
    if (!(exposure > 0))
        return false;
    d = exposure / t->finished;
    if (d < 1)
        d = 1;
    mp = t->sum_p / t->finished;
    vp = fmax(0.0, t->sum_p2 / t->finished - mp * mp);
    out->theta = mp + (d - 1);
    out->sigma = sqrt(vp + d * (d - 1));
    out->mean_decode = d;
    out->rel_ci = 1.96 / sqrt(t->finished);
    out->finished = t->finished;
    return true;
}
