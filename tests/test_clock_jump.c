/*
 * test_clock_jump.c - a wall clock stepped an hour forward or back fires no
 * command or alert and stalls none (issue 12). The daemon drives its
 * controller and registry with afd_clock_steady_wall_ms (plugin/sys/os.h);
 * afd_clock_test_wall_offset_ms simulates the step. The same scenario on
 * the raw wall clock is shown to fire early, so the test can fail.
 *
 * Workload as tests/test_control.c: paper-v1-fit, y = 1, B = 256, theta
 * from live loads; theta 100 has its optimum at x = 3, theta 600 at x = 9,
 * so x = 3 at theta 600 wants a command after the dwell (300 ms here).
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/sys/os.h"

#define DEP      "llama"
#define B        256.0
#define LOAD_100 (100.0 * B)
#define LOAD_600 (600.0 * B)
#define HOUR_MS  3600000LL
#define DWELL_MS 300

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    struct afd_control *ctl;
    size_t n_cmds, n_alerts;
};

static void on_command(const struct afd_control_command *c, void *arg)
{
    (void)c;
    ((struct fixture *)arg)->n_cmds++;
}

static void on_alert(const struct afd_alert_event *ev, double r_star, void *arg)
{
    (void)ev;
    (void)r_star;
    ((struct fixture *)arg)->n_alerts++;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct afd_control_sink sink = {on_command, on_alert, NULL};
    char err[AFD_ERR_LEN] = "";

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->cfg.controller.eval_interval_ms = 100;
    f->cfg.controller.policy.gain_threshold = 0.02;
    f->cfg.controller.policy.dwell_ms = DWELL_MS;
    f->cfg.controller.policy.cooldown_ms = 30000;
    f->cfg.controller.policy.min_attention = 1;
    f->cfg.controller.policy.max_attention = 64;
    f->cfg.controller.policy.max_step = 16;
    f->cfg.controller.policy.ack_timeout_ms = 10000;
    f->cfg.alerting.rules.debounce_ms = 1000;
    f->cfg.default_deployment.comm_mode_known = true;
    f->reg = afd_registry_new(&f->cfg, err);
    assert_non_null(f->reg);
    f->ctl = afd_control_new(&f->cfg, f->reg, err);
    assert_non_null(f->ctl);
    sink.arg = f;
    afd_control_set_sink(f->ctl, &sink);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_clock_test_wall_offset_ms(0);
    afd_control_free(f->ctl);
    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* x Attention instances report load now, then one evaluation at now, as
 * the daemon's telemetry handler and timer do with its clock. */
static void tick(struct fixture *f, int x, double load, int64_t (*clock)(void))
{
    struct afd_step_sample s;
    char id[16], err[AFD_ERR_LEN] = "";
    int64_t now = clock();
    int i;

    for (i = 0; i < x; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        memset(&s, 0, sizeof(s));
        s.instance_id = id;
        s.role = AFD_ROLE_ATTENTION;
        s.batch_size = B;
        s.token_load = load;
        s.timestamp_ms = now;
        if (afd_registry_add_step(f->reg, DEP, &s, now, err) != AFD_REJECT_NONE)
            fail_msg("add_step: %s", err);
    }
    assert_int_equal(
        afd_control_evaluate(f->ctl, afd_registry_find(f->reg, DEP), now),
        AFD_OK);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* The shift is seen (dwell starts), then the wall clock jumps by jump_ms
 * and the controller is evaluated again right away. Returns commands. */
static size_t shift_then_jump(struct fixture *f, int64_t (*clock)(void),
                              int64_t jump_ms)
{
    tick(f, 3, LOAD_100, clock);
    tick(f, 3, LOAD_600, clock); /* gain first seen: the dwell starts */
    assert_int_equal(f->n_cmds, 0);
    afd_clock_test_wall_offset_ms(jump_ms);
    tick(f, 3, LOAD_600, clock);
    tick(f, 3, LOAD_600, clock);
    return f->n_cmds;
}

/* ensure the steady clock ignores a wall step of an hour either way */
static void test_steady_clock_ignores_wall_steps(void **state)
{
    int64_t w0, s0, w1, s1, w2, s2;

    (void)state;
    w0 = afd_clock_wall_ms();
    s0 = afd_clock_steady_wall_ms();
    afd_clock_test_wall_offset_ms(HOUR_MS);
    w1 = afd_clock_wall_ms();
    s1 = afd_clock_steady_wall_ms();
    afd_clock_test_wall_offset_ms(-HOUR_MS);
    w2 = afd_clock_wall_ms();
    s2 = afd_clock_steady_wall_ms();
    assert_true(w1 - w0 >= HOUR_MS && w1 - w0 < HOUR_MS + 1000);
    assert_true(w0 - w2 >= HOUR_MS - 1000 && w0 - w2 <= HOUR_MS);
    assert_true(s1 >= s0 && s1 - s0 < 1000);
    assert_true(s2 >= s1 && s2 - s1 < 1000); /* never back */
    /* Epoch ms: within a day of the wall clock (not a bare uptime). */
    afd_clock_test_wall_offset_ms(0);
    assert_true(llabs(afd_clock_steady_wall_ms() - afd_clock_wall_ms()) <
                86400000LL);
}

/* ensure an hour forward on the daemon's clock fires no command or alert */
static void test_forward_hour_fires_nothing(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(shift_then_jump(f, afd_clock_steady_wall_ms, HOUR_MS), 0);
    assert_int_equal(f->n_alerts, 0);
}

/* ensure the raw wall clock would have fired: the scenario can fail */
static void test_forward_hour_on_raw_wall_clock_fires(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(shift_then_jump(f, afd_clock_wall_ms, HOUR_MS), 1);
}

/* ensure an hour back neither fires nor stalls: the dwell still ends on
 * time (on the raw wall clock it would wait an hour) */
static void test_backward_hour_neither_fires_nor_stalls(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(shift_then_jump(f, afd_clock_steady_wall_ms, -HOUR_MS), 0);
    sleep_ms(DWELL_MS + 100);
    tick(f, 3, LOAD_600, afd_clock_steady_wall_ms);
    assert_int_equal(f->n_cmds, 1);
    assert_int_equal(f->n_alerts, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_steady_clock_ignores_wall_steps),
        cmocka_unit_test_setup_teardown(test_forward_hour_fires_nothing, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_forward_hour_on_raw_wall_clock_fires, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_backward_hour_neither_fires_nor_stalls, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
