/*
 * services.h - the gRPC services of the daemon, as method tables for
 * plugin/rpc/grpc_server.h. Every handler runs on the daemon's loop thread and
 * gets the struct afd_daemon * as its ctx; it reads and writes the registry
 * directly (the loop is its one owner).
 *
 *   svc_telemetry.c  afd.sizer.v1.Telemetry/Report (client stream)
 *   svc_sizer.c      afd.sizer.v1.Sizer/GetRecommendation, Solve
 *   svc_control.c    afd.sizer.v1.Sizer/WatchCommands, AckCommand,
 *                    WatchAlerts (plugin/daemon/control.h's decisions)
 *   svc_health.c     grpc.health.v1.Health/Check, Watch
 *   svc_keda.c       externalscaler.ExternalScaler (KEDA)
 *   svc_common.c     request checks the services share
 *
 * The tables are static and read-only.
 */
#ifndef AFD_SERVICES_H
#define AFD_SERVICES_H

#include <stddef.h>

#include "controller/alert.h"
#include "plugin/rpc/grpc_server.h"

struct afd_daemon;
struct afd_control_command;
struct afd_deployment;

const struct afd_grpc_method *afd_svc_telemetry_methods(size_t *n);
const struct afd_grpc_method *afd_svc_sizer_methods(size_t *n);
const struct afd_grpc_method *afd_svc_health_methods(size_t *n);
const struct afd_grpc_method *afd_svc_keda_methods(size_t *n);
const struct afd_grpc_method *afd_svc_control_methods(size_t *n);

/* The control layer's sink: sends to the matching WatchCommands /
 * WatchAlerts streams. */
void afd_svc_control_command(struct afd_daemon *d,
                             const struct afd_control_command *cc);
void afd_svc_control_alert(struct afd_daemon *d,
                           const struct afd_alert_event *ev, double r_star);

/*
 * The existing deployment a request names, or NULL after finishing call
 * with INVALID_ARGUMENT ("deployment must not be empty") or NOT_FOUND
 * ("unknown deployment '<name>'"); the handler then just returns. ctx is
 * the handler's struct afd_daemon *.
 */
struct afd_deployment *afd_svc_find_deployment(struct afd_grpc_call *call,
                                               void *ctx, const char *name);

/*
 * A shutdown began (afd_daemon_stop, before the gRPC layer ends the
 * server streams): sends NOT_SERVING to every Health/Watch stream.
 */
void afd_svc_health_draining(struct afd_daemon *d);

/*
 * After each recompute tick: sends StreamIsActive watchers their value when
 * it changed since the last message they got.
 */
void afd_svc_keda_tick(struct afd_daemon *d);

#endif
