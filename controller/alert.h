/*
 * alert.h - regime alerts for one deployment, with debounce.
 *
 * Owns: two small alert state machines per deployment and the last stable
 * observed regime. The caller evaluates it on each telemetry window and
 * forwards the events (to Alertmanager: raised = startsAt, resolved =
 * endsAt) - this module does no I/O.
 *
 * Regimes as the model defines them (model.md sec. 4), computed by the
 * caller with estimator/solver.h and passed in:
 *   sizing regime    - the term that binds the optimum r* (attention balance
 *       r_A, communication r_C, or the FFN peak r_peak; afd_sizing_regime).
 *       A property of workload + hardware: noise in stage times cannot
 *       move it, only a real change can.
 *   operating position - the current ratio against the balanced band
 *       [band_lo, band_hi] (afd_balanced_band: f(r) >= (1 - margin) f(r*)):
 *       balanced inside, under-provisioned below (attention-bound side),
 *       over-provisioned above (ffn-bound side). A balanced deployment
 *       raises nothing, however noisy its measured stage times.
 *
 * Three alert kinds, one machine each:
 *   AfdSizingRegimeChanged (warning) - the term binding r* differs from the
 *       last stable one: what to buy has changed. The first evaluation sets
 *       the stable regime silently. When the alert raises, the new regime
 *       becomes the stable one, so it resolves once that held for
 *       resolve_ms: a notification that stays up at least resolve_ms. A
 *       move to or from ffn counts only once the calibration identified aF
 *       and bF (in->ffn_split_unknown false): r_peak = sqrt(bF/(aF B))
 *       rests on that split, which at one ratio is the prior's guess; until
 *       then such a move is not pending (the stable regime stays, so a
 *       guessed baseline that proves wrong is reported once known).
 *   AfdOutsideBalancedBand (critical) - the ratio has been outside the band
 *       with no move toward it for max(debounce_ms, act_ms), longer than
 *       the controller needs to act (scaling stuck, advisory mode, bounds
 *       reached): a step toward the band restarts the pending timer, so a
 *       controller that is converging raises nothing. Carries the
 *       throughput lost (fraction, tokens/s per device, tokens/s in all).
 *       Key: under/over.
 *   AfdProfileDrift (warning) - a stage's recently measured mean time (at
 *       its recent mean load) disagrees with the calibrated model of that
 *       stage by more than the model's own 95% half-width (from the
 *       calibration's covariance and residual variance, plus the noise of
 *       the recent mean) and by more than cfg.drift of the prediction:
 *       the hardware or software under the model changed. The model it is
 *       compared with is a reference per stage that follows the
 *       calibration while nothing disagrees and is held while a drift is
 *       pending or firing, so a calibration that re-fits within seconds
 *       still leaves a drift that lasted debounce_ms. Resolves when the
 *       calibration has caught up (the current model agrees with the
 *       measurements again: the reference takes it) or the drift ends.
 *       The prior plays no part. A drift is a change at an unchanged
 *       operating point: when the stage's recent load moves by more than
 *       AFD_DRIFT_LOAD_TOL from its reference's (a workload or batch
 *       change; there the split of a*x + b is often a guess, and the comm
 *       stage mixes loads), and through the warm-up, the stage settles:
 *       its reference follows the calibration and nothing is compared
 *       until the calibration explains the measurements again (within
 *       drift / 2 of its time). Key: stage and direction. This replaces
 *       the removed AfdRegimeMismatch (argmax of measured stages against
 *       the predicted regime), which flapped at the balance point.
 *
 * The machine of each kind, evaluated with `active` (condition holds) and a
 * key (changed: the sizing regime; off balance: under/over; drift: stage
 * and direction) at now_ms:
 *   ok      -> pending  when active; pending_since = now.
 *   pending -> ok       when inactive (a flap: nothing is sent) or, with a
 *                       different key, restarts pending (also a flap).
 *   pending -> firing   at the first evaluation with now - pending_since >=
 *                       debounce_ms: RAISED, start_ms = pending_since.
 *   firing  -> resolving when inactive; clear_since = now.
 *   resolving -> firing  when active again with the same key (no event).
 *   resolving -> ok      at the first evaluation with now - clear_since >=
 *                       resolve_ms: RESOLVED, end_ms = now.
 *   firing with a different key active: the firing alert is not clear (its
 *       resolve timer is reset) and the new key runs its own pending; when
 *       that raises, the old alert is RESOLVED as superseded in the same
 *       evaluation, then the new one is RAISED. At most one alert per kind
 *       fires; raised and resolved always pair up.
 * Re-raise: after RESOLVED the same condition starts from ok again, with a
 * full debounce and a new start_ms.
 *
 * Time: now_ms only, one monotonic clock, 0 <= now_ms <= AFD_ALERT_TIME_MAX,
 * never decreasing (AFD_EINVAL otherwise, no state change).
 *
 * Typical use, once per recompute: sizing = afd_sizing_regime(input, r*),
 * band from afd_balanced_band(input, r*, cfg.margin), predicted =
 * afd_regime_at(input, x / y), ratio = x / y, losses from
 * afd_throughput_at; stage[i] by afd_alert_stage_from_fit(&fits[i]) of
 * afd_calib_fits(calib, fits); afd_alert_eval(); post each event (RAISED with
 * startsAt = start_ms, RESOLVED with endsAt = end_ms; labels alertname,
 * deployment, regime). Re-sending active alerts is the caller's job
 * (afd_alert_status() lists them).
 *
 * Ownership and threads: afd_alert_new() allocates, afd_alert_free() frees;
 * nothing else allocates. One owner thread per object.
 */
#ifndef AFD_ALERT_H
#define AFD_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimator/calib.h"
#include "estimator/solver.h"

#define AFD_DEPLOYMENT_LEN     128 /* bytes with the NUL (as policy.h) */
#define AFD_REASON_LEN         256 /* bytes with the NUL (as policy.h) */
#define AFD_ALERT_TIME_MAX     (INT64_MAX / 4)
#define AFD_ALERT_DURATION_MAX 604800000 /* ms, one week */

enum afd_alert_kind {
    AFD_ALERT_SIZING_CHANGED = 0, /* alertname "AfdSizingRegimeChanged" */
    AFD_ALERT_OFF_BALANCE = 1,    /* alertname "AfdOutsideBalancedBand" */
    AFD_ALERT_PROFILE_DRIFT = 2,  /* alertname "AfdProfileDrift" */
};

enum afd_position {
    AFD_POSITION_BALANCED = 0, /* ratio inside the balanced band */
    AFD_POSITION_UNDER = 1,    /* below it: attention-bound, add Attention */
    AFD_POSITION_OVER = 2,     /* above it: ffn-bound, remove Attention */
};
#define AFD_ALERT_KIND_COUNT 3
/* Relative move of a stage's load that re-bases its drift reference. */
#define AFD_DRIFT_LOAD_TOL 0.35

enum afd_alert_state {
    AFD_ALERT_OK = 0,
    AFD_ALERT_PENDING = 1,   /* condition seen, debounce running */
    AFD_ALERT_FIRING = 2,    /* raised, condition holds */
    AFD_ALERT_RESOLVING = 3, /* raised, condition clear, resolve running */
};

enum afd_alert_action {
    AFD_ALERT_RAISED = 0,
    AFD_ALERT_RESOLVED = 1,
};

struct afd_alert_config {
    int64_t debounce_ms; /* ms a condition must hold to raise, >= 0 */
    int64_t resolve_ms;  /* ms it must stay clear to resolve, >= 0 */
    int64_t warmup_ms;   /* ms from the first evaluation during which the
                            sizing regime is learned silently (the daemon
                            sets 2 * debounce_ms: its calibration starts
                            from the prior and moves most at first; not
                            read from the config file), >= 0 */
    int64_t act_ms;      /* ms the controller needs to act (the daemon sets
                            dwell + ack timeout + cooldown of its policy;
                            not read from the config file), >= 0 */
    double margin;       /* fraction in [0, 1): the balanced band is where
                            the model's throughput is within this fraction
                            of the best (f(r) >= (1 - margin) f(r*)) */
    double drift;        /* fraction in (0, 1): smallest relative change of
                            a stage time that is a drift (default 0.10:
                            below it nothing needs a person) */
};

/* Defaults: debounce 60 s, resolve 300 s, warmup 0, act 0, margin 0.05,
 * drift 0.10. */
void afd_alert_config_init(struct afd_alert_config *cfg);

/* AFD_EINVAL naming the bad field, e.g.
 * "alert field 'debounce_ms' must be in [0, 604800000] ms, got -1". */
int afd_alert_config_check(const struct afd_alert_config *cfg, char *err);

/* One stage's calibrated model and recent measurements (from
 * afd_calib_fit, estimator/calib.h), for the drift alert. */
struct afd_alert_stage {
    bool valid;            /* false: not measured enough, skipped */
    double load;           /* tokens, recent mean load, finite, >= 0 */
    double measured_ms;    /* recent mean measured time at it, finite */
    double measured_hw_ms; /* 95% half-width of measured_ms (noise), >= 0 */
    double a, b;           /* calibrated model now: ms = a*load + b */
    double var[3];         /* its covariance: var(a), cov(a,b), var(b) */
    bool identified;       /* a and b separately known */
};

/* Samples a stage needs before its recent mean is compared: one horizon
 * of afd_calib_fit's recent means. */
#define AFD_DRIFT_MIN_SAMPLES 64

/* Fills out from a calibration fit; valid once AFD_DRIFT_MIN_SAMPLES
 * samples and a residual variance are known. */
void afd_alert_stage_from_fit(const struct afd_calib_fit *f,
                              struct afd_alert_stage *out);

/*
 * The balanced band widened by the model's uncertainty, so that a
 * deployment is not paged on model noise. u is the relative 95% half-width
 * of the step time at r*: afd_alert_model_rel_hw of the stage(s) binding
 * there (attention and ffn at r_A, communication and ffn at r_C, ffn at
 * the peak). A ratio is outside only if its throughput is below the
 * margin even against the best the model allows at r*:
 *     margin' = 1 - (1 - margin) (1 - u),  u clipped to [0, AFD_BAND_U_MAX]
 * A stage with no residual variance yet (fewer than three samples: the
 * model is still the prior) counts as u = AFD_BAND_U_MAX.
 */
#define AFD_BAND_U_MAX 0.5
double afd_alert_band_margin(double margin, double u);
/* 1.96 sqrt(u' V u) / (a x + b), u = (x, 1), V = f->var: the relative 95%
 * half-width of the calibrated stage time at load x (tokens, >= 0);
 * AFD_BAND_U_MAX when unknown (no variance yet, or a time <= 0). */
double afd_alert_model_rel_hw(const struct afd_calib_fit *f, double x);

struct afd_alert_input {
    enum afd_regime sizing;    /* term binding r* (afd_sizing_regime) */
    enum afd_regime predicted; /* model's regime at the current ratio */
    double ratio;              /* current x / y, finite, > 0 */
    double r_star;             /* optimum ratio, finite, > 0 */
    double band_lo, band_hi;   /* balanced band, band_lo <= r_star <= hi */
    double loss;               /* 1 - f(ratio)/f(r*), fraction */
    double lost_per_device;    /* tokens/s per device lost at ratio */
    double lost_tokens_per_s;  /* tokens/s lost by the whole deployment */
    /* aF and bF not identified by the calibration (afd_calib_report):
     * a sizing change to or from ffn is then not a change (0: known). */
    bool ffn_split_unknown;
    /* Per stage (enum afd_regime), for the drift alert; all invalid (a
     * zeroed input) skips it. */
    struct afd_alert_stage stage[AFD_REGIME_COUNT];
};

struct afd_alert_event {
    enum afd_alert_kind kind;
    enum afd_alert_action action;
    const char *alertname; /* static string, see enum afd_alert_kind */
    char deployment[AFD_DEPLOYMENT_LEN];
    enum afd_regime regime;          /* changed: the new sizing regime; off
                                        balance: attention (under) or ffn (over) */
    enum afd_regime previous;        /* stable sizing regime before it */
    enum afd_regime predicted;       /* predicted at the ratio when raised */
    double ratio;                    /* x / y when raised */
    double r_star, band_lo, band_hi; /* optimum and band when raised */
    double loss;                     /* fraction of f(r*) lost */
    double lost_per_device;          /* tokens/s per device */
    double lost_tokens_per_s;        /* tokens/s, whole deployment */
    /* Drift: regime is the stage; measured against the model at a load. */
    double drift_factor;              /* measured_ms / model_ms when raised */
    double measured_ms;               /* recent mean measured stage time, ms */
    double model_ms;                  /* the reference model's time there, ms */
    double model_hw_ms;               /* 95% half-width of the comparison, ms */
    double stage_load;                /* tokens, the load both are taken at */
    char explanation[AFD_REASON_LEN]; /* one line; differs on resolve */
    int64_t start_ms; /* ms, when the condition was first seen */
    int64_t end_ms;   /* ms, resolution time; 0 for RAISED */
};

/* Per kind and evaluation at most: a superseded RESOLVED, a RAISED and,
 * with resolve_ms 0, the changed alert's immediate RESOLVED. */
#define AFD_ALERT_MAX_EVENTS (3 * AFD_ALERT_KIND_COUNT)

struct afd_alert_events {
    size_t n;
    struct afd_alert_event ev[AFD_ALERT_MAX_EVENTS];
};

/* Transition counters of one kind (monotonic, for /metrics). */
struct afd_alert_counters {
    uint64_t pending;    /* pending started (ok -> pending, or new key) */
    uint64_t flaps;      /* pending dropped before the debounce ended */
    uint64_t raised;     /* RAISED events */
    uint64_t resolved;   /* RESOLVED events, superseded included */
    uint64_t superseded; /* resolved because another key raised */
};

struct afd_alert_kind_status {
    enum afd_alert_state state;
    const char *state_name;        /* "ok", "pending", "firing", "resolving" */
    bool firing;                   /* state is firing or resolving */
    struct afd_alert_event active; /* the RAISED event, when firing */
    bool pending;                  /* a (new) condition is debouncing */
    int64_t pending_since;         /* ms, valid when pending */
    struct afd_alert_counters counters;
};

struct afd_alert_status {
    bool has_stable;            /* at least one evaluation accepted */
    enum afd_regime stable;     /* last stable sizing regime */
    enum afd_regime observed;   /* latest sizing regime */
    enum afd_position position; /* latest operating position */
    struct afd_alert_kind_status kind[AFD_ALERT_KIND_COUNT];
    uint64_t invalid_inputs; /* evaluations rejected with AFD_EINVAL */
};

/* "AfdSizingRegimeChanged", "AfdOutsideBalancedBand", "AfdProfileDrift". */
const char *afd_alert_name(enum afd_alert_kind k);
/* "warning" (sizing changed: plan; drift: check the stage) or "critical"
 * (throughput lost now). */
const char *afd_alert_severity(enum afd_alert_kind k);
/* One-line runbook action per kind (static string). */
const char *afd_alert_runbook(enum afd_alert_kind k);
/* "ok", "pending", "firing", "resolving". */
const char *afd_alert_state_name(enum afd_alert_state s);

/*
 * Creates the alerts of one deployment (name non-empty, shorter than
 * AFD_DEPLOYMENT_LEN, copied; cfg checked and copied). NULL and a message
 * in err on failure. Free with afd_alert_free().
 */
struct afd_alerts *afd_alert_new(const char *deployment,
                                 const struct afd_alert_config *cfg, char *err);

/* Frees a; NULL is accepted. */
void afd_alert_free(struct afd_alerts *a);

/*
 * One evaluation. On AFD_OK, out->n events (changed kind first; per kind a
 * superseded RESOLVED precedes the RAISED). On AFD_EINVAL (bad input,
 * decreasing now_ms) out->n = 0 and only invalid_inputs changes.
 */
int afd_alert_eval(struct afd_alerts *a, const struct afd_alert_input *in,
                   int64_t now_ms, struct afd_alert_events *out, char *err);

/*
 * Resolves every firing alert at once (deployment removed or daemon
 * stopping) and drops pending ones; the stable regime is kept.
 * AFD_EINVAL for a decreasing now_ms.
 */
int afd_alert_clear(struct afd_alerts *a, int64_t now_ms,
                    struct afd_alert_events *out, char *err);

/* Read-only snapshot. */
void afd_alert_status(const struct afd_alerts *a, struct afd_alert_status *out);

#endif
