/*
 * validate.c - `afd-sim validate`: runs the theory-versus-simulation grid
 * (validate.h) and writes the report.
 *
 * Step counts. The noise of a throughput estimate decays with the number of
 * independent load configurations seen, and an instance's load forgets its
 * past as the requests in it are replaced. The slowest instance is slow
 * because of its longest requests, so the time scale is the life of a
 * long request: L2 = E[D^3]/E[D^2] (1500 for geometric decode of mean 500,
 * 12500 for lognormal mean 500 cv 2; for a trace, its own moments). A cell
 * runs steps = clamp(150*L2, 20k, 3M) per x (rounded to the batch count)
 * after clamp(5*L2, 5k, 100k) warm-up steps: heavy tails get millions. The
 * paper's case gets 225k steps, which separates x = 10 from its neighbours
 * (tests/test_sim_sweep.c runs the same at 1M). Work is dominated by
 * request completions (~30 ns each), x*B/E[D] per step, so a cell is also
 * held to CELL_COMPLETIONS completions over its ~30 points (steps >= 10k):
 * that keeps the whole grid near 10 min on two cores, at the price of wider
 * intervals for short-request traces at large B. --steps-scale multiplies
 * steps and budget for a longer run.
 */
#include "integration/sim/validate.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "estimator/base/num.h"
#include "plugin/sys/os.h"
#include "plugin/sys/os.h"
#include "integration/sim/svg.h"

#define MAX_WORKLOADS    16
#define MAX_X            320    /* sweep cap: well above every r* in the grid */
#define PRE_DRAWS        200000 /* requests drawn to plan a cell */
#define CHECK_X          32     /* the barrier-effect check's Attention count */
#define CELL_COMPLETIONS 5e8    /* request completions per cell, ~15 s */
#define CELL_POINTS      30     /* typical points of a refined sweep */

struct workload {
    char name[AFD_VALIDATE_NAME_LEN];
    char spec[AFD_GEN_SPEC_LEN];
    struct afd_gen gen;
    double theta, sigma, mean_d; /* pre-estimate from PRE_DRAWS */
    double l2;                   /* E[D^3]/E[D^2], steps, same draws */
};

struct grid {
    struct afd_validate_report rep;
    struct afd_profile prof[2]; /* per_instance, aggregate */
    struct workload wl[MAX_WORKLOADS];
    size_t n_wl;
    size_t wl_of[AFD_VALIDATE_MAX_CELLS]; /* cell -> workload */
    double steps_scale;
    /* scheduling */
    size_t order[AFD_VALIDATE_MAX_CELLS];
    size_t next, done;
    pthread_mutex_t lock;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: afd-sim validate [--traces DIR] [--out DIR] [--quick] "
            "[--jobs N] [--seed S] [--steps-scale F]\n\n"
            "Runs the theory-versus-simulation grid: B in {64..1024} x "
            "workloads\n{paper geometric, long context, heavy-tailed decode, "
            "every trace in DIR}\nx paper-v1-fit in both comm modes, and "
            "writes DIR_OUT/report.md and\nsummary.svg.\n\n"
            "  --traces DIR        trace files (default ../shared/traces)\n"
            "  --out DIR           output directory (default "
            "integration/validation)\n"
            "  --quick             reduced grid, short runs (CI smoke, < 1 "
            "min)\n"
            "  --jobs N            cells run in parallel (default 2)\n"
            "  --seed S            seed of every run (default 1)\n"
            "  --steps-scale F     multiply the step counts (default 1)\n");
}

/* Draws PRE_DRAWS requests to estimate theta, sigma, E[D], E[D^3]/E[D^2]. */
static int pre_estimate(struct workload *w, unsigned long long seed, char *err)
{
    struct afd_workload *est = afd_workload_new(0, err);
    struct afd_workload_stats st;
    struct afd_rng rng;
    double sd = 0, sd2 = 0, sd3 = 0;
    int64_t p, d;
    int i, rc;

    if (!est)
        return AFD_ENOMEM;
    afd_rng_seed(&rng, seed, 0xfeedULL);
    for (i = 0; i < PRE_DRAWS; i++) {
        afd_gen_draw(&w->gen, &rng, &p, &d);
        afd_workload_add(est, (double)p, (double)d, NULL);
        sd += (double)d;
        sd2 += (double)d * (double)d;
        sd3 += (double)d * (double)d * (double)d;
    }
    rc = afd_workload_stats(est, &st, err);
    afd_workload_free(est);
    w->theta = st.theta;
    w->sigma = st.sigma;
    w->mean_d = sd / PRE_DRAWS;
    w->l2 = sd3 / sd2;
    return rc;
}

static int add_workload(struct grid *g, const char *name, const char *spec,
                        char *err)
{
    struct workload *w;
    int rc;

    if (g->n_wl == MAX_WORKLOADS)
        return afd_err(err, AFD_ENOMEM, "more than %d workloads",
                       MAX_WORKLOADS);
    w = &g->wl[g->n_wl];
    snprintf(w->name, sizeof(w->name), "%s", name);
    snprintf(w->spec, sizeof(w->spec), "%s", spec);
    rc = afd_gen_parse(spec, &w->gen, err);
    if (!rc)
        rc = pre_estimate(w, g->rep.seed, err);
    if (rc) {
        afd_gen_release(&w->gen);
        return rc;
    }
    g->n_wl++;
    return AFD_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every trace file in dir (not *.md), sorted by name. */
static int add_traces(struct grid *g, const char *dir, bool quick, char *err)
{
    char *names[MAX_WORKLOADS], spec[AFD_GEN_SPEC_LEN];
    struct dirent *e;
    size_t n = 0, i;
    int rc = AFD_OK;
    DIR *d = opendir(dir);

    if (!d)
        return afd_err(err, AFD_EIO, "traces directory '%s': %s", dir,
                       strerror(errno));
    while ((e = readdir(d)) && n < MAX_WORKLOADS - 4) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' ||
            (len > 3 && !strcmp(e->d_name + len - 3, ".md")))
            continue;
        names[n] = strdup(e->d_name);
        if (names[n])
            n++;
    }
    closedir(d);
    qsort(names, n, sizeof(names[0]), cmp_str);
    for (i = 0; i < n; i++) {
        /* --quick keeps one trace: Azure conv is mid-sized and cheap */
        if (!rc && (!quick || strstr(names[i], "conv"))) {
            snprintf(spec, sizeof(spec), "trace:%s/%s", dir, names[i]);
            rc = add_workload(g, names[i], spec, err);
        }
        free(names[i]);
    }
    if (!rc && g->n_wl == 0)
        rc = afd_err(err, AFD_EEMPTY, "no workload to validate");
    return rc;
}

/* Plans one cell: sweep cap from the pre-estimate's theory, steps from L. */
static int plan_cell(struct grid *g, size_t wi, long b, int comm, char *err)
{
    struct afd_validate_cell *c = &g->rep.cells[g->rep.n];
    const struct workload *w = &g->wl[wi];
    struct afd_solve_input in;
    struct afd_solution sol;
    double top, steps, per_step;
    int rc;

    if (g->rep.n == AFD_VALIDATE_MAX_CELLS)
        return afd_err(err, AFD_ENOMEM, "more than %d cells",
                       AFD_VALIDATE_MAX_CELLS);
    memset(c, 0, sizeof(*c));
    snprintf(c->name, sizeof(c->name), "%s", w->name);
    snprintf(c->spec, sizeof(c->spec), "%s", w->spec);
    c->batch = b;
    c->comm = (enum afd_comm_mode)comm;
    afd_solve_input_init(&in, &g->prof[comm], (double)b, w->theta);
    in.has_sigma = true;
    in.sigma = w->sigma;
    rc = afd_solve(&in, &sol, err);
    if (rc)
        return rc;
    top = fmax(2 * sol.r_star, 2.0 * sol.attention_instances_barrier) + 2;
    c->cap = (long)fmin(fmax(ceil(top), 8), MAX_X);
    c->stride = c->cap / 12 > 1 ? c->cap / 12 : 1;
    /* completions per step at the typical x ~ cap/2 */
    per_step = (double)c->cap / 2 * (double)b / w->mean_d;
    steps = fmin(fmax(150 * w->l2, 2e4), 3e6);
    steps = fmax(fmin(steps, CELL_COMPLETIONS / (CELL_POINTS * per_step)), 1e4);
    if (g->rep.quick)
        steps = 32000;
    c->steps = (unsigned long long)(steps * g->steps_scale / 32) * 32;
    if (c->steps < 64)
        c->steps = 64;
    c->cost = (double)c->steps * CELL_POINTS * (per_step + 0.1 * c->cap);
    g->wl_of[g->rep.n++] = wi;
    return AFD_OK;
}

static int build_grid(struct grid *g, char *err)
{
    static const long full_b[] = {64, 128, 256, 512, 1024};
    static const long quick_b[] = {64, 256};
    const long *bs = g->rep.quick ? quick_b : full_b;
    size_t nb = g->rep.quick ? 2 : 5, wi, bi;
    int comm, rc = AFD_OK;

    rc = add_workload(g, "paper geometric (100, 500)",
                      "geometric:prompt=100,decode=500", err);
    if (!rc && !g->rep.quick)
        rc = add_workload(g, "long context (4000, geo 1000)",
                          "geometric:prompt=4000,decode=1000", err);
    if (!rc && !g->rep.quick)
        rc = add_workload(g, "heavy-tailed (lognormal cv 2)",
                          "lognormal:prompt=100,decode=500,cv=2", err);
    if (!rc)
        rc = add_traces(g, g->rep.traces_dir, g->rep.quick, err);
    for (comm = 0; !rc && comm < (g->rep.quick ? 1 : 2); comm++)
        for (wi = 0; !rc && wi < g->n_wl; wi++)
            for (bi = 0; !rc && bi < nb; bi++)
                rc = plan_cell(g, wi, bs[bi], comm, err);
    return rc;
}

/* A cell index with its estimated cost, for scheduling. */
struct job {
    double cost;
    size_t cell;
};

/* Most expensive first, so that the last cells to finish are short. */
static int cmp_job(const void *a, const void *b)
{
    const struct job *p = a, *q = b;

    return (p->cost < q->cost) - (p->cost > q->cost);
}

static void run_cell(struct grid *g, size_t i)
{
    struct afd_validate_cell *c = &g->rep.cells[i];
    const struct workload *w = &g->wl[g->wl_of[i]];
    struct afd_sweep_config sc;
    double t0 = now_s();

    afd_sweep_config_init(&sc, &g->prof[c->comm], &w->gen);
    sc.sim.batch = c->batch;
    sc.sim.ffn = 1;
    sc.sim.steps = c->steps;
    sc.sim.warmup = g->rep.quick
                        ? 2000
                        : (unsigned long long)(fmin(fmax(5 * w->l2, 5e3), 1e5) *
                                               g->steps_scale);
    sc.sim.seed = g->rep.seed;
    sc.lo = 1;
    sc.hi = c->cap;
    sc.stride = c->stride;
    sc.refine = true;
    c->rc = afd_sweep_run(&sc, &c->res, c->err);
    c->seconds = now_s() - t0;
}

static void *worker(void *arg)
{
    struct grid *g = arg;

    for (;;) {
        struct afd_validate_cell *c;
        size_t i;

        pthread_mutex_lock(&g->lock);
        i = g->next < g->rep.n ? g->order[g->next++] : g->rep.n;
        pthread_mutex_unlock(&g->lock);
        if (i >= g->rep.n)
            return NULL;
        run_cell(g, i);
        c = &g->rep.cells[i];
        pthread_mutex_lock(&g->lock);
        g->done++;
        if (c->rc)
            fprintf(stderr, "validate: [%zu/%zu] %s B=%ld %s: failed: %s\n",
                    g->done, g->rep.n, c->name, c->batch,
                    afd_comm_mode_name(c->comm), c->err);
        else
            fprintf(stderr,
                    "validate: [%zu/%zu] %s B=%ld %s: sim x=%ld (ties "
                    "%ld..%ld), mean-field r*=%.2f, barrier x=%d  (%.1f s)\n",
                    g->done, g->rep.n, c->name, c->batch,
                    afd_comm_mode_name(c->comm), c->res.best_x, c->res.tie_lo,
                    c->res.tie_hi, c->res.solution.r_star,
                    c->res.solution.attention_instances_barrier, c->seconds);
        pthread_mutex_unlock(&g->lock);
    }
}

static void run_grid(struct grid *g)
{
    pthread_t th[16];
    int i, started = 0;
    size_t k;
    struct job jobs[AFD_VALIDATE_MAX_CELLS];

    for (k = 0; k < g->rep.n; k++) {
        jobs[k].cost = g->rep.cells[k].cost;
        jobs[k].cell = k;
    }
    qsort(jobs, g->rep.n, sizeof(jobs[0]), cmp_job);
    for (k = 0; k < g->rep.n; k++)
        g->order[k] = jobs[k].cell;
    pthread_mutex_init(&g->lock, NULL);
    for (i = 1; i < g->rep.jobs && i < 16; i++)
        if (!pthread_create(&th[started], NULL, worker, g))
            started++;
    worker(g);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    pthread_mutex_destroy(&g->lock);
}

/* The barrier-effect check: x = CHECK_X at B = 256, models beside. */
static void barrier_check(struct grid *g, size_t wi, unsigned long long steps)
{
    struct afd_validate_barrier *b = &g->rep.barrier[g->rep.n_barrier++];
    const struct workload *w = &g->wl[wi];
    struct afd_workload *drawn = afd_workload_new(0, b->err);
    struct afd_workload_stats st;
    struct afd_sim_config c;
    struct afd_sim_result r;
    struct afd_solve_input in;
    double step;

    memcpy(b->spec, w->spec, sizeof(b->spec));
    b->batch = 256;
    b->x = CHECK_X;
    b->steps = steps;
    b->rc = drawn ? AFD_OK : AFD_ENOMEM;
    afd_sim_config_init(&c, &g->prof[0], &w->gen);
    c.batch = b->batch;
    c.attention = b->x;
    c.steps = steps;
    c.warmup = steps / 20;
    c.seed = g->rep.seed;
    c.drawn = drawn;
    if (!b->rc)
        b->rc = afd_sim_run(&c, &r, b->err);
    if (!b->rc)
        b->rc = afd_workload_stats(drawn, &st, b->err);
    afd_workload_free(drawn);
    if (b->rc)
        return;
    b->theta = st.theta;
    b->sigma = st.sigma;
    b->sim = r.throughput_per_device;
    b->ci95 = r.ci95;
    b->spread_sim = r.load_spread;
    b->spread_model = sqrt((double)b->batch) * st.sigma;
    afd_solve_input_init(&in, &g->prof[0], (double)b->batch, st.theta);
    in.has_sigma = true;
    in.sigma = st.sigma;
    b->mean_field = afd_throughput_at(&in, (double)b->x);
    b->rc = afd_barrier_at(&in, (int)b->x, &step, &b->barrier, b->err);
}

static int parse_args(int argc, char **argv, struct grid *g, const char **out,
                      char *err)
{
    int i;

    for (i = 1; i < argc; i++) {
        const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        if (!strcmp(f, "--quick")) {
            g->rep.quick = true;
            continue;
        }
        if (strcmp(f, "--traces") && strcmp(f, "--out") &&
            strcmp(f, "--steps-scale") && strcmp(f, "--jobs") &&
            strcmp(f, "--seed"))
            return afd_err(err, AFD_EPARSE,
                           "unknown option '%s' (see afd-sim validate --help)",
                           f);
        if (!v)
            return afd_err(err, AFD_EPARSE, "option '%s' needs a value", f);
        i++;
        if (!strcmp(f, "--traces"))
            g->rep.traces_dir = v;
        else if (!strcmp(f, "--out"))
            *out = v;
        else if (!strcmp(f, "--steps-scale")) {
            if (afd_parse_double(v, f, &g->steps_scale, err))
                return AFD_EPARSE;
            if (!(g->steps_scale > 0 && g->steps_scale <= 100))
                return afd_err(err, AFD_EINVAL,
                               "--steps-scale must be in (0, 100], got '%s'",
                               v);
        } else {
            if (afd_parse_long(v, f, &l, err))
                return AFD_EPARSE;
            if (l < (f[2] == 'j' ? 1 : 0) || (f[2] == 'j' && l > 16))
                return afd_err(err, AFD_EINVAL, "%s out of range, got '%s'", f,
                               v);
            if (f[2] == 'j')
                g->rep.jobs = (int)l;
            else
                g->rep.seed = (unsigned long long)l;
        }
    }
    return AFD_OK;
}

static int write_outputs(struct grid *g, const char *out, char *err)
{
    char path[4096];
    long i;
    int rc = afd_validate_write_md(out, &g->rep, err);

    if (!rc)
        rc = afd_validate_write_svg(out, &g->rep, err);
    /* one sweep plotted in full: the paper's acceptance case */
    for (i = 0; !rc && i < (long)g->rep.n; i++) {
        struct afd_validate_cell *c = &g->rep.cells[i];
        struct afd_sweep_config sc;
        if (c->rc || c->batch != 256 || c->comm != AFD_COMM_PER_INSTANCE ||
            g->wl_of[i] != 0)
            continue;
        afd_sweep_config_init(&sc, &g->prof[0], &g->wl[0].gen);
        sc.sim.batch = c->batch;
        snprintf(path, sizeof(path), "%s/sweep_paper_b256.svg", out);
        rc = afd_svg_sweep(path, &sc, &c->res, "paper geometric (100, 500)",
                           err);
    }
    return rc;
}

int afd_validate_main(int argc, char **argv)
{
    static struct grid g; /* large; one validation per process */
    static struct afd_validate_cell cells[AFD_VALIDATE_MAX_CELLS];
    const char *out = "integration/validation";
    char err[AFD_ERR_LEN], cmd[512] = "afd-sim validate";
    double t0 = now_s();
    size_t i;
    int rc;

    for (i = 1; i < (size_t)argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return AFD_EXIT_OK;
        }
        if (strlen(cmd) + strlen(argv[i]) + 2 < sizeof(cmd)) {
            strcat(cmd, " ");
            strcat(cmd, argv[i]);
        }
    }
    g.rep.cells = cells;
    g.rep.traces_dir = "../shared/traces";
    g.rep.jobs = 2;
    g.rep.seed = 1;
    g.rep.command = cmd;
    g.steps_scale = 1;
    if (parse_args(argc, argv, &g, &out, err)) {
        fprintf(stderr, "afd-sim validate: %s\n", err);
        return AFD_EXIT_USAGE;
    }
    g.rep.profile = afd_profile_builtin("paper-v1-fit");
    if (!g.rep.profile) {
        fprintf(stderr, "afd-sim validate: built-in paper-v1-fit missing\n");
        return AFD_EXIT_FAILURE;
    }
    g.prof[0] = g.prof[1] = *g.rep.profile;
    g.prof[0].comm_mode = AFD_COMM_PER_INSTANCE;
    g.prof[1].comm_mode = AFD_COMM_AGGREGATE;
    rc = build_grid(&g, err);
    if (rc) {
        fprintf(stderr, "afd-sim validate: %s\n", err);
        for (i = 0; i < g.n_wl; i++)
            afd_gen_release(&g.wl[i].gen);
        return AFD_EXIT_USAGE;
    }
    fprintf(stderr, "validate: %zu cells on %d threads\n", g.rep.n, g.rep.jobs);
    run_grid(&g);
    if (!g.rep.quick) {
        barrier_check(&g, 1, (unsigned long long)(1e6 * g.steps_scale));
        barrier_check(&g, 0, (unsigned long long)(1e6 * g.steps_scale));
        barrier_check(&g, 2, (unsigned long long)(1e6 * g.steps_scale));
    } else {
        barrier_check(&g, 0, 32000);
    }
    g.rep.seconds = now_s() - t0;
    rc = write_outputs(&g, out, err);
    if (rc)
        fprintf(stderr, "afd-sim validate: %s\n", err);
    for (i = 0; i < g.rep.n; i++) {
        if (cells[i].rc)
            rc = rc ? rc : cells[i].rc;
        afd_sweep_release(&cells[i].res);
    }
    for (i = 0; i < g.n_wl; i++)
        afd_gen_release(&g.wl[i].gen);
    if (rc)
        return AFD_EXIT_FAILURE;
    fprintf(stderr,
            "validate: wrote %s/report.md and %s/summary.svg in %.0f s\n", out,
            out, g.rep.seconds);
    return AFD_EXIT_OK;
}
