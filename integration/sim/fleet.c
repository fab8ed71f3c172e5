/* fleet.c - the resizable deployment: slots, calendar, waiting pool. */
#include "integration/sim/fleet.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include <math.h>

#include "estimator/base/error.h"

#define CAL_BITS 12
#define CAL_SIZE (1L << CAL_BITS)
#define CAL_MASK (CAL_SIZE - 1)

/* Mean lifetimes of renewal walk behind each slot of a start: the age
 * distribution's error after L lifetimes is about e^-L on geometric
 * decodes; heavier tails forget more slowly. */
#define AFD_FLEET_AGED_LIVES 20.0

/* One slot. Load at step s is base + s; the request leaves at `finish`. */
struct fslot {
    int64_t finish;
    int64_t base;
    int64_t prompt; /* P */
    int64_t decode; /* D */
    int64_t born;   /* tokens decoded before the request entered the sim */
    int32_t prev, next;
    int32_t instance;
    int32_t active;
};

/* A handed-back request: resumes with `done` tokens already decoded. */
struct waiting {
    int64_t prompt, decode, done, born;
};

struct afd_fleet {
    const struct afd_profile *profile;
    long cap_x, cap_b;
    long x, y, b;
    const struct afd_gen *gen;
    uint64_t seed;
    int64_t now;
    int64_t *load;       /* [cap_x] */
    struct fslot *slot;  /* [cap_x*cap_b], id = j*cap_b + k */
    int32_t *head;       /* [CAL_SIZE] */
    struct afd_rng *rng; /* [cap_x] */
    struct waiting *wq;  /* ring [cap_x*cap_b] */
    size_t wq_cap, wq_head, wq_n;
    double t_comm, t_ffn;
    double finished_tokens; /* sum over finished requests of D - born */
    struct afd_fleet_totals tot;
    afd_fleet_finish_fn on_finish;
    void *on_finish_ctx;
    bool started;
    int64_t aged_horizon; /* steps of renewal walk behind a start's slots */
    int64_t aged_span;    /* its end drawn over this many more steps */
    struct afd_fleet_hw hw;
    struct afd_rng noise;
    double start_s;  /* scenario time of the phase start */
    double phase_ms; /* simulated ms since the phase start */
    double scale[3]; /* this step's drift x noise per stage */
};

static void cal_insert(struct afd_fleet *f, int32_t i)
{
    long bucket = (long)(f->slot[i].finish & CAL_MASK);
    int32_t h = f->head[bucket];

    f->slot[i].prev = -1;
    f->slot[i].next = h;
    if (h >= 0)
        f->slot[h].prev = i;
    f->head[bucket] = i;
}

static void cal_remove(struct afd_fleet *f, int32_t i)
{
    struct fslot *s = &f->slot[i];

    if (s->prev >= 0)
        f->slot[s->prev].next = s->next;
    else
        f->head[s->finish & CAL_MASK] = s->next;
    if (s->next >= 0)
        f->slot[s->next].prev = s->prev;
}

/* Pushes a request to the front of the waiting pool (capacity suffices:
 * active + waiting requests never exceed cap_x*cap_b). */
static void wq_push_front(struct afd_fleet *f, const struct waiting *w)
{
    assert(f->wq_n < f->wq_cap);
    f->wq_head = (f->wq_head + f->wq_cap - 1) % f->wq_cap;
    f->wq[f->wq_head] = *w;
    f->wq_n++;
}

static void wq_pop_front(struct afd_fleet *f, struct waiting *w)
{
    *w = f->wq[f->wq_head];
    f->wq_head = (f->wq_head + 1) % f->wq_cap;
    f->wq_n--;
}

/* Gives slot i (instance j) a request at step t: the waiting pool's front,
 * else a fresh draw, or when `aged` the request a long-running slot holds. */
static void slot_fill(struct afd_fleet *f, int32_t i, long j, int64_t t,
                      bool aged)
{
    struct fslot *s = &f->slot[i];
    struct waiting w = {0, 1, 0, 0};

    if (f->wq_n > 0) {
        wq_pop_front(f, &w);
    } else {
        afd_gen_draw(f->gen, &f->rng[j], &w.prompt, &w.decode);
        if (aged) {
            /* The request a long-running slot holds at a random step is
             * the one straddling it in the slot's renewal sequence: long
             * requests are met in proportion to their length, and are
             * part done. Walk the sequence from a renewal point over
             * many lifetimes (its start is forgotten), ending at a step
             * drawn over one mean lifetime (else equal fixed lengths
             * would all line up); drawing one request and ageing it
             * uniformly would under-weight the long ones by their
             * length (on geometric decodes, half the stationary age and
             * half the remaining life). */
            int64_t at = 0, end = f->aged_horizon +
                                  (int64_t)afd_rng_below(
                                      &f->rng[j], (uint64_t)f->aged_span);

            while (at + w.decode <= end) {
                at += w.decode;
                afd_gen_draw(f->gen, &f->rng[j], &w.prompt, &w.decode);
            }
            w.done = end - at;
        }
        w.born = w.done;
    }
    s->prompt = w.prompt;
    s->decode = w.decode;
    s->born = w.born;
    s->base = w.prompt + w.done - t;
    s->finish = t + w.decode - w.done;
    s->instance = (int32_t)j;
    s->active = 1;
    f->load[j] += w.prompt + w.done;
    cal_insert(f, i);
}

/* Takes slot i's request out and puts it at the front of the pool. */
static void slot_hand_back(struct afd_fleet *f, int32_t i)
{
    struct fslot *s = &f->slot[i];
    int64_t load = s->base + f->now;
    struct waiting w = {s->prompt, s->decode, load - s->prompt, s->born};

    cal_remove(f, i);
    f->load[s->instance] -= load;
    s->active = 0;
    wq_push_front(f, &w);
}

static void stage_constants(struct afd_fleet *f)
{
    f->t_comm = afd_profile_t_comm(f->profile, (double)f->b,
                                   (double)f->x / (double)f->y);
    f->t_ffn = afd_profile_t_ffn(f->profile,
                                 (double)f->x * (double)f->b / (double)f->y);
}

void afd_fleet_free(struct afd_fleet *f)
{
    if (!f)
        return;
    free(f->load);
    free(f->slot);
    free(f->head);
    free(f->rng);
    free(f->wq);
    free(f);
}

struct afd_fleet *afd_fleet_new(const struct afd_profile *profile,
                                long max_attention, long max_batch, char *err)
{
    struct afd_fleet *f;
    size_t n;
    long k;

    if (max_attention < 1 || max_batch < 1 ||
        max_batch > AFD_SIM_MAX_SLOTS / max_attention) {
        afd_err(err, AFD_EINVAL,
                "fleet capacity must be 1..%ld slots, got %ld instances x "
                "%ld slots",
                AFD_SIM_MAX_SLOTS, max_attention, max_batch);
        return NULL;
    }
    if (afd_profile_validate(profile, err))
        return NULL;
    n = (size_t)(max_attention * max_batch);
    f = calloc(1, sizeof(*f));
    if (!f)
        goto nomem;
    f->profile = profile;
    f->cap_x = max_attention;
    f->cap_b = max_batch;
    f->y = 1;
    f->load = calloc((size_t)max_attention, sizeof(*f->load));
    f->slot = calloc(n, sizeof(*f->slot));
    f->head = malloc(CAL_SIZE * sizeof(*f->head));
    f->rng = calloc((size_t)max_attention, sizeof(*f->rng));
    f->wq = malloc(n * sizeof(*f->wq));
    f->wq_cap = n;
    if (!f->load || !f->slot || !f->head || !f->rng || !f->wq)
        goto nomem;
    for (k = 0; k < CAL_SIZE; k++)
        f->head[k] = -1;
    return f;
nomem:
    afd_fleet_free(f);
    afd_err(err, AFD_ENOMEM, "fleet: out of memory for %ld x %ld slots",
            max_attention, max_batch);
    return NULL;
}

/* Adds or cuts slots of every active instance to reach batch nb. */
static void rebatch(struct afd_fleet *f, long nb)
{
    long j, k;

    if (nb < f->b) /* cut from the highest slot down, last instance first */
        for (j = f->x - 1; j >= 0; j--)
            for (k = f->b - 1; k >= nb; k--)
                slot_hand_back(f, (int32_t)(j * f->cap_b + k));
    if (nb > f->b)
        for (j = 0; j < f->x; j++)
            for (k = f->b; k < nb; k++)
                slot_fill(f, (int32_t)(j * f->cap_b + k), j, f->now, false);
    f->b = nb;
}

int afd_fleet_set_phase(struct afd_fleet *f, const struct afd_fleet_phase *ph,
                        char *err)
{
    long j;

    if (!ph->gen)
        return afd_err(err, AFD_EINVAL, "phase needs a workload");
    if (ph->batch < 1 || ph->batch > f->cap_b)
        return afd_err(err, AFD_EINVAL, "batch must be in 1..%ld, got %ld",
                       f->cap_b, ph->batch);
    if (ph->ffn < 1 || ph->ffn > 1000000)
        return afd_err(err, AFD_EINVAL,
                       "ffn instances must be in 1..1000000, got %ld", ph->ffn);
    f->gen = ph->gen;
    f->seed = ph->seed;
    for (j = 0; j < f->cap_x; j++)
        afd_rng_seed(&f->rng[j], ph->seed, (uint64_t)j);
    f->y = ph->ffn;
    f->start_s = ph->start_s;
    f->phase_ms = 0;
    rebatch(f, ph->batch);
    stage_constants(f);
    return AFD_OK;
}

int afd_fleet_start(struct afd_fleet *f, long attention, char *err)
{
    double mean_p, mean_d;
    long j, k;

    if (f->started || !f->gen)
        return afd_err(err, AFD_ESTATE,
                       "fleet: start needs a phase and no instance yet");
    if (attention < 1 || attention > f->cap_x)
        return afd_err(err, AFD_EINVAL,
                       "attention instances must be in 1..%ld, got %ld",
                       f->cap_x, attention);
    afd_gen_means(f->gen, &mean_p, &mean_d);
    f->aged_horizon = (int64_t)ceil(AFD_FLEET_AGED_LIVES * mean_d);
    f->aged_span = mean_d >= 1 ? (int64_t)ceil(mean_d) : 1;
    for (j = 0; j < attention; j++)
        for (k = 0; k < f->b; k++)
            slot_fill(f, (int32_t)(j * f->cap_b + k), j, f->now, true);
    f->x = attention;
    f->started = true;
    stage_constants(f);
    return AFD_OK;
}

int afd_fleet_resize(struct afd_fleet *f, long attention, char *err)
{
    long j, k;

    if (!f->started)
        return afd_err(err, AFD_ESTATE, "fleet: resize before start");
    if (attention < 1 || attention > f->cap_x)
        return afd_err(err, AFD_EINVAL,
                       "attention instances must be in 1..%ld, got %ld",
                       f->cap_x, attention);
    for (j = f->x - 1; j >= attention; j--) {
        for (k = f->b - 1; k >= 0; k--)
            slot_hand_back(f, (int32_t)(j * f->cap_b + k));
        f->load[j] = 0;
    }
    for (j = f->x; j < attention; j++) {
        f->load[j] = 0;
        for (k = 0; k < f->b; k++)
            slot_fill(f, (int32_t)(j * f->cap_b + k), j, f->now, false);
    }
    f->x = attention;
    stage_constants(f);
    return AFD_OK;
}

/* Moves to step now+1: ages every slot, replaces the finished requests. */
static void advance(struct afd_fleet *f)
{
    int64_t t = f->now + 1;
    long bucket = (long)(t & CAL_MASK), j;
    int32_t i = f->head[bucket], nx;

    for (j = 0; j < f->x; j++)
        f->load[j] += f->b;
    f->head[bucket] = -1;
    f->now = t; /* refills below start at t */
    for (; i >= 0; i = nx) {
        struct fslot *s = &f->slot[i];
        nx = s->next;
        if (s->finish != t) { /* a later wrap of the ring */
            cal_insert(f, i);
            continue;
        }
        j = s->instance;
        f->load[j] -= s->prompt + s->decode;
        f->finished_tokens += (double)(s->decode - s->born);
        f->tot.finished++;
        if (f->on_finish)
            f->on_finish(f->on_finish_ctx, s->prompt, s->decode);
        s->active = 0;
        slot_fill(f, i, j, t, false);
    }
}

/* Drift in force at the current scenario time, times this step's noise. */
static void hw_scale(struct afd_fleet *f)
{
    double t_s = f->start_s + f->phase_ms / 1000.0, s2;
    size_t i;
    int k;

    for (k = 0; k < 3; k++)
        f->scale[k] = 1.0;
    for (i = 0; i < f->hw.n_drift; i++)
        if (t_s >= f->hw.drift[i].at_s)
            f->scale[f->hw.drift[i].stage] *= f->hw.drift[i].factor;
    if (f->hw.noise_cv > 0) {
        s2 = log1p(f->hw.noise_cv * f->hw.noise_cv);
        for (k = 0; k < 3; k++)
            f->scale[k] *=
                exp(-0.5 * s2 + sqrt(s2) * afd_rng_normal(&f->noise));
    }
}

void afd_fleet_set_hardware(struct afd_fleet *f, const struct afd_fleet_hw *hw)
{
    f->hw = *hw;
    if (f->hw.n_drift > AFD_FLEET_MAX_DRIFT)
        f->hw.n_drift = AFD_FLEET_MAX_DRIFT;
    afd_rng_seed(&f->noise, hw->noise_seed, 0x6e6f697365ULL /* "noise" */);
}

double afd_fleet_stage_scale(const struct afd_fleet *f, int stage)
{
    return stage >= 0 && stage < 3 ? f->scale[stage] : 1.0;
}

void afd_fleet_step(struct afd_fleet *f, struct afd_sim_step_info *info)
{
    const struct afd_profile *p = f->profile;
    double t_comm, t_ffn;
    int64_t tmax;
    long j;

    assert(f->started);
    hw_scale(f);
    tmax = f->load[0];
    for (j = 1; j < f->x; j++)
        tmax = f->load[j] > tmax ? f->load[j] : tmax;
    info->t_attention =
        f->scale[AFD_SIM_ATTENTION] * afd_profile_t_attention(p, (double)tmax);
    info->t_comm = t_comm = f->scale[AFD_SIM_COMM] * f->t_comm;
    info->t_ffn = t_ffn = f->scale[AFD_SIM_FFN] * f->t_ffn;
    if (info->t_attention >= t_comm && info->t_attention >= t_ffn) {
        info->bound = AFD_SIM_ATTENTION;
        info->step = info->t_attention;
    } else if (t_comm >= t_ffn) {
        info->bound = AFD_SIM_COMM;
        info->step = t_comm;
    } else {
        info->bound = AFD_SIM_FFN;
        info->step = t_ffn;
    }
    f->phase_ms += info->step;
    f->tot.steps++;
    f->tot.tokens += (double)f->x * (double)f->b;
    f->tot.time_ms += info->step;
    f->tot.device_ms += info->step * (double)(f->x + f->y);
    f->tot.attention_ms += info->step * (double)f->x;
    f->tot.bound[info->bound]++;
    advance(f);
}

void afd_fleet_on_finish(struct afd_fleet *f, afd_fleet_finish_fn fn, void *ctx)
{
    f->on_finish = fn;
    f->on_finish_ctx = ctx;
}

long afd_fleet_attention(const struct afd_fleet *f)
{
    return f->x;
}

long afd_fleet_ffn(const struct afd_fleet *f)
{
    return f->y;
}

long afd_fleet_batch(const struct afd_fleet *f)
{
    return f->b;
}

int64_t afd_fleet_now(const struct afd_fleet *f)
{
    return f->now;
}

const int64_t *afd_fleet_loads(const struct afd_fleet *f)
{
    return f->load;
}

uint64_t afd_fleet_waiting(const struct afd_fleet *f)
{
    return f->wq_n;
}

void afd_fleet_totals(const struct afd_fleet *f, struct afd_fleet_totals *out)
{
    *out = f->tot;
}

void afd_fleet_audit(const struct afd_fleet *f, struct afd_fleet_audit *out)
{
    long j, k;
    size_t q;

    memset(out, 0, sizeof(*out));
    out->tokens = f->finished_tokens;
    out->loads_exact = true;
    for (j = 0; j < f->x; j++) {
        int64_t sum = 0;
        for (k = 0; k < f->b; k++) {
            const struct fslot *s = &f->slot[j * f->cap_b + k];
            int64_t load = s->base + f->now;
            if (!s->active || s->instance != j || f->now >= s->finish ||
                load < s->prompt) {
                out->loads_exact = false;
                continue;
            }
            out->in_slots++;
            out->tokens += (double)(load - s->prompt - s->born);
            sum += load;
        }
        if (sum != f->load[j])
            out->loads_exact = false;
    }
    for (q = 0; q < f->wq_n; q++) {
        const struct waiting *w = &f->wq[(f->wq_head + q) % f->wq_cap];
        out->waiting++;
        out->tokens += (double)(w->done - w->born);
    }
}
