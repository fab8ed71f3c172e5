/*
 * control.h - the daemon's controller glue: one scaling policy
 * (controller/policy.h) and one set of regime alerts (controller/alert.h)
 * per deployment, evaluated on the controller clock, with the decisions
 * handed to a sink (the gRPC watchers) and the alert events also posted to
 * Alertmanager (plugin/daemon/alertmanager.h) when one is attached.
 *
 * Evaluation of one deployment at now_ms (afd_control_evaluate):
 *   1. recompute its recommendation at now_ms (registry.h);
 *   2. valid: afd_policy_step with x, y, the target (barrier-aware when the
 *      barrier model has a spread) and the model throughputs at both; a
 *      COMMAND or ADVISORY decision goes to the sink and the history ring.
 *      Not valid: afd_policy_expire (ack timeouts still run);
 *   3. measured stage means (afd_deployment_observed_stage_ms) and the
 *      regime the model predicts at the current x/y -> afd_alert_eval; each
 *      event goes to the sink and to Alertmanager with the current r*.
 *
 * Clock (config "controller.clock"):
 *   wall      - now_ms = CLOCK_REALTIME ms; the daemon's timer calls
 *               afd_control_tick every eval_interval_ms.
 *   telemetry - a deployment's clock is its largest accepted step
 *               timestamp_ms (registry.h); the registry calls the
 *               evaluation synchronously inside ingest at each boundary
 *               crossing, and the wall timer evaluates nothing, so the same
 *               telemetry in the same order gives the same decisions. Acks
 *               are stamped with the deployment's clock. Time stands still
 *               without telemetry: ack timeouts, dwell, cooldown and alert
 *               debounce only advance as samples arrive.
 * Alert start/end times are on the same clock: Unix-epoch ms in wall mode
 * and, in telemetry mode, the senders' timestamps (epoch ms by the wire
 * contract), which is what Alertmanager receives.
 *
 * Snapshotted (afd_control_export/import, snapshot.h): the id sequence,
 * the command in flight and the cooldown/backoff deadlines, so a restart
 * or a new HA leader neither reuses an id nor loses an un-acked command.
 * Alert machines start fresh.
 *
 * HA (plugin/ha/ha.h): with a leader gate set, a replica that is not the
 * leader recomputes its recommendations (reads stay current) but runs no
 * policy and no alerts; every command carries the leader's epoch.
 *
 * Ownership and threads: afd_control_new / afd_control_free; the registry
 * and cfg must outlive it; the control state of each deployment is created
 * on first use and hung on the deployment (afd_deployment_set_control).
 * Everything runs on the daemon's loop thread; nothing here does I/O
 * except through the sink and the attached Alertmanager module.
 */
#ifndef AFD_CONTROL_H
#define AFD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/alert.h"
#include "controller/policy.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/registry.h"

struct afd_alertmanager;

/* Commands kept per deployment for the API (newest last). */
#define AFD_CONTROL_HISTORY 64

/* A decision as sent on the wire (ScaleCommand). */
struct afd_control_command {
    struct afd_command cmd; /* id 0 for advisory reports */
    double r_star;          /* mean-field r* of the recommendation */
    double r_star_barrier;  /* barrier-aware ratio, 0 when unknown */
    bool advisory;
    int64_t leader_epoch; /* HA fencing token when issued, 0 without HA */
};

/* Where decisions and alert events go (both optional). */
struct afd_control_sink {
    void (*command)(const struct afd_control_command *c, void *arg);
    void (*alert)(const struct afd_alert_event *ev, double r_star, void *arg);
    void *arg;
};

/* Per-deployment view for /metrics and the API. */
struct afd_control_status {
    struct afd_policy_status policy;
    struct afd_alert_status alerts;
    int64_t clock_ms;         /* the deployment's controller clock */
    uint64_t last_command_id; /* latest issued id, 0 if none */
    uint64_t evaluations;     /* afd_control_evaluate runs */
    uint64_t policy_errors;   /* steps or acks the policy rejected */
};

struct afd_control;

/*
 * Checks cfg->controller and cfg->alerting against the pure modules' rules
 * and, with the telemetry clock, registers the evaluation hook on reg.
 * NULL with the reason in err.
 */
struct afd_control *afd_control_new(const struct afd_config *cfg,
                                    struct afd_registry *reg, char *err);
void afd_control_free(struct afd_control *c);

void afd_control_set_sink(struct afd_control *c,
                          const struct afd_control_sink *sink);
/* Alert events are also posted to am (may be NULL; not owned). */
void afd_control_set_alertmanager(struct afd_control *c,
                                  struct afd_alertmanager *am);

/* The attached Alertmanager module (NULL when none), for /metrics. */
struct afd_alertmanager *afd_control_alertmanager(const struct afd_control *c);

bool afd_control_telemetry_clock(const struct afd_control *c);
bool afd_control_advisory(const struct afd_control *c);
/* True when the Dynamo planner actuates d (config_dynamo.h): its decisions
 * are advisory on WatchCommands; Propose carries them. */
bool afd_control_external(struct afd_control *c, struct afd_deployment *d);
int afd_control_eval_interval_ms(const struct afd_control *c);

/*
 * The controller clock of d: the telemetry clock, or wall_ms (never below
 * the last time the deployment's policy saw, so it never goes back).
 */
int64_t afd_control_now_ms(struct afd_control *c, struct afd_deployment *d,
                           int64_t wall_ms);

/* One evaluation of d at now_ms (see the top). AFD_ENOMEM when its state
 * cannot be created; decisions the policy rejects are counted, not
 * returned. */
int afd_control_evaluate(struct afd_control *c, struct afd_deployment *d,
                         int64_t now_ms);

/*
 * The owner of recomputation while the daemon runs. Wall clock: recomputes
 * every deployment's recommendation at wall_ms and, once per
 * eval_interval_ms, evaluates them (afd_control_evaluate). Telemetry clock:
 * nothing (evaluation is driven by ingest). Call it every
 * afd_control_tick_interval_ms: min(recompute_interval_ms,
 * eval_interval_ms).
 */
void afd_control_tick(struct afd_control *c, int64_t wall_ms);
int afd_control_tick_interval_ms(const struct afd_control *c);

/*
 * The ack of command id of d, stamped with the controller clock.
 * AFD_OK: accepted. Otherwise a message in err and: AFD_ENOTFOUND (id never
 * issued), AFD_ESTATE (already acked or timed out), AFD_EINVAL (id 0).
 */
int afd_control_ack(struct afd_control *c, struct afd_deployment *d,
                    uint64_t id, bool success, const char *detail,
                    int64_t wall_ms, char *err);

/* The command in flight for d, if any (for a new watcher). */
bool afd_control_in_flight(struct afd_control *c, struct afd_deployment *d,
                           struct afd_control_command *out);

/* The latest issued command id of d (0 when none or no state). */
uint64_t afd_control_last_command_id(struct afd_control *c,
                                     struct afd_deployment *d);

/*
 * The Attention count KEDA should serve for d, given the recommendation:
 * advisory mode - the recommendation's target (its current x before it is
 * valid); command mode - the in-flight command's target, else the last
 * successfully acked target, else the current x. 0 when unknown.
 */
int afd_control_keda_target(struct afd_control *c, struct afd_deployment *d,
                            const struct afd_recommendation *rec);

/* Calls fn for each alert of d firing now (for a new WatchAlerts). */
void afd_control_foreach_firing(struct afd_control *c, struct afd_deployment *d,
                                void (*fn)(const struct afd_alert_event *ev,
                                           double r_star, void *arg),
                                void *arg);

/* Status of d; false when d has no control state yet (never evaluated). */
bool afd_control_status(struct afd_control *c, struct afd_deployment *d,
                        struct afd_control_status *out);

/*
 * Up to cap commands of d, oldest first, from the history ring (issued and
 * advisory). Returns how many were written.
 */
size_t afd_control_history(struct afd_control *c, struct afd_deployment *d,
                           struct afd_control_command *out, size_t cap);

/* What a snapshot keeps of d's control state (see the top). */
struct afd_control_saved {
    struct afd_policy_saved policy;
    bool has_issued;                        /* last_issued is set */
    struct afd_control_command last_issued; /* the latest issued command */
    int acked_target;                       /* last successful ack, 0 */
};

/* The checks of the control-level fields of s (the last issued command's
 * id below next_id, the acked target in range); the policy's own are
 * afd_policy_import's. AFD_EINVAL with the reason. */
int afd_control_saved_check(const struct afd_control_saved *s, char *err);

/* d's state; false when d has none yet (never evaluated). */
bool afd_control_export(struct afd_deployment *d,
                        struct afd_control_saved *out);
/* Resumes d from s (policy.h afd_policy_import's rules). AFD_ENOMEM,
 * AFD_EINVAL with the reason in err; nothing changes on error. */
int afd_control_import(struct afd_control *c, struct afd_deployment *d,
                       const struct afd_control_saved *s, char *err);

/*
 * The HA leader gate: leader(arg, &epoch) true = this replica may command
 * now with that fencing epoch. NULL leader: always (single node, epoch 0).
 */
void afd_control_set_leader_gate(struct afd_control *c,
                                 bool (*leader)(void *arg, int64_t *epoch),
                                 void *arg);

/*
 * The balanced band recorded with d's latest decision (issued or advisory):
 * the band step 3 computed in the evaluation that made it, the one the
 * out-of-band alert uses: ratios lo <= r_star <= hi (x/y) where the
 * model's throughput per device is >= (1 - loss) times the best, loss the
 * alert margin widened by the model's uncertainty (controller/alert.h);
 * barrier model when the target is barrier-aware. ffn is the y they scale
 * by. Tied to decisions so that it moves only when the policy acts (its
 * dwell and gain threshold), not with every estimate. False before the
 * first decision, or when that evaluation had no band. The Dynamo
 * CONSTRAIN answer reads it (plugin/daemon/dynamo.h).
 */
struct afd_control_band {
    double lo, hi; /* ratios x/y */
    double r_star; /* the target's ratio (barrier-aware when known) */
    double loss;   /* fraction of the best throughput given up at the edges */
    int ffn;       /* y */
};
bool afd_control_band(struct afd_control *c, struct afd_deployment *d,
                      struct afd_control_band *out);

#endif
