/*
 * os.h - what the plugin asks of the operating system, in one place:
 * process exit codes, clocks, whether progress lines may be shown, the
 * bounded whole-file reader behind the profile, trace, scenario and config
 * loaders, and the owner-thread check behind the loop-thread rules.
 *
 * The lowest plugin floor (plugin/sys): it uses only libc, pthreads and
 * estimator/base. Every function is thread-safe.
 */
#ifndef AFD_OS_H
#define AFD_OS_H

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Exit status of every afd-* program. */
#define AFD_EXIT_OK      0
#define AFD_EXIT_FAILURE 1 /* runtime failure: I/O, a peer, our environment */
#define AFD_EXIT_USAGE   2 /* bad usage or bad input; the message says which */

/* Room for a "HOST:PORT" listen or peer address, NUL included. */
#define AFD_ADDR_LEN 256

/* CLOCK_MONOTONIC in ms / s (intervals, deadlines); CLOCK_REALTIME in ms
 * (timestamps shown to people and peers). */
int64_t afd_clock_mono_ms(void);
int64_t afd_clock_mono_ns(void);
double afd_clock_mono_s(void);
int64_t afd_clock_wall_ms(void);

/* The absolute time ms from now on clock (CLOCK_REALTIME or
 * CLOCK_MONOTONIC), for pthread_cond_timedwait; ms >= 0. */
struct timespec afd_timespec_after_ms(clockid_t clock, int64_t ms);

/*
 * Epoch ms that never jump: the wall clock read once (first call) advanced
 * by CLOCK_MONOTONIC. The daemon's controller, liveness and ack clocks use
 * it, so a wall clock set an hour forward or back (NTP step, operator)
 * fires no dwell, cooldown, ack timeout, expiry or alert debounce early and
 * stalls none. Drifts from the wall clock only by such steps. Thread-safe.
 */
int64_t afd_clock_steady_wall_ms(void);

/* Test only: shifts what afd_clock_wall_ms returns by offset ms (a wall
 * clock jump); 0 restores it. */
void afd_clock_test_wall_offset_ms(int64_t offset);

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

/*
 * Owner-thread check: a module whose state belongs to one thread (the
 * daemon's loop) claims it once that thread runs, and its entry points
 * assert AFD_ASSERT_OWNER. Unclaimed owners accept any thread (unit tests
 * that drive a module without a loop). Compiled out with NDEBUG.
 */
struct afd_owner {
    pthread_t thread;
    bool claimed;
};

void afd_owner_claim(struct afd_owner *o);
bool afd_owner_is_current(const struct afd_owner *o);
#define AFD_ASSERT_OWNER(o) assert(afd_owner_is_current(o))

#endif
