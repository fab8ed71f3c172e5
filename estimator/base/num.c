/* num.c - strict number parsing (estimator/base/num.h). */
#include "estimator/base/num.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "estimator/base/error.h"

int afd_parse_double(const char *s, const char *what, double *out, char *err)
{
    char *end;
    double v;

    if (!s || !*s)
        return afd_err(err, AFD_EPARSE, "%s must be a number, got ''", what);
    errno = 0;
    v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v))
        return afd_err(err, AFD_EPARSE, "%s must be a finite number, got '%s'",
                       what, s);
    *out = v;
    return AFD_OK;
}

int afd_parse_long(const char *s, const char *what, long *out, char *err)
{
    char *end;
    long v;

    if (!s || !*s)
        return afd_err(err, AFD_EPARSE, "%s must be an integer, got ''", what);
    errno = 0;
    v = strtol(s, &end, 10);
    if (*end || errno == ERANGE)
        return afd_err(err, AFD_EPARSE, "%s must be an integer, got '%s'", what,
                       s);
    *out = v;
    return AFD_OK;
}
