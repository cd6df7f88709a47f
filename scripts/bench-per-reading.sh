#!/usr/bin/env bash
# Per reading on a small box: the daemon (`fhir-edge run`, demo profile, loopback) receives RATE
# readings/s (default 100), one reading per POST /ingest/demo-vitals on a keep-alive connection,
# for SECONDS (default 60) while it maps them and uploads the Observations to a local FHIR server
# (sekmet-fhir through scripts/with-fhir-server.sh; transaction Bundles of 100, its fastest mode).
# Prints the daemon's CPU time (utime + stime from /proc/PID/stat) per reading: gross (all the
# daemon did from the first reading until the last Observation was confirmed) and net of the idle
# daemon's CPU over the same time (measured first for IDLE seconds, default 10: the baseline); the
# share of one core it takes; its VmRSS at the end and its peak; and checks that the server holds
# an Observation for every reading.
#
# Usage: scripts/bench-per-reading.sh [RATE] [SECONDS] [IDLE]   (BENCH_SCRATCH_PATH picks the build folder;
#   BENCH_MAPPING_LINGER sets mapping.linger, default 100ms as shipped; 0s maps each reading at once)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${FHIR_BASE_URL:-}" ]; then exec scripts/with-fhir-server.sh "$0" "$@"; fi
rate=${1:-100}
seconds=${2:-60}
idle=${3:-10}
source scripts/bench-common.sh
build_release fhir-edge
bin="$scratch/release"
daemon_scratch

cat > "$work/bench.yaml" <<YAML
dataDir: data
demo: true
http:
  listen: 127.0.0.1:0
profiles:
  directory: $PWD/device-profiles
mapping:
  linger: ${BENCH_MAPPING_LINGER:-100ms}
upstream:
  url: $FHIR_BASE_URL
  bundle: transaction
  batchSize: 100
YAML
start_daemon "$work/bench.yaml"
sleep 2
idle_start=$(daemon_ticks)
sleep "$idle"
idle_end=$(daemon_ticks)

load_start=$(daemon_ticks)
load_wall_start=$(date +%s.%N)
python3 - "$port" "$rate" "$seconds" > "$work/load.json" <<'PY'
import http.client, json, sys, time
port, rate, seconds = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
total, accepted, statuses = rate * seconds, 0, {}
start = time.monotonic()
late = 0.0
for n in range(total):
    due = start + n / rate
    pause = due - time.monotonic()
    if pause > 0:
        time.sleep(pause)
    else:
        late = max(late, -pause)
    device = n % 10
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_795_000_000 + n // 10))
    body = json.dumps([{"deviceId": f"kit-{device}", "patientId": f"patient-{device}", "measuredAt": f"{stamp}Z",
                        "heartRate": 55 + n % 60}]).encode()
    connection.request("POST", "/ingest/demo-vitals", body=body, headers={"Content-Type": "application/json"})
    reply = connection.getresponse()
    reply.read()
    statuses[reply.status] = statuses.get(reply.status, 0) + 1
    accepted += reply.status == 202
print(json.dumps({"sent": total, "accepted": accepted, "statuses": statuses, "seconds": time.monotonic() - start, "maxLate": late}))
PY
# Until every reading is mapped and its Observation confirmed by the server (at most 120 s more).
drained=""
for _ in $(seq 1 1200); do
    stats=$("$bin/fhir-edge" queue stats --data-dir "$work/data" --json)
    if python3 -c 'import json,sys; s=json.loads(sys.argv[1]); sys.exit(0 if s["inbox"] == 0 and s["outboxPending"] == 0 else 1)' "$stats"; then
        drained=1; break
    fi
    sleep 0.1
done
load_end=$(daemon_ticks)
load_wall=$(python3 -c "import sys; print($(date +%s.%N) - $load_wall_start)")
rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
peak=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
observations=$(curl -sf "$FHIR_BASE_URL/Observation?_summary=count" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])')
kill -TERM "$pid"
wait "$pid" || true
pid=""
[[ -n "$drained" ]] || { echo "the daemon did not upload every reading within 120 s after the load" >&2; exit 1; }

python3 - "$(cat "$work/load.json")" "$stats" "$idle_start" "$idle_end" "$idle" "$load_start" "$load_end" "$load_wall" \
    "$(getconf CLK_TCK)" "$rss" "$peak" "$observations" "$(nproc)" <<'PY'
import json, sys
load, stats = json.loads(sys.argv[1]), json.loads(sys.argv[2])
idle_start, idle_end, idle_seconds, load_start, load_end = (int(a) for a in sys.argv[3:8])
wall, tick = float(sys.argv[8]), int(sys.argv[9])
rss, peak, observations, cores = (int(a) for a in sys.argv[10:14])
readings = load["accepted"]
idle_rate = (idle_end - idle_start) / tick / idle_seconds
cpu = (load_end - load_start) / tick
gross = cpu / readings * 1e6
net = (cpu - idle_rate * wall) / readings * 1e6
rate = readings / load["seconds"]
print(f"per reading: {readings} readings at {rate:.1f}/s for {load['seconds']:.0f} s, mapped and uploaded (transaction Bundles of 100) to sekmet-fhir, {cores} cores")
print(f"{'figure':<44} {'value':>12}")
print(f"{'daemon CPU per reading, gross':<44} {gross:>9.0f} µs")
print(f"{'daemon CPU per reading, net of idle':<44} {net:>9.0f} µs")
print(f"{'idle daemon CPU (baseline)':<44} {idle_rate * 1000:>9.1f} ms/s")
print(f"{'daemon CPU at this rate':<44} {cpu / wall * 100:>10.1f} % of one core")
print(f"{'VmRSS at the end / peak':<44} {rss / 1024:>6.1f} / {peak / 1024:.1f} MiB")
print(f"first reading to last Observation confirmed: {wall:.1f} s; the sender was at most {load['maxLate'] * 1000:.0f} ms behind its schedule")
problems = []
if readings != load["sent"]: problems.append(f"only {readings} of {load['sent']} readings accepted: {load['statuses']}")
if observations < readings: problems.append(f"the server holds {observations} Observations for {readings} readings")
if stats.get("deadLetters", 0): problems.append(f"{stats['deadLetters']} dead letters")
print("check: " + ("every reading became an Observation on the server" if not problems else "; ".join(problems)))
sys.exit(1 if problems else 0)
PY
