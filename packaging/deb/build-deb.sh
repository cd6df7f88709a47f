#!/usr/bin/env bash
# Builds fhir-edge_<version>_<arch>.deb from a release build, for a Debian machine that has never
# seen a Swift toolchain: the Swift runtime and FoundationEssentials are linked into the binary
# (--static-swift-stdlib), and Depends lists only what the stripped binary's shared libraries need
# (dpkg-shlibdeps). The package carries the systemd unit and its drop-ins, the device profiles, the
# demo, /etc/fhir-edge/config.yaml (a conffile that `fhir-edge config check` accepts), a DEP-5
# copyright file naming every statically linked package, a changelog and a man page generated
# from the binary's own command definitions. Beside it, fhir-edge-dbgsym_<version>_<arch>.deb holds
# the binary's symbols and debug information, for reading a core dump.
#
# Usage: packaging/deb/build-deb.sh [--no-build] [VERSION]
#   --no-build   package the release binary already built (the packaging test builds once and
#                packages two versions of it)
#   VERSION      default: the top entry of packaging/deb/changelog; another version gets a
#                changelog entry of its own
#   FHIR_EDGE_DEB_OUT   output folder (default .build/deb)
#
# arm64: build on an arm64 Debian 12 machine (or container) with the same command; the
# architecture comes from dpkg --print-architecture and the dependencies from that binary.
# Cross-building from amd64 needs a Swift SDK for aarch64-unknown-linux-gnu
# (`swift build --swift-sdk aarch64-unknown-linux-gnu ...`) and dpkg-shlibdeps run against an
# arm64 sysroot, which this recipe does not do.
#
# lintian (run at the end when installed) reports 0 errors and 0 warnings, with no overrides: the
# C libraries the binary uses from Debian (libyaml, libcurl, libmodbus, ...) are linked dynamically.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=packaging/deb

build=1
if [ "${1:-}" = --no-build ]; then build=0; shift; fi
changelog_version=$(sed -n '1s/^fhir-edge (\([^)]*\)).*/\1/p' "$here/changelog")
version=${1:-$changelog_version}
arch=$(dpkg --print-architecture)
out=${FHIR_EDGE_DEB_OUT:-.build/deb}

# The link: lld, full RELRO, packed relative relocations and the functions' order (link-flags.sh).
source "$here/link-flags.sh"
swift_flags=(-c release --product fhir-edge --static-swift-stdlib "${package_link_flags[@]}")
# FHIR_EDGE_DEB_OPTIMIZE=0: the release configuration (static runtime, dead stripping) without the
# optimizer, for the packaging test, which checks the package and not the code's speed, and would
# otherwise spend most of its time optimizing. Never for a deb that ships.
if [ "${FHIR_EDGE_DEB_OPTIMIZE:-1}" = 0 ]; then swift_flags+=(-Xswiftc -Onone); fi
if ((build)); then
    swift build "${swift_flags[@]}"
fi
bin_dir=$(swift build "${swift_flags[@]}" --show-bin-path)
binary=$bin_dir/fhir-edge
[ -x "$binary" ] || { echo "build-deb: no release binary at $binary; run without --no-build" >&2; exit 1; }

root=$out/fhir-edge_${version}_${arch}
rm -rf "$root" "$root.deb"
mkdir -p "$root/DEBIAN"

# One Foundation-only type anywhere in the link (NSString, Thread, Process, a dependency's
# DateFormatter) brings all of Foundation and its 34 MB ICU table back (docs/benchmarks.md): refuse it.
if carried=$(nm --defined-only "$binary" | grep -m1 -E 'icudt[0-9]+_dat|\$s10Foundation'); then
    echo "build-deb: the binary links Foundation or ICU again ($carried); find the module that uses a Foundation-only type" >&2
    exit 1
fi
install -D -m 0755 "$binary" "$root/usr/bin/fhir-edge"
# What dh_strip does: no symbols, no compiler comment or notes. The binary exports no symbols
# (link-flags.sh), so its functions' names go to the -dbgsym package, found by the build id.
build_id=$(readelf --notes "$binary" | sed -n 's/^ *Build ID: *\([0-9a-f]\{8,\}\)$/\1/p')
[ -n "$build_id" ] || { echo "build-deb: the binary has no build id (link-flags.sh passes --build-id)" >&2; exit 1; }
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/fhir-edge"

install -D -m 0644 packaging/systemd/fhir-edge.service "$root/lib/systemd/system/fhir-edge.service"
for dropin in bluetooth serial; do
    install -D -m 0644 "packaging/systemd/$dropin.conf" "$root/usr/share/fhir-edge/systemd/$dropin.conf"
done
cp -r device-profiles "$root/usr/share/fhir-edge/device-profiles"
cp -r packaging/demo "$root/usr/share/fhir-edge/demo"
install -D -m 0644 "$here/config.yaml" "$root/etc/fhir-edge/config.yaml"
echo /etc/fhir-edge/config.yaml > "$root/DEBIAN/conffiles"

doc=$root/usr/share/doc/fhir-edge
install -D -m 0644 README.md "$doc/README.md"
for page in docs/*.md; do install -D -m 0644 "$page" "$doc/$(basename "$page")"; done

# The changelog, with an entry for a version the file does not have yet (a local or test build).
changelog=$(mktemp)
trap 'rm -f "$changelog"' EXIT
if [ "$version" != "$changelog_version" ]; then
    {
        echo "fhir-edge ($version) unstable; urgency=medium"
        echo
        echo "  * Built from the source tree as version $version."
        echo
        echo " -- fhir-edge maintainers <maintainers@fhir-edge.invalid>  $(date -R -u)"
        echo
    } > "$changelog"
fi
cat "$here/changelog" >> "$changelog"
gzip -9n < "$changelog" > "$doc/changelog.gz"
changelog_date=$(sed -n 's/^ -- .*>  \(.*\)$/\1/p' "$changelog" | head -1)

python3 "$here/copyright.py" . "$bin_dir/fhir-edge.product/Objects.LinkFileList" \
    "$(dirname "$(command -v swift)")/../share/swift/LICENSE.txt" > "$doc/copyright"

# The man page from ArgumentParser's description of every command, so it cannot drift from the CLI.
dump=$(mktemp)
"$root/usr/bin/fhir-edge" --experimental-dump-help > "$dump"
python3 "$here/manpage.py" "$dump" "$version" "$(date -u -d "$changelog_date" +%Y-%m-%d)" \
    | gzip -9n > "$(install -d "$root/usr/share/man/man1" && echo "$root/usr/share/man/man1/fhir-edge.1.gz")"
rm -f "$dump"

for script in postinst prerm postrm; do install -m 0755 "$here/$script" "$root/DEBIAN/$script"; done

# Everything in the tree as dpkg expects it, whatever the checkout's umask was.
find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
find "$root/usr/share" "$root/etc" "$root/lib" -type f -exec chmod 0644 {} +

# Depends from the binary's real shared libraries (libc, libcurl, libsqlite3, libmodbus, libyaml, libstdc++, ...).
shlibs=$(mktemp -d)
mkdir -p "$shlibs/debian"
printf 'Source: fhir-edge\n\nPackage: fhir-edge\nArchitecture: any\n' > "$shlibs/debian/control"
depends=$(cd "$shlibs" && dpkg-shlibdeps -O -e"$OLDPWD/$root/usr/bin/fhir-edge" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shlibs"
[ -n "$depends" ] || { echo "build-deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }

cat > "$root/DEBIAN/control" <<CONTROL
Package: fhir-edge
Version: $version
Architecture: $arch
Maintainer: fhir-edge maintainers <maintainers@fhir-edge.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$root" | cut -f1)
Depends: adduser, $depends
Section: net
Priority: optional
Description: edge gateway from medical devices to FHIR R4
 Reads BLE and Modbus sensors and device-pushed JSON, maps readings to FHIR R4
 Observations with MedTech templates, buffers them durably and encrypted in
 SQLite and syncs them exactly once to an upstream FHIR server, with a keyed
 tamper-evident audit journal.
CONTROL

dpkg-deb --root-owner-group -Zxz --build "$root" "$root.deb" >/dev/null
echo "built $root.deb ($(du -k "$root.deb" | cut -f1) KiB; binary $(du -k "$root/usr/bin/fhir-edge" | cut -f1) KiB)"

# fhir-edge-dbgsym, as debhelper's dh_strip makes it: the binary's symbol table and its DWARF
# (compressed) in /usr/lib/debug/.build-id/, where gdb, elfutils and systemd-coredump look them
# up by the build id, so a core dump's frames get names, files and lines on a box that installs
# it. Nothing in it is needed to run.
dbgsym=$out/fhir-edge-dbgsym_${version}_${arch}
rm -rf "$dbgsym" "$dbgsym.deb"
debug_file=$dbgsym/usr/lib/debug/.build-id/${build_id:0:2}/${build_id:2}.debug
mkdir -p "$(dirname "$debug_file")" "$dbgsym/DEBIAN" "$dbgsym/usr/share/doc"
objcopy --only-keep-debug --compress-debug-sections=zlib --remove-section=.comment "$binary" "$debug_file"
chmod 0644 "$debug_file"
ln -s fhir-edge "$dbgsym/usr/share/doc/fhir-edge-dbgsym"
find "$dbgsym" -path "$dbgsym/DEBIAN" -prune -o -type d -exec chmod 0755 {} +
cat > "$dbgsym/DEBIAN/control" <<CONTROL
Package: fhir-edge-dbgsym
Source: fhir-edge
Version: $version
Auto-Built-Package: debug-symbols
Architecture: $arch
Maintainer: fhir-edge maintainers <maintainers@fhir-edge.invalid>
Installed-Size: $(du -sk --exclude=DEBIAN "$dbgsym" | cut -f1)
Depends: fhir-edge (= $version)
Section: debug
Priority: optional
Description: debug symbols for fhir-edge
Build-Ids: $build_id
CONTROL
dpkg-deb --root-owner-group -Zxz --build "$dbgsym" "$dbgsym.deb" >/dev/null
echo "built $dbgsym.deb ($(du -k "$dbgsym.deb" | cut -f1) KiB; build id $build_id)"

# FHIR_EDGE_DEB_LINT=0 skips it (the packaging test lints the first of its two builds only).
if [ "${FHIR_EDGE_DEB_LINT:-1}" != 0 ] && command -v lintian >/dev/null; then
    lintian --fail-on error,warning "$root.deb" "$dbgsym.deb"
    echo "lintian: no errors, no warnings"
fi
