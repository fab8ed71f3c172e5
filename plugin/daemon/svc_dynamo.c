/*
 * svc_dynamo.c - dynamo.planner.plugin.v1.ProposePlugin/Propose: our answer
 * to each planner tick (plugin/daemon/dynamo.h). Reads only what is stored
 * (the recommendation and the controller's latest decision), so it answers
 * in microseconds whatever the load; nothing is computed here.
 *
 * One ComponentTarget (SET, the Attention pool's replicas) per mapped
 * deployment with a decision; the FFN pool is left without opinion.
 * Nothing to say (no data, no decision, unknown deployment): ACCEPT, never
 * an error. The request's observations are stored for the recommendation
 * where our own telemetry is absent (observe below). Advisory
 * ("dynamo.advisory"): ACCEPT, and what would have been set goes to stderr.
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

/* Storage behind one OverrideResult. */
struct override_msg {
    Dynamo__Planner__Plugin__V1__OverrideResult res;
    Dynamo__Planner__Plugin__V1__ComponentTarget t[AFD_DYNAMO_MAX_MAPS];
    Dynamo__Planner__Plugin__V1__ComponentTarget *ptrs[AFD_DYNAMO_MAX_MAPS];
    struct afd_dynamo_map maps[AFD_DYNAMO_MAX_MAPS];
    char reason[1024];
};

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

/* Adds the answer of deployment d (mapped by m) to o. */
static void add_target(struct afd_svc_env *env, struct afd_deployment *d,
                       const struct afd_dynamo_map *m, struct override_msg *o)
{
    Dynamo__Planner__Plugin__V1__ComponentTarget *t;
    struct afd_control_command last;
    struct afd_dynamo_answer a;
    size_t i = o->res.n_targets, len = strlen(o->reason);

    afd_dynamo_answer(afd_deployment_recommendation(d),
                      last_decision(env, d, &last) ? &last : NULL, &a);
    snprintf(o->reason + len, sizeof(o->reason) - len, "%s%s: %s",
             len ? "; " : "", m->deployment, a.reason);
    if (!a.set || i >= AFD_DYNAMO_MAX_MAPS)
        return;
    o->maps[i] = *m;
    t = &o->t[i];
    dynamo__planner__plugin__v1__component_target__init(t);
    t->sub_component_type = o->maps[i].sub_component_type;
    t->_component_name_case =
        DYNAMO__PLANNER__PLUGIN__V1__COMPONENT_TARGET___COMPONENT_NAME_COMPONENT_NAME;
    t->component_name = o->maps[i].component_name;
    t->_replicas_case =
        DYNAMO__PLANNER__PLUGIN__V1__COMPONENT_TARGET___REPLICAS_REPLICAS;
    t->replicas = a.replicas;
    t->type = DYNAMO__PLANNER__PLUGIN__V1__OVERRIDE_TYPE__SET;
    o->ptrs[i] = t;
    o->res.n_targets = i + 1;
}

static void build(struct afd_svc_env *env, struct override_msg *o)
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
                add_target(env, d, &dc->maps[i], o);
            else
                snprintf(o->reason + strlen(o->reason),
                         sizeof(o->reason) - strlen(o->reason),
                         "%s%s: no telemetry yet", o->reason[0] ? "; " : "",
                         dc->maps[i].deployment);
        }
    } else {
        n = afd_registry_count(env->reg);
        for (i = 0; i < n && i < AFD_DYNAMO_MAX_MAPS; i++) {
            d = afd_registry_at(env->reg, i);
            afd_config_dynamo_map(dc, afd_deployment_name(d), &m);
            add_target(env, d, &m, o);
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

static void propose(struct afd_grpc_call *call, const ProtobufCMessage *req,
                    void *ctx)
{
    struct afd_svc_env *env = afd_svc_env(ctx);
    static struct override_msg o; /* loop thread only; large */
    Dynamo__Planner__Plugin__V1__ProposeStageResponse out =
        DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__INIT;
    Dynamo__Planner__Plugin__V1__AcceptResult accept =
        DYNAMO__PLANNER__PLUGIN__V1__ACCEPT_RESULT__INIT;
    size_t i;

    observe(env, (const Dynamo__Planner__Plugin__V1__ProposeStageRequest *)req);
    build(env, &o);
    if (o.res.n_targets && !env->cfg->dynamo.advisory) {
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__RESULT_OVERRIDE;
        out.override = &o.res;
    } else {
        for (i = 0; i < o.res.n_targets; i++)
            fprintf(stderr,
                    "afd-sizer: dynamo advisory: would set %s/%s replicas "
                    "to %d (%s)\n",
                    o.t[i].sub_component_type, o.t[i].component_name,
                    o.t[i].replicas, o.reason);
        out.result_case =
            DYNAMO__PLANNER__PLUGIN__V1__PROPOSE_STAGE_RESPONSE__RESULT_ACCEPT;
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
};

const struct afd_grpc_method *afd_svc_dynamo_methods(size_t *n)
{
    *n = sizeof(methods) / sizeof(methods[0]);
    return methods;
}
