/*
 * alertmanager.h - delivery of regime alerts (controller/alert.h events) to
 * Prometheus Alertmanager's v2 API, POST <url>/api/v2/alerts, on libevent.
 *
 * Owns: the table of firing alerts (re-sent every resend_interval_ms while
 * firing), a bounded queue of pending deliveries, one HTTP connection with
 * at most one request in flight (a batch of up to max_batch alerts), the
 * retry timer and the delivery counters.
 *
 * Alert identity is its label set, as in Alertmanager: alertname,
 * deployment, regime (the alert.h key of every kind; for the drift alert
 * its stage, whichever direction); severity depends on
 * the alertname only and the static extra labels are the same on every
 * alert. The queue holds at most one delivery per identity:
 * a newer event replaces a queued older one in place (only the latest state
 * matters to Alertmanager).
 *
 * Delivery rules:
 *   RAISED   - the alert enters the firing table and is queued with
 *              startsAt = start_ms and endsAt = send time + 4 x
 *              resend_interval_ms (as Prometheus does: should the daemon
 *              die, Alertmanager resolves the alert by itself).
 *   RESOLVED - the alert leaves the firing table at once (it is never
 *              re-sent as firing again) and its resolution, endsAt =
 *              end_ms, is queued until delivered.
 *   Every resend_interval_ms each firing alert not already queued is
 *   queued again. A batch answered 2xx is delivered. A connection error, a
 *   timeout or any other status is a failure: the batch returns to the head
 *   of the queue (unless a newer event of the same identity is queued) and
 *   the next attempt waits backoff_initial_ms, doubling per consecutive
 *   failure up to backoff_max_ms. Exception: 400 means Alertmanager rejects
 *   the alerts themselves, so resending the same bytes cannot succeed; that
 *   batch is dropped and counted in rejected (and failures).
 *   The queue is bounded by max_queue: when full, the oldest pending
 *   delivery is dropped and counted in dropped. The firing table is bounded
 *   by max_queue as well (AFD_ENOMEM from _post past it).
 *
 * Times: event times are milliseconds since the Unix epoch, so the alert
 * machines must be evaluated with wall-clock now_ms when their events come
 * here; they are sent as RFC 3339 UTC with milliseconds,
 * "2023-11-14T22:13:20.123Z". The send time comes from CLOCK_REALTIME.
 *
 * Typical use in the daemon: _new at start when a url is configured;
 * _post for each event of afd_alert_eval() / afd_alert_clear() with the
 * deployment's current r*; /metrics from _stats (posted, sent, delivered,
 * failures, dropped as counters; active, pending as gauges); _free at
 * shutdown (undelivered alerts are lost; Alertmanager ends firing ones by
 * their endsAt).
 *
 * Never blocks: host names resolve through evdns, connect and I/O are
 * libevent's; only https is refused (put a TLS proxy on loopback).
 *
 * Ownership and threads: afd_alertmanager_new() allocates and
 * afd_alertmanager_free() frees all, including a request in flight (its
 * callback does not run). Every call and callback runs on the thread
 * dispatching the event_base given to _new; the base must outlive the
 * object. The pure functions (config, payload, time) are thread-safe.
 */
#ifndef AFD_ALERTMANAGER_H
#define AFD_ALERTMANAGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <jansson.h>

#include "controller/alert.h"
#include "estimator/base/error.h"

#define AFD_AM_URL_LEN        256 /* bytes with the NUL */
#define AFD_AM_LABEL_NAME_LEN 64  /* bytes with the NUL */
#define AFD_AM_LABEL_LEN      128 /* label value bytes with the NUL */
#define AFD_AM_MAX_LABELS     8   /* extra static labels */
#define AFD_AM_TIME_LEN       25  /* "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL */
#define AFD_AM_TIME_MAX       253402300799999LL /* ms, 9999-12-31T23:59:59.999Z */
#define AFD_AM_INTERVAL_MAX   86400000          /* ms, one day */
#define AFD_AM_QUEUE_MAX      1000000
#define AFD_AM_API_PATH       "/api/v2/alerts"

struct afd_am_label {
    char name[AFD_AM_LABEL_NAME_LEN]; /* [a-zA-Z_][a-zA-Z0-9_]*, not reserved */
    char value[AFD_AM_LABEL_LEN];     /* non-empty */
};

struct afd_alertmanager_config {
    char url[AFD_AM_URL_LEN];           /* "http://host[:port][/prefix]" */
    char generator_url[AFD_AM_URL_LEN]; /* generatorURL; "" leaves it out */
    char severity[AFD_AM_LABEL_LEN];    /* label severity, non-empty */
    size_t n_labels;                    /* extra static labels in use */
    struct afd_am_label labels[AFD_AM_MAX_LABELS];
    int64_t resend_interval_ms; /* ms between re-sends of firing alerts */
    int64_t timeout_ms;         /* ms, connect and request timeout */
    int64_t backoff_initial_ms; /* ms, wait after the first failure */
    int64_t backoff_max_ms;     /* ms, cap of the doubling wait */
    size_t max_queue; /* pending deliveries, also the firing table bound */
    size_t max_batch; /* alerts per request */
};

/* Defaults: url "", generator_url "", severity "warning", no extra labels,
 * resend 60 s, timeout 10 s, backoff 1 s doubling to 60 s, max_queue 1024,
 * max_batch 64. */
void afd_alertmanager_config_init(struct afd_alertmanager_config *cfg);

/*
 * AFD_EINVAL naming the field and quoting the value, e.g.
 * "alertmanager field 'resend_interval_ms' must be in [1, 86400000] ms,
 * got 0" or "alertmanager url 'https://x' uses https, which is not
 * supported: use http:// (a TLS proxy on loopback for https)".
 * Intervals are in [1, AFD_AM_INTERVAL_MAX] ms, backoff_max_ms >=
 * backoff_initial_ms, max_queue in [1, AFD_AM_QUEUE_MAX], max_batch in
 * [1, max_queue].
 */
int afd_alertmanager_config_check(const struct afd_alertmanager_config *cfg,
                                  char *err);

/* Where cfg->url points. */
struct afd_am_endpoint {
    char host[AFD_AM_URL_LEN];    /* as written, for the Host header */
    char address[AFD_AM_URL_LEN]; /* to connect to (IPv6 without [ ]) */
    int port;                     /* 80 when the url has none */
    char path[AFD_AM_URL_LEN];    /* request target */
};

/*
 * Checks the config (same errors as _config_check) and splits its url. The
 * request target is the url path without trailing '/' followed by
 * AFD_AM_API_PATH: "http://am:9093/x/" -> "/x/api/v2/alerts".
 */
int afd_alertmanager_endpoint(const struct afd_alertmanager_config *cfg,
                              struct afd_am_endpoint *out, char *err);

/*
 * Formats ms since the Unix epoch, 0 <= ms <= AFD_AM_TIME_MAX, as RFC 3339
 * UTC with milliseconds into out (AFD_AM_TIME_LEN bytes):
 * 1700000000123 -> "2023-11-14T22:13:20.123Z". AFD_EINVAL outside.
 */
int afd_alertmanager_format_time(int64_t ms, char *out, char *err);

/* One delivery: the event as posted and r* at that time. */
struct afd_alertmanager_alert {
    struct afd_alert_event ev;
    double r_star; /* recommended x/y; NaN when unknown (annotation left out) */
};

/*
 * Checks an event as _post would: kind, action, alertname equal to
 * afd_alert_name(kind), non-empty NUL-terminated UTF-8 deployment, UTF-8
 * explanation, regimes, ratio finite > 0, r_star NaN or finite > 0,
 * 0 <= start_ms <= AFD_AM_TIME_MAX and, for RESOLVED, start_ms <= end_ms
 * <= AFD_AM_TIME_MAX. AFD_EINVAL naming the field.
 */
int afd_alertmanager_alert_check(const struct afd_alertmanager_alert *a,
                                 char *err);

/*
 * The v2 request body for alerts[0..n): a JSON array, one object per alert
 * with labels {alertname, deployment, regime, [predicted_regime,] severity,
 * extra labels}, annotations {summary, explanation, description, r_star,
 * current_ratio, previous_regime, predicted_regime}, startsAt, endsAt
 * (firing: max(now_ms, start_ms) + 4 * resend_interval_ms; resolved:
 * end_ms) and
 * generatorURL when configured. Numbers in annotations use "%.6g".
 * Returns a new reference (caller json_decref()s) or NULL with the reason
 * in err (an invalid alert, or out of memory). cfg is not re-checked.
 */
json_t *afd_alertmanager_payload(const struct afd_alertmanager_config *cfg,
                                 const struct afd_alertmanager_alert *alerts,
                                 size_t n, int64_t now_ms, char *err);

struct afd_alertmanager_stats {
    uint64_t posted;    /* events accepted by _post */
    uint64_t sent;      /* alerts put in requests, resends included */
    uint64_t delivered; /* alerts in requests answered 2xx */
    uint64_t batches;   /* requests answered 2xx */
    uint64_t failures;  /* requests failed (connection, timeout, non-2xx) */
    uint64_t dropped;   /* deliveries dropped: queue full or rejected */
    uint64_t rejected;  /* of those, alerts in batches answered 400 */
    uint64_t resends;   /* firing alerts queued again by the resend timer */
    size_t active;      /* firing alerts (re-sent periodically) */
    size_t pending;     /* deliveries queued or in flight */
    bool in_flight;     /* a request is outstanding */
    uint64_t consecutive_failures; /* since the last 2xx */
    int64_t next_backoff_ms;       /* wait after the next failure, ms */
    int last_status;               /* HTTP status of the last reply, 0 none */
    char last_error[AFD_ERR_LEN];  /* last failure, "" if none ever */
};

struct afd_alertmanager;

/*
 * Implemented in alertmanager.c (the pure functions above are in
 * alertmanager_payload.c).
 *
 * Checks and copies cfg, parses the URL and creates the (lazy) connection;
 * nothing is sent before the first _post. NULL with the reason in err on a
 * bad config or when libevent cannot allocate. Free with
 * afd_alertmanager_free().
 */
struct afd_alertmanager *
afd_alertmanager_new(struct event_base *base,
                     const struct afd_alertmanager_config *cfg, char *err);

/* Frees am, cancelling any request in flight; NULL is accepted. */
void afd_alertmanager_free(struct afd_alertmanager *am);

/*
 * Queues one event (copied) for delivery by the loop; returns at once.
 * AFD_EINVAL for an invalid event (see _alert_check, nothing changes);
 * AFD_ENOMEM when a RAISED finds the firing table full (nothing changes).
 * A full queue is not an error: the oldest delivery is dropped and counted.
 */
int afd_alertmanager_post(struct afd_alertmanager *am,
                          const struct afd_alert_event *ev, double r_star,
                          char *err);

/* Snapshot of the counters. */
void afd_alertmanager_stats(const struct afd_alertmanager *am,
                            struct afd_alertmanager_stats *out);

#endif
