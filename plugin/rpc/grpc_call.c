/*
 * grpc_call.c - the per-call side of the gRPC layer: op batches, the
 * server-stream write queue and the handler reply functions of
 * plugin/rpc/grpc_server.h. Runs on the loop thread only.
 */
#include <assert.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_internal.h"

#define STATUS_MSG_LEN 512

/* ------------------------------------------------------- byte buffers */

grpc_byte_buffer *afd_grpc_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

/*
 * The decode arena (grpc_internal.h). A 1000-sample TelemetryBatch decodes
 * to about 150 KB of structs and strings; one malloc per field and a
 * free_unpacked walk per message cost about a third of the daemon's CPU at
 * a million samples a second, a pointer bump costs nothing. Blocks beyond
 * the bound come from malloc, listed so that a reset frees them.
 */
#define ARENA_BYTES (1u << 20)
#define ARENA_ALIGN 16u

struct arena_big {
    struct arena_big *prev, *next;
    /* the block follows, ARENA_ALIGN-aligned by malloc */
    max_align_t data[];
};

static void *arena_alloc(void *data, size_t size)
{
    struct afd_grpc_arena *a = data;
    size_t n = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct arena_big *b;

    if (n >= size && a->buf && n <= ARENA_BYTES - a->used) {
        void *p = a->buf + a->used;
        a->used += n;
        return p;
    }
    if (size > SIZE_MAX - sizeof(*b))
        return NULL;
    b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->prev = NULL;
    b->next = a->big;
    if (a->big)
        a->big->prev = b;
    a->big = b;
    return b->data;
}

/* protobuf-c frees scratch slabs and, on a decode error, the partial
 * message: arena blocks wait for the reset, big blocks go now. */
static void arena_free(void *data, void *p)
{
    struct afd_grpc_arena *a = data;
    struct arena_big *b;

    if (!p || (a->buf && (unsigned char *)p >= a->buf &&
               (unsigned char *)p < a->buf + ARENA_BYTES))
        return;
    b = (struct arena_big *)((unsigned char *)p -
                             offsetof(struct arena_big, data));
    if (b->prev)
        b->prev->next = b->next;
    else
        a->big = b->next;
    if (b->next)
        b->next->prev = b->prev;
    free(b);
}

static void arena_reset(struct afd_grpc_arena *a)
{
    struct arena_big *b, *next;

    for (b = a->big; b; b = next) {
        next = b->next;
        free(b);
    }
    a->big = NULL;
    a->used = 0;
    a->msg = NULL;
    a->busy = false;
}

void afd_grpc_arena_release(struct afd_grpc_arena *a)
{
    assert(!a->busy);
    arena_reset(a);
    free(a->buf);
    a->buf = NULL;
}

ProtobufCMessage *afd_grpc_unpack(struct afd_grpc_arena *arena,
                                  const ProtobufCMessageDescriptor *desc,
                                  grpc_byte_buffer *bb)
{
    ProtobufCAllocator alloc = {arena_alloc, arena_free, arena};
    grpc_byte_buffer_reader reader;
    ProtobufCMessage *msg;
    grpc_slice s;

    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return NULL;
    s = grpc_byte_buffer_reader_readall(&reader);
    /* A busy arena (a handler decoding inside a handler) falls back. */
    if (arena && !arena->busy && !arena->buf)
        arena->buf = malloc(ARENA_BYTES);
    if (arena && !arena->busy && arena->buf) {
        msg = protobuf_c_message_unpack(desc, &alloc, GRPC_SLICE_LENGTH(s),
                                        GRPC_SLICE_START_PTR(s));
        if (msg) {
            arena->busy = true;
            arena->msg = msg;
        } else {
            arena_reset(arena);
        }
    } else {
        msg = protobuf_c_message_unpack(desc, NULL, GRPC_SLICE_LENGTH(s),
                                        GRPC_SLICE_START_PTR(s));
    }
    grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&reader);
    return msg;
}

void afd_grpc_unpacked_done(struct afd_grpc_arena *arena, ProtobufCMessage *msg)
{
    if (!msg)
        return;
    if (arena && arena->busy && arena->msg == msg)
        arena_reset(arena);
    else
        protobuf_c_message_free_unpacked(msg, NULL);
}

/* ------------------------------------------------------------ batches */

static bool start_batch(struct afd_grpc_call *c, const grpc_op *ops, size_t n,
                        struct afd_grpc_tag *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);

    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "afd-sizer: grpc: start_batch failed (%d)\n", e);
        return false;
    }
    c->refs++;
    return true;
}

void afd_grpc_drop_queue(struct afd_grpc_call *c)
{
    size_t cap = c->srv->max_queue;

    while (c->q_len) {
        grpc_byte_buffer_destroy(c->queue[c->q_head]);
        c->q_head = (c->q_head + 1) % cap;
        c->q_len--;
    }
}

void afd_grpc_start_status(struct afd_grpc_call *c)
{
    grpc_op ops[3];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    c->status_started = true;
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = 0;
        n++;
        c->md_sent = true;
    }
    if (c->reply_bb) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n].data.send_message.send_message = c->reply_bb;
        n++;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.trailing_metadata_count = 0;
    ops[n].data.send_status_from_server.status = c->status;
    ops[n].data.send_status_from_server.status_details = &c->status_details;
    n++;
    start_batch(c, ops, n, &c->t_status);
}

void afd_grpc_start_send(struct afd_grpc_call *c, grpc_byte_buffer *bb)
{
    grpc_op ops[2];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    if (!c->md_sent) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        n++;
        c->md_sent = true;
    }
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = bb;
    n++;
    c->sending = bb;
    if (!start_batch(c, ops, n, &c->t_send)) {
        c->sending = NULL;
        grpc_byte_buffer_destroy(bb);
    }
}

void afd_grpc_start_recv(struct afd_grpc_call *c)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_MESSAGE;
    op.data.recv_message.recv_message = &c->recv_bb;
    start_batch(c, &op, 1, &c->t_recv);
}

void afd_grpc_start_close(struct afd_grpc_call *c)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
    op.data.recv_close_on_server.cancelled = &c->cancelled;
    if (!start_batch(c, &op, 1, &c->t_close))
        c->over = true;
}

/* ---------------------------------------------------- handler replies */

int afd_grpc_reply(struct afd_grpc_call *call, const ProtobufCMessage *resp)
{
    AFD_ASSERT_OWNER(&call->srv->owner);
    if (call->over || call->has_status)
        return AFD_ESTATE;
    call->has_status = true;
    call->status = GRPC_STATUS_OK;
    call->reply_bb = afd_grpc_pack(resp);
    afd_grpc_start_status(call);
    return AFD_OK;
}

int afd_grpc_send(struct afd_grpc_call *call, const ProtobufCMessage *msg)
{
    size_t cap = call->srv->max_queue;

    AFD_ASSERT_OWNER(&call->srv->owner);
    if (call->over || call->has_status || !call->queue)
        return AFD_ESTATE;
    if (!call->sending) {
        afd_grpc_start_send(call, afd_grpc_pack(msg));
        return AFD_OK;
    }
    if (call->q_len == cap) {
        /* Drop the backlog so the status is not stuck behind it. */
        afd_grpc_drop_queue(call);
        afd_grpc_finish(call, AFD_GRPC_RESOURCE_EXHAUSTED,
                        "stream client too slow: %zu messages queued", cap);
        return AFD_ENOMEM;
    }
    call->queue[(call->q_head + call->q_len) % cap] = afd_grpc_pack(msg);
    call->q_len++;
    return AFD_OK;
}

int afd_grpc_finish(struct afd_grpc_call *call, enum afd_grpc_status status,
                    const char *fmt, ...)
{
    char msg[STATUS_MSG_LEN];
    va_list ap;

    AFD_ASSERT_OWNER(&call->srv->owner);
    if (call->over || call->has_status)
        return AFD_ESTATE;
    msg[0] = '\0';
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    call->has_status = true;
    call->status = (grpc_status_code)status;
    grpc_slice_unref(call->status_details);
    call->status_details = grpc_slice_from_copied_string(msg);
    if (!call->sending && !call->q_len)
        afd_grpc_start_status(call);
    return AFD_OK;
}

const char *afd_grpc_call_metadata(const struct afd_grpc_call *call,
                                   const char *key, size_t *len)
{
    size_t i, klen = strlen(key);

    for (i = 0; i < call->md.count; i++) {
        const grpc_metadata *m = &call->md.metadata[i];
        if (GRPC_SLICE_LENGTH(m->key) == klen &&
            !memcmp(GRPC_SLICE_START_PTR(m->key), key, klen)) {
            *len = GRPC_SLICE_LENGTH(m->value);
            return (const char *)GRPC_SLICE_START_PTR(m->value);
        }
    }
    *len = 0;
    return NULL;
}

/*
 * Compares in time that depends on the expected length only, never on
 * where the bytes differ, so the token cannot be guessed byte by byte.
 */
static bool same_secret(const char *want, size_t want_len, const char *got,
                        size_t got_len)
{
    volatile unsigned char diff = want_len != got_len;
    size_t i;

    for (i = 0; i < want_len; i++)
        diff |= (unsigned char)want[i] ^
                (unsigned char)(got_len ? got[i % got_len] : 0);
    return diff == 0;
}

static bool is_bearer(const char *v, size_t len)
{
    static const char scheme[] = "bearer ";
    size_t i;

    if (len < sizeof(scheme) - 1)
        return false;
    for (i = 0; i < sizeof(scheme) - 1; i++)
        if ((v[i] | 0x20) != scheme[i])
            return false;
    return true;
}

bool afd_grpc_check_token(struct afd_grpc_call *c)
{
    struct afd_grpc_server *srv = c->srv;
    const char *v;
    size_t len;

    if (!srv->token || !c->method || !c->method->requires_token)
        return true;
    v = afd_grpc_call_metadata(c, "authorization", &len);
    if (v && is_bearer(v, len)) {
        v += 7;
        len -= 7;
        while (len && *v == ' ') {
            v++;
            len--;
        }
        if (same_secret(srv->token, srv->token_len, v, len))
            return true;
        afd_grpc_finish(c, AFD_GRPC_UNAUTHENTICATED,
                        "%s: the bearer token is not valid", c->method->path);
    } else {
        afd_grpc_finish(c, AFD_GRPC_UNAUTHENTICATED,
                        "%s needs metadata 'authorization: Bearer <token>' "
                        "(%s)",
                        c->method->path,
                        v ? "the value is not a Bearer token"
                          : "no authorization metadata");
    }
    if (srv->on_unauthenticated)
        srv->on_unauthenticated(c, srv->ctx);
    return false;
}

const char *afd_grpc_call_path(const struct afd_grpc_call *call)
{
    return call->method ? call->method->path : "(unregistered)";
}

void afd_grpc_call_set_data(struct afd_grpc_call *call, void *data,
                            void (*free_fn)(void *data))
{
    if (call->data_free)
        call->data_free(call->data);
    call->data = data;
    call->data_free = free_fn;
}

void *afd_grpc_call_data(const struct afd_grpc_call *call)
{
    return call->data;
}
