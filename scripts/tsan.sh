#!/usr/bin/env bash
# The unit and integration tests under ThreadSanitizer, before landing a concurrency change:
#   scripts/tsan.sh [swift test --filter ARG]
# Builds with --sanitize=thread into its own .build-tsan (the daemon and commands the process-level
# tests run are the sanitized build too), runs the tests with every race reported (not only the
# first), and prints `tsan: T tests, F failed, R race reports (U distinct)` last; exits 1 when a
# test failed or a race was reported. Reports and the test output stay in .build-tsan/logs/.
# Slow (a full second build, tests 5-15x slower): not part of scripts/test.sh.
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export FHIR_EDGE_VENV="${FHIR_EDGE_VENV:-$PWD/.venv}"
scratch=.build-tsan
mkdir -p "$scratch/logs"
flags=(--sanitize=thread --scratch-path "$scratch")
if ! swift build --build-tests "${flags[@]}" >"$scratch/logs/build.txt" 2>&1; then
    grep -E "error:" "$scratch/logs/build.txt" | head -20 >&2
    echo "tsan: the build failed (log $scratch/logs/build.txt)"
    exit 1
fi
filter=()
[[ $# -gt 0 ]] && filter=(--filter "$1")
rm -f "$scratch"/logs/race.*
log=$scratch/logs/test-output.txt
# Every report goes to its own file (log_path, one per process: test runner and daemons alike).
status=0
TSAN_OPTIONS="halt_on_error=0:report_signal_unsafe=0:log_path=$PWD/$scratch/logs/race:${TSAN_OPTIONS:-}" \
    SWIFT_BACKTRACE=enable=no timeout --signal=TERM --kill-after=30 "${FHIR_EDGE_TSAN_TIMEOUT:-7200}" \
    stdbuf -oL -eL swift test --skip-build "${flags[@]}" "${filter[@]}" >"$log" 2>&1 || status=$?
reports=$(cat "$scratch"/logs/race.* 2>/dev/null | grep -c "^WARNING: ThreadSanitizer:" || true)
# A race is named by the first frame of each of its two stacks.
distinct=$(cat "$scratch"/logs/race.* 2>/dev/null | awk '
    /^WARNING: ThreadSanitizer:/ { frames = 0; key = $0; next }
    /^    #0 / && frames < 2 { frames++; sub(/^ +#0 0x[0-9a-f]+ /, ""); sub(/ \/.*/, ""); key = key " | " $0; if (frames == 2) print key }
' | sort -u | wc -l)
summary=$(grep -E "^\s+Executed [0-9]+ tests?, with" "$log" | tail -1 || true)
tests=0 failed=0
if [[ $summary =~ Executed\ ([0-9]+)\ tests?,\ with\ (([0-9]+)\ tests?\ skipped\ and\ )?([0-9]+)\ failures? ]]; then
    tests=${BASH_REMATCH[1]}
    failed=${BASH_REMATCH[4]}
fi
if ((reports > 0)); then
    echo "tsan: race reports in $scratch/logs/race.*; the distinct ones:"
    cat "$scratch"/logs/race.* | awk '
        /^WARNING: ThreadSanitizer:/ { frames = 0; key = $0; next }
        /^    #0 / && frames < 2 { frames++; sub(/^ +#0 0x[0-9a-f]+ /, ""); sub(/ \/.*/, ""); key = key " | " $0; if (frames == 2) print "  " key }
    ' | sort | uniq -c | sort -rn | head -20
fi
echo "tsan: $tests tests, $failed failed, $reports race reports ($distinct distinct) (log $log, exit $status)"
((status == 0 && reports == 0))
