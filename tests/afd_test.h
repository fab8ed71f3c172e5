/*
 * afd_test.h - helpers shared by the cmocka unit tests.
 *
 * Include after <cmocka.h>'s prerequisites; this header pulls them in.
 * assert_close(expected, actual, abs_tol, rel_tol) passes when
 * |actual - expected| <= max(abs_tol, rel_tol * |expected|) and fails with
 * expected, actual and the tolerance otherwise. Use exact comparisons
 * (assert_true(a == b)) wherever the math is exact.
 */
#ifndef AFD_TEST_H
#define AFD_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

void afd_assert_close(double expected, double actual, double abs_tol,
                      double rel_tol, const char *expr, const char *file,
                      int line);

#define assert_close(expected, actual, abs_tol, rel_tol)                       \
    afd_assert_close((expected), (actual), (abs_tol), (rel_tol), #actual,      \
                     __FILE__, __LINE__)

/*
 * Reads a whole file into a malloc'd NUL-terminated buffer (caller frees);
 * fails the test if it cannot. *len gets the size without the NUL.
 */
char *afd_test_read_file(const char *path, size_t *len);

/* Path of a file in ../shared/traces (static buffer, overwritten per call). */
const char *afd_test_trace_path(const char *name);

#endif
