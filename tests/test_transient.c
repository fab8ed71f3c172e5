/*
 * test_transient.c - the new workload's theta from time at risk
 * (estimator/transient.h): hand-worked counts, and a fixed-seed renewal
 * simulation of an abrupt shift in which the forecast must be close to the
 * new phase's theta within a few seconds while the live mean is not.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdlib.h>

#include "estimator/transient.h"

/* ensure the exposure, lifetime and geometric theta on a hand-worked case:
 * start at 1000 ms, step 10 ms */
static void test_hand_worked(void **state)
{
    struct afd_transient t;
    struct afd_transient_forecast f;
    int i;

    (void)state;
    afd_transient_start(&t, 1000);
    /* Before start and bad input: ignored. */
    afd_transient_request(&t, 900, 100, 5, 10);
    afd_transient_request(&t, 2000, NAN, 5, 10);
    afd_transient_request(&t, 2000, 100, 0.5, 10);
    assert_true(t.admitted == 0);
    /* An old request finishing at 1500 ms after 300 steps: admitted at
     * -1500 ms, before start; it admits one new request at 1500. */
    afd_transient_request(&t, 1500, 2000, 300, 10);
    assert_true(t.admitted == 1 && t.finished == 0);
    /* 30 new ones finish at 2000 ms after 20 steps (admitted at 1800). */
    for (i = 0; i < 30; i++)
        afd_transient_request(&t, 2000, i % 2 ? 100 : 300, 20, 10);
    assert_true(t.admitted == 31 && t.finished == 30);
    assert_false(afd_transient_forecast(&t, 2000, 0, &f));
    assert_true(afd_transient_forecast(&t, 3000, 10, &f));
    /* Exposure at 3000: running (31*2000 - (500 + 30*1000)) minus
     * finished (30*2000 - 30*1000) = 31500 - 30000 = 1500 ms... */
    assert_close(1500.0 / 30, f.life_ms, 0, 1e-12);
    /* ... so E[D] = 50 ms / 10 ms = 5 steps, E[P] = 200, Var(P) = 10000. */
    assert_close(5, f.mean_decode, 0, 1e-12);
    assert_close(200 + 4, f.theta, 0, 1e-12);
    assert_close(sqrt(10000 + 5 * 4), f.sigma, 0, 1e-12);
    assert_true(f.finished == 30);
    afd_transient_stop(&t);
    assert_false(afd_transient_forecast(&t, 3000, 10, &f));
}

/* ensure no forecast before AFD_TRANSIENT_MIN_FINISHED new requests */
static void test_needs_enough_requests(void **state)
{
    struct afd_transient t;
    struct afd_transient_forecast f;
    int i;

    (void)state;
    afd_transient_start(&t, 0);
    /* Old requests finish at 500 ms, each admitting a new one that
     * finishes at 1000 ms after 50 steps. */
    for (i = 0; i < AFD_TRANSIENT_MIN_FINISHED; i++)
        afd_transient_request(&t, 500, 100, 1000, 10);
    for (i = 0; i < AFD_TRANSIENT_MIN_FINISHED - 1; i++)
        afd_transient_request(&t, 1000, 100, 50, 10);
    assert_false(afd_transient_forecast(&t, 2000, 10, &f));
    afd_transient_request(&t, 1000, 100, 50, 10);
    assert_true(afd_transient_forecast(&t, 2000, 10, &f));
    /* Running since 500 or 1000 ms: (30*1500 + 30*1000) - 30*1000. */
    assert_close(45000.0 / 30, f.life_ms, 0, 1e-12);
}

static uint64_t rng = 7;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static int geometric(double mean)
{
    return 1 + (int)floor(log(uniform()) / log(1 - 1 / mean));
}

/*
 * ensure that 200 steps (2 s) after a shift from (P 1500, D ~ Geo(300)) to
 * (P 100, D ~ Geo(500)), theta 599, the forecast is within 10% while the
 * live mean per slot is still 1.5 times theta or more: 4096 slots, 10 ms
 * steps, every finish reported at its step
 */
static void test_renewal_shift(void **state)
{
    enum { SLOTS = 4096, STEP_MS = 10 };
    int *left = malloc(SLOTS * sizeof(int));
    int *age = malloc(SLOTS * sizeof(int));
    double *prompt = malloc(SLOTS * sizeof(double));
    struct afd_transient t;
    struct afd_transient_forecast f;
    double live = 0;
    int i, n;

    (void)state;
    assert_non_null(left);
    assert_non_null(age);
    assert_non_null(prompt);
    for (i = 0; i < SLOTS; i++) { /* old phase, stationary ages */
        prompt[i] = 1500;
        age[i] = geometric(300) - 1;
        left[i] = geometric(300);
    }
    afd_transient_start(&t, 0);
    for (n = 1; n <= 200; n++)
        for (i = 0; i < SLOTS; i++) {
            age[i]++;
            if (--left[i] > 0)
                continue;
            afd_transient_request(&t, (int64_t)n * STEP_MS, prompt[i], age[i],
                                  STEP_MS);
            prompt[i] = 100;
            age[i] = 0;
            left[i] = geometric(500);
        }
    for (i = 0; i < SLOTS; i++)
        live += (prompt[i] + age[i]) / SLOTS;
    assert_true(afd_transient_forecast(&t, 200 * STEP_MS, STEP_MS, &f));
    assert_close(599, f.theta, 0, 0.1);
    assert_true(live > 1.5 * 599);
    free(left);
    free(age);
    free(prompt);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_needs_enough_requests),
        cmocka_unit_test(test_renewal_shift),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
