/* error.c - result code table and the message formatter. */
#include "estimator/base/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *afd_strerror(int code)
{
    switch (code) {
    case AFD_OK:
        return "success";
    case AFD_EINVAL:
        return "invalid argument";
    case AFD_EPARSE:
        return "parse error";
    case AFD_ENOMEM:
        return "out of memory or bound reached";
    case AFD_ERANGE:
        return "no answer in range";
    case AFD_EIO:
        return "input/output error";
    case AFD_ENOTFOUND:
        return "not found";
    case AFD_EEMPTY:
        return "not enough data";
    case AFD_ESTATE:
        return "invalid state";
    default:
        return "unknown error";
    }
}

int afd_err(char *err, int code, const char *fmt, ...)
{
    va_list ap;

    if (err) {
        va_start(ap, fmt);
        vsnprintf(err, AFD_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return code;
}
