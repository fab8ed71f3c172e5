/*
 * page.c - the operator's HTML page (page.h).
 *
 * Built from the same reads as /metrics (registry recommendation, controller
 * status and history) so the two never disagree; the curve is recomputed
 * here from the recommendation's profile and workload with the solver's own
 * afd_throughput_at, so it is the model the daemon decided with.
 */
#include "plugin/daemon/page.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/control.h"

#define SVG_W          640
#define SVG_H          260
#define PAD_L          56
#define PAD_R          16
#define PAD_T          16
#define PAD_B          36
#define CURVE_POINTS   160
#define SHOWN_COMMANDS 5

size_t afd_html_escape(const char *s, char *out, size_t cap)
{
    size_t n = 0;

    if (cap == 0)
        return 0;
    for (; s && *s; s++) {
        const char *rep = NULL;
        char one[2] = {*s, 0};
        size_t len;

        switch (*s) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            rep = one;
            break;
        }
        len = strlen(rep);
        if (n + len >= cap)
            break;
        memcpy(out + n, rep, len);
        n += len;
    }
    out[n] = '\0';
    return n;
}

struct page {
    struct evbuffer *b;
    int failed;
};

static void put(struct page *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(struct page *p, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    if (evbuffer_add_vprintf(p->b, fmt, ap) < 0)
        p->failed = 1;
    va_end(ap);
}

/* Escaped text of an untrusted string. */
static void put_text(struct page *p, const char *s)
{
    char e[6 * 256 + 1];

    afd_html_escape(s, e, sizeof(e));
    put(p, "%s", e);
}

static const char *regime_color(enum afd_regime r)
{
    switch (r) {
    case AFD_REGIME_ATTENTION:
        return "#dbe9f6";
    case AFD_REGIME_COMMUNICATION:
        return "#f6ecd2";
    default:
        return "#dcf0dc";
    }
}

static const char *theta_source_name(enum afd_theta_source s)
{
    switch (s) {
    case AFD_THETA_REQUESTS:
        return "finished requests";
    case AFD_THETA_LIVE_LOADS:
        return "live loads";
    case AFD_THETA_FORECAST:
        return "forecast after a workload shift";
    case AFD_THETA_PLANNER:
        return "the planner's traffic means";
    default:
        return "none yet";
    }
}

/* The throughput-per-device curve over the ratio, with regime bands. */
static void render_svg(struct page *p, const struct afd_recommendation *rec)
{
    struct afd_solve_input in;
    const struct afd_solution *s = &rec->solution;
    double rcur = rec->ffn_instances > 0
                      ? (double)rec->attention_instances / rec->ffn_instances
                      : 0;
    double rmax = fmax(2 * fmax(s->r_star, s->r_star_barrier), 1.5 * rcur);
    double fmaxv = 0, f[CURVE_POINTS + 1];
    int i;
    size_t k;

    if (!(rmax > 0))
        rmax = 16;
    afd_solve_input_init(&in, &rec->profile, rec->batch, rec->theta);
    in.ffn_instances = rec->ffn_instances > 0 ? rec->ffn_instances : 1;
    for (i = 0; i <= CURVE_POINTS; i++) {
        double r = rmax * (i ? i : 0.5) / CURVE_POINTS;

        f[i] = afd_throughput_at(&in, r);
        if (isfinite(f[i]))
            fmaxv = fmax(fmaxv, f[i]);
    }
    if (!(fmaxv > 0))
        fmaxv = 1;
    fmaxv *= 1.1;
#define X(r) (PAD_L + (SVG_W - PAD_L - PAD_R) * (r) / rmax)
#define Y(v) (PAD_T + (SVG_H - PAD_T - PAD_B) * (1 - (v) / fmaxv))
    put(p,
        "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' "
        "viewBox='0 0 %d %d' role='img' aria-label='throughput per device "
        "over the ratio'>",
        SVG_W, SVG_H, SVG_W, SVG_H);
    for (k = 0; k < s->n_regimes; k++) {
        double a = fmin(s->regimes[k].from, rmax),
               b = fmin(s->regimes[k].to, rmax);

        if (b <= a)
            continue;
        put(p,
            "<rect x='%.1f' y='%d' width='%.1f' height='%d' fill='%s'>"
            "<title>%s (%.3g, %.3g]</title></rect>"
            "<text x='%.1f' y='%d' font-size='11' fill='#555'>%s</text>",
            X(a), PAD_T, X(b) - X(a), SVG_H - PAD_T - PAD_B,
            regime_color(s->regimes[k].regime),
            afd_regime_name(s->regimes[k].regime), s->regimes[k].from,
            s->regimes[k].to, X(a) + 4, PAD_T + 14,
            afd_regime_name(s->regimes[k].regime));
    }
    put(p, "<polyline fill='none' stroke='#1f4e8c' stroke-width='2' "
           "points='");
    for (i = 0; i <= CURVE_POINTS; i++)
        if (isfinite(f[i]))
            put(p, "%.1f,%.1f ", X(rmax * (i ? i : 0.5) / CURVE_POINTS),
                Y(f[i]));
    put(p, "'/>");
    /* axes and ticks */
    put(p,
        "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>"
        "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>",
        PAD_L, SVG_H - PAD_B, SVG_W - PAD_R, SVG_H - PAD_B, PAD_L, PAD_T, PAD_L,
        SVG_H - PAD_B);
    for (i = 0; i <= 4; i++) {
        double r = rmax * i / 4, v = fmaxv * i / 4;

        put(p,
            "<text x='%.1f' y='%d' font-size='11' text-anchor='middle'>%.3g"
            "</text><text x='%d' y='%.1f' font-size='11' "
            "text-anchor='end'>%.3g</text>",
            X(r), SVG_H - PAD_B + 14, r, PAD_L - 4, Y(v) + 4, v);
    }
    put(p,
        "<text x='%d' y='%d' font-size='12' text-anchor='middle'>ratio r = "
        "Attention / FFN instances</text>"
        "<text x='12' y='%d' font-size='12' transform='rotate(-90 12 %d)' "
        "text-anchor='middle'>tokens/ms/device</text>",
        (SVG_W + PAD_L) / 2, SVG_H - 4, SVG_H / 2, SVG_H / 2);
    if (rcur > 0 && rcur <= rmax)
        put(p,
            "<circle cx='%.1f' cy='%.1f' r='6' fill='#c0392b'><title>current "
            "r = %.3g</title></circle>",
            X(rcur), Y(afd_throughput_at(&in, rcur)), rcur);
    put(p,
        "<circle cx='%.1f' cy='%.1f' r='6' fill='#27ae60'><title>r* = %.3g"
        "</title></circle>",
        X(s->r_star), Y(afd_throughput_at(&in, s->r_star)), s->r_star);
    put(p,
        "<text x='%d' y='%d' font-size='12' text-anchor='end'>"
        "<tspan fill='#c0392b'>&#9679; current</tspan> "
        "<tspan fill='#27ae60'>&#9679; recommended r*</tspan></text></svg>",
        SVG_W - PAD_R - 4, PAD_T + 28);
#undef X
#undef Y
}

static void render_controller(struct page *p, const struct afd_metrics_src *src,
                              struct afd_deployment *d)
{
    struct afd_control_status st;
    struct afd_control_command hist[AFD_CONTROL_HISTORY];
    size_t n, i, first;
    int k;

    if (!src->ctl || !afd_control_status(src->ctl, d, &st)) {
        put(p, "<p>controller: not evaluated yet</p>");
        return;
    }
    put(p, "<h3>controller</h3><p>state <b class='state'>");
    put_text(p, st.policy.state_name);
    put(p, "</b> - ");
    put_text(p, st.policy.reason);
    put(p, " (evaluations %llu, last command id %llu)</p>",
        (unsigned long long)st.evaluations,
        (unsigned long long)st.last_command_id);
    n = afd_control_history(src->ctl, d, hist, AFD_CONTROL_HISTORY);
    put(p, "<h3>last commands</h3>");
    if (n == 0) {
        put(p, "<p>none yet</p>");
    } else {
        put(p, "<table class='cmds'><tr><th>id</th><th>from</th><th>to</th>"
               "<th>ffn</th><th>r*</th><th>regime</th><th>reason</th></tr>");
        first = n > SHOWN_COMMANDS ? n - SHOWN_COMMANDS : 0;
        for (i = n; i-- > first;) {
            const struct afd_command *c = &hist[i].cmd;

            put(p,
                "<tr class='cmd'><td>%s%llu</td><td>%d</td><td>%d</td>"
                "<td>%d</td><td>%.3g</td><td>%s</td><td>",
                hist[i].advisory ? "advisory " : "", (unsigned long long)c->id,
                c->current, c->target, c->ffn, c->r_star,
                afd_regime_name(c->regime));
            put_text(p, c->reason);
            put(p, "</td></tr>");
        }
        put(p, "</table>");
    }
    put(p, "<h3>alerts</h3><ul>");
    for (k = 0; k < AFD_ALERT_KIND_COUNT; k++) {
        const struct afd_alert_kind_status *a = &st.alerts.kind[k];

        put(p, "<li>%s: %s", afd_alert_name((enum afd_alert_kind)k),
            a->state_name);
        if (a->firing) {
            put(p, " - ");
            put_text(p, a->active.explanation);
        }
        put(p, "</li>");
    }
    put(p, "</ul>");
}

static void render_deployment(struct page *p, const struct afd_metrics_src *src,
                              struct afd_deployment *d)
{
    const struct afd_recommendation *rec = afd_deployment_recommendation(d);
    const char *name = afd_deployment_name(d);
    static const char *const coef[6] = {"aA", "bA", "aC", "bC", "aF", "bF"};
    char esc[6 * 256 + 1];
    int k;

    afd_html_escape(name, esc, sizeof(esc));
    put(p, "<section class='dep'><h2><a href='/d/");
    /* the name in a URL path: escaping for HTML is enough for a link here */
    put(p, "%s'>%s</a></h2>", esc, esc);
    if (!rec || !rec->valid) {
        put(p, "<p>no recommendation yet: ");
        put_text(p, rec ? rec->why_not : "not computed");
        put(p, "</p>");
        render_controller(p, src, d);
        put(p, "</section>");
        return;
    }
    put(p, "<div class='row'><div>");
    render_svg(p, rec);
    put(p, "</div><table class='kv'>");
    put(p,
        "<tr><th>instances</th><td>%d Attention / %d FFN (r = %.3g)</td>"
        "</tr>",
        rec->attention_instances, rec->ffn_instances,
        rec->ffn_instances
            ? (double)rec->attention_instances / rec->ffn_instances
            : 0);
    put(p, "<tr><th>target</th><td>%d Attention (gain %+.1f%%)</td></tr>",
        rec->target_attention_instances, 100 * rec->expected_gain);
    put(p, "<tr><th>r*</th><td class='rstar'>%.4g</td></tr>",
        rec->solution.r_star);
    if (rec->solution.has_barrier)
        put(p, "<tr><th>barrier r*</th><td>%.4g</td></tr>",
            rec->solution.r_star_barrier);
    else
        put(p, "<tr><th>barrier r*</th><td>unknown (no sigma yet)</td></tr>");
    put(p, "<tr><th>regime</th><td>%s now, %s at r*</td></tr>",
        afd_regime_name(rec->current_regime),
        afd_regime_name(rec->solution.regime));
    put(p, "<tr><th>theta</th><td>%.4g", rec->theta);
    if (rec->theta_ci > 0)
        put(p, " &plusmn; %.2g", rec->theta_ci);
    put(p, " tokens (%s)</td></tr>", theta_source_name(rec->theta_source));
    if (rec->has_sigma)
        put(p, "<tr><th>sigma</th><td>%.4g tokens</td></tr>", rec->sigma);
    /* what the barrier model charges the balance of noisy stages */
    put(p,
        "<tr><th>stage noise</th><td>attention %.1f%%, comm %.1f%%, ffn "
        "%.1f%% per step</td></tr>",
        100 * rec->stage_cv[AFD_REGIME_ATTENTION],
        100 * rec->stage_cv[AFD_REGIME_COMMUNICATION],
        100 * rec->stage_cv[AFD_REGIME_FFN]);
    put(p,
        "<tr><th>throughput</th><td>%.4g now, %.4g at target "
        "tokens/ms/device</td></tr>",
        rec->throughput_current, rec->throughput_target);
    put(p, "<tr><th>profile</th><td>");
    put_text(p, rec->profile.name);
    put(p, "</td></tr><tr><th>calibration</th><td>");
    /* Each coefficient with its 95% interval (estimator/calib.h) and
     * whether the data alone identify it yet. */
    for (k = 0; k < 6; k++)
        put(p, "%s %.4g &plusmn; %.2g%s%s", coef[k], rec->calib.value[k],
            rec->calib.ci[k],
            rec->calib.identified[k]   ? " (identified)"
            : rec->calib.calibrated[k] ? " (fitted, not identified)"
                                       : " (prior)",
            k < 5 ? ", " : "");
    put(p, "<br>samples: attention %llu, comm %llu, ffn %llu</td></tr>",
        (unsigned long long)rec->calib.samples[0],
        (unsigned long long)rec->calib.samples[1],
        (unsigned long long)rec->calib.samples[2]);
    put(p, "</table></div>");
    render_controller(p, src, d);
    put(p, "</section>");
}

int afd_page_render(const struct afd_metrics_src *src, const char *name,
                    struct evbuffer *out)
{
    struct page p = {out, 0};
    size_t i, n = afd_registry_count(src->reg);
    struct afd_deployment *one = NULL;

    if (name) {
        one = afd_registry_find(src->reg, name);
        if (!one)
            return AFD_ENOTFOUND;
    }
    put(&p,
        "<!doctype html><html><head><meta charset='utf-8'>"
        "<meta http-equiv='refresh' content='%d'>"
        "<title>afd-sizer</title><style>"
        "body{font:14px/1.4 sans-serif;margin:16px;color:#222}"
        "h1{font-size:20px}h2{font-size:17px;margin:4px 0}"
        "h3{font-size:14px;margin:8px 0 2px}"
        ".dep{border:1px solid #ccc;border-radius:6px;padding:10px;"
        "margin-bottom:14px}.row{display:flex;flex-wrap:wrap;gap:16px}"
        "table{border-collapse:collapse}th,td{text-align:left;"
        "padding:2px 8px;vertical-align:top}.cmds td,.cmds th{border-bottom:"
        "1px solid #eee}</style></head><body>"
        "<h1>afd-sizer - %zu deployment%s</h1>",
        AFD_PAGE_REFRESH_S, n, n == 1 ? "" : "s");
    if (one) {
        put(&p, "<p><a href='/'>all deployments</a></p>");
        render_deployment(&p, src, one);
    } else {
        for (i = 0; i < n; i++)
            render_deployment(&p, src, afd_registry_at(src->reg, i));
    }
    put(&p, "<p><a href='/metrics'>metrics</a></p></body></html>\n");
    return p.failed ? AFD_ENOMEM : AFD_OK;
}
