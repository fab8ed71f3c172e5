/*
 * bench_sim.c - speed of the AFD step simulator (integration/sim/engine.h).
 *
 * Prints simulated slot-steps per second, r*B*steps / wall time, for
 * B = 256, r = 16 (16 Attention, 1 FFN), prompt 100, geometric decode of
 * mean 500, profile paper-v1-fit, no noise, one thread. Target on this
 * machine: >= 2e9. Two figures: the bare engine, and the engine feeding every
 * finished request to the theta/sigma estimator as afd-sim does.
 * --smoke runs a few thousand steps so that CI checks it runs; figures are
 * printed, never asserted.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "estimator/profile.h"
#include "estimator/workload.h"
#include "integration/sim/engine.h"
#include "integration/sim/gen.h"
#include "plugin/sys/os.h"

static int bench(const struct afd_profile *p, const struct afd_gen *g,
                 unsigned long long steps, int with_stats)
{
    struct afd_sim_config c;
    struct afd_sim_result r;
    struct afd_workload *w = NULL;
    char err[AFD_ERR_LEN];
    double t0, dt, slot_steps;

    afd_sim_config_init(&c, p, g);
    c.batch = 256;
    c.attention = 16;
    c.ffn = 1;
    c.steps = steps;
    c.warmup = steps / 10;
    c.seed = 42;
    if (with_stats) {
        w = afd_workload_new(0, err);
        if (!w) {
            fprintf(stderr, "bench-sim: %s\n", err);
            return 1;
        }
        c.drawn = w;
    }
    t0 = afd_clock_mono_s();
    if (afd_sim_run(&c, &r, err)) {
        fprintf(stderr, "bench-sim: %s\n", err);
        afd_workload_free(w);
        return 1;
    }
    dt = afd_clock_mono_s() - t0;
    slot_steps = 16.0 * 256.0 * (double)(c.steps + c.warmup);
    printf("bench-sim: %-22s B=256 r=16 steps=%llu wall=%.3f s  "
           "%.3g slot-steps/s  (throughput %.4f tok/ms/dev, %llu finished)\n",
           with_stats ? "engine+theta-stats" : "engine", steps + c.warmup, dt,
           slot_steps / dt, r.throughput_per_device,
           (unsigned long long)r.finished);
    afd_workload_free(w);
    return 0;
}

int main(int argc, char **argv)
{
    const struct afd_profile *p = afd_profile_builtin("paper-v1-fit");
    unsigned long long steps = 2000000;
    struct afd_gen g;
    char err[AFD_ERR_LEN];
    int rc;

    if (argc > 1 && !strcmp(argv[1], "--smoke"))
        steps = 20000;
    else if (argc > 1) {
        fprintf(stderr, "usage: bench-sim [--smoke]\n");
        return 2;
    }
    if (!p) {
        fprintf(stderr, "bench-sim: built-in profile paper-v1-fit missing\n");
        return 1;
    }
    if (afd_gen_parse("geometric:prompt=100,decode=500", &g, err)) {
        fprintf(stderr, "bench-sim: %s\n", err);
        return 1;
    }
    printf("bench-sim: target >= 2e9 slot-steps/s on one core\n");
    rc = bench(p, &g, steps, 0) || bench(p, &g, steps, 1);
    afd_gen_release(&g);
    return rc;
}
