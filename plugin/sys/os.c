/*
 * os.c - clocks, terminal detection, the bounded whole-file reader and the
 * owner-thread check (plugin/sys/os.h).
 */
#include "plugin/sys/os.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"

bool afd_progress_enabled(void)
{
    const char *ci = getenv("CI");

    if (ci && *ci && *ci != '0')
        return false;
    return isatty(STDERR_FILENO) != 0;
}

int afd_read_file(const char *path, size_t max_bytes, char **out, size_t *len,
                  char *err)
{
    struct stat st;
    char *buf = NULL;
    FILE *f;
    size_t n;
    int rc;

    f = fopen(path, "rb");
    if (!f)
        return afd_err(err, AFD_EIO, "%s: cannot open: %s", path,
                       strerror(errno));
    if (fstat(fileno(f), &st) < 0 || !S_ISREG(st.st_mode)) {
        rc = afd_err(err, AFD_EIO, "%s: not a regular file", path);
        goto close_file;
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        rc = afd_err(err, AFD_ENOMEM, "%s: larger than %zu bytes", path,
                     max_bytes);
        goto close_file;
    }
    if (st.st_size == 0) {
        rc = afd_err(err, AFD_EEMPTY, "%s: file is empty", path);
        goto close_file;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        rc = afd_err(err, AFD_ENOMEM, "%s: out of memory", path);
        goto close_file;
    }
    n = fread(buf, 1, (size_t)st.st_size, f);
    if (n != (size_t)st.st_size) {
        rc = afd_err(err, AFD_EIO, "%s: read failed: %s", path,
                     ferror(f) ? strerror(errno) : "file shrank");
        free(buf);
        goto close_file;
    }
    fclose(f);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return AFD_OK;

close_file:
    fclose(f);
    return rc;
}

int64_t afd_clock_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct timespec afd_timespec_after_ms(clockid_t clock, int64_t ms)
{
    struct timespec ts;

    clock_gettime(clock, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

int64_t afd_clock_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

double afd_clock_mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int64_t g_wall_offset_ms; /* test hook: a simulated clock jump */

int64_t afd_clock_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 +
           __atomic_load_n(&g_wall_offset_ms, __ATOMIC_RELAXED);
}

void afd_clock_test_wall_offset_ms(int64_t offset)
{
    __atomic_store_n(&g_wall_offset_ms, offset, __ATOMIC_RELAXED);
}

static pthread_once_t g_steady_once = PTHREAD_ONCE_INIT;
static int64_t g_steady_base_ms; /* wall - mono at the first call */

static void steady_init(void)
{
    g_steady_base_ms = afd_clock_wall_ms() - afd_clock_mono_ms();
}

int64_t afd_clock_steady_wall_ms(void)
{
    pthread_once(&g_steady_once, steady_init);
    return g_steady_base_ms + afd_clock_mono_ms();
}

void afd_owner_claim(struct afd_owner *o)
{
    o->thread = pthread_self();
    o->claimed = true;
}

bool afd_owner_is_current(const struct afd_owner *o)
{
    return !o->claimed || pthread_equal(o->thread, pthread_self());
}
