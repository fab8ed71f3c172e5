/*
 * test_demo_report.c - the demo's result parsing and renderings (table,
 * JSON, SVG) from recorded afd-sim scenario results (fixtures below, two
 * phases, dyadic throughputs so that efficiencies are exact).
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "estimator/base/error.h"
#include "plugin/demo/demo_report.h"

/* Closed loop: overall 1.5 tokens/ms/device, oracle 2.0 -> 0.75. */
static const char closed_loop_json[] =
    "{\"policy\": \"closed_loop\", \"scenario\": \"fixture\", \"seed\": 7,"
    " \"throughput_per_device\": 1.5,"
    " \"per_phase\": ["
    "  {\"name\": \"short chat\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.25, \"attention_instances_mean\": 8.5,"
    "   \"ffn_instances\": 1, \"batch\": 256, \"settle_time_s\": 20},"
    "  {\"name\": \"chat & code <long>\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.75, \"attention_instances_mean\": 11.5,"
    "   \"ffn_instances\": 1, \"batch\": 256, \"settle_time_s\": null}],"
    " \"scale_commands\": 2,"
    " \"timeline\": ["
    "  {\"t_s\": 0, \"phase\": 0, \"attention_instances\": 8,"
    "   \"ffn_instances\": 1, \"throughput_per_device\": 1.2,"
    "   \"r_star\": 9.3, \"r_star_barrier\": 9.0, \"regime\": \"ffn\"},"
    "  {\"t_s\": 50, \"phase\": 0, \"attention_instances\": 9,"
    "   \"ffn_instances\": 1, \"throughput_per_device\": 1.3,"
    "   \"r_star\": 9.3, \"r_star_barrier\": 0, \"regime\": \"ffn\"},"
    "  {\"t_s\": 120, \"phase\": 1, \"attention_instances\": 12,"
    "   \"ffn_instances\": 1, \"throughput_per_device\": 1.8,"
    "   \"r_star\": 12.1, \"r_star_barrier\": null,"
    "   \"regime\": \"attention\"}],"
    " \"commands\": ["
    "  {\"t_s\": 12, \"id\": 1, \"from\": 8, \"to\": 9, \"regime\": \"ffn\","
    "   \"reason\": \"gain 3.1% > 2.0%\"},"
    "  {\"t_s\": 110, \"id\": 2, \"from\": 9, \"to\": 12,"
    "   \"regime\": \"attention\", \"reason\": \"workload shift\"}],"
    " \"alerts\": ["
    "  {\"t_s\": 105, \"alertname\": \"AfdRegimeChanged\","
    "   \"action\": \"raised\", \"regime\": \"attention\","
    "   \"explanation\": \"attention became the slowest stage\"}]}";

static const char static_first_json[] =
    "{\"policy\": \"static_first_phase\", \"scenario\": \"fixture\","
    " \"seed\": 7, \"throughput_per_device\": 1.25, \"scale_commands\": 0,"
    " \"per_phase\": ["
    "  {\"name\": \"short chat\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.25, \"static_attention_instances\": 9},"
    "  {\"name\": \"chat & code <long>\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.25, \"static_attention_instances\": 9}]}";

static const char best_static_json[] =
    "{\"policy\": \"best_static\", \"scenario\": \"fixture\", \"seed\": 7,"
    " \"throughput_per_device\": 1.75, \"scale_commands\": 0,"
    " \"per_phase\": ["
    "  {\"name\": \"short chat\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.5, \"static_attention_instances\": 10},"
    "  {\"name\": \"chat & code <long>\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 2.0, \"static_attention_instances\": 10}]}";

static const char oracle_json[] =
    "{\"policy\": \"oracle\", \"scenario\": \"fixture\", \"seed\": 7,"
    " \"throughput_per_device\": 2.0, \"scale_commands\": 1,"
    " \"per_phase\": ["
    "  {\"name\": \"short chat\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 1.5, \"static_attention_instances\": 9},"
    "  {\"name\": \"chat & code <long>\", \"duration_s\": 100,"
    "   \"throughput_per_device\": 2.5, \"static_attention_instances\": 12}]}";

static int setup(void **state)
{
    struct afd_demo_report *r = calloc(1, sizeof(*r));

    assert_non_null(r);
    afd_demo_report_init(r);
    *state = r;
    return 0;
}

static int teardown(void **state)
{
    afd_demo_report_release(*state);
    free(*state);
    return 0;
}

static void add(struct afd_demo_report *r, const char *json)
{
    char err[AFD_ERR_LEN] = "";

    if (afd_demo_report_add(r, json, strlen(json), err) != AFD_OK)
        fail_msg("add failed: %s", err);
}

static void add_all(struct afd_demo_report *r)
{
    char err[AFD_ERR_LEN] = "";

    add(r, closed_loop_json);
    add(r, static_first_json);
    add(r, best_static_json);
    add(r, oracle_json);
    if (afd_demo_report_check(r, err) != AFD_OK)
        fail_msg("check failed: %s", err);
}

/* A fixture with one substring replaced (static buffer). */
static const char *patched(const char *json, const char *from, const char *to)
{
    static char buf[8192];
    const char *p = strstr(json, from);

    assert_non_null(p);
    snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(p - json), json, to,
             p + strlen(from));
    return buf;
}

/* ensure add parses the closed loop's phases, timeline and events */
static void test_afd_demo_report_add_parses_closed_loop(void **state)
{
    struct afd_demo_report *r = *state;
    const struct afd_demo_policy *p = &r->policies[AFD_DEMO_CLOSED_LOOP];

    add(r, closed_loop_json);
    assert_true(p->present);
    assert_string_equal(p->scenario, "fixture");
    assert_int_equal(p->seed, 7);
    assert_true(p->throughput_per_device == 1.5);
    assert_int_equal(p->scale_commands, 2);
    assert_int_equal(p->n_phases, 2);
    assert_string_equal(p->phases[1].name, "chat & code <long>");
    assert_true(p->phases[0].settle_time_s == 20);
    assert_true(isnan(p->phases[1].settle_time_s));
    assert_true(isnan(p->phases[0].static_attention));
    assert_int_equal(p->n_timeline, 3);
    assert_int_equal(p->timeline[2].attention, 12);
    assert_true(p->timeline[0].r_star_barrier == 9.0);
    assert_true(isnan(p->timeline[1].r_star_barrier)); /* 0 = unknown */
    assert_true(isnan(p->timeline[2].r_star_barrier)); /* null */
    assert_int_equal(p->n_commands, 2);
    assert_int_equal(p->commands[1].id, 2);
    assert_int_equal(p->commands[1].to, 12);
    assert_int_equal(p->n_alerts, 1);
    assert_string_equal(p->alerts[0].alertname, "AfdRegimeChanged");
}

/* ensure add names the policy and field path when a number is missing */
static void test_afd_demo_report_add_missing_field(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";
    const char *bad =
        patched(oracle_json, "\"throughput_per_device\": 2.5,", "");

    assert_int_equal(afd_demo_report_add(r, bad, strlen(bad), err), AFD_EPARSE);
    assert_non_null(strstr(err, "oracle"));
    assert_non_null(strstr(err, "per_phase[1].throughput_per_device"));
    assert_false(r->policies[AFD_DEMO_ORACLE].present);
}

/* ensure add rejects a string where a number belongs */
static void test_afd_demo_report_add_mistyped_field(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";
    const char *bad =
        patched(closed_loop_json, "\"t_s\": 110", "\"t_s\": \"110\"");

    assert_int_equal(afd_demo_report_add(r, bad, strlen(bad), err), AFD_EPARSE);
    assert_non_null(strstr(err, "commands[1].t_s: must be a number, got a string"));
}

/* ensure add rejects a negative throughput with the value quoted */
static void test_afd_demo_report_add_negative_throughput(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";
    const char *bad =
        patched(best_static_json, "\"throughput_per_device\": 1.75",
                "\"throughput_per_device\": -1");

    assert_int_equal(afd_demo_report_add(r, bad, strlen(bad), err), AFD_EPARSE);
    assert_non_null(
        strstr(err, "throughput_per_device: must be finite and >= 0, got -1"));
}

/* ensure add rejects output that is not JSON */
static void test_afd_demo_report_add_not_json(void **state)
{
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_demo_report_add(*state, "afd-sim: boom", 13, err),
                     AFD_EPARSE);
    assert_non_null(strstr(err, "not JSON"));
}

/* ensure add rejects an unknown policy name, quoting it */
static void test_afd_demo_report_add_unknown_policy(void **state)
{
    char err[AFD_ERR_LEN] = "";
    const char *bad = patched(oracle_json, "\"oracle\"", "\"static\"");

    assert_int_equal(afd_demo_report_add(*state, bad, strlen(bad), err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "unknown policy 'static'"));
}

/* ensure add rejects the same policy twice and keeps the first */
static void test_afd_demo_report_add_duplicate(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";

    add(r, oracle_json);
    assert_int_equal(
        afd_demo_report_add(r, oracle_json, strlen(oracle_json), err),
        AFD_EINVAL);
    assert_non_null(strstr(err, "policy 'oracle' twice"));
    assert_true(r->policies[AFD_DEMO_ORACLE].throughput_per_device == 2.0);
}

/* ensure check names the first policy without a result */
static void test_afd_demo_report_check_missing_policy(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";

    add(r, closed_loop_json);
    add(r, static_first_json);
    add(r, oracle_json);
    assert_int_equal(afd_demo_report_check(r, err), AFD_EINVAL);
    assert_string_equal(err, "no result for policy 'best_static'");
}

/* ensure check rejects runs of another seed */
static void test_afd_demo_report_check_seed_mismatch(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";

    add(r, closed_loop_json);
    add(r, static_first_json);
    add(r, patched(best_static_json, "\"seed\": 7", "\"seed\": 8"));
    add(r, oracle_json);
    assert_int_equal(afd_demo_report_check(r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'best_static' ran scenario 'fixture' seed 8"));
}

/* ensure check rejects a phase list that differs from the closed loop's */
static void test_afd_demo_report_check_phase_mismatch(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";

    add(r, closed_loop_json);
    add(r, patched(static_first_json, "\"short chat\"", "\"chat\""));
    add(r, best_static_json);
    add(r, oracle_json);
    assert_int_equal(afd_demo_report_check(r, err), AFD_EINVAL);
    assert_non_null(strstr(err, "phase 1 is 'chat'"));
}

/* ensure efficiency is throughput over the oracle's, exactly */
static void test_afd_demo_efficiency_ratio_to_oracle(void **state)
{
    struct afd_demo_report *r = *state;

    add_all(r);
    assert_true(afd_demo_efficiency(r, AFD_DEMO_CLOSED_LOOP) == 0.75);
    assert_true(afd_demo_efficiency(r, AFD_DEMO_STATIC_FIRST_PHASE) == 0.625);
    assert_true(afd_demo_efficiency(r, AFD_DEMO_BEST_STATIC) == 0.875);
    assert_true(afd_demo_efficiency(r, AFD_DEMO_ORACLE) == 1.0);
}

/* ensure efficiency is NAN without an oracle result */
static void test_afd_demo_efficiency_no_oracle(void **state)
{
    struct afd_demo_report *r = *state;

    add(r, closed_loop_json);
    assert_true(isnan(afd_demo_efficiency(r, AFD_DEMO_CLOSED_LOOP)));
}

/* ensure the JSON has the four policies by name, in order, with fields */
static void test_afd_demo_report_json_shape(void **state)
{
    static const char *const names[] = {"closed_loop", "static_first_phase",
                                        "best_static", "oracle"};
    static const double eff[] = {0.75, 0.625, 0.875, 1.0};
    struct afd_demo_report *r = *state;
    json_t *o, *pols, *p;
    size_t i;

    add_all(r);
    o = afd_demo_report_json(r);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "scenario")),
                        "fixture");
    assert_int_equal(json_integer_value(json_object_get(o, "seed")), 7);
    pols = json_object_get(o, "policies");
    assert_int_equal(json_array_size(pols), 4);
    json_array_foreach(pols, i, p)
    {
        assert_string_equal(json_string_value(json_object_get(p, "name")),
                            names[i]);
        assert_true(json_real_value(
                        json_object_get(p, "efficiency_vs_oracle")) == eff[i]);
        assert_int_equal(json_array_size(json_object_get(p, "per_phase")), 2);
        assert_true(json_is_integer(json_object_get(p, "scale_commands")));
    }
    p = json_array_get(pols, 0);
    assert_true(json_real_value(json_object_get(p, "throughput_per_device")) ==
                1.5);
    assert_int_equal(json_integer_value(json_object_get(p, "scale_commands")),
                     2);
    assert_int_equal(json_array_size(json_object_get(o, "timeline")), 3);
    assert_int_equal(json_array_size(json_object_get(o, "commands")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "alerts")), 1);
    assert_true(json_is_null(json_object_get(o, "svg")));
    json_decref(o);
}

/* ensure the JSON names the svg once one was written */
static void test_afd_demo_report_json_svg_path(void **state)
{
    struct afd_demo_report *r = *state;
    json_t *o;

    add_all(r);
    snprintf(r->svg_path, sizeof(r->svg_path), "out/demo.svg");
    o = afd_demo_report_json(r);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "svg")),
                        "out/demo.svg");
    json_decref(o);
}

/* Renders the text report into a malloc'd string. */
static char *printed(const struct afd_demo_report *r)
{
    FILE *f = tmpfile();
    char *text;
    long len;

    assert_non_null(f);
    afd_demo_report_print(r, f);
    len = ftell(f);
    assert_true(len > 0);
    text = calloc(1, (size_t)len + 1);
    assert_non_null(text);
    rewind(f);
    assert_true(fread(text, 1, (size_t)len, f) == (size_t)len);
    fclose(f);
    return text;
}

/* ensure the table shows throughputs, efficiency and command counts */
static void test_afd_demo_report_print_table(void **state)
{
    struct afd_demo_report *r = *state;
    char *t;

    add_all(r);
    t = printed(r);
    assert_non_null(strstr(t, "scenario 'fixture', seed 7, 2 phases, 200 s"));
    assert_non_null(strstr(t, "closed_loop             1.500    1.250    "
                              "1.750      75.0%         2\n"));
    assert_non_null(strstr(t, "static_first_phase      1.250    1.250    "
                              "1.250      62.5%         -\n"));
    assert_non_null(strstr(t, "oracle                  2.000    1.500    "
                              "2.500     100.0%         -\n"));
    free(t);
}

/* ensure the table shows mean x, static x and settle times (never) */
static void test_afd_demo_report_print_instances(void **state)
{
    struct afd_demo_report *r = *state;
    char *t;

    add_all(r);
    t = printed(r);
    assert_non_null(strstr(t, "closed_loop              8.50    11.50\n"));
    assert_non_null(strstr(t, "oracle                   9.00    12.00\n"));
    assert_non_null(strstr(t, "closed_loop settle       20 s    never\n"));
    free(t);
}

/* ensure the timeline merges phases, commands and alerts in time order */
static void test_afd_demo_report_print_timeline(void **state)
{
    struct afd_demo_report *r = *state;
    const char *a, *b, *c, *d;
    char *t;

    add_all(r);
    t = printed(r);
    a = strstr(t, "12.0 s  command #1: attention 8 -> 9 (ffn)");
    b = strstr(t, "100.0 s  phase p2 'chat & code <long>' starts");
    c = strstr(t, "105.0 s  alert AfdRegimeChanged raised (attention)");
    d = strstr(t, "110.0 s  command #2: attention 9 -> 12 (attention)");
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_non_null(d);
    assert_true(a < b && b < c && c < d);
    free(t);
}

/* ensure the SVG parses as XML with both panels, labels escaped and the
 * shading legend naming the regime at the current ratio */
static void test_afd_demo_report_svg_well_formed(void **state)
{
    static const char check[] =
        "import sys, xml.etree.ElementTree as E\n"
        "ns = '{http://www.w3.org/2000/svg}'\n"
        "root = E.parse(sys.argv[1]).getroot()\n"
        "assert root.tag == ns + 'svg', root.tag\n"
        "texts = [t.text or '' for t in root.iter(ns + 'text')]\n"
        "assert 'p2 chat & code <long>' in texts, texts\n"
        "assert 'regime at the current' in texts, texts\n"
        "fills = [r.get('fill') for r in root.iter(ns + 'rect')]\n"
        "assert '#dcefd8' in fills and '#d6e6f5' in fills, fills\n"
        "paths = list(root.iter(ns + 'path'))\n"
        "assert len(paths) == 4, len(paths)\n"
        "assert all(p.get('d', '').startswith('M') for p in paths)\n";
    struct afd_demo_report *r = *state;
    char svg[] = "/tmp/afd-test-demo-XXXXXX", py[] = "/tmp/afd-test-py-XXXXXX";
    char cmd[256], err[AFD_ERR_LEN] = "";
    int fd_svg = mkstemp(svg), fd_py = mkstemp(py), rc;
    FILE *f = fdopen(fd_svg, "w");

    add_all(r);
    assert_non_null(f);
    assert_int_equal(afd_demo_report_svg(r, f, err), AFD_OK);
    fclose(f);
    assert_true(write(fd_py, check, strlen(check)) == (ssize_t)strlen(check));
    close(fd_py);
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s %s", py, svg);
    rc = system(cmd);
    unlink(svg);
    unlink(py);
    assert_int_equal(rc, 0);
}

/* ensure the SVG needs a closed-loop timeline */
static void test_afd_demo_report_svg_no_timeline(void **state)
{
    struct afd_demo_report *r = *state;
    char err[AFD_ERR_LEN] = "";
    FILE *f = fopen("/dev/null", "w");

    add(r, oracle_json);
    assert_non_null(f);
    assert_int_equal(afd_demo_report_svg(r, f, err), AFD_EINVAL);
    fclose(f);
    assert_non_null(strstr(err, "no timeline"));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_afd_demo_report_add_parses_closed_loop),
        T(test_afd_demo_report_add_missing_field),
        T(test_afd_demo_report_add_mistyped_field),
        T(test_afd_demo_report_add_negative_throughput),
        T(test_afd_demo_report_add_not_json),
        T(test_afd_demo_report_add_unknown_policy),
        T(test_afd_demo_report_add_duplicate),
        T(test_afd_demo_report_check_missing_policy),
        T(test_afd_demo_report_check_seed_mismatch),
        T(test_afd_demo_report_check_phase_mismatch),
        T(test_afd_demo_efficiency_ratio_to_oracle),
        T(test_afd_demo_efficiency_no_oracle),
        T(test_afd_demo_report_json_shape),
        T(test_afd_demo_report_json_svg_path),
        T(test_afd_demo_report_print_table),
        T(test_afd_demo_report_print_instances),
        T(test_afd_demo_report_print_timeline),
        T(test_afd_demo_report_svg_well_formed),
        T(test_afd_demo_report_svg_no_timeline),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
