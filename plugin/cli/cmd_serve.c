/*
 * cmd_serve.c - `afd-sizer serve`: runs the daemon (plugin/daemon/daemon.h).
 *
 *   afd-sizer serve [--config FILE] [--grpc-listen ADDR]
 *                   [--http-listen ADDR] [--snapshot PATH]
 *                   [--tls-cert PEM --tls-key PEM [--tls-client-ca PEM]]
 *                   [--token-file PATH]
 *                   [--dynamo-planner ADDR [--dynamo-token-file PATH]]
 *                   [--etcd-endpoints LIST [--ha-prefix P] [--ha-ttl-ms MS]
 *                    [--ha-advertise ADDR]
 *                    [--etcd-tls-ca PEM [--etcd-tls-cert PEM
 *                     --etcd-tls-key PEM]]]
 *
 * There is deliberately no --token flag: a command line is visible to
 * every local user in the process list, and config files end up in
 * repositories; the token lives in a file (plugin/daemon/security.h).
 *
 * Defaults, then the file, then the flags. The merged configuration is
 * validated before any port is bound; a bad one exits 2 with a message
 * naming the file and field.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/cli/cli.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/daemon.h"

static void serve_usage(FILE *out)
{
    fprintf(out,
            "usage: afd-sizer serve [--config FILE] [--grpc-listen ADDR] "
            "[--http-listen ADDR] [--snapshot PATH]\n"
            "                       [--tls-cert PEM --tls-key PEM "
            "[--tls-client-ca PEM]] [--token-file PATH]\n"
            "                       [--dynamo-planner ADDR "
            "[--dynamo-token-file PATH]\n"
            "                        [--dynamo-tls-ca PEM "
            "[--dynamo-tls-cert PEM --dynamo-tls-key PEM]]]\n"
            "                       [--etcd-endpoints LIST [--ha-prefix P] "
            "[--ha-ttl-ms MS] [--ha-advertise ADDR]\n"
            "                        [--etcd-tls-ca PEM [--etcd-tls-cert PEM "
            "--etcd-tls-key PEM]]]\n"
            "  --config FILE       JSON configuration (see "
            "plugin/daemon/config.h)\n"
            "  --grpc-listen ADDR  gRPC HOST:PORT (default %s; port 0 picks "
            "a free port)\n"
            "  --http-listen ADDR  HTTP HOST:PORT for /metrics, /healthz, "
            "/readyz (default %s)\n"
            "  --snapshot PATH     state snapshot file (default: none)\n"
            "  --tls-cert PEM      serve gRPC over TLS with this certificate "
            "chain\n"
            "  --tls-key PEM       its private key (required with --tls-cert)\n"
            "  --tls-client-ca PEM require client certificates signed by "
            "this CA (mTLS)\n"
            "  --token-file PATH   require 'authorization: Bearer <token>' on "
            "Telemetry.Report\n"
            "                      and Sizer.AckCommand; the file holds the "
            "token\n"
            "  --dynamo-planner ADDR  register as a PROPOSE plugin with "
            "the NVIDIA Dynamo\n"
            "                      planner's PluginRegistry at HOST:PORT "
            "(config \"dynamo\")\n"
            "  --dynamo-token-file PATH  the planner's auth_token, first "
            "line of the file\n"
            "  --dynamo-tls-ca PEM  talk TLS to the planner, checking its "
            "certificate\n"
            "                      against this CA\n"
            "  --dynamo-tls-cert PEM, --dynamo-tls-key PEM  our client "
            "certificate (mTLS)\n"
            "  --etcd-endpoints LIST  run as one of several replicas: elect "
            "a leader through\n"
            "                      etcd (HOST:PORT,...; config \"ha\"); "
            "followers serve reads\n"
            "  --ha-prefix P       etcd key prefix (default /afd-sizer)\n"
            "  --ha-ttl-ms MS      leader lease TTL (default 5000, >= 2000)\n"
            "  --ha-advertise ADDR the gRPC address other replicas and "
            "clients should use\n"
            "                      for this one (default: the bound "
            "listen address)\n"
            "  --etcd-tls-ca PEM   talk TLS to etcd, checking its "
            "certificate against this CA\n"
            "  --etcd-tls-cert PEM, --etcd-tls-key PEM  our client "
            "certificate (etcd --client-cert-auth)\n",
            AFD_DEFAULT_GRPC_LISTEN, AFD_DEFAULT_HTTP_LISTEN);
}

/* Copies a flag value into dst (len bytes); false when it does not fit. */
static bool set_flag(char *dst, size_t len, const char *flag, const char *v)
{
    if (strlen(v) >= len) {
        fprintf(stderr, "afd-sizer serve: %s value too long (%zu bytes)\n",
                flag, strlen(v));
        return false;
    }
    strcpy(dst, v);
    return true;
}

struct serve_flags {
    const char *config;
    const char *grpc_listen;
    const char *http_listen;
    const char *snapshot;
    const char *tls_cert;
    const char *tls_key;
    const char *tls_client_ca;
    const char *token_file;
    const char *dynamo_planner;
    const char *dynamo_token_file;
    const char *dynamo_tls_ca;
    const char *dynamo_tls_cert;
    const char *dynamo_tls_key;
    const char *etcd_endpoints;
    const char *ha_prefix;
    const char *ha_ttl_ms;
    const char *ha_advertise;
    const char *etcd_tls_ca;
    const char *etcd_tls_cert;
    const char *etcd_tls_key;
};

/* Returns -1 to go on, else the exit status. */
static int parse_flags(int argc, char **argv, struct serve_flags *f)
{
    int i;

    memset(f, 0, sizeof(*f));
    for (i = 1; i < argc; i++) {
        const char **slot = NULL;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            serve_usage(stdout);
            return AFD_EXIT_OK;
        } else if (!strcmp(argv[i], "--config")) {
            slot = &f->config;
        } else if (!strcmp(argv[i], "--grpc-listen")) {
            slot = &f->grpc_listen;
        } else if (!strcmp(argv[i], "--http-listen")) {
            slot = &f->http_listen;
        } else if (!strcmp(argv[i], "--snapshot")) {
            slot = &f->snapshot;
        } else if (!strcmp(argv[i], "--tls-cert")) {
            slot = &f->tls_cert;
        } else if (!strcmp(argv[i], "--tls-key")) {
            slot = &f->tls_key;
        } else if (!strcmp(argv[i], "--tls-client-ca")) {
            slot = &f->tls_client_ca;
        } else if (!strcmp(argv[i], "--token-file")) {
            slot = &f->token_file;
        } else if (!strcmp(argv[i], "--dynamo-planner")) {
            slot = &f->dynamo_planner;
        } else if (!strcmp(argv[i], "--dynamo-token-file")) {
            slot = &f->dynamo_token_file;
        } else if (!strcmp(argv[i], "--dynamo-tls-ca")) {
            slot = &f->dynamo_tls_ca;
        } else if (!strcmp(argv[i], "--dynamo-tls-cert")) {
            slot = &f->dynamo_tls_cert;
        } else if (!strcmp(argv[i], "--dynamo-tls-key")) {
            slot = &f->dynamo_tls_key;
        } else if (!strcmp(argv[i], "--etcd-endpoints")) {
            slot = &f->etcd_endpoints;
        } else if (!strcmp(argv[i], "--ha-prefix")) {
            slot = &f->ha_prefix;
        } else if (!strcmp(argv[i], "--ha-ttl-ms")) {
            slot = &f->ha_ttl_ms;
        } else if (!strcmp(argv[i], "--ha-advertise")) {
            slot = &f->ha_advertise;
        } else if (!strcmp(argv[i], "--etcd-tls-ca")) {
            slot = &f->etcd_tls_ca;
        } else if (!strcmp(argv[i], "--etcd-tls-cert")) {
            slot = &f->etcd_tls_cert;
        } else if (!strcmp(argv[i], "--etcd-tls-key")) {
            slot = &f->etcd_tls_key;
        } else {
            fprintf(stderr, "afd-sizer serve: unknown option '%s'\n", argv[i]);
            serve_usage(stderr);
            return AFD_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "afd-sizer serve: %s needs a value\n", argv[i]);
            return AFD_EXIT_USAGE;
        }
        *slot = argv[++i];
    }
    return -1;
}

static int load_config(const struct serve_flags *f, struct afd_config *cfg)
{
    char err[AFD_ERR_LEN];

    afd_config_default(cfg);
    if (f->config && afd_config_load_file(cfg, f->config, err)) {
        fprintf(stderr, "afd-sizer serve: %s\n", err);
        return AFD_EXIT_USAGE;
    }
    if ((f->grpc_listen && !set_flag(cfg->grpc_listen, AFD_ADDR_LEN,
                                     "--grpc-listen", f->grpc_listen)) ||
        (f->http_listen && !set_flag(cfg->http_listen, AFD_ADDR_LEN,
                                     "--http-listen", f->http_listen)) ||
        (f->snapshot && !set_flag(cfg->snapshot_path, AFD_PATH_LEN,
                                  "--snapshot", f->snapshot)) ||
        (f->tls_cert && !set_flag(cfg->security.tls_cert_file, AFD_PATH_LEN,
                                  "--tls-cert", f->tls_cert)) ||
        (f->tls_key && !set_flag(cfg->security.tls_key_file, AFD_PATH_LEN,
                                 "--tls-key", f->tls_key)) ||
        (f->tls_client_ca &&
         !set_flag(cfg->security.tls_client_ca_file, AFD_PATH_LEN,
                   "--tls-client-ca", f->tls_client_ca)) ||
        (f->token_file && !set_flag(cfg->security.token_file, AFD_PATH_LEN,
                                    "--token-file", f->token_file)) ||
        (f->dynamo_planner &&
         !set_flag(cfg->dynamo.planner, sizeof(cfg->dynamo.planner),
                   "--dynamo-planner", f->dynamo_planner)) ||
        (f->dynamo_token_file &&
         !set_flag(cfg->dynamo.token_file, sizeof(cfg->dynamo.token_file),
                   "--dynamo-token-file", f->dynamo_token_file)) ||
        (f->dynamo_tls_ca &&
         !set_flag(cfg->dynamo.tls_ca_file, sizeof(cfg->dynamo.tls_ca_file),
                   "--dynamo-tls-ca", f->dynamo_tls_ca)) ||
        (f->dynamo_tls_cert &&
         !set_flag(cfg->dynamo.tls_cert_file, sizeof(cfg->dynamo.tls_cert_file),
                   "--dynamo-tls-cert", f->dynamo_tls_cert)) ||
        (f->dynamo_tls_key &&
         !set_flag(cfg->dynamo.tls_key_file, sizeof(cfg->dynamo.tls_key_file),
                   "--dynamo-tls-key", f->dynamo_tls_key)) ||
        (f->etcd_endpoints &&
         !set_flag(cfg->ha.endpoints, sizeof(cfg->ha.endpoints),
                   "--etcd-endpoints", f->etcd_endpoints)) ||
        (f->ha_prefix && !set_flag(cfg->ha.prefix, sizeof(cfg->ha.prefix),
                                   "--ha-prefix", f->ha_prefix)) ||
        (f->ha_advertise &&
         !set_flag(cfg->ha.advertise, sizeof(cfg->ha.advertise),
                   "--ha-advertise", f->ha_advertise)) ||
        (f->etcd_tls_ca &&
         !set_flag(cfg->ha.tls_ca_file, sizeof(cfg->ha.tls_ca_file),
                   "--etcd-tls-ca", f->etcd_tls_ca)) ||
        (f->etcd_tls_cert &&
         !set_flag(cfg->ha.tls_cert_file, sizeof(cfg->ha.tls_cert_file),
                   "--etcd-tls-cert", f->etcd_tls_cert)) ||
        (f->etcd_tls_key &&
         !set_flag(cfg->ha.tls_key_file, sizeof(cfg->ha.tls_key_file),
                   "--etcd-tls-key", f->etcd_tls_key)))
        return AFD_EXIT_USAGE;
    if (f->ha_ttl_ms) {
        char *end;
        long v = strtol(f->ha_ttl_ms, &end, 10);

        if (end == f->ha_ttl_ms || *end || v < 0 || v > 86400000) {
            fprintf(stderr,
                    "afd-sizer serve: --ha-ttl-ms wants milliseconds, got "
                    "'%s'\n",
                    f->ha_ttl_ms);
            return AFD_EXIT_USAGE;
        }
        cfg->ha.ttl_ms = (int)v;
    }
    if (afd_config_validate(cfg, err)) {
        fprintf(stderr, "afd-sizer serve: %s\n", err);
        return AFD_EXIT_USAGE;
    }
    return AFD_EXIT_OK;
}

int afd_cmd_serve(int argc, char **argv)
{
    struct serve_flags flags;
    struct afd_config cfg;
    struct afd_daemon *d;
    char err[AFD_ERR_LEN];
    bool usage_error;
    sigset_t stop_signals, old_mask;
    int rc;

    rc = parse_flags(argc, argv, &flags);
    if (rc >= 0)
        return rc;
    rc = load_config(&flags, &cfg);
    if (rc != AFD_EXIT_OK) {
        afd_config_release(&cfg);
        return rc;
    }
    /*
     * Hold SIGTERM and SIGINT until the loop's handlers exist, and again
     * once the loop has ended and they are being removed: a stop request in
     * either window must not kill the daemon with the default action (exit
     * 143, no snapshot). Threads started meanwhile inherit the mask, so the
     * signal reaches the loop's thread.
     */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, &old_mask);
    d = afd_daemon_new(&cfg, &usage_error, err);
    if (!d) {
        fprintf(stderr, "afd-sizer serve: %s\n", err);
        afd_config_release(&cfg);
        return usage_error ? AFD_EXIT_USAGE : AFD_EXIT_FAILURE;
    }
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    rc = afd_daemon_run(d);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    afd_daemon_free(d);
    afd_config_release(&cfg);
    return rc;
}
