/*
 * test_profile_json.c - loading hardware profiles from JSON (plugin/
 * profile_json.h): the good case, every required field missing in turn,
 * wrong types, unknown keys, NaN smuggled as a string, bad comm modes and
 * file-level failures (unreadable, empty, malformed).
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/io/profile_json.h"

static const char good_text[] =
    "{\"name\": \"h100-test\", \"provenance\": \"bench 2026-10\",\n"
    " \"aA\": 5.1e-5, \"bA\": 2.5, \"aC\": 0.001, \"bC\": 0.3,\n"
    " \"aF\": 0.0022, \"bF\": 5, \"comm_mode\": \"aggregate\"}\n";

static json_t *good_json(void)
{
    json_error_t jerr;
    json_t *o = json_loads(good_text, 0, &jerr);

    assert_non_null(o);
    return o;
}

/* Runs afd_profile_from_json on o (consumed) and checks code and message. */
static void expect_json_error(json_t *o, int code, const char *needle)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    int rc = afd_profile_from_json(o, &p, err);

    json_decref(o);
    assert_int_equal(rc, code);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
}

/* ensure a complete file loads with every field as written */
static void test_profile_load_file_good(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_profile_load_file(
                         afd_test_write_file("good.json", good_text), &p, err),
                     AFD_OK);
    assert_string_equal(p.name, "h100-test");
    assert_string_equal(p.provenance, "bench 2026-10");
    assert_true(p.aA == 5.1e-5);
    assert_true(p.bA == 2.5);
    assert_true(p.aC == 0.001);
    assert_true(p.bC == 0.3);
    assert_true(p.aF == 0.0022);
    assert_true(p.bF == 5.0);
    assert_int_equal(p.comm_mode, AFD_COMM_AGGREGATE);
}

/* ensure each required field, when missing, is named in the error */
static void test_profile_from_json_missing_field(void **state)
{
    const char *field = *state;
    char needle[64];
    json_t *o = good_json();

    assert_int_equal(json_object_del(o, field), 0);
    snprintf(needle, sizeof(needle), "profile.%s: required field missing",
             field);
    expect_json_error(o, AFD_EINVAL, needle);
}

/* ensure provenance may be left out and is then empty */
static void test_profile_from_json_provenance_optional(void **state)
{
    struct afd_profile p;
    json_t *o = good_json();

    json_object_del(o, "provenance");
    assert_int_equal(afd_profile_from_json(o, &p, NULL), AFD_OK);
    json_decref(o);
    assert_string_equal(p.provenance, "");
}

/* ensure a coefficient given as a string is refused, not converted */
static void test_profile_from_json_number_as_string(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "bA", json_string("2.5"));
    expect_json_error(o, AFD_EINVAL,
                      "profile.bA: must be a number, got a "
                      "string");
}

/* ensure NaN smuggled in as a string is refused with the field name */
static void test_profile_from_json_nan_string(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "aF", json_string("NaN"));
    expect_json_error(o, AFD_EINVAL, "profile.aF: must be a number");
}

/* ensure a name that is not a string is refused */
static void test_profile_from_json_name_not_string(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "name", json_integer(5));
    expect_json_error(o, AFD_EINVAL,
                      "profile.name: must be a string, got a "
                      "number");
}

/* ensure a misspelt key is an error naming it, not a silent default */
static void test_profile_from_json_unknown_key(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "a_F", json_real(1.0));
    expect_json_error(o, AFD_EINVAL, "profile.a_F: unknown field");
}

/* ensure a comm mode outside per_instance/aggregate is refused, quoted */
static void test_profile_from_json_bad_comm_mode(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "comm_mode", json_string("both"));
    expect_json_error(o, AFD_EINVAL, "profile.comm_mode");
    o = good_json();
    json_object_set_new(o, "comm_mode", json_string("both"));
    expect_json_error(o, AFD_EINVAL, "'both'");
}

/* ensure a negative coefficient is refused with its value */
static void test_profile_from_json_negative_coef(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "bC", json_real(-1.0));
    expect_json_error(o, AFD_EINVAL,
                      "profile.bC: must be finite and >= 0, "
                      "got -1");
}

/* ensure a zero FFN slope is refused: the solver divides by it */
static void test_profile_from_json_zero_slope(void **state)
{
    json_t *o = good_json();

    json_object_set_new(o, "aF", json_integer(0));
    expect_json_error(o, AFD_EINVAL, "profile.aF: must be > 0");
}

/* ensure an empty name and one too long for the struct are refused */
static void test_profile_from_json_bad_name(void **state)
{
    char longname[AFD_PROFILE_NAME_LEN + 1];
    json_t *o = good_json();

    json_object_set_new(o, "name", json_string(""));
    expect_json_error(o, AFD_EINVAL, "profile.name: must not be empty");
    memset(longname, 'x', AFD_PROFILE_NAME_LEN);
    longname[AFD_PROFILE_NAME_LEN] = '\0';
    o = good_json();
    json_object_set_new(o, "name", json_string(longname));
    expect_json_error(o, AFD_EINVAL, "profile.name: longer than 63 bytes");
}

/* ensure a root that is not an object is refused */
static void test_profile_from_json_not_object(void **state)
{
    expect_json_error(json_array(), AFD_EINVAL,
                      "profile: must be a JSON object, got an array");
}

/* ensure a bad field in a file gives the path and the field */
static void test_profile_load_file_bad_field(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file(
        "bad_field.json",
        "{\"name\": \"x\", \"aA\": 1e-4, \"bA\": 1, \"aC\": 0, "
        "\"bC\": 0, \"aF\": \"fast\", \"bF\": 1, "
        "\"comm_mode\": \"per_instance\"}");

    assert_int_equal(afd_profile_load_file(path, &p, err), AFD_EINVAL);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "profile.aF"));
}

/* ensure a path that cannot be opened is an I/O error naming the path */
static void test_profile_load_file_unreadable(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    char path[256];

    snprintf(path, sizeof(path), "%s/no_such_file.json", afd_test_tmpdir());
    assert_int_equal(afd_profile_load_file(path, &p, err), AFD_EIO);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "cannot open"));
}

/* ensure a directory is refused as an I/O error, not read */
static void test_profile_load_file_directory(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_profile_load_file(afd_test_tmpdir(), &p, err),
                     AFD_EIO);
    assert_non_null(strstr(err, "not a regular file"));
}

/* ensure an empty file is a parse error saying it is empty */
static void test_profile_load_file_empty(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file("empty.json", "");

    assert_int_equal(afd_profile_load_file(path, &p, err), AFD_EPARSE);
    assert_true(strncmp(err, path, strlen(path)) == 0);
    assert_non_null(strstr(err, "empty"));
}

/* ensure broken JSON is a parse error with path, line and column */
static void test_profile_load_file_malformed(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    char want[300];
    const char *path = afd_test_write_file(
        "malformed.json", "{\"name\": \"x\",\n \"aA\": NaN}\n");

    assert_int_equal(afd_profile_load_file(path, &p, err), AFD_EPARSE);
    snprintf(want, sizeof(want), "%s:2:", path);
    if (strncmp(err, want, strlen(want)) != 0)
        fail_msg("message '%s' does not start with '%s'", err, want);
}

/* ensure a key given twice is a parse error */
static void test_profile_load_file_duplicate_key(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file(
        "dup.json", "{\"name\": \"x\", \"aA\": 1e-4, \"aA\": 2e-4, \"bA\": 1, "
                    "\"aC\": 0, \"bC\": 0, \"aF\": 1e-3, \"bF\": 1, "
                    "\"comm_mode\": \"per_instance\"}");

    assert_int_equal(afd_profile_load_file(path, &p, err), AFD_EPARSE);
    assert_non_null(strstr(err, "aA"));
}

/* ensure resolve with neither flag gives the default built-in */
static void test_profile_resolve_default(void **state)
{
    struct afd_profile p;

    assert_int_equal(afd_profile_resolve(NULL, NULL, &p, NULL), AFD_OK);
    assert_string_equal(p.name, "paper-v1-fit");
    assert_true(p.aF == 2.2444e-3);
}

/* ensure an unknown built-in name is not found and the built-ins are listed */
static void test_profile_resolve_unknown_name(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_profile_resolve("h200", NULL, &p, err), AFD_ENOTFOUND);
    assert_non_null(strstr(err, "'h200'"));
    assert_non_null(strstr(err, "paper-v1-fit"));
}

/* ensure giving both a name and a file is refused */
static void test_profile_resolve_both(void **state)
{
    struct afd_profile p;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_profile_resolve("paper-v1-fit", "x.json", &p, err),
                     AFD_EINVAL);
    assert_non_null(strstr(err, "--profile-file"));
}

/* ensure resolve with a path loads that file */
static void test_profile_resolve_file(void **state)
{
    struct afd_profile p;

    assert_int_equal(
        afd_profile_resolve(NULL, afd_test_write_file("res.json", good_text),
                            &p, NULL),
        AFD_OK);
    assert_string_equal(p.name, "h100-test");
}

/* ensure to_json followed by from_json gives back the same profile */
static void test_profile_to_json_round_trip(void **state)
{
    const struct afd_profile *b = afd_profile_builtin("paper-v1-fit");
    struct afd_profile p;
    json_t *o;

    assert_non_null(b);
    o = afd_profile_to_json(b);
    assert_non_null(o);
    assert_int_equal(afd_profile_from_json(o, &p, NULL), AFD_OK);
    json_decref(o);
    assert_string_equal(p.name, b->name);
    assert_string_equal(p.provenance, b->provenance);
    assert_true(p.aA == b->aA && p.bA == b->bA);
    assert_true(p.aC == b->aC && p.bC == b->bC);
    assert_true(p.aF == b->aF && p.bF == b->bF);
    assert_int_equal(p.comm_mode, b->comm_mode);
}

#define MISSING(field)                                                         \
    cmocka_unit_test_prestate(test_profile_from_json_missing_field,            \
                              (void *)(field))

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_load_file_good),
        MISSING("name"),
        MISSING("aA"),
        MISSING("bA"),
        MISSING("aC"),
        MISSING("bC"),
        MISSING("aF"),
        MISSING("bF"),
        MISSING("comm_mode"),
        cmocka_unit_test(test_profile_from_json_provenance_optional),
        cmocka_unit_test(test_profile_from_json_number_as_string),
        cmocka_unit_test(test_profile_from_json_nan_string),
        cmocka_unit_test(test_profile_from_json_name_not_string),
        cmocka_unit_test(test_profile_from_json_unknown_key),
        cmocka_unit_test(test_profile_from_json_bad_comm_mode),
        cmocka_unit_test(test_profile_from_json_negative_coef),
        cmocka_unit_test(test_profile_from_json_zero_slope),
        cmocka_unit_test(test_profile_from_json_bad_name),
        cmocka_unit_test(test_profile_from_json_not_object),
        cmocka_unit_test(test_profile_load_file_bad_field),
        cmocka_unit_test(test_profile_load_file_unreadable),
        cmocka_unit_test(test_profile_load_file_directory),
        cmocka_unit_test(test_profile_load_file_empty),
        cmocka_unit_test(test_profile_load_file_malformed),
        cmocka_unit_test(test_profile_load_file_duplicate_key),
        cmocka_unit_test(test_profile_resolve_default),
        cmocka_unit_test(test_profile_resolve_unknown_name),
        cmocka_unit_test(test_profile_resolve_both),
        cmocka_unit_test(test_profile_resolve_file),
        cmocka_unit_test(test_profile_to_json_round_trip),
    };

    return cmocka_run_group_tests(tests, afd_test_tmpdir_setup,
                                  afd_test_tmpdir_teardown);
}
