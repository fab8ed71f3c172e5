/*
 * alert.c - regime alert state machines (semantics in alert.h).
 *
 * One generic machine (struct machine) knows only "active", a key and the
 * two debounce periods; the kinds decide what active and key mean and
 * write the words. Keeping the timing in one place keeps the kinds'
 * debounce identical.
 */
#include "controller/alert.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

struct machine {
    bool pending;        /* a condition is debouncing */
    int pend_key;        /* its key */
    int64_t pend_since;  /* ms, when it was first seen */
    bool firing;         /* an alert is raised (firing or resolving) */
    int fire_key;        /* its key */
    bool clearing;       /* its condition is clear, resolve running */
    int64_t clear_since; /* ms, when it became clear */
    struct afd_alert_event active; /* the RAISED event of the alert */
    struct afd_alert_counters counters;
};

struct afd_alerts {
    char deployment[AFD_DEPLOYMENT_LEN];
    struct afd_alert_config cfg;
    int64_t last_now;           /* latest accepted now_ms */
    bool has_stable;            /* stable and observed are set */
    enum afd_regime stable;     /* last stable observed regime */
    enum afd_regime observed;   /* latest sizing regime */
    enum afd_position position; /* latest operating position */
    int64_t first_ms;           /* ms, the first accepted evaluation */
    bool has_ratio;             /* last_ratio is set */
    double last_ratio;          /* x / y at the previous evaluation */
    struct machine m[AFD_ALERT_KIND_COUNT];
    /* Drift: per stage, the model the measurements are compared with. */
    bool has_ref[AFD_REGIME_COUNT];
    bool settling[AFD_REGIME_COUNT]; /* re-learning after a load move */
    struct afd_alert_stage ref[AFD_REGIME_COUNT];
    uint64_t invalid_inputs;
};

/* machine_step() results, a bit mask. */
#define SM_SUPERSEDE 1 /* the firing alert is replaced by a new key */
#define SM_RESOLVE   2 /* the firing alert stayed clear for resolve_ms */
#define SM_RAISE     4 /* the pending condition held for debounce_ms */

void afd_alert_config_init(struct afd_alert_config *cfg)
{
    assert(cfg);
    cfg->debounce_ms = 60000; /* several telemetry windows */
    cfg->resolve_ms = 300000; /* do not resolve on one good window */
    cfg->warmup_ms = 0;       /* the daemon sets it */
    cfg->act_ms = 0;          /* the daemon sets it from its policy */
    cfg->margin = 0.05;       /* balanced: within 5% of the best f */
    cfg->drift = 0.10;        /* a 10% slower stage is worth a look */
}

static int check_duration(const char *name, int64_t v, char *err)
{
    if (v < 0 || v > AFD_ALERT_DURATION_MAX)
        return afd_err(err, AFD_EINVAL,
                       "alert field '%s' must be in [0, %d] ms, got %" PRId64,
                       name, AFD_ALERT_DURATION_MAX, v);
    return AFD_OK;
}

int afd_alert_config_check(const struct afd_alert_config *cfg, char *err)
{
    int rc;

    if (!cfg)
        return afd_err(err, AFD_EINVAL, "alert config is null");
    if ((rc = check_duration("debounce_ms", cfg->debounce_ms, err)) ||
        (rc = check_duration("resolve_ms", cfg->resolve_ms, err)) ||
        (rc = check_duration("act_ms", cfg->act_ms, err)) ||
        (rc = check_duration("warmup_ms", cfg->warmup_ms, err)))
        return rc;
    if (!isfinite(cfg->margin) || cfg->margin < 0 || cfg->margin >= 1)
        return afd_err(err, AFD_EINVAL,
                       "alert field 'margin' must be in [0, 1), got %g",
                       cfg->margin);
    if (!isfinite(cfg->drift) || cfg->drift <= 0 || cfg->drift >= 1)
        return afd_err(err, AFD_EINVAL,
                       "alert field 'drift' must be in (0, 1), got %g",
                       cfg->drift);
    return AFD_OK;
}

const char *afd_alert_name(enum afd_alert_kind k)
{
    switch (k) {
    case AFD_ALERT_SIZING_CHANGED:
        return "AfdSizingRegimeChanged";
    case AFD_ALERT_OFF_BALANCE:
        return "AfdOutsideBalancedBand";
    case AFD_ALERT_PROFILE_DRIFT:
        return "AfdProfileDrift";
    }
    return "AfdUnknown";
}

const char *afd_alert_severity(enum afd_alert_kind k)
{
    return k == AFD_ALERT_OFF_BALANCE ? "critical" : "warning";
}

const char *afd_alert_runbook(enum afd_alert_kind k)
{
    switch (k) {
    case AFD_ALERT_SIZING_CHANGED:
        return "re-plan capacity: the binding term changed, so the hardware "
               "mix to buy changed (check a model, batch or interconnect "
               "change)";
    case AFD_ALERT_OFF_BALANCE:
        return "scale Attention to the recommended x: check the scaler is "
               "not stuck, advisory mode is intended and min/max bounds "
               "allow it";
    case AFD_ALERT_PROFILE_DRIFT:
        return "check what changed under the drifted stage (throttling, a "
               "degraded link, a new kernel or model build); the "
               "calibration re-fits, recommendations lag until it resolves";
    }
    return "";
}

const char *afd_alert_state_name(enum afd_alert_state s)
{
    switch (s) {
    case AFD_ALERT_OK:
        return "ok";
    case AFD_ALERT_PENDING:
        return "pending";
    case AFD_ALERT_FIRING:
        return "firing";
    case AFD_ALERT_RESOLVING:
        return "resolving";
    }
    return "unknown";
}

struct afd_alerts *afd_alert_new(const char *deployment,
                                 const struct afd_alert_config *cfg, char *err)
{
    struct afd_alerts *a;
    size_t len;

    if (!deployment || !deployment[0]) {
        afd_err(err, AFD_EINVAL, "alert deployment name is empty");
        return NULL;
    }
    len = strlen(deployment);
    if (len >= AFD_DEPLOYMENT_LEN) {
        afd_err(err, AFD_EINVAL,
                "alert deployment name is %zu bytes, the limit is %d", len,
                AFD_DEPLOYMENT_LEN - 1);
        return NULL;
    }
    if (afd_alert_config_check(cfg, err))
        return NULL;
    a = calloc(1, sizeof(*a));
    if (!a) {
        afd_err(err, AFD_ENOMEM, "out of memory creating the alerts of '%s'",
                deployment);
        return NULL;
    }
    memcpy(a->deployment, deployment, len + 1);
    a->cfg = *cfg;
    return a;
}

void afd_alert_free(struct afd_alerts *a)
{
    free(a);
}

/*
 * Advances one machine by one evaluation (transitions in alert.h) and
 * returns which events the caller must emit. m->active is left as it was,
 * so the caller can still resolve the old alert before raising a new one.
 */
static int machine_step(struct machine *m, const struct afd_alert_config *c,
                        int64_t debounce, bool active, int key, int64_t now)
{
    bool same = m->firing && active && key == m->fire_key;
    int ev = 0;

    if (m->firing && !active) {
        if (!m->clearing) {
            m->clearing = true;
            m->clear_since = now;
        }
        if (now - m->clear_since >= c->resolve_ms) {
            m->firing = false;
            m->clearing = false;
            ev |= SM_RESOLVE;
        }
    } else if (m->firing) {
        /* Its own condition, or a different one: either way not clear. */
        m->clearing = false;
    }
    if (!active || same) {
        if (m->pending)
            m->counters.flaps++;
        m->pending = false;
        return ev;
    }
    if (!m->pending || m->pend_key != key) {
        if (m->pending)
            m->counters.flaps++;
        m->pending = true;
        m->pend_key = key;
        m->pend_since = now;
        m->counters.pending++;
    }
    if (now - m->pend_since >= debounce) {
        if (m->firing)
            ev |= SM_SUPERSEDE;
        m->pending = false;
        m->firing = true;
        m->fire_key = key;
        m->clearing = false;
        ev |= SM_RAISE;
    }
    return ev;
}

static struct afd_alert_event *next_event(struct afd_alert_events *out)
{
    /* Bounded by AFD_ALERT_MAX_EVENTS by construction (see alert.h). */
    assert(out->n < AFD_ALERT_MAX_EVENTS);
    return &out->ev[out->n++];
}

static void emit_resolved(struct machine *m, int64_t now,
                          struct afd_alert_events *out, bool superseded,
                          const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Emits the RESOLVED twin of m->active with a new explanation. */
static void emit_resolved(struct machine *m, int64_t now,
                          struct afd_alert_events *out, bool superseded,
                          const char *fmt, ...)
{
    struct afd_alert_event *e = next_event(out);
    va_list ap;

    *e = m->active;
    e->action = AFD_ALERT_RESOLVED;
    e->end_ms = now;
    va_start(ap, fmt);
    vsnprintf(e->explanation, sizeof(e->explanation), fmt, ap);
    va_end(ap);
    m->counters.resolved++;
    if (superseded)
        m->counters.superseded++;
}

/* Fills m->active as a fresh alert (explanation left to the caller). */
static struct afd_alert_event *raise_alert(struct afd_alerts *a,
                                           enum afd_alert_kind k,
                                           const struct afd_alert_input *in,
                                           enum afd_regime previous)
{
    struct machine *m = &a->m[k];
    struct afd_alert_event *e = &m->active;

    memset(e, 0, sizeof(*e));
    e->kind = k;
    e->action = AFD_ALERT_RAISED;
    e->alertname = afd_alert_name(k);
    memcpy(e->deployment, a->deployment, sizeof(e->deployment));
    e->regime = in->sizing;
    e->previous = previous;
    e->predicted = in->predicted;
    e->ratio = in->ratio;
    e->r_star = in->r_star;
    e->band_lo = in->band_lo;
    e->band_hi = in->band_hi;
    e->loss = in->loss;
    e->lost_per_device = in->lost_per_device;
    e->lost_tokens_per_s = in->lost_tokens_per_s;
    e->start_ms = m->pend_since;
    m->counters.raised++;
    return e;
}

#define CI_Z 1.96 /* two-sided 95% normal quantile */

static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

static void eval_changed(struct afd_alerts *a, const struct afd_alert_input *in,
                         int64_t now, struct afd_alert_events *out)
{
    struct machine *m = &a->m[AFD_ALERT_SIZING_CHANGED];
    enum afd_regime obs = in->sizing;
    struct afd_alert_event *e;
    int ev;
    bool known;

    /* A move to or from the FFN peak hinges on the split of the FFN line
     * (r_peak = sqrt(bF / (aF B))): unidentified, the split is a guess. */
    known = !in->ffn_split_unknown ||
            (obs != AFD_REGIME_FFN && a->stable != AFD_REGIME_FFN);
    ev = machine_step(m, &a->cfg, a->cfg.debounce_ms, obs != a->stable && known,
                      (int)obs, now);
    if (ev & SM_SUPERSEDE)
        emit_resolved(m, now, out, true,
                      "superseded: the optimum is now set by the %s term",
                      afd_regime_name(obs));
    if (ev & SM_RESOLVE)
        emit_resolved(m, now, out, false,
                      "the %s term has set the optimum for %g s since the "
                      "move from %s",
                      afd_regime_name(a->stable), seconds(now - m->clear_since),
                      afd_regime_name(m->active.previous));
    if (!(ev & SM_RAISE))
        return;
    e = raise_alert(a, AFD_ALERT_SIZING_CHANGED, in, a->stable);
    snprintf(e->explanation, sizeof(e->explanation),
             "the optimum r* = %.2f is now set by the %s term (was %s) for "
             "%g s: what to buy changed; re-plan the Attention/FFN mix",
             in->r_star, afd_regime_name(obs), afd_regime_name(a->stable),
             seconds(now - e->start_ms));
    *next_event(out) = *e;
    /* The new regime is now the stable one, so the alert is clear from
     * this instant and resolves after resolve_ms (a notification). */
    a->stable = obs;
    if (machine_step(m, &a->cfg, a->cfg.debounce_ms, false, (int)obs, now) &
        SM_RESOLVE)
        emit_resolved(m, now, out, false,
                      "the %s term sets the optimum (resolve_ms is 0)",
                      afd_regime_name(obs));
}

/* Position key: 0 under-provisioned (attention-bound side), 1 over. */
static const char *position_name(int key)
{
    return key ? "over-provisioned (ffn-bound side)"
               : "under-provisioned (attention-bound side)";
}

static void eval_off_balance(struct afd_alerts *a,
                             const struct afd_alert_input *in,
                             enum afd_regime stable_before, int64_t now,
                             struct afd_alert_events *out)
{
    struct machine *m = &a->m[AFD_ALERT_OFF_BALANCE];
    bool under = in->ratio<in->band_lo, over = in->ratio> in->band_hi;
    int key = over ? 1 : 0;
    struct afd_alert_event *e;
    int ev;

    a->position = under  ? AFD_POSITION_UNDER
                  : over ? AFD_POSITION_OVER
                         : AFD_POSITION_BALANCED;
    /* A step toward the band is the controller acting: wait again. */
    if (m->pending && a->has_ratio &&
        ((under && in->ratio > a->last_ratio) ||
         (over && in->ratio < a->last_ratio)))
        m->pend_since = now;
    a->has_ratio = true;
    a->last_ratio = in->ratio;
    ev = machine_step(m, &a->cfg,
                      a->cfg.act_ms > a->cfg.debounce_ms ? a->cfg.act_ms
                                                         : a->cfg.debounce_ms,
                      under || over, key, now);
    if (ev & SM_SUPERSEDE)
        emit_resolved(m, now, out, true, "superseded: now %s",
                      position_name(key));
    if (ev & SM_RESOLVE)
        emit_resolved(m, now, out, false,
                      "ratio %.2f has been inside the balanced band "
                      "[%.2f, %.2f] for %g s",
                      in->ratio, in->band_lo, in->band_hi,
                      seconds(now - m->clear_since));
    if (!(ev & SM_RAISE))
        return;
    e = raise_alert(a, AFD_ALERT_OFF_BALANCE, in, stable_before);
    e->regime = over ? AFD_REGIME_FFN : AFD_REGIME_ATTENTION;
    snprintf(e->explanation, sizeof(e->explanation),
             "%s for %g s: ratio %.2f outside the balanced band [%.2f, "
             "%.2f] (r* %.2f), losing %.1f%% = %.1f tokens/s per device, "
             "%.0f tokens/s in all; check scaling, advisory mode, bounds",
             position_name(key), seconds(now - e->start_ms), in->ratio,
             in->band_lo, in->band_hi, in->r_star, 100 * in->loss,
             in->lost_per_device, in->lost_tokens_per_s);
    *next_event(out) = *e;
}

void afd_alert_stage_from_fit(const struct afd_calib_fit *f,
                              struct afd_alert_stage *out)
{
    assert(f && out);
    memset(out, 0, sizeof(*out));
    out->valid = f->recent_n >= AFD_DRIFT_MIN_SAMPLES && f->sigma_ms >= 0;
    out->load = f->recent_load;
    out->measured_ms = f->recent_ms;
    out->measured_hw_ms = f->recent_hw_ms;
    out->a = f->a;
    out->b = f->b;
    memcpy(out->var, f->var, sizeof(out->var));
    out->identified = f->identified;
}

double afd_alert_band_margin(double margin, double u)
{
    if (!(u > 0)) /* NaN too */
        u = 0;
    if (u > AFD_BAND_U_MAX)
        u = AFD_BAND_U_MAX;
    return margin + u * (1 - margin); /* = 1 - (1 - margin)(1 - u) */
}

double afd_alert_model_rel_hw(const struct afd_calib_fit *f, double x)
{
    double t = f->a * x + f->b;
    double v = x * x * f->var[0] + 2 * x * f->var[1] + f->var[2];

    if (f->sigma_ms < 0 || !(t > 0) || !isfinite(v))
        return AFD_BAND_U_MAX;
    return fmin(AFD_BAND_U_MAX, CI_Z * sqrt(fmax(0.0, v)) / t);
}

/* Variance (ms^2) of the model's time at load x: u' V u, u = (x, 1). */
static double stage_var(const struct afd_alert_stage *f, double x)
{
    return fmax(0.0, x * x * f->var[0] + 2 * x * f->var[1] + f->var[2]);
}

static double stage_ms(const struct afd_alert_stage *f, double x)
{
    return f->a * x + f->b;
}

/* Best disagreement of this evaluation (drift). */
struct drift_pick {
    int stage;    /* -1: none */
    double score; /* |measured - model| / model */
    double model, hw;
};

/* The current calibration explains the recent measurements of f: within
 * half the drift threshold (not its half-width, which the residuals of a
 * re-fit inflate for a while). */
static bool drift_agrees(const struct afd_alerts *a,
                         const struct afd_alert_stage *f)
{
    double cur = stage_ms(f, f->load);

    return fabs(f->measured_ms - cur) <= a->cfg.drift / 2 * cur;
}

/*
 * One stage of the drift check (alert.h): re-bases the reference when it
 * may follow the calibration, else records the disagreement in *pick. A
 * stage settles (its reference follows the calibration, nothing is
 * compared) from the start, through the warm-up and after each load move,
 * until the calibration explains its measurements.
 */
static void drift_stage(struct afd_alerts *a, int st,
                        const struct afd_alert_stage *f, bool warm,
                        struct drift_pick *pick)
{
    struct machine *m = &a->m[AFD_ALERT_PROFILE_DRIFT];
    struct afd_alert_stage *ref = &a->ref[st];
    double model, hw, dev;

    if (warm || !a->has_ref[st] ||
        fabs(f->load - ref->load) > AFD_DRIFT_LOAD_TOL * ref->load)
        a->settling[st] = true;
    if (a->settling[st]) {
        a->settling[st] = !drift_agrees(a, f);
        goto rebase;
    }
    /* Caught up: the current calibration explains the measurements. */
    if (m->firing && m->fire_key / 2 == st && drift_agrees(a, f))
        goto rebase;
    model = stage_ms(ref, f->load);
    hw = CI_Z * sqrt(stage_var(ref, f->load)) + f->measured_hw_ms;
    dev = f->measured_ms - model;
    if (!(model > 0) || fabs(dev) <= hw || fabs(dev) <= a->cfg.drift * model)
        goto rebase;
    /* Disagrees: hold the reference (pending or firing) and report. */
    if (fabs(dev) / model > pick->score) {
        pick->stage = st;
        pick->score = fabs(dev) / model;
        pick->model = model;
        pick->hw = hw;
    }
    return;
rebase:
    *ref = *f;
    a->has_ref[st] = true;
}

static void eval_drift(struct afd_alerts *a, const struct afd_alert_input *in,
                       bool warm, int64_t now, struct afd_alert_events *out)
{
    struct machine *m = &a->m[AFD_ALERT_PROFILE_DRIFT];
    struct drift_pick pick = {-1, 0, 0, 0};
    const struct afd_alert_stage *f;
    struct afd_alert_event *e;
    int st, key = 0, ev;

    for (st = 0; st < AFD_REGIME_COUNT; st++)
        if (in->stage[st].valid)
            drift_stage(a, st, &in->stage[st], warm, &pick);
    if (pick.stage >= 0)
        key = 2 * pick.stage +
              (in->stage[pick.stage].measured_ms < pick.model ? 1 : 0);
    ev =
        machine_step(m, &a->cfg, a->cfg.debounce_ms, pick.stage >= 0, key, now);
    if (ev & SM_SUPERSEDE)
        emit_resolved(m, now, out, true, "superseded: now the %s stage",
                      afd_regime_name((enum afd_regime)pick.stage));
    if (ev & SM_RESOLVE)
        emit_resolved(m, now, out, false,
                      "the %s stage agrees with the calibrated model again "
                      "(re-fitted or the drift ended) for %g s",
                      afd_regime_name(m->active.regime),
                      seconds(now - m->clear_since));
    if (!(ev & SM_RAISE))
        return;
    f = &in->stage[pick.stage];
    e = raise_alert(a, AFD_ALERT_PROFILE_DRIFT, in, a->stable);
    e->regime = (enum afd_regime)pick.stage;
    e->loss = 0;
    e->lost_per_device = 0;
    e->lost_tokens_per_s = 0;
    e->drift_factor = f->measured_ms / pick.model;
    e->measured_ms = f->measured_ms;
    e->model_ms = pick.model;
    e->model_hw_ms = pick.hw;
    e->stage_load = f->load;
    snprintf(e->explanation, sizeof(e->explanation),
             "the %s stage takes %.2fx the calibrated model (%.3g ms "
             "measured, %.3g +- %.2g ms expected at %.0f tokens) for %g s: "
             "the hardware or software under it changed; the calibration "
             "is re-fitting",
             afd_regime_name(e->regime), e->drift_factor, e->measured_ms,
             e->model_ms, e->model_hw_ms, e->stage_load,
             seconds(now - e->start_ms));
    *next_event(out) = *e;
}

static int check_now(struct afd_alerts *a, int64_t now_ms, char *err)
{
    if (now_ms < 0 || now_ms > AFD_ALERT_TIME_MAX || now_ms < a->last_now) {
        a->invalid_inputs++;
        return afd_err(err, AFD_EINVAL,
                       "alerts of '%s': now_ms must be in [%" PRId64
                       ", %" PRId64 "] (never decreasing), got %" PRId64,
                       a->deployment, a->last_now, (int64_t)AFD_ALERT_TIME_MAX,
                       now_ms);
    }
    return AFD_OK;
}

static bool regime_ok(enum afd_regime r)
{
    return (int)r >= 0 && (int)r < AFD_REGIME_COUNT;
}

static int check_input(const struct afd_alert_input *in, char *err)
{
    int i;

    if (!in)
        return afd_err(err, AFD_EINVAL, "alert input is null");
    if (!regime_ok(in->sizing) || !regime_ok(in->predicted))
        return afd_err(err, AFD_EINVAL,
                       "alert input 'sizing' and 'predicted' must be 0..%d, "
                       "got %d and %d",
                       AFD_REGIME_COUNT - 1, (int)in->sizing,
                       (int)in->predicted);
    if (!isfinite(in->ratio) || in->ratio <= 0 || !isfinite(in->r_star) ||
        in->r_star <= 0)
        return afd_err(err, AFD_EINVAL,
                       "alert input 'ratio' and 'r_star' must be finite and "
                       "> 0, got %g and %g",
                       in->ratio, in->r_star);
    if (!isfinite(in->band_lo) || !isfinite(in->band_hi) ||
        !(in->band_lo <= in->r_star && in->r_star <= in->band_hi))
        return afd_err(err, AFD_EINVAL,
                       "alert input band [%g, %g] must be finite and hold "
                       "r_star %g",
                       in->band_lo, in->band_hi, in->r_star);
    if (!isfinite(in->loss) || !isfinite(in->lost_per_device) ||
        !isfinite(in->lost_tokens_per_s))
        return afd_err(err, AFD_EINVAL,
                       "alert input losses must be finite, got %g, %g, %g",
                       in->loss, in->lost_per_device, in->lost_tokens_per_s);
    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        const struct afd_alert_stage *f = &in->stage[i];

        if (f->valid &&
            !(isfinite(f->load) && f->load >= 0 && isfinite(f->measured_ms) &&
              isfinite(f->measured_hw_ms) && f->measured_hw_ms >= 0 &&
              isfinite(f->a) && isfinite(f->b) && isfinite(f->var[0]) &&
              isfinite(f->var[1]) && isfinite(f->var[2])))
            return afd_err(err, AFD_EINVAL,
                           "alert input stage %d (%s) must have finite "
                           "values, load and half-width >= 0",
                           i, afd_regime_name((enum afd_regime)i));
    }
    return AFD_OK;
}

int afd_alert_eval(struct afd_alerts *a, const struct afd_alert_input *in,
                   int64_t now_ms, struct afd_alert_events *out, char *err)
{
    enum afd_regime stable_before;
    bool warm;
    int rc;

    assert(a && out);
    out->n = 0;
    if ((rc = check_now(a, now_ms, err)))
        return rc;
    if ((rc = check_input(in, err))) {
        a->invalid_inputs++;
        return rc;
    }
    a->last_now = now_ms;
    a->observed = in->sizing;
    if (!a->has_stable) {
        /* Nothing to compare with yet: the first regime is the baseline. */
        a->has_stable = true;
        a->first_ms = now_ms;
    }
    warm = now_ms - a->first_ms < a->cfg.warmup_ms || a->first_ms == now_ms;
    if (warm)
        a->stable = in->sizing; /* still learning: no alert */
    stable_before = a->stable;
    eval_changed(a, in, now_ms, out);
    eval_off_balance(a, in, stable_before, now_ms, out);
    eval_drift(a, in, warm, now_ms, out);
    return AFD_OK;
}

int afd_alert_clear(struct afd_alerts *a, int64_t now_ms,
                    struct afd_alert_events *out, char *err)
{
    struct machine *m;
    int rc, k;

    assert(a && out);
    out->n = 0;
    if ((rc = check_now(a, now_ms, err)))
        return rc;
    a->last_now = now_ms;
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++) {
        m = &a->m[k];
        if (m->firing)
            emit_resolved(m, now_ms, out, false,
                          "cleared: the deployment is no longer watched");
        m->firing = false;
        m->clearing = false;
        m->pending = false;
    }
    return AFD_OK;
}

void afd_alert_status(const struct afd_alerts *a, struct afd_alert_status *out)
{
    const struct machine *m;
    struct afd_alert_kind_status *s;
    int k;

    assert(a && out);
    memset(out, 0, sizeof(*out));
    out->has_stable = a->has_stable;
    out->stable = a->stable;
    out->observed = a->observed;
    out->position = a->position;
    out->invalid_inputs = a->invalid_inputs;
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++) {
        m = &a->m[k];
        s = &out->kind[k];
        if (m->firing)
            s->state = m->clearing ? AFD_ALERT_RESOLVING : AFD_ALERT_FIRING;
        else
            s->state = m->pending ? AFD_ALERT_PENDING : AFD_ALERT_OK;
        s->state_name = afd_alert_state_name(s->state);
        s->firing = m->firing;
        if (m->firing)
            s->active = m->active;
        s->pending = m->pending;
        s->pending_since = m->pending ? m->pend_since : 0;
        s->counters = m->counters;
    }
}
