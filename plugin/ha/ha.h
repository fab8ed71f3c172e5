/*
 * ha.h - one daemon replica's membership in an HA group: a worker thread
 * that runs the election (election.h, replica.h) against etcd and moves
 * the replicated state: the leader's state blob (the snapshot bytes,
 * plugin/daemon/snapshot.h) is written to <prefix>/state with a write
 * fenced on the leader key, and read back by followers every
 * state_interval_ms / 4 and by a new leader before it may command.
 *
 * Keys under cfg->prefix: "/leader" (value: the leader's advertise
 * address, on its lease) and "/state" (the blob, no lease: it outlives
 * every replica).
 *
 * The loop's side never blocks: afd_ha_can_command() reads the published
 * role under a mutex and checks the lease deadline itself, so a worker
 * stuck in an etcd call cannot extend a leader's authority; blobs move by
 * copy (afd_ha_write_state, afd_ha_take_state). notify(arg) is called on
 * the WORKER thread after anything the loop should look at changed (wake
 * the loop from it, e.g. event_active). Endpoints are tried in turn: a
 * failed call moves to the next one.
 *
 * Errors: afd_ha_start returns NULL with the reason (bad config, thread).
 * etcd failures are not errors: they age the lease, are counted and kept
 * as last_error, and the replica serves read-only until etcd returns.
 */
#ifndef AFD_HA_HA_H
#define AFD_HA_HA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "plugin/ha/election.h"

#define AFD_HA_ENDPOINTS_LEN 1024
#define AFD_HA_PREFIX_LEN    128
#define AFD_HA_MAX_ENDPOINTS 8
#define AFD_HA_ERR_LEN       256
#define AFD_HA_PATH_LEN      1024

struct afd_ha_config {
    char endpoints[AFD_HA_ENDPOINTS_LEN]; /* "h1:p1,h2:p2"; "" = no HA */
    char prefix[AFD_HA_PREFIX_LEN];       /* key prefix, default /afd-sizer */
    int ttl_ms;                           /* lease TTL, default 5000, >= 2000 */
    int state_interval_ms;           /* leader write period, default 1000 */
    char advertise[AFD_HA_ADDR_LEN]; /* our gRPC address for the others;
                                        "" = the bound listen address */
    /* TLS to etcd (PEM files; "" = plaintext): CA, and cert + key for
     * etcd's --client-cert-auth. Read once at start. */
    char tls_ca_file[AFD_HA_PATH_LEN];
    char tls_cert_file[AFD_HA_PATH_LEN];
    char tls_key_file[AFD_HA_PATH_LEN];
};

void afd_ha_config_default(struct afd_ha_config *c);
/* AFD_EINVAL naming the field (ttl, interval, prefix, endpoint list). */
int afd_ha_config_check(const struct afd_ha_config *c, char *err);

struct afd_ha_status {
    enum afd_ha_role role;             /* as the worker last published it */
    bool may_command;                  /* afd_ha_can_command() now */
    int64_t epoch;                     /* our epoch while leader, else 0 */
    int64_t epoch_seen;                /* highest epoch seen (any leader) */
    char leader_addr[AFD_HA_ADDR_LEN]; /* current leader, "" = unknown */
    bool etcd_up;                      /* the last etcd call succeeded */
    char last_error[AFD_HA_ERR_LEN];   /* the last etcd failure */
    uint64_t leader_changes;           /* times we became or stopped leader */
    uint64_t state_writes;             /* fenced writes applied */
    uint64_t state_write_failures;     /* failed or not applied */
    uint64_t state_reads;              /* new blobs read from etcd */
    int64_t state_read_age_ms;         /* since the last successful read or
                                          write of the state, -1 = never */
};

struct afd_ha;

/* self_addr: our advertise address (cfg->advertise wins when set). */
struct afd_ha *afd_ha_start(const struct afd_ha_config *cfg,
                            const char *self_addr, void (*notify)(void *arg),
                            void *arg, char *err);
/* Stops the worker; a leader revokes its lease first so another replica
 * takes over at once instead of after the TTL. NULL ok. */
void afd_ha_free(struct afd_ha *h);

/*
 * True while this replica is the leader, its lease is surely alive at
 * now (monotonic ms, afd_clock_mono_ms) and the takeover state has been
 * taken (afd_ha_take_state) - so a new leader resumes before it commands.
 * *epoch gets the fencing epoch.
 */
bool afd_ha_can_command(struct afd_ha *h, int64_t now_ms, int64_t *epoch);

/*
 * The newest state blob read from etcd and not yet taken (a follower's
 * copy of the leader's, or a new leader's takeover state): true with a
 * malloc'd copy in *buf (caller frees; *len may be 0 = the leader has
 * written none yet), false when there is nothing new.
 */
bool afd_ha_take_state(struct afd_ha *h, uint8_t **buf, size_t *len);

/*
 * Leader: hands the worker a state blob to write (copied; a newer one
 * replaces one not yet written). Returns its sequence number (> 0), 0 when
 * not leader or out of memory. afd_ha_written() says up to which sequence
 * the writes are applied in etcd (write-ahead of commands).
 */
uint64_t afd_ha_write_state(struct afd_ha *h, const uint8_t *buf, size_t len);
uint64_t afd_ha_written(struct afd_ha *h);

void afd_ha_status(struct afd_ha *h, int64_t now_ms, struct afd_ha_status *out);

#endif
