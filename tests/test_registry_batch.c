/*
 * test_registry_batch.c - afd_deployment_add_step / afd_deployment_add_request
 * (one deployment lookup per telemetry batch): same results as the by-name
 * path, lazy resolution at the first valid item, telemetry-clock hook.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/registry_internal.h"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    int evals;             /* telemetry-clock hook calls */
    int64_t eval_clock[8]; /* clock passed to each call */
};

static int setup_cfg(void **state, bool auto_create)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[AFD_ERR_LEN] = "";

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->cfg.auto_create_deployments = auto_create;
    f->cfg.max_instances = 100;
    f->cfg.max_deployments = 8;
    f->cfg.liveness_window_ms = 1000;
    f->cfg.deployments = calloc(2, sizeof(*f->cfg.deployments));
    assert_non_null(f->cfg.deployments);
    f->cfg.deployments[0] = f->cfg.default_deployment;
    f->cfg.deployments[1] = f->cfg.default_deployment;
    snprintf(f->cfg.deployments[0].name, AFD_NAME_LEN, "byname");
    snprintf(f->cfg.deployments[1].name, AFD_NAME_LEN, "batch");
    f->cfg.n_deployments = 2;
    f->reg = afd_registry_new(&f->cfg, err);
    if (!f->reg)
        fail_msg("afd_registry_new: %s", err);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_cfg(state, true);
}

static int setup_no_auto(void **state)
{
    return setup_cfg(state, false);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

static struct afd_step_sample sample(const char *id, enum afd_role role,
                                     double load, double ms)
{
    struct afd_step_sample s;

    memset(&s, 0, sizeof(s));
    s.instance_id = id;
    s.role = role;
    s.batch_size = 64;
    s.token_load = load;
    if (role == AFD_ROLE_ATTENTION) {
        s.attention_ms = ms;
        s.comm_ms = ms / 4;
    } else {
        s.ffn_ms = ms;
        s.ffn_tokens = 128;
    }
    return s;
}

static void on_eval(struct afd_deployment *d, int64_t clock_ms, void *arg)
{
    struct fixture *f = arg;

    (void)d;
    if (f->evals < 8)
        f->eval_clock[f->evals] = clock_ms;
    f->evals++;
}

/* ensure the batch path gives the same results, counters, instance table
 * and recommendation as the by-name path for the same mixed items */
static void test_deployment_add_step_matches_by_name(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s[] = {
        sample("a0", AFD_ROLE_ATTENTION, 9000, 3.0),
        sample("a1", AFD_ROLE_ATTENTION, NAN, 3.0),
        sample("a1", AFD_ROLE_ATTENTION, 11000, 3.5),
        sample("f0", AFD_ROLE_FFN, 0, 2.0),
        sample("a2", AFD_ROLE_ATTENTION, -1, 3.0),
        sample("", AFD_ROLE_ATTENTION, 10, 1.0),
    };
    const enum afd_reject_reason want[] = {
        AFD_REJECT_NONE, AFD_REJECT_NOT_FINITE, AFD_REJECT_NONE,
        AFD_REJECT_NONE, AFD_REJECT_NEGATIVE,   AFD_REJECT_MISSING_FIELD,
    };
    struct afd_deployment *d = NULL;
    struct afd_deployment *by = afd_registry_find(f->reg, "byname");
    struct afd_deployment_counters cb, cd;
    const struct afd_recommendation *rb, *rd;
    char eb[AFD_ERR_LEN], ed[AFD_ERR_LEN];
    size_t i;

    for (i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
        assert_int_equal(afd_registry_add_step(f->reg, "byname", &s[i], 10, eb),
                         want[i]);
        assert_int_equal(
            afd_deployment_add_step(f->reg, &d, "batch", &s[i], 10, ed),
            want[i]);
        if (want[i] != AFD_REJECT_NONE)
            assert_string_equal(ed, eb);
    }
    for (i = 0; i < 60; i++) {
        double dec = i == 7 ? 0 : 1 + (double)(i % 9) * 40;

        assert_int_equal(
            afd_registry_add_request(f->reg, "byname", 50, dec, NULL),
            afd_deployment_add_request(f->reg, &d, "batch", 50, dec, 1, NULL));
    }
    assert_ptr_equal(d, afd_registry_find(f->reg, "batch"));
    afd_deployment_counters(by, &cb);
    afd_deployment_counters(d, &cd);
    /* 3 valid steps; NaN, negative, empty id rejected; 59 of 60 requests. */
    assert_true(cd.steps_accepted == 3 && cb.steps_accepted == 3);
    assert_true(cd.requests_accepted == 59 && cb.requests_accepted == 59);
    assert_memory_equal(cd.rejected, cb.rejected, sizeof(cd.rejected));
    assert_true(cd.rejected[AFD_REJECT_NOT_FINITE] == 1);
    assert_true(cd.rejected[AFD_REJECT_NEGATIVE] == 1);
    assert_true(cd.rejected[AFD_REJECT_MISSING_FIELD] == 1);
    assert_true(cd.rejected[AFD_REJECT_OUT_OF_RANGE] == 1);
    assert_int_equal(afd_deployment_live_instances(d, AFD_ROLE_ATTENTION), 2);
    assert_int_equal(afd_deployment_live_instances(d, AFD_ROLE_FFN), 1);
    rb = afd_deployment_recompute(by, 20);
    rd = afd_deployment_recompute(d, 20);
    assert_true(rb->valid && rd->valid);
    assert_true(rd->theta == rb->theta);
    assert_true(rd->solution.r_star == rb->solution.r_star);
    assert_int_equal(rd->target_attention_instances,
                     rb->target_attention_instances);
}

/* ensure a batch whose items are all invalid creates no deployment and
 * charges its rejections to the registry */
static void test_deployment_add_step_all_invalid_creates_nothing(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample bad = sample("a0", AFD_ROLE_ATTENTION, INFINITY, 1);
    struct afd_deployment *d = NULL;
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_deployment_add_step(f->reg, &d, "new", &bad, 0, err),
                     AFD_REJECT_NOT_FINITE);
    assert_non_null(strstr(err, "token_load"));
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "new", 5, 0, 1, err),
        AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "decode_tokens"));
    assert_null(d);
    assert_null(afd_registry_find(f->reg, "new"));
    assert_int_equal(afd_registry_count(f->reg), 2);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_NOT_FINITE] == 1);
    assert_true(orphan[AFD_REJECT_OUT_OF_RANGE] == 1);
}

/* ensure the first valid item auto-creates the deployment, later items
 * (valid or not) are charged to it */
static void test_deployment_add_step_first_valid_creates(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample bad = sample("a0", AFD_ROLE_ATTENTION, -5, 1);
    struct afd_step_sample ok = sample("a0", AFD_ROLE_ATTENTION, 500, 1);
    struct afd_deployment *d = NULL;
    struct afd_deployment_counters c;
    uint64_t orphan[AFD_REJECT_COUNT];

    assert_int_equal(afd_deployment_add_step(f->reg, &d, "new", &bad, 0, NULL),
                     AFD_REJECT_NEGATIVE);
    assert_null(d);
    assert_int_equal(afd_deployment_add_step(f->reg, &d, "new", &ok, 0, NULL),
                     AFD_REJECT_NONE);
    assert_non_null(d);
    assert_ptr_equal(d, afd_registry_find(f->reg, "new"));
    assert_string_equal(afd_deployment_name(d), "new");
    assert_int_equal(afd_deployment_add_step(f->reg, &d, "new", &bad, 0, NULL),
                     AFD_REJECT_NEGATIVE);
    afd_deployment_counters(d, &c);
    assert_true(c.steps_accepted == 1);
    assert_true(c.rejected[AFD_REJECT_NEGATIVE] == 1);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_NEGATIVE] == 1); /* the one before */
}

/* ensure with auto-create off every valid item for an unknown name is an
 * orphan unknown_deployment, as on the by-name path */
static void test_deployment_add_step_unknown_orphan(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample ok = sample("a0", AFD_ROLE_ATTENTION, 500, 1);
    struct afd_deployment *d = NULL;
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];
    int i;

    for (i = 0; i < 3; i++) {
        assert_int_equal(
            afd_deployment_add_step(f->reg, &d, "other", &ok, 0, err),
            AFD_REJECT_UNKNOWN_DEPLOYMENT);
        assert_non_null(strstr(err, "unknown deployment 'other'"));
    }
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "other", 1, 2, 1, err),
        AFD_REJECT_UNKNOWN_DEPLOYMENT);
    assert_null(d);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_UNKNOWN_DEPLOYMENT] == 4);
    assert_int_equal(afd_registry_count(f->reg), 2);
}

/* ensure an empty deployment name is an orphan missing_field */
static void test_deployment_add_step_empty_name_orphan(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample ok = sample("a0", AFD_ROLE_ATTENTION, 500, 1);
    struct afd_deployment *d = NULL;
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_deployment_add_step(f->reg, &d, "", &ok, 0, err),
                     AFD_REJECT_MISSING_FIELD);
    assert_non_null(strstr(err, "'deployment' is empty"));
    assert_null(d);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_MISSING_FIELD] == 1);
}

/* ensure the telemetry-clock hook runs at the first accepted step and at
 * each interval boundary, and an absurd timestamp is charged to the
 * resolved deployment */
static void test_deployment_add_step_telemetry_clock_hook(void **state)
{
    struct fixture *f = *state;
    const int64_t ts[] = {500, 900, 1000, 2500, 2600};
    struct afd_step_sample s = sample("a0", AFD_ROLE_ATTENTION, 500, 1);
    struct afd_deployment *d = NULL;
    char err[AFD_ERR_LEN];
    size_t i;

    afd_registry_set_telemetry_clock(f->reg, 1000, on_eval, f);
    for (i = 0; i < 5; i++) {
        s.timestamp_ms = ts[i];
        assert_int_equal(
            afd_deployment_add_step(f->reg, &d, "batch", &s, 99999, NULL),
            AFD_REJECT_NONE);
    }
    /* 500 (first), 1000 (boundary), 2500 (past 2000); not 900 or 2600. */
    assert_int_equal(f->evals, 3);
    assert_true(f->eval_clock[0] == 500);
    assert_true(f->eval_clock[1] == 1000);
    assert_true(f->eval_clock[2] == 2500);
    assert_true(afd_deployment_clock_ms(d) == 2600);
    s.timestamp_ms = AFD_MAX_TIMESTAMP_MS + 1;
    assert_int_equal(afd_deployment_add_step(f->reg, &d, "batch", &s, 0, err),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "timestamp_ms"));
    assert_true(afd_deployment_clock_ms(d) == 2600);
    assert_int_equal(f->evals, 3);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_deployment_add_step_matches_by_name, setup),
        T(test_deployment_add_step_all_invalid_creates_nothing, setup),
        T(test_deployment_add_step_first_valid_creates, setup),
        T(test_deployment_add_step_unknown_orphan, setup_no_auto),
        T(test_deployment_add_step_empty_name_orphan, setup),
        T(test_deployment_add_step_telemetry_clock_hook, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
