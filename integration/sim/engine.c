/* engine.c - the step simulator: slots in a calendar queue, stage times. */
#include "integration/sim/engine.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

/* Calendar ring size (power of two, steps). Requests longer than this are
 * rescanned once per wrap: cheap because few are that long. */
#define CAL_BITS      12
#define CAL_SIZE      (1L << CAL_BITS)
#define CAL_MASK      (CAL_SIZE - 1)
#define NOISE_STREAM  (1ULL << 32) /* stream ids of the noise generators */
#define SHARED_STREAM (1ULL << 40)

/*
 * One slot, 32 bytes so that a completion touches one cache line. The load
 * at step s is pd - (finish - s): P + (s - start) with start = finish - D.
 */
struct slot {
    int64_t finish;   /* start + D: first step the request is gone */
    int64_t pd;       /* P + D, the load it would carry at step `finish` */
    int64_t prompt;   /* P */
    int32_t next;     /* calendar list link, -1 ends */
    int32_t instance; /* j, saves a division per completion */
};

struct afd_sim {
    struct afd_sim_config cfg;
    long x, y, b;
    int64_t now;
    int64_t *load;          /* [x] T_j at step `now` */
    struct slot *slot;      /* [x*B] */
    int32_t *head;          /* [CAL_SIZE] calendar bucket heads */
    struct afd_rng *rng;    /* [x] request stream per instance */
    struct afd_rng *nrng;   /* [x] noise stream per instance */
    struct afd_rng srng;    /* noise of communication and FFN */
    double t_comm;          /* ms, noiseless */
    double t_ffn;           /* ms, noiseless */
    double ln_mu, ln_sigma; /* noise factor: exp(ln_mu + ln_sigma*Z) */
    /* statistics of measured steps */
    uint64_t counted;
    uint64_t batch_len;
    double total, sum_a, sum_c, sum_f;
    uint64_t bound[3];
    double sum_load, sum_var;
    uint64_t finished;
    double batch_sum[AFD_SIM_MAX_BATCHES];
};

void afd_sim_config_init(struct afd_sim_config *c,
                         const struct afd_profile *profile,
                         const struct afd_gen *gen)
{
    memset(c, 0, sizeof(*c));
    c->profile = profile;
    c->gen = gen;
    c->batch = 256;
    c->attention = 10;
    c->ffn = 1;
    c->steps = 200000;
    c->warmup = 20000;
    c->seed = 1;
    c->noise_cv = 0;
    c->batches = AFD_SIM_DEFAULT_BATCHES;
}

int afd_sim_config_check(const struct afd_sim_config *c, char *err)
{
    if (!c->profile || !c->gen)
        return afd_err(err, AFD_EINVAL,
                       "simulator needs a profile and a "
                       "workload");
    if (c->batch < 1)
        return afd_err(err, AFD_EINVAL, "batch must be >= 1, got %ld",
                       c->batch);
    if (c->attention < 1)
        return afd_err(err, AFD_EINVAL,
                       "attention instances must be >= 1, got %ld",
                       c->attention);
    if (c->ffn < 1)
        return afd_err(err, AFD_EINVAL, "ffn instances must be >= 1, got %ld",
                       c->ffn);
    if (c->batch > AFD_SIM_MAX_SLOTS / c->attention)
        return afd_err(err, AFD_EINVAL,
                       "attention instances * batch must be <= %ld, got "
                       "%ld * %ld",
                       AFD_SIM_MAX_SLOTS, c->attention, c->batch);
    if (c->batches < 2 || c->batches > AFD_SIM_MAX_BATCHES)
        return afd_err(err, AFD_EINVAL, "batches must be in 2..%d, got %d",
                       AFD_SIM_MAX_BATCHES, c->batches);
    if (c->steps < (uint64_t)c->batches)
        return afd_err(err, AFD_EINVAL,
                       "steps must be >= %d (one per batch mean), got %llu",
                       c->batches, (unsigned long long)c->steps);
    if (!(c->noise_cv >= 0) || !isfinite(c->noise_cv) || c->noise_cv > 10)
        return afd_err(err, AFD_EINVAL, "noise cv must be in [0, 10], got %g",
                       c->noise_cv);
    return afd_profile_validate(c->profile, err);
}

static inline void cal_insert(struct afd_sim *s, int32_t i)
{
    long bucket = (long)(s->slot[i].finish & CAL_MASK);

    s->slot[i].next = s->head[bucket];
    s->head[bucket] = i;
}

/* Gives slot i of instance j a new request starting at step t0 - age. */
static inline void slot_fill(struct afd_sim *s, int32_t i, long j, int64_t t0,
                             bool random_age)
{
    struct slot *sl = &s->slot[i];
    int64_t p, d, age = 0;

    afd_gen_draw(s->cfg.gen, &s->rng[j], &p, &d);
    if (random_age)
        age = (int64_t)afd_rng_below(&s->rng[j], (uint64_t)d);
    sl->prompt = p;
    sl->pd = p + d;
    sl->finish = t0 - age + d;
    sl->instance = (int32_t)j;
    s->load[j] += p + age;
    cal_insert(s, i);
}

void afd_sim_free(struct afd_sim *s)
{
    if (!s)
        return;
    free(s->load);
    free(s->slot);
    free(s->head);
    free(s->rng);
    free(s->nrng);
    free(s);
}

struct afd_sim *afd_sim_new(const struct afd_sim_config *c, char *err)
{
    struct afd_sim *s;
    size_t n;
    long j, k;

    if (afd_sim_config_check(c, err))
        return NULL;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto nomem;
    s->cfg = *c;
    s->x = c->attention;
    s->y = c->ffn;
    s->b = c->batch;
    n = (size_t)(s->x * s->b);
    s->load = calloc((size_t)s->x, sizeof(*s->load));
    s->slot = malloc(n * sizeof(*s->slot));
    s->head = malloc(CAL_SIZE * sizeof(*s->head));
    s->rng = malloc((size_t)s->x * sizeof(*s->rng));
    s->nrng = malloc((size_t)s->x * sizeof(*s->nrng));
    if (!s->load || !s->slot || !s->head || !s->rng || !s->nrng)
        goto nomem;
    for (k = 0; k < CAL_SIZE; k++)
        s->head[k] = -1;
    for (j = 0; j < s->x; j++) {
        afd_rng_seed(&s->rng[j], c->seed, (uint64_t)j);
        afd_rng_seed(&s->nrng[j], c->seed, NOISE_STREAM + (uint64_t)j);
    }
    afd_rng_seed(&s->srng, c->seed, SHARED_STREAM);
    for (j = 0; j < s->x; j++)
        for (k = 0; k < s->b; k++)
            slot_fill(s, (int32_t)(j * s->b + k), j, 0, true);
    s->t_comm = afd_profile_t_comm(c->profile, (double)s->b,
                                   (double)s->x / (double)s->y);
    s->t_ffn = afd_profile_t_ffn(c->profile,
                                 (double)s->x * (double)s->b / (double)s->y);
    s->ln_sigma = sqrt(log1p(c->noise_cv * c->noise_cv));
    s->ln_mu = -0.5 * s->ln_sigma * s->ln_sigma;
    s->batch_len = c->steps / (uint64_t)c->batches;
    return s;
nomem:
    afd_sim_free(s);
    afd_err(err, AFD_ENOMEM, "simulator: out of memory for %ld x %ld slots",
            c->attention, c->batch);
    return NULL;
}

static inline double noise(struct afd_sim *s, struct afd_rng *g)
{
    return exp(s->ln_mu + s->ln_sigma * afd_rng_normal(g));
}

/* Attention stage: slowest instance, and the sum over instances. */
static double attention_times(struct afd_sim *s, double *sum_t)
{
    const struct afd_profile *p = s->cfg.profile;
    int64_t tmax = s->load[0];
    long j;

    if (s->cfg.noise_cv > 0) {
        double mx = 0, sum = 0;
        for (j = 0; j < s->x; j++) {
            double t = afd_profile_t_attention(p, (double)s->load[j]) *
                       noise(s, &s->nrng[j]);
            sum += t;
            mx = t > mx ? t : mx;
        }
        *sum_t = sum;
        return mx;
    }
    int64_t tsum = 0;
    for (j = 0; j < s->x; j++) {
        tsum += s->load[j];
        tmax = s->load[j] > tmax ? s->load[j] : tmax;
    }
    *sum_t = p->aA * (double)tsum + (double)s->x * p->bA;
    return afd_profile_t_attention(p, (double)tmax);
}

static void count_step(struct afd_sim *s, const struct afd_sim_step_info *in,
                       double sum_a, double mean_f)
{
    uint64_t bi = s->batch_len ? s->counted / s->batch_len : 0;
    double m = 0, v = 0;
    int64_t tsum = 0;
    long j;

    if (bi >= (uint64_t)s->cfg.batches)
        bi = (uint64_t)s->cfg.batches - 1; /* remainder joins the last */
    s->batch_sum[bi] += in->step;
    s->total += in->step;
    s->sum_a += sum_a;
    s->sum_c += in->t_comm;
    s->sum_f += mean_f;
    s->bound[in->bound]++;
    for (j = 0; j < s->x; j++)
        tsum += s->load[j];
    m = (double)tsum / (double)s->x;
    for (j = 0; s->x > 1 && j < s->x; j++)
        v += ((double)s->load[j] - m) * ((double)s->load[j] - m);
    s->sum_load += m;
    s->sum_var += s->x > 1 ? v / (s->x - 1) : 0;
    s->counted++;
}

/* Moves to step now+1: ages every slot, replaces the finished requests. */
static void advance(struct afd_sim *s, bool count)
{
    int64_t t = s->now + 1;
    long bucket = (long)(t & CAL_MASK);
    int32_t i = s->head[bucket], nx;
    long j;

    for (j = 0; j < s->x; j++)
        s->load[j] += s->b;
    s->head[bucket] = -1;
    for (; i >= 0; i = nx) {
        struct slot *sl = &s->slot[i];
        nx = sl->next;
        if (sl->finish != t) { /* a later wrap of the ring */
            cal_insert(s, i);
            continue;
        }
        j = sl->instance;
        /* at step t the request would carry P + D; it leaves instead */
        s->load[j] -= sl->pd;
        if (count) {
            s->finished++;
            if (s->cfg.drawn)
                afd_workload_add(s->cfg.drawn, (double)sl->prompt,
                                 (double)(sl->pd - sl->prompt), NULL);
        }
        slot_fill(s, i, j, t, false);
    }
    s->now = t;
}

void afd_sim_step(struct afd_sim *s, bool count, struct afd_sim_step_info *info)
{
    double sum_a, ta, tc = s->t_comm, tf = s->t_ffn, mean_f = s->t_ffn;
    long k;

    ta = attention_times(s, &sum_a);
    if (s->cfg.noise_cv > 0) {
        tc *= noise(s, &s->srng);
        mean_f = 0;
        tf = 0;
        for (k = 0; k < s->y; k++) {
            double f = s->t_ffn * noise(s, &s->srng);
            mean_f += f / (double)s->y;
            tf = f > tf ? f : tf;
        }
    }
    info->t_attention = ta;
    info->t_comm = tc;
    info->t_ffn = tf;
    if (ta >= tc && ta >= tf) {
        info->bound = AFD_SIM_ATTENTION;
        info->step = ta;
    } else if (tc >= tf) {
        info->bound = AFD_SIM_COMM;
        info->step = tc;
    } else {
        info->bound = AFD_SIM_FFN;
        info->step = tf;
    }
    if (count)
        count_step(s, info, sum_a, mean_f);
    advance(s, count);
}

int64_t afd_sim_now(const struct afd_sim *s)
{
    return s->now;
}

const int64_t *afd_sim_loads(const struct afd_sim *s)
{
    return s->load;
}

void afd_sim_naive_loads(const struct afd_sim *s, int64_t *out)
{
    long j, k;

    for (j = 0; j < s->x; j++) {
        int64_t sum = 0;
        for (k = 0; k < s->b; k++) {
            const struct slot *sl = &s->slot[j * s->b + k];
            int64_t d = sl->pd - sl->prompt, start = sl->finish - d;
            if (!(start <= s->now && s->now < sl->finish) || sl->instance != j)
                sum = INT64_MIN / 2; /* poison: slot not active */
            else
                sum += sl->prompt + (s->now - start);
        }
        out[j] = sum;
    }
}

void afd_sim_count_requests(const struct afd_sim *s, long *out)
{
    long j, i, b;

    /* walks the calendar, so a slot lost from (or doubled in) the queue
     * shows up as a count other than B */
    for (j = 0; j < s->x; j++)
        out[j] = 0;
    for (b = 0; b < CAL_SIZE; b++)
        for (i = s->head[b]; i >= 0; i = s->slot[i].next)
            out[s->slot[i].instance]++;
}

double afd_sim_t95(int df)
{
    /* Exact table for small df, Cornish-Fisher expansion beyond (error
     * below 1e-4 for df >= 10). */
    static const double table[] = {12.706, 4.303, 3.182, 2.776, 2.571,
                                   2.447,  2.365, 2.306, 2.262, 2.228};
    const double z = 1.959963985;
    double d = df;

    if (df < 1)
        return INFINITY;
    if (df <= 10)
        return table[df - 1];
    return z + (z * z * z + z) / (4 * d) +
           (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * d * d) +
           (3 * pow(z, 7) + 19 * pow(z, 5) + 17 * z * z * z - 15 * z) /
               (384 * d * d * d);
}

static void summarise(const struct afd_sim *s, struct afd_sim_result *r)
{
    double n = (double)s->counted, xb = (double)s->x * (double)s->b;
    double mean_b = 0, var = 0, hw;
    int nb = s->cfg.batches, i;

    memset(r, 0, sizeof(*r));
    r->attention = s->x;
    r->ffn = s->y;
    r->ratio = (double)s->x / (double)s->y;
    r->steps = s->counted;
    r->total_ms = s->total;
    r->mean_step_ms = s->total / n;
    r->throughput_per_device = xb * n / (s->total * (double)(s->x + s->y));
    /* batch means of the step time, then the delta method for 1/mean */
    for (i = 0; i < nb; i++) {
        double len =
            i == nb - 1
                ? (double)(s->counted - s->batch_len * (uint64_t)(nb - 1))
                : (double)s->batch_len;
        double m = s->batch_sum[i] / len;
        double d = m - mean_b;
        mean_b += d / (i + 1);
        var += d * (m - mean_b);
    }
    var /= nb - 1;
    hw = afd_sim_t95(nb - 1) * sqrt(var / nb);
    r->ci95 = r->throughput_per_device * hw / r->mean_step_ms;
    r->eta[0] = 1 - s->sum_a / ((double)s->x * s->total);
    r->eta[1] = 1 - s->sum_c / s->total;
    r->eta[2] = 1 - s->sum_f / s->total;
    for (i = 0; i < 3; i++)
        r->bound_share[i] = (double)s->bound[i] / n;
    r->mean_load = s->sum_load / n;
    r->load_spread = sqrt(s->sum_var / n);
    r->finished = s->finished;
}

int afd_sim_run(const struct afd_sim_config *c, struct afd_sim_result *out,
                char *err)
{
    struct afd_sim_step_info info;
    struct afd_sim *s = afd_sim_new(c, err);
    uint64_t k;

    if (!s)
        return afd_sim_config_check(c, NULL) ? AFD_EINVAL : AFD_ENOMEM;
    for (k = 0; k < c->warmup; k++)
        afd_sim_step(s, false, &info);
    for (k = 0; k < c->steps; k++)
        afd_sim_step(s, true, &info);
    summarise(s, out);
    afd_sim_free(s);
    return AFD_OK;
}
