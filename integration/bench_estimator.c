/*
 * bench_estimator.c - speed of the estimator's hot paths.
 *
 * Prints one line per figure, "<name> <value>":
 *     workload_update_ns   afd_workload_add, half-life 10000 requests
 *     calib_update_ns      afd_calib_add_{attention,comm,ffn}, per call
 *     solve_meanfield_us   afd_solve without sigma (mean-field only)
 *     solve_barrier_us     afd_solve with sigma (mean-field + barrier)
 *     solve_noise_us       the same with 10% per-step noise on every stage
 *     trace_parse_ms       afd_trace_parse of --trace FILE (only if given)
 * both solves with max_ratio 1024 and the built-in paper-v1-fit profile.
 * Each figure is the median of five timed repetitions. --smoke runs tiny
 * counts (CI checks the program runs, never the timings).
 *
 * Inputs vary per call and every result feeds a volatile sink, so the
 * compiler cannot hoist or drop the work.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/calib.h"
#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "estimator/solver.h"
#include "estimator/trace.h"
#include "estimator/workload.h"
#include "plugin/sys/os.h"

#define REPEATS  5
#define N_INPUTS 4096 /* power of two: cheap index masking */

static volatile double sink;

struct counts {
    long workload;
    long calib;
    long solve_mf;
    long solve_barrier;
    long trace;
};

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    return v[n / 2];
}

/* Fixed-seed xorshift64* inputs so every run times the same work. */
static void make_inputs(double *prompt, double *decode)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;
    int i;

    for (i = 0; i < N_INPUTS; i++) {
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        prompt[i] = (double)((s * 0x2545F4914F6CDD1Dull) >> 52);
        s ^= s >> 12, s ^= s << 25, s ^= s >> 27;
        decode[i] = 1 + (double)((s * 0x2545F4914F6CDD1Dull) >> 54);
    }
}

static int bench_workload(long n, const double *prompt, const double *decode,
                          double *ns)
{
    char err[AFD_ERR_LEN];
    struct afd_workload *w = afd_workload_new(10000, err);
    struct afd_workload_stats st;
    double t0;
    long i;
    int rc = 0;

    if (!w) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    t0 = (double)afd_clock_mono_ns();
    for (i = 0; i < n; i++)
        rc |= afd_workload_add(w, prompt[i & (N_INPUTS - 1)],
                               decode[i & (N_INPUTS - 1)], NULL);
    *ns = ((double)afd_clock_mono_ns() - t0) / (double)n;
    if (afd_workload_stats(w, &st, NULL) == AFD_OK)
        sink = st.theta + rc;
    afd_workload_free(w);
    return rc ? -1 : 0;
}

static int bench_calib(long n, const double *prompt, double *ns)
{
    const struct afd_profile *p = afd_profile_builtin(AFD_DEFAULT_PROFILE);
    struct afd_calib_config cfg;
    struct afd_calib_report rep;
    struct afd_calib *c;
    char err[AFD_ERR_LEN];
    double t0, x;
    long i;
    int rc = 0;

    afd_calib_config_default(&cfg);
    c = afd_calib_new(p, &cfg, err);
    if (!c) {
        fprintf(stderr, "bench: %s\n", err);
        return -1;
    }
    /* Calls cycle through the three stages; n counts calls. */
    t0 = (double)afd_clock_mono_ns();
    for (i = 0; i < n; i++) {
        x = 100 + prompt[i & (N_INPUTS - 1)];
        switch (i % 3) {
        case 0:
            rc |= afd_calib_add_attention(
                c, 256 * x, afd_profile_t_attention(p, 256 * x), NULL);
            break;
        case 1:
            rc |= afd_calib_add_comm(c, x, afd_profile_t_comm(p, x, 1), NULL);
            break;
        default:
            rc |= afd_calib_add_ffn(c, x, afd_profile_t_ffn(p, x), NULL);
            break;
        }
    }
    *ns = ((double)afd_clock_mono_ns() - t0) / (double)n;
    afd_calib_report(c, &rep);
    sink = rep.value[AFD_COEF_AA] + rc;
    afd_calib_free(c);
    return rc ? -1 : 0;
}

/* barrier: 0 mean-field only, 1 with sigma, 2 with sigma and stage noise */
static int bench_solve(long n, int barrier, double *us)
{
    const struct afd_profile *p = afd_profile_builtin(AFD_DEFAULT_PROFILE);
    struct afd_solve_input in;
    struct afd_solution sol;
    char err[AFD_ERR_LEN];
    double t0, acc = 0;
    long i;

    afd_solve_input_init(&in, p, 256, 600);
    in.max_ratio = 1024;
    in.has_sigma = barrier != 0;
    if (barrier == 2)
        for (i = 0; i < AFD_REGIME_COUNT; i++)
            in.stage_cv[i] = 0.1;
    t0 = (double)afd_clock_mono_ns();
    for (i = 0; i < n; i++) {
        /* A different theta and sigma per call, as a live daemon sees. */
        in.theta = 600 + (double)(i & 63);
        in.sigma = 700 + (double)(i & 31);
        if (afd_solve(&in, &sol, err) != AFD_OK) {
            fprintf(stderr, "bench: solve: %s\n", err);
            return -1;
        }
        acc += sol.r_star + sol.r_star_barrier;
    }
    *us = ((double)afd_clock_mono_ns() - t0) / (double)n / 1e3;
    sink = acc;
    return 0;
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long size;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (size = ftell(f)) >= 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)size + 1)) &&
        fread(buf, 1, (size_t)size, f) == (size_t)size) {
        *len = (size_t)size;
    } else {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    return buf;
}

static int bench_trace(long n, const char *text, size_t len, double *ms)
{
    struct afd_trace t;
    char err[AFD_ERR_LEN];
    double t0 = (double)afd_clock_mono_ns();
    long i;

    for (i = 0; i < n; i++) {
        if (afd_trace_parse(text, len, &t, err) != AFD_OK) {
            fprintf(stderr, "bench: trace: %s\n", err);
            return -1;
        }
        sink = (double)t.n;
        afd_trace_release(&t);
    }
    *ms = ((double)afd_clock_mono_ns() - t0) / (double)n / 1e6;
    return 0;
}

/* Runs one benchmark REPEATS times and prints the median. */
#define REPORT(name, call)                                                     \
    do {                                                                       \
        double v[REPEATS];                                                     \
        int k;                                                                 \
        for (k = 0; k < REPEATS; k++) {                                        \
            if ((call) < 0)                                                    \
                goto fail;                                                     \
        }                                                                      \
        printf("%s %.4g\n", name, median(v, REPEATS));                         \
    } while (0)

int main(int argc, char **argv)
{
    static double prompt[N_INPUTS], decode[N_INPUTS];
    struct counts full = {20000000, 5000000, 100000, 2000, 20};
    struct counts smoke = {20000, 3000, 50, 5, 1};
    struct counts *c = &full;
    const char *trace_path = NULL;
    char *text = NULL;
    size_t len = 0;
    int i;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--smoke") == 0) {
            c = &smoke;
        } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
            trace_path = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--smoke] [--trace FILE]\n", argv[0]);
            return 2;
        }
    }
    if (trace_path && !(text = read_file(trace_path, &len))) {
        fprintf(stderr, "bench: cannot read trace '%s'\n", trace_path);
        return 1;
    }
    make_inputs(prompt, decode);
    REPORT("workload_update_ns",
           bench_workload(c->workload, prompt, decode, &v[k]));
    REPORT("calib_update_ns", bench_calib(c->calib, prompt, &v[k]));
    REPORT("solve_meanfield_us", bench_solve(c->solve_mf, 0, &v[k]));
    REPORT("solve_barrier_us", bench_solve(c->solve_barrier, 1, &v[k]));
    REPORT("solve_noise_us", bench_solve(c->solve_barrier, 2, &v[k]));
    if (text)
        REPORT("trace_parse_ms", bench_trace(c->trace, text, len, &v[k]));
    free(text);
    return 0;

fail:
    free(text);
    return 1;
}
