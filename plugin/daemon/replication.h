/*
 * replication.h - the daemon's side of HA (plugin/ha/ha.h): who may
 * command, and the replicated state.
 *
 * Leader: the controller runs (afd_replication_leader is its gate, with
 * the epoch on every command). The state (snapshot.h bytes: estimators,
 * instances, controller) is written to etcd every state_interval_ms and
 * at once after a command or an ack. A command is write-ahead: it is held
 * until the state that records it is applied in etcd, then sent to the
 * watchers, so a new leader knows every id that ever left and offers an
 * un-acked command again instead of reusing its id. A leader that loses
 * its lease drops what it held.
 * Follower: restores each new state it reads (reads answer from it:
 * GetRecommendation, KEDA, /metrics), runs no policy or alerts, and
 * refuses telemetry, acks and watches with the leader's address
 * (afd_replication_refuse).
 *
 * Threads: everything here runs on the loop; the HA worker wakes it
 * through an event. Ownership: new/free; reg, ctl and env outlive it.
 */
#ifndef AFD_REPLICATION_H
#define AFD_REPLICATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "plugin/daemon/control.h"
#include "plugin/ha/ha.h"

struct afd_svc_env;
struct afd_replication;

/* Starts the HA worker; grpc_addr is our bound address (advertised unless
 * cfg->advertise is set). NULL + message on failure. */
struct afd_replication *afd_replication_new(struct event_base *base,
                                            const struct afd_ha_config *cfg,
                                            const char *grpc_addr,
                                            struct afd_svc_env *env, char *err);
/* Stops the worker (a leader hands over at once). NULL ok. */
void afd_replication_free(struct afd_replication *r);

/* The control gate (control.h afd_control_set_leader_gate). */
bool afd_replication_gate(void *r, int64_t *epoch);

/* The control sink's command path: held until durable (see the top). */
void afd_replication_command(struct afd_replication *r,
                             const struct afd_control_command *cc);
/* The state changed outside a tick (an ack): write it now. */
void afd_replication_state_changed(struct afd_replication *r);

/*
 * True when this replica must not take writes now (follower, or a leader
 * whose lease is not surely alive): *leader_known says whether addr (cap
 * bytes) names the current leader. NULL r: never.
 */
bool afd_replication_refuse(struct afd_replication *r, char *addr, size_t cap,
                            bool *leader_known);

/* afd_leader, afd_leader_changes_total, afd_ha_* families. NULL r (single
 * node): afd_leader 1 only. */
void afd_replication_metrics(struct afd_replication *r, struct evbuffer *out);
/* One /readyz line: "ha: leader (epoch N)" / "ha: follower (leader at
 * ADDR)" / "ha: etcd unreachable, read-only: ERROR". */
void afd_replication_readyz(struct afd_replication *r, char *buf, size_t cap);

#endif
