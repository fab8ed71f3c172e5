/*
 * cli.h - the afd-sizer subcommands.
 *
 * Each subcommand parses its own flags from argv (argv[0] is the subcommand
 * name) and returns the process exit status (AFD_EXIT_*, plugin/sys/os.h):
 *     0  success
 *     1  a runtime failure (I/O, a peer, a bug in our environment)
 *     2  bad usage or bad input (unknown flag, malformed value, unreadable
 *        or empty trace, invalid profile) - the message says which
 * Errors go to stderr as one line "afd-sizer <cmd>: <what failed>"; results
 * go to stdout.
 */
#ifndef AFD_CLI_H
#define AFD_CLI_H

#include "plugin/demo/demo.h"
#include "plugin/sys/os.h"

int afd_cmd_solve(int argc, char **argv);
int afd_cmd_theta(int argc, char **argv);
int afd_cmd_serve(int argc, char **argv);
int afd_cmd_profile(int argc, char **argv);
/* afd_cmd_demo: plugin/demo/demo.h */

#endif
