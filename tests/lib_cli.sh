# lib_cli.sh - shared preamble of the tests/cli_*.sh scripts, sourced after
# they set SIZER. Named lib_ (not cli_) so the tests/cli_*.sh glob does not
# register it as a test of its own.
#
# Gives: pass/fail counters; $TMP, a temp dir removed on exit; ok/notok
# (print "ok - ..." / "not ok - ..."); check DESCRIPTION COMMAND...; get FILE
# EXPR (a Python expression over the JSON object d); run_to NAME CMD...
# (stdout to $TMP/NAME.out, stderr to .err, exit status to .rc); rc_of NAME;
# exits_with NAME RC NEEDLE; summary NAME (the final "N passed, M failed"
# line and the script's exit status).

PY=/usr/bin/python3
pass=0
fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() { # check DESCRIPTION COMMAND...: passes when COMMAND succeeds
    local what=$1
    shift
    if "$@"; then ok "$what"; else notok "$what"; fi
}

# get FILE EXPR: evaluates a Python expression over the JSON object d.
get() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(json.dumps(eval(sys.argv[2])))' "$1" "$2"
}

run_to() {
    local name=$1
    shift
    "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
    echo $? >"$TMP/$name.rc"
}
rc_of() { cat "$TMP/$1.rc"; }
# exits_with NAME RC NEEDLE: run NAME exited RC and its stderr has NEEDLE.
exits_with() { [ "$(rc_of "$1")" = "$2" ] && grep -q -- "$3" "$TMP/$1.err"; }

# summary NAME: the last line of every script; fails when any check did.
summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" = 0 ]
}
