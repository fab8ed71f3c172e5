/*
 * registry.c - deployments, their estimators and instance tables, and the
 * recommendation built from them (contract in registry.h).
 *
 * Hot path: afd_deployment_add_step (afd_registry_add_step by name) is
 * called for every decode step of every instance. It validates the sample
 * (registry_check.c), finds the deployment once per batch (by name: a
 * one-entry cache in front of an open-addressing table) and the instance (open
 * addressing, linear probing, backward-shift deletion, stored 64-bit hashes),
 * updates a few numbers and feeds the calibrator. Nothing is allocated once the
 * instance is known; the table only grows when a new id arrives. Everything
 * derived (live counts, spreads, the solve) is done by tick/recompute.
 */
#include "plugin/daemon/registry.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry_internal.h"

/*
 * FNV-1a over the bytes, then a 64-bit finaliser (splitmix64) so that the
 * low bits used for the slot index mix all input bytes; forced odd so 0
 * marks an empty slot. Ids are short; this stays a few ns.
 */
uint64_t afd_registry_hash(const char *s, size_t *len)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }
    *len = (size_t)(p - (const unsigned char *)s);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return h | 1;
}

size_t afd_registry_slots_for(size_t n)
{
    size_t p = AFD_INITIAL_SLOTS;

    while (p < n)
        p <<= 1;
    return p;
}

/* ---- deployments ---- */

static void deployment_free(struct afd_deployment *d)
{
    if (!d)
        return;
    afd_workload_free(d->workload);
    afd_calib_free(d->calib);
    free(d->slots);
    free(d);
}

static void rec_reset(struct afd_deployment *d)
{
    memset(&d->rec, 0, sizeof(d->rec));
    snprintf(d->rec.why_not, sizeof(d->rec.why_not), "not computed yet");
    afd_calib_profile(d->calib, &d->rec.profile);
    afd_calib_report(d->calib, &d->rec.calib);
    afd_deployment_shift_report(d, &d->rec);
}

static struct afd_deployment *deployment_new(struct afd_registry *reg,
                                             const char *name, char *err)
{
    struct afd_deployment *d = calloc(1, sizeof(*d));
    size_t len;

    if (!d) {
        afd_err(err, AFD_ENOMEM, "out of memory creating deployment '%s'",
                name);
        return NULL;
    }
    d->reg = reg;
    afd_config_deployment(reg->cfg, name, &d->cfg);
    d->hash = afd_registry_hash(name, &len);
    d->workload = afd_workload_new(d->cfg.workload_half_life, err);
    if (!d->workload)
        goto fail;
    d->calib = afd_calib_new(&d->cfg.profile, &d->cfg.calib, err);
    if (!d->calib)
        goto fail;
    if (afd_shift_init(&d->shift, NULL, err) < 0)
        goto fail;
    {
        struct afd_load_tracker_config lc;
        struct afd_comm_mode_config cc;

        afd_load_tracker_config_default(&lc);
        afd_load_tracker_init(&d->load, &lc);
        afd_comm_mode_config_default(&cc);
        afd_comm_mode_init(&d->comm, &cc, d->cfg.profile.comm_mode);
    }
    d->young_ms = AFD_YOUNG_MIN_MS;
    d->unmoved = true;
    rec_reset(d);
    return d;
fail:
    deployment_free(d);
    return NULL;
}

static void index_insert(struct afd_registry *reg, struct afd_deployment *d)
{
    size_t mask = reg->n_index - 1;
    size_t i = d->hash & mask;

    while (reg->index[i])
        i = (i + 1) & mask;
    reg->index[i] = d;
}

struct afd_registry *afd_registry_new(const struct afd_config *cfg, char *err)
{
    struct afd_registry *reg;
    struct afd_deployment *d;
    size_t i;

    if (afd_config_validate(cfg, err) < 0)
        return NULL;
    reg = calloc(1, sizeof(*reg));
    if (!reg)
        goto oom;
    reg->cfg = cfg;
    /* Created on the loop thread; every mutation must happen there. */
    afd_owner_claim(&reg->owner);
    reg->deps = calloc(cfg->max_deployments, sizeof(*reg->deps));
    /* Load factor <= 1/2 at max_deployments: probes stay short. */
    reg->n_index = afd_registry_slots_for(2 * cfg->max_deployments);
    reg->index = calloc(reg->n_index, sizeof(*reg->index));
    if (!reg->deps || !reg->index)
        goto oom;
    for (i = 0; i < cfg->n_deployments; i++)
        if (afd_registry_create(reg, cfg->deployments[i].name, &d, err) < 0)
            goto fail;
    return reg;
oom:
    afd_err(err, AFD_ENOMEM, "out of memory creating the registry");
fail:
    afd_registry_free(reg);
    return NULL;
}

void afd_registry_free(struct afd_registry *reg)
{
    size_t i;

    if (!reg)
        return;
    for (i = 0; i < reg->n_deps; i++)
        deployment_free(reg->deps[i]);
    free(reg->deps);
    free(reg->index);
    free(reg);
}

static struct afd_deployment *find(struct afd_registry *reg, const char *name)
{
    size_t len, mask, i;
    uint64_t h;

    if (reg->last && !strcmp(reg->last->cfg.name, name))
        return reg->last;
    h = afd_registry_hash(name, &len);
    mask = reg->n_index - 1;
    for (i = h & mask; reg->index[i]; i = (i + 1) & mask) {
        if (reg->index[i]->hash == h && !strcmp(reg->index[i]->cfg.name, name))
            return reg->last = reg->index[i];
    }
    return NULL;
}

struct afd_deployment *afd_registry_find(struct afd_registry *reg,
                                         const char *name)
{
    if (!name)
        return NULL;
    return find(reg, name);
}

int afd_registry_create(struct afd_registry *reg, const char *name,
                        struct afd_deployment **out, char *err)
{
    struct afd_deployment *d;
    int rc = afd_deployment_name_check(name, err);

    AFD_ASSERT_OWNER(&reg->owner);

    if (rc < 0)
        return rc;
    d = find(reg, name);
    if (d) {
        *out = d;
        return AFD_OK;
    }
    if (reg->n_deps >= reg->cfg->max_deployments)
        return afd_err(err, AFD_ENOMEM,
                       "cannot create deployment '%s': limit of %zu "
                       "deployments reached",
                       name, reg->cfg->max_deployments);
    d = deployment_new(reg, name, err);
    if (!d)
        return AFD_ENOMEM;
    reg->deps[reg->n_deps++] = d;
    index_insert(reg, d);
    *out = d;
    return AFD_OK;
}

int afd_registry_get(struct afd_registry *reg, const char *name,
                     struct afd_deployment **out, char *err)
{
    int rc = afd_deployment_name_check(name, err);

    if (rc < 0)
        return rc;
    *out = find(reg, name);
    if (*out)
        return AFD_OK;
    if (!reg->cfg->auto_create_deployments)
        return afd_err(err, AFD_ENOTFOUND,
                       "unknown deployment '%s' (auto-create is off)", name);
    return afd_registry_create(reg, name, out, err);
}

size_t afd_registry_max_deployments(const struct afd_registry *reg)
{
    return reg->cfg->max_deployments;
}

size_t afd_registry_count(const struct afd_registry *reg)
{
    return reg->n_deps;
}

struct afd_deployment *afd_registry_at(struct afd_registry *reg, size_t i)
{
    return i < reg->n_deps ? reg->deps[i] : NULL;
}

/* ---- instance table ---- */

/*
 * The stored hash is compared first; on a match the id is compared as len
 * + 1 bytes (len = strlen(id) < AFD_NAME_LEN, from the hash), cheaper than
 * strcmp on this hot path (once per step sample).
 */
static struct afd_instance *slot_find(const struct afd_deployment *d,
                                      const char *id, size_t len, uint64_t h)
{
    size_t mask = d->n_slots - 1;
    size_t i;

    if (!d->n_slots)
        return NULL;
    for (i = h & mask; d->slots[i].hash; i = (i + 1) & mask)
        if (d->slots[i].hash == h && !memcmp(d->slots[i].id, id, len + 1))
            return &d->slots[i];
    return NULL;
}

struct afd_instance *afd_registry_slot_place(struct afd_instance *slots,
                                             size_t n, uint64_t h)
{
    size_t mask = n - 1;
    size_t i = h & mask;

    while (slots[i].hash)
        i = (i + 1) & mask;
    return &slots[i];
}

/* Grows to hold one more row at load factor <= 3/4. */
static int table_reserve(struct afd_deployment *d, size_t rows)
{
    struct afd_instance *ns;
    size_t n, i;

    if (rows * 4 <= d->n_slots * 3)
        return AFD_OK;
    n = afd_registry_slots_for(rows * 4 / 3 + 1);
    ns = calloc(n, sizeof(*ns));
    if (!ns)
        return AFD_ENOMEM;
    for (i = 0; i < d->n_slots; i++)
        if (d->slots[i].hash)
            *afd_registry_slot_place(ns, n, d->slots[i].hash) = d->slots[i];
    free(d->slots);
    d->slots = ns;
    d->n_slots = n;
    return AFD_OK;
}

/* Backward-shift deletion keeps every probe chain unbroken, no tombstones. */
static void slot_remove(struct afd_deployment *d, size_t i)
{
    size_t mask = d->n_slots - 1;
    size_t j = i, home;

    d->n_role[d->slots[i].role]--;
    d->n_instances--;
    for (;;) {
        d->slots[i].hash = 0;
        for (;;) {
            j = (j + 1) & mask;
            if (!d->slots[j].hash)
                return;
            home = d->slots[j].hash & mask;
            /* Move j back to i unless its home lies cyclically in (i, j]. */
            if (i <= j ? (home <= i || home > j) : (home <= i && home > j))
                break;
        }
        d->slots[i] = d->slots[j];
        i = j;
    }
}

void afd_deployment_expire(struct afd_deployment *d, int64_t now_ms)
{
    int64_t window = d->reg->cfg->liveness_window_ms;
    size_t i = 0;

    /* After a removal slot i holds a shifted row: look at it again. */
    while (i < d->n_slots) {
        if (d->slots[i].hash && now_ms - d->slots[i].last_seen_ms > window) {
            /* A row restored from a snapshot (first seen 0) may have left
             * long ago, under another leader: not a hand-back now. */
            if (d->slots[i].role == AFD_ROLE_ATTENTION &&
                d->slots[i].first_seen_ms > 0)
                afd_slots_row_gone(d, d->slots[i].batch_size);
            slot_remove(d, i);
        } else
            i++;
    }
}

/*
 * Resolves the deployment of a telemetry item; on failure counts the
 * rejection at registry level (no deployment to charge it to).
 */
static enum afd_reject_reason resolve(struct afd_registry *reg,
                                      const char *name,
                                      struct afd_deployment **d, char *err)
{
    struct afd_deployment *found;
    int rc;

    if (!name || !name[0]) {
        afd_err(err, AFD_EINVAL, "telemetry field 'deployment' is empty");
        reg->orphan[AFD_REJECT_MISSING_FIELD]++;
        return AFD_REJECT_MISSING_FIELD;
    }
    found = find(reg, name); /* the common case, without the name check */
    rc = found ? AFD_OK : afd_registry_get(reg, name, &found, err);
    if (rc == AFD_OK) {
        *d = found;
        return AFD_REJECT_NONE;
    }
    if (rc == AFD_ENOTFOUND) {
        reg->orphan[AFD_REJECT_UNKNOWN_DEPLOYMENT]++;
        return AFD_REJECT_UNKNOWN_DEPLOYMENT;
    }
    if (rc == AFD_EINVAL) {
        reg->orphan[AFD_REJECT_MISSING_FIELD]++;
        return AFD_REJECT_MISSING_FIELD;
    }
    if (rc == AFD_EPARSE) {
        reg->orphan[AFD_REJECT_MALFORMED]++;
        return AFD_REJECT_MALFORMED;
    }
    reg->orphan[AFD_REJECT_CAPACITY]++;
    return AFD_REJECT_CAPACITY;
}

/* ---- telemetry ---- */

static void stage_add(struct afd_stage_means *m, enum afd_regime st, double v)
{
    if (m->n[st]++ == 0)
        m->ms[st] = v;
    else
        m->ms[st] += AFD_STAGE_EWMA_ALPHA * (v - m->ms[st]);
}

/* Current x and y from overrides or the table (no recompute needed). */
int afd_deployment_current_x(const struct afd_deployment *d)
{
    if (d->cfg.attention_instances > 0)
        return d->cfg.attention_instances;
    if (d->n_role[AFD_ROLE_ATTENTION] > 0)
        return d->n_role[AFD_ROLE_ATTENTION];
    return d->planner.ready_attention > 0 ? d->planner.ready_attention : 0;
}

void afd_deployment_set_planner_obs(struct afd_deployment *d,
                                    const struct afd_planner_obs *o)
{
    AFD_ASSERT_OWNER(&d->reg->owner);
    d->planner = *o;
    if (!(d->planner.ready_attention > 0))
        d->planner.ready_attention = 0;
    if (!(isfinite(d->planner.isl) && d->planner.isl >= 0) ||
        !(isfinite(d->planner.osl) && d->planner.osl >= 1))
        d->planner.isl = d->planner.osl = 0;
}

int afd_deployment_current_y(const struct afd_deployment *d)
{
    if (d->cfg.ffn_instances > 0)
        return d->cfg.ffn_instances;
    return d->n_role[AFD_ROLE_FFN] > 0 ? d->n_role[AFD_ROLE_FFN] : 1;
}

/*
 * Feeds the calibrator. The comm token count n is B (per_instance) or r*B
 * (aggregate) with r the current x/y; an FFN instance's own comm time is
 * fitted against the tokens it received in aggregate mode only (they are
 * r*B, not B). Values were validated, so calib cannot fail.
 */
static void feed(struct afd_deployment *d, const struct afd_step_sample *s,
                 const struct afd_instance *row, int64_t now_ms)
{
    const double t = (double)now_ms / 1000;
    double n;

    /* Shift detection sees the step signals a workload change moves first
     * (finished requests lag it); samples were validated, so no error. */
    if (s->role == AFD_ROLE_ATTENTION) {
        /* A just-joined instance's load is its fresh requests', not the
         * workload's (recommend.c): it would look like a shift. */
        if (row->first_seen_ms == 0 ||
            now_ms - row->first_seen_ms >= d->young_ms)
            afd_shift_add(&d->shift, AFD_SHIFT_ON_LOAD, t, s->token_load, NULL);
        if (s->attention_ms > 0)
            afd_shift_add(&d->shift, AFD_SHIFT_ON_ATTENTION, t, s->attention_ms,
                          NULL);
    } else {
        if (s->ffn_tokens > 0)
            afd_shift_add(&d->shift, AFD_SHIFT_ON_FFN_TOKENS, t, s->ffn_tokens,
                          NULL);
        if (s->ffn_ms > 0)
            afd_shift_add(&d->shift, AFD_SHIFT_ON_FFN, t, s->ffn_ms, NULL);
    }

    if (s->role == AFD_ROLE_ATTENTION && s->attention_ms > 0) {
        afd_calib_add_attention(d->calib, s->token_load, s->attention_ms, NULL);
        stage_add(&d->stages, AFD_REGIME_ATTENTION, s->attention_ms);
    }
    if (s->comm_ms > 0) {
        /* One regressor per mode: an FFN row's tokens are r*B, never B. */
        if (s->role == AFD_ROLE_FFN)
            n = d->cfg.profile.comm_mode == AFD_COMM_AGGREGATE ? s->ffn_tokens
                                                               : 0;
        else if (d->cfg.profile.comm_mode == AFD_COMM_PER_INSTANCE)
            n = s->batch_size;
        else
            n = s->batch_size * afd_deployment_current_x(d) /
                afd_deployment_current_y(d);
        if (n > 0)
            afd_calib_add_comm(d->calib, n, s->comm_ms, NULL);
        stage_add(&d->stages, AFD_REGIME_COMMUNICATION, s->comm_ms);
    }
    if (s->role == AFD_ROLE_FFN && s->ffn_ms > 0) {
        if (s->ffn_tokens > 0)
            afd_calib_add_ffn(d->calib, s->ffn_tokens, s->ffn_ms, NULL);
        stage_add(&d->stages, AFD_REGIME_FFN, s->ffn_ms);
    }
}

static enum afd_reject_reason upsert(struct afd_deployment *d,
                                     const struct afd_step_sample *s,
                                     int64_t now_ms, struct afd_instance **row,
                                     char *err)
{
    struct afd_instance *in;
    size_t len;
    uint64_t h = afd_registry_hash(s->instance_id, &len);

    in = slot_find(d, s->instance_id, len, h);
    if (!in) {
        if (d->n_instances >= d->reg->cfg->max_instances) {
            afd_err(err, AFD_ENOMEM,
                    "deployment '%s' already tracks %zu instances (the "
                    "limit); instance '%s' ignored",
                    d->cfg.name, d->n_instances, s->instance_id);
            return AFD_REJECT_CAPACITY;
        }
        if (table_reserve(d, d->n_instances + 1) < 0) {
            afd_err(err, AFD_ENOMEM, "out of memory adding instance '%s'",
                    s->instance_id);
            return AFD_REJECT_CAPACITY;
        }
        in = afd_registry_slot_place(d->slots, d->n_slots, h);
        in->hash = h;
        memcpy(in->id, s->instance_id, len + 1);
        in->role = s->role;
        in->first_seen_ms = now_ms;
        d->n_role[s->role]++;
        d->n_instances++;
    } else if (in->role != s->role) {
        /* An instance may be redeployed with another role. */
        d->n_role[in->role]--;
        d->n_role[s->role]++;
        in->role = s->role;
    }
    /* Slots added or handed back, for the forecast's ledger (slots.c); a
     * new row's are a new instance's. */
    if (s->role == AFD_ROLE_ATTENTION && s->batch_size != in->batch_size)
        afd_slots_changed(d, s->batch_size - in->batch_size);
    in->token_load = s->token_load;
    in->batch_size = s->batch_size;
    in->last_seen_ms = now_ms;
    *row = in;
    return AFD_REJECT_NONE;
}

/*
 * Items are validated before their deployment is resolved, so a bad item
 * never auto-creates a deployment; its rejection is charged to the
 * deployment when it is resolved or exists, else to the registry (orphan).
 */
static enum afd_reject_reason reject(struct afd_registry *reg,
                                     struct afd_deployment *d,
                                     const char *deployment,
                                     enum afd_reject_reason r)
{
    if (d)
        d->counters.rejected[r]++;
    else
        afd_registry_count_reject(reg, deployment, r);
    return r;
}

enum afd_reject_reason afd_registry_add_step(struct afd_registry *reg,
                                             const char *deployment,
                                             const struct afd_step_sample *s,
                                             int64_t now_ms, char *err)
{
    struct afd_deployment *d = NULL;

    return afd_deployment_add_step(reg, &d, deployment, s, now_ms, err);
}

enum afd_reject_reason afd_deployment_add_step(struct afd_registry *reg,
                                               struct afd_deployment **dp,
                                               const char *deployment,
                                               const struct afd_step_sample *s,
                                               int64_t now_ms, char *err)
{
    struct afd_deployment *d = *dp;
    enum afd_reject_reason r = AFD_REJECT_NONE;
    struct afd_instance *row = NULL;

    AFD_ASSERT_OWNER(&reg->owner);

    if ((d || (deployment && deployment[0])) &&
        (r = afd_step_sample_check(s, err)) != AFD_REJECT_NONE)
        return reject(reg, d, deployment, r);
    if (!d && (r = resolve(reg, deployment, dp, err)) != AFD_REJECT_NONE)
        return r;
    d = *dp;
    if (reg->eval_fn) {
        /* One absurd timestamp would stop a telemetry clock for good. */
        if (s->timestamp_ms > AFD_MAX_TIMESTAMP_MS) {
            afd_err(err, AFD_EINVAL,
                    "step sample field 'timestamp_ms' must be <= %lld (year "
                    "9999) with the telemetry clock, got %lld",
                    (long long)AFD_MAX_TIMESTAMP_MS,
                    (long long)s->timestamp_ms);
            d->counters.rejected[AFD_REJECT_OUT_OF_RANGE]++;
            return AFD_REJECT_OUT_OF_RANGE;
        }
        now_ms = s->timestamp_ms > d->clock_ms ? s->timestamp_ms : d->clock_ms;
    }
    if ((r = upsert(d, s, now_ms, &row, err)) != AFD_REJECT_NONE) {
        d->counters.rejected[r]++;
        return r;
    }
    feed(d, s, row, now_ms);
    d->counters.steps_accepted++;
    afd_slots_step_clock(d, s, row, now_ms);
    d->clock_ms = now_ms > d->clock_ms ? now_ms : d->clock_ms;
    if (reg->eval_fn &&
        (d->next_eval_ms == 0 || d->clock_ms >= d->next_eval_ms)) {
        d->next_eval_ms =
            (d->clock_ms / reg->eval_interval_ms + 1) * reg->eval_interval_ms;
        reg->eval_fn(d, d->clock_ms, reg->eval_arg);
    }
    return AFD_REJECT_NONE;
}

void afd_registry_set_telemetry_clock(struct afd_registry *reg,
                                      int64_t interval_ms,
                                      afd_registry_eval_fn fn, void *arg)
{
    assert(interval_ms > 0 && fn);
    reg->eval_interval_ms = interval_ms;
    reg->eval_fn = fn;
    reg->eval_arg = arg;
}

bool afd_registry_telemetry_clock(const struct afd_registry *reg)
{
    return reg->eval_fn != NULL;
}

void afd_deployment_shift_report(const struct afd_deployment *d,
                                 struct afd_recommendation *rec)
{
    static const char *const on[AFD_SHIFT_CHANNELS] = {
        "token_load", "attention_ms", "ffn_tokens", "ffn_ms"};
    const struct afd_shift *s = &d->shift;

    rec->shifts = s->shifts;
    rec->last_shift_ms = s->shifts ? (int64_t)llround(s->last_t * 1000) : 0;
    rec->last_shift_direction = s->last_direction;
    rec->last_shift_on = s->last_channel >= 0 ? on[s->last_channel] : "";
}

int64_t afd_deployment_clock_ms(const struct afd_deployment *d)
{
    return d->clock_ms;
}

void afd_deployment_set_control(struct afd_deployment *d,
                                struct afd_dep_control *ctl)
{
    d->control = ctl;
}

double afd_deployment_step_ms(const struct afd_deployment *d)
{
    double step = 0;
    int k;

    for (k = 0; k < AFD_REGIME_COUNT; k++)
        if (d->stages.n[k] && d->stages.ms[k] > step)
            step = d->stages.ms[k];
    return step;
}

struct afd_dep_control *afd_deployment_control(const struct afd_deployment *d)
{
    return d->control;
}

enum afd_reject_reason afd_registry_add_request(struct afd_registry *reg,
                                                const char *deployment,
                                                double prompt, double decode,
                                                char *err)
{
    struct afd_deployment *d = NULL;

    return afd_deployment_add_request(reg, &d, deployment, prompt, decode, 1,
                                      err);
}

enum afd_reject_reason afd_deployment_add_request(struct afd_registry *reg,
                                                  struct afd_deployment **dp,
                                                  const char *deployment,
                                                  double prompt, double decode,
                                                  double weight, char *err)
{
    struct afd_deployment *d = *dp;
    enum afd_reject_reason r = AFD_REJECT_NONE;

    AFD_ASSERT_OWNER(&reg->owner);

    if ((d || (deployment && deployment[0])) &&
        (r = afd_request_check(prompt, decode, weight, err)) != AFD_REJECT_NONE)
        return reject(reg, d, deployment, r);
    if (!d && (r = resolve(reg, deployment, dp, err)) != AFD_REJECT_NONE)
        return r;
    d = *dp;
    /* Checked above; the estimator re-checks its own domain. */
    if (afd_workload_add(d->workload, prompt, decode, err) < 0) {
        d->counters.rejected[AFD_REJECT_OUT_OF_RANGE]++;
        return AFD_REJECT_OUT_OF_RANGE;
    }
    afd_slots_report(d);
    if (weight == 0)
        weight = 1;
    afd_transient_request(&d->transient, d->req_from, d->req_step_clock, prompt,
                          decode, weight, afd_slots_admits(d, weight));
    d->counters.requests_accepted++;
    return AFD_REJECT_NONE;
}

void afd_registry_count_reject(struct afd_registry *reg, const char *deployment,
                               enum afd_reject_reason reason)
{
    struct afd_deployment *d = deployment ? find(reg, deployment) : NULL;

    AFD_ASSERT_OWNER(&reg->owner);

    if ((unsigned)reason >= AFD_REJECT_COUNT)
        reason = AFD_REJECT_MALFORMED;
    if (d)
        d->counters.rejected[reason]++;
    else
        reg->orphan[reason]++;
}

void afd_registry_orphan_rejects(const struct afd_registry *reg,
                                 uint64_t out[AFD_REJECT_COUNT])
{
    memcpy(out, reg->orphan, sizeof(reg->orphan));
}

void afd_registry_tick(struct afd_registry *reg, int64_t now_ms)
{
    size_t i;

    AFD_ASSERT_OWNER(&reg->owner);

    for (i = 0; i < reg->n_deps; i++)
        afd_deployment_recompute(reg->deps[i], now_ms);
}

/* ---- per-deployment accessors ---- */

const char *afd_deployment_name(const struct afd_deployment *d)
{
    return d->cfg.name;
}

const struct afd_deployment_config *
afd_deployment_config(const struct afd_deployment *d)
{
    return &d->cfg;
}

const struct afd_recommendation *
afd_deployment_recommendation(const struct afd_deployment *d)
{
    return &d->rec;
}

void afd_deployment_counters(const struct afd_deployment *d,
                             struct afd_deployment_counters *out)
{
    *out = d->counters;
}

bool afd_deployment_observed_stage_ms(const struct afd_deployment *d,
                                      double ms[AFD_REGIME_COUNT])
{
    bool any = false;
    int i;

    for (i = 0; i < AFD_REGIME_COUNT; i++) {
        ms[i] = d->stages.n[i] ? d->stages.ms[i] : 0;
        any = any || d->stages.n[i];
    }
    return any;
}

bool afd_deployment_stage_measured(const struct afd_deployment *d,
                                   enum afd_regime stage)
{
    return (unsigned)stage < AFD_REGIME_COUNT && d->stages.n[stage] > 0;
}

int afd_deployment_live_instances(const struct afd_deployment *d,
                                  enum afd_role role)
{
    if (role != AFD_ROLE_ATTENTION && role != AFD_ROLE_FFN)
        return 0;
    return d->n_role[role];
}

struct afd_workload *afd_deployment_workload(struct afd_deployment *d)
{
    return d->workload;
}

struct afd_calib *afd_deployment_calib(struct afd_deployment *d)
{
    return d->calib;
}
