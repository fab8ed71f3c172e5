#!/usr/bin/python3
"""Closed loop end to end: `afd-sim scenario --policy closed-loop` on
integration/scenarios/smoke.json (chat, then long prompts: the best
Attention count moves up) against a real `afd-sizer serve` on the telemetry
clock. Checks: scale commands received, applied and acked (the daemon's
/metrics agree), the Attention count moves up after the shift, a regime
alert arrives, both processes exit 0, and the same seed gives byte-identical
JSON from a second fresh daemon.

usage: test_closed_loop.py BIN_DIR SOURCE_DIR
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from grpc_e2e_common import (Checks, Daemon, finish,  # noqa: E402
                             report_exception)

# The demo-style controller: telemetry clock, short dwell/cooldown, a
# short liveness window so that removed instances leave quickly.
CONFIG = json.dumps({
    "liveness_window_s": 2,
    "default_deployment": {"workload_half_life": 2000},
    "controller": {"clock": "telemetry", "eval_interval_ms": 1000,
                   "gain_threshold": 0.02, "dwell_s": 3, "cooldown_s": 5,
                   "max_step": 64, "ack_timeout_s": 60, "backoff_s": 30},
    "alerting": {"debounce_s": 10, "resolve_s": 30},
})


def run_loop(bin_dir, scenario, tmp, tag):
    """One fresh daemon + one closed-loop run; returns (json text, metrics,
    sim exit status, daemon exit status, sim stderr)."""
    sub = os.path.join(tmp, tag)
    os.mkdir(sub)
    d = Daemon(bin_dir, sub, config=CONFIG).start()
    try:
        p = subprocess.run(
            [os.path.join(bin_dir, "afd-sim"), "scenario", "--scenario",
             scenario, "--seed", "7", "--policy", "closed-loop", "--plugin",
             d.grpc_addr, "--deployment", "smoke", "--actuation-delay-s",
             "3", "--json"],
            capture_output=True, text=True, timeout=120)
        with urllib.request.urlopen("http://%s/metrics" % d.http_addr,
                                    timeout=10) as r:
            metrics = r.read().decode()
    finally:
        rc = d.stop()
    return p.stdout, metrics, p.returncode, rc, p.stderr


def metric(text, name, deployment):
    for line in text.splitlines():
        if line.startswith(name + "{") and \
                'deployment="%s"' % deployment in line:
            return float(line.split()[-1])
    return None


def main():
    bin_dir, src = sys.argv[1], sys.argv[2]
    scenario = os.path.join(src, "integration", "scenarios", "smoke.json")
    checks = Checks("test_closed_loop")
    tmp = tempfile.mkdtemp(prefix="test_closed_loop-")
    try:
        out1, met, rc_sim, rc_d, err = run_loop(bin_dir, scenario, tmp, "a")
        checks.check("afd-sim exits 0", rc_sim == 0, err)
        checks.check("daemon exits 0 on SIGTERM", rc_d == 0, str(rc_d))
        r = json.loads(out1)
        cmds = r["commands"]
        checks.check("policy is closed_loop", r["policy"] == "closed_loop")
        checks.check("at least one scale command", len(cmds) >= 1,
                     json.dumps(r)[:400])
        checks.check("scale_commands counts them",
                     r["scale_commands"] == len(cmds))
        if cmds:
            first = cmds[0]
            checks.check("first command comes after the shift (60 s)",
                         first["t_s"] >= 60.0, str(first))
            checks.check("first command scales Attention up",
                         first["to"] > first["from"], str(first))
            checks.check("every command applied after the delay",
                         all(c["applied_t_s"] is not None and
                             c["applied_t_s"] >= c["t_s"] + 3.0 - 1e-6
                             for c in cmds), str(cmds))
        acked = metric(met, "afd_commands_acked_total", "smoke")
        issued = metric(met, "afd_commands_issued_total", "smoke")
        checks.check("daemon counts every command acked",
                     acked is not None and acked == len(cmds) and
                     issued == len(cmds), "acked %r issued %r" % (acked,
                                                                  issued))
        tl = r["timeline"]
        x1 = [p["attention_instances"] for p in tl if p["phase"] == 0]
        x2 = [p["attention_instances"] for p in tl if p["phase"] == 1]
        checks.check("phase 1 holds its start count", len(set(x1)) == 1,
                     str(x1))
        checks.check("Attention count ends higher after the shift",
                     x2 and x2[-1] > x1[0], "%r -> %r" % (x1[:1], x2[-1:]))
        # The shift moves the term binding r* from the FFN peak to the
        # attention balance (smoke.json at batch 64).
        checks.check("the sizing regime alert was followed",
                     any(a["alertname"] == "AfdSizingRegimeChanged"
                         for a in r["alerts"]), str(r["alerts"]))
        ph = r["per_phase"]
        checks.check("per-phase throughputs are positive",
                     all(p["throughput_per_device"] > 0 for p in ph))
        checks.check("the long phase settles",
                     ph[1]["settle_time_s"] is not None, str(ph[1]))
        out2, _, rc2, rc_d2, err2 = run_loop(bin_dir, scenario, tmp, "b")
        checks.check("second run exits 0", rc2 == 0 and rc_d2 == 0, err2)
        checks.check("same seed, same JSON", out1 == out2,
                     "\n%s\n%s" % (out1[:300], out2[:300]))
    except Exception as e:  # report, never hang silently
        report_exception(checks, e)
    return finish(checks, tmp)


if __name__ == "__main__":
    sys.exit(main())
