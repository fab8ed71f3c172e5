/*
 * noise.c - a deployment's per-step stage noise: what the barrier model
 * charges for the step waiting on the slowest of noisy stages (solver.h,
 * stage_cv), read from the calibration and held through shifts. Declared
 * in registry_internal.h; called from recommend.c's solve, once per
 * recompute, before the model runs.
 */
#include <math.h>
#include <string.h>

#include "plugin/daemon/registry_internal.h"

/*
 * Per-step noise of each stage: the calibration's residual sd relative to
 * the time it predicts (afd_calib_report noise_cv), which the barrier
 * model turns into the expected max of noisy stages (solver.h, stage_cv):
 * on hardware with 15% per-step noise on every stage, the default day's
 * short-chat optimum moves from 30 instances to 17 (afd-sim). Below
 * AFD_NOISE_MIN it counts as none: a fit still settling leaves residuals
 * of that size (the FFN's read 0.8% 150 s into the default day, whose
 * hardware has no noise), and the model's own threshold is 2%.
 *
 * Noise is the hardware's, not the workload's, so it is measured in
 * steady state and held through shifts, our own moves and a re-fit
 * (noise_hold): while the fit catches up with a change, its residuals
 * carry the misfit (a drift of the attention stage by 25% read 12% on 5%
 * hardware for 40 s). An estimate replaces the one in use once it is
 * AFD_NOISE_DELAY_MS old and the deployment has been steady since it was
 * taken: no load-channel transient, no change of x and no stage whose
 * recent mean time is off its fit by more than AFD_NOISE_MISFIT (or half
 * its own noise) for AFD_NOISE_QUIET_MS (the shift detector fires a second
 * or two after the shift itself). Until the first one, the current
 * estimate.
 */
#define AFD_NOISE_MIN      0.02
#define AFD_NOISE_SAMPLES  64 /* per stage, before its residuals count */
#define AFD_NOISE_MISFIT   0.05
#define AFD_NOISE_QUIET_MS 30000
#define AFD_NOISE_DELAY_MS 5000

static void stage_noise(struct afd_recommendation *rec)
{
    int k;

    for (k = 0; k < AFD_REGIME_COUNT; k++) {
        double cv = rec->calib.noise_cv[k];

        rec->stage_cv[k] =
            rec->calib.samples[k] >= AFD_NOISE_SAMPLES && cv >= AFD_NOISE_MIN
                ? fmin(cv, AFD_MAX_STAGE_CV)
                : 0;
    }
}

/* A stage whose recent mean time is off its fit: a re-fit under way. */
static bool noise_misfit(const struct afd_deployment *d)
{
    struct afd_calib_fit fits[AFD_REGIME_COUNT];
    double t;
    int k;

    afd_calib_fits(d->calib, fits);
    for (k = 0; k < AFD_REGIME_COUNT; k++) {
        const struct afd_calib_fit *f = &fits[k];

        t = f->a * f->recent_load + f->b;
        if (f->recent_n >= AFD_NOISE_SAMPLES && t > 0 &&
            fabs(f->recent_ms / t - 1) >
                fmax(AFD_NOISE_MISFIT, 0.5 * d->rec.calib.noise_cv[k]))
            return true;
    }
    return false;
}

static void noise_hold(struct afd_deployment *d, int64_t now_ms)
{
    struct afd_recommendation *rec = &d->rec;
    bool steady;

    if (noise_misfit(d))
        d->noise_misfit_ms = now_ms;
    steady = !d->transient.active &&
             rec->theta_source == AFD_THETA_LIVE_LOADS &&
             now_ms - d->transient_start_ms >= AFD_NOISE_QUIET_MS &&
             now_ms - d->x_changed_ms >= AFD_NOISE_QUIET_MS &&
             now_ms - d->noise_misfit_ms >= AFD_NOISE_QUIET_MS;
    if (!steady) {
        d->noise_pending_ms = 0;
    } else if (d->noise_pending_ms == 0 ||
               now_ms - d->noise_pending_ms >= AFD_NOISE_DELAY_MS) {
        if (d->noise_pending_ms != 0) {
            memcpy(d->noise_cv, d->noise_pending, sizeof(d->noise_cv));
            d->noise_set = true;
        }
        memcpy(d->noise_pending, rec->stage_cv, sizeof(d->noise_pending));
        d->noise_pending_ms = now_ms;
    }
    if (d->noise_set)
        memcpy(rec->stage_cv, d->noise_cv, sizeof(rec->stage_cv));
}

void afd_deployment_stage_noise(struct afd_deployment *d, int64_t now_ms)
{
    stage_noise(&d->rec);
    noise_hold(d, now_ms);
}
