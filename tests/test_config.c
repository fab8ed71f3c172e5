/* test_config.c - defaults, the JSON config file and its validation. */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "tests/config_fixtures.h"

/* Loads text; expects failure with code and every needle in the message. */
static void expect_error(struct config_fixture *f, const char *text, int code,
                         const char *needle)
{
    char err[AFD_ERR_LEN] = "";
    int rc;

    write_file(f, text);
    rc = afd_config_load_file(&f->cfg, f->path, err);
    if (rc != code)
        fail_msg("expected %d, got %d (%s)", code, rc, err);
    if (strncmp(err, f->path, strlen(f->path)) != 0)
        fail_msg("message '%s' does not start with the file name", err);
    if (!strstr(err, needle))
        fail_msg("message '%s' does not contain '%s'", err, needle);
}

/* ensure the defaults are the documented loopback addresses and limits */
static void test_config_default_values(void **state)
{
    struct config_fixture *f = *state;

    assert_string_equal(f->cfg.grpc_listen, "127.0.0.1:50051");
    assert_string_equal(f->cfg.http_listen, "127.0.0.1:9464");
    assert_string_equal(f->cfg.snapshot_path, "");
    assert_int_equal(f->cfg.liveness_window_ms, 30000);
    assert_int_equal(f->cfg.recompute_interval_ms, 1000);
    assert_int_equal(f->cfg.max_deployments, 256);
    assert_int_equal(f->cfg.max_instances, 20000);
    assert_true(f->cfg.auto_create_deployments);
    assert_string_equal(f->cfg.default_deployment.profile.name, "paper-v1-fit");
    assert_true(f->cfg.default_deployment.calib.forgetting == 0.999);
    assert_int_equal(f->cfg.n_deployments, 0);
    assert_int_equal(afd_config_validate(&f->cfg, NULL), AFD_OK);
}

/* ensure a complete good file sets every field, deployments inherit the
 * file's default_deployment */
static void test_config_load_file_good(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    write_file(f,
               "{\"grpc_listen\": \"0.0.0.0:7000\",\n"
               " \"http_listen\": \"127.0.0.1:0\",\n"
               " \"snapshot\": {\"path\": \"/tmp/x.snap\", \"interval_s\": "
               "2.5},\n"
               " \"recompute_interval_ms\": 250, \"liveness_window_s\": 10,\n"
               " \"limits\": {\"max_deployments\": 4, \"max_instances\": 9,\n"
               "   \"max_message_bytes\": 65536, \"max_stream_queue\": 16},\n"
               " \"auto_create_deployments\": false,\n"
               " \"deployments\": [\n"
               "  {\"name\": \"a\", \"profile\": {\"name\": \"p\", \"aA\": 1,"
               " \"bA\": 2, \"aC\": 0, \"bC\": 0.5, \"aF\": 3, \"bF\": 4,"
               " \"comm_mode\": \"aggregate\"}, \"ffn_instances\": 2,"
               " \"batch\": 64},\n"
               "  {\"name\": \"b\"}],\n"
               " \"default_deployment\": {\"max_ratio\": 64,"
               " \"calibration\": {\"forgetting\": 0.5}}}\n");
    if (afd_config_load_file(&f->cfg, f->path, err) != AFD_OK)
        fail_msg("load: %s", err);
    assert_string_equal(f->cfg.grpc_listen, "0.0.0.0:7000");
    assert_string_equal(f->cfg.http_listen, "127.0.0.1:0");
    assert_string_equal(f->cfg.snapshot_path, "/tmp/x.snap");
    assert_int_equal(f->cfg.snapshot_interval_ms, 2500);
    assert_int_equal(f->cfg.recompute_interval_ms, 250);
    assert_int_equal(f->cfg.liveness_window_ms, 10000);
    assert_int_equal(f->cfg.max_deployments, 4);
    assert_int_equal(f->cfg.max_instances, 9);
    assert_int_equal(f->cfg.max_message_bytes, 65536);
    assert_int_equal(f->cfg.max_stream_queue, 16);
    assert_false(f->cfg.auto_create_deployments);
    assert_int_equal(f->cfg.n_deployments, 2);
    assert_string_equal(f->cfg.deployments[0].profile.name, "p");
    assert_true(f->cfg.deployments[0].profile.aF == 3);
    assert_int_equal(f->cfg.deployments[0].profile.comm_mode,
                     AFD_COMM_AGGREGATE);
    assert_int_equal(f->cfg.deployments[0].ffn_instances, 2);
    assert_true(f->cfg.deployments[0].batch == 64);
    /* Inherited from default_deployment even though it comes later. */
    assert_true(f->cfg.deployments[0].max_ratio == 64);
    assert_true(f->cfg.deployments[1].calib.forgetting == 0.5);
    assert_true(f->cfg.deployments[1].calib.prior_weight == 10);
    assert_string_equal(f->cfg.deployments[1].profile.name, "paper-v1-fit");
}

/* ensure a built-in profile can be named by string */
static void test_config_load_file_builtin_profile(void **state)
{
    struct config_fixture *f = *state;

    write_file(f, "{\"deployments\": [{\"name\": \"a\", \"profile\": "
                  "\"paper-v1-fit\"}]}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_OK);
    assert_string_equal(f->cfg.deployments[0].profile.name, "paper-v1-fit");
}

/* ensure a bad profile coefficient names the full field path */
static void test_config_load_file_bad_profile_field(void **state)
{
    expect_error(*state,
                 "{\"deployments\": [{\"name\": \"a\"}, {\"name\": \"b\", "
                 "\"profile\": {\"name\": \"p\", \"aA\": 1, \"bA\": 2, "
                 "\"aC\": 0, \"bC\": 0.5, \"aF\": -1, \"bF\": 4, "
                 "\"comm_mode\": \"aggregate\"}}]}",
                 AFD_EINVAL, "deployments[1].profile.aF");
}

/* ensure an unknown built-in name is an error listing the built-ins */
static void test_config_load_file_unknown_builtin(void **state)
{
    expect_error(*state,
                 "{\"deployments\": [{\"name\": \"a\", \"profile\": "
                 "\"nope\"}]}",
                 AFD_EINVAL, "deployments[0].profile: unknown built-in");
}

/* ensure an unknown key is an error naming it */
static void test_config_load_file_unknown_key(void **state)
{
    expect_error(*state, "{\"limits\": {\"max_instance\": 3}}", AFD_EINVAL,
                 "limits.max_instance: unknown field");
}

/* ensure a top-level typo is an unknown key too */
static void test_config_load_file_unknown_top_key(void **state)
{
    expect_error(*state, "{\"grpc_lisen\": \"x\"}", AFD_EINVAL,
                 "grpc_lisen: unknown field");
}

/* ensure the type of each kind of field is checked with its path */
static void test_config_load_file_wrong_types(void **state)
{
    struct config_fixture *f = *state;

    expect_error(f, "{\"grpc_listen\": 5}", AFD_EINVAL,
                 "grpc_listen: must be a string");
    expect_error(f, "{\"auto_create_deployments\": 1}", AFD_EINVAL,
                 "auto_create_deployments: must be true or false");
    expect_error(f, "{\"limits\": {\"max_instances\": 2.5}}", AFD_EINVAL,
                 "limits.max_instances: must be an integer");
    expect_error(f, "{\"deployments\": {}}", AFD_EINVAL,
                 "deployments: must be an array");
    expect_error(f, "{\"snapshot\": []}", AFD_EINVAL,
                 "snapshot: must be an object");
}

/* ensure out-of-range numbers name the field, the bounds and the value */
static void test_config_load_file_out_of_range(void **state)
{
    struct config_fixture *f = *state;

    expect_error(f,
                 "{\"deployments\": [{\"name\": \"a\", \"calibration\": "
                 "{\"forgetting\": 1.5}}]}",
                 AFD_EINVAL,
                 "deployments[0].calibration.forgetting: must be in (0, 1], "
                 "got 1.5");
    expect_error(f, "{\"liveness_window_s\": 0}", AFD_EINVAL,
                 "liveness_window_s: must be in [0.001, 86400], got 0");
    expect_error(f,
                 "{\"deployments\": [{\"name\": \"a\", \"max_ratio\": "
                 "0.5}]}",
                 AFD_EINVAL, "deployments[0].max_ratio");
}

/* ensure a deployment without a name, or a duplicate name, is an error */
static void test_config_load_file_bad_names(void **state)
{
    struct config_fixture *f = *state;

    expect_error(f, "{\"deployments\": [{\"batch\": 1}]}", AFD_EINVAL,
                 "deployments[0]: name: required field missing");
    expect_error(f,
                 "{\"deployments\": [{\"name\": \"a\"}, {\"name\": "
                 "\"a\"}]}",
                 AFD_EINVAL, "deployments[1]: name: 'a' already used");
    expect_error(f, "{\"default_deployment\": {\"name\": \"a\"}}", AFD_EINVAL,
                 "default_deployment.name: unknown field");
}

/* ensure more deployments than the limit is a cross-field error */
static void test_config_load_file_too_many_deployments(void **state)
{
    expect_error(*state,
                 "{\"limits\": {\"max_deployments\": 1}, \"deployments\": "
                 "[{\"name\": \"a\"}, {\"name\": \"b\"}]}",
                 AFD_EINVAL, "limits.max_deployments = 1");
}

/* ensure malformed JSON gives AFD_EPARSE with the line number */
static void test_config_load_file_bad_json_line(void **state)
{
    struct config_fixture *f = *state;
    char needle[96];

    snprintf(needle, sizeof(needle), "%s:3:", f->path);
    expect_error(f, "{\n \"grpc_listen\": \"x\",\n \"http_listen\" 5\n}",
                 AFD_EPARSE, needle);
    expect_error(f, "{\"a\": 1, \"a\": 2}", AFD_EPARSE, "duplicate");
}

/* ensure a missing file is AFD_EIO naming the path */
static void test_config_load_file_missing(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN];

    assert_int_equal(
        afd_config_load_file(&f->cfg, "/nonexistent/afd.json", err), AFD_EIO);
    assert_non_null(strstr(err, "/nonexistent/afd.json: cannot open"));
}

/* ensure an empty file is AFD_EPARSE saying it is empty */
static void test_config_load_file_empty(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN];

    write_file(f, "");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, err), AFD_EPARSE);
    assert_true(strncmp(err, f->path, strlen(f->path)) == 0);
    assert_non_null(strstr(err, "file is empty"));
}

/* ensure a directory is AFD_EIO, refused rather than read */
static void test_config_load_file_directory(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_config_load_file(&f->cfg, "/tmp", err), AFD_EIO);
    assert_non_null(strstr(err, "/tmp: not a regular file"));
}

/* ensure a failed load leaves the config exactly as it was */
static void test_config_load_file_error_changes_nothing(void **state)
{
    struct config_fixture *f = *state;
    struct afd_config before;

    write_file(f, "{\"deployments\": [{\"name\": \"keep\"}]}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_OK);
    before = f->cfg;
    write_file(f, "{\"grpc_listen\": \"1.2.3.4:5\", \"deployments\": "
                  "[{\"name\": \"x\", \"batch\": -1}]}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_EINVAL);
    assert_true(memcmp(&before, &f->cfg, sizeof(before)) == 0);
    assert_string_equal(f->cfg.deployments[0].name, "keep");
}

/* ensure a file without "deployments" keeps the earlier list */
static void test_config_load_file_keeps_deployments(void **state)
{
    struct config_fixture *f = *state;

    write_file(f, "{\"deployments\": [{\"name\": \"keep\"}]}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_OK);
    write_file(f, "{\"recompute_interval_ms\": 50}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_OK);
    assert_int_equal(f->cfg.n_deployments, 1);
    assert_int_equal(f->cfg.recompute_interval_ms, 50);
}

/* ensure lookup returns the named entry, else the default with the name */
static void test_config_deployment_lookup(void **state)
{
    struct config_fixture *f = *state;
    struct afd_deployment_config d;

    write_file(f, "{\"default_deployment\": {\"batch\": 7}, \"deployments\":"
                  " [{\"name\": \"a\", \"batch\": 3}]}");
    assert_int_equal(afd_config_load_file(&f->cfg, f->path, NULL), AFD_OK);
    afd_config_deployment(&f->cfg, "a", &d);
    assert_string_equal(d.name, "a");
    assert_true(d.batch == 3);
    afd_config_deployment(&f->cfg, "zz", &d);
    assert_string_equal(d.name, "zz");
    assert_true(d.batch == 7);
}

/* ensure validate rejects an empty address in a hand-built config */
static void test_config_validate_empty_address(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN];

    f->cfg.http_listen[0] = '\0';
    assert_int_equal(afd_config_validate(&f->cfg, err), AFD_EINVAL);
    assert_non_null(strstr(err, "http_listen: must not be empty"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, config_setup, config_teardown)

/* ensure the "ha" section loads, defaults stay single-node, and every bad
 * key or bound is named */
static void test_config_ha_section(void **state)
{
    struct config_fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    assert_string_equal(f->cfg.ha.endpoints, "");
    assert_string_equal(f->cfg.ha.prefix, "/afd-sizer");
    assert_int_equal(f->cfg.ha.ttl_ms, 5000);
    assert_int_equal(f->cfg.ha.state_interval_ms, 1000);
    write_file(f, "{\"ha\": {\"etcd_endpoints\": \"a:2379,b:2379\", "
                  "\"prefix\": \"/x\", \"ttl_ms\": 3000, "
                  "\"state_interval_ms\": 250, \"advertise\": \"p:1\"}}");
    if (afd_config_load_file(&f->cfg, f->path, err))
        fail_msg("load: %s", err);
    assert_string_equal(f->cfg.ha.endpoints, "a:2379,b:2379");
    assert_string_equal(f->cfg.ha.prefix, "/x");
    assert_int_equal(f->cfg.ha.ttl_ms, 3000);
    assert_int_equal(f->cfg.ha.state_interval_ms, 250);
    assert_string_equal(f->cfg.ha.advertise, "p:1");
    expect_error(f, "{\"ha\": {\"ttl\": 3}}", AFD_EINVAL,
                 "ha.ttl: unknown field");
    expect_error(f, "{\"ha\": {\"ttl_ms\": 1000}}", AFD_EINVAL,
                 "ha.ttl_ms must be in [2000, 600000]");
    expect_error(f, "{\"ha\": {\"prefix\": \"nope\"}}", AFD_EINVAL,
                 "ha.prefix must start with '/'");
    expect_error(f, "{\"ha\": {\"etcd_endpoints\": \"a:1,,b:2\"}}", AFD_EINVAL,
                 "ha.etcd_endpoints must be 1 to 8");
    expect_error(f, "{\"ha\": {\"state_interval_ms\": 9000}}", AFD_EINVAL,
                 "ha.state_interval_ms must be in [50, ttl_ms]");
    expect_error(f, "{\"ha\": []}", AFD_EINVAL, "ha: must be an object");
    expect_error(f,
                 "{\"ha\": {\"tls_cert_file\": \"c\", "
                 "\"tls_key_file\": \"k\"}}",
                 AFD_EINVAL, "need ha.tls_ca_file");
    expect_error(f,
                 "{\"ha\": {\"tls_ca_file\": \"a\", "
                 "\"tls_key_file\": \"k\"}}",
                 AFD_EINVAL, "go together");
    /* a failed load changed nothing */
    assert_int_equal(f->cfg.ha.ttl_ms, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_config_ha_section),
        T(test_config_default_values),
        T(test_config_load_file_good),
        T(test_config_load_file_builtin_profile),
        T(test_config_load_file_bad_profile_field),
        T(test_config_load_file_unknown_builtin),
        T(test_config_load_file_unknown_key),
        T(test_config_load_file_unknown_top_key),
        T(test_config_load_file_wrong_types),
        T(test_config_load_file_out_of_range),
        T(test_config_load_file_bad_names),
        T(test_config_load_file_too_many_deployments),
        T(test_config_load_file_bad_json_line),
        T(test_config_load_file_missing),
        T(test_config_load_file_empty),
        T(test_config_load_file_directory),
        T(test_config_load_file_error_changes_nothing),
        T(test_config_load_file_keeps_deployments),
        T(test_config_deployment_lookup),
        T(test_config_validate_empty_address),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
