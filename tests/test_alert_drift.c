/*
 * test_alert_drift.c - the profile-drift alert (controller/alert.h,
 * AfdProfileDrift) on an injected clock: hand-made stage inputs with times
 * worked out from the transitions, and the real calibrator
 * (estimator/calib.h) fed seeded noisy stage times.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "controller/alert.h"
#include "estimator/base/error.h"
#include "estimator/calib.h"
#include "estimator/profile.h"

#define DRIFT AFD_ALERT_PROFILE_DRIFT
#define ATT   AFD_REGIME_ATTENTION

static int teardown(void **state)
{
    afd_alert_free(*state);
    return 0;
}

static struct afd_alerts *make(void **state, int64_t debounce, int64_t resolve,
                               int64_t warmup)
{
    struct afd_alert_config c;
    char err[AFD_ERR_LEN] = "";
    struct afd_alerts *a;

    afd_alert_config_init(&c);
    c.debounce_ms = debounce;
    c.resolve_ms = resolve;
    c.warmup_ms = warmup;
    a = afd_alert_new("llama-70b", &c, err);
    if (!a)
        fail_msg("afd_alert_new failed: %s", err);
    *state = a;
    return a;
}

/* A balanced deployment (ratio = r* inside its band) whose attention
 * stage is modelled as ms = a*load + b and measured at measured_ms. */
static struct afd_alert_input input(double load, double measured_ms, double a,
                                    double b)
{
    struct afd_alert_input in;
    struct afd_alert_stage *s = &in.stage[ATT];

    memset(&in, 0, sizeof(in));
    in.sizing = ATT;
    in.predicted = ATT;
    in.ratio = in.r_star = 8;
    in.band_lo = 6;
    in.band_hi = 10;
    s->valid = true;
    s->load = load;
    s->measured_ms = measured_ms;
    s->measured_hw_ms = 0.1;
    s->a = a;
    s->b = b;
    return in;
}

static size_t eval(struct afd_alerts *a, const struct afd_alert_input *in,
                   int64_t now, struct afd_alert_events *ev)
{
    char err[AFD_ERR_LEN] = "";

    if (afd_alert_eval(a, in, now, ev, err) != AFD_OK)
        fail_msg("eval at %lld failed: %s", (long long)now, err);
    return ev->n;
}

/* Evaluates in every `every` ms over [from, to): no events. */
static void quiet(struct afd_alerts *a, const struct afd_alert_input *in,
                  int64_t from, int64_t to, int64_t every)
{
    struct afd_alert_events ev;
    int64_t t;

    for (t = from; t < to; t += every)
        if (eval(a, in, t, &ev))
            fail_msg("unexpected %s at %lld", ev.ev[0].alertname, (long long)t);
}

/* ensure a 1.3x stage raises exactly after the debounce with its numbers
 * and resolves resolve_ms after the calibration caught up */
static void test_drift_raises_then_resolves_on_catch_up(void **state)
{
    struct afd_alerts *a = make(state, 60000, 300000, 0);
    struct afd_alert_input ok = input(1000, 10, 0, 10);
    struct afd_alert_input slow = input(1000, 13, 0, 10);
    struct afd_alert_input fitted = input(1000, 13, 0, 13);
    struct afd_alert_events ev;
    struct afd_alert_status st;
    const struct afd_alert_event *e;

    quiet(a, &ok, 0, 10000, 1000);
    quiet(a, &slow, 10000, 70000, 1000); /* pending since 10 s */
    afd_alert_status(a, &st);
    assert_int_equal(st.kind[DRIFT].state, AFD_ALERT_PENDING);
    assert_true(st.kind[DRIFT].pending_since == 10000);
    assert_int_equal(eval(a, &slow, 70000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->kind, DRIFT);
    assert_string_equal(e->alertname, "AfdProfileDrift");
    assert_string_equal(afd_alert_severity(DRIFT), "warning");
    assert_int_equal(e->action, AFD_ALERT_RAISED);
    assert_int_equal(e->regime, ATT);
    assert_true(e->start_ms == 10000);
    assert_true(fabs(e->drift_factor - 1.3) < 1e-12);
    assert_true(e->measured_ms == 13 && e->model_ms == 10);
    assert_true(fabs(e->model_hw_ms - 0.1) < 1e-12); /* var 0: noise only */
    assert_true(e->stage_load == 1000);
    assert_true(e->loss == 0 && e->lost_tokens_per_s == 0);
    assert_non_null(strstr(e->explanation, "1.30x"));
    /* The calibration still says 10 ms: firing, nothing new. */
    quiet(a, &slow, 71000, 100000, 1000);
    /* Caught up at 100 s: clear from there, resolved 300 s later. */
    quiet(a, &fitted, 100000, 400000, 1000);
    assert_int_equal(eval(a, &fitted, 400000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_true(ev.ev[0].end_ms == 400000 && ev.ev[0].start_ms == 10000);
    quiet(a, &fitted, 401000, 500000, 1000);
}

/* ensure a drift that ends resolves; one shorter than the debounce and a
 * change below the 10% threshold raise nothing */
static void test_drift_ends_and_short_or_small_ones_are_silent(void **state)
{
    struct afd_alerts *a = make(state, 60000, 300000, 0);
    struct afd_alert_input ok = input(1000, 10, 0, 10);
    struct afd_alert_input slow = input(1000, 13, 0, 10);
    struct afd_alert_input small = input(1000, 10.9, 0, 10);
    struct afd_alert_events ev;
    struct afd_alert_status st;

    quiet(a, &ok, 0, 10000, 1000);
    quiet(a, &slow, 10000, 69000, 1000); /* 59 s: one short */
    quiet(a, &ok, 69000, 200000, 1000);
    quiet(a, &small, 200000, 900000, 1000); /* 9%: significant, small */
    afd_alert_status(a, &st);
    assert_true(st.kind[DRIFT].counters.flaps == 1);
    assert_true(st.kind[DRIFT].counters.raised == 0);
    /* A real one, then the stage goes back before any re-fit. */
    quiet(a, &slow, 900000, 960000, 1000);
    assert_int_equal(eval(a, &slow, 960000, &ev), 1);
    quiet(a, &ok, 961000, 1261000, 1000);
    assert_int_equal(eval(a, &ok, 1261000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_non_null(strstr(ev.ev[0].explanation, "agrees"));
}

/* ensure a load move (workload or batch change) re-learns silently even
 * when the model's extrapolation is 24% off, and compares again once the
 * calibration explains the new load */
static void test_drift_load_move_settles_silently(void **state)
{
    struct afd_alerts *a = make(state, 10000, 30000, 0);
    struct afd_alert_input at1 = input(1000, 10, 0.001, 9);
    struct afd_alert_input far = input(1500, 13, 0.001, 9); /* model 10.5 */
    struct afd_alert_input refit = input(1500, 13, 0.001, 11.5);
    struct afd_alert_input slow = input(1500, 16, 0.001, 11.5);
    struct afd_alert_events ev;

    quiet(a, &at1, 0, 10000, 1000);
    quiet(a, &far, 10000, 100000, 1000);
    quiet(a, &refit, 100000, 200000, 1000);
    /* Settled at 1500 tokens: a real change there raises again. */
    quiet(a, &slow, 200000, 210000, 1000);
    assert_int_equal(eval(a, &slow, 210000, &ev), 1);
    assert_true(fabs(ev.ev[0].drift_factor - 16.0 / 13.0) < 1e-12);
}

/* ensure the warm-up only learns: a drift inside it is the reference */
static void test_drift_warmup_is_silent(void **state)
{
    struct afd_alerts *a = make(state, 10000, 30000, 60000);
    struct afd_alert_input ok = input(1000, 10, 0, 10);
    struct afd_alert_input slow = input(1000, 13, 0, 10);
    struct afd_alert_input fitted = input(1000, 13, 0, 13);

    quiet(a, &ok, 0, 20000, 1000);
    quiet(a, &slow, 20000, 59000, 1000);
    quiet(a, &fitted, 59000, 300000, 1000);
}

/* ensure bad stage values are rejected and change nothing */
static void test_drift_rejects_bad_stage(void **state)
{
    struct afd_alerts *a = make(state, 10000, 30000, 0);
    struct afd_alert_input in = input(1000, NAN, 0, 10);
    struct afd_alert_events ev;
    struct afd_alert_status st;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_alert_eval(a, &in, 0, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "attention"));
    in = input(-1, 10, 0, 10);
    assert_int_equal(afd_alert_eval(a, &in, 0, &ev, err), AFD_EINVAL);
    in.stage[ATT].valid = false; /* skipped: not checked */
    assert_int_equal(afd_alert_eval(a, &in, 0, &ev, err), AFD_OK);
    afd_alert_status(a, &st);
    assert_true(st.invalid_inputs == 2);
}

/* ensure afd_calib_fits' recent means are the EWMA of weight 1/64 */
static void test_calib_fit_recent_means_exact(void **state)
{
    struct afd_profile p;
    struct afd_calib *c;
    struct afd_calib_fit fits[3], f;
    struct afd_alert_stage s;

    (void)state;
    afd_test_paper_profile(&p);
    c = afd_calib_new(&p, NULL, NULL);
    assert_non_null(c);
    afd_calib_fits(c, fits);
    f = fits[ATT];
    assert_true(f.recent_n == 0 && f.sigma_ms == -1);
    assert_int_equal(afd_calib_add_attention(c, 100, 5, NULL), AFD_OK);
    assert_int_equal(afd_calib_add_attention(c, 200, 10, NULL), AFD_OK);
    afd_calib_fits(c, fits);
    f = fits[ATT];
    assert_true(f.recent_n == 2);
    assert_true(f.recent_load == 101.5625); /* 100 + 100/64 */
    assert_true(f.recent_ms == 5.078125);   /* 5 + 5/64 */
    afd_alert_stage_from_fit(&f, &s);
    assert_false(s.valid); /* fewer than AFD_DRIFT_MIN_SAMPLES */
    afd_calib_free(c);
}

static double normal(void)
{
    double u = afd_test_rng_uniform(1e-12, 1), v = afd_test_rng_uniform(0, 1);

    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/*
 * Feeds `n` attention samples of the paper profile times `factor` (loads
 * around 150k tokens, cv 5%; times with noise cv) and returns the alert
 * input from the calibrator.
 */
static struct afd_alert_input feed(struct afd_calib *c,
                                   const struct afd_profile *p, int n,
                                   double factor, double cv)
{
    struct afd_alert_input in = input(1, 1, 0, 1);
    struct afd_calib_fit f[3];
    int i;

    for (i = 0; i < n; i++) {
        double load = 153600 * (1 + 0.05 * normal());
        double ms = (p->aA * load + p->bA) * factor * (1 + cv * normal());

        assert_int_equal(afd_calib_add_attention(c, load, ms, NULL), AFD_OK);
    }
    afd_calib_fits(c, f);
    afd_alert_stage_from_fit(&f[ATT], &in.stage[ATT]);
    return in;
}

/*
 * ensure, through the real calibrator, a balanced deployment with stage
 * noise cv 10% raises nothing over 10,000 evaluations (10 samples each)
 */
static void test_drift_calibrated_noise_raises_nothing(void **state)
{
    struct afd_alerts *a = make(state, 10000, 30000, 20000);
    struct afd_calib *c;
    struct afd_profile p;
    struct afd_alert_events ev;
    struct afd_alert_status st;
    int i, valid = 0;

    afd_test_paper_profile(&p);
    c = afd_calib_new(&p, NULL, NULL);
    afd_test_rng_seed(7);
    for (i = 0; i < 10000; i++) {
        struct afd_alert_input in = feed(c, &p, 10, 1.0, 0.10);

        valid += in.stage[ATT].valid;
        if (eval(a, &in, (int64_t)i * 1000, &ev))
            fail_msg("%s at evaluation %d", ev.ev[0].alertname, i);
    }
    afd_alert_status(a, &st);
    afd_calib_free(c);
    assert_true(valid >= 9990); /* compared, not skipped */
    assert_true(st.kind[DRIFT].counters.raised == 0);
}

/*
 * ensure, through the real calibrator (30 samples per 1 s evaluation,
 * noise cv 5%), attention 1.3x slower from 600 s raises one drift within
 * the debounce (plus the few seconds the recent mean needs) and resolves
 * after the calibration re-fitted (its forgetting horizon, ~1000 samples)
 */
static void test_drift_calibrated_attention_slowdown(void **state)
{
    struct afd_alerts *a = make(state, 10000, 30000, 20000);
    struct afd_calib *c;
    struct afd_profile p;
    struct afd_alert_events ev;
    int64_t raised = -1, resolved = -1;
    double factor = 0;
    size_t k;
    int i;

    afd_test_paper_profile(&p);
    c = afd_calib_new(&p, NULL, NULL);
    afd_test_rng_seed(3);
    for (i = 0; i < 1200; i++) {
        struct afd_alert_input in = feed(c, &p, 30, i < 600 ? 1.0 : 1.3, 0.05);

        eval(a, &in, (int64_t)i * 1000, &ev);
        for (k = 0; k < ev.n; k++) {
            assert_int_equal(ev.ev[k].kind, DRIFT);
            if (ev.ev[k].action == AFD_ALERT_RAISED) {
                assert_true(raised < 0); /* once */
                raised = (int64_t)i * 1000;
                factor = ev.ev[k].drift_factor;
                assert_int_equal(ev.ev[k].regime, ATT);
            } else {
                assert_true(resolved < 0);
                resolved = (int64_t)i * 1000;
            }
        }
    }
    afd_calib_free(c);
    assert_true(raised >= 610000 && raised <= 613000);
    assert_true(factor > 1.2 && factor < 1.4);
    assert_true(resolved >= raised + 30000 && resolved <= 720000);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, NULL, teardown)
    const struct CMUnitTest tests[] = {
        T(test_drift_raises_then_resolves_on_catch_up),
        T(test_drift_ends_and_short_or_small_ones_are_silent),
        T(test_drift_load_move_settles_silently),
        T(test_drift_warmup_is_silent),
        T(test_drift_rejects_bad_stage),
        cmocka_unit_test(test_calib_fit_recent_means_exact),
        T(test_drift_calibrated_noise_raises_nothing),
        T(test_drift_calibrated_attention_slowdown),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
