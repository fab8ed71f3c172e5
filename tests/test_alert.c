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
#include "estimator/profile.h"
#include "estimator/solver.h"

#define ATT      AFD_REGIME_ATTENTION
#define COMM     AFD_REGIME_COMMUNICATION
#define FFN      AFD_REGIME_FFN
#define CHANGED  AFD_ALERT_SIZING_CHANGED
#define MISMATCH AFD_ALERT_OFF_BALANCE
#define BAL      AFD_POSITION_BALANCED
#define UNDER    AFD_POSITION_UNDER
#define OVER     AFD_POSITION_OVER

static struct afd_alert_config base_cfg(void)
{
    struct afd_alert_config c;

    afd_alert_config_init(&c);
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

/* Sizing regime `sizing`; r* 8 with the band [6, 10]; the ratio inside it
 * (balanced), below it (under, 4) or above it (over, 14). */
static struct afd_alert_input input(enum afd_regime sizing,
                                    enum afd_position pos)
{
    struct afd_alert_input in;

    memset(&in, 0, sizeof(in));
    in.sizing = sizing;
    in.r_star = 8.0;
    in.band_lo = 6.0;
    in.band_hi = 10.0;
    in.ratio = pos == BAL ? 8.0 : pos == UNDER ? 4.0 : 14.0;
    in.predicted = pos == UNDER ? ATT : pos == OVER ? FFN : sizing;
    in.loss = pos == BAL ? 0 : 0.125;
    in.lost_per_device = pos == BAL ? 0 : 50.0;
    in.lost_tokens_per_s = in.lost_per_device * 15;
    return in;
}

static size_t eval(struct afd_alerts *a, enum afd_regime obs,
                   enum afd_position pred, int64_t now,
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
                  enum afd_position pred, int64_t from, int64_t to,
                  int64_t every)
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

/* Paper profile at batch B, theta 600 (model.md sec. 2). */
static struct afd_solve_input paper(struct afd_profile *p, double batch)
{
    struct afd_solve_input in;

    afd_test_paper_profile(p);
    afd_solve_input_init(&in, p, batch, 600);
    return in;
}

/* ensure the sizing regime names the closed-form term that sets r* */
static void test_sizing_regime_matches_closed_form(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in;
    struct afd_solution s;

    (void)state;
    in = paper(&p, 256); /* r_A = 9.3 > r_peak = 2.95 > r_C */
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(fabs(s.r_star - s.r_A) < 1e-9 * s.r_A);
    assert_int_equal(afd_sizing_regime(&in, s.r_star), ATT);
    in = paper(&p, 64); /* r* = 5.9 is the FFN peak sqrt(bF/(aF*B)) */
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(fabs(s.r_star - s.r_peak) < 1e-9 * s.r_peak);
    assert_true(s.r_peak > s.r_A && s.r_peak > s.r_C);
    assert_int_equal(afd_sizing_regime(&in, s.r_star), FFN);
    in = paper(&p, 256);
    p.bC = 30; /* a slow interconnect: t_C = 30.256 ms > t_A */
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    assert_true(fabs(s.r_star - s.r_C) < 1e-9 * s.r_C);
    assert_int_equal(afd_sizing_regime(&in, s.r_star), COMM);
}

/* ensure the balanced band's edges lose exactly the margin and hold r* */
static void test_balanced_band_edges(void **state)
{
    struct afd_profile p;
    struct afd_solve_input in = paper(&p, 256);
    struct afd_solution s;
    double lo, hi, best;

    (void)state;
    assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
    best = afd_throughput_at(&in, s.r_star);
    afd_balanced_band(&in, s.r_star, 0.05, &lo, &hi);
    assert_true(lo < s.r_star && s.r_star < hi);
    assert_true(fabs(afd_throughput_at(&in, lo) / best - 0.95) < 1e-9);
    assert_true(fabs(afd_throughput_at(&in, hi) / best - 0.95) < 1e-9);
    /* Below r_A tau = t_A is flat and f ~ r/(r+1), so lo/(lo+1) is 0.95 of it
     * at r_star. */
    assert_true(fabs(lo / (lo + 1) - 0.95 * s.r_star / (s.r_star + 1)) < 1e-9);
    afd_balanced_band(&in, s.r_star, 0, &lo, &hi);
    assert_true(fabs(lo - s.r_star) < 1e-6 && fabs(hi - s.r_star) < 1e-6);
}

/* Standard normal draw (Box-Muller on the seeded test generator). */
static double normal(void)
{
    double u = afd_test_rng_uniform(1e-12, 1), v = afd_test_rng_uniform(0, 1);

    return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/*
 * ensure a balanced deployment raises nothing over 10,000 evaluations with
 * stage-time noise of cv 10%: every window the model is rebuilt from stage
 * lines scaled by independent N(1, 0.1) factors (attention, ffn), with no
 * averaging across windows - harsher than a calibration would be.
 */
static void test_alert_balanced_noise_raises_nothing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_profile truth, p;
    struct afd_solve_input in = paper(&truth, 256);
    struct afd_alert_events ev;
    struct afd_solution s;
    int i, outside = 0, sizing_moves = 0;

    afd_test_rng_seed(11);
    for (i = 0; i < 10000; i++) {
        double g = 1 + 0.1 * normal(), h = 1 + 0.1 * normal();
        struct afd_alert_input ai;

        p = truth;
        p.aA *= g;
        p.bA *= g;
        p.aF *= h;
        p.bF *= h;
        in.profile = &p;
        assert_int_equal(afd_solve(&in, &s, NULL), AFD_OK);
        memset(&ai, 0, sizeof(ai));
        ai.r_star = s.r_star;
        ai.ratio = 9; /* the integer optimum of the true model */
        ai.sizing = afd_sizing_regime(&in, s.r_star);
        ai.predicted = afd_regime_at(&in, ai.ratio);
        afd_balanced_band(&in, s.r_star, c.margin, &ai.band_lo, &ai.band_hi);
        ai.loss = 1 - afd_throughput_at(&in, 9) / s.throughput_per_device;
        outside += ai.ratio < ai.band_lo || ai.ratio > ai.band_hi;
        sizing_moves += ai.sizing != ATT;
        assert_int_equal(afd_alert_eval(a, &ai, (int64_t)i * 1000, &ev, NULL),
                         AFD_OK);
        if (ev.n)
            fail_msg("%s raised at evaluation %d", ev.ev[0].alertname, i);
    }
    /* The noise is real: single windows do leave the band. */
    assert_true(outside > 0);
    assert_true(status(a).kind[MISMATCH].counters.flaps > 0);
    (void)sizing_moves;
}

/* ensure a move to or from ffn waits until the FFN split is identified */
static void test_alert_sizing_ffn_needs_identified_split(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_input in = input(FFN, BAL);
    struct afd_alert_events ev;
    int64_t t;

    quiet(a, ATT, BAL, 0, 0, 1000);
    in.ffn_split_unknown = true;
    for (t = 1000; t <= 3600000; t += 1000) {
        assert_int_equal(afd_alert_eval(a, &in, t, &ev, NULL), AFD_OK);
        assert_true(ev.n == 0);
    }
    assert_int_equal(status(a).stable, ATT);
    in.ffn_split_unknown = false; /* identified: a change, after 60 s */
    for (t = 3601000; t < 3661000; t += 1000) {
        assert_int_equal(afd_alert_eval(a, &in, t, &ev, NULL), AFD_OK);
        assert_true(ev.n == 0);
    }
    assert_int_equal(afd_alert_eval(a, &in, 3661000, &ev, NULL), AFD_OK);
    assert_true(ev.n == 1 && ev.ev[0].kind == CHANGED &&
                ev.ev[0].regime == FFN && ev.ev[0].previous == ATT &&
                ev.ev[0].start_ms == 3601000);
    /* From ffn to communication: r_C against r_peak, the split decides. */
    in = input(COMM, BAL);
    in.ffn_split_unknown = true;
    for (t = 3662000; t <= 3800000; t += 1000) {
        assert_int_equal(afd_alert_eval(a, &in, t, &ev, NULL), AFD_OK);
        assert_true(ev.n == 0 || ev.ev[0].action == AFD_ALERT_RESOLVED);
    }
    assert_int_equal(status(a).stable, FFN);
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
    assert_string_equal(err, "alert field 'margin' must be in [0, 1), got 1.5");
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

    assert_int_equal(eval(a, FFN, BAL, 0, &ev), 0);
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

    quiet(a, ATT, BAL, 0, 0, 1000);
    quiet(a, FFN, OVER, 1000, 60999, 1000); /* 59999 ms, 1 short */
    s = status(a);
    assert_string_equal(s.kind[CHANGED].state_name, "pending");
    assert_true(s.kind[CHANGED].pending_since == 1000);
    quiet(a, ATT, BAL, 61000, 600000, 1000);
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

    quiet(a, ATT, BAL, 0, 9000, 1000);
    quiet(a, FFN, BAL, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 70000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->kind, CHANGED);
    assert_int_equal(e->action, AFD_ALERT_RAISED);
    assert_string_equal(e->alertname, "AfdSizingRegimeChanged");
    assert_string_equal(e->deployment, "llama-70b");
    assert_int_equal(e->regime, FFN);
    assert_int_equal(e->previous, ATT);
    assert_int_equal(e->predicted, FFN);
    assert_true(e->ratio == 8.0);
    assert_true(e->start_ms == 10000);
    assert_true(e->end_ms == 0);
    assert_string_equal(e->explanation,
                        "the optimum r* = 8.00 is now set by the ffn term "
                        "(was attention) for 60 s: what to buy changed; "
                        "re-plan the Attention/FFN mix");
    assert_int_equal(status(a).stable, FFN);
}

/* ensure a changed alert resolves once the new regime held resolve_ms */
static void test_alert_eval_changed_resolves_after_period(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_event *e;

    quiet(a, ATT, BAL, 0, 0, 1000);
    quiet(a, FFN, BAL, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 70000, &ev), 1);
    assert_string_equal(status(a).kind[CHANGED].state_name, "resolving");
    quiet(a, FFN, BAL, 71000, 369999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 370000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->action, AFD_ALERT_RESOLVED);
    assert_string_equal(e->alertname, "AfdSizingRegimeChanged");
    assert_int_equal(e->regime, FFN);
    assert_int_equal(e->previous, ATT);
    assert_true(e->start_ms == 10000);
    assert_true(e->end_ms == 370000);
    assert_string_equal(e->explanation, "the ffn term has set the optimum for "
                                        "300 s since the move from attention");
    assert_string_equal(status(a).kind[CHANGED].state_name, "ok");
}

/* ensure a brief return of the old regime restarts the resolve timer */
static void test_alert_eval_changed_flip_back_delays_resolve(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    quiet(a, ATT, BAL, 0, 0, 1000);
    quiet(a, FFN, BAL, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 70000, &ev), 1);
    quiet(a, ATT, BAL, 100000, 100000, 1000); /* back for one window */
    assert_string_equal(status(a).kind[CHANGED].state_name, "firing");
    quiet(a, FFN, BAL, 110000, 409999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 410000, &ev), 1);
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

    quiet(a, ATT, BAL, 0, 0, 1000);
    quiet(a, FFN, BAL, 10000, 69999, 1000);
    assert_int_equal(eval(a, FFN, BAL, 70000, &ev), 1);
    quiet(a, COMM, BAL, 100000, 159999, 1000);
    assert_int_equal(eval(a, COMM, BAL, 160000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].regime, FFN);
    assert_true(ev.ev[0].end_ms == 160000);
    assert_string_equal(ev.ev[0].explanation,
                        "superseded: the optimum is now set by the "
                        "communication term");
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].regime, COMM);
    assert_int_equal(ev.ev[1].previous, FFN);
    assert_true(ev.ev[1].start_ms == 100000);
    assert_true(status(a).kind[CHANGED].counters.superseded == 1);
}

/* ensure zero debounce and resolve raise and resolve in one evaluation */
static void test_alert_eval_changed_zero_periods(void **state)
{
    struct afd_alert_config c = {
        .debounce_ms = 0, .resolve_ms = 0, .margin = 0.05, .drift = 0.10};
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, BAL, 0, 0, 1000);
    assert_int_equal(eval(a, FFN, BAL, 1000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RESOLVED);
    assert_true(ev.ev[1].start_ms == 1000);
    assert_true(ev.ev[1].end_ms == 1000);
    quiet(a, FFN, BAL, 2000, 2000, 1000);
}

/* ensure a mismatch raises after the debounce, not 1 ms before */
static void test_alert_eval_mismatch_raises_after_debounce(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_event *e;

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    e = &ev.ev[0];
    assert_int_equal(e->kind, MISMATCH);
    assert_int_equal(e->action, AFD_ALERT_RAISED);
    assert_string_equal(e->alertname, "AfdOutsideBalancedBand");
    assert_int_equal(e->regime, FFN);
    assert_int_equal(e->predicted, FFN);
    assert_int_equal(e->previous, ATT);
    assert_true(e->start_ms == 0);
    assert_string_equal(e->explanation,
                        "over-provisioned (ffn-bound side) for 60 s: ratio "
                        "14.00 outside the balanced band [6.00, 10.00] (r* "
                        "8.00), losing 12.5% = 50.0 tokens/s per device, 750 "
                        "tokens/s in all; check scaling, advisory mode, "
                        "bounds");
    assert_true(e->lost_tokens_per_s == 750 && e->loss == 0.125);
    assert_string_equal(status(a).kind[MISMATCH].state_name, "firing");
}

/* ensure a mismatch resolves after agreeing for resolve_ms, not before */
static void test_alert_eval_mismatch_resolves_after_period(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    quiet(a, ATT, OVER, 61000, 99000, 1000);
    quiet(a, ATT, BAL, 100000, 399999, 1000);
    assert_string_equal(status(a).kind[MISMATCH].state_name, "resolving");
    assert_int_equal(eval(a, ATT, BAL, 400000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].kind, MISMATCH);
    assert_true(ev.ev[0].start_ms == 0);
    assert_true(ev.ev[0].end_ms == 400000);
    assert_string_equal(ev.ev[0].explanation,
                        "ratio 8.00 has been inside the balanced band [6.00, "
                        "10.00] for 300 s");
}

/* ensure a clear spell shorter than resolve_ms keeps the alert firing */
static void test_alert_eval_mismatch_short_clear_keeps_firing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    quiet(a, ATT, BAL, 100000, 399000, 1000); /* 299 s clear */
    quiet(a, ATT, OVER, 399500, 399500, 1000);
    assert_string_equal(status(a).kind[MISMATCH].state_name, "firing");
    quiet(a, ATT, BAL, 400000, 699999, 1000);
    assert_int_equal(eval(a, ATT, BAL, 700000, &ev), 1);
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

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    quiet(a, ATT, BAL, 61000, 360999, 1000);
    assert_int_equal(eval(a, ATT, BAL, 361000, &ev), 1); /* resolved */
    quiet(a, ATT, OVER, 500000, 559999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 560000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RAISED);
    assert_true(ev.ev[0].start_ms == 500000);
    s = status(a);
    assert_true(s.kind[MISMATCH].counters.pending == 2);
    assert_true(s.kind[MISMATCH].counters.raised == 2);
    assert_true(s.kind[MISMATCH].counters.resolved == 1);
    assert_true(s.kind[MISMATCH].counters.flaps == 0);
    assert_true(s.kind[CHANGED].counters.pending == 0);
}

/* ensure moving from over- to under-provisioned supersedes the alert */
static void test_alert_eval_mismatch_new_pair_supersedes(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    quiet(a, ATT, UNDER, 70000, 129999, 1000);
    assert_int_equal(eval(a, ATT, UNDER, 130000, &ev), 2);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(ev.ev[0].predicted, FFN);
    assert_string_equal(ev.ev[0].explanation,
                        "superseded: now under-provisioned (attention-bound "
                        "side)");
    assert_int_equal(ev.ev[1].action, AFD_ALERT_RAISED);
    assert_int_equal(ev.ev[1].regime, ATT);
    assert_true(ev.ev[1].start_ms == 70000);
}

/* ensure bad inputs are rejected, counted, and leave the timers alone */
static void test_alert_eval_rejects_bad_input(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_input in = input(ATT, OVER);
    struct afd_alert_events ev;
    char err[AFD_ERR_LEN] = "";

    quiet(a, ATT, OVER, 0, 30000, 1000);
    in.band_hi = 7; /* below r* 8 */
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_int_equal(ev.n, 0);
    assert_non_null(strstr(err, "band [6, 7] must be finite and hold"));
    in = input(ATT, OVER);
    in.predicted = (enum afd_regime)5;
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'predicted'"));
    in = input(ATT, OVER);
    in.ratio = 0;
    assert_int_equal(afd_alert_eval(a, &in, 40000, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'ratio'"));
    in = input(ATT, OVER);
    assert_int_equal(afd_alert_eval(a, &in, 29999, &ev, err), AFD_EINVAL);
    assert_non_null(strstr(err, "never decreasing), got 29999"));
    assert_true(status(a).invalid_inputs == 4);
    assert_true(status(a).kind[MISMATCH].pending_since == 0);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
}

/* ensure clear resolves a firing alert and drops a pending one */
static void test_alert_clear_resolves_firing(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a = make(state, &c);
    struct afd_alert_events ev;
    struct afd_alert_status s;

    quiet(a, ATT, OVER, 0, 59999, 1000);
    assert_int_equal(eval(a, ATT, OVER, 60000, &ev), 1);
    quiet(a, FFN, BAL, 61000, 61000, 1000); /* changed pending */
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

    quiet(a, ATT, BAL, 0, 0, 1000);
    quiet(a, FFN, OVER, 1000, 60999, 1000);
    assert_int_equal(eval(a, FFN, OVER, 61000, &ev), 2);
    assert_int_equal(ev.ev[0].kind, CHANGED);
    assert_int_equal(ev.ev[1].kind, MISMATCH);
    assert_int_equal(ev.ev[1].regime, FFN);
    assert_int_equal(ev.ev[1].previous, ATT);
    assert_true(ev.ev[0].start_ms == 1000);
    assert_true(ev.ev[1].start_ms == 1000);
}

/* Ratio r with the band [6, 10] around r* 8, sizing attention. */
static size_t eval_ratio(struct afd_alerts *a, double r, int64_t now,
                         struct afd_alert_events *ev)
{
    struct afd_alert_input in = input(ATT, BAL);

    in.ratio = r;
    assert_int_equal(afd_alert_eval(a, &in, now, ev, NULL), AFD_OK);
    return ev->n;
}

/* ensure the off-balance alert waits act_ms when it exceeds the debounce,
 * and a step toward the band (the controller acting) restarts the wait */
static void test_alert_off_balance_waits_for_controller(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a;
    struct afd_alert_events ev;
    int64_t t;

    c.act_ms = 120000;
    a = make(state, &c);
    /* Converging: 20 -> 11 one step every 100 s, never raised. */
    for (t = 0; t <= 900000; t += 1000)
        if (eval_ratio(a, 20 - (double)(t / 100000), t, &ev))
            fail_msg("raised at %lld while converging", (long long)t);
    assert_int_equal(status(a).position, AFD_POSITION_OVER);
    /* Stuck at 11 since t = 900000: raised at 1020000, not 1 s before. */
    for (t = 901000; t < 1020000; t += 1000)
        assert_int_equal(eval_ratio(a, 11, t, &ev), 0);
    assert_int_equal(eval_ratio(a, 11, 1020000, &ev), 1);
    assert_int_equal(ev.ev[0].kind, MISMATCH);
    assert_true(ev.ev[0].start_ms == 900000);
    /* Back inside: resolved resolve_ms (300 s) later. */
    for (t = 1021000; t < 1321000; t += 1000)
        assert_int_equal(eval_ratio(a, 9, t, &ev), 0);
    assert_int_equal(eval_ratio(a, 9, 1321000, &ev), 1);
    assert_int_equal(ev.ev[0].action, AFD_ALERT_RESOLVED);
    assert_int_equal(status(a).position, AFD_POSITION_BALANCED);
}

/* ensure a sizing change within warmup_ms of the first evaluation is
 * learned silently, and one after it raises */
static void test_alert_sizing_warmup_is_silent(void **state)
{
    struct afd_alert_config c = base_cfg();
    struct afd_alerts *a;
    struct afd_alert_events ev;

    c.warmup_ms = 120000;
    a = make(state, &c);
    quiet(a, FFN, BAL, 0, 9000, 1000);
    quiet(a, COMM, BAL, 10000, 300000, 1000); /* changed at 10 s: learned */
    assert_int_equal(status(a).stable, COMM);
    quiet(a, ATT, BAL, 301000, 360000, 1000);
    assert_int_equal(eval(a, ATT, BAL, 361000, &ev), 1);
    assert_int_equal(ev.ev[0].kind, CHANGED);
    assert_int_equal(ev.ev[0].previous, COMM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sizing_regime_matches_closed_form),
        cmocka_unit_test(test_balanced_band_edges),
        cmocka_unit_test(test_alert_config_check_names_field),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_alert_eval_first_sets_baseline),
        T(test_alert_eval_flap_raises_nothing),
        T(test_alert_eval_changed_raises_after_debounce),
        T(test_alert_eval_changed_resolves_after_period),
        T(test_alert_eval_changed_flip_back_delays_resolve),
        T(test_alert_eval_changed_superseded),
        T(test_alert_eval_changed_zero_periods),
        T(test_alert_balanced_noise_raises_nothing),
        T(test_alert_sizing_ffn_needs_identified_split),
        T(test_alert_off_balance_waits_for_controller),
        T(test_alert_sizing_warmup_is_silent),
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
