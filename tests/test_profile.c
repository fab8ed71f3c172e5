/* test_profile.c - built-in profiles, validation, comm modes, stage times. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"

static struct afd_profile default_copy(void)
{
    const struct afd_profile *p = afd_profile_builtin(AFD_DEFAULT_PROFILE);

    if (!p)
        fail_msg("built-in '%s' missing", AFD_DEFAULT_PROFILE);
    return *p;
}

/* ensure builtin finds paper-v1-fit with the model.md section 2 numbers */
static void test_profile_builtin_paper_v1_fit(void **state)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");

    assert_non_null(p);
    assert_string_equal(p->name, "paper-v1-fit");
    assert_true(p->aA == 5.075e-5);
    assert_true(p->bA == 2.549);
    assert_true(p->aC == 1.0e-3);
    assert_true(p->bC == 0.30);
    assert_true(p->aF == 2.2444e-3);
    assert_true(p->bF == 5.0);
    assert_int_equal(p->comm_mode, AFD_COMM_PER_INSTANCE);
    assert_int_equal(afd_profile_validate(p, NULL), AFD_OK);
}

/* ensure the built-in's provenance says it is fitted, not Table 4 */
static void test_profile_builtin_provenance_says_fitted(void **state)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");

    assert_non_null(p);
    assert_non_null(strstr(p->provenance, "FITTED"));
    assert_non_null(strstr(p->provenance, "not the paper's Table 4"));
    assert_non_null(strstr(p->provenance, "5.9/9.3/12.5"));
    assert_non_null(strstr(p->provenance, "64/256/1024"));
    assert_non_null(strstr(p->provenance, "theta = 600"));
}

/* ensure builtin returns NULL for unknown names and NULL */
static void test_profile_builtin_unknown(void **state)
{
    assert_null(afd_profile_builtin("paper-v3"));
    assert_null(afd_profile_builtin(""));
    assert_null(afd_profile_builtin(NULL));
}

/* ensure builtin_at enumerates exactly the built-ins and NULL past the end */
static void test_profile_builtin_at_enumerates(void **state)
{
    size_t i, n = afd_profile_builtin_count();

    assert_true(n >= 1);
    for (i = 0; i < n; i++) {
        const struct afd_profile *p = afd_profile_builtin_at(i);

        assert_non_null(p);
        assert_ptr_equal(afd_profile_builtin(p->name), p);
        assert_int_equal(afd_profile_validate(p, NULL), AFD_OK);
    }
    assert_null(afd_profile_builtin_at(n));
}

/* Sets one coefficient of a valid profile and checks the message. */
static void check_field(const char *field, double v, const char *needle)
{
    struct afd_profile p = default_copy();
    char err[AFD_ERR_LEN] = "";

    if (strcmp(field, "aA") == 0)
        p.aA = v;
    else if (strcmp(field, "bA") == 0)
        p.bA = v;
    else if (strcmp(field, "aC") == 0)
        p.aC = v;
    else if (strcmp(field, "bC") == 0)
        p.bC = v;
    else if (strcmp(field, "aF") == 0)
        p.aF = v;
    else
        p.bF = v;
    assert_int_equal(afd_profile_validate(&p, err), AFD_EINVAL);
    if (!strstr(err, needle))
        fail_msg("message '%s' lacks '%s'", err, needle);
}

/* ensure validate rejects a negative value in each field, naming it */
static void test_profile_validate_negative(void **state)
{
    check_field("aA", -1, "profile field 'aA' must be finite and >= 0, got -1");
    check_field("bA", -2, "profile field 'bA' must be finite and >= 0, got -2");
    check_field("aC", -3, "profile field 'aC' must be finite and >= 0, got -3");
    check_field("bC", -4, "profile field 'bC' must be finite and >= 0, got -4");
    check_field("aF", -5, "profile field 'aF' must be finite and >= 0, got -5");
    check_field("bF", -0.5,
                "profile field 'bF' must be finite and >= 0, got -0.5");
}

/* Expects validate to reject v in each coefficient, naming it and "got". */
static void check_each_field(double v, const char *got)
{
    const char *fields[] = {"aA", "bA", "aC", "bC", "aF", "bF"};
    char needle[64];
    size_t i;

    for (i = 0; i < 6; i++) {
        snprintf(needle, sizeof(needle), "'%s' must be finite and >= 0, got %s",
                 fields[i], got);
        check_field(fields[i], v, needle);
    }
}

/* ensure validate rejects NaN in each field, naming it */
static void test_profile_validate_nan(void **state)
{
    check_each_field(NAN, "nan");
}

/* ensure validate rejects Inf in each field, naming it */
static void test_profile_validate_inf(void **state)
{
    check_each_field(INFINITY, "inf");
}

/* ensure validate rejects a zero slope aA or aF but accepts zero aC and
 * zero intercepts */
static void test_profile_validate_zero_slope(void **state)
{
    struct afd_profile p = default_copy();

    check_field("aA", 0, "profile field 'aA' must be > 0");
    check_field("aF", 0, "profile field 'aF' must be > 0");
    p.aC = p.bA = p.bC = p.bF = 0;
    assert_int_equal(afd_profile_validate(&p, NULL), AFD_OK);
}

/* ensure validate rejects an empty name, an unterminated name and an unknown
 * comm mode */
static void test_profile_validate_name_and_mode(void **state)
{
    struct afd_profile p = default_copy();
    char err[AFD_ERR_LEN] = "";

    p.name[0] = '\0';
    assert_int_equal(afd_profile_validate(&p, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'name' must not be empty"));
    memset(p.name, 'x', sizeof(p.name));
    assert_int_equal(afd_profile_validate(&p, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'name' is not terminated"));
    p = default_copy();
    p.comm_mode = (enum afd_comm_mode)7;
    assert_int_equal(afd_profile_validate(&p, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'comm_mode'"));
    assert_non_null(strstr(err, "got 7"));
    assert_int_equal(afd_profile_validate(NULL, err), AFD_EINVAL);
}

/* ensure comm mode names and parse round-trip */
static void test_comm_mode_parse_round_trip(void **state)
{
    enum afd_comm_mode m = AFD_COMM_AGGREGATE;

    assert_string_equal(afd_comm_mode_name(AFD_COMM_PER_INSTANCE),
                        "per_instance");
    assert_string_equal(afd_comm_mode_name(AFD_COMM_AGGREGATE), "aggregate");
    assert_int_equal(afd_comm_mode_parse("per_instance", &m, NULL), AFD_OK);
    assert_int_equal(m, AFD_COMM_PER_INSTANCE);
    assert_int_equal(afd_comm_mode_parse("aggregate", &m, NULL), AFD_OK);
    assert_int_equal(m, AFD_COMM_AGGREGATE);
}

/* ensure comm mode parse rejects unknown, wrong-case and NULL input, quoting
 * it and leaving the output unchanged */
static void test_comm_mode_parse_invalid(void **state)
{
    enum afd_comm_mode m = AFD_COMM_AGGREGATE;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_comm_mode_parse("per-instance", &m, err), AFD_EINVAL);
    assert_non_null(strstr(err, "unknown comm mode 'per-instance'"));
    assert_non_null(strstr(err, "per_instance or aggregate"));
    assert_int_equal(afd_comm_mode_parse("Aggregate", &m, err), AFD_EINVAL);
    assert_non_null(strstr(err, "'Aggregate'"));
    assert_int_equal(afd_comm_mode_parse("", &m, err), AFD_EINVAL);
    assert_non_null(strstr(err, "''"));
    assert_int_equal(afd_comm_mode_parse(NULL, &m, err), AFD_EINVAL);
    assert_non_null(strstr(err, "missing"));
    assert_int_equal(m, AFD_COMM_AGGREGATE);
}

/* ensure stage times follow the affine models and the comm mode */
static void test_profile_stage_times(void **state)
{
    struct afd_profile p = default_copy();

    /* Hand-checked: 5.075e-5 * 153600 + 2.549 = 7.7952 + 2.549. */
    assert_close(10.3442, afd_profile_t_attention(&p, 256 * 600.0), 0, 1e-14);
    /* per_instance: 1e-3 * 256 + 0.3, whatever the ratio. */
    assert_close(0.556, afd_profile_t_comm(&p, 256, 9.3), 0, 1e-14);
    assert_close(0.556, afd_profile_t_comm(&p, 256, 1), 0, 1e-14);
    /* 2.2444e-3 * 2560 + 5 = 10.745664. */
    assert_close(10.745664, afd_profile_t_ffn(&p, 2560), 0, 1e-14);
    p.comm_mode = AFD_COMM_AGGREGATE;
    /* aggregate: 1e-3 * 10 * 256 + 0.3. */
    assert_close(2.86, afd_profile_t_comm(&p, 256, 10), 0, 1e-14);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profile_builtin_paper_v1_fit),
        cmocka_unit_test(test_profile_builtin_provenance_says_fitted),
        cmocka_unit_test(test_profile_builtin_unknown),
        cmocka_unit_test(test_profile_builtin_at_enumerates),
        cmocka_unit_test(test_profile_validate_negative),
        cmocka_unit_test(test_profile_validate_nan),
        cmocka_unit_test(test_profile_validate_inf),
        cmocka_unit_test(test_profile_validate_zero_slope),
        cmocka_unit_test(test_profile_validate_name_and_mode),
        cmocka_unit_test(test_comm_mode_parse_round_trip),
        cmocka_unit_test(test_comm_mode_parse_invalid),
        cmocka_unit_test(test_profile_stage_times),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
