/*
 * test_load_tracker.c - theta from live loads (estimator/load_tracker.h):
 * the exponential filter and the restart on a jump, against values worked
 * out by hand.
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
    assert_true(afd_load_tracker_update(&t, 0, 600) == 600);
    assert_true(t.valid);
    /* 660 is within 20% of 600: one tau later the estimate moved 1 - 1/e. */
    v = afd_load_tracker_update(&t, 3000, 660);
    assert_close(600 + 60 * (1 - exp(-1)), v, 0, 1e-12);
    /* Same timestamp: no time passed, nothing moves. */
    assert_close(v, afd_load_tracker_update(&t, 3000, 700), 0, 1e-12);
    assert_true(t.shifts == 0 && t.shift_ms == -1);
}

/* ensure a jump of more than shift_frac restarts at the live value and is
 * counted, and exactly 20% does not */
static void test_jump_restarts(void **state)
{
    struct afd_load_tracker t;

    (void)state;
    start(&t);
    afd_load_tracker_update(&t, 0, 1000);
    /* |800 - 1000| = 200 = 0.2 * 1000: not a jump, filtered (dt = 0). */
    assert_true(afd_load_tracker_update(&t, 0, 800) == 1000);
    assert_true(afd_load_tracker_update(&t, 100, 700) == 700);
    assert_true(t.shifts == 1 && t.shift_ms == 100);
}

/* ensure unusable samples change nothing */
static void test_bad_samples_ignored(void **state)
{
    struct afd_load_tracker t;

    (void)state;
    start(&t);
    assert_true(afd_load_tracker_update(&t, 0, NAN) == 0);
    assert_true(afd_load_tracker_update(&t, 0, -1) == 0);
    assert_false(t.valid);
    afd_load_tracker_update(&t, 0, 600);
    assert_true(afd_load_tracker_update(&t, 500, INFINITY) == 600);
    assert_true(t.last_ms == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_first_sample_then_filter),
        cmocka_unit_test(test_jump_restarts),
        cmocka_unit_test(test_bad_samples_ignored),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
