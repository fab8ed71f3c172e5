/*
 * replica.h - one election step against etcd: performs the action that
 * plugin/ha/election.h says is due (grant, renew, campaign, step down +
 * best-effort revoke) with plugin/ha/etcd.h and feeds the outcome back.
 *
 * Blocking (one etcd call, bounded by timeout_ms): run it on a worker
 * thread that owns the election state, or hand results to the owner.
 * now_ms is a monotonic clock (injected for tests). Returns the action
 * performed; etcd errors are not failures here (they only age the lease),
 * the last one is left in err.
 */
#ifndef AFD_HA_REPLICA_H
#define AFD_HA_REPLICA_H

#include "plugin/ha/election.h"
#include "plugin/ha/etcd.h"

enum afd_ha_action afd_ha_step(struct afd_ha_election *e, struct afd_etcd *c,
                               const char *leader_key, const char *self_addr,
                               int64_t (*now_ms)(void), int timeout_ms,
                               char *err);

#endif
