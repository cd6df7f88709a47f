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

# Bluetooth host packets: what a BT 5 controller and a GATT/SMP peer send in a session like the
# rig's (setup replies, a connection, discovery, pairing), written out here since no capture
# ships with the conformance data.
def le16(value):
    return value.to_bytes(2, "little")


def event(code, parameters):
    return bytes([0x04, code, len(parameters)]) + parameters


def acl(handle, channel, payload, boundary=0b10):
    frame = le16(len(payload)) + le16(channel) + payload
    return bytes([0x02]) + le16(handle | boundary << 12) + le16(len(frame)) + frame


def complete(opcode, parameters=b""):
    return event(0x0E, b"\x01" + le16(opcode) + b"\x00" + parameters)


peer = bytes.fromhex("0d18000000f0")
setup = (complete(0x0C03) + complete(0x1001, bytes.fromhex("090000 09ffff 0000".replace(" ", "")))
         + complete(0x1002, b"\xff" * 64) + complete(0x2003, bytes.fromhex("ff1f000000000000"))
         + complete(0x2002, le16(27) + b"\x04") + complete(0x1009, bytes.fromhex("010000efbe00"))
         + complete(0x1005, le16(27) + b"\x00" + le16(4) + le16(0)))
connection = event(0x3E, b"\x01\x00" + le16(0x40) + b"\x00\x01" + peer + le16(24) + le16(0) + le16(500) + b"\x00")
adverts = (event(0x3E, b"\x02\x01\x00\x01" + peer + b"\x0a" + bytes.fromhex("020106030d18") + b"\xc9")
           + event(0x3E, b"\x0d\x01" + le16(0x13) + b"\x01" + peer + b"\x01\x00\xff\x7f\xc9" + b"\x00" * 8 + b"\x06" + bytes.fromhex("020106030d18")))
status = event(0x0F, b"\x00\x01" + le16(0x2043)) + event(0x13, b"\x01" + le16(0x40) + le16(2))
ends = event(0x08, b"\x00" + le16(0x40) + b"\x01") + event(0x05, b"\x00" + le16(0x40) + b"\x13") + event(0x3E, b"\x05" + le16(0x40) + b"\x00" * 10)
att_responses = [
    bytes.fromhex("03f700"),
    bytes.fromhex("1106") + le16(1) + le16(5) + le16(0x1800) + le16(16) + le16(19) + le16(0x180D),
    bytes.fromhex("1107") + le16(16) + b"\x10" + le16(17) + le16(0x2A37) + b"\x02" + le16(18) + le16(0x2A38),
    bytes.fromhex("0115") + le16(21) + b"\x0a",
    bytes.fromhex("0501") + le16(18) + le16(0x2902) + le16(19) + le16(0x2901),
    bytes.fromhex("0b") + b"Rig HR Strap",
    bytes.fromhex("1b") + le16(16) + bytes.fromhex("16485503"),
    bytes.fromhex("1d") + le16(32) + bytes.fromhex("1e7800500046"),
    bytes.fromhex("0a0300"), bytes.fromhex("10010000ff0028"), bytes.fromhex("08010000ff0003 28".replace(" ", "")),
    bytes.fromhex("02f700"), bytes.fromhex("0401000500"), bytes.fromhex("23") + le16(16) + le16(2) + b"\x16\x48",
]
smp = [
    bytes.fromhex("01030009100707"), bytes.fromhex("02030009100707"), bytes.fromhex("0b2d"),
    b"\x03" + bytes(range(16)), b"\x04" + bytes(range(16, 32)), b"\x05\x05", b"\x06" + b"\x11" * 16,
    b"\x07" + le16(0x1234) + b"\x22" * 8, b"\x08" + b"\x33" * 16, b"\x09\x01" + peer, b"\x0a" + b"\x44" * 16,
    b"\x0c" + bytes(range(64)), b"\x0d" + b"\x55" * 16, b"\x0e\x00",
]
signalling = [bytes.fromhex("1201080018002800000064 00".replace(" ", "")), bytes.fromhex("7f020000"), bytes.fromhex("0601020000")]
stream = setup + adverts + connection + status
for name, data in [("setup", setup), ("session", stream + b"".join(acl(0x40, 4, r) for r in att_responses) + ends)]:
    seed("FuzzHCI", bytes([len(data) // 2 % 256]) + data)
seed("FuzzHCI", b"\x05" + stream + acl(0x40, 6, smp[1]) + acl(0x40, 5, signalling[0]))
fragments = b""
for channel, payload in [(4, r) for r in att_responses[:4]] + [(6, p) for p in smp[:3]] + [(5, p) for p in signalling]:
    frame = le16(len(payload)) + le16(channel) + payload
    first, rest = frame[:7], frame[7:]
    fragments += bytes([0, 0b10, len(first)]) + first + (bytes([0, 0b01, len(rest)]) + rest if rest else b"")
seed("FuzzL2CAP", fragments)
for index, response in enumerate(att_responses):
    seed("FuzzATT", bytes([index % 5]) + response)
    seed("FuzzL2CAP", bytes([1, 0b10, len(response) + 4]) + le16(len(response)) + le16(4) + response)
for pdu in smp:
    seed("FuzzSMP", pdu)
# HL7: the PCD-01 profile's sample messages, bare and MLLP-framed.
for path in sorted(glob.glob(os.path.join(repo, "device-profiles", "*", "testcases", "*.hl7"))):
    with open(path, "rb") as f:
        message = f.read()
    seed("FuzzHL7", message)
    seed("FuzzHL7", b"\x05\x0b" + message + b"\x1c\x0d\x0b" + message.replace(b"\r", b"\n") + b"\x1c\x0d")

# YAML: the configurations and profile.yaml files shipped, and the shapes the loader bounds
# (aliases, nesting, flow and block collections, block scalars, a second document).
for path in sorted(glob.glob(os.path.join(repo, "packaging", "*", "config.yaml")) + glob.glob(os.path.join(repo, "device-profiles", "*", "profile.yaml"))):
    with open(path, "rb") as f:
        seed("FuzzYAML", f.read())
seed("FuzzYAML", "a: &a [x, y]\nb: &b [*a, *a, *a]\nc: [*b, *b, *b]\n")
seed("FuzzYAML", "k: {x: [1, {y: 'q'}], z: \"w\"}\nlist:\n  - one\n  - |\n    block\n  - >\n    folded\n")
seed("FuzzYAML", "a: 1\n---\nb: 2\n")
seed("FuzzYAML", "[" * 20 + "]" * 20)
