/*
 * grpc_client.h - the project's gRPC CLIENT layer: every gRPC C core
 * client call lives in grpc_client.c (the server side is grpc_server.c).
 * Callers see protobuf-c messages and method paths only.
 *
 * Calls:
 *   afd_grpc_client_unary    one request, one reply, blocking
 *   afd_grpc_client_stream   client streaming: n requests, half-close,
 *                            one reply, blocking
 *   afd_grpc_reader_*        server streaming: one request, then a thread
 *                            of its own reads the replies into a bounded
 *                            queue; when the queue is full the thread waits
 *                            (HTTP/2 flow control then holds the server
 *                            back), so no message is dropped
 * Every blocking call has a deadline (timeout_ms, wall). A non-OK status
 * maps to a code (INVALID_ARGUMENT -> AFD_EINVAL, NOT_FOUND and
 * UNIMPLEMENTED -> AFD_ENOTFOUND, FAILED_PRECONDITION -> AFD_ESTATE,
 * anything else, deadlines included -> AFD_EIO) with a message
 * "<method>: <status name> (<code>): <details>".
 *
 * Ownership: afd_grpc_client_new (or _new_tls) creates the channel (and holds a
 * grpc_init reference), afd_grpc_client_free destroys it (NULL ok); free
 * every reader of a client before the client. Replies are unpacked with
 * the given descriptor and belong to the caller: free them with
 * protobuf_c_message_free_unpacked(msg, NULL).
 *
 * Threads: the unary and streaming calls may run from any thread, several
 * at once on one client. A reader is read (afd_grpc_reader_next) and freed
 * by one thread.
 */
#ifndef AFD_GRPC_CLIENT_H
#define AFD_GRPC_CLIENT_H

#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#define AFD_GRPC_MAX_READER_QUEUE 65536

struct afd_grpc_client;
struct afd_grpc_reader;

/*
 * An insecure channel to target ("HOST:PORT"). token: NULL or "" for none,
 * else every call carries "authorization: Bearer <token>". NULL + message
 * on failure.
 */
struct afd_grpc_client *afd_grpc_client_new(const char *target,
                                            const char *token, char *err);
/*
 * The same over TLS: the server's certificate is checked against ca_pem
 * (PEM text, required); cert_pem and key_pem (both or neither) present a
 * client certificate (mTLS). Tokens then travel encrypted.
 */
struct afd_grpc_client *afd_grpc_client_new_tls(const char *target,
                                                const char *token,
                                                const char *ca_pem,
                                                const char *cert_pem,
                                                const char *key_pem, char *err);
void afd_grpc_client_free(struct afd_grpc_client *c);

/*
 * Unary call of method ("/pkg.Service/Method"). On AFD_OK *resp holds the
 * unpacked reply. AFD_EIO and friends as above, AFD_EPARSE for a reply
 * that does not unpack, AFD_ENOMEM.
 */
int afd_grpc_client_unary(struct afd_grpc_client *c, const char *method,
                          const ProtobufCMessage *req,
                          const ProtobufCMessageDescriptor *resp_desc,
                          ProtobufCMessage **resp, int timeout_ms, char *err);

/* Client-streaming call: sends reqs[0..n-1] in order, half-closes, waits
 * for the reply. Same returns as the unary call. */
int afd_grpc_client_stream(struct afd_grpc_client *c, const char *method,
                           const ProtobufCMessage *const *reqs, size_t n,
                           const ProtobufCMessageDescriptor *resp_desc,
                           ProtobufCMessage **resp, int timeout_ms, char *err);

/*
 * Starts a server-streaming call with one request and a reader thread
 * keeping at most max_queue (1..AFD_GRPC_MAX_READER_QUEUE) unpacked
 * messages. NULL + message on failure.
 */
struct afd_grpc_reader *afd_grpc_reader_start(
    struct afd_grpc_client *c, const char *method, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *msg_desc, size_t max_queue, char *err);

/*
 * Takes the next message, waiting up to timeout_ms (0: do not wait).
 * AFD_OK with *msg (caller frees); AFD_EEMPTY when nothing came in time;
 * once the queue is empty and the stream has ended, the stream's status as
 * a code (AFD_EIO for an OK end too: the stream is over) with the message.
 */
int afd_grpc_reader_next(struct afd_grpc_reader *r, ProtobufCMessage **msg,
                         int timeout_ms, char *err);

/* Cancels the call if still open, joins the thread, frees queued
 * messages. NULL ok. */
void afd_grpc_reader_free(struct afd_grpc_reader *r);

#endif
