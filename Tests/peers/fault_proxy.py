#!/usr/bin/env python3
"""A fault-injecting HTTP proxy for tests (standard library only). It forwards requests to one
upstream server and, following a fault plan, instead:

  status      answers itself with `status` (429, 500, 503, ...) and an OperationOutcome (or
              `body`, any JSON, e.g. a CapabilityStatement that declares less), with
              `Retry-After: retryAfter` when given; the server never sees the request
  delay       waits `seconds` (past the client's timeout) and then forwards, so the server
              may commit a request whose client has given up
  reset       resets the connection (TCP RST) without forwarding
  drop-reply  forwards the request, lets the server answer, then resets the connection: the
              server committed but the client never hears so

A fault is a JSON object {"kind": ..., "count": N, "method": "POST", "pathContains": "..."};
it applies to the next N matching requests (count defaults to 1). Faults apply in order.

Control (on the proxy itself, never forwarded):
  POST   /_proxy/faults   append faults (a JSON list or one object)
  DELETE /_proxy/faults   drop pending faults
  GET    /_proxy/stats    {"forwarded": n, "faults": {"status": n, ...}, "pending": [...], "holding": n, "requests": [...]}

    fault_proxy.py --upstream http://127.0.0.1:18080 [--port 0] [--port-file F] [--plan plan.json]
                   [--tls-cert C --tls-key K [--client-ca CA]]

With --tls-cert/--tls-key it speaks https; with --client-ca it also requires a client certificate
issued by that CA (mutual TLS), as a gateway in front of a hospital's FHIR server might.
"""
import argparse
import http.client
import json
import socket
import ssl
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from peer_serving import serve_bounded

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "content-length"}


class Plan:
    def __init__(self):
        self.lock = threading.Lock()
        self.pending = []
        self.applied = {}
        self.forwarded = 0
        self.requests = []
        # Requests a delay fault is holding: each is forwarded when its delay ends, even when the
        # client that sent it has gone (a killed gateway's last upload reaches the server late).
        self.holding = 0

    def add(self, faults):
        if isinstance(faults, dict):
            faults = [faults]
        for fault in faults:
            if fault.get("kind") not in ("status", "delay", "reset", "drop-reply"):
                raise ValueError(f"unknown fault kind {fault.get('kind')!r}")
            fault = dict(fault)
            fault.setdefault("count", 1)
            with self.lock:
                self.pending.append(fault)

    def take(self, method, path):
        """The fault for this request, if any, counting it down."""
        with self.lock:
            self.requests.append(f"{method} {path}")
            for fault in self.pending:
                if fault.get("method") and fault["method"].upper() != method:
                    continue
                if fault.get("pathContains") and fault["pathContains"] not in path:
                    continue
                fault["count"] -= 1
                if fault["count"] <= 0:
                    self.pending.remove(fault)
                self.applied[fault["kind"]] = self.applied.get(fault["kind"], 0) + 1
                return fault
            return None

    def stats(self):
        with self.lock:
            return {"forwarded": self.forwarded, "faults": dict(self.applied), "pending": list(self.pending),
                    "holding": self.holding, "requests": list(self.requests[-1000:])}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    plan: Plan = None
    upstream = None  # SplitResult
    timeout = 120

    def log_message(self, fmt, *args):
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reset(self):
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close_connection = True
        try:
            self.connection.close()
        except OSError:
            pass

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _control(self, method, body):
        if method == "GET" and self.path == "/_proxy/stats":
            return self._json(200, self.plan.stats())
        if method == "POST" and self.path == "/_proxy/faults":
            try:
                self.plan.add(json.loads(body or b"[]"))
            except (ValueError, json.JSONDecodeError) as e:
                return self._json(400, {"error": str(e)})
            return self._json(200, self.plan.stats())
        if method == "DELETE" and self.path == "/_proxy/faults":
            with self.plan.lock:
                self.plan.pending.clear()
            return self._json(200, self.plan.stats())
        return self._json(404, {"error": "unknown control path"})

    def _forward(self, method, body):
        up = self.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port or 80, timeout=self.timeout)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP and k.lower() != "host"}
        headers["Host"] = up.netloc
        if body or method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(method, self.path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            return response.status, response.reason, response.getheaders(), data
        finally:
            conn.close()

    def _handle(self):
        method = self.command
        body = self._body()
        if self.path.startswith("/_proxy/"):
            return self._control(method, body)
        fault = self.plan.take(method, self.path)
        kind = fault["kind"] if fault else None
        if kind == "status":
            status = int(fault.get("status", 503))
            outcome = json.dumps(fault.get("body") or {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "transient" if status >= 500 or status == 429 else "processing",
                 "diagnostics": f"injected {status}"}]}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/fhir+json")
            if "retryAfter" in fault:
                self.send_header("Retry-After", str(fault["retryAfter"]))
            self.send_header("Content-Length", str(len(outcome)))
            self.end_headers()
            self.wfile.write(outcome)
            return
        if kind == "reset":
            return self._reset()
        if kind == "delay":
            with self.plan.lock:
                self.plan.holding += 1
        try:
            if kind == "delay":
                time.sleep(float(fault.get("seconds", 5)))
            status, reason, headers, data = self._forward(method, body)
        except OSError as e:
            # The upstream is down: a gateway error, as a real reverse proxy would answer.
            return self._json(502, {"resourceType": "OperationOutcome", "issue": [
                {"severity": "error", "code": "transient", "diagnostics": f"upstream unreachable: {e}"}]})
        finally:
            if kind == "delay":
                with self.plan.lock:
                    self.plan.holding -= 1
        with self.plan.lock:
            self.plan.forwarded += 1
        if kind == "drop-reply":
            return self._reset()
        try:
            self.send_response(status, reason)
            for name, value in headers:
                if name.lower() not in HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True, help="http://HOST:PORT of the server behind the proxy")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--plan", help="a JSON file with the initial list of faults")
    parser.add_argument("--tls-cert", help="serve https with this PEM certificate")
    parser.add_argument("--tls-key", help="... and this PEM key")
    parser.add_argument("--client-ca", help="require client certificates issued by this PEM CA (mutual TLS)")
    parser.add_argument("--max-seconds", type=float, default=900, help="stop by itself after this long")
    args = parser.parse_args()
    upstream = urlsplit(args.upstream)
    if upstream.hostname not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the proxy forwards to loopback servers only")
    Handler.plan = Plan()
    Handler.upstream = upstream
    if args.plan:
        with open(args.plan) as f:
            Handler.plan.add(json.load(f))
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(args.client_ca)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    serve_bounded(server, args.port_file, args.max_seconds,
                  lambda port: f"fault proxy listening on 127.0.0.1:{port} -> {args.upstream}")


if __name__ == "__main__":
    main()
