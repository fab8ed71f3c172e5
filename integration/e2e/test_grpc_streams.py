#!/usr/bin/python3
"""End-to-end, stream-heavy: many concurrent telemetry streams, cancelled
streams, StreamIsActive watchers, then SIGTERM with streams still open.

Checks that every accepted item is counted exactly once across concurrent
streams, that cancelled streams keep what arrived and do not disturb the
others, and that shutdown with open client and server streams still exits 0
(under ASan/LSan: with no leak) within the grace period.

usage: test_grpc_streams.py BIN_DIR
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

CONFIG = json.dumps({"recompute_interval_ms": 50})
N_STREAMS = 16
N_BATCHES = 40
PER_BATCH = 25


def sender(stubs, addr, idx, results):
    pb = stubs.afd_sizer_pb2
    ch = grpc.insecure_channel(addr)

    def gen():
        now = int(time.time() * 1000)
        for k in range(N_BATCHES):
            b = pb.TelemetryBatch(deployment="heavy")
            for j in range(PER_BATCH):
                b.requests.append(pb.FinishedRequest(
                    prompt_tokens=float(j), decode_tokens=float(1 + k)))
            b.steps.append(pb.StepSample(
                instance_id="a%d" % idx, role=pb.ROLE_ATTENTION, step=k,
                batch_size=32, token_load=32 * 300.0, attention_ms=3,
                comm_ms=1, timestamp_ms=now))
            yield b
    try:
        s = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch).Report(
            gen(), timeout=60)
        results[idx] = (s.accepted_requests, s.accepted_steps)
    except grpc.RpcError as e:
        results[idx] = e.code()
    ch.close()


def body(c, daemon, stubs, tmp):
    pb = stubs.afd_sizer_pb2
    ks = stubs.externalscaler_pb2
    results = {}
    threads = [threading.Thread(target=sender,
                                args=(stubs, daemon.grpc_addr, i, results))
               for i in range(N_STREAMS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    want = (N_BATCHES * PER_BATCH, N_BATCHES)
    c.check("%d concurrent streams all summarised" % N_STREAMS,
            all(results.get(i) == want for i in range(N_STREAMS)),
            str(results))
    daemon.settle(["heavy"])  # the senders used channels of their own
    ch = daemon.channel()
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    rec = sizer.GetRecommendation(pb.GetRecommendationRequest(
        deployment="heavy"), timeout=e2e.RPC_TIMEOUT)
    c.check("every accepted item counted once",
            rec.requests == N_STREAMS * N_BATCHES * PER_BATCH and
            rec.attention_instances == N_STREAMS, "%d requests, x=%d" % (
                rec.requests, rec.attention_instances))

    # Cancelled streams: the client gives up mid-stream, many times.
    tele = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    gate = threading.Event()

    def slow_gen():
        b = pb.TelemetryBatch(deployment="cancelled")
        b.requests.append(pb.FinishedRequest(prompt_tokens=1,
                                             decode_tokens=2))
        yield b
        gate.wait(5)
    def cancelled_requests():
        try:
            return sizer.GetRecommendation(pb.GetRecommendationRequest(
                deployment="cancelled"), timeout=e2e.RPC_TIMEOUT).requests
        except grpc.RpcError:
            return 0  # not created before the first item arrives

    arrived = 0
    for i in range(20):
        gate.clear()
        fut = tele.Report.future(slow_gen(), timeout=30)
        # Cancel only once the daemon has the item, so the check below
        # does not depend on scheduling.
        deadline = time.monotonic() + 10
        while cancelled_requests() < i + 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        fut.cancel()
        gate.set()
        arrived += 1
    time.sleep(0.2)
    n = cancelled_requests()
    c.check("cancelled streams keep what arrived", n == arrived == 20,
            "requests %d" % n)

    # Watchers and a telemetry stream left open across SIGTERM.
    k = stubs.externalscaler_pb2_grpc.ExternalScalerStub(ch)
    ref = ks.ScaledObjectRef(name="w", namespace="n",
                             scalerMetadata={"deployment": "heavy"})
    ends = queue.Queue()

    def watch():
        try:
            for _ in k.StreamIsActive(ref, timeout=60):
                pass
            ends.put(grpc.StatusCode.OK)
        except grpc.RpcError as e:
            ends.put(e.code())
    watchers = [threading.Thread(target=watch, daemon=True)
                for _ in range(8)]
    for w in watchers:
        w.start()
    hold = threading.Event()

    def open_gen():
        b = pb.TelemetryBatch(deployment="open")
        b.requests.append(pb.FinishedRequest(prompt_tokens=1,
                                             decode_tokens=2))
        yield b
        hold.wait(30)
    open_fut = tele.Report.future(open_gen(), timeout=60)
    time.sleep(0.5)
    t0 = time.monotonic()
    daemon.term()
    codes = []
    for _ in range(8):
        try:
            codes.append(ends.get(timeout=10))
        except queue.Empty:
            codes.append(None)
    c.check("SIGTERM ends every watcher with UNAVAILABLE",
            codes == [grpc.StatusCode.UNAVAILABLE] * 8, str(codes))
    try:
        open_fut.result(timeout=15)
        code = grpc.StatusCode.OK
    except grpc.RpcError as e:
        code = e.code()
    except Exception as e:  # futures.TimeoutError
        code = repr(e)
    hold.set()
    c.check("open telemetry stream is cut after the grace period",
            code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNAVAILABLE),
            str(code))
    rc = daemon.proc.wait(timeout=20)
    c.check("shutdown with open streams takes < 10 s and exits 0",
            rc == 0 and time.monotonic() - t0 < 10,
            "rc %r after %.1f s" % (rc, time.monotonic() - t0))
    ch.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(e2e.run("test_grpc_streams", body, sys.argv[1], config=CONFIG))
