/*
 * json_field.h - reading typed fields out of JSON objects (jansson), with
 * errors that name the field: "<where>.<key>: <what is wrong>, got <what
 * came>". The one field reader of the project: configuration
 * (plugin/daemon/config.c's schema tables stand on it), profiles, scenarios
 * and simulator results.
 *
 * where is the path of obj for messages: "profile" gives "profile.key",
 * "default.json: phases[2]" gives "default.json: phases[2].key", and a
 * where ending in a space ("default.json: ") or "" is followed by the key
 * alone. A field that is absent, or JSON null
 * with AFD_JF_NULL_ABSENT, leaves *out untouched and returns AFD_OK unless
 * AFD_JF_REQUIRED. Every failure returns AFD_EINVAL with the message in err
 * (AFD_ERR_LEN bytes, NULL allowed) and leaves *out untouched.
 *
 * Pure apart from jansson; thread-safe.
 */
#ifndef AFD_JSON_FIELD_H
#define AFD_JSON_FIELD_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

enum {
    AFD_JF_REQUIRED = 1,    /* absent is an error: "required field missing" */
    AFD_JF_NONEMPTY = 2,    /* strings: "" is an error */
    AFD_JF_NULL_ABSENT = 4, /* JSON null counts as absent */
    AFD_JF_TRUNCATE = 8,    /* strings: cut at cap - 1 bytes, no error */
};

/* "an object", "an array", "a string", "a number", "a boolean", "null". */
const char *afd_json_type_name(const json_t *v);

/* Every key of obj is in known (NULL-terminated), else "<where>.<key>:
 * unknown field (known: a, b, c)". */
int afd_jf_keys(const json_t *obj, const char *where, const char *const *known,
                char *err);

/* A string shorter than cap bytes without NUL bytes, copied into dst. */
int afd_jf_string(const json_t *obj, const char *where, const char *key,
                  int flags, char *dst, size_t cap, char *err);

/* A finite number in [lo, hi]. */
int afd_jf_number(const json_t *obj, const char *where, const char *key,
                  int flags, double lo, double hi, double *out, char *err);

/* An integer in [lo, hi] (an integral real such as 4.0 is accepted). */
int afd_jf_integer(const json_t *obj, const char *where, const char *key,
                   int flags, long lo, long hi, long *out, char *err);

/* true or false. */
int afd_jf_bool(const json_t *obj, const char *where, const char *key,
                int flags, bool *out, char *err);

#endif
