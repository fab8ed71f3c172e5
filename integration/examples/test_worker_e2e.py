#!/usr/bin/python3
"""End-to-end: the example worker (worker.py) against a real daemon, and the
operator integrations wired to what the daemon really serves.

Starts `afd-sizer serve` on loopback port 0, runs worker.py for ~3 s against
it, then checks through the daemon's own interfaces:
  - the worker exits 0, nothing it sent was rejected, and it printed a valid
    recommendation;
  - Sizer.GetRecommendation for the worker's deployment is valid and reports
    the fleet the worker simulated (4 Attention, 1 FFN, B = 64, the finished
    requests the worker's ReportSummary counted), and its r* equals
    Sizer.Solve on the recommendation's own profile, B and theta;
  - KEDA's GetMetrics, called with the trigger metadata of
    integration/k8s/scaledobject.yaml (deployment renamed to the worker's),
    serves the recommendation's target_attention_instances, and
    GetMetricSpec's targetSize is 1 (the HPA form README.md documents);
  - every afd_* series the alert rules in
    integration/prometheus/afd-alerts.yml use is on /metrics;
  - worker.py against a closed port fails with a one-line message;
then stops the daemon with SIGTERM and expects exit status 0.

usage: test_worker_e2e.py BIN_DIR
"""
import json
import os
import re
import subprocess
import sys
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "integration", "e2e"))
import grpc_e2e_common as e2e  # noqa: E402

WORKER = os.path.join(HERE, "worker.py")
SCALEDOBJECT = os.path.join(ROOT, "integration", "k8s", "scaledobject.yaml")
ALERTS = os.path.join(ROOT, "integration", "prometheus", "afd-alerts.yml")
DEPLOYMENT = "e2e-worker"
# Advisory mode: KEDA serves the recommendation's target (command mode
# serves the latest scale command's target, integration/k8s/README.md).
CONFIG = json.dumps({"recompute_interval_ms": 200,
                     "controller": {"advisory": True}})


def run_worker(args, timeout):
    return subprocess.run([sys.executable, WORKER] + args, capture_output=True,
                          text=True, timeout=timeout)


def body(c, daemon, stubs, tmp):
    pb, pbg = stubs.afd_sizer_pb2, stubs.afd_sizer_pb2_grpc
    r = run_worker(["--target", daemon.grpc_addr, "--deployment", DEPLOYMENT,
                    "--seconds", "3", "--attention", "4", "--ffn", "1",
                    "--batch", "64"], timeout=90)
    print(r.stdout + r.stderr)
    c.check("worker exits 0", r.returncode == 0, r.stderr)
    m = re.search(r"streamed (\d+) batches: (\d+) steps and (\d+) requests "
                  r"accepted, (\d+) rejected", r.stdout)
    c.check("worker prints its ReportSummary", m is not None, r.stdout)
    if not m:
        return
    batches, steps, reqs, rejected = (int(g) for g in m.groups())
    # How many batches fit in 3 s depends on the machine's load (the worker
    # simulates its fleet in Python): a stream of several is what matters.
    c.check("worker streamed several batches in its 3 s (>= 2)",
            batches >= 2, "%d batches" % batches)
    # 5 steps per batch, 4 Attention + 1 FFN samples per step.
    c.check("every step sample was accepted", steps == batches * 5 * 5,
            "%d steps for %d batches" % (steps, batches))
    c.check("nothing was rejected", rejected == 0, r.stdout)
    c.check("worker prints a valid recommendation",
            "recommendation for %s:" % DEPLOYMENT in r.stdout and
            "not valid" not in r.stdout, r.stdout)

    # The worker reported from its own process: wait for the daemon's next
    # evaluation, as a control plane reading a tick later would.
    daemon.settle([DEPLOYMENT])
    with daemon.channel() as ch:
        rec = pbg.SizerStub(ch).GetRecommendation(
            pb.GetRecommendationRequest(deployment=DEPLOYMENT),
            timeout=e2e.RPC_TIMEOUT)
        c.check("GetRecommendation is valid", rec.valid, rec.why_not)
        c.check("fleet as simulated: 4 Attention, 1 FFN, B = 64",
                (rec.attention_instances, rec.ffn_instances, rec.batch) ==
                (4, 1, 64.0), "%d %d %g" % (rec.attention_instances,
                                            rec.ffn_instances, rec.batch))
        c.check("requests counted as the worker's summary says",
                rec.requests == reqs, "%d vs %d" % (rec.requests, reqs))
        c.check("theta from the live loads, sigma from finished requests",
                rec.theta_source == pb.THETA_SOURCE_LIVE_LOADS and
                rec.has_sigma, pb.ThetaSource.Name(rec.theta_source))
        # Worker workload: P ~ U[100, 1000], D ~ 1 + Exp(200): theta is
        # about E[P] + E[D^2]/(2 E[D]) ~ 750; a few hundred requests land
        # well within [400, 1100].
        c.check("theta plausible for the worker's workload",
                400 < rec.theta < 1100, "theta %g" % rec.theta)
        c.check("a regime and a target are given",
                rec.regime != pb.REGIME_UNSPECIFIED and
                rec.target_attention_instances >= 1,
                "%d %d" % (rec.regime, rec.target_attention_instances))
        sol = pbg.SizerStub(ch).Solve(pb.SolveRequest(
            profile=rec.profile, batch=rec.batch, theta=rec.theta,
            ffn_instances=rec.ffn_instances), timeout=e2e.RPC_TIMEOUT)
        c.check("r* equals Solve on the same profile, B and theta",
                e2e.close(sol.solution.r_star, rec.r_star, rel=1e-9),
                "%r vs %r" % (sol.solution.r_star, rec.r_star))

        with open(SCALEDOBJECT, encoding="utf-8") as f:
            so = yaml.safe_load(f)
        md = dict(so["spec"]["triggers"][0]["metadata"])
        md["deployment"] = DEPLOYMENT
        ks = stubs.externalscaler_pb2
        keda = stubs.externalscaler_pb2_grpc.ExternalScalerStub(ch)
        ref = ks.ScaledObjectRef(name=so["metadata"]["name"],
                                 namespace=so["metadata"]["namespace"],
                                 scalerMetadata=md)
        spec = keda.GetMetricSpec(ref, timeout=e2e.RPC_TIMEOUT)
        c.check("GetMetricSpec: one metric, targetSize 1",
                len(spec.metricSpecs) == 1 and
                spec.metricSpecs[0].targetSizeFloat == 1.0,
                str(spec))
        name = spec.metricSpecs[0].metricName if spec.metricSpecs else ""
        got = keda.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref,
                                                   metricName=name),
                              timeout=e2e.RPC_TIMEOUT)
        rec2 = pbg.SizerStub(ch).GetRecommendation(
            pb.GetRecommendationRequest(deployment=DEPLOYMENT),
            timeout=e2e.RPC_TIMEOUT)
        c.check("GetMetrics with the ScaledObject's metadata serves the "
                "target Attention count",
                len(got.metricValues) == 1 and
                got.metricValues[0].metricValueFloat ==
                rec2.target_attention_instances,
                "%s vs %d" % (got, rec2.target_attention_instances))
        c.check("IsActive is true", keda.IsActive(
            ref, timeout=e2e.RPC_TIMEOUT).result)

    with urllib.request.urlopen("http://%s/metrics" % daemon.http_addr,
                                timeout=e2e.RPC_TIMEOUT) as resp:
        text = resp.read().decode()
    with open(ALERTS, encoding="utf-8") as f:
        rules = yaml.safe_load(f)
    exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    names = sorted(set(re.findall(r"\bafd_[a-z_]+", exprs)))
    # Per-deployment series carry the deployment label; afd_leader is the
    # process's (HA leadership, 1 on a single node).
    process_wide = {"afd_leader"}
    missing = [n for n in names
               if not re.search(r"^%s\{deployment=\"%s\"" % (n, DEPLOYMENT)
                                if n not in process_wide else r"^%s 1$" % n,
                                text, re.M)]
    c.check("every afd_* series the alert rules use is on /metrics (%s)"
            % ", ".join(names), names and not missing, "missing %r" % missing)
    c.check("/metrics shows the regime one-hot for the deployment",
            len(re.findall(r"^afd_regime\{deployment=\"%s\","
                           r"regime=\"[a-z]+\"\} 1$" % DEPLOYMENT,
                           text, re.M)) == 1, text[:2000])

    r = run_worker(["--target", "127.0.0.1:1", "--seconds", "1"], timeout=60)
    c.check("worker against a closed port exits non-zero with one line",
            r.returncode != 0 and r.stderr.startswith("worker: 127.0.0.1:1: ")
            and r.stderr.count("\n") == 1, repr(r.stderr))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: test_worker_e2e.py BIN_DIR")
    sys.exit(e2e.run("test_worker_e2e", body, sys.argv[1], config=CONFIG))
