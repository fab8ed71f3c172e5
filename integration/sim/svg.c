/* svg.c - the throughput-vs-ratio plot and the validation summary plot. */
#include "integration/sim/svg.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"

#define W  760.0
#define H  460.0
#define ML 70.0 /* margins, px */
#define MR 20.0
#define MT 40.0
#define MB 60.0

/* Linear or log axis mapping a data range onto pixels. */
struct axis {
    double lo, hi, p0, p1;
    int log;
};

static double map(const struct axis *a, double v)
{
    double t = a->log ? (log(v) - log(a->lo)) / (log(a->hi) - log(a->lo))
                      : (v - a->lo) / (a->hi - a->lo);
    return a->p0 + t * (a->p1 - a->p0);
}

static void header(FILE *f, const char *title)
{
    fprintf(
        f,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" font-family=\"sans-"
        "serif\" font-size=\"12\">\n<rect width=\"100%%\" height=\"100%%\" "
        "fill=\"white\"/>\n<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" "
        "font-size=\"14\">",
        W, H, W, H, W / 2);
    for (; title && *title; title++) /* escape for XML */
        if (*title == '<')
            fputs("&lt;", f);
        else if (*title == '&')
            fputs("&amp;", f);
        else if (*title == '>')
            fputs("&gt;", f);
        else
            fputc(*title, f);
    fputs("</text>\n", f);
}

static void ticks(FILE *f, const struct axis *x, const struct axis *y,
                  const char *xl, const char *yl)
{
    int i;

    fprintf(f,
            "<rect x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\" "
            "fill=\"none\" stroke=\"black\"/>\n",
            ML, MT, W - ML - MR, H - MT - MB);
    for (i = 0; i <= 5; i++) {
        double vx = x->log ? exp(log(x->lo) + i * (log(x->hi) - log(x->lo)) / 5)
                           : x->lo + i * (x->hi - x->lo) / 5;
        double vy = y->log ? exp(log(y->lo) + i * (log(y->hi) - log(y->lo)) / 5)
                           : y->lo + i * (y->hi - y->lo) / 5;
        fprintf(f,
                "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%.3g"
                "</text>\n<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">"
                "%.4g</text>\n",
                map(x, vx), H - MB + 16, vx, ML - 4, map(y, vy) + 4, vy);
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>\n"
            "<text x=\"16\" y=\"%.0f\" text-anchor=\"middle\" "
            "transform=\"rotate(-90 16 %.0f)\">%s</text>\n",
            (ML + W - MR) / 2, H - 20, xl, (MT + H - MB) / 2, (MT + H - MB) / 2,
            yl);
}

static void vmark(FILE *f, const struct axis *x, double v, const char *color,
                  const char *label, int row)
{
    double px;

    if (!isfinite(v) || v < x->lo || v > x->hi)
        return;
    px = map(x, v);
    fprintf(f,
            "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
            "stroke=\"%s\" stroke-dasharray=\"5,3\"/>\n<text x=\"%.1f\" "
            "y=\"%.0f\" fill=\"%s\">%s</text>\n",
            px, MT, px, H - MB, color, px + 3, MT + 14 + 14 * row, color,
            label);
}

static void regimes(FILE *f, const struct axis *x,
                    const struct afd_sweep_result *r)
{
    static const char *const fill[] = {"#fde2e2", "#e2f0fd", "#e5f7e0"};
    double y = r->input.ffn_instances;
    size_t i;

    for (i = 0; i < r->solution.n_regimes; i++) {
        const struct afd_regime_span *s = &r->solution.regimes[i];
        double a = fmax(s->from * y, x->lo), b = fmin(s->to * y, x->hi);
        if (b <= a)
            continue;
        fprintf(f,
                "<rect x=\"%.1f\" y=\"%.0f\" width=\"%.1f\" height=\"%.0f\" "
                "fill=\"%s\"/>\n<text x=\"%.1f\" y=\"%.0f\" fill=\"#666\">%s"
                "-bound</text>\n",
                map(x, a), MT, map(x, b) - map(x, a), H - MT - MB,
                fill[s->regime % 3], map(x, a) + 3, H - MB - 6,
                afd_regime_name(s->regime));
    }
}

static void curve(FILE *f, const struct axis *x, const struct axis *y,
                  const struct afd_sweep_result *r, int barrier,
                  const char *color)
{
    size_t i;
    int open = 0;

    for (i = 0; i < r->n; i++) {
        const struct afd_sweep_point *p = &r->points[i];
        double v = barrier ? p->model_barrier : p->model_mean_field;
        if (!isfinite(v))
            continue;
        fprintf(f, "%s%.1f,%.1f", open ? " " : "<polyline points=\"",
                map(x, (double)p->sim.attention), map(y, v));
        open = 1;
    }
    if (open)
        fprintf(f, "\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"/>\n",
                color);
}

static void data_range(const struct afd_sweep_result *r, double *lo, double *hi)
{
    size_t i;

    *lo = INFINITY;
    *hi = -INFINITY;
    for (i = 0; i < r->n; i++) {
        const struct afd_sweep_point *p = &r->points[i];
        double v[4] = {p->sim.throughput_per_device - p->sim.ci95,
                       p->sim.throughput_per_device + p->sim.ci95,
                       p->model_mean_field, p->model_barrier};
        int k;
        for (k = 0; k < 4; k++)
            if (isfinite(v[k])) {
                *lo = fmin(*lo, v[k]);
                *hi = fmax(*hi, v[k]);
            }
    }
    if (!(*hi > *lo)) {
        *lo -= 1;
        *hi += 1;
    }
    *lo -= 0.05 * (*hi - *lo);
    *hi += 0.08 * (*hi - *lo);
}

static void points(FILE *f, const struct axis *x, const struct axis *y,
                   const struct afd_sweep_result *r)
{
    size_t i;

    for (i = 0; i < r->n; i++) {
        const struct afd_sim_result *s = &r->points[i].sim;
        double px = map(x, (double)s->attention);
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"black\"/>\n<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" "
                "fill=\"%s\"/>\n",
                px, map(y, s->throughput_per_device - s->ci95), px,
                map(y, s->throughput_per_device + s->ci95), px,
                map(y, s->throughput_per_device),
                i == r->best ? "red" : "black");
    }
}

static int finish(FILE *f, const char *path, char *err)
{
    int bad;

    fputs("</svg>\n", f);
    bad = ferror(f);
    if (fclose(f) || bad)
        return afd_err(err, AFD_EIO, "%s: write failed", path);
    return AFD_OK;
}

int afd_svg_sweep(const char *path, const struct afd_sweep_config *c,
                  const struct afd_sweep_result *r, const char *title,
                  char *err)
{
    const struct afd_solution *s = &r->solution;
    double y = r->input.ffn_instances, lo, hi;
    struct axis ax = {0, 0, ML, W - MR, 0}, ay = {0, 0, H - MB, MT, 0};
    char t[300];
    FILE *f;

    if (!r->n)
        return afd_err(err, AFD_EINVAL, "svg: nothing to plot");
    f = fopen(path, "w");
    if (!f)
        return afd_err(err, AFD_EIO, "%s: cannot write: %s", path,
                       strerror(errno));
    ax.lo = (double)r->points[0].sim.attention - 0.5;
    ax.hi = (double)r->points[r->n - 1].sim.attention + 0.5;
    data_range(r, &lo, &hi);
    ay.lo = lo;
    ay.hi = hi;
    snprintf(t, sizeof(t), "%s, %s (%s), B=%ld, y=%ld", title,
             c->sim.profile->name,
             afd_comm_mode_name(c->sim.profile->comm_mode), c->sim.batch,
             c->sim.ffn);
    header(f, t);
    regimes(f, &ax, r);
    ticks(f, &ax, &ay, "Attention instances x",
          "throughput per device (tokens/ms)");
    curve(f, &ax, &ay, r, 0, "#1f77b4");
    curve(f, &ax, &ay, r, 1, "#ff7f0e");
    points(f, &ax, &ay, r);
    vmark(f, &ax, s->r_star * y, "#1f77b4", "mean-field r*y", 0);
    vmark(f, &ax, (double)s->attention_instances, "#1f77b4", "mean-field pick",
          1);
    if (s->has_barrier)
        vmark(f, &ax, (double)s->attention_instances_barrier, "#ff7f0e",
              "barrier pick", 2);
    vmark(f, &ax, (double)r->best_x, "red", "sim optimum", 3);
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">dots: simulation "
            "(95%% CI bars); blue: mean-field model; orange: barrier model"
            "</text>\n",
            ML, H - 4);
    return finish(f, path, err);
}

int afd_svg_summary(const char *path, const struct afd_svg_cell *cells,
                    size_t n, const char *title, char *err)
{
    struct axis ax = {0.5, 512, ML, W - MR, 1}, ay = {0.5, 512, H - MB, MT, 1};
    double lo = INFINITY, hi = 0;
    size_t i;
    FILE *f;

    for (i = 0; i < n; i++) {
        double v[3] = {cells[i].r_sim, cells[i].r_mf, cells[i].r_barrier};
        int k;
        for (k = 0; k < 3; k++)
            if (isfinite(v[k]) && v[k] > 0) {
                lo = fmin(lo, v[k]);
                hi = fmax(hi, v[k]);
            }
    }
    if (hi > 0) {
        ax.lo = ay.lo = lo / 1.5;
        ax.hi = ay.hi = hi * 1.5;
    }
    f = fopen(path, "w");
    if (!f)
        return afd_err(err, AFD_EIO, "%s: cannot write: %s", path,
                       strerror(errno));
    header(f, title);
    ticks(f, &ax, &ay, "simulation-optimal ratio (tie range as bar)",
          "theory ratio");
    /* +-10% band around the diagonal */
    fprintf(f,
            "<polygon points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f %.1f,%.1f\" "
            "fill=\"#eeeeee\"/>\n<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" "
            "y2=\"%.1f\" stroke=\"#888\"/>\n",
            map(&ax, ax.lo), map(&ay, ax.lo * 1.1), map(&ax, ax.hi / 1.1),
            map(&ay, ax.hi), map(&ax, ax.hi),
            map(&ay, ax.hi * 0.9 > ay.lo ? ax.hi * 0.9 : ay.lo),
            map(&ax, ax.lo / 0.9 < ax.hi ? ax.lo / 0.9 : ax.hi),
            map(&ay, ax.lo), map(&ax, ax.lo), map(&ay, ay.lo), map(&ax, ax.hi),
            map(&ay, ay.hi));
    for (i = 0; i < n; i++) {
        const struct afd_svg_cell *c = &cells[i];
        double px = map(&ax, c->r_sim);
        if (!(c->r_sim > 0))
            continue;
        fprintf(f,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                "stroke=\"#bbb\"/>\n",
                map(&ax, c->tie_lo), map(&ay, c->r_mf), map(&ax, c->tie_hi),
                map(&ay, c->r_mf));
        fprintf(f,
                "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"none\" "
                "stroke=\"#1f77b4\"/>\n",
                px, map(&ay, c->r_mf));
        if (isfinite(c->r_barrier) && c->r_barrier > 0)
            fprintf(f,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"6\" height=\"6\" "
                    "fill=\"#ff7f0e\"/>\n",
                    px - 3, map(&ay, c->r_barrier) - 3);
    }
    fprintf(f,
            "<text x=\"%.0f\" y=\"%.0f\" font-size=\"11\">blue circles: "
            "mean-field r*; orange squares: barrier-aware pick; grey band: "
            "+-10%% of the simulation optimum</text>\n",
            ML, H - 4);
    return finish(f, path, err);
}
