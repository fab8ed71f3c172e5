/*
 * test_control.c - the controller glue (plugin/daemon/control.h) on a real
 * registry with an injected clock, no gRPC: decisions from a workload
 * shift, acks, cooldown, advisory mode, the KEDA target, the telemetry
 * clock's evaluation boundaries, determinism, alert events, and a drift
 * alert unsettling a settled count.
 *
 * Workloads (paper-v1-fit, y = 1, B = 256, theta from live loads = load /
 * B): theta 100 has its optimum at x = 3 and theta 600 at x = 9 (worked out
 * with `afd-sizer solve --batch 256 --theta 100|600`: r* 2.95 and 9.30).
 * Equal loads on every instance make the measured spread 0.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"

#define DEP      "llama"
#define B        256.0
#define LOAD_100 (100.0 * B) /* theta 100: optimum x = 3 */
#define LOAD_600 (600.0 * B) /* theta 600: optimum x = 9 */
#define MAX_SEEN 64

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    struct afd_control *ctl;
    struct afd_control_command cmds[MAX_SEEN];
    size_t n_cmds;
    struct afd_alert_event alerts[MAX_SEEN];
    size_t n_alerts;
};

static void on_command(const struct afd_control_command *c, void *arg)
{
    struct fixture *f = arg;

    if (f->n_cmds < MAX_SEEN)
        f->cmds[f->n_cmds++] = *c;
}

static void on_alert(const struct afd_alert_event *ev, double r_star, void *arg)
{
    struct fixture *f = arg;

    if (f->n_alerts < MAX_SEEN)
        f->alerts[f->n_alerts++] = *ev;
}

static void config(struct afd_config *cfg, const char *clock, bool advisory)
{
    afd_config_default(cfg);
    snprintf(cfg->controller.clock, sizeof(cfg->controller.clock), "%s", clock);
    cfg->controller.eval_interval_ms = 1000;
    cfg->controller.policy.gain_threshold = 0.02;
    cfg->controller.policy.dwell_ms = 2000;
    cfg->controller.policy.cooldown_ms = 30000;
    cfg->controller.policy.min_attention = 1;
    cfg->controller.policy.max_attention = 64;
    cfg->controller.policy.max_step = 16;
    cfg->controller.policy.ack_timeout_ms = 10000;
    cfg->controller.policy.advisory = advisory;
    cfg->controller.policy.backoff_ms = 5000;
    cfg->alerting.rules.debounce_ms = 1000;
    cfg->alerting.rules.resolve_ms = 2000;
    /* The fixtures' comm times are a floor by construction (per instance):
     * no hedging over the aggregate hypothesis (recommend.c). */
    cfg->default_deployment.comm_mode_known = true;
}

static void start(struct fixture *f)
{
    struct afd_control_sink sink = {on_command, on_alert, f};
    char err[AFD_ERR_LEN] = "";

    f->reg = afd_registry_new(&f->cfg, err);
    if (!f->reg)
        fail_msg("afd_registry_new: %s", err);
    f->ctl = afd_control_new(&f->cfg, f->reg, err);
    if (!f->ctl)
        fail_msg("afd_control_new: %s", err);
    afd_control_set_sink(f->ctl, &sink);
}

static int setup_with(void **state, const char *clock, bool advisory)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    config(&f->cfg, clock, advisory);
    *state = f;
    start(f);
    return 0;
}

static int setup_wall(void **state)
{
    return setup_with(state, "wall", false);
}

static int setup_advisory(void **state)
{
    return setup_with(state, "wall", true);
}

static int setup_telemetry(void **state)
{
    return setup_with(state, "telemetry", false);
}

/* Wall clock, attached to a Dynamo planner that drives DEP only. */
static int setup_planner(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    config(&f->cfg, "wall", false);
    snprintf(f->cfg.dynamo.planner, sizeof(f->cfg.dynamo.planner),
             "127.0.0.1:1");
    snprintf(f->cfg.dynamo.maps[0].deployment,
             sizeof(f->cfg.dynamo.maps[0].deployment), "%s", DEP);
    snprintf(f->cfg.dynamo.maps[0].component_name,
             sizeof(f->cfg.dynamo.maps[0].component_name), "attn");
    f->cfg.dynamo.n_maps = 1;
    *state = f;
    start(f);
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_control_free(f->ctl);
    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* One step from each of x Attention instances at ts (stage times 0). */
static void feed(struct fixture *f, int x, double load, int64_t ts,
                 double attention_ms, double comm_ms)
{
    struct afd_step_sample s;
    char id[16], err[AFD_ERR_LEN] = "";
    int i;

    for (i = 0; i < x; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        memset(&s, 0, sizeof(s));
        s.instance_id = id;
        s.role = AFD_ROLE_ATTENTION;
        s.batch_size = B;
        s.token_load = load;
        s.attention_ms = attention_ms;
        s.comm_ms = comm_ms;
        s.timestamp_ms = ts;
        if (afd_registry_add_step(f->reg, DEP, &s, ts, err) != AFD_REJECT_NONE)
            fail_msg("add_step: %s", err);
    }
}

static struct afd_deployment *dep(struct fixture *f)
{
    struct afd_deployment *d = afd_registry_find(f->reg, DEP);

    assert_non_null(d);
    return d;
}

/* Wall mode: feed x instances at now, then evaluate at now. */
static void tick(struct fixture *f, int x, double load, int64_t now)
{
    feed(f, x, load, now, 0, 0);
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), now), AFD_OK);
}

/* ensure a workload at its optimum issues nothing */
static void test_control_evaluate_at_optimum_issues_nothing(void **state)
{
    struct fixture *f = *state;
    int64_t t;

    for (t = 0; t <= 10000; t += 1000)
        tick(f, 3, LOAD_100, t);
    assert_int_equal(f->n_cmds, 0);
    assert_int_equal(afd_control_last_command_id(f->ctl, dep(f)), 0);
}

/* ensure a shift up issues exactly one command, after the dwell, upwards */
static void test_control_evaluate_shift_up_issues_one_command(void **state)
{
    struct fixture *f = *state;
    int64_t t;

    for (t = 0; t < 5000; t += 1000)
        tick(f, 3, LOAD_100, t);
    /* Gain first seen at 5000; dwell 2000 -> the command at 7000. */
    tick(f, 3, LOAD_600, 5000);
    tick(f, 3, LOAD_600, 6000);
    assert_int_equal(f->n_cmds, 0);
    tick(f, 3, LOAD_600, 7000);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(f->cmds[0].cmd.id, 1);
    assert_string_equal(f->cmds[0].cmd.deployment, DEP);
    assert_int_equal(f->cmds[0].cmd.current, 3);
    assert_true(f->cmds[0].cmd.target > 3);
    assert_true(f->cmds[0].cmd.target <= 3 + 16);
    assert_int_equal(f->cmds[0].cmd.issued_ms, 7000);
    assert_false(f->cmds[0].advisory);
    assert_true(f->cmds[0].r_star > 3);
    /* In flight: nothing more, whatever the time. */
    for (t = 8000; t <= 9000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(afd_control_last_command_id(f->ctl, dep(f)), 1);
}

/* ensure a shift down issues one command to the theta-100 optimum, 3 */
static void test_control_evaluate_shift_down_targets_optimum(void **state)
{
    struct fixture *f = *state;
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 9, LOAD_100, t);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(f->cmds[0].cmd.current, 9);
    assert_int_equal(f->cmds[0].cmd.target, 3);
    assert_int_equal(f->cmds[0].cmd.issued_ms, 2000);
}

/* ensure a successful ack blocks new commands for the cooldown, then not */
static void test_control_ack_success_starts_cooldown(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN] = "";
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, "ok", 2500, err),
                     AFD_OK);
    /* x stays 3 (the move is still wanted): cooldown until 32500. */
    for (t = 3000; t <= 32000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    tick(f, 3, LOAD_600, 32500);
    assert_int_equal(f->n_cmds, 2);
    assert_int_equal(f->cmds[1].cmd.id, 2);
    assert_int_equal(f->cmds[1].cmd.issued_ms, 32500);
}

/* ensure acks of unknown, repeated and zero ids are refused with reasons */
static void test_control_ack_bad_ids_refused(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN] = "";
    int64_t t;

    tick(f, 3, LOAD_600, 0);
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, NULL, 0, err),
                     AFD_ENOTFOUND);
    assert_non_null(strstr(err, "never issued command 1"));
    for (t = 1000; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    err[0] = '\0';
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 0, true, NULL, 2100, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "command_id"));
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 9, true, NULL, 2100, err),
                     AFD_ENOTFOUND);
    assert_non_null(strstr(err, "never issued command 9"));
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, NULL, 2200, err),
                     AFD_OK);
    err[0] = '\0';
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, NULL, 2300, err),
                     AFD_ESTATE);
    assert_true(err[0] != '\0');
}

/* ensure a failed ack starts the backoff and KEDA goes back to current x */
static void test_control_ack_failure_backs_off(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN] = "";
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(afd_control_keda_target(
                         f->ctl, dep(f), afd_deployment_recommendation(dep(f))),
                     f->cmds[0].cmd.target);
    assert_int_equal(
        afd_control_ack(f->ctl, dep(f), 1, false, "no capacity", 2500, err),
        AFD_OK);
    assert_int_equal(afd_control_keda_target(
                         f->ctl, dep(f), afd_deployment_recommendation(dep(f))),
                     3);
    /* Backoff 5000 from 2500: nothing up to 7000, then command 2 at 7500. */
    for (t = 3000; t <= 7000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    tick(f, 3, LOAD_600, 7500);
    assert_int_equal(f->n_cmds, 2);
}

/* ensure KEDA serves the current x before any command, then the command */
static void test_control_keda_target_follows_commands(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN] = "";
    int target;

    tick(f, 3, LOAD_600, 0);
    /* The recommendation wants more, but no command yet: hold at 3. */
    assert_true(
        afd_deployment_recommendation(dep(f))->target_attention_instances > 3);
    assert_int_equal(afd_control_keda_target(
                         f->ctl, dep(f), afd_deployment_recommendation(dep(f))),
                     3);
    tick(f, 3, LOAD_600, 1000);
    tick(f, 3, LOAD_600, 2000);
    assert_int_equal(f->n_cmds, 1);
    target = f->cmds[0].cmd.target;
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, "", 2100, err),
                     AFD_OK);
    assert_int_equal(afd_control_keda_target(
                         f->ctl, dep(f), afd_deployment_recommendation(dep(f))),
                     target);
}

/* ensure the in-flight command is available for a reconnecting watcher */
static void test_control_in_flight_until_acked(void **state)
{
    struct fixture *f = *state;
    struct afd_control_command cc;
    char err[AFD_ERR_LEN] = "";
    int64_t t;

    tick(f, 3, LOAD_600, 0);
    assert_false(afd_control_in_flight(f->ctl, dep(f), &cc));
    for (t = 1000; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_true(afd_control_in_flight(f->ctl, dep(f), &cc));
    assert_int_equal(cc.cmd.id, 1);
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, "", 2100, err),
                     AFD_OK);
    assert_false(afd_control_in_flight(f->ctl, dep(f), &cc));
}

/* ensure the history ring returns commands oldest first, at most cap */
static void test_control_history_lists_commands(void **state)
{
    struct fixture *f = *state;
    struct afd_control_command h[4];
    char err[AFD_ERR_LEN] = "";
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(afd_control_ack(f->ctl, dep(f), 1, true, "", 2000, err),
                     AFD_OK);
    for (t = 3000; t <= 32000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 2);
    assert_int_equal(afd_control_history(f->ctl, dep(f), h, 4), 2);
    assert_int_equal(h[0].cmd.id, 1);
    assert_int_equal(h[1].cmd.id, 2);
    assert_int_equal(afd_control_history(f->ctl, dep(f), h, 1), 1);
    assert_int_equal(h[0].cmd.id, 2); /* the newest one */
}

/* ensure advisory mode reports (id 0, advisory) and issues nothing */
static void test_control_advisory_reports_only(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *rec;
    struct afd_control_command cc;
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_int_equal(f->n_cmds, 1);
    assert_true(f->cmds[0].advisory);
    assert_int_equal(f->cmds[0].cmd.id, 0);
    assert_true(f->cmds[0].cmd.target > 3);
    assert_int_equal(afd_control_last_command_id(f->ctl, dep(f)), 0);
    assert_false(afd_control_in_flight(f->ctl, dep(f), &cc));
    rec = afd_deployment_recommendation(dep(f));
    assert_int_equal(afd_control_keda_target(f->ctl, dep(f), rec),
                     rec->target_attention_instances);
}

/* ensure a deployment the Dynamo planner drives gets its decisions as
 * advisory reports (one actuator: Propose) and KEDA the recommendation;
 * an advisory planner, or an unmapped deployment, is not driven */
static void test_control_planner_driven_reports_only(void **state)
{
    struct fixture *f = *state;
    const struct afd_recommendation *rec;
    struct afd_control_command cc;
    int64_t t;

    for (t = 0; t <= 2000; t += 1000)
        tick(f, 3, LOAD_600, t);
    assert_true(afd_control_external(f->ctl, dep(f)));
    assert_int_equal(f->n_cmds, 1);
    assert_true(f->cmds[0].advisory);
    assert_int_equal(f->cmds[0].cmd.id, 0);
    assert_true(f->cmds[0].cmd.target > 3);
    assert_false(afd_control_in_flight(f->ctl, dep(f), &cc));
    rec = afd_deployment_recommendation(dep(f));
    assert_int_equal(afd_control_keda_target(f->ctl, dep(f), rec),
                     rec->target_attention_instances);
    /* An advisory planner actuates nothing: the controller does. */
    f->cfg.dynamo.advisory = true;
    assert_false(afd_config_dynamo_drives(&f->cfg.dynamo, DEP));
    f->cfg.dynamo.advisory = false;
    assert_false(afd_config_dynamo_drives(&f->cfg.dynamo, "other"));
}

/* ensure telemetry-clock evaluations run exactly at boundary crossings */
static void test_control_telemetry_clock_evaluates_at_boundaries(void **state)
{
    struct fixture *f = *state;
    struct afd_control_status st;
    const int64_t T0 = 1700000000000LL;

    feed(f, 1, LOAD_100, T0 + 100, 0, 0); /* first sample: evaluates */
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 1);
    feed(f, 1, LOAD_100, T0 + 500, 0, 0);
    feed(f, 1, LOAD_100, T0 + 999, 0, 0);
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 1);
    feed(f, 1, LOAD_100, T0 + 1000, 0, 0); /* crosses T0 + 1000 */
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 2);
    feed(f, 1, LOAD_100, T0 + 5500, 0, 0); /* jumps several: one eval */
    feed(f, 1, LOAD_100, T0 + 5600, 0, 0);
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 3);
    feed(f, 1, LOAD_100, T0 + 300, 0, 0); /* late sample: clock stays */
    assert_int_equal(afd_deployment_clock_ms(dep(f)), T0 + 5600);
    assert_int_equal(afd_control_now_ms(f->ctl, dep(f), 42), T0 + 5600);
    feed(f, 1, LOAD_100, T0 + 6000, 0, 0);
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 4);
    assert_int_equal(st.clock_ms, T0 + 6000);
    /* The wall tick does nothing in telemetry mode. */
    afd_control_tick(f->ctl, T0 + 99999);
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_int_equal(st.evaluations, 4);
}

/* ensure an absurd timestamp is rejected so the clock cannot be poisoned */
static void test_control_telemetry_clock_rejects_far_future(void **state)
{
    struct fixture *f = *state;
    struct afd_step_sample s;
    char err[AFD_ERR_LEN] = "";

    feed(f, 1, LOAD_100, 1000, 0, 0);
    memset(&s, 0, sizeof(s));
    s.instance_id = "a0";
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = B;
    s.token_load = LOAD_100;
    s.timestamp_ms = 253402300800000LL; /* year 10000 */
    assert_int_equal(afd_registry_add_step(f->reg, DEP, &s, 0, err),
                     AFD_REJECT_OUT_OF_RANGE);
    assert_non_null(strstr(err, "timestamp_ms"));
    assert_int_equal(afd_deployment_clock_ms(dep(f)), 1000);
}

/* Telemetry run of a shift; every command (id, target, issued) in out. */
static size_t telemetry_run(struct fixture *f)
{
    const int64_t T0 = 1700000000000LL;
    int s, k;

    for (s = 0; s < 20; s++)
        for (k = 1; k <= 10; k++)
            feed(f, 3, s < 5 ? LOAD_100 : LOAD_600, T0 + s * 1000 + k * 100, 0,
                 0);
    return f->n_cmds;
}

/* ensure telemetry time drives the dwell: the command at boundary + 2 s */
static void test_control_telemetry_clock_shift_issues_on_time(void **state)
{
    struct fixture *f = *state;
    const int64_t T0 = 1700000000000LL;

    /* Window s ends at T0 + (s+1)*1000, its boundary. The theta-600 load
     * is first evaluated at T0+6000; dwell 2 s -> command at T0+8000. */
    assert_int_equal(telemetry_run(f), 1);
    assert_int_equal(f->cmds[0].cmd.issued_ms, T0 + 8000);
    assert_int_equal(f->cmds[0].cmd.current, 3);
    assert_true(f->cmds[0].cmd.target > 3);
}

/* ensure the same telemetry in the same order gives the same decisions */
static void test_control_telemetry_clock_is_deterministic(void **state)
{
    struct fixture *f = *state;
    struct fixture *g;
    size_t i;

    assert_int_equal(setup_telemetry((void **)&g), 0);
    telemetry_run(f);
    telemetry_run(g);
    assert_int_equal(f->n_cmds, g->n_cmds);
    for (i = 0; i < f->n_cmds; i++) {
        assert_int_equal(f->cmds[i].cmd.id, g->cmds[i].cmd.id);
        assert_int_equal(f->cmds[i].cmd.target, g->cmds[i].cmd.target);
        assert_int_equal(f->cmds[i].cmd.issued_ms, g->cmds[i].cmd.issued_ms);
        assert_string_equal(f->cmds[i].cmd.reason, g->cmds[i].cmd.reason);
        assert_memory_equal(&f->cmds[i].r_star, &g->cmds[i].r_star,
                            sizeof(double));
    }
    teardown((void **)&g);
}

/* Events of kind k in f's alert log. */
static size_t count_alerts(const struct fixture *f, enum afd_alert_kind k,
                           enum afd_alert_action a)
{
    size_t i, n = 0;

    for (i = 0; i < f->n_alerts; i++)
        n += f->alerts[i].kind == k && f->alerts[i].action == a;
    return n;
}

/* ensure a change of the term binding r* raises AfdSizingRegimeChanged after
 * the debounce and resolves it after the resolve time */
static void test_control_alerts_regime_change_raise_and_resolve(void **state)
{
    struct fixture *f = *state;
    struct afd_control_status st;
    int64_t t = 0;
    int i;

    /* Comm 20 ms above attention 2 ms: the comm floor sets r* (r_C), the
     * silent baseline. (Not the FFN peak: with no FFN sample its split is
     * the prior's guess, and a move from it is no news, alert.h.) */
    for (i = 0; i < 40; i++)
        feed(f, 1, LOAD_100, t, 2.0, 20.0);
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), t), AFD_OK);
    assert_int_equal(
        count_alerts(f, AFD_ALERT_SIZING_CHANGED, AFD_ALERT_RAISED), 0);
    /* Warm-up is 2 * debounce = 2000 ms: the baseline is learned silently. */
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), 2000), AFD_OK);
    t = 2000;
    /* 40 samples of 80 ms lift the attention line above the comm floor:
     * r_A now sets r*. */
    for (i = 0; i < 40; i++)
        feed(f, 1, LOAD_100, t, 80.0, 20.0);
    t = 3000;
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), t), AFD_OK);
    assert_int_equal(
        count_alerts(f, AFD_ALERT_SIZING_CHANGED, AFD_ALERT_RAISED),
        0); /* pending: debounce 1000 */
    t = 4000;
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), t), AFD_OK);
    assert_int_equal(
        count_alerts(f, AFD_ALERT_SIZING_CHANGED, AFD_ALERT_RAISED), 1);
    for (i = 0; i < (int)f->n_alerts; i++)
        if (f->alerts[i].kind == AFD_ALERT_SIZING_CHANGED) {
            assert_int_equal(f->alerts[i].regime, AFD_REGIME_ATTENTION);
            assert_int_equal(f->alerts[i].previous, AFD_REGIME_COMMUNICATION);
            assert_int_equal(f->alerts[i].start_ms, 3000);
            assert_string_equal(f->alerts[i].deployment, DEP);
        }
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_true(st.alerts.kind[AFD_ALERT_SIZING_CHANGED].firing);
    /* The raise made attention the stable regime: clear from 4000, so
     * resolved at 4000 + resolve 2000 = 6000, not before. */
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), 5000), AFD_OK);
    assert_int_equal(
        count_alerts(f, AFD_ALERT_SIZING_CHANGED, AFD_ALERT_RESOLVED), 0);
    assert_int_equal(afd_control_evaluate(f->ctl, dep(f), 6000), AFD_OK);
    assert_int_equal(
        count_alerts(f, AFD_ALERT_SIZING_CHANGED, AFD_ALERT_RESOLVED), 1);
    for (i = 0; i < (int)f->n_alerts; i++)
        if (f->alerts[i].kind == AFD_ALERT_SIZING_CHANGED &&
            f->alerts[i].action == AFD_ALERT_RESOLVED)
            assert_int_equal(f->alerts[i].end_ms, 6000);
}

/* Settled after 10 s still (no cooldown) and then held to a 99% bar;
 * alerts raised 8 s after their condition. */
static int setup_settled(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    config(&f->cfg, "wall", false);
    f->cfg.controller.policy.cooldown_ms = 0;
    f->cfg.controller.policy.settle_ms = 10000;
    f->cfg.controller.policy.settled_gain_threshold = 0.99;
    f->cfg.alerting.rules.debounce_ms = 8000; /* after the optimum moved */
    *state = f;
    start(f);
    return 0;
}

/* ensure a profile-drift alert raised unsettles a settled count: 3
 * instances at their optimum for 20 s (attention 4 ms), then the
 * attention stage 5x slower at the same load moves the optimum up; the
 * settled bar (99%) holds the move until the alert is raised, and the
 * ordinary 2% bar acts one dwell (2 s) after the policy sees it */
static void test_control_drift_unsettles_count(void **state)
{
    struct fixture *f = *state;
    struct afd_control_status st;
    bool held = false;
    int64_t t, raised = -1;
    int i;

    for (t = 0; t <= 20000; t += 1000) {
        for (i = 0; i < 4; i++)
            feed(f, 3, LOAD_600, t, 4.0, 0.5);
        assert_int_equal(afd_control_evaluate(f->ctl, dep(f), t), AFD_OK);
    }
    assert_true(afd_control_status(f->ctl, dep(f), &st));
    assert_string_equal(st.policy.reason,
                        "at the recommendation: 3 Attention instances for 1 "
                        "FFN");
    for (t = 21000; t <= 40000 && f->n_cmds == 0; t += 1000) {
        for (i = 0; i < 4; i++)
            feed(f, 3, LOAD_600, t, 20.0, 0.5);
        assert_int_equal(afd_control_evaluate(f->ctl, dep(f), t), AFD_OK);
        assert_true(afd_control_status(f->ctl, dep(f), &st));
        held |= strstr(st.policy.reason, "99% threshold for a count "
                                         "settled") != NULL;
        if (raised < 0 &&
            count_alerts(f, AFD_ALERT_PROFILE_DRIFT, AFD_ALERT_RAISED) > 0)
            raised = t;
    }
    assert_true(held);
    assert_true(raised > 0);
    assert_int_equal(f->n_cmds, 1);
    assert_true(f->cmds[0].cmd.target > 3);
    /* the policy steps before the alerts: the next evaluation sees the
     * raise, then the 2 s dwell */
    assert_int_equal(f->cmds[0].cmd.issued_ms, raised + 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define W(fn) cmocka_unit_test_setup_teardown(fn, setup_wall, teardown)
#define A(fn) cmocka_unit_test_setup_teardown(fn, setup_advisory, teardown)
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup_telemetry, teardown)
        W(test_control_evaluate_at_optimum_issues_nothing),
        W(test_control_evaluate_shift_up_issues_one_command),
        W(test_control_evaluate_shift_down_targets_optimum),
        W(test_control_ack_success_starts_cooldown),
        W(test_control_ack_bad_ids_refused),
        W(test_control_ack_failure_backs_off),
        W(test_control_keda_target_follows_commands),
        W(test_control_in_flight_until_acked),
        W(test_control_history_lists_commands),
        A(test_control_advisory_reports_only),
        cmocka_unit_test_setup_teardown(
            test_control_planner_driven_reports_only, setup_planner, teardown),
        T(test_control_telemetry_clock_evaluates_at_boundaries),
        T(test_control_telemetry_clock_rejects_far_future),
        T(test_control_telemetry_clock_shift_issues_on_time),
        T(test_control_telemetry_clock_is_deterministic),
        W(test_control_alerts_regime_change_raise_and_resolve),
        cmocka_unit_test_setup_teardown(test_control_drift_unsettles_count,
                                        setup_settled, teardown),
#undef W
#undef A
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
