/*
 * fuzz_keda.c - externalscaler.ExternalScaler (ScaledObjectRef,
 * GetMetricsRequest) requests after telemetry from the same input.
 */
#include "integration/fuzz/fuzz_svc.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const afd_fuzz_methods_fn fns[] = {afd_svc_telemetry_methods,
                                              afd_svc_keda_methods, NULL};

    afd_fuzz_svc_run(fns, data, size);
    return 0;
}
