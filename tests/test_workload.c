/* test_workload.c - the streaming theta/sigma estimator (model.md 3). */
#include "tests/afd_test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/workload.h"

/* splitmix64: a fixed-seed generator written here, independent of the code
 * under test. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform on (0, 1). */
static double rng_uniform(uint64_t *s)
{
    return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0;
}

/* Geometric on {1, 2, ...} with success probability p, by inversion. */
static double rng_geometric(uint64_t *s, double p)
{
    return 1 + floor(log(rng_uniform(s)) / log1p(-p));
}

static struct afd_workload *new_or_fail(double half_life)
{
    char err[AFD_ERR_LEN] = "";
    struct afd_workload *w = afd_workload_new(half_life, err);

    if (!w)
        fail_msg("afd_workload_new(%g): %s", half_life, err);
    return w;
}

static void assert_same_state(const struct afd_workload_state *a,
                              const struct afd_workload_state *b)
{
    assert_true(a->half_life == b->half_life);
    assert_true(a->requests == b->requests);
    assert_true(a->weight == b->weight);
    assert_true(a->sum_p == b->sum_p);
    assert_true(a->sum_d == b->sum_d);
    assert_true(a->sum_theta == b->sum_theta);
    assert_true(a->sum_m2 == b->sum_m2);
    assert_true(a->sum_pd == b->sum_pd);
}

/* ensure mean_residual is E[D(D-1)/2] / E[D] over the joint sums: 1 for
 * (P 2, D 3); (0, 1) and (5, 4) give 6 / 5; a state from before sum_pd was
 * kept reads as geometric, mean_decode - 1 */
static void test_workload_residual(void **state)
{
    struct afd_workload *w = new_or_fail(0);
    const struct afd_workload_state legacy = {0, 1, 1, 2, 3, 9, 29, 0};
    struct afd_workload_state s;
    struct afd_workload_stats st;

    (void)state;
    assert_int_equal(afd_workload_add(w, 2, 3, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_true(st.mean_residual == 1.0);
    afd_workload_export(w, &s);
    assert_true(s.sum_pd == 6.0);
    afd_workload_reset(w);
    assert_int_equal(afd_workload_add(w, 0, 1, NULL), AFD_OK);
    assert_int_equal(afd_workload_add(w, 5, 4, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close(6.0 / 5.0, st.mean_residual, 0, 1e-15);
    assert_int_equal(afd_workload_import(w, &legacy, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close(2.0, st.mean_residual, 0, 1e-15);
    assert_close(3.0, st.theta, 0, 1e-15); /* theta is unchanged */
    afd_workload_free(w);
}

/* ensure add/stats give theta = 3, sigma^2 = 2/3 for one request P=2, D=3
 * (loads 2, 3, 4) */
static void test_workload_stats_single_request_exact(void **state)
{
    struct afd_workload *w = new_or_fail(0);
    struct afd_workload_stats st;

    assert_int_equal(afd_workload_add(w, 2, 3, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_true(st.theta == 3.0);
    assert_close(2.0 / 3.0, st.sigma * st.sigma, 0, 1e-15);
    assert_true(st.mean_prompt == 2.0);
    assert_true(st.mean_decode == 3.0);
    assert_true(st.requests == 1);
    assert_true(st.effective_requests == 1.0);
    afd_workload_free(w);
}

/* ensure stats uses the joint sums, not mean(P) + E[D(D-1)]/(2E[D]), when P
 * and D are correlated */
static void test_workload_stats_joint_not_independent(void **state)
{
    struct afd_workload *w = new_or_fail(0);
    struct afd_workload_stats st;
    double independent;

    /* Loads: {0} and {10, 11, 12}: 33 tokens over 4 slot-steps. */
    assert_int_equal(afd_workload_add(w, 0, 1, NULL), AFD_OK);
    assert_int_equal(afd_workload_add(w, 10, 3, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_true(st.theta == 33.0 / 4.0);
    /* m2 = (0 + 100 + 121 + 144)/4 = 91.25; sigma^2 = 91.25 - 8.25^2. */
    assert_close(23.1875, st.sigma * st.sigma, 0, 1e-14);
    /* Independent form: 5 + ((0 + 6)/2) / (2 * 2) = 5.75, off by 2.5. */
    independent = 5.0 + 3.0 / 4.0;
    assert_true(st.theta - independent == 2.5);
    afd_workload_free(w);
}

/* ensure the sums keep small terms that a plain double sum would lose */
static void test_workload_add_sums_beyond_double(void **state)
{
    struct afd_workload *w = new_or_fail(0);
    struct afd_workload_stats st;
    int i;

    /* 2^53 + 1 == 2^53 in double: a plain sum would drop all 1000 ones. */
    assert_int_equal(afd_workload_add(w, 9007199254740992.0, 1, NULL), AFD_OK);
    for (i = 0; i < 1000; i++)
        assert_int_equal(afd_workload_add(w, 1, 1, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close((double)((9007199254740992.0L + 1000) / 1001), st.mean_prompt,
                 0, 1e-15);
    assert_close((double)((9007199254740992.0L + 1000) / 1001), st.theta, 0,
                 1e-15);
    afd_workload_free(w);
}

/* ensure stats returns AFD_EEMPTY before any request */
static void test_workload_stats_empty(void **state)
{
    struct afd_workload *w = new_or_fail(100);
    struct afd_workload_stats st;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_workload_stats(w, &st, err), AFD_EEMPTY);
    assert_non_null(strstr(err, "at least one request"));
    afd_workload_free(w);
}

/* ensure new rejects a negative or non-finite half-life with the value */
static void test_workload_new_invalid_half_life(void **state)
{
    char err[AFD_ERR_LEN] = "";

    assert_null(afd_workload_new(-1, err));
    assert_non_null(strstr(err, "half-life"));
    assert_non_null(strstr(err, "got -1"));
    assert_null(afd_workload_new(INFINITY, err));
    assert_non_null(strstr(err, "got inf"));
    assert_null(afd_workload_new(NAN, err));
    assert_non_null(strstr(err, "got nan"));
}

/* Adds one bad request and checks code, message and unchanged state. */
static void check_rejected(double p, double d, const char *field,
                           const char *value)
{
    struct afd_workload *w = new_or_fail(50);
    struct afd_workload_state before, after;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_workload_add(w, 7, 9, NULL), AFD_OK);
    afd_workload_export(w, &before);
    assert_int_equal(afd_workload_add(w, p, d, err), AFD_EINVAL);
    assert_non_null(strstr(err, field));
    assert_non_null(strstr(err, value));
    afd_workload_export(w, &after);
    assert_same_state(&before, &after);
    afd_workload_free(w);
}

/* ensure add rejects NaN, Inf, negative prompt and decode < 1, naming the
 * value and leaving the state unchanged */
static void test_workload_add_invalid_rejected(void **state)
{
    check_rejected(NAN, 3, "prompt", "got nan");
    check_rejected(INFINITY, 3, "prompt", "got inf");
    check_rejected(-1, 3, "prompt", "got -1");
    check_rejected(5, NAN, "decode", "got nan");
    check_rejected(5, INFINITY, "decode", "got inf");
    check_rejected(5, 0, "decode", "got 0");
    check_rejected(5, 0.5, "decode", "got 0.5");
}

/*
 * ensure the estimate matches the geometric closed form on a long stream of
 * geometric samples
 *
 * P ~ uniform{0..200} (mean 100, variance (201^2-1)/12 = 3366.67) and
 * D ~ Geo(1/50). The tolerance is 5 standard errors of the ratio estimator,
 * from the delta method on this very sample: se(theta) = sd(Y - theta*D) /
 * (sqrt(n) mean(D)) with Y the per-request load sum, and likewise for m2.
 */
static void test_workload_stats_geometric_stream(void **state)
{
    const int n = 400000;
    const double p = 1.0 / 50;
    struct afd_workload *w = new_or_fail(0);
    struct afd_workload_stats st;
    uint64_t seed = 12345;
    long double sy = 0, sz = 0, sd = 0, syy = 0, szz = 0, sdd = 0, syd = 0,
                szd = 0, th, m2, vy, vz, se_theta, se_m2;
    double theta, sigma, P, D, Y, Z;
    int i;

    for (i = 0; i < n; i++) {
        P = (double)(rng_next(&seed) % 201);
        D = rng_geometric(&seed, p);
        assert_int_equal(afd_workload_add(w, P, D, NULL), AFD_OK);
        Y = D * P + D * (D - 1) / 2;
        Z = D * P * P + P * D * (D - 1) + D * (D - 1) * (2 * D - 1) / 6;
        sy += Y, sz += Z, sd += D;
        syy += (long double)Y * Y, szz += (long double)Z * Z;
        sdd += (long double)D * D;
        syd += (long double)Y * D, szd += (long double)Z * D;
    }
    th = sy / sd;
    m2 = sz / sd;
    vy = (syy - 2 * th * syd + th * th * sdd) / n;
    vz = (szz - 2 * m2 * szd + m2 * m2 * sdd) / n;
    se_theta = sqrtl(vy / n) / (sd / n);
    se_m2 = sqrtl(vz / n) / (sd / n);
    assert_int_equal(afd_workload_geometric(100, (201.0 * 201 - 1) / 12, 1 / p,
                                            &theta, &sigma, NULL),
                     AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close(theta, st.theta, (double)(5 * se_theta), 0);
    /* sigma^2 = m2 - theta^2: error bounded by se_m2 + 2 theta se_theta. */
    assert_close(sigma * sigma, st.sigma * st.sigma,
                 (double)(5 * (se_m2 + 2 * th * se_theta)), 0);
    afd_workload_free(w);
}

/* ensure geometric gives theta = E[P] + 1/p - 1 and sigma^2 = Var(P) +
 * (1-p)/p^2 for hand-checked numbers */
static void test_workload_geometric_hand_checked(void **state)
{
    double theta, sigma;

    /* p = 1/500: theta = 100 + 499, sigma^2 = 10 + 0.998 * 250000. */
    assert_int_equal(afd_workload_geometric(100, 10, 500, &theta, &sigma, NULL),
                     AFD_OK);
    assert_true(theta == 599.0);
    assert_close(249510.0, sigma * sigma, 0, 1e-15);
    /* D == 1 always: the load is just P. */
    assert_int_equal(afd_workload_geometric(7, 4, 1, &theta, &sigma, NULL),
                     AFD_OK);
    assert_true(theta == 7.0);
    assert_true(sigma == 2.0);
}

/* ensure geometric rejects out-of-domain inputs naming the value */
static void test_workload_geometric_invalid(void **state)
{
    double theta, sigma;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_workload_geometric(-1, 0, 5, &theta, &sigma, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "mean prompt"));
    assert_non_null(strstr(err, "got -1"));
    assert_int_equal(afd_workload_geometric(1, NAN, 5, &theta, &sigma, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "variance"));
    assert_non_null(strstr(err, "got nan"));
    assert_int_equal(afd_workload_geometric(1, 0, 0.5, &theta, &sigma, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "mean decode"));
    assert_non_null(strstr(err, "got 0.5"));
}

/*
 * ensure the estimate follows a shift in the workload within 7 half-lives
 *
 * 4000 requests (40 half-lives) of P=100, D=10 (theta 104.5), then P=1000,
 * D=10 (theta 1004.5). With equal D, the old workload's share of the weight
 * after k new requests is q^k (1 - q^N) / (1 - q^(N+k)), q = 2^(-1/h).
 */
static void test_workload_add_forgetting_follows_shift(void **state)
{
    const double h = 100;
    const int n_old = 4000, n_new = 700;
    struct afd_workload *w = new_or_fail(h);
    struct afd_workload_stats st;
    double q = pow(2, -1 / h), share;
    int i;

    for (i = 0; i < n_old; i++)
        assert_int_equal(afd_workload_add(w, 100, 10, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close(104.5, st.theta, 0, 1e-12);
    for (i = 0; i < n_new; i++)
        assert_int_equal(afd_workload_add(w, 1000, 10, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    share = pow(q, n_new) * (1 - pow(q, n_old)) / (1 - pow(q, n_old + n_new));
    assert_close(1004.5 - 900 * share, st.theta, 0, 1e-12);
    /* 7 half-lives: within 1% of the new workload (share < 2^-7). */
    assert_close(1004.5, st.theta, 0, 0.01);
    assert_close(1000.0 - 900 * share, st.mean_prompt, 0, 1e-12);
    /* Effective sample: (1 - q^n) / (1 - q), about h / ln 2. */
    assert_close((1 - pow(q, n_old + n_new)) / (1 - q), st.effective_requests,
                 0, 1e-12);
    assert_true(st.requests == (uint64_t)(n_old + n_new));
    afd_workload_free(w);
}

/* ensure a short half-life over a long stream stays finite and exact (the
 * running weight is renormalised) */
static void test_workload_add_short_half_life_long_stream(void **state)
{
    struct afd_workload *w = new_or_fail(1);
    struct afd_workload_stats st;
    int i;

    /* 2^100000 would overflow any floating type without renormalisation. */
    for (i = 0; i < 100000; i++)
        assert_int_equal(afd_workload_add(w, 50, 4, NULL), AFD_OK);
    assert_int_equal(afd_workload_add(w, 10, 1, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    /* Weights: newest 1, the older ones sum to 1 (q = 1/2). Loads: {10}
     * with weight 1 against 51.5 average over 4 steps with weight 1. */
    assert_close(2.0, st.effective_requests, 0, 1e-15);
    assert_close((10.0 + 4 * 51.5) / 5, st.theta, 0, 1e-15);
    assert_close(30.0, st.mean_prompt, 0, 1e-15);
    afd_workload_free(w);
}

/* ensure reset forgets all requests but keeps the half-life */
static void test_workload_reset_forgets(void **state)
{
    struct afd_workload *w = new_or_fail(10);
    struct afd_workload_state s;
    struct afd_workload_stats st;

    assert_int_equal(afd_workload_add(w, 1, 2, NULL), AFD_OK);
    afd_workload_reset(w);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_EEMPTY);
    afd_workload_export(w, &s);
    assert_true(s.half_life == 10);
    assert_true(s.requests == 0 && s.weight == 0);
    assert_int_equal(afd_workload_add(w, 2, 3, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_true(st.theta == 3.0);
    afd_workload_free(w);
}

/* ensure export then import reproduces the exported state bit for bit and
 * the same estimate */
static void test_workload_import_round_trip(void **state)
{
    struct afd_workload *a = new_or_fail(37), *b = new_or_fail(0);
    struct afd_workload_state sa, sb;
    struct afd_workload_stats ta, tb;
    uint64_t seed = 99;
    int i;

    for (i = 0; i < 5000; i++)
        assert_int_equal(afd_workload_add(a, (double)(rng_next(&seed) % 3000),
                                          rng_geometric(&seed, 0.01), NULL),
                         AFD_OK);
    afd_workload_export(a, &sa);
    assert_int_equal(afd_workload_import(b, &sa, NULL), AFD_OK);
    afd_workload_export(b, &sb);
    assert_same_state(&sa, &sb);
    assert_int_equal(afd_workload_stats(a, &ta, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(b, &tb, NULL), AFD_OK);
    /* b's sums were rounded to double once: relative 1e-15 each. */
    assert_close(ta.theta, tb.theta, 0, 1e-13);
    assert_close(ta.sigma, tb.sigma, 0, 1e-12);
    assert_true(ta.requests == tb.requests);
    /* Both continue identically. */
    assert_int_equal(afd_workload_add(a, 10, 20, NULL), AFD_OK);
    assert_int_equal(afd_workload_add(b, 10, 20, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(a, &ta, NULL), AFD_OK);
    assert_int_equal(afd_workload_stats(b, &tb, NULL), AFD_OK);
    assert_close(ta.theta, tb.theta, 0, 1e-13);
    afd_workload_free(a);
    afd_workload_free(b);
}

/* Imports a bad state; checks code, message and unchanged estimator. */
static void check_import_rejected(const struct afd_workload_state *bad,
                                  const char *needle)
{
    struct afd_workload *w = new_or_fail(5);
    struct afd_workload_state before, after;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_workload_add(w, 3, 4, NULL), AFD_OK);
    afd_workload_export(w, &before);
    assert_int_equal(afd_workload_import(w, bad, err), AFD_EINVAL);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
    afd_workload_export(w, &after);
    assert_same_state(&before, &after);
    afd_workload_free(w);
}

/* ensure import rejects NaN, negative and inconsistent states, naming the
 * field, with the estimator unchanged */
static void test_workload_import_invalid(void **state)
{
    /* A valid one-request state: P=2, D=3. */
    const struct afd_workload_state good = {0, 1, 1, 2, 3, 9, 29, 6};
    struct afd_workload_state s;

    s = good, s.sum_theta = NAN;
    check_import_rejected(&s, "'sum_theta' must be finite and >= 0, got nan");
    s = good, s.sum_p = -1;
    check_import_rejected(&s, "'sum_p' must be finite and >= 0, got -1");
    s = good, s.half_life = -2;
    check_import_rejected(&s, "half-life must be finite and >= 0 requests, "
                              "got -2");
    s = good, s.requests = 0;
    check_import_rejected(&s, "0 requests but weight 1");
    s = good, s.weight = 2;
    check_import_rejected(&s, "weight must be in (0, requests = 1], got 2");
    s = good, s.sum_d = 0.5;
    check_import_rejected(&s, "sum_d must be >= weight 1");
    s = good, s.sum_m2 = 26; /* 26 * 3 < 9^2: negative variance */
    check_import_rejected(&s, "negative variance");
    s = good, s.sum_pd = -1;
    check_import_rejected(&s, "'sum_pd' must be finite and >= 0, got -1");
    s = good, s.sum_pd = 10;
    check_import_rejected(&s, "sum_pd 10 is above sum_theta 9");
}

/* ensure load_spread gives the mean and sample sd, 0 for one load */
static void test_load_spread_hand_checked(void **state)
{
    const double loads[] = {1, 2, 3, 4};
    double mean, sd;

    assert_int_equal(afd_load_spread(loads, 4, &mean, &sd, NULL), AFD_OK);
    assert_true(mean == 2.5);
    assert_close(sqrt(5.0 / 3.0), sd, 0, 1e-15);
    assert_int_equal(afd_load_spread(loads + 2, 1, &mean, &sd, NULL), AFD_OK);
    assert_true(mean == 3.0 && sd == 0.0);
}

/* ensure load_spread rejects no loads, NaN and negative loads by index and
 * value */
static void test_load_spread_invalid(void **state)
{
    const double bad[] = {1, NAN, 3}, neg[] = {1, 2, -4};
    double mean, sd;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_load_spread(bad, 0, &mean, &sd, err), AFD_EINVAL);
    assert_non_null(strstr(err, "got 0"));
    assert_int_equal(afd_load_spread(bad, 3, &mean, &sd, err), AFD_EINVAL);
    assert_non_null(strstr(err, "load 1 must be finite and >= 0 tokens, got "
                                "nan"));
    assert_int_equal(afd_load_spread(neg, 3, &mean, &sd, err), AFD_EINVAL);
    assert_non_null(strstr(err, "load 2 must be finite and >= 0 tokens, got "
                                "-4"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_workload_stats_single_request_exact),
        cmocka_unit_test(test_workload_residual),
        cmocka_unit_test(test_workload_stats_joint_not_independent),
        cmocka_unit_test(test_workload_add_sums_beyond_double),
        cmocka_unit_test(test_workload_stats_empty),
        cmocka_unit_test(test_workload_new_invalid_half_life),
        cmocka_unit_test(test_workload_add_invalid_rejected),
        cmocka_unit_test(test_workload_stats_geometric_stream),
        cmocka_unit_test(test_workload_geometric_hand_checked),
        cmocka_unit_test(test_workload_geometric_invalid),
        cmocka_unit_test(test_workload_add_forgetting_follows_shift),
        cmocka_unit_test(test_workload_add_short_half_life_long_stream),
        cmocka_unit_test(test_workload_reset_forgets),
        cmocka_unit_test(test_workload_import_round_trip),
        cmocka_unit_test(test_workload_import_invalid),
        cmocka_unit_test(test_load_spread_hand_checked),
        cmocka_unit_test(test_load_spread_invalid),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
