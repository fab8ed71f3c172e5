/*
 * workload.c - streaming theta/sigma with exponential forgetting
 * (model.md section 3).
 *
 * SYNOPSIS
 *     afd_workload_add(w, P, D)  accumulates, per request,
 *         weight 1, P, D, D*P + D(D-1)/2, D*P^2 + P*D(D-1) + D(D-1)(2D-1)/6
 *     theta = S_theta / S_d,  sigma^2 = S_m2 / S_d - theta^2
 *
 * FORGETTING WITHOUT DECAYING EVERY SUM
 *     With decay q = 2^(-1/h), request i (0-based) of n carries weight
 *     q^(n-1-i). Rather than multiplying five sums by q on every add, request
 *     i is added with weight g_i = q^-i (g grows by 1/q per add) and every
 *     reported quantity divides by g_{n-1}: the ratios theta and sigma need no
 *     division at all. When g passes 2^64 all sums and g are multiplied by a
 *     power of two, which is exact in binary floating point, so the
 *     renormalisation adds no rounding (until old terms reach the subnormal
 *     range, where their weight is below 2^-1000 and irrelevant). 1/q is
 *     rounded to double once, so the half-life is exact to 1e-16 relative.
 *
 * ACCURACY
 *     Each sum is a double-double (hi + lo, TwoSum per add: about 106 bits),
 *     so summation error does not grow with the number of requests. Each
 *     per-request term is one double (exact for integer token counts below
 *     2^53 without forgetting, else 2^-53 relative). Results are formed in
 *     long double: sigma^2 = m2 - theta^2 cancels about log2(theta^2/sigma^2)
 *     bits of 64, leaving > 40 for theta/sigma < 1e3. Measured in
 *     tests/test_trace.c against an independent long double computation on
 *     five real traces (agreement to 1e-12 relative asserted), and in
 *     tests/test_workload.c on hand-checked exact cases.
 *     Speed: double-double in SSE2 registers, no x87 long double on the update
 *     path (bench-estimator reports workload_update_ns).
 *
 * DOMAIN
 *     prompt finite >= 0, decode finite >= 1, else AFD_EINVAL, state unchanged.
 *     sigma^2 is clamped at 0 against rounding when all loads are equal.
 */
#include "estimator/workload.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>

#include "estimator/base/error.h"

/* Renormalise when the running weight passes 2^64: far from overflow (terms
 * up to ~2^50 times ~h/ln2 requests stay far below 2^1024) and rare (every
 * 64*h adds). */
#define RENORM_LIMIT 18446744073709551616.0

/* An unevaluated sum hi + lo, |lo| <= ulp(hi)/2: about 106 bits. */
struct dd {
    double hi;
    double lo;
};

struct afd_workload {
    double half_life;
    double growth; /* 1/q = 2^(1/h), rounded; 1 without forgetting */
    double g;      /* weight of the newest request */
    uint64_t requests;
    struct dd s_w, s_p, s_d, s_theta, s_m2, s_pd;
};

/*
 * Adds t to s exactly up to the final rounding of lo (Knuth's TwoSum, no
 * ordering condition on |hi| and |t|). Needs strict IEEE double evaluation,
 * which x86-64 SSE2 gives without -ffast-math.
 */
static inline void dd_add(struct dd *s, double t)
{
    double sum = s->hi + t;
    double bv = sum - s->hi;
    double err = (s->hi - (sum - bv)) + (t - bv);

    s->hi = sum;
    s->lo += err;
}

static long double dd_value(struct dd s)
{
    return (long double)s.hi + s.lo;
}

static void dd_scale(struct dd *s, int e)
{
    s->hi = ldexp(s->hi, e);
    s->lo = ldexp(s->lo, e);
}

static void workload_clear(struct afd_workload *w)
{
    /* First add multiplies by growth, so the first request gets weight 1. */
    static const struct dd zero = {0, 0};

    w->g = 1.0 / w->growth;
    w->requests = 0;
    w->s_w = w->s_p = w->s_d = w->s_theta = w->s_m2 = w->s_pd = zero;
}

static int check_half_life(double half_life, char *err)
{
    if (!isfinite(half_life) || half_life < 0)
        return afd_err(err, AFD_EINVAL,
                       "workload half-life must be finite and >= 0 requests, "
                       "got %g",
                       half_life);
    return AFD_OK;
}

static void set_half_life(struct afd_workload *w, double half_life)
{
    w->half_life = half_life;
    w->growth = half_life > 0 ? exp2(1.0 / half_life) : 1.0;
}

struct afd_workload *afd_workload_new(double half_life, char *err)
{
    struct afd_workload *w;

    if (check_half_life(half_life, err) < 0)
        return NULL;
    w = calloc(1, sizeof(*w));
    if (!w) {
        afd_err(err, AFD_ENOMEM, "cannot allocate workload estimator");
        return NULL;
    }
    set_half_life(w, half_life);
    workload_clear(w);
    return w;
}

void afd_workload_free(struct afd_workload *w)
{
    free(w);
}

/* Scale everything by 2^-e so that g falls in [0.5, 1); exact. */
static void renormalise(struct afd_workload *w)
{
    int e;

    frexp(w->g, &e);
    w->g = ldexp(w->g, -e);
    dd_scale(&w->s_w, -e);
    dd_scale(&w->s_p, -e);
    dd_scale(&w->s_d, -e);
    dd_scale(&w->s_theta, -e);
    dd_scale(&w->s_m2, -e);
    dd_scale(&w->s_pd, -e);
}

int afd_workload_add(struct afd_workload *w, double prompt, double decode,
                     char *err)
{
    double dm, g;

    assert(w);
    if (!isfinite(prompt) || prompt < 0)
        return afd_err(err, AFD_EINVAL,
                       "workload prompt must be finite and >= 0 tokens, got "
                       "%g",
                       prompt);
    if (!isfinite(decode) || decode < 1)
        return afd_err(err, AFD_EINVAL,
                       "workload decode must be finite and >= 1 tokens, got "
                       "%g",
                       decode);
    dm = decode * (decode - 1); /* D(D-1), even for integer D */
    g = w->g * w->growth;
    w->g = g;
    w->requests++;
    dd_add(&w->s_w, g);
    dd_add(&w->s_p, g * prompt);
    dd_add(&w->s_d, g * decode);
    dd_add(&w->s_theta, g * (decode * prompt + 0.5 * dm));
    dd_add(&w->s_pd, g * decode * prompt);
    dd_add(&w->s_m2, g * (decode * prompt * prompt + prompt * dm +
                          dm * (2 * decode - 1) / 6));
    if (g > RENORM_LIMIT)
        renormalise(w);
    return AFD_OK;
}

int afd_workload_stats(const struct afd_workload *w,
                       struct afd_workload_stats *out, char *err)
{
    long double sw, sd, theta, var;

    assert(w && out);
    sw = dd_value(w->s_w);
    if (w->requests == 0 || sw <= 0)
        return afd_err(err, AFD_EEMPTY,
                       "workload estimate needs at least one request, got 0");
    sd = dd_value(w->s_d);
    theta = dd_value(w->s_theta) / sd;
    var = dd_value(w->s_m2) / sd - theta * theta;
    out->requests = w->requests;
    out->effective_requests = (double)(sw / w->g);
    out->theta = (double)theta;
    out->sigma = var > 0 ? (double)sqrtl(var) : 0.0;
    out->mean_prompt = (double)(dd_value(w->s_p) / sw);
    out->mean_decode = (double)(sd / sw);
    out->mean_residual =
        (double)((dd_value(w->s_theta) - dd_value(w->s_pd)) / sd);
    if (out->mean_residual < 0) /* rounding */
        out->mean_residual = 0;
    return AFD_OK;
}

void afd_workload_reset(struct afd_workload *w)
{
    assert(w);
    workload_clear(w);
}

void afd_workload_export(const struct afd_workload *w,
                         struct afd_workload_state *out)
{
    assert(w && out);
    out->half_life = w->half_life;
    out->requests = w->requests;
    if (w->requests == 0) {
        out->weight = out->sum_p = out->sum_d = 0;
        out->sum_theta = out->sum_m2 = out->sum_pd = 0;
        return;
    }
    /* Decayed sums: the newest request has weight 1. */
    out->weight = (double)(dd_value(w->s_w) / w->g);
    out->sum_p = (double)(dd_value(w->s_p) / w->g);
    out->sum_d = (double)(dd_value(w->s_d) / w->g);
    out->sum_theta = (double)(dd_value(w->s_theta) / w->g);
    out->sum_m2 = (double)(dd_value(w->s_m2) / w->g);
    out->sum_pd = (double)(dd_value(w->s_pd) / w->g);
}

static int check_sum(const char *field, double v, char *err)
{
    if (!isfinite(v) || v < 0)
        return afd_err(err, AFD_EINVAL,
                       "workload state field '%s' must be finite and >= 0, "
                       "got %g",
                       field, v);
    return AFD_OK;
}

/*
 * A state is consistent when every number is finite and >= 0, it is empty
 * exactly when requests == 0, and the sums obey the bounds every real
 * history satisfies: weight <= requests, sum_d >= weight (D >= 1) and
 * m2 >= theta^2 (a variance is >= 0), the last two up to rounding.
 */
static int check_state(const struct afd_workload_state *s, char *err)
{
    const double slack = 1e-9; /* relative, far above double rounding */
    int rc;

    if ((rc = check_half_life(s->half_life, err)) < 0 ||
        (rc = check_sum("weight", s->weight, err)) < 0 ||
        (rc = check_sum("sum_p", s->sum_p, err)) < 0 ||
        (rc = check_sum("sum_d", s->sum_d, err)) < 0 ||
        (rc = check_sum("sum_theta", s->sum_theta, err)) < 0 ||
        (rc = check_sum("sum_m2", s->sum_m2, err)) < 0 ||
        (rc = check_sum("sum_pd", s->sum_pd, err)) < 0)
        return rc;
    if (s->requests == 0) {
        if (s->weight != 0 || s->sum_p != 0 || s->sum_d != 0 ||
            s->sum_theta != 0 || s->sum_m2 != 0 || s->sum_pd != 0)
            return afd_err(err, AFD_EINVAL,
                           "workload state has 0 requests but weight %g",
                           s->weight);
        return AFD_OK;
    }
    if (s->weight <= 0 || s->weight > (double)s->requests * (1 + slack))
        return afd_err(err, AFD_EINVAL,
                       "workload state weight must be in (0, requests = "
                       "%llu], got %g",
                       (unsigned long long)s->requests, s->weight);
    if (s->sum_d < s->weight * (1 - slack))
        return afd_err(err, AFD_EINVAL,
                       "workload state sum_d must be >= weight %g (decode "
                       ">= 1), got %g",
                       s->weight, s->sum_d);
    if ((long double)s->sum_m2 * s->sum_d <
        (long double)s->sum_theta * s->sum_theta * (1 - slack))
        return afd_err(err, AFD_EINVAL,
                       "workload state sum_m2 %g is below sum_theta^2/sum_d "
                       "(negative variance)",
                       s->sum_m2);
    if (s->sum_pd > s->sum_theta * (1 + slack))
        return afd_err(err, AFD_EINVAL,
                       "workload state sum_pd %g is above sum_theta %g "
                       "(D(D-1)/2 >= 0)",
                       s->sum_pd, s->sum_theta);
    return AFD_OK;
}

int afd_workload_import(struct afd_workload *w,
                        const struct afd_workload_state *in, char *err)
{
    int rc;

    assert(w && in);
    if ((rc = check_state(in, err)) < 0)
        return rc;
    set_half_life(w, in->half_life);
    workload_clear(w);
    if (in->requests == 0)
        return AFD_OK;
    w->g = 1.0;
    w->requests = in->requests;
    w->s_w.hi = in->weight;
    w->s_p.hi = in->sum_p;
    w->s_d.hi = in->sum_d;
    w->s_theta.hi = in->sum_theta;
    w->s_m2.hi = in->sum_m2;
    w->s_pd.hi = in->sum_pd;
    if (in->sum_pd == 0 && in->sum_p > 0) {
        /* A state from before sum_pd was kept: taken as geometric,
         * sum D(D-1)/2 = sum_d (mean_decode - 1). */
        double dd = in->sum_d * (in->sum_d / in->weight - 1);

        w->s_pd.hi = fmax(0.0, in->sum_theta - dd);
    }
    return AFD_OK;
}

/*
 * Geometric closed form (model.md section 3). With D ~ Geo(p) on {1, ...}
 * independent of P, the age of a slot at a random step is geometric on
 * {0, 1, ...} with the same p, mean (1-p)/p = mean_decode - 1 and variance
 * (1-p)/p^2 = (mean_decode - 1) * mean_decode; the load is P + age.
 */
int afd_workload_geometric(double mean_prompt, double var_prompt,
                           double mean_decode, double *theta, double *sigma,
                           char *err)
{
    assert(theta && sigma);
    if (!isfinite(mean_prompt) || mean_prompt < 0)
        return afd_err(err, AFD_EINVAL,
                       "mean prompt must be finite and >= 0, got %g",
                       mean_prompt);
    if (!isfinite(var_prompt) || var_prompt < 0)
        return afd_err(err, AFD_EINVAL,
                       "prompt variance must be finite and >= 0, got %g",
                       var_prompt);
    if (!isfinite(mean_decode) || mean_decode < 1)
        return afd_err(err, AFD_EINVAL,
                       "mean decode must be finite and >= 1, got %g",
                       mean_decode);
    *theta = mean_prompt + (mean_decode - 1);
    *sigma = sqrt(var_prompt + (mean_decode - 1) * mean_decode);
    return AFD_OK;
}

/* Two-pass in long double: the mean first, then squared deviations, so no
 * cancellation between sum x^2 and (sum x)^2. */
int afd_load_spread(const double *loads, size_t n, double *mean, double *sd,
                    char *err)
{
    long double sum = 0, ss = 0, m;
    size_t i;

    assert(mean && sd);
    if (n == 0 || !loads)
        return afd_err(err, AFD_EINVAL,
                       "load spread needs at least one load, got %zu", n);
    for (i = 0; i < n; i++) {
        if (!isfinite(loads[i]) || loads[i] < 0)
            return afd_err(err, AFD_EINVAL,
                           "load %zu must be finite and >= 0 tokens, got %g", i,
                           loads[i]);
        sum += loads[i];
    }
    m = sum / n;
    for (i = 0; i < n; i++)
        ss += (loads[i] - m) * (loads[i] - m);
    *mean = (double)m;
    *sd = n > 1 ? (double)sqrtl(ss / (n - 1)) : 0.0;
    return AFD_OK;
}
