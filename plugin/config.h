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
 *               "max_message_bytes": 4194304, "max_stream_queue": 1024},
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
 *
 * Bounds (inclusive unless noted): snapshot.interval_s 0.1..86400,
 * recompute_interval_ms 10..3600000 (integer), liveness_window_s
 * 0.001..86400, max_deployments 1..1e5, max_instances 1..1e7,
 * max_message_bytes 1024..2^30, max_stream_queue 1..1e6 (all integers);
 * ffn_instances and attention_instances 0..1e6 (integers), batch 0..1e6,
 * workload_half_life 0..1e12, max_ratio 1..1e6, forgetting (0, 1],
 * prior_weight (0, 1e12], calibrated_ratio (0, 1). Strings must be shorter
 * than their buffers; names and listen addresses non-empty; deployment
 * names unique. The default snapshot path is empty: no snapshots unless
 * the file or --snapshot names one.
 */
#ifndef AFD_CONFIG_H
#define AFD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "estimator/calib.h"
#include "estimator/profile.h"

#define AFD_NAME_LEN 128
#define AFD_ADDR_LEN 256
#define AFD_PATH_LEN 4096

#define AFD_DEFAULT_GRPC_LISTEN "127.0.0.1:50051"
#define AFD_DEFAULT_HTTP_LISTEN "127.0.0.1:9464"

struct afd_deployment_config {
    char name[AFD_NAME_LEN];
    struct afd_profile profile;
    int ffn_instances;          /* y override; 0 = from telemetry */
    int attention_instances;    /* x override; 0 = from telemetry */
    double batch;               /* B override, slots; 0 = from telemetry */
    double workload_half_life;  /* finished requests; 0 = no forgetting */
    double max_ratio;           /* upper bound for r */
    struct afd_calib_config calib;
};

struct afd_config {
    char grpc_listen[AFD_ADDR_LEN];
    char http_listen[AFD_ADDR_LEN];
    char snapshot_path[AFD_PATH_LEN]; /* empty = no snapshots */
    int snapshot_interval_ms;
    int recompute_interval_ms;
    int liveness_window_ms;     /* an instance unseen this long is gone */
    size_t max_deployments;
    size_t max_instances;       /* per deployment */
    size_t max_message_bytes;   /* gRPC receive limit */
    size_t max_stream_queue;    /* messages queued per server stream */
    bool auto_create_deployments;
    struct afd_deployment_config default_deployment;
    struct afd_deployment_config *deployments; /* owned */
    size_t n_deployments;
};

/* Built-in defaults (loopback addresses above, paper-v1-fit profile). */
void afd_config_default(struct afd_config *cfg);

/*
 * Loads path over the defaults already in cfg. On failure cfg is left as it
 * was and err names file and field. AFD_EIO, AFD_EPARSE or AFD_EINVAL.
 */
int afd_config_load_file(struct afd_config *cfg, const char *path, char *err);

/* Validates cross-field rules (also called by load_file). */
int afd_config_validate(const struct afd_config *cfg, char *err);

/* The deployment's settings: its own entry, or the default with its name. */
void afd_config_deployment(const struct afd_config *cfg, const char *name,
                           struct afd_deployment_config *out);

void afd_config_release(struct afd_config *cfg);

#endif
