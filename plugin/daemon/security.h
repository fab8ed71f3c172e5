/*
 * security.h - the daemon's transport security: TLS material and the
 * bearer token, loaded from the files named in the config's "security"
 * section (or the --tls-cert, --tls-key, --tls-client-ca, --token-file
 * flags) and checked before any port is bound.
 *
 * Policy (see also plugin/rpc/grpc_server.h):
 * - Listen addresses default to loopback (127.0.0.1); exposing the daemon
 *   is an explicit choice, and a non-loopback gRPC address without TLS or
 *   a token gets a warning at start.
 * - TLS is optional: cert_file + key_file turn it on for gRPC; adding
 *   client_ca_file requires and verifies a client certificate (mTLS).
 *   /metrics and the probes stay plain HTTP (read-only, loopback default).
 * - The token is optional: when set, the mutating RPCs (Telemetry.Report,
 *   Sizer.AckCommand) need metadata "authorization: Bearer <token>". The
 *   reading RPCs (GetRecommendation, Solve, Watch*, KEDA, Health) stay
 *   open: KEDA's external-scaler client sends no token, and what they
 *   reveal is what /metrics shows anyway.
 * - The token is read from a file, never from the config or the command
 *   line: command lines are visible to every local user in the process
 *   list, and config files end up in repositories and ConfigMaps. The file
 *   is trimmed of surrounding whitespace; the token must be 16..4096
 *   visible ASCII characters (it travels in an HTTP/2 header).
 *
 * Ownership: afd_security_load fills caller storage with heap copies;
 * afd_security_release wipes the token and key and frees them (a zeroed
 * struct is a valid "nothing loaded" state). One owner, no threads.
 */
#ifndef AFD_SECURITY_H
#define AFD_SECURITY_H

#include <stdbool.h>
#include <stddef.h>

#include "plugin/daemon/config.h"

#define AFD_TOKEN_MIN_LEN 16
#define AFD_TOKEN_MAX_LEN 4096

struct afd_security {
    char *cert_pem;      /* server certificate chain; NULL = plaintext */
    char *key_pem;       /* its private key; NULL iff cert_pem is NULL */
    char *client_ca_pem; /* CA for client certificates; NULL = no mTLS */
    char *token;         /* bearer token; NULL = no token check */
    size_t token_len;    /* bytes, without NUL */
};

/*
 * Reads and checks the files of cfg->security into sec: each named file
 * readable and PEM-looking (certificate files hold a CERTIFICATE block, the
 * key file an unencrypted PRIVATE KEY block), cert_file and key_file both
 * or neither, client_ca_file only with them, the token as described above.
 * AFD_EINVAL or AFD_EIO with the field and flag named in err; sec is then
 * left released.
 */
int afd_security_load(struct afd_security *sec, const struct afd_config *cfg,
                      char *err);

/*
 * One line for the start-up log: whether TLS, mTLS and the token are on
 * (never the token itself), plus a warning when listen is not loopback and
 * neither TLS nor a token protects it.
 */
void afd_security_describe(const struct afd_security *sec, const char *listen,
                           char *out, size_t len);

/* True when "HOST:PORT" names a loopback host (127.x, ::1, localhost). */
bool afd_listen_is_loopback(const char *listen);

/* Wipes and frees what load allocated (NULL ok); sec becomes empty. */
void afd_security_release(struct afd_security *sec);

#endif
