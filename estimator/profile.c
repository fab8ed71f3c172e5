/*
 * profile.c - built-in latency profiles, validation and stage times
 * (model.md section 2).
 *
 * The only built-in, paper-v1-fit, is FITTED: the paper's Table 4 is not
 * public, so its six coefficients were chosen so that the mean-field rule
 * reproduces the paper's three headline points (theta = 600: r* = 5.9, 9.3
 * and 12.5 at B = 64, 256 and 1024). Its provenance line says so, and every
 * caller that shows a profile shows the provenance with it.
 */
#include "estimator/profile.h"

#include <assert.h>
#include <math.h>
#include <string.h>

#include "estimator/base/error.h"

static const struct afd_profile builtin_profiles[] = {
    {
        .name = "paper-v1-fit",
        .provenance = "FITTED, not the paper's Table 4 (not public): chosen "
                      "so the mean-field rule reproduces the paper's r* = "
                      "5.9/9.3/12.5 at B = 64/256/1024, theta = 600 "
                      "(arXiv 2601.21351, Ascend 910C, DeepSeek-V3)",
        .aA = 5.075e-5,
        .bA = 2.549,
        .aC = 1.0e-3,
        .bC = 0.30,
        .aF = 2.2444e-3,
        .bF = 5.0,
        .comm_mode = AFD_COMM_PER_INSTANCE,
    },
};

#define BUILTIN_COUNT (sizeof(builtin_profiles) / sizeof(builtin_profiles[0]))

const struct afd_profile *afd_profile_builtin(const char *name)
{
    size_t i;

    if (!name)
        return NULL;
    for (i = 0; i < BUILTIN_COUNT; i++) {
        if (strcmp(builtin_profiles[i].name, name) == 0)
            return &builtin_profiles[i];
    }
    return NULL;
}

size_t afd_profile_builtin_count(void)
{
    return BUILTIN_COUNT;
}

const struct afd_profile *afd_profile_builtin_at(size_t i)
{
    return i < BUILTIN_COUNT ? &builtin_profiles[i] : NULL;
}

/*
 * One coefficient: finite and >= 0, and > 0 for the slopes the solver divides
 * by. The message names the field and quotes the value.
 */
static int check_coef(const char *field, double v, int positive, char *err)
{
    if (!isfinite(v) || v < 0)
        return afd_err(err, AFD_EINVAL,
                       "profile field '%s' must be finite and >= 0, got %g",
                       field, v);
    if (positive && v == 0)
        return afd_err(err, AFD_EINVAL,
                       "profile field '%s' must be > 0 (the solver divides "
                       "by it), got %g",
                       field, v);
    return AFD_OK;
}

int afd_profile_validate(const struct afd_profile *p, char *err)
{
    int rc;

    if (!p)
        return afd_err(err, AFD_EINVAL, "profile is missing");
    /* A name that fills the buffer without a NUL is as bad as an empty one. */
    if (!memchr(p->name, '\0', sizeof(p->name)))
        return afd_err(err, AFD_EINVAL,
                       "profile field 'name' is not terminated within %d "
                       "bytes",
                       AFD_PROFILE_NAME_LEN);
    if (p->name[0] == '\0')
        return afd_err(err, AFD_EINVAL,
                       "profile field 'name' must not be empty");
    if ((rc = check_coef("aA", p->aA, 1, err)) < 0 ||
        (rc = check_coef("bA", p->bA, 0, err)) < 0 ||
        (rc = check_coef("aC", p->aC, 0, err)) < 0 ||
        (rc = check_coef("bC", p->bC, 0, err)) < 0 ||
        (rc = check_coef("aF", p->aF, 1, err)) < 0 ||
        (rc = check_coef("bF", p->bF, 0, err)) < 0)
        return rc;
    if (p->comm_mode != AFD_COMM_PER_INSTANCE &&
        p->comm_mode != AFD_COMM_AGGREGATE)
        return afd_err(err, AFD_EINVAL,
                       "profile field 'comm_mode' must be per_instance or "
                       "aggregate, got %d",
                       (int)p->comm_mode);
    return AFD_OK;
}

const char *afd_comm_mode_name(enum afd_comm_mode mode)
{
    switch (mode) {
    case AFD_COMM_PER_INSTANCE:
        return "per_instance";
    case AFD_COMM_AGGREGATE:
        return "aggregate";
    }
    return "unknown";
}

int afd_comm_mode_parse(const char *s, enum afd_comm_mode *out, char *err)
{
    assert(out);
    if (!s)
        return afd_err(err, AFD_EINVAL, "comm mode is missing");
    if (strcmp(s, "per_instance") == 0) {
        *out = AFD_COMM_PER_INSTANCE;
        return AFD_OK;
    }
    if (strcmp(s, "aggregate") == 0) {
        *out = AFD_COMM_AGGREGATE;
        return AFD_OK;
    }
    return afd_err(err, AFD_EINVAL,
                   "unknown comm mode '%.64s' (expected per_instance or "
                   "aggregate)",
                   s);
}

double afd_profile_t_attention(const struct afd_profile *p, double load)
{
    return p->aA * load + p->bA;
}

/* per_instance: each Attention instance sends its own B tokens; aggregate:
 * the FFN side receives r*B (model.md section 2). */
double afd_profile_t_comm(const struct afd_profile *p, double batch,
                          double ratio)
{
    double x = p->comm_mode == AFD_COMM_AGGREGATE ? ratio * batch : batch;

    return p->aC * x + p->bC;
}

double afd_profile_t_ffn(const struct afd_profile *p, double tokens)
{
    return p->aF * tokens + p->bF;
}
