/*
 * test_alert_band.c - the balanced band widened by the calibration's
 * uncertainty (controller/alert.h: afd_alert_band_margin,
 * afd_alert_model_rel_hw), with values worked out by hand from the closed
 * form of model.md sec. 4 on the paper profile.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "controller/alert.h"
#include "estimator/base/error.h"
#include "estimator/calib.h"
#include "estimator/profile.h"
#include "estimator/solver.h"

/* ensure the relative half-width is 1.96 sqrt(u'Vu) / (a x + b) */
static void test_model_rel_hw_exact(void **state)
{
    struct afd_calib_fit f;

    (void)state;
    memset(&f, 0, sizeof(f));
    f.a = 0.001;
    f.b = 5;
    f.sigma_ms = 0.1;
    f.var[0] = 1e-8;
    f.var[1] = -1e-6;
    f.var[2] = 1e-4;
    /* x = 1000: v = 0.01 - 0.002 + 0.0001 = 0.0081, sd 0.09, t = 6 ms. */
    assert_true(fabs(afd_alert_model_rel_hw(&f, 1000) - 1.96 * 0.09 / 6) <
                1e-15);
    /* x = 0: sd 0.01, t = 5 ms. */
    assert_true(fabs(afd_alert_model_rel_hw(&f, 0) - 1.96 * 0.01 / 5) < 1e-15);
    f.sigma_ms = -1; /* no residual variance yet: the prior speaks */
    assert_true(afd_alert_model_rel_hw(&f, 1000) == AFD_BAND_U_MAX);
    f.sigma_ms = 0.1;
    f.var[2] = 1e4; /* absurdly wide: capped */
    assert_true(afd_alert_model_rel_hw(&f, 1000) == AFD_BAND_U_MAX);
}

/* ensure margin' = 1 - (1 - margin)(1 - u), u clipped to [0, 0.5] */
static void test_band_margin_exact(void **state)
{
    (void)state;
    assert_true(fabs(afd_alert_band_margin(0.05, 0.05) - 0.0975) < 1e-15);
    assert_true(afd_alert_band_margin(0.05, 0) == 0.05);
    assert_true(afd_alert_band_margin(0.05, -1) == 0.05);
    assert_true(afd_alert_band_margin(0.05, NAN) == 0.05);
    assert_true(fabs(afd_alert_band_margin(0.05, 0.7) - 0.525) < 1e-15);
}

/*
 * ensure the widened band on the paper profile (B 256, theta 600, r* = r_A
 * = 9.30) has the hand-derived edges: below r_A tau = t_A is flat, so
 * lo/(lo+1) = (1-m') R/(R+1) with R = r*; above it tau = aF*B*r + bF, so
 * hi is the larger root of K c r^2 + (K (c + bF) - 1) r + K bF = 0 with
 * c = aF*B and K = (1-m') f(R) / B. Then a ratio of 5, outside the 5% band
 * [6.03, ..] and inside the widened one [4.40, ..], raises
 * AfdOutsideBalancedBand only without the widening.
 */
static void test_widened_band_paper_exact(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double m = afd_alert_band_margin(0.05, 0.05), lo, hi, lo5, hi5, q, k, c,
           beta, want_hi;

    (void)state;
    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(fabs(s.r_star - s.r_A) < 1e-9);
    assert_true(fabs(s.r_A - (p.aA * 256 * 600 + p.bA - p.bF) / (p.aF * 256)) <
                1e-9);
    afd_balanced_band(&in, s.r_star, m, &lo, &hi);
    afd_balanced_band(&in, s.r_star, 0.05, &lo5, &hi5);
    q = (1 - m) * s.r_star / (s.r_star + 1);
    assert_true(fabs(lo - q / (1 - q)) < 1e-6);
    c = p.aF * 256;
    k = (1 - m) * s.r_star / ((s.r_star + 1) * (c * s.r_star + p.bF));
    beta = k * (c + p.bF) - 1;
    want_hi = (-beta + sqrt(beta * beta - 4 * k * c * k * p.bF)) / (2 * k * c);
    assert_true(fabs(hi - want_hi) < 1e-6);
    /* Hand values: r* 9.3013, 5% band [6.03, 15.6], widened [4.40, 21.7]. */
    assert_true(fabs(lo - 4.40) < 0.01 && fabs(lo5 - 6.03) < 0.01);
    assert_true(lo < lo5 && hi > hi5);
    assert_true(5 < lo5 && 5 > lo);
}

/* ensure a ratio inside the widened band but outside the plain one raises
 * nothing for an hour, and the plain band raises after max(debounce, act) */
static void test_widened_band_keeps_noise_quiet(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    struct afd_alert_config cfg;
    struct afd_alert_input ai;
    struct afd_alert_events ev;
    struct afd_alerts *wide, *plain;
    int64_t t, raised = -1;

    (void)state;
    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    afd_alert_config_init(&cfg);
    cfg.act_ms = 120000;
    wide = afd_alert_new("d", &cfg, NULL);
    plain = afd_alert_new("d", &cfg, NULL);
    memset(&ai, 0, sizeof(ai));
    ai.sizing = afd_sizing_regime(&in, s.r_star);
    ai.predicted = AFD_REGIME_ATTENTION;
    ai.ratio = 5;
    ai.r_star = s.r_star;
    ai.loss = 1 - afd_throughput_at(&in, 5) / s.throughput_per_device;
    for (t = 0; t <= 3600000; t += 1000) {
        afd_balanced_band(&in, s.r_star, afd_alert_band_margin(0.05, 0.05),
                          &ai.band_lo, &ai.band_hi);
        assert_int_equal(afd_alert_eval(wide, &ai, t, &ev, NULL), AFD_OK);
        assert_true(ev.n == 0);
        afd_balanced_band(&in, s.r_star, 0.05, &ai.band_lo, &ai.band_hi);
        assert_int_equal(afd_alert_eval(plain, &ai, t, &ev, NULL), AFD_OK);
        if (ev.n && raised < 0)
            raised = t;
    }
    afd_alert_free(wide);
    afd_alert_free(plain);
    assert_true(raised == 120000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_rel_hw_exact),
        cmocka_unit_test(test_band_margin_exact),
        cmocka_unit_test(test_widened_band_paper_exact),
        cmocka_unit_test(test_widened_band_keeps_noise_quiet),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
