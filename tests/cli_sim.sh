#!/usr/bin/env bash
# cli_sim.sh - afd-sim's command line: usage errors exit 2 with a message
# naming the problem, --json has the documented shape, a seed reproduces the
# output, --csv/--svg write their files, and validate rejects bad options.
# usage: bash tests/cli_sim.sh BIN_DIR [SHARED_DIR]
set -u
BIN="$1/afd-sim"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/cli_sim.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PY=/usr/bin/python3
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect_error CODE NEEDLE ARGS...: exit status CODE and NEEDLE on stderr.
expect_error() {
    local code="$1" needle="$2"
    shift 2
    "$BIN" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" != "$code" ]; then
        bad "afd-sim $*: exit $rc, want $code ($(cat "$TMP/err"))"
    elif ! grep -qF -- "$needle" "$TMP/err"; then
        bad "afd-sim $*: stderr lacks '$needle': $(cat "$TMP/err")"
    else
        ok
    fi
}

SMALL=(--batch 16 --steps 3200 --warmup 100)

# --help documents the workload syntax and the prompt distribution
if "$BIN" --help | grep -qF "prompt_dist=fixed (default)"; then ok; else bad "--help lacks the prompt_dist docs"; fi

expect_error 2 "give one of --sweep" --batch 16
expect_error 2 "unknown option '--bogus'" --ratio 2 --bogus 1
expect_error 2 "unknown workload kind 'poisson'" --ratio 2 --workload poisson:prompt=1,decode=2
expect_error 2 "unknown key 'alpha'" --ratio 2 --workload geometric:prompt=1,decode=2,alpha=3
expect_error 2 "missing key 'cv'" --ratio 2 --workload lognormal:prompt=1,decode=2
expect_error 2 "decode must be >= 1, got 0" --ratio 2 --workload geometric:prompt=1,decode=0
expect_error 2 "/nonexistent/trace.csv" --ratio 2 --workload trace:/nonexistent/trace.csv
expect_error 2 "no-such-profile" --ratio 2 --profile no-such-profile
expect_error 2 "/nonexistent/profile.json" --ratio 2 --profile-file /nonexistent/profile.json
printf '{"name":"neg","aA":5e-5,"bA":2.5,"aC":1e-3,"bC":0.3,"aF":-1,"bF":5,"comm_mode":"per_instance"}\n' >"$TMP/neg.json"
expect_error 2 "aF" --ratio 2 --profile-file "$TMP/neg.json"
expect_error 2 "unknown comm mode" --ratio 2 --comm-mode sideways
expect_error 2 "whole Attention count" --ratio 2.5
expect_error 2 "--sweep needs 1 <= LO <= HI" --sweep 5:3
expect_error 2 "--sweep must be LO:HI" --sweep 5
expect_error 2 "give only one of" --sweep 1:3 --ratio 2
expect_error 2 "--steps must be an integer" --ratio 2 --steps 1.5
expect_error 2 "steps must be >= 32" --ratio 2 --steps 5
expect_error 2 "noise cv must be in [0, 10]" --ratio 2 --noise -1
expect_error 2 "unknown option '--bogus'" validate --bogus

# --json shape of a sweep
if "$BIN" --sweep 1:3 "${SMALL[@]}" --json >"$TMP/a.json" 2>"$TMP/err"; then
    if $PY - "$TMP/a.json" <<'PYEOF'; then ok; else bad "--json shape"; fi
import json, sys
o = json.load(open(sys.argv[1]))
top = ["profile", "batch", "ffn_instances", "workload", "theta", "sigma",
       "steps", "warmup", "seed", "ratios", "best_attention_instances",
       "r_star", "r_star_barrier", "error_mean_field", "error_barrier",
       "regret_mean_field", "regret_barrier"]
per = ["attention_instances", "r", "throughput_per_device", "ci95", "eta_A",
       "eta_C", "eta_F", "mean_step_ms"]
missing = [k for k in top if k not in o]
assert not missing, missing
assert o["batch"] == 16 and o["ffn_instances"] == 1 and o["steps"] == 3200
assert isinstance(o["ratios"], list) and len(o["ratios"]) >= 3
for r in o["ratios"]:
    m = [k for k in per if k not in r]
    assert not m, m
    assert r["throughput_per_device"] > 0 and r["ci95"] >= 0
    assert 0 <= r["eta_A"] <= 1 and 0 <= r["eta_F"] <= 1
xs = [r["attention_instances"] for r in o["ratios"]]
assert xs == sorted(xs) and {1, 2, 3} <= set(xs)
best = max(o["ratios"], key=lambda r: r["throughput_per_device"])
assert best["attention_instances"] == o["best_attention_instances"]
assert o["theta"] > 0 and o["sigma"] > 0
PYEOF
else
    bad "--sweep --json failed: $(cat "$TMP/err")"
fi

# same seed, same bytes; another seed, other numbers
"$BIN" --sweep 1:3 "${SMALL[@]}" --json >"$TMP/b.json" 2>/dev/null
if cmp -s "$TMP/a.json" "$TMP/b.json"; then ok; else bad "same seed gave different output"; fi
"$BIN" --sweep 1:3 "${SMALL[@]}" --json --seed 2 >"$TMP/c.json" 2>/dev/null
if ! cmp -s "$TMP/a.json" "$TMP/c.json"; then ok; else bad "--seed 2 gave the seed-1 output"; fi

# --csv and --svg files
if "$BIN" --sweep 2:4 "${SMALL[@]}" --csv "$TMP/s.csv" --svg "$TMP/s.svg" >/dev/null 2>&1 &&
    head -1 "$TMP/s.csv" | grep -q '^attention_instances,r,throughput_per_device' &&
    [ "$(grep -c . "$TMP/s.csv")" -ge 4 ] && grep -q '^<svg' "$TMP/s.svg" &&
    grep -q '</svg>' "$TMP/s.svg"; then
    ok
else
    bad "--csv/--svg output"
fi

# a single run (--ratio) prints its table and exits 0
if "$BIN" --ratio 2 "${SMALL[@]}" | grep -q "single run: x = 2 (r = 2.000)"; then ok; else bad "--ratio 2 table"; fi

echo "cli_sim: $pass passed, $fail failed"
[ "$fail" = 0 ]
