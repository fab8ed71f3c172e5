/*
 * registry_internal.h - the registry's private structures, shared by
 * registry.c (tables, telemetry), registry_check.c (validation),
 * recommend.c (the recommendation), forecast.c (a shift's transient),
 * slots.c (the slot ledger) and registry_state.c (state as plain values
 * for plugin/daemon/snapshot.c and tests).
 * Not part of the daemon's API: other modules use registry.h.
 *
 * Instance table: open addressing, power-of-two slots, linear probing,
 * backward-shift deletion; hash 0 marks an empty slot (real hashes are odd).
 * Load factor <= 3/4. n_role[] counts rows per role and is kept exact by
 * every insert, role change and removal.
 *
 * Export reads a deployment's instance table and observed stage means;
 * import replaces them. Import validates everything first and changes
 * nothing on error. Same thread rules as registry.h: the loop thread only.
 */
#ifndef AFD_REGISTRY_INTERNAL_H
#define AFD_REGISTRY_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "estimator/comm_mode.h"
#include "estimator/load_tracker.h"
#include "estimator/transient.h"
#include "plugin/daemon/registry.h"
#include "plugin/sys/os.h"

/* One row of the instance table. */
struct afd_instance_state {
    char id[AFD_NAME_LEN];
    enum afd_role role;
    double token_load;    /* tokens, last reported T_j */
    double batch_size;    /* slots, last reported */
    int64_t last_seen_ms; /* daemon clock when last heard from */
};

/* Running means of measured stage times, indexed by enum afd_regime. */
struct afd_stage_means {
    double ms[AFD_REGIME_COUNT];  /* EWMA of the stage time, ms */
    uint64_t n[AFD_REGIME_COUNT]; /* samples folded in (0 = unmeasured) */
};

/* Weight of a new stage time in the observed means (about 64 samples). */
#define AFD_STAGE_EWMA_ALPHA (1.0 / 64.0)
#define AFD_INITIAL_SLOTS    16
/* Bounds of one request lifetime, the time a just-joined row's load is
 * not yet the workload's (recommend.c); the lower one until it is known. */
#define AFD_YOUNG_MIN_MS 5000
#define AFD_YOUNG_MAX_MS 120000

struct afd_instance {
    uint64_t hash; /* 0 = empty slot (real hashes are forced odd) */
    enum afd_role role;
    double token_load;
    double batch_size;
    int64_t last_seen_ms;
    int64_t first_seen_ms; /* when the row appeared; 0 restored or unknown */
    uint64_t last_step;    /* its step counter at its last sample; 0 none */
    double step_base;      /* deployment step clock minus its counter */
    char id[AFD_NAME_LEN];
};

/* Shift-detector channels (estimator/shift.h), named in reports. */
enum {
    AFD_SHIFT_ON_LOAD = 0,   /* an Attention instance's token load */
    AFD_SHIFT_ON_ATTENTION,  /* attention stage time, ms */
    AFD_SHIFT_ON_FFN_TOKENS, /* tokens reaching an FFN instance */
    AFD_SHIFT_ON_FFN,        /* ffn stage time, ms */
};

/* The current step time, ms: the slowest stage's recent mean (0 unknown). */
double afd_deployment_step_ms(const struct afd_deployment *d);

/* The slot ledger (slots.c): delta slots added (> 0) or handed back (< 0)
 * now; how many of the next finished requests, `weight` of them, admitted
 * a new request (the rest resumed handed-back ones: consumes the backlog);
 * an expired Attention row of `batch` slots (one released by our acked
 * command, afd_deployment_note_release, was counted then). */
void afd_slots_changed(struct afd_deployment *d, double delta);
double afd_slots_admits(struct afd_deployment *d, double weight);
/* Before each finished request: a new report's window when the telemetry
 * clock has moved since the last one (d->req_from, d->req_step_clock). */
void afd_slots_report(struct afd_deployment *d);
void afd_slots_row_gone(struct afd_deployment *d, double batch);
/* Advances d->step_clock for step sample s of row (before d->clock_ms
 * moves to now_ms). */
void afd_slots_step_clock(struct afd_deployment *d,
                          const struct afd_step_sample *s,
                          struct afd_instance *row, int64_t now_ms);

/* Copies the shift detector's state into rec (recommend.c). */
void afd_deployment_shift_report(const struct afd_deployment *d,
                                 struct afd_recommendation *rec);

struct afd_deployment {
    struct afd_registry *reg;
    struct afd_deployment_config cfg;
    uint64_t hash;
    struct afd_workload *workload;
    struct afd_calib *calib;
    struct afd_shift shift;       /* workload shifts from step samples */
    struct afd_load_tracker load; /* theta from live loads (recommend.c) */
    struct afd_comm_mode_tracker comm;
    struct afd_planner_obs planner;         /* an external planner's view */
    struct afd_transient transient;         /* theta forecast after a shift */
    uint64_t transient_shifts;              /* load-channel detections seen */
    int64_t transient_start_ms;             /* the candidate's detection time */
    struct afd_transient_forecast forecast; /* the last one */
    bool has_forecast;
    bool forecast_frozen;     /* our scale-in since it started (slots.c) */
    int64_t forecast_ms;      /* when it was last refreshed; 0 never */
    bool transient_confirmed; /* the live estimate moved since the start */
    int transient_last_x;     /* x at the previous recompute */
    /* Requests in flight far longer than the new phase's (forecast.c,
     * old_requests): old_outlive this recompute, old_seen since this
     * shift began; shift_cut: x lowered since it began. live_theta and
     * live_spread: the live estimate before the forecast replaced it. */
    bool old_outlive, old_seen, shift_cut;
    double live_theta, live_spread;
    /* The calibration's identified coefficients (bit AFD_COEF_*) at our
     * last command, and when that was (0: never), for recommend.c's
     * refit. */
    unsigned ident_at_cmd;
    int64_t cmd_ms;
    /* Per-step stage noise (noise.c, noise_hold): the value in use,
     * once set, and the steady estimate waiting to replace it. */
    bool noise_set;
    double noise_cv[AFD_REGIME_COUNT];
    int64_t noise_pending_ms; /* 0: none pending */
    int64_t noise_misfit_ms;  /* the last recompute a fit was off */
    double noise_pending[AFD_REGIME_COUNT];
    /* The slot ledger (slots.c): handed-back requests waiting; instances
     * released by acked commands whose rows have not expired yet. */
    double backlog;
    int released;
    bool released_seen;    /* an acked release since the last x drop */
    int64_t x_changed_ms;  /* when x last changed */
    bool unmoved;          /* no command of ours applied since the deployment
                              appeared (a lean move is a first size's; kept
                              across restarts: snapshot.c) */
    bool shift_seen;       /* a shift was detected since the deployment
                              appeared (kept across restarts too) */
    int lean_target;       /* the last lean move's count asked for, until x
                              reaches it or a shift begins (0: none) */
    int lean_x;            /* x, when a lean move set it (0: not) */
    int64_t lean_ms;       /* when x last changed to lean_x */
    int hold_x;            /* x at the previous recompute */
    int64_t hold_until_ms; /* live theta held after a scale-in
                              (recommend.c); no new shift candidate
                              before (forecast.c) */
    int64_t wait_until_ms; /* live theta held too, not the shift
                              detection: handed-back requests still wait,
                              or did a lifetime ago */
    /* the barrier spread the solve uses (sd of T_j, tokens): the tracker's
     * smoothed one, the live one while held; spread_n its sample count
     * (instances x lifetimes averaged) for its uncertainty */
    double spread_use;
    double spread_n;
    double transient_ref;   /* live theta before the shift */
    double burst_seen;      /* the closure end skipped (forecast.c) */
    double prev_live_theta; /* live theta at the previous recompute */
    /* the raw live theta at the last window's end, that end, and its
     * change over the window, a fraction (afd_deployment_live_trend) */
    double live_mark;
    int64_t live_mark_ms;
    double live_trend;
    int64_t young_ms; /* a row younger than this is just-joined */
    /* Finished-request stamps on the step clock (decode steps so far,
     * advanced by the stage step time as telemetry time passes). */
    double step_clock;
    bool step_counters; /* samples carry step counters: the clock is theirs */
    int64_t req_clock_ms;
    double req_step_clock, req_from; /* the last report's window */
    double req_weight;               /* its finished requests so far */
    bool drain_pending;              /* the backlog drained in it (slots.c) */
    double drain_weight;             /* at that weight of req_weight */
    /* comm mode from our own moves */
    int comm_x;                 /* x at the previous recompute */
    struct afd_instance *slots; /* power-of-two table */
    size_t n_slots;
    size_t n_instances;
    int n_role[2]; /* rows per role in the table */
    struct afd_stage_means stages;
    struct afd_deployment_counters counters;
    struct afd_recommendation rec;
    int64_t clock_ms;     /* largest accepted timestamp (see registry.h) */
    int64_t next_eval_ms; /* telemetry clock: next evaluation boundary */
    struct afd_dep_control *control; /* control.c's state, not owned */
};

struct afd_registry {
    const struct afd_config *cfg;
    struct afd_deployment **deps; /* creation order, max_deployments */
    size_t n_deps;
    struct afd_deployment **index; /* open addressing by name hash */
    size_t n_index;
    struct afd_deployment *last; /* one-entry lookup cache */
    uint64_t orphan[AFD_REJECT_COUNT];
    /* telemetry clock (registry.h); eval_fn NULL = wall clock */
    int64_t eval_interval_ms;
    afd_registry_eval_fn eval_fn;
    void *eval_arg;
    struct afd_owner owner; /* the thread that created it: the loop */
};

/* 64-bit string hash (odd, never 0); *len gets strlen(s). */
uint64_t afd_registry_hash(const char *s, size_t *len);
/* Smallest power of two >= n and >= AFD_INITIAL_SLOTS. */
size_t afd_registry_slots_for(size_t n);
/* The empty slot where a row with hash h goes (table not full). */
struct afd_instance *afd_registry_slot_place(struct afd_instance *slots,
                                             size_t n, uint64_t h);
/* AFD_REJECT_NONE or the reason a step sample is invalid (message in err). */
enum afd_reject_reason afd_step_sample_check(const struct afd_step_sample *s,
                                             char *err);
/* The same for a finished request (prompt and decode tokens). */
enum afd_reject_reason afd_request_check(double prompt, double decode,
                                         double weight, char *err);
/* Drops rows unseen for longer than the liveness window. */
void afd_deployment_expire(struct afd_deployment *d, int64_t now_ms);
/* Current x (override or rows) and y (override, rows, else 1). */
int afd_deployment_current_x(const struct afd_deployment *d);
int afd_deployment_current_y(const struct afd_deployment *d);

/* Number of rows in the instance table. */
size_t afd_deployment_instance_count(const struct afd_deployment *d);

/*
 * Copies at most cap rows into out (any order); returns how many were
 * written.
 */
size_t afd_deployment_instances_export(const struct afd_deployment *d,
                                       struct afd_instance_state *out,
                                       size_t cap);

/*
 * Checks rows for import: ids non-empty, unique, shorter than AFD_NAME_LEN;
 * known roles; loads and batches finite, >= 0 and within the telemetry
 * bounds; n <= the registry's max_instances. AFD_EINVAL with the row named.
 */
int afd_instances_check(const struct afd_registry *reg,
                        const struct afd_instance_state *rows, size_t n,
                        char *err);

/*
 * Replaces d's instance table with rows (checked with afd_instances_check
 * first). AFD_EINVAL or AFD_ENOMEM; d unchanged on error.
 */
int afd_deployment_instances_import(struct afd_deployment *d,
                                    const struct afd_instance_state *rows,
                                    size_t n, char *err);

void afd_deployment_stage_means_export(const struct afd_deployment *d,
                                       struct afd_stage_means *out);
/* AFD_EINVAL on NaN or negative means; d unchanged on error. */
int afd_stage_means_check(const struct afd_stage_means *in, char *err);
void afd_deployment_stage_means_import(struct afd_deployment *d,
                                       const struct afd_stage_means *in);

/*
 * Creates a deployment named name even when auto-create is off (a snapshot
 * knew it). AFD_ENOMEM at max_deployments, AFD_EINVAL for a bad name.
 */
int afd_registry_create(struct afd_registry *reg, const char *name,
                        struct afd_deployment **out, char *err);

/*
 * AFD_OK when name can name a deployment: non-empty, < AFD_NAME_LEN bytes
 * (AFD_EINVAL), valid UTF-8 (AFD_EPARSE).
 */
int afd_deployment_name_check(const char *name, char *err);

/* The configured deployment limit. */
size_t afd_registry_max_deployments(const struct afd_registry *reg);

/* Until when the live estimate is held (recommend.c): the hold after a
 * drop, or while handed-back requests wait, whichever is later. */
static inline int64_t afd_deployment_held_until(const struct afd_deployment *d)
{
    return d->hold_until_ms > d->wait_until_ms ? d->hold_until_ms
                                               : d->wait_until_ms;
}

/*
 * How long the requests in flight still run, in decode steps: their mean
 * residual decode (plus the step they are in) when that is longer than the
 * mean decode. The same for a geometric decode length; 2.2x the mean on
 * the arXiv trace and 2.8x on Azure code, whose long requests hold their
 * slots long after the mean request has left. It times what waits for the
 * requests already in flight to leave: the hold after our scale-in (its
 * handed-back requests) and the forecast's end (the old phase's). Measured
 * on a day of public traces: on the mean, both lifted 30 s after a shift
 * from arXiv summarization with its requests still in the slots, and the
 * live estimate scaled the fleet 5 -> 12 -> 9 -> 6.
 */
static inline double afd_request_lifetime(double mean_decode,
                                          double mean_residual)
{
    return fmax(mean_decode, mean_residual + 1);
}

/* After our scale-in in this shift, old requests that outlive the new
 * ones are still in flight: the live estimate, live_theta, is more than
 * 10% above the forecast. The forecast does not end on its lifetimes
 * meanwhile (forecast.c), and no raise is made (recommend.c,
 * old_requests, whose scale-in waits while carrying them does not pay). */
static inline bool afd_deployment_old_wait(const struct afd_deployment *d,
                                           double live_theta)
{
    return d->old_seen && d->shift_cut && live_theta > 1.1 * d->forecast.theta;
}

/* The shift transient (forecast.c), once per recompute from recommend.c:
 * afd_deployment_live_trend first, with the raw mean live load per slot;
 * then afd_deployment_forecast_update with the theta the live loads give,
 * the finished requests' mean decode (0 unknown) and the requests in
 * flight's lifetime in steps. It returns true while the shift's forecast
 * (d->forecast) is the theta to size for, and then sets old_outlive. */
/* noise.c: rec->stage_cv, the per-step stage noise the model uses (the
 * calibration's, held through shifts and re-fits), at now_ms. */
void afd_deployment_stage_noise(struct afd_deployment *d, int64_t now_ms);

void afd_deployment_live_trend(struct afd_deployment *d, int64_t now_ms,
                               double live_theta);
bool afd_deployment_forecast_update(struct afd_deployment *d, int64_t now_ms,
                                    double live_theta, double old_decode,
                                    double old_life);

/* Minimum finished requests before theta and sigma come from requests. */
#define AFD_MIN_REQUESTS_FOR_THETA 50

/* Telemetry bounds (beyond them a value is "out_of_range"). */
#define AFD_MAX_TOKENS   1e12 /* tokens: loads, prompt, decode */
#define AFD_MAX_STAGE_MS 1e7  /* ms: about 2.8 hours for one stage */
#define AFD_MAX_BATCH    1e6  /* decode slots on one instance */
/* Largest step timestamp with the telemetry clock: 9999-12-31, ms. */
#define AFD_MAX_TIMESTAMP_MS 253402300799999LL

#endif
