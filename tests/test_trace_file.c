/*
 * test_trace_file.c - reading trace files (plugin/io/trace_file.h): good files
 * of each format with hand-computed statistics, a shared real trace against
 * the README table, malformed lines, and file-level failures (unreadable,
 * directory, empty, nothing valid, unknown format).
 */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/io/trace_file.h"

/*
 * Two requests (P, D) = (10, 1) and (20, 3). Step loads: 10; 20, 21, 22.
 * theta = (10 + 20 + 21 + 22) / 4 = 18.25,
 * m2 = (100 + 400 + 441 + 484) / 4 = 356.25, sigma^2 = 356.25 - 18.25^2
 * = 23.1875.
 */
#define TWO_THETA  18.25
#define TWO_SIGMA2 23.1875

static const char azure_two[] = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                                "2023-11-16 18:17:03.9799600,10,1\n"
                                "2023-11-16 18:17:04.0319600,20,3\n";

/* ensure an Azure file loads both requests in order */
static void test_trace_load_azure(void **state)
{
    struct afd_trace t;

    assert_int_equal(
        afd_trace_load(afd_test_write_file("two.csv", azure_two), &t, NULL),
        AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_AZURE);
    assert_int_equal(t.n, 2);
    assert_true(t.prompt[0] == 10 && t.decode[0] == 1);
    assert_true(t.prompt[1] == 20 && t.decode[1] == 3);
    assert_int_equal(t.malformed, 0);
    afd_trace_release(&t);
}

/* ensure trace stats equal the hand-computed step-load moments */
static void test_trace_stats_two_requests(void **state)
{
    struct afd_workload_stats s;
    struct afd_trace t;

    assert_int_equal(
        afd_trace_load(afd_test_write_file("two_s.csv", azure_two), &t, NULL),
        AFD_OK);
    assert_int_equal(afd_trace_stats(&t, &s, NULL), AFD_OK);
    afd_trace_release(&t);
    assert_int_equal(s.requests, 2);
    assert_close(TWO_THETA, s.theta, 1e-12, 0);
    assert_close(sqrt(TWO_SIGMA2), s.sigma, 1e-9, 0);
    assert_close(15.0, s.mean_prompt, 1e-12, 0);
    assert_close(2.0, s.mean_decode, 1e-12, 0);
}

/* ensure a processed (Etalon) CSV is recognised by its header */
static void test_trace_load_processed(void **state)
{
    struct afd_trace t;
    const char *path = afd_test_write_file(
        "proc.csv", "num_prefill_tokens,num_decode_tokens,num_total_tokens,"
                    "pd_ratio\n7,4,11,1.75\n");

    assert_int_equal(afd_trace_load(path, &t, NULL), AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_PROCESSED);
    assert_int_equal(t.n, 1);
    assert_true(t.prompt[0] == 7 && t.decode[0] == 4);
    afd_trace_release(&t);
}

/* ensure Mooncake JSON lines are recognised and hash_ids skipped */
static void test_trace_load_mooncake(void **state)
{
    struct afd_trace t;
    const char *path = afd_test_write_file(
        "mc.jsonl", "{\"timestamp\": 0, \"input_length\": 512, "
                    "\"output_length\": 8, \"hash_ids\": [1, 2]}\n"
                    "{\"timestamp\": 3000, \"input_length\": 100, "
                    "\"output_length\": 2, \"hash_ids\": []}\n");

    assert_int_equal(afd_trace_load(path, &t, NULL), AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_MOONCAKE);
    assert_int_equal(t.n, 2);
    assert_true(t.prompt[0] == 512 && t.decode[0] == 8);
    assert_true(t.prompt[1] == 100 && t.decode[1] == 2);
    afd_trace_release(&t);
}

/* ensure the shared Azure code trace gives the README's N, theta, sigma */
static void test_trace_stats_shared_azure_code(void **state)
{
    struct afd_workload_stats s;
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    if (afd_trace_load(afd_test_trace_path("AzureLLMInferenceTrace_code.csv"),
                       &t, err) < 0)
        fail_msg("%s", err);
    assert_int_equal(t.n, 8819);
    assert_int_equal(afd_trace_stats(&t, &s, NULL), AFD_OK);
    afd_trace_release(&t);
    assert_close(2130.43, s.theta, 0.006, 0);
    assert_close(1951.62, s.sigma, 0.006, 0);
}

/* ensure malformed lines are skipped, counted and the first one located */
static void test_trace_load_malformed_lines(void **state)
{
    struct afd_trace t;
    const char *path = afd_test_write_file(
        "bad2.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                    "2023-11-16 18:17:03,10,1\n"
                    "2023-11-16 18:17:04,abc,3\n"
                    "2023-11-16 18:17:05,20,3\n"
                    "2023-11-16 18:17:06,5,0\n");

    assert_int_equal(afd_trace_load(path, &t, NULL), AFD_OK);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.malformed, 2);
    assert_int_equal(t.first_bad_line, 3);
    assert_true(t.first_bad_reason[0] != '\0');
    afd_trace_release(&t);
}

/* ensure a file with only malformed lines fails, naming path and line */
static void test_trace_load_only_malformed(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file(
        "bad_only.csv", "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                        "2023-11-16 18:17:04,abc,3\n"
                        "2023-11-16 18:17:06,-5,2\n");

    assert_int_equal(afd_trace_load(path, &t, err), AFD_EPARSE);
    afd_assert_starts_with(err, path);
    assert_non_null(strstr(err, "line 2"));
    assert_null(t.prompt);
    assert_int_equal(t.n, 0);
}

/* ensure a path that cannot be opened is an I/O error naming the path */
static void test_trace_load_unreadable(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";
    char path[256];

    snprintf(path, sizeof(path), "%s/missing.csv", afd_test_tmpdir());
    assert_int_equal(afd_trace_load(path, &t, err), AFD_EIO);
    afd_assert_starts_with(err, path);
    assert_non_null(strstr(err, "cannot open"));
}

/* ensure a directory is refused rather than read */
static void test_trace_load_directory(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_trace_load(afd_test_tmpdir(), &t, err), AFD_EIO);
    afd_assert_starts_with(err, afd_test_tmpdir());
}

/* ensure an empty file is AFD_EEMPTY with the path */
static void test_trace_load_empty(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file("empty.csv", "");

    assert_int_equal(afd_trace_load(path, &t, err), AFD_EEMPTY);
    afd_assert_starts_with(err, path);
    assert_non_null(strstr(err, "empty"));
}

/* ensure a file of an unknown format is a parse error with the path */
static void test_trace_load_unknown_format(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";
    const char *path = afd_test_write_file("odd.csv", "a,b,c\n1,2,3\n");

    assert_int_equal(afd_trace_load(path, &t, err), AFD_EPARSE);
    afd_assert_starts_with(err, path);
    assert_non_null(strstr(err, "unrecognised"));
}

/* ensure stats of a trace with no request is AFD_EEMPTY */
static void test_trace_stats_empty(void **state)
{
    struct afd_workload_stats s;
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    memset(&t, 0, sizeof(t));
    assert_int_equal(afd_trace_stats(&t, &s, err), AFD_EEMPTY);
    assert_non_null(strstr(err, "no valid request"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_load_azure),
        cmocka_unit_test(test_trace_stats_two_requests),
        cmocka_unit_test(test_trace_load_processed),
        cmocka_unit_test(test_trace_load_mooncake),
        cmocka_unit_test(test_trace_stats_shared_azure_code),
        cmocka_unit_test(test_trace_load_malformed_lines),
        cmocka_unit_test(test_trace_load_only_malformed),
        cmocka_unit_test(test_trace_load_unreadable),
        cmocka_unit_test(test_trace_load_directory),
        cmocka_unit_test(test_trace_load_empty),
        cmocka_unit_test(test_trace_load_unknown_format),
        cmocka_unit_test(test_trace_stats_empty),
    };

    return cmocka_run_group_tests(tests, afd_test_tmpdir_setup,
                                  afd_test_tmpdir_teardown);
}
