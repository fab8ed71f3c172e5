/*
 * solver.c - the mean-field optimal ratio, regime map, idle ratios and the
 * integer recommendation (model.md sections 4 and 6). The barrier-aware part
 * of afd_solve() lives in barrier.c.
 *
 * Every stage time is an affine function a + b*r of the ratio r = x/y:
 *     attention      a = t_A(B*theta)          b = 0
 *     communication  a = aC*B + bC, b = 0      (per_instance)
 *                    a = bC, b = aC*B          (aggregate)
 *     ffn            a = bF                    b = aF*B
 * so tau(r) is their maximum, convex and piecewise affine, and
 *     1/f(r) = max_i (a_i/r + a_i + b_i + b_i*r) / B
 * is a maximum of convex functions: f is unimodal. That gives the exact
 * continuous maximiser by a finite candidate search, and the integer
 * optimum for y FFN instances as floor or ceil of r*·y.
 */
#include "estimator/solver.h"

#include <assert.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver_internal.h"

/*
 * Two stage times within this relative distance are a tie for the regime
 * rule: a balance point computed in floating point lands within a few ulps
 * of the exact crossing, and the header promises the smaller slope there.
 */
#define TIE_REL 1e-12

/* One stage time as a function of r: a + b*r, in ms. */
struct line {
    double a;
    double b;
};

static const char *const regime_names[AFD_REGIME_COUNT] = {
    [AFD_REGIME_ATTENTION] = "attention",
    [AFD_REGIME_COMMUNICATION] = "communication",
    [AFD_REGIME_FFN] = "ffn",
};

const char *afd_regime_name(enum afd_regime r)
{
    if ((unsigned)r >= AFD_REGIME_COUNT)
        return "unknown";
    return regime_names[r];
}

int afd_regime_parse(const char *s, enum afd_regime *out, char *err)
{
    int i;

    if (!s)
        return afd_err(err, AFD_EINVAL, "regime name is missing");
    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        if (strcmp(s, regime_names[i]) == 0) {
            if (out)
                *out = (enum afd_regime)i;
            return AFD_OK;
        }
    }
    return afd_err(err, AFD_EINVAL,
                   "unknown regime '%s' (expected attention, communication "
                   "or ffn)",
                   s);
}

void afd_solve_input_init(struct afd_solve_input *in,
                          const struct afd_profile *p, double batch,
                          double theta)
{
    memset(in, 0, sizeof(*in));
    in->profile = p;
    in->batch = batch;
    in->theta = theta;
    in->ffn_instances = 1;
    in->max_ratio = AFD_DEFAULT_MAX_RATIO;
}

/* The three stage lines, indexed by enum afd_regime. */
static void stage_lines(const struct afd_solve_input *in,
                        struct line ln[AFD_REGIME_COUNT])
{
    const struct afd_profile *p = in->profile;
    double B = in->batch;

    ln[AFD_REGIME_ATTENTION].a = p->aA * B * in->theta + p->bA;
    ln[AFD_REGIME_ATTENTION].b = 0;
    if (p->comm_mode == AFD_COMM_AGGREGATE) {
        ln[AFD_REGIME_COMMUNICATION].a = p->bC;
        ln[AFD_REGIME_COMMUNICATION].b = p->aC * B;
    } else {
        ln[AFD_REGIME_COMMUNICATION].a = p->aC * B + p->bC;
        ln[AFD_REGIME_COMMUNICATION].b = 0;
    }
    ln[AFD_REGIME_FFN].a = p->bF;
    ln[AFD_REGIME_FFN].b = p->aF * B;
}

/* A finite number >= lo (or > lo when strict), else a message naming it. */
static int check_num(const char *field, double v, double lo, bool strict,
                     char *err)
{
    if (!isfinite(v) || v < lo || (strict && v == lo))
        return afd_err(err, AFD_EINVAL,
                       "solve input field '%s' must be finite and %s %g, "
                       "got %g",
                       field, strict ? ">" : ">=", lo, v);
    return AFD_OK;
}

/* Stage lines must stay finite up to max_ratio and tau must not vanish. */
static int check_lines(const struct afd_solve_input *in, char *err)
{
    struct line ln[AFD_REGIME_COUNT];
    double tau0 = 0;
    int i;

    stage_lines(in, ln);
    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        if (!isfinite(ln[i].a + ln[i].b * in->max_ratio))
            return afd_err(err, AFD_EINVAL,
                           "%s time overflows at batch %g, theta %g, "
                           "max_ratio %g",
                           regime_names[i], in->batch, in->theta,
                           in->max_ratio);
        tau0 = fmax(tau0, ln[i].a);
    }
    /* With every fixed cost 0, f(r) = B/((r+1)*slope) has no maximiser. */
    if (tau0 <= 0)
        return afd_err(err, AFD_EINVAL,
                       "step time is 0 as r -> 0 (profile 'bA', 'bC', 'bF' "
                       "and theta*aA all 0): no optimal ratio exists");
    return AFD_OK;
}

int afd_solve_check(const struct afd_solve_input *in, char *err)
{
    int rc;

    if (!in)
        return afd_err(err, AFD_EINVAL, "solve input is missing");
    if (!in->profile)
        return afd_err(err, AFD_EINVAL, "solve input has no 'profile'");
    rc = afd_profile_validate(in->profile, err);
    if (rc)
        return rc;
    if ((rc = check_num("batch", in->batch, 0, true, err)) ||
        (rc = check_num("theta", in->theta, 0, false, err)) ||
        (rc = check_num("max_ratio", in->max_ratio, 1, false, err)))
        return rc;
    if (in->has_sigma && (rc = check_num("sigma", in->sigma, 0, false, err)))
        return rc;
    if (in->has_load_spread &&
        (rc = check_num("load_spread", in->load_spread, 0, false, err)))
        return rc;
    for (int k = 0; k < AFD_REGIME_COUNT; k++) {
        if (!(in->stage_cv[k] >= 0 && in->stage_cv[k] <= AFD_MAX_STAGE_CV))
            return afd_err(err, AFD_EINVAL,
                           "solve input field 'stage_cv' of %s must be in "
                           "[0, %g], got %g",
                           afd_regime_name((enum afd_regime)k),
                           AFD_MAX_STAGE_CV, in->stage_cv[k]);
    }
    if (in->ffn_instances < 1)
        return afd_err(err, AFD_EINVAL,
                       "solve input field 'ffn_instances' must be >= 1, "
                       "got %d",
                       in->ffn_instances);
    /* The integer searches count x up to max_ratio*y in an int. */
    if (in->max_ratio * in->ffn_instances > INT_MAX)
        return afd_err(err, AFD_EINVAL,
                       "solve input field 'max_ratio' times ffn_instances "
                       "must be <= %d, got %g",
                       INT_MAX, in->max_ratio * in->ffn_instances);
    return check_lines(in, err);
}

void afd_stage_times_at(const struct afd_solve_input *in, double r,
                        struct afd_stage_times *out)
{
    struct line ln[AFD_REGIME_COUNT];

    stage_lines(in, ln);
    out->attention = ln[AFD_REGIME_ATTENTION].a;
    out->comm =
        ln[AFD_REGIME_COMMUNICATION].a + ln[AFD_REGIME_COMMUNICATION].b * r;
    out->ffn = ln[AFD_REGIME_FFN].a + ln[AFD_REGIME_FFN].b * r;
    out->step = fmax(out->attention, fmax(out->comm, out->ffn));
}

/* tau(r), ms, from the lines. */
static double tau_lines(const struct line *ln, double r)
{
    double tau = 0;
    int i;

    for (i = 0; i < AFD_REGIME_COUNT; i++)
        tau = fmax(tau, ln[i].a + ln[i].b * r);
    return tau;
}

/* f(r) = r*B / ((r+1)*tau(r)), tokens/ms/device. */
static double throughput_lines(const struct line *ln, double B, double r)
{
    return r * B / ((r + 1) * tau_lines(ln, r));
}

double afd_throughput_at(const struct afd_solve_input *in, double r)
{
    struct line ln[AFD_REGIME_COUNT];

    stage_lines(in, ln);
    return throughput_lines(ln, in->batch, r);
}

/* Binding stage at r: the largest time; near-ties go to the smaller slope,
 * then to the lower enum value. */
static enum afd_regime regime_lines(const struct line *ln, double r)
{
    double v[AFD_REGIME_COUNT], top = 0;
    int i, best = -1;

    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        v[i] = ln[i].a + ln[i].b * r;
        top = fmax(top, v[i]);
    }
    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        if (v[i] < top - TIE_REL * top)
            continue;
        if (best < 0 || ln[i].b < ln[best].b)
            best = i;
    }
    assert(best >= 0);
    return (enum afd_regime)best;
}

enum afd_regime afd_regime_at(const struct afd_solve_input *in, double r)
{
    struct line ln[AFD_REGIME_COUNT];

    stage_lines(in, ln);
    return regime_lines(ln, r);
}

void afd_idle_ratios_at(const struct afd_solve_input *in, double r,
                        double eta[AFD_REGIME_COUNT])
{
    struct afd_stage_times st;

    afd_stage_times_at(in, r, &st);
    /* fmax: a stage tied with the binding one may round a hair below 0. */
    eta[AFD_REGIME_ATTENTION] = fmax(0, 1 - st.attention / st.step);
    eta[AFD_REGIME_COMMUNICATION] = fmax(0, 1 - st.comm / st.step);
    eta[AFD_REGIME_FFN] = fmax(0, 1 - st.ffn / st.step);
}

/*
 * Exact maximiser of f on (0, r_max]. Candidates: every crossing of two
 * stage lines in (0, r_max], every stationary point sqrt(a/b) of a rising
 * line (b > 0) in (0, r_max], and r_max. A stationary point outside its own
 * piece is evaluated with the true tau, so it can never beat the true
 * maximum and needs no filtering. r_max covers the case where the last
 * piece is flat (b == 0): f = r*B/((r+1)*a) then rises with r, so r_max is
 * the answer. Ties keep the smaller r.
 */
static double candidate_search(const struct line *ln, double B, double r_max)
{
    double cand[2 * AFD_REGIME_COUNT + 4], best_r = r_max, best_f = -1, f, r;
    int i, j, n = 0;

    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        for (j = i + 1; j < AFD_REGIME_COUNT; j++) {
            if (ln[i].b == ln[j].b)
                continue;
            r = (ln[i].a - ln[j].a) / (ln[j].b - ln[i].b);
            if (r > 0 && r <= r_max)
                cand[n++] = r;
        }
        if (ln[i].b > 0 && ln[i].a > 0) {
            r = sqrt(ln[i].a / ln[i].b);
            if (r <= r_max)
                cand[n++] = r;
        }
    }
    cand[n++] = r_max;
    for (i = 0; i < n; i++) {
        f = throughput_lines(ln, B, cand[i]);
        if (f > best_f || (f == best_f && cand[i] < best_r)) {
            best_f = f;
            best_r = cand[i];
        }
    }
    return best_r;
}

/*
 * Regime spans over (0, r_max]: start with the line on top just right of 0
 * (largest a, then largest b), then hop to the steeper line that crosses it
 * first. Slopes strictly rise at each hop, so there are at most 3 spans. At a
 * crossing the flatter line keeps the point: spans are (from, to].
 */
static size_t regime_map(const struct line *ln, double r_max,
                         struct afd_regime_span *spans)
{
    int i, cur = 0, next;
    double from = 0, r_next, r;
    size_t n = 0;

    for (i = 1; i < AFD_REGIME_COUNT; i++) {
        if (ln[i].a > ln[cur].a ||
            (ln[i].a == ln[cur].a && ln[i].b > ln[cur].b))
            cur = i;
    }
    for (;;) {
        next = -1;
        r_next = INFINITY;
        for (i = 0; i < AFD_REGIME_COUNT; i++) {
            if (ln[i].b <= ln[cur].b)
                continue;
            /* fmax: a crossing rounded to before `from` is at `from`. */
            r = fmax(from, (ln[cur].a - ln[i].a) / (ln[i].b - ln[cur].b));
            if (r < r_next ||
                (r == r_next && next >= 0 && ln[i].b > ln[next].b)) {
                r_next = r;
                next = i;
            }
        }
        if (next < 0 || r_next >= r_max) {
            spans[n].from = from;
            spans[n].to = r_max;
            spans[n++].regime = (enum afd_regime)cur;
            return n;
        }
        if (r_next > from) {
            spans[n].from = from;
            spans[n].to = r_next;
            spans[n++].regime = (enum afd_regime)cur;
            from = r_next;
        }
        cur = next;
    }
}

double afd_solver_bound_between(const struct afd_solve_input *in,
                                double floor_ms, double r0, double r1)
{
    struct line ln[AFD_REGIME_COUNT];
    double r;

    stage_lines(in, ln);
    ln[AFD_REGIME_ATTENTION].a = fmax(ln[AFD_REGIME_ATTENTION].a, floor_ms);
    r = candidate_search(ln, in->batch, in->max_ratio);
    return throughput_lines(ln, in->batch, fmin(fmax(r, r0), r1));
}

/* The paper's closed form, valid for per_instance comm (both flat lines). */
static void closed_form(const struct afd_solve_input *in, const struct line *ln,
                        struct afd_solution *out)
{
    const struct afd_profile *p = in->profile;
    double slope = p->aF * in->batch;

    out->has_closed_form = p->comm_mode == AFD_COMM_PER_INSTANCE;
    if (!out->has_closed_form)
        return;
    out->r_A = (ln[AFD_REGIME_ATTENTION].a - p->bF) / slope;
    out->r_C = (ln[AFD_REGIME_COMMUNICATION].a - p->bF) / slope;
    out->r_peak = sqrt(p->bF / slope);
}

/* Best integer x for y FFN instances: floor or ceil of r*·y (f unimodal). */
static void integer_pick(const struct afd_solve_input *in,
                         const struct line *ln, double r_star,
                         struct afd_solution *out)
{
    double y = in->ffn_instances, x_max = floor(in->max_ratio * y);
    double lo = fmin(fmax(floor(r_star * y), 1), x_max);
    double hi = fmin(fmax(ceil(r_star * y), 1), x_max);
    double f_lo = throughput_lines(ln, in->batch, lo / y);
    double f_hi = throughput_lines(ln, in->batch, hi / y);

    if (f_hi > f_lo) {
        out->attention_instances = (int)hi;
        out->throughput_per_device_int = f_hi;
    } else {
        out->attention_instances = (int)lo;
        out->throughput_per_device_int = f_lo;
    }
}

int afd_solve(const struct afd_solve_input *in, struct afd_solution *out,
              char *err)
{
    struct line ln[AFD_REGIME_COUNT];
    int rc;

    rc = afd_solve_check(in, err);
    if (rc)
        return rc;
    memset(out, 0, sizeof(*out));
    stage_lines(in, ln);
    out->r_star = candidate_search(ln, in->batch, in->max_ratio);
    out->regime = regime_lines(ln, out->r_star);
    out->throughput_per_device = throughput_lines(ln, in->batch, out->r_star);
    out->step_time = tau_lines(ln, out->r_star);
    closed_form(in, ln, out);
    integer_pick(in, ln, out->r_star, out);
    out->n_regimes = regime_map(ln, in->max_ratio, out->regimes);
    afd_solver_barrier_optimum(in, out);
    return AFD_OK;
}

enum afd_regime afd_sizing_regime(const struct afd_solve_input *in,
                                  double r_star)
{
    struct afd_stage_times st;
    double tol;

    afd_stage_times_at(in, r_star, &st);
    /* Relative tolerance: at a crossing the two lines agree to rounding. */
    tol = 1e-9 * st.step;
    /* Communication first: where the interconnect binds, it is what sets
     * r* (r_C, or an aggregate comm line meeting the Attention floor). */
    if (st.step - st.comm <= tol)
        return AFD_REGIME_COMMUNICATION;
    if (st.step - st.attention <= tol)
        return AFD_REGIME_ATTENTION;
    return AFD_REGIME_FFN;
}

/* The r in [lo, hi] where f crosses target, f(lo) and f(hi) on either side. */
static double band_edge(const struct afd_solve_input *in, double lo, double hi,
                        double target, bool rising)
{
    int i;

    for (i = 0; i < 80; i++) {
        double mid = 0.5 * (lo + hi);
        bool above = afd_throughput_at(in, mid) >= target;

        if (above == rising)
            hi = mid;
        else
            lo = mid;
    }
    return rising ? hi : lo;
}

void afd_balanced_band(const struct afd_solve_input *in, double r_star,
                       double loss, double *lo, double *hi)
{
    double best = afd_throughput_at(in, r_star);
    double target = (1 - loss) * best;
    double tiny = r_star * 1e-9;

    *lo = afd_throughput_at(in, tiny) >= target
              ? tiny
              : band_edge(in, tiny, r_star, target, true);
    *hi = afd_throughput_at(in, in->max_ratio) >= target
              ? in->max_ratio
              : band_edge(in, r_star, in->max_ratio, target, false);
}

int afd_unimodal_edge(int from, int lim, double want,
                      double (*f)(const void *ctx, int x), const void *ctx)
{
    const int dir = lim > from ? 1 : -1;
    int good = from, bad, step = 1, x;

    for (;;) {
        x = good + dir * step;
        if (dir > 0 ? x >= lim : x <= lim)
            x = lim;
        if (x == good)
            return good;
        if (!(f(ctx, x) >= want)) {
            bad = x;
            break;
        }
        if (x == lim)
            return x;
        good = x;
        step *= 2;
    }
    while (abs(bad - good) > 1) {
        x = good + (bad - good) / 2;
        if (f(ctx, x) >= want)
            good = x;
        else
            bad = x;
    }
    return good;
}

static double barrier_thr(const void *ctx, int x)
{
    double thr = NAN;

    afd_barrier_at(ctx, x, NULL, &thr, NULL);
    return thr;
}

int afd_balanced_band_barrier(const struct afd_solve_input *in, int x_star,
                              double loss, double *lo, double *hi, char *err)
{
    int xmax = (int)fmin(in->max_ratio * in->ffn_instances, INT_MAX / 2);
    double best;
    int rc;

    if ((rc = afd_barrier_at(in, x_star, NULL, &best, err)))
        return rc;
    *lo = (double)afd_unimodal_edge(x_star, 1, (1 - loss) * best, barrier_thr,
                                    in) /
          in->ffn_instances;
    *hi = (double)afd_unimodal_edge(x_star, xmax > x_star ? xmax : x_star,
                                    (1 - loss) * best, barrier_thr, in) /
          in->ffn_instances;
    return AFD_OK;
}
