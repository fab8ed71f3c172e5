/*
 * validate.h - the theory-versus-simulation validation grid (`afd-sim
 * validate`, run by integration/validate).
 *
 * Grid: B in {64, 128, 256, 512, 1024} x workloads {paper geometric
 * (100, 500); long context (prompt 4000, geometric decode 1000); heavy-tailed
 * decode (lognormal, mean 500, cv 2, prompt 100); every trace file in the
 * traces directory} x profile paper-v1-fit in both comm modes, y = 1. Per
 * cell one refined sweep (sweep.h) over x = 1 .. cap, cap =
 * min(max(2 r*_mf, 2 x_barrier) + 2, 320) from a pre-estimate of theta and
 * sigma, with a step count from the workload's length-biased decode mean
 * (validate.c says how). Then report.md (tables, misses with reasons, the
 * barrier-effect check at long context, B = 256, r = 32) and summary.svg in
 * the output directory. --quick runs a reduced grid for CI.
 *
 * Cells run on --jobs threads; every cell's result depends only on the seed.
 * Exit status as afd-sim: 0, 1 runtime failure, 2 bad usage.
 */
#ifndef AFD_SIM_VALIDATE_H
#define AFD_SIM_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "estimator/base/error.h"
#include "integration/sim/sweep.h"

#define AFD_VALIDATE_MAX_CELLS 256
#define AFD_VALIDATE_NAME_LEN  96

/* One grid cell and, once run, its result. */
struct afd_validate_cell {
    char name[AFD_VALIDATE_NAME_LEN]; /* workload label for the table */
    char spec[AFD_GEN_SPEC_LEN];      /* generator spec */
    long batch;                       /* B */
    enum afd_comm_mode comm;          /* comm mode of the profile */
    unsigned long long steps;         /* measured steps per x */
    long cap;                         /* largest x swept */
    long stride;                      /* first-pass stride */
    double cost;                      /* estimated work, for scheduling */
    int rc;                           /* AFD_OK or the failure */
    char err[AFD_ERR_LEN];
    double seconds;              /* wall time of the sweep */
    struct afd_sweep_result res; /* owned, released by the grid */
};

/* The barrier-effect check: one run at fixed x with both models beside. */
struct afd_validate_barrier {
    char spec[AFD_GEN_SPEC_LEN];
    long batch, x;
    unsigned long long steps;
    int rc;
    char err[AFD_ERR_LEN];
    double theta, sigma; /* of the drawn requests */
    double sim, ci95;    /* simulated throughput per device */
    double mean_field;   /* f(r) of the mean-field model */
    double barrier;      /* barrier-model throughput */
    double spread_sim;   /* rms sd of T_j across instances, simulated */
    double spread_model; /* sqrt(B)*sigma */
};

struct afd_validate_report {
    const struct afd_profile *profile;
    const char *traces_dir;
    const char *command; /* how it was invoked, for the report */
    bool quick;
    unsigned long long seed;
    int jobs;
    double seconds; /* whole run */
    size_t n;
    struct afd_validate_cell *cells;
    size_t n_barrier;
    struct afd_validate_barrier barrier[4];
};

int afd_validate_main(int argc, char **argv);

/* Writes report.md into dir (validate_report.c). AFD_EIO on failure. */
int afd_validate_write_md(const char *dir, const struct afd_validate_report *v,
                          char *err);
/* Writes summary.svg into dir. */
int afd_validate_write_svg(const char *dir, const struct afd_validate_report *v,
                           char *err);

#endif
