#!/usr/bin/python3
"""End-to-end: a KEDA-style client calls externalscaler.ExternalScaler.

Checks the four methods KEDA uses (IsActive, StreamIsActive, GetMetricSpec,
GetMetrics) against the daemon's own GetRecommendation target, that before the
recommendation is valid GetMetrics holds the current count (or answers
UNAVAILABLE when no instance is known, never 0) and IsActive follows, that StreamIsActive pushes a change after a
recompute tick, that StreamMetricSpec is UNIMPLEMENTED, the status for a
missing or unknown deployment, and that SIGTERM ends an open stream with
UNAVAILABLE and the daemon still exits 0.

usage: test_grpc_keda.py BIN_DIR
"""
import json
import os
import queue
import sys
import threading
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402

# Advisory mode: KEDA serves the recommendation's target (in command mode
# it serves the latest scale command's; see integration/e2e/
# test_control_commands.py).
CONFIG = json.dumps({"recompute_interval_ms": 100,
                     "controller": {"advisory": True}})


def feed(stubs, ch, deployment, with_steps, n_req=80):
    pb = stubs.afd_sizer_pb2
    b = pb.TelemetryBatch(deployment=deployment)
    for i in range(n_req):
        b.requests.append(pb.FinishedRequest(prompt_tokens=100 + i,
                                             decode_tokens=400 + 3 * i))
    if with_steps:
        now = int(time.time() * 1000)
        for i in range(3):
            b.steps.append(pb.StepSample(
                instance_id="a%d" % i, role=pb.ROLE_ATTENTION, step=1,
                batch_size=128, token_load=128 * 600, attention_ms=7,
                comm_ms=1, timestamp_ms=now))
        b.steps.append(pb.StepSample(instance_id="f0", role=pb.ROLE_FFN,
                                     step=1, ffn_tokens=400, ffn_ms=6,
                                     timestamp_ms=now))
    stub = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    return stub.Report(iter([b]), timeout=e2e.RPC_TIMEOUT)


def reader(stream, q):
    """Puts each streamed message, then the final status code, on q."""
    try:
        for m in stream:
            q.put(("msg", m.result))
        q.put(("end", grpc.StatusCode.OK))
    except grpc.RpcError as e:
        q.put(("end", e.code()))


def get(q, timeout=10.0):
    try:
        return q.get(timeout=timeout)
    except queue.Empty:
        return ("timeout", None)


def body(c, daemon, stubs, tmp):
    ks = stubs.externalscaler_pb2
    ch = daemon.channel()
    k = stubs.externalscaler_pb2_grpc.ExternalScalerStub(ch)
    pb = stubs.afd_sizer_pb2
    T = e2e.RPC_TIMEOUT

    def ref(name):
        return ks.ScaledObjectRef(name="attn", namespace="llm",
                                  scalerMetadata={"deployment": name})

    feed(stubs, ch, "llama", True)
    rec = stubs.afd_sizer_pb2_grpc.SizerStub(ch).GetRecommendation(
        pb.GetRecommendationRequest(deployment="llama"), timeout=T)
    c.check("recommendation valid after telemetry", rec.valid, rec.why_not)
    spec = k.GetMetricSpec(ref("llama"), timeout=T)
    c.check("GetMetricSpec: one metric, target 1",
            len(spec.metricSpecs) == 1 and
            spec.metricSpecs[0].metricName ==
            "afd-attention-instances-llama" and
            spec.metricSpecs[0].targetSize == 1 and
            spec.metricSpecs[0].targetSizeFloat == 1.0, str(spec))
    name = spec.metricSpecs[0].metricName
    got = k.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref("llama"),
                                            metricName=name), timeout=T)
    want = rec.target_attention_instances
    c.check("GetMetrics: value is the target Attention count",
            len(got.metricValues) == 1 and
            got.metricValues[0].metricName == name and
            got.metricValues[0].metricValue == want and
            got.metricValues[0].metricValueFloat == float(want) and want >= 1,
            "%s vs target %d" % (got, want))
    c.check("IsActive true with a valid recommendation",
            k.IsActive(ref("llama"), timeout=T).result is True)

    # A deployment with requests only: no instance, no recommendation.
    feed(stubs, ch, "cold", False)
    c.check("IsActive false before the recommendation is valid",
            k.IsActive(ref("cold"), timeout=T).result is False)
    code, det = e2e.rpc_code(k.GetMetrics, ks.GetMetricsRequest(
        scaledObjectRef=ref("cold"), metricName="m"), timeout=T)
    c.check("GetMetrics UNAVAILABLE (not 0) with no instance and no "
            "recommendation", code == grpc.StatusCode.UNAVAILABLE and
            "attention" in (det or ""), "%s %s" % (code, det))

    # Instances seen but no batch size: not valid, the HPA is held at x.
    pb_now = int(time.time() * 1000)
    b = pb.TelemetryBatch(deployment="nobatch")
    for i in range(2):
        b.steps.append(pb.StepSample(instance_id="a%d" % i,
                                     role=pb.ROLE_ATTENTION, step=1,
                                     token_load=1000, attention_ms=3,
                                     timestamp_ms=pb_now))
    stubs.afd_sizer_pb2_grpc.TelemetryStub(ch).Report(iter([b]), timeout=T)
    got = k.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref("nobatch"),
                                            metricName="m"), timeout=T)
    c.check("GetMetrics holds at the current count (2) when not valid",
            got.metricValues[0].metricValue == 2, str(got))
    c.check("IsActive true while holding a current count",
            k.IsActive(ref("nobatch"), timeout=T).result is True)

    # StreamIsActive: initial false, then true after telemetry + a tick.
    q = queue.Queue()
    stream = k.StreamIsActive(ref("cold"), timeout=60)
    threading.Thread(target=reader, args=(stream, q), daemon=True).start()
    c.check("StreamIsActive sends the initial value",
            get(q) == ("msg", False))
    feed(stubs, ch, "cold", True, n_req=1)
    c.check("StreamIsActive pushes the change after a recompute tick",
            get(q) == ("msg", True))

    code, _ = e2e.rpc_code(lambda: list(k.StreamMetricSpec(ref("llama"),
                                                           timeout=T)))
    c.check("StreamMetricSpec is UNIMPLEMENTED",
            code == grpc.StatusCode.UNIMPLEMENTED, str(code))
    missing = ks.ScaledObjectRef(name="attn", namespace="llm",
                                 scalerMetadata={"other": "x"})
    bad = [("IsActive", lambda r: k.IsActive(r, timeout=T)),
           ("GetMetricSpec", lambda r: k.GetMetricSpec(r, timeout=T)),
           ("GetMetrics", lambda r: k.GetMetrics(
               ks.GetMetricsRequest(scaledObjectRef=r, metricName="m"),
               timeout=T)),
           ("StreamIsActive", lambda r: list(k.StreamIsActive(r, timeout=T)))]
    for what, fn in bad:
        code, det = e2e.rpc_code(fn, missing)
        c.check("%s without metadata 'deployment': INVALID_ARGUMENT" % what,
                code == grpc.StatusCode.INVALID_ARGUMENT and
                "deployment" in (det or ""), "%s %s" % (code, det))
        code, det = e2e.rpc_code(fn, ref("nope"))
        c.check("%s for an unknown deployment: NOT_FOUND" % what,
                code == grpc.StatusCode.NOT_FOUND and "nope" in (det or ""),
                "%s %s" % (code, det))

    # The stream is still open: SIGTERM must end it, not hang the daemon.
    daemon.term()
    c.check("SIGTERM ends an open StreamIsActive with UNAVAILABLE",
            get(q) == ("end", grpc.StatusCode.UNAVAILABLE))
    ch.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(e2e.run("test_grpc_keda", body, sys.argv[1], config=CONFIG))
