#!/usr/bin/python3
"""AfdOutsideBalancedBand end to end in advisory mode, to a real Alertmanager.

Starts Debian's prometheus-alertmanager on a free loopback port and
`afd-sizer serve` with "controller.advisory": true (the controller reports,
never commands), the telemetry clock (evaluation every 1000 ms of telemetry
time), dwell, ack timeout and cooldown 1 s each (the alert waits
max(debounce, dwell + ack + cooldown) = 3 s), debounce 2 s, resolve 3 s.
The deployment runs the paper-v1-fit hardware (stage times from its lines
with 2% seeded noise, per-slot load 600 tokens at batch 256, so r* = 9.3):

  1. 3 Attention instances and 1 FFN: ratio 3, under-provisioned far below
     the balanced band, and nobody resizes it (advisory). The alert is
     raised on WatchAlerts after its 3 s wait, critical, regime
     "attention", with the band and the throughput lost (fraction, tokens/s
     per device, tokens/s in all = per device x 4 devices) that the model
     gives at ratio 3 against r*; it shows in GET /api/v2/alerts with the
     same numbers as annotations.
  2. The test resizes the deployment to 9 Attention instances (inside the
     band): the alert is resolved on the stream after the 3 s resolve time
     and leaves Alertmanager's active alerts.
Every wait is bounded; everything started is stopped; the daemon must exit
0 on SIGTERM. About 10 s of wall time.

Usage: /usr/bin/python3 test_control_band_advisory.py BIN_DIR
"""
import json
import os
import queue
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc_e2e_common as common  # noqa: E402
import peers  # noqa: E402

DEP = "advised"
NAME = "AfdOutsideBalancedBand"
B = 256
LOAD = B * 600.0  # tokens per Attention instance
WAIT = 15.0  # s of wall time for a delivery
T0 = (int(time.time() * 1000) - 3600 * 1000) // 1000 * 1000
# paper-v1-fit (model.md sec. 2), the daemon's default profile.
AA, BA, AC, BC, AF, BF = 5.075e-5, 2.549, 1.0e-3, 0.30, 2.2444e-3, 5.0


def f_model(r):
    """Mean-field throughput per device (tokens/ms) at ratio r."""
    tau = max(AA * LOAD + BA, AC * B + BC, AF * r * B + BF)
    return r * B / ((r + 1) * tau)


class Watcher(common.StreamReader):
    def __init__(self, stub, pb):
        super().__init__(stub.WatchAlerts(pb.WatchAlertsRequest(
            deployment=DEP)))

    def next_band(self, timeout):
        """The next AfdOutsideBalancedBand event (others skipped), or None."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            try:
                m = self.q.get(timeout=left)
            except queue.Empty:
                return None
            if isinstance(m, Exception) or m.alertname == NAME:
                return m

    def close(self):
        self.call.cancel()
        self.t.join(timeout=5)


def window(pb, rng, sec, x):
    """One telemetry second: 10 steps of x Attention instances and 1 FFN."""
    steps = []
    noise = lambda: 1 + 0.02 * rng.gauss(0, 1)  # noqa: E731
    for k in range(10):
        ts = T0 + sec * 1000 + (k + 1) * 100
        for i in range(x):
            t = LOAD * (1 + 0.01 * rng.gauss(0, 1))
            steps.append(pb.StepSample(
                instance_id="attn-%d" % i, role=pb.ROLE_ATTENTION,
                step=sec * 10 + k, batch_size=B, token_load=t,
                attention_ms=(AA * t + BA) * noise(),
                comm_ms=(AC * B + BC) * noise(), timestamp_ms=ts))
        n = x * B
        steps.append(pb.StepSample(
            instance_id="ffn-0", role=pb.ROLE_FFN, step=sec * 10 + k,
            ffn_tokens=n, ffn_ms=(AF * n + BF) * noise(), timestamp_ms=ts))
    return pb.TelemetryBatch(deployment=DEP, steps=steps)


def num(annotations, key):
    try:
        return float(annotations.get(key, "nan"))
    except ValueError:
        return float("nan")


def scenario(c, daemon, stubs, am):
    pb = stubs.afd_sizer_pb2
    ch = daemon.channel()
    tel = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    w = Watcher(sizer, pb)
    rng = random.Random(11)
    sec = 0

    def send(x):
        nonlocal sec
        tel.Report(iter([window(pb, rng, sec, x)]), timeout=common.RPC_TIMEOUT)
        sec += 1

    def active():
        try:
            got = am.active_alerts()
        except OSError:
            return []
        return [a for a in got if a["labels"].get("deployment") == DEP and
                a["labels"].get("alertname") == NAME]

    # 1. Three Attention instances, advisory: stuck outside the band.
    raised = None
    for _ in range(20):
        send(3)
        raised = w.next_band(0.3)
        if raised is not None:
            break
    ok = isinstance(raised, pb.RegimeAlert) and raised.action == "raised"
    c.check("%s raised on the stream (window %d)" % (NAME, sec - 1), ok,
            repr(raised))
    if not ok:
        return
    rec = sizer.GetRecommendation(pb.GetRecommendationRequest(deployment=DEP),
                                  timeout=common.RPC_TIMEOUT)
    c.check("advisory: still 3 Attention instances, target > 3",
            rec.attention_instances == 3 and
            rec.target_attention_instances > 3, str(rec)[:400])
    # Windows end on the evaluation boundaries: the last one sent ends at
    # T0 + sec s, the evaluation that raised.
    c.check("raised exactly after the 3 s wait (start %d ms, raised at %d "
            "ms)" % (raised.start_ms - T0, sec * 1000),
            raised.start_ms >= T0 and
            T0 + sec * 1000 - raised.start_ms == 3000 and
            "for 3 s" in raised.explanation, raised.explanation)
    want = 1 - f_model(3) / f_model(raised.r_star or 9.3)
    c.check("critical, regime attention (under-provisioned), ratio 3 below "
            "the band [%.2f, %.2f] around r* %.2f" %
            (raised.band_lo, raised.band_hi, raised.r_star),
            raised.severity == "critical" and raised.regime == "attention"
            and raised.ratio == 3 and raised.band_lo > 3 and
            raised.band_lo <= raised.r_star <= raised.band_hi, str(raised))
    c.check("loss %.4f is the model's 1 - f(3)/f(r*) = %.4f (within 0.03: "
            "calibrated coefficients, barrier model)" % (raised.loss, want),
            abs(raised.loss - want) < 0.03)
    c.check("tokens/s lost: %.0f per device, %.0f in all (= x 4 devices)" %
            (raised.tokens_per_s_lost_per_device, raised.tokens_per_s_lost),
            raised.tokens_per_s_lost_per_device > 0 and
            abs(raised.tokens_per_s_lost -
                4 * raised.tokens_per_s_lost_per_device) <
            1e-6 * raised.tokens_per_s_lost)
    got = peers.wait_for(active, WAIT)
    c.check("Alertmanager shows the alert", bool(got))
    if got:
        a = got[0]
        an = a["annotations"]
        c.check("labels: severity critical, regime attention",
                a["labels"].get("severity") == "critical" and
                a["labels"].get("regime") == "attention", str(a["labels"]))
        c.check("annotations carry the band and the loss",
                abs(num(an, "throughput_lost_fraction") - raised.loss) <
                1e-4 and
                abs(num(an, "tokens_per_s_lost") - raised.tokens_per_s_lost)
                < 1e-4 * raised.tokens_per_s_lost and
                abs(num(an, "tokens_per_s_lost_per_device") -
                    raised.tokens_per_s_lost_per_device) <
                1e-4 * raised.tokens_per_s_lost_per_device and
                abs(num(an, "band_lo") - raised.band_lo) < 1e-4 and
                an.get("runbook"), json.dumps(an)[:600])

    # 2. Resized by the test to 9 Attention instances: inside the band.
    resolved = None
    for _ in range(20):
        send(9)
        resolved = w.next_band(0.3)
        if resolved is not None:
            break
    c.check("resolved on the stream after the 3 s resolve time",
            isinstance(resolved, pb.RegimeAlert) and
            resolved.action == "resolved" and
            resolved.end_ms >= raised.start_ms + 3000, repr(resolved))
    c.check("the alert leaves Alertmanager's active alerts",
            peers.wait_for(lambda: not active(), WAIT))
    rec = sizer.GetRecommendation(pb.GetRecommendationRequest(deployment=DEP),
                                  timeout=common.RPC_TIMEOUT)
    c.check("9 Attention instances now", rec.attention_instances == 9,
            str(rec.attention_instances))
    w.close()
    ch.close()


def main():
    bin_dir = sys.argv[1]
    c = common.Checks("test_control_band_advisory")
    tmp = tempfile.mkdtemp(prefix="test_control_band_advisory-")
    am = peers.Alertmanager(tmp, peers.free_port())
    daemon = None
    try:
        stubs = common.load_stubs(tmp)
        c.check("alertmanager starts", am.start())
        config = json.dumps({
            "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                           "advisory": True, "dwell_s": 1, "cooldown_s": 1,
                           "ack_timeout_s": 1},
            "alerting": {"debounce_s": 2, "resolve_s": 3,
                         "alertmanager_url": am.url,
                         "resend_interval_s": 0.5, "timeout_s": 2,
                         "backoff_initial_s": 0.1, "backoff_max_s": 0.4},
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
