/* test_registry.c - deployments, telemetry validation and recommendations. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/registry_internal.h"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
};

static int setup_cfg(void **state, bool auto_create, size_t max_instances,
                     size_t max_deployments)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[AFD_ERR_LEN] = "";

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->cfg.auto_create_deployments = auto_create;
    f->cfg.max_instances = max_instances;
    f->cfg.max_deployments = max_deployments;
    f->cfg.liveness_window_ms = 1000;
    f->cfg.deployments = calloc(1, sizeof(*f->cfg.deployments));
    assert_non_null(f->cfg.deployments);
    f->cfg.deployments[0] = f->cfg.default_deployment;
    snprintf(f->cfg.deployments[0].name, AFD_NAME_LEN, "prod");
    f->cfg.n_deployments = 1;
    f->reg = afd_registry_new(&f->cfg, err);
    if (!f->reg)
        fail_msg("afd_registry_new: %s", err);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_cfg(state, true, 100, 8);
}

static int setup_no_auto(void **state)
{
    return setup_cfg(state, false, 100, 8);
}

static int setup_small(void **state)
{
    return setup_cfg(state, true, 2, 2);
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

static struct afd_step_sample attention_sample(const char *id, double load)
{
    struct afd_step_sample s;

    memset(&s, 0, sizeof(s));
    s.instance_id = id;
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    s.token_load = load;
    return s;
}

static struct afd_deployment *prod(struct fixture *f)
{
    struct afd_deployment *d = afd_registry_find(f->reg, "prod");

    assert_non_null(d);
    return d;
}

static uint64_t rejected(struct afd_deployment *d, enum afd_reject_reason r)
{
    struct afd_deployment_counters c;

    afd_deployment_counters(d, &c);
    return c.rejected[r];
}

/* ensure a valid step is accepted, counted and makes its instance live */
static void test_add_step_valid_accepted(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", 1000);
    struct afd_deployment_counters c;

    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, NULL),
                     AFD_REJECT_NONE);
    afd_deployment_counters(prod(f), &c);
    assert_true(c.steps_accepted == 1);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     1);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_FFN), 0);
}

/* Sets field i of a sample (order of check_step's table) to v. */
static void set_field(struct afd_step_sample *s, int i, double v)
{
    double *p[] = {&s->batch_size, &s->token_load, &s->attention_ms,
                   &s->comm_ms,    &s->ffn_ms,     &s->ffn_tokens};
    *p[i] = v;
}

static const char *const field_names[] = {"batch_size",   "token_load",
                                          "attention_ms", "comm_ms",
                                          "ffn_ms",       "ffn_tokens"};
/* Just above each documented bound. */
static const double above_bound[] = {1.5e6, 2e12, 2e7, 2e7, 2e7, 2e12};

static void expect_reject(struct fixture *f, double v,
                          enum afd_reject_reason want)
{
    char err[AFD_ERR_LEN];
    int i;

    for (i = 0; i < 6; i++) {
        struct afd_step_sample s = attention_sample("a0", 10);

        set_field(&s, i, v == 0 ? above_bound[i] : v);
        err[0] = '\0';
        if (afd_registry_add_step(f->reg, "prod", &s, 0, err) != want)
            fail_msg("field %s = %g: wrong reason (%s)", field_names[i],
                     v == 0 ? above_bound[i] : v, err);
        if (!strstr(err, field_names[i]))
            fail_msg("message '%s' does not name %s", err, field_names[i]);
    }
    assert_true(rejected(prod(f), want) == 6);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     0);
}

/* ensure add_step rejects NaN in every numeric field as not_finite */
static void test_add_step_nan_not_finite(void **state)
{
    expect_reject(*state, NAN, AFD_REJECT_NOT_FINITE);
}

/* ensure add_step rejects +Inf in every numeric field as not_finite */
static void test_add_step_inf_not_finite(void **state)
{
    expect_reject(*state, INFINITY, AFD_REJECT_NOT_FINITE);
}

/* ensure add_step rejects a negative value in every field as negative */
static void test_add_step_negative_rejected(void **state)
{
    expect_reject(*state, -1, AFD_REJECT_NEGATIVE);
}

/* ensure add_step rejects values above the documented bounds */
static void test_add_step_absurd_out_of_range(void **state)
{
    expect_reject(*state, 0, AFD_REJECT_OUT_OF_RANGE);
}

/* ensure add_step accepts values exactly at the documented bounds */
static void test_add_step_at_bounds_accepted(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", AFD_MAX_TOKENS);

    s.batch_size = AFD_MAX_BATCH;
    s.attention_ms = AFD_MAX_STAGE_MS;
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, NULL),
                     AFD_REJECT_NONE);
}

/* ensure an empty, NULL or too long instance id is missing_field */
static void test_add_step_bad_id_missing_field(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN], longid[AFD_NAME_LEN + 1];
    struct afd_step_sample s = attention_sample("", 10);

    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, err),
                     AFD_REJECT_MISSING_FIELD);
    assert_non_null(strstr(err, "instance_id"));
    s.instance_id = NULL;
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, err),
                     AFD_REJECT_MISSING_FIELD);
    memset(longid, 'x', AFD_NAME_LEN);
    longid[AFD_NAME_LEN] = '\0';
    s.instance_id = longid;
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, err),
                     AFD_REJECT_MISSING_FIELD);
    assert_non_null(strstr(err, "longer"));
    assert_true(rejected(prod(f), AFD_REJECT_MISSING_FIELD) == 3);
}

/* ensure an unknown role value is out_of_range */
static void test_add_step_bad_role_out_of_range(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN];
    struct afd_step_sample s = attention_sample("a0", 10);

    s.role = (enum afd_role)7;
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 0, err),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "role"));
}

/* ensure an empty deployment name is counted as an orphan missing_field */
static void test_add_step_empty_deployment_orphan(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", 10);
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_registry_add_step(f->reg, "", &s, 0, err),
                     AFD_REJECT_MISSING_FIELD);
    assert_non_null(strstr(err, "deployment"));
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_MISSING_FIELD] == 1);
    assert_int_equal(afd_registry_count(f->reg), 1);
}

/* ensure a deployment name that is not UTF-8 is malformed, not created */
static void test_add_step_bad_utf8_deployment_malformed(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", 10);
    const char *bad[] = {"a\xff", "\xc0\xaf", "\xed\xa0\x80", "x\xe2\x82"};
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];
    size_t i;

    for (i = 0; i < 4; i++) {
        assert_int_equal(afd_registry_add_step(f->reg, bad[i], &s, 0, err),
                         AFD_REJECT_MALFORMED);
        assert_non_null(strstr(err, "UTF-8"));
    }
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_MALFORMED] == 4);
    assert_int_equal(afd_registry_count(f->reg), 1);
    /* Valid multi-byte names are fine: e-acute, euro sign, U+1F600. */
    assert_int_equal(afd_registry_add_step(f->reg,
                                           "caf\xc3\xa9-\xe2\x82\xac"
                                           "-\xf0\x9f\x98\x80",
                                           &s, 0, NULL),
                     AFD_REJECT_NONE);
}

/* ensure valid items around a bad one are kept and the bad one is not */
static void test_add_step_valid_around_bad_kept(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 100);
    struct afd_step_sample bad = attention_sample("bad", NAN);
    struct afd_step_sample c = attention_sample("a1", 300);
    struct afd_instance_state rows[4];
    struct afd_deployment_counters k;
    size_t n, i;

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    afd_registry_add_step(f->reg, "prod", &bad, 0, NULL);
    afd_registry_add_step(f->reg, "prod", &c, 0, NULL);
    afd_deployment_counters(prod(f), &k);
    assert_true(k.steps_accepted == 2);
    assert_true(k.rejected[AFD_REJECT_NOT_FINITE] == 1);
    n = afd_deployment_instances_export(prod(f), rows, 4);
    assert_int_equal(n, 2);
    for (i = 0; i < n; i++)
        assert_string_not_equal(rows[i].id, "bad");
}

/* ensure finished requests are validated: decode < 1 is out_of_range */
static void test_add_request_bad_values_rejected(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_registry_add_request(f->reg, "prod", 10, 0.5, err),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "decode_tokens"));
    assert_int_equal(afd_registry_add_request(f->reg, "prod", NAN, 5, err),
                     AFD_REJECT_NOT_FINITE);
    assert_non_null(strstr(err, "prompt_tokens"));
    assert_int_equal(afd_registry_add_request(f->reg, "prod", -1, 5, err),
                     AFD_REJECT_NEGATIVE);
    assert_int_equal(afd_registry_add_request(f->reg, "prod", 1, 2e12, err),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_int_equal(afd_registry_add_request(f->reg, "prod", 10, 1, err),
                     AFD_REJECT_NONE);
}

/* ensure a finished request's weight is 0 (unset) or a finite value >= 1 */
static void test_add_request_weight_checked(void **state)
{
    struct fixture *f = *state;
    struct afd_deployment *d = NULL;
    char err[AFD_ERR_LEN];

    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "prod", 10, 5, 0.5, err),
        AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "'weight'"));
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "prod", 10, 5, NAN, err),
        AFD_REJECT_NOT_FINITE);
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "prod", 10, 5, -2, err),
        AFD_REJECT_NEGATIVE);
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "prod", 10, 5, 0, err),
        AFD_REJECT_NONE);
    assert_int_equal(
        afd_deployment_add_request(f->reg, &d, "prod", 10, 5, 7, err),
        AFD_REJECT_NONE);
}

/* ensure an unknown deployment is rejected and counted when auto-create is
 * off, and nothing is created */
static void test_add_step_auto_create_off_unknown(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", 10);
    uint64_t orphan[AFD_REJECT_COUNT];
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_registry_add_step(f->reg, "other", &s, 0, err),
                     AFD_REJECT_UNKNOWN_DEPLOYMENT);
    assert_non_null(strstr(err, "other"));
    assert_int_equal(afd_registry_add_request(f->reg, "other", 1, 2, err),
                     AFD_REJECT_UNKNOWN_DEPLOYMENT);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_UNKNOWN_DEPLOYMENT] == 2);
    assert_int_equal(afd_registry_count(f->reg), 1);
    assert_null(afd_registry_find(f->reg, "other"));
}

/* ensure a first step for a new name creates it with the default settings
 * when auto-create is on */
static void test_add_step_auto_create_on_creates(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", 10);
    struct afd_deployment *d;

    assert_int_equal(afd_registry_add_step(f->reg, "new", &s, 0, NULL),
                     AFD_REJECT_NONE);
    assert_int_equal(afd_registry_count(f->reg), 2);
    d = afd_registry_find(f->reg, "new");
    assert_non_null(d);
    assert_string_equal(afd_deployment_name(d), "new");
    assert_string_equal(afd_deployment_config(d)->profile.name,
                        AFD_DEFAULT_PROFILE);
    assert_ptr_equal(afd_registry_at(f->reg, 1), d);
}

/* ensure a bad item for a new name creates no deployment and is counted
 * at registry level */
static void test_add_step_bad_item_no_auto_create(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("a0", NAN);
    uint64_t orphan[AFD_REJECT_COUNT];

    assert_int_equal(afd_registry_add_step(f->reg, "new", &s, 0, NULL),
                     AFD_REJECT_NOT_FINITE);
    assert_int_equal(afd_registry_add_request(f->reg, "new", 1, 0, NULL),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_int_equal(afd_registry_count(f->reg), 1);
    assert_null(afd_registry_find(f->reg, "new"));
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_NOT_FINITE] == 1);
    assert_true(orphan[AFD_REJECT_OUT_OF_RANGE] == 1);
}

/* ensure the deployment limit gives capacity rejections, counted as orphan */
static void test_add_step_deployment_limit_capacity(void **state)
{
    struct fixture *f = *state; /* max_deployments 2, "prod" exists */
    struct afd_step_sample s = attention_sample("a0", 10);
    uint64_t orphan[AFD_REJECT_COUNT];

    assert_int_equal(afd_registry_add_step(f->reg, "b", &s, 0, NULL),
                     AFD_REJECT_NONE);
    assert_int_equal(afd_registry_add_step(f->reg, "c", &s, 0, NULL),
                     AFD_REJECT_CAPACITY);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_CAPACITY] == 1);
}

/* ensure the instance limit rejects a new id but keeps known ones working */
static void test_add_step_instance_limit_capacity(void **state)
{
    struct fixture *f = *state; /* max_instances 2 */
    struct afd_step_sample a = attention_sample("a0", 1);
    struct afd_step_sample b = attention_sample("a1", 2);
    struct afd_step_sample c = attention_sample("a2", 3);
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_registry_add_step(f->reg, "prod", &a, 0, NULL), 0);
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &b, 0, NULL), 0);
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &c, 0, err),
                     AFD_REJECT_CAPACITY);
    assert_non_null(strstr(err, "a2"));
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &a, 5, NULL), 0);
    assert_true(rejected(prod(f), AFD_REJECT_CAPACITY) == 1);
}

/* ensure an instance stays live for exactly the liveness window */
static void test_tick_liveness_expiry(void **state)
{
    struct fixture *f = *state; /* window 1000 ms */
    struct afd_step_sample a = attention_sample("a0", 1);
    struct afd_step_sample b = attention_sample("a1", 2);

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    afd_registry_add_step(f->reg, "prod", &b, 500, NULL);
    afd_registry_tick(f->reg, 1000);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     2);
    afd_registry_tick(f->reg, 1001);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     1);
    afd_registry_tick(f->reg, 1501);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     0);
}

/* ensure the table finds every surviving id after many deletions (the
 * backward-shift deletion keeps probe chains whole) */
static void test_tick_expiry_keeps_table_consistent(void **state)
{
    struct fixture *f = *state; /* max_instances 100 */
    struct afd_deployment_counters k;
    char id[32];
    int i;

    for (i = 0; i < 100; i++) {
        struct afd_step_sample s = attention_sample(id, i);

        snprintf(id, sizeof(id), "inst-%d", i);
        afd_registry_add_step(f->reg, "prod", &s, i % 2 ? 0 : 5000, NULL);
    }
    afd_registry_tick(f->reg, 5500); /* odd ones expire */
    assert_int_equal(afd_deployment_instance_count(prod(f)), 50);
    for (i = 0; i < 100; i += 2) {
        struct afd_step_sample s = attention_sample(id, i);

        snprintf(id, sizeof(id), "inst-%d", i);
        assert_int_equal(afd_registry_add_step(f->reg, "prod", &s, 5600, NULL),
                         AFD_REJECT_NONE);
    }
    /* Re-adding survivors found their rows: no new row was made. */
    assert_int_equal(afd_deployment_instance_count(prod(f)), 50);
    afd_deployment_counters(prod(f), &k);
    assert_true(k.rejected[AFD_REJECT_CAPACITY] == 0);
}

/* ensure a role change moves the instance between the role counts */
static void test_add_step_role_change_recounted(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s = attention_sample("x", 10);

    afd_registry_add_step(f->reg, "prod", &s, 0, NULL);
    s.role = AFD_ROLE_FFN;
    afd_registry_add_step(f->reg, "prod", &s, 0, NULL);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_ATTENTION),
                     0);
    assert_int_equal(afd_deployment_live_instances(prod(f), AFD_ROLE_FFN), 1);
}

/* ensure rejections decided outside are charged to the right counter */
static void test_count_reject_known_and_orphan(void **state)
{
    struct fixture *f = *state;
    uint64_t orphan[AFD_REJECT_COUNT];

    afd_registry_count_reject(f->reg, "prod", AFD_REJECT_MALFORMED);
    afd_registry_count_reject(f->reg, "nope", AFD_REJECT_MALFORMED);
    afd_registry_count_reject(f->reg, NULL, AFD_REJECT_UNAUTHENTICATED);
    assert_true(rejected(prod(f), AFD_REJECT_MALFORMED) == 1);
    afd_registry_orphan_rejects(f->reg, orphan);
    assert_true(orphan[AFD_REJECT_MALFORMED] == 1);
    assert_true(orphan[AFD_REJECT_UNAUTHENTICATED] == 1);
    assert_string_equal(afd_reject_reason_name(AFD_REJECT_OUT_OF_RANGE),
                        "out_of_range");
}

/* ensure the recommendation is invalid and says why with no instance */
static void test_recompute_no_instances_invalid(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *r = afd_deployment_recompute(prod(f), 0);

    assert_false(r->valid);
    assert_non_null(strstr(r->why_not, "no attention instance"));
    assert_int_equal(r->theta_source, AFD_THETA_NONE);
}

/* ensure theta comes from live loads whenever an Attention row is live,
 * sigma from finished requests from the 50th on, and theta from requests
 * once no row is live (x from the override) */
static void test_recompute_theta_source_switch(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 25600);
    const struct afd_recommendation *r;
    int i;

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    for (i = 0; i < 49; i++)
        afd_registry_add_request(f->reg, "prod", 100, 500, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    assert_int_equal(r->theta_source, AFD_THETA_LIVE_LOADS);
    assert_true(r->theta == 100.0); /* 25600 tokens / 256 slots */
    assert_false(r->has_sigma);
    afd_registry_add_request(f->reg, "prod", 100, 500, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_int_equal(r->theta_source, AFD_THETA_LIVE_LOADS);
    assert_true(r->theta == 100.0);
    /* sd of j uniform on 0..499 (fixed P=100, D=500). */
    assert_true(r->has_sigma);
    assert_close(sqrt((500.0 * 500.0 - 1) / 12), r->sigma, 1e-9, 1e-12);
    assert_true(r->requests == 50);
}

static int setup_x_override(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    afd_registry_free(f->reg);
    f->cfg.deployments[0].attention_instances = 5;
    f->cfg.deployments[0].batch = 256;
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    return 0;
}

/* ensure theta comes from finished requests, P + (D-1)/2, when no
 * Attention row is live and x is configured */
static void test_recompute_theta_from_requests_without_rows(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *r;
    int i;

    for (i = 0; i < 50; i++)
        afd_registry_add_request(f->reg, "prod", 100, 500, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    assert_int_equal(r->theta_source, AFD_THETA_REQUESTS);
    assert_close(349.5, r->theta, 1e-9, 1e-12);
    assert_true(r->has_sigma);
}

/* ensure the recommendation equals a direct afd_solve on the same inputs */
static void test_recompute_matches_direct_solve(void **state)
{
    struct fixture *f = *state;
    const double loads[4] = {80000, 90000, 100000, 110000};
    struct afd_solve_input in;
    struct afd_solution sol;
    const struct afd_recommendation *r;
    double st, thr_cur, thr_tgt;
    char id[16];
    int i;

    for (i = 0; i < 4; i++) {
        struct afd_step_sample s = attention_sample(id, loads[i]);

        snprintf(id, sizeof(id), "a%d", i);
        afd_registry_add_step(f->reg, "prod", &s, 0, NULL);
    }
    for (i = 0; i < 2; i++) {
        struct afd_step_sample s = attention_sample(id, 0);

        snprintf(id, sizeof(id), "f%d", i);
        s.role = AFD_ROLE_FFN;
        s.batch_size = 0;
        afd_registry_add_step(f->reg, "prod", &s, 0, NULL);
    }
    for (i = 0; i < 60; i++)
        afd_registry_add_request(f->reg, "prod", 100, 500, NULL);
    r = afd_deployment_recompute(prod(f), 10);
    assert_true(r->valid);
    assert_int_equal(r->attention_instances, 4);
    assert_int_equal(r->ffn_instances, 2);
    assert_true(r->batch == 256);
    assert_true(r->spread_measured);
    /* Sample sd of 80k..110k step 10k: sqrt(5e8/3). */
    assert_close(sqrt(5e8 / 3), r->load_spread, 1e-6, 1e-12);

    /* theta from the live loads: mean 95000 tokens over 256 slots. */
    afd_solve_input_init(&in, afd_profile_builtin(AFD_DEFAULT_PROFILE), 256,
                         95000.0 / 256);
    in.has_sigma = true;
    in.sigma = sqrt((500.0 * 500.0 - 1) / 12);
    in.has_load_spread = true;
    in.load_spread = sqrt(5e8 / 3);
    in.ffn_instances = 2;
    assert_int_equal(afd_solve(&in, &sol, NULL), AFD_OK);
    assert_true(sol.has_barrier);
    assert_close(sol.r_star, r->solution.r_star, 1e-9, 1e-9);
    assert_close(sol.r_star_barrier, r->solution.r_star_barrier, 1e-9, 1e-9);
    assert_int_equal(r->target_attention_instances,
                     sol.attention_instances_barrier);
    assert_int_equal(r->solution.regime, sol.regime);
    assert_int_equal(afd_barrier_at(&in, 4, &st, &thr_cur, NULL), AFD_OK);
    assert_int_equal(afd_barrier_at(&in, sol.attention_instances_barrier, &st,
                                    &thr_tgt, NULL),
                     AFD_OK);
    assert_close(thr_cur, r->throughput_current, 1e-12, 1e-9);
    assert_close(thr_tgt / thr_cur - 1, r->expected_gain, 1e-9, 1e-9);
}

/* 4 Attention rows at theta 100 whose comm time, 12 ms, is the slowest
 * stage, 200 steps at one ratio: the comm mode cannot be told apart. */
static const struct afd_recommendation *comm_bound(struct fixture *f)
{
    char id[16];
    int i, k;

    for (k = 0; k < 200; k++)
        for (i = 0; i < 4; i++) {
            struct afd_step_sample s;

            snprintf(id, sizeof(id), "a%d", i);
            s = attention_sample(id, 25600);
            s.attention_ms = 5.075e-5 * 25600 + 2.549;
            s.comm_ms = 12;
            afd_registry_add_step(f->reg, "prod", &s, 0, NULL);
        }
    return afd_deployment_recompute(prod(f), 0);
}

/*
 * ensure that, comm binding and its mode unknown, the target is the count
 * with the smaller worst case over both modes: per instance (a floor) wants
 * about 12 instances, aggregate (grows with r) wants fewer than 4, and
 * going to 12 under aggregate loses more than going low under per instance
 */
static void test_recompute_comm_mode_hedged(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *r = comm_bound(f);

    assert_true(r->valid);
    assert_false(r->comm_mode_identified);
    assert_true(r->comm_hedged);
    assert_int_equal(r->profile.comm_mode, AFD_COMM_AGGREGATE);
    assert_true(r->target_attention_instances < 4);
}

static int setup_comm_known(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    afd_registry_free(f->reg);
    f->cfg.default_deployment.comm_mode_known = true;
    f->cfg.deployments[0].comm_mode_known = true;
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    return 0;
}

/* ensure a deployment whose comm mode is known is never hedged: the comm
 * floor amortised over more instances, r_C = (12 - bF) / (aF B) ~ 12 */
static void test_recompute_comm_mode_known(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *r = comm_bound(f);

    assert_true(r->valid);
    assert_false(r->comm_hedged);
    assert_int_equal(r->profile.comm_mode, AFD_COMM_PER_INSTANCE);
    assert_true(r->target_attention_instances > 4);
}

static int setup_batch_only(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    afd_registry_free(f->reg);
    f->cfg.deployments[0].batch = 256;
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    return 0;
}

/*
 * ensure a planner's observations stand in only where telemetry is absent:
 * ready workers as x and traffic means as theta (geometric decode: P + D - 1
 * = 599, sigma^2 = D (D - 1) = 249500), named as the sources; the first
 * live Attention row takes over both
 */
static void test_recompute_planner_observations(void **state)
{
    struct fixture *f = *state;
    struct afd_planner_obs o = {7, 100, 500};
    struct afd_step_sample a = attention_sample("a0", 25600);
    const struct afd_recommendation *r;

    afd_deployment_set_planner_obs(prod(f), &o);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    assert_int_equal(r->attention_instances, 7);
    assert_string_equal(r->attention_source, "planner");
    assert_int_equal(r->theta_source, AFD_THETA_PLANNER);
    assert_close(599, r->theta, 0, 1e-12);
    assert_true(r->has_sigma);
    assert_close(sqrt(249500.0), r->sigma, 0, 1e-12);
    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_int_equal(r->attention_instances, 1);
    assert_string_equal(r->attention_source, "telemetry");
    assert_int_equal(r->theta_source, AFD_THETA_LIVE_LOADS);
    assert_true(r->theta == 100.0);
    /* Nonsense observations are dropped, not used. */
    o.ready_attention = -3;
    o.osl = NAN;
    afd_deployment_set_planner_obs(prod(f), &o);
    afd_registry_free(f->reg);
    f->reg = afd_registry_new(&f->cfg, NULL);
    afd_deployment_set_planner_obs(prod(f), &o);
    r = afd_deployment_recompute(prod(f), 0);
    assert_false(r->valid);
    assert_int_equal(r->attention_instances, 0);
    assert_int_equal(r->theta_source, AFD_THETA_NONE);
}

/* ensure y defaults to 1 without FFN telemetry, and overrides win */
static void test_recompute_overrides_and_default_y(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 25600);
    const struct afd_recommendation *r;

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_int_equal(r->ffn_instances, 1);
    assert_false(r->spread_measured);
    assert_false(r->solution.has_barrier); /* one instance, no sigma */
    assert_int_equal(r->target_attention_instances,
                     r->solution.attention_instances);
}

static int setup_overrides(void **state)
{
    struct fixture *f;

    setup(state);
    f = *state;
    afd_registry_free(f->reg);
    f->cfg.deployments[0].attention_instances = 5;
    f->cfg.deployments[0].ffn_instances = 3;
    f->cfg.deployments[0].batch = 128;
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    return 0;
}

/* ensure configured x, y and B replace the live values */
static void test_recompute_config_overrides(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 25600);
    const struct afd_recommendation *r;

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL); /* B 256 reported */
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    assert_int_equal(r->attention_instances, 5);
    assert_int_equal(r->ffn_instances, 3);
    assert_true(r->batch == 128);
    assert_true(r->theta == 200.0); /* 25600 / 128 */
}

/*
 * ensure current_regime is the stage binding at the configured x/y = 5/3
 * (B 128): t_F = aF*(5/3)*128 + bF = 5.479 ms against t_A = aA*T + bA
 */
static void test_recompute_current_regime_at_ratio(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 64000);
    const struct afd_recommendation *r;

    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    /* t_A = 5.075e-5 * 64000 + 2.549 = 5.797 > 5.479 */
    assert_int_equal(r->current_regime, AFD_REGIME_ATTENTION);
    /* A drop of more than 20% restarts the live-load tracker at once. */
    a.token_load = 40000;
    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->valid);
    /* t_A = 5.075e-5 * 40000 + 2.549 = 4.579 < 5.479 */
    assert_int_equal(r->current_regime, AFD_REGIME_FFN);
}

/* ensure stage times feed the calibrator and the observed means */
static void test_add_step_feeds_calibration(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 1000);
    double ms[AFD_REGIME_COUNT];
    const struct afd_recommendation *r;

    assert_false(afd_deployment_observed_stage_ms(prod(f), ms));
    a.attention_ms = 4;
    a.comm_ms = 2;
    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    a.attention_ms = 6;
    afd_registry_add_step(f->reg, "prod", &a, 0, NULL);
    assert_true(afd_deployment_observed_stage_ms(prod(f), ms));
    /* EWMA with alpha 1/64 from 4: 4 + (6-4)/64. */
    assert_close(4 + 2.0 / 64, ms[AFD_REGIME_ATTENTION], 1e-12, 1e-12);
    assert_true(ms[AFD_REGIME_COMMUNICATION] == 2);
    assert_true(ms[AFD_REGIME_FFN] == 0);
    r = afd_deployment_recompute(prod(f), 0);
    assert_true(r->calib.samples[0] == 2);
    assert_true(r->calib.samples[1] == 2);
    assert_true(r->calib.samples[2] == 0);
}

#define T(fn, s) cmocka_unit_test_setup_teardown(fn, s, teardown)

/*
 * ensure the shift forecast's bookkeeping (slots.c): the step clock follows
 * the instances' own counters, a row first seen later joins at the clock
 * without moving it; a batch cut hands requests back (a backlog and an
 * open closure) that the next finished ones, by weight, resume before the
 * closure reopens; our release hands back its instances' slots at once
 */
static void test_slot_ledger_and_step_clock(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample a = attention_sample("a0", 1000);
    struct afd_step_sample b = attention_sample("a1", 1000);
    struct afd_deployment *d;

    a.step = 10;
    assert_int_equal(afd_registry_add_step(f->reg, "prod", &a, 1000, NULL),
                     AFD_REJECT_NONE);
    d = prod(f);
    assert_true(d->step_clock == 0); /* first sight: aligned, not moved */
    a.step = 20;
    afd_registry_add_step(f->reg, "prod", &a, 2000, NULL);
    assert_true(d->step_clock == 10);
    b.step = 500; /* its own counter, seen later */
    afd_registry_add_step(f->reg, "prod", &b, 2000, NULL);
    assert_true(d->step_clock == 10);
    b.step = 505;
    afd_registry_add_step(f->reg, "prod", &b, 2100, NULL);
    assert_true(d->step_clock == 15);
    /* a report at step 15 (its window: [15, 15]) */
    afd_deployment_add_request(f->reg, &d, "prod", 100, 5, 1, NULL);
    assert_true(d->req_from == 15 && d->req_step_clock == 15);
    /* batch cut on a0, seen at its sample of step 35 (the closure starts
     * at the clock before it, 15): 256 -> 128 hands back 128 requests */
    assert_true(d->backlog == 0);
    a.step = 45;
    a.batch_size = 128;
    afd_registry_add_step(f->reg, "prod", &a, 2200, NULL);
    assert_true(d->backlog == 128);
    assert_int_equal(d->transient.n_closed, 1);
    assert_true(d->transient.closed[0].from == 15);
    assert_true(isinf(d->transient.closed[0].to));
    a.step = 65;
    afd_registry_add_step(f->reg, "prod", &a, 2200, NULL);
    /* The report [15, 55]: 100 finished (one sampled, weight 100) resume
     * 100, then 60 resume the last 28 and admit 32 */
    afd_deployment_add_request(f->reg, &d, "prod", 100, 5, 100, NULL);
    assert_true(d->req_from == 15 && d->req_step_clock == 55);
    assert_true(d->backlog == 28);
    afd_deployment_add_request(f->reg, &d, "prod", 100, 5, 60, NULL);
    assert_true(d->backlog == 0);
    /* Where in the report it drained is known once the report is whole. */
    assert_true(isinf(d->transient.closed[0].to));
    a.step = 85;
    afd_registry_add_step(f->reg, "prod", &a, 2300, NULL);
    afd_deployment_add_request(f->reg, &d, "prod", 100, 5, 1, NULL);
    /* Drained at weight 128 of the report's 160: 15 + 40 * 0.8 (not 55,
     * its end: the 32 admitted after would be taken for resumed ones) */
    assert_true(d->transient.closed[0].to == 47);
    /* our command removed one instance of 256 slots */
    d->rec.batch = 256;
    d->rec.attention_instances = 2;
    afd_deployment_note_release(d, 1);
    assert_true(d->backlog == 256 && d->released == 1 && d->released_seen);
    assert_int_equal(d->transient.n_closed, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_add_step_valid_accepted, setup),
        T(test_add_step_nan_not_finite, setup),
        T(test_add_step_inf_not_finite, setup),
        T(test_add_step_negative_rejected, setup),
        T(test_add_step_absurd_out_of_range, setup),
        T(test_add_step_at_bounds_accepted, setup),
        T(test_add_step_bad_id_missing_field, setup),
        T(test_add_step_bad_role_out_of_range, setup),
        T(test_add_step_empty_deployment_orphan, setup),
        T(test_add_step_bad_utf8_deployment_malformed, setup),
        T(test_add_step_valid_around_bad_kept, setup),
        T(test_add_request_bad_values_rejected, setup),
        T(test_add_request_weight_checked, setup),
        T(test_slot_ledger_and_step_clock, setup),
        T(test_add_step_auto_create_off_unknown, setup_no_auto),
        T(test_add_step_auto_create_on_creates, setup),
        T(test_add_step_bad_item_no_auto_create, setup),
        T(test_add_step_deployment_limit_capacity, setup_small),
        T(test_add_step_instance_limit_capacity, setup_small),
        T(test_tick_liveness_expiry, setup),
        T(test_tick_expiry_keeps_table_consistent, setup),
        T(test_add_step_role_change_recounted, setup),
        T(test_count_reject_known_and_orphan, setup),
        T(test_recompute_no_instances_invalid, setup),
        T(test_recompute_theta_source_switch, setup),
        T(test_recompute_theta_from_requests_without_rows, setup_x_override),
        T(test_recompute_comm_mode_hedged, setup),
        T(test_recompute_planner_observations, setup_batch_only),
        T(test_recompute_comm_mode_known, setup_comm_known),
        T(test_recompute_matches_direct_solve, setup),
        T(test_recompute_overrides_and_default_y, setup),
        T(test_recompute_config_overrides, setup_overrides),
        T(test_recompute_current_regime_at_ratio, setup_overrides),
        T(test_add_step_feeds_calibration, setup),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
