/* afd_test.c - shared assertions and fixtures for the unit tests. */
#include "tests/afd_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/profile.h"
#include "estimator/solver.h"

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

void afd_assert_contains(const char *s, const char *part)
{
    if (!strstr(s, part))
        fail_msg("'%s' does not contain '%s'", s, part);
}

void afd_assert_starts_with(const char *s, const char *prefix)
{
    if (strncmp(s, prefix, strlen(prefix)) != 0)
        fail_msg("'%s' does not start with '%s'", s, prefix);
}

#define TMP_MAX_FILES 32

static char tmp_dir[] = "/tmp/afd_test_XXXXXX";
static char *tmp_written[TMP_MAX_FILES];
static size_t tmp_n_written;

int afd_test_tmpdir_setup(void **state)
{
    (void)state;
    return mkdtemp(tmp_dir) ? 0 : -1;
}

int afd_test_tmpdir_teardown(void **state)
{
    size_t i;

    (void)state;
    for (i = 0; i < tmp_n_written; i++) {
        unlink(tmp_written[i]);
        free(tmp_written[i]);
    }
    tmp_n_written = 0;
    rmdir(tmp_dir);
    return 0;
}

const char *afd_test_tmpdir(void)
{
    return tmp_dir;
}

const char *afd_test_write_file(const char *name, const char *text)
{
    char *path = malloc(strlen(tmp_dir) + strlen(name) + 2);
    FILE *f;

    assert_non_null(path);
    assert_true(tmp_n_written < TMP_MAX_FILES);
    sprintf(path, "%s/%s", tmp_dir, name);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    fclose(f);
    tmp_written[tmp_n_written++] = path;
    return path;
}

void afd_test_paper_profile(struct afd_profile *p)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "paper-v1-fit-test");
    p->aA = 5.075e-5;
    p->bA = 2.549;
    p->aC = 1.0e-3;
    p->bC = 0.30;
    p->aF = 2.2444e-3;
    p->bF = 5.0;
    p->comm_mode = AFD_COMM_PER_INSTANCE;
}

static uint64_t rng_state;

void afd_test_rng_seed(uint64_t seed)
{
    rng_state = seed;
}

double afd_test_rng_uniform(double lo, double hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return lo + (hi - lo) * ((rng_state * 2685821657736338717ULL >> 11) *
                             (1.0 / 9007199254740992.0));
}

void afd_test_random_barrier_input(struct afd_profile *p,
                                   struct afd_solve_input *in, int i)
{
    memset(p, 0, sizeof(*p));
    strcpy(p->name, "random");
    p->aA = exp(afd_test_rng_uniform(log(1e-6), log(1e-3)));
    p->bA = afd_test_rng_uniform(0.1, 10);
    p->aC = exp(afd_test_rng_uniform(log(1e-5), log(1e-2)));
    p->bC = afd_test_rng_uniform(0.01, 3);
    p->aF = exp(afd_test_rng_uniform(log(1e-4), log(1e-2)));
    p->bF = afd_test_rng_uniform(0.1, 10);
    p->comm_mode = i % 2 ? AFD_COMM_AGGREGATE : AFD_COMM_PER_INSTANCE;
    afd_solve_input_init(in, p, floor(afd_test_rng_uniform(1, 1024)),
                         afd_test_rng_uniform(10, 5000));
    in->has_sigma = true;
    in->sigma = in->theta * afd_test_rng_uniform(0.05, 3);
    in->ffn_instances = 1 + i % 3;
    in->max_ratio = floor(afd_test_rng_uniform(1, 48));
}
