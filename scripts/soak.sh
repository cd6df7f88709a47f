#!/usr/bin/env bash
# The kill soak: scripts/soak.sh [KILLS] (default 100). Builds the gateway, starts sekmet-fhir
# (scripts/with-fhir-server.sh), and runs scripts/soak.py with the venv's Python: HTTP ingest, the
# Modbus rig and the BLE rig feed the daemon while it uploads through the fault proxy, and it is
# SIGKILLed at seeded random moments KILLS times. Last line: `soak: PASS|FAIL, ...figures...`.
#   FHIR_EDGE_SOAK_SEED   the seed (default 20261206); a failure names it, rerun with it
#   SOAK_ARGS             more scripts/soak.py options, e.g. "--keep --max-run 4"
#   FHIR_EDGE_BIN         a built fhir-edge to use instead of building one
set -euo pipefail
cd "$(dirname "$0")/.."
kills=${1:-100}
[ -x .venv/bin/python ] || scripts/setup.sh
if [ -z "${FHIR_EDGE_BIN:-}" ]; then
    swift build --product fhir-edge >&2
    FHIR_EDGE_BIN="$(swift build --show-bin-path)/fhir-edge"
fi
# shellcheck disable=SC2086
exec scripts/with-fhir-server.sh .venv/bin/python scripts/soak.py "$kills" --binary "$FHIR_EDGE_BIN" ${SOAK_ARGS:-}
