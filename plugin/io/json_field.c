/*
 * json_field.c - typed JSON field reading (json_field.h).
 */
#include "plugin/io/json_field.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"

const char *afd_json_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "unknown";
}

__attribute__((format(printf, 4, 5))) static int
bad(char *err, const char *where, const char *key, const char *fmt, ...)
{
    char msg[AFD_ERR_LEN];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    size_t n = strlen(where);

    /* "a.b.key", or "file.json: key" when where ends in a space. */
    return afd_err(err, AFD_EINVAL, "%s%s%.64s: %s", where,
                   n && where[n - 1] != ' ' ? "." : "", key, msg);
}

/* The field's value, NULL when absent (then rc says whether that is OK). */
static const json_t *field(const json_t *obj, const char *where,
                           const char *key, int flags, int *rc, char *err)
{
    const json_t *v = json_object_get(obj, key);

    *rc = AFD_OK;
    if (v && json_is_null(v) && (flags & AFD_JF_NULL_ABSENT))
        v = NULL;
    if (!v && (flags & AFD_JF_REQUIRED))
        *rc = bad(err, where, key, "required field missing");
    return v;
}

int afd_jf_keys(const json_t *obj, const char *where, const char *const *known,
                char *err)
{
    char list[160];
    size_t len = 0;
    const char *k;
    json_t *v;
    int i;

    json_object_foreach((json_t *)obj, k, v)
    {
        for (i = 0; known[i]; i++)
            if (!strcmp(k, known[i]))
                break;
        if (known[i])
            continue;
        list[0] = '\0';
        for (i = 0; known[i] && len < sizeof(list); i++)
            len += snprintf(list + len, sizeof(list) - len, "%s%s",
                            i ? ", " : "", known[i]);
        return bad(err, where, k, "unknown field (known: %s)", list);
    }
    return AFD_OK;
}

int afd_jf_string(const json_t *obj, const char *where, const char *key,
                  int flags, char *dst, size_t cap, char *err)
{
    int rc;
    const json_t *v = field(obj, where, key, flags, &rc, err);
    const char *s;

    if (!v)
        return rc;
    if (!json_is_string(v))
        return bad(err, where, key, "must be a string, got %s",
                   afd_json_type_name(v));
    s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(err, where, key, "contains a NUL byte");
    if ((flags & AFD_JF_NONEMPTY) && !s[0])
        return bad(err, where, key, "must not be empty");
    if (strlen(s) >= cap && !(flags & AFD_JF_TRUNCATE))
        return bad(err, where, key, "longer than %zu bytes: '%.40s...'",
                   cap - 1, s);
    snprintf(dst, cap, "%s", s);
    return AFD_OK;
}

int afd_jf_number(const json_t *obj, const char *where, const char *key,
                  int flags, double lo, double hi, double *out, char *err)
{
    int rc;
    const json_t *v = field(obj, where, key, flags, &rc, err);
    double x;

    if (!v)
        return rc;
    /* A string such as "NaN" or "1e-3" is refused, not converted. */
    if (!json_is_number(v))
        return bad(err, where, key, "must be a number, got %s",
                   afd_json_type_name(v));
    x = json_number_value(v);
    if (isfinite(x) && x >= lo && x <= hi) {
        *out = x;
        return AFD_OK;
    }
    if (isinf(hi) && isinf(lo))
        return bad(err, where, key, "must be finite, got %g", x);
    if (isinf(hi))
        return bad(err, where, key, "must be finite and >= %g, got %g", lo, x);
    if (isinf(lo))
        return bad(err, where, key, "must be finite and <= %g, got %g", hi, x);
    return bad(err, where, key, "must be finite and in [%g, %g], got %g", lo,
               hi, x);
}

int afd_jf_integer(const json_t *obj, const char *where, const char *key,
                   int flags, long lo, long hi, long *out, char *err)
{
    int rc;
    const json_t *v = field(obj, where, key, flags, &rc, err);
    double d;

    if (!v)
        return rc;
    if (!json_is_number(v))
        return bad(err, where, key, "must be an integer in %ld..%ld, got %s",
                   lo, hi, afd_json_type_name(v));
    d = json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
    if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
        return bad(err, where, key, "must be an integer in %ld..%ld, got %g",
                   lo, hi, d);
    *out = (long)d;
    return AFD_OK;
}

int afd_jf_bool(const json_t *obj, const char *where, const char *key,
                int flags, bool *out, char *err)
{
    int rc;
    const json_t *v = field(obj, where, key, flags, &rc, err);

    if (!v)
        return rc;
    if (!json_is_boolean(v))
        return bad(err, where, key, "must be true or false, got %s",
                   afd_json_type_name(v));
    *out = json_is_true(v);
    return AFD_OK;
}
