/*
 * svc_common.c - request checks shared by the daemon's gRPC services
 * (plugin/daemon/services.h). Runs on the loop thread like every handler.
 */
#include "plugin/daemon/services.h"

#include "plugin/daemon/registry.h"

struct afd_deployment *afd_svc_find_deployment(struct afd_grpc_call *call,
                                               void *ctx, const char *name)
{
    struct afd_deployment *d;

    if (!name || !name[0]) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT,
                        "deployment must not be empty");
        return NULL;
    }
    d = afd_registry_find(afd_svc_env(ctx)->reg, name);
    if (!d)
        afd_grpc_finish(call, AFD_GRPC_NOT_FOUND, "unknown deployment '%s'",
                        name);
    return d;
}
