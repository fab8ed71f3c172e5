/*
 * config_dynamo.c - the "dynamo" configuration section (config_dynamo.h).
 * Kept out of config.c so the planner attachment owns its own fields.
 */
#include "plugin/daemon/config_dynamo.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"

void afd_config_dynamo_default(struct afd_dynamo_config *dc)
{
    memset(dc, 0, sizeof(*dc));
    snprintf(dc->plugin_id, sizeof(dc->plugin_id), "afd-sizer");
    dc->priority = 50;
    dc->request_timeout_ms = 1000;
    dc->heartbeat_interval_ms = 5000;
    snprintf(dc->fpm_encoding, sizeof(dc->fpm_encoding), "proto");
    snprintf(dc->sub_component_type, sizeof(dc->sub_component_type),
             "afd-attention");
}

static int bad(char *err, const char *file, const char *field, const char *why)
{
    return afd_err(err, AFD_EINVAL, "%s: dynamo.%s: %s", file ? file : "config",
                   field, why);
}

static int get_string(json_t *v, const char *file, const char *field, char *dst,
                      size_t cap, bool nonempty, char *err)
{
    if (!json_is_string(v))
        return bad(err, file, field, "must be a string");
    if (json_string_length(v) >= cap)
        return bad(err, file, field, "too long");
    if (nonempty && !json_string_length(v))
        return bad(err, file, field, "must not be empty");
    snprintf(dst, cap, "%s", json_string_value(v));
    return AFD_OK;
}

static int get_number(json_t *v, const char *file, const char *field, double lo,
                      double hi, double *out, char *err)
{
    char why[96];

    if (!json_is_number(v))
        return bad(err, file, field, "must be a number");
    *out = json_number_value(v);
    if (!isfinite(*out) || *out < lo || *out > hi) {
        snprintf(why, sizeof(why), "must be in %g..%g, got %g", lo, hi, *out);
        return bad(err, file, field, why);
    }
    return AFD_OK;
}

static int parse_map(json_t *e, size_t i, const struct afd_dynamo_config *dc,
                     const char *file, struct afd_dynamo_map *m, char *err)
{
    char field[64];
    const char *key;
    json_t *v;
    int rc;

    snprintf(field, sizeof(field), "deployments[%zu]", i);
    if (!json_is_object(e))
        return bad(err, file, field, "must be an object");
    memset(m, 0, sizeof(*m));
    json_object_foreach(e, key, v)
    {
        snprintf(field, sizeof(field), "deployments[%zu].%s", i, key);
        if (!strcmp(key, "name"))
            rc = get_string(v, file, field, m->deployment,
                            sizeof(m->deployment), true, err);
        else if (!strcmp(key, "component_name"))
            rc = get_string(v, file, field, m->component_name,
                            sizeof(m->component_name), true, err);
        else if (!strcmp(key, "sub_component_type"))
            rc = get_string(v, file, field, m->sub_component_type,
                            sizeof(m->sub_component_type), true, err);
        else
            rc = bad(err, file, field,
                     "unknown field (known: name, component_name, "
                     "sub_component_type)");
        if (rc)
            return rc;
    }
    snprintf(field, sizeof(field), "deployments[%zu].name", i);
    if (!m->deployment[0])
        return bad(err, file, field, "is required");
    if (!m->component_name[0])
        snprintf(m->component_name, sizeof(m->component_name), "%s",
                 m->deployment);
    if (!m->sub_component_type[0])
        snprintf(m->sub_component_type, sizeof(m->sub_component_type), "%s",
                 dc->sub_component_type);
    return AFD_OK;
}

static int parse_maps(json_t *v, struct afd_dynamo_config *dc, const char *file,
                      char *err)
{
    size_t i, j;
    json_t *e;
    int rc;

    if (!json_is_array(v))
        return bad(err, file, "deployments", "must be an array");
    if (json_array_size(v) > AFD_DYNAMO_MAX_MAPS)
        return bad(err, file, "deployments", "too many entries (max 32)");
    json_array_foreach(v, i, e)
    {
        if ((rc = parse_map(e, i, dc, file, &dc->maps[i], err)))
            return rc;
        for (j = 0; j < i; j++)
            if (!strcmp(dc->maps[j].deployment, dc->maps[i].deployment))
                return bad(err, file, "deployments", "duplicate name");
    }
    dc->n_maps = json_array_size(v);
    return AFD_OK;
}

/* One key of the section; the maps come last (they read the default
 * sub_component_type). */
static int parse_key(const char *key, json_t *v, struct afd_dynamo_config *dc,
                     const char *file, char *err)
{
    double x;
    int rc;

    if (!strcmp(key, "planner"))
        return get_string(v, file, key, dc->planner, sizeof(dc->planner), false,
                          err);
    if (!strcmp(key, "token_file"))
        return get_string(v, file, key, dc->token_file, sizeof(dc->token_file),
                          false, err);
    if (!strcmp(key, "tls_ca_file"))
        return get_string(v, file, key, dc->tls_ca_file,
                          sizeof(dc->tls_ca_file), false, err);
    if (!strcmp(key, "tls_cert_file"))
        return get_string(v, file, key, dc->tls_cert_file,
                          sizeof(dc->tls_cert_file), false, err);
    if (!strcmp(key, "tls_key_file"))
        return get_string(v, file, key, dc->tls_key_file,
                          sizeof(dc->tls_key_file), false, err);
    if (!strcmp(key, "plugin_id"))
        return get_string(v, file, key, dc->plugin_id, sizeof(dc->plugin_id),
                          true, err);
    if (!strcmp(key, "endpoint"))
        return get_string(v, file, key, dc->endpoint, sizeof(dc->endpoint),
                          false, err);
    if (!strcmp(key, "fpm_encoding")) {
        if ((rc = get_string(v, file, key, dc->fpm_encoding,
                             sizeof(dc->fpm_encoding), true, err)))
            return rc;
        if (strcmp(dc->fpm_encoding, "proto") &&
            strcmp(dc->fpm_encoding, "json") &&
            strcmp(dc->fpm_encoding, "msgspec"))
            return bad(err, file, key, "must be proto, json or msgspec");
        return AFD_OK;
    }
    if (!strcmp(key, "sub_component_type"))
        return get_string(v, file, key, dc->sub_component_type,
                          sizeof(dc->sub_component_type), true, err);
    if (!strcmp(key, "hold_policy")) {
        if (json_is_string(v) &&
            !strcmp(json_string_value(v), "accept_when_idle"))
            dc->hold_last = false;
        else if (json_is_string(v) &&
                 !strcmp(json_string_value(v), "hold_last"))
            dc->hold_last = true;
        else
            return bad(err, file, key, "must be accept_when_idle or hold_last");
        return AFD_OK;
    }
    if (!strcmp(key, "advisory") || !strcmp(key, "constrain")) {
        if (!json_is_boolean(v))
            return bad(err, file, key, "must be true or false");
        *(key[0] == 'a' ? &dc->advisory : &dc->constrain) = json_is_true(v);
        return AFD_OK;
    }
    if (!strcmp(key, "priority")) {
        if ((rc = get_number(v, file, key, 0, 1e6, &x, err)))
            return rc;
        if (x != floor(x))
            return bad(err, file, key, "must be an integer");
        dc->priority = (int)x;
        return AFD_OK;
    }
    if (!strcmp(key, "execution_interval_s"))
        return get_number(v, file, key, 0, 3600, &dc->execution_interval_s,
                          err);
    if (!strcmp(key, "request_timeout_s")) {
        if ((rc = get_number(v, file, key, 0.01, 60, &x, err)))
            return rc;
        dc->request_timeout_ms = (int)lround(x * 1000);
        return AFD_OK;
    }
    if (!strcmp(key, "heartbeat_interval_s")) {
        if ((rc = get_number(v, file, key, 0.05, 60, &x, err)))
            return rc;
        dc->heartbeat_interval_ms = (int)lround(x * 1000);
        return AFD_OK;
    }
    return bad(err, file, key,
               "unknown field (known: planner, token_file, tls_ca_file, "
               "tls_cert_file, tls_key_file, plugin_id, "
               "priority, endpoint, execution_interval_s, hold_policy, "
               "request_timeout_s, heartbeat_interval_s, fpm_encoding, "
               "advisory, constrain, sub_component_type, deployments)");
}

int afd_config_dynamo_load(struct afd_dynamo_config *dc, json_t *root,
                           const char *file, char *err)
{
    struct afd_dynamo_config tmp = *dc;
    json_t *sec = json_object_get(root, "dynamo");
    const char *key;
    json_t *v;
    int rc;

    if (!sec)
        return AFD_OK;
    if (!json_is_object(sec))
        return afd_err(err, AFD_EINVAL, "%s: dynamo: must be an object",
                       file ? file : "config");
    json_object_foreach(sec, key, v)
    {
        if (strcmp(key, "deployments") &&
            (rc = parse_key(key, v, &tmp, file, err)))
            return rc;
    }
    if ((v = json_object_get(sec, "deployments")) &&
        (rc = parse_maps(v, &tmp, file, err)))
        return rc;
    *dc = tmp;
    json_object_del(root, "dynamo");
    return AFD_OK;
}

bool afd_config_dynamo_map(const struct afd_dynamo_config *dc,
                           const char *deployment, struct afd_dynamo_map *out)
{
    size_t i;

    if (!dc->n_maps) {
        memset(out, 0, sizeof(*out));
        snprintf(out->deployment, sizeof(out->deployment), "%s", deployment);
        snprintf(out->component_name, sizeof(out->component_name), "%s",
                 deployment);
        snprintf(out->sub_component_type, sizeof(out->sub_component_type), "%s",
                 dc->sub_component_type);
        return true;
    }
    for (i = 0; i < dc->n_maps; i++) {
        if (!strcmp(dc->maps[i].deployment, deployment)) {
            *out = dc->maps[i];
            return true;
        }
    }
    return false;
}

bool afd_config_dynamo_drives(const struct afd_dynamo_config *dc,
                              const char *deployment)
{
    struct afd_dynamo_map m;

    return dc->planner[0] && !dc->advisory &&
           afd_config_dynamo_map(dc, deployment, &m);
}
