/*
 * scenario_cli.h - the `afd-sim scenario` subcommand (scenario_cli.c):
 * options, policy dispatch (policy_run.h offline, live.h closed loop) and
 * output. Exit codes as afd-sim: 0 ok, 1 runtime failure, 2 bad usage.
 */
#ifndef AFD_SIM_SCENARIO_CLI_H
#define AFD_SIM_SCENARIO_CLI_H

/* argv[0] is "scenario". */
int afd_scenario_main(int argc, char **argv);

#endif
