/*
 * test_comm_mode.c - the comm mode learnt from the deployment's own moves
 * (estimator/comm_mode.h), on hand-worked points.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/comm_mode.h"
#include "estimator/profile.h"

static void start(struct afd_comm_mode_tracker *m, enum afd_comm_mode prior)
{
    struct afd_comm_mode_config c;

    afd_comm_mode_config_default(&c);
    afd_comm_mode_init(m, &c, prior);
}

/* ensure a comm time that follows r*B at an unchanged B is called aggregate,
 * with the line through the two points */
static void test_aggregate_identified(void **state)
{
    struct afd_comm_mode_tracker m;
    struct afd_profile p = *afd_profile_builtin("paper-v1-fit");

    (void)state;
    start(&m, AFD_COMM_PER_INSTANCE);
    /* t = 1e-3 * r*B + 0.5 at B = 256: x = 68 then x = 20. */
    assert_false(afd_comm_mode_observe(&m, 256, 68 * 256, 17.908));
    /* A 10% move tests nothing and keeps the older reference. */
    assert_false(afd_comm_mode_observe(&m, 256, 62 * 256, 16.372));
    assert_false(m.identified);
    assert_true(afd_comm_mode_observe(&m, 256, 20 * 256, 5.62));
    assert_true(m.identified);
    assert_int_equal(m.mode, AFD_COMM_AGGREGATE);
    assert_close(1e-3, m.slope, 0, 1e-9);
    assert_close(0.5, m.intercept, 1e-9, 0);
    assert_true(afd_comm_mode_apply(&m, &p));
    assert_int_equal(p.comm_mode, AFD_COMM_AGGREGATE);
    assert_close(1e-3, p.aC, 0, 1e-9);
    assert_close(0.5, p.bC, 1e-9, 0);
}

/* ensure a flat comm time across a 3x move is per instance, and a prior of
 * that mode keeps the calibrated line */
static void test_per_instance_identified(void **state)
{
    struct afd_comm_mode_tracker m;
    struct afd_profile p = *afd_profile_builtin("paper-v1-fit"), q = p;

    (void)state;
    start(&m, AFD_COMM_PER_INSTANCE);
    afd_comm_mode_observe(&m, 256, 30 * 256, 0.556);
    assert_true(afd_comm_mode_observe(&m, 256, 10 * 256, 0.56));
    assert_true(m.identified);
    assert_int_equal(m.mode, AFD_COMM_PER_INSTANCE);
    assert_false(afd_comm_mode_apply(&m, &q));
    assert_true(q.aC == p.aC && q.bC == p.bC);
    /* An aggregate prior learns the flat line: aC 0, bC the time. */
    start(&m, AFD_COMM_AGGREGATE);
    afd_comm_mode_observe(&m, 256, 30 * 256, 0.556);
    afd_comm_mode_observe(&m, 256, 10 * 256, 0.56);
    q.comm_mode = AFD_COMM_AGGREGATE;
    assert_true(afd_comm_mode_apply(&m, &q));
    assert_int_equal(q.comm_mode, AFD_COMM_PER_INSTANCE);
    assert_true(q.aC == 0 && q.bC == 0.56);
}

/* ensure a change of B resets the reference (both modes' tokens moved),
 * an in-between response decides nothing, and bad input is ignored */
static void test_undecided_cases(void **state)
{
    struct afd_comm_mode_tracker m;

    (void)state;
    start(&m, AFD_COMM_PER_INSTANCE);
    afd_comm_mode_observe(&m, 256, 20 * 256, 10);
    assert_false(afd_comm_mode_observe(&m, 128, 40 * 128, 5));
    assert_true(m.ref_b == 128 && m.ref_ms == 5);
    /* r*B halves, comm -7.5%: 0.15 of the move, between 0.05 and 0.25. */
    assert_true(afd_comm_mode_observe(&m, 128, 20 * 128, 4.625));
    assert_false(m.identified);
    assert_true(m.tests == 1);
    assert_false(afd_comm_mode_observe(&m, NAN, 10, 1));
    assert_false(afd_comm_mode_observe(&m, 128, 10 * 128, -1));
    assert_true(m.ref_ms == 4.625);
}

/* ensure the alternative hypothesis predicts the same time at the current
 * point, with the same fixed part when the split is known and all of it per
 * token when not */
static void test_alternative(void **state)
{
    struct afd_profile p = *afd_profile_builtin("paper-v1-fit"), a, b;

    (void)state;
    /* per instance: t = 1e-3 * 256 + 0.3 = 0.556 ms at B = 256, r*B = 5120 */
    afd_comm_mode_alternative(&p, 256, 5120, true, &a);
    assert_int_equal(a.comm_mode, AFD_COMM_AGGREGATE);
    assert_true(a.bC == 0.3);
    assert_close(0.256 / 5120, a.aC, 0, 1e-12);
    assert_close(0.556, a.aC * 5120 + a.bC, 0, 1e-12);
    assert_true(a.aA == p.aA && a.bF == p.bF);
    /* and back */
    afd_comm_mode_alternative(&a, 256, 5120, true, &b);
    assert_int_equal(b.comm_mode, AFD_COMM_PER_INSTANCE);
    assert_close(p.aC, b.aC, 0, 1e-12);
    assert_close(p.bC, b.bC, 0, 1e-12);
    /* split unknown: 0.556 ms all per token, 0.556 / 5120 ms per token */
    afd_comm_mode_alternative(&p, 256, 5120, false, &a);
    assert_int_equal(a.comm_mode, AFD_COMM_AGGREGATE);
    assert_true(a.bC == 0);
    assert_close(0.556 / 5120, a.aC, 0, 1e-12);
}

/* ensure what a tracker learnt survives export and import into a fresh one
 * (its own config and prior kept), and bad state is refused whole */
static void test_export_import(void **state)
{
    struct afd_comm_mode_tracker a, b;
    struct afd_comm_mode_learnt l, bad;
    char err[AFD_ERR_LEN] = "";

    (void)state;
    start(&a, AFD_COMM_PER_INSTANCE);
    afd_comm_mode_observe(&a, 256, 68 * 256, 17.908);
    afd_comm_mode_observe(&a, 256, 20 * 256, 5.62);
    afd_comm_mode_export(&a, &l);
    assert_true(l.identified && l.mode == AFD_COMM_AGGREGATE);
    start(&b, AFD_COMM_PER_INSTANCE);
    b.cfg.min_move = 0.3;
    assert_int_equal(afd_comm_mode_import(&b, &l, err), AFD_OK);
    assert_true(b.identified && b.mode == AFD_COMM_AGGREGATE);
    assert_true(b.slope == a.slope && b.intercept == a.intercept);
    assert_true(b.have_ref && b.ref_rb == 20 * 256 && b.ref_ms == 5.62);
    assert_true(b.tests == 1 && b.cfg.min_move == 0.3);
    /* The next move tests from the imported reference as it would have. */
    assert_true(afd_comm_mode_observe(&b, 256, 40 * 256, 10.74) ==
                afd_comm_mode_observe(&a, 256, 40 * 256, 10.74));
    assert_true(b.tests == 2 && a.tests == 2);
    /* Refused, b unchanged. */
    bad = l;
    bad.slope = NAN;
    assert_int_equal(afd_comm_mode_import(&b, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "line"));
    bad = l;
    bad.mode = (enum afd_comm_mode)7;
    assert_int_equal(afd_comm_mode_import(&b, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "mode 7"));
    bad = l;
    bad.ref_ms = -1;
    assert_int_equal(afd_comm_mode_import(&b, &bad, err), AFD_EINVAL);
    assert_non_null(strstr(err, "reference point"));
    assert_true(b.tests == 2 && b.identified);
    /* Not identified: the importing tracker's own prior stands. */
    start(&a, AFD_COMM_PER_INSTANCE);
    afd_comm_mode_export(&a, &l);
    start(&b, AFD_COMM_AGGREGATE);
    assert_int_equal(afd_comm_mode_import(&b, &l, err), AFD_OK);
    assert_false(b.identified);
    assert_int_equal(b.mode, AFD_COMM_AGGREGATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aggregate_identified),
        cmocka_unit_test(test_per_instance_identified),
        cmocka_unit_test(test_undecided_cases),
        cmocka_unit_test(test_alternative),
        cmocka_unit_test(test_export_import),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
