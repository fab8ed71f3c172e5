/*
 * alert.h - regime alerts for one deployment, with debounce.
 *
 * Owns: two small alert state machines per deployment and the last stable
 * observed regime. The caller evaluates it on each telemetry window and
 * forwards the events (to Alertmanager: raised = startsAt, resolved =
 * endsAt) - this module does no I/O.
 *
 * Observed regime: the caller passes the measured mean stage times and
 * afd_regime_observed() picks the largest (the stage that sets the step
 * time); afd_alert_eval keeps the previously observed regime until another
 * stage is larger than it by more than cfg.margin. On an exact tie attention
 * wins over communication over ffn, as in solver.h (the flatter stage in r
 * wins). Passing times instead of a regime lets the explanations quote the
 * measurements.
 *
 * Two alert kinds (design decision: both, one machine each):
 *   AfdRegimeChanged  - the observed bottleneck differs from the last stable
 *       observed regime: the bottleneck moved, which operators want to be
 *       told. The first evaluation sets the stable regime silently. When the
 *       alert raises, the new regime becomes the stable one, so the alert
 *       resolves once the new regime has held for resolve_ms: it is a
 *       notification that stays up at least resolve_ms.
 *   AfdRegimeMismatch - the observed regime differs from the one the model
 *       predicts at the current ratio: model or profile drift. It stays up
 *       while they differ and resolves resolve_ms after they agree.
 *
 * The machine of each kind, evaluated with `active` (condition holds) and a
 * key (changed: the observed regime; mismatch: the pair observed,
 * predicted) at now_ms:
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
 * Typical use, once per telemetry window: fill attention_ms / comm_ms /
 * ffn_ms from the measured stage means, predicted = afd_regime_at(input,
 * x / y), ratio = x / y; afd_alert_eval(); post each event (RAISED with
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

#include "estimator/solver.h"

#define AFD_DEPLOYMENT_LEN     128 /* bytes with the NUL (as policy.h) */
#define AFD_REASON_LEN         256 /* bytes with the NUL (as policy.h) */
#define AFD_ALERT_TIME_MAX     (INT64_MAX / 4)
#define AFD_ALERT_DURATION_MAX 604800000 /* ms, one week */

enum afd_alert_kind {
    AFD_ALERT_REGIME_CHANGED = 0,  /* alertname "AfdRegimeChanged" */
    AFD_ALERT_REGIME_MISMATCH = 1, /* alertname "AfdRegimeMismatch" */
};
#define AFD_ALERT_KIND_COUNT 2

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
    double margin;       /* fraction in [0, 1]: another stage must exceed the
                            currently observed one by this much to become
                            the observed regime (hysteresis: at the optimum
                            the two stages are equal by design and a bare
                            argmax would flap) */
};

/* Defaults: debounce 60 s, resolve 300 s, margin 0.05. */
void afd_alert_config_init(struct afd_alert_config *cfg);

/* AFD_EINVAL naming the bad field, e.g.
 * "alert field 'debounce_ms' must be in [0, 604800000] ms, got -1". */
int afd_alert_config_check(const struct afd_alert_config *cfg, char *err);

struct afd_alert_input {
    double attention_ms;       /* measured mean Attention stage time, ms */
    double comm_ms;            /* measured mean communication time, ms */
    double ffn_ms;             /* measured mean FFN stage time, ms */
    enum afd_regime predicted; /* model's regime at the current ratio */
    double ratio;              /* current x / y, finite, > 0 */
};

/*
 * The regime set by the largest stage time (ties as in the header block).
 * Times must be finite and >= 0, not all 0: AFD_EINVAL otherwise.
 */
int afd_regime_observed(double attention_ms, double comm_ms, double ffn_ms,
                        enum afd_regime *out, char *err);

struct afd_alert_event {
    enum afd_alert_kind kind;
    enum afd_alert_action action;
    const char *alertname; /* static string, see enum afd_alert_kind */
    char deployment[AFD_DEPLOYMENT_LEN];
    enum afd_regime regime;           /* observed regime the alert is about */
    enum afd_regime previous;         /* stable observed regime before it */
    enum afd_regime predicted;        /* predicted at the ratio when raised */
    double ratio;                     /* x / y when raised */
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
    bool has_stable;          /* at least one evaluation accepted */
    enum afd_regime stable;   /* last stable observed regime */
    enum afd_regime observed; /* latest observed regime */
    struct afd_alert_kind_status kind[AFD_ALERT_KIND_COUNT];
    uint64_t invalid_inputs; /* evaluations rejected with AFD_EINVAL */
};

/* "AfdRegimeChanged", "AfdRegimeMismatch". */
const char *afd_alert_name(enum afd_alert_kind k);
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
