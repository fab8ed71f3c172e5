/*
 * solver.h - the optimal Attention/FFN ratio r* (model.md sections 4-6).
 *
 * Mean-field: tau(r) = max(t_A(B*theta), t_C(x(r)), t_F(r*B)) and throughput
 * per device f(r) = r*B / ((r+1)*tau(r)) tokens/ms over x + y devices. tau is
 * a maximum of affine functions of r, so the exact continuous maximiser on
 * (0, max_ratio] is found among the breakpoints of tau, the stationary points
 * sqrt(a/b) inside their own piece, and max_ratio (general candidate search,
 * both comm modes). For per_instance comm the paper's closed form
 * r* = max(r_A, r_C, r_peak) is reported beside it.
 *
 * Barrier-aware (section 5): the step waits for the slowest of x Attention
 * instances, T_j ~ Normal(B*theta, spread^2) with spread = sqrt(B)*sigma (or
 * the measured sd of per-instance loads when given):
 *     E[tau] = G + s_A * integral_{z0}^{inf} (1 - Phi(z)^x) dz,
 *     G = max(t_C, t_F), mu_A = t_A(B*theta), s_A = aA*spread,
 *     z0 = (G - mu_A)/s_A,
 * integrated numerically; the integer x maximising x*B/((x+y)*E[tau]) is
 * returned. With per-step stage noise (stage_cv: each stage's time times a
 * mean-1 lognormal factor drawn every step) E[tau] is the expected max of
 * the noisy stages, which lowers the optimum where two stages balance
 * (barrier.c).
 *
 * With y FFN instances each FFN takes r*B tokens, r = x/y; integer
 * recommendations are over x. Regime at r = the stage whose time sets tau(r);
 * on a tie the stage with the smaller slope in r wins (so spans are (from, to]
 * and at a balance point r_A the regime is "attention").
 *
 * All functions are pure and reentrant; nothing allocates.
 */
#ifndef AFD_SOLVER_H
#define AFD_SOLVER_H

#include <stdbool.h>
#include <stddef.h>

#include "estimator/profile.h"

enum afd_regime {
    AFD_REGIME_ATTENTION = 0,
    AFD_REGIME_COMMUNICATION = 1,
    AFD_REGIME_FFN = 2,
};
#define AFD_REGIME_COUNT      3
#define AFD_DEFAULT_MAX_RATIO 1024.0

/* "attention", "communication", "ffn"; parse returns AFD_EINVAL if unknown. */
const char *afd_regime_name(enum afd_regime r);
int afd_regime_parse(const char *s, enum afd_regime *out, char *err);

struct afd_solve_input {
    const struct afd_profile *profile; /* validated by afd_solve_check */
    double batch;         /* B, decode slots per Attention instance, > 0 */
    double theta;         /* tokens, time-averaged per-slot load, >= 0 */
    bool has_sigma;       /* sigma known (needed for the barrier result) */
    double sigma;         /* tokens, sd of the per-slot load, >= 0 */
    bool has_load_spread; /* measured spread of T_j across instances */
    double load_spread;   /* tokens, sd of per-instance loads; replaces
                             sqrt(B)*sigma in the barrier term when set */
    int ffn_instances;    /* y >= 1 */
    double max_ratio;     /* upper bound of r = x/y, >= 1 (1024 default) */
    /* Per-step noise of each stage's time, indexed by enum afd_regime: the
     * coefficient of variation (0..AFD_MAX_STAGE_CV) of a mean-1 lognormal
     * factor drawn every step, independent across stages, common to the
     * instances of a stage. 0 = none (the default). Only the barrier model
     * reads it: the step waits for the slowest stage, so noise costs most
     * where two stages balance (barrier.c). */
    double stage_cv[AFD_REGIME_COUNT];
};
#define AFD_MAX_STAGE_CV 2.0

/* Fills in defaults: no sigma, no spread, y = 1, max_ratio 1024, no stage
 * noise. */
void afd_solve_input_init(struct afd_solve_input *in,
                          const struct afd_profile *p, double batch,
                          double theta);

/* Validates an input (profile, finite and in-range numbers): AFD_EINVAL. */
int afd_solve_check(const struct afd_solve_input *in, char *err);

struct afd_regime_span {
    double from; /* ratio, exclusive (0 for the first span) */
    double to;   /* ratio, inclusive (max_ratio for the last) */
    enum afd_regime regime;
};

struct afd_stage_times {
    double attention; /* ms, t_A(B*theta) (mean-field) */
    double comm;      /* ms, t_C at this ratio */
    double ffn;       /* ms, t_F(r*B) */
    double step;      /* ms, tau = max of the three */
};

struct afd_solution {
    /* mean-field, continuous */
    double r_star;                /* exact maximiser of f on (0, max_ratio] */
    enum afd_regime regime;       /* regime at r_star */
    double step_time;             /* ms, tau(r_star) */
    double throughput_per_device; /* tokens/ms/device, f(r_star) */
    bool has_closed_form; /* per_instance comm: r_A, r_C, r_peak valid */
    double r_A;           /* (t_A - bF)/(aF*B), may be <= 0 */
    double r_C;           /* (t_C - bF)/(aF*B), may be <= 0 */
    double r_peak;        /* sqrt(bF/(aF*B)) */
    /* mean-field integer recommendation for y FFN instances */
    int attention_instances; /* x in [1, max_ratio*y] maximising f(x/y) */
    double throughput_per_device_int; /* f(x/y) */
    /* barrier-aware integer optimum; valid only when has_barrier */
    bool has_barrier;      /* false when neither sigma nor spread known */
    bool spread_measured;  /* spread came from load_spread, not sigma */
    double barrier_spread; /* tokens, sd of T_j used */
    int attention_instances_barrier; /* x maximising the barrier throughput */
    double r_star_barrier;           /* x / y */
    double step_time_barrier;        /* ms, E[tau] at that x */
    double throughput_per_device_barrier; /* barrier model at that x */
    /* regime map over (0, max_ratio] */
    size_t n_regimes;
    struct afd_regime_span regimes[AFD_REGIME_COUNT];
};

/*
 * Everything above for one input. Returns AFD_OK or AFD_EINVAL (message from
 * afd_solve_check). Budget: well under 200 us with max_ratio 1024, stage
 * noise included (integration/bench_estimator.c).
 */
int afd_solve(const struct afd_solve_input *in, struct afd_solution *out,
              char *err);

/* Mean-field stage times and tau at ratio r > 0 (input already checked). */
void afd_stage_times_at(const struct afd_solve_input *in, double r,
                        struct afd_stage_times *out);
/* Mean-field throughput per device f(r), tokens/ms/device. */
double afd_throughput_at(const struct afd_solve_input *in, double r);
/* Regime at r with the tie rule above. */
enum afd_regime afd_regime_at(const struct afd_solve_input *in, double r);
/*
 * Idle ratios at r: eta[stage] = 1 - t_stage/tau, indexed by enum afd_regime
 * (eta_A, eta_C, eta_F). Each is in [0, 1); the binding stage's is 0.
 */
void afd_idle_ratios_at(const struct afd_solve_input *in, double r,
                        double eta[AFD_REGIME_COUNT]);

/*
 * Sizing regime: the term that binds the optimum r_star (model.md sec. 4):
 * communication when the comm line sets tau(r_star) (r_C, or an aggregate
 * comm line meeting the Attention floor), else attention (r_A, the
 * attention balance), else ffn (r_peak, the FFN piece's own stationary
 * point). Unlike afd_regime_at it names the term that placed
 * r_star, so it changes only when workload or hardware do.
 */
enum afd_regime afd_sizing_regime(const struct afd_solve_input *in,
                                  double r_star);
/*
 * Balanced band around r_star: the ratios [lo, hi] (lo <= r_star <= hi)
 * where the mean-field f(r) >= (1 - loss) * f(r_star), loss in [0, 1),
 * found by bisection (f rises before r_star and falls after it); clipped to
 * (0, max_ratio]. Pure, no allocation.
 */
void afd_balanced_band(const struct afd_solve_input *in, double r_star,
                       double loss, double *lo, double *hi);
/*
 * The same band in the barrier model over integer x (what the controller
 * targets when sigma or a load spread is known): [lo, hi] as ratios x/y,
 * the outermost x next to x_star whose barrier throughput is >= (1 - loss)
 * times that at x_star. AFD_EINVAL (afd_barrier_at's message) without a
 * spread.
 */
int afd_balanced_band_barrier(const struct afd_solve_input *in, int x_star,
                              double loss, double *lo, double *hi, char *err);

/*
 * The last integer x stepping from `from` toward `lim` (inclusive) while
 * f(ctx, x) >= want, for f unimodal in x with its peak at `from` (the
 * values >= want are then one run of x): doubling steps, then bisection,
 * O(log |lim - from|) calls of f where a walk makes one per count. Returns
 * `from` when its neighbour toward lim is already below want.
 */
int afd_unimodal_edge(int from, int lim, double want,
                      double (*f)(const void *ctx, int x), const void *ctx);

/*
 * Barrier model at x Attention instances (x >= 1): expected step time (ms)
 * and throughput per device. Requires sigma or load_spread; AFD_EINVAL
 * otherwise.
 */
int afd_barrier_at(const struct afd_solve_input *in, int x, double *step_time,
                   double *throughput, char *err);

/*
 * E[max(g, mu + s*M_n)] for M_n the maximum of n >= 1 independent standard
 * normals, s >= 0:  g + s * integral_{(g-mu)/s}^{inf} (1 - Phi(z)^n) dz.
 * Accuracy stated in barrier.c's head comment and measured in
 * tests/test_barrier.c. With s == 0 returns max(g, mu).
 */
double afd_expected_max_step(double g, double mu, double s, int n);

/* E[M_n], the mean of the maximum of n standard normals (E[M_1] = 0). */
double afd_expected_max_normal(int n);

#endif
