/*
 * fit.h - profile coefficients from measured stage times (model.md section 2).
 *
 * Owns the offline fit behind `afd-sizer profile fit`: each stage's affine
 * model t = slope * x + intercept (ms, tokens) is fitted to its measurements
 * by a robust least squares - a Huber M-estimate, refined with Tukey
 * bisquare weights, then an ordinary least-squares refit on the points whose
 * residual is within 3 robust standard deviations (the rest are reported as
 * outliers). Intervals are 95% Student-t intervals from the refit's residual
 * variance and (X'X)^-1. Pure (libc, libm), no I/O, no allocation beyond the
 * caller's buffers, thread-safe. Errors: AFD_EINVAL with a message naming the
 * stage when it cannot be fitted at all.
 */
#ifndef AFD_FIT_H
#define AFD_FIT_H

#include <stdbool.h>
#include <stddef.h>

#include "estimator/profile.h"

enum afd_stage {
    AFD_STAGE_ATTENTION = 0,
    AFD_STAGE_COMMUNICATION = 1,
    AFD_STAGE_FFN = 2,
};
#define AFD_STAGE_COUNT 3

/* One measurement: x tokens (the stage's affine x) took ms milliseconds. */
struct afd_fit_point {
    double x;
    double ms;
};

/* Warning bits of struct afd_stage_fit. */
#define AFD_FIT_WARN_NARROW_RANGE 0x1u /* x span < 20% of max x */
#define AFD_FIT_WARN_SLOPE        0x2u /* slope interval half-width > 50% */
#define AFD_FIT_WARN_INTERCEPT    0x4u /* intercept interval half-width > 50% */
#define AFD_FIT_WARN_CLAMPED      0x8u /* a negative coefficient was set to 0 */
#define AFD_FIT_WARN_FEW_POINTS                                                \
    0x10u /* 3 residual degrees of freedom or less */

struct afd_stage_fit {
    double slope, intercept;   /* ms per token, ms */
    double slope_lo, slope_hi; /* 95% interval (NAN if df == 0) */
    double intercept_lo, intercept_hi;
    double r2;           /* of the refit; 1 when every t is equal */
    double resid_sd;     /* ms, sqrt(SSR / df) of the refit */
    double x_min, x_max; /* measured range */
    size_t n;            /* measurements given */
    size_t n_outliers;   /* left out of the refit */
    unsigned warnings;   /* AFD_FIT_WARN_* */
};

/*
 * Fits one stage. pts[n] are not modified; work[2n] is scratch (weights and
 * residuals). Needs n >= 3 finite points at 2 or more distinct x, all x >= 0
 * and ms >= 0; else AFD_EINVAL naming `what` (e.g. "ffn").
 */
int afd_fit_stage(const struct afd_fit_point *pts, size_t n, double *work,
                  const char *what, struct afd_stage_fit *out, char *err);

/*
 * The three stages into a profile (name, provenance, comm mode as given).
 * pts[s], n[s] for each enum afd_stage; work holds 2 * max n[s] doubles.
 * aA and aF must come out > 0 (the solver divides by them), else AFD_EINVAL.
 * The result passes afd_profile_validate.
 */
int afd_fit_profile(const struct afd_fit_point *const pts[AFD_STAGE_COUNT],
                    const size_t n[AFD_STAGE_COUNT], double *work,
                    const char *name, const char *provenance,
                    enum afd_comm_mode mode, struct afd_profile *out,
                    struct afd_stage_fit fits[AFD_STAGE_COUNT], char *err);

/* "attention" / "communication" / "ffn" <-> enum; parse: AFD_EINVAL. */
const char *afd_stage_name(enum afd_stage s);
int afd_stage_parse(const char *s, enum afd_stage *out);

/* Two-sided 95% quantile of Student's t with df >= 1 degrees of freedom. */
double afd_t975(size_t df);

#endif
