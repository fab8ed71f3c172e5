/*
 * recommend.c - afd_deployment_recompute (registry.h): turns a deployment's
 * estimators and live instance table into a recommendation.
 *
 * Inputs, in order of preference: x = attention_instances override, else
 * live Attention rows; y = ffn_instances override, else live FFN rows, else
 * 1; B = batch override, else the mean batch_size of live Attention rows;
 * theta = mean(T_j)/B from live loads through the deployment's tracker
 * (estimator/load_tracker.h: smoothed, restarted on a jump, held after a
 * resize) whenever an Attention row is live, else from finished requests;
 * sigma from finished requests once AFD_MIN_REQUESTS_FOR_THETA arrived
 * (live loads follow a shift within one request lifetime, finished requests
 * lag it and at first over-represent the short ones); the barrier
 * spread = sd of live T_j when >= 2 Attention rows are live, else
 * sqrt(B)*sigma (inside the solver). Target x = the barrier optimum when the
 * barrier model has a spread, else the mean-field integer optimum; current
 * and target throughputs use the same model. The regime at the current
 * ratio x/y is the mean-field one (afd_regime_at: which stage line is
 * highest there), as the controller's (plugin/daemon/control.c).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry_internal.h"

/* ---- recommendation ---- */

struct live_view {
    int n;         /* live Attention rows */
    double mean_t; /* tokens, mean T_j */
    double sd_t;   /* tokens, sample sd of T_j (0 when n < 2) */
    double mean_b; /* slots, mean batch over rows reporting one */
    int n_b;       /* rows with batch_size > 0 */
};

/* One pass (Welford) over the live Attention rows; no scratch memory. */
static void live_view(const struct afd_deployment *d, struct live_view *v)
{
    double m2 = 0, delta;
    size_t i;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < d->n_slots; i++) {
        const struct afd_instance *in = &d->slots[i];

        if (!in->hash || in->role != AFD_ROLE_ATTENTION)
            continue;
        v->n++;
        delta = in->token_load - v->mean_t;
        v->mean_t += delta / v->n;
        m2 += delta * (in->token_load - v->mean_t);
        if (in->batch_size > 0) {
            v->n_b++;
            v->mean_b += (in->batch_size - v->mean_b) / v->n_b;
        }
    }
    v->sd_t = v->n >= 2 ? sqrt(m2 / (v->n - 1)) : 0;
}

/* The current step time, ms: the slowest stage's recent mean (0 unknown). */
static double step_ms(const struct afd_deployment *d)
{
    double step = 0;
    int k;

    for (k = 0; k < AFD_REGIME_COUNT; k++)
        if (d->stages.n[k] && d->stages.ms[k] > step)
            step = d->stages.ms[k];
    return step;
}

/* Fills theta/sigma/B in rec; returns false with why_not set if missing. */
static bool gather(struct afd_deployment *d, const struct live_view *v,
                   int64_t now_ms)
{
    struct afd_recommendation *rec = &d->rec;
    struct afd_workload_stats ws;
    bool have_ws = afd_workload_stats(d->workload, &ws, NULL) == AFD_OK;

    rec->requests = have_ws ? ws.requests : 0;
    rec->batch = d->cfg.batch > 0 ? d->cfg.batch : v->mean_b;
    if (v->n > 0 && rec->batch > 0) {
        /* Live loads first: they follow a shift as the slots turn over,
         * while finished requests lag; the tracker keeps the transient
         * after our own resizes out (estimator/load_tracker.h). */
        bool have_d = have_ws && ws.requests >= AFD_MIN_REQUESTS_FOR_THETA;

        rec->theta_source = AFD_THETA_LIVE_LOADS;
        rec->theta = afd_load_tracker_update(&d->load, now_ms, v->n,
                                             v->mean_t / rec->batch, step_ms(d),
                                             have_d ? ws.mean_decode : 0);
        if (have_d) {
            rec->has_sigma = true;
            rec->sigma = ws.sigma;
        }
    } else if (have_ws && ws.requests >= AFD_MIN_REQUESTS_FOR_THETA) {
        rec->theta_source = AFD_THETA_REQUESTS;
        rec->theta = ws.theta;
        rec->has_sigma = true;
        rec->sigma = ws.sigma;
    }
    if (rec->attention_instances < 1) {
        snprintf(rec->why_not, sizeof(rec->why_not),
                 "no attention instance reported within the liveness window "
                 "(%d ms) and no attention_instances override",
                 d->reg->cfg->liveness_window_ms);
        return false;
    }
    if (!(rec->batch > 0)) {
        snprintf(rec->why_not, sizeof(rec->why_not),
                 "batch size unknown: no live attention instance reports "
                 "batch_size > 0 and no batch override");
        return false;
    }
    if (rec->theta_source == AFD_THETA_NONE) {
        snprintf(rec->why_not, sizeof(rec->why_not),
                 "no theta yet: %llu of %d finished requests and no live "
                 "attention instance load",
                 (unsigned long long)rec->requests, AFD_MIN_REQUESTS_FOR_THETA);
        return false;
    }
    return true;
}

/* Model throughput at x Attention instances: barrier model when known. */
static double throughput(const struct afd_solve_input *in, bool barrier, int x)
{
    double st, thr;

    if (barrier && afd_barrier_at(in, x, &st, &thr, NULL) == AFD_OK)
        return thr;
    return afd_throughput_at(in, (double)x / in->ffn_instances);
}

static void solve(struct afd_deployment *d, const struct live_view *v)
{
    struct afd_recommendation *rec = &d->rec;
    struct afd_solve_input in;
    char err[AFD_ERR_LEN];
    bool barrier;

    afd_solve_input_init(&in, &rec->profile, rec->batch, rec->theta);
    in.has_sigma = rec->has_sigma;
    in.sigma = rec->sigma;
    if (v->n >= 2) {
        in.has_load_spread = true;
        in.load_spread = v->sd_t;
    }
    in.ffn_instances = rec->ffn_instances;
    in.max_ratio = d->cfg.max_ratio;
    if (afd_solve(&in, &rec->solution, err) < 0) {
        snprintf(rec->why_not, sizeof(rec->why_not), "solver: %.200s", err);
        return;
    }
    barrier = rec->solution.has_barrier;
    rec->spread_measured = barrier && rec->solution.spread_measured;
    rec->load_spread = barrier ? rec->solution.barrier_spread : 0;
    rec->target_attention_instances =
        barrier ? rec->solution.attention_instances_barrier
                : rec->solution.attention_instances;
    rec->throughput_current =
        throughput(&in, barrier, rec->attention_instances);
    rec->throughput_target =
        throughput(&in, barrier, rec->target_attention_instances);
    rec->expected_gain =
        rec->throughput_current > 0
            ? rec->throughput_target / rec->throughput_current - 1
            : 0;
    rec->current_regime = afd_regime_at(&in, (double)rec->attention_instances /
                                                 rec->ffn_instances);
    rec->valid = true;
    rec->why_not[0] = '\0';
}

/*
 * x: live Attention rows (or the override); y: live FFN rows, the override,
 * else 1 (a bundle has at least one FFN; reported as 1 until one reports).
 */
const struct afd_recommendation *
afd_deployment_recompute(struct afd_deployment *d, int64_t now_ms)
{
    struct afd_recommendation *rec = &d->rec;
    struct live_view v;

    AFD_ASSERT_OWNER(&d->reg->owner);
    afd_deployment_expire(d, now_ms);
    live_view(d, &v);
    memset(rec, 0, sizeof(*rec));
    rec->computed_ms = now_ms;
    afd_calib_profile(d->calib, &rec->profile);
    afd_calib_report(d->calib, &rec->calib);
    afd_deployment_shift_report(d, rec);
    rec->attention_instances = afd_deployment_current_x(d);
    rec->ffn_instances = afd_deployment_current_y(d);
    if (gather(d, &v, now_ms))
        solve(d, &v);
    d->counters.recomputes++;
    return rec;
}
