/*
 * svc_common.c - request checks shared by the daemon's gRPC services
 * (plugin/daemon/services.h). Runs on the loop thread like every handler.
 */
#include "plugin/daemon/services.h"

#include "plugin/daemon/registry.h"
#include "plugin/daemon/replication.h"

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

bool afd_svc_refuse_follower(struct afd_grpc_call *call, void *ctx)
{
    char addr[AFD_HA_ADDR_LEN];
    bool known;

    if (!afd_replication_refuse(afd_svc_env(ctx)->repl, addr, sizeof(addr),
                                &known))
        return false;
    if (known)
        afd_grpc_finish(call, AFD_GRPC_FAILED_PRECONDITION,
                        "this afd-sizer replica is a follower; send writes "
                        "and watches to the leader: leader=%s",
                        addr);
    else
        afd_grpc_finish(call, AFD_GRPC_UNAVAILABLE,
                        "no afd-sizer leader known right now (election or "
                        "etcd unreachable); retry shortly");
    return true;
}
