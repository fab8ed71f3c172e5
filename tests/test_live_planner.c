/*
 * test_live_planner.c - afd-sim's line protocol with an external planner
 * (integration/sim/live_planner.h): the observation line as written, and
 * every form of the answer line, good and bad.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "integration/sim/live_planner.h"

/* Parses text as the planner's answer (capacity 64 instances). */
static int decide(const char *text, struct afd_live_decision *d, char *err)
{
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    int rc;

    assert_non_null(in);
    rc = afd_live_planner_decision(in, 64, d, err);
    fclose(in);
    return rc;
}

/* ensure the observation line carries the fields in a fixed order with
 * round-trip numbers, and ends with one newline */
static void test_observe_line(void **state)
{
    struct afd_live_obs o = {12.5, 1, "sim", 30, 33, 1, 245, 100.25, 499.5};
    char buf[512] = "", err[AFD_ERR_LEN];
    FILE *out = fmemopen(buf, sizeof(buf), "w");

    (void)state;
    assert_non_null(out);
    assert_int_equal(afd_live_planner_observe(out, &o, err), AFD_OK);
    fclose(out);
    assert_string_equal(
        buf, "{\"observe\":{\"t_s\":12.5,\"window_s\":1,\"deployment\":\"sim\","
             "\"workers\":{\"ready_decode\":30,\"expected_decode\":33,"
             "\"ffn\":1},\"traffic\":{\"duration_s\":1,\"num_req\":245,"
             "\"isl\":100.25,\"osl\":499.5}}}\n");
}

/* ensure a decision, no opinion ({} or null replicas) and the reason are
 * read as written */
static void test_decision_forms(void **state)
{
    struct afd_live_decision d;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(
        decide("{\"replicas\": 24, \"reason\": \"why\"}\n", &d, err), AFD_OK);
    assert_true(d.set);
    assert_int_equal(d.replicas, 24);
    assert_string_equal(d.reason, "why");
    assert_int_equal(decide("{}\n", &d, err), AFD_OK);
    assert_false(d.set);
    assert_int_equal(decide("{\"replicas\": null}", &d, err), AFD_OK);
    assert_false(d.set);
    assert_int_equal(decide("{\"replicas\": 64}\r\n", &d, err), AFD_OK);
    assert_int_equal(d.replicas, 64);
}

/* ensure every bad answer is an error naming the problem, never a guess */
static void test_decision_errors(void **state)
{
    static const struct {
        const char *text;
        int rc;
        const char *needle;
    } bad[] = {
        {"", AFD_EIO, "closed its pipe"},
        {"not json\n", AFD_EPARSE, "not a JSON object"},
        {"[1]\n", AFD_EPARSE, "not a JSON object"},
        {"{\"replica\": 3}\n", AFD_EPARSE, "unknown key"},
        {"{\"replicas\": 2.5}\n", AFD_EPARSE, "must be an integer"},
        {"{\"replicas\": \"3\"}\n", AFD_EPARSE, "must be an integer"},
        {"{\"replicas\": 3, \"reason\": 1}\n", AFD_EPARSE, "must be a string"},
        {"{\"replicas\": 0}\n", AFD_EINVAL, "outside 1..64"},
        {"{\"replicas\": 65}\n", AFD_EINVAL, "outside 1..64"},
    };
    struct afd_live_decision d;
    char err[AFD_ERR_LEN];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(decide(bad[i].text, &d, err), bad[i].rc);
        assert_false(d.set);
        if (!strstr(err, bad[i].needle))
            fail_msg("'%s': message '%s' lacks '%s'", bad[i].text, err,
                     bad[i].needle);
    }
}

/* ensure the traffic is the count and the means of the window's requests,
 * zeros for an empty window */
static void test_traffic(void **state)
{
    static const double req[] = {100, 500, 300, 100};
    struct afd_live_obs o;

    (void)state;
    memset(&o, 0, sizeof(o));
    afd_live_planner_traffic(&o, req, 2);
    assert_true(o.num_req == 2 && o.isl == 200 && o.osl == 300);
    afd_live_planner_traffic(&o, req, 0);
    assert_true(o.num_req == 0 && o.isl == 0 && o.osl == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_observe_line),
        cmocka_unit_test(test_decision_forms),
        cmocka_unit_test(test_decision_errors),
        cmocka_unit_test(test_traffic),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
