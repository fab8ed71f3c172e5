#!/usr/bin/env bash
# cli_demo.sh - usage and start-up errors of `afd-sizer demo` (the runs
# themselves are checked by integration/e2e/test_demo.py).
# Usage: bash cli_demo.sh BIN_DIR SHARED_DIR
# Each check prints "ok - ..." or "not ok - ..."; exits non-zero on any
# failure. Every failing case must exit before starting any process: the
# checks also assert that no temporary work dir was left in TMPDIR.
set -u

BIN_DIR=${1:?usage: cli_demo.sh BIN_DIR SHARED_DIR}
SIZER="$BIN_DIR/afd-sizer"

pass=0
fail=0
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/tmpdir"

ok() { pass=$((pass + 1)); echo "ok - $*"; }
notok() { fail=$((fail + 1)); echo "not ok - $*"; }
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else notok "$what"; fi
}
run() {
    local name=$1
    shift
    TMPDIR="$TMP/tmpdir" "$SIZER" demo "$@" >"$TMP/$name.out" \
        2>"$TMP/$name.err"
    echo $? >"$TMP/$name.rc"
}
rc_of() { cat "$TMP/$1.rc"; }
# exits_with NAME RC NEEDLE: run NAME exited RC and its stderr has NEEDLE.
exits_with() { [ "$(rc_of "$1")" = "$2" ] && grep -q -- "$3" "$TMP/$1.err"; }
no_work_dir() { [ -z "$(ls -A "$TMP/tmpdir")" ]; }

run help --help
check "--help exits 0 and lists the flags" \
    eval '[ "$(rc_of help)" = 0 ] && grep -q -- "--scenario FILE" "$TMP/help.out" && grep -q -- "--keep-logs DIR" "$TMP/help.out"'

run unknown --frobnicate
check "unknown option exits 2 naming it" \
    exits_with unknown 2 "unknown option '--frobnicate'"

run noval --seed
check "--seed without a value exits 2" exits_with noval 2 "--seed needs a value"

run badseed --seed -3
check "negative seed exits 2 quoting it" \
    exits_with badseed 2 "--seed must be >= 0, got -3"

run textseed --seed abc
check "non-numeric seed exits 2 quoting it" \
    exits_with textseed 2 "got 'abc'"

run badjobs --jobs 9
check "--jobs out of range exits 2" exits_with badjobs 2 "--jobs must be 1..4, got 9"

run badtimeout --timeout 0
check "--timeout 0 exits 2" exits_with badtimeout 2 "--timeout must be > 0, got 0"

run missing --scenario "$TMP/nope.json"
check "missing scenario file exits 2 naming it" \
    exits_with missing 2 "$TMP/nope.json"

printf '{"name": "x", "phases": ' >"$TMP/broken.json"
run broken --scenario "$TMP/broken.json"
check "malformed scenario JSON exits 2 with file and line" \
    exits_with broken 2 "broken.json:1:"

printf '{"name": "x"}' >"$TMP/nophases.json"
run nophases --scenario "$TMP/nophases.json"
check "scenario without phases exits 2" \
    exits_with nophases 2 'a scenario is an object with a "phases" array'

check "no work dir left behind by the failures" no_work_dir

echo "cli_demo: $pass passed, $fail failed"
[ "$fail" = 0 ]
