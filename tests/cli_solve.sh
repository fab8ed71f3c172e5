#!/usr/bin/env bash
# cli_solve.sh - end-to-end checks of `afd-sizer solve`.
# Usage: bash cli_solve.sh BIN_DIR SHARED_DIR
# Each check prints "ok - ..." or "not ok - ..."; exits non-zero on any
# failure. Expected numbers are the paper's headline points or computed here
# from model.md's formulas, never copied from the program's output.
set -u

BIN_DIR=${1:?usage: cli_solve.sh BIN_DIR SHARED_DIR}
SHARED_DIR=${2:?usage: cli_solve.sh BIN_DIR SHARED_DIR}
SIZER="$BIN_DIR/afd-sizer"
TRACE="$SHARED_DIR/traces/AzureLLMInferenceTrace_conv.csv"
# shellcheck source=tests/lib_cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"

# near A B TOL: |A - B| <= TOL (A, B numbers as text; "null" fails)
near() {
    "$PY" -c 'import sys; a, b, t = sys.argv[1:]; sys.exit(0 if a != "null" and abs(float(a) - float(b)) <= float(t) else 1)' "$1" "$2" "$3"
}
is_null() { [ "$1" = "null" ]; }

# run NAME ARGS...: runs solve into $TMP/NAME.{out,err,rc}.
run() { run_to "$1" "$SIZER" solve "${@:2}"; }

# 1. The paper's headline points (the fitted profile reproduces them).
for pair in 64:5.9 256:9.3 1024:12.5; do
    b=${pair%%:*}
    want=${pair##*:}
    run "acc$b" --batch "$b" --theta 600 --json
    got=$(get "$TMP/acc$b.out" 'd["r_star"]' 2>/dev/null || echo null)
    check "solve --batch $b --theta 600: r_star $got ~ $want" \
        near "$got" "$want" 0.05
done

# 2. r_A at B = 256 against model.md's closed form with paper-v1-fit.
want=$("$PY" -c 'aA, bA, aF, bF = 5.075e-5, 2.549, 2.2444e-3, 5.0
B, th = 256, 600
print((aA * B * th + bA - bF) / (aF * B))')
check "r_A equals (t_A - bF)/(aF*B) = $want" \
    near "$(get "$TMP/acc256.out" 'd["r_A"]')" "$want" 1e-6

# 2b. At B = 64 the FFN peak binds: r* = r_peak = sqrt(bF/(aF*B)).
want=$("$PY" -c 'print((5.0 / (2.2444e-3 * 64)) ** 0.5)')
check "B = 64: r_star = r_peak = sqrt(bF/(aF*B)) = $want" \
    near "$(get "$TMP/acc64.out" 'd["r_star"] if d["r_star"] == d["r_peak"] else None')" \
    "$want" 1e-6

# 2c. Regime map: contiguous spans from 0 to max_ratio, idle ratios in [0,1).
check "regimes cover (0, max_ratio] contiguously; idle ratios in [0, 1)" \
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); s = d["regimes"]
names = {"attention", "communication", "ffn"}
ok = (s[0]["from"] == 0 and s[-1]["to"] == d["max_ratio"]
      and all(a["to"] == b["from"] for a, b in zip(s, s[1:]))
      and all(x["regime"] in names for x in s)
      and set(d["idle_ratios"]) == names
      and all(0 <= v < 1 for v in d["idle_ratios"].values())
      and d["idle_ratios"][d["regime"]] == 0)
sys.exit(0 if ok else 1)' "$TMP/acc256.out"

# 3. --theta without --sigma: no barrier result, and a note that says why.
check "--theta without --sigma: r_star_barrier null" \
    is_null "$(get "$TMP/acc256.out" 'd["r_star_barrier"]')"
check "--theta without --sigma: note names --sigma and --trace" \
    grep -q -- '--sigma.*--trace' <<<"$(get "$TMP/acc256.out" 'd["note"]')"
run nosig_table --batch 256 --theta 600
check "table without sigma says the barrier result is omitted" \
    grep -q 'barrier-aware: omitted' "$TMP/nosig_table.out"

# 4. The built-in defaults: B = 256, --geometric 100,500, barrier x = 10.
run defaults
check "solve with no args exits 0" [ "$(rc_of defaults)" = 0 ]
check "solve with no args says which defaults it used" \
    grep -q '^defaults: .*batch 256.*--geometric 100,500' "$TMP/defaults.out"
check "solve with no args recommends 10 Attention per FFN (barrier-aware)" \
    grep -q 'barrier-aware: 10 Attention per 1 FFN' "$TMP/defaults.out"
run defaults_json --json
check "defaults --json: batch 256, theta 599, sigma sqrt(499*500)" \
    [ "$(get "$TMP/defaults_json.out" \
        '[d["batch"], d["theta"], round(d["sigma"], 6)]')" = \
        "[256.0, 599.0, $("$PY" -c 'print(round((499 * 500) ** 0.5, 6))')]" ]
check "defaults --json: attention_instances_barrier 10, r_star_barrier 10" \
    [ "$(get "$TMP/defaults_json.out" \
        '[d["attention_instances_barrier"], d["r_star_barrier"]]')" = \
        "[10, 10.0]" ]
check "defaults --json: 'defaults' says so" \
    grep -q 'geometric 100,500' <<<"$(get "$TMP/defaults_json.out" 'd["defaults"]')"

# 5. --geometric gives theta = P + D - 1, sigma^2 = D(D-1) (P fixed).
run geo --batch 128 --geometric 50,20 --json
check "--geometric 50,20: theta 69, sigma sqrt(380)" \
    [ "$(get "$TMP/geo.out" '[d["theta"], round(d["sigma"], 9)]')" = \
        "[69.0, $("$PY" -c 'print(round(380 ** 0.5, 9))')]" ]

# 6. --trace: the same theta as `afd-sizer theta`, and a barrier result.
run trace --batch 256 --trace "$TRACE" --json
"$SIZER" theta --trace "$TRACE" --json >"$TMP/theta.out" 2>/dev/null
check "solve --trace has the theta of afd-sizer theta" \
    near "$(get "$TMP/trace.out" 'd["theta"]')" \
    "$(get "$TMP/theta.out" 'd["theta"]')" 1e-9
check "solve --trace: sigma as README (712.88) and barrier result present" \
    near "$(get "$TMP/trace.out" 'd["sigma"] if d["attention_instances_barrier"] else None')" \
    712.88 0.01
check "solve --trace: theta_source is trace" \
    [ "$(get "$TMP/trace.out" 'd["theta_source"]')" = '"trace"' ]

# 7. Aggregate comm: no closed form, so r_A, r_C, r_peak are null.
run agg --batch 256 --theta 600 --comm-mode aggregate --json
check "--comm-mode aggregate: r_A, r_C, r_peak null, r_star a number" \
    [ "$(get "$TMP/agg.out" \
        '[d["r_A"], d["r_C"], d["r_peak"], d["comm_mode"], type(d["r_star"]).__name__]')" = \
        '[null, null, null, "aggregate", "float"]' ]

# 8. Several FFN instances: x near y * r*.
run y2 --batch 256 --theta 600 --ffn-instances 2 --json
check "--ffn-instances 2: |x - 2 r*| <= 1" \
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1]))
sys.exit(0 if d["ffn_instances"] == 2 and abs(d["attention_instances"] - 2 * d["r_star"]) <= 1 else 1)' "$TMP/y2.out"

# 9. Profile files: a good one is used, a bad field is named.
cat >"$TMP/good.json" <<'EOF'
{"name": "lab-box", "provenance": "made up for a test",
 "aA": 1e-4, "bA": 2, "aC": 1e-3, "bC": 0.3, "aF": 2e-3, "bF": 4,
 "comm_mode": "per_instance"}
EOF
run pgood --profile-file "$TMP/good.json" --batch 100 --theta 500 --json
# r_A = (1e-4*100*500 + 2 - 4) / (2e-3*100) = 3 / 0.2 = 15
check "--profile-file: name used and r_A = 15 by hand" \
    [ "$(get "$TMP/pgood.out" '[d["profile"], round(d["r_A"], 9)]')" = \
        '["lab-box", 15.0]' ]
sed 's/"aF": 2e-3/"aF": "fast"/' "$TMP/good.json" >"$TMP/bad.json"
run pbad --profile-file "$TMP/bad.json" --batch 100 --theta 500
check "--profile-file with a bad field exits 2 naming profile.aF" \
    exits_with pbad 2 'profile\.aF'
check "the bad-field message names the file" \
    grep -q "$TMP/bad.json" "$TMP/pbad.err"

# 10. Every usage error exits 2 with a message on stderr and nothing on
# stdout. Format: description|needle in stderr|args...
while IFS='|' read -r what needle args; do
    [ -z "$what" ] && continue
    # shellcheck disable=SC2086 # word splitting of args is intended
    run err $args
    if [ "$(rc_of err)" = 2 ] && [ ! -s "$TMP/err.out" ] &&
        grep -q -- "$needle" "$TMP/err.err"; then
        ok "usage error: $what"
    else
        notok "usage error: $what (rc $(rc_of err): $(cat "$TMP/err.err"))"
    fi
done <<EOF
unknown flag|unknown flag '--bogus'|--bogus
missing value|--batch needs a value|--theta 600 --batch
value swallowed by the next flag|--batch needs a value|--batch --theta 600
non-number batch|--batch must be a finite number|--batch abc --theta 600
batch 0|--batch must be > 0|--batch 0 --theta 600
negative batch|--batch must be > 0|--batch -5 --theta 600
ffn instances 0|--ffn-instances must be in \[1, 100000\]|--batch 64 --theta 600 --ffn-instances 0
ffn instances not an integer|--ffn-instances must be an integer|--batch 64 --theta 600 --ffn-instances 1.5
both profile flags|at most one of --profile and --profile-file|--profile paper-v1-fit --profile-file $TMP/good.json --batch 64 --theta 600
both theta and trace|only one workload|--batch 64 --theta 600 --trace $TRACE
batch without workload|--batch needs a workload|--batch 64
workload without batch|--batch B is required|--theta 600
sigma without theta|--sigma goes with --theta|--batch 64 --geometric 100,500 --sigma 3
theta NaN|--theta must be a finite number|--batch 64 --theta nan
negative sigma|--sigma must be >= 0|--batch 64 --theta 600 --sigma -1
bad comm mode|unknown comm mode 'both'|--batch 64 --theta 600 --comm-mode both
geometric with one number|--geometric needs PROMPT,DECODE|--batch 64 --geometric 100
geometric decode < 1|DECODE >= 1|--batch 64 --geometric 100,0.5
max ratio < 1|--max-ratio must be in|--batch 64 --theta 600 --max-ratio 0.5
unknown built-in profile|unknown profile 'nosuch'|--profile nosuch --batch 64 --theta 600
trace that does not exist|cannot open|--batch 64 --trace $TMP/none.csv
value given to --json|--json takes no value|--json=1
positional argument|unexpected argument 'foo'|foo
flag given twice|--batch given twice|--batch 64 --batch 64 --theta 1
noise with two numbers|--noise-cv needs A,C,F|--batch 64 --theta 600 --noise-cv 0.1,0.1
noise not a number|--noise-cv needs A,C,F|--batch 64 --theta 600 --noise-cv 0.1,x,0
noise above 2|--noise-cv values must be in \[0, 2\]|--batch 64 --theta 600 --noise-cv 0,2.5,0
negative noise|--noise-cv values must be in \[0, 2\]|--batch 64 --theta 600 --noise-cv -0.1,0,0
EOF

# 11. --help: exit 0 and every flag listed.
run help --help
missing=""
for f in --profile --profile-file --batch --theta --sigma --trace \
    --geometric --ffn-instances --comm-mode --max-ratio --noise-cv --json \
    --help; do
    grep -q -- "^  $f\b" "$TMP/help.out" || missing="$missing $f"
done
help_ok=no
[ "$(rc_of help)" = 0 ] && [ -z "$missing" ] && help_ok=yes
check "--help exits 0 and lists every flag${missing:+ (missing:$missing)}" \
    [ "$help_ok" = yes ]

# 12. The table shows r* with its closed-form parts, regime and map.
run table --batch 256 --theta 600 --sigma 499.5
check "table shows profile, provenance, r_A/r_C/r_peak, regime and map" \
    "$PY" -c 'import sys; t = open(sys.argv[1]).read()
need = ["profile     paper-v1-fit", "provenance  FITTED", "r_A 9.301",
        "r_C ", "r_peak ", "regime      attention at r*", "throughput",
        "mean-field:", "barrier-aware:", "regimes"]
sys.exit(0 if all(n in t for n in need) else 1)' "$TMP/table.out"

# 13. Per-step stage noise: echoed in the JSON, no noise the same answer
# as none given, and noise on every stage lowers the barrier-aware count
# (the step waits for the slowest stage: noise costs most at the balance).
run quiet --batch 256 --geometric 100,500 --json
run zero --batch 256 --geometric 100,500 --noise-cv 0,0,0 --json
run noisy --batch 256 --geometric 100,500 --noise-cv 0.15,0.15,0.15 --json
q=$(get "$TMP/quiet.out" 'd["attention_instances_barrier"]')
check "--noise-cv 0,0,0 gives the quiet answer" \
    [ "$(get "$TMP/zero.out" 'd["attention_instances_barrier"]')" = "$q" ]
check "--noise-cv echoed per stage" \
    [ "$(get "$TMP/noisy.out" 'd["stage_noise_cv"]["communication"]')" = 0.15 ]
n=$(get "$TMP/noisy.out" 'd["attention_instances_barrier"]')
check "15% noise on every stage: barrier count $n below the quiet $q" \
    [ "$n" -lt "$q" ]

summary cli_solve
