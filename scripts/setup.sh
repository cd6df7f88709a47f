#!/usr/bin/env bash
# Installs what building and testing fhir-edge needs on a fresh Debian machine:
# the C libraries behind the shim targets and a Python venv (.venv, ignored) for test peers and baselines.
# Safe to run repeatedly: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(libsqlite3-dev libcurl4-openssl-dev libmodbus-dev libmosquitto-dev libyaml-dev mosquitto libbluetooth-dev sqlite3 python3-venv socat systemd curl openssl gdb chromium chromium-driver debootstrap lintian)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi

requirements=scripts/requirements-test.txt
stamp=.venv/.requirements.sha256
want=$(sha256sum "$requirements" | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: preparing the Python test venv (.venv)"
    python3 -m venv .venv
    .venv/bin/pip install -q --disable-pip-version-check -r "$requirements"
    echo "$want" > "$stamp"
fi
