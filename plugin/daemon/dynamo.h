/*
 * dynamo.h - afd-sizer as a PROPOSE plugin of NVIDIA Dynamo's planner
 * (proposal "Dynamo Planner Plugin Architecture", revision v11; the wire
 * subset is proto/dynamo/planner/plugin/v1/plugin.proto).
 *
 * Lifecycle (afd_dynamo_start .. afd_dynamo_free): a worker thread of its
 * own calls the planner's PluginRegistry with the project's blocking gRPC
 * client (plugin/rpc/grpc_client.h): Register as plugin_type "propose"
 * with our endpoint grpc://HOST:PORT, protocol_version "1.0", priority,
 * execution interval, hold policy, request timeout and fpm_encoding; then
 * Heartbeat every heartbeat_interval_ms (the proposal's timeout / 3). A
 * heartbeat answered ok=false (evicted) or failing (planner restarted or
 * gone) sends the thread back to Register, retried with the proposal's
 * backoff 1 s, 2 s, 4 s .. 60 s; a rejection (auth, protocol version) is
 * logged on stderr with the planner's reason and retried the same way.
 * With dynamo.constrain the same thread also registers (and heartbeats,
 * re-registers, unregisters) "<plugin_id>-constrain" as plugin_type
 * "constrain"; the status below covers both (the latest event wins, the
 * counters add up).
 * afd_dynamo_free stops the thread, which first sends Unregister
 * ("graceful_shutdown") for each registered plugin. Why a thread: every call
 * blocks for at most its deadline, and the loop must never wait on the planner;
 * the thread writes only the status below (under a mutex), which the loop
 * reads for /readyz and /metrics. Nothing else is shared.
 *
 * Answers (afd_dynamo_answer, afd_dynamo_bounds, pure): what Propose and
 * Constrain say for one deployment, from the stored recommendation, the
 * controller's latest decision and its stored balanced band; the service
 * (svc_dynamo.c) never computes in the RPC path.
 */
#ifndef AFD_DYNAMO_H
#define AFD_DYNAMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>

#include "plugin/daemon/config_dynamo.h"

#define AFD_DYNAMO_PROTOCOL_VERSION "1.0"
#define AFD_DYNAMO_REASON_LEN       320
#define AFD_DYNAMO_CONSTRAIN_SUFFIX "-constrain"

struct afd_recommendation;
struct afd_control_command;
struct afd_control_band;

enum afd_dynamo_state {
    AFD_DYNAMO_REGISTERING = 0, /* not registered yet, or again */
    AFD_DYNAMO_REGISTERED = 1,
    AFD_DYNAMO_REJECTED = 2,    /* the planner said no: reason kept */
    AFD_DYNAMO_UNREACHABLE = 3, /* the last call failed (reason kept) */
};

struct afd_dynamo_status {
    enum afd_dynamo_state state;
    char reason[AFD_DYNAMO_REASON_LEN]; /* rejection or call error */
    uint64_t registrations;             /* accepted Register calls */
    uint64_t rejections;                /* accepted=false answers */
    uint64_t heartbeats;                /* ok=true answers */
    uint64_t evictions;                 /* ok=false or failed heartbeats */
    uint64_t call_failures;             /* calls that did not complete */
};

struct afd_dynamo;

/*
 * Starts the thread. grpc_addr is our bound "HOST:PORT" (the endpoint
 * unless dc->endpoint names one); token: auth_token (NULL = none);
 * tls_pem: NULL or {CA, client cert, client key} PEM texts, CA non-NULL
 * for TLS to the planner, cert and key both or neither (mTLS). NULL +
 * message on failure (channel or thread).
 */
struct afd_dynamo *afd_dynamo_start(const struct afd_dynamo_config *dc,
                                    const char *grpc_addr, const char *token,
                                    const char *const tls_pem[3], char *err);
/* Stops the thread (Unregister first when registered) and frees. NULL ok. */
void afd_dynamo_free(struct afd_dynamo *d);

void afd_dynamo_status(struct afd_dynamo *d, struct afd_dynamo_status *out);
const char *afd_dynamo_state_name(enum afd_dynamo_state s);

/* Appends the afd_dynamo_* families (Prometheus text). NULL d: nothing. */
void afd_dynamo_metrics(struct afd_dynamo *d, struct evbuffer *out);
/* One /readyz line, "dynamo planner: STATE[: reason]\n". */
void afd_dynamo_readyz(struct afd_dynamo *d, char *out, size_t cap);

/* What Propose answers for one mapped deployment. */
struct afd_dynamo_answer {
    bool set;     /* a SET target; false = no opinion (ACCEPT) */
    int replicas; /* the Attention pool's replicas when set */
    char reason[AFD_DYNAMO_REASON_LEN]; /* the command's, or why not */
};

/*
 * Pure. rec: the deployment's stored recommendation (NULL: unknown
 * deployment); last: the controller's latest decision for it (issued or
 * advisory; NULL when none). SET last->cmd.target with its reason when the
 * recommendation is valid and a decision exists; otherwise no opinion,
 * with the reason in words (the proposal: missing data is ACCEPT, never
 * an error).
 */
void afd_dynamo_answer(const struct afd_recommendation *rec,
                       const struct afd_control_command *last,
                       struct afd_dynamo_answer *out);

/* What Constrain answers for one mapped deployment. */
struct afd_dynamo_bounds {
    bool set;     /* AT_LEAST / AT_MOST given; false = no opinion (ACCEPT) */
    int at_least; /* Attention replicas, >= 1 */
    int at_most;  /* Attention replicas, >= at_least */
    char reason[AFD_DYNAMO_REASON_LEN];
};

/*
 * Pure. band: the balanced band stored with the controller's latest
 * decision for the deployment (control.h; NULL when none: no opinion,
 * with the reason in words);
 * min_x..max_x: the controller's Attention bounds. The whole counts inside
 * the band: at_least = ceil(lo * y), at_most = floor(hi * y) (ratios within
 * 1e-9 of a whole count count as it), clipped to min_x..max_x; a band that
 * holds no whole count pins both to the count nearest r_star * y.
 */
void afd_dynamo_bounds(const struct afd_control_band *band, int min_x,
                       int max_x, struct afd_dynamo_bounds *out);

#endif
