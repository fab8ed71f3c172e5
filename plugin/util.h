/*
 * util.h - small helpers shared by the plugin's commands: strict number
 * parsing for flags and config values, and whether stderr is a terminal
 * (progress lines are shown only there).
 */
#ifndef AFD_UTIL_H
#define AFD_UTIL_H

#include <stdbool.h>

/*
 * Parses the whole of s as a finite double / a base-10 long. Returns AFD_OK
 * or AFD_EPARSE with "<what> must be a number, got '<s>'" in err.
 */
int afd_parse_double(const char *s, const char *what, double *out, char *err);
int afd_parse_long(const char *s, const char *what, long *out, char *err);

/* True when stderr is a terminal (and not CI): show progress lines. */
bool afd_progress_enabled(void);

#endif
