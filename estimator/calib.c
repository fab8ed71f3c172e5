/*
 * calib.c - online calibration of the six latency coefficients (model.md 7).
 *
 * Per stage a two-parameter Bayesian recursive least squares (equivalently a
 * Kalman filter on a static-but-drifting parameter) with forgetting.
 *
 * Coordinates. Each stage works on the scaled regressor z = x / s, so the
 * unknown is theta = (a*s, b): both components are milliseconds and the
 * covariance entries are comparable. s is the stage's characteristic token
 * count, the load at which the prior's slope term equals its intercept:
 *     s = 2^round(log2(b / a))         when a > 0 and b > 0
 *     s = 2^round(log2(1 ms / a))      when a > 0 and b == 0
 *     s = 1024 tokens                  when a == 0 (comm only)
 * clamped to [1, 2^40] tokens. A power of two makes the scaling exact, so
 * export/import (physical units) round-trips bit for bit.
 *
 * Prior. theta0 = the profile's (a*s, b); prior information R0 = w*I in
 * scaled coordinates (w = prior_weight), i.e. covariance P0 = I/w, which is
 * physical diag(1/(w s^2), 1/w). That is exactly the information of w unit-
 * weight pseudo-samples, half at x = +s and half at x = -s: the prior is
 * worth w measurements, with no prior coupling between slope and intercept.
 * Measurements carry unit weight; RLS is invariant to the noise level, so
 * "weight" is all that matters for the estimate.
 *
 * Step (x, y), u = (z, 1):
 *   forget   R- = lambda*R + (1 - lambda)*R0            (information form)
 *   update   R' = R- + u u',  theta' = theta + P' u (y - u'theta)
 * Forgetting pulls the information toward the prior's, not toward zero. This
 * is the anti-windup: by induction R >= R0, so the covariance never exceeds
 * the prior covariance, and in a direction the data never excite it relaxes
 * back to the prior instead of blowing up as plain exponential forgetting
 * does. The mean is not pulled toward theta0 (a random-walk model, as in a
 * Kalman filter), so the prior's influence on the estimate still decays:
 * with noiseless data and two distinct regressors the error e obeys
 * R'e' = (lambda I + (1-lambda) w P) R e, a contraction by about lambda per
 * step once the data outweigh the prior (tests/test_calib.c measures 1e-9).
 * In covariance form, with c = (1 - lambda) w and D = det P:
 *   P- = (lambda P + c D I) / (lambda^2 + c lambda tr P + c^2 D)
 *   P' = (P- + D- [1 -z; -z z^2]) / (1 + u'P-u),  D- = det P-
 * (the second line is P- - P-uu'P-/(1 + u'P-u) rearranged so the diagonal
 * stays positive whatever the rounding). Two divisions, about 40 flops.
 *
 * Calibrated. Coefficient i of a stage is calibrated when its posterior
 * marginal variance is below calibrated_ratio times its prior marginal
 * variance: P[i][i] < ratio * P0[i][i]. Why a constant regressor leaves one
 * of the pair uncalibrated: with every sample at the same z the data inform
 * only u'theta = a*x + b. In whitened coordinates (P0 = I) the posterior is
 * I - k v v' with v = u/|u| and 0 <= k < 1, so the two variance ratios are
 * 1 - k z^2/(1+z^2) and 1 - k/(1+z^2), whose sum is 2 - k > 1. With
 * ratio <= 0.5 at most one of the pair can pass (above 0.5 a single load can
 * mark both; the default is 0.1): the slope when the load sits well above s
 * (in the limit k -> 1, z > 3 at ratio 0.1; the intercept's prior then
 * matters little), the intercept when it sits well below (z < 1/3), neither
 * near s. tests/test_calib.c checks all three cases at z = 6, 0.1875, 1.
 * Forgetting keeps that structure (R stays R0 plus rank-one terms along u).
 *
 * Values. The reported coefficient is the RLS mean, whether calibrated or
 * not: an uncalibrated coefficient may have moved from the prior, because
 * the posterior mean is what makes a*x + b match the data at the observed
 * loads. Once the data alone identify the stage (ci_pair), the data's own
 * least-squares line instead, kept as forgetting-weighted Welford sums
 * beside the RLS state (the mean's prior pull decays only as fast as the
 * data inform the weak direction: tests/test_calib_ci.c, one small move). The
 * report clamps for afd_profile_validate: every value >= 0, and aA, aF >= 1e-6
 * times their prior (the solver divides by them; a fitted slope at or below
 * zero is noise, not hardware).
 *
 * Inputs: x and ms finite and >= 0, else AFD_EINVAL and no state change. An
 * update whose result is not finite (absurd magnitudes, ~1e150) is refused
 * with AFD_ERANGE, state unchanged.
 *
 * Accuracy, measured (tests/test_calib.c and a probe on the same data):
 *   noiseless, loads alternating 30000/70000, lambda 0.999: relative error
 *   of aA, bA 1e-4 after 5000 samples, 3e-10 after 20000, floor 2e-14 from
 *   30000 on (the test asks 1e-9 at 40000);
 *   lambda 1, noisy, loads U(0, 1e5): equal to the batch Bayesian solution
 *   (R0 + X'X)^-1 (R0 theta0 + X'y) computed in long double to 2e-15 at 500
 *   samples, 8e-14 at 1e6 (the test asks 1e-12 at 2000).
 * Cost: 18 ns per update (bench-estimator) to 26 ns (probe), x86-64 -O2,
 * on an idle machine.
 */
#include "estimator/calib.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

#define STAGE_COUNT       3
#define SLOPE_FLOOR_REL   1e-6 /* aA, aF floor as a fraction of the prior */
#define SCALE_DEFAULT_EXP 10   /* s = 1024 tokens when the slope prior is 0 */
#define SCALE_MAX_EXP     40   /* s <= 2^40 tokens: far beyond any batch */
#define CI_Z              1.96 /* two-sided 95% normal quantile */
#define CI_MIN_WEIGHT     3.0  /* samples (forgetting-weighted) for sigma */
#define IDENT_EXCITATION  1e-6 /* 1 - rho^2 of the data; ~1e-13 at one load */
#define IDENT_REL         0.1  /* data-only 95% half-width / |value| */
#define RECENT_ALPHA      (1.0 / 64.0) /* afd_calib_fit's recent means */

enum stage_id { STAGE_ATTENTION = 0, STAGE_COMM, STAGE_FFN };

static const char *const stage_names[STAGE_COUNT] = {"attention", "comm",
                                                     "ffn"};
static const char *const stage_inputs[STAGE_COUNT] = {"load", "tokens",
                                                      "tokens"};

struct calib_data {
    double w, mz, my, m2, c;
};

/* Scaled coordinates: th = (a*s, b) ms; p = covariance {p00, p01, p11}. */
struct calib_stage {
    double s;     /* tokens, a power of two */
    double inv_s; /* 1/s, exact */
    double th[2];
    double p[3];
    double rs; /* forgetting-weighted sum of e^2/(1 + u'P-u), ms^2 */
    double rw; /* forgetting-weighted sample count behind rs */
    /* The same of (e/t)^2/(1 + u'P-u), t the time predicted (> 0): the
     * residuals relative to the time, which a change of the stage's time
     * (a batch cut, a scale) leaves comparable; and its count. */
    double vs, vw;
    uint64_t n;
    /* The data alone, forgetting-weighted like R - R0, in z = x/s: weight
     * W, means of z and y, M2 = sum w (z - mz)^2, C = sum w (z - mz)(y - my)
     * (exponentially weighted Welford: no cancellation at a single load). */
    struct calib_data d;
    /* Recent measurements (afd_calib_fit): EWMAs of load and time, the
     * number folded in; transient, not exported. */
    double rx, ry;
    uint64_t rn;
};

struct afd_calib {
    struct afd_calib_config cfg;
    struct afd_profile prior;
    double p0;     /* prior variance in scaled coordinates, 1/w */
    double forget; /* c = (1 - lambda) * w */
    struct calib_stage st[STAGE_COUNT];
};

const char *afd_coef_name(enum afd_coef c)
{
    static const char *const names[AFD_COEF_COUNT] = {"aA", "bA", "aC",
                                                      "bC", "aF", "bF"};

    if ((int)c < 0 || (int)c >= AFD_COEF_COUNT)
        return "unknown";
    return names[c];
}

void afd_calib_config_default(struct afd_calib_config *cfg)
{
    assert(cfg);
    cfg->forgetting = 0.999;
    cfg->prior_weight = 10.0;
    cfg->calibrated_ratio = 0.1;
}

static int check_config(const struct afd_calib_config *cfg, char *err)
{
    if (!(cfg->forgetting > 0 && cfg->forgetting <= 1))
        return afd_err(err, AFD_EINVAL,
                       "calibration forgetting must be in (0, 1], got %g",
                       cfg->forgetting);
    if (!(cfg->prior_weight > 0 && isfinite(cfg->prior_weight)))
        return afd_err(err, AFD_EINVAL,
                       "calibration prior_weight must be finite and > 0, "
                       "got %g",
                       cfg->prior_weight);
    if (!(cfg->calibrated_ratio > 0 && cfg->calibrated_ratio < 1))
        return afd_err(err, AFD_EINVAL,
                       "calibration calibrated_ratio must be in (0, 1), got "
                       "%g",
                       cfg->calibrated_ratio);
    return AFD_OK;
}

/* The prior's slope and intercept for stage i, physical units. */
static void prior_pair(const struct afd_profile *p, int i, double *a, double *b)
{
    const double pa[STAGE_COUNT] = {p->aA, p->aC, p->aF};
    const double pb[STAGE_COUNT] = {p->bA, p->bC, p->bF};

    *a = pa[i];
    *b = pb[i];
}

/* The characteristic token count s (see the head comment), a power of 2. */
static double stage_scale(double a, double b)
{
    int e = SCALE_DEFAULT_EXP;

    if (a > 0) {
        double ratio = (b > 0 ? b : 1.0) / a;
        double l = log2(ratio);

        if (isfinite(l))
            e = (int)fmax(0.0, fmin(SCALE_MAX_EXP, nearbyint(l)));
        else
            e = l > 0 ? SCALE_MAX_EXP : 0;
    }
    return ldexp(1.0, e);
}

/* Sets cfg, prior and the derived constants; stages get scale only. */
static void set_prior(struct afd_calib *c, const struct afd_profile *prior,
                      const struct afd_calib_config *cfg)
{
    int i;
    double a, b;

    c->cfg = *cfg;
    c->prior = *prior;
    c->p0 = 1.0 / cfg->prior_weight;
    c->forget = (1.0 - cfg->forgetting) * cfg->prior_weight;
    for (i = 0; i < STAGE_COUNT; i++) {
        prior_pair(prior, i, &a, &b);
        c->st[i].s = stage_scale(a, b);
        c->st[i].inv_s = 1.0 / c->st[i].s;
    }
}

static void reset_stages(struct afd_calib *c)
{
    int i;
    double a, b;

    for (i = 0; i < STAGE_COUNT; i++) {
        struct calib_stage *st = &c->st[i];

        prior_pair(&c->prior, i, &a, &b);
        st->th[0] = a * st->s;
        st->th[1] = b;
        st->p[0] = c->p0;
        st->p[1] = 0;
        st->p[2] = c->p0;
        st->rs = 0;
        st->rw = 0;
        st->n = 0;
        st->rn = 0;
        memset(&st->d, 0, sizeof(st->d));
    }
}

struct afd_calib *afd_calib_new(const struct afd_profile *prior,
                                const struct afd_calib_config *cfg, char *err)
{
    struct afd_calib_config def;
    struct afd_calib *c;
    char why[AFD_ERR_LEN];

    if (!cfg) {
        afd_calib_config_default(&def);
        cfg = &def;
    }
    if (afd_profile_validate(prior, why) < 0) {
        afd_err(err, AFD_EINVAL, "calibration prior is invalid: %s", why);
        return NULL;
    }
    if (check_config(cfg, err) < 0)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c) {
        afd_err(err, AFD_ENOMEM, "calibration: out of memory");
        return NULL;
    }
    set_prior(c, prior, cfg);
    reset_stages(c);
    return c;
}

void afd_calib_free(struct afd_calib *c)
{
    free(c);
}

/* Folds (z, y) into the data-only statistics, older weight times lam. */
static void data_add(struct calib_data *d, double lam, double z, double y)
{
    double w = lam * d->w + 1.0, dz = z - d->mz, dy = y - d->my;

    d->mz += dz / w;
    d->my += dy / w;
    d->m2 = lam * d->m2 + dz * (z - d->mz);
    d->c = lam * d->c + dz * (y - d->my);
    d->w = w;
}

/*
 * One RLS step on stage st with x tokens and y ms (see the head comment for
 * the formulas). Computes into locals and commits only a finite result, so a
 * refused step leaves the stage untouched. Returns 0 or AFD_ERANGE.
 */
static int stage_update(const struct afd_calib *c, struct calib_stage *st,
                        double x, double y)
{
    const double lam = c->cfg.forgetting, k = c->forget;
    const double z = x * st->inv_s;
    double d, inv_f, m0, m1, m2, dm, g0, g1, inv_m, e, r, th0, th1, q0, q1, q2,
        rs, t, vs = lam * st->vs, vw = lam * st->vw;

    /* Forget toward the prior information. d < 0 only by rounding. */
    d = fmax(0.0, st->p[0] * st->p[2] - st->p[1] * st->p[1]);
    inv_f = 1.0 / (lam * lam + k * lam * (st->p[0] + st->p[2]) + k * k * d);
    m0 = (lam * st->p[0] + k * d) * inv_f;
    m1 = lam * st->p[1] * inv_f;
    m2 = (lam * st->p[2] + k * d) * inv_f;

    /* Absorb the measurement. */
    dm = fmax(0.0, m0 * m2 - m1 * m1);
    g0 = m0 * z + m1;
    g1 = m1 * z + m2;
    inv_m = 1.0 / (1.0 + z * g0 + g1);
    e = y - (st->th[0] * z + st->th[1]);
    r = e * inv_m;
    /* The innovation e has variance sigma^2 (1 + u'P-u), so e*r estimates
     * sigma^2 without the parameter uncertainty's share. */
    rs = lam * st->rs + e * r;
    t = st->th[0] * z + st->th[1];
    if (t > 0) {
        vs += e * r / (t * t);
        vw += 1.0;
    }
    th0 = st->th[0] + g0 * r;
    th1 = st->th[1] + g1 * r;
    q0 = (m0 + dm) * inv_m;
    q1 = (m1 - z * dm) * inv_m;
    q2 = (m2 + z * z * dm) * inv_m;

    if (!isfinite(th0) || !isfinite(th1) || !isfinite(q0) || !isfinite(q1) ||
        !isfinite(q2) || !(q0 > 0) || !(q2 > 0) || !isfinite(rs) ||
        !isfinite(vs))
        return AFD_ERANGE;
    st->rs = rs;
    st->vs = vs;
    st->vw = vw;
    st->rw = lam * st->rw + 1.0;
    st->th[0] = th0;
    st->th[1] = th1;
    if (st->rn++ == 0) {
        st->rx = x;
        st->ry = y;
    } else {
        st->rx += RECENT_ALPHA * (x - st->rx);
        st->ry += RECENT_ALPHA * (y - st->ry);
    }
    st->p[0] = q0;
    st->p[1] = q1;
    st->p[2] = q2;
    st->n++;
    data_add(&st->d, lam, z, y);
    return AFD_OK;
}

static int add_sample(struct afd_calib *c, int i, double x, double ms,
                      char *err)
{
    assert(c);
    if (!isfinite(x) || x < 0)
        return afd_err(err, AFD_EINVAL,
                       "calibration %s %s must be finite and >= 0, got %g",
                       stage_names[i], stage_inputs[i], x);
    if (!isfinite(ms) || ms < 0)
        return afd_err(err, AFD_EINVAL,
                       "calibration %s time must be finite and >= 0 ms, got "
                       "%g",
                       stage_names[i], ms);
    if (stage_update(c, &c->st[i], x, ms) < 0)
        return afd_err(err, AFD_ERANGE,
                       "calibration %s sample (%g tokens, %g ms) overflows "
                       "the fit; ignored",
                       stage_names[i], x, ms);
    return AFD_OK;
}

int afd_calib_add_attention(struct afd_calib *c, double load, double ms,
                            char *err)
{
    return add_sample(c, STAGE_ATTENTION, load, ms, err);
}

int afd_calib_add_comm(struct afd_calib *c, double tokens, double ms, char *err)
{
    return add_sample(c, STAGE_COMM, tokens, ms, err);
}

int afd_calib_add_ffn(struct afd_calib *c, double tokens, double ms, char *err)
{
    return add_sample(c, STAGE_FFN, tokens, ms, err);
}

/* The reported slope of stage i for scaled slope th0, clamped: aA and aF
 * stay > 0. */
static double report_slope(const struct afd_calib *c, int i, double prior_a,
                           double th0)
{
    double a = th0 * c->st[i].inv_s;
    double floor = i == STAGE_COMM ? 0.0 : SLOPE_FLOOR_REL * prior_a;

    return a > floor ? a : floor;
}

/*
 * The data-only line of stage i in scaled coordinates (th = (a*s, b)) and
 * its covariance over sigma^2 ({v00, v01, v11}), from the Welford
 * statistics: slope C/M2, intercept my - slope*mz, covariance
 * [1/M2, -mz/M2; ., 1/W + mz^2/M2] (the inverse of the data's information
 * R - R0). Returns the excitation 1 - rho^2 = M2 / (M2 + W mz^2), 0 when
 * the data have no spread (th and v then untouched).
 */
static double data_line(const struct calib_stage *st, double th[2], double v[3])
{
    const struct calib_data *d = &st->d;

    if (!(d->m2 > 0) || !(d->w > 0))
        return 0;
    th[0] = d->c / d->m2;
    th[1] = d->my - th[0] * d->mz;
    v[0] = 1.0 / d->m2;
    v[1] = -d->mz / d->m2;
    v[2] = 1.0 / d->w + d->mz * d->mz / d->m2;
    return d->m2 / (d->m2 + d->w * d->mz * d->mz);
}

/*
 * 95% half-widths, identifiability and, once identified, the values of
 * stage i's pair (see calib.h). sigma^2 = rs / (rw - 2) (three samples at
 * least, else the prior alone speaks: +-|prior|, nothing identified).
 * Posterior half-width: z sqrt(sigma^2 P_ii); once the load has varied, the
 * data-only one z sqrt(sigma^2 V_ii) instead (data_line). Identified: the
 * data alone pin the coefficient to IDENT_REL of its data-only value. Then
 * the pair reports the data-only line, not the RLS mean: the mean forgets
 * the prior only at the pace of the data's information along the weak
 * direction, and one small move (107 -> 98 instances) leaves an intercept
 * 24% off that the data alone pin to 0.1% (the default demo's FFN). Sets
 * *data_used when it does.
 */
static void ci_pair(const struct afd_calib *c, int i,
                    struct afd_calib_report *out, bool *data_used)
{
    const struct calib_stage *st = &c->st[i];
    double s2, th[2], v[3], hw0, hw1;

    *data_used = false;
    out->sigma_ms[i] = -1;
    out->noise_cv[i] =
        st->vw >= CI_MIN_WEIGHT ? sqrt(fmax(0.0, st->vs / (st->vw - 2.0))) : -1;
    out->excitation[i] = 0;
    if (st->rw < CI_MIN_WEIGHT) {
        out->ci[2 * i] = fabs(out->prior[2 * i]);
        out->ci[2 * i + 1] = fabs(out->prior[2 * i + 1]);
        return;
    }
    s2 = fmax(0.0, st->rs / (st->rw - 2.0));
    out->sigma_ms[i] = sqrt(s2);
    /* Unexcited: sigma^2 P, widened to +-100% by afd_calib_report. */
    out->ci[2 * i] = CI_Z * sqrt(s2 * st->p[0]) * st->inv_s;
    out->ci[2 * i + 1] = CI_Z * sqrt(s2 * st->p[2]);
    out->excitation[i] = data_line(st, th, v);
    if (out->excitation[i] < IDENT_EXCITATION)
        return;
    hw0 = CI_Z * sqrt(s2 * v[0]);
    hw1 = CI_Z * sqrt(s2 * v[2]);
    out->ci[2 * i] = hw0 * st->inv_s;
    out->ci[2 * i + 1] = hw1;
    out->identified[2 * i] = th[0] != 0 && hw0 < IDENT_REL * fabs(th[0]);
    out->identified[2 * i + 1] = th[1] != 0 && hw1 < IDENT_REL * fabs(th[1]);
    /* Both: with one alone the other may be anything the noise allows (a
     * slope at its floor sends r* to max_ratio); the RLS mean is the safer
     * line until the data pin both. */
    if (!out->identified[2 * i] || !out->identified[2 * i + 1])
        return;
    *data_used = true;
    out->value[2 * i] = report_slope(c, i, out->prior[2 * i], th[0]);
    out->value[2 * i + 1] = th[1] > 0 ? th[1] : 0.0;
}

/* afd_calib_report, and per stage whether it reports the data-only line. */
static void report(const struct afd_calib *c, struct afd_calib_report *out,
                   bool data_used[STAGE_COUNT])
{
    int i;
    double a, b, lim;

    memset(out, 0, sizeof(*out));
    lim = c->cfg.calibrated_ratio * c->p0;
    for (i = 0; i < STAGE_COUNT; i++) {
        const struct calib_stage *st = &c->st[i];

        prior_pair(&c->prior, i, &a, &b);
        out->prior[2 * i] = a;
        out->prior[2 * i + 1] = b;
        out->value[2 * i] = report_slope(c, i, a, st->th[0]);
        out->value[2 * i + 1] = st->th[1] > 0 ? st->th[1] : 0.0;
        out->calibrated[2 * i] = st->p[0] < lim;
        out->calibrated[2 * i + 1] = st->p[2] < lim;
        out->samples[i] = st->n;
        ci_pair(c, i, out, &data_used[i]);
    }
    /* A coefficient the data have not separated from its partner is known
     * no better than the prior: +-100% at least, whatever sigma says. */
    for (i = 0; i < AFD_COEF_COUNT; i++)
        if (!out->identified[i])
            out->ci[i] = fmax(out->ci[i],
                              fmax(fabs(out->prior[i]), fabs(out->value[i])));
}

void afd_calib_report(const struct afd_calib *c, struct afd_calib_report *out)
{
    bool data_used[STAGE_COUNT];

    assert(c && out);
    report(c, out, data_used);
}

static void fill_fit(const struct afd_calib *c,
                     const struct afd_calib_report *rep, const bool *data_used,
                     int stage, struct afd_calib_fit *out)
{
    const struct calib_stage *st = &c->st[stage];
    double s2, th[2], v[3];

    memset(out, 0, sizeof(*out));
    out->a = rep->value[2 * stage];
    out->b = rep->value[2 * stage + 1];
    out->identified =
        rep->identified[2 * stage] && rep->identified[2 * stage + 1];
    out->sigma_ms = rep->sigma_ms[stage];
    out->recent_n = st->rn;
    out->recent_load = st->rx;
    out->recent_ms = st->ry;
    if (out->sigma_ms < 0)
        return;
    s2 = out->sigma_ms * out->sigma_ms;
    /* The covariance of the line reported: the data-only one with it
     * (data_used implies the data have spread, so data_line fills v). */
    v[0] = st->p[0];
    v[1] = st->p[1];
    v[2] = st->p[2];
    if (data_used[stage])
        data_line(st, th, v);
    out->var[0] = s2 * v[0] * st->inv_s * st->inv_s;
    out->var[1] = s2 * v[1] * st->inv_s;
    out->var[2] = s2 * v[2];
    /* An EWMA of independent noise has variance sigma^2 alpha/(2 - alpha). */
    out->recent_hw_ms =
        CI_Z * out->sigma_ms * sqrt(RECENT_ALPHA / (2.0 - RECENT_ALPHA));
}

void afd_calib_fits(const struct afd_calib *c,
                    struct afd_calib_fit out[STAGE_COUNT])
{
    struct afd_calib_report rep;
    bool data_used[STAGE_COUNT];
    int stage;

    assert(c && out);
    report(c, &rep, data_used); /* once for the three stages */
    for (stage = 0; stage < STAGE_COUNT; stage++)
        fill_fit(c, &rep, data_used, stage, &out[stage]);
}

void afd_calib_profile(const struct afd_calib *c, struct afd_profile *out)
{
    struct afd_calib_report rep;
    bool any = false;
    int i;

    assert(c && out);
    afd_calib_report(c, &rep);
    for (i = 0; i < AFD_COEF_COUNT; i++)
        any = any || rep.calibrated[i];
    *out = c->prior;
    out->aA = rep.value[AFD_COEF_AA];
    out->bA = rep.value[AFD_COEF_BA];
    out->aC = rep.value[AFD_COEF_AC];
    out->bC = rep.value[AFD_COEF_BC];
    out->aF = rep.value[AFD_COEF_AF];
    out->bF = rep.value[AFD_COEF_BF];
    if (!any)
        return;
    /* Truncation keeps the buffers terminated; the name stays non-empty. */
    snprintf(out->name, sizeof(out->name), "%.*s+calibrated",
             (int)(sizeof(out->name) - sizeof("+calibrated")), c->prior.name);
    snprintf(out->provenance, sizeof(out->provenance),
             "rls-calibrated; prior: %.*s",
             (int)(sizeof(out->provenance) - sizeof("rls-calibrated; prior: ")),
             c->prior.provenance);
}

void afd_calib_export(const struct afd_calib *c, struct afd_calib_state *out)
{
    int i;

    assert(c && out);
    memset(out, 0, sizeof(*out));
    out->config = c->cfg;
    out->prior = c->prior;
    for (i = 0; i < STAGE_COUNT; i++) {
        const struct calib_stage *st = &c->st[i];
        struct afd_calib_stage_state *o = &out->stage[i];

        /* Scaling by a power of two is exact both ways. */
        o->coef[0] = st->th[0] * st->inv_s;
        o->coef[1] = st->th[1];
        o->cov[0] = st->p[0] * st->inv_s * st->inv_s;
        o->cov[1] = st->p[1] * st->inv_s;
        o->cov[2] = o->cov[1];
        o->cov[3] = st->p[2];
        o->prior_cov[0] = c->p0 * st->inv_s * st->inv_s;
        o->prior_cov[1] = 0;
        o->prior_cov[2] = 0;
        o->prior_cov[3] = c->p0;
        o->resid[0] = st->rs;
        o->resid[1] = st->rw;
        o->rel[0] = st->vs;
        o->rel[1] = st->vw;
        o->samples = st->n;
        o->data[0] = st->d.w;
        o->data[1] = st->d.mz * st->s;
        o->data[2] = st->d.my;
        o->data[3] = st->d.m2 * st->s * st->s;
        o->data[4] = st->d.c * st->s;
    }
}

/*
 * The data statistics an older snapshot lacks, from the state itself: the
 * data's information R - R0 (P^-1 less the prior's w I) gives weight, mean
 * and M2; the RLS mean stands in for the data's line (calib.h).
 */
static void data_rebuild(const struct afd_calib *c, struct calib_stage *st)
{
    const double w = c->cfg.prior_weight;
    double dp = st->p[0] * st->p[2] - st->p[1] * st->p[1];
    double r00, r01, r11;

    memset(&st->d, 0, sizeof(st->d));
    if (!(dp > 0))
        return;
    r00 = st->p[2] / dp - w;
    r11 = st->p[0] / dp - w;
    r01 = -st->p[1] / dp;
    if (!(r11 > 0))
        return;
    st->d.w = r11;
    st->d.mz = r01 / r11;
    st->d.m2 = fmax(0.0, r00 - r01 * r01 / r11);
    st->d.my = st->th[1] + st->th[0] * st->d.mz;
    st->d.c = st->th[0] * st->d.m2;
}

/* AFD_EINVAL naming stage i's field what[j] unless v[0..n) are finite. */
static int check_finite(int i, const char *what, const double *v, int n,
                        char *err)
{
    int j;

    for (j = 0; j < n; j++)
        if (!isfinite(v[j]))
            return afd_err(err, AFD_EINVAL,
                           "calibration state: %s %s[%d] must be finite, "
                           "got %g",
                           stage_names[i], what, j, v[j]);
    return AFD_OK;
}

/* Checks one stage of an imported state against the rebuilt prior in tmp. */
static int check_stage(const struct afd_calib *tmp, int i,
                       const struct afd_calib_stage_state *in, char *err)
{
    const struct calib_stage *st = &tmp->st[i];
    const double *v = in->cov, *p0 = in->prior_cov;

    if (check_finite(i, "coef", in->coef, 2, err) < 0 ||
        check_finite(i, "cov", v, 4, err) < 0 ||
        check_finite(i, "data", in->data, 5, err) < 0)
        return AFD_EINVAL;
    if (!(v[0] > 0 && v[3] > 0 && v[1] == v[2] && v[0] * v[3] >= v[1] * v[1]))
        return afd_err(err, AFD_EINVAL,
                       "calibration state: %s covariance [%g %g; %g %g] is "
                       "not symmetric positive semidefinite",
                       stage_names[i], v[0], v[1], v[2], v[3]);
    if (!(isfinite(in->resid[0]) && in->resid[0] >= 0 &&
          isfinite(in->resid[1]) && in->resid[1] >= 0 && isfinite(in->rel[0]) &&
          in->rel[0] >= 0 && isfinite(in->rel[1]) && in->rel[1] >= 0))
        return afd_err(err, AFD_EINVAL,
                       "calibration state: %s residual statistics (%g, %g) "
                       "must be finite and >= 0",
                       stage_names[i], in->resid[0], in->resid[1]);
    if (!(in->data[0] >= 0 && in->data[3] >= 0))
        return afd_err(err, AFD_EINVAL,
                       "calibration state: %s data weight (%g) and spread "
                       "(%g) must be >= 0",
                       stage_names[i], in->data[0], in->data[3]);
    if (p0[0] != tmp->p0 * st->inv_s * st->inv_s || p0[1] != 0 || p0[2] != 0 ||
        p0[3] != tmp->p0)
        return afd_err(err, AFD_EINVAL,
                       "calibration state: %s prior_cov [%g %g; %g %g] does "
                       "not match the prior and prior_weight",
                       stage_names[i], p0[0], p0[1], p0[2], p0[3]);
    return AFD_OK;
}

int afd_calib_import(struct afd_calib *c, const struct afd_calib_state *in,
                     char *err)
{
    struct afd_calib tmp;
    char why[AFD_ERR_LEN];
    int i, rc;

    assert(c && in);
    if (afd_profile_validate(&in->prior, why) < 0)
        return afd_err(err, AFD_EINVAL,
                       "calibration state: prior is invalid: %s", why);
    if ((rc = check_config(&in->config, why)) < 0)
        return afd_err(err, rc, "calibration state: %s", why);
    memset(&tmp, 0, sizeof(tmp));
    set_prior(&tmp, &in->prior, &in->config);
    for (i = 0; i < STAGE_COUNT; i++) {
        const struct afd_calib_stage_state *o = &in->stage[i];
        struct calib_stage *st = &tmp.st[i];

        if ((rc = check_stage(&tmp, i, o, err)) < 0)
            return rc;
        st->th[0] = o->coef[0] * st->s;
        st->th[1] = o->coef[1];
        st->p[0] = o->cov[0] * st->s * st->s;
        st->p[1] = o->cov[1] * st->s;
        st->p[2] = o->cov[3];
        st->rs = o->resid[0];
        st->rw = o->resid[1];
        st->vs = o->rel[0];
        st->vw = o->rel[1];
        st->n = o->samples;
        if (o->data[0] > 0) {
            st->d.w = o->data[0];
            st->d.mz = o->data[1] * st->inv_s;
            st->d.my = o->data[2];
            st->d.m2 = o->data[3] * st->inv_s * st->inv_s;
            st->d.c = o->data[4] * st->inv_s;
        } else {
            data_rebuild(&tmp, st);
        }
    }
    *c = tmp;
    return AFD_OK;
}
