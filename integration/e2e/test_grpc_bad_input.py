#!/usr/bin/python3
"""End-to-end: bad input gets a clear status or a counted rejection, valid
items around bad ones are kept, and the daemon keeps serving.

Covers: malformed protobuf bytes (raw channel with identity serializers) in a
client stream and in a unary call, NaN / negative / absurd values, unknown
deployment, oversize message (max_message_bytes 65536 from the config), an
unknown method, bad Solve input, health of an unknown service, and a client
process killed with SIGKILL mid-stream.

usage: test_grpc_bad_input.py BIN_DIR
"""
import json
import os
import signal
import subprocess
import sys
import time

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402

CONFIG = json.dumps({"limits": {"max_message_bytes": 65536}})
NAN, INF = float("nan"), float("inf")

KILLED_CLIENT = r"""
import sys, time, grpc
sys.path.insert(0, sys.argv[1])
import afd_sizer_pb2 as pb, afd_sizer_pb2_grpc as pbg
def gen():
    i = 0
    while True:
        b = pb.TelemetryBatch(deployment="killed")
        for k in range(10):
            b.requests.append(pb.FinishedRequest(prompt_tokens=10,
                                                 decode_tokens=20 + k))
        yield b
        if i == 0:
            print("sent", flush=True)
        i += 1
        time.sleep(0.05)
ch = grpc.insecure_channel(sys.argv[2])
pbg.TelemetryStub(ch).Report(gen())
"""


def requests_of(stubs, ch, name):
    pb = stubs.afd_sizer_pb2
    rec = stubs.afd_sizer_pb2_grpc.SizerStub(ch).GetRecommendation(
        pb.GetRecommendationRequest(deployment=name), timeout=e2e.RPC_TIMEOUT)
    return rec.requests


def check_values(c, stubs, ch):
    pb = stubs.afd_sizer_pb2
    now = int(time.time() * 1000)
    A, F = pb.ROLE_ATTENTION, pb.ROLE_FFN
    b = pb.TelemetryBatch(deployment="dirty")
    for p, d in [(100, 200), (NAN, 10), (10, -5), (1e300, 10), (5, 0),
                 (50, 60), (INF, 3)]:
        b.requests.append(pb.FinishedRequest(prompt_tokens=p,
                                             decode_tokens=d))
    steps = [("a0", A, dict(batch_size=64, token_load=3000, attention_ms=4)),
             ("a1", A, dict(batch_size=64, token_load=3000,
                            attention_ms=NAN)),
             ("a2", A, dict(batch_size=-1, token_load=3000)),
             ("a3", pb.ROLE_UNSPECIFIED, dict(batch_size=64)),
             ("f0", F, dict(ffn_tokens=300, ffn_ms=5)),
             ("", F, dict(ffn_tokens=300, ffn_ms=5)),
             ("f1", F, dict(ffn_tokens=300, ffn_ms=1e300))]
    for iid, role, kw in steps:
        b.steps.append(pb.StepSample(instance_id=iid, role=role, step=1,
                                     timestamp_ms=now, **kw))
    s = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch).Report(
        iter([b]), timeout=e2e.RPC_TIMEOUT)
    by = {r.reason: r.count for r in s.rejections}
    c.check("bad values: valid items around them accepted",
            s.accepted_requests == 2 and s.accepted_steps == 2, str(s))
    c.check("bad values: every bad item counted", s.rejected == 10, str(s))
    c.check("bad values: NaN/Inf counted as not_finite",
            by.get("not_finite") == 3, str(by))
    c.check("bad values: no role / empty id counted as missing_field",
            by.get("missing_field") == 2, str(by))
    c.check("bad values: negative and absurd counted",
            by.get("negative", 0) + by.get("out_of_range", 0) == 5 and
            by.get("out_of_range", 0) >= 2, str(by))
    # Steps are applied before requests within a batch.
    c.check("bad values: first rejection says which item and why",
            "steps[1]" in s.first_rejection and
            "nan" in s.first_rejection.lower(), s.first_rejection)
    c.check("bad values: registry kept exactly the valid requests",
            requests_of(stubs, ch, "dirty") == 2)


def check_malformed(c, stubs, ch):
    pb = stubs.afd_sizer_pb2
    good = pb.TelemetryBatch(deployment="mal")
    for k in range(5):
        good.requests.append(pb.FinishedRequest(prompt_tokens=10,
                                                decode_tokens=5 + k))
    raw = ch.stream_unary("/afd.sizer.v1.Telemetry/Report",
                          request_serializer=None,
                          response_deserializer=pb.ReportSummary.FromString)
    code, det = e2e.rpc_code(raw, iter([good.SerializeToString(),
                                        b"\x0a\x64abc"]),
                             timeout=e2e.RPC_TIMEOUT)
    c.check("malformed stream message: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT and
            "TelemetryBatch" in (det or ""), "%s %s" % (code, det))
    c.check("malformed stream message: earlier items kept",
            requests_of(stubs, ch, "mal") == 5)
    unary = ch.unary_unary("/afd.sizer.v1.Sizer/GetRecommendation",
                           request_serializer=None,
                           response_deserializer=None)
    code, det = e2e.rpc_code(unary, b"\xff" * 11, timeout=e2e.RPC_TIMEOUT)
    c.check("malformed unary request: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT, "%s %s" % (code, det))


def check_statuses(c, stubs, ch):
    pb = stubs.afd_sizer_pb2
    T = e2e.RPC_TIMEOUT
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    code, det = e2e.rpc_code(sizer.GetRecommendation,
                             pb.GetRecommendationRequest(deployment="ghost"),
                             timeout=T)
    c.check("unknown deployment: NOT_FOUND naming it",
            code == grpc.StatusCode.NOT_FOUND and "ghost" in det, det)
    code, det = e2e.rpc_code(sizer.GetRecommendation,
                             pb.GetRecommendationRequest(), timeout=T)
    c.check("empty deployment: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT, "%s" % code)
    code, det = e2e.rpc_code(sizer.Solve, pb.SolveRequest(
        profile_name="paper-v1-fit", batch=-1, theta=500), timeout=T)
    c.check("Solve with batch -1: INVALID_ARGUMENT naming batch",
            code == grpc.StatusCode.INVALID_ARGUMENT and "batch" in det,
            "%s %s" % (code, det))
    code, det = e2e.rpc_code(sizer.Solve, pb.SolveRequest(
        profile_name="no-such", batch=64, theta=500), timeout=T)
    c.check("Solve with an unknown profile: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT and "no-such" in det,
            "%s %s" % (code, det))
    code, det = e2e.rpc_code(sizer.Solve, pb.SolveRequest(
        profile_name="paper-v1-fit", batch=64, theta=500,
        ffn_noise_cv=float("nan")), timeout=T)
    c.check("Solve with a NaN stage noise: INVALID_ARGUMENT naming it",
            code == grpc.StatusCode.INVALID_ARGUMENT and "stage_cv" in det
            and "ffn" in det, "%s %s" % (code, det))
    code, det = e2e.rpc_code(sizer.Solve, pb.SolveRequest(
        batch=64, theta=500, comm_mode="sideways"), timeout=T)
    c.check("Solve with a bad comm mode: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT, "%s %s" % (code, det))
    nope = ch.unary_unary("/afd.sizer.v1.Sizer/Nope",
                          request_serializer=None, response_deserializer=None)
    code, det = e2e.rpc_code(nope, b"", timeout=T)
    c.check("unknown method: UNIMPLEMENTED",
            code == grpc.StatusCode.UNIMPLEMENTED, "%s" % code)
    h = stubs.health_pb2_grpc.HealthStub(ch)
    code, det = e2e.rpc_code(h.Check, stubs.health_pb2.HealthCheckRequest(
        service="no.such.Service"), timeout=T)
    c.check("health of an unknown service: NOT_FOUND",
            code == grpc.StatusCode.NOT_FOUND, "%s" % code)


def check_oversize(c, stubs, ch):
    pb = stubs.afd_sizer_pb2
    big = pb.TelemetryBatch(deployment="big")
    for k in range(6000):
        big.requests.append(pb.FinishedRequest(prompt_tokens=k,
                                               decode_tokens=k + 1))
    stub = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    code, det = e2e.rpc_code(stub.Report, iter([big]),
                             timeout=e2e.RPC_TIMEOUT)
    c.check("oversize stream message (%d bytes): RESOURCE_EXHAUSTED"
            % big.ByteSize(),
            code == grpc.StatusCode.RESOURCE_EXHAUSTED, "%s %s" % (code, det))
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    code, det = e2e.rpc_code(sizer.GetRecommendation,
                             pb.GetRecommendationRequest(
                                 deployment="x" * 70000),
                             timeout=e2e.RPC_TIMEOUT)
    c.check("oversize unary request: RESOURCE_EXHAUSTED",
            code == grpc.StatusCode.RESOURCE_EXHAUSTED, "%s %s" % (code, det))


def check_killed_client(c, stubs, ch, daemon, tmp):
    stub_dir = os.path.join(tmp, "stubs")
    proc = subprocess.Popen([sys.executable, "-c", KILLED_CLIENT, stub_dir,
                             daemon.grpc_addr], stdout=subprocess.PIPE,
                            text=True)
    line = ""
    try:
        import select
        r, _, _ = select.select([proc.stdout], [], [], 20)
        if r:
            line = proc.stdout.readline()
        time.sleep(0.5)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
    c.check("killed client had started streaming", line.strip() == "sent",
            repr(line))
    deadline = time.monotonic() + 10
    n = 0
    while time.monotonic() < deadline:
        n = requests_of(stubs, ch, "killed")
        if n >= 10:
            break
        time.sleep(0.1)
    c.check("client killed mid-stream: what arrived is kept",
            n >= 10 and n % 10 == 0, "requests %d" % n)
    h = stubs.health_pb2_grpc.HealthStub(ch)
    st = h.Check(stubs.health_pb2.HealthCheckRequest(service=""),
                 timeout=e2e.RPC_TIMEOUT)
    c.check("daemon still serving after all of the above",
            st.status == stubs.health_pb2.HealthCheckResponse.SERVING)


def body(c, daemon, stubs, tmp):
    ch = daemon.channel()
    check_values(c, stubs, ch)
    check_malformed(c, stubs, ch)
    check_statuses(c, stubs, ch)
    check_oversize(c, stubs, ch)
    check_killed_client(c, stubs, ch, daemon, tmp)
    ch.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(e2e.run("test_grpc_bad_input", body, sys.argv[1],
                     config=CONFIG))
