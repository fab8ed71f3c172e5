/*
 * shift.c - two-sided CUSUM shift detection on step samples (shift.h).
 *
 * Why CUSUM: it is the optimal sequential test for a mean change of known
 * size (Lorden), and with k = 1 and h = 12 on a unit-variance Gaussian
 * stream its false-alarm run length is astronomically long (far beyond a
 * day of 40 ms steps), while a shift of d standard units fires after about
 * h / (d - k) samples: a 2x load change at 5% noise (d = 20) in one sample.
 * The baseline learns from every sample (EWMA over tau_s seconds), so a
 * slow drift moves the baseline instead of accumulating in the CUSUM; a
 * real step fires within a few samples, long before tau_s moves it. (It
 * once learnt only while the CUSUM sat at zero: that kept the small
 * deviations and dropped the large ones, so the variance came out low and
 * a noisy channel fired on its own noise.) During the warmup the CUSUM
 * stays at zero: the baseline is not known yet.
 */
#include "estimator/shift.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "estimator/base/error.h"

void afd_shift_config_default(struct afd_shift_config *cfg)
{
    assert(cfg);
    cfg->tau_s = 2.0;
    cfg->k = 1.0;
    cfg->h = 12.0;
    cfg->min_rel = 0.05;
    cfg->warmup = 20;
}

int afd_shift_init(struct afd_shift *s, const struct afd_shift_config *cfg,
                   char *err)
{
    struct afd_shift_config def;

    assert(s);
    if (!cfg) {
        afd_shift_config_default(&def);
        cfg = &def;
    }
    if (!(cfg->tau_s > 0 && isfinite(cfg->tau_s)))
        return afd_err(err, AFD_EINVAL,
                       "shift tau_s must be finite and > 0, got %g",
                       cfg->tau_s);
    if (!(cfg->k >= 0 && isfinite(cfg->k)))
        return afd_err(err, AFD_EINVAL,
                       "shift k must be finite and >= 0, got %g", cfg->k);
    if (!(cfg->h > 0 && isfinite(cfg->h)))
        return afd_err(err, AFD_EINVAL,
                       "shift h must be finite and > 0, got %g", cfg->h);
    if (!(cfg->min_rel >= 0 && isfinite(cfg->min_rel)))
        return afd_err(err, AFD_EINVAL,
                       "shift min_rel must be finite and >= 0, got %g",
                       cfg->min_rel);
    if (cfg->warmup < 2)
        return afd_err(err, AFD_EINVAL, "shift warmup must be >= 2, got %u",
                       (unsigned)cfg->warmup);
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    s->last_t = -1;
    s->last_channel = -1;
    return AFD_OK;
}

/*
 * The channel's sample interval, measured over windows of tau_s / 4: a
 * fleet sends its instances' samples in bursts at one instant, so the gap
 * between two samples says nothing; the count over a window does.
 */
static void pace(const struct afd_shift_config *cfg,
                 struct afd_shift_channel *c, double t)
{
    if (c->wn == 0 || t < c->t0) {
        c->t0 = t;
        c->wn = 0;
    }
    if (t - c->t0 >= cfg->tau_s / 4) {
        c->dt = (t - c->t0) / c->wn;
        c->t0 = t;
        c->wn = 0;
    }
    c->wn++;
}

/*
 * Welford-then-EWMA: exact mean/variance over the warmup (and until the
 * sample interval is known), then an EWMA whose weight per sample,
 * 1 - exp(-dt/tau_s), makes its time constant tau_s seconds whatever the
 * sample rate.
 */
static void learn(const struct afd_shift_config *cfg,
                  struct afd_shift_channel *c, double x)
{
    double a = c->n < cfg->warmup || !(c->dt > 0) ? 1.0 / (c->n + 1)
                                                  : -expm1(-c->dt / cfg->tau_s);
    double d = x - c->mean;

    c->mean += a * d;
    c->var = (1 - a) * (c->var + a * d * d);
    c->n++;
}

int afd_shift_add(struct afd_shift *s, int channel, double t, double x,
                  char *err)
{
    struct afd_shift_channel *c;
    double scale, z;
    int dir = 0;

    assert(s);
    if (channel < 0 || channel >= AFD_SHIFT_CHANNELS)
        return afd_err(err, AFD_EINVAL,
                       "shift channel must be in [0, %d), got %d",
                       AFD_SHIFT_CHANNELS, channel);
    if (!isfinite(x) || !isfinite(t))
        return afd_err(err, AFD_EINVAL,
                       "shift sample must be finite, got x = %g at t = %g", x,
                       t);
    c = &s->ch[channel];
    pace(&s->cfg, c, t);
    if (c->n < s->cfg.warmup) {
        learn(&s->cfg, c, x);
        return 0;
    }
    scale = fmax(sqrt(c->var), s->cfg.min_rel * fabs(c->mean));
    if (!(scale > 0)) /* constant zero signal so far: any change is news */
        scale = 1e-300;
    z = (x - c->mean) / scale;
    c->up = fmax(0.0, c->up + z - s->cfg.k);
    c->down = fmax(0.0, c->down - z - s->cfg.k);
    if (c->up > s->cfg.h)
        dir = 1;
    else if (c->down > s->cfg.h)
        dir = -1;
    if (!dir) {
        learn(&s->cfg, c, x);
        return 0;
    }
    s->shifts++;
    s->last_t = t;
    s->last_channel = channel;
    s->last_direction = dir;
    s->last_baseline = c->mean;
    s->last_value = x;
    s->fired[channel]++;
    s->fired_t[channel] = t;
    /* Only this channel re-learns (keeping its pace): a noisy channel that
     * fires often must not keep the others in warm-up, blind. */
    c->mean = c->var = c->up = c->down = 0;
    c->n = 0;
    learn(&s->cfg, c, x);
    return 1;
}
