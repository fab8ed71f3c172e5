#!/usr/bin/env bash
# The whole test suite: installs, builds the plain and the ASan+UBSan
# configurations, and runs every ctest test (unit, CLI, end-to-end, benchmark
# smoke runs) in both, then the fuzz targets (build-fuzz, ctest -L fuzz).
# This is what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/setup.sh --sanitize

JOBS=$(nproc 2>/dev/null || echo 2)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
status=0
echo "== tests: plain build =="
(cd build && ctest --output-on-failure -j "$JOBS") || status=1
echo "== tests: ASan+UBSan build =="
(cd build-asan && ctest --output-on-failure -j "$JOBS") || status=1
echo "== tests: fuzz targets (libFuzzer, bounded time) =="
(cd build-fuzz && ctest -L fuzz --output-on-failure -j "$JOBS") || status=1
exit $status
