/*
 * test_policy.c - scaling policy rules (controller/policy.h), driven by an
 * injected clock. Times are exact milliseconds; gains use tput_current 1.0
 * and binary-exact tput_target (1.25, 1.015625) so gain comparisons are
 * exact. Expected values are worked out from the rules by hand.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "controller/policy.h"
#include "estimator/base/error.h"

#define GAIN_HIGH 1.25     /* gain +25 %, above the 2 % threshold */
#define GAIN_LOW  1.015625 /* gain +1.5625 %, below it */

/* The configuration the tests reason about (not the defaults). */
static struct afd_policy_config base_cfg(void)
{
    struct afd_policy_config c;

    afd_policy_config_init(&c);
    c.gain_threshold = 0.02;
    c.dwell_ms = 30000;
    c.cooldown_ms = 120000;
    c.min_attention = 1;
    c.max_attention = 16;
    c.max_step = 4;
    c.ack_timeout_ms = 60000;
    c.advisory = false;
    c.backoff_ms = 300000;
    return c;
}

/* Creates the policy into *state so teardown frees it even on failure. */
static struct afd_policy *make(void **state, const struct afd_policy_config *c)
{
    char err[AFD_ERR_LEN] = "";
    struct afd_policy *p = afd_policy_new("llama-70b", c, err);

    if (!p)
        fail_msg("afd_policy_new failed: %s", err);
    *state = p;
    return p;
}

static int setup(void **state)
{
    *state = NULL;
    return 0;
}

static int teardown(void **state)
{
    afd_policy_free(*state);
    return 0;
}

/* x -> target with y = 1, tput_current 1.0, attention-bound, r* = target. */
static struct afd_policy_input input(int x, int target, double tput_target)
{
    struct afd_policy_input in;

    memset(&in, 0, sizeof(in));
    in.attention = x;
    in.ffn = 1;
    in.target = target;
    in.barrier = false;
    in.tput_current = 1.0;
    in.tput_target = tput_target;
    in.regime = AFD_REGIME_ATTENTION;
    in.r_star = (double)target;
    return in;
}

static enum afd_decision step(struct afd_policy *p,
                              const struct afd_policy_input *in, int64_t now,
                              struct afd_command *cmd)
{
    enum afd_decision d = AFD_DECISION_ADVISORY;
    char err[AFD_ERR_LEN] = "";
    int rc = afd_policy_step(p, in, now, &d, cmd, err);

    if (rc != AFD_OK)
        fail_msg("step at %lld failed: %s", (long long)now, err);
    return d;
}

/* Steps every `every` ms over [from, to] (both included): all NONE. */
static void steps_none(struct afd_policy *p, const struct afd_policy_input *in,
                       int64_t from, int64_t to, int64_t every)
{
    struct afd_command cmd;
    int64_t t;

    for (t = from; t <= to; t += every) {
        if (step(p, in, t, &cmd) != AFD_DECISION_NONE)
            fail_msg("unexpected decision at %lld", (long long)t);
    }
    if ((to - from) % every != 0 && step(p, in, to, &cmd) != AFD_DECISION_NONE)
        fail_msg("unexpected decision at %lld", (long long)to);
}

/* Issues command 1 (4 -> 8) at t = 0 with a zero dwell; returns its id. */
static uint64_t issue_first(struct afd_policy *p)
{
    struct afd_policy_input in = input(4, 8, GAIN_HIGH);
    struct afd_command cmd;

    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    return cmd.id;
}

static struct afd_policy_status status_at(struct afd_policy *p, int64_t now)
{
    struct afd_policy_status s;

    afd_policy_status(p, now, &s);
    return s;
}

/* ensure config_init gives the documented defaults and they pass check */
static void test_policy_config_init_defaults(void **state)
{
    struct afd_policy_config c;

    afd_policy_config_init(&c);
    assert_true(c.gain_threshold == 0.02);
    assert_true(c.dwell_ms == 30000);
    assert_true(c.cooldown_ms == 120000);
    assert_int_equal(c.min_attention, 1);
    assert_int_equal(c.max_attention, 1024);
    assert_int_equal(c.max_step, 4);
    assert_true(c.ack_timeout_ms == 60000);
    assert_false(c.advisory);
    assert_true(c.backoff_ms == 300000);
    assert_true(c.settle_ms == 45000);
    assert_true(c.settled_gain_threshold == 0.04);
    assert_int_equal(afd_policy_config_check(&c, NULL), AFD_OK);
}

/* ensure config_check rejects each bad field with a message naming it */
static void test_policy_config_check_names_field(void **state)
{
    struct afd_policy_config c;
    char err[AFD_ERR_LEN];
    int n = 0;

#define CASE(field, stmt)                                                      \
    do {                                                                       \
        c = base_cfg();                                                        \
        stmt;                                                                  \
        err[0] = '\0';                                                         \
        assert_int_equal(afd_policy_config_check(&c, err), AFD_EINVAL);        \
        if (!strstr(err, "'" field "'"))                                       \
            fail_msg("message for %s: %s", field, err);                        \
        n++;                                                                   \
    } while (0)
    CASE("gain_threshold", c.gain_threshold = -0.01);
    CASE("gain_threshold", c.gain_threshold = NAN);
    CASE("gain_threshold", c.gain_threshold = 1.5);
    CASE("dwell_ms", c.dwell_ms = -1);
    CASE("cooldown_ms", c.cooldown_ms = AFD_POLICY_DURATION_MAX + 1LL);
    CASE("ack_timeout_ms", c.ack_timeout_ms = 0);
    CASE("backoff_ms", c.backoff_ms = -5);
    CASE("min_attention", c.min_attention = 0);
    CASE("max_attention", c.max_attention = 0);
    CASE("max_step", c.max_step = 0);
    CASE("settle_ms", c.settle_ms = -1);
    CASE("settled_gain_threshold", c.settled_gain_threshold = -0.01);
    CASE("settled_gain_threshold", c.settled_gain_threshold = NAN);
#undef CASE
    assert_int_equal(n, 13);
    c = base_cfg();
    c.max_step = 0;
    afd_policy_config_check(&c, err);
    assert_string_equal(err, "policy field 'max_step' must be in [1, 1048576], "
                             "got 0");
}

/* ensure policy_new refuses an empty or over-long deployment name */
static void test_policy_new_rejects_bad_name(void **state)
{
    struct afd_policy_config c = base_cfg();
    char name[AFD_DEPLOYMENT_LEN + 1];
    char err[AFD_ERR_LEN] = "";

    assert_null(afd_policy_new("", &c, err));
    assert_non_null(strstr(err, "deployment name is empty"));
    memset(name, 'a', AFD_DEPLOYMENT_LEN);
    name[AFD_DEPLOYMENT_LEN] = '\0';
    assert_null(afd_policy_new(name, &c, err));
    assert_non_null(strstr(err, "128 bytes, the limit is 127"));
    c.max_step = -1;
    assert_null(afd_policy_new("ok", &c, err));
    assert_non_null(strstr(err, "'max_step'"));
}

/* ensure step never acts when the gain stays below the threshold */
static void test_policy_step_below_threshold_never_acts(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(4, 10, GAIN_LOW);
    struct afd_policy_status s;

    steps_none(p, &in, 0, 3600000, 1000);
    s = status_at(p, 3600000);
    assert_int_equal(s.state, AFD_POLICY_IDLE);
    assert_string_equal(s.state_name, "idle");
    assert_non_null(strstr(s.reason, "+1.6% for 4 -> 10"));
    assert_non_null(strstr(s.reason, "not above the 2% threshold"));
    assert_true(s.counters.issued == 0);
}

/* ensure a gain exactly equal to the threshold does not act (strictly >) */
static void test_policy_step_gain_at_threshold_never_acts(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 10, 1.25);

    c.gain_threshold = 0.25;
    c.dwell_ms = 0;
    p = make(state, &c);
    steps_none(p, &in, 0, 600000, 1000);
}

/* ensure step acts exactly when the dwell has elapsed, not 1 ms before */
static void test_policy_step_acts_when_dwell_elapsed(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(4, 10, GAIN_HIGH);
    struct afd_command cmd;

    steps_none(p, &in, 1000, 30999, 1000);
    assert_int_equal(step(p, &in, 31000, &cmd), AFD_DECISION_COMMAND);
    assert_true(cmd.id == 1);
    assert_string_equal(cmd.deployment, "llama-70b");
    assert_int_equal(cmd.current, 4);
    assert_int_equal(cmd.target, 8); /* 4 + max_step 4, toward 10 */
    assert_int_equal(cmd.ffn, 1);
    assert_int_equal(cmd.regime, AFD_REGIME_ATTENTION);
    assert_true(cmd.r_star == 10.0);
    assert_true(cmd.expected_gain == 0.25);
    assert_true(cmd.issued_ms == 31000);
    assert_string_equal(cmd.reason,
                        "attention-bound: r*=10.00 recommends 10 Attention "
                        "instances for 1 FFN, +25.0% throughput per device, "
                        "above the 2% threshold for 30 s; 4 -> 8 (step limit "
                        "4, toward 10)");
}

/* ensure an input's min_dwell_ms longer than the configured dwell extends
 * it to exactly that (status and reason say so), a shorter one changes
 * nothing, a confident input still skips it, and a configured dwell of 0
 * stays 0 */
static void test_policy_step_min_dwell_extends(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(4, 6, GAIN_HIGH);
    struct afd_policy_status st;
    struct afd_command cmd;

    in.min_dwell_ms = 45000;
    steps_none(p, &in, 0, 44999, 1000);
    afd_policy_status(p, 44999, &st);
    assert_true(st.dwell_remaining_ms == 1);
    assert_int_equal(step(p, &in, 45000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(cmd.reason,
                        "attention-bound: r*=6.00 recommends 6 Attention "
                        "instances for 1 FFN, +25.0% throughput per device, "
                        "above the 2% threshold for 45 s; 4 -> 6");
    afd_policy_free(p);
    p = make(state, &c);
    in.min_dwell_ms = 10000; /* shorter than the dwell: the dwell holds */
    steps_none(p, &in, 0, 29999, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    afd_policy_free(p);
    p = make(state, &c);
    in.min_dwell_ms = 45000;
    in.confident = true;
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    afd_policy_free(p);
    c.dwell_ms = 0; /* no dwell configured: none at all */
    p = make(state, &c);
    in.confident = false;
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
}

/* ensure the dwell timer restarts when the gain dips below the threshold */
static void test_policy_step_dwell_restarts_after_dip(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input hi = input(4, 6, GAIN_HIGH);
    struct afd_policy_input lo = input(4, 6, GAIN_LOW);
    struct afd_command cmd;

    steps_none(p, &hi, 0, 20000, 1000);
    steps_none(p, &lo, 21000, 21000, 1000); /* the dip */
    steps_none(p, &hi, 22000, 51999, 1000); /* 30 s from 22000 is 52000 */
    assert_int_equal(step(p, &hi, 52000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 6);
}

/* ensure the dwell timer restarts when the wanted direction flips */
static void test_policy_step_dwell_restarts_on_flip(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input up = input(4, 7, GAIN_HIGH);
    struct afd_policy_input down = input(4, 2, GAIN_HIGH);
    struct afd_command cmd;

    steps_none(p, &up, 0, 20000, 1000);
    steps_none(p, &down, 25000, 54999, 1000);
    assert_int_equal(step(p, &down, 55000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 2);
}

/* ensure a changing target in the same direction keeps the dwell running */
static void test_policy_step_dwell_kept_when_target_moves(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input a = input(4, 6, GAIN_HIGH);
    struct afd_policy_input b = input(4, 7, GAIN_HIGH);
    struct afd_command cmd;

    steps_none(p, &a, 0, 15000, 1000);
    steps_none(p, &b, 16000, 29999, 1000);
    assert_int_equal(step(p, &b, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 7);
}

/* ensure a confident input acts at once, without the dwell, but not below
 * the threshold, and a later unconfident one earns its dwell again */
static void test_policy_step_confident_skips_dwell(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input sure = input(4, 6, GAIN_HIGH);
    struct afd_policy_input low = input(4, 6, GAIN_LOW);
    struct afd_command cmd;

    sure.confident = true;
    low.confident = true;
    steps_none(p, &low, 0, 5000, 1000);
    assert_int_equal(step(p, &sure, 6000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 6);
    assert_true(cmd.issued_ms == 6000);
    assert_string_equal(cmd.reason,
                        "attention-bound: r*=6.00 recommends 6 Attention "
                        "instances for 1 FFN, +25.0% throughput per device, "
                        "above the 2% threshold, on a confident estimate (no "
                        "dwell); 4 -> 6");
}

/* ensure no second command is issued while one waits for its ack */
static void test_policy_step_in_flight_blocks(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(8, 12, GAIN_HIGH);
    struct afd_policy_status s;

    c.dwell_ms = 0;
    p = make(state, &c);
    assert_true(issue_first(p) == 1);
    steps_none(p, &in, 1, 59999, 1000);
    s = status_at(p, 59999);
    assert_int_equal(s.state, AFD_POLICY_IN_FLIGHT);
    assert_string_equal(s.state_name, "in flight");
    assert_true(s.has_pending);
    assert_true(s.pending.id == 1);
    assert_true(s.ack_remaining_ms == 1);
    assert_non_null(strstr(s.reason, "command 1 (4 -> 8) in flight"));
    assert_true(s.counters.issued == 1);
}

/* ensure a timed-out command is counted and then allows a new one */
static void test_policy_step_timeout_allows_new_command(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 8, GAIN_HIGH);
    struct afd_policy_status s;
    struct afd_command cmd;

    c.dwell_ms = 0;
    c.backoff_ms = 0;
    p = make(state, &c);
    issue_first(p);
    steps_none(p, &in, 59999, 59999, 1);
    assert_int_equal(step(p, &in, 60000, &cmd), AFD_DECISION_COMMAND);
    assert_true(cmd.id == 2);
    s = status_at(p, 60000);
    assert_true(s.counters.timed_out == 1);
    assert_true(s.counters.failed == 0);
    assert_true(s.counters.issued == 2);
    assert_non_null(strstr(s.last_failure, "command 1 (4 -> 8) timed out"));
}

/* ensure a timeout starts the backoff at the deadline, even noticed late */
static void test_policy_expire_backoff_from_deadline(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 8, GAIN_HIGH);
    struct afd_command cmd;
    struct afd_policy_status s;

    c.dwell_ms = 0;
    p = make(state, &c);
    issue_first(p);
    assert_int_equal(afd_policy_expire(p, 100000, NULL), AFD_OK);
    s = status_at(p, 100000);
    assert_int_equal(s.state, AFD_POLICY_BACKOFF);
    assert_true(s.backoff_remaining_ms == 260000); /* 60000 + 300000 - 1e5 */
    steps_none(p, &in, 100000, 359999, 1000);
    assert_int_equal(step(p, &in, 360000, &cmd), AFD_DECISION_COMMAND);
}

/* ensure a failed ack is counted, kept as last_failure and backs off */
static void test_policy_ack_failure_backs_off(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 8, GAIN_HIGH);
    struct afd_policy_status s;
    struct afd_command cmd;

    c.dwell_ms = 0;
    p = make(state, &c);
    issue_first(p);
    assert_int_equal(afd_policy_ack(p, 1, false, "quota exceeded", 5000, NULL),
                     AFD_OK);
    s = status_at(p, 5000);
    assert_int_equal(s.state, AFD_POLICY_BACKOFF);
    assert_string_equal(s.state_name, "backing off");
    assert_true(s.backoff_remaining_ms == 300000);
    assert_string_equal(s.last_failure,
                        "command 1 (4 -> 8) failed: quota exceeded");
    assert_true(s.counters.failed == 1);
    assert_true(s.counters.acked == 0);
    steps_none(p, &in, 5000, 304999, 1000);
    s = status_at(p, 304999);
    assert_non_null(strstr(s.reason, "backing off 0.001 s more"));
    assert_int_equal(step(p, &in, 305000, &cmd), AFD_DECISION_COMMAND);
    assert_true(cmd.id == 2);
}

/* ensure a successful ack starts the cooldown: none inside, one after */
static void test_policy_ack_success_cooldown(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(8, 12, GAIN_HIGH);
    struct afd_policy_status s;
    struct afd_command cmd;

    c.dwell_ms = 10000;
    p = make(state, &c);
    steps_none(p, &in, 0, 9999, 1000);
    assert_int_equal(step(p, &in, 10000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(afd_policy_ack(p, cmd.id, true, NULL, 15000, NULL),
                     AFD_OK);
    s = status_at(p, 15000);
    assert_int_equal(s.state, AFD_POLICY_COOLDOWN);
    assert_string_equal(s.state_name, "cooling down");
    assert_true(s.cooldown_remaining_ms == 120000);
    /* dwell re-earned from 15000 (25000) long before the cooldown ends */
    steps_none(p, &in, 15000, 134999, 1000);
    s = status_at(p, 134999);
    assert_non_null(strstr(s.reason, "cooling down 0.001 s more"));
    assert_int_equal(step(p, &in, 135000, &cmd), AFD_DECISION_COMMAND);
    assert_true(cmd.id == 2);
    assert_true(s.counters.acked == 1);
}

/* ensure after an ack the dwell restarts from the first step after it */
static void test_policy_ack_dwell_restarts_after_command(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(8, 12, GAIN_HIGH);
    struct afd_command cmd;

    c.cooldown_ms = 0;
    p = make(state, &c);
    steps_none(p, &in, 0, 29999, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    steps_none(p, &in, 31000, 39000, 1000); /* in flight: no dwell */
    assert_int_equal(afd_policy_ack(p, 1, true, "", 40000, NULL), AFD_OK);
    steps_none(p, &in, 40000, 69999, 1000);
    assert_int_equal(step(p, &in, 70000, &cmd), AFD_DECISION_COMMAND);
}

/* ensure an ack arriving at or after the timeout deadline is stale */
static void test_policy_ack_late_is_stale(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    char err[AFD_ERR_LEN] = "";
    struct afd_policy_counters k;

    c.dwell_ms = 0;
    p = make(state, &c);
    issue_first(p);
    assert_int_equal(afd_policy_ack(p, 1, true, NULL, 60000, err), AFD_ESTATE);
    assert_string_equal(err, "policy of 'llama-70b': command 1 is no longer "
                             "in flight (late or repeated ack)");
    afd_policy_counters(p, &k);
    assert_true(k.timed_out == 1);
    assert_true(k.stale_acks == 1);
    assert_true(k.acked == 0);
}

/* ensure an ack for an id never issued is not found and changes nothing */
static void test_policy_ack_unknown_id(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    char err[AFD_ERR_LEN] = "";

    c.dwell_ms = 0;
    p = make(state, &c);
    issue_first(p);
    assert_int_equal(afd_policy_ack(p, 7, true, NULL, 1000, err),
                     AFD_ENOTFOUND);
    assert_non_null(strstr(err, "no command 7 was issued"));
    assert_int_equal(afd_policy_ack(p, 0, true, NULL, 1000, err),
                     AFD_ENOTFOUND);
    assert_int_equal(status_at(p, 1000).state, AFD_POLICY_IN_FLIGHT);
    assert_int_equal(afd_policy_ack(p, 1, true, NULL, 1000, NULL), AFD_OK);
}

/* ensure ids rise 1, 2, 3 across commands of one policy */
static void test_policy_step_ids_increase(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(1, 16, GAIN_HIGH);
    struct afd_command cmd;
    int64_t t = 0;
    uint64_t want;

    c.dwell_ms = 0;
    c.cooldown_ms = 0;
    p = make(state, &c);
    for (want = 1; want <= 3; want++) {
        assert_int_equal(step(p, &in, t, &cmd), AFD_DECISION_COMMAND);
        assert_true(cmd.id == want);
        assert_int_equal(afd_policy_ack(p, cmd.id, true, NULL, t + 10, NULL),
                         AFD_OK);
        in.attention = cmd.target;
        t += 100;
    }
    assert_int_equal(in.attention, 13); /* 1 -> 5 -> 9 -> 13 */
}

/* ensure the target is clamped to max_attention */
static void test_policy_step_clamps_to_max(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(14, 40, GAIN_HIGH);
    struct afd_command cmd;

    c.dwell_ms = 0;
    p = make(state, &c);
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 16);
    assert_non_null(strstr(cmd.reason, "14 -> 16 (recommended 40, bounds "
                                       "[1, 16])"));
}

/* ensure the target is clamped to min_attention */
static void test_policy_step_clamps_to_min(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(5, 1, GAIN_HIGH);
    struct afd_command cmd;

    c.dwell_ms = 0;
    c.min_attention = 3;
    p = make(state, &c);
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 3);
}

/* ensure nothing happens when the clamped target equals the current count */
static void test_policy_step_at_bound_idle(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(16, 40, GAIN_HIGH);
    struct afd_policy_status s;

    c.dwell_ms = 0;
    p = make(state, &c);
    steps_none(p, &in, 0, 10000, 1000);
    s = status_at(p, 10000);
    assert_int_equal(s.state, AFD_POLICY_IDLE);
    assert_string_equal(s.reason, "recommended 40 Attention instances is "
                                  "outside [1, 16]; already at 16");
}

/* ensure a count below min is raised at once, without gain or dwell */
static void test_policy_step_below_min_corrects_at_once(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(0, 2, GAIN_HIGH);
    struct afd_command cmd;

    c.min_attention = 4;
    p = make(state, &c);
    in.tput_current = 0; /* no Attention instance: no throughput */
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.current, 0);
    assert_int_equal(cmd.target, 4);
    assert_true(cmd.expected_gain == 0);
    assert_string_equal(cmd.reason, "0 Attention instances is below the "
                                    "minimum 4; 0 -> 4 (recommended 2, "
                                    "bounds [4, 16])");
}

/* ensure a count above max is lowered in max_step steps despite low gain */
static void test_policy_step_above_max_corrects_stepwise(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(30, 20, GAIN_LOW);
    struct afd_command cmd;

    p = make(state, &c);
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 26);
    assert_non_null(strstr(cmd.reason, "30 Attention instances is above the "
                                       "maximum 16; 30 -> 26 (step limit 4, "
                                       "toward 16)"));
}

/* ensure max_step limits a downward move */
static void test_policy_step_limits_step_down(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(12, 2, GAIN_HIGH);
    struct afd_command cmd;

    c.dwell_ms = 0;
    c.max_step = 3;
    p = make(state, &c);
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 9);
}

/* ensure a target held for the old requests in flight says so in the
 * command's reason, the decision itself unchanged */
static void test_policy_reason_old_requests(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(12, 6, GAIN_HIGH);
    struct afd_command cmd;

    c.dwell_ms = 0;
    c.max_step = 16;
    in.old_requests = true;
    p = make(state, &c);
    assert_int_equal(step(p, &in, 0, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 6);
    assert_non_null(strstr(cmd.reason, "for 1 FFN, old requests in flight, "));
}

/* ensure advisory mode reports decisions but never issues a command */
static void test_policy_step_advisory_never_commands(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 6, GAIN_HIGH);
    struct afd_policy_status s;
    struct afd_command cmd;

    c.advisory = true;
    p = make(state, &c);
    steps_none(p, &in, 0, 29999, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_ADVISORY);
    assert_true(cmd.id == 0);
    assert_int_equal(cmd.target, 6);
    assert_non_null(strstr(cmd.reason, "advisory: attention-bound"));
    s = status_at(p, 30000);
    assert_false(s.has_pending);
    assert_int_equal(s.state, AFD_POLICY_COOLDOWN);
    assert_true(s.has_last);
    assert_int_equal(s.last.target, 6);
    assert_int_equal(afd_policy_ack(p, 0, true, NULL, 30000, NULL),
                     AFD_ENOTFOUND);
    /* the same advice again only once the cooldown (to 150000) is over */
    steps_none(p, &in, 31000, 149999, 1000);
    assert_int_equal(step(p, &in, 150000, &cmd), AFD_DECISION_ADVISORY);
    s = status_at(p, 150000);
    assert_true(s.counters.advisories == 2);
    assert_true(s.counters.issued == 0);
}

/* ensure bad inputs are rejected naming the field, counted, no state change */
static void test_policy_step_rejects_bad_input(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input good = input(4, 6, GAIN_HIGH), bad;
    struct afd_policy_counters k;
    struct afd_command cmd;
    enum afd_decision d;
    char err[AFD_ERR_LEN];

    steps_none(p, &good, 0, 0, 1000); /* dwell starts at 0 */
#define BAD(field, stmt)                                                       \
    do {                                                                       \
        bad = good;                                                            \
        stmt;                                                                  \
        err[0] = '\0';                                                         \
        assert_int_equal(afd_policy_step(p, &bad, 10000, &d, &cmd, err),       \
                         AFD_EINVAL);                                          \
        assert_int_equal(d, AFD_DECISION_NONE);                                \
        if (!strstr(err, "'" field "'"))                                       \
            fail_msg("message for %s: %s", field, err);                        \
    } while (0)
    BAD("attention", bad.attention = -1);
    BAD("ffn", bad.ffn = 0);
    BAD("target", bad.target = 0);
    BAD("tput_current", bad.tput_current = 0);
    BAD("tput_current", bad.tput_current = INFINITY);
    BAD("tput_target", bad.tput_target = NAN);
    BAD("regime", bad.regime = (enum afd_regime)7);
    BAD("r_star", bad.r_star = -1);
    BAD("min_dwell_ms", bad.min_dwell_ms = -1);
    BAD("min_dwell_ms", bad.min_dwell_ms = AFD_POLICY_DURATION_MAX + 1LL);
    BAD("stood_ms", bad.stood_ms = -1);
#undef BAD
    afd_policy_counters(p, &k);
    assert_true(k.invalid_inputs == 11);
    /* the dwell that started at 0 was not disturbed */
    assert_int_equal(step(p, &good, 30000, &cmd), AFD_DECISION_COMMAND);
}

/* ensure a decreasing now_ms is rejected by step, ack and expire */
static void test_policy_step_rejects_time_going_back(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(4, 6, GAIN_HIGH);
    struct afd_command cmd;
    enum afd_decision d;
    char err[AFD_ERR_LEN] = "";

    steps_none(p, &in, 5000, 5000, 1);
    assert_int_equal(afd_policy_step(p, &in, 4999, &d, &cmd, err), AFD_EINVAL);
    assert_string_equal(err, "policy of 'llama-70b': now_ms went backwards "
                             "from 5000 to 4999");
    assert_int_equal(afd_policy_expire(p, 4000, NULL), AFD_EINVAL);
    assert_int_equal(afd_policy_ack(p, 1, true, NULL, 4000, NULL), AFD_EINVAL);
    assert_int_equal(afd_policy_step(p, &in, -1, &d, &cmd, err), AFD_EINVAL);
    assert_non_null(strstr(err, "now_ms must be in [0, "));
}

/* ensure status walks idle, dwelling, in flight, cooling down in words */
static void test_policy_status_states(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(4, 6, GAIN_HIGH);
    struct afd_policy_status s;
    struct afd_command cmd;

    s = status_at(p, 0);
    assert_string_equal(s.state_name, "idle");
    assert_string_equal(s.reason, "no evaluation yet");
    assert_false(s.has_last);
    steps_none(p, &in, 0, 10000, 1000);
    s = status_at(p, 10000);
    assert_string_equal(s.state_name, "dwelling");
    assert_true(s.dwell_remaining_ms == 20000);
    assert_string_equal(s.reason, "gain +25.0% for 4 -> 6 above the 2% "
                                  "threshold for 10 s of the 30 s dwell");
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(status_at(p, 30000).state_name, "in flight");
    afd_policy_ack(p, 1, true, NULL, 31000, NULL);
    s = status_at(p, 100000);
    assert_string_equal(s.state_name, "cooling down");
    assert_true(s.cooldown_remaining_ms == 51000);
    assert_string_equal(status_at(p, 151000).state_name, "idle");
}

/* ensure issued = acked + failed + timed_out + in flight after a mix */
static void test_policy_counters_add_up(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 8, GAIN_HIGH);
    struct afd_policy_counters k;
    struct afd_command cmd;

    c.dwell_ms = 0;
    c.cooldown_ms = 0;
    c.backoff_ms = 0;
    p = make(state, &c);
    step(p, &in, 0, &cmd);                           /* id 1 */
    afd_policy_ack(p, 1, true, NULL, 10, NULL);      /* acked */
    step(p, &in, 20, &cmd);                          /* id 2 */
    afd_policy_ack(p, 2, false, "denied", 30, NULL); /* failed */
    step(p, &in, 40, &cmd);                          /* id 3 */
    step(p, &in, 60040, &cmd);                       /* 3 times out, 4 */
    afd_policy_counters(p, &k);
    assert_true(k.issued == 4);
    assert_true(k.acked == 1);
    assert_true(k.failed == 1);
    assert_true(k.timed_out == 1);
    assert_true(k.issued == k.acked + k.failed + k.timed_out + 1);
}

/* ensure a gain above the threshold but not above the model's own
 * uncertainty never acts and says so; below the uncertainty it acts after
 * the dwell; a NaN or negative uncertainty is refused */
static void test_policy_gain_below_uncertainty(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p;
    struct afd_policy_input in = input(4, 8, 1.05); /* +5% */
    struct afd_policy_status st;
    struct afd_command cmd;
    enum afd_decision d;
    char err[AFD_ERR_LEN] = "";

    c.dwell_ms = 0;
    p = make(state, &c);
    in.gain_uncertainty = 0.06;
    steps_none(p, &in, 0, 10000, 1000);
    st = status_at(p, 10000);
    assert_non_null(strstr(st.reason, "below the model's own uncertainty"));
    assert_non_null(strstr(st.reason, "+-6.0%"));
    /* equal (the same double): still not above it */
    in.gain_uncertainty = in.tput_target / in.tput_current - 1;
    steps_none(p, &in, 11000, 12000, 1000);
    in.gain_uncertainty = 0.04;
    assert_int_equal(step(p, &in, 13000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.target, 8);
    in.gain_uncertainty = NAN;
    assert_int_equal(afd_policy_step(p, &in, 14000, &d, &cmd, err), AFD_EINVAL);
    assert_non_null(strstr(err, "gain_uncertainty"));
    in.gain_uncertainty = -0.01;
    assert_int_equal(afd_policy_step(p, &in, 14000, &d, &cmd, err), AFD_EINVAL);
}

/* ensure a lean scale-in (no gain, a bounded cost) acts after the dwell
 * when its cost plus the model's uncertainty is within the threshold, and
 * says why; a cost beyond it never acts and says so; the lean flag on a
 * scale-out changes nothing (the gain test still applies) */
static void test_policy_lean_move(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(12, 6, 0.99); /* -1% */
    struct afd_policy_status st;
    struct afd_command cmd;

    in.lean = true;
    in.gain_uncertainty = 0.015; /* worst case 2.5% > 2% */
    steps_none(p, &in, 0, 40000, 1000);
    st = status_at(p, 40000);
    assert_non_null(strstr(st.reason, "lean move 12 -> 6"));
    assert_non_null(strstr(st.reason, "cost 1.0% (+-1.5%)"));
    in.gain_uncertainty = 0.005;            /* worst case 1.5% */
    steps_none(p, &in, 41000, 70000, 1000); /* the 30 s dwell */
    assert_int_equal(step(p, &in, 71000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.current, 12);
    assert_int_equal(cmd.target, 8); /* the step limit, 4 */
    assert_true(fabs(cmd.expected_gain + 0.01) < 1e-12);
    assert_string_equal(cmd.reason,
                        "lean: 6 Attention instances for 1 FFN, 1.0% (+-0.5%) "
                        "below r*=6.00, within 2%, less to hand back at a "
                        "shift for 30 s; 12 -> 8 (step limit 4, toward 6)");
    afd_policy_free(p);
    /* a scale-out flagged lean: the gain test, not the cost bound */
    p = make(state, &c);
    in = input(4, 6, 0.99);
    in.lean = true;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_non_null(strstr(st.reason, "is not above the 2% threshold"));
}

/* ensure a count that has stood still past the cooldown and the settle
 * time needs the settled threshold: 3% acts before (dwell 30 s), not after
 * (stood 165 s = 120 + 45), and says why; 5% acts; a lean move keeps
 * its own bound (it chases no gain) until a shift has been seen, then
 * only before the count settles; settle_ms 0 never settles */
static void test_policy_settled_count(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(12, 10, 1.03);
    struct afd_policy_status st;
    struct afd_command cmd;

    in.stood_ms = 164999; /* not yet settled: the 2% bar */
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(cmd.reason,
                        "attention-bound: r*=10.00 recommends 10 Attention "
                        "instances for 1 FFN, +3.0% throughput per device, "
                        "above the 2% threshold for 30 s; 12 -> 10");
    afd_policy_free(p);
    p = make(state, &c);
    in.stood_ms = 165000;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_string_equal(st.reason,
                        "gain +3.0% for 12 -> 10 Attention instances is not "
                        "above the 4% threshold for a count settled 165 s");
    in.tput_target = 1.05;
    steps_none(p, &in, 61000, 90000, 1000);
    assert_int_equal(step(p, &in, 91000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(cmd.reason,
                        "attention-bound: r*=10.00 recommends 10 Attention "
                        "instances for 1 FFN, +5.0% throughput per device, "
                        "above the 4% threshold for a settled count for 30 s; "
                        "12 -> 10");
    afd_policy_free(p);
    p = make(state, &c);
    in = input(12, 6, 0.99); /* a lean move, -1%: its own cost bound */
    in.lean = true;
    in.stood_ms = 200000;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_non_null(strstr(cmd.reason, "lean: 6 Attention instances"));
    assert_true(cmd.lean);
    afd_policy_free(p);
    p = make(state, &c); /* after a shift: no lean move once settled */
    in.shifted = true;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_string_equal(st.reason,
                        "gain -1.0% for 12 -> 6 Attention instances is not "
                        "above the 4% threshold for a count settled 200 s");
    in.stood_ms = 164999; /* not settled yet: the lean bound */
    steps_none(p, &in, 61000, 90000, 1000);
    assert_int_equal(step(p, &in, 91000, &cmd), AFD_DECISION_COMMAND);
    assert_non_null(strstr(cmd.reason, "lean: 6 Attention instances"));
    afd_policy_free(p);
    c.settle_ms = 0;
    p = make(state, &c);
    in = input(12, 10, 1.03);
    in.stood_ms = AFD_POLICY_DURATION_MAX;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
}

/* ensure a move up from a lean_held count (a lean move set it, a shift
 * came since) passes at half the threshold, above the gain's uncertainty,
 * with its reason, until the count settles; without lean_held, and for a
 * move down, the usual bar */
static void test_policy_lean_release(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(6, 10, 1.015);
    struct afd_policy_status st;
    struct afd_command cmd;

    in.lean_held = true;
    in.stood_ms = 10000;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(cmd.reason,
                        "release: the shift since the lean move to 6 wants "
                        "more instances, r*=10.00 recommends 10, +1.5% "
                        "(+-0.0%), above half the 2% threshold for 30 s; "
                        "6 -> 10");
    assert_false(cmd.lean);
    afd_policy_free(p);
    /* the configured dwell, not the estimate's lifetime: the new
     * requests' loads rise as they age, so the gain grows while it waits */
    p = make(state, &c);
    in.min_dwell_ms = 60000;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_non_null(strstr(cmd.reason, "release: "));
    afd_policy_free(p);
    p = make(state, &c); /* the same above the full threshold */
    in.tput_target = 1.03;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    afd_policy_free(p);
    p = make(state, &c); /* not lean-held: the lifetime's dwell */
    in.lean_held = false;
    steps_none(p, &in, 0, 59000, 1000);
    assert_int_equal(step(p, &in, 60000, &cmd), AFD_DECISION_COMMAND);
    afd_policy_free(p);
    in.lean_held = true;
    in.min_dwell_ms = 0;
    p = make(state, &c);
    in.tput_target = 1.009;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_string_equal(st.reason, "release 6 -> 10 Attention instances would "
                                   "gain +0.9%, not above half the 2% "
                                   "threshold");
    in.tput_target = 1.015;
    in.gain_uncertainty = 0.02;
    steps_none(p, &in, 61000, 120000, 1000);
    st = status_at(p, 120000);
    assert_string_equal(st.reason,
                        "gain +1.5% for 6 -> 10 Attention instances is below "
                        "the model's own uncertainty (+-2.0%)");
    in.gain_uncertainty = 0;
    in.stood_ms = 165000; /* settled: the settled bar, not a release */
    steps_none(p, &in, 121000, 180000, 1000);
    st = status_at(p, 180000);
    assert_string_equal(st.reason,
                        "gain +1.5% for 6 -> 10 Attention instances is not "
                        "above the 4% threshold for a count settled 165 s");
    in.stood_ms = 10000;
    in.lean_held = false;
    steps_none(p, &in, 181000, 240000, 1000);
    st = status_at(p, 240000);
    assert_string_equal(st.reason,
                        "gain +1.5% for 6 -> 10 Attention instances is not "
                        "above the 2% threshold");
    afd_policy_free(p);
    p = make(state, &c);
    in = input(12, 10, 1.015); /* a move down is no release */
    in.lean_held = true;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_string_equal(st.reason,
                        "gain +1.5% for 12 -> 10 Attention instances is not "
                        "above the 2% threshold");
}

/* ensure a correction after a re-fit (refit: the count was asked for on a
 * calibration that has identified a coefficient since) passes at half the
 * threshold, above the gain's uncertainty, either way, with its reason,
 * until the count settles; without refit, the usual bar */
static void test_policy_refit_correction(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *p = make(state, &c);
    struct afd_policy_input in = input(10, 12, 1.012);
    struct afd_policy_status st;
    struct afd_command cmd;

    in.refit = true;
    in.stood_ms = 10000;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_string_equal(cmd.reason,
                        "refit: the calibration identified more since the "
                        "last move, r*=12.00 recommends 12, +1.2% (+-0.0%), "
                        "above half the 2% threshold for 30 s; 10 -> 12");
    afd_policy_free(p);
    p = make(state, &c); /* down as well */
    in = input(12, 10, 1.015);
    in.refit = true;
    in.stood_ms = 10000;
    steps_none(p, &in, 0, 29000, 1000);
    assert_int_equal(step(p, &in, 30000, &cmd), AFD_DECISION_COMMAND);
    assert_non_null(strstr(cmd.reason, "refit: "));
    assert_int_equal(cmd.target, 10);
    afd_policy_free(p);
    p = make(state, &c);
    in = input(10, 12, 1.009);
    in.refit = true;
    in.stood_ms = 10000;
    steps_none(p, &in, 0, 60000, 1000);
    st = status_at(p, 60000);
    assert_string_equal(st.reason, "correction 10 -> 12 Attention instances "
                                   "after a re-fit would gain +0.9%, not "
                                   "above half the 2% threshold");
    in.tput_target = 1.012;
    in.gain_uncertainty = 0.02;
    steps_none(p, &in, 61000, 120000, 1000);
    st = status_at(p, 120000);
    assert_string_equal(st.reason,
                        "gain +1.2% for 10 -> 12 Attention instances is below "
                        "the model's own uncertainty (+-2.0%)");
    in.gain_uncertainty = 0;
    in.stood_ms = 165000; /* settled: the settled bar */
    steps_none(p, &in, 121000, 180000, 1000);
    st = status_at(p, 180000);
    assert_string_equal(st.reason,
                        "gain +1.2% for 10 -> 12 Attention instances is not "
                        "above the 4% threshold for a count settled 165 s");
    in.stood_ms = 10000;
    in.refit = false;
    steps_none(p, &in, 181000, 240000, 1000);
    st = status_at(p, 240000);
    assert_string_equal(st.reason,
                        "gain +1.2% for 10 -> 12 Attention instances is not "
                        "above the 2% threshold");
}

/* ensure a policy resumed from another's export (a restart or a failover)
 * keeps the id sequence and the command in flight: the in-flight command
 * blocks, its ack is accepted once, cooldown runs from that ack and the
 * next command gets the next id; an inconsistent save changes nothing */
static void test_policy_export_import_resumes(void **state)
{
    struct afd_policy_config c = base_cfg();
    struct afd_policy *a, *b;
    struct afd_policy_saved sv, bad;
    struct afd_policy_input in = input(8, 12, GAIN_HIGH);
    struct afd_policy_status st;
    struct afd_command cmd;
    char err[AFD_ERR_LEN] = "";

    c.dwell_ms = 0;
    a = make(state, &c);
    assert_int_equal(issue_first(a), 1); /* 4 -> 8 in flight */
    afd_policy_export(a, &sv);
    assert_int_equal(sv.next_id, 2);
    assert_true(sv.in_flight);
    assert_int_equal(sv.pending.target, 8);

    b = afd_policy_new("llama-70b", &c, err);
    assert_non_null(b);
    bad = sv;
    bad.pending.id = 2; /* not below next_id */
    assert_int_equal(afd_policy_import(b, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "pending command 2"));
    bad = sv;
    bad.next_id = 0;
    assert_int_equal(afd_policy_import(b, &bad, err), AFD_EINVAL);
    afd_policy_status(b, 0, &st);
    assert_false(st.has_pending);

    assert_int_equal(afd_policy_import(b, &sv, err), AFD_OK);
    afd_policy_status(b, 1000, &st);
    assert_true(st.has_pending);
    assert_int_equal(st.pending.id, 1);
    assert_int_equal(st.ack_remaining_ms, 59000); /* issued at 0, 60 s */
    assert_int_equal(step(b, &in, 1000, &cmd), AFD_DECISION_NONE);
    assert_int_equal(afd_policy_ack(b, 1, true, NULL, 2000, err), AFD_OK);
    afd_policy_status(b, 2000, &st);
    assert_int_equal(st.cooldown_remaining_ms, 120000);
    assert_int_equal(afd_policy_ack(b, 1, true, NULL, 2000, err), AFD_ESTATE);
    assert_int_equal(st.counters.issued, 1);
    assert_int_equal(st.counters.acked, 1);
    steps_none(b, &in, 2000, 121999, 1000);
    assert_int_equal(step(b, &in, 122000, &cmd), AFD_DECISION_COMMAND);
    assert_int_equal(cmd.id, 2);

    /* ids never go back: an older save leaves next_id where it is */
    assert_int_equal(afd_policy_ack(b, 2, true, NULL, 123000, err), AFD_OK);
    sv.in_flight = false;
    assert_int_equal(afd_policy_import(b, &sv, err), AFD_OK);
    afd_policy_export(b, &bad);
    assert_int_equal(bad.next_id, 3);
    afd_policy_free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_config_init_defaults),
        cmocka_unit_test(test_policy_config_check_names_field),
        cmocka_unit_test(test_policy_new_rejects_bad_name),
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_policy_step_below_threshold_never_acts),
        T(test_policy_gain_below_uncertainty),
        T(test_policy_lean_move),
        T(test_policy_settled_count),
        T(test_policy_lean_release),
        T(test_policy_refit_correction),
        T(test_policy_step_gain_at_threshold_never_acts),
        T(test_policy_step_acts_when_dwell_elapsed),
        T(test_policy_step_min_dwell_extends),
        T(test_policy_step_dwell_restarts_after_dip),
        T(test_policy_step_dwell_restarts_on_flip),
        T(test_policy_step_dwell_kept_when_target_moves),
        T(test_policy_step_confident_skips_dwell),
        T(test_policy_step_in_flight_blocks),
        T(test_policy_step_timeout_allows_new_command),
        T(test_policy_expire_backoff_from_deadline),
        T(test_policy_ack_failure_backs_off),
        T(test_policy_ack_success_cooldown),
        T(test_policy_ack_dwell_restarts_after_command),
        T(test_policy_ack_late_is_stale),
        T(test_policy_ack_unknown_id),
        T(test_policy_step_ids_increase),
        T(test_policy_step_clamps_to_max),
        T(test_policy_step_clamps_to_min),
        T(test_policy_step_at_bound_idle),
        T(test_policy_step_below_min_corrects_at_once),
        T(test_policy_step_above_max_corrects_stepwise),
        T(test_policy_step_limits_step_down),
        T(test_policy_step_advisory_never_commands),
        T(test_policy_reason_old_requests),
        T(test_policy_step_rejects_bad_input),
        T(test_policy_step_rejects_time_going_back),
        T(test_policy_status_states),
        T(test_policy_counters_add_up),
        T(test_policy_export_import_resumes),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
