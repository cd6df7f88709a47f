#!/usr/bin/env bash
# Modbus polling benchmark against the project's own peer (Tests/peers/modbus_peer.py, pymodbus on
# loopback TCP), started and stopped by PID here:
#   plan-merged / plan-per-point   one 150-register device polled back to back with request
#                                  planning on and off: polls/s, requests/s, registers/s
#   fleet                          50 devices (one connection each) polled every second:
#                                  polls made vs expected, late polls, CPU cores, peak RSS
# The peer is Python: its own CPU bounds the back-to-back figures, so compare the two plan runs.
#
# Usage: scripts/bench-modbus.sh [--seconds N] [--devices N]   (BENCH_SCRATCH_PATH picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=20
devices=50
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds=$2; shift 2 ;;
        --devices) devices=$2; shift 2 ;;
        *) echo "usage: scripts/bench-modbus.sh [--seconds N] [--devices N]" >&2; exit 2 ;;
    esac
done
source scripts/bench-common.sh
[ -x .venv/bin/python ] || scripts/setup.sh
build_release ModbusBenchmark
work=$(mktemp -d "${TMPDIR:-/tmp}/fhir-edge-bench-modbus.XXXXXX")
.venv/bin/python Tests/peers/modbus_peer.py --port 0 --ready-file "$work/ready" --max-seconds 900 > "$work/peer.log" 2>&1 &
peer=$!
trap 'kill "$peer" 2>/dev/null; wait "$peer" 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [ -s "$work/ready" ] && break; sleep 0.1; done
[ -s "$work/ready" ] || { cat "$work/peer.log" >&2; exit 1; }
port=$(sed -n 's/.* port=\([0-9]*\).*/\1/p' "$work/ready")
"$scratch/release/ModbusBenchmark" --tcp "127.0.0.1:$port" --seconds "$seconds" --devices "$devices"
