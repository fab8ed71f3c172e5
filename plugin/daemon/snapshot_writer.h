/*
 * snapshot_writer.h - periodic snapshots without blocking the loop.
 *
 * The loop encodes the registry (afd_snapshot_encode: it reads loop-owned
 * state) and hands the bytes to one writer thread, which does the part
 * whose time depends on the disk: write, fsync, rename, fsync the
 * directory (afd_snapshot_write). Measured by bench-registry on this
 * project's 2-core machine, 256 deployments x 40 instances: encoding holds
 * the loop 13.5 ms (about 1.3 us per instance row), the whole save 16 ms
 * on local disk; a slow or network disk adds to the write only, which no
 * longer delays a controller decision.
 *
 * At most one write is in flight: a submit while the previous one runs is
 * skipped and counted (the next period brings a newer state anyway). A
 * failed write (full disk, permissions) keeps the old file, is logged once
 * per distinct message on stderr, counted and kept as last_error; the
 * daemon keeps serving.
 *
 * Threads: submit, stats and free on the loop thread; the writer thread
 * touches only the bytes it was handed. afd_snapshot_writer_free waits
 * for the write in flight, so the daemon's final synchronous save comes
 * after it.
 */
#ifndef AFD_SNAPSHOT_WRITER_H
#define AFD_SNAPSHOT_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "plugin/daemon/registry.h"

struct afd_snapshot_writer;

struct afd_snapshot_writer_stats {
    uint64_t written;  /* writes completed */
    uint64_t failed;   /* writes that failed (old file kept) */
    uint64_t skipped;  /* submits while a write was in flight */
    bool busy;         /* a write is in flight now */
    char last_error[256]; /* "" when the latest write succeeded */
};

/* NULL with the reason in err (thread or memory). path is copied. */
struct afd_snapshot_writer *afd_snapshot_writer_new(const char *path,
                                                    char *err);
/* Waits for the write in flight, stops the thread. NULL ok. */
void afd_snapshot_writer_free(struct afd_snapshot_writer *w);

/*
 * Encodes reg now and queues the write. AFD_OK (queued), AFD_ESTATE (a
 * write is still in flight: skipped), AFD_ENOMEM (encoding failed).
 */
int afd_snapshot_writer_submit(struct afd_snapshot_writer *w,
                               struct afd_registry *reg, char *err);

void afd_snapshot_writer_stats(struct afd_snapshot_writer *w,
                               struct afd_snapshot_writer_stats *out);

/* Waits until no write is in flight (before the final synchronous save). */
void afd_snapshot_writer_drain(struct afd_snapshot_writer *w);

#endif
