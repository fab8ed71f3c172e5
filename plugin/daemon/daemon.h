/*
 * daemon.h - the afd-sizer daemon (`afd-sizer serve`): one libevent loop
 * owning the registry, the controller glue (control.h), the gRPC server
 * (plugin/rpc/grpc_server.h) with the services (services.h), the HTTP
 * server (http.h), the controller and snapshot timers and the signals.
 * It wires them together and starts and stops them; the services see only
 * their environment (struct afd_svc_env), never the daemon.
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
 * meaningful across restarts. The controller (control.h) runs on it or,
 * with "controller.clock": "telemetry", on each deployment's telemetry
 * time.
 *
 * Recompute: one path, one owner. A recommendation is recomputed only by
 * the controller glue: afd_control_tick from the daemon's one timer (wall
 * clock: every min(recompute_interval_ms, controller.eval_interval_ms),
 * policies and alerts evaluated every eval_interval_ms) or, with the
 * telemetry clock, afd_control_evaluate inside ingest at each boundary;
 * and once when a snapshot is restored. Reads (GetRecommendation, KEDA, /metrics) return the stored
 * recommendation and change nothing. Decisions go to the WatchCommands /
 * WatchAlerts streams and, when alerting.am.url is set, alert
 * events to Alertmanager (alertmanager.h, on this loop).
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

#endif
