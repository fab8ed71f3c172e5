/*
 * replica.c - afd_ha_step: election.h's next action, done with etcd.h.
 */
#include "plugin/ha/replica.h"

#include "estimator/base/error.h"

enum afd_ha_action afd_ha_step(struct afd_ha_election *e, struct afd_etcd *c,
                               const char *leader_key, const char *self_addr,
                               int64_t (*now_ms)(void), int timeout_ms,
                               char *err)
{
    int64_t sent = now_ms();
    enum afd_ha_action a = afd_ha_next(e, sent);
    int64_t id = 0, ttl = 0, rev = 0;
    char holder[AFD_HA_ADDR_LEN];
    bool won = false;
    int rc;

    switch (a) {
    case AFD_HA_WAIT:
        break;
    case AFD_HA_STEP_DOWN:
        /* Stop first; the revoke only shortens the others' wait. */
        id = e->lease_id;
        afd_ha_on_step_down(e, sent);
        (void)afd_etcd_lease_revoke(c, id, timeout_ms, err);
        break;
    case AFD_HA_GRANT:
        /* etcd's TTL is whole seconds: round the ms TTL up. */
        rc = afd_etcd_lease_grant(c, (e->ttl_ms + 999) / 1000, &id, timeout_ms,
                                  err);
        afd_ha_on_grant(e, sent, now_ms(), rc == AFD_OK, id);
        break;
    case AFD_HA_RENEW:
        rc = afd_etcd_lease_keepalive(c, e->lease_id, &ttl, timeout_ms, err);
        afd_ha_on_renew(e, sent, now_ms(), rc == AFD_OK && ttl > 0,
                        rc == AFD_OK && ttl <= 0);
        break;
    case AFD_HA_CAMPAIGN:
        rc = afd_etcd_campaign(c, leader_key, self_addr, e->lease_id, &won,
                               &rev, holder, sizeof(holder), timeout_ms, err);
        afd_ha_on_campaign(e, now_ms(), rc == AFD_OK, won, rev,
                           rc == AFD_OK ? holder : NULL);
        break;
    }
    return a;
}
