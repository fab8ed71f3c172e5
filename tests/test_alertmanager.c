/*
 * test_alertmanager.c - delivery by plugin/daemon/alertmanager.c: queue bound,
 * retries, backoff, re-sends, timeouts and free with a request in flight,
 * against a tiny evhttp server on 127.0.0.1:0 in the same process and loop.
 * The pure half (times, checks, body) is in test_alertmanager_payload.c.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "estimator/base/error.h"
#include "plugin/daemon/alertmanager.h"
#include "tests/alertmanager_fixtures.h"

#define MAX_REQ  16
#define DELAY_MS 50 /* delayed replies keep a request in flight */

/* ---- delivery against an in-process server ---- */

struct server {
    struct event_base *base;
    struct evhttp *http;
    int port;
    int statuses[MAX_REQ];       /* reply per request; 0 = never, < 0 = -status
                                    after DELAY_MS */
    struct evhttp_request *held; /* the delayed one */
    int held_status;
    int n_req;
    double at_ms[MAX_REQ];  /* monotonic arrival times */
    json_t *body[MAX_REQ];  /* parsed request bodies */
    char path[MAX_REQ][64]; /* request targets */
    char host[64];          /* Host header of the last request */
    char ctype[64];         /* Content-Type of the last request */
    int64_t backoff_seen[MAX_REQ];
    struct afd_alertmanager *am;
};

static double mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void on_delayed_reply(evutil_socket_t fd, short what, void *arg)
{
    struct server *s = arg;

    evhttp_send_reply(s->held, s->held_status, "X", NULL);
    s->held = NULL;
}

static void on_http(struct evhttp_request *req, void *arg)
{
    struct server *s = arg;
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    char *text = calloc(1, len + 1);
    int i = s->n_req < MAX_REQ ? s->n_req : MAX_REQ - 1;
    struct afd_alertmanager_stats st;
    const char *hdr;

    assert_non_null(text);
    evbuffer_copyout(in, text, len);
    s->at_ms[i] = mono_ms();
    json_decref(s->body[i]);
    s->body[i] = json_loads(text, 0, NULL);
    free(text);
    snprintf(s->path[i], sizeof(s->path[i]), "%s", evhttp_request_get_uri(req));
    hdr = evhttp_find_header(evhttp_request_get_input_headers(req), "Host");
    snprintf(s->host, sizeof(s->host), "%s", hdr ? hdr : "");
    hdr = evhttp_find_header(evhttp_request_get_input_headers(req),
                             "Content-Type");
    snprintf(s->ctype, sizeof(s->ctype), "%s", hdr ? hdr : "");
    afd_alertmanager_stats(s->am, &st);
    s->backoff_seen[i] = st.next_backoff_ms;
    s->n_req++;
    if (s->statuses[i] == 0)
        return; /* hold it: the client times out or frees it */
    if (s->statuses[i] < 0) {
        struct timeval later = {0, DELAY_MS * 1000};

        s->held = req;
        s->held_status = -s->statuses[i];
        event_base_once(s->base, -1, EV_TIMEOUT, on_delayed_reply, s, &later);
        return;
    }
    evhttp_send_reply(req, s->statuses[i], s->statuses[i] == 200 ? "OK" : "X",
                      NULL);
}

/* A server on 127.0.0.1:0 answering statuses[i] to request i, 200 after. */
static struct server *server_new(const int *statuses, int n)
{
    struct server *s = calloc(1, sizeof(*s));
    struct evhttp_bound_socket *bs;
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int i;

    assert_non_null(s);
    for (i = 0; i < MAX_REQ; i++)
        s->statuses[i] = i < n ? statuses[i] : 200;
    s->base = event_base_new();
    s->http = evhttp_new(s->base);
    assert_non_null(s->http);
    evhttp_set_gencb(s->http, on_http, s);
    bs = evhttp_bind_socket_with_handle(s->http, "127.0.0.1", 0);
    assert_non_null(bs);
    assert_int_equal(getsockname(evhttp_bound_socket_get_fd(bs),
                                 (struct sockaddr *)&sin, &sl),
                     0);
    s->port = ntohs(sin.sin_port);
    return s;
}

static struct afd_alertmanager *
client_new(struct server *s, void (*tweak)(struct afd_alertmanager_config *))
{
    struct afd_alertmanager_config cfg;
    char url[64], err[AFD_ERR_LEN];

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", s->port);
    base_cfg(&cfg, url);
    cfg.backoff_initial_ms = 40;
    cfg.backoff_max_ms = 100;
    cfg.timeout_ms = 2000;
    if (tweak)
        tweak(&cfg);
    s->am = afd_alertmanager_new(s->base, &cfg, err);
    if (!s->am)
        fail_msg("afd_alertmanager_new: %s", err);
    return s->am;
}

static void server_free(struct server *s)
{
    int i;

    afd_alertmanager_free(s->am);
    evhttp_free(s->http);
    event_base_free(s->base);
    for (i = 0; i < MAX_REQ; i++)
        json_decref(s->body[i]);
    free(s);
}

struct until {
    struct server *s;
    bool (*done)(struct server *s);
    struct event *ev;
};

static void on_until(evutil_socket_t fd, short what, void *arg)
{
    struct until *u = arg;

    if (u->done && u->done(u->s))
        event_base_loopbreak(u->s->base);
}

/* Runs the loop until done(s) holds (checked every 2 ms) or max_ms pass;
 * returns whether done held. */
static bool run_until(struct server *s, bool (*done)(struct server *s),
                      int max_ms)
{
    struct until u = {.s = s, .done = done};
    struct timeval tick = {0, 2000},
                   lim = {max_ms / 1000, (max_ms % 1000) * 1000};
    bool ok;

    u.ev = event_new(s->base, -1, EV_PERSIST, on_until, &u);
    event_add(u.ev, &tick);
    event_base_loopexit(s->base, &lim);
    event_base_dispatch(s->base);
    event_free(u.ev);
    ok = !done || done(s);
    return ok;
}

static bool queue_empty(struct server *s)
{
    struct afd_alertmanager_stats st;

    afd_alertmanager_stats(s->am, &st);
    return st.pending == 0;
}

static bool got_request(struct server *s)
{
    return s->n_req > 0;
}

static void post(struct server *s, struct afd_alertmanager_alert a)
{
    char err[AFD_ERR_LEN];

    if (afd_alertmanager_post(s->am, &a.ev, a.r_star, err))
        fail_msg("post: %s", err);
}

static const char *body_dep(struct server *s, int req, size_t i)
{
    json_t *o = json_array_get(s->body[req], i);

    return json_string_value(
        json_object_get(json_object_get(o, "labels"), "deployment"));
}

static void tweak_queue3(struct afd_alertmanager_config *cfg)
{
    cfg->max_queue = 3;
    cfg->max_batch = 3;
}

/* ensure post drops the oldest delivery and counts it when the queue is
 * full */
static void test_post_queue_full_drops_oldest(void **state)
{
    static const char *deps[] = {"d0", "d1", "d2", "d3", "d4"};
    struct server *s = server_new(NULL, 0);
    struct afd_alertmanager_stats st;
    char host[64];
    int i;

    client_new(s, tweak_queue3);
    for (i = 0; i < 5; i++)
        post(s, resolved(deps[i], AFD_REGIME_FFN));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.posted == 5 && st.dropped == 2 && st.pending == 3);
    assert_true(run_until(s, queue_empty, 3000));
    assert_int_equal(s->n_req, 1);
    assert_string_equal(s->path[0], "/api/v2/alerts");
    snprintf(host, sizeof(host), "127.0.0.1:%d", s->port);
    assert_string_equal(s->host, host);
    assert_string_equal(s->ctype, "application/json");
    assert_int_equal(json_array_size(s->body[0]), 3);
    assert_string_equal(body_dep(s, 0, 0), "d2");
    assert_string_equal(body_dep(s, 0, 1), "d3");
    assert_string_equal(body_dep(s, 0, 2), "d4");
    server_free(s);
}

/* ensure post replaces a queued delivery when the same alert changes */
static void test_post_same_alert_replaced(void **state)
{
    struct server *s = server_new(NULL, 0);
    struct afd_alertmanager_stats st;
    json_t *o;

    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    post(s, resolved("prod", AFD_REGIME_FFN));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.pending == 1 && st.active == 0 && st.dropped == 0);
    assert_true(run_until(s, queue_empty, 3000));
    assert_int_equal(s->n_req, 1);
    o = json_array_get(s->body[0], 0);
    assert_string_equal(json_string_value(json_object_get(o, "endsAt")),
                        "2023-11-14T22:18:20.500Z");
    server_free(s);
}

static void tweak_queue2(struct afd_alertmanager_config *cfg)
{
    cfg->max_queue = 2;
    cfg->max_batch = 2;
}

/* ensure post refuses a raise when the firing table is full */
static void test_post_firing_table_full(void **state)
{
    struct server *s = server_new(NULL, 0);
    struct afd_alertmanager_alert a = raised("c", AFD_REGIME_FFN);
    struct afd_alertmanager_stats st;
    char err[AFD_ERR_LEN];

    client_new(s, tweak_queue2);
    post(s, raised("a", AFD_REGIME_FFN));
    post(s, raised("b", AFD_REGIME_FFN));
    assert_int_equal(afd_alertmanager_post(s->am, &a.ev, a.r_star, err),
                     AFD_ENOMEM);
    afd_assert_contains(err, "firing table is full (2 alerts), "
                             "'AfdSizingRegimeChanged' for 'c' not sent");
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.active == 2 && st.posted == 2);
    a.ev.regime = (enum afd_regime)9;
    assert_int_equal(afd_alertmanager_post(s->am, &a.ev, a.r_star, err),
                     AFD_EINVAL);
    server_free(s);
}

/* ensure delivery retries after the backoff when the server answers 503 */
static void test_delivery_retries_after_503(void **state)
{
    static const int statuses[] = {503, 200};
    struct server *s = server_new(statuses, 2);
    struct afd_alertmanager_stats st;

    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, queue_empty, 3000));
    afd_alertmanager_stats(s->am, &st);
    assert_int_equal(s->n_req, 2);
    assert_true(st.failures == 1 && st.batches == 1 && st.delivered == 1);
    assert_true(st.sent == 2 && st.dropped == 0);
    assert_int_equal(st.last_status, 200);
    assert_true(st.consecutive_failures == 0);
    afd_assert_contains(st.last_error, "answered 503");
    /* libevent schedules from its cached loop time: allow 5 ms early */
    assert_true(s->at_ms[1] - s->at_ms[0] >= 40 - 5);
    assert_true(
        json_equal(json_object_get(json_array_get(s->body[0], 0), "labels"),
                   json_object_get(json_array_get(s->body[1], 0), "labels")));
    server_free(s);
}

/* ensure a failed batch is not re-sent when a newer event of the same
 * alert was posted while it was in flight */
static void test_delivery_retry_superseded(void **state)
{
    static const int statuses[] = {-503, 200};
    struct server *s = server_new(statuses, 2);
    struct afd_alertmanager_stats st;
    json_t *o;

    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, got_request, 3000));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.in_flight);
    post(s, resolved("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, queue_empty, 3000));
    assert_int_equal(s->n_req, 2);
    assert_int_equal(json_array_size(s->body[1]), 1);
    o = json_array_get(s->body[1], 0);
    assert_string_equal(json_string_value(json_object_get(o, "endsAt")),
                        "2023-11-14T22:18:20.500Z");
    server_free(s);
}

/* ensure the backoff doubles up to its cap when failures repeat */
static void test_delivery_backoff_doubles_to_cap(void **state)
{
    static const int statuses[] = {503, 500, 502, 200};
    struct server *s = server_new(statuses, 4);
    struct afd_alertmanager_stats st;

    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, queue_empty, 3000));
    assert_int_equal(s->n_req, 4);
    /* waits 40, 80, then 160 capped at 100 ms (5 ms early allowed: libevent
     * schedules from its cached loop time) */
    assert_true(s->at_ms[1] - s->at_ms[0] >= 35);
    assert_true(s->at_ms[2] - s->at_ms[1] >= 75);
    assert_true(s->at_ms[3] - s->at_ms[2] >= 95);
    assert_true(s->backoff_seen[1] == 80 && s->backoff_seen[2] == 100 &&
                s->backoff_seen[3] == 100);
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.failures == 3 && st.next_backoff_ms == 40);
    server_free(s);
}

static void tweak_resend(struct afd_alertmanager_config *cfg)
{
    cfg->resend_interval_ms = 30;
}

static bool three_requests(struct server *s)
{
    return s->n_req >= 3;
}

/* ensure firing alerts are re-sent while active and stop once resolved */
static void test_delivery_resends_until_resolved(void **state)
{
    struct server *s = server_new(NULL, 0);
    struct afd_alertmanager_stats st;
    int n;

    client_new(s, tweak_resend);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, three_requests, 3000));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.resends >= 2 && st.active == 1);
    assert_string_equal(body_dep(s, 2, 0), "prod");
    post(s, resolved("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, queue_empty, 3000));
    n = s->n_req;
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(s->body[n - 1], 0), "endsAt")),
                        "2023-11-14T22:18:20.500Z");
    run_until(s, NULL, 120); /* four resend intervals: nothing more */
    assert_int_equal(s->n_req, n);
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.active == 0 && st.pending == 0);
    server_free(s);
}

/* ensure a 400 drops the batch without retry when the peer rejects it */
static void test_delivery_400_dropped(void **state)
{
    static const int statuses[] = {400};
    struct server *s = server_new(statuses, 1);
    struct afd_alertmanager_stats st;

    client_new(s, NULL);
    post(s, resolved("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, queue_empty, 3000));
    run_until(s, NULL, 100);
    assert_int_equal(s->n_req, 1);
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.rejected == 1 && st.dropped == 1 && st.failures == 1);
    afd_assert_contains(st.last_error, "answered 400");
    server_free(s);
}

static void tweak_timeout(struct afd_alertmanager_config *cfg)
{
    cfg->timeout_ms = 200;
}

static bool one_failure(struct server *s)
{
    struct afd_alertmanager_stats st;

    afd_alertmanager_stats(s->am, &st);
    return st.failures >= 1;
}

/* ensure a silent server counts a timed-out failure and keeps the alert */
static void test_delivery_timeout(void **state)
{
    static const int statuses[] = {0, 0, 0, 0};
    struct server *s = server_new(statuses, 4);
    struct afd_alertmanager_stats st;

    client_new(s, tweak_timeout);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, one_failure, 4000));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.pending == 1 && st.last_status == 0);
    afd_assert_contains(st.last_error, "failed: timed out");
    server_free(s);
}

/* ensure a refused connection is a failure with the alert kept queued */
static void test_delivery_connection_refused(void **state)
{
    struct server *s = server_new(NULL, 0);
    struct afd_alertmanager_stats st;

    evhttp_free(s->http); /* nothing listens on s->port any more */
    s->http = evhttp_new(s->base);
    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, one_failure, 3000));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.pending == 1 && st.delivered == 0 && st.last_status == 0);
    afd_assert_contains(st.last_error, "failed: could not connect");
    server_free(s);
}

/* ensure free releases a request in flight when the server holds it */
static void test_free_with_request_in_flight(void **state)
{
    static const int statuses[] = {0};
    struct server *s = server_new(statuses, 1);
    struct afd_alertmanager_stats st;

    client_new(s, NULL);
    post(s, raised("prod", AFD_REGIME_FFN));
    assert_true(run_until(s, got_request, 3000));
    afd_alertmanager_stats(s->am, &st);
    assert_true(st.in_flight);
    server_free(s); /* ASan reports any leak */
}

/* ensure new reports the config error when the url is https */
static void test_new_bad_config(void **state)
{
    struct event_base *base = event_base_new();
    struct afd_alertmanager_config cfg;
    char err[AFD_ERR_LEN];

    base_cfg(&cfg, "https://am:9093");
    assert_null(afd_alertmanager_new(base, &cfg, err));
    afd_assert_contains(err, "https");
    afd_alertmanager_free(NULL);
    event_base_free(base);
}
int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_post_queue_full_drops_oldest),
        cmocka_unit_test(test_post_same_alert_replaced),
        cmocka_unit_test(test_post_firing_table_full),
        cmocka_unit_test(test_delivery_retries_after_503),
        cmocka_unit_test(test_delivery_retry_superseded),
        cmocka_unit_test(test_delivery_backoff_doubles_to_cap),
        cmocka_unit_test(test_delivery_resends_until_resolved),
        cmocka_unit_test(test_delivery_400_dropped),
        cmocka_unit_test(test_delivery_timeout),
        cmocka_unit_test(test_delivery_connection_refused),
        cmocka_unit_test(test_free_with_request_in_flight),
        cmocka_unit_test(test_new_bad_config),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
