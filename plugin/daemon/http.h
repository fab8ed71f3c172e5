/*
 * http.h - the daemon's HTTP side on libevent's evhttp: GET /metrics
 * (Prometheus text format 0.0.4), /healthz (200 while the loop runs) and
 * /readyz (200 once the daemon has finished starting, restored its snapshot
 * and bound gRPC; 503 before and while draining), the operator's page at
 * / and /d/NAME (plugin/daemon/page.h). Anything else is 404;
 * methods other than GET/HEAD are 405.
 *
 * Runs on the loop thread; reads what it shows (a struct afd_metrics_src,
 * copied at start) only from there.
 * Ownership: afd_http_start / afd_http_free.
 */
#ifndef AFD_HTTP_H
#define AFD_HTTP_H

#include <stdbool.h>

#include <event2/event.h>

#include "plugin/daemon/metrics.h"

struct afd_http;

/*
 * Binds listen_addr ("HOST:PORT", port 0 picks a free one) and serves.
 * bound_out (AFD_ADDR_LEN bytes, may be NULL) receives the bound "HOST:PORT".
 * NULL on failure with the reason in err.
 */
struct afd_http *afd_http_start(struct event_base *base,
                                const char *listen_addr,
                                const struct afd_metrics_src *src,
                                char *bound_out, char *err);
void afd_http_set_ready(struct afd_http *h, bool ready);
void afd_http_free(struct afd_http *h);

#endif
