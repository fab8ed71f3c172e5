/*
 * test_ha_etcd.c - plugin/ha/etcd.h against a real single-member etcd
 * (Debian's etcd-server, installed by .ci/setup.sh) on loopback ports in a
 * temporary data dir: the campaign txn elects exactly one holder whose epoch
 * is the key's create_revision, fenced puts apply only under the current
 * epoch, keep-alive renews, revoking the leader's lease lets the other
 * replica win with a higher epoch, and a revoked lease reports TTL <= 0.
 * Two replicas driven by afd_ha_step elect one leader, which stops
 * commanding within ttl - margin of etcd freezing (SIGSTOP); one leader is
 * back after SIGCONT. Skipped (not passed) when no etcd binary exists.
 * Takes about 8 s.
 */
#include "tests/afd_test.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/ha/etcd.h"
#include "plugin/ha/replica.h"
#include "plugin/sys/os.h"

#define ETCD_BIN "/usr/bin/etcd"
#define T_MS     5000 /* etcd fsyncs each write; CI machines are loaded */

static pid_t g_etcd;
static char g_dir[64];
static char g_endpoint[64];
static int g_port;

/* A free loopback port: bind port 0, read it back, close. */
static int free_port(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int port;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static bool port_open(int port)
{
    struct sockaddr_in a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bool ok;

    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

static int start_etcd(void **state)
{
    char client[64], peer[64], cluster[96];
    int cp = free_port(), pp = free_port();

    while (pp == cp)
        pp = free_port();

    (void)state;
    if (access(ETCD_BIN, X_OK) != 0)
        return 0; /* each test skips */
    snprintf(g_dir, sizeof(g_dir), "/tmp/afd-etcd-XXXXXX");
    if (mkdtemp(g_dir) == NULL || cp < 0 || pp < 0)
        return -1;
    snprintf(client, sizeof(client), "http://127.0.0.1:%d", cp);
    snprintf(peer, sizeof(peer), "http://127.0.0.1:%d", pp);
    snprintf(cluster, sizeof(cluster), "t=%s", peer);
    snprintf(g_endpoint, sizeof(g_endpoint), "127.0.0.1:%d", cp);
    g_port = cp;
    g_etcd = fork();
    if (g_etcd < 0)
        return -1;
    if (g_etcd == 0) {
        if (freopen("/dev/null", "w", stderr) == NULL ||
            freopen("/dev/null", "w", stdout) == NULL)
            _exit(127);
        execl(ETCD_BIN, ETCD_BIN, "--name", "t", "--data-dir", g_dir,
              "--listen-client-urls", client, "--advertise-client-urls", client,
              "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
              "--initial-cluster", cluster, (char *)NULL);
        _exit(127);
    }
    return 0;
}

static int stop_etcd(void **state)
{
    char cmd[128];

    (void)state;
    if (g_etcd > 0) {
        kill(g_etcd, SIGKILL);
        waitpid(g_etcd, NULL, 0);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
        if (system(cmd) != 0)
            return -1;
    }
    return 0;
}

/* A client once etcd answers a lease grant (it needs ~1 s to elect
 * itself); the grant's lease is returned too. */
static struct afd_etcd *connect_ready(int64_t ttl_s, int64_t *lease)
{
    char err[AFD_ERR_LEN];
    struct afd_etcd *c;
    int i;

    if (g_etcd <= 0)
        skip();
    /* gRPC backs a refused channel off for seconds: connect only once etcd
     * listens. */
    for (i = 0; i < 300 && !port_open(g_port); i++)
        usleep(100 * 1000);
    c = afd_etcd_new(g_endpoint, err);
    assert_non_null(c);
    for (i = 0; i < 100; i++) {
        if (afd_etcd_lease_grant(c, ttl_s, lease, 500, err) == AFD_OK)
            return c;
        usleep(100 * 1000);
    }
    fail_msg("etcd at %s never answered: %s", g_endpoint, err);
    return NULL;
}

/* ensure one campaign wins, the other sees the holder and its epoch;
 * fenced puts apply only under the live epoch; revoke hands over */
static void test_campaign_fence_handover(void **state)
{
    char err[AFD_ERR_LEN], holder[64], buf[64];
    int64_t la, lb, ea, eb, eb2, ttl;
    bool won, applied, found;
    size_t len;
    struct afd_etcd *a, *b;

    (void)state;
    a = connect_ready(5, &la);
    b = connect_ready(5, &lb);
    assert_true(la != lb);
    assert_int_equal(afd_etcd_campaign(a, "/t/leader", "10.0.0.1:1", la, &won,
                                       &ea, holder, sizeof(holder), T_MS, err),
                     AFD_OK);
    assert_true(won);
    assert_true(ea > 0);
    assert_string_equal(holder, "10.0.0.1:1");
    assert_int_equal(afd_etcd_campaign(b, "/t/leader", "10.0.0.2:1", lb, &won,
                                       &eb, holder, sizeof(holder), T_MS, err),
                     AFD_OK);
    assert_false(won);
    assert_true(eb == ea);
    assert_string_equal(holder, "10.0.0.1:1");

    /* Fencing: only the current epoch's writes land. */
    assert_int_equal(afd_etcd_put_fenced(a, "/t/leader", ea, "/t/seq", "7", 1,
                                         &applied, T_MS, err),
                     AFD_OK);
    assert_true(applied);
    assert_int_equal(afd_etcd_put_fenced(b, "/t/leader", ea - 1, "/t/seq", "9",
                                         1, &applied, T_MS, err),
                     AFD_OK);
    assert_false(applied);
    assert_int_equal(afd_etcd_get(b, "/t/seq", buf, sizeof(buf), &len, &found,
                                  NULL, T_MS, err),
                     AFD_OK);
    assert_true(found && len == 1 && buf[0] == '7');

    /* Keep-alive renews to the full TTL. */
    assert_int_equal(afd_etcd_lease_keepalive(a, la, &ttl, T_MS, err), AFD_OK);
    assert_true(ttl == 5);

    /* The leader's lease ends: its key goes, b wins a higher epoch, and
     * a's old epoch can no longer write. */
    assert_int_equal(afd_etcd_lease_revoke(a, la, T_MS, err), AFD_OK);
    assert_int_equal(afd_etcd_lease_keepalive(a, la, &ttl, T_MS, err), AFD_OK);
    assert_true(ttl <= 0);
    assert_int_equal(afd_etcd_campaign(b, "/t/leader", "10.0.0.2:1", lb, &won,
                                       &eb2, holder, sizeof(holder), T_MS, err),
                     AFD_OK);
    assert_true(won);
    assert_true(eb2 > ea);
    assert_string_equal(holder, "10.0.0.2:1");
    assert_int_equal(afd_etcd_put_fenced(a, "/t/leader", ea, "/t/seq", "8", 1,
                                         &applied, T_MS, err),
                     AFD_OK);
    assert_false(applied);
    assert_int_equal(afd_etcd_get(a, "/t/missing", buf, sizeof(buf), &len,
                                  &found, NULL, T_MS, err),
                     AFD_OK);
    assert_false(found);
    /* A value larger than the buffer is an error naming the key. */
    assert_int_equal(
        afd_etcd_get(a, "/t/leader", buf, 3, &len, &found, NULL, T_MS, err),
        AFD_ENOMEM);
    assert_non_null(strstr(err, "/t/leader"));
    afd_etcd_free(a);
    afd_etcd_free(b);
}

/* ensure an unreachable etcd is an AFD_EIO error within the deadline */
static void test_unreachable(void **state)
{
    char err[AFD_ERR_LEN];
    struct afd_etcd *c;
    int64_t id;
    int port = free_port();
    char ep[64];

    (void)state;
    snprintf(ep, sizeof(ep), "127.0.0.1:%d", port);
    c = afd_etcd_new(ep, err);
    assert_non_null(c);
    assert_int_equal(afd_etcd_lease_grant(c, 5, &id, 300, err), AFD_EIO);
    assert_non_null(strstr(err, "LeaseGrant"));
    afd_etcd_free(c);
}

/* Steps both replicas once (300 ms per etcd call at most). */
static void step_both(struct afd_ha_election *e, struct afd_etcd **c)
{
    char err[AFD_ERR_LEN];
    int i;

    for (i = 0; i < 2; i++)
        afd_ha_step(&e[i], c[i], "/p/leader", i == 0 ? "a:1" : "b:1",
                    afd_clock_mono_ms, 300, err);
    usleep(20 * 1000);
}

static int leaders(const struct afd_ha_election *e, int64_t now)
{
    return (int)afd_ha_may_command(&e[0], now) +
           (int)afd_ha_may_command(&e[1], now);
}

/* ensure two replicas elect one leader; with etcd frozen (SIGSTOP) the
 * leader stops commanding no later than ttl - margin after the freeze,
 * i.e. before etcd could let anyone else win; once etcd is back there is
 * one leader again, with a higher epoch */
static void test_replicas_freeze(void **state)
{
    struct afd_ha_election e[2];
    struct afd_etcd *c[2];
    int64_t lease, t0, t_stop, now, epoch0;
    bool off = false;

    (void)state;
    c[0] = connect_ready(2, &lease);
    c[1] = connect_ready(2, &lease);
    assert_int_equal(afd_ha_init(&e[0], 2000, 500, NULL), AFD_OK);
    assert_int_equal(afd_ha_init(&e[1], 2000, 500, NULL), AFD_OK);
    t0 = afd_clock_mono_ms();
    while (leaders(e, afd_clock_mono_ms()) == 0 &&
           afd_clock_mono_ms() - t0 < 5000)
        step_both(e, c);
    assert_int_equal(leaders(e, afd_clock_mono_ms()), 1);
    epoch0 = e[0].epoch + e[1].epoch;
    /* Stays one leader across several renewals. */
    t0 = afd_clock_mono_ms();
    while (afd_clock_mono_ms() - t0 < 1500) {
        step_both(e, c);
        assert_int_equal(leaders(e, afd_clock_mono_ms()), 1);
    }

    assert_int_equal(kill(g_etcd, SIGSTOP), 0);
    t_stop = afd_clock_mono_ms();
    while ((now = afd_clock_mono_ms()) - t_stop < 2500) {
        if (now - t_stop >= 2000 - 500)
            assert_int_equal(leaders(e, now), 0);
        if (leaders(e, now) == 0)
            off = true;
        step_both(e, c);
    }
    assert_true(off);
    assert_int_equal(kill(g_etcd, SIGCONT), 0);
    t0 = afd_clock_mono_ms();
    while (leaders(e, afd_clock_mono_ms()) == 0 &&
           afd_clock_mono_ms() - t0 < 8000)
        step_both(e, c);
    assert_int_equal(leaders(e, afd_clock_mono_ms()), 1);
    assert_true(e[0].epoch + e[1].epoch > epoch0);
    afd_etcd_free(c[0]);
    afd_etcd_free(c[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_campaign_fence_handover),
        cmocka_unit_test(test_replicas_freeze),
        cmocka_unit_test(test_unreachable),
    };
    return cmocka_run_group_tests(tests, start_etcd, stop_etcd);
}
