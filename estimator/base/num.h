/*
 * num.h - strict text-to-number parsing for flags, config values and file
 * fields. The whole string must be the number: "12x", "", "nan" and values
 * out of range are errors, never silently truncated.
 *
 * Pure (libc only), thread-safe. Part of the base floor: every layer may use
 * it.
 */
#ifndef AFD_NUM_H
#define AFD_NUM_H

/*
 * Parses the whole of s as a finite double / a base-10 long. Returns AFD_OK
 * or AFD_EPARSE with "<what> must be a number, got '<s>'" in err; *out is
 * untouched on error.
 */
int afd_parse_double(const char *s, const char *what, double *out, char *err);
int afd_parse_long(const char *s, const char *what, long *out, char *err);

#endif
