#!/usr/bin/env bash
# Builds the libFuzzer targets (Fuzz/*, declared in Package.swift only under FHIR_EDGE_FUZZ=1) with
# -sanitize=fuzzer,address into .build-fuzz, then runs each for SECONDS (default 60) on seeds
# assembled from ../shared/conformance (or $FHIR_EDGE_CONFORMANCE) and device-profiles.
# Everything generated stays under .build-fuzz: seeds/, corpus/ (grows across runs), artifacts/
# (crash-*, leak-*, timeout-*, oom-* inputs) and logs/.
# Last line: `fuzz: T targets, E executions, C crashes`; exits 1 when C > 0.
set -uo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
scratch=.build-fuzz
conformance=${FHIR_EDGE_CONFORMANCE:-../shared/conformance}
[[ -d $conformance ]] || conformance=/work/shared/conformance
targets=(FuzzJSON FuzzJSONPath FuzzJMESPath FuzzTemplates FuzzBluetoothDecoding FuzzModbusRegisters FuzzHCI FuzzL2CAP FuzzATT FuzzSMP FuzzHL7 FuzzYAML)
declare -A dictionary=(
    [FuzzJSON]=json [FuzzJSONPath]=jsonpath [FuzzJMESPath]=jmespath [FuzzTemplates]=templates [FuzzHL7]=hl7
)

export FHIR_EDGE_FUZZ=1
flags=(-c release --scratch-path "$scratch" -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library -Xswiftc -g)
mkdir -p "$scratch/logs"
: >"$scratch/logs/build.txt"
started=$SECONDS
for target in "${targets[@]}"; do
    if ! swift build "${flags[@]}" --product "$target" >>"$scratch/logs/build.txt" 2>&1; then
        grep -E "error:" "$scratch/logs/build.txt" | head -20 >&2
        echo "fuzz: build of $target failed (log $scratch/logs/build.txt)" >&2
        echo "fuzz: ${#targets[@]} targets, 0 executions, ${#targets[@]} crashes"
        exit 1
    fi
done
echo "fuzz: built ${#targets[@]} targets in $((SECONDS - started))s (log $scratch/logs/build.txt)"
bin=$(swift build "${flags[@]}" --show-bin-path)

rm -rf "$scratch/seeds"
python3 scripts/fuzz-seeds.py "$scratch/seeds" "$conformance" "$PWD"

executions=0
crashes=0
for target in "${targets[@]}"; do
    corpus=$scratch/corpus/$target
    artifacts=$scratch/artifacts/$target
    log=$scratch/logs/$target.txt
    mkdir -p "$corpus" "$artifacts" "$scratch/seeds/$target"
    options=(-max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25 -max_len=8192
        -print_final_stats=1 -artifact_prefix="$artifacts/")
    [[ -n ${dictionary[$target]:-} ]] && options+=(-dict="Fuzz/dictionaries/${dictionary[$target]}.dict")
    status=0
    # Swift's own crash backtracer would run under ASan and trip it; libFuzzer prints the stack.
    SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
        LSAN_OPTIONS=suppressions=$PWD/Fuzz/lsan.supp:print_suppressions=0 "$bin/$target" "${options[@]}" "$corpus" "$scratch/seeds/$target" >"$log" 2>&1 || status=$?
    runs=$(grep -oE 'stat::number_of_executed_units: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$' || true)
    [[ -z $runs ]] && runs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    runs=${runs:-0}
    executions=$((executions + runs))
    if ((status != 0)) || grep -qE '^==[0-9]+==ERROR|^SUMMARY: |deadly signal|Fatal error' "$log"; then
        crashes=$((crashes + 1))
        echo "fuzz: $target FAILED (exit $status), $runs executions; input under $artifacts, log $log"
        grep -E 'ERROR|SUMMARY|Fatal error|Test unit written' "$log" | head -5 || true
    else
        echo "fuzz: $target ok, $runs executions in ${seconds}s"
    fi
done
echo "fuzz: ${#targets[@]} targets, $executions executions, $crashes crashes"
((crashes == 0))
