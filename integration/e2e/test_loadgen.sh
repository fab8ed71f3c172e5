#!/bin/bash
# Smoke test of afd-loadgen (integration/loadgen.c), registered by
# integration/loadgen.cmake:   bash test_loadgen.sh BIN_DIR
#
# 1. A --smoke run against a daemon the generator spawns itself: exit 0
#    (the daemon accepted every item sent and exited 0 on SIGTERM), every
#    figure line printed, no rejection, the decision probe received scale
#    commands in the expected direction without an error, and the daemon
#    process gone after.
#    Again with --token-file (the daemon then requires the bearer token).
# 2. Bad flags exit 2 with a message naming the flag.
# 3. A target nobody listens on fails cleanly (exit 1, no hang).
# Speed is never checked: the figures are printed for people.
set -u

bin_dir=${1:?usage: test_loadgen.sh BIN_DIR}
loadgen=$bin_dir/afd-loadgen
daemon=$bin_dir/afd-sizer
out=$(mktemp)
errf=$(mktemp)
trap 'rm -f "$out" "$errf"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# --- 1. smoke run with a spawned daemon
timeout 120 "$loadgen" --spawn-daemon "$daemon" --smoke >"$out" 2>"$errf"
rc=$?
cat "$out"
cat "$errf" >&2
[ "$rc" -eq 0 ] || fail "smoke run exited $rc, want 0"
for key in accepted_step_samples_per_s sent_step_samples_per_s rejected \
    daemon_peak_rss_mb live_instances decision_latency_p99_ms daemon_pid; do
    grep -q "^$key " "$out" || fail "no '$key' line in the output"
done
grep -q '^rejected 0$' "$out" || fail "the daemon rejected items"
# Behaviour, not speed: each shift gave a command in its direction.
grep -Eq '^decision_latency_p99_ms [0-9]+\.[0-9]+$' "$out" ||
    fail "no decision latency figure: $(grep decision "$out")"
grep -q '^decision_missed' "$out" &&
    fail "decision probe missed or got unexpected commands: $(grep decision_missed "$out")"
grep -q 'decision probe:' "$errf" &&
    fail "decision probe error: $(grep 'decision probe:' "$errf")"
grep -Eq '^accepted_step_samples [1-9][0-9]*$' "$out" ||
    fail "no step sample was accepted"
pid=$(sed -n 's/^daemon_pid \([0-9][0-9]*\)$/\1/p' "$out")
if [ -n "$pid" ] && [ -e "/proc/$pid" ]; then
    fail "daemon pid $pid still exists after the run"
    kill -TERM "$pid" 2>/dev/null
fi

# --- 1b. the same against a daemon that requires a bearer token
tokf=$(mktemp)
chmod 600 "$tokf"
echo "loadgen-smoke-token-0123456789abcdef" >"$tokf"
timeout 120 "$loadgen" --spawn-daemon "$daemon" --token-file "$tokf" \
    --smoke --duration 1 >"$out" 2>"$errf"
rc=$?
rm -f "$tokf"
[ "$rc" -eq 0 ] || fail "smoke run with a token exited $rc, want 0: $(cat "$errf")"
grep -q '^rejected 0$' "$out" || fail "with a token: the daemon rejected items"
grep -Eq '^decision_latency_p99_ms [0-9]+\.[0-9]+$' "$out" ||
    fail "with a token: no decision latency figure (Report/AckCommand refused?)"

# --- 2. bad flags: exit 2, message names the flag
"$loadgen" --target 127.0.0.1:1 --connections 0 >/dev/null 2>"$errf"
rc=$?
[ "$rc" -eq 2 ] || fail "--connections 0 exited $rc, want 2"
grep -q -- "--connections must be a number in \[1, 256\], got '0'" "$errf" ||
    fail "--connections 0: unexpected message: $(cat "$errf")"
"$loadgen" --smoke >/dev/null 2>"$errf"
rc=$?
[ "$rc" -eq 2 ] || fail "no target exited $rc, want 2"
grep -q "give exactly one of --target and --spawn-daemon" "$errf" ||
    fail "no target: unexpected message: $(cat "$errf")"

# --- 3. nobody listening: a clean failure, not a hang
timeout 60 "$loadgen" --target 127.0.0.1:1 --smoke --duration 0.5 \
    >/dev/null 2>"$errf"
rc=$?
[ "$rc" -eq 1 ] || fail "closed port exited $rc, want 1"
grep -q "connection 0: status 14" "$errf" ||
    fail "closed port: no UNAVAILABLE status reported: $(cat "$errf")"

if [ "$failures" -ne 0 ]; then
    echo "test_loadgen: $failures failure(s)" >&2
    exit 1
fi
echo "test_loadgen: ok"
