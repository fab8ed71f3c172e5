/*
 * engine.h - the step simulator of one xA-yF bundle (model.md section 8).
 *
 * x Attention instances hold B decode slots each, always full: a finished
 * request is replaced in the same step by a new draw from the generator. A
 * slot with prompt P whose request started at step s0 carries load
 * P + (s - s0) at step s, for s0 <= s < s0 + D. Per step:
 *     T_j      = sum of the loads of instance j's B slots
 *     t_A,j    = t_A(T_j) * n_A,j          (one per Attention instance)
 *     t_C      = t_C(B or r*B) * n_C       (profile comm mode)
 *     t_F,k    = t_F(r*B) * n_F,k          (r = x/y tokens share per FFN)
 *     step     = max(max_j t_A,j, t_C, max_k t_F,k)
 * with n_* = 1, or independent lognormal factors of mean 1 and coefficient of
 * variation noise_cv. Every slot decodes one token per step, so a step yields
 * x*B tokens and throughput per device is x*B*steps / (sum of steps * (x+y)).
 *
 * Bookkeeping is independent of B: every active slot ages by one token per
 * step, so T_j(s+1) = T_j(s) + B - sum over requests finishing at s+1 of
 * (P_old + D_old - P_new); slots sit in a calendar queue by finishing
 * step (a ring of 4096 bucket lists, far-future entries rescanned once per
 * wrap), so a step costs O(x + completions), not O(x*B). Slot identity does
 * not matter to the loads (an instance's load is a sum over its requests),
 * so the order in which one step's completions are handled changes nothing.
 *
 * Start state: each slot gets a fresh draw (P, D) already aged by a uniform
 * 0..D-1 steps, which is near the stationary state; the warm-up steps remove
 * the rest and are not counted. Instance j draws its requests (and noise)
 * from its own stream of the seed, so runs that differ only in x share the
 * requests of their common instances (common random numbers in a sweep).
 *
 * Ownership: afd_sim_new allocates, afd_sim_free releases (NULL ok). The
 * generator and profile must outlive the simulator; the optional workload
 * estimator `drawn` receives every request finishing in a measured step.
 * One owner per simulator; different simulators may run in different
 * threads if they share nothing writable (give each its own `drawn`).
 */
#ifndef AFD_SIM_ENGINE_H
#define AFD_SIM_ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "estimator/profile.h"
#include "estimator/workload.h"
#include "integration/sim/gen.h"

#define AFD_SIM_MAX_SLOTS       (1L << 24) /* x*B cap: ~0.5 GB of slot state */
#define AFD_SIM_MAX_BATCHES     1024
#define AFD_SIM_DEFAULT_BATCHES 32

enum afd_sim_stage {
    AFD_SIM_ATTENTION = 0, /* same order as enum afd_regime */
    AFD_SIM_COMM = 1,
    AFD_SIM_FFN = 2,
};

struct afd_sim_config {
    const struct afd_profile *profile; /* validated profile */
    const struct afd_gen *gen;         /* request generator */
    long batch;      /* B, slots per Attention instance, >= 1 */
    long attention;  /* x, Attention instances, >= 1 */
    long ffn;        /* y, FFN instances, >= 1 */
    uint64_t steps;  /* measured steps, >= batches */
    uint64_t warmup; /* steps simulated first and not counted */
    uint64_t seed;   /* same seed, same output */
    double noise_cv; /* per-stage multiplicative noise, 0 = none */
    int batches;     /* batch means for the CI, 2..AFD_SIM_MAX_BATCHES */
    struct afd_workload *drawn; /* optional, gets finished requests */
};

/* Defaults: B 256, x 10, y 1, 200000 steps, 20000 warm-up, seed 1, no
 * noise, 32 batches, no estimator. profile and gen are set as given. */
void afd_sim_config_init(struct afd_sim_config *c,
                         const struct afd_profile *profile,
                         const struct afd_gen *gen);

/* Checks ranges; AFD_EINVAL naming the field and value. */
int afd_sim_config_check(const struct afd_sim_config *c, char *err);

/* What one step did. */
struct afd_sim_step_info {
    double t_attention;       /* ms, slowest Attention instance */
    double t_comm;            /* ms */
    double t_ffn;             /* ms, slowest FFN instance */
    double step;              /* ms, max of the three */
    enum afd_sim_stage bound; /* stage that set the step (ties: A, C, F) */
};

struct afd_sim_result {
    long attention;               /* x */
    long ffn;                     /* y */
    double ratio;                 /* r = x/y */
    uint64_t steps;               /* measured steps */
    double total_ms;              /* sum of measured step times */
    double mean_step_ms;          /* total_ms / steps */
    double throughput_per_device; /* tokens/ms/device */
    double ci95;                  /* half-width of the 95% CI of the above */
    double eta[3];                /* idle ratios eta_A, eta_C, eta_F */
    double bound_share[3];        /* share of steps each stage set the time */
    double mean_load;             /* tokens, mean per-instance load T_j */
    double load_spread;           /* tokens, rms sd of T_j across instances */
    uint64_t finished;            /* requests finished in measured steps */
};

struct afd_sim;

/* Allocates and sets up the start state (step 0). NULL + message on error. */
struct afd_sim *afd_sim_new(const struct afd_sim_config *c, char *err);
void afd_sim_free(struct afd_sim *s);

/*
 * Times the current step with the current loads, then advances every slot
 * by one token and replaces the finished requests. Never allocates. `count`
 * says whether this step is measured (statistics, finished requests to
 * `drawn`).
 */
void afd_sim_step(struct afd_sim *s, bool count,
                  struct afd_sim_step_info *info);

/* Current step index and per-instance loads (x values, read-only). */
int64_t afd_sim_now(const struct afd_sim *s);
const int64_t *afd_sim_loads(const struct afd_sim *s);

/*
 * Recomputes the loads from scratch by walking every slot (O(x*B)), into
 * out[x]: the reference for the incremental bookkeeping in tests. A slot
 * whose request should not be active poisons its instance's sum.
 */
void afd_sim_naive_loads(const struct afd_sim *s, int64_t *out);

/* Requests in the calendar per instance into out[x] (always B), for tests. */
void afd_sim_count_requests(const struct afd_sim *s, long *out);

/*
 * Runs warm-up then measured steps and summarises them (statistics from
 * the measured steps only). Returns AFD_OK, AFD_EINVAL or AFD_ENOMEM.
 */
int afd_sim_run(const struct afd_sim_config *c, struct afd_sim_result *out,
                char *err);

/* Two-sided 95% Student t quantile for df >= 1 degrees of freedom. */
double afd_sim_t95(int df);

#endif
