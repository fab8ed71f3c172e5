/*
 * registry_check.c - validation of what enters the registry: deployment
 * names (they become Prometheus label values) and telemetry items (bounds
 * in registry_internal.h). Pure checks: nothing here changes state.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/registry_internal.h"

static const char *const reject_names[AFD_REJECT_COUNT] = {
    "none",         "not_finite",    "negative",
    "out_of_range", "missing_field", "unknown_deployment",
    "capacity",     "malformed",     "unauthenticated",
};

static const char *const theta_source_names[AFD_THETA_SOURCE_COUNT] = {
    "none", "requests", "live_loads", "forecast", "planner",
};

const char *afd_theta_source_name(enum afd_theta_source s)
{
    if ((unsigned)s >= AFD_THETA_SOURCE_COUNT)
        return "unknown";
    return theta_source_names[s];
}

const char *afd_reject_reason_name(enum afd_reject_reason r)
{
    if ((unsigned)r >= AFD_REJECT_COUNT)
        return "unknown";
    return reject_names[r];
}

/*
 * Strict UTF-8 (no overlongs, surrogates or code points > U+10FFFF).
 * Deployment names become Prometheus label values, and one invalid label
 * value makes a scraper drop the whole page.
 */
static bool utf8_valid(const unsigned char *p)
{
    unsigned c, need, min, cp;

    while ((c = *p++)) {
        if (c < 0x80)
            continue;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1, min = 0x80, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            need = 2, min = 0x800, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            need = 3, min = 0x10000, cp = c & 0x07;
        else
            return false;
        while (need--) {
            if ((*p & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (*p++ & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
    }
    return true;
}

int afd_deployment_name_check(const char *name, char *err)
{
    static const char what[] = "deployment";

    if (!name || !name[0])
        return afd_err(err, AFD_EINVAL, "%s name is empty", what);
    if (strlen(name) >= AFD_NAME_LEN)
        return afd_err(err, AFD_EINVAL, "%s name is %zu bytes, the limit is %d",
                       what, strlen(name), AFD_NAME_LEN - 1);
    if (!utf8_valid((const unsigned char *)name))
        return afd_err(err, AFD_EPARSE, "%s name is not valid UTF-8", what);
    return AFD_OK;
}

/* ---- telemetry items ---- */

static enum afd_reject_reason check_value(double v, double max,
                                          const char *what, const char *field,
                                          char *err)
{
    if (!isfinite(v)) {
        afd_err(err, AFD_EINVAL, "%s field '%s' must be finite, got %g", what,
                field, v);
        return AFD_REJECT_NOT_FINITE;
    }
    if (v < 0) {
        afd_err(err, AFD_EINVAL, "%s field '%s' must be >= 0, got %g", what,
                field, v);
        return AFD_REJECT_NEGATIVE;
    }
    if (v > max) {
        afd_err(err, AFD_EINVAL, "%s field '%s' must be <= %g, got %g", what,
                field, max, v);
        return AFD_REJECT_OUT_OF_RANGE;
    }
    return AFD_REJECT_NONE;
}

enum afd_reject_reason afd_step_sample_check(const struct afd_step_sample *s,
                                             char *err)
{
    static const char what[] = "step sample";
    const struct {
        double v, max;
        const char *field;
    } f[] = {
        {s->batch_size, AFD_MAX_BATCH, "batch_size"},
        {s->token_load, AFD_MAX_TOKENS, "token_load"},
        {s->attention_ms, AFD_MAX_STAGE_MS, "attention_ms"},
        {s->comm_ms, AFD_MAX_STAGE_MS, "comm_ms"},
        {s->ffn_ms, AFD_MAX_STAGE_MS, "ffn_ms"},
        {s->ffn_tokens, AFD_MAX_TOKENS, "ffn_tokens"},
    };
    enum afd_reject_reason r;
    size_t i;

    if (!s->instance_id || !s->instance_id[0]) {
        afd_err(err, AFD_EINVAL, "step sample field 'instance_id' is empty");
        return AFD_REJECT_MISSING_FIELD;
    }
    if (strnlen(s->instance_id, AFD_NAME_LEN) >= AFD_NAME_LEN) {
        afd_err(err, AFD_EINVAL,
                "step sample field 'instance_id' is longer than %d bytes",
                AFD_NAME_LEN - 1);
        return AFD_REJECT_MISSING_FIELD;
    }
    if (s->role != AFD_ROLE_ATTENTION && s->role != AFD_ROLE_FFN) {
        afd_err(err, AFD_EINVAL, "step sample field 'role' is unknown, got %d",
                (int)s->role);
        return AFD_REJECT_OUT_OF_RANGE;
    }
    for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
        r = check_value(f[i].v, f[i].max, what, f[i].field, err);
        if (r != AFD_REJECT_NONE)
            return r;
    }
    return AFD_REJECT_NONE;
}

enum afd_reject_reason afd_request_check(double prompt, double decode,
                                         double weight, char *err)
{
    static const char what[] = "finished request";
    enum afd_reject_reason r;

    r = check_value(prompt, AFD_MAX_TOKENS, what, "prompt_tokens", err);
    if (r == AFD_REJECT_NONE)
        r = check_value(decode, AFD_MAX_TOKENS, what, "decode_tokens", err);
    if (r == AFD_REJECT_NONE && decode < 1) {
        afd_err(err, AFD_EINVAL,
                "finished request field 'decode_tokens' must be >= 1, got %g",
                decode);
        r = AFD_REJECT_OUT_OF_RANGE;
    }
    if (r == AFD_REJECT_NONE)
        r = check_value(weight, AFD_MAX_TOKENS, what, "weight", err);
    if (r == AFD_REJECT_NONE && weight != 0 && weight < 1) {
        afd_err(err, AFD_EINVAL,
                "finished request field 'weight' must be 0 (unset) or >= 1, "
                "got %g",
                weight);
        r = AFD_REJECT_OUT_OF_RANGE;
    }
    return r;
}
