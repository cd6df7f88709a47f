#!/usr/bin/env bash
# Ingest benchmark: durable ingest of N demo-vitals messages (default 100 000) in batches of 100,
#   http    POSTed to a running `fhir-edge run` (demo profile, loopback) by C concurrent keep-alive
#           clients (default 4), counting only 202s; the daemon maps concurrently, as in production;
#   store   through the in-process Store.append API, encrypted as the gateway runs it;
#   sqlite  the baseline: the same rows into the same inbox table with the sqlite3 C API;
# all with WAL and synchronous = FULL, one transaction per batch of 100. Prints messages/s, the
# ratios to the baseline, and the daemon's VmRSS idle (after start) and loaded (after the run).
# Goals: 20 000 msg/s over HTTP on 2 cores; store >= 0.5 x sqlite; idle RSS < 30 MB.
# Usage: scripts/bench-ingest.sh [MESSAGES] [CLIENTS]   (BENCH_SCRATCH_PATH picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
clients=${2:-4}
source scripts/bench-common.sh
build_release fhir-edge IngestBenchmark
bin="$scratch/release"
work=$(mktemp -d)
pid=""
cleanup() {
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat > "$work/bench.yaml" <<YAML
dataDir: data
demo: true
http:
  listen: 127.0.0.1:0
  maxBodySize: 4MiB
store:
  maxBytes: 8GiB
profiles:
  directory: $PWD/device-profiles
YAML
"$bin/fhir-edge" run --config "$work/bench.yaml" >"$work/daemon.out" 2>"$work/daemon.log" &
pid=$!
port=""
for _ in $(seq 1 300); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/daemon.out" | head -1)
    [[ -n "$port" ]] && break
    sleep 0.1
done
[[ -n "$port" ]] || { cat "$work/daemon.log" >&2; echo "the daemon did not start" >&2; exit 1; }
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
idle_rss=$(rss)
http_line=$("$bin/IngestBenchmark" http "http://127.0.0.1:$port" "$count" "$clients")
loaded_rss=$(rss)
# How long the mapping stage needs after the last 202 to empty the inbox.
drain_start=$(date +%s.%N)
for _ in $(seq 1 1200); do
    inbox=$("$bin/fhir-edge" queue stats --data-dir "$work/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["inbox"])')
    [[ "$inbox" == 0 ]] && break
    sleep 0.1
done
drain_seconds=$(python3 -c "import sys; print(round($(date +%s.%N) - $drain_start, 1))")
peak_rss=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true
pid=""
mkdir -p "$work/store" "$work/sqlite"
store_line=$("$bin/IngestBenchmark" store "$work/store" "$count")
sqlite_line=$("$bin/IngestBenchmark" sqlite "$work/sqlite" "$count")

python3 - "$http_line" "$store_line" "$sqlite_line" "$idle_rss" "$loaded_rss" "$peak_rss" "$drain_seconds" "$(nproc)" <<'PY'
import json, sys
http, store, sqlite = (json.loads(a) for a in sys.argv[1:4])
idle, loaded, peak = (int(a) for a in sys.argv[4:7])
drain, cores = sys.argv[7], sys.argv[8]
base = sqlite["messagesPerSecond"]
print(f"durable ingest, {sqlite['messages']} messages, batches of {sqlite['batch']}, WAL + synchronous=FULL, {cores} cores")
print(f"{'path':<28} {'msg/s':>10} {'vs sqlite':>10} {'seconds':>8}")
for name, r in ((f"http ({http['clients']} clients)", http), ("in-process Store.append", store), ("raw sqlite3 (baseline)", sqlite)):
    print(f"{name:<28} {r['messagesPerSecond']:>10} {r['messagesPerSecond']/base:>9.2f}x {r['seconds']:>8}")
print(f"daemon VmRSS: idle {idle/1024:.1f} MiB, after the run {loaded/1024:.1f} MiB, peak {peak/1024:.1f} MiB; inbox drained {drain} s after the last 202")
goals = [
    ("HTTP >= 20 000 msg/s", http["messagesPerSecond"] >= 20000),
    ("in-process >= 0.5 x sqlite", store["messagesPerSecond"] >= 0.5 * base),
    ("idle RSS < 30 MB", idle * 1024 < 30_000_000),
]
print("goals: " + "; ".join(f"{g}: {'met' if ok else 'MISSED'}" for g, ok in goals))
PY
