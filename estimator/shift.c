/*
 * shift.c - two-sided CUSUM shift detection on step samples (shift.h).
 *
 * Why CUSUM: it is the optimal sequential test for a mean change of known
 * size (Lorden), and with k = 1 and h = 12 on a unit-variance Gaussian
 * stream its false-alarm run length is astronomically long (far beyond a
 * day of 40 ms steps), while a shift of d standard units fires after about
 * h / (d - k) samples: a 2x load change at 5% noise (d = 20) in one sample.
 * The baseline keeps learning (EWMA) while no alarm is pending, so a slow
 * drift moves the baseline instead of accumulating in the CUSUM. During the
 * warmup the CUSUM stays at zero: the baseline is not known yet.
 */
#include "estimator/shift.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "estimator/base/error.h"

void afd_shift_config_default(struct afd_shift_config *cfg)
{
    assert(cfg);
    cfg->alpha = 0.02;
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
    if (!(cfg->alpha > 0 && cfg->alpha < 1))
        return afd_err(err, AFD_EINVAL, "shift alpha must be in (0, 1), got %g",
                       cfg->alpha);
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

/* Welford-then-EWMA: exact mean/variance over the warmup, EWMA after. */
static void learn(const struct afd_shift_config *cfg,
                  struct afd_shift_channel *c, double x)
{
    double a = c->n < cfg->warmup ? 1.0 / (c->n + 1) : cfg->alpha;
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
    int i, dir = 0;

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
        if (c->up == 0 && c->down == 0)
            learn(&s->cfg, c, x);
        return 0;
    }
    s->shifts++;
    s->last_t = t;
    s->last_channel = channel;
    s->last_direction = dir;
    s->last_baseline = c->mean;
    s->last_value = x;
    for (i = 0; i < AFD_SHIFT_CHANNELS; i++)
        memset(&s->ch[i], 0, sizeof(s->ch[i]));
    learn(&s->cfg, c, x);
    return 1;
}
