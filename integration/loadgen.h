/*
 * loadgen.h - private to afd-loadgen (integration/loadgen.c, the command
 * line and figures; integration/loadgen_daemon.c, the spawned daemon;
 * integration/loadgen_pool.c, the population and the pre-packed messages;
 * integration/loadgen_stream.c, the gRPC streams; integration/
 * loadgen_decide.c, the decision latency probe). Not a library: nothing
 * else includes it.
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
#include <sys/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <grpc/grpc.h>
#include <protobuf-c/protobuf-c.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "plugin/rpc/grpc_buf.h"
#include "proto/afd_sizer.pb-c.h"

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

/* ---------------------------- spawned daemon (integration/loadgen_daemon.c) */

#define LG_ADDR_LEN 256
#define LG_EVAL_MS  100 /* a spawned daemon's controller tick */

struct afd_lg_daemon {
    pid_t pid;
    char dir[64];   /* temp dir holding config.json, "" = none */
    char conf[128]; /* its config file */
    int out_fd;     /* its stdout: read up to "ready", then by the drain */
    pthread_t drain;
    bool draining;
    char grpc_addr[LG_ADDR_LEN];
};

/*
 * Starts `bin serve` on free loopback ports (with --token-file token_file
 * unless NULL) and waits for "ready". Call before grpc_init: forking a
 * process with gRPC threads is unsafe. AFD_EIO; call afd_lg_daemon_stop
 * either way.
 */
int afd_lg_daemon_spawn(struct afd_lg_daemon *dm, const char *bin,
                        const char *token_file, char *err);
/*
 * SIGTERM, then waits for the exit (SIGKILL after a while); removes the
 * config. AFD_OK only for exit status 0.
 */
int afd_lg_daemon_stop(struct afd_lg_daemon *dm, char *err);

/* ------------------------------------ messages (integration/loadgen_pool.c) */

/* Instance ids like "lg00-attn-00000". */
#define LG_ID_LEN 48

/*
 * The workload the samples are drawn from. Messages are built from this
 * struct only. (The decision latency figure shifts the workload of a
 * separate small deployment instead: integration/loadgen_decide.c.)
 */
struct afd_lg_workload {
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
struct afd_lg_rng {
    uint64_t s;
};

/* Scratch space for building one TelemetryBatch of up to cap steps. */
struct afd_lg_scratch {
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
struct afd_lg_pool {
    grpc_byte_buffer **msgs;
    long *first;        /* range offset of msgs[i]'s first sample */
    uint64_t *steps;    /* step samples in msgs[i] */
    uint64_t *requests; /* finished requests in msgs[i] */
    double *built;      /* monotonic s when msgs[i] was packed */
    size_t n;
    const struct afd_lg_options *o;
    struct afd_lg_workload w;
    long lo, len; /* the range: population indexes [lo, lo + len) */
    struct afd_lg_rng rng;
    struct afd_lg_scratch sc;
};

/*
 * Azure-conv-like (shared/traces/README: mean P 1155, mean D 211, theta
 * about 1226, sigma about 713), B = 64, the given Attention/FFN ratio.
 */
void afd_lg_workload_default(struct afd_lg_workload *w, int ffn_ratio);
/*
 * Plans and packs the pool of population range [lo, hi) (see struct
 * afd_lg_pool). AFD_ENOMEM; release with afd_lg_pool_release either way.
 */
int afd_lg_pool_build(struct afd_lg_pool *p, const struct afd_lg_options *o,
                      const struct afd_lg_workload *w, long lo, long hi,
                      uint64_t seed, char *err);
/* Re-packs message i of p, stamped with the time now. */
void afd_lg_pool_pack(struct afd_lg_pool *p, size_t i);
void afd_lg_pool_release(struct afd_lg_pool *p);

/* Live instances the options describe (Attention + FFN). */
long afd_lg_population(const struct afd_lg_options *o);

/* Packs msg into a new byte buffer (the caller destroys it). */
/* Monotonic seconds and wall-clock ms since the Unix epoch. */
double afd_lg_now_s(void);
double afd_lg_wall_ms(void);

/* The load's stage times follow the built-in paper-v1-fit profile. */
#define LG_PAPER afd_profile_builtin(AFD_DEFAULT_PROFILE)

/*
 * One request, one response on ch (also a one-message client stream), with
 * "authorization: <auth>" when auth is not NULL and a 10 s deadline. *resp
 * is NULL unless the status is OK and the answer decodes (then AFD_OK; the
 * caller frees it with protobuf_c_message_free_unpacked); *status_out (NULL
 * allowed) gets the call's status either way.
 */
int afd_lg_unary(grpc_channel *ch, const char *method, const char *auth,
                 const ProtobufCMessage *req,
                 const ProtobufCMessageDescriptor *resp_desc,
                 ProtobufCMessage **resp, grpc_status_code *status_out,
                 char *err);

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
