/* fuzz_util.c - see fuzz_util.h. */
#include "integration/fuzz/fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char g_path[128];

static void remove_file(void)
{
    if (g_path[0])
        unlink(g_path);
}

const char *afd_fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    FILE *f;

    if (!g_path[0]) {
        /* pid in the name: ctest runs the targets in parallel. tmpfs when
         * there is one: a disk-backed /tmp halves the executions per s. */
        snprintf(g_path, sizeof(g_path), "%s/afd-fuzz-%ld%s",
                 access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
                 (long)getpid(), suffix);
        atexit(remove_file);
    }
    f = fopen(g_path, "wb");
    if (!f)
        return NULL;
    if (size && fwrite(data, 1, size, f) != size) {
        fclose(f);
        return NULL;
    }
    if (fclose(f) != 0)
        return NULL;
    return g_path;
}

char *afd_fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);

    if (!s)
        return NULL;
    if (size)
        memcpy(s, data, size);
    s[size] = '\0';
    return s;
}
