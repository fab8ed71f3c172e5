/* live.c - the closed loop: fleet, telemetry windows, commands, acks. */
#include "integration/sim/live.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/policy.h"
#include "estimator/base/error.h"
#include "plugin/rpc/grpc_client.h"
#include "integration/sim/fleet.h"
#include "integration/sim/live_planner.h"
#include "integration/sim/live_report.h"
#include "proto/afd_sizer.pb-c.h"

#define M_RECOMMEND    "/afd.sizer.v1.Sizer/GetRecommendation"
#define M_WATCH_CMDS   "/afd.sizer.v1.Sizer/WatchCommands"
#define M_ACK          "/afd.sizer.v1.Sizer/AckCommand"
#define M_WATCH_ALRT   "/afd.sizer.v1.Sizer/WatchAlerts"
#define ID_LEN         96
#define MAX_BUFFERED   (1 << 22) /* samples or requests in one window */
#define CMD_WAIT_MS    5000      /* for a command the summary announced */
#define ALERT_DRAIN_MS 300
#define MAX_PENDING    64
#define CLOCK_SLACK_MS 60000.0 /* issued_ms this far off: not our clock */
#define ADDR_LEN       256
#define MAX_REPLICAS   8
#define FOLLOW_TRIES   200 /* x FOLLOW_WAIT_MS: 20 s to find a leader */
#define FOLLOW_WAIT_MS 100

struct pending {
    uint64_t id;
    long target;
    double due_ms; /* scenario ms */
    bool applied, acked;
    size_t event;        /* index in out->commands */
    unsigned acked_conn; /* connection the ack went to */
};

struct live {
    const struct afd_scenario *s;
    const struct afd_live_options *o;
    struct afd_run_result *out;
    struct afd_fleet *f;
    struct afd_grpc_client *cli;
    struct afd_grpc_reader *cmds, *alerts;
    /* HA: the replicas given (--plugin A,B,C), the one we talk to */
    char replica[MAX_REPLICAS][ADDR_LEN];
    size_t n_replicas, cur;
    char addr[ADDR_LEN];
    unsigned conn;      /* connections made; 1 = the first */
    int64_t epoch_seen; /* highest ScaleCommand.leader_epoch */
    char (*attn_id)[ID_LEN];
    char (*ffn_id)[ID_LEN];
    long max_ffn;
    long cap_x; /* Attention capacity: the option, or its automatic value */
    /* the window's telemetry */
    Afd__Sizer__V1__StepSample *smp;
    size_t n_smp, cap_smp;
    double *req; /* pairs (P, D) */
    size_t n_req, cap_req;
    /* commands */
    uint64_t last_seen;
    bool warned_clock, warned_cmd;
    uint64_t n_decisions; /* planner actuation: ids of its decisions */
    struct pending pend[MAX_PENDING];
    size_t n_pend;
    /* time and accounting */
    double sim_ms;
    size_t phase;
    double phase_end_ms;
    struct afd_fleet_totals at_phase, at_point;
    double next_point_ms;
};

static int grow(void **a, size_t *cap, size_t n, size_t sz, char *err)
{
    size_t nc;
    void *p;

    if (n < *cap)
        return AFD_OK;
    if (n >= MAX_BUFFERED)
        return afd_err(err, AFD_ENOMEM,
                       "more than %d telemetry items in one window: use a "
                       "shorter --window-s or a larger --sample-every",
                       MAX_BUFFERED);
    nc = *cap ? 2 * *cap : 1024;
    p = realloc(*a, nc * sz);
    if (!p)
        return afd_err(err, AFD_ENOMEM, "out of memory for telemetry");
    *a = p;
    *cap = nc;
    return AFD_OK;
}

static void on_finish(void *ctx, int64_t prompt, int64_t decode)
{
    struct live *l = ctx;

    /* on overflow the request is skipped: the estimate only thins */
    if (grow((void **)&l->req, &l->cap_req, 2 * l->n_req + 1, sizeof(*l->req),
             NULL))
        return;
    l->req[2 * l->n_req] = (double)prompt;
    l->req[2 * l->n_req + 1] = (double)decode;
    l->n_req++;
}

/* Step samples of every instance for the step just timed. */
static int add_samples(struct live *l, const struct afd_sim_step_info *info,
                       int64_t ts)
{
    const struct afd_profile *p = &l->s->profile;
    const int64_t *load = afd_fleet_loads(l->f);
    long x = afd_fleet_attention(l->f), y = afd_fleet_ffn(l->f);
    long b = afd_fleet_batch(l->f), j;
    uint64_t step = (uint64_t)afd_fleet_now(l->f);
    int rc;

    for (j = 0; j < x + y; j++) {
        Afd__Sizer__V1__StepSample *m;
        rc = grow((void **)&l->smp, &l->cap_smp, l->n_smp, sizeof(*l->smp),
                  NULL);
        if (rc)
            return afd_err(NULL, rc, "telemetry buffer full");
        m = &l->smp[l->n_smp++];
        afd__sizer__v1__step_sample__init(m);
        m->step = step;
        m->timestamp_ms = ts;
        m->comm_ms = info->t_comm;
        if (j < x) {
            m->instance_id = l->attn_id[j];
            m->role = AFD__SIZER__V1__ROLE__ROLE_ATTENTION;
            m->batch_size = (double)b;
            m->token_load = (double)load[j];
            m->attention_ms = afd_fleet_stage_scale(l->f, AFD_SIM_ATTENTION) *
                              afd_profile_t_attention(p, (double)load[j]);
        } else {
            m->instance_id = l->ffn_id[j - x];
            m->role = AFD__SIZER__V1__ROLE__ROLE_FFN;
            m->ffn_tokens = (double)x * (double)b / (double)y;
            m->ffn_ms = info->t_ffn;
        }
    }
    return AFD_OK;
}

static double scen_s(int64_t ms)
{
    return (double)(ms - AFD_LIVE_EPOCH_MS) / 1000.0;
}

/* Books the fleet's totals since *since into the phase or the point. */
static void delta(const struct afd_fleet_totals *now,
                  const struct afd_fleet_totals *since, double *tokens,
                  double *dev, double *time, double *attn)
{
    *tokens = now->tokens - since->tokens;
    *dev = now->device_ms - since->device_ms;
    *time = now->time_ms - since->time_ms;
    *attn = now->attention_ms - since->attention_ms;
}

static void close_phase(struct live *l)
{
    struct afd_phase_outcome *o = &l->out->phase[l->phase];
    struct afd_fleet_totals t;

    afd_fleet_totals(l->f, &t);
    delta(&t, &l->at_phase, &o->tokens, &o->device_ms, &o->time_ms,
          &o->attention_ms);
    l->at_phase = t;
}

/*
 * A timeline point now; with_model asks the daemon for r* and the regime at
 * the current ratio (Recommendation.current_regime: the daemon's x/y, which
 * lags a resize until the new instances report). Without it the latest
 * known values carry over.
 */
static int add_point(struct live *l, bool with_model, char *err)
{
    struct afd_timeline_point tp;
    struct afd_fleet_totals t;
    double tok, dev, tm, at;

    afd_fleet_totals(l->f, &t);
    delta(&t, &l->at_point, &tok, &dev, &tm, &at);
    l->at_point = t;
    memset(&tp, 0, sizeof(tp));
    tp.t_s = l->sim_ms / 1000.0;
    tp.phase = (int)l->phase;
    tp.attention = afd_fleet_attention(l->f);
    tp.ffn = afd_fleet_ffn(l->f);
    tp.throughput_per_device = dev > 0 ? tok / dev : NAN;
    tp.r_star = NAN;
    tp.r_star_barrier = NAN;
    if (l->out->n_timeline > 0) { /* carry the latest known values */
        const struct afd_timeline_point *prev =
            &l->out->timeline[l->out->n_timeline - 1];
        if (!(dev > 0))
            tp.throughput_per_device = prev->throughput_per_device;
        tp.r_star = prev->r_star;
        tp.r_star_barrier = prev->r_star_barrier;
        memcpy(tp.regime, prev->regime, sizeof(tp.regime));
    }
    if (with_model) {
        Afd__Sizer__V1__GetRecommendationRequest q =
            AFD__SIZER__V1__GET_RECOMMENDATION_REQUEST__INIT;
        Afd__Sizer__V1__Recommendation *rec = NULL;
        q.deployment = (char *)l->o->deployment;
        if (afd_grpc_client_unary(l->cli, M_RECOMMEND, &q.base,
                                  &afd__sizer__v1__recommendation__descriptor,
                                  (ProtobufCMessage **)&rec,
                                  l->o->rpc_timeout_ms, err) == 0) {
            if (rec->valid) {
                tp.r_star = rec->r_star;
                tp.r_star_barrier =
                    rec->has_barrier ? rec->r_star_barrier : NAN;
                if (rec->current_regime >= 1 && rec->current_regime <= 3)
                    snprintf(tp.regime, sizeof(tp.regime), "%s",
                             afd_regime_name(
                                 (enum afd_regime)(rec->current_regime - 1)));
            }
            protobuf_c_message_free_unpacked(&rec->base, NULL);
        }
    }
    return afd_run_add_timeline(l->out, &tp, err);
}

/* Applies due commands at the current step boundary. */
static int apply_due(struct live *l, char *err)
{
    size_t i;
    int rc;

    for (i = 0; i < l->n_pend; i++) {
        struct pending *p = &l->pend[i];
        if (p->applied || l->sim_ms < p->due_ms)
            continue;
        p->applied = true;
        if (p->target < 1 || p->target > l->cap_x)
            continue; /* acked as a failure */
        rc = afd_fleet_resize(l->f, p->target, err);
        if (rc)
            return rc;
        l->out->commands[p->event].applied_t_s = l->sim_ms / 1000.0;
        rc = add_point(l, false, err);
        if (rc)
            return rc;
    }
    return AFD_OK;
}

/* Simulates up to end_ms, collecting the window's telemetry. */
static int simulate_window(struct live *l, double end_ms, char *err)
{
    struct afd_sim_step_info info;
    const struct afd_scenario *s = l->s;
    int rc;

    while (l->sim_ms < end_ms) {
        if (l->sim_ms >= l->phase_end_ms && l->phase + 1 < s->n_phases) {
            const struct afd_scenario_phase *ph = &s->phases[l->phase + 1];
            struct afd_fleet_phase fp = {
                &ph->gen, ph->batch, ph->ffn,
                afd_scenario_phase_seed(s->seed, l->phase + 1),
                afd_scenario_phase_start_s(s, l->phase + 1)};
            rc = add_point(l, false, err); /* the old phase's last point */
            if (rc)
                return rc;
            close_phase(l);
            l->phase++;
            rc = afd_fleet_set_phase(l->f, &fp, err);
            if (!rc)
                rc = add_point(l, false, err);
            if (rc)
                return rc;
            l->phase_end_ms += ph->duration_s * 1000.0;
            if (!l->o->quiet)
                fprintf(stderr, "afd-sim: t = %.0f s: phase '%s'\n",
                        l->sim_ms / 1000.0, ph->name);
        }
        rc = apply_due(l, err);
        if (rc)
            return rc;
        afd_fleet_step(l->f, &info);
        l->sim_ms += info.step;
        if (afd_fleet_now(l->f) % l->o->sample_every == 0) {
            rc = add_samples(l, &info,
                             AFD_LIVE_EPOCH_MS + (int64_t)llround(l->sim_ms));
            if (rc)
                return afd_err(err, rc, "telemetry buffer full at t = %.0f s",
                               l->sim_ms / 1000.0);
        }
    }
    return AFD_OK;
}

/* Sleeps ms of wall time (before a retry). */
static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* (Re)connects to addr: client, WatchCommands and WatchAlerts readers. */
static int connect_to(struct live *l, const char *addr, char *err)
{
    Afd__Sizer__V1__WatchCommandsRequest wc =
        AFD__SIZER__V1__WATCH_COMMANDS_REQUEST__INIT;
    Afd__Sizer__V1__WatchAlertsRequest wa =
        AFD__SIZER__V1__WATCH_ALERTS_REQUEST__INIT;

    afd_grpc_reader_free(l->cmds);
    afd_grpc_reader_free(l->alerts);
    afd_grpc_client_free(l->cli);
    l->cmds = l->alerts = NULL;
    snprintf(l->addr, sizeof(l->addr), "%s", addr);
    l->conn++;
    l->cli = afd_grpc_client_new(addr, getenv("AFD_TOKEN"), err);
    if (!l->cli)
        return AFD_EIO;
    /* "" = every deployment: ours may not exist before its first batch */
    wc.deployment = "";
    wa.deployment = "";
    l->cmds = afd_grpc_reader_start(l->cli, M_WATCH_CMDS, &wc.base,
                                    &afd__sizer__v1__scale_command__descriptor,
                                    1024, err);
    if (!l->cmds)
        return AFD_EIO;
    l->alerts = afd_grpc_reader_start(l->cli, M_WATCH_ALRT, &wa.base,
                                      &afd__sizer__v1__regime_alert__descriptor,
                                      1024, err);
    return l->alerts ? AFD_OK : AFD_EIO;
}

/*
 * HA: after a call failed with why, finds the leader and reconnects. A
 * follower names it ("leader=HOST:PORT" in FAILED_PRECONDITION); else
 * (UNAVAILABLE, a dead peer) the next replica of the list is tried.
 * AFD_OK when reconnected (the caller retries), the original error when
 * the failure is not one a leader change explains or only one address was
 * given.
 */
static int follow_leader(struct live *l, int rc, char *why)
{
    const char *p = strstr(why, "leader=");
    char next[ADDR_LEN], err[AFD_ERR_LEN];
    size_t n;

    if (l->n_replicas < 2 ||
        !(strstr(why, "FAILED_PRECONDITION") || strstr(why, "UNAVAILABLE") ||
          strstr(why, "DEADLINE_EXCEEDED") || strstr(why, "CANCELLED")))
        return rc;
    if (p) {
        p += strlen("leader=");
        n = strcspn(p, " \t\n;,");
        snprintf(next, sizeof(next), "%.*s", (int)(n < ADDR_LEN ? n : 0), p);
    } else {
        l->cur = (l->cur + 1) % l->n_replicas;
        snprintf(next, sizeof(next), "%s", l->replica[l->cur]);
    }
    pause_ms(FOLLOW_WAIT_MS);
    if (!l->o->quiet)
        fprintf(stderr, "afd-sim: %s; trying %s\n", why, next);
    return connect_to(l, next, err) ? rc : AFD_OK;
}

/* Sends the window in one Report call (live_report.h); returns its
 * summary. */
static int report_window(struct live *l, Afd__Sizer__V1__ReportSummary **sum,
                         char *err)
{
    int rc = afd_live_report(l->cli, l->o->deployment, l->smp, l->n_smp, l->req,
                             l->n_req, l->o->max_requests, l->o->rpc_timeout_ms,
                             sum, err);

    if (rc == AFD_OK) { /* kept for a retry against another replica */
        l->n_smp = 0;
        l->n_req = 0;
    }
    return rc;
}

/* Simulated s from a command to its resize: the scenario's delay for the
 * direction when it gives one, else --actuation-delay. */
static double delay_s(const struct live *l, long from, long to)
{
    double d = to > from ? l->s->scale_out_delay_s : l->s->scale_in_delay_s;

    return d >= 0 ? d : l->o->actuation_delay_s;
}

/* Records ev (t_s, id, from, to, regime, reason set) and queues its
 * resize at t_s + the delay of its direction. */
static int schedule(struct live *l, struct afd_command_event *ev, char *err)
{
    struct pending *p;
    int rc;

    if (l->n_pend == MAX_PENDING) { /* keep the unfinished ones */
        size_t k = 0;
        for (size_t i = 0; i < l->n_pend; i++)
            if (!l->pend[i].applied || !l->pend[i].acked)
                l->pend[k++] = l->pend[i];
        l->n_pend = k;
        if (k == MAX_PENDING)
            return afd_err(err, AFD_ENOMEM, "%d commands not acked",
                           MAX_PENDING);
    }
    ev->applied_t_s = NAN;
    rc = afd_run_add_command(l->out, ev, err);
    if (rc)
        return rc;
    p = &l->pend[l->n_pend++];
    memset(p, 0, sizeof(*p));
    p->id = ev->id;
    p->target = ev->to;
    p->due_ms = ev->t_s * 1000.0 + delay_s(l, ev->from, ev->to) * 1000.0;
    p->event = l->out->n_commands - 1;
    /* the planner's worker counts are its ack: nothing to send */
    p->acked = l->o->planner_in != NULL;
    if (!l->o->quiet)
        fprintf(stderr, "afd-sim: t = %.0f s: command %llu: %ld -> %ld (%s)\n",
                ev->t_s, (unsigned long long)ev->id, ev->from, ev->to,
                ev->regime);
    return AFD_OK;
}

static int take_command(struct live *l, const Afd__Sizer__V1__ScaleCommand *c,
                        char *err)
{
    struct afd_command_event ev;

    if (strcmp(c->deployment, l->o->deployment))
        return AFD_OK;
    if (c->id > l->last_seen)
        l->last_seen = c->id;
    if (c->advisory || c->id == 0)
        return AFD_OK;
    if (l->o->planner_in) { /* the planner decides, not this daemon */
        if (!l->warned_cmd)
            fprintf(stderr,
                    "afd-sim: command %llu ignored: the planner "
                    "actuates (deployment not in dynamo.deployments?)\n",
                    (unsigned long long)c->id);
        l->warned_cmd = true;
        return AFD_OK;
    }
    /* HA fencing: a deposed leader's late command is not ours to apply. */
    if (c->leader_epoch < l->epoch_seen)
        return AFD_OK;
    l->epoch_seen = c->leader_epoch;
    for (size_t i = 0; i < l->n_pend; i++) {
        if (l->pend[i].id != c->id)
            continue;
        /* replayed on reconnect; a new leader offering it again has not
         * seen our ack (its predecessor died first): ack it once more */
        if (l->pend[i].acked && l->pend[i].acked_conn != l->conn)
            l->pend[i].acked = false;
        return AFD_OK;
    }
    memset(&ev, 0, sizeof(ev));
    ev.t_s = scen_s(c->issued_ms);
    if (fabs(ev.t_s * 1000.0 - l->sim_ms) > CLOCK_SLACK_MS) {
        /* not our telemetry clock (controller.clock "wall"?): time the
         * command on arrival; runs are then not reproducible */
        if (!l->warned_clock)
            fprintf(stderr,
                    "afd-sim: command %llu issued at %lld ms, not on the "
                    "telemetry clock (scenario ms %.0f): timing commands on "
                    "arrival; set controller.clock to \"telemetry\" for "
                    "reproducible runs\n",
                    (unsigned long long)c->id, (long long)c->issued_ms,
                    l->sim_ms);
        l->warned_clock = true;
        ev.t_s = l->sim_ms / 1000.0;
    }
    ev.id = c->id;
    ev.from = c->current_attention_instances;
    ev.to = c->target_attention_instances;
    snprintf(ev.regime, sizeof(ev.regime), "%s", c->regime);
    snprintf(ev.reason, sizeof(ev.reason), "%s", c->reason);
    return schedule(l, &ev, err);
}

/* Takes every queued command; waits (bounded) until `want` was seen. */
static int read_commands(struct live *l, uint64_t want, char *err)
{
    ProtobufCMessage *m;
    int waited = 0, follows = 0, rc;

    for (;;) {
        int wait = l->last_seen >= want ? 0 : 50;
        rc = afd_grpc_reader_next(l->cmds, &m, wait, err);
        if (rc == AFD_EEMPTY) {
            if (l->last_seen >= want)
                return AFD_OK;
            waited += wait;
            if (waited >= CMD_WAIT_MS)
                return afd_err(err, AFD_EIO,
                               "the daemon announced command %llu but "
                               "WatchCommands did not deliver it in %d ms",
                               (unsigned long long)want, CMD_WAIT_MS);
            continue;
        }
        if (rc) { /* the stream ended: a leader change, or fatal */
            if (++follows > FOLLOW_TRIES || follow_leader(l, rc, err))
                return rc;
            continue;
        }
        rc = take_command(l, (Afd__Sizer__V1__ScaleCommand *)m, err);
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc)
            return rc;
    }
}

static int ack_applied(struct live *l, char *err)
{
    size_t i;
    int rc;

    for (i = 0; i < l->n_pend; i++) {
        struct pending *p = &l->pend[i];
        Afd__Sizer__V1__AckCommandRequest q =
            AFD__SIZER__V1__ACK_COMMAND_REQUEST__INIT;
        Afd__Sizer__V1__AckCommandResponse *a = NULL;
        char detail[96];
        bool ok = p->target >= 1 && p->target <= l->cap_x;
        if (!p->applied || p->acked)
            continue;
        snprintf(detail, sizeof(detail),
                 ok ? "resized to %ld" : "target %ld outside 1..%ld", p->target,
                 l->cap_x);
        q.deployment = (char *)l->o->deployment;
        q.command_id = p->id;
        q.success = ok;
        q.detail = detail;
        for (int tries = 0;; tries++) {
            rc = afd_grpc_client_unary(
                l->cli, M_ACK, &q.base,
                &afd__sizer__v1__ack_command_response__descriptor,
                (ProtobufCMessage **)&a, l->o->rpc_timeout_ms, err);
            if (!rc)
                break;
            if (tries >= FOLLOW_TRIES || follow_leader(l, rc, err))
                return rc;
        }
        if (!a->accepted && !l->o->quiet)
            fprintf(stderr, "afd-sim: ack of command %llu not accepted: %s\n",
                    (unsigned long long)p->id, a->message);
        protobuf_c_message_free_unpacked(&a->base, NULL);
        p->acked = true;
        p->acked_conn = l->conn;
    }
    return AFD_OK;
}

static int read_alerts(struct live *l, int wait_ms, char *err)
{
    ProtobufCMessage *m;
    int rc;

    for (;;) {
        const Afd__Sizer__V1__RegimeAlert *a;
        struct afd_alert_event ev;
        rc = afd_grpc_reader_next(l->alerts, &m, wait_ms, NULL);
        if (rc)
            return AFD_OK; /* nothing more now (or the stream is over) */
        a = (const Afd__Sizer__V1__RegimeAlert *)m;
        if (!strcmp(a->deployment, l->o->deployment)) {
            memset(&ev, 0, sizeof(ev));
            ev.t_s =
                scen_s(strcmp(a->action, "resolved") || !a->end_ms ? a->start_ms
                                                                   : a->end_ms);
            snprintf(ev.alertname, sizeof(ev.alertname), "%s", a->alertname);
            snprintf(ev.action, sizeof(ev.action), "%s", a->action);
            snprintf(ev.regime, sizeof(ev.regime), "%s", a->regime);
            snprintf(ev.explanation, sizeof(ev.explanation), "%s",
                     a->explanation);
            rc = afd_run_add_alert(l->out, &ev, err);
        }
        protobuf_c_message_free_unpacked(m, NULL);
        if (rc)
            return rc;
    }
}

/* The window's observations as a planner sees them (live_planner.h);
 * before report_window, which empties the window's requests. */
static void observe(const struct live *l, double start_ms,
                    struct afd_live_obs *o)
{
    size_t i;

    memset(o, 0, sizeof(*o));
    o->t_s = l->sim_ms / 1000.0;
    o->window_s = (l->sim_ms - start_ms) / 1000.0;
    o->deployment = l->o->deployment;
    o->ready = o->expected = afd_fleet_attention(l->f);
    for (i = 0; i < l->n_pend; i++)
        if (!l->pend[i].applied)
            o->expected = l->pend[i].target; /* the latest one wins */
    o->ffn = afd_fleet_ffn(l->f);
    afd_live_planner_traffic(o, l->req, l->n_req);
}

/* One exchange with the planner: a count unlike the one the fleet is
 * heading to is scheduled like a command. */
static int planner_exchange(struct live *l, const struct afd_live_obs *o,
                            char *err)
{
    struct afd_live_decision dec;
    struct afd_command_event ev = {.t_s = o->t_s, .from = o->expected};
    int rc = afd_live_planner_exchange(l->o->planner_out, l->o->planner_in,
                                       l->cap_x, o, &dec, err);

    if (rc || !dec.set || dec.replicas == o->expected)
        return rc;
    ev.id = ++l->n_decisions;
    ev.to = dec.replicas;
    snprintf(ev.reason, sizeof(ev.reason), "%s", dec.reason);
    return schedule(l, &ev, err);
}

/* One window: simulate, report, follow commands (or the planner), ack,
 * sample. */
static int run_window(struct live *l, double end_ms, char *err)
{
    Afd__Sizer__V1__ReportSummary *sum = NULL;
    struct afd_live_obs obs;
    double start_ms = l->sim_ms;
    uint64_t want;
    int rc;

    rc = simulate_window(l, end_ms, err);
    observe(l, start_ms, &obs);
    for (int tries = 0; !rc; tries++) {
        rc = report_window(l, &sum, err);
        if (!rc)
            break;
        if (tries >= FOLLOW_TRIES || (rc = follow_leader(l, rc, err)))
            return rc;
    }
    if (rc)
        return rc;
    want = l->o->planner_in ? 0 : sum->last_command_id;
    if (sum->rejected && !l->o->quiet)
        fprintf(stderr, "afd-sim: daemon rejected %llu items: %s\n",
                (unsigned long long)sum->rejected, sum->first_rejection);
    protobuf_c_message_free_unpacked(&sum->base, NULL);
    rc = read_commands(l, want, err);
    if (!rc)
        rc = l->o->planner_in ? planner_exchange(l, &obs, err)
                              : ack_applied(l, err);
    if (!rc)
        rc = read_alerts(l, 0, err);
    if (!rc && l->sim_ms >= l->next_point_ms) {
        rc = add_point(l, true, err);
        l->next_point_ms += l->o->timeline_s * 1000.0;
    }
    return rc;
}

/* "A" or "A,B,C" (HA replicas, any order): the addresses to try. */
static int split_replicas(struct live *l, char *err)
{
    const char *p = l->o->target;

    while (*p) {
        size_t n = strcspn(p, ",");
        if (!n || n >= ADDR_LEN || l->n_replicas == MAX_REPLICAS)
            return afd_err(err, AFD_EINVAL,
                           "--plugin wants HOST:PORT or up to %d of them "
                           "separated by commas, got '%s'",
                           MAX_REPLICAS, l->o->target);
        snprintf(l->replica[l->n_replicas++], ADDR_LEN, "%.*s", (int)n, p);
        p += n + (p[n] == ',');
    }
    return l->n_replicas ? AFD_OK
                         : afd_err(err, AFD_EINVAL, "--plugin is empty");
}

static int live_setup(struct live *l, char *err)
{
    const struct afd_scenario *s = l->s;
    struct afd_fleet_phase fp = {&s->phases[0].gen, s->phases[0].batch,
                                 s->phases[0].ffn,
                                 afd_scenario_phase_seed(s->seed, 0), 0};
    struct afd_phase_theory th;
    long bmax = 1, x0 = s->initial_attention, j;
    size_t p;
    int rc;

    for (p = 0; p < s->n_phases; p++) {
        bmax = s->phases[p].batch > bmax ? s->phases[p].batch : bmax;
        l->max_ffn =
            s->phases[p].ffn > l->max_ffn ? s->phases[p].ffn : l->max_ffn;
    }
    if (!x0) {
        rc = afd_phase_theory(s, 0, &th, err);
        if (rc)
            return rc;
        x0 = th.x_barrier;
    }
    /* Automatic capacity: room for the daemon's default bound (the
     * policy's max_attention), as far as the slot cap allows at the
     * largest batch. Not a fixed 256: with several FFN instances the
     * offline policies search beyond it, and a capped loop loses to them
     * by construction. */
    l->cap_x = l->o->max_attention;
    if (!l->cap_x) {
        struct afd_policy_config pc;

        afd_policy_config_init(&pc);
        l->cap_x = pc.max_attention;
        if (l->cap_x > AFD_SIM_MAX_SLOTS / bmax)
            l->cap_x = AFD_SIM_MAX_SLOTS / bmax;
    }
    l->attn_id = calloc((size_t)l->cap_x, sizeof(*l->attn_id));
    l->ffn_id = calloc((size_t)l->max_ffn, sizeof(*l->ffn_id));
    if (!l->attn_id || !l->ffn_id)
        return afd_err(err, AFD_ENOMEM, "out of memory for instance ids");
    for (j = 0; j < l->cap_x; j++)
        snprintf(l->attn_id[j], ID_LEN, "%.60s-attn-%03ld", l->o->deployment,
                 j);
    for (j = 0; j < l->max_ffn; j++)
        snprintf(l->ffn_id[j], ID_LEN, "%.60s-ffn-%03ld", l->o->deployment, j);
    l->f = afd_fleet_new(&s->profile, l->cap_x, bmax, err);
    if (!l->f)
        return AFD_ENOMEM;
    afd_fleet_set_hardware(l->f, &s->hw);
    if ((rc = afd_fleet_set_phase(l->f, &fp, err)) ||
        (rc = afd_fleet_start(l->f, x0 > l->cap_x ? l->cap_x : x0, err)))
        return rc;
    afd_fleet_on_finish(l->f, on_finish, l);
    if ((rc = split_replicas(l, err)) ||
        (rc = connect_to(l, l->replica[0], err)))
        return rc;
    l->phase_end_ms = s->phases[0].duration_s * 1000.0;
    return add_point(l, false, err);
}

void afd_live_options_init(struct afd_live_options *o)
{
    memset(o, 0, sizeof(*o));
    o->deployment = "sim";
    o->actuation_delay_s = 5;
    o->window_s = 1;
    o->timeline_s = 1;
    o->sample_every = 4;
    o->max_requests = 2000;
    o->rpc_timeout_ms = 10000;
    o->max_attention = 0; /* automatic, see afd_live_run */
}

static int check_options(const struct afd_live_options *o, char *err)
{
    if (!o->target || !o->target[0])
        return afd_err(err, AFD_EINVAL, "closed loop needs --plugin HOST:PORT");
    if (!o->deployment || !o->deployment[0] || strlen(o->deployment) > 60)
        return afd_err(err, AFD_EINVAL, "deployment name must be 1..60 bytes");
    if (!(o->window_s > 0) || !(o->timeline_s > 0) ||
        !(o->actuation_delay_s >= 0))
        return afd_err(err, AFD_EINVAL,
                       "window, timeline and delay must be > 0 (delay >= 0)");
    if (!o->planner_in != !o->planner_out)
        return afd_err(err, AFD_EINVAL,
                       "planner actuation needs both pipe ends");
    if (o->sample_every < 1 || o->max_requests < 1 || o->max_attention < 0 ||
        o->rpc_timeout_ms < 1)
        return afd_err(err, AFD_EINVAL,
                       "sample_every, max_requests and the rpc timeout must be "
                       ">= 1, max_attention >= 0 (0: automatic)");
    return AFD_OK;
}

int afd_live_run(const struct afd_scenario *s, const struct afd_live_options *o,
                 struct afd_run_result *out, char *err)
{
    double total_ms = afd_scenario_duration_s(s) * 1000.0, end;
    struct live l;
    long k;
    int rc;

    memset(out, 0, sizeof(*out));
    out->policy = AFD_RUN_CLOSED_LOOP;
    out->seed = s->seed;
    out->n_phases = s->n_phases;
    rc = check_options(o, err);
    if (rc)
        return rc;
    memset(&l, 0, sizeof(l));
    l.s = s;
    l.o = o;
    l.out = out;
    l.next_point_ms = o->timeline_s * 1000.0;
    rc = live_setup(&l, err);
    for (k = 1; !rc && l.sim_ms < total_ms; k++) {
        end = (double)k * o->window_s * 1000.0;
        rc = run_window(&l, end < total_ms ? end : total_ms, err);
    }
    if (!rc) {
        close_phase(&l);
        rc = add_point(&l, true, err);
    }
    if (!rc)
        rc = read_alerts(&l, ALERT_DRAIN_MS, err);
    if (!rc)
        afd_run_settle(s, out);
    afd_grpc_reader_free(l.cmds);
    afd_grpc_reader_free(l.alerts);
    afd_grpc_client_free(l.cli);
    afd_fleet_free(l.f);
    free(l.attn_id);
    free(l.ffn_id);
    free(l.smp);
    free(l.req);
    return rc;
}
