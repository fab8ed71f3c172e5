/* policy_run.c - offline policies over a scenario, and the run report. */
#include "integration/sim/policy_run.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/workload.h"
#include "integration/sim/fleet.h"
#include "plugin/io/run_schema.h"

#define SETTLE_TAIL   0.10 /* last change in the last 10%: not settled */
#define THEORY_STREAM (1ULL << 48)

int afd_run_policy_parse(const char *s, enum afd_run_policy *out,
                         long *static_x, char *err)
{
    char *end;
    long x;

    *static_x = 0;
    if (!strcmp(s, "static-first-phase") || !strcmp(s, "static_first_phase"))
        *out = AFD_RUN_STATIC_FIRST_PHASE;
    else if (!strcmp(s, "best-static") || !strcmp(s, "best_static"))
        *out = AFD_RUN_BEST_STATIC;
    else if (!strcmp(s, "oracle"))
        *out = AFD_RUN_ORACLE;
    else if (!strcmp(s, "closed-loop") || !strcmp(s, "closed_loop"))
        *out = AFD_RUN_CLOSED_LOOP;
    else if (!strncmp(s, "static:", 7)) {
        x = strtol(s + 7, &end, 10);
        if (end == s + 7 || *end || x < 1 || x > 1000000)
            return afd_err(err, AFD_EINVAL,
                           "policy static:X needs an integer X in "
                           "1..1000000, got '%s'",
                           s);
        *out = AFD_RUN_STATIC;
        *static_x = x;
    } else
        return afd_err(err, AFD_EINVAL,
                       "unknown policy '%s' (static-first-phase, "
                       "best-static, oracle, static:X, closed-loop)",
                       s);
    return AFD_OK;
}

const char *afd_run_policy_name(enum afd_run_policy p)
{
    static const char *const names[] = {"static_first_phase", "best_static",
                                        "oracle", "static", "closed_loop"};

    return (unsigned)p < 5 ? names[p] : "unknown";
}

int afd_phase_theory(const struct afd_scenario *s, size_t phase,
                     struct afd_phase_theory *out, char *err)
{
    const struct afd_scenario_phase *ph = &s->phases[phase];
    struct afd_workload *w = afd_workload_new(0, err);
    struct afd_workload_stats st;
    struct afd_solve_input in;
    struct afd_solution sol;
    struct afd_rng rng;
    int64_t p, d;
    int i, rc;

    if (!w)
        return AFD_ENOMEM;
    afd_rng_seed(&rng, afd_scenario_phase_seed(s->seed, phase), THEORY_STREAM);
    for (i = 0; i < AFD_RUN_THEORY_DRAWS; i++) {
        afd_gen_draw(&ph->gen, &rng, &p, &d);
        afd_workload_add(w, (double)p, (double)d, NULL);
    }
    rc = afd_workload_stats(w, &st, err);
    afd_workload_free(w);
    if (rc)
        return rc;
    afd_solve_input_init(&in, &s->profile, (double)ph->batch, st.theta);
    in.has_sigma = true;
    in.sigma = st.sigma;
    in.ffn_instances = (int)ph->ffn;
    rc = afd_solve(&in, &sol, err);
    if (rc)
        return rc;
    out->theta = st.theta;
    out->sigma = st.sigma;
    out->r_star = sol.r_star;
    out->regime = sol.regime;
    out->x_mean_field = sol.attention_instances;
    out->x_barrier = sol.has_barrier ? sol.attention_instances_barrier
                                     : sol.attention_instances;
    out->r_star_barrier = (double)out->x_barrier / (double)ph->ffn;
    return AFD_OK;
}

int afd_run_segment(const struct afd_scenario *s, size_t phase, long x,
                    struct afd_phase_outcome *out, char *err)
{
    const struct afd_scenario_phase *ph = &s->phases[phase];
    struct afd_fleet_phase fp = {&ph->gen, ph->batch, ph->ffn,
                                 afd_scenario_phase_seed(s->seed, phase),
                                 afd_scenario_phase_start_s(s, phase)};
    long cap_b = phase > 0 && s->phases[phase - 1].batch > ph->batch
                     ? s->phases[phase - 1].batch
                     : ph->batch;
    struct afd_fleet *f = afd_fleet_new(&s->profile, x, cap_b, err);
    struct afd_sim_step_info info;
    struct afd_fleet_totals t;
    double end_ms = ph->duration_s * 1000.0;
    int rc;

    if (!f)
        return x < 1 ? AFD_EINVAL : AFD_ENOMEM;
    afd_fleet_set_hardware(f, &s->hw);
    if (phase > 0) {
        /* Start where a run at x stands at the end of the previous phase
         * (its stationary state), so the shift's transient is paid as the
         * closed loop pays it: the old phase's requests finish first. */
        const struct afd_scenario_phase *pp = &s->phases[phase - 1];
        struct afd_fleet_phase prev = {
            &pp->gen, pp->batch, pp->ffn,
            afd_scenario_phase_seed(s->seed, phase - 1),
            afd_scenario_phase_start_s(s, phase - 1)};

        rc = afd_fleet_set_phase(f, &prev, err);
        if (!rc)
            rc = afd_fleet_start(f, x, err);
        if (!rc)
            rc = afd_fleet_set_phase(f, &fp, err);
    } else {
        rc = afd_fleet_set_phase(f, &fp, err);
        if (!rc)
            rc = afd_fleet_start(f, x, err);
    }
    if (rc) {
        afd_fleet_free(f);
        return rc;
    }
    do {
        afd_fleet_step(f, &info);
        afd_fleet_totals(f, &t);
    } while (t.time_ms < end_ms);
    memset(out, 0, sizeof(*out));
    out->tokens = t.tokens;
    out->device_ms = t.device_ms;
    out->time_ms = t.time_ms;
    out->attention_ms = t.attention_ms;
    out->static_x = x;
    afd_fleet_free(f);
    return AFD_OK;
}

/* ------------------------------------------------------------ search */

/* Segment results by (x, phase), filled on demand. Each cell is written by
 * one thread only (a thread owns a phase, or a pass hands out cells). */
struct table {
    const struct afd_scenario *s;
    long lo, hi;                    /* x range */
    struct afd_phase_outcome *cell; /* [(x - lo) * n_phases + p] */
    bool *have;                     /* same index */
    int jobs;
    /* a parallel pass: cells k of todo[] handed out under mu */
    long *todo_x;
    size_t *todo_p;
    size_t n_todo, next;
    /* per-phase searches: phases handed out under mu */
    size_t next_phase;
    long *phase_best;
    pthread_mutex_t mu;
    int rc;
    char err[AFD_ERR_LEN];
};

static size_t cell_at(const struct table *t, long x, size_t p)
{
    return (size_t)(x - t->lo) * t->s->n_phases + p;
}

static void table_fail(struct table *t, int rc, const char *err)
{
    pthread_mutex_lock(&t->mu);
    if (!t->rc) {
        t->rc = rc;
        snprintf(t->err, sizeof(t->err), "%s", err);
    }
    pthread_mutex_unlock(&t->mu);
}

/* Throughput per device of phase p at x, simulating it if needed. */
static double phase_value(struct table *t, size_t p, long x)
{
    size_t c = cell_at(t, x, p);
    char err[AFD_ERR_LEN];
    int rc;

    if (!t->have[c]) {
        rc = afd_run_segment(t->s, p, x, &t->cell[c], err);
        if (rc) {
            table_fail(t, rc, err);
            return 0;
        }
        t->have[c] = true;
    }
    return t->cell[c].tokens / t->cell[c].device_ms;
}

static void *pass_worker(void *arg)
{
    struct table *t = arg;
    size_t k;

    for (;;) {
        pthread_mutex_lock(&t->mu);
        k = t->next++;
        pthread_mutex_unlock(&t->mu);
        if (k >= t->n_todo)
            return NULL;
        phase_value(t, t->todo_p[k], t->todo_x[k]);
    }
}

/* Runs fn(t) on `jobs` threads (the caller's included). */
static void run_parallel(struct table *t, void *(*fn)(void *), int jobs)
{
    pthread_t th[64];
    int i, started = 0;

    for (i = 1; i < jobs && i < 64; i++, started++)
        if (pthread_create(&th[i - 1], NULL, fn, t))
            break;
    fn(t);
    for (i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* Time-weighted overall value at x: every phase simulated (in parallel). */
static double overall_value(struct table *t, long x)
{
    double num = 0, den = 0;
    size_t p;

    t->n_todo = 0;
    t->next = 0;
    for (p = 0; p < t->s->n_phases; p++)
        if (!t->have[cell_at(t, x, p)]) {
            t->todo_x[t->n_todo] = x;
            t->todo_p[t->n_todo++] = p;
        }
    if (t->n_todo)
        run_parallel(t, pass_worker, t->jobs);
    for (p = 0; p < t->s->n_phases; p++) {
        num += t->s->phases[p].duration_s * phase_value(t, p, x);
        den += t->s->phases[p].duration_s;
    }
    return num / den;
}

typedef double (*value_fn)(struct table *t, size_t p, long x);

static double overall_fn(struct table *t, size_t p, long x)
{
    (void)p;
    return overall_value(t, x);
}

/*
 * Integer golden-section search for the maximum of f(., p, .) on [lo, hi]
 * (unimodal in practice; every point is cached), then a hill climb to a
 * local maximum. Ties keep the smaller x.
 */
static long golden_max(struct table *t, value_fn f, size_t p, long start)
{
    long a = t->lo, b = t->hi, c, d, x, best;
    double bv;

    while (b - a > 3 && !t->rc) {
        c = a + (long)floor(0.382 * (double)(b - a) + 0.5);
        d = a + (long)floor(0.618 * (double)(b - a) + 0.5);
        if (d <= c)
            d = c + 1;
        if (f(t, p, c) >= f(t, p, d))
            b = d;
        else
            a = c;
    }
    best = a;
    bv = f(t, p, a);
    for (x = a + 1; x <= b; x++)
        if (f(t, p, x) > bv) {
            bv = f(t, p, x);
            best = x;
        }
    if (start >= t->lo && start <= t->hi && f(t, p, start) > bv) {
        bv = f(t, p, start);
        best = start;
    }
    for (;;) { /* climb: the search may end on a shoulder */
        long nb = best;
        if (best > t->lo && f(t, p, best - 1) > bv)
            nb = best - 1;
        else if (best < t->hi && f(t, p, best + 1) > bv)
            nb = best + 1;
        if (nb == best || t->rc)
            return best;
        best = nb;
        bv = f(t, p, best);
    }
}

/* Phase searches: each thread takes whole phases (it owns their cells). */
static void *phase_search_worker(void *arg)
{
    struct table *t = arg;
    size_t p;

    for (;;) {
        pthread_mutex_lock(&t->mu);
        p = t->next_phase++;
        pthread_mutex_unlock(&t->mu);
        if (p >= t->s->n_phases)
            return NULL;
        t->phase_best[p] = golden_max(t, phase_value, p, t->phase_best[p]);
    }
}

/* Best x of phase p among every cell simulated so far (ties: smaller). */
static long phase_best_cached(const struct table *t, size_t p)
{
    long x, best = 0;
    double v, bv = -1;

    for (x = t->lo; x <= t->hi; x++) {
        const struct afd_phase_outcome *o = &t->cell[cell_at(t, x, p)];
        if (!t->have[cell_at(t, x, p)])
            continue;
        v = o->tokens / o->device_ms;
        if (v > bv) {
            bv = v;
            best = x;
        }
    }
    return best;
}

static int search_range(const struct afd_scenario *s, long *lo, long *hi,
                        long *picks, char *err)
{
    struct afd_phase_theory th;
    long mn = 0, mx = 0, bmax = 1;
    size_t p;
    int rc;

    for (p = 0; p < s->n_phases; p++) {
        rc = afd_phase_theory(s, p, &th, err);
        if (rc)
            return rc;
        picks[p] = th.x_barrier;
        mn = p == 0 || th.x_barrier < mn ? th.x_barrier : mn;
        mx = th.x_barrier > mx ? th.x_barrier : mx;
        bmax = s->phases[p].batch > bmax ? s->phases[p].batch : bmax;
    }
    *lo = (long)floor(0.6 * (double)mn);
    *lo = *lo < 1 ? 1 : *lo;
    *hi = (long)ceil(1.3 * (double)mx) + 2;
    if (*hi > AFD_SIM_MAX_SLOTS / bmax)
        *hi = AFD_SIM_MAX_SLOTS / bmax;
    if (*hi < *lo)
        return afd_err(err, AFD_EINVAL, "search range %ld..%ld is empty", *lo,
                       *hi);
    return AFD_OK;
}

static int run_search_policy(const struct afd_scenario *s,
                             enum afd_run_policy policy, int jobs,
                             struct afd_run_result *out, char *err)
{
    long picks[AFD_SCENARIO_MAX_PHASES], best[AFD_SCENARIO_MAX_PHASES], n;
    size_t np = s->n_phases, p;
    struct table t;
    double bv = -1;
    int rc;

    memset(&t, 0, sizeof(t));
    t.s = s;
    t.jobs = jobs;
    rc = search_range(s, &t.lo, &t.hi, picks, err);
    if (rc)
        return rc;
    n = t.hi - t.lo + 1;
    t.cell = calloc((size_t)n * np, sizeof(*t.cell));
    t.have = calloc((size_t)n * np, sizeof(*t.have));
    t.todo_x = calloc(np, sizeof(*t.todo_x));
    t.todo_p = calloc(np, sizeof(*t.todo_p));
    t.phase_best = best;
    pthread_mutex_init(&t.mu, NULL);
    if (!t.cell || !t.have || !t.todo_x || !t.todo_p) {
        rc = afd_err(err, AFD_ENOMEM, "out of memory for a search of %ld", n);
        goto done;
    }
    /* best static: the theory picks first, then the golden search */
    for (p = 0; p < np; p++) {
        double v = overall_value(&t, picks[p]);
        if (v > bv) {
            bv = v;
            out->static_x = picks[p];
        }
    }
    out->static_x = golden_max(&t, overall_fn, 0, out->static_x);
    if (policy == AFD_RUN_ORACLE) {
        for (p = 0; p < np; p++)
            best[p] = picks[p];
        run_parallel(&t, phase_search_worker, jobs);
    }
    if (t.rc) {
        rc = afd_err(err, t.rc, "%s", t.err);
        goto done;
    }
    for (p = 0; p < np; p++) {
        long x =
            policy == AFD_RUN_ORACLE ? phase_best_cached(&t, p) : out->static_x;
        out->phase[p] = t.cell[cell_at(&t, x, p)];
    }
    if (policy == AFD_RUN_ORACLE)
        out->static_x = 0;
done:
    pthread_mutex_destroy(&t.mu);
    free(t.cell);
    free(t.have);
    free(t.todo_x);
    free(t.todo_p);
    return rc;
}

/* ----------------------------------------------------------- policies */

/* Coarse timeline of an offline run: one point per phase start and end. */
static int offline_timeline(const struct afd_scenario *s,
                            struct afd_run_result *r, char *err)
{
    struct afd_timeline_point tp;
    struct afd_phase_theory th;
    double t0 = 0;
    size_t p;
    int rc, k;

    for (p = 0; p < s->n_phases; p++) {
        const struct afd_phase_outcome *o = &r->phase[p];
        rc = afd_phase_theory(s, p, &th, err);
        if (rc)
            return rc;
        memset(&tp, 0, sizeof(tp));
        tp.phase = (int)p;
        tp.attention = o->static_x;
        tp.ffn = s->phases[p].ffn;
        tp.throughput_per_device = o->tokens / o->device_ms;
        tp.r_star = th.r_star;
        tp.r_star_barrier = th.r_star_barrier;
        if (o->static_x >= 1) { /* the regime at this x, as live.c's */
            struct afd_solve_input si;
            afd_solve_input_init(&si, &s->profile, (double)s->phases[p].batch,
                                 th.theta);
            si.ffn_instances = (int)s->phases[p].ffn;
            snprintf(tp.regime, sizeof(tp.regime), "%s",
                     afd_regime_name(afd_regime_at(
                         &si, (double)o->static_x / (double)s->phases[p].ffn)));
        }
        for (k = 0; k < 2; k++) {
            tp.t_s = k ? t0 + o->time_ms / 1000.0 : t0;
            rc = afd_run_add_timeline(r, &tp, err);
            if (rc)
                return rc;
        }
        t0 += o->time_ms / 1000.0;
    }
    return AFD_OK;
}

int afd_run_offline(const struct afd_scenario *s, enum afd_run_policy policy,
                    long static_x, int jobs, struct afd_run_result *out,
                    char *err)
{
    struct afd_phase_theory th;
    size_t p;
    int rc = AFD_OK;

    memset(out, 0, sizeof(*out));
    out->policy = policy;
    out->seed = s->seed;
    out->n_phases = s->n_phases;
    if (jobs < 1)
        return afd_err(err, AFD_EINVAL, "jobs must be >= 1, got %d", jobs);
    switch (policy) {
    case AFD_RUN_STATIC_FIRST_PHASE:
        rc = afd_phase_theory(s, 0, &th, err);
        static_x = th.x_barrier;
        /* fall through */
    case AFD_RUN_STATIC:
        out->static_x = static_x;
        for (p = 0; !rc && p < s->n_phases; p++)
            rc = afd_run_segment(s, p, static_x, &out->phase[p], err);
        break;
    case AFD_RUN_BEST_STATIC:
    case AFD_RUN_ORACLE:
        rc = run_search_policy(s, policy, jobs, out, err);
        break;
    default:
        rc = afd_err(err, AFD_EINVAL,
                     "closed-loop is not an offline policy (needs --plugin)");
    }
    if (!rc)
        rc = offline_timeline(s, out, err);
    if (rc)
        afd_run_result_release(out);
    return rc;
}

/* ----------------------------------------------------------- results */

void afd_run_result_release(struct afd_run_result *r)
{
    if (!r)
        return;
    free(r->timeline);
    free(r->commands);
    free(r->alerts);
    r->timeline = NULL;
    r->commands = NULL;
    r->alerts = NULL;
    r->n_timeline = r->cap_timeline = 0;
    r->n_commands = r->cap_commands = 0;
    r->n_alerts = r->cap_alerts = 0;
}

/* Grows *arr (elements of size sz) to hold n + 1. */
static int grow(void **arr, size_t *cap, size_t n, size_t sz, char *err)
{
    size_t nc;
    void *p;

    if (n < *cap)
        return AFD_OK;
    if (n >= AFD_RUN_MAX_EVENTS)
        return afd_err(err, AFD_ENOMEM, "more than %d events in a run",
                       AFD_RUN_MAX_EVENTS);
    nc = *cap ? *cap * 2 : 64;
    p = realloc(*arr, nc * sz);
    if (!p)
        return afd_err(err, AFD_ENOMEM, "out of memory for %zu events", nc);
    *arr = p;
    *cap = nc;
    return AFD_OK;
}

int afd_run_add_timeline(struct afd_run_result *r,
                         const struct afd_timeline_point *p, char *err)
{
    int rc = grow((void **)&r->timeline, &r->cap_timeline, r->n_timeline,
                  sizeof(*p), err);

    if (!rc)
        r->timeline[r->n_timeline++] = *p;
    return rc;
}

int afd_run_add_command(struct afd_run_result *r,
                        const struct afd_command_event *c, char *err)
{
    int rc = grow((void **)&r->commands, &r->cap_commands, r->n_commands,
                  sizeof(*c), err);

    if (!rc)
        r->commands[r->n_commands++] = *c;
    return rc;
}

int afd_run_add_alert(struct afd_run_result *r, const struct afd_alert_event *a,
                      char *err)
{
    int rc =
        grow((void **)&r->alerts, &r->cap_alerts, r->n_alerts, sizeof(*a), err);

    if (!rc)
        r->alerts[r->n_alerts++] = *a;
    return rc;
}

double afd_run_throughput(const struct afd_scenario *s,
                          const struct afd_run_result *r)
{
    double num = 0, den = 0;
    size_t p;

    for (p = 0; p < r->n_phases && p < s->n_phases; p++) {
        const struct afd_phase_outcome *o = &r->phase[p];
        if (!(o->device_ms > 0))
            continue;
        num += s->phases[p].duration_s * o->tokens / o->device_ms;
        den += s->phases[p].duration_s;
    }
    return den > 0 ? num / den : 0;
}

double afd_run_throughput_pooled(const struct afd_run_result *r)
{
    double tok = 0, dev = 0;
    size_t p;

    for (p = 0; p < r->n_phases; p++) {
        tok += r->phase[p].tokens;
        dev += r->phase[p].device_ms;
    }
    return dev > 0 ? tok / dev : 0;
}

/* The event t answers: the phase start, or the last drift inside the
 * phase at or before t. */
static double event_before(const struct afd_scenario *s, double start,
                           double end, double t)
{
    double ev = start;
    size_t k;

    for (k = 0; k < s->hw.n_drift; k++) {
        double at = s->hw.drift[k].at_s;

        if (at > ev && at < end && at <= t)
            ev = at;
    }
    return ev;
}

void afd_run_settle(const struct afd_scenario *s, struct afd_run_result *r)
{
    double start = 0;
    size_t p, i;

    for (p = 0; p < s->n_phases; p++) {
        double dur = s->phases[p].duration_s, settle = 0, last = 0;
        long prev = -1;
        for (i = 0; i < r->n_timeline; i++) {
            const struct afd_timeline_point *tp = &r->timeline[i];
            if (tp->phase != (int)p)
                continue;
            if (prev >= 0 && tp->attention != prev) {
                double d =
                    tp->t_s - event_before(s, start, start + dur, tp->t_s);

                last = tp->t_s - start;
                if (d > settle)
                    settle = d;
            }
            prev = tp->attention;
        }
        r->phase[p].has_settle = last <= (1 - SETTLE_TAIL) * dur;
        r->phase[p].settle_s = settle;
        start += dur;
    }
}

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *phase_json(const struct afd_scenario *s,
                          const struct afd_run_result *r, size_t p)
{
    const struct afd_phase_outcome *o = &r->phase[p];
    json_t *j = json_object();

    json_object_set_new(j, AFD_RUN_NAME, json_string(s->phases[p].name));
    json_object_set_new(j, AFD_RUN_DURATION_S,
                        json_real(s->phases[p].duration_s));
    json_object_set_new(j, AFD_RUN_WORKLOAD,
                        json_string(s->phases[p].workload));
    json_object_set_new(j, AFD_RUN_TPUT, num_or_null(o->tokens / o->device_ms));
    json_object_set_new(j, AFD_RUN_X_MEAN,
                        num_or_null(o->attention_ms / o->time_ms));
    json_object_set_new(j, AFD_RUN_FFN, json_integer(s->phases[p].ffn));
    json_object_set_new(j, AFD_RUN_BATCH, json_integer(s->phases[p].batch));
    json_object_set_new(j, AFD_RUN_SETTLE_S,
                        r->policy == AFD_RUN_CLOSED_LOOP && o->has_settle
                            ? json_real(o->settle_s)
                            : json_null());
    json_object_set_new(j, AFD_RUN_STATIC_X,
                        o->static_x ? json_integer(o->static_x) : json_null());
    json_object_set_new(j, AFD_RUN_TOKENS, json_real(o->tokens));
    json_object_set_new(j, AFD_RUN_DEVICE_MS, json_real(o->device_ms));
    return j;
}

static json_t *timeline_json(const struct afd_run_result *r)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; i < r->n_timeline; i++) {
        const struct afd_timeline_point *t = &r->timeline[i];
        json_t *j = json_object();
        json_object_set_new(j, AFD_RUN_T_S, json_real(t->t_s));
        json_object_set_new(j, AFD_RUN_PHASE, json_integer(t->phase));
        json_object_set_new(j, AFD_RUN_X, json_integer(t->attention));
        json_object_set_new(j, AFD_RUN_FFN, json_integer(t->ffn));
        json_object_set_new(j, AFD_RUN_TPUT,
                            num_or_null(t->throughput_per_device));
        json_object_set_new(j, AFD_RUN_R_STAR, num_or_null(t->r_star));
        json_object_set_new(j, AFD_RUN_R_STAR_BARRIER,
                            num_or_null(t->r_star_barrier));
        json_object_set_new(
            j, "regime", t->regime[0] ? json_string(t->regime) : json_null());
        json_array_append_new(a, j);
    }
    return a;
}

static json_t *events_json(const struct afd_run_result *r, bool alerts)
{
    json_t *a = json_array();
    size_t i;

    for (i = 0; !alerts && i < r->n_commands; i++) {
        const struct afd_command_event *c = &r->commands[i];
        json_t *j = json_object();
        json_object_set_new(j, AFD_RUN_T_S, json_real(c->t_s));
        json_object_set_new(j, AFD_RUN_ID, json_integer((json_int_t)c->id));
        json_object_set_new(j, AFD_RUN_FROM, json_integer(c->from));
        json_object_set_new(j, AFD_RUN_TO, json_integer(c->to));
        json_object_set_new(j, AFD_RUN_APPLIED_T_S,
                            num_or_null(c->applied_t_s));
        json_object_set_new(j, AFD_RUN_REGIME, json_string(c->regime));
        json_object_set_new(j, AFD_RUN_REASON, json_string(c->reason));
        json_array_append_new(a, j);
    }
    for (i = 0; alerts && i < r->n_alerts; i++) {
        const struct afd_alert_event *e = &r->alerts[i];
        json_t *j = json_object();
        json_object_set_new(j, AFD_RUN_T_S, json_real(e->t_s));
        json_object_set_new(j, AFD_RUN_ALERTNAME, json_string(e->alertname));
        json_object_set_new(j, AFD_RUN_ACTION, json_string(e->action));
        json_object_set_new(j, AFD_RUN_REGIME, json_string(e->regime));
        json_object_set_new(j, AFD_RUN_EXPLANATION,
                            json_string(e->explanation));
        json_array_append_new(a, j);
    }
    return a;
}

json_t *afd_run_result_json(const struct afd_scenario *s,
                            const struct afd_run_result *r)
{
    json_t *j = json_object(), *phases = json_array();
    size_t p;

    json_object_set_new(j, AFD_RUN_POLICY,
                        json_string(afd_run_policy_name(r->policy)));
    json_object_set_new(j, AFD_RUN_SCENARIO, json_string(s->name));
    json_object_set_new(j, AFD_RUN_SEED, json_integer((json_int_t)r->seed));
    json_object_set_new(j, AFD_RUN_TPUT, num_or_null(afd_run_throughput(s, r)));
    json_object_set_new(j, AFD_RUN_TPUT_POOLED,
                        num_or_null(afd_run_throughput_pooled(r)));
    json_object_set_new(j, AFD_RUN_STATIC_X,
                        r->static_x ? json_integer(r->static_x) : json_null());
    for (p = 0; p < r->n_phases; p++)
        json_array_append_new(phases, phase_json(s, r, p));
    json_object_set_new(j, AFD_RUN_PER_PHASE, phases);
    json_object_set_new(j, AFD_RUN_SCALE_COMMANDS,
                        json_integer((json_int_t)r->n_commands));
    json_object_set_new(j, AFD_RUN_TIMELINE, timeline_json(r));
    json_object_set_new(j, AFD_RUN_COMMANDS, events_json(r, false));
    json_object_set_new(j, AFD_RUN_ALERTS, events_json(r, true));
    return j;
}
