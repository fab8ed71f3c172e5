/*
 * barrier.c - the barrier-aware step time (model.md section 5).
 *
 * SYNOPSIS
 *     double afd_expected_max_step(double g, double mu, double s, int n);
 *     double afd_expected_max_normal(int n);
 *
 * DESCRIPTION
 *     E[max(g, mu + s*M_n)], M_n the maximum of n independent standard
 *     normals, by
 *         E = g + s * I(z0),  I(z0) = integral_{z0}^{inf} (1 - Phi(z)^n) dz,
 *         z0 = (g - mu)/s.
 *     The integrand is evaluated as -expm1(n * log Phi(z)), with log Phi(z)
 *     from erfc on the side where it keeps relative accuracy, so neither the
 *     tail 1 - Phi^n ~ n*Q(z) nor the head Phi^n -> 0 loses digits.
 *     Sub-domains:
 *       n == 1        closed form I = phi(z0) - z0*Q(z0).
 *       z0 < -9       Phi(-9) = 1.1e-19, so the integrand is 1 to double
 *                     precision below -9: E = mu + s*(-9 + I(-9)), written
 *                     that way to avoid cancelling a huge g against mu.
 *       otherwise     10-point Gauss-Legendre on fixed panels over
 *                     [-9, 10], of width 1 for n <= 32, 1/2 for n <= 2000
 *                     and 1/4 beyond (1 - Phi^n steepens with n); the panel
 *                     holding z0 is integrated on [z0, its right end]. A
 *                     panel where n*log Phi < -45 at its right end is
 *                     exactly its width (Phi^n < 3e-20). From the first
 *                     panel end where n*Q < 1e-8 the rest is
 *                     n * integral Q = n*(phi(z) - z*Q(z)), exact to
 *                     (n*Q)^2/2 < 1e-16 pointwise. The solver keeps log Phi
 *                     at the nodes in a per-solve table (filled lazily).
 *     s == 0 gives max(g, mu). The sqrt(2 ln n) asymptote is not used: it is
 *     poor at small n (model.md).
 *
 * ACCURACY
 *     Absolute error of E[max(z0, M_n)] = z0 + I(z0) (the step time's error
 *     is s times it). n in {1,2,3,4,5,7,10,32,100,1e3,1e4,1e5,1e6,2e9},
 *     z0 in 20 points of [-12, 11.9], against 40-digit mpmath quadrature:
 *         n range          trials   peak      rms
 *         1 .. 1000         200     1.2e-14   2.4e-15   (peak at n = 32)
 *         1001 .. 1e6        60     2.0e-15   1.0e-15
 *         2e9                20     1.1e-15   6.6e-16
 *     tests/test_barrier.c re-measures it against closed forms (n <= 5, to
 *     1e-14) and an independent long-double Simpson rule on the density
 *     form (64 points, n <= 1000: peak 1.2e-14, asserted to 1e-13).
 *
 * ERRORS
 *     n < 1, s < 0, or a NaN / infinite argument (other than g = -inf, which
 *     means "no floor" and gives mu + s*E[M_n]) return NaN.
 *
 * STAGE NOISE (solver.h stage_cv) turns the step into an expected max of
 * noisy stages, one more integral over this one (noisy_max_step, checked
 * against a closed form and a two-factor Simpson rule to 1e-10 and 2e-9
 * in tests/test_barrier_noise.c).
 *
 * The integer optimum at the end of this file prunes x with a rigorous
 * bound (Jensen plus E[M_x] rising in x); see branch_and_bound().
 */
#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "estimator/solver_internal.h"

#define Z_MIN       -9.0  /* Phi(-9) = 1.13e-19: Phi^n is 0 in double below */
#define Z_SPAN      19.0  /* grid to z = 10: there n*Q < 2e-14 for any int n */
#define N_LEVELS    3     /* panel widths 1, 1/2, 1/4 */
#define N_EDGES     77    /* Z_SPAN / (1/4) + 1 panel ends on the finest grid */
#define N_SLOTS     133   /* panels over all levels: 19 + 38 + 76 */
#define GL_HALF     5     /* symmetric pairs of the 10-point rule */
#define ALL_ONES    -45.0 /* n*log Phi below this: Phi^n < 2.9e-20 */
#define TAIL_SERIES 1e-8  /* n*|log Phi| below this: 1 - Phi^n = n*Q */

/* 10-point Gauss-Legendre on [-1, 1]: positive nodes and their weights. */
static const double gl_x[GL_HALF] = {
    0.1488743389816312108848, 0.4333953941292471907993,
    0.6794095682990244062343, 0.8650633666889845107321,
    0.9739065285171717200780,
};
static const double gl_w[GL_HALF] = {
    0.2955242247147528701739,  0.2692667193099963550912,
    0.2190863625159820439955,  0.1494513491505805931458,
    0.06667134430868813759357,
};

/*
 * log Phi(z) at the fixed nodes and panel ends, filled lazily per panel. The
 * integer search keeps one per afd_solve so that each x costs one expm1 per
 * node instead of an erfc and a log as well. Panel k of level v has width
 * 2^-v, starts at Z_MIN + k*2^-v and sits in node[] at slot_base[v] + k.
 */
struct node_table {
    double node[N_SLOTS][2 * GL_HALF];
    double edge[N_EDGES]; /* log Phi at z = Z_MIN + m/4 */
    double tail[N_EDGES]; /* integral of Q beyond that z */
    bool node_ok[N_SLOTS];
    bool edge_ok[N_EDGES];
};

/* One level of panels: width, count, and strides into the table. */
struct grid {
    double h;      /* panel width in z */
    int panels;    /* panels over [Z_MIN, Z_MIN + Z_SPAN] */
    int slot_base; /* first node[] slot of this level */
    int edge_step; /* edge[] index step per panel */
};

static const struct grid grids[N_LEVELS] = {
    {1.0, 19, 0, 4},
    {0.5, 38, 19, 2},
    {0.25, 76, 57, 1},
};

/*
 * 1 - Phi^n steepens with n (width ~ 1/sqrt(2 ln n)); the width keeps GL-10
 * at ~1e-14 (see ACCURACY) while small n, the common case in the integer
 * search, costs half the nodes.
 */
static const struct grid *grid_for(double n)
{
    return &grids[n <= 32 ? 0 : n <= 2000 ? 1 : 2];
}

/* log Phi(z): erfc of |z| keeps relative accuracy in whichever tail. */
static double log_phi(double z)
{
    if (z < 0)
        return log(0.5 * erfc(-z * M_SQRT1_2));
    return log1p(-0.5 * erfc(z * M_SQRT1_2));
}

/*
 * integral_{z}^{inf} Q(t) dt = phi(z) - z*Q(z). The cancellation at large z
 * costs relative digits of a value below 1e-9 there: absolute error < 1e-24.
 */
static double q_moment(double z)
{
    return exp(-0.5 * z * z) / sqrt(2 * M_PI) - z * 0.5 * erfc(z * M_SQRT1_2);
}

/* 1 - Phi^n given L = log Phi. */
static double one_minus_pow(double n, double L)
{
    double e = n * L;

    return e < ALL_ONES ? 1.0 : -expm1(e);
}

static double panel_left(const struct grid *g, int k)
{
    return Z_MIN + g->h * k;
}

/* GL-10 of 1 - Phi^n over [a, b] with fresh evaluations. */
static double panel_fresh(double a, double b, double n)
{
    double c = 0.5 * (a + b), h2 = 0.5 * (b - a), sum = 0;
    int j;

    for (j = 0; j < GL_HALF; j++) {
        sum += gl_w[j] * (one_minus_pow(n, log_phi(c - h2 * gl_x[j])) +
                          one_minus_pow(n, log_phi(c + h2 * gl_x[j])));
    }
    return h2 * sum;
}

static void fill_panel(struct node_table *t, const struct grid *g, int k)
{
    double h2 = 0.5 * g->h, c = panel_left(g, k) + h2;
    double *node = t->node[g->slot_base + k];
    int j;

    for (j = 0; j < GL_HALF; j++) {
        node[2 * j] = log_phi(c - h2 * gl_x[j]);
        node[2 * j + 1] = log_phi(c + h2 * gl_x[j]);
    }
    t->node_ok[g->slot_base + k] = true;
}

/* GL-10 of 1 - Phi^n over whole panel k, from the table or fresh. */
static double panel_whole(struct node_table *t, const struct grid *g, int k,
                          double n)
{
    const double *node;
    double sum = 0;
    int j;

    if (!t)
        return panel_fresh(panel_left(g, k), panel_left(g, k + 1), n);
    if (!t->node_ok[g->slot_base + k])
        fill_panel(t, g, k);
    node = t->node[g->slot_base + k];
    for (j = 0; j < GL_HALF; j++) {
        sum += gl_w[j] * (one_minus_pow(n, node[2 * j]) +
                          one_minus_pow(n, node[2 * j + 1]));
    }
    return 0.5 * g->h * sum;
}

/* log Phi at the left end of panel k; fills the edge's tail moment too. */
static double edge_log_phi(struct node_table *t, const struct grid *g, int k)
{
    int m = k * g->edge_step;

    if (!t)
        return log_phi(panel_left(g, k));
    if (!t->edge_ok[m]) {
        t->edge[m] = log_phi(panel_left(g, k));
        t->tail[m] = q_moment(panel_left(g, k));
        t->edge_ok[m] = true;
    }
    return t->edge[m];
}

/* Integral of Q beyond the left end of panel k; after edge_log_phi. */
static double edge_tail(const struct node_table *t, const struct grid *g, int k)
{
    return t ? t->tail[k * g->edge_step] : q_moment(panel_left(g, k));
}

/*
 * I(z0) = integral_{z0}^{inf} (1 - Phi^n) dz for Z_MIN <= z0, n >= 2. The
 * panel holding z0 is cut at z0; whole panels follow until n*Q is below
 * TAIL_SERIES, where 0 <= n*Q - (1 - Phi^n) <= (n*Q)^2/2 makes the closed
 * form n * integral Q exact to 1e-17 absolute.
 */
static double tail_integral(struct node_table *t, double z0, double n)
{
    const struct grid *g = grid_for(n);
    int k;
    double sum = 0, right;

    if (n * log_phi(z0) > -TAIL_SERIES)
        return n * q_moment(z0);
    /* here n*Q(z0) >= 1e-8, so z0 < 8.7 and panel k exists */
    k = (int)floor((z0 - Z_MIN) / g->h);
    right = panel_left(g, k + 1);
    if (n * edge_log_phi(t, g, k + 1) < ALL_ONES)
        sum = right - z0;
    else if (z0 > panel_left(g, k))
        sum = panel_fresh(z0, right, n);
    else
        sum = panel_whole(t, g, k, n);
    for (k++; k <= g->panels; k++) {
        if (n * edge_log_phi(t, g, k) > -TAIL_SERIES)
            return sum + n * edge_tail(t, g, k);
        assert(k < g->panels); /* n*Q(10) < 2e-14 ends the loop */
        if (n * edge_log_phi(t, g, k + 1) < ALL_ONES)
            sum += g->h;
        else
            sum += panel_whole(t, g, k, n);
    }
    return sum;
}

/*
 * I at every panel end of n's grid, for many z0 at one n (noisy_max_step):
 * the same panels as tail_integral, summed once from the top.
 */
struct tail_cum {
    const struct grid *g;
    double n;
    double at[N_EDGES]; /* I(left end of panel k), k = 0 .. g->panels */
};

static void tail_cum_fill(struct node_table *t, struct tail_cum *c, double n)
{
    const struct grid *g = grid_for(n);
    int k;

    c->g = g;
    c->n = n;
    c->at[g->panels] = n * edge_tail(t, g, g->panels);
    for (k = g->panels - 1; k >= 0; k--) {
        if (n * edge_log_phi(t, g, k) > -TAIL_SERIES)
            c->at[k] = n * edge_tail(t, g, k);
        else if (n * edge_log_phi(t, g, k + 1) < ALL_ONES)
            c->at[k] = c->at[k + 1] + g->h;
        else
            c->at[k] = c->at[k + 1] + panel_whole(t, g, k, n);
    }
}

/* GL-5 of 1 - Phi^n over [a, b], a part of one panel: the integral over
 * R (noisy_max_step) averages its error away, at half the cost of GL-10. */
static double part_fresh(double a, double b, double n)
{
    static const double x5[2] = {0.5384693101056831, 0.9061798459386640};
    static const double w5[3] = {0.5688888888888889, 0.4786286704993665,
                                 0.2369268850561891};
    double c = 0.5 * (a + b), h2 = 0.5 * (b - a);
    double sum = w5[0] * one_minus_pow(n, log_phi(c));
    int j;

    for (j = 0; j < 2; j++)
        sum += w5[j + 1] * (one_minus_pow(n, log_phi(c - h2 * x5[j])) +
                            one_minus_pow(n, log_phi(c + h2 * x5[j])));
    return h2 * sum;
}

/* tail_integral(z0, n) for Z_MIN <= z0 from the cached panel ends. */
static double tail_cached(const struct tail_cum *c, double z0)
{
    const struct grid *g = c->g;
    double n = c->n, right;
    int k;

    if (n * log_phi(z0) > -TAIL_SERIES)
        return n * q_moment(z0);
    k = (int)floor((z0 - Z_MIN) / g->h);
    right = panel_left(g, k + 1);
    if (n * log_phi(right) < ALL_ONES)
        return right - z0 + c->at[k + 1];
    return part_fresh(z0, right, n) + c->at[k + 1];
}

/*
 * E[max(g, mu + s*M_n)] with an optional node table, or, for many g at one
 * n >= 2, from the panel ends cached for n (cum, else NULL); the public
 * function, the integer search and noisy_max_step share it. Arguments as
 * afd_expected_max_step.
 */
static double expected_max_step(struct node_table *t,
                                const struct tail_cum *cum, double g, double mu,
                                double s, int n)
{
    double z0, q;

    if (n < 1 || isnan(g) || !isfinite(mu) || !isfinite(s) || s < 0 ||
        g == INFINITY)
        return NAN;
    if (s == 0)
        return fmax(g, mu);
    z0 = (g - mu) / s;
    if (n == 1) {
        if (z0 < Z_MIN)
            return mu; /* E[M_1] = 0; Phi(z0) below 1e-19 */
        q = 0.5 * erfc(z0 * M_SQRT1_2);
        return g + s * (exp(-0.5 * z0 * z0) / sqrt(2 * M_PI) - z0 * q);
    }
    if (z0 < Z_MIN)
        return mu +
               s * (Z_MIN + (cum ? cum->at[0] : tail_integral(t, Z_MIN, n)));
    return g + s * (cum ? tail_cached(cum, z0) : tail_integral(t, z0, n));
}

double afd_expected_max_step(double g, double mu, double s, int n)
{
    return expected_max_step(NULL, NULL, g, mu, s, n);
}

double afd_expected_max_normal(int n)
{
    if (n < 1)
        return NAN;
    if (n == 1)
        return 0.0;
    return Z_MIN + tail_integral(NULL, Z_MIN, n);
}

bool afd_solver_spread(const struct afd_solve_input *in, double *spread,
                       bool *measured)
{
    if (in->has_load_spread) {
        *spread = in->load_spread;
        *measured = true;
        return true;
    }
    *measured = false;
    if (in->has_sigma) {
        *spread = sqrt(in->batch) * in->sigma;
        return true;
    }
    *spread = 0;
    return false;
}

/*
 * Stage noise (solver.h, stage_cv): with the step's factors X_A, X_G (the
 * larger of comm and FFN, G = X_G*g),
 *     E[tau] = E[max(X_A*(mu + s*M_n), X_G*g)] = E[max(mu + s*M_n, R*g)],
 * weighting by X_A (mean 1, a change of measure): R = X_G/X_A is then
 * lognormal of mean 1 and log-variance log(1+cv_A^2) + log(1+cv_G^2),
 * independent of M_n. Noise on one stage alone changes nothing while the
 * other never binds; it costs most where they balance. Integrated over R's
 * normal variate z in [-NOISE_Z, NOISE_Z] by GL-10 on panels graded away
 * from the kink, where R*g meets mu + s*E[M_n] (the integrand bends there
 * on the scale of s, sharply when s is small), none wider than
 * NOISE_PANEL, normalised by the rule's own mass. Comm and FFN are not
 * combined: where they balance, the larger one's noise stands for both (an
 * underestimate there).
 */
#define NOISE_Z     7.0 /* phi beyond +-7 holds 3e-12 of the mass */
#define NOISE_PANEL 3.5 /* widest GL-10 panel in z */

static double noisy_max_step(struct node_table *t, double g, double mu,
                             double s, int n, double sig)
{
    static const double grade[] = {0.5, 2.0};
    struct tail_cum cum;
    double em, top, kink = -NOISE_Z, edge[12], sum = 0, mass = 0;
    int ne = 0, p, j, side;
    size_t i;

    if (!(g > 0))
        return expected_max_step(t, NULL, g, mu, s, n);
    if (n >= 2)
        tail_cum_fill(t, &cum, n);
    em = n < 2 ? 0 : Z_MIN + cum.at[0];
    top = mu + s * em;
    if (top > 0)
        kink = (log(top / g) + 0.5 * sig * sig) / sig;
    kink = fmin(fmax(kink, -NOISE_Z), NOISE_Z);
    /* panel ends graded away from the kink: narrow where it bends */
    edge[ne++] = -NOISE_Z;
    for (i = sizeof(grade) / sizeof(grade[0]); i-- > 0;)
        if (kink - grade[i] > -NOISE_Z)
            edge[ne++] = kink - grade[i];
    edge[ne++] = kink;
    for (i = 0; i < sizeof(grade) / sizeof(grade[0]); i++)
        if (kink + grade[i] < NOISE_Z)
            edge[ne++] = kink + grade[i];
    edge[ne++] = NOISE_Z;
    for (p = 0; p + 1 < ne; p++) {
        /* at most NOISE_PANEL wide: the normal density bends too */
        int parts = (int)ceil((edge[p + 1] - edge[p]) / NOISE_PANEL), q;
        double h2 = 0.5 * (edge[p + 1] - edge[p]) / (parts > 0 ? parts : 1);

        for (q = 0; q < parts; q++) {
            double c = edge[p] + (2 * q + 1) * h2;

            for (j = 0; j < GL_HALF; j++) {
                for (side = -1; side <= 1; side += 2) {
                    double z = c + side * h2 * gl_x[j];
                    double w = h2 * gl_w[j] * exp(-0.5 * z * z);
                    double gz = g * exp(sig * z - 0.5 * sig * sig);

                    mass += w;
                    sum += w * expected_max_step(t, n < 2 ? NULL : &cum, gz, mu,
                                                 s, n);
                }
            }
        }
    }
    return sum / mass;
}

/* The larger of comm and FFN at x (g, ms) and R's log-sd (sig, 0 when no
 * stage that matters is noisy); the stage times in *st. */
static void noise_terms(const struct afd_solve_input *in, int x,
                        struct afd_stage_times *st, double *g, double *sig)
{
    double cv_g, cv_a = in->stage_cv[AFD_REGIME_ATTENTION];

    afd_stage_times_at(in, x / (double)in->ffn_instances, st);
    if (st->comm >= st->ffn) {
        *g = st->comm;
        cv_g = in->stage_cv[AFD_REGIME_COMMUNICATION];
    } else {
        *g = st->ffn;
        cv_g = in->stage_cv[AFD_REGIME_FFN];
    }
    *sig = sqrt(log1p(cv_a * cv_a) + log1p(cv_g * cv_g));
}

/* Barrier step time and throughput at x for a checked input; quiet: as if
 * no stage were noisy (an upper bound of the throughput, by Jensen). */
static void barrier_eval(struct node_table *t, const struct afd_solve_input *in,
                         double spread, int x, bool quiet, double *step,
                         double *thr)
{
    struct afd_stage_times st;
    double y = in->ffn_instances, g, sig;

    noise_terms(in, x, &st, &g, &sig);
    if (!quiet && sig > 0)
        *step = noisy_max_step(t, g, st.attention, in->profile->aA * spread, x,
                               sig);
    else
        *step = expected_max_step(t, NULL, g, st.attention,
                                  in->profile->aA * spread, x);
    *thr = x * in->batch / ((x + y) * *step);
}

int afd_barrier_at(const struct afd_solve_input *in, int x, double *step_time,
                   double *throughput, char *err)
{
    double spread, step, thr;
    bool measured;
    int rc;

    rc = afd_solve_check(in, err);
    if (rc)
        return rc;
    if (x < 1)
        return afd_err(err, AFD_EINVAL,
                       "attention instances 'x' must be >= 1, got %d", x);
    if (!afd_solver_spread(in, &spread, &measured))
        return afd_err(err, AFD_EINVAL,
                       "barrier model needs 'sigma' or 'load_spread', "
                       "neither is set");
    barrier_eval(NULL, in, spread, x, false, &step, &thr);
    if (step_time)
        *step_time = step;
    if (throughput)
        *throughput = thr;
    return AFD_OK;
}

/*
 * The integer search. Every pruning step rests on one rigorous bound: for
 * x in [a, b], E[M_x] >= E[M_a] and Jensen give
 *     E[tau(x)] >= max(tau_meanfield(x/y), mu_A + s_A*E[M_a]),
 * so no x in [a, b] beats afd_solver_bound_between(in, mu_A + s_A*E[M_a],
 * a/y, b/y). With E[M_a] = 0 that is the plain Jensen rule (barrier
 * throughput <= f, f unimodal). x = 1..LINEAR_MAX are walked in order and
 * the walk stops once nothing above can win; a longer range goes to a
 * depth-first branch and bound that splits at the midpoint and visits the
 * half with the larger bound first. Ties keep the smaller x.
 *
 * With stage noise a noisy step costs tens of plain ones (noisy_max_step),
 * and a fleet of thousands on a flat curve has thousands of counts within
 * the noise's cost of the optimum: the search runs without the noise,
 * which finds the quiet optimum x0, then takes the counts whose quiet
 * throughput (an upper bound of the noisy one, Jensen) is at least x0's
 * noisy one, one run of x by unimodality, and finds the noisy maximum in
 * it by ternary search (noisy_optimum; unimodal too, checked against an
 * exhaustive search in tests/test_barrier_noise.c).
 */
#define LINEAR_MAX  64    /* x walked one by one before branch and bound */
#define LEAF_WIDTH  8     /* ranges this short are scanned */
#define BB_STACK    64    /* > log2(INT_MAX) + 2: depth-first, 1 per level */
#define BOUND_SLACK 1e-12 /* relative: rounding of bound vs evaluated value */

struct search {
    const struct afd_solve_input *in;
    struct node_table table;
    double spread; /* tokens, sd of per-instance loads */
    double s_A;    /* ms, aA * spread */
    double mu_A;   /* ms, t_A(B*theta) */
    double y;      /* FFN instances */
    int best_x;
    double best_thr;  /* tokens/ms/device */
    double best_step; /* ms */
};

struct x_range {
    int a, b;
    double em;    /* lower bound of E[M_a] */
    double bound; /* upper bound of the throughput on [a, b] */
};

static void try_x(struct search *s, int x)
{
    double step, thr;

    barrier_eval(&s->table, s->in, s->spread, x, true, &step, &thr);
    if (thr > s->best_thr || (thr == s->best_thr && x < s->best_x)) {
        s->best_thr = thr;
        s->best_step = step;
        s->best_x = x;
    }
}

/* Throughput at x, with the noise (noisy) or without. */
static double thr_at(struct search *s, int x, bool noisy, double *step)
{
    double st, thr;

    barrier_eval(&s->table, s->in, s->spread, x, !noisy, &st, &thr);
    if (step)
        *step = st;
    return thr;
}

static double quiet_thr(const void *ctx, int x)
{
    return thr_at((struct search *)ctx, x, false, NULL);
}

/* From the quiet optimum in s->best_*: the noisy one (see above). */
static void noisy_optimum(struct search *s, int x_max)
{
    int x0 = s->best_x, lo, hi, m1, m2, x;
    double step, thr;

    s->best_thr = thr_at(s, x0, true, &s->best_step);
    lo = afd_unimodal_edge(x0, 1, s->best_thr, quiet_thr, s);
    hi = afd_unimodal_edge(x0, x_max, s->best_thr, quiet_thr, s);
    while (hi - lo > 2) {
        m1 = lo + (hi - lo) / 3;
        m2 = hi - (hi - lo) / 3;
        if (thr_at(s, m1, true, NULL) < thr_at(s, m2, true, NULL))
            lo = m1 + 1;
        else
            hi = m2;
    }
    for (x = lo; x <= hi; x++) {
        thr = thr_at(s, x, true, &step);
        if (thr > s->best_thr || (thr == s->best_thr && x < s->best_x)) {
            s->best_thr = thr;
            s->best_step = step;
            s->best_x = x;
        }
    }
}

/* E[M_a] less a margin for the quadrature error, so it stays a bound. */
static double em_lower(struct search *s, int a)
{
    return a < 2 ? 0 : Z_MIN + tail_integral(&s->table, Z_MIN, a) - 1e-12;
}

static bool beaten(const struct search *s, double bound)
{
    return bound * (1 + BOUND_SLACK) < s->best_thr;
}

static void range_init(struct search *s, struct x_range *r, int a, int b,
                       double em)
{
    r->a = a;
    r->b = b;
    r->em = em;
    r->bound = afd_solver_bound_between(s->in, s->mu_A + s->s_A * em, a / s->y,
                                        b / s->y);
}

static void branch_and_bound(struct search *s, int a, int b)
{
    struct x_range stack[BB_STACK], r, lo, hi;
    int n = 0, x, m;

    range_init(s, &stack[n++], a, b, em_lower(s, a));
    while (n > 0) {
        r = stack[--n];
        if (beaten(s, r.bound))
            continue;
        if (r.b - r.a < LEAF_WIDTH) {
            for (x = r.a; x <= r.b; x++)
                try_x(s, x);
            continue;
        }
        m = r.a + (r.b - r.a) / 2;
        try_x(s, m);
        range_init(s, &lo, r.a, m - 1, r.em);
        range_init(s, &hi, m + 1, r.b, em_lower(s, m + 1));
        assert(n + 2 <= BB_STACK);
        if (lo.bound > hi.bound) {
            stack[n++] = hi;
            stack[n++] = lo;
        } else {
            stack[n++] = lo;
            stack[n++] = hi;
        }
    }
}

static bool any_noise(const struct afd_solve_input *in)
{
    int k;

    for (k = 0; k < AFD_REGIME_COUNT; k++)
        if (in->stage_cv[k] > 0)
            return true;
    return false;
}

void afd_solver_barrier_optimum(const struct afd_solve_input *in,
                                struct afd_solution *out)
{
    struct search s;
    struct afd_stage_times st;
    double em = 0;
    int x, x_max, x_lin;
    bool measured;

    out->has_barrier = afd_solver_spread(in, &s.spread, &measured);
    out->spread_measured = measured;
    if (!out->has_barrier)
        return;
    out->barrier_spread = s.spread;
    memset(s.table.node_ok, 0, sizeof(s.table.node_ok));
    memset(s.table.edge_ok, 0, sizeof(s.table.edge_ok));
    afd_stage_times_at(in, 1, &st);
    s.in = in;
    s.s_A = in->profile->aA * s.spread;
    s.mu_A = st.attention;
    s.y = in->ffn_instances;
    s.best_x = 0;
    s.best_thr = -1;
    s.best_step = 0;
    x_max = (int)floor(in->max_ratio * s.y);
    x_lin = x_max < LINEAR_MAX ? x_max : LINEAR_MAX;
    for (x = 1; x <= x_lin; x++) {
        if (x > 1 && (x & (x - 1)) == 0)
            em = em_lower(&s, x); /* refreshed at powers of two */
        if (beaten(&s, afd_solver_bound_between(in, s.mu_A + s.s_A * em,
                                                x / s.y, x_max / s.y)))
            break;
        try_x(&s, x);
    }
    if (x > x_lin && x_max > x_lin)
        branch_and_bound(&s, x_lin + 1, x_max);
    if (any_noise(in))
        noisy_optimum(&s, x_max);
    assert(s.best_x >= 1);
    out->attention_instances_barrier = s.best_x;
    out->r_star_barrier = s.best_x / s.y;
    out->step_time_barrier = s.best_step;
    out->throughput_per_device_barrier = s.best_thr;
}
