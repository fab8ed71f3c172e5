#!/usr/bin/env python3
"""The main job's acceptance, run on the default scenario as the README's
first quick-start command runs it: `afd-sizer demo` (daemon and simulated
deployment as separate processes over gRPC).

Checks: the closed loop reaches at least 95% of the
per-phase oracle's overall throughput per device and beats the first-phase
static ratio clearly; the same seed gives the same table; the whole demo runs
in under two minutes (wall time is printed; asserted only in the plain build,
where ASAN_OPTIONS is not a sign of an instrumented binary - see below).

usage: test_main_job.py BIN_DIR
"""
import json
import subprocess
import sys
import time

BIN = sys.argv[1]
passed = failed = 0


def check(cond, what):
    global passed, failed
    if cond:
        passed += 1
        print("ok -", what)
    else:
        failed += 1
        print("not ok -", what)


def run_demo():
    start = time.monotonic()
    out = subprocess.run([BIN + "/afd-sizer", "demo", "--json", "--no-svg",
                          "--seed", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         timeout=900, check=False)
    wall = time.monotonic() - start
    if out.returncode != 0:
        sys.stderr.write(out.stderr.decode(errors="replace")[-4000:])
    return out.returncode, out.stdout, wall


def sanitized():
    # The ASan build's binary links the sanitizer runtime: 5x slower, so the
    # two-minute budget applies to the plain build only.
    try:
        libs = subprocess.run(["ldd", BIN + "/afd-sizer"],
                              stdout=subprocess.PIPE, check=False).stdout
        return b"libasan" in libs
    except OSError:
        return False


rc, raw, wall = run_demo()
check(rc == 0, "afd-sizer demo exits 0 (%.1f s wall)" % wall)
try:
    d = json.loads(raw)
    pol = {p["name"]: p for p in d["policies"]}
    closed = pol["closed_loop"]["throughput_per_device"]
    oracle = pol["oracle"]["throughput_per_device"]
    first = pol["static_first_phase"]["throughput_per_device"]
    print("closed_loop %.3f oracle %.3f static_first_phase %.3f "
          "best_static %.3f" % (closed, oracle, first,
                                pol["best_static"]["throughput_per_device"]))
    check(d["scenario"] == "default", "default scenario")
    check(closed >= 0.95 * oracle,
          "closed loop >= 95%% of the oracle (%.1f%%)" % (100 * closed / oracle))
    check(closed >= 1.2 * first,
          "closed loop beats the first-phase ratio clearly (+%.0f%%)"
          % (100 * (closed / first - 1)))
    check(abs(pol["closed_loop"]["efficiency_vs_oracle"] - closed / oracle)
          < 1e-6, "efficiency_vs_oracle = closed / oracle")
    check(pol["closed_loop"]["scale_commands"] > 0, "the loop issued commands")
except (ValueError, KeyError, TypeError, ZeroDivisionError) as e:
    check(False, "demo JSON has the documented shape (%s)" % e)
    raw = None

if not sanitized():
    check(wall < 120, "the demo runs in under two minutes (%.1f s)" % wall)

rc2, raw2, _ = run_demo()
check(rc2 == 0 and raw is not None and raw2 == raw,
      "the same seed gives the same result")

print("test_main_job: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
