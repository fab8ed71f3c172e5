/*
 * grpc_server.h - the SERVER side of the gRPC layer (plugin/rpc/).
 *
 * The C core API changes between versions, so the daemon's grpc_* calls
 * live in this floor: grpc_server.c (server, thread, dispatch) and
 * grpc_call.c (op batches, replies), sharing the private grpc_internal.h;
 * the client side is grpc_client.h. Services see only this header and
 * decoded protobuf-c messages. (The load generator, a test peer in
 * integration/, drives the C core client API itself.)
 *
 * Model: a method table (path, kind, request descriptor, handlers). One
 * thread blocks on grpc_completion_queue_next and hands every completion to
 * the libevent loop (mutex-protected queue + event_active); every handler
 * and every function below runs on the loop thread, so handlers may touch
 * loop-owned state (the registry) freely. The caller must have called
 * evthread_use_pthreads() before creating the event_base.
 *
 * Calls: a struct afd_grpc_call is owned by this layer. A handler may keep
 * the pointer until the method's on_done runs for it (exactly once per
 * matched call, whether or not a handler saw it); after on_done it is
 * invalid. Each call
 * ends in exactly one status: afd_grpc_reply (unary / client stream) or
 * afd_grpc_finish. A message that does not decode gets INVALID_ARGUMENT
 * from the layer (unary, server stream) or on_message(NULL) (client
 * stream). A message above max_message_bytes is refused by gRPC itself
 * with RESOURCE_EXHAUSTED. Unknown methods get UNIMPLEMENTED. One client
 * connection may hold at most 256 calls open at once.
 *
 * Server-stream write queue: one SEND_MESSAGE outstanding per call, the
 * rest queued up to max_stream_queue messages. When the queue is full the
 * layer ends the stream with RESOURCE_EXHAUSTED ("stream client too slow")
 * rather than dropping messages silently: a watcher that falls behind
 * reconnects and gets a fresh initial message.
 *
 * Security: with tls_cert_pem/tls_key_pem set the port serves TLS only (a
 * plaintext client fails its handshake and sees UNAVAILABLE); with
 * tls_client_ca_pem too, clients must present a certificate signed by that
 * CA (mTLS), verified during the handshake. With a token set, methods
 * marked requires_token are refused before their handler runs unless the
 * request metadata holds "authorization: Bearer <token>" (the scheme is
 * matched case-insensitively, the token exactly, in time independent of
 * where it differs): UNAUTHENTICATED with a message saying what was
 * missing, and on_unauthenticated is called (to count it). Methods not so
 * marked never look at the token.
 *
 * Shutdown (afd_grpc_server_shutdown): stop accepting new calls, end
 * every server stream with UNAVAILABLE, let unary calls and client streams
 * finish for grace_ms, then cancel what is left; done() runs on the loop
 * once no call remains. afd_grpc_server_free then destroys the server and
 * the queue, joins the thread and shuts gRPC down.
 */
#ifndef AFD_GRPC_SERVER_H
#define AFD_GRPC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <protobuf-c/protobuf-c.h>

/* gRPC status codes (the numbers are the wire values). */
enum afd_grpc_status {
    AFD_GRPC_OK = 0,
    AFD_GRPC_CANCELLED = 1,
    AFD_GRPC_UNKNOWN = 2,
    AFD_GRPC_INVALID_ARGUMENT = 3,
    AFD_GRPC_DEADLINE_EXCEEDED = 4,
    AFD_GRPC_NOT_FOUND = 5,
    AFD_GRPC_FAILED_PRECONDITION = 9,
    AFD_GRPC_RESOURCE_EXHAUSTED = 8,
    AFD_GRPC_UNIMPLEMENTED = 12,
    AFD_GRPC_INTERNAL = 13,
    AFD_GRPC_UNAVAILABLE = 14,
    AFD_GRPC_UNAUTHENTICATED = 16,
};

enum afd_grpc_kind {
    AFD_GRPC_UNARY = 0,         /* one request, one response */
    AFD_GRPC_SERVER_STREAM = 1, /* one request, a stream of responses */
    AFD_GRPC_CLIENT_STREAM = 2, /* a stream of requests, one response */
};

struct afd_grpc_call;

typedef void (*afd_grpc_request_fn)(struct afd_grpc_call *call,
                                    const ProtobufCMessage *req, void *ctx);
typedef void (*afd_grpc_end_fn)(struct afd_grpc_call *call, void *ctx);
typedef void (*afd_grpc_done_fn)(struct afd_grpc_call *call, bool cancelled,
                                 void *ctx);

/*
 * One RPC method. Messages passed to handlers are owned by the layer and
 * freed when the handler returns.
 */
struct afd_grpc_method {
    const char *path; /* "/package.Service/Method" */
    enum afd_grpc_kind kind;
    const ProtobufCMessageDescriptor *request;
    /* unary and server stream: the decoded request */
    afd_grpc_request_fn on_request;
    /* client stream: each message; req is NULL when it did not decode */
    afd_grpc_request_fn on_message;
    /* client stream: the client half-closed; the handler replies */
    afd_grpc_end_fn on_end;
    /* optional: the call is over (status sent, or client gone/cancelled) */
    afd_grpc_done_fn on_done;
    /* mutating method: needs the bearer token when the server has one */
    bool requires_token;
};

struct afd_grpc_server_config {
    const char *listen;       /* "HOST:PORT"; port 0 picks a free one */
    size_t max_message_bytes; /* receive limit per message, > 0 */
    size_t max_stream_queue;  /* queued messages per server stream, > 0 */
    /* open server-streaming calls over all clients; past it a new one ends
     * at once with RESOURCE_EXHAUSTED (0 = no cap) */
    size_t max_streams;
    /* PEM strings (copied at start); NULL cert and key = plaintext */
    const char *tls_cert_pem;
    const char *tls_key_pem;
    const char *tls_client_ca_pem; /* NULL = no client certificates */
    /* bearer token (copied, wiped at free); NULL = no token check */
    const char *token;
    size_t token_len;
    /* optional: a call was refused for lack of the token (on the loop) */
    afd_grpc_end_fn on_unauthenticated;
};

struct afd_grpc_server;

/*
 * Initialises gRPC, binds cfg->listen and starts serving methods (the
 * table must outlive the server) with ctx passed to every handler.
 * bound_out (AFD_ADDR_LEN bytes, may be NULL) receives "HOST:PORT" with
 * the port actually bound. NULL on failure with the reason in err.
 */
struct afd_grpc_server *
afd_grpc_server_start(struct event_base *base,
                      const struct afd_grpc_server_config *cfg,
                      const struct afd_grpc_method *methods, size_t n_methods,
                      void *ctx, char *bound_out, char *err);

/*
 * Checks that gRPC accepts this TLS material (NUL-terminated PEM; cert and
 * key required, client CA may be NULL) by adding it to a throw-away,
 * never-started server on an ephemeral loopback port, so a bad pair is a
 * configuration error at start rather than a bind failure. AFD_EINVAL with
 * the reason in err.
 */
int afd_grpc_tls_check(const char *cert_pem, const char *key_pem,
                       const char *client_ca_pem, char *err);

/*
 * Starts the shutdown described above; done(arg) runs on the loop once no
 * call is left (possibly before this returns). Calling it twice only
 * shortens the grace period to 0.
 */
void afd_grpc_server_shutdown(struct afd_grpc_server *srv, int grace_ms,
                              void (*done)(void *arg), void *arg);
/* True once the shutdown's done() has run. */
bool afd_grpc_server_is_down(const struct afd_grpc_server *srv);

/*
 * Frees everything (NULL ok). If the shutdown has not completed it is
 * forced: remaining calls are cancelled and the loop is run until they are
 * gone. Must run on the loop thread while the base is still alive.
 */
void afd_grpc_server_free(struct afd_grpc_server *srv);

/* Server streams open now and refused at the max_streams cap so far. */
void afd_grpc_server_streams(const struct afd_grpc_server *srv, size_t *open,
                             uint64_t *refused);

/* Calls to fn for every live call of method path (for stream watchers). */
void afd_grpc_server_foreach(struct afd_grpc_server *srv, const char *path,
                             void (*fn)(struct afd_grpc_call *call, void *arg),
                             void *arg);

/*
 * Unary and client-stream methods: sends resp and status OK. AFD_ESTATE
 * when the call already has a status or is over (the reply is dropped).
 */
int afd_grpc_reply(struct afd_grpc_call *call, const ProtobufCMessage *resp);

/*
 * Server streams: queues msg. AFD_ESTATE when the call is over or
 * finishing; AFD_ENOMEM when the queue was full - the stream is then ended
 * with RESOURCE_EXHAUSTED.
 */
int afd_grpc_send(struct afd_grpc_call *call, const ProtobufCMessage *msg);

/*
 * Ends the call with status (after any queued stream messages) and a
 * printf-style message (may be NULL for none). AFD_ESTATE if it already
 * had a status.
 */
int afd_grpc_finish(struct afd_grpc_call *call, enum afd_grpc_status status,
                    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * The first value of request metadata key (lower case, e.g.
 * "authorization"), not NUL-terminated: length in *len. NULL when absent.
 * Valid until the call is over.
 */
const char *afd_grpc_call_metadata(const struct afd_grpc_call *call,
                                   const char *key, size_t *len);

/* The method path of the call. */
const char *afd_grpc_call_path(const struct afd_grpc_call *call);

/*
 * Per-call handler data. free_fn (may be NULL) runs on data when the call
 * is freed (after on_done). Setting again frees the previous data.
 */
void afd_grpc_call_set_data(struct afd_grpc_call *call, void *data,
                            void (*free_fn)(void *data));
void *afd_grpc_call_data(const struct afd_grpc_call *call);

#endif
