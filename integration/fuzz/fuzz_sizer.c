/*
 * fuzz_sizer.c - afd.sizer.v1.Sizer (GetRecommendation, Solve, AckCommand,
 * ...) requests, after telemetry from the same input so that deployments
 * exist and recommendations are computed.
 */
#include "integration/fuzz/fuzz_svc.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const afd_fuzz_methods_fn fns[] = {afd_svc_telemetry_methods,
                                              afd_svc_sizer_methods, NULL};

    afd_fuzz_svc_run(fns, data, size);
    return 0;
}
