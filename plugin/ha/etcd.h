/*
 * etcd.h - a minimal blocking client of etcd's v3 gRPC API (the subset in
 * proto/etcd/): leases (grant, one keep-alive per call, revoke), the
 * leader campaign (txn: create_revision(key) == 0 -> put with our lease),
 * fenced writes (txn: create_revision(leader key) == epoch -> put) and
 * single-key reads.
 *
 * Blocking: call from a worker thread, never the daemon's loop; one client
 * may be used by several threads at once (afd_grpc_client is). Every call
 * has a deadline (timeout_ms). Errors: AFD_EIO (etcd unreachable, deadline,
 * non-OK status) and friends from plugin/rpc, AFD_ENOMEM for a value larger
 * than the caller's buffer; the message names the method and key.
 * Units: lease TTLs in seconds (etcd's wire unit), ids as etcd gives them.
 */
#ifndef AFD_HA_ETCD_H
#define AFD_HA_ETCD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct afd_etcd;

/* endpoint "HOST:PORT", plaintext. */
struct afd_etcd *afd_etcd_new(const char *endpoint, char *err);
/* The same over TLS: etcd's certificate checked against ca_pem (PEM text);
 * cert_pem + key_pem (both or neither) for etcd's --client-cert-auth. */
struct afd_etcd *afd_etcd_new_tls(const char *endpoint, const char *ca_pem,
                                  const char *cert_pem, const char *key_pem,
                                  char *err);
void afd_etcd_free(struct afd_etcd *c);

int afd_etcd_lease_grant(struct afd_etcd *c, int64_t ttl_s, int64_t *id,
                         int timeout_ms, char *err);
/* One renewal. *ttl_left_s <= 0: etcd says the lease is gone. */
int afd_etcd_lease_keepalive(struct afd_etcd *c, int64_t id,
                             int64_t *ttl_left_s, int timeout_ms, char *err);
int afd_etcd_lease_revoke(struct afd_etcd *c, int64_t id, int timeout_ms,
                          char *err);

/*
 * Campaign for `key`: creates it with value and lease if absent. *won says
 * whether we did; *create_rev is the key's create_revision (ours or the
 * holder's: the epoch); holder (cap bytes, NUL-terminated, may be NULL)
 * gets the holder's value (e.g. its advertise address).
 */
int afd_etcd_campaign(struct afd_etcd *c, const char *key, const char *value,
                      int64_t lease, bool *won, int64_t *create_rev,
                      char *holder, size_t cap, int timeout_ms, char *err);

/* Puts key=value (len bytes, no lease) only if leader_key's create_revision
 * is still epoch; *applied says whether it was. */
int afd_etcd_put_fenced(struct afd_etcd *c, const char *leader_key,
                        int64_t epoch, const char *key, const void *value,
                        size_t len, bool *applied, int timeout_ms, char *err);

/* Reads key into buf (cap bytes); *found false if absent, *len its size,
 * *create_rev its create_revision (NULLs ok). */
int afd_etcd_get(struct afd_etcd *c, const char *key, void *buf, size_t cap,
                 size_t *len, bool *found, int64_t *create_rev, int timeout_ms,
                 char *err);

#endif
