/*
 * svg.h - hand-written SVG plots for afd-sim (no plotting library).
 *
 * afd_svg_sweep: throughput per device against the Attention count x of one
 * sweep, with 95% CI bars, the mean-field model curve, the barrier-model
 * curve, vertical marks at the mean-field r*·y, its integer pick and the
 * barrier-aware pick, and the mean-field regimes shaded.
 *
 * afd_svg_summary: one marker per validation cell, theory ratio against the
 * simulation optimum (log-log), with the diagonal and its +-10% band.
 *
 * Both write the file in one go; AFD_EIO with the path on failure.
 */
#ifndef AFD_SIM_SVG_H
#define AFD_SIM_SVG_H

#include <stddef.h>

#include "integration/sim/sweep.h"

int afd_svg_sweep(const char *path, const struct afd_sweep_config *c,
                  const struct afd_sweep_result *r, const char *title,
                  char *err);

/* One validation cell for the summary plot. */
struct afd_svg_cell {
    double r_sim;  /* simulation optimum ratio */
    double tie_lo; /* tie range, ratios */
    double tie_hi;
    double r_mf;      /* mean-field r* */
    double r_barrier; /* barrier-aware ratio */
};

int afd_svg_summary(const char *path, const struct afd_svg_cell *cells,
                    size_t n, const char *title, char *err);

#endif
