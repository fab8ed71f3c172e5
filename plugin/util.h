/*
 * util.h - small helpers shared by the plugin's commands: strict number
 * parsing for flags and config values, whether stderr is a terminal
 * (progress lines are shown only there), and the bounded whole-file reader
 * behind the profile, trace and config loaders.
 */
#ifndef AFD_UTIL_H
#define AFD_UTIL_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Parses the whole of s as a finite double / a base-10 long. Returns AFD_OK
 * or AFD_EPARSE with "<what> must be a number, got '<s>'" in err.
 */
int afd_parse_double(const char *s, const char *what, double *out, char *err);
int afd_parse_long(const char *s, const char *what, long *out, char *err);

/* True when stderr is a terminal (and not CI): show progress lines. */
bool afd_progress_enabled(void);

/*
 * Reads the regular file at path whole into a malloc'd, NUL-terminated
 * buffer (*out, caller frees; *len excludes the NUL). fstat gives the size
 * up front, so a directory or pipe is refused rather than read to an unknown
 * length. Returns AFD_OK, or with *out untouched and a message starting with
 * "<path>: " in err:
 *   AFD_EIO     cannot open, not a regular file, read error or file shrank;
 *   AFD_EEMPTY  the file has no bytes;
 *   AFD_ENOMEM  larger than max_bytes, or out of memory.
 */
int afd_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                  char *err);

#endif
