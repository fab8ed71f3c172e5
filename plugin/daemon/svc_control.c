/*
 * svc_control.c - the controller half of afd.sizer.v1.Sizer: WatchCommands
 * and WatchAlerts (server streams fed by plugin/daemon/control.h's sink) and
 * AckCommand.
 *
 * A watcher names one deployment or none (= all). A named deployment that
 * does not exist yet is accepted when deployments are auto-created (an
 * actuator may connect before its first telemetry) and NOT_FOUND
 * otherwise. On connect a command watcher gets the command in flight (if
 * any) and an alert watcher the alerts firing now; afterwards each gets
 * every new event of its deployment(s). Messages go through the layer's
 * bounded per-call queue: a watcher too slow for it is ended with
 * RESOURCE_EXHAUSTED and reconnects.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/replication.h"
#include "plugin/daemon/services.h"
#include "proto/afd_sizer.pb-c.h"

#define PATH_WATCH_COMMANDS "/afd.sizer.v1.Sizer/WatchCommands"
#define PATH_WATCH_ALERTS   "/afd.sizer.v1.Sizer/WatchAlerts"

struct watcher {
    char deployment[AFD_NAME_LEN]; /* "" = all */
};

static bool wants(const struct watcher *w, const char *deployment)
{
    return !w->deployment[0] || !strcmp(w->deployment, deployment);
}

static void fill_command(Afd__Sizer__V1__ScaleCommand *m,
                         const struct afd_control_command *cc)
{
    afd__sizer__v1__scale_command__init(m);
    m->id = cc->cmd.id;
    m->deployment = (char *)cc->cmd.deployment;
    m->current_attention_instances = cc->cmd.current;
    m->target_attention_instances = cc->cmd.target;
    m->ffn_instances = cc->cmd.ffn;
    m->regime = (char *)afd_regime_name(cc->cmd.regime);
    m->r_star = cc->r_star;
    m->r_star_barrier = cc->r_star_barrier;
    m->expected_gain = cc->cmd.expected_gain;
    m->reason = (char *)cc->cmd.reason;
    m->issued_ms = cc->cmd.issued_ms;
    m->advisory = cc->advisory;
    m->leader_epoch = cc->leader_epoch;
}

static void fill_alert(Afd__Sizer__V1__RegimeAlert *m,
                       const struct afd_alert_event *ev, double r_star)
{
    afd__sizer__v1__regime_alert__init(m);
    m->alertname = (char *)ev->alertname;
    m->deployment = (char *)ev->deployment;
    m->action = ev->action == AFD_ALERT_RAISED ? "raised" : "resolved";
    m->regime = (char *)afd_regime_name(ev->regime);
    m->previous_regime = (char *)afd_regime_name(ev->previous);
    m->predicted_regime = (char *)afd_regime_name(ev->predicted);
    m->ratio = ev->ratio;
    m->r_star = r_star == r_star ? r_star : 0; /* NaN: unknown */
    m->explanation = (char *)ev->explanation;
    m->start_ms = ev->start_ms;
    m->end_ms = ev->end_ms;
    m->severity = (char *)afd_alert_severity(ev->kind);
    m->runbook = (char *)afd_alert_runbook(ev->kind);
    m->band_lo = ev->band_lo;
    m->band_hi = ev->band_hi;
    m->loss = ev->loss;
    m->tokens_per_s_lost_per_device = ev->lost_per_device;
    m->tokens_per_s_lost = ev->lost_tokens_per_s;
    m->drift_factor = ev->drift_factor;
    m->measured_ms = ev->measured_ms;
    m->model_ms = ev->model_ms;
    m->model_half_width_ms = ev->model_hw_ms;
    m->stage_load = ev->stage_load;
}

struct send_ctx {
    const char *deployment;
    const ProtobufCMessage *msg;
};

static void send_one(struct afd_grpc_call *call, void *arg)
{
    struct send_ctx *s = arg;
    struct watcher *w = afd_grpc_call_data(call);

    /* A full queue ends the stream in the layer; nothing else to do. */
    if (w && wants(w, s->deployment))
        afd_grpc_send(call, s->msg);
}

void afd_svc_control_command(struct afd_svc_env *env,
                             const struct afd_control_command *cc)
{
    Afd__Sizer__V1__ScaleCommand m;
    struct send_ctx s;

    fill_command(&m, cc);
    s.deployment = cc->cmd.deployment;
    s.msg = &m.base;
    afd_grpc_server_foreach(env->grpc, PATH_WATCH_COMMANDS, send_one, &s);
}

void afd_svc_control_alert(struct afd_svc_env *env,
                           const struct afd_alert_event *ev, double r_star)
{
    Afd__Sizer__V1__RegimeAlert m;
    struct send_ctx s;

    fill_alert(&m, ev, r_star);
    s.deployment = ev->deployment;
    s.msg = &m.base;
    afd_grpc_server_foreach(env->grpc, PATH_WATCH_ALERTS, send_one, &s);
}

/*
 * Validates the name and attaches a watcher; false after finishing the
 * call. *dep is the deployment when it exists now (else NULL).
 */
static bool start_watch(struct afd_grpc_call *call, const char *name, void *ctx,
                        struct afd_deployment **dep)
{
    struct afd_registry *reg = afd_svc_env(ctx)->reg;
    struct afd_deployment *d = NULL;
    struct watcher *w;

    name = name ? name : "";
    *dep = NULL;
    if (strlen(name) >= AFD_NAME_LEN) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT,
                        "deployment name must be shorter than %d bytes",
                        AFD_NAME_LEN);
        return false;
    }
    if (name[0]) {
        d = afd_registry_find(reg, name);
        if (!d && !afd_svc_env(ctx)->cfg->auto_create_deployments) {
            afd_grpc_finish(call, AFD_GRPC_NOT_FOUND, "unknown deployment '%s'",
                            name);
            return false;
        }
    }
    w = calloc(1, sizeof(*w));
    if (!w) {
        afd_grpc_finish(call, AFD_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return false;
    }
    snprintf(w->deployment, sizeof(w->deployment), "%s", name);
    afd_grpc_call_set_data(call, w, free);
    *dep = d;
    return true;
}

static void send_in_flight(struct afd_grpc_call *call, void *ctx,
                           struct afd_deployment *d)
{
    struct afd_replication *repl = afd_svc_env(ctx)->repl;
    struct afd_control_command cc;
    Afd__Sizer__V1__ScaleCommand m;
    int64_t epoch;

    if (!afd_control_in_flight(afd_svc_env(ctx)->ctl, d, &cc))
        return;
    /* HA: a new leader offers its predecessor's un-acked command again
     * under its own epoch (same id: apply once, ack once). */
    if (repl && afd_replication_gate(repl, &epoch))
        cc.leader_epoch = epoch;
    fill_command(&m, &cc);
    afd_grpc_send(call, &m.base);
}

static void watch_commands(struct afd_grpc_call *call,
                           const ProtobufCMessage *msg, void *ctx)
{
    const Afd__Sizer__V1__WatchCommandsRequest *req =
        (const Afd__Sizer__V1__WatchCommandsRequest *)msg;
    struct afd_registry *reg = afd_svc_env(ctx)->reg;
    struct afd_deployment *d;
    size_t i;

    if (afd_svc_refuse_follower(call, ctx) ||
        !start_watch(call, req->deployment, ctx, &d))
        return;
    if (d) {
        send_in_flight(call, ctx, d);
    } else if (!req->deployment || !req->deployment[0]) {
        for (i = 0; i < afd_registry_count(reg); i++)
            send_in_flight(call, ctx, afd_registry_at(reg, i));
    }
}

struct firing_ctx {
    struct afd_grpc_call *call;
};

static void send_firing(const struct afd_alert_event *ev, double r_star,
                        void *arg)
{
    struct firing_ctx *f = arg;
    Afd__Sizer__V1__RegimeAlert m;

    fill_alert(&m, ev, r_star);
    afd_grpc_send(f->call, &m.base);
}

static void watch_alerts(struct afd_grpc_call *call,
                         const ProtobufCMessage *msg, void *ctx)
{
    const Afd__Sizer__V1__WatchAlertsRequest *req =
        (const Afd__Sizer__V1__WatchAlertsRequest *)msg;
    struct afd_registry *reg = afd_svc_env(ctx)->reg;
    struct afd_control *ctl = afd_svc_env(ctx)->ctl;
    struct firing_ctx f = {call};
    struct afd_deployment *d;
    size_t i;

    /* HA: followers evaluate no alerts; watch the leader. */
    if (afd_svc_refuse_follower(call, ctx) ||
        !start_watch(call, req->deployment, ctx, &d))
        return;
    if (d) {
        afd_control_foreach_firing(ctl, d, send_firing, &f);
    } else if (!req->deployment || !req->deployment[0]) {
        for (i = 0; i < afd_registry_count(reg); i++)
            afd_control_foreach_firing(ctl, afd_registry_at(reg, i),
                                       send_firing, &f);
    }
}

static void ack_command(struct afd_grpc_call *call, const ProtobufCMessage *msg,
                        void *ctx)
{
    const Afd__Sizer__V1__AckCommandRequest *req =
        (const Afd__Sizer__V1__AckCommandRequest *)msg;
    Afd__Sizer__V1__AckCommandResponse out =
        AFD__SIZER__V1__ACK_COMMAND_RESPONSE__INIT;
    struct afd_deployment *d;
    char err[AFD_ERR_LEN];
    int rc;

    /* An empty deployment is the first complaint, then the id, then lookup. */
    if (req->command_id == 0 && req->deployment && req->deployment[0]) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT,
                        "command_id must be > 0 (ids start at 1)");
        return;
    }
    if (afd_svc_refuse_follower(call, ctx))
        return;
    d = afd_svc_find_deployment(call, ctx, req->deployment);
    if (!d)
        return;
    err[0] = '\0';
    rc =
        afd_control_ack(afd_svc_env(ctx)->ctl, d, req->command_id, req->success,
                        req->detail, afd_svc_env(ctx)->now_ms(), err);
    out.accepted = rc == AFD_OK;
    out.message = rc == AFD_OK ? "" : err;
    afd_grpc_reply(call, &out.base);
    /* A successful ack changes the KEDA target at once, and the
     * replicated state (HA) right away too. */
    if (rc == AFD_OK) {
        afd_replication_state_changed(afd_svc_env(ctx)->repl);
        afd_svc_keda_tick(ctx);
    }
}

static const struct afd_grpc_method methods[] = {
    {
        .path = PATH_WATCH_COMMANDS,
        .kind = AFD_GRPC_SERVER_STREAM,
        .request = &afd__sizer__v1__watch_commands_request__descriptor,
        .on_request = watch_commands,
    },
    {
        .path = "/afd.sizer.v1.Sizer/AckCommand",
        .kind = AFD_GRPC_UNARY,
        .request = &afd__sizer__v1__ack_command_request__descriptor,
        .on_request = ack_command,
        .requires_token = true, /* mutating: bearer token when configured */
    },
    {
        .path = PATH_WATCH_ALERTS,
        .kind = AFD_GRPC_SERVER_STREAM,
        .request = &afd__sizer__v1__watch_alerts_request__descriptor,
        .on_request = watch_alerts,
    },
};

const struct afd_grpc_method *afd_svc_control_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
