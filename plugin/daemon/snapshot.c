/*
 * snapshot.c - save and restore the registry's learned state (snapshot.h)
 * as proto/afd_snapshot.proto.
 *
 * Save builds the message tree from plain exported state (estimators'
 * export, registry_internal.h rows), packs the body, hashes it, packs the
 * envelope and writes it atomically. Restore decodes and checks every
 * deployment into plain state first - importing into throw-away estimators
 * to run their own validation - and applies only when all of it passed.
 * Applying then cannot fail except on allocation (AFD_ENOMEM), the one
 * case that can leave a partial restore. After applying, each restored
 * deployment is recomputed at the snapshot's saved_ms, so the
 * recommendation right after a restart is the one saved.
 */
#include "plugin/daemon/snapshot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "estimator/base/error.h"
#include "plugin/daemon/control.h"
#include "plugin/daemon/registry_internal.h"
#include "proto/afd_snapshot.pb-c.h"

#define PB(x)            Afd__Sizer__Snapshot__V1__##x
#define SNAPSHOT_VERSION 1
/* A snapshot larger than this is not ours (256 deployments x 20000 rows
 * is about 200 MiB). */
#define SNAPSHOT_MAX_BYTES (1024L * 1024 * 1024)

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 1469598103934665603ULL;

    while (n--) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }
    return h;
}

/* ---- save ---- */

/* Everything one deployment's message points to, freed as one block. */
struct dep_out {
    PB(Deployment) dep;
    PB(WorkloadState) wl;
    PB(CalibState) cs;
    PB(Profile) prior;
    double prior_coef[AFD_COEF_COUNT];
    PB(CalibStage) st[3];
    PB(CalibStage) * stp[3];
    double coef[3][2], cov[3][4], pcov[3][4], data[3][5];
    PB(StageMeans) sm;
    double sm_ms[AFD_REGIME_COUNT];
    uint64_t sm_n[AFD_REGIME_COUNT];
    struct afd_instance_state *rows;
    PB(Instance) * inst;
    PB(Instance) * *instp;
    struct afd_control_saved saved;
    PB(ControlState) ctl;
    PB(Command) pending, last;
    PB(CommModeState) comm;
};

static void fill_command(PB(Command) * m, const struct afd_command *c,
                         double r_star_barrier, int64_t epoch)
{
    afd__sizer__snapshot__v1__command__init(m);
    m->id = c->id;
    m->current = c->current;
    m->target = c->target;
    m->ffn = c->ffn;
    m->regime = (int32_t)c->regime;
    m->r_star = c->r_star;
    m->r_star_barrier = r_star_barrier;
    m->expected_gain = c->expected_gain;
    m->reason = (char *)c->reason;
    m->issued_ms = c->issued_ms;
    m->leader_epoch = epoch;
}

/* The controller's state of d, when it has one (control.h). */
static void fill_control(struct dep_out *o, struct afd_deployment *d)
{
    const struct afd_control_saved *s = &o->saved;

    if (!afd_control_export(d, &o->saved))
        return;
    afd__sizer__snapshot__v1__control_state__init(&o->ctl);
    o->ctl.next_id = s->policy.next_id;
    if (s->policy.in_flight) {
        fill_command(&o->pending, &s->policy.pending, 0,
                     s->has_issued &&
                             s->last_issued.cmd.id == s->policy.pending.id
                         ? s->last_issued.leader_epoch
                         : 0);
        o->ctl.pending = &o->pending;
    }
    o->ctl.cooldown_until_ms = s->policy.cooldown_until;
    o->ctl.backoff_until_ms = s->policy.backoff_until;
    o->ctl.last_now_ms = s->policy.last_now;
    if (s->has_issued) {
        fill_command(&o->last, &s->last_issued.cmd,
                     s->last_issued.r_star_barrier,
                     s->last_issued.leader_epoch);
        o->ctl.last_issued = &o->last;
    }
    o->ctl.acked_target = s->acked_target;
    o->dep.control = &o->ctl;
}

static PB(CommMode) comm_mode_msg(enum afd_comm_mode m)
{
    return m == AFD_COMM_AGGREGATE
               ? AFD__SIZER__SNAPSHOT__V1__COMM_MODE__COMM_MODE_AGGREGATE
               : AFD__SIZER__SNAPSHOT__V1__COMM_MODE__COMM_MODE_PER_INSTANCE;
}

/* AFD_EPARSE for a value outside the enum (a newer or corrupt file). */
static int comm_mode_read(PB(CommMode) m, enum afd_comm_mode *out, char *err)
{
    if (m == AFD__SIZER__SNAPSHOT__V1__COMM_MODE__COMM_MODE_AGGREGATE)
        *out = AFD_COMM_AGGREGATE;
    else if (m == AFD__SIZER__SNAPSHOT__V1__COMM_MODE__COMM_MODE_PER_INSTANCE)
        *out = AFD_COMM_PER_INSTANCE;
    else
        return afd_err(err, AFD_EPARSE, "unknown comm mode %d", (int)m);
    return AFD_OK;
}

static void fill_calib(struct dep_out *o, const struct afd_calib_state *s)
{
    const struct afd_profile *p = &s->prior;
    int i;

    o->cs.forgetting = s->config.forgetting;
    o->cs.prior_weight = s->config.prior_weight;
    o->cs.calibrated_ratio = s->config.calibrated_ratio;
    o->prior.name = (char *)p->name;
    o->prior.provenance = (char *)p->provenance;
    o->prior_coef[0] = p->aA;
    o->prior_coef[1] = p->bA;
    o->prior_coef[2] = p->aC;
    o->prior_coef[3] = p->bC;
    o->prior_coef[4] = p->aF;
    o->prior_coef[5] = p->bF;
    o->prior.n_coef = AFD_COEF_COUNT;
    o->prior.coef = o->prior_coef;
    o->prior.comm_mode = comm_mode_msg(p->comm_mode);
    o->cs.prior = &o->prior;
    for (i = 0; i < 3; i++) {
        afd__sizer__snapshot__v1__calib_stage__init(&o->st[i]);
        memcpy(o->coef[i], s->stage[i].coef, sizeof(o->coef[i]));
        memcpy(o->cov[i], s->stage[i].cov, sizeof(o->cov[i]));
        memcpy(o->pcov[i], s->stage[i].prior_cov, sizeof(o->pcov[i]));
        o->st[i].n_coef = 2;
        o->st[i].coef = o->coef[i];
        o->st[i].n_cov = 4;
        o->st[i].cov = o->cov[i];
        o->st[i].n_prior_cov = 4;
        o->st[i].prior_cov = o->pcov[i];
        o->st[i].resid_sum = s->stage[i].resid[0];
        o->st[i].resid_weight = s->stage[i].resid[1];
        o->st[i].rel_sum = s->stage[i].rel[0];
        o->st[i].rel_weight = s->stage[i].rel[1];
        memcpy(o->data[i], s->stage[i].data, sizeof(o->data[i]));
        o->st[i].n_data = 5;
        o->st[i].data = o->data[i];
        o->st[i].samples = s->stage[i].samples;
        o->stp[i] = &o->st[i];
    }
    o->cs.n_stages = 3;
    o->cs.stages = o->stp;
}

static void fill_comm(struct dep_out *o, struct afd_deployment *d)
{
    struct afd_comm_mode_learnt l;

    afd_comm_mode_export(&d->comm, &l);
    afd__sizer__snapshot__v1__comm_mode_state__init(&o->comm);
    o->comm.identified = l.identified;
    o->comm.mode = comm_mode_msg(l.mode);
    o->comm.slope = l.slope;
    o->comm.intercept = l.intercept;
    o->comm.have_ref = l.have_ref;
    o->comm.ref_b = l.ref_b;
    o->comm.ref_rb = l.ref_rb;
    o->comm.ref_ms = l.ref_ms;
    o->comm.tests = l.tests;
    o->dep.comm_mode = &o->comm;
}

/* The calib state is kept by the caller (its prior's strings are used). */
static int fill_dep(struct dep_out *o, struct afd_deployment *d,
                    struct afd_calib_state *cs)
{
    struct afd_workload_state ws;
    struct afd_stage_means sm;
    size_t i, n = afd_deployment_instance_count(d);

    afd__sizer__snapshot__v1__deployment__init(&o->dep);
    afd__sizer__snapshot__v1__workload_state__init(&o->wl);
    afd__sizer__snapshot__v1__calib_state__init(&o->cs);
    afd__sizer__snapshot__v1__profile__init(&o->prior);
    afd__sizer__snapshot__v1__stage_means__init(&o->sm);
    o->dep.name = (char *)afd_deployment_name(d);
    afd_workload_export(afd_deployment_workload(d), &ws);
    o->wl.half_life = ws.half_life;
    o->wl.requests = ws.requests;
    o->wl.weight = ws.weight;
    o->wl.sum_p = ws.sum_p;
    o->wl.sum_d = ws.sum_d;
    o->wl.sum_theta = ws.sum_theta;
    o->wl.sum_m2 = ws.sum_m2;
    o->wl.sum_pd = ws.sum_pd;
    o->dep.workload = &o->wl;
    afd_calib_export(afd_deployment_calib(d), cs);
    fill_calib(o, cs);
    o->dep.calibration = &o->cs;
    afd_deployment_stage_means_export(d, &sm);
    memcpy(o->sm_ms, sm.ms, sizeof(o->sm_ms));
    memcpy(o->sm_n, sm.n, sizeof(o->sm_n));
    o->sm.n_ms = o->sm.n_n = AFD_REGIME_COUNT;
    o->sm.ms = o->sm_ms;
    o->sm.n = o->sm_n;
    o->dep.observed = &o->sm;
    o->rows = calloc(n ? n : 1, sizeof(*o->rows));
    o->inst = calloc(n ? n : 1, sizeof(*o->inst));
    o->instp = calloc(n ? n : 1, sizeof(*o->instp));
    if (!o->rows || !o->inst || !o->instp)
        return AFD_ENOMEM;
    n = afd_deployment_instances_export(d, o->rows, n);
    for (i = 0; i < n; i++) {
        afd__sizer__snapshot__v1__instance__init(&o->inst[i]);
        o->inst[i].id = o->rows[i].id;
        o->inst[i].role = o->rows[i].role == AFD_ROLE_FFN
                              ? AFD__SIZER__SNAPSHOT__V1__ROLE__ROLE_FFN
                              : AFD__SIZER__SNAPSHOT__V1__ROLE__ROLE_ATTENTION;
        o->inst[i].token_load = o->rows[i].token_load;
        o->inst[i].batch_size = o->rows[i].batch_size;
        o->inst[i].last_seen_ms = o->rows[i].last_seen_ms;
        o->instp[i] = &o->inst[i];
    }
    o->dep.n_instances = n;
    o->dep.instances = o->instp;
    fill_control(o, d);
    fill_comm(o, d);
    o->dep.moved = !d->unmoved;
    o->dep.shift_seen = d->shift_seen;
    return AFD_OK;
}

static void free_deps(struct dep_out *o, size_t n)
{
    size_t i;

    for (i = 0; o && i < n; i++) {
        free(o[i].rows);
        free(o[i].inst);
        free(o[i].instp);
    }
    free(o);
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    ssize_t w;

    while (n) {
        w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Writes path.tmp, fsyncs, renames over path and fsyncs the directory. */
static int write_atomic(const char *path, const uint8_t *buf, size_t n,
                        char *err)
{
    char tmp[AFD_PATH_LEN + 8], dir[AFD_PATH_LEN];
    int fd, rc;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return afd_err(err, AFD_EIO, "snapshot path '%s' is too long", path);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return afd_err(err, AFD_EIO, "cannot create '%s': %s", tmp,
                       strerror(errno));
    rc = write_all(fd, buf, n) < 0 || fsync(fd) < 0 ? -1 : 0;
    if (close(fd) < 0)
        rc = -1;
    if (rc < 0 || rename(tmp, path) < 0) {
        rc = errno;
        unlink(tmp);
        return afd_err(err, AFD_EIO, "cannot write snapshot '%s': %s", path,
                       strerror(rc));
    }
    snprintf(dir, sizeof(dir), "%s", path);
    fd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        rc = errno;
        if (fd >= 0)
            close(fd);
        return afd_err(err, AFD_EIO, "cannot fsync the directory of '%s': %s",
                       path, strerror(rc));
    }
    close(fd);
    return AFD_OK;
}

/* Packs env around the packed body: the file's bytes in *out (malloc'd). */
static int pack_file(PB(Snapshot) * snap, uint8_t **out, size_t *len, char *err)
{
    PB(SnapshotFile) env = AFD__SIZER__SNAPSHOT__V1__SNAPSHOT_FILE__INIT;
    size_t n = afd__sizer__snapshot__v1__snapshot__get_packed_size(snap);
    uint8_t *body = malloc(n ? n : 1), *file = NULL;

    if (!body)
        return afd_err(err, AFD_ENOMEM, "out of memory packing a snapshot");
    afd__sizer__snapshot__v1__snapshot__pack(snap, body);
    env.version = SNAPSHOT_VERSION;
    env.body.data = body;
    env.body.len = n;
    env.body_hash = fnv1a(body, n);
    n = afd__sizer__snapshot__v1__snapshot_file__get_packed_size(&env);
    file = malloc(n);
    if (file)
        afd__sizer__snapshot__v1__snapshot_file__pack(&env, file);
    free(body);
    if (!file)
        return afd_err(err, AFD_ENOMEM, "out of memory packing a snapshot");
    *out = file;
    *len = n;
    return AFD_OK;
}

int afd_snapshot_encode(struct afd_registry *reg, uint8_t **out, size_t *len,
                        char *err)
{
    PB(Snapshot) snap = AFD__SIZER__SNAPSHOT__V1__SNAPSHOT__INIT;
    size_t i, n = afd_registry_count(reg);
    struct afd_calib_state *cs = calloc(n ? n : 1, sizeof(*cs));
    struct dep_out *o = calloc(n ? n : 1, sizeof(*o));
    PB(Deployment) **deps = calloc(n ? n : 1, sizeof(*deps));
    int rc = AFD_ENOMEM;

    AFD_ASSERT_OWNER(&reg->owner);
    i = 0;
    if (!cs || !o || !deps)
        goto out;
    for (; i < n; i++) {
        if (fill_dep(&o[i], afd_registry_at(reg, i), &cs[i]) < 0)
            goto out;
        deps[i] = &o[i].dep;
    }
    snap.version = SNAPSHOT_VERSION;
    snap.n_deployments = n;
    snap.deployments = deps;
    /* The newest computation time stands for the save time. */
    for (i = 0; i < n; i++) {
        int64_t t =
            afd_deployment_recommendation(afd_registry_at(reg, i))->computed_ms;
        if (t > snap.saved_ms)
            snap.saved_ms = t;
    }
    rc = pack_file(&snap, out, len, err);
out:
    if (rc == AFD_ENOMEM && (!cs || !o || !deps || i < n))
        afd_err(err, rc, "out of memory building a snapshot");
    free_deps(o, n);
    free(deps);
    free(cs);
    return rc;
}

int afd_snapshot_write(const char *path, const uint8_t *buf, size_t len,
                       char *err)
{
    return write_atomic(path, buf, len, err);
}

int afd_snapshot_save(struct afd_registry *reg, const char *path, char *err)
{
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = afd_snapshot_encode(reg, &buf, &len, err);

    if (rc == AFD_OK)
        rc = afd_snapshot_write(path, buf, len, err);
    free(buf);
    return rc;
}

/* ---- restore ---- */

/* One deployment's checked state, ready to apply. */
struct dep_in {
    const char *name; /* points into the unpacked message */
    struct afd_workload_state ws;
    struct afd_calib_state cs;
    struct afd_instance_state *rows;
    size_t n_rows;
    struct afd_stage_means sm;
    bool has_control;
    struct afd_control_saved control;
    bool has_comm;
    struct afd_comm_mode_learnt comm;
    bool moved, shift_seen;
};

static int copy_str(char *dst, size_t cap, const char *src, const char *what,
                    char *err)
{
    if (!src || !src[0] || strlen(src) >= cap)
        return afd_err(err, AFD_EPARSE, "%s is empty or too long", what);
    memcpy(dst, src, strlen(src) + 1);
    return AFD_OK;
}

static int read_calib(const PB(CalibState) * m, struct afd_calib_state *cs,
                      char *err)
{
    const PB(Profile) *p = m ? m->prior : NULL;
    int i;

    if (!p || p->n_coef != AFD_COEF_COUNT || m->n_stages != 3)
        return afd_err(err, AFD_EPARSE, "calibration state is incomplete");
    cs->config.forgetting = m->forgetting;
    cs->config.prior_weight = m->prior_weight;
    cs->config.calibrated_ratio = m->calibrated_ratio;
    if (copy_str(cs->prior.name, sizeof(cs->prior.name), p->name,
                 "prior profile name", err) < 0)
        return AFD_EPARSE;
    if (p->provenance && strlen(p->provenance) >= sizeof(cs->prior.provenance))
        return afd_err(err, AFD_EPARSE, "prior provenance is too long");
    snprintf(cs->prior.provenance, sizeof(cs->prior.provenance), "%s",
             p->provenance ? p->provenance : "");
    cs->prior.aA = p->coef[0];
    cs->prior.bA = p->coef[1];
    cs->prior.aC = p->coef[2];
    cs->prior.bC = p->coef[3];
    cs->prior.aF = p->coef[4];
    cs->prior.bF = p->coef[5];
    if (comm_mode_read(p->comm_mode, &cs->prior.comm_mode, err) < 0)
        return AFD_EPARSE;
    for (i = 0; i < 3; i++) {
        const PB(CalibStage) *st = m->stages[i];

        if (!st || st->n_coef != 2 || st->n_cov != 4 || st->n_prior_cov != 4 ||
            (st->n_data != 0 && st->n_data != 5))
            return afd_err(err, AFD_EPARSE,
                           "calibration stage %d is incomplete", i);
        if (st->n_data == 5)
            memcpy(cs->stage[i].data, st->data, sizeof(cs->stage[i].data));
        memcpy(cs->stage[i].coef, st->coef, sizeof(cs->stage[i].coef));
        memcpy(cs->stage[i].cov, st->cov, sizeof(cs->stage[i].cov));
        memcpy(cs->stage[i].prior_cov, st->prior_cov,
               sizeof(cs->stage[i].prior_cov));
        cs->stage[i].resid[0] = st->resid_sum;
        cs->stage[i].resid[1] = st->resid_weight;
        cs->stage[i].rel[0] = st->rel_sum;
        cs->stage[i].rel[1] = st->rel_weight;
        cs->stage[i].samples = st->samples;
    }
    return AFD_OK;
}

/* Runs the estimators' own import checks on throw-away instances. */
static int check_estimators(const struct dep_in *in, char *err)
{
    struct afd_workload *w = afd_workload_new(0, err);
    struct afd_calib *c = NULL;
    int rc = AFD_ENOMEM;

    if (!w)
        goto out;
    if ((rc = afd_workload_import(w, &in->ws, err)) < 0)
        goto out;
    c = afd_calib_new(&in->cs.prior, &in->cs.config, err);
    rc = c ? afd_calib_import(c, &in->cs, err) : AFD_EINVAL;
out:
    afd_workload_free(w);
    afd_calib_free(c);
    return rc;
}

static int read_command(const PB(Command) * m, const char *name,
                        struct afd_command *c, char *err)
{
    memset(c, 0, sizeof(*c));
    if (m->regime < 0 || m->regime >= AFD_REGIME_COUNT)
        return afd_err(err, AFD_EPARSE, "command %llu has regime %d",
                       (unsigned long long)m->id, (int)m->regime);
    if (m->reason && strlen(m->reason) >= sizeof(c->reason))
        return afd_err(err, AFD_EPARSE, "command %llu reason is too long",
                       (unsigned long long)m->id);
    c->id = m->id;
    snprintf(c->deployment, sizeof(c->deployment), "%s", name);
    c->current = m->current;
    c->target = m->target;
    c->ffn = m->ffn;
    c->regime = (enum afd_regime)m->regime;
    c->r_star = m->r_star;
    c->expected_gain = m->expected_gain;
    snprintf(c->reason, sizeof(c->reason), "%s", m->reason ? m->reason : "");
    c->issued_ms = m->issued_ms;
    return AFD_OK;
}

/* The controller state, checked by importing it into a throw-away policy
 * (policy.h's own rules) before anything is applied. */
static int read_control(const PB(ControlState) * m, struct dep_in *in,
                        char *err)
{
    struct afd_control_saved *s = &in->control;
    struct afd_policy_config pc;
    struct afd_policy *p;
    int rc;

    memset(s, 0, sizeof(*s));
    if (!m)
        return AFD_OK;
    in->has_control = true;
    s->policy.next_id = m->next_id;
    s->policy.in_flight = m->pending != NULL;
    if (m->pending &&
        read_command(m->pending, in->name, &s->policy.pending, err) < 0)
        return AFD_EPARSE;
    s->policy.cooldown_until = m->cooldown_until_ms;
    s->policy.backoff_until = m->backoff_until_ms;
    s->policy.last_now = m->last_now_ms;
    s->has_issued = m->last_issued != NULL;
    if (m->last_issued) {
        if (read_command(m->last_issued, in->name, &s->last_issued.cmd, err) <
            0)
            return AFD_EPARSE;
        s->last_issued.r_star = m->last_issued->r_star;
        s->last_issued.r_star_barrier = m->last_issued->r_star_barrier;
        s->last_issued.leader_epoch = m->last_issued->leader_epoch;
    }
    s->acked_target = m->acked_target;
    if (afd_control_saved_check(s, err))
        return AFD_EPARSE;
    afd_policy_config_init(&pc);
    if (!(p = afd_policy_new(in->name, &pc, err)))
        return AFD_ENOMEM;
    rc = afd_policy_import(p, &s->policy, err);
    afd_policy_free(p);
    return rc == AFD_OK ? AFD_OK : AFD_EPARSE;
}

/* Absent (an older snapshot): the tracker starts from the prior. */
static int read_comm(const PB(CommModeState) * m, struct dep_in *in, char *err)
{
    struct afd_comm_mode_config cfg;
    struct afd_comm_mode_tracker t;

    if (!m)
        return AFD_OK;
    in->comm =
        (struct afd_comm_mode_learnt){m->identified, AFD_COMM_PER_INSTANCE,
                                      m->slope,      m->intercept,
                                      m->have_ref,   m->ref_b,
                                      m->ref_rb,     m->ref_ms,
                                      m->tests};
    if (comm_mode_read(m->mode, &in->comm.mode, err) < 0)
        return AFD_EPARSE;
    /* The tracker's own checks, on a throw-away one. */
    afd_comm_mode_config_default(&cfg);
    afd_comm_mode_init(&t, &cfg, AFD_COMM_PER_INSTANCE);
    if (afd_comm_mode_import(&t, &in->comm, err) < 0)
        return AFD_EPARSE;
    in->has_comm = true;
    return AFD_OK;
}

static int read_dep(const struct afd_registry *reg, const PB(Deployment) * m,
                    struct dep_in *in, char *err)
{
    const PB(WorkloadState) *wl = m->workload;
    const PB(StageMeans) *sm = m->observed;
    size_t i;

    if (afd_deployment_name_check(m->name, err) < 0)
        return AFD_EPARSE;
    in->name = m->name;
    in->moved = m->moved;
    in->shift_seen = m->shift_seen;
    if (!wl || !sm || sm->n_ms != AFD_REGIME_COUNT ||
        sm->n_n != AFD_REGIME_COUNT)
        return afd_err(err, AFD_EPARSE, "workload or stage means missing");
    in->ws = (struct afd_workload_state){
        wl->half_life, wl->requests,  wl->weight, wl->sum_p,
        wl->sum_d,     wl->sum_theta, wl->sum_m2, wl->sum_pd};
    memcpy(in->sm.ms, sm->ms, sizeof(in->sm.ms));
    memcpy(in->sm.n, sm->n, sizeof(in->sm.n));
    if (read_calib(m->calibration, &in->cs, err) < 0 ||
        afd_stage_means_check(&in->sm, err) < 0 ||
        check_estimators(in, err) < 0)
        return AFD_EPARSE;
    in->rows = calloc(m->n_instances ? m->n_instances : 1, sizeof(*in->rows));
    if (!in->rows)
        return afd_err(err, AFD_ENOMEM, "out of memory");
    in->n_rows = m->n_instances;
    for (i = 0; i < m->n_instances; i++) {
        const PB(Instance) *r = m->instances[i];

        if (copy_str(in->rows[i].id, AFD_NAME_LEN, r->id, "instance id", err) <
            0)
            return AFD_EPARSE;
        if (r->role != AFD__SIZER__SNAPSHOT__V1__ROLE__ROLE_ATTENTION &&
            r->role != AFD__SIZER__SNAPSHOT__V1__ROLE__ROLE_FFN)
            return afd_err(err, AFD_EPARSE, "instance '%s' has role %d", r->id,
                           (int)r->role);
        in->rows[i].role = r->role == AFD__SIZER__SNAPSHOT__V1__ROLE__ROLE_FFN
                               ? AFD_ROLE_FFN
                               : AFD_ROLE_ATTENTION;
        in->rows[i].token_load = r->token_load;
        in->rows[i].batch_size = r->batch_size;
        in->rows[i].last_seen_ms = r->last_seen_ms;
    }
    if (afd_instances_check(reg, in->rows, in->n_rows, err) < 0 ||
        read_comm(m->comm_mode, in, err) < 0)
        return AFD_EPARSE;
    return read_control(m->control, in, err);
}

/* Reads the whole file; AFD_ENOTFOUND if absent. */
static int read_file(const char *path, uint8_t **buf, size_t *len, char *err)
{
    struct stat st;
    ssize_t r;
    size_t got = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return afd_err(err, errno == ENOENT ? AFD_ENOTFOUND : AFD_EIO,
                       "cannot open snapshot '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
        st.st_size > SNAPSHOT_MAX_BYTES) {
        close(fd);
        return afd_err(err, AFD_EPARSE,
                       "snapshot '%s' is not a regular file of at most %ld "
                       "bytes",
                       path, SNAPSHOT_MAX_BYTES);
    }
    *buf = malloc(st.st_size ? (size_t)st.st_size : 1);
    while (*buf && got < (size_t)st.st_size) {
        r = read(fd, *buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (!*buf || got != (size_t)st.st_size) {
        free(*buf);
        *buf = NULL;
        return afd_err(err, AFD_EIO, "cannot read snapshot '%s'", path);
    }
    *len = got;
    return AFD_OK;
}

/* Decodes and checks the envelope; *snap is the unpacked body. */
static int decode(const uint8_t *buf, size_t len, PB(Snapshot) * *snap,
                  char *err)
{
    PB(SnapshotFile) *env =
        afd__sizer__snapshot__v1__snapshot_file__unpack(NULL, len, buf);
    int rc = AFD_OK;

    *snap = NULL;
    if (!env)
        return afd_err(err, AFD_EPARSE, "not a snapshot file (undecodable)");
    if (env->version != SNAPSHOT_VERSION)
        rc = afd_err(err, AFD_EPARSE, "snapshot version %u, expected %d",
                     env->version, SNAPSHOT_VERSION);
    else if (fnv1a(env->body.data, env->body.len) != env->body_hash)
        rc = afd_err(err, AFD_EPARSE,
                     "snapshot body hash mismatch "
                     "(truncated or corrupt)");
    else if (!(*snap = afd__sizer__snapshot__v1__snapshot__unpack(
                   NULL, env->body.len, env->body.data)))
        rc = afd_err(err, AFD_EPARSE, "snapshot body is undecodable");
    else if ((*snap)->version != SNAPSHOT_VERSION)
        rc = afd_err(err, AFD_EPARSE, "snapshot body version %u",
                     (*snap)->version);
    afd__sizer__snapshot__v1__snapshot_file__free_unpacked(env, NULL);
    return rc;
}

/* Names must be unique and all must fit beside the registry's own. */
static int check_names(struct afd_registry *reg, const struct dep_in *in,
                       size_t n, char *err)
{
    size_t i, j, fresh = 0;

    for (i = 0; i < n; i++) {
        for (j = 0; j < i; j++)
            if (!strcmp(in[i].name, in[j].name))
                return afd_err(err, AFD_EPARSE, "deployment '%s' appears twice",
                               in[i].name);
        fresh += afd_registry_find(reg, in[i].name) == NULL;
    }
    if (afd_registry_count(reg) + fresh > afd_registry_max_deployments(reg))
        return afd_err(err, AFD_EPARSE,
                       "snapshot has %zu deployments; limit is %zu", n,
                       afd_registry_max_deployments(reg));
    return AFD_OK;
}

static int apply(struct afd_registry *reg, struct afd_control *ctl,
                 const struct dep_in *in, int64_t saved_ms, char *err)
{
    struct afd_deployment *d;
    int rc;

    if ((rc = afd_registry_create(reg, in->name, &d, err)) < 0 ||
        (rc = afd_deployment_instances_import(d, in->rows, in->n_rows, err)) <
            0 ||
        (rc = afd_workload_import(afd_deployment_workload(d), &in->ws, err)) <
            0 ||
        (rc = afd_calib_import(afd_deployment_calib(d), &in->cs, err)) < 0)
        return rc;
    afd_deployment_stage_means_import(d, &in->sm);
    /* Checked in read_comm. */
    if (in->has_comm)
        afd_comm_mode_import(&d->comm, &in->comm, NULL);
    /* Set, not merged: a follower takes the leader's history as it is. */
    d->unmoved = !in->moved;
    d->shift_seen = in->shift_seen;
    /* Checked in read_control: only allocation can fail here. */
    if (ctl && in->has_control &&
        (rc = afd_control_import(ctl, d, &in->control, err)) < 0)
        return rc;
    /* The recommendation as it stood at save time, until the next tick. */
    afd_deployment_recompute(d, saved_ms);
    return AFD_OK;
}

int afd_snapshot_restore_bytes(struct afd_registry *reg,
                               struct afd_control *ctl, const uint8_t *buf,
                               size_t len, char *err)
{
    PB(Snapshot) *snap = NULL;
    struct dep_in *in = NULL;
    size_t i, n = 0;
    int rc;

    AFD_ASSERT_OWNER(&reg->owner);
    if ((rc = decode(buf, len, &snap, err)) < 0) {
        if (snap) /* decoded, but a body version we do not know */
            afd__sizer__snapshot__v1__snapshot__free_unpacked(snap, NULL);
        return rc;
    }
    n = snap->n_deployments;
    in = calloc(n ? n : 1, sizeof(*in));
    rc = in ? AFD_OK : afd_err(err, AFD_ENOMEM, "out of memory");
    for (i = 0; rc == AFD_OK && i < n; i++)
        if ((rc = read_dep(reg, snap->deployments[i], &in[i], err)) < 0)
            snprintf(err + strlen(err), AFD_ERR_LEN - strlen(err),
                     " (deployment %zu)", i);
    if (rc == AFD_OK)
        rc = check_names(reg, in, n, err);
    for (i = 0; rc == AFD_OK && i < n; i++)
        rc = apply(reg, ctl, &in[i], snap->saved_ms, err);
    for (i = 0; in && i < n; i++)
        free(in[i].rows);
    free(in);
    afd__sizer__snapshot__v1__snapshot__free_unpacked(snap, NULL);
    return rc < 0 && rc != AFD_ENOMEM ? AFD_EPARSE : rc;
}

int afd_snapshot_restore(struct afd_registry *reg, struct afd_control *ctl,
                         const char *path, char *err)
{
    char why[AFD_ERR_LEN];
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = read_file(path, &buf, &len, err);

    if (rc < 0)
        return rc;
    rc = afd_snapshot_restore_bytes(reg, ctl, buf, len, why);
    if (rc < 0)
        afd_err(err, rc, "snapshot '%s': %s", path, why);
    free(buf);
    return rc;
}
