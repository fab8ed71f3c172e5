#!/usr/bin/python3
"""The closed loop through NVIDIA Dynamo's planner against the closed loop
through WatchCommands, on the default scenario (integration/scenarios/
default.json, seed 1, the demo's controller settings), in one run
(--part loop):

  oracle:   `afd-sim scenario --policy oracle` (offline, each phase's
            best static x: the demo's 100% line);
  commands: a fresh daemon, `afd-sim --policy closed-loop` following
            WatchCommands and acking (what `afd-sizer demo` runs);
  planner:  a stand-in planner written from the proposal
            (dynamo_planner.py) with a fresh daemon registered as its
            PROPOSE plugin; the planner runs `afd-sim --actuator planner`,
            builds each tick's PipelineContext from the simulator's
            observation line (worker counts, traffic isl/osl/request count),
            calls Propose, merges, and answers the SET, which the simulator
            applies after the same actuation delay.
Checks: both loops within one point of each other against the oracle
(figures printed), each above 95%; the planner path really actuated
(SETs applied after the delay, every tick answered, no Propose failure)
while the daemon issued no command id (exactly one actuator); and the
planner path gives byte-identical JSON when run again (lock-step
determinism).
CONSTRAIN (--part constrain): a fresh daemon with "dynamo.constrain" (also registered as a
constrain plugin) and a rival propose plugin of higher priority that SETs
200 Attention instances every tick: the rival wins PROPOSE, our
AT_LEAST / AT_MOST band clamps every final target (ACCEPT before our first
decision leaves it alone), and the day's efficiency is more than twice
the rival's alone (static 200) and, on the default day, above 90% of the
oracle.
40-60 s (loop) and 25-45 s (constrain) on 2 shared cores.

Usage: /usr/bin/python3 test_dynamo_loop.py BIN_DIR --part loop|constrain
                        [--scenario FILE]
(integration/dynamo.cmake: the default scenario in the plain build, the
smoke scenario under the sanitizers, which make the simulator ~3x slower.)
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent import futures

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import grpc  # noqa: E402
import dynamo_planner  # noqa: E402
import grpc_e2e_common as common  # noqa: E402
from test_grpc_dynamo import load_dynamo_stubs, token_file  # noqa: E402

SCENARIO = [os.path.join(common.SRC_ROOT, "integration", "scenarios",
                         "default.json")]  # --scenario replaces it
SEED = "1"
DEP = "sim"
KEY = ("afd-attention", "sim-attn")
TOKEN = "loop-token"
DELAY_S = 5.0
RIVAL = 200
CONTROLLER = {"clock": "telemetry", "eval_interval_ms": 1000,
              "gain_threshold": 0.02, "dwell_s": 3, "cooldown_s": 5,
              "max_step": 64, "ack_timeout_s": 60, "backoff_s": 30}
# afd-sizer demo's settings (plugin/demo/cmd_demo.c, demo_settings)
BASE = {"liveness_window_s": 2,
        "default_deployment": {"workload_half_life": 2000},
        "controller": CONTROLLER}


def sim_args(bin_dir, *extra):
    return [os.path.join(bin_dir, "afd-sim"), "scenario", "--scenario",
            SCENARIO[0], "--seed", SEED, "--json"] + list(extra)


def efficiency(run, oracle):
    return run["throughput_per_device"] / oracle["throughput_per_device"]


def metric(d, name):
    with urllib.request.urlopen("http://%s/metrics" % d.http_addr,
                                timeout=10) as r:
        text = r.read().decode()
    for line in text.splitlines():
        if line.startswith(name + "{") and 'deployment="%s"' % DEP in line:
            return float(line.split()[-1])
    return 0.0


def commands_loop(bin_dir, tmp):
    sub = os.path.join(tmp, "commands")
    os.mkdir(sub)
    d = common.Daemon(bin_dir, sub, config=json.dumps(BASE)).start()
    try:
        p = subprocess.run(
            sim_args(bin_dir, "--policy", "closed-loop", "--plugin",
                     d.grpc_addr, "--deployment", DEP,
                     "--actuation-delay-s", "%g" % DELAY_S),
            capture_output=True, text=True, timeout=240)
    finally:
        rc = d.stop()
    return (json.loads(p.stdout) if p.returncode == 0 else None,
            p.returncode, rc, p.stderr)


class Rival:
    """Another PROPOSE plugin (say a load-based one that knows nothing of
    AFD), registered through the planner's Register RPC like any plugin,
    with a higher priority than ours (10 < 50): it SETs the Attention pool
    to a fixed count every tick."""

    def __init__(self, pb, pbg, planner, replicas):
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        rival = self

        class Servicer(pbg.ProposePluginServicer):
            def Propose(self, req, context):
                return pb.ProposeStageResponse(override=pb.OverrideResult(
                    targets=[pb.ComponentTarget(
                        sub_component_type=KEY[0], component_name=KEY[1],
                        replicas=rival.replicas, type=pb.SET)],
                    reason="rival: fixed %d" % rival.replicas))
        self.replicas = replicas
        pbg.add_ProposePluginServicer_to_server(Servicer(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        with grpc.insecure_channel(planner.addr) as ch:
            r = pbg.PluginRegistryStub(ch).Register(pb.RegisterRequest(
                plugin_id="rival-propose", plugin_type="propose",
                priority=10, endpoint="grpc://127.0.0.1:%d" % port,
                protocol_version="1.0", auth_token=TOKEN,
                request_timeout_seconds=1), timeout=5)
        if not r.accepted:
            raise RuntimeError("rival rejected: %s" % r.reject_reason)

    def stop(self):
        self.server.stop(0).wait()


def planner_loop(bin_dir, tmp, stubs, tag, rival=None):
    """One stand-in planner + one fresh daemon attached to it + afd-sim
    driven by the planner; with rival (a count), our daemon is also a
    CONSTRAIN plugin and a Rival SETs that count. Returns (result, sim rc,
    daemon rc, planner, issued command ids, work dir)."""
    sub = os.path.join(tmp, tag)
    os.mkdir(sub)
    # The rival does not heartbeat: a timeout longer than the run.
    planner = dynamo_planner.Planner(stubs[0], stubs[1], TOKEN,
                                     60.0 if rival else 3.0)
    cfg = dict(BASE)
    cfg["dynamo"] = {"plugin_id": "afd-sizer", "heartbeat_interval_s": 0.5,
                     "request_timeout_s": 1, "constrain": bool(rival),
                     "deployments": [{"name": DEP, "component_name": KEY[1],
                                      "sub_component_type": KEY[0]}]}
    d = common.Daemon(bin_dir, sub, config=json.dumps(cfg), extra_args=[
        "--dynamo-planner", planner.addr, "--dynamo-token-file",
        token_file(sub, "tok", TOKEN)]).start()
    issued, other = None, None
    try:
        ids = ["afd-sizer"] + (["afd-sizer-constrain"] if rival else [])
        if not planner.wait(lambda p: all(p.registered(i) for i in ids), 10):
            raise RuntimeError("the daemon did not register: %s" % d.stderr())
        if rival:
            other = Rival(stubs[0], stubs[1], planner, rival)
        result, rc_sim = planner.drive(
            sim_args(bin_dir, "--policy", "closed-loop", "--plugin",
                     d.grpc_addr, "--deployment", DEP,
                     "--actuation-delay-s", "%g" % DELAY_S,
                     "--actuator", "planner"),
            KEY, os.path.join(sub, "sim.stderr"), 240)
        issued = metric(d, "afd_commands_issued_total")
    finally:
        rc_d = d.stop()
        if other:
            other.stop()
        planner.stop()
    return result, rc_sim, rc_d, planner, issued, sub


def constrain_loop(c, bin_dir, tmp, stubs, oracle):
    """CONSTRAIN: a rival SETs 200 Attention instances every tick and wins
    PROPOSE; our Constrain band clamps the planner's final target into the
    balanced band, which keeps the day efficient."""
    p = subprocess.run(sim_args(bin_dir, "--policy", "static:%d" % RIVAL),
                       capture_output=True, text=True, timeout=120)
    alone = json.loads(p.stdout)
    t0 = time.monotonic()
    res, rc_sim, rc_d, planner, _, sub = planner_loop(
        bin_dir, tmp, stubs, "constrain", rival=RIVAL)
    c.check("constrain loop: afd-sim and daemon exit 0",
            rc_sim == 0 and rc_d == 0 and res is not None,
            "%r %r; see %s" % (rc_sim, rc_d, sub))
    bands, clamped, accepts = 0, 0, 0
    bad = []
    for e in planner.log:
        if e["proposal"] != {KEY: RIVAL}:
            bad.append(("proposal", e["t_s"], e["proposal"]))
        ours = [r for _, r in e["constrain"]]
        if not ours or ours[0].WhichOneof("result") == "accept":
            accepts += 1
            if e["final"] != {KEY: RIVAL}:
                bad.append(("accept", e["t_s"], e["final"]))
            continue
        t = ours[0].override.targets
        lo, hi = t[0].replicas, t[1].replicas
        bands += 1
        want = max(lo, min(hi, RIVAL))
        clamped += want != RIVAL
        if [x.type for x in t] != [stubs[0].AT_LEAST, stubs[0].AT_MOST] or \
                e["final"] != {KEY: want}:
            bad.append(("band", e["t_s"], lo, hi, e["final"]))
    eff, eff_alone = efficiency(res, oracle), efficiency(alone, oracle)
    print("constrain: rival SET %d alone (static) %.2f%% of the oracle; "
          "with our CONSTRAIN band %.2f%% (%d ticks answered a band, %d "
          "clamped the rival, %d ACCEPT without data; %.1f s)"
          % (RIVAL, 100 * eff_alone, 100 * eff, bands, clamped, accepts,
             time.monotonic() - t0))
    c.check("the rival's SET wins PROPOSE; our band clamps every final "
            "target into [AT_LEAST, AT_MOST]; ACCEPT leaves it alone",
            not bad and bands > 0 and clamped > 0, str(bad[:3]))
    c.check("the band more than doubles the rival's efficiency",
            eff > 2 * eff_alone, "%.4f vs %.4f" % (eff, eff_alone))
    # Before our first decision (5-11 ticks) the rival's 200 goes through
    # and its in-flight requests take a while to drain: negligible over
    # the default day's 15-minute phases, not over smoke's 150 s.
    if os.path.basename(SCENARIO[0]) == "default.json":
        c.check("default day: the band keeps it above 90% of the oracle",
                eff > 0.90, "%.4f" % eff)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bin_dir")
    ap.add_argument("--part", choices=["loop", "constrain"], required=True)
    ap.add_argument("--scenario")
    a = ap.parse_args()
    bin_dir = a.bin_dir
    if a.scenario:
        SCENARIO[0] = a.scenario
    c = common.Checks("test_dynamo_loop --part " + a.part)
    tmp = tempfile.mkdtemp(prefix="test_dynamo_loop-")
    try:
        stubs = load_dynamo_stubs(tmp)
        t0 = time.monotonic()
        p = subprocess.run(sim_args(bin_dir, "--policy", "oracle", "--jobs",
                                    "2"),
                           capture_output=True, text=True, timeout=240)
        c.check("oracle run exits 0", p.returncode == 0, p.stderr)
        oracle = json.loads(p.stdout)
        if a.part == "constrain":
            constrain_loop(c, bin_dir, tmp, stubs, oracle)
            return common.finish(c, tmp)
        t1 = time.monotonic()
        cmd, rc_sim, rc_d, err = commands_loop(bin_dir, tmp)
        c.check("WatchCommands loop: afd-sim and daemon exit 0",
                rc_sim == 0 and rc_d == 0, "%r %r %s" % (rc_sim, rc_d, err))
        t2 = time.monotonic()
        pl, rc_sim, rc_d, planner, issued, sub = planner_loop(
            bin_dir, tmp, stubs, "planner")
        t3 = time.monotonic()
        c.check("planner loop: afd-sim and daemon exit 0",
                rc_sim == 0 and rc_d == 0 and pl is not None,
                "%r %r; see %s" % (rc_sim, rc_d, sub))
        e_cmd, e_pl = efficiency(cmd, oracle), efficiency(pl, oracle)
        print("%s, seed %s: oracle %.4f tokens/ms/device "
              "(%.1f s); WatchCommands loop %.4f = %.2f%% of the oracle, "
              "%d commands (%.1f s); planner loop %.4f = %.2f%%, %d SETs "
              "applied, %d ticks (%.1f s)"
              % (os.path.basename(SCENARIO[0]), SEED,
                 oracle["throughput_per_device"], t1 - t0,
                 cmd["throughput_per_device"], 100 * e_cmd,
                 len(cmd["commands"]), t2 - t1, pl["throughput_per_device"],
                 100 * e_pl, len(pl["commands"]), planner.n_ticks, t3 - t2))
        c.check("planner loop within one point of the WatchCommands loop",
                abs(e_pl - e_cmd) <= 0.01,
                "%.4f vs %.4f" % (e_pl, e_cmd))
        c.check("both loops above 95% of the oracle",
                e_pl > 0.95 and e_cmd > 0.95, "%.4f %.4f" % (e_pl, e_cmd))
        windows = math.ceil(sum(ph["duration_s"]
                                for ph in oracle["per_phase"]))
        c.check("one planner tick per simulated second, no failed call",
                planner.n_ticks == windows and not planner.failures,
                "%d ticks, failures %r" % (planner.n_ticks,
                                           planner.failures[:3]))
        sets = [e for e in planner.log
                if any(r.WhichOneof("result") == "override"
                       for _, r in e["propose"])]
        c.check("Propose answered SET of the Attention pool",
                sets and all(KEY in e["final"] for e in sets),
                str(planner.log[-1])[:300])
        cmds = pl["commands"]
        c.check("the planner's decisions resized the fleet after the delay",
                cmds and all(x["applied_t_s"] is not None and
                             x["applied_t_s"] >= x["t_s"] + DELAY_S - 1e-6
                             for x in cmds), str(cmds)[:400])
        c.check("the daemon issued no command id (one actuator)",
                issued == 0, "afd_commands_issued_total %r" % issued)
        again = planner_loop(bin_dir, tmp, stubs, "again")
        c.check("same seed through the planner, same JSON",
                again[0] == pl, "runs differ; see %s" % again[5])
    except Exception as e:  # report, never hang silently
        common.report_exception(c, e)
    return common.finish(c, tmp)


if __name__ == "__main__":
    sys.exit(main())
