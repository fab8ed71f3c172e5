/*
 * http.c - /metrics, /healthz, /readyz and the page (/, /d/NAME) on
 * libevent's evhttp (http.h).
 *
 * One catch-all callback routes by path, as libevent's sample/http-server.c;
 * every request ends in exactly one reply: 400 for an unparsable URI, 405
 * for a method other than GET/HEAD, 404 for an unknown path. evhttp itself
 * omits the body of a HEAD reply.
 */
#include "plugin/daemon/dynamo.h"
#include "plugin/daemon/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/metrics.h"
#include "plugin/daemon/replication.h"
#include "plugin/daemon/page.h"

/* Requests are tiny GETs: bound what a client may send and how long. */
#define HTTP_MAX_HEADERS_BYTES 16384
#define HTTP_MAX_BODY_BYTES    4096
#define HTTP_TIMEOUT_S         10

struct afd_http {
    struct evhttp *http;
    struct afd_metrics_src src;
    bool ready;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason,
                       const char *text)
{
    struct evbuffer *b = evbuffer_new();

    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; charset=utf-8");
    if (b)
        evbuffer_add(b, text, strlen(text));
    evhttp_send_reply(req, code, reason, b);
    if (b)
        evbuffer_free(b);
}

static void serve_metrics(struct afd_http *h, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();

    if (!b || afd_metrics_render(&h->src, b) < 0) {
        if (b)
            evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      AFD_METRICS_CONTENT_TYPE);
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}

/* GET / and /d/NAME (NAME percent-decoded): the operator's page. */
static void serve_page(struct afd_http *h, struct evhttp_request *req,
                       const char *name_enc)
{
    struct evbuffer *b = evbuffer_new();
    char *name = name_enc ? evhttp_uridecode(name_enc, 0, NULL) : NULL;
    int rc;

    if (!b || (name_enc && !name)) {
        if (b)
            evbuffer_free(b);
        free(name);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    rc = afd_page_render(&h->src, name, b);
    free(name);
    if (rc == AFD_ENOTFOUND) {
        evbuffer_free(b);
        reply_text(req, HTTP_NOTFOUND, "Not Found", "no such deployment\n");
        return;
    }
    if (rc != AFD_OK) {
        evbuffer_free(b);
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/html; charset=utf-8");
    evhttp_send_reply(req, HTTP_OK, "OK", b);
    evbuffer_free(b);
}

/* "ready" or "not ready", then the planner registration line if any (a
 * rejection does not make the daemon unready: it still serves its API). */
static void serve_readyz(struct afd_http *h, struct evhttp_request *req)
{
    char body[AFD_DYNAMO_REASON_LEN + AFD_ERR_LEN + 128];
    size_t n;

    n = (size_t)snprintf(body, sizeof(body), "%s",
                         h->ready ? "ready\n" : "not ready\n");
    if (h->src.dynamo) {
        afd_dynamo_readyz(h->src.dynamo, body + n, sizeof(body) - n);
        n = strlen(body);
    }
    /* Followers serve reads, so they stay ready; the line says the role. */
    afd_replication_readyz(h->src.repl, body + n, sizeof(body) - n);
    reply_text(req, h->ready ? HTTP_OK : 503,
               h->ready ? "OK" : "Service Unavailable", body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct afd_http *h = arg;
    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;

    if (!path) {
        evhttp_send_error(req, HTTP_BADREQUEST, "bad request uri");
        return;
    }
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
                          "GET, HEAD");
        reply_text(req, 405, "Method Not Allowed", "method not allowed\n");
        return;
    }
    if (!strcmp(path, "/metrics"))
        serve_metrics(h, req);
    else if (!strcmp(path, "/"))
        serve_page(h, req, NULL);
    else if (!strncmp(path, "/d/", 3) && path[3])
        serve_page(h, req, path + 3);
    else if (!strcmp(path, "/healthz"))
        reply_text(req, HTTP_OK, "OK", "ok\n");
    else if (!strcmp(path, "/readyz"))
        serve_readyz(h, req);
    else
        reply_text(req, HTTP_NOTFOUND, "Not Found", "not found\n");
}

/* "HOST:PORT" or "[V6]:PORT" into host and port. */
static int split_addr(const char *addr, char *host, size_t cap, int *port,
                      char *err)
{
    const char *colon = strrchr(addr, ':');
    const char *h = addr;
    size_t len;
    char *end;
    long p;

    if (!colon || colon == addr)
        return afd_err(err, AFD_EINVAL,
                       "http listen address '%s' must be HOST:PORT", addr);
    len = (size_t)(colon - addr);
    if (addr[0] == '[' && colon[-1] == ']') {
        h = addr + 1;
        len -= 2;
    }
    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || errno || p < 0 || p > 65535 || len >= cap ||
        len == 0)
        return afd_err(err, AFD_EINVAL,
                       "http listen address '%s' must be HOST:PORT with a "
                       "port in 0..65535",
                       addr);
    memcpy(host, h, len);
    host[len] = '\0';
    *port = (int)p;
    return AFD_OK;
}

/* The bound address as "HOST:PORT" ("[V6]:PORT"). */
static int bound_name(struct evhttp_bound_socket *bs, char *out, char *err)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    char ip[INET6_ADDRSTRLEN];
    evutil_socket_t fd = evhttp_bound_socket_get_fd(bs);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return afd_err(err, AFD_EIO, "getsockname on the http socket: %s",
                       strerror(errno));
    if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

        inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
        snprintf(out, AFD_ADDR_LEN, "[%s]:%u", ip, ntohs(s6->sin6_port));
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

        inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
        snprintf(out, AFD_ADDR_LEN, "%s:%u", ip, ntohs(s4->sin_port));
    }
    return AFD_OK;
}

struct afd_http *afd_http_start(struct event_base *base,
                                const char *listen_addr,
                                const struct afd_metrics_src *src,
                                char *bound_out, char *err)
{
    struct evhttp_bound_socket *bs;
    struct afd_http *h;
    char host[AFD_ADDR_LEN], bound[AFD_ADDR_LEN];
    int port = 0;

    if (split_addr(listen_addr, host, sizeof(host), &port, err) < 0)
        return NULL;
    h = calloc(1, sizeof(*h));
    if (!h) {
        afd_err(err, AFD_ENOMEM, "out of memory starting http");
        return NULL;
    }
    h->src = *src;
    h->http = evhttp_new(base);
    if (!h->http) {
        afd_err(err, AFD_ENOMEM, "cannot create the http server");
        goto fail;
    }
    evhttp_set_max_headers_size(h->http, HTTP_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(h->http, HTTP_MAX_BODY_BYTES);
    evhttp_set_timeout(h->http, HTTP_TIMEOUT_S);
    /* Let every method reach on_request, which answers 405 itself. */
    evhttp_set_allowed_methods(
        h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
                     EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                     EVHTTP_REQ_PATCH);
    evhttp_set_gencb(h->http, on_request, h);
    errno = 0;
    bs = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
    if (!bs) {
        afd_err(err, AFD_EIO, "cannot listen for http on '%s': %s", listen_addr,
                errno ? strerror(errno) : "bind failed");
        goto fail;
    }
    if (bound_name(bs, bound, err) < 0)
        goto fail;
    if (bound_out)
        snprintf(bound_out, AFD_ADDR_LEN, "%s", bound);
    return h;
fail:
    afd_http_free(h);
    return NULL;
}

void afd_http_set_ready(struct afd_http *h, bool ready)
{
    if (h)
        h->ready = ready;
}

void afd_http_free(struct afd_http *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http);
    free(h);
}
