/*
 * profile_json.c - hardware profiles from JSON files and back.
 *
 * Every field is checked here, one at a time, so that a message can name
 * the field ("profile.aF: ..."); afd_profile_validate runs last as the
 * estimator's own guard. A file is read whole (bounded by PROFILE_MAX_BYTES)
 * and parsed with duplicate keys rejected: a repeated key is as suspicious as
 * an unknown one.
 */
#include "plugin/io/profile_json.h"

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/io/json_field.h"
#include "plugin/sys/os.h"

/* A profile is a dozen short fields; anything above 1 MiB is not one. */
#define PROFILE_MAX_BYTES (1024 * 1024)

struct coef_field {
    const char *key;
    size_t offset; /* into struct afd_profile */
    int positive;  /* the solver divides by it: must be > 0 */
};

static const struct coef_field coef_fields[] = {
    {"aA", offsetof(struct afd_profile, aA), 1},
    {"bA", offsetof(struct afd_profile, bA), 0},
    {"aC", offsetof(struct afd_profile, aC), 0},
    {"bC", offsetof(struct afd_profile, bC), 0},
    {"aF", offsetof(struct afd_profile, aF), 1},
    {"bF", offsetof(struct afd_profile, bF), 0},
};

#define N_COEFS (sizeof(coef_fields) / sizeof(coef_fields[0]))

static bool is_known_key(const char *key)
{
    size_t i;

    if (!strcmp(key, "name") || !strcmp(key, "provenance") ||
        !strcmp(key, "comm_mode"))
        return true;
    for (i = 0; i < N_COEFS; i++)
        if (!strcmp(key, coef_fields[i].key))
            return true;
    return false;
}

static int get_coef(const json_t *obj, const struct coef_field *f,
                    struct afd_profile *out, char *err)
{
    double x;
    int rc = afd_jf_number(obj, "profile", f->key, AFD_JF_REQUIRED, 0,
                           HUGE_VAL, &x, err);

    if (rc)
        return rc;
    if (f->positive && x == 0)
        return afd_err(err, AFD_EINVAL,
                       "profile.%s: must be > 0 (the solver divides by it), "
                       "got 0",
                       f->key);
    memcpy((char *)out + f->offset, &x, sizeof(x));
    return AFD_OK;
}

int afd_profile_from_json(const json_t *obj, struct afd_profile *out, char *err)
{
    struct afd_profile p;
    char mode[32];
    char why[AFD_ERR_LEN];
    const char *key;
    json_t *v;
    size_t i;
    int rc;

    if (!obj || !json_is_object(obj))
        return afd_err(err, AFD_EINVAL,
                       "profile: must be a JSON object, got %s",
                       obj ? afd_json_type_name(obj) : "nothing");
    /* Unknown keys first: a typo must not surface as "missing field". */
    json_object_foreach((json_t *)obj, key, v)
    {
        if (!is_known_key(key))
            return afd_err(err, AFD_EINVAL,
                           "profile.%.64s: unknown field (known: name, "
                           "provenance, aA, bA, aC, bC, aF, bF, comm_mode)",
                           key);
    }
    memset(&p, 0, sizeof(p));
    if ((rc = afd_jf_string(obj, "profile", "name",
                            AFD_JF_REQUIRED | AFD_JF_NONEMPTY, p.name,
                            sizeof(p.name), err)) < 0 ||
        (rc = afd_jf_string(obj, "profile", "provenance", 0, p.provenance,
                            sizeof(p.provenance), err)) < 0)
        return rc;
    for (i = 0; i < N_COEFS; i++)
        if ((rc = get_coef(obj, &coef_fields[i], &p, err)) < 0)
            return rc;
    if ((rc = afd_jf_string(obj, "profile", "comm_mode", AFD_JF_REQUIRED, mode,
                            sizeof(mode), err)) < 0)
        return rc;
    if (afd_comm_mode_parse(mode, &p.comm_mode, why) < 0)
        return afd_err(err, AFD_EINVAL, "profile.comm_mode: %s", why);
    if (afd_profile_validate(&p, why) < 0)
        return afd_err(err, AFD_EINVAL, "profile: %s", why);
    *out = p;
    return AFD_OK;
}

int afd_json_load_file(const char *path, size_t max_bytes, json_t **out,
                       char *err)
{
    json_error_t jerr;
    json_t *root;
    char *text = NULL;
    size_t len = 0;
    int rc;

    rc = afd_read_file(path, max_bytes, &text, &len, err);
    if (rc == AFD_EEMPTY)
        return afd_err(err, AFD_EPARSE,
                       "%s: file is empty, expected a JSON object", path);
    if (rc < 0)
        return rc;
    root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!root)
        return afd_err(err, AFD_EPARSE, "%s:%d:%d: invalid JSON: %s", path,
                       jerr.line, jerr.column, jerr.text);
    *out = root;
    return AFD_OK;
}

int afd_profile_load_file(const char *path, struct afd_profile *out, char *err)
{
    char why[AFD_ERR_LEN];
    json_t *root;
    int rc;

    rc = afd_json_load_file(path, PROFILE_MAX_BYTES, &root, err);
    if (rc < 0)
        return rc;
    rc = afd_profile_from_json(root, out, why);
    json_decref(root);
    if (rc < 0)
        return afd_err(err, rc, "%s: %s", path, why);
    return AFD_OK;
}

int afd_profile_resolve(const char *name, const char *path,
                        struct afd_profile *out, char *err)
{
    const struct afd_profile *b;
    char known[AFD_ERR_LEN / 2];
    size_t i, used = 0;

    if (name && path)
        return afd_err(err, AFD_EINVAL,
                       "give at most one of --profile and --profile-file");
    if (path)
        return afd_profile_load_file(path, out, err);
    b = afd_profile_builtin(name ? name : AFD_DEFAULT_PROFILE);
    if (b) {
        *out = *b;
        return AFD_OK;
    }
    known[0] = '\0';
    for (i = 0; i < afd_profile_builtin_count() && used < sizeof(known); i++)
        used +=
            (size_t)snprintf(known + used, sizeof(known) - used, "%s%s",
                             i ? ", " : "", afd_profile_builtin_at(i)->name);
    return afd_err(err, AFD_ENOTFOUND,
                   "unknown profile '%.64s' (built-in: %s; or use "
                   "--profile-file PATH)",
                   name ? name : AFD_DEFAULT_PROFILE, known);
}

json_t *afd_profile_to_json(const struct afd_profile *p)
{
    json_t *obj = json_object();
    size_t i;
    int bad = 0;

    if (!obj)
        return NULL;
    bad |= json_object_set_new(obj, "name", json_string(p->name));
    bad |= json_object_set_new(obj, "provenance", json_string(p->provenance));
    for (i = 0; i < N_COEFS; i++) {
        double x;

        memcpy(&x, (const char *)p + coef_fields[i].offset, sizeof(x));
        bad |= json_object_set_new(obj, coef_fields[i].key,
                                   isfinite(x) ? json_real(x) : json_null());
    }
    bad |= json_object_set_new(obj, "comm_mode",
                               json_string(afd_comm_mode_name(p->comm_mode)));
    if (bad) {
        json_decref(obj);
        return NULL;
    }
    return obj;
}
