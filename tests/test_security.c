/*
 * test_security.c - loading and checking the TLS files and the bearer
 * token (plugin/daemon/security.h). Files are written to a fresh temporary
 * folder per test. A valid certificate/key pair is covered end to end by
 * integration/e2e/test_security.py (openssl makes it at test time).
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/security.h"

struct fixture {
    char dir[64];
    char path[8][AFD_PATH_LEN];
    int n;
    struct afd_config cfg;
    struct afd_security sec;
    char err[AFD_ERR_LEN];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    snprintf(f->dir, sizeof(f->dir), "/tmp/afd-test-security-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    afd_config_default(&f->cfg);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    int i;

    afd_security_release(&f->sec);
    for (i = 0; i < f->n; i++)
        unlink(f->path[i]);
    rmdir(f->dir);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* Writes text to dir/name (mode 0600) and returns the path. */
static const char *put(struct fixture *f, const char *name, const char *text)
{
    char *p = f->path[f->n++];
    char dir[sizeof(f->dir)];
    FILE *fp;

    memcpy(dir, f->dir, sizeof(dir));
    snprintf(p, AFD_PATH_LEN, "%s/%s", dir, name);
    fp = fopen(p, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    chmod(p, 0600);
    return p;
}

static void set(char *dst, const char *src)
{
    snprintf(dst, AFD_PATH_LEN, "%s", src);
}

#define CERT "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

/* ensure nothing configured loads as plaintext without a token */
static void test_security_load_nothing(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_OK);
    assert_null(f->sec.cert_pem);
    assert_null(f->sec.key_pem);
    assert_null(f->sec.client_ca_pem);
    assert_null(f->sec.token);
}

/* ensure a certificate without a key is an error naming the key field */
static void test_security_load_cert_without_key(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_cert_file, put(f, "c.pem", CERT));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.tls.key_file (--tls-key)"));
    assert_non_null(strstr(f->err, "required when security.tls.cert_file"));
}

/* ensure a key without a certificate is an error naming the cert field */
static void test_security_load_key_without_cert(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_key_file, "/nonexistent.key");
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_true(!strncmp(f->err, "security.tls.cert_file (--tls-cert)", 35));
}

/* ensure a client CA alone (no server certificate) is refused */
static void test_security_load_ca_without_cert(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_client_ca_file, put(f, "ca.pem", CERT));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_true(!strncmp(f->err, "security.tls.client_ca_file", 27));
}

/* ensure a missing certificate file names the field and the path */
static void test_security_load_missing_file(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_cert_file, "/nonexistent/afd.pem");
    set(f->cfg.security.tls_key_file, "/nonexistent/afd.key");
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.tls.cert_file"));
    assert_non_null(strstr(f->err, "cannot read '/nonexistent/afd.pem'"));
    assert_null(f->sec.cert_pem);
}

/* ensure a key file without a PRIVATE KEY block is refused */
static void test_security_load_key_not_pem(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_cert_file, put(f, "c.pem", CERT));
    set(f->cfg.security.tls_key_file, put(f, "k.pem", CERT));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.tls.key_file"));
    assert_non_null(strstr(f->err, "PRIVATE KEY block"));
    assert_null(f->sec.cert_pem); /* released on failure */
}

/* ensure an encrypted private key is refused with the reason */
static void test_security_load_encrypted_key(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_cert_file, put(f, "c.pem", CERT));
    set(f->cfg.security.tls_key_file,
        put(f, "k.pem",
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n"
            "-----END ENCRYPTED PRIVATE KEY-----\n"));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "encrypted key"));
}

/* ensure a PEM block without its END line does not pass */
static void test_security_load_cert_truncated(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.tls_cert_file,
        put(f, "c.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n"));
    set(f->cfg.security.tls_key_file, "/unused.key");
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.tls.cert_file"));
    assert_non_null(strstr(f->err, "not a PEM file"));
}

/* ensure the token is the file trimmed of surrounding whitespace */
static void test_security_load_token_trimmed(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.token_file,
        put(f, "tok", "\n \t abcdefghijklmnop0123 \r\n\n"));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_OK);
    assert_string_equal(f->sec.token, "abcdefghijklmnop0123");
    assert_int_equal(f->sec.token_len, 20);
}

/* ensure a token shorter than 16 characters is refused */
static void test_security_load_token_too_short(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.token_file, put(f, "tok", "abcdefghijklmno\n"));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.token_file (--token-file)"));
    assert_non_null(strstr(f->err, "got 15 characters"));
    assert_null(f->sec.token);
}

/* ensure a token with an inner space (two words) is refused */
static void test_security_load_token_inner_space(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.token_file, put(f, "tok", "abcdefghij klmnopqrstu\n"));
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "spaces or control characters"));
}

/* ensure a missing token file names the field */
static void test_security_load_token_missing(void **state)
{
    struct fixture *f = *state;

    set(f->cfg.security.token_file, "/nonexistent/token");
    assert_int_equal(afd_security_load(&f->sec, &f->cfg, f->err), AFD_EINVAL);
    assert_non_null(strstr(f->err, "security.token_file"));
    assert_non_null(strstr(f->err, "/nonexistent/token"));
}

/* ensure the start-up line says tls off and token on, without the token */
static void test_security_describe_token_only(void **state)
{
    struct afd_security sec = {NULL, NULL, NULL, "abcdefghijklmnop", 16};
    char line[256];

    afd_security_describe(&sec, "127.0.0.1:50051", line, sizeof(line));
    assert_string_equal(line, "grpc security: tls off (plaintext); bearer "
                              "token required on Telemetry.Report and "
                              "Sizer.AckCommand");
    assert_null(strstr(line, "abcdefghijklmnop"));
}

/* ensure an unprotected non-loopback address gets a warning */
static void test_security_describe_exposed(void **state)
{
    struct afd_security sec = {NULL, NULL, NULL, NULL, 0};
    char line[256];

    afd_security_describe(&sec, "0.0.0.0:50051", line, sizeof(line));
    assert_non_null(strstr(line, "warning: not loopback and unprotected"));
    afd_security_describe(&sec, "127.0.0.1:50051", line, sizeof(line));
    assert_null(strstr(line, "warning"));
}

/* ensure a token without tls on a non-loopback address gets a warning */
static void test_security_describe_token_in_clear(void **state)
{
    struct afd_security sec = {NULL, NULL, NULL, "abcdefghijklmnop", 16};
    char line[256];

    afd_security_describe(&sec, "10.0.0.7:50051", line, sizeof(line));
    assert_non_null(strstr(line, "token travels in plaintext"));
    assert_null(strstr(line, "abcdefghijklmnop"));
}

/* ensure mTLS is reported when a client CA is loaded */
static void test_security_describe_mtls(void **state)
{
    struct afd_security sec = {"c", "k", "ca", NULL, 0};
    char line[256];

    afd_security_describe(&sec, "0.0.0.0:1", line, sizeof(line));
    assert_string_equal(line, "grpc security: tls on, client certificates "
                              "required (mtls); bearer token off");
}

/* ensure loopback hosts are recognised and others are not */
static void test_listen_is_loopback_hosts(void **state)
{
    assert_true(afd_listen_is_loopback("127.0.0.1:1"));
    assert_true(afd_listen_is_loopback("[::1]:1"));
    assert_true(afd_listen_is_loopback("localhost:1"));
    assert_false(afd_listen_is_loopback("0.0.0.0:1"));
    assert_false(afd_listen_is_loopback("[::]:1"));
    assert_false(afd_listen_is_loopback("10.0.0.7:1"));
    assert_true(afd_listen_is_loopback(AFD_DEFAULT_GRPC_LISTEN));
    assert_true(afd_listen_is_loopback(AFD_DEFAULT_HTTP_LISTEN));
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_security_load_nothing),
        T(test_security_load_cert_without_key),
        T(test_security_load_key_without_cert),
        T(test_security_load_ca_without_cert),
        T(test_security_load_missing_file),
        T(test_security_load_key_not_pem),
        T(test_security_load_encrypted_key),
        T(test_security_load_cert_truncated),
        T(test_security_load_token_trimmed),
        T(test_security_load_token_too_short),
        T(test_security_load_token_inner_space),
        T(test_security_load_token_missing),
        cmocka_unit_test(test_security_describe_token_only),
        cmocka_unit_test(test_security_describe_exposed),
        cmocka_unit_test(test_security_describe_token_in_clear),
        cmocka_unit_test(test_security_describe_mtls),
        cmocka_unit_test(test_listen_is_loopback_hosts),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
