/* test_http.c - the evhttp side: binding, routing, readiness. */
#include "tests/afd_test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "estimator/base/error.h"
#include "plugin/daemon/http.h"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;
    struct event_base *base;
    struct afd_http *http;
    char bound[AFD_ADDR_LEN];
    int port;
};

/* What one client request got back. */
struct reply {
    int code;
    char body[256];
    char content_type[128];
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    char err[AFD_ERR_LEN] = "";
    const char *colon;

    assert_non_null(f);
    afd_config_default(&f->cfg);
    f->reg = afd_registry_new(&f->cfg, NULL);
    f->base = event_base_new();
    assert_non_null(f->reg);
    assert_non_null(f->base);
    f->http = afd_http_start(f->base, "127.0.0.1:0", &(struct afd_metrics_src){.reg = f->reg}, f->bound, err);
    if (!f->http)
        fail_msg("afd_http_start: %s", err);
    colon = strrchr(f->bound, ':');
    assert_non_null(colon);
    f->port = atoi(colon + 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_http_free(f->http);
    event_base_free(f->base);
    afd_registry_free(f->reg);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

static void on_reply(struct evhttp_request *req, void *arg)
{
    struct reply *r = arg;
    const char *ct;
    size_t n;

    r->code = req ? evhttp_request_get_response_code(req) : -1;
    if (req) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);

        n = evbuffer_get_length(b);
        if (n >= sizeof(r->body))
            n = sizeof(r->body) - 1;
        evbuffer_remove(b, r->body, n);
        r->body[n] = '\0';
        ct = evhttp_find_header(evhttp_request_get_input_headers(req),
                                "Content-Type");
        snprintf(r->content_type, sizeof(r->content_type), "%s", ct ? ct : "");
    }
}

/* Runs one request through the same loop as the server. */
static struct reply request(struct fixture *f, enum evhttp_cmd_type cmd,
                            const char *path)
{
    struct reply r = {0, "", ""};
    struct evhttp_connection *c = evhttp_connection_base_new(
        f->base, NULL, "127.0.0.1", (ev_uint16_t)f->port);
    struct evhttp_request *req = evhttp_request_new(on_reply, &r);
    struct timeval limit = {10, 0};

    assert_non_null(c);
    evhttp_connection_set_timeout(c, 10);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host",
                      "127.0.0.1");
    assert_int_equal(evhttp_make_request(c, req, cmd, path), 0);
    while (r.code == 0) {
        event_base_loopexit(f->base, &limit);
        event_base_loop(f->base, EVLOOP_ONCE);
    }
    evhttp_connection_free(c);
    return r;
}

/* ensure port 0 binds a real port and reports it */
static void test_http_start_reports_bound_port(void **state)
{
    struct fixture *f = *state;

    assert_true(!strncmp(f->bound, "127.0.0.1:", 10));
    assert_true(f->port > 0 && f->port < 65536);
}

/* ensure /readyz is 503 until set ready, then 200, and 503 again */
static void test_http_readyz_follows_ready(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(request(f, EVHTTP_REQ_GET, "/readyz").code, 503);
    afd_http_set_ready(f->http, true);
    assert_int_equal(request(f, EVHTTP_REQ_GET, "/readyz").code, 200);
    afd_http_set_ready(f->http, false);
    assert_int_equal(request(f, EVHTTP_REQ_GET, "/readyz").code, 503);
}

/* ensure /healthz is 200 and an unknown path 404 */
static void test_http_routes(void **state)
{
    struct fixture *f = *state;
    struct reply r = request(f, EVHTTP_REQ_GET, "/healthz");

    assert_int_equal(r.code, 200);
    assert_string_equal(r.body, "ok\n");
    assert_int_equal(request(f, EVHTTP_REQ_GET, "/metricz").code, 404);
}

/* ensure /metrics answers the exposition with its content type */
static void test_http_metrics_content_type(void **state)
{
    struct fixture *f = *state;
    struct reply r = request(f, EVHTTP_REQ_GET, "/metrics?x=1");

    assert_int_equal(r.code, 200);
    assert_true(!strncmp(r.content_type, "text/plain; version=0.0.4", 25));
    assert_true(!strncmp(r.body, "# HELP afd_build_info", 21));
}

/* ensure a method other than GET/HEAD is 405 */
static void test_http_post_405(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(request(f, EVHTTP_REQ_POST, "/metrics").code, 405);
    assert_int_equal(request(f, EVHTTP_REQ_DELETE, "/healthz").code, 405);
}

/* ensure malformed addresses are rejected with the address quoted */
static void test_http_start_bad_address(void **state)
{
    struct fixture *f = *state;
    const char *bad[] = {"nohost", ":80", "127.0.0.1:99999", "127.0.0.1:x",
                         "127.0.0.1:"};
    char err[AFD_ERR_LEN];
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        assert_null(afd_http_start(f->base, bad[i], &(struct afd_metrics_src){.reg = f->reg}, NULL, err));
        if (!strstr(err, bad[i]))
            fail_msg("'%s': message '%s' does not quote it", bad[i], err);
    }
}

/* ensure a port in use is an error naming the address */
static void test_http_start_port_in_use(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN] = "";

    assert_null(afd_http_start(f->base, f->bound, &(struct afd_metrics_src){.reg = f->reg}, NULL, err));
    assert_non_null(strstr(err, f->bound));
    assert_non_null(strstr(err, "cannot listen"));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_http_start_reports_bound_port),
        T(test_http_readyz_follows_ready),
        T(test_http_routes),
        T(test_http_metrics_content_type),
        T(test_http_post_405),
        T(test_http_start_bad_address),
        T(test_http_start_port_in_use),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
