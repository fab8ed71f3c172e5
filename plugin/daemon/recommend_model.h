/*
 * recommend_model.h - the model one recommendation is computed on
 * (recommend.c): the solver's input and solution at the theta in use, the
 * target count and its throughput, and the 95% half-width of the gain
 * from the current count to it (uncertainty.c). Daemon-internal.
 */
#ifndef AFD_RECOMMEND_MODEL_H
#define AFD_RECOMMEND_MODEL_H

#include <stdbool.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/registry_internal.h"

/* One model's answer: the solver's solution and its target count. */
struct afd_model {
    struct afd_profile profile;
    struct afd_solve_input in; /* in.profile points at profile */
    struct afd_solution sol;
    bool barrier; /* the barrier model has a spread: it sizes */
    int target;
    double thr_target;
    bool lean; /* target: band_target's lean move */
};

/* Model throughput at x Attention instances: barrier model when known. */
static inline double afd_model_throughput(const struct afd_solve_input *in,
                                          bool barrier, int x)
{
    double st, thr;

    if (barrier && afd_barrier_at(in, x, &st, &thr, NULL) == AFD_OK)
        return thr;
    return afd_throughput_at(in, (double)x / in->ffn_instances);
}

/*
 * The 95% half-width of rec's expected gain from its current count to m's
 * target, from theta's own half-width theta_hw (0: none), the spread's
 * sample size and the identified coefficients' calibration intervals
 * (uncertainty.c says how); 0 when either throughput is not positive.
 */
double afd_gain_uncertainty(const struct afd_deployment *d,
                            const struct afd_model *m,
                            const struct afd_recommendation *rec,
                            double theta_hw);

#endif
