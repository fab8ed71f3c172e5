/* test_snapshot.c - saving and restoring the registry's learned state. */
#include "tests/afd_test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry.h"
#include "plugin/daemon/registry_internal.h"
#include "plugin/daemon/snapshot.h"
#include "proto/afd_snapshot.pb-c.h"

struct fixture {
    struct afd_config cfg;
    struct afd_registry *reg;   /* with learned state */
    struct afd_registry *fresh; /* empty, same config */
    char dir[64];
    char path[96];
};

/* splitmix64, fixed seed: varied but reproducible telemetry. */
static uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double uniform(uint64_t *s, double lo, double hi)
{
    return lo + (hi - lo) * (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void feed(struct afd_registry *reg, const char *dep)
{
    uint64_t seed = 42;
    struct afd_step_sample s;
    char id[16];
    int i, k;

    for (k = 0; k < 200; k++) {
        for (i = 0; i < 6; i++) {
            memset(&s, 0, sizeof(s));
            snprintf(id, sizeof(id), "%s%d", i < 4 ? "a" : "f", i);
            s.instance_id = id;
            s.role = i < 4 ? AFD_ROLE_ATTENTION : AFD_ROLE_FFN;
            if (i < 4) {
                s.batch_size = 256;
                s.token_load = uniform(&seed, 60000, 140000);
                s.attention_ms = 2 + 5e-5 * s.token_load;
                s.comm_ms = uniform(&seed, 0.5, 0.7);
            } else {
                s.ffn_tokens = uniform(&seed, 400, 600);
                s.ffn_ms = 1 + 0.002 * s.ffn_tokens;
            }
            assert_int_equal(afd_registry_add_step(reg, dep, &s, 1000, NULL),
                             0);
        }
    }
    for (k = 0; k < 80; k++)
        afd_registry_add_request(reg, dep, uniform(&seed, 0, 400),
                                 1 + (int)uniform(&seed, 0, 900), NULL);
    afd_registry_tick(reg, 2000);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    afd_config_default(&f->cfg);
    snprintf(f->dir, sizeof(f->dir), "/tmp/afd-snap-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/state.snap", f->dir);
    /* Both registries read f->cfg: learn with auto-create, then turn it
     * off to show restore creates deployments regardless. */
    f->cfg.auto_create_deployments = true;
    f->reg = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->reg);
    feed(f->reg, "prod");
    feed(f->reg, "canary");
    f->cfg.auto_create_deployments = false;
    f->fresh = afd_registry_new(&f->cfg, NULL);
    assert_non_null(f->fresh);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    char p[128];

    afd_registry_free(f->reg);
    afd_registry_free(f->fresh);
    unlink(f->path);
    snprintf(p, sizeof(p), "%s.tmp", f->path);
    unlink(p);
    rmdir(f->dir);
    free(f);
    return 0;
}

static void save_ok(struct fixture *f)
{
    char err[AFD_ERR_LEN] = "";

    if (afd_snapshot_save(f->reg, f->path, err) != AFD_OK)
        fail_msg("save: %s", err);
}

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    assert_true(fwrite(p, 1, n, fp) == n);
    fclose(fp);
}

/* ensure a restored registry gives the identical recommendation and
 * calibration report */
static void test_snapshot_round_trip_identical(void **state)
{
    struct fixture *f = *state;
    const char *names[] = {"prod", "canary"};
    const struct afd_recommendation *a, *b;
    double ma[AFD_REGIME_COUNT], mb[AFD_REGIME_COUNT];
    char err[AFD_ERR_LEN] = "";
    int i, k;

    save_ok(f);
    if (afd_snapshot_restore(f->fresh, NULL, f->path, err) != AFD_OK)
        fail_msg("restore: %s", err);
    assert_int_equal(afd_registry_count(f->fresh), 2);
    for (k = 0; k < 2; k++) {
        struct afd_deployment *da = afd_registry_find(f->reg, names[k]);
        struct afd_deployment *db = afd_registry_find(f->fresh, names[k]);

        assert_non_null(db);
        a = afd_deployment_recompute(da, 2000);
        b = afd_deployment_recompute(db, 2000);
        assert_true(a->valid && b->valid);
        /* Live rows are restored: theta from their loads (the tracker
         * needs no history), sigma from the restored requests. */
        assert_int_equal(a->theta_source, AFD_THETA_LIVE_LOADS);
        assert_int_equal(b->theta_source, AFD_THETA_LIVE_LOADS);
        assert_true(b->has_sigma);
        assert_true(b->requests == a->requests);
        assert_close(a->theta, b->theta, 0, 1e-12);
        assert_close(a->sigma, b->sigma, 0, 1e-12);
        assert_close(a->solution.r_star, b->solution.r_star, 0, 1e-12);
        assert_close(a->solution.r_star_barrier, b->solution.r_star_barrier, 0,
                     1e-12);
        assert_int_equal(a->target_attention_instances,
                         b->target_attention_instances);
        assert_int_equal(a->attention_instances, b->attention_instances);
        assert_int_equal(b->attention_instances, 4);
        assert_int_equal(b->ffn_instances, 2);
        assert_close(a->expected_gain, b->expected_gain, 1e-12, 1e-9);
        assert_true(a->load_spread == b->load_spread);
        for (i = 0; i < AFD_COEF_COUNT; i++) {
            assert_close(a->calib.value[i], b->calib.value[i], 0, 1e-12);
            assert_int_equal(a->calib.calibrated[i], b->calib.calibrated[i]);
        }
        for (i = 0; i < 3; i++)
            assert_true(a->calib.samples[i] == b->calib.samples[i]);
        assert_true(b->calib.samples[0] == 800);
        /* 800 attention samples over 60k..140k tokens do calibrate aA. */
        assert_true(b->calib.calibrated[AFD_COEF_AA]);
        assert_true(afd_deployment_observed_stage_ms(db, mb));
        afd_deployment_observed_stage_ms(da, ma);
        for (i = 0; i < AFD_REGIME_COUNT; i++)
            assert_true(ma[i] == mb[i]);
    }
}

/* ensure save leaves no temporary file behind */
static void test_snapshot_save_no_tmp_left(void **state)
{
    struct fixture *f = *state;
    char p[128];

    save_ok(f);
    save_ok(f); /* over an existing file */
    snprintf(p, sizeof(p), "%s.tmp", f->path);
    assert_int_equal(access(p, F_OK), -1);
    assert_int_equal(access(f->path, R_OK), 0);
}

/* ensure save into a missing directory is AFD_EIO naming the path */
static void test_snapshot_save_bad_dir_eio(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_snapshot_save(f->reg, "/nonexistent/dir/s.snap", err),
                     AFD_EIO);
    assert_non_null(strstr(err, "/nonexistent/dir/s.snap"));
}

/* ensure a missing file is AFD_ENOTFOUND (a first start) */
static void test_snapshot_restore_missing_notfound(void **state)
{
    struct fixture *f = *state;
    char err[AFD_ERR_LEN];

    assert_int_equal(afd_snapshot_restore(f->fresh, NULL, f->path, err),
                     AFD_ENOTFOUND);
    assert_non_null(strstr(err, f->path));
}

/* Restores a modified copy of the saved file and expects AFD_EPARSE with
 * needle in the message and nothing restored. */
static void expect_corrupt(struct fixture *f, const char *needle)
{
    char err[AFD_ERR_LEN] = "";

    assert_int_equal(afd_snapshot_restore(f->fresh, NULL, f->path, err),
                     AFD_EPARSE);
    if (!strstr(err, needle))
        fail_msg("message '%s' does not contain '%s'", err, needle);
    assert_int_equal(afd_registry_count(f->fresh), 0);
}

/* ensure one flipped byte is detected and nothing is restored */
static void test_snapshot_restore_flipped_byte_eparse(void **state)
{
    struct fixture *f = *state;
    size_t n;
    char *buf;

    save_ok(f);
    buf = afd_test_read_file(f->path, &n);
    buf[n / 2] ^= 0x20;
    write_bytes(f->path, buf, n);
    free(buf);
    expect_corrupt(f, f->path);
}

/* ensure a truncated file is detected and nothing is restored */
static void test_snapshot_restore_truncated_eparse(void **state)
{
    struct fixture *f = *state;
    size_t n;
    char *buf;

    save_ok(f);
    buf = afd_test_read_file(f->path, &n);
    write_bytes(f->path, buf, n - 7);
    free(buf);
    expect_corrupt(f, "snapshot");
}

/* ensure an empty file and garbage are AFD_EPARSE */
static void test_snapshot_restore_garbage_eparse(void **state)
{
    struct fixture *f = *state;

    write_bytes(f->path, "", 0);
    expect_corrupt(f, "snapshot");
    write_bytes(f->path, "{\"not\": \"a snapshot\"}", 21);
    expect_corrupt(f, "snapshot");
}

/* Rewrites the saved file after edit() changed the decoded body. */
static void rewrite(struct fixture *f,
                    void (*edit)(Afd__Sizer__Snapshot__V1__Snapshot *))
{
    Afd__Sizer__Snapshot__V1__SnapshotFile *env,
        out = AFD__SIZER__SNAPSHOT__V1__SNAPSHOT_FILE__INIT;
    Afd__Sizer__Snapshot__V1__Snapshot *snap;
    uint8_t *body, *file;
    uint64_t h = 1469598103934665603ULL;
    size_t n, i;
    char *buf;

    save_ok(f);
    buf = afd_test_read_file(f->path, &n);
    env = afd__sizer__snapshot__v1__snapshot_file__unpack(NULL, n,
                                                          (uint8_t *)buf);
    assert_non_null(env);
    snap = afd__sizer__snapshot__v1__snapshot__unpack(NULL, env->body.len,
                                                      env->body.data);
    assert_non_null(snap);
    edit(snap);
    n = afd__sizer__snapshot__v1__snapshot__get_packed_size(snap);
    body = malloc(n);
    afd__sizer__snapshot__v1__snapshot__pack(snap, body);
    for (i = 0; i < n; i++) { /* FNV-1a, as documented in the .proto */
        h ^= body[i];
        h *= 1099511628211ULL;
    }
    out.version = 1;
    out.body.data = body;
    out.body.len = n;
    out.body_hash = h;
    n = afd__sizer__snapshot__v1__snapshot_file__get_packed_size(&out);
    file = malloc(n);
    afd__sizer__snapshot__v1__snapshot_file__pack(&out, file);
    write_bytes(f->path, file, n);
    free(file);
    free(body);
    afd__sizer__snapshot__v1__snapshot__free_unpacked(snap, NULL);
    afd__sizer__snapshot__v1__snapshot_file__free_unpacked(env, NULL);
    free(buf);
}

static void negative_weight_in_second(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->deployments[1]->workload->weight = -1;
}

/* ensure a well-formed file with an invalid second deployment restores
 * nothing, not even the valid first one */
static void test_snapshot_restore_invalid_state_nothing(void **state)
{
    struct fixture *f = *state;

    rewrite(f, negative_weight_in_second);
    expect_corrupt(f, "deployment 1");
    assert_null(afd_registry_find(f->fresh, "prod"));
}

static void bad_utf8_name_in_second(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->deployments[1]->name[0] = (char)0xff;
}

/* ensure a deployment name that could not be created (invalid UTF-8)
 * fails the checks before anything is applied */
static void test_snapshot_restore_bad_name_nothing(void **state)
{
    struct fixture *f = *state;

    rewrite(f, bad_utf8_name_in_second);
    expect_corrupt(f, "UTF-8");
}

static void duplicate_instance(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    Afd__Sizer__Snapshot__V1__Deployment *d = s->deployments[0];

    d->instances[1]->id[0] = d->instances[0]->id[0];
    d->instances[1]->id[1] = d->instances[0]->id[1];
}

/* ensure duplicate instance ids are rejected */
static void test_snapshot_restore_duplicate_instance(void **state)
{
    rewrite(*state, duplicate_instance);
    expect_corrupt(*state, "twice");
}

static void bad_calib(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->deployments[0]->calibration->stages[2]->n_cov = 3;
}

/* ensure an incomplete calibration state is rejected */
static void test_snapshot_restore_incomplete_calib(void **state)
{
    rewrite(*state, bad_calib);
    expect_corrupt(*state, "calibration");
}

static void version_two(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->version = 2;
}

/* ensure an unknown body version is rejected */
static void test_snapshot_restore_unknown_version(void **state)
{
    rewrite(*state, version_two);
    expect_corrupt(*state, "version");
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

/* A controller state with command 6 (3 -> 5, epoch 42) in flight. */
static struct afd_control_saved saved_in_flight(void)
{
    struct afd_control_saved s;

    memset(&s, 0, sizeof(s));
    s.policy.next_id = 7;
    s.policy.in_flight = true;
    s.policy.pending.id = 6;
    s.policy.pending.current = 3;
    s.policy.pending.target = 5;
    s.policy.pending.ffn = 1;
    s.policy.pending.issued_ms = 1500;
    snprintf(s.policy.pending.reason, sizeof(s.policy.pending.reason),
             "attention-bound");
    s.policy.backoff_until = 900;
    s.policy.last_now = 2000;
    s.has_issued = true;
    s.last_issued.cmd = s.policy.pending;
    s.last_issued.leader_epoch = 42;
    s.acked_target = 3;
    return s;
}

/* ensure the controller state survives a save and restore: ids continue,
 * the command in flight is offered again with its epoch and accepts one
 * ack (a restart or a new HA leader neither reuses an id nor loses it) */
static void test_snapshot_control_state_round_trip(void **state)
{
    struct fixture *f = *state;
    struct afd_control *a = afd_control_new(&f->cfg, f->reg, NULL);
    struct afd_control *b = afd_control_new(&f->cfg, f->fresh, NULL);
    struct afd_control_saved in = saved_in_flight(), out;
    struct afd_control_command cc;
    struct afd_deployment *d;
    char err[AFD_ERR_LEN] = "";

    assert_non_null(a);
    assert_non_null(b);
    /* control-level fields are checked before anything is created */
    out = in;
    out.last_issued.cmd.id = 7;
    assert_int_equal(afd_control_saved_check(&out, err), AFD_EINVAL);
    assert_non_null(strstr(err, "last command 7 is not below next id 7"));
    assert_int_equal(
        afd_control_import(a, afd_registry_find(f->reg, "prod"), &out, err),
        AFD_EINVAL);
    assert_non_null(strstr(err, "saved control state of 'prod'"));
    assert_false(afd_control_export(afd_registry_find(f->reg, "prod"), &out));
    out = in;
    out.acked_target = -1;
    assert_int_equal(afd_control_saved_check(&out, err), AFD_EINVAL);
    assert_non_null(strstr(err, "acked target -1"));
    assert_int_equal(
        afd_control_import(a, afd_registry_find(f->reg, "prod"), &in, err),
        AFD_OK);
    save_ok(f);
    if (afd_snapshot_restore(f->fresh, b, f->path, err) != AFD_OK)
        fail_msg("restore: %s", err);
    d = afd_registry_find(f->fresh, "prod");
    assert_non_null(d);
    assert_true(afd_control_export(d, &out));
    assert_int_equal(out.policy.next_id, 7);
    assert_true(out.policy.in_flight);
    assert_int_equal(out.policy.pending.id, 6);
    assert_int_equal(out.policy.pending.target, 5);
    assert_int_equal(out.policy.pending.issued_ms, 1500);
    assert_string_equal(out.policy.pending.reason, "attention-bound");
    assert_int_equal(out.policy.backoff_until, 900);
    assert_int_equal(out.acked_target, 3);
    assert_int_equal(afd_control_last_command_id(b, d), 6);
    assert_true(afd_control_in_flight(b, d, &cc));
    assert_int_equal(cc.cmd.id, 6);
    assert_int_equal(cc.leader_epoch, 42);
    /* "canary" was never evaluated: no state saved, none restored */
    assert_false(
        afd_control_export(afd_registry_find(f->fresh, "canary"), &out));
    assert_int_equal(afd_control_ack(b, d, 6, true, NULL, 2500, err), AFD_OK);
    assert_int_equal(afd_control_ack(b, d, 6, true, NULL, 2600, err),
                     AFD_ESTATE);
    assert_int_equal(afd_control_ack(b, d, 7, true, NULL, 2600, err),
                     AFD_ENOTFOUND);
    afd_control_free(a);
    afd_control_free(b);
}

/* ensure the comm mode the deployment's own moves identified survives a
 * save and restore (a new leader would otherwise hedge again until the
 * next move), and an older snapshot without it starts from the prior */
static void test_snapshot_comm_mode_round_trip(void **state)
{
    struct fixture *f = *state;
    struct afd_deployment *a = afd_registry_find(f->reg, "prod"), *b;
    char err[AFD_ERR_LEN] = "";

    afd_comm_mode_observe(&a->comm, 256, 68 * 256, 17.908);
    afd_comm_mode_observe(&a->comm, 256, 20 * 256, 5.62);
    assert_true(a->comm.identified && a->comm.mode == AFD_COMM_AGGREGATE);
    save_ok(f);
    if (afd_snapshot_restore(f->fresh, NULL, f->path, err) != AFD_OK)
        fail_msg("restore: %s", err);
    b = afd_registry_find(f->fresh, "prod");
    assert_non_null(b);
    assert_true(b->comm.identified && b->comm.mode == AFD_COMM_AGGREGATE);
    assert_true(b->comm.slope == a->comm.slope &&
                b->comm.intercept == a->comm.intercept &&
                b->comm.ref_rb == a->comm.ref_rb &&
                b->comm.tests == a->comm.tests && b->comm.tests >= 1);
    assert_true(afd_deployment_recompute(b, 2000)->comm_mode_identified);
    /* "canary" never moved: nothing identified, its prior's mode */
    b = afd_registry_find(f->fresh, "canary");
    assert_false(b->comm.identified);
    assert_int_equal(b->comm.mode, b->cfg.profile.comm_mode);
}

static void comm_mode_dropped(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    size_t i;

    for (i = 0; i < s->n_deployments; i++) {
        afd__sizer__snapshot__v1__comm_mode_state__free_unpacked(
            s->deployments[i]->comm_mode, NULL);
        s->deployments[i]->comm_mode = NULL;
    }
}

static void comm_mode_unknown(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->deployments[0]->comm_mode->mode = 9;
}

static void comm_mode_bad_ref(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    s->deployments[1]->comm_mode->have_ref = true;
    s->deployments[1]->comm_mode->ref_b = -2;
}

/* ensure a snapshot without comm mode state (an older one) restores with
 * the trackers at their priors, and one the tracker refuses restores
 * nothing */
static void test_snapshot_restore_comm_mode_absent_or_bad(void **state)
{
    struct fixture *f = *state;
    struct afd_deployment *d = afd_registry_find(f->reg, "prod");
    char err[AFD_ERR_LEN] = "";

    afd_comm_mode_observe(&d->comm, 256, 68 * 256, 17.908);
    afd_comm_mode_observe(&d->comm, 256, 20 * 256, 5.62);
    rewrite(f, comm_mode_dropped);
    if (afd_snapshot_restore(f->fresh, NULL, f->path, err) != AFD_OK)
        fail_msg("restore: %s", err);
    d = afd_registry_find(f->fresh, "prod");
    assert_non_null(d);
    assert_false(d->comm.identified);
    afd_registry_free(f->fresh);
    f->fresh = afd_registry_new(&f->cfg, err);
    assert_non_null(f->fresh);
    rewrite(f, comm_mode_bad_ref);
    expect_corrupt(f, "reference point");
    assert_null(afd_registry_find(f->fresh, "prod"));
    rewrite(f, comm_mode_unknown);
    expect_corrupt(f, "unknown comm mode 9");
}

static void pending_beyond_next_id(Afd__Sizer__Snapshot__V1__Snapshot *s)
{
    Afd__Sizer__Snapshot__V1__ControlState *c = malloc(sizeof(*c));
    Afd__Sizer__Snapshot__V1__Command *p = malloc(sizeof(*p));

    afd__sizer__snapshot__v1__control_state__init(c);
    afd__sizer__snapshot__v1__command__init(p);
    c->next_id = 3;
    p->id = 3; /* must be below next_id */
    p->target = 4;
    c->pending = p;
    s->deployments[1]->control = c;
}

/* ensure an inconsistent controller state restores nothing */
static void test_snapshot_restore_bad_control_nothing(void **state)
{
    struct fixture *f = *state;

    rewrite(f, pending_beyond_next_id);
    expect_corrupt(f, "pending command 3");
    assert_null(afd_registry_find(f->fresh, "prod"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_snapshot_round_trip_identical),
        T(test_snapshot_save_no_tmp_left),
        T(test_snapshot_save_bad_dir_eio),
        T(test_snapshot_restore_missing_notfound),
        T(test_snapshot_restore_flipped_byte_eparse),
        T(test_snapshot_restore_truncated_eparse),
        T(test_snapshot_restore_garbage_eparse),
        T(test_snapshot_restore_invalid_state_nothing),
        T(test_snapshot_restore_bad_name_nothing),
        T(test_snapshot_restore_duplicate_instance),
        T(test_snapshot_restore_incomplete_calib),
        T(test_snapshot_restore_unknown_version),
        T(test_snapshot_control_state_round_trip),
        T(test_snapshot_comm_mode_round_trip),
        T(test_snapshot_restore_comm_mode_absent_or_bad),
        T(test_snapshot_restore_bad_control_nothing),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
