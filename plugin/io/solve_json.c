/*
 * solve_json.c - a solve as a JSON object (shape documented in solve_json.h).
 *
 * jansson refuses non-finite reals (json_real(NAN) is NULL), so every number
 * goes through num(): a value that is not finite becomes null rather than
 * failing the whole object. Allocation failures are collected in one flag
 * and answered with NULL at the end.
 */
#include "plugin/io/solve_json.h"

#include <math.h>

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *stage_object(const double v[AFD_REGIME_COUNT], double step)
{
    json_t *o = json_object();
    int bad = 0;

    if (!o)
        return NULL;
    bad |= json_object_set_new(o, "attention", num(v[AFD_REGIME_ATTENTION]));
    bad |= json_object_set_new(o, "communication",
                               num(v[AFD_REGIME_COMMUNICATION]));
    bad |= json_object_set_new(o, "ffn", num(v[AFD_REGIME_FFN]));
    if (isfinite(step))
        bad |= json_object_set_new(o, "step", num(step));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *regime_array(const struct afd_solution *sol)
{
    json_t *a = json_array();
    size_t i;
    int bad = 0;

    if (!a)
        return NULL;
    for (i = 0; i < sol->n_regimes && i < AFD_REGIME_COUNT; i++) {
        const struct afd_regime_span *s = &sol->regimes[i];

        bad |= json_array_append_new(
            a, json_pack("{s:o, s:o, s:s}", "from", num(s->from), "to",
                         num(s->to), "regime", afd_regime_name(s->regime)));
    }
    if (bad) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static int add_closed_form(json_t *o, const struct afd_solution *sol)
{
    bool cf = sol->has_closed_form;
    int bad = 0;

    bad |= json_object_set_new(o, "r_A", cf ? num(sol->r_A) : json_null());
    bad |= json_object_set_new(o, "r_C", cf ? num(sol->r_C) : json_null());
    bad |=
        json_object_set_new(o, "r_peak", cf ? num(sol->r_peak) : json_null());
    return bad;
}

static int add_barrier(json_t *o, const struct afd_solution *sol)
{
    bool b = sol->has_barrier;
    int bad = 0;

    bad |= json_object_set_new(o, "r_star_barrier",
                               b ? num(sol->r_star_barrier) : json_null());
    bad |= json_object_set_new(
        o, "attention_instances_barrier",
        b ? json_integer(sol->attention_instances_barrier) : json_null());
    bad |= json_object_set_new(o, "step_time_barrier_ms",
                               b ? num(sol->step_time_barrier) : json_null());
    bad |= json_object_set_new(o, "throughput_per_device_barrier",
                               b ? num(sol->throughput_per_device_barrier)
                                 : json_null());
    bad |= json_object_set_new(o, "barrier_spread",
                               b ? num(sol->barrier_spread) : json_null());
    bad |= json_object_set_new(o, "spread_measured",
                               b ? json_boolean(sol->spread_measured)
                                 : json_null());
    return bad;
}

static int add_inputs(json_t *o, const struct afd_solve_input *in,
                      const char *theta_source)
{
    const struct afd_profile *p = in->profile;
    json_t *noise;
    int bad = 0, k;

    bad |= json_object_set_new(o, "profile", json_string(p->name));
    bad |= json_object_set_new(o, "profile_provenance",
                               json_string(p->provenance));
    bad |= json_object_set_new(o, "comm_mode",
                               json_string(afd_comm_mode_name(p->comm_mode)));
    bad |= json_object_set_new(o, "batch", num(in->batch));
    bad |= json_object_set_new(o, "theta", num(in->theta));
    bad |= json_object_set_new(o, "theta_source", str_or_null(theta_source));
    bad |= json_object_set_new(o, "sigma",
                               in->has_sigma ? num(in->sigma) : json_null());
    bad |= json_object_set_new(o, "load_spread",
                               in->has_load_spread ? num(in->load_spread)
                                                   : json_null());
    bad |= json_object_set_new(o, "ffn_instances",
                               json_integer(in->ffn_instances));
    bad |= json_object_set_new(o, "max_ratio", num(in->max_ratio));
    noise = json_object();
    for (k = 0; noise && k < AFD_REGIME_COUNT; k++)
        bad |= json_object_set_new(noise, afd_regime_name((enum afd_regime)k),
                                   num(in->stage_cv[k]));
    bad |= json_object_set_new(o, "stage_noise_cv", noise);
    return bad;
}

json_t *afd_solve_to_json(const struct afd_solve_input *in,
                          const struct afd_solution *sol,
                          const char *theta_source, const char *note)
{
    struct afd_stage_times st;
    double eta[AFD_REGIME_COUNT], t[AFD_REGIME_COUNT];
    json_t *o = json_object();
    int bad = 0;

    if (!o)
        return NULL;
    afd_idle_ratios_at(in, sol->r_star, eta);
    afd_stage_times_at(in, sol->r_star, &st);
    t[AFD_REGIME_ATTENTION] = st.attention;
    t[AFD_REGIME_COMMUNICATION] = st.comm;
    t[AFD_REGIME_FFN] = st.ffn;

    bad |= add_inputs(o, in, theta_source);
    bad |= json_object_set_new(o, "r_star", num(sol->r_star));
    bad |= add_closed_form(o, sol);
    bad |= json_object_set_new(o, "regime",
                               json_string(afd_regime_name(sol->regime)));
    bad |= json_object_set_new(o, "step_time_ms", num(sol->step_time));
    bad |= json_object_set_new(o, "throughput_per_device",
                               num(sol->throughput_per_device));
    bad |= json_object_set_new(o, "attention_instances",
                               json_integer(sol->attention_instances));
    bad |= json_object_set_new(o, "throughput_per_device_int",
                               num(sol->throughput_per_device_int));
    bad |= add_barrier(o, sol);
    bad |= json_object_set_new(o, "idle_ratios", stage_object(eta, NAN));
    bad |= json_object_set_new(o, "stage_times_ms", stage_object(t, st.step));
    bad |= json_object_set_new(o, "regimes", regime_array(sol));
    bad |= json_object_set_new(o, "note", str_or_null(note));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}
