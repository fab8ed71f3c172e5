/*
 * page.h - the operator's page: GET / (every deployment) and /d/NAME (one),
 * server-rendered HTML with an inline SVG of the model's throughput per
 * device over the ratio, the current and recommended points and the regime
 * intervals, and per deployment the counts, r*, barrier r*, regimes,
 * theta/sigma and their source, calibration, controller state and the last
 * commands and alerts with their reasons. No JavaScript, no external assets;
 * <meta http-equiv="refresh"> reloads it.
 *
 * Every string that came from telemetry or configuration goes through
 * afd_html_escape. Runs on the loop thread (reads the registry and the
 * controller). Errors: AFD_ENOMEM when the buffer cannot grow, AFD_ENOTFOUND
 * for an unknown NAME.
 */
#ifndef AFD_PAGE_H
#define AFD_PAGE_H

#include <stddef.h>

#include <event2/buffer.h>

#include "plugin/daemon/metrics.h"

/* Seconds between reloads of the page. */
#define AFD_PAGE_REFRESH_S 5

/*
 * Escapes s for HTML text and attribute values (& < > " ' become entities)
 * into out (cap bytes, NUL-terminated, truncated at a whole character or
 * entity). Returns the length written.
 */
size_t afd_html_escape(const char *s, char *out, size_t cap);

/* The page for every deployment (name NULL) or one. */
int afd_page_render(const struct afd_metrics_src *src, const char *name,
                    struct evbuffer *out);

#endif
