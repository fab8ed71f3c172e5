/*
 * policy.c - the per-deployment scaling decision (rules in policy.h).
 *
 * Deadlines are absolute now_ms values; "none" is 0 with a bool beside it
 * only where 0 could be a real time. Every reason string is written with
 * snprintf into a fixed buffer: long deployment names truncate, never
 * overflow.
 */
#include "controller/policy.h"

#include <assert.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

struct afd_policy {
    char deployment[AFD_DEPLOYMENT_LEN];
    struct afd_policy_config cfg;
    uint64_t next_id;    /* id of the next issued command, from 1 */
    int64_t last_now;    /* latest accepted now_ms, for monotonicity */
    bool dwelling;       /* a move in dwell_dir is wanted */
    int dwell_dir;       /* +1 up, -1 down */
    int64_t dwell_since; /* ms, when the wanted move was first seen */
    int64_t dwell_need;  /* ms, the dwell of the last input (dwell_of); set
                            whenever dwelling is */
    bool in_flight;      /* pending holds the unacked command */
    struct afd_command pending;
    int64_t cooldown_until; /* ms, no command before (0: none yet) */
    int64_t backoff_until;  /* ms, no command before (0: none yet) */
    bool has_last;
    struct afd_command last;
    char reason[AFD_REASON_LEN];
    char last_failure[AFD_REASON_LEN];
    struct afd_policy_counters counters;
};

void afd_policy_config_init(struct afd_policy_config *cfg)
{
    assert(cfg);
    memset(cfg, 0, sizeof(*cfg));
    cfg->gain_threshold = 0.02; /* 2 %: below typical model error */
    cfg->dwell_ms = 30000;      /* a few telemetry windows */
    cfg->cooldown_ms = 120000;  /* let new instances warm up */
    cfg->min_attention = 1;
    cfg->max_attention = 1024; /* AFD_DEFAULT_MAX_RATIO with y = 1 */
    cfg->max_step = 4;
    cfg->ack_timeout_ms = 60000; /* longer than a pod start-up */
    cfg->advisory = false;
    cfg->backoff_ms = 300000; /* a failed scale is rarely fixed sooner */
    cfg->settle_ms = 45000;
    cfg->settled_gain_threshold = 0.04;
}

static int check_duration(const char *name, int64_t v, int64_t min, char *err)
{
    if (v < min || v > AFD_POLICY_DURATION_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy field '%s' must be in [%" PRId64 ", %d] ms, "
                       "got %" PRId64,
                       name, min, AFD_POLICY_DURATION_MAX, v);
    return AFD_OK;
}

int afd_policy_config_check(const struct afd_policy_config *cfg, char *err)
{
    int rc;

    if (!cfg)
        return afd_err(err, AFD_EINVAL, "policy config is null");
    if (!isfinite(cfg->gain_threshold) || cfg->gain_threshold < 0 ||
        cfg->gain_threshold > 1)
        return afd_err(err, AFD_EINVAL,
                       "policy field 'gain_threshold' must be a fraction in "
                       "[0, 1], got %g",
                       cfg->gain_threshold);
    if ((rc = check_duration("dwell_ms", cfg->dwell_ms, 0, err)) ||
        (rc = check_duration("cooldown_ms", cfg->cooldown_ms, 0, err)) ||
        (rc = check_duration("ack_timeout_ms", cfg->ack_timeout_ms, 1, err)) ||
        (rc = check_duration("backoff_ms", cfg->backoff_ms, 0, err)) ||
        (rc = check_duration("settle_ms", cfg->settle_ms, 0, err)))
        return rc;
    if (!isfinite(cfg->settled_gain_threshold) ||
        cfg->settled_gain_threshold < 0 || cfg->settled_gain_threshold > 1)
        return afd_err(err, AFD_EINVAL,
                       "policy field 'settled_gain_threshold' must be a "
                       "fraction in [0, 1], got %g",
                       cfg->settled_gain_threshold);
    if (cfg->min_attention < 1 || cfg->min_attention > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy field 'min_attention' must be in [1, %d], "
                       "got %d",
                       AFD_POLICY_COUNT_MAX, cfg->min_attention);
    if (cfg->max_attention < cfg->min_attention ||
        cfg->max_attention > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy field 'max_attention' must be in "
                       "[min_attention=%d, %d], got %d",
                       cfg->min_attention, AFD_POLICY_COUNT_MAX,
                       cfg->max_attention);
    if (cfg->max_step < 1 || cfg->max_step > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy field 'max_step' must be in [1, %d], got %d",
                       AFD_POLICY_COUNT_MAX, cfg->max_step);
    return AFD_OK;
}

const char *afd_policy_state_name(enum afd_policy_state s)
{
    switch (s) {
    case AFD_POLICY_IDLE:
        return "idle";
    case AFD_POLICY_DWELLING:
        return "dwelling";
    case AFD_POLICY_IN_FLIGHT:
        return "in flight";
    case AFD_POLICY_COOLDOWN:
        return "cooling down";
    case AFD_POLICY_BACKOFF:
        return "backing off";
    }
    return "unknown";
}

struct afd_policy *afd_policy_new(const char *deployment,
                                  const struct afd_policy_config *cfg,
                                  char *err)
{
    struct afd_policy *p;
    size_t len;

    if (!deployment || !deployment[0]) {
        afd_err(err, AFD_EINVAL, "policy deployment name is empty");
        return NULL;
    }
    len = strlen(deployment);
    if (len >= AFD_DEPLOYMENT_LEN) {
        afd_err(err, AFD_EINVAL,
                "policy deployment name is %zu bytes, the limit is %d", len,
                AFD_DEPLOYMENT_LEN - 1);
        return NULL;
    }
    if (afd_policy_config_check(cfg, err))
        return NULL;
    p = calloc(1, sizeof(*p));
    if (!p) {
        afd_err(err, AFD_ENOMEM, "out of memory creating the policy of '%s'",
                deployment);
        return NULL;
    }
    memcpy(p->deployment, deployment, len + 1);
    p->cfg = *cfg;
    p->next_id = 1;
    snprintf(p->reason, sizeof(p->reason), "no evaluation yet");
    return p;
}

void afd_policy_free(struct afd_policy *p)
{
    free(p);
}

const char *afd_policy_deployment(const struct afd_policy *p)
{
    assert(p);
    return p->deployment;
}

void afd_policy_counters(const struct afd_policy *p,
                         struct afd_policy_counters *out)
{
    assert(p && out);
    *out = p->counters;
}

static void set_reason(struct afd_policy *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_reason(struct afd_policy *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(p->reason, sizeof(p->reason), fmt, ap);
    va_end(ap);
}

static double seconds(int64_t ms)
{
    return (double)ms / 1000.0;
}

/* Rejects a time outside the accepted range or earlier than the last. */
static int check_now(struct afd_policy *p, int64_t now_ms, char *err)
{
    if (now_ms < 0 || now_ms > AFD_POLICY_TIME_MAX) {
        p->counters.invalid_inputs++;
        return afd_err(err, AFD_EINVAL,
                       "policy of '%s': now_ms must be in [0, %" PRId64
                       "], got %" PRId64,
                       p->deployment, (int64_t)AFD_POLICY_TIME_MAX, now_ms);
    }
    if (now_ms < p->last_now) {
        p->counters.invalid_inputs++;
        return afd_err(err, AFD_EINVAL,
                       "policy of '%s': now_ms went backwards from %" PRId64
                       " to %" PRId64,
                       p->deployment, p->last_now, now_ms);
    }
    return AFD_OK;
}

/* The dwell this input needs: the configured one, or the estimate's own
 * correlation time when longer; none when configured to none (act at
 * once: an explicit choice, e.g. a latency probe). */
static int64_t dwell_of(const struct afd_policy_config *c,
                        const struct afd_policy_input *in)
{
    if (c->dwell_ms == 0)
        return 0;
    return in->min_dwell_ms > c->dwell_ms ? in->min_dwell_ms : c->dwell_ms;
}

/* Rule 3's bar: a count that has stood still past the cooldown and the
 * settle time is held to settled_gain_threshold (never below
 * gain_threshold). */
static bool settled(const struct afd_policy_config *c,
                    const struct afd_policy_input *in)
{
    return c->settle_ms > 0 && in->stood_ms >= c->cooldown_ms + c->settle_ms;
}

static double threshold_of(const struct afd_policy_config *c,
                           const struct afd_policy_input *in)
{
    return settled(c, in) && c->settled_gain_threshold > c->gain_threshold
               ? c->settled_gain_threshold
               : c->gain_threshold;
}

static int check_input(const struct afd_policy_input *in, char *err)
{
    if (!in)
        return afd_err(err, AFD_EINVAL, "policy input is null");
    if (in->attention < 0 || in->attention > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'attention' must be in [0, %d], got %d",
                       AFD_POLICY_COUNT_MAX, in->attention);
    if (in->ffn < 1 || in->ffn > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'ffn' must be in [1, %d], got %d",
                       AFD_POLICY_COUNT_MAX, in->ffn);
    if (in->target < 1 || in->target > AFD_POLICY_COUNT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'target' must be in [1, %d], got %d",
                       AFD_POLICY_COUNT_MAX, in->target);
    if (!isfinite(in->tput_current) || in->tput_current < 0 ||
        (in->attention > 0 && in->tput_current == 0))
        return afd_err(err, AFD_EINVAL,
                       "policy input 'tput_current' must be finite and > 0 "
                       "(0 only with 0 attention instances), got %g",
                       in->tput_current);
    if (!isfinite(in->tput_target) || in->tput_target <= 0)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'tput_target' must be finite and > 0, "
                       "got %g",
                       in->tput_target);
    if ((int)in->regime < 0 || (int)in->regime >= AFD_REGIME_COUNT)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'regime' must be 0..%d, got %d",
                       AFD_REGIME_COUNT - 1, (int)in->regime);
    if (!isfinite(in->r_star) || in->r_star <= 0)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'r_star' must be finite and > 0, got %g",
                       in->r_star);
    if (!isfinite(in->gain_uncertainty) || in->gain_uncertainty < 0)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'gain_uncertainty' must be finite and "
                       ">= 0, got %g",
                       in->gain_uncertainty);
    if (in->min_dwell_ms < 0 || in->min_dwell_ms > AFD_POLICY_DURATION_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'min_dwell_ms' must be in [0, %d], got "
                       "%" PRId64,
                       AFD_POLICY_DURATION_MAX, in->min_dwell_ms);
    if (in->stood_ms < 0 || in->stood_ms > AFD_POLICY_TIME_MAX)
        return afd_err(err, AFD_EINVAL,
                       "policy input 'stood_ms' must be in [0, %" PRId64
                       "], got %" PRId64,
                       (int64_t)AFD_POLICY_TIME_MAX, in->stood_ms);
    return AFD_OK;
}

/*
 * A timed-out command failed at its deadline, not at whatever later time a
 * step noticed it, so backoff does not depend on how often steps run.
 */
static void expire(struct afd_policy *p, int64_t now_ms)
{
    int64_t deadline;

    if (!p->in_flight)
        return;
    deadline = p->pending.issued_ms + p->cfg.ack_timeout_ms;
    if (now_ms < deadline)
        return;
    p->in_flight = false;
    p->counters.timed_out++;
    p->backoff_until = deadline + p->cfg.backoff_ms;
    snprintf(p->last_failure, sizeof(p->last_failure),
             "command %" PRIu64 " (%d -> %d) timed out after %g s without an "
             "ack",
             p->pending.id, p->pending.current, p->pending.target,
             seconds(p->cfg.ack_timeout_ms));
}

int afd_policy_expire(struct afd_policy *p, int64_t now_ms, char *err)
{
    int rc;

    assert(p);
    if ((rc = check_now(p, now_ms, err)))
        return rc;
    p->last_now = now_ms;
    expire(p, now_ms);
    return AFD_OK;
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* A lean scale-in the gain alone would not carry: rule 3 bounds its
 * worst-case cost instead (move_ready), so once made it was within it. */
static bool lean_move(const struct afd_policy_config *c,
                      const struct afd_policy_input *in, int dir, double gain)
{
    return in->lean && dir < 0 && !(gain > c->gain_threshold) &&
           !(in->shifted && settled(c, in));
}

/* A move up from a count a lean move set, after a shift, before the count
 * settles: rule 3's release (policy.h), which dwells dwell_ms alone. */
static bool releasing(const struct afd_policy_config *c,
                      const struct afd_policy_input *in, int dir)
{
    return in->lean_held && dir > 0 && !settled(c, in);
}

/* Rule 3's half bar (policy.h): a move the gain alone would not carry
 * that passes at half gain_threshold, a release (up from a lean-held
 * count) or a correction after a re-fit; the two differ in their words. */
enum half_bar { HALF_NONE, HALF_RELEASE, HALF_REFIT };

static enum half_bar half_bar(const struct afd_policy_config *c,
                              const struct afd_policy_input *in, int dir,
                              double gain)
{
    if (gain > threshold_of(c, in))
        return HALF_NONE;
    if (releasing(c, in, dir))
        return HALF_RELEASE;
    return in->refit && !settled(c, in) ? HALF_REFIT : HALF_NONE;
}

/* Writes the words of a move into cmd->reason. */
static void describe_move(const struct afd_policy *p,
                          const struct afd_policy_input *in, bool bounds_fix,
                          int desired, double gain, int64_t held_ms,
                          struct afd_command *cmd)
{
    const struct afd_policy_config *c = &p->cfg;
    char note[64] = "", held[48];
    const char *pre = c->advisory ? "advisory: " : "";
    enum half_bar half;

    if (cmd->target != desired)
        snprintf(note, sizeof(note), " (step limit %d, toward %d)", c->max_step,
                 desired);
    else if (desired != in->target)
        snprintf(note, sizeof(note), " (recommended %d, bounds [%d, %d])",
                 in->target, c->min_attention, c->max_attention);
    if (bounds_fix) {
        snprintf(cmd->reason, sizeof(cmd->reason),
                 "%s%d Attention instances is %s the %s %d; %d -> %d%s", pre,
                 in->attention,
                 in->attention < c->min_attention ? "below" : "above",
                 in->attention < c->min_attention ? "minimum" : "maximum",
                 in->attention < c->min_attention ? c->min_attention
                                                  : c->max_attention,
                 cmd->current, cmd->target, note);
        return;
    }
    if (in->confident && held_ms < dwell_of(c, in))
        snprintf(held, sizeof(held), ", on a confident estimate (no dwell)");
    else
        snprintf(held, sizeof(held), " for %g s", seconds(held_ms));
    if (cmd->lean) {
        snprintf(cmd->reason, sizeof(cmd->reason),
                 "%slean: %d Attention instances for %d FFN, %.1f%% "
                 "(+-%.1f%%) below r*=%.2f, within %g%%, less to hand back "
                 "at a shift%s; %d -> %d%s",
                 pre, in->target, in->ffn, -100.0 * gain,
                 100.0 * in->gain_uncertainty, in->r_star,
                 100.0 * c->gain_threshold, held, cmd->current, cmd->target,
                 note);
        return;
    }
    half = half_bar(c, in, cmd->target > cmd->current ? 1 : -1, gain);
    if (half != HALF_NONE) {
        char why[80];

        if (half == HALF_RELEASE)
            snprintf(why, sizeof(why),
                     "release: the shift since the lean move to %d wants "
                     "more instances",
                     in->attention);
        else
            snprintf(why, sizeof(why),
                     "refit: the calibration identified more since the "
                     "last move");
        /* Realistic counts fit; a cut reason says so with "...". */
        if (snprintf(cmd->reason, sizeof(cmd->reason),
                     "%s%s, r*=%.2f recommends %d, %+.1f%% (+-%.1f%%), above "
                     "half the %g%% threshold%s; %d -> %d%s",
                     pre, why, in->r_star, in->target, 100.0 * gain,
                     100.0 * in->gain_uncertainty, 100.0 * c->gain_threshold,
                     held, cmd->current, cmd->target,
                     note) >= (int)sizeof(cmd->reason))
            memcpy(cmd->reason + sizeof(cmd->reason) - 4, "...", 4);
        return;
    }
    snprintf(cmd->reason, sizeof(cmd->reason),
             "%s%s-bound: r*=%.2f recommends %d Attention instances for %d "
             "FFN%s%s, %+.1f%% throughput per device, above the %g%% "
             "threshold%s%s; %d -> %d%s",
             pre, afd_regime_name(in->regime), in->r_star, in->target, in->ffn,
             in->barrier ? " (barrier-aware)" : "",
             in->old_requests ? ", old requests in flight" : "", 100.0 * gain,
             100.0 * threshold_of(c, in),
             settled(c, in) ? " for a settled count" : "", held, cmd->current,
             cmd->target, note);
}

/* The command one step toward desired; dir is +1 or -1. */
static void build_command(const struct afd_policy *p,
                          const struct afd_policy_input *in, int desired,
                          int dir, double gain, int64_t now_ms,
                          struct afd_command *cmd)
{
    int dist = dir > 0 ? desired - in->attention : in->attention - desired;

    memset(cmd, 0, sizeof(*cmd));
    memcpy(cmd->deployment, p->deployment, sizeof(cmd->deployment));
    cmd->current = in->attention;
    cmd->target =
        in->attention + dir * (dist < p->cfg.max_step ? dist : p->cfg.max_step);
    cmd->ffn = in->ffn;
    cmd->regime = in->regime;
    cmd->r_star = in->r_star;
    cmd->expected_gain = gain;
    cmd->issued_ms = now_ms;
}

/*
 * Decides whether a wanted move may happen now (rules 2-3 of policy.h).
 * Returns true when it may; otherwise writes the reason and returns false.
 * Keeps the dwell timer.
 */
static bool move_ready(struct afd_policy *p, const struct afd_policy_input *in,
                       int desired, int dir, bool bounds_fix, double gain,
                       int64_t now_ms)
{
    const struct afd_policy_config *c = &p->cfg;
    enum half_bar half;

    if (dir == 0) {
        p->dwelling = false;
        if (desired != in->target)
            set_reason(p,
                       "recommended %d Attention instances is outside "
                       "[%d, %d]; already at %d",
                       in->target, c->min_attention, c->max_attention,
                       in->attention);
        else
            set_reason(p,
                       "at the recommendation: %d Attention instances "
                       "for %d FFN",
                       in->attention, in->ffn);
        return false;
    }
    if (bounds_fix) {
        p->dwelling = false;
        return true;
    }
    if (lean_move(c, in, dir, gain)) {
        if (-gain + in->gain_uncertainty > c->gain_threshold) {
            p->dwelling = false;
            set_reason(p,
                       "lean move %d -> %d Attention instances would cost "
                       "%.1f%% (+-%.1f%%), more than the %g%% threshold",
                       in->attention, desired, -100.0 * gain,
                       100.0 * in->gain_uncertainty, 100.0 * c->gain_threshold);
            return false;
        }
    } else if ((half = half_bar(c, in, dir, gain)) != HALF_NONE) {
        if (!(gain > c->gain_threshold / 2)) {
            p->dwelling = false;
            set_reason(p,
                       "%s %d -> %d Attention instances%s would gain %+.1f%%, "
                       "not above half the %g%% threshold",
                       half == HALF_RELEASE ? "release" : "correction",
                       in->attention, desired,
                       half == HALF_REFIT ? " after a re-fit" : "",
                       100.0 * gain, 100.0 * c->gain_threshold);
            return false;
        }
    } else if (!(gain > threshold_of(c, in))) {
        char since[48] = "";

        p->dwelling = false;
        if (settled(c, in))
            snprintf(since, sizeof(since), " for a count settled %g s",
                     seconds(in->stood_ms));
        set_reason(p,
                   "gain %+.1f%% for %d -> %d Attention instances is not "
                   "above the %g%% threshold%s",
                   100.0 * gain, in->attention, desired,
                   100.0 * threshold_of(c, in), since);
        return false;
    }
    if (!lean_move(c, in, dir, gain) && !(gain > in->gain_uncertainty)) {
        p->dwelling = false;
        set_reason(p,
                   "gain %+.1f%% for %d -> %d Attention instances is below "
                   "the model's own uncertainty (+-%.1f%%)",
                   100.0 * gain, in->attention, desired,
                   100.0 * in->gain_uncertainty);
        return false;
    }
    if (!p->dwelling || p->dwell_dir != dir) {
        p->dwelling = true;
        p->dwell_dir = dir;
        p->dwell_since = now_ms;
    }
    /* A release waits the configured dwell only, not the estimate's
     * lifetime: after a shift the live loads of the new requests rise as
     * they age, so a release's gain grows while it dwells rather than
     * fluctuating (policy.h). */
    p->dwell_need = releasing(c, in, dir) ? c->dwell_ms : dwell_of(c, in);
    if (now_ms - p->dwell_since < p->dwell_need && !in->confident) {
        set_reason(p,
                   "gain %+.1f%% for %d -> %d above the %g%% threshold for "
                   "%g s of the %g s dwell",
                   100.0 * gain, in->attention, desired,
                   100.0 * threshold_of(c, in),
                   seconds(now_ms - p->dwell_since), seconds(p->dwell_need));
        return false;
    }
    return true;
}

/* Rules 4-5: true when neither backoff nor cooldown blocks at now_ms. */
static bool unblocked(struct afd_policy *p, int desired, int current,
                      int64_t now_ms)
{
    if (now_ms < p->backoff_until) {
        set_reason(p,
                   "ready to move %d -> %d Attention instances, backing off "
                   "%g s more after a failed command",
                   current, desired, seconds(p->backoff_until - now_ms));
        return false;
    }
    if (now_ms < p->cooldown_until) {
        set_reason(p,
                   "ready to move %d -> %d Attention instances, cooling down "
                   "%g s more",
                   current, desired, seconds(p->cooldown_until - now_ms));
        return false;
    }
    return true;
}

int afd_policy_step(struct afd_policy *p, const struct afd_policy_input *in,
                    int64_t now_ms, enum afd_decision *decision,
                    struct afd_command *cmd, char *err)
{
    const struct afd_policy_config *c;
    struct afd_command out;
    int rc, desired, dir;
    bool bounds_fix;
    double gain;
    int64_t held;

    assert(p && decision);
    *decision = AFD_DECISION_NONE;
    if ((rc = check_now(p, now_ms, err)))
        return rc;
    if ((rc = check_input(in, err))) {
        p->counters.invalid_inputs++;
        return rc;
    }
    c = &p->cfg;
    p->last_now = now_ms;
    expire(p, now_ms);
    if (p->in_flight) {
        /* Counts are moving: no dwell is tracked (issuing cleared it). */
        set_reason(p,
                   "command %" PRIu64 " (%d -> %d) in flight, waiting for its "
                   "ack (times out in %g s)",
                   p->pending.id, p->pending.current, p->pending.target,
                   seconds(p->pending.issued_ms + c->ack_timeout_ms - now_ms));
        return AFD_OK;
    }
    desired = clamp_int(in->target, c->min_attention, c->max_attention);
    dir = desired > in->attention ? 1 : desired < in->attention ? -1 : 0;
    bounds_fix =
        in->attention < c->min_attention || in->attention > c->max_attention;
    gain = in->tput_current > 0 ? in->tput_target / in->tput_current - 1 : 0;
    if (!move_ready(p, in, desired, dir, bounds_fix, gain, now_ms))
        return AFD_OK;
    held = now_ms - (p->dwelling ? p->dwell_since : now_ms);
    if (!unblocked(p, desired, in->attention, now_ms))
        return AFD_OK;

    build_command(p, in, desired, dir, gain, now_ms, &out);
    out.lean = !bounds_fix && lean_move(c, in, dir, gain);
    describe_move(p, in, bounds_fix, desired, gain, held, &out);
    memcpy(p->reason, out.reason, sizeof(p->reason));
    /* A new move must earn its own dwell from fresh observations. */
    p->dwelling = false;
    if (c->advisory) {
        p->counters.advisories++;
        p->cooldown_until = now_ms + c->cooldown_ms;
        *decision = AFD_DECISION_ADVISORY;
    } else {
        out.id = p->next_id++;
        p->in_flight = true;
        p->pending = out;
        p->counters.issued++;
        *decision = AFD_DECISION_COMMAND;
    }
    p->last = out;
    p->has_last = true;
    if (cmd)
        *cmd = out;
    return AFD_OK;
}

int afd_policy_ack(struct afd_policy *p, uint64_t id, bool success,
                   const char *detail, int64_t now_ms, char *err)
{
    int rc;

    assert(p);
    if ((rc = check_now(p, now_ms, err)))
        return rc;
    p->last_now = now_ms;
    expire(p, now_ms);
    if (!p->in_flight || p->pending.id != id) {
        if (id == 0 || id >= p->next_id)
            return afd_err(err, AFD_ENOTFOUND,
                           "policy of '%s': no command %" PRIu64 " was issued",
                           p->deployment, id);
        p->counters.stale_acks++;
        return afd_err(err, AFD_ESTATE,
                       "policy of '%s': command %" PRIu64
                       " is no longer in flight (late or repeated ack)",
                       p->deployment, id);
    }
    p->in_flight = false;
    if (success) {
        p->counters.acked++;
        p->cooldown_until = now_ms + p->cfg.cooldown_ms;
        return AFD_OK;
    }
    p->counters.failed++;
    p->backoff_until = now_ms + p->cfg.backoff_ms;
    snprintf(p->last_failure, sizeof(p->last_failure),
             "command %" PRIu64 " (%d -> %d) failed: %s", id,
             p->pending.current, p->pending.target,
             detail && detail[0] ? detail : "no detail");
    return AFD_OK;
}

static int64_t remaining(int64_t until, int64_t now_ms)
{
    return until > now_ms ? until - now_ms : 0;
}

void afd_policy_status(const struct afd_policy *p, int64_t now_ms,
                       struct afd_policy_status *out)
{
    int64_t deadline;

    assert(p && out);
    memset(out, 0, sizeof(*out));
    if (now_ms < p->last_now)
        now_ms = p->last_now;
    out->cooldown_remaining_ms = remaining(p->cooldown_until, now_ms);
    out->backoff_remaining_ms = remaining(p->backoff_until, now_ms);
    if (p->dwelling)
        out->dwell_remaining_ms =
            remaining(p->dwell_since + p->dwell_need, now_ms);
    if (p->in_flight) {
        deadline = p->pending.issued_ms + p->cfg.ack_timeout_ms;
        out->state = AFD_POLICY_IN_FLIGHT;
        out->has_pending = true;
        out->pending = p->pending;
        out->ack_remaining_ms = remaining(deadline, now_ms);
    } else if (out->backoff_remaining_ms > 0) {
        out->state = AFD_POLICY_BACKOFF;
    } else if (out->cooldown_remaining_ms > 0) {
        out->state = AFD_POLICY_COOLDOWN;
    } else if (p->dwelling) {
        out->state = AFD_POLICY_DWELLING;
    } else {
        out->state = AFD_POLICY_IDLE;
    }
    out->state_name = afd_policy_state_name(out->state);
    memcpy(out->reason, p->reason, sizeof(out->reason));
    out->has_last = p->has_last;
    if (p->has_last)
        out->last = p->last;
    memcpy(out->last_failure, p->last_failure, sizeof(out->last_failure));
    out->counters = p->counters;
}

void afd_policy_export(const struct afd_policy *p, struct afd_policy_saved *out)
{
    memset(out, 0, sizeof(*out));
    out->next_id = p->next_id;
    out->in_flight = p->in_flight;
    if (p->in_flight)
        out->pending = p->pending;
    out->cooldown_until = p->cooldown_until;
    out->backoff_until = p->backoff_until;
    out->last_now = p->last_now;
}

static bool valid_time(int64_t t)
{
    return t >= 0 && t <= AFD_POLICY_TIME_MAX;
}

int afd_policy_import(struct afd_policy *p, const struct afd_policy_saved *s,
                      char *err)
{
    const struct afd_command *c = &s->pending;

    if (s->next_id == 0)
        return afd_err(err, AFD_EINVAL, "saved policy: next_id must be >= 1");
    if (!valid_time(s->cooldown_until) || !valid_time(s->backoff_until) ||
        !valid_time(s->last_now))
        return afd_err(err, AFD_EINVAL,
                       "saved policy: deadlines must be in [0, %" PRId64 "]",
                       (int64_t)AFD_POLICY_TIME_MAX);
    if (s->in_flight &&
        (c->id == 0 || c->id >= s->next_id || c->target < 1 ||
         c->target > AFD_POLICY_COUNT_MAX || !valid_time(c->issued_ms)))
        return afd_err(err, AFD_EINVAL,
                       "saved policy: pending command %" PRIu64
                       " (target %d) is inconsistent with next_id %" PRIu64,
                       c->id, c->target, s->next_id);
    if (s->next_id > p->next_id)
        p->next_id = s->next_id;
    if (s->in_flight && (!p->in_flight || p->pending.id != c->id))
        p->counters.issued++; /* issued = acked + failed + timed_out + 1 */
    p->in_flight = s->in_flight;
    if (s->in_flight) {
        p->pending = *c;
        /* The deployment is ours even if the saver's name was cut. */
        snprintf(p->pending.deployment, sizeof(p->pending.deployment), "%s",
                 p->deployment);
    }
    p->cooldown_until = s->cooldown_until;
    p->backoff_until = s->backoff_until;
    if (s->last_now > p->last_now)
        p->last_now = s->last_now;
    p->dwelling = false;
    return AFD_OK;
}
