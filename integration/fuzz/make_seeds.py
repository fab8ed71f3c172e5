#!/usr/bin/python3
"""Writes the seed corpora of integration/fuzz/corpus/<target>/ (committed;
run again only to refresh them). Small real examples: protobuf messages
built with the project's .proto files (grpc_tools.protoc), JSON documents
like the ones the README shows, the head of each trace format, HTTP
requests and Alertmanager replies.

Service inputs are records [sel u8][len u16 LE][message] (fuzz_svc.h);
sel indexes the methods of the target's tables in the order the target
lists them.
"""
import json
import os
import shutil
import struct
import sys
import tempfile

from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PROTO = os.path.join(ROOT, "proto")
TRACES = os.path.abspath(os.path.join(ROOT, "..", "shared", "traces"))


def stubs(tmp):
    jobs = [(PROTO, "afd_sizer.proto"), (PROTO, "afd_snapshot.proto"),
            (os.path.join(PROTO, "grpc", "health", "v1"), "health.proto"),
            (os.path.join(PROTO, "keda"), "externalscaler.proto")]
    for root, name in jobs:
        if protoc.main(["protoc", "-I" + root, "--python_out=" + tmp,
                        os.path.join(root, name)]) != 0:
            sys.exit("protoc failed on " + name)
    sys.path.insert(0, tmp)
    import afd_sizer_pb2, afd_snapshot_pb2, health_pb2, externalscaler_pb2
    return afd_sizer_pb2, afd_snapshot_pb2, health_pb2, externalscaler_pb2


def rec(sel, msg):
    b = msg if isinstance(msg, bytes) else msg.SerializeToString()
    return struct.pack("<BH", sel, len(b)) + b


def put(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def batch(pb, dep="llama", n_att=4, load=600.0 * 256, t0=1700000000000):
    b = pb.TelemetryBatch(deployment=dep)
    for i in range(n_att):
        b.steps.add(instance_id="att-%d" % i, role=pb.ROLE_ATTENTION, step=7,
                    batch_size=256, token_load=load, attention_ms=12.5,
                    comm_ms=2.0, timestamp_ms=t0)
    b.steps.add(instance_id="ffn-0", role=pb.ROLE_FFN, step=7, ffn_ms=9.0,
                ffn_tokens=1024, timestamp_ms=t0)
    for _ in range(3):
        b.requests.add(prompt_tokens=1000, decode_tokens=600)
    return b


def main():
    tmp = tempfile.mkdtemp()
    try:
        pb, snap, health, keda = stubs(tmp)
        # Telemetry: one batch; three batches in one stream; a bad item.
        put("telemetry", "one-batch", rec(0, batch(pb)))
        put("telemetry", "stream", rec(0, batch(pb)) + rec(0, batch(pb, load=512.0 * 256))
            + rec(0, batch(pb, n_att=6)))
        bad = batch(pb)
        bad.steps.add(instance_id="", role=pb.ROLE_ATTENTION, attention_ms=float("nan"))
        bad.requests.add(prompt_tokens=-1, decode_tokens=0)
        put("telemetry", "bad-items", rec(0, bad))
        # Sizer: [Report, GetRecommendation, Solve]
        put("sizer", "rec-after-report", rec(0, batch(pb)) +
            rec(1, pb.GetRecommendationRequest(deployment="llama")))
        put("sizer", "solve", rec(2, pb.SolveRequest(profile_name="paper-v1-fit",
                                                     batch=256, theta=600,
                                                     has_sigma=True, sigma=300,
                                                     ffn_instances=1)))
        put("sizer", "unknown-dep", rec(1, pb.GetRecommendationRequest(deployment="x")))
        # KEDA: [Report, IsActive, StreamIsActive, GetMetricSpec, GetMetrics,
        # StreamMetricSpec]
        ref = keda.ScaledObjectRef(name="so", namespace="ns",
                                   scalerMetadata={"deployment": "llama"})
        put("keda", "all", rec(0, batch(pb)) + rec(1, ref) + rec(2, ref) + rec(3, ref)
            + rec(4, keda.GetMetricsRequest(scaledObjectRef=ref,
                                            metricName="afd-attention-llama")) + rec(5, ref))
        put("keda", "no-metadata", rec(3, keda.ScaledObjectRef(name="so")))
        # Control: [Report, Health.Check, Health.Watch, WatchCommands,
        # AckCommand, WatchAlerts, Dynamo Propose]
        put("control", "health", rec(1, health.HealthCheckRequest(service=""))
            + rec(2, health.HealthCheckRequest(service="afd.sizer.v1.Sizer")))
        put("control", "watch-then-report",
            rec(3, pb.WatchCommandsRequest(deployment="llama")) + rec(0, batch(pb))
            + rec(0, batch(pb, load=200.0 * 256)) + rec(0, batch(pb, load=900.0 * 256)))
        put("control", "ack", rec(0, batch(pb)) + rec(4, pb.AckCommandRequest(
            deployment="llama", command_id=1, success=True, detail="done")))
        put("control", "alerts", rec(5, pb.WatchAlertsRequest(deployment="")) +
            rec(0, batch(pb)) + rec(6, b""))
        # Snapshot (fuzz_snapshot.c: even first byte = a body to wrap).
        s = snap.Snapshot(version=1, saved_ms=1700000000000)
        d = s.deployments.add(name="llama")
        for i in range(3):
            d.instances.add(id="att-%d" % i, role=snap.ROLE_ATTENTION,
                            token_load=600.0 * 256, batch_size=256,
                            last_seen_ms=1700000000000)
        d.instances.add(id="ffn-0", role=snap.ROLE_FFN, last_seen_ms=1700000000000)
        put("snapshot", "body", b"\x00" + s.SerializeToString())
        put("snapshot", "empty-body", b"\x00")
        put("snapshot", "raw-garbage", b"\x01not a snapshot")
    finally:
        shutil.rmtree(tmp)

    # JSON documents.
    put("config", "full", json.dumps({
        "grpc_listen": "127.0.0.1:0", "http_listen": "127.0.0.1:0",
        "recompute_interval_ms": 1000, "liveness_window_s": 30,
        "limits": {"max_deployments": 8, "max_instances": 100,
                   "max_message_bytes": 65536, "max_stream_queue": 16},
        "auto_create_deployments": True,
        "deployments": [{"name": "llama-prod", "profile": "paper-v1-fit",
                         "ffn_instances": 1, "batch": 256,
                         "calibration": {"forgetting": 0.999, "prior_weight": 10}},
                        {"name": "custom", "profile": {
                            "name": "h100", "aA": 5.1e-5, "bA": 2.5, "aC": 1e-3,
                            "bC": 0.3, "aF": 2.2e-3, "bF": 5.0}}],
        "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                       "gain_threshold": 0.02, "dwell_s": 30, "max_step": 4},
        "alerting": {"debounce_s": 60, "alertmanager_url": "http://127.0.0.1:9093/",
                     "severity": "warning"}}, indent=1))
    put("config", "empty-object", "{}")
    put("config", "bad-type", '{"deployments": 3}')
    put("profile", "h100", '{"name": "h100-llama70b", "provenance": "bench 2026-10", '
        '"comm_mode": "per_instance", "aA": 5.1e-5, "bA": 2.5, "aC": 1e-3, '
        '"bC": 0.3, "aF": 2.2e-3, "bF": 5.0}')
    put("profile", "negative", '{"name": "x", "aA": -1, "bA": 2.5, "aC": 1e-3, '
        '"bC": 0.3, "aF": 2.2e-3, "bF": 5.0}')
    for name in ("smoke.json", "comm-takeover.json"):
        with open(os.path.join(ROOT, "integration", "scenarios", name)) as f:
            put("scenario", name, f.read())
    # Traces: the head of each format.
    for name in sorted(os.listdir(TRACES)) if os.path.isdir(TRACES) else []:
        if name.endswith(".csv"):
            with open(os.path.join(TRACES, name)) as f:
                put("trace", name, "".join(f.readline() for _ in range(6)))
    put("trace", "mooncake.jsonl",
        '{"timestamp": 0, "input_length": 6955, "output_length": 52}\n'
        '{"timestamp": 13, "input_length": 6472, "output_length": 26}\n')
    put("measure", "attention.csv",
        "stage,tokens,ms\nattention,1000,2.55\nattention,2000,2.6\n"
        "comm,16,0.31\nffn,256,5.5\nffn,512,6.1\n")
    # HTTP requests.
    for name, req in [
            ("metrics", "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("page", "GET /d/llama?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            ("page-escaped", "GET /d/ll%61ma%2F%00 HTTP/1.0\r\n\r\n"),
            ("root", "HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            ("ready", "GET /readyz HTTP/1.1\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n"),
            ("post", "POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")]:
        put("http", name, req)
    # Alertmanager: [n][url][response].
    for name, url, resp in [
            ("ok", "http://am:9093/", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
            ("bad-request", "http://[::1]:9093/prefix",
             "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n\r\nbad alert\n!"),
            ("server-error", "http://127.0.0.1",
             "HTTP/1.0 503 Unavailable\r\n\r\nbusy"),
            ("chunked", "https://am/",
             "HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")]:
        u = url.encode()
        put("alertmanager", name, bytes([len(u)]) + u + resp.encode())


if __name__ == "__main__":
    main()
