"""Writes the benchmark's device messages as NDJSON, deterministically (seeded).

Usage: make_messages.py jsonpath|jmespath COUNT OUT.ndjson
"""
import json
import random
import sys

case, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rng = random.Random(20261127)
base_ms = 1_764_230_400_000  # 2025-11-27T08:00:00Z
with open(out, "w") as f:
    for i in range(count):
        device = f"device-{rng.randrange(50):03d}"
        patient = f"patient-{rng.randrange(50):03d}"
        ms = base_ms + i * 1000
        if case == "jsonpath":
            seconds, millis = divmod(ms, 1000)
            import datetime
            when = datetime.datetime.fromtimestamp(seconds, tz=datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"
            message = {"deviceId": device, "patientId": patient, "measuredAt": when,
                       "heartRate": rng.randrange(45, 140), "battery": rng.randrange(100)}
        else:
            message = {"Body": [{"deviceId": device, "patientId": patient, "timeMs": ms,
                                 "systolic": rng.randrange(90, 180), "diastolic": rng.randrange(50, 110)}],
                       "Properties": {"source": "bench"}}
        f.write(json.dumps(message, separators=(",", ":")) + "\n")
