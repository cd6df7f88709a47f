#!/usr/bin/env python3
"""The kill soak (run by scripts/soak.sh, which builds the gateway and starts sekmet-fhir).

HTTP ingest, ../shared/modbus-rig and ../shared/ble-rig feed `fhir-edge run` while it uploads to the
FHIR server through Tests/peers/fault_proxy.py, which keeps injecting 429, 500, 503, resets, lost
replies and replies held past the client's timeout. The daemon is killed with SIGKILL at seeded
random moments and restarted, KILLS times. A last clean run (no faults, sources stopped) drains
the store, then the daemon stops with SIGTERM and the soak checks:

  - every reading acknowledged over HTTP (a 202 with its inbox id) is on the server exactly once;
  - no Observation, Patient or Device identifier is on the server twice (so no device reading
    either), and the server holds as many device Observations as the gateway delivered;
  - nothing is left in flight: inbox and outbox empty, no dead letter;
  - `fhir-edge audit verify` passes;
  - the daemon's RSS, read at the same moment of each cycle, did not grow from the first cycles
    to the last (median of the first five against the last five, within 20 % + 8 MiB of noise).

The last line is the summary: `soak: PASS|FAIL, K kills, ...figures...`. Exit status 0 on PASS.
Standard library only (the venv's Python runs it for the rigs and the proxy).
"""
import argparse
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from datetime import datetime, timedelta, timezone

INGEST_TOKEN = "soak-ingest-token"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# HTTP readings carry times from here on, one second apart: far from the devices' own times.
HTTP_EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
BLE_DEVICES = {
    "F0:00:00:00:18:0D": "ble-heart-rate", "F0:00:00:00:18:09": "ble-thermometer",
    "F0:00:00:00:18:1D": "ble-weight-scale", "F0:00:00:00:18:22": "ble-pulse-oximeter",
}


def log(message):
    print(f"soak: {message}", file=sys.stderr, flush=True)


def shared(name, variable):
    path = os.environ.get(variable) or os.path.join(os.path.dirname(ROOT), "shared", name)
    if not os.path.isdir(path):
        path = os.path.join("/work/shared", name)
    return path


def request(port, method, path, body=None, headers=None, timeout=10):
    """(status, body bytes), or (None, b"") when the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        reply = connection.getresponse()
        return reply.status, reply.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        connection.close()


def wait_for(condition, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    return condition()


class Child:
    """A child process with its output in a log file, stopped by PID."""

    def __init__(self, name, arguments, work, cwd=None):
        self.name = name
        self.log_path = os.path.join(work, f"{name}.log")
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(arguments, stdout=self.log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        cwd=cwd or work)

    @property
    def pid(self):
        return self.process.pid

    def running(self):
        return self.process.poll() is None

    def text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def kill(self):
        if self.running():
            self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.log_file.close()

    def stop(self, grace=15):
        """SIGTERM, a bounded wait, then SIGKILL; the exit status."""
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.send_signal(signal.SIGKILL)
        status = self.process.wait()
        self.log_file.close()
        return status


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Ingest(threading.Thread):
    """Posts demo-vitals readings (1 to 20 a request, JSON arrays and NDJSON) until stopped; a
    reading counts as acknowledged when a 202 gives it an inbox id."""

    def __init__(self, seed):
        super().__init__(daemon=True)
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.port = None
        self.next = 0
        self.sent = 0
        self.acknowledged = {}
        self.refused = 0
        self.statuses = {}
        self.stopping = False

    def aim(self, port):
        with self.lock:
            self.port = port

    def run(self):
        while not self.stopping:
            with self.lock:
                port = self.port
            if port is None:
                time.sleep(0.02)
                continue
            count = self.random.randint(1, 8)
            numbers = list(range(self.next, self.next + count))
            self.next += count
            messages = [json.dumps(self.message(n)) for n in numbers]
            if self.random.random() < 0.5:
                body, kind = "[" + ",".join(messages) + "]", "application/json"
            else:
                body, kind = "\n".join(messages), "application/x-ndjson"
            headers = {"content-type": kind, "authorization": f"Bearer {INGEST_TOKEN}"}
            status, reply = request(port, "POST", "/ingest/demo-vitals", body.encode(), headers, timeout=5)
            self.sent += count
            ids = []
            if status == 202:
                try:
                    ids = json.loads(reply).get("ids", [])
                except ValueError:
                    ids = []
            if status == 202 and len(ids) == count:
                with self.lock:
                    for n, inbox in zip(numbers, ids):
                        self.acknowledged[n] = inbox
            else:
                self.refused += count
                self.statuses[status] = self.statuses.get(status, 0) + 1
                time.sleep(0.01)
            # About 30 readings a second: the uploads keep up between kills on a busy machine.
            time.sleep(self.random.uniform(0.05, 0.25))

    @staticmethod
    def message(n):
        measured = (HTTP_EPOCH + timedelta(seconds=n)).strftime("%Y-%m-%dT%H:%M:%SZ")
        device = f"soak-monitor-{n % 3}"
        return {"deviceId": device, "patientId": f"soak-patient-{n % 3}", "measuredAt": measured,
                "heartRate": 50 + n % 80, "spo2": 90 + n % 10, "messageId": f"soak-{n}"}


class Faults(threading.Thread):
    """Keeps the proxy's fault plan full of seeded faults until stopped."""

    def __init__(self, seed, proxy_port, upload_timeout):
        super().__init__(daemon=True)
        self.random = random.Random(seed)
        self.proxy_port = proxy_port
        self.upload_timeout = upload_timeout
        self.stopping = False
        self.injected = 0

    def fault(self):
        kind = self.random.choice(["429", "500", "503", "reset", "drop-reply", "delay"])
        if kind == "429":
            return {"kind": "status", "status": 429, "retryAfter": 1}
        if kind in ("500", "503"):
            return {"kind": "status", "status": int(kind)}
        if kind == "delay":
            return {"kind": "delay", "seconds": self.upload_timeout + 0.5, "method": "POST"}
        return {"kind": kind, "method": "POST"}

    def run(self):
        # At most two faults pending, so that some uploads get through between kills and the
        # backlog drains; most requests still meet a fault.
        while not self.stopping:
            status, body = request(self.proxy_port, "GET", "/_proxy/stats")
            pending = len(json.loads(body).get("pending", [])) if status == 200 else 2
            if pending < 2:
                status, _ = request(self.proxy_port, "POST", "/_proxy/faults", json.dumps([self.fault()]).encode(),
                                    {"content-type": "application/json"})
                if status == 200:
                    self.injected += 1
            time.sleep(self.random.uniform(0.2, 1.0))


class Soak:
    def __init__(self, options):
        self.options = options
        self.python = sys.executable
        self.binary = options.binary
        self.fhir_base = os.environ["FHIR_BASE_URL"].rstrip("/")
        self.fhir_port = urllib.parse.urlsplit(self.fhir_base).port
        self.work = options.work or tempfile.mkdtemp(prefix="fhir-edge-soak-")
        os.makedirs(self.work, exist_ok=True)
        self.data = os.path.join(self.work, "data")
        self.children = []
        self.random = random.Random(options.seed)
        self.failures = []
        self.by_source = {}

    # MARK: peers

    def start_proxy(self):
        port_file = os.path.join(self.work, "proxy.port")
        child = Child("fault-proxy", [self.python, os.path.join(ROOT, "Tests/peers/fault_proxy.py"), "--upstream",
                                      f"http://127.0.0.1:{self.fhir_port}", "--port-file", port_file, "--max-seconds", "86400"], self.work)
        self.children.append(child)
        port = wait_for(lambda: open(port_file).read().strip() if os.path.exists(port_file) else None, 20)
        if not port:
            raise SystemExit(f"soak: the fault proxy did not start:\n{child.text()[-2000:]}")
        self.proxy_port = int(port)

    def start_modbus(self):
        rig = shared("modbus-rig", "FHIR_EDGE_MODBUS_RIG")
        ready = os.path.join(self.work, "modbus.ready")
        child = Child("modbus-rig", [self.python, os.path.join(rig, "modbus_rig.py"), "--port", "0", "--control-port", "0",
                                     "--ready-file", ready, "--clock", "time", "--max-runtime", "86400"], self.work, cwd=rig)
        self.children.append(child)
        line = wait_for(lambda: open(ready).read() if os.path.exists(ready) else None, 30)
        match = re.search(r"\bport=(\d+)", line or "")
        if not match:
            raise SystemExit(f"soak: the Modbus rig did not start:\n{child.text()[-2000:]}")
        self.modbus = child
        self.modbus_port = int(match.group(1))

    def start_ble(self):
        rig = shared("ble-rig", "FHIR_EDGE_BLE_RIG")
        child = Child("ble-rig", [self.python, os.path.join(rig, "ble_rig.py"), "--port", "0", "--max-runtime", "86400",
                                  "--notify-interval-ms", "300", "--only", "hr,thermo,scale,spo2,bthome", "--no-events"], self.work, cwd=rig)
        self.children.append(child)
        line = wait_for(lambda: next((l for l in child.text().splitlines() if l.startswith("READY ")), None), 60, 0.1)
        if not line:
            raise SystemExit(f"soak: the BLE rig did not start:\n{child.text()[-2000:]}")
        self.ble = child
        self.ble_port = json.loads(line[len("READY "):])["port"]

    def write_config(self, upload_timeout, name="fhir-edge.yaml"):
        devices = "\n".join(f'    "{address}": {{profile: {profile}, patientId: soak-ble-patient}}' for address, profile in BLE_DEVICES.items())
        config = f"""\
dataDir: {self.data}
profiles:
  directory: {os.path.join(ROOT, "device-profiles")}
  access: {{demo-vitals: [soak-monitor]}}
clients:
  soak-monitor: {{tokenSHA256: {hashlib.sha256(INGEST_TOKEN.encode()).hexdigest()}, roles: [viewer]}}
upstream:
  url: http://127.0.0.1:{self.proxy_port}/fhir
  bundle: transaction
  batchSize: 50
  linger: 100ms
  timeout: {upload_timeout}s
  connectTimeout: 2s
  retryBase: 100ms
  retryCap: 1s
modbus:
  devices:
    soak-room-monitor: {{profile: modbus-room-monitor, tcp: 127.0.0.1:{self.modbus_port}, interval: 500ms}}
    soak-gas-panel: {{profile: modbus-gas-panel, tcp: 127.0.0.1:{self.modbus_port}, interval: 500ms}}
    soak-room-sensor: {{profile: modbus-patient-room-sensor, tcp: 127.0.0.1:{self.modbus_port}, patientId: soak-room-patient, interval: 500ms}}
bluetooth:
  transport: tcp:127.0.0.1:{self.ble_port}
  reconnect: {{base: 200ms, cap: 1s}}
  connectTimeout: 5s
  devices:
{devices}
  bthome:
    "F0:00:00:00:FC:D2": {{patientId: soak-room}}
"""
        self.config = os.path.join(self.work, name)
        with open(self.config, "w") as f:
            f.write(config)

    # MARK: the daemon

    def start_daemon(self, name):
        child = Child(name, [self.binary, "run", "--config", self.config, "--data-dir", self.data, "--listen", "127.0.0.1:0"], self.work)

        def port():
            match = re.search(r"^listening on [^\n]*:(\d+)$", child.text(), re.MULTILINE)
            return int(match.group(1)) if match else None

        found = wait_for(lambda: port() or (not child.running() and -1), 60)
        if not found or found == -1:
            child.kill()
            raise RuntimeError(f"the daemon did not report its port; log {child.log_path}:\n{child.text()[-3000:]}")
        if not wait_for(lambda: request(found, "GET", "/health", timeout=2)[0] == 200, 30):
            child.kill()
            raise RuntimeError(f"the daemon's /health did not answer; log {child.log_path}:\n{child.text()[-3000:]}")
        return child, found

    def command(self, *arguments):
        result = subprocess.run([self.binary, *arguments], capture_output=True, text=True, timeout=120)
        return result.returncode, result.stdout, result.stderr

    def queue_stats(self):
        status, out, err = self.command("queue", "stats", "--data-dir", self.data, "--json")
        if status != 0:
            raise RuntimeError(f"queue stats failed ({status}): {err}")
        return json.loads(out)

    # MARK: the server

    def proxy_stats(self):
        """The fault proxy's counters (`GET /_proxy/stats`); empty when it does not answer."""
        return json.loads(request(self.proxy_port, "GET", "/_proxy/stats")[1] or b"{}")

    def server_resources(self, kind):
        """Every resource of `kind` on the server, straight from sekmet (not through the proxy)."""
        resources = []
        # By id: sekmet's default order is its write sequence, so a resource written again while the
        # pages are read would move from one page to the last, and be read twice, and shift one
        # other past the page boundary, unread.
        url = f"{self.fhir_base}/{kind}?_count=500&_sort=_id"
        while url:
            split = urllib.parse.urlsplit(url)
            path = split.path + ("?" + split.query if split.query else "")
            status, body = request(self.fhir_port, "GET", path, headers={"accept": "application/fhir+json"}, timeout=60)
            if status != 200:
                raise RuntimeError(f"GET {path} on the server answered {status}")
            bundle = json.loads(body)
            resources += [entry["resource"] for entry in bundle.get("entry", []) if "resource" in entry]
            url = next((link["url"] for link in bundle.get("link", []) if link.get("relation") == "next"), None)
        return resources

    # MARK: the run

    def run(self):
        options = self.options
        started = time.monotonic()
        self.start_proxy()
        self.start_modbus()
        self.start_ble()
        self.write_config(options.upload_timeout)
        log(f"work folder {self.work}, seed {options.seed}, {options.kills} kills")
        ingest = Ingest(self.random.getrandbits(64))
        faults = Faults(self.random.getrandbits(64), self.proxy_port, options.upload_timeout)
        ingest.start()
        faults.start()
        cycles = []
        for cycle in range(options.kills):
            daemon, port = self.start_daemon(f"daemon-{cycle:03d}")
            ingest.aim(port)
            # RSS at the same moment of every cycle, then the kill at a seeded random moment after it.
            time.sleep(options.rss_after)
            rss = rss_kib(daemon.pid)
            time.sleep(self.random.uniform(0.0, options.max_run))
            alive = daemon.running()
            daemon.kill()
            ingest.aim(None)
            if not alive:
                self.failures.append(f"cycle {cycle}: the daemon exited by itself before the kill (log {daemon.log_path})")
            cycles.append(rss)
            if (cycle + 1) % 10 == 0 or cycle + 1 == options.kills:
                log(f"{cycle + 1} kills, {len(ingest.acknowledged)} readings acknowledged over HTTP, RSS {rss} KiB")
        ingest.stopping = True
        ingest.join(10)
        faults.stopping = True
        faults.join(10)
        request(self.proxy_port, "DELETE", "/_proxy/faults")
        # The sources stop, so the last run can drain to empty.
        self.modbus.stop()
        self.ble.stop()

        # The last run drains with a patient timeout: a loaded server may take seconds per bundle.
        self.write_config(30, "fhir-edge-final.yaml")
        daemon, port = self.start_daemon("daemon-final")
        drained = wait_for(lambda: self.drained(self.queue_stats()), options.drain_timeout, 0.5)
        final_rss = rss_kib(daemon.pid)
        status = daemon.stop()
        if status != 0:
            self.failures.append(f"the last run's SIGTERM stop exited {status} (log {daemon.log_path})")
        stats = self.queue_stats()
        if not drained:
            self.failures.append(f"the store did not drain within {options.drain_timeout}s: {json.dumps(stats)}")
        # A delay fault forwards the request it holds when the delay ends, even when the gateway
        # that sent it was killed: the server is read once none is left.
        if not wait_for(lambda: self.proxy_stats().get("holding", 0) == 0, 30, 0.2):
            self.failures.append("the fault proxy still held requests 30 s after the last run")
        verify, out, err = self.command("audit", "verify", "--data-dir", self.data)
        if verify != 0:
            self.failures.append(f"audit verify failed ({verify}): {out.strip()} {err.strip()}")
        figures = self.check_server(ingest, stats)
        first, last = cycles[:5], cycles[-5:]
        first_rss = statistics.median([r for r in first if r] or [0])
        last_rss = statistics.median([r for r in last if r] or [0])
        if last_rss > first_rss * 1.2 + 8192:
            self.failures.append(f"RSS grew from {first_rss} KiB (first cycles) to {last_rss} KiB (last cycles)")
        for failure in self.failures:
            log(f"FAIL: {failure}")
        verdict = "PASS" if not self.failures else "FAIL"
        proxy = self.proxy_stats()
        applied = proxy.get("faults", {})
        print(f"soak: {verdict}, {options.kills} kills, {len(ingest.acknowledged)} HTTP readings acknowledged of {ingest.sent} sent, "
              f"{figures['observations']} Observations on the server "
              f"(HTTP {self.by_source.get('http', 0)}, BLE {self.by_source.get('ble', 0)}, Modbus {self.by_source.get('modbus', 0)}) "
              f"({stats.get('outboxSent')} resources confirmed), "
              f"{figures['duplicates']} duplicates, {figures['missing']} missing, in flight {figures['inFlight']}, "
              f"{sum(applied.values())} faults applied ({', '.join(f'{k} {v}' for k, v in sorted(applied.items()))}), "
              f"audit verify {'ok' if verify == 0 else 'FAILED'}, RSS {int(first_rss) // 1024} MiB first cycles, "
              f"{int(last_rss) // 1024} MiB last cycles, {(final_rss or 0) // 1024} MiB draining, "
              f"{time.monotonic() - started:.0f} s, seed {options.seed}", flush=True)
        return not self.failures

    @staticmethod
    def drained(stats):
        return stats.get("inbox") == 0 and stats.get("outboxPending") == 0

    def check_server(self, ingest, stats):
        observations = self.server_resources("Observation")
        by_identifier = {}
        for resource in observations:
            for identifier in resource.get("identifier", [])[:1]:
                key = f"{identifier.get('system')}|{identifier.get('value')}"
                by_identifier[key] = by_identifier.get(key, 0) + 1
        duplicates = sum(1 for count in by_identifier.values() if count > 1)
        sources = {}
        for kind in ("Patient", "Device"):
            seen = {}
            for resource in self.server_resources(kind):
                if kind == "Device":
                    first = (resource.get("identifier") or [{}])[0]
                    value = first.get("value", "")
                    sources["Device/" + resource.get("id", "")] = (
                        "ble" if "bluetooth" in first.get("system", "") else "http" if value.startswith("soak-monitor") else "modbus")
                for identifier in resource.get("identifier", [])[:1]:
                    key = f"{identifier.get('system')}|{identifier.get('value')}"
                    seen[key] = seen.get(key, 0) + 1
            twice = [key for key, count in seen.items() if count > 1]
            if twice:
                self.failures.append(f"{len(twice)} {kind} identifiers on the server more than once")
        if duplicates:
            self.failures.append(f"{duplicates} Observation identifiers on the server more than once")
        # HTTP readings: heart rate at its own second after HTTP_EPOCH.
        http_counts = {}
        device = 0
        for resource in observations:
            effective = resource.get("effectiveDateTime") or resource.get("effectivePeriod", {}).get("start", "")
            codes = [coding.get("code") for coding in resource.get("code", {}).get("coding", [])]
            moment = parse_time(effective)
            if moment is not None and HTTP_EPOCH <= moment < HTTP_EPOCH + timedelta(days=30):
                if "8867-4" in codes:
                    n = int((moment - HTTP_EPOCH).total_seconds())
                    http_counts[n] = http_counts.get(n, 0) + 1
            else:
                device += 1
            source = sources.get(resource.get("device", {}).get("reference", ""), "other")
            self.by_source[source] = self.by_source.get(source, 0) + 1
        missing = [n for n in ingest.acknowledged if http_counts.get(n, 0) == 0]
        twice = [n for n, count in http_counts.items() if count > 1]
        if missing:
            self.failures.append(f"{len(missing)} acknowledged HTTP readings are not on the server, e.g. {sorted(missing)[:5]}")
        if twice:
            self.failures.append(f"{len(twice)} HTTP readings are on the server more than once, e.g. {sorted(twice)[:5]}")
        if not ingest.acknowledged:
            self.failures.append(f"no HTTP reading was acknowledged (answers: {ingest.statuses})")
        for source in ("ble", "modbus"):
            if not self.by_source.get(source):
                self.failures.append(f"no {source} reading reached the server ({self.by_source})")
        in_flight = {key: value for key, value in stats.items() if key in ("inbox", "outboxPending", "deadLetters") and value}
        if in_flight:
            self.failures.append(f"left in the store: {in_flight}")
        return {"observations": len(observations), "device": device, "duplicates": duplicates + len(twice),
                "missing": len(missing), "inFlight": sum(in_flight.values())}

    def close(self):
        for child in reversed(self.children):
            if child.running():
                child.stop(5)
        if not self.options.keep and not self.failures and not self.options.work:
            shutil.rmtree(self.work, ignore_errors=True)


def parse_time(text):
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kills", nargs="?", type=int, default=100)
    parser.add_argument("--binary", required=True, help="the fhir-edge executable")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FHIR_EDGE_SOAK_SEED", "20261206")))
    parser.add_argument("--work", help="keep everything in this folder (default: a temporary one, removed on PASS)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder on PASS too")
    parser.add_argument("--rss-after", type=float, default=1.0, help="seconds after /health answers when RSS is read")
    parser.add_argument("--max-run", type=float, default=2.5, help="at most this long after the RSS reading until the kill")
    parser.add_argument("--upload-timeout", type=int, default=5, help="the upstream timeout while killing (held replies exceed it)")
    parser.add_argument("--drain-timeout", type=float, default=900)
    options = parser.parse_args()
    soak = Soak(options)
    try:
        ok = soak.run()
    except RuntimeError as error:
        soak.failures.append(str(error))
        print(f"soak: FAIL, {error}", flush=True)
        ok = False
    finally:
        soak.close()
    if not ok:
        log(f"work folder kept: {soak.work}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
