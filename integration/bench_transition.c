/*
 * bench_transition.c - what the moves after a workload shift cost: one
 * phase of a scenario, the fleet starting at x0 in the previous phase's
 * stationary state (as policy_run.h's offline segments start), resized by a
 * fixed schedule, throughput per device of the phase printed per schedule.
 *
 *   bench-transition [--smoke] [--scenario FILE --phase K --from X0
 *                    SCHEDULE...]
 *   SCHEDULE: "T:X,T:X,..." (resize to X at T simulated s after the
 *   shift; "-" for none, i.e. x0 all phase)
 *
 * Without a scenario it runs the README's case: the default scenario's
 * shift to short chat (phase 2) from 97 instances, resized to 30 at 0, 5,
 * 9 and 14 s, and the static 30 (its own stationary start) for reference:
 * the cost of each second of reaction and of the requests handed back.
 * Figures are printed, never asserted; --smoke runs 2 schedules.
 * The simulation is deterministic (the scenario's seed): same figures on
 * every run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "integration/sim/fleet.h"
#include "integration/sim/policy_run.h"
#include "integration/sim/scenario.h"
#include "plugin/sys/os.h"

#define MAX_MOVES 16

struct schedule {
    int n;
    double at_s[MAX_MOVES];
    long x[MAX_MOVES];
};

static int parse_schedule(const char *s, struct schedule *out, char *err)
{
    const char *p = s;

    memset(out, 0, sizeof(*out));
    if (!strcmp(s, "-"))
        return AFD_OK;
    while (*p) {
        char *end;
        double at = strtod(p, &end);
        long x;

        if (end == p || *end != ':' || out->n == MAX_MOVES)
            return afd_err(err, AFD_EINVAL,
                           "schedule '%s': want T:X[,T:X...] (at most %d)", s,
                           MAX_MOVES);
        p = end + 1;
        x = strtol(p, &end, 10);
        if (end == p || x < 1 || at < 0 || (*end && *end != ','))
            return afd_err(err, AFD_EINVAL,
                           "schedule '%s': want T:X with T >= 0, X >= 1", s);
        out->at_s[out->n] = at;
        out->x[out->n++] = x;
        p = *end ? end + 1 : end;
    }
    return AFD_OK;
}

/* Phase k's throughput per device from x0 under the schedule. */
static int run(const struct afd_scenario *s, size_t k, long x0,
               const struct schedule *sc, double *tput, char *err)
{
    const struct afd_scenario_phase *ph = &s->phases[k], *pp = ph - 1;
    struct afd_fleet_phase cur = {&ph->gen, ph->batch, ph->ffn,
                                  afd_scenario_phase_seed(s->seed, k),
                                  afd_scenario_phase_start_s(s, k)};
    struct afd_fleet_phase prev = {&pp->gen, pp->batch, pp->ffn,
                                   afd_scenario_phase_seed(s->seed, k - 1),
                                   afd_scenario_phase_start_s(s, k - 1)};
    long cap_x = x0, cap_b = pp->batch > ph->batch ? pp->batch : ph->batch;
    struct afd_sim_step_info info;
    struct afd_fleet_totals t;
    struct afd_fleet *f;
    int i = 0, rc;

    for (int j = 0; j < sc->n; j++)
        if (sc->x[j] > cap_x)
            cap_x = sc->x[j];
    f = afd_fleet_new(&s->profile, cap_x, cap_b, err);
    if (!f)
        return AFD_ENOMEM;
    afd_fleet_set_hardware(f, &s->hw);
    rc = afd_fleet_set_phase(f, &prev, err);
    if (!rc)
        rc = afd_fleet_start(f, x0, err);
    if (!rc)
        rc = afd_fleet_set_phase(f, &cur, err);
    afd_fleet_totals(f, &t);
    while (!rc && t.time_ms < ph->duration_s * 1000.0) {
        while (!rc && i < sc->n && t.time_ms >= sc->at_s[i] * 1000.0)
            rc = afd_fleet_resize(f, sc->x[i++], err);
        afd_fleet_step(f, &info);
        afd_fleet_totals(f, &t);
    }
    *tput = t.tokens / t.device_ms;
    afd_fleet_free(f);
    return rc;
}

/* <dir of this exe>/../../integration/scenarios/default.json (a build
 * directory inside the source tree), else the same path from the working
 * directory (an out-of-tree build; ctest runs the smoke run from the
 * source tree). */
static void default_scenario(char *out, size_t n)
{
    char exe[4096];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    char *slash;

    exe[len > 0 ? len : 0] = '\0';
    slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    snprintf(out, n, "%s/../../integration/scenarios/default.json", exe);
    if (access(out, R_OK) != 0)
        snprintf(out, n, "integration/scenarios/default.json");
}

int main(int argc, char **argv)
{
    static const char *readme[] = {"0:30", "5:30", "9:30", "14:30"};
    static struct afd_scenario s;
    char err[AFD_ERR_LEN], path[4200];
    const char *scen = NULL;
    const char **scheds = readme;
    long x0 = 97, phase = 1;
    int n = 4, i, smoke = 0, rc = AFD_EXIT_OK;
    double ref = 0, v;
    struct schedule sc;

    for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
        if (!strcmp(argv[i], "--smoke")) {
            smoke = 1;
        } else if (i + 1 < argc && !strcmp(argv[i], "--scenario")) {
            scen = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--phase")) {
            phase = strtol(argv[++i], NULL, 10);
        } else if (i + 1 < argc && !strcmp(argv[i], "--from")) {
            x0 = strtol(argv[++i], NULL, 10);
        } else {
            fprintf(stderr, "usage: bench-transition [--smoke] [--scenario F "
                            "--phase K --from X0 T:X[,T:X...]...]\n");
            return AFD_EXIT_USAGE;
        }
    }
    if (i < argc) {
        scheds = (const char **)(argv + i);
        n = argc - i;
    }
    if (smoke && n > 2)
        n = 2;
    if (!scen) {
        default_scenario(path, sizeof(path));
        scen = path;
    }
    if (afd_scenario_load(scen, &s, err)) {
        fprintf(stderr, "bench-transition: %s\n", err);
        return AFD_EXIT_USAGE;
    }
    if (phase < 1 || (size_t)phase >= s.n_phases || x0 < 1) {
        fprintf(stderr,
                "bench-transition: --phase must be 1..%zu (a shift "
                "into it) and --from >= 1\n",
                s.n_phases - 1);
        afd_scenario_release(&s);
        return AFD_EXIT_USAGE;
    }
    printf("phase %ld (%s), from %ld instances; throughput per device "
           "(tokens/ms/device)\n",
           phase + 1, s.phases[phase].name, x0);
    for (i = 0; i < n && rc == AFD_EXIT_OK; i++) {
        if (parse_schedule(scheds[i], &sc, err) ||
            run(&s, (size_t)phase, x0, &sc, &v, err)) {
            fprintf(stderr, "bench-transition: %s\n", err);
            rc = AFD_EXIT_FAILURE;
            break;
        }
        if (i == 0)
            ref = v;
        printf("  %-28s %8.4f  %+6.2f%% vs the first\n", scheds[i], v,
               100 * (v / ref - 1));
        /* The static reference: the last move's x, started there. */
        if (i == n - 1 && sc.n > 0) {
            struct schedule none = {0, {0}, {0}};

            if (run(&s, (size_t)phase, sc.x[sc.n - 1], &none, &v, err)) {
                fprintf(stderr, "bench-transition: %s\n", err);
                rc = AFD_EXIT_FAILURE;
                break;
            }
            printf("  static %-21ld %8.4f  %+6.2f%% vs the first\n",
                   sc.x[sc.n - 1], v, 100 * (v / ref - 1));
        }
    }
    afd_scenario_release(&s);
    return rc;
}
