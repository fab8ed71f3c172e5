/*
 * measure_csv.h - measured stage times for `afd-sizer profile fit`.
 *
 * The file is CSV with the header `stage,tokens,ms` and one measurement per
 * line: stage is attention, communication or ffn; tokens is the x of that
 * stage's affine model (model.md section 2); ms the measured time. Blank
 * lines and lines starting with '#' are skipped; CRLF is accepted. Any other
 * deviation is AFD_EPARSE with "PATH:LINE:COL: ..." in err (COL 1-based, in
 * characters) so the user can jump to it. Single-threaded; the result is
 * malloc'd and owned by the caller (afd_measure_set_free).
 */
#ifndef AFD_MEASURE_CSV_H
#define AFD_MEASURE_CSV_H

#include <stddef.h>

#include "estimator/fit.h"

struct afd_measure_set {
    struct afd_fit_point *pts[AFD_STAGE_COUNT]; /* per enum afd_stage */
    size_t n[AFD_STAGE_COUNT];
};

/* Parses text (NUL-terminated); path only names the source in messages. */
int afd_measure_parse(const char *text, const char *path,
                      struct afd_measure_set *out, char *err);

/* Reads and parses the file at path (at most 64 MiB). */
int afd_measure_load(const char *path, struct afd_measure_set *out, char *err);

void afd_measure_set_free(struct afd_measure_set *s);

#endif
