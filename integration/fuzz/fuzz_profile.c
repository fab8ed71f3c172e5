/*
 * fuzz_profile.c - profile JSON (plugin/io/profile_json.h), from a file as
 * `afd-sizer --profile-file` and the config loader read it. An accepted
 * profile must survive a round trip through afd_profile_to_json.
 */
#include <jansson.h>
#include <string.h>

#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/io/profile_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = afd_fuzz_file(data, size, ".json");
    struct afd_profile p, q;
    char err[AFD_ERR_LEN];
    json_t *j;

    if (!path)
        return 0;
    if (afd_profile_load_file(path, &p, err) != AFD_OK) {
        if (!err[0])
            __builtin_trap(); /* a failure must say why */
        return 0;
    }
    j = afd_profile_to_json(&p);
    if (!j)
        return 0;
    /* What we accepted and print, we accept again. */
    if (afd_profile_from_json(j, &q, err) != AFD_OK)
        __builtin_trap();
    json_decref(j);
    return 0;
}
