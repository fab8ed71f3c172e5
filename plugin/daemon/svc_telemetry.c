/*
 * svc_telemetry.c - afd.sizer.v1.Telemetry/Report: a client stream of
 * TelemetryBatch messages, answered with one ReportSummary.
 *
 * Every item goes through the registry on its own (afd_deployment_add_step,
 * afd_deployment_add_request), which validates and counts it; a bad item is
 * skipped and the items around it are kept. The batch's deployment is
 * looked up once, at its first valid item (a batch of bad items never
 * auto-creates one). A message that does not decode is counted as
 * "malformed" and ends the stream with INVALID_ARGUMENT - continuing would
 * guess at framing we can no longer trust - but what was accepted before it
 * stays accepted. A client that disconnects mid-stream keeps what arrived
 * (items are applied as they come, not at the end).
 *
 * With the telemetry clock each accepted step may trigger a controller
 * evaluation inside afd_deployment_add_step (plugin/daemon/control.h), so by
 * the time the summary is sent every decision those items caused was made and
 * already queued to the WatchCommands streams; the summary carries the
 * latest command id and the clock of the last batch's deployment.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"
#include "proto/afd_sizer.pb-c.h"

#define FIRST_LEN (AFD_ERR_LEN + 64)

struct report_state {
    uint64_t steps;    /* accepted step samples */
    uint64_t requests; /* accepted finished requests */
    uint64_t rejected; /* rejected items */
    uint64_t batches;  /* messages received */
    uint64_t by_reason[AFD_REJECT_COUNT];
    char first[FIRST_LEN];         /* first rejection, in words */
    char deployment[AFD_NAME_LEN]; /* of the last decoded batch */
};

static struct report_state *state_of(struct afd_grpc_call *call)
{
    struct report_state *st = afd_grpc_call_data(call);

    if (!st) {
        st = calloc(1, sizeof(*st));
        if (st)
            afd_grpc_call_set_data(call, st, free);
    }
    return st;
}

static void note_reject(struct report_state *st, enum afd_reject_reason r,
                        const char *what, size_t index, const char *why)
{
    st->rejected++;
    if (r > AFD_REJECT_NONE && r < AFD_REJECT_COUNT)
        st->by_reason[r]++;
    if (!st->first[0])
        snprintf(st->first, sizeof(st->first), "batch %llu %s[%zu]: %s",
                 (unsigned long long)st->batches, what, index, why);
}

static void add_step(struct afd_registry *reg, struct report_state *st,
                     struct afd_deployment **d, const char *dep,
                     const Afd__Sizer__V1__StepSample *p, size_t i, int64_t now)
{
    struct afd_step_sample s;
    enum afd_reject_reason r;
    char err[AFD_ERR_LEN];

    if (p->role != AFD__SIZER__V1__ROLE__ROLE_ATTENTION &&
        p->role != AFD__SIZER__V1__ROLE__ROLE_FFN) {
        r = p->role == AFD__SIZER__V1__ROLE__ROLE_UNSPECIFIED
                ? AFD_REJECT_MISSING_FIELD
                : AFD_REJECT_OUT_OF_RANGE;
        afd_registry_count_reject(reg, dep, r);
        snprintf(err, sizeof(err), "role must be attention or ffn, got %d",
                 (int)p->role);
        note_reject(st, r, "steps", i, err);
        return;
    }
    memset(&s, 0, sizeof(s));
    s.instance_id = p->instance_id ? p->instance_id : "";
    s.role = p->role == AFD__SIZER__V1__ROLE__ROLE_ATTENTION
                 ? AFD_ROLE_ATTENTION
                 : AFD_ROLE_FFN;
    s.step = p->step;
    s.batch_size = p->batch_size;
    s.token_load = p->token_load;
    s.attention_ms = p->attention_ms;
    s.comm_ms = p->comm_ms;
    s.ffn_ms = p->ffn_ms;
    s.ffn_tokens = p->ffn_tokens;
    s.timestamp_ms = p->timestamp_ms;
    err[0] = '\0';
    r = afd_deployment_add_step(reg, d, dep, &s, now, err);
    if (r == AFD_REJECT_NONE)
        st->steps++;
    else
        note_reject(st, r, "steps", i, err);
}

static void add_request(struct afd_registry *reg, struct report_state *st,
                        struct afd_deployment **d, const char *dep,
                        const Afd__Sizer__V1__FinishedRequest *p, size_t i)
{
    enum afd_reject_reason r;
    char err[AFD_ERR_LEN];

    err[0] = '\0';
    r = afd_deployment_add_request(reg, d, dep, p->prompt_tokens,
                                   p->decode_tokens, p->weight, err);
    if (r == AFD_REJECT_NONE)
        st->requests++;
    else
        note_reject(st, r, "requests", i, err);
}

static void report_message(struct afd_grpc_call *call,
                           const ProtobufCMessage *msg, void *ctx)
{
    const Afd__Sizer__V1__TelemetryBatch *b =
        (const Afd__Sizer__V1__TelemetryBatch *)msg;
    struct afd_registry *reg = afd_svc_env(ctx)->reg;
    struct report_state *st = state_of(call);
    int64_t now = afd_svc_env(ctx)->now_ms();
    struct afd_deployment *d = NULL; /* resolved at the first valid item */
    const char *dep;
    size_t i;

    if (!st) {
        afd_grpc_finish(call, AFD_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    /* HA: only the leader learns; a follower's state comes from etcd. */
    if (afd_svc_refuse_follower(call, ctx))
        return;
    st->batches++;
    if (!b) {
        afd_registry_count_reject(reg, st->deployment, AFD_REJECT_MALFORMED);
        note_reject(st, AFD_REJECT_MALFORMED, "message", 0,
                    "not a valid TelemetryBatch");
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT,
                        "message %llu is not a valid "
                        "afd.sizer.v1.TelemetryBatch; the %llu steps and %llu "
                        "requests accepted before it are kept",
                        (unsigned long long)st->batches,
                        (unsigned long long)st->steps,
                        (unsigned long long)st->requests);
        return;
    }
    dep = b->deployment ? b->deployment : "";
    snprintf(st->deployment, sizeof(st->deployment), "%s", dep);
    for (i = 0; i < b->n_steps; i++)
        add_step(reg, st, &d, dep, b->steps[i], i, now);
    for (i = 0; i < b->n_requests; i++)
        add_request(reg, st, &d, dep, b->requests[i], i);
}

static void report_end(struct afd_grpc_call *call, void *ctx)
{
    Afd__Sizer__V1__ReportSummary sum = AFD__SIZER__V1__REPORT_SUMMARY__INIT;
    Afd__Sizer__V1__RejectionCount counts[AFD_REJECT_COUNT];
    Afd__Sizer__V1__RejectionCount *ptrs[AFD_REJECT_COUNT];
    struct report_state *st = state_of(call);
    size_t r, n = 0;

    if (!st) {
        afd_grpc_finish(call, AFD_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    for (r = 1; r < AFD_REJECT_COUNT; r++) {
        if (!st->by_reason[r])
            continue;
        afd__sizer__v1__rejection_count__init(&counts[n]);
        counts[n].reason = (char *)afd_reject_reason_name(r);
        counts[n].count = st->by_reason[r];
        ptrs[n] = &counts[n];
        n++;
    }
    sum.accepted_steps = st->steps;
    sum.accepted_requests = st->requests;
    sum.rejected = st->rejected;
    sum.first_rejection = st->first;
    sum.n_rejections = n;
    sum.rejections = ptrs;
    sum.batches = st->batches;
    if (st->deployment[0]) {
        struct afd_deployment *d =
            afd_registry_find(afd_svc_env(ctx)->reg, st->deployment);
        struct afd_control *ctl = afd_svc_env(ctx)->ctl;

        if (d) {
            sum.last_command_id = afd_control_last_command_id(ctl, d);
            sum.clock_ms =
                afd_control_now_ms(ctl, d, afd_svc_env(ctx)->now_ms());
        }
    }
    afd_grpc_reply(call, &sum.base);
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/afd.sizer.v1.Telemetry/Report",
        .kind = AFD_GRPC_CLIENT_STREAM,
        .request = &afd__sizer__v1__telemetry_batch__descriptor,
        .on_message = report_message,
        .on_end = report_end,
        .requires_token = true, /* mutating: the bearer token, if set */
    },
};

const struct afd_grpc_method *afd_svc_telemetry_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
