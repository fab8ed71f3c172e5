/*
 * config_dynamo.h - the "dynamo" section of the daemon's configuration:
 * attaching to NVIDIA Dynamo's planner as a PROPOSE plugin
 * (plugin/daemon/dynamo.h). Parsed by config_dynamo.c, called from
 * config.c's afd_config_load_file; flags of `afd-sizer serve` override it.
 *
 *   "dynamo": {"planner": "HOST:PORT",        ("" = not attached)
 *              "token_file": PATH,            (RegisterRequest.auth_token)
 *              "tls_ca_file": PATH,           (TLS to the planner; "" =
 *              "tls_cert_file": PATH,          plaintext; cert and key
 *              "tls_key_file": PATH,           together for mTLS)
 *              "plugin_id": "afd-sizer", "priority": 50,
 *              "endpoint": "",                ("" = grpc://<our gRPC addr>)
 *              "execution_interval_s": 0, "hold_policy": "accept_when_idle",
 *              "request_timeout_s": 1, "heartbeat_interval_s": 5,
 *              "fpm_encoding": "proto", "advisory": false,
 *              "constrain": false,            (also a CONSTRAIN plugin,
 *                                              id "<plugin_id>-constrain")
 *              "sub_component_type": "afd-attention",
 *              "deployments": [{"name": "llama", "component_name": "attn",
 *                               "sub_component_type": "afd-attention"}]}
 * Without "deployments" every known deployment answers for the component
 * of its own name. Bounds: priority 0..1e6, execution_interval_s 0..3600,
 * request_timeout_s 0.01..60, heartbeat_interval_s 0.05..60 (the proposal's
 * cadence is heartbeat_timeout_seconds / 3 = 5 s), at most
 * AFD_DYNAMO_MAX_MAPS deployments. Unknown keys are errors.
 */
#ifndef AFD_CONFIG_DYNAMO_H
#define AFD_CONFIG_DYNAMO_H

#include <stdbool.h>
#include <stddef.h>

#include "plugin/sys/os.h"

#define AFD_DYNAMO_MAX_MAPS 32
#define AFD_DYNAMO_NAME_LEN 128

struct afd_dynamo_map {
    char deployment[AFD_DYNAMO_NAME_LEN];
    char component_name[AFD_DYNAMO_NAME_LEN];
    char sub_component_type[AFD_DYNAMO_NAME_LEN];
};

struct afd_dynamo_config {
    char planner[AFD_ADDR_LEN]; /* "" = not attached */
    char token_file[4096];
    /* TLS toward the planner: its CA ("" = plaintext), and our client
     * certificate and key for mTLS (both or neither). */
    char tls_ca_file[4096];
    char tls_cert_file[4096];
    char tls_key_file[4096];
    char plugin_id[AFD_DYNAMO_NAME_LEN];
    char endpoint[AFD_ADDR_LEN + 16];
    int priority;
    double execution_interval_s;
    bool hold_last; /* HoldPolicy HOLD_LAST, else ACCEPT_WHEN_IDLE */
    int request_timeout_ms;
    int heartbeat_interval_ms;
    char fpm_encoding[16];
    bool advisory; /* answer ACCEPT, log what would have been set */
    /* also register as a CONSTRAIN plugin: AT_LEAST / AT_MOST the
     * balanced band (plugin/daemon/dynamo.h) */
    bool constrain;
    char sub_component_type[AFD_DYNAMO_NAME_LEN]; /* default for maps */
    struct afd_dynamo_map maps[AFD_DYNAMO_MAX_MAPS];
    size_t n_maps;
};

void afd_config_dynamo_default(struct afd_dynamo_config *dc);

/*
 * Parses root's "dynamo" member (if any) into dc and removes it from root,
 * so the caller's unknown-key check does not see it. file names the file
 * in messages. AFD_EINVAL with "FILE: dynamo.FIELD: why" on a bad value.
 */
struct json_t; /* jansson */
int afd_config_dynamo_load(struct afd_dynamo_config *dc, struct json_t *root,
                           const char *file, char *err);

/*
 * The component mapping of deployment: its entry, or (no entries at all)
 * component_name = deployment and the default sub_component_type. false
 * when entries exist and none names deployment.
 */
bool afd_config_dynamo_map(const struct afd_dynamo_config *dc,
                           const char *deployment, struct afd_dynamo_map *out);

/*
 * True when the planner actuates deployment: attached ("planner" set), not
 * advisory, and the deployment mapped. Exactly one actuator per
 * deployment: the controller then reports its decisions on WatchCommands
 * as advisory (never to be acted on) and KEDA serves the recommendation,
 * while Propose SETs the replicas (plugin/daemon/control.c).
 */
bool afd_config_dynamo_drives(const struct afd_dynamo_config *dc,
                              const char *deployment);

#endif
