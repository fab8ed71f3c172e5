/*
 * test_alert.c - regime alert state machines (controller/alert.h), driven
 * by an injected clock. Debounce 60 s, resolve 300 s unless a test says
 * otherwise; expected times worked out by hand from the transitions.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "controller/alert.h"
#include "estimator/base/error.h"

#define ATT      AFD_REGIME_ATTENTION
#define COMM     AFD_REGIME_COMMUNICATION
#define FFN      AFD_REGIME_FFN
#define CHANGED  AFD_ALERT_REGIME_CHANGED
#define MISMATCH AFD_ALERT_REGIME_MISMATCH

static struct afd_alert_config base_cfg(void)
{
    struct afd_alert_config c;

    c.debounce_ms = 60000;
    c.resolve_ms = 300000;
    c.margin = 0.05;
    return c;
}

static struct afd_alerts *make(void **state, const struct afd_alert_config *c)
{
    char err[AFD_ERR_LEN] = "";
    struct afd_alerts *a = afd_alert_new("llama-70b", c, err);

    if (!a)
        fail_msg("afd_alert_new failed: %s", err);
    *state = a;
    return a;
}

static int setup(void **state)
{
    *state = NULL;
    return 0;
}

static int teardown(void **state)
{
    afd_alert_free(*state);
    return 0;
}

/* Measured times whose largest stage is `obs`, predicted regime `pred`. */
static struct afd_alert_input input(enum afd_regime obs, enum afd_regime pred)
{
    struct afd_alert_input in;

    in.attention_ms = obs == ATT ? 10.0 : 4.0;
    in.comm_ms = obs == COMM ? 10.0 : 2.0;
    in.ffn_ms = obs == FFN ? 10.0 : 6.0;
    in.predicted = pred;
    in.ratio = 8.0;
    return in;
}

static size_t eval(struct afd_alerts *a, enum afd_regime obs,
                   enum afd_regime pred, int64_t now,
                   struct afd_alert_events *ev)
{
    struct afd_alert_input in = input(obs, pred);
    char err[AFD_ERR_LEN] = "";

    if (afd_alert_eval(a, &in, now, ev, err) != AFD_OK)
        fail_msg("eval at %lld failed: %s", (long long)now, err);
    return ev->n;
}

/* Evaluates every `every` ms over [from, to] (both included): no events. */
static void quiet(struct afd_alerts *a, enum afd_regime obs,
                  enum afd_regime pred, int64_t from, int64_t to, int64_t every)
{
    struct afd_alert_events ev;
    int64_t t;

    for (t = from; t <= to; t += every) {
        if (eval(a, obs, pred, t, &ev) != 0)
            fail_msg("unexpected %s at %lld", ev.ev[0].alertname, (long long)t);
    }
    if ((to - from) % every != 0 && eval(a, obs, pred, to, &ev) != 0)
        fail_msg("unexpected %s at %lld", ev.ev[0].alertname, (long long)to);
}

static struct afd_alert_status status(struct afd_alerts *a)
{
    struct afd_alert_status s;

    afd_alert_status(a, &s);
    return s;
}

/* ensure regime_observed picks the largest stage time */
static void test_regime_observed_picks_largest(void **state)
{
    enum afd_regime r;

    assert_int_equal(afd_regime_observed(9.3, 1.0, 5.0, &r, NULL), AFD_OK);
    assert_int_equal(r, ATT);
    assert_int_equal(afd_regime_observed(2.0, 3.5, 3.4, &r, NULL), AFD_OK);
    assert_int_equal(r, COMM);
    assert_int_equal(afd_regime_observed(2.0, 3.5, 12.5, &r, NULL), AFD_OK);
    assert_int_equal(r, FFN);
}

/* ensure exact ties go to attention, then communication, as in solver.h */
static void test_regime_observed_ties(void **state)
{
    enum afd_regime r;

    afd_regime_observed(5.0, 1.0, 5.0, &r, NULL);
    assert_int_equal(r, ATT);
    afd_regime_observed(5.0, 5.0, 5.0, &r, NULL);
    assert_int_equal(r, ATT);
    afd_regime_observed(1.0, 5.0, 5.0, &r, NULL);
    assert_int_equal(r, COMM);
}

/* ensure regime_observed rejects NaN, negative and all-zero times */
static void test_regime_observed_rejects_bad_times(void **state)
{
    enum afd_regime r;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_regime_observed(NAN, 1, 1, &r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "finite and >= 0, got attention nan ms"));
    assert_int_equal(afd_regime_observed(1, -2, 1, &r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "communication -2 ms"));
    assert_int_equal(afd_regime_observed(0, 0, 0, &r, err), AFD_EINVAL);
    assert_string_equal(err, "measured stage times are all 0: no step was "
                             "measured");
}

/* ensure config_check names the bad field and defaults are valid */
static void test_alert_config_check_names_field(void **state)
{
    struct afd_alert_config c;
    char err[AFD_ERR_LEN] = "";

    afd_alert_config_init(&c);
    assert_true(c.debounce_ms == 60000);
    assert_true(c.resolve_ms == 300000);
    assert_true(c.margin == 0.05);
    assert_int_equal(afd_alert_config_check(&c, err), AFD_OK);
    c.margin = 1.5;
    assert_int_equal(afd_alert_config_check(&c, err), AFD_EINVAL);
    assert_string_equal(err, "alert field 'margin' must be in [0, 1], got 1.5");
    c.margin = 0.05;
    c.debounce_ms = -1;
    assert_int_equal(afd_alert_config_check(&c, err), AFD_EINVAL);
    assert_string_equal(err, "alert field 'debounce_ms' must be in "
                             "[0, 604800000] ms, got -1");
    c.debounce_ms = 0;
    c.resolve_ms = 604800001;
    assert_int_equal(afd_alert_config_check(&c, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'resolve_ms'"));
    assert_null(afd_alert_new("x", &c, err));
    assert_non_null(strstr(err, "'resolve_ms'"));
    c.resolve_ms = 0;
    assert_null(afd_alert_new("", &c, err));
    assert_non_null(strstr(err, "deployment name is empty"));
}

/* ensure the first evaluation sets the stable regime without an alert */
static void test_alert_eval_first_sets_baseline(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    assert_int_equal(eval(a, FFN, FFN, 0, &ev), 0);
    s = status(a);
    assert_true(s.has_stable);
    assert_int_equal(s.stable, FFN);
    assert_string_equal(s.kind[CHANGED].state_name, "ok");
    assert_string_equal(s.kind[MISMATCH].state_name, "ok");
}

/* ensure a flap shorter than the debounce raises nothing and is counted */
static void test_alert_eval_flap_raises_nothing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_status s;

    quiet(a, ATT, ATT, 0, 0, 1000);
    quiet(a, FFN, ATT, 1000, 60999, 1000); /* 59999 ms, 1 short */
    s = status(a);
    assert_string_equal(s.kind[CHANGED].state_name, "pending");
    assert_true(s.kind[CHANGED].pending_since == 1000);
    quiet(a, ATT, ATT, 61000, 600000, 1000);
    s = status(a);
    assert_int_equal(s.stable, ATT);
    assert_true(s.kind[CHANGED].counters.pending == 1);
    assert_true(s.kind[CHANGED].counters.flaps == 1);
    assert_true(s.kind[CHANGED].counters.raised == 0);
    assert_true(s.kind[MISMATCH].counters.flaps == 1);
    assert_true(s.kind[MISMATCH].counters.raised == 0);
}

/* ensure a changed regime raises exactly when the debounce has elapsed */
static void test_alert_eval_changed_raises_after_debounce(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_event *e;

    quiet(a, ATT, ATT, 0, 9000, 1000);
    quiet(a, FFN, FFN, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 70000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->kind, CHANGED);
    assert_int_equal(e->action, AFD_ALERT_RAISED);
    assert_string_equal(e->alertname, "AfdRegimeChanged");
    assert_string_equal(e->deployment, "llama-70b");
    assert_int_equal(e->regime, FFN);
    assert_int_equal(e->previous, ATT);
    assert_int_equal(e->predicted, FFN);
    assert_true(e->ratio == 8.0);
    assert_true(e->start_ms == 10000);
    assert_true(e->end_ms == 0);
    assert_string_equal(e->explanation,
                        "bottleneck moved from attention to ffn at ratio "
                        "8.00 for 60 s: measured attention 4.00 ms, "
                        "communication 2.00 ms, ffn 10.00 ms");
    assert_int_equal(status(a).stable, FFN);
}

/* ensure a changed alert resolves once the new regime held resolve_ms */
static void test_alert_eval_changed_resolves_after_period(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_event *e;

    quiet(a, ATT, ATT, 0, 0, 1000);
    quiet(a, FFN, FFN, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 70000, &ev), 1);
    assert_string_equal(status(a).kind[CHANGED].state_name, "resolving");
    quiet(a, FFN, FFN, 71000, 369999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 370000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->action, AFD_ALERT_RESOLVED);
    assert_string_equal(e->alertname, "AfdRegimeChanged");
    assert_int_equal(e->regime, FFN);
    assert_int_equal(e->previous, ATT);
    assert_true(e->start_ms == 10000);
    assert_true(e->end_ms == 370000);
    assert_string_equal(e->explanation, "ffn-bound has held for 300 s since "
                                        "the move from attention");
    assert_string_equal(status(a).kind[CHANGED].state_name, "ok");
}

/* ensure a brief return of the old regime restarts the resolve timer */
static void test_alert_eval_changed_flip_back_delays_resolve(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    quiet(a, ATT, ATT, 0, 0, 1000);
    quiet(a, FFN, FFN, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 70000, &ev), 1);
    quiet(a, ATT, ATT, 100000, 100000, 1000); /* back for one window */
    assert_string_equal(status(a).kind[CHANGED].state_name, "firing");
    quiet(a, FFN, FFN, 110000, 409999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 410000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    s = status(a);
    assert_true(s.kind[CHANGED].counters.flaps == 1);
    assert_true(s.kind[CHANGED].counters.resolved == 1);
}

/* ensure a further move while firing resolves the old alert, raises anew */
static void test_alert_eval_changed_superseded(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, ATT, 0, 0, 1000);
    quiet(a, FFN, FFN, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, FFN, 70000, &ev), 1);
    quiet(a, COMM, COMM, 100000, 159999, 1000);
    assert_int_equal(eval(a, COMM, COMM, 160000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].regime, FFN);
    assert_true(ev.ev[0].end_ms == 160000);
    assert_string_equal(ev.ev[0].explanation,
                        "superseded: the bottleneck moved again, to "
                        "communication");
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].regime, COMM);
    assert_int_equal(ev.ev[1].previous, FFN);
    assert_true(ev.ev[1].start_ms == 100000);
    assert_true(status(a).kind[CHANGED].counters.superseded == 1);
}

/* ensure zero debounce and resolve raise and resolve in one evaluation */
static void test_alert_eval_changed_zero_periods(void **state)
{
    struct afd_alert_config c = {0, 0, 0.05};
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, ATT, 0, 0, 1000);
    assert_int_equal(eval(a, FFN, FFN, 1000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RESOLVED);
    assert_true(ev.ev[1].start_ms == 1000);
    assert_true(ev.ev[1].end_ms == 1000);
    quiet(a, FFN, FFN, 2000, 2000, 1000);
}

/* ensure a mismatch raises after the debounce, not 1 ms before */
static void test_alert_eval_mismatch_raises_after_debounce(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_event *e;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->kind, MISMATCH);
    assert_int_equal(e->action, AFD_ALERT_RAISED);
    assert_string_equal(e->alertname, "AfdRegimeMismatch");
    assert_int_equal(e->regime, ATT);
    assert_int_equal(e->predicted, FFN);
    assert_int_equal(e->previous, ATT);
    assert_true(e->start_ms == 0);
    assert_string_equal(e->explanation,
                        "observed attention-bound for 60 s (attention 10.00 "
                        "ms, communication 2.00 ms, ffn 6.00 ms) but the "
                        "model predicts ffn-bound at ratio 8.00: profile or "
                        "workload drift");
    assert_string_equal(status(a).kind[MISMATCH].state_name, "firing");
}

/* ensure a mismatch resolves after agreeing for resolve_ms, not before */
static void test_alert_eval_mismatch_resolves_after_period(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    quiet(a, ATT, FFN, 61000, 99000, 1000);
    quiet(a, ATT, ATT, 100000, 399999, 1000);
    assert_string_equal(status(a).kind[MISMATCH].state_name, "resolving");
    assert_int_equal(eval(a, ATT, ATT, 400000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].kind, MISMATCH);
    assert_true(ev.ev[0].start_ms == 0);
    assert_true(ev.ev[0].end_ms == 400000);
    assert_string_equal(ev.ev[0].explanation, "observed attention-bound has "
                                              "matched the model for 300 s");
}

/* ensure a clear spell shorter than resolve_ms keeps the alert firing */
static void test_alert_eval_mismatch_short_clear_keeps_firing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    quiet(a, ATT, ATT, 100000, 399000, 1000); /* 299 s clear */
    quiet(a, ATT, FFN, 399500, 399500, 1000);
    assert_string_equal(status(a).kind[MISMATCH].state_name, "firing");
    quiet(a, ATT, ATT, 400000, 699999, 1000);
    assert_int_equal(eval(a, ATT, ATT, 700000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_true(status(a).kind[MISMATCH].counters.raised == 1);
}

/* ensure after resolving, the same mismatch raises again after a debounce */
static void test_alert_eval_mismatch_reraises(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    quiet(a, ATT, ATT, 61000, 360999, 1000);
    assert_int_equal(eval(a, ATT, ATT, 361000, &ev), 1); /* resolved */
    quiet(a, ATT, FFN, 500000, 559999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 560000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RAISED);
    assert_true(ev.ev[0].start_ms == 500000);
    s = status(a);
    assert_true(s.kind[MISMATCH].counters.pending == 2);
    assert_true(s.kind[MISMATCH].counters.raised == 2);
    assert_true(s.kind[MISMATCH].counters.resolved == 1);
    assert_true(s.kind[MISMATCH].counters.flaps == 0);
    assert_true(s.kind[CHANGED].counters.pending == 0);
}

/* ensure a changed predicted regime is a new mismatch that supersedes */
static void test_alert_eval_mismatch_new_pair_supersedes(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    quiet(a, ATT, COMM, 70000, 129999, 1000);
    assert_int_equal(eval(a, ATT, COMM, 130000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].predicted, FFN);
    assert_string_equal(ev.ev[0].explanation, "superseded: now observed "
                                              "attention-bound, predicted "
                                              "communication-bound");
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].predicted, COMM);
    assert_true(ev.ev[1].start_ms == 70000);
}

/* ensure bad inputs are rejected, counted, and leave the timers alone */
static void test_alert_eval_rejects_bad_input(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_input in = input(ATT, FFN);
    struct afd_alert_events ev;
    char err[AFD_ERR_LEN] = "";

    quiet(a, ATT, FFN, 0, 30000, 1000);
    in.ffn_ms = -1;
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_int_equal(ev.n, 0);
    assert_non_null(strstr(err, "ffn -1 ms"));
    in = input(ATT, FFN);
    in.predicted = (enum afd_regime)5;
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'predicted'"));
    in = input(ATT, FFN);
    in.ratio = 0;
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'ratio'"));
    in = input(ATT, FFN);
    assert_int_equal(afd_alert_eval(a, &in, 29999, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "never decreasing), got 29999"));
    assert_true(status(a).invalid_inputs == 4);
    assert_true(status(a).kind[MISMATCH].pending_since == 0);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
}

/* ensure clear resolves a firing alert and drops a pending one */
static void test_alert_clear_resolves_firing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    quiet(a, ATT, FFN, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, FFN, 60000, &ev), 1);
    quiet(a, FFN, FFN, 61000, 61000, 1000); /* changed pending */
    assert_int_equal(afd_alert_clear(a, 62000, &ev, NULL), AFD_OK);
    assert_int_equal(ev.n, 1);
    assert_int_equal(ev.ev[0].kind, MISMATCH);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_true(ev.ev[0].end_ms == 62000);
    s = status(a);
    assert_string_equal(s.kind[CHANGED].state_name, "ok");
    assert_string_equal(s.kind[MISMATCH].state_name, "ok");
    assert_int_equal(afd_alert_clear(a, 61000, &ev, NULL), AFD_EINVAL);
}

/* ensure both kinds fire in one evaluation, changed first */
static void test_alert_eval_both_kinds_ordered(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, ATT, 0, 0, 1000);
    quiet(a, FFN, ATT, 1000, 60999, 1000);
    assert_int_equal(eval(a, FFN, ATT, 61000, &ev), 2);
    assert_int_equal(ev.ev[0].kind, CHANGED);
    assert_int_equal(ev.ev[1].kind, MISMATCH);
    assert_int_equal(ev.ev[1].regime, FFN);
    assert_int_equal(ev.ev[1].previous, ATT);
    assert_true(ev.ev[0].start_ms == 1000);
    assert_true(ev.ev[1].start_ms == 1000);
}

/* ensure a stage within the margin of the observed one does not move it */
static void test_alert_eval_margin_holds_observed(void **state)
{
    struct afd_alert_config c = {0, 0, 0.05};
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_input in = input(ATT, ATT);
    struct afd_alert_events ev;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_alert_eval(a, &in, 1000, &ev, err), AFD_OK);
    in.attention_ms = 10.0;
    in.ffn_ms = 10.4; /* 4% above attention: inside the 5% margin */
    assert_int_equal(afd_alert_eval(a, &in, 2000, &ev, err), AFD_OK);
    assert_int_equal(ev.n, 0);
    assert_int_equal(status(a).observed, ATT);
    in.ffn_ms = 10.6; /* 6% above: the bottleneck moved */
    assert_int_equal(afd_alert_eval(a, &in, 3000, &ev, err), AFD_OK);
    assert_int_equal(status(a).observed, FFN);
    assert_true(ev.n >= 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[0].regime, FFN);
    in.attention_ms = 10.9; /* back within 5% of ffn 10.6: stays ffn */
    assert_int_equal(afd_alert_eval(a, &in, 4000, &ev, err), AFD_OK);
    assert_int_equal(status(a).observed, FFN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regime_observed_picks_largest),
        cmocka_unit_test(test_regime_observed_ties),
        cmocka_unit_test(test_regime_observed_rejects_bad_times),
        cmocka_unit_test(test_alert_config_check_names_field),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_alert_eval_first_sets_baseline),
        T(test_alert_eval_flap_raises_nothing),
        T(test_alert_eval_changed_raises_after_debounce),
        T(test_alert_eval_changed_resolves_after_period),
        T(test_alert_eval_changed_flip_back_delays_resolve),
        T(test_alert_eval_changed_superseded),
        T(test_alert_eval_changed_zero_periods),
        T(test_alert_eval_margin_holds_observed),
        T(test_alert_eval_mismatch_raises_after_debounce),
        T(test_alert_eval_mismatch_resolves_after_period),
        T(test_alert_eval_mismatch_short_clear_keeps_firing),
        T(test_alert_eval_mismatch_reraises),
        T(test_alert_eval_mismatch_new_pair_supersedes),
        T(test_alert_eval_rejects_bad_input),
        T(test_alert_clear_resolves_firing),
        T(test_alert_eval_both_kinds_ordered),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
