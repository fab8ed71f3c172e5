/*
 * util.c - strict number parsing, terminal detection and the bounded
 * whole-file reader for the plugin.
 */
#include "plugin/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimator/error.h"

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

bool afd_progress_enabled(void)
{
    const char *ci = getenv("CI");

    if (ci && *ci && *ci != '0')
        return false;
    return isatty(STDERR_FILENO) != 0;
}

int afd_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                  char *err)
{
    struct stat st;
    char *buf = NULL;
    FILE *f;
    size_t n;
    int rc;

    f = fopen(path, "rb");
    if (!f)
        return afd_err(err, AFD_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = afd_err(err, AFD_EIO, "%s: not a regular file", path);
        goto close_file;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        rc = afd_err(err, AFD_ENOMEM, "%s: larger than %zu bytes", path,
                     max_bytes);
        goto close_file;
    }
    if (st.st_size == 0) {
        rc = afd_err(err, AFD_EEMPTY, "%s: file is empty", path);
        goto close_file;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = afd_err(err, AFD_ENOMEM, "%s: out of memory", path);
        goto close_file;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        rc = afd_err(err, AFD_EIO, "%s: read failed: %s", path,
                     ferror(f) ? strerror(errno) : "file shrank");
        free(buf);
        goto close_file;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AFD_OK;

close_file:
    fclose(f);
    return rc;
}
