/*
 * fuzz_config.c - the daemon's configuration file (plugin/daemon/config.h,
 * Dynamo section included): load over the defaults, then ask for every
 * deployment's effective settings as the daemon does at start.
 */
#include <string.h>

#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = afd_fuzz_file(data, size, ".json");
    struct afd_config cfg;
    struct afd_deployment_config dc;
    char err[AFD_ERR_LEN];
    size_t i;

    if (!path)
        return 0;
    afd_config_default(&cfg);
    if (afd_config_load_file(&cfg, path, err) == AFD_OK) {
        for (i = 0; i < cfg.n_deployments; i++)
            afd_config_deployment(&cfg, cfg.deployments[i].name, &dc);
        afd_config_deployment(&cfg, "not-configured", &dc);
    } else if (!memchr(err, '\0', sizeof(err)) || !err[0]) {
        __builtin_trap(); /* a failure must say why */
    }
    afd_config_release(&cfg);
    return 0;
}
