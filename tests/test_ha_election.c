/*
 * test_ha_election.c - the etcd lease election of plugin/ha/election.h on an
 * injected clock: grant, campaign, renew schedule, the leader's step-down
 * strictly before its lease can end, losing to another replica, and the
 * fencing check on epochs.
 */
#include "tests/afd_test.h"

#include <string.h>

#include "estimator/base/error.h"
#include "plugin/ha/election.h"

#define TTL    5000
#define MARGIN 1000

/* Brings a fresh election to leader at t=0 with lease 7, epoch 42. */
static void make_leader(struct afd_ha_election *e)
{
    assert_int_equal(afd_ha_init(e, TTL, MARGIN, NULL), AFD_OK);
    assert_int_equal(afd_ha_next(e, 0), AFD_HA_GRANT);
    afd_ha_on_grant(e, 0, 10, true, 7);
    assert_int_equal(afd_ha_next(e, 10), AFD_HA_CAMPAIGN);
    afd_ha_on_campaign(e, 20, true, true, 42, "10.0.0.1:50051");
    assert_int_equal(e->role, AFD_HA_LEADER);
}

/* ensure init rejects a ttl or margin that could not keep the leader safe */
static void test_init_validation(void **state)
{
    struct afd_ha_election e;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_ha_init(&e, 299, 100, err), AFD_EINVAL);
    assert_non_null(strstr(err, "299"));
    /* ttl - ttl/3 = 3334: a margin that large would trip an on-time renewal */
    assert_int_equal(afd_ha_init(&e, TTL, 3334, err), AFD_EINVAL);
    assert_non_null(strstr(err, "3334"));
    assert_int_equal(afd_ha_init(&e, TTL, 0, err), AFD_EINVAL);
    assert_int_equal(afd_ha_init(&e, TTL, 3333, err), AFD_OK);
    assert_int_equal(e.role, AFD_HA_FOLLOWER);
    assert_false(afd_ha_may_command(&e, 0));
}

/* ensure grant -> campaign -> leader with epoch = create_revision, and the
 * renewal comes due at sent + ttl/3 */
static void test_win_and_renew_schedule(void **state)
{
    struct afd_ha_election e;

    (void)state;
    make_leader(&e);
    assert_true(e.epoch == 42);
    assert_true(e.leader_changes == 1);
    assert_true(afd_ha_may_command(&e, 20));
    /* Lease granted from a request sent at 0: renew at 5000/3 = 1666. */
    assert_int_equal(afd_ha_next_due_ms(&e), 1666);
    assert_int_equal(afd_ha_next(&e, 1665), AFD_HA_WAIT);
    assert_int_equal(afd_ha_next(&e, 1666), AFD_HA_RENEW);
    /* Renewal sent at 1666, answered at 1700: safe until 1666+5000-1000. */
    afd_ha_on_renew(&e, 1666, 1700, true, false);
    assert_true(e.valid_until_ms == 5666);
    assert_int_equal(afd_ha_next_due_ms(&e), 1666 + 1666);
    assert_true(afd_ha_may_command(&e, 5665));
}

/* ensure a leader whose renewals fail stops commanding at (last good renewal
 * sent) + ttl - margin, i.e. margin ms before etcd may expire its key, and
 * asks to step down; nothing is due as leader afterwards */
static void test_step_down_before_ttl(void **state)
{
    struct afd_ha_election e;
    int64_t t;

    (void)state;
    make_leader(&e);
    /* Every renewal from 1666 on times out; retries every ttl/10 = 500 ms. */
    for (t = 1666; t < 4000; t += 500) {
        assert_int_equal(afd_ha_next(&e, t), AFD_HA_RENEW);
        afd_ha_on_renew(&e, t, t, false, false);
        assert_true(e.renew_due_ms == t + 500);
    }
    assert_true(afd_ha_may_command(&e, 3999));
    assert_false(afd_ha_may_command(&e, 4000)); /* 0 + 5000 - 1000 */
    assert_int_equal(afd_ha_next(&e, 4000), AFD_HA_STEP_DOWN);
    assert_true(4000 < TTL); /* before the lease could end in etcd */
    afd_ha_on_step_down(&e, 4000);
    assert_int_equal(e.role, AFD_HA_FOLLOWER);
    assert_true(e.epoch == 0 && e.lease_id == 0);
    assert_true(e.leader_changes == 2);
    assert_false(afd_ha_may_command(&e, 4001));
    /* It starts over with a new lease and campaigns like anyone else. */
    assert_int_equal(afd_ha_next(&e, 4000), AFD_HA_GRANT);
}

/* ensure a late answer to an old renewal does not pull the deadline back,
 * and etcd saying the lease is gone drops leadership at once */
static void test_late_renewal_and_lease_gone(void **state)
{
    struct afd_ha_election e;

    (void)state;
    make_leader(&e);
    afd_ha_on_renew(&e, 3000, 3010, true, false);
    assert_true(e.valid_until_ms == 7000);
    afd_ha_on_renew(&e, 1666, 3020, true, false); /* stale, answered late */
    assert_true(e.valid_until_ms == 7000);
    afd_ha_on_renew(&e, 3100, 3120, false, true);
    assert_int_equal(e.role, AFD_HA_FOLLOWER);
    assert_false(afd_ha_may_command(&e, 3120));
    assert_int_equal(afd_ha_next(&e, 3120), AFD_HA_GRANT);
}

/* ensure losing the campaign keeps the replica a follower that knows the
 * leader's address and epoch and campaigns again every min(ttl/3, 200 ms); an
 * unanswered campaign retries after ttl/10 */
static void test_lose_campaign(void **state)
{
    struct afd_ha_election e;

    (void)state;
    assert_int_equal(afd_ha_init(&e, TTL, MARGIN, NULL), AFD_OK);
    afd_ha_on_grant(&e, 100, 110, true, 9);
    afd_ha_on_campaign(&e, 120, true, false, 40, "10.0.0.2:50051");
    assert_int_equal(e.role, AFD_HA_FOLLOWER);
    assert_string_equal(e.leader_addr, "10.0.0.2:50051");
    assert_true(e.leader_epoch_seen == 40);
    assert_true(e.leader_changes == 0);
    assert_false(afd_ha_may_command(&e, 120));
    assert_true(e.campaign_due_ms == 120 + 200);
    /* The follower keeps its lease alive too: renew at 100 + 1666 first. */
    assert_int_equal(afd_ha_next(&e, 1766), AFD_HA_RENEW);
    afd_ha_on_renew(&e, 1766, 1770, true, false);
    assert_int_equal(afd_ha_next(&e, 1786), AFD_HA_CAMPAIGN);
    afd_ha_on_campaign(&e, 1786, false, false, 0, NULL);
    assert_true(e.campaign_due_ms == 1786 + 500);
    /* A follower whose lease went stale (etcd unreachable) takes a new one
     * before campaigning again. */
    assert_int_equal(afd_ha_next(&e, 1766 + 4000), AFD_HA_GRANT);
}

/* ensure a failed grant is retried after ttl/10 and nothing else happens */
static void test_grant_failure(void **state)
{
    struct afd_ha_election e;

    (void)state;
    assert_int_equal(afd_ha_init(&e, TTL, MARGIN, NULL), AFD_OK);
    afd_ha_on_grant(&e, 0, 30, false, 0);
    assert_int_equal(afd_ha_next(&e, 529), AFD_HA_WAIT);
    assert_int_equal(afd_ha_next_due_ms(&e), 530);
    assert_int_equal(afd_ha_next(&e, 530), AFD_HA_GRANT);
    /* A campaign answer without a lease never makes us leader. */
    afd_ha_on_campaign(&e, 540, true, true, 50, NULL);
    assert_int_equal(e.role, AFD_HA_FOLLOWER);
}

/* ensure fencing: commands from an older epoch are refused once a newer
 * one was seen; epoch 0 (no HA) only before any epoch */
static void test_fence(void **state)
{
    int64_t hi = 0;

    (void)state;
    assert_true(afd_ha_fence_accept(&hi, 0));
    assert_true(afd_ha_fence_accept(&hi, 42));
    assert_true(hi == 42);
    assert_true(afd_ha_fence_accept(&hi, 42));
    assert_false(afd_ha_fence_accept(&hi, 41));
    assert_false(afd_ha_fence_accept(&hi, 0));
    assert_false(afd_ha_fence_accept(&hi, -1));
    assert_true(afd_ha_fence_accept(&hi, 57));
    assert_false(afd_ha_fence_accept(&hi, 42));
    assert_true(hi == 57);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_validation),
        cmocka_unit_test(test_win_and_renew_schedule),
        cmocka_unit_test(test_step_down_before_ttl),
        cmocka_unit_test(test_late_renewal_and_lease_gone),
        cmocka_unit_test(test_lose_campaign),
        cmocka_unit_test(test_grant_failure),
        cmocka_unit_test(test_fence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
