/*
 * load_tracker.c - theta from live loads with smoothing and shift restarts
 * (load_tracker.h).
 */
#include "estimator/load_tracker.h"

#include <math.h>
#include <string.h>

void afd_load_tracker_config_default(struct afd_load_tracker_config *c)
{
    c->tau_ms = 3000;
    c->shift_frac = 0.2;
}

void afd_load_tracker_init(struct afd_load_tracker *t,
                           const struct afd_load_tracker_config *cfg)
{
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    t->shift_ms = -1;
}

double afd_load_tracker_update(struct afd_load_tracker *t, int64_t now_ms,
                               double live_theta)
{
    double dt, a;

    if (!isfinite(live_theta) || live_theta < 0)
        return t->theta;
    if (!t->valid) {
        t->valid = true;
        t->theta = live_theta;
        t->last_ms = now_ms;
        return t->theta;
    }
    if (fabs(live_theta - t->theta) > t->cfg.shift_frac * t->theta) {
        t->shift_ms = now_ms;
        t->shifts++;
        t->theta = live_theta;
        t->last_ms = now_ms;
        return t->theta;
    }
    dt = (double)(now_ms - t->last_ms);
    a = dt > 0 ? 1 - exp(-dt / t->cfg.tau_ms) : 0;
    t->theta += a * (live_theta - t->theta);
    t->last_ms = now_ms;
    return t->theta;
}
