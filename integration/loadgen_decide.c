/*
 * loadgen_decide.c - afd-loadgen's decision latency figure (see
 * integration/loadgen.h): while the telemetry load runs, one small
 * deployment (LG_SHIFT_DEPLOYMENT, not part of the population) has its
 * workload shifted back and forth, and a WatchCommands client times the
 * scale command each shift causes.
 *
 * The deployment reports LG_SHIFT_ATTN Attention and one FFN instance, so
 * x = LG_SHIFT_ATTN, y = 1 throughout. "short" requests (theta about 150
 * tokens) put r* near 5.9 (paper-v1-fit, B = 64): a command down; "long"
 * ones (theta about 3000) put it near 50: a command up. A cycle:
 *   0. pause a random 0-LG_JITTER_MS ms (so shifts fall anywhere between
 *      ticks, not right after the one that issued the last command);
 *   1. send one Report with the new workload (LG_SHIFT_REQUESTS finished
 *      requests, enough to move the estimate at the configured half-life,
 *      and one step sample per instance) and wait for its summary;
 *   2. ack the previous command (nothing else is issued while it is in
 *      flight, so the controller is free to act from here on);
 *   3. wait for the next command on the stream; it comes from the first
 *      evaluation tick after the ack.
 * Figures per command in the expected direction: tick latency = receive
 * wall time - ScaleCommand.issued_ms (the controller's wall clock when the
 * evaluation that decided ran; issued_ms is whole ms, so this reads up to
 * 1 ms high), and shift latency = receive - the time the shift's Report
 * was sent (adds the Report and AckCommand round trips and the wait for
 * the tick, uniform in [0, eval_interval)). The daemon must run the wall clock
 * with a short eval_interval, dwell 0 and cooldown 0 (the config
 * afd-loadgen writes for a spawned daemon); otherwise commands time out and
 * the figure prints as n/a.
 *
 * Threads: one thread of its own, with its own channel; the caller starts
 * and stops it around the load.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "estimator/base/error.h"
#include "integration/loadgen.h"
#include "proto/afd_sizer.pb-c.h"

#define LG_SHIFT_ATTN     10
#define LG_SHIFT_BATCH    64
#define LG_SHIFT_REQUESTS 256
#define LG_CMD_WAIT_S     3.0 /* per command; then resynchronise */
#define LG_JITTER_MS      150 /* random pause before a shift, ms */
#define LG_WATCH_METHOD   "/afd.sizer.v1.Sizer/WatchCommands"
#define LG_ACK_METHOD     "/afd.sizer.v1.Sizer/AckCommand"
#define LG_REPORT_METHOD  "/afd.sizer.v1.Telemetry/Report"
#define LG_ID_LEN         48

static gpr_timespec deadline_in(double s)
{
    return gpr_time_add(gpr_now(GPR_CLOCK_MONOTONIC),
                        gpr_time_from_micros((int64_t)(s * 1e6), GPR_TIMESPAN));
}

int afd_lg_unary(grpc_channel *ch, const char *method, const char *auth,
                 const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, grpc_status_code *status_out,
                 char *err)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_byte_buffer *send_bb = afd_grpc_pack(req), *recv_bb = NULL;
    grpc_metadata md;
    grpc_metadata_array md_i, md_t;
    grpc_status_code status = GRPC_STATUS_UNKNOWN;
    grpc_slice details = grpc_empty_slice(), s;
    grpc_byte_buffer_reader reader;
    grpc_op ops[6];
    grpc_call *call;
    int rc = AFD_EIO;

    *resp = NULL;
    grpc_metadata_array_init(&md_i);
    grpc_metadata_array_init(&md_t);
    md.key = grpc_slice_from_static_string("authorization");
    md.value = grpc_slice_from_copied_string(auth ? auth : "");
    call = grpc_channel_create_call(ch, NULL, GRPC_PROPAGATE_DEFAULTS, cq,
                                    grpc_slice_from_static_string(method), NULL,
                                    deadline_in(10), NULL);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].data.send_initial_metadata.count = auth ? 1 : 0;
    ops[0].data.send_initial_metadata.metadata = &md;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = send_bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &md_i;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &recv_bb;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &md_t;
    ops[5].data.recv_status_on_client.status = &status;
    ops[5].data.recv_status_on_client.status_details = &details;
    if (call &&
        grpc_call_start_batch(call, ops, 6, ops, NULL) == GRPC_CALL_OK &&
        grpc_completion_queue_pluck(cq, ops, gpr_inf_future(GPR_CLOCK_REALTIME),
                                    NULL)
                .type == GRPC_OP_COMPLETE &&
        status == GRPC_STATUS_OK && recv_bb &&
        grpc_byte_buffer_reader_init(&reader, recv_bb)) {
        s = grpc_byte_buffer_reader_readall(&reader);
        *resp = protobuf_c_message_unpack(resp_desc, NULL, GRPC_SLICE_LENGTH(s),
                                          GRPC_SLICE_START_PTR(s));
        grpc_slice_unref(s);
        grpc_byte_buffer_reader_destroy(&reader);
    }
    if (status_out)
        *status_out = status;
    if (*resp)
        rc = AFD_OK;
    else
        afd_err(err, AFD_EIO, "%s failed: status %d %.*s", method, (int)status,
                (int)GRPC_SLICE_LENGTH(details),
                (const char *)GRPC_SLICE_START_PTR(details));
    if (call)
        grpc_call_unref(call);
    grpc_byte_buffer_destroy(send_bb);
    if (recv_bb)
        grpc_byte_buffer_destroy(recv_bb);
    grpc_slice_unref(md.value);
    grpc_metadata_array_destroy(&md_i);
    grpc_metadata_array_destroy(&md_t);
    grpc_slice_unref(details);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
    return rc;
}

/* ------------------------------------------------- the watched stream */

struct lg_watch {
    grpc_completion_queue *cq;
    grpc_call *call;
    grpc_metadata_array md_i, md_t;
    grpc_status_code status;
    grpc_slice details;
    grpc_byte_buffer *bb;
    bool recv_pending, status_pending;
    int tag_start, tag_recv, tag_status;
};

static int watch_open(struct lg_watch *w, grpc_channel *ch, char *err)
{
    Afd__Sizer__V1__WatchCommandsRequest req =
        AFD__SIZER__V1__WATCH_COMMANDS_REQUEST__INIT;
    grpc_byte_buffer *bb;
    grpc_op ops[4];
    grpc_call_error e;

    memset(w, 0, sizeof(*w));
    w->cq = grpc_completion_queue_create_for_next(NULL);
    grpc_metadata_array_init(&w->md_i);
    grpc_metadata_array_init(&w->md_t);
    w->details = grpc_empty_slice();
    w->call = grpc_channel_create_call(
        ch, NULL, GRPC_PROPAGATE_DEFAULTS, w->cq,
        grpc_slice_from_static_string(LG_WATCH_METHOD), NULL,
        gpr_inf_future(GPR_CLOCK_REALTIME), NULL);
    if (!w->call)
        return afd_err(err, AFD_EIO, "cannot create the WatchCommands call");
    req.deployment = (char *)LG_SHIFT_DEPLOYMENT;
    bb = afd_grpc_pack(&req.base);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = bb;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &w->md_i;
    e = grpc_call_start_batch(w->call, ops, 4, &w->tag_start, NULL);
    grpc_byte_buffer_destroy(bb);
    if (e != GRPC_CALL_OK)
        return afd_err(err, AFD_EIO, "WatchCommands start failed (%d)", e);
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[0].data.recv_status_on_client.trailing_metadata = &w->md_t;
    ops[0].data.recv_status_on_client.status = &w->status;
    ops[0].data.recv_status_on_client.status_details = &w->details;
    if (grpc_call_start_batch(w->call, ops, 1, &w->tag_status, NULL) !=
        GRPC_CALL_OK)
        return afd_err(err, AFD_EIO, "WatchCommands status batch failed");
    w->status_pending = true;
    return AFD_OK;
}

/*
 * The next command on the stream within wait_s; *recv_ms gets the wall
 * time it arrived. AFD_ETIMEOUT-like AFD_ESTATE on timeout, AFD_EIO when
 * the stream ended.
 */
static int watch_next(struct lg_watch *w, double wait_s,
                      Afd__Sizer__V1__ScaleCommand **out, double *recv_ms,
                      char *err)
{
    double t_end = afd_lg_now_s() + wait_s;
    grpc_byte_buffer_reader reader;
    grpc_slice s;
    grpc_op op;

    *out = NULL;
    for (;;) {
        grpc_event ev;
        if (!w->recv_pending) {
            if (!w->status_pending)
                return afd_err(err, AFD_EIO, "WatchCommands ended: status %d",
                               (int)w->status);
            memset(&op, 0, sizeof(op));
            op.op = GRPC_OP_RECV_MESSAGE;
            op.data.recv_message.recv_message = &w->bb;
            if (grpc_call_start_batch(w->call, &op, 1, &w->tag_recv, NULL) !=
                GRPC_CALL_OK)
                return afd_err(err, AFD_EIO, "WatchCommands recv failed");
            w->recv_pending = true;
        }
        ev = grpc_completion_queue_next(
            w->cq, deadline_in(t_end - afd_lg_now_s()), NULL);
        if (ev.type == GRPC_QUEUE_TIMEOUT)
            return afd_err(err, AFD_ESTATE, "no scale command within %.1f s",
                           wait_s);
        if (ev.type != GRPC_OP_COMPLETE)
            return afd_err(err, AFD_EIO, "WatchCommands queue failed");
        if (ev.tag == &w->tag_status) {
            w->status_pending = false;
            continue;
        }
        if (ev.tag != &w->tag_recv)
            continue;
        *recv_ms = afd_lg_wall_ms();
        w->recv_pending = false;
        if (!w->bb)
            continue; /* the stream ended: the status follows */
        if (grpc_byte_buffer_reader_init(&reader, w->bb)) {
            s = grpc_byte_buffer_reader_readall(&reader);
            *out = afd__sizer__v1__scale_command__unpack(
                NULL, GRPC_SLICE_LENGTH(s), GRPC_SLICE_START_PTR(s));
            grpc_slice_unref(s);
            grpc_byte_buffer_reader_destroy(&reader);
        }
        grpc_byte_buffer_destroy(w->bb);
        w->bb = NULL;
        if (*out)
            return AFD_OK;
    }
}

static void watch_close(struct lg_watch *w)
{
    grpc_event ev;

    if (w->call) {
        grpc_call_cancel(w->call, NULL);
        while (w->recv_pending || w->status_pending) {
            ev = grpc_completion_queue_next(w->cq, deadline_in(10), NULL);
            if (ev.type != GRPC_OP_COMPLETE)
                break;
            if (ev.tag == &w->tag_recv)
                w->recv_pending = false;
            if (ev.tag == &w->tag_status)
                w->status_pending = false;
        }
        grpc_call_unref(w->call);
    }
    if (w->bb)
        grpc_byte_buffer_destroy(w->bb);
    grpc_metadata_array_destroy(&w->md_i);
    grpc_metadata_array_destroy(&w->md_t);
    grpc_slice_unref(w->details);
    if (w->cq) {
        grpc_completion_queue_shutdown(w->cq);
        while (grpc_completion_queue_next(w->cq, deadline_in(10), NULL).type ==
               GRPC_OP_COMPLETE)
            ;
        grpc_completion_queue_destroy(w->cq);
    }
}

/* --------------------------------------------------- shifts and acks */

/*
 * One Report: a step sample per instance with loads of theta and
 * LG_SHIFT_REQUESTS finished requests (prompt P, decode D +- 3) whose
 * theta is about P + D/2. *last_id gets summary.last_command_id.
 */
static int send_shift(grpc_channel *ch, const char *auth, bool up,
                      uint64_t step, uint64_t *last_id, char *err)
{
    Afd__Sizer__V1__TelemetryBatch b = AFD__SIZER__V1__TELEMETRY_BATCH__INIT;
    Afd__Sizer__V1__StepSample steps[LG_SHIFT_ATTN + 1];
    Afd__Sizer__V1__StepSample *sp[LG_SHIFT_ATTN + 1];
    Afd__Sizer__V1__FinishedRequest reqs[LG_SHIFT_REQUESTS];
    Afd__Sizer__V1__FinishedRequest *rp[LG_SHIFT_REQUESTS];
    Afd__Sizer__V1__ReportSummary *sum;
    ProtobufCMessage *resp;
    char ids[LG_SHIFT_ATTN + 1][LG_ID_LEN];
    double prompt = up ? 2800 : 100, decode = up ? 400 : 100;
    double theta = prompt + decode / 2, n_ffn = LG_SHIFT_ATTN * LG_SHIFT_BATCH;
    int64_t t_ms = (int64_t)afd_lg_wall_ms();
    int i;

    for (i = 0; i <= LG_SHIFT_ATTN; i++) {
        Afd__Sizer__V1__StepSample *s = &steps[i];
        afd__sizer__v1__step_sample__init(s);
        snprintf(ids[i], LG_ID_LEN, "shift-%s-%02d",
                 i < LG_SHIFT_ATTN ? "attn" : "ffn", i);
        s->instance_id = ids[i];
        s->step = step;
        s->timestamp_ms = t_ms;
        if (i < LG_SHIFT_ATTN) {
            /* a small spread across instances, for the barrier model */
            double t = LG_SHIFT_BATCH * theta * (1 + 0.02 * (i - 4.5));
            s->role = AFD__SIZER__V1__ROLE__ROLE_ATTENTION;
            s->batch_size = LG_SHIFT_BATCH;
            s->token_load = t;
            s->attention_ms = LG_PAPER->aA * t + LG_PAPER->bA;
            s->comm_ms = LG_PAPER->aC * LG_SHIFT_BATCH + LG_PAPER->bC;
        } else {
            s->role = AFD__SIZER__V1__ROLE__ROLE_FFN;
            s->ffn_tokens = n_ffn;
            s->ffn_ms = LG_PAPER->aF * n_ffn + LG_PAPER->bF;
            s->comm_ms = LG_PAPER->aC * n_ffn + LG_PAPER->bC;
        }
        sp[i] = s;
    }
    for (i = 0; i < LG_SHIFT_REQUESTS; i++) {
        afd__sizer__v1__finished_request__init(&reqs[i]);
        reqs[i].prompt_tokens = prompt;
        reqs[i].decode_tokens = decode + (i % 7) - 3;
        rp[i] = &reqs[i];
    }
    b.deployment = (char *)LG_SHIFT_DEPLOYMENT;
    b.n_steps = LG_SHIFT_ATTN + 1;
    b.steps = sp;
    b.n_requests = LG_SHIFT_REQUESTS;
    b.requests = rp;
    if (afd_lg_unary(ch, LG_REPORT_METHOD, auth, &b.base,
                     &afd__sizer__v1__report_summary__descriptor, &resp, NULL,
                     err))
        return AFD_EIO;
    sum = (Afd__Sizer__V1__ReportSummary *)resp;
    *last_id = sum->last_command_id;
    if (sum->rejected) {
        afd_err(err, AFD_EIO, "shift report: %llu items rejected (%s)",
                (unsigned long long)sum->rejected,
                sum->first_rejection ? sum->first_rejection : "");
        protobuf_c_message_free_unpacked(resp, NULL);
        return AFD_EIO;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return AFD_OK;
}

static int ack(grpc_channel *ch, const char *auth, uint64_t id, char *err)
{
    Afd__Sizer__V1__AckCommandRequest req =
        AFD__SIZER__V1__ACK_COMMAND_REQUEST__INIT;
    ProtobufCMessage *resp;

    req.deployment = (char *)LG_SHIFT_DEPLOYMENT;
    req.command_id = id;
    req.success = true;
    req.detail = (char *)"afd-loadgen: decision latency probe";
    if (afd_lg_unary(ch, LG_ACK_METHOD, auth, &req.base,
                     &afd__sizer__v1__ack_command_response__descriptor, &resp,
                     NULL, err))
        return AFD_EIO;
    /* Not accepted (e.g. it timed out meanwhile) still frees the policy. */
    protobuf_c_message_free_unpacked(resp, NULL);
    return AFD_OK;
}

/* ---------------------------------------------------------- the loop */

static void record(struct afd_lg_decide *d, double tick_ms, double shift_ms,
                   int64_t issued_ms)
{
    if (d->n < AFD_LG_DECIDE_MAX) {
        d->tick_ms[d->n] = tick_ms;
        d->shift_ms[d->n] = shift_ms;
        d->issued_ms[d->n] = issued_ms;
        d->n++;
    }
}

static void *decide_main(void *arg)
{
    struct afd_lg_decide *d = arg;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(d->target, creds, NULL);
    Afd__Sizer__V1__ScaleCommand *cmd;
    struct lg_watch w;
    uint64_t pending = 0, last_seen = 0, last_id = 0, step = 1, jitter = 1;
    double t_sent, recv_ms = 0;
    bool up = false, warm = true;
    char err[AFD_ERR_LEN];

    grpc_channel_credentials_release(creds);
    if (watch_open(&w, ch, err)) {
        snprintf(d->err, sizeof(d->err), "%s", err);
        goto out;
    }
    usleep(200000); /* the watch is registered before the first command */
    while (!atomic_load(&d->stop)) {
        t_sent = afd_lg_now_s();
        if (send_shift(ch, d->auth, up, step++, &last_id, err)) {
            snprintf(d->err, sizeof(d->err), "%s", err);
            break;
        }
        if (pending && ack(ch, d->auth, pending, err)) {
            snprintf(d->err, sizeof(d->err), "%s", err);
            break;
        }
        pending = 0;
        if (watch_next(&w, LG_CMD_WAIT_S, &cmd, &recv_ms, err)) {
            d->missed++;
            /* A command we did not see (issued before the watch was in
             * place) blocks the policy: ack it by the summary's id. */
            if (last_id > last_seen)
                pending = last_id;
            if (!w.status_pending && !w.recv_pending) {
                snprintf(d->err, sizeof(d->err), "%s", err);
                break;
            }
            continue;
        }
        pending = cmd->id;
        last_seen = cmd->id;
        if (!warm && (cmd->target_attention_instances > LG_SHIFT_ATTN) == up &&
            cmd->target_attention_instances != LG_SHIFT_ATTN) {
            /* mono time at receipt = now - (wall now - wall at receipt) */
            record(d, recv_ms - (double)cmd->issued_ms,
                   1e3 * (afd_lg_now_s() - t_sent) -
                       (afd_lg_wall_ms() - recv_ms),
                   cmd->issued_ms);
        } else if (!warm) {
            d->unexpected++;
        }
        afd__sizer__v1__scale_command__free_unpacked(cmd, NULL);
        warm = false;
        up = !up;
        /* Else every shift lands just after a tick (we react to one). */
        jitter = jitter * 6364136223846793005ULL + 1442695040888963407ULL;
        usleep((useconds_t)((jitter >> 33) % (LG_JITTER_MS * 1000)));
    }
    if (pending)
        ack(ch, d->auth, pending, NULL);
    watch_close(&w);
out:
    grpc_channel_destroy(ch);
    return NULL;
}

int afd_lg_decide_start(struct afd_lg_decide *d, const char *target,
                        const char *auth, int eval_ms)
{
    memset(d, 0, sizeof(*d));
    d->target = target;
    d->auth = auth;
    d->eval_ms = eval_ms;
    atomic_init(&d->stop, false);
    if (pthread_create(&d->thread, NULL, decide_main, d))
        return AFD_EIO;
    d->started = true;
    return AFD_OK;
}

void afd_lg_decide_stop(struct afd_lg_decide *d)
{
    if (!d->started)
        return;
    atomic_store(&d->stop, true);
    pthread_join(d->thread, NULL);
    d->started = false;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double pct(const double *v, size_t n, double p)
{
    size_t k = (size_t)ceil(p * (double)n);

    return v[k ? k - 1 : 0];
}

/*
 * How late each evaluation ran after its scheduled tick, ms. The daemon's
 * persistent timer fires at t0 + k * eval_ms, so issued_ms mod eval_ms is
 * the phase plus the delay; the phase is taken as the residue after the
 * widest circular gap between residues (the earliest firing seen), which
 * reads the delays of the others to 1 ms (issued_ms is whole ms) and
 * assumes at least one timed tick ran on time. False if unknown.
 */
static bool tick_delays(const struct afd_lg_decide *d, double *delay)
{
    double *r = malloc(d->n * sizeof(*r)), gap = -1, phase = 0;
    size_t i;

    if (!r || d->eval_ms <= 0 || d->n < 2) {
        free(r);
        return false;
    }
    for (i = 0; i < d->n; i++)
        r[i] = (double)(d->issued_ms[i] % d->eval_ms);
    qsort(r, d->n, sizeof(*r), cmp_double);
    for (i = 0; i < d->n; i++) {
        double g = i ? r[i] - r[i - 1] : r[0] + d->eval_ms - r[d->n - 1];
        if (g > gap) {
            gap = g;
            phase = r[i];
        }
    }
    free(r);
    for (i = 0; i < d->n; i++)
        delay[i] =
            fmod((double)(d->issued_ms[i] % d->eval_ms) - phase + d->eval_ms,
                 d->eval_ms);
    return true;
}

void afd_lg_decide_print(struct afd_lg_decide *d)
{
    double *delay = malloc((d->n ? d->n : 1) * sizeof(*delay));
    double *total = malloc((d->n ? d->n : 1) * sizeof(*total));
    size_t n = d->n, i;

    printf("decision_commands %zu\n", n);
    if (d->missed || d->unexpected)
        printf("decision_missed %d unexpected %d\n", d->missed, d->unexpected);
    if (!n) {
        printf("decision_latency_p99_ms n/a (%s)\n",
               d->err[0] ? d->err : "no scale command received");
        free(delay);
        free(total);
        return;
    }
    if (delay && total && tick_delays(d, delay)) {
        for (i = 0; i < n; i++)
            total[i] = delay[i] + d->tick_ms[i];
        qsort(delay, n, sizeof(*delay), cmp_double);
        qsort(total, n, sizeof(*total), cmp_double);
        printf("tick_delay_p50_ms %.0f\n", pct(delay, n, 0.5));
        printf("tick_delay_p99_ms %.0f\n", pct(delay, n, 0.99));
        printf("decision_latency_from_schedule_p99_ms %.2f\n",
               pct(total, n, 0.99));
    }
    free(delay);
    free(total);
    qsort(d->tick_ms, n, sizeof(d->tick_ms[0]), cmp_double);
    qsort(d->shift_ms, n, sizeof(d->shift_ms[0]), cmp_double);
    printf("decision_latency_p50_ms %.2f\n", pct(d->tick_ms, n, 0.5));
    printf("decision_latency_p99_ms %.2f\n", pct(d->tick_ms, n, 0.99));
    printf("decision_latency_max_ms %.2f\n", d->tick_ms[n - 1]);
    printf("shift_to_command_p50_ms %.2f\n", pct(d->shift_ms, n, 0.5));
    printf("shift_to_command_p99_ms %.2f\n", pct(d->shift_ms, n, 0.99));
    printf("shift_to_command_max_ms %.2f\n", d->shift_ms[n - 1]);
    if (d->err[0])
        fprintf(stderr, "afd-loadgen: decision probe: %s\n", d->err);
}
