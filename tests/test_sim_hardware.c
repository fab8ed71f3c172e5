/*
 * test_sim_hardware.c - the simulated hardware beyond its profile
 * (integration/sim/fleet.h afd_fleet_set_hardware) and its scenario form
 * (integration/sim/scenario.h "hardware", "prior", "actuation").
 *
 * Fixed workload (fixed:prompt=100,decode=50), x = 4, B = 8, y = 1,
 * paper-v1-fit: the FFN and communication times are constants of x, B and
 * y, so drift shows as an exact factor on them.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "integration/sim/fleet.h"
#include "integration/sim/gen.h"
#include "integration/sim/scenario.h"

static struct afd_fleet *fleet(struct afd_gen *g, double start_s)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");
    struct afd_fleet_phase ph = {g, 8, 1, 7, start_s};
    char err[AFD_ERR_LEN];
    struct afd_fleet *f;

    assert_int_equal(afd_gen_parse("fixed:prompt=100,decode=50", g, err),
                     AFD_OK);
    f = afd_fleet_new(p, 4, 8, err);
    assert_non_null(f);
    ph.gen = g;
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    return f;
}

/* Drift: the FFN is 1.25x slower from 0.5 simulated s on, exactly;
 * attention unchanged. The phase start counts: a phase starting at
 * 1000 s is past a drift at 0.5 s from its first step. */
static void test_drift_scales_stage_exactly(void **state)
{
    struct afd_fleet_hw hw = {0};
    struct afd_sim_step_info a, b;
    struct afd_gen g;
    struct afd_fleet *f = fleet(&g, 0);
    char err[AFD_ERR_LEN];
    double t_ms = 0;

    hw.n_drift = 1;
    hw.drift[0] = (struct afd_fleet_drift){0.5, AFD_SIM_FFN, 1.25};
    afd_fleet_set_hardware(f, &hw);
    assert_int_equal(afd_fleet_start(f, 4, err), AFD_OK);
    afd_fleet_step(f, &a);
    t_ms += a.step;
    assert_true(afd_fleet_stage_scale(f, AFD_SIM_FFN) == 1.0);
    while (t_ms < 500) {
        afd_fleet_step(f, &b);
        t_ms += b.step;
    }
    afd_fleet_step(f, &b);
    assert_true(b.t_ffn == 1.25 * a.t_ffn);
    assert_true(b.t_comm == a.t_comm);
    assert_true(afd_fleet_stage_scale(f, AFD_SIM_FFN) == 1.25);
    assert_true(afd_fleet_stage_scale(f, AFD_SIM_ATTENTION) == 1.0);
    afd_fleet_free(f);
    afd_gen_release(&g);

    f = fleet(&g, 1000);
    afd_fleet_set_hardware(f, &hw);
    assert_int_equal(afd_fleet_start(f, 4, err), AFD_OK);
    afd_fleet_step(f, &b);
    assert_true(b.t_ffn == 1.25 * a.t_ffn);
    afd_fleet_free(f);
    afd_gen_release(&g);
}

/* Noise: per-step factors of mean 1 and the given cv (20,000 steps, fixed
 * seed: the sample mean within 1% and the cv within 5% of 0.1); the same
 * seed repeats the same sequence. */
static void test_noise_mean_and_cv(void **state)
{
    struct afd_fleet_hw hw = {0};
    struct afd_sim_step_info info;
    struct afd_gen g, g2;
    struct afd_fleet *f = fleet(&g, 0), *f2 = fleet(&g2, 0);
    char err[AFD_ERR_LEN];
    double s = 0, s2 = 0, base = 0, m, cv;
    int i, n = 20000;

    hw.noise_cv = 0.1;
    hw.noise_seed = 42;
    assert_int_equal(afd_fleet_start(f, 4, err), AFD_OK);
    afd_fleet_step(f, &info);
    base = info.t_ffn; /* no hardware set yet: the bare profile */
    afd_fleet_set_hardware(f, &hw);
    afd_fleet_set_hardware(f2, &hw);
    assert_int_equal(afd_fleet_start(f2, 4, err), AFD_OK);
    for (i = 0; i < n; i++) {
        struct afd_sim_step_info i2;

        afd_fleet_step(f, &info);
        afd_fleet_step(f2, &i2);
        assert_true(info.t_ffn == i2.t_ffn);
        s += info.t_ffn / base;
        s2 += (info.t_ffn / base) * (info.t_ffn / base);
    }
    m = s / n;
    cv = sqrt(s2 / n - m * m) / m;
    assert_close(1.0, m, 0.01, 0);
    assert_close(0.1, cv, 0.005, 0);
    afd_fleet_free(f);
    afd_fleet_free(f2);
    afd_gen_release(&g);
    afd_gen_release(&g2);
}

static int parse(const char *text, struct afd_scenario *s, char *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    int rc;

    assert_non_null(root);
    rc = afd_scenario_from_json(root, ".", "t.json", s, err);
    json_decref(root);
    return rc;
}

#define PHASES                                                                 \
    "\"phases\": [{\"name\": \"a\", \"duration_s\": 10, "                       \
    "\"workload\": \"fixed:prompt=1,decode=2\"}]"

static void test_scenario_hardware_prior_actuation(void **state)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        parse("{\"name\": \"n\", \"hardware\": {\"profile\": {\"name\": \"hw\","
              " \"aA\": 1e-4, \"bA\": 2, \"aC\": 1e-3, \"bC\": 0.3, "
              "\"aF\": 1e-3, \"bF\": 4, \"comm_mode\": \"aggregate\"}, "
              "\"noise_cv\": 0.05, \"drift\": [{\"at_s\": 5, \"stage\": "
              "\"communication\", \"factor\": 2}]}, \"prior\": "
              "\"paper-v1-fit\", \"actuation\": {\"scale_out_delay_s\": 60, "
              "\"scale_in_delay_s\": 2}, " PHASES "}",
              &s, err),
        AFD_OK);
    assert_string_equal(s.profile.name, "hw");
    assert_true(s.profile.aF == 1e-3);
    assert_true(s.hw.noise_cv == 0.05);
    assert_int_equal(s.hw.n_drift, 1);
    assert_int_equal(s.hw.drift[0].stage, AFD_SIM_COMM);
    assert_true(s.hw.drift[0].factor == 2);
    assert_true(s.scale_out_delay_s == 60 && s.scale_in_delay_s == 2);
    afd_scenario_release(&s);

    /* The deprecated alias still works; delays are then not given. */
    assert_int_equal(parse("{\"name\": \"n\", \"profile\": \"paper-v1-fit\", "
                           PHASES "}",
                           &s, err),
                     AFD_OK);
    assert_true(s.scale_out_delay_s < 0 && s.scale_in_delay_s < 0);
    assert_int_equal(s.hw.n_drift, 0);
    afd_scenario_release(&s);
}

static void test_scenario_hardware_errors(void **state)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    assert_int_equal(parse("{\"name\": \"n\", \"profile\": \"paper-v1-fit\", "
                           "\"hardware\": {}, " PHASES "}",
                           &s, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "give the simulated hardware once");
    assert_int_equal(parse("{\"name\": \"n\", \"hardware\": {\"drift\": "
                           "[{\"at_s\": 1, \"stage\": \"gpu\", \"factor\": "
                           "2}]}, " PHASES "}",
                           &s, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "hardware.drift[0].stage: must be attention");
    assert_int_equal(parse("{\"name\": \"n\", \"hardware\": {\"noise_cv\": 3},"
                           " " PHASES "}",
                           &s, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "t.json: hardware.noise_cv: must be finite and");
    assert_int_equal(parse("{\"name\": \"n\", \"prior\": \"h900\", " PHASES "}",
                           &s, err),
                     AFD_ENOTFOUND);
    afd_assert_contains(err, "prior: unknown built-in profile 'h900'");
    assert_int_equal(parse("{\"name\": \"n\", \"actuation\": {\"delay\": 1}, "
                           PHASES "}",
                           &s, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "actuation.delay: unknown field");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drift_scales_stage_exactly),
        cmocka_unit_test(test_noise_mean_and_cv),
        cmocka_unit_test(test_scenario_hardware_prior_actuation),
        cmocka_unit_test(test_scenario_hardware_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
