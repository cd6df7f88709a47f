#!/usr/bin/env bash
# Upload benchmark: an outbox of demo-vitals Observations (mapped by the profile's templates,
# Create-mode ids) drained by the real Uploader and CurlTransport to sekmet-fhir on loopback, a
# fresh server per run (started and stopped by PID through scripts/with-fhir-server.sh):
#   single       one PUT per Observation: the baseline
#   batch        batch Bundles of 100 PUT entries
#   transaction  transaction Bundles of 100 PUT entries
# each over the same COMPARE Observations (default 2 000), then a backlog of COUNT Observations
# (default 100 000) in the fastest mode. Prints Observations/s, wall time, request bytes per
# Observation (counted at the transport) and the ratios to the baseline, the share of the time
# spent waiting in HTTP exchanges, and the CPU time of the gateway side (getrusage) and of the
# server process (/proc/PID/stat) during each drain, and says which side is the limit. Every run
# checks that the server holds exactly the Observations sent (_summary=count). Finally it times the
# store's outbox lease alone with COMPARE and with COUNT Observations pending (no server).
#
# Usage: scripts/bench-upload.sh [--count N] [--compare N]   (BENCH_SCRATCH_PATH picks the build folder)
set -euo pipefail
cd "$(dirname "$0")/.."
count=100000
compare=2000
while [ $# -gt 0 ]; do
    case "$1" in
        --count) count=$2; shift 2 ;;
        --compare) compare=$2; shift 2 ;;
        *) echo "usage: scripts/bench-upload.sh [--count N] [--compare N]" >&2; exit 2 ;;
    esac
done
source scripts/bench-common.sh
[ -x .venv/bin/sekmet ] || scripts/setup.sh
build_release UploadBenchmark
bench="$PWD/$scratch/release/UploadBenchmark"
echo "bench-upload: load average at start: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores" >&2
work=$(mktemp -d "${TMPDIR:-/tmp}/fhir-edge-bench-upload.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One drain against a fresh server: prints the benchmark's JSON line.
drain() {
    local mode=$1 observations=$2
    scripts/with-fhir-server.sh bash -c '"$0" --url "$FHIR_BASE_URL" --server-pid "$FHIR_PID" --store "$1" --mode "$2" --count "$3" --profile "$4"' \
        "$bench" "$work/$mode-$observations" "$mode" "$observations" "$PWD/device-profiles/demo-vitals" 2> "$work/$mode-$observations.log" \
        || { cat "$work/$mode-$observations.log" >&2; exit 1; }
}

results=()
for mode in single batch transaction; do
    echo "bench-upload: $mode, $compare Observations" >&2
    results+=("$(drain "$mode" "$compare")")
    echo "${results[-1]}" >&2
done
best=$(python3 -c 'import json, sys; print(max((json.loads(l) for l in sys.argv[1:]), key=lambda r: r["observationsPerSecond"])["mode"])' "${results[@]}")
echo "bench-upload: backlog of $count Observations, $best" >&2
backlog=$(drain "$best" "$count")
echo "$backlog" >&2
# The store alone: one lease of 100 with each backlog pending (no server).
echo "bench-upload: outbox lease with $compare and $count Observations pending" >&2
lease=$("$bench" --lease-cost "$compare,$count" --store "$work/lease" --profile "$PWD/device-profiles/demo-vitals")
echo "$lease" >&2

echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores (other processes compete for the CPUs)"
python3 - "$backlog" "${results[@]}" <<'PY'
import json, sys
backlog, runs = json.loads(sys.argv[1]), [json.loads(line) for line in sys.argv[2:]]
base = next(r for r in runs if r["mode"] == "single")
print(f'{"mode":<12} {"obs":>7} {"obs/s":>7} {"ratio":>6} {"wall s":>7} {"in HTTP":>7} {"req":>6} {"B/obs":>7} {"gw cpu s":>8} {"gw cores":>8} {"srv cpu s":>9} {"srv cores":>9} {"srv runq s":>10}')
def row(r, label, ratio=True):
    share = f'{r["observationsPerSecond"] / base["observationsPerSecond"]:.1f}x' if ratio else ""
    print(f'{label:<12} {r["observations"]:>7} {r["observationsPerSecond"]:>7} {share:>6} {r["seconds"]:>7} {r["exchangeSeconds"]:>7} {r["requests"]:>6} '
          f'{r["requestBytesPerObservation"]:>7} {r["gatewayCPUSeconds"]:>8} {r["gatewayCores"]:>8} '
          f'{r.get("serverCPUSeconds", "?"):>9} {r.get("serverCores", "?"):>9} {r.get("serverRunQueueSeconds", "?"):>10}')
for r in runs:
    row(r, r["mode"])
row(backlog, "backlog", ratio=False)
print(f'backlog: {backlog["observations"]} Observations ({backlog["mode"]}, {backlog["batchSize"]} per bundle) drained in '
      f'{backlog["seconds"]} s; the server holds {backlog["serverObservations"]}; outbox filled in {backlog["fillSeconds"]} s')
for r in runs + [backlog]:
    # Time inside HTTP exchanges is the server's (loopback: the network is negligible); the rest
    # is the gateway's own work between requests (leasing, settling and journaling in its store).
    # A process that ran or waited for a CPU for most of its share is CPU-bound, even when a
    # loaded machine gives it little CPU; otherwise it was blocked (I/O, commits).
    server_share = r["exchangeSeconds"] / r["seconds"]
    def side(share, seconds, ran, queued):
        if ran is None or queued is None or seconds <= 0:
            return f"{share:.0%} of the time"
        kind = "CPU-bound" if (ran + queued) / seconds >= 0.7 else "mostly blocked, not on CPU"
        return f"{share:.0%} of the time, {kind}: ran {ran} s, waited {queued} s for a CPU"
    server = side(server_share, r["exchangeSeconds"], r.get("serverCPUSeconds"), r.get("serverRunQueueSeconds"))
    gateway = side(1 - server_share, r["seconds"] - r["exchangeSeconds"], r["gatewayCPUSeconds"], r.get("gatewayRunQueueSeconds"))
    limit = "the server" if server_share >= 0.5 else "the gateway"
    print(f'{r["mode"]:<12} {r["observations"]:>7}: {limit} is the limit. server {server}; gateway {gateway}')
PY
python3 - "$lease" <<'PY'
import json, sys
cost = json.loads(sys.argv[1])
runs = ", ".join(f'{r["leaseMedianMs"]} ms with {r["pending"]} pending ({r["leases"]} leases, worst {r["leaseMaxMs"]} ms)' for r in cost["leaseCost"])
print(f'outbox lease of {cost["leaseCost"][0]["batchSize"]}, median: {runs}; ratio {cost.get("leaseRatio", "?")}')
PY
