/*
 * test_num.c - strict number parsing (estimator/base/num.h): the whole
 * string must be the number; errors say what was expected and quote it.
 */
#include "tests/afd_test.h"

#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"

static void test_parse_double_accepts(void **state)
{
    char err[AFD_ERR_LEN] = "";
    double v = 0;

    assert_int_equal(afd_parse_double("2.5e-3", "aF", &v, err), AFD_OK);
    assert_true(v == 2.5e-3);
    assert_int_equal(afd_parse_double("-7", "x", &v, err), AFD_OK);
    assert_true(v == -7.0);
}

static void test_parse_double_rejects(void **state)
{
    const char *bad[] = {"", "12x", "nan", "inf", "1e999", " ", "0x"};
    char err[AFD_ERR_LEN];
    double v = 42;
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_int_equal(afd_parse_double(bad[i], "--batch", &v, err),
                         AFD_EPARSE);
        afd_assert_starts_with(err, "--batch must be a");
        assert_true(v == 42); /* untouched */
    }
    assert_int_equal(afd_parse_double("12x", "--batch", &v, err), AFD_EPARSE);
    assert_string_equal(err, "--batch must be a finite number, got '12x'");
    assert_int_equal(afd_parse_double(NULL, "--batch", &v, err), AFD_EPARSE);
    assert_string_equal(err, "--batch must be a number, got ''");
}

static void test_parse_long(void **state)
{
    char err[AFD_ERR_LEN] = "";
    long v = 5;

    assert_int_equal(afd_parse_long("-12", "--seed", &v, err), AFD_OK);
    assert_int_equal(v, -12);
    assert_int_equal(afd_parse_long("1.5", "--seed", &v, err), AFD_EPARSE);
    assert_string_equal(err, "--seed must be an integer, got '1.5'");
    assert_int_equal(afd_parse_long("99999999999999999999", "--seed", &v, err),
                     AFD_EPARSE);
    assert_int_equal(afd_parse_long("", "--seed", &v, err), AFD_EPARSE);
    assert_string_equal(err, "--seed must be an integer, got ''");
    assert_int_equal(v, -12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_double_accepts),
        cmocka_unit_test(test_parse_double_rejects),
        cmocka_unit_test(test_parse_long),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
