#!/usr/bin/env bash
# The test command: sets up what is missing, builds, and runs every test (unit, conformance suites
# read in place from ../shared/conformance or $FHIR_EDGE_CONFORMANCE, and integration tests).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
export FHIR_EDGE_VENV="$PWD/.venv"
swift build --build-tests
swift test --skip-build 2>&1 | tee .build/test-output.txt
