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

#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

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
