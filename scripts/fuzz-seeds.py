#!/usr/bin/env python3
"""Writes the fuzz targets' seed inputs into OUT/<target>/, from the conformance data (read in place,
never copied into the repository) and the repository's device profiles."""
import glob
import hashlib
import json
import os
import sys

out, conformance, repo = sys.argv[1], sys.argv[2], sys.argv[3]


def seed(target, data):
    if isinstance(data, str):
        data = data.encode("utf-8")
    folder = os.path.join(out, target)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, hashlib.sha1(data).hexdigest()), "wb") as f:
        f.write(data)


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def dumps(value):
    return json.dumps(value, ensure_ascii=False)


profiles = sorted(glob.glob(os.path.join(repo, "device-profiles", "*", "*.json")))
testcases = sorted(glob.glob(os.path.join(repo, "device-profiles", "*", "testcases", "*.json")))
iomt = sorted(glob.glob(os.path.join(conformance, "iomt", "cases", "*", "*.json")))

# JSON: every JSON file at hand, as written (templates are the lenient mode's input).
for path in profiles + testcases + iomt + sorted(glob.glob(os.path.join(conformance, "iomt", "vectors", "*.json"))):
    with open(path, "rb") as f:
        seed("FuzzJSON", f.read())

# JSONPath: the RFC 9535 compliance suite and the Json.NET cases, selector + newline + document.
for path in [os.path.join(conformance, "jsonpath", "cts.json")] + sorted(glob.glob(os.path.join(conformance, "jsonpath", "tests", "*.json"))):
    suite = load(path) or {}
    for test in suite.get("tests", []) if isinstance(suite, dict) else suite:
        if isinstance(test, dict) and "selector" in test:
            document = test.get("document")
            seed("FuzzJSONPath", test["selector"] + ("\n" + dumps(document) if document is not None else ""))

# JMESPath: the jmespath.py compliance suite, expression + newline + given document.
for path in sorted(glob.glob(os.path.join(conformance, "jmespath", "tests", "*.json"))):
    for group in load(path) or []:
        given = dumps(group.get("given"))
        for case in group.get("cases", []):
            if "expression" in case:
                seed("FuzzJMESPath", case["expression"] + "\n" + given)


# Templates and messages: device-content and FHIR templates, device messages (one per file and each
# element of an array of messages). Their expressions seed the query targets too.
def expressions(value):
    if isinstance(value, dict):
        for key, item in value.items():
            if key.endswith("Expression") or key in ("valueExpression", "value"):
                if isinstance(item, str):
                    yield item, None
                elif isinstance(item, dict) and isinstance(item.get("value"), str):
                    yield item["value"], item.get("language")
            yield from expressions(item)
    elif isinstance(value, list):
        for item in value:
            yield from expressions(item)


for path in profiles + testcases + iomt:
    with open(path, "rb") as f:
        raw = f.read()
    seed("FuzzTemplates", raw)
    value = load(path)
    if isinstance(value, list):
        for element in value:
            seed("FuzzTemplates", dumps(element))
    for expression, language in expressions(value):
        seed("FuzzJMESPath" if (language or "").lower() == "jmespath" else "FuzzJSONPath", expression)

# Bluetooth: each vector's bytes, after the UUID its characteristic has (little-endian); BTHome
# service data also wrapped in an advertising-data structure under UUID 0x0000.
for path in sorted(glob.glob(os.path.join(conformance, "ble", "*.json"))):
    vectors = load(path) or {}
    uuid = vectors.get("uuid")
    for case in vectors.get("cases", []):
        try:
            payload = bytes.fromhex(case.get("hex", ""))
        except ValueError:
            continue
        number = int(uuid, 16) if uuid else 0x2A37
        seed("FuzzBluetoothDecoding", number.to_bytes(2, "little") + payload)
        if number == 0xFCD2:
            structure = bytes([len(payload) + 3, 0x16, 0xD2, 0xFC]) + payload
            seed("FuzzBluetoothDecoding", b"\x00\x00" + bytes([2, 0x01, 0x06]) + structure + b"\x05\x09name")

# Modbus: a type line, an order line, registers.
registers = bytes.fromhex("41a8cccd0000000c48656c6c6f20202000")
for kind in ["int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64", "string[4]", "bit[3]", "bool"]:
    for order in ["ABCD", "BADC", "CDAB", "DCBA"]:
        seed("FuzzModbusRegisters", (kind + "\n" + order + "\n").encode() + registers)

# HL7: the PCD-01 profile's sample messages, bare and MLLP-framed.
for path in sorted(glob.glob(os.path.join(repo, "device-profiles", "*", "testcases", "*.hl7"))):
    with open(path, "rb") as f:
        message = f.read()
    seed("FuzzHL7", message)
    seed("FuzzHL7", b"\x05\x0b" + message + b"\x1c\x0d\x0b" + message.replace(b"\r", b"\n") + b"\x1c\x0d")
