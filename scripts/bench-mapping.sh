#!/usr/bin/env bash
# Mapping benchmark: N device messages (default 100 000) through (a) a JsonPathContent template and
# (b) a CalculatedContent JMESPath template, then the FHIR mapping, single-threaded, against a
# Python baseline (PyPI jmespath and jsonpath-ng) that does the same work on the same messages and
# writes the same Observations byte for byte (the byte counts are checked).
#
# Swift figures are given per stage, each adding one step: normalize (parse + device template),
# convert (+ FHIR Observations with Create-mode SHA-256 ids), serialize (+ compact JSON bytes), and
# tree (serialize through Observation.json and JSONWriter instead). The ratio compares full
# pipelines. Then the daemon's own stage, MappingPipeline.map on batches of 100 with Create-mode
# Patients and Devices (receive times and origins included), with the templates' compiled
# Observation plans and without them (the same resources, checked). Peak RSS is per process (Swift runs all its stages in one process). Beyond the byte
# counts, both sides also write the Observations of the first 2 000 messages to files (untimed),
# which must be identical byte for byte.
#
# Usage: scripts/bench-mapping.sh [COUNT]   (BENCH_SCRATCH_PATH picks the build folder; default .build)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
source scripts/bench-common.sh
scripts/setup.sh
build_release MappingBenchmark
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixtures=Benchmarks/fixtures
printf '%-9s %-10s %12s %12s %8s\n' case stage "swift msg/s" "python msg/s" ratio
for case in jsonpath jmespath; do
    .venv/bin/python Benchmarks/make_messages.py "$case" "$count" "$work/$case.ndjson"
    swift_line=$("$scratch/release/MappingBenchmark" "$fixtures/$case-devicecontent.json" "$fixtures/fhirmapping.json" "$work/$case.ndjson" "$case")
    python_line=$(.venv/bin/python Benchmarks/baseline_mapping.py "$case" "$work/$case.ndjson")
    head -n 2000 "$work/$case.ndjson" > "$work/$case-sample.ndjson"
    MAPPING_BENCH_DUMP="$work/$case-swift.ndjson" "$scratch/release/MappingBenchmark" \
        "$fixtures/$case-devicecontent.json" "$fixtures/fhirmapping.json" "$work/$case-sample.ndjson" "$case" normalize > /dev/null
    .venv/bin/python Benchmarks/baseline_mapping.py "$case" "$work/$case-sample.ndjson" "$work/$case-python.ndjson" > /dev/null
    if ! cmp -s "$work/$case-swift.ndjson" "$work/$case-python.ndjson"; then
        echo "$case: the Observations differ from the baseline's (first difference: $(cmp "$work/$case-swift.ndjson" "$work/$case-python.ndjson" | head -1))" >&2
        exit 1
    fi
    python3 - "$swift_line" "$python_line" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for stage in ("convert", "serialize", "tree", "pipeline", "pipeline-general"):
    if s[stage]["observations"] != p["observations"] or s[stage]["failures"]:
        sys.exit(f"mismatch in {stage}: swift {s[stage]} python {p}")
if s["pipeline"]["bytes"] != s["pipeline-general"]["bytes"]:
    sys.exit("the pipeline wrote other resources with the plans than without them")
for stage in ("serialize", "tree"):
    if s[stage]["bytes"] != p["bytes"]:
        sys.exit(f"{stage} wrote {s[stage]['bytes']} bytes, python {p['bytes']}: the Observations differ")
python = p["messagesPerSecond"]
for stage in ("normalize", "convert", "serialize", "tree"):
    swift = s[stage]["messagesPerSecond"]
    full = stage in ("serialize", "tree")
    print(f'{s["case"]:<9} {stage:<10} {swift:>12} {python if full else "":>12} {f"{swift / python:.1f}x" if full else "":>8}')
plans, general = s["pipeline"]["messagesPerSecond"], s["pipeline-general"]["messagesPerSecond"]
print(f'{s["case"]:<9} {"pipeline":<10} {plans:>12} {"":>12} {"":>8}  the daemon\'s stage (batches of 100, Patients and Devices); without plans {general}: {plans / general:.2f}x')
print(f'{s["case"]:<9} peak RSS KiB: swift {s["peakRssKiB"]}, python {p["peakRssKiB"]}')
PY
done
