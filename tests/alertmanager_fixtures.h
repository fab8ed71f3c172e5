/*
 * alertmanager_fixtures.h - config and alert builders shared by
 * test_alertmanager.c (delivery) and test_alertmanager_payload.c (the pure
 * half). Header-only, static inline: include from one test file each.
 */
#ifndef AFD_ALERTMANAGER_FIXTURES_H
#define AFD_ALERTMANAGER_FIXTURES_H

#include <stdio.h>
#include <string.h>

#include "plugin/daemon/alertmanager.h"

#define T0 1700000000123LL /* 2023-11-14T22:13:20.123Z */

static inline void base_cfg(struct afd_alertmanager_config *cfg,
                            const char *url)
{
    afd_alertmanager_config_init(cfg);
    snprintf(cfg->url, sizeof(cfg->url), "%s", url);
}

/* A regime-changed alert raised at T0 for dep, now in regime reg. */
static inline struct afd_alertmanager_alert raised(const char *dep,
                                                   enum afd_regime reg)
{
    struct afd_alertmanager_alert a;

    memset(&a, 0, sizeof(a));
    a.ev.kind = AFD_ALERT_SIZING_CHANGED;
    a.ev.action = AFD_ALERT_RAISED;
    a.ev.alertname = "AfdSizingRegimeChanged";
    snprintf(a.ev.deployment, sizeof(a.ev.deployment), "%s", dep);
    a.ev.regime = reg;
    a.ev.previous = AFD_REGIME_ATTENTION;
    a.ev.predicted = AFD_REGIME_FFN;
    a.ev.ratio = 1.25;
    strcpy(a.ev.explanation, "ffn stage 12 ms > attention 9 ms");
    a.ev.start_ms = T0;
    a.r_star = 0.8;
    return a;
}

/* The same alert resolved at T0 + 300377 ms (2023-11-14T22:18:20.500Z). */
static inline struct afd_alertmanager_alert resolved(const char *dep,
                                                     enum afd_regime reg)
{
    struct afd_alertmanager_alert a = raised(dep, reg);

    a.ev.action = AFD_ALERT_RESOLVED;
    a.ev.end_ms = T0 + 300377;
    return a;
}

#endif
