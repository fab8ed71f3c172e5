/*
 * loadgen.h - private to afd-loadgen (integration/loadgen.c, the command
 * line, daemon and figures; integration/loadgen_stream.c, the population
 * and the gRPC streams). Not a library: nothing else includes it.
 *
 * Population: o->instances Attention instances spread over o->deployments
 * deployments named "loadgen-00", "loadgen-01", ..., plus ceil(a/ffn_ratio)
 * FFN instances in a deployment of a Attention instances.
 *
 * Threads: afd_lg_stream runs its own worker threads and joins them before
 * it returns; call it from one thread at a time.
 */
#ifndef AFD_LOADGEN_H
#define AFD_LOADGEN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "estimator/error.h"

struct afd_lg_options {
    const char *target;    /* gRPC HOST:PORT of a running daemon */
    const char *spawn_bin; /* or afd-sizer to start ourselves */
    long daemon_pid;       /* for the RSS figure; 0 = unknown */
    int connections;       /* channels, one Report stream each */
    int threads;           /* workers, one completion queue each */
    int instances;         /* Attention instances over all deployments */
    int ffn_ratio;         /* Attention instances per FFN instance */
    int deployments;
    int batch_steps;        /* step samples per TelemetryBatch */
    double duration_s;      /* s of streaming */
    const char *token_file; /* bearer token for Telemetry.Report, or NULL */
    const char *auth;       /* "Bearer <token>" read from it, or NULL */
    bool smoke;
};

struct afd_lg_counts {
    uint64_t steps;    /* step samples */
    uint64_t requests; /* finished requests */
    uint64_t batches;  /* TelemetryBatch messages */
};

struct afd_lg_totals {
    struct afd_lg_counts sent;     /* sends that completed OK */
    struct afd_lg_counts accepted; /* from the ReportSummary answers */
    uint64_t rejected;             /* items, from the summaries */
    int failed_calls;              /* status not OK or no summary */
    double wall_s;                 /* first call started - last ended */
    long live;                     /* live instances; -1 = unknown */
    double daemon_cpu_s;           /* its CPU time over the run; -1 = unknown */
};

/*
 * The decision latency probe (integration/loadgen_decide.c): shifts the
 * workload of LG_SHIFT_DEPLOYMENT (not part of the population) back and
 * forth and times each scale command it causes, on its own thread.
 */
#define LG_SHIFT_DEPLOYMENT "loadgen-shift"
#define AFD_LG_DECIDE_MAX   4096 /* commands timed */

struct afd_lg_decide {
    pthread_t thread;
    bool started;
    atomic_bool stop;
    const char *target, *auth; /* auth may be NULL */
    int eval_ms;               /* the daemon's tick period, 0 = unknown */
    size_t n;                  /* commands timed */
    int missed;                /* waits without a command */
    int unexpected;            /* commands in the wrong direction */
    double tick_ms[AFD_LG_DECIDE_MAX];    /* receive - issued_ms */
    double shift_ms[AFD_LG_DECIDE_MAX];   /* receive - shift sent */
    int64_t issued_ms[AFD_LG_DECIDE_MAX]; /* ScaleCommand.issued_ms */
    char err[AFD_ERR_LEN];                /* why it stopped early, or "" */
};

/* Starts the probe thread (after grpc_init); AFD_EIO if it cannot. */
int afd_lg_decide_start(struct afd_lg_decide *d, const char *target,
                        const char *auth, int eval_ms);
/* Stops and joins it (acks the command it holds). */
void afd_lg_decide_stop(struct afd_lg_decide *d);
/*
 * Prints decision_commands, decision_latency_{p50,p99,max}_ms (receive -
 * issued_ms), shift_to_command_{p50,p99,max}_ms and, with eval_ms known,
 * tick_delay and decision_latency_from_schedule figures (n/a with the
 * reason when no command was timed).
 */
void afd_lg_decide_print(struct afd_lg_decide *d);

/* Live instances the options describe (Attention + FFN). */
long afd_lg_population(const struct afd_lg_options *o);

/* Packs msg into a new byte buffer (the caller destroys it). */
grpc_byte_buffer *afd_lg_pack(const ProtobufCMessage *msg);

/*
 * Streams to target for o->duration_s on o->connections channels and sums
 * the calls' figures into tt (live is left for the caller). Call between
 * grpc_init and grpc_shutdown. Per-call failures are counted in tt (and
 * printed on stderr), not returned: AFD_ENOMEM or AFD_EIO when the run
 * could not be set up; AFD_ESTATE when calls did not end even after being
 * cancelled - their gRPC objects are then left alive, so the caller must
 * exit without grpc_shutdown. err is filled on failure.
 */
int afd_lg_stream(const struct afd_lg_options *o, const char *target,
                  struct afd_lg_totals *tt, char *err);

#endif
