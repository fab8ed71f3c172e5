#!/usr/bin/python3
"""End-to-end: grpc.health.v1.Health/Check and Watch.

Watch sends the current status at once (SERVING), nothing more while the
daemon runs, and on SIGTERM every watcher of a served name sees NOT_SERVING
and then the stream ends with UNAVAILABLE (the daemon ends every server
stream at shutdown). An unknown name gets one SERVICE_UNKNOWN message, not
an error, and its stream stays open until the shutdown ends it. The daemon
still exits 0.

usage: test_grpc_health.py BIN_DIR
"""
import json
import os
import queue
import sys

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402

CONFIG = json.dumps({"recompute_interval_ms": 50})
SERVED = ["", "grpc.health.v1.Health", "afd.sizer.v1.Sizer",
          "afd.sizer.v1.Telemetry", "externalscaler.ExternalScaler"]


def next_item(reader, timeout):
    try:
        return reader.q.get(timeout=timeout)
    except queue.Empty:
        return None


def body(c, daemon, stubs, tmp):
    hp = stubs.health_pb2
    st = hp.HealthCheckResponse
    ch = daemon.channel()
    health = stubs.health_pb2_grpc.HealthStub(ch)

    r = health.Check(hp.HealthCheckRequest(service=""),
                     timeout=e2e.RPC_TIMEOUT)
    c.check("Check '' is SERVING", r.status == st.SERVING, str(r.status))
    code, _ = e2e.rpc_code(health.Check, hp.HealthCheckRequest(
        service="no.such.Service"), timeout=e2e.RPC_TIMEOUT)
    c.check("Check of an unknown name is NOT_FOUND",
            code == grpc.StatusCode.NOT_FOUND, str(code))

    known = [e2e.StreamReader(health.Watch(
        hp.HealthCheckRequest(service=name), timeout=60)) for name in SERVED]
    unknown = e2e.StreamReader(health.Watch(
        hp.HealthCheckRequest(service="no.such.Service"), timeout=60))
    first = [next_item(w, 10) for w in known]
    c.check("Watch of every served name gets SERVING at once",
            all(isinstance(m, st) and m.status == st.SERVING
                for m in first), str(first))
    m = next_item(unknown, 10)
    c.check("Watch of an unknown name gets SERVICE_UNKNOWN as a message",
            isinstance(m, st) and m.status == st.SERVICE_UNKNOWN, repr(m))
    # Several recompute ticks pass: no change, so no message and no end.
    extra = [next_item(w, 0.5) for w in known + [unknown]]
    c.check("no further message while the status is unchanged",
            extra == [None] * len(extra), str(extra))

    daemon.term()
    ok = True
    seen = []
    for w in known:
        a = next_item(w, 10)
        b = next_item(w, 10)
        seen.append((a, b))
        ok = ok and isinstance(a, st) and a.status == st.NOT_SERVING and \
            isinstance(b, grpc.RpcError) and \
            b.code() == grpc.StatusCode.UNAVAILABLE
    c.check("after SIGTERM each watcher sees NOT_SERVING, then UNAVAILABLE",
            ok, str(seen))
    e = next_item(unknown, 10)
    c.check("after SIGTERM the unknown-name watcher ends with UNAVAILABLE",
            isinstance(e, grpc.RpcError) and
            e.code() == grpc.StatusCode.UNAVAILABLE, repr(e))
    ch.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print(__doc__)
        sys.exit(2)
    sys.exit(e2e.run("test_grpc_health", body, sys.argv[1], config=CONFIG))
