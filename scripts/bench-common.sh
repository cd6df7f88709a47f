# Sourced by scripts/bench-*.sh: builds benchmark products in release mode into one scratch folder
# (BENCH_SCRATCH_PATH, default .build), printing only the errors when the build fails.
scratch=${BENCH_SCRATCH_PATH:-.build}

build_release() {
    local product output
    for product in "$@"; do
        if ! output=$(swift build -c release --scratch-path "$scratch" --product "$product" 2>&1); then
            echo "$output" | grep -E "error" >&2 || echo "$output" | tail -20 >&2
            exit 1
        fi
    done
}

# For the benchmarks that run the daemon: `daemon_scratch` makes $work (removed on exit, the
# daemon killed with it); `start_daemon CONFIG` runs the release `fhir-edge run` on it and sets
# $pid and the $port it listens on; `daemon_ticks` is its CPU time so far in clock ticks
# (utime + stime, fields 14 and 15 of /proc/PID/stat; the command name has no spaces here).
daemon_scratch() {
    work=$(mktemp -d)
    pid=""
    trap 'if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}

start_daemon() {
    "$scratch/release/fhir-edge" run --config "$1" >"$work/daemon.out" 2>"$work/daemon.log" &
    pid=$!
    port=""
    for _ in $(seq 1 300); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/daemon.out" | head -1)
        [[ -n "$port" ]] && return 0
        sleep 0.1
    done
    cat "$work/daemon.log" >&2
    echo "the daemon did not start" >&2
    exit 1
}

daemon_ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
