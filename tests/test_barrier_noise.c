/*
 * test_barrier_noise.c - the barrier model's step under per-step stage noise
 * (solver.h stage_cv, estimator/barrier.c noisy_max_step).
 *
 * References are independent of the code under test:
 *  - with no load spread the step is max(mu, R*g), R lognormal of mean 1,
 *    whose mean has a closed form (the lognormal partial expectation);
 *  - with a spread, a two-dimensional long-double Simpson rule over the
 *    attention and the FFN factors' own normal variates, each factor drawn
 *    apart, around afd_expected_max_step (tests/test_barrier.c checks it to
 *    1e-13): the code instead folds the two into one by a change of
 *    measure, so this checks that step and its quadrature.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "tests/afd_test.h"

static double cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* The paper case (B 256, prompt 100, geometric decode of mean 500) with a
 * measured load spread instead of sigma. */
static void paper_input(struct afd_solve_input *in, const struct afd_profile *p,
                        double spread)
{
    afd_solve_input_init(in, p, 256, 599);
    in->has_load_spread = true;
    in->load_spread = spread;
}

/* E[max(mu, R*g)], R lognormal of mean 1 and log-variance sig2. */
static double lognormal_max(double mu, double g, double sig2)
{
    double s = sqrt(sig2), k = log(mu / g);

    return mu * cdf((k + 0.5 * sig2) / s) + g * cdf((0.5 * sig2 - k) / s);
}

/* E[max(Xa*(mu + s*M_n), Xg*g)] by Simpson over both factors' variates on
 * [-8, 8] (2*m intervals each), Xa and Xg drawn apart. */
static double two_factor_brute(double g, double mu, double s, int n,
                               double cv_a, double cv_g)
{
    const int m = 200;
    double sa = sqrt(log1p(cv_a * cv_a)), sg = sqrt(log1p(cv_g * cv_g));
    double h = 16.0 / (2 * m);
    long double sum = 0;
    int i, j;

    for (i = 0; i <= 2 * m; i++) {
        double za = -8 + i * h, xa = exp(sa * za - 0.5 * sa * sa);
        double wa = (i == 0 || i == 2 * m) ? 1 : (i % 2 ? 4 : 2);
        long double inner = 0;

        for (j = 0; j <= 2 * m; j++) {
            double zg = -8 + j * h, xg = exp(sg * zg - 0.5 * sg * sg);
            double wg = (j == 0 || j == 2 * m) ? 1 : (j % 2 ? 4 : 2);

            inner += wg * exp(-0.5 * zg * zg) * xa *
                     afd_expected_max_step(xg * g / xa, mu, s, n);
        }
        sum += wa * exp(-0.5 * za * za) * inner;
    }
    return (double)(sum * h * h / 9 / (2 * M_PI));
}

/* ensure with no load spread the step is the lognormal closed form, at
 * counts below, at and above the balance of attention and FFN */
static void test_noise_zero_spread_closed_form(void **state)
{
    static const double cvs[][2] = {
        {0.05, 0}, {0, 0.15}, {0.15, 0.15}, {0.3, 0.1}};
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_stage_times st;
    double step, thr, sig2, worst = 0, want;
    size_t c;
    int x;

    afd_test_paper_profile(&p);
    paper_input(&in, &p, 0);
    for (c = 0; c < sizeof(cvs) / sizeof(cvs[0]); c++) {
        in.stage_cv[AFD_REGIME_ATTENTION] = cvs[c][0];
        in.stage_cv[AFD_REGIME_FFN] = cvs[c][1];
        sig2 = log1p(cvs[c][0] * cvs[c][0]) + log1p(cvs[c][1] * cvs[c][1]);
        for (x = 4; x <= 16; x++) {
            afd_stage_times_at(&in, x, &st);
            assert_true(st.ffn > st.comm);
            want = lognormal_max(st.attention, st.ffn, sig2);
            assert_int_equal(afd_barrier_at(&in, x, &step, &thr, NULL), AFD_OK);
            worst = fmax(worst, fabs(step / want - 1));
            assert_close(want, step, 0, 1e-10);
            assert_close(x * 256 / ((x + 1) * want), thr, 0, 1e-10);
        }
    }
    printf("zero spread: peak relative error %.2e\n", worst);
}

/* ensure with a load spread the step matches the two-factor integral */
static void test_noise_matches_two_factor_brute_force(void **state)
{
    static const struct {
        int x;
        double spread, cv_a, cv_g;
    } cases[] = {
        {10, 8000, 0.15, 0.15}, /* the paper case near its balance */
        {10, 800, 0.05, 0.05},  /* small spread: a sharp bend */
        {6, 8000, 0.3, 0},      /* attention noise alone */
        {14, 20000, 0, 0.1},    /* FFN-bound, FFN noise alone */
        {2, 8000, 0.15, 0.15},  /* attention-bound far below balance */
    };
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_stage_times st;
    double step, want;
    size_t c;

    afd_test_paper_profile(&p);
    for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        paper_input(&in, &p, cases[c].spread);
        in.stage_cv[AFD_REGIME_ATTENTION] = cases[c].cv_a;
        in.stage_cv[AFD_REGIME_FFN] = cases[c].cv_g;
        afd_stage_times_at(&in, cases[c].x, &st);
        want = two_factor_brute(st.ffn, st.attention, p.aA * cases[c].spread,
                                cases[c].x, cases[c].cv_a, cases[c].cv_g);
        assert_int_equal(afd_barrier_at(&in, cases[c].x, &step, NULL, NULL),
                         AFD_OK);
        printf("x %d spread %g cv %g/%g: %.9f against %.9f\n", cases[c].x,
               cases[c].spread, cases[c].cv_a, cases[c].cv_g, step, want);
        assert_close(want, step, 0, 1e-8);
    }
}

/* ensure noise never lowers the expected step (Jensen), leaves it exactly
 * unchanged when the noisy stage is one that does not set G (the comm
 * stage under the FFN), and lowers the optimum of the paper case: 10
 * noise-free, 9 with 5% on every stage, 8 with 15%, 6 with 30% */
static void test_noise_raises_step_and_lowers_optimum(void **state)
{
    static const struct {
        double cv;
        int x;
    } want[] = {{0, 10}, {0.05, 9}, {0.15, 8}, {0.3, 6}};
    struct afd_profile p;
    struct afd_solve_input in, quiet;
    struct afd_solution s;
    double a, b;
    size_t c;
    int x, k;

    afd_test_paper_profile(&p);
    paper_input(&quiet, &p, 8000);
    for (x = 1; x <= 40; x++) {
        in = quiet;
        in.stage_cv[AFD_REGIME_COMMUNICATION] = 0.5;
        assert_int_equal(afd_barrier_at(&quiet, x, &a, NULL, NULL), AFD_OK);
        assert_int_equal(afd_barrier_at(&in, x, &b, NULL, NULL), AFD_OK);
        assert_true(a == b);
        for (k = 0; k < AFD_REGIME_COUNT; k++)
            in.stage_cv[k] = 0.2;
        assert_int_equal(afd_barrier_at(&in, x, &b, NULL, NULL), AFD_OK);
        assert_true(b >= a);
    }
    for (c = 0; c < sizeof(want) / sizeof(want[0]); c++) {
        in = quiet;
        for (k = 0; k < AFD_REGIME_COUNT; k++)
            in.stage_cv[k] = want[c].cv;
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        assert_int_equal(s.attention_instances_barrier, want[c].x);
    }
}

/* ensure the integer search with noise equals an exhaustive one (its
 * pruning bound, Jensen, holds for noisy stages too) */
static void test_noise_search_matches_exhaustive(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double thr, best;
    int i, x, x_max, k;

    afd_test_rng_seed(0x3f84d5b5b5470917ULL);
    for (i = 0; i < 60; i++) {
        afd_test_random_barrier_input(&p, &in, i);
        for (k = 0; k < AFD_REGIME_COUNT; k++)
            in.stage_cv[k] = afd_test_rng_uniform(0, 0.4);
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        x_max = (int)floor(in.max_ratio * in.ffn_instances);
        best = -1;
        for (x = 1; x <= x_max; x++) {
            assert_int_equal(afd_barrier_at(&in, x, NULL, &thr, NULL), AFD_OK);
            best = fmax(best, thr);
        }
        assert_close(best, s.throughput_per_device_barrier, 0, 1e-13);
    }
}

/* ensure a noise outside [0, 2] or NaN is refused, naming the stage */
static void test_noise_domain(void **state)
{
    static const double bad[] = {-0.01, 2.01, NAN, INFINITY};
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    char err[AFD_ERR_LEN];
    size_t i;

    afd_test_paper_profile(&p);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        paper_input(&in, &p, 8000);
        in.stage_cv[AFD_REGIME_FFN] = bad[i];
        err[0] = '\0';
        assert_int_equal(afd_solve(&in, &s, err), AFD_EINVAL);
        assert_non_null(strstr(err, "stage_cv"));
        assert_non_null(strstr(err, "ffn"));
    }
    in.stage_cv[AFD_REGIME_FFN] = 2.0;
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noise_zero_spread_closed_form),
        cmocka_unit_test(test_noise_matches_two_factor_brute_force),
        cmocka_unit_test(test_noise_raises_step_and_lowers_optimum),
        cmocka_unit_test(test_noise_search_matches_exhaustive),
        cmocka_unit_test(test_noise_domain),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
