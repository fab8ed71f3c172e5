/*
 * svc_sizer.c - afd.sizer.v1.Sizer: GetRecommendation (a deployment's live
 * recommendation, recomputed on request) and Solve (a what-if on given
 * inputs, the same computation as `afd-sizer solve`).
 *
 * Responses are built on the stack from the registry's and the solver's
 * structs; nothing here allocates.
 */
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"
#include "proto/afd_sizer.pb-c.h"

/* Storage behind one Solution message. */
struct solution_msg {
    Afd__Sizer__V1__Solution sol;
    Afd__Sizer__V1__RegimeSpan spans[AFD_REGIME_COUNT];
    Afd__Sizer__V1__RegimeSpan *span_ptrs[AFD_REGIME_COUNT];
};

static Afd__Sizer__V1__Regime regime_msg(enum afd_regime r)
{
    return (Afd__Sizer__V1__Regime)(r + 1); /* 0 is "unspecified" */
}

static void fill_profile(Afd__Sizer__V1__Profile *m,
                         const struct afd_profile *p)
{
    afd__sizer__v1__profile__init(m);
    m->name = (char *)p->name;
    m->provenance = (char *)p->provenance;
    m->aa = p->aA;
    m->ba = p->bA;
    m->ac = p->aC;
    m->bc = p->bC;
    m->af = p->aF;
    m->bf = p->bF;
    m->comm_mode = (char *)afd_comm_mode_name(p->comm_mode);
}

static void fill_solution(struct solution_msg *m, const struct afd_solution *s)
{
    Afd__Sizer__V1__Solution *o = &m->sol;
    size_t i;

    afd__sizer__v1__solution__init(o);
    o->r_star = s->r_star;
    o->regime = regime_msg(s->regime);
    o->step_time_ms = s->step_time;
    o->throughput_per_device = s->throughput_per_device;
    o->has_closed_form = s->has_closed_form;
    o->r_a = s->r_A;
    o->r_c = s->r_C;
    o->r_peak = s->r_peak;
    o->attention_instances = s->attention_instances;
    o->throughput_per_device_int = s->throughput_per_device_int;
    o->has_barrier = s->has_barrier;
    o->spread_measured = s->spread_measured;
    o->barrier_spread = s->barrier_spread;
    o->attention_instances_barrier = s->attention_instances_barrier;
    o->r_star_barrier = s->r_star_barrier;
    o->step_time_barrier_ms = s->step_time_barrier;
    o->throughput_per_device_barrier = s->throughput_per_device_barrier;
    for (i = 0; i < s->n_regimes && i < AFD_REGIME_COUNT; i++) {
        afd__sizer__v1__regime_span__init(&m->spans[i]);
        m->spans[i].from_ratio = s->regimes[i].from;
        m->spans[i].to_ratio = s->regimes[i].to;
        m->spans[i].regime = regime_msg(s->regimes[i].regime);
        m->span_ptrs[i] = &m->spans[i];
    }
    o->n_regimes = i;
    o->regimes = m->span_ptrs;
}

/*
 * The recommendation of the latest evaluation (daemon.h: reads never
 * recompute). Before the first one it is not valid and says why.
 */
static const struct afd_recommendation *
current_recommendation(void *ctx, struct afd_deployment *d)
{
    (void)ctx;
    return afd_deployment_recommendation(d);
}

static void get_recommendation(struct afd_grpc_call *call,
                               const ProtobufCMessage *msg, void *ctx)
{
    const Afd__Sizer__V1__GetRecommendationRequest *req =
        (const Afd__Sizer__V1__GetRecommendationRequest *)msg;
    Afd__Sizer__V1__Recommendation out = AFD__SIZER__V1__RECOMMENDATION__INIT;
    Afd__Sizer__V1__Coefficient coef[AFD_COEF_COUNT];
    Afd__Sizer__V1__Coefficient *coef_ptrs[AFD_COEF_COUNT];
    uint64_t samples[3];
    Afd__Sizer__V1__Profile profile;
    struct solution_msg sol;
    const struct afd_recommendation *rec;
    struct afd_svc_env *env = afd_svc_env(ctx);
    struct afd_control_status cst;
    struct afd_deployment *d;
    size_t i;

    d = afd_svc_find_deployment(call, ctx, req->deployment);
    if (!d)
        return;
    rec = current_recommendation(ctx, d);
    out.deployment = (char *)afd_deployment_name(d);
    out.valid = rec->valid;
    out.why_not = rec->valid ? "" : (char *)rec->why_not;
    out.computed_ms = rec->computed_ms;
    out.theta = rec->theta;
    out.sigma = rec->sigma;
    out.has_sigma = rec->has_sigma;
    out.theta_source = (Afd__Sizer__V1__ThetaSource)rec->theta_source;
    out.batch = rec->batch;
    out.spread_measured = rec->spread_measured;
    out.load_spread = rec->load_spread;
    out.attention_noise_cv = rec->stage_cv[AFD_REGIME_ATTENTION];
    out.comm_noise_cv = rec->stage_cv[AFD_REGIME_COMMUNICATION];
    out.ffn_noise_cv = rec->stage_cv[AFD_REGIME_FFN];
    out.requests = rec->requests;
    out.attention_instances = rec->attention_instances;
    out.ffn_instances = rec->ffn_instances;
    fill_profile(&profile, &rec->profile);
    out.profile = &profile;
    for (i = 0; i < AFD_COEF_COUNT; i++) {
        afd__sizer__v1__coefficient__init(&coef[i]);
        coef[i].name = (char *)afd_coef_name((enum afd_coef)i);
        coef[i].value = rec->calib.value[i];
        coef[i].prior = rec->calib.prior[i];
        coef[i].calibrated = rec->calib.calibrated[i];
        coef[i].ci_half_width = rec->calib.ci[i];
        coef_ptrs[i] = &coef[i];
    }
    out.n_coefficients = AFD_COEF_COUNT;
    out.coefficients = coef_ptrs;
    for (i = 0; i < 3; i++)
        samples[i] = rec->calib.samples[i];
    out.n_calibration_samples = 3;
    out.calibration_samples = samples;
    out.shifts_detected = rec->shifts;
    out.last_shift_ms = rec->last_shift_ms;
    out.last_shift_signal = (char *)rec->last_shift_on;
    out.last_shift_direction = rec->last_shift_direction;
    out.comm_mode_identified = rec->comm_mode_identified;
    out.comm_hedged = rec->comm_hedged;
    out.lean = rec->lean;
    out.stood_s = rec->stood_ms / 1e3;
    out.lean_held = rec->lean_held;
    out.live_trend = rec->live_trend;
    out.old_requests = rec->old_requests;
    out.refit = rec->refit;
    out.gain_uncertainty = rec->gain_uncertainty;
    out.theta_ci95 = rec->theta_ci;
    out.theta_confident = rec->theta_confident;
    out.attention_source =
        (char *)(rec->attention_source ? rec->attention_source : "");
    if (env->ctl && afd_control_status(env->ctl, d, &cst)) {
        out.controller_state = (char *)cst.policy.state_name;
        out.controller_reason = cst.policy.reason;
    }
    if (rec->valid) {
        out.r_star = rec->solution.r_star;
        out.has_barrier = rec->solution.has_barrier;
        out.r_star_barrier =
            rec->solution.has_barrier ? rec->solution.r_star_barrier : 0;
        out.regime = regime_msg(rec->solution.regime);
        out.current_regime = regime_msg(rec->current_regime);
        out.target_attention_instances = rec->target_attention_instances;
        out.throughput_current = rec->throughput_current;
        out.throughput_target = rec->throughput_target;
        out.expected_gain = rec->expected_gain;
        fill_solution(&sol, &rec->solution);
        out.solution = &sol.sol;
    }
    afd_grpc_reply(call, &out.base);
}

/* The profile of a Solve request: built-in by name, inline, or default. */
static int solve_profile(const Afd__Sizer__V1__SolveRequest *req,
                         struct afd_profile *p, char *err)
{
    const struct afd_profile *b;
    const Afd__Sizer__V1__Profile *m = req->profile;

    if (req->profile_name && req->profile_name[0]) {
        b = afd_profile_builtin(req->profile_name);
        if (!b)
            return afd_err(err, AFD_EINVAL, "unknown profile '%s'",
                           req->profile_name);
        *p = *b;
    } else if (m) {
        memset(p, 0, sizeof(*p));
        snprintf(p->name, sizeof(p->name), "%s",
                 m->name && m->name[0] ? m->name : "inline");
        snprintf(p->provenance, sizeof(p->provenance), "%s",
                 m->provenance ? m->provenance : "");
        p->aA = m->aa;
        p->bA = m->ba;
        p->aC = m->ac;
        p->bC = m->bc;
        p->aF = m->af;
        p->bF = m->bf;
        p->comm_mode = AFD_COMM_PER_INSTANCE;
        if (m->comm_mode && m->comm_mode[0] &&
            afd_comm_mode_parse(m->comm_mode, &p->comm_mode, err))
            return AFD_EINVAL;
    } else {
        b = afd_profile_builtin(AFD_DEFAULT_PROFILE);
        if (!b)
            return afd_err(err, AFD_EINVAL, "no default profile");
        *p = *b;
    }
    if (req->comm_mode && req->comm_mode[0] &&
        afd_comm_mode_parse(req->comm_mode, &p->comm_mode, err))
        return AFD_EINVAL;
    return afd_profile_validate(p, err);
}

static void solve(struct afd_grpc_call *call, const ProtobufCMessage *msg,
                  void *ctx)
{
    const Afd__Sizer__V1__SolveRequest *req =
        (const Afd__Sizer__V1__SolveRequest *)msg;
    Afd__Sizer__V1__SolveResponse out = AFD__SIZER__V1__SOLVE_RESPONSE__INIT;
    Afd__Sizer__V1__Profile profile_msg;
    struct solution_msg sol_msg;
    struct afd_solve_input in;
    struct afd_solution sol;
    struct afd_profile p;
    char err[AFD_ERR_LEN];

    if (solve_profile(req, &p, err)) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT, "%s", err);
        return;
    }
    afd_solve_input_init(&in, &p, req->batch, req->theta);
    in.has_sigma = req->has_sigma;
    in.sigma = req->sigma;
    in.has_load_spread = req->has_load_spread;
    in.load_spread = req->load_spread;
    in.stage_cv[AFD_REGIME_ATTENTION] = req->attention_noise_cv;
    in.stage_cv[AFD_REGIME_COMMUNICATION] = req->comm_noise_cv;
    in.stage_cv[AFD_REGIME_FFN] = req->ffn_noise_cv;
    if (req->ffn_instances)
        in.ffn_instances = req->ffn_instances;
    if (req->max_ratio != 0)
        in.max_ratio = req->max_ratio;
    if (afd_solve(&in, &sol, err)) {
        afd_grpc_finish(call, AFD_GRPC_INVALID_ARGUMENT, "%s", err);
        return;
    }
    fill_profile(&profile_msg, &p);
    fill_solution(&sol_msg, &sol);
    out.profile = &profile_msg;
    out.solution = &sol_msg.sol;
    afd_grpc_reply(call, &out.base);
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/afd.sizer.v1.Sizer/GetRecommendation",
        .kind = AFD_GRPC_UNARY,
        .request = &afd__sizer__v1__get_recommendation_request__descriptor,
        .on_request = get_recommendation,
    },
    {
        .path = "/afd.sizer.v1.Sizer/Solve",
        .kind = AFD_GRPC_UNARY,
        .request = &afd__sizer__v1__solve_request__descriptor,
        .on_request = solve,
    },
};

const struct afd_grpc_method *afd_svc_sizer_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
