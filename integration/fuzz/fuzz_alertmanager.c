/*
 * fuzz_alertmanager.c - the Alertmanager client (plugin/daemon/
 * alertmanager.h): the configured URL's parsing and, against a loopback
 * listener that answers with the fuzzed bytes then closes, libevent's
 * response parsing and our handling of the reply (status classes, 400,
 * body snippet in the error, backoff).
 *
 * Input: [n u8][n bytes: the URL to parse][rest: the raw HTTP response].
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_net.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/alertmanager.h"

#define T0_MS 1700000000123LL

static void check_url(const uint8_t *p, size_t n)
{
    struct afd_alertmanager_config cfg;
    struct afd_am_endpoint ep;
    char err[AFD_ERR_LEN];
    size_t plen, alen = strlen(AFD_AM_API_PATH);

    afd_alertmanager_config_init(&cfg);
    if (n >= sizeof(cfg.url))
        n = sizeof(cfg.url) - 1;
    memcpy(cfg.url, p, n);
    cfg.url[n] = '\0';
    if (afd_alertmanager_endpoint(&cfg, &ep, err) != AFD_OK)
        return;
    plen = strlen(ep.path);
    /* What the header promises of an accepted URL. */
    if (ep.path[0] != '/' || plen < alen ||
        strcmp(ep.path + plen - alen, AFD_AM_API_PATH) != 0 || ep.port < 1 ||
        ep.port > 65535 || !ep.host[0] || !ep.address[0])
        __builtin_trap();
}

static struct afd_alert_event raised(void)
{
    struct afd_alert_event ev;

    memset(&ev, 0, sizeof(ev));
    ev.kind = AFD_ALERT_SIZING_CHANGED;
    ev.action = AFD_ALERT_RAISED;
    ev.alertname = afd_alert_name(AFD_ALERT_SIZING_CHANGED);
    snprintf(ev.deployment, sizeof(ev.deployment), "llama");
    ev.regime = AFD_REGIME_FFN;
    ev.previous = AFD_REGIME_ATTENTION;
    ev.predicted = AFD_REGIME_FFN;
    ev.ratio = 1.25;
    snprintf(ev.explanation, sizeof(ev.explanation), "ffn 12 ms > att 9 ms");
    ev.start_ms = T0_MS;
    return ev;
}

/* Posts one alert and answers the request with resp; bounded to 0.3 s. */
static void exchange(struct event_base *base, int lfd, int port,
                     const uint8_t *resp, size_t n)
{
    struct afd_alertmanager_config cfg;
    struct afd_alertmanager_stats st;
    struct afd_alertmanager *am;
    struct afd_alert_event ev = raised();
    char err[AFD_ERR_LEN], buf[4096];
    int cfd = -1, i;

    afd_alertmanager_config_init(&cfg);
    snprintf(cfg.url, sizeof(cfg.url), "http://127.0.0.1:%d/", port);
    cfg.timeout_ms = 100; /* an unfinished reply costs 0.1 s, not more */
    am = afd_alertmanager_new(base, &cfg, err);
    if (!am)
        __builtin_trap(); /* a valid config refused */
    if (afd_alertmanager_post(am, &ev, 1.5, err) != AFD_OK)
        __builtin_trap();
    for (i = 0; i < 300; i++) {
        afd_fuzz_spin(base);
        if (cfd < 0) {
            cfd = accept(lfd, NULL, NULL);
            if (cfd < 0)
                continue;
            /* Read the request (its first bytes suffice), answer, close. */
            while (recv(cfd, buf, sizeof(buf), MSG_DONTWAIT) <= 0 && i < 300) {
                afd_fuzz_spin(base);
                i++;
            }
            send(cfd, resp, n, MSG_NOSIGNAL | MSG_DONTWAIT);
            shutdown(cfd, SHUT_WR);
        }
        afd_alertmanager_stats(am, &st);
        if (st.sent && !st.in_flight)
            break;
    }
    if (cfd >= 0)
        close(cfd);
    afd_alertmanager_stats(am, &st);
    if (st.delivered + st.failures > st.sent || st.dropped > st.posted)
        __builtin_trap(); /* counters that cannot add up */
    afd_alertmanager_free(am);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event_base *base;
    static int lfd = -1, port;
    size_t n;

    if (!size)
        return 0;
    n = data[0];
    if (n > size - 1)
        n = size - 1;
    check_url(data + 1, n);
    if (!base) {
        base = event_base_new();
        lfd = afd_fuzz_listen(&port);
        if (!base || lfd < 0)
            __builtin_trap();
    }
    exchange(base, lfd, port, data + 1 + n, size - 1 - n);
    return 0;
}
