#!/usr/bin/env bash
# The packaging test: builds the deb twice from one release build (the changelog's version and a
# higher one), installs the first into a fresh minimal Debian 12 made with debootstrap, and there
# (a chroot, no systemd running) checks what a clinic's installer would:
#   - apt resolves the package's Depends from the mirror and the binary starts without any Swift
#     toolchain (no library missing, none from a Swift runtime);
#   - the system user, a 0700 data directory and the configuration exist, and
#     `fhir-edge config check` (or `fhir-edge doctor`, where the binary has it) passes on it;
#   - the daemon runs on the packaged configuration, and the demo takes a reading with 202;
#   - the binary exports no symbols and carries no unwind tables, and with fhir-edge-dbgsym
#     installed gdb names its code from the symbol file it finds by the build id, and walks the
#     running daemon's threads through its frames by their frame pointers;
#   - an upgrade to the second build keeps the data and the new binary reads the old store;
#   - remove keeps the data, purge removes it.
# The base system is cached as .build-packaging/bookworm-minbase.tar (ignored); apt's downloads
# are kept in .build-packaging/apt-archives.
# Exit 0 pass, 1 fail, 77 skipped (with a SKIP line saying why: not root, or no Debian mirror).
# Usage: scripts/package-test.sh        FHIR_EDGE_PACKAGE_NO_BUILD=1 reuses the release build.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
work=.build-packaging
mkdir -p "$work"

skip() { echo "SKIP packaging test: $*"; exit 77; }
fail() { echo "FAIL packaging test: $*" >&2; exit 1; }
step() { echo "packaging: $*"; }

[ "$(id -u)" -eq 0 ] || skip "debootstrap and chroot need root"
command -v debootstrap >/dev/null || fail "debootstrap is missing; scripts/setup.sh installs it"

# The mirror this machine's apt uses (deb822 URIs or one-line sources), else deb.debian.org.
mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*debian\)\/*$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
[ -n "$mirror" ] || mirror=$(sed -n 's/^deb[[:space:]]\+\(http[^ ]*debian\)\/*[[:space:]]\+bookworm[[:space:]].*/\1/p' /etc/apt/sources.list 2>/dev/null | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
if ! curl -sfI -m 15 -o /dev/null "$mirror/dists/bookworm/Release"; then
    skip "the Debian mirror $mirror cannot be reached from this machine"
fi

# One release build, packaged as two versions.
base_version=$(sed -n '1s/^fhir-edge (\([^)]*\)).*/\1/p' packaging/deb/changelog)
next_version="$base_version+upgrade1"
export FHIR_EDGE_DEB_OUT=$work/deb
t0=$SECONDS
if [ "${FHIR_EDGE_PACKAGE_NO_BUILD:-0}" = 1 ]; then
    packaging/deb/build-deb.sh --no-build "$base_version"
else
    packaging/deb/build-deb.sh "$base_version"
fi
build_seconds=$((SECONDS - t0))
FHIR_EDGE_DEB_LINT=0 packaging/deb/build-deb.sh --no-build "$next_version" >/dev/null
arch=$(dpkg --print-architecture)
first=$work/deb/fhir-edge_${base_version}_${arch}.deb
second=$work/deb/fhir-edge_${next_version}_${arch}.deb
first_dbgsym=$work/deb/fhir-edge-dbgsym_${base_version}_${arch}.deb
second_dbgsym=$work/deb/fhir-edge-dbgsym_${next_version}_${arch}.deb

tarball=$work/bookworm-minbase.tar
t0=$SECONDS
if [ ! -f "$tarball" ]; then
    step "debootstrap bookworm (minbase) from $mirror"
    rm -rf "$work/bootstrap"
    debootstrap --variant=minbase bookworm "$work/bootstrap" "$mirror" > "$work/debootstrap.log" 2>&1 \
        || fail "debootstrap failed; see $work/debootstrap.log"
    tar -C "$work/bootstrap" -cf "$tarball.part" . && mv "$tarball.part" "$tarball"
    rm -rf "$work/bootstrap"
fi
debootstrap_seconds=$((SECONDS - t0))

root=$work/chroot
daemon_pid=
cleanup() {
    if [ -n "$daemon_pid" ]; then kill "$daemon_pid" 2>/dev/null || true; fi
    for mount in "$root/var/cache/apt/archives" "$root/proc"; do
        if mountpoint -q "$mount" 2>/dev/null; then umount "$mount"; fi
    done
}
trap cleanup EXIT
cleanup
# Never rm -rf through a mount that is still there.
if mountpoint -q "$root/proc" 2>/dev/null || mountpoint -q "$root/var/cache/apt/archives" 2>/dev/null; then
    fail "$root still has mounts"
fi
rm -rf "$root"
mkdir -p "$root" "$work/apt-archives/partial"
tar -C "$root" -xf "$tarball"
[ ! -e "$root/opt/swift" ] && ! ls "$root"/usr/lib/*/libswiftCore.so >/dev/null 2>&1 || fail "the base system has a Swift runtime"
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror bookworm main" > "$root/etc/apt/sources.list"
mount -t proc proc "$root/proc"
mount --bind "$work/apt-archives" "$root/var/cache/apt/archives"
in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive "$@"; }
cp "$first" "$second" "$first_dbgsym" "$second_dbgsym" "$root/tmp/"

t0=$SECONDS
step "install $(basename "$first") with apt (Depends from the mirror)"
in_root apt-get update -qq > "$work/apt.log" 2>&1 || fail "apt-get update in the chroot failed; see $work/apt.log"
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$first")" "/tmp/$(basename "$first_dbgsym")" \
    >> "$work/apt.log" 2>&1 || fail "installing the package failed; see $work/apt.log"
install_seconds=$((SECONDS - t0))

libraries=$(in_root ldd /usr/bin/fhir-edge)
if grep -q "not found" <<< "$libraries"; then fail "shared libraries missing: $(grep 'not found' <<< "$libraries")"; fi
if grep -qi "swift" <<< "$libraries"; then fail "the binary still loads a Swift runtime library: $libraries"; fi
in_root fhir-edge --help > /dev/null || fail "the packaged binary does not start"
[ "$(in_root getent passwd fhir-edge | cut -d: -f7)" = /usr/sbin/nologin ] || fail "no fhir-edge system user with a nologin shell"
[ "$(in_root stat -c '%a %U:%G' /var/lib/fhir-edge)" = "700 fhir-edge:fhir-edge" ] \
    || fail "/var/lib/fhir-edge is $(in_root stat -c '%a %U:%G' /var/lib/fhir-edge), not 700 fhir-edge:fhir-edge"
[ "$(in_root stat -c '%a %U:%G' /etc/fhir-edge/config.yaml)" = "640 root:fhir-edge" ] \
    || fail "/etc/fhir-edge/config.yaml is $(in_root stat -c '%a %U:%G' /etc/fhir-edge/config.yaml)"
grep -qx /etc/fhir-edge/config.yaml "$root/var/lib/dpkg/info/fhir-edge.conffiles" || fail "config.yaml is not a conffile"
[ -f "$root/usr/share/man/man1/fhir-edge.1.gz" ] || fail "no man page"

step "symbols: none exported, no unwind tables, named through fhir-edge-dbgsym"
exported=$(readelf --dyn-syms --wide "$root/usr/bin/fhir-edge" | awk '$7 != "UND" && $5 == "GLOBAL"' | wc -l)
[ "$exported" -lt 50 ] || fail "the binary exports $exported symbols (link-flags.sh links with --no-export-dynamic)"
build_id=$(readelf --notes "$root/usr/bin/fhir-edge" | sed -n 's/^ *Build ID: *\([0-9a-f]*\)$/\1/p')
debug_file=$root/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
[ -n "$build_id" ] && [ -f "$debug_file" ] || fail "fhir-edge-dbgsym has no symbol file for build id '$build_id'"
# A Swift function of the gateway's own, by its address in the stripped binary.
read -r address symbol < <(nm --defined-only "$debug_file" | awk '$2 ~ /^[tT]$/ && $3 ~ /^\$s9fhir_edge/ {print $1, $3; exit}')
[ -n "$address" ] || fail "the symbol file names no function of fhir-edge"
named=$(gdb -nx -batch -iex "set debug-file-directory $root/usr/lib/debug" -ex "info symbol 0x$address" "$root/usr/bin/fhir-edge" 2>&1)
grep -qF "$symbol in section .text" <<< "$named" || fail "gdb did not name 0x$address ($symbol) from the symbol file: $named"
unnamed=$(gdb -nx -batch -iex "set debug-file-directory /nonexistent" -ex "info symbol 0x$address" "$root/usr/bin/fhir-edge" 2>&1)
grep -q "No symbol matches" <<< "$unnamed" || fail "the stripped binary names 0x$address by itself: $unnamed"
readelf --segments --wide "$root/usr/bin/fhir-edge" | grep -q GNU_EH_FRAME \
    && fail "the binary carries unwind tables (link-flags.sh discards them with no-unwind-tables.ld)"
readelf --sections --wide "$root/usr/bin/fhir-edge" | grep -qE '\.eh_frame|\.gcc_except_table' \
    && fail "the binary carries an .eh_frame or .gcc_except_table section"

as_service() { in_root setpriv --reuid=fhir-edge --regid=fhir-edge --init-groups "$@"; }
# `fhir-edge doctor --help` exits 0 even without a doctor (the root help), so ask the command tree.
has_doctor=$(in_root fhir-edge --experimental-dump-help \
    | python3 -c 'import json,sys; print(any(c["commandName"] == "doctor" for c in json.load(sys.stdin)["command"]["subcommands"]))')
if [ "$has_doctor" = True ]; then
    step "fhir-edge doctor on the packaged configuration"
    as_service fhir-edge doctor --config /etc/fhir-edge/config.yaml || fail "doctor found problems on a fresh install"
else
    step "fhir-edge config check on the packaged configuration"
    as_service fhir-edge config check /etc/fhir-edge/config.yaml || fail "the packaged configuration does not pass config check"
fi

# Starts the packaged binary in the chroot as the service user with ARGS on 127.0.0.1:0 and waits
# for its `listening on` line; sets $port and $daemon_pid. Stopped with stop_daemon (SIGTERM).
start_daemon() {
    local out=$work/daemon.out
    : > "$out"
    # chroot, env and setpriv each exec the next, so $! is the daemon's own PID.
    chroot "$root" /usr/bin/env -i PATH=/usr/bin:/bin \
        setpriv --reuid=fhir-edge --regid=fhir-edge --init-groups /usr/bin/fhir-edge "$@" \
        --listen 127.0.0.1:0 > "$out" 2> "$work/daemon.err" < /dev/null &
    daemon_pid=$!
    port=
    for _ in $(seq 1 300); do
        port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$out")
        [ -n "$port" ] && return 0
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.1
    done
    fail "fhir-edge $* did not listen within 30 s: $(tail -5 "$work/daemon.err")"
}
stop_daemon() {
    kill -TERM "$daemon_pid"
    local status=0
    wait "$daemon_pid" || status=$?
    daemon_pid=
    [ "$status" -eq 0 ] || fail "the daemon exited $status after SIGTERM: $(tail -5 "$work/daemon.err")"
}
http_status() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@"; }
reading() {
    printf '{"deviceId":"monitor-1","patientId":"patient-1","measuredAt":"2026-11-27T08:00:%02dZ","heartRate":72,"spo2":97,"messageId":"package-%s"}' "$1" "$1"
}
received() {
    # As the service user: the command journals its access, and a root-owned WAL would lock the daemon out.
    as_service fhir-edge queue stats --data-dir /var/lib/fhir-edge/demo --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["received"])'
}

step "the daemon on /etc/fhir-edge/config.yaml"
start_daemon run --config /etc/fhir-edge/config.yaml
[ "$(http_status "http://127.0.0.1:$port/health")" = 200 ] || fail "GET /health on the packaged configuration did not answer 200"
# Without unwind tables a debugger walks the frames by their frame pointers: an event loop thread,
# waiting in epoll_wait (libc, whose tables gdb reads), must show the loop's function beneath it.
backtraces=$(gdb -nx -batch -iex "set sysroot $root" -iex "set debug-file-directory $root/usr/lib/debug" \
    -ex "thread apply all bt 20" "$root/usr/bin/fhir-edge" "$daemon_pid" 2>&1)
grep -qF 'NIOPosix19SelectableEventLoopC3run' <<< "$backtraces" \
    || fail "gdb's backtraces of the running daemon do not reach the event loop: $(grep -E '^#' <<< "$backtraces" | head -20)"
stop_daemon
[ -f "$root/var/lib/fhir-edge/fhir-edge.sqlite" ] || fail "the daemon made no store in /var/lib/fhir-edge"

step "demo ingest"
start_daemon demo --data-dir /var/lib/fhir-edge/demo
code=$(http_status -X POST -H 'content-type: application/json' --data "$(reading 1)" "http://127.0.0.1:$port/ingest/demo-vitals")
[ "$code" = 202 ] || fail "POST /ingest/demo-vitals answered $code, not 202"
stop_daemon
[ "$(received)" = 1 ] || fail "the demo store does not count the reading"

t0=$SECONDS
step "upgrade to $(basename "$second")"
in_root apt-get install -y -qq --no-install-recommends "/tmp/$(basename "$second")" "/tmp/$(basename "$second_dbgsym")" \
    >> "$work/apt.log" 2>&1 || fail "the upgrade failed; see $work/apt.log"
[ "$(in_root dpkg-query -W -f '${Version}' fhir-edge)" = "$next_version" ] || fail "the upgrade did not install $next_version"
[ "$(received)" = 1 ] || fail "the upgrade lost the demo store's reading"
[ -f "$root/var/lib/fhir-edge/fhir-edge.sqlite" ] || fail "the upgrade lost /var/lib/fhir-edge/fhir-edge.sqlite"
[ "$(in_root stat -c '%a %U:%G' /var/lib/fhir-edge)" = "700 fhir-edge:fhir-edge" ] || fail "the upgrade changed the data directory's mode or owner"
start_daemon demo --data-dir /var/lib/fhir-edge/demo
code=$(http_status -X POST -H 'content-type: application/json' --data "$(reading 2)" "http://127.0.0.1:$port/ingest/demo-vitals")
[ "$code" = 202 ] || fail "after the upgrade, POST /ingest/demo-vitals answered $code"
stop_daemon
[ "$(received)" = 2 ] || fail "the upgraded binary did not add to the previous store"
upgrade_seconds=$((SECONDS - t0))

step "remove keeps the data, purge removes it"
in_root dpkg --remove fhir-edge-dbgsym fhir-edge > /dev/null
[ -f "$root/var/lib/fhir-edge/fhir-edge.sqlite" ] || fail "remove (not purge) deleted the data"
[ -f "$root/etc/fhir-edge/config.yaml" ] || fail "remove (not purge) deleted the configuration"
in_root dpkg --purge fhir-edge > /dev/null
[ ! -e "$root/var/lib/fhir-edge" ] || fail "purge left /var/lib/fhir-edge"
[ ! -e "$root/etc/fhir-edge" ] || fail "purge left /etc/fhir-edge"

cleanup
trap - EXIT
rm -rf "$root"
echo "packaging: PASS ($(du -k "$first" | cut -f1) KiB deb; build ${build_seconds}s, debootstrap ${debootstrap_seconds}s," \
    "install ${install_seconds}s, upgrade ${upgrade_seconds}s, total $((SECONDS - started))s)"
