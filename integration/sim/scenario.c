/* scenario.c - scenario files: parsing, validation, trace paths. */
#include "integration/sim/scenario.h"

#include <limits.h>
#include <stdbool.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "estimator/solver.h"
#include "plugin/io/json_field.h"
#include "plugin/io/profile_json.h"
#include "integration/sim/rng.h"

static const char *const top_keys[] = {"name",
                                       "description",
                                       "seed",
                                       "profile",
                                       "hardware",
                                       "prior",
                                       "actuation",
                                       "batch",
                                       "ffn_instances",
                                       "initial_attention_instances",
                                       "phases",
                                       NULL};
static const char *const phase_keys[] = {"name",  "duration_s",    "workload",
                                         "batch", "ffn_instances", NULL};

/* json_field's location of a field: "label: " or "label: phases[2]". */
static const char *loc(char *buf, size_t n, const char *label,
                       const char *where)
{
    size_t k;

    snprintf(buf, n, "%s: %s", label, where);
    k = strlen(buf);
    if (k && buf[k - 1] == '.') /* "phases[2]." -> "phases[2]" */
        buf[k - 1] = '\0';
    return buf;
}

static int check_keys(const json_t *obj, const char *const *keys,
                      const char *label, const char *where, char *err)
{
    char w[AFD_SCENARIO_PATH_LEN + 64];

    return afd_jf_keys(obj, loc(w, sizeof(w), label, where), keys, err);
}

/* Copies an optional (required when req) non-empty string field. */
static int get_string(const json_t *obj, const char *key, bool req, char *out,
                      size_t n, const char *label, const char *where, char *err)
{
    char w[AFD_SCENARIO_PATH_LEN + 64];

    return afd_jf_string(obj, loc(w, sizeof(w), label, where), key,
                         AFD_JF_NONEMPTY | (req ? AFD_JF_REQUIRED : 0), out, n,
                         err);
}

/* An optional integer field in [lo, hi]; *out untouched when absent. */
static int get_long(const json_t *obj, const char *key, long lo, long hi,
                    long *out, const char *label, const char *where, char *err)
{
    char w[AFD_SCENARIO_PATH_LEN + 64];

    return afd_jf_integer(obj, loc(w, sizeof(w), label, where), key, 0, lo, hi,
                          out, err);
}

static bool file_exists(const char *p)
{
    return access(p, R_OK) == 0;
}

int afd_scenario_find_trace(const char *base_dir, const char *rel, char *out,
                            size_t n, char *err)
{
    char dir[AFD_SCENARIO_PATH_LEN], *slash;
    const char *env = getenv("AFD_TRACES_DIR");

    if (rel[0] == '/') {
        snprintf(out, n, "%s", rel);
        if (file_exists(out))
            return AFD_OK;
        return afd_err(err, AFD_ENOTFOUND, "trace '%s' not found", rel);
    }
    snprintf(out, n, "%s/%s", base_dir, rel);
    if (file_exists(out))
        return AFD_OK;
    if (env && env[0]) {
        snprintf(out, n, "%s/%s", env, rel);
        if (file_exists(out))
            return AFD_OK;
    }
    snprintf(dir, sizeof(dir), "%s", base_dir);
    for (;;) {
        snprintf(out, n, "%s/shared/traces/%s", dir, rel);
        if (file_exists(out))
            return AFD_OK;
        slash = strrchr(dir, '/');
        if (!slash)
            break;
        if (slash == dir) { /* the root itself, once */
            if (!dir[1])
                break;
            dir[1] = '\0';
            continue;
        }
        *slash = '\0';
    }
    return afd_err(err, AFD_ENOTFOUND,
                   "trace '%s' not found in '%s', $AFD_TRACES_DIR or any "
                   "shared/traces above it",
                   rel, base_dir);
}

/* Parses a phase's workload, resolving a relative trace path first. */
static int phase_workload(struct afd_scenario_phase *ph, const char *base_dir,
                          const char *label, size_t i, char *err)
{
    char spec[AFD_SCENARIO_PATH_LEN + 16], path[AFD_SCENARIO_PATH_LEN];
    char sub[AFD_ERR_LEN];
    int rc;

    snprintf(spec, sizeof(spec), "%s", ph->workload);
    if (!strncmp(ph->workload, "trace:", 6)) {
        rc = afd_scenario_find_trace(base_dir, ph->workload + 6, path,
                                     sizeof(path), sub);
        if (rc)
            return afd_err(err, rc, "%s: phases[%zu].workload: %s", label, i,
                           sub);
        snprintf(spec, sizeof(spec), "trace:%s", path);
    }
    rc = afd_gen_parse(spec, &ph->gen, sub);
    if (rc)
        return afd_err(err, rc, "%s: phases[%zu].workload: %s", label, i, sub);
    return AFD_OK;
}

static int parse_phase(const json_t *o, size_t i, long def_batch, long def_ffn,
                       const char *base_dir, const char *label,
                       struct afd_scenario_phase *ph, char *err)
{
    char where[48], w[AFD_SCENARIO_PATH_LEN + 64];
    int rc;

    snprintf(where, sizeof(where), "phases[%zu].", i);
    if (!json_is_object(o))
        return afd_err(err, AFD_EINVAL, "%s: phases[%zu]: must be an object",
                       label, i);
    ph->batch = def_batch;
    ph->ffn = def_ffn;
    if ((rc = check_keys(o, phase_keys, label, where, err)) ||
        (rc = get_string(o, "name", true, ph->name, sizeof(ph->name), label,
                         where, err)) ||
        (rc = get_string(o, "workload", true, ph->workload,
                         sizeof(ph->workload), label, where, err)) ||
        (rc = get_long(o, "batch", 1, AFD_SCENARIO_MAX_BATCH, &ph->batch, label,
                       where, err)) ||
        (rc = get_long(o, "ffn_instances", 1, AFD_SCENARIO_MAX_FFN, &ph->ffn,
                       label, where, err)))
        return rc;
    ph->duration_s = 0;
    if ((rc = afd_jf_number(o, loc(w, sizeof(w), label, where), "duration_s",
                            AFD_JF_REQUIRED, 0, AFD_SCENARIO_MAX_DURATION_S,
                            &ph->duration_s, err)))
        return rc;
    if (!(ph->duration_s > 0))
        return afd_err(err, AFD_EINVAL,
                       "%s: %sduration_s: must be a number in (0, %g], got 0",
                       label, where, AFD_SCENARIO_MAX_DURATION_S);
    return phase_workload(ph, base_dir, label, i, err);
}

/* A built-in name or a profile object (v may be NULL: the default). */
static int profile_value(const json_t *v, const char *label, const char *what,
                         struct afd_profile *out, char *err)
{
    const struct afd_profile *b;
    char sub[AFD_ERR_LEN];

    if (!v || json_is_string(v)) {
        const char *name = v ? json_string_value(v) : AFD_DEFAULT_PROFILE;
        b = afd_profile_builtin(name);
        if (!b)
            return afd_err(err, AFD_ENOTFOUND,
                           "%s: %s: unknown built-in profile '%s'", label,
                           what, name);
        *out = *b;
        return AFD_OK;
    }
    if (!json_is_object(v))
        return afd_err(err, AFD_EINVAL,
                       "%s: %s: must be a built-in name or an object", label,
                       what);
    if (afd_profile_from_json(v, out, sub))
        return afd_err(err, AFD_EINVAL, "%s: %s: %s", label, what, sub);
    return AFD_OK;
}

static const char *const hw_keys[] = {"profile", "noise_cv", "drift", NULL};
static const char *const drift_keys[] = {"at_s", "stage", "factor", NULL};
static const char *const act_keys[] = {"scale_out_delay_s",
                                       "scale_in_delay_s", NULL};

static int parse_drift(const json_t *a, const char *label,
                       struct afd_fleet_hw *hw, char *err)
{
    char w[AFD_SCENARIO_PATH_LEN + 64], stage[32];
    size_t i;
    int rc, k;

    if (!json_is_array(a) || json_array_size(a) > AFD_FLEET_MAX_DRIFT)
        return afd_err(err, AFD_EINVAL,
                       "%s: hardware.drift: must be an array of at most %d "
                       "events",
                       label, AFD_FLEET_MAX_DRIFT);
    for (i = 0; i < json_array_size(a); i++) {
        const json_t *e = json_array_get(a, i);
        struct afd_fleet_drift *d = &hw->drift[i];

        snprintf(w, sizeof(w), "%s: hardware.drift[%zu]", label, i);
        if (!json_is_object(e))
            return afd_err(err, AFD_EINVAL, "%s: must be an object", w);
        stage[0] = '\0';
        if ((rc = afd_jf_keys(e, w, drift_keys, err)) ||
            (rc = afd_jf_number(e, w, "at_s", AFD_JF_REQUIRED, 0,
                                AFD_SCENARIO_MAX_DURATION_S * 64, &d->at_s,
                                err)) ||
            (rc = afd_jf_string(e, w, "stage", AFD_JF_REQUIRED, stage,
                                sizeof(stage), err)) ||
            (rc = afd_jf_number(e, w, "factor", AFD_JF_REQUIRED, 0.01, 100,
                                &d->factor, err)))
            return rc;
        for (k = 0; k < AFD_REGIME_COUNT; k++)
            if (!strcmp(stage, afd_regime_name((enum afd_regime)k)))
                break;
        if (k == AFD_REGIME_COUNT)
            return afd_err(err, AFD_EINVAL,
                           "%s.stage: must be attention, communication or "
                           "ffn, got '%s'",
                           w, stage);
        d->stage = k; /* enum afd_regime and enum afd_sim_stage agree */
    }
    hw->n_drift = json_array_size(a);
    return AFD_OK;
}

/*
 * "hardware" (the simulated truth: profile, noise, drift), its deprecated
 * alias "profile", "prior" (checked only: the daemon's, demo.h) and
 * "actuation" (delays).
 */
static int parse_hardware(const json_t *root, const char *label,
                          struct afd_scenario *s, char *err)
{
    const json_t *hw = json_object_get(root, "hardware");
    const json_t *old = json_object_get(root, "profile");
    const json_t *act = json_object_get(root, "actuation");
    char w[AFD_SCENARIO_PATH_LEN + 64];
    struct afd_profile prior;
    int rc;

    s->scale_out_delay_s = -1;
    s->scale_in_delay_s = -1;
    if (hw && old)
        return afd_err(err, AFD_EINVAL,
                       "%s: profile: give the simulated hardware once, as "
                       "hardware.profile",
                       label);
    if (!hw && (rc = profile_value(old, label, "profile", &s->profile, err)))
        return rc;
    if (hw) {
        snprintf(w, sizeof(w), "%s: hardware", label);
        if (!json_is_object(hw))
            return afd_err(err, AFD_EINVAL, "%s: must be an object", w);
        if ((rc = afd_jf_keys(hw, w, hw_keys, err)) ||
            (rc = profile_value(json_object_get(hw, "profile"), label,
                                "hardware.profile", &s->profile, err)) ||
            (rc = afd_jf_number(hw, w, "noise_cv", 0, 0, 1, &s->hw.noise_cv,
                                err)))
            return rc;
        s->hw.noise_seed = afd_rng_mix(s->seed ^ 0x6877ULL);
        if (json_object_get(hw, "drift") &&
            (rc = parse_drift(json_object_get(hw, "drift"), label, &s->hw,
                              err)))
            return rc;
    }
    if (json_object_get(root, "prior") &&
        (rc = profile_value(json_object_get(root, "prior"), label, "prior",
                            &prior, err)))
        return rc;
    if (act) {
        snprintf(w, sizeof(w), "%s: actuation", label);
        if (!json_is_object(act))
            return afd_err(err, AFD_EINVAL, "%s: must be an object", w);
        if ((rc = afd_jf_keys(act, w, act_keys, err)) ||
            (rc = afd_jf_number(act, w, "scale_out_delay_s", 0, 0, 86400,
                                &s->scale_out_delay_s, err)) ||
            (rc = afd_jf_number(act, w, "scale_in_delay_s", 0, 0, 86400,
                                &s->scale_in_delay_s, err)))
            return rc;
    }
    return AFD_OK;
}

static int parse_top(const json_t *root, const char *label,
                     struct afd_scenario *s, long *batch, long *ffn, char *err)
{
    json_t *v;
    int rc;

    if (!json_is_object(root))
        return afd_err(err, AFD_EINVAL, "%s: must be a JSON object", label);
    if ((rc = check_keys(root, top_keys, label, "", err)) ||
        (rc = get_string(root, "name", true, s->name, sizeof(s->name), label,
                         "", err)) ||
        (rc = get_string(root, "description", false, s->description,
                         sizeof(s->description), label, "", err)) ||
        (rc = get_long(root, "batch", 1, AFD_SCENARIO_MAX_BATCH, batch, label,
                       "", err)) ||
        (rc = get_long(root, "ffn_instances", 1, AFD_SCENARIO_MAX_FFN, ffn,
                       label, "", err)) ||
        (rc = get_long(root, "initial_attention_instances", 1, 1000000,
                       &s->initial_attention, label, "", err)))
        return rc;
    v = json_object_get(root, "seed");
    if (v) {
        if (!json_is_integer(v) || json_integer_value(v) < 0)
            return afd_err(err, AFD_EINVAL, "%s: seed: must be an integer >= 0",
                           label);
        s->seed = (uint64_t)json_integer_value(v);
    }
    if ((rc = parse_hardware(root, label, s, err)))
        return rc;
    v = json_object_get(root, "phases");
    if (!v)
        return afd_err(err, AFD_EINVAL, "%s: phases: missing", label);
    if (!json_is_array(v) || json_array_size(v) == 0 ||
        json_array_size(v) > AFD_SCENARIO_MAX_PHASES)
        return afd_err(err, AFD_EINVAL,
                       "%s: phases: must be an array of 1..%d phases", label,
                       AFD_SCENARIO_MAX_PHASES);
    return AFD_OK;
}

int afd_scenario_from_json(const json_t *root, const char *base_dir,
                           const char *label, struct afd_scenario *out,
                           char *err)
{
    long batch = 256, ffn = 1;
    json_t *arr;
    size_t i;
    int rc;

    memset(out, 0, sizeof(*out));
    out->seed = 1;
    rc = parse_top(root, label, out, &batch, &ffn, err);
    if (rc)
        goto fail;
    arr = json_object_get(root, "phases");
    out->phases = calloc(json_array_size(arr), sizeof(*out->phases));
    if (!out->phases) {
        rc = afd_err(err, AFD_ENOMEM, "%s: out of memory", label);
        goto fail;
    }
    for (i = 0; i < json_array_size(arr); i++) {
        rc = parse_phase(json_array_get(arr, i), i, batch, ffn, base_dir, label,
                         &out->phases[i], err);
        out->n_phases = i + 1; /* release frees the generator parsed so far */
        if (rc)
            goto fail;
    }
    return AFD_OK;
fail:
    afd_scenario_release(out);
    return rc;
}

int afd_scenario_load(const char *path, struct afd_scenario *out, char *err)
{
    char dir[AFD_SCENARIO_PATH_LEN], real[PATH_MAX], *slash;
    const char *label = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    json_error_t jerr;
    json_t *root;
    FILE *fp;
    int rc;

    memset(out, 0, sizeof(*out));
    fp = fopen(path, "r");
    if (!fp)
        return afd_err(err, AFD_EIO, "%s: cannot open scenario file", path);
    root = json_loadf(fp, JSON_REJECT_DUPLICATES, &jerr);
    fclose(fp);
    if (!root)
        return afd_err(err, AFD_EPARSE, "%s:%d:%d: %s", label, jerr.line,
                       jerr.column, jerr.text);
    if (realpath(path, real))
        snprintf(dir, sizeof(dir), "%s", real);
    else
        snprintf(dir, sizeof(dir), "%s", path);
    slash = strrchr(dir, '/');
    if (slash && slash != dir)
        *slash = '\0';
    else
        snprintf(dir, sizeof(dir), "%s", slash ? "/" : ".");
    rc = afd_scenario_from_json(root, dir, label, out, err);
    json_decref(root);
    if (rc == AFD_OK)
        snprintf(out->path, sizeof(out->path), "%s", path);
    return rc;
}

void afd_scenario_release(struct afd_scenario *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->n_phases && s->phases; i++)
        afd_gen_release(&s->phases[i].gen);
    free(s->phases);
    s->phases = NULL;
    s->n_phases = 0;
}

uint64_t afd_scenario_phase_seed(uint64_t seed, size_t phase)
{
    return afd_rng_mix(seed ^ afd_rng_mix(0x5ce7a210ULL + (uint64_t)phase));
}

double afd_scenario_phase_start_s(const struct afd_scenario *s, size_t i)
{
    double t = 0;
    size_t k;

    for (k = 0; k < i && k < s->n_phases; k++)
        t += s->phases[k].duration_s;
    return t;
}

double afd_scenario_duration_s(const struct afd_scenario *s)
{
    double t = 0;
    size_t i;

    for (i = 0; i < s->n_phases; i++)
        t += s->phases[i].duration_s;
    return t;
}
