/*
 * test_snapshot_writer.c - periodic snapshots written off the loop
 * (plugin/daemon/snapshot_writer.h): a queued write lands as a file that
 * restores to the same recommendation; a failing write (no such directory,
 * as a full disk would) keeps the old file, is counted, keeps its message
 * and does not stop later writes elsewhere.
 */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "estimator/base/error.h"
#include "plugin/daemon/config.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/snapshot.h"
#include "plugin/daemon/snapshot_writer.h"

static struct afd_registry *filled(struct afd_config *cfg)
{
    struct afd_step_sample s;
    struct afd_registry *reg;
    char err[AFD_ERR_LEN], id[16];
    int i;

    afd_config_default(cfg);
    reg = afd_registry_new(cfg, err);
    assert_non_null(reg);
    memset(&s, 0, sizeof(s));
    s.role = AFD_ROLE_ATTENTION;
    s.batch_size = 256;
    s.attention_ms = 5;
    for (i = 0; i < 4; i++) {
        snprintf(id, sizeof(id), "a%d", i);
        s.instance_id = id;
        s.token_load = 600.0 * 256 + i;
        assert_int_equal(afd_registry_add_step(reg, "llama", &s, 1000, NULL),
                         AFD_REJECT_NONE);
    }
    afd_registry_tick(reg, 2000);
    return reg;
}

static void test_write_lands_and_restores(void **state)
{
    struct afd_config cfg, cfg2;
    struct afd_registry *reg = filled(&cfg), *back;
    struct afd_snapshot_writer_stats st;
    struct afd_snapshot_writer *w;
    char path[512], err[AFD_ERR_LEN];

    snprintf(path, sizeof(path), "%s/w.snap", afd_test_tmpdir());
    w = afd_snapshot_writer_new(path, err);
    assert_non_null(w);
    assert_int_equal(afd_snapshot_writer_submit(w, reg, err), AFD_OK);
    afd_snapshot_writer_drain(w);
    afd_snapshot_writer_stats(w, &st);
    assert_int_equal(st.written, 1);
    assert_int_equal(st.failed, 0);
    assert_false(st.busy);
    assert_string_equal(st.last_error, "");

    afd_config_default(&cfg2);
    back = afd_registry_new(&cfg2, err);
    assert_int_equal(afd_snapshot_restore(back, NULL, path, err), AFD_OK);
    assert_true(
        afd_deployment_recommendation(afd_registry_find(reg, "llama"))->valid);
    assert_true(afd_deployment_recommendation(afd_registry_find(back, "llama"))
                    ->solution.r_star ==
                afd_deployment_recommendation(afd_registry_find(reg, "llama"))
                    ->solution.r_star);
    afd_snapshot_writer_free(w);
    afd_registry_free(back);
    afd_registry_free(reg);
    afd_config_release(&cfg2);
    afd_config_release(&cfg);
}

static void test_failed_write_is_reported(void **state)
{
    struct afd_config cfg;
    struct afd_registry *reg = filled(&cfg);
    struct afd_snapshot_writer_stats st;
    struct afd_snapshot_writer *w;
    char path[512], err[AFD_ERR_LEN];

    snprintf(path, sizeof(path), "%s/no-such-dir/w.snap", afd_test_tmpdir());
    w = afd_snapshot_writer_new(path, err);
    assert_non_null(w);
    assert_int_equal(afd_snapshot_writer_submit(w, reg, err), AFD_OK);
    afd_snapshot_writer_drain(w);
    afd_snapshot_writer_stats(w, &st);
    assert_int_equal(st.written, 0);
    assert_int_equal(st.failed, 1);
    afd_assert_contains(st.last_error, "no-such-dir/w.snap.tmp");
    afd_assert_contains(st.last_error, "No such file or directory");
    /* It keeps going: the next period tries again. */
    assert_int_equal(afd_snapshot_writer_submit(w, reg, err), AFD_OK);
    afd_snapshot_writer_drain(w);
    afd_snapshot_writer_stats(w, &st);
    assert_int_equal(st.failed, 2);
    afd_snapshot_writer_free(w);
    afd_registry_free(reg);
    afd_config_release(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_write_lands_and_restores),
        cmocka_unit_test(test_failed_write_is_reported),
    };

    return cmocka_run_group_tests(tests, afd_test_tmpdir_setup,
                                  afd_test_tmpdir_teardown);
}
