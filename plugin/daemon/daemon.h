/*
 * daemon.h - the afd-sizer daemon (`afd-sizer serve`): one libevent loop
 * owning the registry, the gRPC server (plugin/rpc/grpc_server.h), the HTTP
 * server (plugin/daemon/http.h), the recompute and snapshot timers and the signal
 * handling.
 *
 * Start-up (afd_daemon_new): restore the snapshot (a corrupt one is renamed
 * to PATH.corrupt and the daemon starts fresh), bind gRPC, bind HTTP, then
 * print on stdout, flushed, in this order:
 *     afd-sizer: grpc security: tls ...; bearer token ...
 *     afd-sizer: grpc listening on HOST:PORT
 *     afd-sizer: http listening on HOST:PORT
 *     afd-sizer: ready
 * and mark /readyz ready. The TLS files and token (plugin/daemon/security.h) are
 * loaded and checked first, with the listen addresses: a bad one is a
 * configuration error before anything is bound.
 *
 * SIGTERM/SIGINT: /readyz goes 503, Health/Watch streams get NOT_SERVING,
 * gRPC stops accepting, server streams end with UNAVAILABLE, open telemetry
 * streams get AFD_DAEMON_GRACE_MS to finish, the snapshot is saved (if
 * configured), the loop exits and afd_daemon_run returns 0. A second signal
 * exits at once with status 1.
 *
 * Clock: wall clock (CLOCK_REALTIME) in ms, so snapshot times stay
 * meaningful across restarts. The controller (plugin/daemon/control.h) runs on
 * it or, with "controller.clock": "telemetry", on each deployment's
 * telemetry time; in that mode the recompute timer recomputes nothing
 * (evaluation is driven by ingest) and only refreshes KEDA watchers.
 *
 * Controller: a timer every controller.eval_interval_ms (wall clock)
 * evaluates every deployment's policy and alerts; decisions go to the
 * WatchCommands/WatchAlerts streams and, when alerting.alertmanager_url is
 * set, alert events to Alertmanager (plugin/daemon/alertmanager.h, on this loop).
 *
 * Threading: everything here runs on the thread calling afd_daemon_run;
 * gRPC's completion thread only hands events over (grpc_server.h).
 * Ownership: afd_daemon_new / afd_daemon_free; cfg must outlive the daemon.
 */
#ifndef AFD_DAEMON_H
#define AFD_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "plugin/daemon/config.h"
#include "plugin/daemon/registry.h"

#define AFD_DAEMON_GRACE_MS 2000

struct afd_daemon;

/*
 * Starts the daemon as above. NULL on failure with the reason in err;
 * *usage_error (may be NULL) is set when the failure is the
 * configuration's (exit status 2) rather than the environment's.
 */
struct afd_daemon *afd_daemon_new(const struct afd_config *cfg,
                                  bool *usage_error, char *err);
/* Runs the loop until shut down by a signal. Returns the exit status. */
int afd_daemon_run(struct afd_daemon *d);
void afd_daemon_free(struct afd_daemon *d);

/* Begins the graceful shutdown (what SIGTERM does). */
void afd_daemon_stop(struct afd_daemon *d);

struct afd_registry *afd_daemon_registry(struct afd_daemon *d);
/* The controller glue (plugin/daemon/control.h) and the configuration. */
struct afd_control *afd_daemon_control(struct afd_daemon *d);
const struct afd_config *afd_daemon_config(const struct afd_daemon *d);
struct afd_grpc_server *afd_daemon_grpc(struct afd_daemon *d);
/* True once a shutdown began (health answers NOT_SERVING). */
bool afd_daemon_draining(const struct afd_daemon *d);

/* The daemon clock: wall-clock ms since the Unix epoch. */
int64_t afd_daemon_now_ms(void);

#endif
