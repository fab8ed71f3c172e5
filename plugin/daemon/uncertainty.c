/*
 * uncertainty.c - the 95% half-width of a recommendation's expected gain
 * (recommend_model.h): theta's interval, the spread's sample size and the
 * calibration's error ellipses, each moved through the model.
 */
#include <math.h>

#include "estimator/calib.h"
#include "plugin/daemon/recommend_model.h"

/*
 * The 95% half-width of the expected gain. Per stage, the calibration's
 * (slope, intercept) error ellipse (calib.h's afd_calib_fits covariance):
 * the line moved along each principal axis by its 95% half-length, the
 * gain's changes combined in quadrature over the axes and stages, and
 * with theta moved by its own 95% half-width (theta_hw). Axes,
 * not each coefficient alone: after the load moves a little, slope and
 * intercept are each uncertain but tightly tied (the time near the
 * measured loads is known); moving one alone would claim an uncertainty
 * the data rule out, and block every move for as long as it lasts.
 * Stages whose coefficients the data have not identified are the prior,
 * not noise: they are left out (counting their +-100% would forbid every
 * move, and only moves identify them); so is the comm line the comm-mode
 * tracker replaced (recommend's own, not the calibration's).
 */
/* The squared change of the gain from x to m's target, from g0, when the
 * model's input is `in` instead of m's (0 when either is not positive). */
static double gain_change2(const struct afd_model *m,
                           const struct afd_solve_input *in, int x, double g0)
{
    double t = afd_model_throughput(in, m->barrier, m->target);
    double u = afd_model_throughput(in, m->barrier, x);

    return t > 0 && u > 0 ? (t / u - 1 - g0) * (t / u - 1 - g0) : 0;
}

double afd_gain_uncertainty(const struct afd_deployment *d,
                            const struct afd_model *m,
                            const struct afd_recommendation *rec,
                            double theta_hw)
{
    const double cur =
        afd_model_throughput(&m->in, m->barrier, rec->attention_instances);
    struct afd_calib_fit fits[3];
    double g0, acc = 0;
    int st;

    if (!(cur > 0) || !(m->thr_target > 0))
        return 0;
    g0 = m->thr_target / cur - 1;
    if (theta_hw > 0) {
        /* theta's own 95% half-width: a few instances' mean load is noisy,
         * and near a steep r* one instance more or less is all noise. */
        struct afd_solve_input in = m->in;

        in.theta += theta_hw;
        acc += gain_change2(m, &in, rec->attention_instances, g0);
    }
    if (m->in.has_load_spread && d->spread_n >= 2) {
        /* The spread is a sample sd of spread_n loads: 95% relative
         * half-width about 1.96 / sqrt(2 (n - 1)). Near the cliff the
         * barrier term decides between two counts, and with 10 instances
         * one cross-section's sd is +-46%. */
        struct afd_solve_input in = m->in;

        in.load_spread *= 1 + 1.96 / sqrt(2 * (d->spread_n - 1));
        acc += gain_change2(m, &in, rec->attention_instances, g0);
    }
    afd_calib_fits(d->calib, fits);
    for (st = 0; st < 3; st++) {
        const struct afd_calib_fit *fit = &fits[st];
        double va, vb, cab, tr, det, disc, lam[2];
        int k;

        if (!rec->calib.identified[2 * st] &&
            !rec->calib.identified[2 * st + 1])
            continue;
        if (st == 1 && rec->comm_mode_identified &&
            m->profile.comm_mode != d->cfg.profile.comm_mode)
            continue;
        va = fit->var[0];
        cab = fit->var[1];
        vb = fit->var[2];
        tr = va + vb;
        det = va * vb - cab * cab;
        disc = sqrt(fmax(0.0, tr * tr / 4 - det));
        lam[0] = tr / 2 + disc;
        lam[1] = fmax(0.0, tr / 2 - disc);
        for (k = 0; k < 2; k++) {
            struct afd_profile p = m->profile;
            struct afd_solve_input in = m->in;
            double *c[3][2] = {{&p.aA, &p.bA}, {&p.aC, &p.bC}, {&p.aF, &p.bF}};
            double ex, ey, n, h;

            if (!(lam[k] > 0))
                continue;
            /* Eigenvector of [[va, cab], [cab, vb]] for lam[k]. */
            if (fabs(cab) > 0) {
                ex = lam[k] - vb;
                ey = cab;
            } else {
                ex = (va >= vb) == (k == 0);
                ey = !ex;
            }
            n = hypot(ex, ey);
            if (!(n > 0))
                continue;
            h = 1.96 * sqrt(lam[k]);
            *c[st][0] += h * ex / n;
            *c[st][1] += h * ey / n;
            if (*c[st][0] < 0)
                *c[st][0] = 0;
            if (*c[st][1] < 0)
                *c[st][1] = 0;
            in.profile = &p;
            acc += gain_change2(m, &in, rec->attention_instances, g0);
        }
    }
    return sqrt(acc);
}
