#!/usr/bin/env bash
# cli_profile.sh - end-to-end checks of `afd-sizer profile list|show|fit`.
# Usage: bash cli_profile.sh BIN_DIR SHARED_DIR
# Measurements are generated here (fixed seed) from known coefficients; the
# checks compare the fit against those, never against the program's output.
set -u

BIN_DIR=${1:?usage: cli_profile.sh BIN_DIR SHARED_DIR}
SIZER="$BIN_DIR/afd-sizer"
# shellcheck source=tests/lib_cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"

run() { run_to "$1" "$SIZER" profile "${@:2}"; }

# gen FILE SEED FFN_LO FFN_HI: 40 points per stage, 3% noise, 3 outliers x3.
gen() {
    "$PY" - "$@" <<'PYEOF'
import random, sys
path, seed, flo, fhi = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
r = random.Random(seed)
stages = {"attention": (5.075e-5, 2.549, 2000, 300000),
          "communication": (1.0e-3, 0.30, 32, 1024),
          "ffn": (2.2444e-3, 5.0, flo, fhi)}
with open(path, "w") as f:
    f.write("# measured on a test rig\nstage,tokens,ms\r\n")
    for s, (a, b, lo, hi) in stages.items():
        for i in range(40):
            x = lo + (hi - lo) * i / 39
            y = (a * x + b) * (1 + 0.03 * r.gauss(0, 1))
            if i in (4, 19, 31):
                y *= 3
            f.write(f"{s},{x:.6g},{y:.6g}\n")
PYEOF
}

# 1. list and show: the built-in, and show --json is a valid --profile-file.
run list list
check "list names the built-in paper-v1-fit" \
    grep -q '^paper-v1-fit ' "$TMP/list.out"
run show show paper-v1-fit --json
check "show --json: the model.md coefficients" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1]))
sys.exit(0 if (d["aA"],d["bA"],d["aC"],d["bC"],d["aF"],d["bF"])==(5.075e-5,2.549,1e-3,0.3,2.2444e-3,5.0) else 1)' "$TMP/show.out"
run_to solve_show "$SIZER" solve --profile-file "$TMP/show.out" --batch 256 \
    --theta 600 --json
check "show --json feeds solve --profile-file (r* ~ 9.3 at B = 256)" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if abs(d["r_star"]-9.3)<0.05 else 1)' "$TMP/solve_show.out"
run shownone show no-such
check "show of an unknown name: exit 2, lists built-ins" \
    exits_with shownone 2 "paper-v1-fit"

# 2. fit recovers the six coefficients within 5% despite noise and outliers.
gen "$TMP/m.csv" 11 200 6000
run fit fit --csv "$TMP/m.csv" --name rig-a --json
check "fit --json exits 0" [ "$(rc_of fit)" = 0 ]
check "fit recovers aA bA aC bC aF bF within 5%" \
    "$PY" -c 'import json,sys; p=json.load(open(sys.argv[1]))["profile"]
want=dict(aA=5.075e-5,bA=2.549,aC=1e-3,bC=0.3,aF=2.2444e-3,bF=5.0)
bad=[k for k,v in want.items() if abs(p[k]-v)>0.05*v]
print(bad) if bad else None; sys.exit(1 if bad else 0)' "$TMP/fit.out"
check "fit: name, comm mode, outliers counted, intervals bracket the slope" \
    "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); f=d["fits"]
ok = d["profile"]["name"]=="rig-a" and d["profile"]["comm_mode"]=="per_instance"
ok = ok and all(f[s]["outliers"]>=3 and f[s]["slope_ci95"][0]<f[s]["slope"]<f[s]["slope_ci95"][1] and 0.9<f[s]["r2"]<=1 for s in ("attention","communication","ffn"))
sys.exit(0 if ok and d["warnings"]==[] else 1)' "$TMP/fit.out"
"$PY" -c 'import json,sys; json.dump(json.load(open(sys.argv[1]))["profile"], open(sys.argv[2],"w"))' \
    "$TMP/fit.out" "$TMP/fitted.json"
run_to solve_fit "$SIZER" solve --profile-file "$TMP/fitted.json" --batch 256 \
    --theta 600 --json
check "the fitted profile member is a valid --profile-file" \
    [ "$(rc_of solve_fit)" = 0 ]
run fitagg fit --csv "$TMP/m.csv" --comm-mode aggregate --json
check "--comm-mode aggregate lands in the profile" \
    "$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["profile"]["comm_mode"]=="aggregate" else 1)' "$TMP/fitagg.out"
run fittext fit --csv "$TMP/m.csv"
check "fit text: table with R^2 and intervals" \
    grep -q "95% interval" "$TMP/fittext.out"

# 3. A narrow FFN range: the fit warns that slope and intercept are not
#    separable (text on stderr, JSON in "warnings").
gen "$TMP/narrow.csv" 12 2000 2100
run narrow fit --csv "$TMP/narrow.csv" --json
check "narrow ffn range: warning names ffn and the range" \
    "$PY" -c 'import json,sys; w=json.load(open(sys.argv[1]))["fits"]["ffn"]["warnings"]; sys.exit(0 if any("cannot be told apart" in x for x in w) else 1)' "$TMP/narrow.out"
run narrowtext fit --csv "$TMP/narrow.csv"
check "narrow ffn range: text warning on stderr" \
    grep -q "warning: ffn: tokens span only 2000..2100" "$TMP/narrowtext.err"

# 4. Bad CSV: exit 2, the message names line and column.
printf 'stage,tokens,ms\nffn,100,1\nffn,1x0,2\n' >"$TMP/bad1.csv"
run bad1 fit --csv "$TMP/bad1.csv"
check "bad number: exit 2 with FILE:3:5" exits_with bad1 2 "bad1.csv:3:5: tokens"
printf 'stage,tokens,ms\nffn,100,1\ngpu,100,2\n' >"$TMP/bad2.csv"
run bad2 fit --csv "$TMP/bad2.csv"
check "unknown stage: exit 2 with FILE:3:1" exits_with bad2 2 "bad2.csv:3:1: stage"
printf 'stage,tokens\nffn,100\n' >"$TMP/bad3.csv"
run bad3 fit --csv "$TMP/bad3.csv"
check "short header: exit 2 naming line 1" exits_with bad3 2 "bad3.csv:1:"
printf 'stage,x,ms\n' >"$TMP/bad4.csv"
run bad4 fit --csv "$TMP/bad4.csv"
check "wrong header column: exit 2 with FILE:1:7" exits_with bad4 2 "bad4.csv:1:7: header column 2 must be 'tokens'"
printf 'stage,tokens,ms\nffn,100,1,9\n' >"$TMP/bad5.csv"
run bad5 fit --csv "$TMP/bad5.csv"
check "extra field: exit 2 naming line 2" exits_with bad5 2 "bad5.csv:2:"
printf 'stage,tokens,ms\nattention,100,1\nattention,200,2\nattention,300,3\nffn,100,1\n' >"$TMP/few.csv"
run few fit --csv "$TMP/few.csv"
check "too few measurements of a stage: exit 2 naming the stage" \
    exits_with few 2 "stage communication"
run nofile fit --csv "$TMP/none.csv"
check "missing file: exit 2" exits_with nofile 2 "none.csv"
run nocsv fit
check "fit without --csv: exit 2" exits_with nocsv 2 "--csv"
run badmode fit --csv "$TMP/m.csv" --comm-mode sideways
check "bad --comm-mode: exit 2" exits_with badmode 2 "sideways"

summary cli_profile
