#!/usr/bin/python3
"""Fault tests of `afd-sizer serve` (issue 12), each against a real daemon:

1. Slow clients: 300 connections that send their HTTP headers at 1 byte/s
   (half-open, never finished) while /metrics keeps answering, each scrape
   within 2 s; once quiet they are cut at the HTTP timeout (10 s).
2. kill -9 in a loop while the snapshot writer thread writes every 0.1 s:
   after every kill the next start trusts the file (it is the old or the
   new state: never moved aside as corrupt), and the restored deployments
   never go backwards.
3. A full disk for the snapshot (RLIMIT_FSIZE 4 KiB via prlimit, SIGXFSZ
   ignored by the daemon): writes fail with EFBIG, the old file is kept,
   the daemon keeps serving and says so once on stderr and on /metrics
   (afd_snapshot_writes_total{result="failed"}, afd_snapshot_last_write_ok 0).
4. Idle server streams (WatchCommands, WatchAlerts) held open up to
   limits.max_streams (8 here); the next is refused with RESOURCE_EXHAUSTED
   and counted (afd_grpc_streams_refused_total); closing one frees a slot;
   SIGTERM with the 8 streams and telemetry calls in flight exits 0 within
   5 s (shutdown never waits on the cross-thread queue, which cannot drop a
   completion: its tags are intrusive, no allocation).

usage: test_faults.py BIN_DIR      (about 45 s)
"""
import json
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as e2e  # noqa: E402
import ops_common as ops  # noqa: E402

CONFIG = json.dumps({"recompute_interval_ms": 200, "liveness_window_s": 3600,
                     "snapshot": {"interval_s": 0.1}})
SLOW_CLIENTS = 300
SCRAPE_BOUND_S = 2.0


def scrape(d):
    t = time.monotonic()
    status, _, body = ops.http(d.http_addr, "/metrics")
    return status, time.monotonic() - t, body


def slow_clients(c, s, tmp, bin_dir):
    d = e2e.Daemon(bin_dir, os.path.join(tmp, "slow"), config=CONFIG)
    os.makedirs(d.tmp)
    d.start()
    try:
        host, port = d.http_addr.rsplit(":", 1)
        socks = []
        for _ in range(SLOW_CLIENTS):
            k = socket.create_connection((host, int(port)), timeout=5)
            k.setblocking(False)
            socks.append(k)
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "
        worst, failed, n = 0.0, 0, 0
        t_end = time.monotonic() + 6
        i = 0
        while time.monotonic() < t_end:
            for k in socks:  # one more byte on every connection per second
                try:
                    k.send(head[i:i + 1] if i < len(head) else b"a")
                except OSError:
                    pass
            i += 1
            for _ in range(2):  # two scrapes per second meanwhile
                status, dt, _ = scrape(d)
                n += 1
                worst = max(worst, dt)
                failed += status != 200
                time.sleep(0.5)
        c.check("%d scrapes answered 200 with %d slow clients connected"
                % (n, SLOW_CLIENTS), failed == 0 and n >= 10,
                "%d failed" % failed)
        c.check("every scrape within %.1f s (worst %.3f s)"
                % (SCRAPE_BOUND_S, worst), worst < SCRAPE_BOUND_S)
        # A byte per second resets libevent's inactivity timeout (10 s), so
        # a trickling client keeps its connection (README, failure model);
        # once it goes quiet the timeout cuts it.
        time.sleep(11.5)
        closed = 0
        for k in socks:
            try:
                closed += k.recv(1) == b""
            except BlockingIOError:
                pass
            except OSError:
                closed += 1
            k.close()
        c.check("the half-open connections were cut by the HTTP timeout "
                "(%d of %d)" % (closed, SLOW_CLIENTS), closed == SLOW_CLIENTS)
        status, dt, _ = scrape(d)
        c.check("/metrics still answers afterwards", status == 200)
    finally:
        rc = d.stop()
    c.check("slow-client daemon exits 0", rc == 0, d.stderr())


def deployments(body):
    return set(re.findall(r'deployment="(dep-\d+)"', body))


def kill_loop(c, s, tmp, bin_dir):
    home = os.path.join(tmp, "kill")
    os.makedirs(home)
    rng = random.Random(12)
    seen = 0
    corrupt = 0
    regressions = []
    d = None
    for i in range(8):
        d = e2e.Daemon(bin_dir, home, config=CONFIG)
        d.start()
        _, _, body = scrape(d)
        restored = len(deployments(body))
        if "is corrupt" in d.stderr():
            corrupt += 1
        if restored < seen:
            regressions.append((i, seen, restored))
        seen = max(seen, restored)
        ch = d.channel()
        for k in range(3):  # three new deployments: the snapshot grows
            ops.telemetry(s, ch, "dep-%d" % (3 * i + k), n_steps=5,
                          n_requests=20)
        ch.close()
        time.sleep(rng.uniform(0.0, 0.4))  # land inside or between writes
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait()
        d.proc.stdout.close()
        d.err.close()
        d.proc = None
    d = e2e.Daemon(bin_dir, home, config=CONFIG)
    d.start()
    _, _, body = scrape(d)
    final = len(deployments(body))
    c.check("8 kill -9 during snapshot writes: no start found a corrupt "
            "snapshot", corrupt == 0 and "is corrupt" not in d.stderr()
            and not os.path.exists(d.snapshot + ".corrupt"), d.stderr())
    c.check("restored deployments never went backwards", not regressions,
            repr(regressions))
    c.check("the last restart restored the state of a recent write "
            "(%d of 24 deployments)" % final, final >= 18, repr(final))
    rc = d.stop()
    c.check("daemon after the kills exits 0", rc == 0, d.stderr())


def full_disk(c, s, tmp, bin_dir):
    home = os.path.join(tmp, "fsize")
    os.makedirs(home)
    wrapper = os.path.join(home, "afd-sizer")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\nexec prlimit --fsize=4096 -- %s \"$@\"\n"
                % os.path.join(os.path.abspath(bin_dir), "afd-sizer"))
    os.chmod(wrapper, 0o755)
    d = e2e.Daemon(home, home, config=CONFIG)  # bin_dir = the wrapper's
    d.start()
    try:
        ch = d.channel()
        ops.telemetry(s, ch, "dep-0", n_steps=3, n_requests=10)
        ok_before = ops.wait_for(lambda: ops.metric(ops.parse_metrics(
            scrape(d)[2]), "afd_snapshot_writes_total", result="ok"), 5)
        c.check("small snapshots are written under the 4 KiB limit",
                bool(ok_before), repr(ok_before))
        size_ok = os.path.getsize(d.snapshot)
        for k in range(1, 40):  # grow the state past 4 KiB
            ops.telemetry(s, ch, "dep-%d" % k, n_steps=2, n_requests=5)

        def failed():
            m = ops.parse_metrics(scrape(d)[2])
            return (ops.metric(m, "afd_snapshot_writes_total",
                               result="failed") or 0) >= 1 and m
        m = ops.wait_for(failed, 10)
        c.check("a write past the limit is counted as failed", bool(m))
        c.check("... and afd_snapshot_last_write_ok is 0", bool(m) and
                ops.metric(m, "afd_snapshot_last_write_ok") == 0)
        err = d.stderr()
        c.check("the daemon says so on stderr (EFBIG)",
                "snapshot save failed" in err and "File too large" in err,
                err[-2000:])
        c.check("... once per distinct failure, not every 0.1 s",
                err.count("snapshot save failed") == 1, err[-2000:])
        size_kept = os.path.getsize(d.snapshot)
        c.check("the last good snapshot file is kept (%d bytes, under the "
                "limit; %d at the first write)" % (size_kept, size_ok),
                size_ok <= size_kept <= 4096)
        status, _, body = scrape(d)
        rec = ops.recommendation(s, ch, "dep-1")
        c.check("the daemon keeps serving (HTTP and gRPC)", status == 200
                and d.proc.poll() is None and rec.deployment == "dep-1")
        ch.close()
    finally:
        rc = d.stop()
    c.check("at SIGTERM the final save fails too and the exit says so "
            "(status %r)" % rc, rc not in (0, None) and
            d.stderr().count("snapshot save failed") >= 2, d.stderr()[-1000:])
    d = e2e.Daemon(bin_dir, home, config=CONFIG)  # no limit now
    d.start()
    n = len(deployments(scrape(d)[2]))
    c.check("a restart trusts the kept file (%d deployments restored)" % n,
            n >= 1 and "is corrupt" not in d.stderr(), d.stderr()[-1000:])
    c.check("... restart exits 0", d.stop() == 0)


def stream_cap(c, s, tmp, bin_dir):
    cfg = json.loads(CONFIG)
    cfg["limits"] = {"max_streams": 8}
    d = e2e.Daemon(bin_dir, os.path.join(tmp, "streams"),
                   config=json.dumps(cfg))
    os.makedirs(d.tmp)
    d.start()
    pb, stub = s.afd_sizer_pb2, s.afd_sizer_pb2_grpc
    chans, readers = [], []
    try:
        for i in range(8):
            ch = d.channel()
            chans.append(ch)
            st = stub.SizerStub(ch)
            call = (st.WatchCommands(pb.WatchCommandsRequest(deployment=""))
                    if i % 2 == 0 else
                    st.WatchAlerts(pb.WatchAlertsRequest(deployment="")))
            readers.append((call, e2e.StreamReader(call)))

        def opened():
            return ops.metric(ops.parse_metrics(scrape(d)[2]),
                              "afd_grpc_streams_open") == 8
        c.check("8 idle streams are open (afd_grpc_streams_open 8)",
                bool(ops.wait_for(opened, 5)))
        ch9 = d.channel()
        extra = stub.SizerStub(ch9).WatchCommands(
            pb.WatchCommandsRequest(deployment=""), timeout=5)
        code, det = e2e.rpc_code(lambda: next(iter(extra)))
        c.check("the 9th stream is refused with RESOURCE_EXHAUSTED",
                code == e2e.grpc.StatusCode.RESOURCE_EXHAUSTED,
                "%r %r" % (code, det))
        c.check("... and the message names limits.max_streams",
                isinstance(det, str) and "limits.max_streams" in det,
                repr(det))
        m = ops.parse_metrics(scrape(d)[2])
        c.check("/metrics counts the refusal",
                ops.metric(m, "afd_grpc_streams_refused_total") == 1,
                repr(ops.metric(m, "afd_grpc_streams_refused_total")))
        readers[0][0].cancel()

        def freed():
            return ops.metric(ops.parse_metrics(scrape(d)[2]),
                              "afd_grpc_streams_open") == 7
        c.check("a cancelled stream frees its slot", bool(ops.wait_for(freed, 5)))
        again = stub.SizerStub(ch9).WatchCommands(
            pb.WatchCommandsRequest(deployment=""))
        r9 = e2e.StreamReader(again)
        time.sleep(0.5)
        m = ops.parse_metrics(scrape(d)[2])
        c.check("... and a new stream is accepted (open 8, refused still 1)",
                r9.q.empty() and ops.metric(m, "afd_grpc_streams_open") == 8
                and ops.metric(m, "afd_grpc_streams_refused_total") == 1)
        # Telemetry in flight on other threads while SIGTERM arrives.
        import threading
        stop = threading.Event()

        def pump(k):
            ch = d.channel()
            while not stop.is_set():
                try:
                    ops.telemetry(s, ch, "dep-%d" % k, n_steps=3, n_requests=5)
                except Exception:
                    break
            ch.close()
        ts = [threading.Thread(target=pump, args=(k,), daemon=True)
              for k in range(4)]
        for t in ts:
            t.start()
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = d.stop(timeout=10)
        dt = time.monotonic() - t0
        stop.set()
        c.check("SIGTERM with 8 streams and 4 telemetry calls in flight: "
                "exit 0 within 5 s (%.2f s)" % dt, rc == 0 and dt < 5.0,
                "rc %r; %s" % (rc, d.stderr()[-1500:]))
        ch9.close()
    finally:
        for ch in chans:
            ch.close()
        if d.proc is not None:
            d.kill()


def main():
    bin_dir = sys.argv[1]
    c = e2e.Checks("test_faults")
    tmp = tempfile.mkdtemp(prefix="test_faults-")
    try:
        s = e2e.load_stubs(tmp)
        slow_clients(c, s, tmp, bin_dir)
        kill_loop(c, s, tmp, bin_dir)
        full_disk(c, s, tmp, bin_dir)
        stream_cap(c, s, tmp, bin_dir)
    except Exception as e:  # report, never hang or crash silently
        e2e.report_exception(c, e)
    return e2e.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main())
