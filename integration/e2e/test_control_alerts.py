#!/usr/bin/python3
"""Regime alerts end to end: WatchAlerts and a real Alertmanager.

Starts Debian's prometheus-alertmanager on a free loopback port (one null
receiver, no gossip, storage in a temporary folder) and `afd-sizer serve`
with "alerting.alertmanager_url" pointing at it, the telemetry clock
(evaluation every 1000 ms of telemetry time), debounce 2 s, resolve 3 s,
resend 0.5 s, and advisory mode (no command in flight to get in the way).
Telemetry timestamps start one hour before now, so alert times are real
Unix-epoch ms in the past, as Alertmanager expects.

Three Attention instances report 10 steps per simulated second with
measured stage times:
  1. comm 10 ms above attention 2 ms: the calibrated comm floor sets r*
     (r_C); then attention 40 ms: the attention balance r_A sets it, so
     AfdSizingRegimeChanged is raised (attention, previously
     communication) on the WatchAlerts stream after the 2 s debounce, and
     it shows in GET /api/v2/alerts with its labels and annotations; a
     watcher connecting then gets it first;
  2. the new regime holds: the alert is resolved on the stream after the
     3 s resolve time and leaves Alertmanager's active alerts;
  3. Alertmanager stopped; r_C binds again (attention back to 2 ms): the
     alert is raised on the stream, the daemon keeps answering
     GetRecommendation and counts delivery failures on /metrics;
     Alertmanager restarted on the same port: the alert arrives.
Every wait is bounded; everything started is stopped; the daemon must exit
0 on SIGTERM.

Usage: /usr/bin/python3 test_control_alerts.py BIN_DIR
"""
import json
import os
import queue
import re
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as common  # noqa: E402
import peers  # noqa: E402

DEP = "alerted"
B = 256
WAIT = 15.0  # s of wall time for a delivery or a streamed message
T0 = (int(time.time() * 1000) - 3600 * 1000) // 1000 * 1000


class Alertmanager(peers.Alertmanager):
    """The shared peer, plus DEP's active alerts by name."""

    def active(self, alertname):
        """Active alerts of DEP named alertname (GET /api/v2/alerts)."""
        try:
            got = self.active_alerts()
        except OSError:
            return []
        return [a for a in got if a["labels"].get("deployment") == DEP and
                a["labels"].get("alertname") == alertname]


wait_for = peers.wait_for


class AlertWatcher(common.StreamReader):
    def __init__(self, stub, pb, deployment):
        super().__init__(stub.WatchAlerts(
            pb.WatchAlertsRequest(deployment=deployment)))

    def next_changed(self, timeout):
        """The next AfdSizingRegimeChanged event (others skipped), or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(m, Exception):
                return m
            if m.alertname == "AfdSizingRegimeChanged":
                return m

    def close(self):
        self.call.cancel()
        self.t.join(timeout=5)


def window(pb, sec, attention_ms, comm_ms):
    steps = []
    for k in range(10):
        for i in range(3):
            steps.append(pb.StepSample(
                instance_id="attn-%d" % i, role=pb.ROLE_ATTENTION,
                step=sec * 10 + k, batch_size=B,
                token_load=25600.0 + (i - 1) * 100.0,
                attention_ms=attention_ms, comm_ms=comm_ms,
                timestamp_ms=T0 + sec * 1000 + (k + 1) * 100))
    return pb.TelemetryBatch(deployment=DEP, steps=steps)


def metric(daemon, name, labels=""):
    """The first sample of name whose label set contains labels."""
    with urllib.request.urlopen("http://%s/metrics" % daemon.http_addr,
                                timeout=5) as r:
        text = r.read().decode()
    for m in re.finditer(r"^%s(\{[^}]*\})? (\S+)$" % re.escape(name), text,
                         re.M):
        if labels in (m.group(1) or ""):
            return float(m.group(2))
    return None


def scenario(c, daemon, stubs, am):
    pb = stubs.afd_sizer_pb2
    ch = daemon.channel()
    tel = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    w = AlertWatcher(sizer, pb, "")
    sec = 0

    def send(attention_ms, comm_ms):
        nonlocal sec
        s = tel.Report(iter([window(pb, sec, attention_ms, comm_ms)]),
                       timeout=common.RPC_TIMEOUT)
        sec += 1
        return s

    # 1. communication-bound, then attention-bound.
    for _ in range(5):
        send(2.0, 10.0)
    c.check("no regime-changed alert while the regime holds",
            w.next_changed(0.3) is None)
    raised = None
    for _ in range(10):
        send(40.0, 10.0)
        raised = w.next_changed(0.5)
        if raised is not None:
            break
    ok = isinstance(raised, pb.RegimeAlert)
    c.check("AfdSizingRegimeChanged raised on the stream", ok, repr(raised))
    if not ok:
        return
    c.check("raised: attention, previously communication, start on the "
            "telemetry clock",
            raised.action == "raised" and raised.deployment == DEP and
            raised.regime == "attention" and
            raised.previous_regime == "communication" and
            T0 <= raised.start_ms <= T0 + sec * 1000 and raised.end_ms == 0,
            str(raised))
    # The calibrated attention line crosses the comm floor within a window
    # or two of the 40 ms samples (window 5 or 6), the debounce adds 2 s.
    c.check("raised after the 2 s debounce (window 7 or 8)",
            7 <= sec - 1 <= 8, "window %d" % (sec - 1))
    got = wait_for(lambda: am.active("AfdSizingRegimeChanged"), WAIT)
    c.check("Alertmanager shows the alert", bool(got))
    if got:
        a = got[0]
        c.check("labels: alertname, deployment, regime, severity",
                a["labels"].get("regime") == "attention" and
                a["labels"].get("severity") == "page", str(a["labels"]))
        c.check("annotations: explanation and r*",
                a["annotations"].get("explanation") and
                "r_star" in a["annotations"], str(a["annotations"]))
    w2 = AlertWatcher(sizer, pb, DEP)
    first = w2.next_changed(5.0)
    c.check("a new watcher first gets the firing alert",
            isinstance(first, pb.RegimeAlert) and first.action == "raised" and
            first.regime == "attention", repr(first))
    w2.close()

    # 2. the new regime holds: resolved after 3 s.
    resolved = None
    for _ in range(8):
        send(40.0, 10.0)
        resolved = w.next_changed(0.5)
        if resolved is not None:
            break
    c.check("AfdSizingRegimeChanged resolved on the stream",
            isinstance(resolved, pb.RegimeAlert) and
            resolved.action == "resolved" and
            resolved.end_ms >= raised.start_ms + 3000, repr(resolved))
    gone = wait_for(lambda: not am.active("AfdSizingRegimeChanged"), WAIT)
    c.check("the alert leaves Alertmanager's active alerts", gone)

    # 3. Alertmanager down: the daemon keeps serving, then delivers.
    am.stop()
    again = None
    # The calibration forgets slowly (0.999 per sample): it takes a few
    # hundred 2 ms samples to bring the attention line back under comm.
    for _ in range(60):
        send(2.0, 10.0)
        again = w.next_changed(0.5)
        if again is not None:
            break
    c.check("raised again (communication) with Alertmanager down",
            isinstance(again, pb.RegimeAlert) and again.action == "raised" and
            again.regime == "communication", repr(again))
    rec = sizer.GetRecommendation(pb.GetRecommendationRequest(deployment=DEP),
                                  timeout=common.RPC_TIMEOUT)
    c.check("GetRecommendation answers while Alertmanager is down",
            rec.deployment == DEP and rec.valid)
    fails = wait_for(lambda: (metric(daemon, "afd_alertmanager_failures_total")
                              or 0) > 0, WAIT)
    c.check("delivery failures counted on /metrics", fails)
    c.check("afd_alerts_firing shows the alert",
            metric(daemon, "afd_alerts_firing",
                   'alertname="AfdSizingRegimeChanged"') == 1)
    c.check("afd_regime_transitions_total counts 2 raised, 1 resolved",
            metric(daemon, "afd_regime_transitions_total",
                   'alertname="AfdSizingRegimeChanged",kind="raised"') == 2 and
            metric(daemon, "afd_regime_transitions_total",
                   'alertname="AfdSizingRegimeChanged",kind="resolved"') == 1)
    c.check("alertmanager restarts on the same port", am.start())
    got = wait_for(lambda: [a for a in am.active("AfdSizingRegimeChanged")
                            if a["labels"].get("regime") == "communication"],
                   WAIT)
    c.check("the alert arrives once Alertmanager is back", bool(got))
    delivered = metric(daemon, "afd_alertmanager_delivered_total") or 0
    c.check("deliveries counted on /metrics", delivered >= 2,
            "delivered %r" % delivered)
    w.close()
    ch.close()


def main():
    bin_dir = sys.argv[1]
    c = common.Checks("test_control_alerts")
    import tempfile
    tmp = tempfile.mkdtemp(prefix="test_control_alerts-")
    am = Alertmanager(tmp, peers.free_port())
    daemon = None
    try:
        stubs = common.load_stubs(tmp)
        c.check("alertmanager starts", am.start())
        config = json.dumps({
            "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                           "advisory": True},
            "alerting": {"debounce_s": 2, "resolve_s": 3,
                         "alertmanager_url": am.url, "severity": "page",
                         "resend_interval_s": 0.5, "timeout_s": 2,
                         "backoff_initial_s": 0.1, "backoff_max_s": 0.4},
            # The comm floor below is per instance by construction: no
            # hedging over the aggregate hypothesis (fixed ratio, advisory).
            "default_deployment": {"comm_mode_known": True},
        })
        daemon = common.Daemon(bin_dir, tmp, config=config).start()
        scenario(c, daemon, stubs, am)
        rc = daemon.stop()
        c.check("daemon exits 0 on SIGTERM", rc == 0,
                "exit status %r; stderr:\n%s" % (rc, daemon.stderr()))
    except Exception as e:  # report, never hang
        common.report_exception(c, e)
        if daemon is not None:
            print(daemon.stderr())
            daemon.kill()
    finally:
        am.stop()
    return common.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main())
