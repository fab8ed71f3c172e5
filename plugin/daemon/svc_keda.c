/*
 * svc_keda.c - KEDA's externalscaler.ExternalScaler, serving the desired
 * Attention replica count of one deployment.
 *
 * The deployment is named by the trigger metadata key "deployment"
 * (missing or empty: INVALID_ARGUMENT; unknown: NOT_FOUND).
 *
 * Metric form: GetMetricSpec declares one metric
 * "afd-attention-instances-<deployment>" with targetSize 1; GetMetrics
 * returns the desired Attention replica count as its value. With KEDA's
 * default metricType AverageValue the HPA computes
 *     desired = ceil(metricValue / targetSize) = ceil(value / 1) = value,
 * i.e. it follows the recommendation whatever the current count.
 * (metricType "Value" would multiply by the current count: do not use it.)
 *
 * Value served (afd_control_keda_target, plugin/daemon/control.h): in command
 * mode (the default) the target of the latest scale command - the one in
 * flight, else the last one acked as done - and the current Attention
 * count before any command, so the HPA moves only when the controller
 * decided (hysteresis, cooldown, bounds, step limit); in advisory mode
 * ("controller.policy.advisory": true) target_attention_instances of a valid
 * recommendation, the current count before it is valid (so the HPA holds
 * still). With the telemetry clock the recommendation is the one of the
 * latest evaluation (see svc_sizer.c). When that is unknown too (no Attention
 * instance seen within the liveness window, no override) GetMetrics answers
 * UNAVAILABLE with the reason instead of 0: a metric of 0 would let the HPA
 * drop to minReplicaCount whenever telemetry stops, while an error makes it
 * keep the current count (and KEDA apply the ScaledObject's fallback). IsActive
 * is true when there is a value >= 1. StreamIsActive sends the value at once
 * and then after every recompute tick that changed it. StreamMetricSpec is
 * UNIMPLEMENTED (KEDA then polls GetMetricSpec).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"
#include "proto/keda/externalscaler.pb-c.h"

#define METRIC_PREFIX         "afd-attention-instances-"
#define PATH_STREAM_IS_ACTIVE "/externalscaler.ExternalScaler/StreamIsActive"

/* A StreamIsActive watcher. */
struct watcher {
    char deployment[AFD_NAME_LEN];
    int last; /* last value sent: 0/1, -1 before the first */
};

/*
 * The deployment named by ref's metadata, or NULL after finishing the call
 * with the right status.
 */
static struct afd_deployment *
resolve(struct afd_grpc_call *call, const Externalscaler__ScaledObjectRef *ref,
        void *ctx)
{
    const char *name = NULL;
    size_t i;

    for (i = 0; ref && i < ref->n_scalermetadata; i++) {
        const Externalscaler__ScaledObjectRef__ScalerMetadataEntry *e =
            ref->scalermetadata[i];
        if (e->key && !strcmp(e->key, "deployment"))
            name = e->value;
    }
    if (!name || !name[0]) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT,
                        "scalerMetadata key 'deployment' is missing or empty");
        return NULL;
    }
    return afd_svc_find_deployment(call, ctx, name);
}

/* The served value for a recommendation (see the head comment). */
static int served_value(void *ctx, struct afd_deployment *d,
                        const struct afd_recommendation *rec)
{
    return afd_control_keda_target(afd_svc_env(ctx)->ctl, d, rec);
}

/* The value of the latest evaluation (reads never recompute: daemon.h). */
static int current_value(void *ctx, struct afd_deployment *d)
{
    return served_value(ctx, d, afd_deployment_recommendation(d));
}

static void is_active(struct afd_grpc_call *call, const ProtobufCMessage *msg,
                      void *ctx)
{
    Externalscaler__IsActiveResponse out =
        EXTERNALSCALER__IS_ACTIVE_RESPONSE__INIT;
    struct afd_deployment *d =
        resolve(call, (const Externalscaler__ScaledObjectRef *)msg, ctx);

    if (!d)
        return;
    out.result = current_value(ctx, d) >= 1;
    afd_grpc_reply(call, &out.base);
}

static void send_active(struct afd_grpc_call *call, struct watcher *w,
                        int active)
{
    Externalscaler__IsActiveResponse out =
        EXTERNALSCALER__IS_ACTIVE_RESPONSE__INIT;

    if (active == w->last)
        return;
    out.result = active;
    if (afd_grpc_send(call, &out.base) == AFD_OK)
        w->last = active;
}

static void stream_is_active(struct afd_grpc_call *call,
                             const ProtobufCMessage *msg, void *ctx)
{
    struct afd_deployment *d =
        resolve(call, (const Externalscaler__ScaledObjectRef *)msg, ctx);
    struct watcher *w;

    if (!d)
        return;
    w = calloc(1, sizeof(*w));
    if (!w) {
        afd_grpc_finish(call, AFD_GRPC_RESOURCE_EXHAUSTED, "out of memory");
        return;
    }
    snprintf(w->deployment, sizeof(w->deployment), "%s",
             afd_deployment_name(d));
    w->last = -1;
    afd_grpc_call_set_data(call, w, free);
    send_active(call, w, current_value(ctx, d) >= 1);
}

static void tick_one(struct afd_grpc_call *call, void *arg)
{
    struct watcher *w = afd_grpc_call_data(call);
    struct afd_deployment *d;

    if (!w)
        return;
    d = afd_registry_find(afd_svc_env(arg)->reg, w->deployment);
    if (d)
        send_active(call, w,
                    served_value(arg, d, afd_deployment_recommendation(d)) >=
                        1);
}

void afd_svc_keda_tick(struct afd_svc_env *env)
{
    afd_grpc_server_foreach(env->grpc, PATH_STREAM_IS_ACTIVE, tick_one,
                            env);
}

static void get_metric_spec(struct afd_grpc_call *call,
                            const ProtobufCMessage *msg, void *ctx)
{
    Externalscaler__GetMetricSpecResponse out =
        EXTERNALSCALER__GET_METRIC_SPEC_RESPONSE__INIT;
    Externalscaler__MetricSpec spec = EXTERNALSCALER__METRIC_SPEC__INIT;
    Externalscaler__MetricSpec *specs[1] = {&spec};
    char name[sizeof(METRIC_PREFIX) + AFD_NAME_LEN];
    struct afd_deployment *d =
        resolve(call, (const Externalscaler__ScaledObjectRef *)msg, ctx);

    if (!d)
        return;
    snprintf(name, sizeof(name), METRIC_PREFIX "%s", afd_deployment_name(d));
    spec.metricname = name;
    spec.targetsize = 1;
    spec.targetsizefloat = 1.0;
    out.n_metricspecs = 1;
    out.metricspecs = specs;
    afd_grpc_reply(call, &out.base);
}

static void get_metrics(struct afd_grpc_call *call, const ProtobufCMessage *msg,
                        void *ctx)
{
    const Externalscaler__GetMetricsRequest *req =
        (const Externalscaler__GetMetricsRequest *)msg;
    Externalscaler__GetMetricsResponse out =
        EXTERNALSCALER__GET_METRICS_RESPONSE__INIT;
    Externalscaler__MetricValue val = EXTERNALSCALER__METRIC_VALUE__INIT;
    Externalscaler__MetricValue *vals[1] = {&val};
    char name[sizeof(METRIC_PREFIX) + AFD_NAME_LEN];
    struct afd_deployment *d = resolve(call, req->scaledobjectref, ctx);
    const struct afd_recommendation *rec;
    int v;

    if (!d)
        return;
    rec = afd_deployment_recommendation(d);
    v = served_value(ctx, d, rec);
    if (v < 1) {
        afd_grpc_finish(call, AFD_GRPC_UNAVAILABLE,
                        "no attention replica count for deployment '%s' "
                        "yet: %s",
                        afd_deployment_name(d), rec->why_not);
        return;
    }
    /* KEDA may prefix the name ("s0-..."): answer with the name asked. */
    if (req->metricname && req->metricname[0])
        snprintf(name, sizeof(name), "%s", req->metricname);
    else
        snprintf(name, sizeof(name), METRIC_PREFIX "%s",
                 afd_deployment_name(d));
    val.metricname = name;
    val.metricvalue = v;
    val.metricvaluefloat = v;
    out.n_metricvalues = 1;
    out.metricvalues = vals;
    afd_grpc_reply(call, &out.base);
}

static void stream_metric_spec(struct afd_grpc_call *call,
                               const ProtobufCMessage *msg, void *ctx)
{
    afd_grpc_finish(call, AFD_GRPC_UNIMPLEMENTED,
                    "StreamMetricSpec is not served; poll GetMetricSpec");
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/externalscaler.ExternalScaler/IsActive",
        .kind = AFD_GRPC_UNARY,
        .request = &externalscaler__scaled_object_ref__descriptor,
        .on_request = is_active,
    },
    {
        .path = PATH_STREAM_IS_ACTIVE,
        .kind = AFD_GRPC_SERVER_STREAM,
        .request = &externalscaler__scaled_object_ref__descriptor,
        .on_request = stream_is_active,
    },
    {
        .path = "/externalscaler.ExternalScaler/GetMetricSpec",
        .kind = AFD_GRPC_UNARY,
        .request = &externalscaler__scaled_object_ref__descriptor,
        .on_request = get_metric_spec,
    },
    {
        .path = "/externalscaler.ExternalScaler/GetMetrics",
        .kind = AFD_GRPC_UNARY,
        .request = &externalscaler__get_metrics_request__descriptor,
        .on_request = get_metrics,
    },
    {
        .path = "/externalscaler.ExternalScaler/StreamMetricSpec",
        .kind = AFD_GRPC_SERVER_STREAM,
        .request = &externalscaler__scaled_object_ref__descriptor,
        .on_request = stream_metric_spec,
    },
};

const struct afd_grpc_method *afd_svc_keda_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
