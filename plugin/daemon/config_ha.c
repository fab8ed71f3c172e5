/*
 * config_ha.c - the "ha" configuration section (config_ha.h).
 */
#include "plugin/daemon/config_ha.h"

#include <stdio.h>
#include <string.h>

#include "estimator/base/error.h"
#include "plugin/io/json_field.h"

int afd_config_ha_load(struct afd_ha_config *hc, json_t *root, const char *file,
                       char *err)
{
    static const char *const known[] = {
        "etcd_endpoints",    "prefix",       "ttl_ms",
        "state_interval_ms", "advertise",    "tls_ca_file",
        "tls_cert_file",     "tls_key_file", NULL};
    struct afd_ha_config tmp = *hc;
    json_t *sec = json_object_get(root, "ha");
    char where[AFD_ERR_LEN / 2], why[AFD_ERR_LEN];
    long ttl = tmp.ttl_ms, interval = tmp.state_interval_ms;

    if (!sec)
        return AFD_OK;
    file = file ? file : "config";
    if (!json_is_object(sec))
        return afd_err(err, AFD_EINVAL, "%s: ha: must be an object", file);
    snprintf(where, sizeof(where), "%s: ha", file);
    if (afd_jf_keys(sec, where, known, err) ||
        afd_jf_string(sec, where, "etcd_endpoints", 0, tmp.endpoints,
                      sizeof(tmp.endpoints), err) ||
        afd_jf_string(sec, where, "prefix", 0, tmp.prefix, sizeof(tmp.prefix),
                      err) ||
        afd_jf_string(sec, where, "advertise", 0, tmp.advertise,
                      sizeof(tmp.advertise), err) ||
        afd_jf_string(sec, where, "tls_ca_file", 0, tmp.tls_ca_file,
                      sizeof(tmp.tls_ca_file), err) ||
        afd_jf_string(sec, where, "tls_cert_file", 0, tmp.tls_cert_file,
                      sizeof(tmp.tls_cert_file), err) ||
        afd_jf_string(sec, where, "tls_key_file", 0, tmp.tls_key_file,
                      sizeof(tmp.tls_key_file), err) ||
        afd_jf_integer(sec, where, "ttl_ms", 0, 0, 86400000, &ttl, err) ||
        afd_jf_integer(sec, where, "state_interval_ms", 0, 0, 86400000,
                       &interval, err))
        return AFD_EINVAL;
    tmp.ttl_ms = (int)ttl;
    tmp.state_interval_ms = (int)interval;
    if (afd_ha_config_check(&tmp, why))
        return afd_err(err, AFD_EINVAL, "%s: %s", file, why);
    *hc = tmp;
    json_object_del(root, "ha");
    return AFD_OK;
}
