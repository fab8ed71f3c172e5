/*
 * fuzz_telemetry.c - afd.sizer.v1.Telemetry/Report: TelemetryBatch bytes
 * through protobuf-c unpack, the service's validation and the registry
 * (and the controller evaluations accepted steps trigger).
 */
#include "integration/fuzz/fuzz_svc.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const afd_fuzz_methods_fn fns[] = {afd_svc_telemetry_methods, NULL};

    afd_fuzz_svc_run(fns, data, size);
    return 0;
}
