/*
 * test_grpc_client.c - the gRPC client layer (plugin/rpc/grpc_client.h) without
 * a server: argument errors, a refused connection mapped to AFD_EIO with
 * the method and status named, a reader that reports its stream's end, and
 * a reader freed while its call is still open. The calls against a real
 * daemon are covered by integration/e2e/test_closed_loop.py.
 */
#include "tests/afd_test.h"

#include <string.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_client.h"
#include "proto/afd_sizer.pb-c.h"

/* A loopback port nothing listens on (the discard port, never served). */
#define DEAD_TARGET "127.0.0.1:9"

/* ensure a missing target and an oversized token are refused by name */
static void test_afd_grpc_client_new_bad_args(void **state)
{
    char err[AFD_ERR_LEN], tok[700];

    (void)state;
    assert_null(afd_grpc_client_new("", NULL, err));
    assert_non_null(strstr(err, "grpc target must be HOST:PORT"));
    memset(tok, 'a', sizeof(tok) - 1);
    tok[sizeof(tok) - 1] = '\0';
    assert_null(afd_grpc_client_new(DEAD_TARGET, tok, err));
    assert_non_null(strstr(err, "token longer than"));
}

/* ensure a TLS channel without the server's CA, or with a client
 * certificate lacking its key (or the reverse), is refused by name before
 * any channel exists, and CA-only TLS makes a client */
static void test_afd_grpc_client_new_tls_args(void **state)
{
    char err[AFD_ERR_LEN];
    struct afd_grpc_client *c;

    (void)state;
    assert_null(
        afd_grpc_client_new_tls(DEAD_TARGET, NULL, NULL, NULL, NULL, err));
    assert_non_null(strstr(err, "needs the server's CA"));
    assert_null(
        afd_grpc_client_new_tls(DEAD_TARGET, NULL, "CA", "CERT", NULL, err));
    assert_non_null(strstr(err, "needs its key"));
    assert_null(
        afd_grpc_client_new_tls(DEAD_TARGET, NULL, "CA", NULL, "KEY", err));
    assert_non_null(strstr(err, "needs its key"));
    c = afd_grpc_client_new_tls(DEAD_TARGET, NULL, "CA", NULL, NULL, err);
    assert_non_null(c);
    afd_grpc_client_free(c);
}

/* ensure a unary call to a dead port fails with AFD_EIO naming the method
 * and UNAVAILABLE, within its deadline */
static void test_afd_grpc_client_unary_unavailable(void **state)
{
    Afd__Sizer__V1__GetRecommendationRequest q =
        AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
    ProtobufCMessage *resp = (ProtobufCMessage *)1;
    char err[AFD_ERR_LEN];
    struct afd_grpc_client *c = afd_grpc_client_new(DEAD_TARGET, "t", err);

    (void)state;
    assert_non_null(c);
    q.deployment = "d";
    assert_int_equal(afd_grpc_client_unary(
                         c, "/afd.sizer.v1.Sizer/GetRecommendation", &q.base,
                         &afd__sizer__v1__recommendation__descriptor, &resp,
                         2000, err),
                     AFD_EIO);
    assert_null(resp);
    assert_non_null(strstr(err, "/afd.sizer.v1.Sizer/GetRecommendation: "));
    if (!strstr(err, "UNAVAILABLE") && !strstr(err, "DEADLINE_EXCEEDED"))
        fail_msg("unexpected status in '%s'", err);
    afd_grpc_client_free(c);
}

/* ensure a reader whose call fails reports the end once its queue is
 * empty, and that a bad queue size is refused */
static void test_afd_grpc_reader_reports_end(void **state)
{
    Afd__Sizer__V1__WatchCommandsRequest q =
        AFD__SIZER__V1__WATCH_COMMANDS_REQUEST__INIT;
    struct afd_grpc_reader *r;
    ProtobufCMessage *m;
    char err[AFD_ERR_LEN];
    struct afd_grpc_client *c = afd_grpc_client_new(DEAD_TARGET, NULL, err);
    int rc, tries;

    (void)state;
    assert_non_null(c);
    q.deployment = "";
    assert_null(afd_grpc_reader_start(
        c, "/afd.sizer.v1.Sizer/WatchCommands", &q.base,
        &afd__sizer__v1__scale_command__descriptor, 0, err));
    assert_non_null(strstr(err, "reader queue must be"));
    r = afd_grpc_reader_start(c, "/afd.sizer.v1.Sizer/WatchCommands", &q.base,
                              &afd__sizer__v1__scale_command__descriptor, 8,
                              err);
    assert_non_null(r);
    for (tries = 0; tries < 100; tries++) {
        rc = afd_grpc_reader_next(r, &m, 100, err);
        if (rc != AFD_EEMPTY)
            break;
    }
    assert_int_equal(rc, AFD_EIO);
    assert_null(m);
    assert_non_null(strstr(err, "WatchCommands"));
    afd_grpc_reader_free(r);
    afd_grpc_client_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_afd_grpc_client_new_bad_args),
        cmocka_unit_test(test_afd_grpc_client_new_tls_args),
        cmocka_unit_test(test_afd_grpc_client_unary_unavailable),
        cmocka_unit_test(test_afd_grpc_reader_reports_end),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
