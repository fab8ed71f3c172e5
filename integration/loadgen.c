/*
 * loadgen.c - afd-loadgen: telemetry load against `afd-sizer serve`
 * on the gRPC C core client API.
 *
 *   afd-loadgen (--target HOST:PORT [--daemon-pid PID] | --spawn-daemon BIN)
 *               [--connections N] [--threads N] [--instances N]
 *               [--ffn-ratio R] [--deployments N] [--batch-steps N]
 *               [--duration S] [--smoke]
 *
 * This file: the command line and the figures. The spawned daemon is
 * integration/loadgen_daemon.c, the load itself integration/loadgen_pool.c
 * (population, messages) and integration/loadgen_stream.c (streams), the
 * decision latency probe integration/loadgen_decide.c.
 *
 * Figures are printed one per line ("name value"), speed is never
 * asserted. Exit status: 0 when every call ended OK (and, with --smoke,
 * when the daemon accepted everything sent, a spawned daemon knew exactly
 * our population and exited 0 on SIGTERM), 1 otherwise, 2 on bad flags.
 *
 * A spawned daemon gets SIGTERM if the generator dies (PR_SET_PDEATHSIG),
 * and is reaped before exit, so no process outlives a run.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/grpc.h>
#include <grpc/grpc_security.h>
#include <grpc/support/time.h>

#include "estimator/base/error.h"
#include "integration/loadgen.h"
#include "proto/afd_sizer.pb-c.h"

#define LG_RECO_METHOD    "/afd.sizer.v1.Sizer/GetRecommendation"
#define LG_PROBE_EVERY_MS 20   /* ms between responsiveness probes */
#define LG_PROBE_MAX      8192 /* probes kept (164 s at the period above) */

/* --------------------------------------------------------- figures */

/*
 * Live instances of one deployment (Attention + FFN) from a unary
 * Sizer/GetRecommendation on ch. AFD_EIO with the status on failure;
 * *status_out (NULL allowed) gets the call's status either way.
 */
static int live_instances_of(grpc_channel *ch, const char *dep, long *out,
                             grpc_status_code *status_out, char *err)
{
    Afd__Sizer__V1__GetRecommendationRequest req =
        AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
    Afd__Sizer__V1__Recommendation *rec;
    ProtobufCMessage *resp = NULL;
    char why[AFD_ERR_LEN];

    req.deployment = (char *)dep;
    if (afd_lg_unary(ch, LG_RECO_METHOD, NULL, &req.base,
                     &afd__sizer__v1__recommendation__descriptor, &resp,
                     status_out, why))
        return afd_err(err, AFD_EIO, "GetRecommendation('%s'): %s", dep, why);
    rec = (Afd__Sizer__V1__Recommendation *)resp;
    *out = (long)rec->attention_instances + rec->ffn_instances;
    protobuf_c_message_free_unpacked(resp, NULL);
    return AFD_OK;
}

/* Sum of live instances over the loadgen deployments; -1 when unknown. */
static long live_instances(const struct afd_lg_options *o, const char *target)
{
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(target, creds, NULL);
    char name[32], err[AFD_ERR_LEN];
    long sum = 0, n = 0;
    int d;

    grpc_channel_credentials_release(creds);
    for (d = 0; d < o->deployments && sum >= 0; d++) {
        snprintf(name, sizeof(name), "loadgen-%02d", d);
        if (live_instances_of(ch, name, &n, NULL, err)) {
            fprintf(stderr, "afd-loadgen: %s\n", err);
            sum = -1;
        } else {
            sum += n;
        }
    }
    grpc_channel_destroy(ch);
    return sum;
}

/*
 * CPU time (user + system, s) pid has used so far; -1 when unknown. The
 * daemon's CPU per accepted sample is steadier than samples per second on
 * a machine the daemon shares with the generator and other work.
 */
static double cpu_s(long pid)
{
    char path[64], buf[1024], *p;
    unsigned long long ut, st;
    size_t n;
    FILE *f;

    if (pid <= 0)
        return -1;
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* Fields after the command name (which may hold spaces): state is the
     * 3rd field, utime and stime the 14th and 15th. */
    p = strrchr(buf, ')');
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
               &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * Reads the bearer token (the file trimmed of surrounding whitespace, as
 * the daemon reads it) into auth as "Bearer <token>".
 */
static int load_token(const char *path, char *auth, size_t len, char *err)
{
    char buf[4096];
    size_t n, a = 0;
    FILE *f = fopen(path, "r");

    if (!f)
        return afd_err(err, AFD_EIO, "cannot read token file '%s': %s", path,
                       strerror(errno));
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    while (n && isspace((unsigned char)buf[n - 1]))
        buf[--n] = '\0';
    while (isspace((unsigned char)buf[a]))
        a++;
    if (!buf[a] || (size_t)snprintf(auth, len, "Bearer %s", buf + a) >= len)
        return afd_err(err, AFD_EINVAL,
                       "token file '%s' must hold one token of 1..%zu bytes",
                       path, len - 8);
    return AFD_OK;
}

/*
 * Loop responsiveness under load: a thread times one GetRecommendation
 * every LG_PROBE_EVERY_MS while the streams run. The daemon answers it on
 * the same loop thread that applies telemetry, so the latency shows how
 * long a unary control call waits behind telemetry work (the decision
 * latency itself is integration/loadgen_decide.c's figure).
 */
struct lg_probe {
    pthread_t thread;
    const char *target;
    atomic_bool stop;
    bool started;
    size_t n;
    double ms[LG_PROBE_MAX]; /* latencies of answered calls */
};

static void *probe_main(void *arg)
{
    struct lg_probe *p = arg;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    grpc_channel *ch = grpc_channel_create(p->target, creds, NULL);
    grpc_status_code st;
    double t0;
    long live;

    grpc_channel_credentials_release(creds);
    while (!atomic_load(&p->stop) && p->n < LG_PROBE_MAX) {
        t0 = afd_lg_now_s();
        live_instances_of(ch, "loadgen-00", &live, &st, NULL);
        /* NOT_FOUND before the first batch is an answer from the loop too. */
        if (st == GRPC_STATUS_OK || st == GRPC_STATUS_NOT_FOUND)
            p->ms[p->n++] = 1e3 * (afd_lg_now_s() - t0);
        usleep(LG_PROBE_EVERY_MS * 1000);
    }
    grpc_channel_destroy(ch);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static void probe_print(struct lg_probe *p)
{
    size_t n = p->n;

    if (!n) {
        printf("get_recommendation_p99_ms n/a (no answer)\n");
        return;
    }
    qsort(p->ms, n, sizeof(p->ms[0]), cmp_double);
    printf("get_recommendation_calls %zu\n", n);
    printf("get_recommendation_p50_ms %.2f\n", p->ms[(n - 1) / 2]);
    printf("get_recommendation_p99_ms %.2f\n",
           p->ms[(size_t)ceil(0.99 * (double)n) - 1]);
    printf("get_recommendation_max_ms %.2f\n", p->ms[n - 1]);
}

/* Peak resident set (VmHWM) of pid in MB; AFD_EIO when unreadable. */
static int peak_rss_mb(long pid, double *mb, char *err)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%ld/status", pid);
    f = fopen(path, "r");
    if (!f)
        return afd_err(err, AFD_EIO, "cannot open %s: %s", path,
                       strerror(errno));
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
            break;
    fclose(f);
    if (kb < 0)
        return afd_err(err, AFD_EIO, "no VmHWM line in %s", path);
    *mb = kb / 1024.0;
    return AFD_OK;
}

/* ------------------------------------------------------------ options */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: afd-loadgen (--target HOST:PORT [--daemon-pid PID] | "
            "--spawn-daemon BIN)\n"
            "                   [--connections N] [--threads N] "
            "[--instances N] [--ffn-ratio R]\n"
            "                   [--deployments N] [--batch-steps N] "
            "[--duration S] [--token-file PATH]\n"
            "                   [--smoke]\n"
            "  --target HOST:PORT  gRPC address of a running afd-sizer serve\n"
            "  --daemon-pid PID    its pid, for the peak RSS figure\n"
            "  --spawn-daemon BIN  start BIN serve on free loopback ports, "
            "stop it at the end\n"
            "  --token-file PATH   bearer token for Telemetry.Report (also "
            "given to a\n"
            "                      spawned daemon)\n"
            "  --connections N     channels, one Report stream each "
            "(default 4)\n"
            "  --threads N         worker threads, one completion queue each "
            "(default 2)\n"
            "  --instances N       Attention instances in all (default "
            "10000)\n"
            "  --ffn-ratio R       Attention instances per FFN instance "
            "(default 6)\n"
            "  --deployments N     deployments sharing them (default 4)\n"
            "  --batch-steps N     step samples per message (default 1000)\n"
            "  --duration S        seconds of streaming (default 10)\n"
            "  --smoke             about 2 s with small numbers; exit 0 when "
            "the daemon\n"
            "                      accepted everything sent\n");
}

/* Parses v as a number in [lo, hi]; AFD_EPARSE with the flag named. */
static int parse_num(const char *flag, const char *v, double lo, double hi,
                     double *out, char *err)
{
    char *end;
    double x;

    errno = 0;
    x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi))
        return afd_err(err, AFD_EPARSE,
                       "%s must be a number in [%g, %g], "
                       "got '%s'",
                       flag, lo, hi, v);
    *out = x;
    return AFD_OK;
}

static int parse_int(const char *flag, const char *v, int lo, int hi, int *out,
                     char *err)
{
    double x = 0;

    if (parse_num(flag, v, lo, hi, &x, err))
        return AFD_EPARSE;
    if (x != floor(x))
        return afd_err(err, AFD_EPARSE, "%s must be an integer, got '%s'", flag,
                       v);
    *out = (int)x;
    return AFD_OK;
}

/* Fills every option left at 0 with its default (smaller with --smoke). */
static void apply_defaults(struct afd_lg_options *o)
{
    if (!o->connections)
        o->connections = o->smoke ? 2 : 4;
    if (!o->threads)
        o->threads = 2;
    if (!o->instances)
        o->instances = o->smoke ? 200 : 10000;
    if (!o->ffn_ratio)
        o->ffn_ratio = 6;
    if (!o->deployments)
        o->deployments = o->smoke ? 2 : 4;
    if (!o->batch_steps)
        o->batch_steps = o->smoke ? 64 : 1000;
    if (!o->duration_s)
        o->duration_s = o->smoke ? 2 : 10;
}

static int parse_flag(struct afd_lg_options *o, const char *f, const char *v,
                      char *err)
{
    double pid = 0;

    if (!strcmp(f, "--target"))
        o->target = v;
    else if (!strcmp(f, "--spawn-daemon"))
        o->spawn_bin = v;
    else if (!strcmp(f, "--token-file"))
        o->token_file = v;
    else if (!strcmp(f, "--daemon-pid")) {
        if (parse_num(f, v, 1, 4194304, &pid, err))
            return AFD_EPARSE;
        o->daemon_pid = (long)pid;
    } else if (!strcmp(f, "--connections"))
        return parse_int(f, v, 1, 256, &o->connections, err);
    else if (!strcmp(f, "--threads"))
        return parse_int(f, v, 1, 64, &o->threads, err);
    else if (!strcmp(f, "--instances"))
        return parse_int(f, v, 1, 10000000, &o->instances, err);
    else if (!strcmp(f, "--ffn-ratio"))
        return parse_int(f, v, 1, 1024, &o->ffn_ratio, err);
    else if (!strcmp(f, "--deployments"))
        return parse_int(f, v, 1, 100, &o->deployments, err);
    else if (!strcmp(f, "--batch-steps"))
        return parse_int(f, v, 1, 100000, &o->batch_steps, err);
    else if (!strcmp(f, "--duration"))
        return parse_num(f, v, 0.1, 86400, &o->duration_s, err);
    else
        return afd_err(err, AFD_EPARSE, "unknown option '%s'", f);
    return AFD_OK;
}

/* AFD_EPARSE on a bad command line; AFD_EINVAL for --help. */
static int parse_options(int argc, char **argv, struct afd_lg_options *o,
                         char *err)
{
    int i;

    memset(o, 0, sizeof(*o));
    for (i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            o->smoke = true;
            continue;
        }
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            return AFD_EINVAL;
        if (i + 1 >= argc)
            return afd_err(err, AFD_EPARSE, "%s needs a value", argv[i]);
        if (parse_flag(o, argv[i], argv[i + 1], err))
            return AFD_EPARSE;
        i++;
    }
    apply_defaults(o);
    if (!o->target == !o->spawn_bin)
        return afd_err(err, AFD_EPARSE,
                       "give exactly one of --target and --spawn-daemon");
    if (o->spawn_bin && o->daemon_pid)
        return afd_err(err, AFD_EPARSE,
                       "--daemon-pid goes with --target, not --spawn-daemon");
    if (o->deployments > o->instances)
        return afd_err(err, AFD_EPARSE,
                       "--deployments (%d) exceeds --instances (%d)",
                       o->deployments, o->instances);
    if (afd_lg_population(o) < o->connections)
        return afd_err(err, AFD_EPARSE,
                       "--connections (%d) exceeds the %ld instances",
                       o->connections, afd_lg_population(o));
    return AFD_OK;
}

static void print_figures(const struct afd_lg_options *o, const char *target,
                          const struct afd_lg_totals *tt, long pid,
                          struct lg_probe *probe, struct afd_lg_decide *dec)
{
    double wall = tt->wall_s > 0 ? tt->wall_s : 1e-9;
    char err[AFD_ERR_LEN];
    double rss = 0;

    printf("config target=%s connections=%d threads=%d attention=%d "
           "population=%ld deployments=%d batch_steps=%d duration_s=%g "
           "cores=%ld (shared by daemon and generator)\n",
           target, o->connections, o->threads, o->instances,
           afd_lg_population(o), o->deployments, o->batch_steps, o->duration_s,
           sysconf(_SC_NPROCESSORS_ONLN));
    printf("wall_s %.3f\n", tt->wall_s);
    printf("sent_step_samples %llu\n", (unsigned long long)tt->sent.steps);
    printf("accepted_step_samples %llu\n",
           (unsigned long long)tt->accepted.steps);
    printf("accepted_requests %llu\n",
           (unsigned long long)tt->accepted.requests);
    printf("accepted_step_samples_per_s %.0f\n", tt->accepted.steps / wall);
    printf("sent_step_samples_per_s %.0f\n", tt->sent.steps / wall);
    printf("rejected %llu\n", (unsigned long long)tt->rejected);
    if (pid > 0)
        printf("daemon_pid %ld\n", pid);
    if (pid > 0 && peak_rss_mb(pid, &rss, err) == AFD_OK)
        printf("daemon_peak_rss_mb %.1f\n", rss);
    else
        printf("daemon_peak_rss_mb n/a (%s)\n",
               pid > 0 ? err : "no --daemon-pid");
    if (tt->daemon_cpu_s >= 0 && tt->accepted.steps) {
        printf("daemon_cpu_s %.2f\n", tt->daemon_cpu_s);
        printf("daemon_cpu_ns_per_step_sample %.0f\n",
               1e9 * tt->daemon_cpu_s / (double)tt->accepted.steps);
    }
    if (tt->live >= 0)
        printf("live_instances %ld\n", tt->live);
    else
        printf("live_instances n/a (GetRecommendation failed)\n");
    probe_print(probe);
    afd_lg_decide_print(dec);
    fflush(stdout);
}

/* The --smoke verdict: everything sent was accepted and nothing else. */
static bool smoke_ok(const struct afd_lg_options *o,
                     const struct afd_lg_totals *tt, bool spawned)
{
    bool ok = tt->failed_calls == 0 && tt->sent.steps > 0 &&
              tt->accepted.steps == tt->sent.steps &&
              tt->accepted.requests == tt->sent.requests &&
              tt->accepted.batches == tt->sent.batches && tt->rejected == 0;

    /* A fresh daemon knows exactly our population. */
    if (spawned && tt->live != afd_lg_population(o))
        ok = false;
    if (!ok)
        fprintf(stderr,
                "afd-loadgen: smoke failed: sent %llu steps/%llu requests/"
                "%llu batches, accepted %llu/%llu/%llu, rejected %llu, "
                "failed calls %d, live %ld of %ld\n",
                (unsigned long long)tt->sent.steps,
                (unsigned long long)tt->sent.requests,
                (unsigned long long)tt->sent.batches,
                (unsigned long long)tt->accepted.steps,
                (unsigned long long)tt->accepted.requests,
                (unsigned long long)tt->accepted.batches,
                (unsigned long long)tt->rejected, tt->failed_calls, tt->live,
                afd_lg_population(o));
    return ok;
}

static int run(const struct afd_lg_options *o, const char *target, long pid,
               bool spawned)
{
    struct lg_probe *probe = calloc(1, sizeof(*probe));
    struct afd_lg_decide *dec = calloc(1, sizeof(*dec));
    struct afd_lg_totals tt;
    char err[AFD_ERR_LEN];
    double cpu0, cpu1;
    int rc;

    if (!probe || !dec) {
        fprintf(stderr, "afd-loadgen: out of memory\n");
        free(probe);
        free(dec);
        return 1;
    }
    probe->target = target;
    atomic_init(&probe->stop, false);
    grpc_init();
    probe->started = !pthread_create(&probe->thread, NULL, probe_main, probe);
    if (afd_lg_decide_start(dec, target, o->auth, spawned ? LG_EVAL_MS : 0))
        fprintf(stderr, "afd-loadgen: cannot start the decision probe\n");
    cpu0 = cpu_s(pid);
    rc = afd_lg_stream(o, target, &tt, err);
    cpu1 = cpu_s(pid);
    if (probe->started) {
        atomic_store(&probe->stop, true);
        pthread_join(probe->thread, NULL);
    }
    afd_lg_decide_stop(dec);
    tt.daemon_cpu_s = cpu0 >= 0 && cpu1 >= 0 ? cpu1 - cpu0 : -1;
    if (rc) {
        fprintf(stderr, "afd-loadgen: %s\n", err);
        if (rc != AFD_ESTATE) /* else live gRPC objects: skip shutdown */
            grpc_shutdown();
        free(probe);
        free(dec);
        return 1;
    }
    tt.live = live_instances(o, target);
    grpc_shutdown();
    print_figures(o, target, &tt, pid, probe, dec);
    free(probe);
    free(dec);
    if (o->smoke && !smoke_ok(o, &tt, spawned))
        return 1;
    return tt.failed_calls ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct afd_lg_options o;
    struct afd_lg_daemon dm;
    char err[AFD_ERR_LEN], auth[1024];
    int rc;

    rc = parse_options(argc, argv, &o, err);
    if (rc == AFD_EINVAL) {
        usage(stdout);
        return 0;
    }
    if (rc) {
        fprintf(stderr, "afd-loadgen: %s\n", err);
        usage(stderr);
        return 2;
    }
    if (o.token_file) {
        if (load_token(o.token_file, auth, sizeof(auth), err)) {
            fprintf(stderr, "afd-loadgen: %s\n", err);
            return 2;
        }
        o.auth = auth;
    }
    memset(&dm, 0, sizeof(dm));
    dm.out_fd = -1;
    if (o.spawn_bin &&
        afd_lg_daemon_spawn(&dm, o.spawn_bin, o.token_file, err)) {
        fprintf(stderr, "afd-loadgen: %s\n", err);
        afd_lg_daemon_stop(&dm, NULL);
        return 1;
    }
    rc = run(&o, o.spawn_bin ? dm.grpc_addr : o.target,
             o.spawn_bin ? (long)dm.pid : o.daemon_pid, o.spawn_bin != NULL);
    if (o.spawn_bin && afd_lg_daemon_stop(&dm, err)) {
        fprintf(stderr, "afd-loadgen: %s\n", err);
        rc = 1;
    }
    return rc;
}
