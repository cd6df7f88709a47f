#!/usr/bin/env bash
# Builds fhir-edge_<version>_<arch>.deb from a release build: one binary, the systemd unit,
# the bundled device profiles and an example configuration.
# Usage: packaging/deb/build-deb.sh [VERSION]   (output in .build/deb/)
set -euo pipefail
cd "$(dirname "$0")/../.."
version=${1:-0.1.0}
arch=$(dpkg --print-architecture)
swift build -c release --product fhir-edge
root=.build/deb/fhir-edge_${version}_${arch}
rm -rf "$root"
install -D -m 0755 .build/release/fhir-edge "$root/usr/bin/fhir-edge"
strip "$root/usr/bin/fhir-edge"
install -D -m 0644 packaging/systemd/fhir-edge.service "$root/lib/systemd/system/fhir-edge.service"
for dropin in bluetooth serial; do
    install -D -m 0644 "packaging/systemd/$dropin.conf" "$root/usr/share/fhir-edge/systemd/$dropin.conf"
done
mkdir -p "$root/usr/share/fhir-edge"
cp -r device-profiles "$root/usr/share/fhir-edge/device-profiles"
[ -d packaging/demo ] && cp -r packaging/demo "$root/usr/share/fhir-edge/demo"
install -D -m 0644 README.md "$root/usr/share/doc/fhir-edge/README.md"
if [ -f packaging/config.example.yaml ]; then
    install -D -m 0640 packaging/config.example.yaml "$root/etc/fhir-edge/config.yaml"
    echo /etc/fhir-edge/config.yaml > "$root/DEBIAN.conffiles"
fi
mkdir -p "$root/DEBIAN"
[ -f "$root/DEBIAN.conffiles" ] && mv "$root/DEBIAN.conffiles" "$root/DEBIAN/conffiles"
cat > "$root/DEBIAN/control" <<CONTROL
Package: fhir-edge
Version: $version
Architecture: $arch
Maintainer: fhir-edge maintainers <maintainers@fhir-edge.invalid>
Depends: libsqlite3-0, libcurl4, libmodbus5
Section: net
Priority: optional
Description: Edge gateway from medical devices to FHIR R4
 Reads BLE and Modbus sensors and device-pushed JSON, maps readings to FHIR R4
 Observations with MedTech templates, buffers them durably in SQLite and syncs
 them to an upstream FHIR server.
CONTROL
cat > "$root/DEBIAN/postinst" <<'POSTINST'
#!/bin/sh
set -e
if [ "$1" = configure ]; then
    getent passwd fhir-edge >/dev/null || adduser --system --group --home /var/lib/fhir-edge --no-create-home fhir-edge
    [ -f /etc/fhir-edge/config.yaml ] && chgrp fhir-edge /etc/fhir-edge/config.yaml || true
    if [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
fi
POSTINST
chmod 0755 "$root/DEBIAN/postinst"
dpkg-deb --root-owner-group --build "$root" >/dev/null
echo "built $root.deb"
