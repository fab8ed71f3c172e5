/*
 * election.c - the lease/campaign state machine of election.h.
 */
#include "plugin/ha/election.h"

#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"

/* Retry a failed renewal or campaign well inside the TTL: ten tries fit. */
static int64_t retry_ms(const struct afd_ha_election *e)
{
    int64_t r = e->ttl_ms / 10;
    return r < 50 ? 50 : r;
}

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

int afd_ha_init(struct afd_ha_election *e, int64_t ttl_ms, int64_t margin_ms,
                char *err)
{
    if (e == NULL)
        return afd_err(err, AFD_EINVAL, "ha election: NULL state");
    memset(e, 0, sizeof(*e));
    if (ttl_ms < 300)
        return afd_err(err, AFD_EINVAL,
                       "ha lease ttl must be >= 300 ms, got %lld ms",
                       (long long)ttl_ms);
    if (margin_ms <= 0 || margin_ms >= ttl_ms - ttl_ms / 3)
        return afd_err(err, AFD_EINVAL,
                       "ha step-down margin must be in (0, %lld) ms for a "
                       "%lld ms ttl, got %lld ms",
                       (long long)(ttl_ms - ttl_ms / 3), (long long)ttl_ms,
                       (long long)margin_ms);
    e->ttl_ms = ttl_ms;
    e->margin_ms = margin_ms;
    e->role = AFD_HA_FOLLOWER;
    return AFD_OK;
}

enum afd_ha_action afd_ha_next(const struct afd_ha_election *e, int64_t now_ms)
{
    if (e->role == AFD_HA_LEADER && now_ms >= e->valid_until_ms)
        return AFD_HA_STEP_DOWN;
    /* A follower's lease past its safe end may be gone: take a new one. */
    if (e->lease_id == 0 || now_ms >= e->valid_until_ms)
        return now_ms >= e->retry_due_ms ? AFD_HA_GRANT : AFD_HA_WAIT;
    if (now_ms >= e->renew_due_ms)
        return AFD_HA_RENEW;
    if (e->role == AFD_HA_FOLLOWER && now_ms >= e->campaign_due_ms)
        return AFD_HA_CAMPAIGN;
    return AFD_HA_WAIT;
}

int64_t afd_ha_next_due_ms(const struct afd_ha_election *e)
{
    int64_t due;

    if (e->lease_id == 0)
        return e->retry_due_ms;
    due = min64(e->valid_until_ms, e->renew_due_ms);
    if (e->role == AFD_HA_FOLLOWER)
        due = min64(due, e->campaign_due_ms);
    return due;
}

void afd_ha_on_grant(struct afd_ha_election *e, int64_t sent_ms, int64_t now_ms,
                     bool ok, int64_t lease_id)
{
    if (!ok || lease_id == 0) {
        e->retry_due_ms = now_ms + retry_ms(e);
        return;
    }
    e->lease_id = lease_id;
    e->valid_until_ms = sent_ms + e->ttl_ms - e->margin_ms;
    e->renew_due_ms = sent_ms + e->ttl_ms / 3;
    e->campaign_due_ms = now_ms;
}

void afd_ha_on_renew(struct afd_ha_election *e, int64_t sent_ms, int64_t now_ms,
                     bool ok, bool lease_gone)
{
    if (lease_gone) {
        afd_ha_on_step_down(e, now_ms);
        return;
    }
    if (!ok) {
        e->renew_due_ms = now_ms + retry_ms(e);
        return;
    }
    /* An old answer arriving late must not move the deadline back. */
    if (sent_ms + e->ttl_ms - e->margin_ms > e->valid_until_ms)
        e->valid_until_ms = sent_ms + e->ttl_ms - e->margin_ms;
    e->renew_due_ms = sent_ms + e->ttl_ms / 3;
}

void afd_ha_on_campaign(struct afd_ha_election *e, int64_t now_ms,
                        bool answered, bool won, int64_t create_revision,
                        const char *addr)
{
    if (!answered) {
        e->campaign_due_ms = now_ms + retry_ms(e);
        return;
    }
    if (create_revision > e->leader_epoch_seen)
        e->leader_epoch_seen = create_revision;
    if (addr != NULL)
        snprintf(e->leader_addr, sizeof(e->leader_addr), "%s", addr);
    else
        e->leader_addr[0] = '\0';
    if (won && e->lease_id != 0 && e->role == AFD_HA_FOLLOWER) {
        e->role = AFD_HA_LEADER;
        e->epoch = create_revision;
        e->leader_changes++;
        return;
    }
    /* A dead leader's key expires TTL after its last renewal (etcd checks
     * expiry every 500 ms); trying every 200 ms keeps the successor within
     * TTL + 1 s of the death. A losing campaign is a read, no revision. */
    e->campaign_due_ms = now_ms + (e->ttl_ms / 3 < 200 ? e->ttl_ms / 3 : 200);
}

void afd_ha_on_step_down(struct afd_ha_election *e, int64_t now_ms)
{
    if (e->role == AFD_HA_LEADER)
        e->leader_changes++;
    e->role = AFD_HA_FOLLOWER;
    e->epoch = 0;
    e->lease_id = 0;
    e->valid_until_ms = 0;
    e->retry_due_ms = now_ms;
    e->leader_addr[0] = '\0';
}

bool afd_ha_may_command(const struct afd_ha_election *e, int64_t now_ms)
{
    return e->role == AFD_HA_LEADER && e->epoch > 0 &&
           now_ms < e->valid_until_ms;
}

bool afd_ha_fence_accept(int64_t *highest, int64_t epoch)
{
    if (epoch < 0 || epoch < *highest || (epoch == 0 && *highest > 0))
        return false;
    *highest = epoch;
    return true;
}

const char *afd_ha_role_name(enum afd_ha_role role)
{
    return role == AFD_HA_LEADER ? "leader" : "follower";
}
