/*
 * fit.c - robust affine fits of measured stage times (fit.h).
 *
 * Huber first because its objective is convex: it converges from the OLS
 * start wherever the outliers pulled it. Tukey's bisquare then gives gross
 * outliers zero weight, and a plain OLS refit on the points within 3 robust
 * sd gives the classical intervals (t with n-2 df) that the user expects.
 */
#include "estimator/fit.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

#define HUBER_K   1.345
#define TUKEY_C   4.685
#define TRIM_SDS  3.0
#define MAX_ITER  50
#define MAD_TO_SD 1.482602218505602 /* 1 / Phi^-1(0.75) */

static const char *const stage_names[AFD_STAGE_COUNT] = {
    "attention", "communication", "ffn"};

const char *afd_stage_name(enum afd_stage s)
{
    return (unsigned)s < AFD_STAGE_COUNT ? stage_names[s] : "unknown";
}

int afd_stage_parse(const char *s, enum afd_stage *out)
{
    int i;

    for (i = 0; i < AFD_STAGE_COUNT; i++)
        if (!strcmp(s, stage_names[i])) {
            *out = (enum afd_stage)i;
            return AFD_OK;
        }
    return AFD_EINVAL;
}

double afd_t975(size_t df)
{
    /* Exact to 3 decimals for small df; Cornish-Fisher beyond 30. */
    static const double table[31] = {
        NAN,   12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365,
        2.306, 2.262,  2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110,  2.101, 2.093, 2.086, 2.080, 2.074, 2.069,
        2.064, 2.060,  2.056, 2.052, 2.048, 2.045, 2.042};
    const double z = 1.959963984540054;
    double v, z3, z5, z7;

    if (df == 0)
        return NAN;
    if (df <= 30)
        return table[df];
    v = (double)df;
    z3 = z * z * z;
    z5 = z3 * z * z;
    z7 = z5 * z * z;
    return z + (z3 + z) / (4 * v) + (5 * z5 + 16 * z3 + 3 * z) / (96 * v * v) +
           (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * v * v * v);
}

/* Weighted least squares; false when the weighted x are all equal. */
static bool wls(const struct afd_fit_point *p, size_t n, const double *w,
                double *slope, double *icpt)
{
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0, xb, yb;
    size_t i;

    for (i = 0; i < n; i++) {
        sw += w[i];
        sx += w[i] * p[i].x;
        sy += w[i] * p[i].ms;
    }
    if (sw <= 0)
        return false;
    xb = sx / sw;
    yb = sy / sw;
    for (i = 0; i < n; i++) {
        double dx = p[i].x - xb;

        sxx += w[i] * dx * dx;
        sxy += w[i] * dx * (p[i].ms - yb);
    }
    if (!(sxx > 0))
        return false;
    *slope = sxy / sxx;
    *icpt = yb - *slope * xb;
    return true;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Robust sd of the residuals r[n] (MAD), never below floor. tmp[n] scratch. */
static double robust_sd(const double *r, size_t n, double *tmp, double floor)
{
    double med;
    size_t i;

    for (i = 0; i < n; i++)
        tmp[i] = fabs(r[i]);
    qsort(tmp, n, sizeof(*tmp), cmp_double);
    med = n % 2 ? tmp[n / 2] : 0.5 * (tmp[n / 2 - 1] + tmp[n / 2]);
    return fmax(MAD_TO_SD * med, floor);
}

static void residuals(const struct afd_fit_point *p, size_t n, double slope,
                      double icpt, double *r)
{
    size_t i;

    for (i = 0; i < n; i++)
        r[i] = p[i].ms - (slope * p[i].x + icpt);
}

/* IRLS with Huber (tukey false) or bisquare weights from (slope, icpt). */
static void irls(const struct afd_fit_point *p, size_t n, double *w, double *r,
                 double floor, bool tukey, double *slope, double *icpt)
{
    int it;
    size_t i;

    for (it = 0; it < MAX_ITER; it++) {
        double s, a, b;

        residuals(p, n, *slope, *icpt, r);
        s = robust_sd(r, n, w, floor);
        for (i = 0; i < n; i++) {
            double u = fabs(r[i]) / s;

            if (tukey) {
                double v = u / TUKEY_C;

                w[i] = v < 1 ? (1 - v * v) * (1 - v * v) : 0;
            } else {
                w[i] = u <= HUBER_K ? 1 : HUBER_K / u;
            }
        }
        if (!wls(p, n, w, &a, &b))
            return; /* too few points kept: keep the last good line */
        if (fabs(a - *slope) <= 1e-12 * fabs(a) &&
            fabs(b - *icpt) <= 1e-12 * fmax(fabs(b), s)) {
            *slope = a;
            *icpt = b;
            return;
        }
        *slope = a;
        *icpt = b;
    }
}

static bool interval_wide(double v, double lo, double hi)
{
    return !(0.5 * (hi - lo) <= 0.5 * fabs(v));
}

int afd_fit_stage(const struct afd_fit_point *pts, size_t n, double *work,
                  const char *what, struct afd_stage_fit *out, char *err)
{
    double *w = work, *r = work + n;
    double slope, icpt, s, ymax = 0, floor, sx = 0, sy = 0, xb, yb;
    double sxx = 0, sxy = 0, ssr = 0, sst = 0, t;
    size_t i, m = 0, df;
    bool distinct = false;

    memset(out, 0, sizeof(*out));
    out->n = n;
    if (n < 3)
        return afd_err(err, AFD_EINVAL,
                       "stage %s: needs at least 3 measurements, got %zu", what,
                       n);
    out->x_min = out->x_max = pts[0].x;
    for (i = 0; i < n; i++) {
        if (!isfinite(pts[i].x) || !isfinite(pts[i].ms) || pts[i].x < 0 ||
            pts[i].ms < 0)
            return afd_err(err, AFD_EINVAL,
                           "stage %s: measurement %zu (tokens %g, ms %g) must "
                           "be finite and >= 0",
                           what, i + 1, pts[i].x, pts[i].ms);
        out->x_min = fmin(out->x_min, pts[i].x);
        out->x_max = fmax(out->x_max, pts[i].x);
        ymax = fmax(ymax, pts[i].ms);
        distinct |= pts[i].x != pts[0].x;
    }
    if (!distinct)
        return afd_err(err, AFD_EINVAL,
                       "stage %s: every measurement has tokens = %g; measure "
                       "at 2 or more token counts to separate slope from "
                       "intercept",
                       what, pts[0].x);

    /* Relative floor: exact data must not make the scale 0 (0/0 weights). */
    floor = 1e-9 * ymax + 1e-300;
    for (i = 0; i < n; i++)
        w[i] = 1;
    wls(pts, n, w, &slope, &icpt);
    irls(pts, n, w, r, floor, false, &slope, &icpt);
    irls(pts, n, w, r, floor, true, &slope, &icpt);

    /* Trimmed refit: w[i] = 1 keeps point i. */
    residuals(pts, n, slope, icpt, r);
    s = robust_sd(r, n, w, floor);
    for (i = 0; i < n; i++)
        w[i] = fabs(r[i]) <= TRIM_SDS * s ? 1 : 0;
    if (!wls(pts, n, w, &slope, &icpt)) {
        for (i = 0; i < n; i++)
            w[i] = 1;
        wls(pts, n, w, &slope, &icpt);
    }
    for (i = 0; i < n; i++)
        if (w[i] > 0) {
            m++;
            sx += pts[i].x;
            sy += pts[i].ms;
        }
    out->n_outliers = n - m;
    xb = sx / (double)m;
    yb = sy / (double)m;
    for (i = 0; i < n; i++)
        if (w[i] > 0) {
            double dx = pts[i].x - xb, dy = pts[i].ms - yb;
            double e = pts[i].ms - (slope * pts[i].x + icpt);

            sxx += dx * dx;
            sxy += dx * dy;
            sst += dy * dy;
            ssr += e * e;
        }
    (void)sxy;
    df = m - 2;
    out->slope = slope;
    out->intercept = icpt;
    out->r2 = sst > 0 ? 1 - ssr / sst : 1;
    if (df > 0) {
        double s2 = ssr / (double)df;
        double hs = (t = afd_t975(df)) * sqrt(s2 / sxx);
        double hi = t * sqrt(s2 * (1.0 / (double)m + xb * xb / sxx));

        out->resid_sd = sqrt(s2);
        out->slope_lo = slope - hs;
        out->slope_hi = slope + hs;
        out->intercept_lo = icpt - hi;
        out->intercept_hi = icpt + hi;
    } else {
        out->resid_sd = out->slope_lo = out->slope_hi = NAN;
        out->intercept_lo = out->intercept_hi = NAN;
    }

    if (out->x_max - out->x_min < 0.2 * out->x_max)
        out->warnings |= AFD_FIT_WARN_NARROW_RANGE;
    if (df <= 3)
        out->warnings |= AFD_FIT_WARN_FEW_POINTS;
    if (interval_wide(slope, out->slope_lo, out->slope_hi))
        out->warnings |= AFD_FIT_WARN_SLOPE;
    if (interval_wide(icpt, out->intercept_lo, out->intercept_hi))
        out->warnings |= AFD_FIT_WARN_INTERCEPT;
    /* A profile's coefficients are >= 0; a negative one is noise around 0. */
    if (out->slope < 0) {
        out->slope = 0;
        out->warnings |= AFD_FIT_WARN_CLAMPED;
    }
    if (out->intercept < 0) {
        out->intercept = 0;
        out->warnings |= AFD_FIT_WARN_CLAMPED;
    }
    return AFD_OK;
}

int afd_fit_profile(const struct afd_fit_point *const pts[AFD_STAGE_COUNT],
                    const size_t n[AFD_STAGE_COUNT], double *work,
                    const char *name, const char *provenance,
                    enum afd_comm_mode mode, struct afd_profile *out,
                    struct afd_stage_fit fits[AFD_STAGE_COUNT], char *err)
{
    int i, rc;

    for (i = 0; i < AFD_STAGE_COUNT; i++) {
        rc = afd_fit_stage(pts[i], n[i], work, stage_names[i], &fits[i], err);
        if (rc != AFD_OK)
            return rc;
    }
    memset(out, 0, sizeof(*out));
    snprintf(out->name, sizeof(out->name), "%s", name);
    snprintf(out->provenance, sizeof(out->provenance), "%s",
             provenance ? provenance : "");
    out->aA = fits[AFD_STAGE_ATTENTION].slope;
    out->bA = fits[AFD_STAGE_ATTENTION].intercept;
    out->aC = fits[AFD_STAGE_COMMUNICATION].slope;
    out->bC = fits[AFD_STAGE_COMMUNICATION].intercept;
    out->aF = fits[AFD_STAGE_FFN].slope;
    out->bF = fits[AFD_STAGE_FFN].intercept;
    out->comm_mode = mode;
    if (!(out->aA > 0) || !(out->aF > 0))
        return afd_err(err, AFD_EINVAL,
                       "stage %s: fitted slope is not > 0 (the solver divides "
                       "by it); measure over a wider token range",
                       out->aA > 0 ? "ffn" : "attention");
    return afd_profile_validate(out, err);
}
