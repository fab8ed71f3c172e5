/*
 * security.c - loads and checks the TLS files and the bearer token named in
 * the config (see security.h). Runs once at start, before any port is
 * bound, so every problem is a configuration error naming its field.
 */
#include "plugin/daemon/security.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_server.h"

/* PEM files larger than this are not certificates or keys. */
#define MAX_PEM_BYTES (1024 * 1024)

/* One configurable file: where it is set, for messages. */
struct source {
    const char *field; /* "security.tls.cert_file" */
    const char *flag;  /* "--tls-cert" */
    const char *path;  /* empty = not set */
};

/* Reads the whole file (at most max bytes) into a NUL-terminated buffer. */
static int read_file(const struct source *s, size_t max, char **out,
                     size_t *len, char *err)
{
    FILE *fp = fopen(s->path, "rb");
    char *buf;
    size_t n;

    *out = NULL;
    if (!fp)
        return afd_err(err, AFD_EINVAL, "%s (%s): cannot read '%s': %s",
                       s->field, s->flag, s->path, strerror(errno));
    buf = malloc(max + 1);
    if (!buf) {
        fclose(fp);
        return afd_err(err, AFD_ENOMEM, "%s: out of memory", s->field);
    }
    n = fread(buf, 1, max + 1, fp);
    if (ferror(fp)) {
        fclose(fp);
        free(buf);
        return afd_err(err, AFD_EINVAL, "%s (%s): cannot read '%s'", s->field,
                       s->flag, s->path);
    }
    fclose(fp);
    if (n > max) {
        free(buf);
        return afd_err(err, AFD_EINVAL,
                       "%s (%s): '%s' is larger than %zu bytes", s->field,
                       s->flag, s->path, max);
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AFD_OK;
}

/*
 * A PEM file holding a "-----BEGIN <label>" block with a matching END; the
 * label must contain want. gRPC parses it for real when the port is added.
 */
/*
 * A secret (token, private key) readable by group or others is warned
 * about, by path only, not refused: Kubernetes mounts Secrets 0644 unless
 * defaultMode says otherwise, and refusing would break that common
 * deployment for a risk the operator can see here and fix.
 */
static void warn_if_loose(const struct source *s, const char *what)
{
    struct stat st;

    if (!stat(s->path, &st) && (st.st_mode & (S_IRWXG | S_IRWXO)))
        fprintf(stderr,
                "afd-sizer: warning: %s file '%s' is readable by group or "
                "others (chmod 600 it)\n",
                what, s->path);
}

static int read_pem(const struct source *s, const char *want, char **out,
                    char *err)
{
    char begin[64], end[96];
    const char *b;
    size_t len;
    int rc;

    if ((rc = read_file(s, MAX_PEM_BYTES, out, &len, err)) < 0)
        return rc;
    if (strlen(*out) != len)
        goto bad;
    for (b = strstr(*out, "-----BEGIN "); b; b = strstr(b + 1, "-----BEGIN ")) {
        size_t k = strcspn(b + 11, "-\n");
        if (k >= sizeof(begin) || strncmp(b + 11 + k, "-----", 5))
            continue;
        memcpy(begin, b + 11, k);
        begin[k] = '\0';
        snprintf(end, sizeof(end), "-----END %s-----", begin);
        if (strstr(begin, want) && !strstr(begin, "ENCRYPTED") &&
            strstr(b, end))
            return AFD_OK;
        if (strstr(begin, "ENCRYPTED")) {
            afd_err(err, AFD_EINVAL,
                    "%s (%s): '%s' holds an encrypted key; gRPC needs it "
                    "unencrypted (protect it with file permissions)",
                    s->field, s->flag, s->path);
            free(*out);
            *out = NULL;
            return AFD_EINVAL;
        }
    }
bad:
    afd_err(err, AFD_EINVAL,
            "%s (%s): '%s' is not a PEM file with a %s block (expected "
            "'-----BEGIN ...%s-----')",
            s->field, s->flag, s->path, want, want);
    free(*out);
    *out = NULL;
    return AFD_EINVAL;
}

static bool token_char(unsigned char ch)
{
    return ch > 0x20 && ch < 0x7f;
}

/* The token: the file trimmed of surrounding whitespace, then checked. */
static int read_token(const struct source *s, struct afd_security *sec,
                      char *err)
{
    size_t len, a, z, i;
    char *buf;
    int rc;

    if ((rc = read_file(s, AFD_TOKEN_MAX_LEN + 256, &buf, &len, err)) < 0)
        return rc;
    for (a = 0; a < len && strchr(" \t\r\n", buf[a]) && buf[a]; a++)
        ;
    for (z = len; z > a && strchr(" \t\r\n", buf[z - 1]) && buf[z - 1]; z--)
        ;
    for (i = a; i < z; i++)
        if (!token_char((unsigned char)buf[i]))
            break;
    if (i < z || z - a < AFD_TOKEN_MIN_LEN || z - a > AFD_TOKEN_MAX_LEN) {
        rc = afd_err(err, AFD_EINVAL,
                     "%s (%s): the token in '%s' must be one line of %d..%d "
                     "visible ASCII characters (e.g. from `openssl rand -hex "
                     "32`), got %zu characters%s",
                     s->field, s->flag, s->path, AFD_TOKEN_MIN_LEN,
                     AFD_TOKEN_MAX_LEN, z - a,
                     i < z ? " with spaces or control characters" : "");
        memset(buf, 0, len);
        free(buf);
        return rc;
    }
    memmove(buf, buf + a, z - a);
    memset(buf + (z - a), 0, len + 1 - (z - a));
    sec->token = buf;
    sec->token_len = z - a;
    warn_if_loose(s, "token");
    return AFD_OK;
}

int afd_security_load(struct afd_security *sec, const struct afd_config *cfg,
                      char *err)
{
    const struct afd_security_config *c = &cfg->security;
    const struct source cert = {"security.tls.cert_file", "--tls-cert",
                                c->tls_cert_file};
    const struct source key = {"security.tls.key_file", "--tls-key",
                               c->tls_key_file};
    const struct source ca = {"security.tls.client_ca_file", "--tls-client-ca",
                              c->tls_client_ca_file};
    const struct source tok = {"security.token_file", "--token-file",
                               c->token_file};
    char why[AFD_ERR_LEN];
    int rc = AFD_OK;

    memset(sec, 0, sizeof(*sec));
    if (cert.path[0] && !key.path[0])
        return afd_err(err, AFD_EINVAL, "%s (%s): required when %s (%s) is set",
                       key.field, key.flag, cert.field, cert.flag);
    if (key.path[0] && !cert.path[0])
        return afd_err(err, AFD_EINVAL, "%s (%s): required when %s (%s) is set",
                       cert.field, cert.flag, key.field, key.flag);
    if (ca.path[0] && !cert.path[0])
        return afd_err(err, AFD_EINVAL,
                       "%s (%s): needs %s and %s too (mTLS is TLS plus client "
                       "certificates)",
                       ca.field, ca.flag, cert.field, key.field);
    if (cert.path[0]) {
        if ((rc = read_pem(&cert, "CERTIFICATE", &sec->cert_pem, err)) < 0 ||
            (rc = read_pem(&key, "PRIVATE KEY", &sec->key_pem, err)) < 0)
            goto fail;
        warn_if_loose(&key, "TLS key");
    }
    if (ca.path[0] &&
        (rc = read_pem(&ca, "CERTIFICATE", &sec->client_ca_pem, err)) < 0)
        goto fail;
    if (sec->cert_pem && afd_grpc_tls_check(sec->cert_pem, sec->key_pem,
                                            sec->client_ca_pem, why) < 0) {
        rc = afd_err(err, AFD_EINVAL, "%s, %s%s: %s", cert.field, key.field,
                     ca.path[0] ? ", security.tls.client_ca_file" : "", why);
        goto fail;
    }
    if (tok.path[0] && (rc = read_token(&tok, sec, err)) < 0)
        goto fail;
    return AFD_OK;
fail:
    afd_security_release(sec);
    return rc;
}

bool afd_listen_is_loopback(const char *listen)
{
    return !strncmp(listen, "127.", 4) || !strncmp(listen, "[::1]:", 6) ||
           !strncmp(listen, "localhost:", 10);
}

void afd_security_describe(const struct afd_security *sec, const char *listen,
                           char *out, size_t len)
{
    const char *tls = !sec->cert_pem       ? "off (plaintext)"
                      : sec->client_ca_pem ? "on, client certificates "
                                             "required (mtls)"
                                           : "on";

    const char *warn = "";

    if (!afd_listen_is_loopback(listen) && !sec->cert_pem)
        warn = sec->token ? "; warning: not loopback and the token travels "
                            "in plaintext (add tls)"
                          : "; warning: not loopback and unprotected";
    snprintf(out, len, "grpc security: tls %s; bearer token %s%s", tls,
             sec->token ? "required on Telemetry.Report and Sizer.AckCommand"
                        : "off",
             warn);
}

static void wipe(char **p)
{
    if (*p) {
        memset(*p, 0, strlen(*p));
        free(*p);
        *p = NULL;
    }
}

void afd_security_release(struct afd_security *sec)
{
    if (!sec)
        return;
    wipe(&sec->cert_pem);
    wipe(&sec->key_pem);
    wipe(&sec->client_ca_pem);
    wipe(&sec->token);
    sec->token_len = 0;
}
