/*
 * loadgen_stream.c - afd-loadgen's load (see integration/loadgen.h): the
 * client-streaming Telemetry/Report calls, on the gRPC C core client API,
 * sending the pre-packed TelemetryBatch pools of integration/loadgen_pool.c
 * (the population and the message values).
 *
 * The population is cut into --connections contiguous ranges; each
 * connection is one channel (its own TCP connection: local subchannel pool)
 * carrying one Report call. Calls are spread over --threads workers, one
 * completion queue each.
 *
 * Each connection pre-packs a pool of messages covering its range twice
 * (fixed-seed RNG, values drawn from the paper-v1-fit profile and an
 * Azure-conv-like workload) and cycles through it, one SEND_MESSAGE
 * outstanding per call, as fast as HTTP/2 flow control allows.
 * Pre-packing keeps the generator's CPU use small: daemon and generator
 * share the machine, and real senders would not. A message is re-packed
 * only when it is older than LG_REFRESH_S, so timestamps and step counters
 * keep pace with the clock (the daemon's telemetry clock needs that). When
 * the duration has elapsed each call half-closes and its ReportSummary
 * gives the accepted counts.
 *
 * Threads: a worker owns its connections while it runs; the calling thread
 * builds everything before and reads everything after.
 */
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "estimator/base/error.h"
#include "integration/loadgen.h"
#include "proto/afd_sizer.pb-c.h"

/* s after the duration until calls are cancelled; s more until we give up */
#define LG_CALL_GRACE_S  60
#define LG_CANCEL_WAIT_S 30
/* s: a pooled message older than this is rebuilt */
#define LG_REFRESH_S     0.5
#define LG_REPORT_METHOD "/afd.sizer.v1.Telemetry/Report"

enum lg_tag_kind { LG_TAG_SEND, LG_TAG_CLOSE, LG_TAG_RESULT };

struct lg_conn;
struct lg_tag {
    enum lg_tag_kind kind;
    struct lg_conn *conn;
};

struct lg_conn {
    grpc_channel *channel;
    grpc_call *call;
    struct afd_lg_pool pool;
    size_t next;          /* pool index of the next message */
    size_t inflight;      /* pool index of the outstanding message */
    grpc_byte_buffer *bb; /* the outstanding message (a copy) */
    int outstanding;      /* batches started, not yet completed */
    bool closing;
    struct lg_tag t_send, t_close, t_result;
    grpc_metadata auth; /* "authorization" when a token is set */
    size_t n_auth;      /* 0 or 1 */
    grpc_metadata_array md_initial, md_trailing;
    grpc_byte_buffer *summary_bb;
    grpc_status_code status;
    grpc_slice details;
    struct afd_lg_counts sent;     /* messages whose send completed OK */
    struct afd_lg_counts accepted; /* from the ReportSummary */
    uint64_t rejected;
    char first_rejection[AFD_ERR_LEN];
    bool has_summary;
};

struct lg_worker {
    pthread_t thread;
    grpc_completion_queue *cq;
    struct lg_conn **conns;
    size_t n_conns;
    double t_start, t_stop; /* monotonic s: send window */
    double t_done;          /* when its last call ended */
    bool stuck;             /* calls outlived their cancel: leave them */
};

/* ------------------------------------------------------------ helpers */

/* ---------------------------------------------------- streaming calls */

static bool start_ops(struct lg_conn *c, const grpc_op *ops, size_t n,
                      struct lg_tag *tag)
{
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);

    if (e != GRPC_CALL_OK) {
        fprintf(stderr, "afd-loadgen: start_batch failed (%d)\n", (int)e);
        return false;
    }
    c->outstanding++;
    return true;
}

/* Sends the next pool message; the first send carries initial metadata. */
static void conn_send_next(struct lg_conn *c, bool first)
{
    grpc_op ops[2];
    size_t n = 0;

    memset(ops, 0, sizeof(ops));
    if (first) {
        ops[n].op = GRPC_OP_SEND_INITIAL_METADATA;
        ops[n].data.send_initial_metadata.count = c->n_auth;
        ops[n].data.send_initial_metadata.metadata = &c->auth;
        n++;
    }
    /* SEND_MESSAGE takes the buffer's slices: send a (ref-counted) copy. */
    c->inflight = c->next;
    c->bb = grpc_byte_buffer_copy(c->pool.msgs[c->next]);
    c->next = (c->next + 1) % c->pool.n;
    ops[n].op = GRPC_OP_SEND_MESSAGE;
    ops[n].data.send_message.send_message = c->bb;
    n++;
    if (!start_ops(c, ops, n, &c->t_send)) {
        grpc_byte_buffer_destroy(c->bb);
        c->bb = NULL;
        grpc_call_cancel(c->call, NULL); /* ends the result batch now */
    }
}

static void conn_close(struct lg_conn *c)
{
    grpc_op op;

    memset(&op, 0, sizeof(op));
    op.op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    c->closing = true;
    if (!start_ops(c, &op, 1, &c->t_close))
        grpc_call_cancel(c->call, NULL);
}

static int conn_start(struct lg_conn *c, grpc_completion_queue *cq,
                      gpr_timespec deadline)
{
    grpc_op ops[3];

    c->call = grpc_channel_create_call(
        c->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
        grpc_slice_from_static_string(LG_REPORT_METHOD), NULL, deadline, NULL);
    if (!c->call)
        return AFD_EIO;
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[0].data.recv_initial_metadata.recv_initial_metadata = &c->md_initial;
    ops[1].op = GRPC_OP_RECV_MESSAGE;
    ops[1].data.recv_message.recv_message = &c->summary_bb;
    ops[2].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[2].data.recv_status_on_client.trailing_metadata = &c->md_trailing;
    ops[2].data.recv_status_on_client.status = &c->status;
    ops[2].data.recv_status_on_client.status_details = &c->details;
    if (!start_ops(c, ops, 3, &c->t_result))
        return AFD_EIO;
    conn_send_next(c, true);
    return AFD_OK;
}

static void conn_on_send(struct lg_conn *c, bool ok, double t_stop)
{
    double now;

    grpc_byte_buffer_destroy(c->bb);
    c->bb = NULL;
    if (!ok)
        return; /* the call failed: the result batch carries the status */
    c->sent.steps += c->pool.steps[c->inflight];
    c->sent.requests += c->pool.requests[c->inflight];
    c->sent.batches++;
    now = afd_lg_now_s();
    if (now >= t_stop) {
        conn_close(c);
        return;
    }
    if (now - c->pool.built[c->next] > LG_REFRESH_S)
        afd_lg_pool_pack(&c->pool, c->next);
    conn_send_next(c, false);
}

static void conn_on_result(struct lg_conn *c)
{
    Afd__Sizer__V1__ReportSummary *sum;
    grpc_byte_buffer_reader reader;
    grpc_slice s;

    if (!c->summary_bb || !grpc_byte_buffer_reader_init(&reader, c->summary_bb))
        return;
    s = grpc_byte_buffer_reader_readall(&reader);
    sum = afd__sizer__v1__report_summary__unpack(NULL, GRPC_SLICE_LENGTH(s),
                                                 GRPC_SLICE_START_PTR(s));
    grpc_slice_unref(s);
    grpc_byte_buffer_reader_destroy(&reader);
    if (!sum)
        return;
    c->has_summary = true;
    c->accepted.steps = sum->accepted_steps;
    c->accepted.requests = sum->accepted_requests;
    c->accepted.batches = sum->batches;
    c->rejected = sum->rejected;
    snprintf(c->first_rejection, sizeof(c->first_rejection), "%s",
             sum->first_rejection ? sum->first_rejection : "");
    afd__sizer__v1__report_summary__free_unpacked(sum, NULL);
}

/*
 * Runs the worker's calls to the end: streams until t_stop, half-closes,
 * waits for every summary. Past t_stop + LG_CALL_GRACE_S the calls are
 * cancelled (the deadline would end them too). Should their batches still
 * not complete LG_CANCEL_WAIT_S later (seen once with gRPC 1.51 when the
 * server ran under a tight resource quota), the worker gives up and marks
 * itself stuck rather than hang.
 */
static void *worker_main(void *arg)
{
    struct lg_worker *wk = arg;
    gpr_timespec deadline = gpr_time_add(
        gpr_now(GPR_CLOCK_MONOTONIC),
        gpr_time_from_millis(
            (int64_t)((wk->t_stop - afd_lg_now_s() + LG_CALL_GRACE_S + 5) *
                      1000),
            GPR_TIMESPAN));
    bool cancelled = false;
    int pending = 0;
    size_t i;

    for (i = 0; i < wk->n_conns; i++) {
        if (conn_start(wk->conns[i], wk->cq, deadline))
            fprintf(stderr, "afd-loadgen: cannot start call %zu\n", i);
        pending += wk->conns[i]->outstanding;
    }
    while (pending > 0) {
        grpc_event ev = grpc_completion_queue_next(
            wk->cq,
            gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                         gpr_time_from_millis(200, GPR_TIMESPAN)),
            NULL);
        struct lg_tag *tag;
        int before;
        if (ev.type == GRPC_QUEUE_TIMEOUT) {
            if (cancelled && afd_lg_now_s() > wk->t_stop + LG_CALL_GRACE_S +
                                                  LG_CANCEL_WAIT_S) {
                wk->stuck = true;
                break;
            }
            if (!cancelled && afd_lg_now_s() > wk->t_stop + LG_CALL_GRACE_S) {
                fprintf(stderr,
                        "afd-loadgen: calls still open %d s after "
                        "the run; cancelling\n",
                        LG_CALL_GRACE_S);
                for (i = 0; i < wk->n_conns; i++)
                    if (wk->conns[i]->call)
                        grpc_call_cancel(wk->conns[i]->call, NULL);
                cancelled = true;
            }
            continue;
        }
        if (ev.type != GRPC_OP_COMPLETE)
            break;
        tag = ev.tag;
        tag->conn->outstanding--;
        before = tag->conn->outstanding;
        if (tag->kind == LG_TAG_SEND)
            conn_on_send(tag->conn, ev.success, wk->t_stop);
        else if (tag->kind == LG_TAG_RESULT)
            conn_on_result(tag->conn);
        /* One batch done, maybe one started in its place. */
        pending += tag->conn->outstanding - before - 1;
    }
    wk->t_done = afd_lg_now_s();
    return NULL;
}

static void conn_release(struct lg_conn *c)
{
    if (c->call)
        grpc_call_unref(c->call);
    if (c->bb)
        grpc_byte_buffer_destroy(c->bb);
    if (c->summary_bb)
        grpc_byte_buffer_destroy(c->summary_bb);
    grpc_metadata_array_destroy(&c->md_initial);
    grpc_metadata_array_destroy(&c->md_trailing);
    grpc_slice_unref(c->details);
    if (c->n_auth) {
        grpc_slice_unref(c->auth.key);
        grpc_slice_unref(c->auth.value);
    }
    if (c->channel)
        grpc_channel_destroy(c->channel);
    afd_lg_pool_release(&c->pool);
}

/* One channel per connection; the local pool keeps their TCP apart. */
static grpc_channel *channel_new(const char *target)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_arg arg;
    grpc_channel_args args;
    grpc_channel *ch;

    arg.type = GRPC_ARG_INTEGER;
    arg.key = (char *)GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL;
    arg.value.integer = 1;
    args.num_args = 1;
    args.args = &arg;
    ch = grpc_channel_create(target, creds, &args);
    grpc_channel_credentials_release(creds);
    return ch;
}

static void queue_drain_destroy(grpc_completion_queue *cq)
{
    grpc_completion_queue_shutdown(cq);
    while (
        grpc_completion_queue_next(cq, gpr_inf_future(GPR_CLOCK_REALTIME), NULL)
            .type != GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(cq);
}

/* ---------------------------------------------------------------- run */

/* Pools and channels; conns[] zeroed by the caller, released by it. */
static int conns_setup(const struct afd_lg_options *o, const char *target,
                       struct lg_conn *conns, char *err)
{
    struct afd_lg_workload w;
    long total = afd_lg_population(o);
    int c;

    afd_lg_workload_default(&w, o->ffn_ratio);
    for (c = 0; c < o->connections; c++) {
        struct lg_conn *k = &conns[c];
        k->t_send = (struct lg_tag){LG_TAG_SEND, k};
        k->t_close = (struct lg_tag){LG_TAG_CLOSE, k};
        k->t_result = (struct lg_tag){LG_TAG_RESULT, k};
        grpc_metadata_array_init(&k->md_initial);
        grpc_metadata_array_init(&k->md_trailing);
        k->details = grpc_empty_slice();
        k->status = GRPC_STATUS_UNKNOWN;
        if (o->auth) {
            k->auth.key = grpc_slice_from_static_string("authorization");
            k->auth.value = grpc_slice_from_copied_string(o->auth);
            k->n_auth = 1;
        }
    }
    for (c = 0; c < o->connections; c++) {
        long lo = total * c / o->connections;
        long hi = total * (c + 1) / o->connections;
        if (afd_lg_pool_build(&conns[c].pool, o, &w, lo, hi, 42 + (uint64_t)c,
                              err))
            return AFD_ENOMEM;
        conns[c].channel = channel_new(target);
        if (!conns[c].channel)
            return afd_err(err, AFD_EIO, "cannot create a channel to '%s'",
                           target);
    }
    return AFD_OK;
}

/* Streams on every connection for --duration; wall time in *wall_s. */
static int run_workers(const struct afd_lg_options *o, struct lg_conn *conns,
                       double *wall_s, char *err)
{
    int nt = o->threads < o->connections ? o->threads : o->connections;
    struct lg_worker *wk = calloc((size_t)nt, sizeof(*wk));
    struct lg_conn **ptrs = calloc((size_t)o->connections, sizeof(*ptrs));
    double t0 = afd_lg_now_s(), t_done = t0;
    int t, c, n = 0, started = 0, rc = AFD_OK;

    if (!wk || !ptrs) {
        free(wk);
        free(ptrs);
        return afd_err(err, AFD_ENOMEM, "out of memory for %d workers", nt);
    }
    for (t = 0; t < nt; t++) {
        wk[t].conns = ptrs + n;
        for (c = t; c < o->connections; c += nt)
            ptrs[n++] = &conns[c];
        wk[t].n_conns = (size_t)(ptrs + n - wk[t].conns);
        wk[t].cq = grpc_completion_queue_create_for_next(NULL);
        wk[t].t_start = t0;
        wk[t].t_stop = t0 + o->duration_s;
    }
    for (t = 0; t < nt; t++, started++)
        if (pthread_create(&wk[t].thread, NULL, worker_main, &wk[t])) {
            rc = afd_err(err, AFD_EIO, "cannot start worker thread %d", t);
            break;
        }
    for (t = 0; t < started; t++) {
        pthread_join(wk[t].thread, NULL);
        if (wk[t].t_done > t_done)
            t_done = wk[t].t_done;
        if (wk[t].stuck && rc == AFD_OK)
            rc = afd_err(err, AFD_ESTATE,
                         "calls did not end %d s after being cancelled",
                         LG_CANCEL_WAIT_S);
    }
    if (rc == AFD_ESTATE) {
        /* Batches are pending: queues cannot drain. Leave it all to exit. */
        free(wk);
        free(ptrs);
        return rc;
    }
    /* Calls first: they hold their queue. Unstarted workers' calls are
     * NULL. */
    for (c = 0; c < o->connections; c++)
        if (conns[c].call) {
            grpc_call_unref(conns[c].call);
            conns[c].call = NULL;
        }
    for (t = 0; t < nt; t++)
        queue_drain_destroy(wk[t].cq);
    free(wk);
    free(ptrs);
    *wall_s = t_done - t0;
    return rc;
}

static void totals_of(const struct afd_lg_options *o,
                      const struct lg_conn *conns, struct afd_lg_totals *tt)
{
    int c;

    for (c = 0; c < o->connections; c++) {
        const struct lg_conn *k = &conns[c];
        tt->sent.steps += k->sent.steps;
        tt->sent.requests += k->sent.requests;
        tt->sent.batches += k->sent.batches;
        tt->accepted.steps += k->accepted.steps;
        tt->accepted.requests += k->accepted.requests;
        tt->accepted.batches += k->accepted.batches;
        tt->rejected += k->rejected;
        if (k->status != GRPC_STATUS_OK || !k->has_summary) {
            tt->failed_calls++;
            fprintf(stderr, "afd-loadgen: connection %d: status %d '%.*s'%s\n",
                    c, (int)k->status, (int)GRPC_SLICE_LENGTH(k->details),
                    (const char *)GRPC_SLICE_START_PTR(k->details),
                    k->has_summary ? "" : ", no summary");
        }
        if (k->first_rejection[0])
            fprintf(stderr, "afd-loadgen: connection %d: first rejection: %s\n",
                    c, k->first_rejection);
    }
}

int afd_lg_stream(const struct afd_lg_options *o, const char *target,
                  struct afd_lg_totals *tt, char *err)
{
    struct lg_conn *conns = calloc((size_t)o->connections, sizeof(*conns));
    int c, rc;

    memset(tt, 0, sizeof(*tt));
    if (!conns)
        return afd_err(err, AFD_ENOMEM, "out of memory for %d connections",
                       o->connections);
    rc = conns_setup(o, target, conns, err);
    if (rc == AFD_OK)
        rc = run_workers(o, conns, &tt->wall_s, err);
    if (rc == AFD_OK)
        totals_of(o, conns, tt);
    if (rc == AFD_ESTATE)
        return rc; /* stuck calls: conns leaked on purpose */
    for (c = 0; c < o->connections; c++)
        conn_release(&conns[c]);
    free(conns);
    return rc;
}
