/*
 * control.c - per-deployment policy and alerts, evaluated on the controller
 * clock (contract in control.h).
 */
#include "plugin/daemon/control.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/alertmanager.h"

/* Control state of one deployment (hung on it, owned by the list here). */
struct afd_dep_control {
    struct afd_policy *policy;
    struct afd_alerts *alerts;
    int64_t last_now; /* latest now_ms given to policy/alerts */
    uint64_t evaluations;
    uint64_t policy_errors;
    uint64_t last_id;                       /* latest issued command id */
    struct afd_control_command last_issued; /* the command last_id names */
    int acked_target;     /* target of the last successful ack, 0 */
    bool external;        /* the Dynamo planner actuates: decisions advisory */
    double r_star;        /* ratio of the latest valid recommendation */
    int64_t leader_epoch; /* HA epoch of this evaluation, 0 without HA */
    bool decided;         /* the current evaluation made a decision */
    int64_t drift_ms;     /* a profile-drift alert last raised */
    bool has_band;        /* band: the latest decision's (control.h) */
    struct afd_control_band band;
    struct afd_control_command hist[AFD_CONTROL_HISTORY];
    size_t n_hist; /* valid entries */
    size_t head;   /* next write position */
    struct afd_dep_control *next;
};

struct afd_control {
    const struct afd_config *cfg;
    struct afd_registry *reg;
    bool telemetry;
    int64_t last_eval_wall_ms; /* wall clock: the latest full evaluation */
    bool evaluated;            /* last_eval_wall_ms is set */
    struct afd_control_sink sink;
    struct afd_alertmanager *am;
    struct afd_dep_control *list;
    bool (*leader)(void *arg, int64_t *epoch); /* HA gate, NULL: always */
    void *leader_arg;
};

static void on_boundary(struct afd_deployment *d, int64_t clock_ms, void *arg)
{
    afd_control_evaluate(arg, d, clock_ms);
}

struct afd_control *afd_control_new(const struct afd_config *cfg,
                                    struct afd_registry *reg, char *err)
{
    const struct afd_controller_config *k = &cfg->controller;
    struct afd_control *c;
    char why[AFD_ERR_LEN];

    c = calloc(1, sizeof(*c));
    if (!c) {
        afd_err(err, AFD_ENOMEM, "out of memory creating the controller");
        return NULL;
    }
    c->cfg = cfg;
    c->reg = reg;
    if (afd_policy_config_check(&k->policy, why) ||
        afd_alert_config_check(&cfg->alerting.rules, why)) {
        afd_err(err, AFD_EINVAL, "controller: %s", why);
        free(c);
        return NULL;
    }
    c->telemetry = !strcmp(k->clock, "telemetry");
    if (c->telemetry)
        afd_registry_set_telemetry_clock(
            reg, k->eval_interval_ms > 0 ? k->eval_interval_ms : 1000,
            on_boundary, c);
    return c;
}

void afd_control_free(struct afd_control *c)
{
    struct afd_dep_control *e, *next;
    size_t i;

    if (!c)
        return;
    /* Unhook first: the registry may outlive us briefly. */
    for (i = 0; i < afd_registry_count(c->reg); i++)
        afd_deployment_set_control(afd_registry_at(c->reg, i), NULL);
    for (e = c->list; e; e = next) {
        next = e->next;
        afd_policy_free(e->policy);
        afd_alert_free(e->alerts);
        free(e);
    }
    free(c);
}

void afd_control_set_sink(struct afd_control *c,
                          const struct afd_control_sink *sink)
{
    if (sink)
        c->sink = *sink;
    else
        memset(&c->sink, 0, sizeof(c->sink));
}

void afd_control_set_alertmanager(struct afd_control *c,
                                  struct afd_alertmanager *am)
{
    c->am = am;
}

struct afd_alertmanager *afd_control_alertmanager(const struct afd_control *c)
{
    return c->am;
}

bool afd_control_telemetry_clock(const struct afd_control *c)
{
    return c->telemetry;
}

static struct afd_dep_control *state(struct afd_control *c,
                                     struct afd_deployment *d);

bool afd_control_advisory(const struct afd_control *c)
{
    return c->cfg->controller.policy.advisory;
}

bool afd_control_external(struct afd_control *c, struct afd_deployment *d)
{
    struct afd_dep_control *e = state(c, d);

    return e && e->external;
}

int afd_control_eval_interval_ms(const struct afd_control *c)
{
    return c->cfg->controller.eval_interval_ms > 0
               ? c->cfg->controller.eval_interval_ms
               : 1000;
}

/* The alerts of d: the off-balance alert waits as long as the policy needs
 * to decide, actuate (at worst the ack timeout) and cool down. */
static struct afd_alerts *new_alerts(struct afd_control *c,
                                     struct afd_deployment *d, char *why)
{
    const struct afd_policy_config *p = &c->cfg->controller.policy;
    struct afd_alert_config ac = c->cfg->alerting.rules;

    ac.warmup_ms = 2 * ac.debounce_ms;
    ac.act_ms = p->dwell_ms + p->ack_timeout_ms + p->cooldown_ms;
    if (ac.act_ms > AFD_ALERT_DURATION_MAX)
        ac.act_ms = AFD_ALERT_DURATION_MAX;
    return afd_alert_new(afd_deployment_name(d), &ac, why);
}

/* The state of d, created on first use; NULL when out of memory. */
static struct afd_dep_control *state(struct afd_control *c,
                                     struct afd_deployment *d)
{
    struct afd_dep_control *e = afd_deployment_control(d);
    struct afd_policy_config pc;
    char why[AFD_ERR_LEN];

    if (e)
        return e;
    e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    pc = c->cfg->controller.policy;
    /* One actuator per deployment: where the Dynamo planner applies our
     * Propose answers, WatchCommands only reports (config_dynamo.h). */
    e->external =
        afd_config_dynamo_drives(&c->cfg->dynamo, afd_deployment_name(d));
    if (e->external)
        pc.advisory = true;
    e->policy = afd_policy_new(afd_deployment_name(d), &pc, why);
    e->alerts = new_alerts(c, d, why);
    if (!e->policy || !e->alerts) {
        afd_policy_free(e->policy);
        afd_alert_free(e->alerts);
        free(e);
        return NULL;
    }
    e->r_star = NAN;
    e->next = c->list;
    c->list = e;
    afd_deployment_set_control(d, e);
    return e;
}

int64_t afd_control_now_ms(struct afd_control *c, struct afd_deployment *d,
                           int64_t wall_ms)
{
    struct afd_dep_control *e = afd_deployment_control(d);

    if (c->telemetry)
        return afd_deployment_clock_ms(d);
    if (wall_ms < 0)
        wall_ms = 0;
    return e && wall_ms < e->last_now ? e->last_now : wall_ms;
}

static void remember(struct afd_dep_control *e,
                     const struct afd_control_command *cc)
{
    e->hist[e->head] = *cc;
    e->head = (e->head + 1) % AFD_CONTROL_HISTORY;
    if (e->n_hist < AFD_CONTROL_HISTORY)
        e->n_hist++;
}

static void step_policy(struct afd_control *c, struct afd_dep_control *e,
                        struct afd_deployment *d,
                        const struct afd_recommendation *rec, int64_t now)
{
    struct afd_policy_input in;
    struct afd_control_command cc;
    enum afd_decision dec = AFD_DECISION_NONE;
    const struct afd_solution *s = &rec->solution;
    char why[AFD_ERR_LEN];

    if (!rec->valid) {
        if (afd_policy_expire(e->policy, now, why))
            e->policy_errors++;
        return;
    }
    memset(&in, 0, sizeof(in));
    in.attention = rec->attention_instances;
    in.ffn = rec->ffn_instances;
    in.target = rec->target_attention_instances;
    in.barrier = s->has_barrier;
    in.tput_current = rec->throughput_current;
    in.tput_target = rec->throughput_target;
    in.gain_uncertainty = rec->gain_uncertainty;
    in.confident = rec->theta_confident;
    in.min_dwell_ms = rec->theta_settle_ms;
    in.lean = rec->lean;
    in.old_requests = rec->old_requests;
    in.shifted = rec->shifted;
    in.lean_held = rec->lean_held;
    in.refit = rec->refit;
    /* A profile drift raised: the hardware moved under a still count,
     * which is not settled then (its resolve, the calibration re-fitted,
     * is no news about the hardware). */
    in.stood_ms = rec->stood_ms;
    if (e->drift_ms > 0 && now - e->drift_ms < in.stood_ms)
        in.stood_ms = now - e->drift_ms;
    /* The stage binding now explains the move (attention-bound: add
     * Attention instances; FFN-bound: remove some); the regime at r* is
     * the balance point and says nothing about direction. */
    in.regime = rec->current_regime;
    in.r_star = s->has_barrier ? s->r_star_barrier : s->r_star;
    memset(&cc, 0, sizeof(cc));
    if (afd_policy_step(e->policy, &in, now, &dec, &cc.cmd, why)) {
        e->policy_errors++;
        return;
    }
    if (dec == AFD_DECISION_NONE)
        return;
    /* The count asked for, not the estimate's latest lean target: that
     * one moves by an instance or two while the fleet shrinks to it. */
    if (cc.cmd.lean)
        afd_deployment_note_lean(d, cc.cmd.target);
    afd_deployment_note_command(d, now);
    cc.r_star = s->r_star;
    cc.r_star_barrier = s->has_barrier ? s->r_star_barrier : 0;
    cc.advisory = dec == AFD_DECISION_ADVISORY;
    cc.leader_epoch = e->leader_epoch;
    if (!cc.advisory) {
        e->last_id = cc.cmd.id;
        e->last_issued = cc;
    }
    remember(e, &cc);
    e->decided = true;
    if (c->sink.command)
        c->sink.command(&cc, c->sink.arg);
}

static void emit_alerts(struct afd_control *c, struct afd_dep_control *e,
                        const struct afd_alert_events *evs, int64_t now)
{
    char why[AFD_ERR_LEN];
    size_t i;

    for (i = 0; i < evs->n; i++) {
        if (evs->ev[i].kind == AFD_ALERT_PROFILE_DRIFT &&
            evs->ev[i].action == AFD_ALERT_RAISED)
            e->drift_ms = now;
        if (c->sink.alert)
            c->sink.alert(&evs->ev[i], e->r_star, c->sink.arg);
        /* A full firing table or a bad event is counted by the module. */
        if (c->am)
            afd_alertmanager_post(c->am, &evs->ev[i], e->r_star, why);
    }
}

/* The drift alert's view of each stage: the calibration's model with its
 * covariance and what it measured lately (estimator/calib.h). */
static void stage_inputs(struct afd_deployment *d, struct afd_alert_input *in)
{
    struct afd_calib_fit f[AFD_REGIME_COUNT];
    int st;

    afd_calib_fits(afd_deployment_calib(d), f);
    for (st = 0; st < AFD_REGIME_COUNT; st++)
        afd_alert_stage_from_fit(&f[st], &in->stage[st]);
}

/*
 * The alert margin widened by the calibration's uncertainty at r*
 * (controller/alert.h, afd_alert_band_margin): the stages binding the
 * optimum, at their loads there.
 */
static double band_margin(struct afd_control *c, struct afd_deployment *d,
                          const struct afd_recommendation *rec,
                          enum afd_regime sizing, double r_star)
{
    struct afd_calib_fit f[AFD_REGIME_COUNT];
    double u, n = r_star * rec->batch;

    afd_calib_fits(afd_deployment_calib(d), f);
    u = afd_alert_model_rel_hw(&f[AFD_REGIME_FFN], n);
    if (sizing == AFD_REGIME_ATTENTION) {
        u = fmax(u, afd_alert_model_rel_hw(&f[AFD_REGIME_ATTENTION],
                                           rec->batch * rec->theta));
    } else if (sizing == AFD_REGIME_COMMUNICATION) {
        u = fmax(u, afd_alert_model_rel_hw(&f[AFD_REGIME_COMMUNICATION],
                                           rec->profile.comm_mode ==
                                                   AFD_COMM_PER_INSTANCE
                                               ? rec->batch
                                               : n));
    }
    return afd_alert_band_margin(c->cfg->alerting.rules.margin, u);
}

static void eval_alerts(struct afd_control *c, struct afd_dep_control *e,
                        struct afd_deployment *d,
                        const struct afd_recommendation *rec, int64_t now)
{
    struct afd_alert_input in;
    struct afd_alert_events evs;
    struct afd_solve_input si;
    double best, at, devices, margin;
    char why[AFD_ERR_LEN];

    if (e->decided) /* the band of this decision, set below when known */
        e->has_band = false;
    if (!rec->valid)
        return;
    /* The model's own view, not the measured bottleneck: at the optimum the
     * measured stages tie by design, so an argmax of them flaps on noise. */
    afd_solve_input_init(&si, &rec->profile, rec->batch, rec->theta);
    si.ffn_instances = rec->ffn_instances;
    memset(&in, 0, sizeof(in));
    in.r_star = rec->solution.r_star;
    in.ratio = (double)rec->attention_instances / rec->ffn_instances;
    in.sizing = afd_sizing_regime(&si, in.r_star);
    in.ffn_split_unknown = !rec->calib.identified[AFD_COEF_AF] ||
                           !rec->calib.identified[AFD_COEF_BF];
    margin = band_margin(c, d, rec, in.sizing, in.r_star);
    in.predicted = rec->current_regime;
    best = rec->throughput_target;
    at = rec->throughput_current;
    if (rec->solution.has_barrier) {
        /* The controller aims at the barrier-aware x: the band must be
         * around the same target, in the same model. */
        si.has_sigma = rec->has_sigma;
        si.sigma = rec->sigma;
        si.has_load_spread = rec->spread_measured;
        si.load_spread = rec->load_spread;
        memcpy(si.stage_cv, rec->stage_cv, sizeof(si.stage_cv));
        in.r_star = rec->solution.r_star_barrier;
        if (afd_balanced_band_barrier(&si,
                                      rec->solution.attention_instances_barrier,
                                      margin, &in.band_lo, &in.band_hi, why))
            return;
    } else {
        afd_balanced_band(&si, in.r_star, margin, &in.band_lo, &in.band_hi);
    }
    if (e->decided) {
        e->band = (struct afd_control_band){in.band_lo, in.band_hi, in.r_star,
                                            margin, rec->ffn_instances};
        e->has_band = true;
    }
    /* A count held above the band for the old requests still in flight
     * (recommend.c, old_requests) is our own decision, not a sizing to
     * alert on: inside the band while held. */
    if (rec->old_requests && in.ratio > in.band_hi)
        in.band_hi = in.ratio;
    devices = rec->attention_instances + rec->ffn_instances;
    in.loss = best > 0 ? fmax(0, 1 - at / best) : 0;
    in.lost_per_device = fmax(0, best - at) * 1000; /* tokens/ms -> /s */
    in.lost_tokens_per_s = in.lost_per_device * devices;
    stage_inputs(d, &in);
    if (afd_alert_eval(e->alerts, &in, now, &evs, why) == AFD_OK)
        emit_alerts(c, e, &evs, now);
}

int afd_control_evaluate(struct afd_control *c, struct afd_deployment *d,
                         int64_t now_ms)
{
    struct afd_dep_control *e = state(c, d);
    const struct afd_recommendation *rec;
    int64_t epoch = 0;

    if (!e)
        return AFD_ENOMEM;
    if (now_ms < e->last_now)
        now_ms = e->last_now;
    rec = afd_deployment_recompute(d, now_ms);
    /* A follower keeps its reads current and decides nothing: the
     * leader's decisions reach it through the replicated state. */
    if (c->leader && !c->leader(c->leader_arg, &epoch))
        return AFD_OK;
    e->leader_epoch = epoch;
    e->last_now = now_ms;
    e->evaluations++;
    e->decided = false;
    if (rec->valid)
        e->r_star = rec->solution.has_barrier ? rec->solution.r_star_barrier
                                              : rec->solution.r_star;
    step_policy(c, e, d, rec, now_ms);
    eval_alerts(c, e, d, rec, now_ms);
    return AFD_OK;
}

void afd_control_tick(struct afd_control *c, int64_t wall_ms)
{
    bool full;
    size_t i;

    if (c->telemetry)
        return;
    full = !c->evaluated ||
           wall_ms - c->last_eval_wall_ms >= afd_control_eval_interval_ms(c);
    if (full) {
        c->evaluated = true;
        c->last_eval_wall_ms = wall_ms;
    }
    for (i = 0; i < afd_registry_count(c->reg); i++) {
        struct afd_deployment *d = afd_registry_at(c->reg, i);
        int64_t now = afd_control_now_ms(c, d, wall_ms);

        if (full)
            afd_control_evaluate(c, d, now);
        else
            afd_deployment_recompute(d, now);
    }
}

int afd_control_tick_interval_ms(const struct afd_control *c)
{
    int eval = afd_control_eval_interval_ms(c);
    int rec = c->cfg->recompute_interval_ms;

    return rec > 0 && rec < eval ? rec : eval;
}

int afd_control_ack(struct afd_control *c, struct afd_deployment *d,
                    uint64_t id, bool success, const char *detail,
                    int64_t wall_ms, char *err)
{
    struct afd_dep_control *e;
    int64_t now;
    int rc;

    if (id == 0)
        return afd_err(err, AFD_EINVAL, "command_id must be > 0");
    e = afd_deployment_control(d);
    if (!e || id > e->last_id)
        return afd_err(err, AFD_ENOTFOUND,
                       "deployment '%s' never issued command %llu",
                       afd_deployment_name(d), (unsigned long long)id);
    now = afd_control_now_ms(c, d, wall_ms);
    /* A restored policy may have seen later times than this replica's
     * telemetry clock (HA takeover, restart): never ask it to go back. */
    if (now < e->last_now)
        now = e->last_now;
    rc = afd_policy_ack(e->policy, id, success, detail, now, err);
    if (rc == AFD_OK) {
        e->last_now = now;
        if (success && id == e->last_issued.cmd.id) {
            const struct afd_command *cmd = &e->last_issued.cmd;

            e->acked_target = cmd->target;
            /* The removed instances' requests are handed back now, not
             * when their rows expire (the forecast's ledger, slots.c). */
            afd_deployment_note_release(d, cmd->current - cmd->target);
        }
    } else if (rc == AFD_EINVAL) {
        e->policy_errors++;
    }
    return rc;
}

bool afd_control_in_flight(struct afd_control *c, struct afd_deployment *d,
                           struct afd_control_command *out)
{
    struct afd_dep_control *e = afd_deployment_control(d);
    struct afd_policy_status st;

    if (!e)
        return false;
    afd_policy_status(e->policy, e->last_now, &st);
    if (!st.has_pending || st.pending.id != e->last_issued.cmd.id)
        return false;
    *out = e->last_issued;
    return true;
}

uint64_t afd_control_last_command_id(struct afd_control *c,
                                     struct afd_deployment *d)
{
    struct afd_dep_control *e = afd_deployment_control(d);

    return e ? e->last_id : 0;
}

int afd_control_keda_target(struct afd_control *c, struct afd_deployment *d,
                            const struct afd_recommendation *rec)
{
    struct afd_dep_control *e = afd_deployment_control(d);
    struct afd_control_command cc;
    int current = rec->attention_instances > 0 ? rec->attention_instances : 0;

    if (c->cfg->controller.policy.advisory || (e && e->external))
        return rec->valid ? rec->target_attention_instances : current;
    if (afd_control_in_flight(c, d, &cc))
        return cc.cmd.target;
    if (e && e->acked_target > 0)
        return e->acked_target;
    return current;
}

void afd_control_foreach_firing(struct afd_control *c, struct afd_deployment *d,
                                void (*fn)(const struct afd_alert_event *ev,
                                           double r_star, void *arg),
                                void *arg)
{
    struct afd_dep_control *e = afd_deployment_control(d);
    struct afd_alert_status st;
    int k;

    if (!e)
        return;
    afd_alert_status(e->alerts, &st);
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++)
        if (st.kind[k].firing)
            fn(&st.kind[k].active, e->r_star, arg);
}

bool afd_control_status(struct afd_control *c, struct afd_deployment *d,
                        struct afd_control_status *out)
{
    struct afd_dep_control *e = afd_deployment_control(d);

    memset(out, 0, sizeof(*out));
    if (!e)
        return false;
    afd_policy_status(e->policy, e->last_now, &out->policy);
    afd_alert_status(e->alerts, &out->alerts);
    out->clock_ms = afd_control_now_ms(c, d, e->last_now);
    out->last_command_id = e->last_id;
    out->evaluations = e->evaluations;
    out->policy_errors = e->policy_errors;
    return true;
}

size_t afd_control_history(struct afd_control *c, struct afd_deployment *d,
                           struct afd_control_command *out, size_t cap)
{
    struct afd_dep_control *e = afd_deployment_control(d);
    size_t i, n, first;

    if (!e)
        return 0;
    n = e->n_hist < cap ? e->n_hist : cap;
    /* The newest n, oldest first. */
    first = (e->head + AFD_CONTROL_HISTORY - n) % AFD_CONTROL_HISTORY;
    for (i = 0; i < n; i++)
        out[i] = e->hist[(first + i) % AFD_CONTROL_HISTORY];
    return n;
}

bool afd_control_export(struct afd_deployment *d, struct afd_control_saved *out)
{
    struct afd_dep_control *e = afd_deployment_control(d);

    memset(out, 0, sizeof(*out));
    if (!e)
        return false;
    afd_policy_export(e->policy, &out->policy);
    out->has_issued = e->last_id > 0;
    if (out->has_issued)
        out->last_issued = e->last_issued;
    out->acked_target = e->acked_target;
    return true;
}

int afd_control_saved_check(const struct afd_control_saved *s, char *err)
{
    const struct afd_command *last = &s->last_issued.cmd;

    if (s->has_issued && (last->id == 0 || last->id >= s->policy.next_id))
        return afd_err(err, AFD_EINVAL,
                       "last command %llu is not below next id %llu",
                       (unsigned long long)last->id,
                       (unsigned long long)s->policy.next_id);
    if (s->acked_target < 0 || s->acked_target > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL, "acked target %d outside [0, %d]",
                       s->acked_target, AFD_POLICY_COUNT_MAX);
    return AFD_OK;
}

int afd_control_import(struct afd_control *c, struct afd_deployment *d,
                       const struct afd_control_saved *s, char *err)
{
    struct afd_dep_control *e;
    const struct afd_command *last = &s->last_issued.cmd;
    char why[AFD_ERR_LEN];
    int rc;

    if (afd_control_saved_check(s, why))
        return afd_err(err, AFD_EINVAL, "saved control state of '%s': %s",
                       afd_deployment_name(d), why);
    if (!(e = state(c, d)))
        return afd_err(err, AFD_ENOMEM, "out of memory for '%s' control state",
                       afd_deployment_name(d));
    if ((rc = afd_policy_import(e->policy, &s->policy, err)))
        return rc;
    if (s->has_issued && last->id >= e->last_id) {
        e->last_id = last->id;
        e->last_issued = s->last_issued;
        snprintf(e->last_issued.cmd.deployment,
                 sizeof(e->last_issued.cmd.deployment), "%s",
                 afd_deployment_name(d));
    }
    e->acked_target = s->acked_target;
    if (s->policy.last_now > e->last_now)
        e->last_now = s->policy.last_now;
    return AFD_OK;
}

void afd_control_set_leader_gate(struct afd_control *c,
                                 bool (*leader)(void *arg, int64_t *epoch),
                                 void *arg)
{
    c->leader = leader;
    c->leader_arg = arg;
}

bool afd_control_band(struct afd_control *c, struct afd_deployment *d,
                      struct afd_control_band *out)
{
    struct afd_dep_control *e = afd_deployment_control(d);

    (void)c;
    if (!e || !e->has_band)
        return false;
    *out = e->band;
    return true;
}
