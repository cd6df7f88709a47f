#!/usr/bin/env bash
# Mapping benchmark: normalization + FHIR conversion of N device messages (default 100 000) with
# (a) a CalculatedContent JMESPath template and (b) a JsonPathContent template, against a Python
# baseline (PyPI jmespath and jsonpath-ng) doing the same extraction on the same messages.
# Prints messages/s for both, the ratio and peak RSS. Single-threaded on both sides.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
scripts/setup.sh
swift build -c release --product MappingBenchmark 2>&1 | grep -E "error|warning: [^']" && exit 1 || true
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fixtures=Benchmarks/fixtures
printf '%-10s %12s %12s %8s %14s %14s\n' case "swift msg/s" "python msg/s" ratio "swift RSS KiB" "python RSS KiB"
for case in jsonpath jmespath; do
    .venv/bin/python Benchmarks/make_messages.py "$case" "$count" "$work/$case.ndjson"
    swift_line=$(.build/release/MappingBenchmark "$fixtures/$case-devicecontent.json" "$fixtures/fhirmapping.json" "$work/$case.ndjson" "$case")
    python_line=$(.venv/bin/python Benchmarks/baseline_mapping.py "$case" "$work/$case.ndjson")
    python3 - "$swift_line" "$python_line" <<'PY'
import json, sys
s, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
if s["observations"] != p["observations"] or s["failures"]:
    sys.exit(f"mismatch: swift {s} python {p}")
print(f'{s["case"]:<10} {s["messagesPerSecond"]:>12} {p["messagesPerSecond"]:>12} {s["messagesPerSecond"]/p["messagesPerSecond"]:>7.1f}x {s["peakRssKiB"]:>14} {p["peakRssKiB"]:>14}')
PY
done
