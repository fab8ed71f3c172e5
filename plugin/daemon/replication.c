/*
 * replication.c - the daemon's side of HA (contract in replication.h).
 */
#include "plugin/daemon/replication.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/services.h"
#include "plugin/daemon/snapshot.h"
#include "plugin/sys/os.h"

/* Commands waiting for their state to be durable; a leader issues at most
 * one per deployment at a time, so this bounds the deployments in flight
 * within one etcd round trip. */
#define MAX_HELD 256

struct held {
    struct afd_control_command cc;
    uint64_t seq; /* afd_ha_write_state sequence that records it */
};

struct afd_replication {
    struct afd_svc_env *env;
    struct afd_ha *ha;
    struct event *wake;  /* activated by the worker (any thread) */
    struct event *timer; /* periodic write / take */
    struct held held[MAX_HELD];
    size_t n_held;
    uint64_t dropped; /* held commands dropped on losing leadership */
    uint64_t restores, restore_failures;
    enum afd_ha_role logged_role;
    int64_t logged_epoch;
    char logged_leader[AFD_HA_ADDR_LEN];
};

static int64_t now_mono(void)
{
    return afd_clock_mono_ms();
}

bool afd_replication_gate(void *arg, int64_t *epoch)
{
    struct afd_replication *r = arg;

    return afd_ha_can_command(r->ha, now_mono(), epoch);
}

/* Encodes the whole state and queues it; the sequence, 0 if not leader. */
static uint64_t write_now(struct afd_replication *r)
{
    char err[AFD_ERR_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    uint64_t seq;
    int64_t epoch;

    if (!afd_ha_can_command(r->ha, now_mono(), &epoch))
        return 0;
    if (afd_snapshot_encode(r->env->reg, &buf, &len, err)) {
        fprintf(stderr, "afd-sizer: ha: state not replicated: %s\n", err);
        return 0;
    }
    seq = afd_ha_write_state(r->ha, buf, len);
    free(buf);
    return seq;
}

/* Sends what is durable; drops everything if no longer leader. */
static void release_held(struct afd_replication *r)
{
    uint64_t written = afd_ha_written(r->ha);
    int64_t epoch;
    bool leader = afd_ha_can_command(r->ha, now_mono(), &epoch);
    size_t i, kept = 0;

    for (i = 0; i < r->n_held; i++) {
        struct held *h = &r->held[i];

        if (!leader || h->cc.leader_epoch != epoch) {
            fprintf(stderr,
                    "afd-sizer: ha: command %llu for '%s' not sent: "
                    "leadership lost before it was durable\n",
                    (unsigned long long)h->cc.cmd.id, h->cc.cmd.deployment);
            r->dropped++;
        } else if (h->seq <= written) {
            afd_svc_control_command(r->env, &h->cc);
        } else {
            r->held[kept++] = *h;
        }
    }
    r->n_held = kept;
}

static void log_role(struct afd_replication *r)
{
    struct afd_ha_status st;

    afd_ha_status(r->ha, now_mono(), &st);
    if (st.role == r->logged_role && st.epoch == r->logged_epoch &&
        !strcmp(st.leader_addr, r->logged_leader))
        return;
    r->logged_role = st.role;
    r->logged_epoch = st.epoch;
    snprintf(r->logged_leader, sizeof(r->logged_leader), "%s", st.leader_addr);
    if (st.role == AFD_HA_LEADER)
        fprintf(stderr, "afd-sizer: ha: leader (epoch %lld)\n",
                (long long)st.epoch);
    else
        fprintf(stderr, "afd-sizer: ha: follower (leader %s)\n",
                st.leader_addr[0] ? st.leader_addr : "unknown");
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
    struct afd_replication *r = arg;
    char err[AFD_ERR_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;

    if (afd_ha_take_state(r->ha, &buf, &len)) {
        if (len && afd_snapshot_restore_bytes(r->env->reg, r->env->ctl, buf,
                                              len, err)) {
            r->restore_failures++;
            fprintf(stderr, "afd-sizer: ha: replicated state ignored: %s\n",
                    err);
        } else if (len) {
            r->restores++;
        }
        free(buf);
        afd_svc_keda_tick(r->env);
    }
    release_held(r);
    log_role(r);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct afd_replication *r = arg;

    (void)write_now(r);
    on_wake(fd, what, r);
}

/* The worker's notify, on its thread: event_active is thread-safe once
 * evthread_use_pthreads() ran (the daemon does it first). */
static void notify(void *arg)
{
    struct afd_replication *r = arg;

    event_active(r->wake, EV_READ, 0);
}

struct afd_replication *afd_replication_new(struct event_base *base,
                                            const struct afd_ha_config *cfg,
                                            const char *grpc_addr,
                                            struct afd_svc_env *env, char *err)
{
    struct afd_replication *r = calloc(1, sizeof(*r));
    struct timeval tv;

    if (!r) {
        afd_err(err, AFD_ENOMEM, "ha: out of memory");
        return NULL;
    }
    r->env = env;
    r->logged_role = AFD_HA_FOLLOWER;
    r->logged_epoch = -1;
    r->wake = event_new(base, -1, 0, on_wake, r);
    r->timer = event_new(base, -1, EV_PERSIST, on_timer, r);
    if (!r->wake || !r->timer) {
        afd_err(err, AFD_ENOMEM, "ha: cannot set up events");
        afd_replication_free(r);
        return NULL;
    }
    r->ha = afd_ha_start(cfg, grpc_addr, notify, r, err);
    if (!r->ha) {
        afd_replication_free(r);
        return NULL;
    }
    tv.tv_sec = cfg->state_interval_ms / 1000;
    tv.tv_usec = (cfg->state_interval_ms % 1000) * 1000;
    event_add(r->timer, &tv);
    return r;
}

void afd_replication_free(struct afd_replication *r)
{
    if (!r)
        return;
    afd_ha_free(r->ha); /* joins the worker: no notify after this */
    if (r->wake)
        event_free(r->wake);
    if (r->timer)
        event_free(r->timer);
    free(r);
}

void afd_replication_command(struct afd_replication *r,
                             const struct afd_control_command *cc)
{
    uint64_t seq;

    if (cc->advisory) { /* a report, not state: nothing to make durable */
        afd_svc_control_command(r->env, cc);
        return;
    }
    seq = write_now(r);
    if (!seq || r->n_held == MAX_HELD) {
        fprintf(stderr, "afd-sizer: ha: command %llu for '%s' not sent: %s\n",
                (unsigned long long)cc->cmd.id, cc->cmd.deployment,
                seq ? "too many commands waiting for etcd"
                    : "not the leader any more");
        r->dropped++;
        return;
    }
    r->held[r->n_held].cc = *cc;
    r->held[r->n_held].seq = seq;
    r->n_held++;
}

void afd_replication_state_changed(struct afd_replication *r)
{
    if (r)
        (void)write_now(r);
}

bool afd_replication_refuse(struct afd_replication *r, char *addr, size_t cap,
                            bool *leader_known)
{
    struct afd_ha_status st;

    *leader_known = false;
    if (!r)
        return false;
    afd_ha_status(r->ha, now_mono(), &st);
    if (st.may_command)
        return false;
    if (st.role == AFD_HA_FOLLOWER && st.leader_addr[0]) {
        snprintf(addr, cap, "%s", st.leader_addr);
        *leader_known = true;
    }
    return true;
}

static void gauge(struct evbuffer *out, const char *name, const char *help,
                  long long v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s %lld\n", name,
                        help, name, name, v);
}

static void counter(struct evbuffer *out, const char *name, const char *help,
                    uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", name,
                        help, name, name, (unsigned long long)v);
}

void afd_replication_metrics(struct afd_replication *r, struct evbuffer *out)
{
    struct afd_ha_status st;
    const char *help = "1 while this replica may command (always on a single "
                       "node), else 0";

    if (!r) { /* a single node is its own leader */
        gauge(out, "afd_leader", help, 1);
        return;
    }
    afd_ha_status(r->ha, now_mono(), &st);
    gauge(out, "afd_leader", help, st.may_command);
    counter(out, "afd_leader_changes_total",
            "Times this replica became or stopped being the leader",
            st.leader_changes);
    gauge(out, "afd_ha_epoch",
          "Highest leader epoch (fencing token) this replica has seen",
          (long long)st.epoch_seen);
    gauge(out, "afd_ha_etcd_up", "1 when the last etcd call succeeded",
          st.etcd_up);
    counter(out, "afd_ha_state_writes_total",
            "Replicated state writes applied in etcd", st.state_writes);
    counter(out, "afd_ha_state_write_failures_total",
            "Replicated state writes that failed or were fenced off",
            st.state_write_failures);
    counter(out, "afd_ha_state_reads_total",
            "New replicated states read from etcd", st.state_reads);
    counter(out, "afd_ha_state_restore_failures_total",
            "Replicated states that did not decode (ignored)",
            r->restore_failures);
    counter(out, "afd_ha_commands_dropped_total",
            "Commands not sent because leadership ended before they were "
            "durable",
            r->dropped);
    evbuffer_add_printf(out,
                        "# HELP afd_ha_state_age_seconds Since the last "
                        "successful state read or write (-1: never)\n"
                        "# TYPE afd_ha_state_age_seconds gauge\n"
                        "afd_ha_state_age_seconds %.3f\n",
                        st.state_read_age_ms < 0
                            ? -1.0
                            : (double)st.state_read_age_ms / 1000.0);
}

void afd_replication_readyz(struct afd_replication *r, char *buf, size_t cap)
{
    struct afd_ha_status st;

    if (!r || !cap)
        return;
    afd_ha_status(r->ha, now_mono(), &st);
    if (st.may_command)
        snprintf(buf, cap, "ha: leader (epoch %lld)\n", (long long)st.epoch);
    else if (!st.etcd_up && st.last_error[0])
        snprintf(buf, cap, "ha: etcd unreachable, read-only: %s\n",
                 st.last_error);
    else
        snprintf(buf, cap, "ha: follower (leader %s)\n",
                 st.leader_addr[0] ? st.leader_addr : "unknown");
}
