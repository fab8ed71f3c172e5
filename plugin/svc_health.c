/*
 * svc_health.c - grpc.health.v1.Health/Check (the standard health
 * protocol). "" and every service the daemon serves answer SERVING, or
 * NOT_SERVING once a shutdown began; any other name gets status NOT_FOUND,
 * as the protocol specifies. Watch is not served (UNIMPLEMENTED).
 */
#include <string.h>

#include "plugin/daemon.h"
#include "plugin/services.h"
#include "proto/grpc/health/v1/health.pb-c.h"

static const char *const served[] = {
    "",
    "grpc.health.v1.Health",
    "afd.sizer.v1.Telemetry",
    "afd.sizer.v1.Sizer",
    "externalscaler.ExternalScaler",
};

static void health_check(struct afd_grpc_call *call,
                         const ProtobufCMessage *msg, void *ctx)
{
    const Grpc__Health__V1__HealthCheckRequest *req =
        (const Grpc__Health__V1__HealthCheckRequest *)msg;
    Grpc__Health__V1__HealthCheckResponse resp =
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
    const char *name = req->service ? req->service : "";
    size_t i;

    for (i = 0; i < sizeof(served) / sizeof(served[0]); i++)
        if (!strcmp(name, served[i]))
            break;
    if (i == sizeof(served) / sizeof(served[0])) {
        afd_grpc_finish(call, AFD_GRPC_NOT_FOUND, "unknown service '%s'", name);
        return;
    }
    resp.status =
        afd_daemon_draining(ctx)
            ? GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING
            : GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING;
    afd_grpc_reply(call, &resp.base);
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/grpc.health.v1.Health/Check",
        .kind = AFD_GRPC_UNARY,
        .request = &grpc__health__v1__health_check_request__descriptor,
        .on_request = health_check,
    },
};

const struct afd_grpc_method *afd_svc_health_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
