/*
 * policy.h - the scaling decision for one deployment: when to ask for a
 * different number of Attention instances, and how far.
 *
 * Owns: per-deployment decision state (dwell timer, the one command in
 * flight, cooldown and backoff deadlines, counters). It does not size
 * anything itself: the caller passes the estimator's recommendation
 * (struct afd_solution, estimator/solver.h) reduced to a struct
 * afd_policy_input, and the current counts.
 *
 * Rules, in the order afd_policy_step() applies them:
 *   1. One command in flight. While a command waits for its ack nothing
 *      else is issued. No ack by issued_ms + ack_timeout_ms (>=) means the
 *      command timed out: counted as timed_out and treated as a failure.
 *   2. Bounds. The target is clamped to [min_attention, max_attention]. A
 *      current count outside the bounds is corrected without the gain and
 *      dwell tests (bounds are configuration, not a noisy estimate).
 *   3. Hysteresis. Inside the bounds the policy acts only when
 *      gain = tput_target / tput_current - 1 is strictly above
 *      gain_threshold and above the model's own uncertainty on it
 *      (gain_uncertainty), the direction (up or down) is the same, and both
 *      have held for the dwell, max(dwell_ms, the input's min_dwell_ms: how
 *      long the estimate's own fluctuations last; 0 when dwell_ms is 0, an
 *      explicit "act at once"): the first step with
 *      now - dwell_start >= the dwell acts; at once when the input says it
 *      is confident (the dwell filters noise the estimate has already
 *      averaged away). A dip
 *      to gain <= threshold or a flip of direction restarts the timer.
 *      A lean input (a scale-in that gains nothing now, see the field)
 *      passes instead when -gain + gain_uncertainty <= gain_threshold: its
 *      worst-case cost is no larger than the smallest gain worth a move;
 *      the dwell is the same.
 *      A settled count (the input's stood_ms >= cooldown_ms + settle_ms:
 *      no move, no shift for that long) needs a gain above
 *      settled_gain_threshold instead (when larger): once the count has
 *      settled after a shift, the gain of a small correction is mostly the
 *      model's own error near its optimum (measured: one- or two-instance
 *      corrections minutes after a shift claimed 2.1-3.2% and gained
 *      0.2-1.9% in the simulator). A lean input keeps its own bound
 *      while the fleet has its first size (no shift seen yet: the count
 *      was never sized for a workload); after a shift, a settled count
 *      makes no lean move (it would come long after the shift settled).
 *      A release (a move up from a lean_held count: the lean bet on a
 *      next shift that scales in, and this one scales out) passes at half
 *      gain_threshold, above the gain's uncertainty, until the count
 *      settles: the lean took up to the threshold's worth for its bet, and
 *      a count left at the bottom of one phase's flat curve can sit 1-2%
 *      below the next phase's optimum for good (measured on a day of
 *      public traces: 61 -> 22 lean, then 1.2-2.1% below the optimum in
 *      each of the three phases after it). A release dwells dwell_ms
 *      alone, not the input's min_dwell_ms: after a shift the live loads
 *      of the new requests rise as they age, so its gain grows while it
 *      waits rather than fluctuating (the same day: the lifetime's 22 s
 *      dwell ran past the settle on 10 runs of 33, each then 1.3-2.1% of
 *      that phase below the best static ratio).
 *      A refit correction (the input's refit: the count was asked for
 *      since the last shift on a calibration that has identified a
 *      coefficient since, so part of that move was sized on the prior)
 *      passes at half gain_threshold too, above the gain's uncertainty,
 *      until the count settles: the model's correction is then the new
 *      data's (measured: a move to 10 on the prior's FFN split, the
 *      identified model's 12 at +1.2% held off by the threshold all
 *      phase, 1.9% of it in the simulator).
 *      Dwell is not tracked while a command is in flight (counts are
 *      changing); it is tracked during cooldown and backoff, so an action
 *      may follow as soon as they end.
 *   4. Backoff. A failed or timed-out command blocks new ones for backoff_ms,
 *      from the failed ack (or from the timeout deadline).
 *   5. Cooldown. A successful ack blocks new commands for cooldown_ms from
 *      the ack (the action happened then, not when it was asked for).
 *   6. Step limit. |target - current| <= max_step; a larger move is made in
 *      steps, each needing a fresh dwell.
 * Advisory mode applies the same rules but issues nothing: the decision is
 * reported (AFD_DECISION_ADVISORY, command id 0, counted in advisories, not
 * issued) and cooldown starts at once, so the same advice repeats at most
 * once per max(dwell_ms, cooldown_ms).
 *
 * expected_gain is the gain of the recommendation the caller passed (the
 * estimator's target), not of a clamped or step-limited target: the policy
 * has no model to evaluate other counts.
 *
 * Command ids: per policy, 1, 2, 3, ... in issue order; 0 never names an
 * issued command. (deployment, id) is unique across the daemon.
 *
 * Time: only the now_ms arguments, milliseconds on one monotonic clock,
 * 0 <= now_ms <= AFD_POLICY_TIME_MAX, never decreasing across calls on one
 * policy (a decreasing now_ms is rejected with AFD_EINVAL, no state change).
 *
 * Errors: invalid input returns AFD_EINVAL with the field named in err,
 * counts invalid_inputs and changes nothing else.
 *
 * Typical use, once per evaluation (the daemon's controller tick):
 *     afd_policy_step(p, &in, now, &d, &cmd, err);
 *     if (d == AFD_DECISION_COMMAND) send cmd, later
 *         afd_policy_ack(p, cmd.id, ok, detail, now2, err);
 *     if (d == AFD_DECISION_ADVISORY) log/expose cmd only.
 * where in.target / in.r_star / in.tput_target come from
 * attention_instances_barrier / r_star_barrier /
 * throughput_per_device_barrier when has_barrier, else from
 * attention_instances / r_star / throughput_per_device_int, and
 * in.tput_current is the same model evaluated at the current x.
 *
 * Ownership and threads: afd_policy_new() allocates, afd_policy_free()
 * frees; nothing else allocates. A policy has one owner (the daemon's event
 * loop thread); calls on different policies are independent.
 */
#ifndef AFD_POLICY_H
#define AFD_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "estimator/solver.h"

#define AFD_DEPLOYMENT_LEN 128 /* bytes with the NUL */
#define AFD_REASON_LEN     256 /* bytes with the NUL */
/* Largest accepted now_ms and duration: far from int64 overflow on sums. */
#define AFD_POLICY_TIME_MAX     (INT64_MAX / 4)
#define AFD_POLICY_DURATION_MAX 604800000 /* ms, one week */
#define AFD_POLICY_COUNT_MAX    1048576   /* instances, sanity bound */

struct afd_policy_config {
    double gain_threshold;  /* fraction, act when gain > this; [0, 1] */
    int64_t dwell_ms;       /* ms the gain must hold before acting, >= 0 */
    int64_t cooldown_ms;    /* ms after a successful ack, >= 0 */
    int min_attention;      /* instances, >= 1 */
    int max_attention;      /* instances, >= min_attention */
    int max_step;           /* instances per command, >= 1 */
    int64_t ack_timeout_ms; /* ms before an unacked command fails, > 0 */
    bool advisory;          /* report decisions, issue no commands */
    int64_t backoff_ms;     /* ms after a failed/timed-out command, >= 0 */
    int64_t settle_ms;      /* ms past the cooldown after which a count
                               that has stood still is settled; 0: never */
    double settled_gain_threshold; /* fraction in [0, 1], the bar for
                                      moving a settled count (the larger
                                      of it and gain_threshold) */
};

/*
 * Defaults: gain_threshold 0.02, dwell 30 s, cooldown 120 s, attention
 * 1..1024, max_step 4, ack timeout 60 s, not advisory, backoff 300 s,
 * settle 45 s, settled_gain_threshold 0.04.
 */
void afd_policy_config_init(struct afd_policy_config *cfg);

/*
 * Checks every field; AFD_EINVAL naming the first bad field, e.g.
 * "policy field 'max_step' must be >= 1, got 0".
 */
int afd_policy_config_check(const struct afd_policy_config *cfg, char *err);

struct afd_policy_input {
    int attention;           /* x, current Attention instances, >= 0 */
    int ffn;                 /* y, current FFN instances, >= 1 */
    int target;              /* recommended x (barrier-aware if known), >= 1 */
    bool barrier;            /* target came from the barrier-aware model */
    double tput_current;     /* tokens/ms/device predicted at x; > 0 when
                                x >= 1, 0 allowed only when x == 0 */
    double tput_target;      /* tokens/ms/device predicted at target, > 0 */
    enum afd_regime regime;  /* regime binding at the current ratio x/y */
    double r_star;           /* recommended ratio target / y, finite, > 0 */
    double gain_uncertainty; /* 95% half-width of the gain, fraction, >= 0
                                (0: unknown or exact) */
    bool confident;          /* the estimate behind target is a fresh
                                measurement with a tight interval (a shift
                                forecast): no dwell (rule 3) */
    bool lean;               /* target is below x on a flat stretch of the
                                curve, a move that gains nothing now but
                                leaves fewer requests in flight for the
                                next shift to hand back: taken without the
                                gain test when its worst-case cost,
                                -gain + gain_uncertainty, is within
                                gain_threshold (rule 3) */
    int64_t stood_ms;        /* ms the count and the workload have stood
                                still (no change of x, no shift open),
                                >= 0 (0: unknown or moving) */
    bool shifted;            /* a workload shift has been seen since the
                                deployment appeared: a lean move of a
                                settled count is then refused (rule 3) */
    bool lean_held;          /* x was set by a lean move and a shift has
                                come since: a move up is a release (rule
                                3) */
    bool refit;              /* x was asked for since the last shift on a
                                calibration that has identified a
                                coefficient since: a correction passes at
                                half gain_threshold until the count
                                settles (rule 3) */
    int64_t min_dwell_ms;    /* the estimate's own correlation time, ms,
                                >= 0: the dwell is at least this (0: the
                                configured dwell alone) */
    bool old_requests;       /* target is held above the new workload's
                                count for the old requests still in flight
                                (the daemon's recommend.c): said in the
                                reason, no other effect */
};

struct afd_command {
    uint64_t id; /* > 0 when issued; 0 for advisory reports */
    char deployment[AFD_DEPLOYMENT_LEN];
    int current;                 /* Attention instances when decided */
    int target;                  /* Attention instances asked for */
    int ffn;                     /* FFN instances when decided */
    enum afd_regime regime;      /* regime binding at the current ratio */
    double r_star;               /* recommended ratio */
    double expected_gain;        /* fraction, of the recommendation (see top) */
    char reason[AFD_REASON_LEN]; /* one line of words */
    int64_t issued_ms;           /* now_ms of the step that decided */
    bool lean;                   /* a lean move (rule 3): the caller keeps
                                    its count to recognise a release */
};

enum afd_decision {
    AFD_DECISION_NONE = 0,     /* nothing to do (reason in the status) */
    AFD_DECISION_COMMAND = 1,  /* a command was issued: send it, then ack */
    AFD_DECISION_ADVISORY = 2, /* advisory mode: report, do not send */
};

enum afd_policy_state {
    AFD_POLICY_IDLE = 0,      /* no move wanted */
    AFD_POLICY_DWELLING = 1,  /* a move is wanted, dwell not yet elapsed */
    AFD_POLICY_IN_FLIGHT = 2, /* a command waits for its ack */
    AFD_POLICY_COOLDOWN = 3,  /* after a successful ack (or advisory) */
    AFD_POLICY_BACKOFF = 4,   /* after a failed or timed-out command */
};

/* Monotonic counters, for /metrics. issued = acked + failed + timed_out
 * + (1 if a command is in flight). */
struct afd_policy_counters {
    uint64_t issued;         /* commands issued */
    uint64_t acked;          /* successful acks */
    uint64_t failed;         /* negative acks */
    uint64_t timed_out;      /* commands without an ack in time */
    uint64_t advisories;     /* advisory decisions reported */
    uint64_t stale_acks;     /* acks for a command no longer in flight */
    uint64_t invalid_inputs; /* steps or acks rejected with AFD_EINVAL */
};

struct afd_policy_status {
    enum afd_policy_state state;
    const char *state_name;        /* afd_policy_state_name(state) */
    char reason[AFD_REASON_LEN];   /* why the last step did what it did */
    bool has_pending;              /* a command is in flight */
    struct afd_command pending;    /* valid when has_pending */
    int64_t ack_remaining_ms;      /* ms until the pending command times out */
    int64_t cooldown_remaining_ms; /* ms, 0 when not cooling down */
    int64_t backoff_remaining_ms;  /* ms, 0 when not backing off */
    int64_t dwell_remaining_ms;    /* ms, 0 when not dwelling */
    bool has_last;                 /* a command or advisory was ever made */
    struct afd_command last;       /* the latest command or advisory */
    char last_failure[AFD_REASON_LEN]; /* empty when none */
    struct afd_policy_counters counters;
};

/* "idle", "dwelling", "in flight", "cooling down", "backing off". */
const char *afd_policy_state_name(enum afd_policy_state s);

/*
 * Creates the policy of one deployment. deployment: non-empty, shorter than
 * AFD_DEPLOYMENT_LEN, copied. cfg is checked and copied. Returns NULL and a
 * message in err on a bad argument or when out of memory.
 * Free with afd_policy_free().
 */
struct afd_policy *afd_policy_new(const char *deployment,
                                  const struct afd_policy_config *cfg,
                                  char *err);

/* Frees p; NULL is accepted. */
void afd_policy_free(struct afd_policy *p);

/*
 * One evaluation. Applies the ack timeout, then the rules at the top.
 * On AFD_OK *decision says what happened; cmd (may be NULL only if the
 * caller ignores it) receives the command for COMMAND and ADVISORY and is
 * left untouched for NONE. Returns AFD_EINVAL for a bad input or a
 * decreasing now_ms (nothing changes but invalid_inputs).
 */
int afd_policy_step(struct afd_policy *p, const struct afd_policy_input *in,
                    int64_t now_ms, enum afd_decision *decision,
                    struct afd_command *cmd, char *err);

/*
 * Applies the ack timeout only (for a timer when no input is available).
 * Returns AFD_EINVAL for a decreasing now_ms.
 */
int afd_policy_expire(struct afd_policy *p, int64_t now_ms, char *err);

/*
 * The outcome of command `id`. success starts cooldown_ms; failure counts
 * failed, starts backoff_ms and keeps detail (may be NULL, truncated) as
 * last_failure. An ack at or after the timeout deadline is late: the command
 * has timed out. Returns AFD_OK, AFD_ESTATE for an id issued earlier that is
 * no longer in flight (late or repeated ack; counted as stale_acks),
 * AFD_ENOTFOUND for an id never issued, AFD_EINVAL for a decreasing now_ms.
 */
int afd_policy_ack(struct afd_policy *p, uint64_t id, bool success,
                   const char *detail, int64_t now_ms, char *err);

/* Read-only snapshot at now_ms (remaining times are computed against it;
 * now_ms earlier than the last call is treated as the last call's time). */
void afd_policy_status(const struct afd_policy *p, int64_t now_ms,
                       struct afd_policy_status *out);

/* The counters alone. */
void afd_policy_counters(const struct afd_policy *p,
                         struct afd_policy_counters *out);

/*
 * What survives a restart or a leader failover (plugin/daemon snapshots it):
 * the id sequence, the command in flight and the deadlines. Dwell, reasons
 * and counters are re-learnt. Times are on the policy's clock (now_ms).
 */
struct afd_policy_saved {
    uint64_t next_id; /* id the next command gets, >= 1 */
    bool in_flight;   /* pending waits for its ack */
    struct afd_command pending;
    int64_t cooldown_until; /* ms, 0: none */
    int64_t backoff_until;  /* ms, 0: none */
    int64_t last_now;       /* latest now_ms the policy saw */
};

void afd_policy_export(const struct afd_policy *p,
                       struct afd_policy_saved *out);

/*
 * Resumes from s: ids never go back (next_id = max of both), the pending
 * command (if any) is in flight again with its own issued_ms, deadlines
 * are taken as given. AFD_EINVAL (nothing changed) when s is inconsistent:
 * next_id 0, a pending id 0 or >= next_id, a pending target outside
 * [1, AFD_POLICY_COUNT_MAX], negative or out-of-range times.
 */
int afd_policy_import(struct afd_policy *p, const struct afd_policy_saved *s,
                      char *err);

/* The deployment name given at creation. */
const char *afd_policy_deployment(const struct afd_policy *p);

#endif
