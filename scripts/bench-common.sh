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
