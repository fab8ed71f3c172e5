/*
 * bench_registry.c - speed of the daemon's telemetry state (plugin/registry).
 *
 * Prints one line per figure, "<name> <value>":
 *     registry_add_step_ns        afd_registry_add_step, known instance,
 *                                 stage times set (two calibrator updates)
 *     registry_add_step_bare_ns   the same without stage times (validation,
 *                                 lookups, table update only)
 *     registry_steps_per_s        1e9 / registry_add_step_ns
 *     registry_tick_us            afd_registry_tick (expiry + recompute with
 *                                 the barrier solve) of one deployment
 * with 1000 Attention instances round-robin in one deployment (the tick
 * with --instances). Each figure is the median of five repetitions.
 * --smoke runs tiny counts (CI checks the program runs, not the timings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry.h"
#include "plugin/sys/os.h"

#define REPEATS 5
#define N_IDS   1000

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

static double median(double *v)
{
    qsort(v, REPEATS, sizeof(*v), cmp_double);
    return v[REPEATS / 2];
}

/* ns per add_step over n calls; with_times sets the stage times. */
static double time_steps(struct afd_registry *reg, char ids[][16], long n,
                         int with_times)
{
    struct afd_step_sample s;
    double t0;
    long i;

    memset(&s, 0, sizeof(s));
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    t0 = (double)afd_clock_mono_ns();
    for (i = 0; i < n; i++) {
        s.instance_id = ids[i % N_IDS];
        s.token_load = 60000 + (double)(i & 4095) * 16;
        s.attention_ms = with_times ? 2 + 5e-5 * s.token_load : 0;
        s.comm_ms = with_times ? 0.6 : 0;
        if (afd_registry_add_step(reg, "bench", &s, 1000, NULL) !=
            AFD_REJECT_NONE) {
            fprintf(stderr, "bench-registry: step rejected\n");
            exit(1);
        }
    }
    return ((double)afd_clock_mono_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
    int smoke = argc > 1 && !strcmp(argv[1], "--smoke");
    long n = smoke ? 20000 : 5000000;
    double step[REPEATS], bare[REPEATS], tick[REPEATS], t0;
    static char ids[N_IDS][16];
    struct afd_config cfg;
    struct afd_registry *reg;
    char err[AFD_ERR_LEN];
    int i, r;

    afd_config_default(&cfg);
    reg = afd_registry_new(&cfg, err);
    if (!reg) {
        fprintf(stderr, "bench-registry: %s\n", err);
        return 1;
    }
    for (i = 0; i < N_IDS; i++)
        snprintf(ids[i], sizeof(ids[i]), "attn-%04d", i);
    for (i = 0; i < 200; i++)
        afd_registry_add_request(reg, "bench", 100 + i, 1 + i * 3, NULL);
    time_steps(reg, ids, N_IDS, 1); /* warm: every instance known */
    for (r = 0; r < REPEATS; r++) {
        step[r] = time_steps(reg, ids, n, 1);
        bare[r] = time_steps(reg, ids, n, 0);
        t0 = (double)afd_clock_mono_ns();
        afd_registry_tick(reg, 2000);
        tick[r] = ((double)afd_clock_mono_ns() - t0) / 1e3;
    }
    printf("registry_add_step_ns %.1f\n", median(step));
    printf("registry_add_step_bare_ns %.1f\n", median(bare));
    printf("registry_steps_per_s %.3g\n", 1e9 / step[REPEATS / 2]);
    printf("registry_tick_us %.1f\n", median(tick));
    if (!afd_deployment_recommendation(afd_registry_find(reg, "bench"))
             ->valid) {
        fprintf(stderr, "bench-registry: recommendation not valid\n");
        return 1;
    }
    afd_registry_free(reg);
    afd_config_release(&cfg);
    return 0;
}
