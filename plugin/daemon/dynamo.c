/*
 * dynamo.c - the planner registration thread and the Propose answer
 * (dynamo.h).
 */
#include "plugin/daemon/dynamo.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/rpc/grpc_client.h"
#include "plugin/sys/os.h"
#include "proto/dynamo/planner/plugin/v1/plugin.pb-c.h"

#define REGISTRY         "/dynamo.planner.plugin.v1.PluginRegistry/"
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS   60000

/* One registration: the propose plugin, and the constrain one when
 * configured. Only the thread touches these. */
struct slot {
    char id[AFD_DYNAMO_NAME_LEN + sizeof(AFD_DYNAMO_CONSTRAIN_SUFFIX)];
    const char *type; /* "propose" | "constrain" */
    bool registered;
};

struct afd_dynamo {
    struct afd_dynamo_config cfg;
    struct slot slot[2];
    int n_slots;
    char endpoint[AFD_ADDR_LEN + 16];
    char *token;
    struct afd_grpc_client *client;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool stop;                   /* under mu */
    struct afd_dynamo_status st; /* under mu */
};

const char *afd_dynamo_state_name(enum afd_dynamo_state s)
{
    switch (s) {
    case AFD_DYNAMO_REGISTERING:
        return "registering";
    case AFD_DYNAMO_REGISTERED:
        return "registered";
    case AFD_DYNAMO_REJECTED:
        return "rejected";
    case AFD_DYNAMO_UNREACHABLE:
        return "unreachable";
    }
    return "unknown";
}

/* Sleeps up to ms unless stopped; true when stopping. */
static bool wait_ms(struct afd_dynamo *d, int ms)
{
    struct timespec ts = afd_timespec_after_ms(CLOCK_REALTIME, ms);
    bool stop;

    pthread_mutex_lock(&d->mu);
    while (!d->stop)
        if (pthread_cond_timedwait(&d->cv, &d->mu, &ts) == ETIMEDOUT)
            break;
    stop = d->stop;
    pthread_mutex_unlock(&d->mu);
    return stop;
}

static void set_state(struct afd_dynamo *d, enum afd_dynamo_state s,
                      const char *reason)
{
    pthread_mutex_lock(&d->mu);
    d->st.state = s;
    snprintf(d->st.reason, sizeof(d->st.reason), "%s", reason ? reason : "");
    pthread_mutex_unlock(&d->mu);
}

static void count(struct afd_dynamo *d, uint64_t *field)
{
    pthread_mutex_lock(&d->mu);
    (*field)++;
    pthread_mutex_unlock(&d->mu);
}

/* One Register call: AFD_OK registered, AFD_ESTATE rejected, else failed. */
static int do_register(struct afd_dynamo *d, const struct slot *sl)
{
    Dynamo__Planner__Plugin__V1__RegisterRequest req =
        DYNAMO__PLANNER__PLUGIN__V1__REGISTER_REQUEST__INIT;
    Dynamo__Planner__Plugin__V1__RegisterResponse *resp = NULL;
    char err[AFD_ERR_LEN], why[AFD_DYNAMO_REASON_LEN];
    int rc;

    req.plugin_id = (char *)sl->id;
    req.plugin_type = (char *)sl->type;
    req.priority = (uint32_t)d->cfg.priority;
    req.endpoint = d->endpoint;
    req.version = AFD_VERSION;
    req.execution_interval_seconds = (float)d->cfg.execution_interval_s;
    req.hold_policy =
        d->cfg.hold_last
            ? DYNAMO__PLANNER__PLUGIN__V1__HOLD_POLICY__HOLD_LAST
            : DYNAMO__PLANNER__PLUGIN__V1__HOLD_POLICY__ACCEPT_WHEN_IDLE;
    req.protocol_version = AFD_DYNAMO_PROTOCOL_VERSION;
    req.auth_token = d->token ? d->token : "";
    req.fpm_encoding = d->cfg.fpm_encoding;
    req.request_timeout_seconds = (float)d->cfg.request_timeout_ms / 1000.0f;
    rc = afd_grpc_client_unary(
        d->client, REGISTRY "Register", &req.base,
        &dynamo__planner__plugin__v1__register_response__descriptor,
        (ProtobufCMessage **)&resp, 5000, err);
    if (rc) {
        count(d, &d->st.call_failures);
        set_state(d, AFD_DYNAMO_UNREACHABLE, err);
        fprintf(stderr, "afd-sizer: dynamo planner: register failed: %s\n",
                err);
        return rc;
    }
    if (!resp->accepted) {
        snprintf(why, sizeof(why), "%s",
                 resp->reject_reason[0] ? resp->reject_reason : "no reason");
        count(d, &d->st.rejections);
        set_state(d, AFD_DYNAMO_REJECTED, why);
        fprintf(stderr, "afd-sizer: dynamo planner rejected %s: %s\n", sl->id,
                why);
        rc = AFD_ESTATE;
    } else {
        count(d, &d->st.registrations);
        set_state(d, AFD_DYNAMO_REGISTERED, NULL);
        fprintf(stderr,
                "afd-sizer: dynamo planner: registered %s as %s "
                "(endpoint %s, protocol %s)\n",
                sl->id, sl->type, d->endpoint,
                resp->negotiated_protocol_version[0]
                    ? resp->negotiated_protocol_version
                    : AFD_DYNAMO_PROTOCOL_VERSION);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

/* One Heartbeat: true while still registered. */
static bool do_heartbeat(struct afd_dynamo *d, const struct slot *sl)
{
    Dynamo__Planner__Plugin__V1__HeartbeatRequest req =
        DYNAMO__PLANNER__PLUGIN__V1__HEARTBEAT_REQUEST__INIT;
    Dynamo__Planner__Plugin__V1__HeartbeatResponse *resp = NULL;
    char err[AFD_ERR_LEN];
    bool ok;

    req.plugin_id = (char *)sl->id;
    if (afd_grpc_client_unary(
            d->client, REGISTRY "Heartbeat", &req.base,
            &dynamo__planner__plugin__v1__heartbeat_response__descriptor,
            (ProtobufCMessage **)&resp, d->cfg.heartbeat_interval_ms, err)) {
        count(d, &d->st.call_failures);
        count(d, &d->st.evictions);
        set_state(d, AFD_DYNAMO_UNREACHABLE, err);
        fprintf(stderr,
                "afd-sizer: dynamo planner: heartbeat of %s failed: %s\n",
                sl->id, err);
        return false;
    }
    ok = resp->ok;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    if (ok) {
        count(d, &d->st.heartbeats);
        return true;
    }
    count(d, &d->st.evictions);
    set_state(d, AFD_DYNAMO_REGISTERING, "evicted by the planner");
    fprintf(stderr,
            "afd-sizer: dynamo planner: %s evicted, registering again\n",
            sl->id);
    return false;
}

static void do_unregister(struct afd_dynamo *d, const struct slot *sl)
{
    Dynamo__Planner__Plugin__V1__UnregisterRequest req =
        DYNAMO__PLANNER__PLUGIN__V1__UNREGISTER_REQUEST__INIT;
    Dynamo__Planner__Plugin__V1__UnregisterResponse *resp = NULL;
    char err[AFD_ERR_LEN];

    req.plugin_id = (char *)sl->id;
    req.reason = "graceful_shutdown";
    if (afd_grpc_client_unary(
            d->client, REGISTRY "Unregister", &req.base,
            &dynamo__planner__plugin__v1__unregister_response__descriptor,
            (ProtobufCMessage **)&resp, 2000, err)) {
        fprintf(stderr, "afd-sizer: dynamo planner: unregister failed: %s\n",
                err);
        return;
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    fprintf(stderr, "afd-sizer: dynamo planner: unregistered %s\n", sl->id);
}

/* Registers every plugin not registered yet; true when all are. */
static bool register_all(struct afd_dynamo *d)
{
    bool all = true;
    int i;

    for (i = 0; i < d->n_slots; i++) {
        struct slot *sl = &d->slot[i];
        if (!sl->registered)
            sl->registered = do_register(d, sl) == AFD_OK;
        all = all && sl->registered;
    }
    return all;
}

static void *run(void *arg)
{
    struct afd_dynamo *d = arg;
    int backoff = BACKOFF_FIRST_MS, i;

    for (;;) {
        if (register_all(d)) {
            backoff = BACKOFF_FIRST_MS;
        } else {
            if (wait_ms(d, backoff))
                break;
            backoff =
                backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        if (wait_ms(d, d->cfg.heartbeat_interval_ms))
            break;
        for (i = 0; i < d->n_slots; i++)
            d->slot[i].registered = do_heartbeat(d, &d->slot[i]);
    }
    for (i = 0; i < d->n_slots; i++)
        if (d->slot[i].registered)
            do_unregister(d, &d->slot[i]);
    return NULL;
}

struct afd_dynamo *afd_dynamo_start(const struct afd_dynamo_config *dc,
                                    const char *grpc_addr, const char *token,
                                    const char *const tls_pem[3], char *err)
{
    struct afd_dynamo *d = calloc(1, sizeof(*d));

    if (!d) {
        afd_err(err, AFD_ENOMEM, "dynamo: out of memory");
        return NULL;
    }
    d->cfg = *dc;
    snprintf(d->slot[0].id, sizeof(d->slot[0].id), "%s", dc->plugin_id);
    d->slot[0].type = "propose";
    snprintf(d->slot[1].id, sizeof(d->slot[1].id), "%s%s", dc->plugin_id,
             AFD_DYNAMO_CONSTRAIN_SUFFIX);
    d->slot[1].type = "constrain";
    d->n_slots = dc->constrain ? 2 : 1;
    if (dc->endpoint[0])
        snprintf(d->endpoint, sizeof(d->endpoint), "%s", dc->endpoint);
    else
        snprintf(d->endpoint, sizeof(d->endpoint), "grpc://%s", grpc_addr);
    if (token && token[0] && !(d->token = strdup(token))) {
        free(d);
        afd_err(err, AFD_ENOMEM, "dynamo: out of memory");
        return NULL;
    }
    /* The token travels in RegisterRequest.auth_token, not as metadata. */
    d->client = tls_pem && tls_pem[0]
                    ? afd_grpc_client_new_tls(dc->planner, NULL, tls_pem[0],
                                              tls_pem[1], tls_pem[2], err)
                    : afd_grpc_client_new(dc->planner, NULL, err);
    if (!d->client) {
        free(d->token);
        free(d);
        return NULL;
    }
    pthread_mutex_init(&d->mu, NULL);
    pthread_cond_init(&d->cv, NULL);
    if (pthread_create(&d->thread, NULL, run, d)) {
        afd_grpc_client_free(d->client);
        pthread_cond_destroy(&d->cv);
        pthread_mutex_destroy(&d->mu);
        free(d->token);
        free(d);
        afd_err(err, AFD_EIO, "dynamo: cannot start the registration thread");
        return NULL;
    }
    return d;
}

void afd_dynamo_free(struct afd_dynamo *d)
{
    if (!d)
        return;
    pthread_mutex_lock(&d->mu);
    d->stop = true;
    pthread_cond_signal(&d->cv);
    pthread_mutex_unlock(&d->mu);
    pthread_join(d->thread, NULL);
    afd_grpc_client_free(d->client);
    pthread_cond_destroy(&d->cv);
    pthread_mutex_destroy(&d->mu);
    if (d->token)
        memset(d->token, 0, strlen(d->token));
    free(d->token);
    free(d);
}

void afd_dynamo_status(struct afd_dynamo *d, struct afd_dynamo_status *out)
{
    pthread_mutex_lock(&d->mu);
    *out = d->st;
    pthread_mutex_unlock(&d->mu);
}

void afd_dynamo_readyz(struct afd_dynamo *d, char *out, size_t cap)
{
    struct afd_dynamo_status st;

    afd_dynamo_status(d, &st);
    snprintf(out, cap, "dynamo planner: %s%s%s\n",
             afd_dynamo_state_name(st.state), st.reason[0] ? ": " : "",
             st.reason);
}

static void counter(struct evbuffer *out, const char *name, const char *help,
                    uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
                        help, name, name, (unsigned long long)v);
}

void afd_dynamo_metrics(struct afd_dynamo *d, struct evbuffer *out)
{
    static const enum afd_dynamo_state states[] = {
        AFD_DYNAMO_REGISTERING, AFD_DYNAMO_REGISTERED, AFD_DYNAMO_REJECTED,
        AFD_DYNAMO_UNREACHABLE};
    struct afd_dynamo_status st;
    size_t i;

    if (!d)
        return;
    afd_dynamo_status(d, &st);
    evbuffer_add_printf(out,
                        "# HELP afd_dynamo_registration_state Registration "
                        "with the Dynamo planner, one-hot\n"
                        "# TYPE afd_dynamo_registration_state gauge\n");
    for (i = 0; i < sizeof(states) / sizeof(states[0]); i++)
        evbuffer_add_printf(
            out, "afd_dynamo_registration_state{state=\"%s\"} %d\n",
            afd_dynamo_state_name(states[i]), st.state == states[i]);
    counter(out, "afd_dynamo_registrations_total",
            "Register calls the planner accepted", st.registrations);
    counter(out, "afd_dynamo_rejections_total",
            "Register calls the planner rejected (reason on stderr and "
            "/readyz)",
            st.rejections);
    counter(out, "afd_dynamo_heartbeats_total", "Heartbeats answered ok",
            st.heartbeats);
    counter(out, "afd_dynamo_evictions_total",
            "Heartbeats answered not ok or failed (registering again)",
            st.evictions);
    counter(out, "afd_dynamo_call_failures_total",
            "Registry calls that did not complete", st.call_failures);
}

void afd_dynamo_answer(const struct afd_recommendation *rec,
                       const struct afd_control_command *last,
                       struct afd_dynamo_answer *out)
{
    memset(out, 0, sizeof(*out));
    if (!rec) {
        snprintf(out->reason, sizeof(out->reason), "unknown deployment");
        return;
    }
    if (!rec->valid) {
        snprintf(out->reason, sizeof(out->reason), "no recommendation: %.255s",
                 rec->why_not);
        return;
    }
    if (!last || last->cmd.target < 1) {
        snprintf(out->reason, sizeof(out->reason),
                 "no decision yet: the controller wants no move");
        return;
    }
    out->set = true;
    out->replicas = last->cmd.target;
    snprintf(out->reason, sizeof(out->reason), "%s", last->cmd.reason);
}

void afd_dynamo_bounds(const struct afd_control_band *band, int min_x,
                       int max_x, struct afd_dynamo_bounds *out)
{
    double y, lo, hi;
    int at;

    memset(out, 0, sizeof(*out));
    if (!band) {
        snprintf(out->reason, sizeof(out->reason),
                 "no balanced band yet: no decision with a valid "
                 "recommendation");
        return;
    }
    y = band->ffn > 0 ? band->ffn : 1;
    /* 1e-9 slack: a barrier band's edges are whole counts divided by y */
    lo = ceil(band->lo * y - 1e-9);
    hi = floor(band->hi * y + 1e-9);
    lo = fmax(lo, min_x);
    hi = fmin(hi, max_x);
    if (lo > hi) { /* no whole count inside: the one nearest the target */
        at = (int)lround(fmin(fmax(band->r_star * y, min_x), max_x));
        lo = hi = at;
    }
    out->set = true;
    out->at_least = (int)lo;
    out->at_most = (int)hi;
    snprintf(out->reason, sizeof(out->reason),
             "balanced band: %d..%d Attention instances for %d FFN keep "
             "the model's throughput per device within %.1f%% of the best "
             "(r* = %.2f)",
             out->at_least, out->at_most, (int)y, 100 * band->loss,
             band->r_star);
}
