/* grpc_client.c - blocking gRPC client calls and server-stream readers. */
#include "plugin/rpc/grpc_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_buf.h"
#include "plugin/sys/os.h"

#define CLIENT_GRACE_MS 5000 /* past the deadline before we cancel */
#define AUTH_LEN        600

struct afd_grpc_client {
    grpc_channel *channel;
    char target[256];
    char auth[AUTH_LEN]; /* "Bearer <token>" or "" */
};

/* ------------------------------------------------------------ helpers */

static const char *status_name(grpc_status_code s)
{
    static const char *const names[] = {"OK",
                                        "CANCELLED",
                                        "UNKNOWN",
                                        "INVALID_ARGUMENT",
                                        "DEADLINE_EXCEEDED",
                                        "NOT_FOUND",
                                        "ALREADY_EXISTS",
                                        "PERMISSION_DENIED",
                                        "RESOURCE_EXHAUSTED",
                                        "FAILED_PRECONDITION",
                                        "ABORTED",
                                        "OUT_OF_RANGE",
                                        "UNIMPLEMENTED",
                                        "INTERNAL",
                                        "UNAVAILABLE",
                                        "DATA_LOSS",
                                        "UNAUTHENTICATED"};

    return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "STATUS";
}

static int status_err(const char *method, grpc_status_code s,
                      grpc_slice details, char *err)
{
    int code = s == GRPC_STATUS_INVALID_ARGUMENT ? AFD_EINVAL
               : s == GRPC_STATUS_NOT_FOUND || s == GRPC_STATUS_UNIMPLEMENTED
                   ? AFD_ENOTFOUND
               : s == GRPC_STATUS_FAILED_PRECONDITION ? AFD_ESTATE
                                                      : AFD_EIO;

    return afd_err(err, code, "%s: %s (%d): %.*s", method, status_name(s),
                   (int)s, (int)GRPC_SLICE_LENGTH(details),
                   (const char *)GRPC_SLICE_START_PTR(details));
}

static gpr_timespec after_ms(int ms)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_millis(ms, GPR_TIMESPAN));
}

/* Unpacks bb with desc; NULL when it does not decode. */
static ProtobufCMessage *unpack(grpc_byte_buffer *bb,
                                const ProtobufCMessageDescriptor *desc)
{
    grpc_byte_buffer_reader rd;
    ProtobufCMessage *m;
    grpc_slice s;

    if (!bb || !grpc_byte_buffer_reader_init(&rd, bb))
        return NULL;
    s = grpc_byte_buffer_reader_readall(&rd);
    grpc_byte_buffer_reader_destroy(&rd);
    m = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
                                  GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    return m;
}

/* Fills the initial-metadata op (auth header when configured). */
static void op_initial_md(const struct afd_grpc_client *c, grpc_op *op,
                          grpc_metadata *md)
{
    memset(op, 0, sizeof(*op));
    op->op = GRPC_OP_SEND_INITIAL_METADATA;
    if (c->auth[0]) {
        md->key = grpc_slice_from_static_string("authorization");
        md->value = grpc_slice_from_copied_string(c->auth);
        op->data.send_initial_metadata.count = 1;
        op->data.send_initial_metadata.metadata = md;
    }
}

/* A client over creds (released here); the caller holds a grpc_init
 * reference, which a failure gives back. */
static struct afd_grpc_client *client_new(const char *target, const char *token,
                                          grpc_channel_credentials *creds,
                                          char *err)
{
    struct afd_grpc_client *c;

    if (!target || !target[0] || strlen(target) >= sizeof(c->target)) {
        afd_err(err, AFD_EINVAL, "grpc target must be HOST:PORT, got '%s'",
                target ? target : "");
        grpc_channel_credentials_release(creds);
        grpc_shutdown();
        return NULL;
    }
    if (token && strlen(token) > AUTH_LEN - 16) {
        afd_err(err, AFD_EINVAL, "grpc token longer than %d bytes",
                AUTH_LEN - 16);
        grpc_channel_credentials_release(creds);
        grpc_shutdown();
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (!c) {
        afd_err(err, AFD_ENOMEM, "out of memory for a grpc client");
        grpc_channel_credentials_release(creds);
        grpc_shutdown();
        return NULL;
    }
    snprintf(c->target, sizeof(c->target), "%s", target);
    if (token && token[0])
        snprintf(c->auth, sizeof(c->auth), "Bearer %s", token);
    c->channel = grpc_channel_create(target, creds, NULL);
    grpc_channel_credentials_release(creds);
    if (!c->channel) {
        afd_err(err, AFD_EIO, "cannot create a grpc channel to '%s'", target);
        grpc_shutdown();
        free(c);
        return NULL;
    }
    return c;
}

struct afd_grpc_client *afd_grpc_client_new(const char *target,
                                            const char *token, char *err)
{
    grpc_init();
    return client_new(target, token, grpc_insecure_credentials_create(), err);
}

struct afd_grpc_client *afd_grpc_client_new_tls(const char *target,
                                                const char *token,
                                                const char *ca_pem,
                                                const char *cert_pem,
                                                const char *key_pem, char *err)
{
    grpc_ssl_pem_key_cert_pair pair;
    grpc_channel_credentials *creds;

    if (!ca_pem || !ca_pem[0]) {
        afd_err(err, AFD_EINVAL, "a TLS channel needs the server's CA (PEM)");
        return NULL;
    }
    if ((cert_pem && cert_pem[0]) != (key_pem && key_pem[0])) {
        afd_err(err, AFD_EINVAL,
                "a client certificate needs its key and the other way round");
        return NULL;
    }
    grpc_init();
    pair.private_key = key_pem;
    pair.cert_chain = cert_pem;
    creds = grpc_ssl_credentials_create(
        ca_pem, cert_pem && cert_pem[0] ? &pair : NULL, NULL, NULL);
    if (!creds) {
        afd_err(err, AFD_EINVAL, "cannot make TLS credentials for '%s'",
                target ? target : "");
        grpc_shutdown();
        return NULL;
    }
    return client_new(target, token, creds, err);
}

void afd_grpc_client_free(struct afd_grpc_client *c)
{
    if (!c)
        return;
    grpc_channel_destroy(c->channel);
    grpc_shutdown();
    free(c);
}

/* ------------------------------------------------- blocking calls */

/* Starts one op batch and waits for it on the pluck queue. */
static bool batch_wait(grpc_call *call, grpc_completion_queue *cq,
                       const grpc_op *ops, size_t n, void *tag,
                       gpr_timespec until)
{
    grpc_event ev;

    if (grpc_call_start_batch(call, ops, n, tag, NULL) != GRPC_CALL_OK)
        return false;
    ev = grpc_completion_queue_pluck(cq, tag, until, NULL);
    if (ev.type == GRPC_QUEUE_TIMEOUT) {
        /* the deadline should have ended the call: make sure it does */
        grpc_call_cancel(call, NULL);
        ev = grpc_completion_queue_pluck(
            cq, tag, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    return ev.type == GRPC_OP_COMPLETE && ev.success;
}

int afd_grpc_client_stream(struct afd_grpc_client *c, const char *method,
                           const ProtobufCMessage *const *reqs, size_t n,
                           const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, int timeout_ms, char *err)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    gpr_timespec until = after_ms(timeout_ms + CLIENT_GRACE_MS);
    grpc_metadata_array md_in, md_trail;
    grpc_byte_buffer *reply = NULL, *bb;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice();
    grpc_metadata auth;
    grpc_op ops[3];
    grpc_call *call;
    bool have_auth = false;
    int tag_recv, tag_send, rc = AFD_OK;
    bool ok = true;
    size_t i;

    *resp = NULL;
    grpc_metadata_array_init(&md_in);
    grpc_metadata_array_init(&md_trail);
    call = grpc_channel_create_call(c->channel, NULL, GRPC_PROPAGATE_DEFAULTS,
                                    cq, grpc_slice_from_static_string(method),
                                    NULL, after_ms(timeout_ms), NULL);
    if (!call) {
        rc = afd_err(err, AFD_EIO, "%s: cannot create the call", method);
        goto out;
    }
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[0].data.recv_initial_metadata.recv_initial_metadata = &md_in;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &reply;
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.trailing_metadata = &md_trail;
    ops[2].data.recv_status_on_client.status = &status;
    ops[2].data.recv_status_on_client.status_details = &details;
    if (grpc_call_start_batch(call, ops, 3, &tag_recv, NULL) != GRPC_CALL_OK) {
        rc = afd_err(err, AFD_EIO, "%s: cannot start the call", method);
        goto out;
    }
    op_initial_md(c, &ops[0], &auth);
    have_auth = c->auth[0] != '\0';
    ok = batch_wait(call, cq, ops, 1, &tag_send, until);
    for (i = 0; ok && i < n; i++) {
        memset(&ops[0], 0, sizeof(ops[0]));
        ops[0].op = GRPC_OP_SEND_MESSAGE;
        bb = afd_grpc_pack(reqs[i]);
        ops[0].data.send_message.send_message = bb;
        ok = batch_wait(call, cq, ops, 1, &tag_send, until);
        grpc_byte_buffer_destroy(bb);
    }
    if (ok) {
        memset(&ops[0], 0, sizeof(ops[0]));
        ops[0].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
        batch_wait(call, cq, ops, 1, &tag_send, until);
    }
    if (grpc_completion_queue_pluck(cq, &tag_recv, until, NULL).type ==
        GRPC_QUEUE_TIMEOUT) {
        grpc_call_cancel(call, NULL);
        grpc_completion_queue_pluck(cq, &tag_recv,
                                    gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    }
    if (status != GRPC_STATUS_OK)
        rc = status_err(method, status, details, err);
    else if (!(*resp = unpack(reply, resp_desc)))
        rc = afd_err(err, AFD_EPARSE, "%s: reply does not decode as %s", method,
                     resp_desc->name);
out:
    if (have_auth)
        grpc_slice_unref(auth.value);
    if (reply)
        grpc_byte_buffer_destroy(reply);
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&md_in);
    grpc_metadata_array_destroy(&md_trail);
    if (call)
        grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    return rc;
}

int afd_grpc_client_unary(struct afd_grpc_client *c, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, int timeout_ms, char *err)
{
    return afd_grpc_client_stream(c, method, &req, 1, resp_desc, resp,
                                  timeout_ms, err);
}

/* ---------------------------------------------------- stream reader */

enum reader_tag { TAG_SEND = 0, TAG_STATUS, TAG_MSG };

struct afd_grpc_reader {
    struct afd_grpc_client *client;
    const char *method;
    const ProtobufCMessageDescriptor *desc;
    grpc_completion_queue *cq;
    grpc_call *call;
    pthread_t thread;
    bool thread_started;
    int tags[3]; /* addresses are the tags */
    grpc_metadata_array md_in, md_trail;
    grpc_byte_buffer *msg_bb;
    grpc_status_code status;
    grpc_slice details;
    grpc_metadata auth;
    bool have_auth;
    /* queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t cond;
    ProtobufCMessage **q;
    size_t cap, head, n;
    bool ended;    /* status received */
    bool stopping; /* free() wants the thread out */
};

static bool reader_recv(struct afd_grpc_reader *r, bool first)
{
    grpc_op ops[2];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    if (first) {
        ops[n].op = GRPC_OP_RECV_INITIAL_METADATA;
        ops[n++].data.recv_initial_metadata.recv_initial_metadata = &r->md_in;
    }
    ops[n].op = GRPC_OP_RECV_MESSAGE;
    ops[n++].data.recv_message.recv_message = &r->msg_bb;
    return grpc_call_start_batch(r->call, ops, n, &r->tags[TAG_MSG], NULL) ==
           GRPC_CALL_OK;
}

/* Queues m, waiting while the queue is full (unless stopping). */
static void reader_push(struct afd_grpc_reader *r, ProtobufCMessage *m)
{
    pthread_mutex_lock(&r->mu);
    while (r->n == r->cap && !r->stopping)
        pthread_cond_wait(&r->cond, &r->mu);
    if (r->stopping) {
        pthread_mutex_unlock(&r->mu);
        protobuf_c_message_free_unpacked(m, NULL);
        return;
    }
    r->q[(r->head + r->n) % r->cap] = m;
    r->n++;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
}

static void *reader_main(void *arg)
{
    struct afd_grpc_reader *r = arg;
    int outstanding = 3; /* send, status, first message */
    bool msgs_done = false;

    while (outstanding > 0) {
        grpc_event ev = grpc_completion_queue_next(
            r->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        outstanding--;
        if (ev.tag == &r->tags[TAG_STATUS]) {
            pthread_mutex_lock(&r->mu);
            r->ended = true;
            pthread_cond_broadcast(&r->cond);
            pthread_mutex_unlock(&r->mu);
        } else if (ev.tag == &r->tags[TAG_MSG]) {
            grpc_byte_buffer *bb = r->msg_bb;
            ProtobufCMessage *m;
            r->msg_bb = NULL;
            if (!ev.success || !bb) {
                msgs_done = true;
                if (bb)
                    grpc_byte_buffer_destroy(bb);
                continue;
            }
            m = unpack(bb, r->desc);
            grpc_byte_buffer_destroy(bb);
            if (m)
                reader_push(r, m);
            if (!msgs_done && reader_recv(r, false))
                outstanding++;
        }
    }
    pthread_mutex_lock(&r->mu);
    r->ended = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static bool reader_start_ops(struct afd_grpc_reader *r,
                             const ProtobufCMessage *req)
{
    grpc_byte_buffer *bb = afd_grpc_pack(req);
    grpc_op ops[3];
    bool ok;

    memset(ops, 0, sizeof(ops));
    op_initial_md(r->client, &ops[0], &r->auth);
    r->have_auth = r->client->auth[0] != '\0';
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ok = grpc_call_start_batch(r->call, ops, 3, &r->tags[TAG_SEND], NULL) ==
         GRPC_CALL_OK;
    grpc_byte_buffer_destroy(bb); /* the batch holds its own reference */
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &r->md_trail;
    ops[0].data.recv_status_on_client.status = &r->status;
    ops[0].data.recv_status_on_client.status_details = &r->details;
    ok = ok && grpc_call_start_batch(r->call, ops, 1, &r->tags[TAG_STATUS],
                                     NULL) == GRPC_CALL_OK;
    return ok && reader_recv(r, true);
}

struct afd_grpc_reader *afd_grpc_reader_start(
    struct afd_grpc_client *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *msg_desc, size_t max_queue, char *err)
{
    struct afd_grpc_reader *r;

    if (max_queue < 1 || max_queue > AFD_GRPC_MAX_READER_QUEUE) {
        afd_err(err, AFD_EINVAL, "reader queue must be 1..%d, got %zu",
                AFD_GRPC_MAX_READER_QUEUE, max_queue);
        return NULL;
    }
    r = calloc(1, sizeof(*r));
    if (!r || !(r->q = calloc(max_queue, sizeof(*r->q)))) {
        free(r);
        afd_err(err, AFD_ENOMEM, "out of memory for a stream reader");
        return NULL;
    }
    r->client = c;
    r->method = method;
    r->desc = msg_desc;
    r->cap = max_queue;
    r->status = GRPC_STATUS_UNKNOWN;
    r->details = grpc_empty_slice();
    grpc_metadata_array_init(&r->md_in);
    grpc_metadata_array_init(&r->md_trail);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cond, NULL);
    r->cq = grpc_completion_queue_create_for_next(NULL);
    r->call = grpc_channel_create_call(
        c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, r->cq,
        grpc_slice_from_static_string(method), NULL,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (!r->call || !reader_start_ops(r, req)) {
        afd_err(err, AFD_EIO, "%s: cannot start the stream", method);
        if (r->call)
            grpc_call_cancel(r->call, NULL);
    } else if (pthread_create(&r->thread, NULL, reader_main, r)) {
        afd_err(err, AFD_EIO, "%s: cannot start the reader thread", method);
        grpc_call_cancel(r->call, NULL);
    } else {
        r->thread_started = true;
        return r;
    }
    afd_grpc_reader_free(r);
    return NULL;
}

int afd_grpc_reader_next(struct afd_grpc_reader *r, ProtobufCMessage **msg,
                         int timeout_ms, char *err)
{
    struct timespec until =
        afd_timespec_after_ms(CLOCK_REALTIME, timeout_ms > 0 ? timeout_ms : 0);
    int rc = AFD_OK;

    *msg = NULL;
    pthread_mutex_lock(&r->mu);
    while (r->n == 0 && !r->ended && timeout_ms > 0)
        if (pthread_cond_timedwait(&r->cond, &r->mu, &until) == ETIMEDOUT)
            break;
    if (r->n > 0) {
        *msg = r->q[r->head];
        r->head = (r->head + 1) % r->cap;
        r->n--;
        pthread_cond_broadcast(&r->cond);
    } else if (r->ended) {
        rc = r->status == GRPC_STATUS_OK
                 ? afd_err(err, AFD_EIO, "%s: stream ended", r->method)
                 : status_err(r->method, r->status, r->details, err);
    } else {
        rc = afd_err(err, AFD_EEMPTY, "%s: no message within %d ms", r->method,
                     timeout_ms);
    }
    pthread_mutex_unlock(&r->mu);
    return rc;
}

void afd_grpc_reader_free(struct afd_grpc_reader *r)
{
    if (!r)
        return;
    if (r->call)
        grpc_call_cancel(r->call, NULL);
    pthread_mutex_lock(&r->mu);
    r->stopping = true;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->mu);
    if (r->thread_started)
        pthread_join(r->thread, NULL);
    if (r->call)
        grpc_call_unref(r->call);
    if (r->cq) {
        grpc_completion_queue_shutdown(r->cq);
        while (grpc_completion_queue_next(
                   r->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
                   .type != GRPC_QUEUE_SHUTDOWN)
            ;
        grpc_completion_queue_destroy(r->cq);
    }
    while (r->n > 0) {
        protobuf_c_message_free_unpacked(r->q[r->head], NULL);
        r->head = (r->head + 1) % r->cap;
        r->n--;
    }
    if (r->msg_bb)
        grpc_byte_buffer_destroy(r->msg_bb);
    if (r->have_auth)
        grpc_slice_unref(r->auth.value);
    grpc_slice_unref(r->details);
    grpc_metadata_array_destroy(&r->md_in);
    grpc_metadata_array_destroy(&r->md_trail);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cond);
    free(r->q);
    free(r);
}
