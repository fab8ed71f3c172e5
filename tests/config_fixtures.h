/*
 * config_fixtures.h - the per-test fixture shared by test_config.c and
 * test_config_controller.c: a default struct afd_config and a temp file the
 * test writes JSON into before afd_config_load_file. Header-only, static
 * inline: include from one test file each.
 */
#ifndef AFD_CONFIG_FIXTURES_H
#define AFD_CONFIG_FIXTURES_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "plugin/daemon/config.h"
#include "tests/afd_test.h"

struct config_fixture {
    struct afd_config cfg;
    char path[64];
};

/* cmocka per-test setup: defaults in cfg, an empty temp file at path. */
static inline int config_setup(void **state)
{
    struct config_fixture *f = calloc(1, sizeof(*f));
    int fd;

    assert_non_null(f);
    afd_config_default(&f->cfg);
    snprintf(f->path, sizeof(f->path), "/tmp/afd-test-config-XXXXXX");
    fd = mkstemp(f->path);
    assert_true(fd >= 0);
    close(fd);
    *state = f;
    return 0;
}

static inline int config_teardown(void **state)
{
    struct config_fixture *f = *state;

    unlink(f->path);
    afd_config_release(&f->cfg);
    free(f);
    return 0;
}

/* Replaces the temp file's content with text. */
static inline void write_file(const struct config_fixture *f, const char *text)
{
    FILE *fp = fopen(f->path, "w");

    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

#endif
