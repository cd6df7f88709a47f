#!/usr/bin/env bash
# Runs a command with a real FHIR R4 server (sekmet-fhir 0.1.1, from scripts/requirements-test.txt,
# in the project's ignored .venv) on a free loopback port, then stops the server by PID.
#   scripts/with-fhir-server.sh swift test --filter UpstreamEndToEnd
# The command sees FHIR_BASE_URL (http://127.0.0.1:PORT/fhir), FHIR_PORT, FHIR_HOME and FHIR_PID.
# FHIR_PORT picks the port (default: a free one); FHIR_HOME the data folder (default: a fresh temp
# folder, removed afterwards; reuse one to test persistence); SEKMET_SETTINGS extra settings.yaml
# lines, e.g. 'server_auth: {types: [bearer], tokens: [s3cret]}'.
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
[ -x .venv/bin/sekmet ] || scripts/setup.sh
python=.venv/bin/python
FHIR_PORT="${FHIR_PORT:-$($python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
remove_home=""
if [ -z "${FHIR_HOME:-}" ]; then
    FHIR_HOME="$(mktemp -d "${TMPDIR:-/tmp}/fhir-edge-sekmet.XXXXXX")"
    remove_home="$FHIR_HOME"
fi
mkdir -p "$FHIR_HOME"

# Loopback only, no simulator, no traffic log, strict structural validation.
cat > "$FHIR_HOME/settings.yaml" <<YAML
base_url: http://127.0.0.1:${FHIR_PORT}/fhir
host: 127.0.0.1
port: ${FHIR_PORT}
data_dir: ${FHIR_HOME}/data
log_inbound: false
simulator: {enabled: false}
validation: {inbound: strict}
${SEKMET_SETTINGS:-}
YAML

(cd "$FHIR_HOME" && exec "$root/.venv/bin/sekmet" serve -c "$FHIR_HOME/settings.yaml" > "$FHIR_HOME/server.log" 2>&1) &
FHIR_PID=$!
cleanup() {
    kill "$FHIR_PID" 2>/dev/null || true
    wait "$FHIR_PID" 2>/dev/null || true
    [ -z "$remove_home" ] || rm -rf "$remove_home"
}
trap cleanup EXIT

# Ready when the CapabilityStatement answers; at most 60 s.
ready=""
for _ in $(seq 1 120); do
    if curl -sf -o /dev/null "http://127.0.0.1:${FHIR_PORT}/fhir/metadata"; then ready=1; break; fi
    kill -0 "$FHIR_PID" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$ready" ]; then
    echo "with-fhir-server: sekmet did not become ready on 127.0.0.1:${FHIR_PORT}" >&2
    cat "$FHIR_HOME/server.log" >&2
    exit 1
fi
echo "with-fhir-server: sekmet ready at http://127.0.0.1:${FHIR_PORT}/fhir (pid $FHIR_PID)" >&2

export FHIR_BASE_URL="http://127.0.0.1:${FHIR_PORT}/fhir" FHIR_PORT FHIR_HOME FHIR_PID
"$@"
