/*
 * svc_dynamo.c - dynamo.planner.plugin.v1.ProposePlugin/Propose and
 * ConstrainPlugin/Constrain: our answers to each planner tick
 * (plugin/daemon/dynamo.h). Reads only what is stored (the recommendation,
 * the controller's latest decision and balanced band), so it answers in
 * microseconds whatever the load; nothing is computed here.
 *
 * Propose: one ComponentTarget (SET, the Attention pool's replicas) per
 * mapped deployment with a decision; the FFN pool is left without opinion.
 * Constrain: two per mapped deployment with a band (AT_LEAST and AT_MOST
 * the whole counts of the balanced band; never SET). Nothing to say (no
 * data, no decision, unknown deployment): ACCEPT, never an error. The
 * Propose request's observations are stored for the recommendation where
 * our own telemetry is absent (observe below). Advisory
 * ("dynamo.advisory"): ACCEPT, and what would have been answered goes to
 * stderr.
 */
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/dynamo.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/services.h"
#include "proto/dynamo/planner/plugin/v1/plugin.pb-c.h"

#define MAX_TARGETS (2 * AFD_DYNAMO_MAX_MAPS)

/* Storage behind one OverrideResult. */
struct override_msg {
    Dynamo__Planner__Plugin__V1__OverrideResult res;
    Dynamo__Planner__Plugin__V1__ComponentTarget t[MAX_TARGETS];
    Dynamo__Planner__Plugin__V1__ComponentTarget *ptrs[MAX_TARGETS];
    struct afd_dynamo_map maps[AFD_DYNAMO_MAX_MAPS];
    size_t n_maps;
    char reason[1024];
};

typedef void (*add_fn)(struct afd_svc_env *env, struct afd_deployment *d,
                       const struct afd_dynamo_map *m, struct override_msg *o);

/* The newest decision of d (issued or advisory), if any. */
static bool last_decision(struct afd_svc_env *env, struct afd_deployment *d,
                          struct afd_control_command *out)
{
    static struct afd_control_command hist[AFD_CONTROL_HISTORY]; /* loop */
    size_t n;

    if (!env->ctl)
        return false;
    n = afd_control_history(env->ctl, d, hist, AFD_CONTROL_HISTORY);
    if (!n)
        return false;
    *out = hist[n - 1];
    return true;
}

static void add_reason(struct override_msg *o, const char *dep, const char *why)
{
    size_t len = strlen(o->reason);

    snprintf(o->reason + len, sizeof(o->reason) - len, "%s%s: %s",
             len ? "; " : "", dep, why);
}

/* Appends one target of component m to o; false when o is full. */
static bool add_one(struct override_msg *o, const struct afd_dynamo_map *m,
                    int replicas, Dynamo__Planner__Plugin__V1__OverrideType ty)
{
    Dynamo__Planner__Plugin__V1__ComponentTarget *t;
    size_t i = o->res.n_targets, k;

    if (i >= MAX_TARGETS)
        return false;
    for (k = 0; k < o->n_maps; k++) /* the map's storage, once */
        if (!strcmp(o->maps[k].deployment, m->deployment))
            break;
    if (k == o->n_maps) {
        if (k >= AFD_DYNAMO_MAX_MAPS)
            return false;
        o->maps[o->n_maps++] = *m;
    }
    t = &o->t[i];
    dynamo__planner__plugin__v1__component_target__init(t);
    t->sub_component_type = o->maps[k].sub_component_type;
    t->_component_name_case =
        DYNAMO__PLANNER__PLUGIN__V1__COMPONENT_TARGET___COMPONENT_NAME_COMPONENT_NAME;
    t->component_name = o->maps[k].component_name;
    t->_replicas_case =
        DYNAMO__PLANNER__PLUGIN__V1__COMPONENT_TARGET___REPLICAS_REPLICAS;
    t->replicas = replicas;
    t->type = ty;
    o->ptrs[i] = t;
    o->res.n_targets = i + 1;
    return true;
}

/* Propose: the answer of deployment d (mapped by m). */
static void add_target(struct afd_svc_env *env, struct afd_deployment *d,
                       const struct afd_dynamo_map *m, struct override_msg *o)
{
    struct afd_control_command last;
    struct afd_dynamo_answer a;

    afd_dynamo_answer(afd_deployment_recommendation(d),
                      last_decision(env, d, &last) ? &last : NULL, &a);
    add_reason(o, m->deployment, a.reason);
    if (a.set)
        add_one(o, m, a.replicas,
                DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__SET);
}

/* Constrain: the band of deployment d (mapped by m). */
static void add_bounds(struct afd_svc_env *env, struct afd_deployment *d,
                       const struct afd_dynamo_map *m, struct override_msg *o)
{
    const struct afd_policy_config *pc = &env->cfg->controller.policy;
    const struct afd_recommendation *rec = afd_deployment_recommendation(d);
    struct afd_control_band band;
    struct afd_dynamo_bounds b;
    bool has =
        env->ctl && rec && rec->valid && afd_control_band(env->ctl, d, &band);

    afd_dynamo_bounds(has ? &band : NULL, pc->min_attention, pc->max_attention,
                      &b);
    add_reason(o, m->deployment, b.reason);
    if (b.set && add_one(o, m, b.at_least,
                         DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__AT_LEAST))
        add_one(o, m, b.at_most,
                DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__AT_MOST);
}

static void build(struct afd_svc_env *env, add_fn add, struct override_msg *o)
{
    const struct afd_dynamo_config *dc = &env->cfg->dynamo;
    struct afd_dynamo_map m;
    struct afd_deployment *d;
    size_t i, n;

    memset(o, 0, sizeof(*o));
    dynamo__planner__plugin__v1__override_result__init(&o->res);
    o->res.targets = o->ptrs;
    if (dc->n_maps) {
        for (i = 0; i < dc->n_maps; i++) {
            d = afd_registry_find(env->reg, dc->maps[i].deployment);
            if (d)
                add(env, d, &dc->maps[i], o);
            else
                add_reason(o, dc->maps[i].deployment, "no telemetry yet");
        }
    } else {
        n = afd_registry_count(env->reg);
        for (i = 0; i < n && i < AFD_DYNAMO_MAX_MAPS; i++) {
            d = afd_registry_at(env->reg, i);
            afd_config_dynamo_map(dc, afd_deployment_name(d), &m);
            add(env, d, &m, o);
        }
    }
    if (!o->reason[0])
        snprintf(o->reason, sizeof(o->reason), "no deployment known yet");
    o->res.reason = o->reason;
}

/*
 * What the planner observes (PipelineContext.observations): its ready
 * decode workers are our Attention pool's count, its traffic means a
 * workload estimate, both kept for where our own telemetry is absent
 * (registry.h, afd_planner_obs). One context describes one Dynamo graph:
 * it is stored when exactly one deployment answers (one mapping, or no
 * mapping and one known deployment).
 */
static void observe(struct afd_svc_env *env,
                    const Dynamo__Planner__Plugin__V1__ProposeStageRequest *r)
{
    const struct afd_dynamo_config *dc = &env->cfg->dynamo;
    const Dynamo__Planner__Plugin__V1__ObservationData *ob =
        r && r->context ? r->context->observations : NULL;
    struct afd_planner_obs o;
    struct afd_deployment *d = NULL;
    const char *name;

    if (!ob)
        return;
    memset(&o, 0, sizeof(o));
    if (ob->workers &&
        ob->workers->_ready_decode_case ==
            DYNAMO__PLANNER__PLUGIN__V1__WORKER_STATE___READY_DECODE_READY_DECODE)
        o.ready_attention = ob->workers->ready_decode;
    if (ob->traffic) {
        o.isl = ob->traffic->isl;
        o.osl = ob->traffic->osl;
    }
    if (dc->n_maps == 1)
        name = dc->maps[0].deployment;
    else if (!dc->n_maps && afd_registry_count(env->reg) == 1)
        name = afd_deployment_name(afd_registry_at(env->reg, 0));
    else
        return;
    if (afd_registry_get(env->reg, name, &d, NULL) == AFD_OK && d)
        afd_deployment_set_planner_obs(d, &o);
}

static const char *type_name(Dynamo__Planner__Plugin__V1__OverrideType t)
{
    return t == DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__SET ? "to"
           : t == DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__AT_LEAST
               ? "at least"
               : "at most";
}

/* True when the stage answers o's targets; false for ACCEPT (nothing to
 * say, or advisory: then what would have been answered is logged). */
static bool answers(const struct afd_svc_env *env, const struct override_msg *o)
{
    size_t i;

    if (o->res.n_targets && !env->cfg->dynamo.advisory)
        return true;
    for (i = 0; i < o->res.n_targets; i++)
        fprintf(stderr,
                "afd-sizer: dynamo advisory: would %s %s/%s replicas %s %d "
                "(%s)\n",
                o->t[i].type == DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__SET
                    ? "set"
                    : "constrain",
                o->t[i].sub_component_type, o->t[i].component_name,
                type_name(o->t[i].type), o->t[i].replicas, o->reason);
    return false;
}

static void propose(struct afd_grpc_call *call, const ProtobufCMessage *req,
                    void *ctx)
{
    struct afd_svc_env *env = afd_svc_env(ctx);
    static struct override_msg o; /* loop thread only; large */
    Dynamo__Planner__Plugin__V1__ProposeStageResponse out =
        DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__INIT;
    Dynamo__Planner__Plugin__V1__AcceptResult accept =
        DYNAMO__PLANNER__PLUGIN__V1__ACCEPT_RESULT__INIT;

    observe(env, (const Dynamo__Planner__Plugin__V1__ProposeStageRequest *)req);
    build(env, add_target, &o);
    if (answers(env, &o)) {
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__RESULT_OVERRIDE;
        out.override = &o.res;
    } else {
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__RESULT_ACCEPT;
        out.accept = &accept;
    }
    afd_grpc_reply(call, &out.base);
}

/* CONSTRAIN: the band where our model keeps the pool efficient; final is
 * left false (the proposal ignores it in this stage). */
static void constrain(struct afd_grpc_call *call, const ProtobufCMessage *req,
                      void *ctx)
{
    struct afd_svc_env *env = afd_svc_env(ctx);
    static struct override_msg o; /* loop thread only; large */
    Dynamo__Planner__Plugin__V1__ConstrainStageResponse out =
        DYNAMO__PLANNER__PLUGIN__V1__CONSTRAIN_STAGE_RESPONSE__INIT;
    Dynamo__Planner__Plugin__V1__AcceptResult accept =
        DYNAMO__PLANNER__PLUGIN__V1__ACCEPT_RESULT__INIT;

    (void)req;
    build(env, add_bounds, &o);
    if (answers(env, &o)) {
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__CONSTRAIN_STAGE_RESPONSE__RESULT_OVERRIDE;
        out.override = &o.res;
    } else {
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__CONSTRAIN_STAGE_RESPONSE__RESULT_ACCEPT;
        out.accept = &accept;
    }
    afd_grpc_reply(call, &out.base);
}

static const struct afd_grpc_method methods[] = {
    {
        .path = "/dynamo.planner.plugin.v1.ProposePlugin/Propose",
        .kind = AFD_GRPC_UNARY,
        .request =
            &dynamo__planner__plugin__v1__propose_stage_request__descriptor,
        .on_request = propose,
    },
    {
        .path = "/dynamo.planner.plugin.v1.ConstrainPlugin/Constrain",
        .kind = AFD_GRPC_UNARY,
        .request =
            &dynamo__planner__plugin__v1__constrain_stage_request__descriptor,
        .on_request = constrain,
    },
};

const struct afd_grpc_method *afd_svc_dynamo_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
