/*
 * services.h - the gRPC services of the daemon, as method tables for
 * plugin/rpc/grpc_server.h. Every handler runs on the loop thread and gets
 * a struct afd_svc_env * as its ctx: the registry, the controller glue, the
 * configuration, the gRPC server (for its streams) and the clock. The
 * environment is all a service sees, so a test can build one around a
 * registry and a controller and drive the services without a daemon
 * (tests/test_services.c). The loop is the one owner of everything in it.
 *
 *   svc_telemetry.c  afd.sizer.v1.Telemetry/Report (client stream)
 *   svc_sizer.c      afd.sizer.v1.Sizer/GetRecommendation, Solve
 *   svc_control.c    afd.sizer.v1.Sizer/WatchCommands, AckCommand,
 *                    WatchAlerts (plugin/daemon/control.h's decisions)
 *   svc_health.c     grpc.health.v1.Health/Check, Watch
 *   svc_keda.c       externalscaler.ExternalScaler (KEDA)
 *   svc_dynamo.c     dynamo.planner.plugin.v1.ProposePlugin/Propose
 *                    (plugin/daemon/dynamo.h)
 *   svc_common.c     request checks the services share
 *
 * The tables are static and read-only.
 */
#ifndef AFD_SERVICES_H
#define AFD_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/alert.h"
#include "plugin/rpc/grpc_server.h"

struct afd_config;
struct afd_control;
struct afd_control_command;
struct afd_deployment;
struct afd_registry;

/* What the services work on. Filled by the daemon (or a test) before the
 * first call; ctl may be NULL only for services that do not use it
 * (health). */
struct afd_replication;

struct afd_svc_env {
    struct afd_registry *reg;
    struct afd_control *ctl;
    const struct afd_config *cfg;
    struct afd_grpc_server *grpc; /* set once the server runs */
    int64_t (*now_ms)(void); /* the daemon clock: steady wall ms (os.h) */
    bool draining;                /* a shutdown began: health NOT_SERVING */
    struct afd_replication *repl; /* HA (replication.h), NULL: single node */
};

static inline struct afd_svc_env *afd_svc_env(void *ctx)
{
    return ctx;
}

const struct afd_grpc_method *afd_svc_telemetry_methods(size_t *n);
const struct afd_grpc_method *afd_svc_sizer_methods(size_t *n);
const struct afd_grpc_method *afd_svc_health_methods(size_t *n);
const struct afd_grpc_method *afd_svc_keda_methods(size_t *n);
const struct afd_grpc_method *afd_svc_control_methods(size_t *n);
const struct afd_grpc_method *afd_svc_dynamo_methods(size_t *n);

/* The control layer's sink: sends to the matching WatchCommands /
 * WatchAlerts streams. */
void afd_svc_control_command(struct afd_svc_env *env,
                             const struct afd_control_command *cc);
void afd_svc_control_alert(struct afd_svc_env *env,
                           const struct afd_alert_event *ev, double r_star);

/*
 * The existing deployment a request names, or NULL after finishing call
 * with INVALID_ARGUMENT ("deployment must not be empty") or NOT_FOUND
 * ("unknown deployment '<name>'"); the handler then just returns. ctx is
 * the handler's struct afd_svc_env *.
 */
struct afd_deployment *afd_svc_find_deployment(struct afd_grpc_call *call,
                                               void *ctx, const char *name);

/*
 * HA: true after finishing call because this replica takes no writes now
 * (a follower: FAILED_PRECONDITION naming the leader as "leader=HOST:PORT";
 * no leader known or our lease unsure: UNAVAILABLE). False: go on.
 */
bool afd_svc_refuse_follower(struct afd_grpc_call *call, void *ctx);

/*
 * A shutdown began (afd_daemon_stop, before the gRPC layer ends the
 * server streams): sends NOT_SERVING to every Health/Watch stream.
 */
void afd_svc_health_draining(struct afd_svc_env *env);

/*
 * After each recompute tick: sends StreamIsActive watchers their value when
 * it changed since the last message they got.
 */
void afd_svc_keda_tick(struct afd_svc_env *env);

#endif
