/*
 * test_policy_run.c - the resizable fleet (integration/sim/fleet.h) and the
 * offline policies (integration/sim/policy_run.h): token and load
 * bookkeeping across resizes against a request-by-request recount, hand
 * back resuming progress, hand-checked step accounting, the ordering
 * oracle >= best-static >= every static, determinism, policy names and
 * settle times.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "integration/sim/fleet.h"
#include "integration/sim/policy_run.h"

static const struct afd_profile *paper(void)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");

    assert_non_null(p);
    return p;
}

/* Checks the fleet's incremental counts against its recount. */
static void check_audit(const struct afd_fleet *f, const char *when)
{
    struct afd_fleet_totals t;
    struct afd_fleet_audit a;

    afd_fleet_totals(f, &t);
    afd_fleet_audit(f, &a);
    if (!a.loads_exact)
        fail_msg("%s: loads differ from the per-slot sums", when);
    if (a.tokens != t.tokens)
        fail_msg("%s: %.0f tokens counted per step, %.0f per request", when,
                 t.tokens, a.tokens);
    if (a.in_slots != (uint64_t)(afd_fleet_attention(f) * afd_fleet_batch(f)))
        fail_msg("%s: %llu requests in slots, want %ld", when,
                 (unsigned long long)a.in_slots,
                 afd_fleet_attention(f) * afd_fleet_batch(f));
    if (a.waiting != afd_fleet_waiting(f))
        fail_msg("%s: waiting pool count differs", when);
}

/* ensure resizes, batch cuts and phase switches keep every decoded token
 * counted exactly once and every load exact, step by step */
static void test_afd_fleet_resize_tokens_exact(void **state)
{
    static const long xs[] = {3, 5, 2, 2, 6, 1, 4};
    static const long bs[] = {8, 8, 5, 11, 3, 8, 8};
    struct afd_gen g1, g2;
    struct afd_fleet *f;
    struct afd_sim_step_info info;
    char err[AFD_ERR_LEN], when[64];
    size_t k;
    int s;

    (void)state;
    assert_int_equal(afd_gen_parse("geometric:prompt=20,decode=15", &g1, err),
                     AFD_OK);
    assert_int_equal(afd_gen_parse("fixed:prompt=7,decode=40", &g2, err),
                     AFD_OK);
    f = afd_fleet_new(paper(), 8, 16, err);
    assert_non_null(f);
    struct afd_fleet_phase ph = {&g1, 8, 1, 11, 0};
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    assert_int_equal(afd_fleet_start(f, 3, err), AFD_OK);
    check_audit(f, "start");
    for (k = 0; k < sizeof(xs) / sizeof(xs[0]); k++) {
        struct afd_fleet_phase q = {k % 2 ? &g2 : &g1, bs[k], 1 + (long)k % 2,
                                    100 + k, 0};
        assert_int_equal(afd_fleet_set_phase(f, &q, err), AFD_OK);
        snprintf(when, sizeof(when), "phase %zu", k);
        check_audit(f, when);
        assert_int_equal(afd_fleet_resize(f, xs[k], err), AFD_OK);
        snprintf(when, sizeof(when), "resize %zu", k);
        check_audit(f, when);
        for (s = 0; s < 37; s++) {
            afd_fleet_step(f, &info);
            snprintf(when, sizeof(when), "phase %zu step %d", k, s);
            check_audit(f, when);
        }
    }
    afd_fleet_free(f);
    afd_gen_release(&g1);
    afd_gen_release(&g2);
}

/* ensure a start holds what a long-running fleet holds (renewal theory):
 * on geometric decodes of mean m the slot's request is length-biased,
 * E[done] = m - 1 (mean load per slot P + m - 1, not P + (m - 1) / 2 as a
 * uniformly aged plain draw gives), and memoryless, so a 1/m share of the
 * slots finishes per step (a plain draw aged uniformly finishes 28% of
 * them in the first 10 steps at m = 100, not 10%); on fixed decodes the
 * ages are spread evenly, not lined up */
static uint64_t finished_n;

static void count_finish(void *ctx, int64_t prompt, int64_t decode)
{
    (void)ctx, (void)prompt, (void)decode;
    finished_n++;
}

/* A started fleet of x instances of b slots drawing from `spec` (seed 7);
 * *mean_load: the mean load per slot at the start. */
static struct afd_fleet *started(const char *spec, struct afd_gen *g, long x,
                                 long b, double *mean_load)
{
    char err[AFD_ERR_LEN];
    struct afd_fleet *f;
    double load = 0;
    long j;

    assert_int_equal(afd_gen_parse(spec, g, err), AFD_OK);
    f = afd_fleet_new(paper(), x, b, err);
    assert_non_null(f);
    struct afd_fleet_phase ph = {g, b, 1, 7, 0};
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    assert_int_equal(afd_fleet_start(f, x, err), AFD_OK);
    for (j = 0; j < x; j++)
        load += (double)afd_fleet_loads(f)[j];
    *mean_load = load / (double)(x * b);
    return f;
}

/* Requests finished (refills included) in the fleet's next `steps` steps. */
static uint64_t finishes(struct afd_fleet *f, int steps)
{
    struct afd_sim_step_info info;

    finished_n = 0;
    afd_fleet_on_finish(f, count_finish, NULL);
    while (steps-- > 0)
        afd_fleet_step(f, &info);
    return finished_n;
}

static void test_afd_fleet_start_stationary(void **state)
{
    struct afd_gen g, fx;
    struct afd_fleet *f;
    const double n = 64 * 256;
    double load;

    (void)state;
    f = started("geometric:prompt=50,decode=100", &g, 64, 256, &load);
    /* P + E[done] = 50 + 99: the stationary age is geometric on
     * {0, 1, ..} with mean m - 1 and sd 99.5, so the mean of 16384 slots
     * is 149 +- 0.8 at one sd */
    assert_true(fabs(load - 149) < 3.5);
    /* a stationary renewal process finishes t / m per slot in t steps
     * (refilled slots included): 10 / 100 of 16384 = 1638 +- 40 */
    assert_true(fabs((double)finishes(f, 10) - 1638.4) < 160);
    afd_fleet_free(f);

    /* fixed decode 100: ages uniform over 0..99 (mean load 10 + 49.5), so
     * the first 10 steps finish 10% of the slots (all at once if the ages
     * lined up) */
    f = started("fixed:prompt=10,decode=100", &fx, 64, 256, &load);
    assert_true(fabs(load - 59.5) < 1.5);                       /* +- 0.23 */
    assert_true(fabs((double)finishes(f, 10) - 0.1 * n) < 160); /* +- 38 */
    afd_fleet_free(f);
    afd_gen_release(&g);
    afd_gen_release(&fx);
}

/* ensure a removed instance's request resumes with its progress: load
 * P + tokens decoded so far, in the next slot that frees up */
static void test_afd_fleet_hand_back_resumes(void **state)
{
    struct afd_gen g;
    struct afd_fleet *f;
    struct afd_sim_step_info info;
    char err[AFD_ERR_LEN];
    int64_t l0, l1, done1;
    int s;

    (void)state;
    assert_int_equal(afd_gen_parse("fixed:prompt=10,decode=100", &g, err),
                     AFD_OK);
    f = afd_fleet_new(paper(), 2, 1, err);
    assert_non_null(f);
    struct afd_fleet_phase ph = {&g, 1, 1, 5, 0};
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    assert_int_equal(afd_fleet_start(f, 2, err), AFD_OK);
    l0 = afd_fleet_loads(f)[0];
    l1 = afd_fleet_loads(f)[1];
    done1 = l1 - 10; /* aged start: P + decoded so far */
    assert_int_equal(afd_fleet_resize(f, 1, err), AFD_OK);
    assert_int_equal(afd_fleet_waiting(f), 1);
    /* instance 0's request finishes after 100 - (l0 - 10) steps; the
     * handed-back one then takes its slot at load 10 + done1 */
    for (s = 0; s < 100 - (l0 - 10); s++) {
        assert_int_equal(afd_fleet_loads(f)[0], l0 + s);
        afd_fleet_step(f, &info);
    }
    assert_int_equal(afd_fleet_waiting(f), 0);
    assert_int_equal(afd_fleet_loads(f)[0], 10 + done1);
    /* it leaves after its remaining 100 - done1 tokens, then a fresh one
     * (load 10) follows */
    for (s = 0; s < 100 - done1; s++)
        afd_fleet_step(f, &info);
    assert_int_equal(afd_fleet_loads(f)[0], 10);
    check_audit(f, "end");
    afd_fleet_free(f);
    afd_gen_release(&g);
}

/* ensure FFN-bound steps are timed and accounted as hand-computed:
 * x = 4, B = 8, y = 1: t_F = aF*32 + bF dominates t_A and t_C */
static void test_afd_fleet_step_accounting(void **state)
{
    const struct afd_profile *p = paper();
    struct afd_gen g;
    struct afd_fleet *f;
    struct afd_sim_step_info info;
    struct afd_fleet_totals t;
    char err[AFD_ERR_LEN];
    double tf = 2.2444e-3 * 32 + 5.0; /* 5.0718208 ms */
    int s;

    (void)state;
    assert_int_equal(afd_gen_parse("fixed:prompt=10,decode=20", &g, err),
                     AFD_OK);
    f = afd_fleet_new(p, 4, 8, err);
    assert_non_null(f);
    struct afd_fleet_phase ph = {&g, 8, 1, 1, 0};
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    assert_int_equal(afd_fleet_start(f, 4, err), AFD_OK);
    for (s = 0; s < 50; s++) {
        afd_fleet_step(f, &info);
        assert_int_equal(info.bound, AFD_SIM_FFN);
        assert_close(tf, info.step, 1e-12, 1e-12);
    }
    afd_fleet_totals(f, &t);
    assert_close(50.0 * 32, t.tokens, 0, 0);
    assert_close(50 * tf, t.time_ms, 1e-9, 1e-12);
    assert_close(50 * tf * 5, t.device_ms, 1e-9, 1e-12);
    assert_close(50 * tf * 4, t.attention_ms, 1e-9, 1e-12);
    afd_fleet_free(f);
    afd_gen_release(&g);
}

/* ensure bad capacities and counts are refused with the field named */
static void test_afd_fleet_bad_input(void **state)
{
    struct afd_gen g;
    struct afd_fleet *f;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_null(afd_fleet_new(paper(), 0, 8, err));
    assert_non_null(strstr(err, "fleet capacity"));
    assert_int_equal(afd_gen_parse("fixed:prompt=1,decode=2", &g, err), AFD_OK);
    f = afd_fleet_new(paper(), 4, 8, err);
    assert_non_null(f);
    assert_int_equal(afd_fleet_resize(f, 2, err), AFD_ESTATE);
    struct afd_fleet_phase ph = {&g, 9, 1, 1, 0};
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_EINVAL);
    assert_non_null(strstr(err, "batch must be in 1..8, got 9"));
    ph.batch = 8;
    assert_int_equal(afd_fleet_set_phase(f, &ph, err), AFD_OK);
    assert_int_equal(afd_fleet_start(f, 5, err), AFD_EINVAL);
    assert_non_null(strstr(err, "got 5"));
    assert_int_equal(afd_fleet_start(f, 4, err), AFD_OK);
    assert_int_equal(afd_fleet_resize(f, 0, err), AFD_EINVAL);
    assert_non_null(strstr(err, "attention instances must be in 1..4"));
    afd_fleet_free(f);
    afd_gen_release(&g);
}

/* A small two-phase scenario whose best x differ (6 vs about 30). */
static void small_scenario(struct afd_scenario *s)
{
    const char *text =
        "{\"name\": \"small\", \"seed\": 3, \"batch\": 64, \"phases\": ["
        "{\"name\": \"chat\", \"duration_s\": 20, \"workload\": "
        "\"geometric:prompt=100,decode=200\"},"
        "{\"name\": \"long\", \"duration_s\": 30, \"workload\": "
        "\"geometric:prompt=2000,decode=100\"}]}";
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    char err[AFD_ERR_LEN];

    assert_non_null(root);
    assert_int_equal(afd_scenario_from_json(root, ".", "small", s, err),
                     AFD_OK);
    json_decref(root);
}

/* ensure oracle >= best-static >= every static x on a small scenario */
static void test_afd_run_offline_ordering(void **state)
{
    struct afd_scenario s;
    struct afd_run_result orc, best, st;
    char err[AFD_ERR_LEN];
    double v_orc, v_best;
    long x;

    (void)state;
    small_scenario(&s);
    assert_int_equal(afd_run_offline(&s, AFD_RUN_ORACLE, 0, 2, &orc, err),
                     AFD_OK);
    assert_int_equal(afd_run_offline(&s, AFD_RUN_BEST_STATIC, 0, 1, &best, err),
                     AFD_OK);
    v_orc = afd_run_throughput(&s, &orc);
    v_best = afd_run_throughput(&s, &best);
    assert_true(v_orc >= v_best);
    assert_true(orc.phase[0].static_x < orc.phase[1].static_x);
    for (x = 1; x <= 40; x++) {
        assert_int_equal(afd_run_offline(&s, AFD_RUN_STATIC, x, 1, &st, err),
                         AFD_OK);
        if (afd_run_throughput(&s, &st) > v_best)
            fail_msg("static:%ld %.6f beats best-static x=%ld %.6f", x,
                     afd_run_throughput(&s, &st), best.static_x, v_best);
        afd_run_result_release(&st);
    }
    afd_run_result_release(&orc);
    afd_run_result_release(&best);
    afd_scenario_release(&s);
}

/* ensure the same scenario and seed give the same JSON, for any jobs */
static void test_afd_run_offline_deterministic(void **state)
{
    struct afd_scenario s;
    struct afd_run_result a, b;
    char err[AFD_ERR_LEN], *ja, *jb;
    json_t *oa, *ob;

    (void)state;
    small_scenario(&s);
    assert_int_equal(afd_run_offline(&s, AFD_RUN_ORACLE, 0, 1, &a, err),
                     AFD_OK);
    assert_int_equal(afd_run_offline(&s, AFD_RUN_ORACLE, 0, 2, &b, err),
                     AFD_OK);
    oa = afd_run_result_json(&s, &a);
    ob = afd_run_result_json(&s, &b);
    ja = json_dumps(oa, JSON_COMPACT | JSON_REAL_PRECISION(17));
    jb = json_dumps(ob, JSON_COMPACT | JSON_REAL_PRECISION(17));
    assert_string_equal(ja, jb);
    free(ja);
    free(jb);
    json_decref(oa);
    json_decref(ob);
    afd_run_result_release(&a);
    afd_run_result_release(&b);
    afd_scenario_release(&s);
}

/* ensure static-first-phase holds the solver's pick for phase 1 */
static void test_afd_run_offline_static_first_phase(void **state)
{
    struct afd_scenario s;
    struct afd_run_result r;
    struct afd_phase_theory th;
    char err[AFD_ERR_LEN];

    (void)state;
    small_scenario(&s);
    assert_int_equal(afd_phase_theory(&s, 0, &th, err), AFD_OK);
    assert_int_equal(
        afd_run_offline(&s, AFD_RUN_STATIC_FIRST_PHASE, 0, 1, &r, err), AFD_OK);
    assert_int_equal(r.static_x, th.x_barrier);
    assert_int_equal(r.phase[1].static_x, th.x_barrier);
    afd_run_result_release(&r);
    afd_scenario_release(&s);
}

/* ensure phase theory of a fixed workload matches the closed form:
 * theta = P + (D-1)/2, sigma^2 = (D^2 - 1)/12 */
static void test_afd_phase_theory_fixed(void **state)
{
    const char *text = "{\"name\": \"f\", \"phases\": [{\"name\": \"a\", "
                       "\"duration_s\": 1, \"workload\": "
                       "\"fixed:prompt=100,decode=11\"}]}";
    struct afd_phase_theory th;
    struct afd_scenario s;
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_scenario_from_json(root, ".", "f", &s, err), AFD_OK);
    json_decref(root);
    assert_int_equal(afd_phase_theory(&s, 0, &th, err), AFD_OK);
    assert_close(105.0, th.theta, 1e-9, 1e-12);
    assert_close(sqrt(10.0), th.sigma, 1e-9, 1e-9);
    assert_true(th.x_barrier >= 1);
    afd_scenario_release(&s);
}

/* ensure policy names parse, and bad ones fail naming the input */
static void test_afd_run_policy_parse(void **state)
{
    enum afd_run_policy p;
    char err[AFD_ERR_LEN];
    long x;

    (void)state;
    assert_int_equal(afd_run_policy_parse("static:12", &p, &x, err), AFD_OK);
    assert_int_equal(p, AFD_RUN_STATIC);
    assert_int_equal(x, 12);
    assert_int_equal(afd_run_policy_parse("best-static", &p, &x, err), AFD_OK);
    assert_int_equal(p, AFD_RUN_BEST_STATIC);
    assert_string_equal(afd_run_policy_name(p), "best_static");
    assert_int_equal(afd_run_policy_parse("closed-loop", &p, &x, err), AFD_OK);
    assert_string_equal(afd_run_policy_name(p), "closed_loop");
    assert_int_equal(afd_run_policy_parse("static:0", &p, &x, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'static:0'"));
    assert_int_equal(afd_run_policy_parse("static:4x", &p, &x, err),
                     AFD_EINVAL);
    assert_int_equal(afd_run_policy_parse("random", &p, &x, err), AFD_EINVAL);
    assert_non_null(strstr(err, "unknown policy 'random'"));
}

/* ensure settle times come from the last count change in each phase and
 * are null when that change is in the phase's last 10%; a drift inside a
 * phase (at 140 s) starts its own count: 130 s and 160 s give 30 s (from
 * the phase start) and 20 s (from the drift), 30 s in all, not 60 s */
static void test_afd_run_settle(void **state)
{
    static const struct {
        double t;
        int phase;
        long x;
    } pts[] = {{0, 0, 4},   {10, 0, 4},  {20, 0, 4},  {100, 1, 4},
               {130, 1, 9}, {150, 1, 9}, {160, 1, 7}, {190, 1, 7},
               {200, 2, 7}, {210, 2, 7}, {295, 2, 5}, {300, 2, 5}};
    const char *text = "{\"name\": \"s\", \"hardware\": {\"drift\": "
                       "[{\"at_s\": 140, \"stage\": \"attention\", "
                       "\"factor\": 1.25}]}, \"phases\": ["
                       "{\"name\": \"a\", \"duration_s\": 100, \"workload\": "
                       "\"fixed:prompt=1,decode=2\"},"
                       "{\"name\": \"b\", \"duration_s\": 100, \"workload\": "
                       "\"fixed:prompt=1,decode=2\"},"
                       "{\"name\": \"c\", \"duration_s\": 100, \"workload\": "
                       "\"fixed:prompt=1,decode=2\"}]}";
    struct afd_timeline_point tp;
    struct afd_run_result r;
    struct afd_scenario s;
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    char err[AFD_ERR_LEN];
    size_t i;

    (void)state;
    assert_int_equal(afd_scenario_from_json(root, ".", "s", &s, err), AFD_OK);
    json_decref(root);
    memset(&r, 0, sizeof(r));
    r.policy = AFD_RUN_CLOSED_LOOP;
    r.n_phases = 3;
    for (i = 0; i < sizeof(pts) / sizeof(pts[0]); i++) {
        memset(&tp, 0, sizeof(tp));
        tp.t_s = pts[i].t;
        tp.phase = pts[i].phase;
        tp.attention = pts[i].x;
        assert_int_equal(afd_run_add_timeline(&r, &tp, err), AFD_OK);
    }
    afd_run_settle(&s, &r);
    assert_true(r.phase[0].has_settle);
    assert_close(0, r.phase[0].settle_s, 0, 0);
    assert_true(r.phase[1].has_settle);
    assert_close(30, r.phase[1].settle_s, 0, 0);
    assert_false(r.phase[2].has_settle); /* changed at 95 s of 100 */
    afd_run_result_release(&r);
    afd_scenario_release(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_fleet_resize_tokens_exact),
        cmocka_unit_test(test_afd_fleet_start_stationary),
        cmocka_unit_test(test_afd_fleet_hand_back_resumes),
        cmocka_unit_test(test_afd_fleet_step_accounting),
        cmocka_unit_test(test_afd_fleet_bad_input),
        cmocka_unit_test(test_afd_run_offline_ordering),
        cmocka_unit_test(test_afd_run_offline_deterministic),
        cmocka_unit_test(test_afd_run_offline_static_first_phase),
        cmocka_unit_test(test_afd_phase_theory_fixed),
        cmocka_unit_test(test_afd_run_policy_parse),
        cmocka_unit_test(test_afd_run_settle),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
