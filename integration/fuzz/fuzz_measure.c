/*
 * fuzz_measure.c - the measurement CSV of `afd-sizer profile`
 * (plugin/io/measure_csv.h).
 */
#include "estimator/base/error.h"
#include "integration/fuzz/fuzz_util.h"
#include "plugin/io/measure_csv.h"

#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = afd_fuzz_cstr(data, size);
    struct afd_measure_set s;
    char err[AFD_ERR_LEN];

    if (!text)
        return 0;
    if (afd_measure_parse(text, "fuzz.csv", &s, err) == AFD_OK)
        afd_measure_set_free(&s);
    else if (!err[0])
        __builtin_trap(); /* a failure must say why */
    free(text);
    return 0;
}
