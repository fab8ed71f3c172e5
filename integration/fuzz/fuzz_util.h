/*
 * fuzz_util.h - helpers shared by the libFuzzer targets in integration/fuzz/
 * (built only with clang and -DAFD_FUZZ=ON, integration/fuzz.cmake).
 *
 * Owns: one temporary file per process for the targets whose decoder reads
 * a path (config, profile, scenario, snapshot, traces), and a NUL-terminated
 * copy of the input for the decoders that take C strings.
 * Threads: libFuzzer runs one input at a time on one thread.
 * Errors: a helper that cannot do its job (disk full, out of memory) returns
 * NULL and the target skips the input - that is no finding.
 */
#ifndef AFD_FUZZ_UTIL_H
#define AFD_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Writes data to this process's temp file (suffix e.g. ".json") and returns
 * its path, or NULL. The file is removed at exit. */
const char *afd_fuzz_file(const uint8_t *data, size_t size, const char *suffix);

/* A malloc'd NUL-terminated copy of data (free it), or NULL. */
char *afd_fuzz_cstr(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
