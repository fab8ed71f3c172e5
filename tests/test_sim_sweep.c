/*
 * test_sim_sweep.c - sweeps of the simulator (integration/sim/sweep.h): the
 * paper's acceptance point (B = 256, prompt 100, geometric decode 500,
 * paper-v1-fit: simulation optimum at x = 10 with both neighbours outside
 * its 95% interval), theta/sigma of the drawn requests against the closed
 * form, identical output for any thread count, regrets, and range errors.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "integration/sim/sweep.h"

/* The plain build runs the acceptance sweep at the afd-sim default length;
 * the sanitizer build (about 10x slower) at a fifth of it, which still
 * separates the neighbours (measured: CI half-widths 0.2-0.5%). */
#if defined(__SANITIZE_ADDRESS__)
#define ACCEPT_STEPS 200000
#else
#define ACCEPT_STEPS 1000000
#endif

static void paper_sweep(struct afd_sweep_config *c, struct afd_gen *g)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");
    char err[AFD_ERR_LEN];

    assert_non_null(p);
    assert_int_equal(afd_gen_parse("geometric:prompt=100,decode=500", g, err),
                     AFD_OK);
    afd_sweep_config_init(c, p, g);
    c->sim.batch = 256;
    c->sim.ffn = 1;
    c->sim.seed = 1;
    c->sim.warmup = 20000;
    c->lo = 4;
    c->hi = 16;
    c->jobs = 2;
}

/* ensure afd_sweep_run finds the paper's simulation optimum x = 10 for
 * B = 256, geometric (100, 500), with 9 and 11 separated from it */
static void test_afd_sweep_run_paper_optimum_at_10(void **state)
{
    struct afd_sweep_config c;
    struct afd_sweep_result r;
    struct afd_gen g;
    char err[AFD_ERR_LEN];
    long i9, i10, i11;

    (void)state;
    paper_sweep(&c, &g);
    c.sim.steps = ACCEPT_STEPS;
    assert_int_equal(afd_sweep_run(&c, &r, err), AFD_OK);
    assert_int_equal(r.best_x, 10);
    i9 = afd_sweep_find(&r, 9);
    i10 = afd_sweep_find(&r, 10);
    i11 = afd_sweep_find(&r, 11);
    assert_true(i9 >= 0 && i10 >= 0 && i11 >= 0);
    assert_false(r.points[i9].tied);
    assert_false(r.points[i11].tied);
    assert_true(r.points[i9].sim.throughput_per_device + r.points[i9].sim.ci95 <
                r.points[i10].sim.throughput_per_device -
                    r.points[i10].sim.ci95);
    /* the barrier-aware pick is the optimum (model.md section 5) */
    assert_true(r.solution.has_barrier);
    assert_int_equal(r.solution.attention_instances_barrier, 10);
    assert_close(0.0, r.regret_barrier, 1e-15, 0);
    afd_gen_release(&g);
    afd_sweep_release(&r);
}

/* ensure afd_sweep_run's theta/sigma of the drawn requests match the
 * geometric closed form theta = 100 + 499, sigma = sqrt(499*500), and that
 * only the largest x of the pass collected them */
static void test_afd_sweep_run_drawn_theta_matches_closed_form(void **state)
{
    struct afd_sweep_config c;
    struct afd_sweep_result r;
    struct afd_gen g;
    char err[AFD_ERR_LEN];

    (void)state;
    paper_sweep(&c, &g);
    c.sim.steps = 100000;
    c.lo = 8;
    c.hi = 10;
    assert_int_equal(afd_sweep_run(&c, &r, err), AFD_OK);
    /* the x = 10 run draws ~512k requests; theta's sampling sd is then
     * about sqrt(Var(D^2/2)/n)/E[D] = 1.6 tokens: 5 sd tolerance */
    assert_true(r.drawn.requests > 400000);
    assert_true(r.drawn.requests ==
                r.points[afd_sweep_find(&r, 10)].sim.finished);
    assert_close(599.0, r.drawn.theta, 8.0, 0);
    assert_close(sqrt(499.0 * 500.0), r.drawn.sigma, 10.0, 0);
    afd_gen_release(&g);
    afd_sweep_release(&r);
}

/* ensure afd_sweep_run's output does not depend on the thread count, and
 * that out-of-range theory picks are simulated as extra points */
static void test_afd_sweep_run_jobs_and_extras(void **state)
{
    struct afd_sweep_config c;
    struct afd_sweep_result a, b;
    struct afd_gen g;
    char err[AFD_ERR_LEN];
    size_t i;

    (void)state;
    paper_sweep(&c, &g);
    c.sim.steps = 3200;
    c.sim.warmup = 100;
    c.sim.batch = 16;
    c.lo = 1;
    c.hi = 3;
    c.jobs = 1;
    assert_int_equal(afd_sweep_run(&c, &a, err), AFD_OK);
    c.jobs = 3;
    assert_int_equal(afd_sweep_run(&c, &b, err), AFD_OK);
    assert_int_equal(a.n, b.n);
    for (i = 0; i < a.n; i++)
        assert_memory_equal(&a.points[i].sim, &b.points[i].sim,
                            sizeof(a.points[i].sim));
    /* B = 16 puts both theory picks far above x = 3 */
    assert_true(a.n > 3);
    assert_true(a.points[a.n - 1].extra);
    assert_true(afd_sweep_find(&a, a.solution.attention_instances) >= 0);
    assert_false(isnan(a.regret_mean_field));
    assert_true(a.regret_mean_field >= 0);
    afd_gen_release(&g);
    afd_sweep_release(&a);
    afd_sweep_release(&b);
}

/* ensure afd_sweep_run rejects an empty or reversed range with a message */
static void test_afd_sweep_run_bad_range(void **state)
{
    struct afd_sweep_config c;
    struct afd_sweep_result r;
    struct afd_gen g;
    char err[AFD_ERR_LEN] = "";

    (void)state;
    paper_sweep(&c, &g);
    c.lo = 9;
    c.hi = 3;
    assert_int_equal(afd_sweep_run(&c, &r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "1 <= lo <= hi, got 9:3"));
    c.lo = 0;
    assert_int_equal(afd_sweep_run(&c, &r, err), AFD_EINVAL);
    afd_gen_release(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_sweep_run_paper_optimum_at_10),
        cmocka_unit_test(test_afd_sweep_run_drawn_theta_matches_closed_form),
        cmocka_unit_test(test_afd_sweep_run_jobs_and_extras),
        cmocka_unit_test(test_afd_sweep_run_bad_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
