/*
 * trace_file.c - reading a request trace file into a struct afd_trace.
 *
 * The file is read whole, bounded by AFD_TRACE_MAX_BYTES (the largest public
 * trace we know of, Mooncake's, is tens of MiB), and parsed by the pure
 * estimator/trace.c. Every message is prefixed with the path so that a user
 * juggling several traces knows which one failed.
 */
#include "plugin/io/trace_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/sys/os.h"

int afd_trace_load(const char *path, struct afd_trace *out, char *err)
{
    char why[AFD_ERR_LEN];
    char *text = NULL;
    size_t len = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = afd_read_file(path, AFD_TRACE_MAX_BYTES, &text, &len, err);
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
