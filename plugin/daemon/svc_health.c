/*
 * svc_health.c - grpc.health.v1.Health/Check and Watch (the standard
 * health protocol). "" and every service the daemon serves answer SERVING,
 * or NOT_SERVING once a shutdown began.
 *
 * Check: any other name gets status NOT_FOUND, as the protocol specifies.
 * Watch (server stream): the current status at once, then each change.
 * The only change is the start of a shutdown: afd_daemon_stop calls
 * afd_svc_health_draining before the gRPC layer ends every server stream,
 * so a watcher gets NOT_SERVING and then the stream ends (UNAVAILABLE, the
 * layer's shutdown status). A name the daemon does not serve gets one
 * SERVICE_UNKNOWN message, not an error, and the stream stays open (the
 * protocol's Watch semantics); the set of services never changes, so that
 * watcher gets nothing more until the shutdown ends its stream.
 * With HA, "afd.sizer.v1.Leader" is SERVING only on the leader (Check and
 * the first Watch message; leadership changes are not pushed to Watch).
 */
#include <stdbool.h>
#include <string.h>

#include "plugin/daemon/replication.h"
#include "plugin/daemon/services.h"
#include "proto/grpc/health/v1/health.pb-c.h"

/* Health of the leadership: SERVING only on the HA leader (and always
 * without HA). Check and the first Watch message; changes are not pushed. */
#define AFD_HEALTH_LEADER "afd.sizer.v1.Leader"

static const char *const served[] = {
    "",
    "grpc.health.v1.Health",
    "afd.sizer.v1.Telemetry",
    "afd.sizer.v1.Sizer",
    "externalscaler.ExternalScaler",
    AFD_HEALTH_LEADER,
};

#define WATCH_PATH "/grpc.health.v1.Health/Watch"

/* Call data of a Watch on a served name (unknown names have none). */
static const char watch_known = 1;

static bool is_served(const char *name)
{
    size_t i;

    for (i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        if (!strcmp(name, served[i]))
            return true;
    return false;
}

static Grpc__Health__V1__HealthCheckResponse__ServingStatus
status_of(const struct afd_svc_env *env, const char *name)
{
    int64_t epoch;

    /* "afd.sizer.v1.Leader": SERVING on the replica that commands now. */
    if (!strcmp(name, AFD_HEALTH_LEADER) && env->repl &&
        !afd_replication_gate(env->repl, &epoch))
        return GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING;
    return env->draining
               ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
               : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
}

/* Queues one status message; a full queue ends the stream (layer). */
static void send_status(struct afd_grpc_call *call,
                        Grpc__Health__V1__HealthCheckResponse__ServingStatus st)
{
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;

    resp.status = st;
    afd_grpc_send(call, &resp.base);
}

static void health_watch(struct afd_grpc_call *call,
                         const ProtobufCMessage *msg, void *ctx)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    const char *name = req->service ? req->service : "";

    if (!is_served(name)) {
        send_status(
            call,
            GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVICE_UNKNOWN);
        return;
    }
    afd_grpc_call_set_data(call, (void *)&watch_known, NULL);
    send_status(call, status_of(ctx, name));
}

static void notify_draining(struct afd_grpc_call *call, void *arg)
{
    (void)arg;
    if (afd_grpc_call_data(call) == &watch_known)
        send_status(
            call,
            GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
}

void afd_svc_health_draining(struct afd_svc_env *env)
{
    struct afd_grpc_server *srv = env->grpc;

    if (srv)
        afd_grpc_server_foreach(srv, WATCH_PATH, notify_draining, NULL);
}

static void health_check(struct afd_grpc_call *call,
                         const ProtobufCMessage *msg, void *ctx)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    const char *name = req->service ? req->service : "";

    if (!is_served(name)) {
        afd_grpc_finish(call, AFD_GRPC_NOT_FOUND, "unknown service '%s'", name);
        return;
    }
    resp.status = status_of(ctx, name);
    afd_grpc_reply(call, &resp.base);
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/grpc.health.v1.Health/Check",
        .kind = AFD_GRPC_UNARY,
        .request = &grpc__health__v1__health_check_request__descriptor,
        .on_request = health_check,
    },
    {
        .path = WATCH_PATH,
        .kind = AFD_GRPC_SERVER_STREAM,
        .request = &grpc__health__v1__health_check_request__descriptor,
        .on_request = health_watch,
    },
};

const struct afd_grpc_method *afd_svc_health_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
