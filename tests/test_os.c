/*
 * test_os.c - plugin/sys/os.h: the bounded whole-file reader (contents and
 * length, each failure's code with a message starting with the path), the
 * owner-thread check and the clocks.
 */
#include "tests/afd_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/sys/os.h"

/* Expects afd_read_file(path, max) to fail with code, err "<path>: ..why". */
static void expect_read_error(const char *path, size_t max, int code,
                              const char *why)
{
    char err[AFD_ERR_LEN] = "";
    char *out = NULL;
    size_t len = 7;

    assert_int_equal(afd_read_file(path, max, &out, &len, err), code);
    assert_null(out);
    assert_int_equal(len, 7);
    afd_assert_starts_with(err, path);
    afd_assert_contains(err, why);
}

/* ensure a file is returned whole, NUL-terminated, with its length */
static void test_afd_read_file_returns_contents(void **state)
{
    const char *path = afd_test_write_file("five.txt", "a\nbcd");
    char *out = NULL;
    size_t len = 0;

    (void)state;
    assert_int_equal(afd_read_file(path, 5, &out, &len, NULL), AFD_OK);
    assert_int_equal(len, 5);
    assert_string_equal(out, "a\nbcd");
    free(out);
}

/* ensure a missing file is AFD_EIO saying it cannot be opened */
static void test_afd_read_file_missing(void **state)
{
    char path[512];

    (void)state;
    snprintf(path, sizeof(path), "%s/missing.txt", afd_test_tmpdir());
    expect_read_error(path, 100, AFD_EIO, ": cannot open: ");
}

/* ensure a directory is AFD_EIO, refused rather than read */
static void test_afd_read_file_directory(void **state)
{
    (void)state;
    expect_read_error(afd_test_tmpdir(), 100, AFD_EIO, ": not a regular file");
}

/* ensure an empty file is AFD_EEMPTY */
static void test_afd_read_file_empty(void **state)
{
    (void)state;
    expect_read_error(afd_test_write_file("empty.txt", ""), 100, AFD_EEMPTY,
                      ": file is empty");
}

/* ensure a file one byte over max_bytes is AFD_ENOMEM naming the bound */
static void test_afd_read_file_over_max(void **state)
{
    (void)state;
    expect_read_error(afd_test_write_file("six.txt", "123456"), 5, AFD_ENOMEM,
                      ": larger than 5 bytes");
}

static void *check_owner(void *arg)
{
    return afd_owner_is_current(arg) ? (void *)1 : NULL;
}

/* An owner accepts its own thread only once claimed; any thread before. */
static void test_owner_thread(void **state)
{
    struct afd_owner o = {0};
    pthread_t t;
    void *ok = NULL;

    assert_true(afd_owner_is_current(&o));
    assert_int_equal(pthread_create(&t, NULL, check_owner, &o), 0);
    pthread_join(t, &ok);
    assert_non_null(ok);
    afd_owner_claim(&o);
    assert_true(afd_owner_is_current(&o));
    assert_int_equal(pthread_create(&t, NULL, check_owner, &o), 0);
    pthread_join(t, &ok);
    assert_null(ok);
}

/* The monotonic clocks agree with each other and never go back. */
static void test_clocks(void **state)
{
    int64_t ns0 = afd_clock_mono_ns(), ms = afd_clock_mono_ms();
    double s = afd_clock_mono_s();
    int64_t ns1 = afd_clock_mono_ns();

    assert_true(ns1 >= ns0);
    assert_true(ms >= ns0 / 1000000 && ms <= ns1 / 1000000);
    assert_true(s * 1e9 >= (double)ns0 - 1e3 && s * 1e9 <= (double)ns1 + 1e3);
    /* After 2020-01-01 and before 2100-01-01, in ms. */
    assert_true(afd_clock_wall_ms() > 1577836800000LL);
    assert_true(afd_clock_wall_ms() < 4102444800000LL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_read_file_returns_contents),
        cmocka_unit_test(test_afd_read_file_missing),
        cmocka_unit_test(test_afd_read_file_directory),
        cmocka_unit_test(test_afd_read_file_empty),
        cmocka_unit_test(test_afd_read_file_over_max),
        cmocka_unit_test(test_owner_thread),
        cmocka_unit_test(test_clocks),
    };

    return cmocka_run_group_tests(tests, afd_test_tmpdir_setup,
                                  afd_test_tmpdir_teardown);
}
