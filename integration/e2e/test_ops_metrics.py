#!/usr/bin/python3
"""End-to-end: /metrics after real telemetry passes `promtool check metrics`,
agrees with Sizer.GetRecommendation and the telemetry summary, and a real
Prometheus started here scrapes it. Also /healthz, /readyz, 404 and 405.

usage: test_ops_metrics.py BIN_DIR
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402
import ops_common as ops  # noqa: E402

CONFIG = json.dumps({"recompute_interval_ms": 200})
ODD = 'we"ird\\name'  # label escaping through a real scrape
REGIMES = {1: "attention", 2: "communication", 3: "ffn"}


def check_endpoints(c, d):
    st, _, body = ops.http(d.http_addr, "/healthz")
    c.check("/healthz is 200", st == 200, "%r %r" % (st, body))
    st, _, body = ops.http(d.http_addr, "/readyz")
    c.check("/readyz is 200 once ready", st == 200, "%r %r" % (st, body))
    st, _, _ = ops.http(d.http_addr, "/nope")
    c.check("unknown path is 404", st == 404, str(st))
    st, h, _ = ops.http(d.http_addr, "/metrics", method="POST")
    c.check("POST /metrics is 405 with Allow", st == 405 and
            "GET" in h.get("allow", ""), "%r %r" % (st, h))
    st, _, body = ops.http(d.http_addr, "/metrics", method="HEAD")
    c.check("HEAD /metrics is 200 without body", st == 200 and body == "",
            "%r %r" % (st, body[:80]))


def check_metrics(c, d, stubs, ch, summ):
    pb = stubs.afd_sizer_pb2
    rec = ops.recommendation(stubs, ch, "ops-a")
    c.check("recommendation valid", rec.valid, rec.why_not)
    st, h, text = ops.http(d.http_addr, "/metrics")
    c.check("/metrics is 200 text/plain version 0.0.4",
            st == 200 and h.get("content-type", "").startswith(
                "text/plain; version=0.0.4"), "%r %r" % (st, h))
    c.check("/metrics ends with a newline", text.endswith("\n"))
    pt = subprocess.run(["promtool", "check", "metrics"], input=text,
                        capture_output=True, text=True, timeout=30)
    c.check("promtool check metrics passes", pt.returncode == 0,
            pt.stdout + pt.stderr)
    m = ops.parse_metrics(text)
    v = ops.metric(m, "afd_r_star", deployment="ops-a")
    c.check("afd_r_star equals GetRecommendation r_star",
            v is not None and e2e.close(v, rec.r_star, 1e-12),
            "%r vs %r" % (v, rec.r_star))
    v = ops.metric(m, "afd_target_attention_instances", deployment="ops-a")
    c.check("target instances match", v == rec.target_attention_instances,
            "%r vs %r" % (v, rec.target_attention_instances))
    c.check("current counts x=3 y=2",
            ops.metric(m, "afd_attention_instances", deployment="ops-a") == 3
            and ops.metric(m, "afd_ffn_instances", deployment="ops-a") == 2)
    hot = [r for r in REGIMES.values()
           if ops.metric(m, "afd_regime", deployment="ops-a", regime=r) == 1]
    cold = [r for r in REGIMES.values()
            if ops.metric(m, "afd_regime", deployment="ops-a", regime=r) == 0]
    c.check("regime one-hot equals the recommendation's",
            hot == [REGIMES[rec.regime]] and len(cold) == 2,
            "%r / %r" % (hot, rec.regime))
    hot = [r for r in REGIMES.values()
           if ops.metric(m, "afd_current_regime", deployment="ops-a",
                         regime=r) == 1]
    c.check("current-ratio regime one-hot equals the recommendation's",
            hot == [REGIMES[rec.current_regime]],
            "%r / %r" % (hot, rec.current_regime))
    c.check("steps accepted counter equals the summary",
            ops.metric(m, "afd_telemetry_steps_accepted_total",
                       deployment="ops-a") == summ.accepted_steps,
            str(summ))
    c.check("requests accepted counter equals the summary",
            ops.metric(m, "afd_telemetry_requests_accepted_total",
                       deployment="ops-a") == summ.accepted_requests)
    c.check("the NaN step counted as not_finite",
            ops.metric(m, "afd_telemetry_rejected_total", deployment="ops-a",
                       reason="not_finite") == 1)
    cal = {k.name: k for k in rec.coefficients}
    c.check("afd_coefficient aA equals the recommendation's",
            e2e.close(ops.metric(m, "afd_coefficient", deployment="ops-a",
                                 coef="aA") or -1, cal["aA"].value, 1e-12))
    c.check("odd deployment name is escaped and parses back",
            ops.metric(m, "afd_recommendation_valid", deployment=ODD)
            is not None)
    c.check("theta exported", ops.metric(m, "afd_theta_tokens",
                                          deployment="ops-a") is not None)
    return rec


def check_prometheus(c, d, tmp, rec):
    if not shutil.which("prometheus"):
        c.check("prometheus installed", False, "not on PATH")
        return
    prom = ops.Prometheus(tmp, d.http_addr)
    try:
        res = ops.wait_for(
            lambda: prom.query('afd_r_star{deployment="ops-a"}'), 90, 0.5)
        c.check("prometheus scraped afd_r_star", bool(res),
                prom.log_text())
        if res:
            c.check("scraped afd_r_star value equals r_star",
                    e2e.close(float(res[0]["value"][1]), rec.r_star, 1e-12),
                    str(res))
        up = prom.query('up{job="afd"}')
        c.check("prometheus target is up",
                bool(up) and up[0]["value"][1] == "1", str(up))
        odd = prom.query('afd_recommendation_valid{deployment=%s}' %
                         json.dumps(ODD))
        c.check("prometheus kept the escaped label value", bool(odd),
                str(odd))
    finally:
        prom.stop()


def body(c, d, stubs, tmp):
    pb = stubs.afd_sizer_pb2
    with d.channel() as ch:
        check_endpoints(c, d)
        bad = pb.StepSample(instance_id="att-bad", role=pb.ROLE_ATTENTION,
                            batch_size=128, token_load=float("nan"))
        summ = ops.telemetry(stubs, ch, "ops-a", extra_steps=[bad])
        c.check("telemetry accepted with one rejection",
                summ.accepted_steps == 150 and summ.rejected == 1,
                str(summ))
        ops.telemetry(stubs, ch, ODD, seed=9, n_steps=3)
        ok = ops.wait_for(lambda: "afd_r_star{deployment=\"ops-a\"}" in
                          ops.http(d.http_addr, "/metrics")[2], 15)
        c.check("afd_r_star appears after the controller tick", ok)
        rec = check_metrics(c, d, stubs, ch, summ)
        check_prometheus(c, d, tmp, rec)


if __name__ == "__main__":
    sys.exit(e2e.run("test_ops_metrics", body, sys.argv[1], config=CONFIG))
