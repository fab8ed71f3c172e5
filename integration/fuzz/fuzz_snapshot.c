/*
 * fuzz_snapshot.c - snapshot restore (plugin/daemon/snapshot.h) from a
 * file, into a fresh registry. A restored registry must encode again and
 * restore from its own encoding (what we trust, we can write back).
 *
 * Input: [mode u8][rest]. Odd mode: rest is the file as is (the envelope,
 * its version and hash are fuzzed). Even mode: rest is the Snapshot body,
 * wrapped here in a SnapshotFile with version 1 and the right FNV-1a hash,
 * so that the fuzzer reaches the body's checks behind the integrity check.
 */
#include <stdlib.h>

#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/snapshot.h"
#include "proto/afd_snapshot.pb-c.h"

/* The same FNV-1a 64 as plugin/daemon/snapshot.c (the file format's). */
static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    while (n--) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }
    return h;
}

static const char *write_input(const uint8_t *data, size_t size)
{
    Afd__Sizer__Snapshot__V1__SnapshotFile env =
        AFD__SIZER__SNAPSHOT__V1__SNAPSHOT_FILE__INIT;
    const char *path;
    uint8_t *file;
    size_t n;

    if (!size)
        return afd_fuzz_file(data, size, ".snap");
    if (data[0] & 1)
        return afd_fuzz_file(data + 1, size - 1, ".snap");
    env.version = 1;
    env.body.data = (uint8_t *)data + 1;
    env.body.len = size - 1;
    env.body_hash = fnv1a(data + 1, size - 1);
    n = afd__sizer__snapshot__v1__snapshot_file__get_packed_size(&env);
    file = malloc(n);
    if (!file)
        return NULL;
    afd__sizer__snapshot__v1__snapshot_file__pack(&env, file);
    path = afd_fuzz_file(file, n, ".snap");
    free(file);
    return path;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = write_input(data, size);
    struct afd_config cfg;
    struct afd_registry *reg, *again;
    char err[AFD_ERR_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc;

    if (!path)
        return 0;
    afd_config_default(&cfg);
    reg = afd_registry_new(&cfg, err);
    if (!reg)
        goto out;
    rc = afd_snapshot_restore(reg, NULL, path, err);
    if (rc == AFD_OK && afd_snapshot_encode(reg, &buf, &len, err) == AFD_OK) {
        path = afd_fuzz_file(buf, len, ".snap");
        again = afd_registry_new(&cfg, err);
        if (path && again && afd_snapshot_restore(again, NULL, path, err) != AFD_OK)
            __builtin_trap(); /* our own encoding refused */
        afd_registry_free(again);
        free(buf);
    } else if (rc != AFD_OK && !err[0]) {
        __builtin_trap(); /* a failure must say why */
    }
    afd_registry_free(reg);
out:
    afd_config_release(&cfg);
    return 0;
}
