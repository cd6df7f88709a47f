#!/usr/bin/env bash
# Ingest benchmark: durable ingest of N demo-vitals messages (default 100 000) in batches of 100,
#   http    POSTed to a running `fhir-edge run` (demo profile, loopback) by C concurrent keep-alive
#           clients (default 4), counting only 202s; the daemon maps concurrently, as in production;
#   store   through the in-process Store.append API, encrypted as the gateway runs it, from one
#           caller (one transaction per batch) and from C concurrent callers (group commit:
#           batches that arrive while another commits share the next transaction and its fsync);
#   sqlite  the baseline: the same rows into the same inbox table with the sqlite3 C API, one
#           transaction per batch of 100;
# all with WAL and synchronous = FULL, every batch acknowledged only after its commit. Prints
# messages/s, the ratios to the baseline, CPU time per accepted message (getrusage of the
# benchmark process; for HTTP the daemon's utime + stime from /proc/PID/stat during the run, and
# until the inbox is drained, mapping included), transactions per append, and the daemon's VmRSS.
# Goals (issue 19): in-process with group commit >= 1.0 x sqlite; HTTP >= 0.5 x sqlite.
# Usage: scripts/bench-ingest.sh [MESSAGES] [CLIENTS]   (BENCH_SCRATCH_PATH picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-100000}
clients=${2:-4}
source scripts/bench-common.sh
build_release fhir-edge IngestBenchmark
bin="$scratch/release"
daemon_scratch

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
start_daemon "$work/bench.yaml"
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
idle_rss=$(rss)
cpu_before=$(daemon_ticks)
http_line=$("$bin/IngestBenchmark" http "http://127.0.0.1:$port" "$count" "$clients")
cpu_after_run=$(daemon_ticks)
loaded_rss=$(rss)
# How long the mapping stage needs after the last 202 to empty the inbox.
drain_start=$(date +%s.%N)
for _ in $(seq 1 1200); do
    inbox=$("$bin/fhir-edge" queue stats --data-dir "$work/data" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["inbox"])')
    [[ "$inbox" == 0 ]] && break
    sleep 0.1
done
drain_seconds=$(python3 -c "import sys; print(round($(date +%s.%N) - $drain_start, 1))")
cpu_after_drain=$(daemon_ticks)
peak_rss=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
kill -TERM "$pid"
wait "$pid" || true
pid=""
mkdir -p "$work/store" "$work/sqlite"
mkdir -p "$work/store-serial"
store_serial_line=$("$bin/IngestBenchmark" store "$work/store-serial" "$count" 1)
store_line=$("$bin/IngestBenchmark" store "$work/store" "$count" "$clients")
sqlite_line=$("$bin/IngestBenchmark" sqlite "$work/sqlite" "$count")

python3 - "$http_line" "$store_serial_line" "$store_line" "$sqlite_line" "$idle_rss" "$loaded_rss" "$peak_rss" "$drain_seconds" "$(nproc)" \
    "$cpu_before" "$cpu_after_run" "$cpu_after_drain" "$(getconf CLK_TCK)" <<'PY'
import json, sys
http, serial, store, sqlite = (json.loads(a) for a in sys.argv[1:5])
idle, loaded, peak = (int(a) for a in sys.argv[5:8])
drain, cores = sys.argv[8], sys.argv[9]
before, after_run, after_drain, tick = (int(a) for a in sys.argv[10:14])
base = sqlite["messagesPerSecond"]
daemon_run = (after_run - before) / tick * 1e6 / http["messages"]
daemon_drained = (after_drain - before) / tick * 1e6 / http["messages"]
print(f"durable ingest, {sqlite['messages']} messages, batches of {sqlite['batch']}, WAL + synchronous=FULL, {cores} cores")
print(f"{'path':<36} {'msg/s':>10} {'vs sqlite':>10} {'seconds':>8} {'CPU µs/msg':>11} {'batches/commit':>15}")
def commits(r):
    return f"{r['appends'] / max(1, r['transactions']):.1f}" if "transactions" in r else "1.0" if r is sqlite else "-"
rows = (
    (f"http ({http['clients']} clients), daemon CPU", http, daemon_run),
    (f"in-process, {store['clients']} callers (group commit)", store, store["cpuMicrosecondsPerMessage"]),
    ("in-process, 1 caller", serial, serial["cpuMicrosecondsPerMessage"]),
    ("raw sqlite3 (baseline)", sqlite, sqlite["cpuMicrosecondsPerMessage"]),
)
for name, r, cpu in rows:
    print(f"{name:<36} {r['messagesPerSecond']:>10} {r['messagesPerSecond']/base:>9.2f}x {r['seconds']:>8} {cpu:>11.1f} {commits(r):>15}")
print(f"http: the daemon used {daemon_drained:.1f} µs CPU per message until its inbox was drained (mapping included), "
      f"the {http['clients']} clients {http['cpuMicrosecondsPerMessage']:.1f} µs")
print(f"daemon VmRSS: idle {idle/1024:.1f} MiB, after the run {loaded/1024:.1f} MiB, peak {peak/1024:.1f} MiB; inbox drained {drain} s after the last 202")
goals = [
    ("in-process (group commit) >= 1.0 x sqlite", store["messagesPerSecond"] >= base),
    ("HTTP >= 0.5 x sqlite", http["messagesPerSecond"] >= 0.5 * base),
]
print("goals: " + "; ".join(f"{g}: {'met' if ok else 'MISSED'}" for g, ok in goals))
PY
