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
 *     snapshot_encode_ms          afd_snapshot_encode of a full registry
 *                                 (256 deployments x 40 instances): what a
 *                                 periodic snapshot costs the loop thread
 *     snapshot_save_ms            afd_snapshot_save of the same (on the
 *     snapshot_save_max_ms        file system of $TMPDIR or /tmp): encode,
 *                                 write, fsync, rename; the write part runs
 *                                 on the snapshot writer's thread
 *                                 (plugin/daemon/snapshot_writer.h)
 * with 1000 Attention instances round-robin in one deployment (the tick
 * with --instances). Each figure is the median of five repetitions.
 * --smoke runs tiny counts (CI checks the program runs, not the timings).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/snapshot.h"
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

/* Median and max ms of afd_snapshot_save over REPEATS saves of a registry
 * of n_deps deployments with n_inst Attention instances each. */
static int time_snapshot(int n_deps, int n_inst, double *enc, double *med,
                         double *max)
{
    struct afd_step_sample s;
    struct afd_config cfg;
    struct afd_registry *reg;
    char dir[256], path[300], name[32], id[32], err[AFD_ERR_LEN];
    const char *tmp = getenv("TMPDIR");
    double ms[REPEATS], t0;
    int d, i, r, rc = 0;

    snprintf(dir, sizeof(dir), "%s/afd-bench-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir))
        return -1;
    snprintf(path, sizeof(path), "%s/afd.snap", dir);
    afd_config_default(&cfg);
    reg = afd_registry_new(&cfg, err);
    if (!reg)
        return -1;
    memset(&s, 0, sizeof(s));
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    s.attention_ms = 5;
    s.comm_ms = 0.6;
    for (d = 0; d < n_deps; d++) {
        snprintf(name, sizeof(name), "dep-%03d", d);
        for (i = 0; i < n_inst; i++) {
            snprintf(id, sizeof(id), "attn-%03d", i);
            s.instance_id = id;
            s.token_load = 60000 + 100.0 * i;
            afd_registry_add_step(reg, name, &s, 1000, NULL);
        }
        for (i = 0; i < 50; i++)
            afd_registry_add_request(reg, name, 100 + i, 1 + i * 3, NULL);
    }
    afd_registry_tick(reg, 2000);
    for (r = 0; r < REPEATS && !rc; r++) {
        uint8_t *buf = NULL;
        size_t len = 0;

        t0 = (double)afd_clock_mono_ns();
        rc = afd_snapshot_encode(reg, &buf, &len, err);
        ms[r] = ((double)afd_clock_mono_ns() - t0) / 1e6;
        free(buf);
    }
    qsort(ms, REPEATS, sizeof(ms[0]), cmp_double);
    *enc = ms[REPEATS / 2];
    for (r = 0; r < REPEATS && !rc; r++) {
        t0 = (double)afd_clock_mono_ns();
        rc = afd_snapshot_save(reg, path, err);
        ms[r] = ((double)afd_clock_mono_ns() - t0) / 1e6;
    }
    if (rc)
        fprintf(stderr, "bench-registry: snapshot: %s\n", err);
    unlink(path);
    rmdir(dir);
    afd_registry_free(reg);
    afd_config_release(&cfg);
    if (rc)
        return -1;
    qsort(ms, REPEATS, sizeof(ms[0]), cmp_double);
    *med = ms[REPEATS / 2];
    *max = ms[REPEATS - 1];
    return 0;
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
    if (time_snapshot(smoke ? 8 : 256, 40, &tick[1], &t0, &tick[0]))
        return 1;
    printf("snapshot_encode_ms %.2f\n", tick[1]);
    printf("snapshot_save_ms %.2f\n", t0);
    printf("snapshot_save_max_ms %.2f\n", tick[0]);
    return 0;
}
