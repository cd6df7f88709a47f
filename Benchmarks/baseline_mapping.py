"""Python baseline for the mapping benchmark: the same extraction and FHIR conversion as the
gateway's templates in Benchmarks/fixtures, written with PyPI jmespath and jsonpath-ng.

Usage: baseline_mapping.py jsonpath|jmespath MESSAGES.ndjson [OUT.ndjson]
It does all three stages the Swift side measures (parse + normalize, convert with Create-mode
SHA-256 ids, serialize) and writes the same Observations byte for byte, so the byte counts match.
Prints one JSON line: {"case", "messages", "observations", "bytes", "seconds", "messagesPerSecond", "peakRssKiB"}.
With OUT, it also writes every Observation as one line there, for a byte-for-byte comparison
with the gateway's (scripts/bench-mapping.sh runs that on a smaller file, untimed).
"""
import hashlib
import json
import resource
import sys
import time
from datetime import datetime, timezone

import jmespath
from jmespath import functions
from jsonpath_ng import parse as jsonpath_parse

CONNECTOR = "https://azure.microsoft.com/en-us/services/iomt-fhir-connector/"


class MedTechFunctions(functions.Functions):
    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_add(self, a, b):
        return a + b

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_multiply(self, a, b):
        return a * b

    @functions.signature({"types": ["number"]}, {"types": ["number"]})
    def _func_divide(self, a, b):
        return a // b if isinstance(a, int) and isinstance(b, int) else a / b

    @functions.signature({"types": ["number"]})
    def _func_fromUnixTimestampMs(self, ms):
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat()


def iso(dt):
    return dt.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


ISSUED = "2025-11-27T08:00:00.000Z"  # the conversion time the Swift side writes too
_hashed_ids = {}


def hashed_id(system, value):
    return hashlib.sha256(f"{system}_{value}".encode()).hexdigest()


def create_mode_id(identifier):
    # Create mode: Patient and Device ids are SHA-256 of their identifiers; like the gateway,
    # remember the few devices and patients that send most messages.
    found = _hashed_ids.get(identifier)
    if found is None:
        found = _hashed_ids[identifier] = hashed_id("", identifier)
    return found


def concept(codes, name):
    return {"coding": [*codes, {"system": CONNECTOR, "code": name, "display": name}], "text": name}


def observation(type_name, device, patient, when, codes, value=None, components=()):
    patient_id, device_id = create_mode_id(patient), create_mode_id(device)
    # Single-window ids carry milliseconds, the gateway's default (ObservationIdPrecision.millisecond).
    stamp = when.strftime("%Y%m%d%H%M%S") + f"{when.microsecond // 1000:03d}Z"
    identifier = f"{patient_id}.{device_id}.{type_name}.{stamp}.{stamp}"
    # Member order as the gateway writes them, so that both sides print the same bytes.
    obs = {
        "resourceType": "Observation",
        "id": hashed_id(CONNECTOR, identifier),
        "identifier": [{"system": CONNECTOR, "value": identifier}],
        "status": "final",
        "code": concept(codes, type_name),
        "subject": {"reference": f"Patient/{patient_id}"},
        "effectivePeriod": {"start": iso(when), "end": iso(when)},
        "issued": ISSUED,
    }
    if value is not None:
        obs["valueQuantity"] = value
    obs["device"] = {"reference": f"Device/{device_id}"}
    if components:
        obs["component"] = list(components)
    return obs


def quantity(value, unit, code):
    # The value as the message carried it: an integer stays an integer, as FHIR decimals do.
    return {"value": value, "unit": unit, "system": "http://unitsofmeasure.org", "code": code}


def dumps(obs):
    return json.dumps(obs, separators=(",", ":"), ensure_ascii=False).encode()


def run_jsonpath(lines, sink):
    has_hr = jsonpath_parse("$.heartRate")
    device_expr = jsonpath_parse("$.deviceId")
    patient_expr = jsonpath_parse("$.patientId")
    time_expr = jsonpath_parse("$.measuredAt")
    hr_codes = [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]
    out = 0
    written = 0
    for line in lines:
        message = json.loads(line)
        if not has_hr.find(message):  # the template's type match: the message carries heartRate
            continue
        device = str(device_expr.find(message)[0].value)
        patient = str(patient_expr.find(message)[0].value)
        when = datetime.fromisoformat(time_expr.find(message)[0].value.replace("Z", "+00:00"))
        hr = has_hr.find(message)[0].value
        obs = observation("heartrate", device, patient, when, hr_codes, quantity(hr, "/min", "/min"))
        data = dumps(obs)
        written += len(data)
        if sink is not None:
            sink.append(data)
        out += 1
    return out, written


def run_jmespath(lines, sink):
    options = jmespath.Options(custom_functions=MedTechFunctions())
    match = jmespath.compile("Body[?systolic && diastolic]")
    device_expr = jmespath.compile("Body[0].deviceId")
    patient_expr = jmespath.compile("Body[0].patientId")
    time_expr = jmespath.compile("fromUnixTimestampMs(matchedToken.timeMs)")
    sys_expr = jmespath.compile("matchedToken.systolic")
    dia_expr = jmespath.compile("matchedToken.diastolic")
    map_expr = jmespath.compile("divide(add(matchedToken.systolic, multiply(matchedToken.diastolic, `2`)), `3`)")
    bp_codes = [{"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}]
    systolic_codes = [{"system": "http://loinc.org", "code": "8480-6", "display": "Systolic blood pressure"}]
    diastolic_codes = [{"system": "http://loinc.org", "code": "8462-4", "display": "Diastolic blood pressure"}]
    out = 0
    written = 0
    for line in lines:
        message = json.loads(line)
        for token in match.search(message, options) or []:
            context = dict(message)
            context["matchedToken"] = token
            device = str(device_expr.search(context, options))
            patient = str(patient_expr.search(context, options))
            when = datetime.fromisoformat(time_expr.search(context, options))
            systolic = sys_expr.search(context, options)
            diastolic = dia_expr.search(context, options)
            map_expr.search(context, options)  # normalized like the others, though the FHIR template has no use for it
            components = [
                {"code": concept(systolic_codes, "systolic"), "valueQuantity": quantity(systolic, "mmHg", "mm[Hg]")},
                {"code": concept(diastolic_codes, "diastolic"), "valueQuantity": quantity(diastolic, "mmHg", "mm[Hg]")},
            ]
            obs = observation("bloodpressure", device, patient, when, bp_codes, components=components)
            data = dumps(obs)
            written += len(data)
            if sink is not None:
                sink.append(data)
            out += 1
    return out, written


def main():
    case, path = sys.argv[1], sys.argv[2]
    sink = [] if len(sys.argv) > 3 else None
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    start = time.perf_counter()
    produced, written = run_jsonpath(lines, sink) if case == "jsonpath" else run_jmespath(lines, sink)
    seconds = time.perf_counter() - start
    if sink is not None:
        with open(sys.argv[3], "wb") as f:
            f.writelines(data + b"\n" for data in sink)
    print(json.dumps({
        "case": case, "messages": len(lines), "observations": produced, "bytes": written, "seconds": round(seconds, 4),
        "messagesPerSecond": round(len(lines) / seconds), "peakRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
