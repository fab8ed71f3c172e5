/*
 * gen.h - request generators for the simulator: where each slot's (P, D)
 * comes from.
 *
 * One spec syntax, KIND:KEY=VALUE,KEY=VALUE:
 *   geometric:prompt=P,decode=D[,prompt_dist=fixed|exp]
 *       decode ~ Geometric on {1, 2, ...} with mean D (D >= 1)
 *   lognormal:prompt=P,decode=D,cv=C[,prompt_dist=...]
 *       decode = max(1, round(X)), X lognormal with mean D and coefficient of
 *       variation C > 0 (the rounding moves the mean by well under a token)
 *   pareto:prompt=P,decode=D,alpha=A[,prompt_dist=...]
 *       decode = max(1, round(X)), X Pareto(x_m, A) with mean D, A > 1;
 *       theta needs A > 2 and sigma A > 3 to exist
 *   fixed:prompt=P,decode=D        both integers, every request identical
 *   trace:PATH                     (P, D) pairs resampled jointly, uniformly,
 *                                  from any trace afd-sizer theta reads
 * prompt_dist=fixed (the default) gives every request exactly P prompt tokens
 * (P an integer); prompt_dist=exp draws the prompt from the discretised
 * exponential, geometric on {0, 1, ...} with mean P. Decode lengths are
 * capped at AFD_GEN_MAX_TOKENS so that loads stay exact in int64.
 *
 * Ownership: afd_gen_parse fills caller storage and may allocate (trace
 * arrays); afd_gen_release frees them (safe on a zeroed or failed struct).
 * A parsed generator is read-only afterwards and may be shared by threads;
 * each caller brings its own struct afd_rng.
 */
#ifndef AFD_SIM_GEN_H
#define AFD_SIM_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "integration/sim/rng.h"

#define AFD_GEN_SPEC_LEN   512
#define AFD_GEN_MAX_TOKENS 1000000000000LL /* 1e12 tokens, int64-safe */

enum afd_gen_kind {
    AFD_GEN_GEOMETRIC = 0,
    AFD_GEN_LOGNORMAL,
    AFD_GEN_PARETO,
    AFD_GEN_FIXED,
    AFD_GEN_TRACE,
};

struct afd_gen {
    enum afd_gen_kind kind;
    char spec[AFD_GEN_SPEC_LEN]; /* canonical spec, for reports */
    double prompt;               /* tokens, mean (or exact) prompt length */
    int prompt_exp; /* 1: prompt geometric on {0,..} with mean `prompt` */
    double decode;  /* tokens, mean decode length, >= 1 */
    double cv;      /* lognormal coefficient of variation */
    double alpha;   /* Pareto tail index */
    /* derived sampling constants */
    double log_q_prompt; /* log(P/(1+P)) for the exponential prompt */
    double log_q_decode; /* log(1 - 1/D) for the geometric decode */
    double ln_mu;        /* lognormal location */
    double ln_sigma;     /* lognormal scale */
    double pareto_xm;    /* Pareto scale x_m = D*(A-1)/A */
    /* trace: n resampled pairs (owned), pairs[2i] = P, pairs[2i+1] = D,
     * interleaved so that a draw touches one cache line */
    size_t n;
    int64_t *pairs;
};

/*
 * Parses spec (see above) into *out. Returns AFD_OK; AFD_EPARSE for a
 * malformed spec, unknown kind or key; AFD_EINVAL for a bad value; for
 * trace:PATH whatever afd_trace_load returns (AFD_EIO, AFD_EPARSE,
 * AFD_EEMPTY, AFD_ENOMEM). The message quotes the offending part.
 */
int afd_gen_parse(const char *spec, struct afd_gen *out, char *err);
void afd_gen_release(struct afd_gen *g);

/* Draws one request: prompt *p >= 0 and decode *d >= 1 tokens. */
void afd_gen_draw(const struct afd_gen *g, struct afd_rng *rng, int64_t *p,
                  int64_t *d);

/*
 * The generator's nominal mean prompt and mean decode (for a trace, the
 * sample means of the pairs), before rounding effects.
 */
void afd_gen_means(const struct afd_gen *g, double *prompt, double *decode);

/* The help text for the spec syntax (static). */
const char *afd_gen_help(void);

#endif
