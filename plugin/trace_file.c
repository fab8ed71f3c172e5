/*
 * trace_file.c - reading a request trace file into a struct afd_trace.
 *
 * The file is read whole, bounded by AFD_TRACE_MAX_BYTES (the largest public
 * trace we know of, Mooncake's, is tens of MiB), and parsed by the pure
 * estimator/trace.c. Every message is prefixed with the path so that a user
 * juggling several traces knows which one failed.
 */
#include "plugin/trace_file.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "estimator/error.h"

/*
 * Reads path into a malloc'd buffer (caller frees). fstat gives the size up
 * front, so a file that is not regular (a directory, a pipe) is refused
 * rather than read to an unknown length.
 */
static int read_whole(const char *path, char **out, size_t *len, char *err)
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
    if ((unsigned long long)st.st_size > AFD_TRACE_MAX_BYTES) {
        rc = afd_err(err, AFD_ENOMEM, "%s: larger than %zu bytes", path,
                     AFD_TRACE_MAX_BYTES);
        goto close_file;
    }
    if (st.st_size == 0) {
        rc = afd_err(err, AFD_EEMPTY, "%s: file is empty", path);
        goto close_file;
    }
    buf = malloc((size_t)st.st_size);
    if (!buf) {
        rc = afd_err(err, AFD_ENOMEM, "%s: out of memory", path);
        goto close_file;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        rc = afd_err(err, AFD_EIO, "%s: read failed: %s", path,
                     ferror(f) ? strerror(errno) : "file shrank");
        goto free_buf;
    }
    fclose(f);
    *out = buf;
    *len = n;
    return AFD_OK;

free_buf:
    free(buf);
close_file:
    fclose(f);
    return rc;
}

int afd_trace_load(const char *path, struct afd_trace *out, char *err)
{
    char why[AFD_ERR_LEN];
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = read_whole(path, &text, &len, err);
    if (rc < 0)
        return rc;
    rc = afd_trace_parse(text, len, out, why);
    free(text);
    if (rc < 0) {
        afd_trace_release(out);
        return afd_err(err, rc, "%s: %s", path, why);
    }
    return AFD_OK;
}

int afd_trace_stats(const struct afd_trace *t, struct afd_workload_stats *out,
                    char *err)
{
    struct afd_workload *w;
    size_t i;
    int rc = AFD_OK;

    if (t->n == 0)
        return afd_err(err, AFD_EEMPTY, "trace holds no valid request");
    w = afd_workload_new(0, err);
    if (!w)
        return AFD_ENOMEM;
    for (i = 0; i < t->n && rc == AFD_OK; i++)
        rc = afd_workload_add(w, t->prompt[i], t->decode[i], err);
    if (rc == AFD_OK)
        rc = afd_workload_stats(w, out, err);
    afd_workload_free(w);
    return rc;
}
