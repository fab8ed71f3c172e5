/*
 * test_barrier.c - barrier-aware step time and integer optimum
 * (estimator/barrier.c, model.md section 5).
 *
 * References are independent of the code under test: closed forms of E[M_n]
 * for n <= 5, and a brute-force long-double Simpson rule on the DENSITY form
 *     E[max(g, mu + s*M_n)] = g*Phi(z0)^n
 *                           + integral_{z0}^{inf} (mu + s*z) n phi Phi^{n-1}
 * where the code integrates the survival form. The accuracy test prints the
 * peak error it measures (the figure quoted in barrier.c's head comment).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "tests/afd_test.h"

/* Geometric decode mean 500 (p = 1/500), prompt fixed at 100:
 * theta = 100 + (1-p)/p, sigma^2 = 0 + (1-p)/p^2 (model.md section 3). */
static void geo500_input(struct afd_solve_input *in,
                         const struct afd_profile *p)
{
    double q = 1.0 / 500;

    afd_solve_input_init(in, p, 256, 100 + (1 - q) / q);
    in->has_sigma = true;
    in->sigma = sqrt((1 - q) / (q * q));
}

static long double phi_l(long double z)
{
    return expl(-0.5L * z * z) / sqrtl(2 * 3.14159265358979323846264L);
}

static long double cdf_l(long double z)
{
    return 0.5L * erfcl(-z / sqrtl(2.0L));
}

/* Brute force, density form, Simpson with 2*m intervals on [z0, 13]. */
static double brute_max_step(double g, double mu, double s, int n)
{
    long double z0 = (g - mu) / s, lo = z0 < -13 ? -13 : z0, hi = 13;
    long double h, z, w, sum = 0, head;
    int m = 30000, i;

    head = z0 < -13 ? 0 : (long double)g * powl(cdf_l(z0), n);
    h = (hi - lo) / (2 * m);
    for (i = 0; i <= 2 * m; i++) {
        z = lo + i * h;
        w = (i == 0 || i == 2 * m) ? 1 : (i % 2 ? 4 : 2);
        sum += w * (mu + s * z) * n * phi_l(z) * powl(cdf_l(z), n - 1);
    }
    return (double)(head + sum * h / 3);
}

/* ensure E[M_n] matches the closed forms for n = 1..5 */
static void test_afd_expected_max_normal_closed_forms(void **state)
{
    double rpi = 1 / sqrt(M_PI);

    assert_true(afd_expected_max_normal(1) == 0);
    assert_close(rpi, afd_expected_max_normal(2), 1e-14, 0);
    assert_close(1.5 * rpi, afd_expected_max_normal(3), 1e-14, 0);
    /* E[M_4] = 3/(2 sqrt(pi)) (1 + (2/pi) asin(1/3)),
     * E[M_5] = 5/(4 sqrt(pi)) (1 + (6/pi) asin(1/3)) */
    assert_close(1.5 * rpi * (1 + 2 / M_PI * asin(1.0 / 3)),
                 afd_expected_max_normal(4), 1e-14, 0);
    assert_close(1.25 * rpi * (1 + 6 / M_PI * asin(1.0 / 3)),
                 afd_expected_max_normal(5), 1e-14, 0);
    assert_close(1.0293753730039641, afd_expected_max_normal(4), 1e-14, 0);
    assert_close(1.1629644736405196, afd_expected_max_normal(5), 1e-14, 0);
    assert_close(0.5641895835477563, afd_expected_max_normal(2), 1e-14, 0);
    assert_close(0.8462843753216345, afd_expected_max_normal(3), 1e-14, 0);
}

/* ensure E[M_8] and E[M_32] match the values model.md quotes */
static void test_afd_expected_max_normal_model_values(void **state)
{
    assert_close(1.424, afd_expected_max_normal(8), 5e-4, 0);
    assert_close(2.070, afd_expected_max_normal(32), 5e-4, 0);
}

/* ensure E[M_n] rises with n and n < 1 gives NaN */
static void test_afd_expected_max_normal_monotone_and_domain(void **state)
{
    double prev = afd_expected_max_normal(1), cur;
    int n;

    for (n = 2; n <= 2048; n += 1 + n / 8) {
        cur = afd_expected_max_normal(n);
        assert_true(cur > prev);
        prev = cur;
    }
    assert_true(isnan(afd_expected_max_normal(0)));
    assert_true(isnan(afd_expected_max_normal(-3)));
}

/* ensure the step matches the brute-force density integral over a grid of
 * (n, z0) and print the measured peak error */
static void test_afd_expected_max_step_matches_brute_force(void **state)
{
    static const int ns[] = {1, 2, 3, 7, 10, 32, 100, 1000};
    static const double z0s[] = {-10, -3, -0.5, 0, 0.8, 2, 4, 7};
    double got, ref, peak = 0;
    size_t i, j;

    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        for (j = 0; j < sizeof(z0s) / sizeof(z0s[0]); j++) {
            /* g = z0, mu = 0, s = 1: the result is E[max(z0, M_n)] */
            got = afd_expected_max_step(z0s[j], 0, 1, ns[i]);
            ref = brute_max_step(z0s[j], 0, 1, ns[i]);
            assert_close(ref, got, 1e-13, 0);
            peak = fmax(peak, fabs(got - ref));
        }
    }
    print_message("barrier: peak |E - brute force| over %zu cases = %.2e\n",
                  i * j, peak);
}

/* ensure physical (g, mu, s, n) points match the brute force */
static void test_afd_expected_max_step_physical_points(void **state)
{
    static const double pts[][4] = {
        /* g ms, mu ms, s ms, n */
        {10.745664, 10.32, 0.406, 10}, {5.5, 10.32, 0.406, 4},
        {30.0, 10.32, 0.406, 64},      {12.0, 37.5, 1.69, 56},
        {0.3, 2.0, 5.0, 500},
    };
    size_t i;

    for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        assert_close(
            brute_max_step(pts[i][0], pts[i][1], pts[i][2], (int)pts[i][3]),
            afd_expected_max_step(pts[i][0], pts[i][1], pts[i][2],
                                  (int)pts[i][3]),
            0, 1e-12);
    }
}

/* ensure s == 0 gives max(g, mu) exactly */
static void test_afd_expected_max_step_zero_spread(void **state)
{
    assert_true(afd_expected_max_step(3, 5, 0, 10) == 5);
    assert_true(afd_expected_max_step(7, 5, 0, 10) == 7);
}

/* ensure a floor far below mu gives mu + s*E[M_n] without cancellation */
static void test_afd_expected_max_step_far_below(void **state)
{
    assert_close(10 + 2 * afd_expected_max_normal(10),
                 afd_expected_max_step(-1e12, 10, 2, 10), 0, 1e-14);
    assert_close(10 + 2 * afd_expected_max_normal(10),
                 afd_expected_max_step(-INFINITY, 10, 2, 10), 0, 1e-14);
    assert_close(10, afd_expected_max_step(-1e12, 10, 2, 1), 0, 1e-15);
}

/* ensure a floor far above mu gives g (the tail is negligible) */
static void test_afd_expected_max_step_far_above(void **state)
{
    assert_true(afd_expected_max_step(100, 10, 2, 1000) == 100);
    assert_close(50, afd_expected_max_step(50, 10, 2, 3), 0, 1e-15);
}

/* ensure out-of-domain arguments give NaN */
static void test_afd_expected_max_step_domain(void **state)
{
    assert_true(isnan(afd_expected_max_step(1, 2, 1, 0)));
    assert_true(isnan(afd_expected_max_step(1, 2, -1, 3)));
    assert_true(isnan(afd_expected_max_step(NAN, 2, 1, 3)));
    assert_true(isnan(afd_expected_max_step(1, NAN, 1, 3)));
    assert_true(isnan(afd_expected_max_step(1, 2, INFINITY, 3)));
}

/* ensure the paper reference case (B = 256, geometric decode mean 500) has
 * the barrier-aware integer optimum x = 10 (model.md section 5) */
static void test_afd_solve_barrier_reference_case(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    char err[AFD_ERR_LEN];

    afd_test_paper_profile(&p);
    geo500_input(&in, &p);
    assert_close(599, in.theta, 0, 1e-15);
    assert_close(499.4997497, in.sigma, 1e-7, 0);
    assert_int_equal(afd_solve(&in, &s, err), AFD_OK);
    assert_true(s.has_barrier);
    assert_false(s.spread_measured);
    assert_close(16 * in.sigma, s.barrier_spread, 0, 1e-15);
    assert_int_equal(s.attention_instances_barrier, 10);
    assert_true(s.r_star_barrier == 10);
    /* mean-field r* = r_A = (t_A - bF)/(aF*B) at theta 599 */
    assert_close((5.075e-5 * 256 * 599 + 2.549 - 5.0) / (2.2444e-3 * 256),
                 s.r_star, 0, 1e-12);
    assert_true(s.throughput_per_device_barrier < s.throughput_per_device);
}

/* ensure afd_barrier_at composes G, mu_A and s_A as model.md says */
static void test_afd_barrier_at_composition(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    double step, thr, mu, s, g;

    afd_test_paper_profile(&p);
    geo500_input(&in, &p);
    mu = 5.075e-5 * 256 * 599 + 2.549;
    s = 5.075e-5 * 16 * in.sigma;
    g = fmax(1e-3 * 256 + 0.3, 2.2444e-3 * 10 * 256 + 5.0);
    assert_int_equal(afd_barrier_at(&in, 10, &step, &thr, NULL), AFD_OK);
    assert_close(brute_max_step(g, mu, s, 10), step, 0, 1e-12);
    assert_close(10 * 256 / (11 * step), thr, 0, 1e-14);
}

/* ensure a measured load spread replaces sqrt(B)*sigma */
static void test_afd_solve_barrier_uses_load_spread(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution a, b;

    afd_test_paper_profile(&p);
    geo500_input(&in, &p);
    assert_int_equal(afd_solve(&in, &a, NULL), AFD_OK);
    in.has_sigma = false;
    in.has_load_spread = true;
    in.load_spread = 16 * in.sigma;
    assert_int_equal(afd_solve(&in, &b, NULL), AFD_OK);
    assert_true(b.spread_measured);
    assert_true(b.barrier_spread == in.load_spread);
    assert_int_equal(a.attention_instances_barrier,
                     b.attention_instances_barrier);
    assert_close(a.step_time_barrier, b.step_time_barrier, 0, 1e-15);
    /* a 20x larger spread pulls the optimum far below mean-field r* */
    in.load_spread *= 20;
    assert_int_equal(afd_solve(&in, &b, NULL), AFD_OK);
    assert_true(b.attention_instances_barrier < 5);
}

/* ensure no sigma and no spread leaves has_barrier false and makes
 * afd_barrier_at fail naming sigma */
static void test_afd_barrier_at_needs_sigma(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    char err[AFD_ERR_LEN] = "";
    double step, thr;

    afd_test_paper_profile(&p);
    afd_solve_input_init(&in, &p, 256, 599);
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_false(s.has_barrier);
    assert_int_equal(s.attention_instances_barrier, 0);
    assert_int_equal(afd_barrier_at(&in, 4, &step, &thr, err), AFD_EINVAL);
    assert_non_null(strstr(err, "sigma"));
    in.has_sigma = true;
    in.sigma = 10;
    assert_int_equal(afd_barrier_at(&in, 0, &step, &thr, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'x'"));
}

/* ensure the barrier throughput never exceeds the mean-field f(x/y) */
static void test_afd_barrier_at_below_mean_field(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    double step, thr, y;
    int i, x;

    afd_test_rng_seed(0x452821e638d01377ULL);
    for (i = 0; i < 100; i++) {
        afd_test_random_barrier_input(&p, &in, i);
        y = in.ffn_instances;
        for (x = 1; x <= 40; x++) {
            assert_int_equal(afd_barrier_at(&in, x, &step, &thr, NULL), AFD_OK);
            assert_true(thr <= afd_throughput_at(&in, x / y) * (1 + 1e-14));
        }
    }
}

/* ensure the early-stopped integer search equals an exhaustive one */
static void test_afd_solve_barrier_matches_exhaustive(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double step, thr, best;
    int i, x, x_max;

    afd_test_rng_seed(0xbe5466cf34e90c6cULL);
    for (i = 0; i < 150; i++) {
        afd_test_random_barrier_input(&p, &in, i);
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        x_max = (int)floor(in.max_ratio * in.ffn_instances);
        best = -1;
        for (x = 1; x <= x_max; x++) {
            afd_barrier_at(&in, x, &step, &thr, NULL);
            best = fmax(best, thr);
        }
        assert_true(s.attention_instances_barrier >= 1 &&
                    s.attention_instances_barrier <= x_max);
        assert_close(best, s.throughput_per_device_barrier, 0, 1e-13);
        afd_barrier_at(&in, s.attention_instances_barrier, &step, &thr, NULL);
        assert_close(thr, s.throughput_per_device_barrier, 0, 1e-13);
    }
}

/* ensure the branch and bound over long ranges (x up to 1024, past the
 * linear walk) equals an exhaustive search */
static void test_afd_solve_barrier_matches_exhaustive_long_range(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double step, thr, best;
    int i, x, x_max;

    afd_test_rng_seed(0x3f84d5b5b5470917ULL);
    for (i = 0; i < 24; i++) {
        afd_test_random_barrier_input(&p, &in, i);
        in.ffn_instances = 1 + i % 8;
        in.max_ratio = floor(afd_test_rng_uniform(16, 128));
        /* a third attention-bound far out, where f rises to max_ratio */
        if (i % 3 == 0)
            in.theta *= 200;
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        x_max = (int)floor(in.max_ratio * in.ffn_instances);
        best = -1;
        for (x = 1; x <= x_max; x++) {
            afd_barrier_at(&in, x, &step, &thr, NULL);
            best = fmax(best, thr);
        }
        assert_close(best, s.throughput_per_device_barrier, 0, 1e-13);
    }
}

/* ensure the barrier band's edges (found by doubling and bisection) are
 * the ones a walk outward from the optimum count by count finds, with and
 * without stage noise, up to fleets of 4,000 */
static void test_afd_balanced_band_barrier_matches_walk(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;
    double lo, hi, best, thr, want;
    int i, x, wlo, whi, x_max;

    afd_test_rng_seed(0x2f1d6e83c4a5b907ULL);
    for (i = 0; i < 120; i++) {
        afd_test_random_barrier_input(&p, &in, i);
        in.max_ratio = floor(afd_test_rng_uniform(1, 4000.0 / 3));
        if (i % 2)
            in.stage_cv[AFD_REGIME_FFN] = afd_test_rng_uniform(0, 0.3);
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        x = s.attention_instances_barrier;
        x_max = (int)floor(in.max_ratio * in.ffn_instances);
        assert_int_equal(afd_barrier_at(&in, x, NULL, &best, NULL), AFD_OK);
        want = (1 - 0.02) * best;
        for (wlo = x; wlo > 1; wlo--) {
            afd_barrier_at(&in, wlo - 1, NULL, &thr, NULL);
            if (thr < want)
                break;
        }
        for (whi = x; whi < x_max; whi++) {
            afd_barrier_at(&in, whi + 1, NULL, &thr, NULL);
            if (thr < want)
                break;
        }
        assert_int_equal(
            afd_balanced_band_barrier(&in, x, 0.02, &lo, &hi, NULL), AFD_OK);
        assert_int_equal((int)lround(lo * in.ffn_instances), wlo);
        assert_int_equal((int)lround(hi * in.ffn_instances), whi);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_balanced_band_barrier_matches_walk),
        cmocka_unit_test(test_afd_expected_max_normal_closed_forms),
        cmocka_unit_test(test_afd_expected_max_normal_model_values),
        cmocka_unit_test(test_afd_expected_max_normal_monotone_and_domain),
        cmocka_unit_test(test_afd_expected_max_step_matches_brute_force),
        cmocka_unit_test(test_afd_expected_max_step_physical_points),
        cmocka_unit_test(test_afd_expected_max_step_zero_spread),
        cmocka_unit_test(test_afd_expected_max_step_far_below),
        cmocka_unit_test(test_afd_expected_max_step_far_above),
        cmocka_unit_test(test_afd_expected_max_step_domain),
        cmocka_unit_test(test_afd_solve_barrier_reference_case),
        cmocka_unit_test(test_afd_barrier_at_composition),
        cmocka_unit_test(test_afd_solve_barrier_uses_load_spread),
        cmocka_unit_test(test_afd_barrier_at_needs_sigma),
        cmocka_unit_test(test_afd_barrier_at_below_mean_field),
        cmocka_unit_test(test_afd_solve_barrier_matches_exhaustive),
        cmocka_unit_test(test_afd_solve_barrier_matches_exhaustive_long_range),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
