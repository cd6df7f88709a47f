#!/usr/bin/env bash
# Bluetooth benchmark against the BLE rig (../shared/ble-rig, Bumble over TCP H4): the host stack
# with one device session per device, each notification decoded and written as a JSON device
# message. Two runs on a scenario of 20 heart-rate straps (written to .tmp/bench-bluetooth/):
#   20x1Hz   the issue's load: 20 connected devices notifying at 1 Hz: CPU and RSS;
#   20xmax   the rig notifying as fast as it can (--notify-interval-ms 1): notifications/s the stack
#            sustains, and CPU per notification. The rig (Python) saturates first: its CPU is shown.
# Usage: scripts/bench-bluetooth.sh [SECONDS]   (BENCH_SCRATCH_PATH picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-20}
source scripts/bench-common.sh
rig_dir=${FHIR_EDGE_BLE_RIG:-../shared/ble-rig}
python=${FHIR_EDGE_VENV:-.venv}/bin/python
[[ -f "$rig_dir/ble_rig.py" ]] || { echo "bench-bluetooth: $rig_dir/ble_rig.py not found" >&2; exit 1; }
[[ -x "$python" ]] || scripts/setup.sh
build_release BluetoothBenchmark
bench="$scratch/release/BluetoothBenchmark"
work=.tmp/bench-bluetooth
mkdir -p "$work"
scenario="$work/scenario-20-heart-rate.json"
"$python" - "$rig_dir/scenario.json" "$scenario" <<'PY'
import json, sys
scenario = json.load(open(sys.argv[1]))
strap = next(d for d in scenario["devices"] if d["id"] == "hr")
devices = []
for n in range(1, 21):
    device = json.loads(json.dumps(strap))
    device.update(id=f"hr{n:02d}", name=f"Rig HR {n:02d}", address=f"F0:00:00:00:20:{n:02X}")
    devices.append(device)
scenario.update(name="bench-20-heart-rate", devices=devices)
json.dump(scenario, open(sys.argv[2], "w"), indent=1)
PY

rig=""
cleanup() { [[ -z "$rig" ]] || { kill -TERM "$rig" 2>/dev/null || true; wait "$rig" 2>/dev/null || true; }; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

run() {
    local label=$1; shift
    rm -f "$work/rig.port"
    "$python" "$rig_dir/ble_rig.py" --port 0 --port-file "$work/rig.port" --max-runtime 600 --no-events \
        --scenario "$scenario" "$@" >"$work/rig.out" 2>"$work/rig.err" &
    rig=$!
    for _ in $(seq 1 300); do grep -q '^READY ' "$work/rig.out" 2>/dev/null && break; sleep 0.1; done
    grep -q '^READY ' "$work/rig.out" || { cat "$work/rig.err" >&2; echo "the rig did not start" >&2; exit 1; }
    local before start
    before=$(cpu_ticks "$rig"); start=$(date +%s.%N)
    "$bench" --transport "tcp:127.0.0.1:$(cat "$work/rig.port")" --scenario "$scenario" --seconds "$seconds" --label "$label"
    local ticks elapsed
    ticks=$(( $(cpu_ticks "$rig") - before )); elapsed=$(echo "$(date +%s.%N) - $start" | bc)
    echo "  rig (Python)      $(echo "scale=1; $ticks * 100 / $(getconf CLK_TCK) / $elapsed" | bc) % of one core over the run"
    echo "  rig HOST BUG lines $(grep -c 'HOST BUG' "$work/rig.err" || true)"
    kill -TERM "$rig"; wait "$rig" 2>/dev/null || true; rig=""
}

echo "BLE benchmark: $(nproc) cores, ${seconds} s windows, release build"
run 20x1Hz
run 20xmax --notify-interval-ms 1
