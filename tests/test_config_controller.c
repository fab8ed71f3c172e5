/*
 * test_config_controller.c - the "controller" and "alerting" sections of the
 * daemon's JSON config (plugin/daemon/config.h): defaults equal to the pure
 * modules', seconds -> ms, the "controller.alerts" alias, and validation
 * errors naming the field.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller/alert.h"
#include "controller/policy.h"
#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "tests/config_fixtures.h"

static int load(struct config_fixture *f, const char *text, char *err)
{
    write_file(f, text);
    return afd_config_load_file(&f->cfg, f->path, err);
}

/* Expects AFD_EINVAL with every needle in the message, cfg unchanged. */
static void expect_error(struct config_fixture *f, const char *text,
                         const char *needle1, const char *needle2)
{
    char err[AFD_ERR_LEN] = "";
    struct afd_controller_config before = f->cfg.controller;

    assert_int_equal(load(f, text, err), AFD_EINVAL);
    if (!strstr(err, needle1) || (needle2 && !strstr(err, needle2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err, needle1,
                 needle2 ? needle2 : "");
    assert_memory_equal(&before, &f->cfg.controller, sizeof(before));
}

/* ensure the defaults are the policy's and alert module's own defaults */
static void test_config_default_controller_matches_modules(void **state)
{
    struct config_fixture *f = *state;
    struct afd_policy_config p;
    struct afd_alert_config a;

    afd_policy_config_init(&p);
    afd_alert_config_init(&a);
    assert_string_equal(f->cfg.controller.clock, "wall");
    assert_int_equal(f->cfg.controller.eval_interval_ms, 1000);
    assert_true(f->cfg.controller.policy.gain_threshold == p.gain_threshold);
    assert_int_equal(f->cfg.controller.policy.dwell_ms, p.dwell_ms);
    assert_int_equal(f->cfg.controller.policy.cooldown_ms, p.cooldown_ms);
    assert_int_equal(f->cfg.controller.policy.min_attention, p.min_attention);
    assert_int_equal(f->cfg.controller.policy.max_attention, p.max_attention);
    assert_int_equal(f->cfg.controller.policy.max_step, p.max_step);
    assert_int_equal(f->cfg.controller.policy.ack_timeout_ms, p.ack_timeout_ms);
    assert_int_equal(f->cfg.controller.policy.backoff_ms, p.backoff_ms);
    assert_false(f->cfg.controller.policy.advisory);
    assert_int_equal(f->cfg.alerting.rules.debounce_ms, a.debounce_ms);
    assert_int_equal(f->cfg.alerting.rules.resolve_ms, a.resolve_ms);
    assert_string_equal(f->cfg.alerting.am.url, "");
    assert_string_equal(f->cfg.alerting.am.severity, "warning");
}

/* ensure every controller field is read, durations in seconds -> ms */
static void test_config_load_controller_maps_fields(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        load(f,
             "{\"controller\": {\"clock\": \"telemetry\", "
             "\"eval_interval_ms\": 250, \"gain_threshold\": 0.05, "
             "\"dwell_s\": 2.5, \"cooldown_s\": 30, "
             "\"min_attention_instances\": 2, "
             "\"max_attention_instances\": 40, \"max_step\": 3, "
             "\"ack_timeout_s\": 0.5, \"advisory\": true, "
             "\"backoff_s\": 7, \"settle_s\": 20, "
             "\"settled_gain_threshold\": 0.06}}",
             err),
        AFD_OK);
    assert_string_equal(f->cfg.controller.clock, "telemetry");
    assert_int_equal(f->cfg.controller.eval_interval_ms, 250);
    assert_true(f->cfg.controller.policy.gain_threshold == 0.05);
    assert_int_equal(f->cfg.controller.policy.dwell_ms, 2500);
    assert_int_equal(f->cfg.controller.policy.cooldown_ms, 30000);
    assert_int_equal(f->cfg.controller.policy.min_attention, 2);
    assert_int_equal(f->cfg.controller.policy.max_attention, 40);
    assert_int_equal(f->cfg.controller.policy.max_step, 3);
    assert_int_equal(f->cfg.controller.policy.ack_timeout_ms, 500);
    assert_true(f->cfg.controller.policy.advisory);
    assert_int_equal(f->cfg.controller.policy.backoff_ms, 7000);
    assert_int_equal(f->cfg.controller.policy.settle_ms, 20000);
    assert_true(f->cfg.controller.policy.settled_gain_threshold == 0.06);
}

/* ensure every alerting field is read, durations in seconds -> ms */
static void test_config_load_alerting_maps_fields(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        load(f,
             "{\"alerting\": {\"debounce_s\": 2, \"resolve_s\": 3.5, "
             "\"alertmanager_url\": \"http://127.0.0.1:9093\", "
             "\"generator_url\": \"http://afd/\", \"severity\": \"page\", "
             "\"resend_interval_s\": 0.5, \"timeout_s\": 4, "
             "\"backoff_initial_s\": 0.1, \"backoff_max_s\": 0.4, "
             "\"max_queue\": 100, \"max_batch\": 10}}",
             err),
        AFD_OK);
    assert_int_equal(f->cfg.alerting.rules.debounce_ms, 2000);
    assert_int_equal(f->cfg.alerting.rules.resolve_ms, 3500);
    assert_string_equal(f->cfg.alerting.am.url, "http://127.0.0.1:9093");
    assert_string_equal(f->cfg.alerting.am.generator_url, "http://afd/");
    assert_string_equal(f->cfg.alerting.am.severity, "page");
    assert_int_equal(f->cfg.alerting.am.resend_interval_ms, 500);
    assert_int_equal(f->cfg.alerting.am.timeout_ms, 4000);
    assert_int_equal(f->cfg.alerting.am.backoff_initial_ms, 100);
    assert_int_equal(f->cfg.alerting.am.backoff_max_ms, 400);
    assert_int_equal(f->cfg.alerting.am.max_queue, 100);
    assert_int_equal(f->cfg.alerting.am.max_batch, 10);
}

/* ensure "controller.alerts" is the same section as "alerting" */
static void test_config_load_controller_alerts_alias(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(load(f,
                          "{\"controller\": {\"alerts\": {\"debounce_s\": 1, "
                          "\"resolve_s\": 4}}}",
                          err),
                     AFD_OK);
    assert_int_equal(f->cfg.alerting.rules.debounce_ms, 1000);
    assert_int_equal(f->cfg.alerting.rules.resolve_ms, 4000);
}

/* ensure an unknown clock is refused naming controller.clock */
static void test_config_load_bad_clock_fails(void **state)
{
    expect_error(*state, "{\"controller\": {\"clock\": \"sundial\"}}",
                 "controller.clock", "sundial");
}

/* ensure min above max attention is refused naming the field */
static void test_config_load_min_above_max_fails(void **state)
{
    expect_error(*state,
                 "{\"controller\": {\"min_attention_instances\": 9, "
                 "\"max_attention_instances\": 4}}",
                 "controller.max_attention_instances", "got 4");
}

/* ensure a negative dwell is refused with its range */
static void test_config_load_negative_dwell_fails(void **state)
{
    expect_error(*state, "{\"controller\": {\"dwell_s\": -1}}",
                 "controller.dwell_s", "[0, 604800]");
}

/* ensure a gain threshold above 1 is refused */
static void test_config_load_gain_above_one_fails(void **state)
{
    expect_error(*state, "{\"controller\": {\"gain_threshold\": 1.5}}",
                 "controller.gain_threshold", "got 1.5");
}

/* ensure max_step 0 and ack timeout 0 are refused */
static void test_config_load_zero_step_or_timeout_fails(void **state)
{
    expect_error(*state, "{\"controller\": {\"max_step\": 0}}",
                 "controller.max_step", "got 0");
    expect_error(*state, "{\"controller\": {\"ack_timeout_s\": 0}}",
                 "controller.ack_timeout_s", "got 0");
}

/* ensure a typo in the controller section is refused with the known keys */
static void test_config_load_controller_unknown_key_fails(void **state)
{
    expect_error(*state, "{\"controller\": {\"dwel_s\": 1}}",
                 "controller.dwel_s", "unknown field");
}

/* ensure an https Alertmanager url is refused with the workaround */
static void test_config_load_https_url_fails(void **state)
{
    expect_error(*state,
                 "{\"alerting\": {\"alertmanager_url\": \"https://am:9093\"}}",
                 "alerting.alertmanager_url", "TLS proxy");
}

/* ensure backoff_max below backoff_initial is refused */
static void test_config_load_backoff_order_fails(void **state)
{
    expect_error(*state,
                 "{\"alerting\": {\"backoff_initial_s\": 2, "
                 "\"backoff_max_s\": 1}}",
                 "alerting.backoff_max_s", "backoff_initial_s");
}

/* ensure max_batch above max_queue is refused */
static void test_config_load_batch_above_queue_fails(void **state)
{
    expect_error(*state, "{\"alerting\": {\"max_queue\": 5, \"max_batch\": 6}}",
                 "alerting.max_batch", "max_queue (5)");
}

/* ensure an empty severity is refused */
static void test_config_load_empty_severity_fails(void **state)
{
    expect_error(*state, "{\"alerting\": {\"severity\": \"\"}}",
                 "alerting.severity", "empty");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, config_setup, config_teardown)
        T(test_config_default_controller_matches_modules),
        T(test_config_load_controller_maps_fields),
        T(test_config_load_alerting_maps_fields),
        T(test_config_load_controller_alerts_alias),
        T(test_config_load_bad_clock_fails),
        T(test_config_load_min_above_max_fails),
        T(test_config_load_negative_dwell_fails),
        T(test_config_load_gain_above_one_fails),
        T(test_config_load_zero_step_or_timeout_fails),
        T(test_config_load_controller_unknown_key_fails),
        T(test_config_load_https_url_fails),
        T(test_config_load_backoff_order_fails),
        T(test_config_load_batch_above_queue_fails),
        T(test_config_load_empty_severity_fails),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
