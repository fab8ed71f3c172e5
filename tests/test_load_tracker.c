/*
 * test_load_tracker.c - theta from live loads (estimator/load_tracker.h):
 * the exponential filter, its growing time constant, the spread and the
 * restart on a jump, against values worked out by hand.
 */
#include "tests/afd_test.h"

#include <math.h>

#include "estimator/load_tracker.h"

static void start(struct afd_load_tracker *t)
{
    struct afd_load_tracker_config c;

    afd_load_tracker_config_default(&c);
    afd_load_tracker_init(t, &c);
}

/* ensure the defaults are the documented ones */
static void test_defaults(void **state)
{
    struct afd_load_tracker_config c;

    (void)state;
    afd_load_tracker_config_default(&c);
    assert_true(c.tau_ms == 3000 && c.shift_frac == 0.2);
}

/* ensure the first sample is taken as is and later ones are smoothed with
 * weight 1 - exp(-dt / tau) */
static void test_first_sample_then_filter(void **state)
{
    struct afd_load_tracker t;
    double v;

    (void)state;
    start(&t);
    assert_false(t.valid);
    assert_true(afd_load_tracker_update(&t, 0, 600, -1, 0) == 600);
    assert_true(t.valid);
    /* 660 is within 20% of 600: one tau later the estimate moved 1 - 1/e. */
    v = afd_load_tracker_update(&t, 3000, 660, -1, 0);
    assert_close(600 + 60 * (1 - exp(-1)), v, 0, 1e-12);
    /* Same timestamp: no time passed, nothing moves. */
    assert_close(v, afd_load_tracker_update(&t, 3000, 700, -1, 0), 0, 1e-12);
    assert_true(t.shifts == 0 && t.shift_ms == -1);
}

/* ensure a jump of more than shift_frac restarts at the live value and is
 * counted, and exactly 20% does not */
static void test_jump_restarts(void **state)
{
    struct afd_load_tracker t;

    (void)state;
    start(&t);
    afd_load_tracker_update(&t, 0, 1000, -1, 0);
    /* |800 - 1000| = 200 = 0.2 * 1000: not a jump, filtered (dt = 0). */
    assert_true(afd_load_tracker_update(&t, 0, 800, -1, 0) == 1000);
    assert_true(afd_load_tracker_update(&t, 100, 700, -1, 0) == 700);
    assert_true(t.shifts == 1 && t.shift_ms == 100);
}

/* ensure unusable samples change nothing */
static void test_bad_samples_ignored(void **state)
{
    struct afd_load_tracker t;

    (void)state;
    start(&t);
    assert_true(afd_load_tracker_update(&t, 0, NAN, -1, 0) == 0);
    assert_true(afd_load_tracker_update(&t, 0, -1, -1, 0) == 0);
    assert_false(t.valid);
    afd_load_tracker_update(&t, 0, 600, -1, 0);
    assert_true(afd_load_tracker_update(&t, 500, INFINITY, -1, 0) == 600);
    assert_true(t.last_ms == 0);
}

/* ensure the time constant grows with the time since the last restart (half
 * of it) up to the horizon, and starts again from tau after a jump */
static void test_tau_grows_to_horizon(void **state)
{
    struct afd_load_tracker t;
    double v;

    (void)state;
    start(&t);
    afd_load_tracker_update(&t, 0, 600, -1, 30000);
    /* 20 s after the start: tau = 10 s, dt = 20 s, weight 1 - e^-2. */
    v = afd_load_tracker_update(&t, 20000, 660, -1, 30000);
    assert_close(600 + 60 * (1 - exp(-2)), v, 0, 1e-12);
    assert_true(t.tau_now_ms == 10000);
    /* 100 s after the start: 50 s capped at the 30 s horizon. */
    v = afd_load_tracker_update(&t, 100000, 700, -1, 30000);
    assert_true(t.tau_now_ms == 30000);
    /* A jump restarts: 2 s later tau is back to 3 s (1 s grown < 3 s). */
    afd_load_tracker_update(&t, 110000, 1000, -1, 30000);
    assert_true(t.shifts == 1 && t.since_ms == 110000);
    v = afd_load_tracker_update(&t, 112000, 1100, -1, 30000);
    assert_close(1000 + 100 * (1 - exp(-2.0 / 3)), v, 0, 1e-12);
    assert_true(t.tau_now_ms == 3000);
}

/* ensure the spread's variance is filtered with theta's weight, a missing
 * spread changes nothing, and a jump restarts it */
static void test_spread_filtered(void **state)
{
    struct afd_load_tracker t;
    double a = 1 - exp(-1);

    (void)state;
    start(&t);
    assert_true(afd_load_tracker_spread(&t) == -1);
    afd_load_tracker_update(&t, 0, 600, -1, 0);
    assert_true(afd_load_tracker_spread(&t) == -1);
    /* The first spread is taken as is. */
    afd_load_tracker_update(&t, 0, 600, 100, 0);
    assert_true(afd_load_tracker_spread(&t) == 100);
    /* One tau on: var = 100^2 + (1 - 1/e) (200^2 - 100^2). */
    afd_load_tracker_update(&t, 3000, 600, 200, 0);
    assert_close(sqrt(10000 + a * 30000), afd_load_tracker_spread(&t), 0, 1e-9);
    afd_load_tracker_update(&t, 6000, 600, NAN, 0);
    assert_close(sqrt(10000 + a * 30000), afd_load_tracker_spread(&t), 0, 1e-9);
    /* A jump restarts at the live spread. */
    afd_load_tracker_update(&t, 7000, 900, 50, 0);
    assert_true(afd_load_tracker_spread(&t) == 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_first_sample_then_filter),
        cmocka_unit_test(test_jump_restarts),
        cmocka_unit_test(test_bad_samples_ignored),
        cmocka_unit_test(test_tau_grows_to_horizon),
        cmocka_unit_test(test_spread_filtered),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
