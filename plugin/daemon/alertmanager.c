/*
 * alertmanager.c - regime alerts to Alertmanager's v2 API on libevent.
 * Contract and delivery rules in alertmanager.h.
 */
#include "plugin/daemon/alertmanager.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

#include "estimator/base/error.h"
#include "plugin/sys/os.h"

#define BODY_SNIPPET_LEN 96 /* bytes of an error reply quoted in last_error */

struct afd_alertmanager {
    struct event_base *base;
    struct afd_alertmanager_config cfg;
    struct afd_am_endpoint ep; /* host, address, port, path of the url */
    char host_header[AFD_AM_URL_LEN + 8]; /* "host[:port]" */
    struct evdns_base *dns;               /* NULL for a numeric host */
    struct evhttp_connection *conn;
    struct event *send_ev;   /* one-shot: a send now, or after backoff */
    struct event *resend_ev; /* persistent while any alert is firing */
    struct afd_alertmanager_alert *active; /* firing table, max_queue */
    size_t n_active;
    struct afd_alertmanager_alert *queue; /* ring of max_queue */
    size_t q_head, q_len;
    struct afd_alertmanager_alert *flight; /* the batch in flight */
    size_t n_flight;
    bool backing_off;   /* send_ev waits out a backoff */
    int req_error;      /* enum evhttp_request_error + 1, 0 = none */
    int64_t backoff_ms; /* wait after the next failure */
    struct afd_alertmanager_stats st;
};

/* ---- the firing table and the pending queue ---- */

/* Same Alertmanager identity: the label set minus the constant labels. */
static bool same_alert(const struct afd_alert_event *a,
                       const struct afd_alert_event *b)
{
    return a->kind == b->kind && a->regime == b->regime &&
           (a->kind != AFD_ALERT_REGIME_MISMATCH ||
            a->predicted == b->predicted) &&
           !strcmp(a->alertname, b->alertname) &&
           !strcmp(a->deployment, b->deployment);
}

static struct afd_alertmanager_alert *q_at(struct afd_alertmanager *am,
                                           size_t i)
{
    return &am->queue[(am->q_head + i) % am->cfg.max_queue];
}

static struct afd_alertmanager_alert *q_find(struct afd_alertmanager *am,
                                             const struct afd_alert_event *ev)
{
    size_t i;

    for (i = 0; i < am->q_len; i++)
        if (same_alert(&q_at(am, i)->ev, ev))
            return q_at(am, i);
    return NULL;
}

/* Appends a delivery, replacing a queued one of the same identity; a full
 * queue loses its oldest entry. */
static void q_push_back(struct afd_alertmanager *am,
                        const struct afd_alertmanager_alert *a)
{
    struct afd_alertmanager_alert *old = q_find(am, &a->ev);

    if (old) {
        *old = *a;
        return;
    }
    if (am->q_len == am->cfg.max_queue) {
        am->q_head = (am->q_head + 1) % am->cfg.max_queue;
        am->q_len--;
        am->st.dropped++;
    }
    *q_at(am, am->q_len) = *a;
    am->q_len++;
}

/* Returns a failed delivery to the head, unless a newer event of the same
 * identity is queued; with the queue full it is the oldest and is dropped. */
static void q_push_front(struct afd_alertmanager *am,
                         const struct afd_alertmanager_alert *a)
{
    if (q_find(am, &a->ev))
        return;
    if (am->q_len == am->cfg.max_queue) {
        am->st.dropped++;
        return;
    }
    am->q_head = (am->q_head + am->cfg.max_queue - 1) % am->cfg.max_queue;
    am->q_len++;
    *q_at(am, 0) = *a;
}

static bool in_flight(const struct afd_alertmanager *am)
{
    return am->n_flight > 0;
}

static void schedule_send(struct afd_alertmanager *am, int64_t delay_ms)
{
    struct timeval tv = {.tv_sec = delay_ms / 1000,
                         .tv_usec = (delay_ms % 1000) * 1000};

    evtimer_add(am->send_ev, &tv);
}

/* Sends now unless a request is out, a backoff runs or nothing is queued. */
static void kick(struct afd_alertmanager *am)
{
    if (!in_flight(am) && !am->backing_off && am->q_len > 0)
        schedule_send(am, 0);
}

static void arm_resend(struct afd_alertmanager *am)
{
    struct timeval tv = {.tv_sec = am->cfg.resend_interval_ms / 1000,
                         .tv_usec = (am->cfg.resend_interval_ms % 1000) * 1000};

    if (am->n_active > 0 && !evtimer_pending(am->resend_ev, NULL))
        evtimer_add(am->resend_ev, &tv);
    else if (am->n_active == 0)
        evtimer_del(am->resend_ev);
}

/* ---- delivery ---- */

static void requeue_flight(struct afd_alertmanager *am)
{
    size_t i;

    for (i = am->n_flight; i > 0; i--)
        q_push_front(am, &am->flight[i - 1]);
    am->n_flight = 0;
}

/* A failed attempt: the batch goes back and the next waits the backoff. */
static void fail_batch(struct afd_alertmanager *am)
{
    int64_t wait = am->backoff_ms;

    am->st.failures++;
    am->st.consecutive_failures++;
    requeue_flight(am);
    am->backoff_ms =
        wait * 2 < am->cfg.backoff_max_ms ? wait * 2 : am->cfg.backoff_max_ms;
    am->backing_off = true;
    schedule_send(am, wait);
}

static const char *request_error_name(int e)
{
    switch (e - 1) {
    case EVREQ_HTTP_TIMEOUT:
        return "timed out";
    case EVREQ_HTTP_EOF:
        return "connection failed or closed by the peer";
    case EVREQ_HTTP_INVALID_HEADER:
        return "invalid reply header";
    case EVREQ_HTTP_BUFFER_ERROR:
        return "connection error";
    case EVREQ_HTTP_REQUEST_CANCEL:
        return "cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG:
        return "reply too long";
    default:
        return "could not connect";
    }
}

static void on_request_error(enum evhttp_request_error e, void *arg)
{
    struct afd_alertmanager *am = arg;

    am->req_error = (int)e + 1;
}

/* The first line of an error reply, printable bytes only. */
static void body_snippet(struct evhttp_request *req, char *out, size_t cap)
{
    struct evbuffer *b = evhttp_request_get_input_buffer(req);
    ev_ssize_t n = b ? evbuffer_copyout(b, out, cap - 1) : 0;
    ev_ssize_t i;

    n = n < 0 ? 0 : n;
    out[n] = '\0';
    for (i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] >= 0x7f)
            out[i] = out[i] == '\n' ? '\0' : '?';
}

static void on_request_done(struct evhttp_request *req, void *arg)
{
    struct afd_alertmanager *am = arg;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    char snippet[BODY_SNIPPET_LEN];

    am->st.last_status = code;
    if (code >= 200 && code < 300) {
        am->st.delivered += am->n_flight;
        am->st.batches++;
        am->st.consecutive_failures = 0;
        am->n_flight = 0;
        am->backoff_ms = am->cfg.backoff_initial_ms;
        kick(am);
        return;
    }
    if (code == 0) {
        int dns_error = bufferevent_socket_get_dns_error(
            evhttp_connection_get_bufferevent(am->conn));

        if (dns_error)
            afd_err(am->st.last_error, AFD_EIO,
                    "alertmanager post to http://%s:%d%s failed: cannot "
                    "resolve '%s': %s",
                    am->ep.host, am->ep.port, am->ep.path, am->ep.address,
                    evutil_gai_strerror(dns_error));
        else
            afd_err(am->st.last_error, AFD_EIO,
                    "alertmanager post to http://%s:%d%s failed: %s",
                    am->ep.host, am->ep.port, am->ep.path,
                    request_error_name(am->req_error));
        fail_batch(am);
        return;
    }
    body_snippet(req, snippet, sizeof(snippet));
    afd_err(am->st.last_error, AFD_EIO,
            "alertmanager post to http://%s:%d%s answered %d: %s", am->ep.host,
            am->ep.port, am->ep.path, code, snippet);
    if (code == 400) {
        /* The alerts themselves are refused: resending cannot help. */
        am->st.failures++;
        am->st.consecutive_failures++;
        am->st.rejected += am->n_flight;
        am->st.dropped += am->n_flight;
        am->n_flight = 0;
        kick(am);
        return;
    }
    fail_batch(am);
}

/* Builds a request of up to max_batch queued alerts; returns it ready to
 * be made, or NULL with last_error set. */
static struct evhttp_request *build_request(struct afd_alertmanager *am)
{
    struct evhttp_request *req;
    struct evkeyvalq *h;
    char *body;
    json_t *arr;

    while (am->n_flight < am->cfg.max_batch && am->q_len > 0) {
        am->flight[am->n_flight++] = *q_at(am, 0);
        am->q_head = (am->q_head + 1) % am->cfg.max_queue;
        am->q_len--;
    }
    arr = afd_alertmanager_payload(&am->cfg, am->flight, am->n_flight,
                                   afd_clock_wall_ms(), am->st.last_error);
    if (!arr)
        return NULL;
    body = json_dumps(arr, JSON_COMPACT);
    json_decref(arr);
    req = body ? evhttp_request_new(on_request_done, am) : NULL;
    if (!req) {
        free(body);
        afd_err(am->st.last_error, AFD_ENOMEM,
                "out of memory building the alertmanager request");
        return NULL;
    }
    evhttp_request_set_error_cb(req, on_request_error);
    h = evhttp_request_get_output_headers(req);
    if (evhttp_add_header(h, "Host", am->host_header) ||
        evhttp_add_header(h, "Content-Type", "application/json") ||
        evbuffer_add(evhttp_request_get_output_buffer(req), body,
                     strlen(body))) {
        free(body);
        evhttp_request_free(req);
        afd_err(am->st.last_error, AFD_ENOMEM,
                "out of memory building the alertmanager request");
        return NULL;
    }
    free(body);
    return req;
}

static void on_send(evutil_socket_t fd, short what, void *arg)
{
    struct afd_alertmanager *am = arg;
    struct evhttp_request *req;

    am->backing_off = false;
    if (in_flight(am) || am->q_len == 0)
        return;
    req = build_request(am);
    if (!req) {
        fail_batch(am);
        return;
    }
    am->req_error = 0;
    am->st.sent += am->n_flight;
    /* libevent may run on_request_done inside this call (an immediate
     * connect failure); the batch is in flight before it. */
    if (evhttp_make_request(am->conn, req, EVHTTP_REQ_POST, am->ep.path)) {
        afd_err(am->st.last_error, AFD_EIO,
                "alertmanager post to http://%s:%d%s could not start",
                am->ep.host, am->ep.port, am->ep.path);
        fail_batch(am);
    }
}

static void on_resend(evutil_socket_t fd, short what, void *arg)
{
    struct afd_alertmanager *am = arg;
    size_t i, j;

    for (i = 0; i < am->n_active; i++) {
        bool busy = q_find(am, &am->active[i].ev) != NULL;

        for (j = 0; j < am->n_flight && !busy; j++)
            busy = same_alert(&am->flight[j].ev, &am->active[i].ev);
        if (busy)
            continue;
        q_push_back(am, &am->active[i]);
        am->st.resends++;
    }
    kick(am);
}

/* ---- lifetime and API ---- */

static bool host_is_numeric(const char *h)
{
    unsigned char buf[16];

    return evutil_inet_pton(AF_INET, h, buf) == 1 ||
           evutil_inet_pton(AF_INET6, h, buf) == 1;
}

struct afd_alertmanager *
afd_alertmanager_new(struct event_base *base,
                     const struct afd_alertmanager_config *cfg, char *err)
{
    struct afd_alertmanager *am;
    size_t q = cfg ? cfg->max_queue : 0;

    assert(base && cfg);
    if (afd_alertmanager_config_check(cfg, err))
        return NULL;
    am = calloc(1, sizeof(*am));
    if (!am)
        goto out_nomem;
    am->base = base;
    am->cfg = *cfg;
    am->backoff_ms = cfg->backoff_initial_ms;
    afd_alertmanager_endpoint(cfg, &am->ep, NULL);
    snprintf(am->host_header, sizeof(am->host_header), "%s", am->ep.host);
    if (am->ep.port != 80)
        snprintf(am->host_header + strlen(am->host_header),
                 sizeof(am->host_header) - strlen(am->host_header), ":%d",
                 am->ep.port);
    am->active = calloc(q, sizeof(*am->active));
    am->queue = calloc(q, sizeof(*am->queue));
    am->flight = calloc(cfg->max_batch, sizeof(*am->flight));
    am->send_ev = evtimer_new(base, on_send, am);
    am->resend_ev = event_new(base, -1, EV_PERSIST, on_resend, am);
    if (!am->active || !am->queue || !am->flight || !am->send_ev ||
        !am->resend_ev)
        goto out_free;
    if (!host_is_numeric(am->ep.address)) {
        /* Names resolve asynchronously; without a dns base libevent would
         * call the blocking getaddrinfo on the loop. */
        am->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS |
                                           EVDNS_BASE_DISABLE_WHEN_INACTIVE);
        if (!am->dns) {
            afd_err(err, AFD_EIO,
                    "cannot start the dns resolver for alertmanager host "
                    "'%s'",
                    am->ep.address);
            afd_alertmanager_free(am);
            return NULL;
        }
    }
    am->conn = evhttp_connection_base_new(base, am->dns, am->ep.address,
                                          (unsigned short)am->ep.port);
    if (!am->conn)
        goto out_free;
    evhttp_connection_set_timeout_tv(
        am->conn,
        &(struct timeval){.tv_sec = cfg->timeout_ms / 1000,
                          .tv_usec = (cfg->timeout_ms % 1000) * 1000});
    /* Retries are ours, with backoff and a fresh batch. */
    evhttp_connection_set_retries(am->conn, 0);
    return am;
out_free:
    afd_alertmanager_free(am);
out_nomem:
    afd_err(err, AFD_ENOMEM, "out of memory creating the alertmanager client");
    return NULL;
}

void afd_alertmanager_free(struct afd_alertmanager *am)
{
    if (!am)
        return;
    /* Frees a request in flight without running its callback. */
    if (am->conn)
        evhttp_connection_free(am->conn);
    if (am->dns)
        evdns_base_free(am->dns, 0);
    if (am->send_ev)
        event_free(am->send_ev);
    if (am->resend_ev)
        event_free(am->resend_ev);
    free(am->active);
    free(am->queue);
    free(am->flight);
    free(am);
}

int afd_alertmanager_post(struct afd_alertmanager *am,
                          const struct afd_alert_event *ev, double r_star,
                          char *err)
{
    struct afd_alertmanager_alert a;
    size_t i;
    int rc;

    assert(am && ev);
    a.ev = *ev;
    a.r_star = r_star;
    if ((rc = afd_alertmanager_alert_check(&a, err)))
        return rc;
    /* The copy outlives the caller's event: keep only the static name. */
    a.ev.alertname = afd_alert_name(ev->kind);
    for (i = 0; i < am->n_active; i++)
        if (same_alert(&am->active[i].ev, ev))
            break;
    if (ev->action == AFD_ALERT_RAISED) {
        if (i == am->n_active && am->n_active == am->cfg.max_queue)
            return afd_err(err, AFD_ENOMEM,
                           "alertmanager firing table is full (%zu alerts), "
                           "'%s' for '%s' not sent",
                           am->cfg.max_queue, ev->alertname, ev->deployment);
        am->active[i] = a;
        if (i == am->n_active)
            am->n_active++;
    } else if (i < am->n_active) {
        am->active[i] = am->active[--am->n_active];
    }
    arm_resend(am);
    q_push_back(am, &a);
    am->st.posted++;
    kick(am);
    return AFD_OK;
}

void afd_alertmanager_stats(const struct afd_alertmanager *am,
                            struct afd_alertmanager_stats *out)
{
    *out = am->st;
    out->active = am->n_active;
    out->pending = am->q_len + am->n_flight;
    out->in_flight = am->n_flight > 0;
    out->next_backoff_ms = am->backoff_ms;
}
