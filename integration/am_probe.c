/*
 * am_probe.c - drives plugin/alertmanager on a libevent loop from commands
 * on stdin, for the real-Alertmanager test (integration/e2e/
 * test_alertmanager.py). One reply line per command, flushed:
 *   raise DEPLOY REGIME   post a RAISED AfdRegimeChanged  -> "ok raise"
 *   resolve DEPLOY        post its RESOLVED               -> "ok resolve"
 *   wait-delivered MS     wait until nothing is pending   -> "delivered" or
 *                         "timeout", then a stats line
 *   stats                 -> "stats posted=.. sent=.. ..."
 *   ping                  -> "pong" (answered by the loop: it is not blocked)
 *   quit (or EOF)         frees everything, exits 0
 * Errors answer "error <message>". Usage:
 *   am-probe --url URL [--resend-ms N] [--timeout-ms N] [--backoff-ms N]
 *            [--backoff-max-ms N]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/daemon/alertmanager.h"
#include "plugin/sys/os.h"

#define MAX_RAISED 16
#define POLL_MS    10 /* wait-delivered check period */

struct probe {
    struct event_base *base;
    struct afd_alertmanager *am;
    struct event *stdin_ev;
    struct event *poll_ev;
    struct evbuffer *in;
    bool waiting; /* a wait-delivered is running; later lines wait */
    bool eof;
    struct timespec deadline;
    size_t n_raised;
    struct afd_alert_event raised[MAX_RAISED];
};

static void print_stats(struct probe *p)
{
    struct afd_alertmanager_stats st;

    afd_alertmanager_stats(p->am, &st);
    printf("stats posted=%llu sent=%llu delivered=%llu batches=%llu "
           "failures=%llu dropped=%llu resends=%llu active=%zu pending=%zu "
           "in_flight=%d last_status=%d last_error=\"%s\"\n",
           (unsigned long long)st.posted, (unsigned long long)st.sent,
           (unsigned long long)st.delivered, (unsigned long long)st.batches,
           (unsigned long long)st.failures, (unsigned long long)st.dropped,
           (unsigned long long)st.resends, st.active, st.pending,
           (int)st.in_flight, st.last_status, st.last_error);
}

static void cmd_raise(struct probe *p, const char *dep, const char *reg)
{
    struct afd_alert_event ev;
    char err[AFD_ERR_LEN];

    memset(&ev, 0, sizeof(ev));
    if (!dep || !reg || afd_regime_parse(reg, &ev.regime, err)) {
        printf("error raise needs DEPLOY and a valid REGIME\n");
        return;
    }
    if (p->n_raised == MAX_RAISED) {
        printf("error more than %d raised alerts\n", MAX_RAISED);
        return;
    }
    ev.kind = AFD_ALERT_REGIME_CHANGED;
    ev.action = AFD_ALERT_RAISED;
    ev.alertname = afd_alert_name(ev.kind);
    snprintf(ev.deployment, sizeof(ev.deployment), "%s", dep);
    ev.previous = ev.regime == AFD_REGIME_ATTENTION ? AFD_REGIME_FFN
                                                    : AFD_REGIME_ATTENTION;
    ev.predicted = ev.regime;
    ev.ratio = 1.5;
    snprintf(ev.explanation, sizeof(ev.explanation),
             "bottleneck moved from %s to %s (probe)",
             afd_regime_name(ev.previous), afd_regime_name(ev.regime));
    ev.start_ms = afd_clock_wall_ms();
    if (afd_alertmanager_post(p->am, &ev, 2.25, err)) {
        printf("error %s\n", err);
        return;
    }
    p->raised[p->n_raised++] = ev;
    printf("ok raise\n");
}

static void cmd_resolve(struct probe *p, const char *dep)
{
    char err[AFD_ERR_LEN];
    size_t i;

    for (i = 0; dep && i < p->n_raised; i++)
        if (!strcmp(p->raised[i].deployment, dep))
            break;
    if (!dep || i == p->n_raised) {
        printf("error no raised alert for that deployment\n");
        return;
    }
    p->raised[i].action = AFD_ALERT_RESOLVED;
    p->raised[i].end_ms = afd_clock_wall_ms();
    snprintf(p->raised[i].explanation, sizeof(p->raised[i].explanation),
             "regime %s held, alert resolved (probe)",
             afd_regime_name(p->raised[i].regime));
    if (afd_alertmanager_post(p->am, &p->raised[i], 2.25, err)) {
        printf("error %s\n", err);
        return;
    }
    p->raised[i] = p->raised[--p->n_raised];
    printf("ok resolve\n");
}

static bool wait_done(struct probe *p)
{
    struct afd_alertmanager_stats st;
    struct timespec now;

    afd_alertmanager_stats(p->am, &st);
    if (st.pending == 0) {
        printf("delivered\n");
        print_stats(p);
        return true;
    }
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec > p->deadline.tv_sec ||
        (now.tv_sec == p->deadline.tv_sec &&
         now.tv_nsec >= p->deadline.tv_nsec)) {
        printf("timeout\n");
        print_stats(p);
        return true;
    }
    return false;
}

static void cmd_wait(struct probe *p, const char *ms_text)
{
    struct timeval tv = {.tv_sec = 0, .tv_usec = POLL_MS * 1000};
    long ms;

    if (!ms_text || afd_parse_long(ms_text, "MS", &ms, NULL) || ms < 0) {
        printf("error wait-delivered needs MS >= 0\n");
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &p->deadline);
    p->deadline.tv_sec += ms / 1000;
    p->deadline.tv_nsec += (ms % 1000) * 1000000;
    if (p->deadline.tv_nsec >= 1000000000) {
        p->deadline.tv_sec++;
        p->deadline.tv_nsec -= 1000000000;
    }
    if (wait_done(p))
        return;
    p->waiting = true;
    evtimer_add(p->poll_ev, &tv);
}

/* Runs one command; false on quit. */
static bool run_line(struct probe *p, char *line)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t\r", &save);
    char *a1 = strtok_r(NULL, " \t\r", &save);
    char *a2 = strtok_r(NULL, " \t\r", &save);

    if (!cmd)
        return true;
    if (!strcmp(cmd, "quit"))
        return false;
    if (!strcmp(cmd, "raise"))
        cmd_raise(p, a1, a2);
    else if (!strcmp(cmd, "resolve"))
        cmd_resolve(p, a1);
    else if (!strcmp(cmd, "wait-delivered"))
        cmd_wait(p, a1);
    else if (!strcmp(cmd, "stats"))
        print_stats(p);
    else if (!strcmp(cmd, "ping"))
        printf("pong\n");
    else
        printf("error unknown command '%s'\n", cmd);
    fflush(stdout);
    return true;
}

/* Runs buffered lines until a wait starts or they run out. */
static void drain_lines(struct probe *p)
{
    char *line;

    while (!p->waiting &&
           (line = evbuffer_readln(p->in, NULL, EVBUFFER_EOL_LF))) {
        bool go_on = run_line(p, line);

        free(line);
        if (!go_on) {
            event_base_loopbreak(p->base);
            return;
        }
    }
    if (!p->waiting && p->eof)
        event_base_loopbreak(p->base);
}

static void on_stdin(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    int n = evbuffer_read(p->in, fd, 4096);

    if (n <= 0) {
        p->eof = true;
        event_del(p->stdin_ev);
    }
    drain_lines(p);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct probe *p = arg;
    struct timeval tv = {.tv_sec = 0, .tv_usec = POLL_MS * 1000};

    if (!wait_done(p)) {
        evtimer_add(p->poll_ev, &tv);
        return;
    }
    fflush(stdout);
    p->waiting = false;
    drain_lines(p);
}

static int parse_args(int argc, char **argv,
                      struct afd_alertmanager_config *cfg)
{
    int i;

    afd_alertmanager_config_init(cfg);
    for (i = 1; i + 1 < argc; i += 2) {
        long v;

        if (!strcmp(argv[i], "--url")) {
            snprintf(cfg->url, sizeof(cfg->url), "%s", argv[i + 1]);
            continue;
        }
        if (afd_parse_long(argv[i + 1], argv[i], &v, NULL))
            return -1;
        if (!strcmp(argv[i], "--resend-ms"))
            cfg->resend_interval_ms = v;
        else if (!strcmp(argv[i], "--timeout-ms"))
            cfg->timeout_ms = v;
        else if (!strcmp(argv[i], "--backoff-ms"))
            cfg->backoff_initial_ms = v;
        else if (!strcmp(argv[i], "--backoff-max-ms"))
            cfg->backoff_max_ms = v;
        else
            return -1;
    }
    return i == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
    struct afd_alertmanager_config cfg;
    struct probe p;
    char err[AFD_ERR_LEN];
    int rc = 1;

    memset(&p, 0, sizeof(p));
    if (parse_args(argc, argv, &cfg)) {
        fprintf(stderr, "usage: am-probe --url URL [--resend-ms N] "
                        "[--timeout-ms N] [--backoff-ms N] "
                        "[--backoff-max-ms N]\n");
        return 2;
    }
    p.base = event_base_new();
    p.in = evbuffer_new();
    if (!p.base || !p.in)
        goto out;
    p.am = afd_alertmanager_new(p.base, &cfg, err);
    if (!p.am) {
        fprintf(stderr, "am-probe: %s\n", err);
        goto out;
    }
    p.stdin_ev =
        event_new(p.base, STDIN_FILENO, EV_READ | EV_PERSIST, on_stdin, &p);
    p.poll_ev = evtimer_new(p.base, on_poll, &p);
    if (!p.stdin_ev || !p.poll_ev || event_add(p.stdin_ev, NULL))
        goto out;
    printf("ready\n");
    fflush(stdout);
    event_base_dispatch(p.base);
    rc = 0;
out:
    if (p.poll_ev)
        event_free(p.poll_ev);
    if (p.stdin_ev)
        event_free(p.stdin_ev);
    afd_alertmanager_free(p.am);
    if (p.in)
        evbuffer_free(p.in);
    if (p.base)
        event_base_free(p.base);
    libevent_global_shutdown();
    return rc;
}
