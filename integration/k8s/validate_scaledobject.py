#!/usr/bin/python3
"""Checks KEDA ScaledObject manifests against the fields KEDA documents.

usage: validate_scaledobject.py FILE...

Without a cluster, this is the check a ScaledObject for afd-sizer gets
before it is applied: every key must be one KEDA's ScaledObject reference
(keda.sh/docs, "ScaledObject specification", and the CRD behind it) or
Kubernetes' HPA behavior documents, with the documented type and range.
Unknown keys are errors, since Kubernetes would drop them silently and the
setting would be lost. For `external` / `external-push` triggers the trigger
metadata is checked against KEDA's External scaler page (scalerAddress,
unsafeSsl, enableTLS; TLS material belongs in a TriggerAuthentication) plus
the one key afd-sizer reads, `deployment`: KEDA passes the whole metadata
map to the scaler, so any other key is a typo afd-sizer would ignore.

Prints one line per problem, `FILE: doc N: path: message`, and exits 1 when
there is any error (warnings alone exit 0). Needs PyYAML (Debian
python3-yaml).
"""
import re
import sys

import yaml

INT32_MAX = 2**31 - 1
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?"
                               r"(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
HOST_PORT = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9]([-A-Za-z0-9.]*"
                       r"[A-Za-z0-9])?):([0-9]{1,5})$")
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)"
                      r"(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?\d+)?$")
AFD_NAME_MAX = 127  # afd-sizer deployment names are < 128 bytes

# KEDA's documented ScaledObject annotations (value: "true"/"false" or a
# count); other annotations are the user's business and pass.
KEDA_ANNOTATIONS = {
    "scaledobject.keda.sh/transfer-hpa-ownership": "bool",
    "validations.keda.sh/hpa-ownership": "bool",
    "autoscaling.keda.sh/paused": "bool",
    "autoscaling.keda.sh/paused-replicas": "int",
    "autoscaling.keda.sh/paused-scale-down": "bool",
    "scaledobject.keda.sh/hpa-excluded-labels": "str",
}

# ---------------------------------------------------------------- schema
# A schema node is one of:
#   ("str",) ("bool",) ("int", lo, hi) ("quantity",) ("enum", values...)
#   ("map_str",)                     string -> string map
#   ("list", item_schema, min_len)
#   ("obj", {key: (schema, required)}, check_fn or None)


def s_int(lo=0, hi=INT32_MAX):
    return ("int", lo, hi)


def obj(fields, check=None):
    return ("obj", fields, check)


HPA_POLICY = obj({
    "type": (("enum", "Pods", "Percent"), True),
    "value": (s_int(1), True),
    "periodSeconds": (s_int(1, 1800), True),
})
HPA_RULES = obj({
    "stabilizationWindowSeconds": (s_int(0, 3600), False),
    "selectPolicy": (("enum", "Max", "Min", "Disabled"), False),
    "policies": (("list", HPA_POLICY, 1), False),
    # Alpha since Kubernetes 1.33 (feature gate HPAConfigurableTolerance).
    "tolerance": (("quantity",), False),
})
SCALING_MODIFIERS = obj({
    "formula": (("str",), True),
    "target": (("str",), True),
    "activationTarget": (("str",), False),
    "metricType": (("enum", "AverageValue", "Value"), False),
})
TRIGGER = obj({
    "type": (("str",), True),
    "metadata": (("map_str",), True),
    "name": (("str",), False),
    "useCachedMetrics": (("bool",), False),
    "authenticationRef": (obj({
        "name": (("str",), True),
        "kind": (("enum", "TriggerAuthentication",
                  "ClusterTriggerAuthentication"), False),
    }), False),
    "metricType": (("enum", "AverageValue", "Value", "Utilization"), False),
}, "trigger")
SPEC = obj({
    "scaleTargetRef": (obj({
        "name": (("str",), True),
        "apiVersion": (("str",), False),
        "kind": (("str",), False),
        "envSourceContainerName": (("str",), False),
    }), True),
    "pollingInterval": (s_int(1), False),
    "cooldownPeriod": (s_int(0), False),
    "initialCooldownPeriod": (s_int(0), False),
    "idleReplicaCount": (s_int(0), False),
    "minReplicaCount": (s_int(0), False),
    "maxReplicaCount": (s_int(1), False),
    "fallback": (obj({
        "failureThreshold": (s_int(0), True),
        "replicas": (s_int(0), True),
        "behavior": (("enum", "static", "currentReplicas",
                      "currentReplicasIfHigher", "currentReplicasIfLower"),
                     False),
    }), False),
    "advanced": (obj({
        "restoreToOriginalReplicaCount": (("bool",), False),
        "horizontalPodAutoscalerConfig": (obj({
            "name": (("str",), False),
            "behavior": (obj({
                "scaleUp": (HPA_RULES, False),
                "scaleDown": (HPA_RULES, False),
            }), False),
        }), False),
        "scalingModifiers": (SCALING_MODIFIERS, False),
    }), False),
    "triggers": (("list", TRIGGER, 1), True),
}, "spec")
METADATA = obj({
    "name": (("str",), True),
    "namespace": (("str",), False),
    "labels": (("map_str",), False),
    "annotations": (("map_str",), False),
}, "metadata")
DOCUMENT = obj({
    "apiVersion": (("enum", "keda.sh/v1alpha1"), True),
    "kind": (("enum", "ScaledObject"), True),
    "metadata": (METADATA, True),
    "spec": (SPEC, True),
})

# External scaler trigger metadata (KEDA "External" scaler page and its
# scaler code): key -> (kind, note).
EXTERNAL_KEYS = {
    "scalerAddress": "host_port",
    "unsafeSsl": "bool_str",
    "enableTLS": "bool_str",
}
EXTERNAL_AUTH_KEYS = ("caCert", "tlsClientCert", "tlsClientKey")


class Report:
    def __init__(self, where):
        self.where = where
        self.errors = []
        self.warnings = []

    def error(self, path, msg):
        self.errors.append("%s: %s: %s" % (self.where, path or "<root>", msg))

    def warn(self, path, msg):
        self.warnings.append("%s: %s: warning: %s"
                             % (self.where, path or "<root>", msg))


def type_name(v):
    return {dict: "a mapping", list: "a list", str: "a string",
            bool: "a boolean", int: "an integer", float: "a number",
            type(None): "null"}.get(type(v), type(v).__name__)


def join(path, key):
    return "%s.%s" % (path, key) if path else str(key)


def check(node, schema, path, rep):
    """Checks node against schema; records errors in rep."""
    kind = schema[0]
    if kind == "str":
        if not isinstance(node, str) or not node:
            rep.error(path, "must be a non-empty string, got %s"
                      % type_name(node))
    elif kind == "bool":
        if not isinstance(node, bool):
            rep.error(path, "must be true or false, got %s" % type_name(node))
    elif kind == "int":
        lo, hi = schema[1], schema[2]
        if isinstance(node, bool) or not isinstance(node, int):
            rep.error(path, "must be an integer, got %s %r"
                      % (type_name(node), node))
        elif not lo <= node <= hi:
            rep.error(path, "must be in [%d, %d], got %d" % (lo, hi, node))
    elif kind == "quantity":
        ok = (isinstance(node, (int, float)) and not isinstance(node, bool)) \
            or (isinstance(node, str) and QUANTITY.match(node))
        if not ok:
            rep.error(path, "must be a Kubernetes quantity, got %r" % (node,))
    elif kind == "enum":
        if node not in schema[1:]:
            rep.error(path, "must be one of %s, got %r"
                      % (", ".join(schema[1:]), node))
    elif kind == "map_str":
        if not isinstance(node, dict):
            rep.error(path, "must be a mapping of strings, got %s"
                      % type_name(node))
            return
        for k, v in node.items():
            if not isinstance(v, str):
                rep.error(join(path, k), "must be a string (quote it: "
                          "\"%s\"), got %s" % (v, type_name(v)))
    elif kind == "list":
        if not isinstance(node, list):
            rep.error(path, "must be a list, got %s" % type_name(node))
            return
        if len(node) < schema[2]:
            rep.error(path, "must have at least %d item(s)" % schema[2])
        for i, item in enumerate(node):
            check(item, schema[1], "%s[%d]" % (path, i), rep)
    elif kind == "obj":
        check_obj(node, schema, path, rep)
    else:
        raise AssertionError("bad schema kind " + kind)


def check_obj(node, schema, path, rep):
    fields, extra = schema[1], schema[2]
    if not isinstance(node, dict):
        rep.error(path, "must be a mapping, got %s" % type_name(node))
        return
    for k in node:
        if k not in fields:
            rep.error(join(path, k), "unknown key (documented keys here: %s)"
                      % ", ".join(sorted(fields)))
    for k, (sub, required) in fields.items():
        if k in node:
            check(node[k], sub, join(path, k), rep)
        elif required:
            rep.error(join(path, k), "is required")
    if extra:
        EXTRA_CHECKS[extra](node, path, rep)


# ------------------------------------------------------ cross-field rules

def check_metadata(meta, path, rep):
    name = meta.get("name")
    if isinstance(name, str) and (len(name) > 253 or
                                  not DNS1123_SUBDOMAIN.match(name)):
        rep.error(join(path, "name"), "must be a lower-case DNS-1123 "
                  "subdomain, got %r" % name)
    ann = meta.get("annotations")
    if isinstance(ann, dict):
        for k, v in ann.items():
            want = KEDA_ANNOTATIONS.get(k)
            if want is None and k.split("/")[0].endswith("keda.sh"):
                rep.error(join(join(path, "annotations"), k),
                          "unknown KEDA annotation (documented: %s)"
                          % ", ".join(sorted(KEDA_ANNOTATIONS)))
            elif want == "bool" and v not in ("true", "false"):
                rep.error(join(join(path, "annotations"), k),
                          "must be \"true\" or \"false\", got %r" % (v,))
            elif want == "int" and not (isinstance(v, str) and v.isdigit()):
                rep.error(join(join(path, "annotations"), k),
                          "must be a replica count as a string, got %r" % (v,))


def ints(spec, *keys):
    return [spec.get(k) if isinstance(spec.get(k), int) and
            not isinstance(spec.get(k), bool) else None for k in keys]


def check_spec(spec, path, rep):
    lo, hi, idle = ints(spec, "minReplicaCount", "maxReplicaCount",
                        "idleReplicaCount")
    if lo is not None and hi is not None and lo > hi:
        rep.error(join(path, "minReplicaCount"), "%d is above "
                  "maxReplicaCount %d" % (lo, hi))
    if idle is not None:
        if idle >= (lo or 0):
            rep.error(join(path, "idleReplicaCount"), "%d must be below "
                      "minReplicaCount %d" % (idle, lo or 0))
        elif idle != 0:
            rep.warn(join(path, "idleReplicaCount"), "KEDA documents 0 as "
                     "the only value that works")
    triggers = spec.get("triggers")
    if isinstance(triggers, list):
        names = [t.get("name") for t in triggers
                 if isinstance(t, dict) and t.get("name")]
        for n in set(names):
            if names.count(n) > 1:
                rep.error(join(path, "triggers"), "trigger name %r is used "
                          "more than once" % n)
        if "fallback" in spec:
            avg = [t for t in triggers if isinstance(t, dict) and
                   t.get("type") not in ("cpu", "memory") and
                   t.get("metricType", "AverageValue") == "AverageValue"]
            if not avg:
                rep.error(join(path, "fallback"), "needs a trigger (not cpu "
                          "or memory) with metricType AverageValue")


def check_trigger(trig, path, rep):
    if trig.get("type") not in ("external", "external-push"):
        return
    meta = trig.get("metadata")
    if not isinstance(meta, dict):
        return
    mpath = join(path, "metadata")
    for k, v in meta.items():
        kp = join(mpath, k)
        kind = EXTERNAL_KEYS.get(k)
        if kind == "host_port":
            m = HOST_PORT.match(v) if isinstance(v, str) else None
            if not m or not 1 <= int(m.group(3)) <= 65535:
                rep.error(kp, "must be host:port, got %r" % (v,))
        elif kind == "bool_str":
            if v not in ("true", "false"):
                rep.error(kp, "must be \"true\" or \"false\", got %r" % (v,))
        elif k in EXTERNAL_AUTH_KEYS:
            rep.warn(kp, "KEDA reads %s from a TriggerAuthentication "
                     "(authenticationRef), not from trigger metadata" % k)
        elif k == "tlsCertFile":
            rep.error(kp, "deprecated and dropped from KEDA's docs "
                      "(kedacore/keda#4549): use caCert, tlsClientCert and "
                      "tlsClientKey in a TriggerAuthentication")
        elif k == "deployment":
            if not isinstance(v, str) or not v or \
                    len(v.encode()) > AFD_NAME_MAX:
                rep.error(kp, "must be afd-sizer's deployment name: "
                          "non-empty, at most %d bytes" % AFD_NAME_MAX)
        else:
            rep.error(kp, "unknown key (KEDA's external trigger documents "
                      "%s; afd-sizer reads deployment)"
                      % ", ".join(sorted(EXTERNAL_KEYS)))
    if "scalerAddress" not in meta:
        rep.error(join(mpath, "scalerAddress"), "is required")
    if "deployment" not in meta:
        rep.error(join(mpath, "deployment"), "is required: afd-sizer "
                  "serves the deployment this key names")
    if trig.get("metricType", "AverageValue") != "AverageValue":
        rep.error(join(path, "metricType"), "must be AverageValue: "
                  "afd-sizer serves the desired replica count with target "
                  "1, and %s would multiply it by the current count"
                  % trig.get("metricType"))


EXTRA_CHECKS = {"metadata": check_metadata, "spec": check_spec,
                "trigger": check_trigger}


# ------------------------------------------------------------- loading

class StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (PyYAML keeps the last one)."""


def _mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, "duplicate key %r" % (key,), key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def validate_text(text, name):
    """Returns (errors, warnings) for one file's text."""
    try:
        docs = [d for d in yaml.load_all(text, Loader=StrictLoader)
                if d is not None]
    except yaml.YAMLError as e:
        msg = str(e).replace("\n", " ")
        return ["%s: not valid YAML: %s" % (name, msg)], []
    if not docs:
        return ["%s: no YAML document found" % name], []
    errors, warnings = [], []
    for i, doc in enumerate(docs):
        rep = Report("%s: doc %d" % (name, i + 1))
        check(doc, DOCUMENT, "", rep)
        errors += rep.errors
        warnings += rep.warnings
    return errors, warnings


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        sys.stderr.write(__doc__)
        return 2
    bad = 0
    for path in argv[1:]:
        try:
            with open(path, encoding="utf-8") as f:
                text = f.read()
        except OSError as e:
            print("%s: cannot read: %s" % (path, e.strerror))
            bad += 1
            continue
        errors, warnings = validate_text(text, path)
        for line in warnings + errors:
            print(line)
        if errors:
            bad += 1
        else:
            print("%s: ok (ScaledObject fields as KEDA documents them)" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
