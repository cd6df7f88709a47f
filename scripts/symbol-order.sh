#!/usr/bin/env bash
# Regenerates packaging/deb/symbol-order.txt: the functions of fhir-edge that the idle daemon and
# its status, health and metrics pages run. The package's link puts them together at the start of
# .text (lld --symbol-ordering-file, with every function in a section of its own), so that once
# start-up's pages are handed back (EdgeSystem.StartupPages) the code the daemon goes on using is
# about one contiguous megabyte instead of pages spread over 24 MB, each bringing 64 KB with it
# (the kernel's fault-around).
#
# Runs the package's static build (debug info stripped, which valgrind cannot read; the symbol
# table kept) under valgrind's callgrind with the demo profiles: counters zeroed 3 s after the API
# listens, IDLE seconds of idling (default 15), then GET /status, /health, /metrics and /status
# again; the binary's functions that ran, by symbol name, sorted.
#
# A maintenance tool, not part of the tests; needs valgrind (apt). Rerun it when the idle or status
# code paths change much: the link ignores names that no longer exist, and new functions are
# simply laid out after the listed ones.
# Usage: scripts/symbol-order.sh [IDLE]   (BENCH_SCRATCH_PATH picks the build folder, default .build-static)
set -euo pipefail
cd "$(dirname "$0")/.."
idle=${1:-15}
command -v valgrind >/dev/null || { echo "symbol-order: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
scratch=${BENCH_SCRATCH_PATH:-.build-static}
source packaging/deb/link-flags.sh
flags=(-c release --scratch-path "$scratch" --product fhir-edge --static-swift-stdlib "${package_link_flags[@]}")
swift build "${flags[@]}" >/dev/null
work=$(mktemp -d)
pid=""
trap 'if [[ -n "$pid" ]]; then kill -KILL "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
strip --strip-debug -o "$work/fhir-edge" "$(swift build "${flags[@]}" --show-bin-path)/fhir-edge"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat > "$work/config.yaml" <<YAML
dataDir: $work/data
demo: true
http:
  listen: 127.0.0.1:$port
profiles:
  directory: $PWD/device-profiles
YAML
valgrind --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$work/callgrind.out" \
    "$work/fhir-edge" run --config "$work/config.yaml" >"$work/daemon.out" 2>"$work/valgrind.log" &
pid=$!
for _ in $(seq 1 300); do
    grep -q "^listening on" "$work/daemon.out" 2>/dev/null && break
    sleep 0.5
done
grep -q "^listening on" "$work/daemon.out" || { tail -5 "$work/valgrind.log" >&2; echo "symbol-order: the daemon did not start" >&2; exit 1; }
sleep 3
callgrind_control --zero "$pid" >/dev/null
sleep "$idle"
for page in status health metrics status; do
    curl -s -o /dev/null --max-time 60 "http://127.0.0.1:$port/$page"
done
sleep 2
callgrind_control --dump "$pid" >/dev/null
kill -TERM "$pid"
wait "$pid" || true
pid=""
# callgrind names each function once ("fn=(id) name") and refers to it by id afterwards; the object
# a function belongs to is the last "ob=" (or, for a callee, "cob=") before it.
python3 - "$work/callgrind.out.1" "$work/fhir-edge" > packaging/deb/symbol-order.txt <<'PY'
import re, sys
path, binary = sys.argv[1], sys.argv[2]
names, objects, ran = {}, {}, set()
current_object = callee_object = None
for line in open(path):
    line = line.strip()
    match = re.match(r"(ob|cob|fn|cfn)=\((\d+)\)\s*(.*)", line)
    if not match:
        continue
    key, number, name = match.groups()
    if key in ("ob", "cob"):
        if name:
            objects[number] = name
        if key == "ob":
            current_object = objects.get(number)
        else:
            callee_object = objects.get(number)
        continue
    if name:
        names[number] = name
    owner = current_object if key == "fn" else (callee_object or current_object)
    if key == "fn":
        callee_object = None
    if owner == binary:
        ran.add(number)
# A function entered recursively is named "name'2"; addresses stand for code without a symbol.
symbols = {names[n].split("'")[0] for n in ran if n in names and not names[n].startswith("0x")}
print("\n".join(sorted(symbols)))
PY
echo "symbol-order: $(wc -l < packaging/deb/symbol-order.txt) functions in packaging/deb/symbol-order.txt"
