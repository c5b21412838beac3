"""A partner's webhook receiver on loopback, written from the Standard Webhooks and CloudEvents
specifications alone (it does not import the platform's signer): it checks every request's
``webhook-signature`` against the secrets it was given, the timestamp's freshness and the CloudEvents
body, records what it accepted, and answers what the test scripts (status codes, delays)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE = 5 * 60  # the spec's suggested window against replayed requests


def verify(secrets: list[str], headers, body: bytes, now: float | None = None) -> str | None:
    """None if the request is authentic, else why not (per the Standard Webhooks spec)."""
    msg_id, stamp, signatures = (headers.get("webhook-id"), headers.get("webhook-timestamp"),
                                 headers.get("webhook-signature"))
    if not (msg_id and stamp and signatures):
        return "missing webhook-* headers"
    try:
        if abs((now or time.time()) - int(stamp)) > TOLERANCE:
            return "timestamp outside the tolerance"
    except ValueError:
        return "timestamp is not an integer"
    signed = f"{msg_id}.{stamp}.".encode() + body
    expected = set()
    for secret in secrets:
        key = base64.b64decode(secret[len("whsec_"):] if secret.startswith("whsec_") else secret)
        expected.add(base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode())
    for sig in signatures.split(" "):
        version, _, value = sig.partition(",")
        if version == "v1" and any(hmac.compare_digest(value, e) for e in expected):
            return None
    return "no signature matches"


class Receiver:
    """``paths`` maps a URL path to its secrets; ``script[path]`` holds answers given in turn
    (``(status, delay_s)``), then 200 for ever."""

    def __init__(self, port: int = 0):
        self.secrets: dict[str, list[str]] = {}
        self.script: dict[str, list[tuple[int, float]]] = {}
        self.always: dict[str, tuple[int, float]] = {}
        self.replies: dict[str, tuple[dict, bytes]] = {}  # path → extra headers and the body answered
        self.accepted: dict[str, list[tuple[str, str, float]]] = {}  # path → (webhook-id, ce type, at)
        self.rejected: list[str] = []
        self.requests: Counter = Counter()
        self.bodies: dict[str, list[dict]] = {}
        self._lock = threading.Lock()
        self._port = port
        self._server: ThreadingHTTPServer | None = None

    @property
    def port(self) -> int:
        return self._port

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, delay = receiver._answer(self.path, self.headers, body)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                reply = b"ok" if status < 300 else f"nope {status} sig={self.headers.get('webhook-signature')}".encode()
                extra, reply = receiver.replies.get(self.path, ({}, reply))
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        class Server(ThreadingHTTPServer):
            request_queue_size = 128  # the default backlog of 5 drops a burst of parallel senders' connects

        self._server = Server(("127.0.0.1", self._port), Handler)
        self._server.daemon_threads = True
        self._port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, path: str, headers, body: bytes) -> tuple[int, float]:
        with self._lock:
            self.requests[path] += 1
            why = verify(self.secrets.get(path, []), headers, body)
            if why is None:
                try:
                    event = json.loads(body)
                    assert headers.get("Content-Type", "").startswith("application/cloudevents+json")
                    assert event["specversion"] == "1.0" and event["id"] == headers["webhook-id"]
                    assert {"source", "type", "time", "data"} <= set(event)
                except (ValueError, AssertionError, KeyError) as exc:
                    why = f"not a CloudEvent: {exc!r}"
            if why is not None:
                self.rejected.append(why)
                return 401, 0.0
            if self.script.get(path):
                status, delay = self.script[path].pop(0)
            else:
                status, delay = self.always.get(path, (200, 0.0))
            if 200 <= status < 300:
                self.accepted.setdefault(path, []).append((headers["webhook-id"], event["type"], time.time()))
                self.bodies.setdefault(path, []).append(event)
            return status, delay

    def ids(self, path: str) -> list[str]:
        with self._lock:
            return [a[0] for a in self.accepted.get(path, [])]
