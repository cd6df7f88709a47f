#!/usr/bin/env python3
"""An HL7 v2 sender for the MLLP tests: IHE PCD-01 (ORU^R01) messages over MLLP to the gateway.

  scenario --port P --samples DIR   sends the profile's sample messages and messages built here
                                    (escapes, PID-3 repetitions, several OBR/OBX groups, v2.3), a
                                    duplicate, a malformed and an unsupported one; prints one JSON
                                    object: per message its MSA-1, MSA-2 and first ERR's location/code.
  stream --port P --count N --acked FILE
                                    sends N messages one after another; a message is recorded in
                                    FILE (flushed, fsynced) only once its ACK says AA. On a broken
                                    connection it reconnects and resends the same message, as an
                                    HL7 interface engine does, until --deadline seconds have passed.

ACKs are read with python-hl7 (hl7.parse); messages are escaped with its escape().
"""
import argparse
import json
import os
import socket
import sys
import time

import hl7
import hl7.client

SB, EB, CR = b"\x0b", b"\x1c", b"\x0d"


class Connection:
    def __init__(self, port, timeout=20):
        self.client = hl7.client.MLLPClient("127.0.0.1", port)
        self.client.socket.settimeout(timeout)
        self.buffer = b""

    def exchange(self, message):
        data = message if isinstance(message, bytes) else message.encode("utf-8")
        self.client.socket.sendall(SB + data + EB + CR)
        while EB not in self.buffer:
            chunk = self.client.socket.recv(65536)
            if not chunk:
                raise ConnectionError("the gateway closed the connection before its ACK")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(EB)
        self.buffer = self.buffer.lstrip(CR)
        return hl7.parse(frame.lstrip(SB).decode("utf-8"))

    def close(self):
        self.client.close()


def summary(ack):
    msa = ack.segment("MSA")
    result = {"msa": str(msa[1]), "control": str(msa[2])}
    errors = [s for s in ack if str(s[0]) == "ERR"]
    if errors:
        err = errors[0]
        result["errLocation"] = str(err[2]) if len(err) > 2 else ""
        result["errCode"] = str(err[3][0][0]) if len(err) > 3 else ""
    result["ackType"] = str(ack.segment("MSH")[9])
    return result


# A parsed empty message gives python-hl7's escape() the separators it needs.
SEPARATORS = hl7.parse("MSH|^~\\&|x\r")


def esc(text):
    return hl7.util.escape(SEPARATORS, text)


NOTE = "probe ok | lead II ~ good & steady \\ done"


def pcd01(control, version="2.6", facility="ICU-EAST", groups=(), patient="HO2009001", when="20261206110000+0000"):
    """An ORU^R01 with the given OBR groups: each a device EUI-64 and (MDC code, name, value, unit code, unit name, time) rows."""
    lines = [
        f"MSH|^~\\&|PeerGateway^00AA11BB22CC33DD^EUI-64|{facility}|fhir-edge|CLINIC|{when}||ORU^R01^ORU_R01|{control}|P|{version}|||NE|AL",
        f"PID|||{esc(patient)}^^^Hospital&1.2.3.4.5&ISO^MR~{esc('NAT&7')}^^^Registry&2.16.840.1.113883.4.1&ISO^SS||{esc('Müller|Smith')}^{esc('Anne~Marie')}^^^^^L",
    ]
    for number, (eui, rows) in enumerate(groups, start=1):
        lines.append(f"OBR|{number}|{control}-{number}^PeerGateway^00AA11BB22CC33DD^EUI-64||182777000^monitoring of patient^SNOMED-CT|||{when}")
        lines.append(f"OBX|1||69965^MDC_DEV_MON_PHYSIO_MULTI_PARAM_MDS^MDC|{number}.0.0.0|||||||X|||||||{eui}^^{eui}^EUI-64")
        for index, (code, name, value, unit, unit_name, at) in enumerate(rows, start=2):
            lines.append(
                f"OBX|{index}|NM|{code}^{name}^MDC|{number}.1.1.{index - 1}|{value}|{unit}^{unit_name}^MDC|||||R|||{at}")
        lines.append("NTE|1||" + esc(NOTE))
    return "\r".join(lines) + "\r"


def scenario(args):
    results = {}
    samples = sorted(f for f in os.listdir(args.samples) if f.endswith(".hl7"))
    conn = Connection(args.port)
    for name in samples:
        with open(os.path.join(args.samples, name), "rb") as handle:
            results[name] = summary(conn.exchange(handle.read()))
    two_groups = pcd01("PEER-2", groups=[
        ("1111111111111111", [("150456", "MDC_PULS_OXIM_SAT_O2", 95, "262688", "MDC_DIM_PERCENT", "20261206105900+0000"),
                              ("149530", "MDC_PULS_OXIM_PULS_RATE", 81, "264864", "MDC_DIM_BEAT_PER_MIN", "20261206105900+0000"),
                              ("150364", "MDC_TEMP_BODY", "37.2", "268192", "MDC_DIM_DEGC", "20261206105800+0000")]),
        ("2222222222222222", [("150021", "MDC_PRESS_BLD_NONINV_SYS", 131, "266016", "MDC_DIM_MMHG", "20261206105700+0000"),
                              ("150022", "MDC_PRESS_BLD_NONINV_DIA", 84, "266016", "MDC_DIM_MMHG", "20261206105700+0000"),
                              ("151562", "MDC_RESP_RATE", 18, "264928", "MDC_DIM_RESP_PER_MIN", "20261206105900+0000")]),
    ], patient="HO&77")
    results["two-groups"] = summary(conn.exchange(two_groups))
    results["v2.3"] = summary(conn.exchange(pcd01("PEER-3", version="2.3", groups=[
        ("3333333333333333", [("147842", "MDC_ECG_HEART_RATE", 66, "264864", "MDC_DIM_BEAT_PER_MIN", "20261206105500+0000")])])))
    results["duplicate"] = summary(conn.exchange(two_groups))
    malformed = pcd01("PEER-4", groups=[
        ("4444444444444444", [("150456", "MDC_PULS_OXIM_SAT_O2", "ninety", "262688", "MDC_DIM_PERCENT", "20261206105900+0000")])])
    results["malformed"] = summary(conn.exchange(malformed))
    results["unsupported"] = summary(conn.exchange(pcd01("PEER-5").replace("ORU^R01^ORU_R01", "ADT^A01^ADT_A01")))
    results["not-hl7"] = summary(conn.exchange(b"this is not an HL7 message"))
    conn.close()
    print(json.dumps(results, sort_keys=True))


def stream(args):
    deadline = time.monotonic() + args.deadline
    acked = open(args.acked, "a", buffering=1)
    conn = None
    resends = 0
    for i in range(args.count):
        message = pcd01(f"S-{i:05d}", facility="STREAM", groups=[
            ("5555555555555555", [("150456", "MDC_PULS_OXIM_SAT_O2", 90 + i % 10, "262688", "MDC_DIM_PERCENT",
                                   time.strftime("%Y%m%d%H%M%S+0000", time.gmtime(1796000000 + i)))])])
        while True:
            if time.monotonic() > deadline:
                print(json.dumps({"sent": i, "resends": resends, "error": "deadline"}))
                return 1
            try:
                if conn is None:
                    conn = Connection(args.port, timeout=10)
                ack = summary(conn.exchange(message))
            except (OSError, ConnectionError):
                if conn is not None:
                    conn.close()
                conn = None
                resends += 1
                time.sleep(0.05)
                continue
            if ack["msa"] == "AA":
                acked.write(f"S-{i:05d}\n")
                acked.flush()
                os.fsync(acked.fileno())
                break
            # AR (store full): the sender waits and resends, as for a broken link.
            resends += 1
            time.sleep(0.2)
    print(json.dumps({"sent": args.count, "resends": resends}))
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    one = sub.add_parser("scenario")
    one.add_argument("--port", type=int, required=True)
    one.add_argument("--samples", required=True)
    many = sub.add_parser("stream")
    many.add_argument("--port", type=int, required=True)
    many.add_argument("--count", type=int, default=300)
    many.add_argument("--acked", required=True)
    many.add_argument("--deadline", type=float, default=120)
    args = parser.parse_args()
    if args.mode == "scenario":
        scenario(args)
        return 0
    return stream(args)


if __name__ == "__main__":
    sys.exit(main())
