/*
 * demo_svg.c - the demo's SVG timeline (plugin/demo/demo_report.h): top panel
 * Attention instances of the closed loop over simulated time, the per-phase
 * oracle x, r* and the barrier-aware r* (times the FFN count, so that they
 * share the instance axis), shaded by the regime at the current ratio x/y
 * (the timeline's "regime": the stage limiting the fleet now, so why the
 * controller moves - attention-bound: add Attention instances, ffn-bound:
 * remove some; the regime at r* itself is a balance point and says
 * nothing), with the measured bottleneck (regime alerts) as a strip under
 * it; bottom panel throughput per device against the oracle's and the
 * first-phase static ratio's per-phase figures; phase boundaries drawn and
 * labelled on both.
 */
#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/demo/demo_report.h"

#define W        960.0
#define H        640.0
#define ML       70.0  /* left margin, px */
#define MR       150.0 /* right margin: legend */
#define TOP_Y0   70.0  /* top panel, px */
#define TOP_Y1   350.0
#define STRIP_Y0 358.0 /* measured-bottleneck strip, px */
#define STRIP_H  10.0
#define BOT_Y0   400.0 /* bottom panel, px */
#define BOT_Y1   590.0

struct scale {
    double lo, hi, p0, p1; /* data range onto pixel range */
};

static double px(const struct scale *s, double v)
{
    return s->p0 + (v - s->lo) / (s->hi - s->lo) * (s->p1 - s->p0);
}

static void xml_text(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '&':
            fputs("&amp;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        default:
            /* control characters are not allowed in XML 1.0 */
            fputc((unsigned char)*s < 0x20 ? ' ' : *s, f);
        }
}

/* A tick step of 1, 2 or 5 times a power of ten, about n ticks on range. */
static double tick_step(double range, int n)
{
    double raw = range / n, p = pow(10, floor(log10(raw))), m = raw / p;

    return p * (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10);
}

static void y_axis(FILE *f, const struct scale *y, const char *label)
{
    double step = tick_step(y->hi - y->lo, 5), v;

    for (v = ceil(y->lo / step) * step; v <= y->hi + 1e-9 * step; v += step)
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#ddd\"/><text x=\"%.1f\" y=\"%.1f\" "
                "text-anchor=\"end\">%g</text>\n",
                ML, px(y, v), W - MR, px(y, v), ML - 6, px(y, v) + 4, v);
    fprintf(f,
            "<text transform=\"translate(18 %.1f) rotate(-90)\" "
            "text-anchor=\"middle\">",
            (y->p0 + y->p1) / 2);
    xml_text(f, label);
    fputs("</text>\n", f);
}

static void x_axis(FILE *f, const struct scale *x, double y_px)
{
    double step = tick_step(x->hi - x->lo, 10), v;

    for (v = 0; v <= x->hi + 1e-9 * step; v += step)
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g"
                "</text>\n",
                px(x, v), y_px + 16, v);
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">simulated "
            "time (s)</text>\n",
            (ML + W - MR) / 2, y_px + 34);
}

static const char *regime_fill(const char *regime)
{
    if (!strcmp(regime, "attention"))
        return "#d6e6f5";
    if (!strcmp(regime, "communication"))
        return "#fbe3c4";
    if (!strcmp(regime, "ffn"))
        return "#dcefd8";
    return NULL;
}

/* Regime shading: one rectangle per run of equal regimes at x/y. */
static void shade(FILE *f, const struct afd_demo_policy *cl,
                  const struct scale *x, double total)
{
    size_t i = 0, j;

    while (i < cl->n_timeline) {
        const char *fill = regime_fill(cl->timeline[i].regime);
        for (j = i + 1; j < cl->n_timeline &&
                        !strcmp(cl->timeline[j].regime, cl->timeline[i].regime);
             j++)
            ;
        if (fill) {
            double t1 = j < cl->n_timeline ? cl->timeline[j].t_s : total;
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"/>\n",
                    px(x, cl->timeline[i].t_s), TOP_Y0,
                    fmax(0, px(x, t1) - px(x, cl->timeline[i].t_s)),
                    TOP_Y1 - TOP_Y0, fill);
        }
        i = j;
    }
}

/*
 * The sizing regime (the term binding r*) as a strip under the top panel:
 * each raised AfdSizingRegimeChanged alert sets it from its time on (blank
 * before the first).
 */
static void observed_strip(FILE *f, const struct afd_demo_policy *cl,
                           const struct scale *x, double total)
{
    const char *fill = NULL;
    double t0 = 0;
    size_t i;

    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">sizing "
            "regime: term binding r* (regime alerts)</text>\n",
            ML + 4, STRIP_Y0 + STRIP_H + 11);
    for (i = 0; i <= cl->n_alerts; i++) {
        const struct afd_demo_alert *a =
            i < cl->n_alerts ? &cl->alerts[i] : NULL;
        double t = a ? fmin(fmax(a->t_s, 0), total) : total;
        if (a && (strcmp(a->alertname, "AfdSizingRegimeChanged") ||
                  strcmp(a->action, "raised") || !regime_fill(a->regime)))
            continue;
        if (fill && t > t0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"%.1f\" fill=\"%s\"/>\n",
                    px(x, t0), STRIP_Y0, px(x, t) - px(x, t0), STRIP_H, fill);
        if (a) {
            fill = regime_fill(a->regime);
            t0 = t;
        }
    }
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"#888\"/>\n",
            ML, STRIP_Y0, W - MR - ML, STRIP_H);
}

/*
 * The other regime alerts as intervals on a line under the strip, from
 * each raise to its resolve (or the end): AfdOutsideBalancedBand red,
 * AfdProfileDrift purple, each with its explanation as a tooltip.
 */
static void alert_marks(FILE *f, const struct afd_demo_policy *cl,
                        const struct scale *x, double total)
{
    static const struct {
        const char *name, *fill;
    } kinds[] = {{"AfdOutsideBalancedBand", "#d62728"},
                 {"AfdProfileDrift", "#9467bd"}};
    const double y = STRIP_Y0 + STRIP_H + 14;
    size_t k, i, j;

    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"10\">alerts below: "
            "outside the balanced band (red), profile drift "
            "(purple)</text>\n",
            ML + 260, STRIP_Y0 + STRIP_H + 11);
    for (k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++)
        for (i = 0; i < cl->n_alerts; i++) {
            const struct afd_demo_alert *a = &cl->alerts[i];
            double t0, t1 = total;

            if (strcmp(a->alertname, kinds[k].name) ||
                strcmp(a->action, "raised"))
                continue;
            for (j = i + 1; j < cl->n_alerts; j++)
                if (!strcmp(cl->alerts[j].alertname, kinds[k].name) &&
                    !strcmp(cl->alerts[j].action, "resolved")) {
                    t1 = cl->alerts[j].t_s;
                    break;
                }
            t0 = fmin(fmax(a->t_s, 0), total);
            t1 = fmin(fmax(t1, t0), total);
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
                    "height=\"4\" fill=\"%s\"><title>",
                    px(x, t0), y, fmax(2.0, px(x, t1) - px(x, t0)),
                    kinds[k].fill);
            xml_text(f, a->explanation);
            fprintf(f, "</title></rect>\n");
        }
}

/*
 * Phase boundaries on both panels, labelled above the top one; a label is
 * cut to its phase's width (about 6 px per character at 11 px) so that
 * neighbours do not overlap.
 */
static void phases(FILE *f, const struct afd_demo_policy *cl,
                   const struct scale *x)
{
    char label[AFD_DEMO_NAME_LEN + 32];
    double t = 0, width;
    size_t i, fit;

    for (i = 0; i < cl->n_phases; i++) {
        width = px(x, t + cl->phases[i].duration_s) - px(x, t);
        fit = width > 18 ? (size_t)((width - 6) / 6.2) : 2;
        snprintf(label, sizeof(label), "p%zu %s", i + 1, cl->phases[i].name);
        if (strlen(label) > fit && fit >= 2) {
            label[fit - 2] = '.';
            label[fit - 1] = '.';
            label[fit] = '\0';
        }
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#555\" stroke-dasharray=\"4 3\"/>\n"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
                px(x, t), TOP_Y0 - 14, px(x, t), BOT_Y1, px(x, t) + 3,
                TOP_Y0 - 4);
        xml_text(f, label);
        fputs("<title>", f); /* the whole name as a tooltip */
        xml_text(f, cl->phases[i].name);
        fputs("</title></text>\n", f);
        t += cl->phases[i].duration_s;
    }
}

/* Closed-loop x as a step line. */
static void attention_line(FILE *f, const struct afd_demo_policy *cl,
                           const struct scale *x, const struct scale *y,
                           double total)
{
    bool open = false;
    size_t i;

    fputs("<path fill=\"none\" stroke=\"#1f4e9c\" stroke-width=\"2\" d=\"", f);
    for (i = 0; i < cl->n_timeline; i++) {
        const struct afd_demo_point *p = &cl->timeline[i];
        if (p->attention < 0) {
            open = false;
            continue;
        }
        if (!open)
            fprintf(f, "M%.1f %.1f", px(x, p->t_s), px(y, p->attention));
        else
            fprintf(f, " H%.1f V%.1f", px(x, p->t_s), px(y, p->attention));
        open = true;
    }
    if (open)
        fprintf(f, " H%.1f", px(x, total));
    fputs("\"/>\n", f);
}

/* r* (barrier: r*_barrier) times y as a polyline, broken where unknown. */
static void ratio_line(FILE *f, const struct afd_demo_policy *cl,
                       const struct scale *x, const struct scale *y,
                       bool barrier, const char *style)
{
    bool open = false;
    size_t i;

    fprintf(f, "<path fill=\"none\" %s d=\"", style);
    for (i = 0; i < cl->n_timeline; i++) {
        const struct afd_demo_point *p = &cl->timeline[i];
        double r = barrier ? p->r_star_barrier : p->r_star;
        double v = r * (p->ffn > 0 ? p->ffn : 1);
        if (isnan(v)) {
            open = false;
            continue;
        }
        fprintf(f, "%s%.1f %.1f", open ? " L" : "M", px(x, p->t_s), px(y, v));
        open = true;
    }
    fputs("\"/>\n", f);
}

/* Per-phase horizontal segments of one policy's figure. */
static void phase_segments(FILE *f, const struct afd_demo_policy *p,
                           const struct scale *x, const struct scale *y,
                           bool instances, const char *style)
{
    double t = 0;
    size_t i;

    for (i = 0; i < p->n_phases; i++) {
        const struct afd_demo_phase *ph = &p->phases[i];
        double v = instances ? ph->static_attention : ph->throughput_per_device;
        if (instances && isnan(v))
            v = ph->attention_instances_mean;
        if (!isnan(v))
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                    "%s/>\n",
                    px(x, t), px(y, v), px(x, t + ph->duration_s), px(y, v),
                    style);
        t += ph->duration_s;
    }
}

static void throughput_line(FILE *f, const struct afd_demo_policy *cl,
                            const struct scale *x, const struct scale *y)
{
    bool open = false;
    size_t i;

    fputs("<path fill=\"none\" stroke=\"#1f4e9c\" stroke-width=\"1.5\" d=\"",
          f);
    for (i = 0; i < cl->n_timeline; i++) {
        double v = cl->timeline[i].throughput_per_device;
        if (isnan(v)) {
            open = false;
            continue;
        }
        fprintf(f, "%s%.1f %.1f", open ? " L" : "M", px(x, cl->timeline[i].t_s),
                px(y, v));
        open = true;
    }
    fputs("\"/>\n", f);
}

static void legend_item(FILE *f, double y, const char *style, const char *label)
{
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" %s/>"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s</text>\n",
            W - MR + 10, y, W - MR + 34, y, style, W - MR + 38, y + 4, label);
}

static void legend_box(FILE *f, double y, const char *fill, const char *label)
{
    fprintf(f,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"24\" height=\"10\" "
            "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">%s"
            "</text>\n",
            W - MR + 10, y - 5, fill, W - MR + 38, y + 4, label);
}

#define STYLE_X "stroke=\"#1f4e9c\" stroke-width=\"2\""
#define STYLE_ORACLE                                                           \
    "stroke=\"#000\" stroke-width=\"2\" stroke-dasharray=\"6 4\""
#define STYLE_RSTAR "stroke=\"#c0392b\" stroke-width=\"1.2\""
#define STYLE_RBAR                                                             \
    "stroke=\"#8e44ad\" stroke-width=\"1.2\" "                                 \
    "stroke-dasharray=\"2 2\""
#define STYLE_STATIC                                                           \
    "stroke=\"#888\" stroke-width=\"1.5\" "                                    \
    "stroke-dasharray=\"2 3\""

static void legends(FILE *f)
{
    legend_item(f, TOP_Y0 + 10, STYLE_X, "closed loop x");
    legend_item(f, TOP_Y0 + 28, STYLE_ORACLE, "oracle x");
    legend_item(f, TOP_Y0 + 46, STYLE_RSTAR, "r* \xC3\x97 y");
    legend_item(f, TOP_Y0 + 64, STYLE_RBAR, "barrier r* \xC3\x97 y");
    /* two lines: the legend column is MR px wide */
    fprintf(f,
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">regime at the "
            "current<tspan x=\"%.1f\" dy=\"13\">ratio (shading):</tspan>"
            "</text>\n",
            W - MR + 10, TOP_Y0 + 86, W - MR + 10);
    legend_box(f, TOP_Y0 + 116, "#d6e6f5", "attention");
    legend_box(f, TOP_Y0 + 134, "#fbe3c4", "communication");
    legend_box(f, TOP_Y0 + 152, "#dcefd8", "FFN");
    legend_item(f, BOT_Y0 + 10, "stroke=\"#1f4e9c\" stroke-width=\"1.5\"",
                "closed loop");
    legend_item(f, BOT_Y0 + 28, STYLE_ORACLE, "oracle");
    legend_item(f, BOT_Y0 + 46, STYLE_STATIC, "static first phase");
}

/* Largest instance-axis value (x, oracle x, r*y) and throughput. */
static void ranges(const struct afd_demo_report *r, double *xmax, double *tmax)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    size_t i;
    int k;

    *xmax = 1;
    *tmax = 0;
    for (i = 0; i < cl->n_timeline; i++) {
        const struct afd_demo_point *p = &cl->timeline[i];
        int y = p->ffn > 0 ? p->ffn : 1;
        *xmax = fmax(*xmax, p->attention);
        if (!isnan(p->r_star))
            *xmax = fmax(*xmax, p->r_star * y);
        if (!isnan(p->r_star_barrier))
            *xmax = fmax(*xmax, p->r_star_barrier * y);
        if (!isnan(p->throughput_per_device))
            *tmax = fmax(*tmax, p->throughput_per_device);
    }
    /* Instances: only the oracle's x is drawn beside the closed loop. */
    for (k = 0; k < AFD_DEMO_N_POLICIES; k++)
        for (i = 0; i < r->policies[k].n_phases; i++) {
            const struct afd_demo_phase *ph = &r->policies[k].phases[i];
            if (k == AFD_DEMO_ORACLE && !isnan(ph->static_attention))
                *xmax = fmax(*xmax, ph->static_attention);
            *tmax = fmax(*tmax, ph->throughput_per_device);
        }
    if (!(*tmax > 0))
        *tmax = 1;
}

int afd_demo_report_svg(const struct afd_demo_report *r, FILE *out, char *err)
{
    const struct afd_demo_policy *cl = &r->policies[AFD_DEMO_CLOSED_LOOP];
    struct scale x, yi, yt;
    double total = 0, xmax, tmax;
    size_t i;

    if (!cl->present || cl->n_timeline == 0)
        return afd_err(err, AFD_EINVAL,
                       "the closed loop result has no timeline to plot");
    for (i = 0; i < cl->n_phases; i++)
        total += cl->phases[i].duration_s;
    if (!(total > 0))
        total = cl->timeline[cl->n_timeline - 1].t_s + 1;
    ranges(r, &xmax, &tmax);
    x = (struct scale){0, total, ML, W - MR};
    yi = (struct scale){0, ceil(xmax * 1.1), TOP_Y1, TOP_Y0};
    yt = (struct scale){0, tmax * 1.1, BOT_Y1, BOT_Y0};

    fprintf(out,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
            "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"24\" text-anchor=\"middle\" "
            "font-size=\"15\">afd-sizer demo: scenario '",
            W, H, W, H, (ML + W - MR) / 2);
    xml_text(out, r->scenario);
    fprintf(out, "', seed %llu</text>\n", (unsigned long long)r->seed);

    shade(out, cl, &x, total);
    y_axis(out, &yi, "Attention instances (r* \xC3\x97 FFN instances)");
    y_axis(out, &yt, "tokens/ms/device");
    fprintf(out,
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"black\"/>\n"
            "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
            "fill=\"none\" stroke=\"black\"/>\n",
            ML, TOP_Y0, W - MR - ML, TOP_Y1 - TOP_Y0, ML, BOT_Y0, W - MR - ML,
            BOT_Y1 - BOT_Y0);
    observed_strip(out, cl, &x, total);
    alert_marks(out, cl, &x, total);
    phases(out, cl, &x);
    phase_segments(out, &r->policies[AFD_DEMO_ORACLE], &x, &yi, true,
                   STYLE_ORACLE);
    ratio_line(out, cl, &x, &yi, false, STYLE_RSTAR);
    ratio_line(out, cl, &x, &yi, true, STYLE_RBAR);
    attention_line(out, cl, &x, &yi, total);
    phase_segments(out, &r->policies[AFD_DEMO_ORACLE], &x, &yt, false,
                   STYLE_ORACLE);
    phase_segments(out, &r->policies[AFD_DEMO_STATIC_FIRST_PHASE], &x, &yt,
                   false, STYLE_STATIC);
    throughput_line(out, cl, &x, &yt);
    x_axis(out, &x, BOT_Y1);
    legends(out);
    fputs("</svg>\n", out);
    if (ferror(out))
        return afd_err(err, AFD_EIO, "writing the svg failed");
    return AFD_OK;
}
