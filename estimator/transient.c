/*
 * transient.c - the new workload's theta from time at risk (transient.h).
 */
#include "estimator/transient.h"

#include <math.h>
#include <string.h>

void afd_transient_init(struct afd_transient *t)
{
    memset(t, 0, sizeof(*t));
}

void afd_transient_start(struct afd_transient *t, double start)
{
    struct afd_transient_closed closed[AFD_TRANSIENT_CLOSED];
    int n = t->n_closed;

    /* The closures are the fleet's history, not this forecast's. */
    memcpy(closed, t->closed, sizeof(closed));
    memset(t, 0, sizeof(*t));
    memcpy(t->closed, closed, sizeof(closed));
    t->n_closed = n;
    t->active = true;
    t->start = start;
}

void afd_transient_stop(struct afd_transient *t)
{
    t->active = false;
}

void afd_transient_close(struct afd_transient *t, double at)
{
    if (!isfinite(at) ||
        (t->n_closed > 0 && isinf(t->closed[t->n_closed - 1].to)))
        return;
    if (t->n_closed == AFD_TRANSIENT_CLOSED) {
        memmove(t->closed, t->closed + 1,
                (AFD_TRANSIENT_CLOSED - 1) * sizeof(t->closed[0]));
        t->n_closed--;
    }
    t->closed[t->n_closed].from = at;
    t->closed[t->n_closed].to = INFINITY;
    t->n_closed++;
}

void afd_transient_reopen(struct afd_transient *t, double at)
{
    struct afd_transient_closed *c;

    if (t->n_closed == 0 || !isfinite(at))
        return;
    c = &t->closed[t->n_closed - 1];
    if (isinf(c->to))
        c->to = at > c->from ? at : c->from;
}

/* The sums kept per finished-length bin (transient.h). */
enum { F_N, F_D, F_DD, F_P, F_P2, F_PD, F_P2D, F_PDD, F_DDD, F_XX, F_SUMS };

/* Widens the bins until step `rel` since start falls inside them. */
static void bins_cover(struct afd_transient *t, double rel)
{
    int i, s;

    if (!(t->bin_w > 0))
        t->bin_w = 1;
    while (rel >= AFD_TRANSIENT_BINS * t->bin_w && isfinite(t->bin_w)) {
        for (i = 0; i < AFD_TRANSIENT_BINS / 2; i++) {
            t->adm[i] = t->adm[2 * i] + t->adm[2 * i + 1];
            for (s = 0; s < F_SUMS; s++)
                t->fin[s][i] = t->fin[s][2 * i] + t->fin[s][2 * i + 1];
        }
        for (; i < AFD_TRANSIENT_BINS; i++) {
            t->adm[i] = 0;
            for (s = 0; s < F_SUMS; s++)
                t->fin[s][i] = 0;
        }
        t->bin_w *= 2;
    }
}

static int bin_of(const struct afd_transient *t, double rel)
{
    int k = (int)(rel / t->bin_w);

    return k < 0 ? 0 : k >= AFD_TRANSIENT_BINS ? AFD_TRANSIENT_BINS - 1 : k;
}

/* Steps of [a, b] (since start) inside no closure. */
static double open_steps(const struct afd_transient *t, double a, double b)
{
    double len = b - a;
    int i;

    for (i = 0; i < t->n_closed; i++) {
        double c0 = fmax(a, t->closed[i].from - t->start);
        double c1 = fmin(b, t->closed[i].to - t->start);

        if (c1 > c0)
            len -= c1 - c0;
    }
    return len > 0 ? len : 0;
}

/* n admissions somewhere in steps [lo, hi] since start (lo <= hi): counted
 * at their mean step, and binned evenly over the open steps of the range:
 * a slot takes no new request inside a closure, and the finishes of the
 * requests admitted count as new by the same rule (afd_transient_request),
 * so a burst of admissions at a reopening is not smeared back into the
 * closure, where their finishes would not count. */
static void admit(struct afd_transient *t, double lo, double hi, double n)
{
    double open;
    int k, last;

    t->admitted += n;
    t->sum_admit += n * (lo + hi) / 2;
    bins_cover(t, hi);
    open = hi > lo ? open_steps(t, lo, hi) : 0;
    if (!(open > 0)) {
        t->adm[bin_of(t, hi > lo ? (lo + hi) / 2 : lo)] += n;
        return;
    }
    last = bin_of(t, hi);
    for (k = bin_of(t, lo); k <= last; k++) {
        double a = fmax(lo, k * t->bin_w), b = fmin(hi, (k + 1) * t->bin_w);

        if (b > a)
            t->adm[k] += n * open_steps(t, a, b) / open;
    }
}

/* Admissions at steps before `rel` since start (linear inside a bin). */
static double admitted_by(const struct afd_transient *t, double rel)
{
    double a = 0;
    int k;

    for (k = 0; k < AFD_TRANSIENT_BINS && rel > k * t->bin_w; k++)
        a += rel >= (k + 1) * t->bin_w
                 ? t->adm[k]
                 : t->adm[k] * (rel - k * t->bin_w) / t->bin_w;
    return a;
}

/* A new-phase finish of `share` requests of prompt P and decode D. */
static void finish_add(struct afd_transient *t, double share, double p,
                       double d, double at)
{
    double x;
    int k;

    t->finished += share;
    t->sum_finish += share * (at - t->start);
    t->sum_p += share * p;
    t->sum_p2 += share * p * p;
    bins_cover(t, d);
    k = bin_of(t, d);
    t->fin[F_N][k] += share;
    t->fin[F_D][k] += share * d;
    t->fin[F_DD][k] += share * d * (d - 1) / 2;
    t->fin[F_P][k] += share * p;
    t->fin[F_P2][k] += share * p * p;
    t->fin[F_PD][k] += share * p * d;
    t->fin[F_P2D][k] += share * p * p * d;
    t->fin[F_PDD][k] += share * p * d * (d - 1);
    t->fin[F_DDD][k] += share * d * (d - 1) * (2 * d - 1) / 6;
    x = p * d + d * (d - 1) / 2;
    t->fin[F_XX][k] += share * x * x;
}

void afd_transient_admit(struct afd_transient *t, double at, double n)
{
    if (!t->active || !isfinite(at) || !isfinite(n) || at < t->start ||
        !(n >= 0))
        return;
    admit(t, at - t->start, at - t->start, n);
}

/* One piece [a, b] of a finish window of length w that is a new-phase
 * finish: its share and its mean finish step. */
static void finish_piece(struct afd_transient *t, double a, double b, double w,
                         double weight, double prompt, double decode)
{
    finish_add(t, weight * (b - a) / w, prompt, decode, (a + b) / 2);
}

void afd_transient_request(struct afd_transient *t, double from, double to,
                           double prompt, double decode, double weight,
                           double admits)
{
    double w, lo, cur, share;
    int i;

    if (!t->active || !isfinite(from) || !isfinite(to) || from > to ||
        !isfinite(prompt) || !isfinite(decode) || prompt < 0 || decode < 1 ||
        !(weight > 0) || !isfinite(weight) ||
        !(admits >= 0 && admits <= weight))
        return;
    w = to - from;
    if (!(w > 0)) { /* an exact finish step: a window of one point */
        double a = to - decode;

        if (to < t->start)
            return;
        admit(t, to - t->start, to - t->start, admits);
        if (a < t->start)
            return; /* admitted before start: the old phase */
        for (i = 0; i < t->n_closed; i++)
            if (a >= t->closed[i].from && a < t->closed[i].to)
                return; /* a resumed one, paused while waiting */
        finish_add(t, weight, prompt, decode, to);
        return;
    }
    /* Finished somewhere in [from, to], uniformly: the share of the window
     * after start admits a new-phase request (its slot was refilled at
     * once), and the share whose admission f - D lies at or after start,
     * outside every closure, is itself a new-phase finish. Rounding to one
     * stamp would misfile every request admitted within a window of start,
     * which early on are most of those seen. */
    lo = from > t->start ? from : t->start;
    if (lo >= to)
        return;
    share = (to - lo) / w;
    admit(t, lo - t->start, to - t->start, admits * share);
    cur = t->start + decode > lo ? t->start + decode : lo;
    for (i = 0; i < t->n_closed && cur < to; i++) {
        double c0 = t->closed[i].from + decode, c1 = t->closed[i].to + decode;

        if (c1 <= cur)
            continue;
        if (c0 >= to)
            break;
        if (c0 > cur)
            finish_piece(t, cur, c0, w, weight, prompt, decode);
        cur = c1;
    }
    if (cur < to)
        finish_piece(t, cur, to, w, weight, prompt, decode);
}

/* The tail's hazard is the upper half's of the covered lengths, shrunk
 * toward the constant-hazard one (1 / mean_decode, every finish) as if
 * that were this many finishes more: the upper half has few finishes
 * early on (120 of them read a geometric mean 8% long). Its prompts are
 * the upper half's from TAIL_MIN_FINISHED finishes on, else all covered
 * lengths'. */
#define TAIL_PRIOR_FINISHED 1000.0
#define TAIL_MIN_FINISHED   10.0
/* A length is covered while this share of the admissions is old enough
 * to have finished with it: inverse-probability weights up to 2 (with a
 * quarter, up to 4, the last bins' few long finishes swung a batch cut's
 * forecast by 3% from one second to the next). */
#define COVERED_SHARE 0.5

/* E[L], E[L^2], E[L^3] of the tail's lengths L = c + G, G geometric on
 * {0, 1, ...} of mean g. */
static void tail_moments(double c, double g, double e[3])
{
    e[0] = c + g;
    e[1] = c * c + 2 * c * g + g + 2 * g * g;
    e[2] = c * c * c + 3 * c * c * g + 3 * c * (g + 2 * g * g) + g + 6 * g * g +
           6 * g * g * g;
}

/* theta from the covered lengths' weighted sums m and a tail of mass
 * `tail`, prompts pt and length moments e. */
static double theta_of(const double *m, double tail, double pt,
                       const double e[3])
{
    return (m[F_PD] + m[F_DD] + tail * (pt * e[0] + (e[1] - e[0]) / 2)) /
           (m[F_D] + tail * e[0]);
}

/*
 * The renewal-reward moments of the new phase (transient.h): theta and
 * sigma into out, from the covered lengths' weighted sums and a geometric
 * tail past them of mean d_const when its hazard is not measured. False
 * when no length is covered yet.
 */
static bool joint_moments(const struct afd_transient *t, double since,
                          double d_const, struct afd_transient_forecast *out)
{
    double m[F_SUMS] = {0}, up[F_SUMS] = {0}, w[AFD_TRANSIENT_BINS] = {0};
    double f = 0, at_risk = 0, upper_f = 0, upper_n = 0, var_x = 0, var_f = 0;
    double tail, c, g, h, pt, pt2, e[3], e_dg[3], md, theta, m2, dg, dt, sd;
    int k, s, kmax = -1;

    for (k = 0; k < AFD_TRANSIENT_BINS; k++) {
        if (admitted_by(t, since - (k + 1) * t->bin_w) <
            COVERED_SHARE * t->admitted)
            break;
        kmax = k;
    }
    if (kmax < 0)
        return false;
    for (k = 0; k <= kmax; k++) {
        double a;

        if (!(t->fin[F_N][k] > 0))
            continue;
        a = admitted_by(t, since - t->fin[F_D][k] / t->fin[F_N][k]);
        w[k] = a > 0 ? 1 / a : 0;
        for (s = 0; s < F_SUMS; s++)
            m[s] += t->fin[s][k] * w[k];
    }
    /* The tail's hazard: finishes per step at risk over the upper half. */
    for (k = 0; k <= kmax; k++) {
        double fk = t->fin[F_N][k] * w[k];
        double risk = t->bin_w * fmax(0.0, 1 - f - fk / 2);

        if (2 * k > kmax) {
            at_risk += risk;
            upper_f += fk;
            upper_n += t->fin[F_N][k];
            for (s = 0; s < F_SUMS; s++)
                up[s] += t->fin[s][k] * w[k];
        }
        f += fk;
    }
    h = 1 / d_const;
    if (upper_n > 0 && at_risk > 0)
        h = (upper_n * (upper_f / at_risk) + TAIL_PRIOR_FINISHED * h) /
            (upper_n + TAIL_PRIOR_FINISHED);
    g = fmax(0.0, 1 / h - 1);
    tail = fmin(1.0, fmax(0.0, 1 - f));
    /* The tail's prompts: the upper half's, else all covered lengths'. */
    if (upper_n >= TAIL_MIN_FINISHED && up[F_N] > 0) {
        pt = up[F_P] / up[F_N];
        pt2 = up[F_P2] / up[F_N];
    } else if (m[F_N] > 0) {
        pt = m[F_P] / m[F_N];
        pt2 = m[F_P2] / m[F_N];
    } else {
        pt = t->sum_p / t->finished;
        pt2 = t->sum_p2 / t->finished;
    }
    c = (kmax + 1) * t->bin_w;
    tail_moments(c, g, e);
    md = m[F_D] + tail * e[0];
    if (!(md > 0))
        return false;
    theta = theta_of(m, tail, pt, e);
    m2 = (m[F_P2D] + m[F_PDD] + m[F_DDD] +
          tail * (pt2 * e[0] + pt * (e[1] - e[0]) +
                  (2 * e[2] - 3 * e[1] + e[0]) / 6)) /
         md;
    out->theta = theta;
    out->sigma = sqrt(fmax(0.0, m2 - theta * theta));
    out->mean_residual = (m[F_DD] + tail * (e[1] - e[0]) / 2) / md;
    /* theta's sampling sd, by the delta method: the covered sums' (theta
     * a ratio of two weighted sums), the tail's mass (1 - sum of the
     * weighted counts) and the tail's hazard (relative sd 1 / sqrt of the
     * finishes behind it). */
    for (k = 0; k <= kmax; k++) {
        /* sum X*D and sum D^2 from the kept sums: P*D^2 = P*D(D-1) +
         * P*D, D*D(D-1)/2 = (3 D(D-1)(2D-1)/6 + D(D-1)/2) / 2. */
        double xd = t->fin[F_PDD][k] + t->fin[F_PD][k] +
                    (3 * t->fin[F_DDD][k] + t->fin[F_DD][k]) / 2;
        double d2 = 2 * t->fin[F_DD][k] + t->fin[F_D][k];

        var_x +=
            w[k] * w[k] *
            fmax(0.0, t->fin[F_XX][k] - 2 * theta * xd + theta * theta * d2);
        var_f += w[k] * w[k] * t->fin[F_N][k];
    }
    dt = (pt * e[0] + (e[1] - e[0]) / 2 - theta * e[0]) / md;
    tail_moments(c,
                 g + g / sqrt(upper_n + fmin(TAIL_PRIOR_FINISHED, t->finished)),
                 e_dg);
    dg = theta_of(m, tail, pt, e_dg) - theta;
    sd = sqrt(var_x / (md * md) + var_f * dt * dt + dg * dg);
    out->rel_ci = fmax(out->rel_ci, 1.96 * sd / (out->mean_residual + 1));
    return true;
}

bool afd_transient_forecast(const struct afd_transient *t, double now,
                            struct afd_transient_forecast *out)
{
    double since, exposure, d, mp, vp;

    if (!t->active || t->finished < AFD_TRANSIENT_MIN_FINISHED ||
        !isfinite(now) || now < t->start)
        return false;
    since = now - t->start;
    /* Running: now - a_k; finished: f_j - a_j (= D_j). */
    exposure = t->admitted * since - t->sum_admit -
               (t->finished * since - t->sum_finish);
    if (!(exposure > 0))
        return false;
    d = exposure / t->finished;
    if (d < 1)
        d = 1;
    mp = t->sum_p / t->finished;
    vp = fmax(0.0, t->sum_p2 / t->finished - mp * mp);
    out->rel_ci = 1.96 / sqrt(t->finished);
    /* Geometric and independent of the prompt until a length is covered. */
    if (!joint_moments(t, since, d, out)) {
        out->theta = mp + (d - 1);
        out->sigma = sqrt(vp + d * (d - 1));
        out->mean_residual = d - 1;
    }
    out->mean_decode = d;
    out->finished = t->finished;
    return true;
}
