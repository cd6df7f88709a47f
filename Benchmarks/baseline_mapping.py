"""Python baseline for the mapping benchmark: the same extraction and FHIR conversion as the
gateway's templates in Benchmarks/fixtures, written with PyPI jmespath and jsonpath-ng.

Usage: baseline_mapping.py jsonpath|jmespath MESSAGES.ndjson
Prints one JSON line: {"case", "messages", "observations", "seconds", "messagesPerSecond", "peakRssKiB"}.
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


def observation(type_name, device, patient, when, code, value=None, components=()):
    stamp = when.strftime("%Y%m%d%H%M%SZ")
    identifier = f"{patient}.{device}.{type_name}.{stamp}.{stamp}"
    obs = {
        "resourceType": "Observation",
        "id": hashlib.sha256(f"{CONNECTOR}_{identifier}".encode()).hexdigest(),
        "identifier": [{"system": CONNECTOR, "value": identifier}],
        "status": "final",
        "code": {"coding": [code, {"system": CONNECTOR, "code": type_name, "display": type_name}], "text": type_name},
        "effectivePeriod": {"start": iso(when), "end": iso(when)},
    }
    if value is not None:
        obs["valueQuantity"] = value
    if components:
        obs["component"] = list(components)
    return obs


def quantity(value, unit, code):
    return {"value": float(value), "unit": unit, "system": "http://unitsofmeasure.org", "code": code}


def run_jsonpath(lines):
    has_hr = jsonpath_parse("$.heartRate")
    device_expr = jsonpath_parse("$.deviceId")
    patient_expr = jsonpath_parse("$.patientId")
    time_expr = jsonpath_parse("$.measuredAt")
    hr_code = {"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}
    out = 0
    for line in lines:
        message = json.loads(line)
        if not has_hr.find(message):  # the template's type match: the message carries heartRate
            continue
        device = str(device_expr.find(message)[0].value)
        patient = str(patient_expr.find(message)[0].value)
        when = datetime.fromisoformat(time_expr.find(message)[0].value.replace("Z", "+00:00"))
        hr = str(has_hr.find(message)[0].value)
        obs = observation("heartrate", device, patient, when, hr_code, quantity(hr, "/min", "/min"))
        json.dumps(obs)
        out += 1
    return out


def run_jmespath(lines):
    options = jmespath.Options(custom_functions=MedTechFunctions())
    match = jmespath.compile("Body[?systolic && diastolic]")
    device_expr = jmespath.compile("Body[0].deviceId")
    patient_expr = jmespath.compile("Body[0].patientId")
    time_expr = jmespath.compile("fromUnixTimestampMs(matchedToken.timeMs)")
    sys_expr = jmespath.compile("matchedToken.systolic")
    dia_expr = jmespath.compile("matchedToken.diastolic")
    map_expr = jmespath.compile("divide(add(matchedToken.systolic, multiply(matchedToken.diastolic, `2`)), `3`)")
    bp_code = {"system": "http://loinc.org", "code": "85354-9", "display": "Blood pressure panel"}
    out = 0
    for line in lines:
        message = json.loads(line)
        for token in match.search(message, options) or []:
            context = dict(message)
            context["matchedToken"] = token
            device = str(device_expr.search(context, options))
            patient = str(patient_expr.search(context, options))
            when = datetime.fromisoformat(time_expr.search(context, options))
            systolic = str(sys_expr.search(context, options))
            diastolic = str(dia_expr.search(context, options))
            map_expr.search(context, options)
            components = [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}], "text": "systolic"}, "valueQuantity": quantity(systolic, "mmHg", "mm[Hg]")},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}], "text": "diastolic"}, "valueQuantity": quantity(diastolic, "mmHg", "mm[Hg]")},
            ]
            obs = observation("bloodpressure", device, patient, when, bp_code, components=components)
            json.dumps(obs)
            out += 1
    return out


def main():
    case, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    start = time.perf_counter()
    produced = run_jsonpath(lines) if case == "jsonpath" else run_jmespath(lines)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "case": case, "messages": len(lines), "observations": produced, "seconds": round(seconds, 4),
        "messagesPerSecond": round(len(lines) / seconds), "peakRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
