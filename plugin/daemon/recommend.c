/*
 * recommend.c - afd_deployment_recompute (registry.h): turns a deployment's
 * estimators and live instance table into a recommendation.
 *
 * Inputs, in order of preference: x = attention_instances override, else
 * live Attention rows; y = ffn_instances override, else live FFN rows, else
 * 1; B = batch override, else the mean batch_size of live Attention rows;
 * theta = mean(T_j)/B over the settled live Attention rows (a row that
 * joined less than one request lifetime ago carries fresh, short requests)
 * through the deployment's tracker (estimator/load_tracker.h: smoothed,
 * restarted on a jump; held after a scale-in, whose handed-back requests
 * are older than the workload's, while they wait and a lifetime after)
 * whenever an Attention row is live, else from finished requests; during a
 * detected workload shift, the new phase's forecast instead
 * (estimator/transient.h; how long: forecast.c); sigma from finished
 * requests once AFD_MIN_REQUESTS_FOR_THETA arrived (live loads follow a
 * shift within one request lifetime, finished requests lag it and at first
 * over-represent the short ones). The comm mode is the one our own moves
 * identified (estimator/comm_mode.h); until then, when the two modes disagree
 * on the count, the count with the smaller worst-case loss over both. The
 * barrier spread = sd of live T_j when >= 2 Attention rows are live, averaged
 * by the tracker like theta; during a forecast, and with fewer rows,
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
#include "plugin/daemon/recommend_model.h"
#include "plugin/daemon/registry_internal.h"

/* ---- recommendation ---- */

struct live_view {
    int n;         /* live Attention rows */
    int n_load;    /* rows behind mean_t and sd_t (settled ones) */
    double mean_t; /* tokens, mean T_j */
    double sd_t;   /* tokens, sample sd of T_j (0 when n_load < 2) */
    double mean_b; /* slots, mean batch over rows reporting one */
    int n_b;       /* rows with batch_size > 0 */
};

/* Welford accumulator of token loads. */
struct load_acc {
    int n;
    double mean, m2;
};

static void load_add(struct load_acc *a, double t)
{
    double delta = t - a->mean;

    a->n++;
    a->mean += delta / a->n;
    a->m2 += delta * (t - a->mean);
}

/*
 * One pass (Welford) over the live Attention rows; no scratch memory.
 * Rows that appeared after settled_ms are counted in n but left out of the
 * load statistics while at least one settled row is live: a new instance
 * starts with fresh, short requests, so for one request lifetime its load
 * underrates the workload's (a sizer that read it would shrink the pool it
 * has just grown).
 */
static void live_view(const struct afd_deployment *d, int64_t settled_ms,
                      struct live_view *v)
{
    struct load_acc all = {0, 0, 0}, settled = {0, 0, 0};
    const struct load_acc *use;
    size_t i;

    memset(v, 0, sizeof(*v));
    for (i = 0; i < d->n_slots; i++) {
        const struct afd_instance *in = &d->slots[i];

        if (!in->hash || in->role != AFD_ROLE_ATTENTION)
            continue;
        v->n++;
        if (in->batch_size > 0) {
            v->n_b++;
            v->mean_b += (in->batch_size - v->mean_b) / v->n_b;
        }
        load_add(&all, in->token_load);
        if (in->first_seen_ms <= settled_ms)
            load_add(&settled, in->token_load);
    }
    use = settled.n > 0 ? &settled : &all;
    v->n_load = use->n;
    v->mean_t = use->mean;
    v->sd_t = use->n >= 2 ? sqrt(use->m2 / (use->n - 1)) : 0;
}

static int64_t clamp_life(double life)
{
    if (!(life >= AFD_YOUNG_MIN_MS))
        life = AFD_YOUNG_MIN_MS;
    return (int64_t)(life > AFD_YOUNG_MAX_MS ? AFD_YOUNG_MAX_MS : life);
}

/*
 * How long a new instance's load is not yet the workload's: one request
 * lifetime, mean decode steps x step time, clamped to [5 s, 120 s] (5 s
 * before anything is known).
 */
static int64_t young_ms(const struct afd_deployment *d, int64_t now_ms)
{
    struct afd_workload_stats ws;
    double step = afd_deployment_step_ms(d), life = AFD_YOUNG_MIN_MS;

    if (afd_workload_stats(d->workload, &ws, NULL) == AFD_OK &&
        ws.requests >= AFD_MIN_REQUESTS_FOR_THETA && step > 0)
        life = ws.mean_decode * step;
    /* Finished requests lag a shift to longer lives: a recent forecast
     * knows the new phase's lifetime first. */
    if (d->forecast_ms > 0 && d->forecast.mean_decode * step > life &&
        now_ms - d->forecast_ms < 3 * d->forecast.mean_decode * step)
        life = d->forecast.mean_decode * step;
    return clamp_life(life);
}

/* The requests in flight's lifetime, ms, from `life` steps
 * (afd_request_lifetime(), 0 when unknown): young_ms when longer (a recent
 * forecast's new lifetime), clamped as it is. */
static int64_t in_flight_ms(const struct afd_deployment *d, double life)
{
    double step = afd_deployment_step_ms(d);
    int64_t ms;

    if (!(life > 0) || !(step > 0))
        return d->young_ms;
    ms = clamp_life(life * step);
    return ms > d->young_ms ? ms : d->young_ms;
}

/* A forecast this tight (95% relative half-width) needs no dwell. */
#define AFD_FORECAST_CONFIDENT 0.05

void afd_deployment_note_lean(struct afd_deployment *d, int target)
{
    if (target >= 1 && target != d->rec.attention_instances)
        d->lean_target = target;
}

/* The calibration's identified coefficients as bits AFD_COEF_*. */
static unsigned identified_mask(const struct afd_recommendation *rec)
{
    unsigned mask = 0;
    int k;

    for (k = 0; k < AFD_COEF_COUNT; k++)
        if (rec->calib.identified[k])
            mask |= 1u << k;
    return mask;
}

/* d->rec is the last recompute's, the one the command was decided on. */
void afd_deployment_note_command(struct afd_deployment *d, int64_t now_ms)
{
    d->ident_at_cmd = identified_mask(&d->rec);
    d->cmd_ms = now_ms;
}

/*
 * A move sized while the calibration had not separated a stage's slope
 * from its intercept (the FFN seen at one x only: the split is the
 * prior's) lands where the data then identify it, and the model's
 * correction from there is the data's, not a noisy estimate's: measured
 * on `--seed 1` hardware 2 of the family, short chat entered at 10 on the
 * prior's FFN split, the model said 12 five seconds later (+1.2%, the
 * simulator's best; bench-transition: 1.9% of that phase) and the 2%
 * threshold kept 10 all phase.
 */
static void refit(struct afd_deployment *d)
{
    struct afd_recommendation *rec = &d->rec;

    rec->refit = d->cmd_ms > 0 && d->transient_start_ms > 0 &&
                 d->cmd_ms >= d->transient_start_ms &&
                 (identified_mask(rec) & ~d->ident_at_cmd) != 0;
}

/* How many request lifetimes the live-load filter may average over once
 * the workload holds still (estimator/load_tracker.h). */
#define AFD_LOAD_HORIZON_LIVES 2.0

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
         * while finished requests lag (estimator/load_tracker.h). */
        bool have_d = have_ws && ws.requests >= AFD_MIN_REQUESTS_FOR_THETA;
        double in_flight =
            have_d ? afd_request_lifetime(ws.mean_decode, ws.mean_residual) : 0;
        const double live = v->mean_t / rec->batch; /* raw, this recompute */

        rec->theta_source = AFD_THETA_LIVE_LOADS;
        /* After a scale-in the leaving instances' requests are handed back
         * and resumed by the remaining slots, older than the workload's:
         * hold the estimate while they queue, hold_x / x fleets' worth at
         * one per lifetime of the requests in flight (in_flight_ms) after
         * our own release, one after any other drop (e.g. a new leader's
         * first seconds). While handed-back requests still wait (slots.c's
         * backlog) the estimate stays held a lifetime past now: the
         * resumed requests carry their old loads for a lifetime after the
         * last one leaves the queue (a hold that lifted 5 s after the
         * backlog drained read 730 live against a forecast of 601, 595
         * live 25 s later, and the loop moved 5 -> 7 -> 5). Not the shift
         * detection: a backlog can take minutes to drain (the default
         * day's lean move, 107 -> 45: about five minutes), and a shift in
         * them would be missed. */
        if (rec->attention_instances < d->hold_x) {
            double k = d->released_seen
                           ? (double)d->hold_x / rec->attention_instances
                           : 1;
            int64_t until =
                now_ms +
                (int64_t)((k > 8 ? 8 : k) * (double)in_flight_ms(d, in_flight));

            if (d->hold_until_ms < until)
                d->hold_until_ms = until;
            d->released_seen = false;
        }
        if (now_ms < afd_deployment_held_until(d) && d->backlog > 0) {
            int64_t until = now_ms + in_flight_ms(d, in_flight);

            if (d->wait_until_ms < until)
                d->wait_until_ms = until;
        }
        d->hold_x = rec->attention_instances;
        afd_deployment_live_trend(d, now_ms, live);
        rec->live_trend = d->live_trend;
        d->spread_use = v->n_load >= 2 ? v->sd_t : -1;
        d->spread_n = v->n_load;
        if (now_ms < afd_deployment_held_until(d) && d->load.valid) {
            rec->theta = d->load.theta;
        } else {
            rec->theta = afd_load_tracker_update(
                &d->load, now_ms, live, d->spread_use,
                AFD_LOAD_HORIZON_LIVES * (double)d->young_ms);
            if (d->spread_use >= 0 && afd_load_tracker_spread(&d->load) >= 0) {
                /* Loads decorrelate over a request lifetime: a filter of
                 * time constant tau averages about 2 tau / life of them. */
                double lives = 2 * d->load.tau_now_ms / (double)d->young_ms;

                d->spread_use = afd_load_tracker_spread(&d->load);
                d->spread_n = v->n_load * (lives > 1 ? lives : 1);
            }
        }
        if (have_d) {
            rec->has_sigma = true;
            rec->sigma = ws.sigma;
        }
        d->live_theta = rec->theta;
        d->live_spread = d->spread_use;
        if (afd_deployment_forecast_update(d, now_ms, rec->theta,
                                           have_d ? ws.mean_decode : 0,
                                           in_flight)) {
            rec->theta_source = AFD_THETA_FORECAST;
            rec->theta_confident = d->forecast.rel_ci <= AFD_FORECAST_CONFIDENT;
            rec->theta = d->forecast.theta;
            rec->has_sigma = true;
            rec->sigma = d->forecast.sigma;
            /* The loads are in flux, old and new requests mixed: the
             * new phase's spread is the forecast's, sqrt(B) sigma. */
            d->spread_use = -1;
            d->spread_n = 0;
        }
    } else if (have_ws && ws.requests >= AFD_MIN_REQUESTS_FOR_THETA) {
        rec->theta_source = AFD_THETA_REQUESTS;
        rec->theta = ws.theta;
        rec->has_sigma = true;
        rec->sigma = ws.sigma;
    } else if (d->planner.osl >= 1 &&
               afd_workload_geometric(d->planner.isl, 0, d->planner.osl,
                                      &rec->theta, &rec->sigma,
                                      NULL) == AFD_OK) {
        /* Nothing of our own yet: the planner's traffic means. */
        rec->theta_source = AFD_THETA_PLANNER;
        rec->has_sigma = true;
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

/* The model at theta and a measured load spread (< 0: none). */
static int run_model_at(const struct afd_deployment *d,
                        const struct live_view *v, const struct afd_profile *p,
                        double theta, double spread, struct afd_model *m,
                        char *err)
{
    const struct afd_recommendation *rec = &d->rec;

    m->profile = *p;
    afd_solve_input_init(&m->in, &m->profile, rec->batch, theta);
    m->in.has_sigma = rec->has_sigma;
    m->in.sigma = rec->sigma;
    if (v->n_load >= 2 && spread >= 0) {
        m->in.has_load_spread = true;
        m->in.load_spread = spread;
    }
    m->in.ffn_instances = rec->ffn_instances;
    m->in.max_ratio = d->cfg.max_ratio;
    memcpy(m->in.stage_cv, rec->stage_cv, sizeof(m->in.stage_cv));
    if (afd_solve(&m->in, &m->sol, err) < 0)
        return -1;
    m->barrier = m->sol.has_barrier;
    m->target = m->barrier ? m->sol.attention_instances_barrier
                           : m->sol.attention_instances;
    m->thr_target = afd_model_throughput(&m->in, m->barrier, m->target);
    return 0;
}

/* The model at the recommendation's theta and the spread in use. */
static int run_model(const struct afd_deployment *d, const struct live_view *v,
                     const struct afd_profile *p, struct afd_model *m,
                     char *err)
{
    return run_model_at(d, v, p, d->rec.theta, d->spread_use, m, err);
}

/* The larger relative loss of count x under the two models. */
static double worst_loss(const struct afd_model *a, const struct afd_model *b,
                         int x)
{
    double la = 1 - afd_model_throughput(&a->in, a->barrier, x) / a->thr_target;
    double lb = 1 - afd_model_throughput(&b->in, b->barrier, x) / b->thr_target;

    return la > lb ? la : lb;
}

/*
 * Steady points feed the comm-mode tracker (estimator/comm_mode.h): x must
 * have stood still since the previous recompute, so that the stage mean
 * describes this x and not the move.
 */
static void comm_observe(struct afd_deployment *d)
{
    const struct afd_recommendation *rec = &d->rec;
    int x = rec->attention_instances;

    if (x == d->comm_x && x > 0 && d->stages.n[AFD_REGIME_COMMUNICATION] &&
        rec->batch > 0)
        afd_comm_mode_observe(&d->comm, rec->batch,
                              rec->batch * x / rec->ffn_instances,
                              d->stages.ms[AFD_REGIME_COMMUNICATION]);
    d->comm_x = x;
}

/*
 * Where in the band the target goes: the counts whose throughput is within
 * AFD_NEAR_BAND of the optimum's (AFD_FLOOR_BAND for the floor below). The
 * curve is flat below r* and steep above it (the default scenario's
 * short-chat phase: 24 to 31 instances within 0.3%, 33 instances 2.5%
 * below), and a scale-in hands the leaving instances' requests back: the
 * instances left resume them with their context, slower for a request
 * lifetime or two (short chat, 69 -> 30 instances in steady state: the
 * attention stage 25 -> 36 ms for 40 s).
 *  - Before any shift has been seen, a scale-in (of the fleet's first
 *    size, or of a count we set since) goes to the lowest count
 *    within AFD_FLOOR_BAND: fewer requests stay in flight for the next
 *    shift to hand back to a ratio sized for another workload (the
 *    default day's shift to short chat, to 30 instances, costs 4.4% of
 *    that phase from the nearest count, 98, 2.1% from 62, the lowest
 *    within 0.5%, and 1.3% from 45, the lowest within 1%). The width
 *    trades this phase's throughput for the next shift's hand-back:
 *    measured on eight scenario families (README), 1% against 0.5% raised
 *    seven families' means and tied one, 2% lost on the day in another
 *    order (its first shift scales out).
 *  - Once a shift has been seen (during it, and after it for a count we
 *    set or one held through it), the nearest count in the band: the old
 *    workload's handed-back requests need the capacity, and a correction
 *    should hand back as little as it can (default p4: 22 -> 16 five
 *    minutes after the shift, -1.6% in that phase, against 22 -> 20,
 *    -1.0%). A count held through a shift is no first size: the floor
 *    hands requests back now for a next shift that may never come (51 ->
 *    21 after a batch cut: 0.2% in the model, 1.7% of the phase; README).
 *  - Unless the curve is flat there: a scale-in from above the band goes
 *    to the band's lowest count when that sheds AFD_LEAN_SHARE of the
 *    nearest count or more, shift or not (the nearest move and a lean
 *    move from it, in one command, within the same 0.5%). A heavy-tailed
 *    workload's curve is flat (more instances, a longer max at the
 *    barrier): the short-phases day's lognormal generation (cv 1), its
 *    family's hardware 4, 18 to 36 instances within 0.7% in the model,
 *    tied in the simulator. The loop went 63 -> 44 -> 37 and entered the
 *    next phase (batch 512, best at 3 instances) with 37 instances'
 *    requests to hand back: 29.2 tokens/ms/device there, 34.3 from 24
 *    with this rule (README). The 1% floor band here instead lost up to
 *    1 point on 5 of 88 geometric runs: a model's 1% at the floor was
 *    2.7% in the simulator.
 *  - A scale-out goes to the nearest count within AFD_NEAR_BAND, which is
 *    the lowest (the 1% floor there too lowered the family mean of the
 *    day in another order, whose first shift scales out, by 0.2 points).
 *  - A count nobody has moved since the deployment appeared (no shift
 *    seen yet) that stands at or above the optimum goes to the floor as
 *    well, a lean move: it gains nothing now and costs at most
 *    AFD_FLOOR_BAND, and the next shift, whichever way it goes, hands
 *    back fewer requests (the default day starts at long context's
 *    optimum, 107 instances: held there, the shift to short chat costs
 *    3.3% of that phase even with an instant move to 30, and 0.6% from
 *    45, the floor, which costs the long-context phase 1.0%,
 *    bench-transition). It pays only if the next shift scales in, so
 *    only when it sheds at least AFD_LEAN_SHARE of the fleet: shedding
 *    58% saved 2.6% of the next phase there, which at even odds on the
 *    shift's direction covers the 1% from about 45% of the fleet (0.4,
 *    rounded down: on eight families, README, every lean move shedding
 *    35% or more gained; on the day in another order, whose first shift
 *    scales out, moves of 21-31% lost up to 0.8 points each). The
 *    controller takes it when its cost and the model's uncertainty stay
 *    within its threshold (controller/policy.h).
 */
#define AFD_NEAR_BAND  0.005
#define AFD_FLOOR_BAND 0.01
#define AFD_LEAN_SHARE 0.4

/* The model's throughput at count x (afd_unimodal_edge's f): its curve is
 * unimodal in x (model.md sec. 5), so the band's edges are found in
 * O(log) evaluations, where a walk took one per count (a fleet of
 * thousands on a flat curve walked thousands at every recompute). */
static double model_thr(const void *ctx, int x)
{
    const struct afd_model *m = ctx;

    return afd_model_throughput(&m->in, m->barrier, x);
}

static void band_target(struct afd_model *m, int x, bool nearest, bool unmoved)
{
    double want;
    int c, step;

    m->lean = false;
    if (x < 1 || !(m->thr_target > 0) ||
        (x == m->target && (nearest || !unmoved)))
        return;
    step = m->target > x ? 1 : -1;
    if (step < 0 && !nearest) { /* x == target lands here too */
        const double floor_thr = (1 - AFD_FLOOR_BAND) * m->thr_target;
        const int opt = m->target;
        const double thr_opt = m->thr_target;

        c = afd_unimodal_edge(m->target, 1, floor_thr, model_thr, m);
        if (c != m->target) {
            m->target = c;
            m->thr_target = afd_model_throughput(&m->in, m->barrier, c);
        }
        m->lean = unmoved && x - m->target >= AFD_LEAN_SHARE * x;
        if (x == opt && !m->lean) { /* at the optimum, and staying */
            m->target = opt;
            m->thr_target = thr_opt;
        }
        return;
    }
    /* the first count from x toward the optimum within the band: the
     * throughput rises toward it, so the band's edge on x's side, from
     * the optimum back toward x, no further than one step from x */
    want = (1 - AFD_NEAR_BAND) * m->thr_target;
    c = afd_unimodal_edge(m->target, x + step, want, model_thr, m);
    if (step < 0 && afd_model_throughput(&m->in, m->barrier, x) < want) {
        /* a scale-in from above the band: to its lowest count instead
         * when that sheds a lean share of the nearest (a flat curve) */
        const int lo = afd_unimodal_edge(m->target, 1, want, model_thr, m);

        if (c - lo >= AFD_LEAN_SHARE * c)
            c = lo;
    }
    if (c != m->target) {
        m->target = c;
        m->thr_target = afd_model_throughput(&m->in, m->barrier, c);
    }
}

/*
 * Whether the forecast's count m->target, below x, runs faster in the
 * model than x now, with the old requests it would be handed: the tokens
 * in flight move with them, so the target's mean load per slot is the
 * forecast's plus the live excess times x / target, against x at the
 * live load. (Waiting until the live estimate came within 10% of the
 * forecast held 10 instances 130 s into the short-phases day's batch-512
 * phase, where 3 is best: 10 then 3 at 60 s reads 4% more there than at
 * 136 s, `bench-transition`; README.)
 */
static bool carry_pays(const struct afd_deployment *d,
                       const struct afd_model *m, int x)
{
    const double excess = d->live_theta - m->in.theta;
    struct afd_solve_input stay = m->in, go = m->in;

    if (!(excess > 0) || m->target < 1)
        return true;
    stay.theta = d->live_theta;
    go.theta = m->in.theta + excess * x / m->target;
    return afd_model_throughput(&go, m->barrier, m->target) >
           afd_model_throughput(&stay, m->barrier, x);
}

/*
 * A shift to requests far shorter than those in flight (forecast.c,
 * AFD_OLD_OUTLIVE), whose forecast sets theta: a scale-in goes no lower
 * than the count the live estimate asks for (the old requests are still
 * in the slots), then x holds until carrying what is left of them pays
 * (carry_pays), and is not raised again before the shift's end (the
 * handed-back requests raise the live loads while they are resumed).
 * Against sizing for the forecast at once, on the short-phases day's
 * hardware 4: the batch-512 phase 37 -> 9 -> 4 instead of 37 -> 4 -> 3
 * and five more moves as the old requests drained, 29.2 against 23.8
 * tokens/ms/device (the offline oracle, no old requests carried, 46.6).
 */
static void old_requests(struct afd_deployment *d, const struct live_view *v,
                         struct afd_model *m)
{
    struct afd_recommendation *rec = &d->rec;
    const int x = rec->attention_instances;
    const bool cut = d->old_seen && d->shift_cut && d->transient.active;
    bool hold = false;

    if (cut && rec->theta_source == AFD_THETA_FORECAST && m->target < x) {
        hold = !carry_pays(d, m, x); /* after our cut: on when it pays */
        if (hold)
            m->target = x;
    } else {
        if (d->old_outlive && rec->theta_source == AFD_THETA_FORECAST &&
            m->target < x) {
            struct afd_model live_m;
            char err[AFD_ERR_LEN];

            if (run_model_at(d, v, &m->profile, d->live_theta, d->live_spread,
                             &live_m, err) == 0 &&
                live_m.target > m->target) {
                m->target = live_m.target < x ? live_m.target : x;
                hold = true;
            }
        }
        if (cut &&
            (m->target > x || (rec->theta_source == AFD_THETA_FORECAST &&
                               afd_deployment_old_wait(d, d->live_theta)))) {
            m->target = x;
            hold = true;
        }
    }
    if (hold)
        m->thr_target = afd_model_throughput(&m->in, m->barrier, m->target);
    rec->old_requests = hold;
}

static void solve(struct afd_deployment *d, const struct live_view *v)
{
    struct afd_recommendation *rec = &d->rec;
    struct afd_model main_m, alt_m, *m = &main_m;
    struct afd_profile p = rec->profile, alt;
    char err[AFD_ERR_LEN];

    comm_observe(d);
    rec->comm_mode_identified = d->comm.identified;
    afd_comm_mode_apply(&d->comm, &p);
    afd_deployment_stage_noise(d, rec->computed_ms);
    if (run_model(d, v, &p, &main_m, err) < 0) {
        snprintf(rec->why_not, sizeof(rec->why_not), "solver: %.200s", err);
        return;
    }
    if (!d->comm.identified && !d->cfg.comm_mode_known) {
        /* The two comm modes agree here and part as x moves: when they
         * disagree on the count, take the one whose worse case is better. */
        afd_comm_mode_alternative(&p, rec->batch,
                                  rec->batch * rec->attention_instances /
                                      rec->ffn_instances,
                                  rec->calib.identified[AFD_COEF_AC] &&
                                      rec->calib.identified[AFD_COEF_BC],
                                  &alt);
        if (run_model(d, v, &alt, &alt_m, err) == 0 &&
            alt_m.target != main_m.target &&
            worst_loss(&main_m, &alt_m, alt_m.target) <
                worst_loss(&main_m, &alt_m, main_m.target)) {
            m = &alt_m;
            rec->comm_hedged = true;
        }
    }
    /* A forecast or an active transient implies a shift seen (forecast.c
     * starts the transient only where it sets shift_seen). */
    band_target(m, rec->attention_instances, d->shift_seen, d->unmoved);
    old_requests(d, v, m);
    rec->lean = m->lean && m->target < rec->attention_instances;
    rec->profile = m->profile;
    rec->solution = m->sol;
    rec->spread_measured = m->barrier && m->sol.spread_measured;
    rec->load_spread = m->barrier ? m->sol.barrier_spread : 0;
    rec->target_attention_instances = m->target;
    rec->throughput_current =
        afd_model_throughput(&m->in, m->barrier, rec->attention_instances);
    rec->throughput_target = m->thr_target;
    rec->expected_gain =
        rec->throughput_current > 0
            ? rec->throughput_target / rec->throughput_current - 1
            : 0;
    rec->theta_ci = rec->theta_source == AFD_THETA_FORECAST
                        ? d->forecast.rel_ci * (d->forecast.mean_residual + 1)
                    : rec->theta_source == AFD_THETA_LIVE_LOADS &&
                            v->n_load >= 2 && rec->batch > 0
                        ? 1.96 * v->sd_t / sqrt(v->n_load) / rec->batch
                        : 0;
    rec->gain_uncertainty = afd_gain_uncertainty(d, m, rec, rec->theta_ci);
    /* Live loads fluctuate for a request lifetime (each slot's request
     * turns over once): a move must outlast that. Only a measured
     * lifetime counts (finished requests), not young_ms's floor. */
    rec->theta_settle_ms = rec->theta_source == AFD_THETA_LIVE_LOADS &&
                                   rec->requests >= AFD_MIN_REQUESTS_FOR_THETA
                               ? d->young_ms
                               : 0;
    rec->current_regime = afd_regime_at(
        &m->in, (double)rec->attention_instances / rec->ffn_instances);
    rec->valid = true;
    rec->why_not[0] = '\0';
}

/*
 * How long the count and the workload have stood still (rec->stood_ms):
 * since x's last change or the last shift's transient start (the load
 * channel's, not the stage channels': with 5% per-step noise they fire
 * every second or two; the controller takes a hardware drift from its
 * profile-drift alert, plugin/daemon/control.c).
 */
static void stood(struct afd_deployment *d, int64_t now_ms)
{
    struct afd_recommendation *rec = &d->rec;
    int64_t since;

    rec->shifted = d->shift_seen;
    rec->lean_held = d->lean_x > 0 && d->lean_x == rec->attention_instances &&
                     d->transient_start_ms > d->lean_ms;
    /* x_changed_ms means something once a count has been seen */
    if (d->transient.active || rec->theta_source == AFD_THETA_FORECAST ||
        d->transient_last_x <= 0)
        return;
    since = d->x_changed_ms > d->transient_start_ms ? d->x_changed_ms
                                                    : d->transient_start_ms;
    rec->stood_ms = now_ms > since ? now_ms - since : 0;
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
    d->young_ms = young_ms(d, now_ms);
    live_view(d, now_ms - d->young_ms, &v);
    memset(rec, 0, sizeof(*rec));
    rec->computed_ms = now_ms;
    afd_calib_profile(d->calib, &rec->profile);
    afd_calib_report(d->calib, &rec->calib);
    afd_deployment_shift_report(d, rec);
    rec->attention_instances = afd_deployment_current_x(d);
    rec->attention_source = d->cfg.attention_instances > 0 ? "config"
                            : v.n > 0                      ? "telemetry"
                            : rec->attention_instances > 0 ? "planner"
                                                           : "";
    rec->ffn_instances = afd_deployment_current_y(d);
    if (gather(d, &v, now_ms))
        solve(d, &v);
    stood(d, now_ms);
    refit(d);
    d->counters.recomputes++;
    return rec;
}
