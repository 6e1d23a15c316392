"""A fault-injecting HTTP proxy on 127.0.0.1, to put in front of an S3-compatible server.

Point a client's ``endpoint_url`` at :attr:`FlakyProxy.url`; a share of requests (``rate``) get
one fault, the rest pass through untouched (the Host header is kept, so signatures still match).

Faults, each the way a real network or S3 misbehaves:

=================  ==========================================================================
``error_500``      500 InternalError; the request never reaches the server
``slowdown_503``   503 SlowDown (S3's throttling answer); never reaches the server
``reset_before``   the connection is reset before the request is forwarded
``reset_after``    forwarded (the server acts on it), then the connection is reset: reply lost
``slow``           forwarded after a short delay (``slow_s``)
``stall``          forwarded, reply held back for ``stall_s`` (past a client's read timeout)
``truncate_body``  the request body is cut in half (Content-Length adjusted), as a corrupting
                   middlebox would: only a checksum can tell the server
``cut_response``   the reply's headers promise the whole body, half of it is sent, then reset
=================  ==========================================================================

Seeded (``random.Random(seed)``) and bounded: at most ``max_consecutive`` faults in a row for
one method + path, and at most ``max_faults`` in all, so a client that retries always finishes.
:attr:`FlakyProxy.counts` says how many of each kind were injected.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

FAULT_KINDS = ("error_500", "slowdown_503", "reset_before", "reset_after", "slow", "stall", "truncate_body",
               "cut_response")
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade", "expect"}


@dataclass
class FaultPlan:
    rate: float = 0.2
    seed: int = 0
    weights: dict[str, float] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 1.0))
    max_consecutive: int = 2
    max_faults: int | None = None
    slow_s: tuple[float, float] = (0.05, 0.3)
    stall_s: float = 1.5

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(FAULT_KINDS)
        if unknown or not 0 <= self.rate <= 1:
            raise ValueError(f"bad fault plan: rate {self.rate}, unknown kinds {sorted(unknown)}")


class FlakyProxy:
    """``with FlakyProxy("http://127.0.0.1:5000", FaultPlan(rate=0.2, seed=1)) as proxy: ... proxy.url``"""

    def __init__(self, upstream: str, plan: FaultPlan | None = None) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.plan = plan or FaultPlan()
        self.counts: Counter[str] = Counter()
        self.requests = 0
        self._random = random.Random(self.plan.seed)
        self._streak: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.proxy = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def faults(self) -> int:
        return sum(self.counts.values())

    def start(self) -> Self:
        self._thread = threading.Thread(target=self._server.serve_forever, name="flaky-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def choose(self, method: str, path: str, has_body: bool) -> str | None:
        """The fault for this request, or None. Deterministic for a given order of requests."""
        applicable = [
            kind
            for kind, weight in self.plan.weights.items()
            if weight > 0
            and (kind != "truncate_body" or has_body)
            and (kind != "cut_response" or method == "GET")
        ]
        with self._lock:
            self.requests += 1
            roll, pick = self._random.random(), self._random.random()
            bounded = self._streak[(method, path)] >= self.plan.max_consecutive or (
                self.plan.max_faults is not None and self.faults >= self.plan.max_faults
            )
            if bounded or roll >= self.plan.rate or not applicable:
                self._streak.pop((method, path), None)
                return None
            total = sum(self.plan.weights[kind] for kind in applicable)
            for kind in applicable:
                pick -= self.plan.weights[kind] / total
                if pick <= 0:
                    break
            self._streak[(method, path)] += 1
            self.counts[kind] += 1
            return kind

    def delay(self) -> float:
        with self._lock:
            return self._random.uniform(*self.plan.slow_s)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and "Expect: 100-continue" is answered for us
    server: ThreadingHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def finish(self) -> None:
        with suppress(OSError, ValueError):  # after a reset the file objects are already closed
            super().finish()

    @property
    def proxy(self) -> FlakyProxy:
        return self.server.proxy  # type: ignore[attr-defined]

    def do_GET(self) -> None:
        self._handle()

    do_PUT = do_POST = do_DELETE = do_HEAD = do_GET

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        fault = self.proxy.choose(self.command, self.path, has_body=len(body) >= 2)
        if fault in ("error_500", "slowdown_503"):
            return self._s3_error(fault)
        if fault == "reset_before":
            return self._reset()
        if fault == "slow":
            time.sleep(self.proxy.delay())
        if fault == "truncate_body":
            body = body[: len(body) // 2]
        try:
            status, reason, headers, payload = self._forward(body)
        except OSError:
            return self._s3_error("error_502")
        if fault == "reset_after":
            return self._reset()
        if fault == "stall":
            time.sleep(self.proxy.plan.stall_s)
        if fault == "cut_response" and len(payload) >= 2:
            self._reply(status, reason, headers, payload[: len(payload) // 2], declared=len(payload))
            return self._reset()
        self._reply(status, reason, headers, payload)

    def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(*self.proxy.upstream, timeout=60)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"content-length"}}
            if body or self.command in ("PUT", "POST"):
                headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            return response.status, response.reason, response.getheaders(), payload
        finally:
            connection.close()

    def _reply(self, status: int, reason: str, headers: list[tuple[str, str]], payload: bytes,
               declared: int | None = None) -> None:
        try:
            self.send_response_only(status, reason)
            for name, value in headers:
                # HEAD replies keep the upstream Content-Length (the object's size) with no body.
                if name.lower() in HOP_BY_HOP or (name.lower() == "content-length" and self.command != "HEAD"):
                    continue
                self.send_header(name, value)
            if self.command != "HEAD":
                self.send_header("Content-Length", str(declared if declared is not None else len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            self.wfile.flush()
        except OSError:  # the client gave up (e.g. after a stall): nothing to do
            self.close_connection = True

    def _s3_error(self, kind: str) -> None:
        status, code, message = {
            "error_500": (500, "InternalError", "We encountered an internal error. Please try again."),
            "slowdown_503": (503, "SlowDown", "Please reduce your request rate."),
            "error_502": (502, "BadGateway", "The flaky proxy could not reach the server."),
        }[kind]
        xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
        self._reply(status, code, [("Content-Type", "application/xml")], xml.encode())

    def _reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a crashed peer or middlebox would."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        # The socket only really closes (and sends the RST) once the handler's file objects let go of it.
        for handle in (self.rfile, self.connection):
            with suppress(OSError):
                handle.close()
