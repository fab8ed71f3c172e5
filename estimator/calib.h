/*
 * calib.h - online calibration of the latency coefficients (model.md 7).
 *
 * Three independent two-parameter fits, one per stage, each by recursive
 * least squares with forgetting:
 *     attention:  ms = aA*T + bA      T = token load of one instance
 *     comm:       ms = aC*n + bC      n = B or r*B per the profile's mode
 *     ffn:        ms = aF*n + bF      n = tokens reaching one FFN instance
 * Each fit starts at the configured profile (the prior) with a prior
 * covariance worth `prior_weight` pseudo-samples placed at +-s tokens, s being
 * the stage's characteristic load (the power of two nearest b/a; calib.c
 * gives the exact rule). Each stage also tracks its residual variance, so
 * the report gives every coefficient a 95% confidence half-width (RLS
 * covariance scaled by that variance). Forgetting pulls the information back
 * toward the prior's, never below it, so the covariance never exceeds the
 * prior's (no windup when the data stop moving). Identifiability: at a fixed
 * ratio the FFN sees an almost constant n, so only a*n + b is learned, not a
 * and b apart. A coefficient counts as calibrated only when its posterior
 * variance has fallen below `calibrated_ratio` times its prior variance; with
 * all data at one load and a ratio <= 0.5 at most one of the pair can pass
 * (which one depends on the load against s), the other is reported as prior.
 * Reported values are the fit's mean, calibrated or not (an uncalibrated one
 * may have moved from its prior value: the fit makes a*x + b match the data
 * at the loads observed), except for a stage the data have identified (see
 * `identified`): its pair is the data's own least-squares line, with no
 * pull from the prior left in it. Values are clamped to at
 * least 0, aA and aF to at least 1e-6 times their prior, so the profile stays
 * valid for the solver.
 *
 * Ownership: afd_calib_new / afd_calib_free (NULL ok). Updates never allocate.
 * One owner; not thread-safe.
 */
#ifndef AFD_CALIB_H
#define AFD_CALIB_H

#include <stdbool.h>
#include <stdint.h>

#include "estimator/profile.h"

enum afd_coef {
    AFD_COEF_AA = 0,
    AFD_COEF_BA,
    AFD_COEF_AC,
    AFD_COEF_BC,
    AFD_COEF_AF,
    AFD_COEF_BF,
};
#define AFD_COEF_COUNT 6

/* "aA", "bA", ... for messages and metric labels. */
const char *afd_coef_name(enum afd_coef c);

struct afd_calib_config {
    double forgetting;       /* lambda in (0, 1]; 1 = never forget */
    double prior_weight;     /* pseudo-samples behind the prior, > 0 */
    double calibrated_ratio; /* in (0, 1): posterior/prior variance bound */
};

/* Defaults: forgetting 0.999, prior_weight 10, calibrated_ratio 0.1. */
void afd_calib_config_default(struct afd_calib_config *cfg);

struct afd_calib;

/*
 * Creates a calibrator with `prior` (validated) as the starting profile;
 * cfg NULL means the defaults. NULL on invalid prior or config, with the
 * reason in err. Free with afd_calib_free.
 */
struct afd_calib *afd_calib_new(const struct afd_profile *prior,
                                const struct afd_calib_config *cfg, char *err);
void afd_calib_free(struct afd_calib *c);

/*
 * One measured stage time. x (tokens) and ms must be finite and >= 0;
 * AFD_EINVAL otherwise, with state unchanged. AFD_ERANGE, state unchanged,
 * if the update would overflow (magnitudes around 1e150).
 */
int afd_calib_add_attention(struct afd_calib *c, double load, double ms,
                            char *err);
int afd_calib_add_comm(struct afd_calib *c, double tokens, double ms,
                       char *err);
int afd_calib_add_ffn(struct afd_calib *c, double tokens, double ms, char *err);

struct afd_calib_report {
    double value[AFD_COEF_COUNT];    /* current coefficient */
    double prior[AFD_COEF_COUNT];    /* the configured profile's value */
    bool calibrated[AFD_COEF_COUNT]; /* learned from data, not the prior */
    uint64_t samples[3];             /* per stage: attention, comm, ffn */
    /* 95% half-width of each coefficient, same units as value:
     * 1.96 * sqrt(sigma^2 * P_ii), P the RLS covariance and sigma^2 the
     * stage's residual variance (forgetting-weighted innovations, so model
     * misfit widens it too); once the load has varied, the data-only
     * covariance sigma^2 (R - R0)^-1 instead, because forgetting lets the
     * mean drop the prior while R keeps R0's information. Before three samples,
     * and for any coefficient not identified (below), at least max(|prior|,
     * |value|)
     * (+-100%): the data have not separated it from its partner. */
    double ci[AFD_COEF_COUNT];
    double sigma_ms[3]; /* per stage residual std deviation, -1 unknown */
    /* per stage residual sd relative to the time predicted: the stage's
     * per-step noise (coefficient of variation) plus any misfit; -1
     * unknown */
    double noise_cv[3];
    /* Identified: the data alone (prior excluded) pin the coefficient to a
     * 95% half-width under 10% of its value, which needs the stage's load to
     * have varied (excitation = 1 - rho^2 of the data's information,
     * 0 when every sample came at one load, > 1e-6 required). Independent
     * of the prior, unlike `calibrated`. When both of a stage's pair are
     * identified, both values are the data-only line's. */
    bool identified[AFD_COEF_COUNT];
    double excitation[3];
};

void afd_calib_report(const struct afd_calib *c, struct afd_calib_report *out);

/*
 * Each stage's model with its uncertainty, and what it measured lately, for
 * the profile-drift alert (controller/alert.h) and the gain's uncertainty:
 * out[0] attention, out[1] comm, out[2] ffn (the order of enum afd_regime),
 * from one report.
 */
struct afd_calib_fit {
    double a, b;         /* ms = a*x + b, the report's values */
    double var[3];       /* var(a), cov(a, b), var(b) of the line reported:
                            sigma^2 P, or the data-only sigma^2 (R - R0)^-1
                            with the data's line; 0 unknown */
    double sigma_ms;     /* residual sd, -1 before three samples */
    bool identified;     /* both coefficients identified (report) */
    double recent_load;  /* tokens: EWMA (weight 1/64, ~64 samples) */
    double recent_ms;    /* ms: EWMA of the measured times, same weights,
                            so recent_ms pairs with recent_load exactly for
                            an affine model */
    uint64_t recent_n;   /* samples folded in; not exported (a snapshot
                            import restarts it at 0) */
    double recent_hw_ms; /* 95% half-width of recent_ms from the residual
                            noise alone: 1.96 sigma sqrt(alpha/(2-alpha)) */
};
void afd_calib_fits(const struct afd_calib *c, struct afd_calib_fit out[3]);

/*
 * The current profile: the prior's name with "+calibrated" appended when any
 * coefficient is calibrated, the same comm mode, and the report's values.
 * The result always passes afd_profile_validate.
 */
void afd_calib_profile(const struct afd_calib *c, struct afd_profile *out);

/* Serialisable state for snapshots (per stage: estimate, covariance, count). */
struct afd_calib_stage_state {
    double coef[2];      /* slope, intercept */
    double cov[4];       /* row-major 2x2 covariance */
    double prior_cov[4]; /* the prior covariance, for the calibrated test */
    double resid[2];     /* residual sum (ms^2) and its weight; 0 0 = none */
    double rel[2];       /* the same relative to the time predicted */
    uint64_t samples;
    /* The data alone (the line reported once identified), forgetting-
     * weighted: weight, mean load (tokens), mean time (ms), sum of squared
     * load deviations (tokens^2), sum of load x time deviations (tokens
     * ms). Weight 0: none kept (older snapshots); import then rebuilds
     * them from cov and coef, as if the RLS mean were the data's line. */
    double data[5];
};
struct afd_calib_state {
    struct afd_calib_config config;
    struct afd_profile prior;
    struct afd_calib_stage_state stage[3];
};

void afd_calib_export(const struct afd_calib *c, struct afd_calib_state *out);
/*
 * Replaces c's state (config and prior included); AFD_EINVAL, c unchanged,
 * if the state is inconsistent: invalid prior or config, non-finite values,
 * a covariance that is not symmetric positive semidefinite with a positive
 * diagonal, or a prior_cov other than the one the prior and prior_weight
 * give. Export then import restores
 * c bit for bit, except afd_calib_fit's recent means, which restart.
 */
int afd_calib_import(struct afd_calib *c, const struct afd_calib_state *in,
                     char *err);

#endif
