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

/* Fail the test unless s contains part / starts with prefix. */
void afd_assert_contains(const char *s, const char *part);
void afd_assert_starts_with(const char *s, const char *prefix);

/*
 * A temp directory for one test process: pass afd_test_tmpdir_setup and
 * afd_test_tmpdir_teardown to cmocka_run_group_tests. afd_test_write_file
 * writes text to <dir>/name and returns the path, valid until teardown,
 * which removes every written file and the directory.
 */
int afd_test_tmpdir_setup(void **state);
int afd_test_tmpdir_teardown(void **state);
const char *afd_test_tmpdir(void);
const char *afd_test_write_file(const char *name, const char *text);

/*
 * paper-v1-fit (model.md section 2), named "paper-v1-fit-test". Built here
 * from model.md's numbers, not taken from estimator/profile.c, so the tests
 * do not depend on the built-in table's copy.
 */
struct afd_profile;
void afd_test_paper_profile(struct afd_profile *p);

/*
 * xorshift64*: seed it with a fixed non-zero value at the start of each test
 * so random cases are reproducible; uniform in [lo, hi).
 */
void afd_test_rng_seed(uint64_t seed);
double afd_test_rng_uniform(double lo, double hi);

/*
 * A random barrier input from the rng above (its i-th case): a profile
 * log-uniform over three decades per coefficient, both comm modes, batch
 * 1-1024, theta 10-5000 with sigma, 1-3 FFN instances, max_ratio < 48.
 */
struct afd_solve_input;
void afd_test_random_barrier_input(struct afd_profile *p,
                                   struct afd_solve_input *in, int i);

#endif
