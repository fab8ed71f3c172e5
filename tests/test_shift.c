/*
 * test_shift.c - workload-shift detection from step samples (shift.h).
 *
 * Streams are synthetic, fixed seed: a decode step every 40 ms, a token
 * load of 40000 per instance with 5% Gaussian noise, stage times with 3%.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/shift.h"

#define STEP_S 0.04

static uint64_t rng_state;

/* splitmix64: fixed-seed, platform-independent. */
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

/*
 * Load 40000 -> `after` at t = 120 s, FFN stage time 12 ms -> 12 * after /
 * 40000. Returns the detection time (s) or -1; *count gets all detections,
 * fired[] each channel's.
 */
static double run_shift(double after, uint64_t seed, uint64_t *count,
                        uint64_t fired[2])
{
    struct afd_shift s;
    char err[AFD_ERR_LEN] = "";
    double t, first = -1;
    int k;

    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    rng_state = seed;
    for (k = 0; k < 6000; k++) { /* 240 s */
        double load;

        t = k * STEP_S;
        load = t < 120 ? 40000 : after;
        assert_true(afd_shift_add(&s, 0, t, load * (1 + 0.05 * rng_normal()),
                                  err) >= 0);
        if (afd_shift_add(&s, 1, t,
                          12.0 * load / 40000 * (1 + 0.03 * rng_normal()),
                          err) == 1 &&
            first < 0)
            first = t;
        if (s.shifts && first < 0)
            first = s.last_t;
    }
    *count = s.shifts;
    fired[0] = s.fired[0];
    fired[1] = s.fired[1];
    return first;
}

/*
 * A 2x, a 0.5x and a +25% step: detected within 2 s, exactly once per
 * channel (each channel re-learns only after its own detection).
 */
static void test_afd_shift_detects_abrupt_shift(void **state)
{
    static const double after[3] = {80000, 20000, 50000};
    uint64_t seed, n, fired[2];
    int i;

    (void)state;
    for (i = 0; i < 3; i++)
        for (seed = 1; seed <= 5; seed++) {
            double t = run_shift(after[i], seed, &n, fired);

            if (!(t >= 120 && t < 122))
                fail_msg("shift to %g, seed %llu: detected at %g s", after[i],
                         (unsigned long long)seed, t);
            assert_int_equal(fired[0], 1);
            assert_int_equal(fired[1], 1);
            assert_int_equal(n, 2);
        }
}

/* No shift: 24 simulated hours of a stationary noisy stream, no alarm. */
static void test_afd_shift_quiet_on_stationary_noise(void **state)
{
    struct afd_shift s;
    char err[AFD_ERR_LEN] = "";
    long k;

    (void)state;
    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    rng_state = 42;
    for (k = 0; k < 24L * 3600 * 25; k++)
        assert_int_equal(afd_shift_add(&s, 0, k * STEP_S,
                                       40000 * (1 + 0.05 * rng_normal()), err),
                         0);
    assert_int_equal(s.shifts, 0);
    assert_true(s.last_t == -1);
}

/* A slow 20% drift over 20 minutes moves the baseline, no alarm. */
static void test_afd_shift_follows_slow_drift(void **state)
{
    struct afd_shift s;
    char err[AFD_ERR_LEN] = "";
    long k, n = 20L * 60 * 25;

    (void)state;
    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    rng_state = 9;
    for (k = 0; k < n; k++) {
        double mean = 40000 * (1 + 0.2 * (double)k / n);

        assert_int_equal(afd_shift_add(&s, 0, k * STEP_S,
                                       mean * (1 + 0.05 * rng_normal()), err),
                         0);
    }
    assert_true(fabs(s.ch[0].mean - 48000) < 0.02 * 48000);
}

/*
 * A fleet of n instances, each sending its token load every step at one
 * instant: instance j carries a fixed offset (5% spread) and 1% noise. At
 * t = 120 s the new phase's requests replace the old ones as they finish:
 * the level falls from 40000 toward 13000 with a 5 s time constant (a
 * ramp, not a step). Returns the first detection time, -1 for none, with
 * its direction in *dir; total detections in *count.
 */
static double run_fleet(int n, double shift_at, uint64_t *count, int *dir)
{
    static double offset[200];
    struct afd_shift s;
    char err[AFD_ERR_LEN] = "";
    double first = -1;
    long k;
    int j;

    assert_true(n >= 1 && n <= 200);
    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    rng_state = 77;
    for (j = 0; j < n; j++)
        offset[j] = 1 + 0.05 * rng_normal();
    for (k = 0; k < 6000; k++) { /* 240 s */
        double t = k * STEP_S, level = 40000;

        if (shift_at >= 0 && t >= shift_at)
            level = 13000 + 27000 * exp(-(t - shift_at) / 5);
        for (j = 0; j < n; j++) {
            int r = afd_shift_add(
                &s, 0, t, level * offset[j] * (1 + 0.01 * rng_normal()), err);

            assert_true(r >= 0);
            if (r == 1 && first < 0) {
                first = t;
                *dir = s.last_direction;
            }
        }
    }
    *count = s.shifts;
    return first;
}

/*
 * The baseline's time constant is in seconds, not samples: the ramp is
 * seen within 3 s from one instance and from 200 (a per-sample weight
 * would learn 200 times as fast from the fleet and follow the ramp), and
 * 200 instances' spread alone raises no alarm.
 */
static void test_afd_shift_fleet_size_independent(void **state)
{
    static const int sizes[2] = {1, 200};
    uint64_t n;
    int i, dir = 0;

    (void)state;
    for (i = 0; i < 2; i++) {
        double t = run_fleet(sizes[i], 120, &n, &dir);

        if (!(t >= 120 && t < 123))
            fail_msg("%d instances: ramp detected at %g s", sizes[i], t);
        assert_int_equal(dir, -1);
    }
    assert_true(run_fleet(200, -1, &n, &dir) < 0);
    assert_int_equal(n, 0);
}

/*
 * A channel that fires all the time (a stage time jumping 2x every 1 s)
 * leaves the others alone: the load's ramp at 120 s (run_fleet's, one
 * instance) is still seen within 3 s, where a reset of every channel at
 * each of its detections would keep the load's baseline restarting.
 */
static void test_afd_shift_noisy_channel_does_not_blind_others(void **state)
{
    struct afd_shift s;
    char err[AFD_ERR_LEN] = "";
    double first = -1;
    int k;

    (void)state;
    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    rng_state = 5;
    for (k = 0; k < 6000; k++) {
        double t = k * STEP_S, level = 40000;

        if (t >= 120)
            level = 13000 + 27000 * exp(-(t - 120) / 5);
        if (afd_shift_add(&s, 0, t, level * (1 + 0.01 * rng_normal()), err) ==
                1 &&
            first < 0)
            first = t;
        assert_true(afd_shift_add(&s, 1, t, (k / 25) % 2 ? 24.0 : 12.0, err) >=
                    0);
    }
    assert_true(s.fired[1] > 100);
    if (!(first >= 120 && first < 123))
        fail_msg("load ramp detected at %g s", first);
    assert_true(s.fired_t[0] >= first);
}

/* The report names the channel, direction and levels; bad input refused. */
static void test_afd_shift_report_and_errors(void **state)
{
    struct afd_shift s;
    struct afd_shift_config cfg;
    char err[AFD_ERR_LEN] = "";
    int k;

    (void)state;
    assert_int_equal(afd_shift_init(&s, NULL, err), AFD_OK);
    for (k = 0; k < 30; k++)
        assert_int_equal(afd_shift_add(&s, 2, k * STEP_S, 10.0 + (k % 2), err),
                         0);
    /* Baseline 10.5, sd 0.5 -> scale 0.525; 20 is z = 18: 17 > h = 12. */
    assert_int_equal(afd_shift_add(&s, 2, 30 * STEP_S, 20.0, err), 1);
    assert_int_equal(s.last_channel, 2);
    assert_int_equal(s.last_direction, 1);
    assert_true(s.last_t == 30 * STEP_S);
    assert_true(s.last_value == 20.0);
    assert_true(fabs(s.last_baseline - 10.5) < 0.05);
    assert_int_equal(s.ch[2].n, 1); /* re-learning from the new level */
    assert_int_equal(afd_shift_add(&s, AFD_SHIFT_CHANNELS, 0, 1, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "channel"));
    assert_int_equal(afd_shift_add(&s, 0, 0, NAN, err), AFD_EINVAL);
    afd_shift_config_default(&cfg);
    cfg.warmup = 1;
    assert_int_equal(afd_shift_init(&s, &cfg, err), AFD_EINVAL);
    assert_non_null(strstr(err, "warmup"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_shift_detects_abrupt_shift),
        cmocka_unit_test(test_afd_shift_quiet_on_stationary_noise),
        cmocka_unit_test(test_afd_shift_follows_slow_drift),
        cmocka_unit_test(test_afd_shift_fleet_size_independent),
        cmocka_unit_test(test_afd_shift_noisy_channel_does_not_blind_others),
        cmocka_unit_test(test_afd_shift_report_and_errors),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
