/*
 * election.h - leader election over an etcd lease, as a pure state machine:
 * no I/O, no threads, the clock is injected (monotonic ms). The caller (the
 * daemon's HA worker) asks afd_ha_next() what to send to etcd, sends it and
 * reports the outcome with afd_ha_on_*(), passing the time the request was
 * SENT: etcd starts a lease's TTL when it receives the request, never before
 * we sent it, so "sent + TTL" is a safe lower bound of the lease's end.
 *
 * Campaign = txn(create_revision(<prefix>/leader) == 0 -> put with our
 * lease). The winner's epoch is that key's create_revision: it only grows,
 * so it is the fencing token carried by every command and state write.
 * Followers campaign every min(TTL/3, 200 ms). Renewal every TTL/3; a leader whose last successful renewal was sent more
 * than TTL - margin ago stops commanding (afd_ha_may_command() is false) and
 * steps down, BEFORE etcd can expire the key and let another replica win.
 *
 * Owns: the role, the epoch, the lease id and deadlines. Units: ms. Errors:
 * afd_ha_init() validates ttl/margin and returns AFD_EINVAL with a message.
 * Not thread-safe: one owner (the daemon's loop) calls everything.
 */
#ifndef AFD_HA_ELECTION_H
#define AFD_HA_ELECTION_H

#include <stdbool.h>
#include <stdint.h>

enum afd_ha_role {
    AFD_HA_FOLLOWER = 0, /* no lease or another replica holds the key */
    AFD_HA_LEADER = 1,   /* we hold <prefix>/leader and our lease is fresh */
};

/* What the caller should send next (one at a time, in this priority). */
enum afd_ha_action {
    AFD_HA_WAIT = 0,  /* nothing due before afd_ha_next_due_ms() */
    AFD_HA_STEP_DOWN, /* lease too old: stop commanding, then on_step_down */
    AFD_HA_GRANT,     /* LeaseGrant(ttl) */
    AFD_HA_RENEW,     /* LeaseKeepAlive(lease_id) */
    AFD_HA_CAMPAIGN,  /* Txn create_revision==0 -> put leader key */
};

#define AFD_HA_ADDR_LEN 256

struct afd_ha_election {
    int64_t ttl_ms;    /* lease TTL asked of etcd */
    int64_t margin_ms; /* leader steps down at (renewal sent) + ttl - margin */
    enum afd_ha_role role;
    int64_t lease_id; /* 0 = no lease */
    int64_t epoch;    /* leader key's create_revision while leader, else 0 */
    int64_t valid_until_ms; /* our lease is surely alive before this */
    int64_t renew_due_ms;
    int64_t campaign_due_ms;
    int64_t retry_due_ms;      /* after a failed grant */
    uint64_t leader_changes;   /* times this replica became or stopped leader */
    int64_t leader_epoch_seen; /* highest epoch seen (ours or another's) */
    char leader_addr[AFD_HA_ADDR_LEN]; /* current leader's advertise addr */
};

/* ttl_ms >= 300 and 0 < margin_ms < ttl_ms - ttl_ms/3 (so a renewal that is
 * on time never trips the step-down). Starts as a follower without lease. */
int afd_ha_init(struct afd_ha_election *e, int64_t ttl_ms, int64_t margin_ms,
                char *err);

enum afd_ha_action afd_ha_next(const struct afd_ha_election *e, int64_t now_ms);
/* Earliest time afd_ha_next() may return something other than WAIT. */
int64_t afd_ha_next_due_ms(const struct afd_ha_election *e);

/* Outcomes; sent_ms = when the request left, now_ms = when the answer came. */
void afd_ha_on_grant(struct afd_ha_election *e, int64_t sent_ms, int64_t now_ms,
                     bool ok, int64_t lease_id);
/* ok = etcd answered with a live lease (TTL > 0); !ok with an answer that
 * the lease is gone, or no answer: both leave valid_until unchanged, and a
 * gone lease (lease_gone) drops it now. */
void afd_ha_on_renew(struct afd_ha_election *e, int64_t sent_ms, int64_t now_ms,
                     bool ok, bool lease_gone);
/* won: the txn put our key, create_revision = its revision. !won: the key
 * exists; create_revision and addr name the current holder (addr may be
 * NULL). answered=false: etcd did not answer (nothing learnt). */
void afd_ha_on_campaign(struct afd_ha_election *e, int64_t now_ms,
                        bool answered, bool won, int64_t create_revision,
                        const char *addr);
/* After STEP_DOWN (or etcd said the key is no longer ours): follower, lease
 * forgotten (the caller revokes it best-effort). */
void afd_ha_on_step_down(struct afd_ha_election *e, int64_t now_ms);

/* True only while leader and now < valid_until: gate every command on it. */
bool afd_ha_may_command(const struct afd_ha_election *e, int64_t now_ms);

/*
 * Fencing on the receiving side: accept a command stamped `epoch` only if no
 * higher epoch was seen; *highest is raised to epoch. Epoch 0 (no HA) is
 * accepted only while no epoch was ever seen. Returns true to accept.
 */
bool afd_ha_fence_accept(int64_t *highest, int64_t epoch);

const char *afd_ha_role_name(enum afd_ha_role role);

#endif
