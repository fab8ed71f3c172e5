#!/usr/bin/python3
"""The Grafana dashboard (integration/grafana/afd-sizer.json) against the
real thing: a `afd-sizer serve` fed by `afd-sim scenario --policy
closed-loop --plugin` is scraped by a real Prometheus; every panel query and
the deployment variable's query must (1) name only metrics the daemon
exports on /metrics and (2) evaluate through Prometheus's HTTP API to a
non-empty result ($deployment set to .*, Grafana's "All").

usage: test_grafana.py BIN_DIR SOURCE_DIR
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ops_common as ops  # noqa: E402
from grpc_e2e_common import (Checks, Daemon, finish,  # noqa: E402
                             report_exception)
from test_closed_loop import CONFIG  # noqa: E402

# Metric names in PromQL: afd_ identifiers not followed by '(' (functions)
# and not label names (followed by '=' / '!=' / '=~').
NAME = re.compile(r"\b(afd_[a-zA-Z0-9_]+)\b(?!\s*[(=!~])")


def exported(text):
    names = set()
    for line in text.splitlines():
        if line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, 1)[0])
    return names


def queries(dash):
    out = []
    for p in dash["panels"]:
        for t in p.get("targets", []):
            out.append((p["title"], t["expr"]))
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) \
                else v["query"]
            m = re.match(r"label_values\((.*),\s*(\w+)\)$", q)
            out.append(("variable " + v["name"], m.group(1) if m else q))
    return out


def main():
    bin_dir, src = sys.argv[1], sys.argv[2]
    checks = Checks("test_grafana")
    tmp = tempfile.mkdtemp(prefix="test_grafana-")
    with open(os.path.join(src, "integration", "grafana",
                           "afd-sizer.json")) as f:
        dash = json.load(f)
    if not shutil.which("prometheus"):
        checks.check("prometheus installed", False, "not on PATH")
        return finish(checks, tmp)
    scenario = os.path.join(src, "integration", "scenarios", "smoke.json")
    d = Daemon(bin_dir, tmp, config=CONFIG).start()
    prom = None
    try:
        p = subprocess.run(
            [os.path.join(bin_dir, "afd-sim"), "scenario", "--scenario",
             scenario, "--seed", "7", "--policy", "closed-loop", "--plugin",
             d.grpc_addr, "--deployment", "smoke", "--actuation-delay-s",
             "3", "--json"], capture_output=True, text=True, timeout=120)
        checks.check("afd-sim exits 0", p.returncode == 0, p.stderr)
        names = exported(ops.http(d.http_addr, "/metrics")[2])
        prom = ops.Prometheus(tmp, d.http_addr)
        ok = ops.wait_for(lambda: prom.query("afd_r_star"), 90, 0.5)
        checks.check("prometheus scraped the daemon", bool(ok),
                     prom.log_text())
        qs = queries(dash)
        checks.check("dashboard has panels and queries", len(qs) >= 10,
                     str(len(qs)))
        for title, expr in qs:
            used = set(NAME.findall(expr))
            missing = sorted(used - names)
            checks.check("%s: metrics %s exported" % (title, sorted(used)),
                         used and not missing, "not exported: %r" % missing)
            q = expr.replace("$deployment", ".*")
            res = ops.wait_for(lambda: prom.query(q), 30, 0.5)
            checks.check("%s: %s evaluates non-empty" % (title, q),
                         bool(res), "query %s" % urllib.parse.quote(q))
    except Exception as e:  # report, never hang silently
        report_exception(checks, e)
    finally:
        if prom:
            prom.stop()
        rc = d.stop()
    checks.check("daemon exits 0 on SIGTERM", rc == 0, str(rc))
    return finish(checks, tmp)


if __name__ == "__main__":
    sys.exit(main())
