/*
 * error.h - result codes and error messages shared by every afd_ module.
 *
 * Action functions return int: AFD_OK (0) on success or one negative code
 * below. A function that can fail also takes `char *err`, a caller buffer of
 * AFD_ERR_LEN bytes (NULL allowed), and writes one lower-case line there that
 * says what failed and quotes the offending value, e.g.
 *     "profile field 'aF' must be finite and >= 0, got -1"
 * Messages are never allocated; the error path cannot fail.
 */
#ifndef AFD_ERROR_H
#define AFD_ERROR_H

#define AFD_ERR_LEN 256

#define AFD_OK        0  /* success */
#define AFD_EINVAL    -1 /* an argument or input value is invalid */
#define AFD_EPARSE    -2 /* text (JSON, CSV, flags) could not be parsed */
#define AFD_ENOMEM    -3 /* allocation failed or a configured bound is full */
#define AFD_ERANGE    -4 /* no answer inside the requested range */
#define AFD_EIO       -5 /* a file or socket operation failed (plugin only) */
#define AFD_ENOTFOUND -6 /* a named thing (profile, deployment) is unknown */
#define AFD_EEMPTY    -7 /* not enough data yet to answer */
#define AFD_ESTATE    -8 /* call not valid in the object's current state */

/* Returns a constant one-line meaning of `code`; never NULL. */
const char *afd_strerror(int code);

/*
 * Formats a message into err (if err is not NULL, AFD_ERR_LEN bytes) and
 * returns `code`, so that callers can write `return afd_err(err, AFD_EINVAL,
 * "...", ...);`.
 */
int afd_err(char *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
