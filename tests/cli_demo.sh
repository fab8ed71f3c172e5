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

# shellcheck source=tests/lib_cli.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_cli.sh"
mkdir "$TMP/tmpdir"

# run NAME ARGS...: runs demo (TMPDIR inside $TMP) into $TMP/NAME.{out,err,rc}.
run() { TMPDIR="$TMP/tmpdir" run_to "$1" "$SIZER" demo "${@:2}"; }
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

summary cli_demo
