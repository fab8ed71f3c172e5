/* afd_test.c - shared assertions and fixtures for the unit tests. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

void afd_assert_close(double expected, double actual, double abs_tol,
                      double rel_tol, const char *expr, const char *file,
                      int line)
{
    double tol = fmax(abs_tol, rel_tol * fabs(expected));

    if (isnan(actual) || isnan(expected) || fabs(actual - expected) > tol) {
        fail_msg("%s:%d: %s = %.17g, expected %.17g (tolerance %.3g)", file,
                 line, expr, actual, expected, tol);
    }
}

char *afd_test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long size;

    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    size = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)size + 1);
    if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(buf);
        fail_msg("cannot read %s", path);
    }
    fclose(f);
    buf[size] = '\0';
    if (len)
        *len = (size_t)size;
    return buf;
}

const char *afd_test_trace_path(const char *name)
{
    static char path[4096];

#ifdef AFD_SHARED_DIR
    snprintf(path, sizeof(path), "%s/traces/%s", AFD_SHARED_DIR, name);
#else
    snprintf(path, sizeof(path), "../shared/traces/%s", name);
#endif
    return path;
}
