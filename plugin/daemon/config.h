/*
 * config.h - the daemon's configuration: built-in defaults, a JSON file, and
 * command-line overrides (flags win over the file, the file over defaults).
 *
 * The whole file is validated before any of it is used; an error names the
 * file and the field path ("afd.json: deployments[1].profile.aF: must be
 * finite and >= 0, got -1"). Unknown keys are errors. Struct afd_config owns
 * its deployments array; afd_config_release frees it.
 *
 * File shape (every key optional):
 *   {"grpc_listen": "127.0.0.1:50051", "http_listen": "127.0.0.1:9464",
 *    "snapshot": {"path": "afd-sizer.snap", "interval_s": 30},
 *    "recompute_interval_ms": 1000, "liveness_window_s": 30,
 *    "limits": {"max_deployments": 256, "max_instances": 20000,
 *               "max_message_bytes": 4194304, "max_stream_queue": 1024,
 *               "max_streams": 1024},
 *    "auto_create_deployments": true,
 *    "default_deployment": {...deployment fields below, without name...},
 *    "deployments": [{"name": "llama-prod", "profile": "paper-v1-fit" | {...},
 *                     "ffn_instances": 0, "attention_instances": 0,
 *                     "batch": 0, "workload_half_life": 20000,
 *                     "max_ratio": 1024,
 *                     "calibration": {"forgetting": 0.999,
 *                                     "prior_weight": 10,
 *                                     "calibrated_ratio": 0.1}}]}
 * Counts of 0 mean "take it from live telemetry".
 * Controller and alerting (see the structs below):
 *   "controller": {"clock": "wall" | "telemetry", "eval_interval_ms": 1000,
 *                  "gain_threshold": 0.02, "dwell_s": 30, "cooldown_s": 120,
 *                  "min_attention_instances": 1,
 *                  "max_attention_instances": 1024, "max_step": 4,
 *                  "ack_timeout_s": 60, "advisory": false,
 *                  "backoff_s": 300, "settle_s": 45,
 *                  "settled_gain_threshold": 0.04,
 *                  "alerts": {...alerting...}},
 *   "alerting": {"debounce_s": 60, "resolve_s": 300, "margin": 0.05,
 *                "drift": 0.1, "alertmanager_url": "", "generator_url": "",
 *                "severity": "warning", "resend_interval_s": 60,
 *                "timeout_s": 10, "backoff_initial_s": 1,
 *                "backoff_max_s": 60, "max_queue": 1024, "max_batch": 64}
 * (defaults shown: controller/policy.h, controller/alert.h and
 * plugin/daemon/alertmanager.h's own). Cross-field rules: min <= max attention,
 * backoff_initial_s <= backoff_max_s, max_batch <= max_queue, the url
 * http:// (https is refused: use a TLS proxy on loopback).
 *
 * Bounds (inclusive unless noted): snapshot.interval_s 0.1..86400,
 * recompute_interval_ms 10..3600000 (integer), liveness_window_s
 * 0.001..86400, max_deployments 1..1e5, max_instances 1..1e7,
 * max_message_bytes 1024..2^30, max_stream_queue 1..1e6, max_streams
 * 1..1e6 (all integers);
 * ffn_instances and attention_instances 0..1e6 (integers), batch 0..1e6,
 * workload_half_life 0..1e12, max_ratio 1..1e6, forgetting (0, 1],
 * prior_weight (0, 1e12], calibrated_ratio (0, 1). Strings must be shorter
 * than their buffers; names and listen addresses non-empty; deployment
 * names unique. The default snapshot path is empty: no snapshots unless
 * the file or --snapshot names one.
 */
#ifndef AFD_CONFIG_H
#define AFD_CONFIG_H

#include "plugin/sys/os.h"

#include <stdbool.h>
#include <stddef.h>

#include "controller/alert.h"
#include "controller/policy.h"
#include "estimator/calib.h"
#include "estimator/profile.h"
#include "plugin/daemon/alertmanager.h"
#include "plugin/daemon/config_dynamo.h"
#include "plugin/ha/ha.h"

#define AFD_NAME_LEN 128
#define AFD_PATH_LEN 4096

#define AFD_DEFAULT_GRPC_LISTEN "127.0.0.1:50051"
#define AFD_DEFAULT_HTTP_LISTEN "127.0.0.1:9464"

struct afd_deployment_config {
    char name[AFD_NAME_LEN];
    struct afd_profile profile;
    int ffn_instances;         /* y override; 0 = from telemetry */
    int attention_instances;   /* x override; 0 = from telemetry */
    double batch;              /* B override, slots; 0 = from telemetry */
    double workload_half_life; /* finished requests; 0 = no forgetting */
    double max_ratio;          /* upper bound for r */
    /* "comm_mode_known": the profile's comm mode was measured (e.g. fitted
     * over several ratios): trust it, never hedge over the other mode
     * (plugin/daemon/recommend.c). Default false. */
    bool comm_mode_known;
    struct afd_calib_config calib;
};

/*
 * "controller": the clock and the scaling policy of every
 * deployment (controller/policy.h). Durations in the file are seconds
 * (dwell_s, cooldown_s, ack_timeout_s, backoff_s, settle_s), stored here
 * in ms.
 * clock "wall" (default): evaluated every eval_interval_ms on the wall
 * clock; "telemetry": a deployment's clock is its largest accepted step
 * timestamp_ms and evaluation runs inside ingest each time it crosses a
 * multiple of eval_interval_ms. Bounds: eval_interval_ms 1..3600000,
 * gain_threshold 0..1, dwell/cooldown/backoff 0..604800 s, ack_timeout
 * 0.001..604800 s, attention bounds 1..1048576 (min <= max), max_step >= 1.
 */
struct afd_controller_config {
    char clock[16]; /* "wall" | "telemetry" */
    int eval_interval_ms;
    /* The policy's own settings, read straight into its type: the
     * controller glue hands it over as it is (one type, no copies). */
    struct afd_policy_config policy;
};

/*
 * "alerting" (also accepted as "controller.alerts"): regime alert debounce
 * (controller/alert.h) and Alertmanager delivery
 * (plugin/daemon/alertmanager.h), durations in seconds in the file.
 * alertmanager_url "" = no delivery.
 */
struct afd_alerting_config {
    struct afd_alert_config rules;     /* debounce, resolve, margin */
    struct afd_alertmanager_config am; /* delivery; am.url "" = none */
};

/*
 * "security": file paths only, never the token itself (plugin/daemon/security.h
 * reads and checks them at start); empty = not set.
 *   {"tls": {"cert_file": PATH, "key_file": PATH, "client_ca_file": PATH},
 *    "token_file": PATH}
 */
struct afd_security_config {
    char tls_cert_file[AFD_PATH_LEN];      /* server certificate chain, PEM */
    char tls_key_file[AFD_PATH_LEN];       /* its private key, PEM */
    char tls_client_ca_file[AFD_PATH_LEN]; /* CA for client certs (mTLS) */
    char token_file[AFD_PATH_LEN];         /* bearer token, one line */
};

struct afd_config {
    char grpc_listen[AFD_ADDR_LEN];
    char http_listen[AFD_ADDR_LEN];
    char snapshot_path[AFD_PATH_LEN]; /* empty = no snapshots */
    int snapshot_interval_ms;
    int recompute_interval_ms; /* wall clock: recommendations are
                                  recomputed this often, policies evaluated
                                  every controller.eval_interval_ms; the
                                  daemon ticks at the smaller (control.h) */
    int liveness_window_ms;    /* an instance unseen this long is gone */
    size_t max_deployments;
    size_t max_instances;     /* per deployment */
    size_t max_message_bytes; /* gRPC receive limit */
    size_t max_stream_queue;  /* messages queued per server stream */
    size_t max_streams;       /* open server streams (watchers), all clients */
    bool auto_create_deployments;
    struct afd_deployment_config default_deployment;
    struct afd_deployment_config *deployments; /* owned */
    size_t n_deployments;
    struct afd_controller_config controller;
    struct afd_alerting_config alerting;
    struct afd_security_config security;
    struct afd_dynamo_config dynamo; /* config_dynamo.h */
    struct afd_ha_config ha;         /* config_ha.h; no endpoints: no HA */
};

/* Built-in defaults (loopback addresses above, paper-v1-fit profile). */
void afd_config_default(struct afd_config *cfg);

/*
 * Loads path over the defaults already in cfg. On failure cfg is left as it
 * was and err names file and field. AFD_EIO (unreadable, not a regular
 * file), AFD_ENOMEM (above 1 MiB), AFD_EPARSE (empty or invalid JSON) or
 * AFD_EINVAL.
 */
int afd_config_load_file(struct afd_config *cfg, const char *path, char *err);

/* Validates cross-field rules (also called by load_file). */
int afd_config_validate(const struct afd_config *cfg, char *err);

/* The deployment's settings: its own entry, or the default with its name. */
void afd_config_deployment(const struct afd_config *cfg, const char *name,
                           struct afd_deployment_config *out);

void afd_config_release(struct afd_config *cfg);

#endif
