/*
 * daemon.c - start-up, timers, signals and shutdown of `afd-sizer serve`
 * (see daemon.h).
 */
#include "plugin/daemon/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "estimator/base/error.h"
#include "plugin/daemon/alertmanager.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/dynamo.h"
#include "plugin/rpc/grpc_server.h"
#include "plugin/daemon/http.h"
#include "plugin/daemon/replication.h"
#include "plugin/daemon/security.h"
#include "plugin/daemon/services.h"
#include "plugin/daemon/snapshot.h"
#include "plugin/daemon/snapshot_writer.h"
#include "plugin/sys/os.h"

#define MAX_METHODS 32

struct afd_daemon {
    const struct afd_config *cfg;
    struct event_base *base;
    struct afd_registry *reg;
    struct afd_grpc_server *grpc;
    struct afd_http *http;
    struct event *sig_term;
    struct event *sig_int;
    struct event *snapshot;
    struct afd_snapshot_writer *writer; /* periodic saves, off the loop */
    struct event *tick; /* controller evaluation and KEDA refresh */
    struct afd_control *ctl;
    struct afd_alertmanager *am; /* NULL without alerting.alertmanager_url */
    struct afd_grpc_method methods[MAX_METHODS];
    size_t n_methods;
    struct afd_security sec;   /* TLS material and token (security.h) */
    struct afd_svc_env env;    /* what the services see (services.h) */
    struct afd_dynamo *dynamo; /* NULL unless dynamo.planner is set */
    char *dynamo_token;        /* RegisterRequest.auth_token, from a file */
    char *dynamo_pem[3];       /* TLS to the planner: CA, cert, key; NULL */
    struct afd_replication *repl; /* HA; NULL without ha.etcd_endpoints */
    int exit_code;
};

static struct timeval ms_to_tv(int ms)
{
    struct timeval tv;

    tv.tv_sec = ms / 1000;
    tv.tv_usec = (ms % 1000) * 1000;
    return tv;
}

/* The final save at shutdown: after the writer's last write, on the loop. */
static bool save_snapshot(struct afd_daemon *d)
{
    char err[AFD_ERR_LEN];

    if (d->writer)
        afd_snapshot_writer_drain(d->writer);
    if (!d->cfg->snapshot_path[0])
        return true;
    if (afd_snapshot_save(d->reg, d->cfg->snapshot_path, err)) {
        fprintf(stderr, "afd-sizer: snapshot save failed: %s\n", err);
        return false;
    }
    return true;
}

/*
 * The one timer of the controller clock. Wall clock: afd_control_tick
 * recomputes and evaluates every deployment (the only place a
 * recommendation is recomputed while running; reads never do). Telemetry
 * clock: evaluation happens inside ingest at each boundary, so the timer
 * only refreshes KEDA's StreamIsActive watchers.
 */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct afd_daemon *d = arg;

    afd_control_tick(d->ctl, afd_clock_steady_wall_ms());
    afd_svc_keda_tick(&d->env);
}

static void sink_command(const struct afd_control_command *cc, void *arg)
{
    struct afd_svc_env *env = arg;

    /* HA: write-ahead - sent once the state recording it is in etcd. */
    if (env->repl)
        afd_replication_command(env->repl, cc);
    else
        afd_svc_control_command(env, cc);
}

static void sink_alert(const struct afd_alert_event *ev, double r_star,
                       void *arg)
{
    afd_svc_control_alert(arg, ev, r_star);
}

/* The controller, its sink and (when configured) Alertmanager delivery. */
static int start_control(struct afd_daemon *d, char *err)
{
    const struct afd_alerting_config *a = &d->cfg->alerting;
    struct afd_control_sink sink = {sink_command, sink_alert, &d->env};
    struct timeval tv;
    char why[AFD_ERR_LEN];

    d->ctl = afd_control_new(d->cfg, d->reg, err);
    if (!d->ctl)
        return AFD_EINVAL;
    afd_control_set_sink(d->ctl, &sink);
    d->env.ctl = d->ctl;
    if (a->am.url[0]) {
        d->am = afd_alertmanager_new(d->base, &a->am, why);
        if (!d->am)
            return afd_err(err, AFD_EINVAL, "alerting: %s", why);
        afd_control_set_alertmanager(d->ctl, d->am);
    }
    d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
    if (!d->tick)
        return afd_err(err, AFD_ENOMEM, "cannot set up the controller timer");
    event_priority_set(d->tick, 0);
    tv = ms_to_tv(afd_control_tick_interval_ms(d->ctl));
    event_add(d->tick, &tv);
    return AFD_OK;
}

/* Periodic save: encoded here, written by the writer thread. */
static void on_snapshot(evutil_socket_t fd, short what, void *arg)
{
    struct afd_daemon *d = arg;
    char err[AFD_ERR_LEN];
    int rc;

    if (!d->writer)
        return;
    rc = afd_snapshot_writer_submit(d->writer, d->reg, err);
    if (rc && rc != AFD_ESTATE)
        fprintf(stderr, "afd-sizer: snapshot not saved: %s\n", err);
}

static void on_grpc_down(void *arg)
{
    struct afd_daemon *d = arg;

    if (!save_snapshot(d))
        d->exit_code = 1;
    event_base_loopbreak(d->base);
}

void afd_daemon_stop(struct afd_daemon *d)
{
    if (d->env.draining)
        return;
    d->env.draining = true;
    /* Before the shutdown ends the streams, so watchers see the change. */
    afd_svc_health_draining(&d->env);
    if (d->http)
        afd_http_set_ready(d->http, false);
    afd_grpc_server_shutdown(d->grpc, AFD_DAEMON_GRACE_MS, on_grpc_down, d);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct afd_daemon *d = arg;

    if (d->env.draining) {
        fprintf(stderr, "afd-sizer: second signal, exiting now\n");
        _exit(1);
    }
    fprintf(stderr, "afd-sizer: signal %d, shutting down\n", (int)sig);
    afd_daemon_stop(d);
}

static int build_methods(struct afd_daemon *d, char *err)
{
    const struct afd_grpc_method *(*const tables[])(size_t *) = {
        afd_svc_telemetry_methods, afd_svc_sizer_methods,
        afd_svc_health_methods,    afd_svc_keda_methods,
        afd_svc_control_methods,   afd_svc_dynamo_methods,
    };
    size_t t, i, n;

    d->n_methods = 0;
    for (t = 0; t < sizeof(tables) / sizeof(tables[0]); t++) {
        const struct afd_grpc_method *m = tables[t](&n);
        for (i = 0; i < n; i++) {
            if (d->n_methods == MAX_METHODS)
                return afd_err(err, AFD_ENOMEM, "too many grpc methods");
            d->methods[d->n_methods++] = m[i];
        }
    }
    return AFD_OK;
}

/* Restores the snapshot; a corrupt file is moved aside, not fatal. */
static int restore_snapshot(struct afd_daemon *d, char *err)
{
    const char *path = d->cfg->snapshot_path;
    char aside[AFD_PATH_LEN + 16];
    char why[AFD_ERR_LEN];
    int rc;

    if (!path[0])
        return AFD_OK;
    rc = afd_snapshot_restore(d->reg, d->ctl, path, why);
    if (rc == AFD_OK || rc == AFD_ENOTFOUND)
        return AFD_OK;
    if (rc != AFD_EPARSE)
        return afd_err(err, rc, "cannot restore snapshot: %s", why);
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    if (rename(path, aside))
        return afd_err(err, AFD_EIO,
                       "snapshot '%s' is corrupt (%s) and cannot be moved "
                       "aside: %s",
                       path, why, strerror(errno));
    fprintf(stderr,
            "afd-sizer: snapshot '%s' is corrupt (%s); moved to '%s', "
            "starting fresh\n",
            path, why, aside);
    return AFD_OK;
}

static int start_timers(struct afd_daemon *d, char *err)
{
    struct timeval tv;

    d->sig_term = evsignal_new(d->base, SIGTERM, on_signal, d);
    d->sig_int = evsignal_new(d->base, SIGINT, on_signal, d);
    if (!d->sig_term || !d->sig_int || evsignal_add(d->sig_term, NULL) ||
        evsignal_add(d->sig_int, NULL))
        return afd_err(err, AFD_ENOMEM, "cannot set up signals and timers");
    if (d->cfg->snapshot_path[0] && d->cfg->snapshot_interval_ms > 0) {
        d->writer = afd_snapshot_writer_new(d->cfg->snapshot_path, err);
        if (!d->writer)
            return AFD_ENOMEM;
        d->snapshot = event_new(d->base, -1, EV_PERSIST, on_snapshot, d);
        if (!d->snapshot)
            return afd_err(err, AFD_ENOMEM, "cannot set up snapshot timer");
        tv = ms_to_tv(d->cfg->snapshot_interval_ms);
        event_add(d->snapshot, &tv);
    }
    return AFD_OK;
}

/* "HOST:PORT" with a non-empty host and a decimal port <= 65535. */
static int check_listen(const char *what, const char *addr, char *err)
{
    const char *colon = strrchr(addr, ':');
    const char *p;

    if (!colon || colon == addr || !colon[1] || strlen(colon + 1) > 5)
        goto bad;
    for (p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            goto bad;
    if (atoi(colon + 1) > 65535)
        goto bad;
    return AFD_OK;
bad:
    return afd_err(err, AFD_EINVAL,
                   "%s listen address must be HOST:PORT (port 0-65535), "
                   "got '%s'",
                   what, addr);
}

/* A call refused for lack of the bearer token: counted, no deployment. */
static void on_unauthenticated(struct afd_grpc_call *call, void *ctx)
{
    afd_registry_count_reject(afd_svc_env(ctx)->reg, NULL,
                              AFD_REJECT_UNAUTHENTICATED);
}

/* The planner's auth token: the file's first line (security.h's rule). */
static int load_dynamo_token(struct afd_daemon *d, char *err)
{
    const char *path = d->cfg->dynamo.token_file;
    size_t len;
    int rc;

    if (!path[0])
        return AFD_OK;
    rc = afd_read_file(path, 4096, &d->dynamo_token, &len, err);
    if (rc)
        return rc;
    d->dynamo_token[strcspn(d->dynamo_token, "\r\n")] = '\0';
    if (!d->dynamo_token[0])
        return afd_err(err, AFD_EINVAL, "%s: dynamo token file is empty", path);
    return AFD_OK;
}

/* TLS toward the planner: the PEM files named in "dynamo" (config_dynamo.h). */
static int load_dynamo_tls(struct afd_daemon *d, char *err)
{
    const struct afd_dynamo_config *dc = &d->cfg->dynamo;
    const char *path[3] = {dc->tls_ca_file, dc->tls_cert_file,
                           dc->tls_key_file};
    size_t len;
    int i, rc;

    if (!dc->tls_ca_file[0] && (dc->tls_cert_file[0] || dc->tls_key_file[0]))
        return afd_err(err, AFD_EINVAL,
                       "dynamo.tls_cert_file/tls_key_file need "
                       "dynamo.tls_ca_file (--dynamo-tls-ca)");
    if (!dc->tls_cert_file[0] != !dc->tls_key_file[0])
        return afd_err(err, AFD_EINVAL,
                       "dynamo.tls_cert_file and dynamo.tls_key_file go "
                       "together (--dynamo-tls-cert, --dynamo-tls-key)");
    for (i = 0; i < 3; i++)
        if (path[i][0] && (rc = afd_read_file(path[i], 1 << 20,
                                              &d->dynamo_pem[i], &len, err)))
            return rc;
    return AFD_OK;
}

static int start_servers(struct afd_daemon *d, char *err)
{
    struct afd_grpc_server_config gc;
    char grpc_addr[AFD_ADDR_LEN];
    char http_addr[AFD_ADDR_LEN];
    char sec_line[256];
    struct afd_metrics_src src;

    if (build_methods(d, err))
        return AFD_ENOMEM;
    memset(&gc, 0, sizeof(gc));
    gc.listen = d->cfg->grpc_listen;
    gc.max_message_bytes = d->cfg->max_message_bytes;
    gc.max_stream_queue = d->cfg->max_stream_queue;
    gc.max_streams = d->cfg->max_streams;
    gc.tls_cert_pem = d->sec.cert_pem;
    gc.tls_key_pem = d->sec.key_pem;
    gc.tls_client_ca_pem = d->sec.client_ca_pem;
    gc.token = d->sec.token;
    gc.token_len = d->sec.token_len;
    gc.on_unauthenticated = on_unauthenticated;
    d->grpc = afd_grpc_server_start(d->base, &gc, d->methods, d->n_methods,
                                    &d->env, grpc_addr, err);
    if (!d->grpc)
        return AFD_EIO;
    d->env.grpc = d->grpc;
    if (d->cfg->ha.endpoints[0]) {
        d->repl = afd_replication_new(d->base, &d->cfg->ha, grpc_addr, &d->env,
                                      err);
        if (!d->repl)
            return AFD_EIO;
        d->env.repl = d->repl;
        afd_control_set_leader_gate(d->ctl, afd_replication_gate, d->repl);
    }
    if (d->cfg->dynamo.planner[0]) {
        d->dynamo =
            afd_dynamo_start(&d->cfg->dynamo, grpc_addr, d->dynamo_token,
                             (const char *const *)d->dynamo_pem, err);
        if (!d->dynamo)
            return AFD_EIO;
    }
    src.dynamo = d->dynamo;
    src.reg = d->reg;
    src.ctl = d->ctl;
    src.am = d->am;
    src.writer = d->writer;
    src.grpc = d->grpc;
    src.repl = d->repl;
    d->http =
        afd_http_start(d->base, d->cfg->http_listen, &src, http_addr, err);
    if (!d->http)
        return AFD_EIO;
    afd_security_describe(&d->sec, d->cfg->grpc_listen, sec_line,
                          sizeof(sec_line));
    printf("afd-sizer: %s\n", sec_line);
    /* gRPC and the layer hold their own copies: wipe ours (the key). */
    afd_security_release(&d->sec);
    printf("afd-sizer: grpc listening on %s\n", grpc_addr);
    printf("afd-sizer: http listening on %s\n", http_addr);
    printf("afd-sizer: ready\n");
    fflush(stdout);
    afd_http_set_ready(d->http, true);
    return AFD_OK;
}

struct afd_daemon *afd_daemon_new(const struct afd_config *cfg,
                                  bool *usage_error, char *err)
{
    struct afd_daemon *d;

    if (usage_error)
        *usage_error = false;
    d = calloc(1, sizeof(*d));
    if (!d) {
        afd_err(err, AFD_ENOMEM, "out of memory starting the daemon");
        return NULL;
    }
    d->cfg = cfg;
    /* Config errors first: nothing restored, renamed or bound yet. */
    if (check_listen("grpc", cfg->grpc_listen, err) ||
        check_listen("http", cfg->http_listen, err) ||
        afd_security_load(&d->sec, cfg, err) || load_dynamo_token(d, err) ||
        load_dynamo_tls(d, err)) {
        if (usage_error)
            *usage_error = true;
        goto fail;
    }
    /* Lets the gRPC completion thread wake the loop with event_active. */
    if (evthread_use_pthreads()) {
        afd_err(err, AFD_EIO, "libevent has no pthreads support");
        goto fail;
    }
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (RLIMIT_FSIZE) hit by a snapshot write must fail
     * that write with EFBIG (counted, old file kept), not kill the daemon. */
    signal(SIGXFSZ, SIG_IGN);
    d->base = event_base_new();
    /*
     * Priorities: 0 the controller timer (decision latency), 1 (the
     * default) everything else, 2 the gRPC layer's wake-ups, so a telemetry
     * backlog never delays a timer (plugin/rpc/grpc_internal.h).
     */
    if (!d->base || event_base_priority_init(d->base, 3)) {
        afd_err(err, AFD_EIO, "cannot create the event loop");
        goto fail;
    }
    d->reg = afd_registry_new(cfg, err);
    if (!d->reg) {
        if (usage_error)
            *usage_error = true;
        goto fail;
    }
    d->env.reg = d->reg;
    d->env.cfg = cfg;
    d->env.now_ms = afd_clock_steady_wall_ms; /* immune to clock steps */
    /* A bad controller/alerting section is the configuration's fault. */
    if (start_control(d, err)) {
        if (usage_error)
            *usage_error = true;
        goto fail;
    }
    if (start_timers(d, err) || restore_snapshot(d, err) ||
        start_servers(d, err))
        goto fail;
    return d;
fail:
    afd_daemon_free(d);
    return NULL;
}

int afd_daemon_run(struct afd_daemon *d)
{
    if (event_base_dispatch(d->base) < 0) {
        fprintf(stderr, "afd-sizer: event loop failed\n");
        return 1;
    }
    return d->exit_code;
}

void afd_daemon_free(struct afd_daemon *d)
{
    int i;

    if (!d)
        return;
    if (d->snapshot)
        event_free(d->snapshot);
    if (d->tick)
        event_free(d->tick);
    if (d->sig_int)
        event_free(d->sig_int);
    if (d->sig_term)
        event_free(d->sig_term);
    afd_snapshot_writer_free(d->writer);
    afd_http_free(d->http);
    /* A leader revokes its lease here: the next one takes over at once. */
    afd_replication_free(d->repl);
    afd_dynamo_free(d->dynamo); /* Unregister, after the loop ended */
    if (d->dynamo_token)
        memset(d->dynamo_token, 0, strlen(d->dynamo_token));
    free(d->dynamo_token);
    for (i = 0; i < 3; i++) {
        if (d->dynamo_pem[i])
            memset(d->dynamo_pem[i], 0, strlen(d->dynamo_pem[i]));
        free(d->dynamo_pem[i]);
    }
    afd_grpc_server_free(d->grpc);
    afd_alertmanager_free(d->am);
    afd_control_free(d->ctl);
    afd_registry_free(d->reg);
    afd_security_release(&d->sec);
    if (d->base)
        event_base_free(d->base);
    free(d);
}
