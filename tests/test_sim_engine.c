/*
 * test_sim_engine.c - the step simulator (integration/sim/engine.h): the
 * incremental load bookkeeping against a per-slot recomputation, seeds,
 * common random numbers across x, hand-checked throughput and idle ratios,
 * the t quantile and configuration errors.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "integration/sim/engine.h"

static const struct afd_profile *paper(void)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");

    assert_non_null(p);
    return p;
}

/* Steps a simulator and checks every step's loads against the naive sum. */
static void check_incremental(const char *spec, long x, long b, int steps,
                              uint64_t seed)
{
    struct afd_sim_config c;
    struct afd_sim_step_info info;
    struct afd_gen g;
    struct afd_sim *s;
    int64_t naive[16];
    long held[16];
    char err[AFD_ERR_LEN];
    int k;
    long j;

    assert_true(x <= 16);
    assert_int_equal(afd_gen_parse(spec, &g, err), AFD_OK);
    afd_sim_config_init(&c, paper(), &g);
    c.attention = x;
    c.batch = b;
    c.seed = seed;
    s = afd_sim_new(&c, err);
    assert_non_null(s);
    for (k = 0; k <= steps; k++) {
        const int64_t *inc = afd_sim_loads(s);
        afd_sim_naive_loads(s, naive);
        afd_sim_count_requests(s, held);
        for (j = 0; j < x; j++)
            if (held[j] != b)
                fail_msg("%s: step %d instance %ld holds %ld requests, not "
                         "%ld",
                         spec, k, j, held[j], b);
        for (j = 0; j < x; j++)
            if (inc[j] != naive[j])
                fail_msg("%s: step %d instance %ld: incremental %lld, naive "
                         "%lld",
                         spec, k, j, (long long)inc[j], (long long)naive[j]);
        afd_sim_step(s, k % 2 == 0, &info);
    }
    assert_true(afd_sim_now(s) == steps + 1);
    afd_sim_free(s);
    afd_gen_release(&g);
}

/* ensure the incremental loads equal the per-slot sums at every step when
 * requests are short and finish together often */
static void test_afd_sim_step_loads_match_naive_short(void **state)
{
    (void)state;
    check_incremental("geometric:prompt=4,decode=3,prompt_dist=exp", 3, 5, 3000,
                      1);
    check_incremental("fixed:prompt=2,decode=1", 2, 4, 500, 2);
}

/* ensure the incremental loads equal the per-slot sums when requests
 * outlive the calendar ring (4096 steps) and wrap around it */
static void test_afd_sim_step_loads_match_naive_long(void **state)
{
    (void)state;
    check_incremental("fixed:prompt=9,decode=4096", 2, 3, 9000, 3);
    check_incremental("pareto:prompt=5,decode=3000,alpha=1.5", 4, 6, 12000, 4);
    check_incremental("lognormal:prompt=1,decode=50,cv=3", 5, 7, 4000, 5);
}

static void run(const char *spec, long x, uint64_t seed, double noise,
                struct afd_sim_result *r)
{
    struct afd_sim_config c;
    struct afd_gen g;
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_gen_parse(spec, &g, err), AFD_OK);
    afd_sim_config_init(&c, paper(), &g);
    c.attention = x;
    c.batch = 32;
    c.steps = 20000;
    c.warmup = 1000;
    c.seed = seed;
    c.noise_cv = noise;
    assert_int_equal(afd_sim_run(&c, r, err), AFD_OK);
    afd_gen_release(&g);
}

/* ensure afd_sim_run gives bit-identical results under the same seed and
 * different ones under another seed, with and without noise */
static void test_afd_sim_run_deterministic_under_seed(void **state)
{
    struct afd_sim_result a, b, c;
    const char *spec = "geometric:prompt=100,decode=50,prompt_dist=exp";

    (void)state;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    run(spec, 4, 99, 0.1, &a);
    run(spec, 4, 99, 0.1, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    run(spec, 4, 100, 0.1, &c);
    assert_true(a.throughput_per_device != c.throughput_per_device);
    run(spec, 4, 99, 0, &a);
    run(spec, 4, 99, 0, &b);
    assert_memory_equal(&a, &b, sizeof(a));
}

/* ensure instance j draws the same requests whatever the Attention count
 * (common random numbers across a sweep) */
static void test_afd_sim_new_common_random_numbers(void **state)
{
    struct afd_sim_config c;
    struct afd_sim_step_info info;
    struct afd_gen g;
    struct afd_sim *s3, *s5;
    char err[AFD_ERR_LEN];
    int k;

    (void)state;
    assert_int_equal(afd_gen_parse("geometric:prompt=10,decode=20", &g, err),
                     AFD_OK);
    afd_sim_config_init(&c, paper(), &g);
    c.batch = 8;
    c.attention = 3;
    s3 = afd_sim_new(&c, err);
    c.attention = 5;
    s5 = afd_sim_new(&c, err);
    assert_non_null(s3);
    assert_non_null(s5);
    for (k = 0; k < 1000; k++) {
        assert_memory_equal(afd_sim_loads(s3), afd_sim_loads(s5),
                            3 * sizeof(int64_t));
        afd_sim_step(s3, true, &info);
        afd_sim_step(s5, true, &info);
    }
    afd_sim_free(s3);
    afd_sim_free(s5);
    afd_gen_release(&g);
}

/*
 * ensure afd_sim_run's throughput matches a hand computation for a fixed
 * workload: prompt 10, decode 4 gives each slot the loads 10..13, mean
 * 11.5, so over whole 4-step cycles T = 2*11.5 = 23 for B = 2; with an
 * Attention-bound profile the mean step is aA*23 + bA = 1*23 + 100 = 123 ms
 * and throughput 2 tokens / (2 devices * 123 ms)
 */
static void test_afd_sim_run_fixed_hand_checked(void **state)
{
    struct afd_profile p = *paper();
    struct afd_sim_config c;
    struct afd_sim_result r;
    struct afd_gen g;
    char err[AFD_ERR_LEN];

    (void)state;
    p.aA = 1.0;
    p.bA = 100.0;
    p.aC = 0.001;
    p.bC = 1.0;
    p.aF = 0.001;
    p.bF = 2.0;
    assert_int_equal(afd_gen_parse("fixed:prompt=10,decode=4", &g, err),
                     AFD_OK);
    afd_sim_config_init(&c, &p, &g);
    c.attention = 1;
    c.batch = 2;
    c.steps = 4000;
    c.warmup = 3;
    c.batches = 10;
    assert_int_equal(afd_sim_run(&c, &r, err), AFD_OK);
    assert_close(123.0, r.mean_step_ms, 1e-12, 1e-12);
    assert_close(2.0 / (2.0 * 123.0), r.throughput_per_device, 0, 1e-12);
    assert_close(23.0, r.mean_load, 0, 1e-12);
    assert_true(r.bound_share[AFD_SIM_ATTENTION] == 1.0);
    assert_close(0.0, r.eta[AFD_SIM_ATTENTION], 1e-12, 0);
    /* FFN time 0.001*2 + 2 = 2.002 ms of 123 */
    assert_close(1.0 - 2.002 / 123.0, r.eta[AFD_SIM_FFN], 1e-12, 0);
    assert_close(0.0, r.ci95, 1e-9, 0);
    assert_true(r.finished == 2 * 4000 / 4);
    afd_gen_release(&g);
}

/* ensure afd_sim_run reports FFN-bound steps and idle Attention when the
 * FFN line dominates at every step */
static void test_afd_sim_run_ffn_bound_idle_ratios(void **state)
{
    struct afd_profile p = *paper();
    struct afd_sim_config c;
    struct afd_sim_result r;
    struct afd_gen g;
    char err[AFD_ERR_LEN];

    (void)state;
    p.bF = 1000.0; /* far above any Attention time here */
    assert_int_equal(afd_gen_parse("fixed:prompt=10,decode=4", &g, err),
                     AFD_OK);
    afd_sim_config_init(&c, &p, &g);
    c.attention = 3;
    c.batch = 2;
    c.steps = 400;
    c.warmup = 0;
    assert_int_equal(afd_sim_run(&c, &r, err), AFD_OK);
    assert_true(r.bound_share[AFD_SIM_FFN] == 1.0);
    assert_close(0.0, r.eta[AFD_SIM_FFN], 1e-12, 0);
    /* t_F = aF*3*2 + 1000; mean t_A = aA*23 + bA */
    assert_close(1.0 - (p.aA * 23 + p.bA) / (p.aF * 6 + 1000.0),
                 r.eta[AFD_SIM_ATTENTION], 1e-12, 0);
    afd_gen_release(&g);
}

/* ensure afd_sim_t95 gives the two-sided 95% Student t quantiles */
static void test_afd_sim_t95_table_values(void **state)
{
    (void)state;
    assert_close(12.706, afd_sim_t95(1), 1e-3, 0);
    assert_close(2.228, afd_sim_t95(10), 1e-3, 0);
    assert_close(2.0395, afd_sim_t95(31), 2e-4, 0); /* tables: 2.0395 */
    assert_close(1.9840, afd_sim_t95(100), 2e-4, 0);
}

static void expect_config_error(struct afd_sim_config *c, const char *needle)
{
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_sim_config_check(c, err), AFD_EINVAL);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
}

/* ensure afd_sim_config_check names the bad field and its value */
static void test_afd_sim_config_check_bad_fields(void **state)
{
    struct afd_sim_config c;
    struct afd_gen g;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_gen_parse("fixed:prompt=1,decode=1", &g, err), AFD_OK);
    afd_sim_config_init(&c, paper(), &g);
    c.batch = 0;
    expect_config_error(&c, "batch must be >= 1, got 0");
    afd_sim_config_init(&c, paper(), &g);
    c.steps = 5;
    expect_config_error(&c, "steps must be >= 32");
    afd_sim_config_init(&c, paper(), &g);
    c.noise_cv = -0.5;
    expect_config_error(&c, "noise cv must be in [0, 10], got -0.5");
    afd_sim_config_init(&c, paper(), &g);
    c.attention = 100000;
    c.batch = 1024;
    expect_config_error(&c, "attention instances * batch");
    afd_sim_config_init(&c, paper(), &g);
    assert_null(afd_sim_new(&(struct afd_sim_config){0}, err));
    assert_non_null(strstr(err, "needs a profile"));
    afd_gen_release(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_sim_step_loads_match_naive_short),
        cmocka_unit_test(test_afd_sim_step_loads_match_naive_long),
        cmocka_unit_test(test_afd_sim_run_deterministic_under_seed),
        cmocka_unit_test(test_afd_sim_new_common_random_numbers),
        cmocka_unit_test(test_afd_sim_run_fixed_hand_checked),
        cmocka_unit_test(test_afd_sim_run_ffn_bound_idle_ratios),
        cmocka_unit_test(test_afd_sim_t95_table_values),
        cmocka_unit_test(test_afd_sim_config_check_bad_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
