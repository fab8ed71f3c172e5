/*
 * etcd.c - the etcd v3 calls of etcd.h over plugin/rpc's blocking client.
 */
#include "plugin/ha/etcd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/rpc/grpc_client.h"
#include "proto/etcd/etcdserverpb/rpc.pb-c.h"

struct afd_etcd {
    struct afd_grpc_client *rpc;
};

static ProtobufCBinaryData bin(const void *p, size_t len)
{
    ProtobufCBinaryData b;
    b.data = (uint8_t *)p; /* protobuf-c packs from it, never writes */
    b.len = len;
    return b;
}

static ProtobufCBinaryData str(const char *s)
{
    return bin(s, strlen(s));
}

static struct afd_etcd *new_client(const char *endpoint, const char *ca_pem,
                                   const char *cert_pem, const char *key_pem,
                                   char *err)
{
    struct afd_etcd *c;

    if (endpoint == NULL || endpoint[0] == '\0') {
        afd_err(err, AFD_EINVAL, "etcd endpoint is empty");
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        afd_err(err, AFD_ENOMEM, "etcd client: out of memory");
        return NULL;
    }
    c->rpc = ca_pem ? afd_grpc_client_new_tls(endpoint, NULL, ca_pem, cert_pem,
                                              key_pem, err)
                    : afd_grpc_client_new(endpoint, NULL, err);
    if (c->rpc == NULL) {
        free(c);
        return NULL;
    }
    return c;
}

struct afd_etcd *afd_etcd_new(const char *endpoint, char *err)
{
    return new_client(endpoint, NULL, NULL, NULL, err);
}

struct afd_etcd *afd_etcd_new_tls(const char *endpoint, const char *ca_pem,
                                  const char *cert_pem, const char *key_pem,
                                  char *err)
{
    if (ca_pem == NULL) {
        afd_err(err, AFD_EINVAL, "etcd TLS needs a CA certificate");
        return NULL;
    }
    return new_client(endpoint, ca_pem, cert_pem, key_pem, err);
}

void afd_etcd_free(struct afd_etcd *c)
{
    if (c == NULL)
        return;
    afd_grpc_client_free(c->rpc);
    free(c);
}

int afd_etcd_lease_grant(struct afd_etcd *c, int64_t ttl_s, int64_t *id,
                         int timeout_ms, char *err)
{
    Etcdserverpb__LeaseGrantRequest req =
        ETCDSERVERPB__LEASE_GRANT_REQUEST__INIT;
    Etcdserverpb__LeaseGrantResponse *resp = NULL;
    int rc;

    req.ttl = ttl_s;
    rc = afd_grpc_client_unary(c->rpc, "/etcdserverpb.Lease/LeaseGrant",
                               &req.base,
                               &etcdserverpb__lease_grant_response__descriptor,
                               (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc != AFD_OK)
        return rc;
    if (resp->error != NULL && resp->error[0] != '\0')
        rc = afd_err(err, AFD_EIO, "etcd lease grant: %s", resp->error);
    else if (resp->id == 0)
        rc = afd_err(err, AFD_EIO, "etcd lease grant: no lease id in reply");
    else
        *id = resp->id;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

int afd_etcd_lease_keepalive(struct afd_etcd *c, int64_t id,
                             int64_t *ttl_left_s, int timeout_ms, char *err)
{
    Etcdserverpb__LeaseKeepAliveRequest req =
        ETCDSERVERPB__LEASE_KEEP_ALIVE_REQUEST__INIT;
    const ProtobufCMessage *reqs[1];
    Etcdserverpb__LeaseKeepAliveResponse *resp = NULL;
    int rc;

    /* etcd's stream answers each request before it reads the half-close,
     * so one request + half-close gets exactly one reply. */
    req.id = id;
    reqs[0] = &req.base;
    rc = afd_grpc_client_stream(
        c->rpc, "/etcdserverpb.Lease/LeaseKeepAlive", reqs, 1,
        &etcdserverpb__lease_keep_alive_response__descriptor,
        (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc != AFD_OK)
        return rc;
    *ttl_left_s = resp->ttl;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return AFD_OK;
}

int afd_etcd_lease_revoke(struct afd_etcd *c, int64_t id, int timeout_ms,
                          char *err)
{
    Etcdserverpb__LeaseRevokeRequest req =
        ETCDSERVERPB__LEASE_REVOKE_REQUEST__INIT;
    Etcdserverpb__LeaseRevokeResponse *resp = NULL;
    int rc;

    req.id = id;
    rc = afd_grpc_client_unary(c->rpc, "/etcdserverpb.Lease/LeaseRevoke",
                               &req.base,
                               &etcdserverpb__lease_revoke_response__descriptor,
                               (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc == AFD_OK)
        protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

/* Copies a value into a NUL-terminated buffer, or fails naming the key. */
static int copy_value(const ProtobufCBinaryData *v, void *buf, size_t cap,
                      size_t *len, bool nul, const char *key, char *err)
{
    size_t need = v->len + (nul ? 1 : 0);

    if (len != NULL)
        *len = v->len;
    if (buf == NULL)
        return AFD_OK;
    if (need > cap)
        return afd_err(err, AFD_ENOMEM,
                       "etcd key '%s': value of %zu bytes exceeds %zu", key,
                       v->len, cap);
    if (v->len > 0)
        memcpy(buf, v->data, v->len);
    if (nul)
        ((char *)buf)[v->len] = '\0';
    return AFD_OK;
}

int afd_etcd_campaign(struct afd_etcd *c, const char *key, const char *value,
                      int64_t lease, bool *won, int64_t *create_rev,
                      char *holder, size_t cap, int timeout_ms, char *err)
{
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    Etcdserverpb__Compare *cmps[1] = {&cmp};
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    Etcdserverpb__RangeRequest get = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp op_get = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp *succ[2] = {&op_put, &op_get};
    Etcdserverpb__RequestOp *fail[1] = {&op_get};
    Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
    Etcdserverpb__TxnResponse *resp = NULL;
    Etcdserverpb__RangeResponse *rr = NULL;
    size_t i;
    int rc;

    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    cmp.key = str(key);
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
    cmp.create_revision = 0; /* absent */
    put.key = str(key);
    put.value = str(value);
    put.lease = lease;
    op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op_put.request_put = &put;
    /* Both branches read the key back: its create_revision is the epoch. */
    get.key = str(key);
    op_get.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_RANGE;
    op_get.request_range = &get;
    txn.n_compare = 1;
    txn.compare = cmps;
    txn.n_success = 2;
    txn.success = succ;
    txn.n_failure = 1;
    txn.failure = fail;
    rc = afd_grpc_client_unary(c->rpc, "/etcdserverpb.KV/Txn", &txn.base,
                               &etcdserverpb__txn_response__descriptor,
                               (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc != AFD_OK)
        return rc;
    for (i = 0; i < resp->n_responses; i++)
        if (resp->responses[i]->response_case ==
            ETCDSERVERPB__RESPONSE_OP__RESPONSE_RESPONSE_RANGE)
            rr = resp->responses[i]->response_range;
    if (rr == NULL || rr->n_kvs != 1) {
        /* The holder's lease ended between compare and read: no leader. */
        *won = false;
        *create_rev = 0;
        if (holder != NULL && cap > 0)
            holder[0] = '\0';
    } else {
        *won = resp->succeeded;
        *create_rev = rr->kvs[0]->create_revision;
        rc = copy_value(&rr->kvs[0]->value, holder, cap, NULL, true, key, err);
    }
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}

int afd_etcd_put_fenced(struct afd_etcd *c, const char *leader_key,
                        int64_t epoch, const char *key, const void *value,
                        size_t len, bool *applied, int timeout_ms, char *err)
{
    Etcdserverpb__Compare cmp = ETCDSERVERPB__COMPARE__INIT;
    Etcdserverpb__Compare *cmps[1] = {&cmp};
    Etcdserverpb__PutRequest put = ETCDSERVERPB__PUT_REQUEST__INIT;
    Etcdserverpb__RequestOp op_put = ETCDSERVERPB__REQUEST_OP__INIT;
    Etcdserverpb__RequestOp *succ[1] = {&op_put};
    Etcdserverpb__TxnRequest txn = ETCDSERVERPB__TXN_REQUEST__INIT;
    Etcdserverpb__TxnResponse *resp = NULL;
    int rc;

    cmp.result = ETCDSERVERPB__COMPARE__COMPARE_RESULT__EQUAL;
    cmp.target = ETCDSERVERPB__COMPARE__COMPARE_TARGET__CREATE;
    cmp.key = str(leader_key);
    cmp.target_union_case = ETCDSERVERPB__COMPARE__TARGET_UNION_CREATE_REVISION;
    cmp.create_revision = epoch;
    put.key = str(key);
    put.value = bin(value, len);
    op_put.request_case = ETCDSERVERPB__REQUEST_OP__REQUEST_REQUEST_PUT;
    op_put.request_put = &put;
    txn.n_compare = 1;
    txn.compare = cmps;
    txn.n_success = 1;
    txn.success = succ;
    rc = afd_grpc_client_unary(c->rpc, "/etcdserverpb.KV/Txn", &txn.base,
                               &etcdserverpb__txn_response__descriptor,
                               (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc != AFD_OK)
        return rc;
    *applied = resp->succeeded;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return AFD_OK;
}

int afd_etcd_get(struct afd_etcd *c, const char *key, void *buf, size_t cap,
                 size_t *len, bool *found, int64_t *create_rev, int timeout_ms,
                 char *err)
{
    Etcdserverpb__RangeRequest req = ETCDSERVERPB__RANGE_REQUEST__INIT;
    Etcdserverpb__RangeResponse *resp = NULL;
    int rc;

    req.key = str(key);
    rc = afd_grpc_client_unary(c->rpc, "/etcdserverpb.KV/Range", &req.base,
                               &etcdserverpb__range_response__descriptor,
                               (ProtobufCMessage **)&resp, timeout_ms, err);
    if (rc != AFD_OK)
        return rc;
    if (found != NULL)
        *found = resp->n_kvs == 1;
    if (create_rev != NULL)
        *create_rev = resp->n_kvs == 1 ? resp->kvs[0]->create_revision : 0;
    if (resp->n_kvs == 1)
        rc = copy_value(&resp->kvs[0]->value, buf, cap, len, false, key, err);
    else if (len != NULL)
        *len = 0;
    protobuf_c_message_free_unpacked(&resp->base, NULL);
    return rc;
}
