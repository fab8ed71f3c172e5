/*
 * alertmanager_payload.c - the pure half of plugin/daemon/alertmanager.h:
 * config checks, the url split, event checks, RFC 3339 times and the v2 request
 * body. No I/O, no clock, no state.
 */
#include "plugin/daemon/alertmanager.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>

#include "estimator/base/error.h"

/* Firing endsAt = send time + 4 resend intervals, as Prometheus does. */
#define RESEND_ENDS_FACTOR 4

static const char *const reserved_labels[] = {
    "alertname", "deployment", "regime", "predicted_regime", "severity",
};

static bool str_fits(const char *s, size_t cap)
{
    return memchr(s, '\0', cap) != NULL;
}

/* Strict UTF-8 (no overlongs, surrogates or code points past U+10FFFF):
 * Alertmanager and jansson reject anything else. */
static bool utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p, n, cp, i;

        if (c < 0x80) {
            p++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        for (i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += n + 1;
    }
    return true;
}

static bool label_name_valid(const char *s)
{
    size_t i;

    if (!s[0] || !((s[0] >= 'a' && s[0] <= 'z') ||
                   (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_'))
        return false;
    for (i = 1; s[i]; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
            return false;
    return true;
}

void afd_alertmanager_config_init(struct afd_alertmanager_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->severity, "warning");
    cfg->resend_interval_ms = 60000;
    cfg->timeout_ms = 10000;
    cfg->backoff_initial_ms = 1000;
    cfg->backoff_max_ms = 60000;
    cfg->max_queue = 1024;
    cfg->max_batch = 64;
}

/*
 * Splits cfg->url into host (as written, for the Host header), the
 * connect address (IPv6 brackets removed), port and request path.
 */
static int parse_url(const struct afd_alertmanager_config *cfg,
                     struct afd_am_endpoint *ep, char *err)
{
    struct evhttp_uri *u;
    const char *scheme, *h, *p;
    size_t plen, hlen;
    int rc = AFD_EINVAL;

    if (!str_fits(cfg->url, sizeof(cfg->url)))
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'url' is longer than %d bytes",
                       AFD_AM_URL_LEN - 1);
    if (!cfg->url[0])
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'url' is empty: give "
                       "http://host:port");
    u = evhttp_uri_parse(cfg->url);
    if (!u)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager url '%s' is not a valid url", cfg->url);
    scheme = evhttp_uri_get_scheme(u);
    h = evhttp_uri_get_host(u);
    p = evhttp_uri_get_path(u);
    if (scheme && !strcasecmp(scheme, "https")) {
        afd_err(err, rc,
                "alertmanager url '%s' uses https, which is not supported: "
                "use http:// (a TLS proxy on loopback for https)",
                cfg->url);
        goto out_free;
    }
    if (!scheme || strcasecmp(scheme, "http")) {
        afd_err(err, rc, "alertmanager url '%s' must start with http://",
                cfg->url);
        goto out_free;
    }
    if (!h || !h[0]) {
        afd_err(err, rc, "alertmanager url '%s' has no host", cfg->url);
        goto out_free;
    }
    if (evhttp_uri_get_userinfo(u) || evhttp_uri_get_query(u) ||
        evhttp_uri_get_fragment(u)) {
        afd_err(err, rc,
                "alertmanager url '%s' must not have credentials, a query "
                "or a fragment",
                cfg->url);
        goto out_free;
    }
    ep->port = evhttp_uri_get_port(u) < 0 ? 80 : evhttp_uri_get_port(u);
    if (ep->port < 1 || ep->port > 65535) {
        afd_err(err, rc, "alertmanager url '%s' port must be in [1, 65535]",
                cfg->url);
        goto out_free;
    }
    hlen = strlen(h);
    snprintf(ep->host, AFD_AM_URL_LEN, "%s", h);
    if (h[0] == '[' && hlen >= 2 && h[hlen - 1] == ']')
        snprintf(ep->address, AFD_AM_URL_LEN, "%.*s", (int)(hlen - 2), h + 1);
    else
        snprintf(ep->address, AFD_AM_URL_LEN, "%s", h);
    p = p ? p : "";
    for (plen = strlen(p); plen > 0 && p[plen - 1] == '/'; plen--)
        ;
    if (plen + sizeof(AFD_AM_API_PATH) > AFD_AM_URL_LEN) {
        afd_err(err, rc, "alertmanager url '%s' path is too long", cfg->url);
        goto out_free;
    }
    snprintf(ep->path, AFD_AM_URL_LEN, "%.*s%s", (int)plen, p, AFD_AM_API_PATH);
    rc = AFD_OK;
out_free:
    evhttp_uri_free(u);
    return rc;
}

static int check_interval(const char *name, int64_t v, char *err)
{
    if (v < 1 || v > AFD_AM_INTERVAL_MAX)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field '%s' must be in [1, %d] ms, got "
                       "%lld",
                       name, AFD_AM_INTERVAL_MAX, (long long)v);
    return AFD_OK;
}

static int check_text(const char *name, const char *s, size_t cap,
                      bool may_be_empty, char *err)
{
    if (!str_fits(s, cap))
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field '%s' is longer than %zu bytes", name,
                       cap - 1);
    if (!may_be_empty && !s[0])
        return afd_err(err, AFD_EINVAL, "alertmanager field '%s' is empty",
                       name);
    if (!utf8_valid(s))
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field '%s' is not valid utf-8", name);
    return AFD_OK;
}

static int check_labels(const struct afd_alertmanager_config *cfg, char *err)
{
    size_t i, j;

    if (cfg->n_labels > AFD_AM_MAX_LABELS)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'n_labels' must be in [0, %d], "
                       "got %zu",
                       AFD_AM_MAX_LABELS, cfg->n_labels);
    for (i = 0; i < cfg->n_labels; i++) {
        const struct afd_am_label *l = &cfg->labels[i];

        if (!str_fits(l->name, sizeof(l->name)) || !label_name_valid(l->name))
            return afd_err(err, AFD_EINVAL,
                           "alertmanager label %zu name '%.*s' must match "
                           "[a-zA-Z_][a-zA-Z0-9_]*",
                           i, AFD_AM_LABEL_NAME_LEN - 1, l->name);
        for (j = 0; j < sizeof(reserved_labels) / sizeof(*reserved_labels); j++)
            if (!strcmp(l->name, reserved_labels[j]))
                return afd_err(err, AFD_EINVAL,
                               "alertmanager label '%s' is reserved: the "
                               "module sets it",
                               l->name);
        for (j = 0; j < i; j++)
            if (!strcmp(l->name, cfg->labels[j].name))
                return afd_err(err, AFD_EINVAL,
                               "alertmanager label '%s' is given twice",
                               l->name);
        if (check_text("labels.value", l->value, sizeof(l->value), false, err))
            return afd_err(err, AFD_EINVAL,
                           "alertmanager label '%s' value must be non-empty "
                           "utf-8 shorter than %d bytes",
                           l->name, AFD_AM_LABEL_LEN);
    }
    return AFD_OK;
}

int afd_alertmanager_config_check(const struct afd_alertmanager_config *cfg,
                                  char *err)
{
    struct afd_am_endpoint ep;
    int rc;

    if ((rc = parse_url(cfg, &ep, err)) ||
        (rc = check_text("generator_url", cfg->generator_url,
                         sizeof(cfg->generator_url), true, err)) ||
        (rc = check_text("severity", cfg->severity, sizeof(cfg->severity),
                         false, err)) ||
        (rc = check_labels(cfg, err)) ||
        (rc = check_interval("resend_interval_ms", cfg->resend_interval_ms,
                             err)) ||
        (rc = check_interval("timeout_ms", cfg->timeout_ms, err)) ||
        (rc = check_interval("backoff_initial_ms", cfg->backoff_initial_ms,
                             err)) ||
        (rc = check_interval("backoff_max_ms", cfg->backoff_max_ms, err)))
        return rc;
    if (cfg->backoff_max_ms < cfg->backoff_initial_ms)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'backoff_max_ms' must be >= "
                       "backoff_initial_ms (%lld), got %lld",
                       (long long)cfg->backoff_initial_ms,
                       (long long)cfg->backoff_max_ms);
    if (cfg->max_queue < 1 || cfg->max_queue > AFD_AM_QUEUE_MAX)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'max_queue' must be in [1, %d], "
                       "got %zu",
                       AFD_AM_QUEUE_MAX, cfg->max_queue);
    if (cfg->max_batch < 1 || cfg->max_batch > cfg->max_queue)
        return afd_err(err, AFD_EINVAL,
                       "alertmanager field 'max_batch' must be in [1, "
                       "max_queue = %zu], got %zu",
                       cfg->max_queue, cfg->max_batch);
    return AFD_OK;
}

int afd_alertmanager_endpoint(const struct afd_alertmanager_config *cfg,
                              struct afd_am_endpoint *out, char *err)
{
    int rc;

    if ((rc = afd_alertmanager_config_check(cfg, err)))
        return rc;
    return parse_url(cfg, out, err);
}

int afd_alertmanager_format_time(int64_t ms, char *out, char *err)
{
    char buf[80]; /* room for any struct tm, so no truncation warning */
    time_t secs;
    struct tm tm;

    if (ms < 0 || ms > AFD_AM_TIME_MAX)
        return afd_err(err, AFD_EINVAL,
                       "alert time %lld ms is outside [0, %lld] ms since "
                       "1970-01-01",
                       (long long)ms, (long long)AFD_AM_TIME_MAX);
    secs = (time_t)(ms / 1000);
    if (!gmtime_r(&secs, &tm))
        return afd_err(err, AFD_EINVAL,
                       "alert time %lld ms cannot be "
                       "converted to utc",
                       (long long)ms);
    snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
             tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    memcpy(out, buf, AFD_AM_TIME_LEN - 1);
    out[AFD_AM_TIME_LEN - 1] = '\0';
    return AFD_OK;
}

static bool regime_valid(enum afd_regime r)
{
    return (unsigned)r < AFD_REGIME_COUNT;
}

int afd_alertmanager_alert_check(const struct afd_alertmanager_alert *a,
                                 char *err)
{
    const struct afd_alert_event *ev = &a->ev;

    if ((unsigned)ev->kind >= AFD_ALERT_KIND_COUNT)
        return afd_err(err, AFD_EINVAL, "alert field 'kind' is invalid: %d",
                       (int)ev->kind);
    if (ev->action != AFD_ALERT_RAISED && ev->action != AFD_ALERT_RESOLVED)
        return afd_err(err, AFD_EINVAL, "alert field 'action' is invalid: %d",
                       (int)ev->action);
    if (!ev->alertname || strcmp(ev->alertname, afd_alert_name(ev->kind)))
        return afd_err(err, AFD_EINVAL,
                       "alert field 'alertname' must be '%s' for kind %d",
                       afd_alert_name(ev->kind), (int)ev->kind);
    if (!str_fits(ev->deployment, sizeof(ev->deployment)) ||
        !ev->deployment[0] || !utf8_valid(ev->deployment))
        return afd_err(err, AFD_EINVAL,
                       "alert field 'deployment' must be non-empty utf-8 "
                       "shorter than %d bytes",
                       AFD_DEPLOYMENT_LEN);
    if (!str_fits(ev->explanation, sizeof(ev->explanation)) ||
        !utf8_valid(ev->explanation))
        return afd_err(err, AFD_EINVAL,
                       "alert field 'explanation' must be utf-8 shorter "
                       "than %d bytes",
                       AFD_REASON_LEN);
    if (!regime_valid(ev->regime) || !regime_valid(ev->previous) ||
        !regime_valid(ev->predicted))
        return afd_err(err, AFD_EINVAL,
                       "alert regimes must be valid, got regime %d previous "
                       "%d predicted %d",
                       (int)ev->regime, (int)ev->previous, (int)ev->predicted);
    if (!isfinite(ev->ratio) || ev->ratio <= 0)
        return afd_err(err, AFD_EINVAL,
                       "alert field 'ratio' must be finite and > 0, got %g",
                       ev->ratio);
    if (!isnan(a->r_star) && (!isfinite(a->r_star) || a->r_star <= 0))
        return afd_err(err, AFD_EINVAL,
                       "alert r_star must be NaN (unknown) or finite and > "
                       "0, got %g",
                       a->r_star);
    if (ev->start_ms < 0 || ev->start_ms > AFD_AM_TIME_MAX)
        return afd_err(err, AFD_EINVAL,
                       "alert field 'start_ms' must be in [0, %lld], got "
                       "%lld",
                       (long long)AFD_AM_TIME_MAX, (long long)ev->start_ms);
    if (ev->action == AFD_ALERT_RESOLVED &&
        (ev->end_ms < ev->start_ms || ev->end_ms > AFD_AM_TIME_MAX))
        return afd_err(err, AFD_EINVAL,
                       "alert field 'end_ms' must be in [start_ms = %lld, "
                       "%lld], got %lld",
                       (long long)ev->start_ms, (long long)AFD_AM_TIME_MAX,
                       (long long)ev->end_ms);
    return AFD_OK;
}

static int set_str(json_t *obj, const char *key, const char *val)
{
    return json_object_set_new(obj, key, json_string(val));
}

static int set_num(json_t *obj, const char *key, double v)
{
    char buf[32];

    snprintf(buf, sizeof(buf), "%.6g", v);
    return set_str(obj, key, buf);
}

static json_t *alert_labels(const struct afd_alertmanager_config *cfg,
                            const struct afd_alert_event *ev)
{
    json_t *l = json_object();
    int bad = !l;
    size_t i;

    if (bad)
        return NULL;
    bad |= set_str(l, "alertname", ev->alertname);
    bad |= set_str(l, "deployment", ev->deployment);
    bad |= set_str(l, "regime", afd_regime_name(ev->regime));
    /* Lost throughput now pages; a changed sizing regime is a planning
     * matter at the configured severity. */
    bad |=
        set_str(l, "severity",
                ev->kind == AFD_ALERT_OFF_BALANCE ? afd_alert_severity(ev->kind)
                                                  : cfg->severity);
    for (i = 0; i < cfg->n_labels; i++)
        bad |= set_str(l, cfg->labels[i].name, cfg->labels[i].value);
    if (bad) {
        json_decref(l);
        return NULL;
    }
    return l;
}

static json_t *alert_annotations(const struct afd_alertmanager_alert *a)
{
    const struct afd_alert_event *ev = &a->ev;
    const char *reg = afd_regime_name(ev->regime);
    const char *prev = afd_regime_name(ev->previous);
    const char *pred = afd_regime_name(ev->predicted);
    char buf[2 * AFD_DEPLOYMENT_LEN + 256], rs[48] = "";
    json_t *an = json_object();
    int bad = !an;

    if (bad)
        return NULL;
    if (ev->kind == AFD_ALERT_OFF_BALANCE)
        snprintf(buf, sizeof(buf),
                 "%s: ratio %.3g outside the balanced band [%.3g, %.3g], "
                 "%.1f%% throughput lost",
                 ev->deployment, ev->ratio, ev->band_lo, ev->band_hi,
                 100 * ev->loss);
    else if (ev->kind == AFD_ALERT_PROFILE_DRIFT)
        snprintf(buf, sizeof(buf),
                 "%s: the %s stage takes %.2fx the calibrated model",
                 ev->deployment, reg, ev->drift_factor);
    else
        snprintf(buf, sizeof(buf),
                 "%s: the optimum is now set by the %s term (was %s)",
                 ev->deployment, reg, prev);
    bad |= set_str(an, "summary", buf);
    bad |= set_str(an, "runbook", afd_alert_runbook(ev->kind));
    bad |= set_str(an, "explanation", ev->explanation);
    if (!isnan(a->r_star)) {
        snprintf(rs, sizeof(rs), "; recommended r* = %.6g", a->r_star);
        bad |= set_num(an, "r_star", a->r_star);
    }
    snprintf(buf, sizeof(buf),
             "deployment %s: regime %s (previously %s), the model's regime "
             "at the current ratio x/y = %.6g is %s%s",
             ev->deployment, reg, prev, ev->ratio, pred, rs);
    bad |= set_str(an, "description", buf);
    bad |= set_num(an, "current_ratio", ev->ratio);
    if (ev->kind == AFD_ALERT_OFF_BALANCE) {
        bad |= set_num(an, "band_lo", ev->band_lo);
        bad |= set_num(an, "band_hi", ev->band_hi);
        bad |= set_num(an, "throughput_lost_fraction", ev->loss);
        bad |= set_num(an, "tokens_per_s_lost_per_device", ev->lost_per_device);
        bad |= set_num(an, "tokens_per_s_lost", ev->lost_tokens_per_s);
    }
    if (ev->kind == AFD_ALERT_PROFILE_DRIFT) {
        bad |= set_num(an, "drift_factor", ev->drift_factor);
        bad |= set_num(an, "measured_ms", ev->measured_ms);
        bad |= set_num(an, "model_ms", ev->model_ms);
        bad |= set_num(an, "model_half_width_ms", ev->model_hw_ms);
        bad |= set_num(an, "stage_load_tokens", ev->stage_load);
    }
    bad |= set_str(an, "previous_regime", prev);
    bad |= set_str(an, "predicted_regime", pred);
    if (bad) {
        json_decref(an);
        return NULL;
    }
    return an;
}

static json_t *alert_json(const struct afd_alertmanager_config *cfg,
                          const struct afd_alertmanager_alert *a,
                          int64_t now_ms, char *err)
{
    const struct afd_alert_event *ev = &a->ev;
    char starts[AFD_AM_TIME_LEN], ends[AFD_AM_TIME_LEN];
    int64_t end_ms = ev->end_ms;
    json_t *o;
    int bad;

    /* Firing: the send time (or a start ahead of it) plus the lease that
     * the re-sends keep extending. */
    if (ev->action == AFD_ALERT_RAISED)
        end_ms = (now_ms > ev->start_ms ? now_ms : ev->start_ms) +
                 RESEND_ENDS_FACTOR * cfg->resend_interval_ms;
    if (afd_alertmanager_alert_check(a, err) ||
        afd_alertmanager_format_time(ev->start_ms, starts, err) ||
        afd_alertmanager_format_time(end_ms, ends, err))
        return NULL;
    o = json_object();
    if (!o)
        goto out_nomem;
    bad = json_object_set_new(o, "labels", alert_labels(cfg, ev));
    bad |= json_object_set_new(o, "annotations", alert_annotations(a));
    bad |= set_str(o, "startsAt", starts);
    bad |= set_str(o, "endsAt", ends);
    if (cfg->generator_url[0])
        bad |= set_str(o, "generatorURL", cfg->generator_url);
    if (!bad)
        return o;
    json_decref(o);
out_nomem:
    afd_err(err, AFD_ENOMEM, "out of memory building the alertmanager body");
    return NULL;
}

json_t *afd_alertmanager_payload(const struct afd_alertmanager_config *cfg,
                                 const struct afd_alertmanager_alert *alerts,
                                 size_t n, int64_t now_ms, char *err)
{
    json_t *arr = json_array();
    size_t i;

    if (!arr) {
        afd_err(err, AFD_ENOMEM,
                "out of memory building the alertmanager body");
        return NULL;
    }
    for (i = 0; i < n; i++) {
        json_t *o = alert_json(cfg, &alerts[i], now_ms, err);

        if (!o || json_array_append_new(arr, o)) {
            if (o)
                afd_err(err, AFD_ENOMEM,
                        "out of memory building the alertmanager body");
            json_decref(arr);
            return NULL;
        }
    }
    return arr;
}
