#!/usr/bin/python3
"""Scale commands end to end: WatchCommands, AckCommand, the telemetry clock.

The daemon runs with "controller.clock": "telemetry" (eval every 1000 ms of
telemetry time, dwell 2 s, cooldown 30 s, max_step 16), so the test drives
time itself and is fast and deterministic. Three Attention instances report
10 steps per simulated second, B = 256 slots:
  phase A: token load 25600 per instance (theta 100) - the optimum for
           paper-v1-fit at y = 1 is x = 3 (hand-checked with `afd-sizer
           solve --batch 256 --theta 100`: r* 2.95, x 3), so no command;
  phase B: token load ~153600 (theta 600, optimum x = 9): after the 2 s
           dwell exactly one command, 3 -> more, reaches the watcher that
           was connected before the deployment existed; ReportSummary
           announces its id; KEDA serves its target while in flight;
  ack:     AckCommand success is accepted; repeating it, an id never
           issued, and an unknown deployment are refused the documented way;
  cooldown: the test keeps reporting x = 3 (the gain stays above threshold)
           for 25 more simulated seconds: no second command inside the 30 s
           cooldown; a reconnecting watcher gets nothing old (no command in
           flight); after the cooldown ends a second command follows,
           proving the cooldown was what held it.
Every wait is bounded; the daemon is stopped with SIGTERM, exit 0 expected.

Usage: /usr/bin/python3 test_control_commands.py BIN_DIR
"""
import os
import queue
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
import grpc_e2e_common as common  # noqa: E402

DEP = "shift"
T0 = 1700000000000  # ms, telemetry epoch of the test
B = 256
CONFIG = """{
  "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                 "gain_threshold": 0.02, "dwell_s": 2, "cooldown_s": 30,
                 "max_step": 16, "min_attention_instances": 1,
                 "max_attention_instances": 64, "ack_timeout_s": 60,
                 "backoff_s": 10},
  "liveness_window_s": 30
}"""
WAIT = 5.0  # s of wall time for a streamed message to arrive


class Watcher(common.StreamReader):
    """Collects one WatchCommands stream in a thread."""

    def __init__(self, stub, pb, deployment):
        super().__init__(stub.WatchCommands(
            pb.WatchCommandsRequest(deployment=deployment)))

    def get(self, timeout):
        try:
            return self.q.get(timeout=timeout)
        except queue.Empty:
            return None

    def drain(self):
        out = []
        while True:
            try:
                out.append(self.q.get_nowait())
            except queue.Empty:
                return out

    def close(self):
        self.call.cancel()
        self.t.join(timeout=WAIT)


def window(pb, sec, load, x=3):
    """One simulated second (grpc_e2e_common.attention_window)."""
    return common.attention_window(pb, DEP, sec, load, x, T0, B)


def report(tel, pb, sec, load):
    return tel.Report(iter([window(pb, sec, load)]),
                      timeout=common.RPC_TIMEOUT)


def body(c, daemon, stubs, tmp):
    pb = stubs.afd_sizer_pb2
    ch = daemon.channel()
    tel = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
    sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
    ks = stubs.externalscaler_pb2
    keda = stubs.externalscaler_pb2_grpc.ExternalScalerStub(ch)
    ref = ks.ScaledObjectRef(name="attn", namespace="llm",
                             scalerMetadata={"deployment": DEP})

    w = Watcher(sizer, pb, DEP)  # before the deployment exists
    w_all = Watcher(sizer, pb, "")

    sec = 0
    quiet = True
    for sec in range(0, 10):
        s = report(tel, pb, sec, 25600.0)
        quiet = quiet and s.last_command_id == 0
    c.check("phase A: summaries announce no command", quiet)
    c.check("summary clock_ms is the last step timestamp",
            s.clock_ms == T0 + 10000, "got %d" % s.clock_ms)
    rec = sizer.GetRecommendation(pb.GetRecommendationRequest(deployment=DEP),
                                  timeout=common.RPC_TIMEOUT)
    c.check("phase A: recommendation valid with target 3 = current",
            rec.valid and rec.target_attention_instances == 3 and
            rec.attention_instances == 3,
            "valid %s target %d x %d" % (rec.valid,
                                         rec.target_attention_instances,
                                         rec.attention_instances))
    c.check("phase A: no command streamed", w.get(0.3) is None)

    first = None
    issued_sec = None
    for sec in range(10, 20):
        s = report(tel, pb, sec, 153600.0)
        if s.last_command_id:
            first = s.last_command_id
            issued_sec = sec
            break
    c.check("phase B: summary announces command 1", first == 1,
            "last_command_id %r" % first)
    # Window 10 is evaluated at T0+11000: the gain appears, dwell starts;
    # T0+12000: 1 s; T0+13000 (window 12): 2 s >= dwell -> the command.
    c.check("command issued after the 2 s dwell (window 12)",
            issued_sec == 12, "window %r" % issued_sec)
    m = w.get(WAIT)
    ok = isinstance(m, pb.ScaleCommand)
    c.check("watcher receives the command", ok, repr(m))
    if not ok:
        return
    c.check("command id 1, deployment, 3 -> more, not advisory",
            m.id == 1 and m.deployment == DEP and
            m.current_attention_instances == 3 and
            m.target_attention_instances > 3 and not m.advisory,
            str(m))
    c.check("command target within max_step and bounds",
            m.target_attention_instances <= 3 + 16 and
            m.target_attention_instances <= 64)
    c.check("command explains itself",
            m.regime in ("attention", "communication", "ffn") and
            m.r_star > 3 and m.expected_gain > 0.02 and len(m.reason) > 0,
            str(m))
    c.check("issued_ms is on the telemetry clock",
            m.issued_ms == T0 + 13000, "got %d" % m.issued_ms)
    m_all = w_all.get(WAIT)
    c.check("all-deployments watcher gets the same command",
            isinstance(m_all, pb.ScaleCommand) and m_all.id == 1 and
            m_all.deployment == DEP)
    target = m.target_attention_instances

    mv = keda.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref,
                                              metricName="x"),
                         timeout=common.RPC_TIMEOUT)
    c.check("KEDA serves the in-flight command's target",
            mv.metricValues[0].metricValue == target,
            "got %d want %d" % (mv.metricValues[0].metricValue, target))

    # A watcher connecting now gets the command in flight first.
    w2 = Watcher(sizer, pb, DEP)
    m2 = w2.get(WAIT)
    c.check("reconnecting watcher gets the in-flight command",
            isinstance(m2, pb.ScaleCommand) and m2.id == 1)
    w2.close()

    code, _ = common.rpc_code(sizer.AckCommand, pb.AckCommandRequest(
        deployment="nope", command_id=1, success=True),
        timeout=common.RPC_TIMEOUT)
    c.check("ack for an unknown deployment: NOT_FOUND",
            code == grpc.StatusCode.NOT_FOUND, str(code))
    code, det = common.rpc_code(sizer.AckCommand, pb.AckCommandRequest(
        deployment=DEP, command_id=0, success=True),
        timeout=common.RPC_TIMEOUT)
    c.check("ack for id 0: INVALID_ARGUMENT",
            code == grpc.StatusCode.INVALID_ARGUMENT, str(code))
    r = sizer.AckCommand(pb.AckCommandRequest(deployment=DEP, command_id=7,
                                              success=True),
                         timeout=common.RPC_TIMEOUT)
    c.check("ack for an id never issued: not accepted, says so",
            not r.accepted and "never issued" in r.message, str(r))
    r = sizer.AckCommand(pb.AckCommandRequest(deployment=DEP, command_id=1,
                                              success=True, detail="done"),
                         timeout=common.RPC_TIMEOUT)
    c.check("ack success accepted", r.accepted and r.message == "", str(r))
    r = sizer.AckCommand(pb.AckCommandRequest(deployment=DEP, command_id=1,
                                              success=True),
                         timeout=common.RPC_TIMEOUT)
    c.check("repeated ack: not accepted", not r.accepted and r.message,
            str(r))
    mv = keda.GetMetrics(ks.GetMetricsRequest(scaledObjectRef=ref,
                                              metricName="x"),
                         timeout=common.RPC_TIMEOUT)
    c.check("KEDA serves the acked command's target",
            mv.metricValues[0].metricValue == target)

    # Cooldown 30 s from the ack, stamped with the deployment's clock after
    # window 12 (T0 + 13000). Keep x = 3: the move is still wanted.
    w3 = Watcher(sizer, pb, DEP)
    extra = []
    for sec in range(issued_sec + 1, issued_sec + 26):
        s = report(tel, pb, sec, 153600.0)
        if s.last_command_id != 1:
            extra.append((sec, s.last_command_id))
    c.check("no second command inside the cooldown (summaries)", not extra,
            repr(extra))
    got = w.get(0.5)
    c.check("no second command inside the cooldown (stream)", got is None,
            repr(got))
    c.check("reconnected watcher got nothing old (nothing in flight)",
            w3.get(0.3) is None)
    # The cooldown ends at T0+43000, the evaluation of window 42; the gain
    # held all along, so the dwell is over too: command 2 there.
    second = None
    for sec in range(issued_sec + 26, issued_sec + 40):
        s = report(tel, pb, sec, 153600.0)
        if s.last_command_id == 2:
            second = sec
            break
    c.check("second command exactly when the cooldown is over (window 42)",
            second == 42, "window %r" % second)
    m = w.get(WAIT)
    c.check("watcher receives command 2",
            isinstance(m, pb.ScaleCommand) and m.id == 2 and
            m.issued_ms == T0 + 43000, repr(m))
    for x in (w, w_all, w3):
        x.close()
    ch.close()


if __name__ == "__main__":
    sys.exit(common.run("test_control_commands", body, sys.argv[1],
                        config=CONFIG))
