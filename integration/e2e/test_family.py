"""`afd-sizer demo --family --quick --json`: three closed-loop runs on
generated hardware the daemon was never told about. Asserts what holds
whatever the controller: every run completed, the figures are in range
(efficiency against the oracle in (0, 1.02], commands per shift >= 0, a
settle time or a count of shifts that never settled), and the runs are the
documented ones (plain, 60 s scale-out, drift). Prints the table so CI logs
show the current figures.
"""
import json
import os
import subprocess
import sys

BIN = sys.argv[1]
out = subprocess.run([os.path.join(BIN, "afd-sizer"), "demo", "--family",
                      "--quick", "--json"], capture_output=True, text=True,
                     timeout=540)
fails = []
passes = []


def check(what, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else ": " + detail))
    (passes if ok else fails).append(what)


check("family exits 0", out.returncode == 0, out.stderr[-2000:])
runs = json.loads(out.stdout) if out.returncode == 0 else []
check("three runs", len(runs) == 3, str(len(runs)))
for r in runs:
    print("  run %d %-48s vs oracle %.1f%%, vs best static %+.1f%%, "
          "%.2f commands/shift, settle %.0f s" % (
              r["run"], r["hardware"], 100 * r["vs_oracle"],
              100 * r["vs_best_static"], r["commands_per_shift"],
              r["settle_mean_s"]))
    check("run %d: efficiency vs oracle in (0, 1.02]" % r["run"],
          0 < r["vs_oracle"] <= 1.02, str(r["vs_oracle"]))
    check("run %d: commands per shift >= 0" % r["run"],
          r["commands_per_shift"] >= 0)
    check("run %d: settle time or never-settled count" % r["run"],
          r["settle_mean_s"] >= 0 or r["shifts_not_settled"] > 0)
if len(runs) == 3:
    check("the delay run and the drift run are there",
          "60 s scale-out" in runs[1]["hardware"] and
          "drift" in runs[2]["hardware"], str([r["hardware"] for r in runs]))
print("test_family: %d passed, %d failed" % (len(passes), len(fails)))
sys.exit(1 if fails else 0)
