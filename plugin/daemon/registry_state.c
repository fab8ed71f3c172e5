/*
 * registry_state.c - a deployment's instance table and stage means as
 * plain values (registry_internal.h), for snapshots and tests.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/daemon/registry_internal.h"

/* ---- snapshot support (registry_internal.h) ---- */

size_t afd_deployment_instance_count(const struct afd_deployment *d)
{
    return d->n_instances;
}

size_t afd_deployment_instances_export(const struct afd_deployment *d,
                                       struct afd_instance_state *out,
                                       size_t cap)
{
    size_t i, n = 0;

    for (i = 0; i < d->n_slots && n < cap; i++) {
        const struct afd_instance *in = &d->slots[i];

        if (!in->hash)
            continue;
        memcpy(out[n].id, in->id, sizeof(out[n].id));
        out[n].role = in->role;
        out[n].token_load = in->token_load;
        out[n].batch_size = in->batch_size;
        out[n].last_seen_ms = in->last_seen_ms;
        n++;
    }
    return n;
}

int afd_instances_check(const struct afd_registry *reg,
                        const struct afd_instance_state *rows, size_t n,
                        char *err)
{
    struct afd_step_sample s;
    size_t i, j;

    if (n > reg->cfg->max_instances)
        return afd_err(err, AFD_EINVAL, "%zu instances exceed the limit of %zu",
                       n, reg->cfg->max_instances);
    for (i = 0; i < n; i++) {
        memset(&s, 0, sizeof(s));
        s.instance_id = rows[i].id;
        if (strnlen(rows[i].id, AFD_NAME_LEN) >= AFD_NAME_LEN)
            return afd_err(err, AFD_EINVAL, "instance %zu: id too long", i);
        s.role = rows[i].role;
        s.token_load = rows[i].token_load;
        s.batch_size = rows[i].batch_size;
        if (afd_step_sample_check(&s, err) != AFD_REJECT_NONE)
            return AFD_EINVAL;
        /* Quadratic, but only at restore and for a bounded table. */
        for (j = 0; j < i; j++)
            if (!strcmp(rows[i].id, rows[j].id))
                return afd_err(err, AFD_EINVAL,
                               "instance id '%s' appears twice", rows[i].id);
    }
    return AFD_OK;
}

int afd_deployment_instances_import(struct afd_deployment *d,
                                    const struct afd_instance_state *rows,
                                    size_t n, char *err)
{
    struct afd_instance *ns = NULL, *in;
    size_t len, n_slots = n ? afd_registry_slots_for(n * 4 / 3 + 1) : 0;
    int rc = afd_instances_check(d->reg, rows, n, err);
    size_t i;

    if (rc < 0)
        return rc;
    if (n_slots && !(ns = calloc(n_slots, sizeof(*ns))))
        return afd_err(err, AFD_ENOMEM, "out of memory restoring instances");
    free(d->slots);
    d->slots = ns;
    d->n_slots = n_slots;
    d->n_instances = n;
    d->n_role[0] = d->n_role[1] = 0;
    for (i = 0; i < n; i++) {
        uint64_t h = afd_registry_hash(rows[i].id, &len);

        in = afd_registry_slot_place(ns, n_slots, h);
        in->hash = h;
        memcpy(in->id, rows[i].id, len + 1);
        in->role = rows[i].role;
        in->token_load = rows[i].token_load;
        in->batch_size = rows[i].batch_size;
        in->last_seen_ms = rows[i].last_seen_ms;
        d->n_role[in->role]++;
    }
    return AFD_OK;
}

void afd_deployment_stage_means_export(const struct afd_deployment *d,
                                       struct afd_stage_means *out)
{
    *out = d->stages;
}

int afd_stage_means_check(const struct afd_stage_means *in, char *err)
{
    int i;

    for (i = 0; i < AFD_REGIME_COUNT; i++)
        if (!isfinite(in->ms[i]) || in->ms[i] < 0 ||
            in->ms[i] > AFD_MAX_STAGE_MS)
            return afd_err(err, AFD_EINVAL,
                           "observed %s stage mean must be finite and in "
                           "[0, %g], got %g",
                           afd_regime_name((enum afd_regime)i),
                           AFD_MAX_STAGE_MS, in->ms[i]);
    return AFD_OK;
}

void afd_deployment_stage_means_import(struct afd_deployment *d,
                                       const struct afd_stage_means *in)
{
    d->stages = *in;
}
