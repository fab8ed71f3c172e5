/*
 * metrics.c - Prometheus text format 0.0.4 for the registry (metrics.h).
 *
 * Families are rows of a table (name, type, help, per-deployment writer);
 * the renderer walks the table and, per family, every deployment, so each
 * family's samples stay together under its HELP/TYPE lines as the format
 * requires.
 */
#include "plugin/daemon/dynamo.h"
#include "plugin/daemon/metrics.h"

#include "plugin/daemon/replication.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/alertmanager.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/snapshot_writer.h"
#include "plugin/rpc/grpc_server.h"

/* One sample line; deployment name escaped at most doubles (2*128). */
#define LINE_MAX_BYTES 1024

struct render {
    struct evbuffer *out;
    int rc;
    const char *family;
    struct afd_control *ctl; /* NULL: no controller rows */
};

/* Appends s escaped as a label value: \ -> \\, " -> \", newline -> \n. */
static size_t escape(char *dst, size_t cap, const char *s)
{
    size_t n = 0;

    for (; *s && n + 2 < cap; s++) {
        if (*s == '\\' || *s == '"') {
            dst[n++] = '\\';
            dst[n++] = *s;
        } else if (*s == '\n') {
            dst[n++] = '\\';
            dst[n++] = 'n';
        } else {
            dst[n++] = *s;
        }
    }
    dst[n] = '\0';
    return n;
}

/*
 * Writes `family{deployment="d"[,key="val"]} value\n`. dep NULL = no
 * deployment label; "" = the orphan row. value is preformatted.
 */
static void line(struct render *r, const char *dep, const char *key,
                 const char *val, const char *value)
{
    char buf[LINE_MAX_BYTES], e1[2 * AFD_NAME_LEN + 2], e2[64];
    int n;

    e1[0] = e2[0] = '\0';
    if (dep)
        escape(e1, sizeof(e1), dep);
    if (key)
        escape(e2, sizeof(e2), val);
    if (dep && key)
        n = snprintf(buf, sizeof(buf), "%s{deployment=\"%s\",%s=\"%s\"} %s\n",
                     r->family, e1, key, e2, value);
    else if (dep)
        n = snprintf(buf, sizeof(buf), "%s{deployment=\"%s\"} %s\n", r->family,
                     e1, value);
    else if (key)
        n = snprintf(buf, sizeof(buf), "%s{%s=\"%s\"} %s\n", r->family, key, e2,
                     value);
    else
        n = snprintf(buf, sizeof(buf), "%s %s\n", r->family, value);
    if (n < 0 || (size_t)n >= sizeof(buf) ||
        evbuffer_add(r->out, buf, (size_t)n) < 0)
        r->rc = AFD_ENOMEM;
}

static void num(struct render *r, const char *dep, const char *key,
                const char *val, double v)
{
    char s[40];

    if (isnan(v))
        snprintf(s, sizeof(s), "NaN");
    else if (isinf(v))
        snprintf(s, sizeof(s), "%cInf", v > 0 ? '+' : '-');
    else
        snprintf(s, sizeof(s), "%.17g", v);
    line(r, dep, key, val, s);
}

static void cnt(struct render *r, const char *dep, const char *key,
                const char *val, uint64_t v)
{
    char s[24];

    snprintf(s, sizeof(s), "%" PRIu64, v);
    line(r, dep, key, val, s);
}

/* ---- per-deployment writers ---- */

#define REC(d)  afd_deployment_recommendation(d)
#define NAME(d) afd_deployment_name(d)

static void w_valid(struct render *r, struct afd_deployment *d)
{
    num(r, NAME(d), NULL, NULL, REC(d)->valid ? 1 : 0);
}

static void w_r_star(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->solution.r_star);
}

static void w_r_star_barrier(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid && REC(d)->solution.has_barrier)
        num(r, NAME(d), NULL, NULL, REC(d)->solution.r_star_barrier);
}

static void w_attention(struct render *r, struct afd_deployment *d)
{
    num(r, NAME(d), NULL, NULL, REC(d)->attention_instances);
}

static void w_ffn(struct render *r, struct afd_deployment *d)
{
    num(r, NAME(d), NULL, NULL, REC(d)->ffn_instances);
}

static void w_target(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->target_attention_instances);
}

static void w_live(struct render *r, struct afd_deployment *d)
{
    num(r, NAME(d), "role", "attention",
        afd_deployment_live_instances(d, AFD_ROLE_ATTENTION));
    num(r, NAME(d), "role", "ffn",
        afd_deployment_live_instances(d, AFD_ROLE_FFN));
}

static void w_regime(struct render *r, struct afd_deployment *d)
{
    int i;

    if (!REC(d)->valid)
        return;
    for (i = 0; i < AFD_REGIME_COUNT; i++)
        num(r, NAME(d), "regime", afd_regime_name((enum afd_regime)i),
            REC(d)->solution.regime == (enum afd_regime)i ? 1 : 0);
}

static void w_current_regime(struct render *r, struct afd_deployment *d)
{
    int i;

    if (!REC(d)->valid)
        return;
    for (i = 0; i < AFD_REGIME_COUNT; i++)
        num(r, NAME(d), "regime", afd_regime_name((enum afd_regime)i),
            REC(d)->current_regime == (enum afd_regime)i ? 1 : 0);
}

static void w_theta(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->theta_source != AFD_THETA_NONE)
        num(r, NAME(d), NULL, NULL, REC(d)->theta);
}

/* Where theta came from: one-hot over every source but none. */
static void w_theta_source(struct render *r, struct afd_deployment *d)
{
    int k;

    if (REC(d)->theta_source == AFD_THETA_NONE)
        return;
    for (k = AFD_THETA_NONE + 1; k < AFD_THETA_SOURCE_COUNT; k++)
        num(r, NAME(d), "source",
            afd_theta_source_name((enum afd_theta_source)k),
            (int)REC(d)->theta_source == k ? 1 : 0);
}

static void w_theta_ci(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->theta_ci > 0)
        num(r, NAME(d), NULL, NULL, REC(d)->theta_ci);
}

static void w_gain_uncertainty(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->gain_uncertainty);
}

static void w_comm_hedged(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->comm_hedged ? 1 : 0);
}

static void w_lean(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->lean ? 1 : 0);
}

/* The rules of controller/policy.h rule 3 the recommendation invokes, one
 * sample each: which bar the next move meets and why the target is where
 * it is, beside the command's reason. */
static void w_move_rule(struct render *r, struct afd_deployment *d)
{
    const struct afd_recommendation *rec = REC(d);

    if (!rec->valid)
        return;
    num(r, NAME(d), "rule", "lean_held", rec->lean_held ? 1 : 0);
    num(r, NAME(d), "rule", "refit", rec->refit ? 1 : 0);
    num(r, NAME(d), "rule", "old_requests", rec->old_requests ? 1 : 0);
}

static void w_stood(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->stood_ms / 1e3);
}

static void w_sigma(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->has_sigma)
        num(r, NAME(d), NULL, NULL, REC(d)->sigma);
}

static void w_batch(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->batch > 0)
        num(r, NAME(d), NULL, NULL, REC(d)->batch);
}

static void w_spread(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid && REC(d)->solution.has_barrier)
        num(r, NAME(d), NULL, NULL, REC(d)->load_spread);
}

static void w_noise(struct render *r, struct afd_deployment *d)
{
    int i;

    if (!REC(d)->valid)
        return;
    for (i = 0; i < AFD_REGIME_COUNT; i++)
        num(r, NAME(d), "stage", afd_regime_name((enum afd_regime)i),
            REC(d)->stage_cv[i]);
}

static void w_gain(struct render *r, struct afd_deployment *d)
{
    if (REC(d)->valid)
        num(r, NAME(d), NULL, NULL, REC(d)->expected_gain);
}

static void w_throughput(struct render *r, struct afd_deployment *d)
{
    if (!REC(d)->valid)
        return;
    /* Prometheus base unit: seconds (the model works in ms). */
    num(r, NAME(d), "at", "current", REC(d)->throughput_current * 1000);
    num(r, NAME(d), "at", "target", REC(d)->throughput_target * 1000);
}

static void w_coef(struct render *r, struct afd_deployment *d)
{
    int i;

    for (i = 0; i < AFD_COEF_COUNT; i++)
        num(r, NAME(d), "coef", afd_coef_name((enum afd_coef)i),
            REC(d)->calib.value[i]);
}

static void w_coef_calibrated(struct render *r, struct afd_deployment *d)
{
    int i;

    for (i = 0; i < AFD_COEF_COUNT; i++)
        num(r, NAME(d), "coef", afd_coef_name((enum afd_coef)i),
            REC(d)->calib.calibrated[i] ? 1 : 0);
}

static void w_coef_ci(struct render *r, struct afd_deployment *d)
{
    int i;

    for (i = 0; i < AFD_COEF_COUNT; i++)
        num(r, NAME(d), "coef", afd_coef_name((enum afd_coef)i),
            REC(d)->calib.ci[i]);
}

static void w_shifts(struct render *r, struct afd_deployment *d)
{
    cnt(r, NAME(d), NULL, NULL, REC(d)->shifts);
}

static void w_observed(struct render *r, struct afd_deployment *d)
{
    double ms[AFD_REGIME_COUNT];
    int i;

    afd_deployment_observed_stage_ms(d, ms);
    for (i = 0; i < AFD_REGIME_COUNT; i++)
        if (afd_deployment_stage_measured(d, (enum afd_regime)i))
            num(r, NAME(d), "stage", afd_regime_name((enum afd_regime)i),
                ms[i] / 1000);
}

static void w_calib_samples(struct render *r, struct afd_deployment *d)
{
    int i;

    for (i = 0; i < AFD_REGIME_COUNT; i++)
        cnt(r, NAME(d), "stage", afd_regime_name((enum afd_regime)i),
            REC(d)->calib.samples[i]);
}

static void w_steps(struct render *r, struct afd_deployment *d)
{
    struct afd_deployment_counters c;

    afd_deployment_counters(d, &c);
    cnt(r, NAME(d), NULL, NULL, c.steps_accepted);
}

static void w_requests(struct render *r, struct afd_deployment *d)
{
    struct afd_deployment_counters c;

    afd_deployment_counters(d, &c);
    cnt(r, NAME(d), NULL, NULL, c.requests_accepted);
}

static void w_rejected(struct render *r, struct afd_deployment *d)
{
    struct afd_deployment_counters c;
    int i;

    afd_deployment_counters(d, &c);
    for (i = 1; i < AFD_REJECT_COUNT; i++)
        cnt(r, NAME(d), "reason",
            afd_reject_reason_name((enum afd_reject_reason)i), c.rejected[i]);
}

static void w_recomputes(struct render *r, struct afd_deployment *d)
{
    struct afd_deployment_counters c;

    afd_deployment_counters(d, &c);
    cnt(r, NAME(d), NULL, NULL, c.recomputes);
}

/* ---- controller (plugin/daemon/control.h); rows only once evaluated ---- */

static bool ctl_status(const struct render *r, struct afd_deployment *d,
                       struct afd_control_status *st)
{
    return r->ctl && afd_control_status(r->ctl, d, st);
}

static void w_cmd_issued(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.issued);
}

static void w_cmd_acked(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.acked);
}

static void w_cmd_failed(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.failed);
}

static void w_cmd_timed_out(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.timed_out);
}

static void w_cmd_advisories(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.advisories);
}

static void w_cmd_stale(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.stale_acks);
}

static void w_ctl_invalid(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.policy.counters.invalid_inputs);
}

static void w_last_cmd(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.last_command_id);
}

/* Label values of enum afd_policy_state, Prometheus-friendly. */
static const char *const policy_states[] = {"idle", "dwelling", "in_flight",
                                            "cooldown", "backoff"};

static void w_ctl_state(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;
    size_t i;

    if (!ctl_status(r, d, &st))
        return;
    for (i = 0; i < sizeof(policy_states) / sizeof(policy_states[0]); i++)
        num(r, NAME(d), "state", policy_states[i],
            (size_t)st.policy.state == i ? 1 : 0);
}

static void w_ctl_clock(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        num(r, NAME(d), NULL, NULL, st.clock_ms / 1000.0);
}

static void w_ctl_evals(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;

    if (ctl_status(r, d, &st))
        cnt(r, NAME(d), NULL, NULL, st.evaluations);
}

/* `family{deployment="d",alertname="a"[,kind="k"]} value`. */
static void alert_line(struct render *r, struct afd_deployment *d,
                       const char *alertname, const char *kind,
                       const char *value)
{
    char buf[LINE_MAX_BYTES], e1[2 * AFD_NAME_LEN + 2];
    int n;

    escape(e1, sizeof(e1), NAME(d));
    if (kind)
        n = snprintf(buf, sizeof(buf),
                     "%s{deployment=\"%s\",alertname=\"%s\",kind=\"%s\"} %s\n",
                     r->family, e1, alertname, kind, value);
    else
        n = snprintf(buf, sizeof(buf),
                     "%s{deployment=\"%s\",alertname=\"%s\"} %s\n", r->family,
                     e1, alertname, value);
    if (n < 0 || (size_t)n >= sizeof(buf) ||
        evbuffer_add(r->out, buf, (size_t)n) < 0)
        r->rc = AFD_ENOMEM;
}

static void w_transitions(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;
    char v[24];
    int k;

    if (!ctl_status(r, d, &st))
        return;
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++) {
        const struct afd_alert_counters *c = &st.alerts.kind[k].counters;
        const char *name = afd_alert_name((enum afd_alert_kind)k);
        const char *kinds[] = {"pending", "flap", "raised", "resolved",
                               "superseded"};
        const uint64_t vals[] = {c->pending, c->flaps, c->raised, c->resolved,
                                 c->superseded};
        size_t i;

        for (i = 0; i < 5; i++) {
            snprintf(v, sizeof(v), "%" PRIu64, vals[i]);
            alert_line(r, d, name, kinds[i], v);
        }
    }
}

static void w_firing(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;
    int k;

    if (!ctl_status(r, d, &st))
        return;
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++)
        alert_line(r, d, afd_alert_name((enum afd_alert_kind)k), NULL,
                   st.alerts.kind[k].firing ? "1" : "0");
}

/* The alerts' own view (alert.h): the term binding r* and the position of
 * the ratio against the balanced band, once evaluated. */
static void w_sizing_regime(struct render *r, struct afd_deployment *d)
{
    struct afd_control_status st;
    int i;

    if (!ctl_status(r, d, &st) || !st.alerts.has_stable)
        return;
    for (i = 0; i < AFD_REGIME_COUNT; i++)
        num(r, NAME(d), "regime", afd_regime_name((enum afd_regime)i),
            st.alerts.observed == (enum afd_regime)i ? 1 : 0);
}

static void w_position(struct render *r, struct afd_deployment *d)
{
    static const char *const names[] = {"balanced", "under", "over"};
    struct afd_control_status st;
    int i;

    if (!ctl_status(r, d, &st) || !st.alerts.has_stable)
        return;
    for (i = 0; i < 3; i++)
        num(r, NAME(d), "position", names[i],
            (int)st.alerts.position == i ? 1 : 0);
}

typedef void (*writer_fn)(struct render *r, struct afd_deployment *d);

struct family {
    const char *name;
    const char *type;
    const char *help;
    writer_fn write;
};

static const struct family families[] = {
    {"afd_recommendation_valid", "gauge",
     "1 when the deployment has enough data for a recommendation", w_valid},
    {"afd_r_star", "gauge",
     "Mean-field optimal Attention/FFN ratio r* (continuous)", w_r_star},
    {"afd_r_star_barrier", "gauge",
     "Barrier-aware optimal ratio x/y (integer x)", w_r_star_barrier},
    {"afd_attention_instances", "gauge",
     "Current Attention instances x (live or configured)", w_attention},
    {"afd_ffn_instances", "gauge",
     "Current FFN instances y (live, configured, or 1)", w_ffn},
    {"afd_target_attention_instances", "gauge",
     "Recommended Attention instances for the current FFN count", w_target},
    {"afd_live_instances", "gauge",
     "Instances heard from within the liveness window", w_live},
    {"afd_regime", "gauge",
     "Bottleneck stage at r* (one-hot over attention, communication, ffn)",
     w_regime},
    {"afd_current_regime", "gauge",
     "Bottleneck stage at the current ratio x/y (one-hot over attention, "
     "communication, ffn)",
     w_current_regime},
    {"afd_theta_tokens", "gauge", "Time-averaged per-slot token load theta",
     w_theta},
    {"afd_sigma_tokens", "gauge",
     "Standard deviation of the per-slot token load", w_sigma},
    {"afd_theta_source", "gauge",
     "Where theta came from (one-hot: requests, live_loads, forecast after "
     "a workload shift, planner's traffic means)",
     w_theta_source},
    {"afd_theta_ci95_tokens", "gauge",
     "95% half-width of theta: the shift forecast's or the mean live "
     "load's (absent when unknown)",
     w_theta_ci},
    {"afd_batch_slots", "gauge",
     "Decode slots per Attention instance B used by the solve", w_batch},
    {"afd_load_spread_tokens", "gauge",
     "Spread of per-instance loads used in the barrier term", w_spread},
    {"afd_stage_noise_cv", "gauge",
     "Per-step noise of each stage's time used by the barrier model "
     "(coefficient of variation of the calibration's residuals; 0 below 2%)",
     w_noise},
    {"afd_expected_gain", "gauge",
     "Model throughput gain of the target over the current count "
     "(target/current - 1)",
     w_gain},
    {"afd_expected_gain_uncertainty", "gauge",
     "95% half-width of afd_expected_gain from the identified coefficients' "
     "calibration intervals; no command for a gain below it",
     w_gain_uncertainty},
    {"afd_comm_hedged", "gauge",
     "1 when the comm mode is not yet identified and the target hedges "
     "over both modes",
     w_comm_hedged},
    {"afd_lean_target", "gauge",
     "1 when the target is a lean move: fewer Attention instances for at "
     "most 1% of throughput now, fewer requests in flight at the next shift",
     w_lean},
    {"afd_move_rule", "gauge",
     "1 when a sizing rule applies: lean_held (a move up releases a lean "
     "move, at half the gain threshold), refit (the count was sized "
     "partly on the prior: a correction at half the threshold), "
     "old_requests (the target waits for the old requests in flight)",
     w_move_rule},
    {"afd_stood_seconds", "gauge",
     "Seconds the Attention count and the workload have stood still (0 "
     "during a shift); past cooldown + settle_s a move needs "
     "settled_gain_threshold",
     w_stood},
    {"afd_model_throughput_tokens_per_second", "gauge",
     "Model throughput per device (tokens/s) at the current and target "
     "counts",
     w_throughput},
    {"afd_coefficient", "gauge",
     "Latency coefficient in use (model units: ms, ms per token)", w_coef},
    {"afd_coefficient_calibrated", "gauge",
     "1 when the coefficient was learned from telemetry, 0 for the prior",
     w_coef_calibrated},
    {"afd_coefficient_ci_half_width", "gauge",
     "95% confidence half-width of the coefficient (model units); at least "
     "the value itself while not identifiable from the loads seen",
     w_coef_ci},
    {"afd_workload_shifts_total", "counter",
     "Workload shifts detected from step samples (CUSUM on token loads and "
     "stage times)",
     w_shifts},
    {"afd_observed_stage_seconds", "gauge",
     "Running mean (EWMA) of measured stage times", w_observed},
    {"afd_calibration_samples_total", "counter",
     "Stage-time samples fed to the calibration", w_calib_samples},
    {"afd_telemetry_steps_accepted_total", "counter",
     "Decode-step samples accepted", w_steps},
    {"afd_telemetry_requests_accepted_total", "counter",
     "Finished requests accepted", w_requests},
    {"afd_telemetry_rejected_total", "counter",
     "Telemetry items rejected, by reason (deployment=\"\" when no known "
     "deployment)",
     w_rejected},
    {"afd_recomputes_total", "counter", "Recommendation recomputations",
     w_recomputes},
    {"afd_commands_issued_total", "counter", "Scale commands issued",
     w_cmd_issued},
    {"afd_commands_acked_total", "counter",
     "Scale commands acknowledged as done", w_cmd_acked},
    {"afd_commands_failed_total", "counter",
     "Scale commands acknowledged as failed", w_cmd_failed},
    {"afd_commands_timed_out_total", "counter",
     "Scale commands without an ack before the ack timeout", w_cmd_timed_out},
    {"afd_command_advisories_total", "counter",
     "Decisions reported in advisory mode (not issued)", w_cmd_advisories},
    {"afd_command_stale_acks_total", "counter",
     "Acks for a command no longer in flight (late or repeated)", w_cmd_stale},
    {"afd_controller_invalid_inputs_total", "counter",
     "Policy steps or acks rejected as invalid (a bug or a bad ack time)",
     w_ctl_invalid},
    {"afd_last_command_id", "gauge", "Id of the latest scale command issued",
     w_last_cmd},
    {"afd_controller_state", "gauge",
     "Scaling policy state (one-hot: idle, dwelling, in_flight, cooldown, "
     "backoff)",
     w_ctl_state},
    {"afd_controller_clock_seconds", "gauge",
     "Controller clock of the deployment (wall or telemetry time), seconds "
     "since the Unix epoch",
     w_ctl_clock},
    {"afd_controller_evaluations_total", "counter",
     "Controller evaluations (policy step and alert evaluation)", w_ctl_evals},
    {"afd_regime_transitions_total", "counter",
     "Regime alert state machine transitions, by alert and kind (pending, "
     "flap, raised, resolved, superseded)",
     w_transitions},
    {"afd_alerts_firing", "gauge", "1 while the regime alert is firing",
     w_firing},
    {"afd_sizing_regime", "gauge",
     "1 for the term binding the optimum r* (attention = r_A, communication "
     "= r_C, ffn = r_peak)",
     w_sizing_regime},
    {"afd_operating_position", "gauge",
     "1 for the position of x/y against the balanced band (balanced, under, "
     "over)",
     w_position},
};

static void header(struct render *r, const char *name, const char *type,
                   const char *help)
{
    r->family = name;
    if (evbuffer_add_printf(r->out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
                            name, type) < 0)
        r->rc = AFD_ENOMEM;
}

static void orphans(struct render *r, struct afd_registry *reg)
{
    uint64_t o[AFD_REJECT_COUNT];
    int i;

    afd_registry_orphan_rejects(reg, o);
    for (i = 1; i < AFD_REJECT_COUNT; i++)
        cnt(r, "", "reason", afd_reject_reason_name((enum afd_reject_reason)i),
            o[i]);
}

/* The snapshot writer's counters, when periodic snapshots are on. */
static void snapshot_metrics(struct render *r, struct afd_snapshot_writer *w)
{
    struct afd_snapshot_writer_stats s;

    if (!w)
        return;
    afd_snapshot_writer_stats(w, &s);
    header(r, "afd_snapshot_writes_total", "counter",
           "Periodic snapshot writes by result (failed: old file kept)");
    cnt(r, NULL, "result", "ok", s.written);
    cnt(r, NULL, "result", "failed", s.failed);
    header(r, "afd_snapshot_skipped_total", "counter",
           "Periodic snapshots skipped: the previous write was still running");
    cnt(r, NULL, NULL, NULL, s.skipped);
    header(r, "afd_snapshot_last_write_ok", "gauge",
           "1 when the latest snapshot write succeeded (or none failed yet)");
    cnt(r, NULL, NULL, NULL, s.last_error[0] ? 0 : 1);
}

/* Server streams (WatchCommands, WatchAlerts, KEDA, health): open and
 * refused at limits.max_streams. */
static void stream_metrics(struct render *r, struct afd_grpc_server *g)
{
    size_t open;
    uint64_t refused;

    if (!g)
        return;
    afd_grpc_server_streams(g, &open, &refused);
    header(r, "afd_grpc_streams_open", "gauge",
           "Server-streaming calls open (watchers), all clients");
    cnt(r, NULL, NULL, NULL, open);
    header(r, "afd_grpc_streams_refused_total", "counter",
           "Server streams refused with RESOURCE_EXHAUSTED at "
           "limits.max_streams");
    cnt(r, NULL, NULL, NULL, refused);
}

/* Delivery counters of the Alertmanager module, when one is configured. */
static void alertmanager_metrics(struct render *r, struct afd_alertmanager *am)
{
    struct afd_alertmanager_stats s;
    size_t i;
    const struct {
        const char *name, *help;
        const uint64_t *v;
    } rows[] = {
        {"afd_alertmanager_posted_total", "Alert events queued for delivery",
         &s.posted},
        {"afd_alertmanager_sent_total",
         "Alerts put in requests to Alertmanager (re-sends included)", &s.sent},
        {"afd_alertmanager_delivered_total",
         "Alerts in requests Alertmanager answered 2xx", &s.delivered},
        {"afd_alertmanager_batches_total", "Requests Alertmanager answered 2xx",
         &s.batches},
        {"afd_alertmanager_failures_total",
         "Requests that failed (connection, timeout, non-2xx)", &s.failures},
        {"afd_alertmanager_dropped_total",
         "Deliveries dropped (queue full or rejected with 400)", &s.dropped},
        {"afd_alertmanager_resends_total",
         "Firing alerts queued again by the resend timer", &s.resends},
    };

    if (!am)
        return;
    afd_alertmanager_stats(am, &s);
    for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        header(r, rows[i].name, "counter", rows[i].help);
        cnt(r, NULL, NULL, NULL, *rows[i].v);
    }
    header(r, "afd_alertmanager_active_alerts", "gauge",
           "Firing alerts re-sent periodically");
    cnt(r, NULL, NULL, NULL, s.active);
    header(r, "afd_alertmanager_pending", "gauge",
           "Deliveries queued or in flight");
    cnt(r, NULL, NULL, NULL, s.pending);
}

int afd_metrics_render(const struct afd_metrics_src *src, struct evbuffer *out)
{
    struct render r = {out, AFD_OK, NULL, src->ctl};
    struct afd_registry *reg = src->reg;
    size_t i, j, n = afd_registry_count(reg);

    /* One reservation up front: about 4 KiB per deployment. */
    evbuffer_expand(out, 4096 + n * 4096);
    header(&r, "afd_build_info", "gauge", "afd-sizer build information");
    line(&r, NULL, "version", AFD_VERSION, "1");
    header(&r, "afd_deployments", "gauge", "Deployments known");
    cnt(&r, NULL, NULL, NULL, n);
    for (i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
        header(&r, families[i].name, families[i].type, families[i].help);
        for (j = 0; j < n; j++)
            families[i].write(&r, afd_registry_at(reg, j));
        if (families[i].write == w_rejected)
            orphans(&r, reg);
    }
    alertmanager_metrics(&r, src->am);
    snapshot_metrics(&r, src->writer);
    stream_metrics(&r, src->grpc);
    afd_dynamo_metrics(src->dynamo, out);
    afd_replication_metrics(src->repl, out);
    return r.rc;
}
