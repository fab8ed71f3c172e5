/* sweep.c - simulator runs over a range of Attention counts, plus theory. */
#include "integration/sim/sweep.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"

#define MAX_JOBS 64

void afd_sweep_config_init(struct afd_sweep_config *c,
                           const struct afd_profile *profile,
                           const struct afd_gen *gen)
{
    memset(c, 0, sizeof(*c));
    afd_sim_config_init(&c->sim, profile, gen);
    c->lo = 1;
    c->hi = 16;
    c->stride = 1;
    c->jobs = 1;
}

/* Shared by the worker threads; `next` and `done` under `lock`. */
struct pool {
    const struct afd_sweep_config *cfg;
    const long *xs;
    struct afd_sim_result *res;
    struct afd_workload **drawn; /* per run, NULL when not collected */
    size_t n, next, done;
    int rc;
    char err[AFD_ERR_LEN];
    pthread_mutex_t lock;
};

static void *worker(void *arg)
{
    struct pool *p = arg;
    char err[AFD_ERR_LEN];

    for (;;) {
        struct afd_sim_config c;
        size_t i;
        int rc;

        pthread_mutex_lock(&p->lock);
        i = p->rc ? p->n : p->next++;
        pthread_mutex_unlock(&p->lock);
        if (i >= p->n)
            return NULL;
        c = p->cfg->sim;
        c.attention = p->xs[i];
        c.drawn = p->drawn ? p->drawn[i] : NULL;
        rc = afd_sim_run(&c, &p->res[i], err);
        pthread_mutex_lock(&p->lock);
        if (rc && !p->rc) {
            p->rc = rc;
            memcpy(p->err, err, sizeof(err));
        }
        p->done++;
        if (!rc && p->cfg->progress)
            p->cfg->progress(p->cfg->progress_ctx, p->done, p->n, p->xs[i]);
        pthread_mutex_unlock(&p->lock);
    }
}

/* Runs xs[0..n) on up to cfg->jobs threads; results in res (same order). */
static int run_points(const struct afd_sweep_config *cfg, const long *xs,
                      size_t n, struct afd_sim_result *res,
                      struct afd_workload **drawn, char *err)
{
    struct pool p = {.cfg = cfg, .xs = xs, .res = res, .drawn = drawn, .n = n};
    pthread_t th[MAX_JOBS];
    int i, started = 0, jobs = cfg->jobs < (int)n ? cfg->jobs : (int)n;

    pthread_mutex_init(&p.lock, NULL);
    /* the calling thread works too; a thread that fails to start just
     * leaves more points to the others */
    for (i = 1; i < jobs; i++)
        if (!pthread_create(&th[started], NULL, worker, &p))
            started++;
    worker(&p);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&p.lock);
    if (p.rc)
        return afd_err(err, p.rc, "%s", p.err);
    return AFD_OK;
}

/* Sums the per-run estimator states (no forgetting) into one estimate. */
static int merge_drawn(struct afd_workload **w, size_t n,
                       struct afd_workload_stats *out, char *err)
{
    struct afd_workload_state sum = {0}, s;
    struct afd_workload *all = afd_workload_new(0, err);
    size_t i;
    int rc;

    if (!all)
        return AFD_ENOMEM;
    for (i = 0; i < n; i++) {
        if (!w[i])
            continue;
        afd_workload_export(w[i], &s);
        sum.requests += s.requests;
        sum.weight += s.weight;
        sum.sum_p += s.sum_p;
        sum.sum_d += s.sum_d;
        sum.sum_theta += s.sum_theta;
        sum.sum_m2 += s.sum_m2;
        sum.sum_pd += s.sum_pd;
    }
    rc = afd_workload_import(all, &sum, err);
    if (!rc)
        rc = afd_workload_stats(all, out, err);
    if (rc == AFD_EEMPTY)
        afd_err(err, rc,
                "no request finished in the measured steps; raise "
                "--steps");
    afd_workload_free(all);
    return rc;
}

static int check(const struct afd_sweep_config *c, char *err)
{
    struct afd_sim_config s = c->sim;

    if (c->lo < 1 || c->hi < c->lo)
        return afd_err(err, AFD_EINVAL,
                       "sweep range must satisfy 1 <= lo <= hi, got %ld:%ld",
                       c->lo, c->hi);
    if (c->stride < 1)
        return afd_err(err, AFD_EINVAL, "sweep stride must be >= 1, got %ld",
                       c->stride);
    if ((c->hi - c->lo) / c->stride + 1 > AFD_SWEEP_MAX_POINTS)
        return afd_err(err, AFD_EINVAL, "sweep has more than %d points",
                       AFD_SWEEP_MAX_POINTS);
    if (c->jobs < 1 || c->jobs > MAX_JOBS)
        return afd_err(err, AFD_EINVAL, "jobs must be in 1..%d, got %d",
                       MAX_JOBS, c->jobs);
    s.attention = c->hi;
    return afd_sim_config_check(&s, err);
}

static int cmp_point(const void *a, const void *b)
{
    const struct afd_sweep_point *p = a, *q = b;

    return (p->sim.attention > q->sim.attention) -
           (p->sim.attention < q->sim.attention);
}

long afd_sweep_find(const struct afd_sweep_result *r, long x)
{
    size_t i;

    for (i = 0; i < r->n; i++)
        if (r->points[i].sim.attention == x)
            return (long)i;
    return -1;
}

/* Simulates the theory picks that the range missed, appending them. */
static int add_extras(const struct afd_sweep_config *c,
                      struct afd_sweep_result *r, char *err)
{
    long xs[2], cand[2] = {r->solution.attention_instances,
                           r->solution.attention_instances_barrier};
    struct afd_sim_result res[2];
    size_t n = 0, i;
    int rc;

    for (i = 0; i < 2; i++) {
        if (i == 1 && !r->solution.has_barrier)
            continue;
        if (cand[i] >= 1 && afd_sweep_find(r, cand[i]) < 0 &&
            !(n == 1 && xs[0] == cand[i]))
            xs[n++] = cand[i];
    }
    if (!n)
        return AFD_OK;
    rc = run_points(c, xs, n, res, NULL, err);
    if (rc)
        return rc;
    for (i = 0; i < n; i++) {
        memset(&r->points[r->n], 0, sizeof(r->points[0]));
        r->points[r->n].sim = res[i];
        r->points[r->n++].extra = true;
    }
    return AFD_OK;
}

static double regret_at(const struct afd_sweep_result *r, long x)
{
    long i = afd_sweep_find(r, x);
    const struct afd_sim_result *b = &r->points[r->best].sim;

    if (i < 0)
        return NAN;
    return 1.0 -
           r->points[i].sim.throughput_per_device / b->throughput_per_device;
}

static bool tied_at(const struct afd_sweep_result *r, long x)
{
    long i = afd_sweep_find(r, x);

    return i >= 0 && r->points[i].tied;
}

/* Model values per point, optimum, ties, errors and regrets. */
static void analyse(struct afd_sweep_result *r)
{
    const struct afd_solution *s = &r->solution;
    double y = r->input.ffn_instances, lo_best;
    size_t i;

    r->best = 0;
    for (i = 0; i < r->n; i++) {
        struct afd_sweep_point *p = &r->points[i];
        double st, thr;
        p->model_mean_field = afd_throughput_at(&r->input, p->sim.ratio);
        p->regime = afd_regime_at(&r->input, p->sim.ratio);
        p->model_barrier = NAN;
        if (s->has_barrier &&
            !afd_barrier_at(&r->input, (int)p->sim.attention, &st, &thr, NULL))
            p->model_barrier = thr;
        if (p->sim.throughput_per_device >
            r->points[r->best].sim.throughput_per_device)
            r->best = i;
    }
    r->best_x = r->points[r->best].sim.attention;
    lo_best = r->points[r->best].sim.throughput_per_device -
              r->points[r->best].sim.ci95;
    r->tie_lo = r->tie_hi = r->best_x;
    for (i = 0; i < r->n; i++) {
        struct afd_sweep_point *p = &r->points[i];
        p->tied = p->sim.throughput_per_device + p->sim.ci95 >= lo_best;
        if (p->tied && p->sim.attention < r->tie_lo)
            r->tie_lo = p->sim.attention;
        if (p->tied && p->sim.attention > r->tie_hi)
            r->tie_hi = p->sim.attention;
    }
    r->r_sim = (double)r->best_x / y;
    r->error_mean_field = (s->r_star - r->r_sim) / r->r_sim;
    r->regret_mean_field = regret_at(r, s->attention_instances);
    r->mean_field_tied = tied_at(r, s->attention_instances);
    r->error_barrier = r->regret_barrier = NAN;
    r->barrier_tied = false;
    if (s->has_barrier) {
        r->error_barrier = (s->r_star_barrier - r->r_sim) / r->r_sim;
        r->regret_barrier = regret_at(r, s->attention_instances_barrier);
        r->barrier_tied = tied_at(r, s->attention_instances_barrier);
    }
}

/* The x values to simulate and one estimator per run; owned by the sweep. */
struct plan {
    long *xs;
    struct afd_workload **drawn;
    size_t n, cap;
};

static bool planned(const struct plan *p, long x)
{
    size_t i;

    for (i = 0; i < p->n; i++)
        if (p->xs[i] == x)
            return true;
    return false;
}

/* Adds x to the plan; `collect` gives it an estimator of drawn requests. */
static int plan_add(struct plan *p, long x, bool collect, char *err)
{
    if (planned(p, x))
        return AFD_OK;
    if (p->n == p->cap)
        return afd_err(err, AFD_ENOMEM, "sweep has more than %zu points",
                       p->cap);
    if (collect) {
        p->drawn[p->n] = afd_workload_new(0, err);
        if (!p->drawn[p->n])
            return AFD_ENOMEM;
    }
    p->xs[p->n++] = x;
    return AFD_OK;
}

/* Simulates plan entries [from, n) and appends them to r->points. */
static int run_batch(const struct afd_sweep_config *c,
                     struct afd_sweep_result *r, struct plan *p, size_t from,
                     char *err)
{
    size_t n = p->n - from, i;
    struct afd_sim_result *res;
    int rc;

    if (!n)
        return AFD_OK;
    res = calloc(n, sizeof(*res));
    if (!res)
        return afd_err(err, AFD_ENOMEM, "sweep: out of memory");
    rc = run_points(c, p->xs + from, n, res, p->drawn + from, err);
    for (i = 0; !rc && i < n; i++)
        r->points[r->n++].sim = res[i];
    free(res);
    return rc;
}

static long best_x(const struct afd_sweep_result *r)
{
    size_t i, b = 0;

    for (i = 1; i < r->n; i++)
        if (r->points[i].sim.throughput_per_device >
            r->points[b].sim.throughput_per_device)
            b = i;
    return r->points[b].sim.attention;
}

/* Zooms in: x within s of the best at stride max(1, s/4), until stride 1. */
static int refine(const struct afd_sweep_config *c, struct afd_sweep_result *r,
                  struct plan *p, char *err)
{
    long s = c->stride, s2, x, b;
    size_t from;
    int rc = AFD_OK;

    while (!rc && s > 1) {
        s2 = s / 4 > 1 ? s / 4 : 1;
        b = best_x(r);
        from = p->n;
        for (x = b - s; !rc && x <= b + s; x += s2)
            if (x >= c->lo && x <= c->hi)
                rc = plan_add(p, x, false, err);
        if (!rc)
            rc = run_batch(c, r, p, from, err);
        s = s2;
    }
    return rc;
}

/* The sweep proper: runs, drawn-request statistics, solver, extras. */
static int sweep_main(const struct afd_sweep_config *c,
                      struct afd_sweep_result *r, struct plan *p, char *err)
{
    int rc = run_batch(c, r, p, 0, err);

    if (!rc && c->refine)
        rc = refine(c, r, p, err);
    if (!rc)
        rc = merge_drawn(p->drawn, p->n, &r->drawn, err);
    if (rc)
        return rc;
    afd_solve_input_init(&r->input, c->sim.profile, (double)c->sim.batch,
                         r->drawn.theta);
    r->input.has_sigma = true;
    r->input.sigma = r->drawn.sigma;
    r->input.ffn_instances = (int)c->sim.ffn;
    rc = afd_solve(&r->input, &r->solution, err);
    if (!rc && !c->no_extras)
        rc = add_extras(c, r, err);
    if (rc)
        return rc;
    qsort(r->points, r->n, sizeof(r->points[0]), cmp_point);
    analyse(r);
    return AFD_OK;
}

int afd_sweep_run(const struct afd_sweep_config *c,
                  struct afd_sweep_result *out, char *err)
{
    struct plan p = {0};
    size_t n, i;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = check(c, err);
    if (rc)
        return rc;
    n = (size_t)((c->hi - c->lo) / c->stride + 1);
    /* each refinement level adds at most 9 points; 16 levels cover any
     * stride that fits in a long */
    p.cap = n + (c->refine ? 16 * 9 : 0);
    p.xs = malloc(p.cap * sizeof(*p.xs));
    p.drawn = calloc(p.cap, sizeof(*p.drawn));
    out->points = calloc(p.cap + 2, sizeof(*out->points));
    rc = p.xs && p.drawn && out->points
             ? AFD_OK
             : afd_err(err, AFD_ENOMEM, "sweep: out of memory");
    /* only the largest x collects drawn requests: with common random
     * numbers every other run redraws the requests of its instances, so
     * merging them would count the same requests several times */
    for (i = 0; !rc && i < n; i++)
        rc = plan_add(&p, c->lo + (long)i * c->stride, i == n - 1, err);
    if (!rc)
        rc = sweep_main(c, out, &p, err);
    for (i = 0; p.drawn && i < p.n; i++)
        afd_workload_free(p.drawn[i]);
    free(p.drawn);
    free(p.xs);
    if (rc)
        afd_sweep_release(out);
    return rc;
}

void afd_sweep_release(struct afd_sweep_result *r)
{
    if (!r)
        return;
    free(r->points);
    r->points = NULL;
    r->n = 0;
}
