/*
 * comm_mode.c - the communication mode from the deployment's own moves
 * (comm_mode.h).
 */
#include "estimator/comm_mode.h"

#include <math.h>
#include <string.h>

#include "estimator/base/error.h"

void afd_comm_mode_config_default(struct afd_comm_mode_config *c)
{
    c->min_move = 0.2;
    c->b_still = 0.02;
    c->agg_rel = 0.25;
    c->pi_rel = 0.05;
}

void afd_comm_mode_init(struct afd_comm_mode_tracker *m,
                        const struct afd_comm_mode_config *cfg,
                        enum afd_comm_mode prior)
{
    memset(m, 0, sizeof(*m));
    m->cfg = *cfg;
    m->prior = prior;
    m->mode = prior;
}

static void set_ref(struct afd_comm_mode_tracker *m, double b, double rb,
                    double ms)
{
    m->have_ref = true;
    m->ref_b = b;
    m->ref_rb = rb;
    m->ref_ms = ms;
}

bool afd_comm_mode_observe(struct afd_comm_mode_tracker *m, double b, double rb,
                           double ms)
{
    double move, moved;

    if (!(isfinite(b) && isfinite(rb) && isfinite(ms)) || !(b > 0) ||
        !(rb > 0) || !(ms > 0))
        return false;
    if (!m->have_ref) {
        set_ref(m, b, rb, ms);
        return false;
    }
    move = (rb - m->ref_rb) / m->ref_rb;
    if (fabs(b - m->ref_b) > m->cfg.b_still * m->ref_b) {
        /* B moved: both modes' tokens moved, nothing to tell apart. */
        set_ref(m, b, rb, ms);
        return false;
    }
    if (fabs(move) < m->cfg.min_move)
        return false; /* keep the older reference: moves add up */
    /* Relative comm move per relative r*B move; 1 = all per-token time. */
    moved = ((ms - m->ref_ms) / m->ref_ms) / move;
    m->tests++;
    if (moved >= m->cfg.agg_rel) {
        m->identified = true;
        m->mode = AFD_COMM_AGGREGATE;
        m->slope = (ms - m->ref_ms) / (rb - m->ref_rb);
        m->intercept = fmax(0.0, ms - m->slope * rb);
    } else if (fabs(moved) <= m->cfg.pi_rel) {
        m->identified = true;
        m->mode = AFD_COMM_PER_INSTANCE;
        m->slope = 0;
        m->intercept = ms;
    }
    set_ref(m, b, rb, ms);
    return true;
}

bool afd_comm_mode_apply(const struct afd_comm_mode_tracker *m,
                         struct afd_profile *p)
{
    if (!m->identified || m->mode == p->comm_mode)
        return false;
    p->comm_mode = m->mode;
    p->aC = m->slope;
    p->bC = m->intercept;
    return true;
}

void afd_comm_mode_alternative(const struct afd_profile *p, double b, double rb,
                               bool split_known, struct afd_profile *out)
{
    bool agg = p->comm_mode == AFD_COMM_AGGREGATE;
    double n_now = agg ? rb : b, n_alt = agg ? b : rb;
    double t_now = p->aC * n_now + p->bC;

    *out = *p;
    out->comm_mode = agg ? AFD_COMM_PER_INSTANCE : AFD_COMM_AGGREGATE;
    out->bC = split_known ? fmin(p->bC, t_now) : 0;
    out->aC = n_alt > 0 ? (t_now - out->bC) / n_alt : 0;
}

void afd_comm_mode_export(const struct afd_comm_mode_tracker *m,
                          struct afd_comm_mode_learnt *out)
{
    *out = (struct afd_comm_mode_learnt){m->identified, m->mode,     m->slope,
                                         m->intercept,  m->have_ref, m->ref_b,
                                         m->ref_rb,     m->ref_ms,   m->tests};
}

int afd_comm_mode_import(struct afd_comm_mode_tracker *m,
                         const struct afd_comm_mode_learnt *in, char *err)
{
    if (in->mode != AFD_COMM_PER_INSTANCE && in->mode != AFD_COMM_AGGREGATE)
        return afd_err(err, AFD_EINVAL, "comm mode: mode %d is not a mode",
                       (int)in->mode);
    if (!isfinite(in->slope) || in->slope < 0 || !isfinite(in->intercept) ||
        in->intercept < 0)
        return afd_err(err, AFD_EINVAL,
                       "comm mode: line %g ms/token + %g ms must be finite "
                       "and >= 0",
                       in->slope, in->intercept);
    if (in->have_ref &&
        !(in->ref_b > 0 && in->ref_rb > 0 && in->ref_ms > 0 &&
          isfinite(in->ref_b) && isfinite(in->ref_rb) && isfinite(in->ref_ms)))
        return afd_err(err, AFD_EINVAL,
                       "comm mode: reference point B %g, r*B %g, %g ms must "
                       "be finite and > 0",
                       in->ref_b, in->ref_rb, in->ref_ms);
    m->identified = in->identified;
    m->mode = in->identified ? in->mode : m->prior;
    m->slope = in->slope;
    m->intercept = in->intercept;
    m->have_ref = in->have_ref;
    m->ref_b = in->ref_b;
    m->ref_rb = in->ref_rb;
    m->ref_ms = in->ref_ms;
    m->tests = in->tests;
    return AFD_OK;
}
