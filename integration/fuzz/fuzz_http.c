/*
 * fuzz_http.c - the daemon's HTTP side (plugin/daemon/http.h) on raw bytes:
 * libevent's request parsing and limits, then our routing (/metrics,
 * /healthz, /readyz, /, /d/NAME with percent-decoding, methods, query
 * strings) and the renderers behind them. The server runs once per process
 * on 127.0.0.1:0 over a registry with one deployment with data; each input
 * is one connection, half-closed after the bytes, read until the server
 * closes (bounded: 1 s).
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_net.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/http.h"
#include "plugin/daemon/registry.h"

#define T0_MS 1700000000000LL

static struct event_base *g_base;
static int g_port;

/* One deployment with Attention and FFN reports, so /d/llama and /metrics
 * have rows to render. */
static void feed(struct afd_registry *reg, struct afd_control *ctl)
{
    struct afd_step_sample s;
    char id[32], err[AFD_ERR_LEN];
    int i, k;

    for (k = 0; k < 20; k++) {
        for (i = 0; i < 5; i++) {
            memset(&s, 0, sizeof(s));
            snprintf(id, sizeof(id), "a%d", i);
            s.instance_id = id;
            s.role = i < 4 ? AFD_ROLE_ATTENTION : AFD_ROLE_FFN;
            s.step = (uint64_t)k;
            s.batch_size = 256;
            s.token_load = 600.0 * 256;
            s.attention_ms = i < 4 ? 12 : 0;
            s.comm_ms = i < 4 ? 2 : 0;
            s.ffn_ms = i < 4 ? 0 : 9;
            s.ffn_tokens = i < 4 ? 0 : 1024;
            s.timestamp_ms = T0_MS + k * 100;
            afd_registry_add_step(reg, "llama", &s, T0_MS + k * 100, err);
        }
        afd_registry_add_request(reg, "llama", 1000, 600, err);
    }
    afd_control_tick(ctl, T0_MS + 5000);
}

static int init(void)
{
    static struct afd_config cfg;
    static struct afd_metrics_src src;
    struct afd_http *h;
    char bound[256], err[AFD_ERR_LEN], *colon;

    afd_config_default(&cfg);
    src.reg = afd_registry_new(&cfg, err);
    src.ctl = src.reg ? afd_control_new(&cfg, src.reg, err) : NULL;
    g_base = event_base_new();
    if (!src.ctl || !g_base)
        return -1;
    feed(src.reg, src.ctl);
    h = afd_http_start(g_base, "127.0.0.1:0", &src, bound, err);
    if (!h)
        return -1;
    afd_http_set_ready(h, true);
    colon = strrchr(bound, ':');
    g_port = colon ? atoi(colon + 1) : 0;
    return g_port > 0 ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ok = -2;
    int fd;

    if (ok == -2)
        ok = init();
    if (ok != 0)
        abort(); /* the harness itself is broken: say so loudly */
    fd = afd_fuzz_connect(g_port);
    if (fd < 0)
        return 0;
    if (afd_fuzz_write_all(g_base, fd, data, size) == 0)
        shutdown(fd, SHUT_WR);
    afd_fuzz_drain(g_base, fd, 1000);
    close(fd);
    /* Let the server see the close and free the connection now. */
    afd_fuzz_spin(g_base);
    return 0;
}
