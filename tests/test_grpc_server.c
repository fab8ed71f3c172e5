/*
 * test_grpc_server.c - the gRPC layer (plugin/rpc/grpc_server.h) against a
 * gRPC C core client in the same process.
 *
 * The layer is started with a test method table on 127.0.0.1:0. The test
 * thread drives both sides: it runs the libevent loop without blocking
 * (handlers run there) and polls the client's own completion queue. The
 * client side uses the C core directly: it is a test peer, not project
 * code. Messages are afd.sizer.v1.GetRecommendationRequest (one string).
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/rpc/grpc_server.h"
#include "proto/afd_sizer.pb-c.h"

#define QUEUE_CAP 8
#define MAX_MSGS  64

typedef Afd__Sizer__V1__GetRecommendationRequest msg_t;

struct fixture {
    struct event_base *base;
    struct afd_grpc_server *srv;
    char addr[AFD_ADDR_LEN];
    grpc_channel *ch;
    grpc_completion_queue *cq;
    int send_rc[MAX_MSGS]; /* afd_grpc_send results of Burst */
    int n_sends;
    int done_calls;      /* on_done calls */
    int done_cancelled;  /* of which cancelled */
    int server_down;     /* shutdown done() calls */
    int handled;         /* Guarded / Sum messages that reached a handler */
    int unauthenticated; /* on_unauthenticated calls */
};

#define TOKEN "tok-0123456789abcdef"

/* ---- test methods ---- */

static void reply_text(struct afd_grpc_call *call, const char *text)
{
    msg_t out = AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;

    out.deployment = (char *)text;
    afd_grpc_reply(call, &out.base);
}

/* Echo: replies with the request text plus metadata "x-token" if any. */
static void echo(struct afd_grpc_call *call, const ProtobufCMessage *m,
                 void *ctx)
{
    const msg_t *req = (const msg_t *)m;
    char buf[4096];
    const char *tok;
    size_t len;

    tok = afd_grpc_call_metadata(call, "x-token", &len);
    snprintf(buf, sizeof(buf), "%s%s%.*s", req->deployment, tok ? "|" : "",
             (int)len, tok ? tok : "");
    reply_text(call, buf);
}

/* Burst: sends atoi(request) messages "0", "1", ... then status OK. */
static void burst(struct afd_grpc_call *call, const ProtobufCMessage *m,
                  void *ctx)
{
    struct fixture *f = ctx;
    msg_t out = AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
    int i, n = atoi(((const msg_t *)m)->deployment);
    char buf[16];

    for (i = 0; i < n && i < MAX_MSGS; i++) {
        snprintf(buf, sizeof(buf), "%d", i);
        out.deployment = buf;
        f->send_rc[f->n_sends++] = afd_grpc_send(call, &out.base);
    }
    afd_grpc_finish(call, AFD_GRPC_OK, NULL);
}

/* Hold: one message, then the stream stays open. */
static void hold(struct afd_grpc_call *call, const ProtobufCMessage *m,
                 void *ctx)
{
    msg_t out = AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;

    out.deployment = "held";
    afd_grpc_send(call, &out.base);
}

static void count_done(struct afd_grpc_call *call, bool cancelled, void *ctx)
{
    struct fixture *f = ctx;

    f->done_calls++;
    f->done_cancelled += cancelled;
}

/* Guarded: a mutating unary method; replies "done" and counts. */
static void guarded(struct afd_grpc_call *call, const ProtobufCMessage *m,
                    void *ctx)
{
    ((struct fixture *)ctx)->handled++;
    reply_text(call, "done");
}

static void count_unauthenticated(struct afd_grpc_call *call, void *ctx)
{
    ((struct fixture *)ctx)->unauthenticated++;
}

/* Sum: counts client messages; a malformed one ends the call. */
static void sum_msg(struct afd_grpc_call *call, const ProtobufCMessage *m,
                    void *ctx)
{
    int n = (int)(intptr_t)afd_grpc_call_data(call);

    ((struct fixture *)ctx)->handled++;
    if (!m) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT, "bad message %d",
                        n + 1);
        return;
    }
    afd_grpc_call_set_data(call, (void *)(intptr_t)(n + 1), NULL);
}

static void sum_end(struct afd_grpc_call *call, void *ctx)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%d", (int)(intptr_t)afd_grpc_call_data(call));
    reply_text(call, buf);
}

static const struct afd_grpc_method methods[] = {
    {.path = "/t.T/Echo",
     .kind = AFD_GRPC_UNARY,
     .request = &afd__sizer__v1__get_recommendation_request__descriptor,
     .on_request = echo},
    {.path = "/t.T/Burst",
     .kind = AFD_GRPC_SERVER_STREAM,
     .request = &afd__sizer__v1__get_recommendation_request__descriptor,
     .on_request = burst},
    {.path = "/t.T/Hold",
     .kind = AFD_GRPC_SERVER_STREAM,
     .request = &afd__sizer__v1__get_recommendation_request__descriptor,
     .on_request = hold,
     .on_done = count_done},
    {.path = "/t.T/Sum",
     .kind = AFD_GRPC_CLIENT_STREAM,
     .request = &afd__sizer__v1__get_recommendation_request__descriptor,
     .on_message = sum_msg,
     .on_end = sum_end,
     .requires_token = true},
    {.path = "/t.T/Guarded",
     .kind = AFD_GRPC_UNARY,
     .request = &afd__sizer__v1__get_recommendation_request__descriptor,
     .on_request = guarded,
     .requires_token = true},
};

/* ---- client side ---- */

struct result {
    grpc_status_code status;
    char details[512];
    int n_msgs;
    char msgs[MAX_MSGS][128];
};

static grpc_byte_buffer *raw_buffer(const void *p, size_t n)
{
    grpc_slice s = grpc_slice_from_copied_buffer(p, n);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&s, 1);

    grpc_slice_unref(s);
    return bb;
}

static grpc_byte_buffer *text_buffer(const char *text)
{
    msg_t m = AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
    uint8_t buf[8192];
    size_t n;

    m.deployment = (char *)text;
    n = protobuf_c_message_pack(&m.base, buf);
    assert_true(n <= sizeof(buf));
    return raw_buffer(buf, n);
}

/* Runs the loop and the client queue until *flag is set (5 s at most). */
static void pump(struct fixture *f, void *tag, int *flag, void *tag2,
                 int *flag2)
{
    int i;

    for (i = 0; i < 5000 && !*flag; i++) {
        grpc_event ev;
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        ev = grpc_completion_queue_next(
            f->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_millis(1, GPR_TIMESPAN)),
            NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        if (ev.tag == tag)
            *flag = 1;
        else if (tag2 && ev.tag == tag2)
            *flag2 = 1;
    }
    assert_true(*flag);
}

static void take_msg(struct result *r, grpc_byte_buffer *bb)
{
    grpc_byte_buffer_reader rd;
    grpc_slice s;
    msg_t *m;

    assert_true(grpc_byte_buffer_reader_init(&rd, bb));
    s = grpc_byte_buffer_reader_readall(&rd);
    m = (msg_t *)protobuf_c_message_unpack(
        &afd__sizer__v1__get_recommendation_request__descriptor, NULL,
        GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
    assert_non_null(m);
    if (r->n_msgs < MAX_MSGS)
        snprintf(r->msgs[r->n_msgs++], sizeof(r->msgs[0]), "%s", m->deployment);
    protobuf_c_message_free_unpacked(&m->base, NULL);
    grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&rd);
    grpc_byte_buffer_destroy(bb);
}

/*
 * One call: sends the n request buffers (taken), half-closes, reads every
 * response message (unless read is false) and the status. With stop_after
 * >= 0 the server is asked to shut down after that many messages arrived.
 */
static void call(struct fixture *f, const char *method, grpc_byte_buffer **req,
                 size_t n, const grpc_metadata *md, size_t n_md, bool read,
                 struct result *r)
{
    grpc_call *c;
    grpc_op ops[8];
    grpc_metadata_array init_md, trail_md;
    grpc_slice details, path = grpc_slice_from_static_string(method);
    grpc_byte_buffer *in = NULL;
    int status_done = 0, recv_done = 0, x = 0;
    size_t i, k = 0;

    memset(r, 0, sizeof(*r));
    grpc_metadata_array_init(&init_md);
    grpc_metadata_array_init(&trail_md);
    c = grpc_channel_create_call(
        f->ch, NULL, GRPC_PROPAGATE_DEFAULTS, f->cq, path, NULL,
        gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                     gpr_time_from_seconds(10, GPR_TIMESPAN)),
        NULL);
    memset(ops, 0, sizeof(ops));
    ops[k].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[k].data.send_initial_metadata.count = n_md;
    ops[k++].data.send_initial_metadata.metadata = (grpc_metadata *)md;
    ops[k].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[k++].data.recv_initial_metadata.recv_initial_metadata = &init_md;
    ops[k].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[k].data.recv_status_on_client.trailing_metadata = &trail_md;
    ops[k].data.recv_status_on_client.status = &r->status;
    ops[k++].data.recv_status_on_client.status_details = &details;
    assert_int_equal(grpc_call_start_batch(c, ops, k, &status_done, NULL),
                     GRPC_CALL_OK);
    for (i = 0; i < n; i++) {
        int sent = 0;
        memset(ops, 0, sizeof(ops));
        ops[0].op = GRPC_OP_SEND_MESSAGE;
        ops[0].data.send_message.send_message = req[i];
        assert_int_equal(grpc_call_start_batch(c, ops, 1, &sent, NULL),
                         GRPC_CALL_OK);
        pump(f, &sent, &sent, &status_done, &status_done);
        grpc_byte_buffer_destroy(req[i]);
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    grpc_call_start_batch(c, ops, 1, &x, NULL);
    while (read) {
        recv_done = 0;
        memset(ops, 0, sizeof(ops));
        ops[0].op = GRPC_OP_RECV_MESSAGE;
        ops[0].data.recv_message.recv_message = &in;
        assert_int_equal(grpc_call_start_batch(c, ops, 1, &recv_done, NULL),
                         GRPC_CALL_OK);
        pump(f, &recv_done, &recv_done, &status_done, &status_done);
        if (!in)
            break;
        take_msg(r, in);
        in = NULL;
    }
    pump(f, &status_done, &status_done, NULL, NULL);
    snprintf(r->details, sizeof(r->details), "%.*s",
             (int)GRPC_SLICE_LENGTH(details),
             (const char *)GRPC_SLICE_START_PTR(details));
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&init_md);
    grpc_metadata_array_destroy(&trail_md);
    grpc_call_unref(c);
    /* Let the server side see the end of the call. */
    for (i = 0; i < 20; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        grpc_completion_queue_next(
            f->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_millis(1, GPR_TIMESPAN)),
            NULL);
    }
}

static void call1(struct fixture *f, const char *method, const char *text,
                  struct result *r)
{
    grpc_byte_buffer *bb = text_buffer(text);

    call(f, method, &bb, 1, NULL, 0, true, r);
}

/* ---- fixtures ---- */

static int start_with(void **state, size_t max_msg, const char *token)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct afd_grpc_server_config cfg = {
        .listen = "127.0.0.1:0",
        .max_message_bytes = max_msg,
        .max_stream_queue = QUEUE_CAP,
        .token = token,
        .token_len = token ? strlen(token) : 0,
        .on_unauthenticated = count_unauthenticated,
    };
    grpc_channel_credentials *creds;
    char err[AFD_ERR_LEN];

    evthread_use_pthreads();
    f->base = event_base_new();
    f->srv = afd_grpc_server_start(f->base, &cfg, methods,
                                   sizeof(methods) / sizeof(methods[0]), f,
                                   f->addr, err);
    if (!f->srv) {
        fprintf(stderr, "start failed: %s\n", err);
        return -1;
    }
    grpc_init();
    creds = grpc_insecure_credentials_create();
    f->ch = grpc_channel_create(f->addr, creds, NULL);
    grpc_channel_credentials_release(creds);
    f->cq = grpc_completion_queue_create_for_next(NULL);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return start_with(state, 65536, NULL);
}

static int setup_small(void **state)
{
    return start_with(state, 1024, NULL);
}

static int setup_token(void **state)
{
    return start_with(state, 65536, TOKEN);
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    grpc_event ev;

    grpc_channel_destroy(f->ch);
    grpc_completion_queue_shutdown(f->cq);
    do
        ev = grpc_completion_queue_next(
            f->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    while (ev.type != GRPC_QUEUE_SHUTDOWN);
    grpc_completion_queue_destroy(f->cq);
    afd_grpc_server_free(f->srv);
    event_base_free(f->base);
    grpc_shutdown();
    free(f);
    return 0;
}

/* ---- tests ---- */

/* ensure a unary call gets its handler's reply with status OK */
static void test_grpc_reply_unary(void **state)
{
    struct result r;

    call1(*state, "/t.T/Echo", "abc", &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_int_equal(r.n_msgs, 1);
    assert_string_equal(r.msgs[0], "abc");
}

/* ensure a handler can read request metadata by key */
static void test_grpc_call_metadata_present(void **state)
{
    grpc_metadata md;
    grpc_byte_buffer *bb = text_buffer("hi");
    struct result r;

    memset(&md, 0, sizeof(md));
    md.key = grpc_slice_from_static_string("x-token");
    md.value = grpc_slice_from_static_string("s3cret");
    call(*state, "/t.T/Echo", &bb, 1, &md, 1, true, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_string_equal(r.msgs[0], "hi|s3cret");
}

/* ensure a request that does not decode gets INVALID_ARGUMENT */
static void test_grpc_unary_malformed(void **state)
{
    grpc_byte_buffer *bb = raw_buffer("\x0a\x64"
                                      "abc",
                                      5);
    struct result r;

    call(*state, "/t.T/Echo", &bb, 1, NULL, 0, true, &r);
    assert_int_equal(r.status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_non_null(strstr(r.details, "GetRecommendationRequest"));
}

/* ensure an unknown method gets UNIMPLEMENTED naming it */
static void test_grpc_unknown_method(void **state)
{
    struct result r;

    call1(*state, "/t.T/Nope", "x", &r);
    assert_int_equal(r.status, GRPC_STATUS_UNIMPLEMENTED);
    assert_non_null(strstr(r.details, "/t.T/Nope"));
}

/* ensure a server stream delivers queued messages in order, then status */
static void test_grpc_send_in_order(void **state)
{
    struct fixture *f = *state;
    struct result r;
    int i;

    call1(f, "/t.T/Burst", "6", &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_int_equal(r.n_msgs, 6);
    for (i = 0; i < 6; i++) {
        char want[8];
        snprintf(want, sizeof(want), "%d", i);
        assert_string_equal(r.msgs[i], want);
        assert_int_equal(f->send_rc[i], AFD_OK);
    }
}

/*
 * ensure a full write queue ends the stream with RESOURCE_EXHAUSTED: one
 * message in flight plus QUEUE_CAP queued, the next send fails
 */
static void test_grpc_send_queue_full(void **state)
{
    struct fixture *f = *state;
    struct result r;
    int i;

    call1(f, "/t.T/Burst", "20", &r);
    for (i = 0; i < QUEUE_CAP + 1; i++)
        assert_int_equal(f->send_rc[i], AFD_OK);
    assert_int_equal(f->send_rc[QUEUE_CAP + 1], AFD_ENOMEM);
    assert_int_equal(f->send_rc[QUEUE_CAP + 2], AFD_ESTATE);
    assert_int_equal(r.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(r.details, "too slow"));
    assert_true(r.n_msgs <= 1);
}

/* ensure a client stream sees every message and answers at half-close */
static void test_grpc_client_stream_counts(void **state)
{
    grpc_byte_buffer *bb[3] = {text_buffer("a"), text_buffer("b"),
                               text_buffer("c")};
    struct result r;

    call(*state, "/t.T/Sum", bb, 3, NULL, 0, true, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_string_equal(r.msgs[0], "3");
}

/* ensure a malformed client-stream message reaches the handler as NULL */
static void test_grpc_client_stream_malformed(void **state)
{
    grpc_byte_buffer *bb[2] = {text_buffer("a"), raw_buffer("\xff\xff", 2)};
    struct result r;

    call(*state, "/t.T/Sum", bb, 2, NULL, 0, true, &r);
    assert_int_equal(r.status, GRPC_STATUS_INVALID_ARGUMENT);
    assert_string_equal(r.details, "bad message 2");
}

/* ensure a message above max_message_bytes gets RESOURCE_EXHAUSTED */
static void test_grpc_oversize_message(void **state)
{
    char big[2000];
    struct result r;

    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    call1(*state, "/t.T/Echo", big, &r);
    assert_int_equal(r.status, GRPC_STATUS_RESOURCE_EXHAUSTED);
    call1(*state, "/t.T/Echo", "small", &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
}

static void on_down(void *arg)
{
    ((struct fixture *)arg)->server_down++;
}

/* ensure shutdown ends an open server stream with UNAVAILABLE, then done */
static void test_grpc_server_shutdown_ends_streams(void **state)
{
    struct fixture *f = *state;
    grpc_byte_buffer *bb = text_buffer("");
    grpc_call *c;
    grpc_op ops[6];
    grpc_byte_buffer *in = NULL;
    grpc_metadata_array md, trail;
    grpc_status_code status;
    grpc_slice details;
    int done = 0, i;

    grpc_metadata_array_init(&md);
    grpc_metadata_array_init(&trail);
    c = grpc_channel_create_call(f->ch, NULL, GRPC_PROPAGATE_DEFAULTS, f->cq,
                                 grpc_slice_from_static_string("/t.T/Hold"),
                                 NULL, gpr_inf_future(GPR_CLOCK_REALTIME),
                                 NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[3].data.recv_status_on_client.trailing_metadata = &trail;
    ops[3].data.recv_status_on_client.status = &status;
    ops[3].data.recv_status_on_client.status_details = &details;
    ops[4].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[4].data.recv_initial_metadata.recv_initial_metadata = &md;
    ops[5].op = GRPC_OP_RECV_MESSAGE;
    ops[5].data.recv_message.recv_message = &in;
    assert_int_equal(grpc_call_start_batch(c, ops, 6, &done, NULL),
                     GRPC_CALL_OK);
    for (i = 0; i < 200; i++) { /* let the stream open */
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        grpc_completion_queue_next(
            f->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_millis(1, GPR_TIMESPAN)),
            NULL);
    }
    afd_grpc_server_shutdown(f->srv, 100, on_down, f);
    pump(f, &done, &done, NULL, NULL);
    assert_int_equal(status, GRPC_STATUS_UNAVAILABLE);
    for (i = 0; i < 2000 && !f->server_down; i++) {
        event_base_loop(f->base, EVLOOP_NONBLOCK);
        grpc_completion_queue_next(
            f->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_REALTIME),
                         gpr_time_from_millis(1, GPR_TIMESPAN)),
            NULL);
    }
    assert_int_equal(f->server_down, 1);
    assert_true(afd_grpc_server_is_down(f->srv));
    assert_int_equal(f->done_calls, 1);
    assert_non_null(in); /* the message sent before the shutdown */
    grpc_byte_buffer_destroy(in);
    grpc_slice_unref(details);
    grpc_byte_buffer_destroy(bb);
    grpc_metadata_array_destroy(&md);
    grpc_metadata_array_destroy(&trail);
    grpc_call_unref(c);
}

/* ensure a listen address without a port is refused with a message */
static void test_grpc_server_start_bad_address(void **state)
{
    struct afd_grpc_server_config cfg = {.listen = "localhost",
                                         .max_message_bytes = 65536,
                                         .max_stream_queue = 8};
    struct event_base *base = event_base_new();
    char err[AFD_ERR_LEN];

    assert_null(afd_grpc_server_start(base, &cfg, methods, 1, NULL, NULL, err));
    assert_non_null(strstr(err, "HOST:PORT"));
    assert_non_null(strstr(err, "localhost"));
    event_base_free(base);
}

/* One Guarded call with metadata "authorization: value" (NULL: none). */
static void guarded_call(struct fixture *f, const char *path, const char *value,
                         struct result *r)
{
    grpc_byte_buffer *bb = text_buffer("x");
    grpc_metadata md;

    memset(&md, 0, sizeof(md));
    md.key = grpc_slice_from_static_string("authorization");
    md.value = grpc_slice_from_static_string(value ? value : "");
    call(f, path, &bb, 1, &md, value ? 1 : 0, true, r);
}

/* ensure a requires_token method without metadata is UNAUTHENTICATED */
static void test_grpc_check_token_missing(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", NULL, &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(r.details, "authorization: Bearer <token>"));
    assert_non_null(strstr(r.details, "no authorization metadata"));
    assert_int_equal(f->handled, 0);
    assert_int_equal(f->unauthenticated, 1);
}

/* ensure a wrong token of the same length is refused */
static void test_grpc_check_token_wrong(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", "Bearer tok-0123456789abcdeX", &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(r.details, "not valid"));
    assert_int_equal(f->handled, 0);
    assert_int_equal(f->unauthenticated, 1);
}

/* ensure a prefix of the token, or the token plus more, is refused */
static void test_grpc_check_token_length_mismatch(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", "Bearer tok-0123", &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    guarded_call(f, "/t.T/Guarded", "Bearer " TOKEN "0", &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    guarded_call(f, "/t.T/Guarded", "Bearer ", &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    assert_int_equal(f->handled, 0);
    assert_int_equal(f->unauthenticated, 3);
}

/* ensure a scheme other than Bearer is refused with a message saying so */
static void test_grpc_check_token_not_bearer(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", "Basic " TOKEN, &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    assert_non_null(strstr(r.details, "not a Bearer token"));
    assert_int_equal(f->handled, 0);
}

/* ensure the right token (scheme in any case) reaches the handler */
static void test_grpc_check_token_right(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", "Bearer " TOKEN, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_string_equal(r.msgs[0], "done");
    guarded_call(f, "/t.T/Guarded", "bEARER " TOKEN, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_int_equal(f->handled, 2);
    assert_int_equal(f->unauthenticated, 0);
}

/* ensure a client stream without the token is refused before any message */
static void test_grpc_check_token_client_stream(void **state)
{
    struct fixture *f = *state;
    grpc_byte_buffer *bb[2] = {text_buffer("a"), text_buffer("b")};
    struct result r;

    call(f, "/t.T/Sum", bb, 2, NULL, 0, true, &r);
    assert_int_equal(r.status, GRPC_STATUS_UNAUTHENTICATED);
    assert_int_equal(f->handled, 0);
    assert_int_equal(f->unauthenticated, 1);
}

/* ensure methods not marked requires_token ignore the token */
static void test_grpc_check_token_open_method(void **state)
{
    struct fixture *f = *state;
    struct result r;

    call1(f, "/t.T/Echo", "abc", &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_string_equal(r.msgs[0], "abc");
    assert_int_equal(f->unauthenticated, 0);
}

/* ensure requires_token methods are open when the server has no token */
static void test_grpc_check_token_not_configured(void **state)
{
    struct fixture *f = *state;
    struct result r;

    guarded_call(f, "/t.T/Guarded", NULL, &r);
    assert_int_equal(r.status, GRPC_STATUS_OK);
    assert_int_equal(f->handled, 1);
    assert_int_equal(f->unauthenticated, 0);
}

/* ensure a certificate without a key (or an empty token) is refused */
static void test_grpc_server_start_tls_incomplete(void **state)
{
    struct afd_grpc_server_config cfg = {.listen = "127.0.0.1:0",
                                         .max_message_bytes = 65536,
                                         .max_stream_queue = 8,
                                         .tls_cert_pem = "-----BEGIN"};
    struct event_base *base = event_base_new();
    char err[AFD_ERR_LEN];

    assert_null(afd_grpc_server_start(base, &cfg, methods, 1, NULL, NULL, err));
    assert_non_null(strstr(err, "a certificate and a key together"));
    cfg.tls_cert_pem = NULL;
    cfg.token = "";
    err[0] = '\0';
    assert_null(afd_grpc_server_start(base, &cfg, methods, 1, NULL, NULL, err));
    assert_non_null(strstr(err, "token must not be empty"));
    event_base_free(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_grpc_reply_unary, setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_call_metadata_present, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_unary_malformed, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_unknown_method, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_send_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_send_queue_full, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_client_stream_counts, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_client_stream_malformed,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_oversize_message, setup_small,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_grpc_server_shutdown_ends_streams,
                                        setup, teardown),
        cmocka_unit_test(test_grpc_server_start_bad_address),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_missing,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_wrong,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_length_mismatch,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_not_bearer,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_right,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_client_stream,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_open_method,
                                        setup_token, teardown),
        cmocka_unit_test_setup_teardown(test_grpc_check_token_not_configured,
                                        setup, teardown),
        cmocka_unit_test(test_grpc_server_start_tls_incomplete),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
