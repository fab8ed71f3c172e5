/*
 * main.c - afd-sizer: dispatches to one subcommand (plugin/cli/cli.h).
 */
#include <stdio.h>
#include <string.h>

#include "plugin/cli/cli.h"

struct afd_subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct afd_subcommand subcommands[] = {
    {"solve", afd_cmd_solve,
     "optimal Attention/FFN ratio and bottleneck for a profile and workload"},
    {"theta", afd_cmd_theta,
     "workload statistics theta and sigma of a request trace"},
    {"profile", afd_cmd_profile,
     "list, show or fit (from measured stage times) hardware profiles"},
    {"serve", afd_cmd_serve,
     "run the daemon: telemetry in, recommendations out (gRPC, HTTP)"},
    {"demo", afd_cmd_demo,
     "run a scenario through the daemon and a simulated deployment"},
};

#define N_SUBCOMMANDS (sizeof(subcommands) / sizeof(subcommands[0]))

static void usage(FILE *out)
{
    size_t i;

    fprintf(out, "usage: afd-sizer <command> [options]\n\ncommands:\n");
    for (i = 0; i < N_SUBCOMMANDS; i++)
        fprintf(out, "  %-8s %s\n", subcommands[i].name,
                subcommands[i].summary);
    fprintf(out, "\nafd-sizer <command> --help shows a command's options.\n");
}

int main(int argc, char **argv)
{
    size_t i;

    if (argc < 2) {
        usage(stderr);
        return AFD_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        !strcmp(argv[1], "help")) {
        usage(stdout);
        return AFD_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("afd-sizer %s\n", AFD_VERSION);
        return AFD_EXIT_OK;
    }
    for (i = 0; i < N_SUBCOMMANDS; i++)
        if (!strcmp(argv[1], subcommands[i].name))
            return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "afd-sizer: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return AFD_EXIT_USAGE;
}
