/*
 * test_sim_gen.c - the simulator's request generators (integration/sim/gen.h):
 * sample means against the spec's parameters (fixed seed, tolerance from the
 * sample size), joint trace resampling, and spec errors (code + message).
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/sim/gen.h"

#define N_DRAWS 400000

struct moments {
    double mean_p, mean_d, sd_d;
    int64_t min_d, min_p;
    bool prompt_constant;
};

static struct moments draw_many(const char *spec, uint64_t seed)
{
    struct afd_gen g;
    struct afd_rng rng;
    struct moments m = {0, 0, 0, INT64_MAX, INT64_MAX, true};
    char err[AFD_ERR_LEN];
    double sp = 0, sd = 0, sd2 = 0;
    int64_t p, d, p0 = -1;
    int i;

    assert_int_equal(afd_gen_parse(spec, &g, err), AFD_OK);
    afd_rng_seed(&rng, seed, 0);
    for (i = 0; i < N_DRAWS; i++) {
        afd_gen_draw(&g, &rng, &p, &d);
        if (p0 < 0)
            p0 = p;
        m.prompt_constant = m.prompt_constant && p == p0;
        sp += (double)p;
        sd += (double)d;
        sd2 += (double)d * (double)d;
        m.min_d = d < m.min_d ? d : m.min_d;
        m.min_p = p < m.min_p ? p : m.min_p;
    }
    m.mean_p = sp / N_DRAWS;
    m.mean_d = sd / N_DRAWS;
    m.sd_d = sqrt(sd2 / N_DRAWS - m.mean_d * m.mean_d);
    afd_gen_release(&g);
    return m;
}

/* 5 standard errors: a false alarm about once in 3.5 million runs. */
static double tol(double sd)
{
    return 5.0 * sd / sqrt((double)N_DRAWS);
}

/* ensure afd_gen_draw gives a geometric decode of the given mean (sd
 * sqrt(m(m-1))) and exactly the fixed prompt when prompt_dist is fixed */
static void test_afd_gen_draw_geometric_mean(void **state)
{
    struct moments m = draw_many("geometric:prompt=100,decode=500", 7);
    double sd = sqrt(500.0 * 499.0);

    (void)state;
    assert_close(500.0, m.mean_d, tol(sd), 0);
    assert_close(sd, m.sd_d, 0.02 * sd, 0);
    assert_true(m.prompt_constant);
    assert_true(m.mean_p == 100.0);
    assert_true(m.min_d >= 1);
}

/* ensure afd_gen_draw's exponential prompt (geometric on {0,..}) has the
 * given mean, sd sqrt(m(m+1)) */
static void test_afd_gen_draw_exp_prompt_mean(void **state)
{
    struct moments m =
        draw_many("geometric:prompt=100,decode=20,prompt_dist=exp", 8);

    (void)state;
    assert_close(100.0, m.mean_p, tol(sqrt(100.0 * 101.0)), 0);
    assert_close(20.0, m.mean_d, tol(sqrt(20.0 * 19.0)), 0);
    assert_false(m.prompt_constant);
    assert_true(m.min_p == 0);
}

/* ensure afd_gen_draw's lognormal decode has the given mean and cv (the
 * rounding to integers moves the mean by far less than the tolerance) */
static void test_afd_gen_draw_lognormal_mean(void **state)
{
    struct moments m = draw_many("lognormal:prompt=50,decode=500,cv=1", 9);

    (void)state;
    assert_close(500.0, m.mean_d, tol(500.0) + 0.5, 0);
    assert_close(500.0, m.sd_d, 0.03 * 500.0, 0);
    assert_true(m.mean_p == 50.0);
}

/* ensure afd_gen_draw's Pareto decode has the given mean (alpha 3: sd =
 * mean/sqrt(alpha(alpha-2))) and never goes below its scale x_m */
static void test_afd_gen_draw_pareto_mean(void **state)
{
    struct moments m = draw_many("pareto:prompt=10,decode=500,alpha=3", 10);

    (void)state;
    assert_close(500.0, m.mean_d, tol(500.0 / sqrt(3.0)) + 0.5, 0);
    assert_true(m.min_d >= 333); /* x_m = 500*2/3 = 333.3, rounded */
}

/* ensure afd_gen_draw gives exactly (P, D) for the fixed kind */
static void test_afd_gen_draw_fixed_exact(void **state)
{
    struct moments m = draw_many("fixed:prompt=7,decode=3", 11);

    (void)state;
    assert_true(m.mean_p == 7.0);
    assert_true(m.mean_d == 3.0);
    assert_true(m.sd_d == 0.0);
}

/* ensure afd_gen_draw resamples trace pairs jointly: only the file's
 * (P, D) pairs appear, each with frequency about 1/3 */
static void test_afd_gen_draw_trace_joint_pairs(void **state)
{
    char path[] = "/tmp/test_sim_gen_XXXXXX";
    const char text[] = "num_prefill_tokens,num_decode_tokens,"
                        "num_total_tokens,pd_ratio\n"
                        "10,1,11,10\n20,5,25,4\n30,100,130,0.3\n";
    char spec[64], err[AFD_ERR_LEN];
    struct afd_gen g;
    struct afd_rng rng;
    int fd = mkstemp(path), i, count[3] = {0, 0, 0};
    int64_t p, d;

    (void)state;
    assert_true(fd >= 0);
    assert_true(write(fd, text, sizeof(text) - 1) == (ssize_t)sizeof(text) - 1);
    close(fd);
    snprintf(spec, sizeof(spec), "trace:%s", path);
    assert_int_equal(afd_gen_parse(spec, &g, err), AFD_OK);
    unlink(path);
    afd_rng_seed(&rng, 3, 0);
    for (i = 0; i < 30000; i++) {
        afd_gen_draw(&g, &rng, &p, &d);
        if (p == 10 && d == 1)
            count[0]++;
        else if (p == 20 && d == 5)
            count[1]++;
        else if (p == 30 && d == 100)
            count[2]++;
        else
            fail_msg("pair (%lld, %lld) is not in the trace", (long long)p,
                     (long long)d);
    }
    for (i = 0; i < 3; i++) /* sd of a count: sqrt(30000*(1/3)*(2/3)) = 82 */
        assert_close(10000.0, count[i], 5 * 82.0, 0);
    afd_gen_release(&g);
}

static void expect_parse_error(const char *spec, int code, const char *needle)
{
    struct afd_gen g;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_gen_parse(spec, &g, err), code);
    if (!strstr(err, needle))
        fail_msg("spec '%s': message '%s' lacks '%s'", spec, err, needle);
    afd_gen_release(&g);
}

/* ensure afd_gen_parse rejects an unknown kind and lists the known ones */
static void test_afd_gen_parse_unknown_kind(void **state)
{
    (void)state;
    expect_parse_error("poisson:prompt=1,decode=2", AFD_EPARSE,
                       "unknown workload kind 'poisson'");
    expect_parse_error("", AFD_EPARSE, "empty");
}

/* ensure afd_gen_parse rejects an unknown or repeated key and a missing one */
static void test_afd_gen_parse_bad_keys(void **state)
{
    (void)state;
    expect_parse_error("geometric:prompt=1,decode=2,cv=3", AFD_EPARSE,
                       "unknown key 'cv'");
    expect_parse_error("geometric:prompt=1,prompt=2,decode=2", AFD_EPARSE,
                       "key 'prompt' given twice");
    expect_parse_error("lognormal:prompt=1,decode=2", AFD_EPARSE,
                       "missing key 'cv'");
    expect_parse_error("geometric:prompt100", AFD_EPARSE,
                       "expected KEY=VALUE, got 'prompt100'");
    expect_parse_error("geometric", AFD_EPARSE, "needs parameters");
}

/* ensure afd_gen_parse rejects out-of-range and non-numeric values */
static void test_afd_gen_parse_bad_values(void **state)
{
    (void)state;
    expect_parse_error("geometric:prompt=100,decode=0", AFD_EINVAL,
                       "decode must be >= 1, got 0");
    expect_parse_error("geometric:prompt=-1,decode=5", AFD_EINVAL,
                       "prompt must be >= 0, got -1");
    expect_parse_error("geometric:prompt=abc,decode=5", AFD_EPARSE, "'abc'");
    expect_parse_error("pareto:prompt=1,decode=5,alpha=1", AFD_EINVAL,
                       "alpha must be > 1");
    expect_parse_error("lognormal:prompt=1,decode=5,cv=0", AFD_EINVAL,
                       "cv must be > 0");
    expect_parse_error("fixed:prompt=1,decode=2.5", AFD_EINVAL,
                       "decode must be an integer, got 2.5");
    expect_parse_error("geometric:prompt=1.5,decode=5", AFD_EINVAL,
                       "prompt_dist=exp");
    expect_parse_error("geometric:prompt=1,decode=5,prompt_dist=uniform",
                       AFD_EINVAL, "got 'uniform'");
}

/* ensure afd_gen_parse passes on the trace loader's error for a missing
 * file, naming the path */
static void test_afd_gen_parse_missing_trace(void **state)
{
    (void)state;
    expect_parse_error("trace:/nonexistent/t.csv", AFD_EIO,
                       "/nonexistent/t.csv");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_gen_draw_geometric_mean),
        cmocka_unit_test(test_afd_gen_draw_exp_prompt_mean),
        cmocka_unit_test(test_afd_gen_draw_lognormal_mean),
        cmocka_unit_test(test_afd_gen_draw_pareto_mean),
        cmocka_unit_test(test_afd_gen_draw_fixed_exact),
        cmocka_unit_test(test_afd_gen_draw_trace_joint_pairs),
        cmocka_unit_test(test_afd_gen_parse_unknown_kind),
        cmocka_unit_test(test_afd_gen_parse_bad_keys),
        cmocka_unit_test(test_afd_gen_parse_bad_values),
        cmocka_unit_test(test_afd_gen_parse_missing_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
