/*
 * test_calib.c - online calibration of the latency coefficients (calib.h).
 *
 * Truth values here are hand-picked profiles, and every expectation is either
 * the truth itself, an independent batch computation, or a limit derived in
 * calib.c's head comment (s = 2048 tokens for paper-v1-fit's FFN: bF/aF =
 * 2228, nearest power of two 2^11).
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "estimator/calib.h"
#include "estimator/base/error.h"

/* A profile different from paper-v1-fit in every coefficient. */
static const struct afd_profile truth = {
    .name = "truth",
    .provenance = "hand-picked for the tests",
    .aA = 6.0e-5,
    .bA = 3.0,
    .aC = 1.5e-3,
    .bC = 0.2,
    .aF = 2.0e-3,
    .bF = 6.0,
    .comm_mode = AFD_COMM_PER_INSTANCE,
};

static const struct afd_profile *prior(void)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");

    assert_non_null(p);
    return p;
}

static struct afd_calib *make(double forgetting)
{
    struct afd_calib_config cfg;
    char err[AFD_ERR_LEN] = "";
    struct afd_calib *c;

    afd_calib_config_default(&cfg);
    cfg.forgetting = forgetting;
    c = afd_calib_new(prior(), &cfg, err);
    if (!c)
        fail_msg("afd_calib_new: %s", err);
    return c;
}

/* splitmix64: fixed-seed, platform-independent. */
static uint64_t rng_state;

static double rng_uniform(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double rng_normal(void)
{
    return sqrt(-2.0 * log(rng_uniform())) * cos(2 * M_PI * rng_uniform());
}

/* Feeds all three stages noiseless samples of p at loads alternating x0/x1. */
static void feed_two_loads(struct afd_calib *c, const struct afd_profile *p,
                           int n)
{
    static const double att[2] = {30000, 70000}, com[2] = {64, 256},
                        ffn[2] = {384, 3072};
    int i;

    for (i = 0; i < n; i++) {
        int k = i & 1;

        assert_int_equal(
            afd_calib_add_attention(c, att[k], p->aA * att[k] + p->bA, NULL),
            AFD_OK);
        assert_int_equal(
            afd_calib_add_comm(c, com[k], p->aC * com[k] + p->bC, NULL),
            AFD_OK);
        assert_int_equal(
            afd_calib_add_ffn(c, ffn[k], p->aF * ffn[k] + p->bF, NULL), AFD_OK);
    }
}

static void assert_profile_close(const struct afd_profile *want,
                                 const struct afd_profile *got, double rel)
{
    assert_close(want->aA, got->aA, 0, rel);
    assert_close(want->bA, got->bA, 0, rel);
    assert_close(want->aC, got->aC, 0, rel);
    assert_close(want->bC, got->bC, 0, rel);
    assert_close(want->aF, got->aF, 0, rel);
    assert_close(want->bF, got->bF, 0, rel);
}

/* ensure afd_coef_name names each coefficient as the profile fields do */
static void test_afd_coef_name_all(void **state)
{
    assert_string_equal(afd_coef_name(AFD_COEF_AA), "aA");
    assert_string_equal(afd_coef_name(AFD_COEF_BA), "bA");
    assert_string_equal(afd_coef_name(AFD_COEF_AC), "aC");
    assert_string_equal(afd_coef_name(AFD_COEF_BC), "bC");
    assert_string_equal(afd_coef_name(AFD_COEF_AF), "aF");
    assert_string_equal(afd_coef_name(AFD_COEF_BF), "bF");
    assert_string_equal(afd_coef_name((enum afd_coef)6), "unknown");
}

/* ensure afd_calib_new reports exactly the prior, uncalibrated, at start */
static void test_afd_calib_new_starts_at_prior(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_report rep;
    struct afd_profile got;
    const struct afd_profile *p = prior();
    const double want[AFD_COEF_COUNT] = {p->aA, p->bA, p->aC,
                                         p->bC, p->aF, p->bF};
    int i;

    afd_calib_report(c, &rep);
    for (i = 0; i < AFD_COEF_COUNT; i++) {
        assert_true(rep.value[i] == want[i]);
        assert_true(rep.prior[i] == want[i]);
        assert_false(rep.calibrated[i]);
    }
    for (i = 0; i < 3; i++)
        assert_int_equal(rep.samples[i], 0);
    afd_calib_profile(c, &got);
    assert_memory_equal(&got, p, sizeof(got));
    afd_calib_free(c);
}

/* ensure afd_calib_new rejects a prior that fails validation, naming it */
static void test_afd_calib_new_invalid_prior(void **state)
{
    struct afd_profile p = *prior();
    char err[AFD_ERR_LEN] = "";

    p.aF = 0;
    assert_null(afd_calib_new(&p, NULL, err));
    assert_non_null(strstr(err, "prior is invalid"));
    assert_non_null(strstr(err, "'aF'"));
    p = *prior();
    p.bA = -2;
    assert_null(afd_calib_new(&p, NULL, err));
    assert_non_null(strstr(err, "'bA'"));
    assert_non_null(strstr(err, "-2"));
    assert_null(afd_calib_new(NULL, NULL, err));
    assert_non_null(strstr(err, "missing"));
}

/* ensure afd_calib_new rejects each out-of-range config field by value */
static void test_afd_calib_new_invalid_config(void **state)
{
    struct afd_calib_config cfg;
    char err[AFD_ERR_LEN] = "";

    afd_calib_config_default(&cfg);
    cfg.forgetting = 0;
    assert_null(afd_calib_new(prior(), &cfg, err));
    assert_non_null(strstr(err, "forgetting must be in (0, 1], got 0"));
    afd_calib_config_default(&cfg);
    cfg.prior_weight = NAN;
    assert_null(afd_calib_new(prior(), &cfg, err));
    assert_non_null(strstr(err, "prior_weight"));
    assert_non_null(strstr(err, "nan"));
    afd_calib_config_default(&cfg);
    cfg.calibrated_ratio = 1;
    assert_null(afd_calib_new(prior(), &cfg, err));
    assert_non_null(strstr(err, "calibrated_ratio must be in (0, 1), got 1"));
}

/* ensure noiseless data at two loads recovers all six coefficients to 1e-9 */
static void test_afd_calib_add_two_loads_recovers_truth(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_report rep;
    struct afd_profile got;
    int i;

    feed_two_loads(c, &truth, 40000);
    afd_calib_profile(c, &got);
    assert_profile_close(&truth, &got, 1e-9);
    afd_calib_report(c, &rep);
    for (i = 0; i < AFD_COEF_COUNT; i++)
        assert_true(rep.calibrated[i]);
    for (i = 0; i < 3; i++)
        assert_int_equal(rep.samples[i], 40000);
    assert_string_equal(got.name, "paper-v1-fit+calibrated");
    assert_int_equal(got.comm_mode, AFD_COMM_PER_INSTANCE);
    assert_int_equal(afd_profile_validate(&got, NULL), AFD_OK);
    afd_calib_free(c);
}

/*
 * Feeds FFN samples at one load n and checks the identifiability outcome:
 * the prediction at n matches the data, the other stages keep the prior
 * bit for bit, and slope/intercept calibrated flags are as given.
 */
static void check_constant_ffn(double n, bool slope_cal, bool icpt_cal)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_report rep;
    const double y = truth.aF * n + truth.bF;
    int i;

    for (i = 0; i < 40000; i++)
        assert_int_equal(afd_calib_add_ffn(c, n, y, NULL), AFD_OK);
    afd_calib_report(c, &rep);
    assert_close(y, rep.value[AFD_COEF_AF] * n + rep.value[AFD_COEF_BF], 0,
                 1e-12);
    assert_true(rep.calibrated[AFD_COEF_AF] == slope_cal);
    assert_true(rep.calibrated[AFD_COEF_BF] == icpt_cal);
    for (i = AFD_COEF_AA; i <= AFD_COEF_BC; i++) {
        assert_true(rep.value[i] == rep.prior[i]);
        assert_false(rep.calibrated[i]);
    }
    afd_calib_free(c);
}

/* ensure one constant FFN load near s calibrates neither aF nor bF */
static void test_afd_calib_add_constant_load_near_scale(void **state)
{
    /* z = 1: limit variance ratios 1/2 and 1/2, both above 0.1. */
    check_constant_ffn(2048, false, false);
}

/* ensure one large constant FFN load calibrates aF but leaves bF as prior */
static void test_afd_calib_add_constant_load_high(void **state)
{
    /* B = 1024, r = 12: z = 6, ratios 1/37 (aF) and 36/37 (bF). */
    check_constant_ffn(12288, true, false);
}

/* ensure one small constant FFN load calibrates bF but leaves aF as prior */
static void test_afd_calib_add_constant_load_low(void **state)
{
    /* B = 64, r = 6: z = 0.1875, ratios 0.966 (aF) and 0.034 (bF). */
    check_constant_ffn(384, false, true);
}

/*
 * ensure the covariance never exceeds the prior covariance when the
 * regressor never moves (no windup), even with strong forgetting
 */
static void test_afd_calib_add_constant_load_no_windup(void **state)
{
    struct afd_calib *c = make(0.9);
    struct afd_calib_state s;
    int i, j;

    for (i = 0; i < 100000; i++) {
        assert_int_equal(afd_calib_add_ffn(c, 2048, 10.0, NULL), AFD_OK);
        if (i % 997 != 0)
            continue;
        afd_calib_export(c, &s);
        for (j = 0; j < 4; j += 3)
            assert_true(s.stage[2].cov[j] <=
                        s.stage[2].prior_cov[j] * (1 + 1e-12));
        /* det(P0 - P) >= 0 as well: P <= P0 as matrices. */
        assert_true((s.stage[2].prior_cov[0] - s.stage[2].cov[0]) *
                        (s.stage[2].prior_cov[3] - s.stage[2].cov[3]) >=
                    s.stage[2].cov[1] * s.stage[2].cov[1] * (1 - 1e-9));
    }
    afd_calib_free(c);
}

/*
 * ensure noisy attention data converges within 5 standard errors of OLS
 * theory: loads U(20000, 80000), sigma 0.05 ms, n 20000, lambda 1.
 * sd(aA) = sigma/sqrt(n var x) = 2.04e-8, sd(bA) = sigma*sqrt((1 +
 * mean^2/var)/n) = 1.14e-3 ms; the prior (10 pseudo-samples against 20000)
 * can bias by at most 10/20000 of the prior-truth gap, added to the bound.
 */
static void test_afd_calib_add_noisy_converges(void **state)
{
    struct afd_calib *c = make(1.0);
    struct afd_calib_report rep;
    const double sigma = 0.05, n = 20000;
    const double var_x = 60000.0 * 60000.0 / 12, mean_x = 50000;
    double sd_a = sigma / sqrt(n * var_x);
    double sd_b = sigma * sqrt((1 + mean_x * mean_x / var_x) / n);
    double bias_a = 10 / n * fabs(prior()->aA - truth.aA);
    double bias_b = 10 / n * fabs(prior()->bA - truth.bA);
    int i;

    rng_state = 42;
    for (i = 0; i < (int)n; i++) {
        double x = 20000 + 60000 * rng_uniform();
        double y = truth.aA * x + truth.bA + sigma * rng_normal();

        assert_int_equal(afd_calib_add_attention(c, x, y, NULL), AFD_OK);
    }
    afd_calib_report(c, &rep);
    assert_close(truth.aA, rep.value[AFD_COEF_AA], 5 * sd_a + bias_a, 0);
    assert_close(truth.bA, rep.value[AFD_COEF_BA], 5 * sd_b + bias_b, 0);
    assert_true(rep.calibrated[AFD_COEF_AA]);
    assert_true(rep.calibrated[AFD_COEF_BA]);
    afd_calib_free(c);
}

/*
 * ensure with lambda = 1 the fit equals the Bayesian batch solution
 * (R0 + X'X)^-1 (R0 theta0 + X'y), R0 = 10 diag(s^2, 1), s = 2^16 for the
 * attention prior (log2(bA/aA) = log2(50227) = 15.6), solved in long double;
 * and, the pair identified, the report gives the data's own
 * least-squares line (X'X)^-1 X'y
 */
static void test_afd_calib_add_matches_batch_solution(void **state)
{
    struct afd_calib *c = make(1.0);
    struct afd_calib_report rep;
    struct afd_calib_state st;
    const double s = 65536, w = 10;
    long double r00 = w * s * s, r01 = 0, r11 = w;
    long double v0 = r00 * prior()->aA, v1 = r11 * prior()->bA, det;
    long double d00 = 0, d11 = 0, dv0 = 0, dv1 = 0;
    int i;

    rng_state = 7;
    for (i = 0; i < 2000; i++) {
        double x = 100000 * rng_uniform();
        double y = 1e-4 * x + 1.0 + 0.5 * rng_normal();

        assert_int_equal(afd_calib_add_attention(c, x, y, NULL), AFD_OK);
        r00 += (long double)x * x;
        r01 += x;
        r11 += 1;
        v0 += (long double)x * y;
        v1 += y;
        d00 += (long double)x * x;
        d11 += 1;
        dv0 += (long double)x * y;
        dv1 += y;
    }
    det = r00 * r11 - r01 * r01;
    afd_calib_export(c, &st);
    assert_close((double)((r11 * v0 - r01 * v1) / det), st.stage[0].coef[0], 0,
                 1e-12);
    assert_close((double)((r00 * v1 - r01 * v0) / det), st.stage[0].coef[1], 0,
                 1e-12);
    afd_calib_report(c, &rep);
    assert_true(rep.identified[AFD_COEF_AA] && rep.identified[AFD_COEF_BA]);
    det = d00 * d11 - r01 * r01;
    assert_close((double)((d11 * dv0 - r01 * dv1) / det),
                 rep.value[AFD_COEF_AA], 0, 1e-12);
    assert_close((double)((d00 * dv1 - r01 * dv0) / det),
                 rep.value[AFD_COEF_BA], 0, 1e-12);
    afd_calib_free(c);
}

/* ensure forgetting tracks a step change in the true coefficients */
static void test_afd_calib_add_forgetting_tracks_step(void **state)
{
    struct afd_calib *c = make(0.99), *rigid = make(1.0);
    struct afd_profile got;

    feed_two_loads(c, prior(), 3000);
    feed_two_loads(rigid, prior(), 3000);
    feed_two_loads(c, &truth, 5000);
    feed_two_loads(rigid, &truth, 5000);
    afd_calib_profile(c, &got);
    assert_profile_close(&truth, &got, 1e-9);
    /* Without forgetting the old regime still weighs 3000 of 8000 samples. */
    afd_calib_profile(rigid, &got);
    assert_true(fabs(got.aA - truth.aA) > 0.05 * truth.aA);
    afd_calib_free(c);
    afd_calib_free(rigid);
}

/* ensure invalid samples are rejected with the value quoted, state kept */
static void test_afd_calib_add_invalid_input(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_state before, after;
    char err[AFD_ERR_LEN] = "";

    feed_two_loads(c, &truth, 10);
    afd_calib_export(c, &before);
    assert_int_equal(afd_calib_add_attention(c, NAN, 1, err), AFD_EINVAL);
    assert_non_null(strstr(err, "attention load"));
    assert_non_null(strstr(err, "got nan"));
    assert_int_equal(afd_calib_add_comm(c, 64, -1, err), AFD_EINVAL);
    assert_non_null(strstr(err, "comm time"));
    assert_non_null(strstr(err, "got -1"));
    assert_int_equal(afd_calib_add_ffn(c, INFINITY, 5, err), AFD_EINVAL);
    assert_non_null(strstr(err, "ffn tokens"));
    assert_non_null(strstr(err, "got inf"));
    assert_int_equal(afd_calib_add_ffn(c, -3, 5, err), AFD_EINVAL);
    assert_non_null(strstr(err, "got -3"));
    assert_int_equal(afd_calib_add_attention(c, 1000, -INFINITY, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "got -inf"));
    afd_calib_export(c, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    afd_calib_free(c);
}

/* ensure a sample that would overflow the fit is refused, state kept */
static void test_afd_calib_add_overflow_refused(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_state before, after;
    char err[AFD_ERR_LEN] = "";

    afd_calib_export(c, &before);
    assert_int_equal(afd_calib_add_attention(c, 1e200, 1e300, err), AFD_ERANGE);
    assert_non_null(strstr(err, "1e+200 tokens"));
    afd_calib_export(c, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    afd_calib_free(c);
}

/* ensure the profile validates and slopes stay > 0 under hostile data */
static void test_afd_calib_profile_always_validates(void **state)
{
    struct afd_calib *c = make(0.9);
    struct afd_profile got;
    char err[AFD_ERR_LEN] = "";
    int i;

    /* Time falling with load: the fitted slopes and intercepts go < 0. */
    for (i = 0; i < 2000; i++) {
        double x = (i & 1) ? 100 : 100000;

        afd_calib_add_attention(c, x, (i & 1) ? 50 : 0, NULL);
        afd_calib_add_ffn(c, x, (i & 1) ? 0 : 50, NULL);
        afd_calib_add_comm(c, x, (i & 1) ? 0 : 50, NULL);
    }
    afd_calib_profile(c, &got);
    if (afd_profile_validate(&got, err) != AFD_OK)
        fail_msg("profile invalid: %s", err);
    assert_true(got.aA == 1e-6 * prior()->aA);
    assert_true(got.bF == 0);
    /* Random garbage, checked after every sample. */
    rng_state = 99;
    for (i = 0; i < 20000; i++) {
        double x = rng_uniform() < 0.1 ? 0 : 1e6 * rng_uniform();

        afd_calib_add_attention(c, x, 1e3 * rng_uniform(), NULL);
        afd_calib_add_ffn(c, x, 1e3 * rng_uniform(), NULL);
        afd_calib_add_comm(c, x, rng_uniform() < 0.5 ? 0 : 1e4, NULL);
        afd_calib_profile(c, &got);
        if (afd_profile_validate(&got, err) != AFD_OK)
            fail_msg("profile invalid after %d samples: %s", i, err);
    }
    afd_calib_free(c);
}

/* ensure export then import reproduces the fit bit for bit, now and later */
static void test_afd_calib_import_round_trip(void **state)
{
    struct afd_calib *c = make(0.995), *d;
    struct afd_calib_state s;
    struct afd_profile pc, pd;
    struct afd_profile other = truth;
    char err[AFD_ERR_LEN] = "";
    int i;

    rng_state = 3;
    for (i = 0; i < 300; i++) {
        double x = 1e5 * rng_uniform();

        afd_calib_add_attention(c, x, 1e-4 * x + rng_uniform(), NULL);
        afd_calib_add_ffn(c, 3000, 12 + rng_uniform(), NULL);
    }
    afd_calib_export(c, &s);
    d = afd_calib_new(&other, NULL, err);
    assert_non_null(d);
    assert_int_equal(afd_calib_import(d, &s, err), AFD_OK);
    afd_calib_profile(c, &pc);
    afd_calib_profile(d, &pd);
    assert_memory_equal(&pc, &pd, sizeof(pc));
    for (i = 0; i < 100; i++) {
        double x = 1e5 * rng_uniform(), y = 1e-4 * x + rng_uniform();

        afd_calib_add_attention(c, x, y, NULL);
        afd_calib_add_attention(d, x, y, NULL);
    }
    afd_calib_profile(c, &pc);
    afd_calib_profile(d, &pd);
    assert_memory_equal(&pc, &pd, sizeof(pc));
    afd_calib_free(c);
    afd_calib_free(d);
}

/* ensure import rejects an inconsistent state and leaves the target as is */
static void test_afd_calib_import_inconsistent(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_state good, bad, before, after;
    char err[AFD_ERR_LEN] = "";

    feed_two_loads(c, &truth, 50);
    afd_calib_export(c, &good);
    afd_calib_export(c, &before);

    bad = good;
    bad.stage[1].cov[1] = bad.stage[1].cov[2] =
        2 * sqrt(bad.stage[1].cov[0] * bad.stage[1].cov[3]);
    assert_int_equal(afd_calib_import(c, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "comm covariance"));
    assert_non_null(strstr(err, "positive semidefinite"));

    bad = good;
    bad.stage[2].prior_cov[3] *= 2;
    assert_int_equal(afd_calib_import(c, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "ffn prior_cov"));

    bad = good;
    bad.stage[0].coef[1] = NAN;
    assert_int_equal(afd_calib_import(c, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "attention coef[1] must be finite, got nan"));

    bad = good;
    bad.prior.aA = -1;
    assert_int_equal(afd_calib_import(c, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'aA'"));

    bad = good;
    bad.config.forgetting = 1.5;
    assert_int_equal(afd_calib_import(c, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "got 1.5"));

    afd_calib_export(c, &after);
    assert_memory_equal(&before, &after, sizeof(before));
    afd_calib_free(c);
}

/*
 * ensure the exported prior covariance is w pseudo-samples at +-s:
 * diag(1/(w s^2), 1/w) with s = 2^16, 2^8, 2^11 for paper-v1-fit's stages
 * (b/a = 50227, 300, 2228) and w = 10
 */
static void test_afd_calib_export_prior_covariance(void **state)
{
    struct afd_calib *c = make(0.999);
    struct afd_calib_state s;
    const double scale[3] = {65536, 256, 2048};
    int i;

    afd_calib_export(c, &s);
    for (i = 0; i < 3; i++) {
        assert_true(s.stage[i].prior_cov[0] == 0.1 / (scale[i] * scale[i]));
        assert_true(s.stage[i].prior_cov[1] == 0);
        assert_true(s.stage[i].prior_cov[2] == 0);
        assert_true(s.stage[i].prior_cov[3] == 0.1);
        assert_memory_equal(s.stage[i].cov, s.stage[i].prior_cov,
                            sizeof(s.stage[i].cov));
        assert_int_equal(s.stage[i].samples, 0);
    }
    assert_true(s.stage[2].coef[0] == prior()->aF);
    assert_true(s.stage[2].coef[1] == prior()->bF);
    afd_calib_free(c);
}

/* ensure a prior name filling the buffer still gets a terminated suffix */
static void test_afd_calib_profile_long_name_truncated(void **state)
{
    struct afd_profile p = *prior(), got;
    struct afd_calib *c;
    char want[AFD_PROFILE_NAME_LEN];

    memset(p.name, 'x', sizeof(p.name) - 1);
    p.name[sizeof(p.name) - 1] = '\0';
    c = afd_calib_new(&p, NULL, NULL);
    assert_non_null(c);
    feed_two_loads(c, &truth, 5000);
    afd_calib_profile(c, &got);
    /* 52 of the 63 name bytes, then the 11 of "+calibrated". */
    memset(want, 'x', 52);
    strcpy(want + 52, "+calibrated");
    assert_string_equal(got.name, want);
    assert_non_null(strstr(got.provenance, "rls-calibrated; prior: FITTED"));
    assert_int_equal(afd_profile_validate(&got, NULL), AFD_OK);
    afd_calib_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_coef_name_all),
        cmocka_unit_test(test_afd_calib_new_starts_at_prior),
        cmocka_unit_test(test_afd_calib_new_invalid_prior),
        cmocka_unit_test(test_afd_calib_new_invalid_config),
        cmocka_unit_test(test_afd_calib_add_two_loads_recovers_truth),
        cmocka_unit_test(test_afd_calib_add_constant_load_near_scale),
        cmocka_unit_test(test_afd_calib_add_constant_load_high),
        cmocka_unit_test(test_afd_calib_add_constant_load_low),
        cmocka_unit_test(test_afd_calib_add_constant_load_no_windup),
        cmocka_unit_test(test_afd_calib_add_noisy_converges),
        cmocka_unit_test(test_afd_calib_add_matches_batch_solution),
        cmocka_unit_test(test_afd_calib_add_forgetting_tracks_step),
        cmocka_unit_test(test_afd_calib_add_invalid_input),
        cmocka_unit_test(test_afd_calib_add_overflow_refused),
        cmocka_unit_test(test_afd_calib_profile_always_validates),
        cmocka_unit_test(test_afd_calib_profile_long_name_truncated),
        cmocka_unit_test(test_afd_calib_export_prior_covariance),
        cmocka_unit_test(test_afd_calib_import_round_trip),
        cmocka_unit_test(test_afd_calib_import_inconsistent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
