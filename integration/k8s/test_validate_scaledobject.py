#!/usr/bin/python3
"""Tests of validate_scaledobject.py: the shipped scaledobject.yaml passes,
and each documented mistake in a copy of it is caught with a message naming
the key.

usage: test_validate_scaledobject.py
Prints one line per check and `test_validate_scaledobject: N passed, M
failed`; exits 1 when any check failed.
"""
import copy
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import validate_scaledobject as v  # noqa: E402

BASE_PATH = os.path.join(HERE, "scaledobject.yaml")
with open(BASE_PATH, encoding="utf-8") as _f:
    BASE_TEXT = _f.read()
BASE = yaml.safe_load(BASE_TEXT)


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, what, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail))


def validate(doc):
    return v.validate_text(yaml.safe_dump(doc, sort_keys=False), "so.yaml")


def mutated(fn):
    doc = copy.deepcopy(BASE)
    fn(doc)
    return validate(doc)


def trig(doc):
    return doc["spec"]["triggers"][0]


def meta(doc):
    return trig(doc)["metadata"]


def hpa(doc):
    return doc["spec"]["advanced"]["horizontalPodAutoscalerConfig"]["behavior"]


# (name, mutation, substring every expected error line must show)
NEGATIVE = [
    ("unknown spec key", lambda d: d["spec"].update(pollingIntervall=30),
     "spec.pollingIntervall: unknown key"),
    ("misspelt afd-sizer metadata key",
     lambda d: meta(d).update(deploymnet=meta(d).pop("deployment")),
     "spec.triggers[0].metadata.deploymnet: unknown key"),
    ("missing deployment key", lambda d: meta(d).pop("deployment"),
     "spec.triggers[0].metadata.deployment: is required"),
    ("boolean where KEDA wants a string",
     lambda d: meta(d).update(unsafeSsl=False),
     "spec.triggers[0].metadata.unsafeSsl: must be a string"),
    ("unsafeSsl not true/false", lambda d: meta(d).update(unsafeSsl="yes"),
     "spec.triggers[0].metadata.unsafeSsl: must be \"true\" or \"false\""),
    ("scalerAddress without port",
     lambda d: meta(d).update(scalerAddress="afd-sizer.afd-system"),
     "spec.triggers[0].metadata.scalerAddress: must be host:port"),
    ("deprecated tlsCertFile",
     lambda d: meta(d).update(tlsCertFile="/tls/cert.pem"),
     "spec.triggers[0].metadata.tlsCertFile: deprecated"),
    ("metricType Value", lambda d: trig(d).update(metricType="Value"),
     "spec.triggers[0].metricType: must be AverageValue"),
    ("min above max", lambda d: d["spec"].update(minReplicaCount=80),
     "spec.minReplicaCount: 80 is above maxReplicaCount 64"),
    ("idle not below min", lambda d: d["spec"].update(idleReplicaCount=2),
     "spec.idleReplicaCount: 2 must be below minReplicaCount 2"),
    ("integer as a string", lambda d: d["spec"].update(pollingInterval="15"),
     "spec.pollingInterval: must be an integer"),
    ("negative cooldown", lambda d: d["spec"].update(cooldownPeriod=-1),
     "spec.cooldownPeriod: must be in [0, 2147483647], got -1"),
    ("periodSeconds above 1800",
     lambda d: hpa(d)["scaleUp"]["policies"][0].update(periodSeconds=3600),
     "scaleUp.policies[0].periodSeconds: must be in [1, 1800], got 3600"),
    ("stabilization window above 3600",
     lambda d: hpa(d)["scaleDown"].update(stabilizationWindowSeconds=7200),
     "scaleDown.stabilizationWindowSeconds: must be in [0, 3600]"),
    ("policy type not Pods/Percent",
     lambda d: hpa(d)["scaleDown"]["policies"][0].update(type="pods"),
     "scaleDown.policies[0].type: must be one of Pods, Percent"),
    ("misspelt HPA behavior key",
     lambda d: hpa(d)["scaleUp"].update(
         stabilisationWindowSeconds=hpa(d)["scaleUp"].pop(
             "stabilizationWindowSeconds")),
     "scaleUp.stabilisationWindowSeconds: unknown key"),
    ("fallback behavior not documented",
     lambda d: d["spec"]["fallback"].update(behavior="hold"),
     "spec.fallback.behavior: must be one of static"),
    ("fallback without replicas", lambda d: d["spec"]["fallback"].pop(
        "replicas"), "spec.fallback.replicas: is required"),
    ("scaleTargetRef without name",
     lambda d: d["spec"]["scaleTargetRef"].pop("name"),
     "spec.scaleTargetRef.name: is required"),
    ("no triggers", lambda d: d["spec"].update(triggers=[]),
     "spec.triggers: must have at least 1 item(s)"),
    ("wrong kind", lambda d: d.update(kind="ScaledJob"),
     "kind: must be one of ScaledObject"),
    ("wrong apiVersion", lambda d: d.update(apiVersion="keda.k8s.io/v1alpha1"),
     "apiVersion: must be one of keda.sh/v1alpha1"),
    ("upper-case name", lambda d: d["metadata"].update(name="Llama"),
     "metadata.name: must be a lower-case DNS-1123 subdomain"),
    ("unknown KEDA annotation", lambda d: d["metadata"].update(
        annotations={"autoscaling.keda.sh/pause": "true"}),
     "metadata.annotations.autoscaling.keda.sh/pause: unknown KEDA"),
    ("unknown metadata key", lambda d: d["metadata"].update(uid="x"),
     "metadata.uid: unknown key"),
]


def main():
    c = Checks()
    errors, warnings = v.validate_text(BASE_TEXT, BASE_PATH)
    c.check("shipped scaledobject.yaml has no error or warning",
            not errors and not warnings, "%r %r" % (errors, warnings))

    for name, fn, want in NEGATIVE:
        errors, _ = mutated(fn)
        c.check("rejects %s" % name,
                len(errors) >= 1 and any(want in e for e in errors),
                "want %r, got %r" % (want, errors))

    errors, warnings = mutated(lambda d: meta(d).update(caCert="/tls/ca"))
    c.check("caCert in metadata is a warning, not an error",
            not errors and any("TriggerAuthentication" in w
                               for w in warnings),
            "%r %r" % (errors, warnings))

    errors, _ = mutated(lambda d: d["metadata"].update(
        annotations={"autoscaling.keda.sh/paused": "true", "team": "x"}))
    c.check("documented KEDA annotation and a user annotation pass",
            not errors, repr(errors))

    errors, _ = mutated(lambda d: d["spec"].update(
        triggers=d["spec"]["triggers"] + [{"type": "cpu", "metricType":
                                           "Utilization",
                                           "metadata": {"value": "60"}}]))
    c.check("a second, non-external trigger passes", not errors, repr(errors))

    dup = BASE_TEXT.replace("  minReplicaCount: 2\n",
                            "  minReplicaCount: 2\n  minReplicaCount: 3\n")
    errors, _ = v.validate_text(dup, "dup.yaml")
    c.check("rejects a duplicate key",
            len(errors) == 1 and
            "duplicate key 'minReplicaCount'" in errors[0],
            repr(errors))

    errors, _ = v.validate_text("spec: [unclosed\n", "broken.yaml")
    c.check("rejects broken YAML",
            len(errors) == 1 and "not valid YAML" in errors[0], repr(errors))

    # The command line: exit 0 on the shipped file, 1 on a copy with an
    # unknown key, and the message names the file and the key.
    exe = [sys.executable, os.path.join(HERE, "validate_scaledobject.py")]
    r = subprocess.run(exe + [BASE_PATH], capture_output=True, text=True,
                       timeout=60)
    c.check("command line accepts scaledobject.yaml",
            r.returncode == 0 and "ok" in r.stdout, r.stdout + r.stderr)
    with tempfile.TemporaryDirectory(prefix="k8s-val-") as tmp:
        bad = os.path.join(tmp, "unknown-key.yaml")
        with open(bad, "w", encoding="utf-8") as f:
            f.write(BASE_TEXT.replace("  cooldownPeriod: 300\n",
                                      "  cooldownPeriod: 300\n"
                                      "  coolDownPeriod: 300\n"))
        r = subprocess.run(exe + [bad], capture_output=True, text=True,
                           timeout=60)
        c.check("command line rejects a copy with an unknown key",
                r.returncode == 1 and bad + ": doc 1: spec.coolDownPeriod: "
                "unknown key" in r.stdout, r.stdout + r.stderr)

    print("test_validate_scaledobject: %d passed, %d failed"
          % (c.passed, c.failed))
    return 1 if c.failed or not c.passed else 0


if __name__ == "__main__":
    sys.exit(main())
