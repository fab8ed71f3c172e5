/*
 * test_transient.c - the new workload's theta from time at risk
 * (estimator/transient.h): hand-worked counts in steps, and a fixed-seed
 * renewal simulation of an abrupt shift in which the forecast must be close
 * to the new phase's theta within 200 steps while the live mean is not.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "estimator/transient.h"

/* ensure the exposure, mean decode length and geometric theta on a
 * hand-worked case, in steps: start at step 100 */
static void test_hand_worked(void **state)
{
    struct afd_transient t;
    struct afd_transient_forecast f;
    int i;

    (void)state;
    afd_transient_init(&t);
    afd_transient_start(&t, 100);
    /* Before start and bad input: ignored. */
    afd_transient_request(&t, 90, 90, 100, 5, 1, 1);
    afd_transient_request(&t, 200, 200, NAN, 5, 1, 1);
    afd_transient_request(&t, 200, 200, 100, 0.5, 1, 1);
    afd_transient_request(&t, NAN, NAN, 100, 5, 1, 1);
    assert_true(t.admitted == 0);
    /* An old request finishing at step 150 after 300 steps: admitted at
     * step -150, before start; it admits one new request at 150. */
    afd_transient_request(&t, 150, 150, 2000, 300, 1, 1);
    assert_true(t.admitted == 1 && t.finished == 0);
    /* 30 new ones finish at step 200 after 20 steps (admitted at 180). */
    for (i = 0; i < 30; i++)
        afd_transient_request(&t, 200, 200, i % 2 ? 100 : 300, 20, 1, 1);
    assert_true(t.admitted == 31 && t.finished == 30);
    assert_false(afd_transient_forecast(&t, NAN, &f));
    assert_true(afd_transient_forecast(&t, 300, &f));
    /* Exposure at step 300: running (31*200 - (50 + 30*100)) minus
     * finished (30*200 - 30*100) = 3150 - 3000 = 150 steps, so
     * E[D] = 150 / 30 = 5 steps, E[P] = 200, Var(P) = 10000. */
    assert_close(5, f.mean_decode, 0, 1e-12);
    assert_close(200 + 4, f.theta, 0, 1e-12);
    assert_close(sqrt(10000 + 5 * 4), f.sigma, 0, 1e-12);
    assert_close(1.96 / sqrt(30), f.rel_ci, 0, 1e-12);
    assert_true(f.finished == 30);
    afd_transient_stop(&t);
    assert_false(afd_transient_forecast(&t, 300, &f));
}

/* ensure a request known only to have finished within a window counts
 * with the shares of the window after start and after start + D */
static void test_window_shares(void **state)
{
    struct afd_transient t;

    (void)state;
    afd_transient_init(&t);
    afd_transient_start(&t, 100);
    afd_transient_request(&t, 110, 90, 100, 5, 1, 1); /* from > to: ignored */
    afd_transient_request(&t, 60, 90, 100, 5, 1, 1);  /* all before start */
    assert_true(t.admitted == 0);
    /* [90, 110], D = 5: half the window is after start (admitted 0.5 at
     * mean step 105), a quarter after 105 (finished 0.25 at mean 107.5). */
    afd_transient_request(&t, 90, 110, 200, 5, 1, 1);
    assert_close(0.5, t.admitted, 0, 1e-12);
    assert_close(0.5 * 5, t.sum_admit, 0, 1e-12);
    assert_close(0.25, t.finished, 0, 1e-12);
    assert_close(0.25 * 7.5, t.sum_finish, 0, 1e-12);
    assert_close(0.25 * 200, t.sum_p, 0, 1e-12);
    /* [110, 130], D = 40: admitted whole, at mean step 120; admitted
     * before start (130 - 40 < 100), so no new-phase finish. */
    afd_transient_request(&t, 110, 130, 200, 40, 1, 1);
    assert_close(1.5, t.admitted, 0, 1e-12);
    assert_close(2.5 + 20, t.sum_admit, 0, 1e-12);
    assert_close(0.25, t.finished, 0, 1e-12);
}

/* ensure a finish whose finish - D falls in a closure is not new (it was
 * resumed after waiting), in exact steps and in window shares, that a
 * restart keeps the closures, and that close/reopen out of turn are
 * ignored */
static void test_closures(void **state)
{
    struct afd_transient t;

    (void)state;
    afd_transient_init(&t);
    afd_transient_reopen(&t, 110); /* nothing closed yet: ignored */
    assert_int_equal(t.n_closed, 0);
    afd_transient_close(&t, 120);
    afd_transient_close(&t, 125); /* already closed: ignored */
    afd_transient_reopen(&t, 140);
    afd_transient_reopen(&t, 150); /* already open: ignored */
    assert_int_equal(t.n_closed, 1);
    assert_true(t.closed[0].from == 120 && t.closed[0].to == 140);
    afd_transient_start(&t, 100);
    assert_int_equal(t.n_closed, 1);
    /* Exact: finish - D = 130 lies in [120, 140): admitted, not new;
     * 145 lies after it: new (weight 2). */
    afd_transient_request(&t, 150, 150, 100, 20, 1, 1);
    assert_true(t.admitted == 1 && t.finished == 0);
    afd_transient_request(&t, 150, 150, 100, 5, 2, 2);
    assert_true(t.admitted == 3 && t.finished == 2);
    /* Window [150, 170], D = 20: finish - D in [130, 150]; the part in
     * [130, 140) is closed, [140, 150] (half the window) new, at a mean
     * finish step of 165. */
    afd_transient_request(&t, 150, 170, 100, 20, 1, 1);
    assert_close(4, t.admitted, 0, 1e-12);
    assert_close(2.5, t.finished, 0, 1e-12);
    assert_close(2 * 50 + 0.5 * 65, t.sum_finish, 0, 1e-12);
    /* admits outside [0, weight]: ignored */
    afd_transient_request(&t, 150, 150, 100, 5, 1, 2);
    assert_close(4, t.admitted, 0, 1e-12);
}

/* ensure no forecast before AFD_TRANSIENT_MIN_FINISHED new requests */
static void test_needs_enough_requests(void **state)
{
    struct afd_transient t;
    struct afd_transient_forecast f;
    int i;

    (void)state;
    afd_transient_init(&t);
    afd_transient_start(&t, 0);
    /* Old requests finish at step 50, each admitting a new one that
     * finishes at step 100 after 50 steps. */
    for (i = 0; i < AFD_TRANSIENT_MIN_FINISHED; i++)
        afd_transient_request(&t, 50, 50, 100, 1000, 1, 1);
    for (i = 0; i < AFD_TRANSIENT_MIN_FINISHED - 1; i++)
        afd_transient_request(&t, 100, 100, 100, 50, 1, 1);
    assert_false(afd_transient_forecast(&t, 200, &f));
    afd_transient_request(&t, 100, 100, 100, 50, 1, 1);
    assert_true(afd_transient_forecast(&t, 200, &f));
    /* Running since step 50 or 100: (30*150 + 30*100) - 30*100. */
    assert_close(4500.0 / 30, f.mean_decode, 0, 1e-12);
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
 * A fixed-seed renewal simulation of an abrupt shift from (P 1500,
 * D ~ Geo(300)) to (P 100, D ~ Geo(500)), theta 599, on 4096 slots: the
 * forecast `steps` steps after the shift, started at step `start`, every
 * finish reported with the window of `window` steps it fell in (1: its
 * exact step). With `cut`, the batch is halved at the shift: the upper
 * 2048 slots' requests are handed back and resumed, first in first out,
 * by the next finishes (which then admit nothing); with `grow`, 1024 slots
 * are added at step start + 10 with fresh requests. *live gets the live
 * mean load per slot then.
 */
static double renewal_forecast(int start, int window, int steps, bool cut,
                               bool grow, double *live)
{
    enum { SLOTS = 4096, MORE = 1024 };
    int *left = malloc((SLOTS + MORE) * sizeof(int));
    int *age = malloc((SLOTS + MORE) * sizeof(int));
    double *prompt = malloc((SLOTS + MORE) * sizeof(double));
    struct afd_transient t;
    struct afd_transient_forecast f;
    int i, n, active = SLOTS, queued = 0, next = 0;

    rng = 7;
    assert_non_null(left);
    assert_non_null(age);
    assert_non_null(prompt);
    for (i = 0; i < SLOTS; i++) { /* old phase, stationary ages */
        prompt[i] = 1500;
        age[i] = geometric(300) - 1;
        left[i] = geometric(300);
    }
    afd_transient_init(&t);
    afd_transient_start(&t, start);
    if (cut) { /* slots active..SLOTS-1 wait, in order, to be resumed */
        active = SLOTS / 2;
        queued = SLOTS - active;
        next = active;
        afd_transient_close(&t, 0);
    }
    for (n = 1; n <= steps; n++) {
        if (grow && n == start + 10) {
            for (i = active; i < active + MORE; i++) {
                prompt[i] = 100;
                age[i] = 0;
                left[i] = geometric(500);
            }
            if (queued == 0) /* (with a queue they would resume it) */
                afd_transient_admit(&t, n, MORE);
            active += MORE;
        }
        for (i = 0; i < active; i++) {
            double to = ceil((double)n / window) * window;
            bool resume = queued > 0;

            age[i]++;
            if (--left[i] > 0)
                continue;
            /* the window's requests arrive at its end: none later than n */
            if (to > steps)
                to = steps;
            afd_transient_request(&t, window > 1 ? to - window : n,
                                  window > 1 ? to : n, prompt[i], age[i], 1,
                                  resume ? 0 : 1);
            if (resume) {
                prompt[i] = prompt[next];
                age[i] = age[next];
                left[i] = left[next];
                next++;
                if (--queued == 0)
                    afd_transient_reopen(&t, n);
                continue;
            }
            prompt[i] = 100;
            age[i] = 0;
            left[i] = geometric(500);
        }
    }
    *live = 0;
    for (i = 0; i < active; i++)
        *live += (prompt[i] + age[i]) / active;
    assert_true(afd_transient_forecast(&t, steps, &f));
    free(left);
    free(age);
    free(prompt);
    return f.theta;
}

/* ensure that 200 steps after the shift the forecast is within 10% of the
 * new theta while the live mean per slot is still 1.5 times it or more */
static void test_renewal_shift(void **state)
{
    double live, theta = renewal_forecast(0, 1, 200, false, false, &live);

    (void)state;
    assert_close(599, theta, 0, 0.1);
    assert_true(live > 1.5 * 599);
}

/* ensure the forecast is within 5% of the new theta 224 steps after the
 * shift when finishes are known only to 28-step report windows, for starts
 * anywhere inside a window (a detection is never aligned to one). A start
 * at the shift itself would share old requests finishing in its first
 * window out as new (measured: +12%); the daemon starts at a detection,
 * seconds later, where both sides of start are the new phase. */
static void test_renewal_shift_windows(void **state)
{
    double live;
    int start;

    (void)state;
    for (start = 20; start <= 60; start += 10)
        assert_close(599, renewal_forecast(start, 28, 224, false, false, &live),
                     0, 0.05);
}

/*
 * ensure the forecast 900 steps after the shift is within 5% when the
 * shift comes with a batch cut whose handed-back requests the next
 * finishes resume (the caller says those admitted nothing, and closes
 * admissions until the last is resumed), and within 10% when slots are
 * added during it (the caller adds their admissions; all at one step, so
 * the window shares, which assume finishes spread over a window, count
 * some of their early finishes as old: measured +7%). Counted as plain
 * finishes instead, the two read 1415 and 499 (measured).
 */
static void test_renewal_shift_hand_back(void **state)
{
    double live;

    (void)state;
    assert_close(599, renewal_forecast(30, 28, 900, true, false, &live), 0,
                 0.05);
    assert_close(599, renewal_forecast(30, 28, 900, false, true, &live), 0,
                 0.1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_worked),
        cmocka_unit_test(test_needs_enough_requests),
        cmocka_unit_test(test_window_shares),
        cmocka_unit_test(test_closures),
        cmocka_unit_test(test_renewal_shift),
        cmocka_unit_test(test_renewal_shift_windows),
        cmocka_unit_test(test_renewal_shift_hand_back),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
