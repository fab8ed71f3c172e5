/*
 * test_alertmanager_payload.c - the pure half of plugin/daemon/alertmanager.h
 * (plugin/daemon/alertmanager_payload.c): RFC 3339 times, config and event
 * checks, the url split and the exact v2 request body.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/alertmanager.h"
#include "tests/alertmanager_fixtures.h"

/* ---- helpers ---- */

static void fmt_ok(int64_t ms, const char *want)
{
    char out[AFD_AM_TIME_LEN];

    assert_int_equal(afd_alertmanager_format_time(ms, out, NULL), AFD_OK);
    assert_string_equal(out, want);
}

static void check_err(const struct afd_alertmanager_config *cfg,
                      const char *part)
{
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_alertmanager_config_check(cfg, err), AFD_EINVAL);
    afd_assert_contains(err, part);
}

/* ---- RFC 3339 times ---- */

/* ensure format_time prints the epoch when ms is 0 */
static void test_format_time_epoch(void **state)
{
    fmt_ok(0, "1970-01-01T00:00:00.000Z");
}

/* ensure format_time keeps the milliseconds when the instant is known */
static void test_format_time_known_instant(void **state)
{
    fmt_ok(T0, "2023-11-14T22:13:20.123Z");
}

/* ensure format_time handles a leap day when ms falls on 2000-02-29 */
static void test_format_time_leap_day(void **state)
{
    /* 946684800 s = 2000-01-01, + 59 days */
    fmt_ok(951782400007LL, "2000-02-29T00:00:00.007Z");
}

/* ensure format_time reaches year 9999 when ms is AFD_AM_TIME_MAX */
static void test_format_time_max(void **state)
{
    fmt_ok(AFD_AM_TIME_MAX, "9999-12-31T23:59:59.999Z");
}

/* ensure format_time rejects ms when it is negative or past the max */
static void test_format_time_out_of_range(void **state)
{
    char out[AFD_AM_TIME_LEN], err[AFD_ERR_LEN];

    assert_int_equal(afd_alertmanager_format_time(-1, out, err), AFD_EINVAL);
    afd_assert_contains(err, "-1 ms");
    assert_int_equal(
        afd_alertmanager_format_time(AFD_AM_TIME_MAX + 1, out, err),
        AFD_EINVAL);
    afd_assert_contains(err, "253402300800000");
}

/* ---- config ---- */

/* ensure config_check accepts the defaults when a url is set */
static void test_config_check_defaults_ok(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "http://127.0.0.1:9093");
    assert_int_equal(afd_alertmanager_config_check(&cfg, NULL), AFD_OK);
    assert_string_equal(cfg.severity, "warning");
    assert_true(cfg.resend_interval_ms == 60000);
    assert_true(cfg.backoff_initial_ms == 1000);
    assert_true(cfg.backoff_max_ms == 60000);
}

/* ensure config_check names the url when it is empty or malformed */
static void test_config_check_bad_url(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "");
    check_err(&cfg, "field 'url' is empty");
    base_cfg(&cfg, "ftp://am:21");
    check_err(&cfg, "url 'ftp://am:21' must start with http://");
    base_cfg(&cfg, "127.0.0.1:9093");
    check_err(&cfg, "'127.0.0.1:9093'");
    base_cfg(&cfg, "http://am:9093/?x=1");
    check_err(&cfg, "must not have credentials, a query or a fragment");
    base_cfg(&cfg, "http://:9093");
    check_err(&cfg, "has no host");
}

/* ensure config_check refuses https when the url asks for it */
static void test_config_check_https(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "https://am.example:9093");
    check_err(&cfg, "url 'https://am.example:9093' uses https, which is not "
                    "supported");
}

/* ensure config_check names each interval field when it is zero */
static void test_config_check_zero_intervals(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "http://am:9093");
    cfg.resend_interval_ms = 0;
    check_err(&cfg, "field 'resend_interval_ms' must be in [1, 86400000] ms, "
                    "got 0");
    base_cfg(&cfg, "http://am:9093");
    cfg.timeout_ms = 0;
    check_err(&cfg, "field 'timeout_ms' must be in [1, 86400000] ms, got 0");
    base_cfg(&cfg, "http://am:9093");
    cfg.backoff_initial_ms = 0;
    check_err(&cfg, "field 'backoff_initial_ms'");
    base_cfg(&cfg, "http://am:9093");
    cfg.backoff_max_ms = 0;
    check_err(&cfg, "field 'backoff_max_ms'");
    base_cfg(&cfg, "http://am:9093");
    cfg.backoff_max_ms = 500;
    check_err(&cfg, "'backoff_max_ms' must be >= backoff_initial_ms (1000), "
                    "got 500");
}

/* ensure config_check names the bound when max_queue or max_batch is bad */
static void test_config_check_queue_bounds(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "http://am:9093");
    cfg.max_queue = 0;
    check_err(&cfg, "field 'max_queue' must be in [1, 1000000], got 0");
    base_cfg(&cfg, "http://am:9093");
    cfg.max_queue = 4;
    cfg.max_batch = 5;
    check_err(&cfg, "field 'max_batch' must be in [1, max_queue = 4], got 5");
}

/* ensure config_check rejects extra labels when reserved, invalid or
 * duplicated, and severity when empty */
static void test_config_check_labels(void **state)
{
    struct afd_alertmanager_config cfg;

    base_cfg(&cfg, "http://am:9093");
    cfg.n_labels = 1;
    strcpy(cfg.labels[0].name, "regime");
    strcpy(cfg.labels[0].value, "x");
    check_err(&cfg, "label 'regime' is reserved");
    strcpy(cfg.labels[0].name, "1team");
    check_err(&cfg, "name '1team' must match");
    cfg.n_labels = 2;
    strcpy(cfg.labels[0].name, "team");
    strcpy(cfg.labels[1].name, "team");
    strcpy(cfg.labels[1].value, "y");
    check_err(&cfg, "label 'team' is given twice");
    cfg.n_labels = 1;
    cfg.labels[0].value[0] = '\0';
    check_err(&cfg, "label 'team' value must be non-empty");
    strcpy(cfg.labels[0].value, "x");
    cfg.severity[0] = '\0';
    check_err(&cfg, "field 'severity' is empty");
}

/* ensure endpoint splits host, port and path when the url has a prefix,
 * no port or an IPv6 literal */
static void test_endpoint_paths(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_am_endpoint ep;

    base_cfg(&cfg, "http://127.0.0.1:9093");
    assert_int_equal(afd_alertmanager_endpoint(&cfg, &ep, NULL), AFD_OK);
    assert_string_equal(ep.address, "127.0.0.1");
    assert_int_equal(ep.port, 9093);
    assert_string_equal(ep.path, "/api/v2/alerts");
    base_cfg(&cfg, "http://am.example/prefix//");
    assert_int_equal(afd_alertmanager_endpoint(&cfg, &ep, NULL), AFD_OK);
    assert_int_equal(ep.port, 80);
    assert_string_equal(ep.host, "am.example");
    assert_string_equal(ep.path, "/prefix/api/v2/alerts");
    base_cfg(&cfg, "http://[::1]:9093/");
    assert_int_equal(afd_alertmanager_endpoint(&cfg, &ep, NULL), AFD_OK);
    assert_string_equal(ep.host, "[::1]");
    assert_string_equal(ep.address, "::1");
    assert_string_equal(ep.path, "/api/v2/alerts");
}

/* ---- events and body ---- */

/* ensure alert_check names the field when an event is invalid */
static void test_alert_check_invalid(void **state)
{
    struct afd_alertmanager_alert a = raised("prod", AFD_REGIME_FFN);
    char err[AFD_ERR_LEN];

    a.ev.regime = (enum afd_regime)7;
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "regime 7");
    a = raised("prod", AFD_REGIME_FFN);
    a.ev.alertname = "AfdOutsideBalancedBand";
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(
        err, "'alertname' must be 'AfdSizingRegimeChanged' for kind 0");
    a = raised("", AFD_REGIME_FFN);
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "'deployment' must be non-empty utf-8");
    a = raised("bad\xff", AFD_REGIME_FFN);
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "'deployment'");
    a = raised("prod", AFD_REGIME_FFN);
    a.ev.ratio = 0;
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "'ratio' must be finite and > 0, got 0");
    a = raised("prod", AFD_REGIME_FFN);
    a.r_star = -1;
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "r_star must be NaN");
    a = resolved("prod", AFD_REGIME_FFN);
    a.ev.end_ms = T0 - 1;
    assert_int_equal(afd_alertmanager_alert_check(&a, err), AFD_EINVAL);
    afd_assert_contains(err, "'end_ms' must be in [start_ms = 1700000000123");
}

static void assert_json_equal(json_t *got, const char *want_text)
{
    json_error_t jerr;
    json_t *want = json_loads(want_text, 0, &jerr);
    char *g;

    if (!want)
        fail_msg("bad expected json: %s", jerr.text);
    if (!json_equal(got, want)) {
        g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("body %s differs from %s", g, want_text);
    }
    json_decref(want);
}

/* ensure payload has the exact labels, annotations and times when a
 * changed alert is raised (endsAt = now + 4 resend intervals) */
static void test_payload_raised_exact(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_alert a = raised("prod", AFD_REGIME_FFN);
    json_t *body;

    base_cfg(&cfg, "http://am:9093");
    strcpy(cfg.generator_url, "http://afd:9464/metrics");
    cfg.n_labels = 1;
    strcpy(cfg.labels[0].name, "team");
    strcpy(cfg.labels[0].value, "serving");
    body = afd_alertmanager_payload(&cfg, &a, 1, T0 + 877, NULL);
    assert_non_null(body);
    assert_json_equal(
        body,
        "[{\"labels\": {\"alertname\": \"AfdSizingRegimeChanged\", "
        "\"deployment\": \"prod\", \"regime\": \"ffn\", \"severity\": "
        "\"warning\", \"team\": \"serving\"},"
        " \"annotations\": {\"summary\": \"prod: the optimum is now set by "
        "the ffn term (was attention)\", \"runbook\": \"re-plan capacity: "
        "the binding term changed, so the hardware mix to buy changed (check "
        "a model, batch or interconnect change)\", \"explanation\": \"ffn "
        "stage 12 ms > attention 9 ms\", \"description\": \"deployment prod: "
        "regime ffn (previously attention), the model's regime at the "
        "current ratio x/y = 1.25 is ffn; recommended r* = 0.8\", "
        "\"r_star\": \"0.8\", \"current_ratio\": \"1.25\", "
        "\"previous_regime\": \"attention\", \"predicted_regime\": \"ffn\"},"
        " \"startsAt\": \"2023-11-14T22:13:20.123Z\","
        " \"endsAt\": \"2023-11-14T22:17:21.000Z\","
        " \"generatorURL\": \"http://afd:9464/metrics\"}]");
    json_decref(body);
}

/* ensure payload sends endsAt = end_ms when the alert is resolved */
static void test_payload_resolved_ends_at_end(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_alert a = resolved("prod", AFD_REGIME_FFN);
    json_t *body;

    base_cfg(&cfg, "http://am:9093");
    body = afd_alertmanager_payload(&cfg, &a, 1, T0 + 999999999, NULL);
    assert_non_null(body);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(body, 0), "endsAt")),
        "2023-11-14T22:18:20.500Z");
    assert_null(json_object_get(json_array_get(body, 0), "generatorURL"));
    json_decref(body);
}

/* ensure the off-balance alert pages (critical), carries the band and the
 * lost throughput, and omits r_star when r* is unknown */
static void test_payload_mismatch_unknown_r_star(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_alert a = raised("prod", AFD_REGIME_ATTENTION);
    json_t *body, *labels, *an;

    base_cfg(&cfg, "http://am:9093");
    a.ev.kind = AFD_ALERT_OFF_BALANCE;
    a.ev.alertname = "AfdOutsideBalancedBand";
    a.r_star = NAN;
    a.ev.ratio = 4;
    a.ev.band_lo = 6;
    a.ev.band_hi = 10;
    a.ev.loss = 0.125;
    a.ev.lost_per_device = 50;
    a.ev.lost_tokens_per_s = 750;
    body = afd_alertmanager_payload(&cfg, &a, 1, T0, NULL);
    assert_non_null(body);
    labels = json_object_get(json_array_get(body, 0), "labels");
    an = json_object_get(json_array_get(body, 0), "annotations");
    assert_int_equal(json_object_size(labels), 4);
    assert_string_equal(json_string_value(json_object_get(labels, "severity")),
                        "critical");
    assert_null(json_object_get(an, "r_star"));
    assert_string_equal(json_string_value(json_object_get(an, "summary")),
                        "prod: ratio 4 outside the balanced band [6, 10], "
                        "12.5% throughput lost");
    assert_string_equal(
        json_string_value(json_object_get(an, "tokens_per_s_lost")), "750");
    assert_string_equal(
        json_string_value(json_object_get(an, "tokens_per_s_lost_per_device")),
        "50");
    json_decref(body);
}

/* ensure the drift alert is a warning naming the stage, with its numbers */
static void test_payload_drift(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_alert a = raised("prod", AFD_REGIME_ATTENTION);
    json_t *body, *labels, *an;

    base_cfg(&cfg, "http://am:9093");
    a.ev.kind = AFD_ALERT_PROFILE_DRIFT;
    a.ev.alertname = "AfdProfileDrift";
    a.ev.drift_factor = 1.3;
    a.ev.measured_ms = 13;
    a.ev.model_ms = 10;
    a.ev.model_hw_ms = 0.25;
    a.ev.stage_load = 153600;
    body = afd_alertmanager_payload(&cfg, &a, 1, T0, NULL);
    assert_non_null(body);
    labels = json_object_get(json_array_get(body, 0), "labels");
    an = json_object_get(json_array_get(body, 0), "annotations");
    assert_string_equal(json_string_value(json_object_get(labels, "severity")),
                        "warning");
    assert_string_equal(json_string_value(json_object_get(labels, "regime")),
                        "attention");
    assert_string_equal(json_string_value(json_object_get(an, "summary")),
                        "prod: the attention stage takes 1.30x the "
                        "calibrated model");
    assert_string_equal(json_string_value(json_object_get(an, "drift_factor")),
                        "1.3");
    assert_string_equal(json_string_value(json_object_get(an, "model_ms")),
                        "10");
    assert_string_equal(
        json_string_value(json_object_get(an, "stage_load_tokens")), "153600");
    assert_null(json_object_get(an, "tokens_per_s_lost"));
    json_decref(body);
}

/* ensure payload keeps endsAt after startsAt when the start is ahead of
 * the send clock */
static void test_payload_start_ahead_of_now(void **state)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_alert a = raised("prod", AFD_REGIME_FFN);
    json_t *body;

    base_cfg(&cfg, "http://am:9093");
    cfg.resend_interval_ms = 1000;
    body = afd_alertmanager_payload(&cfg, &a, 1, T0 - 60000, NULL);
    assert_non_null(body);
    assert_string_equal(
        json_string_value(json_object_get(json_array_get(body, 0), "endsAt")),
        "2023-11-14T22:13:24.123Z");
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_time_epoch),
        cmocka_unit_test(test_format_time_known_instant),
        cmocka_unit_test(test_format_time_leap_day),
        cmocka_unit_test(test_format_time_max),
        cmocka_unit_test(test_format_time_out_of_range),
        cmocka_unit_test(test_config_check_defaults_ok),
        cmocka_unit_test(test_config_check_bad_url),
        cmocka_unit_test(test_config_check_https),
        cmocka_unit_test(test_config_check_zero_intervals),
        cmocka_unit_test(test_config_check_queue_bounds),
        cmocka_unit_test(test_config_check_labels),
        cmocka_unit_test(test_endpoint_paths),
        cmocka_unit_test(test_alert_check_invalid),
        cmocka_unit_test(test_payload_raised_exact),
        cmocka_unit_test(test_payload_resolved_ends_at_end),
        cmocka_unit_test(test_payload_mismatch_unknown_r_star),
        cmocka_unit_test(test_payload_start_ahead_of_now),
        cmocka_unit_test(test_payload_drift),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
