/*
 * fuzz_trace.c - every trace format (estimator/trace.h: Azure CSV,
 * processed CSV, Mooncake JSON lines; auto-detected) through the file
 * loader (plugin/io/trace_file.h) and the workload statistics built on it.
 */
#include "estimator/base/error.h"
#include "estimator/trace.h"
#include "estimator/workload.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/io/trace_file.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = afd_fuzz_file(data, size, ".trace");
    struct afd_trace t;
    struct afd_workload_stats ws;
    char err[AFD_ERR_LEN];
    size_t i;

    if (!path)
        return 0;
    if (afd_trace_load(path, &t, err) != AFD_OK) {
        if (!err[0])
            __builtin_trap(); /* a failure must say why */
        return 0;
    }
    for (i = 0; i < t.n; i++)
        if (!(t.decode[i] >= 1) || !(t.prompt[i] >= 0))
            __builtin_trap(); /* the parser promised decode >= 1 */
    (void)afd_trace_stats(&t, &ws, err);
    afd_trace_release(&t);
    return 0;
}
