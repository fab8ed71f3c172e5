"""`afd-sizer demo --family --quick --json`: three closed-loop runs on
generated hardware the daemon was never told about. Asserts every run
completed with figures in range (efficiency against the oracle in
(0, 1.02], commands per shift >= 0, a settle time or a count of shifts that
never settled), that the runs are the documented ones (plain, 60 s
scale-out, drift), and the issue's floors that the controller meets on them
(README, scenario family): >= 95% of the oracle (>= 92% with the 60 s
scale-out delay), no worse than the best static ratio by more than 2%, and
at most 2 scale commands per shift on average. Prints the table so CI logs
show the current figures. Run with --keep-logs DIR: each run's scenario
(a "hardware", no "prior") and demo JSON (its timeline, with the
scenario's seed) are kept. (`--seed S`, another family, is measured in
the README, not here: a second family would double the test's time under
ASan.)
"""
import json
import os
import subprocess
import sys
import tempfile

BIN = sys.argv[1]
keep = tempfile.mkdtemp(prefix="afd-family-keep-")
out = subprocess.run([os.path.join(BIN, "afd-sizer"), "demo", "--family",
                      "--quick", "--json", "--keep-logs", keep],
                     capture_output=True, text=True, timeout=540)
fails = []
passes = []


def check(what, ok, detail=""):
    print(("PASS " if ok else "FAIL ") + what + ("" if ok else ": " + detail))
    (passes if ok else fails).append(what)


check("family exits 0", out.returncode == 0, out.stderr[-2000:])
runs = json.loads(out.stdout) if out.returncode == 0 else []
check("three runs", len(runs) == 3, str(len(runs)))
for i in range(len(runs)):
    try:
        with open(os.path.join(keep, "run-%d.json" % i)) as f:
            kept = json.load(f)
        with open(os.path.join(keep, "run-%d.scenario.json" % i)) as f:
            scen = json.load(f)
        ok = (kept["seed"] == scen["seed"] and "hardware" in scen and
              "prior" not in scen and len(kept["timeline"]) > 0)
        detail = "seed %s, scenario keys %s" % (kept["seed"], sorted(scen))
    except (OSError, ValueError, KeyError) as e:
        ok, detail = False, str(e)
    check("run %d kept: scenario with hardware and no prior, its JSON" % i,
          ok, detail)
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
    floor = 0.92 if "scale-out" in r["hardware"] else 0.95
    check("run %d: >= %.0f%% of the oracle" % (r["run"], 100 * floor),
          r["vs_oracle"] >= floor, str(r["vs_oracle"]))
    check("run %d: within 2%% of the best static ratio" % r["run"],
          r["vs_best_static"] >= -0.02, str(r["vs_best_static"]))
    check("run %d: settle time or never-settled count" % r["run"],
          r["settle_mean_s"] >= 0 or r["shifts_not_settled"] > 0)
if runs:
    mean_cmds = sum(r["commands_per_shift"] for r in runs) / len(runs)
    check("at most 2 commands per shift on average", mean_cmds <= 2,
          "%.2f" % mean_cmds)
if len(runs) == 3:
    check("the delay run and the drift run are there",
          "60 s scale-out" in runs[1]["hardware"] and
          "drift" in runs[2]["hardware"], str([r["hardware"] for r in runs]))
for name in os.listdir(keep):
    os.unlink(os.path.join(keep, name))
os.rmdir(keep)
print("test_family: %d passed, %d failed" % (len(passes), len(fails)))
sys.exit(1 if fails else 0)
