/*
 * snapshot.h - saving and restoring every deployment's learned state.
 *
 * A snapshot is one protobuf message (proto/afd_snapshot.proto) holding, per
 * deployment, the workload estimator state, the calibration state and the
 * instance table, enough that the recommendation right after a restart is
 * the one before it. Saving is atomic: write path.tmp, fsync it, rename over
 * path, fsync the directory. A crash mid-save leaves the old snapshot.
 */
#ifndef AFD_SNAPSHOT_H
#define AFD_SNAPSHOT_H

#include "plugin/daemon/registry.h"

/* AFD_EIO on any file error (err names the path and errno text). */
int afd_snapshot_save(struct afd_registry *reg, const char *path,
                      char *err);

/*
 * Restores into reg (deployments are created as needed, even if
 * auto-create is off: they were known before). AFD_ENOTFOUND when path does
 * not exist (a first start, not an error), AFD_EPARSE when the file is
 * corrupt or inconsistent - then nothing is restored and the caller should
 * keep the file aside (the daemon renames it to path.corrupt) and start
 * fresh.
 */
int afd_snapshot_restore(struct afd_registry *reg, const char *path,
                         char *err);

#endif
