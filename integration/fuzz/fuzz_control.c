/*
 * fuzz_control.c - grpc.health.v1.Health and afd.sizer.v1 control streams
 * (WatchCommands, WatchAlerts, AckCommand) and the Dynamo planner's
 * Propose, after telemetry from the same input.
 */
#include "integration/fuzz/fuzz_svc.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const afd_fuzz_methods_fn fns[] = {
        afd_svc_telemetry_methods, afd_svc_health_methods,
        afd_svc_control_methods, afd_svc_dynamo_methods, NULL};

    afd_fuzz_svc_run(fns, data, size);
    return 0;
}
