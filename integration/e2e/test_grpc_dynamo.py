#!/usr/bin/python3
"""afd-sizer as a PROPOSE plugin of NVIDIA Dynamo's planner, end to end,
against a stand-in planner written from the proposal (dynamo_planner.py).

Daemon A (right token, telemetry clock, deployment "shift" mapped to
component "shift-attn" / "afd-attention", heartbeat every 0.1 s, planner
heartbeat timeout 0.3 s):
  registration: the Register request carries what the proposal asks for
           (propose, grpc://<our gRPC addr>, protocol 1.0, priority,
           hold policy, request timeout, fpm_encoding, auth token);
           heartbeats flow; /readyz and /metrics say registered;
  missing data: Propose before any telemetry, and after telemetry while
           the controller wants no move, answers ACCEPT;
  SET:     the planner drives "shift", so the controller's decision is
           advisory on WatchCommands (no command id is ever issued: one
           actuator); Propose answers one SET target (Attention pool only)
           = the recommendation's target, with the decision's reason;
  load:    400 Propose calls from 8 threads while telemetry streams in:
           every answer inside the 0.5 s request timeout (max printed);
  eviction: the planner drops every call for 1 s (> 2 heartbeat windows):
           it evicts the plugin, and the daemon registers again once the
           planner answers;
  restart: the planner is replaced by a fresh one on the same port: the
           daemon registers with the new one;
  SIGTERM: the daemon sends Unregister("graceful_shutdown").
Daemon B (wrong token): rejected; the planner's reason is on stderr,
/readyz and in afd_dynamo_rejections_total.
Daemon C ("dynamo.advisory": true): with a command issued, Propose answers
ACCEPT and stderr logs what would have been set.
Daemons D: the planner serves mTLS (throw-away PKI made by openssl, as in
test_security.py): with --dynamo-tls-ca and a client certificate the daemon
registers; plaintext, or TLS without a client certificate, does not.

Usage: /usr/bin/python3 test_grpc_dynamo.py BIN_DIR
"""
import importlib
import os
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
from grpc_tools import protoc  # noqa: E402
import dynamo_planner  # noqa: E402
import grpc_e2e_common as common  # noqa: E402

DEP = "shift"
PLUGIN = "afd-sizer-e2e"
CPLUGIN = PLUGIN + "-constrain"
TOKEN = "s3cret-planner-token"
T0 = 1700000000000
B = 256
BUDGET_S = 0.5
HB_TIMEOUT_S = 0.3


def config(advisory=False, plugin_id=PLUGIN):
    return """{
  "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                 "gain_threshold": 0.02, "dwell_s": 2, "cooldown_s": 30,
                 "max_step": 16, "min_attention_instances": 1,
                 "max_attention_instances": 64, "ack_timeout_s": 60,
                 "backoff_s": 10},
  "liveness_window_s": 30,
  "dynamo": {"plugin_id": "%s", "priority": 40, "hold_policy": "hold_last",
             "heartbeat_interval_s": 0.1, "request_timeout_s": %g,
             "advisory": %s, "constrain": true,
             "deployments": [{"name": "%s", "component_name": "shift-attn",
                              "sub_component_type": "afd-attention"}]}
}""" % (plugin_id, BUDGET_S, "true" if advisory else "false", DEP)


def load_dynamo_stubs(tmp):
    root = os.path.join(common.PROTO_DIR, "dynamo", "planner", "plugin", "v1")
    out = os.path.join(tmp, "stubs")
    os.makedirs(out, exist_ok=True)
    if protoc.main(["protoc", "-I" + root, "--python_out=" + out,
                    "--grpc_python_out=" + out,
                    os.path.join(root, "plugin.proto")]) != 0:
        raise RuntimeError("protoc failed on plugin.proto")
    sys.path.insert(0, out)
    return (importlib.import_module("plugin_pb2"),
            importlib.import_module("plugin_pb2_grpc"))


def window(pb, sec, load, x=3):
    return common.attention_window(pb, DEP, sec, load, x, T0, B)


def drive_to_command(tel, pb):
    """Phase A (optimum = current x 3) then phase B (optimum 9) until a
    command is issued; returns (last window, command id)."""
    for sec in range(0, 10):
        tel.Report(iter([window(pb, sec, 25600.0)]),
                   timeout=common.RPC_TIMEOUT)
    for sec in range(10, 20):
        s = tel.Report(iter([window(pb, sec, 153600.0)]),
                       timeout=common.RPC_TIMEOUT)
        if s.last_command_id:
            return sec, s.last_command_id
    return sec, 0


def http_get(daemon, path):
    try:
        with urllib.request.urlopen("http://%s%s" % (daemon.http_addr, path),
                                    timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


def token_file(tmp, name, value):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def is_accept(r):
    return not isinstance(r, grpc.StatusCode) and \
        r.WhichOneof("result") == "accept"


def daemon_a(c, tmp, stubs, dpb, dpbg):
    pb = stubs.afd_sizer_pb2
    planner = dynamo_planner.Planner(dpb, dpbg, TOKEN, HB_TIMEOUT_S)
    d = common.Daemon(os.path.dirname(os.path.abspath(EXE)), tmp,
                      config=config(), extra_args=[
                          "--dynamo-planner", planner.addr,
                          "--dynamo-token-file",
                          token_file(tmp, "tok", TOKEN)]).start()
    try:
        ok = planner.wait(lambda p: p.registered(PLUGIN) is not None, 10)
        c.check("A registers with the planner", ok, d.stderr())
        if not ok:
            return planner
        req = planner.registered(PLUGIN)
        c.check("Register carries propose, our endpoint, protocol 1.0, "
                "priority, hold policy, timeout, fpm_encoding, token",
                req.plugin_type == "propose" and
                req.endpoint == "grpc://" + d.grpc_addr and
                req.protocol_version == "1.0" and req.priority == 40 and
                req.hold_policy == dpb.HOLD_LAST and
                abs(req.request_timeout_seconds - BUDGET_S) < 1e-6 and
                req.fpm_encoding == "proto" and req.auth_token == TOKEN,
                str(req))
        ok = planner.wait(lambda p: p.heartbeats >= 5, 5)
        c.check("heartbeats arrive (>= 5 in 5 s at 0.1 s)", ok,
                "heartbeats %d" % planner.heartbeats)
        st, body = http_get(d, "/readyz")
        c.check("/readyz says registered",
                st == 200 and "dynamo planner: registered" in body, body)

        r, _ = planner.propose(PLUGIN, workers={"ready_decode": 3})
        c.check("Propose with no telemetry: ACCEPT (never an error)",
                is_accept(r), repr(r))
        creq = planner.registered(CPLUGIN)
        c.check("also registered as a constrain plugin (dynamo.constrain)",
                creq is not None and creq.plugin_type == "constrain" and
                creq.endpoint == req.endpoint, str(creq))
        r, _ = planner.propose(CPLUGIN, kind="constrain")
        c.check("Constrain with no telemetry: ACCEPT", is_accept(r), repr(r))

        ch = d.channel()
        tel = stubs.afd_sizer_pb2_grpc.TelemetryStub(ch)
        sizer = stubs.afd_sizer_pb2_grpc.SizerStub(ch)
        for sec in range(0, 10):
            tel.Report(iter([window(pb, sec, 25600.0)]),
                       timeout=common.RPC_TIMEOUT)
        r, _ = planner.propose(PLUGIN)
        c.check("Propose while the controller wants no move: ACCEPT",
                is_accept(r), repr(r))
        # Exactly one actuator: the planner drives "shift", so the
        # controller's decision is reported, never commanded, and Propose
        # carries it.
        r, last_ids = None, []
        for sec in range(10, 25):
            s = tel.Report(iter([window(pb, sec, 153600.0)]),
                           timeout=common.RPC_TIMEOUT)
            last_ids.append(s.last_command_id)
            r, _ = planner.propose(PLUGIN)
            if not isinstance(r, grpc.StatusCode) and \
                    r.WhichOneof("result") == "override":
                break
        rec = sizer.GetRecommendation(
            pb.GetRecommendationRequest(deployment=DEP),
            timeout=common.RPC_TIMEOUT)
        ok = not isinstance(r, grpc.StatusCode) and \
            r.WhichOneof("result") == "override"
        c.check("Propose after the controller decides: OVERRIDE", ok, repr(r))
        c.check("no command issued for a planner-driven deployment "
                "(last_command_id 0 on every report)",
                all(i == 0 for i in last_ids), str(last_ids))
        first_set = r.override.targets[0].replicas if ok else -1
        if ok:
            t = r.override.targets
            c.check("one SET target: afd-attention/shift-attn = the "
                    "recommendation's target, FFN pool without opinion",
                    len(t) == 1 and t[0].type == dpb.SET and
                    t[0].sub_component_type == "afd-attention" and
                    t[0].component_name == "shift-attn" and
                    t[0].HasField("replicas") and
                    t[0].replicas == rec.target_attention_instances and
                    rec.target_attention_instances > 3,
                    "%s vs recommendation %d" % (
                        r, rec.target_attention_instances))
            c.check("the answer carries the decision's reason",
                    "recommends" in r.override.reason, r.override.reason)
            c.check("not final (the planner's merge decides)",
                    not r.final)
            cr, _ = planner.propose(CPLUGIN, kind="constrain")
            ok = not isinstance(cr, grpc.StatusCode) and \
                cr.WhichOneof("result") == "override"
            t = cr.override.targets if ok else []
            c.check("Constrain: AT_LEAST and AT_MOST of the same component "
                    "around the SET (the balanced band), never SET",
                    len(t) == 2 and [x.type for x in t] ==
                    [dpb.AT_LEAST, dpb.AT_MOST] and
                    all(x.component_name == "shift-attn" and
                        x.sub_component_type == "afd-attention" for x in t)
                    and 1 <= t[0].replicas <= first_set <= t[1].replicas and
                    "balanced band" in cr.override.reason, repr(cr))

        # Load: 8 threads x 50 Propose while telemetry keeps coming.
        lat, errs = [], []
        lk = threading.Lock()
        target = d.grpc_addr
        ctx = dpb.ProposeStageRequest(context=dpb.PipelineContext(
            request_id="load"))

        def caller():
            with grpc.insecure_channel(target) as chan:
                stub = dpbg.ProposePluginStub(chan)
                for _ in range(50):
                    t0 = time.monotonic()
                    try:
                        stub.Propose(ctx, timeout=BUDGET_S)
                        with lk:
                            lat.append(time.monotonic() - t0)
                    except grpc.RpcError as e:
                        with lk:
                            errs.append(e.code())
        threads = [threading.Thread(target=caller) for _ in range(8)]
        for th in threads:
            th.start()
        for sec in range(20, 40):
            tel.Report(iter([window(pb, sec, 153600.0, x=3)]),
                       timeout=common.RPC_TIMEOUT)
        for th in threads:
            th.join(60)
        lat.sort()
        if lat:
            print("propose under load: n %d, p50 %.2f ms, p99 %.2f ms, "
                  "max %.2f ms (budget %.0f ms)" % (
                      len(lat), 1e3 * lat[len(lat) // 2],
                      1e3 * lat[int(len(lat) * 0.99) - 1], 1e3 * lat[-1],
                      1e3 * BUDGET_S))
        c.check("400 Propose under load, all within the 0.5 s budget",
                len(lat) == 400 and not errs and lat[-1] < BUDGET_S,
                "n %d errors %r" % (len(lat), errs[:3]))

        # Eviction: two heartbeat windows without a heartbeat.
        regs = len(planner.registers)
        planner.drop = True
        ok = planner.wait(lambda p: PLUGIN in p.evictions, 3)
        c.check("planner evicts after 2 missed heartbeat windows", ok)
        time.sleep(0.3)
        planner.drop = False
        ok = planner.wait(lambda p: p.registered(PLUGIN) is not None and
                          len(p.registers) > regs, 10)
        c.check("daemon registers again after the eviction", ok,
                d.stderr()[-2000:])

        # Restart: a fresh planner (empty registry) on the same port.
        port = planner.port
        planner.stop()
        planner = dynamo_planner.Planner(dpb, dpbg, TOKEN, HB_TIMEOUT_S,
                                         port=port)
        ok = planner.wait(lambda p: p.registered(PLUGIN) is not None, 15)
        c.check("daemon registers with the restarted planner", ok,
                d.stderr()[-2000:])
        r, _ = planner.propose(PLUGIN)
        c.check("the restarted planner gets the same SET",
                not isinstance(r, grpc.StatusCode) and
                r.WhichOneof("result") == "override" and
                r.override.targets[0].replicas == first_set, repr(r))
        st, m = http_get(d, "/metrics")
        c.check("metrics count registrations >= 3 and evictions >= 1",
                (metric(m, "afd_dynamo_registrations_total") or 0) >= 3 and
                (metric(m, "afd_dynamo_evictions_total") or 0) >= 1 and
                metric(m, 'afd_dynamo_registration_state{state="registered"}')
                == 1, m[-1500:])
        ch.close()
    finally:
        rc = d.stop()
    c.check("A exits 0 on SIGTERM", rc == 0, d.stderr()[-2000:])
    c.check("A unregistered both plugins on SIGTERM (graceful_shutdown)",
            (PLUGIN, "graceful_shutdown") in planner.unregisters and
            (CPLUGIN, "graceful_shutdown") in planner.unregisters and
            planner.registered(PLUGIN) is None and
            planner.registered(CPLUGIN) is None, repr(planner.unregisters))
    return planner


def daemon_b(c, tmp, planner):
    d = common.Daemon(os.path.dirname(os.path.abspath(EXE)), tmp,
                      config=config(plugin_id="afd-sizer-bad"), extra_args=[
                          "--dynamo-planner", planner.addr,
                          "--dynamo-token-file",
                          token_file(tmp, "badtok", "wrong")]).start()
    try:
        ok = planner.wait(lambda p: len(p.rejects) >= 1, 10)
        c.check("B (wrong token) is rejected by the planner", ok)
        time.sleep(0.2)
        st, body = http_get(d, "/readyz")
        c.check("/readyz shows the rejection with the planner's reason",
                "rejected: unauthenticated" in body, body)
        st, m = http_get(d, "/metrics")
        c.check("afd_dynamo_rejections_total >= 1",
                (metric(m, "afd_dynamo_rejections_total") or 0) >= 1)
        c.check("stderr logs the planner's reason",
                "rejected afd-sizer-bad: unauthenticated" in d.stderr(),
                d.stderr()[-1000:])
    finally:
        rc = d.stop()
    c.check("B exits 0", rc == 0)


def daemon_c(c, tmp, stubs, planner):
    pb = stubs.afd_sizer_pb2
    d = common.Daemon(os.path.dirname(os.path.abspath(EXE)), tmp,
                      config=config(advisory=True, plugin_id="afd-sizer-adv"),
                      extra_args=["--dynamo-planner", planner.addr,
                                  "--dynamo-token-file",
                                  token_file(tmp, "tok3", TOKEN)]).start()
    try:
        ok = planner.wait(lambda p: p.registered("afd-sizer-adv"), 10)
        c.check("C registers", ok)
        ch = d.channel()
        _, cmd_id = drive_to_command(
            stubs.afd_sizer_pb2_grpc.TelemetryStub(ch), pb)
        c.check("C's controller decided", cmd_id == 1, "id %r" % cmd_id)
        r, _ = planner.propose("afd-sizer-adv")
        c.check("advisory: Propose answers ACCEPT", is_accept(r), repr(r))
        c.check("advisory: stderr logs what would have been set",
                "dynamo advisory: would set afd-attention/shift-attn "
                "replicas to" in d.stderr(), d.stderr()[-1000:])
        r, _ = planner.propose("afd-sizer-adv-constrain", kind="constrain")
        c.check("advisory: Constrain answers ACCEPT", is_accept(r), repr(r))
        c.check("advisory: stderr logs the band it would have given",
                "dynamo advisory: would constrain afd-attention/shift-attn "
                "replicas at least" in d.stderr(), d.stderr()[-1000:])
        ch.close()
    finally:
        rc = d.stop()
    c.check("C exits 0", rc == 0)


def daemon_d(c, tmp, dpb, dpbg):
    """The planner serves mTLS: a daemon with its CA and a client
    certificate registers; one without TLS, or with TLS but no client
    certificate, does not (and says so on /readyz)."""
    import test_security  # the throw-away PKI of the security e2e test
    pki = test_security.make_pki(tmp)
    planner = dynamo_planner.Planner(
        dpb, dpbg, TOKEN, HB_TIMEOUT_S,
        tls=(pki["server.pem"], pki["server.key"], pki["ca.pem"]))
    paths = {}
    for name in ("ca.pem", "client.pem", "client.key"):
        paths[name] = os.path.join(tmp, name)
    tok = token_file(tmp, "tok4", TOKEN)
    runs = (("mtls", ["--dynamo-tls-ca", paths["ca.pem"],
                      "--dynamo-tls-cert", paths["client.pem"],
                      "--dynamo-tls-key", paths["client.key"]], True),
            ("plain", [], False),
            ("tls-no-cert", ["--dynamo-tls-ca", paths["ca.pem"]], False))
    try:
        for label, flags, want in runs:
            sub = os.path.join(tmp, label)
            os.makedirs(sub)
            d = common.Daemon(
                os.path.dirname(os.path.abspath(EXE)), sub,
                config=config(plugin_id="afd-sizer-" + label),
                extra_args=["--dynamo-planner", planner.addr,
                            "--dynamo-token-file", tok] + flags).start()
            try:
                ok = planner.wait(
                    lambda p: p.registered("afd-sizer-" + label), 3 if
                    not want else 10)
                c.check("D %s: registers with the mTLS planner: %s" % (
                    label, want), bool(ok) == want, d.stderr()[-800:])
                # The registration result reaches the loop a moment after
                # the planner has it.
                deadline = time.monotonic() + 3
                while True:
                    st, body = http_get(d, "/readyz")
                    if ("dynamo planner: registered" in body) == want or \
                            time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                c.check("D %s: /readyz %s registered" % (
                    label, "says" if want else "does not say"),
                    ("dynamo planner: registered" in body) == want, body)
            finally:
                rc = d.stop()
            c.check("D %s exits 0" % label, rc == 0)
    finally:
        planner.stop()


def main():
    c = common.Checks("test_grpc_dynamo")
    tmp = tempfile.mkdtemp(prefix="test_grpc_dynamo-")
    planner = None
    try:
        stubs = common.load_stubs(tmp)
        dpb, dpbg = load_dynamo_stubs(tmp)
        for sub in ("a", "b", "c"):
            os.makedirs(os.path.join(tmp, sub))
        planner = daemon_a(c, os.path.join(tmp, "a"), stubs, dpb, dpbg)
        daemon_b(c, os.path.join(tmp, "b"), planner)
        daemon_c(c, os.path.join(tmp, "c"), stubs, planner)
        os.makedirs(os.path.join(tmp, "d"))
        daemon_d(c, os.path.join(tmp, "d"), dpb, dpbg)
    except Exception as e:
        common.report_exception(c, e)
    finally:
        if planner:
            planner.stop()
    return common.finish(c, tmp)


if __name__ == "__main__":
    EXE = os.path.join(sys.argv[1], "afd-sizer")
    sys.exit(main())
