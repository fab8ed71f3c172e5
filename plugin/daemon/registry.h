/*
 * registry.h - live state of every deployment the daemon sizes.
 *
 * A deployment owns its workload estimator (estimator/workload.h), its
 * latency calibrator (estimator/calib.h), the table of instances seen
 * recently (id, role, last load, last seen) and its latest recommendation.
 * Telemetry goes in item by item: a bad item is rejected with a reason (for
 * the /metrics counters and the ReportSummary) and changes nothing; the
 * items around it are kept.
 *
 * Time is passed in (now_ms, the daemon's clock in ms) so that the module
 * is testable and the controller can run on telemetry time. Use
 * wall-clock ms (CLOCK_REALTIME): instance last-seen times are snapshotted,
 * and a restart within the liveness window must find them still live.
 *
 * Documented choices: telemetry bounds and the request
 * count before theta comes from requests are in
 * plugin/daemon/registry_internal.h (AFD_MAX_TOKENS 1e12, AFD_MAX_STAGE_MS 1e7,
 * AFD_MAX_BATCH 1e6, AFD_MIN_REQUESTS_FOR_THETA 50); y is 1 until an FFN
 * instance reports; recompute (and tick) expire unseen instances first;
 * observed stage means are EWMAs with weight 1/64 per sample
 * (AFD_STAGE_EWMA_ALPHA). Private structures and snapshot helpers:
 * plugin/daemon/registry_internal.h.
 *
 * Threading: one owner. Every function is called from the daemon's event
 * loop thread only (gRPC handlers hand their decoded messages to the loop).
 * Ownership: afd_registry_new / afd_registry_free. Deployment pointers stay
 * valid until afd_registry_free.
 */
#ifndef AFD_REGISTRY_H
#define AFD_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimator/calib.h"
#include "estimator/shift.h"
#include "estimator/solver.h"
#include "estimator/workload.h"
#include "plugin/daemon/config.h"

enum afd_role {
    AFD_ROLE_ATTENTION = 0,
    AFD_ROLE_FFN = 1,
};

/*
 * One instance's report of one decode step. Stage times of 0 mean "not
 * measured" (no real stage takes 0 ms); an Attention instance usually
 * reports attention_ms and comm_ms, an FFN instance ffn_ms and ffn_tokens.
 */
struct afd_step_sample {
    const char *instance_id; /* non-empty, < AFD_NAME_LEN bytes */
    enum afd_role role;
    uint64_t step;        /* the instance's step counter */
    double batch_size;    /* active decode slots (Attention), >= 0 */
    double token_load;    /* tokens, T_j = sum of slot loads (Attention) */
    double attention_ms;  /* measured Attention stage time, ms */
    double comm_ms;       /* measured A->F + F->A communication, ms */
    double ffn_ms;        /* measured FFN stage time, ms */
    double ffn_tokens;    /* tokens through this FFN instance (FFN role) */
    int64_t timestamp_ms; /* sender's clock, ms since the Unix epoch */
};

/* Why an item was rejected; the names are /metrics label values. */
enum afd_reject_reason {
    AFD_REJECT_NONE = 0,      /* accepted */
    AFD_REJECT_NOT_FINITE,    /* "not_finite": NaN or infinite */
    AFD_REJECT_NEGATIVE,      /* "negative" */
    AFD_REJECT_OUT_OF_RANGE,  /* "out_of_range": absurdly large, decode < 1 */
    AFD_REJECT_MISSING_FIELD, /* "missing_field": empty id or deployment */
    AFD_REJECT_UNKNOWN_DEPLOYMENT, /* "unknown_deployment": auto-create off */
    AFD_REJECT_CAPACITY,           /* "capacity": deployment/instance limit */
    AFD_REJECT_MALFORMED,          /* "malformed": undecodable message */
    AFD_REJECT_UNAUTHENTICATED,    /* "unauthenticated" */
};
#define AFD_REJECT_COUNT 9

const char *afd_reject_reason_name(enum afd_reject_reason r);

/* Where the solve took theta from. */
enum afd_theta_source {
    AFD_THETA_NONE = 0,   /* no data yet */
    AFD_THETA_REQUESTS,   /* finished requests (renewal-reward sums) */
    AFD_THETA_LIVE_LOADS, /* mean live per-instance load / B */
    AFD_THETA_FORECAST,   /* new workload's, during a shift (transient.h) */
    AFD_THETA_PLANNER,    /* a planner's traffic means (no telemetry yet) */
    AFD_THETA_SOURCE_COUNT
};

/* "none", "requests", "live_loads", "forecast", "planner" (metric labels);
 * "unknown" out of range. */
const char *afd_theta_source_name(enum afd_theta_source s);

struct afd_recommendation {
    bool valid;                 /* false until the data suffice */
    char why_not[256];          /* when !valid: what is missing, in words */
    int64_t computed_ms;        /* when it was computed (daemon clock) */
    struct afd_profile profile; /* the (calibrated) profile used */
    struct afd_calib_report calib;
    uint64_t shifts;           /* workload shifts detected from steps */
    int64_t last_shift_ms;     /* telemetry clock of the last one; 0 none */
    int last_shift_direction;  /* +1 load/time up, -1 down, 0 none */
    const char *last_shift_on; /* signal that fired, "" none */
    enum afd_theta_source theta_source;
    /* THETA_SOURCE_FORECAST only: its 95% relative half-width is under
     * AFD_FORECAST_CONFIDENT (the controller then skips its dwell). */
    bool theta_confident;
    double theta; /* tokens */
    /* 95% half-width of theta, tokens: the forecast's (its mean decode
     * length's interval) or the live loads' (their mean's); 0 unknown. */
    double theta_ci;
    /* How long theta's own fluctuations last, ms: one request lifetime for
     * live loads once finished requests have measured it (young_ms), 0
     * otherwise. The controller's dwell is at least this. */
    int64_t theta_settle_ms;
    double sigma; /* tokens; has_sigma false if unknown */
    bool has_sigma;
    double batch;         /* B used, slots */
    bool spread_measured; /* barrier spread from live loads */
    double load_spread;   /* tokens, sd of T_j used in the barrier */
    /* Per-step noise of each stage's time (coefficient of variation, by
     * enum afd_regime) the barrier model uses: the calibration's residuals
     * relative to the time predicted, 0 below 2%, held through shifts and
     * re-fits (noise.c). */
    double stage_cv[AFD_REGIME_COUNT];
    uint64_t requests;              /* finished requests seen */
    int attention_instances;        /* current x (live or configured) */
    int ffn_instances;              /* current y (live, configured, or 1) */
    int target_attention_instances; /* barrier-aware x, else mean-field x */
    double throughput_current;      /* model tokens/ms/device at current x */
    double throughput_target;       /* model tokens/ms/device at target */
    double expected_gain; /* throughput_target/throughput_current - 1 */
    /* 95% half-width of expected_gain from the identified coefficients'
     * calibration intervals (recommend.c); the controller does not act on
     * a gain below it. */
    double gain_uncertainty;
    /*
     * Regime binding at the current ratio x/y (afd_regime_at, mean-field,
     * this model): which stage limits the fleet now. solution.regime is the
     * regime at r*, usually a balance point labelled by the solver's tie
     * rule ("attention"), which says nothing about the fleet. Set when valid.
     */
    enum afd_regime current_regime;
    struct afd_solution solution;
    /* Comm mode (profile.comm_mode) learnt from our own moves
     * (estimator/comm_mode.h); until then, when the two modes disagree on
     * the count, comm_hedged says the target is the count with the smaller
     * worst-case loss over both and profile is that mode's hypothesis. */
    bool comm_mode_identified;
    bool comm_hedged;
    /* The target is a lean move (recommend.c's band_target): below x, on
     * a flat stretch, at most 1% under the optimum's throughput, for a
     * count we have not moved since the last shift; expected_gain <= 0 is
     * its cost (the controller's rule, controller/policy.h). */
    bool lean;
    /* The count is held for the old workload's requests still in flight:
     * they outlive the new phase's many times over, and a scale-in to the
     * new workload's count would hand them back to a fleet sized for
     * short ones (recommend.c, old_requests). */
    bool old_requests;
    /* How long the count and the workload have stood still, ms: since the
     * later of x's last change and the last shift's start; 0 while a
     * shift's transient is open or its forecast sets theta, and until
     * live loads have shown a count (recommend.c, stood). The
     * controller holds a count that has stood long to a higher bar
     * (controller/policy.h, settled). */
    int64_t stood_ms;
    bool shifted; /* a shift's transient has started since it appeared
                     (before a restart too: the snapshot keeps it) */
    /* x was set by a lean move, and a shift has begun since: the lean's
     * bet on the next shift is off if that shift wants more instances
     * (controller/policy.h rule 3, lean_held). */
    bool lean_held;
    /* We asked for x's count since the shift began, and the calibration
     * has identified a coefficient since that it had not then (the move
     * was sized partly on the prior): a correction needs half the gain
     * threshold until the count settles (controller/policy.h rule 3,
     * refit). */
    bool refit;
    /* The live mean load per slot's change over its last window of one
     * request lifetime (at least 5 s), a fraction of where it stood; a
     * shift's forecast outlasts its usual end while the live estimate
     * comes toward it by more than 1% a window (forecast.c,
     * converging). */
    double live_trend;
    /* "config", "telemetry", "planner" or "" (static strings). */
    const char *attention_source;
};

/*
 * What an external planner observes of a deployment (Dynamo's
 * PipelineContext, plugin/daemon/svc_dynamo.c): the Attention pool's ready
 * workers and the traffic's mean input and output lengths, 0 = not
 * observed. Used only where the deployment's own telemetry is absent:
 * ready as x while no Attention row is live, the lengths as theta
 * (geometric decode) before any live load or finished request; the
 * recommendation names the source.
 */
struct afd_planner_obs {
    int ready_attention;
    double isl, osl; /* tokens */
};

/* Per-deployment counters (monotonic). */
struct afd_deployment_counters {
    uint64_t steps_accepted;
    uint64_t requests_accepted;
    uint64_t rejected[AFD_REJECT_COUNT];
    uint64_t recomputes;
};

struct afd_registry;
struct afd_deployment;

/*
 * Creates the registry and every deployment named in cfg. cfg must outlive
 * the registry. NULL on failure with the reason in err.
 */
struct afd_registry *afd_registry_new(const struct afd_config *cfg, char *err);
void afd_registry_free(struct afd_registry *reg);

/* The named deployment or NULL. */
struct afd_deployment *afd_registry_find(struct afd_registry *reg,
                                         const char *name);
/*
 * The named deployment, created with the default settings when the config
 * allows auto-creation. AFD_ENOTFOUND (auto-create off), AFD_ENOMEM (limit
 * reached), AFD_EINVAL (empty or too long name).
 */
int afd_registry_get(struct afd_registry *reg, const char *name,
                     struct afd_deployment **out, char *err);

size_t afd_registry_count(const struct afd_registry *reg);
struct afd_deployment *afd_registry_at(struct afd_registry *reg, size_t i);

/*
 * Telemetry in. Returns AFD_REJECT_NONE when accepted, else the reason with
 * a message in err; a rejected item changes no state except the counter.
 * Unknown deployments are counted in the registry's own counters.
 */
enum afd_reject_reason afd_registry_add_step(struct afd_registry *reg,
                                             const char *deployment,
                                             const struct afd_step_sample *s,
                                             int64_t now_ms, char *err);
enum afd_reject_reason afd_registry_add_request(struct afd_registry *reg,
                                                const char *deployment,
                                                double prompt, double decode,
                                                char *err);
/*
 * The same (same checks, counters and telemetry-clock hook) for a batch of
 * items naming one deployment: *d caches it (NULL before the first item;
 * keep passing the same name). A request's weight is FinishedRequest.weight
 * (0 = 1; afd_registry_add_request passes 1). It is resolved, or auto-created,
 * at the first valid item only, so a batch of invalid items creates nothing.
 */
enum afd_reject_reason afd_deployment_add_step(struct afd_registry *reg,
                                               struct afd_deployment **d,
                                               const char *deployment,
                                               const struct afd_step_sample *s,
                                               int64_t now_ms, char *err);
enum afd_reject_reason afd_deployment_add_request(struct afd_registry *reg,
                                                  struct afd_deployment **d,
                                                  const char *deployment,
                                                  double prompt, double decode,
                                                  double weight, char *err);
/* Counts a rejection decided outside the registry (malformed, auth). */
void afd_registry_count_reject(struct afd_registry *reg, const char *deployment,
                               enum afd_reject_reason reason);
/* Rejections not attributable to a known deployment. */
void afd_registry_orphan_rejects(const struct afd_registry *reg,
                                 uint64_t out[AFD_REJECT_COUNT]);

/*
 * Expires instances unseen for the liveness window and recomputes every
 * deployment's recommendation. Called from the loop's timer.
 */
void afd_registry_tick(struct afd_registry *reg, int64_t now_ms);

const char *afd_deployment_name(const struct afd_deployment *d);
const struct afd_deployment_config *
afd_deployment_config(const struct afd_deployment *d);

/* Recomputes now (on demand); the result is also kept as the latest. */
const struct afd_recommendation *
afd_deployment_recompute(struct afd_deployment *d, int64_t now_ms);
/* The latest recommendation (recomputed by tick or on demand). */
const struct afd_recommendation *
afd_deployment_recommendation(const struct afd_deployment *d);

void afd_deployment_counters(const struct afd_deployment *d,
                             struct afd_deployment_counters *out);

/*
 * Mean measured stage times (ms) over recent steps, indexed by enum
 * afd_regime; false when no stage time was measured yet. For the regime
 * alerts (observed regime = the largest).
 */
bool afd_deployment_observed_stage_ms(const struct afd_deployment *d,
                                      double ms[AFD_REGIME_COUNT]);
/* True once at least one time of that stage was measured. */
bool afd_deployment_stage_measured(const struct afd_deployment *d,
                                   enum afd_regime stage);

/* Our command that removed `instances` Attention instances (added, when
 * negative) was applied now: their requests are handed back (the shift
 * forecast's slot ledger, slots.c), and the count is ours: no lean move
 * from now on (recommend.c). */
void afd_deployment_note_release(struct afd_deployment *d, int instances);

/* We asked for a lean move to `target` Attention instances (a command or
 * an advisory the planner may apply): once x reaches it, the count is
 * lean-held after the next shift (rec->lean_held, recommend.c). */
void afd_deployment_note_lean(struct afd_deployment *d, int target);

/* We asked for a count now (a command or an advisory): what the
 * calibration had identified then is kept for rec->refit. */
void afd_deployment_note_command(struct afd_deployment *d, int64_t now_ms);

/* Stores what the planner observed (replaces the previous observation). */
void afd_deployment_set_planner_obs(struct afd_deployment *d,
                                    const struct afd_planner_obs *o);

/* Live instances of a role within the liveness window at the last tick. */
int afd_deployment_live_instances(const struct afd_deployment *d,
                                  enum afd_role role);

/*
 * Telemetry clock (controller clock "telemetry", plugin/daemon/control.h). Once
 * set, a deployment's clock is the largest timestamp_ms of the step samples
 * it accepted (0 before any), instance last-seen times use that clock
 * instead of now_ms, and each time an accepted sample moves the clock to or
 * past the deployment's next evaluation boundary (the next multiple of
 * interval_ms; the first accepted sample always does) fn(d, clock, arg)
 * runs synchronously inside afd_registry_add_step, after the sample was
 * applied and before it returns. fn may recompute d but must not add
 * telemetry. Without it (wall clock) the clock is the now_ms of the latest
 * accepted step. interval_ms > 0.
 */
typedef void (*afd_registry_eval_fn)(struct afd_deployment *d, int64_t clock_ms,
                                     void *arg);
void afd_registry_set_telemetry_clock(struct afd_registry *reg,
                                      int64_t interval_ms,
                                      afd_registry_eval_fn fn, void *arg);
/* True once afd_registry_set_telemetry_clock was called. */
bool afd_registry_telemetry_clock(const struct afd_registry *reg);
/* The deployment's clock as above, ms. */
int64_t afd_deployment_clock_ms(const struct afd_deployment *d);

/*
 * The controller's state of one deployment (struct afd_dep_control, defined
 * and owned by control.c), kept here so that evaluating a deployment needs
 * no second lookup. The registry never looks inside it.
 */
struct afd_dep_control;
void afd_deployment_set_control(struct afd_deployment *d,
                                struct afd_dep_control *ctl);
struct afd_dep_control *afd_deployment_control(const struct afd_deployment *d);

/* The estimators, for snapshots (plugin/daemon/snapshot.h). */
struct afd_workload *afd_deployment_workload(struct afd_deployment *d);
struct afd_calib *afd_deployment_calib(struct afd_deployment *d);

#endif
