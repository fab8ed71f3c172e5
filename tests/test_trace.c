/* test_trace.c - trace parsing: real traces and inline fixtures. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/trace.h"
#include "estimator/workload.h"

/* Statistics of a trace, computed in the test by its own naive reading. */
struct naive {
    size_t n;
    double mean_p, mean_d, theta, sigma;
};

/*
 * Reads a trace file with fgets + sscanf: Azure rows are "timestamp,P,D",
 * processed rows start "P,D," (the column order of the shared files). Sums
 * in long double, the formulas of model.md section 3 written out again.
 */
static struct naive naive_read(const char *path, int azure)
{
    FILE *f = fopen(path, "r");
    char line[512];
    long double sp = 0, sd = 0, sy = 0, sz = 0, th;
    double p, d;
    struct naive r = {0, 0, 0, 0, 0};

    if (!f)
        fail_msg("cannot open %s", path);
    if (!fgets(line, sizeof(line), f))
        fail_msg("no header in %s", path);
    while (fgets(line, sizeof(line), f)) {
        int got = azure ? sscanf(line, "%*[^,],%lf,%lf", &p, &d)
                        : sscanf(line, "%lf,%lf", &p, &d);
        long double P = p, D = d;

        if (got != 2)
            fail_msg("naive reader: bad line in %s: %s", path, line);
        r.n++;
        sp += P;
        sd += D;
        sy += D * P + D * (D - 1) / 2;
        sz += D * P * P + P * D * (D - 1) + D * (D - 1) * (2 * D - 1) / 6;
    }
    fclose(f);
    th = sy / sd;
    r.mean_p = (double)(sp / r.n);
    r.mean_d = (double)(sd / r.n);
    r.theta = (double)th;
    r.sigma = (double)sqrtl(sz / sd - th * th);
    return r;
}

/*
 * Parses a shared trace and checks it three ways: format and N, the naive
 * reading (to 1e-12 relative), and the README table (theta/sigma to 0.01,
 * means to the table's one decimal).
 */
static void check_trace_file(const char *name, enum afd_trace_format fmt,
                             size_t n, double mean_p, double mean_d,
                             double theta, double sigma)
{
    const char *path = afd_test_trace_path(name);
    struct naive ref = naive_read(path, fmt == AFD_TRACE_AZURE);
    struct afd_trace t;
    struct afd_workload *w = afd_workload_new(0, NULL);
    struct afd_workload_stats st;
    char err[AFD_ERR_LEN] = "";
    size_t len, i;
    char *text = afd_test_read_file(path, &len);
    int rc = afd_trace_parse(text, len, &t, err);

    if (rc != AFD_OK)
        fail_msg("parse %s: %s", name, err);
    assert_int_equal(t.format, fmt);
    assert_int_equal(t.malformed, 0);
    assert_int_equal(t.n, n);
    assert_int_equal(ref.n, n);
    assert_non_null(w);
    for (i = 0; i < t.n; i++)
        assert_int_equal(afd_workload_add(w, t.prompt[i], t.decode[i], NULL),
                         AFD_OK);
    assert_int_equal(afd_workload_stats(w, &st, NULL), AFD_OK);
    assert_close(ref.theta, st.theta, 0, 1e-12);
    assert_close(ref.sigma, st.sigma, 0, 1e-12);
    assert_close(ref.mean_p, st.mean_prompt, 0, 1e-12);
    assert_close(ref.mean_d, st.mean_decode, 0, 1e-12);
    assert_close(theta, st.theta, 0.01, 0);
    assert_close(sigma, st.sigma, 0.01, 0);
    assert_close(mean_p, st.mean_prompt, 0.05, 0);
    assert_close(mean_d, st.mean_decode, 0.05, 0);
    afd_workload_free(w);
    afd_trace_release(&t);
    free(text);
}

/* ensure parse reads the Azure code trace with the README statistics */
static void test_trace_parse_azure_code(void **state)
{
    check_trace_file("AzureLLMInferenceTrace_code.csv", AFD_TRACE_AZURE, 8819,
                     2047.8, 27.9, 2130.43, 1951.62);
}

/* ensure parse reads the Azure conversation trace with the README statistics */
static void test_trace_parse_azure_conv(void **state)
{
    check_trace_file("AzureLLMInferenceTrace_conv.csv", AFD_TRACE_AZURE, 19366,
                     1154.7, 211.1, 1226.48, 712.88);
}

/* ensure parse reads the ShareGPT processed trace with the README statistics */
static void test_trace_parse_sharegpt(void **state)
{
    check_trace_file("sharegpt_8k_filtered_stats_llama2_tokenizer.csv",
                     AFD_TRACE_PROCESSED, 30731, 2340.0, 438.7, 2690.92,
                     2081.09);
}

/* ensure parse reads the arXiv processed trace with the README statistics */
static void test_trace_parse_arxiv(void **state)
{
    check_trace_file(
        "arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv",
        AFD_TRACE_PROCESSED, 28257, 2588.1, 291.4, 2419.73, 996.83);
}

/* ensure parse reads the BWB processed trace with the README statistics */
static void test_trace_parse_bwb(void **state)
{
    check_trace_file("bwb_stats_llama2_tokenizer_filtered_v2.csv",
                     AFD_TRACE_PROCESSED, 33768, 1067.2, 1612.8, 1967.61,
                     656.72);
}

/* Parses a NUL-terminated fixture from an exact-size heap copy, so that
 * ASan catches any read past len. */
static int parse_str(const char *s, struct afd_trace *t, char *err)
{
    size_t len = strlen(s);
    char *copy = malloc(len ? len : 1);
    int rc;

    assert_non_null(copy);
    memcpy(copy, s, len);
    rc = afd_trace_parse(copy, len, t, err);
    free(copy);
    return rc;
}

/* ensure parse reads Mooncake JSON lines, ignoring other keys, nested values
 * and key order */
static void test_trace_parse_mooncake(void **state)
{
    const char *text =
        "{\"timestamp\": 0, \"input_length\": 6955, \"output_length\": 52, "
        "\"hash_ids\": [46, 47, 48]}\n"
        "{\"hash_ids\":[],\"output_length\":3,\"timestamp\":27,"
        "\"input_length\":100}\n"
        "\n"
        "  {\"meta\": {\"input_length\": 999, \"s\": \"}{,]\\\"\"}, "
        "\"input_length\": 7, \"output_length\": 1.5e1, \"ok\": true}  \n";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_MOONCAKE);
    assert_int_equal(t.n, 3);
    assert_int_equal(t.malformed, 0);
    assert_true(t.prompt[0] == 6955 && t.decode[0] == 52);
    assert_true(t.prompt[1] == 100 && t.decode[1] == 3);
    assert_true(t.prompt[2] == 7 && t.decode[2] == 15);
    afd_trace_release(&t);
}

/* ensure malformed Mooncake lines are counted with the first one's reason */
static void test_trace_parse_mooncake_malformed(void **state)
{
    const char *text = "{\"input_length\": 10, \"output_length\": 2}\n"
                       "{\"input_length\": 10}\n"
                       "{\"input_length\": \"x\", \"output_length\": 2}\n"
                       "{\"input_length\": 10, \"output_length\": 2\n"
                       "[1, 2]\n"
                       "{\"input_length\": 5, \"output_length\": 0}\n"
                       "{\"input_length\": 4, \"output_length\": 3}\n";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_OK);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.malformed, 5);
    assert_int_equal(t.first_bad_line, 2);
    assert_non_null(strstr(t.first_bad_reason, "lacks \"output_length\""));
    assert_true(t.prompt[1] == 4 && t.decode[1] == 3);
    afd_trace_release(&t);
}

/* ensure malformed CSV lines are skipped and counted, the first one's line
 * number and reason kept */
static void test_trace_parse_csv_malformed(void **state)
{
    const char *text = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                       "2023-11-16 18:17:03.97,4808,10\n"
                       "2023-11-16 18:17:04.03,abc,8\n"
                       "2023-11-16 18:17:04.04,12\n"
                       "2023-11-16 18:17:04.05,-3,8\n"
                       "2023-11-16 18:17:04.06,30,0\n"
                       "2023-11-16 18:17:04.07,30,nan\n"
                       "2023-11-16 18:17:04.08,31,2\n";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_AZURE);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.malformed, 5);
    assert_int_equal(t.first_bad_line, 3);
    assert_non_null(strstr(t.first_bad_reason, "'abc' is not a number"));
    assert_true(t.prompt[0] == 4808 && t.decode[0] == 10);
    assert_true(t.prompt[1] == 31 && t.decode[1] == 2);
    afd_trace_release(&t);
}

/* ensure CRLF line ends, blank lines and a missing final newline parse */
static void test_trace_parse_crlf(void **state)
{
    const char *text = "num_prefill_tokens,num_decode_tokens,num_total_tokens,"
                       "pd_ratio\r\n"
                       "\r\n"
                       "74,918,992,0.08\r\n"
                       "   \r\n"
                       "290,905,1195,0.32";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_OK);
    assert_int_equal(t.format, AFD_TRACE_PROCESSED);
    assert_int_equal(t.n, 2);
    assert_int_equal(t.malformed, 0);
    assert_true(t.prompt[0] == 74 && t.decode[0] == 918);
    assert_true(t.prompt[1] == 290 && t.decode[1] == 905);
    afd_trace_release(&t);
}

/* ensure CSV columns are found by header name, not position */
static void test_trace_parse_columns_by_name(void **state)
{
    const char *text = "pd_ratio,num_decode_tokens,extra,num_prefill_tokens\n"
                       "0.5,20,x,10\n";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_OK);
    assert_int_equal(t.n, 1);
    assert_true(t.prompt[0] == 10 && t.decode[0] == 20);
    afd_trace_release(&t);
}

/* ensure an unrecognised first line gives AFD_EPARSE naming known formats */
static void test_trace_parse_unknown_format(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str("\nprompt,decode\n1,2\n", &t, err), AFD_EPARSE);
    assert_non_null(strstr(err, "unrecognised trace format at line 2"));
    assert_non_null(strstr(err, "'prompt,decode'"));
    assert_non_null(strstr(err, "ContextTokens"));
    assert_non_null(strstr(err, "num_prefill_tokens"));
    assert_non_null(strstr(err, "input_length"));
    assert_null(t.prompt);
    assert_int_equal(t.n, 0);
}

/* ensure empty and all-blank input give AFD_EEMPTY */
static void test_trace_parse_empty(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_trace_parse(NULL, 0, &t, err), AFD_EEMPTY);
    assert_non_null(strstr(err, "empty"));
    assert_int_equal(parse_str(" \r\n\n\t\n", &t, err), AFD_EEMPTY);
    assert_null(t.prompt);
}

/* ensure a trace whose every data line is bad fails with the first bad line */
static void test_trace_parse_only_bad_lines(void **state)
{
    const char *text = "TIMESTAMP,ContextTokens,GeneratedTokens\n"
                       "t,1,0\n"
                       "t,x,1\n";
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(parse_str(text, &t, err), AFD_EPARSE);
    assert_non_null(strstr(err, "2 bad lines"));
    assert_non_null(strstr(err, "first bad line 2"));
    assert_non_null(strstr(err, "decode length must be finite and >= 1, got "
                                "0"));
    assert_null(t.prompt);
    assert_null(t.decode);
}

/* ensure a CSV header without data lines fails with AFD_EPARSE */
static void test_trace_parse_header_only(void **state)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        parse_str("num_prefill_tokens,num_decode_tokens\n\n", &t, err),
        AFD_EPARSE);
    assert_non_null(strstr(err, "no data lines"));
}

/* ensure release is safe on a zeroed struct and twice */
static void test_trace_release_zeroed(void **state)
{
    struct afd_trace t;

    memset(&t, 0, sizeof(t));
    afd_trace_release(&t);
    afd_trace_release(&t);
    afd_trace_release(NULL);
    assert_string_equal(afd_trace_format_name(AFD_TRACE_MOONCAKE), "mooncake");
    assert_string_equal(afd_trace_format_name(AFD_TRACE_UNKNOWN), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_parse_azure_code),
        cmocka_unit_test(test_trace_parse_azure_conv),
        cmocka_unit_test(test_trace_parse_sharegpt),
        cmocka_unit_test(test_trace_parse_arxiv),
        cmocka_unit_test(test_trace_parse_bwb),
        cmocka_unit_test(test_trace_parse_mooncake),
        cmocka_unit_test(test_trace_parse_mooncake_malformed),
        cmocka_unit_test(test_trace_parse_csv_malformed),
        cmocka_unit_test(test_trace_parse_crlf),
        cmocka_unit_test(test_trace_parse_columns_by_name),
        cmocka_unit_test(test_trace_parse_unknown_format),
        cmocka_unit_test(test_trace_parse_empty),
        cmocka_unit_test(test_trace_parse_only_bad_lines),
        cmocka_unit_test(test_trace_parse_header_only),
        cmocka_unit_test(test_trace_release_zeroed),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
