/*
 * snapshot.h - saving and restoring every deployment's learned state.
 *
 * A snapshot is one protobuf message (proto/afd_snapshot.proto) holding, per
 * deployment, the workload estimator state, the calibration state, the
 * instance table, the controller's state (control.h: the id sequence,
 * the command in flight, cooldown and backoff) and the sizing's history
 * (moved by us, a shift seen), enough that the recommendation right after
 * a restart is the one before it and no command id is reused. The same
 * bytes replicate the state to HA followers. Saving is atomic: write
 * path.tmp, fsync it, rename over path, fsync the directory. A crash
 * mid-save leaves the old snapshot.
 */
#ifndef AFD_SNAPSHOT_H
#define AFD_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "plugin/daemon/registry.h"

struct afd_control;

/*
 * The snapshot's file bytes (malloc'd into *out, caller frees), on the
 * registry's thread. AFD_ENOMEM. About 1.3 us per instance row
 * (bench-registry: 13.5 ms for 256 deployments x 40 instances).
 */
int afd_snapshot_encode(struct afd_registry *reg, uint8_t **out, size_t *len,
                        char *err);

/*
 * Writes encoded bytes to path atomically as above, from any thread (it
 * touches no registry). AFD_EIO on any file error (err names the path and
 * the errno text, e.g. "No space left on device"); the old file is kept.
 */
int afd_snapshot_write(const char *path, const uint8_t *buf, size_t len,
                       char *err);

/* Encode and write, on the registry's thread (tests, the final save). */
int afd_snapshot_save(struct afd_registry *reg, const char *path, char *err);

/*
 * Restores into reg (deployments are created as needed, even if
 * auto-create is off: they were known before). AFD_ENOTFOUND when path does
 * not exist (a first start, not an error), AFD_EPARSE when the file is
 * corrupt or inconsistent - then nothing is restored and the caller should
 * keep the file aside (the daemon renames it to path.corrupt) and start
 * fresh.
 */
int afd_snapshot_restore(struct afd_registry *reg, struct afd_control *ctl,
                         const char *path, char *err);

/* The same from encoded bytes (an HA follower's copy of the leader's
 * state): AFD_EPARSE (nothing restored) or AFD_ENOMEM. ctl may be NULL
 * (controller state not restored). Restoring over existing deployments
 * replaces their learned state. */
int afd_snapshot_restore_bytes(struct afd_registry *reg,
                               struct afd_control *ctl, const uint8_t *buf,
                               size_t len, char *err);

#endif
