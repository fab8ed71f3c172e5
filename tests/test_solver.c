/*
 * test_solver.c - mean-field solver (estimator/solver.c, model.md 4 and 6).
 *
 * The profile (afd_test_paper_profile) is built in tests/afd_test.c from the
 * model.md numbers, not taken from the built-in table, so that these tests
 * do not depend on profile.c's copy.
 * Reference values are hand computed or come from independent methods (the
 * paper's closed form, a dense grid search of f).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "tests/afd_test.h"

/* Log-uniform: coefficients span orders of magnitude. */
static double rng_log(double lo, double hi)
{
    return exp(afd_test_rng_uniform(log(lo), log(hi)));
}

static void random_input(struct afd_profile *p, struct afd_solve_input *in,
                         enum afd_comm_mode mode)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "random");
    p->aA = rng_log(1e-6, 1e-3);
    p->bA = rng_log(0.1, 20);
    p->aC = rng_log(1e-5, 1e-2);
    p->bC = rng_log(0.01, 5);
    p->aF = rng_log(1e-4, 1e-2);
    p->bF = rng_log(0.1, 20);
    p->comm_mode = mode;
    afd_solve_input_init(in, p, floor(rng_log(1, 2048)), rng_log(10, 20000));
    in->max_ratio = floor(rng_log(1, 1024));
}

static double closed_form_rstar(const struct afd_solution *s, double r_max)
{
    return fmin(fmax(s->r_A, fmax(s->r_C, s->r_peak)), r_max);
}

/* ensure afd_solve reproduces the paper's r* = 5.9 / 9.3 / 12.5 (theta 600) */
static void test_afd_solve_paper_points(void **state)
{
    static const double batch[] = {64, 256, 1024};
    static const double expect[] = {5.9, 9.3, 12.5};
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    char err[AFD_ERR_LEN];
    size_t i;

    afd_test_paper_profile(&p);
    for (i = 0; i < 3; i++) {
        afd_solve_input_init(&in, &p, batch[i], 600);
        assert_int_equal(afd_solve(&in, &s, err), AFD_OK);
        assert_close(expect[i], s.r_star, 0.05, 0);
        assert_true(s.has_closed_form);
        assert_false(s.has_barrier);
    }
}

/* ensure the B = 256 point is attention-bound with r* = r_A, tau = t_A */
static void test_afd_solve_attention_bound_point(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double t_A = 5.075e-5 * 256 * 600 + 2.549; /* 10.3442 ms */

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_close((t_A - 5.0) / (2.2444e-3 * 256), s.r_star, 0, 1e-12);
    assert_close(t_A, s.step_time, 0, 1e-12);
    assert_close(s.r_star * 256 / ((s.r_star + 1) * t_A),
                 s.throughput_per_device, 0, 1e-12);
    assert_int_equal(s.regime, AFD_REGIME_ATTENTION);
    assert_close(sqrt(5.0 / (2.2444e-3 * 256)), s.r_peak, 0, 1e-14);
}

/* ensure candidate search equals the closed form on random per_instance
 * profiles */
static void test_afd_solve_matches_closed_form_random(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    char err[AFD_ERR_LEN];
    int i;

    afd_test_rng_seed(0x9e3779b97f4a7c15ULL);
    for (i = 0; i < 5000; i++) {
        random_input(&p, &in, AFD_COMM_PER_INSTANCE);
        assert_int_equal(afd_solve(&in, &s, err), AFD_OK);
        assert_true(s.has_closed_form);
        assert_close(closed_form_rstar(&s, in.max_ratio), s.r_star, 0, 1e-9);
    }
}

/* ensure aggregate comm with a flat attention piece gives r* at the A-C
 * crossing: A = 10, C = 1 + r, F = 2 + 0.5r, so r* = 9 and f = 9 */
static void test_afd_solve_aggregate_crossing(void **state)
{
    struct afd_profile p = {.name = "agg1",
                            .aA = 0.001,
                            .bA = 5,
                            .aC = 0.01,
                            .bC = 1,
                            .aF = 0.005,
                            .bF = 2,
                            .comm_mode = AFD_COMM_AGGREGATE};
    struct afd_solve_input in;
    struct afd_solution s;

    afd_solve_input_init(&in, &p, 100, 50);
    in.max_ratio = 64;
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_false(s.has_closed_form);
    assert_close(9.0, s.r_star, 0, 1e-12);
    assert_close(9.0, s.throughput_per_device, 0, 1e-12);
    assert_close(10.0, s.step_time, 0, 1e-12);
    assert_int_equal(s.regime, AFD_REGIME_ATTENTION);
    assert_int_equal(s.n_regimes, 2);
    assert_int_equal(s.regimes[0].regime, AFD_REGIME_ATTENTION);
    assert_close(9.0, s.regimes[0].to, 0, 1e-12);
    assert_int_equal(s.regimes[1].regime, AFD_REGIME_COMMUNICATION);
    assert_true(s.regimes[1].to == 64);
}

/* ensure aggregate comm finds the stationary point sqrt(a/b) inside the
 * comm piece: C = 4 + 0.25r from the start, F = 1 + 0.5r after r = 12 */
static void test_afd_solve_aggregate_stationary(void **state)
{
    struct afd_profile p = {.name = "agg2",
                            .aA = 0.001,
                            .bA = 0.5,
                            .aC = 0.0025,
                            .bC = 4,
                            .aF = 0.005,
                            .bF = 1,
                            .comm_mode = AFD_COMM_AGGREGATE};
    struct afd_solve_input in;
    struct afd_solution s;

    afd_solve_input_init(&in, &p, 100, 5);
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_close(4.0, s.r_star, 0, 1e-12);
    assert_close(400.0 / 25.0, s.throughput_per_device, 0, 1e-12);
    assert_int_equal(s.regime, AFD_REGIME_COMMUNICATION);
    assert_int_equal(s.n_regimes, 2);
    assert_int_equal(s.regimes[0].regime, AFD_REGIME_COMMUNICATION);
    assert_close(12.0, s.regimes[0].to, 0, 1e-12);
    assert_int_equal(s.regimes[1].regime, AFD_REGIME_FFN);
}

/* ensure r* is max_ratio when the last piece is flat (f rises with r) */
static void test_afd_solve_flat_last_piece_hits_max_ratio(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600); /* r_A = 9.30 */
    in.max_ratio = 8;
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(s.r_star == 8);
    assert_int_equal(s.attention_instances, 8);
    assert_int_equal(s.n_regimes, 1);
    assert_int_equal(s.regimes[0].regime, AFD_REGIME_ATTENTION);
}

/* ensure aggregate r* maximises f on a dense grid, to the grid spacing */
static void test_afd_solve_aggregate_matches_grid(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double h, r, f, best_f, best_r;
    int i, k, n = 20000;

    afd_test_rng_seed(0x243f6a8885a308d3ULL);
    for (i = 0; i < 200; i++) {
        random_input(&p, &in, AFD_COMM_AGGREGATE);
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        h = in.max_ratio / n;
        best_f = -1;
        best_r = 0;
        for (k = 1; k <= n; k++) {
            r = k * h;
            f = afd_throughput_at(&in, r);
            if (f > best_f) {
                best_f = f;
                best_r = r;
            }
        }
        /* no grid point beats r*, and r* lies within one spacing of the
         * grid's best (f is unimodal and not flat) */
        assert_true(s.throughput_per_device >= best_f * (1 - 1e-13));
        assert_close(best_r, s.r_star, h, 0);
    }
}

/* ensure the regime map covers (0, max_ratio] without gaps and agrees with
 * afd_regime_at inside and at the inclusive end of every span */
static void test_afd_solve_regime_map_covers_range(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    const struct afd_regime_span *sp;
    int i;
    size_t k;

    afd_test_rng_seed(0x13198a2e03707344ULL);
    for (i = 0; i < 4000; i++) {
        random_input(&p, &in,
                     i % 2 ? AFD_COMM_AGGREGATE : AFD_COMM_PER_INSTANCE);
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        assert_true(s.n_regimes >= 1 && s.n_regimes <= AFD_REGIME_COUNT);
        assert_true(s.regimes[0].from == 0);
        assert_true(s.regimes[s.n_regimes - 1].to == in.max_ratio);
        for (k = 0; k < s.n_regimes; k++) {
            sp = &s.regimes[k];
            assert_true(sp->from < sp->to);
            if (k + 1 < s.n_regimes) {
                assert_true(sp->to == s.regimes[k + 1].from);
                assert_true(sp->regime != s.regimes[k + 1].regime);
            }
            assert_int_equal(afd_regime_at(&in, 0.5 * (sp->from + sp->to)),
                             sp->regime);
            assert_int_equal(afd_regime_at(&in, sp->to), sp->regime);
        }
    }
}

/* ensure a balance point belongs to the flatter stage (attention at r_A) */
static void test_afd_regime_at_tie_goes_to_smaller_slope(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    double r_A = (5.075e-5 * 256 * 600 + 2.549 - 5.0) / (2.2444e-3 * 256);

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    assert_int_equal(afd_regime_at(&in, r_A), AFD_REGIME_ATTENTION);
    assert_int_equal(afd_regime_at(&in, r_A * (1 + 1e-9)), AFD_REGIME_FFN);
    assert_int_equal(afd_regime_at(&in, r_A * (1 - 1e-9)),
                     AFD_REGIME_ATTENTION);
}

/* ensure idle ratios match a hand computation at B = 256, theta 600, r = 4 */
static void test_afd_idle_ratios_at_hand_checked(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_stage_times st;
    double eta[AFD_REGIME_COUNT];
    /* t_A = 7.7952 + 2.549, t_C = 0.256 + 0.3, t_F = 2.2982656 + 5 */
    double t_A = 10.3442, t_C = 0.556, t_F = 7.2982656;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    afd_stage_times_at(&in, 4, &st);
    assert_close(t_A, st.attention, 0, 1e-14);
    assert_close(t_C, st.comm, 0, 1e-14);
    assert_close(t_F, st.ffn, 0, 1e-14);
    assert_close(t_A, st.step, 0, 1e-14);
    afd_idle_ratios_at(&in, 4, eta);
    assert_true(eta[AFD_REGIME_ATTENTION] == 0);
    assert_close(1 - t_C / t_A, eta[AFD_REGIME_COMMUNICATION], 0, 1e-13);
    assert_close(1 - t_F / t_A, eta[AFD_REGIME_FFN], 0, 1e-13);
    assert_close(0.2944581891, eta[AFD_REGIME_FFN], 1e-9, 0);
    assert_close(4 * 256 / (5 * t_A), afd_throughput_at(&in, 4), 0, 1e-14);
}

/* ensure y = 2 FFN instances picks x = 18 (r = 9 beats r = 9.5) */
static void test_afd_solve_two_ffn_instances(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double t_A = 10.3442, t_F95 = 2.2444e-3 * 9.5 * 256 + 5;
    double f9 = 9 * 256 / (10 * t_A), f95 = 9.5 * 256 / (10.5 * t_F95);

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    in.ffn_instances = 2;
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(f9 > f95); /* the hand check itself: 22.273 vs 22.147 */
    assert_int_equal(s.attention_instances, 18);
    assert_close(f9, s.throughput_per_device_int, 0, 1e-13);
    /* r* itself does not depend on y */
    assert_close(9.30131, s.r_star, 1e-4, 0);
}

/* ensure the integer pick is floor or ceil of r*·y and beats both
 * neighbours on random inputs */
static void test_afd_solve_integer_is_local_best(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double y, x, fx;
    int i;

    afd_test_rng_seed(0xa4093822299f31d0ULL);
    for (i = 0; i < 2000; i++) {
        random_input(&p, &in,
                     i % 2 ? AFD_COMM_AGGREGATE : AFD_COMM_PER_INSTANCE);
        in.ffn_instances = 1 + i % 5;
        y = in.ffn_instances;
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        x = s.attention_instances;
        assert_true(x >= 1 && x <= floor(in.max_ratio * y));
        assert_true(x == fmax(1, floor(s.r_star * y)) ||
                    x == ceil(s.r_star * y));
        fx = afd_throughput_at(&in, x / y);
        assert_true(fx == s.throughput_per_device_int);
        if (x > 1)
            assert_true(fx >= afd_throughput_at(&in, (x - 1) / y));
        if (x + 1 <= floor(in.max_ratio * y))
            assert_true(fx >= afd_throughput_at(&in, (x + 1) / y));
    }
}

/* Asserts afd_solve rejects `in` with EINVAL and a message naming `word`. */
static void expect_einval(const struct afd_solve_input *in, const char *word)
{
    struct afd_solution s;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_solve(in, &s, err), AFD_EINVAL);
    if (!strstr(err, word))
        fail_msg("message '%s' does not name '%s'", err, word);
    assert_int_equal(afd_solve_check(in, NULL), AFD_EINVAL);
}

/* ensure a NaN theta is rejected naming 'theta' */
static void test_afd_solve_check_nan_theta(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, NAN);
    expect_einval(&in, "theta");
}

/* ensure batch <= 0 is rejected naming 'batch' */
static void test_afd_solve_check_nonpositive_batch(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 0, 600);
    expect_einval(&in, "batch");
    in.batch = -3;
    expect_einval(&in, "batch");
}

/* ensure fewer than one FFN instance is rejected naming 'ffn_instances' */
static void test_afd_solve_check_zero_ffn_instances(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    in.ffn_instances = 0;
    expect_einval(&in, "ffn_instances");
}

/* ensure max_ratio < 1 is rejected naming 'max_ratio' */
static void test_afd_solve_check_small_max_ratio(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    in.max_ratio = 0.5;
    expect_einval(&in, "max_ratio");
}

/* ensure an invalid profile is rejected naming the bad coefficient */
static void test_afd_solve_check_invalid_profile(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    p.aF = -1;
    afd_solve_input_init(&in, &p, 256, 600);
    expect_einval(&in, "aF");
    in.profile = NULL;
    expect_einval(&in, "profile");
}

/* ensure has_sigma with a negative sigma is rejected naming 'sigma' */
static void test_afd_solve_check_negative_sigma(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 600);
    in.has_sigma = true;
    in.sigma = -1;
    expect_einval(&in, "sigma");
    in.sigma = 10;
    in.has_load_spread = true;
    in.load_spread = INFINITY;
    expect_einval(&in, "load_spread");
}

/* ensure a profile with no fixed cost and theta 0 (no maximiser) is
 * rejected instead of returning r -> 0 */
static void test_afd_solve_check_zero_step_time(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;

    afd_test_paper_profile(&p);
    p.bA = p.bC = p.bF = p.aC = 0;
    afd_solve_input_init(&in, &p, 256, 0);
    expect_einval(&in, "step time");
}

/* ensure regime names round-trip and an unknown name is rejected */
static void test_afd_regime_parse_round_trip(void **state)
{
    enum afd_regime r;
    char err[AFD_ERR_LEN] = "";
    int i;

    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        assert_int_equal(
            afd_regime_parse(afd_regime_name((enum afd_regime)i), &r, err),
            AFD_OK);
        assert_int_equal(r, i);
    }
    assert_string_equal(afd_regime_name(AFD_REGIME_COMMUNICATION),
                        "communication");
    assert_int_equal(afd_regime_parse("memory", &r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'memory'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_solve_paper_points),
        cmocka_unit_test(test_afd_solve_attention_bound_point),
        cmocka_unit_test(test_afd_solve_matches_closed_form_random),
        cmocka_unit_test(test_afd_solve_aggregate_crossing),
        cmocka_unit_test(test_afd_solve_aggregate_stationary),
        cmocka_unit_test(test_afd_solve_flat_last_piece_hits_max_ratio),
        cmocka_unit_test(test_afd_solve_aggregate_matches_grid),
        cmocka_unit_test(test_afd_solve_regime_map_covers_range),
        cmocka_unit_test(test_afd_regime_at_tie_goes_to_smaller_slope),
        cmocka_unit_test(test_afd_idle_ratios_at_hand_checked),
        cmocka_unit_test(test_afd_solve_two_ffn_instances),
        cmocka_unit_test(test_afd_solve_integer_is_local_best),
        cmocka_unit_test(test_afd_solve_check_nan_theta),
        cmocka_unit_test(test_afd_solve_check_nonpositive_batch),
        cmocka_unit_test(test_afd_solve_check_zero_ffn_instances),
        cmocka_unit_test(test_afd_solve_check_small_max_ratio),
        cmocka_unit_test(test_afd_solve_check_invalid_profile),
        cmocka_unit_test(test_afd_solve_check_negative_sigma),
        cmocka_unit_test(test_afd_solve_check_zero_step_time),
        cmocka_unit_test(test_afd_regime_parse_round_trip),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
