/*
 * test_dynamo.c - the pure parts of the Dynamo planner attachment: the
 * "dynamo" configuration section and component mapping
 * (plugin/daemon/config_dynamo.h), the Propose answer (afd_dynamo_answer)
 * and the Constrain band (afd_dynamo_bounds, plugin/daemon/dynamo.h). The
 * registration thread and the service are tested end to end
 * (integration/e2e/test_grpc_dynamo.py).
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/dynamo.h"
#include "plugin/daemon/registry.h"
#include "tests/config_fixtures.h"

static int load(struct config_fixture *f, const char *text, char *err)
{
    write_file(f, text);
    return afd_config_load_file(&f->cfg, f->path, err);
}

static void expect_error(struct config_fixture *f, const char *text,
                         const char *needle)
{
    char err[AFD_ERR_LEN] = "";
    struct afd_dynamo_config before = f->cfg.dynamo;

    assert_int_equal(load(f, text, err), AFD_EINVAL);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    assert_memory_equal(&before, &f->cfg.dynamo, sizeof(before));
}

/* ensure the defaults follow the proposal (5 s heartbeat = 15 s / 3) */
static void test_dynamo_config_defaults(void **state)
{
    struct config_fixture *f = *state;
    const struct afd_dynamo_config *d = &f->cfg.dynamo;

    assert_string_equal(d->planner, "");
    assert_string_equal(d->plugin_id, "afd-sizer");
    assert_int_equal(d->heartbeat_interval_ms, 5000);
    assert_int_equal(d->request_timeout_ms, 1000);
    assert_int_equal(d->priority, 50);
    assert_false(d->hold_last);
    assert_false(d->advisory);
    assert_false(d->constrain);
    assert_string_equal(d->fpm_encoding, "proto");
    assert_string_equal(d->sub_component_type, "afd-attention");
    assert_int_equal(d->n_maps, 0);
}

/* ensure every field of the section lands where it should */
static void test_dynamo_config_maps_fields(void **state)
{
    struct config_fixture *f = *state;
    const struct afd_dynamo_config *d = &f->cfg.dynamo;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        load(f,
             "{\"grpc_listen\": \"127.0.0.1:1\", \"dynamo\": {"
             "\"planner\": \"planner:7000\", \"token_file\": \"/t\","
             "\"tls_ca_file\": \"/ca\", \"tls_cert_file\": \"/c\","
             "\"tls_key_file\": \"/k\","
             "\"plugin_id\": \"p\", \"priority\": 7, \"endpoint\": "
             "\"grpc://me:1\", \"execution_interval_s\": 2.5,"
             "\"hold_policy\": \"hold_last\", \"request_timeout_s\": 0.25,"
             "\"heartbeat_interval_s\": 0.5, \"fpm_encoding\": \"json\","
             "\"advisory\": true, \"constrain\": true, "
             "\"sub_component_type\": \"afd-attn\","
             "\"deployments\": [{\"name\": \"a\", \"component_name\": "
             "\"a-pool\"}, {\"name\": \"b\", \"sub_component_type\": "
             "\"x\"}]}}",
             err),
        AFD_OK);
    assert_string_equal(f->cfg.grpc_listen, "127.0.0.1:1");
    assert_string_equal(d->planner, "planner:7000");
    assert_string_equal(d->token_file, "/t");
    assert_string_equal(d->tls_ca_file, "/ca");
    assert_string_equal(d->tls_cert_file, "/c");
    assert_string_equal(d->tls_key_file, "/k");
    assert_string_equal(d->plugin_id, "p");
    assert_int_equal(d->priority, 7);
    assert_string_equal(d->endpoint, "grpc://me:1");
    assert_true(d->execution_interval_s == 2.5);
    assert_true(d->hold_last);
    assert_int_equal(d->request_timeout_ms, 250);
    assert_int_equal(d->heartbeat_interval_ms, 500);
    assert_string_equal(d->fpm_encoding, "json");
    assert_true(d->advisory);
    assert_true(d->constrain);
    assert_int_equal(d->n_maps, 2);
    assert_string_equal(d->maps[0].component_name, "a-pool");
    assert_string_equal(d->maps[0].sub_component_type, "afd-attn");
    assert_string_equal(d->maps[1].component_name, "b");
    assert_string_equal(d->maps[1].sub_component_type, "x");
}

/* ensure bad values are refused with the field named, config unchanged */
static void test_dynamo_config_errors(void **state)
{
    expect_error(*state, "{\"dynamo\": {\"colour\": 1}}",
                 "dynamo.colour: unknown field");
    expect_error(*state, "{\"dynamo\": {\"priority\": 1.5}}",
                 "dynamo.priority: must be an integer");
    expect_error(*state, "{\"dynamo\": {\"request_timeout_s\": 0}}",
                 "dynamo.request_timeout_s: must be in");
    expect_error(*state, "{\"dynamo\": {\"hold_policy\": \"forever\"}}",
                 "dynamo.hold_policy");
    expect_error(*state, "{\"dynamo\": {\"fpm_encoding\": \"xml\"}}",
                 "dynamo.fpm_encoding");
    expect_error(*state,
                 "{\"dynamo\": {\"deployments\": [{\"name\": \"a\"},"
                 " {\"name\": \"a\"}]}}",
                 "duplicate name");
    expect_error(*state, "{\"dynamo\": {\"deployments\": [{}]}}",
                 "deployments[0].name: is required");
    expect_error(*state, "{\"dynamo\": []}", "dynamo: must be an object");
    expect_error(*state, "{\"dynamo\": {\"constrain\": 1}}",
                 "dynamo.constrain: must be true or false");
}

/* ensure a deployment maps to its entry, to itself without entries, and to
 * nothing when entries exist but none names it */
static void test_dynamo_map(void **state)
{
    struct afd_dynamo_config dc;
    struct afd_dynamo_map m;

    (void)state;
    afd_config_dynamo_default(&dc);
    assert_true(afd_config_dynamo_map(&dc, "llama", &m));
    assert_string_equal(m.component_name, "llama");
    assert_string_equal(m.sub_component_type, "afd-attention");
    dc.n_maps = 1;
    snprintf(dc.maps[0].deployment, sizeof(dc.maps[0].deployment), "llama");
    snprintf(dc.maps[0].component_name, sizeof(dc.maps[0].component_name),
             "attn-pool");
    snprintf(dc.maps[0].sub_component_type,
             sizeof(dc.maps[0].sub_component_type), "afd");
    assert_true(afd_config_dynamo_map(&dc, "llama", &m));
    assert_string_equal(m.component_name, "attn-pool");
    assert_string_equal(m.sub_component_type, "afd");
    assert_false(afd_config_dynamo_map(&dc, "other", &m));
}

/* ensure the answer is SET = the decision's target with its reason only
 * when the recommendation is valid and a decision exists; else ACCEPT
 * with the missing piece in words */
static void test_dynamo_answer(void **state)
{
    static struct afd_recommendation rec;
    struct afd_control_command cmd;
    struct afd_dynamo_answer a;

    (void)state;
    afd_dynamo_answer(NULL, NULL, &a);
    assert_false(a.set);
    assert_string_equal(a.reason, "unknown deployment");

    memset(&rec, 0, sizeof(rec));
    snprintf(rec.why_not, sizeof(rec.why_not), "no telemetry yet");
    memset(&cmd, 0, sizeof(cmd));
    cmd.cmd.target = 9;
    snprintf(cmd.cmd.reason, sizeof(cmd.cmd.reason), "scale up 3 -> 9");
    afd_dynamo_answer(&rec, &cmd, &a);
    assert_false(a.set);
    assert_string_equal(a.reason, "no recommendation: no telemetry yet");

    rec.valid = true;
    afd_dynamo_answer(&rec, NULL, &a);
    assert_false(a.set);
    assert_non_null(strstr(a.reason, "no decision yet"));

    afd_dynamo_answer(&rec, &cmd, &a);
    assert_true(a.set);
    assert_int_equal(a.replicas, 9);
    assert_string_equal(a.reason, "scale up 3 -> 9");

    cmd.cmd.target = 0; /* never a SET to zero replicas */
    afd_dynamo_answer(&rec, &cmd, &a);
    assert_false(a.set);
}

/*
 * A profile whose band is worked by hand: t_A = aA B theta = 10 ms flat,
 * t_C = 1 ms, t_F = aF r B = r ms at B = 100. Throughput per device
 * f(r) = r B / (tau (r + 1)) is 10 r / (r + 1) up to r* = 10 (where
 * t_F meets t_A), then 100 / (r + 1); f(r*) = 100 / 11.
 */
static struct afd_solve_input hand_profile(struct afd_profile *p)
{
    struct afd_solve_input in;

    memset(p, 0, sizeof(*p));
    p->aA = 0.001;
    p->bC = 1;
    p->aF = 0.01;
    p->comm_mode = AFD_COMM_PER_INSTANCE;
    afd_solve_input_init(&in, p, 100, 100);
    return in;
}

static struct afd_control_band band_of(const struct afd_solve_input *in,
                                       double loss, int ffn)
{
    struct afd_control_band b = {0, 0, 10, loss, ffn};

    afd_balanced_band(in, 10, loss, &b.lo, &b.hi);
    return b;
}

/*
 * ensure the Constrain bounds are the whole counts of the balanced band,
 * exact on the hand profile: within 10% of the best, 10 r / (r + 1) =
 * 0.9 * 100 / 11 gives r = 4.5 and 100 / (r + 1) = 90 / 11 gives r =
 * 1100 / 90 - 1 = 11.22: AT_LEAST 5, AT_MOST 11 for one FFN, 9..22 for
 * two; within 5%: r = 95 / 15 = 6.33 and 1100 / 95 - 1 = 10.58: 7..10
 */
static void test_dynamo_bounds_hand_band(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in = hand_profile(&p);
    struct afd_control_band b;
    struct afd_dynamo_bounds out;

    (void)state;
    b = band_of(&in, 0.1, 1);
    assert_true(fabs(b.lo - 4.5) < 1e-6);
    assert_true(fabs(b.hi - (1100.0 / 90 - 1)) < 1e-6);
    afd_dynamo_bounds(&b, 1, 1024, &out);
    assert_true(out.set);
    assert_int_equal(out.at_least, 5);
    assert_int_equal(out.at_most, 11);
    assert_non_null(strstr(out.reason, "5..11 Attention instances for 1 FFN"));
    assert_non_null(strstr(out.reason, "within 10.0% of the best"));

    b = band_of(&in, 0.1, 2);
    afd_dynamo_bounds(&b, 1, 1024, &out);
    assert_int_equal(out.at_least, 9);
    assert_int_equal(out.at_most, 22);

    b = band_of(&in, 0.05, 1);
    assert_true(fabs(b.lo - 95.0 / 15) < 1e-6);
    assert_true(fabs(b.hi - (1100.0 / 95 - 1)) < 1e-6);
    afd_dynamo_bounds(&b, 1, 1024, &out);
    assert_int_equal(out.at_least, 7);
    assert_int_equal(out.at_most, 10);

    /* the controller's bounds clip the band */
    b = band_of(&in, 0.1, 1);
    afd_dynamo_bounds(&b, 6, 8, &out);
    assert_int_equal(out.at_least, 6);
    assert_int_equal(out.at_most, 8);
}

/* ensure edges that are whole counts stay in (a barrier band is x / y),
 * a band with no whole count pins to the count nearest r* y, and no band
 * is no opinion */
static void test_dynamo_bounds_edges(void **state)
{
    struct afd_control_band b = {8.0 / 3, 13.0 / 3, 10.0 / 3, 0.05, 3};
    struct afd_dynamo_bounds out;

    (void)state;
    afd_dynamo_bounds(&b, 1, 1024, &out);
    assert_int_equal(out.at_least, 8);
    assert_int_equal(out.at_most, 13);

    b = (struct afd_control_band){4.5, 4.9, 4.7, 0.01, 1};
    afd_dynamo_bounds(&b, 1, 1024, &out);
    assert_true(out.set);
    assert_int_equal(out.at_least, 5);
    assert_int_equal(out.at_most, 5);

    b = (struct afd_control_band){4.5, 11.2, 10, 0.1, 1};
    afd_dynamo_bounds(&b, 20, 30, &out); /* the band below the bounds */
    assert_int_equal(out.at_least, 20);
    assert_int_equal(out.at_most, 20);

    afd_dynamo_bounds(NULL, 1, 1024, &out);
    assert_false(out.set);
    assert_non_null(strstr(out.reason, "no balanced band yet"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, config_setup, config_teardown)
        T(test_dynamo_config_defaults), T(test_dynamo_config_maps_fields),
        T(test_dynamo_config_errors),   T(test_dynamo_map),
        T(test_dynamo_answer),          T(test_dynamo_bounds_hand_band),
        T(test_dynamo_bounds_edges),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
