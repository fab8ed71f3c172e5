/*
 * loadgen_stream.c - afd-loadgen's load (see integration/loadgen.h): the
 * population, the pre-packed TelemetryBatch pools and the client-streaming
 * Telemetry/Report calls, on the gRPC C core client API.
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

#include "estimator/error.h"
#include "integration/loadgen.h"
#include "proto/afd_sizer.pb-c.h"

/* Sizes: ids like "lg00-attn-00000"; a pool holds its range twice. */
#define LG_ID_LEN      48
#define LG_POOL_ROUNDS 2
/* s after the duration until calls are cancelled; s more until we give up */
#define LG_CALL_GRACE_S  60
#define LG_CANCEL_WAIT_S 30
/* s: a pooled message older than this is rebuilt; ms per decode step */
#define LG_REFRESH_S     0.5
#define LG_STEP_MS       20
#define LG_REPORT_METHOD "/afd.sizer.v1.Telemetry/Report"

/* paper-v1-fit (estimator/profile.c), ms and tokens. */
#define LG_AA 5.075e-5
#define LG_BA 2.549
#define LG_AC 1.0e-3
#define LG_BC 0.30
#define LG_AF 2.2444e-3
#define LG_BF 5.0

/*
 * The workload the samples are drawn from. Messages are built from this
 * struct only. (The decision latency figure shifts the workload of a
 * separate small deployment instead: integration/loadgen_decide.c.)
 */
struct lg_workload {
    double batch;       /* decode slots per Attention instance, B */
    double theta;       /* tokens, per-slot load */
    double sigma;       /* tokens, sd of the per-slot load */
    double prompt_mu;   /* ln tokens: lognormal prompt length */
    double prompt_s;    /* ln tokens */
    double decode_mean; /* tokens: geometric decode length */
    double noise;       /* relative sd of measured stage times */
    double ffn_ratio;   /* Attention per FFN instance (x/y) */
};

/* splitmix64: small, fixed-seed, good enough for test data. */
struct lg_rng {
    uint64_t s;
};

/* Scratch space for building one TelemetryBatch of up to cap steps. */
struct lg_scratch {
    size_t cap, cap_req;
    Afd__Sizer__V1__StepSample *steps;
    Afd__Sizer__V1__StepSample **step_ptrs;
    char (*ids)[LG_ID_LEN];
    Afd__Sizer__V1__FinishedRequest *reqs;
    Afd__Sizer__V1__FinishedRequest **req_ptrs;
};

/*
 * A connection's messages. Message i holds steps[i] samples of consecutive
 * instances of the connection's range from offset first[i] (wrapping). A
 * message older than LG_REFRESH_S is rebuilt before it is sent again, with
 * fresh timestamps, step counters and values drawn from w: so the daemon
 * sees time move, and a workload shift is "change w, mark all stale".
 */
struct lg_pool {
    grpc_byte_buffer **msgs;
    long *first;        /* range offset of msgs[i]'s first sample */
    uint64_t *steps;    /* step samples in msgs[i] */
    uint64_t *requests; /* finished requests in msgs[i] */
    double *built;      /* monotonic s when msgs[i] was packed */
    size_t n;
    const struct afd_lg_options *o;
    struct lg_workload w;
    long lo, len; /* the range: population indexes [lo, lo + len) */
    struct lg_rng rng;
    struct lg_scratch sc;
};

enum lg_tag_kind { LG_TAG_SEND, LG_TAG_CLOSE, LG_TAG_RESULT };

struct lg_conn;
struct lg_tag {
    enum lg_tag_kind kind;
    struct lg_conn *conn;
};

struct lg_conn {
    grpc_channel *channel;
    grpc_call *call;
    struct lg_pool pool;
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

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int64_t wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rng_next(struct lg_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so logs are finite. */
static double rng_u01(struct lg_rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_normal(struct lg_rng *r)
{
    return sqrt(-2.0 * log(rng_u01(r))) * cos(2.0 * M_PI * rng_u01(r));
}

/* Geometric on {1, 2, ...} with the given mean (>= 1). */
static double rng_geometric(struct lg_rng *r, double mean)
{
    double p = 1.0 / mean;

    if (p >= 1.0)
        return 1.0;
    return 1.0 + floor(log(rng_u01(r)) / log1p(-p));
}

/* max(0, v * (1 + rel * N(0,1))): a measured time with noise. */
static double noisy(struct lg_rng *r, double v, double rel)
{
    double x = v * (1.0 + rel * rng_normal(r));

    return x > 0 ? x : v;
}

/*
 * Azure-conv-like (shared/traces/README: mean P 1155, mean D 211, theta
 * about 1226, sigma about 713), B = 64, ratio 6 (near r* = 5.9 of
 * paper-v1-fit at B = 64, theta = 600).
 */
static void workload_default(struct lg_workload *w, int ffn_ratio)
{
    w->batch = 64;
    w->theta = 1226;
    w->sigma = 713;
    w->prompt_s = 0.8;
    w->prompt_mu = log(1155.0) - 0.5 * 0.8 * 0.8;
    w->decode_mean = 211;
    w->noise = 0.03;
    w->ffn_ratio = ffn_ratio;
}

/* ------------------------------------------------------ the population */

/* Attention instances of deployment d (the first ones get the remainder). */
static int attn_of(const struct afd_lg_options *o, int d)
{
    return o->instances / o->deployments + (d < o->instances % o->deployments);
}

static int ffn_of(const struct afd_lg_options *o, int d)
{
    int a = attn_of(o, d);

    return a ? (a + o->ffn_ratio - 1) / o->ffn_ratio : 0;
}

long afd_lg_population(const struct afd_lg_options *o)
{
    long n = 0;
    int d;

    for (d = 0; d < o->deployments; d++)
        n += attn_of(o, d) + ffn_of(o, d);
    return n;
}

/* Global instance index g -> deployment, role and index within the role. */
static void locate(const struct afd_lg_options *o, long g, int *dep, bool *ffn,
                   int *k)
{
    int d;

    for (d = 0; d < o->deployments; d++) {
        long a = attn_of(o, d), f = ffn_of(o, d);
        if (g < a + f) {
            *dep = d;
            *ffn = g >= a;
            *k = (int)(g >= a ? g - a : g);
            return;
        }
        g -= a + f;
    }
    /* g < afd_lg_population(o) by construction; keep the outputs defined. */
    *dep = 0;
    *ffn = false;
    *k = 0;
}

static void fill_step(Afd__Sizer__V1__StepSample *s, char *id, bool ffn, int d,
                      int k, uint64_t step, const struct lg_workload *w,
                      struct lg_rng *r, int64_t t_ms)
{
    afd__sizer__v1__step_sample__init(s);
    snprintf(id, LG_ID_LEN, "lg%02d-%s-%05d", d, ffn ? "ffn" : "attn", k);
    s->instance_id = id;
    s->step = step;
    s->timestamp_ms = t_ms;
    if (ffn) {
        double n = noisy(r, w->ffn_ratio * w->batch, 0.02);
        s->role = AFD__SIZER__V1__ROLE__ROLE_FFN;
        s->ffn_tokens = n;
        s->ffn_ms = noisy(r, LG_AF * n + LG_BF, w->noise);
        s->comm_ms = noisy(r, LG_AC * n + LG_BC, w->noise);
    } else {
        double b = w->batch - floor(4 * rng_u01(r)); /* a few free slots */
        double t = b * w->theta + sqrt(b) * w->sigma * rng_normal(r);
        s->role = AFD__SIZER__V1__ROLE__ROLE_ATTENTION;
        s->batch_size = b;
        s->token_load = t > 0 ? t : 0;
        s->attention_ms = noisy(r, LG_AA * s->token_load + LG_BA, w->noise);
        s->comm_ms = noisy(r, LG_AC * b + LG_BC, w->noise);
    }
}

grpc_byte_buffer *afd_lg_pack(const ProtobufCMessage *msg)
{
    size_t n = protobuf_c_message_get_packed_size(msg);
    grpc_slice s = grpc_slice_malloc(n);
    grpc_byte_buffer *bb;

    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(s));
    bb = grpc_raw_byte_buffer_create(&s, 1);
    grpc_slice_unref(s);
    return bb;
}

static void scratch_release(struct lg_scratch *sc)
{
    free(sc->steps);
    free(sc->step_ptrs);
    free(sc->ids);
    free(sc->reqs);
    free(sc->req_ptrs);
    memset(sc, 0, sizeof(*sc));
}

static int scratch_init(struct lg_scratch *sc, size_t cap, char *err)
{
    sc->cap = cap;
    sc->cap_req = cap; /* at most one finished request per slot-step */
    sc->steps = calloc(cap, sizeof(*sc->steps));
    sc->step_ptrs = calloc(cap, sizeof(*sc->step_ptrs));
    sc->ids = calloc(cap, sizeof(*sc->ids));
    sc->reqs = calloc(cap, sizeof(*sc->reqs));
    sc->req_ptrs = calloc(cap, sizeof(*sc->req_ptrs));
    if (!sc->steps || !sc->step_ptrs || !sc->ids || !sc->reqs ||
        !sc->req_ptrs) {
        scratch_release(sc);
        return afd_err(err, AFD_ENOMEM, "out of memory for %zu steps", cap);
    }
    return AFD_OK;
}

/*
 * Finished requests for n Attention step samples: each slot-step ends a
 * request with probability 1/decode_mean, so about n*B/decode_mean.
 */
static size_t fill_requests(struct lg_scratch *sc, size_t n_attn,
                            const struct lg_workload *w, struct lg_rng *r)
{
    double want = n_attn * w->batch / w->decode_mean;
    size_t n = (size_t)floor(want + rng_u01(r)), i;

    if (n > sc->cap_req)
        n = sc->cap_req;
    for (i = 0; i < n; i++) {
        afd__sizer__v1__finished_request__init(&sc->reqs[i]);
        sc->reqs[i].prompt_tokens =
            floor(exp(w->prompt_mu + w->prompt_s * rng_normal(r)));
        sc->reqs[i].decode_tokens = rng_geometric(r, w->decode_mean);
        sc->req_ptrs[i] = &sc->reqs[i];
    }
    return n;
}

/* Packs message i of p (see struct lg_pool), stamped with the time now. */
static void pool_pack(struct lg_pool *p, size_t i)
{
    Afd__Sizer__V1__TelemetryBatch b = AFD__SIZER__V1__TELEMETRY_BATCH__INIT;
    struct lg_scratch *sc = &p->sc;
    int64_t t_ms = wall_ms();
    long g = p->first[i];
    size_t n, n_attn = 0;
    char dep_name[32];
    int d = 0, k;
    bool ffn;

    for (n = 0; n < p->steps[i]; n++) {
        /* Step counters follow the clock; +1 for an instance's second
         * appearance in the pool keeps them distinct. */
        uint64_t step = (uint64_t)(t_ms / LG_STEP_MS) +
                        (uint64_t)((p->first[i] + (long)n) / p->len);
        locate(p->o, p->lo + g, &d, &ffn, &k);
        fill_step(&sc->steps[n], sc->ids[n], ffn, d, k, step, &p->w, &p->rng,
                  t_ms);
        sc->step_ptrs[n] = &sc->steps[n];
        n_attn += !ffn;
        g = (g + 1) % p->len;
    }
    snprintf(dep_name, sizeof(dep_name), "loadgen-%02d", d);
    b.deployment = dep_name;
    b.n_steps = n;
    b.steps = sc->step_ptrs;
    b.n_requests = fill_requests(sc, n_attn, &p->w, &p->rng);
    b.requests = sc->req_ptrs;
    if (p->msgs[i])
        grpc_byte_buffer_destroy(p->msgs[i]);
    p->msgs[i] = afd_lg_pack(&b.base);
    p->requests[i] = b.n_requests;
    p->built[i] = now_s();
}

/*
 * Plans and packs the pool of the range [lo, hi): messages walk it from
 * the start, up to batch_steps samples each, never crossing a deployment
 * (a TelemetryBatch names one), until every instance appeared
 * LG_POOL_ROUNDS times; a range smaller than a batch repeats its instances.
 */
static int pool_build(struct lg_pool *p, const struct afd_lg_options *o,
                      const struct lg_workload *w, long lo, long hi,
                      uint64_t seed, char *err)
{
    long len = hi - lo, done = 0, g = 0;
    size_t cap =
        (size_t)((len * LG_POOL_ROUNDS + o->batch_steps - 1) / o->batch_steps +
                 o->deployments * LG_POOL_ROUNDS + 1);

    p->o = o;
    p->w = *w;
    p->lo = lo;
    p->len = len;
    p->rng.s = seed;
    if (scratch_init(&p->sc, (size_t)o->batch_steps, err))
        return AFD_ENOMEM;
    p->msgs = calloc(cap, sizeof(*p->msgs));
    p->first = calloc(cap, sizeof(*p->first));
    p->steps = calloc(cap, sizeof(*p->steps));
    p->requests = calloc(cap, sizeof(*p->requests));
    p->built = calloc(cap, sizeof(*p->built));
    if (!p->msgs || !p->first || !p->steps || !p->requests || !p->built)
        return afd_err(err, AFD_ENOMEM, "out of memory for a pool of %zu", cap);
    while (done < len * LG_POOL_ROUNDS && p->n < cap) {
        size_t n = 0;
        int d0 = -1, d, k;
        bool ffn;
        p->first[p->n] = g;
        for (; n < p->sc.cap; n++, g = (g + 1) % len) {
            locate(o, lo + g, &d, &ffn, &k);
            if (d0 >= 0 && d != d0)
                break;
            d0 = d;
        }
        p->steps[p->n] = n;
        pool_pack(p, p->n);
        p->n++;
        done += (long)n;
    }
    return AFD_OK;
}

static void pool_release(struct lg_pool *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        grpc_byte_buffer_destroy(p->msgs[i]);
    free(p->msgs);
    free(p->first);
    free(p->steps);
    free(p->requests);
    free(p->built);
    scratch_release(&p->sc);
    memset(p, 0, sizeof(*p));
}

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
    now = now_s();
    if (now >= t_stop) {
        conn_close(c);
        return;
    }
    if (now - c->pool.built[c->next] > LG_REFRESH_S)
        pool_pack(&c->pool, c->next);
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
            (int64_t)((wk->t_stop - now_s() + LG_CALL_GRACE_S + 5) * 1000),
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
            if (cancelled &&
                now_s() > wk->t_stop + LG_CALL_GRACE_S + LG_CANCEL_WAIT_S) {
                wk->stuck = true;
                break;
            }
            if (!cancelled && now_s() > wk->t_stop + LG_CALL_GRACE_S) {
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
    wk->t_done = now_s();
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
    pool_release(&c->pool);
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
    struct lg_workload w;
    long total = afd_lg_population(o);
    int c;

    workload_default(&w, o->ffn_ratio);
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
        if (pool_build(&conns[c].pool, o, &w, lo, hi, 42 + (uint64_t)c, err))
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
    double t0 = now_s(), t_done = t0;
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
