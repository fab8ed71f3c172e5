/* test_metrics.c - the Prometheus text rendering of a fixed registry. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "estimator/base/error.h"
#include "plugin/daemon/metrics.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/registry_internal.h"

#define ODD_NAME "a\"b\\c\nd"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    char *text; /* rendered, NUL-terminated */
};

static void step(struct fixture *f, const char *dep, const char *id,
                 double load)
{
    struct afd_step_sample s;

    memset(&s, 0, sizeof(s));
    s.instance_id = id;
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    s.token_load = load;
    s.attention_ms = 10;
    assert_int_equal(afd_registry_add_step(f->reg, dep, &s, 0, NULL), 0);
}

/* f->text: the registry rendered now (the previous text freed). */
static void render(struct fixture *f)
{
    struct evbuffer *b = evbuffer_new();
    size_t n;

    assert_non_null(b);
    assert_int_equal(
        afd_metrics_render(&(struct afd_metrics_src){.reg = f->reg}, b),
        AFD_OK);
    n = evbuffer_get_length(b);
    free(f->text);
    f->text = malloc(n + 1);
    assert_non_null(f->text);
    evbuffer_remove(b, f->text, n);
    f->text[n] = '\0';
    evbuffer_free(b);
}

/* Two deployments: "prod" with a valid recommendation, ODD_NAME without. */
static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct afd_step_sample bad;

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->cfg.auto_create_deployments = false;
    f->cfg.n_deployments = 2;
    f->cfg.deployments = calloc(2, sizeof(*f->cfg.deployments));
    f->cfg.deployments[0] = f->cfg.default_deployment;
    f->cfg.deployments[1] = f->cfg.default_deployment;
    strcpy(f->cfg.deployments[0].name, "prod");
    strcpy(f->cfg.deployments[1].name, ODD_NAME);
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    step(f, "prod", "a0", 25600);
    step(f, "prod", "a1", 30000);
    step(f, "prod", "a0", 26000);
    memset(&bad, 0, sizeof(bad));
    bad.instance_id = "x";
    bad.token_load = -1;
    afd_registry_add_step(f->reg, "prod", &bad, 0, NULL);
    afd_registry_add_request(f->reg, "ghost", 1, 2, NULL);
    afd_registry_tick(f->reg, 0);
    render(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f->text);
    free(f);
    return 0;
}

static void expect_line(const char *text, const char *want)
{
    char buf[512];

    snprintf(buf, sizeof(buf), "\n%s\n", want);
    if (!strstr(text, buf))
        fail_msg("missing line: %s", want);
}

/* ensure the output ends with a newline and every family has one HELP and
 * one TYPE line before all of its samples, which are contiguous */
static void test_metrics_render_families_grouped(void **state)
{
    struct fixture *f = *state;
    char seen[64][96], cur[96] = "";
    size_t n_seen = 0, i, len = strlen(f->text);
    char *save, *copy = strdup(f->text), *l;

    assert_true(len > 0 && f->text[len - 1] == '\n');
    for (l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char name[96];

        if (!strncmp(l, "# HELP ", 7))
            continue;
        if (!strncmp(l, "# TYPE ", 7)) {
            sscanf(l + 7, "%95s", cur);
            for (i = 0; i < n_seen; i++)
                if (!strcmp(seen[i], cur))
                    fail_msg("family %s declared twice", cur);
            assert_true(n_seen < 64);
            strcpy(seen[n_seen++], cur);
            continue;
        }
        sscanf(l, "%95[^{ ]", name);
        if (strcmp(name, cur))
            fail_msg("sample %s outside its family (current %s)", name, cur);
    }
    free(copy);
    assert_true(n_seen >= 20);
}

/* ensure label values are escaped: quote, backslash and newline */
static void test_metrics_render_escapes_labels(void **state)
{
    expect_line(((struct fixture *)*state)->text,
                "afd_attention_instances{deployment=\"a\\\"b\\\\c\\nd\"} 0");
}

/* ensure a valid recommendation is exported with a one-hot regime */
static void test_metrics_render_valid_recommendation(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *r =
        afd_deployment_recommendation(afd_registry_find(f->reg, "prod"));
    char want[160];
    int ones = 0, i;
    const char *regimes[] = {"attention", "communication", "ffn"};

    assert_true(r->valid);
    expect_line(f->text, "afd_recommendation_valid{deployment=\"prod\"} 1");
    expect_line(f->text, "afd_attention_instances{deployment=\"prod\"} 2");
    expect_line(f->text, "afd_ffn_instances{deployment=\"prod\"} 1");
    snprintf(want, sizeof(want), "afd_r_star{deployment=\"prod\"} %.17g",
             r->solution.r_star);
    expect_line(f->text, want);
    for (i = 0; i < 3; i++) {
        snprintf(want, sizeof(want),
                 "\nafd_regime{deployment=\"prod\",regime=\"%s\"} 1\n",
                 regimes[i]);
        ones += strstr(f->text, want) != NULL;
    }
    assert_int_equal(ones, 1);
    /* theta from live loads: mean(26000, 30000) / 256 */
    expect_line(f->text, "afd_theta_tokens{deployment=\"prod\"} 109.375");
    /* One-hot over every source, the planner's included. */
    expect_line(
        f->text,
        "afd_theta_source{deployment=\"prod\",source=\"live_loads\"} 1");
    expect_line(f->text,
                "afd_theta_source{deployment=\"prod\",source=\"requests\"} 0");
    expect_line(f->text,
                "afd_theta_source{deployment=\"prod\",source=\"forecast\"} 0");
    expect_line(f->text,
                "afd_theta_source{deployment=\"prod\",source=\"planner\"} 0");
    assert_string_equal(afd_theta_source_name(AFD_THETA_SOURCE_COUNT),
                        "unknown");
    /* Its 95% half-width: 1.96 sd / sqrt(2) / 256, sd of the two loads
     * 2828.43 (2000 sqrt 2): 15.3125 */
    {
        const char *at = strstr(f->text, "\nafd_theta_ci95_tokens{deployment="
                                         "\"prod\"} ");

        assert_non_null(at);
        assert_true(fabs(strtod(strchr(at, '}') + 2, NULL) - 15.3125) < 1e-9);
    }
    expect_line(f->text, "afd_coefficient_calibrated{deployment=\"prod\","
                         "coef=\"bF\"} 0");
    /* No FFN samples: the prior alone speaks, +-|prior bF| = 5 ms. */
    expect_line(f->text, "afd_coefficient_ci_half_width{deployment=\"prod\","
                         "coef=\"bF\"} 5");
    expect_line(f->text, "afd_workload_shifts_total{deployment=\"prod\"} 0");
}

/* ensure an invalid recommendation exports no r* but says it is invalid */
static void test_metrics_render_invalid_left_out(void **state)
{
    struct fixture *f = *state;

    expect_line(f->text, "afd_recommendation_valid{deployment=\"a\\\"b\\\\c"
                         "\\nd\"} 0");
    assert_null(strstr(f->text, "afd_r_star{deployment=\"a"));
    assert_null(strstr(f->text, "afd_regime{deployment=\"a"));
}

/* ensure counters count accepted and rejected items, orphans with "" */
static void test_metrics_render_counters(void **state)
{
    struct fixture *f = *state;

    expect_line(f->text,
                "afd_telemetry_steps_accepted_total{deployment=\"prod\"} 3");
    expect_line(f->text, "afd_telemetry_rejected_total{deployment=\"prod\","
                         "reason=\"negative\"} 1");
    expect_line(f->text, "afd_telemetry_rejected_total{deployment=\"\","
                         "reason=\"unknown_deployment\"} 1");
    expect_line(f->text, "afd_calibration_samples_total{deployment=\"prod\","
                         "stage=\"attention\"} 3");
    expect_line(f->text, "afd_build_info{version=\"" AFD_VERSION "\"} 1");
}

/* ensure afd_move_rule says which of policy.h's rules the recommendation
 * invokes, each its own sample: none on the fixture (no shift), then the
 * two the registry's recommendation is given */
static void test_metrics_render_move_rules(void **state)
{
    struct fixture *f = *state;
    struct afd_deployment *d = afd_registry_find(f->reg, "prod");

    expect_line(f->text,
                "afd_move_rule{deployment=\"prod\",rule=\"lean_held\"} 0");
    expect_line(f->text, "afd_move_rule{deployment=\"prod\",rule=\"refit\"} 0");
    expect_line(f->text,
                "afd_move_rule{deployment=\"prod\",rule=\"old_requests\"} 0");
    assert_null(strstr(f->text, "afd_move_rule{deployment=\"a"));
    d->rec.refit = true;
    d->rec.old_requests = true;
    render(f);
    expect_line(f->text,
                "afd_move_rule{deployment=\"prod\",rule=\"lean_held\"} 0");
    expect_line(f->text, "afd_move_rule{deployment=\"prod\",rule=\"refit\"} 1");
    expect_line(f->text,
                "afd_move_rule{deployment=\"prod\",rule=\"old_requests\"} 1");
}

/* ensure promtool (when installed) accepts the output */
static void test_metrics_render_promtool_accepts(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/afd-metrics-XXXXXX", cmd[160];
    int fd, rc;

    if (access("/usr/bin/promtool", X_OK) != 0) {
        print_message("promtool not installed; skipped\n");
        skip();
    }
    fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_true(write(fd, f->text, strlen(f->text)) ==
                (ssize_t)strlen(f->text));
    close(fd);
    snprintf(cmd, sizeof(cmd), "/usr/bin/promtool check metrics < %s", path);
    rc = system(cmd);
    unlink(path);
    assert_int_equal(rc, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_metrics_render_families_grouped),
        T(test_metrics_render_escapes_labels),
        T(test_metrics_render_valid_recommendation),
        T(test_metrics_render_invalid_left_out),
        T(test_metrics_render_counters),
        T(test_metrics_render_move_rules),
        T(test_metrics_render_promtool_accepts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
