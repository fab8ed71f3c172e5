/*
 * grpc_server.c - gRPC C core server, completion-queue thread and the
 * handoff of completions to the libevent loop (see grpc_server.h).
 *
 * Every completion carries a struct afd_grpc_tag naming its call and what
 * the batch was. A call counts its outstanding batches in refs; it is
 * freed on the loop when refs reaches 0 and it is over (close received)
 * or was never matched. The server is down once its shutdown tag arrived
 * and no call (requested or live) is left.
 */
#include "plugin/rpc/grpc_server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/grpc_security.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_internal.h"
#include "plugin/sys/os.h"

/* Requests kept armed per method so calls need not wait for a re-arm. */
#define ARMED_PER_METHOD 2
/*
 * Concurrent calls one client connection may hold open (HTTP/2
 * SETTINGS_MAX_CONCURRENT_STREAMS); gRPC's default is unbounded. A worker
 * needs one telemetry stream, KEDA a few calls.
 */
#define MAX_STREAMS_PER_CONNECTION 256
/* Per-stream receive window (bytes): a few 1000-sample batches. */
#define STREAM_LOOKAHEAD_BYTES (1 << 20)

/* ------------------------------------------------------------ handoff */

/*
 * Loop time one wake may spend on telemetry (lo) completions before it
 * yields to timers and I/O; the rest waits for the resume timer.
 */
#define LO_BUDGET_NS 2000000
/* Telemetry completions taken per lock (a 1000-sample batch: ~0.4 ms). */
#define LO_CHUNK 4

static void list_push(struct handoff_list *l, struct afd_grpc_tag *tag, int ok)
{
    tag->ok = ok;
    tag->next = NULL;
    if (l->tail)
        l->tail->next = tag;
    else
        l->head = tag;
    l->tail = tag;
}

/* The front tag, or NULL when empty. */
static struct afd_grpc_tag *list_pop(struct handoff_list *l)
{
    struct afd_grpc_tag *t = l->head;

    if (t) {
        l->head = t->next;
        if (!l->head)
            l->tail = NULL;
        t->next = NULL;
    }
    return t;
}

/* Telemetry streams may wait behind control; nothing else may. */
static bool is_lo(const struct afd_grpc_tag *tag)
{
    return tag->call && tag->call->method &&
           tag->call->method->kind == AFD_GRPC_CLIENT_STREAM;
}

static void *cq_thread(void *arg)
{
    struct afd_grpc_server *srv = arg;

    for (;;) {
        grpc_event ev = grpc_completion_queue_next(
            srv->cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
        struct afd_grpc_tag *tag = ev.tag;
        bool signal;
        if (ev.type == GRPC_QUEUE_SHUTDOWN)
            break;
        if (ev.type != GRPC_OP_COMPLETE)
            continue;
        pthread_mutex_lock(&srv->lock);
        list_push(is_lo(tag) ? &srv->lo : &srv->hi, tag, ev.success);
        /* One wake-up per batch of completions, not one per completion. */
        signal = !srv->wake_pending;
        srv->wake_pending = true;
        pthread_mutex_unlock(&srv->lock);
        if (signal)
            event_active(srv->wake, EV_READ, 0);
    }
    return NULL;
}

/* ------------------------------------------------------- call objects */

static struct afd_grpc_call *call_new(struct afd_grpc_server *srv, size_t index)
{
    struct afd_grpc_call *c = calloc(1, sizeof(*c));

    if (!c)
        return NULL;
    c->srv = srv;
    c->method_index = index;
    c->method = index < srv->n_methods ? &srv->methods[index] : NULL;
    c->status_details = grpc_empty_slice();
    grpc_metadata_array_init(&c->md);
    grpc_call_details_init(&c->details);
    c->t_new = (struct afd_grpc_tag){.kind = TAG_NEW, .call = c};
    c->t_recv = (struct afd_grpc_tag){.kind = TAG_RECV, .call = c};
    c->t_send = (struct afd_grpc_tag){.kind = TAG_SEND, .call = c};
    c->t_status = (struct afd_grpc_tag){.kind = TAG_STATUS, .call = c};
    c->t_close = (struct afd_grpc_tag){.kind = TAG_CLOSE, .call = c};
    if (c->method && c->method->kind == AFD_GRPC_SERVER_STREAM) {
        c->queue = calloc(srv->max_queue, sizeof(*c->queue));
        if (!c->queue) {
            grpc_metadata_array_destroy(&c->md);
            grpc_call_details_destroy(&c->details);
            free(c);
            return NULL;
        }
    }
    c->next = srv->calls;
    if (srv->calls)
        srv->calls->prev = c;
    srv->calls = c;
    srv->n_calls++;
    return c;
}

static void check_down(struct afd_grpc_server *srv)
{
    if (srv->down || !srv->shutdown_tag_done || srv->n_calls)
        return;
    srv->down = true;
    if (srv->grace) {
        event_free(srv->grace);
        srv->grace = NULL;
    }
    if (srv->done)
        srv->done(srv->done_arg);
}

static void call_free(struct afd_grpc_call *c)
{
    struct afd_grpc_server *srv = c->srv;

    if (c->call)
        grpc_call_unref(c->call);
    grpc_metadata_array_destroy(&c->md);
    grpc_call_details_destroy(&c->details);
    if (c->payload)
        grpc_byte_buffer_destroy(c->payload);
    if (c->recv_bb)
        grpc_byte_buffer_destroy(c->recv_bb);
    if (c->reply_bb)
        grpc_byte_buffer_destroy(c->reply_bb);
    if (c->queue)
        afd_grpc_drop_queue(c);
    free(c->queue);
    grpc_slice_unref(c->status_details);
    if (c->data_free)
        c->data_free(c->data);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->calls = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->n_calls--;
    free(c);
}

static void maybe_free(struct afd_grpc_call *c)
{
    if (c->refs == 0 && (c->over || !c->active))
        call_free(c);
}

/* Arms one request for method index (n_methods = unregistered). */
static void request_call(struct afd_grpc_server *srv, size_t index)
{
    struct afd_grpc_call *c;
    grpc_call_error e;

    if (srv->shutting_down)
        return;
    c = call_new(srv, index);
    if (!c) {
        fprintf(stderr, "afd-sizer: grpc: out of memory arming a call\n");
        return;
    }
    if (c->method) {
        bool payload = c->method->kind != AFD_GRPC_CLIENT_STREAM;
        e = grpc_server_request_registered_call(
            srv->server, srv->handles[index], &c->call, &c->deadline, &c->md,
            payload ? &c->payload : NULL, srv->cq, srv->cq, &c->t_new);
    } else {
        e = grpc_server_request_call(srv->server, &c->call, &c->details, &c->md,
                                     srv->cq, srv->cq, &c->t_new);
    }
    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "afd-sizer: grpc: request call failed (%d)\n", e);
        call_free(c);
        return;
    }
    c->refs = 1;
}

/* ----------------------------------------------------- call handling */

static void on_new(struct afd_grpc_call *c, int ok)
{
    struct afd_grpc_server *srv = c->srv;
    const struct afd_grpc_method *m = c->method;
    ProtobufCMessage *req;

    if (!ok)
        return; /* shutdown: the request was never matched */
    c->active = true;
    request_call(srv, c->method_index);
    afd_grpc_start_close(c);
    if (!m) {
        afd_grpc_finish(c, AFD_GRPC_UNIMPLEMENTED, "method %.*s is not served",
                        (int)GRPC_SLICE_LENGTH(c->details.method),
                        (const char *)GRPC_SLICE_START_PTR(c->details.method));
        return;
    }
    /* Before any message is read: a refused call changes no state. */
    if (!afd_grpc_check_token(c)) {
        if (c->payload) {
            grpc_byte_buffer_destroy(c->payload);
            c->payload = NULL;
        }
        return;
    }
    if (m->kind == AFD_GRPC_CLIENT_STREAM) {
        afd_grpc_start_recv(c);
        return;
    }
    /* Idle watchers cost a call and a queue each: cap them (max_streams). */
    if (m->kind == AFD_GRPC_SERVER_STREAM && srv->max_streams &&
        srv->n_streams >= srv->max_streams) {
        srv->streams_refused++;
        if (c->payload) {
            grpc_byte_buffer_destroy(c->payload);
            c->payload = NULL;
        }
        afd_grpc_finish(c, AFD_GRPC_RESOURCE_EXHAUSTED,
                        "%zu server streams are open, the cap "
                        "(limits.max_streams); retry later or raise it",
                        srv->n_streams);
        return;
    }
    if (m->kind == AFD_GRPC_SERVER_STREAM) {
        srv->n_streams++;
        c->counted = true;
    }
    req = c->payload ? afd_grpc_unpack(&srv->arena, m->request, c->payload)
                     : NULL;
    if (c->payload) {
        grpc_byte_buffer_destroy(c->payload);
        c->payload = NULL;
    }
    if (!req) {
        afd_grpc_finish(c, AFD_GRPC_INVALID_ARGUMENT,
                        "request is not a valid %s message", m->request->name);
        return;
    }
    m->on_request(c, req, srv->ctx);
    afd_grpc_unpacked_done(&srv->arena, req);
}

static void on_recv(struct afd_grpc_call *c, int ok)
{
    const struct afd_grpc_method *m = c->method;
    grpc_byte_buffer *bb = c->recv_bb;
    ProtobufCMessage *msg;

    c->recv_bb = NULL;
    if (!ok || c->over || c->has_status) {
        if (bb)
            grpc_byte_buffer_destroy(bb);
        return;
    }
    if (!bb) {
        m->on_end(c, c->srv->ctx);
        return;
    }
    msg = afd_grpc_unpack(&c->srv->arena, m->request, bb);
    grpc_byte_buffer_destroy(bb);
    m->on_message(c, msg, c->srv->ctx);
    afd_grpc_unpacked_done(&c->srv->arena, msg);
    if (!c->has_status && !c->over)
        afd_grpc_start_recv(c);
}

static void on_send(struct afd_grpc_call *c, int ok)
{
    size_t cap = c->srv->max_queue;
    grpc_byte_buffer *next;

    grpc_byte_buffer_destroy(c->sending);
    c->sending = NULL;
    if (!ok)
        afd_grpc_drop_queue(c); /* the client is gone; close will follow */
    if (c->q_len) {
        next = c->queue[c->q_head];
        c->q_head = (c->q_head + 1) % cap;
        c->q_len--;
        afd_grpc_start_send(c, next);
        return;
    }
    if (c->has_status && !c->status_started)
        afd_grpc_start_status(c);
}

static void on_close(struct afd_grpc_call *c, int ok)
{
    c->over = true;
    if (c->counted) {
        c->srv->n_streams--;
        c->counted = false;
    }
    if (c->queue)
        afd_grpc_drop_queue(c);
    if (c->method && c->method->on_done)
        c->method->on_done(c, !ok || c->cancelled, c->srv->ctx);
}

static void process(struct afd_grpc_server *srv, struct afd_grpc_tag *tag,
                    int ok)
{
    struct afd_grpc_call *c = tag->call;

    if (tag->kind == TAG_SHUTDOWN) {
        srv->shutdown_tag_done = true;
        return;
    }
    c->refs--;
    switch (tag->kind) {
    case TAG_NEW:
        on_new(c, ok);
        break;
    case TAG_RECV:
        on_recv(c, ok);
        break;
    case TAG_SEND:
        on_send(c, ok);
        break;
    case TAG_STATUS:
        if (c->reply_bb) {
            grpc_byte_buffer_destroy(c->reply_bb);
            c->reply_bb = NULL;
        }
        break;
    case TAG_CLOSE:
        on_close(c, ok);
        break;
    case TAG_SHUTDOWN:
        break;
    }
    maybe_free(c);
}

/*
 * Every control (hi) completion, then telemetry (lo) completions, LO_CHUNK
 * at a time, until LO_BUDGET_NS is spent. Then the resume timer brings us
 * back after one pass of the loop (timers and I/O first); wake_pending
 * stays set meanwhile so the completion thread does not signal again. It
 * is cleared only when both lists were found empty.
 */
static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    static const struct timeval zero = {0, 0};
    struct afd_grpc_server *srv = arg;
    struct afd_grpc_tag *chunk[LO_CHUNK], *t;
    struct handoff_list hi;
    int64_t t_end = afd_clock_mono_ns() + LO_BUDGET_NS;
    size_t i, k;

    for (;;) {
        pthread_mutex_lock(&srv->lock);
        hi = srv->hi;
        srv->hi.head = srv->hi.tail = NULL;
        for (k = 0; k < LO_CHUNK && (chunk[k] = list_pop(&srv->lo)); k++)
            ;
        if (!hi.head && !k)
            srv->wake_pending = false;
        pthread_mutex_unlock(&srv->lock);
        if (!hi.head && !k)
            break;
        /* Taken off the shared lists: the links are ours now. */
        while ((t = list_pop(&hi)))
            process(srv, t, t->ok);
        for (i = 0; i < k; i++)
            process(srv, chunk[i], chunk[i]->ok);
        if (afd_clock_mono_ns() >= t_end) {
            evtimer_add(srv->resume, &zero);
            break;
        }
    }
    check_down(srv);
}

/* --------------------------------------------------------- the server */

/* Splits "HOST:PORT" at the last ':'; host keeps any [] brackets. */
static int split_addr(const char *addr, char *host, size_t host_len, char *err)
{
    const char *colon = strrchr(addr, ':');
    size_t n;

    if (!colon || colon == addr || !colon[1])
        return afd_err(err, AFD_EINVAL,
                       "grpc listen address must be HOST:PORT, got '%s'", addr);
    n = (size_t)(colon - addr);
    if (n >= host_len)
        return afd_err(err, AFD_EINVAL, "grpc listen host too long: '%s'",
                       addr);
    memcpy(host, addr, n);
    host[n] = '\0';
    return AFD_OK;
}

/*
 * Plaintext, TLS, or TLS requiring a client certificate signed by the
 * client CA (verified in the handshake: no certificate, no call). gRPC
 * copies the PEM strings.
 */
static grpc_server_credentials *
make_credentials(const struct afd_grpc_server_config *cfg)
{
    grpc_ssl_pem_key_cert_pair pair;

    if (!cfg->tls_cert_pem || !cfg->tls_key_pem)
        return grpc_insecure_server_credentials_create();
    pair.private_key = cfg->tls_key_pem;
    pair.cert_chain = cfg->tls_cert_pem;
    return grpc_ssl_server_credentials_create_ex(
        cfg->tls_client_ca_pem, &pair, 1,
        cfg->tls_client_ca_pem
            ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE,
        NULL);
}

int afd_grpc_tls_check(const char *cert_pem, const char *key_pem,
                       const char *client_ca_pem, char *err)
{
    struct afd_grpc_server_config cfg = {.tls_cert_pem = cert_pem,
                                         .tls_key_pem = key_pem,
                                         .tls_client_ca_pem = client_ca_pem};
    grpc_server_credentials *creds;
    grpc_completion_queue *cq;
    grpc_server *server;
    grpc_event ev;
    int port = 0, tag;

    grpc_init();
    server = grpc_server_create(NULL, NULL);
    cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(server, cq, NULL);
    creds = make_credentials(&cfg);
    if (creds) {
        port = grpc_server_add_http2_port(server, "127.0.0.1:0", creds);
        grpc_server_credentials_release(creds);
    }
    /* A server with a listener must be shut down before it is destroyed. */
    grpc_server_start(server);
    grpc_server_shutdown_and_notify(server, cq, &tag);
    do
        ev = grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME),
                                        NULL);
    while (ev.type != GRPC_OP_COMPLETE || ev.tag != &tag);
    grpc_server_destroy(server);
    grpc_completion_queue_shutdown(cq);
    while (
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
            .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
    grpc_shutdown();
    if (port <= 0)
        return afd_err(err, AFD_EINVAL,
                       "gRPC refused the TLS material (an invalid "
                       "certificate%s, or a key that does not match the "
                       "certificate)",
                       client_ca_pem ? " or client CA" : "");
    return AFD_OK;
}

static int bind_and_register(struct afd_grpc_server *srv,
                             const struct afd_grpc_server_config *cfg,
                             char *bound_out, char *err)
{
    grpc_server_credentials *creds;
    char host[AFD_ADDR_LEN - 16]; /* room for ":PORT" */
    size_t i;
    int port;

    if (split_addr(cfg->listen, host, sizeof(host), err))
        return AFD_EINVAL;
    for (i = 0; i < srv->n_methods; i++) {
        const struct afd_grpc_method *m = &srv->methods[i];
        srv->handles[i] = grpc_server_register_method(
            srv->server, m->path, NULL,
            m->kind == AFD_GRPC_CLIENT_STREAM
                ? GRPC_SRM_PAYLOAD_NONE
                : GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER,
            0);
        if (!srv->handles[i])
            return afd_err(err, AFD_EINVAL, "cannot register grpc method '%s'",
                           m->path);
    }
    creds = make_credentials(cfg);
    if (!creds)
        return afd_err(err, AFD_EINVAL,
                       "cannot create grpc tls credentials from the "
                       "certificate and key");
    port = grpc_server_add_http2_port(srv->server, cfg->listen, creds);
    grpc_server_credentials_release(creds);
    if (port <= 0 && cfg->tls_cert_pem)
        return afd_err(err, AFD_EIO,
                       "cannot bind grpc listen address '%s' with tls (is it "
                       "free, and are the certificate and key a valid, "
                       "matching pair?)",
                       cfg->listen);
    if (port <= 0)
        return afd_err(err, AFD_EIO, "cannot bind grpc listen address '%s'",
                       cfg->listen);
    if (bound_out)
        snprintf(bound_out, AFD_ADDR_LEN, "%s:%d", host, port);
    return AFD_OK;
}

struct afd_grpc_server *
afd_grpc_server_start(struct event_base *base,
                      const struct afd_grpc_server_config *cfg,
                      const struct afd_grpc_method *methods, size_t n_methods,
                      void *ctx, char *bound_out, char *err)
{
    struct afd_grpc_server *srv;
    grpc_arg arg[4];
    grpc_channel_args args;
    size_t i, k;

    if (!cfg->max_message_bytes || cfg->max_message_bytes > 0x7fffffff ||
        !cfg->max_stream_queue) {
        afd_err(err, AFD_EINVAL,
                "grpc limits must be > 0 (message %zu, "
                "queue %zu)",
                cfg->max_message_bytes, cfg->max_stream_queue);
        return NULL;
    }
    if (!cfg->tls_cert_pem != !cfg->tls_key_pem ||
        (cfg->tls_client_ca_pem && !cfg->tls_cert_pem) ||
        (cfg->token && !cfg->token_len)) {
        afd_err(err, AFD_EINVAL,
                "grpc tls needs a certificate and a key together (a client "
                "ca only with them), and a token must not be empty");
        return NULL;
    }
    srv = calloc(1, sizeof(*srv));
    if (!srv) {
        afd_err(err, AFD_ENOMEM, "out of memory starting grpc");
        return NULL;
    }
    grpc_init();
    pthread_mutex_init(&srv->lock, NULL);
    /* The caller's thread runs the loop: every loop-side call asserts it. */
    afd_owner_claim(&srv->owner);
    srv->base = base;
    srv->methods = methods;
    srv->n_methods = n_methods;
    srv->ctx = ctx;
    srv->max_queue = cfg->max_stream_queue;
    srv->max_streams = cfg->max_streams;
    srv->on_unauthenticated = cfg->on_unauthenticated;
    srv->shutdown_tag =
        (struct afd_grpc_tag){.kind = TAG_SHUTDOWN, .call = NULL};
    srv->handles = calloc(n_methods ? n_methods : 1, sizeof(*srv->handles));
    srv->wake = event_new(base, -1, 0, on_wake, srv);
    srv->resume = evtimer_new(base, on_wake, srv);
    /* Below timers and other I/O when the loop has priorities. */
    if (srv->wake && srv->resume && event_base_get_npriorities(base) > 1) {
        event_priority_set(srv->wake, event_base_get_npriorities(base) - 1);
        event_priority_set(srv->resume, event_base_get_npriorities(base) - 1);
    }
    if (cfg->token) {
        srv->token = malloc(cfg->token_len + 1);
        if (srv->token) {
            memcpy(srv->token, cfg->token, cfg->token_len);
            srv->token[cfg->token_len] = '\0';
            srv->token_len = cfg->token_len;
        }
    }
    if (!srv->handles || !srv->wake || !srv->resume ||
        (cfg->token && !srv->token)) {
        afd_err(err, AFD_ENOMEM, "out of memory starting grpc");
        goto fail;
    }
    arg[0].type = GRPC_ARG_INTEGER;
    arg[0].key = GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH;
    arg[0].value.integer = (int)cfg->max_message_bytes;
    arg[1].type = GRPC_ARG_INTEGER;
    arg[1].key = GRPC_ARG_MAX_CONCURRENT_STREAMS;
    arg[1].value.integer = MAX_STREAMS_PER_CONNECTION;
    /*
     * Without BDP probing gRPC keeps each stream's window near the
     * lookahead instead of widening it on loopback until the daemon holds
     * 0.3-1.5 s of telemetry in buffers (peak RSS 130-560 MB under load,
     * about 20 MB with this). A resource quota is no substitute: streams
     * stalled under one.
     */
    arg[2].type = GRPC_ARG_INTEGER;
    arg[2].key = GRPC_ARG_HTTP2_BDP_PROBE;
    arg[2].value.integer = 0;
    arg[3].type = GRPC_ARG_INTEGER;
    arg[3].key = GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES;
    arg[3].value.integer = STREAM_LOOKAHEAD_BYTES;
    args.num_args = 4;
    args.args = arg;
    srv->server = grpc_server_create(&args, NULL);
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    if (bind_and_register(srv, cfg, bound_out, err))
        goto fail;
    /* The thread first: once started, the server needs it to shut down. */
    if (pthread_create(&srv->thread, NULL, cq_thread, srv)) {
        afd_err(err, AFD_EIO, "cannot start the grpc completion thread");
        goto fail;
    }
    srv->thread_started = true;
    grpc_server_start(srv->server);
    srv->started = true;
    for (i = 0; i <= n_methods; i++)
        for (k = 0; k < ARMED_PER_METHOD; k++)
            request_call(srv, i);
    return srv;
fail:
    afd_grpc_server_free(srv);
    return NULL;
}

static void on_grace(evutil_socket_t fd, short what, void *arg)
{
    struct afd_grpc_server *srv = arg;

    grpc_server_cancel_all_calls(srv->server);
}

void afd_grpc_server_shutdown(struct afd_grpc_server *srv, int grace_ms,
                              void (*done)(void *arg), void *arg)
{
    struct afd_grpc_call *c;
    struct timeval tv;

    AFD_ASSERT_OWNER(&srv->owner);
    if (srv->shutting_down) {
        grpc_server_cancel_all_calls(srv->server);
        return;
    }
    srv->shutting_down = true;
    srv->done = done;
    srv->done_arg = arg;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
    for (c = srv->calls; c; c = c->next)
        if (c->active && !c->over && c->method &&
            c->method->kind == AFD_GRPC_SERVER_STREAM)
            afd_grpc_finish(c, AFD_GRPC_UNAVAILABLE, "server shutting down");
    if (grace_ms <= 0) {
        grpc_server_cancel_all_calls(srv->server);
        return;
    }
    srv->grace = evtimer_new(srv->base, on_grace, srv);
    if (!srv->grace) {
        grpc_server_cancel_all_calls(srv->server);
        return;
    }
    tv.tv_sec = grace_ms / 1000;
    tv.tv_usec = (grace_ms % 1000) * 1000;
    evtimer_add(srv->grace, &tv);
}

bool afd_grpc_server_is_down(const struct afd_grpc_server *srv)
{
    return srv->down;
}

void afd_grpc_server_free(struct afd_grpc_server *srv)
{
    if (!srv)
        return;
    if (srv->started) {
        if (!srv->shutting_down)
            afd_grpc_server_shutdown(srv, 0, NULL, NULL);
        else
            grpc_server_cancel_all_calls(srv->server);
        srv->done = NULL;
        /* No other event may be pending: then the loop returns at once. */
        while (!srv->down)
            if (event_base_loop(srv->base, EVLOOP_ONCE) == 1)
                usleep(1000);
    }
    if (srv->server)
        grpc_server_destroy(srv->server);
    if (srv->cq) {
        grpc_completion_queue_shutdown(srv->cq);
        if (srv->thread_started)
            pthread_join(srv->thread, NULL);
        grpc_completion_queue_destroy(srv->cq);
    }
    /* Not started: calls may sit unmatched; nothing holds them any more. */
    while (srv->calls)
        call_free(srv->calls);
    if (srv->grace)
        event_free(srv->grace);
    if (srv->wake)
        event_free(srv->wake);
    if (srv->resume)
        event_free(srv->resume);
    afd_grpc_arena_release(&srv->arena);
    free(srv->handles);
    if (srv->token) {
        memset(srv->token, 0, srv->token_len);
        free(srv->token);
    }
    pthread_mutex_destroy(&srv->lock);
    free(srv);
    grpc_shutdown();
}

void afd_grpc_server_streams(const struct afd_grpc_server *srv, size_t *open,
                             uint64_t *refused)
{
    *open = srv ? srv->n_streams : 0;
    *refused = srv ? srv->streams_refused : 0;
}

void afd_grpc_server_foreach(struct afd_grpc_server *srv, const char *path,
                             void (*fn)(struct afd_grpc_call *call, void *arg),
                             void *arg)
{
    struct afd_grpc_call *c, *next;

    AFD_ASSERT_OWNER(&srv->owner);
    for (c = srv->calls; c; c = next) {
        next = c->next;
        if (c->active && !c->over && c->method &&
            !strcmp(c->method->path, path))
            fn(c, arg);
    }
}
