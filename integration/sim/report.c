/* report.c - table, JSON and CSV output of an afd-sim sweep. */
#include "integration/sim/report.h"

#include <errno.h>
#include <math.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/io/solve_json.h"

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *point_json(const struct afd_sweep_point *p)
{
    const struct afd_sim_result *s = &p->sim;

    return json_pack(
        "{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o}, s:o, "
        "s:o, s:b, s:b, s:o, s:o, s:s}",
        "attention_instances", (json_int_t)s->attention, "r", num(s->ratio),
        "throughput_per_device", num(s->throughput_per_device), "ci95",
        num(s->ci95), "eta_A", num(s->eta[0]), "eta_C", num(s->eta[1]), "eta_F",
        num(s->eta[2]), "mean_step_ms", num(s->mean_step_ms), "bound_share",
        "attention", num(s->bound_share[0]), "communication",
        num(s->bound_share[1]), "ffn", num(s->bound_share[2]), "mean_load",
        num(s->mean_load), "load_spread", num(s->load_spread), "tied", p->tied,
        "extra", p->extra, "model_mean_field", num(p->model_mean_field),
        "model_barrier", num(p->model_barrier), "regime",
        afd_regime_name(p->regime));
}

static const char *ties_note(const struct afd_sweep_result *r)
{
    if (r->tie_lo == r->tie_hi)
        return "optimum resolved: no other ratio's 95% interval overlaps it";
    return "ratios in tie_range overlap the optimum's 95% interval: "
           "tied within noise (raise --steps to separate them)";
}

json_t *afd_report_json(const struct afd_sweep_config *c,
                        const struct afd_sweep_result *r,
                        const struct afd_report_meta *m)
{
    const struct afd_solution *s = &r->solution;
    json_t *o, *arr;
    size_t i;

    arr = json_array();
    for (i = 0; arr && i < r->n; i++)
        json_array_append_new(arr, point_json(&r->points[i]));
    o = json_pack(
        "{s:s, s:s, s:I, s:I, s:s, s:o, s:o, s:I, s:o, s:o, s:I, s:I, s:I, "
        "s:o, s:i, s:o}",
        "profile", c->sim.profile->name, "comm_mode",
        afd_comm_mode_name(c->sim.profile->comm_mode), "batch",
        (json_int_t)c->sim.batch, "ffn_instances", (json_int_t)c->sim.ffn,
        "workload", m->workload, "theta", num(r->drawn.theta), "sigma",
        num(r->drawn.sigma), "requests_drawn", (json_int_t)r->drawn.requests,
        "mean_prompt", num(r->drawn.mean_prompt), "mean_decode",
        num(r->drawn.mean_decode), "steps", (json_int_t)m->steps, "warmup",
        (json_int_t)m->warmup, "seed", (json_int_t)m->seed, "noise_cv",
        num(m->noise_cv), "batches", m->batches, "ratios", arr);
    if (!o)
        return NULL;
    json_object_set_new(o, "best_attention_instances", json_integer(r->best_x));
    json_object_set_new(o, "best_r", num(r->r_sim));
    json_object_set_new(
        o, "tie_range",
        json_pack("[I, I]", (json_int_t)r->tie_lo, (json_int_t)r->tie_hi));
    json_object_set_new(o, "ties_note", json_string(ties_note(r)));
    json_object_set_new(o, "r_star", num(s->r_star));
    json_object_set_new(o, "attention_instances_mean_field",
                        json_integer(s->attention_instances));
    json_object_set_new(o, "r_star_barrier",
                        s->has_barrier ? num(s->r_star_barrier) : json_null());
    json_object_set_new(o, "attention_instances_barrier",
                        s->has_barrier
                            ? json_integer(s->attention_instances_barrier)
                            : json_null());
    json_object_set_new(o, "error_mean_field", num(r->error_mean_field));
    json_object_set_new(o, "error_barrier", num(r->error_barrier));
    json_object_set_new(o, "regret_mean_field", num(r->regret_mean_field));
    json_object_set_new(o, "regret_barrier", num(r->regret_barrier));
    json_object_set_new(o, "solve",
                        afd_solve_to_json(&r->input, s,
                                          "requests drawn by the simulation",
                                          NULL));
    return o;
}

static void table_rows(FILE *out, const struct afd_sweep_result *r)
{
    size_t i;

    fprintf(out, "%6s %7s %12s %9s %8s %6s %6s %6s %5s %5s %5s  %s\n", "x", "r",
            "tok/ms/dev", "ci95", "step_ms", "eta_A", "eta_C", "eta_F", "A%",
            "C%", "F%", "mark");
    for (i = 0; i < r->n; i++) {
        const struct afd_sweep_point *p = &r->points[i];
        const struct afd_sim_result *s = &p->sim;
        char mark[64] = "";
        if (i == r->best)
            strcat(mark, " best");
        else if (p->tied)
            strcat(mark, " tied");
        if (s->attention == r->solution.attention_instances)
            strcat(mark, " mean-field");
        if (r->solution.has_barrier &&
            s->attention == r->solution.attention_instances_barrier)
            strcat(mark, " barrier");
        if (p->extra)
            strcat(mark, " (extra)");
        fprintf(out,
                "%6ld %7.3f %12.5f %9.5f %8.4f %6.3f %6.3f %6.3f %5.1f "
                "%5.1f %5.1f %s\n",
                s->attention, s->ratio, s->throughput_per_device, s->ci95,
                s->mean_step_ms, s->eta[0], s->eta[1], s->eta[2],
                100 * s->bound_share[0], 100 * s->bound_share[1],
                100 * s->bound_share[2], mark);
    }
}

/* A single run does not simulate the theory's picks: no regret then. */
static void regret_line(FILE *out, double regret)
{
    if (isfinite(regret))
        fprintf(out, ", regret %.2f%%\n", 100 * regret);
    else
        fprintf(out, ", regret n/a (pick not simulated)\n");
}

void afd_report_table(FILE *out, const struct afd_sweep_config *c,
                      const struct afd_sweep_result *r,
                      const struct afd_report_meta *m)
{
    const struct afd_solution *s = &r->solution;

    fprintf(out, "afd-sim: profile %s (%s comm), B = %ld, y = %ld FFN\n",
            c->sim.profile->name, afd_comm_mode_name(c->sim.profile->comm_mode),
            c->sim.batch, c->sim.ffn);
    fprintf(out, "workload %s; drawn: %llu requests, theta %.2f, sigma %.2f\n",
            m->workload, (unsigned long long)r->drawn.requests, r->drawn.theta,
            r->drawn.sigma);
    fprintf(out,
            "%llu measured steps after %llu warm-up, seed %llu, noise cv %g, "
            "CI by %d batch means\n\n",
            m->steps, m->warmup, m->seed, m->noise_cv, m->batches);
    table_rows(out, r);
    if (r->n == 1) {
        fprintf(out,
                "\nsingle run: x = %ld (r = %.3f); use --sweep for the "
                "optimum\nmean-field: r* = %.3f, recommends x = %d\n",
                r->best_x, r->r_sim, s->r_star, s->attention_instances);
        if (s->has_barrier)
            fprintf(out, "barrier-aware: x = %d (r = %.3f)\n",
                    s->attention_instances_barrier, s->r_star_barrier);
        return;
    }
    fprintf(out, "\nsimulation optimum: x = %ld (r = %.3f)", r->best_x,
            r->r_sim);
    if (r->tie_lo != r->tie_hi)
        fprintf(out, ", tied within noise over x = %ld..%ld", r->tie_lo,
                r->tie_hi);
    fprintf(out, "\nmean-field: r* = %.3f, recommends x = %d; error %+.1f%%",
            s->r_star, s->attention_instances, 100 * r->error_mean_field);
    regret_line(out, r->regret_mean_field);
    if (s->has_barrier) {
        fprintf(out, "barrier-aware: x = %d (r = %.3f); error %+.1f%%",
                s->attention_instances_barrier, s->r_star_barrier,
                100 * r->error_barrier);
        regret_line(out, r->regret_barrier);
    }
}

int afd_report_csv(const char *path, const struct afd_sweep_result *r,
                   char *err)
{
    FILE *f = fopen(path, "w");
    size_t i;
    int bad;

    if (!f)
        return afd_err(err, AFD_EIO, "%s: cannot write: %s", path,
                       strerror(errno));
    fprintf(f, "attention_instances,r,throughput_per_device,ci95,eta_A,eta_C,"
               "eta_F,mean_step_ms,bound_attention,bound_communication,"
               "bound_ffn,mean_load,load_spread,tied,extra,model_mean_field,"
               "model_barrier,regime\n");
    for (i = 0; i < r->n; i++) {
        const struct afd_sweep_point *p = &r->points[i];
        const struct afd_sim_result *s = &p->sim;
        fprintf(f,
                "%ld,%.6g,%.8g,%.6g,%.6g,%.6g,%.6g,%.8g,%.6g,%.6g,%.6g,"
                "%.8g,%.8g,%d,%d,%.8g,%.8g,%s\n",
                s->attention, s->ratio, s->throughput_per_device, s->ci95,
                s->eta[0], s->eta[1], s->eta[2], s->mean_step_ms,
                s->bound_share[0], s->bound_share[1], s->bound_share[2],
                s->mean_load, s->load_spread, p->tied, p->extra,
                p->model_mean_field, p->model_barrier,
                afd_regime_name(p->regime));
    }
    bad = ferror(f);
    if (fclose(f) || bad)
        return afd_err(err, AFD_EIO, "%s: write failed", path);
    return AFD_OK;
}
