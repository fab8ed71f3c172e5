/*
 * loadgen_pool.c - afd-loadgen's messages (see integration/loadgen.h): the
 * population, the workload the values are drawn from and the pre-packed
 * TelemetryBatch pools that integration/loadgen_stream.c sends.
 *
 * Each connection pre-packs a pool of messages covering its range twice
 * (fixed-seed RNG, values drawn from the paper-v1-fit profile and an
 * Azure-conv-like workload). Threads: a pool belongs to one connection,
 * used by one thread at a time.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <grpc/grpc.h>

#include "estimator/base/error.h"
#include "integration/loadgen.h"
#include "proto/afd_sizer.pb-c.h"
#include "plugin/sys/os.h"

/* A pool holds its range twice; ms per decode step (step counters). */
#define LG_POOL_ROUNDS 2
#define LG_STEP_MS     20

/* ------------------------------------------------------------ helpers */

double afd_lg_now_s(void)
{
    return afd_clock_mono_s();
}

double afd_lg_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + 1e-6 * (double)ts.tv_nsec;
}

static uint64_t rng_next(struct afd_lg_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1): never 0, so logs are finite. */
static double rng_u01(struct afd_lg_rng *r)
{
    return ((double)(rng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static double rng_normal(struct afd_lg_rng *r)
{
    return sqrt(-2.0 * log(rng_u01(r))) * cos(2.0 * M_PI * rng_u01(r));
}

/* Geometric on {1, 2, ...} with the given mean (>= 1). */
static double rng_geometric(struct afd_lg_rng *r, double mean)
{
    double p = 1.0 / mean;

    if (p >= 1.0)
        return 1.0;
    return 1.0 + floor(log(rng_u01(r)) / log1p(-p));
}

/* max(0, v * (1 + rel * N(0,1))): a measured time with noise. */
static double noisy(struct afd_lg_rng *r, double v, double rel)
{
    double x = v * (1.0 + rel * rng_normal(r));

    return x > 0 ? x : v;
}

/*
 * Azure-conv-like (shared/traces/README: mean P 1155, mean D 211, theta
 * about 1226, sigma about 713), B = 64, ratio 6 (near r* = 5.9 of
 * paper-v1-fit at B = 64, theta = 600).
 */
void afd_lg_workload_default(struct afd_lg_workload *w, int ffn_ratio)
{
    w->batch = 64;
    w->theta = 1226;
    w->sigma = 713;
    w->prompt_s = 0.8;
    w->prompt_mu = log(1155.0) - 0.5 * 0.8 * 0.8;
    w->decode_mean = 211;
    w->noise = 0.03;
    w->ffn_ratio = ffn_ratio;
}

/* ------------------------------------------------------ the population */

/* Attention instances of deployment d (the first ones get the remainder). */
static int attn_of(const struct afd_lg_options *o, int d)
{
    return o->instances / o->deployments + (d < o->instances % o->deployments);
}

static int ffn_of(const struct afd_lg_options *o, int d)
{
    int a = attn_of(o, d);

    return a ? (a + o->ffn_ratio - 1) / o->ffn_ratio : 0;
}

long afd_lg_population(const struct afd_lg_options *o)
{
    long n = 0;
    int d;

    for (d = 0; d < o->deployments; d++)
        n += attn_of(o, d) + ffn_of(o, d);
    return n;
}

/* Global instance index g -> deployment, role and index within the role. */
static void locate(const struct afd_lg_options *o, long g, int *dep, bool *ffn,
                   int *k)
{
    int d;

    for (d = 0; d < o->deployments; d++) {
        long a = attn_of(o, d), f = ffn_of(o, d);
        if (g < a + f) {
            *dep = d;
            *ffn = g >= a;
            *k = (int)(g >= a ? g - a : g);
            return;
        }
        g -= a + f;
    }
    /* g < afd_lg_population(o) by construction; keep the outputs defined. */
    *dep = 0;
    *ffn = false;
    *k = 0;
}

static void fill_step(Afd__Sizer__V1__StepSample *s, char *id, bool ffn, int d,
                      int k, uint64_t step, const struct afd_lg_workload *w,
                      struct afd_lg_rng *r, int64_t t_ms)
{
    afd__sizer__v1__step_sample__init(s);
    snprintf(id, LG_ID_LEN, "lg%02d-%s-%05d", d, ffn ? "ffn" : "attn", k);
    s->instance_id = id;
    s->step = step;
    s->timestamp_ms = t_ms;
    if (ffn) {
        double n = noisy(r, w->ffn_ratio * w->batch, 0.02);
        s->role = AFD__SIZER__V1__ROLE__ROLE_FFN;
        s->ffn_tokens = n;
        s->ffn_ms = noisy(r, LG_PAPER->aF * n + LG_PAPER->bF, w->noise);
        s->comm_ms = noisy(r, LG_PAPER->aC * n + LG_PAPER->bC, w->noise);
    } else {
        double b = w->batch - floor(4 * rng_u01(r)); /* a few free slots */
        double t = b * w->theta + sqrt(b) * w->sigma * rng_normal(r);
        s->role = AFD__SIZER__V1__ROLE__ROLE_ATTENTION;
        s->batch_size = b;
        s->token_load = t > 0 ? t : 0;
        s->attention_ms =
            noisy(r, LG_PAPER->aA * s->token_load + LG_PAPER->bA, w->noise);
        s->comm_ms = noisy(r, LG_PAPER->aC * b + LG_PAPER->bC, w->noise);
    }
}

static void scratch_release(struct afd_lg_scratch *sc)
{
    free(sc->steps);
    free(sc->step_ptrs);
    free(sc->ids);
    free(sc->reqs);
    free(sc->req_ptrs);
    memset(sc, 0, sizeof(*sc));
}

static int scratch_init(struct afd_lg_scratch *sc, size_t cap, char *err)
{
    sc->cap = cap;
    sc->cap_req = cap; /* at most one finished request per slot-step */
    sc->steps = calloc(cap, sizeof(*sc->steps));
    sc->step_ptrs = calloc(cap, sizeof(*sc->step_ptrs));
    sc->ids = calloc(cap, sizeof(*sc->ids));
    sc->reqs = calloc(cap, sizeof(*sc->reqs));
    sc->req_ptrs = calloc(cap, sizeof(*sc->req_ptrs));
    if (!sc->steps || !sc->step_ptrs || !sc->ids || !sc->reqs ||
        !sc->req_ptrs) {
        scratch_release(sc);
        return afd_err(err, AFD_ENOMEM, "out of memory for %zu steps", cap);
    }
    return AFD_OK;
}

/*
 * Finished requests for n Attention step samples: each slot-step ends a
 * request with probability 1/decode_mean, so about n*B/decode_mean.
 */
static size_t fill_requests(struct afd_lg_scratch *sc, size_t n_attn,
                            const struct afd_lg_workload *w,
                            struct afd_lg_rng *r)
{
    double want = n_attn * w->batch / w->decode_mean;
    size_t n = (size_t)floor(want + rng_u01(r)), i;

    if (n > sc->cap_req)
        n = sc->cap_req;
    for (i = 0; i < n; i++) {
        afd__sizer__v1__finished_request__init(&sc->reqs[i]);
        sc->reqs[i].prompt_tokens =
            floor(exp(w->prompt_mu + w->prompt_s * rng_normal(r)));
        sc->reqs[i].decode_tokens = rng_geometric(r, w->decode_mean);
        sc->req_ptrs[i] = &sc->reqs[i];
    }
    return n;
}

/* Packs message i of p (see struct afd_lg_pool), stamped with the time now. */
void afd_lg_pool_pack(struct afd_lg_pool *p, size_t i)
{
    Afd__Sizer__V1__TelemetryBatch b = AFD__SIZER__V1__TELEMETRY_BATCH__INIT;
    struct afd_lg_scratch *sc = &p->sc;
    int64_t t_ms = (int64_t)afd_lg_wall_ms();
    long g = p->first[i];
    size_t n, n_attn = 0;
    char dep_name[32];
    int d = 0, k;
    bool ffn;

    for (n = 0; n < p->steps[i]; n++) {
        /* Step counters follow the clock; +1 for an instance's second
         * appearance in the pool keeps them distinct. */
        uint64_t step = (uint64_t)(t_ms / LG_STEP_MS) +
                        (uint64_t)((p->first[i] + (long)n) / p->len);
        locate(p->o, p->lo + g, &d, &ffn, &k);
        fill_step(&sc->steps[n], sc->ids[n], ffn, d, k, step, &p->w, &p->rng,
                  t_ms);
        sc->step_ptrs[n] = &sc->steps[n];
        n_attn += !ffn;
        g = (g + 1) % p->len;
    }
    snprintf(dep_name, sizeof(dep_name), "loadgen-%02d", d);
    b.deployment = dep_name;
    b.n_steps = n;
    b.steps = sc->step_ptrs;
    b.n_requests = fill_requests(sc, n_attn, &p->w, &p->rng);
    b.requests = sc->req_ptrs;
    if (p->msgs[i])
        grpc_byte_buffer_destroy(p->msgs[i]);
    p->msgs[i] = afd_grpc_pack(&b.base);
    p->requests[i] = b.n_requests;
    p->built[i] = afd_lg_now_s();
}

/*
 * Plans and packs the pool of the range [lo, hi): messages walk it from
 * the start, up to batch_steps samples each, never crossing a deployment
 * (a TelemetryBatch names one), until every instance appeared
 * LG_POOL_ROUNDS times; a range smaller than a batch repeats its instances.
 */
int afd_lg_pool_build(struct afd_lg_pool *p, const struct afd_lg_options *o,
                      const struct afd_lg_workload *w, long lo, long hi,
                      uint64_t seed, char *err)
{
    long len = hi - lo, done = 0, g = 0;
    size_t cap =
        (size_t)((len * LG_POOL_ROUNDS + o->batch_steps - 1) / o->batch_steps +
                 o->deployments * LG_POOL_ROUNDS + 1);

    p->o = o;
    p->w = *w;
    p->lo = lo;
    p->len = len;
    p->rng.s = seed;
    if (scratch_init(&p->sc, (size_t)o->batch_steps, err))
        return AFD_ENOMEM;
    p->msgs = calloc(cap, sizeof(*p->msgs));
    p->first = calloc(cap, sizeof(*p->first));
    p->steps = calloc(cap, sizeof(*p->steps));
    p->requests = calloc(cap, sizeof(*p->requests));
    p->built = calloc(cap, sizeof(*p->built));
    if (!p->msgs || !p->first || !p->steps || !p->requests || !p->built)
        return afd_err(err, AFD_ENOMEM, "out of memory for a pool of %zu", cap);
    while (done < len * LG_POOL_ROUNDS && p->n < cap) {
        size_t n = 0;
        int d0 = -1, d, k;
        bool ffn;
        p->first[p->n] = g;
        for (; n < p->sc.cap; n++, g = (g + 1) % len) {
            locate(o, lo + g, &d, &ffn, &k);
            if (d0 >= 0 && d != d0)
                break;
            d0 = d;
        }
        p->steps[p->n] = n;
        afd_lg_pool_pack(p, p->n);
        p->n++;
        done += (long)n;
    }
    return AFD_OK;
}

void afd_lg_pool_release(struct afd_lg_pool *p)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        grpc_byte_buffer_destroy(p->msgs[i]);
    free(p->msgs);
    free(p->first);
    free(p->steps);
    free(p->requests);
    free(p->built);
    scratch_release(&p->sc);
    memset(p, 0, sizeof(*p));
}
