/*
 * fuzz_scenario.c - simulator scenario JSON (integration/sim/scenario.h),
 * loaded from a file as `afd-sim --scenario` does.
 */
#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_util.h"
#include "integration/sim/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = afd_fuzz_file(data, size, ".json");
    struct afd_scenario s;
    char err[AFD_ERR_LEN];

    if (!path)
        return 0;
    if (afd_scenario_load(path, &s, err) == AFD_OK) {
        (void)afd_scenario_duration_s(&s);
        afd_scenario_release(&s);
    } else if (!err[0]) {
        __builtin_trap(); /* a failure must say why */
    }
    return 0;
}
