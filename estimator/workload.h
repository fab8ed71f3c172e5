/*
 * workload.h - the streaming workload statistic theta and sigma (model.md 3).
 *
 * A finished request with prompt P >= 0 and decode D >= 1 tokens carries load
 * P + j at its j-th decode step, j = 0..D-1. Over a long run a slot's
 * time-averaged load and its variance are
 *     theta   = E[D*P + D(D-1)/2] / E[D]
 *     m2      = E[D*P^2 + P*D(D-1) + D(D-1)(2D-1)/6] / E[D]
 *     sigma^2 = m2 - theta^2
 * for any joint law of (P, D). The estimator keeps the joint sums (never the
 * "independent" form), in extended precision, with exponential forgetting:
 * each new request multiplies the weight of all older ones by
 * exp(-ln 2 / half_life), so the estimate follows a drifting workload.
 * half_life = 0 means no forgetting (plain sums).
 *
 * Ownership: afd_workload_new allocates, afd_workload_free releases (NULL ok).
 * The update path never allocates. One owner; not thread-safe.
 */
#ifndef AFD_WORKLOAD_H
#define AFD_WORKLOAD_H

#include <stddef.h>
#include <stdint.h>

struct afd_workload;

struct afd_workload_stats {
    uint64_t requests;       /* requests accepted since creation */
    double effective_requests; /* sum of current weights (= requests w/o decay) */
    double theta;            /* tokens, time-averaged per-slot load */
    double sigma;            /* tokens, sd of the per-slot load */
    double mean_prompt;      /* tokens, weighted mean of P */
    double mean_decode;      /* tokens, weighted mean of D */
    double mean_residual;    /* tokens, E[D(D-1)/2] / E[D]: the mean age of
                                the requests in flight at a random step, and
                                so their mean decode still to come (renewal
                                symmetry); mean_decode - 1 for a geometric
                                D, far more for a heavy tail */
};

/*
 * Serialisable state, so that the daemon can snapshot and restore an
 * estimator exactly. Plain numbers; the sums are already decayed.
 */
struct afd_workload_state {
    double half_life;       /* requests; 0 = no forgetting */
    uint64_t requests;
    double weight;          /* sum of weights */
    double sum_p;           /* sum w*P */
    double sum_d;           /* sum w*D */
    double sum_theta;       /* sum w*(D*P + D(D-1)/2) */
    double sum_m2;          /* sum w*(D*P^2 + P*D(D-1) + D(D-1)(2D-1)/6) */
    double sum_pd;          /* sum w*D*P; 0 with sum_p > 0: a state from
                               before it was kept, imported as if D were
                               geometric (mean_residual = mean_decode - 1) */
};

/*
 * Creates an estimator. half_life is in requests, 0 for none; it must be
 * finite and >= 0 (else NULL with a message in err).
 */
struct afd_workload *afd_workload_new(double half_life, char *err);
void afd_workload_free(struct afd_workload *w);

/*
 * Adds one finished request. prompt must be finite and >= 0, decode finite and
 * >= 1 (a request that decoded no token never held a slot in the decode
 * phase). Returns AFD_OK, or AFD_EINVAL with state unchanged.
 */
int afd_workload_add(struct afd_workload *w, double prompt, double decode,
                     char *err);

/* Current estimate. AFD_EEMPTY when no request was added yet. */
int afd_workload_stats(const struct afd_workload *w,
                       struct afd_workload_stats *out, char *err);

/* Forget everything (keeps the half-life). */
void afd_workload_reset(struct afd_workload *w);

void afd_workload_export(const struct afd_workload *w,
                         struct afd_workload_state *out);
/* Replaces w's state; AFD_EINVAL if the state is inconsistent (NaN, < 0). */
int afd_workload_import(struct afd_workload *w,
                        const struct afd_workload_state *in, char *err);

/*
 * Closed forms for a prompt of mean mean_prompt and variance var_prompt,
 * independent of a geometric decode length D ~ Geo(p) on {1, 2, ...} with
 * mean mean_decode = 1/p:
 *     theta   = E[P] + (1-p)/p
 *     sigma^2 = Var(P) + (1-p)/p^2
 * (the age of a slot at a random step is geometric on {0, 1, ...}).
 * Returns AFD_EINVAL unless mean_prompt >= 0, var_prompt >= 0 and
 * mean_decode >= 1, all finite.
 */
int afd_workload_geometric(double mean_prompt, double var_prompt,
                           double mean_decode, double *theta, double *sigma,
                           char *err);

/*
 * Live view: mean and sample standard deviation of the current per-instance
 * token loads T_j (n >= 1; sd is 0 for n == 1). AFD_EINVAL on NaN/negative.
 */
int afd_load_spread(const double *loads, size_t n, double *mean, double *sd,
                    char *err);

#endif
