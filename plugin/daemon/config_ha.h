/*
 * config_ha.h - the "ha" configuration section (plugin/ha/ha.h's struct):
 *     "ha": {"etcd_endpoints": "10.0.0.1:2379,10.0.0.2:2379",
 *            "prefix": "/afd-sizer", "ttl_ms": 5000,
 *            "state_interval_ms": 1000, "advertise": "10.0.0.7:50051",
 *            "tls_ca_file": "ca.pem", "tls_cert_file": "c.pem",
 *            "tls_key_file": "c.key"}
 * Absent or empty etcd_endpoints: single node (no HA). Bounds are
 * afd_ha_config_check's. Unknown keys are errors.
 */
#ifndef AFD_CONFIG_HA_H
#define AFD_CONFIG_HA_H

#include <jansson.h>

#include "plugin/ha/ha.h"

/* Reads root's "ha" object into hc (unchanged on error) and removes it
 * from root. AFD_EINVAL naming file and field. */
int afd_config_ha_load(struct afd_ha_config *hc, json_t *root, const char *file,
                       char *err);

#endif
