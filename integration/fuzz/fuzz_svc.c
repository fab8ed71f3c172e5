/* fuzz_svc.c - see fuzz_svc.h. */
#include "integration/fuzz/fuzz_svc.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"

#define MAX_METHODS 64
#define T0_MS       1700000000000LL /* fixed daemon clock: reproducible */

/* The stand-in call: what grpc_call.c keeps that the handlers can see. */
struct afd_grpc_call {
    const struct afd_grpc_method *m;
    void *data;
    void (*free_fn)(void *data);
    bool has_status;
    int status;
};

static struct afd_grpc_call *g_live; /* the one call in progress */
static int64_t g_now = T0_MS;

/* Packing checks that what a handler built is a well-formed message. */
static void pack_check(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    uint8_t *buf = malloc(n ? n : 1);

    if (!buf)
        return;
    if (protobuf_c_message_pack(msg, buf) != n)
        abort(); /* a handler built an inconsistent message: a finding */
    free(buf);
}

int afd_grpc_reply(struct afd_grpc_call *call, const ProtobufCMessage *resp)
{
    if (call->has_status)
        return AFD_ESTATE;
    pack_check(resp);
    call->has_status = true;
    call->status = AFD_GRPC_OK;
    return AFD_OK;
}

int afd_grpc_send(struct afd_grpc_call *call, const ProtobufCMessage *msg)
{
    if (call->has_status)
        return AFD_ESTATE;
    pack_check(msg);
    return AFD_OK;
}

int afd_grpc_finish(struct afd_grpc_call *call, enum afd_grpc_status status,
                    const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    if (call->has_status)
        return AFD_ESTATE;
    if (fmt) {
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
    }
    call->has_status = true;
    call->status = (int)status;
    return AFD_OK;
}

const char *afd_grpc_call_metadata(const struct afd_grpc_call *call,
                                   const char *key, size_t *len)
{
    (void)call;
    (void)key;
    *len = 0;
    return NULL;
}

const char *afd_grpc_call_path(const struct afd_grpc_call *call)
{
    return call->m->path;
}

void afd_grpc_call_set_data(struct afd_grpc_call *call, void *data,
                            void (*free_fn)(void *data))
{
    if (call->data && call->free_fn)
        call->free_fn(call->data);
    call->data = data;
    call->free_fn = free_fn;
}

void *afd_grpc_call_data(const struct afd_grpc_call *call)
{
    return call->data;
}

void afd_grpc_server_foreach(struct afd_grpc_server *srv, const char *path,
                             void (*fn)(struct afd_grpc_call *call, void *arg),
                             void *arg)
{
    (void)srv;
    if (g_live && !g_live->has_status && !strcmp(g_live->m->path, path))
        fn(g_live, arg);
}

static int64_t fuzz_now(void)
{
    return g_now;
}

static void call_end(struct afd_grpc_call *c, void *ctx)
{
    if (c->m->kind == AFD_GRPC_CLIENT_STREAM && !c->has_status && c->m->on_end)
        c->m->on_end(c, ctx);
    if (c->m->on_done)
        c->m->on_done(c, false, ctx);
    afd_grpc_call_set_data(c, NULL, NULL);
    g_live = NULL;
}

/* One message for call c; the server's unpack, then the handler. */
static void call_message(struct afd_grpc_call *c, const uint8_t *p, size_t len,
                         void *ctx)
{
    ProtobufCMessage *msg =
        protobuf_c_message_unpack(c->m->request, NULL, len, p);

    if (c->m->kind == AFD_GRPC_CLIENT_STREAM) {
        c->m->on_message(c, msg, ctx);
    } else if (!msg) {
        afd_grpc_finish(c, AFD_GRPC_INVALID_ARGUMENT, "not valid");
    } else {
        c->m->on_request(c, msg, ctx);
    }
    if (msg)
        protobuf_c_message_free_unpacked(msg, NULL);
}

void afd_fuzz_svc_run(const afd_fuzz_methods_fn *fns, const uint8_t *data,
                      size_t size)
{
    const struct afd_grpc_method *methods[MAX_METHODS];
    size_t n_methods = 0, n, i, pos = 0;
    struct afd_config cfg;
    struct afd_svc_env env;
    struct afd_grpc_call call;
    char err[AFD_ERR_LEN];

    for (; *fns; fns++) {
        const struct afd_grpc_method *t = (*fns)(&n);

        for (i = 0; i < n && n_methods < MAX_METHODS; i++)
            methods[n_methods++] = &t[i];
    }
    afd_config_default(&cfg);
    memset(&env, 0, sizeof(env));
    env.cfg = &cfg;
    env.now_ms = fuzz_now;
    env.reg = afd_registry_new(&cfg, err);
    env.ctl = env.reg ? afd_control_new(&cfg, env.reg, err) : NULL;
    if (!env.ctl)
        goto out;
    memset(&call, 0, sizeof(call));
    g_now = T0_MS;
    while (size - pos >= 3) {
        uint8_t sel = data[pos];
        size_t len = (size_t)data[pos + 1] | (size_t)data[pos + 2] << 8;
        const struct afd_grpc_method *m = methods[(sel & 0x7f) % n_methods];

        pos += 3;
        if (len > size - pos)
            len = size - pos;
        if (g_live && (g_live->m != m || (sel & 0x80) ||
                       m->kind != AFD_GRPC_CLIENT_STREAM || call.has_status))
            call_end(&call, &env);
        if (!g_live) {
            memset(&call, 0, sizeof(call));
            call.m = m;
            g_live = &call;
        }
        call_message(&call, data + pos, len, &env);
        pos += len;
        /* Let time pass between calls so evaluations and expiry run. */
        g_now += 1000;
        afd_control_tick(env.ctl, g_now);
        if (m->kind == AFD_GRPC_UNARY)
            call_end(&call, &env);
    }
    if (g_live)
        call_end(&call, &env);
out:
    afd_control_free(env.ctl);
    afd_registry_free(env.reg);
    afd_config_release(&cfg);
}
