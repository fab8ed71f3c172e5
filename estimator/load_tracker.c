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

/* Restart at the live values: the first sample, or a shift. */
static void restart(struct afd_load_tracker *t, int64_t now_ms,
                    double live_theta, double live_spread)
{
    t->theta = live_theta;
    t->has_spread = isfinite(live_spread) && live_spread >= 0;
    t->spread_var = t->has_spread ? live_spread * live_spread : 0;
    t->last_ms = now_ms;
    t->since_ms = now_ms;
    t->tau_now_ms = t->cfg.tau_ms;
}

double afd_load_tracker_update(struct afd_load_tracker *t, int64_t now_ms,
                               double live_theta, double live_spread,
                               double horizon_ms)
{
    double dt, a, tau = t->cfg.tau_ms, grown;

    if (!isfinite(live_theta) || live_theta < 0)
        return t->theta;
    if (!t->valid) {
        t->valid = true;
        restart(t, now_ms, live_theta, live_spread);
        return t->theta;
    }
    if (fabs(live_theta - t->theta) > t->cfg.shift_frac * t->theta) {
        t->shift_ms = now_ms;
        t->shifts++;
        restart(t, now_ms, live_theta, live_spread);
        return t->theta;
    }
    dt = (double)(now_ms - t->last_ms);
    grown = 0.5 * (double)(now_ms - t->since_ms);
    if (grown > tau)
        tau = grown < horizon_ms ? grown : horizon_ms > tau ? horizon_ms : tau;
    t->tau_now_ms = tau;
    a = dt > 0 ? 1 - exp(-dt / tau) : 0;
    t->theta += a * (live_theta - t->theta);
    if (isfinite(live_spread) && live_spread >= 0) {
        /* The variance is what averages; a first spread is taken as is. */
        if (!t->has_spread)
            t->spread_var = live_spread * live_spread;
        else
            t->spread_var += a * (live_spread * live_spread - t->spread_var);
        t->has_spread = true;
    }
    t->last_ms = now_ms;
    return t->theta;
}

double afd_load_tracker_spread(const struct afd_load_tracker *t)
{
    return t->valid && t->has_spread ? sqrt(t->spread_var) : -1;
}
