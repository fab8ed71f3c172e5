/*
 * test_demo_proc.c - the demo's child processes: spawn with stdout on a
 * pipe and stderr in a log, reap, stop (SIGTERM, then SIGKILL), file tail
 * and work dir removal. Children are /bin/sh one-liners.
 */
#include "tests/afd_test.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/demo/demo_proc.h"

struct fixture {
    char dir[64];
    char log[128];
    struct afd_demo_child c;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/afd-test-proc-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->log, sizeof(f->log), "%s/child.stderr", f->dir);
    afd_demo_child_init(&f->c, "child", true);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    afd_demo_child_stop(&f->c, 100);
    afd_demo_child_release(&f->c);
    afd_demo_remove_dir(f->dir, NULL);
    free(f);
    return 0;
}

static void spawn_sh(struct fixture *f, const char *script)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    char err[AFD_ERR_LEN] = "";

    if (afd_demo_child_spawn(&f->c, argv, f->log, err) != AFD_OK)
        fail_msg("spawn failed: %s", err);
}

/* Reads and reaps until the child has exited and closed stdout (10 s). */
static void run_to_end(struct fixture *f)
{
    struct timespec ts = {0, 5000000};
    char err[AFD_ERR_LEN] = "";
    int i;

    for (i = 0; i < 2000; i++) {
        if (afd_demo_child_read(&f->c, err) != AFD_OK)
            fail_msg("read failed: %s", err);
        if (afd_demo_child_reap(&f->c) && f->c.out_fd < 0)
            return;
        nanosleep(&ts, NULL);
    }
    fail_msg("child did not finish within 10 s");
}

/* ensure spawn captures stdout, logs stderr and reports the exit status */
static void test_afd_demo_child_spawn_captures_output(void **state)
{
    struct fixture *f = *state;
    char tail[256];

    spawn_sh(f, "echo out-line; echo err-line >&2; exit 3");
    run_to_end(f);
    assert_string_equal(f->c.out, "out-line\n");
    assert_int_equal(f->c.out_len, 9);
    assert_int_equal(afd_demo_child_exit_code(&f->c), 3);
    afd_demo_file_tail(f->log, tail, sizeof(tail));
    assert_string_equal(tail, "err-line\n");
}

/* ensure a child without keep_output drains its pipe but stores nothing */
static void test_afd_demo_child_read_discards(void **state)
{
    struct fixture *f = *state;

    f->c.keep_output = false;
    spawn_sh(f, "head -c 200000 /dev/zero; exit 0");
    run_to_end(f);
    assert_null(f->c.out);
    assert_int_equal(f->c.out_len, 0);
    assert_int_equal(afd_demo_child_exit_code(&f->c), 0);
}

/* ensure an exec failure shows as status 127 with a line in the log */
static void test_afd_demo_child_spawn_exec_failure(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"/nonexistent/afd-sim", NULL};
    char err[AFD_ERR_LEN] = "", tail[256];

    assert_int_equal(afd_demo_child_spawn(&f->c, argv, f->log, err), AFD_OK);
    run_to_end(f);
    assert_int_equal(afd_demo_child_exit_code(&f->c), 127);
    afd_demo_file_tail(f->log, tail, sizeof(tail));
    assert_non_null(strstr(tail, "exec failed"));
}

/* ensure spawn fails with the path when the log cannot be opened */
static void test_afd_demo_child_spawn_bad_log(void **state)
{
    struct fixture *f = *state;
    char *argv[] = {"/bin/true", NULL};
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(
        afd_demo_child_spawn(&f->c, argv, "/nonexistent/dir/log", err),
        AFD_EIO);
    assert_non_null(strstr(err, "cannot open log '/nonexistent/dir/log'"));
    assert_int_equal(f->c.pid, 0);
}

/* ensure stop ends a running child with SIGTERM within the grace time */
static void test_afd_demo_child_stop_sigterm(void **state)
{
    struct fixture *f = *state;

    spawn_sh(f, "exec sleep 30");
    assert_true(afd_demo_child_stop(&f->c, 5000));
    assert_true(f->c.exited);
    assert_int_equal(afd_demo_child_exit_code(&f->c), 128 + SIGTERM);
}

/* ensure stop falls back to SIGKILL when SIGTERM is ignored */
static void test_afd_demo_child_stop_sigkill(void **state)
{
    struct fixture *f = *state;
    struct timespec ts = {0, 100000000};

    spawn_sh(f, "trap '' TERM; echo armed; while :; do sleep 1; done");
    while (!f->c.out || !strstr(f->c.out, "armed")) { /* trap is set */
        assert_int_equal(afd_demo_child_read(&f->c, NULL), AFD_OK);
        nanosleep(&ts, NULL);
    }
    assert_false(afd_demo_child_stop(&f->c, 200));
    assert_true(f->c.exited);
    assert_int_equal(afd_demo_child_exit_code(&f->c), 128 + SIGKILL);
}

/* ensure the tail keeps only whole lines when the file is cut */
static void test_afd_demo_file_tail_whole_lines(void **state)
{
    struct fixture *f = *state;
    char path[160], tail[12];
    FILE *out;

    snprintf(path, sizeof(path), "%s/t.txt", f->dir);
    out = fopen(path, "w");
    assert_non_null(out);
    fputs("first line\nsecond\nthird\n", out);
    fclose(out);
    afd_demo_file_tail(path, tail, sizeof(tail)); /* last 11 bytes */
    assert_string_equal(tail, "third\n");
}

/* ensure the tail of a missing file is empty */
static void test_afd_demo_file_tail_missing(void **state)
{
    char tail[32] = "x";

    afd_demo_file_tail("/nonexistent/file", tail, sizeof(tail));
    assert_string_equal(tail, "");
}

/* ensure remove_dir removes the files and the dir */
static void test_afd_demo_remove_dir_removes(void **state)
{
    struct fixture *f = *state;
    char path[160];
    struct stat st;
    FILE *out;

    snprintf(path, sizeof(path), "%s/a.json", f->dir);
    out = fopen(path, "w");
    assert_non_null(out);
    fclose(out);
    assert_int_equal(afd_demo_remove_dir(f->dir, NULL), AFD_OK);
    assert_int_equal(stat(f->dir, &st), -1);
    assert_int_equal(afd_demo_remove_dir(f->dir, NULL), AFD_OK); /* gone */
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_afd_demo_child_spawn_captures_output),
        T(test_afd_demo_child_read_discards),
        T(test_afd_demo_child_spawn_exec_failure),
        T(test_afd_demo_child_spawn_bad_log),
        T(test_afd_demo_child_stop_sigterm),
        T(test_afd_demo_child_stop_sigkill),
        T(test_afd_demo_file_tail_whole_lines),
        T(test_afd_demo_file_tail_missing),
        T(test_afd_demo_remove_dir_removes),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
