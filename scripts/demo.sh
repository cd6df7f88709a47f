#!/usr/bin/env bash
# The main job on its embedded default: builds fhir-edge and maps the bundled demo messages with the
# demo-vitals profile's templates, printing measurements and FHIR Observations. No server needed.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product fhir-edge
profile=device-profiles/demo-vitals
exec .build/release/fhir-edge map \
    --device-template "$profile/devicecontent.json" \
    --fhir-template "$profile/fhirmapping.json" \
    "$profile/testcases/vitals-input.json"
