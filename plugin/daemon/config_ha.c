/*
 * config_ha.c - the "ha" configuration section (config_ha.h).
 */
#include "plugin/daemon/config_ha.h"

#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"

static int bad(char *err, const char *file, const char *field, const char *why)
{
    return afd_err(err, AFD_EINVAL, "%s: ha.%s: %s", file ? file : "config",
                   field, why);
}

static int get_string(json_t *v, const char *file, const char *field, char *dst,
                      size_t cap, char *err)
{
    if (!json_is_string(v))
        return bad(err, file, field, "must be a string");
    if (json_string_length(v) >= cap)
        return bad(err, file, field, "too long");
    snprintf(dst, cap, "%s", json_string_value(v));
    return AFD_OK;
}

static int get_int(json_t *v, const char *file, const char *field, int *dst,
                   char *err)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        json_integer_value(v) > 86400000)
        return bad(err, file, field, "must be an integer number of ms");
    *dst = (int)json_integer_value(v);
    return AFD_OK;
}

int afd_config_ha_load(struct afd_ha_config *hc, json_t *root, const char *file,
                       char *err)
{
    struct afd_ha_config tmp = *hc;
    json_t *sec = json_object_get(root, "ha");
    const char *key;
    json_t *v;
    int rc = AFD_OK;
    char why[AFD_ERR_LEN];

    if (!sec)
        return AFD_OK;
    if (!json_is_object(sec))
        return afd_err(err, AFD_EINVAL, "%s: ha: must be an object",
                       file ? file : "config");
    json_object_foreach(sec, key, v)
    {
        if (!strcmp(key, "etcd_endpoints"))
            rc = get_string(v, file, key, tmp.endpoints, sizeof(tmp.endpoints),
                            err);
        else if (!strcmp(key, "prefix"))
            rc = get_string(v, file, key, tmp.prefix, sizeof(tmp.prefix), err);
        else if (!strcmp(key, "advertise"))
            rc = get_string(v, file, key, tmp.advertise, sizeof(tmp.advertise),
                            err);
        else if (!strcmp(key, "tls_ca_file"))
            rc = get_string(v, file, key, tmp.tls_ca_file,
                            sizeof(tmp.tls_ca_file), err);
        else if (!strcmp(key, "tls_cert_file"))
            rc = get_string(v, file, key, tmp.tls_cert_file,
                            sizeof(tmp.tls_cert_file), err);
        else if (!strcmp(key, "tls_key_file"))
            rc = get_string(v, file, key, tmp.tls_key_file,
                            sizeof(tmp.tls_key_file), err);
        else if (!strcmp(key, "ttl_ms"))
            rc = get_int(v, file, key, &tmp.ttl_ms, err);
        else if (!strcmp(key, "state_interval_ms"))
            rc = get_int(v, file, key, &tmp.state_interval_ms, err);
        else
            rc = bad(err, file, key,
                     "unknown key (known: etcd_endpoints, prefix, ttl_ms, "
                     "state_interval_ms, advertise, tls_ca_file, "
                     "tls_cert_file, tls_key_file)");
        if (rc)
            return rc;
    }
    if (afd_ha_config_check(&tmp, why))
        return afd_err(err, AFD_EINVAL, "%s: %s", file ? file : "config", why);
    *hc = tmp;
    json_object_del(root, "ha");
    return AFD_OK;
}
