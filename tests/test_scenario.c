/*
 * test_scenario.c - scenario files (integration/sim/scenario.h): loading
 * the shipped scenarios, field defaults, errors that name the field (code
 * and message), and trace path resolution.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/sim/scenario.h"

/* Parses text as a scenario anchored at base_dir; returns the code. */
static int from_text(const char *text, const char *base_dir,
                     struct afd_scenario *s, char *err)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    int rc;

    assert_non_null(root);
    rc = afd_scenario_from_json(root, base_dir, "t.json", s, err);
    json_decref(root);
    return rc;
}

/* Asserts a scenario fails with code and a message containing each part. */
static void expect_error(const char *text, int code, const char *part1,
                         const char *part2)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(from_text(text, ".", &s, err), code);
    if (!strstr(err, part1) || (part2 && !strstr(err, part2)))
        fail_msg("message '%s' lacks '%s'/'%s'", err, part1,
                 part2 ? part2 : "");
    assert_int_equal(s.n_phases, 0);
    assert_null(s.phases);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *const mini_trace =
    "TIMESTAMP,ContextTokens,GeneratedTokens\n"
    "2023-11-16 18:17:03.9799600,100,10\n"
    "2023-11-16 18:17:04.0319600,300,30\n";

/* ensure the shipped default scenario loads with its trace phase resolved */
static void test_afd_scenario_load_default_file(void **state)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_scenario_load(AFD_SOURCE_ROOT
                                       "/integration/scenarios/default.json",
                                       &s, err),
                     AFD_OK);
    assert_string_equal(s.name, "default");
    assert_int_equal(s.n_phases, 4);
    assert_int_equal(s.phases[2].gen.kind, AFD_GEN_TRACE);
    assert_int_equal(s.phases[2].gen.n, 8819); /* shared/traces README */
    assert_int_equal(s.phases[3].batch, 128);
    assert_int_equal(s.phases[0].ffn, 1);
    assert_int_equal(s.seed, 1);
    afd_scenario_release(&s);
}

/* ensure the smoke scenario loads and inherits the top-level batch */
static void test_afd_scenario_load_smoke_defaults(void **state)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_scenario_load(AFD_SOURCE_ROOT
                                       "/integration/scenarios/smoke.json",
                                       &s, err),
                     AFD_OK);
    assert_int_equal(s.n_phases, 2);
    assert_int_equal(s.phases[0].batch, 64);
    assert_int_equal(s.phases[1].batch, 64);
    assert_int_equal(s.seed, 7);
    assert_close(150.0, afd_scenario_duration_s(&s), 0, 0);
    afd_scenario_release(&s);
}

/* ensure omitted optional fields take their documented defaults */
static void test_afd_scenario_from_json_defaults(void **state)
{
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(
        from_text("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                  "\"duration_s\": 2.5, \"workload\": "
                  "\"fixed:prompt=1,decode=2\"}]}",
                  ".", &s, err),
        AFD_OK);
    assert_int_equal(s.seed, 1);
    assert_int_equal(s.phases[0].batch, 256);
    assert_int_equal(s.phases[0].ffn, 1);
    assert_int_equal(s.initial_attention, 0);
    assert_string_equal(s.profile.name, "paper-v1-fit");
    assert_close(2.5, s.phases[0].duration_s, 0, 0);
    afd_scenario_release(&s);
}

/* ensure a missing phases array is an error naming it */
static void test_afd_scenario_from_json_missing_phases(void **state)
{
    (void)state;
    expect_error("{\"name\": \"n\"}", AFD_EINVAL, "t.json: phases: missing",
                 NULL);
    expect_error("{\"name\": \"n\", \"phases\": []}", AFD_EINVAL,
                 "phases: must be an array of 1..64", NULL);
}

/* ensure a bad batch names the phase's field and the value */
static void test_afd_scenario_from_json_bad_batch(void **state)
{
    (void)state;
    expect_error(
        "{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
        "\"duration_s\": 1, \"workload\": \"fixed:prompt=1,decode=2\"},"
        "{\"name\": \"b\", \"duration_s\": 1, \"batch\": 0, "
        "\"workload\": \"fixed:prompt=1,decode=2\"}]}",
        AFD_EINVAL, "phases[1].batch", "got 0");
    expect_error("{\"name\": \"n\", \"batch\": 2.5, \"phases\": [{\"name\": "
                 "\"a\", \"duration_s\": 1, \"workload\": \"fixed:prompt=1,"
                 "decode=2\"}]}",
                 AFD_EINVAL, "t.json: batch: must be an integer", "2.5");
}

/* ensure an unknown key (a typo) is an error quoting it */
static void test_afd_scenario_from_json_unknown_key(void **state)
{
    (void)state;
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"durtion_s\": 1, \"workload\": \"fixed:prompt=1,decode=2\""
                 "}]}",
                 AFD_EINVAL, "phases[0].durtion_s: unknown field", "duration_s");
    expect_error("{\"name\": \"n\", \"sed\": 3, \"phases\": []}", AFD_EINVAL,
                 "t.json: sed: unknown field (known: name,", NULL);
}

/* ensure a missing or non-positive duration names duration_s */
static void test_afd_scenario_from_json_bad_duration(void **state)
{
    (void)state;
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"workload\": \"fixed:prompt=1,decode=2\"}]}",
                 AFD_EINVAL, "phases[0].duration_s: required field missing", NULL);
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"duration_s\": -1, \"workload\": \"fixed:prompt=1,"
                 "decode=2\"}]}",
                 AFD_EINVAL, "phases[0].duration_s: must be finite and in [0, 1e+06], got -1",
                 NULL);
}

/* ensure a bad workload spec names the phase and keeps the parser's words */
static void test_afd_scenario_from_json_bad_workload(void **state)
{
    (void)state;
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"duration_s\": 1, \"workload\": \"zipf:prompt=1\"}]}",
                 AFD_EPARSE, "phases[0].workload", "zipf");
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"duration_s\": 1, \"workload\": 7}]}",
                 AFD_EINVAL, "phases[0].workload: must be a string, got a number",
                 NULL);
}

/* ensure an unknown built-in profile is named */
static void test_afd_scenario_from_json_unknown_profile(void **state)
{
    (void)state;
    expect_error("{\"name\": \"n\", \"profile\": \"h900\", \"phases\": "
                 "[{\"name\": \"a\", \"duration_s\": 1, \"workload\": "
                 "\"fixed:prompt=1,decode=2\"}]}",
                 AFD_ENOTFOUND, "profile: unknown built-in profile 'h900'",
                 NULL);
}

/* ensure a relative trace resolves against the scenario's own directory
 * first, then shared/traces in a directory above it */
static void test_afd_scenario_find_trace_order(void **state)
{
    char root[] = "/tmp/afd-scenario-XXXXXX", p[512], out[1024];
    char err[AFD_ERR_LEN];

    (void)state;
    assert_non_null(mkdtemp(root));
    snprintf(p, sizeof(p), "%s/shared", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/shared/traces", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/repo", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/repo/scen", root);
    assert_int_equal(mkdir(p, 0700), 0);
    snprintf(p, sizeof(p), "%s/shared/traces/t.csv", root);
    write_file(p, mini_trace);
    snprintf(p, sizeof(p), "%s/repo/scen", root);
    assert_int_equal(afd_scenario_find_trace(p, "t.csv", out, sizeof(out), err),
                     AFD_OK);
    snprintf(p, sizeof(p), "%s/shared/traces/t.csv", root);
    assert_string_equal(out, p);
    /* a copy beside the scenario wins */
    snprintf(p, sizeof(p), "%s/repo/scen/t.csv", root);
    write_file(p, mini_trace);
    snprintf(p, sizeof(p), "%s/repo/scen", root);
    assert_int_equal(afd_scenario_find_trace(p, "t.csv", out, sizeof(out), err),
                     AFD_OK);
    snprintf(p, sizeof(p), "%s/repo/scen/t.csv", root);
    assert_string_equal(out, p);
    unlink(p);
    snprintf(p, sizeof(p), "%s/shared/traces/t.csv", root);
    unlink(p);
    snprintf(p, sizeof(p), "%s/shared/traces", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/shared", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/repo/scen", root);
    rmdir(p);
    snprintf(p, sizeof(p), "%s/repo", root);
    rmdir(p);
    rmdir(root);
}

/* ensure a trace found nowhere is AFD_ENOTFOUND naming the file */
static void test_afd_scenario_find_trace_missing(void **state)
{
    char out[1024], err[AFD_ERR_LEN];

    (void)state;
    assert_int_equal(afd_scenario_find_trace("/nonexistent/dir", "nope-7.csv",
                                             out, sizeof(out), err),
                     AFD_ENOTFOUND);
    assert_non_null(strstr(err, "'nope-7.csv' not found"));
    expect_error("{\"name\": \"n\", \"phases\": [{\"name\": \"a\", "
                 "\"duration_s\": 1, \"workload\": \"trace:nope-7.csv\"}]}",
                 AFD_ENOTFOUND, "phases[0].workload", "nope-7.csv");
}

/* ensure a scenario file's trace path resolves relative to the file */
static void test_afd_scenario_load_relative_trace(void **state)
{
    char dir[] = "/tmp/afd-scenario-XXXXXX", p[512], q[512];
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(p, sizeof(p), "%s/mini.csv", dir);
    write_file(p, mini_trace);
    snprintf(q, sizeof(q), "%s/s.json", dir);
    write_file(q, "{\"name\": \"rel\", \"phases\": [{\"name\": \"a\", "
                  "\"duration_s\": 1, \"workload\": \"trace:mini.csv\"}]}");
    assert_int_equal(afd_scenario_load(q, &s, err), AFD_OK);
    assert_int_equal(s.phases[0].gen.kind, AFD_GEN_TRACE);
    assert_int_equal(s.phases[0].gen.n, 2);
    assert_string_equal(s.phases[0].workload, "trace:mini.csv");
    afd_scenario_release(&s);
    unlink(p);
    unlink(q);
    rmdir(dir);
}

/* ensure a JSON syntax error is AFD_EPARSE with file, line and column */
static void test_afd_scenario_load_syntax_error(void **state)
{
    char dir[] = "/tmp/afd-scenario-XXXXXX", q[512];
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(q, sizeof(q), "%s/bad.json", dir);
    write_file(q, "{\"name\": \"x\",\n \"phases\": [,]}\n");
    assert_int_equal(afd_scenario_load(q, &s, err), AFD_EPARSE);
    assert_non_null(strstr(err, "bad.json:2:"));
    assert_int_equal(afd_scenario_load("/nonexistent/s.json", &s, err),
                     AFD_EIO);
    assert_non_null(strstr(err, "/nonexistent/s.json: cannot open"));
    unlink(q);
    rmdir(dir);
}

/* ensure phases get distinct seeds and a phase's seed depends on the seed */
static void test_afd_scenario_phase_seed_distinct(void **state)
{
    (void)state;
    assert_true(afd_scenario_phase_seed(1, 0) != afd_scenario_phase_seed(1, 1));
    assert_true(afd_scenario_phase_seed(1, 0) != afd_scenario_phase_seed(2, 0));
    assert_true(afd_scenario_phase_seed(3, 2) == afd_scenario_phase_seed(3, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_scenario_load_default_file),
        cmocka_unit_test(test_afd_scenario_load_smoke_defaults),
        cmocka_unit_test(test_afd_scenario_from_json_defaults),
        cmocka_unit_test(test_afd_scenario_from_json_missing_phases),
        cmocka_unit_test(test_afd_scenario_from_json_bad_batch),
        cmocka_unit_test(test_afd_scenario_from_json_unknown_key),
        cmocka_unit_test(test_afd_scenario_from_json_bad_duration),
        cmocka_unit_test(test_afd_scenario_from_json_bad_workload),
        cmocka_unit_test(test_afd_scenario_from_json_unknown_profile),
        cmocka_unit_test(test_afd_scenario_find_trace_order),
        cmocka_unit_test(test_afd_scenario_find_trace_missing),
        cmocka_unit_test(test_afd_scenario_load_relative_trace),
        cmocka_unit_test(test_afd_scenario_load_syntax_error),
        cmocka_unit_test(test_afd_scenario_phase_seed_distinct),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
