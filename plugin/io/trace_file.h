/*
 * trace_file.h - reading a request trace file into a struct afd_trace.
 *
 * Reads the whole file and hands it to afd_trace_parse (estimator/trace.h),
 * which recognises the format by content. Release with afd_trace_release.
 * afd_trace_stats turns a loaded trace into theta and sigma (no forgetting),
 * the one place the CLI commands share for that.
 *
 * Nothing here keeps state; every function is reentrant.
 */
#ifndef AFD_TRACE_FILE_H
#define AFD_TRACE_FILE_H

#include <stddef.h>

#include "estimator/trace.h"
#include "estimator/workload.h"

/* Largest trace file read whole, bytes. */
#define AFD_TRACE_MAX_BYTES ((size_t)512 * 1024 * 1024)

/*
 * AFD_EIO when the file cannot be opened or read (a directory included),
 * AFD_EEMPTY for an empty file, AFD_ENOMEM above AFD_TRACE_MAX_BYTES,
 * otherwise as afd_trace_parse. err starts with the path. On failure *out
 * is released (safe to release again).
 */
int afd_trace_load(const char *path, struct afd_trace *out, char *err);

/*
 * theta, sigma, mean prompt and decode of every request of t, by the joint
 * renewal-reward sums of estimator/workload.h with no forgetting. AFD_EEMPTY
 * when t holds no request, AFD_EINVAL for an impossible length, AFD_ENOMEM.
 */
int afd_trace_stats(const struct afd_trace *t, struct afd_workload_stats *out,
                    char *err);

#endif
