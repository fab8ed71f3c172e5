/*
 * transient.c - the new workload's theta from time at risk (transient.h).
 */
#include "estimator/transient.h"

#include <math.h>
#include <string.h>

void afd_transient_start(struct afd_transient *t, int64_t start_ms)
{
    memset(t, 0, sizeof(*t));
    t->active = true;
    t->start_ms = start_ms;
}

void afd_transient_stop(struct afd_transient *t)
{
    t->active = false;
}

void afd_transient_request(struct afd_transient *t, int64_t now_ms,
                           double prompt, double decode, double step_ms)
{
    double since;

    if (!t->active || now_ms < t->start_ms || !isfinite(prompt) ||
        !isfinite(decode) || !isfinite(step_ms) || prompt < 0 || decode < 1 ||
        !(step_ms > 0))
        return;
    since = (double)(now_ms - t->start_ms);
    /* Its slot was refilled at once: one admission of the new phase. */
    t->admitted += 1;
    t->sum_admit_ms += since;
    if (since - decode * step_ms < 0)
        return; /* admitted before start: the old phase */
    t->finished += 1;
    t->sum_finish_ms += since;
    t->sum_p += prompt;
    t->sum_p2 += prompt * prompt;
}

bool afd_transient_forecast(const struct afd_transient *t, int64_t now_ms,
                            double step_ms, struct afd_transient_forecast *out)
{
    double since, exposure, life, d, mp, vp;

    if (!t->active || t->finished < AFD_TRANSIENT_MIN_FINISHED ||
        !(step_ms > 0) || now_ms < t->start_ms)
        return false;
    since = (double)(now_ms - t->start_ms);
    /* Running: now - a_k; finished: f_j - a_j. */
    exposure = (t->admitted * since - t->sum_admit_ms) -
               (t->finished * since - t->sum_finish_ms);
    if (!(exposure > 0))
        return false;
    life = exposure / t->finished;
    d = life / step_ms;
    if (d < 1)
        d = 1;
    mp = t->sum_p / t->finished;
    vp = fmax(0.0, t->sum_p2 / t->finished - mp * mp);
    out->theta = mp + (d - 1);
    out->sigma = sqrt(vp + d * (d - 1));
    out->mean_decode = d;
    out->life_ms = life;
    out->finished = t->finished;
    return true;
}
