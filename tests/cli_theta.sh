#!/usr/bin/env bash
# cli_theta.sh - end-to-end checks of `afd-sizer theta`.
# Usage: bash cli_theta.sh BIN_DIR SHARED_DIR
# Each check prints "ok - ..." or "not ok - ..."; exits non-zero on any
# failure. Expected values come from the traces README table or are
# computed here by enumerating step loads, never from the program's output.
set -u

BIN_DIR=${1:?usage: cli_theta.sh BIN_DIR SHARED_DIR}
SHARED_DIR=${2:?usage: cli_theta.sh BIN_DIR SHARED_DIR}
SIZER="$BIN_DIR/afd-sizer"
TRACES="$SHARED_DIR/traces"
# shellcheck source=tests/lib_cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"

# run NAME ARGS...: runs theta into $TMP/NAME.{out,err,rc}.
run() { run_to "$1" "$SIZER" theta "${@:2}"; }

# matches FILE N MEAN_P MEAN_D THETA SIGMA FORMAT: the JSON output agrees
# with a README row (theta and sigma to 0.01, the one-decimal means to 0.051).
matches() {
    "$PY" - "$@" <<'EOF'
import json, sys
path, n, mp, md, th, sg, fmt = sys.argv[1:]
try:
    d = json.load(open(path))
except Exception as e:
    print("  # no JSON:", e)
    sys.exit(1)
good = (d["requests"] == int(n) and d["format"] == fmt
        and abs(d["theta"] - float(th)) <= 0.01
        and abs(d["sigma"] - float(sg)) <= 0.01
        and abs(d["mean_prompt"] - float(mp)) <= 0.051
        and abs(d["mean_decode"] - float(md)) <= 0.051
        and d["malformed_lines"] == 0)
if not good:
    print("  # got", {k: d.get(k) for k in ("requests", "format", "theta",
          "sigma", "mean_prompt", "mean_decode", "malformed_lines")})
sys.exit(0 if good else 1)
EOF
}

# 1. Every shared trace against the README table.
while read -r file n mp md th sg fmt; do
    run "t_$file" --trace "$TRACES/$file" --json
    check "$file: N $n, theta $th, sigma $sg (README)" \
        matches "$TMP/t_$file.out" "$n" "$mp" "$md" "$th" "$sg" "$fmt"
done <<EOF
AzureLLMInferenceTrace_code.csv 8819 2047.8 27.9 2130.43 1951.62 azure
AzureLLMInferenceTrace_conv.csv 19366 1154.7 211.1 1226.48 712.88 azure
sharegpt_8k_filtered_stats_llama2_tokenizer.csv 30731 2340.0 438.7 2690.92 2081.09 processed
arxiv_summarization_stats_llama2_tokenizer_filtered_v2.csv 28257 2588.1 291.4 2419.73 996.83 processed
bwb_stats_llama2_tokenizer_filtered_v2.csv 33768 1067.2 1612.8 1967.61 656.72 processed
EOF

# 2. The table form shows the same theta.
run table --trace "$TRACES/AzureLLMInferenceTrace_conv.csv"
check "table form: exit 0 and 'theta        1226.48'" \
    grep -q '^theta        1226.48 ' "$TMP/table.out"

# 3. A Mooncake fixture: loads 512..519 (8 steps) and 100, 101 (2 steps).
cat >"$TMP/mc.jsonl" <<'EOF'
{"timestamp": 0, "input_length": 512, "output_length": 8, "hash_ids": [1, 2]}
{"timestamp": 3000, "input_length": 100, "output_length": 2, "hash_ids": []}
EOF
want=$("$PY" -c 'import statistics as s
l = list(range(512, 520)) + [100, 101]
print(s.fmean(l), s.pstdev(l))')
run mc --trace "$TMP/mc.jsonl" --json
check "mooncake fixture: format, theta and sigma from the step loads" \
    "$PY" -c 'import json, sys
d = json.load(open(sys.argv[1])); th, sg = map(float, sys.argv[2].split())
sys.exit(0 if d["format"] == "mooncake" and d["requests"] == 2 and
         abs(d["theta"] - th) < 1e-9 and abs(d["sigma"] - sg) < 1e-9 else 1)' \
    "$TMP/mc.out" "$want"

# 4. Some malformed lines: skipped, counted, located, warned about.
cat >"$TMP/some_bad.csv" <<'EOF'
TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:17:03,10,1
2023-11-16 18:17:04,abc,3
2023-11-16 18:17:05,20,3
2023-11-16 18:17:06,5,0
EOF
run some_bad --trace "$TMP/some_bad.csv" --json
check "some malformed lines: exit 0, malformed_lines 2, first bad line 3" \
    [ "$(rc_of some_bad):$(get "$TMP/some_bad.out" \
        '[d["malformed_lines"], d["first_bad_line"], d["requests"]]')" = \
        "0:[2, 3, 2]" ]
check "some malformed lines: theta of the valid ones (10; 20,21,22 -> 18.25)" \
    [ "$(get "$TMP/some_bad.out" 'd["theta"]')" = 18.25 ]
run some_bad_t --trace "$TMP/some_bad.csv"
check "table form warns on stderr with the count and the first line" \
    grep -q 'warning: .*2 malformed lines skipped (first: line 3' \
    "$TMP/some_bad_t.err"

# 5. Failures: exit 2 with a message naming the problem.
cat >"$TMP/only_bad.csv" <<'EOF'
TIMESTAMP,ContextTokens,GeneratedTokens
2023-11-16 18:17:04,abc,3
2023-11-16 18:17:06,-5,2
EOF
: >"$TMP/empty.csv"
printf '\n  \n' >"$TMP/blank.csv"
printf 'a,b,c\n1,2,3\n' >"$TMP/odd.csv"
run missing --trace "$TMP/missing.csv"
check "wrong path exits 2 naming the path" \
    exits_with missing 2 "$TMP/missing.csv: cannot open"
run empty --trace "$TMP/empty.csv"
check "empty file exits 2 saying empty" exits_with empty 2 'empty'
run blank --trace "$TMP/blank.csv"
check "blank-lines-only file exits 2 saying empty" exits_with blank 2 'empty'
run only_bad --trace "$TMP/only_bad.csv"
check "only malformed lines exits 2 with the first bad line" \
    exits_with only_bad 2 'line 2'
run odd --trace "$TMP/odd.csv"
check "unknown format exits 2 naming the known formats" \
    exits_with odd 2 'unrecognised trace format'
run dir --trace "$TMP"
check "a directory exits 2" exits_with dir 2 'not a regular file'
run noflag
check "no --trace exits 2" exits_with noflag 2 '--trace PATH is required'
run novalue --trace
check "--trace without a value exits 2" exits_with novalue 2 'needs a value'
run unknown --trace "$TMP/mc.jsonl" --bogus
check "unknown flag exits 2" exits_with unknown 2 "unknown flag '--bogus'"

# 6. --help.
run help --help
check "--help exits 0 and lists --trace and --json" \
    "$PY" -c 'import sys; t = open(sys.argv[1]).read(); rc = open(sys.argv[2]).read().strip()
sys.exit(0 if rc == "0" and "--trace PATH" in t and "--json" in t else 1)' \
    "$TMP/help.out" "$TMP/help.rc"

summary cli_theta
