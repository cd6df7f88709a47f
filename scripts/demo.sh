#!/usr/bin/env bash
# The main job on its embedded default (SQLite, no server needed): builds fhir-edge, starts the gateway
# on the bundled demo configuration, pushes simulated vital signs from three monitors through the local
# ingest API, and shows what was buffered: queue statistics, Observations, the audit chain's verdict.
# Then it stops the gateway gracefully (SIGTERM). `scripts/demo.sh --keep-running` leaves it running
# until Ctrl-C. Data stays in .build/demo-data; the API listens on 127.0.0.1:${FHIR_EDGE_DEMO_PORT:-8088}.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
mkdir -p .build
if ! swift build -c release --product fhir-edge > .build/demo-build.log 2>&1; then
    grep -E "error" .build/demo-build.log | head -20 >&2
    echo "build failed; see .build/demo-build.log" >&2
    exit 1
fi
bin=.build/release/fhir-edge
data=.build/demo-data
port=${FHIR_EDGE_DEMO_PORT:-8088}
mkdir -p "$data"

echo "== fhir-edge demo on 127.0.0.1:$port (data in $data)"
"$bin" demo --data-dir "$data" --listen "127.0.0.1:$port" &
gateway=$!
trap 'kill -TERM $gateway 2>/dev/null; wait $gateway 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    kill -0 $gateway 2>/dev/null || { echo "the gateway did not start" >&2; exit 1; }
    sleep 0.1
done

echo "== simulating 3 monitors x 20 readings"
"$bin" simulate --url "http://127.0.0.1:$port" --devices 3 --count 20 --batch 5
sleep 1

echo "== queue stats"
"$bin" queue stats --data-dir "$data"
echo "== one buffered Observation"
"$bin" export --data-dir "$data" --format ndjson | grep -m1 '"resourceType":"Observation"' || true
echo "== audit chain"
"$bin" audit verify --data-dir "$data"

if [ "${1:-}" = "--keep-running" ]; then
    echo "== the gateway keeps running (Ctrl-C stops it): POST http://127.0.0.1:$port/ingest/demo-vitals"
    wait $gateway
fi
