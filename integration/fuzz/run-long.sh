#!/usr/bin/env bash
# Runs every fuzz target longer than the suite does and prints libFuzzer's
# coverage per target (cov: edges, ft: features, corp: corpus) from
# -print_final_stats=1. Usage:
#   integration/fuzz/run-long.sh [SECONDS_PER_TARGET (default 300)] [TARGET...]
# Builds build-fuzz (clang, -DAFD_FUZZ=ON) if needed. New inputs go to
# build-fuzz/fuzz-corpus/NAME, crashes to build-fuzz/fuzz-artifacts/NAME-*;
# a crash input belongs in integration/fuzz/regress/NAME/ with the fix.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-300}
shift || true
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(telemetry sizer keda control config profile scenario trace
             measure snapshot http alertmanager)
fi
if [ ! -f build-fuzz/CMakeCache.txt ]; then
    CC=clang cmake -S . -B build-fuzz -DAFD_FUZZ=ON -DAFD_WERROR=ON \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo >&2
fi
cmake --build build-fuzz --target afd_fuzz_all -j 2 >&2
status=0
printf '%-13s %8s %8s %10s %8s %s\n' target cov ft execs corpus result
for t in "${targets[@]}"; do
    work=build-fuzz/fuzz-corpus/$t
    mkdir -p "$work" build-fuzz/fuzz-artifacts
    log=build-fuzz/fuzz-artifacts/$t.log
    rc=0
    build-fuzz/bin/fuzz_"$t" -max_total_time="$secs" -print_final_stats=1 \
        -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -artifact_prefix=build-fuzz/fuzz-artifacts/"$t"- \
        "$work" integration/fuzz/corpus/"$t" >"$log" 2>&1 || rc=$?
    last=$(grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1)
    cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.*ft: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.*corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    if ((rc == 0)); then res=ok; else res="FAILED (rc $rc, see $log)"; status=1; fi
    printf '%-13s %8s %8s %10s %8s %s\n' "$t" "${cov:-?}" "${ft:-?}" \
        "${execs:-?}" "${corp:-?}" "$res"
done
exit $status
