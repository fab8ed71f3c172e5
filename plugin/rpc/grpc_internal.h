/*
 * grpc_internal.h - private to the gRPC layer (grpc_server.c, grpc_call.c):
 * the call and server structs and the batch helpers. Nothing outside the
 * layer includes this; services use plugin/rpc/grpc_server.h.
 *
 * A call counts its outstanding batches in refs; every batch helper below
 * adds one on success and the completion (grpc_server.c) drops it.
 *
 * Handoff: the completion thread queues completions in two lists under
 * lock - "hi" (unary and server-stream calls: control, KEDA, watchers) and
 * "lo" (client-stream calls: telemetry) - and activates the wake event only
 * when the loop was not already signalled (wake_pending). The loop handles
 * every hi item per wake but lo items only within a time budget, then
 * resumes on a zero-delay timer, so timers and control calls never wait
 * behind a telemetry backlog. Order is kept within each list, and a call's
 * completions all go to one list, so each call sees them in order.
 *
 * Decoding: requests are unpacked into a per-server arena (a bounded bump
 * buffer, malloc above the bound) that is reset after the handler returns;
 * handlers must not keep pointers into a request (they never did: the
 * message was freed right after the handler before).
 */
#ifndef AFD_GRPC_INTERNAL_H
#define AFD_GRPC_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include <grpc/grpc.h>

#include "plugin/rpc/grpc_buf.h"
#include "plugin/rpc/grpc_server.h"
#include "plugin/sys/os.h"

enum tag_kind {
    TAG_NEW,      /* a requested call was matched (or shutdown) */
    TAG_RECV,     /* RECV_MESSAGE of a client stream */
    TAG_SEND,     /* SEND_MESSAGE of a server stream */
    TAG_STATUS,   /* the final batch carrying the status */
    TAG_CLOSE,    /* RECV_CLOSE_ON_SERVER: the call is over */
    TAG_SHUTDOWN, /* grpc_server_shutdown_and_notify */
};

/*
 * A tag lives inside its call (or the server, for TAG_SHUTDOWN) and has at
 * most one batch outstanding, so it is in the handoff at most once: the
 * handoff links the tags themselves and never allocates, and a completion
 * can never be lost to an allocation failure (shutdown waits for every
 * tag).
 */
struct afd_grpc_tag {
    enum tag_kind kind;
    struct afd_grpc_call *call; /* NULL for TAG_SHUTDOWN */
    struct afd_grpc_tag *next;  /* handoff link, guarded by srv->lock */
    int ok;                     /* the completion's success flag */
};

struct afd_grpc_call {
    struct afd_grpc_server *srv;
    size_t method_index;                  /* n_methods = unregistered */
    const struct afd_grpc_method *method; /* NULL = unregistered */
    grpc_call *call;
    gpr_timespec deadline;
    grpc_metadata_array md;
    grpc_call_details details; /* unregistered calls only */
    grpc_byte_buffer *payload; /* first message (unary, server stream) */
    grpc_byte_buffer *recv_bb;
    int cancelled;
    struct afd_grpc_tag t_new, t_recv, t_send, t_status, t_close;
    int refs;        /* outstanding batches */
    bool active;     /* matched to a client call */
    bool over;       /* RECV_CLOSE_ON_SERVER completed */
    bool counted;    /* a server stream counted in srv->n_streams */
    bool has_status; /* a status was requested (reply or finish) */
    bool status_started;
    bool md_sent;
    grpc_byte_buffer *sending; /* the one outstanding SEND_MESSAGE */
    grpc_byte_buffer **queue;  /* ring of max_stream_queue entries */
    size_t q_head, q_len;
    grpc_byte_buffer *reply_bb; /* unary reply, sent with the status */
    grpc_status_code status;
    grpc_slice status_details;
    void *data;
    void (*data_free)(void *data);
    struct afd_grpc_call *prev, *next;
};

/* A FIFO of completed tags, linked through the tags (no allocation). */
struct handoff_list {
    struct afd_grpc_tag *head, *tail;
};

/* Bump allocator for one decoded request at a time (loop thread only). */
struct afd_grpc_arena {
    unsigned char *buf; /* AFD_GRPC_ARENA_BYTES, allocated on first use */
    size_t used;
    struct arena_big *big; /* malloc'd blocks above the bound */
    const void *msg;       /* the message living in the arena */
    bool busy;             /* msg is alive */
};

struct afd_grpc_server {
    struct event_base *base;
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t thread;
    bool thread_started;
    struct event *wake;   /* activated by the completion thread */
    struct event *resume; /* zero-delay timer: the rest of a backlog */
    struct event *grace;
    pthread_mutex_t lock;   /* guards hi, lo and wake_pending only */
    struct afd_owner owner; /* the loop thread (that started the server) */
    struct handoff_list hi, lo;
    bool wake_pending; /* wake or resume will run on_wake */
    struct afd_grpc_arena arena;
    const struct afd_grpc_method *methods;
    size_t n_methods;
    void **handles;
    void *ctx;
    size_t max_queue;
    size_t max_streams;       /* 0 = no cap */
    size_t n_streams;         /* server streams counted open */
    uint64_t streams_refused; /* at the cap */
    char *token;              /* NULL = no token check; wiped at free */
    size_t token_len;
    afd_grpc_end_fn on_unauthenticated;
    struct afd_grpc_call *calls; /* every requested or live call */
    size_t n_calls;
    bool started;
    bool shutting_down;
    bool shutdown_tag_done;
    bool down;
    struct afd_grpc_tag shutdown_tag;
    void (*done)(void *arg);
    void *done_arg;
};

/*
 * Decodes bb (not consumed); NULL when it is not a valid message. With an
 * idle arena the message lives in it until afd_grpc_unpacked_done; else (or
 * with arena NULL) it is malloc'd and afd_grpc_unpacked_done frees it.
 */
ProtobufCMessage *afd_grpc_unpack(struct afd_grpc_arena *arena,
                                  const ProtobufCMessageDescriptor *desc,
                                  grpc_byte_buffer *bb);
/* Releases a message from afd_grpc_unpack (NULL allowed). */
void afd_grpc_unpacked_done(struct afd_grpc_arena *arena,
                            ProtobufCMessage *msg);
/* Frees the arena's memory (it must be idle). */
void afd_grpc_arena_release(struct afd_grpc_arena *arena);

/* Destroys every queued stream message. */
void afd_grpc_drop_queue(struct afd_grpc_call *c);
/* The final batch: initial metadata if not sent, reply if any, status. */
void afd_grpc_start_status(struct afd_grpc_call *c);
/* One SEND_MESSAGE of bb (taken: destroyed on completion or failure). */
void afd_grpc_start_send(struct afd_grpc_call *c, grpc_byte_buffer *bb);
void afd_grpc_start_recv(struct afd_grpc_call *c);
/* RECV_CLOSE_ON_SERVER; marks the call over if it cannot start. */
void afd_grpc_start_close(struct afd_grpc_call *c);
/*
 * The token check of a requires_token method: true when the server has no
 * token or the call carries the right one; else the call is finished with
 * UNAUTHENTICATED, on_unauthenticated runs and false is returned.
 */
bool afd_grpc_check_token(struct afd_grpc_call *c);

#endif
