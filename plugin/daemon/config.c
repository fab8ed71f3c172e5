/*
 * config.c - defaults, the JSON config file and its validation (config.h).
 *
 * Every key is a row of a table (name, type, bounds, where it is stored),
 * parsed by one generic routine, as redis's static_configs[]. Nested objects
 * have their own table over the same base struct. The file is parsed into a
 * copy of the config and committed only when the whole file and the
 * cross-field rules pass, so a bad file changes nothing.
 */
#include "plugin/daemon/config.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "controller/alert.h"
#include "controller/policy.h"
#include "estimator/solver.h"
#include "plugin/daemon/alertmanager.h"
#include "plugin/daemon/config_ha.h"
#include "plugin/io/profile_json.h"
#include "plugin/io/json_field.h"

/* A config is a few dozen keys and a deployment list; 1 MiB is not one. */
#define CONFIG_MAX_BYTES (1024 * 1024)

enum field_type {
    F_STRING,  /* char[size]; non-empty unless min == 0 */
    F_INT,     /* int in [min, max] */
    F_SIZE,    /* size_t in [min, max] */
    F_DOUBLE,  /* double in [min, max], open ends per flags */
    F_SECONDS, /* JSON seconds -> int ms in [min, max] ms */
    F_SECONDS64, /* JSON seconds -> int64_t ms in [min, max] ms */
    F_BOOL,
    F_OBJECT,      /* nested table over the same base */
    F_PROFILE,     /* built-in name or inline object */
    F_DEPLOYMENT,  /* default_deployment (no name) */
    F_DEPLOYMENTS, /* array of deployments */
};

struct field {
    const char *name;
    enum field_type type;
    size_t offset;
    size_t size; /* F_STRING buffer size */
    double min, max;
    bool min_open, max_open;
    const struct field *sub; /* F_OBJECT; NULL-name terminated */
};

/* Context of a parse: file name and the current field path for messages. */
struct ctx {
    const char *file;
    char *err;
};

#define OFF(type, member) offsetof(struct type, member)
#define DEP(member)       OFF(afd_deployment_config, member)
#define CFG(member)       OFF(afd_config, member)

static const struct field calib_fields[] = {
    {"forgetting", F_DOUBLE, DEP(calib.forgetting), 0, 0, 1, true, false, NULL},
    {"prior_weight", F_DOUBLE, DEP(calib.prior_weight), 0, 0, 1e12, true, false,
     NULL},
    {"calibrated_ratio", F_DOUBLE, DEP(calib.calibrated_ratio), 0, 0, 1, true,
     true, NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

/* Bounds: counts up to 1e6 instances; B up to 1e6 slots (as telemetry). */
static const struct field deployment_fields[] = {
    {"name", F_STRING, DEP(name), AFD_NAME_LEN, 1, 0, false, false, NULL},
    {"profile", F_PROFILE, DEP(profile), 0, 0, 0, false, false, NULL},
    {"ffn_instances", F_INT, DEP(ffn_instances), 0, 0, 1e6, false, false, NULL},
    {"attention_instances", F_INT, DEP(attention_instances), 0, 0, 1e6, false,
     false, NULL},
    {"batch", F_DOUBLE, DEP(batch), 0, 0, 1e6, false, false, NULL},
    {"workload_half_life", F_DOUBLE, DEP(workload_half_life), 0, 0, 1e12, false,
     false, NULL},
    {"max_ratio", F_DOUBLE, DEP(max_ratio), 0, 1, 1e6, false, false, NULL},
    {"comm_mode_known", F_BOOL, DEP(comm_mode_known), 0, 0, 0, false, false,
     NULL},
    {"calibration", F_OBJECT, 0, 0, 0, 0, false, false, calib_fields},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

static const struct field snapshot_fields[] = {
    {"path", F_STRING, CFG(snapshot_path), AFD_PATH_LEN, 0, 0, false, false,
     NULL},
    /* 100 ms .. 1 day */
    {"interval_s", F_SECONDS, CFG(snapshot_interval_ms), 0, 100, 86400000,
     false, false, NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

static const struct field limit_fields[] = {
    {"max_deployments", F_SIZE, CFG(max_deployments), 0, 1, 100000, false,
     false, NULL},
    {"max_instances", F_SIZE, CFG(max_instances), 0, 1, 10000000, false, false,
     NULL},
    /* 1 KiB .. 1 GiB */
    {"max_message_bytes", F_SIZE, CFG(max_message_bytes), 0, 1024, 1073741824,
     false, false, NULL},
    {"max_stream_queue", F_SIZE, CFG(max_stream_queue), 0, 1, 1000000, false,
     false, NULL},
    {"max_streams", F_SIZE, CFG(max_streams), 0, 1, 1000000, false, false,
     NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

#define CTL(member) CFG(controller.member)
#define ALR(member) CFG(alerting.member)

/* Durations: 0 .. one week (AFD_POLICY_DURATION_MAX), ms after parsing. */
static const struct field alerting_fields[] = {
    {"debounce_s", F_SECONDS64, ALR(rules.debounce_ms), 0, 0, 604800000, false, false,
     NULL},
    {"resolve_s", F_SECONDS64, ALR(rules.resolve_ms), 0, 0, 604800000, false, false,
     NULL},
    {"margin", F_DOUBLE, ALR(rules.margin), 0, 0, 1, false, false, NULL},
    {"drift", F_DOUBLE, ALR(rules.drift), 0, 0, 1, false, false, NULL},
    {"alertmanager_url", F_STRING, ALR(am.url), AFD_AM_URL_LEN, 0, 0,
     false, false, NULL},
    {"generator_url", F_STRING, ALR(am.generator_url), AFD_AM_URL_LEN, 0, 0, false,
     false, NULL},
    {"severity", F_STRING, ALR(am.severity), AFD_AM_LABEL_LEN, 1, 0, false, false,
     NULL},
    {"resend_interval_s", F_SECONDS64, ALR(am.resend_interval_ms), 0, 1, 86400000,
     false, false, NULL},
    {"timeout_s", F_SECONDS64, ALR(am.timeout_ms), 0, 1, 86400000, false, false,
     NULL},
    {"backoff_initial_s", F_SECONDS64, ALR(am.backoff_initial_ms), 0, 1, 86400000,
     false, false, NULL},
    {"backoff_max_s", F_SECONDS64, ALR(am.backoff_max_ms), 0, 1, 86400000, false,
     false, NULL},
    {"max_queue", F_SIZE, ALR(am.max_queue), 0, 1, 1000000, false, false, NULL},
    {"max_batch", F_SIZE, ALR(am.max_batch), 0, 1, 1000000, false, false, NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

static const struct field controller_fields[] = {
    {"clock", F_STRING, CTL(clock), 16, 1, 0, false, false, NULL},
    {"eval_interval_ms", F_INT, CTL(eval_interval_ms), 0, 1, 3600000, false,
     false, NULL},
    {"gain_threshold", F_DOUBLE, CTL(policy.gain_threshold), 0, 0, 1, false, false,
     NULL},
    {"dwell_s", F_SECONDS64, CTL(policy.dwell_ms), 0, 0, 604800000, false, false, NULL},
    {"cooldown_s", F_SECONDS64, CTL(policy.cooldown_ms), 0, 0, 604800000, false, false,
     NULL},
    {"min_attention_instances", F_INT, CTL(policy.min_attention), 0, 1,
     AFD_POLICY_COUNT_MAX, false, false, NULL},
    {"max_attention_instances", F_INT, CTL(policy.max_attention), 0, 1,
     AFD_POLICY_COUNT_MAX, false, false, NULL},
    {"max_step", F_INT, CTL(policy.max_step), 0, 1, AFD_POLICY_COUNT_MAX, false, false,
     NULL},
    {"ack_timeout_s", F_SECONDS64, CTL(policy.ack_timeout_ms), 0, 1, 604800000, false,
     false, NULL},
    {"advisory", F_BOOL, CTL(policy.advisory), 0, 0, 0, false, false, NULL},
    {"backoff_s", F_SECONDS64, CTL(policy.backoff_ms), 0, 0, 604800000, false, false,
     NULL},
    {"settle_s", F_SECONDS64, CTL(policy.settle_ms), 0, 0, 604800000, false, false,
     NULL},
    {"settled_gain_threshold", F_DOUBLE, CTL(policy.settled_gain_threshold), 0, 0, 1,
     false, false, NULL},
    {"alerts", F_OBJECT, 0, 0, 0, 0, false, false, alerting_fields},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

#define SEC(member) CFG(security.member)

static const struct field tls_fields[] = {
    {"cert_file", F_STRING, SEC(tls_cert_file), AFD_PATH_LEN, 1, 0, false,
     false, NULL},
    {"key_file", F_STRING, SEC(tls_key_file), AFD_PATH_LEN, 1, 0, false, false,
     NULL},
    {"client_ca_file", F_STRING, SEC(tls_client_ca_file), AFD_PATH_LEN, 1, 0,
     false, false, NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

/* Paths only; the files are read and checked by plugin/daemon/security.c. */
static const struct field security_fields[] = {
    {"tls", F_OBJECT, 0, 0, 0, 0, false, false, tls_fields},
    {"token_file", F_STRING, SEC(token_file), AFD_PATH_LEN, 1, 0, false, false,
     NULL},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

/* Table order is parse order: default_deployment before deployments. */
static const struct field top_fields[] = {
    {"grpc_listen", F_STRING, CFG(grpc_listen), AFD_ADDR_LEN, 1, 0, false,
     false, NULL},
    {"http_listen", F_STRING, CFG(http_listen), AFD_ADDR_LEN, 1, 0, false,
     false, NULL},
    {"snapshot", F_OBJECT, 0, 0, 0, 0, false, false, snapshot_fields},
    /* 10 ms .. 1 hour */
    {"recompute_interval_ms", F_INT, CFG(recompute_interval_ms), 0, 10, 3600000,
     false, false, NULL},
    /* 1 ms .. 1 day */
    {"liveness_window_s", F_SECONDS, CFG(liveness_window_ms), 0, 1, 86400000,
     false, false, NULL},
    {"limits", F_OBJECT, 0, 0, 0, 0, false, false, limit_fields},
    {"auto_create_deployments", F_BOOL, CFG(auto_create_deployments), 0, 0, 0,
     false, false, NULL},
    {"default_deployment", F_DEPLOYMENT, CFG(default_deployment), 0, 0, 0,
     false, false, NULL},
    {"deployments", F_DEPLOYMENTS, 0, 0, 0, 0, false, false, NULL},
    {"controller", F_OBJECT, 0, 0, 0, 0, false, false, controller_fields},
    {"alerting", F_OBJECT, 0, 0, 0, 0, false, false, alerting_fields},
    {"security", F_OBJECT, 0, 0, 0, 0, false, false, security_fields},
    {NULL, 0, 0, 0, 0, 0, false, false, NULL},
};

__attribute__((format(printf, 4, 5))) static int
fail(const struct ctx *c, const char *path, int code, const char *fmt, ...)
{
    char msg[AFD_ERR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->file)
        return afd_err(c->err, code, "%s: %s: %s", c->file, path, msg);
    return afd_err(c->err, code, "%s: %s", path, msg);
}

static void join(char *out, size_t n, const char *path, const char *key)
{
    snprintf(out, n, "%s%s%s", path, path[0] ? "." : "", key);
}

static int parse_table(const struct ctx *c, const json_t *obj,
                       const struct field *t, void *base, const char *path,
                       const char *skip);

static void known_keys(const struct field *t, const char *skip, char *out,
                       size_t n)
{
    size_t len = 0;

    out[0] = '\0';
    for (; t->name && len < n; t++) {
        if (skip && !strcmp(t->name, skip))
            continue;
        len += snprintf(out + len, n - len, "%s%s", len ? ", " : "", t->name);
    }
}

/* json_field's location of obj: "file: path" (see fail). */
static const char *where_of(const struct ctx *c, const char *path, char *buf,
                            size_t n)
{
    if (c->file)
        snprintf(buf, n, "%s: %s%s", c->file, path, path[0] ? "" : " ");
    else
        snprintf(buf, n, "%s", path);
    return buf;
}

/* The number obj[key] (json_field checks type), then the table's range. */
static int parse_number(const struct ctx *c, const json_t *obj,
                        const struct field *f, const char *opath,
                        const char *path, double *out)
{
    char w[AFD_PATH_LEN + 160];
    const json_t *v;
    double x = 0;
    bool lo_ok, hi_ok;
    int rc;

    rc = afd_jf_number(obj, where_of(c, opath, w, sizeof(w)), f->name, 0,
                       -HUGE_VAL, HUGE_VAL, &x, c->err);
    if (rc)
        return rc;
    v = json_object_get(obj, f->name);
    if ((f->type == F_INT || f->type == F_SIZE) && !json_is_integer(v))
        return fail(c, path, AFD_EINVAL, "must be an integer, got %g", x);
    if (f->type == F_SECONDS || f->type == F_SECONDS64)
        x *= 1000.0;
    lo_ok = f->min_open ? x > f->min : x >= f->min;
    hi_ok = f->max_open ? x < f->max : x <= f->max;
    if (!isfinite(x) || !lo_ok || !hi_ok) {
        double k =
            f->type == F_SECONDS || f->type == F_SECONDS64 ? 1000.0 : 1.0;

        return fail(c, path, AFD_EINVAL, "must be in %s%g, %g%s, got %g",
                    f->min_open ? "(" : "[", f->min / k, f->max / k,
                    f->max_open ? ")" : "]", x / k);
    }
    *out = x;
    return AFD_OK;
}

static int parse_profile(const struct ctx *c, const json_t *v, const char *path,
                         struct afd_profile *out)
{
    char msg[AFD_ERR_LEN];
    const struct afd_profile *b;
    size_t i, len = 0;
    char names[160];
    int rc;

    if (json_is_object(v)) {
        rc = afd_profile_from_json(v, out, msg);
        if (rc == AFD_OK)
            return AFD_OK;
        /* Its messages start "profile.<field>: ": our path replaces it. */
        if (!strncmp(msg, "profile.", 8)) {
            size_t k = strcspn(msg + 8, ":");
            char sub[160];

            snprintf(sub, sizeof(sub), "%s.%.*s", path, (int)k, msg + 8);
            k += 8;
            while (msg[k] == ':' || msg[k] == ' ')
                k++;
            return fail(c, sub, rc, "%s", msg + k);
        }
        if (!strncmp(msg, "profile: ", 9))
            return fail(c, path, rc, "%s", msg + 9);
        return fail(c, path, rc, "%s", msg);
    }
    if (!json_is_string(v))
        return fail(c, path, AFD_EINVAL,
                    "must be a built-in profile name or an object, got %s",
                    afd_json_type_name(v));
    b = afd_profile_builtin(json_string_value(v));
    if (b) {
        *out = *b;
        return AFD_OK;
    }
    names[0] = '\0';
    for (i = 0; i < afd_profile_builtin_count() && len < sizeof(names); i++)
        len += snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
                        afd_profile_builtin_at(i)->name);
    return fail(c, path, AFD_EINVAL,
                "unknown built-in profile '%.64s' (built-ins: %s)",
                json_string_value(v), names);
}

static int parse_deployments(const struct ctx *c, const json_t *v,
                             struct afd_config *cfg, const char *path)
{
    struct afd_deployment_config *deps;
    char sub[160];
    size_t i, n;
    int rc;

    if (!json_is_array(v))
        return fail(c, path, AFD_EINVAL, "must be an array, got %s",
                    afd_json_type_name(v));
    n = json_array_size(v);
    deps = calloc(n ? n : 1, sizeof(*deps));
    if (!deps)
        return fail(c, path, AFD_ENOMEM, "out of memory");
    for (i = 0; i < n; i++) {
        snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
        deps[i] = cfg->default_deployment;
        deps[i].name[0] = '\0';
        if (!json_is_object(json_array_get(v, i))) {
            rc = fail(c, sub, AFD_EINVAL, "must be an object, got %s",
                      afd_json_type_name(json_array_get(v, i)));
            goto fail;
        }
        rc = parse_table(c, json_array_get(v, i), deployment_fields, &deps[i],
                         sub, NULL);
        if (rc < 0)
            goto fail;
        if (!deps[i].name[0]) {
            rc = fail(c, sub, AFD_EINVAL, "name: required field missing");
            goto fail;
        }
    }
    cfg->deployments = deps;
    cfg->n_deployments = n;
    return AFD_OK;
fail:
    free(deps);
    return rc;
}

/*
 * obj[f->name] (v) into base: leaf types through json_field, objects and
 * deployments through their tables. opath is obj's path, path the field's.
 */
static int parse_field(const struct ctx *c, const json_t *obj,
                       const json_t *v, const struct field *f, void *base,
                       const char *opath, const char *path)
{
    char *p = (char *)base + f->offset;
    char w[AFD_PATH_LEN + 160];
    double x = 0;
    int rc;

    switch (f->type) {
    case F_STRING:
        return afd_jf_string(obj, where_of(c, opath, w, sizeof(w)), f->name,
                             f->min > 0 ? AFD_JF_NONEMPTY : 0, p, f->size,
                             c->err);
    case F_BOOL:
        return afd_jf_bool(obj, where_of(c, opath, w, sizeof(w)), f->name, 0,
                           (bool *)p, c->err);
    case F_INT:
    case F_SECONDS:
    case F_SECONDS64:
    case F_SIZE:
    case F_DOUBLE:
        if ((rc = parse_number(c, obj, f, opath, path, &x)) < 0)
            return rc;
        if (f->type == F_SIZE)
            *(size_t *)p = (size_t)x;
        else if (f->type == F_DOUBLE)
            *(double *)p = x;
        else if (f->type == F_SECONDS64)
            *(int64_t *)p = (int64_t)llround(x);
        else
            *(int *)p = (int)lround(x);
        return AFD_OK;
    case F_OBJECT:
        if (!json_is_object(v))
            return fail(c, path, AFD_EINVAL, "must be an object, got %s",
                        afd_json_type_name(v));
        return parse_table(c, v, f->sub, base, path, NULL);
    case F_PROFILE:
        return parse_profile(c, v, path, (struct afd_profile *)p);
    case F_DEPLOYMENT:
        if (!json_is_object(v))
            return fail(c, path, AFD_EINVAL, "must be an object, got %s",
                        afd_json_type_name(v));
        return parse_table(c, v, deployment_fields, p, path, "name");
    case F_DEPLOYMENTS:
        return parse_deployments(c, v, base, path);
    }
    return fail(c, path, AFD_EINVAL, "internal: unknown field type");
}

/* Unknown keys first (a typo must not pass silently), then table order. */
static int parse_table(const struct ctx *c, const json_t *obj,
                       const struct field *t, void *base, const char *path,
                       const char *skip)
{
    const struct field *f;
    char sub[128], known[256];
    const char *key;
    json_t *v;
    int rc;

    json_object_foreach((json_t *)obj, key, v)
    {
        for (f = t; f->name; f++)
            if (!strcmp(f->name, key) && !(skip && !strcmp(skip, key)))
                break;
        if (!f->name) {
            join(sub, sizeof(sub), path, key);
            known_keys(t, skip, known, sizeof(known));
            return fail(c, sub, AFD_EINVAL, "unknown field (known: %s)", known);
        }
    }
    for (f = t; f->name; f++) {
        v = json_object_get(obj, f->name);
        if (!v)
            continue;
        join(sub, sizeof(sub), path, f->name);
        if ((rc = parse_field(c, obj, v, f, base, path, sub)) < 0)
            return rc;
    }
    return AFD_OK;
}

static void deployment_default(struct afd_deployment_config *d)
{
    memset(d, 0, sizeof(*d));
    d->profile = *afd_profile_builtin(AFD_DEFAULT_PROFILE);
    d->workload_half_life = 20000;
    d->max_ratio = AFD_DEFAULT_MAX_RATIO;
    afd_calib_config_default(&d->calib);
}

/* The pure modules' defaults, so the file and the modules agree. */
static void controller_default(struct afd_controller_config *c,
                               struct afd_alerting_config *a)
{
    snprintf(c->clock, sizeof(c->clock), "wall");
    c->eval_interval_ms = 1000;
    afd_policy_config_init(&c->policy);
    afd_alert_config_init(&a->rules);
    afd_alertmanager_config_init(&a->am);
}

void afd_config_default(struct afd_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    afd_config_dynamo_default(&cfg->dynamo);
    afd_ha_config_default(&cfg->ha);
    snprintf(cfg->grpc_listen, sizeof(cfg->grpc_listen), "%s",
             AFD_DEFAULT_GRPC_LISTEN);
    snprintf(cfg->http_listen, sizeof(cfg->http_listen), "%s",
             AFD_DEFAULT_HTTP_LISTEN);
    cfg->snapshot_interval_ms = 30000;
    cfg->recompute_interval_ms = 1000;
    cfg->liveness_window_ms = 30000;
    cfg->max_deployments = 256;
    cfg->max_instances = 20000;
    cfg->max_message_bytes = 4194304;
    cfg->max_stream_queue = 1024;
    cfg->max_streams = 1024;
    cfg->auto_create_deployments = true;
    deployment_default(&cfg->default_deployment);
    controller_default(&cfg->controller, &cfg->alerting);
}

static int validate_deployment(const struct ctx *c,
                               const struct afd_deployment_config *d,
                               const char *path)
{
    char msg[AFD_ERR_LEN], sub[128];

    if (afd_profile_validate(&d->profile, msg) < 0) {
        join(sub, sizeof(sub), path, "profile");
        return fail(c, sub, AFD_EINVAL, "%s", msg);
    }
    if (!(d->max_ratio >= 1) || !(d->workload_half_life >= 0) ||
        !(d->batch >= 0) || d->ffn_instances < 0 || d->attention_instances < 0)
        return fail(c, path, AFD_EINVAL,
                    "counts, batch and half-life must be >= 0 and max_ratio "
                    ">= 1");
    if (!(d->calib.forgetting > 0 && d->calib.forgetting <= 1) ||
        !(d->calib.prior_weight > 0) ||
        !(d->calib.calibrated_ratio > 0 && d->calib.calibrated_ratio < 1)) {
        join(sub, sizeof(sub), path, "calibration");
        return fail(c, sub, AFD_EINVAL,
                    "forgetting must be in (0, 1], prior_weight > 0, "
                    "calibrated_ratio in (0, 1)");
    }
    return AFD_OK;
}

/* Cross-field rules of "controller" and "alerting". */
static int validate_controller(const struct ctx *c,
                               const struct afd_config *cfg)
{
    const struct afd_controller_config *k = &cfg->controller;
    const struct afd_alerting_config *a = &cfg->alerting;

    if (strcmp(k->clock, "wall") && strcmp(k->clock, "telemetry"))
        return fail(c, "controller.clock", AFD_EINVAL,
                    "must be \"wall\" or \"telemetry\", got '%s'", k->clock);
    if (k->policy.min_attention > k->policy.max_attention)
        return fail(c, "controller.max_attention_instances", AFD_EINVAL,
                    "must be >= min_attention_instances (%d), got %d",
                    k->policy.min_attention, k->policy.max_attention);
    if (a->am.backoff_max_ms < a->am.backoff_initial_ms)
        return fail(c, "alerting.backoff_max_s", AFD_EINVAL,
                    "must be >= backoff_initial_s (%g), got %g",
                    a->am.backoff_initial_ms / 1000.0,
                    a->am.backoff_max_ms / 1000.0);
    if (a->am.max_batch > a->am.max_queue)
        return fail(c, "alerting.max_batch", AFD_EINVAL,
                    "must be <= max_queue (%zu), got %zu", a->am.max_queue,
                    a->am.max_batch);
    if (a->am.url[0] && strncmp(a->am.url, "http://", 7))
        return fail(c, "alerting.alertmanager_url", AFD_EINVAL,
                    "must start with http:// (https is not supported: put a "
                    "TLS proxy on loopback), got '%s'",
                    a->am.url);
    return AFD_OK;
}

static int validate(const struct ctx *c, const struct afd_config *cfg)
{
    char path[64];
    size_t i, j;
    int rc;

    char why[AFD_ERR_LEN];

    if (!cfg->grpc_listen[0] || !cfg->http_listen[0])
        return fail(c, cfg->grpc_listen[0] ? "http_listen" : "grpc_listen",
                    AFD_EINVAL, "must not be empty");
    if (afd_ha_config_check(&cfg->ha, why))
        return fail(c, "ha", AFD_EINVAL, "%s", why);
    if (cfg->snapshot_interval_ms <= 0 || cfg->recompute_interval_ms <= 0 ||
        cfg->liveness_window_ms <= 0)
        return fail(c, "intervals", AFD_EINVAL, "must be > 0");
    if (cfg->max_deployments < 1 || cfg->max_instances < 1 ||
        cfg->max_message_bytes < 1024 || cfg->max_stream_queue < 1)
        return fail(c, "limits", AFD_EINVAL,
                    "must be >= 1 (max_message_bytes >= 1024)");
    if (cfg->n_deployments > cfg->max_deployments)
        return fail(c, "deployments", AFD_EINVAL,
                    "%zu deployments exceed limits.max_deployments = %zu",
                    cfg->n_deployments, cfg->max_deployments);
    if ((rc = validate_controller(c, cfg)) < 0)
        return rc;
    if ((rc = validate_deployment(c, &cfg->default_deployment,
                                  "default_deployment")) < 0)
        return rc;
    for (i = 0; i < cfg->n_deployments; i++) {
        snprintf(path, sizeof(path), "deployments[%zu]", i);
        if (!cfg->deployments[i].name[0] ||
            strnlen(cfg->deployments[i].name, AFD_NAME_LEN) >= AFD_NAME_LEN)
            return fail(c, path, AFD_EINVAL, "name: must not be empty");
        if ((rc = validate_deployment(c, &cfg->deployments[i], path)) < 0)
            return rc;
        for (j = 0; j < i; j++)
            if (!strcmp(cfg->deployments[i].name, cfg->deployments[j].name))
                return fail(c, path, AFD_EINVAL,
                            "name: '%s' already used by deployments[%zu]",
                            cfg->deployments[i].name, j);
    }
    return AFD_OK;
}

int afd_config_validate(const struct afd_config *cfg, char *err)
{
    struct ctx c = {NULL, err};

    return validate(&c, cfg);
}

int afd_config_load_file(struct afd_config *cfg, const char *path, char *err)
{
    struct ctx c = {path, err};
    struct afd_config tmp = *cfg;
    json_t *root;
    int rc;

    rc = afd_json_load_file(path, CONFIG_MAX_BYTES, &root, err);
    if (rc < 0)
        return rc;
    if (!json_is_object(root))
        rc = afd_err(err, AFD_EINVAL,
                     "%s: top level must be an object, "
                     "got %s",
                     path, afd_json_type_name(root));
    /* tmp shares cfg's deployments until the file brings its own. */
    tmp.deployments = NULL;
    tmp.n_deployments = 0;
    if (rc == AFD_OK) /* "dynamo" is config_dynamo.c's; it removes it */
        rc = afd_config_dynamo_load(&tmp.dynamo, root, path, err);
    if (rc == AFD_OK) /* "ha" is config_ha.c's; it removes it */
        rc = afd_config_ha_load(&tmp.ha, root, path, err);
    if (rc == AFD_OK)
        rc = parse_table(&c, root, top_fields, &tmp, "", NULL);
    json_decref(root);
    if (rc == AFD_OK && !tmp.deployments) {
        tmp.deployments = cfg->deployments;
        tmp.n_deployments = cfg->n_deployments;
    }
    if (rc == AFD_OK)
        rc = validate(&c, &tmp);
    if (rc < 0) {
        if (tmp.deployments != cfg->deployments)
            free(tmp.deployments);
        return rc;
    }
    if (tmp.deployments != cfg->deployments)
        free(cfg->deployments);
    *cfg = tmp;
    return AFD_OK;
}

void afd_config_deployment(const struct afd_config *cfg, const char *name,
                           struct afd_deployment_config *out)
{
    size_t i;

    for (i = 0; i < cfg->n_deployments; i++) {
        if (!strcmp(cfg->deployments[i].name, name)) {
            *out = cfg->deployments[i];
            return;
        }
    }
    *out = cfg->default_deployment;
    snprintf(out->name, sizeof(out->name), "%s", name);
}

void afd_config_release(struct afd_config *cfg)
{
    if (!cfg)
        return;
    free(cfg->deployments);
    cfg->deployments = NULL;
    cfg->n_deployments = 0;
}
