/*
 * profile_json.h - hardware profiles from JSON files and back.
 *
 * A profile file is one JSON object:
 *   {"name": "h100-llama70b", "provenance": "fit of 2026-10 bench",
 *    "aA": 5.1e-5, "bA": 2.5, "aC": 1e-3, "bC": 0.3, "aF": 2.2e-3, "bF": 5.0,
 *    "comm_mode": "per_instance"}
 * name, the six coefficients and comm_mode are required; provenance is
 * optional; unknown keys are an error (a typo must not silently keep a
 * default). The result is checked with afd_profile_validate.
 */
#ifndef AFD_PROFILE_JSON_H
#define AFD_PROFILE_JSON_H

#include <jansson.h>

#include "plugin/io/json_field.h"

#include "estimator/profile.h"

/* From a parsed JSON object; err names the field ("profile.aF: ..."). */
int afd_profile_from_json(const json_t *obj, struct afd_profile *out,
                          char *err);

/*
 * From a file. AFD_EIO when it cannot be read, AFD_EPARSE with the JSON
 * error's line and column, AFD_EINVAL for a bad field. err starts with path.
 */
int afd_profile_load_file(const char *path, struct afd_profile *out, char *err);

/*
 * The CLI's --profile NAME / --profile-file PATH: at most one may be given;
 * neither means the default built-in. AFD_ENOTFOUND for an unknown built-in
 * name (the message lists the built-ins).
 */
int afd_profile_resolve(const char *name, const char *path,
                        struct afd_profile *out, char *err);

/*
 * Parses the JSON file at path (at most max_bytes, duplicate keys refused)
 * into *out (caller json_decref's it). Any JSON value is accepted; the
 * caller checks its type. err starts with path: AFD_EIO / AFD_ENOMEM as
 * afd_read_file, AFD_EPARSE for an empty file or with the JSON error's line
 * and column. Shared by the profile and config loaders.
 */
int afd_json_load_file(const char *path, size_t max_bytes, json_t **out,
                       char *err);

/* A new JSON object for p (caller json_decref's it). */
json_t *afd_profile_to_json(const struct afd_profile *p);

#endif
