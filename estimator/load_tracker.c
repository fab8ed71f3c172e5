/*
 * load_tracker.c - theta from live loads with smoothing, a hold after
 * resizes and shift detection (load_tracker.h).
 */
#include "estimator/load_tracker.h"

#include <math.h>
#include <string.h>

void afd_load_tracker_config_default(struct afd_load_tracker_config *c)
{
    c->tau_ms = 3000;
    c->hold_lifetimes = 1;
    c->min_hold_ms = 5000;
    c->max_hold_ms = 120000;
    c->shift_frac = 0.2;
}

void afd_load_tracker_init(struct afd_load_tracker *t,
                           const struct afd_load_tracker_config *cfg)
{
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    t->shift_ms = -1;
}

static double hold_ms(const struct afd_load_tracker *t, double step_ms,
                      double mean_decode)
{
    double h = mean_decode > 0 ? t->cfg.hold_lifetimes * mean_decode * step_ms
                               : t->cfg.min_hold_ms;

    if (h < t->cfg.min_hold_ms)
        h = t->cfg.min_hold_ms;
    return h > t->cfg.max_hold_ms ? t->cfg.max_hold_ms : h;
}

double afd_load_tracker_update(struct afd_load_tracker *t, int64_t now_ms,
                               int x, double live_theta, double step_ms,
                               double mean_decode)
{
    double dt, a;

    t->holding = false;
    if (x <= 0 || !isfinite(live_theta) || live_theta < 0)
        return t->theta;
    if (!(step_ms > 0))
        step_ms = 10;
    if (!t->valid) {
        t->valid = true;
        t->theta = live_theta;
        t->last_ms = now_ms;
        t->x = x;
        return t->theta;
    }
    if (x != t->x) {
        /* Our own resize: the loads are not the workload's for a while. */
        t->x = x;
        t->hold_until = now_ms + (int64_t)hold_ms(t, step_ms, mean_decode);
    }
    if (now_ms < t->hold_until) {
        t->holding = true;
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
