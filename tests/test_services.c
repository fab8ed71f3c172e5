/*
 * test_services.c - the daemon's gRPC services (plugin/daemon/services.h)
 * driven in-process without a daemon: a registry, the controller glue and
 * a configuration make the environment, the gRPC layer serves the method
 * tables (telemetry, sizer, KEDA, health, control) on 127.0.0.1:0, and the project's own client (plugin/rpc/
 * grpc_client.h) calls them from a second thread while this thread runs
 * the loop, as the daemon's loop would.
 *
 * Workload (paper-v1-fit, y = 1, B = 256): every Attention instance
 * reports a load of 600 * B, so theta = 600 from live loads, whose optimum
 * is x = 9 (r* 9.30, model.md's headline point at B = 256); the spread is 0.
 */
#include "tests/afd_test.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"
#include "plugin/rpc/grpc_client.h"
#include "plugin/rpc/grpc_server.h"
#include "plugin/sys/os.h"
#include "proto/afd_sizer.pb-c.h"
#include "proto/grpc/health/v1/health.pb-c.h"
#include "proto/keda/externalscaler.pb-c.h"

#define DEP       "llama"
#define B         256.0
#define X         9
#define T_MS      5000
#define MAX_METHS 32

#define REPORT  "/afd.sizer.v1.Telemetry/Report"
#define GET_REC "/afd.sizer.v1.Sizer/GetRecommendation"
#define IS_ACT  "/externalscaler.ExternalScaler/IsActive"
#define SPEC    "/externalscaler.ExternalScaler/GetMetricSpec"
#define METRICS "/externalscaler.ExternalScaler/GetMetrics"
#define HEALTH  "/grpc.health.v1.Health/Check"
#define ACK     "/afd.sizer.v1.Sizer/AckCommand"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    struct afd_control *ctl;
    struct event_base *base;
    struct afd_grpc_method methods[MAX_METHS];
    size_t n_methods;
    struct afd_svc_env env;
    struct afd_grpc_server *srv;
    char addr[AFD_ADDR_LEN];
    struct afd_grpc_client *client;
    int64_t now_ms; /* the injected daemon clock */
};

static struct fixture *g_fixture; /* for the injected clock */

static int64_t test_now(void)
{
    return g_fixture->now_ms;
}

/* ---- one blocking client call on a thread while the loop runs here ---- */

struct call {
    struct fixture *f;
    const char *method;
    const ProtobufCMessage *const *reqs; /* client stream when n > 1 */
    size_t n;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage *resp;
    int rc;
    char err[AFD_ERR_LEN];
    volatile int done;
};

static void *call_thread(void *arg)
{
    struct call *c = arg;

    if (!strcmp(c->method, REPORT))
        c->rc = afd_grpc_client_stream(c->f->client, c->method, c->reqs, c->n,
                                       c->desc, &c->resp, 5000, c->err);
    else
        c->rc = afd_grpc_client_unary(c->f->client, c->method, c->reqs[0],
                                      c->desc, &c->resp, 5000, c->err);
    __atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static int call(struct fixture *f, const char *method,
                const ProtobufCMessage *const *reqs, size_t n,
                const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out,
                char *err)
{
    struct call c = {.f = f, .method = method, .reqs = reqs, .n = n,
                     .desc = desc};
    pthread_t t;

    assert_int_equal(pthread_create(&t, NULL, call_thread, &c), 0);
    while (!__atomic_load_n(&c.done, __ATOMIC_ACQUIRE))
        event_base_loop(f->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    pthread_join(t, NULL);
    if (err)
        snprintf(err, AFD_ERR_LEN, "%s", c.err);
    *out = c.resp;
    return c.rc;
}

/* ---- requests ---- */

/* One batch: X Attention instances at load 600 * B and one FFN instance. */
static int report(struct fixture *f, const char *dep,
                  Afd__Sizer__V1__ReportSummary **out)
{
    Afd__Sizer__V1__TelemetryBatch batch = AFD__SIZER__V1__TELEMETRY_BATCH__INIT;
    Afd__Sizer__V1__StepSample steps[X + 1], *ptrs[X + 1];
    const ProtobufCMessage *reqs[1] = {&batch.base};
    char ids[X + 1][8];
    int i;

    for (i = 0; i <= X; i++) {
        afd__sizer__v1__step_sample__init(&steps[i]);
        snprintf(ids[i], sizeof(ids[i]), i < X ? "a%d" : "f0", i);
        steps[i].instance_id = ids[i];
        steps[i].step = 1;
        steps[i].timestamp_ms = f->now_ms;
        if (i < X) {
            steps[i].role = AFD__SIZER__V1__ROLE__ROLE_ATTENTION;
            steps[i].batch_size = B;
            steps[i].token_load = 600.0 * B;
        } else {
            steps[i].role = AFD__SIZER__V1__ROLE__ROLE_FFN;
            steps[i].ffn_tokens = X * B;
        }
        ptrs[i] = &steps[i];
    }
    batch.deployment = (char *)dep;
    batch.n_steps = X + 1;
    batch.steps = ptrs;
    return call(f, REPORT, reqs, 1, &afd__sizer__v1__report_summary__descriptor,
                (ProtobufCMessage **)out, NULL);
}

static int get_rec(struct fixture *f, const char *dep,
                   Afd__Sizer__V1__Recommendation **out, char *err)
{
    Afd__Sizer__V1__GetRecommendationRequest req =
        AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
    const ProtobufCMessage *reqs[1] = {&req.base};

    req.deployment = (char *)dep;
    return call(f, GET_REC, reqs, 1, &afd__sizer__v1__recommendation__descriptor,
                (ProtobufCMessage **)out, err);
}

/* A ScaledObjectRef whose trigger metadata names dep. */
struct keda_ref {
    Externalscaler__ScaledObjectRef ref;
    Externalscaler__ScaledObjectRef__ScalerMetadataEntry entry;
    Externalscaler__ScaledObjectRef__ScalerMetadataEntry *entries[1];
};

static void keda_ref(struct keda_ref *k, const char *dep)
{
    externalscaler__scaled_object_ref__init(&k->ref);
    externalscaler__scaled_object_ref__scaler_metadata_entry__init(&k->entry);
    k->entry.key = "deployment";
    k->entry.value = (char *)dep;
    k->entries[0] = &k->entry;
    k->ref.name = "attention";
    k->ref.namespace_ = "serving";
    k->ref.n_scalermetadata = 1;
    k->ref.scalermetadata = k->entries;
}

static void free_msg(void *m)
{
    if (m)
        protobuf_c_message_free_unpacked(m, NULL);
}

static uint64_t recomputes(struct fixture *f)
{
    struct afd_deployment_counters n;

    afd_deployment_counters(afd_registry_find(f->reg, DEP), &n);
    return n.recomputes;
}

/* ---- fixture ---- */

static void add_methods(struct fixture *f,
                        const struct afd_grpc_method *(*table)(size_t *))
{
    size_t i, n;
    const struct afd_grpc_method *m = table(&n);

    for (i = 0; i < n; i++) {
        assert_true(f->n_methods < MAX_METHS);
        f->methods[f->n_methods++] = m[i];
    }
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct afd_grpc_server_config gc = {.listen = "127.0.0.1:0",
                                        .max_message_bytes = 1 << 20,
                                        .max_stream_queue = 64};
    char err[AFD_ERR_LEN] = "";

    assert_non_null(f);
    g_fixture = f;
    f->now_ms = T_MS;
    afd_config_default(&f->cfg);
    f->reg = afd_registry_new(&f->cfg, err);
    assert_non_null(f->reg);
    f->ctl = afd_control_new(&f->cfg, f->reg, err);
    assert_non_null(f->ctl);
    evthread_use_pthreads();
    f->base = event_base_new();
    assert_non_null(f->base);
    assert_int_equal(event_base_priority_init(f->base, 3), 0);
    add_methods(f, afd_svc_telemetry_methods);
    add_methods(f, afd_svc_sizer_methods);
    add_methods(f, afd_svc_keda_methods);
    add_methods(f, afd_svc_health_methods);
    add_methods(f, afd_svc_control_methods);
    f->env.reg = f->reg;
    f->env.ctl = f->ctl;
    f->env.cfg = &f->cfg;
    f->env.now_ms = test_now;
    f->srv = afd_grpc_server_start(f->base, &gc, f->methods, f->n_methods,
                                   &f->env, f->addr, err);
    if (!f->srv)
        fail_msg("afd_grpc_server_start: %s", err);
    f->env.grpc = f->srv;
    f->client = afd_grpc_client_new(f->addr, NULL, err);
    if (!f->client)
        fail_msg("afd_grpc_client_new: %s", err);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_grpc_client_free(f->client);
    afd_grpc_server_shutdown(f->srv, 0, NULL, NULL);
    while (!afd_grpc_server_is_down(f->srv))
        event_base_loop(f->base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
    afd_grpc_server_free(f->srv);
    event_base_free(f->base);
    afd_control_free(f->ctl);
    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* ---- tests ---- */

/* Telemetry lands in the registry; the summary counts it. */
static void test_telemetry_report(void **state)
{
    struct fixture *f = *state;
    Afd__Sizer__V1__ReportSummary *s = NULL;

    assert_int_equal(report(f, DEP, &s), AFD_OK);
    assert_int_equal(s->accepted_steps, X + 1);
    assert_int_equal(s->accepted_requests, 0);
    assert_int_equal(s->rejected, 0);
    assert_int_equal(s->batches, 1);
    assert_int_equal(s->clock_ms, T_MS); /* wall clock: the env's clock */
    assert_non_null(afd_registry_find(f->reg, DEP));
    free_msg(s);
}

/*
 * Reads never recompute: before the controller's first evaluation the
 * recommendation is not valid however often it is read; after one tick it
 * is, with the model's numbers, and reading it again changes nothing.
 */
static void test_sizer_reads_do_not_recompute(void **state)
{
    struct fixture *f = *state;
    Afd__Sizer__V1__ReportSummary *s = NULL;
    Afd__Sizer__V1__Recommendation *r = NULL;
    char err[AFD_ERR_LEN];
    int i;

    assert_int_equal(report(f, DEP, &s), AFD_OK);
    free_msg(s);
    for (i = 0; i < 3; i++) {
        assert_int_equal(get_rec(f, DEP, &r, err), AFD_OK);
        assert_false(r->valid);
        free_msg(r);
    }
    assert_int_equal(recomputes(f), 0);

    afd_control_tick(f->ctl, f->now_ms);
    assert_int_equal(recomputes(f), 1);
    assert_int_equal(get_rec(f, DEP, &r, err), AFD_OK);
    assert_true(r->valid);
    assert_int_equal(r->computed_ms, T_MS);
    assert_int_equal(r->attention_instances, X);
    assert_int_equal(r->ffn_instances, 1);
    assert_close(600.0, r->theta, 1e-9, 0);
    assert_close(B, r->batch, 0, 0);
    assert_int_equal(r->theta_source,
                     AFD__SIZER__V1__THETA_SOURCE__THETA_SOURCE_LIVE_LOADS);
    assert_close(9.30, r->r_star, 0.01, 0);
    assert_int_equal(r->target_attention_instances, X);
    free_msg(r);
    assert_int_equal(get_rec(f, DEP, &r, err), AFD_OK);
    free_msg(r);
    assert_int_equal(recomputes(f), 1);
}

/* Unknown and empty deployment names get NOT_FOUND / INVALID_ARGUMENT. */
static void test_sizer_unknown_deployment(void **state)
{
    struct fixture *f = *state;
    Afd__Sizer__V1__Recommendation *r = NULL;
    char err[AFD_ERR_LEN];

    assert_int_equal(get_rec(f, "ghost", &r, err), AFD_ENOTFOUND);
    afd_assert_contains(err, "unknown deployment 'ghost'");
    assert_int_equal(get_rec(f, "", &r, err), AFD_EINVAL);
    afd_assert_contains(err, "deployment must not be empty");
}

/*
 * KEDA: one metric named after the deployment, target size 1; before any
 * command the served value is the current Attention count (the HPA holds
 * still), and the deployment is active.
 */
static void test_keda_serves_current_count(void **state)
{
    struct fixture *f = *state;
    Afd__Sizer__V1__ReportSummary *s = NULL;
    Externalscaler__GetMetricSpecResponse *spec = NULL;
    Externalscaler__IsActiveResponse *act = NULL;
    Externalscaler__GetMetricsResponse *mv = NULL;
    Externalscaler__GetMetricsRequest mreq =
        EXTERNALSCALER__GET_METRICS_REQUEST__INIT;
    struct keda_ref k;
    const ProtobufCMessage *reqs[1];
    char err[AFD_ERR_LEN];

    assert_int_equal(report(f, DEP, &s), AFD_OK);
    free_msg(s);
    afd_control_tick(f->ctl, f->now_ms);
    keda_ref(&k, DEP);
    reqs[0] = &k.ref.base;
    assert_int_equal(call(f, SPEC, reqs, 1,
                          &externalscaler__get_metric_spec_response__descriptor,
                          (ProtobufCMessage **)&spec, err),
                     AFD_OK);
    assert_int_equal(spec->n_metricspecs, 1);
    assert_string_equal(spec->metricspecs[0]->metricname,
                        "afd-attention-instances-" DEP);
    assert_close(1.0, spec->metricspecs[0]->targetsizefloat, 0, 0);
    assert_int_equal(call(f, IS_ACT, reqs, 1,
                          &externalscaler__is_active_response__descriptor,
                          (ProtobufCMessage **)&act, err),
                     AFD_OK);
    assert_true(act->result);
    mreq.scaledobjectref = &k.ref;
    mreq.metricname = spec->metricspecs[0]->metricname;
    reqs[0] = &mreq.base;
    assert_int_equal(call(f, METRICS, reqs, 1,
                          &externalscaler__get_metrics_response__descriptor,
                          (ProtobufCMessage **)&mv, err),
                     AFD_OK);
    assert_int_equal(mv->n_metricvalues, 1);
    assert_close(X, mv->metricvalues[0]->metricvaluefloat, 0, 0);
    free_msg(spec);
    free_msg(act);
    free_msg(mv);
    assert_int_equal(recomputes(f), 1);

    keda_ref(&k, "ghost");
    reqs[0] = &k.ref.base;
    assert_int_equal(call(f, IS_ACT, reqs, 1,
                          &externalscaler__is_active_response__descriptor,
                          (ProtobufCMessage **)&act, err),
                     AFD_ENOTFOUND);
}

/* Health: SERVING for served names, NOT_FOUND otherwise; the env's
 * draining flag (what the daemon sets on SIGTERM) turns it NOT_SERVING. */
static void test_health_check(void **state)
{
    struct fixture *f = *state;
    Grpc__Health__V1__HealthCheckRequest req =
        GRPC__HEALTH__V1__HEALTH_CHECK_REQUEST__INIT;
    Grpc__Health__V1__HealthCheckResponse *r = NULL;
    const ProtobufCMessage *reqs[1] = {&req.base};
    char err[AFD_ERR_LEN];

    req.service = "afd.sizer.v1.Sizer";
    assert_int_equal(call(f, HEALTH, reqs, 1,
                          &grpc__health__v1__health_check_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_OK);
    assert_int_equal(
        r->status,
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__SERVING);
    free_msg(r);
    f->env.draining = true;
    assert_int_equal(call(f, HEALTH, reqs, 1,
                          &grpc__health__v1__health_check_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_OK);
    assert_int_equal(
        r->status,
        GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__SERVING_STATUS__NOT_SERVING);
    free_msg(r);
    req.service = "no.such.Service";
    assert_int_equal(call(f, HEALTH, reqs, 1,
                          &grpc__health__v1__health_check_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_ENOTFOUND);
    afd_assert_contains(err, "unknown service 'no.such.Service'");
}

/* AckCommand: id 0 is refused; an id never issued is not accepted and
 * says so; an unknown deployment is NOT_FOUND. */
static void test_control_ack_errors(void **state)
{
    struct fixture *f = *state;
    Afd__Sizer__V1__ReportSummary *s = NULL;
    Afd__Sizer__V1__AckCommandRequest req =
        AFD__SIZER__V1__ACK_COMMAND_REQUEST__INIT;
    Afd__Sizer__V1__AckCommandResponse *r = NULL;
    const ProtobufCMessage *reqs[1] = {&req.base};
    char err[AFD_ERR_LEN];

    assert_int_equal(report(f, DEP, &s), AFD_OK);
    free_msg(s);
    req.deployment = DEP;
    req.command_id = 0;
    assert_int_equal(call(f, ACK, reqs, 1,
                          &afd__sizer__v1__ack_command_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_EINVAL);
    afd_assert_contains(err, "command_id must be > 0");
    req.command_id = 7;
    req.success = true;
    assert_int_equal(call(f, ACK, reqs, 1,
                          &afd__sizer__v1__ack_command_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_OK);
    assert_false(r->accepted);
    afd_assert_contains(r->message, "never issued command 7");
    free_msg(r);
    req.deployment = "ghost";
    assert_int_equal(call(f, ACK, reqs, 1,
                          &afd__sizer__v1__ack_command_response__descriptor,
                          (ProtobufCMessage **)&r, err),
                     AFD_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_telemetry_report, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sizer_reads_do_not_recompute,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_sizer_unknown_deployment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_keda_serves_current_count, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_health_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_control_ack_errors, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
