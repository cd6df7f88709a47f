#!/usr/bin/env bash
# Footprint: builds fhir-edge as the Debian package does (release, --static-swift-stdlib, full
# RELRO) and strips a copy the same way, then runs it with the demo configuration
# (packaging/demo/config.yaml, a fresh data folder) and prints
#   binary       its size unstripped and stripped, the shared libraries it still needs, and the
#                largest contributors among the linked Swift libraries (symbols by library)
#   start-up     exec to READY=1 on $NOTIFY_SOCKET (sd_notify, as systemd sees it) and to the
#                first 200 from GET /health: the median of RUNS starts (default 5; the first one
#                creates the store and its key, the others reopen it)
#   idle memory  RSS and private memory (Private_Clean + Private_Dirty) from /proc/PID/smaps_rollup,
#                and how much of the RSS is file-backed (the binary's own pages), 3 s after ready;
#                also 0.3 s after ready, before the daemon hands its start-up pages back (the
#                baseline), after one GET /status and 20 s later
# against the goals of issue 19: <= 30 MB stripped, idle RSS <= 20 MB, private <= 8 MB, <= 200 ms.
#
# Usage: scripts/bench-footprint.sh [RUNS]   (BENCH_SCRATCH_PATH picks the build folder)
#   FHIR_EDGE_FOOTPRINT_BINARY=PATH  measures that binary instead of building one (e.g. a
#                                    variant built with other linker flags, for docs/benchmarks.md)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
source scripts/bench-common.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -n "${FHIR_EDGE_FOOTPRINT_BINARY:-}" ]; then
    binary=$FHIR_EDGE_FOOTPRINT_BINARY
else
    source packaging/deb/link-flags.sh
    flags=(-c release --scratch-path "$scratch" --product fhir-edge --static-swift-stdlib "${package_link_flags[@]}")
    if ! output=$(swift build "${flags[@]}" 2>&1); then
        echo "$output" | grep -E "error" >&2 || echo "$output" | tail -20 >&2
        exit 1
    fi
    binary=$(swift build "${flags[@]}" --show-bin-path)/fhir-edge
fi
# What packaging/deb/build-deb.sh does to the binary it ships.
cp "$binary" "$work/fhir-edge"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$work/fhir-edge"

python3 - "$binary" "$work/fhir-edge" "$work" "$runs" "$PWD" <<'PY'
import json, os, socket, statistics, subprocess, sys, time, urllib.request
unstripped, binary, work, runs, root = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
MB = 1_000_000

def config(data):
    # The demo configuration with its paths made absolute and a free port.
    text = open(os.path.join(root, "packaging/demo/config.yaml")).read()
    text = text.replace("dataDir: ../../.build/demo-data", f"dataDir: {data}")
    text = text.replace("directory: ../../device-profiles", f"directory: {root}/device-profiles")
    text = text.replace("listen: 127.0.0.1:8088", "listen: 127.0.0.1:0")
    path = os.path.join(work, "config.yaml")
    open(path, "w").write(text)
    return path

def start(path):
    notify_path = os.path.join(work, "notify.sock")
    if os.path.exists(notify_path): os.unlink(notify_path)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(notify_path)
    notify.settimeout(30)
    env = dict(os.environ, NOTIFY_SOCKET=notify_path)
    out = open(os.path.join(work, "daemon.out"), "w+")
    began = time.monotonic()
    process = subprocess.Popen([binary, "run", "--config", path], stdout=out, stderr=subprocess.DEVNULL, env=env)
    ready = None
    while ready is None:
        message = notify.recv(4096).decode()
        if "READY=1" in message: ready = time.monotonic() - began
    notify.close()
    port = None
    while port is None:
        out.seek(0)
        for line in out.read().splitlines():
            if line.startswith("listening on "): port = int(line.rsplit(":", 1)[1])
    healthy = None
    while healthy is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5) as reply:
                if reply.status == 200: healthy = time.monotonic() - began
        except OSError:
            time.sleep(0.002)
    return process, ready, healthy, port

def rollup(pid):
    values = {}
    for line in open(f"/proc/{pid}/smaps_rollup"):
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "kB": values[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return values

data = os.path.join(work, "data")
path = config(data)
readies, healths, memory = [], [], None
for run in range(runs):
    process, ready, healthy, port = start(path)
    readies.append(ready); healths.append(healthy)
    if run == runs - 1:
        # Right after ready (start-up's pages still resident), 3 s after (the binary's start-up
        # pages handed back after 1 s), after one GET /status, and after 20 s more of idling.
        time.sleep(0.3)
        at_ready = rollup(process.pid)
        time.sleep(2.7)
        memory = rollup(process.pid)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5) as reply:
            reply.read()
        time.sleep(0.5)
        after_status = rollup(process.pid)
        time.sleep(20)
        later = rollup(process.pid)
    process.terminate()
    process.wait(timeout=30)

libraries = [line.split()[0] for line in subprocess.run(["ldd", binary], capture_output=True, text=True).stdout.splitlines() if line.strip()]
size, stripped = os.path.getsize(unstripped), os.path.getsize(binary)
rss = memory["Rss"]
private = memory["Private_Clean"] + memory["Private_Dirty"]
anonymous = memory.get("Anonymous", 0)
print(f"footprint of fhir-edge (static Swift runtime, stripped as packaged), demo configuration, {os.cpu_count()} cores")
print(f"{'figure':<46} {'value':>12} {'goal':>10}")
rows = [
    ("binary, stripped", f"{stripped / MB:.1f} MB", "<= 30 MB", stripped <= 30 * MB),
    ("idle RSS", f"{rss / MB:.1f} MB", "<= 20 MB", rss <= 20 * MB),
    ("idle private (Private_Clean + Private_Dirty)", f"{private / MB:.1f} MB", "<= 8 MB", private <= 8 * MB),
    ("start-up to READY=1 (median)", f"{statistics.median(readies) * 1000:.0f} ms", "<= 200 ms", statistics.median(readies) <= 0.2),
]
for name, value, goal, _ in rows:
    print(f"{name:<46} {value:>12} {goal:>10}")
print(f"binary unstripped {size / MB:.1f} MB; shared libraries: {' '.join(os.path.basename(l) for l in libraries)}")
print(f"idle RSS: {anonymous / MB:.1f} MB anonymous, {(rss - anonymous) / MB:.1f} MB file-backed; "
      f"Private_Dirty {memory['Private_Dirty'] / MB:.1f} MB, Shared {(memory['Shared_Clean'] + memory['Shared_Dirty']) / MB:.1f} MB")
print(f"RSS over time: {at_ready['Rss'] / MB:.1f} MB 0.3 s after ready (start-up's pages still resident), "
      f"{rss / MB:.1f} MB at 3 s, {after_status['Rss'] / MB:.1f} MB after one GET /status, {later['Rss'] / MB:.1f} MB 20 s later")
print(f"start-up: READY=1 after {', '.join(f'{r * 1000:.0f}' for r in readies)} ms (first: new store and key); "
      f"/health 200 after {', '.join(f'{h * 1000:.0f}' for h in healths)} ms")
print("goals: " + "; ".join(f"{name}: {'met' if ok else 'MISSED'}" for name, _, _, ok in rows))
PY
