/*
 * demo.h - `afd-sizer demo`, the main job: a scenario run through the real
 * daemon and a simulated deployment beside offline policies (cmd_demo.c).
 * The orchestrator talks to its children through processes and JSON only,
 * so this floor links no daemon or gRPC code.
 */
#ifndef AFD_DEMO_H
#define AFD_DEMO_H

/* argv[0] is "demo"; returns an AFD_EXIT_* status (plugin/sys/os.h). */
int afd_cmd_demo(int argc, char **argv);

#endif
