#!/usr/bin/env python3
"""A SMART Backend Services token endpoint for tests: verifies the client assertion
(RS384 / ES384 signature with the registered public key, kid, iss = sub = client id,
aud = this endpoint, integer exp at most five minutes ahead, unused jti) and issues tokens.

    token_server.py --client-id gw --public-key gw-public.pem --kid k1 --alg ES384 \
        --issue tok-1 --issue tok-2 --port-file port.txt

Listens on 127.0.0.1 (port 0 picks a free one, written to --port-file). Tokens are handed out
in the order given; the last one repeats. GET /stats returns what was issued and refused.
POST /token is the endpoint; `keygen` makes keys in every PEM format for tests:

    token_server.py keygen --alg RS384|ES384 --format pkcs8|pkcs1|sec1 --out DIR
"""
import os
import argparse
import base64
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

from peer_serving import serve_bounded

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url_decode(text: str) -> bytes:
    if any(c in text for c in "+/="):
        raise ValueError("not base64url without padding")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Registry:
    def __init__(self, args):
        with open(args.public_key, "rb") as f:
            self.public_key = serialization.load_pem_public_key(f.read())
        self.client_id = args.client_id
        self.kid = args.kid
        self.alg = args.alg
        self.tokens = list(args.issue) or ["token-1"]
        self.lifetime = args.lifetime
        self.lock = threading.Lock()
        self.seen_jti = set()
        self.issued = []
        self.refused = []
        self.assertions = []
        self.fail_next = args.fail_first

    def verify(self, assertion: str, token_url: str):
        parts = assertion.split(".")
        if len(parts) != 3:
            return "client_assertion is not a compact JWS"
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims_text = b64url_decode(parts[1]).decode()
            claims = json.loads(claims_text)
            signature = b64url_decode(parts[2])
        except Exception as e:  # noqa: BLE001 - any decoding problem is the client's
            return f"client_assertion does not decode: {e}"
        if header.get("alg") != self.alg:
            return f"alg {header.get('alg')!r} is not the registered {self.alg}"
        if header.get("kid") != self.kid:
            return f"kid {header.get('kid')!r} is not the registered {self.kid!r}"
        signing_input = (parts[0] + "." + parts[1]).encode()
        try:
            if self.alg == "RS384":
                self.public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA384())
            else:
                if len(signature) != 96:
                    return f"ES384 signature must be 96 bytes (r || s), got {len(signature)}"
                r = int.from_bytes(signature[:48], "big")
                s = int.from_bytes(signature[48:], "big")
                self.public_key.verify(utils.encode_dss_signature(r, s), signing_input, ec.ECDSA(hashes.SHA384()))
        except InvalidSignature:
            return "signature does not verify with the registered key"
        now = time.time()
        for name in ("iss", "sub", "aud", "exp", "jti"):
            if name not in claims:
                return f"claim {name} is missing"
        if claims["iss"] != self.client_id or claims["sub"] != self.client_id:
            return "iss and sub must both equal the client id"
        if claims["aud"] != token_url:
            return f"aud {claims['aud']!r} is not the token URL {token_url!r}"
        exp = claims["exp"]
        if not isinstance(exp, int) or isinstance(exp, bool):
            return f"exp must be an integer, got {exp!r}"
        if exp <= now:
            return "the assertion has expired"
        if exp > now + 300 + 5:
            return "exp must be no more than five minutes in the future"
        with self.lock:
            if claims["jti"] in self.seen_jti:
                return "jti has already been used"
            self.seen_jti.add(claims["jti"])
            self.assertions.append(claims)
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    registry: Registry = None  # set by main

    def log_message(self, fmt, *args):  # quiet: the test prints what matters
        pass

    def reply(self, status, body: dict, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        reg = self.registry
        if self.path == "/stats":
            with reg.lock:
                self.reply(200, {"issued": reg.issued, "refused": reg.refused, "assertions": reg.assertions})
        else:
            self.reply(404, {"error": "not_found"})

    def do_POST(self):
        reg = self.registry
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode()
        if self.path != "/token":
            return self.reply(404, {"error": "not_found"})
        form = {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        token_url = f"http://{host}/token"

        def refuse(status, error, reason):
            with reg.lock:
                reg.refused.append(reason)
            self.reply(status, {"error": error, "error_description": reason})

        with reg.lock:
            failing = reg.fail_next > 0
            if failing:
                reg.fail_next -= 1
        if failing:
            return refuse(503, "temporarily_unavailable", "scripted failure")
        if "application/x-www-form-urlencoded" not in (self.headers.get("Content-Type") or ""):
            return refuse(400, "invalid_request", "expected a form post")
        if form.get("grant_type") != "client_credentials":
            return refuse(400, "unsupported_grant_type", "grant_type must be client_credentials")
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return refuse(400, "invalid_request", "client_assertion_type must be jwt-bearer")
        if not form.get("scope"):
            return refuse(400, "invalid_scope", "scope is required")
        reason = reg.verify(form.get("client_assertion", ""), token_url)
        if reason:
            return refuse(401, "invalid_client", reason)
        with reg.lock:
            token = reg.tokens[min(len(reg.issued), len(reg.tokens) - 1)]
            reg.issued.append(token)
        self.reply(200, {"access_token": token, "token_type": "bearer", "expires_in": reg.lifetime, "scope": form["scope"]})


def keygen(args):
    if args.alg == "RS384":
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    else:
        key = ec.generate_private_key(ec.SECP384R1())
    fmt = {
        "pkcs8": serialization.PrivateFormat.PKCS8,
        "pkcs1": serialization.PrivateFormat.TraditionalOpenSSL,
        "sec1": serialization.PrivateFormat.TraditionalOpenSSL,
    }[args.format]
    private = key.private_bytes(serialization.Encoding.PEM, fmt, serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    # A private key is its owner's alone (the gateway refuses key files others can read).
    with os.fdopen(os.open(f"{args.out}/private.pem", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(private)
    with open(f"{args.out}/public.pem", "wb") as f:
        f.write(public)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "keygen":
        parser = argparse.ArgumentParser(prog="token_server.py keygen")
        parser.add_argument("--alg", choices=["RS384", "ES384"], required=True)
        parser.add_argument("--format", choices=["pkcs8", "pkcs1", "sec1"], default="pkcs8")
        parser.add_argument("--out", required=True)
        return keygen(parser.parse_args(sys.argv[2:]))
    parser = argparse.ArgumentParser()
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--public-key", required=True)
    parser.add_argument("--kid", required=True)
    parser.add_argument("--alg", choices=["RS384", "ES384"], required=True)
    parser.add_argument("--issue", action="append", default=[])
    parser.add_argument("--lifetime", type=int, default=300)
    parser.add_argument("--fail-first", type=int, default=0, help="answer 503 to this many token requests first")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop by itself after this long")
    args = parser.parse_args()
    Handler.registry = Registry(args)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    serve_bounded(server, args.port_file, args.max_seconds, lambda port: f"token server listening on 127.0.0.1:{port}")


if __name__ == "__main__":
    main()
