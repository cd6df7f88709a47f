#!/usr/bin/env bash
# Watches a running test log: when it gains no line for STALL seconds (a test that hangs), names
# the test that started and never ended, writes every thread's backtrace of the test process to
# DIR/stall-backtrace.txt (gdb), and kills that process, so a hang ends as a named failure within
# minutes instead of running into CI's time limit. The stuck tests' names go to DIR/stalled.
#   scripts/stall-watch.sh LOG DIR STALL_SECONDS WATCHED_PID
set -uo pipefail
log=$1 dir=$2 stall=$3 watched=$4
last_size=-1 quiet=0
while kill -0 "$watched" 2>/dev/null; do
    sleep 5
    size=$(stat -c %s "$log" 2>/dev/null || echo 0)
    if [[ $size != "$last_size" ]]; then last_size=$size quiet=0; continue; fi
    quiet=$((quiet + 5))
    ((quiet < stall)) && continue
    # The test binary itself (swift test runs it as a child).
    victim=$(pgrep -f 'PackageTests\.xctest' | head -1)
    [[ -z $victim ]] && { quiet=0; continue; }
    stuck=$(awk '
        /^Test Case .* started/ { name = $3; open[name] = 1 }
        /^Test Case .* (passed|failed|skipped)/ { delete open[$3] }
        END { for (n in open) print n }' "$log" | tr -d "'" | tr '\n' ' ')
    echo "stall: no test output for ${stall} s; still running: ${stuck:-unknown}" | tee -a "$log" >&2
    echo "${stuck:-unknown}" >>"$dir/stalled"
    if command -v gdb >/dev/null; then
        timeout 120 gdb -p "$victim" -batch -ex "thread apply all bt" >"$dir/stall-backtrace.txt" 2>&1
        echo "stall: backtraces of every thread in $dir/stall-backtrace.txt; the test's threads:" >&2
        grep -E "^Thread |in \\\$s.*(Tests|BLERig|TestSupport)" "$dir/stall-backtrace.txt" | head -40 >&2
    fi
    kill -KILL "$victim" 2>/dev/null
    quiet=0
done
