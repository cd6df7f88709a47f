"""A Modbus TCP or RTU server for the gateway's tests, built on pymodbus (3.16.1).

pymodbus parses, executes and encodes every frame; this script adds a fixed register map (every
value type in every byte order, a scaled value, a string, exceptions, a silent unit), a per-unit
tick, a control port for faults, and for RTU a socat pty pair it creates and stops.

    python modbus_peer.py [--port 0] [--rtu] [--ready-file F] [--max-seconds 600]
    python modbus_peer.py --print-map          # the map as JSON: points with their words and values

Once it serves it prints (and writes to --ready-file, atomically) one line, in the same form as
../shared/modbus-rig's:
    READY proto=tcp host=127.0.0.1 port=P control_port=C pid=N restarts=0
    READY proto=rtu device=DIR/client baud=19200 parity=E data_bits=8 stop_bits=1 control_port=C pid=N restarts=0

Map (0-based PDU addresses), unit 1 "types":
    holding 0 and input 0: the unit's tick = number of read requests the unit decoded before this one
    holding 1..: the points of POINTS (all types and byte orders), holding 100..199: 2000 + address
    input 1..99: 1000 + address; coil a (0..15): a % 3 == 0; discrete a (0..15): a % 2 == 1
unit 2 "exceptions": holding 0..9 = address, holding 30: exception 4, holding 31: exception 6,
    coils and discrete inputs: exception 1; unit 4 (and any other unit): never answers.
Any address outside the map: exception 2.

Control port (127.0.0.1, one command per line, one reply line `OK ...` or `ERR ...`):
    ping | status | fault delay S [unit=U] [count=K] | fault silent [unit=U] [count=K]
    | fault exception C [unit=U] [count=K] | fault clear | restart [down=S] [nowait] | shutdown
"""
import argparse
import asyncio
import ctypes
import json
import os
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from pymodbus.constants import ExcCodes
from pymodbus.datastore import ModbusServerContext
from pymodbus.exceptions import NoSuchIdException
from pymodbus.server import ModbusSerialServer, ModbusTcpServer

# name, holding address, type, byte order, value (and registers for strings)
POINTS = [
    ("u16", 1, "uint16", "AB", 54321),
    ("i16", 2, "int16", "AB", -1234),
    ("scaled_temperature", 3, "int16", "AB", 215),  # x 0.1 degC = 21.5
    ("i32_abcd", 10, "int32", "ABCD", -123456789),
    ("u32_cdab", 12, "uint32", "CDAB", 3000000000),
    ("f32_abcd", 14, "float32", "ABCD", 123456.0),
    ("f32_badc", 16, "float32", "BADC", 123456.0),
    ("f32_cdab", 18, "float32", "CDAB", 123456.0),
    ("f32_dcba", 20, "float32", "DCBA", 123456.0),
    ("i64_abcdefgh", 30, "int64", "ABCDEFGH", -1234567890123),
    ("u64_hgfedcba", 34, "uint64", "HGFEDCBA", 18000000000000000000),
    ("f64_badcfehg", 38, "float64", "BADCFEHG", 1234.5),
    ("f64_ghefcdab", 42, "float64", "GHEFCDAB", -0.125),
    ("label", 50, "string", "AB", "RM-100"),  # 4 registers, NUL-padded
]
STRING_REGISTERS = {"label": 4}
FORMATS = {"uint16": ">H", "int16": ">h", "uint32": ">I", "int32": ">i", "float32": ">f",
           "uint64": ">Q", "int64": ">q", "float64": ">d"}


def point_words(name, kind, order, value):
    if kind == "string":
        raw = value.encode("ascii").ljust(2 * STRING_REGISTERS[name], b"\0")
    else:
        big = struct.pack(FORMATS[kind], value)
        # `order` is the wire order of the value's bytes, A = most significant (Telegraf's names).
        raw = bytes(big[ord(letter) - 65] for letter in order)
    return [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]


def unit1_holding():
    table = {address: 2000 + address for address in range(100, 200)}
    for name, address, kind, order, value in POINTS:
        for offset, word in enumerate(point_words(name, kind, order, value)):
            table[address + offset] = word
    return table


UNIT1_HOLDING = unit1_holding()
UNIT1_INPUT = {address: 1000 + address for address in range(1, 100)}
UNIT1_COILS = {address: address % 3 == 0 for address in range(16)}
UNIT1_DISCRETE = {address: address % 2 == 1 for address in range(16)}
UNIT2_HOLDING = {address: address for address in range(10)}
UNIT2_FAILING = {30: ExcCodes.DEVICE_FAILURE, 31: ExcCodes.DEVICE_BUSY}
ANSWERING_UNITS = (1, 2)


def describe():
    points = []
    for name, address, kind, order, value in POINTS:
        words = point_words(name, kind, order, value)
        points.append({"unit": 1, "name": name, "table": "holding", "address": address, "type": kind,
                       "byte_order": order, "registers": len(words), "value": value,
                       "words": ["%04X" % w for w in words]})
    return {"units": {"1": "types", "2": "exceptions", "4": "silent"}, "points": points}


def die_with_parent():
    """socat gets SIGTERM when this process dies, even by SIGKILL (Linux prctl PR_SET_PDEATHSIG)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class Fault:
    def __init__(self, ident, kind, arg, unit, count):
        self.ident, self.kind, self.arg, self.unit, self.count = ident, kind, arg, unit, count

    def text(self):
        return f"id={self.ident} {self.kind}{'' if self.arg is None else ' ' + str(self.arg)}" \
               f" unit={self.unit if self.unit is not None else 'all'} count={self.count if self.count is not None else 'inf'}"


class PeerContext(ModbusServerContext):
    """Serves the map. Built without the base initialiser: pymodbus accepts a context that
    answers reads itself (its `old_simulator` path) and calls the two methods below."""

    def __init__(self):  # pylint: disable=super-init-not-called
        self.old_simulator = True
        self.simdevices = []
        self.ticks = {}
        self.faults = []
        self.next_fault = 1
        self.requests = 0

    def reset(self):
        self.ticks = {}

    def device_ids(self):
        return list(ANSWERING_UNITS)

    def take_faults(self, unit):
        applying = []
        for fault in list(self.faults):
            if fault.unit is not None and fault.unit != unit:
                continue
            applying.append(fault)
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self.faults.remove(fault)
        return applying

    async def async_getValues(self, device_id, func_code, address, count=1):
        if device_id not in ANSWERING_UNITS:
            raise NoSuchIdException(f"unit {device_id} never answers")
        self.requests += 1
        tick = self.ticks.get(device_id, 0)
        self.ticks[device_id] = tick + 1
        for fault in self.take_faults(device_id):
            if fault.kind == "delay":
                await asyncio.sleep(fault.arg)
            elif fault.kind == "silent":
                raise NoSuchIdException("silent fault")
            elif fault.kind == "exception":
                return ExcCodes(fault.arg)
        return self.values(device_id, func_code, address, count, tick)

    def values(self, unit, func_code, address, count, tick):
        addresses = range(address, address + count)
        if unit == 2:
            if func_code in (1, 2):
                return ExcCodes.ILLEGAL_FUNCTION
            for a in addresses:
                if func_code == 3 and a in UNIT2_FAILING:
                    return UNIT2_FAILING[a]
            table = UNIT2_HOLDING if func_code == 3 else {}
        else:
            table = {1: UNIT1_COILS, 2: UNIT1_DISCRETE, 3: UNIT1_HOLDING, 4: UNIT1_INPUT}.get(func_code)
            if table is None:
                return ExcCodes.ILLEGAL_FUNCTION
        result = []
        for a in addresses:
            if a == 0 and func_code in (3, 4):
                result.append(tick % 65536)
            elif a in table:
                result.append(table[a])
            else:
                return ExcCodes.ILLEGAL_ADDRESS
        return result

    async def async_setValues(self, device_id, func_code, address, values):
        if device_id not in ANSWERING_UNITS:
            raise NoSuchIdException(f"unit {device_id} never answers")
        return ExcCodes.ILLEGAL_ADDRESS


class Peer:
    def __init__(self, args):
        self.args = args
        self.context = PeerContext()
        self.server = None
        self.restarts = 0
        self.port = args.port
        self.control_port = None
        self.link_dir = None
        self.socat = None
        self.held_client = None
        self.stopped = asyncio.Event()

    async def start_server(self):
        if self.args.rtu:
            self.server = ModbusSerialServer(self.context, port=os.path.join(self.link_dir, "peer"), baudrate=19200,
                                             parity="N", ignore_missing_devices=True, reconnect_delay=0.1)
        else:
            self.server = ModbusTcpServer(self.context, address=("127.0.0.1", self.port), ignore_missing_devices=True)
        await self.server.serve_forever(background=True)
        if not self.args.rtu and self.port == 0:
            # Restarts listen on the same port.
            self.port = self.server.transport.sockets[0].getsockname()[1]

    async def stop_server(self):
        if self.server is not None:
            await self.server.shutdown()
            self.server = None

    def start_socat(self):
        self.link_dir = tempfile.mkdtemp(prefix="modbus-peer-")
        peer, client = os.path.join(self.link_dir, "peer"), os.path.join(self.link_dir, "client")
        self.socat = subprocess.Popen(
            ["socat", f"pty,raw,echo=0,link={peer}", f"pty,raw,echo=0,link={client}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
        for _ in range(200):
            if os.path.exists(peer) and os.path.exists(client):
                break
            if self.socat.poll() is not None:
                raise SystemExit("socat exited before creating the pty pair")
            time.sleep(0.02)
        else:
            raise SystemExit("socat did not create the pty pair")
        # Keep one user on the client side so the pair outlives clients that come and go.
        self.held_client = os.open(client, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)

    def stop_socat(self):
        if self.held_client is not None:
            os.close(self.held_client)
        if self.socat is not None and self.socat.poll() is None:
            self.socat.terminate()
            try:
                self.socat.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.socat.kill()
        if self.link_dir:
            shutil.rmtree(self.link_dir, ignore_errors=True)

    async def restart(self, down):
        """Listener and connections closed, refused for `down` seconds, then the same port again."""
        await self.stop_server()
        self.context.reset()
        await asyncio.sleep(down)
        await self.start_server()
        self.restarts += 1
        self.announce()

    def ready_line(self):
        if self.args.rtu:
            where = f"proto=rtu device={self.link_dir}/client baud=19200 parity=E data_bits=8 stop_bits=1"
        else:
            where = f"proto=tcp host=127.0.0.1 port={self.port}"
        return f"READY {where} control_port={self.control_port} pid={os.getpid()} restarts={self.restarts}"

    def announce(self):
        line = self.ready_line()
        if self.args.ready_file:
            with open(self.args.ready_file + ".tmp", "w") as f:
                f.write(line + "\n")
            os.replace(self.args.ready_file + ".tmp", self.args.ready_file)
        print(line, flush=True)

    async def command(self, line):
        words = shlex.split(line)
        if not words:
            return "ERR empty command"
        verb, rest = words[0], words[1:]
        if verb == "ping":
            return "OK pong"
        if verb == "status":
            return "OK " + json.dumps({"ticks": self.context.ticks, "requests": self.context.requests,
                                       "faults": [f.text() for f in self.context.faults], "restarts": self.restarts})
        if verb == "shutdown":
            self.stopped.set()
            return "OK stopping"
        if verb == "restart":
            options = dict(word.split("=", 1) for word in rest if "=" in word)
            restart = asyncio.ensure_future(self.restart(float(options.get("down", "1"))))
            if "nowait" in rest:
                return "OK restarting"
            await restart
            return "OK restarted"
        if verb == "fault":
            return self.fault(rest)
        return f"ERR unknown command {verb}"

    def fault(self, words):
        if words == ["clear"]:
            self.context.faults.clear()
            return "OK cleared"
        if words == ["list"]:
            return "OK " + "; ".join(f.text() for f in self.context.faults)
        if not words or words[0] not in ("delay", "silent", "exception"):
            return "ERR fault KIND must be delay, silent, exception, clear or list"
        kind, arg, unit, count = words[0], None, None, None
        for word in words[1:]:
            if word.startswith("unit="):
                unit = int(word[5:])
            elif word.startswith("count="):
                count = int(word[6:])
            elif arg is None:
                arg = float(word) if kind == "delay" else int(word)
            else:
                return f"ERR unexpected {word}"
        if kind != "silent" and arg is None:
            return f"ERR fault {kind} needs a value"
        if kind == "exception" and arg not in {c.value for c in ExcCodes}:
            return f"ERR exception code {arg} is not one pymodbus can send"
        fault = Fault(self.context.next_fault, kind, arg, unit, count)
        self.context.next_fault += 1
        self.context.faults.append(fault)
        return "OK " + fault.text()

    async def control(self, reader, writer):
        try:
            while line := await reader.readline():
                try:
                    reply = await self.command(line.decode("utf-8").strip())
                except Exception as error:  # pylint: disable=broad-except
                    reply = f"ERR {error}"
                writer.write((reply + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    async def run(self):
        # A parent that spawned us from a thread with SIGTERM blocked must still be able to stop us.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM, signal.SIGINT])
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopped.set)
        if self.args.rtu:
            self.start_socat()
        try:
            control = await asyncio.start_server(self.control, "127.0.0.1", 0)
            self.control_port = control.sockets[0].getsockname()[1]
            await self.start_server()
            self.announce()
            try:
                await asyncio.wait_for(self.stopped.wait(), timeout=self.args.max_seconds)
            except asyncio.TimeoutError:
                pass
            control.close()
            await self.stop_server()
        finally:
            self.stop_socat()
        print("STOPPED", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rtu", action="store_true", help="serve RTU on a socat pty pair instead of TCP")
    parser.add_argument("--ready-file")
    parser.add_argument("--max-seconds", type=float, default=600)
    parser.add_argument("--print-map", action="store_true")
    args = parser.parse_args()
    if args.print_map:
        print(json.dumps(describe(), indent=2))
        return
    asyncio.run(Peer(args).run())


if __name__ == "__main__":
    sys.exit(main())
