/* test_fit.c - robust stage fits, intervals, identifiability, t quantile. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/fit.h"

/* xorshift64* and Box-Muller: a fixed seed gives the same data everywhere. */
static uint64_t rng_state;

static double uniform01(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return ((rng_state * 2685821657736338717ULL) >> 11) * 0x1.0p-53;
}

static double gauss(void)
{
    double u = uniform01(), v = uniform01();

    return sqrt(-2 * log(u > 0 ? u : 1e-300)) * cos(2 * M_PI * v);
}

#define N 60

/* n points of a*x+b over [lo, hi], relative noise, k gross outliers (x3). */
static void make(struct afd_fit_point *p, size_t n, double a, double b,
                 double lo, double hi, double noise, size_t k)
{
    size_t i;

    for (i = 0; i < n; i++) {
        p[i].x = lo + (hi - lo) * (double)i / (double)(n - 1);
        p[i].ms = (a * p[i].x + b) * (1 + noise * gauss());
    }
    for (i = 0; i < k; i++)
        p[(i * 17 + 5) % n].ms *= 3;
}

/* ensure noiseless measurements give back the coefficients exactly */
static void test_fit_exact_on_noiseless_data(void **state)
{
    struct afd_fit_point p[N];
    struct afd_stage_fit f;
    double work[2 * N];

    (void)state;
    make(p, N, 2.2444e-3, 5.0, 200, 6000, 0, 0);
    assert_int_equal(afd_fit_stage(p, N, work, "ffn", &f, NULL), AFD_OK);
    assert_close(2.2444e-3, f.slope, 0, 1e-12);
    assert_close(5.0, f.intercept, 0, 1e-12);
    assert_close(1.0, f.r2, 0, 1e-12);
    assert_int_equal(f.n, N);
    assert_int_equal(f.n_outliers, 0);
    assert_int_equal(f.warnings, 0);
}

/* ensure 3% noise and a few 3x outliers recover all six within 5% */
static void test_fit_profile_noise_and_outliers_within_5pct(void **state)
{
    static struct afd_fit_point a[N], c[N], ff[N];
    const struct afd_fit_point *pts[3] = {a, c, ff};
    const size_t n[3] = {N, N, N};
    struct afd_stage_fit fits[3];
    struct afd_profile prof;
    double work[2 * N];
    char err[AFD_ERR_LEN];
    int s;

    (void)state;
    rng_state = 0x9E3779B97F4A7C15ULL;
    make(a, N, 5.075e-5, 2.549, 2000, 300000, 0.03, 3);
    make(c, N, 1.0e-3, 0.30, 32, 1024, 0.03, 3);
    make(ff, N, 2.2444e-3, 5.0, 200, 6000, 0.03, 3);
    assert_int_equal(afd_fit_profile(pts, n, work, "h", "test",
                                     AFD_COMM_PER_INSTANCE, &prof, fits, err),
                     AFD_OK);
    assert_close(5.075e-5, prof.aA, 0, 0.05);
    assert_close(2.549, prof.bA, 0, 0.05);
    assert_close(1.0e-3, prof.aC, 0, 0.05);
    assert_close(0.30, prof.bC, 0, 0.05);
    assert_close(2.2444e-3, prof.aF, 0, 0.05);
    assert_close(5.0, prof.bF, 0, 0.05);
    assert_string_equal(prof.name, "h");
    assert_int_equal(afd_profile_validate(&prof, NULL), AFD_OK);
    for (s = 0; s < 3; s++) {
        /* the 3 planted outliers are left out, and few good points (the
         * relative noise is wider at large x than the one robust sd) */
        assert_true(fits[s].n_outliers >= 3);
        assert_true(fits[s].n_outliers <= N / 10);
        assert_true(fits[s].slope_lo < fits[s].slope);
        assert_true(fits[s].slope < fits[s].slope_hi);
        assert_int_equal(fits[s].warnings & AFD_FIT_WARN_NARROW_RANGE, 0);
    }
}

/* ensure plain OLS without outliers: intervals match the textbook formulas */
static void test_fit_intervals_match_formula(void **state)
{
    /* y = 2x + 1 + e, e = +-0.1 orthogonal to [1, x]: OLS is exact. */
    static const double e[8] = {1, -1, -1, 1, 1, -1, -1, 1};
    struct afd_fit_point p[8];
    struct afd_stage_fit f;
    double work[16], s2 = 0.08 / 6, t = 2.447;
    int i;

    (void)state;
    for (i = 0; i < 8; i++) {
        p[i].x = i;
        p[i].ms = 2 * i + 1 + 0.1 * e[i];
    }
    assert_int_equal(afd_fit_stage(p, 8, work, "x", &f, NULL), AFD_OK);
    assert_int_equal(f.n_outliers, 0);
    assert_close(2.0, f.slope, 1e-12, 0);
    assert_close(1.0, f.intercept, 1e-12, 0);
    assert_close(sqrt(s2), f.resid_sd, 0, 1e-9);
    assert_close(2.0 - t * sqrt(s2 / 42), f.slope_lo, 0, 1e-9);
    assert_close(2.0 + t * sqrt(s2 / 42), f.slope_hi, 0, 1e-9);
    assert_close(1.0 + t * sqrt(s2 * (1.0 / 8 + 12.25 / 42)), f.intercept_hi, 0,
                 1e-9);
    assert_close(1 - 0.08 / 168.08, f.r2, 0, 1e-12);
}

/* ensure a narrow token range is flagged: slope and intercept inseparable */
static void test_fit_warns_narrow_range(void **state)
{
    struct afd_fit_point p[N];
    struct afd_stage_fit f;
    double work[2 * N];

    (void)state;
    rng_state = 42;
    make(p, N, 2.2444e-3, 5.0, 2000, 2100, 0.03, 0);
    assert_int_equal(afd_fit_stage(p, N, work, "ffn", &f, NULL), AFD_OK);
    assert_true(f.warnings & AFD_FIT_WARN_NARROW_RANGE);
    /* with 3% noise over a 5% range the slope interval is wide too */
    assert_true(f.warnings & AFD_FIT_WARN_SLOPE);
    /* the same noise over a wide range identifies both */
    make(p, N, 2.2444e-3, 5.0, 200, 6000, 0.03, 0);
    assert_int_equal(afd_fit_stage(p, N, work, "ffn", &f, NULL), AFD_OK);
    assert_int_equal(f.warnings & (AFD_FIT_WARN_NARROW_RANGE |
                                   AFD_FIT_WARN_SLOPE | AFD_FIT_WARN_INTERCEPT),
                     0);
}

/* ensure one token count or too few points is an error naming the stage */
static void test_fit_unidentifiable_is_error(void **state)
{
    struct afd_fit_point p[4] = {{100, 1}, {100, 2}, {100, 3}, {100, 4}};
    struct afd_stage_fit f;
    double work[8];
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_fit_stage(p, 4, work, "ffn", &f, err), AFD_EINVAL);
    afd_assert_contains(err, "stage ffn");
    afd_assert_contains(err, "2 or more token counts");
    assert_int_equal(afd_fit_stage(p, 2, work, "attention", &f, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "at least 3");
    p[1].ms = NAN;
    p[1].x = 200;
    assert_int_equal(afd_fit_stage(p, 4, work, "ffn", &f, err), AFD_EINVAL);
    afd_assert_contains(err, "measurement 2");
}

/* ensure a negative fitted intercept is clamped to 0 with a warning */
static void test_fit_clamps_negative_intercept(void **state)
{
    struct afd_fit_point p[5] = {
        {1, 0.5}, {2, 1.5}, {3, 2.5}, {4, 3.5}, {5, 4.5}};
    struct afd_stage_fit f;
    double work[10];

    (void)state;
    assert_int_equal(afd_fit_stage(p, 5, work, "c", &f, NULL), AFD_OK);
    assert_close(1.0, f.slope, 1e-12, 0);
    assert_true(f.intercept == 0);
    assert_true(f.warnings & AFD_FIT_WARN_CLAMPED);
}

/* ensure the t quantile: table values and the large-df expansion */
static void test_t975(void **state)
{
    (void)state;
    assert_true(isnan(afd_t975(0)));
    assert_close(12.706, afd_t975(1), 0, 1e-12);
    assert_close(2.042, afd_t975(30), 0, 1e-12);
    assert_close(2.0395, afd_t975(31), 1e-4, 0);  /* tables: 2.0395 */
    assert_close(1.9840, afd_t975(100), 1e-4, 0); /* tables: 1.9840 */
    assert_close(1.95996, afd_t975(1000000), 1e-4, 0);
}

static void test_stage_names(void **state)
{
    enum afd_stage s;

    (void)state;
    assert_int_equal(afd_stage_parse("communication", &s), AFD_OK);
    assert_int_equal(s, AFD_STAGE_COMMUNICATION);
    assert_string_equal(afd_stage_name(AFD_STAGE_FFN), "ffn");
    assert_int_equal(afd_stage_parse("FFN", &s), AFD_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_exact_on_noiseless_data),
        cmocka_unit_test(test_fit_profile_noise_and_outliers_within_5pct),
        cmocka_unit_test(test_fit_intervals_match_formula),
        cmocka_unit_test(test_fit_warns_narrow_range),
        cmocka_unit_test(test_fit_unidentifiable_is_error),
        cmocka_unit_test(test_fit_clamps_negative_intercept),
        cmocka_unit_test(test_t975),
        cmocka_unit_test(test_stage_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
